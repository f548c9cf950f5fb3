"""Reading a line (laws and terms) from a TOML file or a mapping, with errors naming file and field.

A line file::

    [frequency]
    law = "poisson"          # poisson | negative_binomial | binomial
    mean = 5.0

    [severity]
    law = "lognormal"        # lognormal | gamma | weibull | pareto | exponential | empirical | spliced
    mu = 10.0
    sigma = 2.0

    [occurrence]             # optional
    limit = 5e6
    deductible = 1e6

    [aggregate]              # optional
    limit = 2e7

A spliced severity names its body in a sub-table ``[severity.body]`` with its own ``law``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from techins.errors import InputError, InputTypeError, TechinsError
from techins.model import distributions as dist
from techins.model.line import Layer, Line

__all__ = ["FREQUENCY_LAWS", "SEVERITY_LAWS", "read_line", "load_toml", "line_from_mapping", "law_from_mapping"]

FREQUENCY_LAWS = {
    "poisson": dist.Poisson,
    "negative_binomial": dist.NegativeBinomial,
    "binomial": dist.Binomial,
}
SEVERITY_LAWS = {
    "lognormal": dist.LogNormal,
    "gamma": dist.Gamma,
    "weibull": dist.Weibull,
    "pareto": dist.Pareto,
    "exponential": dist.Exponential,
    "empirical": dist.Empirical,
    "spliced": dist.Spliced,
}


def read_line(path) -> Line:
    """Read a line from a TOML file; every error names the file and the field."""
    path = Path(path)
    return line_from_mapping(load_toml(path), source=str(path))


def load_toml(path) -> dict:
    """A TOML file as a dict; a missing file, bad TOML or bad text encoding is an ``InputError`` naming
    the file (shared by the line, product and programme readers)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None


def line_from_mapping(data: dict, source: str = "line") -> Line:
    """Build a ``Line`` from a mapping shaped like the line file."""
    _only_keys(data, {"frequency", "severity", "occurrence", "aggregate"}, source, "")
    for required in ("frequency", "severity"):
        if required not in data:
            raise InputError(f"{source}: missing table [{required}]")
    frequency = law_from_mapping(data["frequency"], FREQUENCY_LAWS, source, "frequency")
    severity = law_from_mapping(data["severity"], SEVERITY_LAWS, source, "severity")
    layers = {}
    for name in ("occurrence", "aggregate"):
        if name in data:
            layers[name] = _build(Layer, _table(data[name], source, name), source, name)
    return Line(frequency=frequency, severity=severity, **layers)


def law_from_mapping(table, laws: dict, source: str, where: str):
    """Build one law from a table with a ``law`` key; ``where`` is the table's name for messages."""
    table = dict(_table(table, source, where))
    name = table.pop("law", None)
    if name is None:
        raise InputError(f"{source}: [{where}] needs a 'law' key, one of {sorted(laws)}")
    if name not in laws:
        raise InputError(f"{source}: [{where}] law {name!r} is unknown; use one of {sorted(laws)}")
    cls = laws[name]
    if cls is dist.Spliced and "body" in table:
        table["body"] = law_from_mapping(table["body"], SEVERITY_LAWS, source, f"{where}.body")
    return _build(cls, table, source, where)


def _build(cls, table: dict, source: str, where: str):
    fields = [f for f in dataclasses.fields(cls) if f.init]
    allowed = {f.name for f in fields}
    _only_keys(table, allowed, source, where)
    # a missing value is an InputError like every other missing input (the product reader's too),
    # not the TypeError the constructor would raise
    required = [f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in table]
    if missing:
        raise InputError(f"{source}: [{where}] missing key {missing[0]!r}; fields are {sorted(allowed)}")
    try:
        return cls(**table)
    except TechinsError as exc:
        raise type(exc)(f"{source}: [{where}] {exc}") from None
    except TypeError as exc:  # any other misfit of the table to the constructor
        raise InputTypeError(f"{source}: [{where}] {exc}; fields are {sorted(allowed)}") from None


def _table(value, source: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputTypeError(f"{source}: [{where}] must be a table, got {value!r}")
    return value


def _only_keys(table: dict, allowed: set, source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f"[{where}] " if where else ""
        raise InputError(f"{source}: {place}unknown key {unknown[0]!r}; allowed keys are {sorted(allowed)}")
