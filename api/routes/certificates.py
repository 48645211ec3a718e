"""GET /v1/certificates/{hash} and its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ledger.errors import InvalidInput

from ..app import ApiError
from ..models import ErrorResponse, HistoryModel, VerificationModel
from .common import AsOf, SourceParam, VerifierRegion, check_source, parse_as_of, parse_hash, parse_region, state_of

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}


@router.get("/{cert_hash}", response_model=VerificationModel, responses=ERRORS)
async def certificate(
    request: Request, cert_hash: str, verifier_region: VerifierRegion = None, as_of: AsOf = None, source: SourceParam = "mirror"
) -> Any:
    """Status and recognition of a certificate by its hash alone (what a compact QR carries).
    Integrity and validity dates need the document: use POST /v1/verify for those."""
    h = parse_hash(cert_hash)
    region = parse_region(verifier_region)
    when = parse_as_of(as_of)
    state = state_of(request)
    check_source(source, when)
    if source == "chain":
        raise ApiError(422, "NEEDS_DOCUMENT", "the chain keeps batch roots, not certificate hashes: POST the document to /v1/verify?source=chain")
    try:
        result = state.verifier(source).verify_hash(h, verifier_region=region, as_of=when)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_REQUEST", str(exc)) from None
    state.metrics.verifications.labels(result.verdict, source, "hash").inc()
    return result.to_json()


@router.get("/{cert_hash}/history", response_model=HistoryModel, responses=ERRORS)
async def history(request: Request, cert_hash: str) -> Any:
    """Every status change of the certificate and of its batch, oldest first."""
    h = parse_hash(cert_hash)
    q = state_of(request).queries
    record = q.certificate(h)
    if record is None:
        raise ApiError(404, "NOT_FOUND", "this certificate hash was never anchored (or the mirror has not seen it yet)")
    return {
        "hash": "0x" + h.hex(),
        "batch_root": "0x" + record.root.hex(),
        "agency": record.agency,
        "events": [e.to_json() for e in q.history(h)],
    }
