"""The Consortium contract: regions and their admins, M-of-N proposals (regions, types, the
quorum rule, consortium actions on the other contracts), certificate types and recognition
rules."""

from __future__ import annotations

import json
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from ..chain import SentTransaction
from ..contracts import ProposalKind, Status
from ..errors import InvalidInput
from ..ids import agency_id, iso_time, reason_code, region_code, text_of, type_id
from .base import ANY_REGION, RegistryBase, canonical_schema
from .results import (
    VERIFIER_ROLES,
    ProposalInfo,
    ProposalResult,
    ProposalStruct,
    RecognitionInfo,
    RegionInfo,
    RegionStruct,
    SnapshotAnchor,
    TypeInfo,
    VerifierInfo,
    VerifierStruct,
)


class ConsortiumApi(RegistryBase):
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
            data = self._calldata(
                self.certificates,
                "setCertificateStatusByConsortium",
                agency_id(agency),
                bytes(cert_hash),
                int(status),
                reason_code(reason),
            )
        else:
            assert batch_root is not None
            data = self._calldata(
                self.certificates,
                "setBatchStatusByConsortium",
                agency_id(agency),
                bytes(batch_root),
                int(status),
                reason_code(reason),
            )
        return self.propose_call(admin, self.deployment.certificate_registry, data)

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
        r = RegionStruct(*self.chain.call(self.consortium.functions.regionInfo(region_code(code))))
        return RegionInfo(region_code(code), r.member, r.admin_count, r.admitted_at, r.removed_at, r.epoch)

    def void_windows(self, code: int | str) -> list[tuple[int, int]]:
        """(cutoff, removed_at) of each removal of ``code`` that voided anchors."""
        return [
            (int(w[0]), int(w[1])) for w in self.chain.call(self.consortium.functions.voidWindows(region_code(code)))
        ]

    def admin_region(self, address: str) -> int:
        return int(self.chain.call(self.consortium.functions.adminRegion(to_checksum_address(address))))

    def proposal(self, proposal_id: int) -> ProposalInfo:
        raw, approvers = self.chain.call(self.consortium.functions.proposal(int(proposal_id)))
        p = ProposalStruct(*raw)
        kind = ProposalKind(p.kind)
        return ProposalInfo(
            int(proposal_id),
            kind,
            p.executed,
            p.proposer_region,
            p.created_at,
            p.expires_at,
            decode_payload(kind, p.payload),
            list(approvers),
        )

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
            out.append(
                TypeInfo(
                    text_of(tid), "0x" + bytes(schema_hash).hex(), json.loads(schema_text) if schema_text else None
                )
            )
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
                rules[key] = RecognitionInfo(
                    a["verifier"], text_of(a["typeId"]), a["issuer"], a["validFrom"], a["validUntil"]
                )
            else:
                rules.pop(key, None)
        return sorted(rules.values(), key=lambda r: (r.verifier, r.type, r.issuer))

    # ------------------------------------------------------------------ verifier organisations

    def register_verifier(
        self,
        admin: LocalAccount,
        verifier: str,
        region: int | str,
        account: str,
        api_key_hash: bytes,
        *,
        rate_per_minute: int = 0,
    ) -> SentTransaction:
        """Register a verifier organisation of the admin's region (role VERIFIER)."""
        fn = self.consortium.functions.registerVerifier(
            agency_id(verifier),
            region_code(region),
            to_checksum_address(account),
            bytes(api_key_hash),
            1,
            rate_per_minute,
        )
        return self.chain.transact(admin, fn)

    def update_verifier(
        self,
        admin: LocalAccount,
        verifier: str,
        *,
        account: str | None = None,
        api_key_hash: bytes | None = None,
        rate_per_minute: int | None = None,
        suspended: bool | None = None,
    ) -> SentTransaction:
        """Change what is given of a verifier organisation (the rest stays)."""
        now = self.verifier(verifier)
        if now is None:
            raise InvalidInput(f"unknown verifier {verifier!r}")
        fn = self.consortium.functions.updateVerifier(
            agency_id(verifier),
            to_checksum_address(account or now.account),
            bytes(api_key_hash or now.api_key_hash),
            1,
            now.rate_per_minute if rate_per_minute is None else rate_per_minute,
            now.suspended if suspended is None else suspended,
        )
        return self.chain.transact(admin, fn)

    def verifier(self, verifier: str) -> VerifierInfo | None:
        vid = agency_id(verifier)
        v = VerifierStruct(*self.chain.call(self.consortium.functions.verifier(vid)))
        if v.region == 0:
            return None
        active = bool(self.chain.call(self.consortium.functions.verifierActive(vid)))
        role = VERIFIER_ROLES.get(v.role, str(v.role))
        return VerifierInfo(
            verifier,
            v.region,
            to_checksum_address(v.account),
            bytes(v.api_key_hash),
            role,
            v.rate_per_minute,
            v.suspended,
            active,
        )

    def receipts_anchored(self, verifier: str, root: bytes) -> tuple[bytes, int] | None:
        """(transaction, block) of the anchoring of a receipt root by ``verifier``, or None."""
        logs = self._logs(self.consortium.events.ReceiptsAnchored(), verifier=agency_id(verifier), root=bytes(root))
        if not logs:
            return None
        return bytes(logs[0]["transactionHash"]), int(logs[0]["blockNumber"])

    def anchor_receipts(self, account: LocalAccount, verifier: str, root: bytes, count: int) -> SentTransaction:
        """Anchor the Merkle root of ``count`` of the verifier's receipts (its account)."""
        fn = self.consortium.functions.anchorReceipts(agency_id(verifier), bytes(root), int(count))
        return self.chain.transact(account, fn)

    def anchor_snapshot(self, admin: LocalAccount, height: int, digest: bytes, cid: str) -> SentTransaction:
        """Publish the trust snapshot of block ``height``: its signed digest and its CID."""
        fn = self.consortium.functions.anchorSnapshot(int(height), bytes(digest), cid)
        return self.chain.transact(admin, fn)

    def snapshot_anchors(self) -> list[SnapshotAnchor]:
        """Every trust snapshot published, oldest first."""
        return [
            SnapshotAnchor(
                int(log["args"]["region"]),
                int(log["args"]["height"]),
                bytes(log["args"]["digest"]),
                str(log["args"]["cid"]),
                int(log["blockNumber"]),
                bytes(log["transactionHash"]),
            )
            for log in self._logs(self.consortium.events.SnapshotAnchored())
        ]


def decode_payload(kind: ProposalKind, payload: bytes) -> dict[str, Any]:
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
    "setCertificateStatusByConsortium": (
        ["bytes32", "bytes32", "uint8", "bytes32"],
        ("agency", "certificate", "status", "reason"),
    ),
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
