"""Presentations: what a citizen's wallet shows instead of a static QR code (docs/presentations.md).

A presentation carries a ``certledger/2`` certificate's metadata, the holder fields the citizen
chose to show (with their salts) and the others as their hashes — so the certificate hash is
recomputed, as for a compact ``CLC3:`` code — the purpose of the check, a short validity window
and a nonce, all signed by the holder's device key (ECDSA P-256: what every browser's WebCrypto
has). The agency binds that key to the certificate on chain (``CertificateRegistry.bindHolders``:
the SHA-256 of the key's 65-byte uncompressed point); the verifier checks the signature, the
window and the binding.

Encoding, like COSE_Sign1 (the signed bytes travel as they are, nothing is re-encoded)::

    "CLP1:" || base45( CBOR [ body: bstr, signature: bstr(64, r || s) ] )
    body      = CBOR map { 0: metadata items (as CLC3), 1: [[name, value, salt16], ...] shown,
                           2: [[name, hash32], ...] hidden, 3: purpose code, 4: purpose text,
                           5: iat, 6: exp, 7: nonce16, 8: holder key (65 bytes, 04 || x || y),
                           9 (optional): receipt tag (16 bytes) }
    signature = ECDSA-P256-SHA256( "CertLedger presentation v1" || body )
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import base45
import cbor2

from .document import SALT_BYTES, Certificate, Metadata, field_hash_v2, holder_digest, suite_hash
from .errors import InvalidInput
from .qr import CompactV3Payload, b45_bytes, cbor_exact, metadata_from_items, metadata_items
from .schema import FIELD_NAME_RE

PREFIX = "CLP1:"
DOMAIN = b"CertLedger presentation v1"
PURPOSES = ("EMPLOYMENT", "HOUSING", "BANKING", "TRAVEL", "EDUCATION", "MEDICAL", "GOVERNMENT_SERVICE", "OTHER")
DEFAULT_LIFETIME = 60  # seconds a wallet's presentation may be shown
MAX_LIFETIME = 600  # the longest window a verifier accepts
MAX_PURPOSE_TEXT = 100  # characters
KEY_BYTES = 65  # an uncompressed P-256 point
SIGNATURE_BYTES = 64  # r || s
NONCE_BYTES = 16
MAX_FIELDS = 256
(K_META, K_SHOWN, K_HIDDEN, K_PURPOSE, K_PURPOSE_TEXT, K_IAT, K_EXP, K_NONCE, K_KEY, K_RECEIPT_TAG) = range(10)
TAG_BYTES = 16


def is_holder_key(point: bytes) -> bool:
    """Whether ``point`` is a device key a wallet can have: an uncompressed P-256 point
    (0x04 || x || y) on the curve (its cofactor is 1: every such point is in the group)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(point) != KEY_BYTES or point[0] != 4:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(point))
    except ValueError:
        return False
    return True


def key_hash(public_key: bytes) -> bytes:
    """What the ledger binds to a certificate: SHA-256 of the uncompressed point."""
    return hashlib.sha256(bytes(public_key)).digest()


@dataclass(frozen=True)
class Presentation:
    """A decoded presentation. ``body`` is the signed bytes exactly as received."""

    metadata: Metadata
    shown: dict[str, tuple[str, bytes]]  # name -> (value, salt)
    hidden: dict[str, bytes]  # name -> field hash
    purpose: str
    purpose_text: str
    issued_at: int
    expires_at: int
    nonce: bytes
    holder_key: bytes
    signature: bytes = b""
    body: bytes = field(default=b"", repr=False)
    # The holder's pseudonym for this presentation's receipt (HMAC of the nonce under a key only
    # the document's salts give): the holder, and the agency that issued the salts, can link the
    # receipt to the certificate; nobody else can.
    receipt_tag: bytes | None = None

    @cached_property  # the certificate hash is asked for more than once per verification
    def holder_digest(self) -> bytes:
        h = suite_hash(self.metadata.suite)
        hashes = [field_hash_v2(h, n, v, salt) for n, (v, salt) in self.shown.items()] + list(self.hidden.values())
        return holder_digest(h, hashes)

    @property
    def compact(self) -> CompactV3Payload:
        """The certificate as a compact code would name it: its metadata and holder digest."""
        return CompactV3Payload(self.metadata, self.holder_digest)

    @property
    def cert_hash(self) -> bytes:
        return self.compact.cert_hash

    @property
    def fields(self) -> dict[str, str]:
        return {n: v for n, (v, _) in self.shown.items()}

    def signature_ok(self) -> bool:
        """Whether ``signature`` is the holder key's over the body (False for a malformed key)."""
        return verify_p256(self.holder_key, self.signature, DOMAIN + self.body)

    def to_json(self) -> dict[str, Any]:
        """What a verifier is told about the presentation (never the nonce or the key)."""
        return {
            "purpose": self.purpose,
            "purpose_text": self.purpose_text,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }


def receipt_key(cert: Certificate) -> bytes:
    """The key of a certificate's receipt tags: from every holder field's salt, which only the
    holder's document (and the agency that made it) has — a verifier sees the shown ones only."""
    salts = b"".join(cert.salts[n] for n in sorted(cert.salts))
    return hashlib.sha256(b"CLR1" + salts).digest()


def receipt_tag(key: bytes, nonce: bytes) -> bytes:
    """The pseudonym a presentation with ``nonce`` gives its receipt (16 bytes)."""
    return hmac.new(key, bytes(nonce), hashlib.sha256).digest()[:TAG_BYTES]


def body_bytes(
    cert: Certificate,
    show: Iterable[str],
    *,
    purpose: str,
    purpose_text: str = "",
    holder_key: bytes,
    issued_at: int | None = None,
    lifetime: int = DEFAULT_LIFETIME,
    nonce: bytes | None = None,
) -> bytes:
    """The body a wallet signs: ``cert`` (certledger/2) showing the fields ``show``."""
    if cert.version != 2:
        raise InvalidInput("only a certledger/2 certificate can be presented")
    disclosed = cert.disclose(show)
    _check_purpose(purpose, purpose_text)
    iat = int(time.time()) if issued_at is None else int(issued_at)
    nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
    body = {
        K_META: metadata_items(cert.metadata()),
        K_SHOWN: [[n, v, disclosed.salts[n]] for n, v in disclosed.fields.items()],
        K_HIDDEN: [[n, h] for n, h in disclosed.hidden.items()],
        K_PURPOSE: purpose,
        K_PURPOSE_TEXT: purpose_text,
        K_IAT: iat,
        K_EXP: iat + int(lifetime),
        K_NONCE: nonce,
        K_KEY: bytes(holder_key),
        K_RECEIPT_TAG: receipt_tag(receipt_key(cert), nonce),
    }
    return cbor2.dumps(body)


def encode(body: bytes, signature: bytes) -> str:
    return PREFIX + base45.b45encode(cbor2.dumps([bytes(body), bytes(signature)])).decode()


def decode(payload: str) -> Presentation:
    """Decode a ``CLP1:`` payload (the signature is checked by the verifier, not here);
    InvalidInput names what is malformed."""
    text = payload.strip() if isinstance(payload, str) else ""
    if not text.startswith(PREFIX):
        raise InvalidInput(f"a presentation starts with {PREFIX}")
    try:
        outer = cbor_exact(b45_bytes(text[len(PREFIX) :]))
        if not (isinstance(outer, list) and len(outer) == 2 and all(isinstance(x, bytes) for x in outer)):
            raise InvalidInput("malformed presentation: expected [body, signature]")
        body_raw, signature = outer
        body = cbor_exact(body_raw)
    except InvalidInput:
        raise
    except Exception as exc:  # cbor2's decode errors: anything that is not one well-formed item
        raise InvalidInput(f"malformed presentation: {type(exc).__name__}") from None
    if not isinstance(body, dict) or set(body) not in (set(range(9)), set(range(10))):
        raise InvalidInput("malformed presentation body: expected the keys 0 to 8 (and 9)")
    tag = body.get(K_RECEIPT_TAG)
    if tag is not None and (not isinstance(tag, bytes) or len(tag) != TAG_BYTES):
        raise InvalidInput("malformed presentation: the receipt tag is 16 bytes")
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidInput(f"malformed presentation: the signature is {len(signature)} bytes, expected 64")
    meta = metadata_from_items(body[K_META], "presentation")
    shown = _shown(body[K_SHOWN])
    hidden = _hidden(body[K_HIDDEN])
    if set(shown) & set(hidden):
        raise InvalidInput("malformed presentation: a field is both shown and hidden")
    if len(shown) + len(hidden) > MAX_FIELDS:
        raise InvalidInput(f"malformed presentation: more than {MAX_FIELDS} fields")
    purpose, text = body[K_PURPOSE], body[K_PURPOSE_TEXT]
    if not isinstance(purpose, str) or not isinstance(text, str):
        raise InvalidInput("malformed presentation: purpose")
    _check_purpose(purpose, text)
    iat, exp = body[K_IAT], body[K_EXP]
    if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 2**40 for t in (iat, exp)) or exp < iat:
        raise InvalidInput("malformed presentation: issued-at and expiry must be unix seconds, expiry not before")
    nonce, key = body[K_NONCE], body[K_KEY]
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise InvalidInput("malformed presentation: the nonce is 16 bytes")
    if not isinstance(key, bytes) or len(key) != KEY_BYTES or key[0] != 4:
        raise InvalidInput("malformed presentation: the holder key is an uncompressed P-256 point (65 bytes)")
    return Presentation(meta, shown, hidden, purpose, text, iat, exp, nonce, key, signature, body_raw, tag)


def _check_purpose(purpose: str, text: str) -> None:
    if purpose not in PURPOSES:
        raise InvalidInput(f"unknown purpose {purpose[:32]!r}: one of {', '.join(PURPOSES)}")
    if len(text) > MAX_PURPOSE_TEXT:
        raise InvalidInput(f"the purpose's text is longer than {MAX_PURPOSE_TEXT} characters")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not FIELD_NAME_RE.fullmatch(value):
        raise InvalidInput(f"malformed presentation: field name {str(value)[:40]!r}")
    return value


def _shown(items: Any) -> dict[str, tuple[str, bytes]]:
    if not isinstance(items, list):
        raise InvalidInput("malformed presentation: shown fields")
    out: dict[str, tuple[str, bytes]] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[1], str)):
            raise InvalidInput("malformed presentation: a shown field is [name, value, salt]")
        name, value, salt = _name(item[0]), item[1], item[2]
        if not isinstance(salt, bytes) or len(salt) != SALT_BYTES or name in out:
            raise InvalidInput(f"malformed presentation: shown field {name!r}")
        out[name] = (value, salt)
    return out


def _hidden(items: Any) -> dict[str, bytes]:
    if not isinstance(items, list):
        raise InvalidInput("malformed presentation: hidden fields")
    out: dict[str, bytes] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 2):
            raise InvalidInput("malformed presentation: a hidden field is [name, hash]")
        name, digest = _name(item[0]), item[1]
        if not isinstance(digest, bytes) or len(digest) != 32 or name in out:
            raise InvalidInput(f"malformed presentation: hidden field {name!r}")
        out[name] = digest
    return out


# ---------------------------------------------------------------------- ECDSA P-256


def verify_p256(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """ECDSA P-256 with SHA-256 over ``message``; ``signature`` raw r || s (as WebCrypto gives
    it). False for a malformed key or signature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(signature) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(public_key))
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


class HolderKey:
    """A holder's device key in Python (what the wallet keeps in WebCrypto): for tests, tools
    and benchmarks."""

    def __init__(self, private: Any = None) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = private or ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self._key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def present(self, cert: Certificate, show: Iterable[str], **options: Any) -> str:
        """A ``CLP1:`` presentation of ``cert`` showing ``show`` (options: see ``body_bytes``)."""
        body = body_bytes(cert, show, holder_key=self.public_key, **options)
        return encode(body, self.sign(DOMAIN + body))
