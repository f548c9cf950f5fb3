"""A run's plan: laws and terms turned into kernel arrays once, and the run cut into chunks of years.

Reproducibility: a run is fixed by ``(inputs, seed, years)``. Years are cut into chunks (``CHUNK_YEARS``
for a line; ``book_chunk_years`` for a book); chunk ``k`` draws from a xoshiro256++ state made by
``numpy.random.SeedSequence(seed, spawn_key=(k,)).generate_state(4, numpy.uint64)`` (the same stream as
``SeedSequence(seed).spawn(n)[k]``), so a chunk can be computed alone, by any thread, process or Dask
worker, to the same numbers.

Thinning: when the occurrence terms have a deductible ``d > 0`` only claims above ``d`` can cost
anything, so by default counts are drawn from the thinned law (Poisson(lambda S(d)), negative binomial
with the same size and mean ``m S(d)``, Binomial(n, p S(d))) and sizes from ``X | X > d``. This is
exact in distribution for every figure of the layered losses; only the claim counts then mean "claims
above the deductible". ``thin=False`` draws every claim.
"""

from __future__ import annotations

import copy

import numpy as np

from techins.errors import InputTypeError
from techins.kernels import book as book_kernels, compound, severity as sev_kernels
from techins.kernels.records import (
    BookArrays,
    ClaimGroups,
    ClaimScratch,
    LawRows,
    LineArrays,
    LineOutputs,
    PolicyTerms,
    ShockArrays,
    TailBuffers,
    WaveOutputs,
)
from techins.model import distributions as dist
from techins.model.line import Line
from techins.model.portfolio import Portfolio
from techins.simulation.dependence import book_copula, copula_states

__all__ = ["CHUNK_YEARS", "BOOK_WAVE", "BOOK_CLAIMS_PER_CHUNK", "chunk_count", "chunk_states", "LinePlan", "BookPlan",
           "LawTable", "book_chunk_years", "frequency_kernel_params", "severity_kernel_params", "alias_table"]

CHUNK_YEARS = 1 << 14          # years per chunk of a line
BOOK_WAVE = 8                  # chunks of a book per kernel call; fixed, so sums do not depend on threads
BOOK_CLAIMS_PER_CHUNK = 1 << 20


def chunk_count(years: int, chunk_years: int) -> int:
    """Chunks of ``chunk_years`` in a ``years``-year run (the last one may be short)."""
    return -(-years // chunk_years)


def chunk_states(seed: int, years: int, first_chunk: int = 0, n_chunks: int | None = None,
                 chunk_years: int = CHUNK_YEARS) -> np.ndarray:
    """Return the xoshiro256++ states (``uint64[n, 4]``) of chunks ``first_chunk ...``.

    Chunk ``k``'s state comes from ``SeedSequence(seed, spawn_key=(k,))``, independent of all others.
    """
    if n_chunks is None:
        n_chunks = chunk_count(years, chunk_years) - first_chunk
    states = np.empty((n_chunks, 4), dtype=np.uint64)
    for i in range(n_chunks):
        state = np.random.SeedSequence(seed, spawn_key=(first_chunk + i,)).generate_state(4, np.uint64)
        if not state.any():  # xoshiro's one forbidden state; astronomically unlikely
            state[0] = 1
        states[i] = state
    return states


class LinePlan:
    """A line turned into kernel codes and parameters once (``arrays``, a ``LineArrays``): any run of
    consecutive chunks of its simulation from them (``run_chunks``)."""

    chunk_years = CHUNK_YEARS

    def __init__(self, arrays: LineArrays, counted_above: float, claim_rate: float, reach_probability: float):
        self.arrays = arrays
        self.counted_above, self.claim_rate, self.reach_probability = counted_above, claim_rate, reach_probability

    @classmethod
    def of(cls, line: Line, thin: bool) -> "LinePlan":
        occ = line.occurrence_layer
        threshold = occ.deductible if thin else 0.0
        frequency, survival = _thinned_frequency(line, threshold)
        freq_code, fp = frequency_kernel_params(frequency)
        sev_code, sp, values, probs, aliases = severity_kernel_params(line.severity, threshold)
        arrays = LineArrays(freq_code, fp, sev_code, sp, values, probs, aliases, _terms(occ),
                            _terms(line.aggregate_layer))
        return cls(arrays, threshold, frequency.mean(), survival)

    def run_chunks(self, seed: int, years: int, first_chunk: int, n_chunks: int):
        """Annual losses, largest occurrences and claim counts of chunks ``first_chunk ...`` (``n_chunks``
        of them) of a ``years``-year run: its years ``first_chunk * CHUNK_YEARS ...``."""
        start = first_chunk * CHUNK_YEARS
        span = min(years - start, n_chunks * CHUNK_YEARS)
        states = chunk_states(seed, years, first_chunk, n_chunks)
        out = LineOutputs(np.empty(span), np.empty(span), np.empty(span, dtype=np.int32))
        # the kernel puts chunk c of ``states`` at year c * CHUNK_YEARS of the arrays it is given and no
        # draw depends on where a chunk sits, so these chunks alone give the whole run's numbers
        compound.simulate_line(states, CHUNK_YEARS, span, self.arrays, out)
        return out.annual, out.max_occurrence, out.counts


def frequency_kernel_params(frequency: dist.FrequencyLaw) -> tuple[int, np.ndarray]:
    """Kernel code and parameter vector of a frequency law."""
    fp = np.zeros(4)
    if isinstance(frequency, dist.Poisson):
        fp[0] = frequency.mean
        return compound.POISSON, fp
    if isinstance(frequency, dist.NegativeBinomial):
        fp[0], fp[1] = frequency.size, frequency.mean
        return compound.NEGATIVE_BINOMIAL, fp
    if isinstance(frequency, dist.Binomial):
        fp[0], fp[1] = frequency.n, frequency.p
        return compound.BINOMIAL, fp
    raise InputTypeError(f"no sampler for frequency law {type(frequency).__name__}")


def severity_kernel_params(law: dist.SeverityLaw, d: float):
    """Kernel code, parameters and alias table of ``law`` conditional on exceeding ``d`` (0: ground-up).

    See ``techins.kernels.severity`` for the layout.
    """
    sp = np.zeros(sev_kernels.N_PARAMS)
    no_table = (np.zeros(1), np.ones(1), np.zeros(1, dtype=np.intp))
    if isinstance(law, dist.Empirical):
        keep = law.support > d
        values = law.support[keep] if keep.any() else np.zeros(1)
        weights = law.probs[keep] if keep.any() else np.ones(1)
        probs, aliases = alias_table(weights / weights.sum())
        return sev_kernels.EMPIRICAL, sp, values, probs, aliases
    if isinstance(law, dist.Spliced):
        _spliced_params(law, d, sp)
        return (sev_kernels.SPLICED, sp) + no_table
    code, p0, p1 = _simple_law(law)
    sp[0], sp[1] = p0, p1
    if code == sev_kernels.LOGNORMAL:
        sp[2], sp[3] = d, float(law.sf(d)) if d > 0 else 1.0
    elif code == sev_kernels.WEIBULL:
        sp[2], sp[3] = d, (d / law.scale) ** law.shape
    elif code == sev_kernels.EXPONENTIAL:
        sp[1] = d
    else:
        sp[2] = d
    return (code, sp) + no_table


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) for a discrete law: O(1) draws."""
    n = probs.size
    scaled = probs * n
    accept = np.ones(n)
    alias = np.arange(n, dtype=np.intp)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return accept, alias


def _simple_law(law) -> tuple[int, float, float]:
    if isinstance(law, dist.LogNormal):
        return sev_kernels.LOGNORMAL, law.mu, law.sigma
    if isinstance(law, dist.Gamma):
        return sev_kernels.GAMMA, law.shape, law.scale
    if isinstance(law, dist.Weibull):
        return sev_kernels.WEIBULL, law.shape, law.scale
    if isinstance(law, dist.Pareto):
        return sev_kernels.PARETO, law.alpha, law.scale
    if isinstance(law, dist.Exponential):
        return sev_kernels.EXPONENTIAL, law.mean, 0.0
    raise InputTypeError(f"no sampler for severity law {type(law).__name__}")


def _spliced_params(law, d: float, sp: np.ndarray) -> None:
    u, xi, beta, t = law.threshold, law.tail_shape, law.tail_scale, law.tail_probability
    body_code, b0, b1 = _simple_law(law.body)
    tail_start = max(u, d)
    if d >= u:
        p_tail = 1.0
    else:
        f_u = float(law.body.cdf(u))
        body_above_d = (1.0 - t) * (f_u - float(law.body.cdf(d))) / f_u if d > 0 else 1.0 - t
        p_tail = t / (t + body_above_d)
    # a GPD excess over a higher threshold is again GPD with the same shape, scale beta + xi * shift
    sp[:11] = (u, xi, beta + xi * (tail_start - u), tail_start, p_tail, body_code, b0, b1,
               min(d, u), float(law.body.sf(min(d, u))), float(law.body.sf(u)))


def _thinned_frequency(line: Line, threshold: float) -> tuple[dist.FrequencyLaw, float]:
    if threshold <= 0.0:
        return line.frequency, 1.0
    survival = float(line.severity.sf(threshold))
    return line.frequency.thinned(survival), survival


def _terms(layer) -> np.ndarray:
    return np.array([layer.deductible, layer.limit, layer.share])


def book_chunk_years(portfolio: Portfolio, total_rate: float) -> int:
    """Years per chunk of a book: a power of two, at most ``CHUNK_YEARS``, with at most about 2**20
    expected claims and shock hits per chunk. It depends on the book alone, never on threads."""
    hits = sum(shock.rate * shock.hit_probability * portfolio.exposed(shock).size for shock in portfolio.shocks)
    per_year = total_rate + hits
    chunk = CHUNK_YEARS
    while chunk > 1 and chunk * per_year > BOOK_CLAIMS_PER_CHUNK:
        chunk //= 2
    return chunk


class BookPlan:
    """A book turned into kernel arrays once (``book``, a ``BookArrays``), and its chunks run wave by wave."""

    def __init__(self, portfolio: Portfolio, years: int, seed: int, thin: bool):
        a = portfolio.arrays
        n = portfolio.n_policies
        table = LawTable()
        rates = np.empty(n)
        rows = np.empty(n, dtype=np.int64)
        # one kernel row per law, thinned at the lowest of its policies' deductibles (in law units):
        # exact, since a claim below a policy's own deductible pays 0, and it keeps the laws few
        thresholds = a["deductible"] / a["severity_scale"] if thin else np.zeros(n)
        for key, law in portfolio.severities.items():
            mine = np.flatnonzero(a["severity_key"] == key)
            if mine.size:
                rows[mine], survival = table.row(law, float(thresholds[mine].min()))
                rates[mine] = a["claim_rate"][mine] * survival
        shocks = _shock_arrays(portfolio, table)
        # policies grouped by (kernel row, line), and each one's share of its group's remaining rate:
        # the chain of conditional binomials that splits a group's claims by rate (a line is part of
        # the group because a line with parameter risk weights its years)
        n_lines = len(portfolio.line_names)
        group_of = rows * n_lines + a["line"]
        groups, group_index = np.unique(group_of, return_inverse=True)
        perm = np.argsort(group_index, kind="stable").astype(np.int64)
        group_start = np.concatenate([[0], np.cumsum(np.bincount(group_index, minlength=groups.size))]).astype(np.int64)
        sorted_rates = rates[perm]
        cond_prob = np.zeros(n)
        group_rate = np.zeros(groups.size)
        for g in range(groups.size):
            lo, hi = group_start[g], group_start[g + 1]
            suffix = np.cumsum(sorted_rates[lo:hi][::-1])[::-1]
            group_rate[g] = suffix[0]
            with np.errstate(invalid="ignore", divide="ignore"):
                cond_prob[lo:hi] = np.where(suffix > 0, sorted_rates[lo:hi] / suffix, 0.0)
        group_row = (groups // n_lines).astype(np.int64)
        group_line = (groups % n_lines).astype(np.int64)
        self.line_cv = portfolio.line_cv
        line_frailty, frailty_cv = portfolio.line_frailty
        self.years, self.seed, self.n_policies = years, seed, n
        self.total_rate = float(rates.sum())
        self.shock_rate, self.shock_q, self.exposed_offsets = shocks.rate, shocks.q, shocks.exposed_offsets
        self.contract_of, self.contract_terms = a["contract"], a["contract_terms"]
        self.aggregate_terms = np.column_stack([a["agg_deductible"], a["agg_limit"]])
        policies = PolicyTerms(
            scale=a["severity_scale"],
            terms=np.column_stack([a["deductible"], a["limit"], a["share"], a["agg_deductible"], a["agg_limit"]]),
            line=a["line"], sum_insured=a["sum_insured"], contract=self.contract_of,
            contract_terms=self.contract_terms)
        groups = ClaimGroups(perm=perm, group_start=group_start, group_rate=group_rate, group_row=group_row,
                             group_line=group_line, line_cv=self.line_cv, line_frailty=line_frailty,
                             frailty_cv=frailty_cv, cond_prob=cond_prob)
        self.book = BookArrays(laws=table.arrays(), groups=groups, policies=policies, shocks=shocks,
                               copula=book_copula(portfolio, n))
        self.chunk_years = book_chunk_years(portfolio, self.total_rate)
        self.n_chunks = chunk_count(years, self.chunk_years)
        # parameter risk and frailty move a year's claims up and down: budget for a high factor
        spread = float(self.line_cv.max(initial=0.0)) + float(frailty_cv.max(initial=0.0))
        expected = self.total_rate * self.chunk_years * (1.0 + 3.0 * spread)
        self.claim_capacity = int(1.1 * expected + 10.0 * np.sqrt(expected) + 1024)
        self._buffers = None

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        """The years ``[first, stop)`` of chunk ``chunk`` (the last chunk may be short)."""
        first = chunk * self.chunk_years
        return first, min(first + self.chunk_years, self.years)

    def states(self, ids) -> np.ndarray:
        """The generator states of chunks ``ids`` as the book kernels take them (``uint64[len(ids), 4]``,
        or ``[len(ids), 8]`` with words 4-7 each chunk's copula stream when the book has a copula): the
        simulation and every re-draw of its chunks (tail, occurrences) start from these."""
        states = np.concatenate([chunk_states(self.seed, self.years, int(k), 1, chunk_years=self.chunk_years)
                                 for k in ids])
        # the copula's streams only when there is a copula: a book without one pays nothing for it
        if self.book.copula.n_margins > 0:
            states = np.ascontiguousarray(np.concatenate([states, copula_states(self.seed, ids)], axis=1))
        return states

    def wave(self, ids, annual, max_occurrence, line_annual, keep_above=np.inf, capacity=None, origin: int = 0):
        """Run chunks ``ids`` in parallel; return their policy sums, group counts and kept tail.

        ``annual``, ``max_occurrence`` and ``line_annual`` hold the run's years from chunk ``origin``'s
        first year on (0: the whole run; a Dask task passes its first chunk and arrays of its years
        only). The kernel places each chunk by its index and no draw depends on where a chunk sits,
        so the numbers are the same either way; the tail's years are the run's.
        """
        width = ids.size
        states = self.states(ids)
        shift = origin * self.chunk_years
        local_ids = np.ascontiguousarray(ids - origin, dtype=np.int64)
        n = self.n_policies
        out = WaveOutputs(annual=annual, max_occurrence=max_occurrence, line_annual=line_annual,
                          psum=np.empty((width, n)), psumsq=np.empty((width, n)), pcross=np.empty((width, n)),
                          csumsq=np.empty((width, self.contract_terms.shape[0])),
                          n_groups=np.zeros(width, dtype=np.int64), n_kept=np.zeros(width, dtype=np.int64))
        capacity = np.zeros(width, dtype=np.int64) if capacity is None else capacity
        offsets = np.concatenate([[0], np.cumsum(capacity)]).astype(np.int64)
        tail = TailBuffers(keep_above=float(keep_above), offsets=offsets, year=np.empty(offsets[-1], dtype=np.int64),
                           policy=np.empty(offsets[-1], dtype=np.int64), loss=np.empty(offsets[-1]))
        while True:
            book_kernels.simulate_book_wave(states, local_ids, self.chunk_years, self.years - shift, self.book, out,
                                            tail, self.claim_buffers(width))
            if (out.n_groups >= 0).all():
                break
            # a chunk drew more claims than the buffers hold (far in the Poisson tail): every chunk
            # of the wave runs again from its own stream, with room to spare, to the same numbers
            self.grow_claim_buffers()
        keep = np.concatenate([np.arange(offsets[w], offsets[w] + out.n_kept[w]) for w in range(width)])
        return (out.psum, out.psumsq, out.pcross, out.csumsq, out.n_groups,
                (tail.year[keep] + shift, tail.policy[keep], tail.loss[keep]))

    def fresh(self) -> "BookPlan":
        """A copy sharing the book's (read-only) arrays with its own claim buffers: the buffers are
        scratch, so each concurrent user of one run (a Dask worker's task threads) needs its own."""
        run = copy.copy(self)
        run._buffers = None
        return run

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_buffers"] = None  # scratch, never worth sending to a Dask worker
        return state

    def claim_buffers(self, width: int) -> ClaimScratch:
        """Scratch for the claims of each chunk in a wave (row ``w``: chunk ``w``), allocated once per
        run: fresh pages for every wave would cost more than the wave's arithmetic."""
        if self._buffers is None:
            self._buffers = ClaimScratch(np.empty((BOOK_WAVE, self.n_policies + 1), dtype=np.int64),
                                         np.empty((BOOK_WAVE, self.claim_capacity), dtype=np.int64),
                                         np.empty((BOOK_WAVE, self.claim_capacity)))
        return ClaimScratch(*(b[:width] for b in self._buffers))

    def grow_claim_buffers(self) -> None:
        """Double the claim scratch after a chunk overflowed it (a re-run then gives the same numbers)."""
        self.claim_capacity *= 2
        self._buffers = None


def _shock_arrays(portfolio: Portfolio, table: "LawTable") -> ShockArrays:
    """The book's common shocks as the kernels take them; their laws join ``table`` (ground-up)."""
    shocks = portfolio.shocks
    exposed = [portfolio.exposed(s) for s in shocks]
    return ShockArrays(
        rate=np.array([s.rate for s in shocks], dtype=np.float64),
        q=np.array([s.hit_probability for s in shocks], dtype=np.float64),
        row=np.array([table.row(s.severity, 0.0)[0] for s in shocks], dtype=np.int64),
        on_si=np.array([s.basis == "sum_insured" for s in shocks], dtype=np.bool_),
        batch=np.array([s.clause == "batch" for s in shocks], dtype=np.bool_),
        terms=np.array([(s.event_deductible, s.event_limit) for s in shocks], dtype=np.float64).reshape(-1, 2),
        exposed=np.concatenate(exposed).astype(np.int64) if exposed else np.zeros(0, np.int64),
        exposed_offsets=np.concatenate([[0], np.cumsum([e.size for e in exposed])]).astype(np.int64),
    )


class LawTable:
    """Kernel rows of the distinct (law, threshold) pairs of a book, with their alias tables
    (``arrays``: the ``LawRows`` record the kernels take)."""

    def __init__(self):
        self._index = {}
        self._rows = []

    def row(self, law, threshold: float) -> tuple[int, float]:
        key = (law, float(threshold))
        if key not in self._index:
            survival = float(law.sf(threshold)) if threshold > 0 else 1.0
            self._index[key] = (len(self._rows), survival)
            self._rows.append(severity_kernel_params(law, threshold))
        return self._index[key]

    def arrays(self) -> LawRows:
        codes = np.array([r[0] for r in self._rows], dtype=np.int64)
        params = np.array([r[1] for r in self._rows]).reshape(-1, sev_kernels.N_PARAMS)
        sizes = [r[2].size for r in self._rows]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        values = np.concatenate([r[2] for r in self._rows]) if self._rows else np.zeros(1)
        probs = np.concatenate([r[3] for r in self._rows]) if self._rows else np.ones(1)
        aliases = np.concatenate([r[4] for r in self._rows]) if self._rows else np.zeros(1, np.intp)
        return LawRows(codes, params, offsets, values, probs, aliases.astype(np.intp))
