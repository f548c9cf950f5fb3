"""Compile every Numba kernel once, so later processes load them from the on-disk cache."""

from __future__ import annotations

import time

__all__ = ["warmup"]


def warmup() -> float:
    """Compile the line, exact, book, quote and treaty kernels on tiny inputs; return the seconds it took."""
    import pandas as pd

    import techins as ti
    from techins.catalogue.quote import Quoter
    from techins.pricing.premium import PricingBasis
    from techins.simulation.occurrences import occurrence_chunks

    start = time.perf_counter()
    # each kernel dispatches on the law code at run time, so one call per entry point compiles all laws
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=ti.Layer(limit=2.0, deductible=0.5))
    ti.simulate(line, years=10, seed=0)
    ti.exact(line, method="panjer")
    policies = pd.DataFrame({"policy_id": ["a", "b"], "line": "l", "claim_rate": 0.5, "severity": "s",
                             "sum_insured": 1.0, "vendor": "v"})
    shock = ti.CommonShock("warm-up", 1.0, "vendor", ("v",), 0.5, ti.Exponential(0.1))
    result = ti.simulate(ti.Portfolio(policies, {"s": ti.Exponential(1.0)}, shocks=(shock,)), years=10, seed=0)
    for _ in occurrence_chunks(result):
        pass
    Quoter(result, PricingBasis("coc_tvar")).quote(policies.iloc[[0]].assign(policy_id="c"))
    from techins.reinsurance.programme import OccurrenceXL, Programme, QuotaShare, apply_programme

    apply_programme(result, Programme((QuotaShare(0.5), OccurrenceXL(1.0, 0.5, (1.0,)))), keep_occurrences=True)
    return time.perf_counter() - start
