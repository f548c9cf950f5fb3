"""Writing results (``techins.reporting.report``): a priced portfolio, a programme and a pool into a
temporary folder. Every file listed is there and nothing else, each table's CSV holds what its
Parquet holds, ``run.json`` parses and carries the objects' own figures, the summary quotes them and
the plots are real PNG images."""

import json
import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

import techins as ti
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.reinsurance.programme import OccurrenceXL, Programme, QuotaShare, apply_programme
from techins.reporting.report import TABLES, write_pool, write_priced, write_programme

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def priced():
    catalogue = ti.read_catalogue(ROOT / "products")
    policies = ti.read_policies(ROOT / "examples" / "portfolio.csv")
    policies = policies.groupby("product", sort=True).head(2).reset_index(drop=True)
    return ti.price_catalogue(catalogue, catalogue.book(policies), 1000, 3, threads=1)


@pytest.fixture(scope="module")
def programme_result(priced):
    programme = Programme((QuotaShare(0.3, name="qs"), OccurrenceXL(5e6, 1e6, (1.0,), rate_on_line=0.1, name="xl")))
    return apply_programme(priced.result, programme, keep_occurrences=True)


@pytest.fixture(scope="module")
def pool_run():
    return run_pool(read_pool(ROOT / "examples" / "pools" / "cyber_pool.toml"), years=1000)


# -------------------------------------------------------------------------------------------- checks
def listed(files: dict) -> list:
    return [name for names in files.values() for name in names]


def check_listing(folder: Path, files: dict) -> None:
    """Every file listed exists and is not empty, and every file written is listed."""
    names = listed(files)
    assert len(names) == len(set(names))
    for name in names:
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    written = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert written == set(names)


def missing_as_none(table: pd.DataFrame) -> pd.DataFrame:
    """Text and flag columns with every missing value as None (Parquet reads a NaN among flags back as
    None, CSV as NaN: both are missing)."""
    table = table.reset_index(drop=True).copy()
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
            table[column] = [None if pd.isna(v) else v for v in table[column]]
    return table


def check_csv_is_parquet(folder: Path, name: str, expected: pd.DataFrame | None = None) -> None:
    """The CSV read back equals the Parquet (floats to the last bit: pandas writes the shortest
    round-trip form), and the Parquet equals the table written."""
    from_csv = pd.read_csv(folder / f"{name}.csv")
    from_parquet = pd.read_parquet(folder / f"{name}.parquet")
    assert list(from_csv.columns) == list(from_parquet.columns)
    assert len(from_csv) == len(from_parquet) > 0
    for column in from_parquet.columns:
        a, b = from_csv[column], from_parquet[column]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float), err_msg=f"{name}.{column}")
        else:
            assert [None if pd.isna(v) else str(v) for v in a] == [None if pd.isna(v) else str(v) for v in b], \
                f"{name}.{column}"
    if expected is not None:
        pd.testing.assert_frame_equal(missing_as_none(from_parquet), missing_as_none(expected), check_dtype=False)


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert data[12:16] == b"IHDR" and width > 100 and height > 100
    pixels = image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert float(np.std(pixels)) > 0.0  # something is drawn


def json_form(value):
    """What JSON keeps of a figure: a non-finite number as null, numpy numbers as plain ones."""
    if isinstance(value, dict):
        return {str(k): json_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_form(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def read_run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


def money(x) -> str:
    return f"{float(x):,.0f}"


def check_report_page(folder: Path, figures: list) -> str:
    """report.html stands alone: every src= is a data: URI (one per figure, in order, the PNG file's
    bytes), and it references nothing else (no href, script or CSS url); return its text."""
    import base64
    import re

    page = (folder / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r"src=['\"]([^'\"]*)", page)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert [base64.b64decode(s.split(",", 1)[1]) for s in sources] == [(folder / f).read_bytes() for f in figures]
    assert "href=" not in page and "<script" not in page and "url(" not in page and "@import" not in page
    return page


# -------------------------------------------------------------------------------------------- priced
def test_write_priced(priced, tmp_path):
    meta = {"command": "test", "catalogue": "products", "portfolio": "two per product", "currency": "CNY",
            "products": sorted(set(priced.policies["product"])), "years": 1000, "seed": 3}
    files = write_priced(priced, tmp_path, meta)
    assert set(files) == {*TABLES, "plots", "report", "summary", "run"}
    check_listing(tmp_path, files)
    for name in TABLES:
        assert files[name] == [f"{name}.csv", f"{name}.parquet"]
        check_csv_is_parquet(tmp_path, name, getattr(priced, name))
    for name in files["plots"]:
        check_png(tmp_path / name)

    report = read_run_json(tmp_path)
    assert report["meta"] == meta and report["files"] == files
    assert report["book"] == json_form(priced.book)
    assert report["book"]["expected_loss"] == priced.result.mean()
    assert report["book"]["tvar_99"] == priced.result.tvar(0.99)
    assert report["book"]["capped_premium"] == pytest.approx(priced.policies["capped_premium"].sum(), rel=1e-12)

    page = check_report_page(tmp_path, files["plots"])
    for key in ("expected_loss", "tvar_99", "technical_premium", "capped_premium", "subsidy"):
        assert f"CNY {money(priced.book[key])}" in page, key
    for row in priced.products.itertuples():
        assert f"{100 * row.loss_ratio:.1f}%" in page

    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    book = priced.book
    for key in ("expected_loss", "expected_loss_stderr", "std", "var_99_5", "tvar_99", "technical_premium",
                "capped_premium", "shortfall", "subsidy", "insured_pays"):
        assert money(book[key]) in summary, key
    assert f"{book['years']:,} years, seed {book['seed']}" in summary and "money in CNY" in summary
    for row in priced.lines.itertuples():
        assert f"| {row.line} | {row.policies:,} | {money(row.expected_loss)} |" in summary
    for row in priced.products.itertuples():
        assert f"| {row.product} | {row.policies:,} | {money(row.expected_loss)} |" in summary
        assert f"{row.loss_ratio:.1%}" in summary


# -------------------------------------------------------------------------------------------- programme
def test_write_programme_with_ord(programme_result, tmp_path):
    meta = {"command": "test", "programme": "qs + xl", "years": 1000, "seed": 3, "load": 0.2}
    files = write_programme(programme_result, tmp_path, meta, load=0.2, ord_exports=True)
    assert set(files) == {"treaties", "years", "treaty_ep_curves", "programme_ep", "plots", "report", "ord", "run"}
    assert files["plots"] == ["programme_ep.png"] and files["report"] == ["report.html"]
    check_listing(tmp_path, files)
    check_csv_is_parquet(tmp_path, "treaties", programme_result.treaty_table(load=0.2))
    check_csv_is_parquet(tmp_path, "programme_ep", programme_result.ep_table())
    check_csv_is_parquet(tmp_path, "treaty_ep_curves")
    check_csv_is_parquet(tmp_path, "years")
    assert all(name.startswith("ord/") for name in files["ord"])
    # ORD file names as OasisLMF writes them: gross, ceded, net -> il, rl, ri; summary set 1
    assert sorted(files["ord"]) == sorted(f"ord/{p}_S1_{t}.{ext}" for p in ("il", "rl", "ri")
                                          for t in ("splt", "melt", "palt", "alct", "ept") for ext in ("csv", "parquet"))
    for name in files["ord"]:
        if name.endswith(".csv"):
            check_csv_is_parquet(tmp_path, name.removesuffix(".csv"))

    years = pd.read_parquet(tmp_path / "years.parquet")
    r = programme_result
    assert years["year"].tolist() == list(range(r.years))
    np.testing.assert_array_equal(years["gross"], r.gross)
    np.testing.assert_array_equal(years["net"], r.net)
    for t, name in enumerate(("qs", "xl")):
        np.testing.assert_array_equal(years[f"ceded_{name}"], r.ceded[:, t])
        np.testing.assert_array_equal(years[f"reinstatement_factor_{name}"], r.reinstatement_factor[:, t])
    np.testing.assert_allclose(years["ceded_qs"] + years["ceded_xl"] + years["net"], years["gross"],
                               rtol=1e-12, atol=1e-6)
    curves = pd.read_parquet(tmp_path / "treaty_ep_curves.parquet")
    for name in ("qs", "xl"):
        mine = curves[curves["treaty"] == name].drop(columns="treaty").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, r.ep_curve(name))

    report = read_run_json(tmp_path)
    assert report["meta"] == meta and report["files"] == files
    assert report["treaties"] == json_form(r.treaty_table(load=0.2).to_dict(orient="records"))
    qs = report["treaties"][0]
    assert qs["treaty"] == "qs" and qs["expected_ceded"] == pytest.approx(0.3 * r.gross.mean(), rel=1e-9)
    assert report["treaties"][1]["deposit_premium"] == pytest.approx(0.1 * 5e6, rel=1e-15)


def test_write_programme_ord_formats(programme_result, tmp_path):
    files = write_programme(programme_result, tmp_path, {}, ord_exports=True, ord_formats=("parquet",))
    assert len(files["ord"]) == 15 and all(name.endswith(".parquet") for name in files["ord"])
    check_listing(tmp_path, files)


def test_write_programme_without_ord(programme_result, tmp_path):
    files = write_programme(programme_result, tmp_path, {}, ord_exports=False)
    assert "ord" not in files and not (tmp_path / "ord").exists()
    check_listing(tmp_path, files)


def test_programme_ep_table_by_hand(programme_result):
    """Each return period's gross, net and ceded AEP is the ceil(n p)-th smallest year (n = 1,000 years:
    the 900th at 10 years), and its 95% interval the order statistics of ranks Binomial(n, p)'s 2.5% and
    97.5% quantiles, the second plus one (scipy), which hold the estimate."""
    from scipy import stats

    r = programme_result
    table = r.ep_table(return_periods=(10.0, 100.0, 5000.0))
    assert table["return_period"].tolist() == [10.0, 100.0]  # 5,000 years > the 1,000 simulated
    for row in table.itertuples():
        p = 1.0 - 1.0 / row.return_period
        k = round(r.years * p)
        lo, hi = int(stats.binom.ppf(0.025, r.years, p)), int(stats.binom.ppf(0.975, r.years, p)) + 1
        for name, values in (("gross", r.gross), ("net", r.net)):
            ordered = np.sort(values)
            assert getattr(row, name) == ordered[k - 1]
            assert (getattr(row, f"{name}_low"), getattr(row, f"{name}_high")) == (ordered[lo - 1], ordered[hi - 1])
            assert getattr(row, f"{name}_low") <= getattr(row, name) <= getattr(row, f"{name}_high")
        for t, name in enumerate(("qs", "xl")):
            assert table.loc[row.Index, f"ceded_{name}"] == np.sort(r.ceded[:, t])[k - 1]
    with pytest.raises(ti.InputError, match="ep_table: level"):
        r.ep_table(level=1.0)


# -------------------------------------------------------------------------------------------- pool
def test_write_pool(pool_run, tmp_path):
    meta = {"command": "test", "pool_file": "examples/pools/cyber_pool.toml"}
    files = write_pool(pool_run, tmp_path, meta)
    assert set(files) == {"members", "lines", "allocation", "years", "treaties", "contributions", "plots",
                          "report", "summary", "run"}
    check_listing(tmp_path, files)
    for name, table in (("members", pool_run.members), ("lines", pool_run.lines),
                        ("allocation", pool_run.allocation), ("years", pool_run.annual),
                        ("treaties", pool_run.treaties), ("contributions", pool_run.contributions)):
        check_csv_is_parquet(tmp_path, name, table)
    for name in files["plots"]:
        check_png(tmp_path / name)

    report = read_run_json(tmp_path)
    assert report["meta"] == meta and report["files"] == files
    assert report["pool"] == json_form(pool_run.pool)
    assert report["pool"]["expected_gross"] == pytest.approx(pool_run.annual["gross"].mean(), rel=1e-12)

    page = check_report_page(tmp_path, files["plots"])
    assert pool_run.pool["currency"] == "CNY"
    for key in ("premium", "expected_gross", "expected_net", "pool_capital"):
        assert f"CNY {money(pool_run.pool[key])}" in page, key
    for row in pool_run.members.itertuples():
        assert f"{100 * row.prob_loss_making:.1f}%" in page

    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    p = pool_run.pool
    assert summary.startswith(f"# Pool run: {p['pool']}")
    assert f"{p['years']:,} years, seed {p['seed']}" in summary and meta["pool_file"] in summary
    for key in ("premium", "fees", "admin_expense", "expected_gross", "expected_ceded", "expected_net",
                "pool_capital"):
        assert money(p[key]) in summary, key
    for row in pool_run.members.itertuples():
        assert f"| {row.member} | {row.role} | {money(row.premium)} | {money(row.fee_income)} |" in summary
    for row in pool_run.treaties.itertuples():
        assert f"| {row.treaty} | {money(row.premium)} ({row.premium_basis}) |" in summary
    c = pool_run.contributions
    assert money(c.attrs["diversification_benefit"]) in summary
    assert "`contributions.*`" in summary and "`treaties.*`" in summary


def test_money_formatting_in_summaries():
    from techins.reporting.report import _money

    assert _money(1234567.49) == "1,234,567" and _money(-0.4) == "-0" and _money(math.inf) == "∞"
    assert _money(math.nan) == "—" and _money(-math.inf) == "—"
