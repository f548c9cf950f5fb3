"""The simulation core: a run planned as fixed chunks of years (``plan``), chunk jobs (``jobs``) mapped
by an executor (``executors``: local Numba threads or Dask), their per-chunk reductions folded in chunk
order (``fold``), the loss tables (``occurrences``) and the entry points (``api``)."""
