"""Results show themselves in one line (repr) and as a small HTML table in notebooks: never the whole
arrays or tables they hold."""

import math
from pathlib import Path

import pytest

import techins as ti
from techins.display import (
    Figure,
    figures_html,
    money_label,
    money_tick,
    number_text,
    percent_text,
    short_repr,
    value_text,
)

REPO = Path(__file__).resolve().parents[1]


def test_numbers_are_shown_as_money_counts_and_shares():
    assert number_text(1234567.891) == "1,234,568"
    assert number_text(3000, "count") == "3,000"
    assert number_text(0.125, "share") == "12.50%"
    assert number_text(math.inf) == "inf" and number_text(math.nan) == "nan"
    assert number_text(0.01234) == "0.01234"
    assert Figure("mean", 1000.0, 12.5).text() == "1,000 ± 12.5"


def test_html_escapes_and_shortens_tables():
    import pandas as pd

    table = pd.DataFrame({"x": range(50)})
    out = figures_html("a <b>", [Figure("c&d", 1.0)], {"t": table})
    assert "a &lt;b&gt;" in out and "c&amp;d" in out and "first 10 of 50 rows" in out
    assert out.count("<tr>") < 20
    assert short_repr("R", [Figure("n", 2, kind="count")]) == "R(n=2)"


@pytest.fixture(scope="module")
def results():
    line = ti.Line(ti.Poisson(2.0), ti.LogNormal(9.0, 1.2), occurrence=ti.Layer(limit=1e6))
    catalogue = ti.read_catalogue(REPO / "products")
    priced = ti.price_catalogue(catalogue, catalogue.book(ti.read_policies(REPO / "examples" / "portfolio.csv")
                                                          .iloc[::50]), years=500, seed=2)
    programme = ti.read_programme(REPO / "examples" / "pools" / "cyber_programme.toml")
    return {"simulation": ti.simulate(line, years=2_000, seed=1), "exact": ti.exact(line), "priced": priced,
            "book": priced.result, "programme": ti.apply_programme(priced.result, programme),
            "quoter": ti.CatalogueQuoter(catalogue, priced)}


@pytest.mark.parametrize("name, expect", [
    ("simulation", ["SimulationResult(years=2,000", "mean=", " ± "]),
    ("exact", ["ExactResult(method=", "mean="]),
    ("priced", ["PricedPortfolio(policies=60", "expected loss=", " ± "]),
    ("book", ["BookResult(policies=", "mean="]),
    ("programme", ["ProgrammeResult(programme=", "net="]),
    ("quoter", ["CatalogueQuoter(14 products, book BookSnapshot(policies=60"]),
])
def test_reprs_are_one_short_line(results, name, expect):
    text = repr(results[name])
    assert "\n" not in text and len(text) < 400, text
    for part in expect:
        assert part in text, text


@pytest.mark.parametrize("name", ["simulation", "exact", "priced", "book", "programme"])
def test_notebooks_get_an_html_table(results, name):
    out = results[name]._repr_html_()
    assert out.startswith("<div>") and out.endswith("</div>") and "<table" in out and len(out) < 60_000


def test_pool_and_backtest_runs_show_their_figures():
    from techins.backtest.run import read_config, run_backtest

    pool = ti.run_pool(ti.read_pool(REPO / "examples" / "pools" / "cyber_pool.toml"), years=300)
    backtest = run_backtest(read_config(REPO / "examples" / "backtest" / "tech_lines_backtest.toml"))
    for result, start in ((pool, "PoolRun(pool=cyber co-insurance pool, policies="),
                          (backtest, "BacktestRun(run_id=-")):
        assert repr(result).startswith(start) and "\n" not in repr(result) and len(repr(result)) < 400
        assert "<table" in result._repr_html_()


def test_specs_show_their_size_not_their_tables():
    catalogue = ti.read_catalogue(REPO / "products")
    book = catalogue.book(ti.read_policies(REPO / "examples" / "portfolio.csv"))
    for spec, start in ((catalogue, "Catalogue(products=autonomous_driving_fleet, cyber_large, "),
                        (catalogue["cyber_sme"], "Product(id=cyber_sme, "),
                        (book, "ProductBook(policies=3,000, coverage rows=7,482"),
                        (book.portfolio, "Portfolio(policies=7,482, contracts=3,000")):
        text = repr(spec)
        assert text.startswith(start) and "\n" not in text and len(text) < 400, text
    assert "first 10 of 7,482 rows" in book.portfolio._repr_html_()


def test_report_values_by_kind():
    assert value_text(0.125, "share") == "12.5%"
    assert value_text(1234567.4, "money", "CNY") == "CNY 1,234,567" and value_text(-1500.0, "money") == "-1,500"
    assert value_text(float("inf"), "money", "CNY") == "CNY ∞"
    assert value_text(3000, "count") == "3,000" and value_text(2020, "label") == "2020"
    assert value_text(True, "flag") == "yes" and value_text(0.0, "flag") == "no"
    assert value_text(None, "money") == "—" and value_text(float("nan"), "share") == "—"
    assert value_text(0.01234, "number") == "0.01234"
    with pytest.raises(ValueError, match="kind"):
        value_text(1.0, "percent")


def test_small_shares_do_not_read_as_zero():
    assert percent_text(0.00003) == "0.003%" and percent_text(0.0) == "0.0%" and percent_text(1.0) == "100.0%"
    assert percent_text(-0.025) == "-2.5%"


def test_money_ticks_and_labels():
    assert [money_tick(v) for v in (950, 12_000, 3.5e6, 1.2e9, 3e8)] == ["950", "12K", "3.5M", "1.2B", "300M"]
    assert money_label("loss", "CNY") == "loss (CNY)" and money_label("loss") == "loss (money)"
