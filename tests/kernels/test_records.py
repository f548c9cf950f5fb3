"""The kernels take a few records built by the plan (``techins.kernels.records``), write every output
of every chunk through them, and allocate per chunk or per call, never per event or per claim."""

import inspect
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.kernels import book as book_kernels, compound
from techins.results import figures
from techins.simulation import plan
from techins.simulation.api import book_tail_losses
from techins.simulation.occurrences import occurrence_arrays

# the one kernel above the limit: Numba's parallel loop cannot take the nested book record, so it
# takes the book's five records flat (``book._book_wave``)
FLAT_PARALLEL = {"_book_wave": 12}
MOST_ARGUMENTS = 8


@pytest.mark.parametrize("module", [book_kernels, compound], ids=["book", "compound"])
def test_every_kernel_takes_a_handful_of_arguments(module):
    kernels = {name: f for name, f in vars(module).items() if hasattr(f, "py_func")}
    assert kernels
    for name, kernel in kernels.items():
        n = len(inspect.signature(kernel.py_func).parameters)
        assert n <= FLAT_PARALLEL.get(name, MOST_ARGUMENTS), f"{module.__name__}.{name} takes {n} arguments"


def book_without_zero_losses(n: int = 30) -> ti.Portfolio:
    """Every claim and shock hit pays something and no aggregate deductible takes a year to 0, so the
    occurrence table (losses > 0) holds every (policy, year) the kernel groups."""
    rng = np.random.default_rng(2)
    line = np.array(["cyber", "drone"])[np.arange(n) % 2]
    table = pd.DataFrame({
        "policy_id": [f"p{i}" for i in range(n)], "line": line, "claim_rate": rng.uniform(0.1, 0.8, n),
        "severity": np.where(line == "cyber", "cyber", "hull"), "limit": 4e5, "agg_limit": 1e6,
        "sum_insured": rng.uniform(1e5, 1e6, n), "vendor": rng.choice(["aws", "azure"], n),
    })
    shocks = (ti.CommonShock("outage", 0.5, "vendor", ("aws",), 0.4, ti.Gamma(2.0, 0.05)),)
    return ti.Portfolio(table, {"cyber": ti.LogNormal(10.0, 1.5), "hull": ti.Gamma(1.5, 3e4)}, shocks=shocks,
                        parameter_risk={"drone": 0.3})


def test_every_chunk_of_every_wave_writes_its_counts_and_tail(monkeypatch):
    """Counted independently from the occurrence table: each chunk's number of (policy, year) losses
    (``BookResult.chunk_groups``, written by the wave kernel through its output record), and in the
    co-TVaR re-run one tail row per (policy, year) of every tail year, adding up to the year's loss.
    Twenty chunks: three waves of ``BOOK_WAVE``, on two threads."""
    monkeypatch.setattr(plan, "BOOK_CLAIMS_PER_CHUNK", 1 << 12)
    result = ti.simulate(book_without_zero_losses(), years=5_000, seed=3, threads=2)
    chunks = list(occurrence_arrays(result))
    assert len(chunks) == result.chunk_groups.size > 2 * plan.BOOK_WAVE
    for c, (year, _, policy, _) in enumerate(chunks):
        assert result.chunk_groups[c] == np.unique(policy * result.years + year).size, c
    threshold = figures.quantile_equal(np.sort(result.annual), 0.9)
    tail_year, tail_policy, tail_loss = book_tail_losses(result, 0.9, threads=2)
    year = np.concatenate([c[0] for c in chunks])
    policy = np.concatenate([c[2] for c in chunks])
    in_tail = result.annual[year] >= threshold
    assert tail_year.size == np.unique(policy[in_tail] * result.years + year[in_tail]).size
    sums = np.bincount(tail_year, weights=tail_loss, minlength=result.years)
    tail_years = np.flatnonzero(result.annual >= threshold)
    np.testing.assert_allclose(sums[tail_years], result.annual[tail_years], rtol=1e-12)


ALLOCATIONS = textwrap.dedent("""
    import json
    import numba
    import numpy as np
    import pandas as pd
    from numba.core.runtime import rtsys

    import techins as ti
    from techins.kernels import book as book_kernels
    from techins.kernels.records import ClaimScratch, EventExposure, OwnClaims
    from techins.simulation.plan import BookPlan, LawTable, LinePlan


    def allocations(call):
        call()  # compiled (or loaded from the cache) and run once before counting
        before = rtsys.get_allocation_stats().alloc
        call()
        return rtsys.get_allocation_stats().alloc - before


    @numba.njit
    def per_item(n):  # the control: one allocation per item, which the count must see
        total = 0.0
        for i in range(n):
            one = np.empty(1)
            one[0] = i
            total += one[0]
        return total


    def book(claim_rate, shock_rate, dependence=()):
        table = pd.DataFrame({"policy_id": np.arange(40), "line": "cyber", "claim_rate": claim_rate,
                              "severity": "s", "sum_insured": 1e6, "vendor": "aws",
                              "region": np.array(["east", "west"])[np.arange(40) % 2]})
        shock = ti.CommonShock("outage", shock_rate, "vendor", ("aws",), 0.5, ti.Exponential(0.01))
        return BookPlan(ti.Portfolio(table, {"s": ti.LogNormal(9.0, 1.0)}, shocks=(shock,), dependence=dependence),
                        512, 1, True)


    def occurrences(run):
        state = run.states([0])[0]  # with a copula, its stream too
        scratch = ClaimScratch(*(b[0] for b in run.claim_buffers(1)))
        return lambda: book_kernels.occurrence_table_chunk(state.copy(), 0, run.years, run.book, scratch)


    def wave(run):
        years = run.years
        return lambda: run.wave(np.arange(run.n_chunks, dtype=np.int64), np.empty(years), np.empty(years),
                                np.empty((1, years)), keep_above=0.0, capacity=np.full(run.n_chunks, 10**6))


    def quote(n_events):
        table = LawTable()
        row, _ = table.row(ti.LogNormal(9.0, 1.0), 0.0)
        theta = np.ones(512)
        theta.flags.writeable = False  # as the Quoter passes its book's line factors: the kernel it compiles
        own = OwnClaims(5.0, theta, row, 1.0, np.array([0.0, np.inf, 1.0, 0.0, np.inf]))
        events = EventExposure(np.arange(n_events) % 512, np.full(n_events, row), np.ones(n_events),
                               np.ones(n_events))
        state = np.random.SeedSequence(1).generate_state(4, np.uint64)
        return lambda: book_kernels.policy_years(state.copy(), 512, table.arrays(), own, events, np.empty(512))


    def line(mean):
        run = LinePlan.of(ti.Line(ti.Poisson(mean), ti.LogNormal(9.0, 1.0)), True)
        return lambda: run.run_chunks(1, 40_000, 0, 3)


    few, many = book(0.01, 0.01), book(2.0, 20.0)
    copula = ti.Dependence(ti.ClaytonCopula(2.0), column="region")
    few_joined, many_joined = book(0.01, 0.01, copula), book(2.0, 20.0, copula)
    print(json.dumps({
        "chunks": [few.n_chunks, many.n_chunks],
        "control": [allocations(lambda: per_item(3)), allocations(lambda: per_item(3000))],
        "occurrence_table_chunk": [allocations(occurrences(few)), allocations(occurrences(many))],
        "occurrence_table_chunk, copula": [allocations(occurrences(few_joined)),
                                           allocations(occurrences(many_joined))],
        "simulate_book_wave, copula": [allocations(wave(few_joined)), allocations(wave(many_joined))],
        "simulate_book_wave": [allocations(wave(few)), allocations(wave(many))],
        "policy_years": [allocations(quote(3)), allocations(quote(3000))],
        "simulate_line": [allocations(line(0.1)), allocations(line(100.0))],
    }))
""")


def test_no_kernel_allocates_per_event_or_per_claim():
    """Numba's own allocation count (``NUMBA_NRT_STATS``) over one call, for a chunk of about 200
    claims and 5 shock events against one of about 41,000 claims and 10,000 events (the same number
    of chunks; with and without a copula, whose reorder and event parts are per chunk), a quote exposed to 3 or 3,000 events, a line with 0.1 or 100 claims a year: equal.
    The control allocating once per item shows the count sees such allocations."""
    env = {**os.environ, "NUMBA_NRT_STATS": "1"}
    run = subprocess.run([sys.executable, "-c", ALLOCATIONS], capture_output=True, text=True, env=env, check=True)
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert counts.pop("chunks") == [1, 1]
    few, many = counts.pop("control")
    assert many - few == 2997
    for kernel, (few, many) in counts.items():
        assert few == many, f"{kernel}: {few} allocations with few events and claims, {many} with many"
