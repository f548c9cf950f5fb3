"""Claim-size samplers, ground-up and conditional on exceeding a deductible, against scipy (KS)."""

import numpy as np
import pytest
from scipy import stats

from techins.kernels import severity as sk

N = 100_000
P_MIN = 1e-3


def draw(code, params, n=N, values=None, probs=None, aliases=None):
    p = np.zeros(sk.N_PARAMS)
    p[: len(params)] = params
    values = np.zeros(1) if values is None else values
    probs = np.ones(1) if probs is None else probs
    aliases = np.zeros(1, dtype=np.intp) if aliases is None else aliases
    out = np.empty(n)
    s = np.random.SeedSequence(7).generate_state(4, np.uint64)
    sk.fill(s, code, p, values, probs, aliases, out, n)
    return out


def conditional_cdf(law, d):
    s_d = law.sf(d)
    return lambda x: np.where(x > d, (law.cdf(x) - law.cdf(d)) / s_d, 0.0)


LAWS = {
    "lognormal": (sk.LOGNORMAL, stats.lognorm(s=2.0, scale=np.exp(10.0)), (10.0, 2.0)),
    "gamma_small_shape": (sk.GAMMA, stats.gamma(0.4, scale=3e4), (0.4, 3e4)),
    "gamma": (sk.GAMMA, stats.gamma(3.5, scale=2e4), (3.5, 2e4)),
    "weibull": (sk.WEIBULL, stats.weibull_min(0.7, scale=5e4), (0.7, 5e4)),
    "pareto": (sk.PARETO, stats.lomax(2.5, scale=1e5), (2.5, 1e5)),
    "exponential": (sk.EXPONENTIAL, stats.expon(scale=4e4), (4e4,)),
}


def kernel_params(name, d):
    code, law, base = LAWS[name]
    if code == sk.LOGNORMAL:
        return base + (d, law.sf(d) if d > 0 else 1.0)
    if code == sk.WEIBULL:
        return base + (d, (d / base[1]) ** base[0])
    if code == sk.EXPONENTIAL:
        return base + (d,)
    return base + (d,)


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("quantile_of_d", [0.0, 0.5, 0.99, 0.99999])
def test_conditional_sampler_ks(name, quantile_of_d):
    code, law, _ = LAWS[name]
    d = float(law.ppf(quantile_of_d)) if quantile_of_d > 0 else 0.0
    x = draw(code, kernel_params(name, d))
    assert x.min() >= d
    assert stats.kstest(x, conditional_cdf(law, d)).pvalue > P_MIN


def test_gamma_tail_far_above_mode_uses_exponential_proposal():
    law = stats.gamma(3.5, scale=1.0)
    d = float(law.isf(1e-9))
    x = draw(sk.GAMMA, (3.5, 1.0, d), n=20_000)
    assert stats.kstest(x, conditional_cdf(law, d)).pvalue > P_MIN


def test_gpd_excess_ks():
    for xi in (-0.2, 0.0, 0.4):
        s = np.random.SeedSequence(3).generate_state(4, np.uint64)
        x = np.array([sk.gpd(s, xi, 2.0) for _ in range(20_000)])
        assert stats.kstest(x, stats.genpareto(xi, scale=2.0).cdf).pvalue > P_MIN


def test_alias_table_draws_match_probabilities():
    from techins.simulation.plan import alias_table

    values = np.array([1.0, 5.0, 7.0, 100.0])
    probs = np.array([0.1, 0.6, 0.25, 0.05])
    accept, alias = alias_table(probs)
    x = draw(sk.EMPIRICAL, (), n=200_000, values=values, probs=accept, aliases=alias)
    counts = np.array([(x == v).sum() for v in values])
    assert counts.sum() == x.size
    assert stats.chisquare(counts, probs * x.size).pvalue > P_MIN
