"""Copula samples and the Iman–Conover reorder of a chunk's years.

``copula_scores`` draws ``n`` points of a ``d``-dimensional copula as *scores*: numbers increasing in
each coordinate's uniform (Gaussian and t: the latent variables; Archimedean: ``-E_i / V``, since
``U_i = psi(E_i / V)`` falls as ``E_i / V`` grows). The reorder needs only their ranks, so no cdf is
computed here; ``techins.simulation.dependence.scores_to_uniforms`` maps them to uniforms.

* Gaussian: ``z = L g``, ``g`` independent standard normals, ``L`` the correlation's Cholesky factor;
* Student t: ``z / sqrt(W / df)``, ``W ~ chi^2_df = 2 Gamma(df / 2)`` shared by the coordinates;
* Archimedean (Marshall & Olkin 1988): one frailty ``V`` per point and independent ``E_i ~ Exp(1)``:
  Clayton ``V ~ Gamma(1/theta, 1)``; Gumbel ``V`` positive stable with Laplace transform
  ``exp(-t^(1/theta))`` by Kanter's (1975) representation; Frank ``V`` logarithmic with
  ``p = 1 - e^-theta``, ``V = 1 + floor(log R / log(1 - e^(-theta U)))`` (Kemp 1981; Devroye 1986,
  X.5). At independence (theta = 0) a score is ``log U``.

``iman_conover`` permutes a chunk's years per margin so the margin's ranks follow the scores' ranks
(Iman & Conover 1982): the year holding the r-th smallest score receives the r-th smallest loss; ties
(years of no loss) are taken in year order, so the permutation is fixed by the values and scores.
"""

from __future__ import annotations

import math

import numpy as np

from techins.kernels import rng
from techins.kernels._jit import jit

GAUSSIAN, STUDENT_T, CLAYTON, GUMBEL, FRANK = 0, 1, 2, 3, 4


@jit
def _positive_stable(state, alpha):
    # Kanter (1975): S = sin(a U) / sin(U)^(1/a) * (sin((1 - a) U) / W)^((1 - a) / a), U ~ U(0, pi),
    # W ~ Exp(1), has E exp(-t S) = exp(-t^a); alpha = 1 (theta = 1) gives S = 1, independence
    u = math.pi * rng.uniform(state)
    while u == 0.0:
        u = math.pi * rng.uniform(state)
    w = rng.exponential(state)
    if alpha == 1.0:
        return 1.0
    return (math.sin(alpha * u) / math.sin(u) ** (1.0 / alpha)
            * (math.sin((1.0 - alpha) * u) / w) ** ((1.0 - alpha) / alpha))


@jit
def _logarithmic(state, theta):
    # P(V = k) = p^k / (k theta), p = 1 - e^-theta: V = 1 + floor(log R / log Q), Q = 1 - (1 - p)^U
    p = -math.expm1(-theta)
    r = rng.uniform(state)
    if r > p:
        return 1.0  # then R > Q whatever U: V = 1 without drawing U (Kemp's shortcut)
    q = -math.expm1(-theta * rng.uniform(state))
    if r >= q:
        return 1.0
    return 1.0 + math.floor(math.log(r) / math.log(q))


@jit
def copula_scores(state, family, params, chol, out):
    """``out.shape[1]`` points of the copula ``family`` (module codes) in ``out.shape[0]`` dimensions
    into ``out[d, n]`` as scores (module notes), from generator ``state``. ``params[0]``: theta
    (Archimedean) or df (t); ``chol``: the correlation's lower Cholesky factor (Gaussian, t)."""
    d, n = out.shape[0], out.shape[1]
    g = np.empty(d)
    theta = params[0]
    for k in range(n):
        if family == GAUSSIAN or family == STUDENT_T:
            for i in range(d):
                g[i] = rng.normal(state)
            scale = 1.0
            if family == STUDENT_T:
                scale = math.sqrt(theta / (2.0 * rng.gamma(state, 0.5 * theta)))
            for i in range(d):
                s = 0.0
                for j in range(i + 1):
                    s += chol[i, j] * g[j]
                out[i, k] = s * scale
        elif (family == CLAYTON or family == FRANK) and theta == 0.0:
            for i in range(d):
                out[i, k] = math.log(rng.uniform(state))
        else:
            if family == CLAYTON:
                v = rng.gamma(state, 1.0 / theta)
            elif family == GUMBEL:
                v = _positive_stable(state, 1.0 / theta)
            else:
                v = _logarithmic(state, theta)
            for i in range(d):
                out[i, k] = -rng.exponential(state) / v


@jit
def iman_conover(values, scores, new_year):
    """For each margin ``j`` (row), ``new_year[j, y]``: where year ``y``'s value goes, so that the values'
    ranks over the years follow ``scores[j]``'s (the year of the r-th smallest score takes the r-th
    smallest value; ties in either in year order). ``values``, ``scores``: ``[margins, years]``."""
    for j in range(values.shape[0]):
        by_value = np.argsort(values[j], kind="mergesort")
        by_score = np.argsort(scores[j], kind="mergesort")
        for r in range(by_value.size):
            new_year[j, by_value[r]] = by_score[r]
