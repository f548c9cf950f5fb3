"""Writing a run's results into its output folder (``techins.io.outputs.output_folder``): the tables,
PNG plots and a one-page summary of a priced portfolio, a programme and a pool."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from techins.io.outputs import write_run_json, write_tables
from techins.io.schema import PRICED_TABLES as TABLES

__all__ = ["TABLES", "write_priced", "write_programme", "write_pool", "money_tick"]


def write_priced(priced, folder: Path, meta: dict) -> dict:
    """Write every table, plot and the summary of ``priced`` (``techins.catalogue.rating.PricedPortfolio``) into
    ``folder``; return the file names by kind."""
    folder = Path(folder)
    files = write_tables({name: getattr(priced, name) for name in TABLES}, folder)
    plot_ep_curves(priced.ep_curves, folder / "ep_curves.png", meta.get("currency", ""))
    plot_premium_buildup(priced.products, folder / "premium_buildup.png", meta.get("currency", ""))
    files["plots"] = ["ep_curves.png", "premium_buildup.png"]
    (folder / "summary.md").write_text(summary_markdown(priced, meta), encoding="utf-8")
    files["summary"] = ["summary.md"]
    return write_run_json(folder, {"meta": meta, "book": priced.book}, files)


def write_programme(result, folder: Path, meta: dict, *, load: float = 0.0, ord_exports: bool = False,
                    ord_formats=None) -> dict:
    """Write a programme's results (``techins.reinsurance.programme.ProgrammeResult``, with its occurrences kept
    when ``ord_exports``): the treaty table, the per-year table, each treaty's EP curve, and the ORD
    tables of the gross, ceded and net losses (``ord/il_S1_splt.csv`` ... ``ord/ri_S1_ept.parquet``, in
    ``ord_formats``: CSV and Parquet by default); return the file names by kind."""
    from techins.reinsurance.ord import FORMATS, write_ord_files

    folder = Path(folder)
    names = [t.name for t in result.programme.treaties]
    years = pd.DataFrame({"year": np.arange(result.years), "gross": result.gross})
    for t, name in enumerate(names):
        years[f"ceded_{name}"] = result.ceded[:, t]
        years[f"reinstatement_factor_{name}"] = result.reinstatement_factor[:, t]
    years["net"] = result.net
    curves = pd.concat([result.ep_curve(name).assign(treaty=name) for name in names], ignore_index=True)
    tables = {"treaties": result.treaty_table(load=load), "years": years, "treaty_ep_curves": curves}
    files = write_tables(tables, folder)
    if ord_exports:
        occ = result.occurrences
        ceded = occ[[f"ceded_{name}" for name in names]].sum(axis=1)
        losses = pd.DataFrame({"year": occ["year"], "occurrence_id": occ["occurrence_id"], "gross": occ["gross"],
                               "ceded": ceded, "net": occ["net"]})
        ord_folder = folder / "ord"
        ord_folder.mkdir()
        written = write_ord_files(losses, result.years, ord_folder, {p: p for p in ("gross", "ceded", "net")},
                                  formats=FORMATS if ord_formats is None else ord_formats)
        files["ord"] = [str(path.relative_to(folder)) for path in written]
    write_run_json(folder, {"meta": meta, "treaties": tables["treaties"].to_dict(orient="records")}, files)
    return files


def write_pool(run, folder: Path, meta: dict) -> dict:
    """Write a pool run (``techins.pool.run.PoolRun``): the member, line, treaty, allocation,
    contribution and per-year tables (CSV and Parquet), the plots of the members' results and of the
    capital allocation, a summary and ``run.json``; return the file names by kind."""
    folder = Path(folder)
    tables = {"members": run.members, "lines": run.lines, "allocation": run.allocation, "years": run.annual}
    if run.treaties is not None:
        tables["treaties"] = run.treaties
    if run.contributions is not None:
        tables["contributions"] = run.contributions
    files = write_tables(tables, folder)
    plot_member_results(run, folder / "member_results.png")
    plot_allocation(run, folder / "allocation.png")
    files["plots"] = ["member_results.png", "allocation.png"]
    (folder / "summary.md").write_text(pool_summary_markdown(run, meta), encoding="utf-8")
    files["summary"] = ["summary.md"]
    return write_run_json(folder, {"meta": meta, "pool": run.pool}, files)


def plot_member_results(run, path: Path) -> None:
    """Each member's annual result: box from the 25th to the 75th percentile, whiskers at the 1st
    and 99th, the mean marked; members side by side."""
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
    ax.set_ylabel("annual result (premium + fees - losses)")
    ax.set_title(f"{run.spec.name}: members' annual results (box 25-75%, whiskers 1-99%, mean marked)")
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(True, axis="y", alpha=0.3)
    fig.savefig(path, dpi=110)


def plot_allocation(run, path: Path) -> None:
    """Capital per member by method (standalone, proportional to share, Euler, Shapley), grouped bars;
    when members bring books, a second panel: each book's capital alone and in the pooled book (its
    standalone capital less its Shapley value of the diversification benefit)."""
    from matplotlib.figure import Figure

    table = run.allocation[run.allocation["member"] != "pool"]
    methods = [("standalone_capital", "standalone"), ("proportional_to_share", "proportional to share"),
               ("euler_capital", "Euler / co-TVaR"), ("shapley_capital", "Shapley")]
    books = run.contributions
    fig = Figure(figsize=(9, 9 if books is not None else 5), layout="constrained")
    axes = fig.subplots(2 if books is not None else 1, 1, squeeze=False)[:, 0]
    ax = axes[0]
    x = np.arange(len(table))
    width = 0.8 / len(methods)
    for k, (column, label) in enumerate(methods):
        if column in table:
            ax.bar(x + (k - (len(methods) - 1) / 2) * width, table[column], width=width, label=label)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xticks(x, table["member"], rotation=20)
    ax.set_ylabel(f"capital (TVaR {run.pool['level']:.0%} less mean)")
    ax.set_title(f"{run.spec.name}: capital of each member's share by method (pool {run.pool['pool_capital']:,.0f})")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    if books is not None:
        ax = axes[1]
        x = np.arange(len(books))
        ax.bar(x - 0.2, books["standalone_capital"], width=0.4, label="book alone")
        ax.bar(x + 0.2, books["capital_in_pool"], width=0.4, label="book in the pool (Shapley)")
        ax.set_xticks(x, books["member"], rotation=20)
        ax.set_ylabel("capital of the gross book")
        ax.set_title(f"Pooling the members' books: diversification benefit "
                     f"{books.attrs['diversification_benefit']:,.0f} shared by the Shapley value")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)


def pool_summary_markdown(run, meta: dict) -> str:
    """A one-page Markdown summary of a pool run: the pool's money, each member, each treaty."""
    p = run.pool
    lines = [
        f"# Pool run: {p['pool']}", "",
        f"- pool file: {meta.get('pool_file')}; {p['policies']:,} policies ({p['coverage_rows']:,} coverage rows), "
        f"{p['members']} members",
        f"- simulation: {p['years']:,} years, seed {p['seed']}; ± is one Monte Carlo standard error",
        f"- capital: TVaR {p['level']:.0%} of the annual outcome (losses less income) less its mean", "",
        "## The pool", "",
        "| figure | value |", "|---|---:|",
        f"| gross premium | {_money(p['premium'])} |",
        f"| lead and fronting fees | {_money(p['fees'])} |",
        f"| administration expenses | {_money(p['admin_expense'])} |",
        f"| reinsurance premium (expected, net of commission) | {_money(p['expected_reinsurance_premium'])} |",
        f"| expected gross loss | {_money(p['expected_gross'])} ± {_money(p['expected_gross_stderr'])} |",
        f"| expected recoveries | {_money(p['expected_ceded'])} |",
        f"| expected net loss | {_money(p['expected_net'])} |",
        f"| pool capital (members) | {_money(p['pool_capital'])} |",
        f"| largest money-reconciliation error | {p['premium_reconciliation_error']:.2g} (premium), "
        f"{p['loss_reconciliation_error']:.2g} (loss) |", "",
        "## Members", "",
        "| member | role | premium | fee income | expected loss | expected result | ± | P(loss-making) | "
        "Euler capital | Shapley capital | return on Euler capital |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in run.members.itertuples():
        euler = getattr(r, "euler_capital", math.nan)
        shapley = getattr(r, "shapley_capital", math.nan)
        roc = getattr(r, "return_on_euler_capital", math.nan)
        lines.append(f"| {r.member} | {r.role} | {_money(r.premium)} | {_money(r.fee_income)} | "
                     f"{_money(r.expected_loss)} | {_money(r.expected_result)} | {_money(r.expected_result_stderr)} | "
                     f"{r.prob_loss_making:.1%} | {_money(euler)} | {_money(shapley)} | "
                     + (f"{roc:.1%} |" if math.isfinite(roc) else "— |"))
    if run.treaties is not None:
        lines += ["", "## Treaties", "", "| treaty | premium (basis) | commission | expected ceded | ± | "
                  "reinsurer's expected result |", "|---|---:|---:|---:|---:|---:|"]
        for r in run.treaties.itertuples():
            lines.append(f"| {r.treaty} | {_money(r.premium)} ({r.premium_basis}) | {_money(r.commission)} | "
                         f"{_money(r.expected_ceded)} | {_money(r.expected_ceded_stderr)} | "
                         f"{_money(r.expected_reinsurer_result)} |")
    if run.contributions is not None:
        c = run.contributions
        lines += ["", "## Diversification from pooling the members' books (gross)", "",
                  f"Pooled capital {_money(c.attrs['pooled_capital'])}; benefit {_money(c.attrs['diversification_benefit'])} "
                  f"shared by the Shapley value ({c.attrs['shapley_method']}).", "",
                  "| member | brings a book | expected gross | standalone capital | Shapley benefit | capital in pool |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in c.itertuples():
            lines.append(f"| {r.member} | {'yes' if r.brings_book else 'no'} | {_money(r.expected_gross)} | "
                         f"{_money(r.standalone_capital)} | {_money(r.shapley_benefit)} | {_money(r.capital_in_pool)} |")
    lines += ["", "Files: `members.*`, `lines.*`, `allocation.*`, `years.*`"
              + (", `treaties.*`" if run.treaties is not None else "")
              + (", `contributions.*`" if run.contributions is not None else "")
              + " (CSV and Parquet), `member_results.png`, `allocation.png`, `run.json`.", ""]
    return "\n".join(lines)


def money_tick(value: float) -> str:
    """An axis label for an amount: 950, 12K, 3.5M, 1.2B."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.3g}"


def plot_ep_curves(ep: pd.DataFrame, path: Path, currency: str) -> None:
    """Aggregate exceedance (AEP) by return period, one curve per line and the book's, log axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for scope, part in ep.groupby("scope", sort=False):
        style = {"linewidth": 2.5, "color": "black"} if scope == "book" else {"linewidth": 1.5}
        ax.plot(part["return_period"], part["aep"], marker="o", markersize=3, label=str(scope), **style)
        if scope == "book" and "aep_low" in part:
            ax.fill_between(part["return_period"], part["aep_low"], part["aep_high"], color="grey", alpha=0.3,
                            label="book 95% interval")
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    # money as 300M, not 3x10^8: a reader compares the axis with the tables
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_tick(v)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("return period (years)")
    ax.set_ylabel(f"annual aggregate loss ({currency})".replace(" ()", ""))
    ax.set_title("Aggregate exceedance (AEP) by line")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110)


def plot_premium_buildup(products: pd.DataFrame, path: Path, currency: str) -> None:
    """Per product, the technical premium's components as shares of it (products of any size side by
    side), with the premium charged after the cap and the subsidy's part, and the total in money."""
    from matplotlib.figure import Figure

    parts = ["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit"]
    fig = Figure(figsize=(10, 5.5), layout="constrained")
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
        ax.annotate(f"{total:,.0f}", (xi, 1.0), xytext=(0, 3), textcoords="offset points", ha="center",
                    fontsize="small")
    ax.set_xticks(x, products["product"], rotation=30, ha="right")
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("share of the technical premium")
    ax.set_title(f"Premium build-up by product (total technical premium above each bar, {currency})"
                 .replace(", )", ")"))
    ax.legend(fontsize="small", ncols=2, loc="upper center")
    fig.savefig(path, dpi=110)


def summary_markdown(priced, meta: dict) -> str:
    """A one-page Markdown summary: the run, the book's figures, lines and products."""
    book = priced.book
    cur = meta.get("currency", "")
    lines = [
        "# Pricing run", "",
        f"- catalogue: {meta.get('catalogue')} ({', '.join(meta.get('products', []))})",
        f"- portfolio: {meta.get('portfolio')} — {book['policies']:,} policies, {book['coverage_rows']:,} "
        f"coverage rows, {book['scenarios']} scenario event streams",
        f"- simulation: {book['years']:,} years, seed {book['seed']} (re-running with the same inputs, years "
        f"and seed gives the same numbers)",
        f"- money in {cur}; ± is one Monte Carlo standard error", "",
        "## Book", "",
        "| figure | value | ± |", "|---|---:|---:|",
        f"| expected annual loss | {_money(book['expected_loss'])} | {_money(book['expected_loss_stderr'])} |",
        f"| standard deviation | {_money(book['std'])} | |",
        f"| VaR 99.5% | {_money(book['var_99_5'])} | {_money(book['var_99_5_stderr'])} |",
        f"| TVaR 99% | {_money(book['tvar_99'])} | {_money(book['tvar_99_stderr'])} |",
        f"| technical premium | {_money(book['technical_premium'])} | |",
        f"| premium charged (after rate caps) | {_money(book['capped_premium'])} | |",
        f"| shortfall left by the caps | {_money(book['shortfall'])} | |",
        f"| paid by public subsidies | {_money(book['subsidy'])} | |",
        f"| paid by the insureds | {_money(book['insured_pays'])} | |", "",
        "## Lines", "",
        "| line | policies | expected loss | ± | TVaR 99% | standalone capital | allocated capital | "
        "technical premium | charged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in priced.lines.itertuples():
        lines.append(f"| {r.line} | {r.policies:,} | {_money(r.expected_loss)} | {_money(r.expected_loss_stderr)} | "
                     f"{_money(r.tvar_99)} | {_money(r.standalone_capital)} | {_money(r.allocated_capital)} | "
                     f"{_money(r.technical_premium)} | {_money(r.capped_premium)} |")
    lines += ["", "## Products", "",
              "| product | policies | expected loss | technical premium | charged | cap binding | subsidy | "
              "expected loss ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in priced.products.itertuples():
        lines.append(f"| {r.product} | {r.policies:,} | {_money(r.expected_loss)} | {_money(r.technical_premium)} | "
                     f"{_money(r.capped_premium)} | {r.cap_binding:,} | {_money(r.subsidy)} | {r.loss_ratio:.1%} |")
    lines += ["", "Files: `policies.*` (one row per policy, every premium component), `coverages.*`, `lines.*`, "
              "`products.*`, `ep_curves.*` (CSV and Parquet), `ep_curves.png`, `premium_buildup.png`, "
              "`run.json`.", ""]
    return "\n".join(lines)


def _money(x) -> str:
    x = float(x)
    if not math.isfinite(x):
        return "∞" if x > 0 else "—"
    return f"{x:,.0f}"

