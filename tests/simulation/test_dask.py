"""The Dask backend gives the local backend's numbers bit for bit: annual losses, per-line and per-policy
sums, the co-TVaR tail re-run and the prices, on a LocalCluster of 2 worker processes; also when a
worker dies mid-run. Dask is never imported by ``import techins`` or by the local backend."""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti
from techins.catalogue.rating import price_catalogue
from techins.simulation import plan
from techins.simulation.api import book_tail_losses
from techins.simulation.executors import dask as ti_distributed
from techins.simulation.occurrences import annual_by_group
from techins.simulation.plan import CHUNK_YEARS
from tests.catalogue.test_products import CYBER, FOK, cyber_policy, fok_policy, write

pytest.importorskip("distributed")
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BOOK_FIELDS = ("annual", "max_occurrence", "line_annual", "policy_sum", "policy_sumsq", "policy_cross",
               "contract_sumsq", "chunk_groups")


@pytest.fixture(scope="module")
def client():
    with ti_distributed.local_cluster(2, numba_threads=1) as started:
        yield started


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few hundred years for the small test books (the size is fixed by the book and this
    budget, on the client, before any task): many chunks, hence many tasks, in a short run."""
    monkeypatch.setattr(plan, "BOOK_CLAIMS_PER_CHUNK", 1 << 14)


def small_book(n: int = 60, seed: int = 4) -> ti.Portfolio:
    """Three lines, two laws, deductibles, limits, aggregate and contract terms, parameter risk and two
    common shocks (one under a batch clause)."""
    rng = np.random.default_rng(seed)
    line = np.array(["cyber", "ip", "drone"])[np.arange(n) % 3]
    table = pd.DataFrame({
        "policy_id": [f"p{i}" for i in range(n)], "line": line, "claim_rate": rng.uniform(0.05, 0.6, n),
        "severity": np.where(line == "ip", "ip", "cyber"), "severity_scale": rng.uniform(0.5, 2.0, n),
        "deductible": np.where(line == "cyber", 2e4, 0.0), "limit": 3e6, "agg_limit": rng.choice([np.inf, 5e6], n),
        "sum_insured": rng.uniform(1e6, 1e7, n), "vendor": rng.choice(["aws", "azure"], n),
        "batch": rng.choice(["b1", "b2"], n),
        "contract_id": [f"c{i // 2}" for i in range(n)], "contract_agg_deductible": 0.0,
        "contract_agg_limit": np.repeat(rng.choice([np.inf, 4e6], n // 2), 2),
    })
    shocks = (ti.CommonShock("outage", 0.4, "vendor", ("aws",), 0.3, ti.Gamma(2.0, 0.01)),
              ti.CommonShock("defect", 0.1, "batch", ("b1",), 0.2, ti.Exponential(0.05), clause="batch",
                             event_deductible=1e5, event_limit=2e7))
    return ti.Portfolio(table, {"cyber": ti.LogNormal(11.0, 1.5), "ip": ti.Pareto(2.5, 3e5)}, shocks=shocks,
                        parameter_risk={"drone": 0.3})


def assert_same_book(a, b):
    for name in BOOK_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.chunk_years, a.years, a.seed, a.thin) == (b.chunk_years, b.years, b.seed, b.thin)


@pytest.mark.slow
@pytest.mark.parametrize("task_chunks", [1, ti_distributed.TASK_CHUNKS])
def test_book_bit_identical_to_local(client, monkeypatch, small_chunks, task_chunks):
    """Any grouping of chunks into tasks gives the local run's bits: one chunk a task, or 5 (40
    chunks over 2 workers), which does not align with the local waves of 8."""
    book = small_book()
    monkeypatch.setattr(ti_distributed, "TASK_CHUNKS", task_chunks)
    local = ti.simulate(book, 20_000, seed=11)
    assert ti_distributed.chunks_per_task(client, -(-20_000 // local.chunk_years)) == {1: 1, 8: 5}[task_chunks]
    remote = ti.simulate(book, 20_000, seed=11, backend="dask", client=client)
    assert_same_book(local, remote)
    for level in (0.99, 0.9):
        for x, y in zip(book_tail_losses(local, level), book_tail_losses(remote, level, backend="dask",
                                                                         client=client)):
            assert x.size > 0 and np.array_equal(x, y)


@pytest.mark.parametrize("thin", [True, False])
def test_line_bit_identical_to_local(client, thin):
    line = ti.Line(ti.NegativeBinomial(3.0, 6.0), ti.LogNormal(10.0, 2.0), occurrence=ti.Layer(5e6, 1e6),
                   aggregate=ti.Layer(2e7, 1e5))
    years = 20 * CHUNK_YEARS + 123  # a short last chunk, 3 tasks
    local = ti.simulate(line, years, seed=5, thin=thin)
    calls = []
    remote = ti.simulate(line, years, seed=5, thin=thin, backend="dask", client=client,
                         progress=lambda done, total: calls.append((done, total)))
    for name in ("annual", "max_occurrence", "counts"):
        assert np.array_equal(getattr(local, name), getattr(remote, name)), name
    assert remote.counted_above == local.counted_above and remote.claim_rate == local.claim_rate
    assert calls[-1] == (21, 21) and [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_scheduler_address_and_period_loss_tables(client, tmp_path):
    """A scheduler address instead of a client; the period tables written by the workers, chunk by
    chunk, are the local backend's."""
    book = small_book(30)
    local = ti.simulate(book, 5_000, seed=2, period_losses=tmp_path / "local")
    remote = ti.simulate(book, 5_000, seed=2, backend="dask", client=client.scheduler.address,
                         period_losses=tmp_path / "dask")
    assert_same_book(local, remote)
    files = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "dask").iterdir())
    assert files == [f"chunk-{k:05d}.parquet" for k in range(-(-5_000 // local.chunk_years))]
    tables = [pd.concat([pd.read_parquet(tmp_path / side / f) for f in files], ignore_index=True)
              for side in ("local", "dask")]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    assert list(tables[0].columns) == ["year", "loss", "max_occurrence", "line:cyber", "line:drone", "line:ip"]
    assert np.array_equal(tables[0]["year"], np.arange(5_000)) and np.array_equal(tables[0]["loss"], local.annual)


@pytest.mark.slow
def test_prices_bit_identical_to_local(client, tmp_path):
    catalogue = ti.read_catalogue(write(tmp_path / "products", cyber=CYBER, fok=FOK))
    policies = pd.DataFrame([cyber_policy(policy_id=f"C{i}", cloud=("aws", "aliyun", "idc")[i % 3],
                                          revenue=1e7 * (1 + i % 4)) for i in range(12)]
                            + [fok_policy(policy_id=f"F{i}", units=1 + i % 3, contract_value=5e6 * (1 + i))
                               for i in range(6)])
    book = catalogue.book(policies)
    local = price_catalogue(catalogue, book, 30_000, 7)
    remote = price_catalogue(catalogue, book, 30_000, 7, backend="dask", client=client)
    for name in ("policies", "coverages", "lines", "products", "ep_curves"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(remote, name), check_exact=True)
    assert local.book == remote.book
    assert_same_book(local.result, remote.result)


def test_programme_and_groups_bit_identical_to_local(client, small_chunks):
    """``apply_programme`` (with groups and the occurrence table) and ``annual_by_group`` map their
    chunk jobs on the Dask executor to the local numbers."""
    book = small_book()
    result = ti.simulate(book, 6_000, seed=8)
    programme = ti.Programme((ti.QuotaShare(0.2), ti.PerRiskXL(2e6, 5e5),
                              ti.OccurrenceXL(5e6, 1e6, (1.0, 0.5)), ti.AggregateXL(2e7, 1e7)))
    assert_programme_and_groups_as_local(result, programme, client)


def assert_programme_and_groups_as_local(result, programme, client):
    """``apply_programme`` (groups, occurrences kept) and ``annual_by_group`` on Dask give the local bits,
    and the occurrences add up to the book."""
    groups = np.arange(result.portfolio.n_policies) % 4
    local = ti.apply_programme(result, programme, groups=groups, keep_occurrences=True)
    remote = ti.apply_programme(result, programme, groups=groups, keep_occurrences=True, backend="dask",
                                client=client)
    for name in ("gross", "net", "ceded", "reinstatement_factor", "group_gross", "group_net"):
        assert np.array_equal(getattr(local, name), getattr(remote, name)), name
    pd.testing.assert_frame_equal(local.occurrences, remote.occurrences, check_exact=True)
    np.testing.assert_allclose(local.gross, result.annual, rtol=1e-9)
    executor = ti_distributed.DaskExecutor(client)
    assert np.array_equal(annual_by_group(result, groups), annual_by_group(result, groups, executor=executor))


def test_programme_and_groups_on_a_copula_book_bit_identical_to_local(client, small_chunks):
    """With a copula the occurrences follow the reorder, drawn again on the workers from each chunk's
    two streams (claims and copula): ``apply_programme`` and ``annual_by_group`` give the local bits."""
    from tests.simulation.test_dependence import book

    result = ti.simulate(book(), 6_000, seed=8,
                         dependence=ti.Dependence(ti.GumbelCopula.from_tau(0.5), lines=("cyber", "ip")))
    programme = ti.Programme((ti.PerRiskXL(1e6, 2e5), ti.OccurrenceXL(3e6, 5e5, (1.0,)), ti.AggregateXL(np.inf, 8e6)))
    assert_programme_and_groups_as_local(result, programme, client)


@pytest.mark.slow
def test_pool_run_bit_identical_to_local(client):
    spec = ti.read_pool(ROOT / "examples" / "pools" / "cyber_pool.toml")
    local = ti.run_pool(spec, years=3_000, seed=5)
    remote = ti.run_pool(spec, years=3_000, seed=5, backend="dask", client=client)
    for name in ("members", "lines", "treaties", "allocation", "annual"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(remote, name), check_exact=True)
    assert local.pool == remote.pool


class KillOnce(WorkerPlugin):
    """Kills its worker's process (as a crash would) once in the whole cluster: on the first worker
    that starts a techins task while holding the result of another, so a finished result and a
    running task are lost together. A flag file makes it once: the restarted worker gets the plugin
    again."""

    def __init__(self, flag: str):
        self.flag = flag
        self.finished = 0

    def transition(self, key, start, finish, **kwargs):
        if not str(key).startswith("techins-book-"):
            return
        if finish == "memory":
            self.finished += 1
        elif finish == "executing" and self.finished >= 1:
            try:
                os.close(os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            os._exit(1)


@pytest.mark.slow
def test_killed_worker_is_retried_and_the_result_is_identical(client, tmp_path, monkeypatch, small_chunks):
    book = small_book()
    local = ti.simulate(book, 20_000, seed=13)
    flag = tmp_path / "killed"
    before = set(client.scheduler_info()["workers"])
    monkeypatch.setattr(ti_distributed, "TASK_CHUNKS", 1)  # one task per chunk: the kill falls mid-run
    assert 20_000 // local.chunk_years >= 30
    client.register_plugin(KillOnce(str(flag)), name="kill-once")
    try:
        remote = ti.simulate(book, 20_000, seed=13, backend="dask", client=client)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert flag.exists(), "no worker was killed"
    assert_same_book(local, remote)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the dead worker under a new address
    assert set(client.scheduler_info()["workers"]) != before
    # and the cluster still gives the same numbers afterwards
    assert_same_book(local, ti.simulate(book, 20_000, seed=13, backend="dask", client=client))


@pytest.mark.slow
def test_local_cluster_started_for_the_run_and_closed():
    line = ti.Line(ti.Poisson(2.0), ti.Exponential(1e4))
    before = set(multiprocessing.active_children())
    remote = ti.simulate(line, 50_000, seed=3, backend="dask")
    assert np.array_equal(remote.annual, ti.simulate(line, 50_000, seed=3).annual)
    assert set(multiprocessing.active_children()) <= before


def test_workers_with_other_versions_are_refused(client, monkeypatch):
    real, here = ti_distributed._versions, os.getpid()
    # the client sees another techins than its workers (the function runs on both sides)
    monkeypatch.setattr(ti_distributed, "_versions",
                        lambda: {**real(), "techins": "0.0.0"} if os.getpid() == here else real())
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0))
    with pytest.raises(ti.InputError, match=r"worker tcp://.* runs techins .* \(here 0.0.0\)"):
        ti.simulate(line, 100, seed=0, backend="dask", client=client)


def techins(*args):
    return subprocess.run([sys.executable, "-m", "techins", *map(str, args)], capture_output=True, text=True)


LINE_ARGS = ("simulate", "--frequency", "poisson:mean=3", "--severity", "lognormal:mu=10,sigma=1.5",
             "--years", 50_000, "--seed", 4, "--json")


def test_command_on_a_scheduler_gives_the_local_figures(client):
    local = techins(*LINE_ARGS)
    remote = techins(*LINE_ARGS, "--backend", "dask", "--scheduler", client.scheduler.address)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert json.loads(local.stdout)["monte_carlo"] == json.loads(remote.stdout)["monte_carlo"]


@pytest.mark.parametrize("extra, message", [
    (("--scheduler", "tcp://127.0.0.1:1"), "a scheduler is only used with --backend dask"),
    (("--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"), "tcp://127.0.0.1:1: no Dask scheduler answers"),
    (("--backend", "dask", "--scheduler", "nowhere"), "'nowhere': not a scheduler address"),
])
def test_command_bad_scheduler_is_one_line_and_status_2(extra, message):
    run = techins(*LINE_ARGS, *extra)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr and run.stdout == ""


def test_price_command_takes_the_backend_options(tmp_path):
    run = techins("price", ROOT / "products", "--portfolio", ROOT / "examples" / "portfolio.csv", "--out",
                  tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert run.returncode == 2 and "only used with --backend dask" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dependent_book_bit_identical_to_local(client, small_chunks):
    """A copula (the Iman–Conover reorder from each chunk's copula stream) and a shared frailty: the
    local run's bits on Dask, the co-TVaR tail re-run included."""
    from tests.simulation.test_dependence import book

    deps = [ti.Dependence(ti.StudentTCopula(0.6, 3.0), lines=("cyber", "ip", "drone")),
            ti.GammaFrailty(0.4, lines=("cyber",))]
    local = ti.simulate(book(), 8_000, seed=21, dependence=deps)
    assert local.chunk_years < 8_000 // 4  # many chunks, so several tasks
    remote = ti.simulate(book(), 8_000, seed=21, dependence=deps, backend="dask", client=client)
    assert_same_book(local, remote)
    for x, y in zip(book_tail_losses(local, 0.99), book_tail_losses(remote, 0.99, backend="dask", client=client)):
        assert x.size > 0 and np.array_equal(x, y)


class _SlowFirstGroup:
    """A chunk job whose first group takes a second: the later ones complete before it."""

    wave = None

    def __call__(self, ids):
        if ids[0] == 0:
            import time

            time.sleep(1.0)
        return int(ids[0])

    def fresh(self):
        return self


def test_progress_counts_tasks_as_they_complete_and_results_stay_in_order():
    import distributed

    events = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        executor = ti_distributed.DaskExecutor(c)
        for first in executor.map(_SlowFirstGroup(), np.arange(8), lambda done, total: events.append((done, total))):
            events.append(("result", first))
    results = [e[1] for e in events if e[0] == "result"]
    counts = [e for e in events if e[0] != "result"]
    assert results == list(range(8))  # one chunk per task here (2 threads), taken back in chunk order
    assert [d for d, _ in counts] == sorted(d for d, _ in counts) and counts[-1] == (8, 8)
    assert {t for _, t in counts} == {8}
    # the slow first task held back every result, not the count of the others completing meanwhile
    assert max(d for d, _ in events[:events.index(("result", 0))]) > 1


def test_book_with_progress_on_dask_bit_identical_to_local(client, small_chunks):
    book = small_book()

    class Recorder(list):
        def phase(self, name):
            self.append(name)

        def __call__(self, done, total):
            self.append((done, total))

    remote, local = Recorder(), Recorder()
    got = ti.simulate(book, 6_000, seed=3, backend="dask", client=client, progress=remote)
    assert_same_book(got, ti.simulate(book, 6_000, seed=3, progress=local))
    assert remote[0] == local[0] == "simulation"
    assert remote[-1] == local[-1] == (got.chunk_groups.size, got.chunk_groups.size)
    assert [d for d, _ in remote[1:]] == sorted(d for d, _ in remote[1:])
