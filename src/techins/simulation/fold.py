"""The one fold: per-chunk reductions added up in chunk order, whichever executor computed them.

Floating-point sums depend on their order; here it is fixed by the run (chunk 0, 1, 2, ...), so a run
gives the same bits on the local executor and on Dask, for any number of threads, tasks or workers.
Progress is the executor's (``executor.map(job, ids, progress)``): it counts tasks as they complete.
"""

from __future__ import annotations

import numpy as np

from techins.model.portfolio import Portfolio
from techins.results.simulation import BookResult, SimulationResult
from techins.simulation.jobs import BookChunks
from techins.simulation.plan import BookPlan, LinePlan

__all__ = ["fold_line", "fold_book", "fold_tail", "BookSums"]


def fold_line(plan: LinePlan, line, seed: int, years: int, parts) -> SimulationResult:
    """A line's result from its groups of chunks (``LineChunks``, in chunk order)."""
    annual = max_occurrence = counts = None
    for part in parts:
        lo = part.first * plan.chunk_years
        hi = lo + part.annual.size
        if lo == 0 and hi == years:  # one group holds the whole run (the local executor): no copy
            annual, max_occurrence, counts = part.annual, part.max_occurrence, part.counts
        else:
            if annual is None:
                annual, max_occurrence = np.empty(years), np.empty(years)
                counts = np.empty(years, dtype=np.int32)
            annual[lo:hi], max_occurrence[lo:hi], counts[lo:hi] = part.annual, part.max_occurrence, part.counts
    return SimulationResult(annual=annual, max_occurrence=max_occurrence, counts=counts, seed=seed, line=line,
                            counted_above=plan.counted_above, claim_rate=plan.claim_rate,
                            reach_probability=plan.reach_probability)


def fold_book(portfolio: Portfolio, plan: BookPlan, seed: int, thin: bool, parts) -> BookResult:
    """A book's result from its groups of chunks (``BookChunks``, in chunk order)."""
    sums = BookSums(portfolio, plan)
    for part in parts:
        sums.add(part)
    return sums.result(seed, thin)


def fold_tail(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tail rows (year, policy, loss) of groups of tail chunks, concatenated in chunk order."""
    parts = list(parts)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


class BookSums:
    """A book run's results, filled group by group: the years' losses, and the per-policy sums added
    in chunk order."""

    def __init__(self, portfolio: Portfolio, plan: BookPlan):
        n, years = portfolio.n_policies, plan.years
        self.portfolio, self.plan = portfolio, plan
        self.annual = np.empty(years)
        self.max_occurrence = np.empty(years)
        self.line_annual = np.empty((len(portfolio.line_names), years))
        self.policy_sum, self.policy_sumsq, self.policy_cross = np.zeros(n), np.zeros(n), np.zeros(n)
        self.contract_sumsq = np.zeros(portfolio.n_contracts)
        self.chunk_groups = np.zeros(plan.n_chunks, dtype=np.int64)
        self.next_chunk = 0

    def add(self, part: BookChunks) -> None:
        """Add a group of chunks; it must be the next one."""
        if part.first != self.next_chunk or part.n_groups.size == 0:
            raise RuntimeError(f"chunks from {part.first} added out of order (next is {self.next_chunk})")
        ids = np.arange(part.first, part.first + part.n_groups.size)
        lo = part.first * self.plan.chunk_years
        hi = lo + part.annual.size
        self.annual[lo:hi] = part.annual
        self.max_occurrence[lo:hi] = part.max_occurrence
        self.line_annual[:, lo:hi] = part.line_annual
        self.chunk_groups[ids] = part.n_groups
        for w in range(ids.size):  # chunk order, whatever the threads did
            self.policy_sum += part.policy_sum[w]
            self.policy_sumsq += part.policy_sumsq[w]
            self.policy_cross += part.policy_cross[w]
            self.contract_sumsq += part.contract_sumsq[w]
        self.next_chunk = int(ids[-1]) + 1

    def result(self, seed: int, thin: bool) -> BookResult:
        if self.next_chunk != self.plan.n_chunks:
            raise RuntimeError(f"book run incomplete: {self.next_chunk} of {self.plan.n_chunks} chunks")
        portfolio = self.portfolio
        return BookResult(annual=self.annual, max_occurrence=self.max_occurrence, counts=None, seed=seed,
                          line=portfolio, line_annual=self.line_annual, policy_sum=self.policy_sum,
                          policy_sumsq=self.policy_sumsq, policy_cross=self.policy_cross,
                          contract_sumsq=self.contract_sumsq if portfolio.n_contracts else None,
                          chunk_years=self.plan.chunk_years, chunk_groups=self.chunk_groups, thin=thin)
