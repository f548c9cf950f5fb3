"""Risk figures of a discrete distribution given by sorted support points and their probabilities.

A Monte Carlo sample is the discrete law putting ``1/n`` on each simulated year; the exact path's
result is the discrete law on its grid. Both use these functions, so the definitions are one:

* ``quantile(p) = inf{x : F(x) >= p}``;
* ``tvar(p) = 1/(1-p) * integral_p^1 quantile(u) du``
  ``= (sum_{x_j > q} p_j x_j + (F(q) - p) q) / (1 - p)`` with ``q = quantile(p)``
  (expected shortfall; right at atoms such as a limit);
* ``prob_exceed(x) = P(X > x)``.
"""

from __future__ import annotations

import math

import numpy as np

from techins import validate
from techins.lazy import lazy_module

_stats = lazy_module("scipy.stats")

__all__ = [
    "DEFAULT_RETURN_PERIODS",
    "FIGURES",
    "level_key",
    "check_level",
    "quantile_sorted",
    "tvar_sorted",
    "prob_exceed_sorted",
    "quantile_equal",
    "tvar_equal",
    "tvar_stderr_equal",
    "quantile_interval_equal",
]

FIGURES = ("mean", "std", "quantile", "tvar", "prob_exceed")
DEFAULT_RETURN_PERIODS = (2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0)


def level_key(p: float) -> str:
    """Key of a level in summaries: 0.99 -> "99", 0.995 -> "995"."""
    return f"{p:g}".replace("0.", "", 1) if p < 1 else "1"


def check_level(owner: str, p, *, upper_open: bool = False) -> float:
    """Validate a probability level in [0, 1] (or [0, 1) for TVaR)."""
    return validate.real(owner, "p", p, low=0.0, high=1.0, high_open=upper_open)


def quantile_sorted(values: np.ndarray, cumprob: np.ndarray, p: float) -> float:
    """``inf{x : F(x) >= p}`` for sorted ``values`` with cumulative probabilities ``cumprob``.

    ``cumprob[-1]`` is taken as 1 even if rounding left it a hair below.
    """
    if p <= 0.0:
        return float(values[0])
    # a relative tolerance keeps the rounding of a long cumulative sum from moving a quantile past an
    # atom that sits exactly at level p (e.g. a sample of 100 at p = 0.99)
    idx = int(np.searchsorted(cumprob, p * (1.0 - 4.0 * np.finfo(float).eps), side="left"))
    return float(values[min(idx, values.size - 1)])


def tvar_sorted(values: np.ndarray, probs: np.ndarray, cumprob: np.ndarray, p: float) -> float:
    """Expected shortfall ``1/(1-p) * integral_p^1 quantile(u) du`` of a sorted discrete law."""
    if p >= 1.0:
        return float(values[-1])
    q = quantile_sorted(values, cumprob, p)
    above = values > q
    tail = float(np.sum(probs[above] * values[above]))
    f_q = 1.0 - float(np.sum(probs[above]))
    return _between(q, (tail + max(f_q - p, 0.0) * q) / (1.0 - p), float(values[-1]))


def prob_exceed_sorted(values: np.ndarray, probs: np.ndarray, x: float) -> float:
    """``P(X > x)`` of a sorted discrete law."""
    idx = int(np.searchsorted(values, x, side="right"))
    return float(np.sum(probs[idx:])) if idx < values.size else 0.0


def quantile_equal(x: np.ndarray, p: float) -> float:
    """``quantile_sorted`` for a sorted sample, each value with weight ``1/n``."""
    # inf{x : k/n >= p}: the ceil(n p)-th order statistic (1-based), with rounding slack at k/n == p
    n = x.size
    k = math.ceil(n * p * (1.0 - 4.0 * np.finfo(float).eps))
    return float(x[min(max(k, 1), n) - 1])


def tvar_equal(x: np.ndarray, p: float) -> float:
    """``tvar_sorted`` for a sorted sample, each value with weight ``1/n``."""
    n = x.size
    q = quantile_equal(x, p)
    first_above = int(np.searchsorted(x, q, side="right"))
    tail = float(np.sum(x[first_above:]))
    share_at_or_below = first_above / n
    return _between(q, (tail / n + max(share_at_or_below - p, 0.0) * q) / (1.0 - p), float(x[-1]))


def quantile_interval_equal(x: np.ndarray, p: float, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence limits of the ``p`` quantile of a sorted sample ``x``: the order
    statistics of ranks ``Binomial(n, p)``'s ``(1 - level)/2`` and ``(1 + level)/2`` quantiles (the
    second plus one), clipped to the sample (Conover 1999, *Practical Nonparametric Statistics*, 3rd
    ed., Wiley: the confidence interval for a quantile)."""
    n = x.size
    alpha = 1.0 - level
    lo = int(_stats.binom.ppf(alpha / 2.0, n, p))
    hi = int(_stats.binom.ppf(1.0 - alpha / 2.0, n, p)) + 1
    return float(x[min(max(lo, 1), n) - 1]), float(x[min(max(hi, 1), n) - 1])


def tvar_stderr_equal(x: np.ndarray, p: float) -> float:
    """The standard error of ``tvar_equal`` (a sorted sample): ``sqrt((Var[tail] + p (TVaR - VaR)^2) /
    (n (1 - p)))``, the asymptotic variance of the empirical expected shortfall (Brazauskas et al. 2008,
    J. Statist. Plann. Inference 138)."""
    n = x.size
    q = quantile_equal(x, p)
    es = tvar_equal(x, p)
    tail = x[int(np.searchsorted(x, q, side="right")):]
    var_tail = float(np.var(tail)) if tail.size > 1 else 0.0
    return math.sqrt((var_tail + p * (es - q) ** 2) / (n * (1.0 - p)))


def _between(var: float, tvar: float, top: float) -> float:
    # VaR <= TVaR <= max holds exactly; when the tail is one atom, (F(q) - p) q / (1 - p) can land an
    # ulp outside it
    return min(max(tvar, var), top)


def sample_variance(x: np.ndarray) -> float:
    """The variance with divisor ``n - 1``, as ``SimulationResult.var``; 0 for one value (one year
    carries no spread information)."""
    return float(np.var(x, ddof=1)) if x.size > 1 else 0.0
