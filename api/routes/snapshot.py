"""The trust snapshot for the page's offline mode: the signed snapshot file the server has
(``GET /v1/snapshot``) and the consortium it trusts (``GET /v1/snapshot/trust``). The page's
service worker caches both, so that /verify verifies with the network gone (docs/offline-browser.md).
The snapshot is served as it is: the page checks its signatures and digest itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from ledger.errors import InvalidInput
from ledger.snapshot import Snapshot, SnapshotError, Trust

from ..deps import State
from ..errors import ApiError, json_response
from ..models import ErrorResponse, TrustModel

router = APIRouter(prefix="/v1", tags=["snapshot"])
MEDIA_TYPE = "application/zip"
CACHE = "no-cache"  # cached anywhere, but always revalidated (the ETag makes that cheap)


def _snapshot_file(state: Any) -> tuple[Path, str]:
    path: Path | None = state.settings.snapshot
    if path is None:
        raise ApiError(404, "NO_SNAPSHOT", "this server publishes no trust snapshot (CERTLEDGER_SNAPSHOT)")
    try:
        snap = Snapshot.read(path)
    except (InvalidInput, SnapshotError):  # the reason names server paths: the operator's log, not the client's
        raise ApiError(404, "NO_SNAPSHOT", "the trust snapshot this server names cannot be read") from None
    return path, '"' + snap.manifest.digest().hex() + '"'


@router.get(
    "/snapshot",
    response_class=Response,
    responses={
        200: {"content": {MEDIA_TYPE: {}}, "description": "The trust snapshot (a zip file)."},
        304: {"description": "Not modified (If-None-Match)."},
        404: {"model": ErrorResponse},
    },
)
async def snapshot(state: State, request: Request) -> Any:
    """The current trust snapshot (``certledger snapshot create``, signed by region admins) as
    a zip of manifest.json, trust.sqlite and signatures.json. The ETag is its signed digest."""
    path, etag = await run_in_threadpool(_snapshot_file, state)
    headers = {"ETag": etag, "Cache-Control": CACHE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=MEDIA_TYPE, headers=headers, filename="trust-snapshot.zip")


@router.get("/snapshot/trust", response_model=TrustModel, responses={404: {"model": ErrorResponse}})
async def snapshot_trust(state: State) -> Any:
    """The consortium this server trusts (chain id, Consortium contract, quorum rule, member
    regions' admins): the pinned trust file (CERTLEDGER_SNAPSHOT_TRUST), else the membership the
    mirror records now. A snapshot is trusted when admins of more than the rule's share of these
    regions signed it. ``max_age_seconds``: past this age (by its block's time) a snapshot
    answers ERROR (CERTLEDGER_SNAPSHOT_MAX_AGE, as for ``certledger verify --offline``)."""

    def read() -> Trust:
        path: Path | None = state.settings.snapshot_trust
        if path is not None:
            return Trust.load(path)
        return Trust.of_mirror(state.queries, state.deployment, state.queries.head().block)

    try:
        trust = await run_in_threadpool(read)
    except InvalidInput:  # as above: no server path to an anonymous client
        raise ApiError(404, "NO_TRUST", "this server has no consortium to trust snapshots by") from None
    body = {**trust.to_json(), "quorum": trust.quorum, "max_age_seconds": state.settings.snapshot_max_age}
    response = json_response(body)
    response.headers["Cache-Control"] = CACHE
    return response
