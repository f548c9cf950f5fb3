"""How results and specs show themselves: a one-line ``repr`` (a result holds arrays of a million
years and tables of thousands of policies; printing them whole drowns a notebook) and a small HTML
table for Jupyter (``_repr_html_``).

Figures are given as (label, value, standard error or None); money is shown with thousands
separators, shares as percentages, and each Monte Carlo figure with its ``±`` error.
"""

from __future__ import annotations

import html
import math
import numbers

__all__ = ["Figure", "short_repr", "figures_html", "number_text"]

MAX_ROWS = 10  # rows of a table shown in a notebook; the table itself has them all


class Figure:
    """One figure of a result: a label, its value, its standard error (or None) and how to show it
    (``"money"``, ``"count"``, ``"share"`` or ``"text"``)."""

    __slots__ = ("label", "value", "stderr", "kind")

    def __init__(self, label: str, value, stderr=None, kind: str = "money"):
        self.label, self.value, self.stderr, self.kind = label, value, stderr, kind

    def text(self) -> str:
        shown = number_text(self.value, self.kind)
        if self.stderr is not None and _finite(self.stderr):
            shown += f" ± {number_text(self.stderr, self.kind)}"
        return shown


def number_text(value, kind: str = "money") -> str:
    """``1,234,567`` (money), ``3,000`` (count), ``12.5%`` (share), or the value as text."""
    if kind == "text" or isinstance(value, str) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, bool):
        return str(value)
    if not _finite(value):
        return "inf" if value == math.inf else ("-inf" if value == -math.inf else "nan")
    if kind == "share":
        return f"{100.0 * value:.2f}%"
    if kind == "count":
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def short_repr(name: str, figures: list) -> str:
    """``Name(label=value ± error, ...)`` on one line."""
    return f"{name}(" + ", ".join(f"{f.label}={f.text()}" for f in figures) + ")"


def figures_html(title: str, figures: list, tables: dict | None = None) -> str:
    """A notebook view: a table of the figures, then the first rows of each table (pandas' own HTML)."""
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(f.label)}</th>"
                   f"<td style='text-align:right'>{html.escape(f.text())}</td></tr>" for f in figures)
    parts = [f"<div><strong>{html.escape(title)}</strong><table>{rows}</table>"]
    for name, table in (tables or {}).items():
        more = len(table) - MAX_ROWS
        note = f" (first {MAX_ROWS} of {len(table):,} rows)" if more > 0 else f" ({len(table):,} rows)"
        parts.append(f"<p><em>{html.escape(name)}</em>{html.escape(note)}</p>")
        parts.append(table.head(MAX_ROWS).to_html(index=False, float_format=lambda v: number_text(v)))
    parts.append("</div>")
    return "".join(parts)


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False
