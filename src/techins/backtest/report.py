"""The back-test's report: one HTML page (``techins.io.html.HtmlPage``) with its PNG plots embedded,
the plots also as PNG files beside it, and every result table as CSV.

Plots: actual vs expected loss by period with the predictive interval, combined-ratio trends, the
PIT histogram. The page: the run (scope, id, time, inputs hash, code version, previous run),
calibration, the flagged lines with their indications, the runs of the scope in the store (identical
runs collapsed into one row), the comparison with the previous run, and every line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from techins.display import money_label, money_tick
from techins.io.html import HtmlPage, column_kind

__all__ = ["write_plots", "write_report", "drawn_lines_note", "MAX_PANELS", "CAPTIONS", "actual_vs_expected_figure",
           "trends_figure", "pit_figure"]

MAX_PANELS = 12  # lines drawn per figure: the flagged ones first, then the largest by premium


CAPTIONS = {
    "actual_vs_expected.png": "Each period's actual (ultimate) loss against the priced expected loss and the "
                              "priced predictive interval.",
    "combined_ratio_trends.png": "Each line's combined ratio by period; 100% is break-even.",
    "pit_histogram.png": "Where each line-period's actual loss fell in its priced distribution (PIT); a "
                         "calibrated model gives a flat histogram.",
}


def write_plots(experience, folder: Path, currency: str = "") -> list:
    """Write the PNG plots into ``folder`` (money axes in ``currency``); return their names."""
    folder = Path(folder)
    lines = _lines_to_draw(experience.lines)
    names = ["actual_vs_expected.png", "combined_ratio_trends.png", "pit_histogram.png"]
    note = drawn_lines_note(len(lines), len(experience.lines))
    actual_vs_expected_figure(experience.periods, lines, note, currency).savefig(folder / names[0], dpi=100)
    trends_figure(experience.periods, lines, note).savefig(folder / names[1], dpi=100)
    pit_figure(experience.periods).savefig(folder / names[2], dpi=100)
    return names


def write_report(run, folder: Path, history, config, figures: list, scope_runs: pd.DataFrame | None = None) -> dict:
    """Write the tables (CSV), ``report.html`` (the figures embedded) and ``run.json`` into ``folder``;
    return the files. ``scope_runs``: ``techins.backtest.run.runs_of_scope`` of the store, this run
    included (None: kept in no store)."""
    folder = Path(folder)
    files = {"plots": list(figures)}
    for name, table in run.tables().items():
        table.to_csv(folder / f"{name}.csv", index=False)
        files[name] = [f"{name}.csv"]
    _page(run, history, config, folder, figures, scope_runs).write(folder / "report.html")
    files["report"] = ["report.html"]
    record = {"run_id": run.run_id, "scope": run.scope, "started": run.started.isoformat(),
              "inputs_hash": run.inputs_hash, "code_version": run.code_version,
              "previous_run_id": run.previous_run_id, "store": run.store, "files": files,
              "flagged_lines": run.experience.lines.loc[run.experience.lines["loss_making"], "line"].tolist()}
    (folder / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    files["run"] = ["run.json"]
    return files


# ---------------------------------------------------------------------------------------- plots
def drawn_lines_note(drawn: int, total: int) -> str:
    """What the per-line figures leave out, said on them and on the page ("" when they draw every line)."""
    if drawn >= total:
        return ""
    return (f"{drawn} of {total} lines drawn: the loss-making ones first, then the largest by earned premium; "
            f"every line is in the tables")


def _lines_to_draw(lines: pd.DataFrame) -> list:
    ordered = lines.sort_values(["loss_making", "earned_premium"], ascending=[False, False])
    return ordered["line"].head(MAX_PANELS).tolist()


def _grid(n: int):
    from matplotlib.figure import Figure

    cols = min(n, 4)
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(3.6 * cols, 2.8 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _money_axis(axis, what: str, currency: str) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: money_tick(v)))  # 3.5M, not a bare 1e7 offset
    axis.set_label_text(money_label(what, currency))


def actual_vs_expected_figure(periods: pd.DataFrame, lines: list, note: str, currency: str = ""):
    """One panel per line: the actual loss by period, the expected and the predictive interval."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = _grid(len(lines))
    for ax, line in zip(axes, lines):
        part = periods[periods["line"] == line].sort_values("period")
        x = part["period"].to_numpy()
        ax.fill_between(x, part["loss_low"], part["loss_high"], color="tab:blue", alpha=0.2, label="predictive interval")
        ax.plot(x, part["expected_loss"], color="tab:blue", label="expected (priced)")
        ax.plot(x, part["ultimate_loss"], "o", color="tab:red", markersize=4, label="actual (ultimate)")
        ax.set_title(str(line), fontsize="small")
        ax.tick_params(labelsize="x-small")
        _money_axis(ax.yaxis, "loss", currency)
        ax.yaxis.label.set_fontsize("x-small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # periods are years: no 2020.5
        ax.set_xlabel("period", fontsize="x-small")
    # one legend below the panels, not over a panel's data
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle("Actual vs expected loss by period, with the priced predictive interval" + (f"\n({note})" if note
                                                                                           else ""))
    return fig


def trends_figure(periods: pd.DataFrame, lines: list, note: str):
    """Each line's combined ratio by period (in %), 100% marked, the legend beside the axes."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    for line in lines:
        part = periods[periods["line"] == line].sort_values("period")
        ax.plot(part["period"], part["combined_ratio"], marker="o", markersize=3, label=str(line))
    ax.axhline(1.0, color="black", linewidth=1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("period (year)")
    ax.set_ylabel("combined ratio: (ultimate loss + expenses) / earned premium (%)")
    ax.set_title("Combined ratio by period" + (f"\n({note})" if note else ""), fontsize="medium")
    ax.grid(True, alpha=0.3)
    # beside the axes: the lines cross the whole plot, so no corner of it is empty
    fig.legend(loc="outside right upper", fontsize="x-small")
    return fig


def pit_figure(periods: pd.DataFrame):
    """The histogram of the line-periods' PIT values against the uniform a calibrated model gives."""
    from matplotlib.figure import Figure

    pit = periods["pit"].to_numpy(dtype=float)
    pit = pit[np.isfinite(pit)]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.hist(pit, bins=10, range=(0.0, 1.0), color="tab:blue", edgecolor="white")
    ax.axhline(pit.size / 10, color="black", linestyle="--", label="uniform (a calibrated model)")
    ax.set_xlabel("PIT: the priced probability of a loss at most the actual one (0 to 1)")
    ax.set_ylabel("line-periods (count)")
    ax.set_title(f"PIT histogram ({pit.size} line-periods)")
    fig.legend(loc="outside lower center", fontsize="small")
    return fig


# ---------------------------------------------------------------------------------------- page
_FLAGGED = ["line", "earned_premium", "loss_ratio", "expected_loss_ratio", "combined_ratio", "loss_making_pvalue",
            "combined_ratio_trend", "credibility", "credibility_loss_ratio", "indicated_rate_change", "repriced_change",
            "expense_vs_plan", "claims_near_limit", "above_quantile_pvalue", "severity_drift_pvalue"]
_COMPARED = ["line", "loss_ratio", "previous_loss_ratio", "combined_ratio", "previous_combined_ratio",
             "indicated_rate_change", "previous_indicated_rate_change", "loss_making", "previous_loss_making"]
_EVERY_LINE = ["line", "periods", "earned_premium", "ultimate_loss", "loss_ratio", "expected_loss_ratio",
               "combined_ratio", "loss_making", "pit_ks_pvalue", "var_exceedances", "kupiec_pvalue", "credibility",
               "indicated_rate_change", "fitted_claim_rate", "repriced_change", "expense_over_plan"]


def _page(run, history, config, folder: Path, figures: list, scope_runs) -> HtmlPage:
    e = run.experience
    lines = e.lines
    flagged = lines[lines["loss_making"]]
    cal = e.calibration.iloc[0]
    p = config.parameters
    page = HtmlPage(f"Back-test: {run.scope}", currency=getattr(config, "currency", ""))
    page.facts([
        ("scope", run.scope, "text"),
        ("run id", run.run_id if run.store is not None else "none: kept in no store", "label"),
        ("started (UTC)", run.started.strftime("%Y-%m-%d %H:%M:%S"), "text"),
        ("code version", run.code_version, "text"), ("inputs SHA-256", run.inputs_hash, "text"),
        ("previous run of this scope", run.previous_run_id if run.previous_run_id is not None else "none", "label"),
        ("inputs", ", ".join(f"{k}: {v}" for k, v in sorted(config.inputs.items())), "text"),
        ("history", f"{len(history.policies):,} policies, {len(history.claims):,} claims, {len(lines)} lines, "
                    f"periods {min(history.periods)}–{max(history.periods)}", "text"),
        ("currency", getattr(config, "currency", "") or "not given in the configuration", "text"),
    ])
    page.heading("Loss-making lines")
    page.paragraph(
        f"A line is flagged when its ultimate losses exceed break-even (combined ratio 100%) beyond chance: "
        f"one-sided z-test of the sum over periods of (ultimate − break-even loss) against the priced predictive "
        f"standard deviation, at level {p.flag_level:g}. Indications: the loss-ratio method with fixed expenses "
        f"{p.fixed_expense_ratio:.0%}, variable {p.variable_expense_ratio:.0%}, profit {p.profit:.0%}, on the "
        f"line's loss ratio given its Bühlmann–Straub credibility Z, the rest (1 − Z) given to present rates (the "
        f"permissible loss ratio {p.permissible_loss_ratio:.1%}).")
    if len(flagged):
        page.table(flagged, _FLAGGED, flag="loss_making")
    else:
        page.paragraph("No line is loss-making beyond chance.")
    page.heading("Calibration over all periods")
    page.paragraph(f"PIT uniformity (Kolmogorov–Smirnov), Kupiec's proportion of failures at the pricing VaR level "
                   f"{p.var_level:g}, mean CRPS, and the share of periods inside their {p.level:.0%} predictive "
                   f"interval.")
    page.facts([(k.replace("_", " "), cal[k], column_kind(k)) for k in cal.index])
    if len(lines) > MAX_PANELS:
        page.paragraph(drawn_lines_note(MAX_PANELS, len(lines)) + ".", note=True)
    for name in figures:
        page.figure(Path(folder) / name, name, CAPTIONS.get(name, ""))
    if scope_runs is not None:
        _runs_section(page, run, scope_runs)
    page.heading("Compared with the previous run")
    if run.previous_run_id is not None:
        if _identical_to_previous(run, scope_runs):
            page.paragraph(f"The previous run ({run.previous_run_id}) had the same inputs, code version and "
                           f"parameters as this one: every figure is unchanged, so it is not listed again.")
        else:
            page.table(run.comparison, _COMPARED, flag="loss_making")
    elif run.store is not None:
        page.paragraph("This is the first run of this scope in the store.")
    else:
        page.paragraph("Kept in no store: no previous run to compare with.")
    page.heading("Every line")
    page.table(lines, _EVERY_LINE, flag="loss_making")
    page.paragraph("All tables: periods.csv, lines.csv, development.csv, calibration.csv, comparison.csv; "
                   + (f"the run is kept in the store {run.store} (techins backtest --show {run.run_id} --store "
                      f"{run.store})." if run.store is not None else "the run is kept in no store."), note=True)
    return page


def _runs_section(page: HtmlPage, run, scope_runs: pd.DataFrame) -> None:
    page.heading("Runs of this scope in the store")
    page.paragraph("Runs with the same inputs hash, code version and parameters are one row, with their count "
                   "and ids.")
    shown = scope_runs.assign(runs=[_runs_text(r.n_runs, r.run_ids) for r in scope_runs.itertuples()])
    page.table(shown, ["runs", "started", "code_version", "inputs_hash", "identical_to_this_run"],
               kinds={"runs": "text"}, labels={"started": "started (UTC)", "inputs_hash": "inputs SHA-256 (start)",
                                              "identical_to_this_run": "same as this run"})


def _runs_text(n: int, ids: str) -> str:
    """``run 3`` or ``3 identical runs, ids 1, 4, 7``."""
    return f"run {ids}" if n == 1 else f"{n} identical runs, ids {ids}"


def _identical_to_previous(run, scope_runs) -> bool:
    if scope_runs is None or run.previous_run_id is None:
        return False
    mine = scope_runs[scope_runs["identical_to_this_run"]]
    return any(str(run.previous_run_id) in r.split(", ") for r in mine["run_ids"])


