"""The mirror as a copy of the chain: what it holds after indexing (compared with the
contracts' own views and logs), following the head, confirmations, reorgs on a real anvil,
schema versioning and the ``certledger index`` command.

Every test that touches a database runs twice: SQLite and PostgreSQL (``mirror_url``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from helpers import REGIONS, Consortium, FakeClock, advance, chain_now, new_consortium, wait_until
from mirror_helpers import (
    Follower,
    anvil_reorg,
    assert_same_mirror,
    index_to_head,
    indexer_for,
    mirrored_up_to,
    open_store,
    rebuild_dump,
    settled,
    signed_anchor,
)
from sqlalchemy import update

from ledger.chain import Chain, SentTransaction
from ledger.contracts import Status
from ledger.errors import ConfigError
from ledger.ids import iso_time, text_of
from ledger.mirror import MirrorQueries
from ledger.mirror import schema as mirror_schema
from ledger.mirror.rpc import RpcError
from ledger.mirror.store import RangeData
from ledger.registry import AnchoredBatch, canonical_schema

GD, ZJ, BJ = REGIONS
JS = 320000  # Jiangsu: admitted during a test
ACTIVE, SUSPENDED, REVOKED = Status.ACTIVE, Status.SUSPENDED, Status.REVOKED


# ---------------------------------------------------------------------- helpers


def anchor(c: Consortium, agency: str, cert_type: str, n: int) -> AnchoredBatch:
    hashes = [Account.create().key for _ in range(n)]
    return c.registry.anchor_batch(c.deployer, c.agency_keys[agency], agency, cert_type, hashes)


def block_time(chain: Chain, number: int) -> int:
    return int(chain.w3.eth.get_block(number)["timestamp"])


def head_of(chain: Chain) -> tuple[int, bytes]:
    block = chain.w3.eth.get_block("latest")
    return int(block["number"]), bytes(block["hash"])


def snapshot(chain: Chain) -> str:
    return chain.w3.provider.make_request("evm_snapshot", [])["result"]


def revert(chain: Chain, snap: str) -> None:
    """Undo every block since ``snap`` (a real reorg for anyone who indexed them)."""
    assert chain.w3.provider.make_request("evm_revert", [snap])["result"] is True
    # The client's nonce cache still counts the dropped transactions.
    chain._nonces.clear()


def mine(chain: Chain, blocks: int = 1) -> None:
    for _ in range(blocks):
        chain.w3.provider.make_request("evm_mine", [])


def batch_logs(c: Consortium) -> list[Any]:
    event = c.registry.certificates.events.BatchAnchored()
    return event.get_logs(from_block=c.deployment.deployment_block)


def status_logs(c: Consortium) -> list[Any]:
    events = c.registry.certificates.events
    logs = events.CertificateStatusChanged().get_logs(from_block=c.deployment.deployment_block)
    logs += events.BatchStatusChanged().get_logs(from_block=c.deployment.deployment_block)
    return sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"]))


def expected_status(
    c: Consortium,
    sent: SentTransaction,
    scope: str,
    subject: bytes,
    status: Status,
    reason: str,
    actor: LocalAccount,
    agency: str,
) -> tuple[Any, ...]:
    return (
        scope,
        subject,
        agency,
        status,
        reason,
        actor.address,
        sent.block_number,
        bytes.fromhex(sent.tx_hash[2:]),
        block_time(c.chain, sent.block_number),
    )


def as_tuple(ev: Any) -> tuple[Any, ...]:
    return (ev.scope, ev.subject, ev.agency, ev.status, ev.reason, ev.actor, ev.block, ev.tx, ev.time)


# ---------------------------------------------------------------------- what it mirrors


def test_every_certificate_is_mirrored_with_batch_agency_type_block_tx_and_time(issuing, mirror_url):
    batches = [
        anchor(issuing, "GD-PSB", "ID_CARD", 1),
        anchor(issuing, "GD-PSB", "ID_CARD", 7),
        anchor(issuing, "ZJ-EDU", "DEGREE", 33),
        anchor(issuing, "GD-AMR", "BUSINESS_LICENSE", 2),
    ]
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    logs = batch_logs(issuing)
    assert len(logs) == len(batches)
    total = 0
    for log in logs:
        a = log["args"]
        root, agency, cert_type = bytes(a["root"]), text_of(a["agency"]), text_of(a["certType"])
        hashes = [bytes(h) for h in a["certHashes"]]
        total += len(hashes)
        on_chain = issuing.registry.batch(agency, root)
        t = block_time(issuing.chain, log["blockNumber"])
        assert on_chain.anchored_at == t
        region = {"GD-PSB": GD, "GD-AMR": GD, "ZJ-EDU": ZJ}[agency]

        record = q.batch(agency, root)
        assert record is not None
        assert (record.agency, record.cert_type, record.key, record.size) == (
            agency,
            on_chain.cert_type,
            on_chain.key,
            on_chain.size,
        )
        assert record.cert_type == cert_type and record.key == a["key"]
        assert (record.block, record.tx, record.time, record.issuer_region) == (
            log["blockNumber"],
            bytes(log["transactionHash"]),
            t,
            region,
        )
        assert sorted(q.batch_hashes(agency, root)) == sorted(hashes)
        for h in hashes:
            cert = q.certificate(h)
            assert cert is not None, f"certificate 0x{h.hex()} of batch 0x{root.hex()} is not mirrored"
            assert (cert.hash, cert.root, cert.agency, cert.cert_type, cert.key, cert.batch_size) == (
                h,
                root,
                agency,
                cert_type,
                a["key"],
                len(hashes),
            )
            assert (cert.block, cert.tx, cert.time, cert.issuer_region) == (
                log["blockNumber"],
                bytes(log["transactionHash"]),
                t,
                region,
            )
            assert cert.to_json()["anchored_at"] == {
                "block": log["blockNumber"],
                "tx": "0x" + bytes(log["transactionHash"]).hex(),
                "time": iso_time(t),
            }
    assert {b.root for b in batches} == {bytes(lg["args"]["root"]) for lg in logs}
    assert q.certificate_count() == total == 1 + 7 + 33 + 2
    assert len(store.dump()["certificates"]) == total


def test_certificate_and_batch_status_changes_are_kept_as_history(issuing, mirror_url):
    reg = issuing.registry
    key, admin = issuing.agency_keys["GD-PSB"], issuing.admins[GD]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    h, other = batch.cert_hashes[0], batch.cert_hashes[1]
    root = batch.root
    expected_h, expected_batch = [], []
    for actor, status, reason in (
        (key, SUSPENDED, "HOLDER_REQUEST"),
        (key, ACTIVE, "RESOLVED"),
        (admin, REVOKED, "FRAUD"),
    ):
        sent = reg.set_certificate_status(actor, "GD-PSB", h, status, reason)
        expected_h.append(expected_status(issuing, sent, "certificate", h, status, reason, actor, "GD-PSB"))
    for actor, status, reason in (
        (key, SUSPENDED, "AUDIT"),
        (admin, ACTIVE, "AUDIT_DONE"),
        (key, REVOKED, "ISSUER_ERROR"),
    ):
        sent = reg.set_batch_status(actor, "GD-PSB", root, status, reason)
        expected_batch.append(expected_status(issuing, sent, "batch", root, status, reason, actor, "GD-PSB"))
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    history = lambda cert_hash: q.history(q.certificate(cert_hash, "GD-PSB"))  # noqa: E731
    assert [as_tuple(e) for e in history(h)] == expected_h + expected_batch
    assert [as_tuple(e) for e in history(other)] == expected_batch  # the batch's events only
    assert history(batch.cert_hashes[2]) == history(other)
    # the same events as the chain's logs, one for one
    logs = status_logs(issuing)
    assert [
        (bytes(lg["args"].get("certHash", lg["args"].get("root"))), lg["args"]["status"], bytes(lg["transactionHash"]))
        for lg in logs
    ] == [(e[1], int(e[3]), e[7]) for e in expected_h + expected_batch]
    assert reg.certificate_status("GD-PSB", h)[0] is REVOKED and reg.batch_status("GD-PSB", root)[0] is REVOKED
    assert q.status_as_of(h, "GD-PSB", root).status is REVOKED
    assert q.status_as_of(other, "GD-PSB", root).status is REVOKED  # revoked with its batch
    json_event = history(h)[0].to_json()
    assert json_event["scope"] == "certificate" and json_event["status"] == "SUSPENDED"
    assert json_event["role"] == "AGENCY_KEY" and history(h)[2].to_json()["role"] == "REGION_ADMIN"
    assert json_event["reason"] == "HOLDER_REQUEST" and json_event["tx"] == "0x" + expected_h[0][7].hex()


def test_regions_admins_and_quorum_are_mirrored(issuing, mirror_url):
    reg, admins = issuing.registry, issuing.admins
    js_admin, gd_second = Account.create(), Account.create()
    before_js = chain_now(issuing.chain)
    advance(issuing.chain, 10)
    proposal = reg.propose_add_region(admins[GD], JS, js_admin.address)
    assert reg.approve(admins[ZJ], proposal.id).executed
    reg.add_region_admin(admins[GD], GD, gd_second.address)
    rule = reg.propose_quorum_rule(admins[GD], 2, 3)
    assert not reg.approve(admins[ZJ], rule.id).executed  # 4 members: a majority is 3
    assert reg.approve(js_admin, rule.id).executed
    removal = reg.propose_remove_region(admins[GD], BJ)
    reg.approve(admins[ZJ], removal.id)
    assert reg.approve(js_admin, removal.id).executed
    removed_at = chain_now(issuing.chain)
    advance(issuing.chain, 10)
    reg.chain.transact(admins[GD], reg.consortium.functions.removeRegionAdmin(GD, gd_second.address))
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    mirrored = q.regions()
    assert mirrored.quorum == reg.quorum() == 3  # more than 2/3 of 3 members
    assert mirrored.rule == (2, 3)
    assert mirrored.members == reg.member_count() == 3
    by_code = {r.region: r for r in mirrored.regions}
    assert set(by_code) == {r.code for r in reg.regions()} == {GD, ZJ, BJ, JS}
    for info in reg.regions():
        m = by_code[info.code]
        assert (m.member, m.admitted_at, m.removed_at, m.epoch) == (
            info.member,
            info.admitted_at,
            info.removed_at,
            info.epoch,
        )
        if info.member:
            assert len(m.admins) == info.admin_count
    assert by_code[GD].admins == (admins[GD].address,)  # the second admin came and went
    assert by_code[JS].admins == (js_admin.address,)
    assert by_code[BJ].admins == () and by_code[BJ].removed_at == removed_at and by_code[BJ].epoch == 1
    # membership over time
    assert q.is_member(JS, at=before_js) is False and q.is_member(JS) is True
    assert q.is_member(BJ, at=removed_at - 1) is True and q.is_member(BJ, at=removed_at) is False
    assert q.is_member(BJ) is False and q.is_member(GD) is True and q.is_member(110100) is False


def test_agencies_registration_suspension_and_types_are_mirrored(issuing, mirror_url):
    reg, admins = issuing.registry, issuing.admins
    reg.set_agency_types(admins[GD], "GD-PSB", ["DEGREE"], True)
    reg.set_agency_types(admins[GD], "GD-PSB", ["ID_CARD"], False)
    reg.suspend_agency(admins[ZJ], "ZJ-EDU")
    reg.reactivate_agency(admins[ZJ], "ZJ-EDU")
    reg.suspend_agency(admins[GD], "GD-AMR")
    reg.register_agency(admins[BJ], "BJ-NOTYPES", BJ, [])
    # a key added when the chain's clock is an hour ahead of this machine's (a dev chain after
    # time travel; any node whose clock differs): active on chain from its block on
    advance(issuing.chain, 3600)
    reg.add_key(admins[BJ], "BJ-NOTYPES", Account.create().address)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    for code in ("GD-PSB", "GD-AMR", "ZJ-EDU", "BJ-NOTYPES"):
        on_chain = reg.agency(code)
        mirrored = q.agency(code)
        assert mirrored is not None
        assert (mirrored.agency, mirrored.region, mirrored.suspended, mirrored.enabled, mirrored.registered_at) == (
            on_chain.code,
            on_chain.region,
            on_chain.suspended,
            on_chain.enabled,
            on_chain.registered_at,
        ), code
        assert list(mirrored.types) == sorted(on_chain.types), code
        assert list(mirrored.keys) == [k.address for k in on_chain.keys], code
    assert q.agency("GD-PSB").types == ("DEGREE",)
    assert q.agency("GD-AMR").suspended is True and q.agency("ZJ-EDU").suspended is False
    assert q.agency("GD-AMR").enabled is False and q.agency("ZJ-EDU").enabled is True
    assert q.agency("NO-SUCH") is None
    listed = q.agencies()
    assert [a.agency.agency for a in listed] == ["GD-PSB", "GD-AMR", "ZJ-EDU", "BJ-NOTYPES"]
    # each key's state now, "now" being the chain's time (as the contract's keyStateAt(now))
    for info in listed:
        for k in info.keys:
            on_chain_key = reg.key(k.address)
            assert (k.state, k.enabled) == (on_chain_key.state, on_chain_key.enabled), (info.agency.agency, k)


def test_key_life_cycle_is_mirrored(issuing, mirror_url):
    reg, admin = issuing.registry, issuing.admins[GD]
    n = chain_now(issuing.chain)
    scheduled, later, rotated_to = Account.create(), Account.create(), Account.create()
    reg.add_key(admin, "GD-PSB", scheduled.address, n + 100)  # added, active later
    reg.retire_key(admin, scheduled.address, n + 1000)  # retirement scheduled ...
    reg.retire_key(admin, scheduled.address, n + 500)  # ... and brought forward
    reg.add_key(admin, "GD-PSB", later.address)
    old = issuing.agency_keys["GD-PSB"]
    anchor(issuing, "GD-PSB", "ID_CARD", 2)
    reg.rotate_key(admin, old.address, rotated_to.address)  # old retired now, new added
    advance(issuing.chain, 50)
    reg.report_compromised(admin, later.address, chain_now(issuing.chain) - 10)
    reg.report_compromised(admin, later.address, 0)  # "since ever"
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    for account in (old, scheduled, later, rotated_to, issuing.agency_keys["ZJ-EDU"]):
        on_chain = reg.key(account.address)
        mirrored = q.key(account.address)
        assert mirrored is not None, account.address
        assert (mirrored.agency, mirrored.active_from, mirrored.retired_at, mirrored.compromised_since) == (
            on_chain.agency,
            on_chain.active_from,
            on_chain.retired_at,
            on_chain.compromised_since,
        ), account.address
    assert q.key(scheduled.address).retired_at == n + 500
    assert q.key(later.address).compromised_since == 1
    assert q.key(Account.create().address) is None
    agency = q.agency("GD-PSB")
    assert agency.keys == (old.address, scheduled.address, later.address, rotated_to.address)


def test_certificate_types_are_mirrored_with_their_schema(issuing, mirror_url):
    schema = {"fields": [{"name": "姓名", "type": "string", "required": True}, {"name": "no", "type": "string"}]}
    issuing.add_type("MARRIAGE_CERTIFICATE", schema)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    mirrored = q.types()
    on_chain = issuing.registry.types()
    assert [(t.type, "0x" + t.schema_hash.hex(), t.schema) for t in mirrored] == [
        (t.code, t.schema_hash, t.schema) for t in on_chain
    ]
    marriage = mirrored[-1]
    assert marriage.type == "MARRIAGE_CERTIFICATE" and marriage.schema == schema
    assert marriage.schema_hash == keccak(text=canonical_schema(schema))
    assert all(t.added_at for t in mirrored)


def test_recognition_rules_set_replaced_and_removed_are_mirrored(issuing, mirror_url):
    reg, admins = issuing.registry, issuing.admins
    n = chain_now(issuing.chain)
    reg.set_recognition(admins[ZJ], ZJ, "ID_CARD", GD)
    reg.set_recognition(admins[ZJ], ZJ, "ID_CARD", GD, n, n + 3600)  # replaced
    reg.set_recognition(admins[ZJ], ZJ, "DEGREE", None, 0, n + 7200)  # any region
    reg.set_recognition(admins[BJ], BJ, "DEGREE", ZJ)
    reg.remove_recognition(admins[BJ], BJ, "DEGREE", ZJ)  # removed
    reg.set_recognition(admins[GD], GD, "BUSINESS_LICENSE", BJ, n + 10)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)

    assert [(r.verifier, r.type, r.issuer or 0, r.valid_from, r.valid_until) for r in q.recognitions()] == [
        (r.verifier, r.type, r.issuer, r.valid_from, r.valid_until) for r in reg.recognitions()
    ]
    assert {(r.verifier, r.type, r.issuer) for r in q.recognitions()} == {
        (ZJ, "ID_CARD", GD),
        (ZJ, "DEGREE", None),
        (GD, "BUSINESS_LICENSE", BJ),
    }


def test_logs_of_other_deployments_on_the_same_chain_are_ignored(issuing, chain, mirror_url):
    mine_batch = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    other = new_consortium(chain)
    other.add_type("ID_CARD")
    other.add_agency("GD-PSB", GD, ["ID_CARD"])  # same codes, other contracts
    foreign = anchor(other, "GD-PSB", "ID_CARD", 3)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    assert q.batch("GD-PSB", mine_batch.root) is not None
    assert q.batch("GD-PSB", foreign.root) is None and all(q.certificate(h) is None for h in foreign.cert_hashes)
    assert q.certificate_count() == 2
    assert [t.type for t in q.types()] == ["ID_CARD", "DEGREE", "BUSINESS_LICENSE"]


@pytest.mark.parametrize("span", [1, 64], ids=["range-per-block", "one-range"])
def test_a_hash_anchored_in_two_batches_is_mirrored_in_both(issuing, mirror_url, fresh_mirror_url, span):
    """The contract stores roots only, so nothing stops a hash from being anchored again (by
    the same agency re-issuing, or by another): the mirror keeps every (hash, batch);
    ``certificate()`` answers within the agency asked for (its first sound anchoring), and with
    nothing when several agencies anchored the hash and none is named. Both batches in one
    range or apart."""
    shared, reg = Account.create().key, issuing.registry
    first = reg.anchor_batch(
        issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", [shared, Account.create().key]
    )
    second = reg.anchor_batch(
        issuing.deployer,
        issuing.agency_keys["GD-PSB"],
        "GD-PSB",
        "ID_CARD",
        [shared, Account.create().key, Account.create().key],
    )
    other = reg.anchor_batch(issuing.deployer, issuing.agency_keys["ZJ-EDU"], "ZJ-EDU", "DEGREE", [shared])
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url, initial_span=span, max_span=span)
    assert q.certificate(shared) is None  # GD-PSB and ZJ-EDU anchored it: whose is it?
    found = q.lookup(shared)
    assert found.ambiguous and found.agencies == ("GD-PSB", "ZJ-EDU")
    assert q.certificate(shared, "GD-PSB").root == first.root and q.certificate(shared, "GD-PSB").agency == "GD-PSB"
    assert q.certificate(shared, "ZJ-EDU").root == other.root
    assert q.certificate(shared, "GD-AMR") is None
    assert all(q.in_batch(b.agency, b.root, shared) for b in (first, second, other))
    assert not q.in_batch("GD-PSB", other.root, shared)
    assert shared in q.batch_hashes("GD-PSB", second.root) and q.batch_hashes("ZJ-EDU", other.root) == [shared]
    assert (q.batch("GD-PSB", second.root).size, q.batch("ZJ-EDU", other.root).size) == (3, 1)
    assert sorted(r for h, r in store.dump()["certificates"] if h == shared) == sorted(
        [first.root, second.root, other.root]
    )
    assert_same_mirror(store.dump(), rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url()))


@pytest.mark.parametrize("budget", [10_000, 120], ids=["one-write", "a-write-per-budget"])
def test_a_rebuild_writes_light_ranges_together_up_to_the_budget(issuing, mirror_url, fresh_mirror_url, budget):
    """A light range read while catching up is extended by the blocks after it before it is
    written: a rebuild writes as few ranges as the certificate budget allows (each write
    spreads random hashes over the whole table). Twelve batches of 50 hashes in twelve blocks:
    one write when the budget holds them all; with a budget of 120, several writes, yet fewer
    than one per block (the budget is a soft bound: a span grown over the setup's empty blocks
    may bring more, and is halved after). Either way the mirror is the one built block by
    block."""
    batches = [
        issuing.registry.anchor_batch(
            issuing.deployer,
            issuing.agency_keys["GD-PSB"],
            "GD-PSB",
            "ID_CARD",
            [Account.create().key for _ in range(50)],
        )
        for _ in range(12)
    ]
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(issuing.chain.url, issuing.deployment, store, initial_span=1, max_hashes_per_range=budget)
    steps: list[int] = []
    total = indexer.catch_up(lambda block, target, certs: steps.append(certs))
    assert total == 600 and steps[-1] == 600
    written = [b - a for a, b in zip([0, *steps[:-1]], steps, strict=True)]
    if budget >= 600:
        assert len(steps) == 1, written
    else:
        assert 1 < len(steps) < len(batches), written
    q = MirrorQueries(store)
    assert all(q.certificate(h, "GD-PSB").root == b.root for b in batches for h in b.cert_hashes[:3])
    assert_same_mirror(
        store.dump(),
        rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url(), initial_span=1, max_span=1),
    )


def test_a_batch_written_with_a_hash_twice_keeps_it_once(issuing, mirror_url):
    """The bulk insert of certificates guards a re-write: a row that is there already is kept
    once, not an error (on PostgreSQL the COPY straight into the table is undone and the rows
    go through a temporary table with ON CONFLICT DO NOTHING). Hashes arrive in leaf order, not
    in key order; the rows are the same either way."""
    store = open_store(mirror_url, issuing.deployment)
    hashes = sorted((Account.create().key for _ in range(50)), reverse=True)
    root, first = keccak(b"root"), issuing.deployment.deployment_block
    batch = {
        "root": root,
        "agency": "GD-PSB",
        "cert_type": "ID_CARD",
        "key": Account.create().address,
        "size": len(hashes) + 1,
        "sm2_signature": None,
        "identifier_tags_hash": None,
        "hashes": b"".join([*hashes, hashes[7]]),
        "block": first,
        "log_index": 0,
        "tx": keccak(b"tx"),
        "time": 1_800_000_000,
    }
    store.write(RangeData(first, first, keccak(b"block"), {first: (keccak(b"block"), 1_800_000_000)}, [batch]))
    assert store.dump()["certificates"] == sorted((h, root) for h in hashes)
    assert store.checkpoint() == (first, keccak(b"block"))


def test_indexing_block_by_block_equals_a_rebuild_in_one_go(issuing, mirror_url, fresh_mirror_url):
    """Ranges of one block, written as the chain grows, against one catch-up at the end."""
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(issuing.chain.url, issuing.deployment, store, initial_span=1, max_span=1)
    indexer.catch_up()
    for i in range(4):
        batch = anchor(issuing, "GD-PSB", "ID_CARD", 5 + i)
        reg.set_certificate_status(key, "GD-PSB", batch.cert_hashes[0], SUSPENDED, "HOLDER_REQUEST")
        reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, 0, 10**10 + i)
        indexer.catch_up()
    reg.set_batch_status(key, "GD-PSB", batch.root, REVOKED, "ISSUER_ERROR")
    indexer.catch_up()
    assert store.checkpoint()[0] == issuing.chain.block_number()
    assert_same_mirror(store.dump(), rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url()))


def test_catching_up_with_the_next_ranges_logs_fetched_ahead_equals_a_rebuild(issuing, mirror_url, fresh_mirror_url):
    """While catching up, the next range's logs come over a second connection as the current
    range is written: ranges of one block, every one after the first fetched ahead, give the
    same mirror as one catch-up; when the fetch ahead fails (a node refusing it), the range is
    fetched again directly and nothing is missed."""
    for i in range(4):
        batch = anchor(issuing, "GD-PSB", "ID_CARD", 3 + i)
    issuing.registry.set_batch_status(issuing.agency_keys["GD-PSB"], "GD-PSB", batch.root, SUSPENDED, "ISSUER_ERROR")
    expected = rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url())
    for failing in (False, True):
        store = open_store(mirror_url, issuing.deployment, rebuild=True)
        indexer = indexer_for(issuing.chain.url, issuing.deployment, store, initial_span=1, max_span=1)
        ahead: list[tuple[int, int]] = []
        fetch = indexer._fetch_logs

        def counted(
            rpc: Any,
            first: int,
            last: int,
            fetch: Any = fetch,
            failing: bool = failing,
            direct: Any = indexer.rpc,
            ahead: Any = ahead,
        ) -> Any:
            if rpc is not direct:  # the second connection: a fetch ahead
                ahead.append((first, last))
                if failing:
                    raise RpcError(-32005, "query refused")
            return fetch(rpc, first, last)

        indexer._fetch_logs = counted  # type: ignore[method-assign]
        indexer.catch_up()
        blocks = issuing.chain.block_number() - issuing.deployment.deployment_block + 1
        assert len(ahead) == blocks - 1 and all(f == last for f, last in ahead)  # every range after the first
        assert store.checkpoint()[0] == issuing.chain.block_number()
        assert_same_mirror(store.dump(), expected)
        assert indexer._prefetcher is None and indexer._prefetch_rpc is None  # closed with the catch-up


def test_a_large_catch_up_brings_the_planner_statistics_up_to_date(issuing, mirror_url, monkeypatch):
    """After a catch-up that wrote many certificates, PostgreSQL's tables are vacuumed and
    analysed (a 10 M-certificate mirror answered lookups 3 x slower until they were); a small
    catch-up leaves that to autovacuum."""
    from ledger.mirror import indexer as indexer_module

    def analysed(store: Any) -> Any:
        with store.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'certificates'"
            ).one()

    anchor(issuing, "GD-PSB", "ID_CARD", 6)
    monkeypatch.setattr(indexer_module, "REFRESH_STATISTICS_AFTER", 100)
    store = open_store(mirror_url, issuing.deployment, rebuild=True)
    indexer_for(issuing.chain.url, issuing.deployment, store).catch_up()  # 6 certificates: below
    if store.dialect == "postgresql":
        assert analysed(store) == (None, None)
    monkeypatch.setattr(indexer_module, "REFRESH_STATISTICS_AFTER", 5)
    store = open_store(mirror_url, issuing.deployment, rebuild=True)
    indexer_for(issuing.chain.url, issuing.deployment, store).catch_up()
    if store.dialect == "postgresql":
        vacuumed, analysed_at = analysed(store)
        assert vacuumed is not None and analysed_at is not None
    assert store.checkpoint()[0] == issuing.chain.block_number()


# ---------------------------------------------------------------------- following the head


def test_run_follows_new_blocks(issuing, mirror_url):
    store = open_store(mirror_url, issuing.deployment)
    q = MirrorQueries(store)
    follower = Follower(indexer_for(issuing.chain.url, issuing.deployment, store, poll_interval=0.05))
    try:
        wait_until(mirrored_up_to(store, issuing.chain.block_number()), what="the initial catch-up")
        batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
        wait_until(lambda: q.certificate(batch.cert_hashes[2]) is not None, what="the anchored batch in the mirror")
        issuing.registry.set_certificate_status(
            issuing.agency_keys["GD-PSB"], "GD-PSB", batch.cert_hashes[2], REVOKED, "FRAUD"
        )
        wait_until(
            lambda: q.status_as_of(batch.cert_hashes[2], "GD-PSB", batch.root).status is REVOKED,
            what="the revocation in the mirror",
        )
        assert follower.alive()
        head = q.head()
        assert head.last_error == "" and head.chain_head is not None and head.chain_head >= head.block
    finally:
        follower.stop()


def test_confirmations_keep_the_newest_blocks_out_until_buried(issuing, mirror_url):
    store = open_store(mirror_url, issuing.deployment)
    q = MirrorQueries(store)
    follower = Follower(indexer_for(issuing.chain.url, issuing.deployment, store, confirmations=2, poll_interval=0.05))
    try:
        batch = anchor(issuing, "GD-PSB", "ID_CARD", 2)
        n = batch.tx.block_number

        def polled(chain_head: int) -> bool:  # the follower saw this head and indexed up to it - 2
            head = q.head()
            return head.chain_head == chain_head and head.block == chain_head - 2

        wait_until(lambda: polled(n), what="the follower to index up to head - 2")
        assert q.certificate(batch.cert_hashes[0]) is None and q.batch(batch.agency, batch.root) is None
        assert q.head().lag_blocks == 2
        mine(issuing.chain)
        wait_until(lambda: polled(n + 1), what="the follower to see one more block")
        assert q.certificate(batch.cert_hashes[0]) is None
        mine(issuing.chain)
        wait_until(lambda: q.certificate(batch.cert_hashes[0]) is not None, what="the batch once 2 blocks deep")
        assert MirrorQueries(store).head().block == n  # read afresh: q trusts its last head for a moment
    finally:
        follower.stop()


# ---------------------------------------------------------------------- reorgs


def orphans_absent(q: MirrorQueries, orphaned: list[AnchoredBatch]) -> None:
    for batch in orphaned:
        assert q.batch(batch.agency, batch.root) is None, f"orphaned batch 0x{batch.root.hex()} still mirrored"
        assert all(q.certificate(h) is None for h in batch.cert_hashes)


def test_reorg_to_a_longer_chain_while_following(issuing, mirror_url, fresh_mirror_url):
    reg, key, chain = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.chain
    kept = anchor(issuing, "GD-PSB", "ID_CARD", 4)
    store = open_store(mirror_url, issuing.deployment)
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    follower = Follower(indexer_for(chain.url, issuing.deployment, store, poll_interval=0.05))
    try:
        fork = snapshot(chain)
        # the chain that will be orphaned: two batches, a revocation, a suspension, a rule, a key
        orphaned = [anchor(issuing, "GD-PSB", "ID_CARD", 3), anchor(issuing, "ZJ-EDU", "DEGREE", 2)]
        reg.set_certificate_status(key, "GD-PSB", kept.cert_hashes[0], REVOKED, "FRAUD")
        reg.suspend_agency(issuing.admins[ZJ], "ZJ-EDU")
        reg.set_recognition(issuing.admins[BJ], BJ, "ID_CARD", GD)
        reg.add_key(issuing.admins[GD], "GD-PSB", Account.create().address)
        old_head = head_of(chain)
        wait_until(lambda: store.checkpoint() == old_head, what="the follower to index the soon-orphaned chain")
        assert q.batch(orphaned[0].agency, orphaned[0].root) is not None
        assert q.status_as_of(kept.cert_hashes[0], "GD-PSB", kept.root).status is REVOKED

        revert(chain, fork)
        # a different and longer chain from the fork point
        replacing = [anchor(issuing, "GD-PSB", "ID_CARD", 5) for _ in range(3)]
        reg.set_certificate_status(key, "GD-PSB", kept.cert_hashes[1], SUSPENDED, "HOLDER_REQUEST")
        reg.set_agency_types(issuing.admins[GD], "GD-AMR", ["DEGREE"], True)
        reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", None)
        mine(chain, 2)
        new_head = head_of(chain)
        assert new_head[0] > old_head[0]
        wait_until(lambda: store.checkpoint() == new_head, what="the follower to index the new chain")
        assert follower.alive()
    finally:
        follower.stop()

    settled(q, clock, store)
    orphans_absent(q, orphaned)
    assert all(q.batch(b.agency, b.root) is not None for b in [kept, *replacing])
    assert q.status_as_of(kept.cert_hashes[0], "GD-PSB", kept.root).status is ACTIVE
    assert [e.status for e in q.history(q.certificate(kept.cert_hashes[0]))] == []
    assert q.status_as_of(kept.cert_hashes[1], "GD-PSB", kept.root).status is SUSPENDED
    assert q.agency("ZJ-EDU").suspended is False
    assert q.agency("GD-AMR").types == ("BUSINESS_LICENSE", "DEGREE")
    assert q.recognition(BJ, "ID_CARD", GD, chain_now(chain)) is None
    assert q.recognition(ZJ, "ID_CARD", GD, chain_now(chain)) is not None
    assert q.agency("GD-PSB").keys == (key.address,)
    assert_same_mirror(store.dump(), rebuild_dump(chain.url, issuing.deployment, fresh_mirror_url()))


@pytest.mark.parametrize("new_blocks", [0, 1], ids=["back-to-fork", "one-new-block"])
def test_reorg_to_a_shorter_chain(issuing, mirror_url, fresh_mirror_url, new_blocks):
    reg, key, chain = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.chain
    kept = anchor(issuing, "GD-PSB", "ID_CARD", 2)
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(chain.url, issuing.deployment, store)
    indexer.catch_up()
    fork_block = chain.block_number()
    fork = snapshot(chain)
    orphaned = [anchor(issuing, "GD-PSB", "ID_CARD", 3) for _ in range(3)]
    reg.set_batch_status(key, "GD-PSB", kept.root, SUSPENDED, "AUDIT")
    reg.report_compromised(issuing.admins[GD], key.address, chain_now(chain))
    indexer.catch_up()
    old_head = chain.block_number()
    assert store.checkpoint()[0] == old_head
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    assert q.status_as_of(kept.cert_hashes[0], "GD-PSB", kept.root).status is SUSPENDED

    revert(chain, fork)
    replacing = [anchor(issuing, "GD-AMR", "BUSINESS_LICENSE", 4) for _ in range(new_blocks)]
    new_head = head_of(chain)
    assert new_head[0] == fork_block + new_blocks < old_head
    indexer.catch_up()
    assert store.checkpoint() == new_head

    settled(q, clock, store)
    orphans_absent(q, orphaned)
    assert all(q.batch(b.agency, b.root) is not None for b in [kept, *replacing])
    assert q.status_as_of(kept.cert_hashes[0], "GD-PSB", kept.root).status is ACTIVE
    assert q.history(q.certificate(kept.cert_hashes[0])) == []
    assert q.key(key.address).compromised_since == 0
    assert q.head().block == new_head[0]
    assert_same_mirror(store.dump(), rebuild_dump(chain.url, issuing.deployment, fresh_mirror_url()))


def test_check_reorg_rolls_back_to_the_common_ancestor(issuing, mirror_url):
    chain = issuing.chain
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(chain.url, issuing.deployment, store, initial_span=1, max_span=1)
    anchor(issuing, "GD-PSB", "ID_CARD", 2)
    indexer.catch_up()
    ancestor = chain.block_number()
    fork = snapshot(chain)
    anchor(issuing, "GD-PSB", "ID_CARD", 2)
    anchor(issuing, "GD-PSB", "ID_CARD", 2)
    indexer.catch_up()
    assert indexer.check_reorg() is None  # nothing changed yet
    revert(chain, fork)
    anchor(issuing, "ZJ-EDU", "DEGREE", 2)
    anchor(issuing, "ZJ-EDU", "DEGREE", 2)
    anchor(issuing, "ZJ-EDU", "DEGREE", 2)
    assert indexer.check_reorg() == ancestor
    assert store.checkpoint()[0] == ancestor
    assert indexer.check_reorg() is None


def test_reorg_between_the_checkpoint_check_and_the_log_query_is_not_missed(issuing, mirror_url, fresh_mirror_url):
    """The chain may reorganise after ``check_reorg`` looked at the checkpoint and before the
    range's logs are read: the range must then not be stacked on the orphaned blocks."""
    chain = issuing.chain
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(chain.url, issuing.deployment, store)
    indexer.catch_up()
    fork = snapshot(chain)
    orphaned = [anchor(issuing, "GD-PSB", "ID_CARD", 3)]
    indexer.catch_up()  # the mirror now holds the soon-orphaned batch at its checkpoint
    assert MirrorQueries(store).batch(orphaned[0].agency, orphaned[0].root) is not None
    mine(chain, 2)  # more blocks to index on the old chain

    real_logs = indexer.rpc.logs
    replacing: list[AnchoredBatch] = []

    def logs_after_a_reorg(addresses, first, last):  # the reorg lands right here, once
        if not replacing:
            revert(chain, fork)
            replacing.extend(anchor(issuing, "ZJ-EDU", "DEGREE", 2) for _ in range(4))
        return real_logs(addresses, first, last)

    indexer.rpc.logs = logs_after_a_reorg
    try:
        indexer.catch_up()
    except Exception:  # refusing the range is fine; the next catch-up must repair
        pass
    indexer.rpc.logs = real_logs
    indexer.catch_up()
    assert replacing and store.checkpoint() == head_of(chain)
    q = MirrorQueries(store)
    orphans_absent(q, orphaned)
    assert_same_mirror(store.dump(), rebuild_dump(chain.url, issuing.deployment, fresh_mirror_url()))


def test_anvil_reorg_replacing_recent_blocks(issuing, mirror_url, fresh_mirror_url):
    """anvil's own ``anvil_reorg``: the last blocks are replaced by blocks holding other
    transactions (here: another batch), at the same height."""
    chain = issuing.chain
    store = open_store(mirror_url, issuing.deployment)
    indexer = indexer_for(chain.url, issuing.deployment, store)
    orphaned = [anchor(issuing, "GD-PSB", "ID_CARD", 2) for _ in range(3)]
    indexer.catch_up()
    old_head = head_of(chain)

    raw, tree = signed_anchor(issuing, "ZJ-EDU", "DEGREE", 3)
    anvil_reorg(chain, 3, [raw])
    new_head = head_of(chain)
    assert new_head[0] == old_head[0] and new_head[1] != old_head[1]
    indexer.catch_up()
    assert store.checkpoint() == new_head
    q = MirrorQueries(store)
    orphans_absent(q, orphaned)
    assert q.batch("ZJ-EDU", tree.root) is not None
    assert_same_mirror(store.dump(), rebuild_dump(chain.url, issuing.deployment, fresh_mirror_url()))


# ---------------------------------------------------------------------- schema versions and identity


def test_reopening_the_same_deployment_keeps_the_mirror(issuing, mirror_url):
    anchor(issuing, "GD-PSB", "ID_CARD", 3)
    store, _ = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    before, checkpoint = store.dump(), store.checkpoint()
    again = open_store(mirror_url, issuing.deployment)
    assert again.dump() == before and again.checkpoint() == checkpoint


def test_a_mirror_of_another_schema_version_is_rebuilt_and_refilled(issuing, mirror_url, fresh_mirror_url):
    anchor(issuing, "GD-PSB", "ID_CARD", 3)
    issuing.registry.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    store, _ = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    full = store.dump()
    with store.engine.begin() as conn:  # as written by an older release ...
        conn.execute(update(mirror_schema.meta).where(mirror_schema.meta.c.key == "schema_version").values(value="0"))
        conn.execute(mirror_schema.certificates.delete())  # ... with rows this version would not have
    store.dispose()

    reopened = open_store(mirror_url, issuing.deployment)
    assert reopened.checkpoint() == (issuing.deployment.deployment_block - 1, None)
    assert all(rows == [] for rows in reopened.dump().values())
    with reopened.engine.connect() as conn:
        assert reopened.meta(conn)["schema_version"] == str(mirror_schema.SCHEMA_VERSION)
    indexer_for(issuing.chain.url, issuing.deployment, reopened).catch_up()
    assert_same_mirror(reopened.dump(), full)
    assert_same_mirror(reopened.dump(), rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url()))


def test_a_mirror_of_another_deployment_is_refused_unless_rebuilt(issuing, chain, mirror_url):
    anchor(issuing, "GD-PSB", "ID_CARD", 3)
    store, _ = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    kept = store.dump()
    other = new_consortium(chain)
    with pytest.raises(ConfigError, match="another deployment"):
        open_store(mirror_url, other.deployment)
    assert open_store(mirror_url, issuing.deployment).dump() == kept  # untouched by the refusal

    rebuilt = open_store(mirror_url, other.deployment, rebuild=True)
    assert rebuilt.checkpoint() == (other.deployment.deployment_block - 1, None)
    assert rebuilt.dump()["certificates"] == []
    indexer_for(chain.url, other.deployment, rebuilt).catch_up()
    assert rebuilt.dump()["certificates"] == []
    assert len(MirrorQueries(rebuilt).regions().regions) == 3
    with pytest.raises(ConfigError):  # and now the first deployment is the stranger
        open_store(mirror_url, issuing.deployment)


# ---------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(issuing, tmp_path, monkeypatch):
    home = tmp_path / "home"
    issuing.deployment.save(home / "deployment.json")
    monkeypatch.setenv("CERTLEDGER_HOME", str(home))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", issuing.chain.url)
    for var in ("CERTLEDGER_DEPLOYMENT", "CERTLEDGER_DB_URL", "CERTLEDGER_CONFIRMATIONS", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return home


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_index_once_reports_the_mirror_as_json(issuing, cli_env, mirror_url, monkeypatch, capsys):
    anchor(issuing, "GD-PSB", "ID_CARD", 5)
    anchor(issuing, "ZJ-EDU", "DEGREE", 6)
    monkeypatch.setenv("CERTLEDGER_DB_URL", mirror_url)
    code, out, err = run_cli(capsys, "index", "--once", "--json")
    assert code == 0, err
    data = json.loads(out)
    head = issuing.chain.block_number()
    assert data["mirror_block"] == head and data["chain_head"] == head
    assert data["lag_blocks"] == 0
    assert data["certificates"] == 11 and data["indexed_now"] == 11

    mine(issuing.chain, 3)
    code, out, err = run_cli(capsys, "index", "--once", "--json", "--confirmations", "2")
    assert code == 0, err
    data = json.loads(out)
    assert (data["mirror_block"], data["chain_head"], data["lag_blocks"]) == (head + 1, head + 3, 2)
    assert data["certificates"] == 11 and data["indexed_now"] == 0

    code, out, err = run_cli(capsys, "index", "--once", "--json", "--db", mirror_url, "--rebuild")
    assert code == 0, err
    assert json.loads(out)["certificates"] == 11 and json.loads(out)["indexed_now"] == 11


@pytest.mark.parametrize(
    "db_url",
    [
        "nonsense://nowhere",
        "postgresql://postgres@127.0.0.1:1/certledger_nowhere",
        "sqlite:////nonexistent-dir/sub/mirror.db",
    ],
    ids=["unknown-scheme", "postgres-unreachable", "sqlite-missing-directory"],
)
def test_cli_index_with_a_bad_database_url_fails_with_one_line(issuing, cli_env, db_url):
    """Run as the installed script, as an operator would: exit code 1 and one line on stderr."""
    script = Path(sys.executable).parent / "certledger"
    env = {**os.environ, "CERTLEDGER_DB_URL": db_url}
    done = subprocess.run(
        [str(script), "index", "--once", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-3000:]


def test_a_batch_anchored_again_after_a_key_compromise_counts_in_its_newest_anchoring(
    issuing, mirror_url, fresh_mirror_url
):
    """After its key is reported compromised, the agency re-anchors the same hashes (the same
    root) with a new key. The mirror keeps both anchorings, as the chain's log does; the batch
    is the newest, and lookups use the sound anchoring. A removal with a cut-off voids too."""
    reg, admin = issuing.registry, issuing.admins[GD]
    old = issuing.agency_keys["GD-PSB"]
    hashes = [Account.create().key for _ in range(3)]
    first = reg.anchor_batch(issuing.deployer, old, "GD-PSB", "ID_CARD", hashes)
    reg.report_compromised(admin, old.address, reg.batch("GD-PSB", first.root).anchored_at - 10)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    assert q.void_reason("GD-PSB", old.address, q.batch("GD-PSB", first.root).time) == "KEY_COMPROMISED"
    assert q.certificate(hashes[0]).key == old.address  # void, but the only anchoring: the verdict says why

    new = Account.create()
    reg.add_key(admin, "GD-PSB", new.address)
    again = reg.anchor_batch(issuing.deployer, new, "GD-PSB", "ID_CARD", hashes)
    assert again.root == first.root
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    assert q.batch("GD-PSB", first.root).key == new.address
    assert [b.key for b in q.batches_with_root(first.root)] == [new.address]
    record = q.certificate(hashes[1], "GD-PSB")
    assert record.key == new.address and q.void_reason("GD-PSB", new.address, record.time) is None
    assert sum(1 for _, r in store.dump()["certificates"] if r == first.root) == 6  # both anchorings kept
    assert_same_mirror(store.dump(), rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url()))
