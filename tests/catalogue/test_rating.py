"""Pricing against the catalogue (``techins.catalogue.rating.price_catalogue``) on a small book: four
policies of every shipped product from ``examples/portfolio.csv``, 2,000 years. The tables add up to
one another and to the book, the premium of every policy is rebuilt from its product file's
assumptions, the cap and subsidy follow the public scheme, and the results do not depend on the
number of threads."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.catalogue.rating import RETURN_PERIODS, price_catalogue
from techins.errors import InputError, InputTypeError

ROOT = Path(__file__).resolve().parents[2]
YEARS, SEED = 2000, 5
MONEY = ["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit", "technical_premium",
         "capped_premium", "shortfall", "subsidy", "insured_pays"]


@pytest.fixture(scope="module")
def catalogue():
    return ti.read_catalogue(ROOT / "products")


@pytest.fixture(scope="module")
def policies():
    # both example books: examples/portfolio.csv and the action-plan products' book
    table = pd.concat([ti.read_policies(ROOT / "examples" / name) for name in ("portfolio.csv", "portfolio_action_plan.csv")],
                      ignore_index=True, sort=False)
    return table.groupby("product", sort=True).head(4).reset_index(drop=True)


@pytest.fixture(scope="module")
def book(catalogue, policies):
    return catalogue.book(policies)


@pytest.fixture(scope="module")
def priced(catalogue, book):
    return price_catalogue(catalogue, book, YEARS, SEED, threads=1)


def test_the_small_book_has_every_product(catalogue, policies, priced):
    assert set(policies["product"]) == set(catalogue.products)
    assert len(priced.policies) == len(policies) == 4 * len(catalogue.products)
    assert priced.policies["policy_id"].tolist() == policies["policy_id"].astype(str).tolist()


def test_products_table_is_the_policies_summed_by_product(priced):
    p = priced.policies
    products = priced.products.set_index("product")
    assert sorted(products.index) == sorted(set(p["product"]))
    for pid, mine in p.groupby("product"):
        row = products.loc[pid]
        assert row["line"] == mine["line"].iloc[0] and row["policies"] == len(mine)
        for column in MONEY:
            assert row[column] == pytest.approx(mine[column].sum(), rel=1e-12, abs=1e-9), (pid, column)
        assert row["cap_binding"] == mine["cap_binding"].sum()
        assert row["loss_ratio"] == pytest.approx(mine["expected_loss"].sum() / mine["capped_premium"].sum(),
                                                  rel=1e-12)


def test_lines_table_is_the_policies_summed_by_line(priced):
    p = priced.policies
    lines = priced.lines.set_index("line")
    assert sorted(lines.index) == sorted(set(p["line"])) == sorted(priced.result.portfolio.line_names)
    for line, mine in p.groupby("line"):
        row = lines.loc[line]
        assert row["policies"] == len(mine)
        for column in ("technical_premium", "capped_premium", "subsidy"):
            assert row[column] == pytest.approx(mine[column].sum(), rel=1e-12, abs=1e-9)
        # the line's simulated annual losses and its policies' simulated sums: the same years
        assert row["expected_loss"] == pytest.approx(mine["expected_loss"].sum(), rel=1e-9)
        annual = priced.result.line_result(line).annual
        assert row["expected_loss"] == pytest.approx(annual.mean(), rel=1e-12)
        assert row["std"] == pytest.approx(np.std(annual, ddof=1), rel=1e-12)
    assert lines["expected_loss"].sum() == pytest.approx(priced.book["expected_loss"], rel=1e-9)


def test_coverages_add_up_to_their_policies(priced):
    c = priced.coverages
    p = priced.policies.set_index("policy_id")
    assert len(c) == priced.result.portfolio.n_policies == priced.book["coverage_rows"]
    sums = c.groupby("policy_id")[["expected_loss", "expected_loss_closed_form", "allocated_capital",
                                   "risk_load"]].sum()
    for column in sums.columns:
        np.testing.assert_allclose(sums[column], p.loc[sums.index, column], rtol=1e-12, atol=1e-9)
    assert (c.groupby("policy_id")["product"].nunique() == 1).all()
    assert (c.set_index("policy_id")["product"] == p.loc[c["policy_id"], "product"].to_numpy()).all()


def test_every_premium_rebuilt_from_its_product_file(catalogue, priced):
    """``technical = (E + load + fixed) / (1 - variable - profit)``; variable expense and profit are
    their shares of it; then ``min(technical, cap)`` and the subsidy's share of what is charged."""
    for row in priced.policies.itertuples():
        pricing = catalogue[row.product].pricing
        technical = (row.expected_loss + row.risk_load + pricing.fixed_expense) / (
            1.0 - pricing.variable_expense - pricing.profit)
        assert row.technical_premium == pytest.approx(technical, rel=1e-12)
        assert row.fixed_expense == pricing.fixed_expense
        assert row.variable_expense == pytest.approx(pricing.variable_expense * technical, rel=1e-12)
        assert row.profit == pytest.approx(pricing.profit * technical, rel=1e-12)
        parts = row.expected_loss + row.risk_load + row.fixed_expense + row.variable_expense + row.profit
        assert parts == pytest.approx(row.technical_premium, rel=1e-12)
        assert row.capped_premium == pytest.approx(min(row.technical_premium, row.premium_cap), rel=1e-15)
        assert row.shortfall == pytest.approx(row.technical_premium - row.capped_premium, rel=1e-12, abs=1e-9)
        assert row.subsidy == pytest.approx(pricing.subsidy_share * row.capped_premium, rel=1e-15)
        assert row.insured_pays == pytest.approx(row.capped_premium - row.subsidy, rel=1e-12, abs=1e-9)
        assert row.cap_binding == (row.technical_premium > row.premium_cap)


def test_capped_premium_never_above_the_rate_cap_of_the_sum_insured(catalogue, policies, priced):
    p = priced.policies
    capped_products = {pid for pid, product in catalogue.products.items() if product.pricing.rate_cap is not None}
    assert capped_products == {"fok_equipment", "fok_new_materials", "fok_software"}
    for row, source in zip(p.itertuples(), policies.itertuples()):
        pricing = catalogue[row.product].pricing
        if row.product in capped_products:
            insured = float(getattr(source, pricing.rate_cap_column))  # the portfolio's own column
            assert row.rate_cap == pricing.rate_cap == 0.03 and row.rate_cap_base == insured
            assert row.premium_cap == pytest.approx(0.03 * insured, rel=1e-15)
            assert row.capped_premium <= 0.03 * insured * (1.0 + 1e-15)
            assert row.subsidy == pytest.approx(0.8 * row.capped_premium, rel=1e-15)
        else:
            assert math.isnan(row.rate_cap) and math.isnan(row.rate_cap_base) and row.premium_cap == math.inf
            assert row.capped_premium == row.technical_premium and row.shortfall == 0.0
            # a subsidy without a cap (rd_transfer_cost: 50%) is the product's share of the premium
            assert row.subsidy == pytest.approx(pricing.subsidy_share * row.capped_premium, rel=1e-15)
    capped = p[p["product"].isin(capped_products)]
    assert capped["cap_binding"].any() and not capped["cap_binding"].all()  # both sides of the cap


def test_ep_curves_monotone_and_aggregate_above_occurrence(priced):
    ep = priced.ep_curves
    assert list(ep["scope"].unique()) == ["book", *priced.result.portfolio.line_names]
    for scope, part in ep.groupby("scope", sort=False):
        assert part["return_period"].tolist() == [float(t) for t in RETURN_PERIODS if t <= YEARS]
        assert part["aep"].is_monotonic_increasing and part["aep_tvar"].is_monotonic_increasing, scope
        assert (part["aep_tvar"] >= part["aep"]).all()
        annual = priced.result.annual if scope == "book" else priced.result.line_result(scope).annual
        expected = [np.quantile(annual, 1.0 - 1.0 / t, method="inverted_cdf") for t in part["return_period"]]
        np.testing.assert_array_equal(part["aep"], expected)
    book = ep[ep["scope"] == "book"]
    assert book["oep"].is_monotonic_increasing and book["oep_tvar"].is_monotonic_increasing
    assert ((book["aep_low"] <= book["aep"]) & (book["aep"] <= book["aep_high"])).all()
    assert ((book["oep_low"] <= book["oep"]) & (book["oep"] <= book["oep_high"])).all()
    # each line's annual loss is at most the book's, year by year, so its AEP too
    for scope, part in ep[ep["scope"] != "book"].groupby("scope"):
        assert (part["aep"].to_numpy() <= book["aep"].to_numpy() * (1 + 1e-12)).all(), scope


def test_book_aep_at_least_oep(priced):
    """A year's loss is the sum of its occurrences' paid losses, so at least its largest one (12 of
    these 2,000 years had max_occurrence > annual when the largest event was taken before the policies'
    annual aggregate terms: a 117M event in a 31.5M year)."""
    r = priced.result
    assert (r.annual >= r.max_occurrence * (1.0 - 1e-12)).all()
    assert (r.max_occurrence > 0.0).sum() > 0.9 * (r.annual > 0.0).sum()
    book = priced.ep_curves[priced.ep_curves["scope"] == "book"]
    assert (book["aep"] >= book["oep"]).all()


def test_book_figures_are_the_results(priced):
    r, b = priced.result, priced.book
    assert (b["years"], b["seed"], b["policies"]) == (YEARS, SEED, len(priced.policies))
    assert b["scenarios"] == len(r.portfolio.shocks) > 0
    assert b["expected_loss"] == r.mean() == pytest.approx(np.mean(r.annual), rel=1e-14)
    assert b["expected_loss_stderr"] == pytest.approx(np.std(r.annual, ddof=1) / math.sqrt(YEARS), rel=1e-12)
    assert b["std"] == r.std()
    assert b["var_99_5"] == np.quantile(r.annual, 0.995, method="inverted_cdf")
    assert b["var_99_5_stderr"] == r.stderr("quantile", 0.995)
    assert (b["tvar_99"], b["tvar_99_stderr"]) == (r.tvar(0.99), r.stderr("tvar", 0.99))
    for column in ("technical_premium", "capped_premium", "subsidy", "shortfall", "insured_pays"):
        assert b[column] == pytest.approx(priced.policies[column].sum(), rel=1e-12)
    assert b["expected_loss"] == pytest.approx(priced.policies["expected_loss"].sum(), rel=1e-9)
    assert b["capped_premium"] == pytest.approx(b["subsidy"] + b["insured_pays"], rel=1e-12)
    assert b["technical_premium"] == pytest.approx(b["capped_premium"] + b["shortfall"], rel=1e-12)


def test_policy_errors_are_the_contract_errors_of_the_book(priced):
    """A policy is a contract of its coverage rows; its standard error is that contract's."""
    contracts = priced.result.contract_table()
    assert len(contracts) == len(priced.policies)
    by_id = contracts.set_index("contract_id")
    assert set(by_id.index) == set(priced.policies["policy_id"])
    for row in priced.policies.itertuples():
        assert row.expected_loss_stderr == by_id.loc[row.policy_id, "expected_loss_stderr"]
        assert row.expected_loss == pytest.approx(by_id.loc[row.policy_id, "expected_loss"], rel=1e-12, abs=1e-9)


def test_same_numbers_on_one_and_two_threads(catalogue, book, priced):
    two = price_catalogue(catalogue, book, YEARS, SEED, threads=2)
    for name in ("policies", "coverages", "lines", "products", "ep_curves"):
        pd.testing.assert_frame_equal(getattr(priced, name), getattr(two, name), check_exact=True)
    assert two.book == priced.book
    np.testing.assert_array_equal(two.result.annual, priced.result.annual)
    other_seed = price_catalogue(catalogue, book, YEARS, SEED + 1, threads=2)
    assert other_seed.book["expected_loss"] != priced.book["expected_loss"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"years": 0}, InputError, r"simulate: years must be an integer in \[1, inf\], got 0"),
    ({"years": 2.5}, InputTypeError, "simulate: years must be an integer, got 2.5"),
    ({"seed": -1}, InputError, r"simulate: seed must be an integer in \[0, inf\], got -1"),
    ({"threads": 0}, InputError, "price_catalogue: threads must be an integer in"),
])
def test_bad_run_arguments(catalogue, book, kwargs, error, message):
    args = {"years": 100, "seed": 1, **kwargs}
    with pytest.raises(error, match=message):
        price_catalogue(catalogue, book, args["years"], args["seed"], threads=args.get("threads"))
