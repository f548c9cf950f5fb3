"""Dependence specs (``techins.model.dependence``) as the kernels take them, the copula streams of a
run's chunks, and the copula sampler for users (``sample_copula``).

A chunk's copula sample comes from its own stream, the first child of the chunk's seed sequence
(``SeedSequence(seed, spawn_key=(k, 0))``): the chunk's claims are drawn from ``(k,)`` exactly as
without a copula, so each margin keeps exactly the losses of the independent run, and a re-run of
the chunk (tail, occurrence tables, programmes; any executor, any thread count) gives the same
sample, hence the same years.
"""

from __future__ import annotations

import numpy as np

from techins import validate
from techins.errors import InputTypeError
from techins.kernels import copula as kernel
from techins.kernels.records import CopulaArrays
from techins.lazy import lazy_module
from techins.model import dependence as dep

__all__ = ["copula_kernel_arrays", "book_copula", "copula_states", "sample_copula", "scores_to_uniforms",
           "COPULA_STREAM"]

_stats = lazy_module("scipy.stats")

COPULA_STREAM = 0  # spawn-key suffix of a chunk's copula stream: (chunk, COPULA_STREAM)


def copula_kernel_arrays(copula, d: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Kernel code, parameters and Cholesky factor of ``copula`` in ``d`` dimensions."""
    if isinstance(copula, dep.GaussianCopula):
        return kernel.GAUSSIAN, np.zeros(2), np.ascontiguousarray(np.linalg.cholesky(copula.matrix(d)))
    if isinstance(copula, dep.StudentTCopula):
        return (kernel.STUDENT_T, np.array([copula.df, 0.0]),
                np.ascontiguousarray(np.linalg.cholesky(copula.matrix(d))))
    codes = {dep.ClaytonCopula: kernel.CLAYTON, dep.GumbelCopula: kernel.GUMBEL, dep.FrankCopula: kernel.FRANK}
    if type(copula) not in codes:
        raise InputTypeError(f"no sampler for copula {copula!r}")
    return codes[type(copula)], np.array([copula.theta, 0.0]), np.zeros((d, d))


def book_copula(portfolio, n_policies: int) -> CopulaArrays:
    """The book's copula as the kernels take it; none (``n_margins = 0``) without one or at
    independence, where the years stay as drawn: the independent run's numbers bit for bit."""
    spec = portfolio.copula
    if spec is None or spec.copula.is_independent:
        return CopulaArrays(kernel.GAUSSIAN, np.zeros(2), np.zeros((1, 1)), np.full(n_policies, -1, np.int64), 0)
    margin, names = portfolio.copula_margins
    code, params, chol = copula_kernel_arrays(spec.copula, len(names))
    return CopulaArrays(code, params, chol, margin, len(names))


def copula_states(seed: int, ids) -> np.ndarray:
    """The copula streams' xoshiro256++ states (``uint64[len(ids), 4]``) of chunks ``ids``."""
    states = np.empty((len(ids), 4), dtype=np.uint64)
    for i, k in enumerate(ids):
        state = np.random.SeedSequence(seed, spawn_key=(int(k), COPULA_STREAM)).generate_state(4, np.uint64)
        if not state.any():
            state[0] = 1
        states[i] = state
    return states


def sample_copula(copula, d: int, n: int, seed: int) -> np.ndarray:
    """``n`` draws of ``copula`` in ``d`` dimensions as uniforms, ``float64[n, d]``: the sampler the
    book's reorder uses (``techins.kernels.copula.copula_scores``), mapped to [0, 1].

    Parameters
    ----------
    copula : GaussianCopula, StudentTCopula, ClaytonCopula, GumbelCopula or FrankCopula
    d : int
        Dimension, >= 2.
    n : int
        Number of points, >= 1.
    seed : int
        >= 0; the same seed gives the same points.

    Examples
    --------
    >>> import techins as ti
    >>> u = ti.sample_copula(ti.ClaytonCopula(2.0), 3, 5, seed=1)
    >>> u.shape, bool(((u > 0) & (u < 1)).all())
    ((5, 3), True)
    """
    if not isinstance(copula, dep.COPULAS):
        raise InputTypeError(f"sample_copula: expected a copula, got {copula!r}")
    d = validate.integer("sample_copula", "d", d, low=2)
    n = validate.integer("sample_copula", "n", n, low=1)
    seed = validate.integer("sample_copula", "seed", seed, low=0)
    code, params, chol = copula_kernel_arrays(copula, d)
    state = np.random.SeedSequence(seed).generate_state(4, np.uint64)
    scores = np.empty((d, n))
    kernel.copula_scores(state, code, params, chol, scores)
    return np.ascontiguousarray(scores_to_uniforms(copula, scores).T)


def scores_to_uniforms(copula, scores: np.ndarray) -> np.ndarray:
    """The kernel's scores (increasing in each coordinate's uniform) as the copula's uniforms."""
    if isinstance(copula, dep.GaussianCopula):
        return _stats.norm.cdf(scores)
    if isinstance(copula, dep.StudentTCopula):
        return _stats.t.cdf(scores, copula.df)
    if copula.is_independent and not isinstance(copula, dep.GumbelCopula):
        return np.exp(scores)  # the kernel draws log-uniforms at theta = 0
    return copula.psi(-scores)
