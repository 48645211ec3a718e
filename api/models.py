"""Request and response models (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
