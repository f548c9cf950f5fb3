"""Simulated losses as Open Results Data (ORD) tables: period, event, average and exceedance tables.

ORD is the results standard of the Oasis loss modelling framework (repository
``OasisLMF/ODS_OpenResultsData``, files ``Schema/ORD_Tables.csv``, ``Schema/ORD_List_of_Fields.csv``,
``Schema/ORD_Table_Examples.csv``, ``ORD_Definitions.md``); the column order follows what OasisLMF
writes (``OasisLMF/OasisLMF``, ``oasislmf/pytools/{plt,elt,aal,lec}/data.py``). ``docs/exports.md``
gives every column, its source and what is left out.

The input is an occurrence table: one row per (occurrence, policy) with ``year`` (0-based simulated
year), ``occurrence_id`` (unique per event in the run) and ``loss``. Rows sharing an ``occurrence_id``
are summed into one event loss. A simulated year is one ORD period (``Period = year + 1``, weight
``1 / years``) and each event is drawn once, so every table is a *one-sample* table: ``SampleId = 1``,
``SampleType = 2`` (sampled, not analytical) and ``EPCalc = 2`` (full uncertainty; with one sample
per period it equals the sample-mean variant 4). All money columns are in the input's currency.

Return-period losses use the project's definitions (``techins.results.figures``): the loss at return period
``T`` is ``inf{x : F(x) >= 1 - 1/T}`` over the ``years`` equally weighted periods (a period without an
event counts as 0) and the TVaR is the expected shortfall at that level, exact at ties.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.io.schema import (
    ALCT_COLUMNS,
    ALT_COLUMNS,
    ANNUAL_COLUMNS,
    ELT_COLUMNS,
    EPT_COLUMNS,
    ORD_INPUT_COLUMNS,
    ORD_TABLE_NAMES,
    PERSPECTIVE_COLUMN,
    PLT_COLUMNS,
)
from techins.lazy import lazy_module
from techins.results.figures import DEFAULT_RETURN_PERIODS, quantile_equal, tvar_equal

stats = lazy_module("scipy.stats")

__all__ = [
    "SUMMARY_ID", "SAMPLE_ID", "SAMPLE_TYPE_SAMPLED", "EPCALC_FULL_UNCERTAINTY",
    "EPTYPE_OEP", "EPTYPE_OEP_TVAR", "EPTYPE_AEP", "EPTYPE_AEP_TVAR",
    "PLT_COLUMNS", "ELT_COLUMNS", "ANNUAL_COLUMNS", "ALT_COLUMNS", "ALCT_COLUMNS", "EPT_COLUMNS",
    "PERSPECTIVE_COLUMN", "TABLE_NAMES", "INPUT_COLUMNS", "ALCT_CONFIDENCE",
    "AnnualLossTables",
    "period_loss_table", "event_loss_table", "annual_loss_table", "exceedance_table", "ord_tables",
    "write_ord",
]

# ORD codes (ODS_OpenResultsData Schema/ORD_List_of_Fields.csv, ORD v1)
SUMMARY_ID = 1                # one summary level: the whole input
SAMPLE_ID = 1                 # SPLT SampleId: each event is drawn once
SAMPLE_TYPE_SAMPLED = 2       # ALT/MELT SampleType: 1 = analytical mean, 2 = sampled
EPCALC_FULL_UNCERTAINTY = 2   # EPCalc: 1 = MeanDR, 2 = Full, 3 = PerSampleMean, 4 = MeanSample
EPTYPE_OEP, EPTYPE_OEP_TVAR, EPTYPE_AEP, EPTYPE_AEP_TVAR = 1, 2, 3, 4

# the ORD columns this module can fill (their order is OasisLMF's) and its input: techins.io.schema
TABLE_NAMES = ORD_TABLE_NAMES
INPUT_COLUMNS = ORD_INPUT_COLUMNS
ALCT_CONFIDENCE = 0.95
_PERSPECTIVE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")   # no "_": it separates perspective and table
_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_OWNER = "exports"


@dataclass(frozen=True)
class AnnualLossTables:
    """The annual losses of every period and their average, in ORD shapes.

    Attributes
    ----------
    annual : pandas.DataFrame
        Columns ``ANNUAL_COLUMNS``: the aggregate loss of each period ``1..years``, zeros included
        (not an ORD table; the period totals of the PLT).
    alt : pandas.DataFrame
        Columns ``ALT_COLUMNS``: ORD Average Loss Table, one row (``SampleType = 2``).
    alct : pandas.DataFrame
        Columns ``ALCT_COLUMNS``: the AAL with its Monte Carlo standard error and normal interval,
        in the shape of OasisLMF's AAL convergence table (see ``docs/exports.md`` for how
        ``StandardError`` differs from OasisLMF's).
    """

    annual: pd.DataFrame
    alt: pd.DataFrame
    alct: pd.DataFrame


@dataclass(frozen=True)
class _Events:
    """Event losses after summing an occurrence's rows and dropping zero events, sorted by id."""

    event_id: np.ndarray   # int64, unique, ascending
    period: np.ndarray     # int64, ORD period 1..years
    loss: np.ndarray       # float64, > 0
    years: int

    def annual(self) -> np.ndarray:
        """Aggregate loss of each period (index 0 is period 1), zeros included: the AEP sample."""
        return np.bincount(self.period - 1, weights=self.loss, minlength=self.years).astype(np.float64)

    def max_occurrence(self) -> np.ndarray:
        """Largest event loss of each period, 0 without an event: the OEP sample."""
        out = np.zeros(self.years)
        np.maximum.at(out, self.period - 1, self.loss)
        return out


# ---------------------------------------------------------------------------------------------------
# validation


def _where(frame: pd.DataFrame, bad: np.ndarray) -> str:
    """``row i (index label)`` of the first true entry of ``bad``, rows counted from 1 as in a file."""
    i = int(np.argmax(bad))
    label = frame.index[i]
    return f"row {i + 1} (index {label.item() if isinstance(label, np.generic) else label!r})"


def _numeric_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise InputError(f"{_OWNER}: occurrences has no column {name!r}; "
                         f"it needs {', '.join(INPUT_COLUMNS)}")
    col = frame[name]
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise InputTypeError(f"{_OWNER}: column {name!r} must be numeric, got dtype {col.dtype}")
    missing = col.isna().to_numpy()
    if missing.any():
        raise InputError(f"{_OWNER}: column {name!r} is missing a value at {_where(frame, missing)}")
    return col


def _integer_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    col = _numeric_column(frame, name)
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(dtype=np.int64)
    values = col.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values != np.floor(values)) | (np.abs(values) >= 2.0**63)
    if bad.any():
        raise InputError(f"{_OWNER}: column {name!r} must hold whole numbers, got "
                         f"{float(values[int(np.argmax(bad))])!r} at {_where(frame, bad)}")
    return values.astype(np.int64)


def _check_years(years) -> int:
    return validate.integer(_OWNER, "years", years, low=1)


def _events(occurrences, years) -> _Events:
    """Validate the occurrence table and sum it into event losses (see the module docstring)."""
    years = _check_years(years)
    if not isinstance(occurrences, pd.DataFrame):
        raise InputTypeError(f"{_OWNER}: occurrences must be a pandas DataFrame, "
                             f"got {type(occurrences).__name__}")
    for name in INPUT_COLUMNS:
        if name not in occurrences.columns:
            raise InputError(f"{_OWNER}: occurrences has no column {name!r}; "
                             f"it needs {', '.join(INPUT_COLUMNS)}")
    year = _integer_column(occurrences, "year")
    outside = (year < 0) | (year >= years)
    if outside.any():
        raise InputError(f"{_OWNER}: column 'year' must be in [0, {years}), got "
                         f"{int(year[int(np.argmax(outside))])} at {_where(occurrences, outside)}")
    occurrence_id = _integer_column(occurrences, "occurrence_id")
    loss = _numeric_column(occurrences, "loss").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(loss) | (loss < 0.0)
    if bad.any():
        raise InputError(f"{_OWNER}: column 'loss' must be finite and >= 0, got "
                         f"{float(loss[int(np.argmax(bad))])!r} at {_where(occurrences, bad)}")
    ids, first, inverse = np.unique(occurrence_id, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    event_year = year[first]
    moved = year != event_year[inverse]
    if moved.any():
        i = int(np.argmax(moved))
        raise InputError(f"{_OWNER}: column 'year' must be the same on every row of an occurrence; "
                         f"occurrence_id {int(occurrence_id[i])} is in year {int(event_year[inverse[i]])} "
                         f"and in year {int(year[i])} at {_where(occurrences, moved)}")
    total = np.bincount(inverse, weights=loss, minlength=ids.size).astype(np.float64)
    keep = total > 0.0
    return _Events(ids[keep].astype(np.int64), event_year[keep].astype(np.int64) + 1, total[keep], years)


def _check_return_periods(return_periods) -> np.ndarray:
    rps = validate.real_array(_OWNER, "return_periods", return_periods, low=1.0)
    if np.unique(rps).size != rps.size:
        raise InputError(f"{_OWNER}: return_periods must not repeat a value, got {rps.tolist()}")
    return np.sort(rps)[::-1]


def _check_label(what: str, value, pattern: re.Pattern) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{_OWNER}: {what} must be a string, got {value!r}")
    if not pattern.fullmatch(value):
        raise InputError(f"{_OWNER}: {what} must be letters, digits or '-' (and '_' in table names), "
                         f"starting with a letter or digit; got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------
# tables from validated event losses


def _plt(ev: _Events) -> pd.DataFrame:
    order = np.lexsort((ev.event_id, ev.period))
    n = ev.event_id.size
    return pd.DataFrame({
        "Period": ev.period[order],
        "PeriodWeight": np.full(n, 1.0 / ev.years),
        "EventId": ev.event_id[order],
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int64),
        "SampleId": np.full(n, SAMPLE_ID, dtype=np.int64),
        "Loss": ev.loss[order],
    }, columns=list(PLT_COLUMNS))


def _elt(ev: _Events) -> pd.DataFrame:
    n = ev.event_id.size
    # each event id occurs once in the timeline: rate = occurrences / periods = 1 / years, and its one
    # draw is its sample mean
    return pd.DataFrame({
        "EventId": ev.event_id,
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int64),
        "SampleType": np.full(n, SAMPLE_TYPE_SAMPLED, dtype=np.int64),
        "EventRate": np.full(n, 1.0 / ev.years),
        "MeanLoss": ev.loss,
    }, columns=list(ELT_COLUMNS))


def _annual_tables(ev: _Events, confidence: float) -> AnnualLossTables:
    annual = ev.annual()
    years = ev.years
    mean = float(annual.mean())
    sd = float(annual.std(ddof=1)) if years > 1 else math.nan
    se = sd / math.sqrt(years)
    half = float(stats.norm.ppf(0.5 + confidence / 2.0)) * se
    relative = se / mean if mean > 0.0 else math.nan
    periods = pd.DataFrame({
        "Period": np.arange(1, years + 1, dtype=np.int64),
        "PeriodWeight": np.full(years, 1.0 / years),
        "SummaryId": np.full(years, SUMMARY_ID, dtype=np.int64),
        "SampleId": np.full(years, SAMPLE_ID, dtype=np.int64),
        "Loss": annual,
    }, columns=list(ANNUAL_COLUMNS))
    alt = pd.DataFrame({"SummaryId": [SUMMARY_ID], "SampleType": [SAMPLE_TYPE_SAMPLED],
                        "MeanLoss": [mean], "SDLoss": [sd]}, columns=list(ALT_COLUMNS))
    alt = alt.astype({"SummaryId": np.int64, "SampleType": np.int64})
    alct = pd.DataFrame({"SummaryId": [SUMMARY_ID], "MeanLoss": [mean], "SDLoss": [sd], "SampleSize": [1],
                         "LowerCI": [mean - half], "UpperCI": [mean + half], "StandardError": [se],
                         "RelativeError": [relative]}, columns=list(ALCT_COLUMNS))
    alct = alct.astype({"SummaryId": np.int64, "SampleSize": np.int64})
    return AnnualLossTables(periods, alt, alct)


def _ep_block(sample: np.ndarray, rps: np.ndarray, ep_type: int, tvar_type: int) -> list[tuple]:
    x = np.sort(sample)
    levels = 1.0 - 1.0 / rps
    q = [quantile_equal(x, p) for p in levels]
    tv = [tvar_equal(x, p) for p in levels]
    return [(ep_type, t, v) for t, v in zip(rps, q)] + [(tvar_type, t, v) for t, v in zip(rps, tv)]


def _ept(ev: _Events, rps: np.ndarray) -> pd.DataFrame:
    rows = (_ep_block(ev.max_occurrence(), rps, EPTYPE_OEP, EPTYPE_OEP_TVAR)
            + _ep_block(ev.annual(), rps, EPTYPE_AEP, EPTYPE_AEP_TVAR))
    ep_type, rp, loss = (np.array(c) for c in zip(*rows))
    n = rp.size
    return pd.DataFrame({
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int64),
        "EPCalc": np.full(n, EPCALC_FULL_UNCERTAINTY, dtype=np.int64),
        "EPType": ep_type.astype(np.int64),
        "ReturnPeriod": rp.astype(np.float64),
        "Loss": loss.astype(np.float64),
    }, columns=list(EPT_COLUMNS))


# ---------------------------------------------------------------------------------------------------
# public


def period_loss_table(occurrences: pd.DataFrame, years: int) -> pd.DataFrame:
    """ORD Sample Period Loss Table (SPLT) with one sample: every event loss in its period.

    Parameters
    ----------
    occurrences : pandas.DataFrame
        Columns ``year`` (0-based, ``< years``), ``occurrence_id`` and ``loss`` (>= 0); rows sharing
        an ``occurrence_id`` are summed; other columns are ignored.
    years : int
        Number of simulated periods.

    Returns
    -------
    pandas.DataFrame
        Columns ``PLT_COLUMNS``: ``Period = year + 1``, ``PeriodWeight = 1 / years``,
        ``EventId = occurrence_id``, ``SummaryId = 1``, ``SampleId = 1`` and the event ``Loss``;
        events of zero loss are left out; sorted by period and event.

    Raises
    ------
    InputError
        A column is missing, a loss is NaN, infinite or negative, a year is outside ``[0, years)``
        or an occurrence spans two years; the message names the column and the first bad row.
    """
    return _plt(_events(occurrences, years))


def event_loss_table(occurrences: pd.DataFrame, years: int) -> pd.DataFrame:
    """ORD Moment Event Loss Table (MELT), the columns one draw per event can fill.

    Parameters
    ----------
    occurrences, years
        As in ``period_loss_table``.

    Returns
    -------
    pandas.DataFrame
        Columns ``ELT_COLUMNS``, one row per event of positive loss sorted by ``EventId``:
        ``SampleType = 2`` (sampled), ``EventRate`` = occurrences of the event per period
        ``= 1 / years`` and ``MeanLoss`` = the sample mean of its one draw. ``SDLoss``, ``ChanceOfLoss``,
        ``MaxLoss`` and the exposure columns are left out (``docs/exports.md`` says why).
    """
    return _elt(_events(occurrences, years))


def annual_loss_table(occurrences: pd.DataFrame, years: int, *,
                      confidence: float = ALCT_CONFIDENCE) -> AnnualLossTables:
    """The aggregate loss of every period and the average annual loss (ORD ALT) with its error.

    Parameters
    ----------
    occurrences, years
        As in ``period_loss_table``.
    confidence : float
        Level of the normal interval ``LowerCI, UpperCI = MeanLoss -+ z SE`` of the ALCT.

    Returns
    -------
    AnnualLossTables
        ``annual`` (every period, zeros included), ``alt`` (``MeanLoss`` = mean annual loss,
        ``SDLoss`` = its sample standard deviation with ``years - 1`` in the denominator, NaN when
        ``years = 1``) and ``alct`` (``StandardError = SDLoss / sqrt(years)``,
        ``RelativeError = StandardError / MeanLoss``, NaN when the mean is 0).
    """
    level = validate.real(_OWNER, "confidence", confidence, low=0.0, high=1.0, low_open=True,
                           high_open=True)
    return _annual_tables(_events(occurrences, years), level)


def exceedance_table(occurrences: pd.DataFrame, years: int,
                     return_periods=DEFAULT_RETURN_PERIODS) -> pd.DataFrame:
    """ORD Exceedance Probability Table (EPT): OEP, AEP and their TVaRs at the given return periods.

    Parameters
    ----------
    occurrences, years
        As in ``period_loss_table``.
    return_periods : sequence of float
        Distinct return periods ``T >= 1`` (in periods).

    Returns
    -------
    pandas.DataFrame
        Columns ``EPT_COLUMNS`` with ``EPCalc = 2`` (full uncertainty) and ``EPType`` 1 (OEP), 2 (OEP
        TVaR), 3 (AEP), 4 (AEP TVaR), return periods descending within each type. OEP is taken on the
        largest event loss of each period, AEP on the period's sum, both over all ``years`` periods
        (0 for a period without loss). ``Loss`` at ``T`` is ``quantile_equal(x, 1 - 1/T)`` or
        ``tvar_equal(x, 1 - 1/T)`` of ``techins.results.figures``; beyond ``T = years`` it is the sample's
        largest value.
    """
    rps = _check_return_periods(return_periods)
    return _ept(_events(occurrences, years), rps)


def ord_tables(occurrences: pd.DataFrame, years: int, perspective: str, *,
               return_periods=DEFAULT_RETURN_PERIODS,
               confidence: float = ALCT_CONFIDENCE) -> dict[str, pd.DataFrame]:
    """Every table of one perspective, each with a last column ``Perspective``.

    Parameters
    ----------
    occurrences, years
        As in ``period_loss_table``.
    perspective : str
        A label such as ``"gross"``, ``"ceded"`` or ``"net"``: letters, digits and ``-``.
    return_periods, confidence
        As in ``exceedance_table`` and ``annual_loss_table``.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``TABLE_NAMES``: ``plt``, ``elt``, ``annual``, ``alt``, ``alct`` and ``ept``. The
        ``Perspective`` column (not an ORD field) lets tables of several perspectives be stacked.
    """
    perspective = _check_label("perspective", perspective, _PERSPECTIVE)
    level = validate.real(_OWNER, "confidence", confidence, low=0.0, high=1.0, low_open=True,
                           high_open=True)
    rps = _check_return_periods(return_periods)
    ev = _events(occurrences, years)
    annual = _annual_tables(ev, level)
    tables = {"plt": _plt(ev), "elt": _elt(ev), "annual": annual.annual, "alt": annual.alt,
              "alct": annual.alct, "ept": _ept(ev, rps)}
    for table in tables.values():
        table[PERSPECTIVE_COLUMN] = pd.Series([perspective] * len(table), index=table.index, dtype="str")
    return tables


def write_ord(tables_by_perspective: dict, folder: Path) -> list[Path]:
    """Write each table as ``<perspective>_<table>.csv`` and ``.parquet`` into an existing folder.

    Parameters
    ----------
    tables_by_perspective : dict of str to dict of str to pandas.DataFrame
        Perspective label -> table name -> table, e.g. ``{"gross": ord_tables(..., "gross")}``.
        A table's ``Perspective`` column, if any, must equal its key.
    folder : pathlib.Path
        An existing folder (making it and replacing it atomically is the caller's job).

    Returns
    -------
    list of pathlib.Path
        The files written, CSV then Parquet for each table.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{_OWNER}: folder {folder} does not exist or is not a folder")
    if not isinstance(tables_by_perspective, dict):
        raise InputTypeError(f"{_OWNER}: tables_by_perspective must be a dict of perspective to tables, "
                             f"got {type(tables_by_perspective).__name__}")
    jobs = []
    for perspective, tables in tables_by_perspective.items():
        _check_label("perspective", perspective, _PERSPECTIVE)
        if not isinstance(tables, dict):
            raise InputTypeError(f"{_OWNER}: tables of perspective {perspective!r} must be a dict of "
                                 f"name to DataFrame, got {type(tables).__name__}")
        for name, table in tables.items():
            _check_label("table name", name, _TABLE_NAME)
            if not isinstance(table, pd.DataFrame):
                raise InputTypeError(f"{_OWNER}: table {perspective}/{name} must be a pandas DataFrame, "
                                     f"got {type(table).__name__}")
            if PERSPECTIVE_COLUMN in table.columns:
                wrong = (table[PERSPECTIVE_COLUMN] != perspective).to_numpy()
                if wrong.any():
                    raise InputError(f"{_OWNER}: table {perspective}/{name}: column 'Perspective' is "
                                     f"{table[PERSPECTIVE_COLUMN].iloc[int(np.argmax(wrong))]!r} at "
                                     f"{_where(table, wrong)}, not {perspective!r}")
            jobs.append((folder / f"{perspective}_{name}", table))
    written = []
    for stem, table in jobs:
        csv, parquet = stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".parquet")
        table.to_csv(csv, index=False)
        table.to_parquet(parquet, index=False, engine="pyarrow")
        written += [csv, parquet]
    return written
