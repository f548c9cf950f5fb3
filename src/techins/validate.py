"""Declarative checks of parameters at the boundary; messages quote the bad value and the range.

Kernels never validate: every public constructor calls these first.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from techins.errors import InputError, InputTypeError


def real(owner: str, name: str, value, *, low: float = -math.inf, high: float = math.inf,
         low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it is a real number in the stated interval.

    Parameters
    ----------
    owner : str
        What the parameter belongs to, e.g. ``"Poisson"``; starts the message.
    name : str
        The parameter's name.
    value : object
        The value given by the user.
    low, high : float
        Bounds of the allowed interval.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    allow_inf : bool
        Whether ``+inf`` is allowed (e.g. an unlimited layer).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{owner}: {name} must be a real number, got {value!r} "
                             f"of type {type(value).__name__}")
    x = float(value)
    if math.isnan(x):
        raise InputError(f"{owner}: {name} must be a number, got NaN")
    if math.isinf(x) and not (allow_inf and x > 0):
        raise InputError(f"{owner}: {name} must be finite, got {x!r}")
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise InputError(f"{owner}: {name} must be in {left}{low:g}, {high:g}{right}, got {x!r}")
    return x


def set_real(obj, owner: str, name: str, **bounds) -> None:
    """Check the real field ``name`` of a frozen dataclass ``obj`` (``real``) and store it as a float."""
    object.__setattr__(obj, name, real(owner, name, getattr(obj, name), **bounds))


def first_duplicate(names) -> object | None:
    """The first name that appears more than once, or None."""
    seen = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def integer(owner: str, name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer (not a float) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{owner}: {name} must be an integer, got {value!r} "
                             f"of type {type(value).__name__}")
    x = int(value)
    if (low is not None and x < low) or (high is not None and x > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise InputError(f"{owner}: {name} must be an integer in [{lo}, {hi}], got {x}")
    return x


def real_array(owner: str, name: str, values, *, low: float = -math.inf, min_size: int = 1) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array of finite numbers >= ``low``, at least ``min_size`` long."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers ({exc})") from None
    if arr.ndim != 1:
        raise InputError(f"{owner}: {name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise InputError(f"{owner}: {name} needs at least {min_size} value(s), got {arr.size}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{owner}: {name}[{i}] must be finite, got {float(arr[i])!r}")
    below = arr < low
    if below.any():
        i = int(np.argmax(below))
        raise InputError(f"{owner}: {name}[{i}] must be >= {low:g}, got {float(arr[i])!r}")
    return arr


def level(owner: str, name: str, value) -> float:
    """A probability level strictly inside (0, 1): ``p = 0`` would make TVaR the mean and VaR the
    minimum; ``p = 1`` leaves no tail to weigh."""
    return real(owner, name, value, low=0.0, high=1.0, low_open=True, high_open=True)


def same_length(owner: str, *named) -> None:
    """Arrays given as ``(name, array)`` pairs have one value per policy each, like the first."""
    (first_name, first), *rest = named
    for name, arr in rest:
        if arr.shape != first.shape:
            raise InputError(f"{owner}: {name} must have one value per policy like {first_name} "
                             f"({first.size}), got {arr.size}")


def index_array(owner: str, name: str, values, size: int) -> np.ndarray:
    """A one-dimensional array of integer indices in ``[0, size)``, as int64."""
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise InputError(f"{owner}: {name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise InputTypeError(f"{owner}: {name} must hold integers, got dtype {arr.dtype}")
    out_of_range = (arr < 0) | (arr >= size)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise InputError(f"{owner}: {name}[{i}] must be in [0, {size - 1}], got {int(arr[i])}")
    return arr.astype(np.int64, copy=False)
