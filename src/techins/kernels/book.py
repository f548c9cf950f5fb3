"""The Monte Carlo year loop of a book of policies with common shocks.

One chunk of years at a time, from its own generator state:

1. independent claims: the chunk's total ``T ~ Poisson(sum_i lambda_i Y)``; each claim's policy by
   Walker's alias method on the rates, its year uniform. Each policy-year count is then an
   independent Poisson(lambda_i), at a cost of O(1) per claim, not per policy-year. The sizes are then
   drawn law by law (claims grouped by kernel row with a counting sort) in the tight batched loops of
   ``severity.fill``;
2. common shocks: per scenario ``E ~ Poisson(rate Y)`` events, each in a uniform year, hitting
   ``K ~ Binomial(n_exposed, q)`` distinct exposed policies (a partial Fisher-Yates shuffle: given K
   every subset is equally likely, so each policy is hit independently with probability q);
3. every occurrence through its terms (the policy's, or the event's under a batch clause), then the
   claims grouped by (policy, year) for the policies' annual aggregate terms, then summed into the
   book's year, the line's year and the policy's running sums. Grouping is a stable sort by (policy,
   year), so the order of every floating-point sum is fixed by the seed alone.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels import rng, severity
from techins.kernels._jit import jit, jit_parallel


@jit(inline="always")
def _alias(state, accept, alias):
    u = rng.uniform(state) * accept.size
    i = min(np.intp(u), accept.size - 1)
    return i if u - i < accept[i] else alias[i]


@jit
def _fill_row(state, row, codes, params, offsets, values, probs, aliases, out, m):
    lo = offsets[row]
    hi = offsets[row + 1]
    severity.fill(state, codes[row], params[row], values[lo:hi], probs[lo:hi], aliases[lo:hi], out, m)


@jit
def _counting_order(keys, n, n_keys):
    """Stable order of ``keys[:n]`` (integers in [0, n_keys)) and the start of each key's run."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for m in range(n):
        start[keys[m] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for m in range(n):
        k = keys[m]
        order[fill[k]] = m
        fill[k] += 1
    return order, start


@jit
def _group_by_policy_then_year(c_pol, c_year, n, n_policies):
    """Order of the claims by (policy, year), stable: a counting sort on the policy, then an
    insertion sort on the year inside each policy's few claims. O(n + policies), unlike a comparison
    sort of n keys."""
    order, start = _counting_order(c_pol, n, n_policies)
    for p in range(n_policies):
        for a in range(start[p] + 1, start[p + 1]):
            m = order[a]
            b = a - 1
            while b >= start[p] and c_year[order[b]] > c_year[m]:
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = m
    return order


@jit
def event_schedule(state, first, stop, total_rate, shock_rate, shock_q, exposed_offsets):
    """The first draws of a chunk: its number of independent claims, and each common-shock event's
    scenario, year and number of policies hit. The quote path replays it to see the book's events."""
    n_years = stop - first
    total = rng.poisson(state, total_rate * n_years) if total_rate > 0.0 else 0
    ev_per_shock = np.empty(shock_rate.size, dtype=np.int64)
    for s in range(shock_rate.size):
        ev_per_shock[s] = rng.poisson(state, shock_rate[s] * n_years)
    n_events = ev_per_shock.sum()
    ev_shock = np.empty(n_events, dtype=np.int64)
    ev_year = np.empty(n_events, dtype=np.int64)
    ev_hits = np.empty(n_events, dtype=np.int64)
    e = 0
    for s in range(shock_rate.size):
        n_exp = exposed_offsets[s + 1] - exposed_offsets[s]
        for _ in range(ev_per_shock[s]):
            ev_shock[e] = s
            ev_year[e] = first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)
            ev_hits[e] = rng.binomial(state, n_exp, shock_q[s])
            e += 1
    return total, ev_shock, ev_year, ev_hits


@jit
def book_events(states, chunk_years, years, total_rate, shock_rate, shock_q, exposed_offsets):
    """Scenario and year of every common-shock event of a book run, chunk after chunk."""
    shocks = []
    event_years = []
    for c in range(states.shape[0]):
        state = states[c].copy()
        first = c * chunk_years
        _, ev_shock, ev_year, _ = event_schedule(state, first, min(first + chunk_years, years), total_rate,
                                                 shock_rate, shock_q, exposed_offsets)
        shocks.append(ev_shock)
        event_years.append(ev_year)
    n = 0
    for part in shocks:
        n += part.size
    out_shock = np.empty(n, dtype=np.int64)
    out_year = np.empty(n, dtype=np.int64)
    k = 0
    for c in range(len(shocks)):
        for j in range(shocks[c].size):
            out_shock[k] = shocks[c][j]
            out_year[k] = event_years[c][j]
            k += 1
    return out_shock, out_year


@jit
def policy_years(state, years, rate, own_row, scale, terms, event_years, event_rows, event_q, event_scale,
                 codes, params, offsets, values, probs, aliases, annual):
    """Annual losses of one policy over ``years`` into ``annual``: its own Poisson(``rate``) claims
    (sizes from kernel row ``own_row`` times ``scale``), and in each book event ``e`` it is exposed
    to, a hit with probability ``event_q[e]`` (size from row ``event_rows[e]`` times
    ``event_scale[e]``); ``terms`` = (deductible, limit, share, agg_deductible, agg_limit)."""
    annual[:] = 0.0
    total = rng.poisson(state, rate * years) if rate > 0.0 else 0
    sizes = np.empty(max(total, 1))
    _fill_row(state, own_row, codes, params, offsets, values, probs, aliases, sizes, total)
    for n in range(total):
        y = min(np.intp(rng.uniform(state) * years), years - 1)
        annual[y] += terms[2] * min(max(scale * sizes[n] - terms[0], 0.0), terms[1])
    one = np.empty(1)
    for e in range(event_years.size):
        if rng.uniform(state) < event_q[e]:
            _fill_row(state, event_rows[e], codes, params, offsets, values, probs, aliases, one, 1)
            annual[event_years[e]] += terms[2] * min(max(event_scale[e] * one[0] - terms[0], 0.0), terms[1])
    for y in range(years):
        annual[y] = min(max(annual[y] - terms[3], 0.0), terms[4])


@jit
def simulate_book_chunk(state, first, stop, total_rate, accept, alias, pol_row, pol_scale, terms, pol_line,
                        sum_insured, codes, params, offsets, values, probs, aliases,
                        shock_rate, shock_q, shock_row, shock_on_si, shock_batch, shock_terms,
                        exposed, exposed_offsets,
                        annual, max_occurrence, line_annual, psum, psumsq, pcross,
                        keep_above, tail_year, tail_pol, tail_loss):
    """Simulate years ``[first, stop)`` of a book; write the book's and lines' years, add to the
    policy sums ``psum``, ``psumsq`` (of annual losses) and ``pcross`` (of annual loss x book loss).
    The policies' losses in the years whose book loss is at least ``keep_above`` go to the
    ``tail_*`` arrays (which must hold them). Return the number of (policy, year) losses and the
    number kept.

    ``terms[i]`` = (deductible, limit, share, agg_deductible, agg_limit) of policy i;
    ``shock_terms[s]`` = (event deductible, event limit).
    """
    n_years = stop - first
    for y in range(first, stop):
        annual[y] = 0.0
        max_occurrence[y] = 0.0
        for ln in range(line_annual.shape[0]):
            line_annual[ln, y] = 0.0
    # every count first (claims, events, hits per event), so the claim table is allocated once
    total, ev_shock, ev_year, ev_hits = event_schedule(state, first, stop, total_rate, shock_rate, shock_q,
                                                       exposed_offsets)
    n_events = ev_shock.size
    n_claims = total + ev_hits.sum()
    c_year = np.empty(n_claims, dtype=np.int64)
    c_pol = np.empty(n_claims, dtype=np.int64)
    c_loss = np.empty(n_claims)
    # 1. independent claims: policy and year of each, then the sizes law by law in tight batches
    c_row = np.empty(total, dtype=np.int64)
    for n in range(total):
        i = _alias(state, accept, alias)
        c_pol[n] = i
        c_year[n] = first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)
        c_row[n] = pol_row[i]
    by_row, row_start = _counting_order(c_row, total, codes.size)
    for row in range(codes.size):
        m = row_start[row + 1] - row_start[row]
        if m == 0:
            continue
        sizes = np.empty(m)
        _fill_row(state, row, codes, params, offsets, values, probs, aliases, sizes, m)
        for j in range(m):
            n = by_row[row_start[row] + j]
            i = c_pol[n]
            loss = terms[i, 2] * min(max(pol_scale[i] * sizes[j] - terms[i, 0], 0.0), terms[i, 1])
            c_loss[n] = loss
            if loss > max_occurrence[c_year[n]]:
                max_occurrence[c_year[n]] = loss
    # 2. common shocks: each event one occurrence across the policies it hits
    n = total
    pool = exposed.copy()
    for e in range(n_events):
        s = ev_shock[e]
        y = ev_year[e]
        lo = exposed_offsets[s]
        n_exp = exposed_offsets[s + 1] - lo
        start = n
        gross_total = 0.0
        hits = ev_hits[e]
        sizes = np.empty(hits)
        _fill_row(state, shock_row[s], codes, params, offsets, values, probs, aliases, sizes, hits)
        for j in range(hits):
            # partial Fisher-Yates: pool[lo + j] becomes a uniformly chosen not-yet-hit policy
            r = j + min(np.intp(rng.uniform(state) * (n_exp - j)), n_exp - j - 1)
            pool[lo + j], pool[lo + r] = pool[lo + r], pool[lo + j]
            i = pool[lo + j]
            g = sizes[j]
            if shock_on_si[s]:
                g *= sum_insured[i]
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
    n = n_claims
    # 3. policy-year totals, aggregate terms, sums
    order = _group_by_policy_then_year(c_pol, c_year, n, terms.shape[0])
    g_pol = np.empty(n, dtype=np.int64)
    g_year = np.empty(n, dtype=np.int64)
    g_loss = np.empty(n)
    n_groups = 0
    m = 0
    while m < n:
        i = c_pol[order[m]]
        y = c_year[order[m]]
        tot = 0.0
        while m < n and c_pol[order[m]] == i and c_year[order[m]] == y:
            tot += c_loss[order[m]]
            m += 1
        v = min(max(tot - terms[i, 3], 0.0), terms[i, 4])
        g_pol[n_groups] = i
        g_year[n_groups] = y
        g_loss[n_groups] = v
        n_groups += 1
        annual[y] += v
        line_annual[pol_line[i], y] += v
        psum[i] += v
        psumsq[i] += v * v
    kept = 0
    for g in range(n_groups):
        book_year = annual[g_year[g]]
        pcross[g_pol[g]] += g_loss[g] * book_year
        if book_year >= keep_above:
            tail_year[kept] = g_year[g]
            tail_pol[kept] = g_pol[g]
            tail_loss[kept] = g_loss[g]
            kept += 1
    return n_groups, kept


@jit_parallel
def simulate_book_wave(states, chunk_ids, chunk_years, years, total_rate, accept, alias, pol_row, pol_scale,
                       terms, pol_line, sum_insured, codes, params, offsets, values, probs, aliases,
                       shock_rate, shock_q, shock_row, shock_on_si, shock_batch, shock_terms, exposed,
                       exposed_offsets, annual, max_occurrence, line_annual, psum, psumsq, pcross,
                       keep_above, tail_offsets, tail_year, tail_pol, tail_loss, n_groups, n_kept):
    """Chunks ``chunk_ids`` in parallel; chunk ``chunk_ids[w]`` adds into row ``w`` of the policy
    sums, which the caller then adds up in chunk order (the same order for any thread count), and
    keeps its tail losses in ``tail_*[tail_offsets[w]:tail_offsets[w + 1]]``."""
    for w in prange(states.shape[0]):
        state = states[w].copy()
        first = chunk_ids[w] * chunk_years
        stop = min(first + chunk_years, years)
        psum[w, :] = 0.0
        psumsq[w, :] = 0.0
        pcross[w, :] = 0.0
        lo = tail_offsets[w]
        hi = tail_offsets[w + 1]
        n_groups[w], n_kept[w] = simulate_book_chunk(
            state, first, stop, total_rate, accept, alias, pol_row, pol_scale, terms, pol_line,
            sum_insured, codes, params, offsets, values, probs, aliases, shock_rate, shock_q,
            shock_row, shock_on_si, shock_batch, shock_terms, exposed, exposed_offsets,
            annual, max_occurrence, line_annual, psum[w], psumsq[w], pcross[w],
            keep_above, tail_year[lo:hi], tail_pol[lo:hi], tail_loss[lo:hi])
