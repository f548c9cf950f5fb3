"""Make the example portfolio of the five action-plan products, ``examples/portfolio_action_plan.csv``:
a seeded synthetic book of R&D / transfer cost-loss, start-up, autonomous-driving, data-security and
tech professional-liability policies (issue 17).

Run ``python examples/make_portfolio_action_plan.py`` to write it again (the same seed gives the same
file). It is kept apart from ``examples/portfolio.csv`` so that the figures resting on that book do not
move. The distributions and why are in ``examples/portfolio_parts/action_plan.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261207
COUNTS = {"rd": 300, "startup": 400, "av": 1200, "data": 500, "professional": 600}


def make_portfolio(seed: int = SEED) -> pd.DataFrame:
    """The example policies, one row each, columns as the products ask (``docs/products.md``)."""
    parts = str(HERE / "portfolio_parts")
    if parts not in sys.path:  # the parts share draws.py
        sys.path.insert(0, parts)
    import action_plan

    return action_plan.policies(np.random.default_rng(seed), COUNTS)


if __name__ == "__main__":
    out = HERE / "portfolio_action_plan.csv"
    table: pd.DataFrame = make_portfolio()
    table.to_csv(out, index=False)
    print(f"wrote {out}")
