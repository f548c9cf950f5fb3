"""Progress of long runs (``techins.progress``): every phase reported as ``progress(done, total)``,
announced through ``progress.phase(name)`` when the callable has that method, plain two-argument
functions still served, and the numbers never changed by it."""

import io
import os
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.backtest.resimulate import resimulated_forecasts
from techins.backtest.run import read_config, run_backtest
from techins.catalogue.quote import CatalogueQuoter
from techins.catalogue.rating import price_catalogue
from techins.pool.run import run_pool
from techins.pool.spec import read_pool
from techins.pricing.allocation import ORDERS_PER_REPORT, shapley_benefit
from techins.progress import PHASES, ProgressBar, announce, report
from techins.reinsurance.ord import write_ord_files
from techins.simulation.api import book_tail_losses
from techins.simulation.executors.local import LocalExecutor
from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write

ROOT = Path(__file__).resolve().parents[1]
LINE = ti.Line(ti.Poisson(2.0), ti.Exponential(1.0))


class Recorder:
    """A progress callable with phases: what a notebook widget or a log would receive."""

    def __init__(self):
        self.seen = []

    def phase(self, name):
        self.seen.append(name)

    def __call__(self, done, total):
        self.seen.append((done, total))

    def phases(self):
        """``[(name, [(done, total), ...]), ...]``, checked: every report inside a phase."""
        out = []
        for item in self.seen:
            if isinstance(item, str):
                out.append((item, []))
            else:
                assert out, f"a report {item} before any phase was announced"
                out[-1][1].append(item)
        return out


def assert_phases(recorder, names):
    """The phases are ``names`` in order, each of known name, each reported monotonically to its end."""
    phases = recorder.phases()
    assert [name for name, _ in phases] == list(names)
    for name, counts in phases:
        assert name in PHASES
        assert counts, f"phase {name!r} reported nothing"
        totals = {t for _, t in counts}
        assert len(totals) == 1, f"phase {name!r} changed its total: {counts}"
        done = [d for d, _ in counts]
        assert done == sorted(done) and 0 <= done[0], f"phase {name!r} not monotone: {counts}"
        assert done[-1] == counts[-1][1], f"phase {name!r} ended at {counts[-1]}"


def plain_counts():
    """A plain two-argument function, as users pass."""
    seen = []

    def progress(done, total):
        seen.append((done, total))

    return progress, seen


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    return ti.read_catalogue(write(tmp_path_factory.mktemp("products"), cyber=CYBER, fok=FOK))


@pytest.fixture(scope="module")
def product_book(products):
    policies = pd.DataFrame([cyber_policy(policy_id=f"C{i}", cloud=("aws", "aliyun", "idc")[i % 3],
                                          revenue=1e7 * (1 + i % 4)) for i in range(12)]
                            + [fok_policy(policy_id=f"F{i}", units=1 + i % 3, contract_value=5e6 * (1 + i))
                               for i in range(6)])
    return products.book(policies)


def test_bar_follows_the_chunks_of_a_run_to_the_end():
    seen = []
    with ProgressBar("simulating", disable=True) as bar:
        def progress(done, total):
            seen.append((done, total))
            bar(done, total)
        ti.simulate(LINE, years=300_000, seed=1, progress=progress)
        assert bar.done == seen[-1][0] == seen[-1][1] == bar.total
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 1


def test_bar_draws_on_a_stream_and_counts_every_chunk():
    out = io.StringIO()
    bar = ProgressBar("simulating", disable=False, file=out)
    for done in (1, 3, 4):
        bar(done, 4)
    assert (bar.done, bar.total) == (4, 4)
    bar.close()
    assert "simulating" in out.getvalue() and "/4 [" in out.getvalue()  # drawn with its total (throttled)


def test_bar_phase_relabels_and_starts_again():
    out = io.StringIO()
    bar = ProgressBar("simulation", disable=False, file=out)
    bar(4, 4)
    bar.phase("tail re-run")
    assert (bar.label, bar.done, bar.total) == ("tail re-run", 0, 0)
    bar(1, 3)
    assert (bar.done, bar.total) == (1, 3)
    bar(3, 3)
    bar.phase("allocation")
    bar(2, 2)
    bar.close()
    text = out.getvalue()
    assert "tail re-run" in text and "allocation" in text and "/3 [" in text


def test_bar_without_phases_restarts_when_the_count_goes_back():
    bar = ProgressBar("work", disable=True)
    bar(5, 5)
    bar(1, 5)  # a second pass of a caller that announces no phase
    assert (bar.done, bar.total) == (1, 5)
    bar.close()


def test_announce_only_calls_a_phase_method_and_report_passes_counts():
    progress, seen = plain_counts()
    announce(progress, "simulation")  # a plain function has no phase: nothing happens
    announce(None, "simulation")
    report(progress, np.int64(2), 3)
    report(None, 2, 3)
    assert seen == [(2, 3)] and all(type(x) is int for x in seen[0])


def test_simulate_announces_its_phase():
    recorder = Recorder()
    ti.simulate(LINE, years=50_000, seed=3, progress=recorder)
    assert_phases(recorder, ["simulation"])


def test_price_catalogue_reports_simulation_tail_and_allocation_to_the_same_bits(products, product_book):
    recorder = Recorder()
    with_phases = price_catalogue(products, product_book, 20_000, 7, progress=recorder)
    assert_phases(recorder, ["simulation", "tail re-run", "allocation"])
    progress, seen = plain_counts()
    with_plain = price_catalogue(products, product_book, 20_000, 7, progress=progress)
    assert seen == [c for c in recorder.seen if not isinstance(c, str)]
    without = price_catalogue(products, product_book, 20_000, 7)
    for priced in (with_phases, with_plain):
        for name in ("policies", "coverages", "lines", "products", "ep_curves"):
            pd.testing.assert_frame_equal(getattr(priced, name), getattr(without, name), check_exact=True)
        assert priced.book == without.book


def test_tail_re_run_reports_its_tail_chunks(product_book):
    recorder = Recorder()
    result = ti.simulate(product_book.portfolio, 3_000, 2)
    got = book_tail_losses(result, 0.99, progress=recorder)
    assert_phases(recorder, ["tail re-run"])
    total = recorder.phases()[0][1][-1][1]
    assert 1 <= total <= result.chunk_groups.size
    for a, b in zip(got, book_tail_losses(result, 0.99)):
        assert np.array_equal(a, b)


def test_an_executor_with_nothing_to_run_ends_its_phase_at_once():
    class Nothing:
        wave = None

        def __call__(self, ids):
            raise AssertionError("no group to run")

    progress, seen = plain_counts()
    assert list(LocalExecutor().map(Nothing(), np.zeros(0, np.int64), progress)) == [] and seen == [(0, 0)]


def test_apply_programme_reports_its_chunks_to_the_same_bits(product_book):
    result = ti.simulate(product_book.portfolio, 8_000, 5)
    programme = ti.Programme((ti.QuotaShare(0.2), ti.OccurrenceXL(5e6, 1e6, (1.0,)), ti.AggregateXL(2e7, 1e7)))
    recorder = Recorder()
    got = ti.apply_programme(result, programme, keep_occurrences=True, progress=recorder)
    assert_phases(recorder, ["treaties"])
    n_chunks = recorder.phases()[0][1][-1][1]
    assert n_chunks == result.chunk_groups.size and len(recorder.seen) == 1 + n_chunks  # one report per chunk
    progress, seen = plain_counts()
    plain = ti.apply_programme(result, programme, keep_occurrences=True, progress=progress)
    want = ti.apply_programme(result, programme, keep_occurrences=True)
    assert seen == recorder.seen[1:]
    for name in ("gross", "net", "ceded", "reinstatement_factor"):
        assert np.array_equal(getattr(got, name), getattr(want, name))
        assert np.array_equal(getattr(plain, name), getattr(want, name))
    pd.testing.assert_frame_equal(got.occurrences, want.occurrences, check_exact=True)


def test_run_pool_reports_every_phase_to_the_same_bits():
    spec = read_pool(ROOT / "examples" / "pools" / "cyber_pool.toml")  # with contributors' books
    recorder = Recorder()
    got = run_pool(spec, years=4_000, seed=3, progress=recorder)
    assert_phases(recorder, ["simulation", "tail re-run", "allocation", "treaties", "allocation", "allocation"])
    progress, _ = plain_counts()
    plain = run_pool(spec, years=4_000, seed=3, progress=progress)
    want = run_pool(spec, years=4_000, seed=3)
    for run in (got, plain):
        for name in ("members", "lines", "treaties", "allocation", "contributions", "annual"):
            pd.testing.assert_frame_equal(getattr(run, name), getattr(want, name), check_exact=True)
        assert run.pool == want.pool


def test_sampled_shapley_reports_blocks_of_orders():
    parts = np.random.default_rng(1).gamma(2.0, 1.0, (14, 400))  # 14 members: sampled, not exact
    progress, seen = plain_counts()
    orders = 2 * ORDERS_PER_REPORT + 7
    got = shapley_benefit(parts, 0.9, orders=orders, seed=2, progress=progress)
    want = shapley_benefit(parts, 0.9, orders=orders, seed=2)
    assert seen == [(ORDERS_PER_REPORT, orders), (2 * ORDERS_PER_REPORT, orders), (orders, orders)]
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]


def test_run_backtest_reports_analysis_and_report(tmp_path):
    config = read_config(ROOT / "examples" / "backtest" / "tech_lines_backtest.toml")
    recorder = Recorder()
    got = run_backtest(config, out=tmp_path / "a", progress=recorder)
    assert_phases(recorder, ["analysis", "report"])
    progress, seen = plain_counts()
    plain = run_backtest(config, store=tmp_path / "runs.sqlite", out=tmp_path / "b", progress=progress)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4), (1, 2), (2, 2)]  # the store's path reports as the other
    want = run_backtest(config, out=tmp_path / "c")
    for run in (got, plain):
        for name, table in want.tables().items():
            pd.testing.assert_frame_equal(run.tables()[name], table, check_exact=True)


def test_resimulation_reports_each_period(products):
    rows = []
    for period, seed in ((2024, 11), (2025, 12), (2026, 13)):
        rows += [cyber_policy(policy_id=f"C{period}-{i}") | {"period": period, "seed": seed} for i in range(4)]
    policies = pd.DataFrame(rows).assign(line="cyber", version="1")
    recorder = Recorder()
    got = resimulated_forecasts(policies, products, 1_000, progress=recorder)
    assert_phases(recorder, ["re-simulation"])
    assert recorder.seen[1:] == [(1, 3), (2, 3), (3, 3)]
    pd.testing.assert_frame_equal(got, resimulated_forecasts(policies, products, 1_000), check_exact=True)


def test_ord_tables_report_each_table(tmp_path):
    occurrences = pd.DataFrame({"year": [0, 0, 2, 3], "occurrence_id": [1, 2, 3, 4],
                                "gross": [5.0, 1.0, 2.0, 7.0], "net": [4.0, 1.0, 2.0, 3.0]})
    recorder = Recorder()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = write_ord_files(occurrences, 5, tmp_path / "a", {"gross": "gross", "net": "net"}, formats=("csv",),
                            progress=recorder)
    assert_phases(recorder, ["ORD tables"])
    assert recorder.seen[1:] == [(k, 10) for k in range(1, 11)]
    plain = write_ord_files(occurrences, 5, tmp_path / "b", {"gross": "gross", "net": "net"}, formats=("csv",))
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in plain]


def test_quote_many_reports_each_candidate(products, product_book):
    priced = price_catalogue(products, product_book, 5_000, 4)
    quoter = CatalogueQuoter(products, priced)
    candidates = pd.DataFrame([cyber_policy(policy_id="C1"), cyber_policy(policy_id="new", revenue=3e7),
                               fok_policy(policy_id="F-new", units=2)])
    recorder = Recorder()
    got = quoter.quote_many(candidates, progress=recorder)
    assert_phases(recorder, ["quotes"])
    assert recorder.seen[1:] == [(1, 3), (2, 3), (3, 3)]
    pd.testing.assert_frame_equal(got, quoter.quote_many(candidates), check_exact=True)


# ------------------------------------------------------------------------------------- the command
def _on_a_terminal(*args, timeout=240):
    """``techins ARGS`` in a subprocess whose stderr is a pseudo-terminal; its status, stdout and the
    text drawn on the terminal."""
    import fcntl  # POSIX only, as the test
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a terminal of 100 columns: a new pseudo-terminal has none, and tqdm draws nothing in 0 columns
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "techins", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    drawn = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise AssertionError(f"techins {' '.join(map(str, args))}: no output for {timeout} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal (EIO on Linux)
                break
            if not data:
                break
            drawn += data
    finally:
        os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=timeout), out, drawn.decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal test written for Linux")
def test_pool_command_on_a_terminal_draws_each_phase_and_quiet_draws_none(tmp_path):
    pool = ROOT / "examples" / "pools" / "ip_coinsurance_body.toml"
    code, out, drawn = _on_a_terminal("pool", pool, "--years", "2000", "--out", tmp_path / "a")
    assert code == 0 and out.startswith("techins pool:"), drawn
    for label in ("simulation", "tail re-run", "allocation", "treaties", "report"):
        assert label in drawn, (label, drawn)
    code, out, drawn = _on_a_terminal("pool", pool, "--years", "2000", "--out", tmp_path / "b", "--quiet")
    assert code == 0 and out.startswith("techins pool:") and drawn == "", drawn


def test_annual_by_group_reports_its_chunks_to_the_same_bits(product_book):
    from techins.simulation.occurrences import annual_by_group

    result = ti.simulate(product_book.portfolio, 4_000, 6)
    groups = np.arange(product_book.portfolio.n_policies) % 3
    recorder = Recorder()
    got = annual_by_group(result, groups, progress=recorder)
    assert_phases(recorder, ["occurrences"])
    assert recorder.seen[-1] == (result.chunk_groups.size, result.chunk_groups.size)
    assert np.array_equal(got, annual_by_group(result, groups))
