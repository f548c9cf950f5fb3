"""The quote path for underwriting systems: price new policies against a book already simulated,
reusing the book's simulation.

Two quoters share one way of simulating a new policy over the book's years:

* ``Quoter`` prices a policies-table row (a ``techins.Portfolio`` row) against a ``BookResult``;
* ``CatalogueQuoter`` prices a policy as an underwriting system holds it (product id, exposure, rating
  factors, terms) against a catalogue book (``techins price``, or a saved ``BookSnapshot``), on the
  same basis as ``techins price``: the product's risk measure, expenses, profit, contract aggregate,
  rate cap and subsidy.

A new policy is simulated over the book's years from its own stream, keyed by the book's seed and the
row's id:

* its own claims (Poisson, thinned above its deductible as in the book; in a line with parameter
  risk, with the book's factor of that line in each year);
* in every book event of a scenario it is exposed to, a hit with the scenario's probability, so its
  shock losses fall in the same years as the book's (a scenario no book policy is exposed to has its
  events drawn from a stream keyed by the seed and the scenario, the same for every quote);
* in a book with a copula, its annual losses join its margin's, which are ranked again against the
  copula sample the book's years followed (``BookEvents.with_policy``): the policy and its margin
  move to the years the simulation would have given them with the policy in the book;

then ``CatalogueQuoter`` prices it as the portfolio prices its own policies: its expected loss, and
its Euler (co-TVaR) share of the risk load and capital of the book with the policy added
(``techins.pricing.premium.allocate_book`` over two rows, the book and the policy, then
``premium_components``). A policy already in the book, with the coverage rows the book simulated, is
priced from the book's own figures, so its quote equals its portfolio price to the cent.

Limitation: a scenario under a batch clause shares one deductible and limit among all the policies
it hits, so a new policy's loss there depends on the other hits; such exposure is refused with an
error (add the policy to the book and simulate again).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

from techins.catalogue.products import Catalogue, ProductBook
from techins.catalogue.rating import PricedPortfolio
from techins.catalogue.snapshot import BookEvents, BookSnapshot, _read_only, book_events, coverage_rows
from techins.errors import InputError, InputTypeError
from techins.io.schema import QUOTE_COLUMNS
from techins.kernels import book as book_kernels
from techins.kernels.records import EventExposure, OwnClaims
from techins.model.portfolio import Portfolio
from techins.pricing.allocation import tail_years
from techins.pricing.premium import PricingBasis, allocate_book, book_risk_load, premium_components
from techins.progress import announce, report
from techins.results import figures
from techins.results.simulation import BookResult
from techins.simulation.plan import LawTable

__all__ = ["Quoter", "CatalogueQuoter", "QUOTE_COLUMNS"]

QUOTE_STREAM = 0x71756F7465  # spawn-key prefix of quote streams: "quote", apart from the chunk keys


class Quoter:
    """Prices new policies against a simulated book.

    Parameters
    ----------
    result : BookResult
        ``techins.simulate(portfolio, years, seed)``.
    basis : PricingBasis
        Risk load, expenses, profit, cap and subsidy.

    Notes
    -----
    One ``Quoter`` may serve many threads at once: a quote reads the book's state and writes only
    into arrays of its own, and its kernel releases the GIL, so a thread pool gives more quotes per
    second than one thread. It pickles (with its book), for process pools and Dask workers.

    Examples
    --------
    >>> quoter = Quoter(book_result, basis)                                      # doctest: +SKIP
    >>> quoter.quote({"policy_id": "new-1", "line": "cyber", "claim_rate": 0.1,
    ...               "severity": "cyber", "sum_insured": 5e6, "cloud": "aws"})  # doctest: +SKIP
    """

    def __init__(self, result: BookResult, basis: PricingBasis):
        if not isinstance(result, BookResult):
            raise InputTypeError(f"Quoter: result must be a BookResult (simulate a Portfolio), got {result!r}")
        if not isinstance(basis, PricingBasis):
            raise InputTypeError(f"Quoter: basis must be a PricingBasis, got {basis!r}")
        self.result = result
        self.basis = basis
        self.book_load = book_risk_load(result.annual, basis)
        # built once and never written again: quotes run concurrently from many threads (the kernel
        # releases the GIL), so each quote writes only into arrays of its own
        self._events = book_events(result)

    def quote(self, policy) -> dict:
        """Price one policy given as a mapping (or one-row DataFrame) with the policies-table columns.

        The policy's annual losses are ``annual_losses(policy)``; see the module notes.

        Returns
        -------
        dict
            ``expected_loss`` and its ``expected_loss_stderr``; ``standalone_risk_load`` and
            ``standalone_premium``; ``marginal_risk_load`` and ``marginal_premium`` (the change in the
            book's risk load when the policy joins it) with the cap and subsidy applied to the marginal
            premium (``capped_premium``, ``shortfall``, ``subsidy``, ``insured_pays``).
        """
        book, x, sum_insured = self._simulate(policy)
        return self._price(book, x, sum_insured)

    def annual_losses(self, policy) -> np.ndarray:
        """The policy's simulated annual losses over the book's years (a new array; with a copula, in the
        years the policy's margin takes with it: ``BookEvents.with_policy``)."""
        return self._simulate(policy)[1]

    def _simulate(self, policy) -> tuple[np.ndarray, np.ndarray, float]:
        table = policy if isinstance(policy, pd.DataFrame) else pd.DataFrame([dict(policy)])
        if len(table) != 1:
            raise InputError(f"quote: give one policy, got {len(table)} rows")
        book = self.result.portfolio
        single = Portfolio(table, dict(book.severities))  # validates the row like any book
        law_table = LawTable()
        exposure = self._exposure(table, single.arrays, law_table)
        annual = row_annual(self._events, single, 0, law_table, exposure, None)
        book, annual = self._events.with_policy(annual, self._events.margin_of(single, 0))
        return book, annual, float(single.arrays["sum_insured"][0])

    def _exposure(self, table, a, law_table) -> EventExposure:
        hits = []
        for shock in self.result.portfolio.shocks:
            if shock.factor not in table.columns or str(table[shock.factor].iloc[0]) not in shock.values:
                continue
            hits.append((shock, self._events.shock_years[shock.name]))
        return event_exposure(hits, a, 0, law_table, "quote")

    def _price(self, book: np.ndarray, x: np.ndarray, sum_insured: float) -> dict:
        # book: the book's annual losses beside the policy (the book's own, or re-ranked by a copula)
        b = self.basis
        n = x.size
        mean = float(x.mean())
        stderr = float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        standalone_load = book_risk_load(x, b)
        marginal_load = book_risk_load(book + x, b) - self.book_load
        # the pricing path of every policy (pricing.premium.premium_components), here for one row
        # priced twice: on its own load and on the load it adds to the book
        premium = premium_components(np.array([mean, mean]), np.array([standalone_load, marginal_load]), b,
                                     cap_base=None if b.rate_cap is None else np.array([sum_insured, sum_insured]))
        return {
            "expected_loss": mean, "expected_loss_stderr": stderr,
            "standalone_risk_load": float(standalone_load),
            "standalone_premium": float(premium["technical_premium"][0]),
            "marginal_risk_load": float(marginal_load), "marginal_premium": float(premium["technical_premium"][1]),
            "capped_premium": float(premium["capped_premium"][1]), "shortfall": float(premium["shortfall"][1]),
            "subsidy": float(premium["subsidy"][1]), "insured_pays": float(premium["insured_pays"][1]),
        }


IN_BOOK, ADDED = "in_book", "added"
_EVENT_STREAM, _LINE_STREAM = 1, 2  # quote sub-streams of a scenario's or a line's draws absent from the book


class CatalogueQuoter:
    """Quotes policies as an underwriting system holds them, on the basis ``techins price`` uses.

    Parameters
    ----------
    catalogue : techins.catalogue.products.Catalogue
        The products (the catalogue the book was priced with).
    book : BookSnapshot or PricedPortfolio
        The book quotes are priced against: ``load_snapshot(folder, catalogue)``, or
        ``price_catalogue(catalogue, ...)`` of this session.

    Notes
    -----
    A policy is a row of the portfolio table (``docs/products.md``, "The portfolio"): ``policy_id``,
    ``product``, the product's exposure column, its rating-factor columns and, where the policy
    departs from the product's defaults, its terms (``<coverage>_deductible``, ``<coverage>_limit``,
    ``aggregate_limit``, ...). Each quote is priced as the module notes say; the figures are those of
    ``QUOTE_COLUMNS``. One quoter serves many threads at once (each quote writes only arrays of its
    own) and pickles.

    Examples
    --------
    >>> quoter = CatalogueQuoter(catalogue, load_snapshot("out/book", catalogue))       # doctest: +SKIP
    >>> quoter.quote({"policy_id": "Q-1", "product": "cyber_sme", "revenue": 2e7,
    ...               "industry_hazard": "high", "security_score": "B",
    ...               "cloud_provider": "aws", "software_vendor": "other"})["premium"]   # doctest: +SKIP
    """

    def __init__(self, catalogue: Catalogue, book):
        if not isinstance(catalogue, Catalogue):
            raise InputTypeError(f"CatalogueQuoter: catalogue must be a Catalogue, got {type(catalogue).__name__}")
        if isinstance(book, PricedPortfolio):
            book = BookSnapshot.from_priced(catalogue, book)
        if not isinstance(book, BookSnapshot):
            raise InputTypeError(f"CatalogueQuoter: book must be a BookSnapshot (load_snapshot) or a "
                                 f"PricedPortfolio (price_catalogue), got {type(book).__name__}")
        if book.catalogue_digest != catalogue.digest:
            raise InputError("CatalogueQuoter: the book was priced with another catalogue (its digest differs); "
                             "quote with the product files it was priced with, or price the book again")
        self.catalogue = catalogue
        self.snapshot = book
        self._bases = {pid: product.pricing.basis() for pid, product in catalogue.products.items()}
        self._book_capital = {}
        annual = book.events.annual
        order = np.argsort(annual, kind="stable")
        self._book_sorted = _read_only(annual[order])
        rank = np.empty(annual.size, dtype=np.int64)
        rank[order] = np.arange(annual.size)
        self._book_rank = _read_only(rank)
        self._book_sum, self._book_sumsq = float(annual.sum()), float(annual @ annual)
        self._drawn = {}  # scenario events and line factors the book did not draw, by key (same for every quote)
        ids = book.policies["policy_id"].astype(str).to_numpy(dtype=object)
        self._in_book = {pid: i for i, pid in enumerate(ids)}
        policy_of_row = book.coverages["policy"].to_numpy()
        bounds = np.searchsorted(policy_of_row, np.arange(len(ids) + 1))
        self._rows_of = bounds

    @property
    def years(self) -> int:
        """Simulated years of the book."""
        return self.snapshot.years

    def __repr__(self) -> str:
        return f"CatalogueQuoter({len(self.catalogue.products)} products, book {self.snapshot!r})"

    def quote(self, policy) -> dict:
        """Quote one policy (a mapping, a pandas Series or a one-row DataFrame of portfolio columns).

        Returns
        -------
        dict
            ``QUOTE_COLUMNS`` as plain Python values (NaN where a figure does not apply: no rate cap, the
            incremental capital of a policy already in the book).

        Raises
        ------
        techins.errors.InputError
            An unknown product, a missing or bad field (the message names it).
        """
        if isinstance(policy, pd.DataFrame):
            table = policy
            if len(table) != 1:
                raise InputError(f"quote: give one policy, got {len(table)} rows (quote_many quotes a table)")
        elif isinstance(policy, pd.Series):
            table = policy.to_frame().T
        elif hasattr(policy, "keys"):
            table = pd.DataFrame([dict(policy)])
        else:
            raise InputTypeError(f"quote: give the policy as a mapping of its fields, got {type(policy).__name__}")
        return _plain_row(self._quote_table(table, "quote")[0])

    def quote_many(self, policies: pd.DataFrame, *, progress=None) -> pd.DataFrame:
        """Quote a table of candidate policies (one row each, portfolio columns); rows are validated
        together, then each is priced against the book. ``progress(policies_quoted, policies)`` after
        each one, after ``progress.phase("quotes")`` when it has that method (``techins.progress``).

        Returns
        -------
        pandas.DataFrame
            One row per policy, ``QUOTE_COLUMNS``.
        """
        if not isinstance(policies, pd.DataFrame):
            raise InputTypeError(f"quote_many: policies must be a pandas DataFrame, got {type(policies).__name__}")
        return pd.DataFrame(self._quote_table(policies, "quotes", progress), columns=list(QUOTE_COLUMNS))

    def annual_losses(self, policy) -> np.ndarray:
        """A new policy's simulated annual losses over the book's years, after its contract terms (with a
        copula, in the years its margin takes with it: ``BookEvents.with_policy``)."""
        table = pd.DataFrame([dict(policy)])
        book = self.catalogue.book(table, source="quote")
        x = self._policy_annual(book, np.arange(book.portfolio.n_policies), "quote", LawTable(), self._exposures(book))
        # a contract's rows are in one copula margin (the book checks it): the policy moves with it
        return self.snapshot.events.with_policy(x, self.snapshot.events.margin_of(book.portfolio, 0))[1]

    def describe_products(self) -> list:
        """Per product: id, name, line, currency, version, exposure column, coverages and the portfolio
        columns it reads (name -> "number" or "text", with the levels of each rating factor)."""
        out = []
        for pid in sorted(self.catalogue.products):
            p = self.catalogue.products[pid]
            levels = {factor.column: sorted(factor.levels) for factor in p.rating}
            out.append({"id": p.id, "name": p.name, "line": p.line, "currency": p.currency, "version": p.version,
                        "exposure_column": p.exposure_column, "coverages": [c.name for c in p.coverages],
                        "columns": dict(p.columns()), "levels": levels,
                        "risk_measure": p.pricing.risk_measure})
        return out

    # ------------------------------------------------------------------------------------ steps
    def _quote_table(self, table: pd.DataFrame, source: str, progress=None) -> list:
        book = self.catalogue.book(table, source=source)  # every row and field validated, as `techins price`
        announce(progress, "quotes")
        policies = book.policies
        n = len(policies)
        rows_of = np.searchsorted(book.row_policy, np.arange(n + 1))
        candidate = None  # the candidates' coverage rows as the book keeps them: only to match a book policy
        closed_form = np.bincount(book.row_policy, weights=book.expected_loss, minlength=n)
        exposures = None
        law_table = LawTable()
        out = []
        ids = policies["policy_id"].astype(str).to_numpy(dtype=object)
        products = policies["product"].astype(str).to_numpy(dtype=object)
        for j in range(n):
            pid, product = ids[j], products[j]
            rows = np.arange(rows_of[j], rows_of[j + 1])
            i = self._in_book.get(pid)
            if i is not None and candidate is None:
                candidate = coverage_rows(book.portfolio.policies)
            if i is not None and self._same_policy(i, product, candidate, rows, book.rate_cap_base[j]):
                out.append(self._in_book_quote(i))
            else:
                if exposures is None:
                    exposures = self._exposures(book)
                x = self._policy_annual(book, rows, source, law_table, exposures)
                beside, x = self.snapshot.events.with_policy(x, self.snapshot.events.margin_of(book.portfolio,
                                                                                               int(rows[0])))
                out.append(self._added_quote(pid, product, beside, x, float(closed_form[j]), book.rate_cap_base[j]))
            report(progress, j + 1, n)  # per candidate: a new one is a simulation over the book's years
        return out

    def _same_policy(self, i: int, product: str, candidate: pd.DataFrame, rows: np.ndarray, cap_base: float) -> bool:
        """Whether the candidate's coverage rows are the ones the book simulated for its policy ``i``."""
        book = self.snapshot
        if str(book.policies["product"].iloc[i]) != product:
            return False
        if not _same_number(float(book.policies["rate_cap_base"].iloc[i]), float(cap_base)):
            return False
        mine = book.coverages.iloc[self._rows_of[i]:self._rows_of[i + 1]]
        if len(mine) != rows.size:
            return False
        theirs = candidate.iloc[rows]
        for column in set(mine.columns) | set(theirs.columns):
            if column == "policy":
                continue
            a = mine[column].to_numpy() if column in mine.columns else np.full(rows.size, "", dtype=object)
            b = theirs[column].to_numpy() if column in theirs.columns else np.full(rows.size, "", dtype=object)
            if a.dtype == np.float64 and b.dtype == np.float64:
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif not all(str(u) == str(v) for u, v in zip(a, b)):
                return False
        return True

    def _in_book_quote(self, i: int) -> dict:
        row = self.snapshot.policies.iloc[i]
        pid = str(row["product"])
        allocated = {name: np.array([float(row[name])]) for name in
                     ("expected_loss", "expected_loss_stderr", "co_tvar", "allocated_capital", "risk_load")}
        return self._assemble(str(row["policy_id"]), pid, IN_BOOK, allocated, float(row["expected_loss_closed_form"]),
                              math.nan, float(row["rate_cap_base"]))

    def _added_quote(self, policy_id: str, product: str, s: np.ndarray, x: np.ndarray, closed_form: float,
                     cap_base: float) -> dict:
        # s: the book's annual losses beside the policy (the book's own, or re-ranked by a copula)
        basis = self._bases[product]
        with_policy = s + x
        same_book = s is self.snapshot.events.annual
        ordered = self._sorted_with(with_policy, x) if same_book else np.sort(with_policy)
        book_sum, book_sumsq = (self._book_sum, self._book_sumsq) if same_book else (float(s.sum()), float(s @ s))
        tail = tail_years(with_policy, basis.level, ordered=ordered)
        k = tail.size
        # the pricing path over two rows, the book as it is and the new policy (they add up to the
        # book with the policy by construction: no additivity check needed)
        allocated = allocate_book(with_policy, np.array([book_sum, x.sum()]), np.array([book_sumsq, x @ x]),
                                  np.concatenate([tail, tail]), np.repeat(np.array([0, 1]), k),
                                  np.concatenate([s[tail], x[tail]]), basis,
                                  policy_cross=np.array([s @ with_policy, x @ with_policy]), ordered=ordered,
                                  check_additivity=False)
        mine = {name: values[1:] for name, values in allocated.items()}
        # Euler shares add up: TVaR(S + X) is the sum of the two co-TVaRs, so no second sort
        capital_with = float(allocated["co_tvar"].sum()) - float(with_policy.mean())
        incremental = capital_with - self._capital_of_book(basis.level)
        return self._assemble(policy_id, product, ADDED, mine, closed_form, incremental, cap_base)

    def _assemble(self, policy_id: str, product: str, priced_as: str, allocated: dict, closed_form: float,
                  incremental: float, cap_base: float) -> dict:
        p = self.catalogue[product]
        basis = self._bases[product]
        premium = premium_components(allocated["expected_loss"], allocated["risk_load"], basis,
                                     cap_base=None if basis.rate_cap is None else np.array([cap_base]))
        return {
            "policy_id": policy_id, "product": product, "line": p.line, "currency": p.currency,
            "priced_as": priced_as, "years": self.years,
            "expected_loss": allocated["expected_loss"][0],
            "expected_loss_stderr": allocated["expected_loss_stderr"][0],
            "expected_loss_closed_form": closed_form, "risk_measure": basis.risk_measure,
            "risk_load_parameter": basis.load, "capital_level": basis.level, "co_tvar": allocated["co_tvar"][0],
            "allocated_capital": allocated["allocated_capital"][0], "incremental_capital": incremental,
            "risk_load": allocated["risk_load"][0],
            **{name: premium[name][0] for name in ("fixed_expense", "variable_expense", "profit", "technical_premium")},
            "rate_cap": math.nan if basis.rate_cap is None else basis.rate_cap,
            "rate_cap_base": math.nan if basis.rate_cap is None else cap_base,
            **{name: premium[name][0] for name in ("premium_cap", "cap_binding", "capped_premium", "shortfall",
                                                   "subsidy", "insured_pays")},
            "premium": premium["capped_premium"][0],
        }

    def _sorted_with(self, with_policy: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``np.sort(with_policy)``, from the book's sorted years: only the years the policy has a loss
        in move, so they are taken out and merged back in (the same array as a full sort)."""
        changed = np.flatnonzero(x)
        if changed.size * 8 > x.size:
            return np.sort(with_policy)
        keep = np.ones(x.size, dtype=bool)
        keep[self._book_rank[changed]] = False
        base = self._book_sorted[keep]
        moved = np.sort(with_policy[changed])
        return np.insert(base, np.searchsorted(base, moved), moved)

    def _capital_of_book(self, level: float) -> float:
        if level not in self._book_capital:
            self._book_capital[level] = _capital(self.snapshot.events.annual, level)
        return self._book_capital[level]

    # ------------------------------------------------------------------------------------ simulation
    def _exposures(self, book: ProductBook) -> list:
        """Per scenario of the candidates' book: the shock, the rows it may hit, the years of its events."""
        out = []
        for shock in book.portfolio.shocks:
            years = self.snapshot.events.shock_years.get(shock.name)
            if years is None:
                years = self._drawn_events(shock)
            out.append((shock, set(book.portfolio.exposed(shock).tolist()), years))
        return out

    def _policy_annual(self, book: ProductBook, rows: np.ndarray, owner: str, law_table: LawTable,
                       exposures: list) -> np.ndarray:
        """The policy's annual losses: its coverage rows', summed, through its contract aggregate."""
        portfolio = book.portfolio
        a = portfolio.arrays
        total = np.zeros(self.years)
        for r in rows:
            hits = [(shock, years) for shock, exposed, years in exposures if r in exposed]
            line = str(a["line_names"][a["line"][r]])
            theta = self.snapshot.events.line_theta(line)
            if theta is None:
                theta = self._drawn_theta(line)
            total += row_annual(self.snapshot.events, portfolio, int(r), law_table,
                                event_exposure(hits, a, int(r), law_table, owner), theta)
        # the policy's aggregate terms on the sum of its coverages, as the book applies them
        deductible, limit = (float(v) for v in a["contract_terms"][a["contract"][rows[0]]])
        return np.minimum(np.maximum(total - deductible, 0.0), limit)

    def _drawn_events(self, shock) -> np.ndarray:
        key = ("events", shock.name)
        if key not in self._drawn:
            events = self.snapshot.events
            seq = np.random.SeedSequence(events.seed, spawn_key=(QUOTE_STREAM, _EVENT_STREAM,
                                                                 zlib.crc32(shock.name.encode())))
            counts = np.random.Generator(np.random.PCG64(seq)).poisson(shock.rate, events.years)
            self._drawn[key] = _read_only(np.repeat(np.arange(events.years, dtype=np.int64), counts))
        return self._drawn[key]

    def _drawn_theta(self, line: str) -> np.ndarray:
        key = ("theta", line)
        if key not in self._drawn:
            cv = self.catalogue.line_parameter_risk.get(line, 0.0)
            events = self.snapshot.events
            if cv > 0.0:
                seq = np.random.SeedSequence(events.seed, spawn_key=(QUOTE_STREAM, _LINE_STREAM,
                                                                     zlib.crc32(line.encode())))
                theta = np.random.Generator(np.random.PCG64(seq)).gamma(1.0 / cv**2, cv**2, events.years)
            else:
                theta = np.ones(events.years)
            self._drawn[key] = _read_only(theta)
        return self._drawn[key]


def _capital(annual: np.ndarray, level: float) -> float:
    ordered = np.sort(annual)
    return figures.tvar_equal(ordered, level) - float(np.mean(annual))


def _same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _plain_row(row: dict) -> dict:
    """NumPy scalars as Python ones (NaN kept: the library's figures; JSON is the service's concern)."""
    return {name: value.item() if isinstance(value, np.generic) else value for name, value in row.items()}


# ---------------------------------------------------------------------------------------- one row
def row_annual(events: BookEvents, portfolio: Portfolio, r: int, law_table: LawTable, exposure: EventExposure,
               theta) -> np.ndarray:
    """Annual losses of row ``r`` of ``portfolio`` over the book's years (a new array), from the row's
    own stream; ``theta`` its line's factors (None: the book's, ones when the book has no such line)."""
    a = portfolio.arrays
    scale, deductible = float(a["severity_scale"][r]), float(a["deductible"][r])
    threshold = deductible / scale if events.thin else 0.0
    own_row, survival = law_table.row(portfolio.severities[a["severity_key"][r]], threshold)
    rate = float(a["claim_rate"][r]) * survival
    terms = np.array([deductible, a["limit"][r], a["share"][r], a["agg_deductible"][r], a["agg_limit"][r]])
    if theta is None:
        theta = events.line_theta(a["line_names"][a["line"][r]])
        # read-only like the book's factors: one compiled version of the kernel, not one per array flag
        theta = _read_only(np.ones(events.years)) if theta is None else theta
    own = OwnClaims(rate, theta, own_row, scale, terms)
    seq = np.random.SeedSequence(events.seed, spawn_key=(QUOTE_STREAM, zlib.crc32(str(a["policy_id"][r]).encode())))
    state = seq.generate_state(4, np.uint64)
    annual = np.empty(events.years)
    book_kernels.policy_years(state, events.years, law_table.arrays(), own, exposure, annual)
    return annual


def event_exposure(hits, a, r: int, law_table: LawTable, owner: str) -> EventExposure:
    """The book events row ``r`` (of policy arrays ``a``) is exposed to: ``hits`` is a list of
    (``CommonShock``, years of its events)."""
    years, rows, q, scale = [], [], [], []
    for shock, hit_years in hits:
        if shock.clause == "batch":
            raise InputError(f"{owner}: policy {str(a['policy_id'][r])!r} is exposed to {shock.name!r}, a "
                             f"batch-clause scenario whose terms are shared by all policies hit; add it to the "
                             f"book and simulate again")
        if shock.basis == "sum_insured" and np.isnan(a["sum_insured"][r]):
            raise InputError(f"{owner}: policy {str(a['policy_id'][r])!r} is exposed to {shock.name!r} but has "
                             f"no sum_insured")
        row, _ = law_table.row(shock.severity, 0.0)
        years.append(hit_years)
        rows.append(np.full(hit_years.size, row, dtype=np.int64))
        q.append(np.full(hit_years.size, shock.hit_probability))
        scale.append(np.full(hit_years.size, a["sum_insured"][r] if shock.basis == "sum_insured" else 1.0))
    if not years:
        return EventExposure(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return EventExposure(np.concatenate(years), np.concatenate(rows), np.concatenate(q), np.concatenate(scale))
