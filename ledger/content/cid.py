"""CIDs of the profile: binary form, base32 text, and the other spellings nodes answer.

Only CIDs the profile can produce are accepted: version 1 (or a version 0 text, which is the
same dag-pb CID), codec raw or dag-pb, a sha2-256 multihash of 32 bytes. js-ipfs answers
CIDs in base58btc (``z...``; ``Qm...`` for version 0): ``Cid.parse`` reads those and ``str``
always writes the base32 form (``bafk...`` raw, ``bafy...`` dag-pb).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from .errors import InvalidCid
from .profile import CID_VERSION, CODEC_DAG_PB, CODEC_RAW, HASH_CODE, HASH_SIZE

_CODECS = {CODEC_RAW: "raw", CODEC_DAG_PB: "dag-pb"}
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58)}
_MULTIHASH_PREFIX = bytes([HASH_CODE, HASH_SIZE])
MAX_TEXT = 100  # a profile CID is 59 characters in base32, 49 in base58btc


def varint(n: int) -> bytes:
    """Unsigned LEB128, as multiformats and protobuf write integers."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; minimal encodings only (at most 9 bytes)."""
    value = shift = 0
    for i in range(pos, min(pos + 9, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and i > pos:
                raise ValueError("non-minimal varint")
            return value, i + 1
        shift += 7
    raise ValueError("truncated or overlong varint")


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        try:
            n = n * 58 + _B58_INDEX[ch]
        except KeyError:
            raise InvalidCid(f"malformed CID: {ch!r} is not a base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _b32decode(text: str) -> bytes:
    try:
        return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except ValueError:
        raise InvalidCid("malformed CID: not base32") from None


@dataclass(frozen=True)
class Cid:
    """A profile CID: its codec (raw or dag-pb) and the sha2-256 digest of its block."""

    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.codec not in _CODECS:
            raise InvalidCid(f"CID codec 0x{self.codec:x} is not raw or dag-pb")
        if len(self.digest) != HASH_SIZE:
            raise InvalidCid("CID digest is not 32 bytes")

    @classmethod
    def of_block(cls, codec: int, block: bytes) -> Cid:
        return cls(codec, hashlib.sha256(block).digest())

    @property
    def codec_name(self) -> str:
        return _CODECS[self.codec]

    @property
    def is_raw(self) -> bool:
        return self.codec == CODEC_RAW

    def to_bytes(self) -> bytes:
        return varint(CID_VERSION) + varint(self.codec) + _MULTIHASH_PREFIX + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=").lower()

    def __repr__(self) -> str:
        return f"Cid({self})"

    def matches(self, block: bytes) -> bool:
        return hashlib.sha256(block).digest() == self.digest

    @classmethod
    def from_bytes(cls, data: bytes) -> Cid:
        """A binary CIDv1 that uses every byte."""
        try:
            version, pos = read_varint(data, 0)
            codec, pos = read_varint(data, pos)
        except ValueError:
            raise InvalidCid("malformed CID: bad varint") from None
        if version != CID_VERSION:
            raise InvalidCid(f"CID version {version} is not 1")
        if data[pos : pos + 2] != _MULTIHASH_PREFIX:
            raise InvalidCid("CID hash is not a 32-byte sha2-256")
        digest = data[pos + 2 :]
        if len(digest) != HASH_SIZE:
            raise InvalidCid(f"malformed CID: {len(digest) - HASH_SIZE:+d} bytes after a 32-byte digest")
        return cls(codec, digest)

    @classmethod
    def parse(cls, text: str) -> Cid:
        """A CID text: base32 (``b...``), base58btc (``z...``) or version 0 (``Qm...``)."""
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            raise InvalidCid("malformed CID: empty or too long")
        text = text.strip()
        if len(text) == 46 and text.startswith("Qm"):  # version 0: a bare dag-pb multihash
            raw = _b58decode(text)
            if raw[:2] != _MULTIHASH_PREFIX or len(raw) != 2 + HASH_SIZE:
                raise InvalidCid("malformed CIDv0")
            return cls(CODEC_DAG_PB, raw[2:])
        prefix, body = text[0], text[1:]
        if prefix in "bB":
            return cls.from_bytes(_b32decode(body))
        if prefix == "z":
            return cls.from_bytes(_b58decode(body))
        raise InvalidCid(f"malformed CID {text[:60]!r}: expected base32 (b...), base58btc (z...) or Qm...")
