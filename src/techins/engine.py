"""Monte Carlo driver: turns a line's laws into kernel codes, cuts years into chunks, seeds each chunk.

Reproducibility: a run is fixed by ``(line, seed, years)``. Years are cut into chunks of
``CHUNK_YEARS``; chunk ``k`` draws from a xoshiro256++ state made by
``numpy.random.SeedSequence(seed, spawn_key=(k,)).generate_state(4, numpy.uint64)`` (the same stream as
``SeedSequence(seed).spawn(n)[k]``), so the annual losses are bit-identical whatever the number of
threads, and a chunk can be recomputed alone: the Dask backend (``techins.distributed``) runs groups of
chunks as tasks and folds their results in chunk order, to the same bits.

Thinning: when the occurrence terms have a deductible ``d > 0`` only claims above ``d`` can cost
anything, so by default the engine draws counts from the thinned law (Poisson(lambda S(d)),
negative binomial with the same size and mean ``m S(d)``, Binomial(n, p S(d))) and sizes from
``X | X > d``. This is exact in distribution for every figure of the layered losses; only the claim
counts then mean "claims above the deductible". ``thin=False`` draws every claim.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numba
import numpy as np

from techins import _validate, distributions as dist
from techins.errors import InputError, InputTypeError
from techins.kernels import book as book_kernels, compound, severity as sev_kernels
from techins.line import Line
from techins.portfolio import Portfolio
from techins.results import BookResult, SimulationResult

__all__ = ["simulate", "CHUNK_YEARS", "chunk_states", "PERIOD_COLUMNS"]

CHUNK_YEARS = 1 << 14
BACKENDS = ("local", "dask")


def simulate(line: Line, years: int, seed: int, *, thin: bool = True, threads: int | None = None,
             backend: str = "local", client=None, progress=None, period_losses=None) -> SimulationResult:
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
        Numba threads for this call (with ``backend="dask"``: per task on each worker); the machine's
        (worker's) default when omitted. Results do not depend on it.
    backend : {"local", "dask"}
        Where the chunks run: ``"local"``, Numba threads in this process; ``"dask"``, tasks of a few
        chunks each on a Dask cluster (``techins.distributed``, the optional extra
        ``pip install 'techins[dask]'``). Both give bit-identical results for the same seed.
    client : distributed.Client or str, optional
        With ``backend="dask"`` only: the cluster's client, or its scheduler's address
        (``"tcp://host:8786"``). When omitted a ``LocalCluster`` is started for this call and closed
        after it.
    progress : callable, optional
        Called as ``progress(chunks_done, chunks_total)`` as chunks complete in order (a progress bar);
        it cannot change the numbers.
    period_losses : str or pathlib.Path, optional
        A folder to write the period (year) loss table to, one Parquet file per chunk of years
        (``chunk-00000.parquet``, ...; columns ``PERIOD_COLUMNS``, then ``claims`` for a line or one
        ``line:NAME`` column per product line for a book). On the Dask backend each task writes its
        own chunks, so the folder must be one the workers can all write (a shared file system).

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
    check_backend("simulate", backend, client)
    threads = check_threads("simulate", threads, backend)
    folder = period_folder(period_losses)
    if backend == "dask":
        from techins import distributed  # Dask is imported only when asked for

        return distributed.simulate(line, years, seed, thin=thin, threads=threads, client=client,
                                    progress=progress, period_losses=folder)
    if isinstance(line, Portfolio):
        return _simulate_book(line, years, seed, thin, threads, progress, folder)

    kernel = LineKernel.of(line, thin)
    with _numba_threads(threads):
        annual, max_occurrence, counts = kernel.chunks(seed, years, 0, -(-years // CHUNK_YEARS))
    if folder is not None:
        write_period_losses(folder, 0, CHUNK_YEARS, 0, {"loss": annual, "max_occurrence": max_occurrence,
                                                         "claims": counts})
    if progress is not None:
        progress(-(-years // CHUNK_YEARS), -(-years // CHUNK_YEARS))
    return kernel.result(line, seed, annual, max_occurrence, counts)


def check_backend(owner: str, backend, client) -> None:
    """``backend`` is one of ``BACKENDS``, and ``client`` is only given with the Dask backend."""
    if backend not in BACKENDS:
        raise InputError(f"{owner}: backend must be one of {BACKENDS}, got {backend!r}")
    if client is not None and backend != "dask":
        raise InputError(f"{owner}: a client or scheduler address is only used with backend='dask'")


def check_threads(owner: str, threads, backend: str):
    """Numba threads asked for, or None. Locally at most this machine's Numba threads; a Dask worker
    uses at most its own (``techins.distributed``)."""
    if threads is None:
        return None
    high = numba.config.NUMBA_NUM_THREADS if backend == "local" else None
    return _validate.integer(owner, "threads", threads, low=1, high=high)


class LineKernel:
    """A line turned into kernel codes and parameters once; any run of consecutive chunks of its
    simulation from them (the whole run locally, a task's share on Dask)."""

    def __init__(self, args: tuple, counted_above: float, claim_rate: float, reach_probability: float):
        self.args = args
        self.counted_above, self.claim_rate, self.reach_probability = counted_above, claim_rate, reach_probability

    @classmethod
    def of(cls, line: Line, thin: bool) -> "LineKernel":
        occ = line.occurrence_layer
        threshold = occ.deductible if thin else 0.0
        frequency, survival = _thinned_frequency(line, threshold)
        freq_code, fp = frequency_kernel_params(frequency)
        sev_code, sp, values, probs, aliases = severity_kernel_params(line.severity, threshold)
        args = (freq_code, fp, sev_code, sp, values, probs, aliases, _terms(occ), _terms(line.aggregate_layer))
        return cls(args, threshold, frequency.mean(), survival)

    def chunks(self, seed: int, years: int, first_chunk: int, n_chunks: int):
        """Annual losses, largest occurrences and claim counts of chunks ``first_chunk ...`` (``n_chunks``
        of them) of a ``years``-year run: its years ``first_chunk * CHUNK_YEARS ...``."""
        start = first_chunk * CHUNK_YEARS
        span = min(years - start, n_chunks * CHUNK_YEARS)
        states = chunk_states(seed, years, first_chunk, n_chunks)
        annual = np.empty(span)
        max_occurrence = np.empty(span)
        counts = np.empty(span, dtype=np.int32)
        # the kernel puts chunk c of ``states`` at year c * CHUNK_YEARS of the arrays it is given and no
        # draw depends on where a chunk sits, so these chunks alone give the whole run's numbers
        compound.simulate_line(states, CHUNK_YEARS, span, *self.args, annual, max_occurrence, counts)
        return annual, max_occurrence, counts

    def result(self, line: Line, seed: int, annual, max_occurrence, counts) -> SimulationResult:
        return SimulationResult(annual=annual, max_occurrence=max_occurrence, counts=counts, seed=seed,
                                line=line, counted_above=self.counted_above, claim_rate=self.claim_rate,
                                reach_probability=self.reach_probability)


PERIOD_COLUMNS = ("year", "loss", "max_occurrence")


def period_folder(folder):
    """The folder for ``period_losses`` (created), or None."""
    if folder is None:
        return None
    if not isinstance(folder, (str, os.PathLike)):
        raise InputTypeError(f"simulate: period_losses must be a folder path, got {type(folder).__name__}")
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise InputError(f"simulate: period_losses {str(path)!r} is a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_period_losses(folder: Path, first_chunk: int, chunk_years: int, first_year: int, columns: dict) -> list[Path]:
    """Write the period (year) loss table of consecutive chunks, one Parquet file each.

    ``columns`` hold the years ``first_year ...`` (chunk ``first_chunk``'s first year onwards): ``loss``,
    ``max_occurrence``, then ``claims`` (a line) or ``line:NAME`` (a book). Each file is
    ``chunk-NNNNN.parquet`` with ``PERIOD_COLUMNS`` first (``year`` 0-based, as in the occurrence
    table). It is written under a temporary name and renamed, so a retried task rewrites it whole and
    a reader never sees half a file.
    """
    import pandas as pd

    span = next(iter(columns.values())).shape[0]
    written = []
    for start in range(0, span, chunk_years):
        stop = min(start + chunk_years, span)
        frame = pd.DataFrame({"year": np.arange(first_year + start, first_year + stop, dtype=np.int64)}
                             | {name: values[start:stop] for name, values in columns.items()})
        path = folder / f"chunk-{first_chunk + start // chunk_years:05d}.parquet"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
        written.append(path)
    return written


def book_period_columns(line_names, annual, max_occurrence, line_annual) -> dict:
    """The columns of a book's period loss table (``write_period_losses``)."""
    columns = {"loss": annual, "max_occurrence": max_occurrence}
    for k, name in enumerate(line_names):
        columns[f"line:{name}"] = line_annual[k]
    return columns


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


def _simulate_book(portfolio: Portfolio, years: int, seed: int, thin: bool, threads, progress=None,
                   period_losses: Path | None = None) -> BookResult:
    run = BookRun(portfolio, years, seed, thin)
    sums = BookSums(portfolio, run)
    with _numba_threads(threads):
        for first in range(0, run.n_chunks, BOOK_WAVE):
            ids = np.arange(first, min(first + BOOK_WAVE, run.n_chunks), dtype=np.int64)
            psum, psumsq, pcross, csumsq, n_groups, _ = run.wave(ids, sums.annual, sums.max_occurrence,
                                                                 sums.line_annual)
            sums.add(ids, psum, psumsq, pcross, csumsq, n_groups)
            if period_losses is not None:
                lo, hi = first * run.chunk_years, min((int(ids[-1]) + 1) * run.chunk_years, years)
                write_period_losses(period_losses, first, run.chunk_years, lo, book_period_columns(
                    portfolio.line_names, sums.annual[lo:hi], sums.max_occurrence[lo:hi], sums.line_annual[:, lo:hi]))
            if progress is not None:
                progress(int(ids[-1]) + 1, run.n_chunks)
    return sums.result(seed, thin)


class BookSums:
    """A book run's results, filled chunk by chunk: the years' losses, and the per-policy sums added
    in chunk order (floating-point sums depend on their order; this one is fixed by the book alone,
    whichever threads, tasks or workers ran the chunks)."""

    def __init__(self, portfolio: Portfolio, run: "BookRun"):
        n, years = portfolio.n_policies, run.years
        self.portfolio, self.run = portfolio, run
        self.annual = np.empty(years)
        self.max_occurrence = np.empty(years)
        self.line_annual = np.empty((len(portfolio.line_names), years))
        self.policy_sum, self.policy_sumsq, self.policy_cross = np.zeros(n), np.zeros(n), np.zeros(n)
        self.contract_sumsq = np.zeros(portfolio.n_contracts)
        self.chunk_groups = np.zeros(run.n_chunks, dtype=np.int64)
        self.next_chunk = 0

    def add(self, ids, psum, psumsq, pcross, csumsq, n_groups) -> None:
        """Add the sums of chunks ``ids`` (row ``w`` is chunk ``ids[w]``); they must be the next ones."""
        if ids.size == 0 or int(ids[0]) != self.next_chunk or (np.diff(ids) != 1).any():
            raise RuntimeError(f"chunks {ids.tolist()} added out of order (next is {self.next_chunk})")
        self.chunk_groups[ids] = n_groups
        for w in range(ids.size):  # chunk order, whatever the threads did
            self.policy_sum += psum[w]
            self.policy_sumsq += psumsq[w]
            self.policy_cross += pcross[w]
            self.contract_sumsq += csumsq[w]
        self.next_chunk = int(ids[-1]) + 1

    def result(self, seed: int, thin: bool) -> BookResult:
        if self.next_chunk != self.run.n_chunks:
            raise RuntimeError(f"book run incomplete: {self.next_chunk} of {self.run.n_chunks} chunks")
        portfolio = self.portfolio
        return BookResult(annual=self.annual, max_occurrence=self.max_occurrence, counts=None, seed=seed,
                          line=portfolio, line_annual=self.line_annual, policy_sum=self.policy_sum,
                          policy_sumsq=self.policy_sumsq, policy_cross=self.policy_cross,
                          contract_sumsq=self.contract_sumsq if portfolio.n_contracts else None,
                          chunk_years=self.run.chunk_years, chunk_groups=self.chunk_groups, thin=thin)


def book_tail_losses(result: BookResult, level: float, threads: int | None = None, *, backend: str = "local",
                     client=None):
    """Each policy's loss in the book's tail years (book loss >= its VaR at ``level``), for allocation.

    The chunks holding tail years are simulated again from their own streams, which gives exactly
    the first run's numbers, keeping only the tail years: memory stays bounded by the tail.

    Parameters
    ----------
    result : BookResult
    level : float
        In (0, 1).
    threads : int, optional
        Numba threads (per task on a Dask worker); results do not depend on it.
    backend : {"local", "dask"}
        Where the tail chunks run again; the same rows either way (see ``simulate``).
    client : distributed.Client or str, optional
        With ``backend="dask"``: the cluster, or its scheduler's address; a ``LocalCluster`` when omitted.

    Returns
    -------
    tail_year, tail_policy, tail_loss : numpy.ndarray
        One row per (year, policy) with a non-zero loss in a tail year, ordered by chunk, then policy.
    """
    from techins import figures

    level = figures.check_level("book_tail_losses", level, upper_open=True)
    check_backend("book_tail_losses", backend, client)
    threads = check_threads("book_tail_losses", threads, backend)
    threshold = figures.quantile_equal(np.sort(result.annual), level)
    run = BookRun(result.portfolio, result.years, result.seed, result.thin)
    tail_chunks = np.unique(np.flatnonzero(result.annual >= threshold) // run.chunk_years)
    if backend == "dask":
        from techins import distributed

        parts = distributed.tail_losses(run, tail_chunks, result.chunk_groups, threshold, threads=threads,
                                        client=client)
    else:
        with _numba_threads(threads):
            parts = []
            for first in range(0, tail_chunks.size, BOOK_WAVE):
                ids = tail_chunks[first:first + BOOK_WAVE]
                parts.append(tail_wave(run, ids, result.chunk_groups[ids], threshold))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def tail_wave(run: "BookRun", ids, capacity, threshold: float):
    """The tail rows (year, policy, loss) of chunks ``ids`` (ascending), run again alone; ``capacity``
    is each chunk's number of (policy, year) losses in the first run (``BookResult.chunk_groups``)."""
    ids = np.asarray(ids, dtype=np.int64)
    origin = int(ids[0])
    span = min((int(ids[-1]) + 1) * run.chunk_years, run.years) - origin * run.chunk_years
    # scratch for the years of these chunks only: each chunk's years are its own (see BookRun.wave)
    scratch = (np.empty(span), np.empty(span), np.empty((run.line_cv.size, span)))
    *_, tail = run.wave(ids, *scratch, keep_above=threshold, capacity=np.asarray(capacity, dtype=np.int64),
                        origin=origin)
    return tail


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
    codes = group_codes("annual_by_group", groups, result.portfolio.n_policies)
    out = np.zeros((int(codes.max(initial=-1)) + 1, result.years))
    for year, _, policy, loss in occurrence_arrays(result, after_aggregates=True):
        add_by_group_and_year((out,), codes[policy], year, (loss,))
    return out


def group_codes(owner: str, groups, n_policies: int) -> np.ndarray:
    """``groups`` checked: one integer code >= 0 per policy (row) of a book, as int64."""
    codes = np.asarray(groups)
    if codes.ndim != 1 or codes.size != n_policies or not np.issubdtype(codes.dtype, np.integer) \
            or (codes.size and codes.min() < 0):
        raise InputError(f"{owner}: groups must hold one integer code >= 0 per policy ({n_policies})")
    return codes.astype(np.int64)


def add_by_group_and_year(totals, group: np.ndarray, year: np.ndarray, values) -> None:
    """Add each row's ``values[k]`` into ``totals[k][group, year]`` (``totals[k]`` is ``[groups,
    years]``): one ``bincount`` over the years the rows span, so a chunk of years costs its rows."""
    if year.size == 0:
        return
    first = int(year.min())
    span = int(year.max()) - first + 1
    key = group * span + (year - first)
    n_groups = totals[0].shape[0]
    for out, weights in zip(totals, values):
        out[:, first:first + span] += np.bincount(key, weights=weights, minlength=n_groups * span).reshape(n_groups,
                                                                                                        span)


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

    def wave(self, ids, annual, max_occurrence, line_annual, keep_above=np.inf, capacity=None, origin: int = 0):
        """Run chunks ``ids`` in parallel; return their policy sums, group counts and kept tail.

        ``annual``, ``max_occurrence`` and ``line_annual`` hold the run's years from chunk ``origin``'s
        first year on (0: the whole run; a Dask task passes its first chunk and arrays of its years
        only). The kernel places each chunk by its index and no draw depends on where a chunk sits,
        so the numbers are the same either way; the tail's years are the run's.
        """
        width = ids.size
        states = np.concatenate([chunk_states(self.seed, self.years, int(k), 1, chunk_years=self.chunk_years)
                                 for k in ids])
        shift = origin * self.chunk_years
        local_ids = np.ascontiguousarray(ids - origin, dtype=np.int64)
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
            book_kernels.simulate_book_wave(states, local_ids, self.chunk_years, self.years - shift, *self.inputs,
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
        return psum, psumsq, pcross, csumsq, n_groups, (tail_year[keep] + shift, tail_pol[keep], tail_loss[keep])

    def fresh(self) -> "BookRun":
        """A copy sharing the book's (read-only) arrays with its own claim buffers: the buffers are
        scratch, so each concurrent user of one run (a Dask worker's task threads) needs its own."""
        import copy

        run = copy.copy(self)
        run._buffers = None
        return run

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_buffers"] = None  # scratch, never worth sending to a Dask worker
        return state

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
