"""Compile every Numba kernel once, so later processes load them from the on-disk cache."""

from __future__ import annotations

import time

from techins.progress import announce, report

__all__ = ["warmup"]

STEPS = 7  # the kernel families compiled below, each reported as done (``progress``)


def warmup(progress=None) -> float:
    """Compile the line, exact, book, occurrence, quote and treaty kernels on tiny inputs; return the
    seconds it took. ``progress(done, 7)`` after each family, in phase ``"compiling"``
    (``techins.progress``)."""
    import pandas as pd

    import techins as ti
    from techins.catalogue.quote import Quoter
    from techins.pricing.premium import PricingBasis
    from techins.reinsurance.programme import OccurrenceXL, Programme, QuotaShare, apply_programme
    from techins.simulation.occurrences import occurrence_chunks

    start = time.perf_counter()
    announce(progress, "compiling")
    report(progress, 0, STEPS)
    # each kernel dispatches on the law code at run time, so one call per entry point compiles all laws
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=ti.Layer(limit=2.0, deductible=0.5))
    ti.simulate(line, years=10, seed=0)
    report(progress, 1, STEPS)
    ti.exact(line, method="panjer")
    report(progress, 2, STEPS)
    policies = pd.DataFrame({"policy_id": ["a", "b"], "line": ["l", "m"], "claim_rate": 0.5, "severity": "s",
                             "sum_insured": 1.0, "vendor": "v"})
    shock = ti.CommonShock("warm-up", 1.0, "vendor", ("v",), 0.5, ti.Exponential(0.1))
    result = ti.simulate(ti.Portfolio(policies, {"s": ti.Exponential(1.0)}, shocks=(shock,)), years=10, seed=0)
    report(progress, 3, STEPS)
    for _ in occurrence_chunks(result):
        pass
    report(progress, 4, STEPS)
    Quoter(result, PricingBasis("coc_tvar")).quote(policies.iloc[[0]].assign(policy_id="c"))
    report(progress, 5, STEPS)
    apply_programme(result, Programme((QuotaShare(0.5), OccurrenceXL(1.0, 0.5, (1.0,)))), keep_occurrences=True)
    report(progress, 6, STEPS)
    # a copula book: the reorder and the moved occurrences have kernels of their own
    joined = result.portfolio.with_dependence(ti.Dependence(ti.GaussianCopula(0.5), lines=("l", "m")))
    for _ in occurrence_chunks(ti.simulate(joined, years=10, seed=0)):
        pass
    report(progress, 7, STEPS)
    return time.perf_counter() - start
