"""The entry points of the simulation core: ``simulate`` (a line or a book) and the co-TVaR tail re-run.

Each plans the run (``plan``), maps its chunk job on an executor (``executor``: local Numba threads or
Dask) and folds the per-chunk results in chunk order (``fold``): the same bits on every executor.
"""

from __future__ import annotations

import numpy as np

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.model.line import Line
from techins.model.portfolio import Portfolio
from techins.progress import announce
from techins.results import figures
from techins.results.simulation import BookResult, SimulationResult
from techins.simulation.executor import open_executor
from techins.simulation.fold import fold_book, fold_line, fold_tail
from techins.simulation.jobs import BookJob, LineJob, TailJob
from techins.simulation.occurrences import period_folder
from techins.simulation.plan import BookPlan, LinePlan

__all__ = ["simulate", "book_tail_losses"]


def simulate(line: Line, years: int, seed: int, *, thin: bool = True, threads: int | None = None,
             backend: str = "local", client=None, progress=None, period_losses=None,
             executor=None, dependence=None) -> SimulationResult:
    """Simulate the annual aggregate losses of a line, or of a book of policies, by Monte Carlo.

    Parameters
    ----------
    line : Line or Portfolio
        A line (frequency, severity, occurrence and aggregate terms), or a book of policies with its
        common shocks (``docs/accumulation.md``).
    years : int
        Number of simulated years, >= 1.
    seed : int
        Seed, an integer >= 0; the same seed gives bit-identical results for any thread count.
    thin : bool, default True
        Draw only the claims that exceed the occurrence deductible (exact in distribution).
    threads : int, optional
        Numba threads for this call (with ``backend="dask"``: per task on each worker); the machine's
        (worker's) default when omitted. Results do not depend on it.
    backend : {"local", "dask"}
        Where the chunks run: ``"local"``, Numba threads in this process; ``"dask"``, tasks of a few
        chunks each on a Dask cluster (``techins.simulation.executors.dask``, the optional extra
        ``pip install 'techins[dask]'``). Both give bit-identical results for the same seed.
    client : distributed.Client or str, optional
        With ``backend="dask"`` only: the cluster's client, or its scheduler's address
        (``"tcp://host:8786"``). When omitted a ``LocalCluster`` is started for this call and closed
        after it.
    progress : callable, optional
        Called as ``progress(chunks_done, chunks_total)`` as chunks complete (a progress bar), after
        ``progress.phase("simulation")`` when it has that method (``techins.progress``); it cannot
        change the numbers.
    period_losses : str or pathlib.Path, optional
        A folder to write the period (year) loss table to, one Parquet file per chunk of years
        (``chunk-00000.parquet``, ...; columns ``PERIOD_COLUMNS``, then ``claims`` for a line or one
        ``line:NAME`` column per product line for a book). On the Dask backend each task writes its
        own chunks, so the folder must be one the workers can all write (a shared file system).
    executor : LocalExecutor or DaskExecutor, optional
        An executor already open (``techins.simulation.executor.open_executor``), in place of
        ``backend``, ``client`` and ``threads``: e.g. one Dask session for several calls.
    dependence : Dependence, GammaFrailty or a list of them, optional
        A book only: its dependence in place of the portfolio's own (``Portfolio.with_dependence``;
        ``techins.model.dependence``). The result's ``portfolio`` carries it, so tail re-runs see it.

    Returns
    -------
    SimulationResult or BookResult
        ``annual`` (one aggregate loss per year), ``max_occurrence``, ``counts`` (lines only) and the
        figures with their Monte Carlo standard errors; a book's result adds per-line and per-policy
        figures.

    Examples
    --------
    >>> import techins as ti
    >>> line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    >>> sim = ti.simulate(line, years=10_000, seed=1)
    >>> sim.annual.shape
    (10000,)
    """
    if not isinstance(line, (Line, Portfolio)):
        raise InputTypeError(f"simulate: expected a techins.Line or techins.Portfolio, got {type(line).__name__}")
    years = validate.integer("simulate", "years", years, low=1)
    seed = validate.integer("simulate", "seed", seed, low=0)
    if dependence is not None:
        if not isinstance(line, Portfolio):
            raise InputError("simulate: dependence joins the lines of a book; give a techins.Portfolio, not a Line")
        line = line.with_dependence(dependence)
    folder = period_folder(period_losses)  # checked before a Dask cluster is started for the call
    folder = None if folder is None else str(folder)
    with open_executor("simulate", backend, client, threads, executor=executor) as run:
        announce(progress, "simulation")
        if isinstance(line, Portfolio):
            plan = BookPlan(line, years, seed, thin)
            job = BookJob(plan, folder, line.line_names)
            parts = run.map(job, np.arange(plan.n_chunks, dtype=np.int64), progress)
            return fold_book(line, plan, seed, thin, parts)
        plan = LinePlan.of(line, thin)
        job = LineJob(plan, seed, years, folder)
        return fold_line(plan, line, seed, years, run.map(job, np.arange(job.n_chunks, dtype=np.int64), progress))


def book_tail_losses(result: BookResult, level: float, threads: int | None = None, *, backend: str = "local",
                     client=None, executor=None, progress=None):
    """Each policy's loss in the book's tail years (book loss >= its VaR at ``level``), for allocation.

    The chunks holding tail years are simulated again from their own streams, which gives exactly
    the first run's numbers, keeping only the tail years: memory stays bounded by the tail.

    Parameters
    ----------
    result : BookResult
    level : float
        In (0, 1).
    threads : int, optional
        Numba threads (per task on a Dask worker); results do not depend on it.
    backend : {"local", "dask"}
        Where the tail chunks run again; the same rows either way (see ``simulate``).
    client : distributed.Client or str, optional
        With ``backend="dask"``: the cluster, or its scheduler's address; a ``LocalCluster`` when omitted.
    executor : LocalExecutor or DaskExecutor, optional
        An executor already open, in place of ``backend``, ``client`` and ``threads``.
    progress : callable, optional
        ``progress(tail_chunks_done, tail_chunks_total)``, after ``progress.phase("tail re-run")``
        when it has that method (``techins.progress``).

    Returns
    -------
    tail_year, tail_policy, tail_loss : numpy.ndarray
        One row per (year, policy) with a non-zero loss in a tail year, ordered by chunk, then policy.
    """
    level = figures.check_level("book_tail_losses", level, upper_open=True)
    if not isinstance(result, BookResult):
        raise InputTypeError(f"book_tail_losses: expected the BookResult of a simulated book, got {result!r}")
    with open_executor("book_tail_losses", backend, client, threads, executor=executor) as run:
        threshold = figures.quantile_equal(np.sort(result.annual), level)
        plan = BookPlan(result.portfolio, result.years, result.seed, result.thin)
        tail_chunks = np.unique(np.flatnonzero(result.annual >= threshold) // plan.chunk_years)
        announce(progress, "tail re-run")
        return fold_tail(run.map(TailJob(plan, result.chunk_groups, threshold), tail_chunks, progress))
