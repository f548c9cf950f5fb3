"""The PNG plots of ``techins price``, ``reinsure`` and ``pool``: EP curves, premium build-up, a
programme's gross, net and ceded curves, members' results, capital allocation.

Each plot function builds a ``matplotlib.figure.Figure`` (``*_figure``, which the tests inspect) and
the writers save it. Shared rules: every axis says its unit (money axes their currency, labelled 300M /
1B rather than with a bare ``1e7`` offset), legends sit below the axes, never over the data, and a
Monte Carlo interval is drawn so it can be seen even where it is narrow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from techins.display import money_label, money_tick

__all__ = ["ep_curves_figure", "premium_buildup_figure", "programme_ep_figure", "member_results_figure",
           "allocation_figure", "save", "money_axis", "EP_CAPTION", "PROGRAMME_EP_CAPTION"]

EP_CAPTION = ("Exceedance by return period: the book's aggregate (AEP, the year's total loss) and occurrence "
              "(OEP, the year's largest event) curves with their 95% Monte Carlo interval (shaded, and error bars "
              "at each plotted return period), and each line's AEP.")

PROGRAMME_EP_CAPTION = ("The annual loss exceeded at each return period (AEP) before the programme (gross) and "
                        "after it (net), each with its 95% Monte Carlo interval (shaded, and error bars), and what "
                        "each treaty takes (its annual ceded loss at that return period).")


def money_axis(axis, what: str, currency: str) -> None:
    """Label a matplotlib axis (``ax.yaxis``) as money: ``what (CNY)``, ticks as 950, 12K, 3.5M, 1.2B."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: money_tick(v)))
    axis.set_label_text(money_label(what, currency))


def ep_curves_figure(ep: pd.DataFrame, currency: str):
    """The book's AEP and OEP with their 95% intervals and each line's AEP, log axes, legend below."""
    fig, ax = _figure()
    book = ep[ep["scope"] == "book"]
    t = book["return_period"].to_numpy(dtype=float)
    for curve, style, colour in (("aep", "-", "black"), ("oep", "--", "dimgrey")):
        if curve not in book or not np.isfinite(book[curve].to_numpy(dtype=float)).any():
            continue
        _curve_with_interval(ax, t, book, curve, style, colour, f"book {curve.upper()} (95% interval)")
    for scope, part in ep[ep["scope"] != "book"].groupby("scope", sort=False):
        ax.plot(part["return_period"], part["aep"], marker="o", markersize=3, linewidth=1.5,
                label=f"{scope} AEP")
    _return_period_axes(fig, ax, "loss exceeded at the return period", currency,
                        "Exceedance curves: book AEP and OEP, each line's AEP")
    return fig


def programme_ep_figure(ep: pd.DataFrame, currency: str):
    """A programme's gross and net AEP with their 95% intervals and each treaty's ceded AEP
    (``ProgrammeResult.ep_table``), log axes (a zero ceded loss is left out), legend below."""
    fig, ax = _figure()
    t = ep["return_period"].to_numpy(dtype=float)
    for curve, colour in (("gross", "black"), ("net", "tab:blue")):
        _curve_with_interval(ax, t, ep, curve, "-", colour, f"{curve} (95% interval)")
    for column in (c for c in ep.columns if c.startswith("ceded_")):
        values = ep[column].to_numpy(dtype=float)
        shown = values > 0.0
        if shown.any():
            ax.plot(t[shown], values[shown], "--", marker="o", markersize=3, linewidth=1.5,
                    label=f"ceded to {column.removeprefix('ceded_')}")
    _return_period_axes(fig, ax, "annual loss exceeded at the return period", currency,
                        "The programme: gross, net and each treaty's share")
    return fig


def _figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), layout="constrained")
    return fig, fig.subplots()


def _curve_with_interval(ax, t, table: pd.DataFrame, curve: str, style: str, colour: str, label: str) -> None:
    """Column ``curve`` of ``table`` by return period ``t``, its interval (``<curve>_low``, ``_high``)
    shaded and as error bars."""
    low, high = table[f"{curve}_low"].to_numpy(dtype=float), table[f"{curve}_high"].to_numpy(dtype=float)
    mid = table[curve].to_numpy(dtype=float)
    ax.fill_between(t, low, high, color=colour, alpha=0.25, linewidth=0)
    # error bars with caps: visible even where the interval is thinner than the line
    ax.errorbar(t, mid, yerr=[mid - low, high - mid], fmt="none", ecolor=colour, elinewidth=1, capsize=3)
    ax.plot(t, mid, style, color=colour, linewidth=2.5, marker="o", markersize=3, label=label)


def _return_period_axes(fig, ax, what: str, currency: str, title: str) -> None:
    """Log axes: return periods as 1,000 on x, money ``what`` on y; grid; the legend below the axes."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    money_axis(ax.yaxis, what, currency)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("return period (years)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")


def premium_buildup_figure(products: pd.DataFrame, currency: str):
    """Per product, the technical premium's components as % of it, the premium charged after the cap
    and the subsidy's part; the total in money above each bar; legend below."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    parts = ["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit"]
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(products))
    technical = products["technical_premium"].to_numpy(dtype=float)
    bottom = np.zeros(len(products))
    for part in parts:
        values = products[part].to_numpy(dtype=float) / technical
        ax.bar(x, values, bottom=bottom, label=part.replace("_", " "), width=0.6)
        bottom += values
    ax.scatter(x, products["capped_premium"] / technical, marker="_", s=900, color="black", zorder=3,
               label="premium charged (after the rate cap)")
    ax.scatter(x, products["subsidy"] / technical, marker="v", color="red", zorder=3,
               label="of which paid by the subsidy")
    for xi, total in zip(x, technical):
        ax.annotate(money_tick(total), (xi, 1.0), xytext=(0, 3), textcoords="offset points", ha="center",
                    fontsize="small")
    ax.set_xticks(x, products["product"], rotation=30, ha="right")
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of the technical premium (%)")
    ax.set_title(f"Premium build-up by product (technical premium above each bar, {currency or 'money'})")
    fig.legend(loc="outside lower center", ncols=4, fontsize="small")
    return fig


def member_results_figure(run, currency: str):
    """Each member's annual result: box 25th-75th percentile, whiskers 1st and 99th, the mean marked."""
    from matplotlib.figure import Figure

    names = [m.name for m in run.spec.members]
    results = run.flows.result[:len(names)]
    q = np.percentile(results, [1, 25, 50, 75, 99], axis=1)
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    stats = [{"label": name, "whislo": q[0, i], "q1": q[1, i], "med": q[2, i], "q3": q[3, i], "whishi": q[4, i],
              "mean": float(results[i].mean()), "fliers": []} for i, name in enumerate(names)]
    ax.bxp(stats, showmeans=True, meanline=False)
    ax.axhline(0.0, color="grey", linewidth=1)
    money_axis(ax.yaxis, "annual result (premium + fees - losses)", currency)
    ax.set_xlabel("member")
    ax.set_title(f"{run.spec.name}: members' annual results (box 25-75%, whiskers 1-99%, triangle: mean)")
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def allocation_figure(run, currency: str):
    """Capital per member by method (standalone, proportional to share, Euler, Shapley), grouped bars;
    when members bring books, a second panel: each book's capital alone and in the pooled book."""
    from matplotlib.figure import Figure

    table = run.allocation[run.allocation["member"] != "pool"]
    methods = [("standalone_capital", "standalone"), ("proportional_to_share", "proportional to share"),
               ("euler_capital", "Euler / co-TVaR"), ("shapley_capital", "Shapley")]
    books = run.contributions
    fig = Figure(figsize=(9, 10 if books is not None else 5.5), layout="constrained")
    axes = fig.subplots(2 if books is not None else 1, 1, squeeze=False)[:, 0]
    ax = axes[0]
    x = np.arange(len(table))
    width = 0.8 / len(methods)
    for k, (column, label) in enumerate(methods):
        if column in table:
            ax.bar(x + (k - (len(methods) - 1) / 2) * width, table[column], width=width, label=label)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xticks(x, table["member"], rotation=20)
    money_axis(ax.yaxis, f"capital (TVaR {run.pool['level']:.0%} less mean)", currency)
    ax.set_title(f"{run.spec.name}: capital of each member's share by method "
                 f"(pool {money_tick(run.pool['pool_capital'])} {currency})".replace(" )", ")"))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=4, fontsize="small")
    if books is not None:
        ax = axes[1]
        x = np.arange(len(books))
        ax.bar(x - 0.2, books["standalone_capital"], width=0.4, label="book alone")
        ax.bar(x + 0.2, books["capital_in_pool"], width=0.4, label="book in the pool (Shapley)")
        ax.set_xticks(x, books["member"], rotation=20)
        money_axis(ax.yaxis, "capital of the gross book", currency)
        ax.set_title(f"Pooling the members' books: diversification benefit "
                     f"{money_tick(books.attrs['diversification_benefit'])} {currency} shared by the Shapley value"
                     .replace("  ", " "))
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, fontsize="small")
    return fig


def save(fig, path: Path) -> None:
    """Save a figure as PNG."""
    fig.savefig(path, dpi=110)
