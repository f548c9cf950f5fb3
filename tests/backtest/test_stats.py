"""Back-testing statistics against scipy, published tables and worked examples, and closed forms.

Sources
-------
[GEH]  N. Gehrels (1986), "Confidence limits for small numbers of events in astrophysical data",
       The Astrophysical Journal 303, 336-346, Table 1 (upper limits) and Table 2 (lower limits), column
       CL = 0.975: the one-sided limits that make the two-sided 95 % Garwood interval.
[JOR]  P. Jorion, *Value at Risk: The New Benchmark for Managing Financial Risk*, 3rd ed., McGraw-Hill
       2007, ch. 6 "Backtesting VAR", table "Model backtesting, 95 % nonrejection test confidence
       regions" (Kupiec's non-rejection regions for the number of failures N; Kupiec 1995, Journal of
       Derivatives 3(2), 73-84, Table 1).
[MW]   MathWorks Risk Management Toolbox, ``varbacktest.pof`` reference page, first example: VaR level
       0.95, 1043 observations, 57 failures -> LRatioPOF 0.46147, PValuePOF 0.49694,
       https://www.mathworks.com/help/risk/varbacktest.pof.html.
[SR]   R package scoringRules (Jordan, Krüger & Lerch), ``tests/testthat/test-crps_norm.R``:
       ``crps_norm(-3) = 2.43657473`` for the standard normal,
       https://rdrr.io/cran/scoringRules/src/tests/testthat/test-crps_norm.R.
[GR]   T. Gneiting & A. E. Raftery (2007), "Strictly proper scoring rules, prediction, and estimation",
       JASA 102, 359-378; the CRPS of N(mu, sigma^2) is
       sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)], z = (y - mu) / sigma (Gneiting, Raftery,
       Westveld & Goldman 2005, Monthly Weather Review 133, 1098-1118).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

from techins.backtest import stats as stats_module
from techins.backtest.stats import (
    AvsE,
    actual_vs_expected,
    count_prediction_interval,
    count_tail_probability,
    crps_from_quantiles,
    crps_from_sample,
    kupiec_pof,
    pit_from_quantiles,
    pit_uniformity,
    poisson_rate_interval,
)
from techins.errors import InputError, InputTypeError


def _printed(value, published, last_digit):
    return abs(value - published) <= 0.5 * last_digit * (1 + 1e-9)


def _crps_normal(y, mu, sigma):
    z = (np.asarray(y, dtype=float) - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


# ------------------------------------------------------------------------------ Garwood intervals

def test_garwood_matches_the_chi_square_formula():
    k = np.arange(0, 60)
    for level in (0.8, 0.9, 0.95, 0.99):
        alpha = 1 - level
        lower, upper = poisson_rate_interval(k, level)
        np.testing.assert_allclose(lower[1:], stats.chi2.ppf(alpha / 2, 2 * k[1:]) / 2, rtol=1e-12)
        np.testing.assert_allclose(upper, stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2, rtol=1e-12)
        assert lower[0] == 0.0


def test_garwood_matches_gehrels_table():
    # [GEH] CL = 0.975, n = 0..5 and 10
    lower, upper = poisson_rate_interval([0, 1, 2, 3, 4, 5, 10])
    for value, published in zip(upper, [3.689, 5.572, 7.225, 8.767, 10.242, 11.668, 18.390]):
        assert _printed(value, published, 1e-3)
    for value, published, digit in zip(lower[1:], [0.0253, 0.242, 0.619, 1.090, 1.623, 4.795],
                                       [1e-4, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3]):
        assert _printed(value, published, digit)
    assert lower[0] == 0.0


def test_garwood_scalars_and_coverage():
    lo, hi = poisson_rate_interval(0)
    assert isinstance(lo, float) and lo == 0.0 and _printed(hi, 3.689, 1e-3)
    # exact coverage: P(L(K) <= mu <= U(K)) >= level for K ~ Poisson(mu), by summing the pmf
    k = np.arange(0, 200)
    lower, upper = poisson_rate_interval(k, 0.9)
    for mu in (0.05, 0.7, 2.0, 3.3, 10.0, 47.5):
        covered = stats.poisson.pmf(k, mu)[(lower <= mu) & (mu <= upper)].sum()
        assert covered >= 0.9 - 1e-12


# ------------------------------------------------------------------------- count prediction intervals

def test_negative_binomial_interval_against_scipy():
    mean, variance = np.array([4.0, 0.3, 25.0]), np.array([10.0, 0.9, 30.0])
    size, prob = mean**2 / (variance - mean), mean / variance
    lower, upper = count_prediction_interval(mean, variance, 0.9)
    np.testing.assert_array_equal(lower, stats.nbinom.ppf(0.05, size, prob))
    np.testing.assert_array_equal(upper, stats.nbinom.ppf(0.95, size, prob))
    # the law has the stated moments, and the interval covers at least the level
    np.testing.assert_allclose(stats.nbinom.mean(size, prob), mean, rtol=1e-12)
    np.testing.assert_allclose(stats.nbinom.var(size, prob), variance, rtol=1e-12)
    coverage = stats.nbinom.cdf(upper, size, prob) - stats.nbinom.cdf(lower - 1, size, prob)
    assert np.all(coverage >= 0.9)


def test_poisson_interval_is_the_limit_of_the_negative_binomial():
    mean = np.array([0.5, 3.0, 10.0, 250.0])
    poisson = count_prediction_interval(mean, level=0.99)
    np.testing.assert_array_equal(poisson[0], stats.poisson.ppf(0.005, mean))
    np.testing.assert_array_equal(poisson[1], stats.poisson.ppf(0.995, mean))
    for variance in (mean, mean * (1 + 1e-9)):
        given = count_prediction_interval(mean, variance, 0.99)
        np.testing.assert_array_equal(given[0], poisson[0])
        np.testing.assert_array_equal(given[1], poisson[1])
    near = np.round(mean).astype(int)
    at_least, at_most = count_tail_probability(near, mean, mean * (1 + 1e-9))
    np.testing.assert_allclose(at_least, stats.poisson.sf(near - 1, mean), rtol=1e-6)
    np.testing.assert_allclose(at_most, stats.poisson.cdf(near, mean), rtol=1e-6)
    assert count_prediction_interval(10.0) == (4, 17)
    assert count_prediction_interval(0.0) == (0, 0)


def test_tail_probabilities_against_scipy():
    actual = np.array([0, 3, 9, 40])
    at_least, at_most = count_tail_probability(actual, 6.0)
    np.testing.assert_allclose(at_least, 1 - stats.poisson.cdf(actual - 1, 6.0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(at_most, stats.poisson.cdf(actual, 6.0), rtol=1e-12)
    np.testing.assert_allclose(at_least + at_most, 1 + stats.poisson.pmf(actual, 6.0), rtol=1e-12)
    size, prob = 6.0**2 / 9.0, 6.0 / 15.0
    at_least, at_most = count_tail_probability(actual, 6.0, 15.0)
    np.testing.assert_allclose(at_least, stats.nbinom.sf(actual - 1, size, prob), rtol=1e-12)
    np.testing.assert_allclose(at_most, stats.nbinom.cdf(actual, size, prob), rtol=1e-12)
    assert count_tail_probability(0, 2.0)[0] == 1.0


def test_actual_vs_expected():
    r = actual_vs_expected([0, 12, 30], [4.0, 10.0, 20.0])
    assert isinstance(r, AvsE)
    lower, upper = poisson_rate_interval([0, 12, 30])
    np.testing.assert_allclose(r.ratio, [0.0, 1.2, 1.5])
    np.testing.assert_allclose(r.lower, lower / [4.0, 10.0, 20.0], rtol=1e-15)
    np.testing.assert_allclose(r.upper, upper / [4.0, 10.0, 20.0], rtol=1e-15)
    one = actual_vs_expected(10, 10.0)
    assert isinstance(one.ratio, float) and _printed(one.lower, 0.4795, 1e-4) and _printed(one.upper, 1.8390, 1e-4)
    assert actual_vs_expected([3, 4], 2.0).expected.tolist() == [2.0, 2.0]


# -------------------------------------------------------------------------------------------- PIT

def test_pit_is_exact_for_a_uniform_law_and_clamps_outside_the_grid():
    probs = np.linspace(0.01, 0.99, 99)
    quantiles = 100.0 + 50.0 * probs  # U(100, 150): its distribution function is linear, like the rule
    y = np.array([99.0, 100.5, 112.3, 125.0, 149.4, 149.6, 160.0])
    expected = np.clip((y - 100.0) / 50.0, 0.01, 0.99)
    np.testing.assert_allclose(pit_from_quantiles(y, probs, quantiles), expected, rtol=1e-12)
    two_d = np.vstack([quantiles] * y.size)
    np.testing.assert_allclose(pit_from_quantiles(y, probs, two_d), expected, rtol=1e-12)
    assert isinstance(pit_from_quantiles(125.0, probs, quantiles), float)


def test_pit_at_an_atom_is_the_top_of_the_jump():
    probs, quantiles = [0.1, 0.3, 0.5, 0.7, 0.9], [0.0, 0.0, 0.0, 5.0, 10.0]
    np.testing.assert_allclose(pit_from_quantiles([0.0, 2.5, -1.0], probs, quantiles), [0.5, 0.6, 0.1])


def test_pit_of_draws_from_the_predictive_law_is_uniform():
    # one predictive normal per period; the actual is drawn from it (seeded, so the check is fixed)
    rng = np.random.default_rng(20240611)
    periods = 4000
    mu, sigma = rng.normal(0.0, 5.0, periods), rng.uniform(0.5, 3.0, periods)
    actual = rng.normal(mu, sigma)
    probs = (np.arange(1000) + 0.5) / 1000
    grid = stats.norm.ppf(probs[None, :], mu[:, None], sigma[:, None])
    pit = pit_from_quantiles(actual, probs, grid)
    # linear interpolation of the normal distribution function between quantiles 1/1000 apart
    np.testing.assert_allclose(pit, np.clip(stats.norm.cdf(actual, mu, sigma), probs[0], probs[-1]), atol=2e-4)
    result = pit_uniformity(pit)
    assert result.ks_pvalue > 0.01 and result.chi2_pvalue > 0.01
    assert result.counts.sum() == periods and result.n == periods
    # the same draws judged against predictive laws half as wide: far from uniform
    narrow = pit_from_quantiles(actual, probs, stats.norm.ppf(probs[None, :], mu[:, None], sigma[:, None] / 2))
    assert pit_uniformity(narrow).ks_pvalue < 1e-10 and pit_uniformity(narrow).chi2_pvalue < 1e-10


def test_pit_uniformity_on_an_even_spread():
    n = 200
    result = pit_uniformity((np.arange(n) + 0.5) / n)
    assert result.ks_statistic == pytest.approx(0.5 / n)
    assert result.chi2_statistic == 0.0 and result.chi2_pvalue == 1.0
    np.testing.assert_array_equal(result.counts, np.full(10, 20))
    assert pit_uniformity([0.0, 1.0, 0.5], bins=2).counts.tolist() == [1, 2]


# ----------------------------------------------------------------------------------------- Kupiec

# [JOR] probability level p -> (T = 255, T = 510, T = 1000) as printed, "a < N < b"
JORION = {
    0.01: ((None, 7), (1, 11), (4, 17)),
    0.025: ((2, 12), (6, 21), (15, 36)),
    0.05: ((6, 21), (16, 36), (37, 65)),
    0.075: ((11, 28), (27, 51), (59, 92)),
    0.10: ((16, 36), (38, 65), (81, 120)),
}


@pytest.mark.parametrize("p", sorted(JORION))
def test_kupiec_nonrejection_regions_match_jorion(p):
    for n, (low, high) in zip((255, 510, 1000), JORION[p]):
        lo, hi = kupiec_pof(0, n, p).nonrejection
        assert hi == high - 1
        if low is None:
            # "N < 7": the table gives no lower bound at T = 255, p = 0.01, but the LR statistic does
            # reject N = 0 there: LR(0) = -2 * 255 * ln(0.99) = 5.13 > 3.84 (see the hand computation)
            assert lo == 1
        else:
            assert lo == low + 1


def test_kupiec_against_the_mathworks_example():
    r = kupiec_pof(57, 1043, 0.05)  # [MW]
    assert _printed(r.statistic, 0.46147, 1e-5) and _printed(r.p_value, 0.49694, 1e-5)
    assert not r.rejected and r.expected == pytest.approx(52.15)


def test_kupiec_by_hand():
    def lr(x, n, p):
        def xlnx(a, b):
            return 0.0 if a == 0 else a * math.log(b)
        return -2 * (xlnx(n - x, 1 - p) + xlnx(x, p)) + 2 * (xlnx(n - x, 1 - x / n) + xlnx(x, x / n))

    assert kupiec_pof(0, 255, 0.01).statistic == pytest.approx(-2 * 255 * math.log(0.99), rel=1e-14)
    assert kupiec_pof(0, 255, 0.01).statistic == pytest.approx(5.1257, abs=5e-5)
    assert kupiec_pof(40, 40, 0.2).statistic == pytest.approx(-2 * 40 * math.log(0.2), rel=1e-14)
    assert kupiec_pof(10, 1000, 0.01).statistic == 0.0
    for x, n, p in ((3, 250, 0.05), (15, 1000, 0.01), (1, 2, 0.3), (7, 255, 0.01)):
        r = kupiec_pof(x, n, p)
        assert r.statistic == pytest.approx(lr(x, n, p), rel=1e-12)
        assert r.p_value == pytest.approx(math.erfc(math.sqrt(r.statistic / 2)), rel=1e-10)  # chi2(1) sf
    assert kupiec_pof(3, 250, 0.05).rejected and not kupiec_pof(3, 250, 0.01).rejected
    assert kupiec_pof(7, 255, 0.01).rejected and kupiec_pof(7, 255, 0.01).p_value < 0.05


# ------------------------------------------------------------------------------------------- CRPS

def test_normal_crps_reference_matches_scoring_rules():
    assert _printed(float(_crps_normal(-3.0, 0.0, 1.0)), 2.43657473, 1e-8)  # [SR]


@pytest.mark.parametrize("m", [200, 1000])
def test_crps_from_quantiles_converges_to_the_normal_closed_form(m):
    mu, sigma = 2.0, 3.0
    probs = (np.arange(m) + 0.5) / m
    y = np.array([-7.0, -1.0, 0.3, 2.0, 5.5, 12.0])
    got = crps_from_quantiles(y, probs, stats.norm.ppf(probs, mu, sigma))
    # midpoint rule with h = 1/m: the kink at tau = F(y), of slope jump 1/f(y), costs at most
    # h^2 / (8 f(y)); the normal tails add O(h^2 sigma sqrt(2 ln m)) (see the docstring)
    h = 1.0 / m
    bound = h**2 * (1 / (8 * stats.norm.pdf(y, mu, sigma)) + sigma * math.sqrt(2 * math.log(m)))
    assert np.all(np.abs(got - _crps_normal(y, mu, sigma)) <= bound)


def test_crps_from_sample_is_exact_for_the_empirical_law():
    x = np.array([3.0, -1.0, 4.0, 1.5, 9.0, 2.6, 5.0])
    for y in (-3.0, 0.0, 2.6, 100.0):
        brute = np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean()
        assert crps_from_sample(y, x) == pytest.approx(brute, rel=1e-14)
    assert crps_from_sample(2.0, [5.0]) == 3.0


def test_crps_from_sample_converges_to_the_normal_closed_form():
    rng = np.random.default_rng(7)
    mu, sigma, n = -1.0, 2.0, 200_000
    x = rng.normal(mu, sigma, n)
    for y in (-4.0, -1.0, 0.5, 6.0):
        # the estimator is a V-statistic: bias sigma / (sqrt(pi) n) (half of E|X - X'| / n) and standard
        # error sd(|X - y| - E'|X - X'|) / sqrt(n), with E'|x - X'| = 2 sigma phi(z) + (x - mu)(2 Phi(z) - 1)
        z = (x - mu) / sigma
        influence = np.abs(x - y) - (2 * sigma * stats.norm.pdf(z) + (x - mu) * (2 * stats.norm.cdf(z) - 1))
        se = influence.std() / math.sqrt(n)
        bias = sigma / (math.sqrt(math.pi) * n)
        assert abs(crps_from_sample(y, x) - bias - float(_crps_normal(y, mu, sigma))) <= 4 * se


# -------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, error, match", [
    (lambda: poisson_rate_interval(-1), InputError, r"poisson_rate_interval: k must be counts >= 0, got -1.0"),
    (lambda: poisson_rate_interval([1, 2.5]), InputError,
     r"poisson_rate_interval: k must be whole counts, got 2.5"),
    (lambda: poisson_rate_interval([1, math.nan]), InputError, r"k must be finite, got nan"),
    (lambda: poisson_rate_interval(3, level=1.0), InputError, r"level must be in \(0, 1\), got 1.0"),
    (lambda: poisson_rate_interval("three"), InputTypeError, r"poisson_rate_interval: k must be numeric"),
    (lambda: count_prediction_interval(5.0, 4.0), InputError,
     r"variance must be >= mean .*got variance 4.0 below mean 5.0"),
    (lambda: count_prediction_interval(-1.0), InputError, r"count_prediction_interval: mean must be >= 0"),
    (lambda: count_prediction_interval(0.0, 1.0), InputError, r"mean must be > 0 when the variance exceeds it"),
    (lambda: count_tail_probability(-2, 3.0), InputError, r"count_tail_probability: actual must be counts >= 0"),
    (lambda: actual_vs_expected(3, 0.0), InputError, r"actual_vs_expected: expected must be > 0, got 0.0"),
    (lambda: actual_vs_expected(3, math.nan), InputError, r"actual_vs_expected: expected must be finite"),
    (lambda: pit_from_quantiles(1.0, [0.5, 0.2], [0.0, 1.0]), InputError,
     r"pit_from_quantiles: probs must be strictly increasing, got probs\[0\] = 0.5 then probs\[1\] = 0.2"),
    (lambda: pit_from_quantiles(1.0, [0.0, 0.5], [0.0, 1.0]), InputError, r"probs must lie in \(0, 1\)"),
    (lambda: pit_from_quantiles(1.0, [0.2, 0.5], [1.0, 0.0]), InputError,
     r"pit_from_quantiles: quantiles must be non-decreasing along each row, got row 1: 1.0 then 0.0"),
    (lambda: pit_from_quantiles(math.nan, [0.2, 0.5], [0.0, 1.0]), InputError, r"actual must be finite, got nan"),
    (lambda: pit_from_quantiles([1.0, 2.0], [0.2, 0.5], [[0.0, 1.0]]), InputError, r"quantiles must have shape"),
    (lambda: pit_from_quantiles(1.0, [0.2, 0.5, 0.7], [0.0, 1.0]), InputError, r"one column per prob"),
    (lambda: crps_from_quantiles(1.0, [0.2, 0.2], [0.0, 1.0]), InputError, r"crps_from_quantiles: probs must"),
    (lambda: pit_uniformity([0.2, 1.5]), InputError, r"pit_uniformity: pit values must be in \[0, 1\], got 1.5"),
    (lambda: pit_uniformity([0.2, math.nan]), InputError, r"pit_uniformity: pit\[1\] must be finite"),
    (lambda: kupiec_pof(11, 10, 0.1), InputError, r"exceedances must be an integer in \[0, 10\], got 11"),
    (lambda: kupiec_pof(1, 10, 1.0), InputError, r"kupiec_pof: p must be in \(0, 1\), got 1.0"),
    (lambda: kupiec_pof(1.0, 10, 0.1), InputTypeError, r"kupiec_pof: exceedances must be an integer"),
    (lambda: crps_from_sample(1.0, []), InputError, r"crps_from_sample: sample needs at least 1 value"),
    (lambda: crps_from_sample(math.inf, [1.0]), InputError, r"crps_from_sample: actual must be finite"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_docstring_examples_run():
    assert doctest.testmod(stats_module, optionflags=doctest.ELLIPSIS).failed == 0
