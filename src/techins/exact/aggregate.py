"""Exact aggregate loss distribution of a line: no sampling error, only a controlled grid error.

Method
------
1. The occurrence-layered claim ``Y' = min(max(X - d, 0), l)`` (before the share) is put on the lattice
   ``j h``, ``j = 0 .. n-1``, by the mean-preserving method (local moment matching of order 1) built on
   the severity's limited expected value ``E[Y' ^ y] = LEV_X(d + y) - LEV_X(d)``::

       f_0 = 1 - E[Y' ^ h] / h
       f_j = (2 E[Y' ^ jh] - E[Y' ^ (j-1)h] - E[Y' ^ (j+1)h]) / h

   The mass beyond the lattice is left in the last bucket, so the discretised claim has the mean
   ``E[Y' ^ (n-1)h]``: the severity mean lost is ``E[(Y' - (n-1)h)+]`` (reported). With a finite limit
   the automatic grid takes ``l / h`` an integer, so the atom at the limit sits on the lattice.
   Far in the tail of a continuous law, where the lev differences have lost their relative precision,
   the bucket means of the survival function come from the trapezoid rule on ``sf`` instead; an
   :class:`~techins.model.distributions.Empirical` law is split atom by atom (the same method, exactly).
2. ``method="fft"``: the aggregate lattice law is ``irfft(P_N(rfft(f)))`` with ``P_N`` the count's
   probability generating function. Before the transform ``f_j`` is tilted by ``exp(-theta j)`` and the
   result un-tilted: mass beyond the grid top then wraps round onto small losses damped by
   ``e^(-theta n)`` and is otherwise missing from the sum, where it is seen. The un-tilting multiplies
   the FFT round-off by up to ``e^(theta n)``, so ``theta n`` in [0, 10] is chosen per case to minimise
   the modelled mean error of both, from the probability beyond the top measured by a coarse 2**12
   FFT with the same top. ``method="panjer"``: Panjer's recursion for the (a, b, 0) counts, an
   independent second route (``O(n m)``, so its automatic grid has at most 2**14 buckets).
3. Round-off below zero is clipped; the probability missing from the sum (the aggregate beyond the
   grid) is put in the top bucket, which therefore reads "at or above the grid top". The share of
   the occurrence terms scales the lattice (support ``share * j * h``); the aggregate terms are
   applied to its points, and points they make equal are merged.

Automatic grid
--------------
With ``E[N]``, ``E[S']``, ``sd[S']`` in closed form:

* range ``b``: the largest of (a) ``x`` with ``E[(Y' - x)+] <= 1e-5 E[Y']`` (bisection in log space on
  the lev), (b) ``x`` with ``E[N] P(Y' > x) <= 0.8e-9`` (the severity's isf), (c) ``E[S'] + 12 sd[S']``;
  then ``b`` grows by 1.5 until a coarse 2**12-bucket FFT on ``[0, b]`` leaves at most ``0.9e-9`` of
  probability at or above its top;
* bucket: ``h <= 2e-3 q_ref`` with ``q_ref`` an estimate of the 0.9-quantile of ``S'`` from a
  2**14-bucket pilot on ``[0, min(E + 3 sd, 10 E, k q_Y)]`` (Cantelli, Markov and a count bound, each an
  upper bound of that quantile), minus one pilot bucket, and never below the closed-form 0.9-quantile
  of the largest claim (a lower bound). The lattice quantile is within ``h / 2`` of the true one, so
  tail quantiles (``p >= 0.9``) are within 1e-3 relative. When ``P(S = 0) >= 0.9`` the reference
  level is ``P(S = 0) + 0.1 (1 - P(S = 0))`` instead;
* ``n`` = the smallest power of two >= ``b / h_max``, within [2**10, 2**22] (2**14 for Panjer),
  ``h = b / n``, then ``h = l / floor(l / h)`` for a finite limit (``n`` doubles if that breaks
  ``h <= h_max``); for an empirical severity the same with the common step of all its layered
  values (and the limit) in place of ``l``, so that every atom is on the lattice and a discrete
  law is discretised exactly. When 2**22 buckets cannot give both, the range wins (the mean is kept) and an
  :class:`~techins.errors.AccuracyWarning` says the quantiles are coarser; for an infinite-mean
  severity the resolution wins instead.

Warnings (:class:`~techins.errors.AccuracyWarning`, never silent): the lattice mean (before the
aggregate terms) differs from the closed form ``E[N] E[Y]`` by more than 1e-4 relative; more than
1e-9 of probability at or above the grid top; an automatic FFT grid coarser than the resolution rule;
an infinite severity mean (Pareto ``alpha <= 1`` without a limit): the result is then the law
truncated at the grid top, and its mean, std and TVaR are those of the truncated law.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, figures_html, short_repr
from techins.errors import AccuracyWarning, InputError, InputTypeError
from techins.kernels.panjer import panjer as _panjer_kernel
from techins.lazy import lazy_module
from techins.model.distributions import Empirical
from techins.model.line import Line
from techins.results import figures

fft = lazy_module("scipy.fft")

__all__ = ["exact", "ExactResult"]

METHODS = ("fft", "panjer")

MIN_LOG2 = 10            # smallest automatic grid
MAX_LOG2_FFT = 22        # largest automatic FFT grid
MAX_LOG2_PANJER = 14     # largest automatic Panjer grid (O(n m) work)
MAX_LOG2_USER = 24       # largest grid a user may ask for
COARSE_LOG2 = 12         # grid of the range check
PILOT_LOG2 = 14          # grid of the pilot estimate of the reference quantile

MEAN_TOLERANCE = 1e-4    # warn when the lattice mean is off the closed form by more (relative)
TAIL_TOLERANCE = 1e-9    # warn when more probability sits at or above the grid top
MEAN_TARGET = 1e-5       # automatic range: severity mean beyond the top, relative
TAIL_TARGET = 0.8e-9     # automatic range: E[N] P(Y' > top)
TAIL_CHECK = 0.9e-9      # automatic range: coarse-grid probability at or above the top
RANGE_GROWTH = 1.5
SD_REACH = 12.0
RESOLUTION = 2e-3        # h <= RESOLUTION * q_ref: lattice quantiles within 1e-3 relative
REFERENCE_LEVEL = 0.9
TILT = 10.0              # theta * n of the exponential tilt


# ----------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, eq=False)
class ExactResult:
    """The aggregate annual loss distribution of a line on a lattice, with its grid diagnostics.

    Built by :func:`exact`; there is no sampling error, so :meth:`stderr` is 0 for every figure.

    Attributes
    ----------
    line : Line
        The line computed.
    method : {"fft", "panjer"}
        The route taken.
    bucket : float
        Lattice step ``h`` of the occurrence-layered claim before the share (the support points of
        the aggregate before its terms are ``share * j * h``).
    n_buckets : int
        Number of lattice points ``n``.
    values : numpy.ndarray
        Sorted support of the annual loss after occurrence and aggregate terms (read-only float64).
    probs : numpy.ndarray
        Probabilities of ``values``, summing to 1 (read-only float64).
    severity_mean_lost : float
        ``share * E[(Y' - (n-1)h)+]``: claim mean beyond the grid top (left out of the lattice).
    tail_mass : float
        Probability at or above the grid top before the aggregate terms (the top bucket also holds the
        probability that fell beyond the grid).
    mean_error : float
        ``lattice mean / (E[N] E[Y]) - 1`` before the aggregate terms; NaN for an infinite mean.
    grid_top : float
        ``share * (n-1) * h``, the largest lattice point before the aggregate terms.
    notes : tuple of str
        How the grid was chosen and anything worth knowing about it.
    claim_probs : numpy.ndarray
        The discretised occurrence-layered claim on ``share * j * h`` (read-only; the OEP uses it).

    Examples
    --------
    >>> import techins as ti
    >>> ex = ti.exact(ti.Line(ti.Poisson(2.0), ti.Exponential(1.0)))
    >>> abs(ex.mean() - 2.0) < 1e-6, ex.stderr("mean")
    (True, 0.0)
    """

    line: Line
    method: str
    bucket: float
    n_buckets: int
    values: np.ndarray = field(repr=False)
    probs: np.ndarray = field(repr=False)
    severity_mean_lost: float
    tail_mass: float
    mean_error: float
    grid_top: float
    notes: tuple = ()
    claim_probs: np.ndarray = field(default=None, repr=False)

    def _figures(self) -> list:
        return [Figure("method", self.method, kind="text"), Figure("buckets", self.n_buckets, kind="count"),
                Figure("mean", self.mean()), Figure("std", self.std()), Figure("VaR 99.5%", self.quantile(0.995)),
                Figure("TVaR 99%", self.tvar(0.99))]

    def __repr__(self) -> str:
        return short_repr("ExactResult", self._figures())

    def _repr_html_(self) -> str:
        return figures_html("ExactResult: the annual loss distribution on a lattice (no sampling error)",
                            self._figures())

    # ------------------------------------------------------------------ cached tables
    @cached_property
    def _cumprob(self) -> np.ndarray:
        cum = np.cumsum(self.probs)
        cum[-1] = 1.0
        return cum

    @cached_property
    def _occurrence_law(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lattice law of the year's largest occurrence loss: ``P(M <= x) = P_N(F_Y(x))``."""
        claim_cdf = np.minimum(np.cumsum(self.claim_probs), 1.0)
        claim_cdf[-1] = 1.0
        cdf = np.asarray(self.line.frequency.pgf(claim_cdf), dtype=np.float64)
        cdf = np.minimum(np.maximum.accumulate(cdf), 1.0)
        cdf[-1] = 1.0
        probs = np.diff(cdf, prepend=0.0)
        share = self.line.occurrence_layer.share
        values = share * self.bucket * np.arange(claim_cdf.size, dtype=np.float64)
        return values, probs, cdf

    # ------------------------------------------------------------------ figures
    def mean(self) -> float:
        """Mean of the annual loss on the lattice."""
        return float(np.dot(self.probs, self.values))

    def var(self) -> float:
        """Variance of the annual loss on the lattice."""
        dev = self.values - self.mean()
        return float(np.dot(self.probs, dev * dev))

    def std(self) -> float:
        """Standard deviation of the annual loss on the lattice."""
        return math.sqrt(self.var())

    def quantile(self, p: float) -> float:
        """Value at risk ``inf{x : F(x) >= p}`` of the lattice law."""
        p = figures.check_level("quantile", p)
        return figures.quantile_sorted(self.values, self._cumprob, p)

    def tvar(self, p: float) -> float:
        """Tail value at risk (expected shortfall) ``1/(1-p) int_p^1 quantile(u) du``, ``p`` in [0, 1)."""
        p = figures.check_level("tvar", p, upper_open=True)
        return figures.tvar_sorted(self.values, self.probs, self._cumprob, p)

    def prob_exceed(self, x: float) -> float:
        """``P(S > x)``."""
        x = validate.real("prob_exceed", "x", x, low=-math.inf, allow_inf=True)
        return figures.prob_exceed_sorted(self.values, self.probs, x)

    def cdf(self, x: float) -> float:
        """``P(S <= x)``."""
        x = validate.real("cdf", "x", x, low=-math.inf, allow_inf=True)
        return 1.0 - figures.prob_exceed_sorted(self.values, self.probs, x)

    def oep_quantile(self, p: float) -> float:
        """Quantile of the year's largest occurrence loss (after occurrence, before aggregate terms).

        ``P(M <= x) = P_N(F_Y(x))`` evaluated on the lattice with the discretised claim law.
        """
        p = figures.check_level("oep_quantile", p)
        values, _, cdf = self._occurrence_law
        return figures.quantile_sorted(values, cdf, p)

    def oep_tvar(self, p: float) -> float:
        """Expected shortfall of the year's largest occurrence loss at level ``p`` in [0, 1)."""
        p = figures.check_level("oep_tvar", p, upper_open=True)
        values, probs, cdf = self._occurrence_law
        return figures.tvar_sorted(values, probs, cdf, p)

    def stderr(self, figure: str, *args) -> float:
        """Sampling standard error of a figure: 0.0, the exact path has none.

        Parameters
        ----------
        figure : {"mean", "std", "quantile", "tvar", "prob_exceed"}
        *args
            The level or threshold of the figure (ignored).
        """
        if figure not in figures.FIGURES:
            raise InputError(f"stderr: figure must be one of {figures.FIGURES}, got {figure!r}")
        return 0.0

    # ------------------------------------------------------------------ tables
    def ep_curve(self, return_periods=None) -> pd.DataFrame:
        """Aggregate (AEP) and occurrence (OEP) exceedance curves by return period.

        Columns ``return_period, exceedance_prob, aep, aep_tvar, oep, oep_tvar`` with
        ``exceedance_prob = 1 / T`` and the figures at level ``1 - 1/T``; return periods default to
        ``techins.results.figures.DEFAULT_RETURN_PERIODS``.
        """
        periods = figures.DEFAULT_RETURN_PERIODS if return_periods is None else return_periods
        rows = []
        for t in periods:
            t = validate.real("ep_curve", "return_period", t, low=1.0, low_open=True, allow_inf=False)
            p = 1.0 - 1.0 / t
            rows.append((t, 1.0 / t, self.quantile(p), self.tvar(p), self.oep_quantile(p), self.oep_tvar(p)))
        return pd.DataFrame(rows, columns=["return_period", "exceedance_prob", "aep", "aep_tvar", "oep",
                                           "oep_tvar"])

    def describe(self) -> str:
        """One line: method, grid and its accuracy diagnostics."""
        err = "n/a (infinite mean)" if math.isnan(self.mean_error) else f"{self.mean_error:+.2e}"
        text = (f"exact ({self.method}): h = {self.bucket:.6g}, n = {self.n_buckets} buckets "
                f"(2^{math.log2(self.n_buckets):.4g}), grid top b = {self.grid_top:.6g}; mean error "
                f"{err} relative to the closed form, severity mean lost {self.severity_mean_lost:.3g}, "
                f"tail mass at/above the top {self.tail_mass:.2e}")
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text

    def summary(self, levels=(0.99, 0.995)) -> dict:
        """Plain figures and the grid diagnostics, JSON-serialisable.

        Keys: ``method, mean, std, quantile_<p>, tvar_<p>`` (``<p>`` as in
        :meth:`techins.SimulationResult.summary`, e.g. ``quantile_995``), ``bucket, n_buckets,
        grid_top, severity_mean_lost, tail_mass, mean_error`` (None for an infinite mean).
        """
        out = {"method": self.method, "mean": self.mean(), "std": self.std()}
        for p in levels:
            key = figures.level_key(figures.check_level("summary", p, upper_open=True))
            out[f"quantile_{key}"] = self.quantile(p)
            out[f"tvar_{key}"] = self.tvar(p)
        out.update({"bucket": float(self.bucket), "n_buckets": int(self.n_buckets),
                    "grid_top": float(self.grid_top), "severity_mean_lost": float(self.severity_mean_lost),
                    "tail_mass": float(self.tail_mass),
                    "mean_error": None if math.isnan(self.mean_error) else float(self.mean_error)})
        return out



# ----------------------------------------------------------------------------------------------
# the layered claim


class _Claim:
    """The occurrence-layered claim before the share, ``Y' = min(max(X - d, 0), l)``."""

    def __init__(self, line: Line):
        layer = line.occurrence_layer
        sev = line.severity
        self.severity = sev
        self.d = layer.deductible
        self.l = layer.limit
        self.share = layer.share
        self.limited = math.isfinite(self.l)
        self.lev_d = float(sev.lev(self.d)) if self.d > 0.0 else 0.0
        top = self.d + self.l
        full = float(sev.mean()) if not self.limited else float(sev.lev(top))
        self.mean = full - self.lev_d if math.isfinite(full) else math.inf
        self.reach = min(self.l, max(float(sev.upper_bound()) - self.d, 0.0))  # Y' <= reach
        self.p_zero = float(sev.cdf(self.d))                                    # P(Y' = 0)
        self.continuous = not isinstance(sev, Empirical)
        self.base = self._lattice_base()

    def _lattice_base(self) -> float | None:
        """The largest step of which every atom of Y' is a multiple (the limit, and each layered
        value of an empirical law), found at a decimal resolution up to 1e-6; None when there is none.
        A bucket dividing it puts every atom on the lattice, so a discrete law is discretised exactly."""
        atoms = [self.l] if self.limited else []
        if not self.continuous:
            layered = np.minimum(np.maximum(self.severity.support - self.d, 0.0), self.l)
            atoms.extend(float(v) for v in layered if v > 0.0)
        if not atoms or (self.continuous and len(atoms) == 1):
            return None  # a lone limit is handled by _fit_limit already
        for digits in range(7):
            scaled = np.asarray(atoms) * 10.0 ** digits
            whole = np.round(scaled)
            if np.all(np.abs(scaled - whole) <= 1e-9 * np.maximum(scaled, 1.0)) and np.all(whole < 2**53):
                return float(np.gcd.reduce(whole.astype(np.int64))) / 10.0 ** digits
        return None

    def lev(self, y: np.ndarray) -> np.ndarray:
        """``E[min(Y', y)]`` for ``y >= 0`` (array)."""
        if self.limited:
            y = np.minimum(y, self.l)
        return np.asarray(self.severity.lev(self.d + y), dtype=np.float64) - self.lev_d

    def sf(self, y: np.ndarray) -> np.ndarray:
        """``P(Y' > y)`` for ``0 <= y < l`` (array)."""
        return np.asarray(self.severity.sf(self.d + y), dtype=np.float64)

    def upper_quantile(self, alpha: float) -> float:
        """Smallest ``y`` with ``P(Y' > y) <= alpha``."""
        if alpha >= 1.0:
            return 0.0
        if alpha <= 0.0:
            return self.reach
        x = float(self.severity.isf(alpha))
        return min(max(x - self.d, 0.0), self.reach)

    def tail_mean(self, y: float) -> float:
        """``E[(Y' - y)+]``."""
        return self.mean - float(self.lev(np.array([y]))[0])


# ----------------------------------------------------------------------------------------------
# lattice computations


def _discretise(claim: _Claim, h: float, n: int) -> tuple[np.ndarray, float]:
    """Mean-preserving lattice law of ``Y'`` on ``j h``, ``j < n``; returns ``(f, mean lost)``.

    ``f_0 = 1 - D_1``, ``f_j = D_j - D_{j+1}`` with ``D_j = (E[Y' ^ jh] - E[Y' ^ (j-1)h]) / h`` the mean
    of the survival function over the bucket ``((j-1)h, jh]``; the last point keeps ``D_{n-1}``, the
    mass beyond the grid. Far in the tail of a continuous law the lev differences lose their relative
    precision (the lev is near the mean, the difference near ``h S``), so where ``S`` falls below
    ``min(1e-3, 4e8 eps lev / h)`` ``D_j`` is the trapezoid ``(S((j-1)h) + S(jh)) / 2`` instead, whose
    error ``h^2 S'' / 12`` is negligible there. ``E[(Y' - y)+]`` is never formed by subtraction.
    """
    if not claim.continuous:
        return _discretise_atoms(claim, h, n)
    last = n - 1
    if math.isfinite(claim.reach):
        # beyond the reach the lev is constant and the masses are 0
        last = min(last, int(claim.reach / h) + 2)
    f = np.zeros(n)
    if last < 1:
        f[0] = 1.0
        return f, (claim.mean if math.isfinite(claim.mean) else math.inf)
    slope = np.empty(last)                      # slope[j-1] = D_j, j = 1 .. last
    start, stop = last + 1, last                # the trapezoid covers D_start .. D_stop
    if claim.continuous:
        if claim.limited:
            stop = min(last, math.floor(claim.l / h * (1.0 + 1e-12)))
        scale = abs(float(claim.severity.lev(claim.d + min(h * last, claim.reach))))
        switch = min(1e-3, 4e8 * np.finfo(np.float64).eps * scale / h)
        start = max(1, math.ceil(claim.upper_quantile(switch) / h))
    if start <= stop:
        lev = claim.lev(np.arange(start, dtype=np.float64) * h)
        lev[0] = 0.0
        slope[:start - 1] = np.diff(lev) / h
        surv = claim.sf(np.arange(start - 1, stop + 1, dtype=np.float64) * h)
        slope[start - 1:stop] = 0.5 * (surv[:-1] + surv[1:])
        if stop < last:
            slope[stop:] = np.diff(claim.lev(np.arange(stop, last + 1, dtype=np.float64) * h)) / h
    else:
        lev = claim.lev(np.arange(last + 1, dtype=np.float64) * h)
        lev[0] = 0.0
        slope[:] = np.diff(lev) / h
    f[0] = 1.0 - slope[0]
    f[1:last] = slope[:-1] - slope[1:]
    f[last] = slope[-1]                         # D_{last+1} = 0, or the remainder at the top
    np.maximum(f, 0.0, out=f)                   # round-off
    if not math.isfinite(claim.mean):
        return f, math.inf
    return f, max(claim.mean - h * float(np.sum(slope)), 0.0)


def _discretise_atoms(claim: _Claim, h: float, n: int) -> tuple[np.ndarray, float]:
    """The same method for a discrete law, without round-off: each layered atom ``y`` with mass ``p``
    is split between its neighbours ``jh <= y < (j+1)h`` as ``p ((j+1) - y/h)`` and ``p (y/h - j)``
    (what the lev formula gives in exact arithmetic); atoms at or beyond the top go to the top."""
    sev = claim.severity
    y = np.minimum(np.maximum(sev.support - claim.d, 0.0), claim.l)
    p = sev.probs
    pos = y / h
    j = np.floor(pos)
    inside = j < n - 1
    ji = j[inside].astype(np.int64)
    up = (pos - j)[inside] * p[inside]
    f = np.zeros(n)
    np.add.at(f, ji, p[inside] - up)
    np.add.at(f, ji + 1, up)
    top = (n - 1) * h
    f[n - 1] += float(np.sum(p[~inside]))
    lost = float(np.sum(p[~inside] * (y[~inside] - top)))
    return f, max(lost, 0.0)


def _fft_aggregate(f: np.ndarray, frequency, tilt: float = 10.0) -> np.ndarray:
    """Aggregate lattice probabilities by FFT, tilted by ``exp(-tilt j / n)`` (raw: round-off may be < 0)."""
    n = f.size
    weight = np.exp(np.arange(n, dtype=np.float64) * (-tilt / n))
    spectrum = fft.rfft(f * weight)
    spectrum = np.asarray(frequency.pgf(spectrum), dtype=np.complex128)
    g = fft.irfft(spectrum, n, overwrite_x=True)
    g /= weight
    return g


def _choose_tilt(beyond: float, top: float, n: int, largest: float) -> float:
    """Tilt ``theta n`` in [0, 10] minimising the model of the mean error it leaves.

    Mass ``beyond`` the top wraps round to small losses damped by ``e^-T`` (error ``beyond e^-T top``);
    the FFT round-off, about ``eps sqrt(log2 n) largest / sqrt(n)`` per point, is multiplied by
    ``e^(T k/n)`` when un-tilting and its positive part survives the clipping (error about
    ``0.4 sigma top n int_0^1 u e^(T u) du``).
    """
    sigma = np.finfo(np.float64).eps * math.sqrt(math.log2(max(n, 2))) * largest / math.sqrt(n)
    t = np.linspace(0.0, TILT, 41)
    safe = np.where(t > 0.0, t, 1.0)
    ramp = np.where(t > 0.0, (np.exp(t) * (t - 1.0) + 1.0) / (safe * safe), 0.5)
    error = beyond * np.exp(-t) * top + 0.4 * sigma * top * n * ramp
    return float(t[int(np.argmin(error))])


def _settle(g: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Clip round-off, put the missing probability in the top bucket; returns (g, deficit, excess)."""
    np.maximum(g, 0.0, out=g)
    total = float(np.sum(g))
    if total > 1.0:
        g /= total
        return g, 0.0, total - 1.0
    deficit = 1.0 - total
    g[-1] += deficit
    return g, deficit, 0.0


def _lattice(claim: _Claim, frequency, h: float, n: int) -> np.ndarray:
    """Settled FFT aggregate lattice law of ``S'`` (for the grid checks)."""
    f, _ = _discretise(claim, h, n)
    g, _, _ = _settle(_fft_aggregate(f, frequency, TILT))
    return g


# ----------------------------------------------------------------------------------------------
# grid choice


@dataclass
class _Moments:
    en: float
    vn: float
    ey: float    # E[Y'], before the share
    es: float    # E[S'] = E[N] E[Y']
    vs: float    # Var[S']
    p_zero: float  # P(S' = 0)


def _moments(line: Line, claim: _Claim) -> _Moments:
    freq = line.frequency
    en, vn = float(freq.mean()), float(freq.var())
    ey_s, ey2_s = line.layered_severity_moments()
    s = claim.share
    ey = ey_s / s
    if not math.isfinite(ey):
        es = vs = math.inf
    else:
        es = en * ey
        ey2 = ey2_s / (s * s)
        vs = en * max(ey2 - ey * ey, 0.0) + vn * ey * ey if math.isfinite(ey2) else math.inf
    p_zero = float(np.real(freq.pgf(np.array([claim.p_zero])))[0])
    return _Moments(en, vn, ey, es, vs, p_zero)


def _next_pow2(x: float) -> int:
    if not x > 1.0:
        return 1
    if not math.isfinite(x) or x > 2.0 ** 62:
        return 1 << 62
    return 1 << math.ceil(math.log2(x))


def _count_quantile(frequency, beta: float, en: float) -> int:
    """Smallest ``k`` with ``P(N > k) <= beta``."""
    hi = max(1, math.ceil(en))
    while float(frequency.cdf(hi)) < 1.0 - beta:
        hi *= 2
        if hi > 2 ** 60:
            return hi
    lo = 0
    while lo < hi:  # invariant: the answer is in [lo, hi]
        mid = (lo + hi) // 2
        if float(frequency.cdf(mid)) >= 1.0 - beta:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _max_claim_quantile(claim: _Claim, frequency, p: float) -> float:
    """Closed-form ``p``-quantile of the largest claim ``M'``: ``P_N(F_Y'(x)) = p``; a lower bound of S's."""
    pgf = lambda u: float(np.real(frequency.pgf(np.array([u])))[0])  # noqa: E731
    if pgf(claim.p_zero) >= p:
        return 0.0
    lo, hi = claim.p_zero, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if pgf(mid) >= p:
            hi = mid
        else:
            lo = mid
    return claim.upper_quantile(1.0 - hi)


def _reference_quantile(claim: _Claim, frequency, mom: _Moments) -> tuple[float, float]:
    """``(q_ref, p_ref)``: an estimate (from below) of the 0.9-quantile of ``S'`` that sets the bucket."""
    if mom.p_zero >= 1.0 - 1e-12 or not mom.en > 0.0:
        return 0.0, REFERENCE_LEVEL
    p_ref = max(REFERENCE_LEVEL, mom.p_zero + (1.0 - REFERENCE_LEVEL) * (1.0 - mom.p_zero))
    alpha = 1.0 - p_ref
    q_low = _max_claim_quantile(claim, frequency, p_ref)
    # upper bounds of the p_ref-quantile of S': the pilot grid must reach it
    bounds = []
    if math.isfinite(mom.vs):
        bounds.append(mom.es + math.sqrt(mom.vs) * math.sqrt(p_ref / alpha))  # Cantelli
    if math.isfinite(mom.es):
        bounds.append(mom.es / alpha)                                           # Markov
    k = _count_quantile(frequency, alpha / 2.0, mom.en)
    bounds.append(max(k, 1) * claim.upper_quantile(alpha / (2.0 * max(k, 1))))  # count bound
    reach = min(b for b in bounds if b > 0.0) if any(b > 0.0 for b in bounds) else 0.0
    if not (reach > 0.0 and math.isfinite(reach)):
        return q_low, p_ref
    n_p = 1 << PILOT_LOG2
    h_p = reach / (n_p - 1)
    g = _lattice(claim, frequency, h_p, n_p)
    cum = np.cumsum(g)
    j = int(np.searchsorted(cum, p_ref * (1.0 - 4.0 * np.finfo(float).eps), side="left"))
    q_pilot = min(j, n_p - 1) * h_p
    return max(q_pilot - h_p, q_low), p_ref


def _range(claim: _Claim, frequency, mom: _Moments) -> float:
    """Automatic grid range ``b`` of ``S'`` (before the share); see the module notes."""
    candidates = [0.0]
    if math.isfinite(mom.ey) and mom.ey > 0.0:
        target = MEAN_TARGET * mom.ey
        if claim.limited or math.isfinite(claim.reach):
            candidates.append(_bisect_tail_mean(claim, target, 0.0, claim.reach))
        else:
            hi = max(mom.ey, 1e-300)
            while claim.tail_mean(hi) > target and hi < 1e300:
                hi *= 4.0
            candidates.append(_bisect_tail_mean(claim, target, hi / 4.0, hi))
    if mom.en > 0.0:
        candidates.append(claim.upper_quantile(TAIL_TARGET / mom.en))
    if math.isfinite(mom.vs):
        candidates.append(mom.es + SD_REACH * math.sqrt(mom.vs))
    b = max(candidates)
    if not b > 0.0:
        return 1.0 if not math.isfinite(claim.reach) or claim.reach <= 0.0 else claim.reach
    if claim.limited:
        b = max(b, claim.l * (1.0 + 2.0 ** (2 - COARSE_LOG2)))
    n_c = 1 << COARSE_LOG2
    for _ in range(200):
        g = _lattice(claim, frequency, b / n_c, n_c)
        if g[-1] <= TAIL_CHECK:
            break
        b *= RANGE_GROWTH
    return b


def _bisect_tail_mean(claim: _Claim, target: float, lo: float, hi: float) -> float:
    """Smallest ``y`` in ``[lo, hi]`` (about) with ``E[(Y' - y)+] <= target``, bisected in log space."""
    if claim.tail_mean(lo) <= target:
        return lo
    lo = max(lo, hi * 1e-12)
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        if claim.tail_mean(mid) <= target:
            hi = mid
        else:
            lo = mid
        if hi <= lo * (1.0 + 1e-6):
            break
    return hi


def _fit_limit(claim: _Claim, h0: float) -> tuple[float, bool]:
    """A bucket ``>= h0`` dividing the limit (so its atom sits on the lattice), if there is one; for
    an empirical law, dividing the common step of all its atoms (so it is discretised exactly)."""
    step = claim.base if claim.base is not None else (claim.l if claim.limited else None)
    if step is None:
        return h0, True
    m = math.floor(step / h0 * (1.0 + 1e-12))
    if m >= 1:
        return step / m, True
    return h0, False


@dataclass
class _Grid:
    h: float
    n: int
    notes: list
    warnings: list


def _choose_grid(claim: _Claim, frequency, mom: _Moments, method: str, bucket, n_buckets) -> _Grid:
    notes: list[str] = []
    warns: list[str] = []
    cap = 1 << (MAX_LOG2_FFT if method == "fft" else MAX_LOG2_PANJER)
    if bucket is not None and n_buckets is not None:
        notes.append("grid given by the caller")
        return _Grid(bucket, n_buckets, notes, warns)
    b = _range(claim, frequency, mom)
    if bucket is not None:
        n = min(max(_next_pow2(b / bucket + 1.0), 1 << MIN_LOG2), cap)
        notes.append(f"bucket given by the caller; n chosen for the range {b * claim.share:.6g}")
        return _Grid(bucket, n, notes, warns)
    if n_buckets is not None:
        h, _ = _fit_limit(claim, b / n_buckets)
        notes.append(f"n given by the caller; h chosen for the range {b * claim.share:.6g}")
        return _Grid(h, n_buckets, notes, warns)

    q_ref, p_ref = _reference_quantile(claim, frequency, mom)
    h_max = RESOLUTION * q_ref if q_ref > 0.0 else math.inf
    if not math.isfinite(mom.es) and math.isfinite(h_max) and method == "fft":
        # infinite mean: the mean cannot be kept, so the resolution wins over the range
        b = min(b, cap * h_max)
    n = min(max(_next_pow2(b / h_max) if math.isfinite(h_max) else 1, 1 << MIN_LOG2), cap)
    while True:
        h, on_lattice = _fit_limit(claim, b / n)
        if n >= cap or (h <= h_max * (1.0 + 1e-9) and on_lattice):
            break
        n *= 2
    share = claim.share
    notes.append(f"automatic grid: range {b * share:.6g}, reference quantile q({p_ref:g}) ~ "
                 f"{q_ref * share:.6g}, h_max = {h_max * share:.6g}")
    if not on_lattice:
        notes.append("the limit is not a multiple of the bucket (its atom is split between two points)")
    if method == "panjer":
        notes.append(f"panjer: automatic grid coarsened to at most 2^{MAX_LOG2_PANJER} buckets "
                     f"(O(n m) work); quantiles resolved to about h = {h * share:.6g}")
    elif h > h_max * (1.0 + 1e-9):
        warns.append(f"exact: the grid cannot resolve the tail quantiles to 1e-3 within "
                     f"2^{MAX_LOG2_FFT} buckets: bucket {h * share:.6g} against the wanted "
                     f"{h_max * share:.6g} (2e-3 of the {p_ref:g}-quantile ~ {q_ref * share:.6g}); "
                     f"pass bucket= and n_buckets= (up to 2^{MAX_LOG2_USER}) to trade range for resolution")
    return _Grid(h, n, notes, warns)


# ----------------------------------------------------------------------------------------------
# the public function


def exact(line: Line, *, method: str = "fft", bucket: float | None = None,
          n_buckets: int | None = None) -> ExactResult:
    """Aggregate annual loss distribution of a line, exactly up to a controlled grid error.

    The occurrence-layered claim is discretised on a lattice by the mean-preserving method, then
    compounded with the claim count by FFT through its probability generating function (or by
    Panjer's recursion); the aggregate terms are applied to the lattice points.

    Parameters
    ----------
    line : Line
        Frequency, severity, occurrence and aggregate terms.
    method : {"fft", "panjer"}, default "fft"
        ``"panjer"`` is an independent second route, ``O(n m)``; its automatic grid has at most
        2**14 buckets and is therefore coarser.
    bucket : float, optional
        Lattice step ``h`` of the occurrence-layered claim before the share, > 0 (the support is
        ``share * j * h``). Chosen automatically when omitted (see the module notes).
    n_buckets : int, optional
        Number of lattice points, in [2, 2**24]; any integer works, powers of two are fastest.
        Chosen automatically when omitted.

    Returns
    -------
    ExactResult
        The lattice law (``values``, ``probs``), its figures and the grid diagnostics.

    Raises
    ------
    InputTypeError
        ``line`` is not a :class:`~techins.Line`.
    InputError
        Unknown method, bad grid, or Panjer's starting value ``P_N(f_0)`` underflows (large counts:
        use ``method="fft"``).

    Warns
    -----
    AccuracyWarning
        The lattice mean is off the closed form by more than 1e-4 relative, more than 1e-9 of
        probability sits at or above the grid top, the automatic grid cannot reach the quantile
        resolution, or the severity mean is infinite.

    Examples
    --------
    >>> import math
    >>> import techins as ti
    >>> ex = ti.exact(ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0)))
    >>> round(ex.mean() / (5 * math.exp(12.0)), 4)
    1.0
    """
    if not isinstance(line, Line):
        raise InputTypeError(f"exact: line must be a techins.Line, got {type(line).__name__}")
    if method not in METHODS:
        raise InputError(f"exact: method must be one of {METHODS}, got {method!r}")
    if bucket is not None:
        bucket = validate.real("exact", "bucket", bucket, low=0.0, low_open=True)
    if n_buckets is not None:
        n_buckets = validate.integer("exact", "n_buckets", n_buckets, low=2, high=1 << MAX_LOG2_USER)

    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        messages, result = _compute(line, method, bucket, n_buckets)
    for message in messages:
        warnings.warn(message, AccuracyWarning, stacklevel=2)
    return result


def _compute(line: Line, method: str, bucket, n_buckets) -> tuple[list, ExactResult]:
    claim = _Claim(line)
    frequency = line.frequency
    mom = _moments(line, claim)
    grid = _choose_grid(claim, frequency, mom, method, bucket, n_buckets)
    h, n = grid.h, grid.n
    messages = list(grid.warnings)
    notes = list(grid.notes)

    f, lost = _discretise(claim, h, n)
    if not np.all(np.isfinite(f)):
        raise InputError(f"exact: the discretised severity is not finite (bucket {h!r}); "
                         f"check the severity parameters")
    # probability at or above the grid top from a coarse lattice with the same top: it does not
    # depend on the bucket, and unlike the fine FFT's missing mass it sees what the tilt lets wrap
    n_c = 1 << COARSE_LOG2
    coarse = _lattice(claim, frequency, h * (n - 1) / (n_c - 1), n_c)
    beyond = float(coarse[-1])
    tilt = math.nan
    if method == "fft":
        largest = max(float(np.max(coarse)), float(np.real(frequency.pgf(np.array([f[0]])))[0]))
        tilt = _choose_tilt(beyond, h * (n - 1), n, largest)
        notes.append(f"tilt theta n = {tilt:g}")
        g = _fft_aggregate(f, frequency, tilt)
    else:
        a, b = frequency.panjer_ab()
        g0 = float(np.real(frequency.pgf(np.array([f[0]])))[0])
        if not g0 >= np.finfo(np.float64).tiny:
            raise InputError(f"exact: Panjer's starting value P(S = 0) = P_N(f_0) = {g0:.3g} underflows "
                             f"in double precision (about E[N] P(claim > {h * claim.share:.3g}) > 700 "
                             f"claims); use method=\"fft\"")
        g = np.empty(n)
        _panjer_kernel(f, float(a), float(b), g0, g)
    if not np.all(np.isfinite(g)):
        raise InputError(f"exact: the aggregate lattice law is not finite (method {method!r}); "
                         f"try method=\"fft\" or another grid")
    negative = float(-np.sum(g[g < 0.0]))
    g, deficit, excess = _settle(g)
    if excess > TAIL_TOLERANCE or negative > 1e-6:
        messages.append(f"exact: round-off of {max(excess, negative):.2e} in the lattice probabilities "
                        f"(clipped below 0 and renormalised); the grid may be too coarse or too long")

    share = claim.share
    top = share * h * (n - 1)
    tail = max(float(g[-1]), beyond)
    lattice_values = share * h * np.arange(n, dtype=np.float64)
    mean_pre = float(np.dot(g, lattice_values))
    closed = share * mom.es
    if math.isfinite(closed) and closed > 0.0:
        mean_error = mean_pre / closed - 1.0
    elif math.isfinite(closed):
        mean_error = 0.0 if mean_pre == 0.0 else math.inf
    else:
        mean_error = math.nan

    if not math.isfinite(mom.es):
        messages.append(f"exact: the layered severity has an infinite mean (e.g. Pareto alpha <= 1 "
                        f"without a limit); the result is the law truncated at the grid top {top:.6g} "
                        f"({tail:.2e} of probability at or above it): its quantiles below that level are "
                        f"right, its mean, std and TVaR are those of the truncated law")
    else:
        if abs(mean_error) > MEAN_TOLERANCE:
            messages.append(f"exact: the lattice mean {mean_pre:.8g} is off the closed form {closed:.8g} "
                            f"by {mean_error:+.2e} relative (claim mean lost beyond the grid top "
                            f"{share * lost:.3g}, probability {tail:.2e} at or above the top {top:.6g}); "
                            f"widen the grid: a larger n_buckets or bucket")
        if tail > TAIL_TOLERANCE:
            messages.append(f"exact: probability {tail:.2e} at or above the grid top {top:.6g} "
                            f"(probability beyond the grid {deficit:.2e} was put on the top point); figures "
                            f"at levels above {1.0 - tail:.10g} are lower bounds; widen the grid: a larger "
                            f"n_buckets or bucket")

    values, probs = _apply_aggregate(line, lattice_values, g)
    for array in (values, probs, f):
        array.setflags(write=False)
    result = ExactResult(line=line, method=method, bucket=float(h), n_buckets=int(n), values=values,
                         probs=probs, severity_mean_lost=float(share * lost), tail_mass=tail,
                         mean_error=float(mean_error), grid_top=float(top), notes=tuple(notes),
                         claim_probs=f)
    return messages, result


def _apply_aggregate(line: Line, values: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate terms on the lattice points; equal (clipped) points are merged."""
    agg = line.aggregate
    if agg is None or agg.is_ground_up:
        return values, probs
    layered = agg.apply(values)
    new = np.empty(layered.size, dtype=bool)
    new[0] = True
    new[1:] = layered[1:] != layered[:-1]
    starts = np.flatnonzero(new)
    return layered[starts].copy(), np.add.reduceat(probs, starts)
