"""Frequency and severity laws against independent references (scipy.stats, quadrature, sums)."""

import dataclasses
import math
import time

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy import integrate, stats

from techins.errors import InputError, InputTypeError
from techins.model.distributions import (
    Binomial,
    Empirical,
    Exponential,
    FrequencyLaw,
    Gamma,
    LogNormal,
    NegativeBinomial,
    Pareto,
    Poisson,
    SeverityLaw,
    Spliced,
    Weibull,
)

RTOL = 1e-12


def quad_pieces(f, b, breaks=()):
    """``integral_0^b f`` by quad on pieces split at ``breaks`` (where the integrand bends)."""
    cuts = [0.0] + sorted(c for c in breaks if 0.0 < c < b) + [b]
    total = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        total += integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    return total


# ----------------------------------------------------------------------------------------------
# severity laws against scipy.stats

SEVERITIES = {
    "lognormal": (LogNormal(mu=10.0, sigma=2.0), stats.lognorm(s=2.0, scale=math.exp(10.0))),
    "lognormal_narrow": (LogNormal(0.5, 0.3), stats.lognorm(s=0.3, scale=math.exp(0.5))),
    "gamma_small_shape": (Gamma(0.4, 3e4), stats.gamma(0.4, scale=3e4)),
    "gamma": (Gamma(3.5, 2e4), stats.gamma(3.5, scale=2e4)),
    "weibull_heavy": (Weibull(0.7, 5e4), stats.weibull_min(0.7, scale=5e4)),
    "weibull_light": (Weibull(2.5, 1e3), stats.weibull_min(2.5, scale=1e3)),
    "pareto": (Pareto(3.5, 1e5), stats.lomax(3.5, scale=1e5)),
    "pareto_no_var": (Pareto(1.5, 1e5), stats.lomax(1.5, scale=1e5)),
    "pareto_alpha_1": (Pareto(1.0, 1e5), stats.lomax(1.0, scale=1e5)),
    "pareto_no_mean": (Pareto(0.7, 1e5), stats.lomax(0.7, scale=1e5)),
    "exponential": (Exponential(4e4), stats.expon(scale=4e4)),
}
LEVELS = np.array([1e-12, 1e-6, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999999, 1.0 - 1e-12])


def sample_points(ref):
    """Amounts spread over the body and the deep tail of ``ref``, plus 0 and a negative amount."""
    return np.concatenate([[-5.0, 0.0], ref.ppf(LEVELS), ref.isf([1e-14, 1e-200])])


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_mean_var_moments_vs_scipy(name):
    law, ref = SEVERITIES[name]
    for k in (1, 2, 3):
        shape_alpha = getattr(law, "alpha", math.inf)
        if shape_alpha <= k:
            assert law.moment(k) == math.inf
        else:
            assert law.moment(k) == pytest.approx(ref.moment(k), rel=1e-12)
    assert law.mean() == law.moment(1)
    if math.isfinite(law.mean()):
        assert law.mean() == pytest.approx(ref.mean(), rel=RTOL)
    if math.isfinite(law.moment(2)):
        assert law.var() == pytest.approx(ref.var(), rel=1e-11)
        assert law.std() == pytest.approx(ref.std(), rel=1e-11)
    else:
        assert law.var() == math.inf and law.std() == math.inf


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_cdf_sf_pdf_vs_scipy(name):
    law, ref = SEVERITIES[name]
    x = sample_points(ref)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-12, atol=1e-300)
    # sf is compared relatively, which only passes if it is not computed as 1 - cdf in the tail
    np.testing.assert_allclose(law.sf(x), ref.sf(x), rtol=1e-10, atol=1e-300)
    assert law.sf(x[-1]) > 0.0
    inner = x[2:-1]  # scipy overflows (and warns) at the 1e-200 quantile
    np.testing.assert_allclose(law.pdf(inner), ref.pdf(inner), rtol=1e-10, atol=1e-300)
    assert law.pdf(-1.0) == 0.0 and law.cdf(-1.0) == 0.0 and law.sf(-1.0) == 1.0
    assert law.cdf(np.inf) == 1.0 and law.sf(np.inf) == 0.0


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_ppf_isf_vs_scipy(name):
    law, ref = SEVERITIES[name]
    np.testing.assert_allclose(law.ppf(LEVELS), ref.ppf(LEVELS), rtol=1e-10)
    # isf is compared where it is well conditioned (small exceedance probabilities); near q = 1
    # scipy's lomax.isf loses digits the closed form keeps
    small = LEVELS[LEVELS <= 0.9]
    np.testing.assert_allclose(law.isf(small), ref.isf(small), rtol=1e-10)
    # the deep tail, where ppf(1 - q) would have lost q entirely
    assert float(law.isf(1e-12)) == pytest.approx(ref.isf(1e-12), rel=1e-10)
    assert float(law.isf(1e-200)) == pytest.approx(ref.isf(1e-200), rel=1e-9)
    assert law.ppf(0.0) == 0.0 and law.isf(1.0) == 0.0
    assert law.ppf(1.0) == math.inf == law.isf(0.0) == law.upper_bound()
    assert np.isnan(law.ppf([-0.1, 1.1, np.nan])).all()


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_lev_and_second_limited_moment_vs_quadrature(name):
    law, ref = SEVERITIES[name]
    breaks = ref.ppf([0.01, 0.1, 0.5, 0.9, 0.99, 0.9999])
    for x in ref.ppf([1e-6, 0.05, 0.5, 0.95, 0.999999]):
        lev = quad_pieces(ref.sf, x, breaks)
        second = quad_pieces(lambda t: 2.0 * t * ref.sf(t), x, breaks)
        assert float(law.lev(x)) == pytest.approx(lev, rel=1e-10)
        assert float(law.limited_moment(x, 1)) == pytest.approx(lev, rel=1e-10)
        assert float(law.limited_moment(x, 2)) == pytest.approx(second, rel=1e-9)


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_lev_edges_and_shapes(name):
    law, _ = SEVERITIES[name]
    assert law.lev(np.inf) == law.mean()
    assert law.limited_moment(np.inf, 2) == law.moment(2)
    assert law.lev(0.0) == 0.0 and law.lev(-3.0) == -3.0
    assert np.isnan(law.lev(np.nan))
    assert law.limited_moment(0.0, 2) == 0.0
    grid = np.linspace(0.0, 1e6, 12).reshape(3, 4)
    assert law.lev(grid).shape == (3, 4)
    assert law.cdf(grid).shape == (3, 4)
    assert np.ndim(law.lev(5.0)) == 0 and np.ndim(law.cdf(5.0)) == 0


EXTREME_LAWS = [law for law, _ in SEVERITIES.values()] + [
    Exponential(1e-300), Gamma(1e5, 1e-3), Weibull(50.0, 1.0), Pareto(0.01, 1.0),
    Empirical([0.0, 1e300]),
    Spliced(LogNormal(0.0, 1.0), 1.0, tail_shape=5.0, tail_scale=1.0),
]


@pytest.mark.parametrize("law", EXTREME_LAWS, ids=repr)
def test_extreme_amounts_give_limits_without_warnings(law):
    """pytest turns warnings into errors: overflow to inf must stay quiet and give the right limit."""
    x = np.array([-np.inf, -1e300, 0.0, 1e-300, 1e300, np.inf, np.nan])
    cdf, sf, lev = law.cdf(x), law.sf(x), law.lev(x)
    np.testing.assert_array_equal(cdf[[0, 1, 5]], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(sf[[0, 1, 5]], [1.0, 1.0, 0.0])
    assert np.isnan(cdf[-1]) and np.isnan(sf[-1]) and np.isnan(lev[-1])
    assert not np.isnan(lev[:-1]).any()
    assert not np.isnan(law.limited_moment(x[:-1], 2)).any()
    assert not np.isnan(law.ppf([0.0, 1e-300, 0.5, 1.0])).any()
    assert not np.isnan(law.isf([0.0, 1e-300, 0.5, 1.0])).any()
    if not isinstance(law, Empirical):
        np.testing.assert_array_equal(law.pdf(x[[0, 1, 5]]), 0.0)
    for k in (1, 2, 3):
        assert law.moment(k) >= 0.0


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
def test_pareto_moment_exists_iff_alpha_exceeds_order(alpha):
    law = Pareto(alpha=alpha, scale=2.0)
    ref = stats.lomax(alpha, scale=2.0)
    for k in (1, 2, 3):
        if alpha <= k:
            assert law.moment(k) == math.inf
        else:
            assert law.moment(k) == pytest.approx(ref.expect(lambda x, k=k: x ** k), rel=1e-7)
    assert (law.mean() == math.inf) == (alpha <= 1.0)
    assert (law.var() == math.inf) == (alpha <= 2.0)


def test_pareto_lev_at_alpha_one_is_logarithmic():
    law = Pareto(alpha=1.0, scale=3.0)
    x = np.array([0.5, 3.0, 1e6])
    np.testing.assert_allclose(law.lev(x), 3.0 * np.log((x + 3.0) / 3.0), rtol=1e-15)


@pytest.mark.parametrize("alpha", [0.4, 1.0, 1.0 + 1e-9, 1.7, 2.0, 2.6])
def test_pareto_limited_second_moment_all_regimes(alpha):
    """Small limits (Gauss-Legendre), large ones (closed form), alpha above 2 (Beta form)."""
    law, ref = Pareto(alpha, 10.0), stats.lomax(alpha, scale=10.0)
    for x in [1e-6, 0.1, 10.0 * (math.e - 1.0), 17.2, 1e3, 1e7]:
        second = quad_pieces(lambda t: 2.0 * t * ref.sf(t), x, [10.0, 100.0, 1e4, 1e6])
        assert float(law.limited_moment(x, 2)) == pytest.approx(second, rel=1e-10)


def test_lev_is_fast_on_a_large_grid():
    """The FFT path evaluates lev on millions of points: closed forms only, no quadrature."""
    grid = np.linspace(0.0, 5e7, 1_000_000)
    for law, _ in SEVERITIES.values():
        start = time.perf_counter()
        law.lev(grid)
        assert time.perf_counter() - start < 1.0, law


# ----------------------------------------------------------------------------------------------
# Empirical


def test_empirical_with_weights_matches_direct_sums_and_rv_discrete():
    values = [3.0, 1.0, 2.0, 2.0, 0.5, 7.0]
    weights = [1.0, 2.0, 3.0, 4.0, 0.0, 10.0]
    law = Empirical(values, weights=weights)
    np.testing.assert_array_equal(law.support, [1.0, 2.0, 3.0, 7.0])  # 0.5 has weight 0
    np.testing.assert_allclose(law.probs, [0.1, 0.35, 0.05, 0.5], rtol=1e-15)
    ref = stats.rv_discrete(values=(law.support, law.probs))
    x = np.array([-1.0, 0.0, 1.0, 1.5, 2.0, 2.999, 3.0, 6.0, 7.0, 100.0])
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-14)
    np.testing.assert_allclose(law.sf(x), ref.sf(x), rtol=1e-14, atol=1e-16)
    q = np.array([0.0, 0.05, 0.1, 0.10001, 0.45, 0.46, 0.5, 0.51, 1.0])
    np.testing.assert_array_equal(law.ppf(q), [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 7.0, 7.0])
    np.testing.assert_array_equal(law.isf([0.0, 0.5, 0.55, 0.9, 1.0]), [7.0, 3.0, 2.0, 1.0, 1.0])
    v, p = np.asarray(values), np.asarray(weights) / sum(weights)
    for limit in [0.0, 1.0, 1.5, 2.5, 7.0, 8.0]:
        assert float(law.lev(limit)) == pytest.approx(p @ np.minimum(v, limit), rel=1e-14)
        second = p @ np.minimum(v, limit) ** 2
        assert float(law.limited_moment(limit, 2)) == pytest.approx(second, rel=1e-14)
    assert law.mean() == pytest.approx(p @ v, rel=1e-14)
    assert law.var() == pytest.approx(p @ (v - p @ v) ** 2, rel=1e-13)
    assert law.moment(3) == pytest.approx(p @ v ** 3, rel=1e-14)
    assert law.upper_bound() == 7.0 == law.ppf(1.0)
    assert law.lev(np.inf) == law.mean()


def test_empirical_is_frozen_hashable_and_normalised():
    a = Empirical([1.0, 2.0])
    b = Empirical(np.array([1.0, 2.0]), weights=[5.0, 5.0])
    assert a == b and hash(a) == hash(b)
    assert a.weights == (0.5, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.values = (3.0,)
    with pytest.raises(ValueError):
        a.support[0] = 9.0  # read-only view
    with pytest.raises(InputError, match="no density"):
        a.pdf(1.0)
    assert "2 values" in repr(a)


def test_empirical_atom_at_exact_level_is_kept():
    law = Empirical(np.arange(1.0, 101.0))
    assert law.ppf(0.99) == 99.0 and law.ppf(0.3) == 30.0
    assert law.isf(0.01) == 99.0


# ----------------------------------------------------------------------------------------------
# Spliced


def spliced_reference(body_ref, u, xi, beta, t):
    """cdf and sf of the spliced law built from scipy's body and genpareto."""
    tail = stats.genpareto(c=xi, loc=u, scale=beta)
    f_u = body_ref.cdf(u)

    def body(x):
        return (1.0 - t) * body_ref.cdf(np.minimum(x, u)) / f_u

    def cdf(x):
        x = np.asarray(x, dtype=float)
        return np.where(x <= u, body(x), 1.0 - t * tail.sf(np.maximum(x, u)))

    def sf(x):
        x = np.asarray(x, dtype=float)
        return np.where(x <= u, 1.0 - body(x), t * tail.sf(np.maximum(x, u)))

    return cdf, sf, tail


SPLICE_BODIES = {
    "lognormal": (LogNormal(10.0, 1.0), stats.lognorm(s=1.0, scale=math.exp(10.0))),
    "gamma": (Gamma(2.0, 2e4), stats.gamma(2.0, scale=2e4)),
    "weibull": (Weibull(0.8, 3e4), stats.weibull_min(0.8, scale=3e4)),
    "pareto": (Pareto(1.5, 4e4), stats.lomax(1.5, scale=4e4)),
    "exponential": (Exponential(3e4), stats.expon(scale=3e4)),
}
U, BETA = 1e5, 5e4


@pytest.mark.parametrize("body_name", sorted(SPLICE_BODIES))
@pytest.mark.parametrize("xi", [0.3, 0.0, -0.25])
@pytest.mark.parametrize("tail_prob", [None, 0.05])
def test_spliced_vs_scipy_construction(body_name, xi, tail_prob):
    body, body_ref = SPLICE_BODIES[body_name]
    law = Spliced(body, threshold=U, tail_shape=xi, tail_scale=BETA, tail_prob=tail_prob)
    t = body_ref.sf(U) if tail_prob is None else tail_prob
    assert law.tail_probability == pytest.approx(t, rel=1e-14)
    cdf, sf, tail = spliced_reference(body_ref, U, xi, BETA, t)
    x = np.array([-1.0, 0.0, 10.0, 2e4, 9e4, U, U * (1 + 1e-12), 1.5e5, 2.5e5, 1e6, 1e8])
    np.testing.assert_allclose(law.cdf(x), cdf(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(law.sf(x), sf(x), rtol=1e-11, atol=1e-300)
    # quantiles: deep tail from the tail's own inverse; body levels invert the cdf
    assert float(law.isf(1e-12)) == pytest.approx(tail.isf(1e-12 / t), rel=1e-10)
    q = np.array([1e-9, 0.01, 0.3, 0.5, 0.9, 1.0 - t, 1.0 - t / 2, 1.0 - 1e-9])
    np.testing.assert_allclose(law.cdf(law.ppf(q)), q, rtol=1e-10)
    np.testing.assert_allclose(law.sf(law.isf(1.0 - q)), 1.0 - q, rtol=1e-10)
    assert law.ppf(1.0 - t) == pytest.approx(U, rel=1e-12)
    # moments: body part by quadrature of scipy's law, tail part from genpareto's moments
    f_u = body_ref.cdf(U)
    breaks = body_ref.ppf([0.01, 0.5])
    below = [(1.0 - t) / f_u * quad_pieces(lambda s, k=k: s ** k * body_ref.pdf(s), U, breaks)
             for k in (1, 2, 3)]
    gpd = stats.genpareto(c=xi, scale=BETA)
    for k in (1, 2, 3):
        if xi * k >= 1.0:
            assert law.moment(k) == math.inf
            continue
        above = sum(math.comb(k, j) * U ** (k - j) * gpd.moment(j) for j in range(k + 1))
        assert law.moment(k) == pytest.approx(below[k - 1] + t * above, rel=1e-9)
    # lev and the second limited moment against quadrature of the reference sf
    for limit in [3e4, U, 1.7e5, 6e5]:
        breaks = [1e4, 5e4, U, 2e5]
        assert float(law.lev(limit)) == pytest.approx(quad_pieces(sf, limit, breaks), rel=1e-10)
        second = quad_pieces(lambda s: 2.0 * s * sf(s), limit, breaks)
        assert float(law.limited_moment(limit, 2)) == pytest.approx(second, rel=1e-9)
    assert law.lev(np.inf) == law.mean()


@pytest.mark.parametrize("xi", [0.4, 0.0, -0.3])
def test_spliced_mean_vs_integrated_survival_and_continuity(xi):
    law = Spliced(LogNormal(mu=9.0, sigma=1.5), threshold=5e4, tail_shape=xi, tail_scale=2e4)
    u = 5e4
    # continuous splice: no jump at the threshold
    assert float(law.cdf(u)) == pytest.approx(float(law.cdf(np.nextafter(u, np.inf))), rel=1e-14)
    assert float(law.cdf(u)) == pytest.approx(float(LogNormal(9.0, 1.5).cdf(u)), rel=1e-14)
    # the mean is the integral of the survival function
    upper = law.upper_bound()
    body = integrate.quad(lambda s: float(law.sf(s)), 0.0, u, epsrel=1e-12, limit=200)[0]
    tail = integrate.quad(lambda s: float(law.sf(s)), u, upper, epsrel=1e-11, limit=200)[0]
    assert law.mean() == pytest.approx(body + tail, rel=1e-8)
    assert law.var() > 0.0
    # cdf reaches 1: at the upper bound of a bounded tail, far out otherwise
    if xi < 0:
        assert upper == pytest.approx(u + 2e4 / -xi, rel=1e-14)
        assert law.cdf(upper) == 1.0 and law.sf(upper) == 0.0 and law.ppf(1.0) == pytest.approx(upper)
        assert law.pdf(upper * 1.01) == 0.0
    else:
        assert upper == math.inf
        assert law.cdf(1e300) == 1.0
    assert law.pdf(-1.0) == 0.0 and law.pdf(1e4) > 0.0


def test_spliced_tiny_shape_is_the_exponential_tail():
    a = Spliced(Gamma(2.0, 1.0), 3.0, tail_shape=1e-15, tail_scale=2.0)
    b = Spliced(Gamma(2.0, 1.0), 3.0, tail_shape=0.0, tail_scale=2.0)
    c = Spliced(Gamma(2.0, 1.0), 3.0, tail_shape=1e-9, tail_scale=2.0)
    x = np.array([1.0, 3.0, 5.0, 30.0])
    np.testing.assert_array_equal(a.cdf(x), b.cdf(x))
    np.testing.assert_allclose(c.sf(x), b.sf(x), rtol=1e-7)
    assert c.mean() == pytest.approx(b.mean(), rel=1e-8)


# ----------------------------------------------------------------------------------------------
# frequency laws


def scipy_frequency(law):
    if isinstance(law, Poisson):
        return stats.poisson(float(law.mean))
    if isinstance(law, NegativeBinomial):
        return stats.nbinom(law.size, law.prob)
    return stats.binom(law.n, law.p)


FREQUENCIES = {
    "poisson": Poisson(5.0),
    "poisson_zero": Poisson(0.0),
    "poisson_large": Poisson(250.0),
    "negbin": NegativeBinomial(mean=5.0, variance=12.0),
    "negbin_overdispersed": NegativeBinomial(0.3, 10.0),
    "binomial": Binomial(10, 0.3),
    "binomial_empty": Binomial(0, 0.4),
    "binomial_certain": Binomial(7, 1.0),
    "binomial_never": Binomial(5, 0.0),
}


@pytest.mark.parametrize("name", sorted(FREQUENCIES))
def test_frequency_vs_scipy(name):
    law = FREQUENCIES[name]
    ref = scipy_frequency(law)
    k = np.arange(0, 400)
    np.testing.assert_allclose(law.pmf(k), ref.pmf(k), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(law.cdf(k), ref.cdf(k), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(law.cdf(k + 0.5), ref.cdf(k), rtol=1e-12, atol=1e-300)
    assert law.mean() == pytest.approx(ref.mean(), rel=1e-14, abs=1e-300)
    assert law.var() == pytest.approx(ref.var(), rel=1e-14, abs=1e-300)
    assert law.std() == pytest.approx(ref.std(), rel=1e-14, abs=1e-300)
    np.testing.assert_array_equal(law.pmf([-1.0, 0.5, np.inf]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(law.cdf([-1.0, -0.5, np.inf]), [0.0, 0.0, 1.0])
    assert np.isnan(law.pmf(np.nan)) and np.isnan(law.cdf(np.nan))


def truncated_pgf(law, z, n_terms=3000):
    k = np.arange(n_terms)
    return (law.pmf(k)[None, :] * np.asarray(z)[:, None] ** k).sum(axis=1)


@pytest.mark.parametrize("name", sorted(FREQUENCIES))
def test_pgf_real_and_complex_vs_direct_sum(name):
    law = FREQUENCIES[name]
    real = np.array([-1.0, -0.3, 0.0, 0.5, 0.99, 1.0])
    values = law.pgf(real)
    assert values.dtype == np.float64
    # the absolute tolerance covers rounding in the alternating direct sum at z = -1
    np.testing.assert_allclose(values, truncated_pgf(law, real), rtol=1e-12, atol=1e-13)
    assert law.pgf(1.0) == 1.0
    circle = np.exp(2j * np.pi * np.arange(16) / 16)
    for z in (circle, 0.7 * circle):
        values = law.pgf(z)
        assert values.dtype == np.complex128
        np.testing.assert_allclose(values, truncated_pgf(law, z), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", sorted(set(FREQUENCIES) - {"binomial_certain"}))
def test_panjer_recursion_reproduces_pmf(name):
    law = FREQUENCIES[name]
    a, b = law.panjer_ab()
    pmf = law.pmf(np.arange(60))
    recursed = [pmf[0]]
    for k in range(1, 60):
        recursed.append(max((a + b / k) * recursed[-1], 0.0))
    np.testing.assert_allclose(recursed, pmf, rtol=1e-10, atol=1e-300)


def test_panjer_of_certain_binomial_is_refused():
    with pytest.raises(InputError, match="p < 1"):
        Binomial(7, 1.0).panjer_ab()


@pytest.mark.parametrize("name", sorted(FREQUENCIES))
@pytest.mark.parametrize("keep", [0.0, 0.35, 1.0])
def test_thinned_pgf_identity(name, keep):
    law = FREQUENCIES[name]
    thin = law.thinned(keep)
    assert isinstance(thin, FrequencyLaw)
    assert thin.mean() == pytest.approx(law.mean() * keep, rel=1e-14, abs=1e-300)
    z = np.concatenate([np.linspace(-1.0, 1.0, 9), np.exp(2j * np.pi * np.arange(8) / 8)])
    np.testing.assert_allclose(thin.pgf(z), law.pgf(1.0 - keep + keep * z), rtol=1e-12, atol=1e-14)


def test_thinned_closed_forms():
    assert Poisson(4.0).thinned(0.25) == Poisson(1.0)
    assert Binomial(10, 0.4).thinned(0.5) == Binomial(10, 0.2)
    nb = NegativeBinomial(mean=5.0, variance=12.0)
    thin = nb.thinned(0.3)
    assert isinstance(thin, NegativeBinomial)
    assert thin.size == pytest.approx(nb.size, rel=1e-13)
    assert thin.mean() == pytest.approx(1.5, rel=1e-15)
    assert thin.var() == pytest.approx(1.5 + 1.5 ** 2 / nb.size, rel=1e-15)
    assert nb.thinned(0.0) == Poisson(0.0)


def test_negative_binomial_parameters():
    nb = NegativeBinomial(mean=5.0, variance=12.0)
    assert nb.size == pytest.approx(25.0 / 7.0, rel=1e-15)
    assert nb.prob == pytest.approx(nb.size / (nb.size + 5.0), rel=1e-15)
    draws = np.random.default_rng(1).negative_binomial(nb.size, nb.prob, 200_000)
    assert draws.mean() == pytest.approx(5.0, rel=0.02)  # numpy's convention
    a, b = nb.panjer_ab()
    assert a == pytest.approx(1.0 - nb.prob) and b == pytest.approx((nb.size - 1.0) * (1.0 - nb.prob))


def test_mean_is_both_field_and_method():
    for law in (Poisson(mean=3.0), NegativeBinomial(mean=3.0, variance=4.0), Exponential(mean=3.0)):
        assert law.mean == 3.0 and law.mean() == 3.0 and isinstance(law.mean, float)
        assert "mean=3.0" in repr(law)
    assert Poisson(3.0) == Poisson(3) and hash(Poisson(3.0)) == hash(Poisson(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Poisson(3.0).mean = 4.0
    assert LogNormal(mu=10.0, sigma=2.0) == LogNormal(10, 2)


# ----------------------------------------------------------------------------------------------
# bad input


BAD = [
    (lambda: Poisson(-1), InputError, r"Poisson: mean must be in \[0, inf\], got -1\.0"),
    (lambda: Poisson(float("nan")), InputError, r"Poisson: mean .*got NaN"),
    (lambda: Poisson("3"), InputTypeError, r"Poisson: mean must be a real number, got '3'"),
    (lambda: Poisson(math.inf), InputError, r"mean must be finite, got inf"),
    (lambda: LogNormal(10, 0), InputError, r"LogNormal: sigma must be in \(0, inf\], got 0\.0"),
    (lambda: LogNormal(math.nan, 1.0), InputError, r"LogNormal: mu .*NaN"),
    (lambda: Gamma(0, 1), InputError, r"Gamma: shape must be in \(0, inf\], got 0\.0"),
    (lambda: Gamma(1, -2), InputError, r"Gamma: scale .*got -2\.0"),
    (lambda: Weibull(1, 0), InputError, r"Weibull: scale .*got 0\.0"),
    (lambda: Pareto(alpha=-1, scale=1), InputError, r"Pareto: alpha must be in \(0, inf\], got -1\.0"),
    (lambda: Exponential(0.0), InputError, r"Exponential: mean .*got 0\.0"),
    (lambda: Binomial(2.5, 0.1), InputTypeError, r"Binomial: n must be an integer, got 2\.5"),
    (lambda: Binomial(-1, 0.1), InputError, r"Binomial: n must be an integer in \[0, inf\], got -1"),
    (lambda: Binomial(3, 1.5), InputError, r"Binomial: p must be in \[0, 1\], got 1\.5"),
    (lambda: NegativeBinomial(5, 5), InputError,
     r"variance must exceed mean for a negative binomial; use Poisson when they are equal, "
     r"got variance=5\.0"),
    (lambda: NegativeBinomial(0, 5), InputError, r"NegativeBinomial: mean .*got 0\.0"),
    (lambda: NegativeBinomial(1e-300, 1.0), InputError,
     r"NegativeBinomial: size .* got 0\.0 \(mean=1e-300"),
    (lambda: Poisson(2.0).thinned(1.5), InputError,
     r"Poisson\.thinned: p must be in \[0, 1\], got 1\.5"),
    (lambda: Empirical([]), InputError, r"Empirical: values needs at least 1 value"),
    (lambda: Empirical([1, math.nan]), InputError, r"Empirical: values\[1\] must be finite, got .*nan"),
    (lambda: Empirical([-1]), InputError, r"Empirical: values\[0\] must be >= 0, got .*-1\.0"),
    (lambda: Empirical([1, 2], [1]), InputError, r"Empirical: weights must have the same length"),
    (lambda: Empirical([1, 2], [0, 0]), InputError, r"Empirical: weights must have a positive sum"),
    (lambda: Empirical([1, 2], [1, -1]), InputError, r"Empirical: weights\[1\] must be >= 0"),
    (lambda: Spliced(Empirical([1.0]), 1.0, 0.1, 1.0), InputTypeError,
     r"Spliced: body must be .* got Empirical"),
    (lambda: Spliced(Spliced(LogNormal(0, 1), 1.0, 0.1, 1.0), 2.0, 0.1, 1.0), InputTypeError,
     r"Spliced: body must be .* got Spliced"),
    (lambda: Spliced(LogNormal(0, 1), 0.0, 0.1, 1.0), InputError,
     r"Spliced: threshold must be in \(0, inf\], got 0\.0"),
    (lambda: Spliced(LogNormal(0, 1), 1.0, math.nan, 1.0), InputError, r"Spliced: tail_shape .*NaN"),
    (lambda: Spliced(LogNormal(0, 1), 1.0, 0.1, -1.0), InputError, r"Spliced: tail_scale .*got -1\.0"),
    (lambda: Spliced(LogNormal(0, 1), 1.0, 0.1, 1.0, tail_prob=1.0), InputError,
     r"Spliced: tail_prob must be in \(0, 1\), got 1\.0"),
    (lambda: Spliced(LogNormal(1000.0, 1.0), 1.0, 0.1, 1.0), InputError, r"Spliced: the body must give"),
    (lambda: LogNormal(0, 1).moment(4), InputError,
     r"LogNormal: k must be an integer in \[1, 3\], got 4"),
    (lambda: LogNormal(0, 1).limited_moment(1.0, 1.5), InputTypeError,
     r"LogNormal: k must be an integer"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_with_the_value_quoted(make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    assert isinstance(info.value, ValueError if error is InputError else TypeError)


def test_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        Poisson(-1)


# ----------------------------------------------------------------------------------------------
# properties over random valid parameters

positive = st.floats(min_value=1e-2, max_value=1e6)


@st.composite
def empirical_laws(draw):
    values = draw(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=8))
    n = len(values)
    weights = draw(st.none() | st.lists(st.floats(0.01, 10.0), min_size=n, max_size=n))
    return Empirical(values, weights=weights)


@st.composite
def spliced_laws(draw):
    body = LogNormal(draw(st.floats(0.0, 12.0)), draw(st.floats(0.2, 2.5)))
    threshold = float(body.ppf(draw(st.floats(0.5, 0.99))))
    return Spliced(body, threshold, draw(st.floats(-0.8, 1.5)), draw(positive))


severity_laws = st.one_of(
    st.builds(LogNormal, st.floats(-5.0, 15.0), st.floats(0.05, 4.0)),
    st.builds(Gamma, st.floats(0.05, 50.0), positive),
    st.builds(Weibull, st.floats(0.2, 10.0), positive),
    st.builds(Pareto, st.floats(0.3, 10.0), positive),
    st.builds(Exponential, positive),
    empirical_laws(),
    spliced_laws(),
)


def probe_points(law):
    """Amounts from below 0 to the far tail of ``law``."""
    q = np.array([1e-9, 1e-4, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.9999])
    x = np.concatenate([[-1.0, 0.0], law.ppf(q), law.isf([1e-8, 1e-12])])
    x = np.concatenate([x, x * 1.001, x + 1.0])
    x = x[np.isfinite(x)]
    return np.unique(x)


@settings(deadline=None, max_examples=60)
@given(severity_laws)
def test_cdf_is_monotone_and_complements_sf(law):
    x = probe_points(law)
    cdf, sf = law.cdf(x), law.sf(x)
    assert np.all((cdf >= 0.0) & (cdf <= 1.0))
    assert np.all(np.diff(cdf) >= 0.0)
    assert np.all(np.diff(sf) <= 0.0)
    np.testing.assert_allclose(cdf + sf, 1.0, rtol=1e-12)


@settings(deadline=None, max_examples=60)
@given(severity_laws)
def test_lev_is_increasing_and_below_x_and_the_mean(law):
    x = probe_points(law)
    x = x[x >= 0.0]
    lev = law.lev(x)
    mean = law.mean()
    scale = max(float(x.max()), 1.0)
    assert np.all(np.diff(lev) >= -1e-12 * scale)
    assert np.all(lev <= x * (1.0 + 1e-12) + 1e-300)
    assert np.all(lev <= mean * (1.0 + 1e-12))
    assert np.all(lev >= 0.0)
    second = law.limited_moment(x, 2)
    assert np.all(second <= x * x * (1.0 + 1e-9) + 1e-300)
    assert np.all(second >= lev * lev * (1.0 - 1e-9) - 1e-300)  # Jensen (squares of 1e-159 are subnormal)


@settings(deadline=None, max_examples=60)
@given(severity_laws, st.floats(1e-8, 1.0 - 1e-8))
def test_ppf_inverts_cdf(law, q):
    x = law.ppf(q)
    assert law.cdf(x) >= q * (1.0 - 1e-9)
    assert float(law.isf(1.0 - q)) == pytest.approx(float(x), rel=1e-6, abs=1e-12)
    if isinstance(law, Empirical):
        # ppf(cdf(x)) is the support point at or below x
        for amount in probe_points(law):
            if amount >= law.support[0]:
                below = law.support[law.support <= amount][-1]
                assert law.ppf(law.cdf(amount)) == below
    else:
        assume(float(law.pdf(x)) > 0.0)
        assert float(law.cdf(x)) == pytest.approx(q, rel=1e-8)
        y = float(x)
        level = float(law.cdf(y))
        if 1e-10 < level < 1.0 - 1e-10:
            assert float(law.cdf(law.ppf(level))) == pytest.approx(level, rel=1e-8)


def test_bases_are_the_declared_types():
    assert all(isinstance(law, SeverityLaw) for law, _ in SEVERITIES.values())
    assert all(isinstance(law, FrequencyLaw) for law in FREQUENCIES.values())
