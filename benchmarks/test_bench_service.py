"""Underwriting quotes against the catalogue book of examples/portfolio.csv (3,000 policies) saved at
100,000 years: the latency of one quote in process (p50, p99), a batch's quotes per second, a new
process's time from start to its first quote from the saved book, and the HTTP service under 8
concurrent clients x 1,000 quotes (p50, p99, errors).

Ratios: single quotes one after another ("serial") are the baseline of the batch and of two threads.
The quotes are of new policies (the example's rows under new ids, the first-of-kind products left out:
their batch-clause scenarios refuse new policies), so each is simulated and priced.
"""

import http.client
import json
import math
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti

REPO = Path(__file__).resolve().parents[1]
YEARS, SEED = 100_000, 1
CLIENTS, PER_CLIENT = 8, 1_000


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    catalogue = ti.read_catalogue(REPO / "products")
    policies = ti.read_policies(REPO / "examples" / "portfolio.csv")
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), YEARS, SEED)
    folder = ti.save_snapshot(ti.BookSnapshot.from_priced(catalogue, priced), tmp_path_factory.mktemp("b") / "book")
    return folder, catalogue, policies


@pytest.fixture(scope="module")
def quoter(saved):
    folder, catalogue, _ = saved
    return ti.CatalogueQuoter(catalogue, ti.load_snapshot(folder, catalogue))


@pytest.fixture(scope="module")
def candidates(saved):
    _, _, policies = saved
    new = policies[~policies["product"].str.startswith("fok_")].copy()
    new["policy_id"] = "NEW-" + new["policy_id"]
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
            for row in new.to_dict(orient="records")]


def _percentiles(seconds) -> tuple[float, float]:
    ms = 1e3 * np.asarray(seconds)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def test_single_quote_latency(record, benchmark, quoter, candidates):
    policies = candidates[:400]
    quoter.quote(policies[0])
    latencies = []

    def run():
        latencies.clear()
        for policy in policies:
            start = time.perf_counter()
            quoter.quote(policy)
            latencies.append(time.perf_counter() - start)

    record(f"{len(policies)} quotes, {YEARS:,}-year book", "serial", run)
    p50, p99 = _percentiles(latencies)
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99)
    print(f"\nin-process single quote: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def test_batch_quotes(record, benchmark, quoter, candidates):
    table = pd.DataFrame(candidates[:400])
    record(f"{len(table)} quotes, {YEARS:,}-year book", "batch (quote_many)", lambda: quoter.quote_many(table))
    rate = len(table) / benchmark.stats.stats.median
    benchmark.extra_info.update(quotes_per_second=rate)
    print(f"\nbatch: {rate:,.0f} quotes/s")


def test_two_threads(record, benchmark, quoter, candidates):
    policies = candidates[:400]

    def run():
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(quoter.quote, policies))

    record(f"{len(policies)} quotes, {YEARS:,}-year book", "2 threads", run)
    print(f"\n2 threads: {len(policies) / benchmark.stats.stats.median:,.0f} quotes/s")


def test_a_new_process_quotes_from_the_saved_book(record, benchmark, saved, candidates):
    folder, _, _ = saved
    policy = json.dumps(candidates[0])
    script = ("import json, sys, time; t = time.perf_counter(); import techins as ti; "
              f"c = ti.read_catalogue({str(REPO / 'products')!r}); q = ti.CatalogueQuoter(c, ti.load_snapshot("
              f"{str(folder)!r}, c)); q.quote(json.loads(sys.argv[1])); print(time.perf_counter() - t)")

    def run():
        return float(subprocess.run([sys.executable, "-c", script, policy], capture_output=True, text=True,
                                    check=True).stdout)

    inside = record("start to first quote (new process)", "saved book", run)
    benchmark.extra_info.update(in_process_seconds=inside)
    print(f"\nnew process to its first quote: {benchmark.stats.stats.median:.2f} s whole, {inside:.2f} s after start")


def test_http_service_under_concurrent_clients(benchmark, quoter, candidates):
    uvicorn = pytest.importorskip("uvicorn")
    from techins.service.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(quoter), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    bodies = [json.dumps(p).encode() for p in candidates]

    def client(k: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # keep-alive
        latencies, errors = [], 0
        for j in range(PER_CLIENT):
            body = bodies[(k * PER_CLIENT + j) % len(bodies)]
            start = time.perf_counter()
            connection.request("POST", "/v1/quote", body=body, headers={"content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            errors += response.status != 200
        connection.close()
        return latencies, errors

    def run():
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            return list(pool.map(client, range(CLIENTS)))

    try:
        results = benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        server.should_exit = True
        thread.join(10)
    latencies = [t for part, _ in results for t in part]
    errors = sum(e for _, e in results)
    p50, p99 = _percentiles(latencies)
    rate = len(latencies) / benchmark.stats.stats.median
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99, errors=errors, quotes_per_second=rate)
    print(f"\nHTTP, {CLIENTS} clients x {PER_CLIENT:,} quotes: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"{rate:,.0f} quotes/s, {errors} errors")
    assert errors == 0 and len(latencies) == CLIENTS * PER_CLIENT
