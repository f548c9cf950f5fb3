"""The priced predictive distributions re-simulated from the product catalogue.

When policies carry the product, the product version and the seed they were priced with (and the
rating columns their products read), each period's book is rebuilt from the catalogue and simulated
again with that seed: each line's annual loss in that book, as quantiles, is the predictive
distribution the pricing used — the same numbers, not an approximation of them, when the catalogue
and the years are those of the pricing run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from techins import validate
from techins.errors import InputError
from techins.io.schema import RESIMULATE_COLUMNS as REQUIRED
from techins.progress import announce, report
from techins.results import figures
from techins.simulation.api import simulate
from techins.simulation.executor import open_executor
from techins.simulation.occurrences import annual_by_group

__all__ = ["PROBABILITIES", "resimulated_forecasts"]

PROBABILITIES = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99,
                 0.995, 0.999)


def resimulated_forecasts(policies: pd.DataFrame, catalogue, years: int, source: str = "policies",
                          threads: int | None = None, *, backend: str = "local", client=None,
                          executor=None, progress=None) -> pd.DataFrame:
    """Per back-test line and period, quantiles of the annual loss of that period's book simulated
    again with the seed it was priced with.

    Parameters
    ----------
    policies : pandas.DataFrame
        The back-test's policies as read (``REQUIRED`` columns and the rating columns of their
        products); one seed per period (the pricing run's).
    catalogue : techins.catalogue.products.Catalogue
        The catalogue the policies were priced with: each policy's ``version`` must be its product's.
    years : int
        Simulated years per period.
    source : str
        The policies file, for messages.
    threads, backend, client, executor : optional
        Where the periods' books run (as ``techins.simulate``); the same numbers on every executor.
    progress : callable, optional
        ``progress(periods_done, periods)``, after ``progress.phase("re-simulation")`` when it has
        that method (``techins.progress``).

    Returns
    -------
    pandas.DataFrame
        ``line, period`` and one column ``q<p>`` per probability of ``PROBABILITIES`` (the
        ``forecasts`` schema of ``docs/backtest.md``).
    """
    years = validate.integer("resimulated_forecasts", "years", years, low=100)
    missing = [c for c in REQUIRED if c not in policies.columns]
    if missing:
        raise InputError(f"{source}: missing column {missing[0]!r}; re-simulating the priced distributions needs "
                         f"{list(REQUIRED)} and the products' rating columns")
    frame = policies.reset_index(drop=True)
    _check_versions(frame, catalogue, source)
    with open_executor("resimulated_forecasts", backend, client, threads, executor=executor) as run:
        announce(progress, "re-simulation")
        return pd.DataFrame(_period_quantiles(frame, catalogue, years, source, run, progress))


def _period_quantiles(frame: pd.DataFrame, catalogue, years: int, source: str, executor, progress=None) -> list[dict]:
    rows = []
    periods = frame.groupby("period", sort=True)
    for done, (period, part) in enumerate(periods, start=1):
        seeds = pd.unique(part["seed"])
        if seeds.size != 1:
            raise InputError(f"{source}: period {period} has policies priced with seeds {sorted(seeds.tolist())}; "
                             f"one pricing run (one seed) per period")
        seed = validate.integer(source, f"seed of period {period}", int(seeds[0]), low=0)
        part = part.reset_index(drop=True)
        book = catalogue.book(part, source=f"{source} (period {period})")
        lines, line_of_policy = np.unique(part["line"].astype(str).to_numpy(), return_inverse=True)
        result = simulate(book.portfolio, years, seed, executor=executor)
        annual = annual_by_group(result, line_of_policy[book.row_policy].astype(np.int64), executor=executor)
        for k, line in enumerate(lines):
            ordered = np.sort(annual[k]) if k < annual.shape[0] else np.zeros(years)
            rows.append({"line": str(line), "period": int(period),
                         **{f"q{p}": figures.quantile_equal(ordered, p) for p in PROBABILITIES}})
        report(progress, done, periods.ngroups)  # one report per period: its book's run and its lines
    return rows


def _check_versions(frame: pd.DataFrame, catalogue, source: str) -> None:
    product = frame["product"].astype(str)
    have = product.map({pid: p.version for pid, p in catalogue.products.items()})
    unknown = have.isna().to_numpy()
    if unknown.any():
        i = int(np.argmax(unknown))
        raise InputError(f"{source}: row {i + 1} (policy_id {frame['policy_id'].iloc[i]!r}): product {product.iloc[i]!r} "
                         f"is not in the catalogue; products are {sorted(catalogue.products)}")
    given = frame["version"].astype(str).str.strip()
    differ = np.flatnonzero((given != have).to_numpy())
    for i in differ:  # "1" and "1.0" are one version; only the rows whose text differs are looked at
        if _as_number(given.iloc[i]) != _as_number(have.iloc[i]):
            raise InputError(f"{source}: row {i + 1} (policy_id {frame['policy_id'].iloc[i]!r}): priced with version "
                             f"{given.iloc[i]!r} of {product.iloc[i]!r}, the catalogue has version {have.iloc[i]!r}; "
                             f"point [resimulate] products at the catalogue of the pricing")


def _as_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
