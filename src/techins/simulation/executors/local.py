"""The local executor: chunk jobs in this process, each kernel call on the Numba threads."""

from __future__ import annotations

import contextlib

import numba
import numpy as np

from techins import validate

__all__ = ["LocalExecutor", "numba_threads"]


class LocalExecutor:
    """Runs a job's groups one after another in this process, in chunk order.

    A group is ``job.wave`` chunks (all of them when ``job.wave`` is None: the kernel then spreads
    the chunks over its threads itself).

    Parameters
    ----------
    threads : int, optional
        Numba threads of each kernel call, at most this machine's (``NUMBA_NUM_THREADS``); Numba's
        default when omitted. Results do not depend on it.
    """

    name = "local"

    def __init__(self, threads: int | None = None, *, owner: str = "LocalExecutor"):
        if threads is not None:
            threads = validate.integer(owner, "threads", threads, low=1, high=numba.config.NUMBA_NUM_THREADS)
        self.threads = threads

    def map(self, job, ids, progress=None):
        """``job(group)`` for consecutive groups of ``ids``, in order; ``progress(done, len(ids))``
        after each group (``techins.progress``)."""
        ids = np.asarray(ids, dtype=np.int64)
        size = ids.size if job.wave is None else job.wave
        if ids.size == 0 and progress is not None:
            progress(0, 0)  # nothing to run: the phase is done as it starts
        for start in range(0, ids.size, max(size, 1)):
            with numba_threads(self.threads):
                result = job(ids[start:start + size])
            if progress is not None:
                progress(min(start + size, ids.size), ids.size)
            yield result

    def __repr__(self) -> str:
        return f"LocalExecutor(threads={self.threads})"


@contextlib.contextmanager
def numba_threads(threads: int | None):
    """Numba's threads set to ``threads`` inside the block (unchanged when None), restored after."""
    if threads is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)
