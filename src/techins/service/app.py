"""``techins serve``: the catalogue quoter behind HTTP, for underwriting systems that call over the
network (``docs/quote-service.md``).

Endpoints (JSON in and out; the OpenAPI schema at ``/openapi.json``, its pages at ``/docs``):

* ``POST /v1/quote`` -- one policy object (portfolio columns) -> one quote (``QUOTE_COLUMNS``);
* ``POST /v1/quotes`` -- ``{"policies": [...]}`` -> ``{"quotes": [...]}``, validated and priced together;
* ``GET /v1/products`` -- the catalogue: each product's columns, levels and coverages;
* ``GET /v1/health`` -- the book served (years, seed, policies, catalogue digest) and the version.

Policies are free-form objects (each product reads its own columns), so the library validates them:
any ``InputError`` / ``InputTypeError`` becomes a 422 whose ``detail`` names the field, as FastAPI's
own validation errors do. Figures that do not apply (NaN) are ``null``. Endpoints are synchronous:
the server runs them in its thread pool, and one ``CatalogueQuoter`` serves every thread.
"""


# no ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run time,
# and the request models are made inside create_app
import logging
import re
from typing import Any

from techins.catalogue.quote import CatalogueQuoter
from techins.errors import InputError, InputTypeError, MissingExtraError
from techins.io.outputs import json_ready
from techins.io.schema import COVERAGE_TERMS, POLICY_TERMS, QUOTE_COLUMNS
from techins.version import VERSION

__all__ = ["create_app", "run_server", "known_fields", "MAX_BATCH", "EXTRA_MESSAGE"]

MAX_BATCH = 10_000  # policies in one POST /v1/quotes: beyond it, split the batch
EXTRA_MESSAGE = "techins serve needs the serve extra: pip install 'techins[serve]'"
_LOG = logging.getLogger("techins.service")
_TEXT = {"policy_id", "product", "line", "currency", "priced_as", "risk_measure"}
_INTEGER = {"years"}
_BOOLEAN = {"cap_binding"}


def _fastapi():
    try:
        import fastapi
        import pydantic
    except ImportError as exc:
        raise MissingExtraError(f"{EXTRA_MESSAGE} ({exc})") from None
    return fastapi, pydantic


def create_app(quoter: CatalogueQuoter):
    """The FastAPI application serving ``quoter``.

    Parameters
    ----------
    quoter : techins.CatalogueQuoter
        Built once (``CatalogueQuoter(catalogue, load_snapshot(folder, catalogue))``).

    Returns
    -------
    fastapi.FastAPI
    """
    if not isinstance(quoter, CatalogueQuoter):
        raise InputTypeError(f"create_app: quoter must be a CatalogueQuoter, got {type(quoter).__name__}")
    fastapi, pydantic = _fastapi()

    from fastapi.responses import JSONResponse

    quote_model = _quote_model(pydantic)
    fields = known_fields(quoter)

    class QuotesRequest(pydantic.BaseModel):
        policies: list[dict[str, Any]] = pydantic.Field(min_length=1, max_length=MAX_BATCH,
                                                        description="policies, each an object of portfolio columns")

    class QuotesResponse(pydantic.BaseModel):
        quotes: list[quote_model]

    app = fastapi.FastAPI(title="techins quote service", version=VERSION,
                          description="Quotes tech-insurance policies against a simulated, priced book: the same "
                                      "basis as `techins price`. See docs/quote-service.md.")
    policy_example = {"policy_id": "Q-1", "product": "cyber_sme", "revenue": 2.5e7, "industry_hazard": "high",
                      "security_score": "B", "cloud_provider": "aws", "software_vendor": "microsoft"}

    @app.exception_handler(InputError)
    @app.exception_handler(InputTypeError)
    async def _bad_input(request, exc):
        return JSONResponse(status_code=422, content={"detail": [_error_detail(str(exc), request.url.path, fields)]})

    @app.exception_handler(Exception)
    async def _bug(request, exc):
        # a defect, not the caller's mistake: logged here, never a traceback in the response
        _LOG.exception("quote service: unexpected error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; the server log has the details"})

    @app.post("/v1/quote", response_model=quote_model, summary="Quote one policy")
    def quote(policy: dict[str, Any] = fastapi.Body(..., examples=[policy_example])):
        return json_ready(quoter.quote(policy))

    @app.post("/v1/quotes", response_model=QuotesResponse, summary="Quote a batch of policies together")
    def quotes(request: QuotesRequest):
        import pandas as pd

        table = quoter.quote_many(pd.DataFrame(request.policies))
        return {"quotes": [json_ready(row) for row in table.to_dict(orient="records")]}

    @app.get("/v1/products", summary="The catalogue's products and the columns each one reads")
    def products():
        return {"products": quoter.describe_products()}

    @app.get("/v1/health", summary="The book served and the version")
    def health():
        snapshot = quoter.snapshot
        return {"status": "ok", "techins": VERSION, "years": snapshot.years, "seed": snapshot.seed,
                "policies": int(len(snapshot.policies)), "catalogue_digest": snapshot.catalogue_digest,
                "products": len(quoter.catalogue.products)}

    return app


def run_server(quoter: CatalogueQuoter, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info",
               announce: str | None = None) -> None:
    """Serve ``quoter`` with uvicorn until interrupted (one process; its thread pool runs the quotes);
    ``announce`` is printed once the application is built, before the port is bound."""
    app = create_app(quoter)
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError(f"{EXTRA_MESSAGE} ({exc})") from None
    if announce:
        print(announce, flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def _quote_model(pydantic):
    fields = {}
    for name in QUOTE_COLUMNS:
        kind = str if name in _TEXT else int if name in _INTEGER else bool if name in _BOOLEAN else float | None
        fields[name] = (kind, ...)
    return pydantic.create_model("Quote", **fields)


_ROW = re.compile(r"\brow (\d+)\b")
_MISSING = re.compile(r"missing column '([^']+)'")
_FIRST_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\b")


def known_fields(quoter: CatalogueQuoter) -> frozenset:
    """Every column a policy object may hold: ids, each product's columns and each term override."""
    names = {"policy_id", "product", "share", *POLICY_TERMS}
    for product in quoter.catalogue.products.values():
        names.update(product.columns())
        names.update(f"{c.name}_{term}" for c in product.coverages for term in COVERAGE_TERMS)
    return frozenset(names)


def _error_detail(message: str, path: str, fields: frozenset) -> dict:
    """FastAPI's error shape: where (``loc``) and what (``msg``, the library's message, which names the
    field). The location is read from the message: the batch row it names and the field."""
    loc = ["body"]
    if path.endswith("/quotes"):
        loc.append("policies")
        row = _ROW.search(message)
        if row:
            loc.append(int(row.group(1)) - 1)  # messages count rows from 1, JSON arrays from 0
    missing = _MISSING.search(message)
    first = _FIRST_WORD.match(message.rsplit(": ", 1)[-1])
    field = missing.group(1) if missing else first.group(1) if first else None
    if field in fields:
        loc.append(field)
    return {"loc": loc, "msg": message, "type": "value_error"}
