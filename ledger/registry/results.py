"""What the registry reads: records of regions, proposals, agencies, keys, types, rules,
batches, in named fields (never ``a[2]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..chain import SentTransaction
from ..contracts import KeyState, ProposalKind, Role, Status
from ..ids import iso_time

# ---------------------------------------------------------------------- results


@dataclass
class RegionInfo:
    code: int
    member: bool
    admin_count: int
    admitted_at: int
    removed_at: int
    epoch: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.code,
            "member": self.member,
            "admins": self.admin_count,
            "admitted_at": iso_time(self.admitted_at),
            "removed_at": iso_time(self.removed_at),
            "epoch": self.epoch,
        }


@dataclass
class ProposalInfo:
    id: int
    kind: ProposalKind
    executed: bool
    proposer_region: int
    created_at: int
    expires_at: int
    params: dict[str, Any]
    approvers: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.name,
            "executed": self.executed,
            "proposer_region": self.proposer_region,
            "created_at": iso_time(self.created_at),
            "expires_at": iso_time(self.expires_at),
            "params": self.params,
            "approvers": self.approvers,
        }


@dataclass
class ProposalResult:
    id: int
    executed: bool
    tx: SentTransaction

    def to_json(self) -> dict[str, Any]:
        return {"proposal": self.id, "executed": self.executed, "tx": self.tx.tx_hash, "block": self.tx.block_number}


@dataclass
class KeyInfo:
    address: str
    agency: str
    active_from: int
    retired_at: int
    compromised_since: int
    state: KeyState
    enabled: bool = True  # may sign now (active, enabled in the region's current epoch, agency enabled)
    sm2_public_key: bytes = b""  # x || y (64 bytes) registered with the address; empty: none

    def to_json(self) -> dict[str, Any]:
        out = {
            "address": self.address,
            "agency": self.agency,
            "active_from": iso_time(self.active_from),
            "retired_at": iso_time(self.retired_at),
            "compromised_since": iso_time(self.compromised_since),
            "state": self.state.name,
            "enabled": self.enabled,
        }
        if self.sm2_public_key:
            out["sm2_public_key"] = "0x" + self.sm2_public_key.hex()
        return out


@dataclass
class AgencyInfo:
    code: str
    region: int
    suspended: bool
    registered_at: int
    types: list[str] = field(default_factory=list)
    keys: list[KeyInfo] = field(default_factory=list)
    enabled: bool = True  # not suspended, region a member, enabled in the region's current epoch
    credit_code: str | None = None  # unified social credit code (GB 32100), when set

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.code,
            "region": self.region,
            "suspended": self.suspended,
            "enabled": self.enabled,
            "registered_at": iso_time(self.registered_at),
            "types": self.types,
            "keys": [k.to_json() for k in self.keys],
            "credit_code": self.credit_code,
        }


@dataclass
class TypeInfo:
    code: str
    schema_hash: str
    schema: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.code, "schema_hash": self.schema_hash, "schema": self.schema}


@dataclass
class RecognitionInfo:
    verifier: int
    type: str
    issuer: int  # 0 = any region
    valid_from: int
    valid_until: int

    def to_json(self) -> dict[str, Any]:
        return {
            "verifier_region": self.verifier,
            "type": self.type,
            "issuer_region": self.issuer or None,  # None: any region
            "valid_from": iso_time(self.valid_from),  # None: always
            "valid_until": iso_time(self.valid_until),  # None: open-ended
        }


@dataclass(frozen=True)
class BatchInfo:
    """An anchored batch as the contract keeps it (keyed by agency and root)."""

    agency: str
    root: bytes
    key: str
    anchored_at: int
    size: int
    cert_type: str


@dataclass(frozen=True)
class Inspection:
    """What the chain says about one certificate of one agency's batch, read in one call
    (CertificateRegistry.inspect)."""

    batch: BatchInfo | None
    key_agency: str
    key_active_from: int
    key_retired_at: int
    key_compromised_since: int
    issuer_region: int | None
    void_cutoff: int | None  # the cut-off of a removal of the region that voids the anchoring
    certificate_status: tuple[Status, Role]
    batch_status: tuple[Status, Role]
    recognized: bool
    block: int
    block_time: int
    sm2_signature_hash: bytes = b""  # keccak256 of the batch's SM2 signature (sm suite), else empty
    key_sm2_public_key: bytes = b""  # the batch key's registered SM2 public key (x || y), else empty
    identifier_tags_hash: bytes = b""  # keccak256 of the batch's identifier tags; empty: it has none
    issuer_credit_code: str | None = None  # the agency's unified social credit code, when set


@dataclass
class AnchoredBatch:
    root: bytes
    cert_hashes: list[bytes]
    tx: SentTransaction
    agency: str = ""
    signature: bytes = b""  # the EIP-712 signature
    sm2_signature: bytes | None = None  # the SM2 signature (sm suite)
    identifier_tags: list[bytes] = field(default_factory=list)  # in leaf order; [] when none

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "root": "0x" + self.root.hex(),
            "size": len(self.cert_hashes),
            "tx": self.tx.tx_hash,
            "block": self.tx.block_number,
            "gas_used": self.tx.gas_used,
        }


VERIFIER_ROLES = {1: "VERIFIER"}  # IConsortium.Verifier.role


@dataclass(frozen=True)
class VerifierInfo:
    """A verifier organisation registered by its region (``active``: it stands now)."""

    id: str
    region: int
    account: str
    api_key_hash: bytes
    role: str
    rate_per_minute: int
    suspended: bool
    active: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "verifier": self.id,
            "region": self.region,
            "account": self.account,
            "role": self.role,
            "rate_per_minute": self.rate_per_minute,
            "suspended": self.suspended,
            "active": self.active,
        }


# ---------------------------------------------------------------------- the contracts' structs, as read


class RegionStruct(NamedTuple):
    """IConsortium.Region"""

    member: bool
    admin_count: int
    admitted_at: int
    removed_at: int
    epoch: int


class VerifierStruct(NamedTuple):
    """IConsortium.Verifier"""

    region: int
    account: str
    api_key_hash: bytes
    role: int
    rate_per_minute: int
    suspended: bool
    epoch: int


class ProposalStruct(NamedTuple):
    """IConsortium.Proposal"""

    kind: int
    executed: bool
    proposer_region: int
    created_at: int
    expires_at: int
    payload: bytes


class AgencyStruct(NamedTuple):
    """IAgencyRegistry.Agency"""

    region: int
    suspended: bool
    registered_at: int
    epoch: int


class KeyStruct(NamedTuple):
    """IAgencyRegistry.Key"""

    agency: bytes
    active_from: int
    retired_at: int
    compromised_since: int
    epoch: int


class BatchStruct(NamedTuple):
    """ICertificateRegistry.Batch"""

    key: str
    anchored_at: int
    size: int
    cert_type: bytes


@dataclass(frozen=True)
class SnapshotAnchor:
    """A trust snapshot a region admin published: as of block ``height``, its signed
    ``digest``, where it is stored (``cid``), and the block and transaction of the publishing."""

    region: int
    height: int
    digest: bytes
    cid: str
    block: int
    tx: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "height": self.height,
            "digest": "0x" + self.digest.hex(),
            "cid": self.cid,
            "block": self.block,
            "tx": "0x" + self.tx.hex(),
        }
