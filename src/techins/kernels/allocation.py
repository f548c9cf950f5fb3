"""Capital of every coalition of a pool's members: TVaR of the coalition's summed annual losses.

``parts[i, y]`` is member i's loss in year y. Coalitions are bit masks; each block of coalitions runs
on one thread with its own buffers, in Gray-code order so that one member is added or removed per
step (the sum is refreshed from scratch at the start of each block, so the result of a coalition does
not depend on the number of threads beyond round-off of order 1e-15 relative). The TVaR is the
equal-weight expected shortfall of ``techins.results.figures.tvar_equal``, found with a quickselect instead
of a sort.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from techins.kernels._jit import jit, jit_parallel


@jit
def _select(a, lo, hi, k):
    """Reorder ``a[lo:hi]`` so that ``a[k]`` is the value a sort would put there, with smaller or
    equal values before it and larger or equal after (Hoare's quickselect, median-of-three pivot)."""
    while hi - lo > 1:
        mid = (lo + hi - 1) // 2
        x, y, z = a[lo], a[mid], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))
        i, j = lo, hi - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return


@jit
def tvar_of(values, scratch, kth, p):
    """Equal-weight TVaR at level ``p`` of ``values`` (``kth`` = the 0-based index of the VaR order
    statistic); ``scratch`` (as long as ``values``) is overwritten.

    Only the top of the sample matters: a bound below the VaR is read off an evenly spaced subsample
    (its quantile at ``1 - 3 (1 - p)``), the values at or above it are gathered, and the quickselect
    runs on those alone. When the bound turns out too high (too few values gathered), the whole
    sample is selected instead, so the result never depends on the shortcut."""
    n = values.size
    stride = max(n // 4096, 1)
    m = n // stride
    for j in range(m):
        scratch[j] = values[j * stride]
    below = min(max(np.intp(m * (1.0 - 3.0 * (1.0 - p))), 0), m - 1)
    _select(scratch, 0, m, below)
    bound = scratch[below]
    count = 0
    for j in range(n):
        if values[j] >= bound:
            scratch[count] = values[j]
            count += 1
    if count >= n - kth:
        k = kth - (n - count)   # the values left out are the n - count smallest
        lo = 0
    else:
        scratch[:] = values
        count = n
        k = kth
        lo = 0
    _select(scratch, lo, count, k)
    q = scratch[k]
    tail = 0.0
    above = 0
    for j in range(k + 1, count):
        if scratch[j] > q:
            tail += scratch[j]
            above += 1
    share_at_or_below = (n - above) / n
    return (tail / n + max(share_at_or_below - p, 0.0) * q) / (1.0 - p)


@jit_parallel
def coalition_tvars(parts, kth, p, blocks):
    """TVaR of every coalition ``mask`` in ``0 .. 2**m - 1`` (the empty one gets 0)."""
    m, n = parts.shape
    count = 1 << m
    out = np.zeros(count)
    for b in prange(blocks):
        first = b * count // blocks
        stop = (b + 1) * count // blocks
        total = np.zeros(n)
        scratch = np.empty(n)
        current = 0
        for g in range(first, stop):
            mask = g ^ (g >> 1)  # Gray code: one member in or out from the step before
            if g == first:
                total[:] = 0.0
                for i in range(m):
                    if (mask >> i) & 1:
                        total += parts[i]
            else:
                changed = mask ^ current
                i = 0
                while (changed >> i) & 1 == 0:
                    i += 1
                if (mask >> i) & 1:
                    total += parts[i]
                else:
                    total -= parts[i]
            current = mask
            if mask != 0:
                out[mask] = tvar_of(total, scratch, kth, p)
    return out
