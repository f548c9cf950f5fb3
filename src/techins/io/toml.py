"""TOML files read into frozen specs: one loader, one set of table checks and one builder shared by
every reader (line, product, programme, pool and back-test files).

Every message names the file, then the table, then what is wrong and what to write instead::

    cyber.toml: [exposure] unknown key 'exponant'; allowed keys are ['column', 'exponent', 'unit']
    line.toml: [severity] LogNormal: sigma must be in (0, inf], got 0.0
    pool.toml: [[member]] 'Lead Re': missing key 'share'
    programme.toml: missing [[treaty]] tables; one per treaty, in inuring order

A table header's brackets end it (``[severity] ...``); an item of an array of tables, named after the
header, is followed by a colon (``[[member]] 'Lead Re': ...``). A key at the top level of a file has
no table part (``line.toml: missing table [severity]``).

This module sits at the bottom of the package: it knows tables and dataclasses, not the specs built
from them (the severity laws of a line file are ``techins.model.linefile.law_from_table``).
"""

from __future__ import annotations

import dataclasses
import tomllib
from contextlib import contextmanager
from pathlib import Path

from techins.errors import InputError, InputTypeError, TechinsError

__all__ = ["Where", "load_toml", "table", "sub_table", "array_of_tables", "only_keys", "require_keys",
           "spec_from_table", "placed"]


@dataclasses.dataclass(frozen=True)
class Where:
    """Where a table is, for messages: its file and the table as the file writes it.

    Parameters
    ----------
    source : str
        The file (or what stands for it, e.g. ``"command line"``).
    table : str
        The table as the file writes it, e.g. ``"[severity]"``, ``"[[coverage]] 'breach'"``; ``""``
        for the top level of the file.

    Examples
    --------
    >>> top = Where("line.toml")
    >>> top.sub("severity").sub("body").table
    '[severity.body]'
    >>> top.item("coverage", 0, "breach").sub("severity").message("law 'x' is unknown")
    "line.toml: [[coverage]] 'breach' [severity] law 'x' is unknown"
    >>> top.item("member", 1).message("missing key 'share'")
    "line.toml: [[member]] #2: missing key 'share'"
    """

    source: str
    table: str = ""

    def sub(self, key: str) -> "Where":
        """The sub-table ``key`` of this table: ``[a]`` -> ``[a.key]``; an array item's sub-table is
        written after the item (``[[coverage]] 'breach' [severity]``, then ``... [severity.body]``)."""
        if not self.table:
            return Where(self.source, f"[{key}]")
        if self.table.endswith("]") and not self.table.endswith("]]"):  # ends with a [table]: extend it
            return Where(self.source, f"{self.table[:-1]}.{key}]")
        return Where(self.source, f"{self.table} [{key}]")

    def item(self, kind: str, index: int, name=None) -> "Where":
        """Item ``index`` (0-based) of the array of tables ``[[kind]]``, named by ``name`` when the
        table gives one (the n-th table is ``#n`` otherwise)."""
        label = repr(name) if name is not None else f"#{index + 1}"
        return Where(self.source, f"[[{kind}]] {label}")

    def message(self, text: str) -> str:
        """``text`` placed: ``<file>: [table] <text>``, ``<file>: [[item]] 'name': <text>``; a part
        ``text`` already starts with is not repeated (a spec's own message may start with its table,
        e.g. ``[book]: years ...``)."""
        if text.startswith(f"{self.source}: "):
            return text
        if not self.table or text.startswith(self.table):
            return f"{self.source}: {text}"
        # a [table] header closes itself; an item's name needs a colon to end it
        separator = " " if self.table.endswith("]") else ": "
        return f"{self.source}: {self.table}{separator}{text}"


def load_toml(path) -> dict:
    """A TOML file as a dict.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict

    Raises
    ------
    InputError
        Naming the file: it does not exist, is not valid TOML or is not UTF-8 text.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None


def table(value, where: Where) -> dict:
    """``value`` when it is a table (a dict); an ``InputTypeError`` naming the table otherwise."""
    if not isinstance(value, dict):
        what = where.table or "the file"
        raise InputTypeError(where.message(f"{what} must be a table, got {value!r}"))
    return value


def sub_table(data: dict, key: str, where: Where, *, required: bool = False, hint: str = "") -> dict:
    """The sub-table ``data[key]`` of the table at ``where``, checked to be a table; ``{}`` when it
    is absent and not ``required``.

    Parameters
    ----------
    data : dict
        The table holding the sub-table.
    key : str
    where : Where
        Where ``data`` is.
    required : bool
        Whether a missing sub-table is an error (``missing table [key]``).
    hint : str
        What the sub-table holds, added to the message of a missing one.
    """
    if key not in data:
        if required:
            raise InputError(where.message(f"missing table {where.sub(key).table}{_hint(hint)}"))
        return {}
    return table(data[key], where.sub(key))


def array_of_tables(data: dict, key: str, where: Where, *, required: bool = False, hint: str = "") -> list:
    """The array of tables ``data[key]`` (written ``[[key]]`` in the file); ``[]`` when absent and not
    ``required``. ``hint`` says what the tables hold, for the message of missing ones."""
    if key not in data:
        if required:
            raise InputError(where.message(f"missing [[{key}]] tables{_hint(hint)}"))
        return []
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputTypeError(where.message(f"[[{key}]] must be an array of tables (write a [[{key}]] header "
                                           f"before each), got {value!r}"))
    return value


def only_keys(data: dict, allowed, where: Where) -> None:
    """An ``InputError`` naming the first unknown key of ``data`` (in sorted order) and the allowed ones.

    A misspelt key would otherwise be silently ignored and its default used.
    """
    unknown = sorted(str(k) for k in set(data) - set(allowed))
    if unknown:
        raise InputError(where.message(f"unknown key {unknown[0]!r}; allowed keys are {sorted(allowed)}"))


def require_keys(data: dict, required, where: Where, *, hint: str = "") -> None:
    """An ``InputError`` naming the first of ``required`` (in the order given) that ``data`` lacks;
    ``hint`` says what the key holds."""
    for key in required:
        if key not in data:
            raise InputError(where.message(f"missing key {key!r}{_hint(hint)}"))


def spec_from_table(cls, data: dict, where: Where, **given):
    """Build the frozen dataclass ``cls`` from a table of the file.

    The table's keys are the dataclass's fields; ``given`` are fields the reader supplies itself
    (e.g. a rating factor's column, the table's own name), which the table may not hold. Unknown
    keys, missing required keys and every error the dataclass raises come back as errors naming
    the file, the table and the field.

    Parameters
    ----------
    cls : type
        A dataclass.
    data : dict
        The table, its values already converted where the dataclass needs it (e.g. a law table
        into a law).
    where : Where
        Where the table is.
    **given
        Fields not read from the table.

    Returns
    -------
    cls
        The spec.

    Raises
    ------
    InputError, InputTypeError
        Prefixed with the file and the table (``Where.message``).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Layer:
    ...     limit: float
    ...     deductible: float = 0.0
    >>> spec_from_table(Layer, {"limit": 5.0}, Where("line.toml", "[occurrence]"))
    Layer(limit=5.0, deductible=0.0)
    >>> spec_from_table(Layer, {"limit": 5.0, "retention": 1.0}, Where("line.toml", "[occurrence]"))
    Traceback (most recent call last):
    ...
    techins.errors.InputError: line.toml: [occurrence] unknown key 'retention'; allowed keys are ['deductible', 'limit']
    """
    fields = [f for f in dataclasses.fields(cls) if f.init and f.name not in given]
    only_keys(data, {f.name for f in fields}, where)
    required = [f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    require_keys(data, required, where)
    with placed(where):
        try:
            return cls(**data, **given)
        except TechinsError:
            raise
        except TypeError as exc:  # a value of a type the spec cannot even look at, e.g. a number for a table
            raise InputTypeError(f"{cls.__name__}: {exc}") from None


@contextmanager
def placed(where: Where):
    """Within the block, a ``TechinsError`` is re-raised (same type) with its message placed at
    ``where`` (``Where.message``): for specs built from more than one table."""
    try:
        yield
    except TechinsError as exc:
        raise type(exc)(where.message(str(exc))) from None


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""
