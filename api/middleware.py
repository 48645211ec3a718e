"""ASGI middleware, written against the ASGI interface (no per-request task or stream
wrapping): request-size limits, security headers, request latency metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

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


def first_header(scope: Scope, name: bytes) -> bytes | None:
    """A request header's first value, as the application reads it (``Request.headers.get``):
    a header sent twice is judged by one value everywhere."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Refuse bodies over the limit with 413: by Content-Length when given, else by reading at
    most limit + 1 bytes before the application sees anything (chunked or lying uploads)."""

    def __init__(self, app: ASGIApp, limit_for: Any) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        content_type = (first_header(scope, b"content-type") or b"").decode("latin-1")
        limit = self.limit_for(content_type)

        def too_large() -> Any:
            return error_response(413, "BODY_TOO_LARGE", f"request body larger than {limit} bytes")

        length = first_header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large()(scope, receive, send)
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
                await too_large()(scope, receive, send)
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


class FastPaths:
    """The two routes QR checks hit most, answered without FastAPI's routing and parameter
    machinery when the request is well formed, by the very functions the routes call (so both
    answer alike: ``tests/test_fast_path.py`` holds them to it):

    - GET /v1/certificates/{hash} (``lookup``: the route's ``answer_by_hash``);
    - POST /v1/verify with a JSON body and no API key (``verify``: the route's
      ``answer_verify``); a caller with a key is authenticated and rate-counted by the route.

    Anything else — a parameter that breaks its published pattern, another content type,
    another path — goes on to the application, which refuses or answers it as it always did."""

    PREFIX = "/v1/certificates/"
    VERIFY = "/v1/verify"

    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        lookup: Callable[..., Any],
        lookup_route: Any,
        verify: Callable[..., Awaitable[Any]],
        verify_route: Any,
    ) -> None:
        from .handlers import answer_for
        from .params import AGENCY_PATTERN, HASH_PATTERN, REGION_PATTERN, TIME_PATTERN
        from .routes.verify import json_input

        self.answer_for, self.json_input = answer_for, json_input
        self.app, self.state = app, state
        self.lookup, self.lookup_route, self.verify, self.verify_route = lookup, lookup_route, verify, verify_route
        self.hash = re.compile(HASH_PATTERN)
        self.patterns = {
            "verifier_region": re.compile(REGION_PATTERN),
            "agency": re.compile(AGENCY_PATTERN),
            "as_of": re.compile(TIME_PATTERN),
            "source": re.compile(r"^(mirror|chain)$"),
        }

    def _parameters(self, scope: Scope) -> dict[str, str | None] | None:
        """The query's parameters, or None when one breaks its published pattern. Read as the
        route reads them (Starlette's ``QueryParams``: Latin-1, blanks kept, the last value of a
        name sent twice), without building its multi-dict."""
        raw: bytes = scope.get("query_string", b"")
        query = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
        values = {name: query.get(name) for name in self.patterns}
        if all(v is None or p.fullmatch(v) for v, p in zip(values.values(), self.patterns.values(), strict=True)):
            return values
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            method: str = scope["method"]
            if method == "GET" and path.startswith(self.PREFIX) and self.hash.fullmatch(path[len(self.PREFIX) :]):
                values = self._parameters(scope)
                if values is not None:
                    await self._lookup(path[len(self.PREFIX) :], values, scope, receive, send)
                    return
            elif method == "POST" and path == self.VERIFY and self._anonymous_json(scope):
                values = self._parameters(scope)
                if values is not None:
                    await self._verify(values, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    def _anonymous_json(scope: Scope) -> bool:
        if first_header(scope, b"authorization") is not None or first_header(scope, b"x-api-key") is not None:
            return False
        return (first_header(scope, b"content-type") or b"").startswith(b"application/json")

    async def _lookup(
        self, cert_hash: str, values: dict[str, str | None], scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["route"] = self.lookup_route  # the latency metric's label, as for the route
        try:
            response = self.lookup(
                self.state,
                cert_hash,
                values["verifier_region"] or "",
                values["agency"] or "",
                values["as_of"] or "",
                values["source"] or "mirror",
            )
        except Exception as exc:
            response = self.answer_for(exc)
        await response(scope, receive, send)

    async def _verify(self, values: dict[str, str | None], scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.verify_route
        chunks: list[bytes] = []
        while True:  # the whole body (BodyLimit has bounded it)
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break

        async def read_input() -> tuple[str, Any]:
            return self.json_input(b"".join(chunks))

        try:
            response = await self.verify(
                self.state,
                None,
                values["verifier_region"] or "",
                values["as_of"] or "",
                values["source"] or "mirror",
                read_input,
            )
        except Exception as exc:
            response = self.answer_for(exc)
        await response(scope, receive, send)
