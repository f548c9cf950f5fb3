"""Books of policies: the 100,000-policy x 100,000-year mixed book with common shocks, how time grows
with policies and years, a NumPy baseline on a plain book, and the one-policy quote.

Run with ``make bench``; the largest case takes minutes.
"""

import resource

import numpy as np
import pandas as pd
import pytest

import techins as ti
from benchmarks.baselines import numpy_book
from benchmarks.books import mixed_book
from techins.catalogue.quote import Quoter
from techins.pricing.premium import PricingBasis


@pytest.mark.parametrize("policies,years", [(10_000, 10_000), (100_000, 10_000), (10_000, 100_000),
                                            (100_000, 100_000)])
def test_mixed_book(record, policies, years):
    book = mixed_book(policies)
    ti.simulate(mixed_book(100), years=10, seed=0)  # compiled before timing
    result = record(f"mixed book {policies:,} x {years:,}", "techins_2threads",
                    lambda: ti.simulate(book, years=years, seed=1), rounds=1)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\n{policies:,} policies x {years:,} years: peak RSS so far {peak_gib:.2f} GiB, "
          f"mean {result.mean():,.0f} +/- {result.stderr('mean'):,.0f}")


@pytest.mark.parametrize("variant", ["numpy", "techins_2threads"])
def test_plain_book_against_numpy(record, variant):
    rng = np.random.default_rng(0)
    n, years = 2_000, 20_000
    rates, scales = rng.uniform(0.01, 0.1, n), rng.uniform(0.5, 2.0, n)
    if variant == "numpy":
        record("plain book 2,000 x 20,000", variant, lambda: numpy_book(rates, 11.0, 1.5, scales, years, 1))
        return
    table = pd.DataFrame({"policy_id": np.arange(n), "line": "cyber", "claim_rate": rates, "severity": "s",
                          "severity_scale": scales})
    book = ti.Portfolio(table, {"s": ti.LogNormal(11.0, 1.5)})
    ti.simulate(book, years=10, seed=0)
    record("plain book 2,000 x 20,000", variant, lambda: ti.simulate(book, years=years, seed=1))


def test_quote_against_a_simulated_book(record):
    book = mixed_book(100_000)
    result = ti.simulate(book, years=100_000, seed=1)
    quoter = Quoter(result, PricingBasis("coc_tvar", load=0.1, variable_expense=0.25, profit=0.05))
    policy = {"policy_id": "new", "line": "cyber", "claim_rate": 0.06, "severity": "cyber", "deductible": 2e4,
              "limit": 2e7, "sum_insured": 5e6, "cloud": "aws"}
    quoter.quote(policy)
    record("quote, book of 100,000 x 100,000", "one policy", lambda: quoter.quote(policy), rounds=50)
