"""The Monte Carlo year loop of one frequency-severity line, parallel over fixed chunks of years.

Each chunk ``c`` covers years ``[c * chunk_years, min((c + 1) * chunk_years, years))`` and draws only
from its own generator state ``states[c]``; which thread runs it cannot change a number.

A chunk is simulated in two passes so that cost follows the number of claims, not of years:

1. claim counts per year. For Poisson the chunk's total is drawn once, ``T ~ Poisson(lambda Y)``, and
   each claim is put in a uniformly drawn year (given T the counts are multinomial, so each year's
   count is an independent Poisson(lambda)); the other laws draw year by year;
2. claim sizes in batches of ``BATCH`` (one tight loop per law), walked through the years in order,
   each claim put through the occurrence terms, summed, and the year's sum through the aggregate terms.

Frequency codes and parameters (``fp``): 0 Poisson (mean); 1 negative binomial as a gamma-mixed
Poisson (size r, mean); 2 binomial (n, p).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels import rng, severity, terms
from techins.kernels._jit import jit, jit_parallel

POISSON = 0
NEGATIVE_BINOMIAL = 1
BINOMIAL = 2
BATCH = 4096


@jit
def layer(x, deductible, limit, share):
    """``share * min(max(x - deductible, 0), limit)``: the policy's share of its layer."""
    return share * terms.layer(x, deductible, limit)


@jit
def draw_counts(state, freq_code, fp, first, stop, counts):
    """Write the annual claim counts of years ``[first, stop)`` into ``counts``; return their sum."""
    n_years = stop - first
    if freq_code == POISSON:
        # given the chunk's total T ~ Poisson(mean * years), putting each claim in a uniformly drawn
        # year makes the annual counts independent Poisson(mean): cost follows claims, not years
        for year in range(first, stop):
            counts[year] = 0
        total = rng.poisson(state, fp[0] * n_years)
        for _ in range(total):
            counts[first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)] += 1
        return total
    total = 0
    for year in range(first, stop):
        if freq_code == NEGATIVE_BINOMIAL:
            # N | Lambda ~ Poisson(Lambda), Lambda ~ Gamma(r, mean / r)
            n = rng.poisson(state, fp[1] / fp[0] * rng.gamma(state, fp[0]))
        else:
            n = rng.binomial(state, np.int64(fp[0]), fp[1])
        counts[year] = n
        total += n
    return total


@jit
def simulate_chunk(state, first, stop, line, out):
    """Simulate years ``[first, stop)`` of ``line`` (a ``LineArrays``) into ``out`` (a ``LineOutputs``)."""
    counts = out.counts
    remaining = draw_counts(state, line.freq_code, line.fp, first, stop, counts)
    occ_d, occ_l, occ_s = line.occ[0], line.occ[1], line.occ[2]
    agg = line.agg
    buffer = np.empty(BATCH)  # per chunk: refilled every BATCH claims
    filled = 0
    pos = 0
    for year in range(first, stop):
        total = 0.0
        largest = 0.0
        for _ in range(counts[year]):
            if pos == filled:
                filled = min(BATCH, remaining)
                severity.fill(state, line.sev_code, line.sp, line.values, line.probs, line.aliases, buffer, filled)
                remaining -= filled
                pos = 0
            loss = layer(buffer[pos], occ_d, occ_l, occ_s)
            pos += 1
            total += loss
            largest = max(largest, loss)
        out.annual[year] = layer(total, agg[0], agg[1], agg[2])
        out.max_occurrence[year] = largest


@jit_parallel
def simulate_line(states, chunk_years, years, line, out):
    """Simulate ``years`` years of ``line`` (a ``LineArrays``) into ``out`` (a ``LineOutputs``) over
    ``states.shape[0]`` chunks in parallel (one state per chunk)."""
    n_chunks = states.shape[0]
    for c in prange(n_chunks):
        state = states[c].copy()
        first = c * chunk_years
        stop = min(first + chunk_years, years)
        simulate_chunk(state, first, stop, line, out)
