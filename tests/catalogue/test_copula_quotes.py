"""Quotes against a book with a copula: a new policy joins its margin, whose annual losses (with the
policy's added) are ranked again against the copula sample the book's years followed, so the book's
margin and the policy move together as the simulation would have moved them
(``BookEvents.with_policy``); the other margins stay. A policy that changes no rank leaves the book
bit for bit; the reorder the quotes start from is the simulation's to the bit; saved books keep it."""

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.catalogue.quote import Quoter
from techins.catalogue.snapshot import book_events
from techins.pricing.premium import PricingBasis
from techins.simulation.occurrences import copula_reorder
from tests.simulation.test_dependence import GUMBEL, book, small_chunks  # noqa: F401  (a fixture)

PARTIAL = ti.Dependence(ti.StudentTCopula(0.7, 4.0), lines=("cyber", "ip"))
BASIS = PricingBasis("coc_tvar")


@pytest.mark.parametrize("dependence", [GUMBEL, PARTIAL], ids=["every line", "two lines of three"])
def test_the_reorder_is_the_simulations(small_chunks, dependence):  # noqa: F811
    independent = ti.simulate(book(), 3_000, seed=3)
    joined = ti.simulate(book(), 3_000, seed=3, dependence=dependence)
    moved_to, values, scores = copula_reorder(joined)
    names = joined.portfolio.line_names
    c = joined.chunk_years
    assert c < 3_000 and moved_to.shape == values.shape == scores.shape == (len(dependence.lines), 3_000)
    for m, line in enumerate(dependence.lines):
        k = names.index(line)
        for lo in range(0, 3_000, c):  # a permutation of each chunk's years
            assert np.array_equal(np.sort(moved_to[m, lo:lo + c]), np.arange(lo, min(lo + c, 3_000)))
        moved = np.empty(3_000)
        moved[moved_to[m]] = independent.line_annual[k]
        assert np.array_equal(moved, joined.line_annual[k])  # the drawn years, moved: the simulation's bits
        np.testing.assert_allclose(values[m], independent.line_annual[k], rtol=1e-12)
    with pytest.raises(ti.InputError, match="no copula"):
        copula_reorder(independent)


def test_a_policy_that_changes_no_rank_leaves_the_book_bit_for_bit():
    joined = ti.simulate(book(), 2_000, seed=1, dependence=GUMBEL)
    events = book_events(joined)
    for margin in range(3):
        beside, moved = events.with_policy(np.zeros(2_000), margin)
        assert np.array_equal(beside, joined.annual) and not moved.any()
    beside, moved = events.with_policy(np.ones(2_000), -1)  # no margin: the book as it is
    assert beside is events.annual


def test_the_margin_is_ranked_again_with_the_policy_in_it():
    joined = ti.simulate(book(), 2_000, seed=1, dependence=PARTIAL)
    events = book_events(joined)
    rng = np.random.default_rng(2)
    x = np.where(rng.random(2_000) < 0.2, rng.lognormal(13.0, 1.0, 2_000), 0.0)
    beside, moved = events.with_policy(x, 0)
    c, values, scores = events.chunk_years, events.margin_values[0], events.margin_scores[0]
    total_at = np.empty(2_000)
    for lo in range(0, 2_000, c):
        hi = min(lo + c, 2_000)
        # the r-th smallest (margin + policy) total goes to the year of the r-th smallest score (ties in
        # year order, as the kernel ranks them)
        moved_chunk = moved[lo:hi]
        assert np.array_equal(np.sort(moved_chunk), np.sort(x[lo:hi]))  # the policy keeps its losses per chunk
        totals = values[lo:hi] + x[lo:hi]
        order_total = np.argsort(totals, kind="stable")
        order_score = np.argsort(scores[lo:hi], kind="stable")
        total_at[lo + order_score] = totals[order_total]
    # the book beside the policy: the margin's own losses in their new years, the rest as it was
    others = joined.annual - _placed(values, events.margin_years[0])
    np.testing.assert_allclose(beside + moved, others + total_at, rtol=1e-12, atol=1e-6)
    assert beside.sum() == pytest.approx(joined.annual.sum(), rel=1e-12)


def _placed(values, to):
    out = np.empty_like(values)
    out[to] = values
    return out


def two_lines():
    return ti.Portfolio(pd.DataFrame({"policy_id": ["s", "h"], "line": ["small", "heavy"], "claim_rate": [4.0, 0.2],
                                      "severity": ["small", "heavy"]}),
                        {"small": ti.LogNormal(10.0, 1.0), "heavy": ti.Pareto(2.5, 2e5)})


def test_a_new_policy_shares_its_margins_tail():
    """Gumbel at tau 0.8 between a frequent small line and a heavy one: a new policy of the small line
    lands in the heavy line's bad years, so the risk load it adds to the book rises well beyond its
    independent value (seeded; 8.4K independent, 15.9K joined at 20,000 years)."""
    new = {"policy_id": "n", "line": "small", "claim_rate": 4.0, "severity": "small"}
    gumbel = ti.Dependence(ti.GumbelCopula.from_tau(0.8), lines=("small", "heavy"))
    alone = Quoter(ti.simulate(two_lines(), 20_000, 8), BASIS).quote(new)
    joined = Quoter(ti.simulate(two_lines(), 20_000, 8, dependence=gumbel), BASIS).quote(new)
    assert joined["expected_loss"] == alone["expected_loss"]  # the same draws, moved
    assert joined["marginal_risk_load"] > 1.5 * alone["marginal_risk_load"]


def test_a_copula_by_column_needs_the_policys_value():
    joined = ti.simulate(book(), 1_000, seed=1, dependence=ti.Dependence(ti.ClaytonCopula(2.0), column="region"))
    quoter = Quoter(joined, BASIS)
    row = dict(joined.portfolio.policies.iloc[0]) | {"policy_id": "new", "contract_id": "new"}
    assert quoter.annual_losses(row).size == 1_000
    del row["region"]
    with pytest.raises(ti.InputError, match="joins its policies by column 'region'; give the policy's region"):
        quoter.annual_losses(row)


@pytest.fixture(scope="module")
def catalogue_book():
    catalogue = ti.read_catalogue("products")
    policies = ti.read_policies("examples/portfolio.csv").iloc[::12].reset_index(drop=True)
    gumbel = ti.Dependence(ti.GumbelCopula.from_tau(0.5), lines=("cyber", "ip"))
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), 3_000, 2, dependence=gumbel)
    return catalogue, policies, priced


def test_catalogue_quotes_on_a_copula_book_and_its_saved_copy(catalogue_book, tmp_path):
    catalogue, policies, priced = catalogue_book
    snapshot = ti.BookSnapshot.from_priced(catalogue, priced)
    quoter = ti.CatalogueQuoter(catalogue, snapshot)
    own = quoter.quote_many(policies.head(20))
    assert (own["priced_as"] == "in_book").all()
    mine = priced.policies.set_index("policy_id").loc[own["policy_id"]]
    np.testing.assert_array_equal(own["technical_premium"].to_numpy(), mine["technical_premium"].to_numpy())
    new = policies.head(20).assign(policy_id=[f"new-{i}" for i in range(20)])
    quoted = quoter.quote_many(new)
    assert (quoted["priced_as"] == "added").all() and np.isfinite(quoted["premium"]).all()
    ti.save_snapshot(snapshot, tmp_path / "book")
    manifest = (tmp_path / "book" / "manifest.json").read_text()
    assert '"margin_by": "line"' in manifest and '"margins": [\n      "cyber",\n      "ip"\n    ]' in manifest
    again = ti.CatalogueQuoter(catalogue, ti.load_snapshot(tmp_path / "book", catalogue)).quote_many(new)
    pd.testing.assert_frame_equal(again, quoted)


def test_a_book_without_copula_saves_no_reorder(tmp_path):
    catalogue = ti.read_catalogue("products")
    policies = ti.read_policies("examples/portfolio.csv").iloc[::60].reset_index(drop=True)
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), 500, 2)
    ti.save_snapshot(ti.BookSnapshot.from_priced(catalogue, priced), tmp_path / "book")
    assert "copula" not in (tmp_path / "book" / "manifest.json").read_text()
    with np.load(tmp_path / "book" / "state.npz") as state:
        assert sorted(state.files) == ["annual", "shock_count", "shock_year", "theta"]
