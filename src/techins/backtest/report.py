"""The back-test's report: one HTML page with PNG plots, and every result table as CSV.

Plots: actual vs expected loss by period with the predictive interval, claim counts actual vs
expected with the exact interval, combined-ratio trends, the PIT histogram. The page: the run
(scope, id, time, inputs hash, code version, previous run), calibration, the flagged lines with
their indications, the comparison with the previous run, and every line.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_plots", "write_report", "drawn_lines_note", "MAX_PANELS"]

MAX_PANELS = 12  # lines drawn per figure: the flagged ones first, then the largest by premium


def write_plots(experience, folder: Path) -> list:
    """Write the PNG plots into ``folder``; return their names."""
    folder = Path(folder)
    lines = _lines_to_draw(experience.lines)
    names = ["actual_vs_expected.png", "combined_ratio_trends.png", "pit_histogram.png"]
    note = drawn_lines_note(len(lines), len(experience.lines))
    _plot_actual_vs_expected(experience.periods, lines, folder / names[0], note)
    _plot_trends(experience.periods, lines, folder / names[1], note)
    _plot_pit(experience.periods, folder / names[2])
    return names


def write_report(run, folder: Path, history, config, figures: list) -> dict:
    """Write the tables (CSV), ``report.html`` and ``run.json`` into ``folder``; return the files."""
    folder = Path(folder)
    files = {"plots": list(figures)}
    for name, table in run.tables().items():
        table.to_csv(folder / f"{name}.csv", index=False)
        files[name] = [f"{name}.csv"]
    (folder / "report.html").write_text(_page(run, history, config, figures), encoding="utf-8")
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


def _plot_actual_vs_expected(periods: pd.DataFrame, lines: list, path: Path, note: str) -> None:
    fig, axes = _grid(len(lines))
    for ax, line in zip(axes, lines):
        part = periods[periods["line"] == line].sort_values("period")
        x = part["period"].to_numpy()
        ax.fill_between(x, part["loss_low"], part["loss_high"], color="tab:blue", alpha=0.2, label="predictive interval")
        ax.plot(x, part["expected_loss"], color="tab:blue", label="expected (priced)")
        ax.plot(x, part["ultimate_loss"], "o", color="tab:red", markersize=4, label="actual (ultimate)")
        ax.set_title(str(line), fontsize="small")
        ax.tick_params(labelsize="x-small")
    # one legend below the panels, not over a panel's data
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle("Actual vs expected loss by period, with the priced predictive interval" + (f"\n({note})" if note
                                                                                           else ""))
    fig.savefig(path, dpi=100)


def _plot_trends(periods: pd.DataFrame, lines: list, path: Path, note: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    for line in lines:
        part = periods[periods["line"] == line].sort_values("period")
        ax.plot(part["period"], part["combined_ratio"], marker="o", markersize=3, label=str(line))
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xlabel("period")
    ax.set_ylabel("combined ratio (ultimate loss + expenses) / earned premium")
    ax.set_title("Combined ratio by period" + (f"\n({note})" if note else ""), fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="x-small", ncols=2)
    fig.savefig(path, dpi=100)


def _plot_pit(periods: pd.DataFrame, path: Path) -> None:
    from matplotlib.figure import Figure

    pit = periods["pit"].to_numpy(dtype=float)
    pit = pit[np.isfinite(pit)]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.hist(pit, bins=10, range=(0.0, 1.0), color="tab:blue", edgecolor="white")
    ax.axhline(pit.size / 10, color="black", linestyle="--", label="uniform (a calibrated model)")
    ax.set_xlabel("PIT: where each period's actual loss fell in its priced distribution")
    ax.set_ylabel("periods")
    ax.set_title(f"PIT histogram ({pit.size} line-periods)")
    ax.legend()
    fig.savefig(path, dpi=100)


# ---------------------------------------------------------------------------------------- page
def _page(run, history, config, figures: list) -> str:
    e = run.experience
    lines = e.lines
    flagged = lines[lines["loss_making"]]
    cal = e.calibration.iloc[0]
    p = config.parameters
    head = [
        ("scope", run.scope), ("run id", run.run_id if run.store is not None else "none: kept in no store"),
        ("started (UTC)", run.started.strftime("%Y-%m-%d %H:%M:%S")),
        ("code version", run.code_version), ("inputs SHA-256", run.inputs_hash),
        ("previous run of this scope", run.previous_run_id if run.previous_run_id is not None else "none"),
        ("inputs", ", ".join(f"{k}: {v}" for k, v in sorted(config.inputs.items()))),
        ("history", f"{len(history.policies):,} policies, {len(history.claims):,} claims, {len(lines)} lines, "
                    f"periods {min(history.periods)}–{max(history.periods)}"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Back-test: {html.escape(run.scope)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
        "font-size:0.85em;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.flag{color:#b00;font-weight:bold}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>Back-test: {html.escape(run.scope)}</h1>",
        _kv_table(head),
        "<h2>Loss-making lines</h2>",
        f"<p>A line is flagged when its ultimate losses exceed break-even (combined ratio 100%) beyond "
        f"chance: one-sided z-test of the sum over periods of (ultimate − break-even loss) against the "
        f"priced predictive standard deviation, at level {p.flag_level:g}. Indications: the loss-ratio method "
        f"with fixed expenses {p.fixed_expense_ratio:.0%}, variable {p.variable_expense_ratio:.0%}, profit "
        f"{p.profit:.0%}, on the line's loss ratio given its Bühlmann–Straub credibility Z, the rest (1 − Z) "
        f"given to present rates (the permissible loss ratio {p.permissible_loss_ratio:.1%}).</p>",
        _frame(flagged, ["line", "earned_premium", "loss_ratio", "expected_loss_ratio", "combined_ratio",
                         "loss_making_pvalue", "combined_ratio_trend", "credibility", "credibility_loss_ratio",
                         "indicated_rate_change", "repriced_change", "expense_vs_plan", "claims_near_limit",
                         "above_quantile_pvalue", "severity_drift_pvalue"])
        if len(flagged) else "<p>No line is loss-making beyond chance.</p>",
        "<h2>Calibration over all periods</h2>",
        f"<p>PIT uniformity (Kolmogorov–Smirnov), Kupiec's proportion of failures at the pricing VaR level "
        f"{p.var_level:g}, mean CRPS, and the share of periods inside their {p.level:.0%} predictive "
        f"interval.</p>",
        _kv_table([(k, _fmt(cal[k])) for k in cal.index]),
    ] + ([f"<p><em>{html.escape(drawn_lines_note(min(MAX_PANELS, len(lines)), len(lines)))}.</em></p>"]
         if len(lines) > MAX_PANELS else []) + [f"<p><img src='{name}' alt='{name}'></p>" for name in figures] + [
        "<h2>Compared with the previous run</h2>",
        _frame(run.comparison, ["line", "loss_ratio", "previous_loss_ratio", "combined_ratio", "previous_combined_ratio",
                                "indicated_rate_change", "previous_indicated_rate_change", "loss_making",
                                "previous_loss_making"]) if run.previous_run_id is not None
        else "<p>This is the first run of this scope in the store.</p>" if run.store is not None
        else "<p>Kept in no store: no previous run to compare with.</p>",
        "<h2>Every line</h2>",
        _frame(lines, ["line", "periods", "earned_premium", "ultimate_loss", "loss_ratio", "expected_loss_ratio",
                       "combined_ratio", "loss_making", "pit_ks_pvalue", "var_exceedances", "kupiec_pvalue",
                       "credibility", "indicated_rate_change", "fitted_claim_rate", "repriced_change",
                       "expense_over_plan"]),
        "<p>All tables: <code>periods.csv</code>, <code>lines.csv</code>, <code>development.csv</code>, "
        "<code>calibration.csv</code>, <code>comparison.csv</code>; "
        + (f"the run is kept in the store <code>{html.escape(run.store)}</code> (<code>techins backtest --show "
           f"{run.run_id} --store {html.escape(run.store)}</code>).</p>" if run.store is not None
           else "the run is kept in no store.</p>"),
        "</body></html>",
    ]
    return "\n".join(parts)


def _kv_table(rows) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _frame(frame: pd.DataFrame, columns: list) -> str:
    columns = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = []
    for _, r in frame.iterrows():
        cls = " class='flag'" if bool(r.get("loss_making", False)) is True else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in columns) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)
