"""Modules imported on first use, so ``import techins`` stays cheap.

SciPy's ``special`` and ``stats`` take about a second to import, and most runs of a script or an
underwriting system that imports techins need them only on some paths (a confidence interval, a Wang
load, an exact law). ``lazy_module("scipy.stats")`` stands for the module and imports it at the first
attribute asked of it.
"""

from __future__ import annotations

import importlib

__all__ = ["lazy_module"]


class _LazyModule:
    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> _LazyModule:
    """A stand-in for module ``name`` that imports it on first attribute access.

    Examples
    --------
    >>> math = lazy_module("math")
    >>> math.sqrt(4.0)
    2.0
    """
    return _LazyModule(name)
