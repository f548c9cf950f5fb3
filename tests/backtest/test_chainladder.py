"""Interoperation with chainladder-python: our triangles to ``chainladder.Triangle`` and back, our
chain ladder against chainladder's and the published RAA figures, a chainladder Triangle through the
back-test, and the boundary's errors.

Sources
-------
[CL]   chainladder-python 0.10.1 (casact/chainladder-python), ``cl.load_sample("raa")`` and
       ``cl.Chainladder().fit(tri)``: ``ldf_`` and ``ultimate_``, computed here, an independent
       implementation of the volume-weighted chain ladder.
[RAA]  R package ChainLadder 0.2.21 vignette "ChainLadder: Claims reserving with R", section "Mack
       chain-ladder": ``mack$f`` and ``summary(mack)$ByOrigin`` on the RAA triangle of Mack (1994),
       https://mages.github.io/ChainLadder/articles/ChainLadder.html (the figures
       tests/backtest/test_triangles.py cites).

Skipped when chainladder is not installed (``pip install techins[chainladder]``; ``make test``
installs it). Without it the conversions raise an InputError: tests/backtest/test_triangles.py.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

cl = pytest.importorskip("chainladder", reason="chainladder-python is optional: pip install techins[chainladder]")

from techins.backtest import chainladder_interop as interop  # noqa: E402 - after the skip
from techins.backtest.experience import analyse  # noqa: E402
from techins.backtest.history import history_from_frames  # noqa: E402
from techins.backtest.run import read_config, run_backtest  # noqa: E402
from techins.backtest.triangles import Triangle, chain_ladder  # noqa: E402
from techins.errors import InputError, InputTypeError  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]


def _sample(name: str):
    # chainladder 0.10.1's own loader parses integer years with a format, which pandas 3 deprecates
    # (Pandas4Warning); pytest turns warnings into errors, so that one warning is let through here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsing integer or float values with a format")
        return cl.load_sample(name)


def _raa() -> Triangle:
    frame = pd.read_csv(DATA / "raa_mack.csv")
    frame["lag"] = frame["development"] - frame["origin"] + 1
    return Triangle.from_long(frame, value="values", source="raa_mack")


def _same(a: Triangle, b: Triangle) -> None:
    np.testing.assert_array_equal(a.origins, b.origins)
    np.testing.assert_array_equal(a.lags, b.lags)
    np.testing.assert_array_equal(a.values, b.values)  # NaN where NaN: the same unobserved cells


def _assert_printed(values, published, last_digit):
    off = np.abs(np.asarray(values, dtype=float) - np.asarray(published, dtype=float))
    assert np.all(off <= 0.5 * last_digit * (1 + 1e-9)), (values, published)


# ------------------------------------------------------------------------------------ round trips

def test_raa_round_trip_and_chainladder_s_own_raa():
    ours = _raa()
    tri = ours.to_chainladder()
    assert tri.shape == (1, 1, 10, 10)
    assert (tri.origin_grain, tri.development_grain, tri.is_cumulative) == ("Y", "Y", True)
    assert list(tri.development) == list(range(12, 121, 12))
    assert [p.year for p in tri.origin] == list(range(1981, 1991))
    _same(Triangle.from_chainladder(tri), ours)
    # chainladder's own copy of the RAA data is the same triangle, cell by cell and valued alike
    sample = _sample("raa")
    np.testing.assert_array_equal(tri.values, sample.values)
    assert tri.valuation_date == sample.valuation_date
    _same(Triangle.from_chainladder(sample), ours)


def test_incremental_triangles_are_cumulated_back():
    ours = _raa()
    incr = ours.to_chainladder(cumulative=False)
    assert not incr.is_cumulative
    # 1982: cumulative 106 then 4285, so the second increment is 4179
    assert incr.values[0, 0, 1, :2].tolist() == [106.0, 4179.0]
    _same(interop.from_chainladder(incr), ours)


@st.composite
def staircases(draw):
    """Regular triangles of positive amounts (chainladder keeps a 0 as NaN), any calendar start."""
    n = draw(st.integers(2, 7))
    first = draw(st.integers(1700, 2200))
    steps = draw(st.lists(st.floats(0.01, 1e6, allow_nan=False), min_size=n * n, max_size=n * n))
    values = np.cumsum(np.array(steps).reshape(n, n), axis=1)
    values[np.add.outer(np.arange(n), np.arange(n)) >= n] = np.nan
    return Triangle(np.arange(first, first + n), np.arange(1, n + 1), values)


@settings(deadline=None, max_examples=25)
@given(staircases(), st.booleans())
def test_any_regular_triangle_survives_the_round_trip(tri, cumulative):
    back = Triangle.from_chainladder(tri.to_chainladder(cumulative=cumulative))
    np.testing.assert_array_equal(back.origins, tri.origins)
    np.testing.assert_array_equal(np.isnan(back.values), np.isnan(tri.values))
    # incremental: chainladder's cumulative sums of the increments, equal to rounding
    np.testing.assert_allclose(back.values, tri.values, rtol=0 if cumulative else 1e-12)


def test_many_lines_and_columns():
    raa = _raa()
    half = Triangle(raa.origins, raa.lags, raa.values / 2)
    tri = interop.to_chainladder({"cyber": {"paid": half, "incurred": raa}, "drone": {"incurred": half}})
    assert tri.shape == (2, 2, 10, 10)
    assert list(tri.columns) == ["paid", "incurred"] and tri.key_labels == ["line"]
    incurred = interop.triangles_from_chainladder(tri, column="incurred")
    assert list(incurred) == ["cyber", "drone"]
    _same(incurred["cyber"], raa)
    _same(incurred["drone"], half)
    _same(interop.from_chainladder(tri.loc["cyber"], column="paid"), half)
    # two index levels: labels are tuples
    two = interop.to_chainladder({("A", "cyber"): raa, ("B", "cyber"): half}, index=("company", "line"))
    assert two.key_labels == ["company", "line"]
    _same(interop.triangles_from_chainladder(two)[("B", "cyber")], half)
    # the back-test's table: one row per observed cell, the lines from the index
    table = interop.triangle_table(tri, column="incurred")
    assert list(table.columns) == ["line", "origin", "lag", "value"]
    assert table.groupby("line").size().to_dict() == {"cyber": 55, "drone": 55}


# ------------------------------------------------------------------------- chain ladder, both ways

def test_raa_factors_and_ultimates_equal_chainladder_s_and_the_published_figures():
    sample = _sample("raa")
    theirs = cl.Chainladder().fit(sample)
    ours = chain_ladder(_raa())
    # [CL] ldf_ has one factor per age 12-24 ... 108-120 (and 1.0 beyond the data)
    ldf = theirs.ldf_.values.ravel()
    np.testing.assert_allclose(ours.factors, ldf[:9], rtol=1e-13)
    assert np.all(ldf[9:] == 1.0)
    np.testing.assert_allclose(ours.ultimate, theirs.ultimate_.values.ravel(), rtol=1e-13)
    # our ultimates as chainladder lays out ultimate_: the two compare cell by cell
    mine = ours.to_chainladder()
    assert mine.shape == theirs.ultimate_.shape[:1] + (3,) + theirs.ultimate_.shape[2:]
    assert list(mine.development) == list(theirs.ultimate_.development)
    np.testing.assert_allclose(mine["ultimate"].values, theirs.ultimate_.values, rtol=1e-13)
    # [RAA] mack$f (3 decimals) and the ultimates of summary(mack)$ByOrigin
    _assert_printed(ours.factors, [2.999, 1.624, 1.271, 1.172, 1.113, 1.042, 1.033, 1.017, 1.009], 1e-3)
    _assert_printed(ours.ultimate, [18834, 16858, 24083, 28703, 28927, 19501, 17749, 24019, 16045, 18402], 1)
    _assert_printed(ours.ultimate.sum(), 213_122.23, 0.01)


def test_chain_ladder_takes_a_chainladder_triangle():
    direct = chain_ladder(_sample("raa"), tail=1.05)
    ours = chain_ladder(_raa(), tail=1.05)
    np.testing.assert_array_equal(direct.ultimate, ours.ultimate)
    np.testing.assert_array_equal(direct.mack_se, ours.mack_se)


def _history_frames(triangle: Triangle, line: str):
    """One policy and one claim per origin, the claim at the triangle's latest amount."""
    origins = triangle.origins
    policies = pd.DataFrame({"policy_id": [f"p{o}" for o in origins], "line": line, "period": origins,
                             "exposure": 1.0, "earned_premium": 30_000.0, "expected_loss": 18_000.0})
    claims = pd.DataFrame({"claim_id": [f"c{o}" for o in origins], "policy_id": policies["policy_id"],
                           "accident_period": origins, "paid": 0.0, "incurred": triangle.latest})
    return policies, claims


def test_the_back_test_takes_a_chainladder_triangle():
    policies, claims = _history_frames(_raa(), "casualty")
    sample = _sample("raa")
    # a Triangle whose index rows are the lines, and a mapping from line to Triangle, give the same
    named = interop.to_chainladder({"casualty": _raa()})
    for triangles in (named, {"casualty": sample}):
        e = analyse(history_from_frames(policies, claims, triangles=triangles))
        assert e.periods["ultimate_loss"].sum() == pytest.approx(213_122.23, abs=0.01)
        assert e.development["line"].unique().tolist() == ["casualty"]
    # and back: the development table as chainladder's ultimate_, one index row per line
    ult = e.to_chainladder()
    assert ult.key_labels == ["line"] and list(ult.columns) == ["ultimate", "reserve", "mack_se"]
    np.testing.assert_allclose(ult["ultimate"].values, cl.Chainladder().fit(sample).ultimate_.values, rtol=1e-13)


def test_run_backtest_takes_triangles_instead_of_the_file(tmp_path):
    policies, claims = _history_frames(_raa(), "casualty")
    policies.to_csv(tmp_path / "policies.csv", index=False)
    claims.to_csv(tmp_path / "claims.csv", index=False)
    (tmp_path / "bt.toml").write_text('scope = "raa"\nreport = "report"\n[inputs]\npolicies = "policies.csv"\n'
                                      'claims = "claims.csv"\n')
    config = read_config(tmp_path / "bt.toml")
    plain = run_backtest(config, out=tmp_path / "plain")
    run = run_backtest(config, out=tmp_path / "with", triangles={"casualty": _sample("raa")})
    assert plain.experience.development.empty
    assert run.experience.periods["ultimate_loss"].sum() == pytest.approx(213_122.23, abs=0.01)
    assert run.inputs_hash != plain.inputs_hash  # the triangles are inputs of the run
    again = run_backtest(config, out=tmp_path / "again", triangles=interop.to_chainladder({"casualty": _raa()}))
    assert again.inputs_hash == run.inputs_hash  # the same cells, the same hash
    assert "triangles: triangles given to run_backtest" in (tmp_path / "with" / "report.html").read_text()


# ---------------------------------------------------------------------------------------- errors

def test_one_column_and_one_row_where_one_is_needed():
    raa = _raa()
    tri = interop.to_chainladder({"cyber": {"paid": raa, "incurred": raa}, "drone": {"paid": raa}})
    with pytest.raises(InputError, match=r"has columns \['paid', 'incurred'\]; one is needed: pass column=\.\.\. "
                                         r"or select one, e.g. tri\['paid'\]"):
        interop.triangles_from_chainladder(tri)
    with pytest.raises(InputError, match=r"has 2 index rows \(\['cyber', 'drone'\]\.\.\.\); one is needed: select "
                                         r"it with tri.loc\[\.\.\.\]"):
        Triangle.from_chainladder(tri, column="paid")
    with pytest.raises(InputError, match=r"no column 'premium'; its columns are \['paid', 'incurred'\]"):
        interop.triangles_from_chainladder(tri, column="premium")
    # drone has no incurred at all: named, not read as an empty triangle
    with pytest.raises(InputError, match=r"\(index 'drone'\): the Triangle has no amount here at all"):
        interop.triangles_from_chainladder(tri, column="incurred")
    with pytest.raises(InputError, match=r"index levels \['GRNAME', 'LOB'\]; the back-test needs one, the line: "
                                         r"group it first, e.g. tri.groupby\('LOB'\).sum\(\)"):
        interop.triangle_table(_sample("clrd")["CumPaidLoss"])


def test_nan_at_or_above_the_latest_diagonal():
    raa = _raa()
    hole = raa.values.copy()
    hole[2, 3] = np.nan  # 1983 at 48 months, between observed ones
    frame = pd.DataFrame({"origin": [f"{o}-01-01" for o in raa.origins for _ in raa.lags],
                          "development": [f"{o + k - 1}-12-31" for o in raa.origins for k in raa.lags],
                          "v": hole.ravel()}).dropna()
    tri = cl.Triangle(frame, origin="origin", development="development", columns="v", cumulative=True)
    with pytest.raises(InputError, match=r"origin 1983, development age 48 months \(lag 4\) is NaN but lies at or "
                                         r"above the latest diagonal.*fill the cell or drop the origin"):
        interop.from_chainladder(tri)
    with pytest.raises(InputError, match="origin 1983, development age 48"):
        interop.from_chainladder(tri, nan_as_zero=True)  # a cumulative amount does not fall to 0 and back
    # a 0 first amount: chainladder keeps it as NaN; read back as 0 only when told
    zero = raa.values.copy()
    zero[1, 0] = 0.0
    tri = Triangle(raa.origins, raa.lags, zero).to_chainladder()
    assert np.isnan(tri.values[0, 0, 1, 0])
    with pytest.raises(InputError, match=r"origin 1982, development age 12 months \(lag 1\) is NaN.*chainladder "
                                         r"keeps a 0 amount as NaN: pass nan_as_zero=True"):
        interop.from_chainladder(tri)
    _same(interop.from_chainladder(tri, nan_as_zero=True), Triangle(raa.origins, raa.lags, zero))


def test_grain_and_kind_of_triangle():
    quarterly = _sample("quarterly")["paid"]
    with pytest.raises(InputError, match=r"the grain is OYDQ; techins develops annual triangles: convert it with "
                                         r"tri.grain\('OYDY'\)"):
        interop.from_chainladder(quarterly)
    # annual development valued a quarter into the origin year: ages 3, 15, 27, ... are lags 1, 2, 3, ...
    annual = interop.from_chainladder(quarterly.grain("OYDY"))
    assert annual.values[0, :2].tolist() == quarterly.grain("OYDY").values[0, 0, 0, :2].tolist()
    sample = _sample("raa")
    fit = cl.Chainladder().fit(sample)
    for tri, match in ((sample.dev_to_val(), r"by valuation date; convert it with tri.val_to_dev\(\)"),
                       (fit.ldf_, r"development factors \(a pattern such as ldf_\), not amounts"),
                       (fit.ultimate_, "a projection to ultimate"), (fit.full_triangle_, "a projection to ultimate")):
        with pytest.raises(InputError, match=match):
            interop.from_chainladder(tri)
    with pytest.raises(InputTypeError, match="expected a chainladder.Triangle, got DataFrame"):
        interop.from_chainladder(pd.DataFrame())
    with pytest.raises(InputTypeError, match="expected a chainladder.Triangle or a non-empty mapping"):
        history_from_frames(*_history_frames(_raa(), "casualty"), triangles=[sample])


def test_what_chainladder_cannot_date_or_grain():
    one = Triangle(np.array([3]), np.array([1, 2]), np.array([[1.0, 2.0]]))
    with pytest.raises(InputError, match=r"origins 3\.\.3 must be calendar years with every cell valued in "
                                         r"1678\.\.2260"):
        one.to_chainladder()
    cell = Triangle(np.array([2020]), np.array([1]), np.array([[1.0]]))
    with pytest.raises(InputError, match="every cell is valued at the end of the same year"):
        cell.to_chainladder()
    with pytest.raises(InputTypeError, match=r"index 'cyber', column 'paid' must be a techins Triangle, got str"):
        interop.to_chainladder({"cyber": {"paid": "raa"}})
    with pytest.raises(InputError, match=r"label \('A', 'x'\) has 2 part\(s\) but index names \['line'\]"):
        interop.to_chainladder({("A", "x"): cell})
    with pytest.raises(InputTypeError, match="expected a Triangle or a non-empty mapping"):
        interop.to_chainladder([cell])


def test_docs_example_runs():
    """docs/backtest.md's chainladder block is marked no-run (chainladder is optional there); it runs here."""
    text = (ROOT / "docs" / "backtest.md").read_text(encoding="utf-8")
    start = text.index("<!-- no-run: needs chainladder")
    code = text[text.index("```python\n", start) + len("```python\n"):]
    code = code[:code.index("```")]
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsing integer or float values with a format")
        exec(compile(code, "docs/backtest.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["ours"].ultimate.sum() == pytest.approx(213_122.23, abs=0.01)
