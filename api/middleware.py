"""ASGI middleware, written against the ASGI interface (no per-request task or stream
wrapping): request-size limits, security headers, request latency metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

if TYPE_CHECKING:
    from .state import Metrics

# The pages (/verify, /wallet) have no inline script or style and load nothing from elsewhere
# (one inline import map on /verify, allowed by its hash; WebAssembly for the offline mode's
# SQLite; the service worker from this origin); the camera is for this origin only; a payload in
# the URL never leaks through a Referer.
IMPORT_MAP = '{"imports": {"crypto": "/static/no-node-crypto.js"}}'  # verify.html, byte for byte
IMPORT_MAP_HASH = "sha256-XlBeys8nUoKoiULKHiC8lTX9PuUJawi88zfyxD59mmo="
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' '" + IMPORT_MAP_HASH + "'; worker-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"permissions-policy", b"camera=(self)"),
    (b"referrer-policy", b"no-referrer"),
]
NOSNIFF = (b"x-content-type-options", b"nosniff")
PAGES = frozenset({"/verify", "/wallet", "/verify-sw.js"})  # the citizens' pages (besides their assets under /static/)


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


class HeadersAndTiming:
    """Every response says ``nosniff``; the web page and its assets also carry the page's
    policies (PAGE_HEADERS). Each request's latency is observed by method, route template
    (never the raw path: hashes would make unbounded label sets) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        page = path in PAGES or path.startswith("/static/")
        status = 503  # until a response starts: an exception ends in the handler that answers 503

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append(NOSNIFF)
                if page:
                    headers.extend(PAGE_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.answered(scope["method"], route, status, time.perf_counter() - started)


def size_limits(max_body: int, max_image: int) -> Callable[[str], int]:
    """The body limit for a content type: images (multipart uploads) may be larger than JSON."""

    def limit_for(content_type: str) -> int:
        return max_image if content_type.startswith(("multipart/", "image/")) else max_body

    return limit_for


class HashLookups:
    """GET /v1/certificates/{hash}, the route a compact QR's check hits most, answered without
    FastAPI's routing and parameter machinery when the request is well formed: by the very
    function the route calls (``answer``), so both answer alike (``tests/test_fast_path.py``
    holds them to it). Anything else — a parameter that breaks its published pattern, another
    path — goes on to the application, which refuses it as it always did."""

    PREFIX = "/v1/certificates/"

    def __init__(self, app: ASGIApp, state: Any, answer: Callable[..., Any], route: Any) -> None:
        from .params import AGENCY_PATTERN, HASH_PATTERN, REGION_PATTERN, TIME_PATTERN

        self.app, self.state, self.answer, self.route = app, state, answer, route
        self.hash = re.compile(HASH_PATTERN)
        self.patterns = {
            "verifier_region": re.compile(REGION_PATTERN),
            "agency": re.compile(AGENCY_PATTERN),
            "as_of": re.compile(TIME_PATTERN),
            "source": re.compile(r"^(mirror|chain)$"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith(self.PREFIX):
            cert_hash = path[len(self.PREFIX) :]
            if self.hash.fullmatch(cert_hash):
                query = QueryParams(scope.get("query_string", b""))
                values = {name: query.get(name) for name in self.patterns}
                if all(
                    v is None or p.fullmatch(v) for v, p in zip(values.values(), self.patterns.values(), strict=True)
                ):
                    from .handlers import answer_for

                    scope["route"] = self.route  # the latency metric's label, as for the route
                    try:
                        response = self.answer(
                            self.state,
                            cert_hash,
                            values["verifier_region"] or "",
                            values["agency"] or "",
                            values["as_of"] or "",
                            values["source"] or "mirror",
                        )
                    except Exception as exc:
                        response = answer_for(exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
