"""Allocation among 10 pool members over 1M simulated years (target: under 5 s on 2 cores): standalone,
proportional, Euler and the exact Shapley value of the diversification benefit (1,024 coalitions).
Baseline: the same Shapley game with NumPy (coalition sums and np.partition) in the same run."""

import math

import numpy as np
import pytest

from techins.pricing.allocation import allocation_table

MEMBERS, YEARS = 10, 1_000_000


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(5)
    common = rng.gamma(0.5, 2.0, YEARS)
    return rng.uniform(0.5, 3.0, (MEMBERS, 1)) * (rng.lognormal(0.0, 1.0, (MEMBERS, YEARS)) + common)


def numpy_coalition_tvars(parts, p=0.99):
    m, n = parts.shape
    k = min(max(math.ceil(n * p * (1.0 - 4.0 * np.finfo(float).eps)), 1), n) - 1
    out = np.zeros(1 << m)
    for mask in range(1, 1 << m):
        s = parts[[i for i in range(m) if (mask >> i) & 1]].sum(axis=0)
        part = np.partition(s, k)
        q = part[k]
        upper = part[k + 1:]
        above = upper[upper > q]
        out[mask] = (above.sum() / n + max((n - above.size) / n - p, 0.0) * q) / (1.0 - p)
    return out


@pytest.mark.parametrize("variant", ["numpy", "techins_2threads"])
def test_allocation_10_members_1m_years(record, parts, variant):
    scenario = "pool allocation, 10 members x 1M years"
    if variant == "numpy":
        record(scenario, variant, lambda: numpy_coalition_tvars(parts), rounds=1)
        return
    allocation_table(parts[:, :1000], [f"m{i}" for i in range(MEMBERS)])  # compiled before timing
    table = record(scenario, variant, lambda: allocation_table(parts, [f"m{i}" for i in range(MEMBERS)]))
    assert table["shapley_capital"].iloc[:-1].sum() == pytest.approx(table.attrs["pool_capital"], rel=1e-9)
