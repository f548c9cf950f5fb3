"""A read-only mapping for the fields of frozen specs and results.

``types.MappingProxyType`` is read-only too but cannot be pickled, so specs and results holding one
could not be sent to a process pool or a Dask worker. ``FrozenMap`` keeps its own copy of the items
(a change to the dict it was built from does not show through) and pickles as that copy.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FrozenMap"]


class FrozenMap(Mapping):
    """An immutable, picklable mapping.

    Examples
    --------
    >>> import pickle
    >>> m = FrozenMap({"a": 1})
    >>> pickle.loads(pickle.dumps(m)) == m
    True
    >>> m["a"] = 2
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenMap' object does not support item assignment
    """

    __slots__ = ("_items",)

    def __init__(self, items=()):
        self._items = dict(items)

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def __reduce__(self):
        return FrozenMap, (self._items,)

    def copy(self) -> dict:
        """A plain ``dict`` of the items (as ``MappingProxyType.copy`` gives)."""
        return dict(self._items)
