"""Public risk-compensation schemes (风险补偿 / 风险分担): a public fund that pays part of an insurer's
(or a pool's) losses when its loss ratio passes a trigger, within annual and multi-year caps.

A scheme applies to the losses left after the reinsurance programme (``basis="net"``) or is measured
on the gross losses beside the programme (``basis="gross"``); either way it pays the insurer, never
more than the insurer keeps, so year by year ``insurer net after the fund + fund + reinsurers =
gross``. The premium subsidy of a product (``[pricing] subsidy_share``) is a separate public money
and is not part of a scheme.

Per year ``t``, with ``L_t`` the covered loss (net or gross), ``P`` the covered premium and ``N_t``
the insurer's net loss:

    band_t  = min(max(L_t - a P, 0), (c - a) P)          trigger a, ceiling c (loss ratios)
    claim_t = min(s band_t, A, N_t)                      share s, annual cap A
    paid    = min(cumsum(claim) within each term, M)     the multi-year cap M over ``term_years``

Formulas and the effect on price and capital: ``docs/pool.md`` ("Public risk compensation").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.io.toml import Where, load_toml, spec_from_table, table
from techins.results import figures

__all__ = ["RiskCompensation", "CompensationResult", "read_compensation", "compensation_from_mapping",
           "compensation_payments", "apply_compensation"]

BASES = ("net", "gross")
SCOPES = ("pool", "member")


@dataclass(frozen=True)
class RiskCompensation:
    """A public fund paying a share of the losses above a trigger loss ratio.

    Parameters
    ----------
    name : str
    trigger_loss_ratio : float
        The loss ratio (covered loss / covered premium) above which the fund pays, >= 0 (e.g. 1.0:
        it pays once losses exceed the premium).
    share : float
        The fund's share of the loss between the trigger and the ceiling, in (0, 1].
    ceiling_loss_ratio : float
        The loss ratio above which the fund pays no more (inf: no ceiling); > trigger.
    annual_cap : float
        Most the fund pays in a year (money, inf: no cap), > 0.
    aggregate_cap : float
        Most the fund pays over one term of ``term_years`` consecutive years (money, inf: none), > 0.
    term_years : int
        The years a multi-year cap covers (the scheme's period, e.g. 3), >= 1.
    basis : {"net", "gross"}
        The loss the ratio is measured on: after the reinsurance programme, or gross beside it.
    scope : {"pool", "member"}
        In a pool: one fund account for the pool's business, shared back to the members by their
        part of the pool's net loss in the year; or one account per member, on its own loss ratio
        (each member's caps are the scheme's caps). A single insurer's book is a pool of one.
    lines : tuple of str
        The lines it covers (empty: every line).
    source : str
        Where the scheme was read from (messages).
    """

    name: str
    trigger_loss_ratio: float
    share: float
    ceiling_loss_ratio: float = math.inf
    annual_cap: float = math.inf
    aggregate_cap: float = math.inf
    term_years: int = 1
    basis: str = "net"
    scope: str = "pool"
    lines: tuple = ()
    source: str = "scheme"

    def __post_init__(self):
        owner = "RiskCompensation"
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError(f"{owner}: name must be a non-empty string, got {self.name!r}")
        validate.set_real(self, owner, "trigger_loss_ratio", low=0.0)
        validate.set_real(self, owner, "share", low=0.0, high=1.0, low_open=True)
        validate.set_real(self, owner, "ceiling_loss_ratio", low=self.trigger_loss_ratio, low_open=True,
                          allow_inf=True)
        validate.set_real(self, owner, "annual_cap", low=0.0, low_open=True, allow_inf=True)
        validate.set_real(self, owner, "aggregate_cap", low=0.0, low_open=True, allow_inf=True)
        object.__setattr__(self, "term_years", validate.integer(owner, "term_years", self.term_years, low=1))
        if self.basis not in BASES:
            raise InputError(f"{owner}: basis must be one of {', '.join(BASES)}, got {self.basis!r}")
        if self.scope not in SCOPES:
            raise InputError(f"{owner}: scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        lines = self.lines
        if isinstance(lines, str) or not isinstance(lines, (tuple, list)) or not all(
                isinstance(x, str) and x for x in lines):
            raise InputTypeError(f"{owner}: lines must be a list of line names, got {lines!r}")
        object.__setattr__(self, "lines", tuple(lines))
        if math.isinf(self.aggregate_cap) and self.term_years > 1:
            raise InputError(f"{owner}: term_years {self.term_years} without an aggregate_cap means nothing; "
                             "give the multi-year aggregate_cap or leave term_years at 1")

    def covers(self, line: str) -> bool:
        """Whether the scheme covers ``line``."""
        return not self.lines or line in self.lines


def read_compensation(path) -> RiskCompensation:
    """Read a scheme from a TOML file: one ``[compensation]`` table with the fields of
    ``RiskCompensation``."""
    return compensation_from_mapping(load_toml(path), str(path))


def compensation_from_mapping(data: dict, source: str = "scheme") -> RiskCompensation:
    """Build a ``RiskCompensation`` from a mapping shaped like the scheme file (a ``compensation``
    table); ``source`` names it in messages."""
    top = Where(source)
    data = table(data, top)
    if set(data) != {"compensation"}:
        raise InputError(top.message("a scheme file holds one [compensation] table "
                                     f"(found {sorted(data) or 'nothing'})"))
    return scheme_from_table(data["compensation"], Where(source, "[compensation]"))


def scheme_from_table(value, where: Where) -> RiskCompensation:
    """A ``[compensation]`` table (of a scheme file or a pool file) as a ``RiskCompensation``."""
    spec = dict(table(value, where))
    if isinstance(spec.get("lines"), list):
        spec["lines"] = tuple(spec["lines"])
    return spec_from_table(RiskCompensation, spec, where, source=where.source)


def compensation_payments(scheme: RiskCompensation, covered_loss, premium, retained=None) -> np.ndarray:
    """What the fund pays each year (the module's formulas), vectorised over accounts and years.

    Parameters
    ----------
    scheme : RiskCompensation
    covered_loss : array_like
        ``[years]`` or ``[accounts, years]``: the loss the ratio is measured on (>= 0).
    premium : float or array_like
        The covered premium of each account (money a year, >= 0); an account with no premium gets
        nothing (its loss ratio is undefined).
    retained : array_like, optional
        The insurer's net loss, shaped as ``covered_loss`` (default ``covered_loss``): the fund
        never pays more than it.

    Returns
    -------
    numpy.ndarray
        Shaped as ``covered_loss``.
    """
    owner = "compensation_payments"
    if not isinstance(scheme, RiskCompensation):
        raise InputTypeError(f"{owner}: scheme must be a RiskCompensation, got {type(scheme).__name__}")
    loss = np.asarray(covered_loss, dtype=np.float64)
    one = loss.ndim == 1
    loss = np.atleast_2d(loss)
    if loss.ndim != 2 or not np.isfinite(loss).all() or (loss < 0).any():
        raise InputError(f"{owner}: covered_loss must be finite and >= 0, one row of years per account")
    prem = np.broadcast_to(np.asarray(premium, dtype=np.float64).reshape(-1), (loss.shape[0],))
    if not np.isfinite(prem).all() or (prem < 0).any():
        raise InputError(f"{owner}: premium must be finite and >= 0 for every account, got {prem.tolist()}")
    kept = loss if retained is None else np.atleast_2d(np.asarray(retained, dtype=np.float64))
    if kept.shape != loss.shape:
        raise InputError(f"{owner}: retained has shape {kept.shape}, covered_loss {loss.shape}")
    p = prem[:, None]
    band = np.maximum(loss - scheme.trigger_loss_ratio * p, 0.0)
    if math.isfinite(scheme.ceiling_loss_ratio):  # inf x a zero premium would be NaN
        band = np.minimum(band, (scheme.ceiling_loss_ratio - scheme.trigger_loss_ratio) * p)
    claim = np.minimum(np.minimum(scheme.share * band, scheme.annual_cap), np.maximum(kept, 0.0))
    claim = np.where(p > 0.0, claim, 0.0)
    paid = _within_terms(claim, scheme.term_years, scheme.aggregate_cap)
    return paid[0] if one else paid


def _within_terms(claim: np.ndarray, term_years: int, cap: float) -> np.ndarray:
    """``claim`` paid until the multi-year ``cap`` is spent within each term of ``term_years``
    consecutive years (the last term may be shorter): the running total capped, then differenced."""
    if math.isinf(cap):
        return claim
    accounts, years = claim.shape
    terms = -(-years // term_years)
    padded = np.zeros((accounts, terms * term_years))
    padded[:, :years] = claim
    running = np.minimum(np.cumsum(padded.reshape(accounts, terms, term_years), axis=2), cap)
    paid = np.diff(running, axis=2, prepend=0.0).reshape(accounts, -1)[:, :years]
    return np.maximum(paid, 0.0)


@dataclass(frozen=True, eq=False)
class CompensationResult:
    """A scheme over simulated years: what the fund pays and what the insurer keeps.

    Attributes
    ----------
    scheme : RiskCompensation
    accounts : tuple of str
        The fund's accounts: ``("pool",)`` or one per member.
    premium : numpy.ndarray
        ``[accounts]``: covered premium (money a year).
    covered_loss, retained, paid : numpy.ndarray
        ``[accounts, years]``: the loss the ratio is measured on, the insurer's net loss before the
        fund and what the fund pays.
    level, cost_of_capital : float
        Of the capital figures: capital = TVaR at ``level`` less the mean of the insurer's net loss;
        the price effect is the change of ``E[net] + cost_of_capital x capital``.
    gross_up : float
        ``1 / (1 - v - q)`` of the covered business (variable expense and profit): the technical
        premium effect is the price effect times it.
    """

    scheme: RiskCompensation
    accounts: tuple
    premium: np.ndarray
    covered_loss: np.ndarray
    retained: np.ndarray
    paid: np.ndarray
    level: float = 0.99
    cost_of_capital: float = 0.10
    gross_up: float = 1.0

    @property
    def years(self) -> int:
        return int(self.paid.shape[1])

    @property
    def total_paid(self) -> np.ndarray:
        """Per year: what the fund pays over every account."""
        return self.paid.sum(axis=0)

    @property
    def net_after(self) -> np.ndarray:
        """``[accounts, years]``: the insurer's net loss after the fund."""
        return self.retained - self.paid

    def _exhausted(self, paid: np.ndarray) -> float:
        """The share of whole terms in which an account's multi-year cap is spent (to 1e-9 of it)."""
        cap, term = self.scheme.aggregate_cap, self.scheme.term_years
        whole = paid.shape[-1] // term
        if math.isinf(cap) or whole == 0:
            return 0.0
        used = paid[..., :whole * term].reshape(*paid.shape[:-1], whole, term).sum(axis=-1)
        return float(np.mean(used >= cap * (1.0 - 1e-9)))

    def summary(self) -> dict:
        """The scheme's figures (plain floats), each expectation with its standard error: the fund's
        expected outlay a year and per term, the probabilities that it pays, that the annual cap binds
        and that the multi-year cap is spent, and the insurer's expected net loss, TVaR and capital
        before and after the fund, with the price effect."""
        n = self.years
        before, after = self.retained.sum(axis=0), self.net_after.sum(axis=0)
        paid = self.total_paid
        claim_capped = np.isfinite(self.scheme.annual_cap) & (self.paid >= self.scheme.annual_cap * (1 - 1e-12))
        out = {"scheme": self.scheme.name, "basis": self.scheme.basis, "scope": self.scheme.scope,
               "accounts": len(self.accounts), "years": n, "term_years": self.scheme.term_years, "covered_premium": float(self.premium.sum()),
               "expected_outlay": float(paid.mean()), "expected_outlay_stderr": _stderr(paid),
               "expected_outlay_per_term": float(paid.mean() * self.scheme.term_years),
               "outlay_loss_ratio": float(paid.mean() / self.premium.sum()) if self.premium.sum() > 0 else math.nan,
               "prob_fund_pays": float(np.mean(paid > 0.0)),
               "prob_annual_cap_binds": float(np.mean(claim_capped.any(axis=0))),
               "prob_exhausted": self._exhausted(self.paid),
               "outlay_tvar": figures.tvar_equal(np.sort(paid), self.level)}
        for key, x in (("before", before), ("after", after)):
            s = np.sort(x)
            tvar = figures.tvar_equal(s, self.level)
            out[f"insurer_expected_net_{key}"] = float(x.mean())
            out[f"insurer_expected_net_{key}_stderr"] = _stderr(x)
            out[f"insurer_tvar_{key}"] = tvar
            out[f"insurer_tvar_{key}_stderr"] = figures.tvar_stderr_equal(s, self.level)
            out[f"insurer_capital_{key}"] = tvar - float(x.mean())
        out["capital_relief"] = out["insurer_capital_before"] - out["insurer_capital_after"]
        out["price_effect"] = -(float(paid.mean()) + self.cost_of_capital * out["capital_relief"])
        out["gross_up"] = self.gross_up
        out["technical_premium_effect"] = out["price_effect"] * self.gross_up
        out["level"], out["cost_of_capital"] = self.level, self.cost_of_capital
        return out

    def table(self) -> pd.DataFrame:
        """One row per account: covered premium, the fund's expected outlay (with its error), the
        probability it pays and that its multi-year cap is spent, the insurer's expected net loss before
        and after."""
        rows = []
        for k, name in enumerate(self.accounts):
            paid = self.paid[k]
            rows.append({"account": name, "covered_premium": float(self.premium[k]),
                         "expected_outlay": float(paid.mean()), "expected_outlay_stderr": _stderr(paid),
                         "prob_fund_pays": float(np.mean(paid > 0.0)),
                         "prob_exhausted": self._exhausted(paid[None, :]),
                         "expected_net_before": float(self.retained[k].mean()),
                         "expected_net_after": float(self.net_after[k].mean())})
        return pd.DataFrame(rows)

    def _figures(self) -> list:
        s = self.summary()
        return [Figure("scheme", s["scheme"], kind="text"), Figure("years", s["years"], kind="count"),
                Figure("expected outlay", s["expected_outlay"], s["expected_outlay_stderr"]),
                Figure("P(fund pays)", s["prob_fund_pays"], kind="share"),
                Figure("P(exhausted)", s["prob_exhausted"], kind="share"),
                Figure("capital relief", s["capital_relief"])]

    def __repr__(self) -> str:
        return short_repr("CompensationResult", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("CompensationResult: the public fund over the simulated years (± standard error)",
                            self._figures(), {"accounts": self.table()})


def apply_compensation(scheme: RiskCompensation, covered_loss, premium, *, retained=None, accounts=None,
                       level: float = 0.99, cost_of_capital: float = 0.10, gross_up: float = 1.0) -> CompensationResult:
    """Run a scheme over simulated years.

    Parameters
    ----------
    scheme : RiskCompensation
    covered_loss : array_like
        ``[years]`` or ``[accounts, years]``: the covered loss on the scheme's basis (net of the
        programme, or gross).
    premium : float or array_like
        Each account's covered premium (money a year).
    retained : array_like, optional
        The insurer's net loss (after the programme), shaped as ``covered_loss``; default
        ``covered_loss`` (no programme, or ``basis="net"``).
    accounts : sequence of str, optional
        The accounts' names (default ``pool``, or ``account 1..k``).
    level, cost_of_capital : float
        Of the capital and price-effect figures.
    gross_up : float
        ``1 / (1 - v - q)`` of the covered business, >= 1 (``CompensationResult.gross_up``).

    Examples
    --------
    >>> import numpy as np
    >>> s = RiskCompensation("fund", trigger_loss_ratio=1.0, share=0.5, annual_cap=30.0)
    >>> apply_compensation(s, np.array([50.0, 150.0, 300.0]), 100.0).paid.tolist()
    [[0.0, 25.0, 30.0]]
    """
    loss = np.atleast_2d(np.asarray(covered_loss, dtype=np.float64))
    kept = loss if retained is None else np.atleast_2d(np.asarray(retained, dtype=np.float64))
    paid = np.atleast_2d(compensation_payments(scheme, loss, premium, kept))
    level = validate.level("apply_compensation", "level", level)
    cost_of_capital = validate.real("apply_compensation", "cost_of_capital", cost_of_capital, low=0.0, high=1.0)
    gross_up = validate.real("apply_compensation", "gross_up", gross_up, low=1.0)
    names = tuple(accounts) if accounts is not None else (
        ("pool",) if loss.shape[0] == 1 else tuple(f"account {k + 1}" for k in range(loss.shape[0])))
    if len(names) != loss.shape[0]:
        raise InputError(f"apply_compensation: {len(names)} account names for {loss.shape[0]} accounts")
    prem = np.broadcast_to(np.asarray(premium, dtype=np.float64).reshape(-1), (loss.shape[0],)).copy()
    return CompensationResult(scheme=scheme, accounts=names, premium=prem, covered_loss=loss, retained=kept,
                              paid=paid, level=level, cost_of_capital=cost_of_capital,
                              gross_up=gross_up)


def _stderr(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
