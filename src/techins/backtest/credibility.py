"""Bühlmann–Straub credibility of risks' experience against the collective or a priced prior.

Data are ``[risks, periods]`` arrays of ratios ``X_ij`` (claims per unit of volume, loss ratios, average
claims) and their volumes ``w_ij``; a cell is missing when its ratio is NaN or its weight is 0.

Notation (Bühlmann & Gisler 2005, *A Course in Credibility Theory and its Applications*, Springer,
ch. 4): ``w_i = sum_j w_ij``, ``X_iw = sum_j w_ij X_ij / w_i``, ``w = sum_i w_i``,
``X_ww = sum_i w_i X_iw / w``, ``n_i`` the observed periods of risk ``i`` and ``I`` the number of risks
with at least one observed period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from techins import validate
from techins.errors import InputError, InputTypeError

__all__ = ["Credibility", "buhlmann_straub", "credibility_against_prior"]

_METHODS = ("unbiased", "iterative")
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class Credibility:
    """Structural parameters and credibility estimates of a Bühlmann–Straub fit.

    Arrays are read-only and have one entry per risk (row of the input).

    Attributes
    ----------
    within_variance : float
        ``sigma^2``, the expected variance within a risk per unit of weight.
    between_variance : float
        ``tau^2``, the variance of the risks' true means (0 when the estimate is truncated).
    kappa : float
        ``sigma^2 / tau^2`` (``inf`` when ``tau^2 = 0``): the weight that earns 50 % credibility.
    factors : numpy.ndarray
        Credibility factors ``Z_i = w_i / (w_i + kappa)`` in [0, 1]; 0 for a risk without data.
    risk_means : numpy.ndarray
        ``X_iw``, NaN for a risk without data.
    risk_weights : numpy.ndarray
        ``w_i``.
    collective_mean : float
        The credibility-weighted mean ``sum_i Z_i X_iw / sum_i Z_i`` (``X_ww`` when ``tau^2 = 0``,
        its limit).
    complement : numpy.ndarray
        What each risk's experience is blended with: the collective mean, or the given prior.
    estimates : numpy.ndarray
        ``Z_i X_iw + (1 - Z_i) complement_i`` (the complement alone for a risk without data).
    method : str
        Estimator of ``tau^2``: ``"unbiased"`` or ``"iterative"``.
    """

    within_variance: float
    between_variance: float
    kappa: float
    factors: np.ndarray
    risk_means: np.ndarray
    risk_weights: np.ndarray
    collective_mean: float
    complement: np.ndarray
    estimates: np.ndarray
    method: str

    def __post_init__(self):
        for name in ("factors", "risk_means", "risk_weights", "complement", "estimates"):
            getattr(self, name).setflags(write=False)


def buhlmann_straub(ratios, weights, *, method: str = "unbiased") -> Credibility:
    r"""Fit the Bühlmann–Straub model and blend each risk's experience with the collective mean.

    Within variance (Bühlmann & Gisler 2005, Section 4.8, the unbiased estimator):

    .. math:: \hat\sigma^2 = \frac{1}{\sum_i (n_i - 1)} \sum_{i,j} w_{ij} (X_{ij} - X_{iw})^2

    Between variance, ``method="unbiased"`` (Bühlmann & Gisler 2005, Section 4.8; the Bühlmann–Straub
    1970 estimator, eq. (11) of the actuar "credibility" vignette), truncated at 0:

    .. math:: \hat\tau^2 = \max\Big(0, \frac{\sum_i w_i (X_{iw} - X_{ww})^2 - (I - 1)\hat\sigma^2}
                                       {w - \sum_i w_i^2 / w}\Big)

    ``method="iterative"``: the Bichsel–Straub pseudo-estimator, the fixed point of
    ``tau^2 = sum_i Z_i (X_iw - X_zw)^2 / (I - 1)`` (eq. (12) of the actuar "credibility" vignette,
    Dutang, Goulet, Milhaud & Pigeon; Goovaerts, Kaas, van Heerwaarden & Bauwelinckx 1990,
    *Effective Actuarial Methods*), found by root finding rather than by iterating the map. It is
    positive exactly when ``sum_i w_i (X_iw - X_ww)^2 > (I - 1) sigma^2``.

    Then ``Z_i = w_i / (w_i + sigma^2 / tau^2)``, the collective mean
    ``X_zw = sum_i Z_i X_iw / sum_i Z_i`` and the estimates ``Z_i X_iw + (1 - Z_i) X_zw``. With this
    collective mean the estimates are balanced, ``sum_i w_i estimate_i = sum_i w_i X_iw``, since
    ``w_i (1 - Z_i) = kappa Z_i`` (the balance property, Bühlmann & Gisler 2005, ch. 4).

    Parameters
    ----------
    ratios : array_like of float, shape (risks, periods)
        Observed ratios ``X_ij``; NaN marks a missing cell.
    weights : array_like of float, shape (risks, periods)
        Volumes ``w_ij >= 0``; 0 marks a missing cell.
    method : {"unbiased", "iterative"}
        Estimator of the between variance.

    Returns
    -------
    Credibility

    Raises
    ------
    InputError
        Fewer than two risks with data, no risk with two observed periods, negative or non-finite
        weights, infinite ratios, or an unknown method.

    Examples
    --------
    >>> fit = buhlmann_straub([[1.0, 1.2], [2.0, 2.2]], [[1.0, 1.0], [1.0, 1.0]])
    >>> round(fit.collective_mean, 6), fit.factors.round(4).tolist()
    (1.6, [0.98, 0.98])
    """
    x, w, observed = _experience("buhlmann_straub", ratios, weights)
    return _fit("buhlmann_straub", x, w, observed, method, prior=None)


def credibility_against_prior(ratios, weights, prior, *, method: str = "unbiased") -> Credibility:
    """Blend each risk's experience with its own prior (priced) mean: ``Z_i X_iw + (1 - Z_i) prior_i``.

    The structural parameters and factors are those of :func:`buhlmann_straub` on the same data
    (the between variance is still measured around the collective mean); only the complement of
    credibility changes, from the collective mean to the expectation the risk was priced at.

    Parameters
    ----------
    ratios, weights : array_like of float, shape (risks, periods)
        As in :func:`buhlmann_straub`.
    prior : array_like of float, shape (risks,)
        The priced expected ratio of each risk, finite.
    method : {"unbiased", "iterative"}
        As in :func:`buhlmann_straub`.

    Returns
    -------
    Credibility
        With ``complement`` equal to ``prior``.
    """
    x, w, observed = _experience("credibility_against_prior", ratios, weights)
    prior = validate.real_array("credibility_against_prior", "prior", prior)
    if prior.shape[0] != x.shape[0]:
        raise InputError(f"credibility_against_prior: prior needs one value per risk ({x.shape[0]}), "
                         f"got {prior.shape[0]}")
    return _fit("credibility_against_prior", x, w, observed, method, prior=prior)


def _experience(owner: str, ratios, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the ``[risks, periods]`` inputs; return ratios and weights zeroed off the observed cells."""
    x = _matrix(owner, "ratios", ratios)
    w = _matrix(owner, "weights", weights)
    if x.shape != w.shape:
        raise InputError(f"{owner}: ratios and weights must have the same shape, got {x.shape} and {w.shape}")
    bad = ~np.isfinite(w) | (w < 0.0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"{owner}: weights[{i}, {j}] must be finite and >= 0, got {float(w[i, j])!r}")
    infinite = np.isinf(x)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise InputError(f"{owner}: ratios[{i}, {j}] must be finite or NaN (missing), got {float(x[i, j])!r}")
    observed = (w > 0.0) & ~np.isnan(x)
    return np.where(observed, x, 0.0), np.where(observed, w, 0.0), observed


def _matrix(owner: str, name: str, values) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{owner}: {name} must be an array of real numbers ({exc})") from None
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"{owner}: {name} must be a non-empty [risks, periods] array, got shape {arr.shape}")
    return arr


def _fit(owner, x, w, observed, method, prior) -> Credibility:
    if method not in _METHODS:
        raise InputError(f"{owner}: method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")

    n = observed.sum(axis=1)
    has_data = n > 0
    n_risks = int(has_data.sum())
    if n_risks < 2:
        raise InputError(f"{owner}: needs at least two risks with an observed period, got {n_risks}")
    dof = int((n[has_data] - 1).sum())
    if dof < 1:
        raise InputError(f"{owner}: needs a risk with at least two observed periods to estimate the "
                         f"within variance, got at most one per risk")

    wi = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 for risks without data, set to NaN
        xi = np.where(has_data, (w * x).sum(axis=1) / wi, np.nan)
    wd, xd = wi[has_data], xi[has_data]
    total = wd.sum()
    x_ww = float((wd * xd).sum() / total)

    sigma2 = float((w * (x - np.where(has_data, xi, 0.0)[:, None]) ** 2).sum() / dof)
    between_ss = float((wd * (xd - x_ww) ** 2).sum())  # sum_i w_i (X_iw - X_ww)^2
    if math.sqrt(between_ss / total) <= 64.0 * _EPS * float(np.abs(xd).max()):
        tau2 = 0.0  # the risk means differ by rounding only: no heterogeneity to estimate
    elif method == "unbiased":
        tau2 = max(0.0, (between_ss - (n_risks - 1) * sigma2) / float(total - (wd * wd).sum() / total))
    else:
        tau2 = _bichsel_straub(wd, xd, sigma2, between_ss, n_risks)

    z = np.zeros_like(wi)
    if tau2 > 0.0:
        kappa = sigma2 / tau2
        z[has_data] = wd / (wd + kappa)
        collective = float((z[has_data] * xd).sum() / z[has_data].sum())
    else:
        kappa = math.inf
        collective = x_ww  # the limit of X_zw as tau^2 -> 0, where Z_i is proportional to w_i
    complement = np.full_like(wi, collective) if prior is None else prior.copy()
    estimates = np.where(has_data, z * np.where(has_data, xi, 0.0) + (1.0 - z) * complement, complement)
    return Credibility(within_variance=sigma2, between_variance=tau2, kappa=kappa, factors=z,
                       risk_means=xi, risk_weights=wi, collective_mean=collective, complement=complement,
                       estimates=estimates, method=method)


def _bichsel_straub(wd, xd, sigma2, between_ss, n_risks) -> float:
    """The fixed point of ``t = g(t) = sum_i Z_i(t) (X_iw - X_zw(t))^2 / (I - 1)``.

    ``g(t) / t`` is the minimum over ``m`` of ``sum_i Z_i(t) / t (X_iw - m)^2 / (I - 1)``, each term
    decreasing in ``t``, so the fixed point is the single root of ``log(g(t) / t)``. Bounds: with
    ``Z_i <= 1``, ``g(t) <= G = sum_i (X_iw - mean)^2 / (I - 1)``, so the root is at most ``G``; with
    ``Z_i / t >= w_i / (sigma^2 + w_max t)``, ``g(t) / t >= 1`` up to
    ``t_lo = (between_ss / (I - 1) - sigma^2) / w_max``, positive iff a positive root exists. Root
    finding on this bracket converges where iterating ``g`` crawls (a root near 0 has ``g' ~ 1``).
    """
    t_lo = (between_ss / (n_risks - 1) - sigma2) / float(wd.max())
    if not t_lo > 0.0:
        return 0.0

    def log_ratio(s):
        t = math.exp(s)
        z = wd / (wd + sigma2 / t)
        x_z = (z * xd).sum() / z.sum()
        return math.log(float((z * (xd - x_z) ** 2).sum()) / (n_risks - 1)) - s

    s_lo, s_hi = math.log(t_lo), math.log(float(((xd - xd.mean()) ** 2).sum()) / (n_risks - 1))
    # the root is in [s_lo, s_hi]; rounding can put it on (or a hair beyond) an end, e.g. sigma^2 = 0,
    # where g is the constant G
    if s_lo >= s_hi or log_ratio(s_hi) >= 0.0:
        return math.exp(s_hi)
    if log_ratio(s_lo) <= 0.0:
        return t_lo
    return math.exp(optimize.brentq(log_ratio, s_lo, s_hi, xtol=1e-15, rtol=4.0 * _EPS))
