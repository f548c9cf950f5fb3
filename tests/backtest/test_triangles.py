"""Chain ladder and Mack standard errors against published results, a plain-Python twin and invariants.

Sources
-------
[GNI]  R package ChainLadder 0.2.21 (Gesmann et al.), reference page of ``MackChainLadder``, example
       ``GNI <- MackChainLadder(GenIns, est.sigma = "Mack")`` with its printed ``GNI$f``, ``GNI$sigma^2``
       and summary ("compare to table 2 and 3 in Mack's 1993 paper"),
       https://mages.github.io/ChainLadder/reference/MackChainLadder.html (source:
       github.com/mages/ChainLadder, ``reference/MackChainLadder.md``). The figures are those of
       T. Mack (1993), "Distribution-free calculation of the standard error of chain ladder reserve
       estimates", ASTIN Bulletin 23(2), 213-225, Tables 2-3 (total reserve 18,680,856, s.e.
       2,447,095) on the Taylor-Ashe triangle, Mack's Table 1.
[RAA]  R package ChainLadder 0.2.21 vignette "ChainLadder: Claims reserving with R", section "Mack
       chain-ladder": ``mack <- MackChainLadder(RAA, est.sigma = "Mack")``, its summary and
       ``summary(mack)$ByOrigin``; and the "LDF method" exhibit with a 1.05 tail,
       https://mages.github.io/ChainLadder/articles/ChainLadder.html (source: github.com/mages/ChainLadder,
       ``articles/ChainLadder.md``). Data: the RAA triangle of Mack (1994), Insurance: Mathematics and
       Economics 15, 133-138.

Published figures are matched to their printed rounding: within half a unit of the last printed digit.
"""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from techins.backtest import triangles as triangles_module
from techins.backtest.triangles import ChainLadder, Triangle, chain_ladder
from techins.errors import InputError, InputTypeError

DATA = Path(__file__).resolve().parents[1] / "data"


def _load(name: str) -> Triangle:
    frame = pd.read_csv(DATA / f"{name}.csv")
    frame["lag"] = frame["development"] - frame["origin"] + 1
    return Triangle.from_long(frame, value="values", source=name)


def _assert_printed(values, published, last_digit):
    values = np.asarray(values, dtype=float)
    published = np.asarray(published, dtype=float)
    assert values.shape == published.shape
    off = np.abs(values - published)
    assert np.all(off <= 0.5 * last_digit * (1 + 1e-9)), (values, published)


# --------------------------------------------------------------------------------------- published

def test_genins_factors_and_sigmas_match_mack_1993():
    cl = chain_ladder(_load("taylor_ashe_genins"))
    # [GNI] GNI$f and GNI$sigma^2, printed to 7 significant digits
    _assert_printed(cl.factors, [3.490607, 1.747333, 1.457413, 1.173852, 1.103824, 1.086269, 1.053874,
                                 1.076555, 1.017725], 1e-6)
    _assert_printed(cl.sigma2, [160280.3275, 37736.8550, 41965.2130, 15182.9027, 13731.3239, 8185.7716,
                                446.6166, 1147.3660, 446.6166], 1e-4)
    # the last sigma is Mack's extrapolation min(s8^4 / s7^2, s7^2, s8^2), here s7^2
    assert cl.sigma2[-1] == cl.sigma2[-3]


def test_genins_reserves_and_standard_errors_match_mack_1993():
    cl = chain_ladder(_load("taylor_ashe_genins"))
    # [GNI] summary of MackChainLadder(GenIns, est.sigma = "Mack"), by origin 1..10
    _assert_printed(cl.triangle.latest, [3901463, 5339085, 4909315, 4588268, 3873311, 3691712, 3483130,
                                         2864498, 1363294, 344014], 1)
    _assert_printed(cl.ultimate, [3901463, 5433719, 5378826, 5297906, 4858200, 5111171, 5660771, 6784799,
                                  5642266, 4969825], 1)
    _assert_printed(cl.reserve, [0, 94634, 469511, 709638, 984889, 1419459, 2177641, 3920301, 4278972,
                                 4625811], 1)
    _assert_printed(cl.mack_se, [0, 75535, 121699, 133549, 261406, 411010, 558317, 875328, 971258,
                                 1363155], 1)
    _assert_printed(1 / cl.cdf, [1.0000, 0.9826, 0.9127, 0.8661, 0.7973, 0.7223, 0.6153, 0.4222, 0.2416,
                                 0.0692], 1e-4)
    # totals: Latest 34,358,090.00, Ultimate 53,038,945.61, IBNR 18,680,855.61, Mack.S.E 2,447,094.86
    _assert_printed(cl.ultimate.sum(), 53_038_945.61, 0.01)
    _assert_printed(cl.reserve.sum(), 18_680_855.61, 0.01)
    _assert_printed(cl.mack_se_total, 2_447_094.86, 0.01)


def test_raa_matches_mackchainladder():
    cl = chain_ladder(_load("raa_mack"))
    # [RAA] mack$f (3 decimals) and summary(mack)$ByOrigin (1 decimal)
    _assert_printed(cl.factors, [2.999, 1.624, 1.271, 1.172, 1.113, 1.042, 1.033, 1.017, 1.009], 1e-3)
    _assert_printed(cl.ultimate, [18834, 16858, 24083, 28703, 28927, 19501, 17749, 24019, 16045, 18402], 1)
    _assert_printed(cl.reserve, [0.0, 154.0, 617.4, 1636.1, 2746.7, 3649.1, 5435.3, 10907.2, 10650.0,
                                 16339.4], 0.1)
    _assert_printed(cl.mack_se, [0.0, 206.2, 623.4, 747.2, 1469.5, 2001.9, 2209.2, 5357.9, 6333.2,
                                 24566.3], 0.1)
    # Totals: Latest 160,987.00, Ultimate 213,122.23, IBNR 52,135.23, Mack.S.E 26,909.01
    _assert_printed(cl.triangle.latest.sum(), 160_987.00, 0.01)
    _assert_printed(cl.ultimate.sum(), 213_122.23, 0.01)
    _assert_printed(cl.reserve.sum(), 52_135.23, 0.01)
    _assert_printed(cl.mack_se_total, 26_909.01, 0.01)


def test_raa_with_a_tail_matches_the_ldf_exhibit():
    cl = chain_ladder(_load("raa_mack"), tail=1.05)
    # [RAA] "LDF method" with the volume-weighted factors and a 1.05 tail: LDF and EstdUlt by origin
    _assert_printed(cl.cdf, [1.050, 1.060, 1.078, 1.113, 1.160, 1.292, 1.513, 1.923, 3.123, 9.366], 1e-3)
    _assert_printed(cl.ultimate, [19776, 17701, 25288, 30138, 30373, 20476, 18637, 25220, 16847, 19323], 1)
    _assert_printed(cl.ultimate.sum(), 223_778, 1)
    # the tail is taken as known, so it scales the standard errors exactly
    plain = chain_ladder(cl.triangle)
    np.testing.assert_allclose(cl.mack_se, 1.05 * plain.mack_se, rtol=1e-13)
    assert cl.mack_se_total == pytest.approx(1.05 * plain.mack_se_total, rel=1e-13)
    np.testing.assert_allclose(cl.reserve, cl.ultimate - cl.triangle.latest, rtol=1e-13)


def test_table_columns_and_latest():
    t = _load("raa_mack")
    frame = chain_ladder(t).table()
    assert list(frame.columns) == ["origin", "latest", "lag", "cdf", "ultimate", "reserve", "mack_se"]
    assert frame["origin"].tolist() == list(range(1981, 1991))
    assert frame["lag"].tolist() == list(range(10, 0, -1))
    assert t.latest_lag.tolist() == list(range(10, 0, -1))
    assert t.latest[[0, -1]].tolist() == [18834.0, 2063.0]


def test_incremental_input_is_cumulated():
    frame = pd.read_csv(DATA / "raa_mack.csv")
    frame["lag"] = frame["development"] - frame["origin"] + 1
    frame = frame.sort_values(["origin", "lag"])
    frame["values"] = frame.groupby("origin")["values"].diff().fillna(frame["values"])
    assert (frame["values"] < 0).any()  # RAA 1982 has a negative increment (-103 at lag 7)
    t = Triangle.from_long(frame.sample(frac=1.0, random_state=3), value="values", cumulative=False)
    np.testing.assert_array_equal(t.values, _load("raa_mack").values)


# ------------------------------------------------------------------ a plain-Python twin of Mack (1993)

def _mack_by_hand(rows):
    """Mack (1993) for a regular I x I triangle, formula by formula, in plain Python."""
    size = len(rows)
    c = [[float(v) for v in r] for r in rows]
    volume = [sum(c[i][k] for i in range(size - k - 1)) for k in range(size - 1)]
    f = [sum(c[i][k + 1] for i in range(size - k - 1)) / volume[k] for k in range(size - 1)]
    s2 = [sum(c[i][k] * (c[i][k + 1] / c[i][k] - f[k]) ** 2 for i in range(size - k - 1)) / (size - k - 2)
          for k in range(size - 2)]
    # Mack's rule min(s2[-1]^2 / s2[-2], s2[-2], s2[-1]) is 0 when s2[-2] is 0 (the min holds s2[-2])
    s2.append(min(s2[-1] ** 2 / s2[-2], s2[-2], s2[-1]) if s2[-2] > 0 else 0.0)
    for i in range(size):
        for k in range(size - i, size):
            c[i].append(c[i][k - 1] * f[k - 1])
    ult = [c[i][size - 1] for i in range(size)]
    mse = [ult[i] ** 2 * sum(s2[k] / f[k] ** 2 * (1 / c[i][k] + 1 / volume[k])
                             for k in range(size - 1 - i, size - 1))
           for i in range(size)]
    total = sum(mse) + sum(ult[i] * sum(ult[j] for j in range(i + 1, size))
                           * sum(2 * s2[k] / f[k] ** 2 / volume[k] for k in range(size - 1 - i, size - 1))
                           for i in range(size))
    return f, s2, ult, [math.sqrt(m) for m in mse], math.sqrt(total)


def _regular(values: np.ndarray) -> Triangle:
    size = values.shape[0]
    cells = np.where(np.add.outer(np.arange(size), np.arange(size)) < size, values, np.nan)
    return Triangle(np.arange(2000, 2000 + size), np.arange(1, size + 1), cells)


@pytest.mark.parametrize("name", ["taylor_ashe_genins", "raa_mack"])
def test_twin_agrees_on_published_triangles(name):
    t = _load(name)
    rows = [list(r[~np.isnan(r)]) for r in t.values]
    f, s2, ult, se, total = _mack_by_hand(rows)
    cl = chain_ladder(t)
    np.testing.assert_allclose(cl.factors, f, rtol=1e-14)
    np.testing.assert_allclose(cl.sigma2, s2, rtol=1e-12)
    np.testing.assert_allclose(cl.ultimate, ult, rtol=1e-13)
    np.testing.assert_allclose(cl.mack_se, se, rtol=1e-12)
    assert cl.mack_se_total == pytest.approx(total, rel=1e-12)


@st.composite
def _noisy_triangles(draw):
    size = draw(st.integers(4, 9))
    first = draw(st.lists(st.floats(1.0, 1e6), min_size=size, max_size=size))
    growth = draw(st.lists(st.lists(st.floats(1.0, 3.0), min_size=size - 1, max_size=size - 1),
                           min_size=size, max_size=size))
    return np.cumprod(np.column_stack([first, np.asarray(growth)]), axis=1)


@settings(deadline=None, max_examples=60)
@given(_noisy_triangles())
def test_twin_agrees_on_random_triangles(values):
    rows = [list(values[i, :values.shape[0] - i]) for i in range(values.shape[0])]
    f, s2, ult, se, total = _mack_by_hand(rows)
    cl = chain_ladder(_regular(values))
    np.testing.assert_allclose(cl.factors, f, rtol=1e-12)
    np.testing.assert_allclose(cl.ultimate, ult, rtol=1e-12)
    np.testing.assert_allclose(cl.mack_se, se, rtol=1e-9, atol=1e-9 * max(ult))
    assert cl.mack_se_total == pytest.approx(total, rel=1e-9, abs=1e-9 * max(ult))


# --------------------------------------------------------------------------------------- invariants

@st.composite
def _geometric(draw):
    size = draw(st.integers(1, 8))
    base = np.array(draw(st.lists(st.floats(1.0, 1e7), min_size=size, max_size=size)))
    ratios = np.array(draw(st.lists(st.floats(1.0, 4.0), min_size=size - 1, max_size=size - 1)))
    return base[:, None] * np.concatenate([[1.0], np.cumprod(ratios)])[None, :], ratios


@settings(deadline=None, max_examples=80)
@given(_geometric())
def test_exact_geometric_development(case):
    full, ratios = case
    cl = chain_ladder(_regular(full))
    # every origin develops by the same ratios: factors are the ratios, ultimates the last column,
    # and the ratios do not vary, so sigma and Mack's errors vanish
    np.testing.assert_allclose(cl.factors, ratios, rtol=1e-12)
    np.testing.assert_allclose(cl.ultimate, full[:, -1], rtol=1e-12)
    if full.shape[0] >= 4:
        assert np.all(cl.mack_se <= 1e-6 * full[:, -1])
    else:
        # the last age is seen in one origin and Mack's rule needs two earlier sigmas: undefined
        assert np.isnan(cl.mack_se[1:]).all() and cl.mack_se[0] == 0.0
    complete = chain_ladder(Triangle(np.arange(full.shape[0]), np.arange(1, full.shape[1] + 1), full))
    np.testing.assert_array_equal(complete.reserve, 0.0)
    np.testing.assert_array_equal(complete.mack_se, 0.0)
    assert complete.mack_se_total == 0.0


def test_zero_latest_amount_has_zero_reserve_and_error():
    t = Triangle(np.array([1, 2, 3, 4, 5]), np.arange(1, 6), np.array([
        [10.0, 20.0, 25.0, 27.0, 28.0], [12.0, 22.0, 30.0, 31.0, np.nan], [9.0, 19.0, 21.0, np.nan, np.nan],
        [11.0, 25.0, np.nan, np.nan, np.nan], [0.0, np.nan, np.nan, np.nan, np.nan]]))
    cl = chain_ladder(t)
    assert cl.reserve[-1] == 0.0 and cl.mack_se[-1] == 0.0
    assert np.all(cl.mack_se[1:-1] > 0)


def test_growth_from_zero_leaves_mack_undefined_but_projects():
    # 0 -> 20 contradicts Var(C_2 | C_1) = sigma_1^2 C_1: sigma_1 is undefined, only origin 5 needs it
    t = Triangle(np.array([1, 2, 3, 4, 5]), np.arange(1, 6), np.array([
        [0.0, 20.0, 25.0, 27.0, 28.0], [12.0, 22.0, 30.0, 31.0, np.nan], [9.0, 19.0, 21.0, np.nan, np.nan],
        [11.0, 25.0, np.nan, np.nan, np.nan], [8.0, np.nan, np.nan, np.nan, np.nan]]))
    cl = chain_ladder(t)
    assert np.isnan(cl.sigma2[0]) and np.isfinite(cl.sigma2[1:]).all()
    assert np.isfinite(cl.ultimate).all()
    assert np.isnan(cl.mack_se[-1]) and math.isnan(cl.mack_se_total)
    assert np.isfinite(cl.mack_se[:-1]).all()


def test_origins_observed_only_from_a_later_age():
    # a trapezoid: the oldest origins are known from lag 3 on only; they still inform later factors
    values = np.array([[np.nan, np.nan, 30.0, 33.0, 34.0], [np.nan, np.nan, 28.0, 30.0, np.nan],
                       [10.0, 20.0, 26.0, np.nan, np.nan], [12.0, 25.0, np.nan, np.nan, np.nan],
                       [11.0, np.nan, np.nan, np.nan, np.nan]])
    cl = chain_ladder(Triangle(np.arange(5), np.arange(1, 6), values))
    assert cl.factors[0] == pytest.approx((20 + 25) / (10 + 12))
    assert cl.factors[2] == pytest.approx((33 + 30) / (30 + 28))
    assert cl.ultimate[2] == pytest.approx(26.0 * cl.factors[2] * cl.factors[3])


def test_unneeded_ages_may_be_undefined():
    # amounts fall to 0 at lag 2 (factor 0, then 0 / 0) but no origin is still at lag 1 or 2
    values = np.array([[5.0, 0.0, 2.0, 3.0], [3.0, 0.0, 1.0, 2.0], [np.nan, np.nan, 2.0, np.nan]])
    cl = chain_ladder(Triangle(np.arange(3), np.arange(1, 5), values))
    assert cl.factors[0] == 0.0 and np.isnan(cl.factors[1])
    assert cl.ultimate.tolist() == [3.0, 2.0, pytest.approx(2.0 * 5.0 / 3.0)]
    assert np.isfinite(cl.mack_se).all()


# ------------------------------------------------------------------------------------- bad input

def _frame(**changes):
    frame = pd.DataFrame({"origin": [2020, 2020, 2021], "lag": [1, 2, 1], "value": [10.0, 15.0, 12.0]})
    for col, (row, value) in changes.items():
        frame[col] = frame[col].astype(object)
        frame.loc[row, col] = value
    return frame


@pytest.mark.parametrize("frame, error, match", [
    (_frame().drop(columns="lag"), InputError, r"claims\.csv: column 'lag' is missing"),
    (_frame(value=(1, math.nan)), InputError, r"claims\.csv: row 1, column 'value' is missing \(NaN\)"),
    (_frame(value=(2, -5.0)), InputError, r"claims\.csv: row 2, column 'value' must be a cumulative amount >= 0"),
    (_frame(value=(0, "ten")), InputTypeError, r"claims\.csv: row 0, column 'value' must be a number, got 'ten'"),
    (_frame(value=(0, math.inf)), InputError, r"row 0, column 'value' must be finite"),
    (_frame(origin=(1, 2020.5)), InputError, r"row 1, column 'origin' must be an integer, got 2020.5"),
    (_frame(lag=(0, 0)), InputError, r"row 0, column 'lag' must be a development age >= 1"),
    (_frame(lag=(1, 1)), InputError, r"rows 0 and 1 both give origin 2020, lag 1"),
    (_frame(lag=(1, 3)), InputError, r"origin 2020 is observed at lags 1 and 3 but not at lag 2"),
    (_frame().iloc[:0], InputError, r"claims\.csv: the table has no rows"),
    (_frame().assign(origin=[True, True, False]), InputTypeError, r"column 'origin' must be numeric"),
])
def test_from_long_rejects_bad_tables(frame, error, match):
    with pytest.raises(error, match=match):
        Triangle.from_long(frame, source="claims.csv")


def test_from_long_rejects_bad_incremental_data():
    late = pd.DataFrame({"origin": [1, 1, 2], "lag": [2, 3, 1], "value": [5.0, 1.0, 3.0]})
    with pytest.raises(InputError, match="origin 1 has no lag 1"):
        Triangle.from_long(late, cumulative=False)
    negative = pd.DataFrame({"origin": [1, 1], "lag": [1, 2], "value": [5.0, -6.0]})
    with pytest.raises(InputError, match="cumulated amount of origin 1 at lag 2 is negative"):
        Triangle.from_long(negative, cumulative=False)


def test_from_long_rejects_non_frames():
    with pytest.raises(InputTypeError, match="claims: expected a pandas DataFrame, got dict"):
        Triangle.from_long({"origin": [1]}, source="claims")


@pytest.mark.parametrize("origins, lags, values, match", [
    ([1, 1], [1], [[1.0], [2.0]], "origins must be non-empty and strictly increasing"),
    ([1], [2], [[1.0]], r"lags must be 1, 2, \.\.\., n, got \[2\]"),
    ([1], [1, 2], [[1.0]], r"values must have shape \(origins, lags\) = \(1, 2\)"),
    ([1], [1], [[-1.0]], "amount of origin 1 at lag 1 must be finite and >= 0, got -1.0"),
    ([1, 2], [1], [[1.0], [np.nan]], "origin 2 has no observed amount"),
])
def test_triangle_checks_its_arrays(origins, lags, values, match):
    with pytest.raises(InputError, match=match):
        Triangle(np.array(origins), np.array(lags), np.array(values))


def test_triangle_rejects_float_origins_and_is_read_only():
    with pytest.raises(InputTypeError, match="origins must be a 1-D array of integers"):
        Triangle(np.array([1.5]), np.array([1]), np.array([[1.0]]))
    t = Triangle(np.array([1]), np.array([1]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="read-only"):
        t.values[0, 0] = 2.0


def test_chain_ladder_rejects_bad_arguments():
    t = _load("raa_mack")
    with pytest.raises(InputError, match=r"chain_ladder: tail must be in \[1, inf\], got 0.9"):
        chain_ladder(t, tail=0.9)
    with pytest.raises(InputTypeError, match="chain_ladder: triangle must be a Triangle or a chainladder.Triangle, got DataFrame"):
        chain_ladder(pd.DataFrame())
    gap = Triangle(np.array([1, 2]), np.arange(1, 5), np.array([[np.nan, np.nan, 3.0, 4.0],
                                                                [1.0, 2.0, np.nan, np.nan]]))
    with pytest.raises(InputError, match="need developing from lag 2 to 3, but no origin is observed at both"):
        chain_ladder(gap)
    assert isinstance(chain_ladder(t), ChainLadder)


def test_docstring_examples_run():
    assert doctest.testmod(triangles_module, optionflags=doctest.ELLIPSIS).failed == 0


def test_without_chainladder_the_conversions_say_what_to_install(monkeypatch):
    """chainladder is optional: techins imports without it, and converting asks for the extra
    (tests/backtest/test_chainladder.py tests the conversions themselves)."""
    import subprocess
    import sys

    code = "import sys, techins, techins.backtest.chainladder_interop; print('chainladder' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "chainladder", None)  # an import of it now fails, installed or not
    with pytest.raises(InputError, match=r"needs chainladder-python: pip install techins\[chainladder\]"):
        _load("raa_mack").to_chainladder()
    with pytest.raises(InputError, match=r"pip install techins\[chainladder\]"):
        chain_ladder(_load("raa_mack")).to_chainladder()
    # nothing can be a chainladder.Triangle without chainladder: the type error, not an import
    with pytest.raises(InputTypeError, match="must be a Triangle or a chainladder.Triangle, got list"):
        chain_ladder([1.0])
