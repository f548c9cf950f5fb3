"""The Monte Carlo year loop of a book of policies with common shocks.

One chunk of years at a time, from its own generator state:

1. independent claims: the chunk's total ``T ~ Poisson(sum_i lambda_i Y)``; each claim's policy by
   Walker's alias method on the rates, its year uniform. Each policy-year count is then an
   independent Poisson(lambda_i), at a cost of O(1) per claim, not per policy-year;
2. common shocks: per scenario ``E ~ Poisson(rate Y)`` events, each in a uniform year, hitting
   ``K ~ Binomial(n_exposed, q)`` distinct exposed policies (a partial Fisher-Yates shuffle: given K
   every subset is equally likely, so each policy is hit independently with probability q);
3. every occurrence through its terms (the policy's, or the event's under a batch clause), then the
   claims grouped by (policy, year) for the policies' annual aggregate terms, then summed into the
   book's year, the line's year and the policy's running sums. Grouping sorts by (policy, year), so the
   order of every floating-point sum is fixed by the seed alone.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels import rng, severity
from techins.kernels._jit import jit, jit_parallel


@jit
def _alias(state, accept, alias):
    u = rng.uniform(state) * accept.size
    i = min(np.intp(u), accept.size - 1)
    return i if u - i < accept[i] else alias[i]


@jit
def _grow(a, n):
    if n < a.size:
        return a
    b = np.empty(2 * a.size, dtype=a.dtype)
    b[: a.size] = a
    return b


@jit
def _draw_row(state, row, codes, params, offsets, values, probs, aliases):
    lo = offsets[row]
    hi = offsets[row + 1]
    return severity.draw(state, codes[row], params[row], values[lo:hi], probs[lo:hi], aliases[lo:hi])


@jit
def simulate_book_chunk(state, first, stop, total_rate, accept, alias, pol_row, pol_scale, terms, pol_line,
                        sum_insured, codes, params, offsets, values, probs, aliases,
                        shock_rate, shock_q, shock_row, shock_on_si, shock_batch, shock_terms,
                        exposed, exposed_offsets,
                        annual, max_occurrence, line_annual, psum, psumsq, pcross):
    """Simulate years ``[first, stop)`` of a book; write the book's and lines' years, add to the
    policy sums ``psum``, ``psumsq`` (of annual losses) and ``pcross`` (of annual loss x book loss).

    ``terms[i]`` = (deductible, limit, share, agg_deductible, agg_limit) of policy i;
    ``shock_terms[s]`` = (event deductible, event limit).
    """
    n_years = stop - first
    for y in range(first, stop):
        annual[y] = 0.0
        max_occurrence[y] = 0.0
        for ln in range(line_annual.shape[0]):
            line_annual[ln, y] = 0.0
    cap = 1024
    c_year = np.empty(cap, dtype=np.int64)
    c_pol = np.empty(cap, dtype=np.int64)
    c_loss = np.empty(cap)
    n = 0
    # 1. independent claims
    total = rng.poisson(state, total_rate * n_years) if total_rate > 0.0 else 0
    for _ in range(total):
        i = _alias(state, accept, alias)
        y = first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)
        x = pol_scale[i] * _draw_row(state, pol_row[i], codes, params, offsets, values, probs, aliases)
        loss = terms[i, 2] * min(max(x - terms[i, 0], 0.0), terms[i, 1])
        c_year = _grow(c_year, n)
        c_pol = _grow(c_pol, n)
        c_loss = _grow(c_loss, n)
        c_year[n] = y
        c_pol[n] = i
        c_loss[n] = loss
        n += 1
        if loss > max_occurrence[y]:
            max_occurrence[y] = loss
    # 2. common shocks
    for s in range(shock_rate.size):
        lo = exposed_offsets[s]
        pool = exposed[lo:exposed_offsets[s + 1]].copy()
        n_exp = pool.size
        events = rng.poisson(state, shock_rate[s] * n_years)
        for _ in range(events):
            y = first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)
            k = rng.binomial(state, n_exp, shock_q[s])
            start = n
            gross_total = 0.0
            for j in range(k):
                # partial Fisher-Yates: pool[j] becomes a uniformly chosen not-yet-hit policy
                r = j + min(np.intp(rng.uniform(state) * (n_exp - j)), n_exp - j - 1)
                pool[j], pool[r] = pool[r], pool[j]
                i = pool[j]
                g = _draw_row(state, shock_row[s], codes, params, offsets, values, probs, aliases)
                if shock_on_si[s]:
                    g *= sum_insured[i]
                c_year = _grow(c_year, n)
                c_pol = _grow(c_pol, n)
                c_loss = _grow(c_loss, n)
                c_year[n] = y
                c_pol[n] = i
                c_loss[n] = g
                n += 1
                gross_total += g
            event_loss = 0.0
            if shock_batch[s]:
                # one occurrence, one deductible and one limit, shared back pro rata to ground-up
                paid = min(max(gross_total - shock_terms[s, 0], 0.0), shock_terms[s, 1])
                ratio = paid / gross_total if gross_total > 0.0 else 0.0
                for m in range(start, n):
                    c_loss[m] = terms[c_pol[m], 2] * c_loss[m] * ratio
                    event_loss += c_loss[m]
            else:
                for m in range(start, n):
                    i = c_pol[m]
                    c_loss[m] = terms[i, 2] * min(max(c_loss[m] - terms[i, 0], 0.0), terms[i, 1])
                    event_loss += c_loss[m]
            if event_loss > max_occurrence[y]:
                max_occurrence[y] = event_loss
    # 3. policy-year totals, aggregate terms, sums
    key = c_pol[:n] * n_years + (c_year[:n] - first)
    order = np.argsort(key, kind="mergesort")
    g_pol = np.empty(n, dtype=np.int64)
    g_year = np.empty(n, dtype=np.int64)
    g_loss = np.empty(n)
    n_groups = 0
    m = 0
    while m < n:
        k0 = key[order[m]]
        tot = 0.0
        while m < n and key[order[m]] == k0:
            tot += c_loss[order[m]]
            m += 1
        i = c_pol[order[m - 1]]
        y = c_year[order[m - 1]]
        v = min(max(tot - terms[i, 3], 0.0), terms[i, 4])
        g_pol[n_groups] = i
        g_year[n_groups] = y
        g_loss[n_groups] = v
        n_groups += 1
        annual[y] += v
        line_annual[pol_line[i], y] += v
        psum[i] += v
        psumsq[i] += v * v
    for g in range(n_groups):
        pcross[g_pol[g]] += g_loss[g] * annual[g_year[g]]


@jit_parallel
def simulate_book_wave(states, first_chunk, chunk_years, years, total_rate, accept, alias, pol_row, pol_scale,
                       terms, pol_line, sum_insured, codes, params, offsets, values, probs, aliases,
                       shock_rate, shock_q, shock_row, shock_on_si, shock_batch, shock_terms, exposed,
                       exposed_offsets, annual, max_occurrence, line_annual, psum, psumsq, pcross):
    """Chunks ``first_chunk ..`` in parallel; chunk ``first_chunk + w`` adds into row ``w`` of the policy
    sums, which the caller then adds up in chunk order (the same order for any thread count)."""
    for w in prange(states.shape[0]):
        state = states[w].copy()
        first = (first_chunk + w) * chunk_years
        stop = min(first + chunk_years, years)
        psum[w, :] = 0.0
        psumsq[w, :] = 0.0
        pcross[w, :] = 0.0
        simulate_book_chunk(state, first, stop, total_rate, accept, alias, pol_row, pol_scale, terms, pol_line,
                            sum_insured, codes, params, offsets, values, probs, aliases, shock_rate, shock_q,
                            shock_row, shock_on_si, shock_batch, shock_terms, exposed, exposed_offsets,
                            annual, max_occurrence, line_annual, psum[w], psumsq[w], pcross[w])
