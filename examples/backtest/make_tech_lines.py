"""Make the synthetic tech-lines history of the back-test example (examples/backtest/tech_lines/).

Six years of four tech lines drawn from a known truth with ``techins.backtest.synthetic``: drone
liability is priced at 70% of its true claim rate and eVTOL hull at 85% (both lose money), cyber SME
is priced right and first-of-kind equipment is over-priced by 10%. The back-test should flag the
first two and indicate rate increases for them. The forecasts are the priced predictive
distributions of each line-year's loss. Run from the project root:

    .venv/bin/python examples/backtest/make_tech_lines.py
"""

from pathlib import Path

from techins.backtest.synthetic import synthetic_history

HERE = Path(__file__).parent
LINES = ["cyber_sme", "drone_liability", "evtol_hull", "fok_equipment"]
PRICING_ERROR = [1.0, 0.70, 0.85, 1.10]


def main() -> None:
    tables = synthetic_history(n_policies=12_000, n_periods=6, seed=2026, pricing_error=PRICING_ERROR,
                               first_period=2020, line_names=LINES)
    folder = HERE / "tech_lines"
    folder.mkdir(exist_ok=True)
    for name in ("policies", "claims", "expenses", "forecasts", "truth"):
        tables[name].to_csv(folder / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
