"""Frequency and severity laws of the collective risk model.

Every law is a frozen dataclass validated in ``__post_init__``; its fields are its parameters.
The public methods live on the two base classes, :class:`FrequencyLaw` and :class:`SeverityLaw`:
they convert the input to float64 arrays, deal with the edges (negative amounts, ``inf``, levels
outside [0, 1]) once, and call small private hooks (``_cdf``, ``_sf``, ``_partial_moment``, ...)
that each law writes in closed form on clean arrays.

Vectorised methods return an ``ndarray`` of the input's shape, or a numpy scalar for a scalar input.

Three laws have a field named ``mean`` (``Poisson``, ``NegativeBinomial``, ``Exponential``), like
the method ``mean()`` every law has. The field holds a float that is also callable, so both
``law.mean`` (the parameter) and ``law.mean()`` (the method) give the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.lazy import lazy_module

special = lazy_module("scipy.special")

__all__ = [
    "FrequencyLaw",
    "SeverityLaw",
    "Poisson",
    "NegativeBinomial",
    "Binomial",
    "LogNormal",
    "Gamma",
    "Weibull",
    "Pareto",
    "Exponential",
    "Empirical",
    "Spliced",
]

_LOG_FLOAT_MAX = math.log(np.finfo(np.float64).max)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
# Gauss-Legendre rule on [-1, 1]; exact to rounding for the smooth short integrals it is used on
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
# a generalised Pareto shape this close to 0 is the exponential tail (the relative difference in
# log-survival is below 1e-9 up to survival 1e-300), and 1/shape would overflow the moments
_GPD_ZERO_SHAPE = 1e-12


# ----------------------------------------------------------------------------------------------
# small helpers

def _overflow_to_inf() -> np.errstate:
    """Context for the severity hooks: quiet overflow to ``inf``.

    An amount beyond the float range (``x / scale``, ``(x / scale)**shape``, ``x**k``) becomes inf,
    and inf is the right limit in every closed form here (the cdf is 1 there, the survival 0).
    A fresh errstate each time, as one errstate cannot be entered twice.
    """
    return np.errstate(over="ignore")


class _CallableFloat(float):
    """A float that returns itself when called.

    A field named like a method (``Poisson.mean``) holds one, so ``law.mean`` is the parameter
    and ``law.mean()`` still works as on every other law.
    """

    __slots__ = ()

    def __call__(self) -> float:
        return float(self)


def _exp(x: float) -> float:
    """``math.exp`` returning ``inf`` on overflow instead of raising."""
    return math.inf if x > _LOG_FLOAT_MAX else math.exp(x)


def _power(base: float, k: int) -> float:
    """``base ** k`` for a float and a small int; overflows to ``inf`` (``**`` would raise)."""
    return math.prod((base,) * k)


def _as_floats(values) -> np.ndarray:
    """Return ``values`` as a float64 array, or raise InputTypeError."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"expected real numbers, got {values!r} ({exc})") from None


def _as_levels(q) -> np.ndarray:
    """Probability levels as float64; levels outside [0, 1] become NaN (no valid quantile)."""
    q = _as_floats(q)
    return np.where((q >= 0.0) & (q <= 1.0), q, np.nan)


def _out(a):
    """numpy's convention: a 0-d result is returned as a numpy scalar, others as arrays."""
    return a[()] if isinstance(a, np.ndarray) else a


def _scaled(coef, prob: np.ndarray) -> np.ndarray:
    """``coef * prob`` with 0 where ``prob`` is 0, even when ``coef`` overflowed to ``inf``."""
    if np.ndim(coef) == 0 and math.isfinite(coef):
        return coef * prob
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(prob == 0.0, 0.0, coef * prob)


def _expm1_ratio(c: float, s: np.ndarray) -> np.ndarray:
    """``(exp(c s) - 1) / c``, which is ``s`` at ``c = 0``; accurate for small ``c s``."""
    if c == 0.0:
        return s
    with np.errstate(over="ignore"):
        return np.expm1(c * s) / c


# beyond the amount x where E[X; X > x] / E[X] drops below this, lev(x) = E[X] to rounding,
# because E[X] - lev(x) = E[(X - x)+] <= E[X; X > x]
_LEV_SATURATION = 2.0 ** -56


def _saturating(x: np.ndarray, cut: float, mean: float, lev) -> np.ndarray:
    """``lev(x)`` below ``cut`` and ``mean`` from ``cut`` on, skipping costly special functions
    on the (often many) grid points where the limited expected value has reached the mean."""
    near = x < cut
    if near.all():
        return lev(x)
    out = np.full(x.shape, mean)
    out[near] = lev(x[near])
    return out


def _check_order(owner: str, k, high: int) -> int:
    return validate.integer(owner, "k", k, low=1, high=high)


# ----------------------------------------------------------------------------------------------
# frequency laws


class FrequencyLaw:
    """Base class of the laws of the annual claim count ``N``.

    Subclasses are frozen dataclasses; they implement the private hooks, the public methods are here.
    """

    def mean(self) -> float:
        """Return ``E[N]``.

        Returns
        -------
        float
        """
        return self._mean()

    def var(self) -> float:
        """Return ``Var[N]``.

        Returns
        -------
        float
        """
        return self._var()

    def std(self) -> float:
        """Return the standard deviation ``sqrt(Var[N])``.

        Returns
        -------
        float
        """
        return math.sqrt(self.var())

    def pmf(self, k):
        """Probability mass ``P(N = k)``.

        Parameters
        ----------
        k : array_like of float
            Counts; the mass is 0 at negative or non-integer ``k``.

        Returns
        -------
        ndarray
            Same shape as ``k``.
        """
        k = _as_floats(k)
        ok = np.isfinite(k) & (k >= 0.0) & (k == np.floor(k))
        safe = np.where(ok, k, 0.0)
        mass = np.where(ok, np.exp(self._log_pmf(safe)), 0.0)
        return _out(np.where(np.isnan(k), np.nan, mass))

    def cdf(self, k):
        """Cumulative probability ``P(N <= k)``.

        Parameters
        ----------
        k : array_like of float
            Any real numbers; ``P(N <= k) = P(N <= floor(k))``.

        Returns
        -------
        ndarray
            Same shape as ``k``.
        """
        k = _as_floats(k)
        kk = np.floor(k)
        safe = np.where(np.isfinite(kk) & (kk >= 0.0), kk, 0.0)
        value = self._cdf(safe)
        value = np.where(kk < 0.0, 0.0, value)
        value = np.where(np.isposinf(kk), 1.0, value)
        return _out(np.where(np.isnan(k), np.nan, value))

    def pgf(self, z):
        """Probability generating function ``E[z**N]``.

        Parameters
        ----------
        z : array_like of float or complex
            Points; complex arrays (e.g. the unit circle of an FFT) stay complex. The closed forms
            hold for ``|z| <= 1``; beyond, a negative binomial pgf may be NaN where it does not exist.

        Returns
        -------
        ndarray
            float64 for real input, complex128 for complex input; same shape as ``z``.
        """
        arr = np.asarray(z)
        if np.iscomplexobj(arr):
            arr = arr.astype(np.complex128)
        else:
            arr = _as_floats(arr)
        return _out(self._pgf(arr))

    def panjer_ab(self) -> tuple[float, float]:
        """Return ``(a, b)`` of the (a, b, 0) class: ``p_k = (a + b / k) p_{k-1}`` for ``k >= 1``.

        Returns
        -------
        tuple of float
        """
        return self._panjer_ab()

    def thinned(self, p: float) -> FrequencyLaw:
        """Law of the number of claims kept when each is kept independently with probability ``p``.

        Parameters
        ----------
        p : float
            Probability of keeping a claim, in [0, 1].

        Returns
        -------
        FrequencyLaw
            Same family, except that a negative binomial whose thinned mean is 0, or whose excess
            variance ``mean**2 / size`` falls below the rounding of ``mean``, becomes a Poisson.
        """
        p = validate.real(f"{type(self).__name__}.thinned", "p", p, low=0.0, high=1.0)
        return self._thinned(p)

    # hooks, on clean arrays -------------------------------------------------------------------
    def _mean(self) -> float:
        raise NotImplementedError

    def _var(self) -> float:
        raise NotImplementedError

    def _log_pmf(self, k: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cdf(self, k: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _pgf(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _panjer_ab(self) -> tuple[float, float]:
        raise NotImplementedError

    def _thinned(self, p: float) -> FrequencyLaw:
        raise NotImplementedError


@dataclass(frozen=True)
class Poisson(FrequencyLaw):
    """Poisson law of the claim count.

    Parameters
    ----------
    mean : float
        Expected count, finite, >= 0 (0 gives a count that is always 0). ``law.mean`` is this
        parameter and ``law.mean()`` returns it too.

    Examples
    --------
    >>> Poisson(2.0).pmf([0, 1]).round(4).tolist()
    [0.1353, 0.2707]
    """

    # an explicit field() keeps dataclass from taking the inherited method mean() as the default
    mean: float = field()

    def __post_init__(self):
        value = validate.real("Poisson", "mean", self.mean, low=0.0)
        object.__setattr__(self, "mean", _CallableFloat(value))

    def _mean(self) -> float:
        return float(self.mean)

    def _var(self) -> float:
        return float(self.mean)

    def _log_pmf(self, k):
        lam = float(self.mean)
        # xlogy gives 0 * log(0) = 0, so mean 0 puts all its mass on k = 0
        return special.xlogy(k, lam) - lam - special.gammaln(k + 1.0)

    def _cdf(self, k):
        return special.gammaincc(k + 1.0, float(self.mean))

    def _pgf(self, z):
        return np.exp(float(self.mean) * (z - 1.0))

    def _panjer_ab(self):
        return 0.0, float(self.mean)

    def _thinned(self, p):
        return Poisson(float(self.mean) * p)


@dataclass(frozen=True)
class NegativeBinomial(FrequencyLaw):
    """Negative binomial law of the claim count, given by its mean and variance.

    ``P(N = k) = C(k + r - 1, k) p**r (1 - p)**k`` with ``r = mean**2 / (variance - mean)``
    (:attr:`size`) and ``p = r / (r + mean) = mean / variance`` (:attr:`prob`), numpy's convention.

    Parameters
    ----------
    mean : float
        Expected count, finite, > 0. ``law.mean`` is this parameter; ``law.mean()`` returns it too.
    variance : float
        Variance, finite, strictly above ``mean`` (use :class:`Poisson` when they are equal).
    """

    mean: float = field()
    variance: float

    def __post_init__(self):
        m = validate.real("NegativeBinomial", "mean", self.mean, low=0.0, low_open=True)
        v = validate.real("NegativeBinomial", "variance", self.variance, low=0.0, low_open=True)
        if not v > m:
            raise InputError(f"NegativeBinomial: variance must exceed mean for a negative binomial; "
                             f"use Poisson when they are equal, got variance={v!r}, mean={m!r}")
        object.__setattr__(self, "mean", _CallableFloat(m))
        object.__setattr__(self, "variance", v)
        if not 0.0 < self.size < math.inf:
            raise InputError(f"NegativeBinomial: size mean**2 / (variance - mean) must be a positive "
                             f"finite number, got {self.size!r} (mean={m!r}, variance={v!r})")

    @property
    def size(self) -> float:
        """Number of successes ``r = mean**2 / (variance - mean)`` (scipy's ``n``)."""
        m = float(self.mean)
        return m * m / (self.variance - m)

    @property
    def prob(self) -> float:
        """Success probability ``p = r / (r + mean) = mean / variance``."""
        return float(self.mean) / self.variance

    def _q(self) -> float:
        # 1 - p written without the subtraction, exact when p is close to 1
        return (self.variance - float(self.mean)) / self.variance

    def _mean(self) -> float:
        return float(self.mean)

    def _var(self) -> float:
        return self.variance

    def _log_pmf(self, k):
        r = self.size
        return (special.gammaln(k + r) - special.gammaln(r) - special.gammaln(k + 1.0)
                + r * math.log(self.prob) + special.xlogy(k, self._q()))

    def _cdf(self, k):
        return special.betainc(self.size, k + 1.0, self.prob)

    def _pgf(self, z):
        # (p / (1 - q z))**r = (1 + (q/p)(1 - z))**-r: exactly 1 at z = 1 and accurate near it.
        # The base has a positive real part on the unit disc, so the principal branch is right.
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(-self.size * np.log1p(self._q() / self.prob * (1.0 - z)))

    def _panjer_ab(self):
        q = self._q()
        return q, (self.size - 1.0) * q

    def _thinned(self, p):
        m = float(self.mean) * p
        if m == 0.0:
            return Poisson(0.0)
        v = m + m * m / self.size
        if not v > m:
            # m * m / r fell below half an ulp of m: the law is Poisson to working precision
            return Poisson(m)
        return NegativeBinomial(m, v)


@dataclass(frozen=True)
class Binomial(FrequencyLaw):
    """Binomial law of the claim count: ``n`` independent trials with probability ``p``.

    Parameters
    ----------
    n : int
        Number of trials, an integer >= 0 (floats are refused).
    p : float
        Probability of a claim per trial, in [0, 1].
    """

    n: int
    p: float

    def __post_init__(self):
        object.__setattr__(self, "n", validate.integer("Binomial", "n", self.n, low=0))
        object.__setattr__(self, "p", validate.real("Binomial", "p", self.p, low=0.0, high=1.0))

    def _mean(self) -> float:
        return self.n * self.p

    def _var(self) -> float:
        return self.n * self.p * (1.0 - self.p)

    def _log_pmf(self, k):
        n, p = float(self.n), self.p
        kc = np.minimum(k, n)
        log_mass = (special.gammaln(n + 1.0) - special.gammaln(kc + 1.0) - special.gammaln(n - kc + 1.0)
                    + special.xlogy(kc, p) + special.xlog1py(n - kc, -p))
        return np.where(k > n, -np.inf, log_mass)

    def _cdf(self, k):
        n = float(self.n)
        kc = np.minimum(k, n - 1.0)  # betainc needs n - k > 0; k >= n is certain anyway
        with np.errstate(invalid="ignore"):
            below = special.betainc(np.maximum(n - kc, 1.0), kc + 1.0, 1.0 - self.p)
        return np.where(k >= n, 1.0, below)

    def _pgf(self, z):
        return (1.0 + self.p * (z - 1.0)) ** self.n

    def _panjer_ab(self):
        if self.p == 1.0:
            raise InputError("Binomial: panjer_ab needs p < 1 (p = 1 is the constant n, "
                             "outside the (a, b, 0) class), got p=1.0")
        ratio = self.p / (1.0 - self.p)
        return -ratio, (self.n + 1) * ratio

    def _thinned(self, p):
        return Binomial(self.n, self.p * p)


# ----------------------------------------------------------------------------------------------
# severity laws


class SeverityLaw:
    """Base class of the laws of one claim's ground-up amount ``X >= 0``.

    Subclasses are frozen dataclasses implementing private hooks on clean arrays; the public
    methods below handle conversion and edges once.
    """

    def mean(self) -> float:
        """Return ``E[X]``, ``math.inf`` when it is not finite.

        Returns
        -------
        float
        """
        return self._moment(1)

    def var(self) -> float:
        """Return ``Var[X]``, ``math.inf`` when it is not finite.

        Returns
        -------
        float
        """
        return self._var()

    def std(self) -> float:
        """Return the standard deviation ``sqrt(Var[X])`` (``inf`` when not finite).

        Returns
        -------
        float
        """
        return math.sqrt(self.var())

    def moment(self, k: int) -> float:
        """Return the raw moment ``E[X**k]``.

        Parameters
        ----------
        k : int
            Order, 1, 2 or 3.

        Returns
        -------
        float
            ``math.inf`` when the moment does not exist.
        """
        return self._moment(_check_order(type(self).__name__, k, 3))

    def pdf(self, x):
        """Probability density at ``x`` (0 below 0).

        Parameters
        ----------
        x : array_like of float

        Returns
        -------
        ndarray
            Same shape as ``x``.

        Raises
        ------
        InputError
            For :class:`Empirical`, which is discrete and has no density.
        """
        x = _as_floats(x)
        inside = np.isfinite(x) & (x >= 0.0)
        with _overflow_to_inf():
            density = self._pdf(np.where(inside, x, 0.0))
        outside = np.where(np.isnan(x), np.nan, 0.0)  # no density below 0 or at infinity
        return _out(np.where(inside, density, outside))

    def cdf(self, x):
        """Cumulative distribution ``F(x) = P(X <= x)``, 0 for ``x < 0``.

        Parameters
        ----------
        x : array_like of float
            Any real numbers.

        Returns
        -------
        ndarray
            Same shape as ``x``.
        """
        x = _as_floats(x)
        with _overflow_to_inf():
            return _out(np.where(x < 0.0, 0.0, self._cdf(np.maximum(x, 0.0))))

    def sf(self, x):
        """Survival function ``P(X > x)``, computed directly (accurate deep in the tail).

        Parameters
        ----------
        x : array_like of float
            Any real numbers.

        Returns
        -------
        ndarray
            Same shape as ``x``.
        """
        x = _as_floats(x)
        with _overflow_to_inf():
            return _out(np.where(x < 0.0, 1.0, self._sf(np.maximum(x, 0.0))))

    def ppf(self, q):
        """Quantile ``inf{x : F(x) >= q}``.

        Parameters
        ----------
        q : array_like of float
            Levels in [0, 1]; NaN is returned outside. ``ppf(0)`` is the lower end of the support
            (0 for continuous laws) and ``ppf(1)`` is :meth:`upper_bound` (``inf`` if unbounded).

        Returns
        -------
        ndarray
            Same shape as ``q``.
        """
        with _overflow_to_inf():
            return _out(self._ppf(_as_levels(q)) + 0.0)  # + 0.0 turns a -0.0 into 0.0

    def isf(self, q):
        """Inverse survival function: ``ppf(1 - q)``, accurate for tiny ``q``.

        Parameters
        ----------
        q : array_like of float
            Exceedance probabilities in [0, 1]; NaN is returned outside.

        Returns
        -------
        ndarray
            Same shape as ``q``.
        """
        with _overflow_to_inf():
            return _out(self._isf(_as_levels(q)) + 0.0)  # + 0.0 turns a -0.0 into 0.0

    def lev(self, x):
        """Limited expected value ``E[min(X, x)]``, in closed form and vectorised.

        Parameters
        ----------
        x : array_like of float
            Limits; ``lev(inf)`` is :meth:`mean`, and ``lev(x) = x`` for ``x <= 0``.

        Returns
        -------
        ndarray
            Same shape as ``x``.
        """
        x = _as_floats(x)
        edge = ~(np.isfinite(x) & (x > 0.0))
        if not edge.any():  # the common case, a grid of positive amounts: no copy, no fix-up
            with _overflow_to_inf():
                return _out(self._lev(x))
        # fix up the few edge points only (this runs on grids of millions of points)
        inner = x.copy()
        inner[edge] = 0.0
        with _overflow_to_inf():
            value = np.asarray(self._lev(inner), dtype=np.float64).copy()
        value[edge] = x[edge]  # min(X, x) = x for x <= 0 (and NaN stays NaN)
        value[np.isposinf(x)] = self.mean()
        return _out(value)

    def limited_moment(self, x, k: int):
        """Limited moment ``E[min(X, x)**k]``.

        Parameters
        ----------
        x : array_like of float
            Limits; at ``inf`` the raw moment, and ``x**k`` for ``x <= 0``.
        k : int
            Order, 1, 2 or 3 (1 is :meth:`lev`).

        Returns
        -------
        ndarray
            Same shape as ``x``.
        """
        k = _check_order(type(self).__name__, k, 3)
        if k == 1:
            return self.lev(x)
        x = _as_floats(x)
        inner = np.where(np.isfinite(x) & (x > 0.0), x, 0.0)
        # E[min(X, x)^k] = E[X^k; X <= x] + x^k P(X > x)
        with _overflow_to_inf():
            value = self._partial_moment(inner, k) + _scaled(inner ** k, self._sf(inner))
            value = np.where(x > 0.0, value, x ** k)
        return _out(np.where(np.isposinf(x), self._moment(k), value))

    def upper_bound(self) -> float:
        """Return the supremum of the support (``inf`` for an unbounded law).

        Returns
        -------
        float
        """
        return self._upper_bound()

    # hooks: x is a finite float64 array >= 0, q an array of levels in [0, 1] or NaN -------------
    def _moment(self, k: int) -> float:
        raise NotImplementedError

    def _var(self) -> float:
        raise NotImplementedError

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _sf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _isf(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _partial_moment(self, x: np.ndarray, k: int) -> np.ndarray:
        """``E[X**k; X <= x]`` for k = 1, 2, 3."""
        raise NotImplementedError

    def _lev(self, x: np.ndarray) -> np.ndarray:
        return self._partial_moment(x, 1) + x * self._sf(x)

    def _upper_bound(self) -> float:
        return math.inf


def _positive(owner: str, name: str, value) -> float:
    return validate.real(owner, name, value, low=0.0, low_open=True)


@dataclass(frozen=True)
class LogNormal(SeverityLaw):
    """Lognormal law: ``log X`` is normal with mean ``mu`` and standard deviation ``sigma``.

    Parameters
    ----------
    mu : float
        Mean of ``log X``, finite.
    sigma : float
        Standard deviation of ``log X``, finite, > 0.

    Examples
    --------
    >>> round(float(LogNormal(mu=0.0, sigma=1.0).ppf(0.5)), 12)
    1.0
    """

    mu: float
    sigma: float

    def __post_init__(self):
        object.__setattr__(self, "mu", validate.real("LogNormal", "mu", self.mu))
        object.__setattr__(self, "sigma", _positive("LogNormal", "sigma", self.sigma))

    def _z(self, x):
        with np.errstate(divide="ignore"):  # log(0) = -inf is the right limit
            return (np.log(x) - self.mu) / self.sigma

    def _moment(self, k):
        ks = k * self.sigma
        return _exp(k * self.mu + 0.5 * ks * ks)

    def _var(self):
        # exp(2 mu + s2) expm1(s2), summed in logs so that a huge factor times a tiny one stays finite
        s2 = self.sigma * self.sigma
        if s2 == 0.0:
            return 0.0  # sigma**2 underflowed: a point mass to double precision
        # log(expm1(s2)) is s2 to double precision once s2 is large (and expm1 would overflow)
        log_expm1 = s2 if s2 > 50.0 else math.log(math.expm1(s2))
        return _exp(2.0 * self.mu + s2 + log_expm1)

    def _pdf(self, x):
        z = self._z(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            density = np.exp(-0.5 * z * z) / (x * self.sigma * _SQRT2PI)
        return np.where(x > 0.0, density, 0.0)

    # ndtr(z) = erfc(-z / sqrt 2) / 2; erfc is twice as fast as ndtr here and as accurate
    def _cdf(self, x):
        return 0.5 * special.erfc(-self._z(x) / _SQRT2)

    def _sf(self, x):
        return 0.5 * special.erfc(self._z(x) / _SQRT2)

    def _ppf(self, q):
        with np.errstate(over="ignore"):
            return np.exp(self.mu + self.sigma * special.ndtri(q))

    def _isf(self, q):
        with np.errstate(over="ignore"):
            return np.exp(self.mu - self.sigma * special.ndtri(q))

    def _partial_moment(self, x, k):
        # E[X^k; X <= x] = E[X^k] Phi((log x - mu - k sigma^2) / sigma)
        z = self._z(x) - k * self.sigma
        return _scaled(self._moment(k), 0.5 * special.erfc(-z / _SQRT2))

    def _lev(self, x):
        # E[X; X > x] / E[X] = Phi(sigma - z), below the saturation level from z_cut on
        z_cut = self.sigma - float(special.ndtri(_LEV_SATURATION))
        cut = _exp(self.mu + self.sigma * z_cut)
        return _saturating(x, cut, self._moment(1), self._lev_closed_form)

    def _lev_closed_form(self, x):
        # E[X] Phi(z - sigma) + x (1 - Phi(z)); erfc dominates the cost, the rest is cheap
        w = self._z(x) / _SQRT2
        below = _scaled(0.5 * self._moment(1), special.erfc(self.sigma / _SQRT2 - w))
        return below + 0.5 * x * special.erfc(w)


@dataclass(frozen=True)
class Gamma(SeverityLaw):
    """Gamma law with density ``x**(shape-1) exp(-x/scale) / (Gamma(shape) scale**shape)``.

    Parameters
    ----------
    shape : float
        Shape, finite, > 0.
    scale : float
        Scale, finite, > 0; the mean is ``shape * scale``.
    """

    shape: float
    scale: float

    def __post_init__(self):
        object.__setattr__(self, "shape", _positive("Gamma", "shape", self.shape))
        object.__setattr__(self, "scale", _positive("Gamma", "scale", self.scale))

    def _moment(self, k):
        rising = math.prod(self.shape + i for i in range(k))
        return _power(self.scale, k) * rising

    def _var(self):
        return self.shape * self.scale * self.scale

    def _pdf(self, x):
        a, theta = self.shape, self.scale
        log_density = (special.xlogy(a - 1.0, x) - x / theta - special.gammaln(a) - a * math.log(theta))
        return np.exp(log_density)

    def _cdf(self, x):
        return special.gammainc(self.shape, x / self.scale)

    def _sf(self, x):
        return special.gammaincc(self.shape, x / self.scale)

    def _ppf(self, q):
        return self.scale * special.gammaincinv(self.shape, q)

    def _isf(self, q):
        return self.scale * special.gammainccinv(self.shape, q)

    def _partial_moment(self, x, k):
        return _scaled(self._moment(k), special.gammainc(self.shape + k, x / self.scale))

    def _lev(self, x):
        # E[X; X > x] / E[X] = Q(a + 1, x / scale)
        cut = self.scale * float(special.gammainccinv(self.shape + 1.0, _LEV_SATURATION))
        return _saturating(x, cut, self._moment(1), self._lev_closed_form)

    def _lev_closed_form(self, x):
        # lev = a theta P(a+1, y) + x Q(a, y). Incomplete gamma calls dominate the cost, so
        # use one: P(a+1, y) = P(a, y) - y^a e^-y / Gamma(a+1) and Q = 1 - P. Q from 1 - P loses
        # nothing that matters (its absolute error eps times x is small against lev), but the
        # subtraction for P(a+1, y) cancels for small y, where P(a+1, y) is recomputed directly.
        a, theta = self.shape, self.scale
        shape = np.shape(x)
        x = np.atleast_1d(x)  # the subset assignment below needs an array, not a numpy scalar
        y = x / theta
        p = special.gammainc(a, y)
        with np.errstate(divide="ignore"):
            head = np.exp(special.xlogy(a, y) - y - special.gammaln(a + 1.0))
        p_next = p - head
        small = y < 1.0
        if small.any():
            p_next[small] = special.gammainc(a + 1.0, y[small])
        return (a * theta * p_next + x * (1.0 - p)).reshape(shape)


@dataclass(frozen=True)
class Weibull(SeverityLaw):
    """Weibull law: ``F(x) = 1 - exp(-(x / scale)**shape)``.

    Parameters
    ----------
    shape : float
        Shape, finite, > 0 (below 1: heavier than exponential).
    scale : float
        Scale, finite, > 0.
    """

    shape: float
    scale: float

    def __post_init__(self):
        object.__setattr__(self, "shape", _positive("Weibull", "shape", self.shape))
        object.__setattr__(self, "scale", _positive("Weibull", "scale", self.scale))

    def _h(self, x):
        """Cumulative hazard ``(x / scale)**shape``."""
        return (x / self.scale) ** self.shape

    def _moment(self, k):
        return _power(self.scale, k) * float(special.gamma(1.0 + k / self.shape))

    def _var(self):
        g1 = float(special.gamma(1.0 + 1.0 / self.shape))
        g2 = float(special.gamma(1.0 + 2.0 / self.shape))
        if math.isinf(g2):
            return math.inf
        return self.scale * self.scale * (g2 - g1 * g1)

    def _pdf(self, x):
        c, lam = self.shape, self.scale
        log_density = math.log(c / lam) + special.xlogy(c - 1.0, x / lam) - self._h(x)
        return np.exp(log_density)

    def _cdf(self, x):
        return -np.expm1(-self._h(x))

    def _sf(self, x):
        return np.exp(-self._h(x))

    def _ppf(self, q):
        with np.errstate(divide="ignore"):
            return self.scale * (-np.log1p(-q)) ** (1.0 / self.shape)

    def _isf(self, q):
        with np.errstate(divide="ignore"):
            return self.scale * (-np.log(q)) ** (1.0 / self.shape)

    def _partial_moment(self, x, k):
        return _scaled(self._moment(k), special.gammainc(1.0 + k / self.shape, self._h(x)))

    def _lev(self, x):
        # E[X; X > x] / E[X] = Q(1 + 1/shape, (x / scale)**shape)
        b = 1.0 + 1.0 / self.shape
        h_cut = float(special.gammainccinv(b, _LEV_SATURATION))
        cut = self.scale * _exp(math.log(h_cut) / self.shape)  # a float ** would raise on overflow
        return _saturating(x, cut, self._moment(1), self._lev_closed_form)

    def _lev_closed_form(self, x):
        h = self._h(x)
        return _scaled(self._moment(1), special.gammainc(1.0 + 1.0 / self.shape, h)) + x * np.exp(-h)


@dataclass(frozen=True)
class Pareto(SeverityLaw):
    """Pareto law of the second kind (Lomax): ``F(x) = 1 - (scale / (x + scale))**alpha``.

    The moment of order ``k`` exists if and only if ``alpha > k``; the mean is
    ``scale / (alpha - 1)`` for ``alpha > 1``.

    Parameters
    ----------
    alpha : float
        Tail index, finite, > 0.
    scale : float
        Scale, finite, > 0.
    """

    alpha: float
    scale: float

    def __post_init__(self):
        object.__setattr__(self, "alpha", _positive("Pareto", "alpha", self.alpha))
        object.__setattr__(self, "scale", _positive("Pareto", "scale", self.scale))

    def _log1p(self, x):
        """``log(1 + x / scale)``, minus the log of the survival function over alpha."""
        return np.log1p(x / self.scale)

    def _moment(self, k):
        a = self.alpha
        if a <= k:
            return math.inf
        return _power(self.scale, k) * math.factorial(k) / math.prod(a - i for i in range(1, k + 1))

    def _var(self):
        a = self.alpha
        if a <= 2.0:
            return math.inf
        return self.scale * self.scale * a / ((a - 1.0) * (a - 1.0) * (a - 2.0))

    def _pdf(self, x):
        return self.alpha / self.scale * np.exp(-(self.alpha + 1.0) * self._log1p(x))

    def _cdf(self, x):
        return -np.expm1(-self.alpha * self._log1p(x))

    def _sf(self, x):
        return np.exp(-self.alpha * self._log1p(x))

    def _ppf(self, q):
        with np.errstate(divide="ignore", over="ignore"):
            return self.scale * np.expm1(-np.log1p(-q) / self.alpha)

    def _isf(self, q):
        with np.errstate(divide="ignore", over="ignore"):
            return self.scale * np.expm1(-np.log(q) / self.alpha)

    def _lev(self, x):
        # integral of exp(-alpha s) d(scale e^s) over s in [0, log1p(x/scale)]; at alpha = 1 it is
        # scale * log1p(x / scale), and the expm1 ratio is accurate for alpha near 1 and small x
        return self.scale * _expm1_ratio(1.0 - self.alpha, self._log1p(x))

    def _partial_moment(self, x, k):
        a = self.alpha
        if a > k:
            # X / (X + scale) is Beta(1, alpha); X^k times its density is a Beta(k+1, alpha-k) kernel
            return _scaled(self._moment(k), special.betainc(k + 1.0, a - k, x / (x + self.scale)))
        return _scaled(_power(self.scale, k) * a, _heavy_pareto_integral(self._log1p(x), k, a))


def _heavy_pareto_integral(L: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """``integral_0^L expm1(s)**k exp(-alpha s) ds`` (so a Lomax ``E[X^k; X <= x]`` over
    ``alpha scale**k``, with ``L = log1p(x / scale)``), for ``alpha <= k`` where the Beta form fails.

    Expanding ``(e^s - 1)^k`` gives exponentials integrated in closed form; the alternating sum
    cancels for small ``L``, where the smooth integrand is integrated by Gauss-Legendre instead.
    """
    shape = np.shape(L)
    L = np.atleast_1d(L)  # boolean subsets need an array, not a numpy scalar
    out = np.empty_like(L)
    small = L < 1.0
    if small.any():
        Ls = L[small]
        s = Ls[:, None] * (0.5 * (_GL_X + 1.0))
        integrand = np.expm1(s) ** k * np.exp(-alpha * s)
        out[small] = 0.5 * Ls * (integrand @ _GL_W)
    big = ~small
    if big.any():
        Lb = L[big]
        terms = [math.comb(k, j) * (-1.0) ** (k - j) * _expm1_ratio(j - alpha, Lb) for j in range(k + 1)]
        with np.errstate(invalid="ignore"):
            total = sum(terms)
        # the last term (j = k) grows fastest: when it overflows, the integral is inf
        out[big] = np.where(np.isinf(terms[-1]), np.inf, total)
    return out.reshape(shape)


@dataclass(frozen=True)
class Exponential(SeverityLaw):
    """Exponential law: ``F(x) = 1 - exp(-x / mean)``.

    Parameters
    ----------
    mean : float
        Mean, finite, > 0. ``law.mean`` is this parameter; ``law.mean()`` returns it too.
    """

    mean: float = field()

    def __post_init__(self):
        object.__setattr__(self, "mean", _CallableFloat(_positive("Exponential", "mean", self.mean)))

    def _moment(self, k):
        return math.factorial(k) * _power(float(self.mean), k)

    def _var(self):
        m = float(self.mean)
        return m * m

    def _pdf(self, x):
        m = float(self.mean)
        return np.exp(-x / m) / m

    def _cdf(self, x):
        return -np.expm1(-x / float(self.mean))

    def _sf(self, x):
        return np.exp(-x / float(self.mean))

    def _ppf(self, q):
        with np.errstate(divide="ignore"):
            return -float(self.mean) * np.log1p(-q)

    def _isf(self, q):
        with np.errstate(divide="ignore"):
            return -float(self.mean) * np.log(q)

    def _partial_moment(self, x, k):
        return _scaled(self._moment(k), special.gammainc(k + 1.0, x / float(self.mean)))

    def _lev(self, x):
        m = float(self.mean)
        return -m * np.expm1(-x / m)


@dataclass(frozen=True)
class _BetaTail(SeverityLaw):
    """``bound * B`` with ``B ~ Beta(1, a)``: ``P(Y > y) = (1 - y / bound)**a`` on [0, bound].

    It is the generalised Pareto law with negative shape ``xi = -1/a`` and scale ``bound / a``.
    Private: built by :class:`Spliced` from validated parameters.
    """

    a: float
    bound: float

    def _v(self, y):
        return np.minimum(y / self.bound, 1.0)

    def _log_sf(self, y):
        with np.errstate(divide="ignore"):
            return self.a * np.log1p(-self._v(y))

    def _moment(self, k):
        a = self.a
        return _power(self.bound, k) * math.factorial(k) / math.prod(a + i for i in range(1, k + 1))

    def _var(self):
        a = self.a
        return self.bound * self.bound * a / ((a + 1.0) * (a + 1.0) * (a + 2.0))

    def _pdf(self, y):
        density = self.a / self.bound * np.exp(special.xlog1py(self.a - 1.0, -self._v(y)))
        return np.where(y > self.bound, 0.0, density)

    def _cdf(self, y):
        return -np.expm1(self._log_sf(y))

    def _sf(self, y):
        return np.exp(self._log_sf(y))

    def _ppf(self, q):
        with np.errstate(divide="ignore"):
            return -self.bound * np.expm1(np.log1p(-q) / self.a)

    def _isf(self, q):
        with np.errstate(divide="ignore"):
            return -self.bound * np.expm1(np.log(q) / self.a)

    def _partial_moment(self, y, k):
        return _scaled(self._moment(k), special.betainc(k + 1.0, self.a, self._v(y)))

    def _lev(self, y):
        with np.errstate(divide="ignore"):
            log_rest = (self.a + 1.0) * np.log1p(-self._v(y))
        return -self.bound * np.expm1(log_rest) / (self.a + 1.0)

    def _upper_bound(self):
        return self.bound


def _generalised_pareto(xi: float, beta: float) -> SeverityLaw:
    """Generalised Pareto law ``P(Y > y) = (1 + xi y / beta)**(-1/xi)`` as one of the laws above."""
    if abs(xi) < _GPD_ZERO_SHAPE:
        return Exponential(beta)
    if xi > 0.0:
        return Pareto(alpha=1.0 / xi, scale=beta / xi)
    return _BetaTail(a=-1.0 / xi, bound=-beta / xi)


@dataclass(frozen=True, repr=False)
class Empirical(SeverityLaw):
    """Discrete law putting probability ``weights[i]`` on amount ``values[i]``.

    Fields are stored as tuples so the dataclass stays frozen and hashable; ``weights`` is stored
    normalised to probabilities (equal when omitted). Duplicate values are merged and values of
    zero weight dropped in :attr:`support` / :attr:`probs`.

    The law has no density: :meth:`pdf` raises :class:`~techins.errors.InputError`.

    Parameters
    ----------
    values : array_like of float
        One-dimensional, non-empty, finite amounts >= 0.
    weights : array_like of float, optional
        Finite weights >= 0 of the same length with a positive sum.

    Examples
    --------
    >>> law = Empirical([1.0, 2.0, 2.0, 5.0])
    >>> law.support.tolist(), law.probs.tolist()
    ([1.0, 2.0, 5.0], [0.25, 0.5, 0.25])
    """

    values: tuple
    weights: tuple | None = None

    def __post_init__(self):
        values = validate.real_array("Empirical", "values", self.values, low=0.0)
        if self.weights is None:
            probs = np.full(values.size, 1.0 / values.size)
        else:
            weights = validate.real_array("Empirical", "weights", self.weights, low=0.0)
            if weights.size != values.size:
                raise InputError(f"Empirical: weights must have the same length as values "
                                 f"({values.size}), got {weights.size}")
            top = weights.max()
            if not top > 0.0:
                raise InputError(f"Empirical: weights must have a positive sum, got {weights.sum()!r}")
            scaled = weights / top  # dividing by the largest first keeps the sum from overflowing
            probs = scaled / scaled.sum()
        object.__setattr__(self, "values", tuple(values.tolist()))
        object.__setattr__(self, "weights", tuple(probs.tolist()))
        self._build_tables(values, probs)

    def _build_tables(self, values: np.ndarray, probs: np.ndarray) -> None:
        support, inverse = np.unique(values, return_inverse=True)
        mass = np.bincount(inverse, weights=probs, minlength=support.size)
        keep = mass > 0.0
        support, mass = support[keep], mass[keep]
        # P(X > v_i) summed from the right, so that small tail probabilities keep their accuracy
        tail = np.concatenate([np.cumsum(mass[::-1])[::-1][1:], [0.0]])
        cum = np.cumsum(mass)
        cum[-1] = 1.0
        tables = {
            "_support": support,
            "_probs": mass,
            "_cum": cum,                                  # F(v_i)
            "_tail": tail,                                # P(X > v_i)
            "_cum0": np.concatenate([[0.0], cum]),        # F just below v_i, then at v_i
            "_tail0": np.concatenate([[1.0], tail]),
        }
        for k in (1, 2, 3):  # E[X^k; X <= v_i], with a leading 0 for amounts below the support
            with np.errstate(over="ignore"):  # huge values: the moment is inf, as documented
                tables[f"_partial{k}"] = np.concatenate([[0.0], np.cumsum(mass * support ** k)])
        for name, array in tables.items():
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def __repr__(self) -> str:
        s = self._support
        return f"Empirical(<{len(self.values)} values on [{s[0]:g}, {s[-1]:g}]>)"

    @property
    def support(self) -> np.ndarray:
        """Sorted distinct values of positive probability (read-only float64 array)."""
        return self._support

    @property
    def probs(self) -> np.ndarray:
        """Probabilities of :attr:`support`, summing to 1 (read-only float64 array)."""
        return self._probs

    def _index(self, x):
        """Number of support points <= x."""
        return np.searchsorted(self._support, x, side="right")

    def _moment(self, k):
        return float(self._partial0(k)[-1])

    def _partial0(self, k):
        return getattr(self, f"_partial{k}")

    def _var(self):
        dev = self._support - self._moment(1)
        with np.errstate(over="ignore"):  # huge values: the variance is inf, as documented
            return float(np.dot(self._probs, dev * dev))  # two passes: no cancellation

    def _pdf(self, x):
        raise InputError("Empirical: the law is discrete and has no density; use support and probs")

    def _cdf(self, x):
        return np.where(np.isnan(x), np.nan, self._cum0[self._index(x)])

    def _sf(self, x):
        return np.where(np.isnan(x), np.nan, self._tail0[self._index(x)])

    def _ppf(self, q):
        # the relative slack keeps rounding of the cumulative sum from skipping an atom sitting
        # exactly at level q (same rule as techins.results.figures.quantile_sorted)
        i = np.searchsorted(self._cum, q * (1.0 - 4.0 * np.finfo(float).eps), side="left")
        value = self._support[np.minimum(i, self._support.size - 1)]
        return np.where(np.isnan(q), np.nan, value)

    def _isf(self, q):
        # first support point v_i with P(X > v_i) <= q; -tail is increasing
        i = np.searchsorted(-self._tail, -q * (1.0 + 4.0 * np.finfo(float).eps), side="left")
        value = self._support[np.minimum(i, self._support.size - 1)]
        return np.where(np.isnan(q), np.nan, value)

    def _partial_moment(self, x, k):
        return self._partial0(k)[self._index(x)]

    def _lev(self, x):
        i = self._index(x)
        return self._partial1[i] + x * self._tail0[i]

    def _upper_bound(self):
        return float(self._support[-1])


_BODY_LAWS = (LogNormal, Gamma, Weibull, Pareto, Exponential)


@dataclass(frozen=True)
class Spliced(SeverityLaw):
    """A body law below a threshold spliced with a generalised Pareto tail above it.

    With ``u = threshold``, ``t`` the tail probability, ``xi = tail_shape``, ``beta = tail_scale``:

    * ``F(x) = (1 - t) F_body(x) / F_body(u)`` for ``x <= u``;
    * ``F(x) = 1 - t (1 + xi (x - u) / beta)**(-1/xi)`` for ``x > u`` (``exp(-(x - u)/beta)`` at
      ``xi = 0``; bounded by ``u - beta/xi`` for ``xi < 0``).

    A shape with ``|xi| < 1e-12`` is treated as 0.

    Parameters
    ----------
    body : LogNormal, Gamma, Weibull, Pareto or Exponential
        Law below the threshold, truncated to [0, u]; it must give [0, u] positive probability.
    threshold : float
        Splice point ``u``, finite, > 0.
    tail_shape : float
        Generalised Pareto shape ``xi``, finite, any sign.
    tail_scale : float
        Generalised Pareto scale ``beta``, finite, > 0.
    tail_prob : float, optional
        ``t = P(X > u)`` in (0, 1); by default ``body.sf(u)``, which makes ``F`` continuous at u.
    """

    body: SeverityLaw
    threshold: float
    tail_shape: float
    tail_scale: float
    tail_prob: float | None = None

    def __post_init__(self):
        if not isinstance(self.body, _BODY_LAWS):
            raise InputTypeError(f"Spliced: body must be a LogNormal, Gamma, Weibull, Pareto or "
                                 f"Exponential law, got {type(self.body).__name__}")
        u = _positive("Spliced", "threshold", self.threshold)
        xi = validate.real("Spliced", "tail_shape", self.tail_shape)
        beta = _positive("Spliced", "tail_scale", self.tail_scale)
        object.__setattr__(self, "threshold", u)
        object.__setattr__(self, "tail_shape", xi)
        object.__setattr__(self, "tail_scale", beta)
        f_u = float(self.body.cdf(u))
        s_u = float(self.body.sf(u))
        if not f_u > 0.0:
            raise InputError(f"Spliced: the body must give [0, threshold] a positive probability, "
                             f"got body.cdf(threshold={u!r}) = {f_u!r}")
        if self.tail_prob is None:
            t = s_u
            if not 0.0 < t < 1.0:
                raise InputError(f"Spliced: the continuous splice needs body.sf(threshold) in (0, 1), "
                                 f"got {t!r} at threshold={u!r}; give tail_prob")
        else:
            t = validate.real("Spliced", "tail_prob", self.tail_prob, low=0.0, high=1.0,
                               low_open=True, high_open=True)
            object.__setattr__(self, "tail_prob", t)
        # derived constants, kept out of the fields (and so out of eq, hash and repr)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_f_u", f_u)
        object.__setattr__(self, "_s_u", s_u)
        object.__setattr__(self, "_body_weight", (1.0 - t) / f_u)  # density factor below u
        object.__setattr__(self, "_tail", _generalised_pareto(xi, beta))

    @property
    def tail_probability(self) -> float:
        """Effective ``t = P(X > threshold)``: ``tail_prob`` or, when omitted, ``body.sf(threshold)``."""
        return self._t

    def _tail_terms(self, k: int, moments) -> float:
        """``E[(u + Y)^k]``-like sums ``sum_j C(k, j) u^(k-j) m_j`` with ``m_j`` from ``moments(j)``."""
        u = self.threshold
        return sum(math.comb(k, j) * _power(u, k - j) * moments(j) for j in range(k + 1))

    def _moment(self, k):
        below = self._body_weight * float(self.body._partial_moment(np.asarray(self.threshold), k))
        tail = self._tail
        above = self._tail_terms(k, lambda j: 1.0 if j == 0 else tail._moment(j))
        return below + self._t * above

    def _var(self):
        m2 = self._moment(2)
        if math.isinf(m2):
            return math.inf
        m1 = self._moment(1)
        return max(m2 - m1 * m1, 0.0)

    def _pdf(self, x):
        u = self.threshold
        low = self._body_weight * self.body._pdf(np.minimum(x, u))
        high = self._t * self._tail._pdf(np.maximum(x - u, 0.0))
        return np.where(x <= u, low, high)

    def _cdf(self, x):
        u = self.threshold
        low = self._body_weight * self.body._cdf(np.minimum(x, u))
        high = 1.0 - self._t * self._tail._sf(np.maximum(x - u, 0.0))
        return np.where(x <= u, low, high)

    def _sf(self, x):
        u = self.threshold
        xb = np.minimum(x, u)
        # body mass in (x, u], from the side where it is not a difference of two numbers near 1
        if self._f_u > 0.5:
            between = self.body._sf(xb) - self._s_u
        else:
            between = self._f_u - self.body._cdf(xb)
        # F_body(u) and S_body(u) are computed apart, so at x = 0 the sum may round above 1
        low = np.minimum(self._t + self._body_weight * between, 1.0)
        high = self._t * self._tail._sf(np.maximum(x - u, 0.0))
        return np.where(x <= u, low, high)

    def _body_quantile(self, level, excess):
        """Body quantile where ``F = level`` (<= 1 - t); ``excess = 1 - t - level`` given exactly."""
        f_u, s_u, t = self._f_u, self._s_u, self._t
        p_body = np.clip(level * f_u / (1.0 - t), 0.0, f_u)
        s_body = np.clip(s_u + f_u * excess / (1.0 - t), 0.0, 1.0)
        # a body level above 1/2 is inverted through the body's survival function, more accurate there
        x = np.where(p_body <= 0.5, self.body._ppf(p_body), self.body._isf(s_body))
        return np.minimum(x, self.threshold)

    def _ppf(self, q):
        t, u = self._t, self.threshold
        in_tail = q > 1.0 - t
        low = self._body_quantile(q, (1.0 - t) - q)
        high = u + self._tail._isf(np.clip((1.0 - q) / t, 0.0, 1.0))
        return np.where(in_tail, high, low)

    def _isf(self, q):
        t, u = self._t, self.threshold
        in_tail = q <= t
        low = self._body_quantile(1.0 - q, q - t)
        high = u + self._tail._isf(np.clip(q / t, 0.0, 1.0))
        return np.where(in_tail, high, low)

    def _partial_moment(self, x, k):
        u = self.threshold
        body = self._body_weight * self.body._partial_moment(np.minimum(x, u), k)
        y = np.maximum(x - u, 0.0)
        tail = self._tail
        # E[(u + Y)^k; Y <= y] expanded; the j = 0 term is P(Y <= y)
        above = self._tail_terms(k, lambda j: tail._cdf(y) if j == 0 else tail._partial_moment(y, j))
        return np.where(x <= u, body, body + self._t * above)

    def _lev(self, x):
        u = self.threshold
        xb = np.minimum(x, u)
        # for x <= u: integral_0^x (1 - c F_body) = x - c (x - lev_body(x)), c = (1 - t) / F_body(u)
        low = xb - self._body_weight * (xb - self.body._lev(xb))
        high = self._t * self._tail._lev(np.maximum(x - u, 0.0))
        return np.where(x <= u, low, low + high)

    def _upper_bound(self):
        return self.threshold + self._tail._upper_bound()
