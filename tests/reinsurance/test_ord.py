"""ORD exports against hand-computed tables, an independent brute-force EP calculation, the ORD
column names, types, codes and file names as published, a CSV/Parquet round trip, properties and bad
input."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from techins.errors import InputError, InputTypeError
from techins.reinsurance import ord as ex

# --- the spec, hard-coded -----------------------------------------------------------------------
# Column names and order as OasisLMF writes them (repo OasisLMF/OasisLMF, files
# oasislmf/pytools/plt/data.py SPLT_output, oasislmf/pytools/elt/data.py MELT_output,
# oasislmf/pytools/aal/data.py AAL_output and ALCT_output, oasislmf/pytools/lec/data.py EPT_output);
# the same SPLT/MELT/ALT/EPT headers are in repo OasisLMF/ODS_OpenResultsData,
# Schema/ORD_Table_Examples.csv (tag 1.0.0).
SPEC_SPLT = ("Period", "PeriodWeight", "EventId", "Year", "Month", "Day", "Hour", "Minute", "SummaryId",
             "SampleId", "Loss", "ImpactedExposure")
SPEC_MELT = ("EventId", "SummaryId", "SampleType", "EventRate", "ChanceOfLoss", "MeanLoss", "SDLoss",
             "MaxLoss", "FootprintExposure", "MeanImpactedExposure", "MaxImpactedExposure")
SPEC_ALT = ("SummaryId", "SampleType", "MeanLoss", "SDLoss")
SPEC_ALCT = ("SummaryId", "MeanLoss", "SDLoss", "SampleSize", "LowerCI", "UpperCI", "StandardError",
             "RelativeError", "VarElementHaz", "StandardErrorHaz", "RelativeErrorHaz", "VarElementVuln",
             "StandardErrorVuln", "RelativeErrorVuln")
SPEC_EPT = ("SummaryId", "EPCalc", "EPType", "ReturnPeriod", "Loss")
# EPType and EPCalc codes: OasisLMF/ODS_OpenResultsData Schema/ORD_List_of_Fields.csv (ORD v1):
# "EPType ... 1 = OEP, 2 = OEP TVAR, 3 = AEP, 4 = AEP TVAR" and
# "EPCalc ... 1=MeanDR, 2=Full, 3=PerSampleMean, 4=MeanSample"; also oasislmf/pytools/lec/data.py.
SPEC_EPTYPE = {"OEP": 1, "OEP TVAR": 2, "AEP": 3, "AEP TVAR": 4}
SPEC_EPCALC_FULL = 2
# SampleType: "analytical (SampleType=1) or sampled (SampleType=2)", Schema/ORD_List_of_Fields.csv
SPEC_SAMPLE_TYPE_SAMPLED = 2
# Data types: OasisLMF/ODS_OpenResultsData Schema/ORD_Data_Types.csv ("32-bit integer" or "float"; the
# ALCT, which ORD does not list, from oasislmf/pytools/aal/data.py with its "%d" fields as integers)
SPEC_INTEGER = {"Period", "EventId", "SummaryId", "SampleId", "SampleType", "EPCalc", "EPType", "SampleSize",
                "Year", "Month", "Day", "Hour", "Minute"}
# File names: OasisLMF writes output/<perspective>_S<summary set>_<table>.<csv|parquet>, e.g.
# il_S1_splt.csv, gul_S1_melt.csv, il_S1_palt.csv, il_S1_alct.csv, ri_S1_ept.csv (the run scripts its
# tests pin: OasisLMF/OasisLMF tests/model_execution/*); perspectives gul, il, ri and rl (reinsurance
# loss, the ceded amount): ODS_OpenResultsData Schema/ORD_Perspectives.csv
SPEC_FILES = {"plt": "splt", "elt": "melt", "alt": "palt", "alct": "alct", "ept": "ept"}
SPEC_TABLE_COLUMNS = {"splt": SPEC_SPLT, "melt": SPEC_MELT, "palt": SPEC_ALT, "alct": SPEC_ALCT, "ept": SPEC_EPT}
SPEC_PERSPECTIVES = {"gross": "il", "ceded": "rl", "net": "ri"}


def check_ord_table(frame, code):
    """One ORD table read back from a file: the spec's columns in its order, integers int32 and floats
    float64, its key unique, no missing key, no missing or negative loss."""
    assert in_spec_order(frame.columns, SPEC_TABLE_COLUMNS[code]), (code, list(frame.columns))
    assert list(frame.columns) == list(ex.SCHEMAS[code])
    for column in frame.columns:
        want = np.int32 if column in SPEC_INTEGER else np.float64
        assert frame[column].dtype == want, (code, column, frame[column].dtype)
    key = list(ex.KEYS[code])
    assert not frame[key].isna().any().any() and not frame.duplicated(key).any(), code
    for money in ("Loss", "MeanLoss"):
        if money in frame:
            assert frame[money].notna().all() and (frame[money] >= 0).all(), code


def in_spec_order(ours, spec):
    """Our columns are spec columns, in the spec's order."""
    return set(ours) <= set(spec) and [c for c in spec if c in ours] == list(ours)


def test_column_names_and_codes_are_the_specs():
    assert in_spec_order(ex.PLT_COLUMNS, SPEC_SPLT)
    assert in_spec_order(ex.ELT_COLUMNS, SPEC_MELT)
    assert in_spec_order(ex.ALCT_COLUMNS, SPEC_ALCT)
    assert ex.ALT_COLUMNS == SPEC_ALT
    assert ex.EPT_COLUMNS == SPEC_EPT
    assert (ex.EPTYPE_OEP, ex.EPTYPE_OEP_TVAR, ex.EPTYPE_AEP, ex.EPTYPE_AEP_TVAR) == (
        SPEC_EPTYPE["OEP"], SPEC_EPTYPE["OEP TVAR"], SPEC_EPTYPE["AEP"], SPEC_EPTYPE["AEP TVAR"])
    assert ex.EPCALC_FULL_UNCERTAINTY == SPEC_EPCALC_FULL
    assert ex.SAMPLE_TYPE_SAMPLED == SPEC_SAMPLE_TYPE_SAMPLED
    tables = ex.ord_tables(hand_occurrences(), 4, "gross")
    for name, spec in (("plt", ex.PLT_COLUMNS), ("elt", ex.ELT_COLUMNS), ("alt", ex.ALT_COLUMNS),
                       ("alct", ex.ALCT_COLUMNS), ("ept", ex.EPT_COLUMNS), ("annual", ex.ANNUAL_COLUMNS)):
        assert list(tables[name].columns) == [*spec, "Perspective"], name
    assert set(tables["ept"]["EPType"]) == set(SPEC_EPTYPE.values())
    assert set(tables["ept"]["EPCalc"]) == {SPEC_EPCALC_FULL}
    assert dict(ex.FILE_TABLES) == SPEC_FILES and dict(ex.PERSPECTIVE_CODES) == SPEC_PERSPECTIVES
    for name, code in SPEC_FILES.items():
        check_ord_table(tables[name].drop(columns="Perspective"), code)
    assert ex.ord_file_name("gross", "plt") == "il_S1_splt"
    assert ex.ord_file_name("ceded", "alt") == "rl_S1_palt"
    assert ex.ord_file_name("gul", "elt", summary_id=2) == "gul_S2_melt"


# --- a small hand-made run ----------------------------------------------------------------------
# 4 periods, 5 events with loss (occurrence 10 hits two policies: 1 + 2), one event of zero loss:
#   year 0: events 10 (3) and 11 (5)   -> aggregate 8, largest 5
#   year 1: event 12 (0)               -> aggregate 0, largest 0
#   year 2: event 13 (4)               -> aggregate 4, largest 4
#   year 3: events 14 (1) and 15 (2)   -> aggregate 3, largest 2
def hand_occurrences():
    return pd.DataFrame({
        "year": [0, 3, 0, 1, 2, 3, 0],
        "occurrence_id": np.array([10, 15, 11, 12, 13, 14, 10], dtype=np.int64),
        "policy_id": ["a", "b", "b", "a", "c", "a", "b"],
        "loss": [1.0, 2.0, 5.0, 0.0, 4.0, 1.0, 2.0],
    })


def test_period_loss_table_by_hand():
    plt = ex.period_loss_table(hand_occurrences(), 4)
    expected = pd.DataFrame({
        "Period": np.array([1, 1, 3, 4, 4], dtype=np.int32),
        "PeriodWeight": [0.25] * 5,
        # occurrence ids 10, 11, (12), 13, 14, 15 ranked 1..6; 12 has zero loss
        "EventId": np.array([1, 2, 4, 5, 6], dtype=np.int32),
        "SummaryId": np.ones(5, dtype=np.int32),
        "SampleId": np.ones(5, dtype=np.int32),
        "Loss": [3.0, 5.0, 4.0, 1.0, 2.0],
    })
    pd.testing.assert_frame_equal(plt, expected)


def test_event_loss_table_by_hand():
    elt = ex.event_loss_table(hand_occurrences(), 4)
    assert elt["EventId"].tolist() == [1, 2, 4, 5, 6]   # occurrence 12 (rank 3) has zero loss: left out
    assert elt["EventRate"].tolist() == [0.25] * 5           # each event once in 4 periods
    assert elt["MeanLoss"].tolist() == [3.0, 5.0, 4.0, 1.0, 2.0]
    assert elt["SampleType"].tolist() == [2] * 5 and elt["SummaryId"].tolist() == [1] * 5


def test_annual_loss_table_by_hand():
    out = ex.annual_loss_table(hand_occurrences(), 4)
    assert out.annual["Period"].tolist() == [1, 2, 3, 4]
    assert out.annual["Loss"].tolist() == [8.0, 0.0, 4.0, 3.0]   # period 2 has no loss but a row
    assert out.annual["PeriodWeight"].tolist() == [0.25] * 4
    # AAL = 15 / 4; deviations 4.25, -3.75, 0.25, -0.75: sum of squares 32.75 over 3
    sd = math.sqrt(32.75 / 3.0)
    alt = out.alt.iloc[0]
    assert alt["MeanLoss"] == 3.75 and alt["SampleType"] == 2
    assert alt["SDLoss"] == pytest.approx(sd, rel=1e-14)
    alct = out.alct.iloc[0]
    se = sd / 2.0
    z95 = 1.959963984540054
    assert alct["StandardError"] == pytest.approx(se, rel=1e-14)
    assert alct["RelativeError"] == pytest.approx(se / 3.75, rel=1e-14)
    assert alct["LowerCI"] == pytest.approx(3.75 - z95 * se, rel=1e-14)
    assert alct["UpperCI"] == pytest.approx(3.75 + z95 * se, rel=1e-14)
    assert alct["SampleSize"] == 1 and alct["MeanLoss"] == 3.75


def test_exceedance_table_by_hand():
    # OEP sample (sorted) 0, 2, 4, 5; AEP sample 0, 3, 4, 8; n = 4, weight 1/4 each.
    # T = 5:    p = 0.8,   ceil(3.2) = 4th -> OEP 5, AEP 8; TVaR: nothing above, (1 - 0.8) q / 0.2 = q
    # T = 4:    p = 0.75,  3rd -> 4, 4; TVaR OEP (5/4) / 0.25 = 5, AEP (8/4) / 0.25 = 8
    # T = 2:    p = 0.5,   2nd -> 2, 3; TVaR OEP (9/4) / 0.5 = 4.5, AEP (12/4) / 0.5 = 6
    # T = 1.6:  p = 0.375, 2nd -> 2, 3; TVaR OEP (9/4 + (0.5 - 0.375) 2) / 0.625 = 4,
    #                                        AEP (12/4 + 0.125 * 3) / 0.625 = 5.4
    # T = 1.25: p = 0.2,   1st -> 0, 0; TVaR OEP (11/4) / 0.8 = 3.4375, AEP (15/4) / 0.8 = 4.6875
    # T = 1000: p = 0.999, beyond the 4 periods: the largest, 5 and 8, and TVaR the same
    ept = ex.exceedance_table(hand_occurrences(), 4, return_periods=(2, 1.25, 5, 1.6, 4, 1000))
    rps = [1000.0, 5.0, 4.0, 2.0, 1.6, 1.25]
    expected = {
        1: [5, 5, 4, 2, 2, 0],
        2: [5, 5, 5, 4.5, 4.0, 3.4375],
        3: [8, 8, 4, 3, 3, 0],
        4: [8, 8, 8, 6, 5.4, 4.6875],
    }
    assert ept["EPType"].tolist() == [t for t in (1, 2, 3, 4) for _ in rps]
    for ep_type, losses in expected.items():
        part = ept[ept["EPType"] == ep_type]
        assert part["ReturnPeriod"].tolist() == rps
        np.testing.assert_allclose(part["Loss"].to_numpy(), losses, rtol=1e-13, atol=0)
        assert part["Loss"].iloc[0] == losses[0]   # T = 1000: exactly the largest, TVaR too
    assert (ept["EPCalc"] == 2).all() and (ept["SummaryId"] == 1).all()


def test_tvar_counts_an_atom_at_the_quantile_once_partially():
    # annual losses 0, 0, 6, 6, 12: at T = 2.5 (p = 0.6) the quantile is 6 and the top 40% of the
    # mass is one 12 (20%) and half of the two 6s (20%): TVaR = (12 * 0.2 + 6 * 0.2) / 0.4 = 9
    # (the mean of the values >= q would give 8, the mean of those > q 12)
    occ = pd.DataFrame({"year": [2, 3, 4, 4], "occurrence_id": [1, 2, 3, 4], "loss": [6.0, 6.0, 7.0, 5.0]})
    ept = ex.exceedance_table(occ, 5, return_periods=[2.5])
    got = dict(zip(ept["EPType"], ept["Loss"]))
    assert got[3] == pytest.approx(6.0) and got[4] == pytest.approx(9.0, rel=1e-13)
    # OEP sample 0, 0, 6, 6, 7: q = 6, TVaR = (7 * 0.2 + 6 * 0.2) / 0.4 = 6.5
    assert got[1] == pytest.approx(6.0) and got[2] == pytest.approx(6.5, rel=1e-13)


# --- seeded random runs -------------------------------------------------------------------------


def random_occurrences(seed, years=300, rate=1.5, policies=3):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate, size=years)
    year = np.repeat(np.arange(years), counts)
    n = year.size
    occurrence_id = (np.arange(n, dtype=np.int64) << 8) + 7          # sparse, not 0..n-1
    hits = rng.integers(1, policies + 1, size=n)
    rows_year = np.repeat(year, hits)
    rows_id = np.repeat(occurrence_id, hits)
    loss = rng.lognormal(1.0, 1.2, size=rows_id.size)
    loss[rng.random(rows_id.size) < 0.2] = 0.0                    # some rows pay nothing
    loss = np.round(loss, 3)                                        # ties in the samples
    order = rng.permutation(rows_id.size)
    return pd.DataFrame({"year": rows_year[order], "occurrence_id": rows_id[order], "loss": loss[order]})


def brute_quantile(x, T):
    """inf{v : #(X <= v)/n >= 1 - 1/T}, in exact rational arithmetic (T an integer)."""
    n, p = len(x), Fraction(int(T) - 1, int(T))
    return min(v for v in x if Fraction(sum(1 for w in x if w <= v), n) >= p)


def brute_tvar(x, T):
    """1/(1-p) * integral_p^1 Q(u) du of the sample's step quantile function, weights exact."""
    n, p = len(x), Fraction(int(T) - 1, int(T))
    total = Fraction(0)
    for k, v in enumerate(sorted(x), start=1):                  # Q(u) = x_(k) on ((k-1)/n, k/n]
        lo, hi = max(Fraction(k - 1, n), p), Fraction(k, n)
        if hi > lo:
            total += (hi - lo) * Fraction(v)
    return float(total / (1 - p))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exceedance_against_brute_force(seed):
    years = 120
    occ = random_occurrences(seed, years=years)
    rps = (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
    ept = ex.exceedance_table(occ, years, return_periods=rps)
    plt = ex.period_loss_table(occ, years)
    agg = plt.groupby("Period")["Loss"].sum().reindex(range(1, years + 1), fill_value=0.0).to_numpy()
    occ_max = plt.groupby("Period")["Loss"].max().reindex(range(1, years + 1), fill_value=0.0).to_numpy()
    for T in rps:
        row = ept[ept["ReturnPeriod"] == T].set_index("EPType")["Loss"]
        assert row[1] == brute_quantile(list(occ_max), T)
        assert row[3] == pytest.approx(brute_quantile(list(agg), T), rel=1e-12)   # sums: summing order
        assert row[2] == pytest.approx(brute_tvar(list(occ_max), T), rel=1e-12)
        assert row[4] == pytest.approx(brute_tvar(list(agg), T), rel=1e-12)
        # AEP >= OEP, each TVaR >= its VaR
        assert row[3] >= row[1] and row[4] >= row[2]
        assert row[2] >= row[1] and row[4] >= row[3]
    # losses do not fall as the return period grows (TVaR up to rounding); beyond the number of
    # periods every figure is the sample's largest value, exactly
    for ep_type, sample in ((1, occ_max), (2, occ_max), (3, agg), (4, agg)):
        part = ept[ept["EPType"] == ep_type].sort_values("ReturnPeriod")
        losses = part["Loss"].to_numpy()
        assert np.all(np.diff(losses) >= -1e-12 * losses.max())
        beyond = part.loc[part["ReturnPeriod"] > years, "Loss"]
        assert (beyond == part["Loss"].max()).all()
        assert beyond.iloc[0] == pytest.approx(sample.max(), rel=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_tables_agree_with_each_other_and_the_input(seed):
    years = 250
    occ = random_occurrences(seed, years=years)
    tables = ex.ord_tables(occ, years, "net")
    plt, elt, annual = tables["plt"], tables["elt"], tables["annual"]
    # event losses: the input summed by occurrence, zero events dropped
    by_event = occ.groupby("occurrence_id")["loss"].sum()
    by_event.index = np.arange(1, by_event.size + 1)        # EventId: rank of the occurrence id
    by_event = by_event[by_event > 0]
    assert plt["EventId"].sort_values().tolist() == by_event.index.tolist() == elt["EventId"].tolist()
    np.testing.assert_allclose(elt.set_index("EventId")["MeanLoss"], by_event, rtol=1e-12)
    assert (plt["Loss"] > 0).all() and (elt["EventRate"] == 1.0 / years).all()
    # every period in the annual table; per-period totals equal the PLT's; sums equal
    assert annual["Period"].tolist() == list(range(1, years + 1))
    per_period = plt.groupby("Period")["Loss"].sum().reindex(range(1, years + 1), fill_value=0.0)
    np.testing.assert_allclose(annual["Loss"].to_numpy(), per_period.to_numpy(), rtol=1e-12)
    assert annual["Loss"].sum() == pytest.approx(plt["Loss"].sum(), rel=1e-12)
    assert annual["Loss"].sum() == pytest.approx(occ["loss"].sum(), rel=1e-12)
    # AAL is the annual mean, sum of PLT over years
    assert tables["alt"]["MeanLoss"].iloc[0] == pytest.approx(plt["Loss"].sum() / years, rel=1e-12)
    assert tables["alt"]["SDLoss"].iloc[0] == pytest.approx(np.std(annual["Loss"], ddof=1), rel=1e-12)
    # period of each PLT row = year + 1 of its occurrence
    year_of = occ.groupby("occurrence_id")["year"].first()
    year_of.index = np.arange(1, year_of.size + 1)
    assert (plt["Period"].to_numpy() == year_of.loc[plt["EventId"]].to_numpy() + 1).all()
    # ord_tables gives the same tables as the single functions
    pd.testing.assert_frame_equal(plt.drop(columns="Perspective"), ex.period_loss_table(occ, years))
    pd.testing.assert_frame_equal(tables["ept"].drop(columns="Perspective"), ex.exceedance_table(occ, years))
    assert all((t["Perspective"] == "net").all() for t in tables.values())


def test_default_return_periods():
    ept = ex.exceedance_table(hand_occurrences(), 4)
    assert sorted(set(ept["ReturnPeriod"])) == [2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
    assert len(ept) == 4 * 11


def test_no_loss_at_all():
    occ = pd.DataFrame({"year": [0, 2], "occurrence_id": [1, 2], "loss": [0.0, 0.0]})
    tables = ex.ord_tables(occ, 3, "ceded")
    assert len(tables["plt"]) == 0 and len(tables["elt"]) == 0
    assert list(tables["plt"].columns) == [*ex.PLT_COLUMNS, "Perspective"]
    assert tables["annual"]["Loss"].tolist() == [0.0, 0.0, 0.0]
    assert (tables["ept"]["Loss"] == 0.0).all()
    assert tables["alt"]["MeanLoss"].iloc[0] == 0.0 and tables["alt"]["SDLoss"].iloc[0] == 0.0
    assert math.isnan(tables["alct"]["RelativeError"].iloc[0])
    empty = pd.DataFrame({"year": pd.Series([], dtype="int64"), "occurrence_id": pd.Series([], dtype="int64"),
                          "loss": pd.Series([], dtype="float64")})
    assert (ex.exceedance_table(empty, 5)["Loss"] == 0.0).all()


def test_one_period_has_no_standard_deviation():
    occ = pd.DataFrame({"year": [0], "occurrence_id": [1], "loss": [2.0]})
    out = ex.annual_loss_table(occ, 1)
    assert out.alt["MeanLoss"].iloc[0] == 2.0 and math.isnan(out.alt["SDLoss"].iloc[0])
    assert math.isnan(out.alct["StandardError"].iloc[0])


def test_float_columns_holding_whole_numbers_are_accepted():
    occ = hand_occurrences().astype({"year": float, "occurrence_id": float})
    pd.testing.assert_frame_equal(ex.period_loss_table(occ, 4), ex.period_loss_table(hand_occurrences(), 4))


# --- writing ------------------------------------------------------------------------------------


def read_back(stem):
    """A written table from its CSV and its Parquet file, the CSV read with the Parquet's types."""
    parquet = pd.read_parquet(stem.with_name(stem.name + ".parquet"))
    csv = pd.read_csv(stem.with_name(stem.name + ".csv"), dtype=dict(parquet.dtypes))
    return csv, parquet


def test_write_ord_round_trip(tmp_path):
    years = 80
    by_perspective = {
        "gross": ex.ord_tables(random_occurrences(7, years=years), years, "gross"),
        "net": ex.ord_tables(random_occurrences(8, years=years), years, "net"),
    }
    written = ex.write_ord(by_perspective, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in written)
    codes = {"gross": "il", "net": "ri"}
    assert names == sorted(f"{codes[p]}_S1_{SPEC_FILES.get(t, t)}.{ext}" for p in ("gross", "net")
                           for t in ex.TABLE_NAMES for ext in ("csv", "parquet"))
    for perspective, tables in by_perspective.items():
        for name, table in tables.items():
            csv, parquet = read_back(tmp_path / ex.ord_file_name(perspective, name))
            expected = table.drop(columns="Perspective")   # the perspective is in the file name
            # floats to the last bit: pyarrow writes the shortest text that reads back to the same double
            pd.testing.assert_frame_equal(csv, expected, check_exact=True)
            pd.testing.assert_frame_equal(parquet, expected, check_exact=True)
            if name in SPEC_FILES:
                check_ord_table(csv, SPEC_FILES[name])
    # the CSV header is bare, as OasisLMF writes it
    assert (tmp_path / "il_S1_splt.csv").read_text().splitlines()[0] == ",".join(SPEC_SPLT[:3] + SPEC_SPLT[8:11])


def test_written_bytes_are_the_same_on_every_run(tmp_path):
    occ = random_occurrences(9, years=60)
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        ex.write_ord({"gross": ex.ord_tables(occ, 60, "gross")}, tmp_path / run)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_write_ord_files_is_ord_tables_then_write_ord(tmp_path):
    years = 90
    occ = random_occurrences(10, years=years)
    occ["ceded"] = np.round(0.3 * occ["loss"], 2)
    occ["net"] = occ["loss"] - occ["ceded"]
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    fast.mkdir(), slow.mkdir()
    written = ex.write_ord_files(occ, years, fast, {"gross": "loss", "ceded": "ceded", "net": "net"})
    assert sorted(p.name for p in written) == sorted(p.name for p in fast.iterdir())
    assert len(written) == 3 * 5 * 2
    ex.write_ord({p: {k: v for k, v in ex.ord_tables(occ.assign(loss=occ[c]), years, p).items() if k != "annual"}
                  for p, c in (("gross", "loss"), ("ceded", "ceded"), ("net", "net"))}, slow)
    for path in fast.iterdir():
        assert path.read_bytes() == (slow / path.name).read_bytes(), path.name
    # one event keeps its EventId in every perspective
    ids = [set(pd.read_parquet(fast / f"{code}_S1_splt.parquet")["EventId"]) for code in ("il", "rl", "ri")]
    assert ids[1] <= ids[0] and ids[2] <= ids[0]
    only_csv = tmp_path / "csv"
    only_csv.mkdir()
    written = ex.write_ord_files(occ, years, only_csv, {"gul": "loss"}, formats="csv")
    assert sorted(p.name for p in written) == sorted(f"gul_S1_{t}.csv" for t in SPEC_FILES.values())


def test_write_ord_files_refuses(tmp_path):
    occ = hand_occurrences()
    with pytest.raises(InputError, match="no loss column 'nope'"):
        ex.write_ord_files(occ, 4, tmp_path, {"gross": "nope"})
    with pytest.raises(InputError, match="same files"):
        ex.write_ord_files(occ, 4, tmp_path, {"gross": "loss", "il": "loss"})
    with pytest.raises(InputError, match="formats"):
        ex.write_ord_files(occ, 4, tmp_path, {"gross": "loss"}, formats=("xlsx",))
    with pytest.raises(InputError, match="must be finite"):
        ex.write_ord_files(occ.assign(bad=-occ["loss"] - 1), 4, tmp_path, {"gross": "loss", "net": "bad"})
    assert list(tmp_path.iterdir()) == []   # nothing written before every perspective is checked


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), years=st.integers(1, 60), rate=st.floats(0.0, 3.0))
def test_tables_add_up(seed, years, rate):
    """Per period the PLT sums to the annual loss, the ALT's mean is their mean, every loss is positive
    and each EP curve does not fall as the return period grows (TVaR up to rounding)."""
    occ = random_occurrences(seed, years=years, rate=rate)
    tables = ex.ord_tables(occ, years, "gross")
    plt, annual = tables["plt"], tables["annual"]
    per_period = np.bincount(plt["Period"].to_numpy() - 1, weights=plt["Loss"].to_numpy(), minlength=years)
    np.testing.assert_allclose(per_period, annual["Loss"].to_numpy(), rtol=1e-12, atol=0)
    assert tables["alt"]["MeanLoss"].iloc[0] == pytest.approx(annual["Loss"].mean(), rel=1e-12, abs=0)
    assert (plt["Loss"] > 0).all() and not plt.duplicated(["Period", "EventId"]).any()
    ept = tables["ept"]
    for ep_type in (1, 2, 3, 4):
        losses = ept[ept["EPType"] == ep_type].sort_values("ReturnPeriod")["Loss"].to_numpy()
        assert np.all(np.diff(losses) >= -1e-12 * max(losses.max(), 1.0))


def test_write_ord_refuses(tmp_path):
    tables = ex.ord_tables(hand_occurrences(), 4, "gross")
    with pytest.raises(InputError, match="does not exist"):
        ex.write_ord({"gross": tables}, tmp_path / "missing")
    with pytest.raises(InputError, match="Perspective"):
        ex.write_ord({"net": tables}, tmp_path)
    with pytest.raises(InputError, match="perspective"):
        ex.write_ord({"gross_x": tables}, tmp_path)
    with pytest.raises(InputTypeError):
        ex.write_ord({"gross": {"plt": [1, 2]}}, tmp_path)
    with pytest.raises(InputError, match="same perspective"):
        ex.write_ord({"gross": tables, "il": {k: v.drop(columns="Perspective") for k, v in tables.items()}}, tmp_path)
    with pytest.raises(InputError, match="columns Period, PeriodWeight"):
        ex.write_ord({"gross": {"plt": tables["plt"].drop(columns="SampleId")}}, tmp_path)
    assert list(tmp_path.iterdir()) == []   # nothing written before the checks pass


# --- bad input ----------------------------------------------------------------------------------


def bad(**changes):
    occ = hand_occurrences()
    for column, (row, value) in changes.items():
        if column in occ and occ[column].dtype.kind == "i" and not float(value).is_integer():
            occ[column] = occ[column].astype(float)
        occ.loc[row, column] = value
    return occ


@pytest.mark.parametrize("occ, years, pattern", [
    (hand_occurrences().drop(columns="loss"), 4, "no column 'loss'"),
    (hand_occurrences().drop(columns="year"), 4, "no column 'year'"),
    (hand_occurrences().drop(columns="occurrence_id"), 4, "no column 'occurrence_id'"),
    (bad(loss=(2, np.nan)), 4, r"column 'loss' is missing a value at row 3 \(index 2\)"),
    (bad(loss=(4, -1.0)), 4, r"column 'loss' must be finite and >= 0, got -1.0 at row 5"),
    (bad(loss=(1, np.inf)), 4, r"column 'loss' .* got inf at row 2"),
    (bad(year=(5, 4)), 4, r"column 'year' must be in \[0, 4\), got 4 at row 6"),
    (bad(year=(3, -1)), 4, r"column 'year' must be in \[0, 4\), got -1 at row 4"),
    (bad(year=(0, np.nan)), 4, r"column 'year' is missing a value at row 1"),
    (bad(year=(0, 1.5)), 4, r"column 'year' must hold whole numbers, got 1.5 at row 1"),
    (bad(occurrence_id=(6, np.nan)), 4, r"column 'occurrence_id' is missing a value at row 7"),
    (bad(year=(6, 1)), 4, r"occurrence_id 10 is in year 0 and in year 1 at row 7"),
    (hand_occurrences(), 0, "years"),
])
def test_bad_input(occ, years, pattern):
    for call in (ex.period_loss_table, ex.event_loss_table, ex.annual_loss_table, ex.exceedance_table):
        with pytest.raises(InputError, match=pattern):
            call(occ, years)
    with pytest.raises(InputError, match=pattern):
        ex.ord_tables(occ, years, "gross")


def test_bad_input_names_the_first_bad_row_by_label():
    occ = hand_occurrences()
    occ.index = [100, 101, 102, 103, 104, 105, 106]
    occ.loc[[103, 105], "loss"] = -2.0
    with pytest.raises(InputError, match=r"row 4 \(index 103\)"):
        ex.period_loss_table(occ, 4)


def test_bad_types_and_options():
    with pytest.raises(InputTypeError, match="DataFrame"):
        ex.period_loss_table({"year": [0]}, 4)
    with pytest.raises(InputTypeError, match="'loss' must be numeric"):
        ex.period_loss_table(hand_occurrences().astype({"loss": str}), 4)
    with pytest.raises(InputTypeError, match="years"):
        ex.period_loss_table(hand_occurrences(), 4.0)
    with pytest.raises(InputError, match="return_periods"):
        ex.exceedance_table(hand_occurrences(), 4, return_periods=[0.5, 2])
    with pytest.raises(InputError, match="return_periods"):
        ex.exceedance_table(hand_occurrences(), 4, return_periods=[2, 2])
    with pytest.raises(InputError, match="perspective"):
        ex.ord_tables(hand_occurrences(), 4, "gross/../x")
    with pytest.raises(InputTypeError, match="perspective"):
        ex.ord_tables(hand_occurrences(), 4, None)
    with pytest.raises(InputError, match="confidence"):
        ex.annual_loss_table(hand_occurrences(), 4, confidence=1.0)
