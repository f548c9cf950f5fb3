"""The executor contract: one loop, two places to run it.

An executor maps a chunk job (``techins.simulation.jobs``) over groups of a run's chunks and yields
the job's per-group results **in chunk order**, whatever order they were computed in; the caller folds
them (``techins.simulation.fold``). Two executors keep it:

* ``LocalExecutor`` (``executors/local.py``): this process, the kernels' Numba threads;
* ``DaskExecutor`` (``executors/dask.py``): tasks on a Dask cluster, the job sent once to every worker.

Both cut the same chunks from the same seed streams, so every entry point that takes ``executor=``
(or ``backend=`` and ``client=``) gives the same bits on either.

``executor.map(job, ids, progress=None)`` -> iterator of ``job(group)`` over consecutive groups of
``ids``; ``progress(chunks_done, len(ids))`` as groups complete (``techins.progress``): after each
group locally, as the tasks finish on the cluster (in any order) with Dask.
"""

from __future__ import annotations

import contextlib

from techins.errors import InputError, InputTypeError
from techins.simulation.executors.local import LocalExecutor

__all__ = ["BACKENDS", "open_executor", "check_backend", "LocalExecutor"]

BACKENDS = ("local", "dask")


def check_backend(owner: str, backend, client) -> None:
    """``backend`` is one of ``BACKENDS``, and ``client`` is only given with the Dask backend."""
    if backend not in BACKENDS:
        raise InputError(f"{owner}: backend must be one of {BACKENDS}, got {backend!r}")
    if client is not None and backend != "dask":
        raise InputError(f"{owner}: a client or scheduler address is only used with backend='dask'")


@contextlib.contextmanager
def open_executor(owner: str, backend: str = "local", client=None, threads: int | None = None, *,
                  executor=None):
    """The executor of one call: ``executor`` itself when given, else one made from ``backend``,
    ``client`` and ``threads`` (a Dask session opened for the call and closed after it).

    Parameters
    ----------
    owner : str
        The caller's name, for messages.
    backend : {"local", "dask"}
    client : distributed.Client or str, optional
        With ``backend="dask"``: the cluster's client or its scheduler's address; a ``LocalCluster``
        for this call when omitted.
    threads : int, optional
        Numba threads (per task on a Dask worker); results never depend on it.
    executor : LocalExecutor or DaskExecutor, optional
        An executor already open (e.g. one Dask session for a run and its tail re-run); then
        ``backend``, ``client`` and ``threads`` must be left at their defaults.
    """
    if executor is not None:
        if backend != "local" or client is not None or threads is not None:
            raise InputError(f"{owner}: give either executor= or backend=/client=/threads=, not both")
        if not hasattr(executor, "map"):
            raise InputTypeError(f"{owner}: executor must be a LocalExecutor or DaskExecutor, got {executor!r}")
        yield executor
        return
    check_backend(owner, backend, client)
    if backend == "local":
        yield LocalExecutor(threads, owner=owner)
        return
    from techins.simulation.executors.dask import DaskExecutor, session  # Dask only when asked for

    with session(client) as connected:
        yield DaskExecutor(connected, threads, owner=owner)
