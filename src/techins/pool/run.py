"""A co-insurance pool run end to end: its book simulated and priced, its reinsurance programme
applied, each member's money year by year, and capital allocated (``techins pool POOL.toml``).

Data flow: the pool file (``techins.pool.spec.read_pool``) -> the policies (one portfolio and/or the
books members bring) -> the catalogue's book -> priced (or a written-premium column) and simulated
-> the programme over the occurrences, by line and by contributor (``apply_programme`` with
groups) -> each treaty's premium (``treaty_accounts``) -> each member's premium, loss and result
(``member_flows``) -> capital: standalone, proportional, Euler, Shapley (``techins.pool.spec``).
Formulas: ``docs/pool.md``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techins import validate
from techins.catalogue.products import read_catalogue
from techins.catalogue.rating import price_catalogue
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError, InputTypeError
from techins.pool.spec import PoolFlows, PoolSpec, member_flows
from techins.pricing.allocation import (
    allocation_table,
    euler_allocation,
    pool_capital,
    shapley_benefit,
    standalone_capitals,
)
from techins.progress import announce
from techins.reinsurance.compensation import CompensationResult, apply_compensation
from techins.reinsurance.programme import apply_programme, read_programme, treaty_accounts
from techins.results import figures
from techins.simulation.api import simulate
from techins.simulation.executor import open_executor
from techins.simulation.occurrences import annual_by_group

__all__ = ["PoolRun", "run_pool"]

COMMON = "(pool portfolio)"


@dataclass(frozen=True, eq=False)
class PoolRun:
    """Everything ``techins pool`` writes.

    Attributes
    ----------
    spec : techins.pool.spec.PoolSpec
    flows : techins.pool.spec.PoolFlows
        Per member (and the unplaced part) and year: premium, fee income, loss, result.
    members : pandas.DataFrame
        One row per member (then ``unplaced``): role, shares, expected premium, fees, loss and result
        with standard errors, result volatility, probability of a loss, capital standalone and
        allocated (proportional to share, Euler, Shapley) and the return on each.
    lines : pandas.DataFrame
        Per line: premium, expected gross, ceded and net loss, each line's Euler contribution to the
        pool's capital.
    treaties : pandas.DataFrame or None
        Per treaty: premium and its basis, commission, expected ceded loss, reinstatement premium,
        the reinsurers' expected result (with standard errors), TVaR of the ceded loss.
    allocation : pandas.DataFrame
        ``techins.pool.spec.allocation_table`` of the members' annual outcomes (loss less income).
    contributions : pandas.DataFrame or None
        When members bring books: each book's gross loss, standalone capital, Shapley value of the
        diversification benefit of pooling the books (with its error) and capital in the pool.
    annual : pandas.DataFrame
        Per simulated year: pool gross, ceded, net, reinsurance premium, each member's result and
        each treaty's result for its reinsurers.
    pool : dict
        The pool's figures (plain floats), with the largest money-reconciliation error and the
        ``currency`` of its products.
    book_result : techins.BookResult
        The simulation of the pool's book (EP curves, per-policy figures).
    compensation : techins.CompensationResult or None
        The public risk-compensation scheme of the pool file, if any: the fund's outlay per year and
        account; the members' losses above are after it.
    """

    spec: PoolSpec
    flows: PoolFlows
    members: pd.DataFrame
    lines: pd.DataFrame
    treaties: pd.DataFrame | None
    allocation: pd.DataFrame
    contributions: pd.DataFrame | None
    annual: pd.DataFrame
    pool: dict
    book_result: object
    compensation: CompensationResult | None = None

    def _figures(self) -> list:
        p = self.pool
        return [Figure("pool", p["pool"], kind="text"), Figure("policies", p["policies"], kind="count"),
                Figure("members", p["members"], kind="count"), Figure("years", p["years"], kind="count"),
                Figure("premium", p["premium"]),
                Figure("expected gross", p["expected_gross"], p["expected_gross_stderr"]),
                Figure("expected ceded", p["expected_ceded"]), Figure("pool capital", p["pool_capital"]),
                Figure("diversification benefit", p["diversification_benefit"])]

    def __repr__(self) -> str:
        return short_repr("PoolRun", self._figures())

    def _repr_html_(self) -> str:
        tables = {"members": self.members, "lines": self.lines}
        if self.treaties is not None:
            tables["treaties"] = self.treaties
        return figures_html("PoolRun: the pool's book, reinsurance and members (± standard error)", self._figures(),
                            tables)


def run_pool(spec: PoolSpec, *, years: int | None = None, seed: int | None = None, threads: int | None = None,
             progress=None, backend: str = "local", client=None, executor=None) -> PoolRun:
    """Run a pool read from its file (``read_pool``): simulate, price, reinsure, share and allocate.

    Parameters
    ----------
    spec : techins.pool.spec.PoolSpec
        With its ``book`` (the ``[book]`` table).
    years, seed : int, optional
        Override the file's simulation.
    threads : int, optional
    progress : callable, optional
        ``progress(done, total)`` over each phase: the simulation's chunks, the tail re-run's chunks
        and the premiums' allocation (``price_catalogue``), the programme's chunks (``"treaties"``),
        the members' capital allocation (``"allocation"``, the Shapley values; again for the
        contributors' books); each announced first as ``progress.phase(name)`` when it has that
        method (``techins.progress``).
    backend, client, executor : optional
        Where the simulation, its tail re-run and the programme's chunks run (as ``techins.simulate``:
        ``"local"``, or ``"dask"`` with a client or scheduler address, or an executor already open);
        the same numbers on every executor.
    """
    if spec.book is None:
        raise InputError(f"pool {spec.name!r}: the pool file has no [book] table saying what it writes")
    book = spec.book
    years = book.years if years is None else validate.integer("run_pool", "years", years, low=2)
    seed = book.seed if seed is None else validate.integer("run_pool", "seed", seed, low=0)
    catalogue = read_catalogue(book.products)
    programme = read_programme(book.programme) if book.programme else None
    policies, contributor, written = _pool_policies(spec, catalogue)
    product_book = catalogue.book(policies, source=f"pool {spec.name!r} policies")
    if spec.dependence:
        product_book = dataclasses.replace(product_book, portfolio=_with_dependence(spec, product_book.portfolio))
    with open_executor("run_pool", backend, client, threads, executor=executor) as run:
        return _run_pool(spec, catalogue, programme, policies, contributor, written, product_book, years, seed,
                         progress, run)


def _run_pool(spec, catalogue, programme, policies, contributor, written, product_book, years, seed, progress,
              executor) -> PoolRun:
    book = spec.book
    line_of_row = _line_index(spec, product_book)
    result, policy_premium = _simulate_and_premium(catalogue, product_book, written, years, seed, executor,
                                                   progress)
    row_premium = _row_premium(product_book, policy_premium)
    n_lines, n_books = len(spec.lines), len(spec.contributors) + 1
    groups = line_of_row * n_books + contributor[product_book.row_policy]
    if programme is not None:
        applied = apply_programme(result, programme, groups=groups, executor=executor, progress=progress)
        gross_g, net_g = applied.group_gross, applied.group_net
        accounts = treaty_accounts(applied, row_premium, sum_insured=product_book.portfolio.arrays["sum_insured"],
                                   load=book.reinsurance_load, groups=line_of_row)
        paid_by_line = accounts.paid_by_group()
        treaties = _treaty_table(applied, accounts, book.level)
        treaty_results = dict(zip(accounts.treaties, accounts.reinsurer_result.T))
    else:
        gross_g = annual_by_group(result, groups, executor=executor, progress=progress)
        net_g, paid_by_line, treaties, treaty_results = gross_g, np.zeros((n_lines, years)), None, {}
    gross_g = _padded(gross_g, n_lines * n_books).reshape(n_lines, n_books, years)
    net_g = _padded(net_g, n_lines * n_books).reshape(n_lines, n_books, years)
    gross_by_line, net_by_line = gross_g.sum(axis=1), net_g.sum(axis=1)
    premium_by_line = np.bincount(line_of_row, weights=row_premium, minlength=n_lines)
    flows = member_flows(spec, premium_by_line, gross_by_line, ceded=gross_by_line - net_by_line,
                         reinsurance_premium=paid_by_line)
    level = book.level
    compensation = None
    if spec.compensation is not None:
        compensation, fund = pool_compensation(spec, premium_by_line, gross_by_line, net_by_line, level,
                                               book.cost_of_capital)
        flows = flows.compensated(fund)
    outcomes = -flows.result[:-1]  # a member's annual outcome: loss less income (capital is on its tail)
    names = [m.name for m in spec.members]
    premium_share = spec.share_matrix() @ premium_by_line
    announce(progress, "allocation")
    allocation = allocation_table(outcomes, names, level, shares=premium_share, seed=seed, progress=progress)
    contributions = None
    if spec.contributors:
        announce(progress, "allocation")
        contributions = _contributions(spec, gross_g.sum(axis=0)[1:], level, seed, progress)
    members = _member_table(spec, flows, allocation, premium_by_line, book.cost_of_capital)
    fee_rate = sum(m.fee for m in spec.members) + spec.admin_expense
    line_outcome = net_by_line + paid_by_line - (premium_by_line * (1.0 - fee_rate))[:, None]
    lines = _line_table(spec, premium_by_line, gross_by_line, net_by_line, line_outcome, level)
    annual = _annual_table(flows, gross_by_line, net_by_line, treaty_results)
    pool = _pool_figures(spec, flows, premium_by_line, gross_by_line, net_by_line, allocation, years, seed,
                         len(policies), product_book)
    # the money of the reports and plots: the currency of the products the pool writes
    pool["currency"] = "/".join(sorted({catalogue[str(p)].currency for p in policies["product"].unique()}))
    if compensation is not None:
        pool.update({f"compensation_{k}": v for k, v in compensation.summary().items()})
    return PoolRun(spec=spec, flows=flows, members=members, lines=lines, treaties=treaties, allocation=allocation,
                   contributions=contributions, annual=annual, pool=pool,
                   book_result=result, compensation=compensation)


def pool_compensation(spec: PoolSpec, premium_by_line, gross_by_line, net_by_line, level: float,
                      cost_of_capital: float):
    """The pool's public risk-compensation scheme over the simulated years, and what it pays each
    member (``[members + 1, years]``, the unplaced part last).

    With ``scope="pool"`` one account: the covered lines' loss ratio (net, or gross) on their premium;
    what the fund pays is shared back to the lines by their net loss that year and to the members by
    their shares. With ``scope="member"`` one account per member, on its shares of the covered lines'
    premium and loss; the unplaced part has no account.
    """
    scheme = spec.compensation
    covered = np.array([scheme.covers(line) for line in spec.lines])
    basis = net_by_line if scheme.basis == "net" else gross_by_line
    shares = spec.share_matrix()
    all_shares = np.vstack([shares, 1.0 - shares.sum(axis=0)])
    years = gross_by_line.shape[1]
    if scheme.scope == "pool":
        net = net_by_line[covered]
        result = apply_compensation(scheme, basis[covered].sum(axis=0), premium_by_line[covered].sum(),
                                    retained=net.sum(axis=0), accounts=("pool",), level=level,
                                    cost_of_capital=cost_of_capital)
        total = net.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            by_line = np.zeros((len(spec.lines), years))
            by_line[covered] = np.where(total > 0, net / total, 0.0) * result.paid[0]
        return result, all_shares @ by_line
    own = shares[:, covered]
    result = apply_compensation(scheme, own @ basis[covered], own @ premium_by_line[covered],
                                retained=own @ net_by_line[covered], accounts=[m.name for m in spec.members],
                                level=level, cost_of_capital=cost_of_capital)
    return result, np.vstack([result.paid, np.zeros((1, years))])


# ---------------------------------------------------------------------------------------- the book
def _pool_policies(spec: PoolSpec, catalogue) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """The policies the pool writes, per policy who brought it (0: the pool's portfolio, k: the k-th
    contributor) and its written premium when the file names a column. Each file is checked on its
    own first, so an error names that file and its row."""
    from techins.catalogue.products import read_policies
    from techins.model.portfolio import checked_numbers

    sources = []
    if spec.book.portfolio is not None:
        sources.append((spec.book.portfolio, 0))
    for k, name in enumerate(spec.contributors, start=1):
        member = next(m for m in spec.members if m.name == name)
        sources.append((member.book, k))
    frames, owner_of, premiums, seen = [], [], [], {}
    column = spec.book.premium_column
    for path, k in sources:
        frame = read_policies(path)
        catalogue.book(frame, source=str(path))
        if column is not None:
            if column not in frame.columns:
                raise InputError(f"{path}: missing column {column!r} (the pool's book.premium_column)")
            premiums.append(checked_numbers(frame[column], column, str(path),
                                            lambda i, f=frame: f"row {i + 1} (policy_id {f['policy_id'].iloc[i]!r})",
                                            low=0.0))
        for pid in frame["policy_id"].astype(str):
            if pid in seen:
                raise InputError(f"{path}: policy_id {pid!r} is also in {seen[pid]}; a policy is written once")
            seen[pid] = str(path)
        frames.append(frame)
        owner_of.append(np.full(len(frame), k, dtype=np.int64))
    policies = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return policies, np.concatenate(owner_of), np.concatenate(premiums) if column is not None else None


def _line_index(spec: PoolSpec, product_book) -> np.ndarray:
    """Each book row's pool line as an index into ``spec.lines``. The pool's lines are the products'
    lines (``line`` in the product files) or, to share products of one line differently, product
    ids; every line of the book must be the pool's and every line of the pool must have policies."""
    a = product_book.portfolio.arrays
    product_of_row = product_book.policies["product"].astype(str).to_numpy()[product_book.row_policy]
    products = sorted(set(product_of_row))
    by_product = all(line in products for line in spec.lines)
    if by_product:
        names, codes = np.unique(product_of_row, return_inverse=True)
        names = [str(n) for n in names]
    else:
        names, codes = list(a["line_names"]), a["line"]
    kind = "product" if by_product else "line"
    missing = [name for name in names if name not in spec.lines]
    if missing:
        raise InputError(f"pool {spec.name!r}: the book has policies of {kind} {missing[0]!r}, which the pool file "
                         f"does not list; lines are {list(spec.lines)}")
    empty = [line for line in spec.lines if line not in names]
    if empty:
        raise InputError(f"pool {spec.name!r}: the pool lists line {empty[0]!r} but no policy of its book is in it; "
                         f"the book's lines are {list(a['line_names'])} and its products {products}")
    mapping = np.array([spec.lines.index(name) for name in names], dtype=np.int64)
    return mapping[codes]


def _with_dependence(spec: PoolSpec, portfolio):
    """The pool's book with the dependence of its file; errors name the pool."""
    try:
        return portfolio.with_dependence(spec.dependence)
    except (InputError, InputTypeError) as exc:
        raise type(exc)(f"pool {spec.name!r}: {exc}") from None


def _simulate_and_premium(catalogue, product_book, written, years, seed, executor, progress):
    """The simulated book and each policy's gross premium: the written premium when the pool file
    names its column, else the catalogue's charged premium (technical, capped; subsidy included)."""
    if written is not None:
        return simulate(product_book.portfolio, years, seed, progress=progress, executor=executor), written
    priced = price_catalogue(catalogue, product_book, years, seed, progress=progress, executor=executor)
    # the priced table has one row per policy, in the book's policy order
    return priced.result, priced.policies["capped_premium"].to_numpy(dtype=np.float64)


def _row_premium(product_book, policy_premium: np.ndarray) -> np.ndarray:
    """A policy's premium over its coverage rows in proportion to their expected loss (equally when
    they expect none)."""
    rows = product_book.row_policy
    n = policy_premium.size
    expected = np.bincount(rows, weights=product_book.expected_loss, minlength=n)
    count = np.bincount(rows, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(expected[rows] > 0, product_book.expected_loss / expected[rows], 1.0 / count[rows])
    return policy_premium[rows] * weight


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    # groups with no loss at the top of the range are absent from the sums
    if values.shape[0] == n:
        return values
    out = np.zeros((n, values.shape[1]))
    out[:values.shape[0]] = values
    return out


# ---------------------------------------------------------------------------------------- tables
def _member_table(spec: PoolSpec, flows: PoolFlows, allocation: pd.DataFrame, premium_by_line: np.ndarray,
                  cost_of_capital: float) -> pd.DataFrame:
    rows = []
    n = flows.result.shape[1]
    alloc = allocation.set_index("member")
    shares = spec.share_matrix()
    for i, name in enumerate(flows.members):
        result = flows.result[i]
        row = {"member": name, "role": "unplaced" if i == len(spec.members) else spec.members[i].role}
        for j, line in enumerate(spec.lines):
            row[f"share_{line}"] = float(shares[i, j]) if i < len(spec.members) else float(1.0 - shares[:, j].sum())
        row.update({
            "premium": float(flows.premium[i].mean()),
            "fee_income": float(flows.fee_income[i]),
            "expected_loss": float(flows.loss[i].mean()),
            "expected_loss_stderr": float(flows.loss[i].std(ddof=1) / math.sqrt(n)),
            **({} if flows.compensation is None else {
                "expected_compensation": float(flows.compensation[i].mean()),
                "expected_compensation_stderr": float(flows.compensation[i].std(ddof=1) / math.sqrt(n))}),
            "expected_result": float(result.mean()),
            "expected_result_stderr": float(result.std(ddof=1) / math.sqrt(n)),
            "result_std": float(result.std(ddof=1)),
            "prob_loss_making": float(np.mean(result < 0.0)),
            "result_1_in_100": figures.quantile_equal(np.sort(result), 0.01),
        })
        if name in alloc.index:
            a = alloc.loc[name]
            for method in ("standalone_capital", "proportional_to_share", "euler_capital", "shapley_capital"):
                row[method] = float(a[method])
            row["shapley_benefit"] = float(a["shapley_benefit"])
            for method, key in (("standalone", "standalone_capital"), ("euler", "euler_capital"),
                                ("shapley", "shapley_capital")):
                capital = row[key]
                row[f"return_on_{method}_capital"] = row["expected_result"] / capital if capital > 0 else math.nan
            row["meets_hurdle_euler"] = bool(row["return_on_euler_capital"] >= cost_of_capital)
        rows.append(row)
    return pd.DataFrame(rows)


def _line_table(spec, premium_by_line, gross_by_line, net_by_line, line_outcome, level) -> pd.DataFrame:
    n = gross_by_line.shape[1]
    euler = euler_allocation(line_outcome, level) if n > 1 else np.full(len(spec.lines), math.nan)
    ceded = gross_by_line - net_by_line
    return pd.DataFrame({
        "line": list(spec.lines),
        "premium": premium_by_line,
        "expected_gross": gross_by_line.mean(axis=1),
        "expected_gross_stderr": gross_by_line.std(axis=1, ddof=1) / math.sqrt(n),
        "expected_ceded": ceded.mean(axis=1),
        "expected_net": net_by_line.mean(axis=1),
        "expected_net_stderr": net_by_line.std(axis=1, ddof=1) / math.sqrt(n),
        "gross_loss_ratio": gross_by_line.mean(axis=1) / np.where(premium_by_line > 0, premium_by_line, np.nan),
        "standalone_capital": standalone_capitals(line_outcome, level),
        "euler_capital": euler,
    })


def _treaty_table(applied, accounts, level: float) -> pd.DataFrame:
    money = accounts.table()
    risk = applied.treaty_table(level=level)[["treaty", "type", "std", "var", "tvar", "prob_loss"]]
    return money.merge(risk, on="treaty", how="left")


def _contributions(spec: PoolSpec, books: np.ndarray, level: float, seed: int, progress=None) -> pd.DataFrame:
    """The Shapley value of the diversification benefit of pooling the members' books (gross), with
    every member in the game: one who brings nothing has a zero part and gets 0."""
    names = [m.name for m in spec.members]
    parts = np.zeros((len(names), books.shape[1]))
    for k, name in enumerate(spec.contributors):
        parts[names.index(name)] = books[k]
    phi, stderr, method = shapley_benefit(parts, level, seed=seed, progress=progress)
    standalone = standalone_capitals(parts, level)
    total = pool_capital(parts, level)
    table = pd.DataFrame({
        "member": names,
        "brings_book": [m.book is not None for m in spec.members],
        "expected_gross": parts.mean(axis=1),
        "standalone_capital": standalone,
        "shapley_benefit": phi,
        "shapley_benefit_stderr": stderr,
        "capital_in_pool": standalone - phi,
    })
    table.attrs.update(pooled_capital=total, diversification_benefit=float(standalone.sum() - total),
                       shapley_method=method)
    return table


def _annual_table(flows: PoolFlows, gross_by_line, net_by_line, treaty_results: dict) -> pd.DataFrame:
    gross, net = gross_by_line.sum(axis=0), net_by_line.sum(axis=0)
    table = pd.DataFrame({"year": np.arange(gross.size), "gross": gross, "ceded": gross - net, "net": net,
                          "reinsurance_premium": flows.reinsurance_premium})
    if flows.compensation is not None:
        table["compensation"] = flows.compensation.sum(axis=0)
    for i, name in enumerate(flows.members):
        table[f"result_{name}"] = flows.result[i]
    for name, result in treaty_results.items():
        table[f"reinsurer_result_{name}"] = result
    return table


def _pool_figures(spec, flows, premium_by_line, gross_by_line, net_by_line, allocation, years, seed, n_policies,
                  product_book) -> dict:
    total_premium = float(premium_by_line.sum())
    gross, net = gross_by_line.sum(axis=0), net_by_line.sum(axis=0)
    money_in = total_premium
    money_out = flows.premium.sum(axis=0) + flows.fees + flows.admin_expense + flows.reinsurance_premium
    fund = flows.compensation.sum(axis=0) if flows.compensation is not None else 0.0
    loss_split = flows.loss.sum(axis=0) + (gross - net) + fund  # members + reinsurers + the public fund
    return {
        "pool": spec.name, "years": years, "seed": seed, "policies": n_policies,
        "coverage_rows": product_book.portfolio.n_policies, "members": len(spec.members),
        "premium": total_premium, "fees": flows.fees, "admin_expense": flows.admin_expense,
        "expected_reinsurance_premium": float(flows.reinsurance_premium.mean()),
        "expected_gross": float(gross.mean()), "expected_gross_stderr": float(gross.std(ddof=1) / math.sqrt(years)),
        "expected_ceded": float((gross - net).mean()), "expected_net": float(net.mean()),
        "expected_result": float(flows.result.sum(axis=0).mean()),
        "level": float(allocation.attrs["level"]), "pool_capital": float(allocation.attrs["pool_capital"]),
        "diversification_benefit": float(allocation.attrs["diversification_benefit"]),
        "shapley_method": allocation.attrs["shapley_method"],
        "premium_reconciliation_error": float(np.max(np.abs(money_out - money_in))),
        "loss_reconciliation_error": float(np.max(np.abs(loss_split - gross))),
    }
