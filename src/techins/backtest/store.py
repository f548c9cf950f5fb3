"""The run store: every back-testing run, its parameters and its result tables, in one SQLite file.

A periodic back-test (say, quarterly actual-vs-expected of each priced line) saves one *run* per
scope. The next run compares itself with the previous one of the same scope; an auditor reopens any
run as it was. The store is a single SQLite file written through the standard library's ``sqlite3``;
it can be read with any SQLite client.

Every save is one transaction: a run is stored whole or not at all. Each method opens the file, does
its work and closes it, so a ``RunStore`` holds no open handle between calls.

Schema (version 1)
------------------
The file carries ``PRAGMA application_id = 0x54494E53`` ("TINS") and these tables (all ``STRICT``):

``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``format`` = ``techins run store``, ``schema_version`` = ``1``, ``created`` (UTC ISO time).
``runs(run_id, scope, started, finished, code_version, inputs_hash, parameters, status)``
    One row per run; ``run_id`` is ``INTEGER PRIMARY KEY AUTOINCREMENT``, so ids only grow.
    ``started`` and ``finished`` are UTC ISO-8601 texts with microseconds
    (``2024-03-31T12:00:00.000000+00:00``), so they sort as text; ``parameters`` is JSON text;
    ``status`` is ``complete`` (a save that fails leaves no row).
``run_tables(run_id, position, name, sql_table, n_rows, columns)``
    One row per result table of a run: its name, its order in the run, the SQLite table holding its
    rows, its row count and ``columns``, a JSON list of ``[column, dtype]`` pairs in column order.
    The dtype is ``float64``, ``int64``, ``bool``, ``object`` (str values or None),
    ``str[<storage>]`` (pandas' default string dtype, missing = NaN) or ``string[<storage>]``
    (missing = ``pd.NA``).
``result_<name>(run_id, row, <column> ..., PRIMARY KEY (run_id, row))``
    The rows of every run's table called ``<name>``, one SQLite row per DataFrame row, ``row`` being
    its position (0, 1, ...). Columns are typed: ``INTEGER`` for int64 and bool (0/1), ``TEXT`` for
    strings (NULL when missing) and ``ANY`` for float64, since a ``REAL`` column would store -0.0 as
    the integer 0; NaN is stored as NULL, ±inf as themselves. A column first seen in a later run is
    added to the table (earlier runs read NULL there, and ``run_tables.columns`` says which columns
    belong to which run). When a later run gives a column a different SQL type, its rows go to a new
    table ``result_<name>__2`` (then ``__3``, ...); ``run_tables.sql_table`` says where each run is.

For example, the actual-vs-expected table of every run of scope ``"motor"``::

    SELECT r.run_id, r.started, a.*
    FROM runs r JOIN run_tables t USING (run_id) JOIN result_ave a USING (run_id)
    WHERE r.scope = 'motor' AND t.name = 'ave' AND t.sql_table = 'result_ave'
    ORDER BY r.run_id, a.row;

What round-trips exactly: the values (bit for bit, NaN aside, whose payload is not kept), dtypes and
column order of float64, int64, bool and string columns, and empty tables. Not kept: the row index
(a table must have the default ``RangeIndex``; call ``reset_index()`` first), the name of the column
index, ``DataFrame.attrs``; other dtypes (datetimes, categoricals, nullable integers) are refused.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> from techins.backtest.store import RunStore
>>> folder = tempfile.TemporaryDirectory()
>>> with RunStore(pathlib.Path(folder.name) / "runs.sqlite") as store:
...     first = store.save("motor", {"ave": pd.DataFrame({"line": ["a", "b"], "ratio": [0.9, 1.2]})},
...                        parameters={"level": 0.95}, inputs_hash="3f2a", code_version="0.1.0")
...     run = store.load(first)
...     print(run.scope, run.parameters, list(run.tables["ave"]["ratio"]))
...     print(store.previous("motor", before=first))
motor {'level': 0.95} [0.9, 1.2]
None
>>> folder.cleanup()
"""

from __future__ import annotations

import json
import numbers
import os
import sqlite3
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from techins.errors import InputError, InputTypeError

__all__ = ["SCHEMA_VERSION", "RunStore", "StoredRun"]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x54494E53  # "TINS": tells a techins store from any other SQLite file
FORMAT = "techins run store"
STATUS_COMPLETE = "complete"

_RESERVED_COLUMNS = ("run_id", "row")
# SQLite's default SQLITE_MAX_COLUMN, less the run_id and row columns.
_MAX_COLUMNS = 2000 - len(_RESERVED_COLUMNS)
_MAX_RUN_ID = 2**63 - 1
_SQL_TYPES = {"float64": "ANY", "int64": "INTEGER", "bool": "INTEGER", "object": "TEXT"}
# SQLite compares identifiers case-insensitively for ASCII letters only.
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, started TEXT NOT NULL, "
    "finished TEXT NOT NULL, code_version TEXT NOT NULL, inputs_hash TEXT NOT NULL, parameters TEXT NOT NULL, "
    "status TEXT NOT NULL) STRICT",
    "CREATE INDEX runs_by_scope ON runs (scope, run_id)",
    "CREATE TABLE run_tables (run_id INTEGER NOT NULL REFERENCES runs (run_id), position INTEGER NOT NULL, "
    "name TEXT NOT NULL, sql_table TEXT NOT NULL, n_rows INTEGER NOT NULL, columns TEXT NOT NULL, "
    "PRIMARY KEY (run_id, name), UNIQUE (run_id, position)) STRICT",
)
_RUN_FIELDS = "run_id, scope, started, finished, code_version, inputs_hash, parameters, status"


@dataclass(frozen=True, eq=False)
class StoredRun:
    """One run as it was saved.

    Attributes
    ----------
    run_id : int
        The store's id of the run, increasing with every save.
    scope : str
        What was back-tested (a line, a book, a product).
    started, finished : datetime
        When the run started and when it was saved, timezone-aware UTC.
    code_version : str
        The version of the code that produced it.
    inputs_hash : str
        A hash of its inputs, as given to ``RunStore.save``.
    status : str
        ``"complete"``.
    parameters : dict
        The run's parameters, as given (after a JSON round trip, which they must survive unchanged).
    tables : dict of str to pandas.DataFrame
        The result tables, in the order they were given.
    """

    run_id: int
    scope: str
    started: datetime
    finished: datetime
    code_version: str
    inputs_hash: str
    status: str
    parameters: dict
    tables: dict = field(repr=False)


@dataclass(frozen=True)
class _Table:
    """A result table checked for storage: its columns as (name, dtype label) pairs."""

    name: str
    frame: pd.DataFrame
    columns: tuple


class RunStore:
    """The SQLite store of back-testing runs at ``path``.

    The file and its schema are created when absent (with any missing parent folders); an existing
    file must be a techins run store of this or an older schema version.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file.

    Raises
    ------
    InputError
        The path is a folder, the file is not an SQLite database, is an SQLite database but not a
        techins run store, or was written by a newer techins (a newer schema version).

    Notes
    -----
    No connection stays open between calls, so an instance needs no closing; it is a context
    manager all the same, and ``close()`` makes any later call fail, which catches use after the
    ``with`` block.
    """

    def __init__(self, path):
        if not isinstance(path, (str, os.PathLike)):
            raise InputTypeError(f"RunStore: path must be a str or path, got {path!r} of type {type(path).__name__}")
        if sqlite3.sqlite_version_info < (3, 37, 0):
            raise RuntimeError(f"RunStore needs SQLite 3.37 or newer (STRICT tables); this Python has "
                               f"{sqlite3.sqlite_version}")
        self._path = Path(path)
        self._closed = False
        if self._path.is_dir():
            raise InputError(f"RunStore: {self._path} is a folder; give the path of a file")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"RunStore: cannot make the folder of {self._path} ({exc})") from None
        with self._connection("RunStore", create=True) as con:
            if _inspect(con, self._path) == "empty":
                with _transaction(con, immediate=True):
                    # Re-checked under the write lock: another process may have created it meanwhile.
                    if _inspect(con, self._path) == "empty":
                        _create_schema(con)

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def __repr__(self) -> str:
        return f"RunStore({str(self._path)!r})"

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Mark the store closed: later calls raise ``InputError``. Idempotent."""
        self._closed = True

    def save(self, scope: str, tables: dict, *, parameters: dict, inputs_hash: str, code_version: str,
             started: datetime | None = None) -> int:
        """Store one run, its parameters and its result tables, in one transaction.

        Parameters
        ----------
        scope : str
            What was back-tested; ``previous`` finds runs by it.
        tables : dict of str to pandas.DataFrame
            The result tables by name. Each has a default ``RangeIndex`` and unique str column names
            (other than ``run_id`` and ``row``, and unique ignoring ASCII case, as SQLite compares
            them); columns are float64, int64, bool, pandas strings, or object holding str or None.
        parameters : dict
            The run's parameters, JSON data (dicts with str keys, lists, str, int, finite float,
            bool, None) that survives a JSON round trip unchanged (so no tuples).
        inputs_hash : str
            A hash of the run's inputs.
        code_version : str
            The version of the code that produced the run.
        started : datetime, optional
            When the run started, timezone-aware; now when not given. ``finished`` is the time of
            the save.

        Returns
        -------
        int
            The new run's id.

        Raises
        ------
        InputError, InputTypeError
            A bad argument, named with its value; nothing is written.
        """
        with self.saving(scope, tables, parameters=parameters, inputs_hash=inputs_hash, code_version=code_version,
                         started=started) as run_id:
            pass
        return run_id

    @contextmanager
    def saving(self, scope: str, tables: dict, *, parameters: dict, inputs_hash: str, code_version: str,
               started: datetime | None = None) -> Iterator[int]:
        """``save``, committed only when the ``with`` block ends without an exception.

        Yields the new run's id while its transaction is still open, so work that needs the id (a
        report naming it) can be done first; an exception in the block rolls the whole run back.
        The store is locked for writing meanwhile: keep the block short.
        """
        self._check_open("save")
        scope = _text("save", "scope", scope)
        inputs_hash = _text("save", "inputs_hash", inputs_hash)
        code_version = _text("save", "code_version", code_version)
        parameters_json = _parameters_json(parameters)
        started = _utc_now() if started is None else _as_utc("save", "started", started)
        prepared = _prepare_tables(tables)
        with self._connection("RunStore.save") as con, _transaction(con, immediate=True):
            cursor = con.execute(
                f"INSERT INTO runs ({_RUN_FIELDS.removeprefix('run_id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, _iso(started), _iso(_utc_now()), code_version, inputs_hash, parameters_json,
                 STATUS_COMPLETE))
            run_id = cursor.lastrowid
            for position, table in enumerate(prepared):
                sql_table = _sql_table_for(con, table)
                con.execute("INSERT INTO run_tables (run_id, position, name, sql_table, n_rows, columns) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (run_id, position, table.name, sql_table, len(table.frame),
                             json.dumps([list(c) for c in table.columns], ensure_ascii=False)))
                _insert_rows(con, sql_table, run_id, table)
            yield run_id

    def runs(self, scope: str | None = None) -> pd.DataFrame:
        """The stored runs, of one scope or all, oldest first (by ``run_id``).

        Parameters
        ----------
        scope : str, optional
            Only the runs of this scope.

        Returns
        -------
        pandas.DataFrame
            Columns ``run_id``, ``scope``, ``started``, ``finished`` (UTC timestamps),
            ``code_version``, ``inputs_hash``, ``parameters`` (JSON text), ``status`` and
            ``n_tables``.
        """
        self._check_open("runs")
        where, args = "", ()
        if scope is not None:
            where, args = "WHERE scope = ?", (_text("runs", "scope", scope),)
        with self._connection("RunStore.runs") as con:
            rows = con.execute(
                f"SELECT {_RUN_FIELDS}, (SELECT COUNT(*) FROM run_tables t WHERE t.run_id = r.run_id) "
                f"FROM runs r {where} ORDER BY run_id", args).fetchall()
        columns = list(zip(*rows)) if rows else [()] * 9
        times = {name: pd.to_datetime(list(values), utc=True, format="ISO8601").astype("datetime64[us, UTC]")
                 for name, values in zip(("started", "finished"), columns[2:4])}
        return pd.DataFrame({
            "run_id": np.array(columns[0], dtype=np.int64),
            "scope": pd.array(list(columns[1]), dtype="str"),
            "started": times["started"],
            "finished": times["finished"],
            "code_version": pd.array(list(columns[4]), dtype="str"),
            "inputs_hash": pd.array(list(columns[5]), dtype="str"),
            "parameters": pd.array(list(columns[6]), dtype="str"),
            "status": pd.array(list(columns[7]), dtype="str"),
            "n_tables": np.array(columns[8], dtype=np.int64),
        })

    def load(self, run_id: int) -> StoredRun:
        """The run ``run_id`` with its parameters and tables.

        Raises
        ------
        InputError
            No run has this id.
        """
        self._check_open("load")
        run_id = _run_id("load", "run_id", run_id, self._path)
        with self._connection("RunStore.load") as con, _transaction(con):
            row = con.execute(f"SELECT {_RUN_FIELDS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise InputError(f"RunStore.load: run_id={run_id} is not a run id in the run store {self._path}")
            entries = con.execute("SELECT name, sql_table, n_rows, columns FROM run_tables WHERE run_id = ? "
                                  "ORDER BY position", (run_id,)).fetchall()
            tables = {name: _read_table(con, self._path, run_id, name, sql_table, n_rows, json.loads(columns))
                      for name, sql_table, n_rows, columns in entries}
        _, scope, started, finished, code_version, inputs_hash, parameters, status = row
        return StoredRun(run_id=run_id, scope=scope, started=datetime.fromisoformat(started),
                         finished=datetime.fromisoformat(finished), code_version=code_version,
                         inputs_hash=inputs_hash, status=status, parameters=json.loads(parameters),
                         tables=tables)

    def previous(self, scope: str, before: int | None = None) -> StoredRun | None:
        """The latest run of ``scope``, or the latest one saved before run ``before``; None if none.

        Parameters
        ----------
        scope : str
            The scope.
        before : int, optional
            A stored run's id (of any scope); only runs with a smaller id are considered.

        Raises
        ------
        InputError
            ``before`` is not the id of a stored run.
        """
        self._check_open("previous")
        scope = _text("previous", "scope", scope)
        if before is not None:
            before = _run_id("previous", "before", before, self._path)
        with self._connection("RunStore.previous") as con:
            if before is not None and con.execute("SELECT 1 FROM runs WHERE run_id = ?", (before,)).fetchone() is None:
                raise InputError(f"RunStore.previous: before={before} is not a run id in the run store {self._path}")
            last = before - 1 if before is not None else _MAX_RUN_ID
            row = con.execute("SELECT run_id FROM runs WHERE scope = ? AND run_id <= ? ORDER BY run_id DESC LIMIT 1",
                              (scope, last)).fetchone()
        return None if row is None else self.load(row[0])

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise InputError(f"RunStore.{method}: the store {self._path} was closed")

    @contextmanager
    def _connection(self, owner: str, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        """An autocommit connection (transactions are explicit), always closed on leaving."""
        # A URI with mode=rw stops a later call from silently creating an empty file where the store was.
        uri = f"{self._path.resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            con = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise InputError(f"{owner}: cannot open the run store {self._path} ({exc})") from None
        try:
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname == "SQLITE_NOTADB":
                raise InputError(f"{owner}: {self._path} is not an SQLite database, so not a techins run "
                                 f"store") from None
            raise
        finally:
            con.close()


@contextmanager
def _transaction(con: sqlite3.Connection, *, immediate: bool = False) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception, so DDL is undone too."""
    con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        # SQLite may already have rolled back on some errors (e.g. a full disk).
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _inspect(con: sqlite3.Connection, path: Path) -> str:
    """``"empty"`` for a new database, ``"store"`` for a readable techins store; else InputError."""
    application_id = con.execute("PRAGMA application_id").fetchone()[0]
    names = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master"))
    if application_id == 0 and not names:
        return "empty"
    if application_id != APPLICATION_ID:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(f"RunStore: {path} is an SQLite database but not a techins run store "
                         f"(application_id {application_id}, tables: {shown or 'none'})")
    meta = dict(con.execute("SELECT key, value FROM meta")) if "meta" in names else {}
    version = meta.get("schema_version", "")
    if meta.get("format") != FORMAT or not version.isdigit():
        raise InputError(f"RunStore: {path} has the techins application id but no valid meta table "
                         f"(format {meta.get('format')!r}, schema_version {version!r}); the file is damaged")
    if int(version) > SCHEMA_VERSION:
        raise InputError(f"RunStore: {path} has schema version {int(version)}, written by a newer techins; "
                         f"this version reads up to schema version {SCHEMA_VERSION}")
    return "store"


def _create_schema(con: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("created", _iso(_utc_now()))])


def _prepare_tables(tables) -> list[_Table]:
    """Check every table before the transaction starts, so bad input writes nothing at all."""
    if not isinstance(tables, Mapping):
        raise InputTypeError(f"RunStore.save: tables must be a dict of name -> pandas.DataFrame, got "
                             f"{type(tables).__name__}")
    prepared = []
    for name, frame in tables.items():
        _identifier("RunStore.save: table name", name)
        where = f"RunStore.save: tables[{name!r}]"
        if not isinstance(frame, pd.DataFrame):
            raise InputTypeError(f"{where} must be a pandas.DataFrame, got {type(frame).__name__}")
        index = frame.index
        if not (index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype)
                and index.equals(pd.RangeIndex(len(frame)))):
            raise InputError(f"{where}: the row index must be the default RangeIndex 0..n-1 without a name, "
                             f"got {type(index).__name__} {list(index[:3])}...; the store keeps rows in order "
                             f"only, so call reset_index() (keeping the index as a column) or "
                             f"reset_index(drop=True)")
        if len(frame.columns) > _MAX_COLUMNS:
            raise InputError(f"{where} has {len(frame.columns)} columns; SQLite allows {_MAX_COLUMNS}")
        seen = {}
        columns = []
        for column, dtype in frame.dtypes.items():
            _identifier(f"{where}: column name", column)
            folded = column.translate(_ASCII_FOLD)
            if folded in _RESERVED_COLUMNS:
                raise InputError(f"{where}: column {column!r} clashes with the store's own column {folded!r}; "
                                 f"rename it")
            if folded in seen:
                raise InputError(f"{where}: columns {seen[folded]!r} and {column!r} are the same name to SQLite, "
                                 f"which ignores ASCII case; rename one")
            seen[folded] = column
            columns.append((column, _dtype_label(where, column, dtype, frame[column])))
        prepared.append(_Table(name=name, frame=frame, columns=tuple(columns)))
    return prepared


def _dtype_label(where: str, column: str, dtype, values: pd.Series) -> str:
    if isinstance(dtype, pd.StringDtype):
        kind = "string" if dtype.na_value is pd.NA else "str"
        return f"{kind}[{dtype.storage}]"
    if isinstance(dtype, np.dtype) and dtype.name in ("float64", "int64", "bool"):
        return dtype.name
    if isinstance(dtype, np.dtype) and dtype == np.dtype(object):
        bad = next((v for v in values if v is not None and not isinstance(v, str)), None)
        if bad is None:
            return "object"
        raise InputTypeError(f"{where}: object column {column!r} holds {bad!r} of type {type(bad).__name__}; "
                             f"an object column may hold only str or None (convert with .astype('str'))")
    raise InputTypeError(f"{where}: column {column!r} has dtype {dtype}; the store keeps float64, int64, bool "
                         f"and string columns")


def _sql_type(label: str) -> str:
    return _SQL_TYPES.get(label, "TEXT")


def _sql_table_for(con: sqlite3.Connection, table: _Table) -> str:
    """The SQLite table for ``table``'s rows: the first earlier one of that name whose columns agree in
    SQL type (adding the columns it lacks), else a new one."""
    wanted = {column.translate(_ASCII_FOLD): (column, _sql_type(label)) for column, label in table.columns}
    earlier = [r[0] for r in con.execute("SELECT sql_table FROM run_tables WHERE name = ? GROUP BY sql_table "
                                         "ORDER BY MIN(run_id)", (table.name,))]
    for sql_table in earlier:
        existing = {r[1].translate(_ASCII_FOLD): (r[1], r[2])
                    for r in con.execute(f"PRAGMA table_info({_quote(sql_table)})")}
        if all(existing.get(key, spec) == spec for key, spec in wanted.items()):
            for key, (column, sql_type) in wanted.items():
                if key not in existing:
                    con.execute(f"ALTER TABLE {_quote(sql_table)} ADD COLUMN {_quote(column)} {sql_type}")
            return sql_table
    taken = {r[0].translate(_ASCII_FOLD) for r in con.execute("SELECT name FROM sqlite_master")}
    base = sql_table = f"result_{table.name}"
    version = 2
    while sql_table.translate(_ASCII_FOLD) in taken:
        sql_table, version = f"{base}__{version}", version + 1
    data_columns = "".join(f", {_quote(column)} {sql_type}" for column, sql_type in wanted.values())
    con.execute(f"CREATE TABLE {_quote(sql_table)} (run_id INTEGER NOT NULL REFERENCES runs (run_id), "
                f"row INTEGER NOT NULL{data_columns}, PRIMARY KEY (run_id, row)) STRICT, WITHOUT ROWID")
    return sql_table


def _insert_rows(con: sqlite3.Connection, sql_table: str, run_id: int, table: _Table) -> None:
    """Insert the rows of ``table`` into ``sql_table`` under ``run_id``."""
    names = "".join(f", {_quote(column)}" for column, _ in table.columns)
    marks = ", ?" * len(table.columns)
    values = [_python_values(table.frame[column], label) for column, label in table.columns]
    rows = zip(repeat(run_id), range(len(table.frame)), *values)
    con.executemany(f"INSERT INTO {_quote(sql_table)} (run_id, row{names}) VALUES (?, ?{marks})", rows)


def _python_values(series: pd.Series, label: str) -> list:
    """The column as Python values sqlite3 binds, missing values as None."""
    if label == "float64":
        # SQLite would turn NaN into NULL anyway; doing it here keeps that out of the binding layer.
        return [None if x != x else x for x in series.to_numpy().tolist()]
    if label in ("int64", "bool", "object"):
        return series.to_numpy().tolist()
    return series.to_numpy(dtype=object, na_value=None).tolist()


def _read_table(con: sqlite3.Connection, path: Path, run_id: int, name: str, sql_table: str, n_rows: int,
                columns: list) -> pd.DataFrame:
    names = "".join(f", {_quote(column)}" for column, _ in columns)
    rows = con.execute(f"SELECT row{names} FROM {_quote(sql_table)} WHERE run_id = ? ORDER BY row",
                       (run_id,)).fetchall()
    if [r[0] for r in rows] != list(range(n_rows)):
        raise InputError(f"RunStore.load: run {run_id} table {name!r} in {path} has {len(rows)} rows in "
                         f"{sql_table}, {n_rows} expected; the store is damaged")
    values = list(zip(*rows))[1:] if rows else [()] * len(columns)
    data = {column: _column(vals, label) for (column, label), vals in zip(columns, values)}
    return pd.DataFrame(data, index=pd.RangeIndex(n_rows))


def _column(values: tuple, label: str) -> pd.Series:
    if label == "float64":
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype=np.float64))
    if label in ("int64", "bool"):
        return pd.Series(np.array(values, dtype=np.dtype(label)))
    if label == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return pd.Series(array, dtype=object)
    kind, storage = label.rstrip("]").split("[")
    dtype = pd.StringDtype(storage=storage, na_value=np.nan) if kind == "str" else pd.StringDtype(storage=storage)
    return pd.Series(pd.array(list(values), dtype=dtype))


def _parameters_json(parameters) -> str:
    if not isinstance(parameters, dict):
        raise InputTypeError(f"RunStore.save: parameters must be a dict, got {type(parameters).__name__}")
    try:
        text = json.dumps(parameters, allow_nan=False, ensure_ascii=False)
    except TypeError as exc:
        raise InputTypeError(f"RunStore.save: parameters must be JSON data (dict, list, str, int, float, bool, "
                             f"None): {exc}") from None
    except ValueError as exc:
        raise InputError(f"RunStore.save: parameters must be JSON data without NaN or inf: {exc}") from None
    if json.loads(text) != parameters:
        raise InputError(f"RunStore.save: parameters {parameters!r} change in a JSON round trip (to "
                         f"{json.loads(text)!r}); use lists, not tuples, and str keys")
    return text


def _identifier(what: str, value) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{what} must be a str, got {value!r} of type {type(value).__name__}")
    if not value or "\x00" in value:
        raise InputError(f"{what} must be non-empty and without NUL characters, got {value!r}")
    return value


def _text(method: str, name: str, value) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"RunStore.{method}: {name} must be a str, got {value!r} of type {type(value).__name__}")
    if not value:
        raise InputError(f"RunStore.{method}: {name} must not be empty")
    return value


def _run_id(method: str, name: str, value, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"RunStore.{method}: {name} must be an integer run id, got {value!r} of type "
                             f"{type(value).__name__}")
    if not 1 <= int(value) <= _MAX_RUN_ID:
        # Checked here because sqlite3 cannot even bind an integer beyond 64 bits.
        raise InputError(f"RunStore.{method}: {name}={int(value)} is not a run id in the run store {path}")
    return int(value)


def _as_utc(method: str, name: str, value) -> datetime:
    if not isinstance(value, datetime):
        raise InputTypeError(f"RunStore.{method}: {name} must be a datetime, got {value!r} of type "
                             f"{type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"RunStore.{method}: {name} must be timezone-aware (e.g. datetime.now(timezone.utc)), "
                         f"got {value!r}")
    value = value.astimezone(timezone.utc)
    # Rebuilt as a plain datetime so pandas.Timestamp's nanoseconds cannot leak into the ISO text.
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=timezone.utc)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
