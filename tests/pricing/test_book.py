"""Pricing a simulated book: the tail re-run, the co-TVaR allocation of the book's capital, and the
quote path for one new policy."""

import math

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.catalogue.quote import Quoter
from techins.pricing.premium import PricingBasis, book_figures, price_portfolio
from techins.simulation.api import book_tail_losses

Z = 4.0
BASIS = PricingBasis(risk_measure="coc_tvar", load=0.10, level=0.99, fixed_expense=100.0, variable_expense=0.2,
                     profit=0.05, rate_cap=0.05, subsidy_share=0.8)


def small_book(n=300, batch=False):
    rng = np.random.default_rng(1)
    table = pd.DataFrame({
        "policy_id": [f"P{i}" for i in range(n)],
        "line": np.where(np.arange(n) % 3 == 0, "drone", "cyber"),
        "claim_rate": rng.uniform(0.02, 0.2, n),
        "severity": np.where(np.arange(n) % 3 == 0, "hull", "breach"),
        "deductible": np.where(np.arange(n) % 2 == 0, 1e4, 0.0),
        "limit": 2e6,
        "sum_insured": rng.uniform(1e6, 5e6, n),
        "cloud": np.where(np.arange(n) % 4 == 0, "aws", "other"),
        "batch": "b1",
    })
    shocks = [ti.CommonShock("outage", 0.5, "cloud", ("aws",), 0.3, ti.Gamma(2.0, 0.01))]
    if batch:
        shocks.append(ti.CommonShock("defect", 0.1, "batch", ("b1",), 0.05, ti.Exponential(0.02), clause="batch",
                                     event_deductible=1e5, event_limit=5e6))
    severities = {"breach": ti.LogNormal(10.5, 1.4), "hull": ti.Gamma(1.5, 6e4)}
    return ti.Portfolio(table, severities, shocks=tuple(shocks))


@pytest.fixture(scope="module")
def simulated():
    return ti.simulate(small_book(batch=True), years=40_000, seed=17)


def test_tail_rerun_reproduces_the_book_years(simulated):
    year, policy, loss = book_tail_losses(simulated, 0.99)
    var = np.sort(simulated.annual)[math.ceil(0.99 * simulated.years) - 1]
    tail = np.flatnonzero(simulated.annual >= var)
    assert set(np.unique(year)) == set(tail)
    per_year = np.bincount(year, weights=loss, minlength=simulated.years)
    np.testing.assert_allclose(per_year[tail], simulated.annual[tail], rtol=1e-12)


def test_price_portfolio_allocates_the_whole_book(simulated):
    table = price_portfolio(simulated, BASIS)
    book = book_figures(simulated.annual, BASIS, n_policies=simulated.portfolio.n_policies).iloc[0]
    assert table.allocated_capital.sum() == pytest.approx(book.capital, rel=1e-9)
    assert table.risk_load.sum() == pytest.approx(book.risk_load, rel=1e-9)
    assert table.technical_premium.sum() == pytest.approx(book.technical_premium, rel=1e-9)
    # every premium is its components grossed up: (E + load + fixed) / (1 - v - q)
    rebuilt = (table.expected_loss + table.risk_load + table.fixed_expense) / (1 - 0.2 - 0.05)
    np.testing.assert_allclose(table.technical_premium, rebuilt, rtol=1e-12)
    assert set(table.line) == {"drone", "cyber"}


def test_quote_expected_loss_against_closed_form(simulated):
    quoter = Quoter(simulated, BASIS)
    law, si, rate = ti.LogNormal(10.5, 1.4), 2e6, 0.15
    policy = {"policy_id": "new", "line": "cyber", "claim_rate": rate, "severity": "breach", "deductible": 1e4,
              "limit": 2e6, "sum_insured": si, "cloud": "aws"}
    out = quoter.quote(policy)
    # own claims: rate * (LEV(d + l) - LEV(d)); outage: 0.5 events * 0.3 hits * E[min(max(SI G - d, 0), l)],
    # the last by quadrature of the gamma's survival function
    from scipy import integrate, stats
    own = rate * (float(law.lev(2.01e6)) - float(law.lev(1e4)))
    g = stats.gamma(2.0, scale=0.01)
    shock = 0.5 * 0.3 * integrate.quad(lambda x: g.sf(x / si), 1e4, 2.01e6, limit=200)[0]
    assert abs(out["expected_loss"] - (own + shock)) < Z * out["expected_loss_stderr"]
    assert out["marginal_risk_load"] < out["standalone_risk_load"]  # diversification in the book
    assert out["capped_premium"] <= 0.05 * si + 1e-9
    assert out["subsidy"] == pytest.approx(0.8 * out["capped_premium"])


def test_quote_shock_losses_fall_in_the_book_event_years():
    # only shock losses, every exposed policy always hit: the new policy loses exactly in the years the
    # book does
    table = pd.DataFrame({"policy_id": ["a", "b"], "line": "cyber", "claim_rate": 0.0, "severity": "s",
                          "sum_insured": 1e6, "cloud": "aws"})
    shock = ti.CommonShock("outage", 0.3, "cloud", ("aws",), 1.0, ti.Exponential(0.05))
    result = ti.simulate(ti.Portfolio(table, {"s": ti.Exponential(1.0)}, shocks=(shock,)), years=20_000, seed=2)
    quoter = Quoter(result, BASIS)
    x = quoter.annual_losses({"policy_id": "c", "line": "cyber", "claim_rate": 0.0, "severity": "s",
                              "sum_insured": 1e6, "cloud": "aws"})
    assert np.array_equal(x > 0, result.annual > 0)
    unexposed = quoter.annual_losses({"policy_id": "d", "line": "cyber", "claim_rate": 0.0, "severity": "s",
                                      "sum_insured": 1e6, "cloud": "gcp"})
    assert not unexposed.any()


def test_quote_is_reproducible_and_keyed_by_policy_id(simulated):
    quoter = Quoter(simulated, BASIS)
    policy = {"policy_id": "n1", "line": "drone", "claim_rate": 0.1, "severity": "hull", "sum_insured": 1e6}
    assert quoter.quote(policy) == quoter.quote(policy)
    other = dict(policy, policy_id="n2")
    assert not np.array_equal(quoter.annual_losses(policy), quoter.annual_losses(other))


def test_quote_refuses_batch_exposure_and_bad_rows(simulated):
    quoter = Quoter(simulated, BASIS)
    policy = {"policy_id": "n", "line": "cyber", "claim_rate": 0.1, "severity": "breach", "sum_insured": 1e6,
              "batch": "b1"}
    with pytest.raises(ti.InputError, match="batch-clause scenario"):
        quoter.quote(policy)
    with pytest.raises(ti.InputError, match="claim_rate must be >= 0"):
        quoter.quote(dict(policy, batch="none", claim_rate=-1.0))
    with pytest.raises(ti.InputError, match="severity 'nope'"):
        quoter.quote(dict(policy, batch="none", severity="nope"))


def test_line_capitals_add_up_to_the_book_and_diversify(simulated):
    from techins.pricing.premium import line_capital_table

    priced = price_portfolio(simulated, BASIS)
    lines = line_capital_table(simulated, priced, level=0.99)
    book = book_figures(simulated.annual, BASIS, n_policies=simulated.portfolio.n_policies).iloc[0]
    assert lines.allocated_capital.sum() == pytest.approx(book.capital, rel=1e-9)
    # each line's standalone TVaR capital, recomputed here from its annual losses by the definition
    for _, row in lines.iterrows():
        x = np.sort(simulated.line_result(row.line).annual)
        k = math.ceil(0.99 * x.size)
        tail = (x[k:].sum() + (k / x.size - 0.99) * x.size * x[k - 1]) / (x.size * 0.01)
        assert row.standalone_capital == pytest.approx(tail - x.mean(), rel=1e-9)
    assert lines.diversification_benefit.sum() > 0


def test_quote_in_a_line_with_parameter_risk_shares_the_book_factor():
    # a book line with strong parameter risk: a new policy of that line covaries with the book, one of
    # another line does not
    table = pd.DataFrame({"policy_id": [f"p{i}" for i in range(50)], "line": "cyber", "claim_rate": 0.5,
                          "severity": "s"})
    book = ti.Portfolio(table, {"s": ti.Exponential(1e3)}, parameter_risk={"cyber": 0.8})
    result = ti.simulate(book, years=50_000, seed=4)
    quoter = Quoter(result, BASIS)
    same = quoter.annual_losses({"policy_id": "n1", "line": "cyber", "claim_rate": 2.0, "severity": "s"})
    other = quoter.annual_losses({"policy_id": "n2", "line": "drone", "claim_rate": 2.0, "severity": "s"})
    s = result.annual
    # Cov(X_new, S) = 2.0 * 25 * 0.8^2 * 1e3^2 for the same line (25 = sum of the book's rates), 0 otherwise
    for x, expected in ((same, 2.0 * 25.0 * 0.64 * 1e6), (other, 0.0)):
        products = (x - x.mean()) * (s - s.mean())
        assert abs(products.mean() - expected) < Z * products.std() / math.sqrt(products.size)
