"""The Monte Carlo engine against independent numbers: closed-form compound moments, the exact
FFT path, thinning against full sampling; reproducibility across thread counts; bad input."""

import math
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, stats

import techins as ti
from techins.kernels import compound
from tests import strategies

FREQUENCIES = {
    "poisson": ti.Poisson(3.0),
    "negbin": ti.NegativeBinomial(3.0, 7.0),
    "binomial": ti.Binomial(10, 0.3),
}
SEVERITIES = {
    "lognormal": ti.LogNormal(1.0, 0.8),
    "gamma": ti.Gamma(2.0, 3.0),
    "weibull": ti.Weibull(0.8, 4.0),
    "pareto": ti.Pareto(4.5, 9.0),
    "exponential": ti.Exponential(5.0),
    "empirical": ti.Empirical([1.0, 2.5, 4.0, 10.0], [0.4, 0.3, 0.2, 0.1]),
    "spliced": ti.Spliced(ti.LogNormal(1.0, 0.5), threshold=5.0, tail_shape=0.2, tail_scale=2.0),
    "spliced_gamma_body": ti.Spliced(ti.Gamma(2.0, 1.5), threshold=6.0, tail_shape=0.1, tail_scale=3.0,
                                     tail_prob=0.05),
}
OCCURRENCE = {"ground-up": None, "layer": ti.Layer(limit=8.0, deductible=1.5, share=0.5)}
YEARS = 200_000
Z = 4.0  # a correct engine fails one of these checks at 4 standard errors about once in 16,000


@pytest.mark.parametrize("occ", OCCURRENCE, ids=str)
@pytest.mark.parametrize("sev", SEVERITIES, ids=str)
@pytest.mark.parametrize("freq", FREQUENCIES, ids=str)
def test_mean_and_variance_match_compound_moments(freq, sev, occ):
    line = ti.Line(FREQUENCIES[freq], SEVERITIES[sev], occurrence=OCCURRENCE[occ])
    sim = ti.simulate(line, years=YEARS, seed=2024)
    mean, var = line.expected_loss(), line.variance()  # E[N]E[Y]; E[N]Var[Y] + Var[N]E[Y]^2
    assert abs(sim.mean() - mean) < Z * sim.stderr("mean")
    # standard error of the sample variance: sqrt((m4 - s^4) / n)
    m4 = np.mean((sim.annual - sim.mean()) ** 4)
    se_var = math.sqrt((m4 - sim.var() ** 2) / sim.years)
    assert abs(sim.var() - var) < Z * se_var


@pytest.mark.parametrize("freq", FREQUENCIES, ids=str)
def test_claim_counts_follow_the_frequency_law(freq):
    law = FREQUENCIES[freq]
    sim = ti.simulate(ti.Line(law, ti.Exponential(1.0)), years=YEARS, seed=5)
    top = int(law.cdf(np.arange(200)).searchsorted(1 - 1e-7))
    observed = np.bincount(np.minimum(sim.counts, top), minlength=top + 1)
    expected = law.pmf(np.arange(top + 1)) * sim.years
    expected[-1] += sim.years - expected.sum()
    keep = expected > 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3


def test_poisson_chunk_scatter_gives_independent_poisson_years():
    # the Poisson path draws a chunk total and scatters claims over years: counts of neighbouring years
    # must be uncorrelated and each year Poisson
    sim = ti.simulate(ti.Line(ti.Poisson(2.0), ti.Exponential(1.0)), years=YEARS, seed=9)
    c = sim.counts.astype(float)
    assert abs(np.corrcoef(c[:-1], c[1:])[0, 1]) < Z / math.sqrt(c.size)
    assert abs(c.var() / 2.0 - 1.0) < Z * math.sqrt(2.0 / c.size) * 1.5


@pytest.mark.parametrize("sev", ["lognormal", "gamma", "weibull", "pareto", "empirical", "spliced",
                                 "spliced_gamma_body"])
def test_thinned_and_full_sampling_agree(sev):
    line = ti.Line(ti.NegativeBinomial(4.0, 9.0), SEVERITIES[sev],
                   occurrence=ti.Layer(limit=6.0, deductible=3.0), aggregate=ti.Layer(limit=30.0))
    thin = ti.simulate(line, years=YEARS, seed=1)
    full = ti.simulate(line, years=YEARS, seed=2, thin=False)
    assert thin.counted_above == 3.0 and full.counted_above == 0.0
    se = math.hypot(thin.stderr("mean"), full.stderr("mean"))
    assert abs(thin.mean() - full.mean()) < Z * se
    assert stats.ks_2samp(thin.annual, full.annual).pvalue > 1e-3


def test_monte_carlo_agrees_with_exact_within_its_error():
    line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6),
                   aggregate=ti.Layer(limit=2e7, deductible=1e5))
    sim = ti.simulate(line, years=1_000_000, seed=11)
    ex = ti.exact(line)
    assert abs(sim.mean() - ex.mean()) < Z * sim.stderr("mean")
    assert abs(sim.std() - ex.std()) < Z * sim.stderr("std")
    for p in (0.9, 0.99, 0.995):
        lo, hi = sim.ci("quantile", p, level=0.9999)
        assert lo <= ex.quantile(p) <= hi
        assert abs(sim.tvar(p) - ex.tvar(p)) < Z * sim.stderr("tvar", p)
    x = 5e6
    assert abs(sim.prob_exceed(x) - ex.prob_exceed(x)) < Z * sim.stderr("prob_exceed", x)
    sim_ep, ex_ep = sim.ep_curve(), ex.ep_curve()
    for t in (50.0, 100.0):
        s_row = sim_ep[sim_ep.return_period == t].iloc[0]
        e_row = ex_ep[ex_ep.return_period == t].iloc[0]
        assert s_row.oep_low - 1e-6 <= e_row.oep <= s_row.oep_high + 1e-6


def test_reference_layer_expected_loss():
    # E[N] * integral of the severity's survival function over the layer, by scipy quadrature:
    # 199,982.955; two peer packages (discretised) report 199,982.85 (docs/performance.md)
    line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    by_quadrature = 5.0 * integrate.quad(stats.lognorm(s=2.0, scale=math.exp(10.0)).sf, 1e6, 6e6,
                                         epsrel=1e-12, limit=200)[0]
    assert line.expected_loss() == pytest.approx(by_quadrature, rel=1e-10)
    assert line.expected_loss() == pytest.approx(199_982.85, rel=1e-6)
    sim = ti.simulate(line, years=2_000_000, seed=3)
    assert abs(sim.mean() - by_quadrature) < Z * sim.stderr("mean")


def test_same_seed_same_numbers_other_seed_other_numbers():
    line = ti.Line(ti.Poisson(2.0), ti.Gamma(2.0, 10.0))
    a = ti.simulate(line, years=50_000, seed=7)
    b = ti.simulate(line, years=50_000, seed=7)
    c = ti.simulate(line, years=50_000, seed=8)
    assert np.array_equal(a.annual, b.annual) and np.array_equal(a.counts, b.counts)
    assert not np.array_equal(a.annual, c.annual)


def test_a_prefix_of_years_is_a_prefix_of_the_run():
    # chunks are keyed by position: a longer run repeats the shorter one's complete chunks
    line = ti.Line(ti.Poisson(2.0), ti.Gamma(2.0, 10.0))
    from techins.simulation.plan import CHUNK_YEARS
    short = ti.simulate(line, years=2 * CHUNK_YEARS, seed=4)
    long = ti.simulate(line, years=5 * CHUNK_YEARS + 17, seed=4)
    assert np.array_equal(short.annual, long.annual[: 2 * CHUNK_YEARS])


_DIGEST = """
import hashlib, techins as ti, numba
line = ti.Line(ti.NegativeBinomial(5.0, 12.0), ti.LogNormal(10.0, 2.0),
               occurrence=ti.Layer(5e6, 1e6), aggregate=ti.Layer(2e7, 0.0))
sim = ti.simulate(line, years=300_000, seed=99)
print(numba.get_num_threads(), hashlib.sha256(sim.annual.tobytes() + sim.max_occurrence.tobytes()).hexdigest())
"""


def test_identical_annual_losses_with_one_and_two_threads():
    digests = {}
    for threads in (1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
        assert out[0] == str(threads)
        digests[threads] = out[1]
    assert digests[1] == digests[2]


def test_threads_argument_does_not_change_results():
    line = ti.Line(ti.Binomial(50, 0.4), ti.Weibull(0.7, 1e4), occurrence=ti.Layer(1e5, 2e3))
    one = ti.simulate(line, years=100_000, seed=5, threads=1)
    two = ti.simulate(line, years=100_000, seed=5, threads=min(2, numba.config.NUMBA_NUM_THREADS))
    assert np.array_equal(one.annual, two.annual)


@settings(deadline=None, max_examples=40)
@given(freq=strategies.frequencies, sev=strategies.severities, occ=strategies.layers(),
       agg=strategies.layers(), seed=st.integers(0, 2**32))
def test_layered_losses_are_bounded(freq, sev, occ, agg, seed):
    line = ti.Line(freq, sev, occurrence=occ, aggregate=agg)
    sim = ti.simulate(line, years=500, seed=seed)
    assert np.all(sim.max_occurrence >= 0.0)
    assert np.all(sim.max_occurrence <= occ.share * occ.limit)
    assert np.all(sim.annual >= 0.0)
    assert np.all(sim.annual <= agg.share * agg.limit)


@settings(deadline=None)
@given(layer=strategies.layers(), a=strategies.money, b=strategies.money)
def test_layer_is_monotone_and_bounded(layer, a, b):
    lo, hi = min(a, b), max(a, b)
    y_lo, y_hi = layer.apply([lo, hi])
    assert 0.0 <= y_lo <= y_hi <= layer.share * layer.limit
    # the kernel's layer function is the same map
    assert compound.layer(hi, layer.deductible, layer.limit, layer.share) == y_hi


def test_result_figures_follow_their_definitions():
    # a hand-made sample: quantile is the ceil(n p)-th order statistic; TVaR the mean of the top
    sim = ti.SimulationResult(annual=np.array([5.0, 1.0, 3.0, 2.0, 4.0] * 20), max_occurrence=np.zeros(100),
                              counts=np.zeros(100, dtype=np.int64), seed=0, line=None)
    assert sim.quantile(0.5) == 3.0
    assert sim.quantile(0.8) == 4.0          # F(4) = 0.8 exactly
    assert sim.quantile(0.81) == 5.0
    assert sim.tvar(0.8) == pytest.approx(5.0, rel=1e-15)
    assert sim.tvar(0.7) == pytest.approx((0.1 * 4 + 0.2 * 5) / 0.3)
    assert sim.prob_exceed(4.0) == 0.2
    assert sim.stderr("prob_exceed", 4.0) == pytest.approx(math.sqrt(0.2 * 0.8 / 100))
    assert sim.stderr("mean") == pytest.approx(np.std([5, 1, 3, 2, 4] * 20, ddof=1) / 10)


@pytest.mark.parametrize("call,match", [
    (lambda line: ti.simulate(line, years=0, seed=1), "years"),
    (lambda line: ti.simulate(line, years=10, seed=1.5), "seed"),
    (lambda line: ti.simulate(line, years=10, seed=-1), "seed"),
    (lambda line: ti.simulate(line, years=10, seed=1, backend="spark"), "backend"),
    (lambda line: ti.simulate("line", years=10, seed=1), "Line"),
])
def test_bad_arguments_are_value_or_type_errors(call, match):
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0))
    with pytest.raises((ValueError, TypeError), match=match):
        call(line)


@pytest.mark.parametrize("make,match", [
    (lambda: ti.Poisson(-1), "mean"),
    (lambda: ti.LogNormal(mu=10.0, sigma=0.0), "sigma"),
    (lambda: ti.Layer(limit=-5), "limit"),
    (lambda: ti.Layer(limit=1.0, deductible=float("nan")), "deductible"),
    (lambda: ti.Gamma(float("nan"), 1.0), "shape"),
])
def test_bad_parameters_name_parameter_and_value(make, match):
    with pytest.raises(ti.InputError, match=match) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_stderr_rejects_unknown_figure():
    sim = ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), years=100, seed=1)
    with pytest.raises(ti.InputError, match="figure"):
        sim.stderr("median")
    with pytest.raises(ti.InputError, match="level p"):
        sim.stderr("quantile")


@pytest.mark.parametrize("deductible", [1e-298, 1e-3, 0.3, 4.0])
def test_gamma_below_one_above_any_deductible(deductible):
    """Gamma(0.2) above a tiny deductible: the exponential proposal's acceptance vanishes like
    d**0.8 there (a hang hypothesis found at d = 1e-298); the sampler switches to plain rejection."""
    line = ti.Line(ti.Poisson(5.0), ti.Gamma(0.2, 1.0), occurrence=ti.Layer(limit=math.inf, deductible=deductible))
    sim = ti.simulate(line, years=100_000, seed=4)
    assert abs(sim.mean() - line.expected_loss()) < 4 * sim.stderr("mean")
