"""Verifying a wallet's presentation (docs/presentations.md) against a real chain and a real
mirror (SQLite and PostgreSQL), in both suites: the holder's device key bound on chain by the
certificate's agency, the window, the fields the holder chose — and what a screenshot shown
again, a copy on another device, an altered presentation or another agency's binding get."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_helpers import GD, Mirror, checked_client, failing, id_rows, issue_rows, new_deployment, open_mirror
from helpers import Consortium, FakeClock

from ledger.chain import Chain
from ledger.contracts import Status
from ledger.document import Certificate
from ledger.presentation import HolderKey, key_hash
from ledger.verification import MirrorSource, Verifier


@dataclass
class Ledger:
    c: Consortium
    mirror: Mirror
    docs: list[dict[str, Any]]
    holder: HolderKey  # bound to docs[0] and docs[1]

    def cert(self, i: int) -> Certificate:
        return Certificate.from_json(self.docs[i])[0]

    def hash(self, i: int) -> bytes:
        return bytes.fromhex(self.docs[i]["hash"][2:])

    def verifier(self, clock: Any = time.time) -> Verifier:
        self.mirror.sync()
        return Verifier(MirrorSource(self.mirror.queries, max_staleness_seconds=3600), self.c.deployment, clock=clock)

    def bind(self, i: int, key: HolderKey | None, agency: str = "GD-PSB", signer: Any = None) -> None:
        self.c.registry.bind_holders(
            signer or self.c.agency_keys[agency],
            agency,
            [(self.hash(i), key_hash(key.public_key) if key else bytes(32))],
        )


@pytest.fixture(params=["intl-sqlite", "sm-sqlite", "sm-postgresql"])
def ledger(request: pytest.FixtureRequest, chain: Chain, tmp_path: Path) -> Iterator[Ledger]:
    suite, kind = request.param.split("-")
    c = new_deployment(chain, types=("ID_CARD", "BUSINESS_LICENSE"), suite=suite)
    docs = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(4), tmp_path / "issued")
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    pg = None
    if kind == "postgresql":
        from api_helpers import PgDatabase
        from helpers import require_postgres

        require_postgres()
        pg = PgDatabase()
        url = pg.url
    mirror = open_mirror(kind, url, chain.url, c.deployment)
    led = Ledger(c, mirror, docs, HolderKey())
    led.bind(0, led.holder)
    led.bind(1, led.holder)
    try:
        yield led
    finally:
        mirror.store.dispose()
        if pg is not None:
            pg.drop()


def holder(result: Any) -> tuple[str, str]:
    check = next(c for c in result.checks if c.name == "holder")
    return check.outcome.value, check.code


def test_a_fresh_presentation_from_the_bound_device_is_valid_and_shows_only_the_chosen_fields(ledger: Ledger) -> None:
    payload = ledger.holder.present(ledger.cert(0), ["name", "sex"], purpose="EMPLOYMENT", purpose_text="入职")
    r = ledger.verifier().verify_payload(payload, verifier_region=330000)
    assert r.verdict == "VALID", [c.to_json() for c in r.checks]
    assert [c.name for c in r.checks][:3] == ["integrity", "holder", "anchored"] and holder(r) == ("PASS", "OK")
    assert r.disclosed_fields == {k: ledger.docs[0]["fields"][k] for k in ("name", "sex")}
    assert r.hidden_fields == sorted(set(ledger.docs[0]["fields"]) - {"name", "sex"})
    body = r.to_json()
    assert body["presentation"]["purpose"] == "EMPLOYMENT" and body["presentation"]["purpose_text"] == "入职"
    assert ledger.docs[0]["fields"]["idNumber"] not in str(body)  # a hidden field never reaches the verifier


def test_a_screenshot_shown_again_after_its_window_is_expired_not_invalid(ledger: Ledger) -> None:
    clock = FakeClock(time.time())
    payload = ledger.holder.present(ledger.cert(0), ["name"], purpose="BANKING", issued_at=int(clock()))
    clock.advance(60 + 29)  # within the 30 s allowed for clocks that disagree
    assert ledger.verifier(clock).verify_payload(payload).verdict == "VALID"
    clock.advance(2)
    r = ledger.verifier(clock).verify_payload(payload)
    assert r.verdict == "EXPIRED" and failing(r)[0] == ("holder", "PRESENTATION_EXPIRED")
    assert "ask the holder to show a fresh one" in next(c.detail for c in r.checks if c.name == "holder")
    validity = next(c for c in r.checks if c.name == "validity_period")
    assert validity.outcome.value == "PASS"  # the certificate itself is fine: only the presentation expired


def test_a_copy_presented_from_another_device_is_invalid_and_says_so(ledger: Ledger) -> None:
    thief = HolderKey()  # the document copied, the device key not (WebCrypto never exports it)
    r = ledger.verifier().verify_payload(thief.present(ledger.cert(0), ["name"], purpose="OTHER"))
    assert r.verdict == "INVALID" and failing(r)[0] == ("holder", "HOLDER_KEY_MISMATCH")
    r = ledger.verifier().verify_payload(ledger.holder.present(ledger.cert(2), ["name"], purpose="OTHER"))
    assert r.verdict == "INVALID" and failing(r)[0] == ("holder", "HOLDER_NOT_BOUND")


def test_an_altered_presentation_never_passes(ledger: Ledger) -> None:
    import base45
    import cbor2

    from ledger.presentation import DOMAIN, encode

    payload = ledger.holder.present(ledger.cert(0), ["name", "sex"], purpose="HOUSING")
    body_raw, signature = cbor2.loads(base45.b45decode(payload[5:]))
    body = cbor2.loads(body_raw)
    body[1][1][1] = "F" if body[1][1][1] == "M" else "M"  # the holder edits a shown field
    edited = cbor2.dumps(body)
    r = ledger.verifier().verify_payload(encode(edited, signature))
    assert r.verdict == "INVALID" and failing(r)[0] == ("holder", "HOLDER_SIGNATURE_INVALID")
    # signed again by the bound key: the fields give another certificate, bound to no device and
    # anchored by no one
    r = ledger.verifier().verify_payload(encode(edited, ledger.holder.sign(DOMAIN + edited)))
    assert r.verdict == "INVALID" and failing(r)[:2] == [("holder", "HOLDER_NOT_BOUND"), ("anchored", "NOT_ANCHORED")]


def test_a_presentation_dated_in_the_future_or_with_a_long_window(ledger: Ledger) -> None:
    now = int(time.time())
    future = ledger.holder.present(ledger.cert(0), ["name"], purpose="TRAVEL", issued_at=now + 120)
    r = ledger.verifier().verify_payload(future)
    assert failing(r)[0] == ("holder", "PRESENTATION_NOT_YET_VALID")
    long = ledger.holder.present(ledger.cert(0), ["name"], purpose="TRAVEL", lifetime=3600)
    r = ledger.verifier().verify_payload(long)
    assert r.verdict == "INVALID" and failing(r)[0] == ("holder", "PRESENTATION_TOO_LONG")


def test_unbinding_and_rebinding_a_lost_phone(ledger: Ledger) -> None:
    ledger.bind(1, None)  # the phone was lost: the agency unbinds
    r = ledger.verifier().verify_payload(ledger.holder.present(ledger.cert(1), ["name"], purpose="OTHER"))
    assert failing(r)[0] == ("holder", "HOLDER_NOT_BOUND")
    new_phone = HolderKey()
    ledger.bind(1, new_phone)
    r = ledger.verifier().verify_payload(ledger.holder.present(ledger.cert(1), ["name"], purpose="OTHER"))
    assert failing(r)[0] == ("holder", "HOLDER_KEY_MISMATCH")
    assert ledger.verifier().verify_payload(new_phone.present(ledger.cert(1), ["name"], purpose="OTHER")).verdict == (
        "VALID"
    )


def test_another_agencys_binding_counts_for_nothing(ledger: Ledger) -> None:
    """An agency key inside the consortium binds its own device key to GD-PSB's certificate
    hash, under its own agency: the verifier looks under the certificate's agency only."""
    mallory = HolderKey()
    ledger.bind(2, mallory, agency="GD-AMR")
    r = ledger.verifier().verify_payload(mallory.present(ledger.cert(2), ["name"], purpose="OTHER"))
    assert failing(r)[0] == ("holder", "HOLDER_NOT_BOUND")
    r = ledger.verifier().verify_payload(mallory.present(ledger.cert(0), ["name"], purpose="OTHER"))
    assert failing(r)[0] == ("holder", "HOLDER_KEY_MISMATCH")


def test_a_revoked_certificate_presented_by_its_holder_is_revoked(ledger: Ledger) -> None:
    ledger.c.registry.set_certificate_status(
        ledger.c.agency_keys["GD-PSB"], "GD-PSB", ledger.hash(1), Status.REVOKED, "HOLDER_REQUEST"
    )
    r = ledger.verifier().verify_payload(ledger.holder.present(ledger.cert(1), ["name"], purpose="OTHER"))
    assert r.verdict == "REVOKED" and holder(r) == ("PASS", "OK")


def test_the_api_verifies_a_presentation_for_a_registered_verifier_and_leaves_a_receipt(
    ledger: Ledger, tmp_path: Path
) -> None:
    from api_helpers import save_deployment
    from eth_account import Account

    from api.app import ApiSettings, create_app
    from ledger.presentation import receipt_key, receipt_tag
    from ledger.verifiers import api_key_hash, new_api_key

    key = new_api_key("GD-BANK-1")
    ledger.c.registry.register_verifier(
        ledger.c.admins[GD], "GD-BANK-1", GD, Account.create().address, api_key_hash(key), rate_per_minute=600
    )
    home = tmp_path / "home"
    save_deployment(ledger.c, home)
    ledger.mirror.sync()
    settings = ApiSettings(
        home=home, deployment=home / "deployment.json", rpc_url=ledger.c.chain.url, db_url=ledger.mirror.url
    )
    cert = ledger.cert(0)
    payload = ledger.holder.present(cert, ["name"], purpose="MEDICAL", purpose_text="挂号")
    stale = ledger.holder.present(cert, ["name"], purpose="MEDICAL", issued_at=int(time.time()) - 600)
    auth = {"authorization": f"Bearer {key}"}
    with checked_client(create_app(settings)) as client:
        # anonymous: refused, nothing recorded
        r = client.post("/v1/verify", json={"payload": payload})
        assert r.status_code == 401 and r.json()["error"]["code"] == "NOT_AUTHORIZED"
        assert "张" not in r.text and ledger.docs[0]["fields"]["name"] not in r.text
        r = client.post("/v1/verify", json={"payload": payload}, headers={"authorization": "Bearer " + key[:-2] + "xx"})
        assert r.status_code == 401
        r = client.post("/v1/verify", json={"payload": payload}, params={"verifier_region": str(GD)}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] == "VALID" and body["disclosed_fields"] == {"name": ledger.docs[0]["fields"]["name"]}
        assert body["presentation"]["purpose"] == "MEDICAL"
        assert client.post("/v1/verify", json={"payload": stale}, headers=auth).json()["verdict"] == "EXPIRED"
        r = client.post("/v1/verify", json={"payload": payload}, params={"as_of": "2026-01-01"}, headers=auth)
        assert r.status_code == 422 and "as of now" in r.json()["error"]["message"]
        r = client.post("/v1/verify", json={"payload": payload}, params={"source": "chain"}, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == "NEEDS_DOCUMENT"
        r = client.post("/v1/verify", json={"payload": payload[:-4]}, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_PAYLOAD"
        # the holder finds its receipts by the tags only its document gives
        from ledger.presentation import decode

        tags = [decode(p).receipt_tag for p in (payload, stale)]
        assert tags[0] == receipt_tag(receipt_key(cert), decode(payload).nonce)
        r = client.get("/v1/receipts", params={"tag": ["0x" + t.hex() for t in tags if t]})
        assert r.status_code == 200, r.text
        found = r.json()["receipts"]
        assert sorted(x["verdict"] for x in found) == ["EXPIRED", "VALID"]
        assert all(
            x["verifier"] == "GD-BANK-1" and x["fields"] == ["name"] and x["purpose"] == "MEDICAL" for x in found
        )
        assert all(x["batch_root"] is None and x["anchored"] is None for x in found)  # not sealed yet
        assert client.get("/v1/receipts", params={"tag": "0x" + "00" * 16}).json() == {"receipts": []}
        assert client.get("/v1/receipts", params={"tag": "nope"}).json()["error"]["code"] == "BAD_TAGS"


def test_chain_observers_learn_nothing_personal(ledger: Ledger, tmp_path: Path) -> None:
    """Everything a presentation's life writes on chain — the certificates' batches, the device
    bindings, the verifier's registration, the receipts' roots — scanned byte by byte: no holder
    field, no purpose text, no identifier, no device key."""
    from eth_account import Account

    from ledger.mirror.store import make_engine
    from ledger.presentation import decode
    from ledger.receipts import Receipt, ReceiptAnchorer, ReceiptStore

    reg = ledger.c.registry
    account = Account.create()
    reg.register_verifier(ledger.c.admins[GD], "GD-BANK-1", GD, account.address, os.urandom(32))
    payload = ledger.holder.present(ledger.cert(0), ["name", "idNumber"], purpose="BANKING", purpose_text="开户核验张")
    p = decode(payload)
    engine = make_engine(f"sqlite:///{tmp_path / 'receipts.db'}")
    try:
        store = ReceiptStore(engine)
        store.record(
            Receipt(
                "GD-BANK-1",
                GD,
                p.purpose,
                p.purpose_text,
                int(time.time()),
                tuple(p.shown),
                p.receipt_tag or b"",
                "VALID",
            )
        )
        assert ReceiptAnchorer(store, reg, "GD-BANK-1", account, every=0).run_once()
    finally:
        engine.dispose()
    chain = reg.chain
    written = bytearray()
    for n in range(reg.deployment.deployment_block, chain.block_number() + 1):
        block = chain.w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            written += bytes(tx["input"])
            for log in chain.w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                written += bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"])
    secrets = [v for d in ledger.docs for v in d["fields"].values() if len(v) >= 2]
    secrets += [p.purpose_text] + [d["identifier"] for d in ledger.docs if d.get("identifier")]
    # the scan sees what it should: the certificate hashes and the device key's hash are there
    assert bytes.fromhex(ledger.docs[0]["hash"][2:]) in written and key_hash(ledger.holder.public_key) in written
    assert len(secrets) > 10
    leaked = [s for s in secrets if s.encode() in written]
    assert not leaked, leaked
    assert ledger.holder.public_key not in written  # only its SHA-256 is bound
    assert p.receipt_tag is not None and p.receipt_tag not in written  # receipts go on chain as a root only
