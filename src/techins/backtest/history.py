"""The history a back-test reads: policies, claims, expenses, triangles and forecasts (CSV or
Parquet), checked at the boundary. Every error names the file, the row (first data row = 1) and the
column, and what to fix. Schemas: ``docs/backtest.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from techins.errors import InputError
from techins.io.schema import (
    CLAIM_COLUMNS,
    EXPENSE_COLUMNS,
    FORECAST_COLUMNS,
    HISTORY_POLICY_COLUMNS as POLICY_COLUMNS,
    HISTORY_TEXT_COLUMNS,
    TRIANGLE_COLUMNS,
)
from techins.model.portfolio import checked_numbers

__all__ = ["History", "read_history", "history_from_frames", "forecast_probabilities"]

_QUANTILE = re.compile(r"^q(0?\.\d+)$")


@dataclass(frozen=True, eq=False)
class History:
    """The checked inputs of a back-test (pandas tables, index 0..n-1).

    Attributes
    ----------
    policies : pandas.DataFrame
        ``POLICY_COLUMNS`` and, when given, ``expected_claims``, ``claims_variance``, ``deductible``,
        ``limit`` (numbers; ``period`` int64, ``line`` and ``policy_id`` text).
    claims : pandas.DataFrame
        ``CLAIM_COLUMNS``, ``expenses`` (0 when not given), the claim's ``line`` and ``policy_row``
        (its policy's row in ``policies``).
    expenses, triangles, forecasts : pandas.DataFrame or None
    sources : dict
        The file of each table, for messages and the run record.
    """

    policies: pd.DataFrame
    claims: pd.DataFrame
    expenses: pd.DataFrame | None
    triangles: pd.DataFrame | None
    forecasts: pd.DataFrame | None
    sources: dict

    @property
    def lines(self) -> tuple:
        return tuple(sorted(self.policies["line"].unique()))

    @property
    def periods(self) -> tuple:
        return tuple(int(p) for p in sorted(self.policies["period"].unique()))


def read_table(path, name: str) -> pd.DataFrame:
    """A CSV or Parquet table (by extension), with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {name} file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype=dict.fromkeys(HISTORY_TEXT_COLUMNS, str))
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read the {name} table ({str(exc).splitlines()[0]})") from None
    raise InputError(f"{path}: the {name} file must be .csv or .parquet, got {suffix or 'no extension'!r}")


def read_history(policies, claims, *, expenses=None, triangles=None, forecasts=None) -> History:
    """Read and check a back-test's input files (paths; the optional ones may be None)."""
    files = {"policies": policies, "claims": claims, "expenses": expenses, "triangles": triangles,
             "forecasts": forecasts}
    frames = {name: None if path is None else read_table(path, name) for name, path in files.items()}
    return history_from_frames(**frames, sources={k: str(v) for k, v in files.items() if v is not None})


def history_from_frames(policies: pd.DataFrame, claims: pd.DataFrame, expenses: pd.DataFrame | None = None,
                        triangles: pd.DataFrame | None = None, forecasts: pd.DataFrame | None = None,
                        sources: dict | None = None) -> History:
    """Check tables already in memory (``read_history`` does the reading).

    ``triangles`` may also be a ``chainladder.Triangle`` (its index rows the lines) or a mapping from
    line to a chainladder or techins Triangle, converted by
    :func:`techins.backtest.chainladder_interop.triangle_table`.
    """
    sources = dict(sources or {})
    if triangles is not None and not isinstance(triangles, pd.DataFrame):
        from techins.backtest.chainladder_interop import triangle_table

        sources.setdefault("triangles", "chainladder.Triangle")
        triangles = triangle_table(triangles, source=sources["triangles"])
    where = {name: sources.get(name, name) for name in ("policies", "claims", "expenses", "triangles", "forecasts")}
    pol = _policies(policies, where["policies"])
    periods = set(pol["period"].tolist())
    first, last = min(periods), max(periods)
    clm = _claims(claims, where["claims"], pol, first, last)
    exp = None if expenses is None else _expenses(expenses, where["expenses"], pol, first, last)
    tri = None if triangles is None else _triangles(triangles, where["triangles"], pol)
    fc = None if forecasts is None else _forecasts(forecasts, where["forecasts"], pol)
    return History(policies=pol, claims=clm, expenses=exp, triangles=tri, forecasts=fc, sources=sources)


def forecast_probabilities(forecasts: pd.DataFrame) -> tuple[np.ndarray, list]:
    """The probabilities of a forecasts table's quantile columns (increasing) and the columns."""
    pairs = sorted((float(_QUANTILE.match(c).group(1)), c) for c in forecasts.columns if _QUANTILE.match(str(c)))
    return np.array([p for p, _ in pairs]), [c for _, c in pairs]


# ---------------------------------------------------------------------------------------- tables
def _require(frame: pd.DataFrame, columns, where: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{where}: expected a table, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{where}: missing column {missing[0]!r}; the table needs {list(columns)}")
    return frame.reset_index(drop=True)


def _text(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = frame[column]
    missing = values.isna().to_numpy() | values.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        raise InputError(f"{where}: row {int(np.argmax(missing)) + 1}: {column} is missing")
    return values.astype(str).str.strip().to_numpy(dtype=object)


def _numbers(frame: pd.DataFrame, column: str, where: str, *, low=-math.inf, low_open=False, allow_inf=False,
             label=None) -> np.ndarray:
    label = label or (lambda i: f"row {i + 1}")
    return checked_numbers(frame[column], column, where, label, low=low, low_open=low_open, allow_inf=allow_inf)


def _integers(frame: pd.DataFrame, column: str, where: str, label=None) -> np.ndarray:
    values = _numbers(frame, column, where, label=label)
    bad = values != np.round(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where}: {(label or (lambda k: f'row {k + 1}'))(i)}: {column} must be a whole number "
                         f"(a period), got {frame[column].iloc[i]!r}")
    return values.astype(np.int64)


def _unique(values: np.ndarray, column: str, where: str) -> None:
    twice = pd.Series(values).duplicated().to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise InputError(f"{where}: row {i + 1}: {column} {values[i]!r} appears twice; each must be unique")


def _policies(frame, where: str) -> pd.DataFrame:
    frame = _require(frame, POLICY_COLUMNS, where)
    if len(frame) == 0:
        raise InputError(f"{where}: no policies; a back-test needs the policies earned in its periods")
    ids = _text(frame, "policy_id", where)
    _unique(ids, "policy_id", where)

    def label(i):
        return f"row {i + 1} (policy_id {ids[i]!r})"

    out = pd.DataFrame({"policy_id": ids, "line": _text(frame, "line", where),
                        "period": _integers(frame, "period", where, label)})
    out["exposure"] = _numbers(frame, "exposure", where, low=0.0, low_open=True, label=label)
    for column in ("earned_premium", "expected_loss"):
        out[column] = _numbers(frame, column, where, low=0.0, label=label)
    for column in ("expected_claims", "claims_variance", "deductible"):
        if column in frame.columns:
            out[column] = _numbers(frame, column, where, low=0.0, label=label)
    if "limit" in frame.columns:
        out["limit"] = _numbers(frame, "limit", where, low=0.0, low_open=True, allow_inf=True, label=label)
    if "claims_variance" in out.columns:
        if "expected_claims" not in out.columns:
            raise InputError(f"{where}: claims_variance needs an expected_claims column")
        low = out["claims_variance"] < out["expected_claims"] * (1.0 - 1e-12)
        if low.any():
            i = int(np.argmax(low.to_numpy()))
            raise InputError(f"{where}: {label(i)}: claims_variance {out['claims_variance'].iloc[i]!r} is below "
                             f"expected_claims {out['expected_claims'].iloc[i]!r}; a claim count's variance is at "
                             f"least its mean (Poisson)")
    return out


def _claims(frame, where: str, policies: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    frame = _require(frame, CLAIM_COLUMNS, where)
    ids = _text(frame, "claim_id", where) if len(frame) else np.zeros(0, dtype=object)
    _unique(ids, "claim_id", where)

    def label(i):
        return f"row {i + 1} (claim_id {ids[i]!r})"

    policy = _text(frame, "policy_id", where) if len(frame) else np.zeros(0, dtype=object)
    row = pd.Index(policies["policy_id"]).get_indexer(policy)
    unknown = row < 0
    if unknown.any():
        i = int(np.argmax(unknown))
        raise InputError(f"{where}: {label(i)}: policy_id {policy[i]!r} is not in the policies table; give the "
                         f"claim's policy or remove the claim")
    out = pd.DataFrame({"claim_id": ids, "policy_id": policy,
                        "line": policies["line"].to_numpy(dtype=object)[row], "policy_row": row.astype(np.int64),
                        "accident_period": _integers(frame, "accident_period", where, label)})
    outside = (out["accident_period"] < first) | (out["accident_period"] > last)
    if outside.any():
        i = int(np.argmax(outside.to_numpy()))
        raise InputError(f"{where}: {label(i)}: accident_period {int(out['accident_period'].iloc[i])} is outside the "
                         f"history ({first}..{last}, the policies' periods)")
    for column in ("paid", "incurred"):
        out[column] = _numbers(frame, column, where, low=0.0, label=label)
    out["expenses"] = _numbers(frame, "expenses", where, low=0.0, label=label) if "expenses" in frame.columns \
        else np.zeros(len(out))
    return out


def _expenses(frame, where: str, policies: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    frame = _require(frame, EXPENSE_COLUMNS, where)
    out = pd.DataFrame({"line": _text(frame, "line", where), "period": _integers(frame, "period", where)})
    _known_lines(out["line"].to_numpy(), policies, where)
    outside = (out["period"] < first) | (out["period"] > last)
    if outside.any():
        i = int(np.argmax(outside.to_numpy()))
        raise InputError(f"{where}: row {i + 1}: period {int(out['period'].iloc[i])} is outside the history "
                         f"({first}..{last}, the policies' periods)")
    for column in ("expenses", "plan"):
        out[column] = _numbers(frame, column, where, low=0.0)
    twice = out.duplicated(["line", "period"]).to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise InputError(f"{where}: row {i + 1}: line {out['line'].iloc[i]!r} period {int(out['period'].iloc[i])} "
                         f"appears twice")
    return out


def _triangles(frame, where: str, policies: pd.DataFrame) -> pd.DataFrame:
    frame = _require(frame, TRIANGLE_COLUMNS, where)
    out = pd.DataFrame({"line": _text(frame, "line", where), "origin": _integers(frame, "origin", where),
                        "lag": _integers(frame, "lag", where)})
    _known_lines(out["line"].to_numpy(), policies, where)
    out["value"] = _numbers(frame, "value", where, low=0.0)
    bad_lag = out["lag"] < 1
    if bad_lag.any():
        i = int(np.argmax(bad_lag.to_numpy()))
        raise InputError(f"{where}: row {i + 1}: lag must be 1 or more, got {int(out['lag'].iloc[i])}")
    return out


def _forecasts(frame, where: str, policies: pd.DataFrame) -> pd.DataFrame:
    frame = _require(frame, FORECAST_COLUMNS, where)
    probs, columns = forecast_probabilities(frame)
    if probs.size < 2 or probs[0] <= 0.0 or probs[-1] >= 1.0:
        raise InputError(f"{where}: give at least two quantile columns named q<probability> with probabilities in "
                         f"(0, 1), e.g. q0.01, q0.5, q0.99; got {list(frame.columns)}")
    out = pd.DataFrame({"line": _text(frame, "line", where), "period": _integers(frame, "period", where)})
    _known_lines(out["line"].to_numpy(), policies, where)
    values = np.column_stack([_numbers(frame, c, where, low=0.0) for c in columns])
    falling = np.diff(values, axis=1) < 0
    if falling.any():
        i, j = np.argwhere(falling)[0]
        raise InputError(f"{where}: row {i + 1}: quantile {columns[j + 1]} ({values[i, j + 1]!r}) is below "
                         f"{columns[j]} ({values[i, j]!r}); quantiles must not decrease")
    for j, column in enumerate(columns):
        out[column] = values[:, j]
    return out


def _known_lines(lines: np.ndarray, policies: pd.DataFrame, where: str) -> None:
    known = set(pd.unique(policies["line"]).tolist())
    unknown = np.array([line not in known for line in lines], dtype=bool)
    if unknown.any():
        i = int(np.argmax(unknown))
        raise InputError(f"{where}: row {i + 1}: line {lines[i]!r} has no policies; lines are {sorted(known)}")
