"""A book of policies with their own exposures and terms, and the common shocks that accumulate them.

The policies table is the boundary format (a pandas DataFrame, one row per policy); inside, the book is
a set of float64 / int64 arrays, one entry per policy, built once and validated with errors that name
the row, the column and the value.

Columns of the policies table (``POLICY_COLUMNS``, defined once in ``techins.io.schema``):

=================  ========  ===========================================================================
column             default   meaning
=================  ========  ===========================================================================
policy_id          required  unique identifier
line               required  product line (text); per-line figures group by it
claim_rate         required  expected independent claims a year (Poisson), after exposure and rating
severity           required  key of the claim-size law in ``severities``
severity_scale     1         claim size = scale x a draw of the law (e.g. sum insured, amount at risk)
deductible         0         per-occurrence deductible
limit              inf       per-occurrence limit (above the deductible)
share              1         share of the layer written (co-insurance share)
agg_deductible     0         annual aggregate deductible of the policy
agg_limit          inf       annual aggregate limit of the policy
sum_insured        NaN       needed by common shocks whose loss is a share of sum insured
contract_id        none      optional: rows with the same contract_id are the coverages of one contract
contract_agg_ded   0         ``contract_agg_deductible``: annual aggregate deductible of the contract
contract_agg_lim   inf       ``contract_agg_limit``: annual aggregate limit of the contract, over its rows
=================  ========  ===========================================================================

A contract's terms apply to the sum of its rows' annual losses (after each row's own aggregate
terms); when they bind, each row's loss of that year is cut in proportion. Every row of a contract
must carry the same contract terms.

Any other column is a factor (cloud provider, software vendor, batch, fleet, region...) that common
shocks may select policies by.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.frozen import FrozenMap
from techins.io.schema import CONTRACT_COLUMNS, POLICY_COLUMNS, TEXT_COLUMNS
from techins.model.dependence import Dependence, GammaFrailty
from techins.model.distributions import SeverityLaw

__all__ = ["POLICY_COLUMNS", "CommonShock", "Portfolio"]

CLAUSES = ("per_policy", "batch")
BASES = ("sum_insured", "amount")


@dataclass(frozen=True)
class CommonShock:
    """A systemic event that hits many policies at once: one occurrence across all it hits.

    Events arrive as a Poisson process with ``rate`` a year. Each event hits each exposed policy
    (``factor`` column equal to one of ``values``) independently with ``hit_probability``. Each hit
    costs ``severity`` drawn afresh, times the policy's sum insured when ``basis="sum_insured"``.

    With ``clause="per_policy"`` each hit goes through the policy's own occurrence terms. With
    ``clause="batch"`` (a serial-defect / batch clause) the event is one occurrence with one
    ``event_deductible`` and one ``event_limit`` on the total of all hits, shared back to the policies
    in proportion to their ground-up hits.

    Parameters
    ----------
    name : str
    rate : float
        Expected events a year, >= 0.
    factor : str
        Column of the policies table that says who is exposed.
    values : tuple of str
        Values of ``factor`` that are exposed.
    hit_probability : float
        Probability that an event hits a given exposed policy, in [0, 1].
    severity : SeverityLaw
        Law of each hit: a share of sum insured, or an amount.
    basis : {"sum_insured", "amount"}
    clause : {"per_policy", "batch"}
    event_deductible, event_limit : float
        Terms of the event under a batch clause.
    """

    name: str
    rate: float
    factor: str
    values: tuple
    hit_probability: float
    severity: SeverityLaw
    basis: str = "sum_insured"
    clause: str = "per_policy"
    event_deductible: float = 0.0
    event_limit: float = math.inf

    def __post_init__(self):
        owner = f"CommonShock {self.name!r}"
        object.__setattr__(self, "rate", validate.real(owner, "rate", self.rate, low=0.0))
        object.__setattr__(self, "hit_probability",
                           validate.real(owner, "hit_probability", self.hit_probability, low=0.0, high=1.0))
        if not isinstance(self.severity, SeverityLaw):
            raise InputTypeError(f"{owner}: severity must be a severity law, got {self.severity!r}")
        if isinstance(self.values, str) or not isinstance(self.values, (tuple, list)) or not self.values:
            raise InputError(f"{owner}: values must be a non-empty list of factor values, got {self.values!r}")
        object.__setattr__(self, "values", tuple(str(v) for v in self.values))
        if self.basis not in BASES:
            raise InputError(f"{owner}: basis must be one of {BASES}, got {self.basis!r}")
        if self.clause not in CLAUSES:
            raise InputError(f"{owner}: clause must be one of {CLAUSES}, got {self.clause!r}")
        object.__setattr__(self, "event_deductible",
                           validate.real(owner, "event_deductible", self.event_deductible, low=0.0))
        object.__setattr__(self, "event_limit", validate.real(owner, "event_limit", self.event_limit,
                                                               low=0.0, low_open=True, allow_inf=True))


@dataclass(frozen=True, eq=False)
class Portfolio:
    """A book of policies, its claim-size laws and its common shocks.

    Parameters
    ----------
    policies : pandas.DataFrame
        One row per policy; columns in ``POLICY_COLUMNS`` (module notes) plus factor columns.
    severities : mapping of str to SeverityLaw
        The claim-size laws the ``severity`` column names.
    shocks : sequence of CommonShock, optional
    parameter_risk : mapping of str to float, optional
        Per line, the coefficient of variation ``cv`` of a factor ``theta_y ~ Gamma(1/cv^2, cv^2)``
        (mean 1) shared by every policy of the line in year y and multiplying their claim rates:
        parameter risk that does not diversify as the line grows (each policy's count becomes a
        mixed Poisson; two policies' counts covary by ``lambda_1 lambda_2 cv^2``).
    dependence : Dependence, GammaFrailty or a sequence of them, optional
        Dependence between lines (``techins.model.dependence``): at most one copula (``Dependence``) on
        the annual losses of some lines or groups of policies, and shared gamma frailties on the
        claim counts of lines (a line in at most one). ``with_dependence`` gives a copy with others.

    Examples
    --------
    >>> import pandas as pd, techins as ti
    >>> book = ti.Portfolio(pd.DataFrame({"policy_id": ["a", "b"], "line": "cyber", "claim_rate": [0.1, 0.2],
    ...                                   "severity": "breach"}), {"breach": ti.LogNormal(11.0, 1.5)})
    >>> book.n_policies
    2
    """

    policies: pd.DataFrame
    severities: dict
    shocks: tuple = ()
    parameter_risk: dict = field(default_factory=dict)
    dependence: tuple = ()
    arrays: dict = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.policies, pd.DataFrame):
            raise InputTypeError(f"Portfolio: policies must be a pandas DataFrame, got {type(self.policies).__name__}")
        severities = dict(self.severities)
        for key, law in severities.items():
            if not isinstance(law, SeverityLaw):
                raise InputTypeError(f"Portfolio: severities[{key!r}] must be a severity law, got {law!r}")
        shocks = tuple(self.shocks)
        for shock in shocks:
            if not isinstance(shock, CommonShock):
                raise InputTypeError(f"Portfolio: shocks must be CommonShock objects, got {shock!r}")
        object.__setattr__(self, "severities", FrozenMap(severities))
        object.__setattr__(self, "shocks", shocks)
        object.__setattr__(self, "arrays", FrozenMap(_policy_arrays(self.policies, severities)))
        for shock in shocks:
            self._check_shock(shock)
        risk = dict(self.parameter_risk)
        for line, cv in risk.items():
            if line not in self.line_names:
                raise InputError(f"Portfolio: parameter_risk names line {line!r}, which no policy has; "
                                 f"lines are {list(self.line_names)}")
            risk[line] = validate.real("Portfolio", f"parameter_risk[{line!r}]", cv, low=0.0, high=10.0)
        object.__setattr__(self, "parameter_risk", FrozenMap(risk))
        self._set_dependence(self.dependence)

    def _set_dependence(self, specs) -> None:
        specs = (specs,) if isinstance(specs, (Dependence, GammaFrailty)) else specs
        if isinstance(specs, (str, bytes)) or not isinstance(specs, (tuple, list)):
            raise InputTypeError(f"Portfolio: dependence must be a Dependence, a GammaFrailty or a list of them, "
                                 f"got {specs!r}")
        specs = tuple(specs)
        copulas = [d for d in specs if isinstance(d, Dependence)]
        frailties = [d for d in specs if isinstance(d, GammaFrailty)]
        if len(copulas) + len(frailties) != len(specs):
            bad = next(d for d in specs if not isinstance(d, (Dependence, GammaFrailty)))
            raise InputTypeError(f"Portfolio: dependence must hold Dependence or GammaFrailty objects, got {bad!r}")
        if len(copulas) > 1:
            raise InputError("Portfolio: dependence holds more than one copula (Dependence); join all the margins "
                             "in one (a Gaussian or t copula takes a correlation matrix)")
        owner_of = {}
        for frailty in frailties:
            for line in frailty.lines:
                self._check_line(f"GammaFrailty(cv={frailty.cv!r})", line)
                if line in owner_of:
                    raise InputError(f"Portfolio: line {line!r} is in two gamma frailties (cv {owner_of[line]!r} and "
                                     f"{frailty.cv!r}); a line shares at most one")
                owner_of[line] = frailty.cv
        margins = None
        if copulas:
            margins = self._copula_margins(copulas[0])
        object.__setattr__(self, "dependence", specs)
        object.__setattr__(self, "_margins", margins)

    def _check_line(self, owner: str, line: str) -> None:
        if line not in self.line_names:
            raise InputError(f"Portfolio: {owner} names line {line!r}, which no policy has; lines are "
                             f"{list(self.line_names)}")

    def _copula_margins(self, spec: Dependence):
        owner = f"Dependence({type(spec.copula).__name__})"
        if spec.lines is not None:
            for line in spec.lines:
                self._check_line(owner, line)
            code_of = {name: k for k, name in enumerate(self.line_names)}
            to_margin = np.full(len(self.line_names), -1, dtype=np.int64)
            for m, line in enumerate(spec.lines):
                to_margin[code_of[line]] = m
            margin = to_margin[self.arrays["line"]]
            names = spec.lines
        else:
            if spec.column not in self.policies.columns:
                raise InputError(f"Portfolio: {owner}: column {spec.column!r} is not a column of the policies table")
            raw = self.policies[spec.column].to_numpy(dtype=object)
            missing = pd.isna(raw)
            if missing.any():
                raise InputError(f"Portfolio: {owner}: policies row {int(np.argmax(missing)) + 1}: {spec.column} is "
                                 f"empty; every policy needs a value of the column the copula joins")
            codes, values = pd.factorize(np.array([str(v) for v in raw], dtype=object), sort=True)
            if len(values) < 2:
                raise InputError(f"Portfolio: {owner}: column {spec.column!r} has one value ({values[0]!r}); a copula "
                                 f"needs at least two groups of policies")
            margin = codes.astype(np.int64)
            names = tuple(str(v) for v in values)
            spec.check_dimension(len(names))
        if self.n_contracts:
            # a contract's aggregate terms bind on the sum of its rows in one year: its rows must move together
            contract = self.arrays["contract"]
            first = np.zeros(self.n_contracts, dtype=np.int64)
            first[contract[::-1]] = np.arange(contract.size)[::-1]
            split = margin != margin[first[contract]]
            if split.any():
                row = int(np.argmax(split))
                raise InputError(f"Portfolio: {owner}: policies row {row + 1} is in contract "
                                 f"{self.arrays['contract_ids'][contract[row]]!r} with rows of another margin; the "
                                 f"copula moves each margin's years apart, so a contract's rows must all be in one")
        return np.require(margin, requirements=("C", "W", "O")), names

    def with_dependence(self, *specs) -> "Portfolio":
        """A copy of the book with ``specs`` (``Dependence`` / ``GammaFrailty``) as its dependence, in place of
        its own; the policies' arrays are shared, not checked again."""
        book = copy.copy(self)
        book._set_dependence(specs[0] if len(specs) == 1 and isinstance(specs[0], (tuple, list)) else specs)
        return book

    @property
    def copula(self) -> Dependence | None:
        """The book's copula (a ``Dependence``), or None."""
        return next((d for d in self.dependence if isinstance(d, Dependence)), None)

    @property
    def copula_margins(self):
        """``(margin, names)``: each policy's margin of the copula (-1: not joined, int64) and the margins'
        names (lines, or values of the column); None without a copula."""
        return self._margins

    @property
    def line_frailty(self) -> tuple[np.ndarray, np.ndarray]:
        """``(frailty of each line, by line code (-1: none), each frailty's cv)``."""
        frailties = [d for d in self.dependence if isinstance(d, GammaFrailty)]
        of_line = np.full(len(self.line_names), -1, dtype=np.int64)
        for f, frailty in enumerate(frailties):
            for line in frailty.lines:
                of_line[self.line_names.index(line)] = f
        return of_line, np.array([f.cv for f in frailties], dtype=np.float64)

    def _figures(self) -> list:
        return [Figure("policies", self.n_policies, kind="count"), Figure("contracts", self.n_contracts, kind="count"),
                Figure("lines", ", ".join(self.line_names), kind="text"),
                Figure("laws", len(self.severities), kind="count"), Figure("shocks", len(self.shocks), kind="count")]

    def __repr__(self) -> str:
        return short_repr("Portfolio", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("Portfolio", self._figures(), {"policies": self.policies})

    @property
    def n_policies(self) -> int:
        """Number of policies."""
        return int(self.arrays["claim_rate"].size)

    @property
    def n_contracts(self) -> int:
        """Number of contracts (0 when the table has no ``contract_id`` column)."""
        return len(self.arrays["contract_ids"])

    @property
    def line_cv(self) -> np.ndarray:
        """Coefficient of variation of each line's parameter-risk factor (0: none), by line code."""
        return np.array([self.parameter_risk.get(name, 0.0) for name in self.line_names], dtype=np.float64)

    @property
    def line_names(self) -> tuple:
        """The product lines, in the order of the line codes."""
        return self.arrays["line_names"]

    def exposed(self, shock: CommonShock) -> np.ndarray:
        """Indices of the policies a shock can hit."""
        column = self.policies[shock.factor].astype(str).to_numpy(dtype=object)
        return np.flatnonzero(np.isin(column, shock.values)).astype(np.int64)

    def _check_shock(self, shock: CommonShock) -> None:
        owner = f"CommonShock {shock.name!r}"
        if shock.factor not in self.policies.columns:
            raise InputError(f"{owner}: factor {shock.factor!r} is not a column of the policies table")
        present = set(pd.unique(self.policies[shock.factor].astype(str).to_numpy(dtype=object)))
        missing = [v for v in shock.values if v not in present]
        if missing:
            raise InputError(f"{owner}: no policy has {shock.factor} = {missing[0]!r}")
        if shock.basis == "sum_insured":
            si = self.arrays["sum_insured"][self.exposed(shock)]
            if np.isnan(si).any():
                row = int(self.exposed(shock)[np.argmax(np.isnan(si))])
                raise InputError(f"{owner}: policies row {row + 1} (policy_id {self.arrays['policy_id'][row]!r}) "
                                 f"is exposed but has no sum_insured")


def _policy_arrays(policies: pd.DataFrame, severities: dict) -> dict:
    where = "policies"
    for column in TEXT_COLUMNS + ("claim_rate",):
        if column not in policies.columns:
            raise InputError(f"{where}: missing column {column!r}")
    if len(policies) == 0:
        raise InputError(f"{where}: no policies")
    out = {}
    ids = policies["policy_id"]
    raw_ids = ids.to_numpy()
    missing = pd.isna(raw_ids)
    if missing.any():
        raise InputError(f"{where}: row {int(np.argmax(missing)) + 1}: policy_id is missing")
    if len(set(raw_ids)) != raw_ids.size:  # the set is cheap; pandas finds the first repeat
        duplicated = ids.duplicated().to_numpy()
        row = int(np.argmax(duplicated))
        raise InputError(f"{where}: row {row + 1}: duplicate policy_id {ids.iloc[row]!r}")
    out["policy_id"] = raw_ids
    for column, (default, low, low_open, allow_inf) in POLICY_COLUMNS.items():
        out[column] = _numeric_column(policies, column, default, low, low_open, allow_inf)
    if (out["share"] > 1.0).any():
        row = int(np.argmax(out["share"] > 1.0))
        raise InputError(f"{where}: row {row + 1}: share must be <= 1, got {float(out['share'][row])!r}")
    lines = policies["line"].to_numpy(dtype=object)
    missing = pd.isna(lines)
    if missing.any():
        raise InputError(f"{where}: row {int(np.argmax(missing)) + 1}: line is missing")
    codes, names = pd.factorize(np.array([str(v) for v in lines], dtype=object), sort=True)
    out["line"] = codes.astype(np.int64)
    out["line_names"] = tuple(str(n) for n in names)
    keys = np.array([str(v) for v in policies["severity"].to_numpy(dtype=object)], dtype=object)
    unknown = ~np.isin(keys, list(severities))
    if unknown.any():
        row = int(np.argmax(unknown))
        raise InputError(f"{where}: row {row + 1} (policy_id {out['policy_id'][row]!r}): severity {keys[row]!r} "
                         f"is not one of the laws given: {sorted(severities)}")
    out["severity_key"] = keys
    out.update(_contract_arrays(policies))
    return out


def _contract_arrays(policies: pd.DataFrame) -> dict:
    """Contract of each row and each contract's (agg_deductible, agg_limit); no contracts (an empty
    terms table) when the table has no contract_id column."""
    where = "policies"
    if "contract_id" not in policies.columns:
        for column in CONTRACT_COLUMNS:
            if column in policies.columns:
                raise InputError(f"{where}: column {column!r} needs a contract_id column saying which rows "
                                 f"form one contract")
        return {"contract": np.zeros(len(policies), dtype=np.int64), "contract_ids": (),
                "contract_terms": np.zeros((0, 2))}
    ids = policies["contract_id"].to_numpy(dtype=object)
    missing = pd.isna(ids)
    if missing.any():
        raise InputError(f"{where}: row {int(np.argmax(missing)) + 1}: contract_id is missing")
    codes, names = pd.factorize(np.array([str(v) for v in ids], dtype=object), sort=False)
    terms = np.column_stack([_numeric_column(policies, column, *spec) for column, spec in CONTRACT_COLUMNS.items()])
    first = np.zeros(len(names), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the first row of each contract
    differs = (terms != terms[first[codes]]).any(axis=1)
    if differs.any():
        row = int(np.argmax(differs))
        raise InputError(f"{where}: row {row + 1}: contract {names[codes[row]]!r} has contract terms "
                         f"{terms[row].tolist()} but its row {int(first[codes[row]]) + 1} has "
                         f"{terms[first[codes[row]]].tolist()}; give every row of a contract the same terms")
    return {"contract": codes.astype(np.int64), "contract_ids": tuple(str(n) for n in names),
            "contract_terms": terms[first]}


def _numeric_column(policies: pd.DataFrame, column: str, default, low: float, low_open: bool,
                    allow_inf: bool) -> np.ndarray:
    if column not in policies.columns:
        return np.full(len(policies), default, dtype=np.float64)
    # an optional column with a number as default must still be filled on every row (NaN is refused);
    # sum_insured (default NaN) may be left empty
    allow_missing = default is not None and math.isnan(default)
    return checked_numbers(policies[column], column, "policies", lambda i: f"row {i + 1}", low=low,
                           low_open=low_open, allow_inf=allow_inf, allow_missing=allow_missing)


def checked_numbers(raw: pd.Series, column: str, where: str, label, *, low: float = -math.inf,
                    low_open: bool = False, allow_inf: bool = False, allow_missing: bool = False) -> np.ndarray:
    """The cells of one column of a table as float64, checked: no text, no NaN unless
    ``allow_missing``, no infinity unless ``allow_inf``, all above ``low``. ``label(i)`` names the
    i-th cell's row in messages (``"row 3"``, ``"row 4 (policy_id 'P3')"``)."""
    return checked_values(column_values(raw), column, where, label, low=low, low_open=low_open,
                          allow_inf=allow_inf, allow_missing=allow_missing)


def column_values(raw: pd.Series) -> np.ndarray:
    """A column's cells as a NumPy array: float64 (NaN for missing) for a numeric column, objects
    otherwise; what ``checked_values`` checks."""
    if pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    return raw.to_numpy(dtype=object)


def checked_values(raw: np.ndarray, column: str, where: str, label, *, low: float = -math.inf,
                   low_open: bool = False, allow_inf: bool = False, allow_missing: bool = False) -> np.ndarray:
    """``checked_numbers`` of cells already taken out of their table (``column_values``)."""
    if raw.dtype == np.float64:
        values = raw
        text = np.zeros(values.size, dtype=bool)  # a numeric column holds no text
    else:
        values = np.asarray(pd.to_numeric(raw, errors="coerce"), dtype=np.float64)
        # a literal "nan" cell is a missing value, not text; only the cells that did not parse are looked at
        unparsed = np.flatnonzero(np.isnan(values) & ~pd.isna(raw))
        text = np.zeros(values.size, dtype=bool)
        text[unparsed] = [str(v).strip().lower() != "nan" for v in raw[unparsed]]
    if text.any():
        i = int(np.argmax(text))
        raise InputError(f"{where}: {label(i)}: {column} must be a number, got {raw[i]!r}")
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        i = int(np.argmax(missing))
        raise InputError(f"{where}: {label(i)}: {column} is empty or NaN; give a number")
    if not allow_inf and np.isinf(values).any():
        i = int(np.argmax(np.isinf(values)))
        raise InputError(f"{where}: {label(i)}: {column} must be finite, got {float(values[i])!r}")
    bad = (values <= low) if low_open else (values < low)
    if bad.any():
        i = int(np.argmax(bad))
        op = ">" if low_open else ">="
        raise InputError(f"{where}: {label(i)}: {column} must be {op} {low:g}, got {float(values[i])!r}")
    # pandas hands back a read-only view when no conversion was needed and a new array otherwise; the
    # kernels are compiled per array type, read-only or not, so one kind (an own, writable copy) keeps
    # one compiled version of each
    return np.require(values, requirements=("C", "W", "O"))
