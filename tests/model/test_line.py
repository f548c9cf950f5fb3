"""Layers and lines (``techins.model.line``) against hand-computed cases and independent references:
closed forms of the compound sums, ``scipy.stats`` laws integrated by ``scipy.integrate.quad``, the
count moments summed from ``scipy.stats`` probability masses, and exact enumeration of small cases.

References used below:

* ``E[min(max(X - d, 0), l)] = integral_d^{d+l} S(x) dx`` and
  ``E[min(max(X - d, 0), l)^2] = integral_d^{d+l} 2 (x - d) S(x) dx`` (Klugman, Panjer & Willmot,
  *Loss Models*, 4th ed., sec. 8.2, 8.3), with ``S`` the survival function of scipy's law;
* compound sum ``E[S] = E[N] E[Y]``, ``Var[S] = E[N] Var[Y] + Var[N] E[Y]^2`` (ibid. sec. 9.3),
  which for a Poisson count is ``Var[S] = lambda E[Y^2]``.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from scipy import integrate, stats

import techins as ti
from techins.errors import InputError, InputTypeError
from tests import strategies

RTOL = 1e-12


# ---------------------------------------------------------------------------------------------- Layer
def test_apply_by_hand():
    layer = ti.Layer(limit=5e6, deductible=1e6)
    # below, at the deductible, inside, at the exhaustion point and above
    x = [0.0, 5e5, 1e6, 2e6, 6e6, 9e6]
    assert layer.apply(x).tolist() == [0.0, 0.0, 0.0, 1e6, 5e6, 5e6]


def test_apply_with_a_share_and_unlimited():
    layer = ti.Layer(limit=100.0, deductible=10.0, share=0.25)
    assert layer.apply([5.0, 30.0, 500.0]).tolist() == [0.0, 5.0, 25.0]
    unlimited = ti.Layer(deductible=10.0, share=0.5)
    assert unlimited.apply([4.0, 10.0, 1e300]).tolist() == [0.0, 0.0, 0.5 * (1e300 - 10.0)]


def test_apply_keeps_the_shape_and_returns_float64():
    out = ti.Layer(limit=3.0, deductible=1.0).apply(np.array([[0, 2], [5, 1]], dtype=np.int64))
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert out.tolist() == [[0.0, 1.0], [3.0, 0.0]]
    assert float(ti.Layer(limit=3.0, deductible=1.0).apply(2.5)) == 1.5


def test_exhaustion_point():
    assert ti.Layer(limit=5e6, deductible=1e6).exhaustion_point == 6e6
    assert ti.Layer(deductible=1e6).exhaustion_point == math.inf
    assert ti.Layer(limit=7.0).exhaustion_point == 7.0


@pytest.mark.parametrize("layer, ground_up", [
    (ti.Layer(), True),
    (ti.Layer(limit=math.inf, deductible=0.0, share=1.0), True),
    (ti.Layer(limit=1e9), False),
    (ti.Layer(deductible=1e-9), False),
    (ti.Layer(share=0.999), False),
])
def test_is_ground_up(layer, ground_up):
    assert layer.is_ground_up is ground_up


@pytest.mark.parametrize("field, value, message", [
    ("limit", 0.0, r"Layer: limit must be in \(0, inf\], got 0.0"),
    ("limit", -1.0, r"Layer: limit must be in \(0, inf\], got -1.0"),
    ("limit", math.nan, "Layer: limit must be a number, got NaN"),
    ("limit", -math.inf, "Layer: limit must be finite, got -inf"),
    ("deductible", -0.01, r"Layer: deductible must be in \[0, inf\], got -0.01"),
    ("deductible", math.nan, "Layer: deductible must be a number, got NaN"),
    ("deductible", math.inf, "Layer: deductible must be finite, got inf"),
    ("deductible", -math.inf, "Layer: deductible must be finite, got -inf"),
    ("share", 0.0, r"Layer: share must be in \(0, 1\], got 0.0"),
    ("share", 1.5, r"Layer: share must be in \(0, 1\], got 1.5"),
    ("share", -0.2, r"Layer: share must be in \(0, 1\], got -0.2"),
    ("share", math.nan, "Layer: share must be a number, got NaN"),
    ("share", math.inf, "Layer: share must be finite, got inf"),
])
def test_bad_layer_values_name_the_field_and_value(field, value, message):
    with pytest.raises(InputError, match=message):
        ti.Layer(**{field: value})


@pytest.mark.parametrize("field", ["limit", "deductible", "share"])
@pytest.mark.parametrize("value", ["1e6", None, True, [1.0]])
def test_layer_values_of_the_wrong_type(field, value):
    with pytest.raises(InputTypeError, match=f"Layer: {field} must be a real number"):
        ti.Layer(**{field: value})


def test_layer_fields_are_stored_as_float():
    layer = ti.Layer(limit=np.int64(5), deductible=np.float32(1.5), share=1)
    assert type(layer.limit) is float and type(layer.deductible) is float and type(layer.share) is float
    assert (layer.limit, layer.deductible, layer.share) == (5.0, 1.5, 1.0)


@settings(deadline=None, max_examples=200)
@given(layer=strategies.layers(), x=strategies.money, y=strategies.money)
def test_layered_amount_is_bounded_monotone_and_one_lipschitz(layer, x, y):
    lo, hi = min(x, y), max(x, y)
    a, b = layer.apply([lo, hi]).tolist()
    top = layer.limit * layer.share
    assert 0.0 <= a <= b <= top
    # the layer never pays more than its share of the increase in the ground-up amount (up to the
    # rounding of x - deductible)
    rounding = 4.0 * np.finfo(float).eps * layer.share * (hi + layer.deductible)
    assert b - a <= layer.share * (hi - lo) + rounding
    if hi <= layer.deductible:
        assert b == 0.0
    if lo >= layer.exhaustion_point:
        assert a == pytest.approx(top, rel=1e-15)


@settings(deadline=None, max_examples=100)
@given(layer=strategies.layers(), x=strategies.money)
def test_layered_amount_equals_the_formula_written_with_python_floats(layer, x):
    expected = layer.share * min(max(x - layer.deductible, 0.0), layer.limit)
    assert float(layer.apply(x)) == expected


# ----------------------------------------------------------------------------------------------- Line
def test_line_type_checks():
    with pytest.raises(InputTypeError, match="Line: frequency must be a frequency law"):
        ti.Line(5.0, ti.Exponential(1.0))
    with pytest.raises(InputTypeError, match="Line: frequency must be a frequency law"):
        ti.Line(ti.Exponential(1.0), ti.Exponential(1.0))
    with pytest.raises(InputTypeError, match="Line: severity must be a severity law"):
        ti.Line(ti.Poisson(1.0), ti.Poisson(1.0))
    with pytest.raises(InputTypeError, match="Line: occurrence must be a Layer or None"):
        ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=(5e6, 1e6))
    with pytest.raises(InputTypeError, match="Line: aggregate must be a Layer or None"):
        ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), aggregate=2e7)


def test_default_terms_are_ground_up():
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0))
    assert line.occurrence_layer == ti.Layer() and line.aggregate_layer == ti.Layer()
    given = ti.Layer(limit=3.0)
    assert ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=given).occurrence_layer is given


def exponential_layer_moments(theta, d, l, s):
    """``E[Y]``, ``E[Y^2]`` of ``Y = s min(max(X - d, 0), l)`` for ``X ~ Exp(mean theta)``, integrated by hand:
    ``int_0^l e^{-(d+t)/theta} dt = theta e^{-d/theta} (1 - e^{-l/theta})`` and
    ``int_0^l 2 t e^{-(d+t)/theta} dt = 2 theta^2 e^{-d/theta} (1 - e^{-l/theta} (1 + l/theta))``."""
    tail = math.exp(-d / theta)
    cut = math.exp(-l / theta) if math.isfinite(l) else 0.0
    first = theta * tail * (1.0 - cut)
    second = 2.0 * theta * theta * tail * (1.0 - cut * (1.0 + (l / theta if math.isfinite(l) else 0.0)))
    return s * first, s * s * second


@pytest.mark.parametrize("theta, d, l, s", [
    (1000.0, 0.0, math.inf, 1.0),
    (1000.0, 200.0, 5000.0, 1.0),
    (1000.0, 200.0, 5000.0, 0.3),
    (2.5e5, 1e6, 2e6, 0.75),
    (50.0, 0.0, 20.0, 1.0),
])
def test_poisson_exponential_against_the_closed_form(theta, d, l, s):
    lam = 3.7
    line = ti.Line(ti.Poisson(lam), ti.Exponential(theta), occurrence=ti.Layer(limit=l, deductible=d, share=s))
    ey, ey2 = exponential_layer_moments(theta, d, l, s)
    assert line.layered_severity_moments() == pytest.approx((ey, ey2), rel=1e-12)
    assert line.expected_loss() == pytest.approx(lam * ey, rel=1e-12)
    assert line.variance() == pytest.approx(lam * ey2, rel=1e-12)  # compound Poisson: lambda E[Y^2]


def test_reference_line_ground_up_and_layer():
    # ground up: E[S] = 5 exp(mu + sigma^2 / 2), Var[S] = 5 E[X^2] = 5 exp(2 mu + 2 sigma^2)
    ground_up = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0))
    assert ground_up.expected_loss() == pytest.approx(5.0 * math.exp(12.0), rel=RTOL)
    assert ground_up.expected_loss() == pytest.approx(813_773.96, abs=0.01)  # the figure of the example file
    assert ground_up.variance() == pytest.approx(5.0 * math.exp(28.0), rel=RTOL)
    # 5M xs 1M: the lognormal limited expected value (Loss Models, appendix A) by hand
    mu, sigma = 10.0, 2.0

    def lev(u):
        z = (math.log(u) - mu) / sigma
        return math.exp(mu + sigma ** 2 / 2) * stats.norm.cdf(z - sigma) + u * stats.norm.sf(z)

    layer = ti.Line(ti.Poisson(5.0), ti.LogNormal(mu, sigma), occurrence=ti.Layer(5e6, 1e6))
    assert layer.expected_loss() == pytest.approx(5.0 * (lev(6e6) - lev(1e6)), rel=1e-12)
    # README's quadrature figure; the example file's comment quotes 199,982.85, two peer packages'
    # discretised value (5e-7 below)
    assert layer.expected_loss() == pytest.approx(199_982.955, abs=0.001)


def scipy_law(law):
    """The same law built from ``scipy.stats``, independent of techins' formulas."""
    if isinstance(law, ti.LogNormal):
        return stats.lognorm(s=law.sigma, scale=math.exp(law.mu))
    if isinstance(law, ti.Gamma):
        return stats.gamma(a=law.shape, scale=law.scale)
    if isinstance(law, ti.Weibull):
        return stats.weibull_min(c=law.shape, scale=law.scale)
    if isinstance(law, ti.Pareto):
        return stats.lomax(c=law.alpha, scale=law.scale)
    if isinstance(law, ti.Exponential):
        return stats.expon(scale=float(law.mean))
    raise AssertionError(law)


def quad_moments(law, layer):
    """``E[Y]``, ``E[Y^2]`` by quadrature of scipy's survival function over the layer; an unlimited layer
    as scipy's closed-form moments less the quadrature below the deductible:
    ``E[(X - d)+] = E[X] - int_0^d S`` and ``E[(X - d)+^2] = E[X^2] - int_0^d 2 x S - 2 d E[(X - d)+]``."""
    ref = scipy_law(law)
    d, u, s = layer.deductible, layer.exhaustion_point, layer.share

    def integral(f, a, b):
        # split at the bulk of the law so quad sees where the survival function bends
        cuts = [a] + [c for c in ref.ppf([0.5, 0.9, 0.99, 0.999]) if a < c < b] + [b]
        return sum(integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-11, limit=400)[0]
                   for lo, hi in zip(cuts[:-1], cuts[1:]))

    if math.isfinite(u):
        first = integral(ref.sf, d, u)
        second = integral(lambda x: 2.0 * (x - d) * ref.sf(x), d, u)
    else:
        first = ref.mean() - (integral(ref.sf, 0.0, d) if d > 0 else 0.0)
        below = integral(lambda x: 2.0 * x * ref.sf(x), 0.0, d) if d > 0 else 0.0
        second = ref.moment(2) - below - 2.0 * d * first
    return s * first, s * s * second


SEVERITIES = [ti.LogNormal(10.0, 1.5), ti.Gamma(2.5, 4e4), ti.Weibull(0.7, 5e4), ti.Pareto(3.5, 2e5),
              ti.Exponential(8e4)]
LAYERS = [ti.Layer(), ti.Layer(limit=2e5), ti.Layer(limit=5e5, deductible=5e4, share=0.6),
          ti.Layer(deductible=1e5)]


@pytest.mark.parametrize("layer", LAYERS, ids=["ground_up", "limit", "layer_share", "deductible"])
@pytest.mark.parametrize("severity", SEVERITIES, ids=lambda law: type(law).__name__)
def test_layered_severity_moments_against_quadrature_of_scipy_laws(severity, layer):
    line = ti.Line(ti.Poisson(1.0), severity, occurrence=layer)
    ey, ey2 = line.layered_severity_moments()
    q1, q2 = quad_moments(severity, layer)
    assert ey == pytest.approx(q1, rel=1e-8)
    assert ey2 == pytest.approx(q2, rel=1e-8)


def count_moments_by_summation(law, top=4000):
    """``E[N]``, ``Var[N]`` summed from scipy's probability masses (an independent parameterisation)."""
    if isinstance(law, ti.NegativeBinomial):
        ref = stats.nbinom(n=law.size, p=law.prob)
    elif isinstance(law, ti.Binomial):
        ref = stats.binom(n=law.n, p=law.p)
    else:
        ref = stats.poisson(float(law.mean))
    k = np.arange(top + 1, dtype=float)
    pk = ref.pmf(k)
    assert pk.sum() == pytest.approx(1.0, abs=1e-13)
    mean = float(np.sum(k * pk))
    return mean, float(np.sum(k * k * pk)) - mean * mean


@pytest.mark.parametrize("frequency", [ti.NegativeBinomial(12.0, 30.0), ti.NegativeBinomial(0.4, 3.0),
                                       ti.Binomial(20, 0.15), ti.Poisson(2.0)], ids=repr)
def test_compound_moments_with_count_moments_from_scipy(frequency):
    severity = ti.LogNormal(11.5, 1.6)
    layer = ti.Layer(limit=2e6, deductible=5e4)
    line = ti.Line(frequency, severity, occurrence=layer)
    ey, ey2 = quad_moments(severity, layer)
    mean_n, var_n = count_moments_by_summation(frequency)
    assert line.expected_loss() == pytest.approx(mean_n * ey, rel=1e-8)
    assert line.variance() == pytest.approx(mean_n * (ey2 - ey * ey) + var_n * ey * ey, rel=1e-8)


def test_binomial_empirical_by_exact_enumeration():
    """Every outcome of N ~ Bin(3, 0.4) claims of sizes {10 w.p. 0.5, 40 w.p. 0.3, 100 w.p. 0.2} under
    50 xs 20 at a 60% share, enumerated: the aggregate's mean and variance with no formula at all."""
    sizes, probs = [10.0, 40.0, 100.0], [0.5, 0.3, 0.2]
    layer = ti.Layer(limit=50.0, deductible=20.0, share=0.6)
    line = ti.Line(ti.Binomial(3, 0.4), ti.Empirical(sizes, probs), occurrence=layer)
    m1 = m2 = 0.0
    for n in range(4):
        pn = math.comb(3, n) * 0.4 ** n * 0.6 ** (3 - n)
        for claims in itertools.product(range(3), repeat=n):
            p = pn * math.prod(probs[c] for c in claims)
            total = sum(0.6 * min(max(sizes[c] - 20.0, 0.0), 50.0) for c in claims)
            m1 += p * total
            m2 += p * total * total
    assert line.expected_loss() == pytest.approx(m1, rel=1e-12)
    assert line.variance() == pytest.approx(m2 - m1 * m1, rel=1e-12)
    # and by hand: E[Y] = 0.6 (0.3 x 20 + 0.2 x 50) = 9.6, E[N] = 1.2
    assert line.expected_loss() == pytest.approx(1.2 * 9.6, rel=1e-12)


def test_infinite_moments():
    heavy = ti.Pareto(alpha=0.9, scale=1e5)
    assert ti.Line(ti.Poisson(2.0), heavy).layered_severity_moments() == (math.inf, math.inf)
    assert ti.Line(ti.Poisson(2.0), heavy).expected_loss() == math.inf
    assert ti.Line(ti.Poisson(2.0), heavy).variance() == math.inf
    # a finite limit makes every moment finite: E[min(X, l)] = scale/(alpha-1) (1 - (scale/(l+scale))^(alpha-1))
    capped = ti.Line(ti.Poisson(2.0), heavy, occurrence=ti.Layer(limit=1e6))
    a, c, l = 0.9, 1e5, 1e6
    assert capped.expected_loss() == pytest.approx(2.0 * c / (a - 1.0) * (1.0 - (c / (l + c)) ** (a - 1.0)), rel=1e-10)
    assert math.isfinite(capped.variance())
    # finite mean, infinite variance
    mid = ti.Line(ti.Poisson(2.0), ti.Pareto(alpha=1.5, scale=1e5))
    assert mid.expected_loss() == pytest.approx(2.0 * 1e5 / 0.5, rel=1e-12)
    assert mid.variance() == math.inf


def test_zero_count_gives_zero_loss():
    line = ti.Line(ti.Poisson(0.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    assert line.expected_loss() == 0.0 and line.variance() == 0.0


@pytest.mark.parametrize("method", ["expected_loss", "variance"])
def test_no_closed_form_under_aggregate_terms(method):
    line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6),
                   aggregate=ti.Layer(limit=2e7))
    with pytest.raises(NotImplementedError, match=rf"Line.{method}: no closed form under aggregate terms; "
                                                   r"use techins.exact\(line\)"):
        getattr(line, method)()
    for aggregate in (ti.Layer(deductible=1.0), ti.Layer(share=0.5)):
        with pytest.raises(NotImplementedError):
            getattr(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), aggregate=aggregate), method)()


@pytest.mark.parametrize("method", ["expected_loss", "variance"])
def test_ground_up_aggregate_terms_change_nothing(method):
    plain = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    with_terms = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6),
                         aggregate=ti.Layer())
    assert getattr(with_terms, method)() == getattr(plain, method)()
    # the layered claim moments do not depend on the aggregate terms at all
    capped = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6),
                     aggregate=ti.Layer(limit=2e7))
    assert capped.layered_severity_moments() == plain.layered_severity_moments()


@pytest.mark.parametrize("severity, layer", [
    (ti.Exponential(1294.0), ti.Layer(limit=1.0, deductible=39_330.0)),
    (ti.LogNormal(10.0, 2.0), ti.Layer(limit=1e3, deductible=2e9)),
    (ti.Gamma(2.0, 1e4), ti.Layer(limit=1e4, deductible=1e6, share=0.5)),
], ids=["exponential", "lognormal", "gamma"])
def test_a_layer_far_in_the_tail_keeps_possible_moments(severity, layer):
    """Regression: the closed form subtracts whole-law moments, and for these layers it returned
    ``E[Y] = 0`` with ``E[Y^2] > 0``, or ``E[Y^2]`` seven times ``l E[Y]``. With ``Z`` the layered claim
    before the share, ``l 1{X >= u} <= Z <= l 1{X > d}``, so ``l S(u) <= E[Z] <= l S(d)`` and
    ``l^2 S(u) <= E[Z^2] <= l E[Z]``: checked with scipy's survival function."""
    ref = scipy_law(severity)
    d, u, l, s = layer.deductible, layer.exhaustion_point, layer.limit, layer.share
    line = ti.Line(ti.Poisson(2.0), severity, occurrence=layer)
    ey, ey2 = line.layered_severity_moments()
    z1, z2 = ey / s, ey2 / (s * s)
    assert l * ref.sf(u) * (1.0 - 1e-9) <= z1 <= l * ref.sf(d) * (1.0 + 1e-9)
    assert l * l * ref.sf(u) * (1.0 - 1e-9) <= z2 <= l * z1 * (1.0 + 1e-12)
    assert line.variance() >= 0.0


def closed_form_rounding(severity, layer):
    """The absolute rounding of the closed form ``E[Y] = s (LEV(u) - LEV(d))``: a few ulps of the mean."""
    return 64.0 * np.finfo(float).eps * layer.share * severity.mean()


@settings(deadline=None, max_examples=150)
@given(frequency=strategies.frequencies, severity=strategies.severities, layer=strategies.layers())
def test_layered_moments_within_their_bounds(frequency, severity, layer):
    """``0 <= E[Y] <= s min(l, E[X])``, ``E[Y]^2 <= E[Y^2] <= s l E[Y]`` (as ``0 <= Y <= s l``), and the
    compound moments are ``E[N] E[Y]`` and >= 0."""
    line = ti.Line(frequency, severity, occurrence=layer)
    ey, ey2 = line.layered_severity_moments()
    s, l = layer.share, layer.limit
    rel = 1e-12
    assert 0.0 <= ey <= s * min(l, severity.mean()) * (1.0 + rel) + closed_form_rounding(severity, layer)
    if math.isfinite(l):
        assert ey2 <= s * l * ey * (1.0 + rel)
    assert ey2 >= ey * ey * (1.0 - rel)
    assert line.expected_loss() == pytest.approx(frequency.mean() * ey, rel=1e-12, abs=0.0)
    if math.isfinite(ey2):
        assert line.variance() >= 0.0


@settings(deadline=None, max_examples=100)
@given(severity=strategies.severities, layer=strategies.layers(), extra=strategies.positive_money)
def test_expected_layer_loss_grows_with_the_limit_and_falls_with_the_deductible(severity, layer, extra):
    line = ti.Line(ti.Poisson(1.0), severity, occurrence=layer)
    wider = ti.Line(ti.Poisson(1.0), severity,
                    occurrence=ti.Layer(limit=layer.limit + extra, deductible=layer.deductible, share=layer.share))
    higher = ti.Line(ti.Poisson(1.0), severity,
                     occurrence=ti.Layer(limit=layer.limit, deductible=layer.deductible + extra, share=layer.share))
    base = line.expected_loss()
    tol = 1e-12 * base + closed_form_rounding(severity, layer)
    assert wider.expected_loss() >= base - tol
    assert higher.expected_loss() <= base + tol
