"""A fleet: one policy with 120 claims a year under an annual aggregate limit. Its cost must grow
linearly with the years (the claims), like the same risk as a ``Line``; the baseline is the NumPy
compound pipeline of the same model (counts, all sizes, ``bincount`` per year, the aggregate cut).

Read the printed ratios: the book's time per doubling of years, and book against line and NumPy.
"""

import numpy as np
import pandas as pd
import pytest

import techins as ti
from benchmarks.baselines import numpy_poisson_lognormal

RATE, MU, SIGMA, AGG_LIMIT = 120.0, 10.0, 1.5, 5e7
YEARS = (5_000, 10_000, 20_000, 40_000)
_TIMES: dict[tuple[str, int], float] = {}


def fleet_book() -> ti.Portfolio:
    table = pd.DataFrame({"policy_id": ["fleet"], "line": ["drone"], "claim_rate": [RATE], "severity": ["s"],
                          "agg_limit": [AGG_LIMIT]})
    return ti.Portfolio(table, {"s": ti.LogNormal(MU, SIGMA)})


def fleet_line() -> ti.Line:
    return ti.Line(frequency=ti.Poisson(RATE), severity=ti.LogNormal(MU, SIGMA), aggregate=ti.Layer(limit=AGG_LIMIT))


@pytest.mark.parametrize("years", YEARS)
@pytest.mark.parametrize("variant", ["numpy", "techins_book", "techins_line"])
def test_fleet_policy(record, benchmark, variant, years):
    if variant == "numpy":
        run = lambda: np.minimum(numpy_poisson_lognormal(years, 1, RATE, MU, SIGMA), AGG_LIMIT)  # noqa: E731
    else:
        risk = fleet_book() if variant == "techins_book" else fleet_line()
        ti.simulate(risk, years=100, seed=0)  # compiled before timing
        run = lambda: ti.simulate(risk, years=years, seed=1)  # noqa: E731
    record(f"fleet 120 claims/yr x {years:,}", variant, run)
    _TIMES[(variant, years)] = benchmark.stats.stats.median


def test_fleet_book_cost_per_doubling_of_years():
    # not a timing assertion: prints the growth of the book's time, read in docs/performance.md
    book = [_TIMES.get(("techins_book", y)) for y in YEARS]
    if None in book:
        pytest.skip("run with the fleet benchmarks")
    for (y0, t0), (y1, t1) in zip(zip(YEARS, book), zip(YEARS[1:], book[1:])):
        print(f"\nfleet book {y0:,} -> {y1:,} years: time x {t1 / t0:.2f}; "
              f"book / line {t1 / _TIMES[('techins_line', y1)]:.1f}")
