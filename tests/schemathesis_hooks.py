"""Schemathesis' checks for this API: every built-in check, with the two data checks refined
below. Used by ``test_api_bad_input.py::test_schemathesis`` and by long campaigns against a
running server::

    PYTHONPATH=tests SCHEMATHESIS_HOOKS=schemathesis_hooks schemathesis run \\
        http://127.0.0.1:8000/openapi.json --checks all \\
        --exclude-checks positive_data_acceptance,negative_data_rejection ...

The published OpenAPI document states every rule a JSON schema can: hash, agency, region and
time patterns, the ``source`` values, a certificate document's shape. Two kinds of refusal are
beyond a schema, and only these are excused:

- a request valid under the schema that breaks a rule no schema can state is refused with 422
  and its own code (listed below, by code and message); Schemathesis alone would count it as
  "schema-valid request rejected";
- a body over the size limit (64 KiB of JSON) is refused with 413 BODY_TOO_LARGE, valid or
  not; Schemathesis alone expects another 4xx for invalid ones.
"""

from __future__ import annotations

from typing import Any

import orjson
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

# (error code, words in its message)
SEMANTIC_REFUSALS = [
    ("BAD_TIME", "in the future"),  # as_of later than now
    ("BAD_TIME", "invalid time"),  # February 29 of a common year (2026-02-29)
    ("BAD_TIME", "out of range"),  # before the epoch by its zone offset (1970-01-01T00:00+01:00)
    ("AS_OF_UNSUPPORTED", ""),  # source=chain together with as_of
    ("MALFORMED_PAYLOAD", ""),  # base45 text that is not a CertLedger QR's CBOR
    ("MALFORMED_DOCUMENT", "missing salt for"),  # one salt per shown field ...
    ("MALFORMED_DOCUMENT", "salt for unknown entry"),  # ... and none for others
    ("MALFORMED_DOCUMENT", "malformed hidden field"),  # a hidden field also shown
    ("MALFORMED_DOCUMENT", "too many fields"),  # more than 256 shown and hidden fields together
    # the format decides the rest (the published schema does not tie properties to the format):
    ("MALFORMED_DOCUMENT", "names its suite"),  # certledger/2 without its suite
    ("MALFORMED_DOCUMENT", "but this one claims suite"),  # certledger/1 claiming a suite other than intl
    ("MALFORMED_DOCUMENT", "has no identifier"),  # certledger/1 with an identifier
    ("NO_QR_FOUND", ""),  # an uploaded image without a QR code
    ("BAD_IMAGE", ""),  # ... or that is no image
    ("EMPTY_TEXT", ""),  # a text to read aloud made of control characters only
]


def _error(body: bytes) -> tuple[str, str]:
    try:
        error = orjson.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "", ""


def too_large(status: int, body: bytes) -> bool:
    return status == 413 and _error(body)[0] == "BODY_TOO_LARGE"


# 400 refusals of an e-licence identifier that no schema states: its segments and check characters
IDENTIFIER_REFUSALS = ("MALFORMED_IDENTIFIER", "BAD_CHECK_CHARACTER")


def is_semantic_refusal(status: int, body: bytes) -> bool:
    if too_large(status, body):
        return True
    if status == 400:
        return _error(body)[0] in IDENTIFIER_REFUSALS
    if status != 422:
        return False
    code, message = _error(body)
    return any(code == c and words in message for c, words in SEMANTIC_REFUSALS)


@schemathesis.check
def positive_data_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, except for the refusals above."""
    if is_semantic_refusal(response.status_code, response.content):
        return None
    return positive_data_acceptance(ctx, response, case)


@schemathesis.check
def negative_data_rejected(ctx: Any, response: Any, case: Any) -> bool | None:
    """negative_data_rejection, with 413 BODY_TOO_LARGE counted as a rejection."""
    if too_large(response.status_code, response.content):
        return None
    return negative_data_rejection(ctx, response, case)
