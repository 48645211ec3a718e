"""The consortium's public registers, from the mirror: regions, agencies, types, rules, batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ledger.ids import iso_time

from ..deps import State
from ..errors import ApiError
from ..models import AgencyModel, BatchModel, ErrorResponse, RegionsModel, RuleModel, TypeModel
from ..params import AgencyParam, RootParam, parse_agency, parse_hash

router = APIRouter(prefix="/v1", tags=["registry"])


@router.get("/regions", response_model=RegionsModel)
def regions(state: State) -> RegionsModel:
    """Member regions (and removed ones), their admins, and the governance quorum. Each entry
    has ``name`` ({"zh", "en"}) for provincial-level codes, else null."""
    return RegionsModel.of(state.queries.regions())


@router.get("/agencies", response_model=list[AgencyModel])
def agencies(state: State) -> list[AgencyModel]:
    """Issuing agencies: region, suspension, allowed types, signing keys and their life cycle."""
    return [AgencyModel.of(a) for a in state.queries.agencies()]


@router.get("/types", response_model=list[TypeModel], response_model_by_alias=True)
def types(state: State) -> list[TypeModel]:
    """Certificate types with their field schema (as anchored on chain)."""
    return [TypeModel.of(t) for t in state.queries.types()]


@router.get("/recognitions", response_model=list[RuleModel])
def recognitions(state: State) -> list[RuleModel]:
    """Recognition rules in force: the verifier region recognises the type from the issuing
    region (``issuer_region`` null: from any region), from ``valid_from`` (null: always) until
    ``valid_until`` (exclusive; null: open-ended)."""
    return [RuleModel.of(r) for r in state.queries.recognitions()]


@router.get(
    "/batches/{root}",
    response_model=BatchModel,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def batch(state: State, root: RootParam, agency: AgencyParam = "") -> Any:
    """An anchored batch: agency, type, key, size, anchoring block and its batch-level status
    (from batch-wide status changes only). A batch is identified by (agency, root): when several
    agencies anchored the same root, name the `agency`."""
    r = parse_hash(root, "batch root")
    issuer = parse_agency(agency)
    q = state.queries
    found = q.batches_with_root(r)
    if issuer is not None:
        found = [b for b in found if b.agency == issuer]
    if not found:
        by = f" by {issuer}" if issuer else ""
        raise ApiError(404, "NOT_FOUND", f"no batch with this root{by} (or the mirror has not seen it yet)")
    if len(found) > 1:
        raise ApiError(
            409,
            "AMBIGUOUS_BATCH",
            f"several agencies anchored this root ({', '.join(b.agency for b in found)}): add ?agency=",
        )
    record = found[0]
    st = q.batch_status_as_of(record.agency, r)
    return {
        "root": root.lower(),
        "agency": record.agency,
        "type": record.cert_type,
        "issuer_region": record.issuer_region,
        "key": record.key,
        "size": record.size,
        "anchored_at": {"block": record.block, "tx": "0x" + record.tx.hex(), "time": iso_time(record.time)},
        "status": st.status.name,
        "status_changed": st.event.to_json() if st.event is not None else None,
    }
