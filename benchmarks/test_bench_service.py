"""Underwriting quotes against the catalogue book of examples/portfolio.csv (3,000 policies) saved at
20,000 and 100,000 years: the latency of one quote in process (p50, p99), a batch's quotes per second, a new
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
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import techins as ti

REPO = Path(__file__).resolve().parents[1]
BOOK_YEARS, SEED = (20_000, 100_000), 1
CLIENTS, PER_CLIENT = 8, 1_000


@pytest.fixture(scope="module", params=BOOK_YEARS, ids=lambda y: f"{y}y")
def saved(request, tmp_path_factory):
    catalogue = ti.read_catalogue(REPO / "products")
    policies = ti.read_policies(REPO / "examples" / "portfolio.csv")
    priced = ti.price_catalogue(catalogue, catalogue.book(policies), request.param, SEED)
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

    record(f"{len(policies)} quotes, {quoter.years:,}-year book", "serial", run)
    p50, p99 = _percentiles(latencies)
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99)
    print(f"\n{quoter.years:,}-year book, in-process single quote: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def test_batch_quotes(record, benchmark, quoter, candidates):
    table = pd.DataFrame(candidates[:400])
    record(f"{len(table)} quotes, {quoter.years:,}-year book", "batch (quote_many)", lambda: quoter.quote_many(table))
    rate = len(table) / benchmark.stats.stats.median
    benchmark.extra_info.update(quotes_per_second=rate)
    print(f"\n{quoter.years:,}-year book, batch: {rate:,.0f} quotes/s")


def test_two_threads(record, benchmark, quoter, candidates):
    policies = candidates[:400]

    def run():
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(quoter.quote, policies))

    record(f"{len(policies)} quotes, {quoter.years:,}-year book", "2 threads", run)
    print(f"\n{quoter.years:,}-year book, 2 threads: {len(policies) / benchmark.stats.stats.median:,.0f} quotes/s")


def test_a_new_process_quotes_from_the_saved_book(record, benchmark, saved, candidates):
    folder, _, _ = saved
    policy = json.dumps(candidates[0])
    script = ("import json, sys, time; t = time.perf_counter(); import techins as ti; "
              f"c = ti.read_catalogue({str(REPO / 'products')!r}); q = ti.CatalogueQuoter(c, ti.load_snapshot("
              f"{str(folder)!r}, c)); q.quote(json.loads(sys.argv[1])); print(time.perf_counter() - t)")

    def run():
        return float(subprocess.run([sys.executable, "-c", script, policy], capture_output=True, text=True,
                                    check=True).stdout)

    years = json.loads((folder / "manifest.json").read_text())["years"]
    inside = record(f"new process to first quote, {years:,}y", "saved book", run)
    benchmark.extra_info.update(in_process_seconds=inside)
    print(f"\nnew process to its first quote: {benchmark.stats.stats.median:.2f} s whole, {inside:.2f} s after start")


def test_http_service_under_concurrent_clients(benchmark, saved, candidates):
    """`techins serve` in its own process (as it is deployed: the clients' threads would otherwise take
    the server's GIL), one client alone then 8 at once over keep-alive connections."""
    pytest.importorskip("uvicorn")
    folder, _, _ = saved
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "techins", "serve", str(REPO / "products"), "--book", str(folder),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bodies = [json.dumps(p).encode() for p in candidates]

    def client(k: int, n: int = PER_CLIENT):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # keep-alive
        latencies, errors = [], 0
        for j in range(n):
            body = bodies[(k * n + j) % len(bodies)]
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
        deadline = time.monotonic() + 60
        while True:
            try:
                client(0, 5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        alone, alone_errors = client(0, 300)
        results = benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        server.terminate()
        server.wait(20)
    latencies = [t for part, _ in results for t in part]
    errors = sum(e for _, e in results) + alone_errors
    one50, one99 = _percentiles(alone)
    p50, p99 = _percentiles(latencies)
    rate = len(latencies) / benchmark.stats.stats.median
    benchmark.extra_info.update(one_client_p50_ms=one50, one_client_p99_ms=one99, p50_ms=p50, p99_ms=p99,
                                errors=errors, quotes_per_second=rate)
    years = json.loads((folder / "manifest.json").read_text())["years"]
    print(f"\n{years:,}-year book, HTTP: one client p50 {one50:.1f} ms, p99 {one99:.1f} ms; {CLIENTS} clients x "
          f"{PER_CLIENT:,} quotes: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rate:,.0f} quotes/s, {errors} errors")
    assert errors == 0 and len(latencies) == CLIENTS * PER_CLIENT
