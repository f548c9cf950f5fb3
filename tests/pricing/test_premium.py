"""Pricing: risk loads, gross-up, cap and subsidy, Euler allocation, the price table.

Expected numbers are worked out by hand in the tests (or by brute force on the full per-policy
sample), never by calling the function under test a second way.
"""

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from techins.errors import InputError
from techins.pricing import allocation, premium as pricing
from techins.pricing.premium import PricingBasis
from techins.results import figures


def _phi(x):
    """Standard normal cdf from math.erf, independent of scipy."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _tail_table(losses, book, level):
    """Sparse (year, policy, loss) rows of every non-zero loss in the years with book >= VaR."""
    n = book.size
    ordered = np.sort(book)
    var = min(v for v in ordered if np.count_nonzero(book <= v) / n >= level)
    rows = [(y, i, losses[y, i]) for y in range(n) if book[y] >= var
            for i in range(losses.shape[1]) if losses[y, i] != 0.0]
    years = np.array([r[0] for r in rows], dtype=np.int64)
    policies = np.array([r[1] for r in rows], dtype=np.int64)
    values = np.array([r[2] for r in rows], dtype=np.float64)
    return years, policies, values


def _brute_force_weights(book, level):
    """TVaR weights per year written from the definition: 1/(n(1-p)) above VaR, the atom's remaining
    mass (F(VaR) - p)/(1-p) shared equally by the years at VaR."""
    n = book.size
    var = min(v for v in np.sort(book) if np.count_nonzero(book <= v) / n >= level)
    w = np.where(book > var, 1.0 / (n * (1.0 - level)), 0.0)
    at = book == var
    w[at] = max(np.count_nonzero(book <= var) / n - level, 0.0) / (1.0 - level) / np.count_nonzero(at)
    return w


def _tvar_by_integral(book, level):
    """1/(1-p) * integral_p^1 quantile(u) du: order statistic j covers u in ((j-1)/n, j/n]."""
    x = np.sort(book)
    n = x.size
    covered = [max(0.0, j / n - max((j - 1) / n, level)) for j in range(1, n + 1)]
    return float(np.dot(covered, x)) / (1.0 - level)


# ------------------------------------------------------------------------------------- gross-up, cap
def test_gross_up_by_hand():
    # (1000 + 200 + 50) / (1 - 0.25 - 0.05) = 1250 / 0.70
    premium = pricing.technical_premium(1000.0, 200.0, 50.0, 0.25, 0.05)
    assert isinstance(premium, float)
    assert premium == pytest.approx(1785.7142857142858, rel=1e-14)


def test_gross_up_is_vectorised():
    premium = pricing.technical_premium(np.array([1000.0, 0.0]), np.array([200.0, 10.0]), 50.0, 0.5, 0.0)
    # (1250 / 0.5, 60 / 0.5)
    np.testing.assert_allclose(premium, [2500.0, 120.0], rtol=1e-14)


def test_cap_and_subsidy_by_hand():
    technical = 1250.0 / 0.70  # 1785.714...
    split = pricing.apply_cap_and_subsidy(np.array([technical, technical]), np.array([50_000.0, 100_000.0]),
                                          rate_cap=0.03, subsidy_share=0.80)
    # policy 0: cap 3% x 50,000 = 1500 binds; shortfall 285.714; subsidy 0.8 x 1500 = 1200; insured 300
    # policy 1: cap 3000 does not bind; subsidy 0.8 x 1785.714 = 1428.571; insured 357.143
    np.testing.assert_allclose(split.premium_cap, [1500.0, 3000.0])
    np.testing.assert_allclose(split.capped_premium, [1500.0, technical])
    assert split.cap_binding.tolist() == [True, False]
    np.testing.assert_allclose(split.shortfall, [285.7142857142858, 0.0], atol=1e-9)
    np.testing.assert_allclose(split.subsidy, [1200.0, 1428.5714285714287])
    np.testing.assert_allclose(split.insured_pays, [300.0, 357.14285714285717])


def test_cap_exactly_reached_is_not_binding_and_no_cap_keeps_technical():
    at_cap = pricing.apply_cap_and_subsidy(1500.0, 50_000.0, rate_cap=0.03)
    assert not bool(at_cap.cap_binding) and float(at_cap.shortfall) == 0.0
    uncapped = pricing.apply_cap_and_subsidy([100.0, 2e9], subsidy_share=0.5)
    np.testing.assert_array_equal(uncapped.capped_premium, [100.0, 2e9])
    np.testing.assert_array_equal(uncapped.insured_pays, [50.0, 1e9])
    assert not uncapped.cap_binding.any()


def test_cap_needs_sum_insured():
    with pytest.raises(InputError, match="rate_cap.*sum_insured"):
        pricing.apply_cap_and_subsidy(100.0, rate_cap=0.03)


# ------------------------------------------------------------------------------------- sample loads
SAMPLE = [1.0, 2.0, 3.0, 4.0, 10.0]  # mean 4, squared deviations 9 + 4 + 1 + 0 + 36 = 50
TEN = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 10.0, 4.0, 8.0, 6.0]  # 1..10 shuffled, mean 5.5


def test_std_and_variance_loads_by_hand():
    # var = 50 / (5 - 1) = 12.5
    assert pricing.variance_load(SAMPLE, 2.0) == pytest.approx(25.0, rel=1e-14)
    assert pricing.std_load(SAMPLE, 2.0) == pytest.approx(2.0 * math.sqrt(12.5), rel=1e-14)
    assert pricing.std_load([7.0], 3.0) == 0.0


def test_coc_loads_by_hand():
    # level 0.8: VaR = 8th smallest = 8; TVaR = mean of the top 20% = (9 + 10) / 2 = 9.5
    assert pricing.coc_load(TEN, 0.10, "coc_tvar", 0.8) == pytest.approx(0.10 * (9.5 - 5.5), rel=1e-12)
    assert pricing.coc_load(TEN, 0.10, "coc_var", 0.8) == pytest.approx(0.10 * (8.0 - 5.5), rel=1e-12)
    # level 0.85: VaR = 9th smallest = 9, which carries 0.90 - 0.85 = 0.05 of the tail;
    # TVaR = (0.05 x 9 + 0.1 x 10) / 0.15 = 9.6667
    assert pricing.coc_load(TEN, 0.10, "coc_tvar", 0.85) == pytest.approx(0.10 * (1.45 / 0.15 - 5.5), rel=1e-12)
    assert pricing.coc_load(TEN, 0.10, "coc_var", 0.85) == pytest.approx(0.10 * (9.0 - 5.5), rel=1e-12)


def test_wang_load_is_zero_without_loading():
    x = np.random.default_rng(3).lognormal(5.0, 1.0, 1_000)
    assert pricing.wang_load(x, 0.0) == pytest.approx(0.0, abs=1e-10 * float(np.max(x)))


def test_wang_two_point_laws_by_hand():
    # {0, 100} equally likely: the weight of 100 is g(1/2) - g(0) = Phi(0 + lam)
    assert pricing.wang_premium([100.0, 0.0], 0.5) == pytest.approx(100.0 * _phi(0.5), rel=1e-12)
    assert pricing.wang_load([100.0, 0.0], 0.5) == pytest.approx(100.0 * _phi(0.5) - 50.0, rel=1e-12)
    # P(100) = 1/4 and lam = -Phi^{-1}(1/4) = 0.67449: weight Phi(Phi^{-1}(1/4) + lam) = Phi(0) = 1/2
    lam = 0.6744897501960817
    assert pricing.wang_premium([0.0, 100.0, 0.0, 0.0], lam) == pytest.approx(50.0, rel=1e-12)
    assert pricing.wang_load([0.0, 100.0, 0.0, 0.0], lam) == pytest.approx(25.0, rel=1e-12)


def test_wang_premium_of_a_normal_is_the_shifted_mean():
    # the Wang transform of N(mu, sigma^2) is N(mu + lam sigma, sigma^2). The estimator is an
    # L-statistic with influence function (exp(lam z - lam^2/2) - 1) / lam at the standard score z,
    # so its standard error is sigma sqrt((exp(lam^2) - 1) / lam^2) / sqrt(n)
    mu, sigma, lam, n = 1_000.0, 200.0, 0.5, 200_000
    x = np.random.default_rng(20240611).normal(mu, sigma, n)
    stderr = sigma * math.sqrt((math.exp(lam * lam) - 1.0) / (lam * lam) / n)
    assert pricing.wang_premium(x, lam) == pytest.approx(mu + lam * sigma, abs=4.0 * stderr)
    assert pricing.wang_load(x, lam) == pytest.approx(lam * sigma, abs=4.0 * stderr + 4.0 * sigma / math.sqrt(n))


# ------------------------------------------------------------------------------------- allocation
def test_tail_years_and_weights_by_hand():
    book = np.array(TEN)
    # VaR_0.8 = 8: the years holding 8, 9, 10
    assert allocation.tail_years(book, 0.8).tolist() == [2, 6, 8]
    # level 0.85: 9 and 10 are in the tail; the year at 8 is below VaR = 9
    w = allocation.tail_weights(book, 0.85)
    expected = np.zeros(10)
    expected[6] = 0.1 / 0.15   # 10 is above VaR: 1 / (n (1 - p))
    expected[2] = 0.05 / 0.15  # 9 is the VaR atom: (F(9) - p) / (1 - p)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_ties_at_var_share_the_atom_weight_equally():
    # VaR_0.5 of {1, 2, 2, 2} is 2; F(2) - p = 1/2 is shared by the three years at 2
    w = allocation.tail_weights([2.0, 1.0, 2.0, 2.0], 0.5)
    np.testing.assert_allclose(w, [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-12)


@st.composite
def small_books(draw):
    """Per-policy annual losses on a coarse grid (many ties, exact sums), a duplicated policy and a
    policy that never loses."""
    n = draw(st.integers(2, 40))
    m = draw(st.integers(1, 4))
    cells = st.integers(0, 6).map(lambda k: 0.5 * k)
    losses = np.array(draw(st.lists(st.lists(cells, min_size=m, max_size=m), min_size=n, max_size=n)))
    losses = np.column_stack([losses, losses[:, 0], np.zeros(n)])  # policy m copies policy 0; last is 0
    level = draw(st.sampled_from([0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99]))
    return losses, level


@settings(max_examples=150, deadline=None)
@given(small_books())
def test_co_tvar_allocation_is_the_conditional_tail_mean(case):
    losses, level = case
    book = losses.sum(axis=1)
    m = losses.shape[1]
    years, policies, values = _tail_table(losses, book, level)
    a = allocation.co_tvar_allocation(book, m, years, policies, values, level)

    # each a_i is the weighted tail mean computed on the full per-policy sample
    np.testing.assert_allclose(a, _brute_force_weights(book, level) @ losses, rtol=1e-12, atol=1e-12)
    # the allocations add up to the book's TVaR, both as figures defines it and by the integral
    assert a.sum() == pytest.approx(figures.tvar_equal(np.sort(book), level), rel=1e-12, abs=1e-12)
    assert a.sum() == pytest.approx(_tvar_by_integral(book, level), rel=1e-12, abs=1e-12)
    # identical policies get identical allocations; a policy that never loses gets nothing
    assert a[m - 2] == a[0]
    assert a[m - 1] == 0.0


def test_euler_std_and_variance_allocations_add_up_to_the_book_loads():
    rng = np.random.default_rng(11)
    common = rng.gamma(2.0, 50.0, size=(2_000, 1))
    losses = rng.gamma(0.5, 100.0, size=(2_000, 6)) + common * np.linspace(0.0, 1.0, 6)  # correlated
    book = losses.sum(axis=1)
    total, cross = losses.sum(axis=0), losses.T @ book
    k = 0.3
    std_loads = allocation.std_load_allocation(book, total, cross, k)
    var_loads = allocation.variance_load_allocation(book, total, cross, k)
    assert std_loads.sum() == pytest.approx(k * np.std(book, ddof=1), rel=1e-10)
    assert var_loads.sum() == pytest.approx(k * np.var(book, ddof=1), rel=1e-10)
    # each is k Cov(X_i, S) (/ sd(S)) on the full per-policy sample
    cov = np.array([np.cov(losses[:, i], book)[0, 1] for i in range(6)])
    np.testing.assert_allclose(var_loads, k * cov, rtol=1e-9)
    np.testing.assert_allclose(std_loads, k * cov / np.std(book, ddof=1), rtol=1e-9)


def test_diversification_benefit_by_hand():
    d = allocation.diversification_benefit([100.0, 50.0], [70.0, 20.0])
    np.testing.assert_array_equal(d.per_policy, [30.0, 30.0])
    assert d.total == 60.0 and d.ratio == pytest.approx(0.4)
    assert math.isnan(allocation.diversification_benefit([0.0], [0.0]).ratio)


# ------------------------------------------------------------------------------------- price table
@pytest.fixture(scope="module")
def simulated_book():
    rng = np.random.default_rng(7)
    n, m = 4_000, 8
    shock = rng.binomial(1, 0.02, size=(n, 1)) * rng.gamma(1.0, 400.0, size=(n, 1))
    losses = rng.binomial(1, 0.1, size=(n, m)) * rng.lognormal(3.0, 1.2, size=(n, m)) + shock * np.linspace(0, 1, m)
    losses[:, 3] = 0.0
    return losses


def _price(losses, basis, **kwargs):
    book = losses.sum(axis=1)
    years, policies, values = _tail_table(losses, book, basis.level)
    return pricing.price_book(book, losses.sum(axis=0), (losses ** 2).sum(axis=0), years, policies, values, basis,
                              policy_cross=losses.T @ book, **kwargs)


@pytest.mark.parametrize("measure, load", [("std", 0.4), ("variance", 1e-3), ("coc_tvar", 0.1), ("coc_var", 0.1),
                                           ("wang", 0.3), ("none", 0.0)])
def test_price_book_loads_add_up_to_the_book_load(simulated_book, measure, load):
    basis = PricingBasis(measure, load=load, fixed_expense=5.0, variable_expense=0.2, profit=0.05)
    table = _price(simulated_book, basis)
    book = simulated_book.sum(axis=1)
    summary = pricing.book_figures(book, basis, n_policies=simulated_book.shape[1]).iloc[0]
    assert table["risk_load"].sum() == pytest.approx(summary["risk_load"], rel=1e-9, abs=1e-9)
    assert table["allocated_capital"].sum() == pytest.approx(summary["capital"], rel=1e-9)
    assert table["technical_premium"].sum() == pytest.approx(summary["technical_premium"], rel=1e-9)
    assert table.loc[3, "risk_load"] == 0.0 and table.loc[3, "allocated_capital"] == 0.0


def test_price_book_components_and_stderr(simulated_book):
    basis = PricingBasis("coc_tvar", load=0.1, fixed_expense=5.0, variable_expense=0.2, profit=0.05,
                         rate_cap=0.03, subsidy_share=0.8)
    m = simulated_book.shape[1]
    insured = np.full(m, 2_000.0)
    table = _price(simulated_book, basis, sum_insured=insured, policy_id=[f"P{i}" for i in range(m)])
    n = simulated_book.shape[0]
    np.testing.assert_allclose(table["expected_loss"], simulated_book.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["expected_loss_stderr"], simulated_book.std(axis=0, ddof=1) / math.sqrt(n),
                               rtol=1e-9)
    parts = table[["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit"]].sum(axis=1)
    np.testing.assert_allclose(parts, table["technical_premium"], rtol=1e-12)
    np.testing.assert_allclose(table["capped_premium"], np.minimum(table["technical_premium"], 60.0))
    np.testing.assert_allclose(table["subsidy"] + table["insured_pays"], table["capped_premium"])
    np.testing.assert_allclose(table["insured_pays"], 0.2 * table["capped_premium"])
    assert table["cap_binding"].any() and not table["cap_binding"].all()  # the fixture straddles the cap
    assert table["policy_id"].tolist()[:2] == ["P0", "P1"]


def test_price_book_rejects_inconsistent_inputs(simulated_book):
    book = simulated_book.sum(axis=1)
    basis = PricingBasis("coc_tvar")
    years, policies, values = _tail_table(simulated_book, book, basis.level)
    sums, sumsq = simulated_book.sum(axis=0), (simulated_book ** 2).sum(axis=0)
    with pytest.raises(InputError, match="tail year .* policy losses sum to"):
        pricing.price_book(book, sums, sumsq, years[1:], policies[1:], values[1:], basis)
    with pytest.raises(InputError, match="policy_sum sums to"):
        pricing.price_book(book, sums * 1.01, sumsq, years, policies, values, basis)
    with pytest.raises(InputError, match="'std' needs policy_cross"):
        pricing.price_book(book, sums, sumsq, years, policies, values, PricingBasis("std", load=0.5))
    with pytest.raises(InputError, match="rate_cap.*needs sum_insured"):
        pricing.price_book(book, sums, sumsq, years, policies, values, PricingBasis(rate_cap=0.03))


# ------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, field", [
    ({"variable_expense": 0.6, "profit": 0.4}, r"variable_expense \+ profit must be < 1.*0\.6 \+ 0\.4"),
    ({"fixed_expense": -10.0}, r"fixed_expense must be in \[0, inf\], got -10\.0"),
    ({"subsidy_share": 1.5}, r"subsidy_share must be in \[0, 1\], got 1\.5"),
    ({"risk_measure": "tvar"}, r"risk_measure must be one of .*'coc_tvar'.*got 'tvar'"),
    ({"risk_measure": "coc_tvar", "load": 10.0}, r"load must be in \[0, 1\], got 10\.0"),
    ({"level": 1.0}, r"level must be in \(0, 1\), got 1\.0"),
    ({"rate_cap": 0.0}, r"rate_cap must be in \(0, inf\], got 0\.0"),
    ({"profit": 1.0}, r"profit must be in \[0, 1\), got 1\.0"),
])
def test_basis_validation_names_the_field_and_value(kwargs, field):
    with pytest.raises(InputError, match=f"PricingBasis: {field}"):
        PricingBasis(**kwargs)


def test_basis_default_levels():
    assert PricingBasis("coc_tvar").level == 0.99
    assert PricingBasis("coc_var").level == 0.995
    assert PricingBasis("wang", load=0.2, level=0.9).level == 0.9


def test_function_validation():
    with pytest.raises(InputError, match=r"technical_premium: variable_expense \+ profit must be < 1"):
        pricing.technical_premium(1.0, 0.0, 0.0, 0.7, 0.3)
    with pytest.raises(InputError, match=r"technical_premium: fixed_expense must be >= 0, got -1\.0"):
        pricing.technical_premium(1.0, 0.0, -1.0)
    with pytest.raises(InputError, match=r"subsidy_share must be in \[0, 1\], got 1\.5"):
        pricing.apply_cap_and_subsidy(1.0, subsidy_share=1.5)
    with pytest.raises(InputError, match=r"wang_premium: lam must be in \[0, inf\], got -0\.1"):
        pricing.wang_load([1.0, 2.0], -0.1)
    with pytest.raises(InputError, match=r"coc_load: measure must be one of 'coc_tvar', 'coc_var', got 'var'"):
        pricing.coc_load([1.0, 2.0], 0.1, "var")
    with pytest.raises(InputError, match=r"tail_policy\[0\] must be in \[0, 1\], got 2"):
        allocation.co_tvar_allocation([1.0, 2.0], 2, [1], [2], [2.0], 0.5)


def test_docstring_examples_run():
    assert doctest.testmod(pricing, optionflags=doctest.ELLIPSIS).failed == 0


def test_proportional_allocation_one_rule_for_policies_and_members():
    """The rule pricing (Euler capitals as keys, which may be negative) and the pool (shares,
    standalone capitals) share: the whole total in proportion to the keys."""
    shares = allocation.proportional_allocation(90.0, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(shares, [45.0, 27.0, 18.0], rtol=1e-15)
    signed = allocation.proportional_allocation(10.0, [3.0, -1.0, 2.0])  # a hedge takes a negative part
    np.testing.assert_allclose(signed, [7.5, -2.5, 5.0], rtol=1e-15)
    assert signed.sum() == pytest.approx(10.0, rel=1e-15)
    assert allocation.proportional_allocation(0.0, [1.0, -1.0]).tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match="keys sum to 0"):
        allocation.proportional_allocation(5.0, [1.0, -1.0])
    with pytest.raises(InputError, match=r"keys\[1\] must be finite"):
        allocation.proportional_allocation(5.0, [1.0, np.nan])


def test_one_premium_path_for_book_catalogue_and_quote():
    """``premium_components`` is the second half of every pricing: the book's ``price_book`` gives
    the same premium columns as the components on its own expected losses and loads."""
    rng = np.random.default_rng(3)
    years, m = 400, 5
    losses = rng.gamma(1.5, 1e4, (m, years))
    book = losses.sum(axis=0)
    basis = PricingBasis("coc_tvar", load=0.1, level=0.95, fixed_expense=50.0, variable_expense=0.2, profit=0.05,
                         rate_cap=0.04, subsidy_share=0.5)
    tail = allocation.tail_years(book, basis.level)
    y, p = np.meshgrid(tail, np.arange(m), indexing="ij")
    insured = np.full(m, 4e5)
    table = pricing.price_book(book, losses.sum(axis=1), (losses ** 2).sum(axis=1), y.ravel(), p.ravel(),
                               losses[p.ravel(), y.ravel()], basis, sum_insured=insured)
    parts = pricing.premium_components(table.expected_loss.to_numpy(), table.risk_load.to_numpy(), basis,
                                       cap_base=insured)
    for name, values in parts.items():
        np.testing.assert_array_equal(table[name].to_numpy(), values, err_msg=name)
    # by hand for the first policy: (E + load + fixed) / (1 - v - q), capped at 4% of 400,000
    e, load = float(table.expected_loss[0]), float(table.risk_load[0])
    technical = (e + load + 50.0) / (1.0 - 0.2 - 0.05)
    assert parts["technical_premium"][0] == pytest.approx(technical, rel=1e-15)
    assert parts["capped_premium"][0] == pytest.approx(min(technical, 16_000.0), rel=1e-15)
    assert parts["subsidy"][0] == pytest.approx(0.5 * min(technical, 16_000.0), rel=1e-15)
