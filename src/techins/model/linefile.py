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

from pathlib import Path

from techins.errors import InputError
from techins.io.toml import Where, load_toml, only_keys, spec_from_table, sub_table, table
from techins.model import distributions as dist
from techins.model.line import Layer, Line

__all__ = ["FREQUENCY_LAWS", "SEVERITY_LAWS", "read_line", "load_toml", "line_from_mapping", "law_from_mapping",
           "law_from_table"]

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
_TABLES = ("frequency", "severity", "occurrence", "aggregate")


def read_line(path) -> Line:
    """Read a line from a TOML file; every error names the file, the table and the field."""
    path = Path(path)
    return line_from_mapping(load_toml(path), source=str(path))


def line_from_mapping(data: dict, source: str = "line") -> Line:
    """Build a ``Line`` from a mapping shaped like the line file; ``source`` names it in messages."""
    top = Where(source)
    data = table(data, top)
    only_keys(data, _TABLES, top)
    laws = {name: sub_table(data, name, top, required=True) for name in ("frequency", "severity")}
    frequency = law_from_table(laws["frequency"], FREQUENCY_LAWS, top.sub("frequency"))
    severity = law_from_table(laws["severity"], SEVERITY_LAWS, top.sub("severity"))
    layers = {name: spec_from_table(Layer, sub_table(data, name, top), top.sub(name))
              for name in ("occurrence", "aggregate") if name in data}
    return Line(frequency=frequency, severity=severity, **layers)


def law_from_table(value, laws: dict, where: Where):
    """Build one law from a table with a ``law`` key (a name of ``laws``) and the law's parameters.

    Parameters
    ----------
    value : dict
        The table, e.g. ``{"law": "lognormal", "mu": 10.0, "sigma": 2.0}``; a spliced law's body is
        its sub-table ``body``.
    laws : dict
        Law name -> class: ``FREQUENCY_LAWS`` or ``SEVERITY_LAWS``.
    where : techins.io.toml.Where
        Where the table is, for messages.
    """
    params = dict(table(value, where))
    if "law" not in params:
        raise InputError(where.message(f"needs a 'law' key, one of {sorted(laws)}"))
    name = params.pop("law")
    if not isinstance(name, str) or name not in laws:
        raise InputError(where.message(f"law {name!r} is unknown; use one of {sorted(laws)}"))
    cls = laws[name]
    if cls is dist.Spliced and "body" in params:
        params["body"] = law_from_table(params["body"], SEVERITY_LAWS, where.sub("body"))
    return spec_from_table(cls, params, where)


def law_from_mapping(value, laws: dict, source: str, where: str):
    """``law_from_table`` for the table named ``where`` (dotted, e.g. ``"severity.body"``) of ``source``."""
    return law_from_table(value, laws, Where(source).sub(where))
