"""The SQLite run store: exact round trips, run order, previous(), all-or-nothing saves, typed columns
(one table per kind of result, columns added and widened rather than forked), the migration of stores
of schema 1 (written by the code before it, tests/data/README.md) and refusal of files that are not
techins stores or are of a newer schema."""

import doctest
import hashlib
import json
import math
import shutil
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import techins.backtest.store as store_module
from techins.backtest.store import SCHEMA_VERSION, RunStore, StoredRun
from techins.errors import InputError, InputTypeError

DATA = Path(__file__).resolve().parents[1] / "data"
META = {"parameters": {"level": 0.95, "lines": ["cyber", "ip"]}, "inputs_hash": "sha256:ab12",
        "code_version": "0.1.0"}


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal values, dtypes and column order, and float bits equal too (so -0.0 is not 0.0)."""
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for column in want.columns:
        if want[column].dtype == np.float64:
            a, b = got[column].to_numpy(), want[column].to_numpy()
            assert np.array_equal(np.isnan(a), np.isnan(b)), column
            finite = ~np.isnan(b)
            assert np.array_equal(a[finite].view(np.int64), b[finite].view(np.int64)), column


def every_dtype() -> pd.DataFrame:
    return pd.DataFrame({
        "loss": np.array([1.5, -0.0, np.nan, np.inf, -np.inf, 5e-324]),
        "count": np.array([0, -1, 2**63 - 1, -(2**63), 7, 42], dtype=np.int64),
        "flag": [True, False, True, True, False, False],
        "line": pd.array(["cyber", None, "", "Ünïcødé ✓", "日本語", "a\x00b"], dtype="str"),
        "note": pd.array(["x", "y", None, "z", "", "w"], dtype=pd.StringDtype("python", na_value=np.nan)),
        "code": pd.array(["a", None, "b", "c", "d", "e"], dtype="string"),
        "raw": pd.Series(["p", None, "q", "r", "s", "t"], dtype=object),
    })


def snapshot(path):
    """Everything a failed save must leave as it was: the schema, every table's rows, the header id."""
    with closing(sqlite3.connect(path)) as con:
        master = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        counts = {name: con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                  for kind, name, _, _ in master if kind == "table"}
        dump = list(con.iterdump())
        application_id = con.execute("PRAGMA application_id").fetchone()[0]
    return master, counts, dump, application_id


@pytest.fixture
def path(tmp_path):
    return tmp_path / "runs.sqlite"


def test_round_trip_of_every_dtype_empty_and_unicode(path):
    tables = {"ave": every_dtype(), "empty": every_dtype().iloc[:0], "no_columns": pd.DataFrame(index=range(3)),
              "nothing": pd.DataFrame(), "crédibilité \"q\"": every_dtype()[["line", "loss"]]}
    with RunStore(path) as store:
        run_id = store.save("cyber", tables, **META)
    run = RunStore(path).load(run_id)
    assert isinstance(run, StoredRun)
    assert (run.run_id, run.scope, run.status) == (run_id, "cyber", "complete")
    assert (run.code_version, run.inputs_hash, run.parameters) == ("0.1.0", "sha256:ab12", META["parameters"])
    assert list(run.tables) == list(tables)
    for name, table in tables.items():
        assert_same_frame(run.tables[name], table)
    assert run.started.tzinfo is not None and run.started <= run.finished


def test_tables_are_queryable_with_sql(path):
    store = RunStore(path)
    run_id = store.save("cyber", {"ave": every_dtype()}, **META)
    with closing(sqlite3.connect(path)) as con:
        rows = con.execute('SELECT row, loss, count, flag, line FROM result_ave WHERE run_id = ? ORDER BY row',
                           (run_id,)).fetchall()
        columns = json.loads(con.execute("SELECT columns FROM run_tables WHERE run_id = ?", (run_id,)).fetchone()[0])
    assert rows[0] == (0, 1.5, 0, 1, "cyber")
    assert rows[2][1] is None and rows[3][1] == math.inf
    assert columns[:3] == [["loss", "float64"], ["count", "int64"], ["flag", "bool"]]


def test_runs_listed_oldest_first_and_by_scope(path):
    store = RunStore(path)
    start = datetime(2024, 3, 31, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    ids = [store.save(scope, {"ave": every_dtype()}, started=start + timedelta(days=i), **META)
           for i, scope in enumerate(["cyber", "ip", "cyber"])]
    assert ids == [1, 2, 3]
    runs = store.runs()
    assert runs["run_id"].tolist() == ids
    assert runs["scope"].tolist() == ["cyber", "ip", "cyber"]
    assert runs["started"].iloc[0] == pd.Timestamp("2024-03-31T10:00:00Z")
    assert str(runs["started"].dtype) == "datetime64[us, UTC]"
    assert json.loads(runs["parameters"].iloc[0]) == META["parameters"]
    assert runs["n_tables"].tolist() == [1, 1, 1]
    assert store.runs("cyber")["run_id"].tolist() == [1, 3]
    assert store.runs("none").empty and list(store.runs("none").columns) == list(runs.columns)


def test_previous_finds_the_run_before(path):
    store = RunStore(path)
    first = store.save("cyber", {"ave": every_dtype()}, **META)
    store.save("ip", {"ave": every_dtype()}, **META)
    third = store.save("cyber", {"ave": every_dtype().iloc[:2]}, **META)
    assert store.previous("cyber").run_id == third
    assert store.previous("cyber", before=third).run_id == first
    assert store.previous("cyber", before=np.int64(third)).run_id == first
    assert_same_frame(store.previous("cyber", before=third).tables["ave"], every_dtype())
    assert store.previous("cyber", before=first) is None
    assert store.previous("motor") is None
    with pytest.raises(InputError, match=rf"before=99 .*{path.name}"):
        store.previous("cyber", before=99)


def test_unknown_run_id_names_the_id_and_the_store(path):
    store = RunStore(path)
    store.save("cyber", {}, **META)
    for bad in (42, 0, -1, 2**70):
        with pytest.raises(InputError, match=rf"run_id={bad} .*{path.name}"):
            store.load(bad)
    with pytest.raises(InputTypeError, match="run_id"):
        store.load(True)
    assert store.load(np.int64(1)).tables == {}


def column_types(path, sql_table) -> dict:
    """Column name -> declared SQL type, from PRAGMA table_info."""
    with closing(sqlite3.connect(path)) as con:
        return {r[1]: r[2] for r in con.execute(f'PRAGMA table_info("{sql_table}")')}


def table_names(path) -> list:
    with closing(sqlite3.connect(path)) as con:
        return sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_columns_are_typed_as_the_data_is(path):
    RunStore(path).save("cyber", {"ave": every_dtype()}, **META)
    assert column_types(path, "result_ave") == {
        "run_id": "INTEGER", "row": "INTEGER", "loss": "REAL", "count": "INTEGER", "flag": "INTEGER",
        "line": "TEXT", "note": "TEXT", "code": "TEXT", "raw": "TEXT"}
    with closing(sqlite3.connect(path)) as con:
        stored = con.execute("SELECT typeof(loss), loss FROM result_ave ORDER BY row").fetchall()
        zeros = con.execute("SELECT run_id, name, column_name, row FROM negative_zeros").fetchall()
    assert [t for t, _ in stored] == ["real", "real", "null", "real", "real", "real"]
    assert zeros == [(1, "ave", "loss", 1)]  # -0.0 kept aside: a REAL column gives it back as 0.0


def test_a_column_added_later_is_added_with_its_type_not_forked(path):
    store = RunStore(path)
    first = pd.DataFrame({"ratio": [0.9, 1.1], "n": [3, 4]})
    later = pd.DataFrame({"Ratio2": [1.0], "ratio": [2.0], "label": ["x"], "N": [5], "flag": [True]})
    ids = [store.save("cyber", {"ave": t}, **META) for t in (first, later)]
    assert table_names(path) == ["meta", "negative_zeros", "result_ave", "run_tables", "runs", "sqlite_sequence"]
    assert column_types(path, "result_ave") == {"run_id": "INTEGER", "row": "INTEGER", "ratio": "REAL",
                                                "n": "INTEGER", "Ratio2": "REAL", "label": "TEXT",
                                                "flag": "INTEGER"}
    for run_id, table in zip(ids, (first, later)):
        assert_same_frame(store.load(run_id).tables["ave"], table)
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("SELECT run_id, row, ratio, Ratio2 FROM result_ave ORDER BY run_id, row").fetchall() == [
            (1, 0, 0.9, None), (1, 1, 1.1, None), (2, 0, 2.0, 1.0)]


@pytest.mark.parametrize(("runs", "sql_type"), [
    # int64, then float64: REAL holds both exactly
    ([[3, 4], [0.5]], "REAL"),
    ([[0.5], [3, 4]], "REAL"),
    # an integer beyond 2**53 and a float: no double holds the integer, so exact decimal text
    ([[2**63 - 1, -(2**63)], [0.5, -0.0]], "TEXT"),
    ([[-0.0, 0.25], [2**53 + 1]], "TEXT"),
    ([[2**53, -(2**53)], [0.5]], "REAL"),  # ±2**53 still exact
    # numbers and strings
    ([[0.1, math.inf, -0.0, 1e-300], ["was a float"], [7]], "TEXT"),
    ([[True, False], [0.5]], "REAL"),
    # ints stored as REAL, then the column widened to TEXT (they read '3.0' there)
    ([[3, -4], [0.5], ["text"]], "TEXT"),
    ([[True, False], [0.5], ["text"]], "TEXT"),
    # a column with only missing values takes the type of the first values that come
    ([[math.nan, math.nan], [3, 4]], "INTEGER"),
    ([pd.Series([None, None], dtype=object), [3]], "INTEGER"),
    ([[math.nan], [3], [0.5]], "REAL"),
    ([[3], [math.nan]], "INTEGER"),
])
def test_runs_typing_a_column_differently_share_one_table_of_the_wider_type(path, runs, sql_type):
    store = RunStore(path)
    tables = [pd.DataFrame({"x": pd.Series(values) if isinstance(values, list) else values, "k": range(len(values))})
              for values in runs]
    ids = [store.save("cyber", {"ave": table}, **META) for table in tables]
    assert column_types(path, "result_ave")["x"] == sql_type
    assert column_types(path, "result_ave")["k"] == "INTEGER"
    assert "result_ave__2" not in table_names(path)
    for run_id, table in zip(ids, tables):
        assert_same_frame(store.load(run_id).tables["ave"], table)


def test_names_differing_only_in_case_get_their_own_tables(path):
    store = RunStore(path)
    first = store.save("cyber", {"ave": pd.DataFrame({"x": [1.0]}), "AVE": pd.DataFrame({"x": ["a"]})}, **META)
    second = store.save("cyber", {"AVE": pd.DataFrame({"x": ["b"]}), "ave": pd.DataFrame({"x": [2.0]})}, **META)
    with closing(sqlite3.connect(path)) as con:
        where = set(con.execute("SELECT name, sql_table FROM run_tables"))
    assert where == {("ave", "result_ave"), ("AVE", "result_AVE__2")}
    assert store.load(first).tables["AVE"]["x"].tolist() == ["a"]
    assert store.load(second).tables["ave"]["x"].tolist() == [2.0]


def _failing_after(calls: int, exc: BaseException, monkeypatch):
    original = store_module._store_rows
    done = []

    def insert_then_fail(*args):
        original(*args)
        done.append(args)
        if len(done) == calls:
            raise exc

    monkeypatch.setattr(store_module, "_store_rows", insert_then_fail)
    return done


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failing_save_leaves_the_store_as_it_was(path, monkeypatch, exc):
    store = RunStore(path)
    store.save("cyber", {"ave": pd.DataFrame({"ratio": [0.9]})}, **META)
    before = snapshot(path)
    # "ave" gains a column (ALTER TABLE), "pit" and "crps" are new tables, "ratio" is retyped REAL -> TEXT
    # (a rebuild of result_ave): all DDL that must be undone.
    tables = {"ave": pd.DataFrame({"ratio": ["1.0", "2.0"], "extra": [1, 2]}), "pit": every_dtype(),
              "crps": every_dtype()}
    done = _failing_after(2, exc, monkeypatch)
    with pytest.raises(type(exc)):
        store.save("cyber", tables, **META)
    assert len(done) == 2  # rows of two tables were in when it failed
    assert snapshot(path) == before
    monkeypatch.undo()
    assert store.save("cyber", tables, **META) == 2  # the failed save did not use up a run id
    assert_same_frame(store.load(2).tables["pit"], every_dtype())


def test_saving_commits_only_when_its_block_succeeds(path):
    store = RunStore(path)
    store.save("cyber", {"ave": pd.DataFrame({"ratio": [0.9]})}, **META)
    before = snapshot(path)
    with pytest.raises(RuntimeError, match="report failed"):
        with store.saving("cyber", {"ave": pd.DataFrame({"ratio": [1.1]})}, **META) as run_id:
            assert run_id == 2  # the id is known inside the block, before the commit
            raise RuntimeError("report failed")
    assert snapshot(path) == before
    with store.saving("cyber", {"ave": pd.DataFrame({"ratio": [1.1]})}, **META) as run_id:
        pass
    assert run_id == 2 and store.load(2).tables["ave"]["ratio"].tolist() == [1.1]


@pytest.mark.parametrize(("tables", "error", "match"), [
    ({"ok": every_dtype(), "bad": pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])})}, InputTypeError,
     r"tables\['bad'\]: column 'when' has dtype datetime64"),
    ({"bad": pd.DataFrame({"n": pd.array([1, None], dtype="Int64")})}, InputTypeError, "dtype Int64"),
    ({"bad": pd.DataFrame({"o": pd.Series(["a", 1], dtype=object)})}, InputTypeError, "holds 1 of type int"),
    ({"bad": every_dtype().iloc[[1, 0]]}, InputError, "RangeIndex.*reset_index"),
    ({"bad": every_dtype().set_index("count")}, InputError, "reset_index"),
    ({"bad": pd.DataFrame({"RUN_ID": [1]})}, InputError, "clashes with the store's own column 'run_id'"),
    ({"bad": pd.DataFrame({"Loss": [1.0], "loss": [2.0]})}, InputError, "'Loss' and 'loss'"),
    ({"bad": pd.DataFrame({0: [1.0]})}, InputTypeError, "column name must be a str, got 0"),
    ({"": every_dtype()}, InputError, "table name must be non-empty"),
    ({"bad": [1, 2]}, InputTypeError, r"tables\['bad'\] must be a pandas.DataFrame, got list"),
    ([every_dtype()], InputTypeError, "tables must be a dict"),
])
def test_bad_tables_write_nothing(path, tables, error, match):
    store = RunStore(path)
    store.save("cyber", {"ok": every_dtype()}, **META)
    before = snapshot(path)
    with pytest.raises(error, match=match):
        store.save("cyber", tables, **META)
    assert snapshot(path) == before


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"scope": ""}, InputError, "scope must not be empty"),
    ({"scope": 3}, InputTypeError, "scope must be a str, got 3"),
    ({"inputs_hash": None}, InputTypeError, "inputs_hash must be a str"),
    ({"parameters": {"years": (2001, 2010)}}, InputError, "change in a JSON round trip"),
    ({"parameters": {1: "a"}}, InputError, "change in a JSON round trip"),
    ({"parameters": {"x": np.int64(1)}}, InputTypeError, "JSON data"),
    ({"parameters": {"x": math.nan}}, InputError, "without NaN"),
    ({"parameters": [1]}, InputTypeError, "parameters must be a dict, got list"),
    ({"started": datetime(2024, 1, 1)}, InputError, "started must be timezone-aware"),
    ({"started": "2024-01-01"}, InputTypeError, "started must be a datetime"),
])
def test_bad_arguments_are_named(path, changes, error, match):
    store = RunStore(path)
    with pytest.raises(error, match=match):
        store.save(**{"scope": "cyber", "tables": {}, **META, **changes})
    assert store.runs().empty


def test_started_from_pandas_timestamp_is_stored_in_utc(path):
    store = RunStore(path)
    run_id = store.save("cyber", {}, started=pd.Timestamp("2024-06-30 18:00:00.123456789", tz="America/New_York"),
                        **META)
    assert store.load(run_id).started == datetime(2024, 6, 30, 22, 0, 0, 123456, tzinfo=timezone.utc)


def test_created_when_absent_and_reopened(tmp_path):
    path = tmp_path / "deep" / "er" / "runs.sqlite"
    assert not path.exists()
    RunStore(path).save("cyber", {"ave": every_dtype()}, **META)
    reopened = RunStore(str(path))
    assert reopened.runs()["run_id"].tolist() == [1]
    with closing(sqlite3.connect(path)) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["format"] == "techins run store"


def test_an_empty_file_becomes_a_store(path):
    path.write_bytes(b"")
    assert RunStore(path).runs().empty


def test_an_sqlite_file_of_someone_else_is_refused_and_untouched(path):
    with closing(sqlite3.connect(path)) as con:
        con.execute("CREATE TABLE claims (id INTEGER, amount REAL)")
        con.commit()
    before = snapshot(path)
    with pytest.raises(InputError, match=rf"{path.name} is an SQLite database but not a techins run store.*claims"):
        RunStore(path)
    assert snapshot(path) == before


def test_a_file_that_is_no_database_is_refused(path):
    path.write_text("GRCODE,GRNAME\n78,Federated Mut Grp\n" * 50)
    with pytest.raises(InputError, match=rf"{path.name} is not an SQLite database"):
        RunStore(path)


def test_a_newer_schema_version_is_refused(path):
    RunStore(path)
    with closing(sqlite3.connect(path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        con.commit()
    before = snapshot(path)
    with pytest.raises(InputError, match=rf"{path.name} has schema version {SCHEMA_VERSION + 1}, written by a newer "
                                         rf"techins; .*up to {SCHEMA_VERSION}: upgrade techins"):
        RunStore(path)
    assert snapshot(path) == before


def test_a_damaged_meta_table_is_refused(path):
    RunStore(path)
    with closing(sqlite3.connect(path)) as con:
        con.execute("DELETE FROM meta")
        con.commit()
    with pytest.raises(InputError, match="no valid meta table"):
        RunStore(path)


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        RunStore(tmp_path)
    with pytest.raises(InputTypeError, match="path must be a str or path"):
        RunStore(3)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="cannot make the folder"):
        RunStore(tmp_path / "a_file" / "runs.sqlite")


def test_a_removed_store_is_not_silently_recreated(path):
    store = RunStore(path)
    path.unlink()
    with pytest.raises(InputError, match="cannot open the run store"):
        store.runs()
    assert not path.exists()


def test_closed_store_refuses_calls(path):
    with RunStore(path) as store:
        store.save("cyber", {}, **META)
    with pytest.raises(InputError, match="RunStore.load: the store .* was closed"):
        store.load(1)


# Migration of stores of schema 1. The fixtures were written by the schema-1 code (commit d7aec8b) with
# tests/data/make_run_store_v1.py; they are read here with plain SQL as schema 1 laid them out, which
# is what the migrated store must give back.
V1_BACKTESTS = DATA / "run_store_v1_backtests.sqlite"
V1_EDGE_CASES = DATA / "run_store_v1_edge_cases.sqlite"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_schema1(path):
    """The runs rows and every run's tables of a schema-1 store: {(run_id, name): (columns, rows)}."""
    with closing(sqlite3.connect(path)) as con:
        assert dict(con.execute("SELECT key, value FROM meta"))["schema_version"] == "1"
        runs = con.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
        tables = {}
        for run_id, name, sql_table, n_rows, columns in con.execute(
                "SELECT run_id, name, sql_table, n_rows, columns FROM run_tables ORDER BY run_id, position").fetchall():
            columns = json.loads(columns)
            names = "".join(", " + quoted(column) for column, _ in columns)
            rows = con.execute(f"SELECT row{names} FROM {quoted(sql_table)} WHERE run_id = ? ORDER BY row",
                               (run_id,)).fetchall()
            assert [r[0] for r in rows] == list(range(n_rows))
            tables[(run_id, name)] = (columns, [r[1:] for r in rows])
    return runs, tables


def assert_holds(frame: pd.DataFrame, columns: list, rows: list) -> None:
    """``frame`` has schema 1's columns, dtypes and values: floats bit for bit (NULL for NaN), ints and
    bools equal, strings equal (NULL for missing)."""
    assert list(frame.columns) == [column for column, _ in columns]
    assert len(frame) == len(rows)
    for j, (column, label) in enumerate(columns):
        got, stored = frame[column], [r[j] for r in rows]
        if label in ("float64", "int64", "bool", "object"):
            assert got.dtype == np.dtype(label), column
        else:
            kind, storage = label.rstrip("]").split("[")
            assert isinstance(got.dtype, pd.StringDtype) and got.dtype.storage == storage, column
            assert (got.dtype.na_value is pd.NA) == (kind == "string"), column
        for value, want in zip(got.tolist(), stored):
            if want is None:
                assert pd.isna(value), (column, value)
            elif label == "float64":
                assert np.float64(value).view(np.int64) == np.float64(want).view(np.int64), (column, value, want)
            else:
                assert value == want and type(value) is type(want) or label == "bool" and value is bool(want), \
                    (column, value, want)


def assert_migrated_whole(path, runs, tables) -> RunStore:
    store = RunStore(path)
    with closing(sqlite3.connect(path)) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
        assert con.execute("SELECT * FROM runs ORDER BY run_id").fetchall() == runs
        count = con.execute("SELECT COUNT(*) FROM run_tables").fetchone()[0]
        types = {r[2] for t in table_names(path) if t.startswith("result_")
                 for r in con.execute(f"PRAGMA table_info({quoted(t)})")}
    assert meta["schema_version"] == str(SCHEMA_VERSION) and "migrated_to_2" in meta
    assert types <= {"INTEGER", "REAL", "TEXT"}  # no ANY left
    assert count == len(tables)
    for (run_id, name), (columns, rows) in tables.items():
        assert_holds(store.load(run_id).tables[name], columns, rows)
    return store


@pytest.fixture
def v1_backtests(tmp_path):
    path = tmp_path / "runs.sqlite"
    shutil.copyfile(V1_BACKTESTS, path)
    return path


def test_the_schema1_store_of_the_two_backtests_is_migrated_with_every_value(v1_backtests):
    path = v1_backtests
    runs, tables = read_schema1(path)
    assert {"result_lines__2", "result_development__2"} <= set(table_names(path))  # the fork schema 1 made
    assert len(runs) == 3 and sum(len(rows) for _, rows in tables.values()) == 3477
    store = assert_migrated_whole(path, runs, tables)
    assert table_names(path) == ["meta", "negative_zeros", "result_calibration", "result_comparison",
                                 "result_development", "result_lines", "result_periods", "run_tables", "runs",
                                 "sqlite_sequence"]
    lines, development = column_types(path, "result_lines"), column_types(path, "result_development")
    # int64 in the tech lines' runs, float64 of NaN only in the CAS run (no claim data): INTEGER, no fork
    assert lines["claims_above_model_quantile"] == "INTEGER"
    assert lines["line"] == "TEXT" and lines["loss_ratio"] == "REAL" and lines["loss_making"] == "INTEGER"
    # float64 in the tech lines' empty tables, int64 in the CAS run's 1,550 rows
    assert development["origin"] == "INTEGER" and development["lag"] == "INTEGER"
    assert store.previous("synthetic tech lines").run_id == 3
    assert store.previous("synthetic tech lines", before=3).run_id == 1
    # and the migrated store takes new runs in the same tables
    migrated = snapshot(path)[0]
    again = store.save("CAS again", store.load(2).tables, **META)
    assert snapshot(path)[0] == migrated  # same tables, same columns and types
    for name, table in store.load(2).tables.items():
        assert_same_frame(store.load(again).tables[name], table)


def test_the_schema1_store_of_edge_cases_is_migrated_with_every_value(tmp_path):
    path = tmp_path / "runs.sqlite"
    shutil.copyfile(V1_EDGE_CASES, path)
    runs, tables = read_schema1(path)
    assert {"result_ave__3", "result_AVE__2"} <= set(table_names(path))
    assert_migrated_whole(path, runs, tables)
    ave = column_types(path, "result_ave")
    # loss: float64 (with -0.0) in runs 1-2, text in run 3; count: int64 up to 2**63 - 1, then 0.25
    assert (ave["loss"], ave["count"], ave["flag"], ave["Extra"]) == ("TEXT", "TEXT", "INTEGER", "INTEGER")
    assert column_types(path, "result_AVE__2")["loss"] == "REAL"
    assert "result_ave__3" not in table_names(path)
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("SELECT * FROM negative_zeros ORDER BY run_id").fetchall() == [
            (1, "ave", "loss", 1), (2, "ave", "loss", 0)]
        assert dict(con.execute("SELECT name, sql_table FROM run_tables WHERE run_id = 2")) == {
            "ave": "result_ave", "AVE": "result_AVE__2"}


@pytest.mark.parametrize("exc", [sqlite3.OperationalError("disk I/O error"), RuntimeError("bug"),
                                 KeyboardInterrupt()])
def test_a_migration_failing_midway_leaves_the_file_unchanged(v1_backtests, monkeypatch, exc):
    path = v1_backtests
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    done = _failing_after(7, exc, monkeypatch)  # 7 of the 15 run tables rewritten, so both kinds of DDL done
    if isinstance(exc, sqlite3.Error):
        error, match = InputError, (rf"{path.name} has schema version 1, which this techins migrates to version "
                                    rf"{SCHEMA_VERSION} .* the migration failed \(disk I/O error\); the file is unchanged")
    else:
        error, match = type(exc), None
    with pytest.raises(error, match=match):
        RunStore(path)
    assert len(done) == 7
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in path.parent.iterdir()) == ["runs.sqlite"]  # no journal left behind
    monkeypatch.undo()
    runs, tables = read_schema1(path)
    assert_migrated_whole(path, runs, tables)


def test_a_store_another_program_holds_is_refused_and_left_as_it_was(v1_backtests, monkeypatch):
    # A real SQLite failure, not a simulated one: another connection holds the write lock for longer
    # than the store waits (5 s, here 0.2 s so the test does not sit out the default), so the
    # migration cannot start.
    assert store_module._LOCK_WAIT == 5.0
    monkeypatch.setattr(store_module, "_LOCK_WAIT", 0.2)
    digest = hashlib.sha256(v1_backtests.read_bytes()).hexdigest()
    with closing(sqlite3.connect(v1_backtests, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(InputError, match=rf"{v1_backtests.name} has schema version 1, .*migration failed "
                                             rf"\(database is locked\); the file is unchanged. Make it writable"):
            RunStore(v1_backtests)
        other.execute("ROLLBACK")
    assert hashlib.sha256(v1_backtests.read_bytes()).hexdigest() == digest


def test_a_store_is_migrated_once(v1_backtests):
    RunStore(v1_backtests)
    before = snapshot(v1_backtests)
    RunStore(v1_backtests).runs()
    assert snapshot(v1_backtests) == before  # the second opening found schema 2 and wrote nothing


def test_docstring_example_runs():
    assert doctest.testmod(store_module, optionflags=doctest.ELLIPSIS).failed == 0


# Property: random frames round-trip exactly. Kept here rather than in tests/strategies.py because
# only this module uses them.
STORAGES = ("python", "pyarrow")
values_by_kind = {
    "float64": st.floats(allow_nan=True, allow_infinity=True),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "str": st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=8)),
    "string": st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=8)),
    "object": st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=8)),
}
# A few common names, so that runs often give one column different dtypes (the store then widens it).
column_names = st.one_of(
    st.sampled_from(["x", "X", "ratio", "n"]),
    st.text(st.characters(codec="utf-8", blacklist_characters="\x00"), min_size=1, max_size=6).filter(
        lambda s: s.lower() not in ("run_id", "row")))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 6))
    names = draw(st.lists(column_names, max_size=5, unique_by=str.lower))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(values_by_kind)))
        values = draw(st.lists(values_by_kind[kind], min_size=n, max_size=n))
        if kind in ("float64", "int64", "bool"):
            columns[name] = pd.Series(np.array(values, dtype=kind))
        elif kind == "object":
            columns[name] = pd.Series(values, dtype=object)
        else:
            storage = draw(st.sampled_from(STORAGES))
            dtype = pd.StringDtype(storage, na_value=np.nan) if kind == "str" else pd.StringDtype(storage)
            columns[name] = pd.Series(pd.array(values, dtype=dtype))
    return pd.DataFrame(columns, index=pd.RangeIndex(n)) if columns else pd.DataFrame(index=pd.RangeIndex(n))


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    # One store for all examples, on purpose: later examples reuse, extend and retype the columns of
    # the result tables of earlier ones, which is the schema-evolution path real stores take. The
    # dict keeps what each run saved.
    return RunStore(tmp_path_factory.mktemp("hypothesis") / "runs.sqlite"), {}


@settings(deadline=None)
@given(tables=st.dictionaries(st.sampled_from(["ave", "AVE", "pit", "crédibilité"]), frames(), max_size=3),
       earlier=st.integers(0, 2**16))
def test_random_frames_round_trip_exactly_and_earlier_runs_stay_exact(shared_store, tables, earlier):
    store, saved = shared_store
    run_id = store.save("property", tables, **META)
    saved[run_id] = tables
    # An earlier run, whose columns this save may have added to or retyped, still reads as it was saved.
    # (Picked by a drawn number, not drawn from the runs: hypothesis needs draws that do not depend on state.)
    for checked in {run_id, sorted(saved)[earlier % len(saved)]}:
        run = store.load(checked)
        assert list(run.tables) == list(saved[checked])
        for name, table in saved[checked].items():
            assert_same_frame(run.tables[name], table)
    with closing(sqlite3.connect(store.path)) as con:
        kinds = con.execute("SELECT COUNT(DISTINCT name), COUNT(DISTINCT sql_table) FROM run_tables").fetchone()
    assert kinds[0] == kinds[1] == len([t for t in table_names(store.path) if t.startswith("result_")])
