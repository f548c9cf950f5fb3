"""Treaties and programmes: invariants (hypothesis), hand computations, Sundt's reinstatement premium
on the reference line against the exact path and the peers' figure, golden cases, bad input."""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import techins as ti
from techins.reinsurance.programme import (
    AggregateXL,
    OccurrenceXL,
    PerRiskXL,
    Programme,
    QuotaShare,
    Surplus,
    apply_programme,
    apply_to_occurrences,
    programme_from_mapping,
    read_programme,
    sundt_premium,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "treaties"
REGENERATE = os.environ.get("TECHINS_REGENERATE_GOLDEN") == "1"


# ---------------------------------------------------------------------------------------- strategies
@st.composite
def treaties(draw, k):
    kind = draw(st.sampled_from(["qs", "surplus", "risk", "occ", "agg"]))
    money = st.floats(1e3, 5e6)
    name = f"t{k}"
    if kind == "qs":
        return QuotaShare(draw(st.floats(0.0, 1.0)), name=name)
    if kind == "surplus":
        return Surplus(draw(money), draw(st.floats(0.0, 9.0)), name=name)
    if kind == "risk":
        return PerRiskXL(draw(st.one_of(st.just(math.inf), money)), draw(money), name=name)
    if kind == "occ":
        rates = tuple(draw(st.lists(st.floats(0.0, 2.0), max_size=3)))
        return OccurrenceXL(draw(money), draw(money), rates, premium=draw(st.floats(0.0, 1e6)), name=name)
    return AggregateXL(draw(st.one_of(st.just(math.inf), money)), draw(st.floats(0.0, 2e7)), name=name)


@st.composite
def programmes(draw):
    n = draw(st.integers(1, 5))
    return Programme(tuple(draw(treaties(k)) for k in range(n)))


@st.composite
def occurrence_tables(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, years = draw(st.integers(0, 400)), draw(st.integers(1, 30))
    occurrence = rng.integers(0, max(n // 2, 1), n)  # some occurrences touch several policies
    year = (occurrence * 7919) % years               # an occurrence lies in one year
    policy = rng.integers(0, 20, n)
    loss = rng.lognormal(12.0, 2.0, n) * (rng.uniform(size=n) > 0.05)
    return year, occurrence, policy, loss, years, rng.uniform(1e5, 2e7, 20)


# ---------------------------------------------------------------------------------------- invariants
@settings(max_examples=80, deadline=None)
@given(programme=programmes(), table=occurrence_tables())
def test_ceded_plus_net_is_gross_and_each_treaty_within_its_limits(programme, table):
    year, occurrence, policy, loss, years, insured = table
    r = apply_to_occurrences(year, occurrence, policy, loss, years, programme, sum_insured=insured,
                             keep_occurrences=True)
    scale = 1e-9 * (1.0 + loss.sum())
    np.testing.assert_allclose(r.gross, np.bincount(year, weights=loss, minlength=years), atol=scale)
    np.testing.assert_allclose(r.ceded.sum(axis=1) + r.net, r.gross, atol=scale)
    occ = r.occurrences
    ceded_cols = [c for c in occ.columns if c.startswith("ceded_")]
    np.testing.assert_allclose(occ[ceded_cols].sum(axis=1) + occ["net"], occ["gross"], atol=scale)
    assert (r.ceded >= -scale).all() and (r.net >= -scale).all()
    for t, treaty in enumerate(programme.treaties):
        if isinstance(treaty, OccurrenceXL):
            assert (r.ceded[:, t] <= treaty.annual_limit * (1 + 1e-12)).all()
            assert (r.reinstatement_factor[:, t] <= sum(treaty.reinstatements) + 1e-12).all()
        if isinstance(treaty, AggregateXL):
            assert (r.ceded[:, t] <= treaty.limit * (1 + 1e-12)).all()


@settings(max_examples=60, deadline=None)
@given(treaty=treaties(0), table=occurrence_tables(), factor=st.floats(1.0, 3.0))
def test_net_and_ceded_are_monotone_in_the_gross_loss(treaty, table, factor):
    """Each treaty: more gross loss never means less ceded or less net. (Not a property of every
    programme: an aggregate cover inuring to a per-risk one shares its recovery over the policies in
    proportion, and that split moves with the losses.)"""
    programme = Programme((treaty,))
    year, occurrence, policy, loss, years, insured = table
    low = apply_to_occurrences(year, occurrence, policy, loss, years, programme, sum_insured=insured)
    high = apply_to_occurrences(year, occurrence, policy, loss * factor, years, programme, sum_insured=insured)
    tol = 1e-9 * (1.0 + loss.sum() * factor)
    assert (high.net >= low.net - tol).all()
    assert (high.ceded.sum(axis=1) >= low.ceded.sum(axis=1) - tol).all()


def test_same_numbers_on_one_and_two_threads():
    rng = np.random.default_rng(3)
    n, years = 50_000, 2_000
    occurrence = rng.integers(0, 30_000, n)
    year = occurrence % years
    programme = Programme((QuotaShare(0.3), OccurrenceXL(1e6, 2e5, (1.0,)), AggregateXL(2e6, 1e6)))
    args = (year, occurrence, rng.integers(0, 9, n), rng.lognormal(11, 1.5, n), years, programme)
    one = apply_to_occurrences(*args, threads=1, keep_occurrences=True)
    two = apply_to_occurrences(*args, threads=2, keep_occurrences=True)
    np.testing.assert_array_equal(one.ceded, two.ceded)
    pd.testing.assert_frame_equal(one.occurrences, two.occurrences)


# ---------------------------------------------------------------------------------------- by hand
def test_occurrence_xl_reinstatements_by_hand():
    """10 xs 5, two reinstatements at 100% and 50%, deposit 2. Events 12, 20, 9 in one year: layer
    losses 7, 10, 4, cumulative 21 <= 30 ceded. Reinstatement: the first 10 at 100% (factor 1.0), the
    next 10 at 50% (0.5); the last 1 is not reinstated: factor 1.5, premium 1.5 x 2 = 3 (Sundt 1991,
    pro rata as to amount)."""
    xl = OccurrenceXL(10.0, 5.0, (1.0, 0.5), premium=2.0)
    r = apply_to_occurrences([0, 0, 0], [1, 2, 3], [0, 0, 0], [12.0, 20.0, 9.0], 1, Programme((xl,)))
    assert r.ceded[0, 0] == pytest.approx(21.0)
    assert r.reinstatement_factor[0, 0] == pytest.approx(1.5)
    table = r.treaty_table()
    assert table.loc[0, "expected_reinstatement_premium"] == pytest.approx(3.0)
    # a fourth event of 40 takes the layer to its annual cap of 3 x 10
    r = apply_to_occurrences([0] * 4, [1, 2, 3, 4], [0] * 4, [12.0, 20.0, 9.0, 40.0], 1, Programme((xl,)))
    assert r.ceded[0, 0] == pytest.approx(30.0) and r.net[0] == pytest.approx(81.0 - 30.0)


def test_inuring_order_by_hand():
    """A 20% quota share inuring to a 50 xs 30 per-risk XL: a 100 loss is 80 after the QS, of which
    the XL takes 50; a 60 loss is 48, of which it takes 18. Surplus: SI 400, line 100, 2 lines cede
    min(200, 300)/400 = 50%."""
    programme = Programme((QuotaShare(0.2), PerRiskXL(50.0, 30.0)))
    r = apply_to_occurrences([0, 0], [1, 2], [0, 1], [100.0, 60.0], 1, programme, keep_occurrences=True)
    assert r.ceded[0].tolist() == pytest.approx([32.0, 68.0])
    surplus = apply_to_occurrences([0], [1], [0], [80.0], 1, Programme((Surplus(100.0, 2.0),)), sum_insured=[400.0])
    assert surplus.ceded[0, 0] == pytest.approx(40.0)


def test_aggregate_xl_on_premium_and_event_sharing():
    """A stop loss 50% xs 110% of a 100 premium: 50 xs 110. Year losses 80 + 60 = 140 -> 30 ceded,
    from the occurrence that crosses the attachment; one event over two policies is one occurrence."""
    stop = AggregateXL.on_premium(0.5, 1.1, 100.0)
    assert (stop.limit, stop.attachment) == pytest.approx((50.0, 110.0))
    r = apply_to_occurrences([0, 0, 0], [7, 7, 9], [0, 1, 2], [50.0, 30.0, 60.0], 1, Programme((stop,)),
                             keep_occurrences=True)
    assert r.ceded[0, 0] == pytest.approx(30.0)
    assert len(r.occurrences) == 2 and sorted(r.occurrences["gross"]) == [60.0, 80.0]


# ---------------------------------------------------------------------------------------- Sundt
def test_sundt_premium_on_the_reference_line_exact_and_monte_carlo():
    """5M xs 1M on Poisson(5) x LogNormal(10, 2) with two reinstatements at 100%. Exact: the bands
    E[min(max(S_L - kL, 0), L)] from the FFT with aggregate layers; peers give 199,982.85 expected
    ceded and 192,292.55 reinstatement-adjusted pure premium (two peer packages agree). Monte Carlo: the same
    treaty over the occurrences of a one-policy book, within its standard error."""
    occurrence = ti.Layer(limit=5e6, deductible=1e6)
    bands = [ti.exact(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=occurrence,
                              aggregate=ti.Layer(limit=5e6, deductible=k * 5e6))).mean() for k in range(3)]
    assert sum(bands) == pytest.approx(199_982.85, rel=2e-6)
    assert sundt_premium(bands, 5e6, (1.0, 1.0)) == pytest.approx(192_292.55, rel=2e-6)

    book = ti.Portfolio(pd.DataFrame({"policy_id": ["ref"], "line": "ref", "claim_rate": [5.0], "severity": "x"}),
                        {"x": ti.LogNormal(10.0, 2.0)})
    years = 400_000
    sim = ti.simulate(book, years, seed=12)
    r = apply_programme(sim, Programme((OccurrenceXL(5e6, 1e6, (1.0, 1.0)),)))
    table = r.treaty_table().iloc[0]
    assert abs(table.expected_ceded - sum(bands)) < 4 * table.expected_ceded_stderr
    np.testing.assert_allclose(r.gross, sim.annual, rtol=1e-12)  # no aggregate terms: the same losses
    assert abs(table.technical_premium - 192_292.55) < 4 * table.expected_ceded_stderr


def test_programme_gross_is_the_books_annual_loss_when_policy_and_contract_aggregates_bind():
    """Occurrences are cut by the policies' and contracts' annual aggregate terms as the simulation
    cuts them, so the programme's gross year by year is the book's annual loss."""
    rng = np.random.default_rng(5)
    n = 40
    book = ti.Portfolio(pd.DataFrame({
        "policy_id": [f"p{i}" for i in range(n)], "line": np.where(np.arange(n) < 20, "a", "b"),
        "claim_rate": rng.uniform(0.5, 3.0, n), "severity": "x", "severity_scale": rng.uniform(0.5, 2.0, n),
        "deductible": 1e4, "limit": 2e6, "agg_deductible": rng.choice([0.0, 5e4], n),
        "agg_limit": rng.choice([np.inf, 1e6, 3e5], n), "contract_id": [f"c{i // 2}" for i in range(n)],
        "contract_agg_deductible": 0.0, "contract_agg_limit": np.repeat(rng.choice([np.inf, 8e5], n // 2), 2),
    }), {"x": ti.LogNormal(11.5, 1.4)})
    sim = ti.simulate(book, 3000, seed=8)
    lines = book.arrays["line"]
    r = apply_programme(sim, Programme((QuotaShare(0.2), OccurrenceXL(1e6, 5e5, (1.0,)))), groups=lines)
    np.testing.assert_allclose(r.gross, sim.annual, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(r.net + r.ceded.sum(axis=1), r.gross, rtol=1e-10, atol=1e-6)
    # by group (here the lines): the groups add up to the whole, and each line's gross is its annual loss
    np.testing.assert_allclose(r.group_gross.sum(axis=0), r.gross, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(r.group_net.sum(axis=0), r.net, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(r.group_gross, sim.line_annual, rtol=1e-10, atol=1e-6)
    assert (r.group_net <= r.group_gross + 1e-6).all() and (r.group_net >= -1e-6).all()


def test_books_largest_occurrence_is_the_largest_row_of_the_programmes_occurrence_table():
    """The book's OEP sample (``BookResult.max_occurrence``) is each year's largest occurrence as paid,
    after the policies' and contracts' annual terms: the largest gross of the occurrence table the
    programme sees (own claims and whole events, per-policy and batch clauses), never above the year."""
    rng = np.random.default_rng(12)
    n = 30
    book = ti.Portfolio(pd.DataFrame({
        "policy_id": [f"p{i}" for i in range(n)], "line": "a", "claim_rate": rng.uniform(0.2, 1.5, n),
        "severity": "x", "deductible": 1e4, "limit": 2e6, "sum_insured": 5e6,
        "agg_deductible": rng.choice([0.0, 5e4], n), "agg_limit": rng.choice([np.inf, 1e6, 3e5], n),
        "contract_id": [f"c{i // 3}" for i in range(n)], "contract_agg_deductible": 0.0,
        "contract_agg_limit": np.repeat(rng.choice([np.inf, 1.5e6], n // 3), 3),
        "vendor": np.where(np.arange(n) % 2 == 0, "v", "w"),
    }), {"x": ti.LogNormal(11.5, 1.4)}, shocks=(
        ti.CommonShock("outage", 0.8, "vendor", ("v",), 0.6, ti.Gamma(2.0, 0.05)),
        ti.CommonShock("defect", 0.3, "vendor", ("w",), 0.8, ti.Gamma(2.0, 0.05), clause="batch",
                       event_deductible=1e5, event_limit=3e6)))
    sim = ti.simulate(book, 2000, seed=21)
    r = apply_programme(sim, Programme((QuotaShare(0.5),)), keep_occurrences=True)
    largest = r.occurrences.groupby("year")["gross"].max().reindex(range(sim.years), fill_value=0.0)
    np.testing.assert_allclose(sim.max_occurrence, largest.to_numpy(), rtol=1e-12, atol=1e-6)
    assert (sim.max_occurrence <= sim.annual * (1 + 1e-12) + 1e-6).all()
    assert (sim.max_occurrence < largest.max()).any()  # many years, not all of them the largest event


def test_treaty_accounts_by_hand():
    """QS 25% (commission 30%) then a surplus, an occurrence XL with a deposit and reinstatements, and
    a stop loss priced at its technical premium; premiums by hand, shared by group."""
    from techins.reinsurance.programme import treaty_accounts

    rng = np.random.default_rng(1)
    n, years = 30, 2000
    policy = rng.integers(0, n, 20_000)
    year = rng.integers(0, years, policy.size)
    loss = rng.lognormal(11.0, 1.5, policy.size)
    insured = rng.uniform(1e5, 4e6, n)
    programme = Programme((QuotaShare(0.25, ceding_commission=0.3), Surplus(retention=1e6, lines=2.0),
                           OccurrenceXL(2e5, 1e5, (1.0, 0.5), premium=3e4), AggregateXL(5e6, 4e6)))
    r = apply_to_occurrences(year, np.arange(policy.size), policy, loss, years, programme, sum_insured=insured)
    premium = rng.uniform(1e4, 5e4, n)
    groups = np.arange(n) % 3
    acc = treaty_accounts(r, premium, sum_insured=insured, load=0.5, groups=groups)
    fraction = np.minimum(2.0 * 1e6, np.maximum(insured - 1e6, 0.0)) / insured
    assert acc.premium[0] == pytest.approx(0.25 * premium.sum()) and acc.commission[0] == pytest.approx(0.3 * acc.premium[0])
    assert acc.premium[1] == pytest.approx((fraction * 0.75 * premium).sum()) and acc.commission[1] == 0.0
    assert acc.premium[2] == 3e4
    np.testing.assert_allclose(acc.reinstatement_premium[:, 2], 3e4 * r.reinstatement_factor[:, 2])
    stop = r.ceded[:, 3]
    assert acc.premium[3] == pytest.approx(stop.mean() + 0.5 * stop.std(ddof=1))
    assert acc.basis == ("ceded share", "ceded share", "given", "technical")
    np.testing.assert_allclose(acc.group_weight.sum(axis=0), 1.0)
    np.testing.assert_allclose(acc.group_weight[:, 0], np.bincount(groups, weights=premium) / premium.sum())
    np.testing.assert_allclose(acc.paid_by_group().sum(axis=0), acc.paid.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(acc.reinsurer_result, acc.paid - r.ceded)
    table = acc.table()
    assert table["expected_ceded"].to_numpy() == pytest.approx(r.ceded.mean(axis=0))


def test_cut_by_annual_terms_by_hand():
    from techins.simulation.occurrences import cut_by_annual_terms

    # policy 0: two claims 60 + 40 in year 3 under an aggregate limit of 50 -> both halved;
    # policy 1: 30 in year 3, deductible 10 -> 20; contract of both: limit 60 on 50 + 20 = 70 -> x 6/7
    year = np.array([3, 3, 3, 4])
    policy = np.array([0, 0, 1, 1])
    loss = np.array([60.0, 40.0, 30.0, 5.0])
    terms = np.array([[0.0, 50.0], [10.0, np.inf]])
    out = cut_by_annual_terms(year, policy, loss, terms, np.array([0, 0]), np.array([[0.0, 60.0]]))
    np.testing.assert_allclose(out, [30.0 * 6 / 7, 20.0 * 6 / 7, 20.0 * 6 / 7, 0.0])
    no_contracts = cut_by_annual_terms(year, policy, loss, terms, np.array([0, 0]), np.zeros((0, 2)))
    np.testing.assert_allclose(no_contracts, [30.0, 20.0, 20.0, 0.0])


# ---------------------------------------------------------------------------------------- golden
GOLDEN_CASES = {
    "quota_share": "[[treaty]]\ntype = 'quota_share'\ncession = 0.35\nceding_commission = 0.3\n",
    "surplus": "[[treaty]]\ntype = 'surplus'\nretention = 2e6\nlines = 4\n",
    "per_risk_xl": "[[treaty]]\ntype = 'per_risk_xl'\nlimit = 1.5e6\nretention = 5e5\n",
    "occurrence_xl": "[[treaty]]\ntype = 'occurrence_xl'\nlimit = 2e6\nretention = 1e6\nreinstatements = [1.0, 0.5]\n"
                     "rate_on_line = 0.12\n",
    "aggregate_xl": "[[treaty]]\ntype = 'aggregate_xl'\nlimit_share = 0.5\nattachment_share = 1.1\n"
                    "subject_premium = 4e6\n",
}
GOLDEN_RTOL = 1e-10  # declared tolerance: the same arithmetic, another platform's rounding at most


def golden_occurrences() -> pd.DataFrame:
    rng = np.random.default_rng(2026)
    n = 600
    occurrence = rng.integers(0, 400, n)
    return pd.DataFrame({"year": occurrence % 25, "occurrence_id": occurrence, "policy": rng.integers(0, 12, n),
                         "loss": np.round(rng.lognormal(12.5, 1.6, n), 2)})


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_treaty_cases(tmp_path, case):
    """Inputs and expected results under tests/golden/treaties/<case>/; regenerate with
    TECHINS_REGENERATE_GOLDEN=1 after a deliberate change (and say why in the commit)."""
    folder = GOLDEN / case
    programme_file = folder / "programme.toml"
    inputs_file, expected_file = folder / "occurrences.csv", folder / "expected_years.csv"
    insured = np.linspace(1e6, 1.2e7, 12)
    if REGENERATE:
        folder.mkdir(parents=True, exist_ok=True)
        programme_file.write_text(GOLDEN_CASES[case])
        golden_occurrences().to_csv(inputs_file, index=False)
    occ = pd.read_csv(inputs_file)
    programme = read_programme(programme_file)
    r = apply_to_occurrences(occ.year, occ.occurrence_id, occ.policy, occ.loss, 25, programme, sum_insured=insured)
    got = pd.DataFrame({"year": np.arange(25), "gross": r.gross, "ceded": r.ceded[:, 0], "net": r.net,
                        "reinstatement_factor": r.reinstatement_factor[:, 0]})
    if REGENERATE:
        got.to_csv(expected_file, index=False, float_format="%.17g")
    expected = pd.read_csv(expected_file)
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=GOLDEN_RTOL, atol=1e-3)


# ---------------------------------------------------------------------------------------- bad input
BAD = {
    "negative_limit": ("[[treaty]]\ntype='per_risk_xl'\nlimit=-1.0\nretention=0.0\n", r"#1 \(per_risk_xl\): per-risk XL: limit must be in \(0, inf\], got -1.0"),
    "cession": ("[[treaty]]\ntype='quota_share'\ncession=1.5\n", r"quota share: cession must be in \[0, 1\], got 1.5"),
    "negative_rate": ("[[treaty]]\ntype='occurrence_xl'\nlimit=1.0\nretention=0.0\nreinstatements=[1.0, -0.5]\n",
                      r"reinstatements\[1\] must be in \[0, inf\], got -0.5"),
    "unknown_type": ("[[treaty]]\ntype='cat_bond'\n", "type must be one of quota_share, .* got 'cat_bond'"),
    "unknown_key": ("[[treaty]]\ntype='quota_share'\ncession=0.2\ncommision=0.3\n", "unknown key 'commision'"),
    "syntax": ("[[treaty]\ntype='quota_share'\n", "not valid TOML"),
    "no_treaty": ("name = 'empty'\n", r"missing \[\[treaty\]\] tables; one per treaty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_programme_file_names_file_field_and_value(tmp_path, case):
    text, message = BAD[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ti.TechinsError, match=message) as info:
        read_programme(path)
    assert str(info.value).startswith(str(path))


def test_programme_needs_distinct_names_and_surplus_needs_sums_insured():
    with pytest.raises(ti.InputError, match="used twice"):
        Programme((QuotaShare(0.1), QuotaShare(0.2)))
    with pytest.raises(ti.InputError, match="surplus treaty needs sum_insured"):
        apply_to_occurrences([0], [0], [0], [1.0], 1, Programme((Surplus(1.0, 1.0),)))
    with pytest.raises(ti.InputError, match="premium or rate_on_line, not both"):
        OccurrenceXL(1.0, 0.0, premium=1.0, rate_on_line=0.1)
    assert programme_from_mapping({"treaty": [{"type": "quota_share", "cession": 0.5}]}).treaties[0].cession == 0.5


# ---------------------------------------------------------------------------------------- command
@pytest.mark.slow
def test_reinsure_command_writes_tables_and_ord(tmp_path):
    import json

    from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write
    from tests.cli_runner import techins

    products = write(tmp_path / "products", cyber=CYBER, fok=FOK)
    rows = [cyber_policy(policy_id=f"C{i}", cloud=["aws", "aliyun", "idc"][i % 3]) for i in range(20)]
    rows += [fok_policy(policy_id=f"F{i}") for i in range(10)]
    pd.DataFrame(rows).to_csv(tmp_path / "p.csv", index=False)
    programme = tmp_path / "programme.toml"
    programme.write_text("[[treaty]]\ntype='quota_share'\ncession=0.4\n[[treaty]]\ntype='occurrence_xl'\n"
                         "limit=2e6\nretention=5e5\nreinstatements=[1.0]\nrate_on_line=0.1\n")
    out = tmp_path / "out"
    run = techins("reinsure", programme, products, "--portfolio", tmp_path / "p.csv", "--years", "3000", "--out", out,
                  "--ord", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    years = pd.read_parquet(out / "years.parquet")
    ceded = years[[c for c in years.columns if c.startswith("ceded_")]].sum(axis=1)
    np.testing.assert_allclose(ceded + years["net"], years["gross"], rtol=1e-9, atol=1e-6)
    assert report["treaties"][0]["expected_ceded"] == pytest.approx(0.4 * years["gross"].mean(), rel=1e-9)
    for perspective in ("il", "rl", "ri"):   # gross, ceded, net
        ept = pd.read_csv(out / "ord" / f"{perspective}_S1_ept.csv")
        assert set(ept["EPType"]) == {1, 2, 3, 4}
        plt = pd.read_parquet(out / "ord" / f"{perspective}_S1_splt.parquet")
        assert plt["EventId"].dtype == np.int32 and plt["Period"].dtype == np.int32
    # per period, the PLT adds up to the years table (gross = il, net = ri)
    for code, column in (("il", "gross"), ("ri", "net")):
        plt = pd.read_csv(out / "ord" / f"{code}_S1_splt.csv")
        per_period = plt.groupby("Period")["Loss"].sum().reindex(range(1, 3001), fill_value=0.0)
        np.testing.assert_allclose(per_period.to_numpy(), years[column].to_numpy(), rtol=1e-12, atol=1e-6)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[treaty]]\ntype='quota_share'\ncession=1.5\n")
    run = techins("reinsure", bad, products, "--portfolio", tmp_path / "p.csv", "--out", tmp_path / "o2")
    assert run.returncode == 2 and "cession must be in [0, 1], got 1.5" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "o2").exists()


def test_exact_treaty_matches_the_reference_and_monte_carlo():
    from techins.reinsurance.programme import exact_treaty

    line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0))
    xl = exact_treaty(line, OccurrenceXL(5e6, 1e6, (1.0, 1.0)))
    assert xl["expected_ceded"] == pytest.approx(199_982.85, rel=2e-6)
    assert xl["sundt_premium"] == pytest.approx(192_292.55, rel=2e-6)
    stop = exact_treaty(line, AggregateXL(5e6, 3e6))
    sim = ti.simulate(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), aggregate=ti.Layer(5e6, 3e6)), 400_000, seed=3)
    assert abs(stop["expected_ceded"] - sim.mean()) < 4 * sim.stderr("mean")
    with pytest.raises(ti.InputError, match="ground up"):
        exact_treaty(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=ti.Layer(1.0)), AggregateXL(1.0, 0.0))


def test_burning_cost_by_hand():
    """Three years of history, 10% trend to the last year: losses 100 (year 1), 200 and 50 (year 2),
    none in year 3 -> as-if 121, 220, 55. A 100 xs 100 per-risk XL: 21 + 100 + 0 over 3 years = 40.33
    a year, 40.3% of its limit."""
    from techins.reinsurance.programme import burning_cost

    table = burning_cost([2021, 2022, 2022, 2023], [1, 2, 3, 4], [100.0, 200.0, 50.0, 0.0],
                         Programme((PerRiskXL(100.0, 100.0),)), trend=0.10)
    assert table.loc[0, "years"] == 3
    assert table.loc[0, "burning_cost"] == pytest.approx(121.0 / 3)
    assert table.loc[0, "burning_cost_rate_on_line"] == pytest.approx(121.0 / 300)
