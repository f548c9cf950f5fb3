"""Monte Carlo results: figures of the simulated annual losses with their sampling errors.

Standard errors and intervals (``n`` simulated years, ``z`` the normal quantile of the level):

* mean: ``s / sqrt(n)``;
* standard deviation: delta method, ``sqrt((m4 - s^4) / (4 s^2 n))`` with ``m4`` the 4th central moment;
* quantile: distribution-free interval from order statistics: ``[x_(l), x_(u)]`` with ``l, u`` the
  binomial ``Bin(n, p)`` quantiles at ``(1 -+ level) / 2`` (Serfling 1980, sec. 2.6); its standard error
  is reported as the interval's width over ``2 z``;
* TVaR: ``Var = (Var[X | X > q] + p (TVaR - q)^2) / (n (1 - p))`` (Manistre & Hancock 2005,
  "Variance of the CTE estimator", North American Actuarial Journal 9(2), 129-156);
* exceedance probability: ``sqrt(P (1 - P) / n)``, interval Clopper-Pearson.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from techins import validate
from techins.display import Figure, figures_html, short_repr
from techins.errors import InputError
from techins.lazy import lazy_module
from techins.results import figures

stats = lazy_module("scipy.stats")

__all__ = ["SimulationResult", "BookResult"]



@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Simulated annual losses of a line and their figures with Monte Carlo errors.

    Attributes
    ----------
    annual : numpy.ndarray
        One aggregate loss (after occurrence and aggregate terms) per simulated year.
    max_occurrence : numpy.ndarray
        The largest occurrence loss (after occurrence terms) of each year: the OEP sample.
    counts : numpy.ndarray
        Claims drawn each year (claims above ``counted_above`` when the run was thinned).
    seed : int
        The seed of the run.
    line : Line
        The simulated line.
    counted_above : float
        Threshold of the claims drawn: 0 for ground-up, the occurrence deductible when thinned.
    claim_rate : float
        Expected number of claims drawn per year.
    reach_probability : float
        Probability that a ground-up claim exceeds ``counted_above``.
    """

    annual: np.ndarray
    max_occurrence: np.ndarray
    counts: np.ndarray
    seed: int
    line: object
    counted_above: float = 0.0
    claim_rate: float = math.nan
    reach_probability: float = 1.0

    @property
    def years(self) -> int:
        """Number of simulated years."""
        return int(self.annual.size)

    @cached_property
    def _sorted(self) -> np.ndarray:
        return np.sort(self.annual)

    @cached_property
    def _sorted_occurrence(self) -> np.ndarray:
        return np.sort(self.max_occurrence)

    # ------------------------------------------------------------------ figures
    def mean(self) -> float:
        """Sample mean of the annual loss."""
        return float(np.mean(self.annual))

    def var(self) -> float:
        """Sample variance (divisor n - 1)."""
        return float(np.var(self.annual, ddof=1)) if self.years > 1 else 0.0

    def std(self) -> float:
        """Sample standard deviation (divisor n - 1)."""
        return math.sqrt(self.var())

    def quantile(self, p: float) -> float:
        """Value at risk ``inf{x : F_n(x) >= p}`` of the empirical law of the simulated years."""
        p = figures.check_level("quantile", p)
        return figures.quantile_equal(self._sorted, p)

    def tvar(self, p: float) -> float:
        """Tail value at risk (expected shortfall) ``1/(1-p) int_p^1 quantile(u) du``."""
        p = figures.check_level("tvar", p, upper_open=True)
        return figures.tvar_equal(self._sorted, p)

    def prob_exceed(self, x: float) -> float:
        """Share of simulated years whose loss exceeds ``x``."""
        x = validate.real("prob_exceed", "x", x, allow_inf=True)
        return float(self.years - np.searchsorted(self._sorted, x, side="right")) / self.years

    def oep_quantile(self, p: float) -> float:
        """Quantile of the year's largest occurrence loss (the OEP curve at ``1 - p``)."""
        p = figures.check_level("oep_quantile", p)
        return figures.quantile_equal(self._sorted_occurrence, p)

    # ------------------------------------------------------------------ errors
    def stderr(self, figure: str, arg: float | None = None) -> float:
        """Monte Carlo standard error of a figure.

        Parameters
        ----------
        figure : {"mean", "std", "quantile", "tvar", "prob_exceed"}
        arg : float
            The level ``p`` for quantile and tvar, the threshold ``x`` for prob_exceed.

        Examples
        --------
        >>> sim.stderr("mean"); sim.stderr("quantile", 0.995)  # doctest: +SKIP
        """
        n = self.years
        if figure == "mean":
            return self.std() / math.sqrt(n)
        if figure == "std":
            s2 = self.var()
            if s2 == 0.0:
                return 0.0
            m4 = float(np.mean((self.annual - self.mean()) ** 4))
            return math.sqrt(max(m4 - s2 * s2, 0.0) / (4.0 * s2 * n))
        if figure == "quantile":
            lo, hi = self.ci("quantile", arg)
            return float((hi - lo) / (2.0 * stats.norm.ppf(0.975)))
        if figure == "tvar":
            p = figures.check_level("tvar", self._need_arg(figure, arg), upper_open=True)
            return figures.tvar_stderr_equal(self._sorted, p)
        if figure == "prob_exceed":
            prob = self.prob_exceed(self._need_arg(figure, arg))
            return math.sqrt(prob * (1.0 - prob) / n)
        raise InputError(f"stderr: figure must be one of {figures.FIGURES}, got {figure!r}")

    def ci(self, figure: str, arg: float | None = None, level: float = 0.95) -> tuple[float, float]:
        """Confidence interval of a figure at ``level`` (see the module notes for each method)."""
        level = validate.real("ci", "level", level, low=0.0, high=1.0, low_open=True, high_open=True)
        z = float(stats.norm.ppf(0.5 + level / 2.0))
        if figure == "quantile":
            p = figures.check_level("quantile", self._need_arg(figure, arg))
            return figures.quantile_interval_equal(self._sorted, p, level)
        if figure == "prob_exceed":
            x = self._need_arg(figure, arg)
            k = int(round(self.prob_exceed(x) * self.years))
            return _clopper_pearson(k, self.years, level)
        if figure in ("mean", "std", "tvar"):
            centre = {"mean": self.mean, "std": self.std}.get(figure)
            value = centre() if centre else self.tvar(arg)
            half = z * self.stderr(figure, arg)
            return value - half, value + half
        raise InputError(f"ci: figure must be one of {figures.FIGURES}, got {figure!r}")

    @staticmethod
    def _need_arg(figure: str, arg):
        if arg is None:
            what = "the threshold x" if figure == "prob_exceed" else "the level p"
            raise InputError(f"stderr: figure {figure!r} needs {what}")
        return arg

    # ------------------------------------------------------------------ tables
    def ep_curve(self, return_periods=None, level: float = 0.95) -> pd.DataFrame:
        """Aggregate (AEP) and occurrence (OEP) exceedance curves by return period, with intervals.

        Columns: ``return_period, exceedance_prob, aep, aep_tvar, oep, oep_tvar`` and the
        order-statistic confidence limits ``aep_low, aep_high, oep_low, oep_high``. Return periods
        longer than the number of simulated years are dropped.
        """
        periods = _return_periods(return_periods, self.years)
        rows = []
        for t in periods:
            p = 1.0 - 1.0 / t
            aep_lo, aep_hi = figures.quantile_interval_equal(self._sorted, p, level)
            oep_lo, oep_hi = figures.quantile_interval_equal(self._sorted_occurrence, p, level)
            rows.append((t, 1.0 / t, figures.quantile_equal(self._sorted, p), figures.tvar_equal(self._sorted, p),
                         figures.quantile_equal(self._sorted_occurrence, p),
                         figures.tvar_equal(self._sorted_occurrence, p), aep_lo, aep_hi, oep_lo, oep_hi))
        return pd.DataFrame(rows, columns=["return_period", "exceedance_prob", "aep", "aep_tvar", "oep",
                                           "oep_tvar", "aep_low", "aep_high", "oep_low", "oep_high"])

    def _figures(self) -> list:
        return [Figure("years", self.years, kind="count"), Figure("seed", self.seed, kind="text"),
                Figure("mean", self.mean(), self.stderr("mean")), Figure("std", self.std(), self.stderr("std")),
                Figure("VaR 99.5%", self.quantile(0.995), self.stderr("quantile", 0.995)),
                Figure("TVaR 99%", self.tvar(0.99), self.stderr("tvar", 0.99))]

    def __repr__(self) -> str:
        return short_repr(type(self).__name__, self._figures())

    def _repr_html_(self) -> str:
        return figures_html(f"{type(self).__name__}: annual losses, Monte Carlo (± standard error)", self._figures())

    def summary(self, levels=(0.99, 0.995)) -> dict:
        """Plain-float figures with their standard errors (JSON-serialisable)."""
        out = {"method": "monte_carlo", "years": self.years, "seed": self.seed,
               "counted_above": self.counted_above,
               "mean": self.mean(), "mean_stderr": self.stderr("mean"),
               "std": self.std(), "std_stderr": self.stderr("std")}
        for p in levels:
            key = figures.level_key(p)
            out[f"quantile_{key}"] = self.quantile(p)
            out[f"quantile_{key}_stderr"] = self.stderr("quantile", p)
            out[f"tvar_{key}"] = self.tvar(p)
            out[f"tvar_{key}_stderr"] = self.stderr("tvar", p)
        return out



def _return_periods(return_periods, years: int) -> list[float]:
    periods = figures.DEFAULT_RETURN_PERIODS if return_periods is None else return_periods
    out = []
    for t in periods:
        t = validate.real("ep_curve", "return_period", t, low=1.0, low_open=True)
        if t <= years:
            out.append(t)
    return out


def _clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    alpha = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2.0, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1.0 - alpha / 2.0, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True, eq=False, repr=False)
class BookResult(SimulationResult):
    """Simulated annual losses of a book: the book's figures (as a line's), plus per line and per policy.

    Attributes
    ----------
    line_annual : numpy.ndarray
        ``[n_lines, years]``: each line's annual loss (after the policies' terms).
    policy_sum, policy_sumsq, policy_cross : numpy.ndarray
        Per policy, sums over the simulated years of its annual loss ``X_i``, of ``X_i^2`` and of
        ``X_i S`` with ``S`` the book's annual loss: enough for each policy's expected loss, its
        standard error and its covariance with the book, without keeping policies x years.
    contract_sumsq : numpy.ndarray or None
        Per contract (``Portfolio.arrays["contract_ids"]``), the sum over the years of its annual loss
        squared; None when the book has no contracts. A contract's loss is the sum of its rows', so its
        sum and its cross with the book add up from ``policy_sum`` and ``policy_cross``.
    chunk_years : int
        Years per chunk of this book (fixed by the book, never by the threads).
    chunk_groups : numpy.ndarray
        Non-zero (policy, year) losses per chunk: sizes the buffers of a re-run of tail chunks.
    thin : bool
        Whether the run drew only claims above the policies' deductibles (a re-run must do the same).
    """

    line_annual: np.ndarray = None
    policy_sum: np.ndarray = None
    policy_sumsq: np.ndarray = None
    policy_cross: np.ndarray = None
    contract_sumsq: np.ndarray = None
    chunk_years: int = 0
    chunk_groups: np.ndarray = None
    thin: bool = True

    @property
    def portfolio(self):
        """The simulated book."""
        return self.line

    def _figures(self) -> list:
        book = self.portfolio
        return [Figure("policies", book.n_policies, kind="count"), Figure("lines", len(book.line_names), kind="count"),
                Figure("scenarios", len(book.shocks), kind="count"), *super()._figures()]

    def _repr_html_(self) -> str:
        return figures_html("BookResult: annual losses of the book, Monte Carlo (± standard error)", self._figures(),
                            {"lines (TVaR 99%)": self.line_table(0.99)})

    def line_result(self, name: str) -> SimulationResult:
        """The figures of one product line, standalone (its annual losses as a line's)."""
        names = self.portfolio.line_names
        if name not in names:
            raise InputError(f"line_result: no line {name!r}; the book has {list(names)}")
        return SimulationResult(annual=self.line_annual[names.index(name)], max_occurrence=np.zeros(0),
                                counts=None, seed=self.seed, line=name)

    def policy_table(self) -> pd.DataFrame:
        """Per policy: expected loss with its standard error, and covariance with the book.

        ``expected_loss = sum X_i / n``; its standard error ``sqrt(var_i / n)`` with
        ``var_i = (sum X_i^2 - n mean_i^2) / (n - 1)``; ``cov_with_book = (sum X_i S - n mean_i E[S]) / (n - 1)``.
        """
        n = self.years
        mean = self.policy_sum / n
        var = np.maximum(self.policy_sumsq - n * mean * mean, 0.0) / max(n - 1, 1)
        cov = (self.policy_cross - n * mean * self.mean()) / max(n - 1, 1)
        arrays = self.portfolio.arrays
        return pd.DataFrame({
            "policy_id": arrays["policy_id"],
            "line": np.asarray(self.portfolio.line_names, dtype=object)[arrays["line"]],
            "expected_loss": mean,
            "expected_loss_stderr": np.sqrt(var / n),
            "std": np.sqrt(var),
            "cov_with_book": cov,
        })

    def contract_table(self) -> pd.DataFrame:
        """Per contract: expected loss with its standard error, standard deviation and covariance with
        the book (as ``policy_table``, over the sums of each contract's rows)."""
        arrays = self.portfolio.arrays
        if self.contract_sumsq is None:
            raise InputError("contract_table: the book has no contract_id column")
        n = self.years
        n_c = self.contract_sumsq.size
        total = np.bincount(arrays["contract"], weights=self.policy_sum, minlength=n_c)
        cross = np.bincount(arrays["contract"], weights=self.policy_cross, minlength=n_c)
        mean = total / n
        var = np.maximum(self.contract_sumsq - n * mean * mean, 0.0) / max(n - 1, 1)
        return pd.DataFrame({
            "contract_id": np.asarray(arrays["contract_ids"], dtype=object),
            "expected_loss": mean,
            "expected_loss_stderr": np.sqrt(var / n),
            "std": np.sqrt(var),
            "cov_with_book": (cross - n * mean * self.mean()) / max(n - 1, 1),
        })

    def line_table(self, level: float = 0.99) -> pd.DataFrame:
        """Per line: expected loss and its standard error, standard deviation, standalone TVaR."""
        rows = []
        for name in self.portfolio.line_names:
            r = self.line_result(name)
            rows.append((name, r.mean(), r.stderr("mean"), r.std(), r.tvar(level), r.stderr("tvar", level)))
        return pd.DataFrame(rows, columns=["line", "expected_loss", "expected_loss_stderr", "std",
                                           f"tvar_{figures.level_key(level)}",
                                           f"tvar_{figures.level_key(level)}_stderr"])
