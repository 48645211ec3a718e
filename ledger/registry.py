"""The on-chain registry as a Python API: regions and governance, agencies and keys, types,
recognition rules, anchoring, statuses and the verification view.

Every write takes the acting account (a region admin, an agency key, or a submitter) and
returns once the transaction is mined; a call the contracts reject raises
:class:`~ledger.errors.ContractRejected` with the decoded custom error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from .chain import Chain, SentTransaction
from .contracts import KeyState, ProposalKind, Reason, Role, Status, Verdict
from .deployment import Deployment
from .errors import InvalidInput
from .ids import agency_id, iso_time, reason_code, region_code, text_of, type_id
from .merkle import build_tree
from .signing import sign_batch

ANY_REGION = 0
_INSPECTION = "((address,uint64,uint32,bytes32),(bytes32,uint64,uint64,uint64,uint32),uint32,bool,uint64,(uint8,uint8),(uint8,uint8),bool,uint64,uint64)"


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

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "agency": self.agency,
            "active_from": iso_time(self.active_from),
            "retired_at": iso_time(self.retired_at),
            "compromised_since": iso_time(self.compromised_since),
            "state": self.state.name,
            "enabled": self.enabled,
        }


@dataclass
class AgencyInfo:
    code: str
    region: int
    suspended: bool
    registered_at: int
    types: list[str] = field(default_factory=list)
    keys: list[KeyInfo] = field(default_factory=list)
    enabled: bool = True  # not suspended, region a member, enabled in the region's current epoch

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.code,
            "region": self.region,
            "suspended": self.suspended,
            "enabled": self.enabled,
            "registered_at": iso_time(self.registered_at),
            "types": self.types,
            "keys": [k.to_json() for k in self.keys],
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
            "issuer_region": self.issuer or "any",
            "valid_from": iso_time(self.valid_from) or "always",
            "valid_until": iso_time(self.valid_until),
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


@dataclass
class AnchoredBatch:
    root: bytes
    cert_hashes: list[bytes]
    tx: SentTransaction
    agency: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "root": "0x" + self.root.hex(),
            "size": len(self.cert_hashes),
            "tx": self.tx.tx_hash,
            "block": self.tx.block_number,
            "gas_used": self.tx.gas_used,
        }


# ---------------------------------------------------------------------- registry


def canonical_schema(schema: dict[str, Any] | str) -> str:
    """The schema JSON text as stored on chain: sorted keys, no spaces, UTF-8 kept."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"schema is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise InvalidInput("schema must be a JSON object")
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Registry:
    """The deployed contracts on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.consortium = chain.contract("Consortium", deployment.consortium)
        self.agencies = chain.contract("AgencyRegistry", deployment.agency_registry)
        self.certificates = chain.contract("CertificateRegistry", deployment.certificate_registry)

    def _logs(self, event: Any, **filters: Any) -> list[Any]:
        return self.chain.rpc(
            lambda: event.get_logs(from_block=self.deployment.deployment_block, argument_filters=filters or None)
        )

    # ------------------------------------------------------------------ governance

    def _proposal_result(self, sent: SentTransaction) -> ProposalResult:
        events = self.consortium.events
        created = events.ProposalCreated().process_receipt(sent.receipt, errors=DISCARD)
        approved = events.ProposalApproved().process_receipt(sent.receipt, errors=DISCARD)
        executed = events.ProposalExecuted().process_receipt(sent.receipt, errors=DISCARD)
        first = (created or approved or executed)[0]  # execute() emits only ProposalExecuted
        return ProposalResult(int(first["args"]["id"]), bool(executed), sent)

    def propose_add_region(self, admin: LocalAccount, region: int | str, new_admin: str) -> ProposalResult:
        fn = self.consortium.functions.proposeAddRegion(region_code(region), to_checksum_address(new_admin))
        return self._proposal_result(self.chain.transact(admin, fn))

    def propose_remove_region(self, admin: LocalAccount, region: int | str, cutoff: int = 0) -> ProposalResult:
        """Propose removing ``region``; its anchors made at or after ``cutoff`` become void
        (0: none do)."""
        fn = self.consortium.functions.proposeRemoveRegion(region_code(region), int(cutoff))
        return self._proposal_result(self.chain.transact(admin, fn))

    def propose_add_type(self, admin: LocalAccount, code: str, schema: dict[str, Any] | str) -> ProposalResult:
        fn = self.consortium.functions.proposeAddType(type_id(code), canonical_schema(schema))
        return self._proposal_result(self.chain.transact(admin, fn))

    def propose_quorum_rule(self, admin: LocalAccount, numerator: int, denominator: int) -> ProposalResult:
        """Propose that proposals need approvals from more than numerator/denominator of the members."""
        fn = self.consortium.functions.proposeQuorumRule(int(numerator), int(denominator))
        return self._proposal_result(self.chain.transact(admin, fn))

    def propose_call(self, admin: LocalAccount, target: str, data: bytes) -> ProposalResult:
        """Propose a consortium action: the call ``data`` to ``target`` once approved."""
        fn = self.consortium.functions.proposeCall(to_checksum_address(target), bytes(data))
        return self._proposal_result(self.chain.transact(admin, fn))

    def propose_key_correction(self, admin: LocalAccount, address: str, since: int) -> ProposalResult:
        """Propose correcting a key's compromise report: ``since`` replaces it, 0 clears it."""
        data = self._calldata(self.agencies, "correctKeyCompromise", to_checksum_address(address), int(since))
        return self.propose_call(admin, self.deployment.agency_registry, data)

    def propose_status(
        self,
        admin: LocalAccount,
        agency: str,
        status: Status,
        reason: str,
        *,
        cert_hash: bytes | None = None,
        batch_root: bytes | None = None,
    ) -> ProposalResult:
        """Propose that the consortium set the status of a certificate or a whole batch of
        ``agency`` (any agency, also of a removed region)."""
        if (cert_hash is None) == (batch_root is None):
            raise InvalidInput("give a certificate hash or a batch root")
        if cert_hash is not None:
            data = self._calldata(self.certificates, "setCertificateStatusByConsortium",
                                  agency_id(agency), bytes(cert_hash), int(status), reason_code(reason))
        else:
            data = self._calldata(self.certificates, "setBatchStatusByConsortium",
                                  agency_id(agency), bytes(batch_root), int(status), reason_code(reason))  # type: ignore[arg-type]
        return self.propose_call(admin, self.deployment.certificate_registry, data)

    @staticmethod
    def _calldata(contract: Any, name: str, *args: Any) -> bytes:
        return bytes.fromhex(contract.encode_abi(name, args=list(args))[2:])

    def approve(self, admin: LocalAccount, proposal_id: int) -> ProposalResult:
        return self._proposal_result(self.chain.transact(admin, self.consortium.functions.approve(int(proposal_id))))

    def execute(self, account: LocalAccount, proposal_id: int) -> ProposalResult:
        return self._proposal_result(self.chain.transact(account, self.consortium.functions.execute(int(proposal_id))))

    def add_region_admin(self, admin: LocalAccount, region: int | str, new_admin: str) -> SentTransaction:
        fn = self.consortium.functions.addRegionAdmin(region_code(region), to_checksum_address(new_admin))
        return self.chain.transact(admin, fn)

    def quorum(self) -> int:
        """Approvals a proposal needs now (more than the quorum rule's fraction of the members)."""
        return int(self.chain.call(self.consortium.functions.quorum()))

    def quorum_rule(self) -> tuple[int, int]:
        num = self.chain.call(self.consortium.functions.quorumNumerator())
        den = self.chain.call(self.consortium.functions.quorumDenominator())
        return int(num), int(den)

    def member_count(self) -> int:
        return int(self.chain.call(self.consortium.functions.memberCount()))

    def regions(self) -> list[RegionInfo]:
        codes = self.chain.call(self.consortium.functions.regionCodes())
        return [self.region(c) for c in codes]

    def region(self, code: int | str) -> RegionInfo:
        r = self.chain.call(self.consortium.functions.regionInfo(region_code(code)))
        return RegionInfo(region_code(code), r[0], r[1], r[2], r[3], r[4])

    def void_windows(self, code: int | str) -> list[tuple[int, int]]:
        """(cutoff, removed_at) of each removal of ``code`` that voided anchors."""
        return [(int(w[0]), int(w[1])) for w in self.chain.call(self.consortium.functions.voidWindows(region_code(code)))]

    def admin_region(self, address: str) -> int:
        return int(self.chain.call(self.consortium.functions.adminRegion(to_checksum_address(address))))

    def proposal(self, proposal_id: int) -> ProposalInfo:
        p, approvers = self.chain.call(self.consortium.functions.proposal(int(proposal_id)))
        kind = ProposalKind(p[0])
        return ProposalInfo(int(proposal_id), kind, p[1], p[2], p[3], p[4], _decode_payload(kind, p[5]), list(approvers))

    def proposals(self, *, open_only: bool = False) -> list[ProposalInfo]:
        count = int(self.chain.call(self.consortium.functions.proposalCount()))
        items = [self.proposal(i) for i in range(1, count + 1)]
        if open_only:
            now = self.now()
            items = [p for p in items if not p.executed and p.expires_at > now]
        return items

    # ------------------------------------------------------------------ types

    def types(self) -> list[TypeInfo]:
        schemas = {}
        for log in self._logs(self.consortium.events.CertificateTypeAdded()):
            schemas[bytes(log["args"]["typeId"])] = (log["args"]["schemaHash"], log["args"]["schema"])
        ids = self.chain.call(self.consortium.functions.typeIds())
        out = []
        for tid in ids:
            schema_hash, schema_text = schemas.get(bytes(tid), (b"", None))
            out.append(TypeInfo(text_of(tid), "0x" + bytes(schema_hash).hex(), json.loads(schema_text) if schema_text else None))
        return out

    def type_exists(self, code: str) -> bool:
        return bool(self.chain.call(self.consortium.functions.typeExists(type_id(code))))

    # ------------------------------------------------------------------ recognition

    def set_recognition(
        self,
        admin: LocalAccount,
        verifier: int | str,
        cert_type: str,
        issuer: int | str | None,
        valid_from: int = 0,
        valid_until: int = 0,
    ) -> SentTransaction:
        issuer_code = ANY_REGION if issuer in (None, 0, "0", "any", "*") else region_code(issuer)  # type: ignore[arg-type]
        fn = self.consortium.functions.setRecognition(
            region_code(verifier), type_id(cert_type), issuer_code, int(valid_from), int(valid_until)
        )
        return self.chain.transact(admin, fn)

    def remove_recognition(
        self, admin: LocalAccount, verifier: int | str, cert_type: str, issuer: int | str | None
    ) -> SentTransaction:
        issuer_code = ANY_REGION if issuer in (None, 0, "0", "any", "*") else region_code(issuer)  # type: ignore[arg-type]
        fn = self.consortium.functions.removeRecognition(region_code(verifier), type_id(cert_type), issuer_code)
        return self.chain.transact(admin, fn)

    def is_recognized(self, verifier: int, cert_type: str, issuer: int, at: int | None = None) -> bool:
        at = self.now() if at is None else at
        return bool(self.chain.call(self.consortium.functions.isRecognized(verifier, type_id(cert_type), issuer, at)))

    def recognitions(self) -> list[RecognitionInfo]:
        """The rules in force, replayed from the RecognitionSet / RecognitionRemoved events."""
        set_logs = self._logs(self.consortium.events.RecognitionSet())
        removed_logs = self._logs(self.consortium.events.RecognitionRemoved())
        events = sorted(set_logs + removed_logs, key=lambda log: (log["blockNumber"], log["logIndex"]))
        rules: dict[tuple[int, bytes, int], RecognitionInfo] = {}
        for log in events:
            a = log["args"]
            key = (a["verifier"], bytes(a["typeId"]), a["issuer"])
            if log["event"] == "RecognitionSet":
                rules[key] = RecognitionInfo(a["verifier"], text_of(a["typeId"]), a["issuer"], a["validFrom"], a["validUntil"])
            else:
                rules.pop(key, None)
        return sorted(rules.values(), key=lambda r: (r.verifier, r.type, r.issuer))

    # ------------------------------------------------------------------ agencies

    def register_agency(self, admin: LocalAccount, code: str, region: int | str, types: Sequence[str]) -> SentTransaction:
        fn = self.agencies.functions.registerAgency(agency_id(code), region_code(region), [type_id(t) for t in types])
        return self.chain.transact(admin, fn)

    def set_agency_types(self, admin: LocalAccount, code: str, types: Sequence[str], allowed: bool) -> SentTransaction:
        fn = self.agencies.functions.setAgencyTypes(agency_id(code), [type_id(t) for t in types], allowed)
        return self.chain.transact(admin, fn)

    def suspend_agency(self, admin: LocalAccount, code: str) -> SentTransaction:
        return self.chain.transact(admin, self.agencies.functions.suspendAgency(agency_id(code)))

    def reactivate_agency(self, admin: LocalAccount, code: str) -> SentTransaction:
        """Lift an agency's suspension, or enable it again after its region was re-admitted."""
        return self.chain.transact(admin, self.agencies.functions.reactivateAgency(agency_id(code)))

    def agency(self, code: str) -> AgencyInfo | None:
        aid = agency_id(code)
        a = self.chain.call(self.agencies.functions.agency(aid))
        if a[2] == 0:
            return None
        types = [t.code for t in self.types() if self.chain.call(self.agencies.functions.isTypeAllowed(aid, type_id(t.code)))]
        keys = [self.key(log["args"]["key"]) for log in self._logs(self.agencies.events.KeyAdded(), agency=aid)]
        enabled = bool(self.chain.call(self.agencies.functions.agencyEnabled(aid)))
        return AgencyInfo(code, a[0], a[1], a[2], types, keys, enabled)

    def agency_region(self, code: str) -> int | None:
        a = self.chain.call(self.agencies.functions.agency(agency_id(code)))
        return int(a[0]) if a[2] else None

    def agency_codes(self) -> list[str]:
        return [text_of(a) for a in self.chain.call(self.agencies.functions.agencyIds())]

    def agencies_list(self, region: int | None = None) -> list[AgencyInfo]:
        out = [a for a in (self.agency(c) for c in self.agency_codes()) if a is not None]
        return [a for a in out if region is None or a.region == region]

    # ------------------------------------------------------------------ keys

    def add_key(self, admin: LocalAccount, agency: str, address: str, active_from: int = 0) -> SentTransaction:
        fn = self.agencies.functions.addKey(agency_id(agency), to_checksum_address(address), int(active_from))
        return self.chain.transact(admin, fn)

    def retire_key(self, admin: LocalAccount, address: str, at: int = 0) -> SentTransaction:
        return self.chain.transact(admin, self.agencies.functions.retireKey(to_checksum_address(address), int(at)))

    def rotate_key(self, admin: LocalAccount, old: str, new: str) -> SentTransaction:
        fn = self.agencies.functions.rotateKey(to_checksum_address(old), to_checksum_address(new))
        return self.chain.transact(admin, fn)

    def report_compromised(self, admin: LocalAccount, address: str, since: int) -> SentTransaction:
        """A region admin reports a key of its region compromised since ``since`` (0 = ever)."""
        fn = self.agencies.functions.reportKeyCompromised(to_checksum_address(address), int(since))
        return self.chain.transact(admin, fn)

    def report_own_compromise(self, key: LocalAccount) -> SentTransaction:
        """The key reports itself compromised from now on (a key can never backdate)."""
        return self.chain.transact(key, self.agencies.functions.reportOwnKeyCompromised())

    def enable_key(self, admin: LocalAccount, address: str) -> SentTransaction:
        """Re-enable a key after its region was removed and admitted again."""
        return self.chain.transact(admin, self.agencies.functions.enableKey(to_checksum_address(address)))

    def key(self, address: str) -> KeyInfo:
        address = to_checksum_address(address)
        k = self.chain.call(self.agencies.functions.key(address))
        state = KeyState(self.chain.call(self.agencies.functions.keyStateAt(address, self.now())))
        enabled = bool(self.chain.call(self.agencies.functions.keyEnabled(address)))
        return KeyInfo(address, text_of(k[0]) if any(k[0]) else "", k[1], k[2], k[3], state, enabled)

    def key_state_at(self, address: str, at: int) -> KeyState:
        return KeyState(self.chain.call(self.agencies.functions.keyStateAt(to_checksum_address(address), int(at))))

    # ------------------------------------------------------------------ anchoring and status

    def anchor_batch(
        self,
        submitter: LocalAccount,
        signer: LocalAccount,
        agency: str,
        cert_type: str,
        cert_hashes: Sequence[bytes],
        *,
        gas: int | None = None,
    ) -> AnchoredBatch:
        """Build the batch tree, sign its root with the agency key, anchor it."""
        tree = build_tree(cert_hashes)
        aid, tid = agency_id(agency), type_id(cert_type)
        signature = sign_batch(signer, tree.root, tid, aid, self.chain.chain_id, self.deployment.certificate_registry)
        fn = self.certificates.functions.anchorBatch(aid, tid, tree.cert_hashes, signature)
        sent = self.chain.transact(submitter, fn, gas=gas)
        return AnchoredBatch(tree.root, tree.cert_hashes, sent, agency)

    def set_certificate_status(
        self, actor: LocalAccount, agency: str, cert_hash: bytes, status: Status, reason: str
    ) -> SentTransaction:
        fn = self.certificates.functions.setCertificateStatus(agency_id(agency), bytes(cert_hash), int(status), reason_code(reason))
        return self.chain.transact(actor, fn)

    def set_batch_status(self, actor: LocalAccount, agency: str, root: bytes, status: Status, reason: str) -> SentTransaction:
        fn = self.certificates.functions.setBatchStatus(agency_id(agency), bytes(root), int(status), reason_code(reason))
        return self.chain.transact(actor, fn)

    def batch(self, agency: str, root: bytes) -> BatchInfo | None:
        """The agency's batch with this root, or None."""
        b = self.chain.call(self.certificates.functions.batch(agency_id(agency), bytes(root)))
        if b[1] == 0:
            return None
        return BatchInfo(agency, bytes(root), to_checksum_address(b[0]), int(b[1]), int(b[2]), text_of(b[3]))

    def agencies_with_batch(self, root: bytes) -> list[str]:
        """The agencies that anchored a batch with this root (from the BatchAnchored events)."""
        logs = self._logs(self.certificates.events.BatchAnchored(), root=bytes(root))
        return list(dict.fromkeys(text_of(log["args"]["agency"]) for log in logs))

    def certificate_status(self, agency: str, cert_hash: bytes) -> tuple[Status, Role]:
        s, role = self.chain.call(self.certificates.functions.certificateStatus(agency_id(agency), bytes(cert_hash)))
        return Status(s), Role(role)

    def batch_status(self, agency: str, root: bytes) -> tuple[Status, Role]:
        s, role = self.chain.call(self.certificates.functions.batchStatus(agency_id(agency), bytes(root)))
        return Status(s), Role(role)

    def inspect(self, agency: str, cert_hash: bytes, root: bytes, verifier_region: int | None, at: int) -> Inspection:
        """Everything a verification asks the chain about this certificate, in one ``eth_call``
        (encoded and decoded here, without web3's per-call round trips)."""
        data = self.certificates.encode_abi(
            "inspect", args=[agency_id(agency), bytes(cert_hash), bytes(root), int(verifier_region or 0), int(at)]
        )
        raw = self.chain.raw("eth_call", [{"to": self.deployment.certificate_registry, "data": data}, "latest"])
        (out,) = abi_decode([_INSPECTION], bytes.fromhex(str(raw)[2:]))
        (key, anchored_at, size, cert_type), key_record, region, voided, cutoff, cert, whole, recognized, block, t = out
        batch = None if anchored_at == 0 else BatchInfo(agency, bytes(root), to_checksum_address(key), anchored_at, size,
                                                        text_of(cert_type))
        return Inspection(
            batch, text_of(key_record[0]) if any(key_record[0]) else "", key_record[1], key_record[2], key_record[3],
            region or None, cutoff if voided else None, (Status(cert[0]), Role(cert[1])), (Status(whole[0]), Role(whole[1])),
            bool(recognized), block, t,
        )

    def anchoring_void(self, agency: str, root: bytes) -> Reason:
        return Reason(self.chain.call(self.certificates.functions.anchoringVoid(agency_id(agency), bytes(root))))

    def verify_onchain(
        self, agency: str, cert_hash: bytes, root: bytes, proof: Sequence[bytes], verifier_region: int = 0
    ) -> tuple[Verdict, Reason]:
        v, r = self.chain.call(
            self.certificates.functions.verify(
                agency_id(agency), bytes(cert_hash), bytes(root), [bytes(p) for p in proof], int(verifier_region)
            )
        )
        return Verdict(v), Reason(r)

    # ------------------------------------------------------------------ time

    def now(self) -> int:
        """The chain's notion of now: the latest block's timestamp."""
        return int(self.chain.rpc(lambda: self.chain.w3.eth.get_block("latest"))["timestamp"])


def _decode_payload(kind: ProposalKind, payload: bytes) -> dict[str, Any]:
    if kind is ProposalKind.ADD_REGION:
        region, admin = abi_decode(["uint32", "address"], payload)
        return {"region": region, "admin": to_checksum_address(admin)}
    if kind is ProposalKind.REMOVE_REGION:
        region, cutoff = abi_decode(["uint32", "uint64"], payload)
        return {"region": region, "cutoff": iso_time(cutoff)}
    if kind is ProposalKind.ADD_TYPE:
        tid, schema = abi_decode(["bytes32", "string"], payload)
        return {"type": text_of(tid), "schema_hash": "0x" + keccak(text=schema).hex()}
    if kind is ProposalKind.SET_QUORUM:
        num, den = abi_decode(["uint32", "uint32"], payload)
        return {"quorum_rule": f"{num}/{den}"}
    target, data = abi_decode(["address", "bytes"], payload)
    return {"target": to_checksum_address(target), **describe_call(bytes(data))}


# The consortium actions the CLI proposes, decoded for display.
_CALLS = {
    "correctKeyCompromise": (["address", "uint64"], ("key", "since")),
    "setCertificateStatusByConsortium": (["bytes32", "bytes32", "uint8", "bytes32"], ("agency", "certificate", "status", "reason")),
    "setBatchStatusByConsortium": (["bytes32", "bytes32", "uint8", "bytes32"], ("agency", "batch", "status", "reason")),
}
_CALL_SELECTORS = {
    keccak(text=f"{name}({','.join(types)})")[:4]: (name, types, names) for name, (types, names) in _CALLS.items()
}


def describe_call(data: bytes) -> dict[str, Any]:
    """The action a consortium call proposal would take, decoded when it is one we know."""
    known = _CALL_SELECTORS.get(bytes(data[:4]))
    if known is None:
        return {"action": "call", "data": "0x" + bytes(data).hex()}
    name, types, names = known
    try:
        values = abi_decode(types, bytes(data[4:]))
    except Exception:  # malformed arguments: show the raw call
        return {"action": name, "data": "0x" + bytes(data).hex()}
    out: dict[str, Any] = {"action": name}
    for n, t, v in zip(names, types, values, strict=True):
        if n == "status":
            out[n] = Status(v).name
        elif n == "since":
            out[n] = iso_time(v) or "not compromised"
        elif t == "bytes32" and n in ("certificate", "batch"):
            out[n] = "0x" + bytes(v).hex()
        elif t == "bytes32":
            out[n] = text_of(v)
        elif t == "address":
            out[n] = to_checksum_address(v)
        else:
            out[n] = v
    return out
