"""/healthz, /metrics and the citizens' page /verify."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..app import STATIC, error_response, json_response
from ..models import HealthModel
from .common import state_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthModel, responses={503: {"model": HealthModel}})
def healthz(request: Request) -> Any:
    """Chain head, mirror head and lag. 200 when the mirror can answer verifications, else 503."""
    state = state_of(request)
    chain_head = None
    problems = []
    try:
        chain_head = state.chain.block_number()
    except Exception as exc:
        problems.append(f"node at {state.chain.public_url} unreachable: {type(exc).__name__}")
    mirror_block = lag = None
    try:
        head = state.queries.head()
        mirror_block = head.block
        reference = chain_head if chain_head is not None else head.chain_head
        lag = None if reference is None else max(0, reference - head.block)
        state.mirror_verifier.source.head()  # the same test verification applies
        if lag is not None and lag > state.settings.max_lag_blocks:
            problems.append(f"the mirror is {lag} blocks behind the chain")
    except Exception as exc:
        problems.append(str(exc) if str(exc) else type(exc).__name__)
    status = "ok" if not problems else ("degraded" if mirror_block is not None else "down")
    body = {
        "status": status,
        "chain_head": chain_head,
        "mirror_block": mirror_block,
        "lag_blocks": lag,
        "chain_id": state.deployment.chain_id,
        "detail": "; ".join(problems) or "mirror in step with the chain",
    }
    return json_response(body, 200 if status == "ok" else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(state_of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/verify", include_in_schema=False)
def verify_page() -> Any:
    page = STATIC / "verify.html"
    if not page.is_file():
        return error_response(404, "NOT_FOUND", "web page not installed")
    return FileResponse(page, media_type="text/html; charset=utf-8")
