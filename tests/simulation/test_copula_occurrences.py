"""Occurrences of a book with a copula, as the simulation saw them: each claim in the year its (policy,
year) loss moved to, each common-shock event split into one occurrence per margin part, each part in
its margin's year. The tables add up to the BookResult's annual and line losses and its largest
occurrences; programmes, groups and pools run on them, the same bits for any thread count; a stop
loss on the dependent book cedes more than on the independent one.

The book (``tests.simulation.test_dependence.book``): three lines, policy aggregate limits, contract
aggregate limits (contracts within a line), parameter risk on one line and a common shock on a
vendor, so its events hit policies of every margin."""

import math

import numpy as np
import pytest

import techins as ti
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.simulation import plan
from techins.simulation.occurrences import annual_by_group, chunk_occurrences, occurrence_arrays
from tests.pool.test_run import small_pool  # noqa: F401  (a fixture)
from tests.simulation.test_dependence import GUMBEL, book

# drone stays outside the copula: its policies keep their years, and an event's hits on them are one
# more part of the event
PARTIAL = ti.Dependence(ti.StudentTCopula(0.7, 4.0), lines=("cyber", "ip"))
DEPENDENCE = {"gumbel, every line": GUMBEL, "t, two lines of three": PARTIAL}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(plan, "BOOK_CLAIMS_PER_CHUNK", 1 << 12)


@pytest.fixture(params=list(DEPENDENCE), ids=list(DEPENDENCE))
def runs(request, small_chunks):
    """The same book and seed simulated independent and with the copula (several chunks)."""
    independent = ti.simulate(book(), 6_000, seed=3)
    joined = ti.simulate(book(), 6_000, seed=3, dependence=DEPENDENCE[request.param])
    assert joined.chunk_years < 6_000 // 4
    return independent, joined


def table(result, after_aggregates):
    chunks = list(occurrence_arrays(result, after_aggregates=after_aggregates))
    return tuple(np.concatenate([c[k] for c in chunks]) for k in range(4))


def margin_slot(result, policy):
    """Each row's part of its event: the policy's margin, or n_margins for a policy outside the copula."""
    margin, names = result.portfolio.copula_margins
    slot = margin[policy]
    return np.where(slot >= 0, slot, len(names))


def test_rows_are_the_independent_rows_moved_with_their_margins_years(runs):
    """Before the aggregate terms the rows are the independent run's, row for row (same policies, same
    losses: the draws do not change), only the years move: within a chunk a margin's years move by one
    permutation, which carries each margin's annual loss of the independent run to its new year bit for
    bit (line_annual), and a policy outside the copula keeps its years. An event's rows on different
    margins become different occurrences, each in one year."""
    independent, joined = runs
    y0, o0, p0, l0 = table(independent, False)
    y1, o1, p1, l1 = table(joined, False)
    assert np.array_equal(p0, p1) and np.array_equal(l0, l1)
    assert not np.array_equal(y0, y1)
    c = joined.chunk_years
    assert np.array_equal(y0 // c, y1 // c)  # nothing leaves its chunk
    slot = margin_slot(joined, p1)
    n_margins = len(joined.portfolio.copula_margins[1])
    line = joined.portfolio.arrays["line"]
    for m in np.unique(slot):
        rows = slot == m
        pairs = np.unique(np.column_stack([y0[rows], y1[rows]]), axis=0)
        # a function of the drawn year, and one-to-one: a permutation of the chunk's years
        assert np.unique(pairs[:, 0]).size == pairs.shape[0] == np.unique(pairs[:, 1]).size
        if m == n_margins:
            assert np.array_equal(pairs[:, 0], pairs[:, 1])
        for ln in np.unique(line[p1[rows]]):
            assert np.array_equal(joined.line_annual[ln, pairs[:, 1]], independent.line_annual[ln, pairs[:, 0]])
    # occurrences: claims keep their index; an event's hits split by margin, each part one occurrence
    # in one year (chunk index x 2**32 + index: unique in the run)
    parts = np.unique(np.column_stack([o0, slot]), axis=0)
    assert np.unique(o1).size == parts.shape[0] > np.unique(o0).size
    ids, first = np.unique(o1, return_index=True)
    for key in (y1, slot):
        assert np.array_equal(key, key[first][np.searchsorted(ids, o1)])


def test_occurrences_after_the_aggregates_add_up_to_the_book_and_its_lines(runs):
    """The rows after the aggregate terms summed by year are the BookResult's annual losses, and by
    line its line_annual. Not bit for bit: ``cut_by_annual_terms`` sums each (policy, year) and
    (contract, year) with ``numpy.bincount`` and cuts by ``after / total``, the kernel in its own order
    and by ``g_loss / ground-up``, so the last bits differ (1e-9 relative bounds them amply)."""
    _, joined = runs
    year, _, policy, loss = table(joined, True)
    np.testing.assert_allclose(np.bincount(year, weights=loss, minlength=joined.years), joined.annual, rtol=1e-9,
                               atol=1e-6)
    by_line = np.zeros_like(joined.line_annual)
    np.add.at(by_line, (joined.portfolio.arrays["line"][policy], year), loss)
    np.testing.assert_allclose(by_line, joined.line_annual, rtol=1e-9, atol=1e-6)
    # the aggregate and contract limits bind in this book, so the cut is tested, not idle
    assert table(joined, False)[3].sum() > loss.sum() * (1 + 1e-6)


def test_largest_occurrence_of_each_year_is_the_book_results(runs):
    """BookResult.max_occurrence is each year's largest occurrence as paid (after the annual terms,
    ``kernels.book._largest_moved_occurrences``): the largest occurrence total of the table after the
    aggregates, an event counting as one occurrence per margin part."""
    _, joined = runs
    year, occurrence, _, loss = table(joined, True)
    ids, inverse = np.unique(occurrence, return_inverse=True)
    total = np.bincount(inverse, weights=loss)
    occ_year = np.zeros(ids.size, dtype=np.int64)
    occ_year[inverse] = year
    largest = np.zeros(joined.years)
    np.maximum.at(largest, occ_year, total)
    np.testing.assert_allclose(largest, joined.max_occurrence, rtol=1e-9, atol=1e-6)
    assert (joined.max_occurrence > 0).mean() > 0.5


def test_programme_gross_is_the_book_and_a_stop_loss_sees_the_dependence(small_chunks):
    """``apply_programme`` on the copula book: gross = the book's annual loss, ceded + net = gross.
    Each margin keeps its losses, so the mean gross is the independent run's, but an aggregate stop
    loss above the independent 90% quantile cedes more under positive dependence (Gumbel, tau 0.5),
    by more than 4 standard errors of the difference (the two runs' errors taken as independent)."""
    years = 6_000
    independent = ti.simulate(book(), years, seed=3)
    joined = ti.simulate(book(), years, seed=3, dependence=GUMBEL)
    attachment = float(np.quantile(independent.annual, 0.9))
    programme = ti.Programme((ti.QuotaShare(0.1), ti.PerRiskXL(1e6, 2e5), ti.OccurrenceXL(3e6, 5e5, (1.0,)),
                              ti.AggregateXL(np.inf, 0.5 * attachment, name="stop loss")))
    applied = ti.apply_programme(joined, programme)
    np.testing.assert_allclose(applied.gross, joined.annual, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(applied.ceded.sum(axis=1) + applied.net, applied.gross, rtol=1e-9, atol=1e-6)
    assert (applied.ceded > 0).any(axis=0).all()
    stop_loss = ti.Programme((ti.AggregateXL(np.inf, attachment, name="stop loss"),))
    ceded = [ti.apply_programme(r, stop_loss).ceded[:, 0] for r in (independent, joined)]
    se = math.hypot(*(c.std(ddof=1) for c in ceded)) / math.sqrt(years)
    assert ceded[1].mean() - ceded[0].mean() > 4 * se
    np.testing.assert_allclose(joined.annual.sum(), independent.annual.sum(), rtol=1e-12)


def test_same_bits_for_any_thread_count(small_chunks):
    deps = [PARTIAL, ti.GammaFrailty(0.3, lines=("drone",))]
    one = ti.simulate(book(), 4_000, seed=9, dependence=deps, threads=1)
    two = ti.simulate(book(), 4_000, seed=9, dependence=deps, threads=2)
    programme = ti.Programme((ti.PerRiskXL(1e6, 1e5), ti.OccurrenceXL(2e6, 5e5, (1.0,)), ti.AggregateXL(1e7, 4e6)))
    groups = np.arange(one.portfolio.n_policies) % 3
    a = ti.apply_programme(one, programme, groups=groups, keep_occurrences=True, threads=1)
    b = ti.apply_programme(two, programme, groups=groups, keep_occurrences=True, threads=2)
    for name in ("gross", "net", "ceded", "reinstatement_factor", "group_gross", "group_net"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.occurrences.equals(b.occurrences)
    for x, y in zip(table(one, True), table(two, True)):
        assert np.array_equal(x, y)


def test_a_chunk_drawn_again_after_its_claim_scratch_overflowed_is_the_same(small_chunks):
    """Claim scratch far too small: the kernel gives up on the chunk (n = -1), the buffers grow and
    the chunk is drawn again from its two streams, to the same rows as with room to spare."""
    joined = ti.simulate(book(), 2_000, seed=6, dependence=PARTIAL)
    roomy = plan.BookPlan(joined.portfolio, joined.years, joined.seed, joined.thin)
    tight = roomy.fresh()
    tight.claim_capacity = 4
    for chunk in (0, roomy.n_chunks - 1):
        for after in (False, True):
            expected = chunk_occurrences(roomy, chunk, after_aggregates=after)
            got = chunk_occurrences(tight, chunk, after_aggregates=after)
            assert expected[0].size > 4 and all(np.array_equal(x, y) for x, y in zip(expected, got))
    assert tight.claim_capacity > 4


def test_annual_by_group_adds_up_to_the_book(runs):
    """Groups across margins (policy index mod 4): they add up to the book's year, and grouped by line
    they are line_annual; apply_programme's group gross is the same sums."""
    _, joined = runs
    groups = np.arange(joined.portfolio.n_policies) % 4
    by_group = annual_by_group(joined, groups)
    assert by_group.shape == (4, joined.years)
    np.testing.assert_allclose(by_group.sum(axis=0), joined.annual, rtol=1e-9, atol=1e-6)
    by_line = annual_by_group(joined, joined.portfolio.arrays["line"])
    np.testing.assert_allclose(by_line, joined.line_annual, rtol=1e-9, atol=1e-6)
    applied = ti.apply_programme(joined, ti.Programme((ti.QuotaShare(0.25),)), groups=groups)
    # the same rows, summed in the programme's occurrence order: equal to the last bits
    np.testing.assert_allclose(applied.group_gross, by_group, rtol=1e-12, atol=1e-6)


def test_a_pool_on_a_book_with_a_copula(small_pool):  # noqa: F811  (the fixture)
    """A pool file with a copula between its two lines (``[dependence.copula]``): ``run_pool`` runs the
    copula book end to end, its gross each year the dependent simulation's annual loss (the quota
    share's 30% ceded), and the members' shares adding up to it."""
    dependence = ti.Dependence(ti.ClaytonCopula.from_tau(0.6), lines=("cyber", "first_of_kind"))
    with (small_pool / "pool.toml").open("a") as fh:
        fh.write('\n[dependence.copula]\nfamily = "clayton"\ntau = 0.6\nlines = ["cyber", "first_of_kind"]\n')
    spec = read_pool(small_pool / "pool.toml")
    run = run_pool(spec)
    assert run.book_result.portfolio.copula == dependence
    product_book = ti.read_catalogue(small_pool / "products").book(ti.read_policies(small_pool / "policies.csv"))
    joined = ti.simulate(product_book.portfolio, 3000, 4, dependence=dependence)
    independent = ti.simulate(product_book.portfolio, 3000, 4)
    assert not np.array_equal(joined.annual, independent.annual)
    np.testing.assert_allclose(run.annual["gross"], joined.annual, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(run.annual["ceded"], 0.3 * joined.annual, rtol=1e-10, atol=1e-6)
    lines = run.lines.set_index("line")
    names = joined.portfolio.line_names
    for ln, name in enumerate(names):
        np.testing.assert_allclose(lines.loc[name, "expected_gross"], joined.line_annual[ln].mean(), rtol=1e-10)
    # the members (and the unplaced part) bear the pool's net loss between them
    np.testing.assert_allclose(run.members["expected_loss"].sum(), 0.7 * joined.annual.mean(), rtol=1e-10)
