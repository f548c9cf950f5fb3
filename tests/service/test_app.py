"""The HTTP quote service against a real server on 127.0.0.1: quotes equal the library's to the cent,
a policy of the book gets its portfolio price, bad input is a 422 naming the field (never a 500), and
`techins serve` starts, answers and refuses a bad book before binding its port."""

import http.client
import json
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from techins.catalogue.products import read_catalogue, read_policies
from techins.catalogue.quote import CatalogueQuoter
from techins.catalogue.snapshot import load_snapshot
from techins.io.schema import QUOTE_COLUMNS
from tests.cli_runner import techins

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (make test installs it)")

from techins.service.app import MAX_BATCH, create_app  # noqa: E402  (after the extra is known to be there)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service") / "book"
    portfolio = folder.parent / "portfolio.csv"
    read_policies(REPO / "examples" / "portfolio.csv").iloc[::12].to_csv(portfolio, index=False)
    ran = techins("book", "save", REPO / "products", "--portfolio", portfolio, "--years", 2000, "--seed", 4,
                  "--out", folder, "--quiet")
    assert ran.returncode == 0, ran.stderr
    return folder, read_policies(portfolio)


@pytest.fixture(scope="module")
def quoter(book):
    catalogue = read_catalogue(REPO / "products")
    return CatalogueQuoter(catalogue, load_snapshot(book[0], catalogue))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(quoter):
    """uvicorn serving the app on a free port of 127.0.0.1, in a thread of this process."""
    port = _free_port()
    config = uvicorn.Config(create_app(quoter), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield port
    running.should_exit = True
    thread.join(10)
    assert not thread.is_alive()


def call(port: int, method: str, path: str, body=None, raw: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"content-type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else None


def _policy(policies, i, **changes) -> dict:
    row = {k: v for k, v in policies.iloc[i].to_dict().items() if not (isinstance(v, float) and math.isnan(v))}
    return {**row, **changes}


def _candidates(policies, n=12):
    rows = [i for i in range(len(policies)) if not str(policies["product"].iloc[i]).startswith("fok_")][:n]
    return [_policy(policies, i, policy_id=f"NEW-{i}") for i in rows]


def _as_json(quote: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in quote.items()}


def test_quotes_over_http_equal_the_library(server, quoter, book):
    _, policies = book
    for policy in _candidates(policies) + [_policy(policies, 0)]:
        status, quote = call(server, "POST", "/v1/quote", policy)
        assert status == 200, quote
        assert list(quote) == list(QUOTE_COLUMNS)
        assert quote == _as_json(quoter.quote(policy))
    status, quote = call(server, "POST", "/v1/quote", _policy(policies, 0))
    assert quote["priced_as"] == "in_book"


def test_a_batch_over_http_equals_the_library_batch(server, quoter, book):
    import pandas as pd

    _, policies = book
    batch = _candidates(policies, 30) + [_policy(policies, 3)]
    status, body = call(server, "POST", "/v1/quotes", {"policies": batch})
    assert status == 200, body
    expected = quoter.quote_many(pd.DataFrame(batch)).to_dict(orient="records")
    assert body["quotes"] == [_as_json(q) for q in expected]


def test_products_health_and_openapi(server, quoter):
    status, body = call(server, "GET", "/v1/products")
    assert status == 200 and [p["id"] for p in body["products"]] == sorted(quoter.catalogue.products)
    assert body["products"][1]["columns"]["revenue"] == "number"
    status, body = call(server, "GET", "/v1/health")
    assert status == 200 and body["status"] == "ok" and body["years"] == 2000 and body["seed"] == 4
    assert body["catalogue_digest"] == quoter.catalogue.digest
    status, schema = call(server, "GET", "/openapi.json")
    assert status == 200 and {"/v1/quote", "/v1/quotes", "/v1/products", "/v1/health"} <= set(schema["paths"])
    assert set(schema["components"]["schemas"]["Quote"]["properties"]) == set(QUOTE_COLUMNS)


BAD = [
    ("unknown product", "/v1/quote", lambda p: {**p, "product": "space_tourism"}, ["body", "product"],
     "not in the catalogue"),
    ("negative exposure", "/v1/quote", lambda p: {**p, "revenue": -1}, ["body", "revenue"], "revenue must be > 0"),
    ("text exposure", "/v1/quote", lambda p: {**p, "revenue": "lots"}, ["body", "revenue"], "revenue"),
    ("missing exposure", "/v1/quote", lambda p: {k: v for k, v in p.items() if k != "revenue"}, ["body", "revenue"],
     "missing column 'revenue'"),
    ("unknown level", "/v1/quote", lambda p: {**p, "industry_hazard": "volcanic"}, ["body", "industry_hazard"],
     "not a level"),
    ("negative limit", "/v1/quote", lambda p: {**p, "incident_response_limit": -5}, ["body", "incident_response_limit"],
     "incident_response_limit"),
    ("no policy_id", "/v1/quote", lambda p: {k: v for k, v in p.items() if k != "policy_id"}, ["body", "policy_id"],
     "policy_id"),
    ("bad row of a batch", "/v1/quotes", lambda p: {"policies": [p, {**p, "policy_id": "B", "revenue": -2}]},
     ["body", "policies", 1, "revenue"], "row 2"),
    ("duplicate ids in a batch", "/v1/quotes", lambda p: {"policies": [p, p]}, ["body", "policies", 1],
     "duplicate policy_id"),
]


@pytest.mark.parametrize("what, path, change, loc, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_422_naming_the_field(server, book, what, path, change, loc, message):
    _, policies = book
    i = int((policies["product"] == "cyber_sme").to_numpy().argmax())
    status, body = call(server, "POST", path, change(_policy(policies, i, policy_id="A")))
    assert status == 422, body
    (detail,) = body["detail"]
    assert detail["loc"] == loc and message in detail["msg"] and "Traceback" not in detail["msg"]


@pytest.mark.parametrize("raw, path", [(b"not json", "/v1/quote"), (b"[1, 2]", "/v1/quote"), (b"{}", "/v1/quotes"),
                                       (b'{"policies": []}', "/v1/quotes"), (b'{"policies": [1]}', "/v1/quotes"),
                                       (b"{}", "/v1/quote")])
def test_malformed_bodies_are_422_never_500(server, raw, path):
    status, body = call(server, "POST", path, raw=raw)
    assert status == 422 and body["detail"], body


def test_a_batch_above_the_limit_is_refused(server):
    status, body = call(server, "POST", "/v1/quotes", {"policies": [{}] * (MAX_BATCH + 1)})
    assert status == 422 and "policies" in body["detail"][0]["loc"]


def test_the_serve_command_answers_then_stops(book):
    folder, policies = book
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "techins", "serve", str(REPO / "products"), "--book",
                                str(folder), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = call(port, "GET", "/v1/health")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.2)
        assert status == 200 and body["policies"] == len(policies)
        status, quote = call(port, "POST", "/v1/quote", _candidates(policies, 1)[0])
        assert status == 200 and quote["premium"] > 0
    finally:
        process.terminate()
        process.communicate(timeout=20)  # also closes the pipes


def test_a_bad_book_stops_the_command_before_it_serves(tmp_path):
    ran = techins("serve", REPO / "products", "--book", tmp_path / "none", "--port", _free_port())
    assert ran.returncode == 2 and "no such folder" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


def test_concurrent_single_quotes_get_their_own_answers(server, quoter, book):
    # 8 clients at once, the server's thread pool sharing one quoter: each gets its own quote, and a
    # bad one among them its own 422
    from concurrent.futures import ThreadPoolExecutor

    _, policies = book
    candidates = _candidates(policies, 24) + [_policy(policies, 0)]
    bad = {**candidates[0], "policy_id": "BAD", "revenue": -1} if "revenue" in candidates[0] else \
        {**candidates[0], "policy_id": "BAD", "product": "space_tourism"}
    requests = candidates * 3 + [bad] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: call(server, "POST", "/v1/quote", p), requests))
    for policy, (status, body) in zip(requests, answers):
        if policy is bad:
            assert status == 422 and body["detail"][0]["loc"][0] == "body"
        else:
            assert status == 200 and body == _as_json(quoter.quote(policy))
