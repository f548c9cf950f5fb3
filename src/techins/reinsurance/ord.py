"""Simulated losses as Open Results Data (ORD) tables: period, event, average and exceedance tables.

ORD is the results standard of the Oasis loss modelling framework (repository
``OasisLMF/ODS_OpenResultsData``, files ``Schema/ORD_Tables.csv``, ``Schema/ORD_List_of_Fields.csv``,
``Schema/ORD_Table_Examples.csv``, ``ORD_Definitions.md``); the column order follows what OasisLMF
writes (``OasisLMF/OasisLMF``, ``oasislmf/pytools/{plt,elt,aal,lec}/data.py``). ``docs/exports.md``
gives every column, its source and what is left out.

The input is an occurrence table: one row per (occurrence, policy) with ``year`` (0-based simulated
year), ``occurrence_id`` (unique per event in the run) and ``loss``. Rows sharing an ``occurrence_id``
are summed into one event loss; ``EventId`` is 1 + the rank of the ``occurrence_id`` among the input's
ids (ORD's EventId is a 32-bit integer, techins' occurrence ids are not). Integer columns are int32 and
float columns float64 (``techins.io.schema.ORD_SCHEMAS``); files are named as OasisLMF names them,
``<perspective>_S1_<table>.csv`` with ``il``/``rl``/``ri`` for gross/ceded/net, and written by pyarrow
from the arrays (shortest round-trip float text, the same bytes on every run). A simulated year is one ORD period (``Period = year + 1``, weight
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
    ORD_FILE_TABLES,
    ORD_INPUT_COLUMNS,
    ORD_KEYS,
    ORD_PERSPECTIVE_CODES,
    ORD_SCHEMAS,
    ORD_TABLE_NAMES,
    PERSPECTIVE_COLUMN,
    PLT_COLUMNS,
)
from techins.lazy import lazy_module
from techins.progress import announce, report
from techins.results.figures import DEFAULT_RETURN_PERIODS, quantile_equal, tvar_equal

stats = lazy_module("scipy.stats")
pa = lazy_module("pyarrow")
pa_csv = lazy_module("pyarrow.csv")
pq = lazy_module("pyarrow.parquet")

__all__ = [
    "SUMMARY_ID", "SAMPLE_ID", "SAMPLE_TYPE_SAMPLED", "EPCALC_FULL_UNCERTAINTY",
    "EPTYPE_OEP", "EPTYPE_OEP_TVAR", "EPTYPE_AEP", "EPTYPE_AEP_TVAR",
    "PLT_COLUMNS", "ELT_COLUMNS", "ANNUAL_COLUMNS", "ALT_COLUMNS", "ALCT_COLUMNS", "EPT_COLUMNS",
    "PERSPECTIVE_COLUMN", "TABLE_NAMES", "INPUT_COLUMNS", "ALCT_CONFIDENCE",
    "SCHEMAS", "KEYS", "FILE_TABLES", "PERSPECTIVE_CODES", "FORMATS",
    "AnnualLossTables",
    "period_loss_table", "event_loss_table", "annual_loss_table", "exceedance_table", "ord_tables",
    "ord_file_name", "write_ord", "write_ord_files",
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
SCHEMAS, KEYS, FILE_TABLES, PERSPECTIVE_CODES = ORD_SCHEMAS, ORD_KEYS, ORD_FILE_TABLES, ORD_PERSPECTIVE_CODES
FORMATS = ("csv", "parquet")
_INT32_MAX = 2**31 - 1
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

    event_id: np.ndarray   # int32, unique, ascending: 1 + rank of the occurrence_id among the input's
    period: np.ndarray     # int32, ORD period 1..years
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
    # ORD's Period is a 32-bit integer
    return validate.integer(_OWNER, "years", years, low=1, high=_INT32_MAX)


@dataclass(frozen=True)
class _Keys:
    """The validated occurrence keys of an input table: which event each row belongs to."""

    inverse: np.ndarray      # row -> index of its occurrence_id among the sorted distinct ids
    event_year: np.ndarray   # int64, 0-based year of each distinct id
    years: int


def _keys(occurrences, years) -> _Keys:
    """Validate ``year`` and ``occurrence_id`` and rank the occurrence ids (see the module docstring)."""
    years = _check_years(years)
    if not isinstance(occurrences, pd.DataFrame):
        raise InputTypeError(f"{_OWNER}: occurrences must be a pandas DataFrame, "
                             f"got {type(occurrences).__name__}")
    for name in INPUT_COLUMNS[:2]:
        if name not in occurrences.columns:
            raise InputError(f"{_OWNER}: occurrences has no column {name!r}; "
                             f"it needs {', '.join(INPUT_COLUMNS)}")
    year = _integer_column(occurrences, "year")
    outside = (year < 0) | (year >= years)
    if outside.any():
        raise InputError(f"{_OWNER}: column 'year' must be in [0, {years}), got "
                         f"{int(year[int(np.argmax(outside))])} at {_where(occurrences, outside)}")
    occurrence_id = _integer_column(occurrences, "occurrence_id")
    ids, first, inverse = np.unique(occurrence_id, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    event_year = year[first]
    moved = year != event_year[inverse]
    if moved.any():
        i = int(np.argmax(moved))
        raise InputError(f"{_OWNER}: column 'year' must be the same on every row of an occurrence; "
                         f"occurrence_id {int(occurrence_id[i])} is in year {int(event_year[inverse[i]])} "
                         f"and in year {int(year[i])} at {_where(occurrences, moved)}")
    if ids.size > _INT32_MAX:
        raise InputError(f"{_OWNER}: {ids.size:,} occurrences do not fit ORD's 32-bit EventId "
                         f"(at most {_INT32_MAX:,}); export fewer years at a time")
    return _Keys(inverse, event_year, years)


def _losses(occurrences: pd.DataFrame, column: str) -> np.ndarray:
    if column not in occurrences.columns:
        raise InputError(f"{_OWNER}: occurrences has no column {column!r}; "
                         f"it needs {', '.join(INPUT_COLUMNS)}")
    loss = _numeric_column(occurrences, column).to_numpy(dtype=np.float64)
    bad = ~np.isfinite(loss) | (loss < 0.0)
    if bad.any():
        raise InputError(f"{_OWNER}: column {column!r} must be finite and >= 0, got "
                         f"{float(loss[int(np.argmax(bad))])!r} at {_where(occurrences, bad)}")
    return loss


def _sum_events(keys: _Keys, loss: np.ndarray) -> _Events:
    total = np.bincount(keys.inverse, weights=loss, minlength=keys.event_year.size).astype(np.float64)
    keep = np.flatnonzero(total > 0.0)
    # EventId: the occurrence's rank among every occurrence_id of the input (zero events included), so
    # the tables of several perspectives made from one occurrence table give an event the same id;
    # occurrence ids themselves (chunk x 2**32 + index) do not fit ORD's 32 bits
    return _Events((keep + 1).astype(np.int32), (keys.event_year[keep] + 1).astype(np.int32), total[keep],
                   keys.years)


def _events(occurrences, years) -> _Events:
    """Validate the occurrence table and sum it into event losses (see the module docstring)."""
    keys = _keys(occurrences, years)
    return _sum_events(keys, _losses(occurrences, "loss"))


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
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int32),
        "SampleId": np.full(n, SAMPLE_ID, dtype=np.int32),
        "Loss": ev.loss[order],
    }, columns=list(PLT_COLUMNS))


def _elt(ev: _Events) -> pd.DataFrame:
    n = ev.event_id.size
    # each event id occurs once in the timeline: rate = occurrences / periods = 1 / years, and its one
    # draw is its sample mean
    return pd.DataFrame({
        "EventId": ev.event_id,
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int32),
        "SampleType": np.full(n, SAMPLE_TYPE_SAMPLED, dtype=np.int32),
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
        "Period": np.arange(1, years + 1, dtype=np.int32),
        "PeriodWeight": np.full(years, 1.0 / years),
        "SummaryId": np.full(years, SUMMARY_ID, dtype=np.int32),
        "SampleId": np.full(years, SAMPLE_ID, dtype=np.int32),
        "Loss": annual,
    }, columns=list(ANNUAL_COLUMNS))
    alt = pd.DataFrame({"SummaryId": [SUMMARY_ID], "SampleType": [SAMPLE_TYPE_SAMPLED],
                        "MeanLoss": [mean], "SDLoss": [sd]}, columns=list(ALT_COLUMNS))
    alt = alt.astype({"SummaryId": np.int32, "SampleType": np.int32})
    alct = pd.DataFrame({"SummaryId": [SUMMARY_ID], "MeanLoss": [mean], "SDLoss": [sd], "SampleSize": [1],
                         "LowerCI": [mean - half], "UpperCI": [mean + half], "StandardError": [se],
                         "RelativeError": [relative]}, columns=list(ALCT_COLUMNS))
    alct = alct.astype({"SummaryId": np.int32, "SampleSize": np.int32})
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
        "SummaryId": np.full(n, SUMMARY_ID, dtype=np.int32),
        "EPCalc": np.full(n, EPCALC_FULL_UNCERTAINTY, dtype=np.int32),
        "EPType": ep_type.astype(np.int32),
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
        ``EventId`` = 1 + the rank of the ``occurrence_id`` among the input's distinct ids (int32, as
        ORD says; the same event keeps its id in every perspective made from one table),
        ``SummaryId = 1``, ``SampleId = 1`` and the event ``Loss``;
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


def ord_file_name(perspective: str, table: str, summary_id: int = SUMMARY_ID) -> str:
    """The file stem OasisLMF gives a table: ``<perspective code>_S<summary set>_<table code>``.

    Parameters
    ----------
    perspective : str
        ``gross``, ``ceded`` or ``net`` (written ``il``, ``rl``, ``ri``: ``PERSPECTIVE_CODES``) or any
        other label of letters, digits and ``-`` (such as ``gul``), kept as it is.
    table : str
        A key of ``ord_tables`` (``plt``, ``elt``, ``alt``, ``alct``, ``ept``: written ``splt``, ``melt``,
        ``palt``, ``alct``, ``ept`` by ``FILE_TABLES``) or any other name, kept as it is.
    summary_id : int
        The summary set.

    Examples
    --------
    >>> ord_file_name("gross", "plt"), ord_file_name("net", "alt"), ord_file_name("gul", "ept")
    ('il_S1_splt', 'ri_S1_palt', 'gul_S1_ept')
    """
    perspective = _check_label("perspective", perspective, _PERSPECTIVE)
    table = _check_label("table name", table, _TABLE_NAME)
    summary_id = validate.integer(_OWNER, "summary_id", summary_id, low=1, high=_INT32_MAX)
    return f"{PERSPECTIVE_CODES.get(perspective, perspective)}_S{summary_id}_{FILE_TABLES.get(table, table)}"


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    if not formats or any(f not in FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise InputError(f"{_OWNER}: formats must be one or both of {', '.join(FORMATS)}, got {list(formats)}")
    return formats


def _arrow_table(table: pd.DataFrame, name: str, where: str):
    """The table as a pyarrow Table from its NumPy columns (no copy of an already typed column), typed
    and ordered as ``SCHEMAS`` says for an ORD table; NaN becomes null (an empty CSV field)."""
    columns = [c for c in table.columns if c != PERSPECTIVE_COLUMN]
    code = FILE_TABLES.get(name)
    if code is not None:
        spec = SCHEMAS[code]
        if columns != list(spec):
            raise InputError(f"{_OWNER}: table {where} must have the columns {', '.join(spec)} in that "
                             f"order, got {', '.join(map(str, columns))}")
        dtypes = spec
    else:
        dtypes = {c: table[c].dtype for c in columns}
    arrays = []
    for c in columns:
        values = table[c].to_numpy()
        if code is not None:
            values = values.astype(dtypes[c], copy=False)
        arrays.append(pa.array(values, from_pandas=values.dtype.kind == "f"))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in columns])


def _write_arrow(table, stem: Path, formats: tuple[str, ...]) -> list[Path]:
    written = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "csv":
            with open(path, "wb") as out:
                # the header by hand: pyarrow quotes header names, ORD and OasisLMF do not
                out.write((",".join(table.column_names) + "\n").encode("ascii"))
                pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False))
        else:
            pq.write_table(table, path, compression="snappy")
        written.append(path)
    return written


def write_ord(tables_by_perspective: dict, folder: Path, *, formats=FORMATS) -> list[Path]:
    """Write each table as ORD names it (``ord_file_name``), ``.csv`` and ``.parquet``, into a folder.

    Parameters
    ----------
    tables_by_perspective : dict of str to dict of str to pandas.DataFrame
        Perspective label -> table name -> table, e.g. ``{"gross": ord_tables(..., "gross")}``.
        A table's ``Perspective`` column, if any, must equal its key; it is not written (the
        perspective is in the file name). ORD tables (``plt``, ``elt``, ``alt``, ``alct``, ``ept``) must
        have ``SCHEMAS``' columns in order and are written with its types; other tables as they are.
    folder : pathlib.Path
        An existing folder (making it and replacing it atomically is the caller's job).
    formats : sequence of str
        ``"csv"``, ``"parquet"`` or both.

    Returns
    -------
    list of pathlib.Path
        The files written, in ``formats`` order for each table, e.g. ``il_S1_splt.csv``,
        ``il_S1_splt.parquet``, ..., ``ri_S1_ept.parquet``.
    """
    folder = Path(folder)
    formats = _check_formats(formats)
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
            where = f"{perspective}/{name}"
            if not isinstance(table, pd.DataFrame):
                raise InputTypeError(f"{_OWNER}: table {where} must be a pandas DataFrame, "
                                     f"got {type(table).__name__}")
            if PERSPECTIVE_COLUMN in table.columns:
                wrong = (table[PERSPECTIVE_COLUMN] != perspective).to_numpy()
                if wrong.any():
                    raise InputError(f"{_OWNER}: table {where}: column 'Perspective' is "
                                     f"{table[PERSPECTIVE_COLUMN].iloc[int(np.argmax(wrong))]!r} at "
                                     f"{_where(table, wrong)}, not {perspective!r}")
            jobs.append((folder / ord_file_name(perspective, name), _arrow_table(table, name, where)))
    stems = [stem.name for stem, _ in jobs]
    if len(set(stems)) != len(stems):
        raise InputError(f"{_OWNER}: two tables would be written to one file ({', '.join(stems)}); "
                         f"'gross'/'il', 'ceded'/'rl' and 'net'/'ri' name the same perspective")
    written = []
    for stem, table in jobs:
        written += _write_arrow(table, stem, formats)
    return written


def write_ord_files(occurrences: pd.DataFrame, years: int, folder: Path, perspectives: dict, *,
                    return_periods=DEFAULT_RETURN_PERIODS, confidence: float = ALCT_CONFIDENCE,
                    formats=FORMATS, progress=None) -> list[Path]:
    """The ORD tables of several perspectives of one occurrence table, written one perspective at a time.

    The fast path of ``ord_tables`` followed by ``write_ord``: the occurrence keys are checked and
    ranked once, each perspective's tables are built from arrays, written and let go before the next
    one, and no ``Perspective`` column is made (the perspective is in the file name).

    Parameters
    ----------
    occurrences : pandas.DataFrame
        Columns ``year`` and ``occurrence_id`` as in ``period_loss_table``, and one loss column per
        perspective.
    years : int
        Number of simulated periods.
    folder : pathlib.Path
        An existing folder.
    perspectives : dict of str to str
        Perspective label (``gross``, ``ceded``, ``net`` or an Oasis code) -> the loss column.
    return_periods, confidence
        As in ``exceedance_table`` and ``annual_loss_table``.
    formats : sequence of str
        ``"csv"``, ``"parquet"`` or both.
    progress : callable, optional
        ``progress(tables_written, tables)`` after each table of each perspective, after
        ``progress.phase("ORD tables")`` when it has that method (``techins.progress``).

    Returns
    -------
    list of pathlib.Path
        The files written: ``splt``, ``melt``, ``palt``, ``alct`` and ``ept`` of each perspective.
    """
    folder = Path(folder)
    formats = _check_formats(formats)
    level = validate.real(_OWNER, "confidence", confidence, low=0.0, high=1.0, low_open=True,
                          high_open=True)
    rps = _check_return_periods(return_periods)
    if not folder.is_dir():
        raise InputError(f"{_OWNER}: folder {folder} does not exist or is not a folder")
    if not isinstance(occurrences, pd.DataFrame):
        raise InputTypeError(f"{_OWNER}: occurrences must be a pandas DataFrame, "
                             f"got {type(occurrences).__name__}")
    if not isinstance(perspectives, dict) or not perspectives:
        raise InputTypeError(f"{_OWNER}: perspectives must be a non-empty dict of perspective to loss column, "
                             f"got {perspectives!r}")
    stems = {}
    for perspective, column in perspectives.items():
        stem = ord_file_name(perspective, "plt")
        if stem in stems:
            raise InputError(f"{_OWNER}: perspectives {stems[stem]!r} and {perspective!r} name the same files")
        stems[stem] = perspective
        if column not in occurrences.columns:
            raise InputError(f"{_OWNER}: occurrences has no loss column {column!r} for perspective "
                             f"{perspective!r}")
    # check the keys once and every perspective's losses before writing any file; then one
    # perspective's tables at a time, so that only one is held in memory
    keys = _keys(occurrences, years)
    for column in perspectives.values():
        _losses(occurrences, column)
    written = []
    announce(progress, "ORD tables")
    n_tables = 5 * len(perspectives)
    for p, (perspective, column) in enumerate(perspectives.items()):
        ev = _sum_events(keys, _losses(occurrences, column))
        annual = _annual_tables(ev, level)
        tables = {"plt": _plt(ev), "elt": _elt(ev), "alt": annual.alt, "alct": annual.alct, "ept": _ept(ev, rps)}
        for t, (name, table) in enumerate(tables.items()):
            written += _write_arrow(_arrow_table(table, name, f"{perspective}/{name}"),
                                    folder / ord_file_name(perspective, name), formats)
            report(progress, 5 * p + t + 1, n_tables)
        del ev, annual, tables
    return written
