"""Consortium governance: founding, M-of-N proposals, quorum changes, region removal and
re-admission, certificate types and region admins.

Every test runs against a real anvil node with its own fresh deployment. Rejections assert the
contract's custom error name (and its key arguments).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from helpers import REGIONS, SCHEMA, Consortium, advance, chain_now, expect, same
from web3.logs import DISCARD

from ledger.chain import Chain
from ledger.contracts import ProposalKind, Reason, Status, Verdict
from ledger.deployment import DEFAULT_PROPOSAL_TTL, quorum_for
from ledger.ids import type_id
from ledger.merkle import build_tree
from ledger.registry import canonical_schema

TTL = DEFAULT_PROPOSAL_TTL  # 7 days, what the fixtures deploy with
GD, ZJ, BJ = REGIONS  # 440000, 330000, 110000
JS = 320000  # Jiangsu: not a founding member
ZERO = "0x" + "00" * 20


# ---------------------------------------------------------------------- helpers


def send(c: Consortium, account: LocalAccount, fn_name: str, *args: Any):
    """A raw Consortium call, for what the Registry has no wrapper for (or validates first)."""
    return c.chain.transact(account, getattr(c.registry.consortium.functions, fn_name)(*args))


def view(c: Consortium, fn_name: str, *args: Any) -> Any:
    return c.chain.call(getattr(c.registry.consortium.functions, fn_name)(*args))


def events(c: Consortium, name: str, sent) -> list[dict[str, Any]]:
    logs = getattr(c.registry.consortium.events, name)().process_receipt(sent.receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


def approval_count(c: Consortium, pid: int) -> int:
    return int(view(c, "approvalCount", pid))


def is_member(c: Consortium, region: int) -> bool:
    return bool(view(c, "isMember", region))


def deploy_consortium(
    chain: Chain, regions: list[int], admins: list[str], rule: tuple[int, int] = (1, 2), ttl: int = TTL
):
    """Deploy a Consortium directly (bypassing ledger.deployment's own input checks)."""
    return chain.deploy(
        Account.create(), "Consortium", regions, admins, rule[0], rule[1], ttl, b"intl".ljust(32, b"\0")
    )


# With 3 members: more than 0/1 = 1 approval, more than 1/2 = 2, more than 2/3 = 3.
RULE_FOR_3 = {1: (0, 1), 2: (1, 2), 3: (2, 3)}


def propose_quorum(reg: Any, admin: LocalAccount, approvals_of_3: int):
    """Propose the rule that needs ``approvals_of_3`` approvals of 3 members."""
    return reg.propose_quorum_rule(admin, *RULE_FOR_3[approvals_of_3])


def open_type_proposal(c: Consortium, proposer: int = GD, code: str = "DEGREE") -> int:
    """An open AddType proposal with one approval (the proposer's)."""
    result = c.registry.propose_add_type(c.admins[proposer], code, SCHEMA)
    assert not result.executed
    return result.id


def set_quorum(c: Consortium, quorum: int, proposer: int = ZJ, approver: int = BJ) -> None:
    """Set the rule that needs ``quorum`` approvals while there are 3 members."""
    result = propose_quorum(c.registry, c.admins[proposer], quorum)
    if not result.executed:
        result = c.registry.approve(c.admins[approver], result.id)
    assert result.executed
    assert c.registry.quorum() == quorum


def remove_region(
    c: Consortium, region: int, proposer: int = GD, approver: int = ZJ, third: int | None = None, cutoff: int = 0
):
    result = c.registry.propose_remove_region(c.admins[proposer], region, cutoff)
    assert not result.executed
    approved = c.registry.approve(c.admins[approver], result.id)
    if third is not None and not approved.executed:
        approved = c.registry.approve(c.admins[third], result.id)
    assert approved.executed
    assert not is_member(c, region)
    return approved


def admit_region(c: Consortium, region: int, admin: str, proposer: int = GD, approver: int = ZJ):
    result = c.registry.propose_add_region(c.admins[proposer], region, admin)
    approved = c.registry.approve(c.admins[approver], result.id)
    assert approved.executed
    return approved


# ---------------------------------------------------------------------- founding (constructor)


def test_founding_regions_quorum_and_ttl_come_from_constructor(consortium: Consortium) -> None:
    reg = consortium.registry
    assert reg.quorum() == 2
    assert reg.member_count() == 3
    assert int(view(consortium, "proposalTtl")) == TTL
    assert int(view(consortium, "proposalCount")) == 0
    assert [r.code for r in reg.regions()] == list(REGIONS)
    for region in REGIONS:
        info = reg.region(region)
        assert info.member and info.admin_count == 1 and info.admitted_at > 0 and info.removed_at == 0
        admin = consortium.admins[region]
        assert reg.admin_region(admin.address) == region
        assert view(consortium, "isRegionAdmin", region, admin.address)
    # an admin of one region is not an admin of another
    assert not view(consortium, "isRegionAdmin", ZJ, consortium.admins[GD].address)
    assert reg.admin_region(Account.create().address) == 0
    assert not is_member(consortium, JS)


def test_constructor_emits_quorum_rule_and_region_admitted(chain: Chain) -> None:
    admins = [Account.create().address for _ in REGIONS]
    address, sent = deploy_consortium(chain, list(REGIONS), admins, (2, 3))
    contract = chain.contract("Consortium", address)
    changed = contract.events.QuorumRuleChanged().process_receipt(sent.receipt, errors=DISCARD)
    assert [(e["args"]["numerator"], e["args"]["denominator"]) for e in changed] == [(2, 3)]
    admitted = contract.events.RegionAdmitted().process_receipt(sent.receipt, errors=DISCARD)
    assert [(e["args"]["region"], e["args"]["admin"]) for e in admitted] == list(zip(REGIONS, admins, strict=True))
    assert contract.functions.quorum().call() == 3
    assert contract.functions.memberCount().call() == 3


@pytest.mark.parametrize("rule", [(1, 0), (2, 2), (3, 2), (1, 101)])
def test_constructor_rejects_a_quorum_rule_that_is_not_a_proper_fraction(chain: Chain, rule: tuple[int, int]) -> None:
    admins = [Account.create().address for _ in REGIONS]
    args = expect("InvalidQuorumRule", deploy_consortium, chain, list(REGIONS), admins, rule)
    assert args == {"numerator": rule[0], "denominator": rule[1]}


def test_constructor_rejects_no_founding_regions(chain: Chain) -> None:
    args = expect("FoundingListMismatch", deploy_consortium, chain, [], [])
    assert args == {"regions": 0, "admins": 0}


@pytest.mark.parametrize("bad", [0, 99999, 1000000, 4294967295])
def test_constructor_rejects_invalid_region_code(chain: Chain, bad: int) -> None:
    admins = [Account.create().address for _ in range(3)]
    args = expect("InvalidRegionCode", deploy_consortium, chain, [GD, bad, BJ], admins)
    assert args == {"region": bad}


def test_constructor_rejects_same_admin_for_two_regions(chain: Chain) -> None:
    shared = Account.create().address
    args = expect("AdminAlreadyAssigned", deploy_consortium, chain, [GD, ZJ], [shared, shared])
    assert same(args["admin"], shared) and args["region"] == GD


def test_constructor_rejects_duplicate_region(chain: Chain) -> None:
    admins = [Account.create().address for _ in range(3)]
    args = expect("RegionAlreadyMember", deploy_consortium, chain, [GD, ZJ, GD], admins)
    assert args == {"region": GD}


def test_constructor_rejects_zero_admin(chain: Chain) -> None:
    expect("ZeroAddress", deploy_consortium, chain, [GD, ZJ], [Account.create().address, ZERO])


def test_constructor_rejects_regions_and_admins_of_different_lengths(chain: Chain) -> None:
    err = expect("FoundingListMismatch", deploy_consortium, chain, [GD, ZJ], [Account.create().address])
    assert err == {"regions": 2, "admins": 1}


# ---------------------------------------------------------------------- admitting a region


def test_add_region_executes_at_quorum_and_new_admin_can_act(consortium: Consortium) -> None:
    reg = consortium.registry
    new_admin = Account.create()
    proposed = reg.propose_add_region(consortium.admins[GD], JS, new_admin.address)
    assert not proposed.executed
    assert approval_count(consortium, proposed.id) == 1
    assert not is_member(consortium, JS)
    created = events(consortium, "ProposalCreated", proposed.tx)
    assert created[0]["kind"] == ProposalKind.ADD_REGION and created[0]["proposerRegion"] == GD

    approved = reg.approve(consortium.admins[ZJ], proposed.id)
    assert approved.executed
    assert events(consortium, "ProposalApproved", approved.tx) == [{"id": proposed.id, "region": ZJ, "approvals": 2}]
    admitted = events(consortium, "RegionAdmitted", approved.tx)
    assert len(admitted) == 1 and admitted[0]["region"] == JS and same(admitted[0]["admin"], new_admin)
    assert events(consortium, "ProposalExecuted", approved.tx) == [{"id": proposed.id, "kind": ProposalKind.ADD_REGION}]
    assert is_member(consortium, JS) and reg.member_count() == 4
    info = reg.region(JS)
    assert info.admin_count == 1 and info.admitted_at > 0 and info.removed_at == 0
    assert reg.admin_region(new_admin.address) == JS
    assert reg.proposal(proposed.id).executed

    # the new admin acts for its region: votes, proposes, registers agencies
    vote = reg.propose_quorum_rule(new_admin, 2, 3)
    assert reg.proposal(vote.id).proposer_region == JS
    reg.register_agency(new_admin, "JS-PSB", JS, [])
    assert reg.agency("JS-PSB").region == JS


def test_proposal_view_records_proposer_expiry_payload_and_approvers(consortium: Consortium) -> None:
    reg = consortium.registry
    new_admin = Account.create().address
    result = reg.propose_add_region(consortium.admins[ZJ], JS, new_admin)
    p = reg.proposal(result.id)
    assert p.kind is ProposalKind.ADD_REGION
    assert not p.executed
    assert p.proposer_region == ZJ
    assert p.expires_at == p.created_at + TTL
    assert p.params == {"region": JS, "admin": new_admin}
    assert p.approvers == [ZJ]
    assert int(view(consortium, "proposalCount")) == result.id == 1


def test_proposer_approval_counts_once(consortium: Consortium) -> None:
    pid = open_type_proposal(consortium, GD)
    args = expect("AlreadyApproved", consortium.registry.approve, consortium.admins[GD], pid)
    assert args == {"id": pid, "region": GD}
    assert approval_count(consortium, pid) == 1
    assert not consortium.registry.proposal(pid).executed


def test_second_admin_key_of_same_region_cannot_approve_again(consortium: Consortium) -> None:
    reg = consortium.registry
    second = Account.create()
    reg.add_region_admin(consortium.admins[GD], GD, second.address)
    pid = open_type_proposal(consortium, GD)
    args = expect("AlreadyApproved", reg.approve, second, pid)
    assert args == {"id": pid, "region": GD}

    # same for a region that approved through its first admin, then its second admin tries
    zj_second = Account.create()
    reg.add_region_admin(consortium.admins[ZJ], ZJ, zj_second.address)
    set_quorum(consortium, 3)  # so that ZJ's approval does not execute the proposal
    reg.approve(consortium.admins[ZJ], pid)
    assert approval_count(consortium, pid) == 2
    args = expect("AlreadyApproved", reg.approve, zj_second, pid)
    assert args == {"id": pid, "region": ZJ}
    assert approval_count(consortium, pid) == 2


def test_second_admin_key_casts_its_regions_vote(consortium: Consortium) -> None:
    reg = consortium.registry
    second = Account.create()
    reg.add_region_admin(consortium.admins[ZJ], ZJ, second.address)
    pid = open_type_proposal(consortium, GD)
    result = reg.approve(second, pid)
    assert result.executed
    assert reg.proposal(pid).approvers == [GD, ZJ]
    assert reg.type_exists("DEGREE")


@pytest.mark.parametrize("who", ["random", "deployer"])
def test_non_member_account_cannot_approve(consortium: Consortium, who: str) -> None:
    account = Account.create() if who == "random" else consortium.deployer
    pid = open_type_proposal(consortium)
    args = expect("NotRegionAdmin", consortium.registry.approve, account, pid)
    assert same(args["account"], account)
    assert approval_count(consortium, pid) == 1


def test_non_member_account_cannot_propose(consortium: Consortium) -> None:
    reg = consortium.registry
    stranger = Account.create()
    expect("NotRegionAdmin", reg.propose_add_type, stranger, "DEGREE", SCHEMA)
    expect("NotRegionAdmin", reg.propose_quorum_rule, stranger, 0, 1)
    expect("NotRegionAdmin", reg.propose_add_region, stranger, JS, Account.create().address)
    expect("NotRegionAdmin", reg.propose_remove_region, stranger, BJ)
    assert int(view(consortium, "proposalCount")) == 0


def test_approve_or_execute_after_execution_is_rejected(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium)
    assert reg.approve(consortium.admins[ZJ], pid).executed
    assert expect("ProposalAlreadyExecuted", reg.approve, consortium.admins[BJ], pid) == {"id": pid}
    assert expect("ProposalAlreadyExecuted", reg.execute, Account.create(), pid) == {"id": pid}


@pytest.mark.parametrize("pid", [0, 1, 99])
def test_unknown_proposal_is_rejected(consortium: Consortium, pid: int) -> None:
    reg = consortium.registry
    assert expect("UnknownProposal", reg.approve, consortium.admins[ZJ], pid) == {"id": pid}
    assert expect("UnknownProposal", reg.execute, Account.create(), pid) == {"id": pid}
    assert expect("UnknownProposal", reg.proposal, pid) == {"id": pid}


def test_stale_proposal_cannot_be_approved(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium)
    expires_at = reg.proposal(pid).expires_at
    advance(consortium.chain, TTL + 1)
    args = expect("ProposalExpired", reg.approve, consortium.admins[ZJ], pid)
    assert args == {"id": pid, "expiredAt": expires_at}
    assert not reg.type_exists("DEGREE")


def test_stale_proposal_cannot_be_executed_even_when_quorum_is_lowered(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium)
    expires_at = reg.proposal(pid).expires_at
    advance(consortium.chain, TTL + 1)
    set_quorum(consortium, 1)  # P's single approval would now be enough, but P is stale
    args = expect("ProposalExpired", reg.execute, Account.create(), pid)
    assert args == {"id": pid, "expiredAt": expires_at}
    assert not reg.type_exists("DEGREE")
    # listing open proposals leaves it out
    assert pid not in [p.id for p in reg.proposals(open_only=True)]


def test_proposal_is_still_open_shortly_before_ttl(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium)
    advance(consortium.chain, TTL - 600)
    assert reg.approve(consortium.admins[ZJ], pid).executed
    assert reg.type_exists("DEGREE")


def test_propose_add_region_rejects_existing_member(consortium: Consortium) -> None:
    args = expect(
        "RegionAlreadyMember",
        consortium.registry.propose_add_region,
        consortium.admins[GD],
        ZJ,
        Account.create().address,
    )
    assert args == {"region": ZJ}


@pytest.mark.parametrize("bad", [0, 99999, 1000000])
def test_propose_add_region_rejects_invalid_region_code(consortium: Consortium, bad: int) -> None:
    args = expect(
        "InvalidRegionCode",
        send,
        consortium,
        consortium.admins[GD],
        "proposeAddRegion",
        bad,
        Account.create().address,
    )
    assert args == {"region": bad}


def test_propose_add_region_rejects_zero_admin(consortium: Consortium) -> None:
    expect("ZeroAddress", consortium.registry.propose_add_region, consortium.admins[GD], JS, ZERO)


def test_propose_add_region_rejects_admin_of_another_region(consortium: Consortium) -> None:
    taken = consortium.admins[ZJ].address
    args = expect("AdminAlreadyAssigned", consortium.registry.propose_add_region, consortium.admins[GD], JS, taken)
    assert same(args["admin"], taken) and args["region"] == ZJ


def test_competing_add_region_proposals_second_fails_at_execution(consortium: Consortium) -> None:
    reg = consortium.registry
    first = reg.propose_add_region(consortium.admins[GD], JS, Account.create().address)
    second = reg.propose_add_region(consortium.admins[ZJ], JS, Account.create().address)
    assert reg.approve(consortium.admins[BJ], first.id).executed
    # 4 members now: a majority is 3, so BJ's approval alone does not execute the second one
    assert reg.quorum() == 3
    assert not reg.approve(consortium.admins[BJ], second.id).executed
    args = expect("RegionAlreadyMember", reg.approve, consortium.admins[GD], second.id)
    assert args == {"region": JS}
    assert reg.member_count() == 4


def test_quorum_follows_the_membership(consortium: Consortium) -> None:
    """The quorum is a rule, not a number: with a fourth region 2 approvals no longer pass."""
    reg = consortium.registry
    assert (reg.quorum_rule(), reg.quorum()) == ((1, 2), 2)
    admit_region(consortium, JS, Account.create().address)
    assert reg.quorum() == 3
    proposed = reg.propose_add_type(consortium.admins[GD], "DEGREE", SCHEMA)
    assert not reg.approve(consortium.admins[ZJ], proposed.id).executed  # 2 of 4: not a majority
    assert reg.approve(consortium.admins[BJ], proposed.id).executed  # 3 of 4
    remove_region(consortium, JS, proposer=GD, approver=ZJ, third=BJ)
    assert (reg.member_count(), reg.quorum()) == (3, 2)


# ---------------------------------------------------------------------- removing a region


def test_remove_region_executes_at_quorum(consortium: Consortium) -> None:
    reg = consortium.registry
    proposed = reg.propose_remove_region(consortium.admins[GD], BJ)
    assert not proposed.executed and is_member(consortium, BJ)
    approved = reg.approve(consortium.admins[ZJ], proposed.id)
    assert approved.executed
    removed_at = int(consortium.chain.w3.eth.get_block(approved.tx.block_number)["timestamp"])
    # no cut-off given: the cut-off is the removal itself, nothing anchored before becomes void
    assert events(consortium, "RegionRemoved", approved.tx) == [{"region": BJ, "cutoff": removed_at}]
    assert reg.void_windows(BJ) == []
    assert not is_member(consortium, BJ)
    assert reg.member_count() == 2
    info = reg.region(BJ)
    assert not info.member and info.removed_at >= info.admitted_at > 0
    assert BJ in [r.code for r in reg.regions()]  # still listed, as a former member
    assert reg.admin_region(consortium.admins[BJ].address) == 0
    assert not view(consortium, "isRegionAdmin", BJ, consortium.admins[BJ].address)


def test_propose_remove_region_rejects_non_member(consortium: Consortium) -> None:
    args = expect("RegionNotMember", consortium.registry.propose_remove_region, consortium.admins[GD], JS)
    assert args == {"region": JS}


def test_the_last_member_cannot_be_removed(consortium: Consortium) -> None:
    """Removals proposed while 3 regions were members: the one that would leave none fails when
    it executes (the quorum, a fraction, is always reachable by the members left)."""
    reg = consortium.registry
    first = reg.propose_remove_region(consortium.admins[GD], BJ)
    second = reg.propose_remove_region(consortium.admins[GD], ZJ)
    last = reg.propose_remove_region(consortium.admins[ZJ], GD)
    assert reg.approve(consortium.admins[ZJ], first.id).executed
    assert reg.approve(consortium.admins[ZJ], second.id).executed  # 2 of 2 members
    assert reg.member_count() == 1 and reg.quorum() == 1
    args = expect("LastMember", reg.approve, consortium.admins[GD], last.id)
    assert args == {"region": GD}
    assert is_member(consortium, GD)
    assert expect("LastMember", reg.propose_remove_region, consortium.admins[GD], GD) == {"region": GD}


def test_removal_cutoff_cannot_lie_in_the_future(consortium: Consortium) -> None:
    future = chain_now(consortium.chain) + 3600
    args = expect("InvalidCutoff", consortium.registry.propose_remove_region, consortium.admins[GD], BJ, future)
    assert args["cutoff"] == future


def test_removal_of_already_removed_region_fails_at_execution(consortium: Consortium) -> None:
    reg = consortium.registry
    first = reg.propose_remove_region(consortium.admins[GD], BJ)
    second = reg.propose_remove_region(consortium.admins[ZJ], BJ)
    assert reg.approve(consortium.admins[ZJ], first.id).executed
    args = expect("RegionNotMember", reg.approve, consortium.admins[GD], second.id)
    assert args == {"region": BJ}
    # and a new removal of BJ cannot even be proposed
    assert expect("RegionNotMember", reg.propose_remove_region, consortium.admins[GD], BJ) == {"region": BJ}


# -- (b) removal of a region that has agencies


@pytest.fixture
def beijing(issuing: Consortium, random_hashes) -> dict[str, Any]:
    """A Beijing agency BJ-PSB (ID_CARD) with a key and one batch anchored before removal."""
    key = issuing.add_agency("BJ-PSB", BJ, ["ID_CARD"])
    hashes = random_hashes(3)
    batch = issuing.registry.anchor_batch(issuing.deployer, key, "BJ-PSB", "ID_CARD", hashes)
    return {"key": key, "hashes": hashes, "batch": batch, "tree": build_tree(hashes)}


def test_removed_regions_agency_cannot_anchor_but_its_earlier_batch_stays_valid(
    issuing: Consortium, beijing: dict[str, Any], random_hashes
) -> None:
    reg = issuing.registry
    tree, hashes = beijing["tree"], beijing["hashes"]
    remove_region(issuing, BJ)

    args = expect(
        "RegionNotMember",
        reg.anchor_batch,
        issuing.deployer,
        beijing["key"],
        "BJ-PSB",
        "ID_CARD",
        random_hashes(2),
    )
    assert args == {"region": BJ}

    root = beijing["batch"].root
    for h in hashes:
        assert reg.verify_onchain("BJ-PSB", h, root, tree.proof(h), 0) == (Verdict.OK, Reason.NONE)
    # the batch record is untouched
    assert reg.batch("BJ-PSB", root).size == 3


def test_removed_regions_agency_key_and_admin_cannot_change_statuses(
    issuing: Consortium, beijing: dict[str, Any]
) -> None:
    reg = issuing.registry
    remove_region(issuing, BJ)
    h = beijing["hashes"][0]
    for actor in (beijing["key"], issuing.admins[BJ]):
        args = expect("NotAuthorized", reg.set_certificate_status, actor, "BJ-PSB", h, Status.REVOKED, "TEST")
        assert same(args["account"], actor) and args["agency"] == "BJ-PSB"
    assert reg.certificate_status("BJ-PSB", h)[0] is Status.ACTIVE


def test_removed_regions_admin_loses_every_power(issuing: Consortium, beijing: dict[str, Any]) -> None:
    reg = issuing.registry
    bj_admin = issuing.admins[BJ]
    open_pid = open_type_proposal(issuing, GD, "MARRIAGE_CERTIFICATE")
    remove_region(issuing, BJ)

    args = expect("NotAdminOfRegion", reg.register_agency, bj_admin, "BJ-EDU", BJ, [])
    assert same(args["account"], bj_admin) and args["region"] == BJ
    expect("NotAdminOfRegion", reg.set_recognition, bj_admin, BJ, "DEGREE", ZJ)
    expect("NotAdminOfRegion", reg.add_region_admin, bj_admin, BJ, Account.create().address)
    expect("NotAdminOfRegion", reg.add_key, bj_admin, "BJ-PSB", Account.create().address)
    expect("NotAdminOfRegion", reg.suspend_agency, bj_admin, "BJ-PSB")
    expect("NotAdminOfRegion", reg.retire_key, bj_admin, beijing["key"].address)

    args = expect("NotRegionAdmin", reg.approve, bj_admin, open_pid)
    assert same(args["account"], bj_admin)
    expect("NotRegionAdmin", reg.propose_quorum_rule, bj_admin, 0, 1)
    assert approval_count(issuing, open_pid) == 1


def test_removed_regions_approvals_no_longer_count(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium, BJ)  # approved by BJ only
    assert approval_count(consortium, pid) == 1
    remove_region(consortium, BJ)
    assert approval_count(consortium, pid) == 0
    assert reg.proposal(pid).approvers == [BJ]  # still recorded, no longer counted
    assert expect("QuorumNotReached", reg.execute, Account.create(), pid) == {
        "id": pid,
        "approvals": 0,
        "quorum": 2,
    }

    first = reg.approve(consortium.admins[GD], pid)
    assert not first.executed  # 1 counting approval of 2
    assert events(consortium, "ProposalApproved", first.tx)[0]["approvals"] == 1
    assert reg.approve(consortium.admins[ZJ], pid).executed
    assert reg.type_exists("DEGREE")


# -- (c) re-admission with a new admin


def test_readmitted_region_old_admin_keys_have_no_power(consortium: Consortium) -> None:
    reg = consortium.registry
    old_admin = consortium.admins[BJ]
    old_second = Account.create()
    reg.add_region_admin(old_admin, BJ, old_second.address)
    remove_region(consortium, BJ)

    new_admin = Account.create()
    admitted = admit_region(consortium, BJ, new_admin.address)
    assert events(consortium, "RegionAdmitted", admitted.tx)[0]["region"] == BJ
    info = reg.region(BJ)
    assert info.member and info.admin_count == 1 and info.removed_at == 0
    assert [r.code for r in reg.regions()].count(BJ) == 1

    for old in (old_admin, old_second):
        assert reg.admin_region(old.address) == 0
        assert not view(consortium, "isRegionAdmin", BJ, old.address)
        expect("NotRegionAdmin", reg.propose_quorum_rule, old, 0, 1)
        expect("NotAdminOfRegion", reg.register_agency, old, "BJ-OLD", BJ, [])
        expect("NotAdminOfRegion", reg.add_region_admin, old, BJ, Account.create().address)
        expect("NotAdminOfRegion", send, consortium, old, "removeRegionAdmin", BJ, new_admin.address)

    pid = open_type_proposal(consortium, GD)
    expect("NotRegionAdmin", reg.approve, old_admin, pid)
    # the new admin has the region's power
    assert reg.approve(new_admin, pid).executed
    reg.register_agency(new_admin, "BJ-NEW", BJ, ["DEGREE"])
    reg.set_recognition(new_admin, BJ, "DEGREE", ZJ)


def test_readmitted_region_may_get_its_old_admin_address_back(consortium: Consortium) -> None:
    reg = consortium.registry
    old_admin = consortium.admins[BJ]
    remove_region(consortium, BJ)
    admit_region(consortium, BJ, old_admin.address)
    assert reg.admin_region(old_admin.address) == BJ
    reg.register_agency(old_admin, "BJ-PSB", BJ, [])


def test_removed_regions_old_admin_may_become_admin_elsewhere(consortium: Consortium) -> None:
    reg = consortium.registry
    old_admin = consortium.admins[BJ]
    remove_region(consortium, BJ)
    admit_region(consortium, JS, old_admin.address)
    assert reg.admin_region(old_admin.address) == JS
    assert not view(consortium, "isRegionAdmin", BJ, old_admin.address)


# ---------------------------------------------------------------------- quorum


@pytest.mark.parametrize("rule", [(1, 0), (1, 1), (3, 2), (0, 101)])
def test_propose_quorum_rule_that_is_not_a_proper_fraction_is_rejected(
    consortium: Consortium, rule: tuple[int, int]
) -> None:
    args = expect("InvalidQuorumRule", consortium.registry.propose_quorum_rule, consortium.admins[GD], *rule)
    assert args == {"numerator": rule[0], "denominator": rule[1]}


def test_set_quorum_rule_executes_and_emits_the_rule(consortium: Consortium) -> None:
    reg = consortium.registry
    proposed = reg.propose_quorum_rule(consortium.admins[GD], 2, 3)
    assert not proposed.executed and reg.quorum() == 2
    approved = reg.approve(consortium.admins[BJ], proposed.id)
    assert approved.executed
    assert events(consortium, "QuorumRuleChanged", approved.tx) == [{"numerator": 2, "denominator": 3}]
    assert reg.quorum_rule() == (2, 3) and reg.quorum() == 3  # more than two thirds of 3
    assert reg.proposal(proposed.id).params == {"quorum_rule": "2/3"}


@pytest.mark.parametrize(
    ("members", "rule", "needed"),
    [
        (1, (1, 2), 1),
        (2, (1, 2), 2),
        (3, (1, 2), 2),
        (4, (1, 2), 3),
        (5, (1, 2), 3),
        (3, (2, 3), 3),
        (4, (2, 3), 3),
        (6, (2, 3), 5),
        (4, (0, 1), 1),
    ],
)
def test_quorum_formula_matches_the_contract(chain: Chain, members: int, rule: tuple[int, int], needed: int) -> None:
    codes = [110000 + 10000 * i for i in range(members)]
    address, _ = deploy_consortium(chain, codes, [Account.create().address for _ in codes], rule)
    assert chain.contract("Consortium", address).functions.quorum().call() == needed == quorum_for(members, rule)


def test_with_quorum_one_a_proposal_executes_when_proposed(consortium: Consortium) -> None:
    reg = consortium.registry
    set_quorum(consortium, 1)
    result = reg.propose_add_type(consortium.admins[BJ], "DEGREE", SCHEMA)
    assert result.executed
    assert reg.type_exists("DEGREE")


# -- (a) quorum change while a proposal is open


def test_lowering_quorum_lets_anyone_execute_an_open_proposal(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium, GD)
    args = expect("QuorumNotReached", reg.execute, Account.create(), pid)
    assert args == {"id": pid, "approvals": 1, "quorum": 2}

    set_quorum(consortium, 1, proposer=ZJ, approver=BJ)
    assert not reg.proposal(pid).executed  # lowering the quorum does not execute it by itself

    anyone = Account.create()  # not an admin of any region
    sent = send(consortium, anyone, "execute", pid)
    assert events(consortium, "ProposalExecuted", sent) == [{"id": pid, "kind": ProposalKind.ADD_TYPE}]
    assert len(events(consortium, "CertificateTypeAdded", sent)) == 1
    assert reg.type_exists("DEGREE")
    assert reg.proposal(pid).executed
    assert expect("ProposalAlreadyExecuted", send, consortium, anyone, "execute", pid) == {"id": pid}


def test_registry_execute_reports_the_executed_proposal(consortium: Consortium) -> None:
    """Registry.execute's receipt holds only ProposalExecuted (no Created/Approved event)."""
    reg = consortium.registry
    pid = open_type_proposal(consortium, GD)
    set_quorum(consortium, 1, proposer=ZJ, approver=BJ)
    result = reg.execute(Account.create(), pid)
    assert result.id == pid
    assert result.executed
    assert reg.type_exists("DEGREE")


def test_raising_quorum_makes_an_open_proposal_need_more_approvals(consortium: Consortium) -> None:
    reg = consortium.registry
    pid = open_type_proposal(consortium, GD)
    set_quorum(consortium, 3, proposer=ZJ, approver=BJ)

    second = reg.approve(consortium.admins[ZJ], pid)
    assert not second.executed
    assert approval_count(consortium, pid) == 2
    args = expect("QuorumNotReached", reg.execute, consortium.admins[GD], pid)
    assert args == {"id": pid, "approvals": 2, "quorum": 3}
    assert not reg.type_exists("DEGREE")

    assert reg.approve(consortium.admins[BJ], pid).executed
    assert reg.type_exists("DEGREE")


def test_execute_under_quorum_is_rejected(consortium: Consortium) -> None:
    reg = consortium.registry
    proposed = reg.propose_add_region(consortium.admins[GD], JS, Account.create().address)
    args = expect("QuorumNotReached", reg.execute, consortium.admins[GD], proposed.id)
    assert args == {"id": proposed.id, "approvals": 1, "quorum": 2}
    assert not is_member(consortium, JS)


# ---------------------------------------------------------------------- certificate types


def test_add_type_event_carries_schema_text_and_hash(consortium: Consortium) -> None:
    reg = consortium.registry
    schema = {"fields": [{"name": "姓名", "type": "string", "required": True}, {"name": "degree", "type": "string"}]}
    text = canonical_schema(schema)
    proposed = reg.propose_add_type(consortium.admins[GD], "DEGREE", schema)
    assert not proposed.executed and not reg.type_exists("DEGREE")
    approved = reg.approve(consortium.admins[ZJ], proposed.id)
    assert approved.executed
    added = events(consortium, "CertificateTypeAdded", approved.tx)
    assert len(added) == 1
    assert added[0]["typeId"] == type_id("DEGREE")
    assert added[0]["schema"] == text
    assert added[0]["schemaHash"] == keccak(text.encode("utf-8"))
    assert view(consortium, "typeSchemaHash", type_id("DEGREE")) == keccak(text.encode("utf-8"))
    assert reg.type_exists("DEGREE")
    types = reg.types()
    assert [t.code for t in types] == ["DEGREE"]
    assert types[0].schema == json.loads(text)
    assert types[0].schema_hash == "0x" + keccak(text.encode("utf-8")).hex()


def test_types_are_listed_in_order_added(consortium: Consortium) -> None:
    for code in ("ID_CARD", "DEGREE", "BUSINESS_LICENSE"):
        consortium.add_type(code)
    assert [t.code for t in consortium.registry.types()] == ["ID_CARD", "DEGREE", "BUSINESS_LICENSE"]
    assert not consortium.registry.type_exists("DRIVING_LICENCE")


def test_add_type_with_empty_schema_is_rejected(consortium: Consortium) -> None:
    args = expect("EmptySchema", send, consortium, consortium.admins[GD], "proposeAddType", type_id("DEGREE"), "")
    assert args == {"typeId": "DEGREE"}


def test_add_type_with_zero_id_is_rejected(consortium: Consortium) -> None:
    expect("InvalidTypeId", send, consortium, consortium.admins[GD], "proposeAddType", b"\0" * 32, "{}")


def test_add_existing_type_is_rejected_at_proposal(consortium: Consortium) -> None:
    consortium.add_type("DEGREE")
    args = expect("TypeAlreadyExists", consortium.registry.propose_add_type, consortium.admins[ZJ], "DEGREE", SCHEMA)
    assert args == {"typeId": "DEGREE"}


def test_racing_add_type_proposals_second_fails_at_execution(consortium: Consortium) -> None:
    reg = consortium.registry
    first = reg.propose_add_type(consortium.admins[GD], "DEGREE", SCHEMA)
    second = reg.propose_add_type(consortium.admins[ZJ], "DEGREE", {"fields": []})
    assert reg.approve(consortium.admins[BJ], first.id).executed
    args = expect("TypeAlreadyExists", reg.approve, consortium.admins[BJ], second.id)
    assert args == {"typeId": "DEGREE"}
    # the first schema stays
    assert reg.types()[0].schema == SCHEMA
    assert not reg.proposal(second.id).executed


# ---------------------------------------------------------------------- region admins


def test_add_region_admin_gives_the_new_key_its_regions_power(consortium: Consortium) -> None:
    reg = consortium.registry
    second = Account.create()
    sent = reg.add_region_admin(consortium.admins[GD], GD, second.address)
    added = events(consortium, "RegionAdminAdded", sent)
    assert len(added) == 1 and added[0]["region"] == GD and same(added[0]["admin"], second)
    assert reg.region(GD).admin_count == 2
    assert reg.admin_region(second.address) == GD
    reg.register_agency(second, "GD-PSB", GD, [])
    proposed = reg.propose_quorum_rule(second, 2, 3)
    assert reg.proposal(proposed.id).proposer_region == GD


def test_add_region_admin_only_by_admin_of_that_region(consortium: Consortium) -> None:
    reg = consortium.registry
    for caller in (consortium.admins[ZJ], Account.create()):
        args = expect("NotAdminOfRegion", reg.add_region_admin, caller, GD, Account.create().address)
        assert same(args["account"], caller) and args["region"] == GD
    # a non-member region has no admins at all
    expect("NotAdminOfRegion", reg.add_region_admin, consortium.admins[GD], JS, Account.create().address)
    assert reg.region(GD).admin_count == 1


def test_add_region_admin_rejects_assigned_or_zero_address(consortium: Consortium) -> None:
    reg = consortium.registry
    args = expect(
        "AdminAlreadyAssigned", reg.add_region_admin, consortium.admins[GD], GD, consortium.admins[ZJ].address
    )
    assert same(args["admin"], consortium.admins[ZJ]) and args["region"] == ZJ
    args = expect(
        "AdminAlreadyAssigned", reg.add_region_admin, consortium.admins[GD], GD, consortium.admins[GD].address
    )
    assert args["region"] == GD
    expect("ZeroAddress", reg.add_region_admin, consortium.admins[GD], GD, ZERO)
    assert reg.region(GD).admin_count == 1


def test_remove_region_admin(consortium: Consortium) -> None:
    reg = consortium.registry
    first, second = consortium.admins[GD], Account.create()
    reg.add_region_admin(first, GD, second.address)
    sent = send(consortium, second, "removeRegionAdmin", GD, first.address)  # may remove a peer
    removed = events(consortium, "RegionAdminRemoved", sent)
    assert len(removed) == 1 and removed[0]["region"] == GD and same(removed[0]["admin"], first)
    assert reg.region(GD).admin_count == 1
    assert reg.admin_region(first.address) == 0
    expect("NotRegionAdmin", reg.propose_quorum_rule, first, 2, 3)
    expect("NotAdminOfRegion", reg.register_agency, first, "GD-PSB", GD, [])
    reg.register_agency(second, "GD-PSB", GD, [])


def test_remove_last_region_admin_is_rejected(consortium: Consortium) -> None:
    admin = consortium.admins[GD]
    args = expect("LastAdmin", send, consortium, admin, "removeRegionAdmin", GD, admin.address)
    assert args == {"region": GD}
    # also after adding then removing a second one
    second = Account.create()
    consortium.registry.add_region_admin(admin, GD, second.address)
    send(consortium, admin, "removeRegionAdmin", GD, second.address)
    assert expect("LastAdmin", send, consortium, admin, "removeRegionAdmin", GD, admin.address) == {"region": GD}
    assert consortium.registry.admin_region(admin.address) == GD


def test_remove_region_admin_rejects_non_admin_target_and_foreign_caller(consortium: Consortium) -> None:
    reg = consortium.registry
    gd = consortium.admins[GD]
    reg.add_region_admin(gd, GD, Account.create().address)
    stranger = Account.create()
    args = expect("NotAdminOfRegion", send, consortium, gd, "removeRegionAdmin", GD, stranger.address)
    assert same(args["account"], stranger) and args["region"] == GD
    # an admin of another region is not an admin of this one
    zj = consortium.admins[ZJ]
    args = expect("NotAdminOfRegion", send, consortium, gd, "removeRegionAdmin", GD, zj.address)
    assert same(args["account"], zj) and args["region"] == GD
    # and cannot remove this region's admins
    args = expect("NotAdminOfRegion", send, consortium, zj, "removeRegionAdmin", GD, gd.address)
    assert same(args["account"], zj) and args["region"] == GD
    assert reg.region(GD).admin_count == 2


def test_proposal_ttl_is_measured_from_creation(consortium: Consortium) -> None:
    reg = consortium.registry
    before = chain_now(consortium.chain)
    pid = open_type_proposal(consortium)
    p = reg.proposal(pid)
    assert p.created_at >= before
    assert p.expires_at - p.created_at == TTL


def test_approval_given_before_removal_does_not_count_after_readmission(consortium: Consortium) -> None:
    """A region removed and admitted again starts afresh: its old vote on a still-open
    proposal no longer counts, and its new admin may cast the region's vote."""
    c = consortium
    pid = open_type_proposal(c, proposer=BJ)  # BJ's approval: 1 of 2
    assert approval_count(c, pid) == 1
    remove_region(c, BJ)
    assert approval_count(c, pid) == 0
    new_admin = Account.create()
    admit_region(c, BJ, new_admin.address)
    assert is_member(c, BJ)
    assert approval_count(c, pid) == 0  # the vote from before the removal stays void
    result = c.registry.approve(new_admin, pid)
    assert approval_count(c, pid) == 1 and not result.executed
    expect("AlreadyApproved", c.registry.approve, new_admin, pid)
    assert c.registry.approve(c.admins[GD], pid).executed


# ---------------------------------------------------------------------- removal cut-off, re-admission


def test_removal_with_a_cutoff_voids_the_regions_anchors_from_then_on(issuing: Consortium, random_hashes) -> None:
    """A region whose keys were abused before it could be removed: the consortium removes it
    with a cut-off, and its anchors from then on are void; earlier ones stay valid (and
    recognised wherever a rule recognises them)."""
    reg = issuing.registry
    key = issuing.add_agency("BJ-PSB", BJ, ["ID_CARD"])
    early_hashes, late_hashes = random_hashes(2), random_hashes(2)
    early = reg.anchor_batch(issuing.deployer, key, "BJ-PSB", "ID_CARD", early_hashes)
    advance(issuing.chain, 600)
    cutoff = chain_now(issuing.chain)
    late = reg.anchor_batch(issuing.deployer, key, "BJ-PSB", "ID_CARD", late_hashes)
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", BJ)
    advance(issuing.chain, 60)
    approved = remove_region(issuing, BJ, cutoff=cutoff)
    removed_at = int(issuing.chain.w3.eth.get_block(approved.tx.block_number)["timestamp"])
    assert events(issuing, "RegionRemoved", approved.tx) == [{"region": BJ, "cutoff": cutoff}]
    assert reg.void_windows(BJ) == [(cutoff, removed_at)]
    e, lt = build_tree(early_hashes), build_tree(late_hashes)
    assert reg.verify_onchain("BJ-PSB", early_hashes[0], early.root, e.proof(early_hashes[0]), ZJ) == (
        Verdict.OK,
        Reason.NONE,
    )
    assert reg.verify_onchain("BJ-PSB", late_hashes[0], late.root, lt.proof(late_hashes[0]), ZJ) == (
        Verdict.INVALID,
        Reason.REGION_REMOVED,
    )
    assert reg.anchoring_void("BJ-PSB", late.root) is Reason.REGION_REMOVED
    assert reg.anchoring_void("BJ-PSB", early.root) is Reason.NONE


def test_readmitted_regions_agencies_and_keys_come_back_disabled(issuing: Consortium, random_hashes) -> None:
    """The attack: re-admission silently revived the region's old agencies and keys. They come
    back disabled and must be enabled explicitly, agency and key alike."""
    reg = issuing.registry
    key = issuing.add_agency("BJ-PSB", BJ, ["ID_CARD"])
    remove_region(issuing, BJ)
    new_admin = Account.create()
    admit_region(issuing, BJ, new_admin.address)
    assert reg.region(BJ).epoch == 1
    info = reg.agency("BJ-PSB")
    assert not info.suspended and not info.enabled
    assert not reg.key(key.address).enabled
    assert expect("AgencyDisabled", reg.anchor_batch, issuing.deployer, key, "BJ-PSB", "ID_CARD", random_hashes(1)) == {
        "agency": "BJ-PSB"
    }
    batch_hash = random_hashes(1)[0]
    expect("NotAuthorized", reg.set_certificate_status, key, "BJ-PSB", batch_hash, Status.SUSPENDED, "X")

    reg.reactivate_agency(new_admin, "BJ-PSB")  # the agency, explicitly
    assert reg.agency("BJ-PSB").enabled
    args = expect("KeyDisabled", reg.anchor_batch, issuing.deployer, key, "BJ-PSB", "ID_CARD", random_hashes(1))
    assert same(args["key"], key)
    sent = reg.enable_key(new_admin, key.address)  # and the key, explicitly
    assert [
        e["epoch"] for e in [dict(x["args"]) for x in reg.agencies.events.KeyEnabled().process_receipt(sent.receipt)]
    ] == [1]
    assert reg.key(key.address).enabled
    reg.anchor_batch(issuing.deployer, key, "BJ-PSB", "ID_CARD", random_hashes(2))
    expect("KeyAlreadyEnabled", reg.enable_key, new_admin, key.address)
    # a key added after the re-admission is enabled from the start
    fresh = Account.create()
    reg.add_key(new_admin, "BJ-PSB", fresh.address)
    assert reg.key(fresh.address).enabled


def test_enabling_needs_an_admin_of_the_region(issuing: Consortium) -> None:
    reg = issuing.registry
    key = issuing.add_agency("BJ-PSB", BJ, ["ID_CARD"])
    remove_region(issuing, BJ)
    admit_region(issuing, BJ, Account.create().address)
    for caller in (issuing.admins[BJ], issuing.admins[GD], key):  # the old admin has no power
        expect("NotAdminOfRegion", reg.enable_key, caller, key.address)
        expect("NotAdminOfRegion", reg.reactivate_agency, caller, "BJ-PSB")
