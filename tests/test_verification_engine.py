"""The verification engine (ledger.verification) through Python, over both sources: the mirror
(SQLite and PostgreSQL) and the chain itself.

Documents come from the real issuance pipeline (``api_fixtures.world``); every verdict of
docs/verification.md is produced from a real chain state, and the failing check is named. Outages (node
down, mirror behind or stale, database unreachable) must give ERROR, never REVOKED or INVALID.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    BJ,
    GD,
    ZJ,
    Mirror,
    World,
    chain_time,
    check_of,
    failing,
    flip_hex,
    forge_signature,
    id_rows,
    issue_rows,
    new_deployment,
    open_mirror,
    skipped_checks,
    start_anvil,
    unanchored_document,
)
from eth_account import Account
from helpers import FakeClock, dead_url, free_port, require_postgres
from mirror_helpers import past_the_cache

from ledger.chain import Chain
from ledger.contracts import Status
from ledger.document import Anchor, Certificate
from ledger.errors import InvalidInput
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree
from ledger.mirror import MirrorQueries, MirrorStore
from ledger.qr import compact_payload, full_payload
from ledger.signing import sign_batch
from ledger.verification import MirrorSource, Verifier
from ledger.watch import NodeWatch

CHECK_NAMES = ["integrity", "anchored", "issuer_authorized", "key_valid", "status", "validity_period", "recognition"]


def verify(verifier: Verifier, doc: dict[str, Any], **kw: Any) -> Any:
    cert, stated = Certificate.from_json(doc)
    return verifier.verify_document(cert, stated, **kw)


def mine(chain: Chain, n: int) -> None:
    for _ in range(n):
        chain.w3.provider.make_request("evm_mine", [])


@pytest.fixture(params=["mirror-sqlite", "mirror-postgresql", "chain"])
def source(request: pytest.FixtureRequest, world: World) -> str:
    if request.param == "mirror-postgresql":
        world.mirror("postgresql")
    return request.param


def verifier_for(world: World, source: str) -> Verifier:
    if source == "chain":
        return world.chain_verifier()
    return world.mirror_verifier(source.split("-", 1)[1])


@pytest.fixture
def v(world: World, source: str) -> Verifier:
    return verifier_for(world, source)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_mirror(request: pytest.FixtureRequest, world: World, tmp_path: Path) -> Any:
    """A new, empty mirror database of the world's deployment (not yet indexed)."""
    if request.param == "sqlite":
        m = open_mirror("sqlite", f"sqlite:///{tmp_path}/scratch.db", world.node.url, world.deployment)
        yield m
        m.store.dispose()
        return
    require_postgres()
    from api_helpers import PgDatabase

    db = PgDatabase()
    m = open_mirror("postgresql", db.url, world.node.url, world.deployment)
    try:
        yield m
    finally:
        m.store.dispose()
        db.drop()


# ---------------------------------------------------------------------- VALID and the result shape


def test_valid_document(world: World, v: Verifier, source: str) -> None:
    doc = world.doc("id", 0)
    r = verify(v, doc)
    assert r.verdict == "VALID", failing(r)
    assert [c.name for c in r.checks] == CHECK_NAMES
    assert all(c.ok is True for c in r.checks[:-1]), [c.to_json() for c in r.checks]
    assert check_of(r, "recognition")["ok"] is None  # no verifier region: skipped
    out = r.to_json()
    cert = out["certificate"]
    assert cert["hash"] == doc["hash"]
    assert cert["type"] == "ID_CARD" and cert["issuer_region"] == GD and cert["agency"] == "GD-PSB"
    assert cert["batch_root"] == doc["anchor"]["root"]
    assert cert["valid_from"] == "2020-01-01" and cert["valid_until"] is None
    assert cert["anchored_at"]["time"].endswith("Z")
    if source.startswith("mirror"):
        assert isinstance(cert["anchored_at"]["block"], int) and cert["anchored_at"]["tx"].startswith("0x")
    assert out["source"]["kind"] == source.split("-")[0]
    assert isinstance(out["source"]["block"], int) and out["source"]["lag_blocks"] == 0
    assert out["verifier_region"] is None
    assert out["as_of"].endswith("Z")
    assert out["disclosed_fields"] == doc["fields"] and out["hidden_fields"] == []


def test_every_issued_certificate_of_a_valid_batch_is_valid(world: World, v: Verifier) -> None:
    for name in ("id", "biz", "degree", "cmp_early"):
        for i, doc in enumerate(world.docs[name]):
            if name == "id" and i in (1, 2):
                continue
            r = verify(v, doc)
            assert r.verdict == "VALID", (name, i, failing(r))


def test_payloads_full_and_compact(world: World, source: str, v: Verifier) -> None:
    cert = world.cert("id", 0)
    full = v.verify_payload(full_payload(cert), verifier_region=ZJ)
    assert full.verdict == "VALID", failing(full)
    assert check_of(full, "integrity")["ok"] is True
    compact = compact_payload(cert.compute_hash(), "ID_CARD", GD, "GD-PSB")
    if source == "chain":
        # The chain keeps batch roots, not certificate hashes: a bare hash cannot be decided.
        r = v.verify_payload(compact)
        assert r.verdict == "ERROR"
        return
    r = v.verify_payload(compact, verifier_region=ZJ)
    # every ledger check passes, but a compact QR carries no validity dates: never VALID
    assert r.verdict == "INCOMPLETE", failing(r)
    assert failing(r) == []
    assert skipped_checks(r) == ["integrity", "validity_period"]
    assert check_of(r, "validity_period")["code"] == "NO_DATES"
    assert r.certificate["batch_root"] == world.docs["id"][0]["anchor"]["root"]
    assert r.certificate["agency"] == "GD-PSB"


def test_compact_payload_claims_are_checked(world: World) -> None:
    v = world.mirror_verifier()
    h = world.cert("id", 0).compute_hash()
    wrong_type = v.verify_payload(compact_payload(h, "DEGREE", GD, "GD-PSB"))
    assert wrong_type.verdict == "INVALID" and ("issuer_authorized", "WRONG_TYPE") in failing(wrong_type)
    wrong_region = v.verify_payload(compact_payload(h, "ID_CARD", ZJ, "GD-PSB"))
    assert wrong_region.verdict == "INVALID" and ("issuer_authorized", "WRONG_REGION") in failing(wrong_region)
    # a hash is looked up within the agency the payload names: not GD-AMR's certificate
    wrong_agency = v.verify_payload(compact_payload(h, "ID_CARD", GD, "GD-AMR"))
    assert wrong_agency.verdict == "UNKNOWN" and failing(wrong_agency)[0] == ("anchored", "NOT_ANCHORED")
    assert check_of(wrong_agency, "anchored")["params"] == {"agency": "GD-AMR", "others": ["GD-PSB"]}


# ---------------------------------------------------------------------- INVALID: tampering


def _tamper_field(doc: dict[str, Any]) -> dict[str, Any]:
    doc["fields"]["name"] = doc["fields"]["name"] + "X"
    return doc


def _tamper_field_and_drop_hash(doc: dict[str, Any]) -> dict[str, Any]:
    doc["fields"]["name"] = "李四"
    del doc["hash"]
    return doc


def _tamper_salt(doc: dict[str, Any]) -> dict[str, Any]:
    doc["salts"]["name"] = flip_hex(doc["salts"]["name"])
    return doc


def _tamper_validity(doc: dict[str, Any]) -> dict[str, Any]:
    doc["validUntil"] = "2099-12-31"
    return doc


def _tamper_region(doc: dict[str, Any]) -> dict[str, Any]:
    doc["issuer"]["region"] = ZJ
    return doc


def _tamper_stated_hash(doc: dict[str, Any]) -> dict[str, Any]:
    doc["hash"] = flip_hex(doc["hash"])
    return doc


def _tamper_proof(doc: dict[str, Any]) -> dict[str, Any]:
    doc["anchor"]["proof"][0] = flip_hex(doc["anchor"]["proof"][0])
    return doc


def _drop_proof_element(doc: dict[str, Any]) -> dict[str, Any]:
    doc["anchor"]["proof"].pop()
    return doc


def _tamper_root(doc: dict[str, Any]) -> dict[str, Any]:
    doc["anchor"]["root"] = flip_hex(doc["anchor"]["root"])
    return doc


TAMPERS = {
    "field": (_tamper_field, "HASH_MISMATCH"),
    "field-no-stated-hash": (_tamper_field_and_drop_hash, "PROOF_MISMATCH"),
    "salt": (_tamper_salt, "HASH_MISMATCH"),
    "validUntil": (_tamper_validity, "HASH_MISMATCH"),
    "issuer-region": (_tamper_region, "HASH_MISMATCH"),
    "stated-hash": (_tamper_stated_hash, "HASH_MISMATCH"),
    "proof": (_tamper_proof, "PROOF_MISMATCH"),
    "proof-truncated": (_drop_proof_element, "PROOF_MISMATCH"),
    "root": (_tamper_root, "PROOF_MISMATCH"),
}


@pytest.mark.parametrize("what", list(TAMPERS))
def test_tampered_document_is_invalid_and_names_integrity(world: World, v: Verifier, what: str) -> None:
    edit, code = TAMPERS[what]
    r = verify(v, edit(world.doc("id", 0)))
    assert r.verdict == "INVALID"
    assert failing(r)[0] == ("integrity", code)
    assert check_of(r, "integrity")["ok"] is False


def test_document_without_anchor_is_invalid(world: World) -> None:
    doc = world.doc("id", 0)
    del doc["anchor"]
    r = verify(world.mirror_verifier(), doc)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "NO_ANCHOR")


@pytest.mark.parametrize("edit", ["chainId", "registry", "both"])
def test_document_from_another_ledger_is_invalid(world: World, v: Verifier, edit: str) -> None:
    doc = world.doc("id", 0)
    if edit in ("chainId", "both"):
        doc["anchor"]["chainId"] = 1
    if edit in ("registry", "both"):
        doc["anchor"]["registry"] = "0x" + "ab" * 20
    r = verify(v, doc)
    assert r.verdict == "INVALID"
    assert failing(r)[0] == ("anchored", "OTHER_LEDGER")


def test_registry_address_case_does_not_matter(world: World, v: Verifier) -> None:
    doc = world.doc("id", 0)
    doc["anchor"]["registry"] = doc["anchor"]["registry"].lower()
    assert verify(v, doc).verdict == "VALID"


def test_forged_signature_is_invalid(world: World, v: Verifier) -> None:
    r = verify(v, forge_signature(world.doc("id", 0)))
    assert r.verdict == "INVALID"
    assert failing(r)[0] == ("key_valid", "FORGED_SIGNATURE")


def test_signature_of_another_agency_key_is_forged(world: World, v: Verifier) -> None:
    """A real agency key of the consortium, but not the one that anchored the batch."""
    doc = world.doc("id", 0)
    a = doc["anchor"]
    sig = sign_batch(
        world.c.agency_keys["GD-AMR"],
        bytes.fromhex(a["root"][2:]),
        type_id("ID_CARD"),
        agency_id("GD-PSB"),
        a["chainId"],
        a["registry"],
    )
    doc["anchor"]["signature"] = "0x" + sig.hex()
    r = verify(v, doc)
    assert r.verdict == "INVALID" and failing(r)[0] == ("key_valid", "FORGED_SIGNATURE")


@pytest.mark.parametrize("signature", ["00" * 65, "ff" * 65, "11" * 64 + "05"])
def test_malformed_signature_is_invalid_not_error(world: World, v: Verifier, signature: str) -> None:
    """A 65-byte signature that recovers to no key is a broken document (INVALID), not an
    outage: ERROR would tell the verifier to retry later."""
    doc = world.doc("id", 0)
    doc["anchor"]["signature"] = "0x" + signature
    r = verify(v, doc)
    assert r.verdict == "INVALID", [c.to_json() for c in r.checks]
    assert failing(r)[0] in (("key_valid", "BAD_SIGNATURE"), ("key_valid", "FORGED_SIGNATURE"))


# ---------------------------------------------------------------------- disclosure


def test_disclosed_document_is_valid_and_lists_hidden_fields(world: World, v: Verifier) -> None:
    full = world.cert("id", 0)
    shown = full.disclose(["name"])
    doc = shown.to_json()
    assert "idNumber" not in doc["fields"]
    r = verify(v, doc, verifier_region=ZJ)
    assert r.verdict == "VALID", failing(r)
    out = r.to_json()
    assert out["disclosed_fields"] == {"name": full.fields["name"]}
    assert out["hidden_fields"] == sorted(set(full.fields) - {"name"})
    assert "hidden" in check_of(r, "integrity")["detail"]


def test_disclosing_nothing_still_verifies(world: World, v: Verifier) -> None:
    doc = world.cert("biz", 1).disclose([]).to_json()
    r = verify(v, doc)
    assert r.verdict == "VALID" and r.to_json()["disclosed_fields"] == {}


def test_disclosed_document_with_tampered_hidden_hash_is_invalid(world: World, v: Verifier) -> None:
    doc = world.cert("id", 0).disclose(["name"]).to_json()
    doc["hidden"]["idNumber"] = flip_hex(doc["hidden"]["idNumber"])
    r = verify(v, doc)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "HASH_MISMATCH")


# ---------------------------------------------------------------------- UNKNOWN


def test_never_anchored_document_is_unknown(world: World, v: Verifier) -> None:
    r = verify(v, unanchored_document(world.c))
    assert r.verdict == "UNKNOWN"
    assert failing(r)[0] == ("anchored", "NOT_ANCHORED")
    assert all(c.ok is None for c in r.checks[2:5]), "checks after anchoring are skipped"


def test_never_anchored_hash_is_unknown(world: World, mirror_kind: str) -> None:
    v = world.mirror_verifier(mirror_kind)
    r = v.verify_hash(Account.create().key, verifier_region=ZJ)
    assert r.verdict == "UNKNOWN" and failing(r)[0] == ("anchored", "NOT_ANCHORED")
    r = v.verify_payload(compact_payload(bytes(Account.create().key), "ID_CARD", GD, "GD-PSB"))
    assert r.verdict == "UNKNOWN"


# ---------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("name", "i", "verdict", "code"),
    [
        ("id", 1, "REVOKED", "REVOKED"),
        ("id", 2, "SUSPENDED", "SUSPENDED"),
        ("batch_revoked", 0, "REVOKED", "REVOKED"),
        ("batch_revoked", 2, "REVOKED", "REVOKED"),
        ("batch_suspended", 1, "SUSPENDED", "SUSPENDED"),
    ],
)
def test_status(world: World, v: Verifier, name: str, i: int, verdict: str, code: str) -> None:
    r = verify(v, world.doc(name, i), verifier_region=ZJ)
    assert r.verdict == verdict
    assert failing(r) == [("status", code)]


def test_reinstated_certificate_is_valid(world: World, v: Verifier, source: str) -> None:
    r = verify(v, world.doc("id", 3))
    assert r.verdict == "VALID"
    if source.startswith("mirror"):
        assert "reinstated" in check_of(r, "status")["detail"]


def test_status_detail_names_scope_and_reason(world: World) -> None:
    v = world.mirror_verifier()
    cert = check_of(verify(v, world.doc("id", 1)), "status")["detail"]
    assert "certificate" in cert and "HOLDER_REQUEST" in cert
    batch = check_of(verify(v, world.doc("batch_revoked", 1)), "status")["detail"]
    assert "batch" in batch and "ISSUED_IN_ERROR" in batch


def test_status_by_hash_alone(world: World, mirror_kind: str) -> None:
    v = world.mirror_verifier(mirror_kind)
    for name, i, verdict in [
        ("id", 0, "INCOMPLETE"),
        ("id", 1, "REVOKED"),
        ("id", 2, "SUSPENDED"),
        ("id", 3, "INCOMPLETE"),
        ("batch_revoked", 1, "REVOKED"),
        ("batch_suspended", 0, "SUSPENDED"),
        ("cmp_late", 0, "INVALID"),
        ("expired", 0, "INCOMPLETE"),
    ]:
        r = v.verify_hash(bytes.fromhex(world.hash(name, i)[2:]))
        assert r.verdict == verdict, (name, i, failing(r))


def test_expired_certificate_is_never_valid_by_hash_or_compact_qr(world: World, mirror_kind: str) -> None:
    """The attack: an expired certificate verified VALID by its compact QR (or bare hash), since
    the validity dates are in the document. Without the dates the answer is INCOMPLETE, and it
    says which checks did not run; with the document it is EXPIRED."""
    v = world.mirror_verifier(mirror_kind)
    cert = world.cert("expired", 0)
    h = cert.compute_hash()
    for r in (
        v.verify_hash(h, verifier_region=ZJ, agency="GD-PSB"),
        v.verify_payload(compact_payload(h, "ID_CARD", GD, "GD-PSB"), verifier_region=ZJ),
    ):
        assert r.verdict == "INCOMPLETE", failing(r)
        assert check_of(r, "validity_period")["outcome"] == "SKIPPED"
        assert check_of(r, "integrity")["outcome"] == "SKIPPED"
    assert verify(v, world.doc("expired", 0), verifier_region=ZJ).verdict == "EXPIRED"


def test_status_as_of_a_past_time(world: World, mirror_kind: str) -> None:
    """Before the revocation the certificate was valid; at and after it, revoked."""
    v = world.mirror_verifier(mirror_kind)
    before = world.times["issued"]
    at = world.times["revoked"]
    assert before < at
    for name, i, now_verdict in [
        ("id", 1, "REVOKED"),
        ("id", 2, "SUSPENDED"),
        ("batch_revoked", 0, "REVOKED"),
        ("batch_suspended", 0, "SUSPENDED"),
    ]:
        r = verify(v, world.doc(name, i), as_of=before)
        assert r.verdict == "VALID", (name, i, failing(r))
        assert r.to_json()["as_of"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before))
        assert verify(v, world.doc(name, i)).verdict == now_verdict
        h = bytes.fromhex(world.hash(name, i)[2:])
        assert v.verify_hash(h, as_of=before).verdict == "INCOMPLETE"
    assert verify(v, world.doc("id", 1), as_of=at).verdict == "REVOKED"


def test_chain_source_does_not_answer_a_past_time_with_the_current_status(world: World) -> None:
    """The chain source knows only current statuses. Asked for a time before a revocation it
    must not claim REVOKED (the certificate was valid then): it may refuse the question or
    answer it correctly, but not answer another one."""
    v = world.chain_verifier()
    try:
        r = verify(v, world.doc("id", 1), as_of=world.times["issued"])
    except InvalidInput:
        return
    assert r.verdict in ("VALID", "ERROR"), failing(r)


def test_future_as_of_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        verify(world.mirror_verifier(), world.doc("id", 0), as_of=int(time.time()) + 3600)


# ---------------------------------------------------------------------- validity period


def test_expired_document(world: World, v: Verifier) -> None:
    r = verify(v, world.doc("expired"))
    assert r.verdict == "EXPIRED"
    assert failing(r) == [("validity_period", "EXPIRED")]
    assert "2021-01-01" in check_of(r, "validity_period")["detail"]


def _validity_at(doc: dict[str, Any], as_of: int) -> Any:
    """The validity_period check alone, for a given time (verification as a whole answers
    UNKNOWN for a time before the certificate was anchored)."""
    from ledger.verification.checks import Case, ValidityPeriod

    cert, _ = Certificate.from_json(doc)
    case = Case(None, None, as_of, None, cert.compute_hash(), document=cert, latest=False)  # type: ignore[arg-type]
    return ValidityPeriod().run(case)


def test_expiry_follows_as_of(world: World, mirror_kind: str) -> None:
    """validUntil 2021-01-01 is the last valid day, in China Standard Time (UTC+8)."""
    doc = world.doc("expired")
    for inside in (1593561600, 1609516799):  # 2020-07-01, 2021-01-01T23:59:59+08:00
        assert _validity_at(doc, inside).ok is True
    outside = _validity_at(doc, 1609516800)  # 2021-01-02T00:00:00+08:00
    assert outside.ok is False and outside.code == "EXPIRED"
    v = world.mirror_verifier(mirror_kind)
    assert verify(v, doc).verdict == "EXPIRED"
    # before the certificate was anchored the ledger did not know it: UNKNOWN, not VALID
    r = verify(v, doc, as_of=1593561600)
    assert r.verdict == "UNKNOWN" and failing(r)[0] == ("anchored", "NOT_YET_ANCHORED")


def test_not_yet_valid_document(world: World, v: Verifier) -> None:
    r = verify(v, world.doc("future"))
    assert r.verdict == "EXPIRED"
    assert failing(r) == [("validity_period", "NOT_YET_VALID")]


def test_valid_from_follows_as_of(world: World) -> None:
    check = _validity_at(world.doc("id", 0), 1546300800)  # 2019-01-01, before validFrom 2020-01-01
    assert check.ok is False and check.code == "NOT_YET_VALID"


def test_revoked_outranks_expired(world: World, v: Verifier) -> None:
    """Verdict precedence: the first failing check in order decides (status before validity)."""
    doc = world.doc("id", 1)
    r = verify(v, doc)
    assert r.verdict == "REVOKED"


# ---------------------------------------------------------------------- recognition


@pytest.mark.parametrize(
    ("name", "region", "verdict"),
    [
        ("biz", ZJ, "VALID"),  # 330000 recognises BUSINESS_LICENSE from 440000
        ("biz", BJ, "NOT_RECOGNIZED"),  # 110000 has no rule for it
        ("biz", GD, "VALID"),  # its own region
        ("id", ZJ, "VALID"),  # 330000 recognises ID_CARD from any region
        ("id", BJ, "NOT_RECOGNIZED"),
        ("degree", BJ, "VALID"),  # 110000 recognises DEGREE from any region
        ("degree", GD, "NOT_RECOGNIZED"),
        ("degree", ZJ, "VALID"),  # own region
    ],
)
def test_recognition(world: World, v: Verifier, name: str, region: int, verdict: str) -> None:
    r = verify(v, world.doc(name, 0), verifier_region=region)
    assert r.verdict == verdict, failing(r)
    rec = check_of(r, "recognition")
    if verdict == "NOT_RECOGNIZED":
        assert failing(r) == [("recognition", "NO_RULE")]
        assert str(region) in rec["detail"]
    else:
        assert rec["ok"] is True
    assert r.verifier_region == region


def test_recognition_by_hash(world: World, mirror_kind: str) -> None:
    v = world.mirror_verifier(mirror_kind)
    h = bytes.fromhex(world.hash("biz", 0)[2:])
    assert v.verify_hash(h, verifier_region=ZJ).verdict == "INCOMPLETE"
    assert v.verify_hash(h, verifier_region=BJ).verdict == "NOT_RECOGNIZED"


def test_recognition_rule_as_of_before_it_existed(world: World, mirror_kind: str) -> None:
    """The rules were set before anything was issued; as of 2020 none existed."""
    queries = world.mirror(mirror_kind).queries
    assert queries.recognition(ZJ, "BUSINESS_LICENSE", GD, 1593561600) is None
    assert queries.recognition(ZJ, "BUSINESS_LICENSE", GD, int(time.time())) is not None
    v = world.mirror_verifier(mirror_kind)
    assert verify(v, world.doc("biz", 0), verifier_region=ZJ).verdict == "VALID"


# ---------------------------------------------------------------------- keys


def test_key_compromised_before_the_anchor_is_invalid(world: World, v: Verifier) -> None:
    r = verify(v, world.doc("cmp_late"), verifier_region=ZJ)
    assert r.verdict == "INVALID"
    assert failing(r)[0] == ("key_valid", "KEY_COMPROMISED")


def test_anchor_before_the_compromise_stays_valid(world: World, v: Verifier) -> None:
    r = verify(v, world.doc("cmp_early"), verifier_region=ZJ)
    assert r.verdict == "VALID", failing(r)


# ---------------------------------------------------------------------- ERROR: outages


def test_node_down_is_error_never_revoked_or_invalid(world: World) -> None:
    v = world.chain_verifier(dead_url())
    for name, i in [("id", 0), ("id", 1), ("id", 2), ("cmp_late", 0), ("batch_revoked", 0)]:
        r = verify(v, world.doc(name, i), verifier_region=ZJ)
        assert r.verdict == "ERROR", (name, i, failing(r))
        assert all(c.code in ("OK", "UNAVAILABLE") for c in r.checks), [c.to_json() for c in r.checks]
        out = r.to_json()
        assert out["source"]["kind"] == "chain" and out["source"]["block"] is None and out["source"].get("error")
    r = v.verify_payload(full_payload(world.cert("id", 1)))
    assert r.verdict == "ERROR"


def test_node_down_still_reports_a_tampered_document(world: World) -> None:
    """Integrity needs no source: a document that does not hash to its own hash is INVALID
    whether or not the node answers (the verdict is not caused by the outage)."""
    doc = _tamper_field(world.doc("id", 0))
    r = verify(world.chain_verifier(dead_url()), doc)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "HASH_MISMATCH")


def test_node_dies_during_a_chain_verification_is_error(world: World) -> None:
    """The node answers the one call that reads a certificate's facts, then goes away before a
    later question (the field names of a disclosed document's type): ERROR, never INVALID."""
    v = world.chain_verifier()
    src = v.source
    real_inspection = src.registry.inspection

    def inspection_then_die(*args: Any) -> Any:  # the answer read, the node goes away
        answer = real_inspection(*args)
        dead = world.chain_verifier(dead_url()).source
        src.registry, src.node = dead.registry, dead.node
        return answer

    src.registry.inspection = inspection_then_die  # type: ignore[method-assign]
    disclosed = world.cert("id", 1).disclose(["name"]).to_json()
    r = verify(v, disclosed)
    assert r.verdict == "ERROR", [c.to_json() for c in r.checks]
    assert failing(r)[0] == ("integrity", "UNAVAILABLE")


def test_node_dead_before_a_chain_verification_is_error(world: World) -> None:
    r = verify(world.chain_verifier(dead_url()), world.doc("id", 1))
    assert r.verdict == "ERROR" and all(c["code"] == "UNAVAILABLE" for c in r.to_json()["checks"][1:])


def test_mirror_too_far_behind_is_error(world: World, scratch_mirror: Mirror) -> None:
    m = scratch_mirror
    m.sync()
    clock = FakeClock()
    v = Verifier(MirrorSource(MirrorQueries(m.store, clock=clock), max_lag_blocks=3), world.deployment)
    assert verify(v, world.doc("id", 0)).verdict == "VALID"
    mine(world.chain, 5)
    m.indexer.target_block()  # the indexer has seen the new head but not indexed up to it
    past_the_cache(clock)
    for name, i in [("id", 0), ("id", 1), ("cmp_late", 0)]:
        r = verify(v, world.doc(name, i))
        assert r.verdict == "ERROR", (name, i, failing(r))
        assert "behind" in r.to_json()["source"]["error"]
        assert v.verify_hash(bytes.fromhex(world.hash(name, i)[2:])).verdict == "ERROR"
    m.sync()
    past_the_cache(clock)
    assert verify(v, world.doc("id", 1)).verdict == "REVOKED"


def test_mirror_behind_a_stopped_indexer_is_error(world: World, scratch_mirror: Mirror) -> None:
    """Blocks mined while the indexer is stopped: the mirror is behind the chain even though
    its indexer never saw the new head. Answering VALID with ``lag_blocks: 0`` (until
    max_staleness_seconds, 60 s, runs out) hides a revocation in those blocks; the verdict
    must be ERROR once the chain is more than max_lag_blocks ahead."""
    m = scratch_mirror
    m.sync()
    # as the API configures it: the lag is measured against the node's own head
    clock = FakeClock()
    queries = MirrorQueries(m.store, clock=clock)
    v = Verifier(MirrorSource(queries, max_lag_blocks=3, watch=NodeWatch(world.chain.raw)), world.deployment)
    mine(world.chain, 6)  # no indexer step at all
    past_the_cache(clock)
    r = verify(v, world.doc("id", 0))
    assert r.verdict == "ERROR", (r.verdict, r.to_json()["source"])


def test_mirror_within_the_lag_limit_answers(world: World, scratch_mirror: Mirror) -> None:
    m = scratch_mirror
    m.sync()
    clock = FakeClock()
    v = Verifier(MirrorSource(MirrorQueries(m.store, clock=clock), max_lag_blocks=3), world.deployment)
    mine(world.chain, 2)
    m.indexer.target_block()
    past_the_cache(clock)
    r = verify(v, world.doc("id", 1))
    assert r.verdict == "REVOKED" and r.to_json()["source"]["lag_blocks"] == 2


def test_stale_mirror_is_error(world: World, scratch_mirror: Mirror) -> None:
    m = scratch_mirror
    m.sync()
    clock = FakeClock()
    v = Verifier(MirrorSource(MirrorQueries(m.store, clock=clock), max_staleness_seconds=30), world.deployment)
    assert verify(v, world.doc("id", 1)).verdict == "REVOKED"
    m.store.set_status(
        {"chain_head_seen_at": int(time.time()) - 3600, "last_error": "node unreachable: ConnectionError"}
    )
    past_the_cache(clock)
    r = verify(v, world.doc("id", 1))
    assert r.verdict == "ERROR"
    assert "ConnectionError" in r.to_json()["source"]["error"]
    assert v.verify_hash(bytes.fromhex(world.hash("id", 1)[2:])).verdict == "ERROR"


def test_mirror_that_never_saw_the_chain_is_error(world: World, scratch_mirror: Mirror) -> None:
    v = Verifier(MirrorSource(scratch_mirror.queries), world.deployment)
    r = verify(v, world.doc("id", 0))
    assert r.verdict == "ERROR" and "indexer" in r.to_json()["source"]["error"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/certledger_no_such_database",
        "postgresql+psycopg://postgres@127.0.0.1:{port}/certledger",
        "sqlite:////nonexistent-dir-for-certledger-tests/mirror.db",
        "sqlite:///{tmp}/empty.db",
    ],
    ids=["pg-no-database", "pg-closed-port", "sqlite-bad-path", "sqlite-no-tables"],
)
def test_unreachable_database_is_error(world: World, tmp_path: Path, url: str) -> None:
    if url.startswith("postgresql") and "closed" not in url:
        require_postgres()
    url = url.format(port=free_port(), tmp=tmp_path)
    store = MirrorStore(url)
    try:
        v = Verifier(MirrorSource(MirrorQueries(store)), world.deployment)
        for name, i in [("id", 0), ("id", 1), ("cmp_late", 0)]:
            r = verify(v, world.doc(name, i), verifier_region=ZJ)
            assert r.verdict == "ERROR", (name, i, failing(r))
            assert r.to_json()["source"].get("error")
            assert v.verify_hash(bytes.fromhex(world.hash(name, i)[2:])).verdict == "ERROR"
    finally:
        store.dispose()


def test_database_failing_mid_verification_is_error(world: World) -> None:
    """The head query succeeds, then the database fails: ERROR, never a verdict."""
    m = world.mirror("sqlite")
    world.sync()
    queries = m.queries

    def broken(*_: Any, **__: Any) -> Any:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    queries.status_as_of = broken  # type: ignore[method-assign]
    queries.anchoring = broken  # type: ignore[method-assign]  # the anchoring and its status, in one read
    queries.lookup = broken  # type: ignore[method-assign]  # a hash's anchorings and their statuses, in one read
    v = Verifier(MirrorSource(queries), world.deployment)
    r = verify(v, world.doc("id", 1))
    assert r.verdict == "ERROR"
    assert check_of(r, "anchored")["code"] == "UNAVAILABLE"
    assert check_of(r, "status")["outcome"] != "PASS"
    r = v.verify_hash(bytes.fromhex(world.hash("id", 1)[2:]))  # by hash: the lookup reads its status along
    assert r.verdict == "ERROR"


# ---------------------------------------------------------------------- mirror == chain


def _cases(world: World) -> dict[str, tuple[dict[str, Any], int | None, str]]:
    return {
        "valid": (world.doc("id", 0), ZJ, "VALID"),
        "valid-disclosed": (world.cert("id", 4).disclose(["name", "sex"]).to_json(), ZJ, "VALID"),
        "reinstated": (world.doc("id", 3), None, "VALID"),
        "revoked": (world.doc("id", 1), ZJ, "REVOKED"),
        "batch-revoked": (world.doc("batch_revoked", 1), None, "REVOKED"),
        "suspended": (world.doc("id", 2), ZJ, "SUSPENDED"),
        "batch-suspended": (world.doc("batch_suspended", 0), None, "SUSPENDED"),
        "not-recognized": (world.doc("biz", 0), BJ, "NOT_RECOGNIZED"),
        "tampered": (_tamper_field(world.doc("id", 5)), ZJ, "INVALID"),
        "tampered-proof": (_tamper_proof(world.doc("batch_revoked", 0)), None, "INVALID"),
        "forged": (forge_signature(world.doc("biz", 1)), None, "INVALID"),
        "other-ledger": (
            {**world.doc("id", 0), "anchor": {**world.doc("id", 0)["anchor"], "chainId": 5}},
            None,
            "INVALID",
        ),
        "compromised": (world.doc("cmp_late"), ZJ, "INVALID"),
        "unknown": (unanchored_document(world.c), ZJ, "UNKNOWN"),
        "expired": (world.doc("expired"), None, "EXPIRED"),
        "not-yet-valid": (world.doc("future"), None, "EXPIRED"),
    }


def test_mirror_and_chain_agree(world: World, mirror_kind: str) -> None:
    mirror = world.mirror_verifier(mirror_kind)
    chain = world.chain_verifier()
    for case, (doc, region, expected) in _cases(world).items():
        a = verify(mirror, doc, verifier_region=region)
        b = verify(chain, doc, verifier_region=region)
        assert a.verdict == b.verdict == expected, (case, failing(a), failing(b))
        assert failing(a)[:1] == failing(b)[:1], case  # the check that decides the verdict
        ca, cb = a.to_json()["certificate"], b.to_json()["certificate"]
        for k in ("hash", "type", "issuer_region", "agency", "batch_root"):
            assert ca[k] == cb[k], (case, k)
        if ca["anchored_at"] is not None:
            assert ca["anchored_at"]["time"] == cb["anchored_at"]["time"], case


def test_hash_anchored_in_two_batches_verifies_from_either(world: World, tmp_path: Path) -> None:
    """The contract lets an agency anchor a certificate hash again in another batch (a re-issue);
    the document carrying the second batch's proof is genuine. Mirror and chain must agree —
    the mirror must not call it INVALID because it keeps only the first batch per hash."""
    c = new_deployment(world.chain, types=("ID_CARD",))
    doc = unanchored_document(c)
    cert, _ = Certificate.from_json(doc)
    h = cert.compute_hash()
    key = c.agency_keys["GD-PSB"]
    first = c.registry.anchor_batch(c.deployer, key, "GD-PSB", "ID_CARD", [h, Account.create().key])
    second = c.registry.anchor_batch(
        c.deployer, key, "GD-PSB", "ID_CARD", [h, Account.create().key, Account.create().key]
    )
    m = open_mirror("sqlite", f"sqlite:///{tmp_path}/two.db", world.node.url, c.deployment)
    try:
        m.sync()
        mirror = Verifier(MirrorSource(m.queries), c.deployment)
        from ledger.registry import Registry
        from ledger.verification import ChainSource

        chain = Verifier(ChainSource(Registry(world.chain, c.deployment)), c.deployment)
        d = c.deployment
        for batch in (first, second):
            tree = build_tree(batch.cert_hashes)
            sig = sign_batch(
                key, tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), d.chain_id, d.certificate_registry
            )
            anchored = Certificate.from_json(doc)[0]
            anchored = Certificate(
                anchored.type,
                anchored.agency,
                anchored.region,
                anchored.valid_from,
                anchored.valid_until,
                anchored.fields,
                anchored.salts,
                anchor=Anchor(d.chain_id, d.certificate_registry, tree.root, tuple(tree.proof(h)), sig, key.address),
            )
            b = chain.verify_document(anchored, h)
            a = mirror.verify_document(anchored, h)
            assert b.verdict == "VALID", failing(b)
            assert a.verdict == b.verdict, failing(a)
    finally:
        m.store.dispose()


def test_mirror_sees_a_revocation_when_the_chain_clock_runs_ahead(tmp_path: Path) -> None:
    """Block timestamps come from the validators' clocks, the default ``as_of`` from the API
    server's. With the chain a couple of minutes ahead (clock skew), a revocation that is on
    chain and in the mirror must still be reported — as the chain source does — rather than
    hidden until the server's clock catches up with the block's."""
    node = start_anvil(tmp_path)
    try:
        chain = Chain(node.url)
        c = new_deployment(chain, types=("ID_CARD",))
        (doc,) = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(1), tmp_path / "skew")
        chain.w3.provider.make_request("evm_increaseTime", [120])
        mine(chain, 1)
        c.registry.set_certificate_status(
            c.agency_keys["GD-PSB"], "GD-PSB", bytes.fromhex(doc["hash"][2:]), Status.REVOKED, "HOLDER_REQUEST"
        )
        assert chain_time(chain) > time.time() + 60
        m = open_mirror("sqlite", f"sqlite:///{tmp_path}/skew.db", node.url, c.deployment)
        try:
            m.sync()
            from ledger.registry import Registry
            from ledger.verification import ChainSource

            on_chain = verify(Verifier(ChainSource(Registry(chain, c.deployment)), c.deployment), doc)
            assert on_chain.verdict == "REVOKED"
            mirrored = verify(Verifier(MirrorSource(m.queries), c.deployment), doc)
            assert mirrored.verdict == "REVOKED", failing(mirrored)
        finally:
            m.store.dispose()
    finally:
        node.stop()
