"""The five action-plan products of issue 17 (rd_transfer_cost, startup_liability,
autonomous_driving_fleet, data_security_asset, tech_professional_liability) and the coverage
co-payment they use.

* every file loads and `techins products validate` accepts it;
* a typical policy of each, simulated, has an expected loss within 4 standard errors of the closed
  form and of the figure worked by hand in the file's header (scipy quadrature in
  tests/catalogue/test_catalogue.py checks the closed form itself);
* the driving-software scenario is one occurrence across many vehicles of one release, at the rate and
  hit probability of the file;
* the terms bound every loss: the co-payment share, the per-claim limits and the annual aggregates;
* the co-payment is a co-insurance share of each claim's layer (a property test), and a bad value is
  an error naming the file and the field.
"""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

import techins as ti
from techins.catalogue.products import Catalogue, read_product
from techins.simulation.occurrences import occurrence_chunks

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ROOT / "products"
NEW = ("rd_transfer_cost", "startup_liability", "autonomous_driving_fleet", "data_security_asset",
       "tech_professional_liability")

# The typical policy of each file's header, its scenario factor outside the scenario (so that the closed
# form is the whole expected loss) and its aggregates lifted (the closed form leaves them out), with
# the hand figure of the header.
TYPICAL = {
    "rd_transfer_cost": ({"units": 1.0, "insured_budget": 5e6, "project_stage": "lab",
                          "technology_field": "advanced_manufacturing", "aggregate_limit": math.inf}, 102.08e3),
    "startup_liability": ({"units": 1.0, "invested_capital": 1e6, "company_age": "1", "headcount_band": "11-50",
                           "business_failure_aggregate_limit": math.inf}, 26.6e3),
    "autonomous_driving_fleet": ({"vehicle_km": 1e5, "automation_level": "l4_driverless", "operating_area": "urban",
                                  "software_release": "other"}, 3.27e3),
    "data_security_asset": ({"revenue": 2e8, "data_asset_value": 2e7, "data_grade": "general", "security_score": "C",
                             "data_platform": "in_house", "aggregate_limit": math.inf}, 46.0e3),
    "tech_professional_liability": ({"tech_staff": 10.0, "service_type": "software_development",
                                     "contract_liability_cap": "uncapped",
                                     "errors_omissions_aggregate_limit": math.inf}, 12.54e3),
}


@pytest.fixture(scope="module")
def catalogue():
    return ti.read_catalogue(PRODUCTS)


def typical_book(catalogue, copies=1):
    rows = [{"policy_id": f"{pid}-{k}", "product": pid, **values}
            for pid, (values, _) in TYPICAL.items() for k in range(copies)]
    return catalogue.book(pd.DataFrame(rows))


# ---------------------------------------------------------------------------------------- files
def test_each_new_file_loads_and_validates():
    for pid in NEW:
        path = PRODUCTS / f"{pid}.toml"
        product = read_product(path)
        assert product.id == pid
        text = path.read_text()
        assert "Typical policy, by hand" in text and text.count("http") >= 2 and "assumption" in text
        done = subprocess.run([sys.executable, "-m", "techins", "products", "validate", str(path)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert f"ok  {path}" in done.stdout


def test_the_product_copayments_are_what_the_files_say(catalogue):
    assert catalogue["rd_transfer_cost"].coverage("project_failure").copayment == 0.2
    assert catalogue["startup_liability"].coverage("business_failure").copayment == 0.5
    assert catalogue["startup_liability"].coverage("third_party_liability").copayment == 0.0
    book = typical_book(catalogue)
    share = dict(zip(book.portfolio.arrays["policy_id"], book.portfolio.arrays["share"]))
    assert share["rd_transfer_cost-0/project_failure"] == 0.8
    assert share["startup_liability-0/business_failure"] == 0.5
    assert share["autonomous_driving_fleet-0/third_party_property"] == 1.0


# ---------------------------------------------------------------------------------------- expected loss
def test_simulated_typical_policies_match_the_closed_form_and_the_hand_figures(catalogue):
    """20 copies of each typical policy in one simulation of 100,000 years. Each product is alone in its
    line in this book, so the line's annual loss / 20 is the mean of the copies with its standard error
    (the copies share the line's parameter-risk factor: the error is measured, not assumed). It is within
    4 standard errors of the closed form and of the header's hand figure (which is rounded: 0.5% slack);
    the closed form is within 0.5% of the hand figure."""
    copies = 20
    book = typical_book(catalogue, copies)
    result = ti.simulate(book.portfolio, 100_000, seed=17)
    closed = pd.Series(book.expected_loss).groupby(book.policies["product"].to_numpy()[book.row_policy]).sum() / copies
    for pid, (_, hand) in TYPICAL.items():
        line = result.line_result(catalogue[pid].line)
        sim, se = line.mean() / copies, line.stderr("mean") / copies
        exact = closed[pid]
        assert exact == pytest.approx(hand, rel=5e-3), pid
        assert se < 0.05 * exact, pid  # tight enough that the test can fail
        assert abs(sim - exact) < 4 * se, (pid, sim, exact, se)
        assert abs(sim - hand) < 4 * se + 5e-3 * hand, (pid, sim, hand, se)


# ---------------------------------------------------------------------------------------- fleet shock
def fleet(catalogue, n_per_release=200):
    rows = [{"policy_id": f"V{r}-{i:03d}", "product": "autonomous_driving_fleet", "vehicle_km": 1e5,
             "automation_level": "l4_driverless", "operating_area": "urban", "software_release": release}
            for r, release in enumerate(("ADS-R01", "ADS-R02")) for i in range(n_per_release)]
    rows.append({"policy_id": "P-000", "product": "autonomous_driving_fleet", "vehicle_km": 1e4,
                 "automation_level": "l3_private", "operating_area": "urban", "software_release": "other"})
    return catalogue.book(pd.DataFrame(rows))


def test_a_software_release_defect_is_one_occurrence_across_many_vehicles(catalogue):
    """Two releases of 200 vehicles each (one stream each at 0.3 a year, hit probability 0.01) and one
    car on an unlisted release. Over 5,000 years: events hitting two or more vehicles come at
    2 x 0.3 x P(K >= 2), K ~ Binomial(200, 0.01); each is one occurrence id in one year and one release,
    only on the property coverage; the unlisted car is never in one; hits per event average 2/(1 - 0.99^200)."""
    book = fleet(catalogue)
    assert sorted(s.name for s in book.portfolio.shocks) == ["ads_software_defect[ADS-R01]",
                                                             "ads_software_defect[ADS-R02]"]
    years = 5_000
    result = ti.simulate(book.portfolio, years, seed=3)
    occ = pd.concat(occurrence_chunks(result), ignore_index=True)
    size = occ.groupby("occurrence_id")["policy_id"].transform("size")
    hits = occ[size >= 2].assign(release=lambda t: t["policy_id"].str[:2],
                                 coverage=lambda t: t["policy_id"].str.split("/").str[1])
    per = hits.groupby("occurrence_id").agg(n=("policy_id", "size"), years=("year", "nunique"),
                                            releases=("release", "nunique"), coverages=("coverage", "nunique"),
                                            cov=("coverage", "first"))
    many = per
    binom = stats.binom(200, 0.01)
    expected = 2 * 0.3 * years * binom.sf(1)
    assert abs(len(many) - expected) < 4 * math.sqrt(expected), (len(many), expected)
    assert (many["years"] == 1).all() and (many["releases"] == 1).all() and (many["coverages"] == 1).all()
    assert set(many["cov"]) == {"third_party_property"}
    # independent claims are occurrences of one vehicle each: every multi-vehicle occurrence is an event
    singles_of_the_car = occ[occ["policy_id"].str.startswith("P-000")]
    assert occ[occ["occurrence_id"].isin(singles_of_the_car["occurrence_id"])].groupby("occurrence_id").size().max() == 1
    # hits per event with at least one hit: E[K | K >= 1]; events with one hit look like single claims,
    # so compare the mean over events with K >= 2 instead: E[K | K >= 2]
    k = np.arange(2, 201)
    mean_k = (k * binom.pmf(k)).sum() / binom.sf(1)
    sd_k = math.sqrt((k * k * binom.pmf(k)).sum() / binom.sf(1) - mean_k ** 2)
    assert abs(many["n"].mean() - mean_k) < 4 * sd_k / math.sqrt(len(many))


# ---------------------------------------------------------------------------------------- terms
def test_terms_bound_every_loss(catalogue):
    """Occurrences before annual terms: R&D pays exactly 80% of (share x budget - 50k) at the file's
    shares; start-up failure at most 50% x 500k, liability at most 2M; vehicles at most 1M (property) and
    5M (injury). After annual terms: no start-up pays more than 250k for failure in a year, no R&D
    project more than its aggregate of 0.8 x budget."""
    budget = 5e6
    rows = [{"policy_id": "R", "product": "rd_transfer_cost", "units": 1.0, "insured_budget": budget,
             "project_stage": "lab", "technology_field": "biomedicine", "aggregate_limit": 0.8 * budget},
            {"policy_id": "S", "product": "startup_liability", "units": 1.0, "invested_capital": 2e6,
             "company_age": "1", "headcount_band": "51-200"},
            {"policy_id": "A", "product": "autonomous_driving_fleet", "vehicle_km": 5e5,
             "automation_level": "l3_private", "operating_area": "dense_urban", "software_release": "other"}]
    book = catalogue.book(pd.DataFrame(rows))
    result = ti.simulate(book.portfolio, 20_000, seed=11)
    occ = pd.concat(occurrence_chunks(result), ignore_index=True)
    by = dict(tuple(occ.groupby("policy_id")))
    shares = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    paid = 0.8 * (shares * budget - 50_000.0)
    rd = by["R/project_failure"]["loss"].to_numpy()
    assert rd.size > 500  # 0.044 x 1.8 a year over 20,000 years: the test sees many failures
    assert np.isclose(rd[:, None], paid[None, :], rtol=1e-12).any(axis=1).all()
    assert set(np.round(rd, 6)) == set(np.round(paid, 6))  # every stage of the law occurs
    failure = by["S/business_failure"]["loss"].to_numpy()
    assert failure.max() <= 0.5 * 5e5 * (1 + 1e-12) and np.isclose(failure, 0.5 * 5e5).any()
    assert by["S/third_party_liability"]["loss"].max() <= 2e6 * (1 + 1e-12)
    assert by["A/third_party_property"]["loss"].max() <= 1e6 * (1 + 1e-12)
    assert by["A/third_party_bodily_injury"]["loss"].max() <= 5e6 * (1 + 1e-12)
    after = pd.concat(occurrence_chunks(result, after_aggregates=True), ignore_index=True)
    annual = after.groupby(["policy_id", "year"])["loss"].sum()
    assert annual.loc["S/business_failure"].max() <= 2.5e5 * (1 + 1e-12)
    assert annual.loc["R/project_failure"].max() <= 0.8 * budget * (1 + 1e-12)
    before = occ.groupby(["policy_id", "year"])["loss"].sum()
    assert (before.loc["S/business_failure"] > 2.5e5).any()  # two failures in a year: the aggregate binds


# ---------------------------------------------------------------------------------------- co-payment
@settings(max_examples=25, deadline=None)
@given(copayment=st.floats(0.0, 0.99), share=st.floats(0.05, 1.0))
def test_copayment_is_a_coinsurance_share_of_each_layer(catalogue, copayment, share):
    """Closed form: E[L] with a co-payment c and a policy share s is (1 - c) s times the expected layer
    loss without either, coverage by coverage; the book row's share is (1 - c) s."""
    product = catalogue["startup_liability"]
    changed = dataclasses.replace(product, coverages=tuple(dataclasses.replace(c, copayment=copayment)
                                                           for c in product.coverages))
    plain = dataclasses.replace(product, coverages=tuple(dataclasses.replace(c, copayment=0.0)
                                                         for c in product.coverages))
    row = {"policy_id": "S", "product": "startup_liability", "units": 1.0, "invested_capital": 1e6,
           "company_age": "2", "headcount_band": "1-10", "share": share}
    a = Catalogue({"startup_liability": changed}).book(pd.DataFrame([row]))
    b = Catalogue({"startup_liability": plain}).book(pd.DataFrame([{**row, "share": 1.0}]))
    np.testing.assert_allclose(a.expected_loss, (1.0 - copayment) * share * b.expected_loss, rtol=1e-12)
    np.testing.assert_allclose(a.portfolio.arrays["share"], (1.0 - copayment) * share, rtol=1e-15)


@pytest.mark.parametrize("value, message", [
    ("1.0", r"copayment must be in \[0, 1\), got 1.0"),
    ("-0.1", r"copayment must be in \[0, 1\), got -0.1"),
    ("'20%'", "copayment must be a real number"),
])
def test_bad_copayment_names_the_file_and_the_field(tmp_path, value, message):
    text = (PRODUCTS / "rd_transfer_cost.toml").read_text().replace("copayment = 0.2", f"copayment = {value}")
    path = tmp_path / "rd.toml"
    path.write_text(text)
    with pytest.raises(ti.TechinsError, match=message) as info:
        read_product(path)
    assert str(info.value).startswith(str(path)) and "project_failure" in str(info.value)
    done = subprocess.run([sys.executable, "-m", "techins", "products", "validate", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
