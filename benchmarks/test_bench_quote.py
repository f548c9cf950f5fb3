"""Quotes per second from one Quoter: one thread against a pool of two threads (the machine's cores),
on a 40,000-year book. The quote's kernel releases the GIL; its pandas validation of the policy row
does not, so two threads gain what the kernel and the risk load take of a quote.

The baseline variant ("serial", one thread) is the ratio's denominator; read quotes/s in the output.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

import techins as ti
from techins.catalogue.quote import Quoter
from tests.catalogue.test_quote import BASIS, book, candidates

YEARS, QUOTES = 40_000, 400


@pytest.fixture(scope="module")
def quoter():
    q = Quoter(ti.simulate(book(), years=YEARS, seed=5), BASIS)
    q.quote(candidates(1)[0])  # compiled before timing
    return q


@pytest.mark.parametrize("threads", [1, 2])
def test_quotes_per_second(record, benchmark, quoter, threads):
    policies = candidates(QUOTES)

    def run():
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(quoter.quote, policies))

    record(f"{QUOTES} quotes, {YEARS:,}-year book", "serial" if threads == 1 else f"{threads} threads", run)
    print(f"\n{threads} thread(s): {QUOTES / benchmark.stats.stats.median:,.0f} quotes/s")
