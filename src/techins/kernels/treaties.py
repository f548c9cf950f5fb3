"""A reinsurance programme applied to an occurrence loss table, treaty after treaty in inuring order.

Input rows are (policy, loss) pieces of occurrences, sorted by year then occurrence, each occurrence's
pieces contiguous: ``occ_start[k]:occ_start[k + 1]`` are occurrence k's rows and
``year_start[y]:year_start[y + 1]`` the occurrences of year y. Years are independent, so they run in
parallel, each from its own slices; every sum inside a year is in a fixed order, so results do not
depend on the number of threads.

Treaty codes and parameters (``params[t]``):

=====  ================  ===========================================================================
code   treaty            params
=====  ================  ===========================================================================
0      quota share       cession
1      surplus           retention line R, lines n: policy i cedes min(n R, max(SI_i - R, 0)) / SI_i
2      per-risk XL       limit, retention: per policy and occurrence
3      occurrence XL     limit, retention, number of reinstatements K; ``rates[t, :K]`` their
                         premium rates (pro rata as to amount): at most (K + 1) limit a year
4      aggregate XL      limit, attachment: on the year's running total of the occurrences
=====  ================  ===========================================================================

Each treaty sees the net of the ones before it; what a treaty takes from an occurrence is shared
back to its rows in proportion to their net, so the next per-risk treaty sees each policy's net.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels._jit import jit, jit_parallel
from techins.kernels.terms import layer

QUOTA_SHARE = 0
SURPLUS = 1
PER_RISK_XL = 2
OCCURRENCE_XL = 3
AGGREGATE_XL = 4
N_PARAMS = 3


@jit
def surplus_share(sum_insured, retention, lines):
    """The share of a policy a surplus treaty takes: ``min(n R, max(SI - R, 0)) / SI`` for retention
    line ``R`` and ``n`` lines; 0 for a policy without a sum insured."""
    return min(lines * retention, max(sum_insured - retention, 0.0)) / sum_insured if sum_insured > 0.0 else 0.0


@jit
def surplus_shares(sum_insured, retention, lines, out):
    """``surplus_share`` of every policy into ``out`` (the premium a surplus treaty takes)."""
    for i in range(sum_insured.size):
        out[i] = surplus_share(sum_insured[i], retention, lines)


@jit
def _band_premium(before, after, limit, rates, t, k_max):
    """Reinstatement premium factor of the layer's cumulative loss moving from ``before`` to
    ``after``: sum over reinstatement k of rate_k x (the part of [before, after] inside
    [(k - 1) limit, k limit]) / limit (Sundt 1991: pro rata as to amount)."""
    total = 0.0
    for k in range(k_max):
        lo = k * limit
        hi = lo + limit
        overlap = min(after, hi) - max(before, lo)
        if overlap > 0.0:
            total += rates[t, k] * overlap / limit
    return total


@jit(inline="always")
def _year(y, year_start, occ_start, policy, net, sum_insured, codes, params, rates, year_ceded, year_factor,
          occ_ceded, occ_reinst, keep):
    """Every treaty, in order, over the occurrences of year ``y``; ``net`` (rows) is reduced in place.
    Treaty t on occurrence k needs only the treaties before it on k and its own state from the
    occurrences before k. Whole arrays only: a slice per occurrence would cost an atomic reference
    count."""
    first_occ = year_start[y]
    last_occ = year_start[y + 1]
    for t in range(codes.size):
        code = codes[t]
        p0 = params[t, 0]
        p1 = params[t, 1]
        k_max = np.intp(params[t, 2])
        used = 0.0      # the occurrence XL's cumulative layer loss this year
        running = 0.0   # the aggregate XL's running total this year
        total = 0.0
        factor = 0.0
        for k in range(first_occ, last_occ):
            lo = occ_start[k]
            hi = occ_start[k + 1]
            ceded = 0.0
            reinstated = 0.0
            if code == QUOTA_SHARE:
                for r in range(lo, hi):
                    c = p0 * net[r]
                    net[r] -= c
                    ceded += c
            elif code == SURPLUS:
                for r in range(lo, hi):
                    c = surplus_share(sum_insured[policy[r]], p0, p1) * net[r]
                    net[r] -= c
                    ceded += c
            elif code == PER_RISK_XL:
                for r in range(lo, hi):
                    c = layer(net[r], p1, p0)
                    net[r] -= c
                    ceded += c
            else:
                event = net[lo]
                for r in range(lo + 1, hi):
                    event += net[r]
                if code == OCCURRENCE_XL:
                    ceded = min(layer(event, p1, p0), (k_max + 1) * p0 - used)
                    if ceded > 0.0:
                        reinstated = _band_premium(used, used + ceded, p0, rates, t, k_max)
                    used += ceded
                else:  # AGGREGATE_XL: the year's layer moves from the total before to the total after
                    # the difference of two layers can exceed the event by a rounding: never cede more
                    ceded = min(layer(running + event, p1, p0) - layer(running, p1, p0), event)
                    running += event
                if ceded > 0.0:
                    if hi - lo == 1:
                        net[lo] -= ceded
                    else:
                        ratio = ceded / event
                        for r in range(lo, hi):
                            net[r] -= net[r] * ratio
            total += ceded
            factor += reinstated
            if keep:
                occ_ceded[k, t] = ceded
                occ_reinst[k, t] = reinstated
        year_ceded[y, t] = total
        year_factor[y, t] = factor


@jit_parallel
def apply_programme(year_start, occ_start, policy, loss, sum_insured, codes, params, rates, year_gross, year_net,
                    year_ceded, year_factor, occ_ceded, occ_reinst, occ_net, net):
    """Apply the treaties ``codes`` (in order) to every occurrence; write per year the gross, the net,
    each treaty's ceded loss and its reinstatement premium per unit of deposit premium (occurrence XL
    only). When ``occ_net`` has one entry per occurrence, the same per occurrence into ``occ_ceded``,
    ``occ_reinst`` and ``occ_net`` (otherwise they may be empty). ``net`` (one per row) receives each
    row's loss after every treaty."""
    years = year_start.size - 1
    keep = occ_net.size > 0
    for y in prange(years):
        gross = 0.0
        for r in range(occ_start[year_start[y]], occ_start[year_start[y + 1]]):
            net[r] = loss[r]
            gross += loss[r]
        year_gross[y] = gross
        _year(y, year_start, occ_start, policy, net, sum_insured, codes, params, rates, year_ceded, year_factor,
              occ_ceded, occ_reinst, keep)
        total = 0.0
        for k in range(year_start[y], year_start[y + 1]):
            occurrence = net[occ_start[k]]
            for r in range(occ_start[k] + 1, occ_start[k + 1]):
                occurrence += net[r]
            if keep:
                occ_net[k] = occurrence
            total += occurrence
        year_net[y] = total
