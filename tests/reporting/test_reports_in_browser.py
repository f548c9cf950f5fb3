"""Each ``report.html`` (``techins price``, ``reinsure``, ``pool``, ``backtest``) rendered in headless Chromium (Debian's
``/usr/bin/chromium``, installed by ``.ci/run``): it loads, logs nothing on the console, every figure
decodes to a real image, and the key numbers are on the page as a reader sees it (the DOM after load).

The pages carry no script; the test adds a tiny probe script to a copy of each page that writes the
number of images and of decoded images (complete, ``naturalWidth > 0``) into the DOM, read back from
``--dump-dom``. Without Chromium the tests skip, unless ``TECHINS_REQUIRE_BROWSER=1`` (set by
``.ci/run``) makes that a failure.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import techins as ti
from techins.backtest.run import read_config, run_backtest
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.reporting.report import write_pool, write_priced, write_programme

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PROBE = ("<script>window.addEventListener('load', function () {"
         "var images = document.images, decoded = 0;"
         "for (var k = 0; k < images.length; k++) {"
         "  if (images[k].complete && images[k].naturalWidth > 0) { decoded++; } }"
         "var p = document.createElement('p'); p.id = 'techins-probe';"
         "p.textContent = 'images ' + images.length + ' decoded ' + decoded;"
         "document.body.appendChild(p); });</script>")


def browser() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found is None:
        message = "headless Chromium (/usr/bin/chromium, Debian package 'chromium') is not installed"
        if os.environ.get("TECHINS_REQUIRE_BROWSER") == "1":
            pytest.fail(message + ", and TECHINS_REQUIRE_BROWSER=1 requires it")
        pytest.skip(message + "; .ci/run installs it")
    return found


def render(page: Path, work: Path) -> tuple[str, list]:
    """The DOM of ``page`` after load (with the probe) and the console lines Chromium logged."""
    probed = work / f"probed_{page.parent.name}.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={work / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         probed.as_uri()], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def probe(dom: str) -> tuple[int, int]:
    found = re.search(r'<p id="techins-probe">images (\d+) decoded (\d+)</p>', dom)
    assert found, "the page did not finish loading (no probe in the DOM)"
    return int(found[1]), int(found[2])


def text_of(dom: str) -> str:
    """The page's text, tags dropped (the numbers a reader sees)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"data:image/png;base64,[^'\"]+", "", dom)))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """report.html of a small priced portfolio, a pool and two identical back-test runs."""
    base = tmp_path_factory.mktemp("reports")
    catalogue = ti.read_catalogue(ROOT / "products")
    policies = ti.read_policies(ROOT / "examples" / "portfolio.csv").groupby("product", sort=True).head(2)
    priced = ti.price_catalogue(catalogue, catalogue.book(policies.reset_index(drop=True)), 1000, 3, threads=1)
    (base / "price").mkdir()
    write_priced(priced, base / "price", {"catalogue": "products", "portfolio": "two per product", "currency": "CNY",
                                          "products": sorted(set(priced.policies["product"]))})
    programme = ti.read_programme(ROOT / "examples" / "programmes" / "tech_pool_programme.toml")
    applied = ti.apply_programme(priced.result, programme)
    (base / "reinsure").mkdir()
    write_programme(applied, base / "reinsure", {"programme": "tech_pool_programme.toml", "seed": 3,
                                                 "currency": "CNY"})
    pool = run_pool(read_pool(ROOT / "examples" / "pools" / "cyber_pool.toml"), years=1000)
    (base / "pool").mkdir()
    write_pool(pool, base / "pool", {"pool_file": "examples/pools/cyber_pool.toml"})
    config = read_config(ROOT / "examples" / "backtest" / "tech_lines_backtest.toml")
    for _ in range(2):
        run = run_backtest(config, store=base / "runs.sqlite", out=base / "backtest")
    return {"price": (base / "price", priced), "reinsure": (base / "reinsure", applied), "pool": (base / "pool", pool), "backtest": (base / "backtest", run),
            "work": base}


def test_the_pricing_report_renders(reports):
    folder, priced = reports["price"]
    dom, console = render(folder / "report.html", reports["work"])
    assert console == []
    assert probe(dom) == (2, 2)
    text = text_of(dom)
    assert "alt=\"ep_curves.png\"" in dom and "alt=\"premium_buildup.png\"" in dom
    book = priced.book
    for key in ("expected_loss", "tvar_99", "technical_premium", "capped_premium"):
        assert f"CNY {book[key]:,.0f}" in text, key
    for row in priced.products.itertuples():
        assert row.product in text and f"{100 * row.loss_ratio:.1f}%" in text
    assert "95% Monte Carlo interval" in text


def test_the_reinsurance_report_renders(reports):
    folder, applied = reports["reinsure"]
    dom, console = render(folder / "report.html", reports["work"])
    assert console == []
    assert probe(dom) == (1, 1)
    text = text_of(dom)
    assert f"CNY {applied.gross.mean():,.0f}" in text and f"CNY {applied.net.mean():,.0f}" in text
    for row in applied.treaty_table().itertuples():
        assert row.treaty in text and f"CNY {row.expected_ceded:,.0f}" in text and f"{100 * row.prob_loss:.1f}%" in text


def test_the_pool_report_renders(reports):
    folder, run = reports["pool"]
    dom, console = render(folder / "report.html", reports["work"])
    assert console == []
    assert probe(dom) == (2, 2)
    text = text_of(dom)
    p = run.pool
    for key in ("premium", "expected_gross", "pool_capital"):
        assert f"{p['currency']} {p[key]:,.0f}" in text, key
    for row in run.members.itertuples():
        assert row.member in text and f"{100 * row.prob_loss_making:.1f}%" in text


def test_the_backtest_report_renders_with_identical_runs_listed_once(reports):
    folder, run = reports["backtest"]
    dom, console = render(folder / "report.html", reports["work"])
    assert console == []
    assert probe(dom) == (3, 3)
    text = text_of(dom)
    assert f"2 identical runs, ids {run.previous_run_id}, {run.run_id}" in text
    lines = run.experience.lines
    for row in lines.itertuples():
        assert row.line in text and f"CNY {row.earned_premium:,.0f}" in text
        assert f"{100 * row.combined_ratio:.1f}%" in text


def test_the_probe_sees_an_image_that_does_not_decode(reports, tmp_path):
    """The check can fail: a figure whose data is not an image is counted and not decoded."""
    page = tmp_path / "broken" / "report.html"
    page.parent.mkdir()
    page.write_text("<!DOCTYPE html><html><body><img src='data:image/png;base64,aGVsbG8=' alt='x'></body></html>",
                    encoding="utf-8")
    dom, _ = render(page, tmp_path)
    assert probe(dom) == (1, 0)


def test_the_console_check_sees_a_script_error(reports, tmp_path):
    page = tmp_path / "noisy" / "report.html"
    page.parent.mkdir()
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>",
                    encoding="utf-8")
    _, console = render(page, tmp_path)
    assert any("undefinedFunction" in line for line in console)
