"""Writing a run's results into its output folder (``techins.io.outputs.output_folder``): the tables,
PNG plots (``techins.reporting.plots``), ``report.html`` with the plots embedded
(``techins.reporting.pages``) and a one-page Markdown summary of a priced portfolio and a pool; the
tables of a programme."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from techins.display import money_tick, value_text
from techins.io.outputs import write_run_json, write_tables
from techins.io.schema import PRICED_TABLES as TABLES
from techins.reporting import plots
from techins.reporting.pages import compensation_note, compensation_rows, pool_page, priced_page, programme_page

__all__ = ["TABLES", "write_priced", "write_programme", "write_pool", "money_tick"]


def write_priced(priced, folder: Path, meta: dict, compensation=None) -> dict:
    """Write every table, plot, ``report.html`` and the summary of ``priced``
    (``techins.catalogue.rating.PricedPortfolio``) into ``folder``; with ``compensation`` (a
    ``CompensationResult`` over the book) its table and figures too; return the file names by kind."""
    folder = Path(folder)
    tables = {name: getattr(priced, name) for name in TABLES}
    if compensation is not None:
        tables["compensation"] = compensation_table(compensation)
    files = write_tables(tables, folder)
    currency = meta.get("currency", "")
    plots.save(plots.ep_curves_figure(priced.ep_curves, currency), folder / "ep_curves.png")
    plots.save(plots.premium_buildup_figure(priced.products, currency), folder / "premium_buildup.png")
    files["plots"] = ["ep_curves.png", "premium_buildup.png"]
    priced_page(priced, meta, folder, files["plots"], compensation).write(folder / "report.html")
    files["report"] = ["report.html"]
    summary = summary_markdown(priced, meta)
    document = {"meta": meta, "book": priced.book}
    if compensation is not None:
        figures = compensation.summary()
        summary += "\n" + "\n".join(compensation_markdown(figures)) + "\n"
        document["compensation"] = figures
    (folder / "summary.md").write_text(summary, encoding="utf-8")
    files["summary"] = ["summary.md"]
    return write_run_json(folder, document, files)


def write_programme(result, folder: Path, meta: dict, *, load: float = 0.0, ord_exports: bool = False,
                    ord_formats=None, progress=None) -> dict:
    """Write a programme's results (``techins.reinsurance.programme.ProgrammeResult``, with its occurrences kept
    when ``ord_exports``): the treaty table, the per-year table, each treaty's EP curve, the gross, net
    and ceded AEP (``programme_ep``) with its plot and ``report.html``, and the ORD
    tables of the gross, ceded and net losses (``ord/il_S1_splt.csv`` ... ``ord/ri_S1_ept.parquet``, in
    ``ord_formats``: CSV and Parquet by default); return the file names by kind. ``progress``: the
    ORD tables' (``techins.reinsurance.ord.write_ord_files``)."""
    from techins.reinsurance.ord import FORMATS, write_ord_files

    folder = Path(folder)
    names = [t.name for t in result.programme.treaties]
    years = pd.DataFrame({"year": np.arange(result.years), "gross": result.gross})
    for t, name in enumerate(names):
        years[f"ceded_{name}"] = result.ceded[:, t]
        years[f"reinstatement_factor_{name}"] = result.reinstatement_factor[:, t]
    years["net"] = result.net
    curves = pd.concat([result.ep_curve(name).assign(treaty=name) for name in names], ignore_index=True)
    tables = {"treaties": result.treaty_table(load=load), "years": years, "treaty_ep_curves": curves,
              "programme_ep": result.ep_table()}
    files = write_tables(tables, folder)
    if ord_exports:
        occ = result.occurrences
        ceded = occ[[f"ceded_{name}" for name in names]].sum(axis=1)
        losses = pd.DataFrame({"year": occ["year"], "occurrence_id": occ["occurrence_id"], "gross": occ["gross"],
                               "ceded": ceded, "net": occ["net"]})
        ord_folder = folder / "ord"
        ord_folder.mkdir()
        written = write_ord_files(losses, result.years, ord_folder, {p: p for p in ("gross", "ceded", "net")},
                                  formats=FORMATS if ord_formats is None else ord_formats, progress=progress)
        files["ord"] = [str(path.relative_to(folder)) for path in written]
    currency = meta.get("currency", "")
    plots.save(plots.programme_ep_figure(tables["programme_ep"], currency), folder / "programme_ep.png")
    files["plots"] = ["programme_ep.png"]
    programme_page(result, meta, folder, files["plots"], load=load).write(folder / "report.html")
    files["report"] = ["report.html"]
    write_run_json(folder, {"meta": meta, "treaties": tables["treaties"].to_dict(orient="records")}, files)
    return files


def write_pool(run, folder: Path, meta: dict) -> dict:
    """Write a pool run (``techins.pool.run.PoolRun``): the member, line, treaty, allocation,
    contribution and per-year tables (CSV and Parquet), the plots of the members' results and of the
    capital allocation, ``report.html``, a summary and ``run.json``; return the file names by kind."""
    folder = Path(folder)
    tables = {"members": run.members, "lines": run.lines, "allocation": run.allocation, "years": run.annual}
    if run.treaties is not None:
        tables["treaties"] = run.treaties
    if run.contributions is not None:
        tables["contributions"] = run.contributions
    if run.compensation is not None:
        tables["compensation"] = compensation_table(run.compensation)
    files = write_tables(tables, folder)
    currency = run.pool.get("currency", "")
    plots.save(plots.member_results_figure(run, currency), folder / "member_results.png")
    plots.save(plots.allocation_figure(run, currency), folder / "allocation.png")
    files["plots"] = ["member_results.png", "allocation.png"]
    pool_page(run, meta, folder, files["plots"]).write(folder / "report.html")
    files["report"] = ["report.html"]
    (folder / "summary.md").write_text(pool_summary_markdown(run, meta), encoding="utf-8")
    files["summary"] = ["summary.md"]
    return write_run_json(folder, {"meta": meta, "pool": run.pool}, files)


def pool_summary_markdown(run, meta: dict) -> str:
    """A one-page Markdown summary of a pool run: the pool's money, each member, each treaty."""
    p = run.pool
    lines = [
        f"# Pool run: {p['pool']}", "",
        f"- pool file: {meta.get('pool_file')}; {p['policies']:,} policies ({p['coverage_rows']:,} coverage rows), "
        f"{p['members']} members",
        *[f"- dependence: {spec}" for spec in meta.get("dependence_specs", [])],
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
    if run.compensation is not None:
        lines += ["", *compensation_markdown(run.compensation.summary())]
    lines += ["", "Files: `members.*`, `lines.*`, `allocation.*`, `years.*`"
              + (", `treaties.*`" if run.treaties is not None else "")
              + (", `compensation.*`" if run.compensation is not None else "")
              + (", `contributions.*`" if run.contributions is not None else "")
              + " (CSV and Parquet), `member_results.png`, `allocation.png`, `report.html`, `run.json`.", ""]
    return "\n".join(lines)


def compensation_table(result) -> pd.DataFrame:
    """A public risk-compensation scheme's accounts (``CompensationResult.table``), then one ``total``
    row of the scheme's figures."""
    s = result.summary()
    total = {"account": "total", "covered_premium": s["covered_premium"], "expected_outlay": s["expected_outlay"],
             "expected_outlay_stderr": s["expected_outlay_stderr"], "prob_fund_pays": s["prob_fund_pays"],
             "prob_exhausted": s["prob_exhausted"], "expected_net_before": s["insurer_expected_net_before"],
             "expected_net_after": s["insurer_expected_net_after"]}
    return pd.concat([result.table(), pd.DataFrame([total])], ignore_index=True)


def compensation_markdown(s: dict) -> list:
    """The lines of a summary's section on a public risk-compensation scheme (its ``summary()``): the
    rows of its report page, as a Markdown table."""
    def shown(value, kind):
        if isinstance(value, tuple):
            return f"{value_text(value[0], kind)} ± {value_text(value[1], kind)}"
        return value_text(value, kind)

    return [f"## Public risk compensation: {s['scheme']}", "", compensation_note(s), "",
            "| figure | value |", "|---|---:|",
            *(f"| {label} | {shown(value, kind)} |" for label, value, kind in compensation_rows(s))]


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
        *[f"- dependence ({meta['dependence']}): {spec}" for spec in meta.get("dependence_specs", [])],
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
              "`report.html`, `run.json`.", ""]
    return "\n".join(lines)


def _money(x) -> str:
    x = float(x)
    if not math.isfinite(x):
        return "∞" if x > 0 else "—"
    return f"{x:,.0f}"

