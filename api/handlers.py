"""One handler per kind of exception, each answering ``{"error": {"code", "message"}}``:
our own refusals, the core's errors, FastAPI's validation, Starlette's HTTP errors, and
anything unexpected (503: the system cannot decide right now, never a 500 with a trace)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError

from .errors import ApiError, error_response
from .params import parameter_error


def answer_for(exc: Exception) -> Response:
    """The answer to a route's exception: our refusal, the core's error (422 for bad input,
    else 503), or anything unexpected (503: the system cannot decide right now)."""
    if isinstance(exc, ApiError):
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response
    if isinstance(exc, LedgerError):
        return error_response(422 if exc.code in ("INVALID_INPUT",) else 503, exc.code, str(exc))
    # The mirror database or the node failed under us: the system cannot decide right now.
    return error_response(503, "UNAVAILABLE", f"temporarily unable to answer: {type(exc).__name__}")


async def _api_error(_: Request, exc: Exception) -> Response:
    return answer_for(exc)


async def _ledger_error(_: Request, exc: Exception) -> Response:
    return answer_for(exc)


async def _validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    own = parameter_error(tuple(first.get("loc", ())))
    if own is not None:  # a parameter that breaks its published pattern: the code its parser gives
        return error_response(422, *own)
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg"))
    return error_response(422, "VALIDATION_ERROR", message)


async def _http(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
    response = error_response(exc.status_code, code, str(exc.detail))
    response.headers.update(exc.headers or {})  # a 405 names the methods that are allowed (Allow)
    return response


async def _unexpected(_: Request, exc: Exception) -> Response:
    return answer_for(exc)


def install_handlers(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        ApiError: _api_error,
        LedgerError: _ledger_error,
        RequestValidationError: _validation,
        StarletteHTTPException: _http,
        Exception: _unexpected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
