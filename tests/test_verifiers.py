"""Verifier organisations on chain (the Consortium contract): registered by their region's
admins, with the SHA-256 of an API key, a role and a rate; the only ones that anchor
verification receipts, from their own account; a suspended organisation, or one of a removed
region, no longer stands."""

from __future__ import annotations

import hashlib
import os

from eth_account import Account
from helpers import Consortium, expect

from ledger.registry.results import VerifierInfo

BJ, GD, ZJ = 110000, 440000, 330000


def key_hash() -> bytes:
    return hashlib.sha256(os.urandom(32)).digest()


def test_a_region_admin_registers_a_verifier_that_anchors_its_receipts(consortium: Consortium) -> None:
    reg = consortium.registry
    account = Account.create()
    h = key_hash()
    sent = reg.register_verifier(consortium.admins[ZJ], "ZJ-BANK-1", ZJ, account.address, h, rate_per_minute=600)
    (event,) = reg.consortium.events.VerifierSet().process_receipt(sent.receipt)
    assert event["args"]["region"] == ZJ and bytes(event["args"]["apiKeyHash"]) == h
    v = reg.verifier("ZJ-BANK-1")
    assert v == VerifierInfo("ZJ-BANK-1", ZJ, account.address, h, "VERIFIER", 600, False, True)
    assert reg.verifier("ZJ-NOBODY") is None
    root = os.urandom(32)
    done = reg.anchor_receipts(account, "ZJ-BANK-1", root, 12)
    (anchored,) = reg.consortium.events.ReceiptsAnchored().process_receipt(done.receipt)
    assert bytes(anchored["args"]["root"]) == root and anchored["args"]["count"] == 12
    expect("EmptyReceiptBatch", reg.anchor_receipts, account, "ZJ-BANK-1", os.urandom(32), 0)


def test_only_the_verifiers_region_registers_and_changes_it(consortium: Consortium) -> None:
    reg = consortium.registry
    account = Account.create()
    expect(
        "NotAdminOfRegion", reg.register_verifier, consortium.admins[GD], "ZJ-BANK-1", ZJ, account.address, key_hash()
    )
    reg.register_verifier(consortium.admins[ZJ], "ZJ-BANK-1", ZJ, account.address, key_hash())
    expect(
        "VerifierAlreadyRegistered",
        reg.register_verifier,
        consortium.admins[ZJ],
        "ZJ-BANK-1",
        ZJ,
        account.address,
        key_hash(),
    )
    # another region's admin cannot take it over (new account, new API key) or suspend it
    expect(
        "NotAdminOfRegion", reg.update_verifier, consortium.admins[GD], "ZJ-BANK-1", account=Account.create().address
    )
    expect("NotAdminOfRegion", reg.update_verifier, consortium.admins[BJ], "ZJ-BANK-1", suspended=True)
    expect("InvalidVerifier", reg.register_verifier, consortium.admins[ZJ], "ZJ-BANK-2", ZJ, account.address, bytes(32))
    new_key = key_hash()
    reg.update_verifier(consortium.admins[ZJ], "ZJ-BANK-1", api_key_hash=new_key, rate_per_minute=60)
    v = reg.verifier("ZJ-BANK-1")
    assert v is not None and (v.api_key_hash, v.rate_per_minute, v.account) == (new_key, 60, account.address)


def test_only_its_own_account_anchors_receipts_while_it_stands(consortium: Consortium) -> None:
    reg = consortium.registry
    account, other = Account.create(), Account.create()
    reg.register_verifier(consortium.admins[ZJ], "ZJ-BANK-1", ZJ, account.address, key_hash())
    reg.register_verifier(consortium.admins[GD], "GD-HOTEL-7", GD, other.address, key_hash())
    # another verifier's account (or an admin) cannot anchor in its name
    expect("NotVerifierAccount", reg.anchor_receipts, other, "ZJ-BANK-1", os.urandom(32), 1)
    expect("NotVerifierAccount", reg.anchor_receipts, consortium.admins[ZJ], "ZJ-BANK-1", os.urandom(32), 1)
    expect("NotVerifierAccount", reg.anchor_receipts, account, "ZJ-UNKNOWN", os.urandom(32), 1)
    reg.update_verifier(consortium.admins[ZJ], "ZJ-BANK-1", suspended=True)
    v = reg.verifier("ZJ-BANK-1")
    assert v is not None and v.suspended and not v.active
    expect("NotVerifierAccount", reg.anchor_receipts, account, "ZJ-BANK-1", os.urandom(32), 1)
    reg.update_verifier(consortium.admins[ZJ], "ZJ-BANK-1", suspended=False)
    reg.anchor_receipts(account, "ZJ-BANK-1", os.urandom(32), 1)


def test_a_removed_regions_verifiers_no_longer_stand(consortium: Consortium) -> None:
    reg = consortium.registry
    account = Account.create()
    reg.register_verifier(consortium.admins[BJ], "BJ-CLINIC-3", BJ, account.address, key_hash())
    proposed = reg.propose_remove_region(consortium.admins[GD], BJ)
    reg.approve(consortium.admins[ZJ], proposed.id)
    v = reg.verifier("BJ-CLINIC-3")
    assert v is not None and not v.active
    expect("NotVerifierAccount", reg.anchor_receipts, account, "BJ-CLINIC-3", os.urandom(32), 1)
