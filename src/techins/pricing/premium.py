"""Technical premiums of a book of policies from its simulated annual losses.

Independent of the simulator: everything here works on plain float64 / int64 arrays.

Inputs (``n`` simulated years, ``m`` policies):

* ``book[y]`` -- the book's total loss in year ``y``;
* ``policy_sum[i] = sum_y X_iy`` and ``policy_sumsq[i] = sum_y X_iy**2`` -- per-policy running sums
  over all years (per-policy samples are too large to keep);
* ``policy_cross[i] = sum_y X_iy * book[y]`` -- optional, needed by the std / variance loads;
* the tail table ``(tail_year, tail_policy, tail_loss)``: the non-zero losses ``X_iy`` of every
  policy in every *tail year*, i.e. every year with ``book[y] >= VaR_p(book)`` (see ``tail_years``).

Definitions (all on the empirical law putting ``1/n`` on each year; VaR and TVaR are those of
``techins.results.figures``):

* risk loads of a sample: ``k sd``, ``k var`` (divisor ``n - 1``, as ``SimulationResult``),
  cost of capital ``r (TVaR_p - mean)`` or ``r (VaR_p - mean)``, Wang transform premium minus the mean
  (Wang 2000, J. Risk Insur. 67(1), 15-36);
* co-TVaR (Euler) allocation ``a_i = sum_y w_y X_iy`` with the TVaR weights of ``tail_weights``, so that
  ``sum_i a_i == tvar_equal(sort(book), p)`` (Tasche 2007, arXiv:0708.2542);
* gross-up ``P = (E[L] + load + fixed) / (1 - variable - profit)``;
* rate cap ``min(P, cap * sum_insured)`` and a public subsidy paying a share of the capped premium.

See ``docs/pricing.md`` for the formulas, the allocation rules per risk measure and the sources.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.lazy import lazy_module
from techins.pricing.allocation import (
    ADDITIVITY_RTOL,
    co_tvar_allocation,
    diversification_benefit,
    proportional_allocation,
    std_load_allocation,
    variance_load_allocation,
)
from techins.results import figures
from techins.simulation.api import book_tail_losses

stats = lazy_module("scipy.stats")

__all__ = [
    "price_portfolio",
    "line_capital_table",
    "RISK_MEASURES",
    "PricingBasis",
    "PremiumSplit",
    "std_load",
    "variance_load",
    "coc_load",
    "wang_premium",
    "wang_load",
    "book_risk_load",
    "technical_premium",
    "apply_cap_and_subsidy",
    "expected_loss_and_stderr",
    "book_figures",
    "price_book",
    "allocate_book",
    "premium_components",
]

RISK_MEASURES = ("std", "variance", "coc_tvar", "coc_var", "wang", "none")
_COC_MEASURES = ("coc_tvar", "coc_var")
# default level by measure: TVaR 99% (Swiss Solvency Test style), VaR 99.5% (Solvency II style)
_DEFAULT_LEVEL = {"coc_var": 0.995}
_DEFAULT_TVAR_LEVEL = 0.99


# ---------------------------------------------------------------------------------------- basis
@dataclass(frozen=True)
class PricingBasis:
    """How the technical premium is built from the simulated losses.

    Parameters
    ----------
    risk_measure : {"std", "variance", "coc_tvar", "coc_var", "wang", "none"}
        Measure behind the risk load.
    load : float
        ``k`` of the std / variance loads (>= 0); the cost-of-capital rate of ``coc_*`` (in [0, 1],
        e.g. 0.10); ``lambda`` of the Wang transform (>= 0). Ignored by ``"none"``.
    level : float, optional
        Probability level in (0, 1) of the capital: TVaR level for ``coc_tvar``, VaR level for
        ``coc_var``; also the level of the co-TVaR capital reported for every measure. Default 0.995
        for ``coc_var``, 0.99 otherwise.
    fixed_expense : float
        Money per policy, >= 0.
    variable_expense : float
        Share of the premium, in [0, 1).
    profit : float
        Share of the premium, in [0, 1); ``variable_expense + profit < 1``.
    rate_cap : float or None
        Largest premium as a share of sum insured, > 0; None for no cap.
    subsidy_share : float
        Share of the (capped) premium paid by a public subsidy, in [0, 1].

    Examples
    --------
    >>> PricingBasis("coc_tvar", load=0.10, variable_expense=0.25, profit=0.05).level
    0.99
    """

    risk_measure: str = "coc_tvar"
    load: float = 0.10
    level: float | None = None
    fixed_expense: float = 0.0
    variable_expense: float = 0.0
    profit: float = 0.0
    rate_cap: float | None = None
    subsidy_share: float = 0.0

    def __post_init__(self):
        owner = "PricingBasis"
        measure = _risk_measure(owner, self.risk_measure, RISK_MEASURES)
        object.__setattr__(self, "risk_measure", measure)
        # a rate above 100% is almost surely "10" typed for 10%
        high = 1.0 if measure in _COC_MEASURES else math.inf
        object.__setattr__(self, "load", validate.real(owner, "load", self.load, low=0.0, high=high))
        level = _DEFAULT_LEVEL.get(measure, _DEFAULT_TVAR_LEVEL) if self.level is None else self.level
        object.__setattr__(self, "level", validate.level(owner, "level", level))
        object.__setattr__(self, "fixed_expense", validate.real(owner, "fixed_expense", self.fixed_expense,
                                                                 low=0.0))
        variable, profit = _expense_ratios(owner, self.variable_expense, self.profit)
        object.__setattr__(self, "variable_expense", variable)
        object.__setattr__(self, "profit", profit)
        if self.rate_cap is not None:
            object.__setattr__(self, "rate_cap", validate.real(owner, "rate_cap", self.rate_cap, low=0.0,
                                                                low_open=True))
        object.__setattr__(self, "subsidy_share", validate.real(owner, "subsidy_share", self.subsidy_share,
                                                                 low=0.0, high=1.0))


@dataclass(frozen=True, eq=False)
class PremiumSplit:
    """Premium after the rate cap, and who pays it (arrays of the broadcast shape of the inputs).

    Attributes
    ----------
    technical : numpy.ndarray
        Technical premium before the cap.
    premium_cap : numpy.ndarray
        ``rate_cap * sum_insured``; ``inf`` without a cap.
    capped_premium : numpy.ndarray
        ``min(technical, premium_cap)``: the premium charged.
    cap_binding : numpy.ndarray of bool
        Whether the cap lowered the premium.
    shortfall : numpy.ndarray
        ``technical - capped_premium`` (>= 0): the inadequacy the cap leaves to the insurer.
    subsidy : numpy.ndarray
        ``subsidy_share * capped_premium``: paid by the public subsidy.
    insured_pays : numpy.ndarray
        ``capped_premium - subsidy``.
    """

    technical: np.ndarray
    premium_cap: np.ndarray
    capped_premium: np.ndarray
    cap_binding: np.ndarray
    shortfall: np.ndarray
    subsidy: np.ndarray
    insured_pays: np.ndarray


# ---------------------------------------------------------------------------------------- risk loads
def std_load(x, k: float) -> float:
    """``k * sd(x)``, the standard deviation with divisor ``n - 1`` (0 for one value).

    Examples
    --------
    >>> std_load([1.0, 3.0], 0.5)  # sd = sqrt(2)
    0.7071067811865476
    """
    x = _sample("std_load", x)
    k = validate.real("std_load", "k", k, low=0.0)
    return k * math.sqrt(figures.sample_variance(x))


def variance_load(x, k: float) -> float:
    """``k * var(x)``, the variance with divisor ``n - 1`` (0 for one value)."""
    x = _sample("variance_load", x)
    k = validate.real("variance_load", "k", k, low=0.0)
    return k * figures.sample_variance(x)


def coc_load(x, rate: float, measure: str = "coc_tvar", level: float | None = None) -> float:
    """Cost-of-capital load ``rate * capital``.

    ``capital = TVaR_level(x) - mean(x)`` for ``"coc_tvar"`` (level 0.99 by default) and
    ``VaR_level(x) - mean(x)`` for ``"coc_var"`` (level 0.995 by default), VaR and TVaR as in
    ``techins.results.figures``. The VaR capital can be negative at low levels; it is not floored.
    """
    owner = "coc_load"
    x = _sample(owner, x)
    rate = validate.real(owner, "rate", rate, low=0.0, high=1.0)
    measure = _risk_measure(owner, measure, _COC_MEASURES, name="measure")
    level = validate.level(owner, "level", _DEFAULT_LEVEL.get(measure, _DEFAULT_TVAR_LEVEL) if level is None else level)
    return rate * _capital(np.sort(x), measure, level)


def wang_premium(x, lam: float) -> float:
    """Wang transform premium of the empirical law of ``x``.

    ``sum_j x_(j) [g(S_{j-1}) - g(S_j)]`` over the sorted values, with ``S_j = (n - j) / n`` the
    empirical survival function just after the ``j``-th value and ``g(s) = Phi(Phi^{-1}(s) + lam)``.
    Ties need no care: the weights of tied values add up to ``g`` of the survival before them minus
    ``g`` of the survival after them.
    """
    x = np.sort(_sample("wang_premium", x))
    lam = validate.real("wang_premium", "lam", lam, low=0.0)
    n = x.size
    survival = (n - np.arange(n + 1, dtype=np.float64)) / n  # S_0 = 1, ..., S_n = 0
    # g(1) = Phi(inf) = 1 and g(0) = Phi(-inf) = 0 exactly; small s (the largest losses) keep full
    # relative precision because Phi and its inverse are evaluated in the lower tail there
    g = stats.norm.cdf(stats.norm.ppf(survival) + lam)
    return float(np.dot(g[:-1] - g[1:], x))


def wang_load(x, lam: float) -> float:
    """Wang transform premium minus the mean (``wang_premium``); 0 up to round-off for ``lam = 0``."""
    x = _sample("wang_load", x)
    return wang_premium(x, lam) - float(np.mean(x))


def book_risk_load(book, basis: PricingBasis) -> float:
    """Risk load of the book's annual losses under ``basis`` (``load`` is ``k``, the rate or lambda)."""
    if not isinstance(basis, PricingBasis):
        raise InputTypeError(f"book_risk_load: basis must be a PricingBasis, got {basis!r}")
    measure = basis.risk_measure
    if measure == "std":
        return std_load(book, basis.load)
    if measure == "variance":
        return variance_load(book, basis.load)
    if measure in _COC_MEASURES:
        return coc_load(book, basis.load, measure, basis.level)
    if measure == "wang":
        return wang_load(book, basis.load)
    return 0.0


# ---------------------------------------------------------------------------------------- premium
def technical_premium(expected_loss, risk_load, fixed_expense=0.0, variable_expense: float = 0.0,
                      profit: float = 0.0):
    """Gross-up ``(E[L] + load + fixed) / (1 - variable_expense - profit)``.

    Parameters
    ----------
    expected_loss, risk_load : float or array_like
        Finite; broadcast together.
    fixed_expense : float or array_like
        Money per policy, >= 0.
    variable_expense, profit : float
        Shares of the premium in [0, 1) with ``variable_expense + profit < 1``.

    Returns
    -------
    float or numpy.ndarray
        A float when every input is a scalar.

    Examples
    --------
    >>> round(technical_premium(1000.0, 200.0, 50.0, 0.25, 0.05), 3)
    1785.714
    """
    owner = "technical_premium"
    loss = _finite(owner, "expected_loss", expected_loss)
    load = _finite(owner, "risk_load", risk_load)
    fixed = _finite(owner, "fixed_expense", fixed_expense, low=0.0)
    variable, profit = _expense_ratios(owner, variable_expense, profit)
    premium = (loss + load + fixed) / (1.0 - variable - profit)
    return float(premium) if premium.ndim == 0 else premium


def apply_cap_and_subsidy(technical, sum_insured=None, rate_cap: float | None = None,
                          subsidy_share: float = 0.0) -> PremiumSplit:
    """Cap the premium at ``rate_cap * sum_insured`` and split it between the subsidy and the insured.

    Parameters
    ----------
    technical : float or array_like
        Technical premiums, finite.
    sum_insured : float or array_like, optional
        Finite and >= 0; needed when ``rate_cap`` is set.
    rate_cap : float or None
        Largest premium as a share of sum insured, > 0; None for no cap.
    subsidy_share : float
        Share of the capped premium paid by the subsidy, in [0, 1].

    Examples
    --------
    >>> s = apply_cap_and_subsidy(1785.0, 50_000.0, rate_cap=0.03, subsidy_share=0.8)
    >>> float(s.capped_premium), float(s.shortfall), float(s.subsidy), float(s.insured_pays)
    (1500.0, 285.0, 1200.0, 300.0)
    """
    owner = "apply_cap_and_subsidy"
    technical = _finite(owner, "technical", technical)
    share = validate.real(owner, "subsidy_share", subsidy_share, low=0.0, high=1.0)
    if rate_cap is None:
        cap = np.full(technical.shape, math.inf)
    else:
        rate_cap = validate.real(owner, "rate_cap", rate_cap, low=0.0, low_open=True)
        if sum_insured is None:
            raise InputError(f"{owner}: a rate_cap of {rate_cap!r} needs sum_insured")
        insured = _finite(owner, "sum_insured", sum_insured, low=0.0)
        technical, insured = _broadcast(owner, technical, insured, "technical", "sum_insured")
        cap = rate_cap * insured
    capped = np.minimum(technical, cap)
    subsidy = share * capped
    return PremiumSplit(technical=technical, premium_cap=cap, capped_premium=capped,
                        cap_binding=technical > cap, shortfall=technical - capped, subsidy=subsidy,
                        insured_pays=capped - subsidy)


# ---------------------------------------------------------------------------------------- allocation


def expected_loss_and_stderr(policy_sum, policy_sumsq, years: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean annual loss per policy and its Monte Carlo standard error from the running sums.

    ``mean = sum / n``, ``s^2 = (sumsq - sum * mean) / (n - 1)`` (floored at 0 against round-off),
    ``stderr = s / sqrt(n)`` -- the same estimator as ``SimulationResult.stderr("mean")``; 0 for one year.
    """
    owner = "expected_loss_and_stderr"
    total = validate.real_array(owner, "policy_sum", policy_sum)
    sumsq = validate.real_array(owner, "policy_sumsq", policy_sumsq, low=0.0)
    validate.same_length(owner, ("policy_sum", total), ("policy_sumsq", sumsq))
    n = validate.integer(owner, "years", years, low=1)
    mean = total / n
    if n < 2:
        return mean, np.zeros(total.size)
    var = np.maximum(sumsq - total * mean, 0.0) / (n - 1)
    return mean, np.sqrt(var / n)


# ---------------------------------------------------------------------------------------- tables
def book_figures(book, basis: PricingBasis, *, n_policies: int | None = None) -> pd.DataFrame:
    """One-row summary of the book: expected loss, its error, capital, risk load and premium.

    Columns: ``years, level, expected_loss, expected_loss_stderr, std, value_at_risk,
    tail_value_at_risk, capital`` (``TVaR_level - mean``), ``risk_measure, risk_load`` (the book's own
    load, ``book_risk_load``), ``fixed_expense`` (``n_policies * basis.fixed_expense``),
    ``variable_expense, profit`` (money) and ``technical_premium`` (before any cap: the cap applies
    policy by policy, see ``price_book``).

    ``n_policies`` is needed only when ``basis.fixed_expense > 0``.
    """
    owner = "book_figures"
    book = validate.real_array(owner, "book", book)
    if not isinstance(basis, PricingBasis):
        raise InputTypeError(f"{owner}: basis must be a PricingBasis, got {basis!r}")
    if n_policies is None:
        if basis.fixed_expense > 0.0:
            raise InputError(f"{owner}: a fixed_expense of {basis.fixed_expense!r} per policy needs "
                             f"n_policies")
        fixed = 0.0
    else:
        fixed = basis.fixed_expense * validate.integer(owner, "n_policies", n_policies, low=1)
    ordered = np.sort(book)
    mean = float(np.mean(book))
    n = book.size
    load = book_risk_load(book, basis)
    premium = technical_premium(mean, load, fixed, basis.variable_expense, basis.profit)
    row = {
        "years": n,
        "level": basis.level,
        "expected_loss": mean,
        "expected_loss_stderr": math.sqrt(figures.sample_variance(book) / n),
        "std": math.sqrt(figures.sample_variance(book)),
        "value_at_risk": figures.quantile_equal(ordered, basis.level),
        "tail_value_at_risk": figures.tvar_equal(ordered, basis.level),
        "capital": _capital(ordered, "coc_tvar", basis.level),
        "risk_measure": basis.risk_measure,
        "risk_load": load,
        "fixed_expense": fixed,
        "variable_expense": premium * basis.variable_expense,
        "profit": premium * basis.profit,
        "technical_premium": premium,
    }
    return pd.DataFrame([row])


def price_book(book, policy_sum, policy_sumsq, tail_year, tail_policy, tail_loss, basis: PricingBasis, *,
               policy_cross=None, sum_insured=None, policy_id=None) -> pd.DataFrame:
    """Technical premium of every policy, with each component, from the simulated losses.

    Parameters
    ----------
    book : array_like
        The book's loss in each of the ``n`` years.
    policy_sum, policy_sumsq : array_like
        Per policy, the sum over all years of its annual loss and of its square.
    tail_year, tail_policy, tail_loss : array_like
        The tail table at ``basis.level`` (see ``co_tvar_allocation``).
    basis : PricingBasis
    policy_cross : array_like, optional
        Per policy ``sum_y X_iy * book_y``; required by the ``std`` and ``variance`` measures.
    sum_insured : array_like, optional
        Per policy; required when ``basis.rate_cap`` is set.
    policy_id : array_like, optional
        Labels of the policies; ``0 .. m-1`` by default.

    Returns
    -------
    pandas.DataFrame
        One row per policy: ``policy_id, expected_loss, expected_loss_stderr, co_tvar,
        allocated_capital, risk_load, fixed_expense, variable_expense, profit, technical_premium,
        sum_insured, premium_cap, capped_premium, cap_binding, shortfall, subsidy, insured_pays``.

    Notes
    -----
    ``co_tvar`` is ``a_i`` of ``co_tvar_allocation`` at ``basis.level`` and ``allocated_capital`` is
    ``a_i - E[X_i]``, the policy's Euler share of ``TVaR - mean``. The risk load is allocated so that
    it sums to ``book_risk_load(book, basis)``:

    * ``coc_tvar``: ``rate * (a_i - E[X_i])`` (Euler);
    * ``std``: ``k Cov(X_i, S) / sd(S)`` (Euler); ``variance``: ``k Cov(X_i, S)`` (covariance principle);
    * ``coc_var`` and ``wang``: the book's load in proportion to ``allocated_capital``. Their Euler
      contributions need ``E[X_i | S = VaR]`` (one simulated year: too noisy) or the policy's loss in
      every year (not kept).
    * ``none``: 0.

    The variable expense and profit columns are money, so
    ``expected_loss + risk_load + fixed_expense + variable_expense + profit == technical_premium``.
    """
    owner = "price_book"
    allocated = allocate_book(book, policy_sum, policy_sumsq, tail_year, tail_policy, tail_loss, basis,
                              policy_cross=policy_cross)
    m = allocated["expected_loss"].size
    insured = (np.full(m, math.nan) if sum_insured is None
               else validate.real_array(owner, "sum_insured", sum_insured, low=0.0))
    validate.same_length(owner, ("policy_sum", allocated["expected_loss"]), ("sum_insured", insured))
    ids = np.arange(m) if policy_id is None else np.asarray(policy_id)
    if ids.shape != (m,):
        raise InputError(f"{owner}: policy_id must hold one label per policy ({m}), got shape {ids.shape}")
    premium = premium_components(allocated["expected_loss"], allocated["risk_load"], basis,
                                 cap_base=None if sum_insured is None else insured)
    return pd.DataFrame({"policy_id": ids, **allocated, **{k: premium[k] for k in _BEFORE_CAP},
                         "sum_insured": insured, **{k: premium[k] for k in _FROM_CAP}})


def allocate_book(book, policy_sum, policy_sumsq, tail_year, tail_policy, tail_loss, basis: PricingBasis, *,
                  policy_cross=None, ordered=None, check_additivity: bool = True) -> dict:
    """The first half of the pricing path: each policy's expected loss (with its Monte Carlo error),
    co-TVaR, allocated capital and allocated risk load under ``basis`` (see ``price_book``).

    ``ordered`` is ``np.sort(book)`` when the caller has it; ``check_additivity=False`` skips the check
    that the tail table adds up to the book (``co_tvar_allocation``), for a caller whose rows add up by
    construction (a quote: the book and the policy, whose sum is the book with the policy).

    Returns
    -------
    dict
        ``expected_loss, expected_loss_stderr, co_tvar, allocated_capital, risk_load``: one array each,
        one value per policy.
    """
    owner = "price_book"
    if not isinstance(basis, PricingBasis):
        raise InputTypeError(f"{owner}: basis must be a PricingBasis, got {basis!r}")
    book = validate.real_array(owner, "book", book)
    total = validate.real_array(owner, "policy_sum", policy_sum)
    mean, stderr = expected_loss_and_stderr(total, policy_sumsq, book.size)
    _check_total(owner, "policy_sum", total, book)
    co_tvar = co_tvar_allocation(book, total.size, tail_year, tail_policy, tail_loss, basis.level,
                                 check_additivity=check_additivity, ordered=ordered)
    capital = co_tvar - mean
    load = _allocated_load(owner, book, total, policy_cross, capital, basis)
    return {"expected_loss": mean, "expected_loss_stderr": stderr, "co_tvar": co_tvar, "allocated_capital": capital,
            "risk_load": load}


_BEFORE_CAP = ("fixed_expense", "variable_expense", "profit", "technical_premium")
_FROM_CAP = ("premium_cap", "capped_premium", "cap_binding", "shortfall", "subsidy", "insured_pays")


def premium_components(expected_loss, risk_load, basis: PricingBasis, cap_base=None) -> dict:
    """The second half of the pricing path, the same for a book's policies, a catalogue's products and
    a quote: the technical premium of each policy from its expected loss and risk load under ``basis``,
    then the rate cap and the subsidy.

    Parameters
    ----------
    expected_loss, risk_load : numpy.ndarray
        One value per policy.
    basis : PricingBasis
        Its expenses, profit, rate cap and subsidy share (its risk measure made ``risk_load``).
    cap_base : numpy.ndarray, optional
        What the rate cap is a share of (the sum insured, or the product's cap base); needed when
        ``basis.rate_cap`` is set.

    Returns
    -------
    dict
        One array per component: ``fixed_expense, variable_expense, profit, technical_premium`` (so
        ``expected_loss + risk_load + fixed_expense + variable_expense + profit == technical_premium``)
        and ``premium_cap, capped_premium, cap_binding, shortfall, subsidy, insured_pays``.
    """
    if not isinstance(basis, PricingBasis):
        raise InputTypeError(f"premium_components: basis must be a PricingBasis, got {basis!r}")
    expected_loss = np.asarray(expected_loss, dtype=np.float64)
    fixed = np.full(expected_loss.shape, basis.fixed_expense)
    technical = technical_premium(expected_loss, risk_load, fixed, basis.variable_expense, basis.profit)
    split = apply_cap_and_subsidy(technical, cap_base, basis.rate_cap, basis.subsidy_share)
    return {"fixed_expense": fixed, "variable_expense": technical * basis.variable_expense,
            "profit": technical * basis.profit, "technical_premium": technical, "premium_cap": split.premium_cap,
            "capped_premium": split.capped_premium, "cap_binding": split.cap_binding, "shortfall": split.shortfall,
            "subsidy": split.subsidy, "insured_pays": split.insured_pays}


# ---------------------------------------------------------------------------------------- helpers
def _allocated_load(owner: str, book: np.ndarray, total: np.ndarray, policy_cross, capital: np.ndarray,
                    basis: PricingBasis) -> np.ndarray:
    measure = basis.risk_measure
    if measure == "none":
        return np.zeros(total.size)
    if measure == "coc_tvar":
        return basis.load * capital
    if measure in ("std", "variance"):
        if policy_cross is None:
            raise InputError(f"{owner}: risk_measure {measure!r} needs policy_cross (per policy, the sum "
                             f"over years of its loss times the book loss) for its Euler allocation")
        cross = validate.real_array(owner, "policy_cross", policy_cross)
        validate.same_length(owner, ("policy_sum", total), ("policy_cross", cross))
        _check_total(owner, "policy_cross", cross, book * book)
        allocate = std_load_allocation if measure == "std" else variance_load_allocation
        return allocate(book, total, cross, basis.load)
    return proportional_allocation(book_risk_load(book, basis), capital)


def _capital(ordered: np.ndarray, measure: str, level: float) -> float:
    risk = (figures.tvar_equal(ordered, level) if measure == "coc_tvar"
            else figures.quantile_equal(ordered, level))
    return risk - float(np.mean(ordered))


def _sample(owner: str, x) -> np.ndarray:
    return validate.real_array(owner, "x", x)


def _risk_measure(owner: str, value, allowed: tuple, name: str = "risk_measure") -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{owner}: {name} must be a string, got {value!r} of type {type(value).__name__}")
    if value not in allowed:
        raise InputError(f"{owner}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _expense_ratios(owner: str, variable, profit) -> tuple[float, float]:
    variable = validate.real(owner, "variable_expense", variable, low=0.0, high=1.0, high_open=True)
    profit = validate.real(owner, "profit", profit, low=0.0, high=1.0, high_open=True)
    if variable + profit >= 1.0:
        raise InputError(f"{owner}: variable_expense + profit must be < 1 (the premium is divided by "
                         f"1 - variable_expense - profit), got {variable!r} + {profit!r} = {variable + profit!r}")
    return variable, profit


def _finite(owner: str, name: str, values, *, low: float = -math.inf) -> np.ndarray:
    """A float64 array of any shape (0-d for a scalar) of finite values >= ``low``."""
    if isinstance(values, (bool, np.bool_)) or (isinstance(values, numbers.Number)
                                                 and not isinstance(values, numbers.Real)):
        raise InputTypeError(f"{owner}: {name} must be real, got {values!r}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{owner}: {name} must be a real number or an array of them ({exc})") from None
    flat = arr.reshape(-1)
    bad = ~np.isfinite(flat)
    if bad.any():
        i = int(np.argmax(bad))
        where = "" if arr.ndim == 0 else f"[{i}]"
        raise InputError(f"{owner}: {name}{where} must be finite, got {float(flat[i])!r}")
    below = flat < low
    if below.any():
        i = int(np.argmax(below))
        where = "" if arr.ndim == 0 else f"[{i}]"
        raise InputError(f"{owner}: {name}{where} must be >= {low:g}, got {float(flat[i])!r}")
    return arr


def _broadcast(owner: str, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str):
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise InputError(f"{owner}: {name_a} (shape {a.shape}) and {name_b} (shape {b.shape}) do not "
                         f"match") from None


def _check_total(owner: str, name: str, parts: np.ndarray, whole_terms: np.ndarray) -> None:
    """Euler allocations add up only if the policies add up to the book: check the totals."""
    parts_total = float(np.sum(parts))
    whole_total = float(np.sum(whole_terms))
    scale = float(np.sum(np.abs(parts))) + float(np.sum(np.abs(whole_terms)))
    if abs(parts_total - whole_total) > ADDITIVITY_RTOL * scale:
        raise InputError(f"{owner}: {name} sums to {parts_total!r} over the policies but the book gives "
                         f"{whole_total!r}; the policies' losses must add up to the book's")


def price_portfolio(result, basis: PricingBasis, *, threads: int | None = None, backend: str = "local",
                    client=None, executor=None) -> pd.DataFrame:
    """Price every policy of a simulated book: ``price_book`` on a ``techins.simulate(portfolio)`` result.

    The policies' losses in the book's tail years (needed for the co-TVaR allocation) come from
    re-running the chunks that hold those years from their own seed streams, which reproduces the
    first run exactly (``techins.simulation.api.book_tail_losses``).

    Parameters
    ----------
    result : techins.BookResult
        ``techins.simulate(portfolio, years, seed)``.
    basis : PricingBasis
    threads : int, optional
        Numba threads for the re-run; the numbers do not depend on it.
    backend, client : optional
        Where the re-run goes: ``"local"``, or ``"dask"`` with a client or scheduler address (see
        ``techins.simulate``); the same numbers either way.
    executor : optional
        An executor already open, in place of ``backend``, ``client`` and ``threads``.

    Returns
    -------
    pandas.DataFrame
        One row per policy with every premium component (see ``price_book``), plus ``line``.
    """
    tail_year, tail_policy, tail_loss = book_tail_losses(result, basis.level, threads=threads, backend=backend,
                                                         client=client, executor=executor)
    arrays = result.portfolio.arrays
    sum_insured = arrays["sum_insured"] if basis.rate_cap is not None else None
    table = price_book(result.annual, result.policy_sum, result.policy_sumsq, tail_year, tail_policy, tail_loss,
                       basis, policy_cross=result.policy_cross, sum_insured=sum_insured,
                       policy_id=arrays["policy_id"])
    table.insert(1, "line", np.asarray(result.portfolio.line_names, dtype=object)[arrays["line"]])
    return table


def line_capital_table(result, priced: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
    """Per product line: standalone capital, capital allocated in the book, diversification benefit.

    Standalone capital is ``TVaR_p - mean`` of the line's own annual losses; allocated capital is the
    sum of its policies' Euler (co-TVaR) capitals from ``price_portfolio``; the benefit is their
    difference (>= 0 up to Monte Carlo noise, TVaR being subadditive).

    Parameters
    ----------
    result : techins.BookResult
    priced : pandas.DataFrame
        ``price_portfolio(result, basis)``.
    level : float, optional
        TVaR level; the level ``priced`` was allocated at (its basis level) should be used. Default 0.99.
    """
    level = validate.level("line_capital_table", "level", 0.99 if level is None else level)
    rows = []
    for name in result.portfolio.line_names:
        losses = np.sort(result.line_result(name).annual)
        standalone = figures.tvar_equal(losses, level) - float(losses.mean())
        allocated = float(priced.loc[priced["line"] == name, "allocated_capital"].sum())
        rows.append((name, standalone, allocated))
    table = pd.DataFrame(rows, columns=["line", "standalone_capital", "allocated_capital"])
    benefit = diversification_benefit(table.standalone_capital.to_numpy(), table.allocated_capital.to_numpy())
    table["diversification_benefit"] = benefit.per_policy
    return table
