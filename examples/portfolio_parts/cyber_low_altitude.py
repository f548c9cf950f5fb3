"""Synthetic policies for the cyber and low-altitude products of ``products/``.

``policies(rng, n_cyber, n_air)`` returns one row per policy for

* ``cyber_sme`` and ``cyber_large`` (``n_cyber`` rows, about 10% large), ids ``CY-000001``...;
* ``drone_liability_hull`` and ``evtol_hull_passenger`` (``n_air`` rows, about 7% eVTOL), ids
  ``LA-000001``...

with every column these products read (exposure, scale, rating-factor and scenario columns). A column a
product does not read is NaN on its rows. Every number below is an illustrative assumption chosen to
look like a plausible Chinese book, not market data. Only numpy and pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from draws import choice as _choice, lognormal_between as _lognormal_between

__all__ = ["policies", "COLUMNS", "DRONE_FLEETS"]

COLUMNS = [
    "policy_id", "product",
    # cyber
    "revenue", "industry_hazard", "security_score", "cloud_provider", "software_vendor",
    # low altitude
    "flight_hours", "aircraft_value", "operation_class", "area_risk_grade", "operator_qualification",
    "fleet_id", "flight_controller", "pilot_mode",
]

#: fleet ids the drone product's ``gnss_interference`` scenario lists; drones outside a fleet are "independent"
DRONE_FLEETS = [f"FLEET-{i:02d}" for i in range(1, 41)]

_CYBER_LARGE_SHARE = 0.10
_EVTOL_SHARE = 0.07
_FLEET_SHARE = 0.70          # share of drones flown by one of the 40 fleets


def _cyber(rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_large = int(round(_CYBER_LARGE_SHARE * n))
    large = np.zeros(n, dtype=bool)
    large[rng.choice(n, size=n_large, replace=False)] = True
    n_small = n - n_large

    revenue = np.empty(n)
    # SMEs: median CNY 40M, CNY 2M to 1bn; large firms: median CNY 3bn, CNY 1bn to 500bn
    revenue[~large] = _lognormal_between(rng, 40e6, 1.1, 2e6, 1e9, n_small)
    revenue[large] = _lognormal_between(rng, 3e9, 1.0, 1e9, 5e11, n_large)

    def by_size(small: dict, big: dict) -> np.ndarray:
        out = np.empty(n, dtype=object)
        out[~large] = _choice(rng, small, n_small)
        out[large] = _choice(rng, big, n_large)
        return out

    return pd.DataFrame({
        "product": np.where(large, "cyber_large", "cyber_sme"),
        "revenue": np.round(revenue, -3),
        "industry_hazard": by_size({"low": 0.30, "medium": 0.40, "high": 0.20, "critical": 0.10},
                                   {"low": 0.20, "medium": 0.35, "high": 0.30, "critical": 0.15}),
        "security_score": by_size({"A": 0.05, "B": 0.15, "C": 0.35, "D": 0.30, "E": 0.15},
                                  {"A": 0.15, "B": 0.30, "C": 0.35, "D": 0.15, "E": 0.05}),
        # the four providers of the cloud_outage scenario, plus on-premise and smaller clouds
        "cloud_provider": by_size({"aliyun": 0.35, "tencent": 0.15, "huawei": 0.12, "aws": 0.08,
                                   "on_premise": 0.20, "other": 0.10},
                                  {"aliyun": 0.30, "tencent": 0.12, "huawei": 0.15, "aws": 0.20,
                                   "on_premise": 0.13, "other": 0.10}),
        # endpoint-security vendor; the first five are the software_vendor_event scenario's values
        "software_vendor": by_size({"qihoo360": 0.25, "microsoft": 0.20, "qianxin": 0.10, "sangfor": 0.10,
                                    "crowdstrike": 0.02, "huorong": 0.20, "none": 0.13},
                                   {"qianxin": 0.25, "microsoft": 0.25, "sangfor": 0.20, "crowdstrike": 0.10,
                                    "qihoo360": 0.10, "other": 0.10}),
    })


# per drone operation class: (share, value median CNY, value sigma, hours median, hours sigma,
#                             area grade weights low/medium/high/very_high, flight controllers)
_DRONE_CLASSES = {
    "agriculture": (0.40, 50e3, 0.3, 400.0, 0.5, (0.70, 0.25, 0.05, 0.00),
                    {"dji_agras": 0.65, "xag": 0.30, "other": 0.05}),
    "inspection": (0.25, 80e3, 0.5, 200.0, 0.6, (0.30, 0.40, 0.25, 0.05),
                   {"dji_enterprise": 0.60, "px4": 0.20, "ardupilot": 0.10, "other": 0.10}),
    "logistics": (0.10, 150e3, 0.5, 600.0, 0.5, (0.10, 0.30, 0.40, 0.20),
                  {"dji_enterprise": 0.30, "px4": 0.40, "ardupilot": 0.10, "other": 0.20}),
    "show": (0.10, 5e3, 0.3, 60.0, 0.5, (0.05, 0.25, 0.40, 0.30),
             {"px4": 0.50, "other": 0.50}),
    "survey": (0.15, 60e3, 0.5, 150.0, 0.6, (0.40, 0.40, 0.15, 0.05),
               {"dji_enterprise": 0.55, "px4": 0.15, "ardupilot": 0.20, "other": 0.10}),
}
_AREAS = ("low", "medium", "high", "very_high")


def _drones(rng: np.random.Generator, n: int) -> pd.DataFrame:
    classes = list(_DRONE_CLASSES)
    # each fleet flies one operation class in one area with one flight-controller family
    fleet_class = _choice(rng, {c: v[0] for c, v in _DRONE_CLASSES.items()}, len(DRONE_FLEETS))
    fleet_area = np.array([_AREAS[rng.choice(4, p=np.array(_DRONE_CLASSES[c][5]) / sum(_DRONE_CLASSES[c][5]))]
                           for c in fleet_class], dtype=object)
    fleet_fc = np.array([_choice(rng, _DRONE_CLASSES[c][6], 1)[0] for c in fleet_class], dtype=object)
    # fleet sizes: a few large fleets, many small ones (weights 1/rank^0.8)
    weights = 1.0 / np.arange(1, len(DRONE_FLEETS) + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())

    in_fleet = rng.random(n) < _FLEET_SHARE
    fleet_ix = rng.choice(len(DRONE_FLEETS), size=n, p=weights)
    own_class = _choice(rng, {c: v[0] for c, v in _DRONE_CLASSES.items()}, n)
    op = np.where(in_fleet, fleet_class[fleet_ix], own_class).astype(object)

    value = np.empty(n)
    hours = np.empty(n)
    area = np.empty(n, dtype=object)
    fc = np.empty(n, dtype=object)
    for c in classes:
        m = op == c
        k = int(m.sum())
        if not k:
            continue
        _, v_med, v_sig, h_med, h_sig, area_w, fcs = _DRONE_CLASSES[c]
        value[m] = _lognormal_between(rng, v_med, v_sig, 2e3, 2e6, k)
        hours[m] = _lognormal_between(rng, h_med, h_sig, 5.0, 3000.0, k)
        area[m] = np.array(_AREAS, dtype=object)[rng.choice(4, size=k, p=np.array(area_w) / sum(area_w))]
        fc[m] = _choice(rng, fcs, k)
    area = np.where(in_fleet, fleet_area[fleet_ix], area)
    fc = np.where(in_fleet & (rng.random(n) < 0.9), fleet_fc[fleet_ix], fc)  # fleets standardise, mostly

    return pd.DataFrame({
        "product": "drone_liability_hull",
        "flight_hours": np.round(hours, 1),
        "aircraft_value": np.round(value, -2),
        "operation_class": op,
        "area_risk_grade": area,
        "operator_qualification": _choice(rng, {"senior": 0.20, "licensed": 0.60, "novice": 0.20}, n),
        "fleet_id": np.where(in_fleet, np.array(DRONE_FLEETS, dtype=object)[fleet_ix], "independent"),
        "flight_controller": fc,
    })


def _evtols(rng: np.random.Generator, n: int) -> pd.DataFrame:
    op = _choice(rng, {"sightseeing": 0.60, "air_taxi": 0.15, "test_flight": 0.25}, n)
    hours_median = np.select([op == "sightseeing", op == "air_taxi"], [300.0, 500.0], 100.0)
    value_median = np.where(op == "air_taxi", 6e6, 2.4e6)  # 2-seat sightseeing craft vs larger air taxis
    return pd.DataFrame({
        "product": "evtol_hull_passenger",
        "flight_hours": np.round(_lognormal_between(rng, hours_median, 0.5, 10.0, 3000.0, n), 1),
        "aircraft_value": np.round(_lognormal_between(rng, value_median, 0.4, 1e6, 3e7, n), -3),
        "operation_class": op,
        "pilot_mode": _choice(rng, {"autonomous": 0.55, "remote": 0.15, "piloted": 0.30}, n),
        # the first four are the evtol_software_fault scenario's values
        "flight_controller": _choice(rng, {"ehang_fcs": 0.50, "autoflight_fcs": 0.20, "tcab_fcs": 0.15,
                                           "aeroht_fcs": 0.10, "other_fcs": 0.05}, n),
    })


def policies(rng: np.random.Generator, n_cyber: int, n_air: int) -> pd.DataFrame:
    """A synthetic portfolio for ``cyber_sme``, ``cyber_large``, ``drone_liability_hull`` and
    ``evtol_hull_passenger``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness (the result depends on nothing else).
    n_cyber : int
        Cyber policies (about 10% ``cyber_large``, by count: round(0.10 n_cyber)).
    n_air : int
        Low-altitude policies (about 7% ``evtol_hull_passenger``: round(0.07 n_air)).

    Returns
    -------
    pandas.DataFrame
        One row per policy, columns :data:`COLUMNS`; ``policy_id`` is ``CY-`` or ``LA-`` and a
        6-digit number, unique. Columns a product does not read are NaN on its rows.
    """
    if n_cyber < 0 or n_air < 0:
        raise ValueError(f"policy counts must be >= 0, got n_cyber={n_cyber}, n_air={n_air}")
    n_evtol = int(round(_EVTOL_SHARE * n_air))
    parts = []
    if n_cyber:
        cyber = _cyber(rng, n_cyber)
        cyber.insert(0, "policy_id", [f"CY-{i:06d}" for i in range(1, n_cyber + 1)])
        parts.append(cyber)
    if n_air:
        air = pd.concat([_drones(rng, n_air - n_evtol), _evtols(rng, n_evtol)], ignore_index=True)
        air = air.iloc[rng.permutation(len(air))].reset_index(drop=True)
        air.insert(0, "policy_id", [f"LA-{i:06d}" for i in range(1, n_air + 1)])
        parts.append(air)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS)


if __name__ == "__main__":  # a quick look: python examples/portfolio_parts/cyber_low_altitude.py
    table = policies(np.random.default_rng(2026), 2_000, 1_000)
    print(table.groupby("product").size())
    print(table.head())
