"""The Dask backend against the local backend: a book that takes about a minute locally, on a
LocalCluster of 1 worker (2 Numba threads) and of 2 workers (1 Numba thread each) on this 2-core
machine, so the three variants use the same cores and the ratio is the Dask path's overhead. A small
book shows the fixed cost of a run. Every variant must give the same bits.

Run with ``.venv/bin/python -m pytest benchmarks/test_bench_dask.py -q -s`` (about 4 minutes).
"""

import contextlib
import hashlib
import time

import pytest

import techins as ti
from benchmarks.books import mixed_book

pytest.importorskip("distributed")
from techins.simulation.executors.dask import local_cluster  # noqa: E402

LARGE = (100_000, 120_000)   # policies, years: about a minute on 2 cores
SMALL = (10_000, 10_000)     # about half a second: the fixed cost of a run shows
VARIANTS = {"local": None, "dask_1_worker": (1, 2), "dask_2_workers": (2, 1)}  # (workers, Numba threads each)
_DIGESTS: dict[tuple, str] = {}


def digest(result) -> str:
    return hashlib.sha256(b"".join(a.tobytes() for a in (result.annual, result.max_occurrence, result.line_annual,
                                                          result.policy_sum, result.policy_sumsq,
                                                          result.policy_cross))).hexdigest()


@pytest.fixture(scope="module")
def clients():
    """One LocalCluster per Dask variant, started on first use (the start is timed apart) and kept
    for the module; an idle cluster's workers take memory, not cores."""
    with contextlib.ExitStack() as stack:
        started = {}

        def get(variant):
            if variant not in started:
                workers, threads = VARIANTS[variant]
                start = time.perf_counter()
                client = stack.enter_context(local_cluster(workers, numba_threads=threads))
                up = time.perf_counter() - start
                ti.simulate(mixed_book(100), years=10, seed=0, backend="dask", client=client)
                print(f"\n{variant}: LocalCluster started in {up:.1f} s; first run (workers import techins and "
                      f"load the cached kernels) {time.perf_counter() - start - up:.1f} s")
                started[variant] = client
            return started[variant]

        yield get


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_book_on_dask_against_local(record, clients, size, variant):
    policies, years = size
    book = mixed_book(policies)
    if VARIANTS[variant] is None:
        ti.simulate(mixed_book(100), years=10, seed=0)  # compiled (or loaded from the cache) before timing
        options = {}
    else:
        options = {"backend": "dask", "client": clients(variant)}
    large = size == LARGE
    result = record(f"mixed book {policies:,} x {years:,}", variant,
                    lambda: ti.simulate(book, years=years, seed=1, **options),
                    rounds=1 if large else 5, warmup_rounds=0 if large else 1)
    _DIGESTS.setdefault(size, digest(result))
    assert digest(result) == _DIGESTS[size], f"{variant} differs from the first variant"
    print(f"\n{variant} {policies:,} x {years:,}: {-(-years // result.chunk_years)} chunks of "
          f"{result.chunk_years} years, mean {result.mean():,.0f}")
