"""GET /v1/content/{cid}: a sealed certificate document from the server's content store, for
the wallet's import by retrieval code (docs/content.md). Anonymous: the bytes are ciphertext,
and the key is only ever in the citizen's code, never sent here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from ledger.content import (
    Cid,
    ContentError,
    ContentNotFound,
    ContentTampered,
    InvalidCid,
    IpfsUnavailable,
    NotSealed,
    sealed_content,
)

from ..deps import State
from ..errors import ApiError
from ..models import ErrorResponse

router = APIRouter(tags=["content"])

# The profile's CIDs as the retrieval codes and the API write them: version 1, base32 lower case,
# raw (bafk...) or dag-pb (bafy...), sha2-256; the last character carries 3 bits and 2 zero bits.
CID_PATTERN = r"^baf(kre|ybe)i[a-h][a-z2-7]{50}[aeimquy4]$"
IMMUTABLE = "public, max-age=31536000, immutable"  # content-addressed: the bytes never change

CidParam = Annotated[
    str,
    PathParam(
        description="The content's CID (version 1, base32, as in a retrieval code): bafkrei... for a single block.",
        # published, not enforced by FastAPI: a malformed CID is a 400 MALFORMED_CID from the route
        json_schema_extra={"pattern": CID_PATTERN, "minLength": 59, "maxLength": 59},
        examples=["bafkreihw3we4ahzlkr55q3h2lcjcqjsb4hriwd3yw6jaozrfbzw7c3kbnu"],
    ),
]


@router.get(
    "/v1/content/{cid}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The sealed document (CLS header, AES-256-GCM or SM4-GCM ciphertext), checked against "
            "its CID; immutable, cacheable for ever",
        },
        400: {"model": ErrorResponse, "description": "MALFORMED_CID: not a version 1 base32 CID of the profile"},
        404: {
            "model": ErrorResponse,
            "description": "CONTENT_NOT_FOUND: the store does not hold it; NOT_SEALED: it holds it, but it is not "
            "a sealed document (this route serves nothing else)",
        },
        503: {
            "model": ErrorResponse,
            "description": "CONTENT_TAMPERED: the stored bytes do not match the CID (a damaged store or a lying "
            "node: never served); IPFS_UNAVAILABLE: the IPFS node cannot be reached; CONTENT_UNAVAILABLE: the store "
            "failed",
        },
    },
)
def content(state: State, cid: CidParam) -> Any:
    """The sealed document a retrieval code names, from the content store this server is
    configured with (CERTLEDGER_IPFS_URL, else the embedded store in CERTLEDGER_CONTENT_DIR).
    The bytes are checked against the CID before they are sent (the client should check again:
    the wallet recomputes it), and only sealed documents are served: a trust snapshot or
    anything else in the store is refused (404 NOT_SEALED). Opening it takes the key in the code,
    which the server never sees."""
    try:
        parsed = Cid.parse(cid)
    except InvalidCid as exc:
        raise ApiError(400, "MALFORMED_CID", str(exc)) from None
    if str(parsed) != cid:
        raise ApiError(400, "MALFORMED_CID", f"write the CID as version 1 in lower-case base32: {parsed}")
    try:
        data = sealed_content(state.content, parsed)
    except ContentNotFound:
        raise ApiError(404, "CONTENT_NOT_FOUND", f"no content {cid} in this server's store") from None
    except NotSealed:
        raise ApiError(404, "NOT_SEALED", f"{cid} is not a sealed document: this route serves nothing else") from None
    except ContentTampered:
        raise ApiError(
            503, "CONTENT_TAMPERED", f"the stored bytes of {cid} do not match it: refused (a damaged store?)"
        ) from None
    except IpfsUnavailable:
        raise ApiError(503, "IPFS_UNAVAILABLE", "the IPFS node behind this server cannot be reached") from None
    except ContentError:  # its message may name the store's folder: not for the public
        raise ApiError(503, "CONTENT_UNAVAILABLE", "the content store cannot answer right now") from None
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{cid}"'}
    return Response(data, media_type="application/octet-stream", headers=headers)
