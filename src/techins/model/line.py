"""One frequency-severity line with its occurrence and annual aggregate terms."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from techins import validate
from techins.errors import InputTypeError
from techins.model.distributions import FrequencyLaw, SeverityLaw

__all__ = ["Layer", "Line"]


@dataclass(frozen=True)
class Layer:
    """Excess-of-loss terms ``share * min(max(x - deductible, 0), limit)``.

    Used for the occurrence terms on each claim and for the annual aggregate terms on the sum.

    Parameters
    ----------
    limit : float
        Most paid above the deductible, > 0; ``math.inf`` for an unlimited layer.
    deductible : float
        Retention below which nothing is paid, >= 0.
    share : float
        Proportion of the layer taken (co-insurance share), in (0, 1].

    Examples
    --------
    >>> Layer(limit=5e6, deductible=1e6).apply([5e5, 2e6, 9e6]).tolist()
    [0.0, 1000000.0, 5000000.0]
    """

    limit: float = math.inf
    deductible: float = 0.0
    share: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "limit", validate.real("Layer", "limit", self.limit, low=0.0,
                                                         low_open=True, allow_inf=True))
        object.__setattr__(self, "deductible", validate.real("Layer", "deductible", self.deductible,
                                                              low=0.0))
        object.__setattr__(self, "share", validate.real("Layer", "share", self.share, low=0.0,
                                                         high=1.0, low_open=True))

    @property
    def exhaustion_point(self) -> float:
        """Ground-up amount at which the layer is used up: ``deductible + limit``."""
        return self.deductible + self.limit

    @property
    def is_ground_up(self) -> bool:
        """True when the layer changes nothing (no deductible, no limit, full share)."""
        return self.deductible == 0.0 and math.isinf(self.limit) and self.share == 1.0

    def apply(self, x) -> np.ndarray:
        """Return the layered amount for ground-up amounts ``x`` (array-like)."""
        x = np.asarray(x, dtype=np.float64)
        return self.share * np.minimum(np.maximum(x - self.deductible, 0.0), self.limit)


@dataclass(frozen=True)
class Line:
    """A frequency-severity line: claim counts, claim sizes, occurrence and aggregate terms.

    Parameters
    ----------
    frequency : FrequencyLaw
        Law of the annual claim count.
    severity : SeverityLaw
        Law of each claim's ground-up amount.
    occurrence : Layer, optional
        Terms applied to each claim; ground-up when omitted.
    aggregate : Layer, optional
        Terms applied to the annual sum of the occurrence-layered claims.

    Examples
    --------
    >>> import techins as ti
    >>> line = ti.Line(ti.Poisson(5.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6))
    >>> round(line.expected_loss(), 2) > 0
    True
    """

    frequency: FrequencyLaw
    severity: SeverityLaw
    occurrence: Layer | None = None
    aggregate: Layer | None = None

    def __post_init__(self):
        if not isinstance(self.frequency, FrequencyLaw):
            raise InputTypeError(f"Line: frequency must be a frequency law (Poisson, NegativeBinomial, "
                                 f"Binomial), got {self.frequency!r}")
        if not isinstance(self.severity, SeverityLaw):
            raise InputTypeError(f"Line: severity must be a severity law (LogNormal, Gamma, Weibull, "
                                 f"Pareto, Exponential, Empirical, Spliced), got {self.severity!r}")
        for name in ("occurrence", "aggregate"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Layer):
                raise InputTypeError(f"Line: {name} must be a Layer or None, got {value!r}")

    @property
    def occurrence_layer(self) -> Layer:
        """The occurrence terms, ground-up when none were given."""
        return self.occurrence if self.occurrence is not None else Layer()

    @property
    def aggregate_layer(self) -> Layer:
        """The aggregate terms, ground-up when none were given."""
        return self.aggregate if self.aggregate is not None else Layer()

    def layered_severity_moments(self) -> tuple[float, float]:
        """Return ``(E[Y], E[Y^2])`` of one claim after the occurrence terms, in closed form.

        With ``Y = s * min(max(X - d, 0), l)`` and ``u = d + l``:
        ``E[Y] = s (LEV(u) - LEV(d))`` and
        ``E[Y^2] = s^2 (E[min(X,u)^2] - E[min(X,d)^2] - 2 d (LEV(u) - LEV(d)))``.
        """
        layer = self.occurrence_layer
        d, u, s = layer.deductible, layer.exhaustion_point, layer.share
        sev = self.severity
        lev_u = sev.mean() if math.isinf(u) else float(sev.lev(u))
        lev_d = float(sev.lev(d)) if d > 0 else 0.0
        m2_u = sev.moment(2) if math.isinf(u) else float(sev.limited_moment(u, 2))
        m2_d = float(sev.limited_moment(d, 2)) if d > 0 else 0.0
        first = lev_u - lev_d
        if math.isinf(first):
            return math.inf, math.inf
        second = m2_u - m2_d - 2.0 * d * first
        first, second = self._within_bounds(first, second)
        return s * first, s * s * second

    def _within_bounds(self, first: float, second: float) -> tuple[float, float]:
        """Clamp ``E[Z]``, ``E[Z^2]`` of ``Z = min(max(X - d, 0), l)`` into the bounds they obey exactly.

        The closed forms subtract moments of the whole law, so for a layer far in the tail they keep
        only rounding noise (even a negative ``E[Z^2]``). As ``l 1{X >= u} <= Z <= l 1{X > d}``:
        ``l S(u) <= E[Z] <= l S(d)`` and ``max(E[Z]^2, l^2 S(u)) <= E[Z^2] <= l E[Z]``, tight exactly
        where the subtraction fails (``S(u)`` close to ``S(d)``); clamping never moves a value away
        from the true one.
        """
        layer = self.occurrence_layer
        lim = layer.limit
        if math.isinf(lim):
            first = max(first, 0.0)
            return first, max(second, first * first)
        sf_d = float(self.severity.sf(layer.deductible))
        sf_u = float(self.severity.sf(layer.exhaustion_point))
        first = min(max(first, lim * sf_u), lim * sf_d)
        second = min(max(second, first * first, lim * lim * sf_u), lim * first)
        return first, second

    def expected_loss(self) -> float:
        """Closed-form ``E[S] = E[N] E[Y]``; only without aggregate terms (use ``exact`` otherwise)."""
        self._require_no_aggregate("expected_loss")
        ey, _ = self.layered_severity_moments()
        return self.frequency.mean() * ey

    def variance(self) -> float:
        """Closed-form ``Var[S] = E[N] Var[Y] + Var[N] E[Y]^2``; only without aggregate terms."""
        self._require_no_aggregate("variance")
        ey, ey2 = self.layered_severity_moments()
        if math.isinf(ey2):
            return math.inf
        return self.frequency.mean() * (ey2 - ey * ey) + self.frequency.var() * ey * ey

    def _require_no_aggregate(self, what: str) -> None:
        if self.aggregate is not None and not self.aggregate.is_ground_up:
            raise NotImplementedError(f"Line.{what}: no closed form under aggregate terms; "
                                      f"use techins.exact(line) or techins.simulate(line, ...)")
