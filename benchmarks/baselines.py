"""Vectorised NumPy versions of the models the benchmarks time: the baseline of every ratio."""

from __future__ import annotations

import numpy as np

BLOCK_YEARS = 1_000_000  # bounds the baseline's memory; NumPy is vectorised within each block


def numpy_poisson_lognormal(years: int, seed: int, mean: float, mu: float, sigma: float,
                            deductible: float = 0.0, limit: float = np.inf) -> np.ndarray:
    """Annual losses of Poisson(mean) x LogNormal(mu, sigma) through ``min(max(x - d, 0), l)``.

    Every claim is drawn (counts, then all severities at once, then ``bincount`` per year), as a
    careful NumPy user would write it.
    """
    rng = np.random.default_rng(seed)
    annual = np.empty(years)
    for start in range(0, years, BLOCK_YEARS):
        n_years = min(BLOCK_YEARS, years - start)
        counts = rng.poisson(mean, n_years)
        x = rng.lognormal(mu, sigma, counts.sum())
        loss = np.minimum(np.maximum(x - deductible, 0.0), limit)
        year = np.repeat(np.arange(n_years), counts)
        annual[start:start + n_years] = np.bincount(year, weights=loss, minlength=n_years)
    return annual


def numpy_book(rates: np.ndarray, mu: float, sigma: float, scales: np.ndarray, years: int, seed: int,
               block_years: int = 1000) -> np.ndarray:
    """Annual losses of a book of independent Poisson x lognormal policies (no terms, no shocks),
    vectorised over policies and a block of years: counts per (year, policy), all sizes, ``bincount``
    per year. The same model as a techins book without terms or shocks."""
    rng = np.random.default_rng(seed)
    annual = np.empty(years)
    for start in range(0, years, block_years):
        n_years = min(block_years, years - start)
        counts = rng.poisson(rates[None, :], (n_years, rates.size))
        flat = counts.ravel()
        x = rng.lognormal(mu, sigma, flat.sum()) * np.repeat(np.tile(scales, n_years), flat)
        year = np.repeat(np.arange(n_years), counts.sum(axis=1))
        annual[start:start + n_years] = np.bincount(year, weights=x, minlength=n_years)
    return annual


def numpy_programme(occ_year, loss, years, cession, risk_limit, risk_retention, occ_limit, occ_retention, rates,
                    agg_limit, agg_attachment):
    """A four-treaty programme (quota share, per-risk XL, occurrence XL with reinstatements, aggregate
    XL, in that inuring order) over occurrences that touch one policy each, sorted by year: the same
    model as the Numba kernel, vectorised with cumulative sums per year. Returns the per-year ceded
    losses ``[years, 4]`` and the occurrence XL's reinstatement factor per year."""
    starts = np.searchsorted(occ_year, np.arange(years))

    def within_year_cumsum(x):
        total = np.cumsum(x)
        before_year = np.concatenate([[0.0], total])[starts][occ_year]
        return total - before_year

    qs = cession * loss
    net = loss - qs
    risk = np.minimum(np.maximum(net - risk_retention, 0.0), risk_limit)
    net = net - risk
    layer = np.minimum(np.maximum(net - occ_retention, 0.0), occ_limit)
    cap = (len(rates) + 1) * occ_limit
    after = np.minimum(within_year_cumsum(layer), cap)
    before = np.minimum(within_year_cumsum(layer) - layer, cap)
    occ = after - before
    factor = np.zeros_like(loss)
    for k, c in enumerate(rates):
        lo, hi = k * occ_limit, (k + 1) * occ_limit
        factor += c * np.maximum(np.minimum(after, hi) - np.maximum(before, lo), 0.0) / occ_limit
    net = net - occ
    running = within_year_cumsum(net)
    agg = (np.minimum(np.maximum(running - agg_attachment, 0.0), agg_limit)
           - np.minimum(np.maximum(running - net - agg_attachment, 0.0), agg_limit))
    per_year = lambda v: np.bincount(occ_year, weights=v, minlength=years)  # noqa: E731
    return np.column_stack([per_year(qs), per_year(risk), per_year(occ), per_year(agg)]), per_year(factor)
