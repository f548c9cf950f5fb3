"""The one place that sets the JIT options of every kernel.

``cache=True`` so an underwriting system does not pay the compile on every start;
``error_model="numpy"`` so a division by zero gives inf/nan instead of raising inside a kernel;
no ``fastmath``: it reorders sums of money and breaks inf/nan handling.
"""

import functools

import numba

jit = functools.partial(numba.njit, cache=True, error_model="numpy", nogil=True)
jit_parallel = functools.partial(numba.njit, cache=True, error_model="numpy", nogil=True, parallel=True)
