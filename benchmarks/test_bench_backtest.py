"""A back-test of 1M policies, 200,000 claims, 10 periods and 20 lines (target: under 60 s on 2 cores).

Variants: the checks and the analysis in memory (``history_from_frames`` + ``analyse``), and the
whole run from Parquet files (reading, checks, analysis, plots, HTML report, the run kept in a SQLite
store). Baseline in the same run: the bare per line-period sums and ratios in pandas/NumPy (no input
checks, no statistics beyond the ratios and the Garwood interval), to show what the checks, the
calibration, credibility, recalibration and claims checks cost on top.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from techins.backtest.experience import analyse
from techins.backtest.history import history_from_frames
from techins.backtest.run import read_config, run_backtest
from techins.backtest.synthetic import synthetic_history

POLICIES, CLAIMS, PERIODS, LINES = 1_000_000, 200_000, 10, 20


@pytest.fixture(scope="module")
def tables():
    d = synthetic_history(POLICIES, LINES, PERIODS, seed=3)
    d["claims"] = d["claims"].iloc[:CLAIMS].reset_index(drop=True)
    return d


def bare_pandas(policies: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    keys = ["line", "period"]
    table = policies.groupby(keys).agg(premium=("earned_premium", "sum"), expected=("expected_loss", "sum"),
                                       expected_claims=("expected_claims", "sum")).reset_index()
    line = policies.set_index("policy_id")["line"]
    c = claims.assign(line=claims["policy_id"].map(line), period=claims["accident_period"])
    actual = c.groupby(keys).agg(claims=("incurred", "size"), incurred=("incurred", "sum")).reset_index()
    table = table.merge(actual, on=keys, how="left").fillna(0.0)
    table["loss_ratio"] = table["incurred"] / table["premium"]
    table["ave"] = table["claims"] / table["expected_claims"]
    table["ave_low"] = stats.chi2.ppf(0.025, 2 * table["claims"]) / 2 / table["expected_claims"]
    table["ave_high"] = stats.chi2.ppf(0.975, 2 * table["claims"] + 2) / 2 / table["expected_claims"]
    return table


@pytest.mark.parametrize("variant", ["numpy", "techins_checks_and_analysis"])
def test_backtest_1m_policies(record, tables, variant):
    scenario = "back-test, 1M policies x 200k claims"
    if variant == "numpy":
        record(scenario, variant, lambda: bare_pandas(tables["policies"], tables["claims"]), rounds=2)
        return
    experience = record(scenario, variant, lambda: analyse(history_from_frames(
        tables["policies"], tables["claims"], tables["expenses"], forecasts=tables["forecasts"])), rounds=2)
    assert len(experience.lines) == LINES and len(experience.periods) == LINES * PERIODS


def test_backtest_1m_policies_whole_run(record, tables, tmp_path):
    for name in ("policies", "claims", "expenses", "forecasts"):
        tables[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
    (tmp_path / "bt.toml").write_text(
        'scope = "benchmark"\nstore = "runs.sqlite"\nreport = "report"\n[inputs]\npolicies = "policies.parquet"\n'
        'claims = "claims.parquet"\nexpenses = "expenses.parquet"\nforecasts = "forecasts.parquet"\n')
    config = read_config(tmp_path / "bt.toml")
    counter = iter(range(100))
    run = record("back-test, 1M policies x 200k claims", "techins_whole_run",
                 lambda: run_backtest(config, out=tmp_path / f"report{next(counter)}"), rounds=1)
    assert np.isfinite(run.experience.lines["loss_ratio"]).all()
