"""The Quoter under concurrency: underwriting systems call one Quoter from a thread pool, so a quote
must not depend on what other threads are quoting at the same time."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.catalogue.quote import Quoter
from techins.pricing.premium import PricingBasis

BASIS = PricingBasis(risk_measure="coc_tvar", load=0.10, level=0.99, fixed_expense=100.0, variable_expense=0.2,
                     profit=0.05, rate_cap=0.05, subsidy_share=0.8)


def book() -> ti.Portfolio:
    n = 60
    table = pd.DataFrame({
        "policy_id": [f"P{i}" for i in range(n)],
        "line": np.where(np.arange(n) % 3 == 0, "drone", "cyber"),
        "claim_rate": np.linspace(0.02, 0.3, n),
        "severity": np.where(np.arange(n) % 3 == 0, "hull", "breach"),
        "limit": 2e6,
        "sum_insured": np.linspace(1e6, 5e6, n),
        "cloud": np.where(np.arange(n) % 4 == 0, "aws", "other"),
    })
    shocks = (ti.CommonShock("outage", 0.5, "cloud", ("aws",), 0.3, ti.Gamma(2.0, 0.01)),)
    return ti.Portfolio(table, {"breach": ti.LogNormal(10.5, 1.4), "hull": ti.Gamma(1.5, 6e4)}, shocks=shocks)


def candidates(n: int) -> list[dict]:
    # different ids (streams), rates, laws and exposures, so a quote computed with another thread's
    # buffer or state cannot come out equal by chance
    return [{"policy_id": f"new-{i}", "line": "cyber" if i % 2 else "drone", "claim_rate": 0.5 + 0.01 * i,
             "severity": "breach" if i % 2 else "hull", "limit": 1e6 + 1e3 * i, "sum_insured": 2e6 + i,
             "cloud": "aws" if i % 3 else "other"} for i in range(n)]


@pytest.mark.slow
def test_two_thousand_concurrent_quotes_equal_the_serial_quotes_bit_for_bit():
    quoter = Quoter(ti.simulate(book(), years=2_000, seed=5), BASIS)
    policies = candidates(250)
    serial = [quoter.quote(p) for p in policies]
    requests = [i % len(policies) for i in range(2_000)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        quotes = list(pool.map(lambda i: quoter.quote(policies[i]), requests))
    wrong = sum(quote != serial[i] for i, quote in zip(requests, quotes))
    assert wrong == 0, f"{wrong} of {len(requests)} concurrent quotes differ from the serial quote"


def test_concurrent_annual_losses_are_arrays_of_their_own():
    quoter = Quoter(ti.simulate(book(), years=2_000, seed=5), BASIS)
    policies = candidates(40)
    serial = [quoter.annual_losses(p) for p in policies]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(quoter.annual_losses, policies))
    for x, y in zip(serial, concurrent):
        assert np.array_equal(x, y)
    assert len({id(x) for x in concurrent}) == len(concurrent)


def test_quoter_pickles_and_quotes_the_same():
    quoter = Quoter(ti.simulate(book(), years=2_000, seed=5), BASIS)
    again = pickle.loads(pickle.dumps(quoter))
    for policy in candidates(5):
        assert again.quote(policy) == quoter.quote(policy)


def test_a_policy_of_many_claims_is_drawn_in_blocks_and_keeps_its_mean():
    # 150 claims a year over 2,000 years: 300,000 claims, drawn in blocks of 65,536 (bounded memory)
    from techins.kernels.book import QUOTE_BLOCK

    quoter = Quoter(ti.simulate(book(), years=2_000, seed=5), BASIS)
    law = ti.LogNormal(10.5, 1.4)
    policy = {"policy_id": "fleet", "line": "cyber", "claim_rate": 150.0, "severity": "breach", "limit": 2e6,
              "sum_insured": 1e6, "cloud": "other"}
    x = quoter.annual_losses(policy)
    assert 150.0 * x.size > 4 * QUOTE_BLOCK
    expected = 150.0 * law.lev(2e6)
    assert abs(x.mean() - expected) < 4 * x.std(ddof=1) / np.sqrt(x.size), (x.mean(), expected)
