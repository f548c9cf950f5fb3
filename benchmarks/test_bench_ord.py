"""ORD exports of a 1.13M-event period loss table (5,000 years, the size of issue 18's case): techins'
pyarrow writer (``write_ord_files``) against pandas ``to_csv`` of the same five tables in the same run,
both CSV only. Run with ``make bench`` or
``PYTHONPATH=src python -m pytest benchmarks/test_bench_ord.py --benchmark-only``."""

import numpy as np
import pandas as pd
import pytest

from techins.reinsurance import ord as ex

YEARS = 5_000
EVENTS = 1_130_000
ORD_TABLES = ("plt", "elt", "alt", "alct", "ept")


@pytest.fixture(scope="module")
def occurrences():
    rng = np.random.default_rng(18)
    year = np.sort(rng.integers(0, YEARS, EVENTS))
    occurrence_id = (year.astype(np.int64) // 100 << 32) + np.arange(EVENTS)   # sparse, as a run's ids
    gross = rng.lognormal(12.0, 2.0, EVENTS)
    ceded = np.minimum(np.maximum(gross - 1e6, 0.0), 4e6) + 0.3 * np.minimum(gross, 1e6)
    return pd.DataFrame({"year": year, "occurrence_id": occurrence_id, "gross": gross, "ceded": ceded,
                         "net": gross - ceded})


PERSPECTIVES = {"gross": "gross", "ceded": "ceded", "net": "net"}


def pandas_csv(occ, folder):
    """The same tables, written the way techins did before: pandas ``to_csv``."""
    for perspective, column in PERSPECTIVES.items():
        tables = ex.ord_tables(occ[["year", "occurrence_id"]].assign(loss=occ[column]), YEARS, perspective)
        for name in ORD_TABLES:
            tables[name].drop(columns="Perspective").to_csv(folder / f"{ex.ord_file_name(perspective, name)}.csv",
                                                            index=False)


@pytest.mark.parametrize("variant", ["pandas", "pyarrow"])
def test_ord_csv_export(record, occurrences, tmp_path, variant):
    scenario = f"ORD CSV, 3 perspectives x {EVENTS / 1e6:.2f}M events"
    folder = tmp_path / variant
    folder.mkdir()
    if variant == "pandas":
        record(scenario, variant, lambda: pandas_csv(occurrences, folder), rounds=2)
    else:
        record(scenario, variant, lambda: ex.write_ord_files(occurrences, YEARS, folder, PERSPECTIVES,
                                                             formats="csv"), rounds=3)
    plt = pd.read_csv(folder / "il_S1_splt.csv")
    assert len(plt) == EVENTS and plt["Loss"].sum() == pytest.approx(occurrences["gross"].sum(), rel=1e-12)
