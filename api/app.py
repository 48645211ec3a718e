"""The FastAPI application: HTTP only, thin over ``ledger`` (verification engine, mirror).

The API holds no agency key and writes nothing: it reads the mirror (and, for
``source=chain``, the contracts' views through a node). Processes are stateless and scale out
behind a load balancer.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
import orjson
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from pydantic_settings import SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.chain import Chain
from ledger.config import Settings
from ledger.deployment import Deployment
from ledger.errors import LedgerError
from ledger.mirror import MirrorQueries, MirrorStore
from ledger.registry import Registry
from ledger.verification import ChainSource, MirrorSource, Verifier

STATIC = Path(__file__).parent / "static"
disable_created_metrics()  # no *_created series: counters and histograms only

# The page has no inline script or style and loads nothing from elsewhere; the camera is
# for this origin only; a payload in the URL never leaks through a Referer.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Permissions-Policy": "camera=(self)",
    "Referrer-Policy": "no-referrer",
}


class ApiSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="CERTLEDGER_", extra="ignore")

    max_body_bytes: int = 64 * 1024  # JSON documents and payloads
    max_image_bytes: int = 4 * 1024 * 1024  # uploaded QR images
    max_lag_blocks: int = 5  # a mirror further behind answers ERROR
    max_staleness_seconds: float = 10.0  # ... as does one whose indexer last reached the chain this long ago


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


@dataclass
class Metrics:
    registry: CollectorRegistry
    verifications: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry()
        return cls(
            reg,
            Counter("certledger_verifications", "Verifications by verdict and source", ["verdict", "source", "kind"], registry=reg),
            Histogram(
                "certledger_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=reg,
            ),
        )


class AppState:
    """What the request handlers share; built once per process."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.deployment = Deployment.load(settings.deployment_path)
        self.store = MirrorStore(settings.mirror_url)
        self.queries = MirrorQueries(self.store)
        self.mirror_verifier = Verifier(
            MirrorSource(
                self.queries,
                max_lag_blocks=settings.max_lag_blocks,
                max_staleness_seconds=settings.max_staleness_seconds,
                live_head=lambda: self.chain.block_number(),
            ),
            self.deployment,
        )
        self.metrics = Metrics.create()

    @cached_property
    def chain(self) -> Chain:
        return Chain(self.settings.node_url, timeout=5.0)

    @cached_property
    def chain_verifier(self) -> Verifier:
        return Verifier(ChainSource(Registry(self.chain, self.deployment)), self.deployment)

    def verifier(self, source: str) -> Verifier:
        return self.chain_verifier if source == "chain" else self.mirror_verifier


class BodyLimit:
    """Refuse bodies over the limit with 413: by Content-Length when given, else by reading at
    most limit + 1 bytes before the application sees anything (chunked or lying uploads)."""

    def __init__(self, app: ASGIApp, limit_for: Any) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.limit_for(content_type)
        too_large = error_response(413, "BODY_TOO_LARGE", f"request body larger than {limit} bytes")
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        state.store.dispose()

    app = FastAPI(
        title="CertLedger",
        version="1.0",
        summary="Verify any province's e-certificate: genuine, current, and recognised in your region — with reasons.",
        lifespan=lifespan,
    )
    app.state.ledger = state

    from .routes import certificates, health, registry, verify

    for module in (certificates, verify, registry, health):
        app.include_router(module.router)
    from .routes import speech

    app.include_router(speech.router)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(LedgerError)
    async def _ledger_error(_: Request, exc: LedgerError) -> Response:
        status = 422 if exc.code in ("INVALID_INPUT",) else 503
        return error_response(status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(422, "VALIDATION_ERROR", f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        # The mirror database or the node failed under us: the system cannot decide right now.
        return error_response(503, "UNAVAILABLE", f"temporarily unable to answer: {type(exc).__name__}")

    @app.middleware("http")
    async def _timing(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.url.path == "/verify" or request.url.path.startswith("/static/"):
            response.headers.update(PAGE_HEADERS)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        state.metrics.latency.labels(request.method, path, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    def limit_for(content_type: str) -> int:
        return settings.max_image_bytes if content_type.startswith("multipart/") or content_type.startswith("image/") else settings.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/verify")

    return app
