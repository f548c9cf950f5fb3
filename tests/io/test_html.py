"""The report page writer (``techins.io.html``): text escaped, cells formatted by the column's kind from
``techins.io.schema.REPORT_COLUMN_KINDS`` (never guessed), figures embedded so the page stands alone."""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from techins.io.html import HtmlPage, column_kind, png_data_uri
from techins.io.schema import REPORT_COLUMN_KINDS


def tiny_png() -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [0, 1])
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=20)
    return out.getvalue()


def test_cells_are_formatted_by_the_column_kind():
    page = HtmlPage("t", currency="CNY")
    page.table(pd.DataFrame({"product": ["a"], "policies": [3000], "expected_loss": [1234567.4],
                             "loss_ratio": [0.125], "loss_making": [True], "loss_making_pvalue": [0.01234],
                             "period": [2020]}), flag="loss_making")
    text = page.html()
    for shown in ("CNY 1,234,567", "12.5%", "3,000", "yes", "0.01234", ">2020<"):
        assert shown in text, shown
    assert "class=flag" in text


def test_the_same_value_is_shown_by_its_column_not_by_its_size():
    """0.5 is 50.0% as a loss ratio, CNY 0 as money and 0.5 as a p-value."""
    page = HtmlPage("t", currency="CNY")
    page.table(pd.DataFrame({"loss_ratio": [0.5], "premium": [0.5], "kupiec_pvalue": [0.5]}))
    text = page.html()
    assert "50.0%" in text and "CNY 0<" in text and ">0.5<" in text


def test_a_column_without_a_kind_is_refused():
    with pytest.raises(KeyError, match="REPORT_COLUMN_KINDS"):
        HtmlPage("t").table(pd.DataFrame({"mystery": [1.0]}))
    assert column_kind("share_cyber") == "share"  # a member's share of a line, by its prefix
    assert set(REPORT_COLUMN_KINDS.values()) <= {"money", "share", "count", "number", "flag", "label", "text"}


def test_missing_values_and_text_are_escaped():
    page = HtmlPage("<b>scope</b> & co")
    page.paragraph("a < b & c")
    page.facts([("label <x>", "v & w", "text"), ("loss", (1e6, float("nan")), "money")])
    text = page.html()
    assert "<b>scope</b>" not in text and "&lt;b&gt;scope&lt;/b&gt; &amp; co" in text
    assert "a &lt; b &amp; c" in text and "label &lt;x&gt;" in text and "1,000,000 ± —" in text


def test_figures_are_embedded_and_nothing_is_referenced_from_outside(tmp_path):
    png = tiny_png()
    (tmp_path / "f.png").write_bytes(png)
    page = HtmlPage("t")
    page.figure(tmp_path / "f.png", "f.png", "a caption")
    page.figure(png, "again")
    written = page.write(tmp_path / "report.html")
    text = written.read_text(encoding="utf-8")
    sources = re.findall(r"src=['\"]([^'\"]*)", text)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == png
    assert "href=" not in text and "<script" not in text and "url(" not in text
    assert not list(tmp_path.glob(".report.html.*"))  # no temporary file left


def test_png_data_uri_refuses_other_bytes():
    with pytest.raises(ValueError, match="not a PNG"):
        png_data_uri(b"GIF89a")
    assert png_data_uri(tiny_png()).startswith("data:image/png;base64,iVBOR")


def test_numpy_scalars_in_facts():
    page = HtmlPage("t", currency="USD")
    page.facts([("n", np.int64(1234), "count"), ("x", np.float64(2.5e6), "money"), ("p", np.float64(0.0004), "share")])
    text = page.html()
    assert "1,234" in text and "USD 2,500,000" in text and "0.04%" in text
