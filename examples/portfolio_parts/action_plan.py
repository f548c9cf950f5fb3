"""Synthetic policies for the five action-plan products of ``products/`` (issue 17).

``policies(rng, counts)`` returns one row per policy for

* ``rd_transfer_cost``: one R&D or transfer project a row, ids ``RD-000001``...;
* ``startup_liability``: one start-up a row, ids ``SU-000001``...;
* ``autonomous_driving_fleet``: one vehicle a row, ids ``AV-000001``...; most vehicles belong to a few
  robotaxi fleets, each fleet running one driving-software release (the ``ads_software_defect``
  scenario's values), a few are private L3 cars on other releases;
* ``data_security_asset``: one firm a row, ids ``DS-000001``...;
* ``tech_professional_liability``: one firm (or one engineer) a row, ids ``PL-000001``...

with every column these products read. A column a product does not read is NaN on its rows. Every
number below is an illustrative assumption chosen to look like a plausible Chinese book, not market
data. Only numpy and pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from draws import choice as _choice, lognormal_between as _lognormal_between

__all__ = ["policies", "COLUMNS", "AV_RELEASES", "DATA_PLATFORMS"]

COLUMNS = [
    "policy_id", "product", "units", "aggregate_limit",
    # R&D and transfer
    "insured_budget", "project_stage", "technology_field",
    # start-ups
    "invested_capital", "company_age", "headcount_band",
    # autonomous driving
    "vehicle_km", "automation_level", "operating_area", "software_release", "fleet_id",
    # data security
    "revenue", "data_asset_value", "data_grade", "security_score", "data_platform",
    # professional liability
    "tech_staff", "service_type", "contract_liability_cap",
]

#: the driving-software releases of the autonomous-driving product's scenario
AV_RELEASES = [f"ADS-R{i:02d}" for i in range(1, 9)]
#: the shared data platforms of the data-security product's scenario
DATA_PLATFORMS = [f"DP-{i:02d}" for i in range(1, 11)]

# robotaxi fleets: (vehicles share, release, operating-area weights dense_urban/urban/suburban/highway,
# safety-driver share); the private L3 cars take the remaining share
_FLEETS = {
    "FLEET-A": (0.30, "ADS-R01", (0.30, 0.50, 0.20, 0.00), 0.0),
    "FLEET-B": (0.20, "ADS-R02", (0.20, 0.50, 0.30, 0.00), 0.2),
    "FLEET-C": (0.15, "ADS-R03", (0.10, 0.50, 0.40, 0.00), 0.5),
    "FLEET-D": (0.10, "ADS-R04", (0.40, 0.40, 0.20, 0.00), 0.0),
}
_PRIVATE_RELEASES = {"ADS-R05": 0.4, "ADS-R06": 0.3, "ADS-R07": 0.2, "other": 0.1}


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}-{i:06d}" for i in range(1, n + 1)], dtype=object)


def _rd(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # budgets: median CNY 3M, CNY 0.3M to 50M
    budget = np.round(_lognormal_between(rng, 3e6, 0.9, 3e5, 5e7, n), -3)
    return pd.DataFrame({
        "policy_id": _ids("RD", n), "product": "rd_transfer_cost", "units": 1.0,
        "insured_budget": budget,
        # a project fails once: at most one payout of the insurer's 80% of the budget (rd_transfer_cost.toml)
        "aggregate_limit": 0.8 * budget,
        "project_stage": _choice(rng, {"lab": 0.5, "pilot": 0.35, "transfer": 0.15}, n),
        "technology_field": _choice(rng, {"biomedicine": 0.20, "semiconductor": 0.15, "advanced_manufacturing": 0.30,
                                          "new_energy": 0.15, "information_technology": 0.20}, n),
    })


def _startups(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "policy_id": _ids("SU", n), "product": "startup_liability", "units": 1.0,
        # paid-in capital: median CNY 1M, CNY 100k to 20M
        "invested_capital": np.round(_lognormal_between(rng, 1e6, 0.8, 1e5, 2e7, n), -3),
        "company_age": _choice(rng, {"1": 0.45, "2": 0.30, "3": 0.25}, n),
        "headcount_band": _choice(rng, {"1-10": 0.55, "11-50": 0.35, "51-200": 0.10}, n),
    })


def _vehicles(rng: np.random.Generator, n: int) -> pd.DataFrame:
    names = list(_FLEETS) + ["private"]
    shares = [f[0] for f in _FLEETS.values()]
    fleet = _choice(rng, dict(zip(names, shares + [1.0 - sum(shares)])), n)
    area = np.empty(n, dtype=object)
    release = np.empty(n, dtype=object)
    level = np.empty(n, dtype=object)
    km = np.empty(n)
    for name, (_, rel, weights, safety) in _FLEETS.items():
        rows = np.flatnonzero(fleet == name)
        area[rows] = _choice(rng, dict(zip(("dense_urban", "urban", "suburban", "highway"), weights)), rows.size)
        release[rows] = rel
        level[rows] = np.where(rng.random(rows.size) < safety, "l4_safety_driver", "l4_driverless")
        # robotaxis: median 90,000 km a year (about 250 km a day), 40,000 to 180,000
        km[rows] = _lognormal_between(rng, 9e4, 0.25, 4e4, 1.8e5, rows.size)
    rows = np.flatnonzero(fleet == "private")
    area[rows] = _choice(rng, {"urban": 0.4, "suburban": 0.3, "highway": 0.3}, rows.size)
    release[rows] = _choice(rng, _PRIVATE_RELEASES, rows.size)
    level[rows] = "l3_private"
    # private cars: median 15,000 km a year, 3,000 to 60,000
    km[rows] = _lognormal_between(rng, 1.5e4, 0.5, 3e3, 6e4, rows.size)
    return pd.DataFrame({
        "policy_id": _ids("AV", n), "product": "autonomous_driving_fleet",
        "vehicle_km": np.round(km, -2), "automation_level": level, "operating_area": area,
        "software_release": release, "fleet_id": fleet,
    })


def _data(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # revenue: median CNY 150M, CNY 5M to 20bn; booked data assets 2-20% of revenue
    revenue = np.round(_lognormal_between(rng, 1.5e8, 1.2, 5e6, 2e10, n), -3)
    platform = dict(zip(DATA_PLATFORMS, np.full(len(DATA_PLATFORMS), 0.07)))
    platform["in_house"] = 0.30
    return pd.DataFrame({
        "policy_id": _ids("DS", n), "product": "data_security_asset",
        "revenue": revenue,
        "data_asset_value": np.round(revenue * rng.uniform(0.02, 0.20, n), -3),
        "data_grade": _choice(rng, {"general": 0.75, "important": 0.22, "core": 0.03}, n),
        "security_score": _choice(rng, {"A": 0.10, "B": 0.25, "C": 0.35, "D": 0.20, "E": 0.10}, n),
        "data_platform": _choice(rng, platform, n),
    })


def _professional(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # technical staff: median 12, 1 (a freelancer) to 2,000
    staff = np.maximum(1.0, np.round(_lognormal_between(rng, 12.0, 1.2, 1.0, 2000.0, n)))
    return pd.DataFrame({
        "policy_id": _ids("PL", n), "product": "tech_professional_liability",
        "tech_staff": staff,
        "service_type": _choice(rng, {"software_development": 0.40, "systems_integration": 0.15, "ai_models": 0.10,
                                      "it_outsourcing": 0.20, "consulting": 0.15}, n),
        "contract_liability_cap": _choice(rng, {"capped": 0.6, "uncapped": 0.4}, n),
    })


def policies(rng: np.random.Generator, counts: dict) -> pd.DataFrame:
    """One row per policy of the five products, ``counts`` keyed rd, startup, av, data, professional."""
    parts = [_rd(rng, counts["rd"]), _startups(rng, counts["startup"]), _vehicles(rng, counts["av"]),
             _data(rng, counts["data"]), _professional(rng, counts["professional"])]
    table = pd.concat(parts, ignore_index=True, sort=False)
    return table.reindex(columns=COLUMNS)
