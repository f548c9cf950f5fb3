"""A synthetic mixed tech book for the portfolio benchmarks: four lines, rating spread, common shocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

import techins as ti

SEVERITIES = {
    "cyber": ti.LogNormal(11.5, 1.6),
    "ip": ti.LogNormal(13.5, 1.0),
    "equipment": ti.Gamma(1.2, 4e5),
    "drone": ti.Pareto(3.0, 2e5),
}


def mixed_book(n_policies: int, seed: int = 0, claims_per_policy: float = 0.05) -> ti.Portfolio:
    """``n_policies`` policies over four lines, about ``claims_per_policy`` claims each a year, with a
    cloud outage, a serial defect per equipment batch family and a GNSS jamming shock."""
    rng = np.random.default_rng(seed)
    line = rng.choice(list(SEVERITIES), n_policies, p=[0.4, 0.2, 0.2, 0.2])
    table = pd.DataFrame({
        "policy_id": np.arange(n_policies),
        "line": line,
        "claim_rate": claims_per_policy * rng.lognormal(0.0, 0.5, n_policies),
        "severity": line,
        "severity_scale": rng.uniform(0.5, 2.0, n_policies),
        "deductible": np.where(line == "cyber", 2e4, 0.0),
        "limit": np.where(line == "drone", 5e6, 2e7),
        "agg_limit": 4e7,
        "sum_insured": rng.uniform(1e6, 2e7, n_policies),
        "cloud": rng.choice(["aws", "azure", "aliyun", "none"], n_policies),
        "batch": rng.choice(["b1", "b2", "b3"], n_policies),
        "fleet": rng.choice(["gnss-a", "gnss-b"], n_policies),
    })
    shocks = (
        ti.CommonShock("cloud outage", rate=0.3, factor="cloud", values=("aws", "aliyun"), hit_probability=0.02,
                       severity=ti.Gamma(2.0, 0.01)),
        ti.CommonShock("serial defect", rate=0.05, factor="batch", values=("b1",), hit_probability=0.01,
                       severity=ti.Exponential(0.05), clause="batch", event_deductible=1e6, event_limit=5e7),
        ti.CommonShock("gnss jamming", rate=0.1, factor="fleet", values=("gnss-a",), hit_probability=0.005,
                       severity=ti.Exponential(0.02)),
    )
    return ti.Portfolio(table, dict(SEVERITIES), shocks=shocks)
