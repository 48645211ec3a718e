"""The FastAPI application, assembled: state, routes, error handlers, middleware, the page.

The API holds no agency key and writes nothing: it reads the mirror (and, for
``source=chain``, the contracts' views through a node). Processes are stateless and scale out
behind a load balancer. The parts live in their own modules: ``settings``, ``state`` (what
handlers share), ``deps`` (how routes get it), ``params`` (request parameters), ``errors`` and
``handlers``, ``pools``, ``middleware``, ``models`` (response shapes) and ``routes/``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles

from .handlers import install_handlers
from .middleware import BodyLimit, FastPaths, HeadersAndTiming, size_limits
from .routes import certificates, content, health, receipts, registry, snapshot, speech, verify
from .settings import STATIC, ApiSettings
from .state import AppState

__all__ = ["ApiSettings", "create_app"]


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The application for ``settings`` (default: from the environment)."""
    settings = settings or ApiSettings()
    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything loaded by now (the application, its libraries, the caches' first entries)
        # lives as long as the worker: kept out of the cycle collector's full passes, which
        # would otherwise walk a few hundred thousand objects in the middle of some request.
        gc.collect()
        gc.freeze()
        yield
        state.close()

    app = FastAPI(
        title="CertLedger",
        version="1.0",
        summary="Verify any province's e-certificate: genuine, current, and recognised in your region — with reasons.",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ledger = state
    for module in (certificates, verify, receipts, registry, content, snapshot, health, speech):
        app.include_router(module.router)
    install_handlers(app)
    if settings.fast_paths:
        routes = {r.path: r for r in iter_route_contexts(app.routes)}
        app.add_middleware(
            FastPaths,
            state=state,
            lookup=certificates.answer_by_hash,
            lookup_route=routes["/v1/certificates/{cert_hash}"],
            verify=verify.answer_verify,
            verify_route=routes["/v1/verify"],
        )
    app.add_middleware(BodyLimit, limit_for=size_limits(settings.max_body_bytes, settings.max_image_bytes))
    app.add_middleware(HeadersAndTiming, metrics=state.metrics)  # outermost: sees every answer
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/verify")

    return app
