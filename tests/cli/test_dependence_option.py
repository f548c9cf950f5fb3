"""``--dependence FILE`` on ``techins price`` (and the commands sharing its book options): the run
prices the dependent book, says so in run.json, and a file that does not fit the book is one line
naming it, exit status 2 and no output folder."""

import json

import pytest

from tests.cli.test_price import inputs  # noqa: F401  (the fixture)
from tests.cli_runner import techins

COPULA = '[copula]\nfamily = "gumbel"\ntau = 0.6\nlines = ["cyber", "first_of_kind"]\n'
FRAILTY = '[[frailty]]\ncv = 0.5\nlines = ["cyber"]\n'


def _price(products, portfolio, out, *extra):
    run = techins("price", products, "--portfolio", portfolio, "--years", 4000, "--seed", 3, "--out", out, "--json",
                  "--quiet", *extra)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["book"]


def _alone_and_joined(given, tmp_path, text):
    """The dependence file written from ``text``, and the book priced without it (out ``alone``) and
    with it (out ``joined``); ``given``: the ``inputs`` fixture's products and portfolio."""
    products, portfolio = given
    dependence = tmp_path / "dependence.toml"
    dependence.write_text(text)
    return (dependence, _price(products, portfolio, tmp_path / "alone"),
            _price(products, portfolio, tmp_path / "joined", "--dependence", dependence))


@pytest.mark.slow
def test_a_copula_keeps_the_mean_and_raises_the_tail(inputs, tmp_path):  # noqa: F811
    dependence, alone, joined = _alone_and_joined(inputs, tmp_path, COPULA)
    # the reorder keeps each line's years' losses: the mean is the same sum in another order
    assert joined["expected_loss"] == pytest.approx(alone["expected_loss"], rel=1e-12)
    # Gumbel joins the upper tails: the total's TVaR rises
    assert joined["tvar_99"] > alone["tvar_99"] + 4 * (alone["tvar_99_stderr"] ** 2
                                                       + joined["tvar_99_stderr"] ** 2) ** 0.5
    meta = json.loads((tmp_path / "joined" / "run.json").read_text())["meta"]
    assert meta["dependence"] == str(dependence)
    assert meta["dependence_specs"] == ["Gumbel copula (theta 2.5, Kendall's tau 0.6) on lines cyber, first_of_kind"]
    said = "Gumbel copula (theta 2.5, Kendall's tau 0.6)"
    assert f"- dependence ({dependence}): {said}" in (tmp_path / "joined" / "summary.md").read_text()
    assert said.replace("'", "&#x27;") in (tmp_path / "joined" / "report.html").read_text()  # as HTML escapes it
    assert "dependence" not in json.loads((tmp_path / "alone" / "run.json").read_text())["meta"]


@pytest.mark.slow
def test_a_frailty_file_changes_the_counts(inputs, tmp_path):  # noqa: F811
    _, alone, mixed = _alone_and_joined(inputs, tmp_path, FRAILTY)
    assert mixed["std"] != alone["std"]
    spread = 4 * (alone["expected_loss_stderr"] ** 2 + mixed["expected_loss_stderr"] ** 2) ** 0.5
    assert abs(mixed["expected_loss"] - alone["expected_loss"]) < spread  # the frailty has mean 1


@pytest.mark.parametrize("text, message", [
    ('[copula]\nfamily = "gumbel"\ntau = 0.3\nlines = ["cyber", "space"]\n', "space"),
    ('[copula]\nfamily = "gumbl"\ntau = 0.3\nlines = ["cyber", "ip"]\n', "[copula] family 'gumbl' is unknown"),
    ('[[frailty]]\ncv = -1\nlines = ["cyber"]\n', "[[frailty]] #1: GammaFrailty: cv must be in (0, 10]"),
])
def test_a_file_that_does_not_fit_is_one_line(inputs, tmp_path, text, message):  # noqa: F811
    products, portfolio = inputs
    dependence = tmp_path / "bad.toml"
    dependence.write_text(text)
    run = techins("price", products, "--portfolio", portfolio, "--years", 1000, "--out", tmp_path / "out",
                  "--dependence", dependence)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and str(dependence) in run.stderr and message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_file(inputs, tmp_path):  # noqa: F811
    products, portfolio = inputs
    run = techins("price", products, "--portfolio", portfolio, "--out", tmp_path / "out", "--dependence",
                  tmp_path / "none.toml")
    assert run.returncode == 2 and "none.toml: no such file" in run.stderr
