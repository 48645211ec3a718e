"""The FastAPI application: HTTP only, thin over ``ledger`` (verification engine, mirror).

The API holds no agency key and writes nothing: it reads the mirror (and, for
``source=chain``, the contracts' views through a node). Processes are stateless and scale out
behind a load balancer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
import orjson
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.chain import Chain
from ledger.config import Settings
from ledger.deployment import Deployment
from ledger.errors import LedgerError
from ledger.mirror import MirrorQueries, MirrorStore
from ledger.registry import Registry
from ledger.verification import Verifier
from ledger.verification.factory import chain_verifier, mirror_verifier, node_watch

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
    # QR images decoded at once, off the event loop (CPU-bound): one core is left to the event
    # loop, so that decoding never takes the CPU the other requests need
    image_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    chain_workers: int = 8  # source=chain verifications at once, off the event loop (node round trips)
    max_queued: int = 32  # blocking jobs waiting for a worker before new ones get 503 BUSY


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BlockingPool:
    """Blocking work (QR image decoding, node round trips) runs in worker threads, at most
    ``workers`` at once, so that it never stalls the event loop that serves everyone else; when
    more than ``max_queued`` jobs already wait, a new one is refused with 503 BUSY."""

    def __init__(self, workers: int, max_queued: int, what: str) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.max_queued = max_queued
        self.what = what

    async def run(self, fn: Any, *args: Any) -> Any:
        if self.limiter.statistics().tasks_waiting >= self.max_queued:
            raise ApiError(503, "BUSY", f"too many requests waiting for {self.what}: try again shortly")
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)


def _lower_priority() -> None:
    """Worker processes yield the CPU to the event loops that serve everyone else: they run
    only when no other process wants the CPU (SCHED_IDLE), else at the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not permitted
        try:
            os.nice(19)
        except OSError:
            pass


class ProcessPool:
    """CPU-bound work (decoding QR images) in worker processes of lower priority: it holds
    neither the event loop nor the interpreter lock of the process that serves requests, and
    the operating system prefers the serving processes when the cores are busy. At most
    ``workers`` jobs run at once; when ``max_queued`` already wait, a new one gets 503 BUSY."""

    def __init__(self, workers: int, max_queued: int, what: str) -> None:
        self.workers, self.max_queued, self.what = workers, max_queued, what
        self._pool: ProcessPoolExecutor | None = None
        self._pending = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # created in the serving process, after any fork by the server
            # Workers fork from a clean server process (never from this one, which runs threads);
            # the server keeps the decoder imported, so a new pool starts in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ledger.qr", "PIL.Image", "zxingcpp"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_lower_priority)
        return self._pool

    async def run(self, fn: Any, *args: Any) -> Any:
        if self._pending >= self.workers + self.max_queued:
            raise ApiError(503, "BUSY", f"too many requests waiting for {self.what}: try again shortly")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
        finally:
            self._pending -= 1

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


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
        self.watch = node_watch(settings, self.deployment)  # the node, polled off the request path
        self.mirror_verifier = mirror_verifier(settings, self.deployment, self.queries, self.watch)
        self.metrics = Metrics.create()

    @cached_property
    def chain(self) -> Chain:
        return Chain(self.settings.node_url, timeout=self.settings.rpc_timeout)

    @cached_property
    def image_pool(self) -> ProcessPool:
        return ProcessPool(self.settings.image_workers, self.settings.max_queued, "QR image decoding")

    @cached_property
    def chain_pool(self) -> BlockingPool:
        return BlockingPool(self.settings.chain_workers, self.settings.max_queued, "chain verification")

    @cached_property
    def chain_verifier(self) -> Verifier:
        return chain_verifier(self.settings, self.deployment, Registry(self.chain, self.deployment), self.watch)

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
        state.watch.stop()
        if "image_pool" in state.__dict__:
            state.image_pool.shutdown()

    app = FastAPI(
        title="CertLedger",
        version="1.0",
        summary="Verify any province's e-certificate: genuine, current, and recognised in your region — with reasons.",
        lifespan=lifespan,
    )
    app.state.ledger = state

    from .routes import certificates, health, registry, verify
    from .routes.common import parameter_error

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
        own = parameter_error(tuple(first.get("loc", ())))
        if own is not None:  # a parameter that breaks its published pattern: the code its parser gives
            return error_response(422, *own)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(422, "VALIDATION_ERROR", f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405 names the methods that are allowed (Allow)
        return response

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
