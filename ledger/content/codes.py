"""Retrieval codes: what a holder needs to fetch and open a published document, in one string.

    CLR1:<base32 of: suite (1 byte) | key (32 bytes intl, 16 bytes sm) | binary CIDv1 (36 bytes)>

RFC 4648 base32, upper case without padding, uses only characters of the QR alphanumeric
mode (as ``:`` does), and unlike Base45 it has no space, ``%``, ``+`` or ``/``: a code can be
pasted into a shell, a URL or a file of one code per line as it is. 69 bytes (intl) give a
116-character code; Base45 would save 6 characters.

A holder who edits a code gets an error, not another document: a changed CID either names
nothing or names content the key does not open, and a changed key fails the AEAD tag.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from .cid import Cid
from .errors import InvalidCid, MalformedCode
from .sealing import KEY_SIZES, SUITE_IDS, SUITE_NAMES

PREFIX: Final = "CLR1:"
MAX_CODE: Final = 200
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


@dataclass(frozen=True)
class RetrievalCode:
    cid: Cid
    key: bytes
    suite: str

    def __post_init__(self) -> None:
        if self.suite not in SUITE_IDS or len(self.key) != KEY_SIZES[self.suite]:
            raise MalformedCode("retrieval code: the key does not fit the suite")

    def __str__(self) -> str:
        raw = bytes([SUITE_IDS[self.suite]]) + self.key + self.cid.to_bytes()
        return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")

    def __repr__(self) -> str:  # the key is a secret: never in logs or tracebacks
        return f"RetrievalCode(cid={self.cid}, suite={self.suite}, key=<{len(self.key)} bytes>)"

    @classmethod
    def parse(cls, text: str) -> RetrievalCode:
        if not isinstance(text, str):
            raise MalformedCode("retrieval code must be text")
        text = text.strip()
        if len(text) > MAX_CODE:
            raise MalformedCode(f"retrieval code is too long ({len(text)} characters)")
        if not text.upper().startswith(PREFIX):
            shown = text.split(":", 1)[0][:12] + ":" if ":" in text else text[:12]
            raise MalformedCode(f"not a retrieval code: it should start with {PREFIX} (it starts {shown!r})")
        body = text[len(PREFIX) :].upper()
        bad = next((ch for ch in body if ch not in _BASE32), None)
        if bad is not None:
            raise MalformedCode(f"retrieval code does not decode: {bad!r} is not a base32 character (retyped?)")
        if len(body) % 8 in (1, 3, 6):
            raise MalformedCode("retrieval code has a wrong length (a character is missing or extra?)")
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        except (binascii.Error, ValueError):
            raise MalformedCode("retrieval code does not decode: it is not valid base32") from None
        if not raw or raw[0] not in SUITE_NAMES:
            raise MalformedCode("retrieval code names an unknown cipher suite")
        suite = SUITE_NAMES[raw[0]]
        size = KEY_SIZES[suite]
        key, cid_bytes = raw[1 : 1 + size], raw[1 + size :]
        if len(key) != size:
            raise MalformedCode("retrieval code is truncated")
        try:
            cid = Cid.from_bytes(cid_bytes)
        except InvalidCid as exc:
            raise MalformedCode(f"retrieval code holds no valid CID ({exc}): truncated or edited?") from None
        return cls(cid, key, suite)
