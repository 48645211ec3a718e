"""Parameters every route parses the same way, with 422 errors that name the problem."""

from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import Path, Query, Request

from ledger.errors import InvalidInput
from ledger.ids import agency_id, parse_time, region_code
from ledger.verification.engine import MAX_CLOCK_SKEW

from ..app import ApiError, AppState

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"

CertHash = Annotated[str, Path(description="Certificate hash: 0x and 64 hex digits.", examples=["0x" + "ab" * 32])]
RootParam = Annotated[str, Path(description="Batch root: 0x and 64 hex digits.", examples=["0x" + "cd" * 32])]
AgencyParam = Annotated[
    str | None,
    Query(description="The issuing agency's code (a current compact QR names it). A hash anchored by several agencies "
                      "is never VALID without it.", examples=["GD-PSB"]),
]

VerifierRegion = Annotated[
    str | None, Query(description="Your region's 6-digit code: checks recognition for it (omit to skip).", examples=["330000"])
]
AsOf = Annotated[str | None, Query(description="Status as of this time (ISO 8601 or unix seconds); default now.")]
SourceParam = Annotated[
    str, Query(description="mirror (fast, default) or chain (the contracts' views, trusting no mirror)", pattern="^(mirror|chain)$")
]


def state_of(request: Request) -> AppState:
    return request.app.state.ledger


def parse_hash(text: str, what: str = "certificate hash") -> bytes:
    if not _HASH.fullmatch(text):
        raise ApiError(422, "MALFORMED_HASH", f"{what} must be 0x followed by 64 hex digits")
    return bytes.fromhex(text[2:])


def parse_agency(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    try:
        agency_id(text)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_AGENCY", str(exc)) from None
    return text


def parse_region(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return region_code(text)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_REGION", str(exc)) from None


def parse_as_of(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = parse_time(text)
    except InvalidInput as exc:
        raise ApiError(422, "BAD_TIME", str(exc)) from None
    if value < 0 or value > 2**40:
        raise ApiError(422, "BAD_TIME", "as_of is out of range")
    if value > time.time() + MAX_CLOCK_SKEW:
        raise ApiError(422, "BAD_TIME", "as_of is in the future")
    return value


def check_source(source: str, as_of: int | None) -> None:
    if source == "chain" and as_of is not None:
        raise ApiError(422, "AS_OF_UNSUPPORTED", "source=chain answers for now only: leave out as_of, or use the mirror")
