"""Chain-ladder development of a claims triangle to ultimate, with Mack's standard errors.

A triangle holds CUMULATIVE amounts ``C[i, k]`` of origin period ``i`` (accident or underwriting year)
at development age ``k = 1..n``; NaN marks a cell not yet observed. Each origin's observed ages form one
unbroken run; its last observed cell is its latest diagonal.

Notation follows Mack (1993), "Distribution-free calculation of the standard error of chain ladder
reserve estimates", ASTIN Bulletin 23(2), 213-225: ``f_k`` the age-to-age factor from age ``k`` to
``k + 1``, ``sigma_k^2`` its variance parameter, ``C_hat[i, n]`` the projected amount at the last age.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.errors import InputError, InputTypeError

__all__ = ["Triangle", "ChainLadder", "chain_ladder"]


@dataclass(frozen=True, eq=False)
class Triangle:
    """Cumulative amounts by origin period and development age.

    Attributes
    ----------
    origins : numpy.ndarray of int, shape (m,)
        Origin periods, strictly increasing.
    lags : numpy.ndarray of int, shape (n,)
        Development ages ``1, 2, ..., n``.
    values : numpy.ndarray of float, shape (m, n)
        Cumulative amounts ``>= 0``; NaN where not yet observed. Every origin has at least one observed
        age and no unobserved age between two observed ones.

    Arrays are stored read-only.
    """

    origins: np.ndarray
    lags: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        origins = _int_array("Triangle", "origins", self.origins)
        lags = _int_array("Triangle", "lags", self.lags)
        if origins.size == 0 or np.any(np.diff(origins) <= 0):
            raise InputError(f"Triangle: origins must be non-empty and strictly increasing, "
                             f"got {origins.tolist()}")
        if lags.size == 0 or not np.array_equal(lags, np.arange(1, lags.size + 1)):
            raise InputError(f"Triangle: lags must be 1, 2, ..., n, got {lags.tolist()}")
        try:
            values = np.array(self.values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"Triangle: values must be an array of real numbers ({exc})") from None
        if values.shape != (origins.size, lags.size):
            raise InputError(f"Triangle: values must have shape (origins, lags) = {(origins.size, lags.size)}, "
                             f"got {values.shape}")
        _check_cells("Triangle", origins, lags, values)
        for name, arr in (("origins", origins), ("lags", lags), ("values", values)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def from_long(cls, frame, origin: str = "origin", lag: str = "lag", value: str = "value", *,
                  cumulative: bool = True, source: str = "triangle") -> Triangle:
        """Build a triangle from a long table with one row per (origin, lag) cell.

        Parameters
        ----------
        frame : pandas.DataFrame
            The table; other columns are ignored.
        origin, lag, value : str
            Column names of the origin period (integer), the development age (integer ``>= 1``) and
            the amount.
        cumulative : bool
            True when the amounts are cumulative; False when they are incremental (paid in the
            period), in which case they are summed along the ages of each origin. Incremental
            amounts may be negative (recoveries) as long as the cumulated amounts are not; every
            origin must then start at lag 1, the first increment.
        source : str
            Name of the data used in error messages (a file name, say).

        Returns
        -------
        Triangle

        Raises
        ------
        InputTypeError
            ``frame`` is not a DataFrame, or a cell is not a number.
        InputError
            A missing column; an empty table; a NaN, infinite or negative amount, a non-integer origin
            or lag, or a lag below 1 (the message names the row by its index label); a duplicate
            (origin, lag); an origin with a gap in its ages.

        Examples
        --------
        >>> frame = pd.DataFrame({"origin": [2020, 2020, 2021], "lag": [1, 2, 1], "value": [10.0, 15.0, 12.0]})
        >>> Triangle.from_long(frame).latest.tolist()
        [15.0, 12.0]
        """
        if not isinstance(frame, pd.DataFrame):
            raise InputTypeError(f"{source}: expected a pandas DataFrame, got {type(frame).__name__}")
        for col in (origin, lag, value):
            if col not in frame.columns:
                raise InputError(f"{source}: column {col!r} is missing (columns: {list(frame.columns)})")
        if len(frame) == 0:
            raise InputError(f"{source}: the table has no rows")
        org = _numeric_column(frame, origin, source, integer=True)
        age = _numeric_column(frame, lag, source, integer=True)
        amount = _numeric_column(frame, value, source, integer=False)
        _first_bad(frame, age < 1, source, lag, "must be a development age >= 1", age)
        if cumulative:
            _first_bad(frame, amount < 0, source, value, "must be a cumulative amount >= 0", amount)
        dup = pd.DataFrame({"o": org, "a": age}).duplicated(keep=False).to_numpy()
        if dup.any():
            i = int(np.argmax(dup))
            j = i + 1 + int(np.argmax((org[i + 1:] == org[i]) & (age[i + 1:] == age[i])))
            raise InputError(f"{source}: rows {frame.index[i]!r} and {frame.index[j]!r} both give {origin} "
                             f"{int(org[i])}, {lag} {int(age[i])}")
        origins = np.unique(org).astype(np.int64)
        values = np.full((origins.size, int(age.max())), np.nan)
        values[np.searchsorted(origins, org), age.astype(np.int64) - 1] = amount
        if not cumulative:
            observed = ~np.isnan(values)
            late = ~observed[:, 0]
            if late.any():
                raise InputError(f"{source}: {origin} {origins[np.argmax(late)]} has no {lag} 1, so its "
                                 f"incremental amounts cannot be cumulated")
            cum = np.cumsum(np.where(observed, values, 0.0), axis=1)
            below = observed & (cum < 0)
            if below.any():
                i, k = np.argwhere(below)[0]
                raise InputError(f"{source}: the cumulated amount of {origin} {origins[i]} at {lag} {k + 1} "
                                 f"is negative ({float(cum[i, k])!r})")
            values = np.where(observed, cum, np.nan)
        lags = np.arange(1, values.shape[1] + 1)
        _check_cells(source, origins, lags, values)
        return cls(origins, lags, values)

    @classmethod
    def from_chainladder(cls, tri, *, column: str | None = None, nan_as_zero: bool = False) -> Triangle:
        """A ``chainladder.Triangle`` of one index row and one column (or ``column=``) as ours.

        See :func:`techins.backtest.chainladder_interop.from_chainladder` for the checks (annual
        grain, no NaN at or above the latest diagonal unless ``nan_as_zero``) and the errors.
        """
        # imported here: the interop module builds on this one (and chainladder is optional)
        from techins.backtest.chainladder_interop import from_chainladder

        return from_chainladder(tri, column=column, nan_as_zero=nan_as_zero)

    def to_chainladder(self, *, cumulative: bool = True, column: str = "values"):
        """This triangle as a ``chainladder.Triangle`` (needs ``pip install techins[chainladder]``).

        Origins become origin years, lag ``k`` the development age ``12 k``; ``cumulative=False``
        gives the increments. chainladder keeps a 0 amount as NaN. See
        :func:`techins.backtest.chainladder_interop.to_chainladder`.
        """
        from techins.backtest.chainladder_interop import to_chainladder

        return to_chainladder(self, cumulative=cumulative, column=column)

    @property
    def latest_lag(self) -> np.ndarray:
        """Development age of each origin's latest observed amount."""
        return self.lags[_first_last(~np.isnan(self.values))[1]]

    @property
    def latest(self) -> np.ndarray:
        """Latest diagonal: each origin's last observed cumulative amount."""
        last = _first_last(~np.isnan(self.values))[1]
        return self.values[np.arange(self.origins.size), last]


@dataclass(frozen=True, eq=False)
class ChainLadder:
    """Chain-ladder projection of a triangle with Mack's standard errors.

    Attributes
    ----------
    triangle : Triangle
        The data.
    factors : numpy.ndarray, shape (n - 1,)
        Volume-weighted age-to-age factors; ``factors[k - 1]`` develops age ``k`` to ``k + 1``. NaN
        for an age no origin observes together with the next one and no origin needs.
    sigma2 : numpy.ndarray, shape (n - 1,)
        Mack's variance parameters ``sigma_k^2`` (NaN where they cannot be estimated).
    tail : float
        Factor from age ``n`` to ultimate, taken as known.
    cdf : numpy.ndarray, shape (m,)
        Factor from each origin's latest age to ultimate (including the tail).
    ultimate : numpy.ndarray, shape (m,)
        ``latest * cdf``.
    reserve : numpy.ndarray, shape (m,)
        ``ultimate - latest``.
    mack_se : numpy.ndarray, shape (m,)
        Mack's standard error of each origin's reserve (square root of process plus parameter mse).
    mack_se_total : float
        Standard error of the total reserve, including the covariance of the shared factors.
    """

    triangle: Triangle
    factors: np.ndarray
    sigma2: np.ndarray
    tail: float
    cdf: np.ndarray
    ultimate: np.ndarray
    reserve: np.ndarray
    mack_se: np.ndarray
    mack_se_total: float

    def __post_init__(self):
        for name in ("factors", "sigma2", "cdf", "ultimate", "reserve", "mack_se"):
            getattr(self, name).setflags(write=False)

    def to_chainladder(self, columns=("ultimate", "reserve", "mack_se")):
        """The ultimates as a ``chainladder.Triangle`` laid out as chainladder's ``ultimate_``.

        One development column valued at chainladder's ultimate date, so that ``ours.to_chainladder()
        ["ultimate"]`` and ``chainladder.Chainladder().fit(tri).ultimate_`` compare cell by cell.
        ``columns``: any of the :meth:`table` columns. chainladder keeps a 0 (the reserve of a
        developed origin) as NaN.
        """
        from techins.backtest.chainladder_interop import ultimates_to_chainladder

        return ultimates_to_chainladder(self.table(), index=None, columns=columns)

    def table(self) -> pd.DataFrame:
        """One row per origin: origin, latest, lag, cdf, ultimate, reserve, mack_se."""
        t = self.triangle
        return pd.DataFrame({"origin": t.origins, "latest": t.latest, "lag": t.latest_lag, "cdf": self.cdf,
                             "ultimate": self.ultimate, "reserve": self.reserve, "mack_se": self.mack_se})


def chain_ladder(triangle: Triangle, tail: float = 1.0) -> ChainLadder:
    r"""Develop each origin to ultimate with volume-weighted factors; Mack (1993) standard errors.

    Factors, over the origins ``i`` observed at both ages ``k`` and ``k + 1``:

    .. math:: f_k = \sum_i C_{i,k+1} \Big/ \sum_i C_{i,k} = \sum_i C_{i,k+1} / S_k

    Variance parameters (Mack 1993), with ``n_k`` such origins:

    .. math:: \hat\sigma_k^2 = \frac{1}{n_k - 1} \sum_i C_{i,k} \Big(\frac{C_{i,k+1}}{C_{i,k}} - f_k\Big)^2

    and, where ``n_k = 1`` (the last age of a regular triangle), Mack's extrapolation
    ``sigma_k^2 = min(sigma_{k-1}^4 / sigma_{k-2}^2, sigma_{k-2}^2, sigma_{k-1}^2)``. A cell growing
    from 0 contradicts Mack's ``Var(C_{k+1} | C_k) = sigma_k^2 C_k``; its age gets ``sigma_k^2 = NaN``.

    Mean squared error of origin ``i`` with latest age ``a_i`` (Mack 1993, Theorem 3), written with
    ``C_hat[i,n]^2 / C_hat[i,k] = C_hat[i,n] F_k``, ``F_k = f_k ... f_{n-1}``, so a zero latest amount
    gives 0 rather than 0/0:

    .. math:: \mathrm{mse}(R_i) = \hat C_{i,n} \sum_{k \ge a_i} \frac{\sigma_k^2}{f_k^2} F_k
              + \hat C_{i,n}^2 \sum_{k \ge a_i} \frac{\sigma_k^2}{f_k^2 S_k}

    and of the total reserve (Mack 1993, Corollary to Theorem 3: the covariance term
    ``2 C_hat[i,n] C_hat[j,n] sum_k sigma_k^2 / (f_k^2 S_k)`` for each pair, over the ages both
    origins still need):

    .. math:: \mathrm{mse}(R) = \sum_i \mathrm{process}_i
              + \sum_k \frac{\sigma_k^2}{f_k^2 S_k} \Big(\sum_{i: a_i \le k} \hat C_{i,n}\Big)^2

    The tail multiplies every ultimate and, taken as known (no tail variance as in Mack 1999), every
    standard error.

    Parameters
    ----------
    triangle : Triangle or chainladder.Triangle
        Cumulative amounts; a ``chainladder.Triangle`` of one index row and one column is converted
        by :meth:`Triangle.from_chainladder` (its checks and errors).
    tail : float
        Development factor beyond the last age, ``>= 1``.

    Returns
    -------
    ChainLadder
        ``mack_se`` is NaN for an origin whose projection needs an age with ``sigma_k^2 = NaN``.

    Raises
    ------
    InputTypeError
        ``triangle`` is neither a Triangle nor a chainladder.Triangle.
    InputError
        ``tail`` below 1 or not finite; an age some origin must be developed through that no origin
        observes together with the next, or whose amounts sum to 0, or whose factor is 0.

    Examples
    --------
    >>> t = Triangle(np.array([1, 2]), np.array([1, 2]), np.array([[100.0, 150.0], [80.0, np.nan]]))
    >>> chain_ladder(t).ultimate.tolist()
    [150.0, 120.0]
    """
    if not isinstance(triangle, Triangle):
        from techins.backtest.chainladder_interop import is_chainladder_triangle

        if not is_chainladder_triangle(triangle):
            raise InputTypeError(f"chain_ladder: triangle must be a Triangle or a chainladder.Triangle, got "
                                 f"{type(triangle).__name__}")
        triangle = Triangle.from_chainladder(triangle)
    tail = validate.real("chain_ladder", "tail", tail, low=1.0)
    c = triangle.values
    observed = ~np.isnan(c)
    latest_age = _first_last(observed)[1]  # 0-based column of each origin's latest amount
    n_ages = c.shape[1] - 1
    needs = np.arange(n_ages)[None, :] >= latest_age[:, None]  # origin i is developed from column k

    both = observed[:, :-1] & observed[:, 1:]
    now = np.where(both, c[:, :-1], 0.0)
    nxt = np.where(both, c[:, 1:], 0.0)
    counts = both.sum(axis=0)
    volume = now.sum(axis=0)
    factors = np.full(n_ages, np.nan)
    np.divide(nxt.sum(axis=0), volume, out=factors, where=volume > 0)
    for k in np.flatnonzero(needs.any(axis=0) & ~(factors > 0)):
        why = ("no origin is observed at both ages" if counts[k] == 0 else
               "the amounts sum to 0" if volume[k] == 0 else "the factor is 0")
        raise InputError(f"chain_ladder: origins still need developing from lag {k + 1} to {k + 2}, but {why}")

    sigma2 = _sigma2(now, nxt, both, counts, factors)
    to_last = np.append(np.cumprod(np.nan_to_num(factors, nan=1.0)[::-1])[::-1], 1.0)  # F_k, F_n = 1
    latest = c[np.arange(c.shape[0]), latest_age]
    projected = latest * to_last[latest_age]
    # a factor of 0 at an age no origin needs must not divide (it would warn, not matter)
    unit = np.divide(sigma2, factors**2, out=np.full(n_ages, np.nan), where=factors > 0)
    process = projected * np.where(needs, unit * to_last[:-1], 0.0).sum(axis=1)
    per_volume = np.divide(unit, volume, out=np.full(n_ages, np.nan), where=volume > 0)
    parameter = projected**2 * np.where(needs, per_volume, 0.0).sum(axis=1)
    shared = np.where(needs, projected[:, None], 0.0).sum(axis=0)
    total = process.sum() + np.where(needs.any(axis=0), per_volume * shared**2, 0.0).sum()

    ultimate = projected * tail
    return ChainLadder(triangle=triangle, factors=factors, sigma2=sigma2, tail=tail,
                       cdf=to_last[latest_age] * tail, ultimate=ultimate, reserve=ultimate - latest,
                       mack_se=np.sqrt(process + parameter) * tail, mack_se_total=math.sqrt(total) * tail)


def _sigma2(now, nxt, both, counts, factors) -> np.ndarray:
    # (C_{k+1} - f C_k)^2 / C_k equals C_k (C_{k+1} / C_k - f)^2 and needs no ratio of the cell
    resid = np.where(both, nxt - factors * now, 0.0) ** 2
    terms = np.divide(resid, now, out=np.zeros_like(resid), where=now > 0)
    from_zero = (both & (now == 0) & (nxt > 0)).any(axis=0)
    sigma2 = np.full(factors.size, np.nan)
    enough = (counts >= 2) & ~from_zero & ~np.isnan(factors)
    sigma2[enough] = terms.sum(axis=0)[enough] / (counts[enough] - 1)
    # Mack's rule for an age seen in one origin only, using the two ages before it (NaN propagates)
    for k in np.flatnonzero(counts == 1):
        if k >= 2 and not from_zero[k]:
            older, last = sigma2[k - 2], sigma2[k - 1]
            ratio = last**2 / older if older > 0 else 0.0
            sigma2[k] = np.minimum(ratio, np.minimum(older, last))
    return sigma2


def _check_cells(owner: str, origins: np.ndarray, lags: np.ndarray, values: np.ndarray) -> None:
    bad = np.isinf(values) | (values < 0)  # NaN compares False: it marks an unobserved cell
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise InputError(f"{owner}: the amount of origin {origins[i]} at lag {lags[k]} must be finite "
                         f"and >= 0, got {float(values[i, k])!r}")
    observed = ~np.isnan(values)
    empty = ~observed.any(axis=1)
    if empty.any():
        raise InputError(f"{owner}: origin {origins[np.argmax(empty)]} has no observed amount")
    first, last = _first_last(observed)
    holes = observed.sum(axis=1) != last - first + 1
    if holes.any():
        i = int(np.argmax(holes))
        k = first[i] + int(np.argmin(observed[i, first[i]:last[i] + 1]))
        raise InputError(f"{owner}: origin {origins[i]} is observed at lags {lags[first[i]]} and "
                         f"{lags[last[i]]} but not at lag {lags[k]} in between")


def _first_last(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = observed.shape[1]
    return np.argmax(observed, axis=1), n - 1 - np.argmax(observed[:, ::-1], axis=1)


def _int_array(owner: str, name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise InputTypeError(f"{owner}: {name} must be a 1-D array of integers, got dtype {arr.dtype} "
                             f"and shape {arr.shape}")
    return np.array(arr, dtype=np.int64)


def _numeric_column(frame: pd.DataFrame, col: str, source: str, *, integer: bool) -> np.ndarray:
    raw = frame[col]
    if raw.dtype == bool:
        raise InputTypeError(f"{source}: column {col!r} must be numeric, got booleans")
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    text = np.isnan(num) & raw.notna().to_numpy()
    if text.any():
        i = int(np.argmax(text))
        raise InputTypeError(f"{source}: row {frame.index[i]!r}, column {col!r} must be a number, "
                             f"got {raw.iloc[i]!r}")
    _first_bad(frame, np.isnan(num), source, col, "is missing (NaN)", num)
    _first_bad(frame, np.isinf(num), source, col, "must be finite", num)
    if integer:
        _first_bad(frame, num != np.round(num), source, col, "must be an integer", num)
    return num


def _first_bad(frame, bad, source, col, what, values) -> None:
    if np.any(bad):
        i = int(np.argmax(bad))
        raise InputError(f"{source}: row {frame.index[i]!r}, column {col!r} {what}, got {float(values[i])!r}")
