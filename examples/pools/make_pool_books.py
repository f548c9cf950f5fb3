"""Make the example pools' policy files from the example portfolio (examples/portfolio.csv).

The cyber pool: the cyber policies (SME and large) split among the four members who bring books, each
member's share of the policies drawn once with a fixed seed. The first-of-kind equipment pool: the
equipment policies as one portfolio. The IP co-insurance body: the patent-enforcement and infringement-
liability policies as one portfolio. Run from the project root:

    .venv/bin/python examples/pools/make_pool_books.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
CYBER_BOOKS = {"lead_insurer": 0.35, "insurer_b": 0.30, "insurer_c": 0.20, "insurer_d": 0.15}


def _relevant(frame: pd.DataFrame) -> pd.DataFrame:
    # the example portfolio has every product's columns; keep the ones these policies use
    return frame.dropna(axis=1, how="all")


def main() -> None:
    # as text, so levels such as policy_year "1" are written back as they were
    portfolio = pd.read_csv(HERE.parent / "portfolio.csv", dtype=str)
    cyber = portfolio[portfolio["product"].isin(["cyber_sme", "cyber_large"])].reset_index(drop=True)
    rng = np.random.default_rng(20261128)
    owner = rng.choice(list(CYBER_BOOKS), size=len(cyber), p=list(CYBER_BOOKS.values()))
    folder = HERE / "cyber_books"
    folder.mkdir(exist_ok=True)
    for name in CYBER_BOOKS:
        _relevant(cyber[owner == name]).to_csv(folder / f"{name}.csv", index=False)
    equipment = portfolio[portfolio["product"] == "fok_equipment"]
    _relevant(equipment).to_csv(HERE / "fok_equipment_portfolio.csv", index=False)
    ip = portfolio[portfolio["product"].isin(["ip_patent_enforcement", "ip_infringement_liability"])]
    _relevant(ip).to_csv(HERE / "ip_portfolio.csv", index=False)


if __name__ == "__main__":
    main()
