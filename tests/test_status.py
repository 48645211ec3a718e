"""Certificate and batch statuses: transitions, who may change them, events, isolation between
agencies, and how the verify view reports them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import Consortium, advance, chain_now, expect

from ledger.contracts import Reason, Role, Status, Verdict
from ledger.errors import LedgerError
from ledger.ids import agency_id, reason_code
from ledger.merkle import BatchTree, build_tree

ACTIVE, SUSPENDED, REVOKED = Status.ACTIVE, Status.SUSPENDED, Status.REVOKED


@dataclass
class Anchored:
    issuing: Consortium
    agency: str
    tree: BatchTree

    @property
    def reg(self):
        return self.issuing.registry

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def hashes(self) -> list[bytes]:
        return self.tree.cert_hashes

    def verify(self, cert_hash: bytes, region: int = 0) -> tuple[Verdict, Reason]:
        return self.reg.verify_onchain(self.agency, cert_hash, self.root, self.tree.proof(cert_hash), region)

    def set_cert(self, actor: LocalAccount, cert_hash: bytes, status: Status, reason: str = "HOLDER_REQUEST"):
        return self.reg.set_certificate_status(actor, self.agency, cert_hash, status, reason)

    def set_batch(self, actor: LocalAccount, status: Status, reason: str = "ISSUER_ERROR"):
        return self.reg.set_batch_status(actor, self.agency, self.root, status, reason)


def _anchor(issuing: Consortium, agency: str, cert_type: str, hashes: list[bytes]) -> Anchored:
    issuing.registry.anchor_batch(issuing.deployer, issuing.agency_keys[agency], agency, cert_type, hashes)
    return Anchored(issuing, agency, build_tree(hashes))


@pytest.fixture
def psb(issuing, random_hashes) -> Anchored:
    """A batch of 4 ID_CARD certificates anchored by GD-PSB (region 440000)."""
    return _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(4))


def _block_time(chain, receipt) -> int:
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


# ---------------------------------------------------------------------- certificate transitions


def test_new_certificate_is_active_and_valid(psb):
    for h in psb.hashes:
        assert psb.reg.certificate_status("GD-PSB", h)[0] is ACTIVE
        assert psb.verify(h) == (Verdict.OK, Reason.NONE)
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is ACTIVE


def test_suspend_reinstate_then_revoke_a_certificate(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    h, other = psb.hashes[0], psb.hashes[1]

    psb.set_cert(key, h, SUSPENDED)
    assert psb.reg.certificate_status("GD-PSB", h)[0] is SUSPENDED
    assert psb.verify(h) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    assert psb.verify(other) == (Verdict.OK, Reason.NONE)  # only that certificate

    psb.set_cert(key, h, ACTIVE)
    assert psb.reg.certificate_status("GD-PSB", h)[0] is ACTIVE
    assert psb.verify(h) == (Verdict.OK, Reason.NONE)

    psb.set_cert(key, h, REVOKED)
    assert psb.reg.certificate_status("GD-PSB", h)[0] is REVOKED
    assert psb.verify(h) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    assert psb.verify(other) == (Verdict.OK, Reason.NONE)


def test_revoke_directly_from_active_and_from_suspended(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    a, b = psb.hashes[:2]
    psb.set_cert(key, a, REVOKED)
    psb.set_cert(key, b, SUSPENDED)
    psb.set_cert(key, b, REVOKED)
    assert psb.reg.certificate_status("GD-PSB", a)[0] is REVOKED
    assert psb.reg.certificate_status("GD-PSB", b)[0] is REVOKED


@pytest.mark.parametrize("next_status", [ACTIVE, SUSPENDED, REVOKED])
def test_revoked_certificate_is_final(psb, next_status):
    key = psb.issuing.agency_keys["GD-PSB"]
    admin = psb.issuing.admins[440000]
    h = psb.hashes[0]
    psb.set_cert(key, h, REVOKED)
    for actor in (key, admin):  # not even the region admin can undo it
        err = expect("AlreadyRevoked", psb.set_cert, actor, h, next_status)
        assert err["subject"] == "0x" + h.hex()
    assert psb.reg.certificate_status("GD-PSB", h)[0] is REVOKED


def test_reinstating_an_active_certificate_is_an_invalid_transition(psb):
    h = psb.hashes[0]
    err = expect("InvalidStatusTransition", psb.set_cert, psb.issuing.agency_keys["GD-PSB"], h, ACTIVE)
    assert err == {"subject": "0x" + h.hex(), "from": int(ACTIVE), "to": int(ACTIVE)}


def test_suspending_a_suspended_certificate_is_an_invalid_transition(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    h = psb.hashes[0]
    psb.set_cert(key, h, SUSPENDED)
    err = expect("InvalidStatusTransition", psb.set_cert, key, h, SUSPENDED)
    assert err == {"subject": "0x" + h.hex(), "from": int(SUSPENDED), "to": int(SUSPENDED)}


def test_status_out_of_enum_range_is_rejected(psb):
    reg = psb.reg
    fn = reg.certificates.functions.setCertificateStatus(agency_id("GD-PSB"), psb.hashes[0], 3, reason_code("X"))
    with pytest.raises(LedgerError) as info:  # the ABI decoder reverts without data
        reg.chain.transact(psb.issuing.agency_keys["GD-PSB"], fn)
    assert info.value.code == "CONTRACT_REVERTED"
    assert reg.certificate_status("GD-PSB", psb.hashes[0])[0] is ACTIVE


# ---------------------------------------------------------------------- batch transitions


def test_suspend_reinstate_then_revoke_a_batch(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    psb.set_batch(key, SUSPENDED)
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is SUSPENDED
    assert all(psb.verify(h) == (Verdict.SUSPENDED, Reason.BATCH_SUSPENDED) for h in psb.hashes)
    # the certificates' own statuses are untouched
    assert all(psb.reg.certificate_status("GD-PSB", h)[0] is ACTIVE for h in psb.hashes)

    psb.set_batch(key, ACTIVE)
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is ACTIVE
    assert all(psb.verify(h) == (Verdict.OK, Reason.NONE) for h in psb.hashes)

    psb.set_batch(key, REVOKED)
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is REVOKED
    assert all(psb.verify(h) == (Verdict.REVOKED, Reason.BATCH_REVOKED) for h in psb.hashes)


def test_batch_status_does_not_touch_other_batches_of_the_agency(psb, random_hashes):
    other = _anchor(psb.issuing, "GD-PSB", "ID_CARD", random_hashes(3))
    psb.set_batch(psb.issuing.agency_keys["GD-PSB"], REVOKED)
    assert all(other.verify(h) == (Verdict.OK, Reason.NONE) for h in other.hashes)
    assert psb.reg.batch_status("GD-PSB", other.root)[0] is ACTIVE


@pytest.mark.parametrize("next_status", [ACTIVE, SUSPENDED, REVOKED])
def test_revoked_batch_is_final(psb, next_status):
    psb.set_batch(psb.issuing.admins[440000], REVOKED)
    err = expect("AlreadyRevoked", psb.set_batch, psb.issuing.admins[440000], next_status)
    assert err["subject"] == "0x" + psb.root.hex()


def test_invalid_batch_transitions_are_rejected(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    err = expect("InvalidStatusTransition", psb.set_batch, key, ACTIVE)
    assert (err["from"], err["to"]) == (int(ACTIVE), int(ACTIVE))
    psb.set_batch(key, SUSPENDED)
    err = expect("InvalidStatusTransition", psb.set_batch, key, SUSPENDED)
    assert (err["from"], err["to"]) == (int(SUSPENDED), int(SUSPENDED))


def test_status_of_unknown_batch_is_rejected(issuing, random_hashes):
    root = random_hashes(1)[0]
    for actor in (issuing.agency_keys["GD-PSB"], issuing.admins[440000]):
        err = expect(
            "UnknownBatch", issuing.registry.set_batch_status, actor, "GD-PSB", root, SUSPENDED, "ISSUER_ERROR"
        )
        assert err["root"] == "0x" + root.hex() and err["agency"] == "GD-PSB"


# ---------------------------------------------------------------------- who may act


def test_region_admin_of_the_agency_may_change_certificate_and_batch_status(psb):
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], SUSPENDED)
    psb.set_cert(admin, psb.hashes[0], ACTIVE)
    psb.set_cert(admin, psb.hashes[1], REVOKED)
    psb.set_batch(admin, SUSPENDED)
    assert psb.reg.certificate_status("GD-PSB", psb.hashes[1])[0] is REVOKED
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is SUSPENDED


def test_added_region_admin_may_change_status(psb):
    second = Account.create()
    psb.reg.add_region_admin(psb.issuing.admins[440000], 440000, second.address)
    psb.set_cert(second, psb.hashes[0], SUSPENDED)
    psb.set_batch(second, SUSPENDED)


def test_any_active_key_of_the_agency_may_change_status(psb):
    second = Account.create()
    psb.reg.add_key(psb.issuing.admins[440000], "GD-PSB", second.address)
    psb.set_cert(second, psb.hashes[0], REVOKED)  # a key that did not sign the batch
    psb.set_batch(second, SUSPENDED)


def _unauthorized(psb: Anchored, actor: LocalAccount) -> None:
    for status in (SUSPENDED, REVOKED):
        err = expect("NotAuthorized", psb.set_cert, actor, psb.hashes[0], status)
        assert err["account"].lower() == actor.address.lower()
        assert err["agency"] == "GD-PSB"
        err = expect("NotAuthorized", psb.set_batch, actor, status)
        assert err["agency"] == "GD-PSB"
    assert psb.reg.certificate_status("GD-PSB", psb.hashes[0])[0] is ACTIVE
    assert psb.reg.batch_status("GD-PSB", psb.root)[0] is ACTIVE


@pytest.mark.parametrize("who", ["other agency same region", "other agency other region"])
def test_key_of_another_agency_may_not_change_status(psb, who):
    code = "GD-AMR" if who == "other agency same region" else "ZJ-EDU"
    _unauthorized(psb, psb.issuing.agency_keys[code])


@pytest.mark.parametrize("region", [330000, 110000])
def test_admin_of_another_region_may_not_change_status(psb, region):
    _unauthorized(psb, psb.issuing.admins[region])


def test_stranger_and_submitter_may_not_change_status(psb):
    _unauthorized(psb, Account.create())
    _unauthorized(psb, psb.issuing.deployer)  # submitted the batch, holds no role


def test_retired_key_may_not_change_status(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    psb.reg.retire_key(psb.issuing.admins[440000], key.address)
    _unauthorized(psb, key)


def test_key_retired_in_the_future_may_act_until_then(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    psb.reg.retire_key(psb.issuing.admins[440000], key.address, chain_now(psb.issuing.chain) + 600)
    psb.set_cert(key, psb.hashes[1], SUSPENDED)
    advance(psb.issuing.chain, 600)
    _unauthorized(psb, key)


def test_compromised_key_may_not_change_status(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    psb.reg.report_compromised(psb.issuing.admins[440000], key.address, chain_now(psb.issuing.chain))
    _unauthorized(psb, key)


def test_key_not_yet_active_may_not_change_status(psb):
    later = Account.create()
    psb.reg.add_key(psb.issuing.admins[440000], "GD-PSB", later.address, chain_now(psb.issuing.chain) + 600)
    _unauthorized(psb, later)


def test_keys_of_a_suspended_agency_may_not_change_status_but_its_region_admin_may(psb):
    admin = psb.issuing.admins[440000]
    psb.reg.suspend_agency(admin, "GD-PSB")
    _unauthorized(psb, psb.issuing.agency_keys["GD-PSB"])
    psb.set_cert(admin, psb.hashes[0], REVOKED)
    assert psb.verify(psb.hashes[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)


# ---------------------------------------------------------------------- events


def test_certificate_status_changed_event_carries_actor_time_and_reason(psb):
    chain = psb.issuing.chain
    h = psb.hashes[2]
    for actor, status, reason in (
        (psb.issuing.agency_keys["GD-PSB"], SUSPENDED, "HOLDER_REQUEST"),
        (psb.issuing.admins[440000], ACTIVE, "CLEARED"),
        (psb.issuing.admins[440000], REVOKED, "FRAUD"),
    ):
        sent = psb.set_cert(actor, h, status, reason)
        (event,) = psb.reg.certificates.events.CertificateStatusChanged().process_receipt(sent.receipt)
        args = event["args"]
        assert bytes(args["certHash"]) == h
        assert bytes(args["agency"]) == agency_id("GD-PSB")
        assert Status(args["status"]) is status
        assert bytes(args["reason"]) == reason_code(reason)
        assert args["actor"].lower() == actor.address.lower()
        assert Role(args["role"]) is (
            Role.AGENCY_KEY if actor is psb.issuing.agency_keys["GD-PSB"] else Role.REGION_ADMIN
        )
        assert args["time"] == _block_time(chain, sent.receipt)
        advance(chain, 10)  # so that each change has its own time


def test_batch_status_changed_event_carries_actor_time_and_reason(psb):
    chain = psb.issuing.chain
    for actor, status, reason in (
        (psb.issuing.admins[440000], SUSPENDED, "AUDIT"),
        (psb.issuing.admins[440000], ACTIVE, "AUDIT_PASSED"),
        (psb.issuing.agency_keys["GD-PSB"], REVOKED, "ISSUER_ERROR"),
    ):
        sent = psb.set_batch(actor, status, reason)
        (event,) = psb.reg.certificates.events.BatchStatusChanged().process_receipt(sent.receipt)
        args = event["args"]
        assert bytes(args["root"]) == psb.root
        assert bytes(args["agency"]) == agency_id("GD-PSB")
        assert Status(args["status"]) is status
        assert bytes(args["reason"]) == reason_code(reason)
        assert args["actor"].lower() == actor.address.lower()
        assert Role(args["role"]) is (
            Role.AGENCY_KEY if actor is psb.issuing.agency_keys["GD-PSB"] else Role.REGION_ADMIN
        )
        assert args["time"] == _block_time(chain, sent.receipt)
        advance(chain, 10)


def test_status_history_is_in_the_event_log(psb):
    key = psb.issuing.agency_keys["GD-PSB"]
    h = psb.hashes[0]
    for status in (SUSPENDED, ACTIVE, SUSPENDED, REVOKED):
        psb.set_cert(key, h, status)
    logs = psb.reg.certificates.events.CertificateStatusChanged().get_logs(
        from_block=psb.reg.deployment.deployment_block, argument_filters={"certHash": h}
    )
    assert [Status(log["args"]["status"]) for log in logs] == [SUSPENDED, ACTIVE, SUSPENDED, REVOKED]


# ---------------------------------------------------------------------- isolation between agencies


def test_agency_cannot_affect_another_agencys_certificate_with_the_same_hash(issuing, random_hashes):
    shared, psb_only, amr_only = random_hashes(3)
    psb = _anchor(issuing, "GD-PSB", "ID_CARD", [shared, psb_only])
    amr = _anchor(issuing, "GD-AMR", "BUSINESS_LICENSE", [shared, amr_only])
    amr_key = issuing.agency_keys["GD-AMR"]

    # GD-AMR revokes "its" certificate with that hash: GD-PSB's stays valid
    amr.set_cert(amr_key, shared, REVOKED)
    assert issuing.registry.certificate_status("GD-AMR", shared)[0] is REVOKED
    assert issuing.registry.certificate_status("GD-PSB", shared)[0] is ACTIVE
    assert amr.verify(shared) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    assert psb.verify(shared) == (Verdict.OK, Reason.NONE)

    # and it cannot act in GD-PSB's name, nor on GD-PSB's batch
    expect("NotAuthorized", psb.set_cert, amr_key, shared, REVOKED)
    expect("NotAuthorized", psb.set_batch, amr_key, REVOKED)
    assert psb.verify(shared) == (Verdict.OK, Reason.NONE)


def test_region_admin_cannot_affect_another_regions_agency_with_the_same_hash(issuing, random_hashes):
    shared, other = random_hashes(2)
    psb = _anchor(issuing, "GD-PSB", "ID_CARD", [shared, other])
    edu = _anchor(issuing, "ZJ-EDU", "DEGREE", [shared])
    edu.set_cert(issuing.admins[330000], shared, SUSPENDED)
    assert edu.verify(shared) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    assert psb.verify(shared) == (Verdict.OK, Reason.NONE)
    expect("NotAuthorized", psb.set_cert, issuing.admins[330000], shared, SUSPENDED)


# ---------------------------------------------------------------------- verify: reasons and priority


def test_certificate_revocation_beats_batch_suspension(psb):
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], REVOKED)
    psb.set_batch(admin, SUSPENDED)
    assert psb.verify(psb.hashes[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    assert psb.verify(psb.hashes[1]) == (Verdict.SUSPENDED, Reason.BATCH_SUSPENDED)


def test_batch_revocation_beats_certificate_suspension(psb):
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], SUSPENDED)
    psb.set_batch(admin, REVOKED)
    assert psb.verify(psb.hashes[0]) == (Verdict.REVOKED, Reason.BATCH_REVOKED)
    assert psb.verify(psb.hashes[1]) == (Verdict.REVOKED, Reason.BATCH_REVOKED)


def test_certificate_revocation_is_reported_before_batch_revocation(psb):
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], REVOKED)
    psb.set_batch(admin, REVOKED)
    assert psb.verify(psb.hashes[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)


def test_certificate_suspension_is_reported_before_batch_suspension(psb):
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], SUSPENDED)
    psb.set_batch(admin, SUSPENDED)
    assert psb.verify(psb.hashes[0]) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    # lifting the batch suspension leaves the certificate's own
    psb.set_batch(admin, ACTIVE)
    assert psb.verify(psb.hashes[0]) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    assert psb.verify(psb.hashes[1]) == (Verdict.OK, Reason.NONE)


def test_status_is_reported_before_recognition(psb):
    """A revoked certificate reads REVOKED even for a region that does not recognise it."""
    psb.set_cert(psb.issuing.admins[440000], psb.hashes[0], REVOKED)
    assert psb.verify(psb.hashes[0], 330000) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    assert psb.verify(psb.hashes[1], 330000) == (Verdict.NOT_RECOGNIZED, Reason.NO_RECOGNITION_RULE)


def test_key_compromise_is_reported_before_status(psb):
    chain = psb.issuing.chain
    anchored_at = psb.reg.batch("GD-PSB", psb.root).anchored_at
    admin = psb.issuing.admins[440000]
    psb.set_cert(admin, psb.hashes[0], REVOKED)
    psb.reg.report_compromised(admin, psb.issuing.agency_keys["GD-PSB"].address, anchored_at)
    assert chain_now(chain) >= anchored_at
    assert psb.verify(psb.hashes[0]) == (Verdict.INVALID, Reason.KEY_COMPROMISED)


# ---------------------------------------------------------------------- roles: who may lift what


def test_agency_key_cannot_lift_a_suspension_its_region_admin_imposed(psb):
    """The attack: an agency key lifts the suspension its region admin imposed. Only the same
    or a stronger role may lift it; the event records the role."""
    admin, key = psb.issuing.admins[440000], psb.issuing.agency_keys["GD-PSB"]
    h = psb.hashes[0]
    sent = psb.set_cert(admin, h, SUSPENDED, "UNDER_INVESTIGATION")
    (event,) = psb.reg.certificates.events.CertificateStatusChanged().process_receipt(sent.receipt)
    assert Role(event["args"]["role"]) is Role.REGION_ADMIN
    assert psb.reg.certificate_status("GD-PSB", h) == (SUSPENDED, Role.REGION_ADMIN)
    err = expect("SuspensionHeldByStrongerRole", psb.set_cert, key, h, ACTIVE, "CLEARED")
    assert (err["heldBy"], err["actor"]) == (int(Role.REGION_ADMIN), int(Role.AGENCY_KEY))
    assert psb.verify(h) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    # nor can it "re-suspend" to take the hold over
    expect("SuspensionHeldByStrongerRole", psb.set_cert, key, h, SUSPENDED)
    # the same role lifts it
    psb.set_cert(admin, h, ACTIVE, "CLEARED")
    assert psb.verify(h) == (Verdict.OK, Reason.NONE)


def test_agency_key_cannot_lift_a_batch_suspension_its_region_admin_imposed(psb):
    admin, key = psb.issuing.admins[440000], psb.issuing.agency_keys["GD-PSB"]
    psb.set_batch(admin, SUSPENDED, "AUDIT")
    expect("SuspensionHeldByStrongerRole", psb.set_batch, key, ACTIVE, "AUDIT_PASSED")
    assert psb.reg.batch_status("GD-PSB", psb.root) == (SUSPENDED, Role.REGION_ADMIN)


def test_a_stronger_role_may_take_over_and_lift_a_keys_suspension(psb):
    admin, key = psb.issuing.admins[440000], psb.issuing.agency_keys["GD-PSB"]
    h = psb.hashes[1]
    psb.set_cert(key, h, SUSPENDED)
    psb.set_cert(admin, h, SUSPENDED, "ESCALATED")  # the admin takes the hold over
    assert psb.reg.certificate_status("GD-PSB", h) == (SUSPENDED, Role.REGION_ADMIN)
    expect("SuspensionHeldByStrongerRole", psb.set_cert, key, h, ACTIVE)
    h2 = psb.hashes[2]
    psb.set_cert(key, h2, SUSPENDED)
    psb.set_cert(admin, h2, ACTIVE)  # a stronger role may lift a weaker one's suspension
    assert psb.verify(h2) == (Verdict.OK, Reason.NONE)


def test_any_role_may_revoke_a_suspended_certificate(psb):
    """Revocation is final and never makes anything look valid: an agency may revoke its own
    certificate even while its region admin holds it suspended."""
    admin, key = psb.issuing.admins[440000], psb.issuing.agency_keys["GD-PSB"]
    psb.set_cert(admin, psb.hashes[3], SUSPENDED)
    psb.set_cert(key, psb.hashes[3], REVOKED, "FRAUD")
    assert psb.verify(psb.hashes[3]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)


# ---------------------------------------------------------------------- the consortium acts


def _consortium_status(issuing, agency, status, *, cert_hash=None, root=None, reason="CONSORTIUM_DECISION"):
    proposed = issuing.registry.propose_status(
        issuing.admins[330000], agency, status, reason, cert_hash=cert_hash, batch_root=root
    )
    assert not proposed.executed
    return issuing.registry.approve(issuing.admins[110000], proposed.id)


def test_consortium_can_change_the_status_of_a_removed_regions_certificates(issuing, random_hashes):
    """The attack: once a region is removed nobody can revoke what its agencies issued, and it
    stays VALID everywhere. The consortium (M-of-N) can change the status of any certificate or batch."""
    psb = _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(3))
    reg = issuing.registry
    removal = reg.propose_remove_region(issuing.admins[330000], 440000)
    assert reg.approve(issuing.admins[110000], removal.id).executed
    # nobody of the removed region can act any more
    for actor in (issuing.admins[440000], issuing.agency_keys["GD-PSB"]):
        expect("NotAuthorized", psb.set_cert, actor, psb.hashes[0], REVOKED)
    assert psb.verify(psb.hashes[0]) == (Verdict.OK, Reason.NONE)

    approved = _consortium_status(issuing, "GD-PSB", REVOKED, cert_hash=psb.hashes[0])
    assert approved.executed
    assert psb.verify(psb.hashes[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    logs = reg.certificates.events.CertificateStatusChanged().get_logs(
        from_block=reg.deployment.deployment_block, argument_filters={"certHash": psb.hashes[0]}
    )
    (event,) = logs
    assert Role(event["args"]["role"]) is Role.CONSORTIUM
    assert event["args"]["actor"].lower() == reg.deployment.consortium.lower()

    assert _consortium_status(issuing, "GD-PSB", SUSPENDED, root=psb.root).executed
    assert psb.verify(psb.hashes[1]) == (Verdict.SUSPENDED, Reason.BATCH_SUSPENDED)


def test_consortium_suspension_cannot_be_lifted_by_the_agency_or_its_admin(psb):
    issuing = psb.issuing
    h = psb.hashes[0]
    assert _consortium_status(issuing, "GD-PSB", SUSPENDED, cert_hash=h).executed
    for actor in (issuing.agency_keys["GD-PSB"], issuing.admins[440000]):
        err = expect("SuspensionHeldByStrongerRole", psb.set_cert, actor, h, ACTIVE)
        assert err["heldBy"] == int(Role.CONSORTIUM)
    assert _consortium_status(issuing, "GD-PSB", ACTIVE, cert_hash=h).executed
    assert psb.verify(h) == (Verdict.OK, Reason.NONE)


def test_consortium_status_functions_refuse_direct_callers(psb):
    reg = psb.reg
    fns = (
        reg.certificates.functions.setCertificateStatusByConsortium(
            agency_id("GD-PSB"), psb.hashes[0], int(REVOKED), reason_code("X")
        ),
        reg.certificates.functions.setBatchStatusByConsortium(
            agency_id("GD-PSB"), psb.root, int(REVOKED), reason_code("X")
        ),
    )
    for fn in fns:
        for caller in (psb.issuing.admins[440000], psb.issuing.agency_keys["GD-PSB"], psb.issuing.deployer):
            expect("NotConsortium", psb.issuing.chain.transact, caller, fn)
    assert psb.verify(psb.hashes[0]) == (Verdict.OK, Reason.NONE)


def test_consortium_batch_status_of_an_unknown_batch_fails_the_approval(issuing, random_hashes):
    root = random_hashes(1)[0]
    proposed = issuing.registry.propose_status(issuing.admins[330000], "GD-PSB", REVOKED, "X", batch_root=root)
    expect("UnknownBatch", issuing.registry.approve, issuing.admins[110000], proposed.id)
