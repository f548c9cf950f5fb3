"""Where a run's chunks run: ``local`` (Numba threads in this process) and ``dask`` (a cluster)."""
