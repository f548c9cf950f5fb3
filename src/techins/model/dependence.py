"""Dependence between lines, or between groups of policies: copulas on annual losses and a shared
gamma frailty on claim counts.

Two mechanisms, reaching different things (``docs/methodology.md``, Dependence):

* a **copula** (``Dependence(copula, lines=...)`` or ``Dependence(copula, column=...)``) joins the
  *annual* losses of its margins (lines, or the groups of policies sharing a value of a column). Each
  chunk of years is simulated as if independent, then each margin's years are permuted within the
  chunk so that their ranks follow a sample of the copula (Iman & Conover 1982, Commun. Statist. B
  11(3), with the copula sample as the reference): every margin keeps exactly its losses, the book's
  total, per-policy sums, co-TVaR tail and allocation see the dependent years. The occurrences move
  with it (occurrence tables, ``annual_by_group``, ``apply_programme``, pools): each in the year its
  (policy, year) loss moved to, a common-shock event split into one occurrence per margin part, so
  per-occurrence treaties see each part as one occurrence. A quoted new policy joins its margin,
  whose totals with the policy's are ranked again against the same copula sample
  (``techins.catalogue.snapshot.BookEvents.with_policy``);
* a **shared gamma frailty** (``GammaFrailty(cv, lines=...)``): one factor ``Z_y ~ Gamma(1/cv^2,
  cv^2)`` (mean 1) per year multiplies the claim rates of every policy of its lines, so counts (and
  therefore occurrences) are dependent: every treaty, occurrence and per-risk XL included, sees it.

Copulas are exchangeable (one parameter) in any dimension, except the Gaussian and Student t, which
take a full correlation matrix too. Archimedean copulas are sampled by Marshall & Olkin's (1988,
JASA 83(403)) frailty construction, ``U_i = psi(E_i / V)``; Gaussian and t by a Cholesky factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from techins import validate
from techins.errors import InputError, InputTypeError
from techins.io.toml import Where, array_of_tables, load_toml, only_keys, require_keys, table
from techins.lazy import lazy_module

__all__ = ["GaussianCopula", "StudentTCopula", "ClaytonCopula", "GumbelCopula", "FrankCopula", "Dependence",
           "GammaFrailty", "COPULAS", "FAMILIES", "frank_tau", "read_dependence", "dependence_from_mapping"]

_stats = lazy_module("scipy.stats")
_integrate = lazy_module("scipy.integrate")
_optimize = lazy_module("scipy.optimize")


def _tau(owner: str, tau, low: float = -1.0) -> float:
    return validate.real(owner, "tau", tau, low=low, high=1.0, low_open=low == -1.0,
                         high_open=True)


def _correlation(owner: str, rho):
    """rho as a float in (-1, 1), or a correlation matrix as a tuple of tuples (checked: symmetric,
    unit diagonal, positive definite)."""
    if np.ndim(rho) == 0:
        return validate.real(owner, "rho", rho, low=-1.0, high=1.0, low_open=True, high_open=True)
    try:
        matrix = np.array(rho, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{owner}: rho must be a number or a square matrix of numbers, got {rho!r}") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise InputError(f"{owner}: rho must be a number or a square matrix (at least 2 x 2), got shape "
                         f"{matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InputError(f"{owner}: rho must hold finite numbers, got {matrix.tolist()}")
    if not np.array_equal(matrix, matrix.T):
        raise InputError(f"{owner}: the correlation matrix must be symmetric, got {matrix.tolist()}")
    if not np.all(np.diag(matrix) == 1.0):
        raise InputError(f"{owner}: the correlation matrix must have ones on its diagonal, got {np.diag(matrix).tolist()}")
    if np.linalg.eigvalsh(matrix).min() <= 0.0:
        raise InputError(f"{owner}: the correlation matrix must be positive definite, got {matrix.tolist()}")
    return tuple(tuple(float(v) for v in row) for row in matrix)


class _Elliptical:
    """What the Gaussian and Student t copulas share: a correlation, one number or a matrix."""

    rho: object

    @property
    def dimension(self) -> int | None:
        """The matrix's size, or None for one exchangeable rho (any dimension)."""
        return None if isinstance(self.rho, float) else len(self.rho)

    def matrix(self, d: int) -> np.ndarray:
        """The d x d correlation matrix (InputError when it is not valid in d dimensions)."""
        owner = type(self).__name__
        if isinstance(self.rho, float):
            if self.rho < -1.0 / (d - 1):
                raise InputError(f"{owner}: an exchangeable rho of {self.rho!r} is not a correlation in {d} "
                                 f"dimensions; it must be >= -1/(d - 1) = {-1.0 / (d - 1):.6g}")
            matrix = np.full((d, d), self.rho)
            np.fill_diagonal(matrix, 1.0)
            if d > 2 and self.rho <= -1.0 / (d - 1):
                raise InputError(f"{owner}: rho {self.rho!r} is singular in {d} dimensions")
            return matrix
        if len(self.rho) != d:
            raise InputError(f"{owner}: the correlation matrix is {len(self.rho)} x {len(self.rho)} but the "
                             f"dependence joins {d} margins")
        return np.array(self.rho)

    @property
    def kendall_tau(self):
        """Kendall's tau, (2 / pi) arcsin(rho) (every elliptical copula); a matrix for a matrix."""
        return 2.0 / math.pi * np.arcsin(np.asarray(self.rho)) if self.dimension else 2.0 / math.pi * math.asin(self.rho)

    @property
    def is_independent(self) -> bool:
        return False


@dataclass(frozen=True)
class GaussianCopula(_Elliptical):
    """The Gaussian (normal) copula: the dependence of a multivariate normal.

    Parameters
    ----------
    rho : float or square matrix
        One correlation for every pair (exchangeable), in (-1, 1), or a positive definite
        correlation matrix (margins in the order the ``Dependence`` gives them).

    Examples
    --------
    >>> import techins as ti
    >>> round(ti.GaussianCopula.from_tau(0.5).rho, 6)
    0.707107
    """

    rho: object

    def __post_init__(self):
        object.__setattr__(self, "rho", _correlation("GaussianCopula", self.rho))

    @classmethod
    def from_tau(cls, tau: float) -> "GaussianCopula":
        """The copula of Kendall's ``tau``: rho = sin(pi tau / 2)."""
        return cls(math.sin(math.pi * _tau("GaussianCopula", tau) / 2.0))

    @property
    def upper_tail(self) -> float:
        """Upper tail dependence: 0 for any rho < 1."""
        return 0.0

    @property
    def lower_tail(self) -> float:
        """Lower tail dependence: 0 for any rho < 1."""
        return 0.0

    @property
    def is_independent(self) -> bool:
        return self.rho == 0.0 if isinstance(self.rho, float) else bool(np.array_equal(self.matrix(len(self.rho)),
                                                                                         np.eye(len(self.rho))))


@dataclass(frozen=True)
class StudentTCopula(_Elliptical):
    """The Student t copula: the dependence of a multivariate t with ``df`` degrees of freedom;
    both tails dependent, more so as ``df`` falls.

    Parameters
    ----------
    rho : float or square matrix
        As ``GaussianCopula``.
    df : float
        Degrees of freedom, > 0.

    Examples
    --------
    >>> import techins as ti
    >>> round(ti.StudentTCopula(0.5, 4.0).upper_tail, 4)
    0.2532
    """

    rho: object
    df: float

    def __post_init__(self):
        object.__setattr__(self, "rho", _correlation("StudentTCopula", self.rho))
        validate.set_real(self, "StudentTCopula", "df", low=0.0, low_open=True)

    @classmethod
    def from_tau(cls, tau: float, df: float) -> "StudentTCopula":
        """The copula of Kendall's ``tau``: rho = sin(pi tau / 2), whatever ``df``."""
        return cls(math.sin(math.pi * _tau("StudentTCopula", tau) / 2.0), df)

    def _tail(self):
        rho = np.asarray(self.rho)
        x = -np.sqrt((self.df + 1.0) * (1.0 - rho) / (1.0 + rho))
        lam = 2.0 * _stats.t.cdf(x, self.df + 1.0)
        return float(lam) if lam.ndim == 0 else np.where(np.eye(rho.shape[0], dtype=bool), 1.0, lam)

    @property
    def upper_tail(self):
        """Tail dependence, both tails: 2 t_{df+1}(-sqrt((df + 1)(1 - rho) / (1 + rho)))."""
        return self._tail()

    @property
    def lower_tail(self):
        """Equal to ``upper_tail`` (the t copula is radially symmetric)."""
        return self._tail()


class _Archimedean:
    """What the Archimedean copulas share: one parameter ``theta`` in ``[THETA_LOW, THETA_HIGH]``
    (independence at ``THETA_INDEPENDENT``), exchangeable in any dimension, no tail dependence but
    where a family has it."""

    theta: float
    THETA_LOW, THETA_HIGH, THETA_INDEPENDENT = 0.0, math.inf, 0.0

    def __post_init__(self):
        validate.set_real(self, type(self).__name__, "theta", low=self.THETA_LOW, high=self.THETA_HIGH)

    @property
    def dimension(self) -> None:
        return None

    @property
    def lower_tail(self) -> float:
        return 0.0

    @property
    def upper_tail(self) -> float:
        return 0.0

    @property
    def is_independent(self) -> bool:
        return self.theta == self.THETA_INDEPENDENT


@dataclass(frozen=True)
class ClaytonCopula(_Archimedean):
    """The Clayton copula, ``psi(t) = (1 + t)^(-1/theta)``: lower-tail dependence (large joint
    *small* years), none in the upper tail.

    Parameters
    ----------
    theta : float
        >= 0 (0: independence). Sampled as ``V ~ Gamma(1/theta, 1)``.

    Examples
    --------
    >>> import techins as ti
    >>> ti.ClaytonCopula.from_tau(0.5).theta
    2.0
    """

    theta: float

    @classmethod
    def from_tau(cls, tau: float) -> "ClaytonCopula":
        """theta = 2 tau / (1 - tau), tau in [0, 1)."""
        tau = _tau("ClaytonCopula", tau, low=0.0)
        return cls(2.0 * tau / (1.0 - tau))

    @property
    def kendall_tau(self) -> float:
        return self.theta / (self.theta + 2.0)

    @property
    def lower_tail(self) -> float:
        """2^(-1/theta)."""
        return 2.0 ** (-1.0 / self.theta) if self.theta > 0 else 0.0

    def psi(self, t):
        """The generator (Laplace transform of V)."""
        return (1.0 + np.asarray(t)) ** (-1.0 / self.theta)


@dataclass(frozen=True)
class GumbelCopula(_Archimedean):
    """The Gumbel (Gumbel–Hougaard) copula, ``psi(t) = exp(-t^(1/theta))``: upper-tail dependence,
    the one for large losses that come together.

    Parameters
    ----------
    theta : float
        >= 1 (1: independence). Sampled with V positive stable of index 1/theta (Kanter 1975).

    Examples
    --------
    >>> import techins as ti
    >>> ti.GumbelCopula.from_tau(0.5).theta
    2.0
    """

    theta: float
    THETA_LOW = THETA_INDEPENDENT = 1.0

    @classmethod
    def from_tau(cls, tau: float) -> "GumbelCopula":
        """theta = 1 / (1 - tau), tau in [0, 1)."""
        return cls(1.0 / (1.0 - _tau("GumbelCopula", tau, low=0.0)))

    @property
    def kendall_tau(self) -> float:
        return 1.0 - 1.0 / self.theta

    @property
    def upper_tail(self) -> float:
        """2 - 2^(1/theta)."""
        return 2.0 - 2.0 ** (1.0 / self.theta)

    def psi(self, t):
        return np.exp(-np.asarray(t) ** (1.0 / self.theta))


@dataclass(frozen=True)
class FrankCopula(_Archimedean):
    """The Frank copula, ``psi(t) = -log(1 - (1 - e^-theta) e^-t) / theta``: no tail dependence.

    Parameters
    ----------
    theta : float
        >= 0 (0: independence); V is logarithmic with ``p = 1 - e^-theta`` (Kemp 1981).

    Examples
    --------
    >>> import techins as ti
    >>> round(ti.FrankCopula.from_tau(0.5).theta, 4)
    5.7363
    """

    theta: float
    THETA_HIGH = 700.0  # exp(-theta) underflows beyond

    @classmethod
    def from_tau(cls, tau: float) -> "FrankCopula":
        """The theta solving tau = 1 - 4/theta (1 - D1(theta)), D1 the Debye function; tau in [0, 0.99]."""
        tau = validate.real("FrankCopula", "tau", tau, low=0.0, high=0.99)
        if tau == 0.0:
            return cls(0.0)
        return cls(float(_optimize.brentq(lambda th: frank_tau(th) - tau, 1e-9, 700.0, xtol=1e-13, rtol=1e-14)))

    @property
    def kendall_tau(self) -> float:
        return frank_tau(self.theta)

    def psi(self, t):
        return -np.log1p(-(-math.expm1(-self.theta)) * np.exp(-np.asarray(t))) / self.theta


def frank_tau(theta: float) -> float:
    """Kendall's tau of the Frank copula: 1 - 4/theta (1 - D1(theta)), D1(x) = (1/x) int_0^x t/(e^t - 1) dt."""
    if theta == 0.0:
        return 0.0
    integral, _ = _integrate.quad(lambda t: t / math.expm1(t) if t > 0 else 1.0, 0.0, theta, epsabs=1e-14,
                                  epsrel=1e-13, limit=200)
    return 1.0 - 4.0 / theta * (1.0 - integral / theta)


COPULAS = (GaussianCopula, StudentTCopula, ClaytonCopula, GumbelCopula, FrankCopula)


@dataclass(frozen=True)
class Dependence:
    """A copula joining the annual losses of some lines, or of the groups of policies that share a
    value of a column of the policies table (module notes: what it reaches).

    Parameters
    ----------
    copula : GaussianCopula, StudentTCopula, ClaytonCopula, GumbelCopula or FrankCopula
    lines : sequence of str, optional
        The lines it joins (at least two): the margins, in this order (a correlation matrix's order).
    column : str, optional
        In place of ``lines``: a column of the policies table; each of its distinct values (sorted as
        text) is one margin, the policies with that value.

    Examples
    --------
    >>> import techins as ti
    >>> ti.Dependence(ti.GumbelCopula.from_tau(0.4), lines=("cyber", "ip")).lines
    ('cyber', 'ip')
    """

    copula: object
    lines: tuple | None = None
    column: str | None = None

    def __post_init__(self):
        if not isinstance(self.copula, COPULAS):
            raise InputTypeError(f"Dependence: copula must be one of {[c.__name__ for c in COPULAS]}, "
                                 f"got {self.copula!r}")
        if (self.lines is None) == (self.column is None):
            raise InputError("Dependence: give either lines=(...) (the lines it joins) or column='...' (a column of "
                             "the policies table whose values are the margins), not both or neither")
        if self.lines is not None:
            if isinstance(self.lines, str) or not isinstance(self.lines, (tuple, list)):
                raise InputTypeError(f"Dependence: lines must be a list of line names, got {self.lines!r}")
            lines = tuple(str(v) for v in self.lines)
            if len(lines) < 2:
                raise InputError(f"Dependence: lines must name at least two lines, got {list(lines)}")
            repeat = validate.first_duplicate(lines)
            if repeat is not None:
                raise InputError(f"Dependence: line {repeat!r} is named twice in lines")
            object.__setattr__(self, "lines", lines)
            self.check_dimension(len(lines))
        elif not isinstance(self.column, str) or not self.column:
            raise InputTypeError(f"Dependence: column must be a column name, got {self.column!r}")

    def describe(self) -> str:
        """One line for reports, e.g. ``Gumbel copula (theta 1.4286, Kendall's tau 0.3) on lines cyber, ip``."""
        c = self.copula
        name = type(c).__name__.removesuffix("Copula").replace("StudentT", "Student t")
        if isinstance(c, _Elliptical):
            rho = f"rho {c.rho:.4g}" if c.dimension is None else f"a {c.dimension} x {c.dimension} correlation matrix"
            parameter = f"{rho}, df {c.df:.4g}" if isinstance(c, StudentTCopula) else rho
            tau = f", Kendall's tau {c.kendall_tau:.4g}" if c.dimension is None else ""
        else:
            parameter, tau = f"theta {c.theta:.5g}", f", Kendall's tau {c.kendall_tau:.4g}"
        margins = f"lines {', '.join(self.lines)}" if self.lines is not None else f"the values of column {self.column}"
        return f"{name} copula ({parameter}{tau}) on {margins}"

    def check_dimension(self, d: int) -> None:
        """Raise an InputError when the copula does not fit ``d`` margins (a matrix of another size, an
        exchangeable rho below -1/(d - 1))."""
        if isinstance(self.copula, _Elliptical):
            self.copula.matrix(d)


@dataclass(frozen=True)
class GammaFrailty:
    """A shared gamma frailty: one factor ``Z_y ~ Gamma(1/cv^2, cv^2)`` (mean 1, coefficient of
    variation ``cv``) per simulated year multiplying the claim rates of every policy of ``lines``.

    Counts become negative-binomial mixtures and dependent across the policies and lines it joins:
    for policies of expected counts m1 and m2, ``Var N1 = m1 + cv^2 m1^2`` and ``Cov(N1, N2) = cv^2
    m1 m2``. Being on counts, every consumer sees it: occurrence and per-risk XL, reinstatements,
    occurrence tables, quotes. A line's own ``parameter_risk`` factor multiplies on top.

    Parameters
    ----------
    cv : float
        In (0, 10].
    lines : sequence of str
        The lines that share the factor (one or more; a line belongs to at most one frailty).

    Examples
    --------
    >>> import techins as ti
    >>> ti.GammaFrailty(0.3, lines=("cyber", "ip")).variance
    0.09
    """

    cv: float
    lines: tuple = ()

    def __post_init__(self):
        validate.set_real(self, "GammaFrailty", "cv", low=0.0, high=10.0, low_open=True)
        if isinstance(self.lines, str) or not isinstance(self.lines, (tuple, list)) or not self.lines:
            raise InputError(f"GammaFrailty: lines must be a non-empty list of line names, got {self.lines!r}")
        lines = tuple(str(v) for v in self.lines)
        repeat = validate.first_duplicate(lines)
        if repeat is not None:
            raise InputError(f"GammaFrailty: line {repeat!r} is named twice in lines")
        object.__setattr__(self, "lines", lines)

    def describe(self) -> str:
        """One line for reports, e.g. ``gamma frailty (cv 0.25) on the claim counts of lines low_altitude``."""
        return f"gamma frailty (cv {self.cv:.4g}) on the claim counts of lines {', '.join(self.lines)}"

    @classmethod
    def from_variance(cls, variance: float, lines) -> "GammaFrailty":
        """The frailty of factor variance ``variance`` (= cv^2)."""
        return cls(math.sqrt(validate.real("GammaFrailty", "variance", variance, low=0.0, high=100.0,
                                           low_open=True)), lines)

    @property
    def variance(self) -> float:
        return round(self.cv * self.cv, 15)


FAMILIES = {"gaussian": GaussianCopula, "t": StudentTCopula, "clayton": ClaytonCopula, "gumbel": GumbelCopula,
            "frank": FrankCopula}
_PARAMETER = {"gaussian": "rho", "t": "rho", "clayton": "theta", "gumbel": "theta", "frank": "theta"}


def read_dependence(path) -> tuple:
    """Read the dependence between lines from a TOML file (``docs/user-guide.md``, Dependence).

    The file holds at most one ``[copula]`` table and any number of ``[[frailty]]`` tables::

        [copula]
        family = "gumbel"          # gaussian, t, clayton, gumbel or frank
        tau = 0.3                  # Kendall's tau, or the family's parameter: rho (gaussian, t) or theta
        lines = ["cyber", "ip"]    # the margins; or column = "region"

        [[frailty]]
        cv = 0.25
        lines = ["low_altitude"]

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tuple
        The ``Dependence`` (first, when there is one) and the ``GammaFrailty`` specs, as
        ``Portfolio(dependence=...)``, ``simulate`` and ``price_catalogue`` take them.

    Raises
    ------
    InputError, InputTypeError
        Naming the file, the table and the field.
    """
    return dependence_from_mapping(load_toml(path), str(path))


def dependence_from_mapping(data: dict, source: str = "dependence", *, within: str = "") -> tuple:
    """``read_dependence`` of a mapping shaped like the file; ``source`` names it in messages, and
    ``within`` the table holding it in a larger file (``"dependence"`` in a pool file: its tables are
    then ``[dependence.copula]`` and ``[[dependence.frailty]]``)."""
    top = Where(source, f"[{within}]" if within else "")
    prefix = f"{within}." if within else ""
    data = table(data, top)
    only_keys(data, ("copula", "frailty"), top)
    if not data:
        raise InputError(top.message(f"holds no dependence; write a [{prefix}copula] table or [[{prefix}frailty]] "
                                     f"tables"))
    specs = []
    if "copula" in data:
        specs.append(_dependence_from_table(data["copula"], Where(source, f"[{prefix}copula]")))
    for k, item in enumerate(array_of_tables(data, "frailty", top)):
        specs.append(_frailty_from_table(item, Where(source).item(f"{prefix}frailty", k)))
    return tuple(specs)


def _dependence_from_table(value, where: Where) -> Dependence:
    spec = table(value, where)
    require_keys(spec, ("family",), where, hint=f"one of {sorted(FAMILIES)}")
    family = spec["family"]
    if family not in FAMILIES:
        raise InputError(where.message(f"family {family!r} is unknown; use one of {sorted(FAMILIES)}"))
    parameter = _PARAMETER[family]
    only_keys(spec, {"family", "tau", parameter, "lines", "column"} | ({"df"} if family == "t" else set()), where)
    given = [k for k in ("tau", parameter) if k in spec]
    if len(given) != 1:
        raise InputError(where.message(f"give either tau (Kendall's tau) or {parameter} (the {family} copula's "
                                       f"parameter), {'not both' if given else 'one of them'}"))
    if family == "t":
        require_keys(spec, ("df",), where, hint="the t copula's degrees of freedom, > 0")
    lines = spec.get("lines")
    if lines is not None and not isinstance(lines, list):
        raise InputTypeError(where.message(f"lines must be a list of line names, got {lines!r}"))
    try:
        cls = FAMILIES[family]
        extra = (spec["df"],) if family == "t" else ()
        copula = cls.from_tau(spec["tau"], *extra) if "tau" in spec else cls(spec[parameter], *extra)
        return Dependence(copula, lines=tuple(lines) if lines is not None else None, column=spec.get("column"))
    except (InputError, InputTypeError) as exc:
        raise type(exc)(where.message(str(exc))) from None


def _frailty_from_table(value, where: Where) -> GammaFrailty:
    spec = table(value, where)
    only_keys(spec, ("cv", "lines"), where)
    require_keys(spec, ("cv", "lines"), where)
    if not isinstance(spec["lines"], list):
        raise InputTypeError(where.message(f"lines must be a list of line names, got {spec['lines']!r}"))
    try:
        return GammaFrailty(spec["cv"], tuple(spec["lines"]))
    except (InputError, InputTypeError) as exc:
        raise type(exc)(where.message(str(exc))) from None
