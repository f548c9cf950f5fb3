"""Public risk-compensation schemes: hand-computed cases, invariants, the exact path, the pool and the
command (``techins.reinsurance.compensation``)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import techins as ti
from techins.catalogue.rating import priced_compensation
from techins.pool.run import run_pool
from techins.pool.spec import pool_from_mapping, read_pool
from techins.reinsurance.compensation import (
    RiskCompensation,
    apply_compensation,
    compensation_from_mapping,
    compensation_payments,
    read_compensation,
)
from tests.cli_runner import techins

ROOT = Path(__file__).resolve().parents[2]
SCHEME = ROOT / "examples" / "compensation" / "ip_risk_compensation.toml"
IP_POOL = ROOT / "examples" / "pools" / "ip_coinsurance_body.toml"


# ---------------------------------------------------------------------------------------- by hand
def test_trigger_share_ceiling_and_annual_cap_by_hand():
    # premium 100: the band is the loss between 80 and 200, half of it paid, at most 40 a year
    s = RiskCompensation("f", trigger_loss_ratio=0.8, share=0.5, ceiling_loss_ratio=2.0, annual_cap=40.0)
    loss = np.array([0.0, 80.0, 100.0, 150.0, 200.0, 500.0])
    # bands 0, 0, 20, 70, 120, 120 -> half 0, 0, 10, 35, 60, 60 -> capped at 40
    assert compensation_payments(s, loss, 100.0).tolist() == [0.0, 0.0, 10.0, 35.0, 40.0, 40.0]


def test_multi_year_cap_within_each_term_by_hand():
    s = RiskCompensation("f", trigger_loss_ratio=1.0, share=1.0, aggregate_cap=100.0, term_years=3)
    loss = np.array([160.0, 170.0, 150.0, 120.0, 150.0, 100.0, 500.0])
    # claims 60, 70, 50 | 20, 50, 0 | 400: term 1 pays 60, 40 (the cap is spent), 0; term 2 pays 20, 50, 0
    # (70 of 100); the last (one-year) term pays 100
    paid = compensation_payments(s, loss, 100.0)
    np.testing.assert_allclose(paid, [60.0, 40.0, 0.0, 20.0, 50.0, 0.0, 100.0])
    r = apply_compensation(s, loss, 100.0)
    assert r.summary()["prob_exhausted"] == 0.5  # of the two whole terms one is spent; the short last one is not counted


def test_the_fund_pays_no_more_than_the_insurer_keeps_and_nothing_without_premium():
    s = RiskCompensation("f", trigger_loss_ratio=0.0, share=1.0, basis="gross")
    gross = np.array([[50.0, 300.0], [10.0, 20.0]])
    retained = np.array([[20.0, 100.0], [10.0, 20.0]])
    paid = compensation_payments(s, gross, [100.0, 0.0], retained)
    assert paid.tolist() == [[20.0, 100.0], [0.0, 0.0]]


def test_summary_figures_by_hand():
    s = RiskCompensation("f", trigger_loss_ratio=1.0, share=0.5, annual_cap=30.0)
    r = apply_compensation(s, np.array([50.0, 150.0, 300.0, 90.0]), 100.0, level=0.5, cost_of_capital=0.1)
    f = r.summary()
    assert r.paid.tolist() == [[0.0, 25.0, 30.0, 0.0]]
    assert f["expected_outlay"] == pytest.approx(55.0 / 4)
    assert f["expected_outlay_stderr"] == pytest.approx(np.std([0, 25, 30, 0], ddof=1) / 2)
    assert (f["prob_fund_pays"], f["prob_annual_cap_binds"]) == (0.5, 0.25)
    # TVaR 50% of the net: the mean of the worst half, before (300, 150) and after (270, 125)
    assert (f["insurer_tvar_before"], f["insurer_tvar_after"]) == (225.0, 197.5)
    relief = (225.0 - 147.5) - (197.5 - 133.75)
    assert f["capital_relief"] == pytest.approx(relief)
    assert f["price_effect"] == pytest.approx(-(13.75 + 0.1 * relief))


# ---------------------------------------------------------------------------------------- invariants
losses = st.lists(st.floats(0.0, 1e7, allow_nan=False), min_size=1, max_size=40)


@settings(deadline=None, max_examples=150)
@given(gross=losses, ceded_share=st.floats(0.0, 1.0), trigger=st.floats(0.0, 3.0), share=st.floats(0.01, 1.0),
       width=st.floats(0.01, 5.0) | st.just(math.inf), annual=st.floats(1.0, 1e7) | st.just(math.inf),
       aggregate=st.floats(1.0, 3e7) | st.just(math.inf), term=st.integers(1, 5), basis=st.sampled_from(["net", "gross"]),
       premium=st.floats(0.0, 5e6))
def test_insurer_net_plus_fund_plus_reinsurers_is_gross(gross, ceded_share, trigger, share, width, annual, aggregate,
                                                         term, basis, premium):
    if math.isinf(aggregate):
        term = 1
    s = RiskCompensation("f", trigger_loss_ratio=trigger, share=share, ceiling_loss_ratio=trigger + width,
                         annual_cap=annual, aggregate_cap=aggregate, term_years=term, basis=basis)
    g = np.array(gross)
    ceded = ceded_share * g
    net = g - ceded
    r = apply_compensation(s, net if basis == "net" else g, premium, retained=net)
    paid = r.paid[0]
    np.testing.assert_allclose(r.net_after[0] + paid + ceded, g, rtol=1e-12, atol=1e-6)
    assert (paid >= 0.0).all() and (paid <= net + 1e-9).all() and (paid <= annual * (1 + 1e-12)).all()
    if math.isfinite(width):
        assert (paid <= share * width * premium * (1 + 1e-12) + 1e-9).all()
    for k in range(0, paid.size, term):
        assert paid[k:k + term].sum() <= aggregate * (1 + 1e-12)
    # more loss never means less compensation in a year (without the multi-year cap, which looks back)
    if math.isinf(aggregate):
        more = compensation_payments(s, (net if basis == "net" else g) * 1.5, premium, net * 1.5)
        assert (more >= paid - 1e-9).all()


# ---------------------------------------------------------------------------------------- exact path
def test_expected_outlay_equals_the_stop_loss_transform_of_the_exact_distribution():
    """No caps: E[fund] = s (E[(L - aP)+] - E[(L - cP)+]), from the FFT distribution of the line, within
    4 Monte Carlo standard errors."""
    line = ti.Line(frequency=ti.Poisson(3.0), severity=ti.LogNormal(mu=10.0, sigma=1.2))
    premium = 3.0 * math.exp(10.0 + 0.72)
    s = RiskCompensation("f", trigger_loss_ratio=1.2, share=0.6, ceiling_loss_ratio=2.5)
    ex = ti.exact(line)
    v, p = np.asarray(ex.values), np.asarray(ex.probs)
    expected = 0.6 * (np.sum(p * np.maximum(v - 1.2 * premium, 0)) - np.sum(p * np.maximum(v - 2.5 * premium, 0)))
    sim = ti.simulate(line, years=200_000, seed=3)
    f = apply_compensation(s, sim.annual, premium).summary()
    assert abs(f["expected_outlay"] - expected) < 4 * f["expected_outlay_stderr"]
    assert f["prob_fund_pays"] == pytest.approx(ex.prob_exceed(1.2 * premium), abs=4 * math.sqrt(0.25 / 200_000))


# ---------------------------------------------------------------------------------------- files
def test_scheme_file_and_its_errors(tmp_path):
    s = read_compensation(SCHEME)
    assert (s.trigger_loss_ratio, s.share, s.term_years, s.scope) == (0.8, 0.5, 3, "pool")
    assert s.lines == ("ip_patent_enforcement", "ip_infringement_liability")
    cases = {
        "share = 0.0": "share must be in (0, 1], got 0.0",
        "share = 1.5": "share must be in (0, 1], got 1.5",
        "ceiling_loss_ratio = 0.5": "ceiling_loss_ratio must be in (1, inf]",
        "basis = 'ceded'": "basis must be one of net, gross, got 'ceded'",
        "scope = 'everyone'": "scope must be one of pool, member",
        "annual_cap = -1.0": "annual_cap must be in (0, inf]",
        "term_years = 3": "term_years 3 without an aggregate_cap",
        "retention = 1.0": "unknown key 'retention'",
    }
    for text, message in cases.items():
        path = tmp_path / "scheme.toml"
        base = {"name": "'f'", "trigger_loss_ratio": "1.0", "share": "0.5"}
        key, value = text.split(" = ")
        body = "".join(f"{k} = {v}\n" for k, v in {**base, key: value}.items())
        path.write_text(f"[compensation]\n{body}")
        with pytest.raises(ti.InputError) as err:
            read_compensation(path)
        assert str(err.value).startswith(f"{path}: [compensation]") and message in str(err.value), str(err.value)
    with pytest.raises(ti.InputError, match="one \\[compensation\\] table"):
        compensation_from_mapping({"name": "x"}, "f.toml")


# ---------------------------------------------------------------------------------------- the pool
@pytest.fixture(scope="module")
def ip_pool():
    return run_pool(read_pool(IP_POOL), years=4000, seed=5)


def test_ip_pool_reconciles_with_the_fund(ip_pool):
    run = ip_pool
    flows, comp = run.flows, run.compensation
    assert run.pool["loss_reconciliation_error"] < 1e-6 * run.pool["expected_gross"]
    np.testing.assert_allclose(flows.compensation.sum(axis=0), comp.total_paid, rtol=1e-12, atol=1e-6)
    # every member's loss after the fund stays >= 0 and the fund paid what the members' losses fell by
    assert (flows.loss >= -1e-6).all()
    members = run.members.set_index("member")
    for i, name in enumerate(flows.members):
        assert members.loc[name, "expected_compensation"] == pytest.approx(flows.compensation[i].mean())
    annual = run.annual
    np.testing.assert_allclose(annual["compensation"], comp.total_paid)
    assert run.pool["compensation_expected_outlay"] == pytest.approx(comp.total_paid.mean())
    assert 0 < run.pool["compensation_prob_fund_pays"] < 1


def test_ip_pool_without_the_fund_loses_exactly_what_the_fund_paid(ip_pool):
    spec = read_pool(IP_POOL)
    bare = run_pool(pool_from_mapping({**_pool_table(), "compensation": None}, str(IP_POOL), base=IP_POOL.parent),
                    years=4000, seed=5)
    assert spec.compensation is not None and bare.compensation is None
    np.testing.assert_allclose(bare.flows.loss - ip_pool.flows.compensation, ip_pool.flows.loss, rtol=1e-12, atol=1e-6)
    # the fund lowers the members' tail: pool capital falls
    assert ip_pool.pool["pool_capital"] < bare.pool["pool_capital"]
    assert ip_pool.pool["compensation_capital_relief"] > 0


def test_member_scope_pays_each_member_on_its_own_loss_ratio(ip_pool):
    table = _pool_table()
    table["compensation"] = {"name": "per member", "trigger_loss_ratio": 0.8, "share": 0.5, "annual_cap": 1e6,
                             "scope": "member"}
    run = run_pool(pool_from_mapping(table, str(IP_POOL), base=IP_POOL.parent), years=4000, seed=5)
    comp = run.compensation
    assert comp.accounts == tuple(m.name for m in run.spec.members)
    assert (comp.paid <= 1e6 + 1e-6).all()
    assert (run.flows.compensation[-1] == 0).all()  # the unplaced part has no account
    np.testing.assert_allclose(comp.retained, ip_pool.flows.loss[:-1] + ip_pool.flows.compensation[:-1],
                               rtol=1e-12, atol=1e-6)


def test_pool_scheme_on_a_line_the_pool_does_not_write_is_refused():
    table = _pool_table()
    table["compensation"] = {"name": "x", "trigger_loss_ratio": 1.0, "share": 0.5, "lines": ["cyber"]}
    with pytest.raises(ti.InputError, match="covers line 'cyber', which the pool does not write"):
        pool_from_mapping(table, str(IP_POOL), base=IP_POOL.parent)


def _pool_table() -> dict:
    import tomllib

    with IP_POOL.open("rb") as fh:
        return tomllib.load(fh)


# ---------------------------------------------------------------------------------------- pricing
def test_priced_book_scheme_by_products_equals_by_line():
    catalogue = ti.read_catalogue(ROOT / "products")
    policies = ti.read_policies(ROOT / "examples" / "pools" / "ip_portfolio.csv")
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), 3000, 2)
    by_product = priced_compensation(priced, read_compensation(SCHEME))
    by_line = priced_compensation(priced, RiskCompensation("f", 0.8, 0.5, ceiling_loss_ratio=2.0, annual_cap=5e6,
                                                           aggregate_cap=10e6, term_years=3, lines=("ip",)))
    np.testing.assert_allclose(by_product.covered_loss, by_line.covered_loss, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(by_line.covered_loss[0], priced.result.annual, rtol=1e-12)
    assert by_line.premium[0] == pytest.approx(priced.policies["capped_premium"].sum())
    f = by_line.summary()
    assert f["gross_up"] > 1 and f["technical_premium_effect"] == pytest.approx(f["price_effect"] * f["gross_up"])
    with pytest.raises(ti.InputError, match="neither a line nor a product of the priced book"):
        priced_compensation(priced, RiskCompensation("f", 0.8, 0.5, lines=("cyber",)))


@pytest.mark.slow
def test_price_command_writes_the_scheme(tmp_path):
    out = tmp_path / "out"
    done = techins("price", "products", "--portfolio", "examples/pools/ip_portfolio.csv", "--years", "2000",
                   "--seed", "1", "--out", str(out), "--quiet", "--json", "--compensation", str(SCHEME), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    table = pd.read_csv(out / "compensation.csv")
    assert table["account"].tolist() == ["book", "total"]
    assert printed["compensation"]["expected_outlay"] == pytest.approx(table["expected_outlay"].iloc[-1])
    assert json.loads((out / "run.json").read_text())["compensation"]["scheme"] == "IP insurance risk-compensation fund"
    assert "## Public risk compensation" in (out / "summary.md").read_text()
    assert "Public risk compensation: IP insurance risk-compensation fund" in (out / "report.html").read_text()
    bad = techins("price", "products", "--portfolio", "examples/pools/ip_portfolio.csv", "--years", "2000",
                  "--out", str(tmp_path / "bad"), "--compensation", "examples/pools/ip_programme.toml", cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "[compensation]" in bad.stderr
    assert not (tmp_path / "bad").exists()
