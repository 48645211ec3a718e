"""QR payloads for certificates, built from standard parts as the EU Digital COVID
Certificate is: CBOR, zlib, Base45 (RFC 9285), behind a short prefix.

- **compact** ``CLC3:`` + Base45(CBOR([suite, type, agency, region, validFrom, validUntil,
  identifier, holderDigest])) — a ``certledger/2`` certificate's metadata and the digest of its
  holder fields: the verifier recomputes the certificate hash from them and looks it up within
  the agency, so the validity dates and the identifier are checked too (the answer can be
  VALID). Dates travel as integers ``YYYYMMDD`` (validUntil ``null`` when open-ended), the
  identifier without its constant root ``1.2.156.3005.2.`` (``null`` when none).
- **compact** ``CLC2:`` + Base45(CBOR([certHash, type, region, agency])) — read only: a bare
  hash carries no validity dates, so it verifies INCOMPLETE at best. (``CLC1:`` — the same
  without the agency — is still read too.)
- **full** ``CLF2:`` (``certledger/2``) / ``CLF1:`` (``certledger/1``) +
  Base45(zlib(CBOR(document))) — the (disclosed) fields, salts, proof and signature:
  verifiable offline against a cached trust list. Salts and proof elements travel as one byte
  string each (16-byte salts in the order of the fields, 32-byte proof elements in order), so
  that a typical ID card from a batch of 10,000 fits QR version 25 at level M.

Decoding is strict: a truncated or padded payload, trailing bytes after the CBOR item or the
zlib stream, and oversized output are refused.

Base45 uses only characters of the QR alphanumeric mode, so the payload packs 11 bits per
2 characters. See docs/qr-payloads.md.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base45
import cbor2
import segno
from eth_utils import to_checksum_address

from .document import FORMAT_V1, FORMAT_V2, Anchor, Certificate, Metadata
from .errors import InvalidInput
from .gbt.identifier import ROOT as IDENTIFIER_ROOT
from .ids import agency_id, region_code, type_id
from .schema import FieldError, canonical_date
from .suites import SUITES

COMPACT_PREFIX = "CLC3:"
COMPACT_V2_PREFIX = "CLC2:"  # read only: a bare hash, INCOMPLETE at best
COMPACT_V1_PREFIX = "CLC1:"  # read only: no agency
FULL_PREFIX = "CLF2:"
FULL_V1_PREFIX = "CLF1:"
MAX_PAYLOAD = 8192  # characters; a version-40 QR holds 4,296 alphanumeric characters
MAX_INFLATED = 65536  # bytes of CBOR a full payload may inflate to

# CBOR map keys of the full payload
K_TYPE, K_AGENCY, K_REGION, K_FROM, K_UNTIL = 1, 2, 3, 4, 5
K_FIELDS, K_SALTS, K_HIDDEN = 6, 7, 8
K_CHAIN, K_REGISTRY, K_ROOT, K_PROOF, K_SIGNATURE = 9, 10, 11, 12, 13
K_SUITE, K_IDENTIFIER, K_SM2_SIGNATURE = 14, 15, 16  # CLF2 only


@dataclass(frozen=True)
class CompactPayload:
    cert_hash: bytes
    type: str
    region: int
    agency: str | None = None  # None: a CLC1 payload, which does not name its issuer


@dataclass(frozen=True)
class CompactV3Payload:
    """A ``CLC3:`` payload: a ``certledger/2`` certificate's metadata and holder digest."""

    metadata: Metadata
    holder_digest: bytes

    @property
    def cert_hash(self) -> bytes:
        return self.metadata.certificate_hash(self.holder_digest)


def compact_payload(cert_hash: bytes, cert_type: str, region: int, agency: str) -> str:
    """A ``CLC2:`` payload (a bare hash; what ``certledger/1`` certificates can have)."""
    body = [bytes(cert_hash), cert_type, int(region), agency]
    return COMPACT_V2_PREFIX + base45.b45encode(cbor2.dumps(body)).decode()


def _day(text: str) -> int:
    return int(text.replace("-", ""))


def _iso_day(value: Any, what: str) -> str:
    if not isinstance(value, int) or isinstance(value, bool) or not 10000101 <= value <= 99991231:
        raise InvalidInput(f"malformed {what} in compact QR payload: expected a date as YYYYMMDD")
    text = str(value)
    try:
        return canonical_date(f"{text[:4]}-{text[4:6]}-{text[6:]}")
    except FieldError:
        raise InvalidInput(f"malformed {what} in compact QR payload: {value} is not a calendar date") from None


def metadata_items(meta: Metadata) -> list[Any]:
    """The metadata as a compact code carries them: suite, type, agency, region, validFrom and
    validUntil as YYYYMMDD, the identifier without its fixed root (or None)."""
    identifier: str | None = None
    if meta.identifier is not None:
        if not meta.identifier.startswith(IDENTIFIER_ROOT + "."):
            raise InvalidInput(f"identifier {meta.identifier!r} does not start with {IDENTIFIER_ROOT}.")
        identifier = meta.identifier[len(IDENTIFIER_ROOT) + 1 :]
    return [
        meta.suite,
        meta.type,
        meta.agency,
        int(meta.region),
        _day(meta.valid_from),
        _day(meta.valid_until) if meta.valid_until else None,
        identifier,
    ]


def compact_v3_payload(meta: Metadata, holder: bytes) -> str:
    """A ``CLC3:`` payload from a certificate's metadata and holder digest."""
    body = [*metadata_items(meta), bytes(holder)]
    return COMPACT_PREFIX + base45.b45encode(cbor2.dumps(body)).decode()


def compact_for(cert: Certificate, cert_hash: bytes | None = None) -> str:
    """The compact payload of a certificate: ``CLC3:`` for ``certledger/2``, ``CLC2:`` for
    ``certledger/1``."""
    if cert.version == 2:
        return compact_v3_payload(cert.metadata(), cert.holder_digest())
    h = cert_hash if cert_hash is not None else cert.compute_hash()
    return compact_payload(h, cert.type, cert.region, cert.agency)


def full_payload(cert: Certificate) -> str:
    if cert.anchor is None:
        raise InvalidInput("a full QR payload needs an anchored certificate (root, proof, signature)")
    a = cert.anchor
    body: dict[int, Any] = {
        K_TYPE: cert.type,
        K_AGENCY: cert.agency,
        K_REGION: cert.region,
        K_FROM: cert.valid_from,
        K_FIELDS: dict(cert.fields),
        K_SALTS: b"".join(cert.salts[name] for name in cert.fields),
        K_CHAIN: a.chain_id,
        K_REGISTRY: bytes.fromhex(a.registry[2:]),
        K_ROOT: a.root,
        K_PROOF: b"".join(a.proof),
        K_SIGNATURE: a.signature,
    }
    if cert.valid_until:
        body[K_UNTIL] = cert.valid_until
    if cert.hidden:
        body[K_HIDDEN] = dict(cert.hidden)
    if cert.version == 1:
        return FULL_V1_PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(body), 9)).decode()
    body[K_SUITE] = cert.suite
    if cert.identifier is not None:
        body[K_IDENTIFIER] = cert.identifier
    if a.sm2_signature is not None:
        body[K_SM2_SIGNATURE] = a.sm2_signature
    return FULL_PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(body), 9)).decode()


def _compact_v3(items: Any) -> CompactV3Payload:
    if not isinstance(items, list) or len(items) != 8:
        raise InvalidInput(
            "malformed compact QR payload: expected suite, type, agency, region, validFrom, validUntil, "
            "identifier and holder digest"
        )
    holder = items[7]
    if not isinstance(holder, bytes) or len(holder) != 32:
        raise InvalidInput("malformed holder digest in compact QR payload: expected 32 bytes")
    return CompactV3Payload(metadata_from_items(items[:7], "compact QR payload"), holder)


def metadata_from_items(items: Any, what: str) -> Metadata:
    """The metadata of ``metadata_items``; InvalidInput names what is malformed in ``what``."""
    if not isinstance(items, list) or len(items) != 7:
        raise InvalidInput(f"malformed metadata in {what}")
    suite_name, cert_type, agency, region, valid_from, valid_until, identifier = items
    if not isinstance(suite_name, str) or suite_name not in SUITES:
        raise InvalidInput(f"malformed {what}: unknown suite {str(suite_name)[:16]!r}")
    if not isinstance(cert_type, str) or not isinstance(agency, str) or not isinstance(region, int):
        raise InvalidInput(f"malformed {what}: type, agency and region")
    type_id(cert_type)
    agency_id(agency)
    if identifier is not None and (not isinstance(identifier, str) or not 0 < len(identifier) <= 100):
        raise InvalidInput(f"malformed identifier in {what}")
    return Metadata(
        suite_name,
        cert_type,
        agency,
        region_code(region),
        _iso_day(valid_from, "validFrom"),
        None if valid_until is None else _iso_day(valid_until, "validUntil"),
        None if identifier is None else f"{IDENTIFIER_ROOT}.{identifier}",
    )


def decode(payload: str) -> CompactPayload | CompactV3Payload | Certificate:
    """Decode a QR payload string; InvalidInput names what is wrong."""
    if not isinstance(payload, str):
        raise InvalidInput("QR payload must be text")
    text = payload.strip()
    if len(text) > MAX_PAYLOAD:
        raise InvalidInput(f"QR payload longer than {MAX_PAYLOAD} characters")
    try:
        if text.startswith(COMPACT_PREFIX):
            return _compact_v3(cbor_exact(b45_bytes(text[len(COMPACT_PREFIX) :])))
        if text.startswith((COMPACT_V2_PREFIX, COMPACT_V1_PREFIX)):
            v1 = text.startswith(COMPACT_V1_PREFIX)
            items = cbor_exact(b45_bytes(text[len(COMPACT_PREFIX) :]))
            if (
                not isinstance(items, list)
                or len(items) != (3 if v1 else 4)
                or not isinstance(items[0], bytes)
                or len(items[0]) != 32
                or not isinstance(items[1], str)
                or not isinstance(items[2], int)
                or (not v1 and not isinstance(items[3], str))
            ):
                raise InvalidInput("malformed compact QR payload: expected certificate hash, type, region and agency")
            agency = None if v1 else items[3]
            if agency is not None:
                agency_id(agency)  # a well-formed agency code, or InvalidInput
            type_id(items[1])
            return CompactPayload(items[0], items[1], region_code(items[2]), agency)
        if text.startswith((FULL_PREFIX, FULL_V1_PREFIX)):
            inflater = zlib.decompressobj()
            raw = inflater.decompress(b45_bytes(text[len(FULL_PREFIX) :]), MAX_INFLATED)
            if inflater.unconsumed_tail:
                raise InvalidInput(f"full QR payload inflates to more than {MAX_INFLATED} bytes")
            if not inflater.eof or inflater.unused_data:
                raise InvalidInput("full QR payload is truncated or has trailing data")
            return _certificate(cbor_exact(raw), v2=text.startswith(FULL_PREFIX))
    except InvalidInput:
        raise
    except zlib.error:
        raise InvalidInput("QR payload does not decode: its compressed data is damaged") from None
    except cbor2.CBORDecodeError:
        raise InvalidInput("QR payload does not decode: its data is not valid CBOR (damaged or cut short)") from None
    except KeyError as exc:
        raise InvalidInput(f"full QR payload lacks entry {exc.args[0]}") from None
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput("QR payload does not decode: malformed content") from None
    raise InvalidInput(
        f"not a CertLedger QR payload (expected a {COMPACT_PREFIX}, {FULL_PREFIX}, {COMPACT_V2_PREFIX} or "
        f"{FULL_V1_PREFIX} prefix)"
    )


_BASE45 = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def b45_bytes(text: str) -> bytes:
    """Base45 (RFC 9285) with errors that say what is wrong."""
    bad = next((ch for ch in text if ch not in _BASE45), None)
    if bad is not None:
        raise InvalidInput(f"QR payload does not decode: {bad!r} is not a Base45 character (was it retyped or cut?)")
    if len(text) % 3 == 1:
        raise InvalidInput(
            "QR payload does not decode: its length is not valid Base45 (a character is missing or extra)"
        )
    try:
        return base45.b45decode(text)
    except ValueError:
        raise InvalidInput("QR payload does not decode: a Base45 group is out of range (damaged payload)") from None


def cbor_exact(raw: bytes) -> Any:
    """One CBOR item that uses every byte."""
    stream = io.BytesIO(raw)
    item = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(raw):
        raise InvalidInput("QR payload has trailing bytes")
    return item


def _chunks(data: Any, size: int, what: str) -> list[bytes]:
    if not isinstance(data, bytes) or len(data) % size:
        raise InvalidInput(f"malformed {what} in QR payload")
    return [data[i : i + size] for i in range(0, len(data), size)]


def _certificate(body: Any, *, v2: bool) -> Certificate:
    if not isinstance(body, dict):
        raise InvalidInput("malformed full QR payload")
    if not v2 and (K_SUITE in body or K_IDENTIFIER in body or K_SM2_SIGNATURE in body):
        raise InvalidInput("a CLF1 payload (certledger/1) carries no suite, identifier or SM2 signature")

    def hx(b: Any, n: int, what: str) -> str:
        if not isinstance(b, bytes) or len(b) != n:
            raise InvalidInput(f"malformed {what} in QR payload")
        return "0x" + b.hex()

    fields = body.get(K_FIELDS, {})
    if not isinstance(fields, dict):
        raise InvalidInput("malformed fields in QR payload")
    salts = _chunks(body.get(K_SALTS, b""), 16, "salts")
    if len(salts) != len(fields):
        raise InvalidInput("QR payload has a different number of salts and fields")
    doc: dict[str, Any] = {
        "format": FORMAT_V2 if v2 else FORMAT_V1,
        "type": body[K_TYPE],
        "issuer": {"agency": body[K_AGENCY], "region": body[K_REGION]},
        "validFrom": body[K_FROM],
        "validUntil": body.get(K_UNTIL),
        "fields": fields,
        "salts": {name: "0x" + salt.hex() for name, salt in zip(fields, salts, strict=True)},
        "hidden": {k: hx(v, 32, "field hash") for k, v in body.get(K_HIDDEN, {}).items()},
        "anchor": {
            "chainId": body[K_CHAIN],
            "registry": to_checksum_address(hx(body[K_REGISTRY], 20, "registry")),
            "root": hx(body[K_ROOT], 32, "root"),
            "proof": ["0x" + p.hex() for p in _chunks(body.get(K_PROOF, b""), 32, "proof")],
            "signature": hx(body[K_SIGNATURE], 65, "signature"),
        },
    }
    if v2:
        doc["suite"] = body[K_SUITE]
        if K_IDENTIFIER in body:
            doc["identifier"] = body[K_IDENTIFIER]
        if K_SM2_SIGNATURE in body:
            doc["anchor"]["sm2Signature"] = hx(body[K_SM2_SIGNATURE], 64, "SM2 signature")
    cert, _ = Certificate.from_json(doc)
    return cert


def render_png(payload: str, path: Path, *, error: str = "m", scale: int = 4) -> int:
    """Write a QR PNG; returns the QR version used."""
    code = segno.make_qr(payload, error=error, boost_error=False)
    code.save(str(path), kind="png", scale=scale, border=4)
    return int(code.version)


def qr_version(payload: str, error: str = "m") -> int:
    return int(segno.make_qr(payload, error=error, boost_error=False).version)


__all__ = [
    "Anchor",
    "CompactPayload",
    "CompactV3Payload",
    "compact_for",
    "compact_payload",
    "compact_v3_payload",
    "decode",
    "full_payload",
    "qr_version",
    "render_png",
]


MAX_IMAGE_PIXELS = 16_000_000  # a 12 MP phone photo or a 4000 x 4000 scan; larger images are refused
DECODE_MAX_SIDE = 2000  # images are shrunk to this longest side before the QR decoder sees them


def read_image(data: bytes) -> str:
    """The text of the first QR code in a PNG/JPEG image (zxing-cpp); InvalidInput otherwise.

    The pixel count is checked from the header before anything is decoded, and large images are
    shrunk (JPEG while decoding, by DCT scaling) so that one upload costs a bounded amount of work."""
    import io

    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ("PNG", "JPEG"):
            raise InvalidInput("not a PNG or JPEG image")
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise InvalidInput(
                f"image too large: {image.width} x {image.height} pixels (at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels)"
            )
        if max(image.size) > DECODE_MAX_SIDE:
            image.draft("L", (DECODE_MAX_SIDE, DECODE_MAX_SIDE))  # JPEG: decode at a reduced scale
        image.load()
        gray = image.convert("L")
        if max(gray.size) > DECODE_MAX_SIDE:
            gray.thumbnail((DECODE_MAX_SIDE, DECODE_MAX_SIDE))
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("not a readable PNG or JPEG image") from None
    results = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    if not results:
        raise InvalidInput("no QR code found in the image")
    return results[0].text
