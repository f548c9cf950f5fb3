"""Books of policies with common shocks: expected losses and covariances against closed forms, the
alias-sampled book against a per-policy simulation, reproducibility, and bad input."""

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import techins as ti

Z = 4.0


def policies(**columns):
    n = len(next(iter(columns.values())))
    base = {"policy_id": [f"P{i:03d}" for i in range(n)], "line": ["cyber"] * n,
            "claim_rate": [0.0] * n, "severity": ["claim"] * n}
    base.update(columns)
    return pd.DataFrame(base)


def layered_mean(law, scale, deductible, limit, share):
    # E[share * min(max(scale X - d, 0), l)] = share * scale * (LEV((d + l)/scale) - LEV(d/scale))
    top = law.mean() if math.isinf(limit) else float(law.lev((deductible + limit) / scale))
    return share * scale * (top - float(law.lev(deductible / scale)))


def test_policy_expected_losses_match_closed_form():
    law = ti.LogNormal(9.0, 1.2)
    table = policies(claim_rate=[0.8, 0.3, 1.5, 0.05], severity_scale=[1.0, 2.5, 0.7, 10.0],
                     deductible=[0.0, 5e3, 2e3, 1e5], limit=[math.inf, 4e4, 1e4, 2e5], share=[1.0, 0.5, 1.0, 0.3])
    book = ti.Portfolio(table, {"claim": law})
    sim = ti.simulate(book, years=200_000, seed=3)
    got = sim.policy_table()
    for i, row in table.iterrows():
        expected = row.claim_rate * layered_mean(law, row.severity_scale, row.deductible, row.limit, row.share)
        assert abs(got.expected_loss[i] - expected) < Z * got.expected_loss_stderr[i], row.policy_id
    assert abs(sim.mean() - got.expected_loss.sum()) < 1e-6 * sim.mean()
    np.testing.assert_allclose(sim.line_annual.sum(axis=0), sim.annual, rtol=1e-12)


def test_common_poisson_shock_covariance_matches_closed_form():
    # two policies exposed to one shock and nothing else: with event rate r, hit probability q and
    # hit size G * SI, Cov(X1, X2) = r q^2 E[G]^2 SI1 SI2 and Var(X1) = r q E[G^2] SI1^2
    r, q, si1, si2 = 0.7, 0.6, 2e6, 5e5
    g = ti.Gamma(2.0, 0.05)
    table = policies(line=["a", "b"], sum_insured=[si1, si2], vendor=["v", "v"])
    shock = ti.CommonShock("outage", rate=r, factor="vendor", values=("v",), hit_probability=q, severity=g)
    sim = ti.simulate(ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, shocks=(shock,)), years=300_000, seed=8)
    x1, x2 = sim.line_annual
    products = (x1 - x1.mean()) * (x2 - x2.mean())
    cov_expected = r * q * q * g.mean() ** 2 * si1 * si2
    assert abs(products.mean() - cov_expected) < Z * products.std() / math.sqrt(products.size)
    var_expected = r * q * g.moment(2) * si1 ** 2
    sq = (x1 - x1.mean()) ** 2
    assert abs(sq.mean() - var_expected) < Z * sq.std() / math.sqrt(sq.size)
    # the per-policy covariance with the book is Var(X1) + Cov(X1, X2)
    cov_book = sim.policy_table().cov_with_book[0]
    assert abs(cov_book - (var_expected + cov_expected)) < Z * 1.5 * (sq + products).std() / math.sqrt(sq.size)


def test_batch_clause_is_one_occurrence_with_one_deductible_and_limit():
    # both policies always hit; each hit 0.5 or 1.0 of SI = 1, so the event total is 1.0, 1.5, 2.0 with
    # probabilities 1/4, 1/2, 1/4; under a batch clause 0.5 xs 0.8 on the total pays 0.2, 0.5, 0.5:
    # 0.425 per event, times 2.0 events a year
    table = policies(sum_insured=[1.0, 1.0], batch=["B1", "B1"])
    shock = ti.CommonShock("defect", rate=2.0, factor="batch", values=("B1",), hit_probability=1.0,
                           severity=ti.Empirical([0.5, 1.0]), clause="batch", event_deductible=0.8,
                           event_limit=0.5)
    sim = ti.simulate(ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, shocks=(shock,)), years=200_000, seed=2)
    assert abs(sim.mean() - 2.0 * 0.425) < Z * sim.stderr("mean")
    assert sim.max_occurrence.max() == pytest.approx(0.5)


def test_rate_split_book_matches_a_per_policy_simulation():
    # an independent NumPy simulation that loops policy by policy: same law for the book's annual loss
    rng = np.random.default_rng(0)
    n_pol, years = 40, 100_000
    rates = rng.uniform(0.01, 0.3, n_pol)
    scales = rng.uniform(0.5, 3.0, n_pol)
    limits = np.where(rng.random(n_pol) < 0.5, np.inf, 2e5)
    table = policies(claim_rate=rates, severity_scale=scales, limit=limits, agg_limit=np.full(n_pol, 3e5))
    law = ti.LogNormal(10.0, 1.0)
    sim = ti.simulate(ti.Portfolio(table, {"claim": law}), years=years, seed=5)
    reference = np.zeros(years)
    for i in range(n_pol):
        counts = rng.poisson(rates[i], years)
        x = scales[i] * rng.lognormal(10.0, 1.0, counts.sum())
        per_claim = np.minimum(x, limits[i])
        per_year = np.bincount(np.repeat(np.arange(years), counts), weights=per_claim, minlength=years)
        reference += np.minimum(per_year, 3e5)
    assert stats.ks_2samp(sim.annual, reference).pvalue > 1e-3


_DIGEST = """
import hashlib, numba, numpy as np, pandas as pd, techins as ti
n = 300
t = pd.DataFrame({"policy_id": range(n), "line": np.where(np.arange(n) % 3 == 0, "drone", "cyber"),
                  "claim_rate": np.linspace(0.01, 0.2, n), "severity": "s", "deductible": 1e3,
                  "sum_insured": 1e6, "vendor": np.where(np.arange(n) % 2 == 0, "x", "y")})
shock = ti.CommonShock("cloud", 0.3, "vendor", ("x",), 0.4, ti.Gamma(1.5, 0.02))
r = ti.simulate(ti.Portfolio(t, {"s": ti.LogNormal(9.0, 1.5)}, shocks=(shock,)), years=40_000, seed=4)
h = hashlib.sha256(r.annual.tobytes() + r.max_occurrence.tobytes() + r.policy_sum.tobytes()
                   + r.policy_cross.tobytes()).hexdigest()
print(numba.get_num_threads(), h)
"""


@pytest.mark.slow
def test_book_identical_with_one_and_two_threads():
    digests = set()
    for threads in (1, 2):
        out = subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, check=True,
                             env=dict(os.environ, NUMBA_NUM_THREADS=str(threads))).stdout.split()
        assert out[0] == str(threads)
        digests.add(out[1])
    assert len(digests) == 1


def test_line_result_and_tables():
    table = policies(line=["cyber", "drone", "drone"], claim_rate=[0.5, 0.2, 0.1])
    sim = ti.simulate(ti.Portfolio(table, {"claim": ti.Exponential(1e4)}), years=50_000, seed=1)
    lines = sim.line_table()
    assert list(lines.line) == ["cyber", "drone"]
    assert abs(lines.expected_loss[1] - 0.3 * 1e4) < Z * lines.expected_loss_stderr[1]
    with pytest.raises(ti.InputError, match="no line 'ip'"):
        sim.line_result("ip")


@pytest.mark.parametrize("change,match", [
    (dict(claim_rate=[-0.1, 0.1]), r"row 1: claim_rate must be >= 0, got -0.1"),
    (dict(claim_rate=[float("nan"), 0.1]), r"row 1: claim_rate is empty or NaN"),
    (dict(claim_rate=["lots", 0.1]), r"row 1: claim_rate must be a number, got 'lots'"),
    (dict(policy_id=["A", "A"]), r"row 2: duplicate policy_id 'A'"),
    (dict(severity=["claim", "nope"]), r"row 2 \(policy_id 'P001'\): severity 'nope' is not one of"),
    (dict(share=[1.5, 1.0]), r"row 1: share must be <= 1"),
    (dict(limit=[0.0, 1.0]), r"row 1: limit must be > 0"),
])
def test_bad_policies_name_row_column_and_value(change, match):
    table = policies(claim_rate=[0.1, 0.1])
    for column, values in change.items():
        table[column] = values
    with pytest.raises(ti.InputError, match=match):
        ti.Portfolio(table, {"claim": ti.Exponential(1.0)})


def test_missing_column():
    with pytest.raises(ti.InputError, match="missing column 'claim_rate'"):
        ti.Portfolio(policies(claim_rate=[0.1]).drop(columns="claim_rate"), {"claim": ti.Exponential(1.0)})


@pytest.mark.parametrize("kwargs,match", [
    (dict(hit_probability=1.5), r"hit_probability must be in \[0, 1\], got 1.5"),
    (dict(rate=-1.0), r"rate must be in \[0, inf\], got -1.0"),
    (dict(values=("gcp",)), "no policy has vendor = 'gcp'"),
    (dict(factor="region"), "factor 'region' is not a column"),
    (dict(clause="serial"), "clause must be one of"),
])
def test_bad_shocks(kwargs, match):
    spec = dict(name="cloud", rate=0.2, factor="vendor", values=("aws",), hit_probability=0.3,
                severity=ti.Exponential(0.1))
    spec.update(kwargs)
    table = policies(claim_rate=[0.1, 0.1], vendor=["aws", "azure"], sum_insured=[1.0, 1.0])
    with pytest.raises(ti.InputError, match=match):
        ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, shocks=(ti.CommonShock(**spec),))


def test_shock_needs_sum_insured_of_exposed_policies():
    table = policies(claim_rate=[0.1, 0.1], vendor=["aws", "aws"], sum_insured=[1.0, float("nan")])
    shock = ti.CommonShock("cloud", 0.2, "vendor", ("aws",), 0.3, ti.Exponential(0.1))
    with pytest.raises(ti.InputError, match=r"row 2 \(policy_id 'P001'\) is exposed but has no sum_insured"):
        ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, shocks=(shock,))


def test_occurrence_table_streams_the_run_exactly():
    from techins.simulation.occurrences import occurrence_chunks

    table = policies(line=["cyber", "drone", "cyber", "drone"], claim_rate=[0.4, 0.3, 0.2, 0.5],
                     deductible=[0.0, 500.0, 0.0, 0.0], limit=[1e4, 1e4, math.inf, 2e4],
                     sum_insured=[1e5, 2e5, 3e5, 4e5], vendor=["x", "x", "y", "x"])
    shock = ti.CommonShock("outage", 0.8, "vendor", ("x",), 0.7, ti.Exponential(0.05))
    book = ti.Portfolio(table, {"claim": ti.Exponential(3e3)}, shocks=(shock,))
    sim = ti.simulate(book, years=20_000, seed=6)  # no aggregate terms: years are sums of occurrences
    occ = pd.concat(list(occurrence_chunks(sim)), ignore_index=True)
    per_year = np.bincount(occ.year, weights=occ.loss, minlength=sim.years)
    np.testing.assert_allclose(per_year, sim.annual, rtol=1e-12, atol=1e-9)
    # an event is one occurrence: the year's largest occurrence total is the OEP sample
    totals = occ.groupby("occurrence_id").agg(year=("year", "first"), loss=("loss", "sum"))
    largest = totals.groupby("year").loss.max().reindex(range(sim.years), fill_value=0.0)
    np.testing.assert_allclose(largest.to_numpy(), sim.max_occurrence, rtol=1e-12)
    # some events touch several policies under one id
    assert occ.groupby("occurrence_id").policy_id.nunique().max() > 1


def test_parameter_risk_covariance_matches_closed_form():
    # policies 0 and 1 share line "cyber" with factor theta ~ Gamma(mean 1, cv): counts are mixed
    # Poisson, Cov(X0, X1) = l0 l1 cv^2 m0 m1 and Var(X0) = l0 E[Y^2] + l0^2 cv^2 m0^2 (m = mean
    # claim); policy 2 is in another line and independent of both
    from techins.simulation.occurrences import occurrence_chunks

    l0, l1, l2, cv, m = 2.0, 3.0, 2.5, 0.5, 1e3
    table = policies(line=["cyber", "cyber", "drone"], claim_rate=[l0, l1, l2], severity_scale=[1.0, 2.0, 1.0])
    book = ti.Portfolio(table, {"claim": ti.Exponential(m)}, parameter_risk={"cyber": cv})
    sim = ti.simulate(book, years=100_000, seed=12)
    occ = pd.concat(list(occurrence_chunks(sim)), ignore_index=True)
    x = np.zeros((3, sim.years))
    for k, pid in enumerate(table.policy_id):
        mine = occ[occ.policy_id == pid]
        x[k] = np.bincount(mine.year, weights=mine.loss, minlength=sim.years)
    np.testing.assert_allclose(x.sum(axis=0), sim.annual, rtol=1e-12)

    def check(a, b, expected):
        products = (a - a.mean()) * (b - b.mean())
        assert abs(products.mean() - expected) < Z * products.std() / math.sqrt(products.size)

    check(x[0], x[1], l0 * l1 * cv**2 * m * (2 * m))
    check(x[0], x[0], l0 * 2 * m**2 + l0**2 * cv**2 * m**2)
    check(x[0], x[2], 0.0)


def test_parameter_risk_names_a_known_line():
    table = policies(claim_rate=[0.1, 0.1])
    with pytest.raises(ti.InputError, match="parameter_risk names line 'ip'"):
        ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, parameter_risk={"ip": 0.2})
    with pytest.raises(ti.InputError, match=r"parameter_risk\['cyber'\] must be in \[0, 10\], got -0.1"):
        ti.Portfolio(table, {"claim": ti.Exponential(1.0)}, parameter_risk={"cyber": -0.1})


def test_fleet_policy_with_many_claims_a_year_matches_the_exact_line():
    # One fleet policy, 120 claims a year under an annual aggregate limit: every claim of a chunk of
    # thousands of years goes through the per-policy grouping by year (once a quadratic sort). Its
    # annual law is the Line's, computed exactly by FFT.
    severity = ti.LogNormal(10.0, 1.5)
    book = ti.Portfolio(policies(claim_rate=[120.0], limit=[4e5], agg_limit=[6e6]), {"claim": severity})
    line = ti.Line(frequency=ti.Poisson(120.0), severity=severity, occurrence=ti.Layer(limit=4e5),
                   aggregate=ti.Layer(limit=6e6))
    sim = ti.simulate(book, years=20_000, seed=5)
    exact = ti.exact(line)
    assert abs(sim.mean() - exact.mean()) < Z * sim.stderr("mean")
    assert abs(sim.prob_exceed(5e6) - exact.prob_exceed(5e6)) < Z * sim.stderr("prob_exceed", 5e6)


def test_claims_and_hits_grouped_by_policy_and_year_as_a_plain_python_twin():
    # The book's per-policy annual losses (after annual aggregate terms) equal a plain-Python sum of the
    # run's own occurrence table by (policy, year), for a book with shocks and aggregate terms.
    table = policies(claim_rate=[3.0, 0.5, 8.0], deductible=[0.0, 1e3, 0.0], agg_deductible=[0.0, 0.0, 5e3],
                     agg_limit=[4e4, np.inf, 6e4], cloud=["a", "a", "b"])
    shock = ti.CommonShock("outage", rate=2.0, factor="cloud", values=("a",), hit_probability=0.7,
                           severity=ti.Exponential(8e3), basis="amount")
    book = ti.Portfolio(table, {"claim": ti.Exponential(1e4)}, shocks=(shock,))
    years = 300
    sim = ti.simulate(book, years=years, seed=11)
    from techins.simulation.occurrences import occurrence_chunks

    occ = pd.concat(list(occurrence_chunks(sim)), ignore_index=True)
    terms = table.set_index("policy_id")
    expected = np.zeros(years)
    policy_means = {}
    for policy_id, rows in occ.groupby("policy_id"):
        by_year = np.zeros(years)
        for year, loss in zip(rows.year, rows.loss):  # the twin: plain Python, one claim at a time
            by_year[year] += loss
        agg_d, agg_l = terms.loc[policy_id, "agg_deductible"], terms.loc[policy_id, "agg_limit"]
        annual = np.minimum(np.maximum(by_year - agg_d, 0.0), agg_l)
        expected += annual
        policy_means[policy_id] = annual.mean()
    np.testing.assert_allclose(sim.annual, expected, rtol=1e-12, atol=1e-9)
    means = sim.policy_table().set_index("policy_id")["expected_loss"]
    for policy_id, mean in policy_means.items():
        assert means[policy_id] == pytest.approx(mean, rel=1e-12)
    assert (occ.groupby(["policy_id", "year"]).size() > 1).any()  # several losses in some policy-years
