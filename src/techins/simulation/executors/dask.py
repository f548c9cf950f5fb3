"""The Dask executor: a run's chunk jobs as tasks on a Dask cluster, to the same bits as locally.

A run is cut into the same chunks as on the local executor (chunk ``k`` draws from
``SeedSequence(seed, spawn_key=(k,))`` alone), and a task is a fixed run of consecutive chunks
(``TASK_CHUNKS``, fewer on a short run: ``chunks_per_task``):

* the job (the book's or line's kernel arrays: ``techins.simulation.jobs``) is built once on the
  client and sent once to every worker (``Client.scatter(..., broadcast=True)``);
* a task gets only its group of chunk ids, calls the job on them with the same kernels as the local
  executor, and returns the job's per-chunk reductions, never the claims;
* the client takes the results in chunk order (``DaskExecutor.map``) and folds them exactly as the
  local run does (``techins.simulation.fold``). Floating-point sums depend on their order; this one is
  fixed by the book, so the numbers are bit-identical for any number of workers, task sizes, retries.

A worker that dies mid-run loses its tasks and the results it held; the scheduler runs them again
elsewhere (or on the restarted worker) from their own seed streams, to the same numbers. An executor
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

import numpy as np

from techins import validate
from techins.errors import InputError, InputTypeError, MissingExtraError
from techins.simulation.executors import local
from techins.simulation.plan import BOOK_WAVE

__all__ = ["DaskExecutor", "session", "local_cluster", "check_workers", "chunks_per_task", "TASK_CHUNKS",
           "TASKS_PER_THREAD", "EXTRA_MESSAGE"]

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
    >>> from techins.simulation.executors.dask import local_cluster
    >>> line = ti.Line(ti.Poisson(2.0), ti.Exponential(1e4))
    >>> with local_cluster(2) as client:                                       # doctest: +SKIP
    ...     sim = ti.simulate(line, years=100_000, seed=1, backend="dask", client=client)
    """
    distributed = _distributed()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = cores if n_workers is None else validate.integer("local_cluster", "n_workers", n_workers, low=1)
    if numba_threads is None:
        numba_threads = max(1, cores // n_workers)
    numba_threads = validate.integer("local_cluster", "numba_threads", numba_threads, low=1)
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
    import numba

    from techins.version import VERSION

    return {"techins": VERSION, "numpy": np.__version__, "numba": numba.__version__}


class DaskExecutor:
    """Runs a job's groups of chunks as tasks on a Dask cluster and yields their results in chunk order.

    Parameters
    ----------
    client : distributed.Client
        A connected client (``session`` opens one from an address, or a ``LocalCluster``).
    threads : int, optional
        Numba threads per task, at most each worker's own; the worker's default when omitted.
        Results do not depend on it.
    """

    name = "dask"

    def __init__(self, client, threads: int | None = None, *, owner: str = "DaskExecutor"):
        if threads is not None:
            threads = validate.integer(owner, "threads", threads, low=1)
        self.client, self.threads = client, threads
        self._checked = False

    def map(self, job, ids, progress=None):
        """``job(group)`` for consecutive groups of ``ids`` as tasks, yielded in order;
        ``progress(chunks_done, len(ids))`` as the tasks complete, in whatever order they do."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            if progress is not None:
                progress(0, 0)  # nothing to run: the phase is done as it starts
            return
        if not self._checked:
            check_workers(self.client)
            self._checked = True
        size = chunks_per_task(self.client, ids.size)
        with _Tasks(self.client, job, type(job).__name__.removesuffix("Job").lower()) as tasks:
            for start in range(0, ids.size, size):
                group = ids[start:start + size]
                tasks.submit(_run_group, group, self.threads, chunks=group.size)
            yield from tasks.results(progress)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r}, threads={self.threads})"


def chunks_per_task(client, n_chunks: int) -> int:
    """Chunks per task: ``TASK_CHUNKS``, or fewer when the run has too few chunks to give each worker
    thread ``TASKS_PER_THREAD`` tasks (a 10-chunk run on 2 workers: 5 tasks of 2, not 8 + 2). Only
    the balance changes; the numbers do not depend on it."""
    threads = max(1, sum(client.nthreads().values()))
    return max(1, min(TASK_CHUNKS, -(-n_chunks // (TASKS_PER_THREAD * threads))))


class _Tasks:
    """The tasks of one run on a client: the shared input sent once to every worker, tasks submitted
    in chunk order (earliest first), results taken back in that order, everything released after."""

    def __init__(self, client, shared, kind: str):
        self.client = client
        self.shared = shared
        self.prefix = f"techins-{kind}-{uuid.uuid4().hex[:12]}"
        self.futures = deque()
        self.chunks = {}  # task key -> its number of chunks, for progress
        self.shared_future = None

    def __enter__(self):
        # broadcast: every worker holds a copy, so a worker that dies does not take it with it
        self.shared_future = self.client.scatter(self.shared, broadcast=True, hash=False)
        return self

    def submit(self, task, *args, chunks: int = 1) -> None:
        index = len(self.futures)
        key = f"{self.prefix}-{index:06d}"
        # higher priority first: chunks come back in about the order the client adds them up
        self.futures.append(self.client.submit(task, self.shared_future, *args, key=key, priority=-index,
                                               pure=False))
        self.chunks[key] = chunks

    def results(self, progress=None):
        """Each task's result in submission (chunk) order; each future dropped once taken, so the
        workers free its memory while later tasks still run. ``progress(chunks_done, chunks_total)``
        as tasks complete, in completion order (the results are still taken in chunk order)."""
        if progress is not None:
            yield from self._results_with_progress(progress)
        while self.futures:
            yield self.futures[0].result()
            self.futures.popleft()

    def _results_with_progress(self, progress):
        total, done = sum(self.chunks.values()), 0
        # a task run again after a worker died may complete twice: count each key once
        counted = set()
        # the client's own loop: it need not be Dask's default client
        for future in _distributed().as_completed(list(self.futures), loop=self.client.loop):
            if future.key not in counted:
                counted.add(future.key)
                done += self.chunks[future.key]
                progress(min(done, total), total)
            while self.futures and self.futures[0].done():
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


def _own_job(shared):
    """This worker thread's copy of the run's shared job, kept between its tasks: a book's claim
    buffers are about 16 bytes x the claims of a wave (100 MB for a 100,000-policy book), and fresh
    pages for every task cost a tenth of a second. Dropped with the shared job when the run is released."""
    copies = getattr(_THREAD, "jobs", None)
    if copies is None:
        copies = _THREAD.jobs = weakref.WeakKeyDictionary()
    if shared not in copies:
        mine = shared.fresh()
        if mine is shared:  # a job without scratch; keeping it as its own value would never free it
            return shared
        copies[shared] = mine
    return copies[shared]


def _worker_threads(threads: int | None):
    """Numba threads of a task: as asked, at most the worker's own; the worker's default otherwise."""
    import numba

    return local.numba_threads(None if threads is None else min(threads, numba.config.NUMBA_NUM_THREADS))


def _run_group(shared, ids, threads):
    with _worker_threads(threads):
        return _own_job(shared)(ids)
