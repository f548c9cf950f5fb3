"""A line's experience against its pricing: the per-period and per-line tables of a back-test.

Data flow: ``History`` -> per (line, period) sums -> ultimate losses (chain ladder on the line's
triangle, where given) -> ratios, actual vs expected with exact intervals, the period's place in
its priced predictive distribution (PIT, VaR exceedance, CRPS) -> per line: the loss-making test,
trend, calibration (PIT uniformity, Kupiec, CRPS), the Bühlmann–Straub credibility of its loss
ratio, the indicated rate change (the complement of credibility: present rates adequate),
recalibrated frequency and severity and the re-priced premium, expense control and claims
reasonableness. Formulas and sources: ``docs/backtest.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from techins import validate
from techins.backtest import stats
from techins.backtest.credibility import credibility_against_prior
from techins.backtest.history import History, forecast_probabilities
from techins.backtest.indications import credibility_weighted_rate_change, fit_frequency, fit_severity
from techins.backtest.triangles import Triangle, chain_ladder
from techins.errors import InputError
from techins.io.schema import DEVELOPMENT_COLUMNS, DEVELOPMENT_TEXT_COLUMNS
from techins.progress import report

__all__ = ["BacktestParameters", "Experience", "analyse"]

SEVERITY_FITS = ("lognormal", "gamma", "weibull", "pareto", "exponential")
_GRID = np.concatenate([[0.001, 0.0025], np.linspace(0.005, 0.995, 199), [0.9975, 0.999]])
_MIN_CLAIMS_TO_FIT = 10


@dataclass(frozen=True)
class BacktestParameters:
    """The assumptions of a back-test (the ``[parameters]`` table of its configuration).

    Parameters
    ----------
    level : float
        Level of the intervals (actual vs expected, predictive intervals).
    var_level : float
        The VaR level used in pricing: Kupiec's test counts the periods above it.
    flag_level : float
        Significance of the one-sided test that a line's losses exceed break-even beyond chance.
    tail_factor : float
        Chain-ladder tail factor beyond the triangles' last age.
    predictive_cv : float
        Coefficient of variation of the lognormal predictive distribution of a period's loss when
        no forecast quantiles are given.
    fixed_expense_ratio, variable_expense_ratio, profit : float
        The provisions ``F``, ``V`` and ``Q`` of the indicated rate change (loss-ratio method) and
        the re-priced premium; also the expense ratio assumed where no expenses table is given.
        ``F + V + Q < 1``: the permissible loss ratio ``1 - V - Q - F`` must be positive.
    severity_law : str
        The law refitted to each line's claims by maximum likelihood.
    expense_tolerance : float
        Expenses more than ``1 + expense_tolerance`` times plan are flagged.
    near_limit : float
        A claim at or above this share of its policy's limit is "near the limit".
    severity_quantile : float
        Claims above the model severity's quantile at this level are counted against expectation.
    severity : dict
        Per line, the priced severity law (a techins ``SeverityLaw``), for claims reasonableness.
    """

    level: float = 0.95
    var_level: float = 0.99
    flag_level: float = 0.05
    tail_factor: float = 1.0
    predictive_cv: float = 0.3
    fixed_expense_ratio: float = 0.05
    variable_expense_ratio: float = 0.25
    profit: float = 0.05
    severity_law: str = "lognormal"
    expense_tolerance: float = 0.05
    near_limit: float = 0.95
    severity_quantile: float = 0.995
    severity: dict = field(default_factory=dict)

    def __post_init__(self):
        owner = "[parameters]"
        for name in ("level", "var_level", "flag_level", "severity_quantile", "near_limit"):
            validate.set_real(self, owner, name, low=0.0, low_open=True, high=1.0, high_open=name != "near_limit")
        validate.set_real(self, owner, "tail_factor", low=1.0)
        validate.set_real(self, owner, "predictive_cv", low=0.0, low_open=True)
        for name in ("fixed_expense_ratio", "variable_expense_ratio", "expense_tolerance"):
            validate.set_real(self, owner, name, low=0.0)
        validate.set_real(self, owner, "profit", low=-1.0, high=1.0)
        if self.variable_expense_ratio + self.profit >= 1.0:
            raise InputError(f"{owner}: variable_expense_ratio + profit must be below 1, got "
                             f"{self.variable_expense_ratio + self.profit!r}")
        if self.permissible_loss_ratio <= 0.0:
            raise InputError(f"{owner}: fixed_expense_ratio + variable_expense_ratio + profit must be below 1 "
                             f"(the permissible loss ratio 1 - V - Q - F must be positive), got "
                             f"{self.fixed_expense_ratio!r} + {self.variable_expense_ratio!r} + {self.profit!r}")
        if self.severity_law not in SEVERITY_FITS:
            raise InputError(f"{owner}: severity_law {self.severity_law!r} is unknown; use one of {list(SEVERITY_FITS)}")

    @property
    def permissible_loss_ratio(self) -> float:
        """``1 - V - Q - F``: the loss ratio at which present rates are exactly adequate."""
        return 1.0 - self.variable_expense_ratio - self.profit - self.fixed_expense_ratio

    def record(self) -> dict:
        """The parameters as plain values (for the run store)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "severity"}
        out["severity"] = {line: repr(law) for line, law in sorted(self.severity.items())}
        return out


@dataclass(frozen=True, eq=False)
class Experience:
    """The result tables of a back-test (``analyse``).

    Attributes
    ----------
    periods : pandas.DataFrame
        One row per line and period.
    lines : pandas.DataFrame
        One row per line: totals, the loss-making test, trend, calibration, credibility, indication,
        recalibration, expense control, claims reasonableness.
    development : pandas.DataFrame
        Chain-ladder projection of each line's triangle (empty without triangles).
    calibration : pandas.DataFrame
        All lines' periods together: PIT uniformity, Kupiec, mean CRPS, interval coverage.
    """

    periods: pd.DataFrame
    lines: pd.DataFrame
    development: pd.DataFrame
    calibration: pd.DataFrame

    def tables(self) -> dict:
        return {"periods": self.periods, "lines": self.lines, "development": self.development,
                "calibration": self.calibration}

    def to_chainladder(self, columns=("ultimate", "reserve", "mack_se")):
        """The ``development`` table's ultimates as a ``chainladder.Triangle``: index ``line``, the
        ``columns``, laid out as chainladder's ``ultimate_`` (needs ``pip install techins[chainladder]``;
        :func:`techins.backtest.chainladder_interop.ultimates_to_chainladder`)."""
        from techins.backtest.chainladder_interop import ultimates_to_chainladder

        return ultimates_to_chainladder(self.development, index="line", columns=columns)


def analyse(history: History, parameters: BacktestParameters | None = None, *, progress=None) -> Experience:
    """Every per-period and per-line figure of a back-test (see the module's docstring).

    ``progress(done, 4)`` after each of its four steps (the periods' table with the lines' chain
    ladders, the predictive figures, the lines' table, the calibration; ``techins.progress``)."""
    p = parameters or BacktestParameters()
    periods, development = _period_table(history, p)
    report(progress, 1, 4)
    periods = _predictive_figures(periods, history, p)
    report(progress, 2, 4)
    lines = _line_table(periods, history, p)
    report(progress, 3, 4)
    calibration = _calibration(periods, p)
    report(progress, 4, 4)
    return Experience(periods=periods, lines=lines, development=development, calibration=calibration)


# ---------------------------------------------------------------------------------------- periods
def _period_table(history: History, p: BacktestParameters) -> tuple[pd.DataFrame, pd.DataFrame]:
    pol = history.policies
    keys = ["line", "period"]
    agg = {"policies": ("policy_id", "size"), "exposure": ("exposure", "sum"),
           "earned_premium": ("earned_premium", "sum"), "expected_loss": ("expected_loss", "sum")}
    if "expected_claims" in pol.columns:
        agg["expected_claims"] = ("expected_claims", "sum")
        if "claims_variance" in pol.columns:
            agg["claims_variance"] = ("claims_variance", "sum")
    table = pol.groupby(keys, sort=True).agg(**agg).reset_index()
    claims = history.claims.rename(columns={"accident_period": "period"})
    reported = claims.assign(counted=claims["incurred"] > 0.0).groupby(keys).agg(
        claims=("counted", "sum"), incurred=("incurred", "sum"), paid=("paid", "sum"),
        claim_expenses=("expenses", "sum"))
    table = table.merge(reported.reset_index(), on=keys, how="left")
    for column in ("claims", "incurred", "paid", "claim_expenses"):
        table[column] = table[column].fillna(0.0)
    table["claims"] = table["claims"].astype(np.int64)
    table["development_factor"] = 1.0
    development = []
    if history.triangles is not None:
        for line, part in history.triangles.groupby("line", sort=True):
            where = f"{history.sources.get('triangles', 'triangles')} (line {line!r})"
            try:
                ladder = chain_ladder(Triangle.from_long(part, source=where), tail=p.tail_factor)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            dev = ladder.table().assign(line=line)
            development.append(dev)
            cdf = dict(zip(dev["origin"], dev["cdf"]))
            rows = table["line"] == line
            table.loc[rows, "development_factor"] = table.loc[rows, "period"].map(cdf).fillna(1.0).to_numpy()
    table["ultimate_loss"] = table["incurred"] * table["development_factor"]
    if history.expenses is not None:
        table = table.merge(history.expenses, on=keys, how="left")
        spent = table["expenses"].to_numpy(dtype=float)
        planned_rate = np.nan
    else:
        table["expenses"] = np.nan
        table["plan"] = np.nan
        spent = np.full(len(table), np.nan)
        planned_rate = p.fixed_expense_ratio + p.variable_expense_ratio
    premium = table["earned_premium"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["loss_ratio"] = table["ultimate_loss"] / premium
        table["expected_loss_ratio"] = table["expected_loss"] / premium
        other = np.where(np.isnan(spent), planned_rate * premium, spent)
        table["expense_ratio"] = (other + table["claim_expenses"]) / premium
        table["expense_vs_plan"] = table["expenses"] / table["plan"]
    table["combined_ratio"] = table["loss_ratio"] + table["expense_ratio"]
    table["breakeven_loss"] = premium - other - table["claim_expenses"].to_numpy()
    development = pd.concat(development, ignore_index=True)[list(DEVELOPMENT_COLUMNS)] if development else \
        pd.DataFrame({c: pd.Series(dtype=object if c in DEVELOPMENT_TEXT_COLUMNS else float)
                      for c in DEVELOPMENT_COLUMNS})
    return table, development


def _predictive_figures(table: pd.DataFrame, history: History, p: BacktestParameters) -> pd.DataFrame:
    """Actual vs expected counts and amounts; the period's PIT, VaR exceedance and CRPS under its
    predictive distribution (forecast quantiles, else the lognormal with the priced mean)."""
    table = table.copy()
    n = len(table)
    if "expected_claims" in table.columns:
        expected = table["expected_claims"].to_numpy(dtype=float)
        has = expected > 0
        variance = table["claims_variance"].to_numpy(dtype=float) if "claims_variance" in table.columns else None
        ratio, low, high = (np.full(n, np.nan) for _ in range(3))
        p_high, p_low = np.full(n, np.nan), np.full(n, np.nan)
        if has.any():
            ave = stats.actual_vs_expected(table["claims"].to_numpy()[has], expected[has], p.level)
            ratio[has], low[has], high[has] = ave.ratio, ave.lower, ave.upper
            var = None if variance is None else variance[has]
            p_high[has], p_low[has] = stats.count_tail_probability(table["claims"].to_numpy()[has], expected[has], var)
        table["ave_claims"], table["ave_claims_low"], table["ave_claims_high"] = ratio, low, high
        table["claims_p_at_least"], table["claims_p_at_most"] = p_high, p_low
    with np.errstate(invalid="ignore", divide="ignore"):
        table["ave_loss"] = table["ultimate_loss"] / table["expected_loss"]
    laws, source = _predictive_laws(table, history, p)
    table["predictive"] = source
    actual = table["ultimate_loss"].to_numpy(dtype=float)
    half = (1.0 - p.level) / 2.0
    figures = np.full((n, 6), np.nan)
    for i, law in enumerate(laws):  # one row per line and period, not per event or year
        if law is None:
            continue
        probs, q = law
        figures[i] = (stats.pit_from_quantiles(actual[i], probs, q), np.interp(half, probs, q),
                      np.interp(1.0 - half, probs, q), np.interp(p.var_level, probs, q),
                      stats.crps_from_quantiles(actual[i], probs, q), _grid_sd(probs, q))
    for j, name in enumerate(("pit", "loss_low", "loss_high", "var", "crps", "predictive_sd")):
        table[name] = figures[:, j]
    lognormal = source == "lognormal"
    table.loc[lognormal, "predictive_sd"] = p.predictive_cv * table.loc[lognormal, "expected_loss"]
    table["exceeds_var"] = actual > table["var"].to_numpy(dtype=float)
    table["within_interval"] = (actual >= table["loss_low"]) & (actual <= table["loss_high"])
    return table


def _predictive_laws(table: pd.DataFrame, history: History, p: BacktestParameters):
    """Per row, its predictive distribution as (probabilities, quantiles) and where it comes from:
    the forecast's quantiles, else the lognormal with the priced mean and ``predictive_cv``
    (``None`` for a period priced at no expected loss)."""
    mean = table["expected_loss"].to_numpy(dtype=float)
    sigma = math.sqrt(math.log1p(p.predictive_cv ** 2))
    z = sps.norm.ppf(_GRID)
    laws = [(_GRID, np.exp(math.log(m) - 0.5 * sigma ** 2 + sigma * z)) if m > 0 else None for m in mean]
    source = np.array(["lognormal" if m > 0 else "none" for m in mean], dtype=object)
    if history.forecasts is not None:
        probs, columns = forecast_probabilities(history.forecasts)
        merged = table[["line", "period"]].merge(history.forecasts, on=["line", "period"], how="left")
        values = merged[columns].to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isnan(values[:, 0])):
            laws[i] = (probs, values[i])
            source[i] = "forecast"
    if p.var_level < _GRID[0] or p.var_level > _GRID[-1]:
        raise InputError(f"[parameters]: var_level {p.var_level!r} is outside the predictive grids "
                         f"({_GRID[0]}..{_GRID[-1]})")
    return laws, source


def _grid_sd(probs: np.ndarray, q: np.ndarray) -> float:
    """Standard deviation of the piecewise-linear distribution between the quantiles (it ignores the
    tails beyond the grid, so it errs low; the lognormal rows are replaced by their exact value)."""
    dp = np.diff(probs)
    lo, hi = q[:-1], q[1:]
    m1 = np.sum(dp * (lo + hi) / 2) / np.sum(dp)
    m2 = np.sum(dp * (lo * lo + lo * hi + hi * hi) / 3) / np.sum(dp)
    return math.sqrt(max(m2 - m1 * m1, 0.0))


# ---------------------------------------------------------------------------------------- lines
def _line_table(periods: pd.DataFrame, history: History, p: BacktestParameters) -> pd.DataFrame:
    rows = []
    lines = sorted(periods["line"].unique())
    credibility = _credibility(periods, lines, p)
    for line in lines:
        part = periods[periods["line"] == line].sort_values("period")
        rows.append({"line": line, **_totals(part), **_loss_making(part, p), **_trend(part),
                     **_line_calibration(part, p), **credibility[line], **_indication(credibility[line], p),
                     **_recalibration(line, part, history, p), **_expense_control(part, p),
                     **_claims_reasonableness(line, history, p)})
    return pd.DataFrame(rows)


def _totals(part: pd.DataFrame) -> dict:
    premium = float(part["earned_premium"].sum())
    ultimate = float(part["ultimate_loss"].sum())
    out = {"periods": int(len(part)), "first_period": int(part["period"].min()), "last_period": int(part["period"].max()),
           "earned_premium": premium, "expected_loss": float(part["expected_loss"].sum()), "ultimate_loss": ultimate,
           "incurred": float(part["incurred"].sum()), "claims": int(part["claims"].sum())}
    out["loss_ratio"] = ultimate / premium if premium > 0 else math.nan
    out["expected_loss_ratio"] = out["expected_loss"] / premium if premium > 0 else math.nan
    out["expense_ratio"] = float((part["expense_ratio"] * part["earned_premium"]).sum() / premium) if premium > 0 \
        else math.nan
    out["combined_ratio"] = out["loss_ratio"] + out["expense_ratio"]
    if "expected_claims" in part.columns:
        out["expected_claims"] = float(part["expected_claims"].sum())
    return out


def _loss_making(part: pd.DataFrame, p: BacktestParameters) -> dict:
    """One-sided test that the line's losses exceed break-even beyond chance:
    ``z = sum_t (U_t - B_t) / sqrt(sum_t sd_t^2)`` with ``B_t`` the loss at which the period's
    combined ratio is 100% and ``sd_t`` the priced predictive standard deviation."""
    excess = float((part["ultimate_loss"] - part["breakeven_loss"]).sum())
    sd = math.sqrt(float((part["predictive_sd"] ** 2).sum()))
    z = excess / sd if sd > 0 else (math.inf if excess > 0 else -math.inf if excess < 0 else 0.0)
    pvalue = float(sps.norm.sf(z))
    return {"excess_over_breakeven": excess, "loss_making_z": z, "loss_making_pvalue": pvalue,
            "loss_making": bool(pvalue < p.flag_level and excess > 0)}


def _trend(part: pd.DataFrame) -> dict:
    """Least-squares slope of the combined ratio on the period, its standard error and p-value."""
    x = part["period"].to_numpy(dtype=float)
    y = part["combined_ratio"].to_numpy(dtype=float)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0:
        return {"combined_ratio_trend": math.nan, "trend_stderr": math.nan, "trend_pvalue": math.nan}
    fit = sps.linregress(x, y)
    return {"combined_ratio_trend": float(fit.slope), "trend_stderr": float(fit.stderr),
            "trend_pvalue": float(fit.pvalue)}


def _line_calibration(part: pd.DataFrame, p: BacktestParameters) -> dict:
    pit = part["pit"].to_numpy(dtype=float)
    pit = pit[np.isfinite(pit)]
    out = {"pit_ks_pvalue": math.nan, "var_exceedances": int(part["exceeds_var"].sum()),
           "kupiec_pvalue": math.nan, "kupiec_rejected": False, "crps_mean": float(part["crps"].mean())}
    if pit.size >= 2:
        out["pit_ks_pvalue"] = stats.pit_uniformity(pit).ks_pvalue
    if pit.size >= 1:
        k = stats.kupiec_pof(out["var_exceedances"], int(pit.size), 1.0 - p.var_level)
        out["kupiec_pvalue"], out["kupiec_rejected"] = k.p_value, bool(k.rejected)
    return out


def _credibility(periods: pd.DataFrame, lines: list, p: BacktestParameters) -> dict:
    """Bühlmann–Straub over the lines' period loss ratios (weights: earned premium); the complement
    of credibility is the permissible loss ratio (present rates adequate, see ``_indication``);
    ``Z = 0`` when the structure cannot be estimated."""
    wide_lr = periods.pivot(index="line", columns="period", values="loss_ratio").reindex(lines)
    wide_w = periods.pivot(index="line", columns="period", values="earned_premium").reindex(lines).fillna(0.0)
    ratios = wide_lr.to_numpy(dtype=float, copy=True)
    weights = wide_w.to_numpy(dtype=float, copy=True)
    weights[~np.isfinite(ratios)] = 0.0
    ratios = np.where(weights > 0, ratios, np.nan)
    priced = np.array([float(periods.loc[periods["line"] == l, "expected_loss"].sum()
                             / max(periods.loc[periods["line"] == l, "earned_premium"].sum(), 1e-300)) for l in lines])
    experience = np.array([np.nansum(ratios[i] * weights[i]) / weights[i].sum() if weights[i].sum() > 0 else np.nan
                           for i in range(len(lines))])
    complement = np.full(len(lines), p.permissible_loss_ratio)
    try:
        fit = credibility_against_prior(ratios, weights, complement)
        z, estimate, note = fit.factors, fit.estimates, "Bühlmann–Straub"
    except InputError as exc:
        z, estimate, note = np.zeros(len(lines)), complement, f"not estimable: {exc}"
    return {line: {"experience_loss_ratio": float(experience[i]), "priced_loss_ratio": float(priced[i]),
                   "permissible_loss_ratio": p.permissible_loss_ratio, "complement_loss_ratio": float(complement[i]),
                   "credibility": float(z[i]), "credibility_loss_ratio": float(estimate[i]),
                   "credibility_method": note} for i, line in enumerate(lines)}


def _indication(cred: dict, p: BacktestParameters) -> dict:
    """Werner & Modlin's loss-ratio indication of the experience, credibility-weighted with the
    complement "present rates are adequate" (indicated change 0): ``Z ((LR + F) / (1 - V - Q) - 1)``,
    i.e. ``(LR_cred + F) / (1 - V - Q) - 1`` with ``LR_cred`` blended with the permissible loss ratio.
    Not the priced loss ratio: against the provisions' permissible loss ratio it would impute a prior
    indication ``(LR_priced + F) / (1 - V - Q) - 1`` that no review made (docs/backtest.md)."""
    z, lr = cred["credibility"], cred["experience_loss_ratio"]
    if z == 0.0:
        lr = 0.0  # no credible experience (or none at all): the complement alone, whatever lr is
    if not math.isfinite(lr):
        return {"indicated_rate_change": math.nan}
    return {"indicated_rate_change": credibility_weighted_rate_change(lr, z, p.fixed_expense_ratio,
                                                                      p.variable_expense_ratio, p.profit)}


def _recalibration(line: str, part: pd.DataFrame, history: History, p: BacktestParameters) -> dict:
    """Frequency by Poisson maximum likelihood on the periods' claim counts and exposures; severity
    by maximum likelihood on the line's claim amounts (ground-up = incurred + deductible, truncated
    at the deductible and censored at the limit when the line's policies share them); the re-priced
    expected loss on the latest period's exposure and its premium by the loss-ratio formula."""
    out = {"fitted_claim_rate": math.nan, "fitted_claim_rate_stderr": math.nan, "fitted_severity": "",
           "severity_parameters": "{}", "severity_stderrs": "{}", "severity_fit_note": "", "repriced_expected_loss": math.nan, "repriced_premium": math.nan,
           "current_premium": float(part["earned_premium"].iloc[-1]), "repriced_change": math.nan}
    if "expected_claims" not in part.columns:
        out["severity_fit_note"] = "no claim counts priced (expected_claims): nothing to recalibrate"
        return out
    counts = part["claims"].to_numpy()
    exposure = part["exposure"].to_numpy(dtype=float)
    freq = fit_frequency(counts, exposure, "poisson")
    out["fitted_claim_rate"], out["fitted_claim_rate_stderr"] = freq.rate, freq.rate_se
    claims = history.claims[(history.claims["line"] == line) & (history.claims["incurred"] > 0)]
    if len(claims) < _MIN_CLAIMS_TO_FIT:
        out["severity_fit_note"] = f"{len(claims)} claims: too few to fit (at least {_MIN_CLAIMS_TO_FIT})"
        return out
    policies = history.policies[history.policies["line"] == line]
    deductible = _common(policies, "deductible", 0.0)
    limit = _common(policies, "limit", math.inf)
    notes = []
    if deductible is None:
        deductible, notes = 0.0, notes + ["deductibles differ: no truncation"]
    if limit is None:
        limit, notes = math.inf, notes + ["limits differ: no censoring"]
    amounts = claims["incurred"].to_numpy(dtype=float)
    ground_up = np.minimum(amounts, limit) + deductible
    try:
        fit = fit_severity(ground_up, p.severity_law, deductible=deductible,
                           limit=limit + deductible if math.isfinite(limit) else math.inf)
    except InputError as exc:
        out["severity_fit_note"] = "; ".join(notes + [f"fit failed: {exc}"])
        return out
    law = fit.law
    out["fitted_severity"] = repr(law)
    out["severity_parameters"] = json.dumps(dict(fit.parameters))
    out["severity_stderrs"] = json.dumps(dict(fit.std_errors))
    layer = float(law.lev(deductible + limit) - law.lev(deductible)) if math.isfinite(limit) \
        else float(law.mean() - law.lev(deductible))
    # the fitted rate counts claims above the deductible: per ground-up claim it is rate / S(d)
    expected = freq.rate * exposure[-1] * layer / float(law.sf(deductible)) if deductible > 0 \
        else freq.rate * exposure[-1] * layer
    premium = (expected + p.fixed_expense_ratio * out["current_premium"]) / (1.0 - p.variable_expense_ratio - p.profit)
    out.update(repriced_expected_loss=expected, repriced_premium=premium,
               repriced_change=premium / out["current_premium"] - 1.0 if out["current_premium"] > 0 else math.nan,
               severity_fit_note="; ".join(notes))
    return out


def _common(policies: pd.DataFrame, column: str, default: float) -> float | None:
    if column not in policies.columns:
        return default
    values = policies[column].unique()
    return float(values[0]) if values.size == 1 else None


def _expense_control(part: pd.DataFrame, p: BacktestParameters) -> dict:
    spent, plan = part["expenses"].sum(min_count=1), part["plan"].sum(min_count=1)
    ratio = float(spent / plan) if pd.notna(spent) and pd.notna(plan) and plan > 0 else math.nan
    return {"expenses": float(spent) if pd.notna(spent) else math.nan, "expense_plan": float(plan) if pd.notna(plan)
            else math.nan, "expense_vs_plan": ratio,
            "expense_over_plan": bool(math.isfinite(ratio) and ratio > 1.0 + p.expense_tolerance)}


def _claims_reasonableness(line: str, history: History, p: BacktestParameters) -> dict:
    """Claims above the priced severity's high quantile against their expected number (Poisson
    tail probability), claims near their policy's limit, and the drift of the average claim."""
    claims = history.claims[(history.claims["line"] == line) & (history.claims["incurred"] > 0)]
    out = {"claims_above_model_quantile": math.nan, "expected_above_model_quantile": math.nan,
           "above_quantile_pvalue": math.nan, "claims_near_limit": 0, "severity_drift": math.nan,
           "severity_drift_stderr": math.nan, "severity_drift_pvalue": math.nan}
    law = p.severity.get(line)
    policies = history.policies
    row = claims["policy_row"].to_numpy()
    deductible = policies["deductible"].to_numpy(dtype=float)[row] if "deductible" in policies.columns \
        else np.zeros(len(claims))
    limit = policies["limit"].to_numpy(dtype=float)[row] if "limit" in policies.columns \
        else np.full(len(claims), np.inf)
    if law is not None and len(claims):
        # a claim capped at its limit is known only to reach deductible + limit: where that is below
        # the quantile, "above the quantile" is read as "at the limit", and expected accordingly
        threshold = np.minimum(float(law.ppf(p.severity_quantile)), deductible + limit)
        ground_up = np.minimum(claims["incurred"].to_numpy(dtype=float), limit) + deductible
        above = int(np.sum(ground_up >= threshold * (1.0 - 1e-12)))
        survival = np.asarray(law.sf(deductible), dtype=float)
        expected = float(np.sum(np.asarray(law.sf(threshold), dtype=float) / np.where(survival > 0, survival, 1.0)))
        out.update(claims_above_model_quantile=above, expected_above_model_quantile=expected,
                   above_quantile_pvalue=float(stats.count_tail_probability(above, expected)[0]) if expected > 0
                   else math.nan)
    if "limit" in policies.columns and len(claims):
        out["claims_near_limit"] = int(np.sum(claims["incurred"].to_numpy() >= p.near_limit * limit))
    by_period = claims.groupby("accident_period")["incurred"].agg(["mean", "size"])
    if len(by_period) >= 3:
        x = by_period.index.to_numpy(dtype=float)
        y = np.log(by_period["mean"].to_numpy(dtype=float))
        w = by_period["size"].to_numpy(dtype=float)
        slope, se = _weighted_slope(x, y, w)
        out.update(severity_drift=slope, severity_drift_stderr=se,
                   severity_drift_pvalue=float(2 * sps.t.sf(abs(slope / se), x.size - 2)) if se > 0 else math.nan)
    return out


def _weighted_slope(x, y, w) -> tuple[float, float]:
    """Weighted least-squares slope of y on x and its standard error (weights: claim counts)."""
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    resid = y - ym - slope * (x - xm)
    s2 = float(np.sum(w * resid ** 2) / (x.size - 2))
    return slope, math.sqrt(s2 / sxx)


def _calibration(periods: pd.DataFrame, p: BacktestParameters) -> pd.DataFrame:
    pit = periods["pit"].to_numpy(dtype=float)
    pit = pit[np.isfinite(pit)]
    row = {"periods": int(pit.size), "pit_ks_statistic": math.nan, "pit_ks_pvalue": math.nan,
           "pit_chi2_pvalue": math.nan, "var_level": p.var_level, "var_exceedances": int(periods["exceeds_var"].sum()),
           "expected_exceedances": (1.0 - p.var_level) * pit.size, "kupiec_statistic": math.nan,
           "kupiec_pvalue": math.nan, "kupiec_rejected": False, "crps_mean": float(np.nanmean(periods["crps"]))
           if pit.size else math.nan, "interval_coverage": float(periods["within_interval"].mean()),
           "interval_level": p.level}
    if pit.size >= 2:
        u = stats.pit_uniformity(pit)
        row.update(pit_ks_statistic=u.ks_statistic, pit_ks_pvalue=u.ks_pvalue, pit_chi2_pvalue=u.chi2_pvalue)
    if pit.size >= 1:
        k = stats.kupiec_pof(row["var_exceedances"], int(pit.size), 1.0 - p.var_level)
        row.update(kupiec_statistic=k.statistic, kupiec_pvalue=k.p_value, kupiec_rejected=bool(k.rejected))
    return pd.DataFrame([row])
