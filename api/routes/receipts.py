"""GET /v1/receipts: a citizen's verification receipts, found by the tags only the citizen's
presentations carried, with their Merkle proofs and where their batch was anchored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from ..deps import State
from ..errors import json_response
from ..models import ErrorResponse, ReceiptsModel

router = APIRouter(tags=["receipts"])
TAG_PATTERN = r"^0x[0-9a-fA-F]{32}$"  # the parameter's published pattern (422 BAD_TAGS otherwise)
MAX_TAGS = 100


@router.get("/v1/receipts", response_model=ReceiptsModel, responses={422: {"model": ErrorResponse}})
def receipts(
    state: State,
    tag: Annotated[
        list[Annotated[str, Field(pattern=TAG_PATTERN)]],
        Query(
            description="A receipt tag (0x and 32 hex digits) from the wallet's presentations; up to 100.",
            min_length=1,
            max_length=MAX_TAGS,
        ),
    ],
) -> Any:
    """Who verified the holder's presentations, when, for what and which fields they saw — for
    the tags the wallet made (a tag is a pseudonym only the holder's document gives: anyone
    without it learns nothing). Each receipt comes with its Merkle proof to its batch root and,
    once anchored, the block."""
    found = state.receipts.by_tags(bytes.fromhex(t[2:]) for t in tag)
    return json_response({"receipts": [r.to_json() for r in found]})
