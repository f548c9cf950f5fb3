"""The guide table that places a mixed line's claims in their years (``kernels.book._year_guide``,
``_year_by_guide``) returns exactly the binary search's year (``_year_by_weight``) for every target:
the book's draws do not depend on which of the two runs. Checked on adversarial weights (ties, zero
years, one year, weights spanning 600 orders of magnitude, few and many buckets) at every target that
can sit on a boundary (each cumulative weight, its neighbouring floats, 0, the total) and at uniform
draws times the total as the kernel makes them; weights that allow no table (a total of 0 or inf, a
NaN, a decrease) are refused, so the caller keeps the binary search; and the tables a chunk builds
per line (``_line_guides``) by its expected claims."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import techins as ti
from techins.kernels import book as book_kernels
from techins.simulation.plan import BookPlan

# a weight per year: exact zeros, repeats (ties of the cumulative weights), tiny and huge values
WEIGHT = st.one_of(st.just(0.0), st.just(1.0), st.sampled_from([1e-300, 5e-324, 1e300, 0.1, 3.0]),
                   st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
                   st.floats(min_value=1e-310, max_value=1e-290), st.floats(min_value=1e290, max_value=1e300))


def cumulative(weights, lines=2, line=1):
    """The weights cumulated as ``line_year_weights`` does (a running sum year by year), as row
    ``line`` of a ``[lines, years]`` array whose other rows hold rubbish the kernels must not read."""
    cum = np.full((lines, len(weights)), np.nan)
    total = 0.0
    for y, w in enumerate(weights):
        total += w
        cum[line, y] = total
    return cum


def boundary_targets(cum_row):
    """Every target at which the answer can change, and its neighbours, within [0, total]."""
    total = cum_row[-1]
    targets = {0.0, total, np.nextafter(0.0, 1.0)}
    for c in cum_row:
        for t in (c, np.nextafter(c, -np.inf), np.nextafter(c, np.inf)):
            if 0.0 <= t <= total:
                targets.add(float(t))
    return np.array(sorted(targets))


def assert_same_years(cum, line, targets, n_buckets):
    n_years = cum.shape[1]
    guide = np.full(n_buckets + 1, -7, dtype=np.int64)
    scale = book_kernels._year_guide(cum, line, n_years, guide)
    assert scale > 0.0
    assert guide[0] == 0 and guide[-1] <= n_years and np.all(np.diff(guide) >= 0)
    for t in targets:
        expected = book_kernels._year_by_weight(cum, line, n_years, t)
        assert book_kernels._year_by_guide(cum, line, n_years, guide, scale, t) == expected, (t, expected)


@settings(deadline=None, max_examples=300)
@given(weights=st.lists(WEIGHT, min_size=1, max_size=40), n_buckets=st.integers(1, 200),
       uniforms=st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=1, max_size=30))
def test_the_guide_gives_the_binary_search_year_for_every_target(weights, n_buckets, uniforms):
    cum = cumulative(weights)
    total = cum[1, -1]
    with np.errstate(over="ignore"):
        usable = total > 0.0 and np.isfinite(n_buckets / total)  # not a total of 0, inf, or so small it overflows
    if not usable:
        guide = np.empty(n_buckets + 1, dtype=np.int64)
        assert book_kernels._year_guide(cum, 1, len(weights), guide) == 0.0
        return
    targets = np.concatenate([boundary_targets(cum[1]), np.array(uniforms) * total])
    assert_same_years(cum, 1, targets, n_buckets)


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), n_years=st.sampled_from([1, 2, 3, 128, 1000]),
       cv=st.sampled_from([0.05, 0.3, 2.0, 10.0]), per_year=st.sampled_from([1, 3, 8]))
def test_the_guide_gives_the_binary_search_year_on_gamma_year_weights(seed, n_years, cv, per_year):
    # the weights the kernel draws: gamma factors of mean 1, very skewed at cv 10 (most years ~0)
    rng = np.random.default_rng(seed)
    cum = cumulative(rng.gamma(1.0 / cv**2, cv**2, n_years), lines=1, line=0)
    if not cum[0, -1] > 0.0:
        return
    targets = np.concatenate([boundary_targets(cum[0]), rng.random(500) * cum[0, -1]])
    assert_same_years(cum, 0, targets, per_year * n_years)


def test_one_year_ties_and_zero_years_by_hand():
    # years 0 and 1 weigh nothing, 2 and 3 the same, 4 nothing: cum = 0 0 1 2 2
    cum = cumulative([0.0, 0.0, 1.0, 1.0, 0.0], lines=1, line=0)
    by_hand = {0.0: 2, 0.5: 2, 1.0: 3, 1.5: 3, 2.0: 4}  # first year with cum > t; the last year when none
    for n_buckets in (1, 2, 3, 7, 64):
        guide = np.empty(n_buckets + 1, dtype=np.int64)
        scale = book_kernels._year_guide(cum, 0, 5, guide)
        for t, year in by_hand.items():
            assert book_kernels._year_by_weight(cum, 0, 5, t) == year
            assert book_kernels._year_by_guide(cum, 0, 5, guide, scale, t) == year
    one = cumulative([2.5], lines=1, line=0)
    guide = np.empty(9, dtype=np.int64)
    scale = book_kernels._year_guide(one, 0, 1, guide)
    assert scale == 8 / 2.5 and list(guide) == [0] * 8 + [1]
    assert all(book_kernels._year_by_guide(one, 0, 1, guide, scale, t) == 0 for t in (0.0, 1.0, 2.5))


@pytest.mark.parametrize("cum", [[0.0, 0.0], [1.0, np.nan, 2.0], [1.0, 0.5, 1.5], [-1.0, 0.0, 1.0], [1.0, np.inf],
                                 [1e308, np.inf], [5e-324]],
                         ids=["zero total", "nan", "decrease", "negative", "inf", "overflow", "subnormal total"])
def test_weights_that_allow_no_table_are_refused(cum):
    # cumulative weights as given; a subnormal total: 8 / 5e-324 overflows, so no bucket could be
    # computed. The caller then keeps the binary search (what every draw was before the table)
    cum = np.array([cum])
    guide = np.empty(9, dtype=np.int64)
    assert book_kernels._year_guide(cum, 0, cum.shape[1], guide) == 0.0


def test_a_chunk_builds_tables_for_its_mixed_lines_with_a_claim_a_year_or_more():
    # per line: expected claims a year 20 (a table of 8 entries a year), 3 (one entry per expected
    # claim), 0.5 (none: the binary search) and 20 without parameter risk (none: one uniform draw)
    lines = ["many", "some", "few", "plain"]
    rates = {"many": 20.0, "some": 3.0, "few": 0.5, "plain": 20.0}
    table = pd.DataFrame({"policy_id": np.arange(8), "line": np.repeat(lines, 2), "severity": "s",
                          "claim_rate": [rates[ln] / 2 for ln in np.repeat(lines, 2)]})
    book = ti.Portfolio(table, {"s": ti.Exponential(1e4)}, parameter_risk={"many": 0.2, "some": 0.2, "few": 0.2})
    plan = BookPlan(book, 100, 1, True)
    groups = plan.book.groups
    n_years = 100
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    cum = book_kernels.line_year_weights(state, n_years, groups)
    tables, start, scale = book_kernels._line_guides(groups, cum, n_years)
    sizes = dict(zip(book.line_names, np.diff(start)))
    expected_some = int(min(8 * n_years, 3.0 * cum[book.line_names.index("some"), -1])) + 1
    assert sizes == {"many": 8 * n_years + 1, "some": expected_some, "few": 0, "plain": 0}
    for name in ("many", "some"):
        ln = book.line_names.index(name)
        assert scale[ln] == (sizes[name] - 1) / cum[ln, -1]
        guide = tables[start[ln]:start[ln + 1]]
        targets = np.concatenate([boundary_targets(cum[ln]), np.random.default_rng(ln).random(2000) * cum[ln, -1]])
        for t in targets:
            assert (book_kernels._year_by_guide(cum, ln, n_years, guide, scale[ln], t)
                    == book_kernels._year_by_weight(cum, ln, n_years, t))
    assert scale[book.line_names.index("few")] == 0.0 and scale[book.line_names.index("plain")] == 0.0
