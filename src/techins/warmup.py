"""Compile every Numba kernel once, so later processes load them from the on-disk cache."""

from __future__ import annotations

import time

__all__ = ["warmup"]


def warmup() -> float:
    """Compile the simulation and Panjer kernels on tiny inputs; return the seconds it took."""
    import techins as ti

    start = time.perf_counter()
    # one compiled kernel serves every law (it dispatches on the law code), so one call of each
    # entry point compiles everything
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0), occurrence=ti.Layer(limit=2.0, deductible=0.5))
    ti.simulate(line, years=10, seed=0)
    ti.exact(line, method="panjer")
    return time.perf_counter() - start
