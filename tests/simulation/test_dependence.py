"""Dependence in a simulated book: the copula's reorder keeps every line's losses and every policy's
sums, moves the book total and the co-TVaR tail consistently, gives the same bits for any thread count
and at independence the independent run's; the shared gamma frailty's count moments are the closed
forms; the effect on TVaR, Euler and Shapley shares of a two-line book."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import techins as ti
from techins.pricing.allocation import euler_allocation, shapley_benefit
from techins.simulation import plan
from techins.simulation.api import book_tail_losses
from techins.simulation.occurrences import occurrence_arrays


def book(n: int = 60, seed: int = 4) -> ti.Portfolio:
    """Three lines, two laws, terms, contracts within a line, parameter risk and a common shock across lines."""
    rng = np.random.default_rng(seed)
    line = np.array(["cyber", "ip", "drone"])[np.arange(n) % 3]
    table = pd.DataFrame({
        "policy_id": [f"p{i}" for i in range(n)], "line": line, "claim_rate": rng.uniform(0.05, 0.6, n),
        "severity": np.where(line == "ip", "ip", "cyber"), "severity_scale": rng.uniform(0.5, 2.0, n),
        "deductible": np.where(line == "cyber", 2e4, 0.0), "limit": 3e6, "agg_limit": rng.choice([np.inf, 5e6], n),
        "sum_insured": rng.uniform(1e6, 1e7, n), "vendor": rng.choice(["aws", "azure"], n),
        "region": np.where(np.arange(n) // 6 % 2 == 0, "east", "west"),  # one region per contract
        "contract_id": [f"c{i // 6}-{i % 3}" for i in range(n)], "contract_agg_limit": 4e6,
    })
    shocks = (ti.CommonShock("outage", 0.4, "vendor", ("aws",), 0.3, ti.Gamma(2.0, 0.01)),)
    return ti.Portfolio(table, {"cyber": ti.LogNormal(11.0, 1.5), "ip": ti.Pareto(2.5, 3e5)}, shocks=shocks,
                        parameter_risk={"drone": 0.3})


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(plan, "BOOK_CLAIMS_PER_CHUNK", 1 << 12)


GUMBEL = ti.Dependence(ti.GumbelCopula.from_tau(0.5), lines=("cyber", "ip", "drone"))


def test_reorder_keeps_each_lines_losses_per_chunk_and_the_policy_sums(small_chunks):
    independent = ti.simulate(book(), 6_000, seed=3)
    joined = ti.simulate(book(), 6_000, seed=3, dependence=GUMBEL)
    assert independent.chunk_years < 6_000  # several chunks, the last one short
    c = independent.chunk_years
    for lo in range(0, 6_000, c):
        a, b = independent.line_annual[:, lo:lo + c], joined.line_annual[:, lo:lo + c]
        assert np.array_equal(np.sort(a, axis=1), np.sort(b, axis=1))
        assert not np.array_equal(a, b)
    for name in ("policy_sum", "policy_sumsq", "contract_sumsq", "chunk_groups"):
        assert np.array_equal(getattr(independent, name), getattr(joined, name)), name
    np.testing.assert_allclose(joined.annual, joined.line_annual.sum(axis=0), rtol=1e-12)
    # a year's largest occurrence, as paid, is in the year its loss moved to and never above it
    assert np.all(joined.max_occurrence <= joined.annual * (1 + 1e-12))
    assert np.array_equal(np.sort(joined.max_occurrence[joined.annual == 0]), np.zeros((joined.annual == 0).sum()))
    # the lines are now dependent as the copula says (ties: years without loss)
    tau = stats.kendalltau(joined.line_annual[0], joined.line_annual[1])[0]
    assert tau > 0.3 and abs(stats.kendalltau(independent.line_annual[0], independent.line_annual[1])[0]) < 0.05


def test_the_tail_rerun_sees_the_dependent_years(small_chunks):
    joined = ti.simulate(book(), 6_000, seed=3, dependence=GUMBEL)
    year, policy, loss = book_tail_losses(joined, 0.99)
    tail = np.flatnonzero(joined.annual >= np.quantile(joined.annual, 0.99, method="inverted_cdf"))
    assert set(np.unique(year)) == set(tail)
    np.testing.assert_allclose(np.bincount(year, weights=loss, minlength=6_000)[tail], joined.annual[tail],
                               rtol=1e-12)


def test_same_bits_for_any_thread_count(small_chunks):
    deps = [GUMBEL, ti.GammaFrailty(0.4, lines=("cyber", "ip"))]
    one = ti.simulate(book(), 5_000, seed=9, dependence=deps, threads=1)
    two = ti.simulate(book(), 5_000, seed=9, dependence=deps, threads=2)
    for name in ("annual", "max_occurrence", "line_annual", "policy_sum", "policy_cross"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name


@pytest.mark.parametrize("copula", [ti.GaussianCopula(0.0), ti.ClaytonCopula(0.0), ti.GumbelCopula(1.0),
                                    ti.FrankCopula.from_tau(0.0)], ids=lambda c: type(c).__name__)
def test_independence_gives_the_independent_run_bit_for_bit(small_chunks, copula):
    independent = ti.simulate(book(), 3_000, seed=5)
    same = ti.simulate(book(), 3_000, seed=5, dependence=ti.Dependence(copula, column="region"))
    for name in ("annual", "max_occurrence", "line_annual", "policy_sum", "policy_cross"):
        assert np.array_equal(getattr(independent, name), getattr(same, name)), name


def test_a_copula_by_column_and_its_checks():
    joined = ti.simulate(book(), 2_000, seed=1, dependence=ti.Dependence(ti.ClaytonCopula(3.0), column="region"))
    assert joined.portfolio.copula_margins[1] == ("east", "west")
    with pytest.raises(ti.InputError, match="contract"):
        book().with_dependence(ti.Dependence(ti.ClaytonCopula(3.0), column="vendor"))
    with pytest.raises(ti.InputError, match="no policy has"):
        book().with_dependence(ti.Dependence(ti.ClaytonCopula(3.0), lines=("cyber", "space")))
    with pytest.raises(ti.InputError, match="two gamma frailties"):
        book().with_dependence(ti.GammaFrailty(0.2, lines=("ip",)), ti.GammaFrailty(0.3, lines=("ip", "drone")))
    with pytest.raises(ti.InputError, match="Portfolio, not a Line"):
        ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), 10, seed=0, dependence=GUMBEL)


def _frailty_book(n_a: int = 5, n_b: int = 3) -> ti.Portfolio:
    table = pd.DataFrame({"policy_id": np.arange(n_a + n_b), "line": ["a"] * n_a + ["b"] * n_b,
                          "claim_rate": [0.3] * n_a + [0.5] * n_b, "severity": "s"})
    return ti.Portfolio(table, {"s": ti.Exponential(1.0)}, dependence=ti.GammaFrailty(0.5, lines=("a", "b")))


def test_frailty_count_variance_and_covariance_are_the_closed_forms():
    """Poisson-gamma: Var N = m + cv^2 m^2 per line, Cov(N_a, N_b) = cv^2 m_a m_b; counted from the
    occurrence table (every claim pays), tolerances four standard errors of the moment estimators."""
    years, cv = 200_000, 0.5
    result = ti.simulate(_frailty_book(), years, seed=2)
    counts = np.zeros((2, years))
    line_of = result.portfolio.arrays["line"]
    for year, _, policy, _ in occurrence_arrays(result):
        np.add.at(counts, (line_of[policy], year), 1.0)
    m = np.array([5 * 0.3, 3 * 0.5])
    centred = counts - counts.mean(axis=1, keepdims=True)
    for k in range(2):
        sq = centred[k] ** 2
        assert abs(counts[k].mean() - m[k]) < 4 * counts[k].std() / math.sqrt(years)
        assert abs(sq.mean() - (m[k] + cv**2 * m[k] ** 2)) < 4 * sq.std() / math.sqrt(years)
    cross = centred[0] * centred[1]
    assert abs(cross.mean() - cv**2 * m[0] * m[1]) < 4 * cross.std() / math.sqrt(years)
    # the occurrence XL sees it: its ceded years are dependent between the lines (counts correlate)
    assert cross.mean() > 10 * cross.std() / math.sqrt(years)


def test_a_book_without_frailty_draws_as_before_a_frailty_existed():
    """A frailty on one line leaves another book's draws alone: an empty dependence is the same book."""
    base = _frailty_book().with_dependence(())
    a = ti.simulate(base, 2_000, seed=4)
    b = ti.simulate(ti.Portfolio(base.policies, dict(base.severities)), 2_000, seed=4)
    assert np.array_equal(a.annual, b.annual)


def test_effect_on_tvar_euler_and_shapley_shares():
    """Two lines: a frequent small-claims line and a heavy-tailed one. Positive upper-tail dependence
    raises the total's TVaR 99% and moves capital (Euler, Shapley) toward the small-claims line, which
    now sits in the total's tail years."""
    table = pd.DataFrame({"policy_id": ["s", "h"], "line": ["small", "heavy"], "claim_rate": [4.0, 0.2],
                          "severity": ["small", "heavy"]})
    base = ti.Portfolio(table, {"small": ti.LogNormal(10.0, 1.0), "heavy": ti.Pareto(2.5, 2e5)})
    years = 100_000
    independent = ti.simulate(base, years, seed=8)
    joined = ti.simulate(base, years, seed=8, dependence=ti.Dependence(ti.GumbelCopula.from_tau(0.6),
                                                                       lines=("small", "heavy")))
    se = math.hypot(independent.stderr("tvar", 0.99), joined.stderr("tvar", 0.99))
    assert joined.tvar(0.99) - independent.tvar(0.99) > 4 * se
    lines = independent.portfolio.line_names
    small = lines.index("small")
    euler_i = euler_allocation(independent.line_annual, 0.99)
    euler_j = euler_allocation(joined.line_annual, 0.99)
    assert euler_j[small] / euler_j.sum() > euler_i[small] / euler_i.sum() + 0.05
    phi_i, _, _ = shapley_benefit(independent.line_annual, 0.99)
    phi_j, _, _ = shapley_benefit(joined.line_annual, 0.99)
    assert phi_j.sum() < phi_i.sum()  # less diversification benefit under dependence
