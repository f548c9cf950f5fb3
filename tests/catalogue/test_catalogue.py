"""The shipped catalogue (products/*.toml) and the example portfolios (examples/portfolio.csv, and
examples/portfolio_action_plan.csv for the five action-plan products of issue 17).

Each product's expected loss for one policy is recomputed here from the raw TOML (tomllib, not the
loader): rate = claims_per_unit x (exposure / unit)^exponent x relativities, the claim size's scale,
the business-interruption time terms, and E[min(max(X - d, 0), l)] by quadrature of the survival
function; then against the simulation. The hand figures pinned below were worked on paper from the
files' laws (the arithmetic is in each file's comments).
"""

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

import techins as ti
from techins.model.linefile import SEVERITY_LAWS, law_from_mapping

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ROOT / "products"
PORTFOLIO = ROOT / "examples" / "portfolio.csv"
ACTION_PLAN = ROOT / "examples" / "portfolio_action_plan.csv"
FILES = sorted(PRODUCTS.glob("*.toml"))
LINES = {"ip", "first_of_kind", "cyber", "low_altitude"}  # the lines of examples/portfolio.csv
# the action-plan products: their lines (data security writes in cyber) and the book they are in
ACTION_PLAN_PRODUCTS = {"rd_transfer_cost", "startup_liability", "autonomous_driving_fleet", "data_security_asset",
                        "tech_professional_liability"}
ACTION_PLAN_LINES = {"rd_innovation", "startup", "autonomous_driving", "cyber", "professional_liability"}


@pytest.fixture(scope="module")
def catalogue():
    return ti.read_catalogue(PRODUCTS)


@pytest.fixture(scope="module")
def portfolio():
    """Both example books: every shipped product has policies in one of them."""
    return pd.concat([ti.read_policies(PORTFOLIO), ti.read_policies(ACTION_PLAN)], ignore_index=True, sort=False)


def raw(product_id):
    for file in FILES:
        data = tomllib.loads(file.read_text())
        if data["product"]["id"] == product_id:
            return data
    raise KeyError(product_id)


def layer_mean(law, scale, d, l):
    """E[min(max(sY - d, 0), l)] = s * integral of P(Y > y) over [d/s, (d + l)/s], in the law's own
    units (quadrature is then well scaled); split at the atoms of an empirical law."""
    lo, hi = d / scale, (d + l) / scale
    f = lambda y: float(law.sf(y))  # noqa: E731
    if isinstance(law, ti.Empirical):
        top = float(max(law.support))
        cuts = sorted({lo, min(hi, max(top, lo)), *[float(v) for v in law.support if lo < v < min(hi, top)]})
        return scale * sum(integrate.quad(f, a, b, limit=200)[0] for a, b in zip(cuts[:-1], cuts[1:]))
    return scale * integrate.quad(f, lo, hi, limit=400)[0]


def hand_expected_loss(product_id, policy: pd.Series) -> float:
    data = raw(product_id)
    exposure = data["exposure"]
    base = (float(policy[exposure["column"]]) / exposure["unit"]) ** exposure.get("exponent", 1.0)
    share = float(policy.get("share", 1.0)) if not pd.isna(policy.get("share", 1.0)) else 1.0
    total = 0.0
    for cov in data["coverage"]:
        paid = 1.0 - cov.get("copayment", 0.0)  # the insured's co-payment of each claim's layer
        freq, sev = 1.0, 1.0
        for column, factor in data.get("rating", {}).items():
            if "coverages" in factor and cov["name"] not in factor["coverages"]:
                continue
            rel = factor["levels"][str(policy[column])]
            if factor["applies_to"] == "frequency":
                freq *= rel
            else:
                sev *= rel
        rate = cov["claims_per_unit"] * base * freq
        scale = cov.get("scale_factor", 1.0) * sev * (float(policy[cov["scale_column"]]) if "scale_column" in cov else 1.0)
        d, l = cov.get("deductible", 0.0), cov.get("limit", math.inf)
        if "waiting_hours" in cov:
            d += cov["waiting_hours"] * scale
            l = min(l, (cov["indemnity_hours"] - cov["waiting_hours"]) * scale)
        law = law_from_mapping(cov["severity"], SEVERITY_LAWS, product_id, "severity")
        total += share * paid * rate * layer_mean(law, scale, d, l)
    return total


# ---------------------------------------------------------------------------------------- catalogue
def test_every_shipped_product_validates_and_covers_the_four_lines(catalogue):
    assert len(FILES) >= 9
    assert {p.line for p in catalogue.products.values()} == LINES | ACTION_PLAN_LINES
    for product in catalogue.products.values():
        text = Path(product.source).read_text()
        assert text.count("http") >= 2, f"{product.source}: parameters need their sources"
        assert "assumption" in text


def test_first_of_kind_products_carry_the_public_scheme(catalogue):
    fok = [p for p in catalogue.products.values() if p.line == "first_of_kind"]
    assert len(fok) >= 3
    for product in fok:
        assert product.pricing.subsidy_share == pytest.approx(0.8)
        assert product.pricing.rate_cap == pytest.approx(0.03)
        assert any(s.clause == "batch" for s in product.scenarios) or product.id.endswith("software")


def first_policy(portfolio, product_id):
    rows = portfolio[portfolio["product"] == product_id]
    assert len(rows), f"the example portfolio has no {product_id} policy"
    return rows.iloc[[0]].reset_index(drop=True)


@pytest.mark.parametrize("product_id", sorted(p for p in (
    tomllib.loads(f.read_text())["product"]["id"] for f in FILES)))
def test_expected_loss_of_one_policy_by_hand(catalogue, portfolio, product_id):
    policy = first_policy(portfolio, product_id)
    book = catalogue.book(policy)
    assert book.expected_loss.sum() == pytest.approx(hand_expected_loss(product_id, policy.iloc[0]), rel=2e-6)


# figures worked on paper in the product files' comments (a typical policy; rating factors not
# given take their level of relativity 1)
HAND = {
    "cyber_sme": ({"revenue": 50e6, "industry_hazard": "medium", "security_score": "C"}, 8.79e3),
    "cyber_large": ({"revenue": 2e9, "industry_hazard": "medium", "security_score": "C"}, 114.9e3),
    "drone_liability_hull": ({"flight_hours": 300.0, "aircraft_value": 60e3}, 6.76e3),
    "evtol_hull_passenger": ({"flight_hours": 300.0, "aircraft_value": 2.4e6}, 61.2e3),
    # 10 x 0.00107 x 0.897 x 1.533 = 0.01471 suits a year x (LEV(3.01M) - LEV(10k) = 487k)
    "ip_patent_enforcement": ({"patents_insured": 10.0, "technology_field": "electronic", "owner_type": "domestic",
                               "forum": "cn", "amount_at_risk_band": "1m_10m"}, 7171.0),
    # defence 0.00893 x 138.1k = 1,233; damages 0.000207 x 5M x E[min(S, 2)] = 421
    "ip_infringement_liability": ({"revenue": 100e6, "technology_field": "electronic", "forum": "cn",
                                   "amount_at_risk": 5e6, "amount_at_risk_band": "under_1m"}, 1654.0),
    # quality 0.15 x (4.50M - 48k) = 667,759; liability 0.02 x 1.558M = 31,162
    "fok_equipment": ({"units": 1.0, "contract_value": 30e6, "technology_readiness": "trl_8", "policy_year": "1",
                       "quality_aggregate_limit": np.nan, "aggregate_limit": np.nan}, 698_921.0),
    # quality 0.12 x 2.38M = 285,626; liability 0.015 x 8.20M = 122,971
    "fok_new_materials": ({"units": 1.0, "contract_value": 20e6, "material_class": "key_strategic",
                           "policy_year": "1", "aggregate_limit": np.nan}, 408_597.0),
    # liability 0.04 x 688k = 27,536; repair 0.2 x (120k - 9.6k) = 22,081; testing 0.1 x 71.6k = 7,159
    "fok_software": ({"units": 1.0, "contract_value": 3e6, "software_class": "application", "policy_year": "1"},
                     56_776.0),
    # 0.044 x 0.8 x (0.59 x 5M - 50k) = 102,080
    "rd_transfer_cost": ({"units": 1.0, "insured_budget": 5e6, "aggregate_limit": np.nan}, 102_080.0),
    # failure 0.10 x 0.5 x (0.1 x 300k + 0.9 x 500k) = 24,000; liability 0.03 x 86.6k = 2,598
    "startup_liability": ({"units": 1.0, "invested_capital": 1e6, "company_age": "1", "headcount_band": "11-50"},
                          26_598.0),
    # property 0.044 x 38.1k = 1,676; bodily injury 0.010 x 159.4k = 1,594
    "autonomous_driving_fleet": ({"vehicle_km": 1e5}, 3_270.0),
    # breach 0.01414 x 1.245M = 17.6k; data assets 0.00707 x 3.4025M = 24.1k; regulatory 0.00424 x 1.025M = 4.3k
    "data_security_asset": ({"revenue": 2e8, "data_asset_value": 2e7, "security_score": "C"}, 46.0e3),
    # 0.03 x 418k = 12.5k
    "tech_professional_liability": ({"tech_staff": 10.0}, 12.54e3),
}


@pytest.mark.parametrize("product_id", sorted(HAND))
def test_typical_policy_against_the_paper_computation(catalogue, portfolio, product_id):
    values, expected = HAND[product_id]
    policy = first_policy(portfolio, product_id)
    for column, value in values.items():
        policy[column] = value
    for column in policy.columns:  # no per-policy overrides of terms: the file's own terms
        if column.endswith(("_limit", "_deductible", "_hours")) and column not in values:
            policy[column] = np.nan
    for column, factor in raw(product_id).get("rating", {}).items():
        if column not in values:
            policy[column] = next(level for level, rel in factor["levels"].items() if rel == 1.0)
    assert catalogue.book(policy).expected_loss.sum() == pytest.approx(expected, rel=6e-3)


@pytest.mark.parametrize("product_id", sorted(HAND))
def test_frequency_relativities_move_the_expected_loss_by_the_file(catalogue, portfolio, product_id):
    policy = first_policy(portfolio, product_id)
    base = catalogue.book(policy).expected_loss.sum()
    for column, factor in raw(product_id).get("rating", {}).items():
        if factor["applies_to"] != "frequency" or "coverages" in factor:
            continue
        current = factor["levels"][str(policy.at[0, column])]
        for level, rel in factor["levels"].items():
            changed = policy.copy()
            changed[column] = level
            assert catalogue.book(changed).expected_loss.sum() == pytest.approx(base * rel / current, rel=1e-12)


@pytest.mark.parametrize("path, products, lines", [
    (PORTFOLIO, None, LINES), (ACTION_PLAN, ACTION_PLAN_PRODUCTS, ACTION_PLAN_LINES)], ids=["portfolio", "action_plan"])
def test_example_portfolio_is_a_few_thousand_policies_over_its_products(catalogue, path, products, lines):
    portfolio = ti.read_policies(path)
    assert 2_000 <= len(portfolio) <= 10_000
    products = products or set(catalogue.products) - ACTION_PLAN_PRODUCTS
    assert set(portfolio["product"]) == products
    book = catalogue.book(portfolio, source=str(path))
    assert set(book.portfolio.line_names) == lines
    assert len(book.portfolio.shocks) > 0


def test_example_books_together_cover_every_product(catalogue, portfolio):
    assert set(portfolio["product"]) == set(catalogue.products)


@pytest.mark.slow
def test_make_run_pricing_outputs_exist_and_add_up(tmp_path):
    """`make run`'s pricing step on the shipped catalogue and example portfolio (fewer years): every
    output is there, premium components add up per policy, and policies, coverages and lines add up
    to the book."""
    import json
    import subprocess
    import sys

    out = tmp_path / "pricing"
    run = subprocess.run([sys.executable, "-m", "techins", "price", str(PRODUCTS), "--portfolio", str(PORTFOLIO),
                          "--years", "4000", "--seed", "1", "--out", str(out), "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    book = json.loads(run.stdout)["book"]
    for name in ("policies", "coverages", "lines", "products", "ep_curves"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    for name in ("ep_curves.png", "premium_buildup.png", "summary.md", "run.json"):
        assert (out / name).stat().st_size > 0
    p = pd.read_parquet(out / "policies.parquet")
    assert len(p) == len(pd.read_csv(PORTFOLIO))
    parts = p[["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit"]].sum(axis=1)
    np.testing.assert_allclose(parts, p["technical_premium"], rtol=1e-12)
    np.testing.assert_allclose(p["capped_premium"], np.minimum(p["technical_premium"], p["premium_cap"]), rtol=1e-12)
    np.testing.assert_allclose(p["subsidy"] + p["insured_pays"], p["capped_premium"], rtol=1e-12)
    capped = p["rate_cap"].notna()
    np.testing.assert_allclose(p.loc[capped, "subsidy"], 0.8 * p.loc[capped, "capped_premium"], rtol=1e-12)
    assert p["cap_binding"].any() and not p["cap_binding"].all()  # the first-of-kind cap binds for some
    for table in (p, pd.read_parquet(out / "coverages.parquet"), pd.read_parquet(out / "lines.parquet")):
        assert table["expected_loss"].sum() == pytest.approx(book["expected_loss"], rel=1e-10)
    products = pd.read_parquet(out / "products.parquet")
    assert products["technical_premium"].sum() == pytest.approx(book["technical_premium"], rel=1e-12)
    assert (p["expected_loss_stderr"] > 0).mean() > 0.9


@pytest.mark.parametrize("path", [PORTFOLIO, ACTION_PLAN], ids=["portfolio", "action_plan"])
def test_a_policy_alone_gets_the_coverage_rows_it_has_in_the_whole_book(path):
    # a quote validates one row through Catalogue.book: it must see what the portfolio's book sees
    catalogue = ti.read_catalogue(ROOT / "products")
    policies = ti.read_policies(path)
    whole = catalogue.book(policies)
    frame = whole.portfolio.policies
    for i in range(0, len(policies), 97):
        alone = catalogue.book(policies.iloc[[i]])
        mine = frame[whole.row_policy == i].reset_index(drop=True)
        theirs = alone.portfolio.policies
        common = [c for c in theirs.columns if not c.startswith("scenario:")]
        pd.testing.assert_frame_equal(theirs[common], mine[common])
        for column in theirs.columns.difference(common):
            assert list(theirs[column]) == list(mine[column])
        assert np.array_equal(alone.expected_loss, whole.expected_loss[whole.row_policy == i])
        assert [s.name for s in alone.portfolio.shocks] == sorted(
            {s.name for s in whole.portfolio.shocks if set(s.values) & set(mine.get(s.factor, ()))},
            key=[s.name for s in whole.portfolio.shocks].index)
