"""Request parameters every route parses the same way: their published patterns (in the
OpenAPI document) and their parsers, with 422 errors that name the problem."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

from fastapi import Path, Query

from ledger import ids
from ledger.errors import InvalidInput
from ledger.ids import agency_id, parse_time, region_code
from ledger.verification.engine import MAX_CLOCK_SKEW

from .errors import ApiError

HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
_HASH = re.compile(HASH_PATTERN)


def _or_empty(pattern: str) -> str:
    return f"^({pattern[1:-1]})?$"  # an empty value means "not given"


# The published patterns are the rules the parsers below apply.
AGENCY_PATTERN = _or_empty(ids.AGENCY_PATTERN)
REGION_PATTERN = _or_empty(ids.REGION_PATTERN)
_DAY = (  # from 1970; February 29 of a common year is left to the parser
    r"(19[7-9][0-9]|[2-9][0-9]{3})-"
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))"
)
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_ZONE = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
TIME_PATTERN = rf"^(now|[0-9]{{1,12}}|{_DAY}(T{_CLOCK}{_ZONE}?)?)?$"  # unix seconds or ISO 8601

CertHash = Annotated[
    str, Path(description="Certificate hash: 0x and 64 hex digits.", pattern=HASH_PATTERN, examples=["0x" + "ab" * 32])
]
RootParam = Annotated[
    str, Path(description="Batch root: 0x and 64 hex digits.", pattern=HASH_PATTERN, examples=["0x" + "cd" * 32])
]
AgencyParam = Annotated[
    str,
    Query(
        description="The issuing agency's code (a current compact QR names it). A hash anchored by several agencies "
        "is never VALID without it.",
        pattern=AGENCY_PATTERN,
        examples=["GD-PSB"],
    ),
]
VerifierRegion = Annotated[
    str,
    Query(
        description="Your region's 6-digit code: checks recognition for it (omit to skip).",
        pattern=REGION_PATTERN,
        examples=["330000"],
    ),
]
AsOf = Annotated[
    str,
    Query(
        description="Status as of this time: unix seconds or ISO 8601 (2026-01-31, 2026-01-31T08:00:00Z), not in "
        "the future; default now.",
        pattern=TIME_PATTERN,
        examples=["2026-01-31T08:00:00Z", "1769846400"],
    ),
]
Source = Literal["mirror", "chain"]
SourceParam = Annotated[
    Source, Query(description="mirror (fast, default) or chain (the contracts' views, trusting no mirror)")
]
# By hash, only the mirror can answer (the chain keeps batch roots): the document says so, and
# source=chain gets NEEDS_DOCUMENT from the route rather than a bare validation error.
MirrorOnlySourceParam = Annotated[
    Source,
    Query(
        description="mirror only: the chain keeps batch roots, not certificate hashes (POST the document to "
        "/v1/verify?source=chain)",
        json_schema_extra={"enum": ["mirror"]},
    ),
]

# A request parameter that breaks its published pattern is refused with the code its parser
# below would give (any other validation error is VALIDATION_ERROR).
_PARAMETER_ERRORS = {
    "cert_hash": ("MALFORMED_HASH", "certificate hash must be 0x followed by 64 hex digits"),
    "root": ("MALFORMED_HASH", "batch root must be 0x followed by 64 hex digits"),
    "agency": ("BAD_AGENCY", "invalid agency code: expected e.g. GD-PSB (letters, digits, _ . -; at most 32)"),
    "verifier_region": ("BAD_REGION", "invalid region code: expected 6 digits, e.g. 440000"),
    "as_of": ("BAD_TIME", "invalid time: expected unix seconds or ISO 8601 (2026-01-31T08:00:00Z)"),
    "tag": ("BAD_TAGS", "give 1 to 100 receipt tags, each 0x and 32 hex digits"),
}


def parameter_error(location: tuple[object, ...]) -> tuple[str, str] | None:
    """(code, message) for a path or query parameter that failed validation, if it has its own."""
    if len(location) in (2, 3) and location[0] in ("path", "query"):  # 3: an item of a list
        return _PARAMETER_ERRORS.get(str(location[1]))
    return None


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
        raise ApiError(
            422, "AS_OF_UNSUPPORTED", "source=chain answers for now only: leave out as_of, or use the mirror"
        )
