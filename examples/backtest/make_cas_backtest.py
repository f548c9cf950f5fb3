"""Turn the CAS Loss Reserve Database extract (examples/data/) into back-test inputs.

Each company-line (an insurer group in products or other liability) is a line; each accident year
a period. What the pricing actuary saw at the time stands in for the price: the priced expected loss
of an accident year is its incurred loss at the first development lag (the company's own estimate at
year end), and the earned premium is the year's net earned premium. The experience is the incurred
loss at the latest lag known at year-end 1997 (one aggregate "claim" per accident year), developed to
ultimate by the chain ladder on the company-line's incurred triangle (``triangles.csv``).

Kept: company-lines with a positive net earned premium in all ten accident years, no negative
cumulative amount and a positive incurred total at every lag the chain ladder develops from (the
others' triangles cannot be developed as they stand). Amounts in thousands
of USD, as in the source. Run from the project root:

    .venv/bin/python examples/backtest/make_cas_backtest.py
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
SOURCE = HERE.parent / "data" / "cas_lrdb_prodliab_othliab.csv"


def main() -> None:
    data = pd.read_csv(SOURCE)
    data["line"] = data["LOB"] + " " + data["GRCODE"].astype(str)
    first = data[data["DevelopmentLag"] == 1]
    good_premium = first.groupby("line")["EarnedPremNet"].apply(lambda s: bool((s > 0).all()) and len(s) == 10)
    no_negative = data.groupby("line")[["IncurLoss", "CumPaidLoss"]].min().min(axis=1) >= 0
    # the chain ladder needs, at each lag, positive totals at that lag and the next over the years
    # observed at both: a factor it can develop with
    wide = data.pivot_table(index=["line", "AccidentYear"], columns="DevelopmentLag", values="IncurLoss")
    both = {k: wide[[k, k + 1]].dropna().groupby(level="line").sum() for k in range(1, 10)}
    developable = pd.concat([(b[k] > 0) & (b[k + 1] > 0) for k, b in both.items()], axis=1).all(axis=1)
    keep = good_premium[good_premium].index.intersection(no_negative[no_negative].index)
    keep = keep.intersection(developable[developable].index)
    data = data[data["line"].isin(keep)].sort_values(["LOB", "GRCODE", "AccidentYear", "DevelopmentLag"])
    first = data[data["DevelopmentLag"] == 1]
    latest = data.loc[data.groupby(["line", "AccidentYear"])["DevelopmentLag"].idxmax()]
    policies = pd.DataFrame({
        "policy_id": first["line"].str.replace(" ", "-") + "-" + first["AccidentYear"].astype(str),
        "line": first["line"], "company": first["GRNAME"], "period": first["AccidentYear"],
        "exposure": first["EarnedPremNet"], "earned_premium": first["EarnedPremNet"],
        "expected_loss": first["IncurLoss"],
    })
    claims = pd.DataFrame({
        "claim_id": latest["line"].str.replace(" ", "-") + "-" + latest["AccidentYear"].astype(str) + "-all",
        "policy_id": latest["line"].str.replace(" ", "-") + "-" + latest["AccidentYear"].astype(str),
        "accident_period": latest["AccidentYear"], "paid": latest["CumPaidLoss"], "incurred": latest["IncurLoss"],
    })
    triangles = pd.DataFrame({"line": data["line"], "origin": data["AccidentYear"], "lag": data["DevelopmentLag"],
                              "value": data["IncurLoss"]})
    folder = HERE / "cas"
    folder.mkdir(exist_ok=True)
    policies.to_csv(folder / "policies.csv", index=False)
    claims.to_csv(folder / "claims.csv", index=False)
    triangles.to_csv(folder / "triangles.csv", index=False)


if __name__ == "__main__":
    main()
