"""The Dask backend: the local run's chunks of years as tasks on a Dask cluster, to the same bits.

``simulate(..., backend="dask")`` and ``book_tail_losses(..., backend="dask")`` come here. A run is
cut into the same chunks as on the local backend (``techins.engine``: chunk ``k`` draws from
``SeedSequence(seed, spawn_key=(k,))`` alone), and a task is a fixed run of consecutive chunks
(``TASK_CHUNKS``, fewer on a short run: ``chunks_per_task``):

* the book (kernel arrays, ``engine.BookRun``) or the line (kernel codes, ``engine.LineKernel``) is
  built once on the client and sent once to every worker (``Client.scatter(..., broadcast=True)``);
* a task gets only its first chunk and its number of chunks, runs them with the same kernels as the
  local backend, and returns its years' annual, largest-occurrence and per-line losses, each chunk's
  per-policy sums (and, for the co-TVaR re-run, the tail years' policy losses): per-chunk reductions,
  never the claims;
* the client takes the results in chunk order and adds the per-policy sums in that order, exactly as
  the local backend does (``engine.BookSums``). Floating-point sums depend on their order; this one is
  fixed by the book, so the numbers are bit-identical for any number of workers, task sizes, retries.

A worker that dies mid-run loses its tasks and the results it held; the scheduler runs them again
elsewhere (or on the restarted worker) from their own seed streams, to the same numbers. Every run
first checks that the workers have the client's techins, NumPy and Numba (``check_workers``).

Dask is imported inside the functions only: ``import techins`` never imports it, and the local backend
never starts a process, opens a port or makes a scratch folder. ``docs/distributed.md`` tells how to
run on an existing cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
import weakref
from collections import deque
from pathlib import Path

import numpy as np

from techins import _validate
from techins.engine import (BOOK_WAVE, CHUNK_YEARS, BookRun, BookSums, LineKernel, _numba_threads,
                            book_period_columns, tail_wave, write_period_losses)
from techins.errors import InputError, InputTypeError, MissingExtraError

__all__ = ["session", "local_cluster", "check_workers", "chunks_per_task", "TASK_CHUNKS", "TASKS_PER_THREAD",
           "EXTRA_MESSAGE"]

TASK_CHUNKS = BOOK_WAVE   # most chunks per task; any grouping gives the same numbers
TASKS_PER_THREAD = 4      # fewer chunks per task on a short run, so every worker thread gets several
EXTRA_MESSAGE = "the dask backend needs the optional extra: pip install 'techins[dask]'"
_SOCKET_SCHEMES = ("tcp", "tls", "ws", "wss")


def _distributed():
    """``dask.distributed``, or a clear error naming the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingExtraError(f"{EXTRA_MESSAGE} ({exc})") from None
    return distributed


@contextlib.contextmanager
def local_cluster(n_workers: int | None = None, *, numba_threads: int | None = None):
    """Start a ``LocalCluster`` of worker processes on this machine and yield its client; close both after.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes (each runs one task at a time); this machine's cores when omitted.
    numba_threads : int, optional
        Numba threads of each worker; the cores shared out between the workers when omitted (at
        least 1), so the workers do not fight over the cores. Results do not depend on it.

    Yields
    ------
    distributed.Client
        Not set as Dask's default client: it serves the techins calls it is passed to.

    Examples
    --------
    >>> import techins as ti
    >>> from techins.distributed import local_cluster
    >>> line = ti.Line(ti.Poisson(2.0), ti.Exponential(1e4))
    >>> with local_cluster(2) as client:                                       # doctest: +SKIP
    ...     sim = ti.simulate(line, years=100_000, seed=1, backend="dask", client=client)
    """
    distributed = _distributed()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = cores if n_workers is None else _validate.integer("local_cluster", "n_workers", n_workers, low=1)
    if numba_threads is None:
        numba_threads = max(1, cores // n_workers)
    numba_threads = _validate.integer("local_cluster", "numba_threads", numba_threads, low=1)
    # loopback only, and free ports chosen by the system (the scheduler always serves HTTP, 8787 by
    # default: a second cluster would warn and move): nothing listens beyond this machine and two
    # runs never collide. NUMBA_NUM_THREADS is set before a worker imports Numba (by its Nanny)
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.ERROR,
                                       env={"NUMBA_NUM_THREADS": str(numba_threads)})
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def session(client=None, *, n_workers: int | None = None):
    """The client a Dask run uses: ``client`` itself, a connection to a scheduler's address (closed
    after), or a ``LocalCluster`` started for the run (closed after) when ``client`` is None.

    Parameters
    ----------
    client : distributed.Client or str, optional
        A client, or a scheduler address such as ``"tcp://10.0.0.5:8786"``.
    n_workers : int, optional
        Workers of the ``LocalCluster`` started when ``client`` is None.

    Raises
    ------
    techins.errors.MissingExtraError
        Dask is not installed.
    techins.errors.InputError
        The address is malformed or no scheduler answers there.
    """
    distributed = _distributed()
    if client is None:
        with local_cluster(n_workers) as started:
            yield started
    elif isinstance(client, str):
        connected = _connect(distributed, client)
        try:
            yield connected
        finally:
            connected.close()
    elif isinstance(client, distributed.Client):
        yield client
    else:
        raise InputTypeError(f"dask backend: client must be a distributed.Client or a scheduler address, "
                             f"got {type(client).__name__}")


def _connect(distributed, address: str):
    """A client of the scheduler at ``address``; an ``InputError`` naming it when none answers."""
    import dask
    from dask.utils import parse_timedelta
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s")
    try:
        scheme, location = parse_address(address.strip())
        get_backend(scheme)  # a known protocol (tcp, tls, ws, ...)
        host, port = parse_host_port(location) if scheme in _SOCKET_SCHEMES else (None, None)
    except ValueError as exc:
        raise InputError(f"dask scheduler {address!r}: not a scheduler address ({exc}); "
                         f"write e.g. tcp://10.0.0.5:8786") from None
    if host is not None:
        # a plain socket first: a Client that fails to connect leaves a half-made object whose
        # finaliser times out later, far from the cause
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            raise InputError(f"dask scheduler {address}: no Dask scheduler answers there "
                             f"({exc.strerror or exc})") from None
    try:
        return distributed.Client(address, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"dask scheduler {address}: no Dask scheduler answers there ({exc})") from None


def check_workers(client) -> dict:
    """Each worker's versions of techins, NumPy and Numba, checked against this process's: the same
    numbers need the same code (the kernels, and the math library Numba compiles them against).

    Returns
    -------
    dict
        Worker address -> ``{"techins": ..., "numpy": ..., "numba": ...}``.

    Raises
    ------
    techins.errors.InputError
        No worker, a worker that cannot import techins, or a version that differs.
    """
    mine = _versions()
    try:
        theirs = client.run(_versions)
    except ImportError as exc:
        raise InputError(f"dask backend: a worker cannot import techins ({exc}); install the same "
                         f"techins {mine['techins']} on every worker") from None
    if not theirs:
        raise InputError("dask backend: the cluster has no workers")
    for worker, versions in sorted(theirs.items()):
        if versions != mine:
            differ = ", ".join(f"{k} {versions[k]} (here {mine[k]})" for k in mine if versions[k] != mine[k])
            raise InputError(f"dask backend: worker {worker} runs {differ}; every worker needs the same "
                             f"versions as the client for identical numbers")
    return theirs


def _versions() -> dict:
    from importlib.metadata import version

    import numba

    return {"techins": version("techins"), "numpy": np.__version__, "numba": numba.__version__}


def simulate(line, years: int, seed: int, *, thin: bool = True, threads: int | None = None, client=None,
             progress=None, period_losses: Path | None = None):
    """``techins.simulate`` on a Dask cluster; called by it with ``backend="dask"`` (arguments checked there).

    Returns the same ``SimulationResult`` or ``BookResult``, bit for bit, as the local backend.
    """
    from techins.portfolio import Portfolio

    folder = None if period_losses is None else str(period_losses)
    with session(client) as dask_client:
        check_workers(dask_client)
        if isinstance(line, Portfolio):
            return _simulate_book(dask_client, line, years, seed, thin, threads, progress, folder)
        return _simulate_line(dask_client, line, years, seed, thin, threads, progress, folder)


def tail_losses(run: BookRun, tail_chunks, chunk_groups, threshold: float, *, threads: int | None = None,
                client=None) -> list:
    """The co-TVaR re-run of ``engine.book_tail_losses`` on a Dask cluster: per group of tail chunks,
    their (year, policy, loss) rows, in chunk order."""
    tail_chunks = np.asarray(tail_chunks, dtype=np.int64)
    if tail_chunks.size == 0:
        return []
    with session(client) as dask_client:
        check_workers(dask_client)
        size = chunks_per_task(dask_client, tail_chunks.size)
        groups = [tail_chunks[i:i + size] for i in range(0, tail_chunks.size, size)]
        with _Tasks(dask_client, run, "tail") as tasks:
            for ids in groups:
                tasks.submit(_tail_task, ids, chunk_groups[ids], threshold, threads)
            return list(tasks.results())


def chunks_per_task(client, n_chunks: int) -> int:
    """Chunks per task: ``TASK_CHUNKS``, or fewer when the run has too few chunks to give each worker
    thread ``TASKS_PER_THREAD`` tasks (a 10-chunk run on 2 workers: 5 tasks of 2, not 8 + 2). Only
    the balance changes; the numbers do not depend on it."""
    threads = max(1, sum(client.nthreads().values()))
    return max(1, min(TASK_CHUNKS, -(-n_chunks // (TASKS_PER_THREAD * threads))))


def _simulate_line(client, line, years, seed, thin, threads, progress, folder):
    kernel = LineKernel.of(line, thin)
    n_chunks = -(-years // CHUNK_YEARS)
    annual = np.empty(years)
    max_occurrence = np.empty(years)
    counts = np.empty(years, dtype=np.int32)
    size = chunks_per_task(client, n_chunks)
    with _Tasks(client, kernel, "line") as tasks:
        for first in range(0, n_chunks, size):
            tasks.submit(_line_task, seed, years, first, min(size, n_chunks - first), threads, folder)
        for first, part in tasks.results():
            lo = first * CHUNK_YEARS
            hi = lo + part[0].size
            annual[lo:hi], max_occurrence[lo:hi], counts[lo:hi] = part
            if progress is not None:
                progress(-(-hi // CHUNK_YEARS), n_chunks)
    return kernel.result(line, seed, annual, max_occurrence, counts)


def _simulate_book(client, portfolio, years, seed, thin, threads, progress, folder):
    run = BookRun(portfolio, years, seed, thin)
    sums = BookSums(portfolio, run)
    line_names = tuple(portfolio.line_names)
    size = chunks_per_task(client, run.n_chunks)
    with _Tasks(client, run, "book") as tasks:
        for first in range(0, run.n_chunks, size):
            tasks.submit(_book_task, first, min(size, run.n_chunks - first), threads, folder, line_names)
        for part in tasks.results():
            ids = np.arange(part["first"], part["first"] + part["n_groups"].size, dtype=np.int64)
            lo = int(ids[0]) * run.chunk_years
            hi = lo + part["annual"].size
            sums.annual[lo:hi] = part["annual"]
            sums.max_occurrence[lo:hi] = part["max_occurrence"]
            sums.line_annual[:, lo:hi] = part["line_annual"]
            sums.add(ids, part["psum"], part["psumsq"], part["pcross"], part["csumsq"], part["n_groups"])
            if progress is not None:
                progress(sums.next_chunk, run.n_chunks)
    return sums.result(seed, thin)


class _Tasks:
    """The tasks of one run on a client: the shared input sent once to every worker, tasks submitted
    in chunk order (earliest first), results taken back in that order, everything released after."""

    def __init__(self, client, shared, kind: str):
        self.client = client
        self.shared = shared
        self.prefix = f"techins-{kind}-{uuid.uuid4().hex[:12]}"
        self.futures = deque()
        self.shared_future = None

    def __enter__(self):
        # broadcast: every worker holds a copy, so a worker that dies does not take it with it
        self.shared_future = self.client.scatter(self.shared, broadcast=True, hash=False)
        return self

    def submit(self, task, *args) -> None:
        index = len(self.futures)
        # higher priority first: chunks come back in about the order the client adds them up
        self.futures.append(self.client.submit(task, self.shared_future, *args, key=f"{self.prefix}-{index:06d}",
                                               priority=-index, pure=False))

    def results(self):
        """Each task's result in submission (chunk) order; each future dropped once taken, so the
        workers free its memory while later tasks still run."""
        while self.futures:
            yield self.futures[0].result()
            self.futures.popleft()

    def __exit__(self, *exc):
        pending = [f for f in self.futures if not f.done()]
        if pending:
            self.client.cancel(pending)
        self.futures.clear()
        self.shared_future = None
        return False


_THREAD = threading.local()


def _own_run(shared: BookRun) -> BookRun:
    """This worker thread's copy of the run's shared book, kept between its tasks: the claim buffers
    are about 16 bytes x the claims of a wave (100 MB for a 100,000-policy book), and fresh pages for
    every task cost a tenth of a second. Dropped with the shared book when the run is released."""
    copies = getattr(_THREAD, "runs", None)
    if copies is None:
        copies = _THREAD.runs = weakref.WeakKeyDictionary()
    if shared not in copies:
        copies[shared] = shared.fresh()
    return copies[shared]


def _worker_threads(threads: int | None):
    """Numba threads of a task: as asked, at most the worker's own; the worker's default otherwise."""
    import numba

    return _numba_threads(None if threads is None else min(threads, numba.config.NUMBA_NUM_THREADS))


def _line_task(kernel: LineKernel, seed, years, first, n_chunks, threads, folder):
    with _worker_threads(threads):
        annual, max_occurrence, counts = kernel.chunks(seed, years, first, n_chunks)
    if folder is not None:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        write_period_losses(path, first, CHUNK_YEARS, first * CHUNK_YEARS,
                            {"loss": annual, "max_occurrence": max_occurrence, "claims": counts})
    return first, (annual, max_occurrence, counts)


def _book_task(shared: BookRun, first, n_chunks, threads, folder, line_names):
    run = _own_run(shared)
    lo = first * run.chunk_years
    span = min((first + n_chunks) * run.chunk_years, run.years) - lo
    annual = np.empty(span)
    max_occurrence = np.empty(span)
    line_annual = np.empty((run.line_cv.size, span))
    parts = []
    with _worker_threads(threads):
        for start in range(first, first + n_chunks, BOOK_WAVE):
            ids = np.arange(start, min(start + BOOK_WAVE, first + n_chunks), dtype=np.int64)
            parts.append(run.wave(ids, annual, max_occurrence, line_annual, origin=first)[:5])
    if folder is not None:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        write_period_losses(path, first, run.chunk_years, lo,
                            book_period_columns(line_names, annual, max_occurrence, line_annual))
    psum, psumsq, pcross, csumsq, n_groups = (np.concatenate([p[k] for p in parts]) for k in range(5))
    return {"first": first, "annual": annual, "max_occurrence": max_occurrence, "line_annual": line_annual,
            "psum": psum, "psumsq": psumsq, "pcross": pcross, "csumsq": csumsq, "n_groups": n_groups}


def _tail_task(shared: BookRun, ids, capacity, threshold, threads):
    run = _own_run(shared)
    parts = []
    with _worker_threads(threads):
        for start in range(0, ids.size, BOOK_WAVE):  # a wave is at most BOOK_WAVE chunks (its buffers)
            parts.append(tail_wave(run, ids[start:start + BOOK_WAVE], capacity[start:start + BOOK_WAVE], threshold))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
