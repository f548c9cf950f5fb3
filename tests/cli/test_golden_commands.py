"""Golden cases of the commands: ``techins price``, ``reinsure``, ``pool`` and ``backtest`` run on small
inputs, their output tables compared with the expected ones under ``tests/golden/commands/<case>/``.

They pin what users see: a change of the numbers, the columns or their order fails here. The
tolerance is declared (``RTOL``): the same arithmetic on another platform's libm may differ in the
last bits, nothing more. After a deliberate change, regenerate with
``TECHINS_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_golden_commands.py`` and say
why in the commit.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_runner import techins

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "commands"
POLICIES = "tests/golden/commands/policies.csv"  # 12 policies of each product of examples/portfolio.csv
REGENERATE = os.environ.get("TECHINS_REGENERATE_GOLDEN") == "1"
RTOL, ATOL = 1e-9, 1e-6

CASES = {
    "price": (["price", "products", "--portfolio", POLICIES, "--years", "3000", "--seed", "1"],
              ["products.csv", "lines.csv", "policies.csv", "coverages.csv", "ep_curves.csv"]),
    "reinsure": (["reinsure", "examples/programmes/tech_pool_programme.toml", "products", "--portfolio", POLICIES,
                  "--years", "3000", "--seed", "3"], ["treaties.csv", "treaty_ep_curves.csv"]),
    "pool": (["pool", "examples/pools/fok_equipment_pool.toml", "--years", "2000", "--seed", "4", "--quiet"],
             ["members.csv", "lines.csv", "treaties.csv", "allocation.csv", "contributions.csv"]),
    "backtest": (["backtest", "examples/backtest/tech_lines_backtest.toml", "--store", "{tmp}/runs.sqlite"],
                 ["lines.csv", "periods.csv", "calibration.csv", "development.csv"]),
}


def run_case(case: str, out: Path) -> None:
    args, _ = CASES[case]
    args = [a.format(tmp=out.parent) for a in args] + ["--out", str(out)]
    done = techins(*args, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame, name: str) -> None:
    assert list(got.columns) == list(expected.columns), name
    assert len(got) == len(expected), name
    for column in expected.columns:
        a, b = got[column], expected[column]
        if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}: {column}")
        else:
            assert a.fillna("").astype(str).tolist() == b.fillna("").astype(str).tolist(), f"{name}: {column}"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_command_outputs_equal_the_golden_tables(tmp_path, case):
    out = tmp_path / "out"
    run_case(case, out)
    expected_folder = GOLDEN / case
    for name in CASES[case][1]:
        produced = out / name
        if REGENERATE:
            expected_folder.mkdir(parents=True, exist_ok=True)
            if produced.exists():
                (expected_folder / name).write_bytes(produced.read_bytes())
        if not (expected_folder / name).exists():
            assert not produced.exists(), f"{case}: {name} is new; regenerate the golden case"
            continue
        assert produced.exists(), f"{case}: {name} is no longer written"
        assert_same_table(pd.read_csv(produced), pd.read_csv(expected_folder / name), f"{case}/{name}")
