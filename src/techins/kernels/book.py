"""The Monte Carlo year loop of a book of policies with common shocks.

One chunk of years at a time, from its own generator state:

1. common shocks: per scenario ``E ~ Poisson(rate Y)`` events, each in a uniform year, hitting
   ``K ~ Binomial(n_exposed, q)`` distinct exposed policies (a partial Fisher-Yates shuffle: given K
   every subset is equally likely, so each policy is hit independently with probability q). Each
   event is one occurrence: through each policy's terms, or once through the event's terms under a
   batch clause and shared back pro rata;
2. independent claims, law by law: the chunk's total for the policies of one law,
   ``T ~ Poisson(Lambda Y)``, is split over them by rate (a multinomial, drawn as a chain of
   conditional binomials), so each policy-year count is an independent Poisson(lambda_i); the sizes
   of the T claims are drawn in one tight batch of ``severity.fill``, and their years uniformly. Cost
   follows the claims (plus one binomial per policy and chunk), never policies x years;
3. policy by policy (their claims are contiguous by construction, shock hits are added from a
   counting sort), the claims grouped by year for the policy's annual aggregate terms, then summed
   into the book's year, the line's year and the policy's running sums. Every order is fixed by the
   book and the seed, so every floating-point sum is the same for any thread count.

With a copula (``CopulaArrays``), step 3 first moves each (policy, year) loss of a joined margin to
the year the Iman–Conover reorder gives its margin's year (``_copula_years``), from the chunk's
second generator state: the draws of steps 1-2 are those of the independent run, so each margin keeps
its losses exactly. Steps 1-3 up to the reorder are one function (``_chunk_losses``) that
``occurrence_table_chunk`` calls too, so a book's occurrence table puts each claim and each margin's
part of an event in the very year the simulation moved it to. A shared gamma frailty multiplies the
year weights of its lines (``line_year_weights``), so counts, occurrences and everything after see it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels import rng, severity
from techins.kernels._jit import jit, jit_parallel
from techins.kernels.copula import copula_scores, iman_conover
from techins.kernels.records import BookArrays, ChunkLosses, ClaimScratch
from techins.kernels.terms import layer

QUOTE_BLOCK = 1 << 16  # claims of a quoted policy drawn at a time (policy_years)


@jit
def _fill_row(state, laws, row, out, m):
    # m sizes of kernel row ``row`` of ``laws`` (a LawRows) into out[:m]
    lo = laws.offsets[row]
    hi = laws.offsets[row + 1]
    severity.fill(state, laws.codes[row], laws.params[row], laws.values[lo:hi], laws.probs[lo:hi],
                  laws.aliases[lo:hi], out, m)


@jit
def event_schedule(state, first, stop, shocks):
    """The first draws of a chunk: each common-shock event's scenario, year and number of policies hit
    (``shocks`` a ``ShockArrays``). The quote path replays it to see the book's events."""
    n_years = stop - first
    shock_rate, shock_q, exposed_offsets = shocks.rate, shocks.q, shocks.exposed_offsets
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
    return ev_shock, ev_year, ev_hits


@jit
def book_events(states, chunk_years, years, groups, shocks):
    """Replay the first draws of every chunk of a book run (``groups`` a ``ClaimGroups``, ``shocks``
    a ``ShockArrays``): each line's claim-rate factor per year (``theta[line, year]``: parameter risk
    times shared frailty, 1 for unmixed lines) and the scenario and year of every common-shock event."""
    line_cv = groups.line_cv
    theta = np.ones((line_cv.size, years))
    scenarios = []
    event_years = []
    for c in range(states.shape[0]):
        state = states[c].copy()
        first = c * chunk_years
        stop = min(first + chunk_years, years)
        cum = line_year_weights(state, stop - first, groups)
        for ln in range(line_cv.size):
            if mixed_line(groups, ln):
                previous = 0.0
                for y in range(stop - first):
                    theta[ln, first + y] = cum[ln, y] - previous
                    previous = cum[ln, y]
        ev_shock, ev_year, _ = event_schedule(state, first, stop, shocks)
        scenarios.append(ev_shock)
        event_years.append(ev_year)
    n = 0
    for part in scenarios:
        n += part.size
    out_shock = np.empty(n, dtype=np.int64)
    out_year = np.empty(n, dtype=np.int64)
    k = 0
    for c in range(len(scenarios)):
        for j in range(scenarios[c].size):
            out_shock[k] = scenarios[c][j]
            out_year[k] = event_years[c][j]
            k += 1
    return theta, out_shock, out_year


@jit
def policy_years(state, years, laws, own, events, annual):
    """Annual losses of one policy over ``years`` into ``annual``: its own Poisson(``rate theta_y``)
    claims (``own``, an ``OwnClaims``: sizes from kernel row ``own.row`` of ``laws`` times
    ``own.scale``; ``theta`` its line's parameter-risk factors, ones without), and in each book event
    ``e`` it is exposed to (``events``, an ``EventExposure``), a hit with probability ``events.q[e]``
    (size from row ``events.row[e]`` times ``events.scale[e]``), all through ``own.terms``."""
    terms, scale = own.terms, own.scale
    annual[:] = 0.0
    cum = np.cumsum(own.theta)
    total = rng.poisson(state, own.rate * cum[years - 1]) if own.rate > 0.0 else 0
    # the claims in blocks of at most QUOTE_BLOCK, so a policy of millions of claims needs no more memory
    # than one of a few; a policy with fewer claims draws exactly as one block
    sizes = np.empty(max(min(total, QUOTE_BLOCK), 1))
    done = 0
    while done < total:
        m = min(QUOTE_BLOCK, total - done)
        _fill_row(state, laws, own.row, sizes, m)
        for n in range(m):
            # the year of a claim has probability proportional to the line's factor theta_y
            y = min(np.searchsorted(cum, rng.uniform(state) * cum[years - 1], side="right"), years - 1)
            annual[y] += terms[2] * layer(scale * sizes[n], terms[0], terms[1])
        done += m
    one = np.empty(1)  # per call: each event hit reuses it
    n_one = np.int64(1)  # not the literal 1: _fill_row and severity.fill would compile a second time for it
    for e in range(events.year.size):
        if rng.uniform(state) < events.q[e]:
            _fill_row(state, laws, events.row[e], one, n_one)
            annual[events.year[e]] += terms[2] * layer(events.scale[e] * one[0], terms[0], terms[1])
    for y in range(years):
        annual[y] = layer(annual[y], terms[3], terms[4])


@jit
def _shock_hits(state, first, stop, book):
    """Step 1: every event of the chunk, its hits after the occurrence terms (policy, year, loss, and
    the event's index in the chunk)."""
    shocks = book.shocks
    pol_terms, sum_insured = book.policies.terms, book.policies.sum_insured
    exposed_offsets = shocks.exposed_offsets
    ev_shock, ev_year, ev_hits = event_schedule(state, first, stop, shocks)
    n_hits = ev_hits.sum()
    h_pol = np.empty(n_hits, dtype=np.int64)
    h_year = np.empty(n_hits, dtype=np.int64)
    h_loss = np.empty(n_hits)
    h_event = np.empty(n_hits, dtype=np.int64)
    pool = shocks.exposed.copy()
    sizes = np.empty(ev_hits.max() if ev_hits.size > 0 else 0)
    n = 0
    for e in range(ev_shock.size):
        s = ev_shock[e]
        lo = exposed_offsets[s]
        n_exp = exposed_offsets[s + 1] - lo
        start = n
        k = ev_hits[e]
        _fill_row(state, book.laws, shocks.row[s], sizes, k)
        gross_total = 0.0
        for j in range(k):
            # partial Fisher-Yates: pool[lo + j] becomes a uniformly chosen not-yet-hit policy
            r = j + min(np.intp(rng.uniform(state) * (n_exp - j)), n_exp - j - 1)
            pool[lo + j], pool[lo + r] = pool[lo + r], pool[lo + j]
            i = pool[lo + j]
            g = sizes[j] * sum_insured[i] if shocks.on_si[s] else sizes[j]
            h_pol[n] = i
            h_year[n] = ev_year[e]
            h_loss[n] = g
            h_event[n] = e
            n += 1
            gross_total += g
        if shocks.batch[s]:
            # one occurrence, one deductible and one limit, shared back pro rata to ground-up
            paid = layer(gross_total, shocks.terms[s, 0], shocks.terms[s, 1])
            ratio = paid / gross_total if gross_total > 0.0 else 0.0
            for m in range(start, n):
                h_loss[m] = pol_terms[h_pol[m], 2] * h_loss[m] * ratio
        else:
            for m in range(start, n):
                i = h_pol[m]
                h_loss[m] = pol_terms[i, 2] * layer(h_loss[m], pol_terms[i, 0], pol_terms[i, 1])
    return h_pol, h_year, h_loss, h_event


@jit
def _own_claims(state, first, stop, book, cum_theta, claims):
    """Step 2: the independent claims, group by group (policies of one law and one line), into
    ``claims`` (a ``ClaimScratch`` of one chunk): policy ``perm[k]``'s claims are
    ``claims.*[claims.first[k]:claims.first[k + 1]]``. A line with parameter risk has year weights
    ``cum_theta[line]`` (cumulative): its claims fall in year y with probability proportional to
    theta_y, found through the line's guide table (``_year_guide``), which returns the binary search's
    year for every draw. Returns the number of claims, or -1 when ``claims`` is too small."""
    groups, pol_scale, pol_terms = book.groups, book.policies.scale, book.policies.terms
    perm, group_start, group_rate, cond_prob = groups.perm, groups.group_start, groups.group_rate, groups.cond_prob
    c_first, c_year, c_loss = claims.first, claims.year, claims.loss
    n_years = stop - first
    guides, guide_start, guide_scale = _line_guides(groups, cum_theta, n_years)
    n = 0
    sizes = np.empty(c_year.size)  # one scratch for every group's batch: a book may have many laws
    for g in range(group_start.size - 1):
        lo, hi = group_start[g], group_start[g + 1]
        ln = groups.group_line[g]
        mixed = mixed_line(groups, ln)
        if group_rate[g] <= 0.0:
            for k in range(lo, hi):
                c_first[k] = n
            continue
        weight = cum_theta[ln, n_years - 1] if mixed else float(n_years)
        # a mixed line's years by its guide table when it has one, else by the binary search: the same
        # year for every draw (_year_by_guide), so which one runs never changes a number
        scale = guide_scale[ln]
        guided = mixed and scale > 0.0  # 0: no table for the line (_line_guides, _year_guide)
        table = guides[guide_start[ln]:guide_start[ln + 1]]
        remaining = rng.poisson(state, group_rate[g] * weight)
        if n + remaining > c_year.size:
            return -1  # the caller's buffers are too small: it grows them and runs the chunk again
        _fill_row(state, book.laws, groups.group_row[g], sizes, remaining)
        used = 0
        for k in range(lo, hi):
            c_first[k] = n
            # multinomial split of the group's claims by rate: a chain of conditional binomials,
            # P(claim of policy k | not of the policies before it) = lambda_k / (sum of the rest)
            m = rng.binomial(state, remaining, cond_prob[k]) if remaining > 0 else 0
            remaining -= m
            i = perm[k]
            for _ in range(m):
                if guided:
                    y = first + _year_by_guide(cum_theta, ln, n_years, table, scale, rng.uniform(state) * weight)
                elif mixed:
                    y = first + _year_by_weight(cum_theta, ln, n_years, rng.uniform(state) * weight)
                else:
                    y = first + min(np.intp(rng.uniform(state) * n_years), n_years - 1)
                loss = pol_terms[i, 2] * layer(pol_scale[i] * sizes[used], pol_terms[i, 0], pol_terms[i, 1])
                used += 1
                c_year[n] = y
                c_loss[n] = loss
                n += 1
    c_first[perm.size] = n
    return n


@jit
def _first_above(cum, ln, lo, hi, target):
    # the first year in [lo, hi) whose cumulative weight exceeds target (hi when none does): a binary
    # search in place over nondecreasing weights (a slice per claim would cost more than the search)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[ln, mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo


@jit
def _year_by_weight(cum, ln, n_years, target):
    # the first year whose cumulative weight exceeds target, the last year when none does
    return _first_above(cum, ln, 0, n_years - 1, target)


GUIDE_BUCKETS = 8  # most guide table entries per year of a chunk (_year_guide): more, fewer claims need a compare


@jit
def _guide_bucket(value, scale, n_buckets):
    # the bucket of a cumulative weight or target in [0, total]: nondecreasing in value (a product by a
    # positive finite scale and a truncation both are), which is all _year_guide's proof needs
    return min(np.intp(value * scale), n_buckets - 1)


@jit
def _year_guide(cum, ln, n_years, guide):
    """A guide table over line ``ln``'s cumulative year weights (Chen & Asau's cutpoints): bucket
    ``b(x) = min(floor(x m / total), m - 1)`` of ``m = guide.size - 1`` buckets, and ``guide[j]`` = the
    number of years whose ``b(cum[y])`` is below ``j`` (the first year of bucket ``j`` or later).
    Returns the scale ``m / total``, or 0 when the weights do not allow a guide (a total of 0 or inf,
    a NaN, a decrease): the caller then keeps the binary search.

    Why the answer of ``_year_by_weight`` for a target ``t`` (the first year with ``cum[y] > t``) lies
    in ``[guide[j], guide[j + 1]]`` for ``j = b(t)``, whatever the weights: ``b`` is nondecreasing, so
    ``b(cum[y]) < b(t)`` implies ``cum[y] < t`` (the ``guide[j]`` years before ``guide[j]`` all fail
    ``cum[y] > t``), and ``b(cum[y]) > b(t)`` implies ``cum[y] > t`` (year ``guide[j + 1]``, when there
    is one, passes). The cumulative weights being nondecreasing (checked here), ``cum[y] > t`` is false
    then true along the years, so a search of that range with the same comparison finds the same year,
    ties included."""
    n_buckets = guide.size - 1
    total = cum[ln, n_years - 1]
    scale = n_buckets / total
    if not (total > 0.0 and 0.0 < scale < np.inf):  # also false for a NaN total
        return 0.0
    previous = 0.0
    for y in range(n_years):
        if not cum[ln, y] >= previous:  # a decrease, a negative weight or a NaN
            return 0.0
        previous = cum[ln, y]
    j = 0
    for y in range(n_years):
        b = _guide_bucket(cum[ln, y], scale, n_buckets)
        while j <= b:
            guide[j] = y
            j += 1
    while j <= n_buckets:
        guide[j] = n_years
        j += 1
    return scale


@jit
def _year_by_guide(cum, ln, n_years, guide, scale, target):
    # _year_by_weight's year through the guide table of _year_guide (its docstring has the proof): the
    # same comparison over the few years of the target's bucket, none when it holds no year's end
    j = _guide_bucket(target, scale, guide.size - 1)
    return min(_first_above(cum, ln, guide[j], guide[j + 1], target), n_years - 1)


@jit
def _line_guides(groups, cum_theta, n_years):
    """The guide tables of a chunk's mixed lines (``_year_guide``), end to end in one array:
    ``(tables, start, scale)``, line ``ln``'s table ``tables[start[ln]:start[ln + 1]]`` (empty: none,
    the binary search). Only a line expecting at least one claim a year gets one, of about one entry
    per expected claim and at most ``GUIDE_BUCKETS`` a year: the tables stay within the size of the
    chunk's claims, and a line of few claims, which would gain little, costs nothing."""
    n_lines = groups.line_cv.size
    expected = np.zeros(n_lines)
    for g in range(groups.group_start.size - 1):
        expected[groups.group_line[g]] += groups.group_rate[g]
    start = np.zeros(n_lines + 1, dtype=np.int64)
    for ln in range(n_lines):
        claims = expected[ln] * cum_theta[ln, n_years - 1]
        size = 0
        if mixed_line(groups, ln) and claims >= n_years:  # false for a NaN
            size = np.intp(min(float(GUIDE_BUCKETS * n_years), claims)) + 1  # the min first: no huge float to int
        start[ln + 1] = start[ln] + size
    tables = np.empty(start[n_lines], dtype=np.int64)
    scale = np.zeros(n_lines)
    for ln in range(n_lines):
        if start[ln + 1] > start[ln]:
            scale[ln] = _year_guide(cum_theta, ln, n_years, tables[start[ln]:start[ln + 1]])
    return tables, start, scale


@jit
def mixed_line(groups, ln):
    """Whether line ``ln``'s claim rates move by year (parameter risk or a shared frailty)."""
    return groups.line_cv[ln] > 0.0 or groups.line_frailty[ln] >= 0


@jit
def line_year_weights(state, n_years, groups):
    """The year weights of each line (``groups`` a ``ClaimGroups``), cumulated over the chunk's years
    (unmixed lines hold zeros). Parameter risk: for each line with ``line_cv > 0``, a factor theta_y ~
    Gamma(1/cv^2, cv^2) (mean 1, coefficient of variation cv) multiplying the claim rates of all its
    policies in year y; then each shared frailty's factor Z_y ~ Gamma(1/cv^2, cv^2) multiplies the
    weights of all its lines. The first draws of a chunk, so the quote path can replay them; a book
    without frailties draws exactly what it drew before they existed."""
    line_cv, line_frailty, frailty_cv = groups.line_cv, groups.line_frailty, groups.frailty_cv
    cum = np.zeros((line_cv.size, max(n_years, 1)))
    for ln in range(line_cv.size):
        cv = line_cv[ln]
        if cv <= 0.0:
            if line_frailty[ln] >= 0:
                for y in range(n_years):
                    cum[ln, y] = 1.0
            continue
        shape = 1.0 / (cv * cv)
        for y in range(n_years):
            cum[ln, y] = rng.gamma(state, shape) / shape
    for f in range(frailty_cv.size):
        shape = 1.0 / (frailty_cv[f] * frailty_cv[f])
        for y in range(n_years):
            z = rng.gamma(state, shape) / shape
            for ln in range(line_cv.size):
                if line_frailty[ln] == f:
                    cum[ln, y] *= z
    for ln in range(line_cv.size):
        if mixed_line(groups, ln):
            total = 0.0
            for y in range(n_years):
                total += cum[ln, y]
                cum[ln, y] = total
    return cum


@jit
def _counting_order(keys, n_keys, order, out):
    """``out`` = ``order`` stably sorted by ``keys[order]`` (integers in ``[0, n_keys)``): one pass of a
    counting sort, linear in items plus keys. Two passes (minor key, then major key) give a stable
    sort by (major, minor) in linear time, whatever the number of items per key."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for j in range(order.size):
        start[keys[order[j]] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    for j in range(order.size):
        key = keys[order[j]]
        out[start[key]] = order[j]
        start[key] += 1


@jit
def _order_by_major_then_year(major, n_major, year, first, n_years):
    """The permutation sorting items by (``major``, ``year``), items of equal keys in their given order.
    Linear: a fleet policy with a million claims in a chunk costs a million steps, not their square."""
    n = major.size
    minor = np.empty(n, dtype=np.int64)
    for j in range(n):
        minor[j] = year[j] - first
    identity = np.arange(n)
    by_year = np.empty(n, dtype=np.int64)
    _counting_order(minor, n_years, identity, by_year)
    order = np.empty(n, dtype=np.int64)
    _counting_order(major, n_major, by_year, order)
    return order


@jit
def _contract_terms(g_pol, g_year, g_loss, n_groups, first, n_years, policies, csumsq):
    """Each contract's annual aggregate over its policies (coverages): the (policy, year) losses of a
    contract are gathered by year (a stable sort by contract and year), summed, put through the
    contract's (agg_deductible, agg_limit) (``policies``, a ``PolicyTerms``), and each policy's share
    cut back in proportion."""
    pol_contract, contract_terms = policies.contract, policies.contract_terms
    n_contracts = contract_terms.shape[0]
    contract = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        contract[g] = pol_contract[g_pol[g]]
    order = _order_by_major_then_year(contract, n_contracts, g_year[:n_groups], first, n_years)
    j = 0
    while j < n_groups:
        c = contract[order[j]]
        y = g_year[order[j]]
        lo = j
        tot = 0.0
        while j < n_groups and contract[order[j]] == c and g_year[order[j]] == y:
            tot += g_loss[order[j]]
            j += 1
        v = layer(tot, contract_terms[c, 0], contract_terms[c, 1])
        if v != tot:
            ratio = v / tot if tot > 0.0 else 0.0
            for k in range(lo, j):
                g_loss[order[k]] *= ratio
        csumsq[c] += v * v


@jit
def _largest_paid_occurrences(c_year, c_loss, n_claims, h_year, h_loss, h_event, item_ratio, max_occurrence):
    """Each year's largest occurrence as paid: an own claim (item ``m < n_claims``) or a whole event
    (its hits, items from ``n_claims`` on, summed), each loss times ``item_ratio`` (what its (policy,
    year)'s annual terms leave of it, pro rata), as ``apply_programme``'s occurrence table cuts them,
    so a year's largest occurrence never exceeds its annual loss. ``max_occurrence`` is indexed by year
    and was zeroed for the chunk's years."""
    for m in range(n_claims):
        paid = c_loss[m] * item_ratio[m]
        if paid > max_occurrence[c_year[m]]:
            max_occurrence[c_year[m]] = paid
    n_events = h_event[-1] + 1 if h_event.size > 0 else 0
    event_paid = np.zeros(n_events)
    event_year = np.zeros(n_events, dtype=np.int64)
    for m in range(h_event.size):
        e = h_event[m]
        event_paid[e] += h_loss[m] * item_ratio[n_claims + m]
        event_year[e] = h_year[m]
    for e in range(n_events):
        if event_paid[e] > max_occurrence[event_year[e]]:
            max_occurrence[event_year[e]] = event_paid[e]


@jit
def _copula_years(copula_state, first, stop, copula, losses):
    """The copula's reorder of a chunk (``copula`` a ``CopulaArrays``; ``losses``: (policy, year, loss,
    count) of its (policy, year) losses after all terms): each margin's annual loss per year, a copula
    sample of the chunk's years from ``copula_state``, and each joined (policy, year) loss moved to the
    year the Iman–Conover permutation of its margin gives (the years rewritten in place). Policies
    move with their margin's year, so each margin keeps exactly its years' losses; policies not
    joined stay where they were drawn. Returns ``(new_year, values, scores)``: the permutation
    (``new_year[m, y]`` the chunk year, from 0, that margin ``m``'s chunk year ``y`` moved to), each
    margin's annual loss in the years drawn and the copula sample the ranks followed."""
    g_pol, g_year, g_loss, n_groups = losses
    n_years = stop - first
    nm = copula.n_margins
    margin = copula.margin
    values = np.zeros((nm, n_years))
    for g in range(n_groups):
        m = margin[g_pol[g]]
        if m >= 0:
            values[m, g_year[g] - first] += g_loss[g]
    scores = np.empty((nm, n_years))
    copula_scores(copula_state, copula.family, copula.params, copula.chol, scores)
    new_year = np.empty((nm, n_years), dtype=np.int64)
    iman_conover(values, scores, new_year)
    for g in range(n_groups):
        m = margin[g_pol[g]]
        if m >= 0:
            g_year[g] = first + new_year[m, g_year[g] - first]
    return new_year, values, scores


@jit
def _largest_moved_occurrences(copula, c_loss, n_claims, hits, item_ratio, item_group, g_year, max_occurrence):
    """``_largest_paid_occurrences`` after the copula's reorder: each item in the year its (policy, year)
    loss moved to (``g_year[item_group[m]]``), and an event's hits counted as one occurrence per margin
    (the reorder moves each margin's part of the event to its own year; the part on policies not
    joined is one more). ``hits``: (policy, loss, event) of the shock hits, an event's contiguous."""
    h_pol, h_loss, h_event = hits
    nm = copula.n_margins
    for m in range(n_claims):
        paid = c_loss[m] * item_ratio[m]
        y = g_year[item_group[m]]
        if paid > max_occurrence[y]:
            max_occurrence[y] = paid
    part = np.zeros(nm + 1)
    part_year = np.zeros(nm + 1, dtype=np.int64)
    j = 0
    while j < h_event.size:
        e = h_event[j]
        while j < h_event.size and h_event[j] == e:
            slot = copula.margin[h_pol[j]]
            slot = slot if slot >= 0 else nm
            part[slot] += h_loss[j] * item_ratio[n_claims + j]
            part_year[slot] = g_year[item_group[n_claims + j]]
            j += 1
        for slot in range(nm + 1):
            if part[slot] > max_occurrence[part_year[slot]]:
                max_occurrence[part_year[slot]] = part[slot]
            part[slot] = 0.0


@jit
def simulate_book_chunk(state, first, stop, book, out, w, tail, scratch):
    """Simulate years ``[first, stop)`` of ``book`` (a ``BookArrays``) as chunk ``w`` of a wave, from
    generator ``state`` (its first 4 words; words 4-7, when given, are the chunk's copula stream, which
    draws its copula sample when the book has one).

    Writes the book's and lines' years into ``out`` (a ``WaveOutputs``) and its row ``w`` of the
    policy sums ``psum``, ``psumsq`` (of annual losses), ``pcross`` (of annual loss x book loss) and
    ``csumsq`` (of the contracts' annual losses squared). The policies' losses in the years whose
    book loss is at least ``tail.keep_above`` go to ``tail`` (a ``TailBuffers``) from
    ``tail.offsets[w]`` on (it must hold them). Row ``w`` of ``scratch`` (a ``ClaimScratch``) holds
    the claims. ``out.n_groups[w]`` is the number of (policy, year) losses, or -1 when the claim
    scratch was too small (nothing is then valid); ``out.n_kept[w]`` the number kept.

    Policies may be the coverages of contracts: each contract's (agg_deductible, agg_limit) applies to
    its policies' annual losses (cut back pro rata when they bind); no contract terms means no
    contracts.
    """
    n_groups, kept = _book_chunk(state, first, stop, book, out, w, tail, scratch)
    out.n_groups[w] = n_groups
    out.n_kept[w] = kept


@jit
def _chunk_losses(state, first, stop, book, claims, csumsq):
    """Steps 1-3 of a chunk up to its (policy, year) losses after every term, in the years the copula
    moved them to (``book`` a ``BookArrays``, ``claims`` one chunk's ``ClaimScratch``, ``csumsq`` the
    contracts' sums of squared annual losses, added to; ``state``: words 4-7 the copula stream when the
    book has a copula). Returns a ``ChunkLosses``; ``n_claims = -1`` (nothing else valid) when the
    claim scratch is too small. ``simulate_book_chunk`` and ``occurrence_table_chunk`` both take a
    chunk's losses from here, so the copula's permutation is computed from the very same sums."""
    policies = book.policies
    pol_terms = policies.terms
    perm = book.groups.perm
    cum_theta = line_year_weights(state, stop - first, book.groups)
    h_pol, h_year, h_loss, h_event = _shock_hits(state, first, stop, book)
    n_claims = _own_claims(state, first, stop, book, cum_theta, claims)
    if n_claims < 0:
        none = np.empty(0, dtype=np.int64)
        return ChunkLosses(-1, claims.year, claims.loss, h_pol, h_year, h_loss, h_event, none, none, np.empty(0), 0,
                           none, np.empty(0), (np.zeros((0, stop - first), dtype=np.int64),
                                               np.zeros((0, stop - first)), np.zeros((0, stop - first))))
    c_first, c_year, c_loss = claims.first, claims.year, claims.loss
    # 3. every claim and hit of the chunk by (policy position, year), each policy's own claims before
    # its shock hits within a year, then policy by policy: annual aggregate terms, sums
    n_pol = policies.scale.size
    position = np.empty(n_pol, dtype=np.int64)
    for k in range(n_pol):
        position[perm[k]] = k
    n_items = n_claims + h_pol.size
    item_key = np.empty(n_items, dtype=np.int64)
    item_year = np.empty(n_items, dtype=np.int64)
    for k in range(n_pol):
        for m in range(c_first[k], c_first[k + 1]):
            item_key[m] = k
            item_year[m] = c_year[m]
    for m in range(h_pol.size):
        item_key[n_claims + m] = position[h_pol[m]]
        item_year[n_claims + m] = h_year[m]
    order = _order_by_major_then_year(item_key, n_pol, item_year, first, stop - first)
    g_pol = np.empty(n_items, dtype=np.int64)
    g_year = np.empty(n_items, dtype=np.int64)
    g_loss = np.empty(n_items)
    g_ground = np.empty(n_items)  # the (policy, year) total before the annual terms
    item_group = np.empty(n_items, dtype=np.int64)
    n_groups = 0
    j = 0
    while j < n_items:
        k = item_key[order[j]]
        y = item_year[order[j]]
        tot = 0.0
        while j < n_items and item_key[order[j]] == k and item_year[order[j]] == y:
            m = order[j]
            tot += c_loss[m] if m < n_claims else h_loss[m - n_claims]
            item_group[m] = n_groups
            j += 1
        i = perm[k]
        g_pol[n_groups] = i
        g_year[n_groups] = y
        g_ground[n_groups] = tot
        g_loss[n_groups] = layer(tot, pol_terms[i, 3], pol_terms[i, 4])
        n_groups += 1
    if policies.contract_terms.shape[0] > 0:
        _contract_terms(g_pol, g_year, g_loss, n_groups, first, stop - first, policies, csumsq)
    item_ratio = np.empty(n_items)
    for m in range(n_items):
        g = item_group[m]
        item_ratio[m] = g_loss[g] / g_ground[g] if g_ground[g] > 0.0 else 0.0
    margin_year = np.zeros((0, stop - first), dtype=np.int64)
    margin_values, margin_scores = np.zeros((0, stop - first)), np.zeros((0, stop - first))
    if book.copula.n_margins > 0:
        margin_year, margin_values, margin_scores = _copula_years(state[4:].copy(), first, stop, book.copula,
                                                                  (g_pol, g_year, g_loss, n_groups))
    return ChunkLosses(n_claims, c_year, c_loss, h_pol, h_year, h_loss, h_event, g_pol, g_year, g_loss, n_groups,
                       item_group, item_ratio, (margin_year, margin_values, margin_scores))


@jit
def _book_chunk(state, first, stop, book, out, w, tail, scratch):
    # simulate_book_chunk's work; returns (number of (policy, year) losses, number kept)
    pol_line = book.policies.line
    annual, line_annual = out.annual, out.line_annual
    psum, psumsq, pcross, csumsq = out.psum[w], out.psumsq[w], out.pcross[w], out.csumsq[w]
    psum[:] = 0.0
    psumsq[:] = 0.0
    pcross[:] = 0.0
    csumsq[:] = 0.0
    for y in range(first, stop):
        annual[y] = 0.0
        out.max_occurrence[y] = 0.0
        for ln in range(line_annual.shape[0]):
            line_annual[ln, y] = 0.0
    claims = ClaimScratch(scratch.first[w], scratch.year[w], scratch.loss[w])
    losses = _chunk_losses(state, first, stop, book, claims, csumsq)
    n_claims = losses.n_claims
    if n_claims < 0:
        return -1, 0
    h_pol, h_year, h_loss, h_event = losses.h_pol, losses.h_year, losses.h_loss, losses.h_event
    g_pol, g_year, g_loss, n_groups = losses.g_pol, losses.g_year, losses.g_loss, losses.n_groups
    if book.copula.n_margins > 0:
        _largest_moved_occurrences(book.copula, losses.c_loss, n_claims, (h_pol, h_loss, h_event), losses.item_ratio,
                                   losses.item_group, g_year, out.max_occurrence)
    else:
        _largest_paid_occurrences(losses.c_year, losses.c_loss, n_claims, h_year, h_loss, h_event, losses.item_ratio,
                                  out.max_occurrence)
    for g in range(n_groups):
        i = g_pol[g]
        y = g_year[g]
        v = g_loss[g]
        annual[y] += v
        line_annual[pol_line[i], y] += v
        psum[i] += v
        psumsq[i] += v * v
    kept = 0
    lo = tail.offsets[w]
    for g in range(n_groups):
        book_year = annual[g_year[g]]
        pcross[g_pol[g]] += g_loss[g] * book_year
        if book_year >= tail.keep_above:
            tail.year[lo + kept] = g_year[g]
            tail.policy[lo + kept] = g_pol[g]
            tail.loss[lo + kept] = g_loss[g]
            kept += 1
    return n_groups, kept


@jit
def occurrence_table_chunk(state, first, stop, book, scratch):
    """The chunk's occurrences after the policies' occurrence terms, drawn exactly as in
    ``simulate_book_chunk`` (``book`` a ``BookArrays``, ``scratch`` one chunk's ``ClaimScratch``;
    ``state``'s words 4-7 the chunk's copula stream when the book has a copula): (year, occurrence
    index in the chunk, policy, loss), one row per policy an occurrence touches. Returns ``n = -1``
    arrays when the claim scratch is too small.

    Claim ``m`` (policy by policy) is occurrence ``m``. Without a copula, event ``e``'s hits are one
    occurrence, ``n_claims + e``, in the event's year. With a copula every row is in the year its
    (policy, year) loss moved to (``_chunk_losses``: the simulation's very reorder), and event ``e``'s
    hits are one occurrence per part: the hits on margin ``j``'s policies are occurrence ``n_claims +
    e (n_margins + 1) + j``, those on policies outside the copula ``n_claims + e (n_margins + 1) +
    n_margins``, each part in the year its margin moved it to (``_largest_moved_occurrences``' parts)."""
    if book.copula.n_margins > 0:
        return _moved_occurrences(state, first, stop, book, scratch)
    cum_theta = line_year_weights(state, stop - first, book.groups)
    h_pol, h_year, h_loss, h_event = _shock_hits(state, first, stop, book)
    n_claims = _own_claims(state, first, stop, book, cum_theta, scratch)
    n = max(n_claims, 0) + h_pol.size
    year, occurrence, policy, loss = _occurrence_rows(n)
    if n_claims < 0:
        return year[:0], occurrence[:0], policy[:0], loss[:0], -1
    perm = book.groups.perm
    for k in range(perm.size):
        for m in range(scratch.first[k], scratch.first[k + 1]):
            year[m] = scratch.year[m]
            occurrence[m] = m
            policy[m] = perm[k]
            loss[m] = scratch.loss[m]
    for j in range(h_pol.size):
        year[n_claims + j] = h_year[j]
        occurrence[n_claims + j] = n_claims + h_event[j]
        policy[n_claims + j] = h_pol[j]
        loss[n_claims + j] = h_loss[j]
    return year, occurrence, policy, loss, n


@jit
def _occurrence_rows(n):
    # the occurrence table's columns for n rows: year, occurrence index, policy, loss
    return np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n)


@jit
def copula_margin_years(state, first, stop, book, scratch):
    """The copula's reorder of chunk ``[first, stop)`` as the simulation computes it (``book`` a
    ``BookArrays`` with a copula, ``state`` the chunk's 8 words, ``scratch`` one chunk's
    ``ClaimScratch``): ``((new_year, values, scores), ok)`` as ``_copula_years`` returns them;
    ``ok`` False (nothing valid) when the claim scratch is too small."""
    losses = _chunk_losses(state, first, stop, book, scratch, np.zeros(book.policies.contract_terms.shape[0]))
    return losses.margin_reorder, losses.n_claims >= 0


@jit
def _moved_occurrences(state, first, stop, book, scratch):
    # occurrence_table_chunk with a copula: the chunk's losses grouped, cut and reordered as the
    # simulation does it (the contracts' sums of squares it also makes are not needed here)
    losses = _chunk_losses(state, first, stop, book, scratch, np.zeros(book.policies.contract_terms.shape[0]))
    n_claims = losses.n_claims
    n = max(n_claims, 0) + losses.h_pol.size
    year, occurrence, policy, loss = _occurrence_rows(n)
    if n_claims < 0:
        return year[:0], occurrence[:0], policy[:0], loss[:0], -1
    perm, margin = book.groups.perm, book.copula.margin
    g_year, item_group = losses.g_year, losses.item_group
    parts = book.copula.n_margins + 1
    for k in range(perm.size):
        for m in range(scratch.first[k], scratch.first[k + 1]):
            year[m] = g_year[item_group[m]]
            occurrence[m] = m
            policy[m] = perm[k]
            loss[m] = losses.c_loss[m]
    for j in range(losses.h_pol.size):
        i = losses.h_pol[j]
        slot = margin[i] if margin[i] >= 0 else parts - 1
        year[n_claims + j] = g_year[item_group[n_claims + j]]
        occurrence[n_claims + j] = n_claims + losses.h_event[j] * parts + slot
        policy[n_claims + j] = i
        loss[n_claims + j] = losses.h_loss[j]
    return year, occurrence, policy, loss, n


@jit
def simulate_book_wave(states, chunk_ids, chunk_years, years, book, out, tail, scratch):
    """Chunks ``chunk_ids`` of a ``years``-year run of ``book`` (a ``BookArrays``) in parallel, chunk
    ``chunk_ids[w]`` from generator state ``states[w]`` (``[:4]``; ``[4:8]`` its copula stream when the
    book has a copula), as row ``w`` of ``out`` (a ``WaveOutputs``),
    of ``tail`` (a ``TailBuffers``) and of ``scratch`` (a ``ClaimScratch``) (``simulate_book_chunk``).
    The caller adds the rows up in chunk order (the same order for any thread count);
    ``out.n_groups[w] = -1`` asks it for larger claim scratch."""
    _book_wave(states, chunk_ids, chunk_years, years, book.laws, book.groups, book.policies, book.shocks,
               book.copula, out, tail, scratch)


@jit_parallel
def _book_wave(states, chunk_ids, chunk_years, years, laws, groups, policies, shocks, copula, out, tail, scratch):
    # The loop body only calls: Numba drops writes made in a parallel loop's own body to the arrays of
    # a record (numba/numba#5872), not those made in a function it calls. And a nested record cannot
    # cross into the loop, so the book comes in flat and is put together per chunk (no copy).
    # ``np.int64(w)``: Numba types the loop index int64 before the parallel pass and uint64 after it, so
    # the chunk kernel (the largest) would otherwise compile twice
    for w in prange(states.shape[0]):
        first = chunk_ids[w] * chunk_years
        simulate_book_chunk(states[w].copy(), first, min(first + chunk_years, years),
                            BookArrays(laws, groups, policies, shocks, copula), out, np.int64(w), tail, scratch)
