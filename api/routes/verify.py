"""POST /v1/verify: a certificate document, a disclosed document, a QR payload, or a QR image."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError

from ledger.document import Certificate
from ledger.errors import InvalidInput
from ledger.presentation import PREFIX as PRESENTATION_PREFIX
from ledger.presentation import decode as decode_presentation
from ledger.qr import read_image
from ledger.receipts import Receipt
from ledger.registry.results import VerifierInfo

from ..deps import Caller, State
from ..errors import ApiError, json_response
from ..models import CertificateDocument, ErrorResponse, VerificationModel, inline_schema
from ..params import AsOf, SourceParam, VerifierRegion, check_source, parse_as_of, parse_region
from ..state import AppState

router = APIRouter(tags=["verify"])

# The base45 text behind a CertLedger prefix (ledger.qr); whether it decodes is for the route to say.
PAYLOAD_PATTERN = r"^(CLP1|CLC3|CLF2|CLC2|CLC1|CLF1):[0-9A-Z $%*+./:-]+$"
DOCUMENT_SCHEMA = inline_schema(CertificateDocument)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_$]+")

REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "payload": {
                                "type": "string",
                                "maxLength": 8192,
                                "pattern": PAYLOAD_PATTERN,
                                "description": "QR payload (a wallet's presentation CLP1:…; CLC3:…, CLF2:…; older "
                                "CLC2:…, CLC1:…, CLF1:…)",
                            },
                        },
                        "required": ["payload"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"document": DOCUMENT_SCHEMA},
                        "required": ["document"],
                        "additionalProperties": False,
                    },
                    DOCUMENT_SCHEMA,  # a bare document, recognised by its format tag
                ]
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "image": {
                        "type": "string",
                        "format": "binary",
                        "description": "a photo or scan of the QR code (PNG/JPEG)",
                    }
                },
                "required": ["image"],
            }
        },
    },
}


def _checked_document(value: dict[str, Any]) -> dict[str, Any]:
    """The document as the published shape reads it (440000.0 is 440000), or 422 naming the
    first problem."""
    try:
        document = CertificateDocument.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if _PLAIN_NAME.fullmatch(str(p)))  # not pydantic's union tags
        raise ApiError(422, "MALFORMED_DOCUMENT", f"{where}: {first['msg']}"[:240]) from None
    return document.model_dump(exclude_unset=True)


async def _decode_image(state: State, data: bytes) -> str:
    """Decode the QR image in the bounded image pool: never on the event loop."""
    try:
        return await state.image_pool.run(read_image, data)
    except InvalidInput as exc:
        code = "NO_QR_FOUND" if "no QR code" in str(exc) else "BAD_IMAGE"
        raise ApiError(422, code, str(exc)) from None


async def _read_input(request: Request, state: State) -> tuple[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception:  # starlette refuses a malformed multipart body with its own 400
            raise ApiError(422, "MALFORMED_MULTIPART", "the multipart body is malformed") from None
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "MISSING_IMAGE", "multipart requests carry the QR image in the field 'image'")
        return "payload", await _decode_image(state, await upload.read())
    if content_type and not content_type.startswith("application/json"):
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send application/json ({payload} or {document}) or multipart/form-data with an image",
        )
    return json_input(await request.body())


def json_input(raw: bytes) -> tuple[str, Any]:
    """A JSON body's input: ("payload", the QR payload) or ("document", the document as the
    published shape reads it); else 422 saying what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(422, "MALFORMED_JSON", "the body is not valid JSON") from None
    if isinstance(body, str):
        return "payload", body
    if not isinstance(body, dict):
        raise ApiError(422, "MALFORMED_BODY", 'expected {"payload": "…"} or {"document": {…}}')
    if "format" in body:  # a bare certificate document
        return "document", _checked_document(body)
    keys = set(body)
    if keys == {"payload"} and isinstance(body["payload"], str):
        return "payload", body["payload"]
    if keys == {"document"} and isinstance(body["document"], dict):
        return "document", _checked_document(body["document"])
    raise ApiError(422, "MALFORMED_BODY", 'expected exactly one of {"payload": "…"} or {"document": {…}}')


def _presentation(state: AppState, who: Any, payload: str, region: int | None, when: int | None, source: str) -> Any:
    """A wallet's presentation: a registered verifier's, checked against the mirror as of now;
    its receipt is stored before the answer leaves."""
    if who is None:
        raise ApiError(
            401,
            "NOT_AUTHORIZED",
            "a citizen's presentation is shown to registered verifiers only: send your organisation's API key "
            "(Authorization: Bearer clv_…)",
        )
    if when is not None:
        raise ApiError(422, "BAD_REQUEST", "a presentation is checked as of now: leave out as_of")
    if source == "chain":
        raise ApiError(
            422,
            "NEEDS_DOCUMENT",
            "a presentation names its certificate by hash and the chain keeps batch roots: verify it with the mirror",
        )
    try:
        p = decode_presentation(payload)
    except InvalidInput as exc:
        raise ApiError(422, "MALFORMED_PAYLOAD", str(exc)) from None
    result = state.verifier("mirror").verify_presentation(p, verifier_region=region)
    state.receipts.record(
        Receipt(
            who.id,
            who.region,
            p.purpose,
            p.purpose_text,
            result.as_of,
            tuple(p.shown),
            p.receipt_tag or p.nonce,
            result.verdict.value,
        )
    )
    state.metrics.verified(result.verdict.value, "mirror", "presentation")
    return json_response(result.to_json())


@router.post(
    "/v1/verify",
    response_model=VerificationModel,
    responses={
        401: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def verify(
    request: Request,
    state: State,
    who: Caller,
    verifier_region: VerifierRegion = "",
    as_of: AsOf = "",
    source: SourceParam = "mirror",
) -> Any:
    """Full verification: integrity (document → hash, proof → root), anchoring, issuer, key,
    status as of the asked time, validity period and recognition for your region.

    A citizen's presentation (`CLP1:`, from the wallet) is for registered verifiers only: send
    your organisation's API key (`Authorization: Bearer clv_…`). It is checked as of now, with
    the holder's device key and window, and leaves a receipt the citizen can read
    (`GET /v1/receipts`)."""
    return await answer_verify(state, who, verifier_region, as_of, source, lambda: _read_input(request, state))


async def answer_verify(
    state: AppState,
    who: VerifierInfo | None,
    verifier_region: str,
    as_of: str,
    source: str,
    read_input: Callable[[], Awaitable[tuple[str, Any]]],
) -> Any:
    """The answer of POST /v1/verify (the route's, and the hot path's in
    ``middleware.FastPaths``, which calls it for anonymous JSON requests whose parameters are
    well formed): the parameters are checked before the body is read."""
    region = parse_region(verifier_region)
    when = parse_as_of(as_of)
    check_source(source, when)
    kind, value = await read_input()
    if kind == "payload" and value.strip().startswith(PRESENTATION_PREFIX):
        return _presentation(state, who, value, region, when, source)
    verifier = state.verifier(source)

    def run() -> Any:
        if kind == "payload":
            if len(value) > 8192:
                raise ApiError(422, "MALFORMED_PAYLOAD", "QR payload longer than 8192 characters")
            return verifier.verify_payload(value, verifier_region=region, as_of=when)
        cert, stated = Certificate.from_json(value)
        return verifier.verify_document(cert, stated, verifier_region=region, as_of=when)

    try:
        # The mirror answers in tens of microseconds: on the loop. The chain means node round
        # trips: in the bounded chain pool, never on the loop.
        result = await state.chain_pool.run(run) if source == "chain" else run()
    except InvalidInput as exc:
        code = "MALFORMED_PAYLOAD" if kind == "payload" else "MALFORMED_DOCUMENT"
        raise ApiError(422, code, str(exc)) from None
    state.metrics.verified(result.verdict.value, source, kind)
    return json_response(result.to_json())
