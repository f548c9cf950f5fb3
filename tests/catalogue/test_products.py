"""Product files and portfolios: loading, validation messages, the book of coverage rows, closed-form
expected losses by hand, rating factors, business-interruption terms, the policy aggregate, scenarios,
and the premium build-up with cap and subsidy."""

import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import techins as ti
from techins.catalogue.products import Catalogue, read_catalogue, read_policies, read_product
from techins.catalogue.rating import price_catalogue

CYBER = textwrap.dedent("""\
    [product]
    id = "cyber_t"
    name = "Cyber test product"
    line = "cyber"
    currency = "CNY"
    version = "1"

    [exposure]
    column = "revenue"
    unit = 1e6
    exponent = 0.5

    [rating.security_score]
    applies_to = "frequency"
    levels = { A = 0.5, B = 1.0, C = 1.6 }

    [rating.industry]
    applies_to = "severity"
    levels = { retail = 1.0, health = 2.0 }
    coverages = ["incident_response"]

    [[coverage]]
    name = "incident_response"
    claims_per_unit = 0.02
    severity = { law = "lognormal", mu = 11.0, sigma = 1.2 }
    deductible = 20000.0
    limit = 1000000.0

    [[coverage]]
    name = "business_interruption"
    claims_per_unit = 0.01
    severity = { law = "gamma", shape = 1.5, scale = 20.0 }
    scale_column = "revenue"
    scale_factor = 5e-5
    waiting_hours = 12
    indemnity_hours = 240

    [[scenario]]
    id = "cloud_outage"
    coverage = "business_interruption"
    rate = 0.5
    factor = "cloud"
    values = ["aws", "aliyun"]
    per_value = true
    hit_probability = 0.3
    severity = { law = "gamma", shape = 2.0, scale = 10.0 }

    [pricing]
    risk_measure = "coc_tvar"
    load = 0.1
    level = 0.99
    fixed_expense = 500.0
    variable_expense = 0.2
    profit = 0.05
    """)

FOK = textwrap.dedent("""\
    [product]
    id = "fok_t"
    name = "First-of-kind test product"
    line = "first_of_kind"
    currency = "CNY"
    version = "1"

    [exposure]
    column = "units"
    unit = 1

    [policy]
    aggregate_limit = 3e6

    [[coverage]]
    name = "quality"
    claims_per_unit = 0.3
    severity = { law = "exponential", mean = 0.05 }
    scale_column = "contract_value"

    [[coverage]]
    name = "liability"
    claims_per_unit = 0.2
    severity = { law = "exponential", mean = 0.05 }
    scale_column = "contract_value"

    [pricing]
    risk_measure = "coc_tvar"
    load = 0.1
    variable_expense = 0.15
    profit = 0.05
    rate_cap = 0.03
    rate_cap_column = "contract_value"
    subsidy_share = 0.8
    """)


def write(folder, **files):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text)
    return folder


@pytest.fixture
def catalogue(tmp_path):
    return read_catalogue(write(tmp_path / "products", cyber=CYBER, fok=FOK))


def cyber_policy(**overrides):
    row = {"policy_id": "C1", "product": "cyber_t", "revenue": 4e7, "security_score": "B", "industry": "retail",
           "cloud": "idc"}
    row.update(overrides)
    return row


def fok_policy(**overrides):
    row = {"policy_id": "F1", "product": "fok_t", "units": 2, "contract_value": 1e7}
    row.update(overrides)
    return row


def layer_mean(law, scale, d, l):
    """E[min(max(sY - d, 0), l)] by quadrature of the survival function (independent of lev)."""
    return integrate.quad(lambda x: law.sf(x / scale), d, d + l, limit=200)[0]


# ---------------------------------------------------------------------------------------- loading
def test_products_load_into_frozen_dataclasses(catalogue):
    cyber = catalogue["cyber_t"]
    assert cyber.coverage("business_interruption").is_time_element
    assert cyber.rating[0].levels["C"] == 1.6
    assert catalogue["fok_t"].pricing.rate_cap == 0.03
    with pytest.raises(AttributeError):
        cyber.line = "ip"
    assert set(catalogue.scenarios) == {"cloud_outage"}


BAD_PRODUCTS = {
    "syntax": (CYBER.replace('[exposure]', '[exposure'), "not valid TOML"),
    "truncated": (CYBER[: CYBER.index("mu = 11.0")], "not valid TOML"),
    "nan_money": (CYBER.replace("deductible = 20000.0", "deductible = nan"), "deductible must be a number, got NaN"),
    "negative_limit": (CYBER.replace("limit = 1000000.0", "limit = -5.0"), r"limit must be in \(0, inf\], got -5.0"),
    "unknown_law": (CYBER.replace('law = "lognormal"', 'law = "lognormale"'), "law 'lognormale' is unknown"),
    "unknown_key": (CYBER.replace("exponent = 0.5", "exponant = 0.5"), r"\[exposure\] unknown key 'exponant'"),
    "unknown_coverage_key": (CYBER.replace("deductible = 20000.0", "deductable = 20000.0"),
                             "unknown key 'deductable'"),
    "missing_pricing": (CYBER[: CYBER.index("[pricing]")], r"missing table \[pricing\]"),
    "text_money": (CYBER.replace("fixed_expense = 500.0", "fixed_expense = '500'"), "fixed_expense must be a real"),
    "bad_measure": (CYBER.replace('risk_measure = "coc_tvar"', 'risk_measure = "tvar"'), "risk_measure must be one of"),
    "expenses": (CYBER.replace("profit = 0.05", "profit = 0.85"), "variable_expense \\+ profit must be < 1"),
    "scenario_coverage": (CYBER.replace('coverage = "business_interruption"', 'coverage = "bi"'),
                          "coverage 'bi' is not a coverage"),
    "waiting_without_indemnity": (CYBER.replace("indemnity_hours = 240\n", ""),
                                  "give both waiting_hours and indemnity_hours"),
    "relativity_zero": (CYBER.replace("A = 0.5", "A = 0.0"), r"levels.A must be in \(0, inf\]"),
    "cap_without_column": (FOK.replace('rate_cap_column = "contract_value"\n', ""), "rate_cap and rate_cap_column"),
}


@pytest.mark.parametrize("case", sorted(BAD_PRODUCTS))
def test_bad_product_file_names_file_and_field(tmp_path, case):
    text, message = BAD_PRODUCTS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ti.TechinsError, match=message) as info:
        read_product(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value).strip() or case in ("syntax", "truncated")


def test_one_scenario_id_is_one_event_and_must_agree(tmp_path):
    other = CYBER.replace('id = "cyber_t"', 'id = "cyber_u"')
    catalogue = read_catalogue(write(tmp_path / "ok", a=CYBER, b=other))
    assert [p.id for p, _ in catalogue.scenarios["cloud_outage"]] == ["cyber_t", "cyber_u"]
    policies = pd.DataFrame([cyber_policy(cloud="aws"), cyber_policy(policy_id="C2", product="cyber_u", cloud="aws")])
    shocks = catalogue.book(policies).portfolio.shocks
    assert [s.name for s in shocks] == ["cloud_outage[aws]"]  # one stream over both products
    differs = other.replace("rate = 0.5", "rate = 0.6")
    with pytest.raises(ti.InputError, match="'cloud_outage' is also in .* its rate differs"):
        read_catalogue(write(tmp_path / "bad", a=CYBER, b=differs))


def test_duplicate_product_id_and_line_parameter_risk_must_agree(tmp_path):
    with pytest.raises(ti.InputError, match="product id 'cyber_t' is already used"):
        read_catalogue(write(tmp_path / "dup", a=CYBER, b=CYBER.replace('id = "cloud_outage"', 'id = "other"')))
    mixed = CYBER.replace('version = "1"', 'version = "1"\nparameter_risk_cv = 0.2')
    other = CYBER.replace('id = "cyber_t"', 'id = "cyber_u"')
    with pytest.raises(ti.InputError, match="parameter_risk_cv 0.0 differs from 0.2"):
        read_catalogue(write(tmp_path / "risk", a=mixed, b=other))


# ---------------------------------------------------------------------------------------- the book
def test_closed_form_expected_loss_by_hand(catalogue):
    """One cyber policy: rate = 0.02 x (40)^0.5 x 1.6 (grade C); incident response 1M xs 20k of
    LogNormal(11, 1.2) x 2 (health); BI: Gamma(1.5, 20) hours x 40e6 x 5e-5 = 2,000 an hour, 12 h
    waiting, 240 h indemnity."""
    policy = cyber_policy(security_score="C", industry="health")
    book = catalogue.book(pd.DataFrame([policy]))
    rows = book.portfolio.arrays
    sqrt40 = math.sqrt(40.0)
    assert rows["claim_rate"][0] == pytest.approx(0.02 * sqrt40 * 1.6)
    assert rows["claim_rate"][1] == pytest.approx(0.01 * sqrt40 * 1.6)
    lognormal = stats.lognorm(s=1.2, scale=math.exp(11.0))
    ir = 0.02 * sqrt40 * 1.6 * layer_mean(lognormal, 2.0, 20_000.0, 1e6)
    hourly = 4e7 * 5e-5
    assert rows["deductible"][1] == pytest.approx(12 * hourly)
    assert rows["limit"][1] == pytest.approx((240 - 12) * hourly)
    gamma = stats.gamma(1.5, scale=20.0)
    bi = 0.01 * sqrt40 * 1.6 * layer_mean(gamma, hourly, 12 * hourly, 228 * hourly)
    np.testing.assert_allclose(book.expected_loss, [ir, bi], rtol=1e-7)


def test_simulated_expected_loss_matches_closed_form(catalogue):
    rng = np.random.default_rng(5)
    policies = pd.DataFrame([cyber_policy(policy_id=f"C{i}", revenue=float(r), security_score=g)
                             for i, (r, g) in enumerate(zip(rng.lognormal(17, 1, 40), rng.choice(list("ABC"), 40)))])
    book = catalogue.book(policies)  # cloud "idc": no scenario exposure
    priced = price_catalogue(catalogue, book, 40_000, 2)
    sim, exact = priced.coverages["expected_loss"].sum(), book.expected_loss.sum()
    stderr = priced.result.stderr("mean")
    assert abs(sim - exact) < 4 * stderr
    np.testing.assert_allclose(priced.policies["expected_loss"].sum(), priced.result.mean(), rtol=1e-10)


def test_frequency_relativity_scales_expected_loss_and_premium(catalogue):
    """Grade C carries 1.6 and grade A 0.5 on frequency: the closed-form expected loss moves by exactly
    that ratio, and the simulated premium moves the same way."""
    grades = ["A", "B", "C"]
    policies = pd.DataFrame([cyber_policy(policy_id=g, security_score=g) for g in grades])
    book = catalogue.book(policies)
    loss = pd.Series(book.expected_loss).groupby(book.row_policy).sum().to_numpy()
    np.testing.assert_allclose(loss / loss[1], [0.5, 1.0, 1.6], rtol=1e-12)
    priced = price_catalogue(catalogue, book, 40_000, 4).policies.set_index("policy_id")
    premium = priced["technical_premium"]
    assert premium["A"] < premium["B"] < premium["C"]
    ratio = priced["expected_loss"]["C"] / priced["expected_loss"]["A"]
    se = ratio * math.hypot(*(priced["expected_loss_stderr"][g] / priced["expected_loss"][g] for g in "AC"))
    assert abs(ratio - 3.2) < 4 * se


def test_severity_relativity_only_on_its_coverages(catalogue):
    policies = pd.DataFrame([cyber_policy(policy_id="r", industry="retail"),
                             cyber_policy(policy_id="h", industry="health")])
    book = catalogue.book(policies)
    scale = book.portfolio.arrays["severity_scale"]
    ir = book.row_coverage == "incident_response"
    np.testing.assert_allclose(scale[ir], [1.0, 2.0])
    np.testing.assert_allclose(scale[~ir], [2000.0, 2000.0])


def test_overrides_of_terms_per_policy(catalogue):
    policies = pd.DataFrame([cyber_policy(), cyber_policy(policy_id="C2", business_interruption_waiting_hours=24,
                                                          incident_response_limit=5e5)])
    policies.loc[0, "business_interruption_waiting_hours"] = np.nan  # empty: the product's 12 h
    rows = catalogue.book(policies).portfolio.arrays
    np.testing.assert_allclose(rows["deductible"], [20_000.0, 12 * 2000.0, 20_000.0, 24 * 2000.0])
    np.testing.assert_allclose(rows["limit"], [1e6, 228 * 2000.0, 5e5, 216 * 2000.0])


def test_policy_aggregate_limit_against_the_exact_path(catalogue):
    """Quality and liability have the same law and scale, so the policy's loss is compound
    Poisson(0.3 x 2 + 0.2 x 2) x Exponential(5e5); its 3M aggregate limit is the exact path's
    aggregate layer."""
    book = catalogue.book(pd.DataFrame([fok_policy()]))
    result = ti.simulate(book.portfolio, 200_000, seed=8)
    assert result.annual.max() <= 3e6 * (1 + 1e-12)
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(5e5), aggregate=ti.Layer(limit=3e6))
    exact = ti.exact(line).mean()
    assert abs(result.mean() - exact) < 4 * result.stderr("mean")
    assert exact < 1.0 * 5e5 - 1e3  # the limit binds in some years, so the test can fail
    contract = result.contract_table()
    assert contract["expected_loss_stderr"][0] == pytest.approx(result.stderr("mean"), rel=1e-9)


def test_contracts_with_no_terms_change_nothing(catalogue):
    policies = pd.DataFrame([cyber_policy(cloud="aws"), cyber_policy(policy_id="C2", cloud="aliyun")])
    book = catalogue.book(policies)
    frame = book.portfolio.policies
    plain = ti.Portfolio(frame.drop(columns=["contract_id", "contract_agg_deductible", "contract_agg_limit"]),
                         dict(book.portfolio.severities), book.portfolio.shocks)
    a = ti.simulate(book.portfolio, 30_000, seed=1)
    b = ti.simulate(plain, 30_000, seed=1)
    np.testing.assert_array_equal(a.annual, b.annual)
    np.testing.assert_array_equal(a.policy_sum, b.policy_sum)


def test_scenario_hits_only_exposed_policies_of_its_coverage(catalogue):
    policies = pd.DataFrame([cyber_policy(cloud="aws"), cyber_policy(policy_id="C2", cloud="idc"),
                             cyber_policy(policy_id="C3", cloud="aliyun")])
    portfolio = catalogue.book(policies).portfolio
    assert sorted(s.name for s in portfolio.shocks) == ["cloud_outage[aliyun]", "cloud_outage[aws]"]
    exposed = {s.name: portfolio.arrays["policy_id"][portfolio.exposed(s)].tolist() for s in portfolio.shocks}
    assert exposed == {"cloud_outage[aws]": ["C1/business_interruption"],
                       "cloud_outage[aliyun]": ["C3/business_interruption"]}


# ---------------------------------------------------------------------------------------- premium
def test_premium_components_cap_and_subsidy(catalogue):
    policies = pd.DataFrame([fok_policy(policy_id=f"F{i}", contract_value=v, units=u)
                             for i, (v, u) in enumerate([(1e7, 1), (2e6, 5), (5e7, 1), (8e6, 3)])])
    priced = price_catalogue(catalogue, catalogue.book(policies), 20_000, 3).policies
    p = catalogue["fok_t"].pricing
    expected_technical = (priced.expected_loss + priced.risk_load + p.fixed_expense) / (1 - p.variable_expense - p.profit)
    np.testing.assert_allclose(priced.technical_premium, expected_technical, rtol=1e-12)
    parts = priced.expected_loss + priced.risk_load + priced.fixed_expense + priced.variable_expense + priced.profit
    np.testing.assert_allclose(parts, priced.technical_premium, rtol=1e-12)
    np.testing.assert_allclose(priced.premium_cap, 0.03 * priced.rate_cap_base)
    np.testing.assert_allclose(priced.capped_premium, np.minimum(priced.technical_premium, priced.premium_cap))
    np.testing.assert_allclose(priced.subsidy, 0.8 * priced.capped_premium)
    np.testing.assert_allclose(priced.insured_pays + priced.subsidy, priced.capped_premium)
    np.testing.assert_allclose(priced.shortfall, priced.technical_premium - priced.capped_premium)
    # 5 units on a 2M contract: expected loss 5 x 0.5 x 0.05 x 2M = 250k, far above the 60k cap
    assert bool(priced.cap_binding[1]) and not bool(priced.cap_binding[2])


# ---------------------------------------------------------------------------------------- portfolios
BAD_PORTFOLIOS = {
    "missing_column": (lambda p: p.drop(columns=["revenue"]), r"missing column 'revenue'"),
    "text_in_number": (lambda p: p.assign(revenue=["4e7", "lots"]), r"row 2 \(policy_id 'C2'\): revenue must be a number, got 'lots'"),
    "nan_exposure": (lambda p: p.assign(revenue=[4e7, np.nan]), r"row 2 \(policy_id 'C2'\): revenue is empty or NaN"),
    "negative_exposure": (lambda p: p.assign(revenue=[4e7, -1.0]), r"revenue must be > 0, got -1.0"),
    "unknown_product": (lambda p: p.assign(product=["cyber_t", "cyber_x"]), "product 'cyber_x' is not in the catalogue"),
    "unknown_level": (lambda p: p.assign(security_score=["B", "Z"]), r"security_score 'Z' is not a level"),
    "duplicate_id": (lambda p: p.assign(policy_id=["C1", "C1"]), "duplicate policy_id"),
    "share_above_one": (lambda p: p.assign(share=[1.0, 1.5]), "share must be <= 1"),
    "negative_override": (lambda p: p.assign(incident_response_limit=[1e5, -1.0]), "incident_response_limit must be > 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_PORTFOLIOS))
def test_bad_portfolio_names_row_and_column(catalogue, case):
    change, message = BAD_PORTFOLIOS[case]
    policies = change(pd.DataFrame([cyber_policy(), cyber_policy(policy_id="C2")]))
    with pytest.raises(ti.TechinsError, match=message):
        catalogue.book(policies, source="book.csv")


def test_read_policies_csv_keeps_ids_as_text_and_parquet_round_trips(tmp_path, catalogue):
    frame = pd.DataFrame([cyber_policy(policy_id="007"), cyber_policy(policy_id="008", security_score="C")])
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    csv, parquet = read_policies(tmp_path / "p.csv"), read_policies(tmp_path / "p.parquet")
    assert csv["policy_id"].tolist() == ["007", "008"]
    np.testing.assert_array_equal(catalogue.book(csv).expected_loss, catalogue.book(parquet).expected_loss)
    with pytest.raises(ti.InputError, match="must be .csv or .parquet"):
        read_policies(tmp_path / "p.toml" if (tmp_path / "p.toml").write_text("") is not None else None)


def test_catalogue_needs_products():
    with pytest.raises(ti.InputError, match="no products"):
        Catalogue({})


# ---------------------------------------------------------------------------------------- contracts
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(n_rows=st.integers(1, 4), agg_deductible=st.sampled_from([0.0, 1e4, 2e5]),
       agg_limit=st.sampled_from([math.inf, 5e4, 1e6]), seed=st.integers(0, 2**31))
@pytest.mark.slow
def test_contract_terms_apply_to_the_sum_of_its_rows(n_rows, agg_deductible, agg_limit, seed):
    """The same draws with and without the contract's terms: each year's contract loss is exactly
    min(max(S - D, 0), L) of the free sum S, and no row gains from the cut."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"policy_id": [f"r{k}" for k in range(n_rows)], "line": "l",
                          "claim_rate": rng.uniform(0.1, 2.0, n_rows), "severity": "s",
                          "severity_scale": rng.uniform(0.5, 3.0, n_rows), "deductible": rng.choice([0.0, 1e3], n_rows)})
    laws = {"s": ti.LogNormal(10.0, 1.5)}
    free = ti.simulate(ti.Portfolio(frame, laws), 3000, seed=seed % 1000)
    bound = ti.simulate(ti.Portfolio(frame.assign(contract_id="c", contract_agg_deductible=agg_deductible,
                                                  contract_agg_limit=agg_limit), laws), 3000, seed=seed % 1000)
    expected = np.minimum(np.maximum(free.annual - agg_deductible, 0.0), agg_limit)
    np.testing.assert_allclose(bound.annual, expected, rtol=1e-12, atol=1e-9)
    assert (bound.policy_sum <= free.policy_sum * (1 + 1e-12)).all()
    n = 3000
    assert bound.contract_sumsq[0] == pytest.approx(float(np.sum(bound.annual ** 2)), rel=1e-12)
    assert bound.contract_table()["expected_loss"][0] == pytest.approx(bound.annual.sum() / n, rel=1e-12)


def test_contract_terms_must_agree_within_a_contract():
    frame = pd.DataFrame({"policy_id": ["a", "b"], "line": "l", "claim_rate": 1.0, "severity": "s",
                          "contract_id": "c", "contract_agg_limit": [1e6, 2e6]})
    with pytest.raises(ti.InputError, match="contract 'c' has contract terms"):
        ti.Portfolio(frame, {"s": ti.Exponential(1.0)})
    with pytest.raises(ti.InputError, match="needs a contract_id column"):
        ti.Portfolio(frame.drop(columns="contract_id"), {"s": ti.Exponential(1.0)})


def test_progress_is_reported_per_wave_and_changes_nothing(catalogue):
    book = catalogue.book(pd.DataFrame([cyber_policy(cloud="aws")]))
    calls = []
    with_bar = ti.simulate(book.portfolio, 300_000, seed=2, progress=lambda done, total: calls.append((done, total)))
    plain = ti.simulate(book.portfolio, 300_000, seed=2)
    np.testing.assert_array_equal(with_bar.annual, plain.annual)
    assert calls[-1][0] == calls[-1][1] and len(calls) >= 2
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_rate_cap_column_is_checked_like_any_number(tmp_path):
    """The cap's base is validated when the book is built, even when no coverage scales with it."""
    fok = FOK.replace('rate_cap_column = "contract_value"', 'rate_cap_column = "sum_insured"')
    catalogue = read_catalogue(write(tmp_path / "p", fok=fok))
    policies = pd.DataFrame([fok_policy(sum_insured=2e7), fok_policy(policy_id="F2", sum_insured="lots")])
    with pytest.raises(ti.InputError, match=r"row 2 \(policy_id 'F2'\): sum_insured must be a number, got 'lots'"):
        catalogue.book(policies)
    book = catalogue.book(policies.assign(sum_insured=[2e7, 3e7]))
    np.testing.assert_array_equal(book.rate_cap_base, [2e7, 3e7])
