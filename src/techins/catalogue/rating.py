"""Pricing a portfolio against the product catalogue: simulate its book, price every coverage row by
its product's basis, roll the rows up to policies, then apply each product's rate cap and subsidy.

Per policy *i* of product *p* (rows *r* its coverages, ``docs/products.md``):

* ``E[L_i] = sum_r E[L_r]`` from the simulated sums; its standard error from the policy's own annual
  losses (the contract sums of squares kept by the engine, so correlation between the coverages of a
  policy is in it);
* risk load and allocated capital: the rows' Euler shares of the book's load and capital under *p*'s
  basis (``techins.pricing.premium.price_book``), added up (Euler allocations are additive);
* ``technical = (E[L_i] + load_i + fixed_p) / (1 - variable_p - profit_p)``, then the cap
  ``min(technical, rate_cap_p x base_i)`` and the subsidy share of what is charged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins.catalogue.products import Catalogue, ProductBook
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.pricing.allocation import diversification_benefit
from techins.pricing.premium import PricingBasis, allocate_book, line_capital_table, premium_components
from techins.progress import announce, report
from techins.reinsurance.compensation import RiskCompensation, apply_compensation
from techins.results import figures
from techins.simulation.api import book_tail_losses, simulate
from techins.simulation.executor import open_executor
from techins.simulation.occurrences import annual_by_group

__all__ = ["PricedPortfolio", "price_catalogue", "RETURN_PERIODS"]

RETURN_PERIODS = (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
LINE_LEVEL = 0.99  # the TVaR level of the per-line table


@dataclass(frozen=True, eq=False)
class PricedPortfolio:
    """Everything ``techins price`` writes: tables (pandas) and the simulation they come from.

    Attributes
    ----------
    policies : pandas.DataFrame
        One row per policy: expected loss with its standard error, the closed-form expected loss before
        aggregate terms and scenarios, co-TVaR and allocated capital, risk load, expenses, profit,
        technical premium, rate-cap base, cap, charged premium, shortfall, subsidy, insured's part.
    coverages : pandas.DataFrame
        One row per policy and coverage: expected loss (simulated, with error, and closed form),
        allocated capital and risk load.
    lines : pandas.DataFrame
        Per line: expected loss, its error, standard deviation, TVaR with its error, standalone and
        allocated capital, diversification benefit, premiums.
    products : pandas.DataFrame
        Per product: policies, expected loss, premium components, cap and subsidy totals.
    ep_curves : pandas.DataFrame
        Aggregate exceedance (AEP) and TVaR by return period for the book and each line, with
        order-statistic intervals; occurrence (OEP) for the book.
    book : dict
        The book's figures (plain floats).
    result : techins.BookResult
    product_book : techins.catalogue.products.ProductBook
    """

    policies: pd.DataFrame
    coverages: pd.DataFrame
    lines: pd.DataFrame
    products: pd.DataFrame
    ep_curves: pd.DataFrame
    book: dict
    result: object
    product_book: ProductBook

    def _figures(self) -> list:
        b = self.book
        return [Figure("policies", b["policies"], kind="count"), Figure("years", b["years"], kind="count"),
                Figure("seed", b["seed"], kind="text"),
                Figure("expected loss", b["expected_loss"], b["expected_loss_stderr"]),
                Figure("TVaR 99%", b["tvar_99"], b["tvar_99_stderr"]),
                Figure("technical premium", b["technical_premium"]), Figure("charged", b["capped_premium"]),
                Figure("subsidy", b["subsidy"])]

    def __repr__(self) -> str:
        return short_repr("PricedPortfolio", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("PricedPortfolio: the book priced against the catalogue (± standard error)",
                            self._figures(), {"products": self.products, "lines": self.lines,
                                              "policies": self.policies})


def price_catalogue(catalogue: Catalogue, book: ProductBook, years: int, seed: int, *, threads: int | None = None,
                    progress=None, backend: str = "local", client=None, executor=None,
                    dependence=None) -> PricedPortfolio:
    """Simulate ``book`` and price every policy with its product's assumptions.

    Parameters
    ----------
    catalogue : techins.catalogue.products.Catalogue
    book : techins.catalogue.products.ProductBook
        ``catalogue.book(policies)``.
    years, seed : int
        The simulation (results are fixed by them, whatever ``threads``).
    threads : int, optional
    progress : callable, optional
        ``progress(done, total)`` over each phase's steps: the simulation's chunks, the tail re-run's
        chunks (once per allocation level), the allocation's bases; each phase announced first as
        ``progress.phase(name)`` when it has that method (``techins.progress``).
    backend : {"local", "dask"}
        Where the simulation and the co-TVaR re-run of its tail chunks go (``techins.simulate``); the
        prices are bit-identical either way.
    client : distributed.Client or str, optional
        With ``backend="dask"``: the cluster's client or its scheduler's address; a ``LocalCluster``
        for this call (both steps) when omitted.
    executor : optional
        An executor already open (``techins.simulation.executor.open_executor``), in place of
        ``backend``, ``client`` and ``threads``.
    dependence : Dependence, GammaFrailty or a list of them, optional
        Dependence between the book's lines (``techins.model.dependence``), in place of its own. A
        copula reaches the prices through the annual losses and the co-TVaR tail; a book priced with
        one cannot be saved for quoting (``save_snapshot`` refuses it).
    """
    if dependence is not None:
        book = dataclasses.replace(book, portfolio=book.portfolio.with_dependence(dependence))
    # one executor (one Dask cluster or connection) for the run and its tail re-runs
    with open_executor("price_catalogue", backend, client, threads, executor=executor) as run:
        result = simulate(book.portfolio, years, seed, progress=progress, executor=run)
        return _priced_portfolio(catalogue, book, result, run, progress)


def _priced_portfolio(catalogue: Catalogue, book: ProductBook, result, executor, progress=None) -> PricedPortfolio:
    policies = book.policies
    product_of_policy = policies["product"].astype(str).to_numpy()
    product_of_row = product_of_policy[book.row_policy]
    rows = _row_allocation(catalogue, book, result, product_of_row, executor, progress)
    contract = result.contract_table()
    # the book's contracts are the policies in first-appearance order of the rows; map them back
    contract_policy = np.empty(len(contract), dtype=np.int64)
    contract_policy[book.portfolio.arrays["contract"]] = book.row_policy
    priced = _policy_table(catalogue, book, rows, contract, contract_policy, product_of_policy)
    coverages = pd.DataFrame({
        "policy_id": policies["policy_id"].astype(str).to_numpy()[book.row_policy],
        "product": product_of_row,
        "coverage": book.row_coverage,
        "expected_loss": rows["expected_loss"],
        "expected_loss_stderr": rows["expected_loss_stderr"],
        "expected_loss_closed_form": book.expected_loss,
        "allocated_capital": rows["allocated_capital"],
        "risk_load": rows["risk_load"],
    })
    lines = _line_table(result, priced)
    return PricedPortfolio(policies=priced, coverages=coverages, lines=lines, products=_product_table(priced),
                           ep_curves=_ep_curves(result), book=_book_figures(result, priced), result=result,
                           product_book=book)


def _row_allocation(catalogue: Catalogue, book: ProductBook, result, product_of_row: np.ndarray,
                    executor, progress=None) -> dict:
    """Per coverage row: expected loss, error, co-TVaR, allocated capital and risk load, each row under
    its own product's measure (one allocation of the whole book per distinct measure, load and level;
    each row takes the one of its product)."""
    bases = _bases(catalogue, set(product_of_row))
    # the tail re-runs first (one per level, the long part), then the allocations: each its own phase
    tails = {}
    for basis in bases:
        if basis.level not in tails:
            tails[basis.level] = book_tail_losses(result, basis.level, executor=executor, progress=progress)
    announce(progress, "allocation")
    out = None
    for k, (basis, products) in enumerate(bases.items()):
        allocated = allocate_book(result.annual, result.policy_sum, result.policy_sumsq, *tails[basis.level], basis,
                                  policy_cross=result.policy_cross)
        report(progress, k + 1, len(bases))
        if out is None:
            out = allocated
            continue
        mine = np.isin(product_of_row, products)
        for name, values in allocated.items():
            out[name][mine] = values[mine]
    return out


def _bases(catalogue: Catalogue, used: set) -> dict:
    """Distinct allocation bases (measure, load, level; no expenses: they are per policy) -> products."""
    bases = {}
    for pid in sorted(used):
        p = catalogue[pid].pricing
        basis = PricingBasis(p.risk_measure, load=p.load, level=p.level)
        bases.setdefault(basis, []).append(pid)
    return bases


def _policy_table(catalogue: Catalogue, book: ProductBook, rows: pd.DataFrame, contract: pd.DataFrame,
                  contract_policy: np.ndarray, product_of: np.ndarray) -> pd.DataFrame:
    policies = book.policies
    n = len(policies)

    def by_policy(values):
        return np.bincount(book.row_policy, weights=np.asarray(values, dtype=np.float64), minlength=n)

    stderr = np.empty(n)
    stderr[contract_policy] = contract["expected_loss_stderr"].to_numpy()
    table = pd.DataFrame({
        "policy_id": policies["policy_id"].astype(str).to_numpy(),
        "product": product_of,
        "line": [catalogue[p].line for p in product_of],
        "currency": [catalogue[p].currency for p in product_of],
        "expected_loss": by_policy(rows["expected_loss"]),
        "expected_loss_stderr": stderr,
        "expected_loss_closed_form": by_policy(book.expected_loss),
        "co_tvar": by_policy(rows["co_tvar"]),
        "allocated_capital": by_policy(rows["allocated_capital"]),
        "risk_load": by_policy(rows["risk_load"]),
    })
    columns = {name: np.full(n, math.nan) for name in
               ("fixed_expense", "variable_expense", "profit", "technical_premium", "rate_cap", "rate_cap_base",
                "premium_cap", "capped_premium", "shortfall", "subsidy", "insured_pays")}
    cap_binding = np.zeros(n, dtype=bool)
    for pid in sorted(set(product_of)):
        mine = np.flatnonzero(product_of == pid)
        p = catalogue[pid].pricing
        base = None if p.rate_cap is None else book.rate_cap_base[mine]
        premium = premium_components(table["expected_loss"].to_numpy()[mine], table["risk_load"].to_numpy()[mine],
                                     p.basis(), cap_base=base)
        premium["rate_cap"] = math.nan if p.rate_cap is None else p.rate_cap
        premium["rate_cap_base"] = math.nan if base is None else base
        for name in columns:
            columns[name][mine] = premium[name]
        cap_binding[mine] = premium["cap_binding"]
    for name, values in columns.items():
        table[name] = values
    table.insert(table.columns.get_loc("shortfall"), "cap_binding", cap_binding)
    return table


def _line_table(result, priced: pd.DataFrame) -> pd.DataFrame:
    """Per line: the book result's line figures and capitals (``BookResult.line_table``,
    ``pricing.line_capital_table``) with the line's policies and premiums."""
    table = result.line_table(LINE_LEVEL).merge(line_capital_table(result, priced, LINE_LEVEL), on="line")
    grouped = priced.groupby("line")
    table.insert(1, "policies", grouped.size().reindex(table["line"]).to_numpy())
    premiums = grouped[["technical_premium", "capped_premium", "subsidy"]].sum().reindex(table["line"])
    for column in premiums.columns:
        table[column] = premiums[column].to_numpy()
    benefit = diversification_benefit(table["standalone_capital"].to_numpy(), table["allocated_capital"].to_numpy())
    table.attrs["diversification_ratio"] = benefit.ratio
    return table


def _product_table(priced: pd.DataFrame) -> pd.DataFrame:
    money = ["expected_loss", "risk_load", "fixed_expense", "variable_expense", "profit", "technical_premium",
             "capped_premium", "shortfall", "subsidy", "insured_pays"]
    grouped = priced.groupby(["product", "line"], sort=True)
    table = grouped[money].sum().reset_index()
    table.insert(2, "policies", grouped.size().to_numpy())
    table["cap_binding"] = grouped["cap_binding"].sum().to_numpy()
    table["loss_ratio"] = table["expected_loss"] / table["capped_premium"]
    return table


def _ep_curves(result) -> pd.DataFrame:
    parts = []
    book = result.ep_curve(RETURN_PERIODS)
    book.insert(0, "scope", "book")
    parts.append(book)
    for name in result.portfolio.line_names:
        losses = np.sort(result.line_result(name).annual)
        rows = []
        for t in RETURN_PERIODS:
            if t > losses.size:
                continue
            p = 1.0 - 1.0 / t
            rows.append({"scope": name, "return_period": float(t), "exceedance_prob": 1.0 / t,
                         "aep": figures.quantile_equal(losses, p), "aep_tvar": figures.tvar_equal(losses, p)})
        parts.append(pd.DataFrame(rows))
    return pd.concat(parts, ignore_index=True)


def _book_figures(result, priced: pd.DataFrame) -> dict:
    return {
        "years": result.years, "seed": result.seed, "policies": int(len(priced)),
        "coverage_rows": int(result.portfolio.n_policies), "scenarios": len(result.portfolio.shocks),
        "expected_loss": result.mean(), "expected_loss_stderr": result.stderr("mean"),
        "std": result.std(), "var_99_5": result.quantile(0.995), "var_99_5_stderr": result.stderr("quantile", 0.995),
        "tvar_99": result.tvar(0.99), "tvar_99_stderr": result.stderr("tvar", 0.99),
        "technical_premium": float(priced["technical_premium"].sum()),
        "capped_premium": float(priced["capped_premium"].sum()),
        "subsidy": float(priced["subsidy"].sum()), "shortfall": float(priced["shortfall"].sum()),
        "insured_pays": float(priced["insured_pays"].sum()),
    }


def priced_compensation(priced: PricedPortfolio, scheme, *, level: float = 0.99,
                        cost_of_capital: float = 0.10, executor=None, progress=None):
    """A public risk-compensation scheme over a priced book (``techins price --compensation``).

    The covered loss is the annual loss of the scheme's lines (catalogue lines or product ids; every
    line when it names none) and the covered premium their policies' charged premium (capped, the
    subsidy included); ``executor`` runs the re-draw a scheme on products needs. With no
    programme the net is the gross, so ``basis`` and ``scope`` make no difference here (one account).

    Parameters
    ----------
    priced : PricedPortfolio
    scheme : techins.RiskCompensation
    level, cost_of_capital : float
        Of the capital relief and the price effect (``CompensationResult.summary``).
    executor, progress : optional
        Where the re-draw runs, and its progress (``"occurrences"``, ``techins.progress``).

    Returns
    -------
    techins.CompensationResult
        With ``gross_up`` from the covered policies' variable expense and profit (their share of the
        technical premium), so ``summary()["technical_premium_effect"]`` is the price effect on the
        technical premium.
    """
    if not isinstance(scheme, RiskCompensation):
        raise InputTypeError(f"priced_compensation: scheme must be a RiskCompensation, got {type(scheme).__name__}")
    names = list(priced.result.portfolio.line_names)
    products = sorted(set(priced.policies["product"].astype(str)))
    unknown = [x for x in scheme.lines if x not in names and x not in products]
    if unknown:
        raise InputError(f"{scheme.source}: [compensation] lines names {unknown[0]!r}, which is neither a line nor "
                         f"a product of the priced book; its lines are {names} and its products {products}")
    line_of = priced.policies["line"].astype(str).to_numpy()
    product_of = priced.policies["product"].astype(str).to_numpy()
    in_scope = (np.isin(line_of, [line for line in names if scheme.covers(line)])
                | np.isin(product_of, list(scheme.lines)))
    if all(x in names for x in scheme.lines):
        loss = priced.result.line_annual[[k for k, line in enumerate(names) if scheme.covers(line)]].sum(axis=0)
    else:  # products: their own annual losses, from the book's occurrences drawn again
        rows = in_scope[priced.product_book.row_policy].astype(np.int64)
        loss = _padded_rows(annual_by_group(priced.result, rows, executor=executor, progress=progress), 2)[1]
    premium = float(priced.policies["capped_premium"].to_numpy()[in_scope].sum())
    p = priced.policies[in_scope]
    technical = float(p["technical_premium"].sum())
    loaded = float((p["variable_expense"] + p["profit"]).sum())
    gross_up = 1.0 / (1.0 - loaded / technical) if technical > 0 else 1.0
    return apply_compensation(scheme, loss, premium, accounts=("book",), level=level, cost_of_capital=cost_of_capital,
                              gross_up=gross_up)


def _padded_rows(values: np.ndarray, n: int) -> np.ndarray:
    # a group with no loss at the top of the range is absent from the sums
    if values.shape[0] >= n:
        return values
    return np.vstack([values, np.zeros((n - values.shape[0], values.shape[1]))])
