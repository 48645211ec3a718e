"""Verification receipts (docs/presentations.md §6): every check of a presentation by a
registered verifier leaves one, written before the answer is sent, then sealed into Merkle
batches whose roots are anchored on chain.

A receipt holds the verifier, its region, the purpose, the time, the names of the fields the
verifier saw, the verdict, and the certificate only as the presentation's receipt tag (a
pseudonym only the holder and the issuing agency can link; ``ledger.presentation.receipt_tag``).
No field value, no certificate hash.

Receipts live in the mirror's database (SQLite or PostgreSQL) in tables of their own: a mirror
rebuilt from the chain (a new schema version, ``index --rebuild``) never drops them. Sealing is
one transaction (the batch row with its root, and every receipt's batch and position), so a
crash leaves each receipt either unsealed (sealed again later) or in exactly one batch; a batch
is *anchored* once its root's transaction is mined (``mark_anchored``).

Leaf of a receipt (keccak256, then the batch tree of ``ledger.merkle``)::

    leaf = keccak256( "CLRC" || CBOR [verifier, region, purpose, purpose text, time,
                                      sorted field names, tag, verdict, serial] )

(``serial``: 16 random bytes, so that the same presentation checked twice leaves two receipts.)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cbor2
from eth_utils import keccak
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from .merkle import build_tree, root_from_proof

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from .registry import Registry

log = logging.getLogger("certledger.receipts")

LEAF_TAG = b"CLRC"
metadata = MetaData()  # not the mirror's: a rebuilt mirror keeps its receipts

receipt_batches = Table(
    "receipt_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verifier", String(32), nullable=False),
    Column("root", LargeBinary(32), nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("sealed_at", BigInteger, nullable=False),
    Column("tx", LargeBinary(32), nullable=True),  # set once the anchoring transaction is mined
    Column("block", BigInteger, nullable=True),
)
receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verifier", String(32), nullable=False, index=True),
    Column("region", Integer, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("purpose_text", String(400), nullable=False),
    Column("verified_at", BigInteger, nullable=False),
    Column("fields", Text, nullable=False),  # JSON list of field names, sorted
    Column("tag", LargeBinary(16), nullable=False, index=True),
    Column("verdict", String(16), nullable=False),
    Column("serial", LargeBinary(16), nullable=False),
    Column("leaf", LargeBinary(32), nullable=False),
    Column("batch_id", Integer, ForeignKey("receipt_batches.id"), nullable=True, index=True),
    Column("position", Integer, nullable=True),  # the leaf's place in its batch's tree
)


@dataclass(frozen=True)
class Receipt:
    verifier: str
    region: int
    purpose: str
    purpose_text: str
    verified_at: int
    fields: tuple[str, ...]
    tag: bytes
    verdict: str
    serial: bytes = field(default_factory=lambda: os.urandom(16))

    def leaf(self) -> bytes:
        body = [
            self.verifier,
            self.region,
            self.purpose,
            self.purpose_text,
            self.verified_at,
            sorted(self.fields),
            bytes(self.tag),
            self.verdict,
            bytes(self.serial),
        ]
        return keccak(LEAF_TAG + cbor2.dumps(body))

    def to_json(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier,
            "region": self.region,
            "purpose": self.purpose,
            "purpose_text": self.purpose_text,
            "verified_at": self.verified_at,
            "fields": sorted(self.fields),
            "tag": "0x" + self.tag.hex(),
            "verdict": self.verdict,
            "serial": "0x" + self.serial.hex(),
        }


@dataclass(frozen=True)
class SealedBatch:
    id: int
    verifier: str
    root: bytes
    size: int


@dataclass(frozen=True)
class ReceiptProof:
    """A receipt as the holder fetches it: the receipt, its Merkle proof, and its batch (None
    while it waits to be sealed; ``block`` None while the root waits to be anchored)."""

    receipt: Receipt
    batch_root: bytes | None
    proof: tuple[bytes, ...]
    block: int | None
    tx: bytes | None

    def proves(self) -> bool:
        """Whether the proof leads from the receipt to its batch root."""
        return self.batch_root is not None and root_from_proof(self.receipt.leaf(), self.proof) == self.batch_root

    def to_json(self) -> dict[str, Any]:
        return {
            **self.receipt.to_json(),
            "batch_root": None if self.batch_root is None else "0x" + self.batch_root.hex(),
            "proof": ["0x" + p.hex() for p in self.proof],
            "anchored": None if self.block is None else {"block": self.block, "tx": "0x" + (self.tx or b"").hex()},
        }


class ReceiptStore:
    """The receipts of one verifier organisation's API, in the mirror's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def record(self, receipt: Receipt) -> int:
        """Store a receipt (committed when this returns: a crash after it loses nothing)."""
        row = {
            "verifier": receipt.verifier,
            "region": receipt.region,
            "purpose": receipt.purpose,
            "purpose_text": receipt.purpose_text,
            "verified_at": receipt.verified_at,
            "fields": json.dumps(sorted(receipt.fields)),
            "tag": bytes(receipt.tag),
            "verdict": receipt.verdict,
            "serial": bytes(receipt.serial),
            "leaf": receipt.leaf(),
        }
        with self.engine.begin() as conn:
            return _new_id(conn.execute(insert(receipts).values(**row)))

    def unsealed(self, verifier: str) -> int:
        return self.waiting(verifier)[0]

    def waiting(self, verifier: str) -> tuple[int, int]:
        """(how many of the verifier's receipts wait to be sealed, when the oldest was made)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.min(receipts.c.verified_at)).where(
                    receipts.c.verifier == verifier, receipts.c.batch_id.is_(None)
                )
            ).one()
        count, oldest = row[0], row[1]
        return int(count), int(oldest or 0)

    def seal(self, verifier: str, now: int, limit: int = 10_000) -> SealedBatch | None:
        """Seal up to ``limit`` of the verifier's unsealed receipts, oldest first, into one
        batch (one transaction); None when there are none."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(receipts.c.id, receipts.c.leaf)
                .where(receipts.c.verifier == verifier, receipts.c.batch_id.is_(None))
                .order_by(receipts.c.id)
                .limit(limit)
                .with_for_update()
            ).all()
            if not rows:
                return None
            tree = build_tree([bytes(r.leaf) for r in rows])
            batch_id = _new_id(
                conn.execute(
                    insert(receipt_batches).values(verifier=verifier, root=tree.root, size=len(rows), sealed_at=now)
                )
            )
            position = {leaf: i for i, leaf in enumerate(tree.cert_hashes)}
            for r in rows:
                conn.execute(
                    update(receipts)
                    .where(receipts.c.id == r.id)
                    .values(batch_id=batch_id, position=position[bytes(r.leaf)])
                )
        return SealedBatch(batch_id, verifier, tree.root, len(rows))

    def unanchored(self, verifier: str) -> list[SealedBatch]:
        """Sealed batches whose root is not yet known to be anchored (after a crash: check the
        chain for each, then anchor it or mark it)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(receipt_batches)
                .where(receipt_batches.c.verifier == verifier, receipt_batches.c.block.is_(None))
                .order_by(receipt_batches.c.id)
            ).all()
        return [SealedBatch(r.id, r.verifier, bytes(r.root), r.size) for r in rows]

    def mark_anchored(self, batch_id: int, tx: bytes, block: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(receipt_batches).where(receipt_batches.c.id == batch_id).values(tx=bytes(tx), block=block)
            )

    def audit(self, batch_id: int) -> bool:
        """Whether the batch's receipts, as stored now (each leaf recomputed from its content),
        still give the root that was sealed (and anchored): a receipt altered or dropped since
        shows here, and to any holder whose proof no longer leads to the anchored root."""
        with self.engine.connect() as conn:
            batch = conn.execute(select(receipt_batches).where(receipt_batches.c.id == batch_id)).one()
            rows = conn.execute(select(receipts).where(receipts.c.batch_id == batch_id)).all()
        if len(rows) != batch.size:
            return False
        try:
            return build_tree([_receipt(r).leaf() for r in rows]).root == bytes(batch.root)
        except ValueError:  # two receipts made identical
            return False

    def by_tags(self, tags: Iterable[bytes]) -> list[ReceiptProof]:
        """The receipts with these tags (what a holder asks for: its presentations' tags), with
        their proofs."""
        wanted = [bytes(t) for t in tags]
        if not wanted:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(receipts).where(receipts.c.tag.in_(wanted)).order_by(receipts.c.id)).all()
            out = []
            for r in rows:
                receipt = _receipt(r)
                if r.batch_id is None:
                    out.append(ReceiptProof(receipt, None, (), None, None))
                    continue
                batch = conn.execute(select(receipt_batches).where(receipt_batches.c.id == r.batch_id)).one()
                leaves = [
                    bytes(x.leaf)
                    for x in conn.execute(
                        select(receipts.c.leaf).where(receipts.c.batch_id == r.batch_id).order_by(receipts.c.position)
                    )
                ]
                proof = tuple(build_tree(leaves).proof(bytes(r.leaf)))
                tx = None if batch.tx is None else bytes(batch.tx)
                out.append(ReceiptProof(receipt, bytes(batch.root), proof, batch.block, tx))
        return out


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row
    return int(key[0])


def _receipt(row: Any) -> Receipt:
    return Receipt(
        row.verifier,
        row.region,
        row.purpose,
        row.purpose_text,
        row.verified_at,
        tuple(json.loads(row.fields)),
        bytes(row.tag),
        row.verdict,
        bytes(row.serial),
    )


class ReceiptAnchorer:
    """Seals a verifier's receipts into batches and anchors their roots from its account:
    when ``at_most`` receipts wait, or the oldest has waited ``every`` seconds (0: at once).

    Crash-safe in three steps, each repeatable: sealing is one transaction; a sealed batch
    whose root is not known to be anchored is first looked up on chain (anchored before the
    crash: only marked) and else anchored; marking records the transaction and block."""

    def __init__(
        self,
        store: ReceiptStore,
        registry: Registry,
        verifier: str,
        account: LocalAccount,
        *,
        every: float = 30.0,
        at_most: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.registry, self.verifier, self.account = store, registry, verifier, account
        self.every, self.at_most, self.clock = every, at_most, clock

    def run_once(self) -> list[SealedBatch]:
        """Finish what a crash left, then seal and anchor if it is time; the batches anchored."""
        done = [self._anchor(b) for b in self.store.unanchored(self.verifier)]
        waiting, oldest = self.store.waiting(self.verifier)
        now = int(self.clock())
        if waiting and (waiting >= self.at_most or self.every <= 0 or now - oldest >= self.every):
            batch = self.store.seal(self.verifier, now, self.at_most)
            if batch is not None:
                done.append(self._anchor(batch))
        return done

    def _anchor(self, batch: SealedBatch) -> SealedBatch:
        found = self.registry.receipts_anchored(self.verifier, batch.root)
        if found is None:
            sent = self.registry.anchor_receipts(self.account, self.verifier, batch.root, batch.size)
            found = bytes.fromhex(sent.tx_hash.removeprefix("0x")), sent.block_number
        self.store.mark_anchored(batch.id, *found)
        return batch


class AnchorSchedule:
    """Runs anchorers on their schedule in a thread of its own until stopped: the loop of
    ``certledger serve --anchor`` and of ``certledger receipts anchor --follow``.

    A failure (the node down, the verifier suspended) is reported to ``on_error`` and tried
    again at the next look, later each time it repeats (up to a minute), so that an API keeps
    serving while its node is away and anchors what waited once it is back: receipts wait in
    the database meanwhile, and a crash at any step loses none (``ReceiptAnchorer``)."""

    def __init__(
        self,
        anchorers: Iterable[ReceiptAnchorer],
        *,
        poll: float | None = None,
        on_anchor: Callable[[ReceiptAnchorer, SealedBatch], None] | None = None,
        on_error: Callable[[ReceiptAnchorer, Exception], None] | None = None,
    ) -> None:
        self.anchorers = list(anchorers)
        # by default a look every sixth of the shortest sealing age, between 0.5 s and 5 s
        shortest = min((a.every for a in self.anchorers), default=30.0)
        self.poll = poll if poll is not None else min(5.0, max(0.5, shortest / 6))
        self.on_anchor, self.on_error = on_anchor, on_error
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[SealedBatch]:
        """One look at every anchorer: the batches anchored."""
        return self._look()[0]

    def run(self) -> None:
        """Look every ``poll`` seconds (longer while looks fail) until ``stop``; without
        ``on_error`` the first failure ends the loop with its exception."""
        failures = 0
        while not self.stopped.is_set():
            failures = failures + 1 if self._look()[1] else 0
            self.stopped.wait(min(60.0, self.poll * 2 ** min(failures, 6)))

    def _look(self) -> tuple[list[SealedBatch], int]:
        done: list[SealedBatch] = []
        failed = 0
        for anchorer in self.anchorers:
            try:
                batches = anchorer.run_once()
            except Exception as exc:
                if self.on_error is None:
                    raise
                failed += 1
                self.on_error(anchorer, exc)
                continue
            for batch in batches:
                if self.on_anchor is not None:
                    self.on_anchor(anchorer, batch)
            done.extend(batches)
        return done, failed

    def start(self) -> AnchorSchedule:
        self._thread = threading.Thread(target=self.run, name="receipt-anchoring", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)
