"""Allocation: how a book's capital and risk load are shared among its parts, one room for pricing and
for the pool.

The parts are a book's policies (pricing) or a pool's members (the pool); the rules are the same:

* **Euler (co-TVaR)**: part ``i`` gets ``E[X_i | S in the TVaR tail] - E[X_i] = sum_y w_y X_iy - E[X_i]``
  with ``w`` the ``tail_weights`` of the total ``S``; the parts add up to ``TVaR_p(S) - E[S]``
  (Tasche 2007, "Capital allocation to business units and sub-portfolios: the Euler principle").
* **Covariance** for the standard-deviation and variance loads: ``k Cov(X_i, S) / sd(S)`` and
  ``k Cov(X_i, S)``, the Euler gradients of ``k sd`` and (halved) ``k var``.
* **Proportional**: ``total * key_i / sum(keys)`` (``proportional_allocation``): keys are finite;
  they may be negative (an Euler capital can be); when they sum to 0 the total must be 0 too and every
  part gets 0, otherwise there is no proportion to share by and it is an error.
* **Standalone**: ``C_i = TVaR_p(X_i) - E[X_i]``; the total's ``C = TVaR_p(S) - E[S]`` and the
  diversification benefit ``D = sum_i C_i - C >= 0`` (TVaR is subadditive).
* **Shapley** value of the diversification benefit: the game ``v(T) = sum_{i in T} C_i - C(T)`` over
  coalitions ``T`` of a pool's members; ``phi_i`` averages member i's marginal benefit over all orders
  of joining (Shapley 1953; Denault 2001, *Journal of Risk* 4(1)). Exact over all ``2**m`` coalitions
  up to ``EXACT_UP_TO`` members (a parallel kernel); beyond, the average over random orders with its
  standard error. ``sum_i phi_i = D``; a member's capital in the pool is ``C_i - phi_i``.

Every method allocates the whole total (tests check the sums).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.errors import InputError
from techins.kernels import allocation as kernels
from techins.progress import report
from techins.results import figures

__all__ = ["ADDITIVITY_RTOL", "EXACT_UP_TO", "DiversificationBenefit", "tail_years", "tail_weights",
           "co_tvar_allocation", "covariance_with_book", "std_load_allocation", "variance_load_allocation",
           "proportional_allocation", "diversification_benefit", "standalone_capitals", "pool_capital",
           "euler_allocation", "coalition_capitals", "shapley_benefit", "allocation_table"]

# float sums of the same terms in another order differ by about (terms) x eps x sum|terms|;
# 1e-8 leaves a wide margin for 1e6 years or policies and still catches a missing policy or year
ADDITIVITY_RTOL = 1e-8
EXACT_UP_TO = 12  # members up to which Shapley values are computed exactly (2**12 coalitions)
ORDERS_PER_REPORT = 50  # sampled Shapley orders between two progress reports (each order is m TVaRs)


@dataclass(frozen=True, eq=False)
class DiversificationBenefit:
    """Standalone minus allocated capital.

    Attributes
    ----------
    per_policy : numpy.ndarray
        ``standalone_i - allocated_i``.
    total : float
        ``sum standalone - sum allocated``.
    ratio : float
        ``total / sum standalone``; NaN when the standalone capitals sum to 0.
    """

    per_policy: np.ndarray
    total: float
    ratio: float


def tail_years(book, level: float, *, ordered=None) -> np.ndarray:
    """Indices of the years whose book loss is at or above ``VaR_level(book)``: the years for which
    the simulator must report every policy's loss (the rows of the tail table). ``ordered`` is
    ``np.sort(book)`` when the caller has it (a sort saved)."""
    book = validate.real_array("tail_years", "book", book)
    level = validate.level("tail_years", "level", level)
    q = figures.quantile_equal(_ordered("tail_years", book, ordered), level)
    return np.flatnonzero(book >= q)


def _ordered(owner: str, book: np.ndarray, ordered) -> np.ndarray:
    if ordered is None:
        return np.sort(book)
    if not isinstance(ordered, np.ndarray) or ordered.shape != book.shape:
        raise InputError(f"{owner}: ordered must be the book sorted, an array of shape {book.shape}")
    return ordered


def tail_weights(book, level: float, *, ordered=None) -> np.ndarray:
    """Weight of each year in ``TVaR_level(book)``, so that ``TVaR = sum_y w_y book_y``.

    With ``q = VaR_level(book)`` (``figures.quantile_equal``) and ``n`` years:

    * years with ``book > q`` get ``1 / (n (1 - p))``;
    * the years with ``book == q`` share equally ``(F_n(q) - p) / (1 - p)`` (floored at 0), the
      weight of the VaR atom in ``figures.tvar_equal``;
    * all other years get 0.

    The weights sum to 1 (up to round-off) and ``sum_y w_y book_y == tvar_equal(sort(book), p)``.
    Equal shares among the years at ``q`` make the allocation symmetric: it does not depend on how
    the years tied with the VaR are ordered.
    """
    owner = "tail_weights"
    book = validate.real_array(owner, "book", book)
    p = validate.level(owner, "level", level)
    n = book.size
    ordered = _ordered(owner, book, ordered)
    q = figures.quantile_equal(ordered, p)
    at_or_below = int(np.searchsorted(ordered, q, side="right"))
    above = book > q
    at = book == q
    weights = np.zeros(n)
    weights[above] = 1.0 / (n * (1.0 - p))
    # the same atom weight as figures.tvar_equal, max(F(q) - p, 0) / (1 - p), split over the tied years
    weights[at] = max(at_or_below / n - p, 0.0) / (1.0 - p) / int(np.count_nonzero(at))
    return weights


def co_tvar_allocation(book, n_policies: int, tail_year, tail_policy, tail_loss, level: float, *,
                       check_additivity: bool = True, ordered=None) -> np.ndarray:
    """Euler (co-TVaR) allocation ``a_i = E[X_i | S in the TVaR tail] = sum_y w_y X_iy``.

    ``w`` are the ``tail_weights`` of the book, so ``sum_i a_i == tvar_equal(sort(book), level)`` when
    every tail year's policy losses add up to that year's book loss.

    Parameters
    ----------
    book : array_like
        The book's loss in each of the ``n`` years.
    n_policies : int
        Number of policies ``m`` (allocations are returned for policies ``0 .. m-1``).
    tail_year, tail_policy : array_like of int
        Year index in ``[0, n)`` and policy index in ``[0, m)`` of each row of the tail table; rows may
        be omitted for zero losses; repeated (year, policy) rows add up. Rows of years outside the tail
        get weight 0.
    tail_loss : array_like of float
        The policy's loss in that year.
    level : float
        TVaR level ``p`` in (0, 1).
    check_additivity : bool
        Check that each year of positive weight has rows adding up to its book loss (a missing year or
        policy would otherwise silently bias the allocation); turn off to allocate to a sub-portfolio.
    ordered : numpy.ndarray, optional
        ``np.sort(book)`` when the caller has it (a sort saved).

    Returns
    -------
    numpy.ndarray
        ``a_i``, one per policy; the policy's Euler capital is ``a_i - E[X_i]``.
    """
    owner = "co_tvar_allocation"
    book = validate.real_array(owner, "book", book)
    n_policies = validate.integer(owner, "n_policies", n_policies, low=1)
    n = book.size
    years = validate.index_array(owner, "tail_year", tail_year, n)
    policies = validate.index_array(owner, "tail_policy", tail_policy, n_policies)
    losses = validate.real_array(owner, "tail_loss", tail_loss, min_size=0)
    if not years.size == policies.size == losses.size:
        raise InputError(f"{owner}: tail_year, tail_policy and tail_loss must have the same length, got "
                         f"{years.size}, {policies.size} and {losses.size}")
    weights = tail_weights(book, level, ordered=ordered)
    if check_additivity:
        _check_tail_additivity(owner, book, weights, years, losses)
    return np.bincount(policies, weights=weights[years] * losses, minlength=n_policies)


def covariance_with_book(book, policy_sum, policy_cross) -> np.ndarray:
    """``Cov(X_i, S)`` with divisor ``n - 1`` from the running sums (0 for one year).

    ``(sum_y X_iy S_y - sum_y X_iy * mean(S)) / (n - 1)``; summed over the policies it is the book's
    variance with divisor ``n - 1`` when the policies add up to the book.
    """
    owner = "covariance_with_book"
    book = validate.real_array(owner, "book", book)
    total = validate.real_array(owner, "policy_sum", policy_sum)
    cross = validate.real_array(owner, "policy_cross", policy_cross)
    validate.same_length(owner, ("policy_sum", total), ("policy_cross", cross))
    n = book.size
    if n < 2:
        return np.zeros(total.size)
    return (cross - total * float(np.mean(book))) / (n - 1)


def std_load_allocation(book, policy_sum, policy_cross, k: float) -> np.ndarray:
    """Euler allocation of ``k sd(S)``: ``k Cov(X_i, S) / sd(S)``; sums to ``std_load(book, k)``."""
    k = validate.real("std_load_allocation", "k", k, low=0.0)
    cov = covariance_with_book(book, policy_sum, policy_cross)
    sd = math.sqrt(figures.sample_variance(np.asarray(book, dtype=np.float64)))
    # a constant book has no risk to allocate (and 0/0 would raise under warnings-as-errors)
    return k * cov / sd if sd > 0.0 else np.zeros(cov.size)


def variance_load_allocation(book, policy_sum, policy_cross, k: float) -> np.ndarray:
    """Covariance allocation of ``k var(S)``: ``k Cov(X_i, S)``; sums to ``variance_load(book, k)``.

    The variance is homogeneous of degree 2, so this is the Euler gradient ``d var / d u_i = 2 Cov``
    scaled by 1/2 -- the covariance principle.
    """
    k = validate.real("variance_load_allocation", "k", k, low=0.0)
    return k * covariance_with_book(book, policy_sum, policy_cross)


def proportional_allocation(total: float, keys) -> np.ndarray:
    """``total * key_i / sum(keys)``: the whole ``total`` shared in proportion to finite ``keys``
    (shares, standalone capitals, Euler capitals; a key may be negative). Keys that sum to 0 give
    every part 0 when ``total`` is 0 and are refused otherwise."""
    owner = "proportional_allocation"
    total = validate.real(owner, "total", total)
    keys = validate.real_array(owner, "keys", keys)
    key_sum = float(np.sum(keys))
    if key_sum == 0.0:
        if total != 0.0:
            raise InputError(f"{owner}: the keys sum to 0, so {total!r} cannot be shared in proportion to them; "
                             f"give keys with a non-zero sum")
        return np.zeros(keys.size)
    return total * keys / key_sum


def diversification_benefit(standalone_capitals, allocated_capitals) -> DiversificationBenefit:
    """Standalone capitals minus allocated (e.g. Euler) capitals, per policy and in total.

    For a subadditive measure such as TVaR the Euler capital never exceeds the standalone one
    (Tasche 2007), so the benefits are >= 0 up to Monte Carlo noise.
    """
    owner = "diversification_benefit"
    standalone = validate.real_array(owner, "standalone_capitals", standalone_capitals)
    allocated = validate.real_array(owner, "allocated_capitals", allocated_capitals)
    validate.same_length(owner, ("standalone_capitals", standalone), ("allocated_capitals", allocated))
    total_standalone = float(np.sum(standalone))
    total = total_standalone - float(np.sum(allocated))
    ratio = total / total_standalone if total_standalone != 0.0 else math.nan
    return DiversificationBenefit(per_policy=standalone - allocated, total=total, ratio=ratio)


def _check_tail_additivity(owner: str, book: np.ndarray, weights: np.ndarray, years: np.ndarray,
                           losses: np.ndarray) -> None:
    n = book.size
    year_sum = np.bincount(years, weights=losses, minlength=n)
    year_abs = np.bincount(years, weights=np.abs(losses), minlength=n)
    tolerance = ADDITIVITY_RTOL * (np.abs(book) + year_abs)
    bad = (weights > 0.0) & (np.abs(year_sum - book) > tolerance)
    if bad.any():
        y = int(np.argmax(bad))
        raise InputError(f"{owner}: tail year {y} has book loss {float(book[y])!r} but its policy losses "
                         f"sum to {float(year_sum[y])!r}; the tail table must hold every policy's loss in "
                         f"every year with book loss >= VaR (see tail_years)")


def _parts(owner: str, parts) -> np.ndarray:
    arr = np.asarray(parts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 2:
        raise InputError(f"{owner}: parts must be a [members, years] array with at least 2 years, got shape "
                         f"{arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, y = np.argwhere(bad)[0]
        raise InputError(f"{owner}: parts[{i}, {y}] must be finite, got {arr[i, y]!r}")
    return np.ascontiguousarray(arr)


def _standalone(x: np.ndarray, level: float) -> float:
    return figures.tvar_equal(np.sort(x), level) - float(x.mean())


def standalone_capitals(parts, level: float = 0.99) -> np.ndarray:
    """``TVaR_p(X_i) - E[X_i]`` of each member alone."""
    parts = _parts("standalone_capitals", parts)
    level = figures.check_level("standalone_capitals", level, upper_open=True)
    return np.array([_standalone(x, level) for x in parts])


def pool_capital(parts, level: float = 0.99) -> float:
    """``TVaR_p(S) - E[S]`` of the pool's total ``S = sum_i X_i``."""
    parts = _parts("pool_capital", parts)
    return _standalone(parts.sum(axis=0), figures.check_level("pool_capital", level, upper_open=True))


def euler_allocation(parts, level: float = 0.99) -> np.ndarray:
    """Euler (co-TVaR) capital of each member: ``sum_y w_y X_iy - E[X_i]``; sums to ``pool_capital``."""
    parts = _parts("euler_allocation", parts)
    weights = tail_weights(parts.sum(axis=0), level)
    return parts @ weights - parts.mean(axis=1)


def coalition_capitals(parts, level: float = 0.99) -> np.ndarray:
    """``C(T)`` for every coalition ``T`` given as a bit mask ``0 .. 2**m - 1`` (``C(empty) = 0``)."""
    parts = _parts("coalition_capitals", parts)
    m, n = parts.shape
    if m > 20:
        raise InputError(f"coalition_capitals: {m} members make 2**{m} coalitions; use sampled Shapley values")
    level = figures.check_level("coalition_capitals", level, upper_open=True)
    tvars = kernels.coalition_tvars(parts, _kth(n, level), level, min(1 << m, 64))
    means = parts.mean(axis=1)
    masks = np.arange(1 << m)
    bits = (masks[:, None] >> np.arange(m)) & 1
    return np.where(masks > 0, tvars - bits @ means, 0.0)


def shapley_benefit(parts, level: float = 0.99, *, exact_up_to: int = EXACT_UP_TO, orders: int = 2000,
                    seed: int = 0, progress=None) -> tuple[np.ndarray, np.ndarray, str]:
    """Shapley value of the diversification benefit ``v(T) = sum_{i in T} C_i - C(T)``.

    Returns ``(phi, stderr, method)``: exact (``stderr`` zeros) up to ``exact_up_to`` members, else the
    mean marginal benefit over ``orders`` random joining orders drawn from ``seed`` and its standard
    error. ``progress(done, total)`` (``techins.progress``): once when the exact values are done (one
    kernel call over every coalition), or per block of ``ORDERS_PER_REPORT`` sampled orders.
    """
    parts = _parts("shapley_benefit", parts)
    level = figures.check_level("shapley_benefit", level, upper_open=True)
    m = parts.shape[0]
    standalone = np.array([_standalone(x, level) for x in parts])
    if m <= validate.integer("shapley_benefit", "exact_up_to", exact_up_to, low=1, high=20):
        capital = coalition_capitals(parts, level)
        masks = np.arange(1 << m)
        bits = (masks[:, None] >> np.arange(m)) & 1
        value = bits @ standalone - capital
        size = bits.sum(axis=1)
        # weight of a coalition of k others joined by i: k! (m - k - 1)! / m!
        weight = np.array([math.factorial(k) * math.factorial(m - k - 1) for k in range(m)]) / math.factorial(m)
        phi = np.zeros(m)
        for i in range(m):  # a loop over members, each vectorised over the coalitions without i
            without = masks[bits[:, i] == 0]
            phi[i] = float(np.sum(weight[size[without]] * (value[without | (1 << i)] - value[without])))
        report(progress, 1, 1)
        return phi, np.zeros(m), "exact"
    orders = validate.integer("shapley_benefit", "orders", orders, low=2)
    rng = np.random.default_rng(validate.integer("shapley_benefit", "seed", seed, low=0))
    kth = _kth(parts.shape[1], level)
    scratch = np.empty(parts.shape[1])
    means = parts.mean(axis=1)
    marginal = np.empty((orders, m))
    for r in range(orders):  # one pass per order: m coalition capitals, each O(years)
        total = np.zeros(parts.shape[1])
        previous_value, mean_sum, standalone_sum = 0.0, 0.0, 0.0
        for i in rng.permutation(m):
            total += parts[i]
            mean_sum += means[i]
            standalone_sum += standalone[i]
            value = standalone_sum - (kernels.tvar_of(total, scratch, kth, level) - mean_sum)
            marginal[r, i] = value - previous_value
            previous_value = value
        if progress is not None and ((r + 1) % ORDERS_PER_REPORT == 0 or r + 1 == orders):
            progress(r + 1, orders)
    return marginal.mean(axis=0), marginal.std(axis=0, ddof=1) / math.sqrt(orders), f"sampled ({orders} orders)"


def allocation_table(parts, names, level: float = 0.99, *, shares=None, progress=None, **shapley) -> pd.DataFrame:
    """Per member: standalone capital, capital allocated in the pool by each method, the Shapley value
    of the diversification benefit (with its error) and the capital it leaves the member; a last row
    ``pool`` with the totals (every method allocates the pool's whole capital). ``progress``: the
    Shapley values' (``shapley_benefit``), the long part."""
    parts = _parts("allocation_table", parts)
    names = [str(n) for n in names]
    if len(names) != parts.shape[0]:
        raise InputError(f"allocation_table: {len(names)} names for {parts.shape[0]} members")
    level = figures.check_level("allocation_table", level, upper_open=True)
    standalone = standalone_capitals(parts, level)
    total = pool_capital(parts, level)
    phi, stderr, method = shapley_benefit(parts, level, progress=progress, **shapley)
    table = pd.DataFrame({
        "member": names,
        "expected_loss": parts.mean(axis=1),
        "standalone_capital": standalone,
        "proportional_to_standalone": proportional_allocation(total, standalone),
        "euler_capital": euler_allocation(parts, level),
        "shapley_benefit": phi,
        "shapley_benefit_stderr": stderr,
        "shapley_capital": standalone - phi,
    })
    if shares is not None:
        table.insert(4, "proportional_to_share", proportional_allocation(total, shares))
    totals = table.drop(columns=["member", "shapley_benefit_stderr"]).sum()
    totals["standalone_capital"] = standalone.sum()
    row = {"member": "pool", **totals.to_dict(), "shapley_benefit_stderr": math.nan}
    table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    table.attrs.update(level=level, pool_capital=total, diversification_benefit=standalone.sum() - total,
                       shapley_method=method)
    return table


def _kth(n: int, level: float) -> int:
    # the VaR order statistic of figures.quantile_equal, 0-based
    k = math.ceil(n * level * (1.0 - 4.0 * np.finfo(float).eps))
    return min(max(k, 1), n) - 1
