"""SM3 hashing and SM2-with-SM3 signatures (GB/T 32905-2016, GB/T 32918-2016 / GM/T 0003-2012,
GM/T 0009-2012) for the national profile.

What this module computes
-------------------------
* ``sm3(data)`` -- the 32-byte SM3 digest (GB/T 32905-2016).
* SM2 signatures on the recommended curve ``sm2p256v1`` (GB/T 32918.5-2017). Signing a message M
  for a signer whose public key is (xA, yA) and whose distinguishing identifier is ID::

      ZA = SM3( ENTL || ID || a || b || xG || yG || xA || yA )   ENTL = bit length of ID, 2 bytes BE
      e  = SM3( ZA || M )
      (r, s) = SM2-Sign(d, e)

  The signer ID defaults to ``1234567812345678`` (GM/T 0009-2012, section 10), the value every
  mainstream implementation (Tongsuo, OpenSSL 3, GmSSL, BouncyCastle) assumes when none is
  given. It is a parameter everywhere: a verifier must use the ID the signer used.

Encodings (all fixed-size, so they can sit in JSON, in a QR payload or in a contract slot)
------------------------------------------------------------------------------------------
* Signature: **raw ``r || s``, 64 bytes**, each big-endian and left-padded to 32 bytes. DER
  (``SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }``, GM/T 0009-2012) is 70-72 bytes and
  variable in length; it is what X.509/CMS/OFD seals carry, so ``signature_to_der`` and
  ``signature_from_der`` convert, strictly (minimal integers, no trailing bytes). Verification
  takes only the raw form: guessing the encoding from the length would be ambiguous (a DER
  signature can happen to be 64 bytes long).
* Public key: uncompressed ``04 || X || Y`` (65 bytes, GB/T 32918.1 section 4.2.9) by default;
  compressed ``02/03 || X`` (33 bytes) on request; ``SM2PublicKey.from_bytes`` also reads the
  bare 64-byte ``X || Y`` that many SDKs (GmSSL among them) use. For registration on chain, where
  SM2 cannot be verified anyway (no precompile; SM3 alone costs ~340k gas per 64 bytes), use
  ``key_id()``: ``SM3(04 || X || Y)``, 32 bytes, a ``bytes32`` slot; the full key travels in
  the document.
* Private key: the 32-byte big-endian scalar d, 1 <= d <= n - 2 (GB/T 32918.1 section 6.1), or
  PKCS#8 PEM (optionally password-encrypted) with the id-ecPublicKey / SM2 curve OIDs, which
  Tongsuo, OpenSSL 3 and GmSSL read.

Why Tongsuo (``tongsuopy``)
---------------------------
Measured on the 2-core project machine (``bench/sm_crypto.py``, results in
``bench/results/sm_crypto.json``): through this module Tongsuo signs a 140-byte message in
~0.25 ms and verifies in ~0.21 ms (secp256k1 through eth_account, as the ledger signs today:
~0.11-0.18 / ~0.08-0.13 ms, so SM2 costs about 2x); gmssl-pyx (GmSSL 3) takes ~2.1 / ~0.5 ms,
the pure-Python ``gmssl`` ~5.5 / ~9 ms. ``cryptography`` has SM3 but no SM2. Tongsuo is the OpenAtom Foundation's OpenSSL fork for the Chinese
algorithms (formerly BabaSSL), Apache-2.0, with a self-contained manylinux wheel (no system
library, no download at install). Its Python SDK has had no release since 1.0.1 (2023): to keep
a swap cheap, the whole backend is the few functions under "backend" below, every test
cross-checks against two independent implementations (GmSSL through gmssl-pyx, and the pure
Python ``gmssl``), and all parsing and range checks of untrusted input happen here in Python
before the library sees it.

Custom signer IDs: tongsuopy's public ``sign`` always uses the default ID, so this module
computes ZA and e itself and signs e with ``EVP_PKEY_sign`` through tongsuopy's cffi binding
(a private attribute: the exact version is pinned). ZA is cached per (key, ID); this path costs
what tongsuopy's own does, within the run-to-run noise.

SM3 comes from the interpreter's ``hashlib`` when its OpenSSL provides ``sm3`` (Debian's does:
~1 us for 32 bytes) and from Tongsuo otherwise; both give the same digests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Protocol

from tongsuopy.backends.tongsuo import backend as _tongsuo
from tongsuopy.crypto import hashes as _ts_hashes
from tongsuopy.crypto import serialization as _ts_serialization
from tongsuopy.crypto.asymciphers import ec as _ts_ec

from ..errors import InvalidInput

__all__ = [
    "COMPRESSED_PUBLIC_KEY_SIZE",
    "DEFAULT_SIGNER_ID",
    "DIGEST_SIZE",
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SM3Hash",
    "SMEncodingError",
    "SignerId",
    "signature_from_der",
    "signature_to_der",
    "sm3",
    "sm3_new",
    "verify",
]

# --------------------------------------------------------------------------- parameters

#: GB/T 32918.5-2017 recommended curve (sm2p256v1): y^2 = x^3 + ax + b over F_p, order n, h = 1.
P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

#: GM/T 0009-2012 default signer ID (the ASCII digits "1234567812345678").
DEFAULT_SIGNER_ID: Final = b"1234567812345678"
#: The bit length of an ID travels in 2 bytes (ENTL), so an ID has at most 8191 bytes.
MAX_SIGNER_ID_BYTES: Final = 0xFFFF // 8

DIGEST_SIZE: Final = 32
PRIVATE_KEY_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = 65
COMPRESSED_PUBLIC_KEY_SIZE: Final = 33
SIGNATURE_SIZE: Final = 64

SignerId = bytes | str
"""A signer's distinguishing identifier: bytes as they are, text as UTF-8."""

_CURVE_CONSTANTS: Final = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
_HEX = re.compile(r"^(?:0x)?((?:[0-9a-fA-F]{2})+)$")


class SMEncodingError(InvalidInput):
    """A key, signature, signer ID or digest that is malformed (wrong length, not on the curve,
    out of range, bad DER or PEM). The message names what and why."""


# --------------------------------------------------------------------------- SM3


class SM3Hash(Protocol):
    """An incremental SM3 hash (the ``hashlib`` interface)."""

    @property
    def digest_size(self) -> int: ...

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> SM3Hash: ...


class _TongsuoSM3:
    """SM3 through Tongsuo, with the ``hashlib`` interface, for interpreters whose OpenSSL
    lacks SM3."""

    digest_size = DIGEST_SIZE
    block_size = 64
    name = "sm3"

    def __init__(self, data: bytes = b"", *, _ctx: Any = None) -> None:
        self._ctx = _ctx if _ctx is not None else _ts_hashes.Hash(_ts_hashes.SM3())
        if data:
            self._ctx.update(bytes(data))

    def update(self, data: bytes, /) -> None:
        self._ctx.update(bytes(data))

    def digest(self) -> bytes:
        return bytes(self._ctx.copy().finalize())

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> _TongsuoSM3:
        return _TongsuoSM3(_ctx=self._ctx.copy())


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


SM3_PROVIDER: Final = "hashlib (OpenSSL)" if _hashlib_has_sm3() else "tongsuo"
"""Which implementation ``sm3`` uses on this interpreter."""

_sm3_new: Callable[[bytes], SM3Hash]
if SM3_PROVIDER == "tongsuo":  # pragma: no cover - depends on the interpreter's OpenSSL build
    _sm3_new = _TongsuoSM3
else:

    def _sm3_new(data: bytes) -> SM3Hash:
        return hashlib.new("sm3", data)


def sm3_new(data: bytes = b"") -> SM3Hash:
    """A new incremental SM3 hash, optionally fed ``data``."""
    return _sm3_new(bytes(data))


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data`` (GB/T 32905-2016)."""
    return _sm3_new(bytes(data)).digest()


# --------------------------------------------------------------------------- encodings


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise SMEncodingError(f"{what}: expected bytes, got {type(value).__name__}")


def _from_hex(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise SMEncodingError(f"{what}: expected hex text, got {type(text).__name__}")
    m = _HEX.fullmatch(text.strip())
    if m is None:
        raise SMEncodingError(f"{what}: not hex: {text[:80]!r}")
    return bytes.fromhex(m.group(1))


def signer_id_bytes(signer_id: SignerId) -> bytes:
    """The signer ID as bytes (text is UTF-8); rejects IDs whose bit length does not fit ENTL."""
    if isinstance(signer_id, str):
        raw = signer_id.encode("utf-8")
    elif isinstance(signer_id, (bytes, bytearray, memoryview)):
        raw = bytes(signer_id)
    else:
        raise SMEncodingError(f"signer ID: expected bytes or text, got {type(signer_id).__name__}")
    if len(raw) > MAX_SIGNER_ID_BYTES:
        raise SMEncodingError(f"signer ID: {len(raw)} bytes, at most {MAX_SIGNER_ID_BYTES} fit the 16-bit ENTL")
    return raw


def _split_signature(signature: Any) -> tuple[int, int]:
    raw = _as_bytes(signature, "signature")
    if len(raw) != SIGNATURE_SIZE:
        raise SMEncodingError(
            f"signature: {len(raw)} bytes, expected {SIGNATURE_SIZE} (r || s); convert DER with signature_from_der"
        )
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # one spare bit keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def _der_signature(r: int, s: int) -> bytes:
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def signature_to_der(signature: bytes) -> bytes:
    """Raw ``r || s`` (64 bytes) -> DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009-2012)."""
    r, s = _split_signature(signature)
    if r == 0 or s == 0:
        raise SMEncodingError("signature: r and s must be positive")
    return _der_signature(r, s)


def signature_from_der(der: bytes) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` -> raw ``r || s`` (64 bytes).

    Strict DER: short-form lengths (a signature is at most 72 bytes), minimal positive integers of
    at most 32 significant bytes, nothing after the sequence. Whether r and s are below the curve
    order is for verification to decide."""
    data = _as_bytes(der, "DER signature")
    if len(data) < 8 or data[0] != 0x30 or data[1] != len(data) - 2:
        raise SMEncodingError("DER signature: not a SEQUENCE spanning the whole input")
    values: list[int] = []
    pos = 2
    for name in ("r", "s"):
        if pos + 2 > len(data) or data[pos] != 0x02:
            raise SMEncodingError(f"DER signature: {name} is not an INTEGER")
        length = data[pos + 1]
        body = data[pos + 2 : pos + 2 + length]
        if length == 0 or length > 0x7F or len(body) != length:
            raise SMEncodingError(f"DER signature: {name} has a bad length")
        if body[0] & 0x80:
            raise SMEncodingError(f"DER signature: {name} is negative")
        if length > 1 and body[0] == 0 and not body[1] & 0x80:
            raise SMEncodingError(f"DER signature: {name} is not minimally encoded")
        value = int.from_bytes(body, "big")
        if value == 0 or value.bit_length() > 256:
            raise SMEncodingError(f"DER signature: {name} is zero or longer than 32 bytes")
        values.append(value)
        pos += 2 + length
    if pos != len(data):
        raise SMEncodingError("DER signature: bytes after s")
    return values[0].to_bytes(32, "big") + values[1].to_bytes(32, "big")


# --------------------------------------------------------------------------- backend (Tongsuo)
# Everything that touches tongsuopy's internals is here: a few functions to port to another
# library if ever needed. Inputs reaching them are already validated.

_lib: Any = _tongsuo._lib
_ffi: Any = _tongsuo._ffi
_CURVE: Final = _ts_ec.SM2()


def _backend_public(x: int, y: int) -> Any:
    return _ts_ec.EllipticCurvePublicNumbers(x, y, _CURVE).public_key()


def _backend_private(d: int) -> Any:
    return _ts_ec.derive_private_key(d, _CURVE)


def _backend_public_point(handle: Any) -> tuple[int, int]:
    numbers = handle.public_key().public_numbers() if hasattr(handle, "private_numbers") else handle.public_numbers()
    return int(numbers.x), int(numbers.y)


def _backend_sign_digest(handle: Any, digest: bytes) -> bytes:
    """SM2-Sign(d, e) of a 32-byte e; DER out."""
    ctx = _ffi.gc(_lib.EVP_PKEY_CTX_new(handle._evp_pkey, _ffi.NULL), _lib.EVP_PKEY_CTX_free)
    if ctx == _ffi.NULL or _lib.EVP_PKEY_sign_init(ctx) != 1:
        _tongsuo._consume_errors()
        raise RuntimeError("Tongsuo: cannot start an SM2 signature")
    size = _ffi.new("size_t *", 80)
    out = _ffi.new("unsigned char[]", 80)
    if _lib.EVP_PKEY_sign(ctx, out, size, digest, len(digest)) != 1:
        _tongsuo._consume_errors()
        raise RuntimeError("Tongsuo: SM2 signing failed")
    return bytes(_ffi.buffer(out, size[0]))


def _backend_verify_digest(handle: Any, der: bytes, digest: bytes) -> bool:
    ctx = _ffi.gc(_lib.EVP_PKEY_CTX_new(handle._evp_pkey, _ffi.NULL), _lib.EVP_PKEY_CTX_free)
    if ctx == _ffi.NULL or _lib.EVP_PKEY_verify_init(ctx) != 1:
        _tongsuo._consume_errors()
        raise RuntimeError("Tongsuo: cannot start an SM2 verification")
    ok = _lib.EVP_PKEY_verify(ctx, der, len(der), digest, len(digest))
    if ok != 1:
        _tongsuo._consume_errors()
    return bool(ok == 1)


def _backend_load_pem_private(data: bytes, password: bytes | None) -> Any:
    return _ts_serialization.load_pem_private_key(data, password)


def _backend_load_pem_public(data: bytes) -> Any:
    return _ts_serialization.load_pem_public_key(data)


def _backend_private_pem(handle: Any, password: bytes | None) -> bytes:
    encryption = _ts_serialization.BestAvailableEncryption(password) if password else _ts_serialization.NoEncryption()
    return bytes(
        handle.private_bytes(_ts_serialization.Encoding.PEM, _ts_serialization.PrivateFormat.PKCS8, encryption)
    )


def _backend_public_pem(handle: Any) -> bytes:
    return bytes(
        handle.public_bytes(_ts_serialization.Encoding.PEM, _ts_serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _backend_is_sm2(handle: Any) -> bool:
    return getattr(getattr(handle, "curve", None), "name", None) == _CURVE.name


# --------------------------------------------------------------------------- keys


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def _decompress(prefix: int, x: int) -> int:
    if not 0 <= x < P:
        raise SMEncodingError("public key: X is not below the field prime")
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)  # p = 3 (mod 4)
    if y * y % P != rhs:
        raise SMEncodingError("public key: X is not the abscissa of a curve point")
    if y & 1 != prefix & 1:
        y = P - y
    return y


@lru_cache(maxsize=4096)
def _z_value(x: int, y: int, signer_id: bytes) -> bytes:
    entl = (len(signer_id) * 8).to_bytes(2, "big")
    return sm3(entl + signer_id + _CURVE_CONSTANTS + x.to_bytes(32, "big") + y.to_bytes(32, "big"))


@dataclass(frozen=True)
class SM2PublicKey:
    """A point of the SM2 curve other than infinity (checked at construction)."""

    x: int
    y: int
    _handle: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.x, int) or not isinstance(self.y, int) or not _on_curve(self.x, self.y):
            raise SMEncodingError("public key: the point is not on the SM2 curve")

    # ---------------------------------------------------------------- encodings

    @classmethod
    def from_bytes(cls, data: bytes) -> SM2PublicKey:
        """Read ``04||X||Y`` (65 bytes), ``02/03||X`` (33 bytes) or bare ``X||Y`` (64 bytes)."""
        raw = _as_bytes(data, "public key")
        if len(raw) == PUBLIC_KEY_SIZE and raw[0] == 0x04:
            return cls(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))
        if len(raw) == 64:
            return cls(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        if len(raw) == COMPRESSED_PUBLIC_KEY_SIZE and raw[0] in (0x02, 0x03):
            x = int.from_bytes(raw[1:], "big")
            return cls(x, _decompress(raw[0], x))
        raise SMEncodingError(
            f"public key: {len(raw)} bytes"
            + (f" starting 0x{raw[0]:02x}" if raw else "")
            + "; expected 04||X||Y (65), 02/03||X (33) or X||Y (64)"
        )

    @classmethod
    def from_hex(cls, text: str) -> SM2PublicKey:
        return cls.from_bytes(_from_hex(text, "public key"))

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PublicKey:
        """Read a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) on the SM2 curve."""
        data = pem.encode() if isinstance(pem, str) else _as_bytes(pem, "public key PEM")
        try:
            handle = _backend_load_pem_public(data)
        except Exception as exc:  # the library raises ValueError, TypeError or UnsupportedAlgorithm
            raise SMEncodingError(f"public key PEM: cannot read it ({type(exc).__name__})") from None
        if not _backend_is_sm2(handle):
            raise SMEncodingError("public key PEM: not a key on the SM2 curve")
        return cls(*_backend_public_point(handle))

    def to_bytes(self, *, compressed: bool = False) -> bytes:
        """``04||X||Y`` (65 bytes), or ``02/03||X`` (33 bytes) when ``compressed``."""
        if compressed:
            return bytes([0x02 | (self.y & 1)]) + self.x.to_bytes(32, "big")
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def to_pem(self) -> bytes:
        """PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo, id-ecPublicKey with the SM2 curve OID)."""
        return _backend_public_pem(self._backend())

    def key_id(self) -> bytes:
        """``SM3(04||X||Y)``: 32 bytes naming this key, e.g. in a ``bytes32`` contract slot."""
        return sm3(self.to_bytes())

    # ---------------------------------------------------------------- verification

    def z(self, signer_id: SignerId = DEFAULT_SIGNER_ID) -> bytes:
        """ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA) for this key and signer ID."""
        return _z_value(self.x, self.y, signer_id_bytes(signer_id))

    def message_digest(self, message: bytes, signer_id: SignerId = DEFAULT_SIGNER_ID) -> bytes:
        """e = SM3(ZA || M): what SM2 actually signs."""
        return sm3(self.z(signer_id) + _as_bytes(message, "message"))

    def verify(self, message: bytes, signature: bytes, *, signer_id: SignerId = DEFAULT_SIGNER_ID) -> bool:
        """True when ``signature`` (raw ``r||s``) is this key's SM2 signature of ``message`` under
        ``signer_id``. A 64-byte signature that does not verify (including r or s out of
        [1, n-1]) is False; a signature of the wrong size raises ``SMEncodingError``."""
        return self.verify_digest(self.message_digest(message, signer_id), signature)

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        """Verify a signature of a precomputed e = SM3(ZA || M) (32 bytes)."""
        r, s = _split_signature(signature)
        e = _as_bytes(digest, "digest")
        if len(e) != DIGEST_SIZE:
            raise SMEncodingError(f"digest: {len(e)} bytes, expected {DIGEST_SIZE}")
        if not (0 < r < N and 0 < s < N):
            return False
        return _backend_verify_digest(self._backend(), _der_signature(r, s), e)

    def _backend(self) -> Any:
        if self._handle is None:
            object.__setattr__(self, "_handle", _backend_public(self.x, self.y))
        return self._handle

    def __str__(self) -> str:
        return self.to_bytes().hex()


class SM2PrivateKey:
    """An SM2 private key d (1 <= d <= n - 2) and its public key dG."""

    __slots__ = ("_d", "_handle", "_public")

    def __init__(self, secret: int) -> None:
        if isinstance(secret, bool) or not isinstance(secret, int) or not 1 <= secret <= N - 2:
            raise SMEncodingError("private key: must be an integer in [1, n-2] of the SM2 curve")
        self._d = secret
        self._handle = _backend_private(secret)
        self._public = SM2PublicKey(*_backend_public_point(self._handle))

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A new key from the operating system's CSPRNG, uniform in [1, n-2]."""
        return cls(1 + secrets.randbelow(N - 2))

    @classmethod
    def from_bytes(cls, data: bytes) -> SM2PrivateKey:
        """Read the 32-byte big-endian scalar."""
        raw = _as_bytes(data, "private key")
        if len(raw) != PRIVATE_KEY_SIZE:
            raise SMEncodingError(f"private key: {len(raw)} bytes, expected {PRIVATE_KEY_SIZE}")
        return cls(int.from_bytes(raw, "big"))

    @classmethod
    def from_hex(cls, text: str) -> SM2PrivateKey:
        return cls.from_bytes(_from_hex(text, "private key"))

    @classmethod
    def from_pem(cls, pem: bytes | str, password: bytes | None = None) -> SM2PrivateKey:
        """Read a PKCS#8 (or SEC1 ``EC PRIVATE KEY``) PEM on the SM2 curve, encrypted if
        ``password`` is given."""
        data = pem.encode() if isinstance(pem, str) else _as_bytes(pem, "private key PEM")
        try:
            handle = _backend_load_pem_private(data, password)
        except Exception as exc:  # ValueError (bad data/password), TypeError, UnsupportedAlgorithm
            raise SMEncodingError(f"private key PEM: cannot read it ({type(exc).__name__})") from None
        if not _backend_is_sm2(handle):
            raise SMEncodingError("private key PEM: not a key on the SM2 curve")
        return cls(int(handle.private_numbers().private_value))

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian scalar. Keep it secret."""
        return self._d.to_bytes(PRIVATE_KEY_SIZE, "big")

    def to_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted (PBES2, AES-256-CBC) when ``password`` is given."""
        return _backend_private_pem(self._handle, password)

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    def sign(self, message: bytes, *, signer_id: SignerId = DEFAULT_SIGNER_ID) -> bytes:
        """SM2-with-SM3 signature of ``message`` under ``signer_id``: raw ``r||s``, 64 bytes.
        Signatures are randomised (a fresh k each time)."""
        return self.sign_digest(self._public.message_digest(message, signer_id))

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed e = SM3(ZA || M) (32 bytes); raw ``r||s``."""
        e = _as_bytes(digest, "digest")
        if len(e) != DIGEST_SIZE:
            raise SMEncodingError(f"digest: {len(e)} bytes, expected {DIGEST_SIZE}")
        return signature_from_der(_backend_sign_digest(self._handle, e))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PrivateKey) and secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self._public)

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self._public})"


def verify(
    public_key: SM2PublicKey | bytes, message: bytes, signature: bytes, *, signer_id: SignerId = DEFAULT_SIGNER_ID
) -> bool:
    """``SM2PublicKey.verify`` for a key given in any encoding ``SM2PublicKey.from_bytes`` reads."""
    key = public_key if isinstance(public_key, SM2PublicKey) else SM2PublicKey.from_bytes(public_key)
    return key.verify(message, signature, signer_id=signer_id)
