"""The exact path: FFT and Panjer on the mean-preserving lattice, against independent numbers.

Every reference here is computed another way: closed-form compound moments, brute-force
enumeration of small discrete cases, the compound Poisson-exponential law, Panjer against FFT,
published figures of peer packages.
"""

from __future__ import annotations

import importlib
import itertools
import json
import math
import time

import numpy as np
import pytest
from scipy import special

from techins.errors import AccuracyWarning, InputError, InputTypeError
from techins.exact.aggregate import ExactResult, exact
from techins.model.distributions import (
    Binomial,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    NegativeBinomial,
    Pareto,
    Poisson,
    Spliced,
    Weibull,
)
from techins.model.line import Layer, Line

# the package re-exports the function exact() under the module's name, so fetch the module itself
exact_module = importlib.import_module("techins.exact.aggregate")

FREQUENCIES = {
    "poisson": Poisson(3.0),
    "negbin": NegativeBinomial(3.0, 7.0),
    "binomial": Binomial(10, 0.3),
}
SEVERITIES = {
    "lognormal": LogNormal(1.0, 0.8),
    "gamma": Gamma(2.0, 3.0),
    "weibull": Weibull(0.8, 4.0),
    "pareto": Pareto(4.0, 9.0),
    "exponential": Exponential(5.0),
    "empirical": Empirical([1.0, 2.5, 4.0, 10.0], [0.4, 0.3, 0.2, 0.1]),
    "spliced": Spliced(LogNormal(1.0, 0.5), threshold=5.0, tail_shape=0.2, tail_scale=2.0),
}
OCCURRENCE = {"ground-up": None, "layer": Layer(limit=8.0, deductible=1.5, share=0.5)}


# ---------------------------------------------------------------------------------------- moments

@pytest.mark.parametrize("occ", OCCURRENCE, ids=str)
@pytest.mark.parametrize("sev", SEVERITIES, ids=str)
@pytest.mark.parametrize("freq", FREQUENCIES, ids=str)
def test_mean_and_variance_match_compound_moments(freq, sev, occ):
    line = Line(FREQUENCIES[freq], SEVERITIES[sev], occurrence=OCCURRENCE[occ])
    ey, ey2 = line.layered_severity_moments()
    en, vn = line.frequency.mean(), line.frequency.var()
    mean = en * ey                                   # E[S] = E[N] E[Y]
    var = en * (ey2 - ey * ey) + vn * ey * ey        # Var[S] = E[N] Var[Y] + Var[N] E[Y]^2
    ex = exact(line)                                 # no AccuracyWarning: warnings are errors here
    assert ex.mean() == pytest.approx(mean, rel=1e-4)
    assert ex.var() == pytest.approx(var, rel=1e-3)
    assert abs(ex.mean_error) < 1e-4
    assert ex.probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(ex.probs >= 0.0) and np.all(np.diff(ex.values) > 0.0)


def test_limit_sits_on_the_lattice():
    # one claim at most: S = Y, whose atom at the limit must be a lattice point with P(X > d + l)
    line = Line(Binomial(1, 0.3), Exponential(1.0), occurrence=Layer(limit=2.0, deductible=0.5))
    ex = exact(line)
    ratio = 2.0 / ex.bucket
    assert ratio == pytest.approx(round(ratio), abs=1e-9)
    at_limit = ex.probs[np.isclose(ex.values, 2.0, rtol=0.0, atol=1e-9)]
    assert at_limit.size == 1
    # the lattice point at l holds P(Y = l) plus at most the mass of the last bucket below it
    assert at_limit[0] == pytest.approx(0.3 * math.exp(-2.5), rel=0.0, abs=0.3 * ex.bucket)
    assert ex.prob_exceed(2.0) < 1e-12 and ex.quantile(1.0 - 1e-9) == pytest.approx(2.0, abs=1e-9)


# ---------------------------------------------------------------------------- exact small cases

def _enumerate(counts: dict[int, float], atoms: dict[float, float]) -> dict[float, float]:
    """Law of S = X_1 + ... + X_N by brute force over every count and every tuple of claims."""
    law: dict[float, float] = {}
    for k, pk in counts.items():
        for claims in itertools.product(atoms.items(), repeat=k):
            s = sum(x for x, _ in claims)
            p = pk * math.prod(q for _, q in claims)
            law[s] = law.get(s, 0.0) + p
    return law


def test_binomial_empirical_equals_enumeration():
    # N ~ Binomial(2, 1/2), X in {1, 2} with 1/2 each: S = 0 (1/4), 1 (1/4), 2 (5/16), 3 (1/8), 4 (1/16)
    line = Line(Binomial(2, 0.5), Empirical([1.0, 2.0]))
    by_hand = {0.0: 0.25, 1.0: 0.25, 2.0: 0.25 + 0.25 * 0.25, 3.0: 0.125, 4.0: 0.0625}
    assert _enumerate({0: 0.25, 1: 0.5, 2: 0.25}, {1.0: 0.5, 2.0: 0.5}) == pytest.approx(by_hand)
    for method in ("fft", "panjer"):
        ex = exact(line, method=method, bucket=1.0, n_buckets=8)
        got = dict(zip(ex.values.tolist(), ex.probs.tolist()))
        for s in range(8):
            assert got[float(s)] == pytest.approx(by_hand.get(float(s), 0.0), abs=1e-12)
        # F = 1/4, 1/2, 13/16, 15/16, 1 at 0 .. 4
        assert [ex.quantile(p) for p in (0.25, 0.5, 0.6, 0.9, 0.95)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_aggregate_layer_matches_enumeration():
    counts = {k: float(Binomial(3, 0.4).pmf(k)) for k in range(4)}
    sev = Empirical([1.0, 2.0, 5.0], [0.5, 0.3, 0.2])
    occ = Layer(limit=3.0, deductible=1.0)        # claims 1, 2, 5 become 0, 1, 3
    agg = Layer(limit=4.0, deductible=2.0, share=0.5)
    atoms = {min(max(x - 1.0, 0.0), 3.0): p for x, p in zip(sev.support, sev.probs)}
    law = _enumerate(counts, atoms)
    layered: dict[float, float] = {}
    for s, p in law.items():
        y = 0.5 * min(max(s - 2.0, 0.0), 4.0)
        layered[y] = layered.get(y, 0.0) + p
    mean = sum(y * p for y, p in layered.items())
    line = Line(Binomial(3, 0.4), sev, occurrence=occ, aggregate=agg)
    for method in ("fft", "panjer"):
        ex = exact(line, method=method, bucket=1.0, n_buckets=16)
        assert ex.mean() == pytest.approx(mean, abs=1e-12)
        got = dict(zip(ex.values.tolist(), ex.probs.tolist()))
        assert set(got) == set(layered)          # clipped points merged: one atom at 0, one at 2
        for y, p in layered.items():
            assert got[y] == pytest.approx(p, abs=1e-12)
    # the automatic grid (the lattice does not hit the atoms) keeps the mean
    assert exact(line).mean() == pytest.approx(mean, rel=1e-4)


def _compound_poisson_exponential_cdf(x, lam: float, mu: float) -> np.ndarray:
    """P(S <= x) for S compound Poisson(lam) with exponential(mu) claims: Erlang mixture."""
    x = np.asarray(x, dtype=float)
    k = np.arange(1, 400)
    weights = np.exp(k * math.log(lam) - lam - special.gammaln(k + 1.0))
    return math.exp(-lam) + special.gammainc(k[None, :], x[:, None] / mu) @ weights


def test_poisson_exponential_matches_closed_form():
    lam, mu = 3.0, 2.0
    ex = exact(Line(Poisson(lam), Exponential(mu)))
    h = ex.bucket
    # the atom at 0: P(S_h = 0) = P_N(f_0) with f_0 = 1 - E[X ^ h] / h, in closed form
    f0 = 1.0 - mu * (1.0 - math.exp(-h / mu)) / h
    assert ex.probs[0] == pytest.approx(math.exp(-lam * (1.0 - f0)), rel=1e-9)
    assert ex.probs[0] == pytest.approx(math.exp(-lam), rel=lam * h / mu)
    # the lattice cdf at j h is the true cdf half a bucket further, to O(h^2)
    j = np.array([1, 10, 100, 500, 1000, 2000, 4000])
    j = j[j < ex.n_buckets - 1]
    lattice = np.cumsum(ex.probs)[j]
    truth = _compound_poisson_exponential_cdf((j + 0.5) * h, lam, mu)
    assert np.max(np.abs(lattice - truth)) < 20 * h * h
    for p in (0.9, 0.99, 0.995, 0.999):
        q_true = _quantile_of(lambda x: _compound_poisson_exponential_cdf([x], lam, mu)[0], p, 1e3)
        assert ex.quantile(p) == pytest.approx(q_true, rel=1e-3)


def _quantile_of(cdf, p: float, hi: float) -> float:
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if cdf(mid) >= p else (mid, hi)
    return hi


def test_oep_matches_pgf_of_severity_cdf():
    lam, mu = 4.0, 1.5
    ex = exact(Line(Poisson(lam), Exponential(mu)))
    for p in (0.5, 0.9, 0.99, 0.999):
        u = 1.0 + math.log(p) / lam                   # P(M <= x) = exp(-lam (1 - F(x))) = p
        x_true = -mu * math.log1p(-u)
        assert ex.oep_quantile(p) == pytest.approx(x_true, abs=2 * ex.bucket)
    curve = ex.ep_curve()
    assert list(curve.columns) == ["return_period", "exceedance_prob", "aep", "aep_tvar", "oep", "oep_tvar"]
    row = curve[curve.return_period == 100.0].iloc[0]
    assert row.exceedance_prob == pytest.approx(0.01)
    assert row.aep == ex.quantile(0.99) and row.aep_tvar == ex.tvar(0.99)
    assert row.oep == ex.oep_quantile(0.99)
    # the largest claim is at most the sum, the aggregate at least the largest claim
    assert np.all(curve.oep <= curve.aep + 1e-12) and np.all(curve.oep_tvar <= curve.aep_tvar + 1e-9)


# ---------------------------------------------------------------------------------- two routes

@pytest.mark.parametrize("freq", [Poisson(4.0), NegativeBinomial(4.0, 9.0), Binomial(12, 0.25)],
                         ids=["poisson", "negbin", "binomial"])
def test_fft_and_panjer_agree_on_the_same_grid(freq):
    line = Line(freq, LogNormal(1.0, 1.0), occurrence=Layer(limit=30.0, deductible=0.5))
    panjer = exact(line, method="panjer")
    fft = exact(line, method="fft", bucket=panjer.bucket, n_buckets=panjer.n_buckets)
    assert panjer.method == "panjer" and any("panjer" in note for note in panjer.notes)
    np.testing.assert_array_equal(fft.values, panjer.values)
    np.testing.assert_allclose(np.cumsum(fft.probs), np.cumsum(panjer.probs), rtol=0.0, atol=1e-12)
    for p in (0.5, 0.9, 0.99, 0.995, 0.999):
        assert fft.quantile(p) == panjer.quantile(p)
        assert fft.tvar(p) == pytest.approx(panjer.tvar(p), rel=1e-8)


def test_automatic_quantiles_agree_with_a_four_times_finer_grid():
    line = Line(NegativeBinomial(6.0, 15.0), Gamma(0.7, 5.0))
    ex = exact(line)
    fine = exact(line, bucket=ex.bucket / 4, n_buckets=4 * ex.n_buckets)
    for p in (0.9, 0.95, 0.99, 0.995, 0.999):
        assert ex.quantile(p) == pytest.approx(fine.quantile(p), rel=1e-3)
        assert ex.tvar(p) == pytest.approx(fine.tvar(p), rel=1e-4)


def test_tilt_keeps_wrapped_mass_off_small_losses():
    # a grid far too short: mass beyond the top must be reported, not wrapped onto small losses
    line = Line(Poisson(5.0), Exponential(1.0))
    long = exact(line, bucket=0.01, n_buckets=8192)
    with pytest.warns(AccuracyWarning) as record:
        short = exact(line, bucket=0.01, n_buckets=512)
    assert any("at or above the grid top" in str(w.message) for w in record)
    below = 300                                      # losses below 3
    np.testing.assert_allclose(short.probs[:below], long.probs[:below], rtol=1e-3, atol=1e-12)
    # P(S >= top = 5.11), less the share e^-10 that the tilt lets wrap round
    assert short.tail_mass == pytest.approx(long.prob_exceed(5.105), rel=1e-4)
    # without the tilt the same grid wraps that mass onto the small losses (the check above can fail)
    claim = exact_module._Claim(line)
    f, _ = exact_module._discretise(claim, 0.01, 512)
    wrapped = exact_module._fft_aggregate(f, line.frequency, tilt=0.0)
    assert np.max(np.abs(wrapped[:below] - long.probs[:below])) > 1e-4


# ------------------------------------------------------------------------------ peer figures

def test_poisson_lognormal_peer_figures_and_speed():
    line = Line(Poisson(5.0), LogNormal(10.0, 2.0))
    exact(Line(Poisson(1.0), Exponential(1.0)))     # imports and first calls out of the timing
    start = time.perf_counter()
    ex = exact(line)
    seconds = time.perf_counter() - start
    print(f"\nPoisson(5) x LogNormal(10, 2): {seconds:.3f} s; {ex.describe()}")
    print(f"mean {ex.mean():,.2f}  VaR99.5 {ex.quantile(0.995):,.0f}  TVaR99 {ex.tvar(0.99):,.0f}")
    assert ex.mean() == pytest.approx(5.0 * math.exp(12.0), rel=1e-4)   # 813,773.96
    assert ex.quantile(0.995) == pytest.approx(11_447_000.0, rel=1e-3)
    assert ex.tvar(0.99) == pytest.approx(16_262_090.0, rel=1e-3)
    assert ex.method == "fft" and ex.n_buckets & (ex.n_buckets - 1) == 0
    assert 2 ** 10 <= ex.n_buckets <= 2 ** 22


# ------------------------------------------------------------------------ warnings and errors

def test_warns_when_the_forced_grid_is_too_small():
    line = Line(Poisson(5.0), LogNormal(10.0, 2.0))
    with pytest.warns(AccuracyWarning) as record:
        ex = exact(line, bucket=1000.0, n_buckets=1024)
    text = " ".join(str(w.message) for w in record)
    assert "off the closed form" in text and "n_buckets" in text
    assert ex.tail_mass > 1e-9 and ex.mean_error < -1e-4
    assert ex.severity_mean_lost > 0.0


def test_panjer_underflow_is_an_input_error():
    # a bucket of 0.05 leaves f_0 = 0.025, so P_N(f_0) = exp(-975) underflows
    with pytest.raises(InputError, match="underflows.*fft"):
        exact(Line(Poisson(1000.0), Exponential(1.0)), method="panjer", bucket=0.05)
    # the FFT route handles it
    assert exact(Line(Poisson(1000.0), Exponential(1.0))).mean() == pytest.approx(1000.0, rel=1e-4)


def test_infinite_mean_warns_and_keeps_quantiles():
    line = Line(Poisson(2.0), Pareto(0.8, 1.0))
    with pytest.warns(AccuracyWarning, match="infinite mean"):
        ex = exact(line)
    assert math.isnan(ex.mean_error) and ex.summary()["mean_error"] is None
    # P(M <= x) = exp(-2 S(x)) and M <= S: the aggregate 0.99-quantile is above the largest claim's
    x_max = float(Pareto(0.8, 1.0).isf(-math.log(0.99) / 2.0))
    assert ex.oep_quantile(0.99) == pytest.approx(x_max, rel=2e-3)
    assert ex.quantile(0.99) >= ex.oep_quantile(0.99)


@pytest.mark.parametrize("kwargs, error", [
    ({"method": "mc"}, InputError),
    ({"bucket": -1.0}, InputError),
    ({"bucket": math.nan}, InputError),
    ({"n_buckets": 1}, InputError),
    ({"n_buckets": 2.0}, InputTypeError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        exact(Line(Poisson(1.0), Exponential(1.0)), **kwargs)


def test_line_must_be_a_line():
    with pytest.raises(InputTypeError):
        exact("not a line")


# ----------------------------------------------------------------------------- the result API

def test_result_api():
    line = Line(Poisson(2.0), Gamma(2.0, 1.0), aggregate=Layer(limit=6.0, deductible=1.0))
    ex = exact(line)
    assert isinstance(ex, ExactResult)
    for figure in ("mean", "std", "quantile", "tvar", "prob_exceed"):
        assert ex.stderr(figure, 0.99) == 0.0
    with pytest.raises(InputError, match="mean"):
        ex.stderr("median")
    with pytest.raises(InputError):
        ex.quantile(1.5)
    with pytest.raises(InputError):
        ex.tvar(1.0)
    assert ex.cdf(3.0) + ex.prob_exceed(3.0) == pytest.approx(1.0)
    assert ex.quantile(1.0) == pytest.approx(6.0) and ex.prob_exceed(6.0) == 0.0
    assert ex.std() == pytest.approx(math.sqrt(ex.var()))
    with pytest.raises(ValueError):
        ex.values[0] = 1.0                           # read-only
    summary = ex.summary()
    json.dumps(summary, allow_nan=False)
    for key in ("mean", "std", "quantile_99", "tvar_99", "quantile_995", "tvar_995", "bucket",
                "n_buckets", "tail_mass", "severity_mean_lost"):
        assert key in summary
    assert summary["quantile_995"] == ex.quantile(0.995)
    text = ex.describe()
    assert "fft" in text and "h =" in text and "\n" not in text
    assert exact_module.__all__ == ["exact", "ExactResult"]
