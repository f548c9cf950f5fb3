"""Random draws shared by the example portfolio's parts."""

from __future__ import annotations

import numpy as np

__all__ = ["choice", "lognormal_between"]


def choice(rng: np.random.Generator, levels: dict, n: int) -> np.ndarray:
    names = np.array(list(levels), dtype=object)
    p = np.array(list(levels.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def lognormal_between(rng: np.random.Generator, median, sigma, low, high, n: int) -> np.ndarray:
    """Lognormal draws with the given median and sigma, truncated to [low, high] by redrawing."""
    median = np.broadcast_to(np.asarray(median, dtype=float), (n,))
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (n,))
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        x = median[todo] * np.exp(sigma[todo] * rng.standard_normal(todo.size))
        ok = (x >= low) & (x <= high)
        out[todo[ok]] = x[ok]
        todo = todo[~ok]
    return out
