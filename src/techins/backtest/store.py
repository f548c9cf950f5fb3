"""The run store: every back-testing run, its parameters and its result tables, in one SQLite file.

A periodic back-test (say, quarterly actual-vs-expected of each priced line) saves one *run* per
scope. The next run compares itself with the previous one of the same scope; an auditor reopens any
run as it was. The store is a single SQLite file written through the standard library's ``sqlite3``;
it can be read with any SQLite client.

Every save is one transaction: a run is stored whole or not at all. Each method opens the file, does
its work and closes it, so a ``RunStore`` holds no open handle between calls.

Schema (version 2)
------------------
The file carries ``PRAGMA application_id = 0x54494E53`` ("TINS") and these tables (all ``STRICT``):

``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``format`` = ``techins run store``, ``schema_version`` = ``2``, ``created`` (UTC ISO time) and,
    for a store migrated from an older schema, ``migrated_to_<version>`` (when it was).
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
    One table per kind of result: the rows of every run's table called ``<name>``, one SQLite row
    per DataFrame row, ``row`` being its position (0, 1, ...). A name that differs from an earlier
    one only in ASCII case (which SQLite table names ignore) gets ``result_<name>__2`` (``__3``,
    ...); ``run_tables.sql_table`` names the table of each. Columns are typed as the data is:
    ``INTEGER`` for int64 and bool (0/1), ``REAL`` for float64 (NaN as NULL, ±inf as themselves),
    ``TEXT`` for strings (NULL when missing). A column first seen in a later run is added to the
    table with its type (earlier runs read NULL there; ``run_tables.columns`` says which columns
    belong to which run). When runs disagree, the column takes the narrowest type that holds every
    stored value exactly and the table is rebuilt to it in the saving transaction: int64 with
    float64 is ``REAL`` (``TEXT`` if an integer beyond ±2**53 is stored, which a double cannot
    hold), numbers with strings ``TEXT`` (numbers as their exact decimal text: ``repr`` of the
    float, so ``inf``, ``-0.0``, ``1e-300``); a column holding only NULLs takes the type of the
    first values that come. Each run reads its values back in its own dtype.
``negative_zeros(run_id, name, column_name, row)``
    The cells of float64 columns that hold -0.0: a ``REAL`` column reads -0.0 back as 0.0 (SQLite
    stores a whole-number real as an integer on disk), so the sign is kept here and restored by
    ``load``. Any other SQLite client sees 0.0.

Versions and migration: schema 1 (techins before the typed store) kept float64 columns as ``ANY``
and forked a result table into ``result_<name>__2`` when a run typed a column differently. A store
of an older schema is migrated when opened, in one transaction: every run, row and value is kept,
the forked tables are merged back into one per name, and a failure leaves the file as it was (and
raises ``InputError`` saying what to do). A store of a newer schema is refused.

For example, the actual-vs-expected table of every run of scope ``"motor"``::

    SELECT r.run_id, r.started, a.*
    FROM runs r JOIN result_ave a USING (run_id)
    WHERE r.scope = 'motor'
    ORDER BY r.run_id, a.row;

What round-trips exactly: the values (bit for bit, -0.0 included, NaN aside, whose payload is not
kept), dtypes and column order of float64, int64, bool and string columns, and empty tables. Not
kept: the row index (a table must have the default ``RangeIndex``; call ``reset_index()`` first), the
name of the column index, ``DataFrame.attrs``; other dtypes (datetimes, categoricals, nullable
integers) are refused.

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

SCHEMA_VERSION = 2
APPLICATION_ID = 0x54494E53  # "TINS": tells a techins store from any other SQLite file
FORMAT = "techins run store"
STATUS_COMPLETE = "complete"

_RESERVED_COLUMNS = ("run_id", "row")
# SQLite's default SQLITE_MAX_COLUMN, less the run_id and row columns.
_MAX_COLUMNS = 2000 - len(_RESERVED_COLUMNS)
_MAX_RUN_ID = 2**63 - 1
# seconds a connection waits for another program's lock before failing (sqlite3's default)
_LOCK_WAIT = 5.0
# The SQL type a column of each dtype takes when its first values come; strings are TEXT.
_NATURAL_TYPES = {"float64": "REAL", "int64": "INTEGER", "bool": "INTEGER"}
# Integers a double holds exactly: beyond, int64 and float64 values share only a TEXT column.
_EXACT_IN_DOUBLE = 2**53
# A table being rebuilt with new column types, renamed to its own name before the transaction ends;
# outside the result_ names, so it can clash with no result table.
_REBUILDING = "_rebuilding"
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
_NEGATIVE_ZEROS = (
    "CREATE TABLE negative_zeros (run_id INTEGER NOT NULL, name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "row INTEGER NOT NULL, PRIMARY KEY (run_id, name, column_name, row), "
    "FOREIGN KEY (run_id, name) REFERENCES run_tables (run_id, name)) STRICT, WITHOUT ROWID")
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
    file must be a techins run store of this or an older schema version. An older one is migrated
    to this version in one transaction (see the module's docstring); if that fails the file is left
    as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file.

    Raises
    ------
    InputError
        The path is a folder, the file is not an SQLite database, is an SQLite database but not a
        techins run store, was written by a newer techins (a newer schema version), or is of an
        older schema version and could not be migrated (the file is then unchanged).

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
            found = _inspect(con, self._path)
            if found != SCHEMA_VERSION:
                _create_or_migrate(con, self._path, found)

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
                sql_table = _sql_table_of(con, table.name)
                con.execute("INSERT INTO run_tables (run_id, position, name, sql_table, n_rows, columns) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (run_id, position, table.name, sql_table, len(table.frame),
                             json.dumps([list(c) for c in table.columns], ensure_ascii=False)))
                _store_rows(con, sql_table, run_id, table)
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
            con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_LOCK_WAIT)
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


def _inspect(con: sqlite3.Connection, path: Path) -> str | int:
    """``"empty"`` for a new database, else the schema version of a techins store this code can open
    (this one or older); InputError for anything else."""
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
    if meta.get("format") != FORMAT or not version.isdigit() or int(version) < 1:
        raise InputError(f"RunStore: {path} has the techins application id but no valid meta table "
                         f"(format {meta.get('format')!r}, schema_version {version!r}); the file is damaged")
    if int(version) > SCHEMA_VERSION:
        raise InputError(f"RunStore: {path} has schema version {int(version)}, written by a newer techins; "
                         f"this version reads schema versions up to {SCHEMA_VERSION}: upgrade techins "
                         f"(pip install --upgrade techins) to open it")
    return int(version)


def _create_or_migrate(con: sqlite3.Connection, path: Path, found: str | int) -> None:
    """Create the schema in an empty database, or migrate an older store (of schema version ``found``)
    to this schema version, in one transaction: a failure leaves the file as it was."""
    try:
        with _transaction(con, immediate=True):
            # Re-checked under the write lock: another process may have created or migrated it meanwhile.
            found = _inspect(con, path)
            if found == "empty":
                _create_schema(con)
            elif found < SCHEMA_VERSION:
                _migrate(con, path, found)
    except sqlite3.Error as exc:
        if found == "empty":
            raise InputError(f"RunStore: cannot create the run store {path} ({exc})") from None
        raise InputError(f"RunStore: {path} has schema version {found}, which this techins migrates to "
                         f"version {SCHEMA_VERSION} when it opens it, but the migration failed ({exc}); the "
                         f"file is unchanged. Make it writable, free disk space or close the programs using "
                         f"it, then open it again; or read it with the techins that wrote it") from None


def _create_schema(con: sqlite3.Connection) -> None:
    for statement in (*_SCHEMA, _NEGATIVE_ZEROS):
        con.execute(statement)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("created", _iso(_utc_now()))])


def _migrate(con: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a store of schema ``version`` to this one, a step at a time, inside the caller's transaction."""
    while version < SCHEMA_VERSION:
        _MIGRATIONS[version](con, path)
        version += 1
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (f"migrated_to_{version}", _iso(_utc_now())))


def _migrate_1_to_2(con: sqlite3.Connection, path: Path) -> None:
    """Schema 1 to 2: one typed result table per name (the forked ``__2`` tables merged back, float
    columns ``REAL`` instead of ``ANY``) and the ``negative_zeros`` table.

    Every run's tables are read as schema 1 kept them and written again, run by run in ``run_id``
    order, by the schema-2 code that saves (which types and widens columns as a save does).
    """
    con.execute(_NEGATIVE_ZEROS)
    entries = con.execute("SELECT run_id, name, sql_table, n_rows, columns FROM run_tables "
                          "ORDER BY run_id, position").fetchall()
    # The old tables move aside first, so that the new ones can take the plain result_<name> names.
    aside = {}
    for number, sql_table in enumerate(sorted({entry[2] for entry in entries}), start=1):
        aside[sql_table] = f"_schema1_{number}"
        con.execute(f"ALTER TABLE {_quote(sql_table)} RENAME TO {_quote(aside[sql_table])}")
    new_tables = {}
    for _, name, _, _, _ in entries:
        if name not in new_tables:
            new_tables[name] = _free_table_name(con, name, set(new_tables.values()))
    con.executemany("UPDATE run_tables SET sql_table = ? WHERE name = ?",
                    [(sql_table, name) for name, sql_table in new_tables.items()])
    for run_id, name, old_table, n_rows, columns in entries:
        columns = [tuple(column) for column in json.loads(columns)]
        frame = _read_table(con, path, run_id, name, aside[old_table], n_rows, columns)
        _store_rows(con, new_tables[name], run_id, _Table(name=name, frame=frame, columns=tuple(columns)))
    for old_table in aside.values():
        con.execute(f"DROP TABLE {_quote(old_table)}")


# _MIGRATIONS[v] brings a store of schema v to schema v + 1.
_MIGRATIONS = {1: _migrate_1_to_2}


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


def _natural_type(label: str) -> str:
    return _NATURAL_TYPES.get(label, "TEXT")


def _type_of(facts: frozenset) -> str | None:
    """The narrowest SQL type that holds every value described by ``facts`` exactly; None when there
    are no values (only NULLs), so any type will do.

    ``facts`` holds ``"int"`` (integers within ±2**53), ``"bigint"`` (integers beyond), ``"real"``
    and ``"text"``.
    """
    if "text" in facts or {"bigint", "real"} <= facts:
        return "TEXT"
    if "real" in facts:
        return "REAL"
    if facts & {"int", "bigint"}:
        return "INTEGER"
    return None


def _value_facts(series: pd.Series, label: str) -> frozenset:
    """What the non-missing values of a column to be saved are (see ``_type_of``)."""
    if label == "float64":
        return frozenset({"real"}) if (~np.isnan(series.to_numpy())).any() else frozenset()
    if label == "bool":
        return frozenset({"int"}) if len(series) else frozenset()
    if label == "int64":
        values = series.to_numpy()
        if not len(values):
            return frozenset()
        big = ((values > _EXACT_IN_DOUBLE) | (values < -_EXACT_IN_DOUBLE)).any()
        return frozenset({"int", "bigint"} if big else {"int"})
    return frozenset({"text"}) if series.notna().any() else frozenset()


def _stored_facts(con: sqlite3.Connection, sql_table: str, column: str, sql_type: str) -> frozenset:
    """What the values already stored in a column are (see ``_type_of``)."""
    table, quoted = _quote(sql_table), _quote(column)
    if not con.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {quoted} IS NOT NULL)").fetchone()[0]:
        return frozenset()
    if sql_type == "INTEGER":
        big = con.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {quoted} > ? OR {quoted} < ?)",
                          (_EXACT_IN_DOUBLE, -_EXACT_IN_DOUBLE)).fetchone()[0]
        return frozenset({"int", "bigint"} if big else {"int"})
    return frozenset({"real"} if sql_type == "REAL" else {"text"})


def _sql_table_of(con: sqlite3.Connection, name: str) -> str:
    """The SQLite table of the result tables called ``name``: the one earlier runs used, else a new name."""
    row = con.execute("SELECT sql_table FROM run_tables WHERE name = ? LIMIT 1", (name,)).fetchone()
    return row[0] if row is not None else _free_table_name(con, name, set())


def _free_table_name(con: sqlite3.Connection, name: str, reserved: set) -> str:
    """``result_<name>``, or ``result_<name>__2``, ... when SQLite, which ignores ASCII case in table
    names, already has that name (or it is in ``reserved``)."""
    taken = {r[0].translate(_ASCII_FOLD) for r in con.execute("SELECT name FROM sqlite_master")}
    taken |= {table.translate(_ASCII_FOLD) for table in reserved}
    base = sql_table = f"result_{name}"
    number = 2
    while sql_table.translate(_ASCII_FOLD) in taken:
        sql_table, number = f"{base}__{number}", number + 1
    return sql_table


def _layout(con: sqlite3.Connection, sql_table: str) -> dict | None:
    """The data columns of ``sql_table``, ASCII-folded name -> (name, SQL type), in table order; None
    when there is no such table."""
    info = con.execute(f"PRAGMA table_info({_quote(sql_table)})").fetchall()
    if not info:
        return None
    return {r[1].translate(_ASCII_FOLD): (r[1], r[2]) for r in info if r[1] not in _RESERVED_COLUMNS}


def _store_rows(con: sqlite3.Connection, sql_table: str, run_id: int, table: _Table) -> None:
    """Write ``table``'s rows into ``sql_table`` under ``run_id``: create the table, add the columns it
    lacks and retype columns whose values it cannot hold as needed, then insert."""
    facts = {column: _value_facts(table.frame[column], label) for column, label in table.columns}
    layout = _layout(con, sql_table)
    if layout is None:
        layout = {column.translate(_ASCII_FOLD): (column, _type_of(facts[column]) or _natural_type(label))
                  for column, label in table.columns}
        _create_result_table(con, sql_table, list(layout.values()))
    else:
        layout = _fit_columns(con, sql_table, layout, table, facts)
    types = [layout[column.translate(_ASCII_FOLD)][1] for column, _ in table.columns]
    _insert_rows(con, sql_table, run_id, table, types)
    negative_zeros = [(run_id, table.name, column, int(row)) for column, label in table.columns if label == "float64"
                      for row in np.flatnonzero(_negative_zero(table.frame[column].to_numpy()))]
    con.executemany("INSERT INTO negative_zeros (run_id, name, column_name, row) VALUES (?, ?, ?, ?)",
                    negative_zeros)


def _fit_columns(con: sqlite3.Connection, sql_table: str, layout: dict, table: _Table, facts: dict) -> dict:
    """Make ``sql_table`` hold ``table``: columns it lacks are added with their type; a column whose
    type cannot hold the new values exactly takes the narrowest one that holds old and new, the table
    being rebuilt. Returns the new layout."""
    fitted = dict(layout)
    added, retyped = [], False
    for column, label in table.columns:
        key = column.translate(_ASCII_FOLD)
        wanted = _type_of(facts[column])
        if key not in fitted:
            fitted[key] = (column, wanted or _natural_type(label))
            added.append(key)
            continue
        stored_name, sql_type = fitted[key]
        if wanted is None or wanted == sql_type:
            continue
        needed = _type_of(_stored_facts(con, sql_table, stored_name, sql_type) | facts[column])
        if needed is not None and needed != sql_type:
            fitted[key] = (stored_name, needed)
            retyped = True
    if len(fitted) > _MAX_COLUMNS:
        raise InputError(f"RunStore.save: table {table.name!r} would have {len(fitted)} columns over all its runs "
                         f"in {sql_table}; SQLite allows {_MAX_COLUMNS}: save the new columns under another "
                         f"table name")
    if retyped:
        _rebuild(con, sql_table, layout, fitted)
    else:
        for key in added:
            column, sql_type = fitted[key]
            con.execute(f"ALTER TABLE {_quote(sql_table)} ADD COLUMN {_quote(column)} {sql_type}")
    return fitted


def _create_result_table(con: sqlite3.Connection, sql_table: str, columns: list) -> None:
    data_columns = "".join(f", {_quote(column)} {sql_type}" for column, sql_type in columns)
    con.execute(f"CREATE TABLE {_quote(sql_table)} (run_id INTEGER NOT NULL REFERENCES runs (run_id), "
                f"row INTEGER NOT NULL{data_columns}, PRIMARY KEY (run_id, row)) STRICT, WITHOUT ROWID")


def _rebuild(con: sqlite3.Connection, sql_table: str, layout: dict, fitted: dict) -> None:
    """Copy ``sql_table`` into a table of the ``fitted`` columns and types, converting the values of
    retyped columns exactly (SQLite itself would write a REAL into TEXT with 15 digits only)."""
    _create_result_table(con, _REBUILDING, list(fitted.values()))
    old = list(layout.items())
    names = "".join(f", {_quote(column)}" for _, (column, _) in old)
    converters = [_converter(sql_type, fitted[key][1]) for key, (_, sql_type) in old]
    rows = con.execute(f"SELECT run_id, row{names} FROM {_quote(sql_table)}").fetchall()
    converted = [(run_id, row, *(convert(v) for convert, v in zip(converters, values)))
                 for run_id, row, *values in rows]
    con.executemany(f"INSERT INTO {_quote(_REBUILDING)} (run_id, row{names}) VALUES (?, ?{', ?' * len(old)})",
                    converted)
    con.execute(f"DROP TABLE {_quote(sql_table)}")
    con.execute(f"ALTER TABLE {_quote(_REBUILDING)} RENAME TO {_quote(sql_table)}")


def _converter(old_type: str, new_type: str):
    """The conversion of a stored value from ``old_type`` to ``new_type`` (only widening, or from a
    column of NULLs only, happens)."""
    if old_type == new_type:
        return _same
    if new_type == "TEXT":
        return _as_text
    if new_type == "REAL":
        return _as_real
    return _same


def _same(value):
    return value


def _as_text(value):
    # repr of a float is its shortest exact decimal (and 'inf', '-inf'); ints and str are exact already.
    return value if value is None or isinstance(value, str) else repr(value)


def _as_real(value):
    # Only integers within ±2**53 reach here, which a double holds exactly.
    return None if value is None else float(value)


def _negative_zero(values: np.ndarray) -> np.ndarray:
    return (values == 0) & np.signbit(values)


def _insert_rows(con: sqlite3.Connection, sql_table: str, run_id: int, table: _Table, types: list) -> None:
    """Insert the rows of ``table`` into ``sql_table`` under ``run_id``, each column as its SQL type."""
    names = "".join(f", {_quote(column)}" for column, _ in table.columns)
    marks = ", ?" * len(table.columns)
    values = [_python_values(table.frame[column], label, sql_type)
              for (column, label), sql_type in zip(table.columns, types)]
    rows = zip(repeat(run_id), range(len(table.frame)), *values)
    con.executemany(f"INSERT INTO {_quote(sql_table)} (run_id, row{names}) VALUES (?, ?{marks})", rows)


def _python_values(series: pd.Series, label: str, sql_type: str) -> list:
    """The column as Python values sqlite3 binds for a column of ``sql_type``, missing values as None.

    A column only gets a type that holds its values exactly (``_fit_columns``); a column of missing
    values only may be of any type.
    """
    if label == "float64":
        # SQLite would turn NaN into NULL anyway; doing it here keeps that out of the binding layer.
        values = [None if x != x else x for x in series.to_numpy().tolist()]
        return [_as_text(x) for x in values] if sql_type == "TEXT" else values
    if label in ("int64", "bool"):
        values = series.to_numpy().astype(np.int64).tolist()
        if sql_type == "TEXT":
            return [str(x) for x in values]
        return [float(x) for x in values] if sql_type == "REAL" else values
    if label == "object":
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
    negative_zeros = {}
    for column, row in con.execute("SELECT column_name, row FROM negative_zeros WHERE run_id = ? AND name = ?",
                                   (run_id, name)):
        negative_zeros.setdefault(column, []).append(row)
    values = list(zip(*rows))[1:] if rows else [()] * len(columns)
    data = {column: _column(vals, label, negative_zeros.get(column, [])) for (column, label), vals in
            zip(columns, values)}
    return pd.DataFrame(data, index=pd.RangeIndex(n_rows))


def _column(values: tuple, label: str, negative_zeros: list) -> pd.Series:
    """A stored column back in its dtype ``label``, whatever SQL type holds it (REAL, INTEGER or TEXT
    for numbers)."""
    if label == "float64":
        array = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        array[negative_zeros] = -0.0
        return pd.Series(array)
    if label in ("int64", "bool"):
        return pd.Series(np.array([_as_int(v) for v in values], dtype=np.int64).astype(np.dtype(label)))
    if label == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return pd.Series(array, dtype=object)
    kind, storage = label.rstrip("]").split("[")
    dtype = pd.StringDtype(storage=storage, na_value=np.nan) if kind == "str" else pd.StringDtype(storage=storage)
    return pd.Series(pd.array(list(values), dtype=dtype))


def _as_int(value) -> int:
    """An int64 or bool value back from an INTEGER (int), REAL (a float holding it exactly) or TEXT
    column: ``'3'``, or ``'3.0'`` when it was stored in a REAL column later widened to TEXT."""
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return int(float(value))
    return int(value)


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
