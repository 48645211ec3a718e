"""SM3 and SM2-with-SM3 (ledger.crypto.sm): the published examples of GB/T 32905 and
GM/T 0003.5 / GB/T 32918.5, cross-verification both ways with independent implementations
(GmSSL through gmssl-pyx, the pure-Python gmssl, and the system OpenSSL 3 command line when it
has SM2), and every malformed or tampered input."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.crypto import sm
from ledger.crypto.sm import (
    DEFAULT_SIGNER_ID,
    N,
    SM2PrivateKey,
    SM2PublicKey,
    SMEncodingError,
    signature_from_der,
    signature_to_der,
)
from ledger.errors import InvalidInput

pytestmark = pytest.mark.unit

# GB/T 32905-2016 appendix A examples.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GM/T 0003.5-2012 (= GB/T 32918.5-2017) appendix A: signature example on the recommended curve.
VEC_D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
VEC_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
VEC_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
VEC_MSG = b"message digest"
VEC_Z = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
VEC_E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
VEC_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
VEC_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
VEC_SIG = bytes.fromhex(VEC_R + VEC_S)

OTHER_ID = b"ALICE123@YAHOO.COM"


def vector_key() -> SM2PrivateKey:
    return SM2PrivateKey.from_hex(VEC_D)


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


# --------------------------------------------------------------------------- SM3


def test_sm3_published_examples() -> None:
    assert sm.sm3(b"abc").hex() == SM3_ABC
    assert sm.sm3(b"abcd" * 16).hex() == SM3_ABCD16


def test_sm3_incremental_and_tongsuo_path_agree() -> None:
    h = sm.sm3_new(b"ab")
    h.update(b"c")
    snapshot = h.copy()
    h.update(b"more")
    assert snapshot.hexdigest() == SM3_ABC
    assert h.digest() == sm.sm3(b"abcmore")
    for size in (0, 1, 55, 56, 63, 64, 65, 1000, 100_000):
        data = os.urandom(size)
        fallback = sm._TongsuoSM3(data[: size // 2])
        fallback.update(data[size // 2 :])
        assert fallback.digest() == sm.sm3(data), size
    assert sm._TongsuoSM3(b"abc").copy().hexdigest() == SM3_ABC


def test_sm3_matches_gmssl() -> None:
    import gmssl_pyx

    for size in (0, 3, 64, 4096):
        data = os.urandom(size)
        assert sm.sm3(data) == gmssl_pyx.sm3_hash(data)


# --------------------------------------------------------------------------- the standard example


def test_standard_example_key_z_digest_and_signature() -> None:
    key = vector_key()
    public = key.public_key
    assert public.to_bytes().hex().upper() == "04" + VEC_X + VEC_Y
    assert public.z().hex().upper() == VEC_Z
    assert public.z(DEFAULT_SIGNER_ID) == public.z("1234567812345678")
    assert public.message_digest(VEC_MSG).hex().upper() == VEC_E
    assert public.verify(VEC_MSG, VEC_SIG)
    assert public.verify_digest(bytes.fromhex(VEC_E), VEC_SIG)
    assert sm.verify(public.to_bytes(), VEC_MSG, VEC_SIG)
    assert sm.verify(public.to_bytes(compressed=True), VEC_MSG, VEC_SIG)


def test_standard_example_signature_tampered() -> None:
    public = vector_key().public_key
    assert not public.verify(b"message digesT", VEC_SIG)
    assert not public.verify(VEC_MSG, flip(VEC_SIG, 0))  # r
    assert not public.verify(VEC_MSG, flip(VEC_SIG, 63))  # s
    assert not public.verify(VEC_MSG, VEC_SIG[32:] + VEC_SIG[:32])  # r and s swapped
    assert not public.verify(VEC_MSG, VEC_SIG, signer_id=OTHER_ID)
    assert not SM2PrivateKey.generate().public_key.verify(VEC_MSG, VEC_SIG)


# --------------------------------------------------------------------------- own signatures


@pytest.mark.parametrize("signer_id", [DEFAULT_SIGNER_ID, OTHER_ID, "签名者@政务.cn", b""])
def test_sign_verify_round_trip(signer_id: bytes | str) -> None:
    key = SM2PrivateKey.generate()
    message = os.urandom(140)
    sig = key.sign(message, signer_id=signer_id)
    assert len(sig) == sm.SIGNATURE_SIZE
    assert key.public_key.verify(message, sig, signer_id=signer_id)
    assert not key.public_key.verify(message + b"\0", sig, signer_id=signer_id)
    assert not key.public_key.verify(message, sig, signer_id=b"x" + sm.signer_id_bytes(signer_id))
    # randomised: a second signature differs and verifies too
    again = key.sign(message, signer_id=signer_id)
    assert again != sig and key.public_key.verify(message, again, signer_id=signer_id)


def test_signer_id_text_is_utf8() -> None:
    key = SM2PrivateKey.generate()
    sig = key.sign(b"m", signer_id="机构")
    assert key.public_key.verify(b"m", sig, signer_id="机构".encode())


def test_sign_digest_is_sign_of_message_digest() -> None:
    key = SM2PrivateKey.generate()
    e = key.public_key.message_digest(b"hello", OTHER_ID)
    assert key.public_key.verify(b"hello", key.sign_digest(e), signer_id=OTHER_ID)


# --------------------------------------------------------------------------- cross-verification


@pytest.mark.parametrize("signer_id", [DEFAULT_SIGNER_ID, OTHER_ID])
def test_cross_verify_with_gmssl_pyx_both_ways(signer_id: bytes) -> None:
    import gmssl_pyx

    key = SM2PrivateKey.generate()
    bare = key.public_key.to_bytes()[1:]
    message = os.urandom(200)
    ours = key.sign(message, signer_id=signer_id)
    assert gmssl_pyx.sm2_verify(bare, message, signature_to_der(ours), signer_id=signer_id)
    theirs = gmssl_pyx.sm2_sign(key.to_bytes(), bare, message, signer_id=signer_id)
    assert key.public_key.verify(message, signature_from_der(theirs), signer_id=signer_id)
    # and a key made by GmSSL
    public, private = gmssl_pyx.sm2_key_generate()
    their_key = SM2PrivateKey.from_bytes(private)
    assert their_key.public_key == SM2PublicKey.from_bytes(public)
    assert gmssl_pyx.sm2_verify(
        public, b"x", signature_to_der(their_key.sign(b"x", signer_id=signer_id)), signer_id=signer_id
    )


def test_cross_verify_with_pure_python_gmssl_both_ways() -> None:
    from gmssl import sm2 as gmssl_sm2

    key = SM2PrivateKey.generate()
    other = gmssl_sm2.CryptSM2(private_key=key.to_bytes().hex(), public_key=key.public_key.to_bytes()[1:].hex())
    message = os.urandom(100)
    theirs = bytes.fromhex(other.sign_with_sm3(message))  # raw r||s, default signer ID
    assert key.public_key.verify(message, theirs)
    assert other.verify_with_sm3(key.sign(message).hex(), message)
    assert not other.verify_with_sm3(key.sign(message + b"!").hex(), message)


def _openssl_with_sm2() -> str | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    probe = subprocess.run([exe, "genpkey", "-algorithm", "SM2"], capture_output=True, timeout=30, check=False)
    return exe if probe.returncode == 0 else None


@pytest.mark.skipif(_openssl_with_sm2() is None, reason="no openssl command with SM2")
def test_cross_verify_with_openssl_cli_custom_signer_id(tmp_path: Path) -> None:
    exe = _openssl_with_sm2()
    assert exe is not None
    key = SM2PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(key.to_pem())
    (tmp_path / "pub.pem").write_bytes(key.public_key.to_pem())
    (tmp_path / "msg").write_bytes(b"cross-check with OpenSSL 3")
    distid = ["-pkeyopt", "distid:" + OTHER_ID.decode()]

    def pkeyutl(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [exe, "pkeyutl", "-rawin", "-digest", "sm3", *args, *distid], capture_output=True, timeout=30, check=False
        )

    signed = pkeyutl(
        "-sign", "-inkey", str(tmp_path / "key.pem"), "-in", str(tmp_path / "msg"), "-out", str(tmp_path / "theirs.der")
    )
    assert signed.returncode == 0, signed.stderr
    theirs = signature_from_der((tmp_path / "theirs.der").read_bytes())
    assert key.public_key.verify(b"cross-check with OpenSSL 3", theirs, signer_id=OTHER_ID)
    (tmp_path / "ours.der").write_bytes(signature_to_der(key.sign(b"cross-check with OpenSSL 3", signer_id=OTHER_ID)))
    checked = pkeyutl(
        "-verify",
        "-pubin",
        "-inkey",
        str(tmp_path / "pub.pem"),
        "-in",
        str(tmp_path / "msg"),
        "-sigfile",
        str(tmp_path / "ours.der"),
    )
    assert checked.returncode == 0 and b"Successfully" in checked.stdout, checked.stdout + checked.stderr


# --------------------------------------------------------------------------- keys and encodings


def test_public_key_encodings_round_trip() -> None:
    public = SM2PrivateKey.generate().public_key
    full, short = public.to_bytes(), public.to_bytes(compressed=True)
    assert len(full) == 65 and full[0] == 4
    assert len(short) == 33 and short[0] in (2, 3)
    assert SM2PublicKey.from_bytes(full) == public
    assert SM2PublicKey.from_bytes(short) == public
    assert SM2PublicKey.from_bytes(full[1:]) == public
    assert SM2PublicKey.from_hex("0x" + full.hex()) == public
    assert SM2PublicKey.from_pem(public.to_pem()) == public
    assert SM2PublicKey.from_pem(public.to_pem().decode()) == public
    assert public.key_id() == sm.sm3(full) and len(public.key_id()) == 32


def test_both_compressed_parities() -> None:
    seen: set[int] = set()
    while len(seen) < 2:
        public = SM2PrivateKey.generate().public_key
        short = public.to_bytes(compressed=True)
        seen.add(short[0])
        assert SM2PublicKey.from_bytes(short) == public


def test_private_key_encodings_round_trip() -> None:
    key = SM2PrivateKey.generate()
    assert SM2PrivateKey.from_bytes(key.to_bytes()) == key
    assert SM2PrivateKey.from_hex(key.to_bytes().hex()) == key
    assert SM2PrivateKey.from_pem(key.to_pem()) == key
    locked = key.to_pem(b"s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in locked
    assert SM2PrivateKey.from_pem(locked, b"s3cret") == key
    assert key.to_bytes().hex() not in repr(key) and str(key.to_bytes()) not in repr(key)
    assert SM2PrivateKey(1).public_key == SM2PublicKey(sm.GX, sm.GY)
    SM2PrivateKey(N - 2)


def test_private_key_pem_from_gmssl_and_tongsuo_tools_agree() -> None:
    """A PEM written here reads back into the same scalar through the standard PKCS#8 layout."""
    key = vector_key()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert SM2PrivateKey.from_pem(pem).to_bytes().hex().upper() == VEC_D


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "0 bytes"),
        (b"\x04" + bytes(65), "66 bytes starting 0x04"),
        (bytes(64), "not on the SM2 curve"),
        (b"\x05" + bytes(64), "65 bytes starting 0x05"),
        (b"\x04" + bytes(64), "not on the SM2 curve"),
        (b"\x02" + (sm.P).to_bytes(32, "big"), "not below the field prime"),
        (b"\x01" + bytes(32), "33 bytes starting 0x01"),
    ],
)
def test_malformed_public_keys(data: bytes, message: str) -> None:
    with pytest.raises(SMEncodingError, match=message):
        SM2PublicKey.from_bytes(data)


def test_public_key_off_curve_and_bad_compressed_x() -> None:
    public = SM2PrivateKey.generate().public_key
    off = public.to_bytes()[:-1] + bytes([public.to_bytes()[-1] ^ 1])
    with pytest.raises(SMEncodingError, match="not on the SM2 curve"):
        SM2PublicKey.from_bytes(off)
    # roughly half of all x have no curve point: find one
    x = 1
    while True:
        try:
            SM2PublicKey.from_bytes(b"\x02" + x.to_bytes(32, "big"))
        except SMEncodingError as exc:
            assert "not the abscissa" in str(exc)
            break
        x += 1
    with pytest.raises(SMEncodingError, match="expected bytes"):
        SM2PublicKey.from_bytes("04" * 65)  # type: ignore[arg-type]
    with pytest.raises(SMEncodingError, match="not hex"):
        SM2PublicKey.from_hex("04zz")


def test_malformed_private_keys() -> None:
    for bad in (0, N - 1, N, -1, True):
        with pytest.raises(SMEncodingError, match=r"\[1, n-2\]"):
            SM2PrivateKey(bad)
    with pytest.raises(SMEncodingError, match="31 bytes, expected 32"):
        SM2PrivateKey.from_bytes(bytes(31))
    with pytest.raises(SMEncodingError, match="must be an integer"):
        SM2PrivateKey.from_bytes(bytes(32))
    with pytest.raises(SMEncodingError, match="not hex"):
        SM2PrivateKey.from_hex("0x123")


def test_pem_errors_are_clear() -> None:
    from Crypto.PublicKey import ECC

    p256 = ECC.generate(curve="P-256")
    with pytest.raises(SMEncodingError, match="private key PEM"):
        SM2PrivateKey.from_pem(p256.export_key(format="PEM"))
    with pytest.raises(SMEncodingError, match="public key PEM"):
        SM2PublicKey.from_pem(p256.public_key().export_key(format="PEM"))
    locked = SM2PrivateKey.generate().to_pem(b"right")
    with pytest.raises(SMEncodingError, match="private key PEM: cannot read"):
        SM2PrivateKey.from_pem(locked, b"wrong")
    with pytest.raises(SMEncodingError, match="private key PEM: cannot read"):
        SM2PrivateKey.from_pem(locked)
    with pytest.raises(SMEncodingError, match="public key PEM: cannot read"):
        SM2PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_malformed_signatures_raise_and_out_of_range_values_fail() -> None:
    public = vector_key().public_key
    for size in (0, 63, 65, 72):
        with pytest.raises(SMEncodingError, match=f"{size} bytes, expected 64"):
            public.verify(VEC_MSG, bytes(size))
    with pytest.raises(SMEncodingError, match="expected bytes"):
        public.verify(VEC_MSG, VEC_SIG.hex())  # type: ignore[arg-type]
    r, s = VEC_SIG[:32], VEC_SIG[32:]
    n = N.to_bytes(32, "big")
    for bad in (bytes(32) + s, r + bytes(32), n + s, r + n, b"\xff" * 64):
        assert not public.verify(VEC_MSG, bad)
    # r + n (mod n) is the same residue: it must still be refused
    r_plus_n = int.from_bytes(r, "big") + N
    if r_plus_n < 2**256:
        assert not public.verify(VEC_MSG, r_plus_n.to_bytes(32, "big") + s)


def test_bad_digest_and_signer_id() -> None:
    key = SM2PrivateKey.generate()
    with pytest.raises(SMEncodingError, match="digest: 31 bytes"):
        key.sign_digest(bytes(31))
    with pytest.raises(SMEncodingError, match="digest: 33 bytes"):
        key.public_key.verify_digest(bytes(33), bytes(64))
    with pytest.raises(SMEncodingError, match="at most 8191"):
        key.sign(b"m", signer_id=b"x" * 8192)
    key.sign(b"m", signer_id=b"x" * 8191)
    with pytest.raises(SMEncodingError, match="expected bytes or text"):
        key.sign(b"m", signer_id=12345)  # type: ignore[arg-type]
    with pytest.raises(SMEncodingError, match="message: expected bytes"):
        key.sign("text")  # type: ignore[arg-type]


def test_der_conversion_round_trip_and_strictness() -> None:
    der = signature_to_der(VEC_SIG)
    assert der[0] == 0x30 and 70 <= len(der) <= 72
    assert signature_from_der(der) == VEC_SIG
    small = (1).to_bytes(32, "big") + (0x80).to_bytes(32, "big")
    assert signature_to_der(small) == bytes.fromhex("3007020101020200" + "80")
    assert signature_from_der(signature_to_der(small)) == small
    for _ in range(50):
        sig = SM2PrivateKey.generate().sign(b"x")
        assert signature_from_der(signature_to_der(sig)) == sig
    with pytest.raises(SMEncodingError, match="r and s must be positive"):
        signature_to_der(bytes(64))
    cases = {
        "trailing byte": (der + b"\x00", "not a SEQUENCE spanning"),
        "wrong tag": (b"\x31" + der[1:], "not a SEQUENCE"),
        "short": (der[:6], "not a SEQUENCE"),
        "integer tag": (der[:2] + b"\x03" + der[3:], "r is not an INTEGER"),
        "negative": (bytes.fromhex("3006020181020101"), "r is negative"),
        "non-minimal": (bytes.fromhex("300702020001020101"), "r is not minimally encoded"),
        "zero": (bytes.fromhex("3006020100020101"), "r is zero"),
        "too long": (b"\x30\x27\x02\x22\x01" + bytes(33) + b"\x02\x01\x01", "r is zero or longer than 32 bytes"),
        "s not an integer": (bytes.fromhex("3006020101050100"), "s is not an INTEGER"),
        "s cut short": (bytes.fromhex("3006020101020500"), "s has a bad length"),
        "bytes after s": (bytes.fromhex("3009020101020101050000"), "bytes after s"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(SMEncodingError, match=message):
            signature_from_der(data)
        assert name


def test_errors_are_invalid_input() -> None:
    assert issubclass(SMEncodingError, InvalidInput)
    with pytest.raises(InvalidInput):
        SM2PublicKey.from_bytes(b"\x00")
