"""The CertificateRegistry contract: batches anchored by (agency, root), certificate and batch
statuses, holder bindings, the verification views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ..chain import SentTransaction
from ..contracts import Reason, Role, Status, Verdict
from ..errors import InvalidInput
from ..ids import agency_id, credit_code_text, reason_code, text_of, type_id
from ..merkle import build_tree
from ..signing import BatchSigner, as_batch_signer
from .base import RegistryBase
from .results import AnchoredBatch, BatchInfo, BatchStruct, Inspection, KeyStruct

_INSPECT_ARGS = ("bytes32", "bytes32", "bytes32", "uint32", "uint64")
_INSPECT_SELECTOR = function_signature_to_4byte_selector(f"inspect({','.join(_INSPECT_ARGS)})")
_INSPECTION = (
    "((address,uint64,uint32,bytes32),(bytes32,uint64,uint64,uint64,uint32),uint32,bool,uint64,(uint8,uint8),"
    "(uint8,uint8),bool,uint64,uint64,bytes32,bytes32,bytes,bytes18)"
)

UNBOUND = bytes(32)  # the key hash that clears a holder binding
# bindHolders: the transaction and the agency's role, measured ~47,000 gas; then per binding a
# new storage slot (22,100), the HolderBound log (~2,300), 64 bytes of calldata and the loop,
# measured ~26,000 (a rebinding ~9,000, an unbinding ~7,000). The margins leave room for the
# 10 % that Chain.transact adds to the estimate: 557 new bindings estimate ~14.5 M gas.
BIND_GAS_BASE = 60_000
BIND_GAS_PER_HOLDER = 30_000
TRANSACTION_GAS_CAP = 2**24  # EIP-7825: no transaction may ask for more


class CertificatesApi(RegistryBase):
    # ------------------------------------------------------------------ anchoring and status

    def anchor_batch(
        self,
        submitter: LocalAccount,
        signer: LocalAccount | BatchSigner,
        agency: str,
        cert_type: str,
        cert_hashes: Sequence[bytes],
        *,
        gas: int | None = None,
        identifiers: Sequence[str | None] | None = None,
    ) -> AnchoredBatch:
        """Build the batch tree, sign its root with the agency key (and in the sm suite its SM2
        key: pass a BatchSigner), anchor it. ``identifiers`` (one per hash of ``cert_hashes``,
        None for a certificate without) become the batch's identifier tags."""
        tree = build_tree(cert_hashes)
        aid, tid = agency_id(agency), type_id(cert_type)
        batch_signer = as_batch_signer(signer)
        tags: list[bytes] = []
        if identifiers is not None:
            by_hash = dict(zip((bytes(h) for h in cert_hashes), identifiers, strict=True))
            tags = batch_signer.tags([by_hash[h] for h in tree.cert_hashes])
        signatures, sm2_signature = batch_signer.sign(
            tree.root, tid, aid, self.chain.chain_id, self.deployment.certificate_registry, tags
        )
        fn = self.certificates.functions.anchorBatch(aid, tid, tree.cert_hashes, signatures, tags)
        sent = self.chain.transact(submitter, fn, gas=gas)
        return AnchoredBatch(tree.root, tree.cert_hashes, sent, agency, signatures[:65], sm2_signature, tags)

    def set_certificate_status(
        self, actor: LocalAccount, agency: str, cert_hash: bytes, status: Status, reason: str
    ) -> SentTransaction:
        fn = self.certificates.functions.setCertificateStatus(
            agency_id(agency), bytes(cert_hash), int(status), reason_code(reason)
        )
        return self.chain.transact(actor, fn)

    def set_batch_status(
        self, actor: LocalAccount, agency: str, root: bytes, status: Status, reason: str
    ) -> SentTransaction:
        fn = self.certificates.functions.setBatchStatus(
            agency_id(agency), bytes(root), int(status), reason_code(reason)
        )
        return self.chain.transact(actor, fn)

    # ------------------------------------------------------------------ holder bindings

    def bind_holders(
        self, signer: LocalAccount, agency: str, bindings: Sequence[tuple[bytes, bytes]]
    ) -> SentTransaction:
        """Bind holders' device keys to certificates of ``agency`` in one transaction: each
        binding is (certificate hash, SHA-256 of the device's 65-byte uncompressed P-256 public
        key); the key hash ``UNBOUND`` (32 zero bytes) unbinds. ``signer`` is an enabled key of
        the agency or an admin of its region. See ``max_bindings`` for how many fit."""
        cert_hashes, key_hashes = [], []
        for cert_hash, key_hash in bindings:
            if len(cert_hash) != 32 or len(key_hash) != 32:
                raise InvalidInput("a holder binding is a 32-byte certificate hash and a 32-byte key hash")
            cert_hashes.append(bytes(cert_hash))
            key_hashes.append(bytes(key_hash))
        fn = self.certificates.functions.bindHolders(agency_id(agency), cert_hashes, key_hashes)
        return self.chain.transact(signer, fn)

    def holder_key(self, agency: str, cert_hash: bytes) -> bytes | None:
        """The SHA-256 of the device key the agency bound to the certificate (None: none bound)."""
        raw = bytes(self.chain.call(self.certificates.functions.holderKey(agency_id(agency), bytes(cert_hash))))
        return None if raw == UNBOUND else raw

    def max_bindings(self) -> int:
        """How many holder bindings one bindHolders transaction may carry: as many as fit the
        block gas limit (and the transaction cap of EIP-7825)."""
        limit = min(self.chain.block_gas_limit(), TRANSACTION_GAS_CAP)
        return max(1, (limit - BIND_GAS_BASE) // BIND_GAS_PER_HOLDER)

    # ------------------------------------------------------------------ views

    def batch(self, agency: str, root: bytes) -> BatchInfo | None:
        """The agency's batch with this root, or None."""
        b = BatchStruct(*self.chain.call(self.certificates.functions.batch(agency_id(agency), bytes(root))))
        if b.anchored_at == 0:
            return None
        return BatchInfo(
            agency, bytes(root), to_checksum_address(b.key), int(b.anchored_at), int(b.size), text_of(b.cert_type)
        )

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
        raw = self.chain.raw("eth_call", self.inspect_params(agency, cert_hash, root, verifier_region, at))
        return self.inspection(agency, root, raw)

    def inspect_params(
        self, agency: str, cert_hash: bytes, root: bytes, verifier_region: int | None, at: int
    ) -> list[Any]:
        """The ``eth_call`` parameters of ``inspect`` (encoded with eth_abi: web3's encode_abi
        looks the function up in the ABI on every call, a millisecond each)."""
        args = (agency_id(agency), bytes(cert_hash), bytes(root), int(verifier_region or 0), int(at))
        data = "0x" + (_INSPECT_SELECTOR + abi_encode(_INSPECT_ARGS, args)).hex()
        return [{"to": self.deployment.certificate_registry, "data": data}, "latest"]

    def inspection(self, agency: str, root: bytes, raw: object) -> Inspection:
        """``inspect``'s answer (the eth_call result, hex) read into an Inspection."""
        (out,) = abi_decode([_INSPECTION], bytes.fromhex(str(raw)[2:]))
        (
            raw_batch,
            raw_key,
            region,
            voided,
            cutoff,
            cert,
            whole,
            recognized,
            block,
            t,
            sm2_hash,
            tags_hash,
            sm2_key,
        ) = out[:13]
        credit_code = credit_code_text(out[13])
        b, k = BatchStruct(*raw_batch), KeyStruct(*raw_key)
        batch = (
            None
            if b.anchored_at == 0
            else BatchInfo(agency, bytes(root), to_checksum_address(b.key), b.anchored_at, b.size, text_of(b.cert_type))
        )
        return Inspection(
            batch,
            text_of(k.agency) if any(k.agency) else "",
            k.active_from,
            k.retired_at,
            k.compromised_since,
            region or None,
            cutoff if voided else None,
            (Status(cert[0]), Role(cert[1])),
            (Status(whole[0]), Role(whole[1])),
            bool(recognized),
            block,
            t,
            bytes(sm2_hash) if any(sm2_hash) else b"",
            bytes(sm2_key),
            bytes(tags_hash) if any(tags_hash) else b"",
            credit_code,
        )

    def batch_commitments(self, agency: str, root: bytes) -> tuple[bytes, bytes]:
        """(keccak256 of the batch's SM2 signature, keccak256 of its identifier tags); b"" for none."""
        sm2, tags = self.chain.call(self.certificates.functions.batchCommitments(agency_id(agency), bytes(root)))
        return (bytes(sm2) if any(sm2) else b""), (bytes(tags) if any(tags) else b"")

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
