"""The wallet's import by retrieval code, without a browser: api/static/wallet-core.js run in
Node (tests/js/retrieval_codes.mjs; Node's WebCrypto is the browser's API) against
ledger/content. The wallet reads every code as codes.py does (the same values, and a refusal
for each way a code can be wrong), recomputes the profile's raw CIDs, opens what sealing.py
seals in both suites (AES-256-GCM by WebCrypto, SM4-GCM in JavaScript against OpenSSL's),
refuses a wrong key, changed bytes and a changed header alike, and fetches nothing it cannot
check (a dag-pb CID, more than 256 KiB)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from helpers import ROOT

from ledger.content import Cid, MalformedCode, RetrievalCode, content_cid, seal
from ledger.content.cid import varint

pytestmark = pytest.mark.unit
SCRIPT = ROOT / "tests" / "js" / "retrieval_codes.mjs"


def run_wallet(cases: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the wallet's JavaScript tests")
    out = subprocess.run(
        [node, "--no-warnings", str(SCRIPT)],
        input=json.dumps({"codes": [], "cids": [], "sealed": [], "checked": [], "sm4": [], "base32": [], **cases}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def python_category(text: str) -> str:
    """What codes.py says about ``text``, as the wallet's word for it."""
    try:
        RetrievalCode.parse(text)
    except MalformedCode as exc:
        message = str(exc)
        for words, category in [
            ("should start with", "prefix"),
            ("too long", "toolong"),
            ("not a base32 character", "char"),
            ("wrong length", "length"),
            ("unknown cipher suite", "suite"),
            ("no valid CID", "cid"),
            ("truncated", "truncated"),
            ("does not fit the suite", "cid"),
        ]:
            if words in message:
                return category
        raise AssertionError(f"unmapped refusal: {message}") from None
    return "ok"


def test_the_wallet_reads_codes_exactly_as_codes_py() -> None:
    raw_cid, dag_cid = Cid(0x55, os.urandom(32)), Cid(0x70, os.urandom(32))
    valid = [
        RetrievalCode(raw_cid, os.urandom(32), "intl"),
        RetrievalCode(raw_cid, os.urandom(16), "sm"),
        RetrievalCode(dag_cid, os.urandom(32), "intl"),
    ]
    good = [str(c) for c in valid] + [str(valid[0]).lower(), f"  \n{valid[1]}\t ", "clr1:" + str(valid[0])[5:]]
    key, cid_bytes = os.urandom(32), raw_cid.to_bytes()
    body = bytes([1]) + key + cid_bytes
    bad = [
        "",
        "hello",
        "CLP1:" + b32(body),
        "CLR2:" + b32(body),
        "CLR1:" + b32(body)[:-1] + "1",  # a digit outside base32
        "CLR1:" + b32(body)[:-1] + "=",
        "CLR1:" + b32(body) + "A",  # one character extra
        "CLR1:" + b32(body)[:-3],
        "CLR1:" + b32(body) + "A" * 100,  # too long
        "CLR1:" + b32(bytes([0]) + key + cid_bytes),  # unknown suite
        "CLR1:" + b32(bytes([3]) + key + cid_bytes),
        "CLR1:",
        "CLR1:" + b32(bytes([1]) + key[:20]),  # truncated key
        "CLR1:" + b32(bytes([1]) + key),  # no CID
        "CLR1:" + b32(body + b"\0"),  # a byte after the CID
        "CLR1:" + b32(body[:-1]),  # a byte short
        "CLR1:" + b32(bytes([2]) + key + cid_bytes),  # sm with a 32-byte key: the CID is off
        "CLR1:" + b32(bytes([1]) + key + varint(0) + cid_bytes[1:]),  # CID version 0
        "CLR1:" + b32(bytes([1]) + key + bytes([1, 0x71]) + cid_bytes[2:]),  # dag-cbor
        "CLR1:" + b32(bytes([1]) + key + bytes([1, 0x55, 0x13, 0x20]) + cid_bytes[4:]),  # sha2-512's code
        "CLR1:" + b32(bytes([1]) + key + bytes([0x81, 0x00, 0x55]) + cid_bytes[2:]),  # a non-minimal varint
    ]
    got = run_wallet({"codes": good + bad})["codes"]
    for text, answer in zip(good, got[: len(good)], strict=True):
        code = RetrievalCode.parse(text)
        assert answer == {"suite": code.suite, "key": code.key.hex(), "cid": str(code.cid), "codec": code.cid.codec}
    for text, answer in zip(bad, got[len(good) :], strict=True):
        assert answer == {"error": python_category(text)}, text
        assert python_category(text) != "ok"


def test_the_wallet_computes_the_profiles_raw_cids() -> None:
    blobs = [b"", b"\0", os.urandom(100), os.urandom(4096), os.urandom(262_144)]
    assert run_wallet({"cids": [b.hex() for b in blobs]})["cids"] == [str(content_cid(b)) for b in blobs]
    lengths = [b"", os.urandom(1), os.urandom(4), os.urandom(5), os.urandom(36), os.urandom(69), os.urandom(53)]
    assert run_wallet({"base32": [b.hex() for b in lengths]})["base32"] == [b32(b) for b in lengths]


def _sm4_gcm(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(data) + encryptor.finalize() + encryptor.tag


def test_the_wallets_sm4_gcm_is_openssls() -> None:
    vectors = [
        (os.urandom(16), os.urandom(12), os.urandom(n), os.urandom(a))
        for n, a in [(0, 0), (1, 17), (15, 0), (16, 16), (17, 3), (100, 17), (4096, 17), (3333, 40)]
    ]
    got = run_wallet(
        {"sm4": [{"key": k.hex(), "nonce": n.hex(), "data": d.hex(), "aad": a.hex()} for k, n, d, a in vectors]}
    )
    assert got["sm4"] == [_sm4_gcm(*v).hex() for v in vectors]


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_the_wallet_opens_what_sealing_seals_and_nothing_changed(suite: str) -> None:
    document = json.dumps({"format": "certledger/2", "fields": {"name": "王秀英"}}, ensure_ascii=False).encode() * 40
    sealed = seal(document, suite)
    data, key = sealed.ciphertext, sealed.key

    def flipped(at: int) -> bytes:
        b = bytearray(data)
        b[at] ^= 0x01
        return bytes(b)

    other_key = bytearray(key)
    other_key[0] ^= 0x80
    cases = [
        (data, key, suite, document.hex()),
        (data, bytes(other_key), suite, {"error": "broken"}),  # a wrong key
        (flipped(len(data) // 2), key, suite, {"error": "broken"}),  # changed ciphertext
        (flipped(len(data) - 1), key, suite, {"error": "broken"}),  # changed tag
        (flipped(8), key, suite, {"error": "broken"}),  # changed nonce (the header is authenticated)
        (flipped(3), key, suite, {"error": "seal"}),  # another format version
        (data[:30], key, suite, {"error": "seal"}),  # truncated
        (b"{" + data[1:], key, suite, {"error": "seal"}),  # no CLS header
        (data, key, "sm" if suite == "intl" else "intl", {"error": "broken"}),  # the code names the other suite
    ]
    got = run_wallet({"sealed": [{"data": d.hex(), "key": k.hex(), "suite": s} for d, k, s, _ in cases]})["opened"]
    assert got == [expected for *_, expected in cases]


def test_the_wallet_checks_content_against_its_cid_and_takes_one_block_only() -> None:
    sealed = seal(b'{"format": "certledger/2"}' * 100, "intl")
    data = sealed.ciphertext
    code = str(RetrievalCode(content_cid(data), sealed.key, "intl"))
    changed = bytearray(data)
    changed[100] ^= 1
    big = os.urandom(262_145)
    cases = [
        (code, data, "ok"),
        (code, bytes(changed), "cid"),
        (code, data + b"\0", "cid"),
        (str(RetrievalCode(Cid(0x70, os.urandom(32)), sealed.key, "intl")), data, "size"),  # several blocks
        (str(RetrievalCode(Cid.of_block(0x55, big), sealed.key, "intl")), big, "size"),
    ]
    got = run_wallet({"checked": [{"code": c, "data": d.hex()} for c, d, _ in cases]})["checked"]
    assert got == [expected for *_, expected in cases]
