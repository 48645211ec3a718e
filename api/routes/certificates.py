"""GET /v1/certificates/{hash} and its history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from ledger.errors import InvalidInput

from ..deps import State
from ..errors import ApiError, json_response
from ..models import ErrorResponse, HistoryModel, IdentifierVerificationModel, VerificationModel
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
from ..state import AppState

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


IDENTIFIER_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, **ERRORS}
Identifier = Annotated[
    str,
    PathParam(
        description="An e-licence identifier (证照标识, GB/T 36904-2018), e.g. "
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
        max_length=200,
        examples=["1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"],
    ),
]


@router.get("/by-identifier/{identifier}", response_model=IdentifierVerificationModel, responses=IDENTIFIER_ERRORS)
async def by_identifier(
    state: State,
    identifier: Identifier,
    verifier_region: VerifierRegion = "",
    agency: AgencyParam = "",
    as_of: AsOf = "",
) -> Any:
    """The ledger's record of the certificate an e-licence identifier names, as for a hash
    (INCOMPLETE at best: POST the document for VALID).

    The identifier is checked (its segments, the credit codes' and its own check characters),
    and only its 16-byte tag is looked up: the ledger never holds identifiers. Only certificates
    anchored by the agency whose credit code the identifier names as issuer are answered. A tag
    that agency anchored for several certificates is never answered with a verdict: the
    identifier alone cannot say which one it is (409: ask by hash)."""
    from ledger.gbt.identifier import IdentifierError, parse
    from ledger.suites import suite

    try:
        ident = parse(identifier)
    except IdentifierError as exc:
        # well formed, but a check character (the identifier's, or a credit code's) does not match
        mismatch = "check character is" in str(exc) or "(ISO/IEC 7064 MOD 37,36 over" in str(exc)
        code = "BAD_CHECK_CHARACTER" if mismatch else "MALFORMED_IDENTIFIER"
        raise ApiError(400, code, str(exc)) from None
    region = parse_region(verifier_region)
    issuer = parse_agency(agency)
    when = parse_as_of(as_of)
    check_source("mirror", when)
    tag = suite(state.deployment.suite).identifier_tag(str(ident))
    anchored = state.queries.by_identifier_tag(tag)
    # Only an agency whose credit code is the identifier's issuer code can answer for it: another
    # agency anchoring the same tag can neither take the lookup over nor make it ambiguous.
    found = [(a, h) for a, h in anchored if state.queries.credit_code(a) == ident.issuer_code]
    others = sorted({a for a, _ in anchored} - {a for a, _ in found})
    if issuer is not None:
        found = [(a, h) for a, h in found if a == issuer]
    if not found:
        by = f" by {issuer}" if issuer else ""
        not_issuer = (
            f"; {', '.join(others)} anchored its tag, but the identifier names issuer {ident.issuer_code}"
            if others
            else ""
        )
        raise ApiError(
            404,
            "NOT_FOUND",
            f"no certificate with this identifier was anchored{by} (or the mirror has not seen it yet){not_issuer}",
        )
    if len(found) > 1:
        raise ApiError(
            409,
            "AMBIGUOUS_CERTIFICATE",
            f"{found[0][0]} anchored {len(found)} certificates with this identifier "
            f"({', '.join('0x' + h.hex() for _, h in found)}): verify the document, or ask by hash",
        )
    ((owner, cert_hash),) = found
    try:
        result = state.verifier("mirror").verify_hash(cert_hash, verifier_region=region, as_of=when, agency=owner)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_REQUEST", str(exc)) from None
    state.metrics.verified(result.verdict.value, "mirror", "identifier")
    return json_response({**result.to_json(), "identifier_tag": "0x" + tag.hex()})


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
    return answer_by_hash(state, cert_hash, verifier_region, agency, as_of, source)


def answer_by_hash(state: AppState, cert_hash: str, verifier_region: str, agency: str, as_of: str, source: str) -> Any:
    """The answer of GET /v1/certificates/{hash} (the route's, and the hot path's in
    ``middleware.FastPaths``, which calls it for well-formed requests)."""
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
    state.metrics.verified(result.verdict.value, source, "hash")
    return json_response(result.to_json())


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
