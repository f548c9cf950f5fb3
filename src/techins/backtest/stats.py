"""Actual-versus-expected and calibration statistics for back-testing priced lines.

Counts: exact Poisson intervals (Garwood 1936), prediction intervals and tail probabilities of a claim
count under the priced law, actual/expected ratios. Predictive distributions given by quantile grids:
the probability integral transform (PIT) and its uniformity tests, the CRPS. Exceedances of a quantile
(a VaR, a priced return level): Kupiec's (1995) proportion-of-failures test.

Functions are pure, take array-likes and broadcast where stated; scalar inputs give floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from techins import validate
from techins.errors import InputError, InputTypeError

__all__ = ["AvsE", "KupiecResult", "PitUniformity", "actual_vs_expected", "count_prediction_interval",
           "count_tail_probability", "crps_from_quantiles", "crps_from_sample", "kupiec_pof",
           "pit_from_quantiles", "pit_uniformity", "poisson_rate_interval"]

# a variance within this relative distance of the mean is the Poisson law: the negative binomial with
# size mean^2 / (variance - mean) loses its accuracy long before that size is reached
_POISSON_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class AvsE:
    """Actual over expected claim counts with an exact interval (arrays broadcast from the inputs).

    Attributes
    ----------
    actual, expected, ratio : numpy.ndarray or float
        The inputs (as floats) and ``actual / expected``.
    lower, upper : numpy.ndarray or float
        Garwood interval of the Poisson mean of ``actual``, divided by ``expected``, at ``level``.
    level : float
    """

    actual: np.ndarray | float
    expected: np.ndarray | float
    ratio: np.ndarray | float
    lower: np.ndarray | float
    upper: np.ndarray | float
    level: float


@dataclass(frozen=True, eq=False)
class PitUniformity:
    """Tests of PIT values against the uniform law on (0, 1).

    Attributes
    ----------
    ks_statistic, ks_pvalue : float
        Kolmogorov-Smirnov statistic ``sup |F_n(u) - u|`` and its p-value.
    chi2_statistic, chi2_pvalue : float
        Pearson's statistic on equal-width bins and its p-value (``bins - 1`` degrees of freedom).
    counts : numpy.ndarray
        PIT values per bin ``[j / bins, (j + 1) / bins)``, the last bin closed; ``n`` values in all.
    n : int
    """

    ks_statistic: float
    ks_pvalue: float
    chi2_statistic: float
    chi2_pvalue: float
    counts: np.ndarray
    n: int


@dataclass(frozen=True, eq=False)
class KupiecResult:
    """Kupiec's proportion-of-failures likelihood-ratio test.

    Attributes
    ----------
    statistic, p_value : float
        ``LR_POF`` and ``P(chi2_1 > LR_POF)``.
    exceedances, n, p : int, int, float
        The inputs: exceedances observed in ``n`` periods, their probability under the model.
    expected : float
        ``n * p``.
    nonrejection : tuple of int
        ``(low, high)``: the counts ``low <= x <= high`` with ``LR_POF(x) <= chi2_1.ppf(level)``.
    level : float
    rejected : bool
        Whether ``exceedances`` falls outside the non-rejection region.
    """

    statistic: float
    p_value: float
    exceedances: int
    n: int
    p: float
    expected: float
    nonrejection: tuple[int, int]
    level: float
    rejected: bool


def poisson_rate_interval(k, level: float = 0.95):
    r"""Exact two-sided confidence interval for a Poisson mean given an observed count.

    Garwood (1936), "Fiducial limits for the Poisson distribution", Biometrika 28, 437-442, with
    ``alpha = 1 - level``:

    .. math:: \Big[\tfrac12 \chi^2_{2k}(\alpha/2),\ \tfrac12 \chi^2_{2k+2}(1 - \alpha/2)\Big]
              = \big[G_k^{-1}(\alpha/2),\ G_{k+1}^{-1}(1 - \alpha/2)\big]

    ``G_a`` the standard gamma distribution function of shape ``a``; the lower limit is 0 for ``k = 0``.
    Each limit is a one-sided limit at ``1 - alpha/2`` (Gehrels 1986, ApJ 303, 336, Tables 1 and 2).

    Parameters
    ----------
    k : int or array_like of int
        Observed counts ``>= 0``.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    lower, upper : float or numpy.ndarray
        Limits, shaped like ``k``.

    Examples
    --------
    >>> lo, hi = poisson_rate_interval(10)
    >>> round(lo, 3), round(hi, 2)
    (4.795, 18.39)
    """
    level = _level("poisson_rate_interval", level)
    counts, scalar = _counts("poisson_rate_interval", "k", k)
    alpha = 1.0 - level
    lower = np.where(counts > 0, stats.gamma.ppf(alpha / 2, np.maximum(counts, 1.0)), 0.0)
    upper = stats.gamma.ppf(1.0 - alpha / 2, counts + 1.0)
    return _out(lower, scalar), _out(upper, scalar)


def count_prediction_interval(mean, variance=None, level: float = 0.95):
    """Central prediction interval of a claim count under the priced frequency law.

    The law is Poisson(``mean``) when ``variance`` is None or equals the mean (to a relative 1e-12),
    otherwise the negative binomial with that mean and variance: scipy's ``nbinom(r, q)`` with
    ``q = mean / variance`` and ``r = mean^2 / (variance - mean)`` (Klugman, Panjer & Willmot,
    *Loss Models*, Appendix B: ``r = r``, ``beta = variance / mean - 1``). The interval is
    ``[F^-1(alpha / 2), F^-1(1 - alpha / 2)]`` with ``F^-1(u) = min{n : F(n) >= u}``, so it covers at
    least ``level``.

    Parameters
    ----------
    mean : float or array_like
        Expected counts ``>= 0`` (``> 0`` where the law is negative binomial).
    variance : float or array_like, optional
        Variances ``>= mean``; broadcast against ``mean``.
    level : float
        Coverage in (0, 1).

    Returns
    -------
    lower, upper : int or numpy.ndarray of int

    Examples
    --------
    >>> count_prediction_interval(10.0)
    (4, 17)
    """
    level = _level("count_prediction_interval", level)
    alpha = 1.0 - level
    return tuple(_out(_count_law("count_prediction_interval", mean, variance, u, "ppf"), None, integer=True)
                 for u in (alpha / 2, 1.0 - alpha / 2))


def count_tail_probability(actual, mean, variance=None):
    """Probabilities of a count at least and at most the actual one under the priced law.

    The law is as in ``count_prediction_interval``. ``P(N >= a) = 1 - F(a - 1)`` (scipy's ``sf``, accurate
    far in the tail) and ``P(N <= a) = F(a)``; both include ``a``, so they sum to ``1 + P(N = a)``.

    Parameters
    ----------
    actual : int or array_like of int
        Observed counts ``>= 0``.
    mean, variance : float or array_like
        As in ``count_prediction_interval``; all three broadcast.

    Returns
    -------
    at_least, at_most : float or numpy.ndarray

    Examples
    --------
    >>> at_least, at_most = count_tail_probability(0, 2.0)
    >>> at_least, round(at_most, 4)
    (1.0, 0.1353)
    """
    counts, scalar = _counts("count_tail_probability", "actual", actual)
    at_least = _count_law("count_tail_probability", mean, variance, counts - 1.0, "sf")
    at_most = _count_law("count_tail_probability", mean, variance, counts, "cdf")
    scalar = scalar and np.ndim(at_least) == 0
    return _out(at_least, scalar), _out(at_most, scalar)


def actual_vs_expected(actual, expected, level: float = 0.95) -> AvsE:
    """Ratio of actual to expected claim counts, with the exact Poisson interval of the ratio.

    ``A / E`` with interval ``[L(A) / E, U(A) / E]``, ``(L, U)`` the Garwood interval of the Poisson
    mean given the count ``A`` (``poisson_rate_interval``); ``E`` is taken as known.

    Parameters
    ----------
    actual : int or array_like of int
        Observed counts ``>= 0``.
    expected : float or array_like
        Expected counts ``> 0``; broadcast against ``actual``.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    AvsE

    Examples
    --------
    >>> r = actual_vs_expected(12, 10.0)
    >>> round(r.ratio, 2), round(r.lower, 3), round(r.upper, 3)
    (1.2, 0.62, 2.096)
    """
    counts, scalar = _counts("actual_vs_expected", "actual", actual)
    exp = _finite("actual_vs_expected", "expected", expected)
    if np.any(exp <= 0):
        raise InputError(f"actual_vs_expected: expected must be > 0, got {float(exp.flat[np.argmax(exp <= 0)])!r}")
    lower, upper = poisson_rate_interval(counts, level)
    counts, exp, lower, upper = np.broadcast_arrays(counts, exp, lower, upper)
    scalar = scalar and counts.ndim == 0
    return AvsE(actual=_out(counts, scalar), expected=_out(exp, scalar), ratio=_out(counts / exp, scalar),
                lower=_out(lower / exp, scalar), upper=_out(upper / exp, scalar), level=float(level))


def pit_from_quantiles(actual, probs, quantiles):
    """Probability integral transform of each actual value under a predictive quantile grid.

    The predictive distribution function is linear between the grid points ``(quantiles[j], probs[j])``
    and right-continuous at repeated quantiles (an atom): an actual value on an atom gets the top of the
    jump. Outside the grid it is unknown; extending it linearly to 0 and 1 would need the support's
    bounds, so the PIT is clamped to ``probs[0]`` below the first quantile and ``probs[-1]`` at or above
    the last. Use a grid reaching far into both tails (clamped values pile up at the ends, which the
    uniformity tests then see) and, for counts or losses with atoms, remember that a non-randomised
    PIT of a discrete law is not uniform (Czado, Gneiting & Held 2009, Biometrics 65, 1254-1261).

    Parameters
    ----------
    actual : float or array_like, shape () or (periods,)
        Observed values.
    probs : array_like, shape (m,)
        Probability levels, strictly increasing in (0, 1), ``m >= 2``.
    quantiles : array_like, shape (m,) or (periods, m)
        Predictive quantiles at ``probs``, non-decreasing along each row; one row per period, or one
        grid for all.

    Returns
    -------
    float or numpy.ndarray
        PIT values in ``[probs[0], probs[-1]]``.

    Examples
    --------
    >>> float(pit_from_quantiles(15.0, [0.1, 0.5, 0.9], [0.0, 10.0, 20.0]))
    0.7
    """
    y, p, q, scalar = _quantile_grid("pit_from_quantiles", actual, probs, quantiles)
    at_or_below = (q <= y[:, None]).sum(axis=1)
    j = np.clip(at_or_below, 1, p.size - 1)
    rows = np.arange(y.size)
    q_lo, q_hi = q[rows, j - 1], q[rows, j]
    # inside the grid q_lo <= y < q_hi, so q_hi > q_lo; elsewhere the weight is overwritten by the clamp
    weight = np.divide(y - q_lo, q_hi - q_lo, out=np.zeros_like(y), where=q_hi > q_lo)
    pit = p[j - 1] + (p[j] - p[j - 1]) * weight
    pit = np.where(at_or_below == 0, p[0], np.where(at_or_below == p.size, p[-1], pit))
    return _out(pit, scalar)


def pit_uniformity(pit, bins: int = 10) -> PitUniformity:
    """Kolmogorov-Smirnov and chi-square tests of PIT values against U(0, 1).

    KS: ``scipy.stats.kstest(pit, "uniform")`` (exact p-value for small samples). Chi-square: Pearson's
    statistic ``sum_j (O_j - n / bins)^2 / (n / bins)`` on ``bins`` equal bins (deciles by default),
    ``chi2_{bins - 1}`` p-value; it needs about 5 values per bin expected (``n >= 5 bins``) to be
    trusted. Both assume independent PIT values from a continuous predictive law.

    Parameters
    ----------
    pit : array_like, shape (n,)
        PIT values in [0, 1].
    bins : int
        Number of equal-width bins of the chi-square test, ``>= 2``.

    Returns
    -------
    PitUniformity
    """
    u = validate.real_array("pit_uniformity", "pit", pit)
    outside = (u < 0.0) | (u > 1.0)
    if np.any(outside):
        raise InputError(f"pit_uniformity: pit values must be in [0, 1], got {float(u[np.argmax(outside)])!r}")
    bins = validate.integer("pit_uniformity", "bins", bins, low=2)
    ks = stats.kstest(u, "uniform")
    counts = np.bincount(np.minimum((u * bins).astype(np.int64), bins - 1), minlength=bins)
    chi = stats.chisquare(counts)
    return PitUniformity(ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue),
                         chi2_statistic=float(chi.statistic), chi2_pvalue=float(chi.pvalue),
                         counts=counts, n=int(u.size))


def kupiec_pof(exceedances, n, p, level: float = 0.95) -> KupiecResult:
    r"""Kupiec's (1995) proportion-of-failures test of an exceedance probability.

    With ``x`` exceedances in ``n`` independent periods and model probability ``p``:

    .. math:: LR = -2 \ln\big[(1-p)^{n-x} p^x\big] + 2 \ln\big[(1 - x/n)^{n-x} (x/n)^x\big]

    with ``0 ln 0 = 0``, asymptotically ``chi2_1`` under the model (Kupiec, "Techniques for verifying
    the accuracy of risk measurement models", Journal of Derivatives 3(2), 1995, 73-84). The
    non-rejection region is ``{x : LR(x) <= chi2_1.ppf(level)}``, an interval because ``LR`` is
    convex in ``x`` with its minimum 0 at ``x = n p``; it is found by evaluating all ``x = 0..n``.

    Parameters
    ----------
    exceedances : int
        Observed exceedances, ``0 <= exceedances <= n``.
    n : int
        Number of periods, ``>= 1``.
    p : float
        Exceedance probability under the model, in (0, 1).
    level : float
        Confidence level of the test in (0, 1).

    Returns
    -------
    KupiecResult

    Examples
    --------
    >>> kupiec_pof(3, 255, 0.01).nonrejection
    (1, 6)
    """
    n = validate.integer("kupiec_pof", "n", n, low=1)
    x = validate.integer("kupiec_pof", "exceedances", exceedances, low=0, high=n)
    p = validate.real("kupiec_pof", "p", p, low=0.0, high=1.0, low_open=True, high_open=True)
    level = _level("kupiec_pof", level)
    lr = _kupiec_lr(np.arange(n + 1, dtype=np.float64), n, p)
    kept = np.flatnonzero(lr <= stats.chi2.ppf(level, 1))
    stat = float(lr[x])
    return KupiecResult(statistic=stat, p_value=float(stats.chi2.sf(stat, 1)), exceedances=x, n=n, p=p,
                        expected=n * p, nonrejection=(int(kept[0]), int(kept[-1])), level=level,
                        rejected=bool(x < kept[0] or x > kept[-1]))


def crps_from_quantiles(actual, probs, quantiles):
    r"""CRPS approximated from a quantile grid: twice the mean pinball loss over the grid.

    The CRPS is the integral of the quantile score over the level (Gneiting & Raftery 2007, "Strictly
    proper scoring rules, prediction, and estimation", JASA 102, 359-378; Laio & Tamea 2007, Hydrology
    and Earth System Sciences 11, 1267-1277):

    .. math:: \mathrm{CRPS}(F, y) = 2 \int_0^1 \big(\mathbb 1\{y < F^{-1}(\tau)\} - \tau\big)
              \big(F^{-1}(\tau) - y\big)\, d\tau \approx \frac{2}{m} \sum_j \mathrm{QS}_{\tau_j}(y)

    The average is a midpoint rule in ``tau``: use the grid ``tau_j = (j - 1/2) / m``. The integrand
    vanishes at ``tau = 0, 1`` and has one kink, of slope jump ``1 / f(y)``, at ``tau = F(y)``, so with
    ``h = 1/m`` the error is ``O(h^2)``: about ``h^2 / (8 f(y))`` from the kink plus, for normal-like
    tails of scale ``sigma``, ``O(h^2 sigma sqrt(2 ln m))`` from the ends of the grid.

    Parameters
    ----------
    actual, probs, quantiles
        As in ``pit_from_quantiles``.

    Returns
    -------
    float or numpy.ndarray
        CRPS per period, in the units of ``actual``.
    """
    y, p, q, scalar = _quantile_grid("crps_from_quantiles", actual, probs, quantiles)
    diff = q - y[:, None]
    pinball = ((y[:, None] < q) - p) * diff
    return _out(2.0 * pinball.mean(axis=1), scalar)


def crps_from_sample(actual, sample) -> float:
    r"""Exact CRPS of the empirical law of a sample at an actual value.

    .. math:: \mathrm{CRPS}(\hat F, y) = \frac1n \sum_i |x_i - y| - \frac{1}{2n^2} \sum_{i,j} |x_i - x_j|

    (the kernel form of the CRPS, Gneiting & Raftery 2007, Section 4.2), the double sum from the sorted sample
    ``x_(1) <= ... <= x_(n)`` as ``2 sum_i (2i - n - 1) x_(i)``: O(n log n).

    Parameters
    ----------
    actual : float
        Observed value.
    sample : array_like, shape (n,)
        Draws from the predictive distribution (e.g. simulated annual losses).

    Returns
    -------
    float
    """
    y = validate.real("crps_from_sample", "actual", actual)
    x = np.sort(validate.real_array("crps_from_sample", "sample", sample))
    n = x.size
    spread = 2.0 * np.dot(2.0 * np.arange(1, n + 1) - n - 1.0, x)
    return float(np.abs(x - y).mean() - spread / (2.0 * n * n))


def _kupiec_lr(x: np.ndarray, n: int, p: float) -> np.ndarray:
    # xlogy(0, 0) = 0 is the 0 ln 0 = 0 convention, with no log(0) evaluated
    model = special.xlogy(n - x, 1.0 - p) + special.xlogy(x, p)
    fitted = special.xlogy(n - x, 1.0 - x / n) + special.xlogy(x, x / n)
    return np.maximum(2.0 * (fitted - model), 0.0)  # rounding can leave -1e-13 at x = n p


def _count_law(owner: str, mean, variance, at, method: str) -> np.ndarray:
    mu = _finite(owner, "mean", mean)
    if np.any(mu < 0):
        raise InputError(f"{owner}: mean must be >= 0, got {float(mu.flat[np.argmax(mu < 0)])!r}")
    var = mu if variance is None else _finite(owner, "variance", variance)
    mu, var, at = np.broadcast_arrays(mu, var, at)
    poisson = var <= mu * (1.0 + _POISSON_RTOL)
    under = var < mu * (1.0 - _POISSON_RTOL)
    if np.any(under):
        i = np.argmax(under)
        raise InputError(f"{owner}: variance must be >= mean (Poisson or negative binomial), got variance "
                         f"{float(var.flat[i])!r} below mean {float(mu.flat[i])!r}")
    degenerate = ~poisson & (mu == 0)
    if np.any(degenerate):
        raise InputError(f"{owner}: mean must be > 0 when the variance exceeds it, got variance "
                         f"{float(var.flat[np.argmax(degenerate)])!r} with mean 0")
    excess = np.where(poisson, 1.0, var - mu)
    nb_mean = np.where(poisson, 1.0, mu)
    size, prob = nb_mean**2 / excess, nb_mean / np.where(poisson, 1.0, var)
    return np.where(poisson, getattr(stats.poisson, method)(at, mu), getattr(stats.nbinom, method)(at, size, prob))


def _quantile_grid(owner: str, actual, probs, quantiles):
    p = validate.real_array(owner, "probs", probs, min_size=2)
    if np.any(p <= 0.0) or np.any(p >= 1.0):
        raise InputError(f"{owner}: probs must lie in (0, 1), got {p.tolist()}")
    if np.any(np.diff(p) <= 0):
        i = int(np.argmax(np.diff(p) <= 0))
        raise InputError(f"{owner}: probs must be strictly increasing, got probs[{i}] = {float(p[i])!r} "
                         f"then probs[{i + 1}] = {float(p[i + 1])!r}")
    y = _finite(owner, "actual", actual)
    scalar = y.ndim == 0
    if y.ndim > 1:
        raise InputError(f"{owner}: actual must be a number or one-dimensional, got shape {y.shape}")
    y = np.atleast_1d(y)
    q = _finite(owner, "quantiles", quantiles)
    if q.ndim == 1:
        q = np.broadcast_to(q, (y.size, q.size))
    elif q.ndim != 2 or q.shape[0] != y.size:
        raise InputError(f"{owner}: quantiles must have shape (m,) or (len(actual), m), got {q.shape}")
    if q.shape[1] != p.size:
        raise InputError(f"{owner}: quantiles need one column per prob ({p.size}), got {q.shape[1]}")
    falling = np.diff(q, axis=1) < 0
    if falling.any():
        r, j = np.argwhere(falling)[0]
        raise InputError(f"{owner}: quantiles must be non-decreasing along each row, got row {r + 1}: "
                         f"{float(q[r, j])!r} then {float(q[r, j + 1])!r}")
    return y, p, q, scalar


def _counts(owner: str, name: str, values) -> tuple[np.ndarray, bool]:
    arr = _finite(owner, name, values)
    if np.any(arr < 0):
        raise InputError(f"{owner}: {name} must be counts >= 0, got {float(arr.flat[np.argmax(arr < 0)])!r}")
    frac = arr != np.floor(arr)
    if np.any(frac):
        raise InputError(f"{owner}: {name} must be whole counts, got {float(arr.flat[np.argmax(frac)])!r}")
    return arr, arr.ndim == 0


def _finite(owner: str, name: str, values) -> np.ndarray:
    if isinstance(values, (bool, np.bool_)):
        raise InputTypeError(f"{owner}: {name} must be numeric, got {values!r}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{owner}: {name} must be numeric ({exc})") from None
    bad = ~np.isfinite(arr)
    if np.any(bad):
        raise InputError(f"{owner}: {name} must be finite, got {float(arr.flat[np.argmax(bad)])!r}")
    return arr


def _level(owner: str, level) -> float:
    return validate.real(owner, "level", level, low=0.0, high=1.0, low_open=True, high_open=True)


def _out(values, scalar, *, integer: bool = False):
    arr = np.asarray(values)
    if integer:
        arr = arr.astype(np.int64)
    if scalar or (scalar is None and arr.ndim == 0):
        return arr.item()  # a Python int or float; item() also takes the 1-element rows of a scalar input
    return arr
