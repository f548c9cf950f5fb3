"""The exact path: the aggregate loss law by FFT or Panjer, the independent check of the Monte Carlo and the fast path for single lines."""
