"""Copula specs: the tau relations and tail dependences against closed forms and SciPy, sampled tau and
tail dependence within standard errors, and the boundary checks."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

import techins as ti
from techins.simulation.dependence import sample_copula

N = 40_000


def test_tau_relations_are_the_closed_forms():
    assert ti.GaussianCopula.from_tau(1 / 3).rho == pytest.approx(math.sin(math.pi / 6))
    assert ti.StudentTCopula.from_tau(0.5, 4.0).rho == pytest.approx(math.sqrt(0.5))
    assert ti.ClaytonCopula.from_tau(0.5).theta == pytest.approx(2.0)
    assert ti.GumbelCopula.from_tau(0.75).theta == pytest.approx(4.0)
    # Frank: tau = 1 - 4/theta (1 - D1(theta)), D1 by SciPy's quadrature independently of frank_tau
    theta = ti.FrankCopula.from_tau(0.3).theta
    d1 = integrate.quad(lambda t: t / np.expm1(t), 0, theta)[0] / theta
    assert 1 - 4 / theta * (1 - d1) == pytest.approx(0.3, abs=1e-10)
    # the tau = 0.5 value, solved independently here with SciPy's root finder on the quadrature
    from scipy import optimize

    def tau_of(th):
        return 1 - 4 / th * (1 - integrate.quad(lambda t: t / np.expm1(t), 0, th)[0] / th)
    assert ti.FrankCopula.from_tau(0.5).theta == pytest.approx(optimize.brentq(lambda th: tau_of(th) - 0.5, 0.1, 50),
                                                               rel=1e-8)


def test_tail_dependence_closed_forms():
    assert ti.ClaytonCopula(2.0).lower_tail == pytest.approx(2 ** -0.5)
    assert ti.GumbelCopula(2.0).upper_tail == pytest.approx(2 - math.sqrt(2))
    t = ti.StudentTCopula(0.5, 4.0)
    assert t.upper_tail == pytest.approx(2 * stats.t.cdf(-math.sqrt(5 * 0.5 / 1.5), 5))
    assert ti.GaussianCopula(0.9).upper_tail == 0.0 and ti.FrankCopula(3.0).lower_tail == 0.0


def _tau_tolerance(tau: float, n: int) -> float:
    # Var(tau_hat) <= 2 (1 - tau^2) / n (Daniels & Kendall 1947): four standard errors
    return 4.0 * math.sqrt(2.0 * (1.0 - tau * tau) / n)


@pytest.mark.parametrize("copula", [ti.GaussianCopula.from_tau(0.4), ti.StudentTCopula.from_tau(0.4, 3.0),
                                    ti.ClaytonCopula.from_tau(0.4), ti.GumbelCopula.from_tau(0.4),
                                    ti.FrankCopula.from_tau(0.4)], ids=lambda c: type(c).__name__)
def test_sampled_tau_and_uniform_margins(copula):
    u = sample_copula(copula, 3, N, seed=7)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert abs(stats.kendalltau(u[:, a], u[:, b])[0] - 0.4) < _tau_tolerance(0.4, N)
    for j in range(3):
        assert stats.kstest(u[:, j], "uniform").pvalue > 1e-3


def _joint_tail(u, q, upper=True):
    """Empirical P(both beyond q) / P(one beyond q), with its binomial standard error."""
    both = ((u[:, 0] > q) & (u[:, 1] > q)) if upper else ((u[:, 0] < 1 - q) & (u[:, 1] < 1 - q))
    p = both.mean() / (1 - q)
    return p, math.sqrt(both.mean() * (1 - both.mean()) / u.shape[0]) / (1 - q)


def test_sampled_tail_dependence_at_a_finite_level():
    """At level q the exact chi(q) = P(V > q | U > q) follows from the copula's closed form; the sample
    must match it within four standard errors, and chi(q) tends to the closed-form limit."""
    n, q = 400_000, 0.995
    c = ti.GumbelCopula(2.0)
    chi = (1 - 2 * q + q ** (2 ** (1 / c.theta))) / (1 - q)  # C(q, q) = q^(2^(1/theta))
    p, se = _joint_tail(sample_copula(c, 2, n, seed=3), q)
    assert abs(p - chi) < 4 * se
    assert abs(chi - c.upper_tail) < 0.01
    c = ti.ClaytonCopula(2.0)
    chi = (2 * (1 - q) ** -c.theta - 1) ** (-1 / c.theta) / (1 - q)
    p, se = _joint_tail(sample_copula(c, 2, n, seed=4), q, upper=False)
    assert abs(p - chi) < 4 * se
    assert abs(chi - c.lower_tail) < 0.01
    c = ti.StudentTCopula(0.5, 4.0)
    x = stats.t.ppf(1 - q, 4.0)
    joint = stats.multivariate_t(loc=[0, 0], shape=[[1, 0.5], [0.5, 1]], df=4.0).cdf([x, x], maxpts=2_000_000,
                                                                                     random_state=0)
    p, se = _joint_tail(sample_copula(c, 2, n, seed=5), q)
    assert abs(p - joint / (1 - q)) < 4 * se + 1e-3
    # the t copula's tail dependence is large and the Gaussian's vanishes: far apart at this level
    p_gauss, _ = _joint_tail(sample_copula(ti.GaussianCopula(0.5), 2, n, seed=6), q)
    assert p - p_gauss > 0.1 and c.upper_tail > 0.25


def test_bad_parameters_name_the_fix():
    with pytest.raises(ti.InputError, match="theta"):
        ti.GumbelCopula(0.5)
    with pytest.raises(ti.InputError, match="positive definite"):
        ti.GaussianCopula([[1.0, 0.99, 0.0], [0.99, 1.0, 0.99], [0.0, 0.99, 1.0]])
    with pytest.raises(ti.InputError, match="-1/"):
        ti.Dependence(ti.GaussianCopula(-0.6), lines=("a", "b", "c"))
    with pytest.raises(ti.InputError, match="3 x 3"):
        ti.Dependence(ti.GaussianCopula(np.eye(3) * 0.5 + 0.5), lines=("a", "b"))
    with pytest.raises(ti.InputError, match="tau"):
        ti.ClaytonCopula.from_tau(-0.2)
    with pytest.raises(ti.InputError, match="either lines"):
        ti.Dependence(ti.ClaytonCopula(1.0))
    with pytest.raises(ti.InputError, match="cv"):
        ti.GammaFrailty(0.0, lines=("a",))
    with pytest.raises(ti.InputTypeError, match="copula"):
        ti.Dependence("gumbel", lines=("a", "b"))
