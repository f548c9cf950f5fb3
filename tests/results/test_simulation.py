"""Monte Carlo results (``techins.results.simulation``) and the figure conventions they share
(``techins.results.figures``), against numpy on the same annual array, hand-computed small arrays, an
independent integral of the empirical quantile function, scipy's exact binomial interval and seeded
repeated sampling for the intervals' coverage."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy import stats

import techins as ti
from techins.errors import InputError
from techins.results import figures
from techins.results.simulation import BookResult, SimulationResult

# ------------------------------------------------------------------------------ independent references


def quantile_ref(x, p):
    """``inf{x : F_n(x) >= p}``: numpy's ``inverted_cdf`` method (Hyndman & Fan 1996, definition 1)."""
    return float(np.quantile(np.asarray(x, dtype=float), p, method="inverted_cdf"))


def tvar_ref(x, p):
    """``1/(1-p) int_p^1 Q(u) du`` with ``Q(u) = x_(k)`` on ``((k-1)/n, k/n]``: the integral of the step
    function summed piece by piece (no VaR, no atom correction)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    k = np.arange(1, n + 1)
    width = np.clip(k / n - np.maximum((k - 1) / n, p), 0.0, None)
    return float(np.sum(width * x) / (1.0 - p))


def from_array(annual, max_occurrence=None, seed=0):
    annual = np.asarray(annual, dtype=float)
    occ = annual if max_occurrence is None else np.asarray(max_occurrence, dtype=float)
    return SimulationResult(annual=annual, max_occurrence=occ, counts=None, seed=seed, line=None)


# ------------------------------------------------------------------------------ figures.py by hand
TEN = np.arange(1.0, 11.0)  # 1, 2, ..., 10
TIES = np.array([0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0, 5.0, 100.0, 100.0])


@pytest.mark.parametrize("x, p, expected", [
    (TEN, 0.0, 1.0), (TEN, 0.05, 1.0), (TEN, 0.1, 1.0), (TEN, 0.11, 2.0), (TEN, 0.9, 9.0), (TEN, 0.91, 10.0),
    (TEN, 0.95, 10.0), (TEN, 1.0, 10.0),
    (TIES, 0.3, 0.0), (TIES, 0.31, 5.0), (TIES, 0.8, 5.0), (TIES, 0.8000001, 100.0), (TIES, 0.99, 100.0),
])
def test_quantile_equal_by_hand(x, p, expected):
    assert figures.quantile_equal(x, p) == expected
    assert quantile_ref(x, p) == expected


@pytest.mark.parametrize("x, p, expected", [
    (TEN, 0.9, 10.0),                     # the top value alone
    (TEN, 0.85, (0.05 * 9 + 0.1 * 10) / 0.15),  # half of the 9th value's step and the 10th
    (TEN, 0.0, 5.5),                      # the mean
    (TEN, 0.5, (6 + 7 + 8 + 9 + 10) / 5),
    (TIES, 0.75, (0.05 * 5 + 0.2 * 100) / 0.25),  # part of the atom at 5, then the atom at 100
    (TIES, 0.8, 100.0),
    (TIES, 0.95, 100.0),
])
def test_tvar_equal_by_hand(x, p, expected):
    assert figures.tvar_equal(x, p) == pytest.approx(expected, rel=1e-14)
    assert tvar_ref(x, p) == pytest.approx(expected, rel=1e-14)


def test_sorted_law_by_hand():
    """Support {1, 2, 5} with probabilities {0.2, 0.3, 0.5}."""
    values, probs = np.array([1.0, 2.0, 5.0]), np.array([0.2, 0.3, 0.5])
    cum = np.cumsum(probs)
    for p, q in [(0.0, 1.0), (0.2, 1.0), (0.21, 2.0), (0.5, 2.0), (0.51, 5.0), (1.0, 5.0)]:
        assert figures.quantile_sorted(values, cum, p) == q
    # int_0.4^1 Q = 0.1 x 2 + 0.5 x 5 = 2.7
    assert figures.tvar_sorted(values, probs, cum, 0.4) == pytest.approx(2.7 / 0.6, rel=1e-14)
    assert figures.tvar_sorted(values, probs, cum, 0.0) == pytest.approx(0.2 + 0.6 + 2.5, rel=1e-14)
    assert figures.tvar_sorted(values, probs, cum, 1.0) == 5.0
    for x, prob in [(-1.0, 1.0), (0.0, 1.0), (1.5, 0.8), (2.0, 0.5), (4.999, 0.5), (5.0, 0.0), (9.0, 0.0)]:
        assert figures.prob_exceed_sorted(values, probs, x) == pytest.approx(prob, abs=1e-15)


def test_the_atom_at_level_k_over_n_is_not_passed_by_rounding():
    """``inf{x : k/n >= p}`` at ``p = k/n`` computed in floats is the k-th value, for every k and n."""
    for n in (1, 2, 3, 7, 10, 99, 100, 300, 1000):
        x = np.arange(n, dtype=float)
        for k in range(1, n + 1):
            assert figures.quantile_equal(x, k / n) == k - 1
    cum = np.cumsum(np.full(100, 0.01))  # a long cumulative sum: 0.99 may land a hair off
    assert figures.quantile_sorted(np.arange(100.0), cum, 0.99) == 98.0


def test_equal_weights_are_the_sorted_law_with_probabilities_one_over_n():
    rng = np.random.default_rng(5)
    x = np.sort(np.round(rng.lognormal(0.0, 1.0, 257), 1))  # with ties
    probs = np.full(x.size, 1.0 / x.size)
    cum = np.cumsum(probs)
    for p in (0.0, 0.3, 0.5, 0.9, 0.99, 0.999):
        assert figures.quantile_sorted(x, cum, p) == figures.quantile_equal(x, p)
        assert figures.tvar_sorted(x, probs, cum, p) == pytest.approx(figures.tvar_equal(x, p), rel=1e-12)


@settings(deadline=None, max_examples=200)
@given(values=st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0, 1e3]) | st.floats(0.0, 1e6), min_size=1, max_size=60),
       p=st.floats(0.0, 1.0, exclude_max=True))
def test_quantile_and_tvar_against_the_references(values, p):
    x = np.sort(np.array(values))
    n = x.size
    # away from k/n, where the rounding slack of the library (a documented choice) may differ from numpy's
    assume(abs(n * p - round(n * p)) > 1e-9)
    assert figures.quantile_equal(x, p) == quantile_ref(x, p)
    tvar = figures.tvar_equal(x, p)
    assert tvar == pytest.approx(tvar_ref(x, p), rel=1e-10, abs=1e-9)
    assert figures.quantile_equal(x, p) <= tvar <= x[-1]


def test_level_key_check_level_and_sample_variance():
    assert [figures.level_key(p) for p in (0.99, 0.995, 0.9, 0.5, 1.0)] == ["99", "995", "9", "5", "1"]
    assert figures.check_level("q", 0.5) == 0.5 and figures.check_level("q", 1) == 1.0
    with pytest.raises(InputError, match=r"tvar: p must be in \[0, 1\), got 1.0"):
        figures.check_level("tvar", 1.0, upper_open=True)
    with pytest.raises(InputError, match=r"q: p must be in \[0, 1\], got -0.1"):
        figures.check_level("q", -0.1)
    assert figures.sample_variance(np.array([1.0, 2.0, 4.0])) == pytest.approx(7.0 / 3.0, rel=1e-15)
    assert figures.sample_variance(np.array([3.0])) == 0.0


# ------------------------------------------------------------------------------ SimulationResult
@pytest.fixture(scope="module")
def sim():
    line = ti.Line(ti.Poisson(3.0), ti.Exponential(1000.0), occurrence=ti.Layer(limit=5000.0, deductible=200.0))
    return ti.simulate(line, years=3000, seed=11)


def test_figures_against_numpy_on_the_same_array(sim):
    x = sim.annual
    n = x.size
    assert sim.years == n == 3000
    assert sim.mean() == pytest.approx(np.mean(x), rel=1e-14)
    assert sim.var() == pytest.approx(np.var(x, ddof=1), rel=1e-13)
    assert sim.std() == pytest.approx(np.std(x, ddof=1), rel=1e-13)
    for p in (0.0, 0.5, 0.9, 0.99, 0.995, 1.0):
        assert sim.quantile(p) == quantile_ref(x, p)
        assert sim.oep_quantile(p) == quantile_ref(sim.max_occurrence, p)
    for p in (0.0, 0.5, 0.9, 0.99, 0.995):
        assert sim.tvar(p) == pytest.approx(tvar_ref(x, p), rel=1e-12)
    assert sim.tvar(0.0) == pytest.approx(np.mean(x), rel=1e-12)
    for threshold in (0.0, 1000.0, sim.quantile(0.9), 2e4, np.inf):
        assert sim.prob_exceed(threshold) == np.mean(x > threshold)


def test_simulated_line_is_consistent(sim):
    # each year's aggregate is at least its largest occurrence (no aggregate terms), at most 5000 per claim
    assert (sim.annual >= sim.max_occurrence - 1e-9).all()
    assert (sim.annual <= 5000.0 * sim.counts + 1e-9).all()
    assert (sim.max_occurrence <= 5000.0).all()
    # the sample mean within 4 standard errors of the closed form
    assert abs(sim.mean() - sim.line.expected_loss()) < 4.0 * sim.stderr("mean")


def test_standard_errors_by_their_formulas(sim):
    x, n = sim.annual, sim.years
    s = np.std(x, ddof=1)
    assert sim.stderr("mean") == pytest.approx(s / math.sqrt(n), rel=1e-13)
    m4 = np.mean((x - x.mean()) ** 4)
    assert sim.stderr("std") == pytest.approx(math.sqrt((m4 - s ** 4) / (4.0 * s * s * n)), rel=1e-10)
    for threshold in (500.0, 5000.0):
        prob = np.mean(x > threshold)
        assert sim.stderr("prob_exceed", threshold) == pytest.approx(math.sqrt(prob * (1 - prob) / n), rel=1e-13)
    lo, hi = sim.ci("quantile", 0.99)
    assert sim.stderr("quantile", 0.99) == pytest.approx((hi - lo) / (2 * stats.norm.ppf(0.975)), rel=1e-13)
    # Manistre & Hancock (2005): (Var[X | X > q] + p (TVaR - q)^2) / (n (1 - p))
    q, tv = sim.quantile(0.99), sim.tvar(0.99)
    tail = x[x > q]
    expected = math.sqrt((np.var(tail) + 0.99 * (tv - q) ** 2) / (n * 0.01))
    assert sim.stderr("tvar", 0.99) == pytest.approx(expected, rel=1e-10)


def test_symmetric_intervals_are_the_figure_plus_minus_z_stderr(sim):
    z = stats.norm.ppf(0.95)
    for figure, arg, value in (("mean", None, sim.mean()), ("std", None, sim.std()), ("tvar", 0.99, sim.tvar(0.99))):
        lo, hi = sim.ci(figure, arg, level=0.9)
        half = z * sim.stderr(figure, arg)
        assert (lo, hi) == pytest.approx((value - half, value + half), rel=1e-13)


def test_quantile_interval_is_order_statistics_of_binomial_ranks(sim):
    """``[x_(l), x_(u)]``, ``l = Bin(n, p)`` quantile at 2.5%, ``u`` one above the 97.5% quantile."""
    x = np.sort(sim.annual)
    n = x.size
    lo_rank = int(stats.binom(n, 0.99).ppf(0.025))
    hi_rank = int(stats.binom(n, 0.99).ppf(0.975)) + 1
    assert sim.ci("quantile", 0.99) == (x[lo_rank - 1], x[hi_rank - 1])
    lo, hi = sim.ci("quantile", 0.99)
    assert lo <= sim.quantile(0.99) <= hi


@pytest.mark.parametrize("k, n", [(0, 50), (1, 50), (7, 50), (49, 50), (50, 50), (13, 1000)])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_clopper_pearson_interval_against_scipy(k, n, level):
    x = np.concatenate([np.zeros(n - k), np.ones(k)])
    lo, hi = from_array(x).ci("prob_exceed", 0.5, level=level)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    assert lo == pytest.approx(ref.low, rel=1e-9, abs=1e-15)
    assert hi == pytest.approx(ref.high, rel=1e-9, abs=1e-15)
    # the definition: Beta quantiles, with [0, .] at k = 0 and [., 1] at k = n
    alpha = 1.0 - level
    assert lo == (0.0 if k == 0 else pytest.approx(stats.beta.ppf(alpha / 2, k, n - k + 1), rel=1e-12))
    assert hi == (1.0 if k == n else pytest.approx(stats.beta.ppf(1 - alpha / 2, k + 1, n - k), rel=1e-12))


GAMMA = stats.gamma(4.0)  # mean 4, standard deviation 2
TRUE = {"mean": 4.0, "std": 2.0, "quantile": float(GAMMA.ppf(0.9)),
        "tvar": float(GAMMA.expect(lambda v: v, lb=GAMMA.ppf(0.9)) / 0.1), "prob_exceed": float(GAMMA.sf(6.0))}
ARGS = {"mean": None, "std": None, "quantile": 0.9, "tvar": 0.9, "prob_exceed": 6.0}


def test_interval_coverage_by_repeated_sampling():
    """400 seeded samples of 500 years from a gamma law: the share of 95% intervals holding the true
    figure is 95% within 4 binomial standard errors (sqrt(0.95 x 0.05 / 400) = 1.1%); the
    distribution-free quantile and Clopper-Pearson intervals are conservative (at least 95%)."""
    rng = np.random.default_rng(2024)
    reps, n = 400, 500
    hits = dict.fromkeys(TRUE, 0)
    for _ in range(reps):
        result = from_array(rng.gamma(4.0, 1.0, n))
        for figure, truth in TRUE.items():
            lo, hi = result.ci(figure, ARGS[figure])
            hits[figure] += lo <= truth <= hi
    tol = 4.0 * math.sqrt(0.95 * 0.05 / reps)
    coverage = {figure: count / reps for figure, count in hits.items()}
    for figure in ("mean", "std", "tvar"):
        assert abs(coverage[figure] - 0.95) < tol, coverage
    for figure in ("quantile", "prob_exceed"):
        assert coverage[figure] > 0.95 - tol, coverage


def test_ep_curve_against_numpy(sim):
    curve = sim.ep_curve()
    assert list(curve.columns) == ["return_period", "exceedance_prob", "aep", "aep_tvar", "oep", "oep_tvar",
                                   "aep_low", "aep_high", "oep_low", "oep_high"]
    # the default return periods up to the 3000 simulated years
    assert curve["return_period"].tolist() == [t for t in figures.DEFAULT_RETURN_PERIODS if t <= 3000]
    for row in curve.itertuples():
        p = 1.0 - 1.0 / row.return_period
        assert row.exceedance_prob == 1.0 / row.return_period
        assert row.aep == quantile_ref(sim.annual, p)
        assert row.oep == quantile_ref(sim.max_occurrence, p)
        assert row.aep_tvar == pytest.approx(tvar_ref(sim.annual, p), rel=1e-12)
        assert row.oep_tvar == pytest.approx(tvar_ref(sim.max_occurrence, p), rel=1e-12)
        assert (row.aep_low, row.aep_high) == sim.ci("quantile", p)
        assert row.aep_low <= row.aep <= row.aep_high and row.oep_low <= row.oep <= row.oep_high
    for column in ("aep", "aep_tvar", "oep", "oep_tvar"):
        assert curve[column].is_monotonic_increasing
    assert (curve["aep"] >= curve["oep"]).all() and (curve["aep_tvar"] >= curve["aep"]).all()
    short = sim.ep_curve([2, 10, 5000], level=0.9)
    assert short["return_period"].tolist() == [2.0, 10.0]  # 5000 > 3000 years is dropped
    assert (short.loc[1, "aep_low"], short.loc[1, "aep_high"]) == sim.ci("quantile", 0.9, level=0.9)


def test_summary_is_the_figures_as_plain_floats(sim):
    out = sim.summary()
    assert out == {
        "method": "monte_carlo", "years": 3000, "seed": 11, "counted_above": sim.counted_above,
        "mean": sim.mean(), "mean_stderr": sim.stderr("mean"), "std": sim.std(), "std_stderr": sim.stderr("std"),
        "quantile_99": sim.quantile(0.99), "quantile_99_stderr": sim.stderr("quantile", 0.99),
        "tvar_99": sim.tvar(0.99), "tvar_99_stderr": sim.stderr("tvar", 0.99),
        "quantile_995": sim.quantile(0.995), "quantile_995_stderr": sim.stderr("quantile", 0.995),
        "tvar_995": sim.tvar(0.995), "tvar_995_stderr": sim.stderr("tvar", 0.995),
    }
    assert json.loads(json.dumps(out)) == out
    assert set(sim.summary(levels=(0.9,))) >= {"quantile_9", "tvar_9_stderr"}


def test_one_year_and_constant_samples():
    one = from_array([7.0])
    assert one.var() == 0.0 and one.std() == 0.0 and one.stderr("std") == 0.0
    assert one.quantile(0.5) == one.tvar(0.5) == 7.0
    flat = from_array(np.full(100, 3.0))
    assert flat.stderr("mean") == 0.0 and flat.stderr("std") == 0.0 and flat.ci("mean") == (3.0, 3.0)
    assert flat.tvar(0.99) == 3.0 and flat.prob_exceed(3.0) == 0.0 and flat.prob_exceed(2.9) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda r: r.quantile(1.5), r"quantile: p must be in \[0, 1\], got 1.5"),
    (lambda r: r.quantile(math.nan), "quantile: p must be a number, got NaN"),
    (lambda r: r.tvar(1.0), r"tvar: p must be in \[0, 1\), got 1.0"),
    (lambda r: r.oep_quantile(-0.5), r"oep_quantile: p must be in \[0, 1\]"),
    (lambda r: r.prob_exceed(math.nan), "prob_exceed: x must be a number, got NaN"),
    (lambda r: r.stderr("median"), r"stderr: figure must be one of \('mean', 'std', 'quantile', 'tvar', "
                                    r"'prob_exceed'\), got 'median'"),
    (lambda r: r.stderr("quantile"), "stderr: figure 'quantile' needs the level p"),
    (lambda r: r.stderr("prob_exceed"), "stderr: figure 'prob_exceed' needs the threshold x"),
    (lambda r: r.ci("mean", level=1.0), r"ci: level must be in \(0, 1\), got 1.0"),
    (lambda r: r.ci("var"), "ci: figure must be one of"),
    (lambda r: r.ep_curve([1.0]), r"ep_curve: return_period must be in \(1, inf\], got 1.0"),
])
def test_bad_arguments(call, message):
    with pytest.raises(InputError, match=message):
        call(from_array(np.arange(20.0)))


# ------------------------------------------------------------------------------ BookResult
@pytest.fixture(scope="module")
def book_result():
    """Policies p0, p1 alone on lines a and b (one contract C1), p2 and p3 on line c (contracts C2, C3)."""
    table = pd.DataFrame({
        "policy_id": ["p0", "p1", "p2", "p3"], "line": ["a", "b", "c", "c"], "claim_rate": [0.5, 1.0, 0.3, 0.2],
        "severity": ["s", "t", "s", "t"], "deductible": [0.0, 100.0, 0.0, 50.0], "limit": [5e3, 1e4, np.inf, 2e3],
        "contract_id": ["C1", "C1", "C2", "C3"],
    })
    book = ti.Portfolio(table, {"s": ti.Exponential(1000.0), "t": ti.Gamma(2.0, 800.0)})
    return ti.simulate(book, years=4000, seed=3)


def test_book_result_lines_add_up_to_the_book(book_result):
    r = book_result
    assert isinstance(r, BookResult) and r.portfolio.line_names == ("a", "b", "c")
    assert r.line_annual.shape == (3, 4000)
    np.testing.assert_allclose(r.line_annual.sum(axis=0), r.annual, rtol=1e-12, atol=1e-9)
    for i, name in enumerate(r.portfolio.line_names):
        line = r.line_result(name)
        np.testing.assert_array_equal(line.annual, r.line_annual[i])
        assert line.mean() == pytest.approx(np.mean(r.line_annual[i]), rel=1e-14)
        assert line.tvar(0.99) == pytest.approx(tvar_ref(r.line_annual[i], 0.99), rel=1e-12)
    table = r.line_table(0.99)
    assert list(table.columns) == ["line", "expected_loss", "expected_loss_stderr", "std", "tvar_99",
                                   "tvar_99_stderr"]
    for i, row in enumerate(table.itertuples()):
        x = r.line_annual[i]
        assert row.expected_loss == pytest.approx(x.mean(), rel=1e-14)
        assert row.std == pytest.approx(np.std(x, ddof=1), rel=1e-12)
        assert row.expected_loss_stderr == pytest.approx(np.std(x, ddof=1) / math.sqrt(x.size), rel=1e-12)
    assert table["expected_loss"].sum() == pytest.approx(r.mean(), rel=1e-12)


def test_policy_table_against_numpy_on_the_lines_of_one_policy(book_result):
    r = book_result
    table = r.policy_table()
    assert list(table.columns) == ["policy_id", "line", "expected_loss", "expected_loss_stderr", "std", "cov_with_book"]
    assert table["policy_id"].tolist() == ["p0", "p1", "p2", "p3"] and table["line"].tolist() == ["a", "b", "c", "c"]
    for i in (0, 1):  # alone on their line: the line's annual loss is the policy's
        x = r.line_annual[i]
        row = table.iloc[i]
        assert row["expected_loss"] == pytest.approx(x.mean(), rel=1e-12)
        assert row["std"] == pytest.approx(np.std(x, ddof=1), rel=1e-9)
        assert row["expected_loss_stderr"] == pytest.approx(np.std(x, ddof=1) / math.sqrt(x.size), rel=1e-9)
        assert row["cov_with_book"] == pytest.approx(np.cov(x, r.annual)[0, 1], rel=1e-9)
    both = table.iloc[2:]
    assert both["expected_loss"].sum() == pytest.approx(r.line_annual[2].mean(), rel=1e-12)
    assert both["cov_with_book"].sum() == pytest.approx(np.cov(r.line_annual[2], r.annual)[0, 1], rel=1e-9)
    # the book's mean and variance are the sums of the policies' means and covariances with it
    assert table["expected_loss"].sum() == pytest.approx(r.mean(), rel=1e-12)
    assert table["cov_with_book"].sum() == pytest.approx(r.var(), rel=1e-9)


def test_contract_table_against_numpy(book_result):
    r = book_result
    table = r.contract_table()
    assert table["contract_id"].tolist() == ["C1", "C2", "C3"]
    c1 = r.line_annual[0] + r.line_annual[1]
    row = table.iloc[0]
    assert row["expected_loss"] == pytest.approx(c1.mean(), rel=1e-12)
    assert row["std"] == pytest.approx(np.std(c1, ddof=1), rel=1e-9)
    assert row["expected_loss_stderr"] == pytest.approx(np.std(c1, ddof=1) / math.sqrt(c1.size), rel=1e-9)
    assert row["cov_with_book"] == pytest.approx(np.cov(c1, r.annual)[0, 1], rel=1e-9)
    policies = r.policy_table()
    # a one-row contract is its policy
    for contract, policy in ((1, 2), (2, 3)):
        for column in ("expected_loss", "expected_loss_stderr", "std", "cov_with_book"):
            assert table.iloc[contract][column] == pytest.approx(policies.iloc[policy][column], rel=1e-12)
    assert table["expected_loss"].sum() == pytest.approx(r.mean(), rel=1e-12)
    assert table["cov_with_book"].sum() == pytest.approx(r.var(), rel=1e-9)


def test_book_result_bad_requests(book_result):
    with pytest.raises(InputError, match=r"line_result: no line 'd'; the book has \['a', 'b', 'c'\]"):
        book_result.line_result("d")
    no_contracts = BookResult(annual=book_result.annual, max_occurrence=book_result.max_occurrence,
                              counts=book_result.counts, seed=3, line=book_result.portfolio,
                              line_annual=book_result.line_annual, policy_sum=book_result.policy_sum,
                              policy_sumsq=book_result.policy_sumsq, policy_cross=book_result.policy_cross,
                              contract_sumsq=None)
    with pytest.raises(InputError, match="contract_table: the book has no contract_id column"):
        no_contracts.contract_table()
