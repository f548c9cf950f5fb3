"""A pool run end to end (``run_pool``, ``techins pool``): the pool's gross is its book's simulated
annual loss, money reconciles every year, member premiums and losses by hand for a quota share,
every allocation sums to the pool's total, a member bringing no book gets a zero Shapley value; bad
pool inputs name the file and field; the command writes its folder whole or not at all."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.pricing.allocation import pool_capital
from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write
from tests.cli_runner import techins

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pools"


@pytest.fixture
def small_pool(tmp_path):
    """Two test products, 40 policies with a written premium, a 30% quota share with a 20% commission."""
    write(tmp_path / "products", cyber=CYBER, fok=FOK)
    rng = np.random.default_rng(7)
    rows = [cyber_policy(policy_id=f"C{i}", revenue=float(rng.lognormal(17, 1)), written_premium=2e5 + 1e3 * i)
            for i in range(25)]
    rows += [fok_policy(policy_id=f"F{i}", contract_value=float(rng.lognormal(16, 0.7)), written_premium=5e5)
             for i in range(15)]
    pd.DataFrame(rows).to_csv(tmp_path / "policies.csv", index=False)
    (tmp_path / "programme.toml").write_text(
        "[[treaty]]\ntype = 'quota_share'\nname = 'qs'\ncession = 0.3\nceding_commission = 0.2\n")
    (tmp_path / "pool.toml").write_text("""\
name = "test pool"
lines = ["cyber", "first_of_kind"]
admin_expense = 0.02
unplaced = { first_of_kind = 0.1 }

[book]
products = "products"
portfolio = "policies.csv"
programme = "programme.toml"
premium_column = "written_premium"
years = 3000
seed = 4

[[member]]
name = "Lead"
role = "lead"
fee = 0.03
share = { cyber = 0.5, first_of_kind = 0.3 }

[[member]]
name = "Front"
role = "fronting"
fee = 0.01
share = { cyber = 0.2, first_of_kind = 0.2 }

[[member]]
name = "Mutual"
share = { cyber = 0.3, first_of_kind = 0.4 }
""")
    return tmp_path


def test_member_money_by_hand_under_a_quota_share(small_pool):
    spec = read_pool(small_pool / "pool.toml")
    run = run_pool(spec)
    policies = pd.read_csv(small_pool / "policies.csv")
    premium = {"cyber": policies.loc[policies["product"] == "cyber_t", "written_premium"].sum(),
               "first_of_kind": policies.loc[policies["product"] == "fok_t", "written_premium"].sum()}
    # the pool's gross each year is the book's simulated annual loss, same seed
    catalogue = ti.read_catalogue(small_pool / "products")
    book = catalogue.book(ti.read_policies(small_pool / "policies.csv"))
    sim = ti.simulate(book.portfolio, 3000, 4)
    np.testing.assert_allclose(run.annual["gross"], sim.annual, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(run.annual["ceded"], 0.3 * sim.annual, rtol=1e-10, atol=1e-6)
    gross_by_line = np.vstack([sim.line_annual[sim.portfolio.line_names.index(line)] for line in spec.lines])
    # by hand: member i gets s_il [P_l (1 - 3% - 1% - 2%) - 30% P_l (1 - 20%)] and s_il 70% G_l,y
    for i, member in enumerate(spec.members):
        s = [member.shares.get(line, 0.0) for line in spec.lines]
        expected_premium = sum(s[j] * premium[line] * (0.94 - 0.3 * 0.8) for j, line in enumerate(spec.lines))
        np.testing.assert_allclose(run.flows.premium[i], expected_premium, rtol=1e-12)
        np.testing.assert_allclose(run.flows.loss[i], 0.7 * (np.array(s) @ gross_by_line), rtol=1e-9, atol=1e-6)
    assert run.flows.fee_income[0] == pytest.approx(0.03 * sum(premium.values()))
    qs = run.treaties.iloc[0]
    assert qs["premium"] == pytest.approx(0.3 * sum(premium.values()))
    assert qs["commission"] == pytest.approx(0.2 * qs["premium"])
    assert qs["premium_basis"] == "ceded share"


def check_money_and_allocation(run):
    p = run.pool
    flows = run.flows
    years = run.annual
    money_out = flows.premium.sum(axis=0) + flows.fees + flows.admin_expense + years["reinsurance_premium"]
    np.testing.assert_allclose(money_out, p["premium"], rtol=1e-12)
    np.testing.assert_allclose(flows.loss.sum(axis=0) + years["ceded"], years["gross"], rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(years["gross"], run.book_result.annual, rtol=1e-10, atol=1e-6)
    assert p["premium_reconciliation_error"] < 1e-6 * p["premium"]
    if run.treaties is not None:
        t = run.treaties
        expected_paid = (t["premium"] - t["commission"] + t["expected_reinstatement_premium"]).sum()
        assert years["reinsurance_premium"].mean() == pytest.approx(expected_paid, rel=1e-10)
        # each treaty's reinsurers: what they are paid less what they pay, year by year
        reinsurers = years[[f"reinsurer_result_{name}" for name in t["treaty"]]].sum(axis=1)
        np.testing.assert_allclose(reinsurers, years["reinsurance_premium"] - years["ceded"], rtol=1e-9, atol=1e-3)
        np.testing.assert_allclose(years[[f"reinsurer_result_{name}" for name in t["treaty"]]].mean(),
                                   t["expected_reinsurer_result"], rtol=1e-9)
    members = run.members[run.members["role"] != "unplaced"]
    for column in ("proportional_to_share", "euler_capital", "shapley_capital"):
        assert members[column].sum() == pytest.approx(p["pool_capital"], rel=1e-9)
    # each line's Euler part of the capital of the whole pool (members and unplaced, before fees)
    whole = -(flows.result.sum(axis=0) - flows.fee_income.sum())
    assert run.lines["euler_capital"].sum() == pytest.approx(pool_capital(whole[None, :], p["level"]), rel=1e-9)
    np.testing.assert_allclose(members["expected_result"], members["premium"] + members["fee_income"]
                               - members["expected_loss"], rtol=1e-9)


def test_cyber_example_pool_reconciles_and_a_member_without_a_book_gets_no_shapley_value():
    run = run_pool(read_pool(EXAMPLES / "cyber_pool.toml"), years=3000)
    check_money_and_allocation(run)
    c = run.contributions.set_index("member")
    assert not c.loc["Fronting Insurer", "brings_book"]
    assert c.loc["Fronting Insurer", "shapley_benefit"] == 0.0
    assert c["shapley_benefit"].sum() == pytest.approx(run.contributions.attrs["diversification_benefit"], rel=1e-9)
    assert c["expected_gross"].sum() == pytest.approx(run.pool["expected_gross"], rel=1e-9)
    assert list(run.treaties["treaty"]) == ["quota share 20%", "stop loss 80M xs 140M"]


def test_equipment_example_pool_reconciles_with_its_unplaced_part():
    run = run_pool(read_pool(EXAMPLES / "fok_equipment_pool.toml"), years=3000)
    check_money_and_allocation(run)
    unplaced = run.members.set_index("member").loc["unplaced"]
    assert unplaced["premium"] > 0 and run.contributions is None
    assert unplaced["expected_loss"] == pytest.approx(0.05 / 0.95 * run.members.iloc[:4]["expected_loss"].sum(),
                                                      rel=1e-9)


def test_pool_lines_may_be_product_ids_or_lines(small_pool):
    by_line = run_pool(read_pool(small_pool / "pool.toml"), years=500)
    text = (small_pool / "pool.toml").read_text().replace('"cyber", "first_of_kind"', '"cyber_t", "fok_t"')
    text = text.replace("first_of_kind = ", "fok_t = ").replace("{ cyber = ", "{ cyber_t = ")
    (small_pool / "by_product.toml").write_text(text)
    by_product = run_pool(read_pool(small_pool / "by_product.toml"), years=500)
    np.testing.assert_allclose(by_product.flows.result, by_line.flows.result, rtol=1e-12)


def test_members_books_are_pooled_and_a_policy_is_written_once(small_pool):
    policies = pd.read_csv(small_pool / "policies.csv")
    policies.iloc[:20].to_csv(small_pool / "a.csv", index=False)
    policies.iloc[20:].to_csv(small_pool / "b.csv", index=False)
    text = (small_pool / "pool.toml").read_text().replace('portfolio = "policies.csv"\n', "")
    text = text.replace('name = "Lead"\n', 'name = "Lead"\nbook = "a.csv"\n')
    text = text.replace('name = "Mutual"\n', 'name = "Mutual"\nbook = "b.csv"\n')
    (small_pool / "books.toml").write_text(text)
    books = run_pool(read_pool(small_pool / "books.toml"))
    whole = run_pool(read_pool(small_pool / "pool.toml"))
    # the same policies in another grouping: the same pool, and each book's gross adds up
    np.testing.assert_allclose(books.annual["gross"], whole.annual["gross"], rtol=1e-10, atol=1e-6)
    assert books.contributions["expected_gross"].sum() == pytest.approx(whole.pool["expected_gross"], rel=1e-9)
    assert books.contributions.set_index("member").loc["Front", "shapley_benefit"] == 0.0
    policies.iloc[10:].to_csv(small_pool / "b.csv", index=False)  # policies 10..19 in both books
    with pytest.raises(ValueError, match=r"b.csv: policy_id 'C10' is also in .*a.csv"):
        run_pool(read_pool(small_pool / "books.toml"))


BAD = {
    "line_not_written": (lambda t: t.replace('lines = ["cyber", "first_of_kind"]', 'lines = ["cyber", "first_of_kind", "ip"]')
                         .replace("unplaced = { first_of_kind = 0.1 }", "unplaced = { first_of_kind = 0.1, ip = 0.5 }")
                         .replace("share = { cyber = 0.3, first_of_kind = 0.4 }",
                                  "share = { cyber = 0.3, first_of_kind = 0.4, ip = 0.5 }"),
                         "the pool lists line 'ip' but no policy of its book is in it"),
    "line_not_listed": (lambda t: t.replace('lines = ["cyber", "first_of_kind"]', 'lines = ["cyber"]')
                        .replace("unplaced = { first_of_kind = 0.1 }\n", "")
                        .replace(", first_of_kind = 0.3", "").replace(", first_of_kind = 0.2", "")
                        .replace(", first_of_kind = 0.4", ""),
                        "the book has policies of line 'first_of_kind', which the pool file does not list"),
    "premium_column": (lambda t: t.replace('premium_column = "written_premium"', 'premium_column = "gwp"'),
                       r"policies.csv: missing column 'gwp' \(the pool's book.premium_column\)"),
    "book_key": (lambda t: t.replace("years = 3000", "years = 3000\nhorizon = 2"), r"\[book\] unknown key 'horizon'"),
    "no_book": (lambda t: t.replace('portfolio = "policies.csv"\n', ""), "no portfolio and no member brings a book"),
    "years": (lambda t: t.replace("years = 3000", "years = 1"), r"\[book\]: years must be"),
    "missing_book_file": (lambda t: t.replace('name = "Mutual"\n', 'name = "Mutual"\nbook = "nowhere.csv"\n'),
                          "nowhere.csv: no such portfolio file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_pool_inputs_name_the_file_and_field(small_pool, case):
    edit, message = BAD[case]
    path = small_pool / f"{case}.toml"
    path.write_text(edit((small_pool / "pool.toml").read_text()))
    with pytest.raises(ValueError, match=message):
        run_pool(read_pool(path))


def test_negative_written_premium_names_the_row(small_pool):
    policies = pd.read_csv(small_pool / "policies.csv")
    policies.loc[3, "written_premium"] = -1.0
    policies.to_csv(small_pool / "policies.csv", index=False)
    with pytest.raises(ValueError, match=r"policies.csv: row 4 \(policy_id 'C3'\): written_premium must be >= 0"):
        run_pool(read_pool(small_pool / "pool.toml"))


@pytest.mark.slow
def test_pool_command_writes_tables_and_plots_atomically(small_pool, tmp_path):
    out = tmp_path / "out"
    done = techins("pool", small_pool / "pool.toml", "--out", out, "--years", 800, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["pool"]["years"] == 800 and len(report["members"]) == 4
    for name in ("members", "lines", "treaties", "allocation", "years"):
        parquet, csv = pd.read_parquet(out / f"{name}.parquet"), pd.read_csv(out / f"{name}.csv")
        assert list(parquet.columns) == list(csv.columns) and len(parquet) == len(csv) > 0
    assert len(pd.read_parquet(out / "years.parquet")) == 800
    assert (out / "member_results.png").stat().st_size > 10_000 and (out / "allocation.png").stat().st_size > 10_000
    members = pd.read_csv(out / "members.csv")
    assert members["premium"].sum() + report["pool"]["fees"] + report["pool"]["admin_expense"] \
        + report["pool"]["expected_reinsurance_premium"] == pytest.approx(report["pool"]["premium"], rel=1e-12)
    bad = small_pool / "bad.toml"
    bad.write_text((small_pool / "pool.toml").read_text().replace("fee = 0.03", "fee = -0.03"))
    failed = techins("pool", bad, "--out", tmp_path / "never")
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1 and "bad.toml" in failed.stderr and "fee must be in [0, 1)" in failed.stderr
    assert not (tmp_path / "never").exists()


def test_a_frailty_in_the_pool_file_reaches_the_pool_and_its_treaties():
    """The IP body with a shared gamma frailty (cv 0.8) on its line: claim counts move together, so the
    pooled book's spread and capital rise while its mean (frailty mean 1) stays within the errors; the
    flows still reconcile."""
    import dataclasses

    spec = read_pool("examples/pools/ip_coinsurance_body.toml")
    alone = run_pool(spec, years=4000)
    mixed = run_pool(dataclasses.replace(spec, dependence=(ti.GammaFrailty(0.8, lines=("ip",)),)), years=4000)
    a, m = alone.pool, mixed.pool
    assert abs(m["expected_gross"] - a["expected_gross"]) < 4 * np.hypot(a["expected_gross_stderr"],
                                                                          m["expected_gross_stderr"])
    assert mixed.book_result.portfolio.dependence == (ti.GammaFrailty(0.8, lines=("ip",)),)
    assert m["pool_capital"] > 1.1 * a["pool_capital"]
    assert m["loss_reconciliation_error"] < 1e-6 * m["expected_gross"]
    with pytest.raises(ti.InputError, match="pool 'IP insurance co-insurance body': .*cyber"):
        run_pool(dataclasses.replace(spec, dependence=(ti.GammaFrailty(0.8, lines=("cyber",)),)), years=400)


def test_the_pool_command_runs_the_dependence_of_its_file(small_pool, tmp_path):
    """A pool file's dependence (here the path of a file beside it holding a Gumbel copula between the
    pool's lines): the command names it on the terminal, in run.json, summary.md and report.html, and
    a line the book does not hold is one error naming the pool."""
    (small_pool / "lines.toml").write_text('[copula]\nfamily = "gumbel"\ntau = 0.5\nlines = ["cyber", "first_of_kind"]\n')
    pool = small_pool / "pool.toml"
    pool.write_text('dependence = "lines.toml"\n' + pool.read_text())  # a top-level key, before the tables
    out = tmp_path / "out"
    done = techins("pool", small_pool / "pool.toml", "--out", out, "--years", 800)
    assert done.returncode == 0, done.stderr
    said = "Gumbel copula (theta 2, Kendall's tau 0.5) on lines cyber, first_of_kind"
    assert f"dependence: {said}" in done.stdout
    assert json.loads((out / "run.json").read_text())["meta"]["dependence_specs"] == [said]
    assert f"- dependence: {said}" in (out / "summary.md").read_text()
    assert "Gumbel copula (theta 2, Kendall&#x27;s tau 0.5)" in (out / "report.html").read_text()
    (small_pool / "lines.toml").write_text('[[frailty]]\ncv = 0.3\nlines = ["space"]\n')
    failed = techins("pool", small_pool / "pool.toml", "--out", tmp_path / "never", "--years", 800)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert "pool 'test pool'" in failed.stderr and "space" in failed.stderr
    assert not (tmp_path / "never").exists()
