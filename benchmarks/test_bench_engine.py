"""Poisson(5) x LogNormal(10, 2): techins' Numba engine against vectorised NumPy, in the same run.

Run with ``make bench``. Variants: ``numpy`` (baseline, one core), ``techins_1thread`` and
``techins_2threads`` (the same seed gives the same numbers in both), each ground-up and with a
5M xs 1M occurrence layer; and the exact FFT path.
"""

import math

import numba
import pytest

import techins as ti
from benchmarks.baselines import numpy_poisson_lognormal

LAYER = dict(limit=5e6, deductible=1e6)


@pytest.fixture(scope="module", autouse=True)
def compiled():
    ti.simulate(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0)), years=1000, seed=0)


@pytest.mark.parametrize("years", [1_000_000, 10_000_000])
@pytest.mark.parametrize("layered", [False, True], ids=["ground_up", "layer_5m_xs_1m"])
@pytest.mark.parametrize("variant", ["numpy", "techins_1thread", "techins_2threads"])
def test_poisson_lognormal(record, years, layered, variant):
    scenario = f"{'layer' if layered else 'ground-up'} {years:,} years"
    terms = LAYER if layered else dict(limit=math.inf, deductible=0.0)
    if variant == "numpy":
        annual = record(scenario, variant,
                        lambda: numpy_poisson_lognormal(years, 1, 5.0, 10.0, 2.0, **terms))
    else:
        threads = 1 if variant.endswith("1thread") else min(2, numba.config.NUMBA_NUM_THREADS)
        line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0),
                       occurrence=ti.Layer(**terms) if layered else None)
        annual = record(scenario, variant,
                        lambda: ti.simulate(line, years=years, seed=1, threads=threads).annual)
    assert annual.size == years


def test_exact_fft_ground_up(record):
    line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0))
    ex = record("exact FFT ground-up", "fft", lambda: ti.exact(line), rounds=5)
    assert abs(ex.mean() / (5 * math.exp(12.0)) - 1) < 1e-4


_COLD = """
import time
t0 = time.perf_counter()
import techins as ti
t1 = time.perf_counter()
ti.simulate(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0)), years=10_000, seed=1)
print(t1 - t0, time.perf_counter() - t1)
"""


def test_cold_start_with_warm_cache(record):
    """A new process: import plus the first simulate, the Numba cache already on disk."""
    import subprocess
    import sys

    def new_process():
        return subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True).stdout

    out = record("cold start (new process)", "import+first simulate", new_process)
    import_s, first_s = map(float, out.split())
    assert import_s + first_s > 0
