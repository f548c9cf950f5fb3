"""A back-testing run end to end: per-period figures by hand, chain-ladder development against the
published Taylor–Ashe ultimates, a known truth detected (the under-priced line flagged, its rate and
severity recovered), the run store (a second run reads the first; a failing run leaves the store and
the report as they were), bad input naming file, row and column, the command, and the CAS data."""

import json
import math
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from techins.backtest.experience import BacktestParameters, analyse
from techins.backtest.history import history_from_frames, read_history
from techins.backtest.run import read_config, run_backtest, runs_of_scope
from techins.backtest.store import RunStore
from techins.backtest.synthetic import synthetic_history
from tests.cli_runner import techins

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"


def tiny_history():
    """Two lines, three periods, a handful of policies and claims: small enough to do by hand."""
    policies = pd.DataFrame({
        "policy_id": ["a1", "a2", "a3", "b1", "b2", "b3"], "line": ["A", "A", "A", "B", "B", "B"],
        "period": [1, 2, 3, 1, 2, 3], "exposure": [10.0, 12.0, 11.0, 5.0, 5.0, 6.0],
        "earned_premium": [1000.0, 1200.0, 1100.0, 800.0, 820.0, 900.0],
        "expected_loss": [600.0, 700.0, 650.0, 500.0, 510.0, 560.0],
        "expected_claims": [4.0, 5.0, 4.5, 2.0, 2.0, 2.4],
    })
    claims = pd.DataFrame({
        "claim_id": [f"c{i}" for i in range(9)], "policy_id": ["a1", "a1", "a2", "a2", "a2", "a3", "b1", "b3", "b3"],
        "accident_period": [1, 1, 2, 2, 2, 3, 1, 3, 3],
        "paid": [100.0, 50.0, 300.0, 200.0, 10.0, 0.0, 400.0, 300.0, 100.0],
        "incurred": [200.0, 150.0, 400.0, 300.0, 100.0, 0.0, 700.0, 350.0, 300.0],
        "expenses": [10.0, 0.0, 5.0, 5.0, 0.0, 0.0, 20.0, 0.0, 0.0],
    })
    expenses = pd.DataFrame({"line": ["A"] * 3 + ["B"] * 3, "period": [1, 2, 3] * 2,
                             "expenses": [300.0, 350.0, 330.0, 250.0, 240.0, 270.0],
                             "plan": [300.0, 360.0, 330.0, 200.0, 205.0, 225.0]})
    return policies, claims, expenses


def test_period_figures_by_hand():
    policies, claims, expenses = tiny_history()
    p = BacktestParameters(predictive_cv=0.3, level=0.9)
    e = analyse(history_from_frames(policies, claims, expenses), p)
    a2 = e.periods.set_index(["line", "period"]).loc[("A", 2)]
    assert a2["claims"] == 3 and a2["incurred"] == 800.0 and a2["paid"] == 510.0
    assert a2["loss_ratio"] == pytest.approx(800 / 1200)
    assert a2["expense_ratio"] == pytest.approx((350 + 10) / 1200)
    assert a2["combined_ratio"] == pytest.approx((800 + 360) / 1200)
    assert a2["breakeven_loss"] == pytest.approx(1200 - 350 - 10)
    # a claim with nothing incurred is not counted
    assert e.periods.set_index(["line", "period"]).loc[("A", 3), "claims"] == 0
    # actual vs expected counts: 3 against 5, Garwood interval at 90% from the chi-square law
    assert a2["ave_claims"] == pytest.approx(0.6)
    assert a2["ave_claims_low"] == pytest.approx(sps.chi2.ppf(0.05, 6) / 2 / 5)
    assert a2["ave_claims_high"] == pytest.approx(sps.chi2.ppf(0.95, 8) / 2 / 5)
    assert a2["claims_p_at_least"] == pytest.approx(sps.poisson.sf(2, 5.0))
    # the lognormal predictive law with mean 700 and cv 0.3: PIT, interval, VaR against scipy
    s2 = math.log1p(0.09)
    law = sps.lognorm(s=math.sqrt(s2), scale=700 * math.exp(-s2 / 2))
    assert a2["pit"] == pytest.approx(law.cdf(800.0), abs=2e-4)  # linear between grid points 0.005 apart
    assert a2["loss_low"] == pytest.approx(law.ppf(0.05), rel=1e-3)
    assert a2["loss_high"] == pytest.approx(law.ppf(0.95), rel=1e-3)
    assert a2["var"] == pytest.approx(law.ppf(0.99), rel=1e-9)
    assert a2["predictive_sd"] == pytest.approx(0.3 * 700)
    line_b = e.lines.set_index("line").loc["B"]
    # line B: ultimate 700 + 0 + 650 against break-even (800-250-20) + (820-240) + (900-270)
    excess = 1350.0 - (530.0 + 580.0 + 630.0)
    sd = 0.3 * math.sqrt(500 ** 2 + 510 ** 2 + 560 ** 2)
    assert line_b["excess_over_breakeven"] == pytest.approx(excess)
    assert line_b["loss_making_pvalue"] == pytest.approx(sps.norm.sf(excess / sd))
    assert line_b["expense_vs_plan"] == pytest.approx(760 / 630) and line_b["expense_over_plan"]
    # credibility wiring: Z x experience + (1 - Z) x permissible 1 - 0.25 - 0.05 - 0.05, then the
    # loss-ratio method; the priced loss ratio is reported, not blended
    z, lr = line_b["credibility"], line_b["credibility_loss_ratio"]
    assert line_b["priced_loss_ratio"] == pytest.approx(1570 / 2520)
    assert line_b["complement_loss_ratio"] == line_b["permissible_loss_ratio"] == pytest.approx(0.65)
    assert lr == pytest.approx(z * 1350 / 2520 + (1 - z) * 0.65)
    assert line_b["indicated_rate_change"] == pytest.approx((lr + 0.05) / (1 - 0.25 - 0.05) - 1)


def test_indication_of_a_small_history_by_hand():
    """Two lines, two periods, premium 1,000 in each: the Bühlmann–Straub factor and the indicated
    changes by hand."""
    # loss ratios A: 0.5, 0.7 (mean 0.6); B: 0.9, 1.1 (mean 1.0); priced at 0.3 (expected loss 300)
    # sigma^2 = sum_ij w_ij (X_ij - X_i)^2 / sum_i (n_i - 1) = 1000 x 4 x 0.1^2 / 2 = 20
    # tau^2 = (sum_i w_i (X_i - X_ww)^2 - (I - 1) sigma^2) / (w - sum_i w_i^2 / w)
    #       = (2000 x 0.2^2 x 2 - 20) / (4000 - 2000) = 140 / 2000 = 0.07
    # Z = w_i / (w_i + sigma^2 / tau^2) = 2000 / (2000 + 20 / 0.07) = 140 / 160 = 0.875 for both
    # F, V, Q = 0.05, 0.25, 0.05: permissible loss ratio 0.65, 1 - V - Q = 0.70
    # B: 0.875 x ((1.0 + 0.05) / 0.70 - 1) = 0.875 x 0.5 = +0.4375
    #    (credibility loss ratio 0.875 x 1.0 + 0.125 x 0.65 = 0.95625)
    # A: 0.875 x ((0.6 + 0.05) / 0.70 - 1) = 0.875 x (-1/14) = -0.0625
    # (the priced loss ratio as complement would give +0.375 and -0.125)
    cells = [("A", 1, 500.0), ("A", 2, 700.0), ("B", 1, 900.0), ("B", 2, 1100.0)]
    policies = pd.DataFrame({"policy_id": [f"{l}{t}" for l, t, _ in cells], "line": [l for l, _, _ in cells],
                             "period": [t for _, t, _ in cells], "exposure": 1.0, "earned_premium": 1000.0,
                             "expected_loss": 300.0})
    claims = pd.DataFrame({"claim_id": [f"c{l}{t}" for l, t, _ in cells], "policy_id": policies["policy_id"],
                           "accident_period": policies["period"], "paid": 0.0, "incurred": [x for _, _, x in cells]})
    lines = analyse(history_from_frames(policies, claims), BacktestParameters()).lines.set_index("line")
    np.testing.assert_allclose(lines["credibility"], [0.875, 0.875], rtol=1e-12)
    np.testing.assert_allclose(lines["priced_loss_ratio"], [0.3, 0.3], rtol=1e-15)
    np.testing.assert_allclose(lines["credibility_loss_ratio"], [0.875 * 0.6 + 0.125 * 0.65, 0.95625], rtol=1e-12)
    np.testing.assert_allclose(lines["indicated_rate_change"], [-0.0625, 0.4375], rtol=1e-12)


def test_parameters_leaving_nothing_for_losses_are_refused():
    with pytest.raises(ValueError, match=r"fixed_expense_ratio \+ variable_expense_ratio \+ profit must be below 1 "
                                         r"\(the permissible loss ratio 1 - V - Q - F must be positive\), got "
                                         r"0.3 \+ 0.5 \+ 0.2"):
        BacktestParameters(fixed_expense_ratio=0.3, variable_expense_ratio=0.5, profit=0.2)
    assert BacktestParameters().permissible_loss_ratio == pytest.approx(0.65)


def test_chain_ladder_develops_the_taylor_ashe_periods_to_the_published_ultimates():
    """Mack (1993) / ChainLadder's MackChainLadder(GenIns): total ultimate 53,038,945.61
    (https://mages.github.io/ChainLadder/reference/MackChainLadder.html)."""
    raw = pd.read_csv(DATA / "taylor_ashe_genins.csv")
    triangle = pd.DataFrame({"line": "GI", "origin": raw["origin"], "lag": raw["development"] - raw["origin"] + 1,
                             "value": raw["values"]})
    latest = triangle.loc[triangle.groupby("origin")["lag"].idxmax()]
    policies = pd.DataFrame({"policy_id": [f"p{o}" for o in latest["origin"]], "line": "GI", "period": latest["origin"],
                             "exposure": 1.0, "earned_premium": 1e7, "expected_loss": 5e6})
    claims = pd.DataFrame({"claim_id": [f"c{o}" for o in latest["origin"]], "policy_id": policies["policy_id"],
                           "accident_period": latest["origin"].to_numpy(), "paid": 0.0,
                           "incurred": latest["value"].to_numpy()})
    e = analyse(history_from_frames(policies, claims, triangles=triangle))
    assert e.periods["ultimate_loss"].sum() == pytest.approx(53_038_945.61, abs=0.01)
    assert e.development["reserve"].sum() == pytest.approx(18_680_855.61, abs=0.01)
    assert e.periods["development_factor"].iloc[0] == 1.0  # the oldest origin is fully developed


def test_a_known_truth_is_detected():
    """Line 1 priced at 70% of its true claim rate is flagged loss-making with a rate increase; line
    0 priced right is not; the recalibrated claim rate and severity recover the truth within 4 s.e."""
    d = synthetic_history(40_000, 3, 6, seed=5, pricing_error=[1.0, 0.7, 1.0])
    e = analyse(history_from_frames(d["policies"], d["claims"], d["expenses"], forecasts=d["forecasts"]))
    lines = e.lines.set_index("line")
    truth = d["truth"].set_index("line")
    assert bool(lines.loc["line_01", "loss_making"]) and lines.loc["line_01", "indicated_rate_change"] > 0.15
    assert not bool(lines.loc["line_00", "loss_making"])
    for line in truth.index:
        t = truth.loc[line]
        law = sps.lognorm(s=t["sigma"], scale=math.exp(t["mu"]))
        rate_above = t["rate"] * law.sf(t["deductible"])  # claims recorded are those above the deductible
        assert abs(lines.loc[line, "fitted_claim_rate"] - rate_above) < 4 * lines.loc[line, "fitted_claim_rate_stderr"]
        fitted = json.loads(lines.loc[line, "severity_parameters"])
        stderr = json.loads(lines.loc[line, "severity_stderrs"])
        for name in ("mu", "sigma"):
            assert abs(fitted[name] - t[name]) < 4 * stderr[name]
    # the priced-right line's periods sit inside their forecasts: PIT uniformity not rejected
    assert lines.loc["line_00", "pit_ks_pvalue"] > 0.01


HISTORY_TABLES = ("policies", "claims", "expenses", "forecasts")


@pytest.fixture(scope="module")
def history_csvs(tmp_path_factory):
    """The config's input tables, drawn and written once for the module (each test gets its own copies)."""
    folder = tmp_path_factory.mktemp("history")
    d = synthetic_history(6_000, 3, 5, seed=9, pricing_error=[1.0, 0.75, 1.0])
    for name in HISTORY_TABLES:
        d[name].to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture
def config(tmp_path, history_csvs):
    for name in HISTORY_TABLES:
        shutil.copyfile(history_csvs / f"{name}.csv", tmp_path / f"{name}.csv")
    (tmp_path / "bt.toml").write_text("""\
scope = "test lines"
store = "runs.sqlite"
report = "report"
[inputs]
policies = "policies.csv"
claims = "claims.csv"
expenses = "expenses.csv"
forecasts = "forecasts.csv"
[parameters]
flag_level = 0.05
[severity.line_00]
law = "lognormal"
mu = 10.0
sigma = 1.0
""")
    return tmp_path


def store_state(path: Path):
    with sqlite3.connect(path) as con:
        dump = list(con.iterdump())
    con.close()
    return dump


def test_runs_are_kept_and_a_second_run_reads_the_first(config):
    first = run_backtest(read_config(config / "bt.toml"), store=config / "runs.sqlite")
    second = run_backtest(read_config(config / "bt.toml"), store=config / "runs.sqlite")
    assert second.store == str(config / "runs.sqlite")
    assert first.previous_run_id is None and second.previous_run_id == first.run_id
    assert first.inputs_hash == second.inputs_hash
    cmp = second.comparison.set_index("line")
    np.testing.assert_allclose(cmp["previous_indicated_rate_change"], first.experience.lines["indicated_rate_change"])
    np.testing.assert_allclose(cmp["change_loss_ratio"], 0.0, atol=1e-15)
    with RunStore(config / "runs.sqlite") as store:
        stored = store.load(first.run_id)
        assert list(store.runs()["run_id"]) == [first.run_id, second.run_id]
    pd.testing.assert_frame_equal(stored.tables["lines"], first.experience.lines, check_dtype=False)
    pd.testing.assert_frame_equal(stored.tables["periods"], first.experience.periods, check_dtype=False)
    assert stored.parameters["flag_level"] == 0.05 and stored.scope == "test lines"
    page = (config / "report" / "report.html").read_text()
    assert f"<td>{second.run_id}</td>" in page and "line_01" in page
    for png in ("actual_vs_expected.png", "combined_ratio_trends.png", "pit_histogram.png"):
        assert (config / "report" / png).stat().st_size > 5_000
    # the page stands alone: its three figures embedded, nothing referenced from outside
    sources = re.findall(r"src=['\"]([^'\"]*)", page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "href=" not in page and "<script" not in page


def test_identical_runs_of_a_scope_are_listed_once_with_their_count(config):
    for _ in range(3):
        third = run_backtest(read_config(config / "bt.toml"), store=config / "runs.sqlite")
    page = (config / "report" / "report.html").read_text()
    assert page.count("3 identical runs, ids 1, 2, 3") == 1 and "run 1<" not in page
    # the previous run is the same run again: said once, its unchanged figures not listed a second time
    assert f"The previous run ({third.previous_run_id}) had the same inputs, code version and parameters" in page
    assert "previous loss ratio" not in page
    text = (config / "bt.toml").read_text().replace("flag_level = 0.05", "flag_level = 0.10")
    (config / "bt.toml").write_text(text)
    fourth = run_backtest(read_config(config / "bt.toml"), store=config / "runs.sqlite")
    page = (config / "report" / "report.html").read_text()
    assert "3 identical runs, ids 1, 2, 3" in page and f"run {fourth.run_id}<" in page
    assert "previous loss ratio" in page  # a different run: compared line by line


def test_runs_of_scope_collapses_same_inputs_code_and_parameters():
    """Runs 1, 4 and 7 are one run repeated (their previous_run_id differs, as it must); 2 has other
    inputs, 3 another code version, 5 other parameters."""
    def stored(run_id, inputs="aa", code="techins 0.1.0", level=0.95):
        return {"run_id": run_id, "started": pd.Timestamp(f"2026-01-0{run_id} 10:00", tz="UTC"),
                "code_version": code, "inputs_hash": inputs,
                "parameters": json.dumps({"level": level, "previous_run_id": run_id - 1 or None})}
    earlier = pd.DataFrame([stored(1), stored(2, inputs="bb"), stored(3, code="techins 0.2.0"), stored(4),
                            stored(5, level=0.99), stored(6, inputs="bb")])
    current = {**stored(7), "parameters": {"level": 0.95, "previous_run_id": 6}}
    table = runs_of_scope(earlier, current)
    assert table["run_ids"].tolist() == ["1, 4, 7", "2, 6", "3", "5"]
    assert table["n_runs"].tolist() == [3, 2, 1, 1]
    assert table["identical_to_this_run"].tolist() == [True, False, False, False]
    assert table.loc[0, "started"] == "2026-01-01 10:00 to 2026-01-07 10:00"
    assert runs_of_scope(earlier.iloc[:0]).empty


def test_the_configurations_currency_is_on_the_money(config):
    text = (config / "bt.toml").read_text()
    (config / "bt.toml").write_text('currency = "yuan"\n' + text)
    with pytest.raises(ValueError, match=r"bt.toml: currency must be an ISO 4217 code such as 'CNY', got 'yuan'"):
        read_config(config / "bt.toml")
    (config / "bt.toml").write_text('currency = "CNY"\n' + text)
    run = run_backtest(read_config(config / "bt.toml"))
    page = (config / "report" / "report.html").read_text()
    premium = run.experience.lines["earned_premium"].iloc[0]
    assert f"CNY {premium:,.0f}" in page


def test_no_store_means_no_store(config):
    """run_backtest without a store writes none (not the configuration's either): the report says so."""
    run = run_backtest(read_config(config / "bt.toml"))
    assert run.run_id is None and run.previous_run_id is None and run.store is None
    assert not (config / "runs.sqlite").exists() and not list(config.rglob("*.sqlite"))
    assert run.comparison["previous_loss_ratio"].isna().all()
    assert json.loads((config / "report" / "run.json").read_text())["store"] is None
    page = (config / "report" / "report.html").read_text()
    assert "none: kept in no store" in page and "the run is kept in no store" in page
    # the configuration's store, when asked for
    kept = run_backtest(read_config(config / "bt.toml"), store=read_config(config / "bt.toml").store)
    assert kept.run_id == 1 and (config / "runs.sqlite").is_file()
    for bad in (False, 3):
        with pytest.raises(TypeError, match="run_backtest: store must be a path or None"):
            run_backtest(read_config(config / "bt.toml"), store=bad)


def test_a_failing_run_leaves_the_store_and_the_report_as_they_were(config, monkeypatch):
    store = config / "runs.sqlite"
    run_backtest(read_config(config / "bt.toml"), store=store)
    before = store_state(config / "runs.sqlite")
    report_before = (config / "report" / "report.html").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full while writing the report")

    monkeypatch.setattr("techins.backtest.report._page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_backtest(read_config(config / "bt.toml"), store=store)
    monkeypatch.undo()
    assert store_state(config / "runs.sqlite") == before
    assert (config / "report" / "report.html").read_bytes() == report_before
    # and bad input is refused before anything is touched
    claims = pd.read_csv(config / "claims.csv")
    claims.loc[2, "policy_id"] = "nobody"
    claims.to_csv(config / "claims.csv", index=False)
    with pytest.raises(ValueError, match=r"claims.csv: row 3 \(claim_id 'C0000002'\): policy_id 'nobody' is not in"):
        run_backtest(read_config(config / "bt.toml"), store=store)
    assert store_state(config / "runs.sqlite") == before


BAD = {
    "unknown_policy": ("claims", lambda t: t.assign(policy_id=t["policy_id"].where(t.index != 4, "P9999999")),
                       r"claims.csv: row 5 \(claim_id 'C0000004'\): policy_id 'P9999999' is not in the policies"),
    "negative_premium": ("policies", lambda t: t.assign(earned_premium=t["earned_premium"].where(t.index != 7, -5.0)),
                         r"policies.csv: row 8 \(policy_id 'P0000007'\): earned_premium must be >= 0, got -5.0"),
    "missing_column": ("policies", lambda t: t.drop(columns="exposure"), r"policies.csv: missing column 'exposure'"),
    "period_outside": ("claims", lambda t: t.assign(accident_period=t["accident_period"].where(t.index != 0, 1990)),
                       r"claims.csv: row 1 \(claim_id 'C0000000'\): accident_period 1990 is outside the history"),
    "nan_exposure": ("policies", lambda t: t.assign(exposure=t["exposure"].where(t.index != 2, np.nan)),
                     r"policies.csv: row 3 \(policy_id 'P0000002'\): exposure is empty or NaN"),
    "falling_quantiles": ("forecasts", lambda t: t.assign(**{"q0.5": t["q0.005"] - 1.0}),
                          r"forecasts.csv: row 1: quantile q0.5 .* is below q0.25"),
    "unknown_expense_line": ("expenses", lambda t: t.assign(line=t["line"].where(t.index != 1, "drones")),
                             r"expenses.csv: row 2: line 'drones' has no policies"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_row_and_column_and_writes_nothing(config, case):
    table, edit, message = BAD[case]
    path = config / f"{table}.csv"
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        read_history(config / "policies.csv", config / "claims.csv", expenses=config / "expenses.csv",
                     forecasts=config / "forecasts.csv")
    done = techins("backtest", config / "bt.toml")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and f"{table}.csv" in done.stderr
    assert not (config / "runs.sqlite").exists() and not (config / "report").exists()


def strings_of_json(value, where=""):
    """Where in a parsed JSON document a string holds a JSON object or array."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in strings_of_json(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in strings_of_json(v, f"{where}[{i}]")]
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            json.loads(value)
        except ValueError:
            return []
        return [where]
    return []


def strict_json(text):
    """json.loads refusing NaN and Infinity, which are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} in the JSON output")
    return json.loads(text, parse_constant=refuse)


def test_backtest_json_is_one_object_of_figures(config):
    done = techins("backtest", config / "bt.toml", "--json")
    assert done.returncode == 0, done.stderr
    report = strict_json(done.stdout)
    assert strings_of_json(report) == []
    assert {"lines", "calibration", "comparison"} <= set(report)
    fitted = [r for r in report["lines"] if r["fitted_severity"]]
    assert fitted and all(isinstance(r["severity_parameters"], dict) and isinstance(r["severity_stderrs"], dict)
                          for r in fitted)
    assert all(isinstance(x, float) for r in fitted for x in r["severity_parameters"].values())
    # the figures are the run's, with None where the table has NaN
    lines = pd.read_csv(config / "report" / "lines.csv").set_index("line")
    for r in report["lines"]:
        for key in ("loss_ratio", "indicated_rate_change", "pit_ks_pvalue"):
            value = lines.loc[r["line"], key]
            assert (r[key] is None) if pd.isna(value) else r[key] == pytest.approx(value, rel=1e-14)
        expected = json.loads(lines.loc[r["line"], "severity_parameters"]) if r["fitted_severity"] else {}
        assert r["severity_parameters"] == expected
    shown = techins("backtest", "--show", 1, "--store", config / "runs.sqlite", "--json")
    assert shown.returncode == 0, shown.stderr
    stored = strict_json(shown.stdout)
    assert strings_of_json(stored) == [] and stored["lines"] == report["lines"]


@pytest.mark.slow
def test_backtest_command_runs_lists_and_shows(config):
    done = techins("backtest", config / "bt.toml", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["run_id"] == 1 and "line_01" in report["flagged"]
    # the command keeps the run in the configuration's store
    assert report["store"] == str(config / "runs.sqlite") and (config / "runs.sqlite").is_file()
    listed = json.loads(techins("backtest", "--list", "--store", config / "runs.sqlite", "--json").stdout)
    assert [r["run_id"] for r in listed["runs"]] == [1] and listed["runs"][0]["scope"] == "test lines"
    shown = techins("backtest", "--show", 1, "--store", config / "runs.sqlite")
    assert shown.returncode == 0 and "line_01" in shown.stdout and "loss-making" in shown.stdout
    missing = techins("backtest", "--show", 7, "--store", config / "runs.sqlite")
    assert missing.returncode == 2 and "7" in missing.stderr and missing.stderr.count("\n") == 1


def test_cas_schedule_p_back_test_flags_lines_whose_experience_beat_their_pricing(tmp_path):
    """The shipped CAS example (examples/backtest): every flagged company-line has a combined ratio
    above 100% with a p-value under the configured 1%, and its developed losses are the chain ladder
    of its own triangle."""
    from techins.backtest.triangles import Triangle, chain_ladder

    config = read_config(ROOT / "examples" / "backtest" / "cas_backtest.toml")
    run = run_backtest(config, store=tmp_path / "runs.sqlite", out=tmp_path / "report")
    lines = run.experience.lines
    flagged = lines[lines["loss_making"]]
    assert len(lines) == 155 and 0 < len(flagged) < len(lines)
    # the per-line figures draw 12 lines and say so, on the page too
    page = (tmp_path / "report" / "report.html").read_text()
    assert "12 of 155 lines drawn: the loss-making ones first" in page
    assert (flagged["combined_ratio"] > 1.0).all() and (flagged["loss_making_pvalue"] < 0.01).all()
    # every flagged line gets a rate increase (no expenses table: the expense ratio is F + V = 0.30)
    assert (flagged["indicated_rate_change"] > 0).all()
    # othliab 14915: loss ratio 2.04 against 0.335 booked, Z 0.18: the credibility-weighted
    # indication 0.18 x ((2.04 + 0.10) / (1 - 0.20 - 0.05) - 1) = +33 %, not the -1.1 % of the priced
    # loss ratio as complement ((0.18 x 2.04 + 0.82 x 0.335 + 0.10) / 0.75 - 1)
    row = lines.set_index("line").loc["othliab 14915"]
    assert row["loss_ratio"] == pytest.approx(2.039, abs=5e-4)
    assert row["priced_loss_ratio"] == pytest.approx(0.335, abs=5e-4)
    assert row["credibility"] == pytest.approx(0.18, abs=5e-3) and bool(row["loss_making"])
    assert row["complement_loss_ratio"] == row["permissible_loss_ratio"] == pytest.approx(0.65)
    z, lr = row["credibility"], row["experience_loss_ratio"]
    assert row["indicated_rate_change"] == pytest.approx(z * ((lr + 0.10) / 0.75 - 1.0), rel=1e-12)
    assert row["indicated_rate_change"] == pytest.approx(0.333, abs=5e-3)
    triangles = pd.read_csv(ROOT / "examples" / "backtest" / "cas" / "triangles.csv")
    line = flagged["line"].iloc[0]
    ladder = chain_ladder(Triangle.from_long(triangles[triangles["line"] == line]))
    ultimate = run.experience.periods.loc[run.experience.periods["line"] == line, "ultimate_loss"].to_numpy()
    np.testing.assert_allclose(ultimate, ladder.ultimate, rtol=1e-12)


def test_priced_distributions_are_resimulated_from_product_version_and_seed(tmp_path):
    """With [resimulate], each period's book is rebuilt from the catalogue and simulated with its
    pricing seed: the forecast quantiles are that simulation's line quantiles, exactly."""
    import techins as ti
    from techins.backtest.resimulate import PROBABILITIES, resimulated_forecasts
    from techins.results import figures
    from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write

    products = write(tmp_path / "products", cyber=CYBER, fok=FOK)
    rng = np.random.default_rng(4)
    rows = []
    for period, seed in ((2024, 11), (2025, 12)):
        rows += [cyber_policy(policy_id=f"C{period}-{i}", revenue=float(rng.lognormal(17, 1))) | {"period": period,
                 "seed": seed} for i in range(12)]
        rows += [fok_policy(policy_id=f"F{period}-{i}", contract_value=float(rng.lognormal(16, 0.5))) | {
                 "period": period, "seed": seed} for i in range(6)]
    policies = pd.DataFrame(rows)
    policies["line"] = np.where(policies["product"] == "cyber_t", "cyber", "first_of_kind")
    policies["version"] = "1"
    catalogue = ti.read_catalogue(products)
    forecasts = resimulated_forecasts(policies, catalogue, 2_000)
    part = policies[policies["period"] == 2025].reset_index(drop=True)
    sim = ti.simulate(catalogue.book(part).portfolio, 2_000, 12)
    cyber = np.sort(sim.line_annual[sim.portfolio.line_names.index("cyber")])
    got = forecasts.set_index(["line", "period"]).loc[("cyber", 2025)]
    for p in PROBABILITIES:
        assert got[f"q{p}"] == pytest.approx(figures.quantile_equal(cyber, p), rel=1e-12, abs=1e-9)
    # a whole run with [resimulate]: the forecasts feed the PIT
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), 2_000, 1).policies
    policies["exposure"] = 1.0
    policies["earned_premium"] = priced["capped_premium"].to_numpy()
    policies["expected_loss"] = priced["expected_loss"].to_numpy()
    policies.to_csv(tmp_path / "policies.csv", index=False)
    pd.DataFrame(columns=["claim_id", "policy_id", "accident_period", "paid", "incurred"]).to_csv(
        tmp_path / "claims.csv", index=False)
    (tmp_path / "bt.toml").write_text('scope = "resim"\n[inputs]\npolicies = "policies.csv"\nclaims = "claims.csv"\n'
                                      '[resimulate]\nproducts = "products"\nyears = 2000\n')
    run = run_backtest(read_config(tmp_path / "bt.toml"))
    assert (run.experience.periods["predictive"] == "forecast").all()
    assert np.isfinite(run.experience.periods["pit"]).all()
    policies.loc[3, "version"] = "2"
    with pytest.raises(ValueError, match=r"row 4 \(policy_id 'C2024-3'\): priced with version '2' of 'cyber_t', "
                                         r"the catalogue has version '1'"):
        resimulated_forecasts(policies, catalogue, 2_000, source="policies.csv")
