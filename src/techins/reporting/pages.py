"""The ``report.html`` pages of ``techins price``, ``reinsure`` and ``pool`` (``techins.io.html.HtmlPage``):
the run, the headline figures with their Monte Carlo errors, the tables a reader needs and the plots
embedded, so the page stands alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from techins.io.html import HtmlPage
from techins.reporting.plots import EP_CAPTION, PROGRAMME_EP_CAPTION

__all__ = ["priced_page", "programme_page", "pool_page", "CAPTIONS"]

CAPTIONS = {
    "ep_curves.png": EP_CAPTION,
    "programme_ep.png": PROGRAMME_EP_CAPTION,
    "premium_buildup.png": "Each product's technical premium split into its components (% of it), the premium "
                           "charged after the rate cap (bar) and the part paid by the subsidy (triangle); the "
                           "technical premium in money above each bar.",
    "member_results.png": "Each member's simulated annual result: box from the 25th to the 75th percentile, "
                          "whiskers at the 1st and 99th, the median as a line and the mean as a triangle.",
    "allocation.png": "The capital each member's share takes, by allocation method; with members' own books, "
                      "each book's capital alone and in the pool.",
}


def priced_page(priced, meta: dict, folder: Path, figures: list, compensation=None) -> HtmlPage:
    """The page of a priced portfolio (``techins.catalogue.rating.PricedPortfolio``), with a public
    risk-compensation scheme's figures when ``compensation`` (a ``CompensationResult``) is given."""
    book = priced.book
    cur = meta.get("currency", "")
    page = HtmlPage("Pricing run", currency=cur)
    page.facts([
        ("catalogue", f"{meta.get('catalogue')} ({', '.join(meta.get('products', []))})", "text"),
        ("portfolio", meta.get("portfolio"), "text"),
        ("policies", book["policies"], "count"), ("coverage rows", book["coverage_rows"], "count"),
        ("scenario event streams", book["scenarios"], "count"),
        ("simulated years", book["years"], "count"), ("seed", book["seed"], "label"),
        ("currency", cur or "as in the products", "text"), *_dependence_rows(meta),
    ])
    _reproducible_note(page)
    page.heading("Book")
    page.facts([
        ("expected annual loss", (book["expected_loss"], book["expected_loss_stderr"]), "money"),
        ("standard deviation", book["std"], "money"),
        ("VaR 99.5%", (book["var_99_5"], book["var_99_5_stderr"]), "money"),
        ("TVaR 99%", (book["tvar_99"], book["tvar_99_stderr"]), "money"),
        ("technical premium", book["technical_premium"], "money"),
        ("premium charged (after rate caps)", book["capped_premium"], "money"),
        ("shortfall left by the caps", book["shortfall"], "money"),
        ("paid by public subsidies", book["subsidy"], "money"),
        ("paid by the insureds", book["insured_pays"], "money"),
    ])
    page.heading("Lines")
    page.table(priced.lines, ["line", "policies", "expected_loss", "expected_loss_stderr", "tvar_99",
                              "standalone_capital", "allocated_capital", "diversification_benefit",
                              "technical_premium", "capped_premium", "subsidy"],
               labels={"expected_loss_stderr": "±", "tvar_99": "TVaR 99%", "capped_premium": "charged"})
    page.heading("Products")
    page.table(priced.products, ["product", "line", "policies", "expected_loss", "risk_load", "technical_premium",
                                 "capped_premium", "cap_binding", "subsidy", "insured_pays", "loss_ratio"],
               labels={"capped_premium": "charged", "cap_binding": "policies capped",
                       "loss_ratio": "expected loss ratio"})
    if compensation is not None:
        compensation_section(page, compensation.summary())
    _plots(page, folder, figures)
    page.paragraph("Tables: policies, coverages, lines, products, ep_curves (CSV and Parquet, beside this page); "
                   "run.json holds the book's figures.", note=True)
    return page


def programme_page(result, meta: dict, folder: Path, figures: list, *, load: float = 0.0) -> HtmlPage:
    """The page of a programme applied to a simulated book
    (``techins.reinsurance.programme.ProgrammeResult``): the run, the gross and net figures, each
    treaty's and the plots."""
    cur = meta.get("currency", "")
    page = HtmlPage(f"Reinsurance run: {result.programme.name}", currency=cur)
    page.facts([
        ("programme", meta.get("programme"), "text"), ("catalogue", meta.get("catalogue"), "text"),
        ("portfolio", meta.get("portfolio"), "text"), ("treaties", len(result.programme.treaties), "count"),
        ("simulated years", result.years, "count"), ("seed", meta.get("seed"), "label"),
        ("risk load of the technical price (standard deviations)", load, "number"),
        ("currency", cur or "as in the products", "text"), *_dependence_rows(meta),
    ])
    _reproducible_note(page)
    page.heading("Gross and net")
    page.facts([
        ("expected annual gross loss", _mean_and_stderr(result.gross), "money"),
        ("expected annual ceded loss", _mean_and_stderr(result.gross - result.net), "money"),
        ("expected annual net loss", _mean_and_stderr(result.net), "money"),
    ])
    page.heading("Treaties")
    treaties = result.treaty_table(load=load)
    level = f"{treaties['level'].iloc[0]:.0%}" if len(treaties) else ""
    page.table(treaties, ["treaty", "type", "expected_ceded", "expected_ceded_stderr", "std", "var", "tvar",
                          "prob_loss", "expected_reinstatement_premium", "technical_premium", "rate_on_line"],
               labels={"expected_ceded_stderr": "±", "prob_loss": "P(loss)", "var": f"VaR {level}",
                       "tvar": f"TVaR {level}"})
    _plots(page, folder, figures)
    page.paragraph("Tables: treaties, years, treaty_ep_curves, programme_ep (CSV and Parquet, beside this page); "
                   "run.json holds the treaty figures.", note=True)
    return page


def _dependence_rows(meta: dict) -> list:
    """The run's dependence between lines (``techins.model.dependence``), one fact row per spec."""
    source = f" ({meta['dependence']})" if "dependence" in meta else ""
    return [("dependence", f"{spec}{source}", "text") for spec in meta.get("dependence_specs", [])]


def _reproducible_note(page: HtmlPage) -> None:
    page.paragraph("Re-running with the same inputs, years and seed gives the same numbers. ± is one Monte Carlo "
                   "standard error.", note=True)


def _plots(page: HtmlPage, folder: Path, figures: list) -> None:
    """The plots' section: each PNG of ``figures`` embedded with its caption."""
    page.heading("Plots")
    for name in figures:
        page.figure(Path(folder) / name, name, CAPTIONS.get(name, ""))


def _mean_and_stderr(x) -> tuple:
    """The mean of a sample of years and its standard error (None for one year)."""
    return float(np.mean(x)), (float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else None)


def pool_page(run, meta: dict, folder: Path, figures: list) -> HtmlPage:
    """The page of a pool run (``techins.pool.run.PoolRun``)."""
    p = run.pool
    page = HtmlPage(f"Pool run: {p['pool']}", currency=p.get("currency", ""))
    page.facts([
        ("pool file", meta.get("pool_file"), "text"),
        ("policies", p["policies"], "count"), ("coverage rows", p["coverage_rows"], "count"),
        ("members", p["members"], "count"), ("simulated years", p["years"], "count"), ("seed", p["seed"], "label"),
        ("currency", p.get("currency") or "as in the products", "text"), *_dependence_rows(meta),
    ])
    page.paragraph(f"± is one Monte Carlo standard error. Capital: TVaR {p['level']:.0%} of the annual outcome "
                   f"(losses less income) less its mean.", note=True)
    page.heading("The pool")
    page.facts([
        ("gross premium", p["premium"], "money"), ("lead and fronting fees", p["fees"], "money"),
        ("administration expenses", p["admin_expense"], "money"),
        ("reinsurance premium (expected, net of commission)", p["expected_reinsurance_premium"], "money"),
        ("expected gross loss", (p["expected_gross"], p["expected_gross_stderr"]), "money"),
        ("expected recoveries", p["expected_ceded"], "money"), ("expected net loss", p["expected_net"], "money"),
        ("pool capital (members)", p["pool_capital"], "money"),
        ("largest money-reconciliation error (premium)", p["premium_reconciliation_error"], "number"),
        ("largest money-reconciliation error (loss)", p["loss_reconciliation_error"], "number"),
    ])
    page.heading("Members")
    shares = [c for c in run.members.columns if c.startswith("share_")]
    page.table(run.members, ["member", "role", *shares, "premium", "fee_income", "expected_loss", "expected_result",
                             "expected_result_stderr", "prob_loss_making", "euler_capital", "shapley_capital",
                             "return_on_euler_capital"],
               labels={"expected_result_stderr": "±", "prob_loss_making": "P(loss-making)",
                       **{c: f"share of {c.removeprefix('share_')}" for c in shares}})
    page.heading("Lines")
    page.table(run.lines, ["line", "premium", "expected_gross", "expected_gross_stderr", "expected_ceded",
                           "expected_net", "gross_loss_ratio", "standalone_capital", "euler_capital"],
               labels={"expected_gross_stderr": "±"})
    if run.treaties is not None:
        page.heading("Treaties")
        page.table(run.treaties, ["treaty", "type", "premium_basis", "premium", "commission", "expected_ceded",
                                  "expected_ceded_stderr", "expected_reinsurer_result", "prob_reinsurer_loss"],
                   labels={"expected_ceded_stderr": "±", "prob_reinsurer_loss": "P(reinsurer loses)"})
    if run.contributions is not None:
        c = run.contributions
        page.heading("Diversification from pooling the members' books (gross)")
        page.facts([("pooled capital", c.attrs["pooled_capital"], "money"),
                    ("diversification benefit", c.attrs["diversification_benefit"], "money"),
                    ("shared by", f"the Shapley value ({c.attrs['shapley_method']})", "text")])
        page.table(c, ["member", "brings_book", "expected_gross", "standalone_capital", "shapley_benefit",
                       "capital_in_pool"])
    if run.compensation is not None:
        compensation_section(page, run.compensation.summary())
    _plots(page, folder, figures)
    page.paragraph("Tables: members, lines, allocation, years" + (", treaties" if run.treaties is not None else "")
                   + (", contributions" if run.contributions is not None else "")
                   + " (CSV and Parquet, beside this page); run.json holds the pool's figures.", note=True)
    return page


def compensation_rows(s: dict) -> list:
    """A public risk-compensation scheme's figures (``CompensationResult.summary()``) as the
    ``(label, value, kind)`` rows of a report (a value with its standard error is a pair)."""
    rows = [
        ("covered premium", s["covered_premium"], "money"),
        ("the fund's expected outlay a year", (s["expected_outlay"], s["expected_outlay_stderr"]), "money"),
    ]
    if s["term_years"] > 1:
        rows.append((f"the fund's expected outlay per {s['term_years']}-year term", s["expected_outlay_per_term"],
                     "money"))
    rows += [
        ("P(the fund pays in a year)", s["prob_fund_pays"], "share"),
        ("P(an annual cap binds)", s["prob_annual_cap_binds"], "share"),
        ("P(the multi-year cap is spent in a term)", s["prob_exhausted"], "share"),
        ("insurer's expected net loss before", s["insurer_expected_net_before"], "money"),
        ("insurer's expected net loss after", s["insurer_expected_net_after"], "money"),
        (f"insurer's TVaR {s['level']:.0%} before", s["insurer_tvar_before"], "money"),
        (f"insurer's TVaR {s['level']:.0%} after", s["insurer_tvar_after"], "money"),
        ("capital relief (TVaR less mean)", s["capital_relief"], "money"),
        (f"price effect: expected outlay + {s['cost_of_capital']:.0%} x capital relief, off the risk cost",
         s["price_effect"], "money"),
    ]
    if s["gross_up"] != 1.0:
        rows.append((f"the same grossed up for variable expense and profit (x {s['gross_up']:.3f})",
                     s["technical_premium_effect"], "money"))
    return rows


def compensation_note(s: dict) -> str:
    """What a scheme's figures rest on, in one sentence."""
    account = "for the pool" if s["scope"] == "pool" else "per member"
    return (f"The fund pays on the {s['basis']} loss ratio, one account {account}; the premium subsidy is separate "
            "public money, in the premium figures.")


def compensation_section(page: HtmlPage, s: dict) -> None:
    """A public risk-compensation scheme's figures (``CompensationResult.summary()``) on a page."""
    page.heading(f"Public risk compensation: {s['scheme']}")
    page.facts(compensation_rows(s))
    page.paragraph(compensation_note(s), note=True)
