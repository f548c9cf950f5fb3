"""The cost of dependence on the benchmark book (``benchmarks.books.mixed_book``, four lines and common
shocks): independent against a Gaussian copula on the four lines (the Iman–Conover reorder of every
chunk) and against a shared gamma frailty on two lines, in the same run. Target: at most 15% over
the independent run. Run with ``make bench`` or
``pytest benchmarks/test_bench_dependence.py --benchmark-only``."""

import pytest

import techins as ti
from benchmarks.books import SEVERITIES, mixed_book

DEPENDENCE = {
    "independent": None,
    "gaussian_copula": ti.Dependence(ti.GaussianCopula(0.5), lines=tuple(sorted(SEVERITIES))),
    "gamma_frailty": ti.GammaFrailty(0.3, lines=("cyber", "drone")),
}
TIMES = {}


@pytest.mark.parametrize("variant", list(DEPENDENCE))
def test_dependence_cost(record, benchmark, variant):
    book = mixed_book(100_000)
    dependence = DEPENDENCE[variant]
    ti.simulate(mixed_book(100), years=10, seed=0, dependence=dependence)  # compiled before timing
    record("mixed book 100,000 x 10,000, dependence", variant,
           lambda: ti.simulate(book, years=10_000, seed=1, dependence=dependence))
    TIMES[variant] = benchmark.stats.stats.median
    if variant != "independent" and "independent" in TIMES:
        print(f"\n{variant}: {TIMES[variant] / TIMES['independent']:.3f} x the independent run")
