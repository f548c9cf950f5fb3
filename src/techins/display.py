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

__all__ = ["Figure", "short_repr", "figures_html", "number_text", "KINDS", "value_text", "percent_text", "money_tick",
           "money_label"]

# how a table cell or a figure of a report is shown (``value_text``); io/schema.py gives each report
# column its kind
KINDS = ("money", "share", "count", "number", "flag", "label", "text")

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


def value_text(value, kind: str, currency: str = "") -> str:
    """A report's cell: money ``CNY 1,234,567``, share ``12.5%``, count ``3,000``, number ``0.01234`` (4
    significant digits), flag ``yes`` / ``no``, label (a period or an id: ``2020``, no separator) or text;
    a missing value (None, NaN) as ``—``.

    Examples
    --------
    >>> value_text(1234567.4, "money", "CNY"), value_text(0.125, "share"), value_text(3000.0, "count")
    ('CNY 1,234,567', '12.5%', '3,000')
    """
    if kind not in KINDS:
        raise ValueError(f"value_text: kind must be one of {KINDS}, got {kind!r}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "text" or isinstance(value, str):
        return str(value)
    if kind == "flag":
        return "yes" if bool(value) else "no"
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "—"
    if kind == "label":
        return f"{value:.0f}" if value.is_integer() else f"{value:g}"
    if kind == "share":
        return percent_text(value)
    if math.isinf(value):
        shown = "∞" if value > 0 else "-∞"
    elif kind == "money":
        shown = f"{value:,.0f}"
    elif kind == "count":
        shown = f"{value:,.0f}"
    else:
        shown = f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{currency} {shown}" if kind == "money" and currency else shown


def percent_text(value: float) -> str:
    """A share as a percentage with one decimal (``12.5%``); below 0.1% two significant digits
    (``0.0031%``) so that a small probability does not read as zero."""
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    pct = 100.0 * value
    if pct != 0.0 and abs(pct) < 0.1:
        return f"{pct:.2g}%"
    return f"{pct:,.1f}%"


def money_tick(value: float) -> str:
    """An axis label for an amount: 950, 12K, 3.5M, 1.2B (the axis title names the currency)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.3g}"


def money_label(what: str, currency: str = "") -> str:
    """A money axis's title: ``annual loss (CNY)``; without a currency, ``annual loss (money)`` so the
    unit is never left out."""
    return f"{what} ({currency or 'money'})"


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
