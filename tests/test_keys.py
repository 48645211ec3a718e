"""Agency signing keys over time: activation, retirement, rotation, compromise reports, the
``keyStateAt`` view, and what each means for anchoring and for the on-chain ``verify`` view.

The key life-cycle rule: a batch anchored BEFORE a key's compromise time stays VALID; a batch
anchored AT or AFTER it is INVALID (reason KeyCompromised). Retirement only stops new anchors.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import REGIONS, Consortium, advance, chain_now, expect, same
from web3.logs import DISCARD

from ledger.contracts import KeyState, Reason, Role, Status, Verdict
from ledger.ids import agency_id
from ledger.merkle import build_tree
from ledger.registry import AnchoredBatch

GD, ZJ, BJ = REGIONS
ZERO = "0x" + "00" * 20


# ---------------------------------------------------------------------- helpers


def agency_events(c: Consortium, name: str, sent) -> list[dict[str, Any]]:
    logs = getattr(c.registry.agencies.events, name)().process_receipt(sent.receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


def anchor(
    c: Consortium, key: LocalAccount, agency: str = "GD-PSB", cert_type: str = "ID_CARD", n: int = 2
) -> AnchoredBatch:
    return c.registry.anchor_batch(c.deployer, key, agency, cert_type, [Account.create().key for _ in range(n)])


def anchored_at(c: Consortium, batch: AnchoredBatch, agency: str = "GD-PSB") -> int:
    return c.registry.batch(agency, batch.root).anchored_at


def verdicts(
    c: Consortium, batch: AnchoredBatch, verifier: int = 0, agency: str = "GD-PSB"
) -> set[tuple[Verdict, Reason]]:
    tree = build_tree(batch.cert_hashes)
    return {c.registry.verify_onchain(agency, h, batch.root, tree.proof(h), verifier) for h in batch.cert_hashes}


VALID = {(Verdict.OK, Reason.NONE)}
COMPROMISED = {(Verdict.INVALID, Reason.KEY_COMPROMISED)}


def new_key(c: Consortium, agency: str = "GD-PSB", region: int = GD, active_from: int = 0) -> LocalAccount:
    key = Account.create()
    c.registry.add_key(c.admins[region], agency, key.address, active_from)
    return key


def state(c: Consortium, key: LocalAccount | str, at: int) -> KeyState:
    return c.registry.key_state_at(key if isinstance(key, str) else key.address, at)


# ---------------------------------------------------------------------- adding keys


def test_added_key_is_active_at_once_and_recorded(issuing: Consortium) -> None:
    reg = issuing.registry
    key = Account.create()
    sent = reg.add_key(issuing.admins[GD], "GD-PSB", key.address)
    added = agency_events(issuing, "KeyAdded", sent)
    block_time = int(issuing.chain.w3.eth.get_block(sent.block_number)["timestamp"])
    assert len(added) == 1
    assert added[0]["agency"] == agency_id("GD-PSB") and same(added[0]["key"], key)
    assert added[0]["activeFrom"] == block_time
    info = reg.key(key.address)
    assert info.agency == "GD-PSB" and info.active_from == block_time
    assert info.retired_at == 0 and info.compromised_since == 0
    assert info.state is KeyState.ACTIVE
    assert key.address in [k.address for k in reg.agency("GD-PSB").keys]
    assert verdicts(issuing, anchor(issuing, key)) == VALID


def test_key_with_future_activation_cannot_anchor_before_it(issuing: Consortium) -> None:
    reg = issuing.registry
    start = chain_now(issuing.chain) + 1000
    key = new_key(issuing, active_from=start)
    assert reg.key(key.address).active_from == start
    assert reg.key(key.address).state is KeyState.NOT_YET_ACTIVE

    args = expect("KeyNotYetActive", anchor, issuing, key)
    assert same(args["key"], key) and args["activeFrom"] == start

    advance(issuing.chain, 1000)
    assert chain_now(issuing.chain) >= start
    assert reg.key(key.address).state is KeyState.ACTIVE
    batch = anchor(issuing, key)
    assert anchored_at(issuing, batch) >= start
    assert verdicts(issuing, batch) == VALID


def test_not_yet_active_key_cannot_change_statuses(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, issuing.agency_keys["GD-PSB"])
    later = new_key(issuing, active_from=chain_now(issuing.chain) + 1000)
    expect(
        "NotAuthorized",
        reg.set_certificate_status,
        later,
        "GD-PSB",
        batch.cert_hashes[0],
        Status.REVOKED,
        "FORGED",
    )


def test_duplicate_key_is_rejected_in_same_or_other_agency(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    args = expect("KeyAlreadyRegistered", reg.add_key, issuing.admins[GD], "GD-PSB", key.address)
    assert same(args["key"], key)
    expect("KeyAlreadyRegistered", reg.add_key, issuing.admins[GD], "GD-AMR", key.address)
    expect("KeyAlreadyRegistered", reg.add_key, issuing.admins[ZJ], "ZJ-EDU", key.address)
    assert reg.key(key.address).agency == "GD-PSB"


def test_add_key_only_by_admin_of_agency_region(issuing: Consortium) -> None:
    reg = issuing.registry
    for caller in (issuing.admins[ZJ], issuing.agency_keys["GD-PSB"], Account.create()):
        args = expect("NotAdminOfRegion", reg.add_key, caller, "GD-PSB", Account.create().address)
        assert same(args["account"], caller) and args["region"] == GD


def test_add_key_to_unknown_agency_or_zero_address_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    assert expect("UnknownAgency", reg.add_key, issuing.admins[GD], "GD-NONE", Account.create().address) == {
        "agency": "GD-NONE"
    }
    expect("ZeroAddress", reg.add_key, issuing.admins[GD], "GD-PSB", ZERO)


# ---------------------------------------------------------------------- signatures


def test_signature_by_unregistered_key_is_rejected(issuing: Consortium) -> None:
    stranger = Account.create()
    args = expect("UnknownKey", anchor, issuing, stranger)
    assert same(args["key"], stranger)


def test_signature_by_another_agencys_key_is_rejected(issuing: Consortium) -> None:
    for other in ("GD-AMR", "ZJ-EDU"):
        key = issuing.agency_keys[other]
        args = expect("KeyNotOfAgency", anchor, issuing, key, "GD-PSB", "ID_CARD")
        assert same(args["key"], key) and args["agency"] == "GD-PSB"


# ---------------------------------------------------------------------- retiring


def test_retire_key_now_stops_anchoring_and_keeps_earlier_batches_valid(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    before = anchor(issuing, key)
    sent = reg.retire_key(issuing.admins[GD], key.address)
    block_time = int(issuing.chain.w3.eth.get_block(sent.block_number)["timestamp"])
    retired = agency_events(issuing, "KeyRetired", sent)
    assert len(retired) == 1 and same(retired[0]["key"], key) and retired[0]["retiredAt"] == block_time
    assert reg.key(key.address).retired_at == block_time
    assert reg.key(key.address).state is KeyState.RETIRED

    args = expect("KeyRetired", anchor, issuing, key)  # in the same second as the retirement
    assert same(args["key"], key) and args["retiredAt"] == block_time
    advance(issuing.chain, 3600)
    expect("KeyRetired", anchor, issuing, key)
    assert verdicts(issuing, before) == VALID
    assert verdicts(issuing, before, GD) == VALID
    # a retired key can no longer change statuses either
    expect("NotAuthorized", reg.set_certificate_status, key, "GD-PSB", before.cert_hashes[0], Status.REVOKED, "X")


def test_scheduled_retirement_allows_anchoring_until_then(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    at = chain_now(issuing.chain) + 1000
    sent = reg.retire_key(issuing.admins[GD], key.address, at)
    assert agency_events(issuing, "KeyRetired", sent)[0]["retiredAt"] == at
    assert reg.key(key.address).state is KeyState.ACTIVE
    before = anchor(issuing, key)
    assert anchored_at(issuing, before) < at

    advance(issuing.chain, 1000)
    args = expect("KeyRetired", anchor, issuing, key)
    assert args["retiredAt"] == at
    assert reg.key(key.address).state is KeyState.RETIRED
    assert verdicts(issuing, before) == VALID


def test_double_retire_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    at = chain_now(issuing.chain) + 1000
    reg.retire_key(issuing.admins[GD], key.address, at)
    args = expect("KeyAlreadyRetired", reg.retire_key, issuing.admins[GD], key.address, at + 10)
    assert same(args["key"], key) and args["retiredAt"] == at

    other = issuing.agency_keys["GD-AMR"]
    reg.retire_key(issuing.admins[GD], other.address)
    retired_at = reg.key(other.address).retired_at
    assert expect("KeyAlreadyRetired", reg.retire_key, issuing.admins[GD], other.address)["retiredAt"] == retired_at


def test_retire_key_only_by_admin_of_key_region(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    for caller in (issuing.admins[ZJ], key, issuing.agency_keys["GD-AMR"], Account.create()):
        args = expect("NotAdminOfRegion", reg.retire_key, caller, key.address)
        assert same(args["account"], caller) and args["region"] == GD
    assert reg.key(key.address).retired_at == 0


def test_retire_unknown_key_is_rejected(issuing: Consortium) -> None:
    stranger = Account.create()
    assert same(
        expect("UnknownKey", issuing.registry.retire_key, issuing.admins[GD], stranger.address)["key"],
        stranger,
    )


# ---------------------------------------------------------------------- rotating


def test_rotate_key_new_key_works_at_once_old_key_is_retired(issuing: Consortium) -> None:
    reg = issuing.registry
    old = issuing.agency_keys["GD-PSB"]
    before = anchor(issuing, old)
    new = Account.create()
    sent = reg.rotate_key(issuing.admins[GD], old.address, new.address)
    block_time = int(issuing.chain.w3.eth.get_block(sent.block_number)["timestamp"])
    added = agency_events(issuing, "KeyAdded", sent)
    retired = agency_events(issuing, "KeyRetired", sent)
    assert len(added) == 1 and same(added[0]["key"], new) and added[0]["activeFrom"] == block_time
    assert added[0]["agency"] == agency_id("GD-PSB")
    assert len(retired) == 1 and same(retired[0]["key"], old) and retired[0]["retiredAt"] == block_time
    assert reg.key(new.address).agency == "GD-PSB"

    after = anchor(issuing, new)  # same second as the rotation
    assert verdicts(issuing, after) == VALID
    args = expect("KeyRetired", anchor, issuing, old)
    assert same(args["key"], old) and args["retiredAt"] == block_time
    assert verdicts(issuing, before) == VALID
    # the new key manages statuses, the old one no longer
    reg.set_certificate_status(new, "GD-PSB", before.cert_hashes[0], Status.SUSPENDED, "HOLDER_REQUEST")
    expect(
        "NotAuthorized",
        reg.set_certificate_status,
        old,
        "GD-PSB",
        before.cert_hashes[1],
        Status.SUSPENDED,
        "X",
    )


def test_rotate_to_registered_key_is_rejected_and_changes_nothing(issuing: Consortium) -> None:
    reg = issuing.registry
    old, taken = issuing.agency_keys["GD-PSB"], issuing.agency_keys["GD-AMR"]
    args = expect("KeyAlreadyRegistered", reg.rotate_key, issuing.admins[GD], old.address, taken.address)
    assert same(args["key"], taken)
    assert reg.key(old.address).state is KeyState.ACTIVE
    assert verdicts(issuing, anchor(issuing, old)) == VALID


def test_rotate_retired_key_is_rejected_and_adds_no_key(issuing: Consortium) -> None:
    reg = issuing.registry
    old = issuing.agency_keys["GD-PSB"]
    reg.retire_key(issuing.admins[GD], old.address)
    new = Account.create()
    expect("KeyAlreadyRetired", reg.rotate_key, issuing.admins[GD], old.address, new.address)
    assert reg.key(new.address).state is KeyState.UNKNOWN
    expect("UnknownKey", anchor, issuing, new)


def test_rotate_key_only_by_admin_of_key_region(issuing: Consortium) -> None:
    reg = issuing.registry
    old = issuing.agency_keys["GD-PSB"]
    for caller in (issuing.admins[ZJ], old, Account.create()):
        args = expect("NotAdminOfRegion", reg.rotate_key, caller, old.address, Account.create().address)
        assert same(args["account"], caller) and args["region"] == GD
    expect("UnknownKey", reg.rotate_key, issuing.admins[GD], Account.create().address, Account.create().address)


# ---------------------------------------------------------------------- compromise


@pytest.mark.parametrize("reporter", ["region_admin", "key_itself"])
def test_compromise_can_be_reported_by_region_admin_or_key_itself(issuing: Consortium, reporter: str) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    if reporter == "region_admin":
        since = chain_now(issuing.chain) - 5
        sent = reg.report_compromised(issuing.admins[GD], key.address, since)
        actor, role = issuing.admins[GD], Role.REGION_ADMIN
    else:
        sent = reg.report_own_compromise(key)
        since = int(issuing.chain.w3.eth.get_block(sent.block_number)["timestamp"])  # "from now on"
        actor, role = key, Role.AGENCY_KEY
    reported = agency_events(issuing, "KeyCompromised", sent)
    assert len(reported) == 1
    assert (
        reported[0]["agency"] == agency_id("GD-PSB")
        and same(reported[0]["key"], key)
        and reported[0]["since"] == since
        and same(reported[0]["reporter"], actor)
        and reported[0]["role"] == role
    )
    assert reg.key(key.address).compromised_since == since
    assert reg.key(key.address).state is KeyState.COMPROMISED


def test_a_key_cannot_backdate_its_own_compromise_report(issuing: Consortium) -> None:
    """The attack: one leaked archived key reports itself compromised "since 0" and voids
    everything it ever signed. A key may only report "from now on"; backdating is for the
    region admin."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    old = anchor(issuing, key, n=3)
    advance(issuing.chain, 3600)
    reg.retire_key(issuing.admins[GD], key.address)  # archived
    advance(issuing.chain, 3600)
    for since in (0, anchored_at(issuing, old), chain_now(issuing.chain)):
        args = expect("NotAdminOfRegion", reg.report_compromised, key, key.address, since)
        assert same(args["account"], key)
    assert reg.key(key.address).compromised_since == 0
    reg.report_own_compromise(key)  # allowed, and harmless to what it signed before
    assert reg.key(key.address).compromised_since > anchored_at(issuing, old)
    assert verdicts(issuing, old) == VALID
    args = expect("KeyAlreadyCompromised", reg.report_own_compromise, key)  # no second report
    assert same(args["key"], key)


def test_unregistered_account_cannot_report_itself(issuing: Consortium) -> None:
    stranger = Account.create()
    args = expect("UnknownKey", issuing.registry.report_own_compromise, stranger)
    assert same(args["key"], stranger)


def test_compromise_report_by_others_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    since = chain_now(issuing.chain)
    for caller in (Account.create(), issuing.admins[ZJ], issuing.agency_keys["GD-AMR"], issuing.deployer):
        args = expect("NotAdminOfRegion", reg.report_compromised, caller, key.address, since)
        assert same(args["account"], caller) and args["region"] == GD
    assert reg.key(key.address).compromised_since == 0


def test_compromise_report_of_unknown_key_is_rejected(issuing: Consortium) -> None:
    stranger = Account.create()
    now = chain_now(issuing.chain)
    for actor in (issuing.admins[GD], stranger):
        args = expect("UnknownKey", issuing.registry.report_compromised, actor, stranger.address, now)
        assert same(args["key"], stranger)


def test_compromise_in_the_future_is_rejected(issuing: Consortium) -> None:
    key = issuing.agency_keys["GD-PSB"]
    since = chain_now(issuing.chain) + 3600
    assert expect(
        "CompromiseInFuture", issuing.registry.report_compromised, issuing.admins[GD], key.address, since
    ) == {"since": since}
    assert issuing.registry.key(key.address).state is KeyState.ACTIVE


def test_second_compromise_report_may_only_move_time_earlier(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    advance(issuing.chain, 1000)
    first = chain_now(issuing.chain) - 100
    reg.report_compromised(issuing.admins[GD], key.address, first)
    for later in (first + 50, first):  # later or equal: rejected
        args = expect("KeyAlreadyCompromised", reg.report_compromised, issuing.admins[GD], key.address, later)
        assert same(args["key"], key) and args["since"] == first
    sent = reg.report_compromised(issuing.admins[GD], key.address, first - 300)  # earlier: accepted
    assert agency_events(issuing, "KeyCompromised", sent)[0]["since"] == first - 300
    assert reg.key(key.address).compromised_since == first - 300


@pytest.mark.parametrize("where", ["between", "at_second_batch"])
def test_batches_before_compromise_stay_valid_at_or_after_are_invalid(issuing: Consortium, where: str) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    first = anchor(issuing, key, n=3)
    advance(issuing.chain, 100)
    second = anchor(issuing, key, n=3)
    t1, t2 = anchored_at(issuing, first), anchored_at(issuing, second)
    assert t2 >= t1 + 100
    assert verdicts(issuing, first) == verdicts(issuing, second) == VALID

    since = t1 + 50 if where == "between" else t2
    reg.report_compromised(issuing.admins[GD], key.address, since)

    assert verdicts(issuing, first) == VALID
    assert verdicts(issuing, first, GD) == VALID
    assert verdicts(issuing, second) == COMPROMISED
    # INVALID whatever the verifier region (even one with no recognition rule)
    assert verdicts(issuing, second, GD) == COMPROMISED
    assert verdicts(issuing, second, ZJ) == COMPROMISED


def test_compromise_from_exactly_the_first_batch_invalidates_both(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    first = anchor(issuing, key)
    advance(issuing.chain, 100)
    second = anchor(issuing, key)
    reg.report_compromised(issuing.admins[GD], key.address, anchored_at(issuing, first))
    assert verdicts(issuing, first) == verdicts(issuing, second) == COMPROMISED


def test_moving_compromise_earlier_invalidates_more_batches(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    first = anchor(issuing, key)
    advance(issuing.chain, 100)
    second = anchor(issuing, key)
    t1, t2 = anchored_at(issuing, first), anchored_at(issuing, second)
    reg.report_compromised(issuing.admins[GD], key.address, t2)
    assert verdicts(issuing, first) == VALID
    reg.report_compromised(issuing.admins[GD], key.address, t1)
    assert verdicts(issuing, first) == COMPROMISED
    assert verdicts(issuing, second) == COMPROMISED


def test_compromised_key_cannot_anchor_or_change_statuses(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    batch = anchor(issuing, key)
    advance(issuing.chain, 10)
    since = chain_now(issuing.chain)
    reg.report_compromised(issuing.admins[GD], key.address, since)
    args = expect("KeyCompromised", anchor, issuing, key)
    assert same(args["key"], key) and args["since"] == since
    expect("NotAuthorized", reg.set_certificate_status, key, "GD-PSB", batch.cert_hashes[0], Status.REVOKED, "X")
    # the agency carries on with a new key
    assert verdicts(issuing, anchor(issuing, new_key(issuing))) == VALID


def test_compromise_of_a_retired_key_invalidates_its_late_batches(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    first = anchor(issuing, key)
    advance(issuing.chain, 100)
    second = anchor(issuing, key)
    reg.retire_key(issuing.admins[GD], key.address)
    reg.report_compromised(issuing.admins[GD], key.address, anchored_at(issuing, first) + 50)
    assert verdicts(issuing, first) == VALID
    assert verdicts(issuing, second) == COMPROMISED
    expect("KeyCompromised", anchor, issuing, key)  # compromise is checked before retirement


def test_compromise_since_zero_does_not_leave_key_trusted(issuing: Consortium) -> None:
    """``since = 0`` means "compromised from the start": every anchor of the key is invalid."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    batch = anchor(issuing, key)
    sent = reg.report_compromised(issuing.admins[GD], key.address, 0)
    assert agency_events(issuing, "KeyCompromised", sent)[0]["since"] == 1
    assert reg.key(key.address).state is KeyState.COMPROMISED
    assert verdicts(issuing, batch) == COMPROMISED
    expect("KeyCompromised", anchor, issuing, key)


def test_compromised_key_cannot_clear_its_compromise_with_since_zero(issuing: Consortium) -> None:
    """A second report may only move the time earlier; 0 must not reset it to "never"."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    anchor(issuing, key)
    advance(issuing.chain, 100)
    second = anchor(issuing, key)
    since = anchored_at(issuing, second)
    reg.report_compromised(issuing.admins[GD], key.address, since)
    assert verdicts(issuing, second) == COMPROMISED

    # whoever stole the key tries to whitewash it: the key can neither backdate nor clear
    expect("NotAdminOfRegion", reg.report_compromised, key, key.address, 0)
    expect("KeyAlreadyCompromised", reg.report_own_compromise, key)
    # the region admin's 0 = "since ever" moves the time earlier; it never clears it
    reg.report_compromised(issuing.admins[GD], key.address, 0)
    assert verdicts(issuing, second) == COMPROMISED
    assert reg.key(key.address).state is KeyState.COMPROMISED
    assert reg.key(key.address).compromised_since != 0
    expect("KeyCompromised", anchor, issuing, key)


# ---------------------------------------------------------------------- keyStateAt


def test_key_state_at_over_a_keys_life(issuing: Consortium) -> None:
    reg = issuing.registry
    n = chain_now(issuing.chain)
    key = new_key(issuing, active_from=n + 100)
    reg.retire_key(issuing.admins[GD], key.address, n + 200)
    expected = {
        0: KeyState.NOT_YET_ACTIVE,
        n: KeyState.NOT_YET_ACTIVE,
        n + 99: KeyState.NOT_YET_ACTIVE,
        n + 100: KeyState.ACTIVE,
        n + 199: KeyState.ACTIVE,
        n + 200: KeyState.RETIRED,
        n + 10**6: KeyState.RETIRED,
    }
    assert {at: state(issuing, key, at) for at in expected} == expected

    advance(issuing.chain, 300)
    reg.report_compromised(issuing.admins[GD], key.address, n + 150)
    expected = {
        n + 99: KeyState.NOT_YET_ACTIVE,
        n + 149: KeyState.ACTIVE,
        n + 150: KeyState.COMPROMISED,
        n + 250: KeyState.COMPROMISED,  # compromise wins over retirement
    }
    assert {at: state(issuing, key, at) for at in expected} == expected

    # compromise since before activation wins over "not yet active"
    reg.report_compromised(issuing.admins[GD], key.address, n + 50)
    assert state(issuing, key, n + 49) is KeyState.NOT_YET_ACTIVE
    assert state(issuing, key, n + 60) is KeyState.COMPROMISED


def test_key_state_of_unknown_key_is_unknown(issuing: Consortium) -> None:
    n = chain_now(issuing.chain)
    for at in (0, n, n + 10**6):
        assert state(issuing, Account.create(), at) is KeyState.UNKNOWN
    assert issuing.registry.key(Account.create().address).state is KeyState.UNKNOWN


def test_key_state_of_an_open_ended_key(issuing: Consortium) -> None:
    key = issuing.agency_keys["GD-PSB"]
    active_from = issuing.registry.key(key.address).active_from
    assert state(issuing, key, active_from - 1) is KeyState.NOT_YET_ACTIVE
    assert state(issuing, key, active_from) is KeyState.ACTIVE
    assert state(issuing, key, 2**64 - 1) is KeyState.ACTIVE


def test_retirement_cannot_be_backdated(issuing: Consortium) -> None:
    """Backdating would contradict anchors the contract already accepted from the key."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    batch = anchor(issuing, key)
    past = anchored_at(issuing, batch) - 10
    args = expect("RetirementInPast", reg.retire_key, issuing.admins[GD], key.address, past)
    assert same(args["key"], key) and args["at"] == past
    assert reg.key(key.address).retired_at == 0
    assert state(issuing, key, anchored_at(issuing, batch)) is KeyState.ACTIVE


def test_scheduled_retirement_can_be_brought_forward_not_postponed(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    now = chain_now(issuing.chain)
    reg.retire_key(issuing.admins[GD], key.address, now + 1000)
    expect("KeyAlreadyRetired", reg.retire_key, issuing.admins[GD], key.address, now + 2000)
    reg.retire_key(issuing.admins[GD], key.address, now + 500)
    assert reg.key(key.address).retired_at == now + 500
    # rotating a key whose retirement is scheduled retires it now
    new = Account.create()
    reg.rotate_key(issuing.admins[GD], key.address, new.address)
    assert reg.key(key.address).state is KeyState.RETIRED
    expect("KeyRetired", anchor, issuing, key)
    anchor(issuing, new)


def test_key_is_never_active_before_it_was_registered(issuing: Consortium) -> None:
    reg = issuing.registry
    key = Account.create()
    sent = reg.add_key(issuing.admins[GD], "GD-PSB", key.address, 1)  # asks for 1970
    registered = agency_events(issuing, "KeyAdded", sent)[0]["activeFrom"]
    assert registered == reg.key(key.address).active_from
    assert registered >= chain_now(issuing.chain) - 1
    assert state(issuing, key, registered - 1) is KeyState.NOT_YET_ACTIVE


# ---------------------------------------------------------------------- correcting a report


def _correct(c: Consortium, key: LocalAccount, since: int):
    """The consortium corrects a key's compromise report: proposed by 440000, approved by 330000."""
    proposed = c.registry.propose_key_correction(c.admins[GD], key.address, since)
    assert not proposed.executed  # one region alone is not the quorum
    return c.registry.approve(c.admins[ZJ], proposed.id)


def test_consortium_corrects_a_bad_faith_compromise_report(issuing: Consortium) -> None:
    """A report made by mistake or in bad faith ("since ever") voids everything the key signed;
    the consortium (M-of-N) corrects it, with an event, and the history is kept."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    first = anchor(issuing, key)
    advance(issuing.chain, 100)
    second = anchor(issuing, key)
    reg.report_compromised(issuing.admins[GD], key.address, 0)
    assert verdicts(issuing, first) == verdicts(issuing, second) == COMPROMISED

    t2 = anchored_at(issuing, second)
    approved = _correct(issuing, key, t2)  # really compromised only from the second batch on
    assert approved.executed
    corrected = agency_events(issuing, "KeyCompromiseCorrected", approved.tx)
    assert len(corrected) == 1 and same(corrected[0]["key"], key)
    assert (corrected[0]["previousSince"], corrected[0]["since"]) == (1, t2)
    assert verdicts(issuing, first) == VALID
    assert verdicts(issuing, second) == COMPROMISED

    approved = _correct(issuing, key, 0)  # never compromised after all
    assert approved.executed and reg.key(key.address).compromised_since == 0
    assert verdicts(issuing, first) == verdicts(issuing, second) == VALID
    # the whole story stays in the events
    history = [e["args"]["since"] for e in reg._logs(reg.agencies.events.KeyCompromised())]
    assert history == [1]
    assert [dict(e["args"])["since"] for e in reg._logs(reg.agencies.events.KeyCompromiseCorrected())] == [t2, 0]


def test_only_the_consortium_can_correct_a_compromise_report(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    reg.report_compromised(issuing.admins[GD], key.address, 0)
    fn = reg.agencies.functions.correctKeyCompromise(key.address, 0)
    for caller in (issuing.admins[GD], key, issuing.deployer, Account.create()):
        args = expect("NotConsortium", issuing.chain.transact, caller, fn)
        assert same(args["caller"], caller)
    # a proposal that has not reached the quorum changes nothing
    proposed = reg.propose_key_correction(issuing.admins[GD], key.address, 0)
    assert not proposed.executed
    assert reg.key(key.address).state is KeyState.COMPROMISED


def test_correction_must_change_something_and_not_lie_in_the_future(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    proposed = reg.propose_key_correction(issuing.admins[GD], key.address, 0)  # it was never reported
    args = expect("CompromiseUnchanged", reg.approve, issuing.admins[ZJ], proposed.id)
    assert same(args["key"], key)
    future = chain_now(issuing.chain) + 3600
    proposed = reg.propose_key_correction(issuing.admins[GD], key.address, future)
    expect("CompromiseInFuture", reg.approve, issuing.admins[ZJ], proposed.id)
