"""A synthetic back-testing history with a known truth: some lines priced right, some not.

To see what a back-test detects when the answer is known (the tests, the benchmark of 1M policies
and the shipped example use it). Each line has a true claim rate per exposure and a lognormal
severity; the priced rate is the true one times the line's ``pricing_error`` (below 1: under-priced,
the line loses money). Claims are drawn per policy (vectorised), recorded above the line's
deductible as the insurer's amount, capped at its limit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

EXPENSE_RATIO = 0.30
TARGET_LOSS_RATIO = 0.62


__all__ = ["synthetic_history"]


def synthetic_history(n_policies: int = 20_000, n_lines: int = 4, n_periods: int = 6, seed: int = 0,
                      pricing_error=None, first_period: int = 2015, line_names=None) -> dict:
    """A history drawn from a known truth.

    Parameters
    ----------
    n_policies, n_lines, n_periods : int
    seed : int
    pricing_error : array_like, optional
        Per line, priced claim rate / true claim rate (1: priced right).
    first_period : int
    line_names : list of str, optional

    Returns
    -------
    dict
        Tables ``policies``, ``claims``, ``expenses``, ``forecasts`` (the ``docs/backtest.md``
        schemas; the forecasts are the priced compound Poisson's annual loss per line and period,
        as a lognormal with its mean and variance) and ``truth`` (per line: true and priced rate,
        severity, deductible, limit).
    """
    rng = np.random.default_rng(seed)
    lines = list(line_names) if line_names is not None else [f"line_{k:02d}" for k in range(n_lines)]
    n_lines = len(lines)
    error = np.ones(n_lines) if pricing_error is None else np.asarray(pricing_error, dtype=float)
    rate = rng.uniform(0.05, 0.25, n_lines)           # true claims per exposure unit
    mu, sigma = rng.uniform(9.0, 11.0, n_lines), rng.uniform(0.8, 1.4, n_lines)
    deductible = np.round(np.exp(mu) * 0.05, -2)
    limit = np.round(np.exp(mu + 2.5 * sigma), -3)
    line = rng.integers(0, n_lines, n_policies)
    period = first_period + rng.integers(0, n_periods, n_policies)
    exposure = rng.uniform(0.5, 3.0, n_policies)
    # expected insurer's amount per ground-up claim: E[min(X, d + l)] - E[min(X, d)]
    law = [stats.lognorm(s=sigma[k], scale=np.exp(mu[k])) for k in range(n_lines)]
    layer = np.array([_lev(law[k], deductible[k] + limit[k]) - _lev(law[k], deductible[k]) for k in range(n_lines)])
    priced_rate = rate * error
    expected_loss = exposure * priced_rate[line] * layer[line]
    premium = expected_loss / TARGET_LOSS_RATIO
    above = np.array([law[k].sf(deductible[k]) for k in range(n_lines)])
    policies = pd.DataFrame({
        "policy_id": [f"P{i:07d}" for i in range(n_policies)], "line": np.array(lines, dtype=object)[line],
        "period": period, "exposure": exposure, "earned_premium": premium, "expected_loss": expected_loss,
        "expected_claims": exposure * priced_rate[line] * above[line],
        "deductible": deductible[line], "limit": limit[line],
    })
    counts = rng.poisson(exposure * rate[line] * above[line])
    owner = np.repeat(np.arange(n_policies), counts)
    k = line[owner]
    # ground-up amounts above the deductible by inversion of the conditional law
    u = rng.uniform(size=owner.size)
    cdf_d = np.array([law[j].cdf(deductible[j]) for j in range(n_lines)])[k]
    ground_up = np.exp(mu[k] + sigma[k] * stats.norm.ppf(cdf_d + u * (1.0 - cdf_d)))
    incurred = np.minimum(ground_up - deductible[k], limit[k])
    claims = pd.DataFrame({
        "claim_id": [f"C{i:07d}" for i in range(owner.size)], "policy_id": policies["policy_id"].to_numpy()[owner],
        "accident_period": period[owner], "paid": incurred * rng.uniform(0.3, 1.0, owner.size),
        "incurred": incurred, "expenses": 0.05 * incurred,
    })
    ep = policies.groupby(["line", "period"])["earned_premium"].sum().reset_index()
    expenses = ep.assign(plan=EXPENSE_RATIO * ep["earned_premium"],
                         expenses=EXPENSE_RATIO * ep["earned_premium"] * rng.uniform(0.9, 1.1, len(ep)))
    expenses = expenses[["line", "period", "expenses", "plan"]]
    forecasts = _forecasts(policies, law, deductible, limit, lines)
    truth = pd.DataFrame({"line": lines, "rate": rate, "priced_rate": priced_rate, "mu": mu, "sigma": sigma,
                          "deductible": deductible, "limit": limit, "pricing_error": error})
    return {"policies": policies, "claims": claims, "expenses": expenses, "forecasts": forecasts, "truth": truth}


def _lev(law, x: float) -> float:
    """E[min(X, x)] of a scipy lognormal."""
    return float(law.expect(lambda t: t, ub=x) + x * law.sf(x))


FORECAST_PROBABILITIES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995)


def _forecasts(policies: pd.DataFrame, law, deductible, limit, lines) -> pd.DataFrame:
    """Per line and period, the priced aggregate loss: compound Poisson with the priced claim count
    and the layer's severity, ``Var = E[N] E[Y^2]``, as the lognormal with that mean and variance."""
    second = {}
    for k, name in enumerate(lines):
        d, u = deductible[k], deductible[k] + limit[k]
        # E[Y^2 | X > d] of the insurer's amount Y = min(X - d, l): the body up to d + l, then l^2 above
        body = law[k].expect(lambda x: (x - d) ** 2, lb=d, ub=u)
        second[name] = float((body + limit[k] ** 2 * law[k].sf(u)) / law[k].sf(d))
    grouped = policies.groupby(["line", "period"]).agg(mean=("expected_loss", "sum"),
                                                       claims=("expected_claims", "sum")).reset_index()
    variance = grouped["claims"] * grouped["line"].map(second)
    sigma2 = np.log1p(variance / grouped["mean"] ** 2)
    mu = np.log(grouped["mean"]) - sigma2 / 2
    out = grouped[["line", "period"]].copy()
    for p in FORECAST_PROBABILITIES:
        out[f"q{p}"] = np.exp(mu + np.sqrt(sigma2) * stats.norm.ppf(p))
    return out
