"""The one layer function of every kernel: a policy's deductible and limit, a treaty's retention and
limit, an aggregate cover's attachment and limit are the same bound under three market names."""

from techins.kernels._jit import jit


@jit
def layer(x, attachment, limit):
    """``min(max(x - attachment, 0), limit)``: the part of ``x`` in the layer ``limit xs attachment``."""
    return min(max(x - attachment, 0.0), limit)
