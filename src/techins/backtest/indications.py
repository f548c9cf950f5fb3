"""Rate indications and maximum-likelihood recalibration of frequency and severity laws.

Likelihoods are minimised over the log of each positive parameter; standard errors come from the
observed information (a central-difference Hessian of the log-likelihood at the optimum), mapped to
the natural parameters by the delta method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.frozen import FrozenMap
from techins.model.distributions import Exponential, Gamma, LogNormal, NegativeBinomial, Pareto, Poisson, Weibull

__all__ = ["FrequencyFit", "SeverityFit", "credibility_weighted_rate_change", "fit_frequency", "fit_severity",
           "indicated_rate_change"]

FREQUENCY_LAWS = ("poisson", "negative_binomial")


def indicated_rate_change(loss_ratio, fixed_expense_ratio, variable_expense_ratio, profit):
    r"""Overall indicated rate change by the loss-ratio method.

    .. math:: \text{indicated change} = \frac{LR + F}{1 - V - Q} - 1

    ``LR`` the projected loss and LAE ratio at current rates, ``F`` the projected fixed expense ratio,
    ``V`` the variable expense provision, ``Q`` the target underwriting profit provision, all as
    fractions of premium (Werner & Modlin, *Basic Ratemaking*, 5th ed., CAS 2016, chapter 8 "Overall
    Indication", the loss ratio method; Werner, "Incorporation of Fixed Expenses", PCAS 2005).

    Parameters
    ----------
    loss_ratio, fixed_expense_ratio, variable_expense_ratio : array_like of float
        Ratios to premium, finite and >= 0.
    profit : array_like of float
        Target profit provision, finite; it may be negative (investment income covering an
        underwriting loss) as long as ``variable_expense_ratio + profit < 1``.

    Returns
    -------
    float or numpy.ndarray
        The indicated change (0.05 is +5 %), the arguments broadcast together; a float for scalars.

    Raises
    ------
    InputError
        For NaN or infinite values, negative ratios, or ``V + Q >= 1`` (no premium left for losses).

    Examples
    --------
    >>> round(indicated_rate_change(0.66, 0.06, 0.20, 0.05), 12)
    -0.04
    """
    owner = "indicated_rate_change"
    named = {"loss_ratio": loss_ratio, "fixed_expense_ratio": fixed_expense_ratio,
             "variable_expense_ratio": variable_expense_ratio, "profit": profit}
    arrays = []
    for name, value in named.items():
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{owner}: {name} must be real numbers ({exc})") from None
        for bad, rule in ((~np.isfinite(arr), "finite"), (arr < 0.0 if name != "profit" else None, ">= 0")):
            if bad is not None and bad.any():
                raise InputError(f"{owner}: {name} must be {rule}, got {float(arr[bad].flat[0])!r}")
        arrays.append(arr)
    try:
        lr, f, v, q = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InputError(f"{owner}: the arguments do not broadcast, shapes {[a.shape for a in arrays]}") from None
    bad = v + q >= 1.0  # not 1 - v - q <= 0, which 0.7 + 0.3 passes by rounding
    if bad.any():
        raise InputError(f"{owner}: variable_expense_ratio + profit must be < 1, got "
                         f"{float(v[bad].flat[0])!r} + {float(q[bad].flat[0])!r}")
    change = (lr + f) / (1.0 - v - q) - 1.0
    return float(change) if change.ndim == 0 else change


def credibility_weighted_rate_change(loss_ratio, credibility, fixed_expense_ratio, variable_expense_ratio, profit,
                                     complement_change=0.0):
    r"""Overall indicated rate change from experience given credibility ``Z``, the rest to a complement.

    .. math:: Z \left(\frac{LR + F}{1 - V - Q} - 1\right) + (1 - Z)\, C

    the experience's loss-ratio indication (:func:`indicated_rate_change`) weighted with the
    complement's indicated change ``C`` (Werner & Modlin, *Basic Ratemaking*, 5th ed., CAS 2016,
    chapter 8 "Overall Indication" and chapter 12 "Credibility"). ``C = 0`` is the complement
    "present rates are adequate" (chapter 12's trended present rates without net trend or residual
    indication); a trended-present-rates complement is ``C = trend factor x (1 + prior indicated
    change) / (1 + prior implemented change) - 1``.

    The same in loss ratios: with the complement's loss ratio ``LR_C = (1 + C)(1 - V - Q) - F``,

    .. math:: \frac{Z\,LR + (1 - Z)\,LR_C + F}{1 - V - Q} - 1

    and for ``C = 0``, ``LR_C = 1 - V - Q - F``, the permissible loss ratio: the experience is blended
    with the loss ratio at which present rates are exactly adequate.

    Parameters
    ----------
    loss_ratio, fixed_expense_ratio, variable_expense_ratio, profit : array_like of float
        As in :func:`indicated_rate_change`: the experience's projected loss and LAE ratio at current
        rates and the expense and profit provisions.
    credibility : array_like of float
        ``Z`` in [0, 1].
    complement_change : array_like of float
        The complement's indicated change ``C``, finite and > -1; 0 (present rates adequate) by default.

    Returns
    -------
    float or numpy.ndarray
        The credibility-weighted indicated change (0.05 is +5 %), the arguments broadcast together; a
        float for scalars.

    Raises
    ------
    InputError
        As :func:`indicated_rate_change`, and for a credibility outside [0, 1] or a complement change
        that is not finite or is <= -1.

    Examples
    --------
    >>> # 0.2 x ((0.95 + 0.05) / (1 - 0.25 - 0.05) - 1) = 0.2 x 3/7
    >>> round(credibility_weighted_rate_change(0.95, 0.2, 0.05, 0.25, 0.05), 12)
    0.085714285714
    """
    owner = "credibility_weighted_rate_change"
    experience = np.asarray(indicated_rate_change(loss_ratio, fixed_expense_ratio, variable_expense_ratio, profit))
    checked = {}
    for name, value, rule, bad_of in (
            ("credibility", credibility, "in [0, 1]", lambda a: ~((a >= 0.0) & (a <= 1.0))),
            ("complement_change", complement_change, "finite and > -1", lambda a: ~(np.isfinite(a) & (a > -1.0)))):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{owner}: {name} must be real numbers ({exc})") from None
        bad = bad_of(arr)  # written so that NaN is caught
        if bad.any():
            raise InputError(f"{owner}: {name} must be {rule}, got {float(arr[bad].flat[0])!r}")
        checked[name] = arr
    arrays = [experience, checked["credibility"], checked["complement_change"]]
    try:
        exp, z, c = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InputError(f"{owner}: the arguments do not broadcast, shapes {[a.shape for a in arrays]}") from None
    change = z * exp + (1.0 - z) * c
    return float(change) if change.ndim == 0 else change


@dataclass(frozen=True)
class FrequencyFit:
    """Maximum-likelihood claim rate per unit of exposure.

    Attributes
    ----------
    law : str
        ``"poisson"`` or ``"negative_binomial"``.
    rate, rate_se : float
        Expected claims per unit of exposure ``lambda``, and its asymptotic standard error.
    dispersion, dispersion_se : float
        ``alpha = 1 / size``: a count on exposure ``e`` has mean ``m = e lambda`` and variance
        ``m + alpha m^2``. 0 for a Poisson fit (s.e. 0) or a negative binomial fit on data without
        overdispersion (s.e. NaN: the estimate sits on the boundary).
    pearson_dispersion : float
        ``sum_j (k_j - m_j)^2 / v_j / (n - p)``, ``v_j`` the fitted variance, ``p`` the parameters:
        near 1 when the law's variance-to-mean fits the data (NaN when ``n <= p``).
    loglik : float
        Maximised log-likelihood.
    n_obs : int
        Number of (count, exposure) pairs.
    """

    law: str
    rate: float
    rate_se: float
    dispersion: float
    dispersion_se: float
    pearson_dispersion: float
    loglik: float
    n_obs: int

    def frequency(self, exposure: float = 1.0):
        """The fitted techins count law on ``exposure`` units: ``Poisson`` or ``NegativeBinomial``."""
        m = self.rate * validate.real("FrequencyFit.frequency", "exposure", exposure, low=0.0, low_open=True)
        if self.dispersion == 0.0 or m == 0.0:
            return Poisson(m)
        return NegativeBinomial(m, m + self.dispersion * m * m)


def fit_frequency(counts, exposures, law: str = "poisson") -> FrequencyFit:
    r"""Fit the claim rate per unit of exposure by maximum likelihood.

    Poisson, ``N_j ~ Poisson(e_j lambda)``: ``lambda = sum_j k_j / sum_j e_j``, with standard error
    ``sqrt(lambda / sum_j e_j)`` (the inverse observed information ``sum_j k_j / lambda^2``).

    Negative binomial with a common dispersion (NB2: Poisson given a gamma risk factor of mean 1 and
    variance ``alpha``): ``m_j = e_j lambda``, variance ``m_j + alpha m_j^2``, log-likelihood per row

    .. math:: \sum_{i<k_j} \log(1 + i\alpha) + k_j \log m_j - (k_j + 1/\alpha)\log(1 + \alpha m_j)
              - \log k_j!

    (the gamma-function ratio expanded, so exact as ``alpha -> 0``), maximised over
    ``(log lambda, log alpha)`` with ``scipy.optimize.minimize``. When the score for ``alpha`` at 0,
    ``sum_j ((k_j - m_j)^2 - k_j) / 2`` at the Poisson fit (Dean & Lawless 1989, JASA 84, 467-472),
    is not positive, the maximum is on the boundary and the Poisson fit is returned, dispersion 0.

    Parameters
    ----------
    counts : array_like of float
        Claim counts ``k_j``, whole numbers >= 0.
    exposures : array_like of float
        Exposures ``e_j > 0``, the same length.
    law : {"poisson", "negative_binomial"}

    Returns
    -------
    FrequencyFit

    Raises
    ------
    InputError
        For negative or fractional counts, non-positive exposures, mismatched lengths, an unknown law,
        a negative binomial on no claims at all, or an optimiser that fails.

    Examples
    --------
    >>> fit = fit_frequency([3, 5, 4], [10.0, 10.0, 20.0])
    >>> fit.rate, round(fit.rate_se, 6)
    (0.3, 0.086603)
    """
    owner = "fit_frequency"
    k = validate.real_array(owner, "counts", counts, low=0.0)
    e = validate.real_array(owner, "exposures", exposures, low=0.0)
    for values, name, bad, rule in ((k, "counts", k != np.floor(k), "a whole number"),
                                    (e, "exposures", e <= 0.0, "> 0")):
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{owner}: {name}[{i}] must be {rule}, got {float(values[i])!r}")
    if e.size != k.size:
        raise InputError(f"{owner}: counts and exposures must have the same length, got {k.size} and {e.size}")
    if law not in FREQUENCY_LAWS:
        raise InputError(f"{owner}: law must be one of {', '.join(map(repr, FREQUENCY_LAWS))}, got {law!r}")
    if law == "negative_binomial" and k.sum() == 0:
        raise InputError(f"{owner}: a negative binomial needs at least one claim, got none")

    rate = float(k.sum() / e.sum())
    m = e * rate
    if law == "poisson" or ((k - m) ** 2 - k).sum() <= 0.0:
        loglik = float((special.xlogy(k, m) - m - special.gammaln(k + 1.0)).sum())
        return FrequencyFit(law=law, rate=rate, rate_se=math.sqrt(rate / e.sum()), dispersion=0.0,
                            dispersion_se=0.0 if law == "poisson" else math.nan,
                            pearson_dispersion=_pearson(k, m, m, 1), loglik=loglik, n_obs=int(k.size))

    k_max = int(k.max())
    alpha0 = max(float(((k - m) ** 2 - k).sum() / (m * m).sum()), 1e-3)  # the moment estimate

    def loglik_nb(phi):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # wild trial points give -inf
            lam, alpha = np.exp(phi)
            if k_max <= 1_000_000:
                # sum_{i<k} log1p(i alpha) tabulated for 0..k_max: exact as alpha -> 0, where
                # gammaln(k + 1/alpha) - gammaln(1/alpha) would lose every digit
                head = np.concatenate(([0.0], np.cumsum(np.log1p(alpha * np.arange(k_max)))))[k.astype(np.int64)]
            else:  # counts too large to tabulate: the gamma-function form
                head = special.gammaln(k + 1.0 / alpha) - special.gammaln(1.0 / alpha) + k * np.log(alpha)
            mu = e * lam
            value = float((head + special.xlogy(k, mu) - (k + 1.0 / alpha) * np.log1p(alpha * mu)
                           - special.gammaln(k + 1.0)).sum())
        return value if math.isfinite(value) else -math.inf

    phi = _minimise(owner, lambda p: -loglik_nb(p) / k.size, np.array([math.log(rate), math.log(alpha0)]))
    lam, alpha = np.exp(phi)
    cov = _covariance(owner, lambda p: -loglik_nb(p), phi, np.exp(phi))
    mu = e * lam
    return FrequencyFit(law=law, rate=float(lam), rate_se=math.sqrt(cov[0, 0]), dispersion=float(alpha),
                        dispersion_se=math.sqrt(cov[1, 1]), pearson_dispersion=_pearson(k, mu, mu + alpha * mu * mu, 2),
                        loglik=loglik_nb(phi), n_obs=int(k.size))


def _pearson(k, m, v, p) -> float:
    if k.size <= p:
        return math.nan
    positive = v > 0.0  # v = 0 only where m = 0, i.e. every count is 0: no contribution
    return float(((k[positive] - m[positive]) ** 2 / v[positive]).sum() / (k.size - p))


@dataclass(frozen=True)
class SeverityFit:
    """Maximum-likelihood fit of a severity law on truncated and censored ground-up claims.

    Attributes
    ----------
    law : SeverityLaw
        The fitted techins law of the ground-up amount, e.g. ``LogNormal(mu=..., sigma=...)``.
    parameters, std_errors : Mapping[str, float]
        The law's parameters by name, and their asymptotic standard errors.
    covariance : numpy.ndarray
        Asymptotic covariance of the parameters, in the order of ``parameters`` (read-only).
    loglik : float
        Maximised log-likelihood of the truncated and censored sample.
    n_obs, n_censored : int
        Claims fitted, and how many of them are at the limit.
    deductible, limit : float
        The truncation and censoring points.
    """

    law: object
    parameters: FrozenMap
    std_errors: FrozenMap
    covariance: np.ndarray
    loglik: float
    n_obs: int
    n_censored: int
    deductible: float
    limit: float


def fit_severity(amounts, law: str, *, deductible: float = 0.0, limit: float = math.inf,
                 start=None) -> SeverityFit:
    r"""Fit a severity law by maximum likelihood to claims truncated below and censored above.

    The ground-up amount ``X`` has density ``f`` and survival ``S``; a claim is recorded only when
    ``X > d`` (the deductible), as ``min(X, u)`` (``u`` the limit; an amount equal to ``u`` is
    censored). The log-likelihood (Klugman, Panjer & Willmot, *Loss Models*, estimation from
    modified data) is

    .. math:: \sum_{x_i < u} \log f(x_i) + n_u \log S(u) - n \log S(d)

    minimised with ``scipy.optimize.minimize`` (Nelder-Mead, which tolerates the infinite values of a
    wild trial point) over the log of each positive parameter (the lognormal ``mu`` as is). Laws and
    parameters as techins defines them: ``"lognormal"`` (``mu``, ``sigma``), ``"gamma"`` (``shape``,
    ``scale``), ``"weibull"`` (``shape``, ``scale``), ``"pareto"`` (Lomax: ``alpha``, ``scale``,
    ``S(x) = (scale / (x + scale))^alpha``), ``"exponential"`` (``mean``).

    Parameters
    ----------
    amounts : array_like of float
        Ground-up claim amounts, ``x > 0`` and ``deductible <= x <= limit``.
    law : str
        One of the names above.
    deductible : float
        Truncation point ``d >= 0``.
    limit : float
        Censoring point ``u > d``; ``inf`` for none.
    start : mapping of str to float, optional
        Starting parameters by name; by default moment-type estimates from the uncensored amounts.

    Returns
    -------
    SeverityFit

    Raises
    ------
    InputError
        For an unknown law (the message lists the known ones), amounts not positive, below the
        deductible or above the limit, fewer uncensored amounts than parameters + 1, a bad start, a
        failed optimisation, or an observed information that is not positive definite.
    """
    owner = "fit_severity"
    if law not in _SPECS:
        raise InputError(f"{owner}: law must be one of {', '.join(map(repr, _SPECS))}, got {law!r}")
    names, law_type, logged, logpdf, logsf, guess = _SPECS[law]
    d = validate.real(owner, "deductible", deductible, low=0.0)
    u = validate.real(owner, "limit", limit, low=d, low_open=True, allow_inf=True)
    x = validate.real_array(owner, "amounts", amounts)
    for bad, rule in ((x <= 0.0, "> 0"), (x < d, f">= the deductible {d:g}"), (x > u, f"<= the limit {u:g}")):
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{owner}: amounts[{i}] must be {rule}, got {float(x[i])!r}")
    exact = x[x < u]
    n_cens = x.size - exact.size
    if exact.size < len(names) + 1 or np.unique(exact).size < 2:
        raise InputError(f"{owner}: a {law} fit needs at least {len(names) + 1} amounts below the limit, "
                         f"not all equal, got {exact.size} ({np.unique(exact).size} distinct)")
    log_exact = np.log(exact)
    logged = np.array(logged)

    def loglik(phi):
        # a wild trial point may overflow or take log(0): its -inf is rejected by the search
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta = np.where(logged, np.exp(phi), phi)
            value = float(logpdf(exact, log_exact, *theta).sum())
            if n_cens:
                value += n_cens * float(logsf(u, *theta))
            if d > 0.0:
                value -= x.size * float(logsf(d, *theta))
        return value if math.isfinite(value) else -math.inf

    if start is None:
        theta0 = np.array(guess(exact, log_exact), dtype=np.float64)  # positive for distinct amounts
    elif set(start) != set(names):
        raise InputError(f"{owner}: start must give exactly {', '.join(names)}, got {sorted(start)}")
    else:
        theta0 = np.array([validate.real(owner, f"start[{n!r}]", start[n], low=0.0 if g else -math.inf, low_open=g)
                           for n, g in zip(names, logged)])
    phi0 = np.where(logged, np.log(np.where(logged, theta0, 1.0)), theta0)
    phi = _minimise(owner, lambda p: -loglik(p) / x.size, phi0)
    theta = np.where(logged, np.exp(phi), phi)
    cov = _covariance(owner, lambda p: -loglik(p), phi, np.where(logged, theta, 1.0))
    cov.setflags(write=False)
    values = dict(zip(names, map(float, theta)))
    return SeverityFit(law=law_type(**values), parameters=FrozenMap(values),
                       std_errors=FrozenMap(dict(zip(names, map(float, np.sqrt(np.diag(cov)))))),
                       covariance=cov, loglik=loglik(phi), n_obs=int(x.size), n_censored=int(n_cens),
                       deductible=d, limit=u)


def _minimise(owner, objective, phi0) -> np.ndarray:
    """Nelder-Mead to tight tolerances on an objective of order 1 (a mean negative log-likelihood)."""
    if not (np.all(np.isfinite(phi0)) and np.isfinite(objective(phi0))):
        raise InputError(f"{owner}: the log-likelihood is not finite at the start {phi0.tolist()}")
    res = optimize.minimize(objective, phi0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 5000, "maxfev": 5000})
    # huge counts or amounts leave rounding noise in the objective (~1e-10 relative) that keeps the
    # values of a collapsed simplex from agreeing to fatol: a simplex collapsed to 1e-7 on the log
    # scale of the parameters (far inside any standard error) has converged as far as it can
    collapsed = float(np.ptp(res.final_simplex[0], axis=0).max()) <= 1e-7
    if not (res.success or collapsed):
        raise InputError(f"{owner}: the maximum-likelihood search failed: {res.message}")
    return res.x


def _covariance(owner, negloglik, phi, jacobian) -> np.ndarray:
    """Inverse observed information in ``phi`` mapped to ``theta``: ``J H^-1 J``, ``J = diag(dtheta/dphi)``."""
    p = phi.size
    h = 1e-4 * np.maximum(1.0, np.abs(phi))
    step = np.diag(h)
    f0 = negloglik(phi)
    hess = np.empty((p, p))
    for a in range(p):
        hess[a, a] = (negloglik(phi + step[a]) - 2.0 * f0 + negloglik(phi - step[a])) / (h[a] * h[a])
        for b in range(a):
            pp, pm = negloglik(phi + step[a] + step[b]), negloglik(phi + step[a] - step[b])
            mp, mm = negloglik(phi - step[a] + step[b]), negloglik(phi - step[a] - step[b])
            hess[a, b] = hess[b, a] = (pp - pm - mp + mm) / (4.0 * h[a] * h[b])
    if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(hess).min() <= 0.0:
        raise InputError(f"{owner}: the observed information is not positive definite at {phi.tolist()}: "
                         f"the data do not identify the parameters")
    return np.diag(jacobian) @ np.linalg.inv(hess) @ np.diag(jacobian)


# severity laws for the likelihood: parameter names, techins law, which parameters are searched on a
# log scale, log density (x, log x, *theta), log survival (y, *theta), starting guess (x, log x).
# numpy throughout, so that a trial point's overflow or log(0) obeys the caller's errstate

def _lognormal_logpdf(x, lx, mu, sigma):
    return -lx - np.log(sigma) - 0.5 * math.log(2.0 * math.pi) - 0.5 * ((lx - mu) / sigma) ** 2


def _gamma_logpdf(x, lx, shape, scale):
    return (shape - 1.0) * lx - x / scale - special.gammaln(shape) - shape * np.log(scale)


def _gamma_guess(x, lx):
    m, v = float(x.mean()), float(x.var())
    return m * m / v, v / m


def _weibull_logpdf(x, lx, shape, scale):
    return np.log(shape / scale) + (shape - 1.0) * (lx - np.log(scale)) - (x / scale) ** shape


def _weibull_guess(x, lx):
    # log X is Gumbel (minimum): sd = pi / (sqrt(6) shape), mean = log scale - Euler gamma / shape
    shape = math.pi / math.sqrt(6.0) / float(lx.std())
    return shape, math.exp(float(lx.mean()) + np.euler_gamma / shape)


def _pareto_logpdf(x, lx, alpha, scale):
    return np.log(alpha / scale) - (alpha + 1.0) * np.log1p(x / scale)


def _pareto_guess(x, lx):
    m, v = float(x.mean()), float(x.var())
    cv2 = v / (m * m)  # a Lomax has cv^2 = alpha / (alpha - 2) for alpha > 2
    alpha = 2.0 * cv2 / (cv2 - 1.0) if cv2 > 1.1 else 20.0
    return alpha, m * (alpha - 1.0)


_SPECS = {
    "lognormal": (("mu", "sigma"), LogNormal, (False, True), _lognormal_logpdf,
                  lambda y, mu, sigma: special.log_ndtr((mu - math.log(y)) / sigma),
                  lambda x, lx: (float(lx.mean()), float(lx.std()))),
    "gamma": (("shape", "scale"), Gamma, (True, True), _gamma_logpdf,
              lambda y, shape, scale: np.log(special.gammaincc(shape, y / scale)), _gamma_guess),
    "weibull": (("shape", "scale"), Weibull, (True, True), _weibull_logpdf,
                lambda y, shape, scale: -((y / scale) ** shape), _weibull_guess),
    "pareto": (("alpha", "scale"), Pareto, (True, True), _pareto_logpdf,
               lambda y, alpha, scale: -alpha * np.log1p(y / scale), _pareto_guess),
    "exponential": (("mean",), Exponential, (True,), lambda x, lx, mean: -np.log(mean) - x / mean,
                    lambda y, mean: -y / mean, lambda x, lx: (float(x.mean()),)),
}
