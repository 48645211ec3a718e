"""Request and response models (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from ledger.contracts import KeyState
from ledger.document import FORMAT
from ledger.ids import REGION_PATTERN, iso_time
from ledger.mirror.queries import AgencyListing, KeyView, Membership, RegionView, RuleView, TypeView
from ledger.presentation import PURPOSES
from ledger.regions import region_name
from ledger.schema import FIELD_NAME_RE

Verdict = Literal[
    "VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INVALID", "UNKNOWN", "INCOMPLETE", "ERROR"
]
Role = Literal["AGENCY_KEY", "REGION_ADMIN", "CONSORTIUM"]


class ErrorBody(BaseModel):
    code: str = Field(examples=["MALFORMED_HASH"])
    message: str = Field(examples=["certificate hash must be 0x followed by 64 hex digits"])


class ErrorResponse(BaseModel):
    error: ErrorBody


class CheckModel(BaseModel):
    name: Literal[
        "integrity", "anchored", "holder", "issuer_authorized", "key_valid", "status", "validity_period", "recognition"
    ] = Field(description="the check (holder: only for a wallet's presentation)")
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
    identifier: str | None = Field(default=None, description="GB/T 36904 e-licence identifier (certledger/2)")
    suite: Literal["intl", "sm"] | None = Field(default=None, description="cryptographic suite (certledger/2)")


class SourceModel(BaseModel):
    kind: Literal["mirror", "chain"]
    block: int | None
    lag_blocks: int | None
    error: str | None = None


class PresentationModel(BaseModel):
    """What a wallet's presentation (CLP1:) says besides the certificate: why it was shown, and
    its window."""

    purpose: str = Field(description="用证事由, as a code", json_schema_extra={"enum": list(PURPOSES)})
    purpose_text: str
    issued_at: int = Field(description="unix seconds")
    expires_at: int = Field(description="unix seconds")


class VerificationModel(BaseModel):
    verdict: Verdict
    checks: list[CheckModel]
    certificate: CertificateModel | None
    verifier_region: int | None
    as_of: str
    source: SourceModel
    disclosed_fields: dict[str, str] | None = None
    hidden_fields: list[str] | None = None
    presentation: PresentationModel | None = None


# ---------------------------------------------------------------------- certificate documents

# The shapes ``ledger.document.Certificate.from_json`` requires, as a schema: the API checks a
# posted document against this model first, so the published schema and the refusals agree.
# What no schema can state (one salt per shown field, at most 256 shown and hidden fields
# together, a hidden field not also shown) is left to from_json; both refuse with MALFORMED_DOCUMENT.
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
FieldName = Annotated[str, Field(pattern=FIELD_NAME_RE.pattern)]
_NAMES_ONLY: dict[str, JsonValue] = {"additionalProperties": False}  # with the names' patternProperties: no other names


def _json_integer(value: Any) -> Any:
    """JSON has numbers, not integers: 440000.0 is the integer 440000 (as JSON Schema counts
    it). True, "440000" and 440000.5 are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
RegionInt = Annotated[
    int, Field(ge=100000, le=999999), BeforeValidator(_json_integer)
]  # constraints first: their schema keys
ChainId = Annotated[int, Field(gt=0), BeforeValidator(_json_integer)]


def _calendar_day(text: str) -> str:
    date.fromisoformat(text)  # ValueError: not a day of the calendar
    return text


Day = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}, examples=["2026-01-31"]),
    AfterValidator(_calendar_day),
]


class IssuerModel(BaseModel):
    agency: str = Field(min_length=1, max_length=32, examples=["GD-PSB"])
    region: Annotated[str, Field(pattern=REGION_PATTERN)] | RegionInt = Field(
        description="6-digit region code (a number or its text)", examples=[440000]
    )


class AnchorModel(BaseModel):
    chainId: ChainId
    registry: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the CertificateRegistry contract")
    root: Hex32 = Field(description="the batch's Merkle root")
    proof: list[Hex32] = Field(
        default=[], max_length=64, description="Merkle proof from the certificate hash to the root"
    )
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$", description="the agency key's EIP-712 signature over the root"
    )
    key: str | None = None
    block: JsonInt | None = None
    tx: str | None = None
    anchoredAt: JsonInt | None = None
    sm2Signature: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{128}$", description="sm suite: the agency's SM2 signature, r || s"
    )


class CertificateDocument(BaseModel):
    """A full or disclosed certificate document (docs/certificate-format.md)."""

    format: Literal["certledger/2", "certledger/1"] = Field(description=f"{FORMAT} (certledger/1 still read)")
    suite: Literal["intl", "sm"] | None = Field(
        default=None, description="certledger/2: the cryptographic suite (SHA-256 or SM3)"
    )
    type: str = Field(min_length=1, max_length=32, examples=["ID_CARD"])
    identifier: str | None = Field(
        default=None, pattern=r"^[0-9A-Z.]{1,100}$", description="certledger/2: GB/T 36904 e-licence identifier"
    )
    issuer: IssuerModel
    validFrom: Day
    validUntil: Day | None = None
    fields: dict[FieldName, Annotated[str, Field(max_length=4096)]] = Field(
        max_length=256, description="the shown holder fields (canonical text)", json_schema_extra=_NAMES_ONLY
    )
    salts: dict[FieldName, Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{32}$")]] = Field(
        max_length=256, description="one 16-byte salt per shown field", json_schema_extra=_NAMES_ONLY
    )
    hidden: dict[FieldName, Hex32] = Field(
        default={},
        max_length=256,
        description="a disclosed document's hidden fields, as field hashes",
        json_schema_extra=_NAMES_ONLY,
    )
    hash: Hex32 = Field(description="the certificate hash the document states")
    anchor: AnchorModel


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its nested models written out (no $ref), to embed in an
    operation's request body."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


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


class IdentifierVerificationModel(VerificationModel):
    """The ledger's record of the certificate an e-licence identifier (GB/T 36904) names: the
    identifier's tag is looked up, never the identifier itself (the ledger holds no identifier)."""

    identifier_tag: str  # 0x and 32 hex digits: the 16-byte tag the batch anchored


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
        name = region_name(v.region)
        return cls(
            region=v.region,
            name=None if name is None else {"zh": name["zh"], "en": name["en"]},
            member=v.member,
            admitted_at=_iso(v.admitted_at),
            removed_at=_iso(v.removed_at),
            cutoff=_iso(v.cutoff),
            epoch=v.epoch,
            admins=list(v.admins),
        )


class RegionsModel(BaseModel):
    quorum: int | None = Field(description="approvals a proposal needs now")
    quorum_rule: str | None = Field(
        description="N/D: a proposal needs approvals from more than N/D of the members", examples=["1/2"]
    )
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
    state: str = Field(description="as of the chain's clock", json_schema_extra={"enum": [s.name for s in KeyState]})
    enabled: bool = Field(description="may sign now (active, and enabled since its region's last re-admission)")

    @classmethod
    def of(cls, k: KeyView) -> KeyModel:
        return cls(
            address=k.address,
            active_from=_iso(k.active_from),
            retired_at=_iso(k.retired_at),
            compromised_since=_iso(k.compromised_since),
            state=k.state.name,
            enabled=k.enabled,
        )


class AgencyModel(BaseModel):
    agency: str
    region: int
    suspended: bool
    enabled: bool = Field(
        description="may act: not suspended, its region a member, enabled since the region's last re-admission"
    )
    registered_at: str | None
    types: list[str]
    keys: list[KeyModel]

    @classmethod
    def of(cls, listing: AgencyListing) -> AgencyModel:
        a = listing.agency
        return cls(
            agency=a.agency,
            region=a.region,
            suspended=a.suspended,
            enabled=a.enabled,
            registered_at=_iso(a.registered_at),
            types=list(a.types),
            keys=[KeyModel.of(k) for k in listing.keys],
        )


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
        return cls(
            verifier_region=r.verifier,
            type=r.type,
            issuer_region=r.issuer,
            valid_from=_iso(r.valid_from),
            valid_until=_iso(r.valid_until),
        )


# ---------------------------------------------------------------------- receipts


class ReceiptAnchor(BaseModel):
    block: int
    tx: str


class ReceiptModel(BaseModel):
    verifier: str
    region: int
    purpose: str
    purpose_text: str
    verified_at: int = Field(description="unix seconds")
    fields: list[str] = Field(description="the names of the fields the verifier saw")
    tag: str
    verdict: str
    serial: str
    batch_root: str | None = Field(description="null until the receipt is sealed into a batch")
    proof: list[str]
    anchored: ReceiptAnchor | None = Field(description="null until the batch root is anchored on chain")


class ReceiptsModel(BaseModel):
    receipts: list[ReceiptModel]


# ---------------------------------------------------------------------- trust snapshots


class TrustModel(BaseModel):
    """The consortium a verifier pins to trust snapshots (ledger.snapshot.Trust)."""

    chain_id: int
    consortium: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    rule: list[int] = Field(min_length=2, max_length=2, description="quorum rule: more than rule[0]/rule[1]")
    admins: dict[str, list[str]] = Field(description="member region -> its admins' addresses")
    block: int = Field(description="the block this membership is as of")
    quorum: int = Field(description="member regions whose admins must sign a snapshot")
    max_age_seconds: int = Field(description="a snapshot older than this (by its block's time) answers ERROR")
