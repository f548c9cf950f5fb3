"""Make the example portfolio ``examples/portfolio.csv``: a seeded synthetic book of a few thousand
policies over the four lines of the catalogue (IP, first-of-kind, cyber, low altitude).

Run ``python examples/make_portfolio.py`` to write it again (the same seed gives the same file). The
policies are synthetic, drawn to look like a regional tech-insurance book; see each part's module in
``examples/portfolio_parts/`` for the distributions and why.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261127
COUNTS = {"ip": 400, "fok": 400, "cyber": 1600, "air": 600}


def _part(name: str):
    parts = str(HERE / "portfolio_parts")
    if parts not in sys.path:  # the parts share draws.py
        sys.path.insert(0, parts)
    return importlib.import_module(name)


def make_portfolio(seed: int = SEED) -> pd.DataFrame:
    """The example policies, one row each, columns as the products ask (``docs/products.md``)."""
    rng = np.random.default_rng(seed)
    parts = [
        _part("ip_fok").policies(rng, COUNTS["ip"], COUNTS["fok"]),
        _part("cyber_low_altitude").policies(rng, COUNTS["cyber"], COUNTS["air"]),
    ]
    table = pd.concat(parts, ignore_index=True, sort=False)
    first = ["policy_id", "product"]
    return table[first + [c for c in table.columns if c not in first]]


if __name__ == "__main__":
    out = HERE / "portfolio.csv"
    make_portfolio().to_csv(out, index=False)
    print(f"wrote {out}")
