"""Chunk jobs: picklable callables that compute a run's chunks from their own seed streams.

A job is called with the ids of a group of chunks (ascending) and returns that group's per-chunk
reductions; it never depends on which other groups exist, which thread, process or worker runs it,
or how the chunks were grouped, so every executor gives the same numbers. ``job.wave`` is how many
chunks one kernel call takes (None: any number, the kernel runs them in parallel); ``job.fresh()`` is a
copy with its own scratch for one more concurrent user (a Dask worker's threads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from techins.simulation.occurrences import book_period_columns, write_period_losses
from techins.simulation.plan import BOOK_WAVE, CHUNK_YEARS, BookPlan, LinePlan, chunk_count

__all__ = ["LineJob", "LineChunks", "BookJob", "BookChunks", "TailJob"]


@dataclass(frozen=True, eq=False)
class LineChunks:
    """A group of a line's chunks: its years' annual losses, largest occurrences and claim counts."""

    first: int
    annual: np.ndarray
    max_occurrence: np.ndarray
    counts: np.ndarray


class LineJob:
    """Chunks of a line's run (``LinePlan.run_chunks``); writes their period loss files when asked."""

    wave = None

    def __init__(self, plan: LinePlan, seed: int, years: int, period_folder: str | None = None):
        self.plan, self.seed, self.years, self.period_folder = plan, seed, years, period_folder
        self.n_chunks = chunk_count(years, CHUNK_YEARS)

    def __call__(self, ids) -> LineChunks:
        first, n = int(ids[0]), len(ids)
        annual, max_occurrence, counts = self.plan.run_chunks(self.seed, self.years, first, n)
        if self.period_folder is not None:
            write_period_losses(_folder(self.period_folder), first, CHUNK_YEARS, first * CHUNK_YEARS,
                                {"loss": annual, "max_occurrence": max_occurrence, "claims": counts})
        return LineChunks(first, annual, max_occurrence, counts)

    def fresh(self) -> "LineJob":
        return self  # no scratch: every call allocates its own outputs


@dataclass(frozen=True, eq=False)
class BookChunks:
    """A group of a book's chunks: its years' losses (book, largest occurrence, per line) and each
    chunk's per-policy sums (row ``w`` is chunk ``first + w``)."""

    first: int
    annual: np.ndarray
    max_occurrence: np.ndarray
    line_annual: np.ndarray
    policy_sum: np.ndarray
    policy_sumsq: np.ndarray
    policy_cross: np.ndarray
    contract_sumsq: np.ndarray
    n_groups: np.ndarray


class BookJob:
    """Consecutive chunks of a book's run, ``BOOK_WAVE`` per kernel call; writes their period loss
    files when asked."""

    wave = BOOK_WAVE

    def __init__(self, plan: BookPlan, period_folder: str | None = None, line_names: tuple = ()):
        self.plan, self.period_folder, self.line_names = plan, period_folder, tuple(line_names)

    def __call__(self, ids) -> BookChunks:
        plan = self.plan
        first, n = int(ids[0]), len(ids)
        lo = first * plan.chunk_years
        span = min((first + n) * plan.chunk_years, plan.years) - lo
        annual, max_occurrence = np.empty(span), np.empty(span)
        line_annual = np.empty((plan.line_cv.size, span))
        parts = []
        for start in range(first, first + n, BOOK_WAVE):
            wave = np.arange(start, min(start + BOOK_WAVE, first + n), dtype=np.int64)
            parts.append(plan.wave(wave, annual, max_occurrence, line_annual, origin=first)[:5])
        if self.period_folder is not None:
            write_period_losses(_folder(self.period_folder), first, plan.chunk_years, lo,
                                book_period_columns(self.line_names, annual, max_occurrence, line_annual))
        psum, psumsq, pcross, csumsq, n_groups = (np.concatenate([p[k] for p in parts]) for k in range(5))
        return BookChunks(first, annual, max_occurrence, line_annual, psum, psumsq, pcross, csumsq, n_groups)

    def fresh(self) -> "BookJob":
        return BookJob(self.plan.fresh(), self.period_folder, self.line_names)


class TailJob:
    """The co-TVaR re-run: tail chunks of a book run again alone, keeping each policy's loss in the
    years whose book loss is at least ``threshold``. ``chunk_groups`` is the first run's number of
    (policy, year) losses of every chunk (``BookResult.chunk_groups``): the room to keep them."""

    wave = BOOK_WAVE

    def __init__(self, plan: BookPlan, chunk_groups: np.ndarray, threshold: float):
        self.plan, self.chunk_groups, self.threshold = plan, np.asarray(chunk_groups, dtype=np.int64), threshold

    def __call__(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        parts = [self._wave(ids[start:start + BOOK_WAVE]) for start in range(0, ids.size, BOOK_WAVE)]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def _wave(self, ids):
        plan = self.plan
        origin = int(ids[0])
        span = min((int(ids[-1]) + 1) * plan.chunk_years, plan.years) - origin * plan.chunk_years
        # scratch for the years of these chunks only: each chunk's years are its own (BookPlan.wave)
        scratch = (np.empty(span), np.empty(span), np.empty((plan.line_cv.size, span)))
        *_, tail = plan.wave(ids, *scratch, keep_above=self.threshold, capacity=self.chunk_groups[ids],
                             origin=origin)
        return tail

    def fresh(self) -> "TailJob":
        return TailJob(self.plan.fresh(), self.chunk_groups, self.threshold)


def _folder(path: str) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)  # on a Dask worker the client's folder may not exist yet
    return folder
