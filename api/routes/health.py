"""/healthz, /metrics and the citizens' pages: /verify and the wallet /wallet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import State
from ..errors import error_response, json_response
from ..models import HealthModel
from ..settings import STATIC

router = APIRouter(tags=["operations"])
STALE_AFTER = 2.0  # seconds without an answer from the node before it counts as not answering


@router.get("/healthz", response_model=HealthModel, responses={503: {"model": HealthModel}})
async def healthz(state: State) -> Any:
    """Chain head, mirror head and lag. 200 when the mirror can answer verifications, else 503
    with the reason: the node does not answer, serves another chain (or one that lost its
    history), the indexer stopped or fell behind. Answers at once: the node is watched by a
    background poller, never called from here."""
    problems = []
    node = state.watch.snapshot()
    answering = node.answering(STALE_AFTER)
    chain_head = node.head if answering else None
    if not answering:
        why = node.error or "no answer yet"
        problems.append(f"node at {state.chain.public_url} does not answer: {why}")
    if node.identity_problem:
        problems.append(node.identity_problem)
    mirror_block = lag = None
    try:
        head = state.queries.head()
        mirror_block = head.block
        reference = chain_head if chain_head is not None else head.chain_head
        lag = None if reference is None else max(0, reference - head.block)
        state.mirror_verifier.source.head()  # the same test verification applies
    except Exception as exc:
        message = str(exc) if str(exc) else type(exc).__name__
        if message not in problems:
            problems.append(message)
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
def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/verify", include_in_schema=False)
def verify_page() -> Any:
    page = STATIC / "verify.html"
    if not page.is_file():
        return error_response(404, "NOT_FOUND", "web page not installed")
    return FileResponse(page, media_type="text/html; charset=utf-8")


@router.get("/wallet", include_in_schema=False)
def wallet_page() -> Any:
    """The citizen's wallet: certificates and the device key stay in the browser (IndexedDB)."""
    page = STATIC / "wallet.html"
    if not page.is_file():
        return error_response(404, "NOT_FOUND", "web page not installed")
    return FileResponse(page, media_type="text/html; charset=utf-8")


@router.get("/verify-sw.js", include_in_schema=False)
def verify_service_worker() -> Any:
    """The service worker of /verify (api/static/sw.js), served from the root so that its scope
    can be /verify: it keeps the page, its assets and the trust snapshot for offline use."""
    script = STATIC / "sw.js"
    if not script.is_file():
        return error_response(404, "NOT_FOUND", "service worker not installed")
    return FileResponse(script, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})
