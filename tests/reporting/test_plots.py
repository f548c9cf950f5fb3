"""The plots of ``techins price``, ``pool`` and ``backtest``, checked on the matplotlib objects (not the
pixels): the EP plot has the book's AEP and OEP with their 95% intervals drawn, every axis says its unit
and money axes their currency with 300M-style ticks (no bare 1e7 offset), and no legend sits in the axes
over the data."""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

import techins as ti
from techins.backtest.report import actual_vs_expected_figure, pit_figure, trends_figure
from techins.backtest.run import read_config, run_backtest
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.reporting.plots import (
    allocation_figure,
    ep_curves_figure,
    member_results_figure,
    premium_buildup_figure,
    programme_ep_figure,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def priced():
    catalogue = ti.read_catalogue(ROOT / "products")
    policies = ti.read_policies(ROOT / "examples" / "portfolio.csv").groupby("product", sort=True).head(2)
    return ti.price_catalogue(catalogue, catalogue.book(policies.reset_index(drop=True)), 1000, 3, threads=1)


@pytest.fixture(scope="module")
def pool():
    return run_pool(read_pool(ROOT / "examples" / "pools" / "cyber_pool.toml"), years=1000)


def tick_texts(fig, axis):
    fig.canvas.draw()  # ticks are formatted when drawn
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def check_money_axis(fig, ax, currency):
    assert ax.yaxis.get_label_text().endswith(f"({currency})"), ax.yaxis.get_label_text()
    texts = tick_texts(fig, ax.yaxis)
    assert texts and not any("e" in t.lower() for t in texts), texts  # 3.5M, not 3.5e6
    assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e7" above the axis
    assert ax.get_legend() is None  # a legend, if any, is the figure's, outside the axes


def test_ep_plot_has_the_books_aep_and_oep_with_visible_intervals(priced):
    fig = ep_curves_figure(priced.ep_curves, "CNY")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "book AEP (95% interval)" in labels and "book OEP (95% interval)" in labels
    for scope in sorted(set(priced.ep_curves["scope"]) - {"book"}):
        assert f"{scope} AEP" in labels
    book = priced.ep_curves[priced.ep_curves["scope"] == "book"]
    aep = next(line for line in ax.get_lines() if line.get_label() == "book AEP (95% interval)")
    oep = next(line for line in ax.get_lines() if line.get_label() == "book OEP (95% interval)")
    np.testing.assert_array_equal(aep.get_ydata(), book["aep"].to_numpy())
    np.testing.assert_array_equal(oep.get_ydata(), book["oep"].to_numpy())
    # the interval drawn twice: a shaded band and error bars with caps at every plotted return period
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2 and all(len(b.lines[1]) == 2 for b in bars)  # caps drawn
    check_money_axis(fig, ax, "CNY")
    assert ax.get_xlabel() == "return period (years)"
    assert fig.legends and "1,000" in tick_texts(fig, ax.xaxis)


def test_premium_buildup_axes_say_their_units(priced):
    fig = premium_buildup_figure(priced.products, "CNY")
    ax = fig.axes[0]
    assert ax.get_ylabel().endswith("(%)") and "CNY" in ax.get_title()
    assert all(t.endswith("%") for t in tick_texts(fig, ax.yaxis))
    assert ax.get_legend() is None and fig.legends


def test_programme_plot_has_gross_and_net_with_intervals_and_each_treaty(priced):
    programme = ti.Programme((ti.QuotaShare(0.3, name="qs"), ti.OccurrenceXL(5e6, 1e6, (1.0,), name="xl")))
    ep = ti.apply_programme(priced.result, programme).ep_table()
    fig = programme_ep_figure(ep, "CNY")
    ax = fig.axes[0]
    check_money_axis(fig, ax, "CNY")
    assert ax.get_xlabel() == "return period (years)"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["gross (95% interval)", "net (95% interval)"]
    assert "ceded to qs" in labels
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 and len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 2


def test_pool_plots_carry_the_currency(pool):
    currency = pool.pool["currency"]
    assert currency == "CNY"
    fig = member_results_figure(pool, currency)
    check_money_axis(fig, fig.axes[0], currency)
    fig = allocation_figure(pool, currency)
    for ax in fig.axes:
        assert ax.yaxis.get_label_text().endswith(f"({currency})")
        texts = tick_texts(fig, ax.yaxis)
        assert texts and not any("e" in t.lower() for t in texts)
        # the legend sits below the axes (anchored under them), not over the bars
        legend = ax.get_legend()
        assert legend is not None and legend.get_bbox_to_anchor().y1 < ax.get_window_extent().y0


def test_backtest_plots_carry_units_and_keep_legends_off_the_data(tmp_path):
    config = read_config(ROOT / "examples" / "backtest" / "tech_lines_backtest.toml")
    run = run_backtest(config, out=tmp_path / "report")
    periods, lines = run.experience.periods, run.experience.lines["line"].tolist()
    fig = actual_vs_expected_figure(periods, lines, "", "CNY")
    for ax in fig.axes[:len(lines)]:
        check_money_axis(fig, ax, "CNY")
        assert ax.get_xlabel() == "period"
    fig = trends_figure(periods, lines, "")
    ax = fig.axes[0]
    assert ax.get_legend() is None and fig.legends and ax.get_ylabel().endswith("(%)")
    assert all(t.endswith("%") for t in tick_texts(fig, ax.yaxis))
    fig = pit_figure(periods)
    assert fig.axes[0].get_ylabel() == "line-periods (count)" and fig.axes[0].get_legend() is None
