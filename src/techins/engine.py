"""Monte Carlo driver: turns a line's laws into kernel codes, cuts years into chunks, seeds each chunk.

Reproducibility: a run is fixed by ``(line, seed, years)``. Years are cut into chunks of
``CHUNK_YEARS``; chunk ``k`` draws from a xoshiro256++ state made by
``numpy.random.SeedSequence(seed, spawn_key=(k,)).generate_state(4, numpy.uint64)`` (the same stream as
``SeedSequence(seed).spawn(n)[k]``), so the annual losses are bit-identical whatever the number of
threads, and a chunk can be recomputed alone (the Dask backend relies on that).

Thinning: when the occurrence terms have a deductible ``d > 0`` only claims above ``d`` can cost
anything, so by default the engine draws counts from the thinned law (Poisson(lambda S(d)),
negative binomial with the same size and mean ``m S(d)``, Binomial(n, p S(d))) and sizes from
``X | X > d``. This is exact in distribution for every figure of the layered losses; only the claim
counts then mean "claims above the deductible". ``thin=False`` draws every claim.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np

from techins import _validate, distributions as dist
from techins.errors import InputError, InputTypeError
from techins.kernels import book as book_kernels, compound, severity as sev_kernels
from techins.line import Line
from techins.portfolio import Portfolio
from techins.results import BookResult, SimulationResult

__all__ = ["simulate", "CHUNK_YEARS", "chunk_states"]

CHUNK_YEARS = 1 << 14
BACKENDS = ("local",)


def simulate(line: Line, years: int, seed: int, *, thin: bool = True, threads: int | None = None,
             backend: str = "local", progress=None) -> SimulationResult:
    """Simulate the annual aggregate losses of a line, or of a book of policies, by Monte Carlo.

    Parameters
    ----------
    line : Line or Portfolio
        A line (frequency, severity, occurrence and aggregate terms), or a book of policies with its
        common shocks (``docs/accumulation.md``).
    years : int
        Number of simulated years, >= 1.
    seed : int
        Seed, an integer >= 0; the same seed gives bit-identical results for any thread count.
    thin : bool, default True
        Draw only the claims that exceed the occurrence deductible (exact in distribution).
    threads : int, optional
        Numba threads for this call; the machine's default when omitted. Results do not depend on it.
    backend : {"local"}
        Where the chunks run. Only the local (Numba threads) backend exists so far.
    progress : callable, optional
        For a book: called as ``progress(chunks_done, chunks_total)`` after each wave of chunks (a
        progress bar); it cannot change the numbers.

    Returns
    -------
    SimulationResult or BookResult
        ``annual`` (one aggregate loss per year), ``max_occurrence``, ``counts`` (lines only) and the
        figures with their Monte Carlo standard errors; a book's result adds per-line and per-policy
        figures.

    Examples
    --------
    >>> import techins as ti
    >>> line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    >>> sim = ti.simulate(line, years=10_000, seed=1)
    >>> sim.annual.shape
    (10000,)
    """
    if not isinstance(line, (Line, Portfolio)):
        raise InputTypeError(f"simulate: expected a techins.Line or techins.Portfolio, got {type(line).__name__}")
    years = _validate.integer("simulate", "years", years, low=1)
    seed = _validate.integer("simulate", "seed", seed, low=0)
    if backend not in BACKENDS:
        raise InputError(f"simulate: backend must be one of {BACKENDS}, got {backend!r}")
    if threads is not None:
        threads = _validate.integer("simulate", "threads", threads, low=1,
                                    high=numba.config.NUMBA_NUM_THREADS)
    if isinstance(line, Portfolio):
        return _simulate_book(line, years, seed, thin, threads, progress)

    occ = line.occurrence_layer
    threshold = occ.deductible if thin else 0.0
    frequency, survival = _thinned_frequency(line, threshold)
    freq_code, fp = frequency_kernel_params(frequency)
    sev_code, sp, values, probs, aliases = severity_kernel_params(line.severity, threshold)
    agg = line.aggregate_layer

    states = chunk_states(seed, years)
    annual = np.empty(years)
    max_occurrence = np.empty(years)
    counts = np.empty(years, dtype=np.int32)
    with _numba_threads(threads):
        compound.simulate_line(states, CHUNK_YEARS, years, freq_code, fp, sev_code, sp, values, probs,
                               aliases, _terms(occ), _terms(agg), annual, max_occurrence, counts)
    return SimulationResult(annual=annual, max_occurrence=max_occurrence, counts=counts, seed=seed,
                            line=line, counted_above=threshold, claim_rate=frequency.mean(),
                            reach_probability=survival)


def chunk_states(seed: int, years: int, first_chunk: int = 0, n_chunks: int | None = None,
                 chunk_years: int = CHUNK_YEARS) -> np.ndarray:
    """Return the xoshiro256++ states (``uint64[n, 4]``) of chunks ``first_chunk ...``.

    Chunk ``k``'s state comes from ``SeedSequence(seed, spawn_key=(k,))``, independent of all others.
    """
    total = -(-years // chunk_years)
    if n_chunks is None:
        n_chunks = total - first_chunk
    states = np.empty((n_chunks, 4), dtype=np.uint64)
    for i in range(n_chunks):
        state = np.random.SeedSequence(seed, spawn_key=(first_chunk + i,)).generate_state(4, np.uint64)
        if not state.any():  # xoshiro's one forbidden state; astronomically unlikely
            state[0] = 1
        states[i] = state
    return states


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


BOOK_WAVE = 8                 # chunks per parallel wave; fixed, so sums do not depend on threads
BOOK_CLAIMS_PER_CHUNK = 1 << 20


def book_chunk_years(portfolio: Portfolio, total_rate: float) -> int:
    """Years per chunk of a book: a power of two, at most ``CHUNK_YEARS``, with at most about 2**20
    expected claims and shock hits per chunk. It depends on the book alone, never on threads."""
    hits = sum(shock.rate * shock.hit_probability * portfolio.exposed(shock).size for shock in portfolio.shocks)
    per_year = total_rate + hits
    chunk = CHUNK_YEARS
    while chunk > 1 and chunk * per_year > BOOK_CLAIMS_PER_CHUNK:
        chunk //= 2
    return chunk


def _simulate_book(portfolio: Portfolio, years: int, seed: int, thin: bool, threads, progress=None) -> BookResult:
    run = BookRun(portfolio, years, seed, thin)
    n = portfolio.n_policies
    annual = np.empty(years)
    max_occurrence = np.empty(years)
    line_annual = np.empty((len(portfolio.line_names), years))
    policy_sum, policy_sumsq, policy_cross = np.zeros(n), np.zeros(n), np.zeros(n)
    contract_sumsq = np.zeros(portfolio.n_contracts)
    chunk_groups = np.zeros(run.n_chunks, dtype=np.int64)
    with _numba_threads(threads):
        for first in range(0, run.n_chunks, BOOK_WAVE):
            ids = np.arange(first, min(first + BOOK_WAVE, run.n_chunks), dtype=np.int64)
            psum, psumsq, pcross, csumsq, n_groups, _ = run.wave(ids, annual, max_occurrence, line_annual)
            chunk_groups[ids] = n_groups
            for w in range(ids.size):  # chunk order, whatever the threads did
                policy_sum += psum[w]
                policy_sumsq += psumsq[w]
                policy_cross += pcross[w]
                contract_sumsq += csumsq[w]
            if progress is not None:
                progress(int(ids[-1]) + 1, run.n_chunks)
    return BookResult(annual=annual, max_occurrence=max_occurrence, counts=None, seed=seed, line=portfolio,
                      line_annual=line_annual, policy_sum=policy_sum, policy_sumsq=policy_sumsq,
                      policy_cross=policy_cross, contract_sumsq=contract_sumsq if portfolio.n_contracts else None,
                      chunk_years=run.chunk_years, chunk_groups=chunk_groups, thin=thin)


def book_tail_losses(result: BookResult, level: float, threads: int | None = None):
    """Each policy's loss in the book's tail years (book loss >= its VaR at ``level``), for allocation.

    The chunks holding tail years are simulated again from their own streams, which gives exactly
    the first run's numbers, keeping only the tail years: memory stays bounded by the tail.

    Returns
    -------
    tail_year, tail_policy, tail_loss : numpy.ndarray
        One row per (year, policy) with a non-zero loss in a tail year, ordered by chunk, then policy.
    """
    from techins import figures

    level = figures.check_level("book_tail_losses", level, upper_open=True)
    threshold = figures.quantile_equal(np.sort(result.annual), level)
    run = BookRun(result.portfolio, result.years, result.seed, result.thin)
    tail_chunks = np.unique(np.flatnonzero(result.annual >= threshold) // run.chunk_years)
    parts = []
    scratch = (np.empty(result.years), np.empty(result.years), np.empty_like(result.line_annual))
    with _numba_threads(threads):
        for first in range(0, tail_chunks.size, BOOK_WAVE):
            ids = tail_chunks[first:first + BOOK_WAVE].astype(np.int64)
            capacity = result.chunk_groups[ids]
            *_, tail = run.wave(ids, *scratch, keep_above=threshold, capacity=capacity)
            parts.append(tail)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


OCCURRENCE_COLUMNS = ("year", "occurrence_id", "policy_id", "line", "loss")


def occurrence_chunks(result: BookResult, *, after_aggregates: bool = False):
    """Stream the book's occurrence loss table, one chunk of years at a time.

    Each chunk is drawn again from its own seed stream, so the rows are exactly the occurrences of the
    run: every independent claim, and every common-shock event (one ``occurrence_id`` shared by all the
    policies it hits), after each policy's occurrence terms and, unless ``after_aggregates``, before
    its aggregate terms (see ``occurrence_arrays``). Memory
    holds one chunk; ``pandas.concat(occurrence_chunks(result))`` gives the whole table when asked.

    Yields
    ------
    pandas.DataFrame
        Columns ``OCCURRENCE_COLUMNS``; ``occurrence_id`` is unique in the run
        (chunk index x 2**32 + index in the chunk).
    """
    import pandas as pd

    portfolio = result.portfolio
    ids, lines = portfolio.arrays["policy_id"], np.asarray(portfolio.line_names, dtype=object)
    line_of = portfolio.arrays["line"]
    for year, occurrence_id, policy, loss in occurrence_arrays(result, after_aggregates=after_aggregates):
        yield pd.DataFrame({"year": year, "occurrence_id": occurrence_id, "policy_id": ids[policy],
                            "line": lines[line_of[policy]], "loss": loss})


def occurrence_arrays(result: BookResult, *, after_aggregates: bool = False):
    """The arrays behind ``occurrence_chunks``, one chunk of years at a time: ``year``,
    ``occurrence_id`` (chunk index x 2**32 + index in the chunk), ``policy`` (row index in the
    portfolio) and ``loss`` (> 0), in the kernel's order (claims policy by policy, then events).

    With ``after_aggregates`` each loss is also cut by its policy's annual aggregate terms and its
    contract's, pro rata within the (policy, year) as the kernel cuts them
    (``cut_by_annual_terms``): the occurrences then add up to the book's annual losses.
    """
    run = BookRun(result.portfolio, result.years, result.seed, result.thin)
    for chunk in range(run.n_chunks):
        state = chunk_states(result.seed, result.years, chunk, 1, chunk_years=run.chunk_years)[0]
        first = chunk * run.chunk_years
        stop = min(first + run.chunk_years, result.years)
        while True:
            c_first, c_year, c_loss = (b[0] for b in run.claim_buffers(1))
            year, occurrence, policy, loss, n = book_kernels.occurrence_table_chunk(
                state.copy(), first, stop, *run.inputs, c_first, c_year, c_loss)
            if n >= 0:
                break
            run.grow_claim_buffers()
        if after_aggregates:
            loss = cut_by_annual_terms(year, policy, loss, run.aggregate_terms, run.contract_of, run.contract_terms)
        keep = loss > 0.0
        yield year[keep], (chunk << 32) + occurrence[keep], policy[keep], loss[keep]


def annual_by_group(result: BookResult, groups) -> np.ndarray:
    """``[groups, years]``: each group's annual loss, from the occurrences after the aggregate terms
    (so the groups add up to the book's annual loss). ``groups`` gives each policy (row) a code
    ``0..G-1``, e.g. the member of a pool who brought it."""
    codes = np.asarray(groups)
    if codes.ndim != 1 or codes.size != result.portfolio.n_policies or not np.issubdtype(codes.dtype, np.integer) \
            or (codes.size and codes.min() < 0):
        raise InputError(f"annual_by_group: groups must hold one integer code >= 0 per policy "
                         f"({result.portfolio.n_policies})")
    n_groups = int(codes.max(initial=-1)) + 1
    out = np.zeros((n_groups, result.years))
    for year, _, policy, loss in occurrence_arrays(result, after_aggregates=True):
        if loss.size == 0:
            continue
        first = int(year.min())
        span = int(year.max()) - first + 1
        sums = np.bincount(codes[policy] * span + (year - first), weights=loss, minlength=n_groups * span)
        out[:, first:first + span] += sums.reshape(n_groups, span)
    return out


def cut_by_annual_terms(year, policy, loss, aggregate_terms, contract_of, contract_terms) -> np.ndarray:
    """Occurrence losses cut by their policy's annual aggregate terms, then its contract's.

    Parameters
    ----------
    year, policy, loss : numpy.ndarray
        One row per (occurrence, policy), losses after the occurrence terms.
    aggregate_terms : numpy.ndarray
        ``[policies, 2]``: each policy's (aggregate deductible, aggregate limit).
    contract_of, contract_terms : numpy.ndarray
        Each policy's contract and ``[contracts, 2]`` contract terms (empty: no contracts).

    Returns
    -------
    numpy.ndarray
        ``loss * a / t`` with ``t`` the (policy, year) total and ``a = min(max(t - d, 0), l)``, then the
        same over each (contract, year): the kernel's pro rata cut-back, so a year's rows add up to
        the book's annual loss (vectorised; a sort per chunk).
    """
    if loss.size == 0:
        return loss
    span = int(year.max()) - int(year.min()) + 1
    rel_year = year - year.min()
    groups, inverse = np.unique(policy * span + rel_year, return_inverse=True)
    total = np.bincount(inverse, weights=loss)
    group_policy = groups // span
    after = np.minimum(np.maximum(total - aggregate_terms[group_policy, 0], 0.0), aggregate_terms[group_policy, 1])
    if contract_terms.shape[0] > 0:
        contract = contract_of[group_policy]
        c_groups, c_inverse = np.unique(contract * span + groups % span, return_inverse=True)
        c_total = np.bincount(c_inverse, weights=after)
        c_contract = c_groups // span
        c_after = np.minimum(np.maximum(c_total - contract_terms[c_contract, 0], 0.0), contract_terms[c_contract, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            after = after * np.where(c_total > 0.0, c_after / c_total, 0.0)[c_inverse]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0.0, after / total, 0.0)
    return loss * ratio[inverse]


class BookRun:
    """A book turned into kernel arrays once, and its chunks run wave by wave."""

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
        shocks = portfolio.shocks
        exposed = [portfolio.exposed(s) for s in shocks]
        shock_rows = np.array([table.row(s.severity, 0.0)[0] for s in shocks], dtype=np.int64)
        codes, params, offsets, values, probs, aliases = table.arrays()
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
        self.years, self.seed, self.n_policies = years, seed, n
        self.total_rate = float(rates.sum())
        self.shock_rate = np.array([s.rate for s in shocks], dtype=np.float64)
        self.shock_q = np.array([s.hit_probability for s in shocks], dtype=np.float64)
        self.exposed_offsets = np.concatenate([[0], np.cumsum([e.size for e in exposed])]).astype(np.int64)
        self.chunk_years = book_chunk_years(portfolio, self.total_rate)
        self.n_chunks = -(-years // self.chunk_years)
        # parameter risk moves a year's claims up and down: budget for a high factor
        expected = self.total_rate * self.chunk_years * (1.0 + 3.0 * float(self.line_cv.max(initial=0.0)))
        self.claim_capacity = int(1.1 * expected + 10.0 * np.sqrt(expected) + 1024)
        self._buffers = None
        self.contract_of, self.contract_terms = a["contract"], a["contract_terms"]
        self.aggregate_terms = np.column_stack([a["agg_deductible"], a["agg_limit"]])
        self.inputs = (
            perm, group_start, group_rate, group_row, group_line, self.line_cv, cond_prob, a["severity_scale"],
            np.column_stack([a["deductible"], a["limit"], a["share"], a["agg_deductible"], a["agg_limit"]]),
            a["line"], a["sum_insured"], codes, params, offsets, values, probs, aliases,
            self.shock_rate, self.shock_q, shock_rows,
            np.array([s.basis == "sum_insured" for s in shocks], dtype=np.bool_),
            np.array([s.clause == "batch" for s in shocks], dtype=np.bool_),
            np.array([(s.event_deductible, s.event_limit) for s in shocks], dtype=np.float64).reshape(-1, 2),
            np.concatenate(exposed).astype(np.int64) if exposed else np.zeros(0, np.int64),
            self.exposed_offsets,
        )

    def wave(self, ids, annual, max_occurrence, line_annual, keep_above=np.inf, capacity=None):
        """Run chunks ``ids`` in parallel; return their policy sums, group counts and kept tail."""
        width = ids.size
        states = np.concatenate([chunk_states(self.seed, self.years, int(k), 1, chunk_years=self.chunk_years)
                                 for k in ids])
        psum, psumsq, pcross = (np.empty((width, self.n_policies)) for _ in range(3))
        csumsq = np.empty((width, self.contract_terms.shape[0]))
        capacity = np.zeros(width, dtype=np.int64) if capacity is None else capacity
        offsets = np.concatenate([[0], np.cumsum(capacity)]).astype(np.int64)
        tail_year = np.empty(offsets[-1], dtype=np.int64)
        tail_pol = np.empty(offsets[-1], dtype=np.int64)
        tail_loss = np.empty(offsets[-1])
        n_groups = np.zeros(width, dtype=np.int64)
        n_kept = np.zeros(width, dtype=np.int64)
        while True:
            c_first, c_year, c_loss = self.claim_buffers(width)
            book_kernels.simulate_book_wave(states, ids, self.chunk_years, self.years, *self.inputs,
                                            self.contract_of, self.contract_terms, annual, max_occurrence,
                                            line_annual, psum, psumsq, pcross, csumsq, keep_above, offsets,
                                            tail_year, tail_pol, tail_loss, n_groups, n_kept, c_first, c_year,
                                            c_loss)
            if (n_groups >= 0).all():
                break
            # a chunk drew more claims than the buffers hold (far in the Poisson tail): every chunk
            # of the wave runs again from its own stream, with room to spare, to the same numbers
            self.grow_claim_buffers()
        keep = np.concatenate([np.arange(offsets[w], offsets[w] + n_kept[w]) for w in range(width)])
        return psum, psumsq, pcross, csumsq, n_groups, (tail_year[keep], tail_pol[keep], tail_loss[keep])

    def claim_buffers(self, width: int):
        """Scratch for the claims of each chunk in a wave, allocated once per run: fresh pages for
        every wave would cost more than the wave's arithmetic."""
        if self._buffers is None:
            self._buffers = (np.empty((BOOK_WAVE, self.n_policies + 1), dtype=np.int64),
                             np.empty((BOOK_WAVE, self.claim_capacity), dtype=np.int64),
                             np.empty((BOOK_WAVE, self.claim_capacity)))
        return tuple(b[:width] for b in self._buffers)

    def grow_claim_buffers(self) -> None:
        """Double the claim scratch after a chunk overflowed it (a re-run then gives the same numbers)."""
        self.claim_capacity *= 2
        self._buffers = None


class LawTable:
    """Kernel rows of the distinct (law, threshold) pairs of a book, with their alias tables."""

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

    def arrays(self):
        codes = np.array([r[0] for r in self._rows], dtype=np.int64)
        params = np.array([r[1] for r in self._rows]).reshape(-1, sev_kernels.N_PARAMS)
        sizes = [r[2].size for r in self._rows]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        values = np.concatenate([r[2] for r in self._rows]) if self._rows else np.zeros(1)
        probs = np.concatenate([r[3] for r in self._rows]) if self._rows else np.ones(1)
        aliases = np.concatenate([r[4] for r in self._rows]) if self._rows else np.zeros(1, np.intp)
        return codes, params, offsets, values, probs, aliases.astype(np.intp)


def _terms(layer) -> np.ndarray:
    return np.array([layer.deductible, layer.limit, layer.share])


@contextlib.contextmanager
def _numba_threads(threads: int | None):
    if threads is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)
