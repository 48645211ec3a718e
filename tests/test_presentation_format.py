"""The presentation format (``CLP1:``, docs/presentations.md): what a wallet signs and a verifier
decodes, the holder's ECDSA P-256 signature as browsers make it (Node's WebCrypto, the same API),
and every way a holder or a thief could alter one."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import base45
import cbor2
import pytest
from helpers import ROOT

from ledger.document import Certificate, new_salts
from ledger.errors import InvalidInput
from ledger.presentation import (
    DOMAIN,
    HolderKey,
    body_bytes,
    decode,
    encode,
    key_hash,
    receipt_key,
    receipt_tag,
    verify_p256,
)

pytestmark = pytest.mark.unit

FIELDS = {"name": "张三", "sex": "M", "birthDate": "1990-01-01", "idNumber": "440106199001010000"}
IDENT = "1.2.156.3005.2.11100000000013101Q001.11440000MB0000001F.C3967E5ABA0000003.001.V"


@pytest.fixture(params=["intl", "sm"])
def cert(request: pytest.FixtureRequest) -> Certificate:
    return Certificate(
        "ID_CARD",
        "GD-PSB",
        440000,
        "2020-01-01",
        "2040-01-01",
        FIELDS,
        new_salts(list(FIELDS)),
        version=2,
        suite=request.param,
        identifier=IDENT if request.param == "sm" else None,
    )


def test_a_presentation_recomputes_the_certificate_hash_and_shows_only_the_chosen_fields(cert: Certificate) -> None:
    key = HolderKey()
    payload = key.present(cert, ["name"], purpose="EMPLOYMENT", purpose_text="入职核验", issued_at=1_800_000_000)
    assert payload.startswith("CLP1:") and len(payload) < 1000  # a phone screen's QR code
    p = decode(payload)
    assert p.cert_hash == cert.compute_hash()
    assert p.fields == {"name": "张三"} and sorted(p.hidden) == ["birthDate", "idNumber", "sex"]
    assert "440106199001010000" not in payload and FIELDS["idNumber"].encode() not in p.body
    assert (p.purpose, p.purpose_text, p.issued_at, p.expires_at) == (
        "EMPLOYMENT",
        "入职核验",
        1_800_000_000,
        1_800_000_060,
    )
    assert p.metadata == cert.metadata() and p.holder_key == key.public_key
    assert p.signature_ok()
    assert p.to_json() == {
        "purpose": "EMPLOYMENT",
        "purpose_text": "入职核验",
        "issued_at": 1_800_000_000,
        "expires_at": 1_800_000_060,
    }
    assert key_hash(key.public_key) == __import__("hashlib").sha256(key.public_key).digest()


def test_two_presentations_never_repeat_and_their_receipts_are_the_holders_to_link(cert: Certificate) -> None:
    key = HolderKey()
    a, b = (decode(key.present(cert, ["name"], purpose="BANKING", issued_at=1)) for _ in range(2))
    assert a.nonce != b.nonce and a.body != b.body
    # each receipt gets its own tag; the holder (all the salts) links them, a verifier (the
    # shown salts only) cannot
    assert a.receipt_tag == receipt_tag(receipt_key(cert), a.nonce) and a.receipt_tag != b.receipt_tag
    shown_only = dataclasses.replace(cert, salts={"name": cert.salts["name"]})
    assert receipt_tag(receipt_key(shown_only), a.nonce) != a.receipt_tag


def _resigned(payload: str, edit: object, key: HolderKey | None = None) -> str:
    """The payload with its body edited (``edit(map)``), signed again by ``key`` (None: the
    original signature kept)."""
    body_raw, signature = cbor2.loads(base45.b45decode(payload[5:]))
    body = cbor2.loads(body_raw)
    edit(body)  # type: ignore[operator]
    new_body = cbor2.dumps(body)
    return encode(new_body, key.sign(DOMAIN + new_body) if key else signature)


def test_an_altered_presentation_fails_its_signature(cert: Certificate) -> None:
    key = HolderKey()
    payload = key.present(cert, ["name", "sex"], purpose="HOUSING", issued_at=1_800_000_000)

    def later(body: dict) -> None:
        body[6] += 3600  # a longer window

    def name(body: dict) -> None:
        body[1][0][1] = "李四"

    def purpose(body: dict) -> None:
        body[3] = "OTHER"

    for edit in (later, name, purpose):
        assert not decode(_resigned(payload, edit)).signature_ok(), edit.__name__
    # re-signed by its own key the body is genuine again: the certificate hash then no longer
    # matches (a changed field), which the ledger check finds
    renamed = decode(_resigned(payload, name, key))
    assert renamed.signature_ok() and renamed.cert_hash != cert.compute_hash()
    # signed by another key (a copy presented from another device): valid signature, another key
    other = HolderKey()
    stolen = decode(_resigned(payload, lambda b: b.__setitem__(8, other.public_key), other))
    assert stolen.signature_ok() and key_hash(stolen.holder_key) != key_hash(key.public_key)


def test_signatures_made_by_webcrypto_verify() -> None:
    """The wallet signs in the browser (WebCrypto: a non-extractable P-256 key, raw r || s):
    Node's WebCrypto is the same API. Its signatures over real presentation bodies verify here,
    and a bit flipped anywhere does not."""
    fields = dict(FIELDS)
    cert = Certificate("ID_CARD", "GD-PSB", 440000, "2020-01-01", None, fields, new_salts(list(fields)), version=2)
    messages = [DOMAIN + body_bytes(cert, ["name"], purpose="TRAVEL", holder_key=b"\x04" + bytes(64)) for _ in range(3)]
    out = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "webcrypto_sign.mjs")],
        input="\n".join(m.hex() for m in messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    signed = json.loads(out.stdout)
    public = bytes.fromhex(signed["publicKey"])
    assert len(public) == 65 and public[0] == 4 and signed["privateKeyExportable"] is False
    for message, sig in zip(messages, signed["signatures"], strict=True):
        signature = bytes.fromhex(sig)
        assert verify_p256(public, signature, message)
        assert not verify_p256(public, signature, message[:-1] + bytes([message[-1] ^ 1]))
        assert not verify_p256(public, signature[:-1] + bytes([signature[-1] ^ 1]), message)
        assert not verify_p256(HolderKey().public_key, signature, message)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.pop(7), "expected the keys 0 to 8"),
        (lambda b: b.__setitem__(9, b"short"), "receipt tag is 16 bytes"),
        (lambda b: b.__setitem__(10, 0), "expected the keys 0 to 8"),
        (lambda b: b.__setitem__(3, "GOSSIP"), "unknown purpose 'GOSSIP'"),
        (lambda b: b.__setitem__(4, "x" * 101), "longer than 100 characters"),
        (lambda b: b.__setitem__(6, b[5] - 1), "expiry not before"),
        (lambda b: b.__setitem__(5, -1), "unix seconds"),
        (lambda b: b.__setitem__(7, b"short"), "nonce is 16 bytes"),
        (lambda b: b.__setitem__(8, b"\x02" + bytes(32)), "uncompressed P-256 point"),
        (lambda b: b[1].append(["name", "again", bytes(16)]), "shown field 'name'"),
        (lambda b: b[2].append(["name", bytes(32)]), "both shown and hidden"),
        (lambda b: b[2].append(["sex", bytes(31)]), "hidden field 'sex'"),
        (lambda b: b[1].append(["bad name!", "x", bytes(16)]), "field name 'bad name!'"),
        (lambda b: b.__setitem__(0, ["intl", "ID_CARD"]), "malformed metadata in presentation"),
        (lambda b: b[0].__setitem__(0, "rot13"), "unknown suite 'rot13'"),
    ],
)
def test_a_malformed_presentation_is_refused_naming_the_problem(cert: Certificate, edit: object, message: str) -> None:
    payload = HolderKey().present(cert, ["name"], purpose="EDUCATION", issued_at=1_800_000_000)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode(_resigned(payload, edit))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("CLC3:ABC", "starts with CLP1:"),
        ("CLP1:", "malformed presentation"),
        ("CLP1:%%%%", "does not decode"),
        ("CLP1:" + base45.b45encode(cbor2.dumps([b"x"])).decode(), "expected \\[body, signature\\]"),
        ("CLP1:" + base45.b45encode(cbor2.dumps([cbor2.dumps({}), bytes(64)])).decode(), "keys 0 to 8"),
        ("CLP1:" + base45.b45encode(cbor2.dumps([cbor2.dumps([]), bytes(64)]) + b"\x00").decode(), "trailing"),
    ],
)
def test_not_a_presentation(payload: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode(payload)


def test_a_signature_of_the_wrong_size_or_a_key_off_the_curve_never_verifies() -> None:
    key = HolderKey()
    sig = key.sign(b"m")
    assert verify_p256(key.public_key, sig, b"m")
    assert not verify_p256(key.public_key, sig[:63], b"m")
    assert not verify_p256(b"\x04" + bytes(64), sig, b"m")  # not on the curve
    assert not verify_p256(b"\x04" + b"\x01" * 64, sig, b"m")


def test_only_certledger_2_is_presented() -> None:
    v1 = Certificate("ID_CARD", "GD-PSB", 440000, "2020-01-01", None, FIELDS, new_salts(list(FIELDS)))
    with pytest.raises(InvalidInput, match="only a certledger/2"):
        HolderKey().present(v1, ["name"], purpose="OTHER")
