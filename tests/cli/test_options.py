"""Command-line options as users type them: counts like 1e6, --product filters, --quiet everywhere,
and singular/plural in what the commands print."""

import json
from pathlib import Path

import pytest

from techins.cli.main import _count, _many
from tests.cli_runner import techins

REPO = Path(__file__).resolve().parents[2]
LINE = ("--frequency", "poisson:mean=2", "--severity", "lognormal:mu=9,sigma=1")


@pytest.mark.parametrize("text, value", [("100000", 100_000), ("100_000", 100_000), ("1e5", 100_000),
                                         ("1E6", 1_000_000), ("2.0e3", 2_000)])
def test_counts_are_read_as_typed(text, value):
    assert _count(text) == value


@pytest.mark.parametrize("text", ["1.5", "0", "-3", "1e-3", "inf", "nan", "many", ""])
def test_bad_counts_are_one_line_errors(text):
    ran = techins("simulate", *LINE, "--years", text)
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1 and "--years" in ran.stderr


def test_simulate_takes_years_in_scientific_notation():
    ran = techins("simulate", *LINE, "--years", "2e4", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["monte_carlo"]["years"] == 20_000


def test_many_says_one_policy_and_two_policies():
    assert _many(1, "policy", "policies") == "1 policy"
    assert _many(3000, "policy", "policies") == "3,000 policies"
    assert _many(1, "year") == "1 year" and _many(2, "member") == "2 members"


def test_price_product_filter_and_singular(tmp_path):
    ran = techins("price", REPO / "products", "--portfolio", REPO / "examples" / "portfolio.csv", "--product",
                  "evtol_hull_passenger", "--years", "1e3", "--out", tmp_path / "out", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("techins price: 42 policies (")
    table = (tmp_path / "out" / "policies.csv").read_text().splitlines()
    assert len(table) == 43 and all(",evtol_hull_passenger," in row for row in table[1:])
    one = tmp_path / "one.csv"
    one.write_text("\n".join((REPO / "examples" / "portfolio.csv").read_text().splitlines()[:2]) + "\n")
    ran = techins("price", REPO / "products", "--portfolio", one, "--years", "500", "--out", tmp_path / "one")
    assert ran.returncode == 0 and ran.stdout.startswith("techins price: 1 policy (")


def test_an_unknown_or_absent_product_is_one_line(tmp_path):
    portfolio = REPO / "examples" / "portfolio.csv"
    ran = techins("price", REPO / "products", "--portfolio", portfolio, "--product", "space", "--out", tmp_path / "o")
    assert ran.returncode == 2 and "no product 'space'" in ran.stderr and not (tmp_path / "o").exists()
    cyber = tmp_path / "cyber.csv"
    cyber.write_text("\n".join(portfolio.read_text().splitlines()[:2]) + "\n")  # one patent policy
    ran = techins("price", REPO / "products", "--portfolio", cyber, "--product", "cyber_sme", "--out", tmp_path / "o")
    assert ran.returncode == 2 and "no policy of product 'cyber_sme'" in ran.stderr


def test_reinsure_and_simulate_take_quiet(tmp_path):
    ran = techins("simulate", *LINE, "--years", "1000", "--quiet")
    assert ran.returncode == 0, ran.stderr
    ran = techins("reinsure", REPO / "examples" / "pools" / "cyber_programme.toml", REPO / "products", "--portfolio",
                  REPO / "examples" / "portfolio.csv", "--product", "cyber_sme", "--years", "500", "--out",
                  tmp_path / "re", "--quiet")
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize("command", [
    ["simulate", *LINE], ["price", "products", "--portfolio", "p.csv", "--out", "o"],
    ["book", "save", "products", "--portfolio", "p.csv", "--out", "o"], ["quote", "products", "p.csv", "--book", "b"],
    ["reinsure", "prog.toml", "products", "--portfolio", "p.csv", "--out", "o"], ["pool", "pool.toml", "--out", "o"],
    ["backtest", "bt.toml"], ["demo"], ["warmup"]])
def test_every_long_command_takes_quiet(command):
    from techins.cli.main import _parser

    assert _parser().parse_args([*command, "--quiet"]).quiet is True


def test_book_save_quote_and_backtest_run_quiet_and_draw_nothing_without_a_terminal(tmp_path):
    portfolio = REPO / "examples" / "portfolio.csv"
    ran = techins("book", "save", REPO / "products", "--portfolio", portfolio, "--product", "cyber_sme", "--years",
                  "500", "--out", tmp_path / "book", "--quiet")
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
    for quiet in ((), ("--quiet",)):  # stderr is no terminal here: no bar either way
        ran = techins("quote", REPO / "products", REPO / "examples" / "quotes" / "candidates.json", "--book",
                      tmp_path / "book", *quiet)
        assert ran.returncode == 0 and ran.stderr == "" and ran.stdout.startswith("techins quote:"), ran.stderr
        ran = techins("backtest", REPO / "examples" / "backtest" / "tech_lines_backtest.toml", "--store",
                      tmp_path / "runs.sqlite", "--out", tmp_path / f"bt{len(quiet)}", *quiet)
        assert ran.returncode == 0 and ran.stderr == "" and ran.stdout.startswith("techins backtest:"), ran.stderr
