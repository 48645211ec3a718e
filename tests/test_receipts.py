"""Verification receipts in the mirror's database (SQLite and PostgreSQL): recorded before an
answer leaves, sealed into Merkle batches in one transaction, fetched by the holder's tags with
proofs, kept across a mirror rebuild, and an altered or dropped receipt shows."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from eth_account import Account
from helpers import Consortium, FakeClock
from sqlalchemy import delete, update

from ledger.mirror.store import make_engine
from ledger.receipts import Receipt, ReceiptAnchorer, ReceiptStore, receipt_batches, receipts


@pytest.fixture
def store(mirror_url: str) -> Iterator[ReceiptStore]:
    engine = make_engine(mirror_url)
    try:
        yield ReceiptStore(engine)
    finally:
        engine.dispose()


def receipt(tag: bytes, verifier: str = "ZJ-BANK-1", **changes: object) -> Receipt:
    values: dict = {
        "verifier": verifier,
        "region": 330000,
        "purpose": "BANKING",
        "purpose_text": "开户",
        "verified_at": 1_800_000_000,
        "fields": ("name", "sex"),
        "tag": tag,
        "verdict": "VALID",
    }
    values.update(changes)
    return Receipt(**values)


def test_receipts_are_sealed_proved_and_found_by_their_tags(store: ReceiptStore) -> None:
    tags = [os.urandom(16) for _ in range(5)]
    for t in tags:
        store.record(receipt(t))
    store.record(receipt(tags[0]))  # the same presentation checked twice: two receipts
    store.record(receipt(os.urandom(16), verifier="GD-HOTEL-7"))
    assert store.unsealed("ZJ-BANK-1") == 6
    (waiting, *_) = store.by_tags([tags[1]])
    assert waiting.batch_root is None and not waiting.proves()  # not sealed yet
    batch = store.seal("ZJ-BANK-1", now=1_800_000_010)
    assert batch is not None and batch.size == 6 and store.unsealed("ZJ-BANK-1") == 0
    assert store.unsealed("GD-HOTEL-7") == 1  # each verifier seals its own
    assert store.seal("ZJ-BANK-1", now=1) is None
    found = store.by_tags([tags[0], tags[3]])
    assert sorted(r.receipt.tag for r in found) == sorted([tags[0], tags[0], tags[3]])
    assert all(r.proves() and r.batch_root == batch.root and r.block is None for r in found)
    assert store.unanchored("ZJ-BANK-1") == [batch]  # sealed, root not yet anchored
    store.mark_anchored(batch.id, b"\x11" * 32, 42)
    assert store.unanchored("ZJ-BANK-1") == []
    (one, *_) = store.by_tags([tags[3]])
    assert one.to_json()["anchored"] == {"block": 42, "tx": "0x" + "11" * 32}
    assert one.to_json()["fields"] == ["name", "sex"] and one.receipt.purpose_text == "开户"
    assert store.by_tags([os.urandom(16)]) == [] and store.by_tags([]) == []


def test_an_altered_or_dropped_receipt_shows(store: ReceiptStore) -> None:
    tags = [os.urandom(16) for _ in range(4)]
    ids = [store.record(receipt(t)) for t in tags]
    batch = store.seal("ZJ-BANK-1", now=1_800_000_010)
    assert batch is not None and store.audit(batch.id)
    before = store.by_tags([tags[2]])[0]
    with store.engine.begin() as conn:  # the operator rewrites what the verifier saw
        conn.execute(update(receipts).where(receipts.c.id == ids[2]).values(fields='["name"]'))
    assert not store.audit(batch.id)
    after = store.by_tags([tags[2]])[0]
    assert not after.proves()  # the holder's proof no longer leads to the anchored root
    assert before.proves() and before.batch_root == batch.root
    with store.engine.begin() as conn:
        conn.execute(update(receipts).where(receipts.c.id == ids[2]).values(fields='["name", "sex"]'))
    assert store.audit(batch.id)
    with store.engine.begin() as conn:  # ... or drops a receipt from the published batch
        conn.execute(delete(receipts).where(receipts.c.id == ids[1]))
    assert not store.audit(batch.id)


def test_receipts_survive_a_mirror_rebuild(mirror_url: str, store: ReceiptStore) -> None:
    from ledger.mirror import schema as s

    tag = os.urandom(16)
    store.record(receipt(tag))
    with store.engine.begin() as conn:  # what MirrorStore.open(rebuild=True) does to the mirror's tables
        s.metadata.drop_all(conn)
        s.metadata.create_all(conn)
    assert [r.receipt.tag for r in store.by_tags([tag])] == [tag]
    with store.engine.connect() as conn:
        assert conn.execute(receipt_batches.select()).all() == []


def test_the_anchorer_seals_and_anchors_on_its_schedule_and_finishes_what_a_crash_left(
    store: ReceiptStore, consortium: Consortium
) -> None:
    reg = consortium.registry
    account = Account.create()
    reg.register_verifier(consortium.admins[330000], "ZJ-BANK-1", 330000, account.address, os.urandom(32))
    clock = FakeClock(1_800_000_000)
    anchorer = ReceiptAnchorer(store, reg, "ZJ-BANK-1", account, every=30, at_most=3, clock=clock)
    tags = [os.urandom(16) for _ in range(5)]
    store.record(receipt(tags[0]))
    assert anchorer.run_once() == []  # one receipt, just made: it waits
    clock.advance(31)
    (first,) = anchorer.run_once()  # waited 30 s: sealed and anchored
    assert first.size == 1
    (proved,) = store.by_tags([tags[0]])
    assert proved.proves() and proved.block is not None
    assert reg.receipts_anchored("ZJ-BANK-1", proved.batch_root or b"") == (proved.tx, proved.block)
    # a crash after sealing, before anchoring: the next run anchors the sealed batch
    for t in tags[1:4]:
        store.record(receipt(t))
    sealed = store.seal("ZJ-BANK-1", now=int(clock()))
    assert sealed is not None and store.unanchored("ZJ-BANK-1") == [sealed]
    assert [b.id for b in anchorer.run_once()] == [sealed.id]
    # a crash after anchoring, before marking: found on chain, never anchored twice
    store.record(receipt(tags[4]))
    again = store.seal("ZJ-BANK-1", now=int(clock()))
    assert again is not None
    reg.anchor_receipts(account, "ZJ-BANK-1", again.root, again.size)
    assert [b.id for b in anchorer.run_once()] == [again.id]
    logs = reg.consortium.events.ReceiptsAnchored().get_logs(
        from_block=reg.deployment.deployment_block, argument_filters={"root": again.root}
    )
    assert len(logs) == 1
    assert store.unanchored("ZJ-BANK-1") == [] and all(r.block is not None for r in store.by_tags(tags))
