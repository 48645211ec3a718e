"""Cross-region recognition rules: "region V recognises type T issued in region S (or any
region) from .. until ..", set and removed by V's admins, read by ``isRecognized`` and by the
on-chain ``verify`` view, and replayed from events by ``Registry.recognitions()``.

Every test runs against a real anvil node with its own fresh deployment.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from helpers import REGIONS, Consortium, advance, chain_now, expect, same
from web3.logs import DISCARD

from ledger.contracts import Reason, Status, Verdict
from ledger.ids import type_id
from ledger.merkle import build_tree
from ledger.registry import ANY_REGION, AnchoredBatch, RecognitionInfo

GD, ZJ, BJ = REGIONS
JS = 320000  # not a member

VALID = (Verdict.OK, Reason.NONE)
NOT_RECOGNIZED = (Verdict.NOT_RECOGNIZED, Reason.NO_RECOGNITION_RULE)


# ---------------------------------------------------------------------- helpers


def events(c: Consortium, name: str, sent) -> list[dict[str, Any]]:
    logs = getattr(c.registry.consortium.events, name)().process_receipt(sent.receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


def rule(c: Consortium, verifier: int, cert_type: str, issuer: int) -> tuple[bool, int, int]:
    r = c.chain.call(c.registry.consortium.functions.recognitionRule(verifier, type_id(cert_type), issuer))
    return (bool(r[0]), int(r[1]), int(r[2]))


def recognized(c: Consortium, verifier: int, cert_type: str, issuer: int, at: int | None = None) -> bool:
    return c.registry.is_recognized(verifier, cert_type, issuer, at)


def anchor(c: Consortium, agency: str, cert_type: str) -> AnchoredBatch:
    return c.registry.anchor_batch(
        c.deployer, c.agency_keys[agency], agency, cert_type, [Account.create().key for _ in range(2)]
    )


def verdict(c: Consortium, batch: AnchoredBatch, verifier: int) -> tuple[Verdict, Reason]:
    h = batch.cert_hashes[0]
    return c.registry.verify_onchain(batch.agency, h, batch.root, build_tree(batch.cert_hashes).proof(h), verifier)


# ---------------------------------------------------------------------- setting and removing


def test_verifier_admin_sets_rule_and_event_is_emitted(issuing: Consortium) -> None:
    reg = issuing.registry
    now = chain_now(issuing.chain)
    sent = reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, now - 10, now + 3600)
    assert events(issuing, "RecognitionSet", sent) == [
        {
            "verifier": ZJ,
            "typeId": type_id("ID_CARD"),
            "issuer": GD,
            "validFrom": now - 10,
            "validUntil": now + 3600,
        }
    ]
    assert rule(issuing, ZJ, "ID_CARD", GD) == (True, now - 10, now + 3600)
    assert recognized(issuing, ZJ, "ID_CARD", GD)


def test_rule_is_replaced_by_a_new_set(issuing: Consortium) -> None:
    reg = issuing.registry
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, 0, 1000)
    assert not recognized(issuing, ZJ, "ID_CARD", GD)  # window long over
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert rule(issuing, ZJ, "ID_CARD", GD) == (True, 0, 0)
    assert recognized(issuing, ZJ, "ID_CARD", GD)


def test_remove_rule_emits_event_and_stops_recognition(issuing: Consortium) -> None:
    reg = issuing.registry
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    sent = reg.remove_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert events(issuing, "RecognitionRemoved", sent) == [{"verifier": ZJ, "typeId": type_id("ID_CARD"), "issuer": GD}]
    assert rule(issuing, ZJ, "ID_CARD", GD) == (False, 0, 0)
    assert not recognized(issuing, ZJ, "ID_CARD", GD)


@pytest.mark.parametrize("who", ["other_region_admin", "issuer_admin", "agency_key", "stranger"])
def test_only_verifier_region_admin_may_set_or_remove_rules(issuing: Consortium, who: str) -> None:
    reg = issuing.registry
    caller = {
        "other_region_admin": issuing.admins[BJ],
        "issuer_admin": issuing.admins[GD],  # the issuing region cannot impose recognition
        "agency_key": issuing.agency_keys["ZJ-EDU"],
        "stranger": Account.create(),
    }[who]
    args = expect("NotAdminOfRegion", reg.set_recognition, caller, ZJ, "ID_CARD", GD)
    assert same(args["account"], caller) and args["region"] == ZJ
    assert not recognized(issuing, ZJ, "ID_CARD", GD)

    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    args = expect("NotAdminOfRegion", reg.remove_recognition, caller, ZJ, "ID_CARD", GD)
    assert same(args["account"], caller) and args["region"] == ZJ
    assert recognized(issuing, ZJ, "ID_CARD", GD)


def test_rules_for_a_non_member_verifier_cannot_be_set(issuing: Consortium) -> None:
    expect("NotAdminOfRegion", issuing.registry.set_recognition, issuing.admins[GD], JS, "ID_CARD", GD)


def test_rule_for_unknown_type_is_rejected(issuing: Consortium) -> None:
    args = expect("UnknownType", issuing.registry.set_recognition, issuing.admins[ZJ], ZJ, "DRIVING_LICENCE", GD)
    assert args == {"typeId": "DRIVING_LICENCE"}


@pytest.mark.parametrize("bad", [99999, 1000000, 1])
def test_rule_with_invalid_issuer_code_is_rejected(issuing: Consortium, bad: int) -> None:
    fn = issuing.registry.consortium.functions.setRecognition(ZJ, type_id("ID_CARD"), bad, 0, 0)
    assert expect("InvalidRegionCode", issuing.chain.transact, issuing.admins[ZJ], fn) == {"region": bad}


@pytest.mark.parametrize("window", [(1000, 1000), (1000, 999), (2, 1)])
def test_rule_with_empty_or_inverted_window_is_rejected(issuing: Consortium, window: tuple[int, int]) -> None:
    valid_from, valid_until = window
    args = expect(
        "InvalidValidityWindow",
        issuing.registry.set_recognition,
        issuing.admins[ZJ],
        ZJ,
        "ID_CARD",
        GD,
        valid_from,
        valid_until,
    )
    assert args == {"validFrom": valid_from, "validUntil": valid_until}


def test_open_ended_rule_may_start_any_time(issuing: Consortium) -> None:
    reg = issuing.registry
    later = chain_now(issuing.chain) + 10**6
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, later, 0)
    assert rule(issuing, ZJ, "ID_CARD", GD) == (True, later, 0)
    assert not recognized(issuing, ZJ, "ID_CARD", GD)
    assert recognized(issuing, ZJ, "ID_CARD", GD, later)


def test_removing_a_missing_rule_is_rejected(issuing: Consortium) -> None:
    reg = issuing.registry
    args = expect("UnknownRecognitionRule", reg.remove_recognition, issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert args == {"verifier": ZJ, "typeId": "ID_CARD", "issuer": GD}
    # a specific rule is not the any-region rule, and vice versa
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    args = expect("UnknownRecognitionRule", reg.remove_recognition, issuing.admins[ZJ], ZJ, "ID_CARD", None)
    assert args == {"verifier": ZJ, "typeId": "ID_CARD", "issuer": 0}
    # removing twice
    reg.remove_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    expect("UnknownRecognitionRule", reg.remove_recognition, issuing.admins[ZJ], ZJ, "ID_CARD", GD)


# ---------------------------------------------------------------------- what a rule covers


def test_specific_issuer_rule_covers_only_that_issuer_and_type(issuing: Consortium) -> None:
    issuing.registry.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert recognized(issuing, ZJ, "ID_CARD", GD)
    assert not recognized(issuing, ZJ, "ID_CARD", BJ)
    assert not recognized(issuing, ZJ, "DEGREE", GD)
    # another verifier is not bound by ZJ's rule
    assert not recognized(issuing, BJ, "ID_CARD", GD)


def test_any_region_rule_covers_every_issuer(issuing: Consortium) -> None:
    reg = issuing.registry
    sent = reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", None)
    assert events(issuing, "RecognitionSet", sent)[0]["issuer"] == ANY_REGION
    assert rule(issuing, ZJ, "ID_CARD", 0) == (True, 0, 0)
    for issuer in (GD, BJ, JS):
        assert recognized(issuing, ZJ, "ID_CARD", issuer)
    assert not recognized(issuing, ZJ, "DEGREE", GD)
    assert not recognized(issuing, BJ, "ID_CARD", GD)


def test_specific_and_any_region_rules_work_together(issuing: Consortium) -> None:
    reg = issuing.registry
    now = chain_now(issuing.chain)
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, 0, now + 1000)  # specific, ends soon
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", 0, now + 500, 0)  # any region, starts later
    assert recognized(issuing, ZJ, "ID_CARD", GD, now)
    assert not recognized(issuing, ZJ, "ID_CARD", BJ, now)
    assert recognized(issuing, ZJ, "ID_CARD", BJ, now + 500)
    assert recognized(issuing, ZJ, "ID_CARD", GD, now + 2000)  # specific over, any-region covers
    reg.remove_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", 0)
    assert not recognized(issuing, ZJ, "ID_CARD", GD, now + 2000)
    assert recognized(issuing, ZJ, "ID_CARD", GD, now)  # the specific rule is untouched


def test_time_window_bounds_from_inclusive_until_exclusive(issuing: Consortium) -> None:
    start, end = 2_000_000_000, 2_000_086_400
    issuing.registry.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, start, end)
    assert not recognized(issuing, ZJ, "ID_CARD", GD, start - 1)
    assert recognized(issuing, ZJ, "ID_CARD", GD, start)
    assert recognized(issuing, ZJ, "ID_CARD", GD, end - 1)
    assert not recognized(issuing, ZJ, "ID_CARD", GD, end)
    assert not recognized(issuing, ZJ, "ID_CARD", GD, end + 10**6)


def test_region_always_recognises_its_own_certificates(issuing: Consortium) -> None:
    for region in REGIONS:
        for cert_type in ("ID_CARD", "DEGREE", "BUSINESS_LICENSE"):
            assert recognized(issuing, region, cert_type, region)
            assert recognized(issuing, region, cert_type, region, 0)
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    assert verdict(issuing, batch, GD) == VALID
    assert verdict(issuing, anchor(issuing, "ZJ-EDU", "DEGREE"), ZJ) == VALID


# ---------------------------------------------------------------------- the verify view


def test_verify_is_not_recognized_without_rule_and_valid_with_one(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    assert verdict(issuing, batch, 0) == VALID  # 0 skips the recognition check
    assert verdict(issuing, batch, GD) == VALID
    assert verdict(issuing, batch, ZJ) == NOT_RECOGNIZED
    assert verdict(issuing, batch, BJ) == NOT_RECOGNIZED

    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert verdict(issuing, batch, ZJ) == VALID
    assert verdict(issuing, batch, BJ) == NOT_RECOGNIZED

    reg.set_recognition(issuing.admins[BJ], BJ, "ID_CARD", None)
    assert verdict(issuing, batch, BJ) == VALID

    reg.remove_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD)
    assert verdict(issuing, batch, ZJ) == NOT_RECOGNIZED


def test_verify_rule_for_other_type_or_issuer_does_not_help(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    reg.set_recognition(issuing.admins[ZJ], ZJ, "DEGREE", GD)
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", BJ)
    assert verdict(issuing, batch, ZJ) == NOT_RECOGNIZED


def test_verify_honours_rule_start(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    start = chain_now(issuing.chain) + 1000
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", GD, start, 0)
    assert verdict(issuing, batch, ZJ) == NOT_RECOGNIZED
    advance(issuing.chain, 1000)
    assert verdict(issuing, batch, ZJ) == VALID


def test_verify_honours_rule_end(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    end = chain_now(issuing.chain) + 1000
    reg.set_recognition(issuing.admins[ZJ], ZJ, "ID_CARD", None, 0, end)
    assert verdict(issuing, batch, ZJ) == VALID
    advance(issuing.chain, 1000)
    assert verdict(issuing, batch, ZJ) == NOT_RECOGNIZED


def test_status_verdicts_come_before_recognition(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = anchor(issuing, "GD-PSB", "ID_CARD")
    reg.set_certificate_status(issuing.admins[GD], "GD-PSB", batch.cert_hashes[0], Status.REVOKED, "FORGED")
    assert verdict(issuing, batch, ZJ) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)


def test_unanchored_root_is_unknown_for_any_verifier(issuing: Consortium) -> None:
    h = b"\x07" * 32
    for verifier in (0, GD, ZJ):
        assert issuing.registry.verify_onchain("GD-PSB", h, b"\x08" * 32, [], verifier) == (
            Verdict.UNKNOWN,
            Reason.NOT_ANCHORED,
        )


# ---------------------------------------------------------------------- Registry.recognitions()


def test_recognitions_replays_set_replace_and_remove(issuing: Consortium) -> None:
    reg = issuing.registry
    zj, bj, gd = issuing.admins[ZJ], issuing.admins[BJ], issuing.admins[GD]
    assert reg.recognitions() == []

    reg.set_recognition(zj, ZJ, "ID_CARD", GD, 100, 200)
    reg.set_recognition(zj, ZJ, "ID_CARD", None)
    reg.set_recognition(bj, BJ, "DEGREE", ZJ, 5, 0)
    reg.set_recognition(gd, GD, "BUSINESS_LICENSE", None, 0, 10**10)
    reg.set_recognition(zj, ZJ, "ID_CARD", GD, 300, 0)  # replaces the first window
    reg.remove_recognition(bj, BJ, "DEGREE", ZJ)
    reg.remove_recognition(zj, ZJ, "ID_CARD", None)
    reg.set_recognition(zj, ZJ, "ID_CARD", None, 7, 8)  # set again after removal
    reg.set_recognition(bj, BJ, "ID_CARD", GD)

    assert reg.recognitions() == [
        RecognitionInfo(BJ, "ID_CARD", GD, 0, 0),  # sorted by verifier code, type, issuer
        RecognitionInfo(ZJ, "ID_CARD", 0, 7, 8),
        RecognitionInfo(ZJ, "ID_CARD", GD, 300, 0),
        RecognitionInfo(GD, "BUSINESS_LICENSE", 0, 0, 10**10),
    ]
    # the replay agrees with the contract's own view
    for r in reg.recognitions():
        assert rule(issuing, r.verifier, r.type, r.issuer) == (True, r.valid_from, r.valid_until)
    assert rule(issuing, BJ, "DEGREE", ZJ) == (False, 0, 0)

    shown = {(r["verifier_region"], r["type"], r["issuer_region"]) for r in (x.to_json() for x in reg.recognitions())}
    assert (ZJ, "ID_CARD", None) in shown and (BJ, "ID_CARD", GD) in shown


def test_recognitions_ignore_other_deployments(issuing: Consortium, chain) -> None:
    from helpers import new_consortium

    other = new_consortium(chain)
    other.add_type("ID_CARD")
    other.registry.set_recognition(other.admins[ZJ], ZJ, "ID_CARD", GD)
    assert issuing.registry.recognitions() == []
    assert len(other.registry.recognitions()) == 1
