"""Catalogue quotes: a policy row as an underwriting system holds it, priced on its product's basis
against a simulated book (techins.catalogue.quote.CatalogueQuoter).

Checks: a policy of the book is quoted at its portfolio price to the cent; a new policy's figures by
hand from its simulated annual losses (Euler share of the book with it added, gross-up, cap,
subsidy); its expected loss against the closed form within standard errors; batch = single quotes;
threads; errors naming the field.
"""

import dataclasses
import math
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from techins.catalogue.products import ProductPricing, read_catalogue, read_policies
from techins.catalogue.quote import CatalogueQuoter
from techins.catalogue.rating import price_catalogue
from techins.errors import InputError, InputTypeError
from techins.io.schema import QUOTE_COLUMNS

REPO = Path(__file__).resolve().parents[2]
YEARS, SEED = 4_000, 11
MONEY = ("expected_loss", "expected_loss_stderr", "co_tvar", "allocated_capital", "risk_load", "fixed_expense",
         "variable_expense", "profit", "technical_premium", "premium_cap", "capped_premium", "shortfall", "subsidy",
         "insured_pays")


def _catalogue():
    """The shipped catalogue with two products moved to other risk measures, so the std and Wang
    allocation rules are exercised too, and a rate cap on one that new policies can take (the shipped
    capped products have batch-clause scenarios, which a new policy cannot be quoted into)."""
    catalogue = read_catalogue(REPO / "products")
    products = dict(catalogue.products)
    for pid, measure, load, cap in (("ip_patent_enforcement", "std", 0.3, None),
                                    ("ip_infringement_liability", "wang", 0.2, None),
                                    ("cyber_large", "coc_tvar", 0.1, 2e-4)):
        p = products[pid].pricing
        products[pid] = dataclasses.replace(products[pid], pricing=ProductPricing(
            measure, load=load, fixed_expense=p.fixed_expense, variable_expense=p.variable_expense, profit=p.profit,
            rate_cap=cap, rate_cap_column=None if cap is None else "revenue", subsidy_share=0.3))
    return type(catalogue)(products)


@pytest.fixture(scope="module")
def catalogue():
    return _catalogue()


@pytest.fixture(scope="module")
def policies():
    return read_policies(REPO / "examples" / "portfolio.csv").iloc[::6].reset_index(drop=True)


@pytest.fixture(scope="module")
def priced(catalogue, policies):
    return price_catalogue(catalogue, catalogue.book(policies), YEARS, SEED)


@pytest.fixture(scope="module")
def quoter(catalogue, priced):
    return CatalogueQuoter(catalogue, priced)


def _row(policies, i) -> dict:
    # as an underwriting system sends it: only the fields the policy has
    return {k: v for k, v in policies.iloc[i].to_dict().items() if not (isinstance(v, float) and math.isnan(v))}


def _new(policies, i, **changes) -> dict:
    return {**_row(policies, i), "policy_id": f"NEW-{i}", **changes}


def test_every_policy_of_the_book_is_quoted_at_its_portfolio_price_to_the_cent(quoter, priced, policies):
    quotes = quoter.quote_many(policies)
    assert list(quotes.columns) == list(QUOTE_COLUMNS)
    assert (quotes["priced_as"] == "in_book").all()
    book = priced.policies
    for name in MONEY + ("rate_cap_base", "expected_loss_closed_form"):
        assert np.array_equal(quotes[name].to_numpy(float), book[name].to_numpy(float), equal_nan=True), name
    assert (quotes["cap_binding"].to_numpy() == book["cap_binding"].to_numpy()).all()
    assert np.array_equal(quotes["premium"].to_numpy(), book["capped_premium"].to_numpy())
    # one at a time, from a plain mapping, the same
    for i in (0, len(policies) // 2, len(policies) - 1):
        q = quoter.quote(_row(policies, i))
        assert q["priced_as"] == "in_book"
        assert abs(q["premium"] - book["capped_premium"].iloc[i]) < 0.005
        assert q["premium"] == book["capped_premium"].iloc[i]


def test_a_policy_of_the_book_with_other_terms_is_priced_as_an_addition(quoter, policies):
    i = int(np.flatnonzero(policies["product"].to_numpy() == "cyber_sme")[0])
    same = quoter.quote(_row(policies, i))
    changed = quoter.quote({**_row(policies, i), "incident_response_limit": 1e6})
    assert same["priced_as"] == "in_book" and changed["priced_as"] == "added"
    assert changed["expected_loss"] < same["expected_loss"] * 1.5


@pytest.mark.parametrize("product", ["cyber_sme", "cyber_large", "ip_patent_enforcement", "ip_infringement_liability",
                                     "drone_liability_hull"])
def test_a_new_policy_is_priced_by_hand_from_its_annual_losses(quoter, catalogue, policies, product):
    i = int(np.flatnonzero(policies["product"].to_numpy() == product)[0])
    policy = _new(policies, i)
    q = quoter.quote(policy)
    x = quoter.annual_losses(policy)
    s = quoter.snapshot.events.annual
    t = s + x
    n = t.size
    basis = catalogue[product].pricing.basis()
    assert q["priced_as"] == "added" and q["years"] == n
    assert q["expected_loss"] == pytest.approx(x.mean(), rel=1e-12)
    assert q["expected_loss_stderr"] == pytest.approx(x.std(ddof=1) / math.sqrt(n), rel=1e-9)
    # n (1 - p) = 40 years exactly: TVaR is the mean of the 40 largest years (no ties among them)
    k = round(n * (1 - basis.level))
    top = np.argsort(t)[-k:]
    assert np.unique(t[top]).size == k and t[top].min() > np.sort(t)[-k - 1]
    co_tvar = x[top].mean()
    assert q["co_tvar"] == pytest.approx(co_tvar, rel=1e-9, abs=1e-9)
    capital = co_tvar - x.mean()
    assert q["allocated_capital"] == pytest.approx(capital, rel=1e-9, abs=1e-6)
    book_capital = np.sort(s)[-k:].mean() - s.mean()
    assert q["incremental_capital"] == pytest.approx(t[top].mean() - t.mean() - book_capital, rel=1e-9, abs=1e-6)
    if basis.risk_measure == "coc_tvar":
        load = basis.load * capital
    elif basis.risk_measure == "std":
        load = basis.load * np.cov(x, t)[0, 1] / t.std(ddof=1)
    else:  # Wang: the book's load in proportion to the co-TVaR capital
        from techins.pricing.premium import wang_load

        load = wang_load(t, basis.load) * capital / (np.sort(t)[-k:].mean() - t.mean())
    assert q["risk_load"] == pytest.approx(load, rel=1e-9, abs=1e-6)
    technical = (x.mean() + load + basis.fixed_expense) / (1 - basis.variable_expense - basis.profit)
    assert q["technical_premium"] == pytest.approx(technical, rel=1e-9)
    assert q["variable_expense"] == pytest.approx(technical * basis.variable_expense, rel=1e-9)
    assert q["profit"] == pytest.approx(technical * basis.profit, rel=1e-9)
    if basis.rate_cap is None:
        assert math.isnan(q["rate_cap"]) and q["premium"] == q["technical_premium"]
    else:
        cap = basis.rate_cap * float(policy[catalogue[product].pricing.rate_cap_column])
        assert q["premium_cap"] == pytest.approx(cap) and q["premium"] == pytest.approx(min(technical, cap))
    assert q["subsidy"] == pytest.approx(basis.subsidy_share * q["premium"])
    assert q["insured_pays"] == pytest.approx(q["premium"] - q["subsidy"])


def test_a_new_policy_in_a_batch_clause_scenario_is_refused_but_a_policy_of_the_book_is_quoted(quoter, policies):
    # a batch clause shares one deductible and limit among every policy an event hits: a new policy's
    # share depends on the others' hits, which the book does not keep (module notes)
    i = int(np.flatnonzero(policies["product"].to_numpy() == "fok_software")[0])
    assert quoter.quote(_row(policies, i))["priced_as"] == "in_book"
    with pytest.raises(InputError, match="batch-clause scenario"):
        quoter.quote(_new(policies, i))


def test_new_policies_expected_loss_agrees_with_the_closed_form_within_standard_errors(quoter, policies):
    # products without scenarios; aggregate limits lifted: then the closed form is the expected loss
    rows = [j for j, p in enumerate(policies["product"]) if p in ("ip_patent_enforcement", "ip_infringement_liability")]
    table = pd.DataFrame([_new(policies, j) for j in rows])
    for column in [c for c in table.columns if c.endswith("aggregate_limit")] + ["aggregate_limit"]:
        table[column] = math.inf
    quotes = quoter.quote_many(table)
    assert (quotes["priced_as"] == "added").all() and len(quotes) > 30
    # distinct ids are independent streams, so the errors add in quadrature
    diff = quotes["expected_loss"].sum() - quotes["expected_loss_closed_form"].sum()
    se = math.sqrt((quotes["expected_loss_stderr"] ** 2).sum())
    assert abs(diff) < 4 * se, (diff, se)


def test_the_contract_aggregate_limit_bounds_the_policy_year(quoter, policies):
    i = int(np.flatnonzero(policies["product"].to_numpy() == "cyber_sme")[0])
    free = quoter.annual_losses(_new(policies, i, aggregate_limit=math.inf))
    cap = float(np.quantile(free[free > 0], 0.5))
    capped = quoter.annual_losses(_new(policies, i, aggregate_limit=cap))
    assert capped.max() <= cap and np.array_equal(capped, np.minimum(free, cap))


def test_a_batch_is_quoted_as_each_of_its_policies_alone(quoter, policies):
    # the capped first-of-kind products are left out: their batch-clause scenarios refuse new policies
    picks = [i for i in range(0, len(policies), 29) if not str(policies["product"].iloc[i]).startswith("fok_")]
    table = pd.DataFrame([_new(policies, i) for i in picks])
    batch = quoter.quote_many(table)
    for k, i in enumerate(picks):
        alone = quoter.quote(_new(policies, i))
        for name in QUOTE_COLUMNS:
            a, b = batch[name].iloc[k], alone[name]
            assert a == b or (isinstance(b, float) and math.isnan(a) and math.isnan(b)), (i, name)


def test_quotes_from_threads_equal_the_serial_quotes(quoter, policies):
    candidates = [_new(policies, i) for i in range(0, len(policies), 9)
                  if not str(policies["product"].iloc[i]).startswith("fok_")]
    serial = [quoter.quote(p) for p in candidates]
    requests = [i % len(candidates) for i in range(3 * len(candidates))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        quotes = list(pool.map(lambda i: quoter.quote(candidates[i]), requests))
    same = [_same(q, serial[i]) for i, q in zip(requests, quotes)]
    assert all(same), f"{same.count(False)} of {len(same)} concurrent quotes differ"


def test_a_scenario_the_book_never_drew_gets_the_same_events_for_every_quote(catalogue):
    # a book without drones: a drone quote's fleet events are drawn from a stream keyed by the scenario
    policies = read_policies(REPO / "examples" / "portfolio.csv")
    policies = policies[policies["product"].isin(["cyber_sme", "ip_patent_enforcement"])].iloc[::10]
    priced = price_catalogue(catalogue, catalogue.book(policies), 2_000, SEED)
    drone = read_policies(REPO / "examples" / "portfolio.csv").query("product == 'drone_liability_hull'").iloc[0]
    policy = {k: v for k, v in drone.to_dict().items() if not (isinstance(v, float) and math.isnan(v))}
    one, two = CatalogueQuoter(catalogue, priced), CatalogueQuoter(catalogue, priced)
    assert _same(one.quote(policy), two.quote(policy))
    assert one.quote(policy)["priced_as"] == "added" and one.quote(policy)["expected_loss"] > 0


@pytest.mark.parametrize("change, message", [
    ({"product": "space_tourism"}, "product 'space_tourism' is not in the catalogue"),
    ({"revenue": -5.0}, "revenue"),
    ({"revenue": math.nan}, "revenue"),
    ({"incident_response_limit": -1.0}, "incident_response_limit"),
    ({"industry_hazard": "volcanic"}, "industry_hazard 'volcanic' is not a level"),
    ({"policy_id": None}, "policy_id is empty"),
])
def test_bad_fields_are_refused_with_the_field_named(quoter, policies, change, message):
    i = int(np.flatnonzero(policies["product"].to_numpy() == "cyber_sme")[0])
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        quoter.quote({**_new(policies, i), **change})


def test_a_missing_exposure_column_is_named(quoter, policies):
    i = int(np.flatnonzero(policies["product"].to_numpy() == "cyber_sme")[0])
    policy = _new(policies, i)
    del policy["revenue"]
    with pytest.raises(InputError, match="missing column 'revenue'"):
        quoter.quote(policy)


def test_not_a_policy_is_a_type_error(quoter):
    with pytest.raises(InputTypeError, match="mapping"):
        quoter.quote(["cyber_sme", 1e7])
    with pytest.raises(InputTypeError, match="DataFrame"):
        quoter.quote_many([{"product": "cyber_sme"}])


def test_a_quoter_for_another_catalogue_is_refused(priced):
    with pytest.raises(InputError, match="another catalogue"):
        CatalogueQuoter(read_catalogue(REPO / "products"), priced)


def test_the_quoter_pickles_and_quotes_the_same(quoter, policies):
    again = pickle.loads(pickle.dumps(quoter))
    for i in (1, 60):
        assert _same(again.quote(_new(policies, i)), quoter.quote(_new(policies, i)))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def test_the_book_with_a_policy_is_sorted_as_a_full_sort_would(quoter):
    # the quote merges the policy's loss years into the book's sorted years instead of sorting again
    s = quoter.snapshot.events.annual
    rng = np.random.default_rng(3)
    for share in (0.0, 0.001, 0.05, 0.2, 1.0):
        x = np.where(rng.random(s.size) < share, rng.lognormal(8.0, 2.0, s.size), 0.0)
        x[:3] = 0.0 if share < 1 else x[:3]
        assert np.array_equal(quoter._sorted_with(s + x, x), np.sort(s + x))
