"""Loss tables of a run: the period (year) loss files, the occurrence loss table drawn again chunk by
chunk from the run's own streams, and the sums of occurrences by group and year."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from techins.errors import InputError, InputTypeError
from techins.io.schema import OCCURRENCE_COLUMNS, PERIOD_COLUMNS
from techins.kernels import book as book_kernels
from techins.kernels.records import ClaimScratch
from techins.progress import announce
from techins.simulation.executor import open_executor
from techins.simulation.plan import BookPlan

__all__ = ["PERIOD_COLUMNS", "OCCURRENCE_COLUMNS", "period_folder", "write_period_losses", "book_period_columns",
           "occurrence_chunks", "occurrence_arrays", "chunk_occurrences", "annual_by_group", "group_codes",
           "add_by_group_and_year", "cut_by_annual_terms", "GroupJob", "copula_reorder"]



def period_folder(folder):
    """The folder for ``period_losses`` (created), or None."""
    if folder is None:
        return None
    if not isinstance(folder, (str, os.PathLike)):
        raise InputTypeError(f"simulate: period_losses must be a folder path, got {type(folder).__name__}")
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise InputError(f"simulate: period_losses {str(path)!r} is a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_period_losses(folder: Path, first_chunk: int, chunk_years: int, first_year: int, columns: dict) -> list[Path]:
    """Write the period (year) loss table of consecutive chunks, one Parquet file each.

    ``columns`` hold the years ``first_year ...`` (chunk ``first_chunk``'s first year onwards): ``loss``,
    ``max_occurrence``, then ``claims`` (a line) or ``line:NAME`` (a book). Each file is
    ``chunk-NNNNN.parquet`` with ``PERIOD_COLUMNS`` first (``year`` 0-based, as in the occurrence
    table). It is written under a temporary name and renamed, so a retried task rewrites it whole and
    a reader never sees half a file.
    """
    import pandas as pd

    span = next(iter(columns.values())).shape[0]
    written = []
    for start in range(0, span, chunk_years):
        stop = min(start + chunk_years, span)
        frame = pd.DataFrame({"year": np.arange(first_year + start, first_year + stop, dtype=np.int64)}
                             | {name: values[start:stop] for name, values in columns.items()})
        path = folder / f"chunk-{first_chunk + start // chunk_years:05d}.parquet"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
        written.append(path)
    return written


def book_period_columns(line_names, annual, max_occurrence, line_annual) -> dict:
    """The columns of a book's period loss table (``write_period_losses``)."""
    columns = {"loss": annual, "max_occurrence": max_occurrence}
    for k, name in enumerate(line_names):
        columns[f"line:{name}"] = line_annual[k]
    return columns



def occurrence_chunks(result, *, after_aggregates: bool = False):
    """Stream the book's occurrence loss table, one chunk of years at a time.

    Each chunk is drawn again from its own seed stream, so the rows are exactly the occurrences of the
    run: every independent claim, and every common-shock event (one ``occurrence_id`` shared by all the
    policies it hits; with a copula, one per margin part of the event), after each policy's occurrence
    terms and, unless ``after_aggregates``, before its aggregate terms (see ``occurrence_arrays``). Memory
    holds one chunk; ``pandas.concat(occurrence_chunks(result))`` gives the whole table when asked.

    Yields
    ------
    pandas.DataFrame
        Columns ``OCCURRENCE_COLUMNS``; ``occurrence_id`` is unique in the run
        (chunk index x 2**32 + index in the chunk).
    """
    import pandas as pd

    portfolio = result.portfolio
    ids, lines = portfolio.arrays["policy_id"], np.asarray(portfolio.line_names, dtype=object)
    line_of = portfolio.arrays["line"]
    for year, occurrence_id, policy, loss in occurrence_arrays(result, after_aggregates=after_aggregates):
        yield pd.DataFrame({"year": year, "occurrence_id": occurrence_id, "policy_id": ids[policy],
                            "line": lines[line_of[policy]], "loss": loss})


def occurrence_arrays(result, *, after_aggregates: bool = False):
    """The arrays behind ``occurrence_chunks``, one chunk of years at a time: ``year``,
    ``occurrence_id`` (chunk index x 2**32 + index in the chunk), ``policy`` (row index in the
    portfolio) and ``loss`` (> 0), in the kernel's order (claims policy by policy, then events).

    With a copula (``Portfolio(dependence=Dependence(...))``) each row is in the year the simulation's
    reorder moved its (policy, year) loss to, and a common-shock event is one occurrence per margin
    part, each in its margin's year (``techins.kernels.book.occurrence_table_chunk`` gives the indices):
    the table is the occurrences as the simulation saw them.

    With ``after_aggregates`` each loss is also cut by its policy's annual aggregate terms and its
    contract's, pro rata within the (policy, year) as the kernel cuts them
    (``cut_by_annual_terms``): the occurrences then add up to the book's annual losses.
    """
    plan = BookPlan(result.portfolio, result.years, result.seed, result.thin)
    for chunk in range(plan.n_chunks):
        yield chunk_occurrences(plan, chunk, after_aggregates=after_aggregates)


def chunk_occurrences(plan: BookPlan, chunk: int, *, after_aggregates: bool = False):
    """Chunk ``chunk``'s occurrences (``occurrence_arrays``), drawn again from its own stream with the
    plan's claim scratch (one plan per concurrent user: ``BookPlan.fresh``)."""
    # with a copula, words 4-7 are the chunk's copula stream: the same reorder as the simulation's
    state = plan.states([chunk])[0]
    first, stop = plan.chunk_bounds(chunk)
    while True:
        scratch = ClaimScratch(*(b[0] for b in plan.claim_buffers(1)))
        year, occurrence, policy, loss, n = book_kernels.occurrence_table_chunk(state.copy(), first, stop, plan.book,
                                                                                 scratch)
        if n >= 0:
            break
        plan.grow_claim_buffers()
    if after_aggregates:
        loss = cut_by_annual_terms(year, policy, loss, plan.aggregate_terms, plan.contract_of, plan.contract_terms)
    keep = loss > 0.0
    return year[keep], (chunk << 32) + occurrence[keep], policy[keep], loss[keep]


def copula_reorder(result) -> tuple:
    """The copula's reorder of a run (``result`` a ``BookResult`` whose book has a copula), year by year,
    each ``[margins, years]`` (margins in the order of ``portfolio.copula_margins``): the year each
    margin's year ``y`` moved to (int64, within its chunk), each margin's annual loss in the years
    drawn, and the copula sample its ranks followed. Each chunk is drawn again from its own streams,
    so these are the simulation's to the bit; the quote path re-ranks a margin with a new policy in it
    from them (``techins.catalogue.snapshot.BookEvents``)."""
    if result.portfolio.copula is None or result.portfolio.copula.copula.is_independent:
        raise InputError("copula_reorder: the book has no copula (its years were not reordered)")
    plan = BookPlan(result.portfolio, result.years, result.seed, result.thin)
    nm = plan.book.copula.n_margins
    moved_to = np.empty((nm, result.years), dtype=np.int64)
    values, scores = np.empty((nm, result.years)), np.empty((nm, result.years))
    for chunk in range(plan.n_chunks):  # one kernel call per chunk of years
        state = plan.states([chunk])[0]
        first, stop = plan.chunk_bounds(chunk)
        while True:
            scratch = ClaimScratch(*(b[0] for b in plan.claim_buffers(1)))
            (moved, value, score), ok = book_kernels.copula_margin_years(state.copy(), first, stop, plan.book,
                                                                         scratch)
            if ok:
                break
            plan.grow_claim_buffers()
        moved_to[:, first:stop] = first + moved
        values[:, first:stop], scores[:, first:stop] = value, score
    return moved_to, values, scores


class GroupJob:
    """Chunks of a book's occurrences after the aggregate terms, summed by group and year: per chunk,
    its first year and a ``[groups, chunk years]`` array."""

    wave = 1

    def __init__(self, plan: BookPlan, codes: np.ndarray, n_groups: int):
        self.plan, self.codes, self.n_groups = plan, codes, n_groups

    def __call__(self, ids):
        parts = []
        for chunk in ids:
            first, stop = self.plan.chunk_bounds(int(chunk))
            out = np.zeros((self.n_groups, stop - first))
            year, _, policy, loss = chunk_occurrences(self.plan, int(chunk), after_aggregates=True)
            add_by_group_and_year((out,), self.codes[policy], year - first, (loss,))
            parts.append((first, out))
        return parts

    def fresh(self) -> "GroupJob":
        return GroupJob(self.plan.fresh(), self.codes, self.n_groups)


def annual_by_group(result, groups, *, executor=None, progress=None) -> np.ndarray:
    """``[groups, years]``: each group's annual loss, from the occurrences after the aggregate terms
    (so the groups add up to the book's annual loss). ``groups`` gives each policy (row) a code
    ``0..G-1``, e.g. the member of a pool who brought it. ``executor``: where the chunks run
    (``techins.simulation.executor``); this process when omitted. ``progress(chunks_done, chunks)``
    after ``progress.phase("occurrences")`` when it has that method (``techins.progress``)."""
    codes = group_codes("annual_by_group", groups, result.portfolio.n_policies)
    n_groups = int(codes.max(initial=-1)) + 1
    plan = BookPlan(result.portfolio, result.years, result.seed, result.thin)
    out = np.zeros((n_groups, result.years))
    with open_executor("annual_by_group", executor=executor) as run:
        announce(progress, "occurrences")
        for parts in run.map(GroupJob(plan, codes, n_groups), np.arange(plan.n_chunks, dtype=np.int64), progress):
            for first, part in parts:
                out[:, first:first + part.shape[1]] = part
    return out


def group_codes(owner: str, groups, n_policies: int) -> np.ndarray:
    """``groups`` checked: one integer code >= 0 per policy (row) of a book, as int64."""
    codes = np.asarray(groups)
    if codes.ndim != 1 or codes.size != n_policies or not np.issubdtype(codes.dtype, np.integer) \
            or (codes.size and codes.min() < 0):
        raise InputError(f"{owner}: groups must hold one integer code >= 0 per policy ({n_policies})")
    return codes.astype(np.int64)


def add_by_group_and_year(totals, group: np.ndarray, year: np.ndarray, values) -> None:
    """Add each row's ``values[k]`` into ``totals[k][group, year]`` (``totals[k]`` is ``[groups,
    years]``): one ``bincount`` over the years the rows span, so a chunk of years costs its rows."""
    if year.size == 0:
        return
    first = int(year.min())
    span = int(year.max()) - first + 1
    key = group * span + (year - first)
    n_groups = totals[0].shape[0]
    for out, weights in zip(totals, values):
        out[:, first:first + span] += np.bincount(key, weights=weights, minlength=n_groups * span).reshape(n_groups,
                                                                                                        span)


def cut_by_annual_terms(year, policy, loss, aggregate_terms, contract_of, contract_terms) -> np.ndarray:
    """Occurrence losses cut by their policy's annual aggregate terms, then its contract's.

    Parameters
    ----------
    year, policy, loss : numpy.ndarray
        One row per (occurrence, policy), losses after the occurrence terms.
    aggregate_terms : numpy.ndarray
        ``[policies, 2]``: each policy's (aggregate deductible, aggregate limit).
    contract_of, contract_terms : numpy.ndarray
        Each policy's contract and ``[contracts, 2]`` contract terms (empty: no contracts).

    Returns
    -------
    numpy.ndarray
        ``loss * a / t`` with ``t`` the (policy, year) total and ``a = min(max(t - d, 0), l)``, then the
        same over each (contract, year): the kernel's pro rata cut-back, so a year's rows add up to
        the book's annual loss (vectorised; a sort per chunk).
    """
    if loss.size == 0:
        return loss
    span = int(year.max()) - int(year.min()) + 1
    rel_year = year - year.min()
    groups, inverse = np.unique(policy * span + rel_year, return_inverse=True)
    total = np.bincount(inverse, weights=loss)
    group_policy = groups // span
    after = np.minimum(np.maximum(total - aggregate_terms[group_policy, 0], 0.0), aggregate_terms[group_policy, 1])
    if contract_terms.shape[0] > 0:
        contract = contract_of[group_policy]
        c_groups, c_inverse = np.unique(contract * span + groups % span, return_inverse=True)
        c_total = np.bincount(c_inverse, weights=after)
        c_contract = c_groups // span
        c_after = np.minimum(np.maximum(c_total - contract_terms[c_contract, 0], 0.0), contract_terms[c_contract, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            after = after * np.where(c_total > 0.0, c_after / c_total, 0.0)[c_inverse]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0.0, after / total, 0.0)
    return loss * ratio[inverse]


