"""Re-anchoring an issuance after its signing key was reported compromised.

A key reported compromised since T voids every anchor it made at or after T: the certificates
of those batches verify INVALID. The agency re-anchors the same certificates with a new key —
the same hashes, so the same roots — which the contract accepts because the earlier anchoring
of (agency, root) is void. The documents carry the batch signature, so they are rewritten with
the new key's signature (and full QR codes re-rendered); their hashes and proofs do not change,
and compact QR codes stay valid as printed.

Safe to interrupt: a batch is re-anchored once (a re-run finds it anchored by the new key and
sound), and rewriting the documents is idempotent (RFC 6979 signatures are deterministic; in
the sm suite, where SM2 signatures are randomised, a re-run takes the batch's SM2 signature from
its BatchAnchored event and signs the same EIP-712 message again).

In the sm suite the new key pair signs the batch again: its SM2 key over the same root and
identifier tags (read from the previous anchoring's event), its chain key over both.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from eth_account.signers.local import LocalAccount

from .. import qr as qrcodes
from ..contracts import Reason
from ..document import Certificate
from ..errors import InvalidInput, LedgerError
from ..files import write_json_atomically
from ..ids import agency_id, type_id
from ..merkle import build_tree
from ..registry import Registry
from ..signing import BatchSigner, sign_batch
from .journal import JOURNAL, Journal
from .model import STATE_DIR, Progress, no_progress


@dataclass
class ReanchorResult:
    agency: str
    cert_type: str
    key: str
    batches: list[dict[str, Any]] = field(default_factory=list)  # root, state (reanchored | already | sound), tx, block
    documents: int = 0
    qr_codes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "type": self.cert_type,
            "key": self.key,
            "batches": self.batches,
            "reanchored": sum(1 for b in self.batches if b["state"] == "reanchored"),
            "documents_rewritten": self.documents,
            "qr_codes_rewritten": self.qr_codes,
        }


def reanchor(
    registry: Registry,
    signer: LocalAccount | BatchSigner,
    submitter: LocalAccount,
    out_dir: Path,
    progress: Progress = no_progress,
) -> ReanchorResult:
    """Re-anchor with ``signer`` every batch of the issuance in ``out_dir`` whose anchoring is
    void, and rewrite its documents with the new signature(s)."""
    from .pipeline import batch_signer_for

    signer = batch_signer_for(registry, signer)
    out = Path(out_dir)
    journal = Journal.load(out / STATE_DIR / JOURNAL)
    if journal is None or not journal.complete:
        raise InvalidInput(f"{out} holds no completed issuance (no journal): nothing to re-anchor")
    manifest = _read_json(out / "manifest.json")
    agency, cert_type = manifest["agency"], manifest["type"]
    deployment = registry.deployment
    if (journal.identity["chain_id"], journal.identity["registry"].lower()) != (
        registry.chain.chain_id,
        deployment.certificate_registry.lower(),
    ):
        raise InvalidInput(f"{out} was issued on another ledger (chain {journal.identity['chain_id']})")
    info = registry.key(signer.address)
    if info.agency != agency or not info.enabled:
        raise InvalidInput(f"key {signer.address} is not an enabled signing key of {agency}")

    hashes = _hashes_by_root(out)
    aid, tid = agency_id(agency), type_id(cert_type)
    result = ReanchorResult(agency, cert_type, signer.address)
    signatures: dict[str, tuple[bytes, bytes | None]] = {}
    total = len(journal.batches)
    chain_id, address = registry.chain.chain_id, deployment.certificate_registry
    for done, record in enumerate(journal.batches, start=1):
        root = bytes.fromhex(record.root[2:])
        batch = registry.batch(agency, root)
        if batch is None:
            raise LedgerError(f"batch {record.root} of {agency} is not on chain: run `certledger issue` to finish it")
        void = registry.anchoring_void(agency, root)
        sm2_anchored, tags = _anchored_sm2_and_tags(registry, agency, root)
        if void is Reason.NONE:
            state = "already" if batch.key.lower() == signer.address.lower() else "sound"
            if state == "already":
                sm2 = sm2_anchored if signer.sm2 is not None else None
                eip712 = sign_batch(
                    signer.account, root, tid, aid, chain_id, address, sm2_signature=sm2 or b"", identifier_tags=tags
                )
                signatures[record.root] = (eip712, sm2)
            result.batches.append({"root": record.root, "state": state, "tx": record.tx, "block": record.block})
            progress("anchor", done, total)
            continue
        both, sm2_signature = signer.sign(root, tid, aid, chain_id, address, tags)
        leaf_order = build_tree(hashes[record.root]).cert_hashes
        if len(leaf_order) != record.size:
            raise LedgerError(
                f"{out} lists {len(leaf_order)} certificates of batch {record.root}, the journal {record.size}"
            )
        fn = registry.certificates.functions.anchorBatch(aid, tid, leaf_order, both, tags)
        sent = registry.chain.transact(submitter, fn)
        record.tx, record.block, record.gas_used = sent.tx_hash, sent.block_number, sent.gas_used
        journal.save()
        signatures[record.root] = (both[:65], sm2_signature)
        result.batches.append(
            {
                "root": record.root,
                "state": "reanchored",
                "tx": sent.tx_hash,
                "block": sent.block_number,
                "void": void.name,
            }
        )
        progress("anchor", done, total)
    if signatures:
        result.documents, result.qr_codes = _rewrite_outputs(out, manifest, signatures, signer.address)
        journal.identity["signer"] = signer.address  # later runs of `issue` on this folder sign with the new key
        journal.save()
        manifest["signer"] = signer.address
        manifest["batches"] = [
            {**b, **{k: v for k, v in vars(r).items() if k in ("tx", "block", "gas_used")}}
            for b, r in zip(manifest["batches"], journal.batches, strict=True)
        ]
        write_json_atomically(out / "manifest.json", manifest)
    return result


def _anchored_sm2_and_tags(registry: Registry, agency: str, root: bytes) -> tuple[bytes, list[bytes]]:
    """The SM2 signature and the identifier tags of the agency's newest anchoring of ``root``
    (from its BatchAnchored event)."""
    event = registry.certificates.events.BatchAnchored()
    logs = registry.chain.rpc(
        lambda: event.get_logs(
            from_block=registry.deployment.deployment_block,
            argument_filters={"root": root, "agency": agency_id(agency)},
        )
    )
    if not logs:
        return b"", []
    args = logs[-1]["args"]
    return bytes(args["sm2Signature"]), [bytes(t) for t in args["identifierTags"]]


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"no {path.name} in {path.parent}: not an issuance folder") from None
    except orjson.JSONDecodeError:
        raise LedgerError(f"{path} is damaged") from None


def _hashes_by_root(out: Path) -> dict[str, list[bytes]]:
    by_root: dict[str, list[bytes]] = defaultdict(list)
    with open(out / "index.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_root[row["root"]].append(bytes.fromhex(row["hash"][2:]))
    return by_root


Signatures = dict[str, tuple[bytes, bytes | None]]  # root -> (EIP-712 signature, SM2 signature or None)


def _resign(doc: dict[str, Any], signatures: Signatures, key: str) -> bool:
    found = signatures.get(doc["anchor"]["root"])
    if found is None:
        return False
    sig, sm2 = found
    doc["anchor"]["signature"] = "0x" + sig.hex()
    if sm2 is not None:
        doc["anchor"]["sm2Signature"] = "0x" + sm2.hex()
    doc["anchor"]["key"] = key
    return True


def _rewrite_outputs(out: Path, manifest: dict[str, Any], signatures: Signatures, key: str) -> tuple[int, int]:
    documents = qr_codes = 0
    full_qr = manifest.get("qr_dir") and manifest.get("qr_payload") == "full"
    if manifest.get("bundle"):
        bundle = out / manifest["bundle"]
        tmp = bundle.with_suffix(".jsonl.tmp")
        with open(bundle, "rb") as src, open(tmp, "wb") as dst:
            for line in src:
                doc = orjson.loads(line)
                documents += _resign(doc, signatures, key)
                dst.write(orjson.dumps(doc) + b"\n")
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, bundle)
    bundled: dict[str, dict[str, Any]] | None = None
    with open(out / "index.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["root"] not in signatures:
                continue
            doc = None
            if row["file"]:
                path = out / row["file"]
                doc = orjson.loads(path.read_bytes())
                if _resign(doc, signatures, key):
                    write_json_atomically(path, doc)
                    documents += 1
            if full_qr and row["qr"]:
                if doc is None:
                    if bundled is None:
                        bundled = _bundle_docs(out / manifest["bundle"])
                    doc = bundled[row["hash"]]
                qrcodes.render_png(qrcodes.full_payload(Certificate.from_json(doc)[0]), out / row["qr"])
                qr_codes += 1
    return documents, qr_codes


def _bundle_docs(bundle: Path) -> dict[str, dict[str, Any]]:
    with open(bundle, "rb") as fh:
        return {doc["hash"]: doc for doc in map(orjson.loads, fh)}
