"""The product catalogue: ``products/*.toml`` read into frozen dataclasses, and a portfolio of policies
turned into a book of coverage rows (``techins.Portfolio``) with its scenarios.

The file schema, with every key, its unit and range, is ``docs/products.md``. Every error names the
file and the field (product files) or the row and the column (portfolios), and says what to give.

Data flows one way: TOML -> ``Product`` -> ``Catalogue.book(policies)`` -> ``ProductBook`` (a
``Portfolio`` of one row per policy and coverage, each policy a contract of its coverage rows) ->
``techins.simulate`` -> ``techins.catalogue.rating``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, short_repr
from techins.errors import InputError, InputTypeError, TechinsError
from techins.frozen import FrozenMap
from techins.io.schema import COVERAGE_TERMS, POLICY_TERMS
from techins.io.toml import (
    Where,
    array_of_tables,
    load_toml,
    only_keys,
    placed,
    require_keys,
    spec_from_table,
    sub_table,
    table,
)
from techins.model.distributions import SeverityLaw
from techins.model.linefile import SEVERITY_LAWS, law_from_table
from techins.model.portfolio import CommonShock, Portfolio, checked_values, column_values
from techins.pricing.premium import RISK_MEASURES, PricingBasis

__all__ = ["RatingFactor", "Coverage", "Scenario", "ProductPricing", "Product", "Catalogue", "ProductBook",
           "read_product", "read_catalogue", "read_policies", "COVERAGE_TERMS"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_APPLIES_TO = ("frequency", "severity")
_CLAUSES = ("per_policy", "batch")


# ---------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class RatingFactor:
    """A rating factor: the portfolio ``column`` holds each policy's level, ``levels`` its relativity.

    Parameters
    ----------
    column : str
    applies_to : {"frequency", "severity"}
        Whether the relativity multiplies the claim rates or the claim sizes.
    levels : mapping of str to float
        Relativity (> 0) of each level.
    coverages : tuple of str or None
        The coverages it applies to; None for all.
    """

    column: str
    applies_to: str
    levels: dict
    coverages: tuple | None = None

    def __post_init__(self):
        owner = f"rating.{self.column}"
        if self.applies_to not in _APPLIES_TO:
            raise InputError(f"[{owner}] applies_to must be one of {_APPLIES_TO}, got {self.applies_to!r}")
        if not isinstance(self.levels, dict) or not self.levels:
            raise InputError(f"[{owner}] levels must be a non-empty table of level = relativity")
        levels = {str(k): validate.real(f"[{owner}]", f"levels.{k}", v, low=0.0, low_open=True)
                  for k, v in self.levels.items()}
        object.__setattr__(self, "levels", FrozenMap(levels))
        if self.coverages is not None:
            object.__setattr__(self, "coverages", tuple(_text(f"[{owner}]", "coverages[]", c) for c in self.coverages))

    def applies(self, coverage: str) -> bool:
        """Whether the factor rates ``coverage``."""
        return self.coverages is None or coverage in self.coverages


@dataclass(frozen=True)
class Coverage:
    """One coverage of a product: Poisson claims per unit of exposure, a claim-size law and its terms.

    Money terms are per occurrence (``deductible``, ``limit``) and per year of the coverage
    (``aggregate_*``). With ``waiting_hours`` the law is an outage duration in hours (business
    interruption) and the claim size the duration times the hourly loss; see ``docs/products.md``.
    ``copayment`` is the share of each claim's layer ``min(max(X - d, 0), l)`` the insured keeps
    (a co-payment, 自付比例): the insurer pays ``(1 - copayment)`` of it, so at most
    ``(1 - copayment) * limit`` a claim; the policy's ``share`` multiplies on top.
    """

    name: str
    claims_per_unit: float
    severity: SeverityLaw
    scale_column: str | None = None
    scale_factor: float = 1.0
    deductible: float = 0.0
    limit: float = math.inf
    aggregate_deductible: float = 0.0
    aggregate_limit: float = math.inf
    waiting_hours: float | None = None
    indemnity_hours: float | None = None
    copayment: float = 0.0

    def __post_init__(self):
        owner = f"[[coverage]] {self.name!r}"
        if not _NAME.match(str(self.name)):
            raise InputError(f"[[coverage]] name must be letters, digits, '_' or '-', got {self.name!r}")
        if not isinstance(self.severity, SeverityLaw):
            raise InputTypeError(f"{owner}: severity must be a severity law, got {self.severity!r}")
        validate.set_real(self, owner, "claims_per_unit", low=0.0)
        validate.set_real(self, owner, "scale_factor", low=0.0, low_open=True)
        for name in ("deductible", "aggregate_deductible"):
            validate.set_real(self, owner, name, low=0.0)
        for name in ("limit", "aggregate_limit"):
            validate.set_real(self, owner, name, low=0.0, low_open=True, allow_inf=True)
        # 1 would insure nothing: leave such a coverage out instead
        validate.set_real(self, owner, "copayment", low=0.0, high=1.0, high_open=True)
        if (self.waiting_hours is None) != (self.indemnity_hours is None):
            raise InputError(f"{owner}: give both waiting_hours and indemnity_hours (business interruption), "
                             f"or neither")
        if self.waiting_hours is not None:
            validate.set_real(self, owner, "waiting_hours", low=0.0)
            validate.set_real(self, owner, "indemnity_hours", low=self.waiting_hours, low_open=True, allow_inf=True)

    @property
    def is_time_element(self) -> bool:
        """Whether the claim size is a duration times an hourly loss (business interruption)."""
        return self.waiting_hours is not None


@dataclass(frozen=True)
class Scenario:
    """An accumulation scenario: events hitting many policies of one or more products at once.

    The same ``id`` in several products is one event stream; every field but ``coverage`` must agree.
    The hit's ``severity`` is in units of the coverage's claim size (``docs/products.md``).
    """

    id: str
    coverage: str
    rate: float
    hit_probability: float
    severity: SeverityLaw
    factor: str | None = None
    values: tuple = ()
    per_value: bool = False
    clause: str = "per_policy"
    event_deductible: float = 0.0
    event_limit: float = math.inf

    def __post_init__(self):
        owner = f"[[scenario]] {self.id!r}"
        if not _NAME.match(str(self.id)):
            raise InputError(f"[[scenario]] id must be letters, digits, '_' or '-', got {self.id!r}")
        validate.set_real(self, owner, "rate", low=0.0)
        validate.set_real(self, owner, "hit_probability", low=0.0, high=1.0)
        if not isinstance(self.severity, SeverityLaw):
            raise InputTypeError(f"{owner}: severity must be a severity law, got {self.severity!r}")
        if self.factor is None:
            if self.values or self.per_value:
                raise InputError(f"{owner}: values and per_value need a factor column")
        elif self.values != ():  # absent: every value of the factor is exposed
            if isinstance(self.values, str) or not isinstance(self.values, (tuple, list)) or not self.values:
                raise InputError(f"{owner}: values must be a non-empty list of the exposed values of "
                                 f"{self.factor!r}, got {self.values!r}")
            object.__setattr__(self, "values", tuple(str(v) for v in self.values))
        if not isinstance(self.per_value, bool):
            raise InputTypeError(f"{owner}: per_value must be true or false, got {self.per_value!r}")
        if self.clause not in _CLAUSES:
            raise InputError(f"{owner}: clause must be one of {_CLAUSES}, got {self.clause!r}")
        validate.set_real(self, owner, "event_deductible", low=0.0)
        validate.set_real(self, owner, "event_limit", low=0.0, low_open=True, allow_inf=True)

    def event_fields(self) -> tuple:
        """Everything that defines the event stream (all but the coverage it hits)."""
        return (self.rate, self.hit_probability, self.severity, self.factor, self.values, self.per_value,
                self.clause, self.event_deductible, self.event_limit)


@dataclass(frozen=True)
class ProductPricing:
    """Pricing assumptions of a product (see ``techins.pricing.premium.PricingBasis``) and its public scheme."""

    risk_measure: str = "coc_tvar"
    load: float = 0.10
    level: float | None = None
    fixed_expense: float = 0.0
    variable_expense: float = 0.0
    profit: float = 0.0
    rate_cap: float | None = None
    rate_cap_column: str | None = None
    subsidy_share: float = 0.0

    def __post_init__(self):
        basis = self.basis()  # validates every shared field with PricingBasis's messages
        object.__setattr__(self, "level", basis.level)
        if (self.rate_cap is None) != (self.rate_cap_column is None):
            raise InputError("[pricing] rate_cap and rate_cap_column go together: the cap is a rate on a "
                             "portfolio column (sum insured, contract value)")

    def basis(self) -> PricingBasis:
        """The ``PricingBasis`` of these assumptions (the cap and subsidy are applied per policy)."""
        return PricingBasis(self.risk_measure, load=self.load, level=self.level, fixed_expense=self.fixed_expense,
                            variable_expense=self.variable_expense, profit=self.profit, rate_cap=self.rate_cap,
                            subsidy_share=self.subsidy_share)


@dataclass(frozen=True)
class Product:
    """One product of the catalogue (``docs/products.md`` lists every field)."""

    id: str
    name: str
    line: str
    currency: str
    version: str
    exposure_column: str
    exposure_unit: float
    coverages: tuple
    pricing: ProductPricing
    exposure_exponent: float = 1.0
    rating: tuple = ()
    aggregate_deductible: float = 0.0
    aggregate_limit: float = math.inf
    scenarios: tuple = ()
    parameter_risk_cv: float = 0.0
    description: str = ""
    source: str = ""

    def __post_init__(self):
        owner = f"product {self.id!r}"
        for name in ("id", "line"):
            if not _NAME.match(str(getattr(self, name))):
                raise InputError(f"[product] {name} must be letters, digits, '_' or '-', got {getattr(self, name)!r}")
        if not re.fullmatch(r"[A-Z]{3}", str(self.currency)):
            raise InputError(f"[product] currency must be an ISO 4217 code such as 'CNY', got {self.currency!r}")
        validate.set_real(self, owner, "exposure_unit", low=0.0, low_open=True)
        validate.set_real(self, owner, "exposure_exponent", low=0.0, high=2.0, low_open=True)
        validate.set_real(self, owner, "aggregate_deductible", low=0.0)
        validate.set_real(self, owner, "aggregate_limit", low=0.0, low_open=True, allow_inf=True)
        validate.set_real(self, owner, "parameter_risk_cv", low=0.0, high=10.0)
        coverages = tuple(self.coverages)
        if not coverages:
            raise InputError(f"{owner}: needs at least one [[coverage]]")
        names = [c.name for c in coverages]
        twice = validate.first_duplicate(names)
        if twice is not None:
            raise InputError(f"[[coverage]] name {twice!r} appears twice")
        object.__setattr__(self, "coverages", coverages)
        for factor in self.rating:
            for name in factor.coverages or ():
                if name not in names:
                    raise InputError(f"[rating.{factor.column}] coverages names {name!r}, not a coverage; "
                                     f"coverages are {names}")
        for scenario in self.scenarios:
            if scenario.coverage not in names:
                raise InputError(f"[[scenario]] {scenario.id!r}: coverage {scenario.coverage!r} is not a "
                                 f"coverage of the product; coverages are {names}")
        twice = validate.first_duplicate(s.id for s in self.scenarios)
        if twice is not None:
            raise InputError(f"[[scenario]] id {twice!r} appears twice")

    def __repr__(self) -> str:
        return short_repr("Product", [Figure("id", self.id, kind="text"), Figure("line", self.line, kind="text"),
                                      Figure("version", self.version, kind="text"),
                                      Figure("coverages", ", ".join(c.name for c in self.coverages), kind="text"),
                                      Figure("risk measure", self.pricing.risk_measure, kind="text")])

    def coverage(self, name: str) -> Coverage:
        """The coverage called ``name``."""
        for c in self.coverages:
            if c.name == name:
                return c
        raise InputError(f"product {self.id!r} has no coverage {name!r}")

    def columns(self) -> dict:
        """The portfolio columns this product reads: name -> "number" or "text"."""
        need = {self.exposure_column: "number"}
        for c in self.coverages:
            if c.scale_column:
                need[c.scale_column] = "number"
        for factor in self.rating:
            need[factor.column] = "text"
        for s in self.scenarios:
            if s.factor:
                need[s.factor] = "text"
        if self.pricing.rate_cap_column:
            need[self.pricing.rate_cap_column] = "number"
        return need


@dataclass(frozen=True, eq=False)
class ProductBook:
    """A portfolio priced against a catalogue, as the simulator sees it.

    Attributes
    ----------
    portfolio : techins.Portfolio
        One row per (policy, coverage) with a positive claim rate or a scenario exposure;
        ``contract_id`` is the policy.
    policies : pandas.DataFrame
        The input policies, validated (index 0..n-1).
    row_policy : numpy.ndarray
        For each book row, the index of its policy in ``policies``.
    row_coverage : numpy.ndarray of object
        For each book row, its coverage name.
    expected_loss : numpy.ndarray
        For each book row, the closed-form expected loss before aggregate terms and scenarios
        (``share * rate * (E[min(X, d + l)] - E[min(X, d)])``).
    rate_cap_base : numpy.ndarray
        For each policy, the validated value of its product's ``rate_cap_column`` (NaN for products
        without a rate cap).
    catalogue_digest : str
        ``Catalogue.digest`` of the catalogue that built it ("" when built by hand).
    """

    portfolio: Portfolio
    policies: pd.DataFrame
    row_policy: np.ndarray
    row_coverage: np.ndarray
    expected_loss: np.ndarray
    rate_cap_base: np.ndarray
    catalogue_digest: str = ""

    def __repr__(self) -> str:
        return short_repr("ProductBook", [Figure("policies", len(self.policies), kind="count"),
                                          Figure("coverage rows", self.portfolio.n_policies, kind="count"),
                                          Figure("scenarios", len(self.portfolio.shocks), kind="count")])


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The products of a catalogue, by id.

    Examples
    --------
    >>> import techins as ti
    >>> catalogue = ti.read_catalogue("products")                       # doctest: +SKIP
    >>> book = catalogue.book(ti.read_policies("examples/portfolio.csv"))  # doctest: +SKIP
    """

    products: dict
    scenarios: dict = field(init=False, repr=False)
    digest: str = field(init=False, repr=False)

    def __post_init__(self):
        products = dict(self.products)
        if not products:
            raise InputError("catalogue: no products")
        object.__setattr__(self, "products", FrozenMap(products))
        object.__setattr__(self, "scenarios", FrozenMap(_merged_scenarios(products)))
        _line_parameter_risk(products)
        object.__setattr__(self, "digest", catalogue_digest(products))

    @property
    def line_parameter_risk(self) -> dict:
        """Per line with parameter risk, the coefficient of variation of its factor."""
        return _line_parameter_risk(self.products)

    def __repr__(self) -> str:
        return short_repr("Catalogue", [Figure("products", ", ".join(sorted(self.products)), kind="text"),
                                        Figure("scenarios", len(self.scenarios), kind="count"),
                                        Figure("digest", self.digest[:12], kind="text")])

    def __getitem__(self, product_id: str) -> Product:
        if product_id not in self.products:
            raise InputError(f"catalogue: no product {product_id!r}; products are {sorted(self.products)}")
        return self.products[product_id]

    def book(self, policies: pd.DataFrame, source: str = "portfolio") -> ProductBook:
        """Turn a policies table into the book of coverage rows the simulator runs.

        Parameters
        ----------
        policies : pandas.DataFrame
            One row per policy (``docs/products.md``, "The portfolio").
        source : str
            Name of the table in error messages (its file name).
        """
        book = _build_book(self, policies, source)
        return dataclasses.replace(book, catalogue_digest=self.digest)


def catalogue_digest(products: dict) -> str:
    """SHA-256 of what the products say (every field but the file they came from), so the same
    product files give the same digest wherever they lie, and any changed value another one."""
    canonical = {pid: _canonical(products[pid]) for pid in sorted(products)}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _canonical(value):
    """A JSON-able form of a spec that keeps every value exactly (floats as hex)."""
    if dataclasses.is_dataclass(value):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                  if f.name != "source" and f.init}
        return {"type": type(value).__name__, **fields}
    if isinstance(value, (dict, FrozenMap)):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_canonical(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value).hex()
    return str(value)


# ---------------------------------------------------------------------------------------- reading
def read_product(path) -> Product:
    """Read and validate one product file; every error names the file, the table and the field."""
    path = Path(path)
    return _product_from_mapping(load_toml(path), str(path))


def read_catalogue(path) -> Catalogue:
    """Read a product file, or every ``*.toml`` of a folder, into a ``Catalogue``.

    Product ids must be unique; scenarios sharing an id must agree; products of one line must agree
    on its parameter risk.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise InputError(f"{path}: no *.toml product files in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise InputError(f"{path}: no such product file or folder")
    products = {}
    for file in files:
        product = read_product(file)
        if product.id in products:
            raise InputError(f"{file}: product id {product.id!r} is already used by {products[product.id].source}")
        products[product.id] = product
    return Catalogue(products)


def read_policies(path) -> pd.DataFrame:
    """Read a policies table from CSV or Parquet (by extension), with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such portfolio file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            # ids and levels stay text ("007" is not 7); numbers are parsed column by column later
            table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            raise InputError(f"{path}: a portfolio must be .csv or .parquet, got {suffix or 'no extension'!r}")
    except TechinsError:
        raise
    except Exception as exc:  # a parser's message names the line; keep it
        raise InputError(f"{path}: cannot read the portfolio ({type(exc).__name__}: {exc})") from None
    if table.empty:
        raise InputError(f"{path}: the portfolio has no policies")
    return table


_TOP_KEYS = {"product", "exposure", "rating", "policy", "coverage", "scenario", "pricing"}
_PRODUCT_KEYS = {"id", "name", "line", "currency", "version", "description", "parameter_risk_cv"}
_EXPOSURE_KEYS = {"column", "unit", "exponent"}


def _product_from_mapping(data: dict, source: str) -> Product:
    top = Where(source)
    # a Product's own checks (duplicate coverages, currency...) name no table of the file: the file is enough
    with placed(top):
        only_keys(data, _TOP_KEYS, top)
        ident = sub_table(data, "product", top, required=True)
        exposure = sub_table(data, "exposure", top, required=True)
        coverage_tables = array_of_tables(data, "coverage", top, required=True,
                                          hint="a product needs at least one coverage")
        pricing_table = sub_table(data, "pricing", top, required=True)
        where = top.sub("product")
        only_keys(ident, _PRODUCT_KEYS, where)
        require_keys(ident, ("id", "name", "line", "currency", "version"), where)
        with placed(where):
            for key in ("id", "name", "line", "currency", "version"):
                _text(where.table, key, ident[key])
        where = top.sub("exposure")
        only_keys(exposure, _EXPOSURE_KEYS, where)
        require_keys(exposure, ("column", "unit"), where)
        with placed(where):
            exposure_column = _text(where.table, "column", exposure["column"])
        rating_where = top.sub("rating")
        rating = tuple(_rating_factor(column, value, rating_where.sub(column))
                       for column, value in sub_table(data, "rating", top).items())
        policy = sub_table(data, "policy", top)
        only_keys(policy, POLICY_TERMS, top.sub("policy"))
        coverages = tuple(_with_severity(Coverage, t, top.item("coverage", i, t.get("name")))
                          for i, t in enumerate(coverage_tables))
        scenarios = tuple(_with_severity(Scenario, t, top.item("scenario", i, t.get("id")))
                          for i, t in enumerate(array_of_tables(data, "scenario", top)))
        pricing = spec_from_table(ProductPricing, pricing_table, top.sub("pricing"))
        if pricing.risk_measure not in RISK_MEASURES:  # PricingBasis checked it; keep the reader explicit
            raise InputError(f"[pricing] risk_measure {pricing.risk_measure!r} is unknown")
        return Product(
            id=ident["id"], name=ident["name"], line=ident["line"], currency=ident["currency"],
            version=str(ident["version"]), description=ident.get("description", ""),
            parameter_risk_cv=ident.get("parameter_risk_cv", 0.0),
            exposure_column=exposure_column, exposure_unit=exposure["unit"],
            exposure_exponent=exposure.get("exponent", 1.0), rating=rating,
            aggregate_deductible=policy.get("aggregate_deductible", 0.0),
            aggregate_limit=policy.get("aggregate_limit", math.inf),
            coverages=coverages, scenarios=scenarios, pricing=pricing, source=source)


def _rating_factor(column: str, value, where: Where) -> RatingFactor:
    """A ``[rating.<column>]`` table: the column is the table's name."""
    factor = dict(table(value, where))
    if "levels" in factor:
        factor["levels"] = dict(table(factor["levels"], where.sub("levels")))
    return spec_from_table(RatingFactor, factor, where, column=column)


def _with_severity(cls, value: dict, where: Where):
    """A ``[[coverage]]`` or ``[[scenario]]`` table: its severity law first, then the dataclass."""
    spec = dict(value)
    require_keys(spec, ("severity",), where, hint="a table with a 'law'")
    spec["severity"] = law_from_table(spec["severity"], SEVERITY_LAWS, where.sub("severity"))
    if isinstance(spec.get("values"), list):
        # absent values and [] differ for Scenario: a tuple is what it is given when the key is absent
        spec["values"] = tuple(spec["values"])
    return spec_from_table(cls, spec, where)


def _text(owner: str, name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputTypeError(f"{owner}: {name} must be a non-empty text, got {value!r}")
    return value


def _merged_scenarios(products: dict) -> dict:
    """Scenario id -> list of (product, scenario); one id is one event stream across products."""
    merged = {}
    for product in products.values():
        for scenario in product.scenarios:
            merged.setdefault(scenario.id, []).append((product, scenario))
    for sid, uses in merged.items():
        first_product, first = uses[0]
        for product, other in uses[1:]:
            if other.event_fields() != first.event_fields():
                names = ("rate", "hit_probability", "severity", "factor", "values", "per_value", "clause",
                         "event_deductible", "event_limit")
                diff = next(n for n, a, b in zip(names, first.event_fields(), other.event_fields()) if a != b)
                raise InputError(f"{product.source}: [[scenario]] {sid!r} is also in {first_product.source} "
                                 f"but its {diff} differs ({getattr(other, diff)!r} vs {getattr(first, diff)!r}); "
                                 f"one id is one event: make them agree or rename one")
    return merged


def _line_parameter_risk(products: dict) -> dict:
    by_line = {}
    for product in products.values():
        seen = by_line.setdefault(product.line, (product.parameter_risk_cv, product))
        if seen[0] != product.parameter_risk_cv:
            raise InputError(f"{product.source}: [product] parameter_risk_cv {product.parameter_risk_cv!r} "
                             f"differs from {seen[0]!r} in {seen[1].source}; the factor is shared by line "
                             f"{product.line!r}, so its products must agree")
    return {line: cv for line, (cv, _) in by_line.items() if cv > 0}


# ---------------------------------------------------------------------------------------- the book
def _build_book(catalogue: Catalogue, policies: pd.DataFrame, source: str) -> ProductBook:
    if not isinstance(policies, pd.DataFrame):
        raise InputTypeError(f"{source}: policies must be a pandas DataFrame, got {type(policies).__name__}")
    policies = policies.reset_index(drop=True)
    for column in ("policy_id", "product"):
        if column not in policies.columns:
            raise InputError(f"{source}: missing column {column!r}")
    ids = policies["policy_id"]
    if ids.isna().any():
        raise InputError(f"{source}: row {_first(ids.isna()) + 1}: policy_id is empty")
    table = _Table(policies)
    duplicated = pd.Series(table.ids).duplicated().to_numpy() if len(policies) > 1 else np.zeros(1, dtype=bool)
    if duplicated.any():
        raise InputError(f"{source}: {_at(table, _first(duplicated))}: duplicate policy_id")
    raw_products = table.values("product")
    unknown = pd.isna(raw_products) | ~np.isin(raw_products.astype(str), list(catalogue.products))
    if unknown.any():
        r = _first(unknown)
        raise InputError(f"{source}: {_at(table, r)}: product {policies['product'].iloc[r]!r} is not in the "
                         f"catalogue; products are {sorted(catalogue.products)}")
    product_of = raw_products.astype(str).astype(object)
    share = _numbers(table, "share", np.arange(len(policies)), source, default=1.0, low=0.0, low_open=True)
    if (share > 1.0).any():
        r = _first(share > 1.0)
        raise InputError(f"{source}: {_at(table, r)}: share must be <= 1, got {share[r]!r}")

    parts = []
    rate_cap_base = np.full(len(policies), math.nan)
    for pid in sorted(set(product_of)):
        rows = np.flatnonzero(product_of == pid)
        parts.extend(_product_rows(catalogue[pid], table, rows, share, source))
        column = catalogue[pid].pricing.rate_cap_column
        if column is not None:
            rate_cap_base[rows] = _numbers(table, column, rows, f"{source} (product {pid!r})", low=0.0)
    # policy by policy, coverages in the product's order: the coverage table reads like the portfolio
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    order = np.lexsort((columns.pop("_order"), columns["_policy"]))  # stable, by policy then coverage
    columns = {name: values[order] for name, values in columns.items()}
    row_policy = columns.pop("_policy").astype(np.int64)
    row_coverage = columns.pop("_coverage")
    expected = columns.pop("_expected_loss").astype(np.float64)
    severities = {f"{pid}/{c.name}": c.severity for pid, product in catalogue.products.items() for c in product.coverages}
    shocks, exposure = _shocks(catalogue, row_policy, row_coverage, table, product_of, source)
    frame = pd.DataFrame({**columns, **exposure})
    used_lines = set(columns["line"])
    used_laws = set(columns["severity"])
    risk = {line: cv for line, cv in _line_parameter_risk(catalogue.products).items() if line in used_lines}
    portfolio = Portfolio(frame, {k: v for k, v in severities.items() if k in used_laws}, shocks=shocks,
                          parameter_risk=risk)
    return ProductBook(portfolio=portfolio, policies=policies, row_policy=row_policy, row_coverage=row_coverage,
                       expected_loss=expected, rate_cap_base=rate_cap_base)


def _product_rows(product: Product, policies: _Table, rows: np.ndarray, share: np.ndarray,
                  source: str) -> list:
    where = f"{source} (product {product.id!r})"
    exposure = _numbers(policies, product.exposure_column, rows, where, low=0.0, low_open=True)
    base = (exposure / product.exposure_unit) ** product.exposure_exponent
    agg = {term: _numbers(policies, term, rows, where, default=getattr(product, term), low=0.0,
                          low_open=term == "aggregate_limit", allow_inf=term == "aggregate_limit")
           for term in POLICY_TERMS}
    ids = policies.ids[rows]
    out = []
    for coverage in product.coverages:
        freq = np.ones(rows.size)
        sev = np.ones(rows.size)
        for factor in product.rating:
            if factor.applies(coverage.name):
                rel = _relativities(policies, factor, rows, where)
                if factor.applies_to == "frequency":
                    freq = freq * rel
                else:
                    sev = sev * rel
        rate = coverage.claims_per_unit * base * freq
        scale = coverage.scale_factor * sev
        if coverage.scale_column:
            scale = scale * _numbers(policies, coverage.scale_column, rows, where, low=0.0, low_open=True)
        terms = {term: _numbers(policies, f"{coverage.name}_{term}", rows, where,
                                default=getattr(coverage, term), low=0.0,
                                low_open=term in ("limit", "aggregate_limit", "indemnity_hours"),
                                allow_inf=term in ("limit", "aggregate_limit", "indemnity_hours"))
                 for term in COVERAGE_TERMS if term not in ("waiting_hours", "indemnity_hours")
                 or coverage.is_time_element}
        deductible, limit = terms["deductible"], terms["limit"]
        if coverage.is_time_element:
            waiting, indemnity = terms["waiting_hours"], terms["indemnity_hours"]
            short = indemnity <= waiting
            if short.any():
                raise InputError(f"{where}: {_at(policies, rows[_first(short)])}: {coverage.name} indemnity_hours "
                                 f"must exceed waiting_hours")
            # the waiting period is a time deductible, the indemnity period a time limit (docs/products.md)
            deductible = deductible + waiting * scale
            limit = np.minimum(limit, (indemnity - waiting) * scale)
        law = coverage.severity
        # the co-payment is a co-insurance share of each claim's layer, taken with the policy's share
        # (a product without one multiplies by exactly 1.0: the same bits as before)
        row_share = share[rows] * (1.0 - coverage.copayment)
        # E[min(max(sY - d, 0), l)] = s (E[min(Y, (d + l)/s)] - E[min(Y, d/s)])
        expected = row_share * rate * scale * (law.lev((deductible + limit) / scale) - law.lev(deductible / scale))
        n = rows.size
        out.append({
            "policy_id": np.array([f"{pid}/{coverage.name}" for pid in ids], dtype=object),
            "line": np.full(n, product.line, dtype=object),
            "claim_rate": rate,
            "severity": np.full(n, f"{product.id}/{coverage.name}", dtype=object),
            "severity_scale": scale,
            "deductible": deductible,
            "limit": limit,
            "share": row_share,
            "agg_deductible": terms["aggregate_deductible"],
            "agg_limit": terms["aggregate_limit"],
            "sum_insured": scale,  # scenario hits are in units of the claim size (docs/products.md)
            "contract_id": ids,
            "contract_agg_deductible": agg["aggregate_deductible"],
            "contract_agg_limit": agg["aggregate_limit"],
            "_policy": rows,
            "_coverage": np.full(n, coverage.name, dtype=object),
            "_order": np.full(n, product.coverages.index(coverage), dtype=np.int64),
            "_expected_loss": expected,
        })
    return out


def _shocks(catalogue: Catalogue, row_policy: np.ndarray, row_coverage: np.ndarray, policies: _Table,
            product_of: np.ndarray, source: str):
    """One ``CommonShock`` per scenario id (per value with ``per_value``), over an exposure column of
    the book saying which rows each one may hit (the columns returned by name)."""
    shocks = []
    exposure = {}
    product_of_row = product_of[row_policy]
    for sid, uses in catalogue.scenarios.items():
        column = np.full(row_policy.size, "", dtype=object)
        first = uses[0][1]
        for product, scenario in uses:
            mine = (product_of_row == product.id) & (row_coverage == scenario.coverage)
            if not mine.any():
                continue
            policy_rows = row_policy[mine]
            if scenario.factor is None:
                column[mine] = "all"
                continue
            where = f"{source} (product {product.id!r}, scenario {sid!r})"
            levels = _levels(policies, scenario.factor, policy_rows, where)
            exposed = np.isin(levels, scenario.values) if scenario.values else np.ones(levels.size, dtype=bool)
            column[np.flatnonzero(mine)[exposed]] = levels[exposed]
        present = sorted(set(column) - {""})
        if not present:
            continue
        name = f"scenario:{sid}"
        exposure[name] = column
        groups = [(v,) for v in present] if first.per_value else [tuple(present)]
        for values in groups:
            label = f"{sid}[{values[0]}]" if first.per_value else sid
            shocks.append(CommonShock(label, rate=first.rate, factor=name, values=values,
                                      hit_probability=first.hit_probability, severity=first.severity,
                                      basis="sum_insured", clause=first.clause,
                                      event_deductible=first.event_deductible, event_limit=first.event_limit))
    return tuple(shocks), exposure


def _relativities(policies: _Table, factor: RatingFactor, rows: np.ndarray, where: str) -> np.ndarray:
    levels = _levels(policies, factor.column, rows, where)
    known = np.isin(levels, list(factor.levels))
    if not known.all():
        raise InputError(f"{where}: {_at(policies, rows[_first(~known)])}: {factor.column} {levels[int(np.argmax(~known))]!r} is not a "
                         f"level of [rating.{factor.column}]; levels are {sorted(factor.levels)}")
    table = factor.levels
    return np.array([table[v] for v in levels], dtype=np.float64)


def _levels(policies: _Table, column: str, rows: np.ndarray, where: str) -> np.ndarray:
    if column not in policies.columns:
        raise InputError(f"{where}: missing column {column!r}")
    raw = policies.values(column)[rows]
    missing = pd.isna(raw)
    if missing.any():
        raise InputError(f"{where}: {_at(policies, rows[_first(missing)])}: {column} is empty; give the "
                         f"policy's level")
    return np.array([_level_text(v) for v in raw], dtype=object)


def _level_text(value) -> str:
    # a level read as a number from Parquet (3.0) matches the file's "3"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Table:
    """The policies table as the book reads it: each column taken out once as a NumPy array (pandas'
    per-call cost is most of the work for the one-row tables of a quote), and each policy's name for
    messages."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.columns = frozenset(frame.columns)
        self.ids = frame["policy_id"].astype(str).to_numpy(dtype=object)
        self._values = {}

    def values(self, column: str) -> np.ndarray:
        if column not in self._values:
            self._values[column] = column_values(self.frame[column])
        return self._values[column]


def _numbers(policies: _Table, column: str, rows: np.ndarray, where: str, *, default=None,
             low: float = -math.inf, low_open: bool = False, allow_inf: bool = False) -> np.ndarray:
    """A numeric column on ``rows``, checked; ``default`` fills empty cells (None: they are errors)."""
    if column not in policies.columns:
        if default is None:
            raise InputError(f"{where}: missing column {column!r}")
        return np.full(rows.size, float(default))
    values = checked_values(policies.values(column)[rows], column, where, lambda i: _at(policies, rows[i]),
                            low=low, low_open=low_open, allow_inf=allow_inf, allow_missing=default is not None)
    return np.where(np.isnan(values), float(default), values) if default is not None else values


def _first(mask) -> int:
    """Index of the first True."""
    return int(np.argmax(np.asarray(mask)))


def _at(policies: _Table, i: int) -> str:
    """A policy as error messages name it: its data row (first row = 1) and its id."""
    return f"row {i + 1} (policy_id {policies.ids[i]!r})"
