"""`techins price` and `techins products validate`: outputs written whole and consistent; bad input
ends with exit status 2, one line on stderr naming the file and field or row, and nothing in --out."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write
from tests.cli_runner import techins


@pytest.fixture
def inputs(tmp_path):
    products = write(tmp_path / "products", cyber=CYBER, fok=FOK)
    rng = np.random.default_rng(3)
    rows = [cyber_policy(policy_id=f"C{i}", revenue=float(rng.lognormal(17, 1)),
                         cloud=str(rng.choice(["aws", "aliyun", "idc"])), security_score=str(rng.choice(list("ABC"))))
            for i in range(30)]
    rows += [fok_policy(policy_id=f"F{i}", contract_value=float(rng.lognormal(16, 0.7)), units=int(rng.integers(1, 4)))
             for i in range(20)]
    portfolio = tmp_path / "policies.csv"
    pd.DataFrame(rows).to_csv(portfolio, index=False)
    return products, portfolio


@pytest.mark.slow
def test_price_writes_every_output_and_they_add_up(inputs, tmp_path):
    products, portfolio = inputs
    out = tmp_path / "out"
    run = techins("price", products, "--portfolio", portfolio, "--years", 5000, "--seed", 2, "--out", out, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    for name in ("policies", "coverages", "lines", "products", "ep_curves"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    for name in ("ep_curves.png", "premium_buildup.png", "summary.md", "run.json"):
        assert (out / name).stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary left
    policies = pd.read_parquet(out / "policies.parquet")
    assert len(policies) == 50
    parts = policies[["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit"]].sum(axis=1)
    np.testing.assert_allclose(parts, policies["technical_premium"], rtol=1e-12)
    np.testing.assert_allclose(policies["subsidy"] + policies["insured_pays"], policies["capped_premium"], rtol=1e-12)
    book = report["book"]
    assert policies["expected_loss"].sum() == pytest.approx(book["expected_loss"], rel=1e-10)
    lines = pd.read_csv(out / "lines.csv")
    assert lines["expected_loss"].sum() == pytest.approx(book["expected_loss"], rel=1e-10)
    coverages = pd.read_csv(out / "coverages.csv", dtype={"policy_id": str})
    assert coverages["expected_loss"].sum() == pytest.approx(book["expected_loss"], rel=1e-10)
    # the same seed gives the same numbers; a second run replaces the first output folder
    again = techins("price", products, "--portfolio", portfolio, "--years", 5000, "--seed", 2, "--out", out, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["book"] == book


@pytest.mark.slow
def test_price_table_for_people(inputs, tmp_path):
    products, portfolio = inputs
    run = techins("price", products / "cyber.toml", "--portfolio", portfolio.with_name("c.csv"), "--years", 2000,
                  "--out", tmp_path / "o")
    assert run.returncode == 2  # the portfolio file does not exist
    pd.read_csv(portfolio).query("product == 'cyber_t'").to_csv(portfolio.with_name("c.csv"), index=False)
    run = techins("price", products / "cyber.toml", "--portfolio", portfolio.with_name("c.csv"), "--years", 2000,
                  "--out", tmp_path / "o")
    assert run.returncode == 0, run.stderr
    assert "cyber_t" in run.stdout and "outputs in" in run.stdout


def bad_portfolio(frame):
    frame.loc[3, "revenue"] = "n/a"
    return frame


BAD = {
    "product_syntax": ("products", lambda folder: (folder / "cyber.toml").write_text(CYBER.replace("[pricing]", "[pricing")),
                       "cyber.toml: not valid TOML"),
    "product_negative": ("products", lambda folder: (folder / "fok.toml").write_text(FOK.replace("load = 0.1", "load = -0.1")),
                         "fok.toml: [pricing] PricingBasis: load must be in [0, 1], got -0.1"),
    "product_unknown_law": ("products", lambda folder: (folder / "fok.toml").write_text(
        FOK.replace('law = "exponential"', 'law = "expo"', 1)), "law 'expo' is unknown"),
    "product_truncated": ("products", lambda folder: (folder / "cyber.toml").write_text(CYBER[: CYBER.index("sigma = 1.2")]),
                          "cyber.toml: not valid TOML"),
    "product_nan_money": ("products", lambda folder: (folder / "fok.toml").write_text(FOK.replace("aggregate_limit = 3e6", "aggregate_limit = nan")),
                          "fok.toml: product 'fok_t': aggregate_limit must be a number, got NaN"),
    "product_unknown_key": ("products", lambda folder: (folder / "fok.toml").write_text(FOK.replace("[policy]", "[policy]\nreinstatements = 1")),
                            "fok.toml: [policy] unknown key 'reinstatements'"),
    "portfolio_missing_column": ("portfolio", lambda frame: frame.drop(columns=["units"]), "missing column 'units'"),
    "portfolio_text": ("portfolio", bad_portfolio, "row 4 (policy_id 'C3'): revenue must be a number, got 'n/a'"),
    "portfolio_nan": ("portfolio", lambda frame: frame.assign(contract_value=np.where(frame["product"] == "fok_t", np.nan, 1.0)),
                      "contract_value is empty or NaN"),
    "portfolio_unknown_product": ("portfolio", lambda frame: frame.replace({"product": {"fok_t": "fok_z"}}),
                                  "product 'fok_z' is not in the catalogue"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exit_2_one_line_nothing_written(inputs, tmp_path, case):
    products, portfolio = inputs
    kind, change, message = BAD[case]
    if kind == "products":
        change(products)
    else:
        change(pd.read_csv(portfolio, dtype=str)).to_csv(portfolio, index=False)
    out = tmp_path / "out"
    run = techins("price", products, "--portfolio", portfolio, "--years", 1000, "--out", out)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert message in run.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_out_that_is_a_users_folder_is_refused(inputs, tmp_path):
    products, portfolio = inputs
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    run = techins("price", products, "--portfolio", portfolio, "--years", 1000, "--out", out)
    assert run.returncode == 2 and "not written by techins" in run.stderr
    assert (out / "notes.txt").read_text() == "keep me"


def test_products_validate(tmp_path):
    folder = write(tmp_path / "products", cyber=CYBER, fok=FOK)
    run = techins("products", "validate", folder, "--json")
    assert run.returncode == 0, run.stderr
    assert sorted(p["id"] for p in json.loads(run.stdout)["products"]) == ["cyber_t", "fok_t"]
    (folder / "bad.toml").write_text(FOK.replace('id = "fok_t"', 'id = "fok_u"').replace("units", "units", 1)
                                     .replace("claims_per_unit = 0.3", "claims_per_unit = -0.3"))
    run = techins("products", "validate", folder)
    assert run.returncode == 2
    assert "bad.toml: [[coverage]] 'quality': claims_per_unit must be in [0, inf], got -0.3" in run.stderr
