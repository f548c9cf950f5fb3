"""Random numbers inside kernels: xoshiro256++ with a 4-word state per chunk of years.

Every chunk of years owns one state, seeded from ``numpy.random.SeedSequence`` in the engine, so a
run does not depend on which thread runs which chunk. The state is a ``uint64[4]`` array mutated in
place. Samplers are exact in distribution (no approximations beyond float64 rounding):

* uniform: the top 53 bits of a draw;
* standard normal: a 256-layer ziggurat (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8)) with the layer
  index and the abscissa taken from disjoint bits of one 64-bit draw, and Marsaglia's (1964) exact
  tail beyond R; conditional on exceeding a point, Robert's (1995) exponential rejection;
* gamma: Marsaglia & Tsang (2000), ACM TOMS 26(3), with the ``U**(1/a)`` boost for shape < 1;
* Poisson: inversion by sequential search for means below 10, Hoermann's (1993) PTRS
  transformed rejection above (Insurance: Math. Econ. 12(1));
* binomial: inversion for small ``n min(p, 1-p)``, reduced beforehand by splitting at a beta-distributed
  order statistic (Devroye 1986, *Non-Uniform Random Variate Generation*, X.4);
* inverse normal cdf: Acklam's rational approximation polished by one Halley step on ``erfc``.
"""

from __future__ import annotations

import math

import numpy as np

from techins.kernels._jit import jit

_U64 = np.uint64
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


@jit
def _rotl(x, k):
    # x and k uint64; the callers pass k as _U64(23), not the literal 23, so one version compiles, not
    # one per rotation
    return (x << k) | (x >> (_U64(64) - k))


@jit
def next_u64(state):
    """Advance a xoshiro256++ state (uint64[4], in place) and return 64 random bits."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s0 + s3, _U64(23)) + s0
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _U64(45))
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@jit
def uniform(state):
    """Uniform on the open interval (0, 1): never 0, so ``log`` is always finite."""
    return (float(next_u64(state) >> _U64(11)) + 0.5) * _TWO_M53


@jit
def exponential(state):
    """Standard exponential by inversion."""
    return -math.log(uniform(state))


# ----------------------------------------------------------------------------------------------
# Ziggurat tables for the standard normal, 256 layers of equal area V, base layer width V / f(R).
_ZIG_R = 3.6541528853610088
_ZIG_V = 4.92867323399e-3


def _ziggurat_tables():
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731 - the unnormalised density, used only here
    x = np.empty(257)
    x[0] = _ZIG_V / f(_ZIG_R)
    x[1] = _ZIG_R
    for i in range(1, 255):
        x[i + 1] = math.sqrt(-2.0 * math.log(_ZIG_V / x[i] + f(x[i])))
    x[256] = 0.0
    scale = 2.0 ** 52
    k = np.array([x[i + 1] / x[i] * scale for i in range(256)], dtype=np.uint64)
    w = x[:256] / scale
    fx = np.array([f(v) for v in x])
    return k, w, fx


_ZIG_K, _ZIG_W, _ZIG_F = _ziggurat_tables()
_MASK52 = _U64(0x000FFFFFFFFFFFFF)


@jit
def normal(state):
    """Standard normal by the ziggurat; one 64-bit draw for 99% of calls."""
    while True:
        r = next_u64(state)
        layer = np.intp(r & _U64(0xFF))
        negative = (r >> _U64(8)) & _U64(1)
        mant = (r >> _U64(9)) & _MASK52
        x = float(mant) * _ZIG_W[layer]
        if mant < _ZIG_K[layer]:
            return -x if negative else x
        if layer == 0:
            # tail beyond R (Marsaglia 1964): exact
            while True:
                xx = -math.log(uniform(state)) / _ZIG_R
                yy = -math.log(uniform(state))
                if yy + yy > xx * xx:
                    v = _ZIG_R + xx
                    return -v if negative else v
        # wedge between f(x[layer]) and f(x[layer + 1])
        y = _ZIG_F[layer] + uniform(state) * (_ZIG_F[layer + 1] - _ZIG_F[layer])
        if y < math.exp(-0.5 * x * x):
            return -x if negative else x


@jit
def normal_above(state, a):
    """Standard normal conditional on exceeding ``a``, exact.

    Below 0 plain rejection accepts at least half the draws; above, Robert's (1995) exponential
    proposal with the optimal rate ``(a + sqrt(a^2 + 4)) / 2`` accepts at least 76% ("Simulation of
    truncated normal variables", Statistics and Computing 5, 121-125).
    """
    if a <= 0.0:
        while True:
            z = normal(state)
            if z > a:
                return z
    rate = 0.5 * (a + math.sqrt(a * a + 4.0))
    while True:
        z = a + exponential(state) / rate
        d = z - rate
        if uniform(state) <= math.exp(-0.5 * d * d):
            return z


# ----------------------------------------------------------------------------------------------
@jit
def gamma(state, shape):
    """Gamma(shape, scale=1) by Marsaglia & Tsang; shape > 0."""
    boost = 1.0
    a = shape
    if a < 1.0:
        boost = uniform(state) ** (1.0 / a)
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost


@jit
def beta(state, a, b):
    """Beta(a, b) as G_a / (G_a + G_b)."""
    ga = gamma(state, a)
    gb = gamma(state, b)
    return ga / (ga + gb)


@jit
def poisson(state, mean):
    """Poisson(mean): inversion below 10, PTRS (Hoermann 1993) at and above."""
    if mean <= 0.0:
        return 0
    if mean < 10.0:
        u = uniform(state)
        k = 0
        p = math.exp(-mean)
        cdf = p
        while u > cdf and p > 0.0:
            k += 1
            p *= mean / k
            cdf += p
        return k
    slam = math.sqrt(mean)
    loglam = math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(state) - 0.5
        v = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= vr:
            return np.int64(k)
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)
                <= -mean + k * loglam - math.lgamma(k + 1.0)):
            return np.int64(k)


@jit
def _binomial_inversion(state, n, p):
    # only called with n * min(p, 1 - p) small, so the search is short and q**n does not underflow
    flip = p > 0.5
    if flip:
        p = 1.0 - p
    q = 1.0 - p
    u = uniform(state)
    k = 0
    prob = q ** n
    cdf = prob
    ratio = p / q
    while u > cdf and k < n:
        k += 1
        prob *= ratio * (n - k + 1) / k
        cdf += prob
    return n - k if flip else k


@jit
def binomial(state, n, p):
    """Binomial(n, p): split at beta order statistics until ``n min(p, 1-p) < 16``, then invert."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    result = 0
    while n * min(p, 1.0 - p) >= 16.0:
        # the i-th smallest of n uniforms is Beta(i, n + 1 - i); count the uniforms below p
        i = (n + 1) // 2
        y = beta(state, float(i), float(n + 1 - i))
        if y <= p:
            result += i
            n = n - i
            p = (p - y) / (1.0 - y)
        else:
            n = i - 1
            p = p / y
    return result + _binomial_inversion(state, n, p)


# ----------------------------------------------------------------------------------------------
# Inverse of the standard normal cdf (Acklam's coefficients), then one Halley step.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@jit
def ndtri(p):
    """Quantile of the standard normal at ``p`` in (0, 1), to about 1e-15 relative."""
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = ((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
             / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0))
    elif p <= 1.0 - 0.02425:
        q = p - 0.5
        r = q * q
        x = ((((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
             / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0))
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
              / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0))
    # Halley step on e = Phi(x) - p; for x > 0 through the upper tail so the residual keeps its digits
    if x <= 0.0:
        e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    else:
        e = (1.0 - p) - 0.5 * math.erfc(x / math.sqrt(2.0))
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)
