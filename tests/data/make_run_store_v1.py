"""Make the schema-1 run stores of tests/data/ with the code that wrote schema 1 (techins at commit d7aec8b).

The migration tests need stores written by the old code, so this script refuses to run against any
other schema version. Run it from a checkout of this repository with the old code on the path::

    git worktree add /tmp/techins-v1 d7aec8b
    PYTHONPATH=/tmp/techins-v1/src python tests/data/make_run_store_v1.py tests/data

It writes

``run_store_v1_backtests.sqlite``
    The two shipped back-tests through ``python -m techins backtest``: the synthetic tech lines, the
    CAS Schedule P lines, then the tech lines again (so run 3 compares itself with run 1). The CAS
    run's ``lines`` and ``development`` tables type some columns differently from the tech lines run
    (int64 against float64), so schema 1 forked them into ``result_lines__2`` and
    ``result_development__2``.
``run_store_v1_edge_cases.sqlite``
    Small hand-made runs with every dtype, -0.0, the extreme int64 values, a column that is float64
    in one run and text in another (another fork), a column added later, table names that differ
    only in case, empty tables and tables without columns.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import techins
from techins.backtest import store as store_module

META = {"parameters": {"level": 0.95}, "inputs_hash": "sha256:ab12", "code_version": "techins schema-1 fixture"}


def backtests(path: Path) -> None:
    examples = Path(techins.__file__).resolve().parents[2] / "examples" / "backtest"
    configs = ["tech_lines_backtest.toml", "cas_backtest.toml", "tech_lines_backtest.toml"]
    with tempfile.TemporaryDirectory() as reports:
        for i, config in enumerate(configs):
            subprocess.run([sys.executable, "-m", "techins", "backtest", str(examples / config), "--store", str(path),
                            "--out", str(Path(reports) / f"report{i}")], check=True, stdout=subprocess.DEVNULL)


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


def edge_cases(path: Path) -> None:
    store = store_module.RunStore(path)
    store.save("cyber", {"ave": every_dtype(), "empty": every_dtype().iloc[:0],
                         "no_columns": pd.DataFrame(index=range(3)), "nothing": pd.DataFrame()}, **META)
    store.save("cyber", {"ave": pd.DataFrame({"loss": [-0.0, 2.5], "Extra": [1, 2]}),
                         "AVE": pd.DataFrame({"loss": [9.0]})}, **META)
    store.save("ip", {"ave": pd.DataFrame({"loss": ["was a float"], "count": [0.25]})}, **META)


def main(folder: str) -> None:
    if store_module.SCHEMA_VERSION != 1:
        sys.exit(f"make_run_store_v1.py: techins on the path writes schema {store_module.SCHEMA_VERSION}, not 1; "
                 f"put a checkout of commit d7aec8b on PYTHONPATH")
    for name, make in (("run_store_v1_backtests.sqlite", backtests), ("run_store_v1_edge_cases.sqlite", edge_cases)):
        path = Path(folder) / name
        if path.exists():
            sys.exit(f"make_run_store_v1.py: {path} exists; remove it first")
        make(path)


if __name__ == "__main__":
    main(sys.argv[1])
