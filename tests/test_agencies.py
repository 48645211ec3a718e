"""Agencies: registration by their region's admins, allowed certificate types, suspension, and
what each of these means for anchoring, status changes and the on-chain ``verify`` view.

Every test runs against a real anvil node with its own fresh deployment.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import REGIONS, Consortium, expect, same
from web3.logs import DISCARD

from ledger.contracts import Reason, Role, Status, Verdict
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree
from ledger.registry import AnchoredBatch

GD, ZJ, BJ = REGIONS


# ---------------------------------------------------------------------- helpers


def agency_events(c: Consortium, name: str, sent) -> list[dict[str, Any]]:
    logs = getattr(c.registry.agencies.events, name)().process_receipt(sent.receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


def anchor(c: Consortium, agency: str, cert_type: str, n: int = 2, key: LocalAccount | None = None) -> AnchoredBatch:
    return c.registry.anchor_batch(
        c.deployer, key or c.agency_keys[agency], agency, cert_type, [Account.create().key for _ in range(n)]
    )


def verdict(c: Consortium, batch: AnchoredBatch, cert_hash: bytes, verifier: int = 0) -> tuple[Verdict, Reason]:
    tree = build_tree(batch.cert_hashes)
    return c.registry.verify_onchain(batch.agency, cert_hash, batch.root, tree.proof(cert_hash), verifier)


def all_valid(c: Consortium, batch: AnchoredBatch, verifier: int = 0) -> bool:
    return all(verdict(c, batch, h, verifier) == (Verdict.OK, Reason.NONE) for h in batch.cert_hashes)


def can_manage(c: Consortium, agency: str, account: LocalAccount) -> bool:
    return role(c, agency, account) is not Role.NONE


def role(c: Consortium, agency: str, account: LocalAccount) -> Role:
    return Role(c.chain.call(c.registry.agencies.functions.statusRole(agency_id(agency), account.address)))


# ---------------------------------------------------------------------- registration


def test_region_admin_registers_agency_with_types(issuing: Consortium) -> None:
    reg = issuing.registry
    sent = reg.register_agency(issuing.admins[ZJ], "ZJ-AMR", ZJ, ["BUSINESS_LICENSE", "DEGREE"])
    registered = agency_events(issuing, "AgencyRegistered", sent)
    assert registered == [{"agency": agency_id("ZJ-AMR"), "region": ZJ}]
    type_set = agency_events(issuing, "AgencyTypeSet", sent)
    assert [(e["agency"], e["typeId"], e["allowed"]) for e in type_set] == [
        (agency_id("ZJ-AMR"), type_id("BUSINESS_LICENSE"), True),
        (agency_id("ZJ-AMR"), type_id("DEGREE"), True),
    ]
    info = reg.agency("ZJ-AMR")
    assert info is not None
    assert info.region == ZJ and not info.suspended and info.registered_at > 0
    assert sorted(info.types) == ["BUSINESS_LICENSE", "DEGREE"]
    assert info.keys == []
    assert "ZJ-AMR" in reg.agency_codes()
    assert [a.code for a in reg.agencies_list(ZJ)] == ["ZJ-EDU", "ZJ-AMR"]
    assert reg.agency("NOBODY") is None


def test_agency_may_be_registered_with_no_types(issuing: Consortium) -> None:
    reg = issuing.registry
    reg.register_agency(issuing.admins[BJ], "BJ-PSB", BJ, [])
    assert reg.agency("BJ-PSB").types == []
    key = Account.create()
    reg.add_key(issuing.admins[BJ], "BJ-PSB", key.address)
    args = expect("TypeNotAllowed", reg.anchor_batch, issuing.deployer, key, "BJ-PSB", "ID_CARD", [b"\x01" * 32])
    assert args == {"agency": "BJ-PSB", "typeId": "ID_CARD"}


def test_admin_of_another_region_cannot_register_agency(issuing: Consortium) -> None:
    reg = issuing.registry
    zj_admin = issuing.admins[ZJ]
    args = expect("NotAdminOfRegion", reg.register_agency, zj_admin, "GD-EDU", GD, ["DEGREE"])
    assert same(args["account"], zj_admin) and args["region"] == GD
    assert reg.agency("GD-EDU") is None


@pytest.mark.parametrize("who", ["stranger", "deployer", "agency_key"])
def test_non_admin_cannot_register_agency(issuing: Consortium, who: str) -> None:
    account = {
        "stranger": Account.create(),
        "deployer": issuing.deployer,
        "agency_key": issuing.agency_keys["GD-PSB"],
    }[who]
    args = expect("NotAdminOfRegion", issuing.registry.register_agency, account, "GD-EDU", GD, [])
    assert same(args["account"], account) and args["region"] == GD


def test_agency_cannot_be_registered_in_a_non_member_region(issuing: Consortium) -> None:
    args = expect("NotAdminOfRegion", issuing.registry.register_agency, issuing.admins[GD], "JS-PSB", 320000, [])
    assert args["region"] == 320000


def test_duplicate_agency_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    args = expect("AgencyAlreadyRegistered", reg.register_agency, issuing.admins[GD], "GD-PSB", GD, ["ID_CARD"])
    assert args == {"agency": "GD-PSB"}
    # agency codes are global: another region cannot take the code either
    args = expect("AgencyAlreadyRegistered", reg.register_agency, issuing.admins[ZJ], "GD-PSB", ZJ, [])
    assert args == {"agency": "GD-PSB"}
    assert reg.agency("GD-PSB").region == GD


def test_zero_agency_id_is_rejected(issuing: Consortium) -> None:
    fn = issuing.registry.agencies.functions.registerAgency(b"\0" * 32, GD, [])
    expect("InvalidAgencyId", issuing.chain.transact, issuing.admins[GD], fn)


def test_registering_with_unknown_type_is_rejected_atomically(issuing: Consortium) -> None:
    reg = issuing.registry
    args = expect("UnknownType", reg.register_agency, issuing.admins[GD], "GD-DMV", GD, ["ID_CARD", "DRIVING_LICENCE"])
    assert args == {"typeId": "DRIVING_LICENCE"}
    assert reg.agency("GD-DMV") is None
    assert "GD-DMV" not in reg.agency_codes()


# ---------------------------------------------------------------------- allowed types


def test_agency_can_only_anchor_types_it_is_allowed(issuing: Consortium) -> None:
    args = expect(
        "TypeNotAllowed",
        issuing.registry.anchor_batch,
        issuing.deployer,
        issuing.agency_keys["GD-PSB"],
        "GD-PSB",
        "DEGREE",
        [b"\x02" * 32],
    )
    assert args == {"agency": "GD-PSB", "typeId": "DEGREE"}
    assert all_valid(issuing, anchor(issuing, "GD-PSB", "ID_CARD"))


def test_forbidding_a_type_stops_new_anchors_but_earlier_ones_stay_valid(issuing: Consortium) -> None:
    reg = issuing.registry
    before = anchor(issuing, "GD-PSB", "ID_CARD", 3)

    sent = reg.set_agency_types(issuing.admins[GD], "GD-PSB", ["ID_CARD"], False)
    assert agency_events(issuing, "AgencyTypeSet", sent) == [
        {"agency": agency_id("GD-PSB"), "typeId": type_id("ID_CARD"), "allowed": False}
    ]
    assert reg.agency("GD-PSB").types == []
    assert not issuing.chain.call(reg.agencies.functions.isTypeAllowed(agency_id("GD-PSB"), type_id("ID_CARD")))

    args = expect("TypeNotAllowed", anchor, issuing, "GD-PSB", "ID_CARD")
    assert args == {"agency": "GD-PSB", "typeId": "ID_CARD"}
    assert all_valid(issuing, before)
    assert all_valid(issuing, before, GD)

    # allowing it again lets the agency anchor again
    reg.set_agency_types(issuing.admins[GD], "GD-PSB", ["ID_CARD"], True)
    assert all_valid(issuing, anchor(issuing, "GD-PSB", "ID_CARD"))


def test_allowing_more_types(issuing: Consortium) -> None:
    reg = issuing.registry
    sent = reg.set_agency_types(issuing.admins[GD], "GD-PSB", ["DEGREE", "BUSINESS_LICENSE"], True)
    assert len(agency_events(issuing, "AgencyTypeSet", sent)) == 2
    assert sorted(reg.agency("GD-PSB").types) == ["BUSINESS_LICENSE", "DEGREE", "ID_CARD"]
    assert all_valid(issuing, anchor(issuing, "GD-PSB", "DEGREE"))


def test_allowing_unknown_type_is_rejected(issuing: Consortium) -> None:
    args = expect(
        "UnknownType",
        issuing.registry.set_agency_types,
        issuing.admins[GD],
        "GD-PSB",
        ["DRIVING_LICENCE"],
        True,
    )
    assert args == {"typeId": "DRIVING_LICENCE"}


def test_set_agency_types_only_by_admin_of_agency_region(issuing: Consortium) -> None:
    reg = issuing.registry
    for caller in (issuing.admins[ZJ], issuing.agency_keys["GD-PSB"], Account.create()):
        args = expect("NotAdminOfRegion", reg.set_agency_types, caller, "GD-PSB", ["DEGREE"], True)
        assert same(args["account"], caller) and args["region"] == GD
    assert reg.agency("GD-PSB").types == ["ID_CARD"]


def test_set_agency_types_of_unknown_agency_is_rejected(issuing: Consortium) -> None:
    args = expect("UnknownAgency", issuing.registry.set_agency_types, issuing.admins[GD], "GD-NONE", ["ID_CARD"], True)
    assert args == {"agency": "GD-NONE"}


# ---------------------------------------------------------------------- suspension


def test_suspend_and_reactivate_agency_emit_events(issuing: Consortium) -> None:
    reg = issuing.registry
    sent = reg.suspend_agency(issuing.admins[GD], "GD-PSB")
    assert agency_events(issuing, "AgencySuspendedSet", sent) == [{"agency": agency_id("GD-PSB"), "suspended": True}]
    assert reg.agency("GD-PSB").suspended
    sent = reg.reactivate_agency(issuing.admins[GD], "GD-PSB")
    assert agency_events(issuing, "AgencySuspendedSet", sent) == [{"agency": agency_id("GD-PSB"), "suspended": False}]
    assert not reg.agency("GD-PSB").suspended


def test_double_suspend_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    reg.suspend_agency(issuing.admins[GD], "GD-PSB")
    assert expect("AgencySuspended", reg.suspend_agency, issuing.admins[GD], "GD-PSB") == {"agency": "GD-PSB"}


def test_reactivating_an_active_agency_is_rejected(issuing: Consortium) -> None:
    assert expect("AgencyNotSuspended", issuing.registry.reactivate_agency, issuing.admins[GD], "GD-PSB") == {
        "agency": "GD-PSB"
    }


def test_suspend_or_reactivate_unknown_agency_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    assert expect("UnknownAgency", reg.suspend_agency, issuing.admins[GD], "GD-NONE") == {"agency": "GD-NONE"}
    assert expect("UnknownAgency", reg.reactivate_agency, issuing.admins[GD], "GD-NONE") == {"agency": "GD-NONE"}


def test_only_admin_of_agency_region_may_suspend_or_reactivate(issuing: Consortium) -> None:
    reg = issuing.registry
    for caller in (issuing.admins[ZJ], issuing.agency_keys["GD-PSB"], Account.create()):
        args = expect("NotAdminOfRegion", reg.suspend_agency, caller, "GD-PSB")
        assert same(args["account"], caller) and args["region"] == GD
    reg.suspend_agency(issuing.admins[GD], "GD-PSB")
    for caller in (issuing.admins[ZJ], issuing.agency_keys["GD-PSB"]):
        expect("NotAdminOfRegion", reg.reactivate_agency, caller, "GD-PSB")
    assert reg.agency("GD-PSB").suspended


def test_suspended_agency_cannot_anchor_and_earlier_batches_stay_valid(issuing: Consortium) -> None:
    reg = issuing.registry
    before = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    reg.suspend_agency(issuing.admins[GD], "GD-PSB")
    assert expect("AgencySuspended", anchor, issuing, "GD-PSB", "ID_CARD") == {"agency": "GD-PSB"}
    assert all_valid(issuing, before)
    assert all_valid(issuing, before, GD)
    # other agencies of the same region are not affected
    assert all_valid(issuing, anchor(issuing, "GD-AMR", "BUSINESS_LICENSE"))
    # once reactivated it anchors again
    reg.reactivate_agency(issuing.admins[GD], "GD-PSB")
    assert all_valid(issuing, anchor(issuing, "GD-PSB", "ID_CARD"))


def test_suspended_agencys_key_cannot_change_statuses_but_region_admin_can(issuing: Consortium) -> None:
    reg = issuing.registry
    key, admin = issuing.agency_keys["GD-PSB"], issuing.admins[GD]
    batch = anchor(issuing, "GD-PSB", "ID_CARD", 3)
    h0, h1, h2 = batch.cert_hashes
    assert can_manage(issuing, "GD-PSB", key)

    reg.suspend_agency(admin, "GD-PSB")
    assert not can_manage(issuing, "GD-PSB", key)
    assert can_manage(issuing, "GD-PSB", admin)

    args = expect("NotAuthorized", reg.set_certificate_status, key, "GD-PSB", h0, Status.REVOKED, "KEY_LOST")
    assert same(args["account"], key) and args["agency"] == "GD-PSB"
    expect("NotAuthorized", reg.set_batch_status, key, batch.agency, batch.root, Status.SUSPENDED, "AUDIT")
    assert verdict(issuing, batch, h0) == (Verdict.OK, Reason.NONE)

    # the region admin still can, for certificates and whole batches
    reg.set_certificate_status(admin, "GD-PSB", h0, Status.REVOKED, "FORGED")
    assert reg.certificate_status("GD-PSB", h0)[0] is Status.REVOKED
    assert verdict(issuing, batch, h0) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    reg.set_batch_status(admin, batch.agency, batch.root, Status.SUSPENDED, "AUDIT")
    assert verdict(issuing, batch, h1) == (Verdict.SUSPENDED, Reason.BATCH_SUSPENDED)

    # after reactivation the key may act again (but not lift what its region admin imposed)
    reg.reactivate_agency(admin, "GD-PSB")
    assert can_manage(issuing, "GD-PSB", key)
    expect(
        "SuspensionHeldByStrongerRole", reg.set_batch_status, key, batch.agency, batch.root, Status.ACTIVE, "AUDIT_DONE"
    )
    reg.set_batch_status(admin, batch.agency, batch.root, Status.ACTIVE, "AUDIT_DONE")
    reg.set_certificate_status(key, "GD-PSB", h2, Status.SUSPENDED, "HOLDER_REQUEST")
    assert verdict(issuing, batch, h1) == (Verdict.OK, Reason.NONE)
    assert verdict(issuing, batch, h2) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)


def test_only_own_keys_and_region_admins_may_change_an_agencys_statuses(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    h = batch.cert_hashes[0]
    outsiders = [
        issuing.agency_keys["GD-AMR"],  # same region, other agency
        issuing.agency_keys["ZJ-EDU"],  # other region's agency
        issuing.admins[ZJ],  # other region's admin
        Account.create(),
    ]
    for actor in outsiders:
        assert not can_manage(issuing, "GD-PSB", actor)
        args = expect("NotAuthorized", reg.set_certificate_status, actor, "GD-PSB", h, Status.REVOKED, "FORGED")
        assert same(args["account"], actor)
        expect("NotAuthorized", reg.set_batch_status, actor, batch.agency, batch.root, Status.REVOKED, "FORGED")
    reg.set_certificate_status(issuing.agency_keys["GD-PSB"], "GD-PSB", h, Status.SUSPENDED, "HOLDER_REQUEST")
    assert reg.certificate_status("GD-PSB", h)[0] is Status.SUSPENDED


def test_unknown_agency_cannot_be_managed(issuing: Consortium) -> None:
    assert not can_manage(issuing, "GD-NONE", issuing.admins[GD])
    expect(
        "NotAuthorized",
        issuing.registry.set_certificate_status,
        issuing.admins[GD],
        "GD-NONE",
        b"\x03" * 32,
        Status.REVOKED,
        "X",
    )
