"""GET /v1/certificates/{hash} and its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ledger.errors import InvalidInput

from ..deps import State
from ..errors import ApiError
from ..models import ErrorResponse, HistoryModel, VerificationModel
from ..params import (
    AgencyParam,
    AsOf,
    CertHash,
    MirrorOnlySourceParam,
    VerifierRegion,
    check_source,
    parse_agency,
    parse_as_of,
    parse_hash,
    parse_region,
)

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.get("/{cert_hash}", response_model=VerificationModel, responses=ERRORS)
async def certificate(
    state: State,
    cert_hash: CertHash,
    verifier_region: VerifierRegion = "",
    agency: AgencyParam = "",
    as_of: AsOf = "",
    source: MirrorOnlySourceParam = "mirror",
) -> Any:
    """The ledger's record of a certificate by its hash alone (what a compact QR carries):
    anchored by the issuing agency, its key, its status and recognition for your region.

    A hash carries no validity dates and no fields, so the best answer is **INCOMPLETE** (every
    ledger check passed; the validity period was not checked): POST the document or its full QR
    to /v1/verify for VALID. Name the issuing `agency`: a hash anchored by several agencies is
    never VALID without it."""
    h = parse_hash(cert_hash)
    region = parse_region(verifier_region)
    issuer = parse_agency(agency)
    when = parse_as_of(as_of)
    check_source(source, when)
    if source == "chain":
        raise ApiError(
            422,
            "NEEDS_DOCUMENT",
            "the chain keeps batch roots, not certificate hashes: POST the document to /v1/verify?source=chain",
        )
    try:
        result = state.verifier(source).verify_hash(h, verifier_region=region, as_of=when, agency=issuer)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_REQUEST", str(exc)) from None
    state.metrics.verifications.labels(result.verdict.value, source, "hash").inc()
    return result.to_json()


@router.get("/{cert_hash}/history", response_model=HistoryModel, responses=ERRORS)
async def history(state: State, cert_hash: CertHash, agency: AgencyParam = "") -> Any:
    """Every status change of the certificate and of its batch (within its issuing agency), oldest first."""
    h = parse_hash(cert_hash)
    issuer = parse_agency(agency)
    q = state.queries
    found = q.lookup(h, issuer)
    if found.ambiguous:
        raise ApiError(
            409,
            "AMBIGUOUS_ISSUER",
            f"this hash was anchored by several agencies ({', '.join(found.agencies)}): add ?agency=",
        )
    if found.record is None:
        by = f" by {issuer}" if issuer else ""
        raise ApiError(
            404, "NOT_FOUND", f"this certificate hash was never anchored{by} (or the mirror has not seen it yet)"
        )
    return {
        "hash": "0x" + h.hex(),
        "batch_root": "0x" + found.record.root.hex(),
        "agency": found.record.agency,
        "events": [e.to_json() for e in q.history(found.record)],
    }
