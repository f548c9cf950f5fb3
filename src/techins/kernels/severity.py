"""Claim-size samplers by law code, ground-up or conditional on exceeding the occurrence deductible.

The engine prepares, in Python, one float64 parameter vector per law (layout below) and, for the
empirical law, an alias table; these kernels only draw. Sampling ``X | X > d`` (the claims that reach
a layer) is exact in distribution: inversion of the survival function where it has a closed form,
exact rejection for the normal tail under the lognormal (Robert 1995)
rejection from an exponential proposal for the gamma tail.

Parameter layouts (``p``):

=====  ===========  =============================================================================
code   law          p
=====  ===========  =============================================================================
0      lognormal    mu, sigma, d, S(d)
1      gamma        shape, scale, d
2      weibull      shape, scale, d, (d / scale) ** shape
3      pareto       alpha, scale, d
4      exponential  mean, d
5      empirical    (alias table of the law of X | X > d: values, probabilities, aliases)
6      spliced      threshold u, tail shape xi, tail scale beta' at the tail start, tail start
                    max(u, d), P(tail | X > d), body code, body p0, body p1, lower end of the body
                    interval max(d, 0), body S(lower end), body S(u)
=====  ===========  =============================================================================
"""

from __future__ import annotations

import math

import numpy as np

from techins.kernels import rng
from techins.kernels._jit import jit

LOGNORMAL = 0
GAMMA = 1
WEIBULL = 2
PARETO = 3
EXPONENTIAL = 4
EMPIRICAL = 5
SPLICED = 6
N_PARAMS = 12


@jit
def gamma_above(state, shape, scale, d):
    """Gamma(shape, scale) conditional on exceeding ``d`` (exact; d = 0 is ground-up)."""
    t = d / scale
    if t <= 0.0:
        return scale * rng.gamma(state, shape)
    if shape < 1.0:
        # density ~ x**(shape-1) e**-x is below t**(shape-1) e**-x on x > t: propose t + Exp(1),
        # accepted with probability t**(1-shape) e**t Gamma(shape) P(X > t); plain rejection from the
        # ground-up law is accepted with P(X > t): take it where that is larger (small t, where the
        # proposal's acceptance vanishes as t**(1-shape))
        if (1.0 - shape) * math.log(t) + t + math.lgamma(shape) < 0.0:
            while True:
                x = rng.gamma(state, shape)
                if x > t:
                    return scale * x
        while True:
            x = t + rng.exponential(state)
            if rng.uniform(state) <= (x / t) ** (shape - 1.0):
                return scale * x
    if t <= shape:
        # at or below the mode P(X > t) is large: plain rejection
        while True:
            x = rng.gamma(state, shape)
            if x > t:
                return scale * x
    # above the mode: exponential proposal with the rate matching the log-density slope at t
    rate = 1.0 - (shape - 1.0) / t
    while True:
        x = t + rng.exponential(state) / rate
        log_accept = (shape - 1.0) * (math.log(x / t) - (x - t) / t)
        if math.log(rng.uniform(state)) <= log_accept:
            return scale * x


@jit
def _body_isf(code, p0, p1, q):
    """Inverse survival function of a body law at ``q`` in (0, 1] (not used for gamma)."""
    if code == LOGNORMAL:
        return math.exp(p0 - p1 * rng.ndtri(q))
    if code == WEIBULL:
        return p1 * (-math.log(q)) ** (1.0 / p0)
    if code == PARETO:
        return p1 * (q ** (-1.0 / p0) - 1.0)
    return -p0 * math.log(q)  # exponential: p0 is the mean


@jit
def _body_between(state, code, p0, p1, lo, s_lo, hi, s_hi):
    """Body law conditional on (lo, hi]."""
    if code == GAMMA:
        while True:
            x = gamma_above(state, p0, p1, lo)
            if x <= hi:
                return x
    q = s_hi + rng.uniform(state) * (s_lo - s_hi)
    return _body_isf(code, p0, p1, q)


@jit
def gpd(state, xi, beta):
    """Generalised Pareto excess with shape ``xi`` and scale ``beta``."""
    if xi == 0.0:
        return beta * rng.exponential(state)
    return beta / xi * (rng.uniform(state) ** (-xi) - 1.0)


@jit
def _alias_draw(state, values, probs, aliases):
    u = rng.uniform(state) * values.size
    i = min(np.intp(u), values.size - 1)
    if u - i < probs[i]:
        return values[i]
    return values[aliases[i]]


@jit
def _spliced(state, p):
    # the GPD tail with probability P(tail | X > d), else the body on (max(d, 0), u]
    if rng.uniform(state) < p[4]:
        return p[3] + gpd(state, p[1], p[2])
    return _body_between(state, np.intp(p[5]), p[6], p[7], p[8], p[9], p[0], p[10])


@jit
def _fill_lognormal(state, mu, sigma, d, s_d, out, m):
    if s_d >= 1.0:
        for i in range(m):
            out[i] = math.exp(mu + sigma * rng.normal(state))
    else:
        # X > d  <=>  Z > z_d = (log d - mu) / sigma
        z_d = (math.log(d) - mu) / sigma
        for i in range(m):
            out[i] = math.exp(mu + sigma * rng.normal_above(state, z_d))


@jit
def _fill_gamma(state, shape, scale, d, out, m):
    for i in range(m):
        out[i] = gamma_above(state, shape, scale, d)


@jit
def _fill_weibull(state, shape, scale, t, out, m):
    inv_shape = 1.0 / shape
    for i in range(m):
        out[i] = scale * (rng.exponential(state) + t) ** inv_shape


@jit
def _fill_pareto(state, alpha, scale, d, out, m):
    power = -1.0 / alpha
    for i in range(m):
        out[i] = (d + scale) * rng.uniform(state) ** power - scale


@jit
def _fill_exponential(state, mean, d, out, m):
    for i in range(m):
        out[i] = d + mean * rng.exponential(state)


@jit
def _fill_empirical(state, values, probs, aliases, out, m):
    for i in range(m):
        out[i] = _alias_draw(state, values, probs, aliases)


@jit
def _fill_spliced(state, p, out, m):
    for i in range(m):
        out[i] = _spliced(state, p)


@jit
def fill(state, code, p, values, probs, aliases, out, m):
    """Write ``m`` claim sizes of law ``code`` (conditional on exceeding p's ``d``) into ``out[:m]``.

    One small function per law, chosen once per batch, so each loop is a tight inlined draw.
    """
    if code == LOGNORMAL:
        _fill_lognormal(state, p[0], p[1], p[2], p[3], out, m)
    elif code == GAMMA:
        _fill_gamma(state, p[0], p[1], p[2], out, m)
    elif code == WEIBULL:
        _fill_weibull(state, p[0], p[1], p[3], out, m)
    elif code == PARETO:
        _fill_pareto(state, p[0], p[1], p[2], out, m)
    elif code == EXPONENTIAL:
        _fill_exponential(state, p[0], p[1], out, m)
    elif code == EMPIRICAL:
        _fill_empirical(state, values, probs, aliases, out, m)
    else:
        _fill_spliced(state, p, out, m)
