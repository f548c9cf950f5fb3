"""Make ``examples/data/cas_lrdb_prodliab_othliab.csv``, the CAS Loss Reserve Database extract used by
the back-testing examples, from the products- and other-liability rows of the database.

Run ``python examples/data/make_cas_lrdb.py SOURCE.csv`` where ``SOURCE.csv`` has the columns of the
``chainladder`` package's ``clrd.csv`` (see ``README.md`` here for provenance and terms). The result
depends on the source only: no randomness, a fixed row order and integer formatting, so the same
source gives the same bytes. The project never reads the source; this script records how the
shipped file was made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "cas_lrdb_prodliab_othliab.csv"
KEYS = ["LOB", "GRCODE", "AccidentYear", "DevelopmentLag"]
COLUMNS = ["GRCODE", "GRNAME", "LOB", "AccidentYear", "DevelopmentLag", "IncurLoss", "CumPaidLoss", "BulkLoss",
           "EarnedPremNet"]
INTEGER_COLUMNS = [c for c in COLUMNS if c not in ("GRNAME", "LOB")]
LINES = ("prodliab", "othliab")
# The loss triangles: a company-line with both all zero has no experience to back-test against.
LOSS_TRIANGLES = ["IncurLoss", "CumPaidLoss"]


def make_extract(source: pd.DataFrame) -> pd.DataFrame:
    """The extract of ``source`` (rows as in ``clrd.csv``): the kept columns, without the company-lines
    that earned no net premium in any accident year or whose loss triangles are all zero, sorted by
    line, company, accident year and lag."""
    missing = [c for c in COLUMNS if c not in source.columns]
    if missing:
        raise SystemExit(f"make_cas_lrdb: the source lacks the columns {missing}")
    table = source.loc[source["LOB"].isin(LINES), COLUMNS].copy()
    if table[INTEGER_COLUMNS].isna().any().any():
        raise SystemExit("make_cas_lrdb: the source has missing values in its numeric columns")
    table[INTEGER_COLUMNS] = table[INTEGER_COLUMNS].astype("int64")
    company_line = table.groupby(["LOB", "GRCODE"], sort=False)
    no_premium = company_line["EarnedPremNet"].transform("max") <= 0
    no_losses = (table[LOSS_TRIANGLES] == 0).all(axis=1).groupby([table["LOB"], table["GRCODE"]]).transform("all")
    table = table[~(no_premium | no_losses)]
    if table.duplicated(KEYS).any():
        raise SystemExit("make_cas_lrdb: the source has more than one row for a company-line, year and lag")
    return table.sort_values(KEYS, kind="stable").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the CAS Loss Reserve Database rows (clrd.csv layout)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the extract (default {OUT})")
    args = parser.parse_args(argv)
    extract = make_extract(pd.read_csv(args.source))
    extract.to_csv(args.out, index=False, lineterminator="\n")
    kept = extract.groupby("LOB")["GRCODE"].nunique()
    print(f"wrote {args.out}: {len(extract)} rows, company-lines " + ", ".join(f"{k} {v}" for k, v in kept.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
