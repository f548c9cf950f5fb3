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
