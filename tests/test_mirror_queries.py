"""Reading the mirror (``MirrorQueries``): certificates, statuses as of a time or a block,
history, recognition, key validity, agencies over time, and the mirror's head and lag.

Wherever the contracts can answer the same question they are asked too (``keyStateAt``,
``isRecognized``, status views at past blocks), so the mirror is held to the chain.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import threading

import pytest
from eth_account import Account
from helpers import REGIONS, Consortium, FakeClock, advance, chain_now
from mirror_helpers import anvil_reorg, index_to_head, indexer_for, open_store, past_the_cache, settled, signed_anchor
from sqlalchemy import select

from ledger.chain import Chain
from ledger.contracts import KeyState, Role, Status
from ledger.ids import agency_id
from ledger.mirror import MirrorQueries
from ledger.mirror import schema as mirror_schema
from ledger.registry import AnchoredBatch

GD, ZJ, BJ = REGIONS
ACTIVE, SUSPENDED, REVOKED = Status.ACTIVE, Status.SUSPENDED, Status.REVOKED


def anchor(c: Consortium, agency: str, cert_type: str, n: int) -> AnchoredBatch:
    hashes = [Account.create().key for _ in range(n)]
    return c.registry.anchor_batch(c.deployer, c.agency_keys[agency], agency, cert_type, hashes)


def block_time(chain: Chain, number: int) -> int:
    return int(chain.w3.eth.get_block(number)["timestamp"])


def chain_status_at_block(c: Consortium, agency: str, cert_hash: bytes, root: bytes, block: int) -> Status:
    """The effective status the contracts report at a past block: REVOKED over SUSPENDED over ACTIVE."""
    certs = c.registry.certificates.functions
    cert = Status(c.chain.call(certs.certificateStatus(agency_id(agency), cert_hash), block)[0])
    whole = Status(c.chain.call(certs.batchStatus(agency_id(agency), root), block)[0])
    return max(cert, whole)  # the enum is ordered ACTIVE < SUSPENDED < REVOKED


# ---------------------------------------------------------------------- certificates


def test_certificate_by_hash_and_unknown_hashes(issuing, mirror_url):
    batch = anchor(issuing, "ZJ-EDU", "DEGREE", 5)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    cert = q.certificate(batch.cert_hashes[3])
    assert cert is not None
    assert (cert.root, cert.agency, cert.cert_type, cert.issuer_region, cert.batch_size) == (
        batch.root,
        "ZJ-EDU",
        "DEGREE",
        ZJ,
        5,
    )
    assert cert.to_json()["batch_root"] == "0x" + batch.root.hex() and cert.to_json()["issuer_region"] == ZJ
    unknown = Account.create().key
    assert q.certificate(unknown) is None
    assert q.certificate(batch.root) is None  # a root is not a certificate
    assert q.batch("ZJ-EDU", unknown) is None and q.batch_hashes("ZJ-EDU", unknown) == []
    assert q.lookup(unknown).agencies == ()
    assert q.status_as_of(unknown, "ZJ-EDU", unknown).status is ACTIVE  # no event: nothing to report


# ---------------------------------------------------------------------- status over time


def test_status_as_of_each_past_time_and_block(issuing, mirror_url):
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    h, root = batch.cert_hashes[0], batch.root
    anchored = batch.tx.block_number
    changes = []
    for status, reason in ((SUSPENDED, "HOLDER_REQUEST"), (ACTIVE, "RESOLVED"), (REVOKED, "FRAUD")):
        advance(issuing.chain, 100)
        sent = reg.set_certificate_status(key, "GD-PSB", h, status, reason)
        changes.append((status, sent.block_number, block_time(issuing.chain, sent.block_number), sent.tx_hash))
    advance(issuing.chain, 100)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    (_, b1, t1, _), (_, b2, t2, _), (_, b3, t3, tx3) = changes
    by_time = {
        block_time(issuing.chain, anchored): ACTIVE,
        t1 - 1: ACTIVE,
        t1: SUSPENDED,
        t2 - 1: SUSPENDED,
        t2: ACTIVE,
        t3 - 1: ACTIVE,
        t3: REVOKED,
        t3 + 10**6: REVOKED,
    }
    assert {t: q.status_as_of(h, "GD-PSB", root, at=t).status for t in by_time} == by_time
    by_block = {
        anchored: ACTIVE,
        b1 - 1: ACTIVE,
        b1: SUSPENDED,
        b2 - 1: SUSPENDED,
        b2: ACTIVE,
        b3 - 1: ACTIVE,
        b3: REVOKED,
    }
    assert {b: q.status_as_of(h, "GD-PSB", root, block=b).status for b in by_block} == by_block
    # the contracts' own views at each of those blocks agree
    assert {b: chain_status_at_block(issuing, "GD-PSB", h, root, b) for b in by_block} == by_block
    # now: the latest, with the event that set it
    now = q.status_as_of(h, "GD-PSB", root)
    assert now.status is REVOKED and now.event is not None
    assert (now.event.reason, now.event.block, now.event.tx, now.event.time) == (
        "FRAUD",
        b3,
        bytes.fromhex(tx3[2:]),
        t3,
    )
    untouched = q.status_as_of(batch.cert_hashes[1], "GD-PSB", root)
    assert untouched.status is ACTIVE and untouched.event is None
    # before the first change, no event set it
    assert q.status_as_of(h, "GD-PSB", root, at=t1 - 1).event is None
    reinstated = q.status_as_of(h, "GD-PSB", root, block=b2)
    assert reinstated.status is ACTIVE and reinstated.event is not None and reinstated.event.reason == "RESOLVED"


def test_batch_status_combines_with_certificate_status(issuing, mirror_url):
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    a, b, c = batch.cert_hashes
    root = batch.root
    steps = [
        ("cert", a, SUSPENDED),  # a SUSPENDED
        ("batch", None, SUSPENDED),  # all SUSPENDED
        ("cert", b, REVOKED),  # b REVOKED (its own), a and c SUSPENDED (batch)
        ("batch", None, ACTIVE),  # a SUSPENDED (own), b REVOKED, c ACTIVE
        ("cert", a, ACTIVE),  # a ACTIVE
        ("batch", None, REVOKED),  # all REVOKED
    ]
    expected = [
        {a: SUSPENDED, b: ACTIVE, c: ACTIVE},
        {a: SUSPENDED, b: SUSPENDED, c: SUSPENDED},
        {a: SUSPENDED, b: REVOKED, c: SUSPENDED},
        {a: SUSPENDED, b: REVOKED, c: ACTIVE},
        {a: ACTIVE, b: REVOKED, c: ACTIVE},
        {a: REVOKED, b: REVOKED, c: REVOKED},
    ]
    blocks = []
    for scope, h, status in steps:
        if scope == "cert":
            sent = reg.set_certificate_status(key, "GD-PSB", h, status, "CHECK")
        else:
            sent = reg.set_batch_status(key, "GD-PSB", root, status, "CHECK")
        blocks.append(sent.block_number)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    for block, want in zip(blocks, expected, strict=True):
        got = {h: q.status_as_of(h, "GD-PSB", root, block=block).status for h in (a, b, c)}
        assert got == want, f"at block {block}"
        assert {h: chain_status_at_block(issuing, "GD-PSB", h, root, block) for h in (a, b, c)} == want
    revoked = q.status_as_of(c, "GD-PSB", root)
    assert revoked.status is REVOKED and revoked.event.scope == "batch" and revoked.event.subject == root
    # at the block where b was revoked while the batch was suspended, b's own revocation decides
    at_b = q.status_as_of(b, "GD-PSB", root, block=blocks[2])
    assert at_b.status is REVOKED and at_b.event.scope == "certificate"


def test_a_copied_hash_adds_rows_to_a_lookup_it_does_not_multiply_them(issuing, mirror_url):
    """An agency inside the consortium copies another agency's certificate hash into batches of
    its own and gives its copies status after status: a lookup of the hash reads each anchoring
    and each event once (stacked, the rows add up; joined, they would multiply, and a cheap run
    of transactions would make every verification of the victim's certificate slow), and the
    owner's answer is untouched."""
    reg, other = issuing.registry, issuing.agency_keys["GD-AMR"]
    a = anchor(issuing, "GD-PSB", "ID_CARD", 2).cert_hashes[0]
    copies = 4
    for _ in range(copies):
        reg.anchor_batch(issuing.deployer, other, "GD-AMR", "BUSINESS_LICENSE", [a, os.urandom(32)])
    changes = [(SUSPENDED, "CHECK"), (ACTIVE, "RESOLVED")] * 3
    for status, reason in changes:
        reg.set_certificate_status(other, "GD-AMR", a, status, reason)
    store = open_store(mirror_url, issuing.deployment)
    indexer_for(issuing.chain.url, issuing.deployment, store).catch_up()
    q = MirrorQueries(store)
    read: list[int] = []
    rows = q.read.rows

    def counted(sql: str, params: tuple) -> list:
        out = rows(sql, params)
        if sql == q._LOOKUP:
            read.append(len(out))
        return out

    q.read.rows = counted  # type: ignore[method-assign]
    found = q.lookup(a)
    assert found.record is None and set(found.agencies) == {"GD-PSB", "GD-AMR"}  # ambiguous: nothing chosen
    own = q.lookup(a, "GD-PSB").record
    assert own is not None and own.agency == "GD-PSB"
    assert own.status_now.status is ACTIVE and own.status_now.event is None  # GD-AMR's statuses are not GD-PSB's
    copy = q.lookup(a, "GD-AMR").record
    assert copy is not None and copy.status_now.event is not None and copy.status_now.event.reason == "RESOLVED"
    assert read == [1 + copies + len(changes)] * 3  # the owner's anchoring, the copies, the events: once each


def test_the_status_read_along_with_the_anchoring_is_status_as_of_now(issuing, mirror_url):
    """lookup (by hash) and anchoring (by root, for a document) read the status in the same
    round trip as the anchoring: after every step of certificate and batch changes — including
    another agency's events for the same hash and the same root, which must not count — it is
    exactly status_as_of at the head, event and all; anchoring also says whether the batch lists
    the hash."""
    reg, key, other = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.agency_keys["GD-AMR"]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    elsewhere = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    a, b, c = batch.cert_hashes
    root = batch.root
    shadow = reg.anchor_batch(issuing.deployer, other, "GD-AMR", "BUSINESS_LICENSE", [a, b, c])  # the same root
    assert shadow.root == root
    steps = [
        lambda: reg.set_certificate_status(key, "GD-PSB", a, SUSPENDED, "CHECK"),
        lambda: reg.set_certificate_status(other, "GD-AMR", b, REVOKED, "FRAUD"),  # not GD-PSB's
        lambda: reg.set_batch_status(other, "GD-AMR", root, REVOKED, "FRAUD"),  # not GD-PSB's batch
        lambda: reg.set_batch_status(key, "GD-PSB", root, SUSPENDED, "AUDIT"),
        lambda: reg.set_certificate_status(key, "GD-PSB", b, REVOKED, "CHECK"),
        lambda: reg.set_batch_status(key, "GD-PSB", elsewhere.root, REVOKED, "AUDIT"),  # another batch
        lambda: reg.set_batch_status(key, "GD-PSB", root, ACTIVE, "AUDIT_DONE"),
        lambda: reg.set_certificate_status(key, "GD-PSB", a, ACTIVE, "RESOLVED"),
    ]
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(issuing.chain.url, issuing.deployment, store)
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    seen = set()
    for step in [lambda: None, *steps]:
        step()
        indexer.catch_up()
        past_the_cache(clock)
        for h in (a, b, c):
            want = q.status_as_of(h, "GD-PSB", root)
            record = q.lookup(h, "GD-PSB").record
            assert record is not None and record.status_now == want
            along = q.anchoring("GD-PSB", root, h)
            assert along is not None and along.listed is True and along.status_now == want
            assert along.root == root and along.key == record.key
            seen.add(want.status)
    assert seen == {ACTIVE, SUSPENDED, REVOKED}
    assert q.anchoring("GD-PSB", root, elsewhere.cert_hashes[0]).listed is False
    assert q.anchoring("ZJ-EDU", root, a) is None
    shadowed = q.anchoring("GD-AMR", root, a)  # GD-AMR's own copy: its batch revoked, by itself
    assert shadowed is not None and shadowed.status_now is not None and shadowed.status_now.status is REVOKED


def test_history_is_oldest_first_and_includes_the_batch(issuing, mirror_url):
    reg, key, admin = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.admins[GD]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    other = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    h, root = batch.cert_hashes[0], batch.root
    sent = [
        ("certificate", reg.set_certificate_status(key, "GD-PSB", h, SUSPENDED, "HOLDER_REQUEST")),
        ("batch", reg.set_batch_status(admin, "GD-PSB", root, SUSPENDED, "AUDIT")),
        (
            None,
            reg.set_batch_status(key, "GD-PSB", other.root, SUSPENDED, "AUDIT"),
        ),  # another batch: not in h's history
        ("certificate", reg.set_certificate_status(admin, "GD-PSB", h, ACTIVE, "RESOLVED")),
        ("batch", reg.set_batch_status(admin, "GD-PSB", root, ACTIVE, "AUDIT_DONE")),
        (None, reg.set_certificate_status(key, "GD-PSB", batch.cert_hashes[1], REVOKED, "FRAUD")),  # a sibling
        ("batch", reg.set_batch_status(key, "GD-PSB", root, REVOKED, "ISSUER_ERROR")),
    ]
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    history = q.history(q.certificate(h))
    expected = [(scope, s.block_number, bytes.fromhex(s.tx_hash[2:])) for scope, s in sent if scope]
    assert [(e.scope, e.block, e.tx) for e in history] == expected
    assert [e.status for e in history] == [SUSPENDED, SUSPENDED, ACTIVE, ACTIVE, REVOKED]
    assert [e.actor for e in history] == [key.address, admin.address, admin.address, admin.address, key.address]
    assert [e.role for e in history] == [
        Role.AGENCY_KEY,
        Role.REGION_ADMIN,
        Role.REGION_ADMIN,
        Role.REGION_ADMIN,
        Role.AGENCY_KEY,
    ]
    assert [e.time for e in history] == sorted(e.time for e in history)
    assert [e.to_json()["scope"] for e in history] == ["certificate", "batch", "certificate", "batch", "batch"]


def test_another_agencys_status_for_the_same_hash_does_not_count(issuing, mirror_url):
    """Statuses are per (agency, hash) on chain: GD-AMR may write one for a hash GD-PSB issued,
    and it must not touch GD-PSB's certificate."""
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    h = batch.cert_hashes[0]
    reg.set_certificate_status(issuing.agency_keys["GD-AMR"], "GD-AMR", h, REVOKED, "FRAUD")
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    assert reg.certificate_status("GD-PSB", h)[0] is ACTIVE
    assert q.status_as_of(h, "GD-PSB", batch.root).status is ACTIVE
    assert q.history(q.certificate(h)) == []


def test_a_status_set_before_anchoring_is_honoured(issuing, mirror_url):
    """An agency may revoke a hash before it is anchored (e.g. a document withdrawn before its
    batch went out); the contract keeps that status, and so must the mirror."""
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    early = Account.create().key
    reg.set_certificate_status(key, "GD-PSB", early, REVOKED, "WITHDRAWN")
    batch = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", [early, Account.create().key])
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    assert reg.certificate_status("GD-PSB", early)[0] is REVOKED
    assert q.status_as_of(early, "GD-PSB", batch.root).status is REVOKED
    assert [e.reason for e in q.history(q.certificate(early))] == ["WITHDRAWN"]


# ---------------------------------------------------------------------- recognition


def test_recognition_honours_windows_replacement_removal_and_any_region(issuing, mirror_url):
    reg, admins = issuing.registry, issuing.admins
    n = chain_now(issuing.chain)
    reg.set_recognition(admins[ZJ], ZJ, "ID_CARD", GD, n + 1000, n + 2000)
    reg.set_recognition(admins[ZJ], ZJ, "ID_CARD", GD, n + 1500, 0)  # replaced: later start, open end
    reg.set_recognition(admins[BJ], BJ, "DEGREE", ZJ, n + 1000, n + 1100)  # specific, short ...
    reg.set_recognition(admins[BJ], BJ, "DEGREE", None, n + 1050, 0)  # ... and any region from later
    reg.set_recognition(admins[GD], GD, "DEGREE", ZJ)  # open rule, always
    advance(issuing.chain, 20)
    sent = reg.set_recognition(admins[ZJ], ZJ, "BUSINESS_LICENSE", GD)  # set ...
    set_at = block_time(issuing.chain, sent.block_number)
    advance(issuing.chain, 20)
    sent = reg.remove_recognition(admins[ZJ], ZJ, "BUSINESS_LICENSE", GD)  # ... and removed
    removed_at = block_time(issuing.chain, sent.block_number)
    end = chain_now(issuing.chain)
    assert end < n + 1000
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    def mirror(v: int, t: str, i: int, at: int) -> bool:
        return q.recognition(v, t, i, at) is not None

    # from the last change on, the mirror answers as the contract's isRecognized
    cases = [
        (ZJ, "ID_CARD", GD, [end, n + 1000, n + 1499, n + 1500, n + 1999, n + 2000, n + 10**8]),
        (ZJ, "ID_CARD", BJ, [n + 1600]),  # other issuer
        (ZJ, "DEGREE", GD, [n + 1600]),  # other type
        (BJ, "DEGREE", ZJ, [n + 999, n + 1000, n + 1049, n + 1050, n + 1099, n + 1100, n + 5000]),
        (BJ, "DEGREE", GD, [n + 1049, n + 1050, n + 10**8]),  # any region only
        (BJ, "ID_CARD", GD, [n + 1600]),
        (GD, "DEGREE", ZJ, [end, n + 10**8]),
        (ZJ, "BUSINESS_LICENSE", GD, [end, n + 1600]),  # removed
        (GD, "ID_CARD", GD, [0, end, n + 10**8]),  # own region
        (ZJ, "ID_CARD", ZJ, [0, end]),
    ]
    for v, t, i, times in cases:
        for at in times:
            assert mirror(v, t, i, at) == reg.is_recognized(v, t, i, at), (v, t, i, at - n)
    assert mirror(ZJ, "ID_CARD", GD, n + 1500) and not mirror(ZJ, "ID_CARD", GD, n + 1499)
    assert mirror(BJ, "DEGREE", ZJ, n + 1000) and mirror(BJ, "DEGREE", ZJ, n + 1100)  # specific, then any
    assert q.recognition(BJ, "DEGREE", ZJ, n + 1010).issuer == ZJ
    assert q.recognition(BJ, "DEGREE", ZJ, n + 1200).issuer is None  # the any-region rule
    own = q.recognition(GD, "ID_CARD", GD, 0)
    assert own.own_region and not q.recognition(BJ, "DEGREE", ZJ, n + 1010).own_region
    # latest=True: by the rules in force now, for any time - exactly isRecognized
    for v, t, i, times in [
        *cases,
        (ZJ, "BUSINESS_LICENSE", GD, [set_at, removed_at - 1, removed_at]),
        (BJ, "DEGREE", ZJ, [n - 100, n, n + 1000]),
    ]:
        for at in times:
            got = q.recognition(v, t, i, at, latest=True) is not None
            assert got == reg.is_recognized(v, t, i, at), ("latest", v, t, i, at - n)
    # by default: the rule in force then (the state at time t is the events up to t)
    assert q.recognition(ZJ, "BUSINESS_LICENSE", GD, set_at) is not None
    assert q.recognition(ZJ, "BUSINESS_LICENSE", GD, removed_at - 1) is not None
    assert q.recognition(ZJ, "BUSINESS_LICENSE", GD, removed_at) is None
    assert q.recognition(ZJ, "BUSINESS_LICENSE", GD, set_at - 1) is None


# ---------------------------------------------------------------------- keys


def test_key_state_at_matches_the_contracts_key_state_at(issuing, mirror_url):
    reg, admin = issuing.registry, issuing.admins[GD]
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(issuing.chain.url, issuing.deployment, store)
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    n = chain_now(issuing.chain)
    key = Account.create()
    reg.add_key(admin, "GD-PSB", key.address, n + 100)
    reg.retire_key(admin, key.address, n + 200)
    times = [
        0,
        1,
        n,
        n + 49,
        n + 50,
        n + 99,
        n + 100,
        n + 149,
        n + 150,
        n + 199,
        n + 200,
        n + 250,
        n + 10**6,
        2**64 - 1,
    ]

    def compare(expected: dict[int, KeyState] | None = None) -> None:
        indexer.catch_up()
        record = settled(q, clock, store).key(key.address)
        assert record is not None
        got = {at: record.state_at(at) for at in times}
        assert got == {at: reg.key_state_at(key.address, at) for at in times}
        if expected:
            assert {at: got[at] for at in expected} == expected

    compare(
        {n + 99: KeyState.NOT_YET_ACTIVE, n + 100: KeyState.ACTIVE, n + 199: KeyState.ACTIVE, n + 200: KeyState.RETIRED}
    )
    advance(issuing.chain, 300)
    reg.report_compromised(admin, key.address, n + 150)
    compare({n + 149: KeyState.ACTIVE, n + 150: KeyState.COMPROMISED, n + 250: KeyState.COMPROMISED})
    reg.report_compromised(admin, key.address, n + 50)  # moved earlier
    compare({n + 49: KeyState.NOT_YET_ACTIVE, n + 50: KeyState.COMPROMISED, n + 100: KeyState.COMPROMISED})
    reg.report_compromised(admin, key.address, 0)  # since ever
    compare({0: KeyState.NOT_YET_ACTIVE, 1: KeyState.COMPROMISED})
    # the fixture's key: active from its registration, open-ended
    psb = issuing.agency_keys["GD-PSB"]
    record = q.key(psb.address)
    for at in (record.active_from - 1, record.active_from, 2**64 - 1):
        assert record.state_at(at) == reg.key_state_at(psb.address, at)
    assert q.key(Account.create().address) is None  # the contract says UNKNOWN


# ---------------------------------------------------------------------- agencies over time


def test_agency_at_a_time(issuing, mirror_url):
    reg, admin, chain = issuing.registry, issuing.admins[BJ], issuing.chain
    before = chain_now(chain)
    advance(chain, 100)
    t_registered = block_time(chain, reg.register_agency(admin, "BJ-PSB", BJ, ["ID_CARD"]).block_number)
    advance(chain, 100)
    t_allowed = block_time(chain, reg.set_agency_types(admin, "BJ-PSB", ["DEGREE"], True).block_number)
    advance(chain, 100)
    t_suspended = block_time(chain, reg.suspend_agency(admin, "BJ-PSB").block_number)
    advance(chain, 100)
    t_forbidden = block_time(chain, reg.set_agency_types(admin, "BJ-PSB", ["ID_CARD"], False).block_number)
    advance(chain, 100)
    t_reactivated = block_time(chain, reg.reactivate_agency(admin, "BJ-PSB").block_number)
    _, q = index_to_head(chain.url, issuing.deployment, mirror_url)

    def at(t: int) -> tuple[bool, list[str]] | None:
        info = q.agency("BJ-PSB", t)
        return None if info is None else (info.suspended, list(info.types))

    assert at(before) is None and at(t_registered - 1) is None
    assert at(t_registered) == (False, ["ID_CARD"])
    assert at(t_allowed - 1) == (False, ["ID_CARD"])
    assert at(t_allowed) == (False, ["DEGREE", "ID_CARD"])
    assert at(t_suspended) == (True, ["DEGREE", "ID_CARD"])
    assert at(t_forbidden) == (True, ["DEGREE"])
    assert at(t_reactivated - 1) == (True, ["DEGREE"])
    assert at(t_reactivated) == (False, ["DEGREE"])
    now = q.agency("BJ-PSB")
    assert (now.suspended, now.types, now.region) == (False, ("DEGREE",), BJ)
    assert now.registered_at == t_registered == reg.agency("BJ-PSB").registered_at


# ---------------------------------------------------------------------- head and lag


def test_head_and_lag(issuing, mirror_url):
    chain = issuing.chain
    store = open_store(mirror_url, issuing.deployment)
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    empty = q.head()
    assert empty.block == issuing.deployment.deployment_block - 1
    assert (empty.block_hash, empty.chain_head, empty.lag_blocks) == (None, None, None)

    indexer = indexer_for(chain.url, issuing.deployment, store)
    indexer.catch_up()
    latest = chain.w3.eth.get_block("latest")
    head = settled(q, clock, store).head()
    assert (head.block, head.block_hash, head.block_time) == (
        latest["number"],
        bytes(latest["hash"]),
        latest["timestamp"],
    )
    assert head.chain_head == latest["number"] and head.lag_blocks == 0 and head.last_error == ""
    assert head.chain_head_seen_at is not None

    for _ in range(3):
        chain.w3.provider.make_request("evm_mine", [])
    indexer.target_block()  # the indexer looked at the chain but has not indexed yet
    past_the_cache(clock)  # the next question re-reads the head
    moved = q.head()
    assert moved.chain_head == latest["number"] + 3
    assert moved.block == latest["number"] and moved.lag_blocks == 3
    indexer.catch_up()
    assert settled(q, clock, store).head().lag_blocks == 0

    behind = indexer_for(chain.url, issuing.deployment, store, confirmations=2)
    chain.w3.provider.make_request("evm_mine", [])
    chain.w3.provider.make_request("evm_mine", [])
    chain.w3.provider.make_request("evm_mine", [])
    behind.catch_up()
    head = settled(q, clock, store).head()
    assert head.lag_blocks == 2 and head.block == chain.block_number() - 2


def test_head_time_is_the_checkpoint_blocks_time(issuing, mirror_url):
    chain = issuing.chain
    anchor(issuing, "GD-PSB", "ID_CARD", 1)
    store, q = index_to_head(chain.url, issuing.deployment, mirror_url)
    head = q.head()
    with store.engine.connect() as conn:
        kept = conn.execute(select(mirror_schema.blocks.c.number)).scalars().all()
    assert head.block in kept
    assert head.block_time == block_time(chain, head.block)


@pytest.mark.parametrize("what", ["regions", "types", "recognitions", "agencies"])
def test_lists_of_an_empty_mirror_are_empty(consortium, mirror_url, what):
    store = open_store(mirror_url, consortium.deployment)
    q = MirrorQueries(store)
    result = getattr(q, what)()
    if what == "regions":
        assert (result.quorum, result.rule, result.members, result.regions) == (None, None, 0, ())
    else:
        assert result == []


# ---------------------------------------------------------------------- answers after a reorg


def test_answers_after_a_reorg_at_the_same_height_are_the_new_chains(issuing, mirror_url):
    """A reorg can leave the mirror's checkpoint at the same block number with other contents
    (anvil_reorg here; any same-height fork on a real chain). A reader that already answered
    for that block number must not keep answering from the orphaned block."""
    reg, chain = issuing.registry, issuing.chain
    key = issuing.agency_keys["GD-PSB"]
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(chain.url, issuing.deployment, store)
    # the block that will be replaced: a compromise report and a new recognition rule
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    reg.report_compromised(issuing.admins[GD], key.address, chain_now(chain))
    indexer.catch_up()
    clock = FakeClock()
    q = settled(MirrorQueries(store, clock=clock), clock, store)
    old_block = q.head().block
    assert q.key(key.address).compromised_since != 0
    assert q.recognition(ZJ, "ID_CARD", GD, chain_now(chain)) is not None

    raw, _ = signed_anchor(issuing, "ZJ-EDU", "DEGREE", 2)
    anvil_reorg(chain, 2, [raw])  # both blocks replaced; the head keeps its number
    assert chain.block_number() == old_block
    assert reg.key(key.address).compromised_since == 0
    assert not reg.is_recognized(ZJ, "ID_CARD", GD)
    indexer.catch_up()
    assert store.checkpoint()[0] == old_block
    fresh = MirrorQueries(store)  # the mirror itself holds the new chain ...
    assert fresh.key(key.address).compromised_since == 0
    assert fresh.recognition(ZJ, "ID_CARD", GD, chain_now(chain)) is None
    settled(q, clock, store)  # ... and once the old reader has seen the new checkpoint hash, so must it
    assert q.key(key.address).compromised_since == 0, "a cached key from the orphaned block"
    assert q.recognition(ZJ, "ID_CARD", GD, chain_now(chain)) is None, "a cached rule from the orphaned block"


# ---------------------------------------------------------------------- many readers


def test_many_reader_threads_share_the_mirror(issuing, mirror_url):
    """The API reads from a pool of threads (uvicorn/anyio: 40). Each thread's reads must not
    hold on to a database connection the others then wait for."""
    from concurrent.futures import ThreadPoolExecutor

    batch = anchor(issuing, "GD-PSB", "ID_CARD", 4)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    threads = 24  # more than the engine's pool (5 + 10 overflow)
    barrier = threading.Barrier(threads, timeout=120)

    def read(i: int) -> bytes | Exception:
        barrier.wait()  # every thread alive at once, as in a busy server's thread pool
        try:
            return q.certificate(batch.cert_hashes[i % 4]).root
        except Exception as exc:  # reported below
            return exc
        finally:
            barrier.wait()  # and still alive (idle, as pool threads are) while the others read

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(read, range(threads), timeout=600))
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, f"{len(errors)} of {threads} reader threads failed, e.g. {errors[0]!r}"
    assert results == [batch.root] * threads
