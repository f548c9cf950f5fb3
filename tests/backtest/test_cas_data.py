"""The shipped CAS Loss Reserve Database extract (examples/data/README.md): its shape, its invariants,
values checked by hand against the source, and the script that makes it."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
FILE = DATA / "cas_lrdb_prodliab_othliab.csv"
COLUMNS = ["GRCODE", "GRNAME", "LOB", "AccidentYear", "DevelopmentLag", "IncurLoss", "CumPaidLoss", "BulkLoss",
           "EarnedPremNet"]
KEYS = ["LOB", "GRCODE", "AccidentYear", "DevelopmentLag"]


@pytest.fixture(scope="module")
def cas():
    return pd.read_csv(FILE)


def test_columns_and_integer_types(cas):
    assert list(cas.columns) == COLUMNS
    for column in COLUMNS:
        if column not in ("GRNAME", "LOB"):
            assert cas[column].dtype == np.int64, column
    assert not cas.isna().any().any()
    numeric = [i for i, c in enumerate(COLUMNS) if c not in ("GRNAME", "LOB")]
    for line in FILE.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split(",")
        assert len(fields) == len(COLUMNS), line
        assert all(fields[i].lstrip("-").isdigit() for i in numeric), line


def test_counts_match_the_readme(cas):
    counts = cas.groupby("LOB").agg(lines=("GRCODE", "nunique"), rows=("GRCODE", "size"))
    assert counts.to_dict("index") == {"othliab": {"lines": 231, "rows": 12_705},
                                       "prodliab": {"lines": 60, "rows": 3_300}}


def test_each_company_line_is_a_full_upper_triangle(cas):
    # clrd.csv holds what was known at year-end 1997: accident year y developed to lag 1998 - y.
    assert set(cas["AccidentYear"]) == set(range(1988, 1998))
    expected = sorted((y, lag) for y in range(1988, 1998) for lag in range(1, 1998 - y + 1))
    for key, part in cas.groupby(["LOB", "GRCODE"]):
        assert sorted(zip(part["AccidentYear"], part["DevelopmentLag"])) == expected, key
        assert part["GRNAME"].nunique() == 1, key


def test_sorted_and_unique(cas):
    assert not cas.duplicated(KEYS).any()
    assert cas.equals(cas.sort_values(KEYS, kind="stable").reset_index(drop=True))


def test_premium_constant_within_accident_year(cas):
    assert (cas.groupby(KEYS[:3])["EarnedPremNet"].nunique() == 1).all()


def test_dropped_company_lines_are_gone(cas):
    per_line = cas.groupby(["LOB", "GRCODE"])
    assert (per_line["EarnedPremNet"].max() > 0).all()
    assert ((cas[["IncurLoss", "CumPaidLoss"]] != 0).any(axis=1).groupby([cas["LOB"], cas["GRCODE"]]).any()).all()
    # othliab 10069 had bulk reserves only, no incurred or paid losses.
    assert not ((cas["LOB"] == "othliab") & (cas["GRCODE"] == 10069)).any()


@pytest.mark.parametrize(("lob", "grcode", "year", "lag", "expected"), [
    # Hand-checked against the first rows of the source (clrd.csv, Federated Mut Grp, products liability).
    ("prodliab", 78, 1988, 1, {"GRNAME": "Federated Mut Grp", "IncurLoss": 29483, "CumPaidLoss": 3894,
                               "BulkLoss": 18410, "EarnedPremNet": 29513}),
    ("prodliab", 78, 1988, 2, {"IncurLoss": 28826, "CumPaidLoss": 7409, "BulkLoss": 13495}),
])
def test_hand_checked_values(cas, lob, grcode, year, lag, expected):
    row = cas[(cas["LOB"] == lob) & (cas["GRCODE"] == grcode) & (cas["AccidentYear"] == year)
              & (cas["DevelopmentLag"] == lag)]
    assert len(row) == 1
    assert {k: row.iloc[0][k] for k in expected} == expected


def _script():
    spec = importlib.util.spec_from_file_location("make_cas_lrdb", DATA / "make_cas_lrdb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_filters_and_orders_a_small_source(tmp_path):
    def rows(lob, grcode, incurred, premium):
        return [{"GRCODE": grcode, "GRNAME": f"G{grcode}", "AccidentYear": 1997, "DevelopmentYear": 1997,
                 "DevelopmentLag": 1, "IncurLoss": incurred, "CumPaidLoss": 0, "BulkLoss": 0, "EarnedPremDIR": 0,
                 "EarnedPremCeded": 0, "EarnedPremNet": premium, "Single": 0, "PostedReserve97": 0, "LOB": lob}]

    source = pd.DataFrame(rows("prodliab", 9, 5.0, 10) + rows("othliab", 7, 3, 4) + rows("othliab", 8, 0, 4)
                          + rows("othliab", 6, 3, 0) + rows("wkcomp", 5, 1, 1))
    path = tmp_path / "source.csv"
    source.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert _script().main([str(path), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1:] == ["7,G7,othliab,1997,1,3,0,0,4", "9,G9,prodliab,1997,1,5,0,0,10"]
