"""Anchoring the journal's batches: for each root the chain does not have, send
``anchorBatch``; a root the chain has must be this issuance's (agency, type, key)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import orjson
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import keccak

from ..contracts import KeyState
from ..errors import ContractRejected, InvalidInput, LedgerError
from ..ids import agency_id, type_id
from ..merkle import build_tree
from ..registry import Registry
from ..signing import BatchSigner
from .journal import Journal
from .model import BatchRecord, CrashHook, IssueRequest, Progress

GAS_BASE = 150_000
GAS_PER_CERTIFICATE = 1_500  # measured ~1,340 (EIP-7623 calldata floor); margin for memory growth
# with an identifier tag per certificate: 32 more calldata bytes (the floor: ~800 gas) and 32 more
# bytes of log data; measured ~2,150
GAS_PER_TAGGED_CERTIFICATE = 2_400
ANCHOR_SELECTOR = keccak(text="anchorBatch(bytes32,bytes32,bytes32[],bytes,bytes16[])")[:4]


def _split(data: Sequence[bytes] | bytes, size: int) -> list[bytes]:
    if isinstance(data, bytes | bytearray):
        return [bytes(data[i : i + size]) for i in range(0, len(data), size)]
    return [bytes(d) for d in data]


def anchor_calldata(
    agency: bytes,
    cert_type: bytes,
    leaf_order: Sequence[bytes] | bytes,
    signature: bytes,
    identifier_tags: Sequence[bytes] | bytes = (),
) -> bytes:
    """The calldata of ``anchorBatch(agency, certType, certHashes, signatures, identifierTags)``
    (5 ms for 10,000 hashes). ``signature``: the EIP-712 signature, followed in the sm suite by
    the SM2 signature; ``identifier_tags``: none, or one 16-byte tag per hash in leaf order."""
    return ANCHOR_SELECTOR + abi_encode(
        ["bytes32", "bytes32", "bytes32[]", "bytes", "bytes16[]"],
        [agency, cert_type, _split(leaf_order, 32), signature, _split(identifier_tags, 16)],
    )


def gas_for(size: int, tagged: bool = False) -> int:
    """The gas limit sent with an anchorBatch of ``size`` certificates."""
    return GAS_BASE + (GAS_PER_TAGGED_CERTIFICATE if tagged else GAS_PER_CERTIFICATE) * size


def max_batch(registry: Registry, requested: int, tagged: bool = False) -> int:
    """The largest batch that fits a transaction (``tagged``: with identifier tags)."""
    gas_limit = int(registry.chain.rpc(lambda: registry.chain.w3.eth.get_block("latest"))["gasLimit"])
    per_certificate = GAS_PER_TAGGED_CERTIFICATE if tagged else GAS_PER_CERTIFICATE
    fits = (min(gas_limit, 2**24) - GAS_BASE) // per_certificate  # 2**24: EIP-7825 transaction cap
    if requested < 1:
        raise InvalidInput("--max-batch must be at least 1")
    return max(1, min(requested, fits))


def preflight(registry: Registry, signer: LocalAccount | BatchSigner, request: IssueRequest, region: int) -> None:
    """Check on chain what anchoring would check, so that nothing is built or sent in vain."""
    info = registry.key(signer.address)
    if info.agency != request.agency:
        raise InvalidInput(f"key {signer.address} is not a signing key of {request.agency}")
    if info.state is not KeyState.ACTIVE:
        raise InvalidInput(f"key {signer.address} of {request.agency} is {info.state.name.lower().replace('_', ' ')}")
    agency = registry.agency(request.agency)
    if agency is not None and agency.suspended:
        raise InvalidInput(f"agency {request.agency} is suspended")
    if agency is not None and not agency.enabled:
        raise InvalidInput(
            f"agency {request.agency} is disabled since its region was re-admitted: a region admin must reactivate it"
        )
    if not info.enabled:
        raise InvalidInput(f"key {signer.address} of {request.agency} is disabled: a region admin must enable it again")
    if request.cert_type not in (agency.types if agency else []):
        raise InvalidInput(f"agency {request.agency} may not issue {request.cert_type}")
    if not registry.chain.call(registry.consortium.functions.isMember(region)):
        raise InvalidInput(f"region {region} of {request.agency} is not a consortium member")


def _find_anchor_tx(registry: Registry, agency: str, root: bytes) -> tuple[str | None, int | None]:
    """The transaction that anchored the agency's batch (its newest anchoring)."""
    event = registry.certificates.events.BatchAnchored()
    logs = registry.chain.rpc(
        lambda: event.get_logs(
            from_block=registry.deployment.deployment_block,
            argument_filters={"root": root, "agency": agency_id(agency)},
        )
    )
    if not logs:
        return None, None
    return "0x" + bytes(logs[-1]["transactionHash"]).hex(), int(logs[-1]["blockNumber"])


class BatchMismatch(LedgerError):
    """The chain holds this issuance's batch root for its agency, but not as this issuance anchors it."""

    code = "BATCH_MISMATCH"


def check_found_batch(registry: Registry, agency: str, cert_type: str, signer: str, root: bytes) -> bool:
    """Whether the agency's batch ``root`` is on chain as this issuance anchors it (True), or not
    on chain at all (False). Raises BatchMismatch when the chain has the root for the agency with
    another type or another key, or with a void anchoring: the documents written would not verify."""
    info = registry.batch(agency, root)
    if info is None:
        return False
    where = f"batch 0x{root.hex()} of {agency}"
    if info.cert_type != cert_type:
        raise BatchMismatch(
            f"{where} is on chain as type {info.cert_type}, not {cert_type}: its documents would not verify"
        )
    if info.key.lower() != signer.lower():
        raise BatchMismatch(
            f"{where} is on chain signed by key {info.key}, not by this issuance's key {signer}: "
            "its documents would not verify"
        )
    void = registry.anchoring_void(agency, root)
    if void.value:
        raise BatchMismatch(
            f"{where} is on chain but void ({void.name.lower().replace('_', ' ')}): re-anchor it with a new key"
        )
    return True


def anchor_all(
    registry: Registry,
    submitter: LocalAccount,
    journal: Journal,
    request: IssueRequest,
    staged: dict[str, tuple[bytes, bytes, bytes]],
    progress: Progress,
    crash: CrashHook,
) -> int:
    """Anchor every batch of the journal that the chain does not have yet; all transactions
    are sent first, then their receipts awaited. Returns how many were sent now."""
    chain = registry.chain
    aid, tid = agency_id(request.agency), type_id(request.cert_type)
    pending: list[BatchRecord] = []
    total = len(journal.batches)
    for record in journal.batches:
        if record.state == "anchored":
            continue
        root = bytes.fromhex(record.root[2:])
        # Anchored before a crash cut the journal short? Only if the chain has it exactly as this
        # issuance anchors it: same agency (the key of the lookup), type and signing key.
        if check_found_batch(registry, request.agency, request.cert_type, journal.identity["signer"], root):
            record.tx, record.block = _find_anchor_tx(registry, request.agency, root)
            record.state = "anchored"
            journal.save()
            continue
        leaf_order, signatures, tags = staged.get(record.part) or staged_batch(
            journal.path.parent / f"{record.part}.jsonl"
        )
        tx = {
            "to": registry.deployment.certificate_registry,
            "data": anchor_calldata(aid, tid, leaf_order, signatures, tags),
            "gas": gas_for(record.size, bool(tags)),
            "value": 0,
        }
        sent = chain.send_transaction(submitter, tx, wait=False)
        crash("batch-sent")  # sent, not yet journaled as sent
        record.state, record.tx = "sent", sent.tx_hash
        journal.save()
        pending.append(record)
    done = total - len(pending)
    progress("anchor", done, total)
    for record in pending:
        assert record.tx is not None  # sent: journaled with its transaction hash
        tx_hash = HexStr(record.tx)
        receipt = chain.wait(bytes.fromhex(tx_hash[2:]))
        if receipt["status"] != 1:
            try:
                chain.raise_for_failed(dict(chain.rpc(partial(chain.w3.eth.get_transaction, tx_hash))), receipt)
            except ContractRejected:
                raise
            except LedgerError as exc:
                raise LedgerError(f"anchoring batch {record.root} failed: {exc}") from None
        record.state, record.block, record.gas_used = "anchored", int(receipt["blockNumber"]), int(receipt["gasUsed"])
        journal.save()
        crash("batch-anchored")
        done += 1
        progress("anchor", done, total)
    return len(pending)


def staged_batch(part: Path) -> tuple[bytes, bytes, bytes]:
    """A staged batch's certificate hashes in leaf order, the signatures ``anchorBatch`` takes
    (EIP-712, then SM2 in the sm suite) and its identifier tags in leaf order (``batch-N.tags``
    beside the documents; empty: none), for a re-run."""
    hashes = []
    signatures = b""
    with open(part, "rb") as fh:
        for line in fh:
            doc = orjson.loads(line)
            hashes.append(bytes.fromhex(doc["hash"][2:]))
            anchor = doc["anchor"]
            signatures = bytes.fromhex(anchor["signature"][2:])
            if anchor.get("sm2Signature"):
                signatures += bytes.fromhex(anchor["sm2Signature"][2:])
    tags_file = part.with_suffix(".tags")
    tags = tags_file.read_bytes() if tags_file.is_file() else b""
    return b"".join(build_tree(hashes).cert_hashes), signatures, tags
