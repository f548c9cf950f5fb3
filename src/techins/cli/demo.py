"""The built-in demonstration behind ``techins demo`` and ``make run``: the reference line checked
against the exact path, then a small illustrative tech book with common shocks, priced per line and
quoted for one new policy. Every parameter here is illustrative, not a filed product."""

from __future__ import annotations

import numpy as np
import pandas as pd

import techins as ti
from techins.catalogue.quote import Quoter
from techins.pricing.premium import PricingBasis, book_figures, line_capital_table, price_portfolio

__all__ = ["reference_line", "demo_book", "DEMO_BASIS", "run_book_demo"]

DEMO_BASIS = PricingBasis("coc_tvar", load=0.10, level=0.99, fixed_expense=300.0, variable_expense=0.25,
                          profit=0.05)


def reference_line() -> ti.Line:
    """Poisson(5) x LogNormal(10, 2) with a 5M xs 1M occurrence layer: the reference line of the
    README and of the exact-path tests."""
    return ti.Line(frequency=ti.Poisson(5.0), severity=ti.LogNormal(mu=10.0, sigma=2.0),
                   occurrence=ti.Layer(limit=5e6, deductible=1e6))


def demo_book(n_policies: int = 2_000, seed: int = 0) -> ti.Portfolio:
    """A seeded synthetic book over four tech lines with a cloud outage, a serial defect under a batch
    clause and a GNSS jamming event, and parameter risk on the cyber line."""
    rng = np.random.default_rng(seed)
    lines = np.array(["cyber", "ip", "first_of_kind", "drone"])
    line = rng.choice(lines, n_policies, p=[0.4, 0.2, 0.2, 0.2])
    policies = pd.DataFrame({
        "policy_id": [f"D{i:05d}" for i in range(n_policies)],
        "line": line,
        "claim_rate": np.select([line == "cyber", line == "ip", line == "first_of_kind"], [0.08, 0.011, 0.03],
                                0.05) * rng.lognormal(0.0, 0.4, n_policies),
        "severity": line,
        "severity_scale": rng.uniform(0.5, 2.0, n_policies),
        "deductible": np.where(line == "cyber", 2e4, 0.0),
        "limit": np.select([line == "cyber", line == "ip"], [2e6, 5e6], 1e7),
        "sum_insured": rng.uniform(1e6, 2e7, n_policies),
        "cloud": rng.choice(["aws", "aliyun", "on-premise"], n_policies),
        "batch": rng.choice(["batch-1", "batch-2"], n_policies),
        "fleet": rng.choice(["fleet-a", "fleet-b"], n_policies),
    })
    severities = {"cyber": ti.LogNormal(11.5, 1.6), "ip": ti.LogNormal(13.5, 1.0),
                  "first_of_kind": ti.Gamma(1.2, 4e5), "drone": ti.Pareto(3.0, 2e5)}
    shocks = (
        ti.CommonShock("cloud outage", rate=0.3, factor="cloud", values=("aws", "aliyun"), hit_probability=0.05,
                       severity=ti.Gamma(2.0, 0.01)),
        ti.CommonShock("serial defect", rate=0.05, factor="batch", values=("batch-1",), hit_probability=0.02,
                       severity=ti.Exponential(0.05), clause="batch", event_deductible=1e6, event_limit=5e7),
        ti.CommonShock("GNSS jamming", rate=0.1, factor="fleet", values=("fleet-a",), hit_probability=0.01,
                       severity=ti.Exponential(0.02)),
    )
    return ti.Portfolio(policies, severities, shocks=shocks, parameter_risk={"cyber": 0.2})


def run_book_demo(years: int, seed: int, progress=None) -> dict:
    """Simulate and price the demo book; return plain figures (JSON-serialisable). ``progress``: the
    simulation's (``techins.progress``)."""
    book = demo_book()
    result = ti.simulate(book, years=years, seed=seed, progress=progress)
    priced = price_portfolio(result, DEMO_BASIS)
    lines = line_capital_table(result, priced, level=DEMO_BASIS.level)
    premium = priced.groupby("line").technical_premium.sum()
    figures = book_figures(result.annual, DEMO_BASIS, n_policies=book.n_policies).iloc[0]
    quote = Quoter(result, DEMO_BASIS).quote({
        "policy_id": "NEW-1", "line": "cyber", "claim_rate": 0.08, "severity": "cyber", "deductible": 2e4,
        "limit": 2e6, "sum_insured": 5e6, "cloud": "aws"})
    return {
        "policies": book.n_policies, "years": years, "seed": seed,
        "expected_loss": float(result.mean()), "expected_loss_stderr": float(result.stderr("mean")),
        "tvar_99": float(result.tvar(0.99)), "tvar_99_stderr": float(result.stderr("tvar", 0.99)),
        "capital": float(figures.capital), "technical_premium": float(figures.technical_premium),
        "lines": [{"line": row.line, "premium": float(premium[row.line]),
                   "standalone_capital": float(row.standalone_capital),
                   "allocated_capital": float(row.allocated_capital),
                   "diversification_benefit": float(row.diversification_benefit)} for row in lines.itertuples()],
        "quote": quote,
    }
