"""Our development triangles to and from chainladder-python's ``chainladder.Triangle``.

chainladder (casact/chainladder-python, MPL-2.0) is optional: ``pip install techins[chainladder]``. It is
imported inside the conversions only, so techins imports and runs without it; a conversion called
without it raises an InputError saying what to install.

The two layouts: a techins :class:`~techins.backtest.triangles.Triangle` holds one cumulative amount per
integer origin period and development lag ``1..n``; a ``chainladder.Triangle`` is a 4-D array
(index, columns, origin, development) of dated cells. Origins are calendar years here (annual origin
and development grain, ``OYDY``): origin ``o`` at lag ``k`` is chainladder's origin year ``o`` at
development age ``12 k`` months, valued at the end of year ``o + k - 1``.

chainladder keeps a 0 amount as NaN (its sparse layout stores only the non-zero cells). A 0 leaves
the round trip as NaN, so :func:`from_chainladder` treats a NaN at or above the latest diagonal as
an error unless told ``nan_as_zero=True``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from techins.backtest.triangles import Triangle
from techins.errors import InputError, InputTypeError

__all__ = ["is_chainladder_triangle", "to_chainladder", "from_chainladder", "triangles_from_chainladder",
           "triangle_table", "ultimates_to_chainladder"]

_INSTALL = "pip install techins[chainladder]"
# chainladder dates cells as pandas timestamps and values the ultimate at the end of 2261
_FIRST_YEAR, _LAST_YEAR = 1678, 2260
_ULTIMATE_DATE = "2261-12-31"


def is_chainladder_triangle(obj) -> bool:
    """Whether ``obj`` is a ``chainladder.Triangle``, told without importing chainladder.

    Without chainladder installed nothing can be one, so the back-test's entry points ask this
    first and import chainladder only for a Triangle that came from it.
    """
    return any(c.__name__ == "Triangle" and c.__module__.split(".")[0] == "chainladder" for c in type(obj).__mro__)


def _chainladder():
    try:
        import chainladder
    except ImportError:
        raise InputError(f"converting to or from a chainladder.Triangle needs chainladder-python: {_INSTALL}") \
            from None
    return chainladder


# ------------------------------------------------------------------------------------------ to
def to_chainladder(triangles, *, cumulative: bool = True, index="line", column: str = "values"):
    """Our triangle(s) as one ``chainladder.Triangle``.

    Parameters
    ----------
    triangles : Triangle or Mapping
        A :class:`Triangle` (one index row, chainladder's ``Total``, and one column ``column``); or a
        mapping from an index label (a line, say) to a Triangle; or from an index label to a mapping
        from column name (``"paid"``, ``"incurred"``, ``"premium"``...) to a Triangle. Labels are text,
        or tuples of text for several index levels (then ``index`` names each level).
    cumulative : bool
        True: the cells are the cumulative amounts; False: the increments (chainladder's
        ``cum_to_incr()``).
    index : str or sequence of str
        Name(s) of the index level(s) the mapping's labels fill.
    column : str
        The column's name for a Triangle or a mapping from labels to Triangles.

    Returns
    -------
    chainladder.Triangle
        Annual grain (``OYDY``), development ages ``12, 24, ..., 12 n``, valued at the latest cell.
        Unobserved cells and 0 amounts are NaN (chainladder's convention).

    Raises
    ------
    InputError
        chainladder is not installed; a label of the wrong length; origins outside the calendar years
        chainladder can date (1678 to 2260 for the latest cell); all cells valued on one date (one
        origin observed at one lag), from which chainladder cannot infer the grain.
    InputTypeError
        Something other than a Triangle where one is expected.
    """
    cl = _chainladder()
    groups, names = _groups(triangles, index, column)
    columns = list(dict.fromkeys(c for parts in groups.values() for c in parts))  # first-seen order
    # numpy pieces, one DataFrame at the end: a frame per (label, column) costs ~1 ms each
    pieces: dict = {key: [] for key in (*names, "origin", "valued", "column", "value")}
    for label, named in groups.items():
        for name, tri in named.items():
            _check_years(tri, f"to_chainladder: {_where(label, name)}")
            i, k = np.nonzero(~np.isnan(tri.values))
            for level, text in zip(names, label):
                pieces[level].append(np.full(i.size, text, dtype=object))
            pieces["origin"].append(tri.origins[i])
            pieces["valued"].append(tri.origins[i] + tri.lags[k] - 1)
            pieces["column"].append(np.full(i.size, name, dtype=object))
            pieces["value"].append(tri.values[i, k])
    long = pd.DataFrame({key: np.concatenate(arrays) for key, arrays in pieces.items()})
    if long["valued"].nunique() < 2:
        raise InputError("to_chainladder: every cell is valued at the end of the same year, from which chainladder "
                         "cannot infer an annual development grain; give at least two origins or two lags")
    # one row per (index labels, origin, valuation), one column per value column (NaN where a column lacks the cell)
    frame = long.set_index([*names, "origin", "valued", "column"])["value"].unstack("column")[columns].reset_index()
    frame.columns.name = None
    frame["origin"] = frame["origin"].map("{}-01-01".format)
    frame["development"] = frame.pop("valued").map("{}-12-31".format)
    out = cl.Triangle(frame, origin="origin", development="development", columns=columns,
                      index=names or None, cumulative=True)
    return out if cumulative else out.cum_to_incr()


def ultimates_to_chainladder(table: pd.DataFrame, *, index: str | None = "line",
                             columns=("ultimate", "reserve", "mack_se")):
    """A development table's ultimates as a ``chainladder.Triangle`` laid out as chainladder's ``ultimate_``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (index label, origin): :meth:`ChainLadder.table` or the back-test's
        ``development`` table (with its ``line``).
    index : str or None
        The column of the index labels; None for a table of one triangle.
    columns : sequence of str
        The columns to carry.

    Returns
    -------
    chainladder.Triangle
        Origins by one development column valued at the end of 2261, as
        ``chainladder.Chainladder().fit(tri).ultimate_``: the two compare cell by cell.
    """
    cl = _chainladder()
    wanted = [index] if index is not None else []
    missing = [c for c in [*wanted, "origin", *columns] if c not in table.columns]
    if missing:
        raise InputError(f"ultimates_to_chainladder: the table lacks column {missing[0]!r} (it has "
                         f"{list(table.columns)})")
    if len(table) == 0:
        raise InputError("ultimates_to_chainladder: the table has no rows (no line has a triangle)")
    frame = table[[*wanted, *columns]].copy()
    frame["origin"] = [f"{int(o)}-01-01" for o in table["origin"]]
    frame["development"] = _ULTIMATE_DATE
    return cl.Triangle(frame, origin="origin", development="development", columns=list(columns),
                       index=wanted or None, cumulative=True)


def _groups(triangles, index, column) -> tuple[dict, list]:
    """``{label tuple: {column: Triangle}}`` and the index level names (none for a lone Triangle)."""
    if isinstance(triangles, Triangle):
        return {(): {column: triangles}}, []
    if not isinstance(triangles, Mapping) or not triangles:
        raise InputTypeError(f"to_chainladder: expected a Triangle or a non-empty mapping of labels to Triangles, "
                             f"got {type(triangles).__name__}")
    names = [index] if isinstance(index, str) else list(index)
    groups = {}
    for label, parts in triangles.items():
        key = label if isinstance(label, tuple) else (label,)
        if len(key) != len(names):
            raise InputError(f"to_chainladder: label {label!r} has {len(key)} part(s) but index names {names}")
        parts = {column: parts} if isinstance(parts, Triangle) else parts
        if not isinstance(parts, Mapping) or not parts:
            raise InputTypeError(f"to_chainladder: label {label!r} must map to a Triangle or to a non-empty mapping "
                                 f"of column names to Triangles, got {type(parts).__name__}")
        for name, tri in parts.items():
            if not isinstance(tri, Triangle):
                raise InputTypeError(f"to_chainladder: {_where(key, name)} must be a techins Triangle, got "
                                     f"{type(tri).__name__}")
        groups[tuple(str(k) for k in key)] = {str(n): t for n, t in parts.items()}
    return groups, names


def _check_years(tri: Triangle, where: str) -> None:
    latest = int((tri.origins + tri.latest_lag - 1).max())  # the year the latest cell is valued in
    if tri.origins[0] < _FIRST_YEAR or latest > _LAST_YEAR:
        raise InputError(f"{where}: origins {int(tri.origins[0])}..{int(tri.origins[-1])} must be calendar years "
                         f"with every cell valued in {_FIRST_YEAR}..{_LAST_YEAR} to be dated by chainladder; "
                         f"number the periods by their year")


def _where(label: tuple, name: str) -> str:
    return f"index {label[0] if len(label) == 1 else label!r}, column {name!r}" if label else f"column {name!r}"


# ---------------------------------------------------------------------------------------- from
def from_chainladder(tri, *, column: str | None = None, nan_as_zero: bool = False,
                     source: str = "chainladder.Triangle") -> Triangle:
    """A ``chainladder.Triangle`` of one index row as our :class:`Triangle`.

    Parameters
    ----------
    tri : chainladder.Triangle
        Annual origins and development (``tri.grain("OYDY")`` makes it so), one index row (select one
        with ``tri.loc[...]``, or use :func:`triangles_from_chainladder`); cumulative or incremental
        (cumulated here).
    column : str, optional
        The column to take; needed when the Triangle has several (``paid``, ``incurred``...).
    nan_as_zero : bool
        chainladder keeps a 0 amount as NaN. False (the default): a NaN at or above the latest
        diagonal is an error. True: a NaN before an origin's first amount (or in an origin with no
        amount at all) is read as 0; a NaN after one is still an error (a cumulative amount does not
        fall to 0).
    source : str
        Name of the data in error messages.

    Returns
    -------
    Triangle
        Origins the origin years; lag ``k`` the ``k``-th age (ages ``12 k``, or ``3, 15, 27, ...`` for a
        triangle first valued a quarter into its origin years).

    Raises
    ------
    InputTypeError
        ``tri`` is not a chainladder.Triangle.
    InputError
        Several index rows or columns where one is needed; non-annual grain; a valuation triangle,
        a pattern (``ldf_``) or a projection to ultimate; development ages not a year apart; a NaN
        at or above the latest diagonal (above); a negative cumulative amount.
    """
    return next(iter(_convert(tri, column, nan_as_zero, source, one_row=True).values()))


def triangles_from_chainladder(tri, *, column: str | None = None, nan_as_zero: bool = False,
                               source: str = "chainladder.Triangle") -> dict:
    """Each index row of a ``chainladder.Triangle`` as our :class:`Triangle`, keyed by its label.

    The label is the text of the row's index (a tuple of texts when the Triangle has several index
    levels). Parameters, checks and errors are those of :func:`from_chainladder`.
    """
    return _convert(tri, column, nan_as_zero, source, one_row=False)


def _convert(tri, column, nan_as_zero: bool, source: str, *, one_row: bool) -> dict:
    if not is_chainladder_triangle(tri):
        raise InputTypeError(f"{source}: expected a chainladder.Triangle, got {type(tri).__name__}")
    _check_layout(tri, source)
    if one_row and tri.shape[0] != 1:
        raise InputError(f"{source}: the Triangle has {tri.shape[0]} index rows ({_labels(tri)[:3]}...); one is "
                         f"needed: select it with tri.loc[...], sum them with tri.sum(), or use "
                         f"triangles_from_chainladder")
    columns = [str(c) for c in tri.columns]
    if column is None:
        if len(columns) != 1:
            raise InputError(f"{source}: the Triangle has columns {columns}; one is needed: pass column=... or "
                             f"select one, e.g. tri[{columns[0]!r}]")
        column = columns[0]
    elif column not in columns:
        raise InputError(f"{source}: the Triangle has no column {column!r}; its columns are {columns}")
    tri = tri[column]
    if not tri.is_cumulative:
        tri = tri.incr_to_cum()
    values = np.asarray(tri.set_backend("numpy").values, dtype=np.float64)[:, 0]
    origins = np.array([p.year for p in tri.origin], dtype=np.int64)
    ages = np.array([int(a) for a in tri.development], dtype=np.int64)
    first = (ages[0] - 1) % 12 + 1  # 12 for the usual ages 12, 24, ...; 3 for 3, 15, 27 (a quarter in)
    lags = (ages - first) // 12 + 1
    cells = np.full((values.shape[0], origins.size, int(lags.max())), np.nan)
    cells[:, :, lags - 1] = values
    lag_grid = np.arange(1, cells.shape[2] + 1)
    # a cell is "known" when valued by the triangle's valuation date: at or above the latest diagonal
    start = np.array([p.start_time.year * 12 + p.start_time.month - 1 for p in tri.origin], dtype=np.int64)
    valued = start[:, None] + first + 12 * (lag_grid[None, :] - 1)  # in months since year 0
    known = valued <= tri.valuation_date.year * 12 + tri.valuation_date.month
    out = {}
    for row, label in enumerate(_labels(tri)):
        where = source if one_row else f"{source} (index {label!r})"
        out[label] = _triangle(origins, lag_grid, first + 12 * (lag_grid - 1), cells[row], known, nan_as_zero,
                               where)
    return out


def _check_layout(tri, source: str) -> None:
    if getattr(tri, "is_pattern", False):
        raise InputError(f"{source}: the Triangle holds development factors (a pattern such as ldf_), not amounts")
    # chainladder marks a projection is_ultimate, or full with the ultimate age 9999 (a valuation triangle
    # is "full" too, so is_full alone does not tell)
    if getattr(tri, "is_ultimate", False) or (getattr(tri, "is_full", False) and 9999 in list(tri.development)):
        raise InputError(f"{source}: the Triangle is a projection to ultimate (such as ultimate_ or full_triangle_), "
                         f"not a triangle of data; give the data it was fitted to")
    if tri.is_val_tri:
        raise InputError(f"{source}: the Triangle is by valuation date; convert it with tri.val_to_dev()")
    if tri.origin_grain != "Y" or tri.development_grain != "Y":
        raise InputError(f"{source}: the grain is O{tri.origin_grain}D{tri.development_grain}; techins develops "
                         f"annual triangles: convert it with tri.grain('OYDY')")
    ages = list(tri.development)
    bad = [a for a in ages if not isinstance(a, (int, np.integer)) or a <= 0 or (a - ages[0]) % 12]
    if bad:
        raise InputError(f"{source}: development ages must be months a year apart (12, 24, ...), got {bad[0]!r} "
                         f"among {[str(a) for a in ages][:4]}...")


def _labels(tri) -> list:
    frame = tri.index
    if frame.shape[1] == 1:
        return [str(v) for v in frame.iloc[:, 0]]
    return [tuple(str(v) for v in row) for row in frame.itertuples(index=False)]


def _triangle(origins, lags, ages, values, known, nan_as_zero: bool, where: str) -> Triangle:
    observed = ~np.isnan(values)
    if not observed.any() and not nan_as_zero:
        raise InputError(f"{where}: the Triangle has no amount here at all (an index row without this column?); "
                         f"drop the row, or pass nan_as_zero=True if its amounts are all 0")
    seen = np.maximum.accumulate(observed, axis=1)  # an amount at this lag or before it
    gap = known & ~observed
    leading = gap & ~seen
    if nan_as_zero:
        values = np.where(leading, 0.0, values)
        gap = gap & seen
    if gap.any():
        i, k = np.argwhere(gap)[0]
        at = f"origin {int(origins[i])}, development age {int(ages[k])} months (lag {int(lags[k])})"
        if seen[i, k]:
            fix = "fill the cell or drop the origin"
        else:
            fix = ("chainladder keeps a 0 amount as NaN: pass nan_as_zero=True if the amount is 0 there; else "
                   "fill the cell or drop the origin")
        raise InputError(f"{where}: {at} is NaN but lies at or above the latest diagonal, where every cell needs "
                         f"an amount; {fix}")
    try:
        return Triangle(origins.copy(), lags.copy(), values)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


# -------------------------------------------------------------------------------- history table
def triangle_table(triangles, *, column: str | None = None, nan_as_zero: bool = False,
                   source: str = "chainladder.Triangle") -> pd.DataFrame:
    """The back-test's triangles table (``line, origin, lag, value``) from chainladder Triangles.

    Parameters
    ----------
    triangles : chainladder.Triangle or Mapping
        A Triangle whose index rows are the lines (one index level: its labels are the line names;
        a Triangle of one row keeps chainladder's label, ``Total`` unless named); or a mapping from
        line name to a chainladder.Triangle of one index row or to a techins :class:`Triangle`.
    column, nan_as_zero, source
        As for :func:`from_chainladder`.

    Returns
    -------
    pandas.DataFrame
        One row per observed cell, for ``history_from_frames(triangles=...)``.
    """
    if is_chainladder_triangle(triangles):
        if triangles.index.shape[1] != 1:
            raise InputError(f"{source}: the Triangle has index levels {list(triangles.key_labels)}; the back-test "
                             f"needs one, the line: group it first, e.g. tri.groupby({triangles.key_labels[-1]!r})"
                             f".sum()")
        parts = triangles_from_chainladder(triangles, column=column, nan_as_zero=nan_as_zero, source=source)
    elif isinstance(triangles, Mapping) and triangles:
        parts = {}
        for line, tri in triangles.items():
            where = f"{source} (line {line!r})"
            parts[str(line)] = tri if isinstance(tri, Triangle) else \
                from_chainladder(tri, column=column, nan_as_zero=nan_as_zero, source=where)
    else:
        raise InputTypeError(f"{source}: expected a chainladder.Triangle or a non-empty mapping of lines to "
                             f"Triangles, got {type(triangles).__name__}")
    frames = []
    for line, tri in parts.items():
        i, k = np.nonzero(~np.isnan(tri.values))
        frames.append(pd.DataFrame({"line": line, "origin": tri.origins[i], "lag": tri.lags[k],
                                    "value": tri.values[i, k]}))
    return pd.concat(frames, ignore_index=True)
