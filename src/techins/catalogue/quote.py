"""The quote path for underwriting systems: price one new policy standalone and as a marginal
addition to a book already simulated, reusing the book's simulation.

A ``Quoter`` is built once per simulated book (it keeps the book's annual losses and replays the
book's common-shock events: which scenario struck in which year). Each quote then simulates only the
new policy over the same years, from its own stream keyed by the book's seed and the policy id:

* its own claims (Poisson, thinned above its deductible as in the book; in a line with parameter
  risk, with the book's factor of that line in each year);
* in every book event of a scenario it is exposed to, a hit with the scenario's probability, so its
  shock losses fall in the same years as the book's;

and prices it twice with the same basis: standalone (risk load of its own annual losses) and
marginal (risk load of book + policy minus that of the book).

Limitation: a scenario under a batch clause shares one deductible and limit among all the policies
it hits, so a new policy's loss there depends on the other hits; such exposure is refused with an
error (add the policy to the book and simulate again).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from techins.errors import InputError, InputTypeError
from techins.kernels import book as book_kernels
from techins.kernels.records import EventExposure, OwnClaims
from techins.model.portfolio import Portfolio
from techins.pricing.premium import PricingBasis, book_risk_load, premium_components
from techins.results.simulation import BookResult
from techins.simulation.plan import BookPlan, LawTable, chunk_states

__all__ = ["Quoter"]

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
        run = BookPlan(result.portfolio, result.years, result.seed, result.thin)
        states = chunk_states(result.seed, result.years, chunk_years=result.chunk_years)
        theta, event_shock, event_year = book_kernels.book_events(states, result.chunk_years, result.years,
                                                                  run.line_cv, run.book.shocks)
        # built once and never written again: quotes run concurrently from many threads (the kernel
        # releases the GIL), so each quote writes only into arrays of its own
        self._theta = _read_only(theta)
        n_shocks = len(result.portfolio.shocks)
        self._shock_years = tuple(_read_only(event_year[event_shock == s]) for s in range(n_shocks))

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
        x, sum_insured = self._simulate(policy)
        return self._price(x, sum_insured)

    def annual_losses(self, policy) -> np.ndarray:
        """The policy's simulated annual losses over the book's years (a new array)."""
        return self._simulate(policy)[0]

    def _simulate(self, policy) -> tuple[np.ndarray, float]:
        table = policy if isinstance(policy, pd.DataFrame) else pd.DataFrame([dict(policy)])
        if len(table) != 1:
            raise InputError(f"quote: give one policy, got {len(table)} rows")
        book = self.result.portfolio
        single = Portfolio(table, dict(book.severities))  # validates the row like any book
        a = single.arrays
        law_table = LawTable()
        scale, deductible = float(a["severity_scale"][0]), float(a["deductible"][0])
        threshold = deductible / scale if self.result.thin else 0.0
        own_row, survival = law_table.row(book.severities[a["severity_key"][0]], threshold)
        rate = float(a["claim_rate"][0]) * survival
        events = self._exposure(table, a, law_table)
        terms = np.array([deductible, a["limit"][0], a["share"][0], a["agg_deductible"][0], a["agg_limit"][0]])
        own = OwnClaims(rate, self._line_theta(a["line_names"][0]), own_row, scale, terms)
        seq = np.random.SeedSequence(self.result.seed,
                                     spawn_key=(QUOTE_STREAM, zlib.crc32(str(a["policy_id"][0]).encode())))
        state = seq.generate_state(4, np.uint64)
        annual = np.empty(self.result.years)
        book_kernels.policy_years(state, self.result.years, law_table.arrays(), own, events, annual)
        return annual, float(a["sum_insured"][0])

    def _line_theta(self, line: str) -> np.ndarray:
        # a policy of a book line with parameter risk shares the line's factor in every year
        names = self.result.portfolio.line_names
        return self._theta[names.index(line)] if line in names else np.ones(self.result.years)

    def _exposure(self, table, a, law_table) -> EventExposure:
        years, rows, q, scale = [], [], [], []
        for s, shock in enumerate(self.result.portfolio.shocks):
            if shock.factor not in table.columns or str(table[shock.factor].iloc[0]) not in shock.values:
                continue
            if shock.clause == "batch":
                raise InputError(f"quote: the policy is exposed to {shock.name!r}, a batch-clause scenario whose "
                                 f"terms are shared by all policies hit; add it to the book and simulate again")
            if shock.basis == "sum_insured" and np.isnan(a["sum_insured"][0]):
                raise InputError(f"quote: the policy is exposed to {shock.name!r} but has no sum_insured")
            hit_years = self._shock_years[s]
            row, _ = law_table.row(shock.severity, 0.0)
            years.append(hit_years)
            rows.append(np.full(hit_years.size, row, dtype=np.int64))
            q.append(np.full(hit_years.size, shock.hit_probability))
            scale.append(np.full(hit_years.size, a["sum_insured"][0] if shock.basis == "sum_insured" else 1.0))
        if not years:
            return EventExposure(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return EventExposure(np.concatenate(years), np.concatenate(rows), np.concatenate(q), np.concatenate(scale))

    def _price(self, x: np.ndarray, sum_insured: float) -> dict:
        b = self.basis
        n = x.size
        mean = float(x.mean())
        stderr = float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        standalone_load = book_risk_load(x, b)
        marginal_load = book_risk_load(self.result.annual + x, b) - self.book_load
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


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
