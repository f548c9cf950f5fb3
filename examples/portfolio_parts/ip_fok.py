"""Synthetic policies for the IP and first-of-kind products of ``products/``.

``policies(rng, n_ip, n_fok)`` returns one row per policy for

* ``ip_patent_enforcement`` and ``ip_infringement_liability`` (``n_ip`` rows, 60% / 40%), ids
  ``IP-000001``...;
* ``fok_equipment``, ``fok_new_materials`` and ``fok_software`` (``n_fok`` rows, 50% / 30% / 20%), ids
  ``FOK-000001``...

with every column these products read (exposure, scale, rating-factor, scenario and rate-cap columns)
and the per-policy limit overrides underwriting would set (``docs/products.md``, "The portfolio"). A
column a product does not read is NaN on its rows. Every number below is an illustrative assumption
chosen to look like a plausible Shenzhen book, not market data. Only numpy and pandas.

Accumulation: equipment units and material contracts share production batches (``batch_id``
``EQ-B01``..``EQ-B30`` and ``NM-B01``..``NM-B25``, a few large batches and many small ones), software
contracts share releases (``release_id`` ``SW-R01``..``SW-R20``), so the serial-defect scenarios of the
product files hit several policies at once. Policies outside a shared batch or release say ``single``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from draws import choice as _choice, lognormal_between as _lognormal_between

__all__ = ["policies", "COLUMNS", "EQUIPMENT_BATCHES", "MATERIAL_BATCHES", "SOFTWARE_RELEASES", "USD_CNY"]

COLUMNS = [
    "policy_id", "product",
    # IP
    "patents_insured", "revenue", "technology_field", "owner_type", "forum", "amount_at_risk",
    "amount_at_risk_band",
    "litigation_costs_limit", "litigation_costs_aggregate_limit", "defence_costs_limit",
    "defence_costs_aggregate_limit",
    # first of kind
    "units", "contract_value", "policy_year", "technology_readiness", "material_class", "software_class",
    "batch_id", "release_id", "quality_aggregate_limit", "aggregate_limit",
]

#: the scenario values of products/fok_equipment.toml, fok_new_materials.toml and fok_software.toml
EQUIPMENT_BATCHES = [f"EQ-B{i:02d}" for i in range(1, 31)]
MATERIAL_BATCHES = [f"NM-B{i:02d}" for i in range(1, 26)]
SOFTWARE_RELEASES = [f"SW-R{i:02d}" for i in range(1, 21)]

#: the conversion the product files use (assumption: approximate 2025 rate)
USD_CNY = 7.2

_ENFORCEMENT_SHARE = 0.60               # of IP policies; the rest infringement liability
_FOK_SHARES = {"fok_equipment": 0.50, "fok_new_materials": 0.30, "fok_software": 0.20}

# Technology mix of Shenzhen patent holders / accused sellers (assumption: electronics and software
# heavy, some life science); the levels of [rating.technology_field].
_FIELDS = {"electronic": 0.30, "software": 0.15, "mechanical": 0.18, "chemical": 0.08, "drugs": 0.06,
           "biotech": 0.05, "other": 0.18}
# AIPLA bands of amount at risk in USD (the products' [rating.amount_at_risk_band] levels)
_BAND_EDGES_USD = (1e6, 10e6, 25e6)
_BANDS = np.array(["under_1m", "1m_10m", "10m_25m", "over_25m"], dtype=object)
# per-suit and annual defence / enforcement limits for US suits (USD 2M and 4M, the AIPLA base-band
# median through trial: the products' CNY 3M / 6M defaults are sized for Chinese courts)
_US_LIMIT, _US_AGGREGATE = 2e6 * USD_CNY, 4e6 * USD_CNY
_YEARS = {"1": 0.50, "2": 0.30, "3": 0.20}  # policy year since delivery (the subsidy runs <= 3 years)


def _band(amount_cny: np.ndarray) -> np.ndarray:
    return _BANDS[np.searchsorted(np.array(_BAND_EDGES_USD) * USD_CNY, amount_cny, side="right")]


def _us_limits(forum: np.ndarray) -> tuple:
    us = forum == "us"
    return np.where(us, _US_LIMIT, np.nan), np.where(us, _US_AGGREGATE, np.nan)


def _enforcement(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # insured patents: median 5, 1 to 50 (most buyers insure a few key patents)
    patents = np.clip(np.round(_lognormal_between(rng, 5.0, 0.9, 0.5, 50.49, n)), 1, 50)
    # forum: mostly Chinese courts; 15% overseas (US) enforcement, the Shenzhen overseas-IP cover
    forum = _choice(rng, {"cn": 0.85, "us": 0.15}, n)
    cn = forum == "cn"
    # owner type relative to the forum: a Chinese firm in Chinese courts is domestic; in the US foreign
    owner = np.where(cn, _choice(rng, {"domestic": 0.92, "foreign": 0.08}, n),
                     _choice(rng, {"domestic": 0.10, "foreign": 0.90}, n))
    band = np.where(cn, _choice(rng, {"under_1m": 0.65, "1m_10m": 0.30, "10m_25m": 0.04, "over_25m": 0.01}, n),
                    _choice(rng, {"under_1m": 0.15, "1m_10m": 0.50, "10m_25m": 0.20, "over_25m": 0.15}, n))
    limit, aggregate = _us_limits(forum)
    return pd.DataFrame({
        "product": "ip_patent_enforcement",
        "patents_insured": patents.astype(float),
        "technology_field": _choice(rng, _FIELDS, n),
        "owner_type": owner,
        "forum": forum,
        "amount_at_risk_band": band,
        "litigation_costs_limit": limit,
        "litigation_costs_aggregate_limit": aggregate,
    })


def _infringement(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # revenue of the covered products: median CNY 80M, CNY 5M to 20bn
    revenue = _lognormal_between(rng, 80e6, 1.2, 5e6, 2e10, n)
    # 20% are exporters sued (or insured against suits) in the US
    forum = _choice(rng, {"cn": 0.80, "us": 0.20}, n)
    # damages the patentee would claim: a share of the covered revenue (median 5% in China, 15% in
    # the US, where damages run higher), CNY 0.5M to 2bn
    share = np.where(forum == "us", 0.15, 0.05)
    amount = np.clip(revenue * share * np.exp(1.0 * rng.standard_normal(n)), 5e5, 2e9)
    amount = np.round(amount, -3)
    limit, aggregate = _us_limits(forum)
    return pd.DataFrame({
        "product": "ip_infringement_liability",
        "revenue": np.round(revenue, -3),
        "technology_field": _choice(rng, _FIELDS, n),
        "forum": forum,
        "amount_at_risk": amount,
        "amount_at_risk_band": _band(amount),
        "defence_costs_limit": limit,
        "defence_costs_aggregate_limit": aggregate,
    })


def _batches(rng: np.random.Generator, names: list, n: int, shared: float) -> np.ndarray:
    """Index into ``names`` for each of ``n`` policies, -1 for "single"; a few large batches and many
    small ones (weights 1/rank^0.8, shuffled)."""
    weights = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())
    ix = rng.choice(len(names), size=n, p=weights)
    return np.where(rng.random(n) < shared, ix, -1)


def _inherit(rng: np.random.Generator, ix: np.ndarray, batch_level: np.ndarray, own: np.ndarray,
             keep: float = 1.0) -> np.ndarray:
    """A batch attribute where the policy is in a batch (with probability ``keep``), its own otherwise."""
    take = (ix >= 0) & (rng.random(ix.size) < keep)
    return np.where(take, batch_level[np.maximum(ix, 0)], own).astype(object)


def _names(names: list, ix: np.ndarray) -> np.ndarray:
    return np.where(ix >= 0, np.array(names, dtype=object)[np.maximum(ix, 0)], "single").astype(object)


def _equipment(rng: np.random.Generator, n: int) -> pd.DataFrame:
    nb = len(EQUIPMENT_BATCHES)
    ix = _batches(rng, EQUIPMENT_BATCHES, n, shared=0.85)
    # a batch is one equipment type: similar unit values, one readiness level, delivered together
    batch_value = _lognormal_between(rng, 30e6, 0.9, 5e6, 200e6, nb)
    batch_trl = _choice(rng, {"trl_6_7": 0.20, "trl_8": 0.50, "trl_9": 0.30}, nb)
    batch_year = _choice(rng, _YEARS, nb)
    own_value = _lognormal_between(rng, 30e6, 0.9, 5e6, 200e6, n)
    value = np.where(ix >= 0, batch_value[np.maximum(ix, 0)] * np.exp(0.15 * rng.standard_normal(n)), own_value)
    value = np.round(np.clip(value, 5e6, 200e6), -4)
    # limit >= value; >= 2x value for first-year key components (2019 notice): 20% of units
    key_component = rng.random(n) < 0.20
    return pd.DataFrame({
        "product": "fok_equipment",
        "units": 1.0,  # one row per unit (the 2025 round supports whole machines per unit)
        "contract_value": value,
        "technology_readiness": _inherit(rng, ix, batch_trl, _choice(rng, {"trl_6_7": 0.20, "trl_8": 0.50,
                                                                           "trl_9": 0.30}, n)),
        "policy_year": _inherit(rng, ix, batch_year, _choice(rng, _YEARS, n), keep=0.9),
        "batch_id": _names(EQUIPMENT_BATCHES, ix),
        "quality_aggregate_limit": np.where(key_component, 2.0, 1.0) * value,
    })


def _materials(rng: np.random.Generator, n: int) -> pd.DataFrame:
    nb = len(MATERIAL_BATCHES)
    ix = _batches(rng, MATERIAL_BATCHES, n, shared=0.80)
    classes = {"advanced_basic": 0.40, "key_strategic": 0.45, "frontier": 0.15}
    batch_class = _choice(rng, classes, nb)
    batch_year = _choice(rng, _YEARS, nb)
    # supply contracts of at least CNY 5M (2019 rule), median CNY 20M, up to CNY 200M
    value = np.round(_lognormal_between(rng, 20e6, 0.9, 5e6, 200e6, n), -4)
    # policy limit min(k x value, 500M) with k in 1..5 (the scheme allows up to 5x and CNY 500M)
    k = _choice(rng, {1.0: 0.20, 2.0: 0.30, 3.0: 0.20, 5.0: 0.30}, n).astype(float)
    return pd.DataFrame({
        "product": "fok_new_materials",
        "units": 1.0,  # one row per first-batch supply contract
        "contract_value": value,
        "material_class": _inherit(rng, ix, batch_class, _choice(rng, classes, n)),
        "policy_year": _inherit(rng, ix, batch_year, _choice(rng, _YEARS, n), keep=0.9),
        "batch_id": _names(MATERIAL_BATCHES, ix),
        "aggregate_limit": np.minimum(k * value, 5e8),
    })


def _software(rng: np.random.Generator, n: int) -> pd.DataFrame:
    nr = len(SOFTWARE_RELEASES)
    ix = _batches(rng, SOFTWARE_RELEASES, n, shared=0.70)
    classes = {"application": 0.50, "infrastructure": 0.20, "industrial_control": 0.30}
    release_class = _choice(rng, classes, nr)
    release_year = _choice(rng, _YEARS, nr)
    release_value = _lognormal_between(rng, 3e6, 1.0, 5e5, 5e7, nr)
    # software contracts are smaller than equipment: median CNY 3M, CNY 0.5M to 50M; users of one
    # release pay similar prices
    own_value = _lognormal_between(rng, 3e6, 1.0, 5e5, 5e7, n)
    value = np.where(ix >= 0, release_value[np.maximum(ix, 0)] * np.exp(0.3 * rng.standard_normal(n)), own_value)
    return pd.DataFrame({
        "product": "fok_software",
        "units": 1.0,  # one row per software contract
        "contract_value": np.round(np.clip(value, 5e5, 5e7), -3),
        "software_class": _inherit(rng, ix, release_class, _choice(rng, classes, n)),
        "policy_year": _inherit(rng, ix, release_year, _choice(rng, _YEARS, n), keep=0.8),
        "release_id": _names(SOFTWARE_RELEASES, ix),
    })


def _split(n: int, shares: dict) -> dict:
    """Counts per product summing to ``n`` (largest remainders)."""
    raw = {k: n * v for k, v in shares.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def policies(rng: np.random.Generator, n_ip: int, n_fok: int) -> pd.DataFrame:
    """A synthetic portfolio for ``ip_patent_enforcement``, ``ip_infringement_liability``,
    ``fok_equipment``, ``fok_new_materials`` and ``fok_software``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness (the result depends on nothing else).
    n_ip : int
        IP policies (60% enforcement, 40% infringement liability).
    n_fok : int
        First-of-kind policies (50% equipment, 30% new materials, 20% software).

    Returns
    -------
    pandas.DataFrame
        One row per policy, columns :data:`COLUMNS`; ``policy_id`` is ``IP-`` or ``FOK-`` and a 6-digit
        number, unique. Columns a product does not read are NaN on its rows.
    """
    if n_ip < 0 or n_fok < 0:
        raise ValueError(f"policy counts must be >= 0, got n_ip={n_ip}, n_fok={n_fok}")
    parts = []
    if n_ip:
        ip = _split(n_ip, {"enforcement": _ENFORCEMENT_SHARE, "liability": 1.0 - _ENFORCEMENT_SHARE})
        frames = [f(rng, k) for f, k in ((_enforcement, ip["enforcement"]), (_infringement, ip["liability"])) if k]
        table = pd.concat(frames, ignore_index=True)
        table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
        table.insert(0, "policy_id", [f"IP-{i:06d}" for i in range(1, n_ip + 1)])
        parts.append(table)
    if n_fok:
        fok = _split(n_fok, _FOK_SHARES)
        makers = {"fok_equipment": _equipment, "fok_new_materials": _materials, "fok_software": _software}
        frames = [makers[p](rng, k) for p, k in fok.items() if k]
        table = pd.concat(frames, ignore_index=True)
        table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
        table.insert(0, "policy_id", [f"FOK-{i:06d}" for i in range(1, n_fok + 1)])
        parts.append(table)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS)


if __name__ == "__main__":  # a quick look: python examples/portfolio_parts/ip_fok.py
    table = policies(np.random.default_rng(2026), 400, 400)
    print(table.groupby("product").size())
    print(table.groupby("product")[["patents_insured", "revenue", "contract_value"]].median())
    shared = table[table["batch_id"].notna() & (table["batch_id"] != "single")]
    print(shared.groupby("batch_id").size().describe())  # policies per shared batch
