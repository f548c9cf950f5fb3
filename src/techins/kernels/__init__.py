"""Numba kernels: pure ``@njit`` functions over arrays and scalars. No pandas, no I/O here."""
