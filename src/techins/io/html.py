"""One small HTML page writer for the reports of ``techins price``, ``pool`` and ``backtest``.

A page is built from headings, paragraphs, key-value tables, result tables and figures. Every text is
escaped; every number is formatted by the kind its column has in ``techins.io.schema.REPORT_COLUMN_KINDS``
(money with thousands separators and the currency, shares as %, counts as integers), never by guessing
from the values; figures are embedded as base64 PNG data URIs, so ``report.html`` stands alone: it can be
mailed or archived without the folder it was written in, and it loads nothing from anywhere.

Examples
--------
>>> import pandas as pd
>>> page = HtmlPage("Pricing run", currency="CNY")
>>> page.table(pd.DataFrame({"line": ["cyber"], "expected_loss": [1234567.0], "loss_ratio": [0.125]}))
>>> text = page.html()
>>> "CNY 1,234,567" in text and "12.5%" in text
True
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from techins.display import KINDS, value_text
from techins.io.outputs import replace_atomically
from techins.io.schema import REPORT_COLUMN_KINDS, REPORT_KIND_PREFIXES

__all__ = ["HtmlPage", "column_kind", "png_data_uri"]

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}"
    "table{border-collapse:collapse;font-size:0.85em;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}th{background:#f0f0f0}"
    "td:first-child,th:first-child{text-align:left}td.text,th.text{text-align:left}"
    "tr.flag td{color:#b00;font-weight:bold}figure{margin:1em 0 2em 0}img{max-width:100%}"
    "figcaption{font-size:0.9em;color:#444;max-width:900px}p.note{font-style:italic}"
)


def column_kind(column: str) -> str:
    """The kind (``techins.display.KINDS``) a report shows ``column`` as.

    Raises
    ------
    KeyError
        The column has no kind in ``REPORT_COLUMN_KINDS`` (nor a prefix in ``REPORT_KIND_PREFIXES``):
        give it one there rather than let a report guess.
    """
    if column in REPORT_COLUMN_KINDS:
        return REPORT_COLUMN_KINDS[column]
    for prefix, kind in REPORT_KIND_PREFIXES.items():
        if column.startswith(prefix):
            return kind
    raise KeyError(f"column {column!r} has no kind in techins.io.schema.REPORT_COLUMN_KINDS; add it there")


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("png_data_uri: the bytes are not a PNG image")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class HtmlPage:
    """A report page: add parts in reading order, then ``html()`` or ``write(path)``.

    Parameters
    ----------
    title : str
        The page's title and first heading.
    currency : str, optional
        Shown with every money value (``CNY 1,234,567``); "" shows the amount alone.
    """

    def __init__(self, title: str, currency: str = ""):
        self.title = str(title)
        self.currency = str(currency)
        self._parts = [f"<h1>{html.escape(self.title)}</h1>"]

    def heading(self, text: str, level: int = 2) -> None:
        """A section heading (``<h2>`` by default)."""
        if level not in (2, 3, 4):
            raise ValueError(f"HtmlPage.heading: level must be 2, 3 or 4, got {level!r}")
        self._parts.append(f"<h{level}>{html.escape(str(text))}</h{level}>")

    def paragraph(self, text: str, note: bool = False) -> None:
        """A paragraph of plain text (escaped); ``note`` sets it in italics."""
        cls = " class='note'" if note else ""
        self._parts.append(f"<p{cls}>{html.escape(str(text))}</p>")

    def facts(self, rows) -> None:
        """A two-column table of ``(label, value, kind)`` rows (kind as in ``techins.display.KINDS``;
        a ``(value, stderr)`` pair as value is shown ``value ± stderr``)."""
        body = []
        for label, value, kind in rows:
            if isinstance(value, tuple):
                shown = f"{self._cell(value[0], kind)} ± {self._cell(value[1], kind)}"
            else:
                shown = self._cell(value, kind)
            body.append(f"<tr><th>{html.escape(str(label))}</th><td>{html.escape(shown)}</td></tr>")
        self._parts.append(f"<table>{''.join(body)}</table>")

    def table(self, frame: pd.DataFrame, columns=None, *, kinds: dict | None = None, labels: dict | None = None,
              flag: str | None = None) -> None:
        """A result table: each column's cells formatted by its kind (``column_kind``, or ``kinds``
        given here for a column of this page only); header ``labels`` (default: the name, ``_`` as
        spaces); rows where the boolean column ``flag`` is true marked in red.

        Parameters
        ----------
        frame : pandas.DataFrame
        columns : list of str, optional
            The columns to show, in order; those ``frame`` lacks are left out. Default: all.
        """
        columns = [c for c in (frame.columns if columns is None else columns) if c in frame.columns]
        kinds = {c: (kinds or {}).get(c) or column_kind(c) for c in columns}
        labels = labels or {}
        head = "".join(f"<th{self._align(kinds[c])}>{html.escape(labels.get(c, c.replace('_', ' ')))}</th>"
                       for c in columns)
        rows = []
        for record in frame.to_dict(orient="records"):
            marked = flag is not None and bool(record.get(flag, False)) is True
            cells = "".join(f"<td{self._align(kinds[c])}>{html.escape(self._cell(record[c], kinds[c]))}</td>"
                            for c in columns)
            rows.append(f"<tr{' class=flag' if marked else ''}>{cells}</tr>")
        self._parts.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")

    def figure(self, png, alt: str, caption: str = "") -> None:
        """A PNG figure embedded in the page, with an alternative text and a caption.

        Parameters
        ----------
        png : bytes or path
            The PNG image, or the path of a PNG file.
        """
        data = png if isinstance(png, (bytes, bytearray)) else Path(png).read_bytes()
        text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f"<figure><img src='{png_data_uri(bytes(data))}' alt='{html.escape(alt, quote=True)}'>"
                           f"{text}</figure>")

    def html(self) -> str:
        """The page as one HTML document (UTF-8, no script, nothing loaded from elsewhere)."""
        return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>\n"
                + "\n".join(self._parts) + "\n</body></html>\n")

    def write(self, path) -> Path:
        """Write the page to ``path`` (a temporary name renamed into place: a reader never sees half
        a page); return the path."""
        return replace_atomically(path, lambda tmp: Path(tmp).write_text(self.html(), encoding="utf-8"))

    def _cell(self, value, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"HtmlPage: kind must be one of {KINDS}, got {kind!r}")
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()  # a NumPy scalar
        if isinstance(value, float) and math.isnan(value):
            return "—"
        return value_text(value, kind, self.currency)

    @staticmethod
    def _align(kind: str) -> str:
        return " class='text'" if kind == "text" else ""
