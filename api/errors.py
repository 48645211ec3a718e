"""Errors as the API answers them: ``{"error": {"code", "message"}}`` with a 4xx or 503.
Routes raise ``ApiError``; ``handlers`` turns every exception into such an answer."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class ApiError(Exception):
    """A refusal with its HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def json_response(body: Any, status: int = 200) -> Response:
    """``body`` as JSON, as it is: a route's ``response_model`` then only documents the answer
    (FastAPI validates nothing returned as a Response; the tests hold the answers to the models)."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)
