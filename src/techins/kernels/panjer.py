"""Panjer recursion for (a, b, 0) claim-count laws: the exact path's second, independent route.

For a count law with ``P(N = k) = (a + b / k) P(N = k - 1)`` (Poisson, negative binomial, binomial) and
a severity on the lattice ``0, h, 2h, ...`` with probabilities ``f``, the aggregate probabilities are
(Panjer 1981, ASTIN Bulletin 12(1), 22-26)::

    g_0 = P_N(f_0)
    g_k = 1 / (1 - a f_0) * sum_{j=1}^{min(k, m)} (a + b j / k) f_j g_{k-j}

with ``m`` the last index where ``f`` is positive. The cost is ``O(n m)``.
"""

from __future__ import annotations

from techins.kernels._jit import jit

__all__ = ["panjer"]


@jit
def panjer(f, a, b, g0, out):
    """Fill ``out`` (length ``n``, caller-allocated) with the aggregate lattice probabilities.

    Parameters
    ----------
    f : float64[:]
        Severity probabilities on the lattice; only ``f[0..m]`` with ``m`` its last positive index are
        read (``m`` is clipped to ``n - 1``).
    a, b : float
        The count law's Panjer constants.
    g0 : float
        ``P(S = 0) = P_N(f_0)``, computed by the caller from the probability generating function.
    out : float64[:]
        Output; ``out[k] = P(S = k h)`` for ``k < n``.
    """
    n = out.shape[0]
    if n == 0:
        return
    m = f.shape[0] - 1
    while m > 0 and not f[m] > 0.0:
        m -= 1
    if m > n - 1:
        m = n - 1
    out[0] = g0
    scale = 1.0 / (1.0 - a * f[0])
    for k in range(1, n):
        top = k if k < m else m
        plain = 0.0
        weighted = 0.0
        for j in range(1, top + 1):
            term = f[j] * out[k - j]
            plain += term
            weighted += j * term
        out[k] = (a * plain + b * weighted / k) * scale
