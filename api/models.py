"""Request and response models (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.ids import iso_time
from ledger.mirror.queries import AgencyListing, KeyView, Membership, RegionView, RuleView, TypeView
from ledger.regions import region_name

Verdict = Literal["VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INVALID", "UNKNOWN", "INCOMPLETE", "ERROR"]
Role = Literal["AGENCY_KEY", "REGION_ADMIN", "CONSORTIUM"]


class ErrorBody(BaseModel):
    code: str = Field(examples=["MALFORMED_HASH"])
    message: str = Field(examples=["certificate hash must be 0x followed by 64 hex digits"])


class ErrorResponse(BaseModel):
    error: ErrorBody


class CheckModel(BaseModel):
    name: Literal["integrity", "anchored", "issuer_authorized", "key_valid", "status", "validity_period", "recognition"]
    ok: bool | None = Field(description="true passed, false failed, null skipped or could not be decided")
    outcome: Literal["PASS", "FAIL", "SKIPPED", "ERROR"] = Field(
        description="PASS, FAIL, SKIPPED (nothing to check with this input) or ERROR (the source could not answer)"
    )
    code: str = Field(description="why, as a stable code (see docs/verification.md)", examples=["KEY_COMPROMISED"])
    detail: str = Field(description="why, in English")
    params: dict[str, Any] = Field(description="the facts behind the detail, for messages in other languages")


class AnchoredAt(BaseModel):
    block: int | None
    tx: str | None
    time: str | None


class CertificateModel(BaseModel):
    hash: str
    type: str | None
    issuer_region: int | None
    agency: str | None
    batch_root: str | None
    anchored_at: AnchoredAt | None
    valid_from: str | None = None
    valid_until: str | None = None


class SourceModel(BaseModel):
    kind: Literal["mirror", "chain"]
    block: int | None
    lag_blocks: int | None
    error: str | None = None


class VerificationModel(BaseModel):
    verdict: Verdict
    checks: list[CheckModel]
    certificate: CertificateModel | None
    verifier_region: int | None
    as_of: str
    source: SourceModel
    disclosed_fields: dict[str, str] | None = None
    hidden_fields: list[str] | None = None


class VerifyRequest(BaseModel):
    """Exactly one of ``document`` (a full or disclosed certificate document) or ``payload``
    (a QR payload string, CLC1:… or CLF1:…)."""

    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any] | None = None
    payload: str | None = Field(default=None, max_length=8192)


class StatusEventModel(BaseModel):
    scope: Literal["certificate", "batch"]
    subject: str
    status: Literal["ACTIVE", "SUSPENDED", "REVOKED"]
    reason: str
    actor: str
    role: Role = Field(description="who acted: an agency key, an admin of its region, or the consortium (M-of-N)")
    time: str | None
    block: int
    tx: str


class HistoryModel(BaseModel):
    hash: str
    batch_root: str | None
    agency: str | None
    events: list[StatusEventModel]


class BatchModel(BaseModel):
    root: str
    agency: str
    type: str
    issuer_region: int | None
    key: str
    size: int
    anchored_at: AnchoredAt
    status: Literal["ACTIVE", "SUSPENDED", "REVOKED"]
    status_changed: StatusEventModel | None = None


class HealthModel(BaseModel):
    status: Literal["ok", "degraded", "down"]
    chain_head: int | None
    mirror_block: int | None
    lag_blocks: int | None
    chain_id: int
    detail: str


# ---------------------------------------------------------------------- the public registers


def _iso(ts: int) -> str | None:
    return iso_time(ts) if ts else None


class RegionModel(BaseModel):
    region: int = Field(examples=[440000])
    name: dict[str, str] | None = Field(description="{zh, en} for a provincial-level code, else null")
    member: bool
    admitted_at: str | None
    removed_at: str | None
    cutoff: str | None = Field(description="the last removal's cut-off: the region's anchors from then on are void")
    epoch: int = Field(description="how many times the region has been removed")
    admins: list[str]

    @classmethod
    def of(cls, v: RegionView) -> RegionModel:
        return cls(region=v.region, name=region_name(v.region), member=v.member, admitted_at=_iso(v.admitted_at),
                   removed_at=_iso(v.removed_at), cutoff=_iso(v.cutoff), epoch=v.epoch, admins=list(v.admins))


class RegionsModel(BaseModel):
    quorum: int | None = Field(description="approvals a proposal needs now")
    quorum_rule: str | None = Field(description="N/D: a proposal needs approvals from more than N/D of the members",
                                    examples=["1/2"])
    members: int
    regions: list[RegionModel]

    @classmethod
    def of(cls, m: Membership) -> RegionsModel:
        rule = f"{m.rule[0]}/{m.rule[1]}" if m.rule else None
        return cls(quorum=m.quorum, quorum_rule=rule, members=m.members, regions=[RegionModel.of(r) for r in m.regions])


class KeyModel(BaseModel):
    address: str
    active_from: str | None
    retired_at: str | None
    compromised_since: str | None
    state: Literal["UNKNOWN", "NOT_YET_ACTIVE", "ACTIVE", "RETIRED", "COMPROMISED"]
    enabled: bool = Field(description="may sign now (active, and enabled since its region's last re-admission)")

    @classmethod
    def of(cls, k: KeyView) -> KeyModel:
        return cls(address=k.address, active_from=_iso(k.active_from), retired_at=_iso(k.retired_at),
                   compromised_since=_iso(k.compromised_since), state=k.state.name, enabled=k.enabled)


class AgencyModel(BaseModel):
    agency: str
    region: int
    suspended: bool
    enabled: bool = Field(description="may act: not suspended, its region a member, enabled since the region's last re-admission")
    registered_at: str | None
    types: list[str]
    keys: list[KeyModel]

    @classmethod
    def of(cls, listing: AgencyListing) -> AgencyModel:
        a = listing.agency
        return cls(agency=a.agency, region=a.region, suspended=a.suspended, enabled=a.enabled,
                   registered_at=_iso(a.registered_at), types=list(a.types), keys=[KeyModel.of(k) for k in listing.keys])


class TypeModel(BaseModel):
    type: str = Field(examples=["ID_CARD"])
    schema_hash: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    added_at: str | None

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, t: TypeView) -> TypeModel:
        return cls(type=t.type, schema_hash="0x" + t.schema_hash.hex(), schema=t.schema, added_at=_iso(t.added_at))


class RuleModel(BaseModel):
    verifier_region: int
    type: str
    issuer_region: int | None = Field(description="the issuing region, or null: any region")
    valid_from: str | None = Field(description="null: always")
    valid_until: str | None = Field(description="exclusive; null: open-ended")

    @classmethod
    def of(cls, r: RuleView) -> RuleModel:
        return cls(verifier_region=r.verifier, type=r.type, issuer_region=r.issuer, valid_from=_iso(r.valid_from),
                   valid_until=_iso(r.valid_until))
