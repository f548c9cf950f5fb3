"""One schema module (``techins.io.schema``): every table's columns are defined there only, the modules
that read and write the tables use those very objects, and the tables written have those columns."""

import ast
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.io import schema

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "techins"
# a public module-level name with one of these endings holds a table's columns or tables' names
_SCHEMA_NAME = ("_COLUMNS", "_COLUMN", "_TERMS", "TABLES", "TABLE_NAMES", "REQUIRED", "INPUTS")


def _literal_of_strings(node) -> bool:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.keys) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys)
    if isinstance(node, ast.Call):  # FrozenMap({...})
        return any(_literal_of_strings(a) for a in node.args)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def test_columns_are_spelt_out_in_the_schema_module_only():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "io" / "schema.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) and node.value is not None else []
            for target in targets:
                if isinstance(target, ast.Name) and not target.id.startswith("_") \
                        and target.id.endswith(_SCHEMA_NAME) and _literal_of_strings(node.value):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {target.id}")
    assert found == [], "define these in techins/io/schema.py and import them: " + ", ".join(found)


# module, the name it has always had, the schema's name
OLD_NAMES = [
    ("techins.model.portfolio", "POLICY_COLUMNS", "POLICY_COLUMNS"),
    ("techins.model.portfolio", "CONTRACT_COLUMNS", "CONTRACT_COLUMNS"),
    ("techins.model.portfolio", "TEXT_COLUMNS", "TEXT_COLUMNS"),
    ("techins.simulation.occurrences", "PERIOD_COLUMNS", "PERIOD_COLUMNS"),
    ("techins.simulation.occurrences", "OCCURRENCE_COLUMNS", "OCCURRENCE_COLUMNS"),
    *[("techins.reinsurance.ord", name, name) for name in ("PLT_COLUMNS", "ELT_COLUMNS", "ALT_COLUMNS", "ALCT_COLUMNS",
                                                           "EPT_COLUMNS", "ANNUAL_COLUMNS", "PERSPECTIVE_COLUMN")],
    ("techins.reinsurance.ord", "TABLE_NAMES", "ORD_TABLE_NAMES"),
    ("techins.reinsurance.ord", "INPUT_COLUMNS", "ORD_INPUT_COLUMNS"),
    ("techins.catalogue.products", "COVERAGE_TERMS", "COVERAGE_TERMS"),
    ("techins.catalogue.products", "POLICY_TERMS", "POLICY_TERMS"),
    ("techins.backtest.history", "POLICY_COLUMNS", "HISTORY_POLICY_COLUMNS"),
    ("techins.backtest.history", "CLAIM_COLUMNS", "CLAIM_COLUMNS"),
    ("techins.backtest.history", "EXPENSE_COLUMNS", "EXPENSE_COLUMNS"),
    ("techins.backtest.history", "TRIANGLE_COLUMNS", "TRIANGLE_COLUMNS"),
    ("techins.backtest.experience", "DEVELOPMENT_COLUMNS", "DEVELOPMENT_COLUMNS"),
    ("techins.backtest.resimulate", "REQUIRED", "RESIMULATE_COLUMNS"),
    ("techins.backtest.run", "INPUTS", "BACKTEST_INPUTS"),
    ("techins.backtest.run", "JSON_COLUMNS", "JSON_COLUMNS"),
    ("techins.reporting.report", "TABLES", "PRICED_TABLES"),
]


@pytest.mark.parametrize("module,old,new", OLD_NAMES)
def test_the_old_names_are_the_schemas_objects(module, old, new):
    assert getattr(importlib.import_module(module), old) is getattr(schema, new)


def test_every_schema_name_is_listed_and_immutable():
    assert sorted(schema.__all__) == sorted(n for n in vars(schema) if n.isupper())
    for name in schema.__all__:
        value = getattr(schema, name)
        assert isinstance(value, (tuple, str, schema.FrozenMap)), name
        with pytest.raises(TypeError):
            value[0] = "x"


def test_no_table_lists_a_column_twice():
    for name in schema.__all__:
        columns = list(getattr(schema, name))
        if not isinstance(getattr(schema, name), str):
            assert len(columns) == len(set(columns)), name


def test_the_policies_table_schema_is_what_the_portfolio_reads():
    table = pd.DataFrame({"policy_id": ["a", "b"], "line": ["x", "x"], "claim_rate": [0.1, 0.2],
                          "severity": ["s", "s"]})
    book = ti.Portfolio(table, {"s": ti.Exponential(1.0)})
    for column, (default, *_bounds) in schema.POLICY_COLUMNS.items():
        if default is not None:  # a missing optional column takes its default
            np.testing.assert_array_equal(book.arrays[column], np.full(2, default), err_msg=column)
    for column in (*schema.TEXT_COLUMNS, "claim_rate"):
        with pytest.raises(ti.InputError, match=f"missing column {column!r}"):
            ti.Portfolio(table.drop(columns=column), {"s": ti.Exponential(1.0)})


def test_the_loss_tables_have_the_schema_columns(tmp_path):
    from techins.simulation.occurrences import occurrence_chunks

    table = pd.DataFrame({"policy_id": ["a", "b"], "line": ["cyber", "drone"], "claim_rate": [0.5, 0.3],
                          "severity": ["s", "s"]})
    book = ti.Portfolio(table, {"s": ti.Exponential(1e3)})
    sim = ti.simulate(book, years=500, seed=1, period_losses=tmp_path)
    occurrences = pd.concat(list(occurrence_chunks(sim)), ignore_index=True)
    assert tuple(occurrences.columns) == schema.OCCURRENCE_COLUMNS
    period = pd.read_parquet(sorted(tmp_path.iterdir())[0])
    assert tuple(period.columns[:len(schema.PERIOD_COLUMNS)]) == schema.PERIOD_COLUMNS
    ord_tables = importlib.import_module("techins.reinsurance.ord").ord_tables(occurrences, sim.years, "gross")
    assert tuple(ord_tables) == schema.ORD_TABLE_NAMES
    for name, columns in (("plt", schema.PLT_COLUMNS), ("elt", schema.ELT_COLUMNS), ("alt", schema.ALT_COLUMNS),
                          ("alct", schema.ALCT_COLUMNS), ("ept", schema.EPT_COLUMNS),
                          ("annual", schema.ANNUAL_COLUMNS)):
        assert tuple(ord_tables[name].columns) == (*columns, schema.PERSPECTIVE_COLUMN), name


def test_history_text_columns_stay_text(tmp_path):
    from techins.backtest.history import read_table

    path = tmp_path / "claims.csv"
    path.write_text("claim_id,policy_id,line,paid\n007,0042,12,5\n")
    frame = read_table(path, "claims")
    assert frame[list(schema.HISTORY_TEXT_COLUMNS)].iloc[0].tolist() == ["0042", "007", "12"]
    assert frame["paid"].iloc[0] == 5
