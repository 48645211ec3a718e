"""Sealing: a document encrypted under a fresh random key of its own before it goes anywhere
public. Only sealed bytes are ever stored in IPFS (see ``publishing``).

Format (version 1)::

    "CLS" | version (1 byte, 1) | suite (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)

suite 1 = ``intl``: AES-256-GCM (32-byte key); suite 2 = ``sm``: SM4-GCM (GB/T 32907, 16-byte
key; ``cryptography`` runs SM4 in GCM mode through OpenSSL). The 17-byte header is the AEAD's
associated data, so the suite and version cannot be changed without the tag failing. A key
seals one document only, so a random nonce is more than enough.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..suites import INTL, SM, suite
from .errors import SealBroken

MAGIC: Final = b"CLS"
VERSION: Final = 1
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
HEADER_SIZE: Final = len(MAGIC) + 2 + NONCE_SIZE
SUITE_IDS: Final = {INTL: 1, SM: 2}
SUITE_NAMES: Final = {v: k for k, v in SUITE_IDS.items()}
KEY_SIZES: Final = {INTL: 32, SM: 16}
CIPHERS: Final = {INTL: "AES-256-GCM", SM: "SM4-GCM"}


@dataclass(frozen=True)
class Sealed:
    """A sealed document and what opens it. Made by ``seal``; only this is ever published."""

    ciphertext: bytes
    key: bytes
    suite: str

    def __post_init__(self) -> None:
        header = parse_header(self.ciphertext)
        if header.suite != self.suite or len(self.key) != KEY_SIZES[self.suite]:
            raise SealBroken("sealed document, suite and key do not belong together")


@dataclass(frozen=True)
class Header:
    suite: str
    nonce: bytes

    def to_bytes(self) -> bytes:
        return MAGIC + bytes([VERSION, SUITE_IDS[self.suite]]) + self.nonce


def parse_header(ciphertext: bytes) -> Header:
    """The header of sealed bytes, or ``SealBroken`` saying why they are not sealed."""
    if not isinstance(ciphertext, bytes | bytearray) or ciphertext[: len(MAGIC)] != MAGIC:
        raise SealBroken("not a sealed document (no CLS header)")
    if len(ciphertext) < HEADER_SIZE + TAG_SIZE:
        raise SealBroken("sealed document is truncated")
    version, suite_id = ciphertext[3], ciphertext[4]
    if version != VERSION:
        raise SealBroken(f"sealed document format version {version} is not supported (this reads {VERSION})")
    if suite_id not in SUITE_NAMES:
        raise SealBroken(f"sealed document names an unknown cipher suite {suite_id}")
    return Header(SUITE_NAMES[suite_id], bytes(ciphertext[5:HEADER_SIZE]))


def _encrypt(suite_name: str, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if suite_name == INTL:
        return AESGCM(key).encrypt(nonce, plaintext, aad)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def _decrypt(suite_name: str, key: bytes, nonce: bytes, body: bytes, aad: bytes) -> bytes:
    if suite_name == INTL:
        return AESGCM(key).decrypt(nonce, body, aad)
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, body[-TAG_SIZE:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(body[:-TAG_SIZE]) + decryptor.finalize()


def seal(document: bytes, suite_name: str) -> Sealed:
    """``document`` encrypted under a fresh random key with the suite's cipher."""
    suite(suite_name)  # an unknown suite is an InvalidInput naming the known ones
    key = secrets.token_bytes(KEY_SIZES[suite_name])
    header = Header(suite_name, secrets.token_bytes(NONCE_SIZE))
    aad = header.to_bytes()
    return Sealed(aad + _encrypt(suite_name, key, header.nonce, bytes(document), aad), key, suite_name)


def open_sealed(ciphertext: bytes, key: bytes) -> bytes:
    """The document inside sealed bytes; ``SealBroken`` for a wrong key or changed bytes."""
    header = parse_header(ciphertext)
    if len(key) != KEY_SIZES[header.suite]:
        raise SealBroken(
            f"wrong key: {CIPHERS[header.suite]} needs {KEY_SIZES[header.suite]} bytes, this one has {len(key)}"
        )
    try:
        return _decrypt(header.suite, key, header.nonce, bytes(ciphertext[HEADER_SIZE:]), header.to_bytes())
    except InvalidTag:
        raise SealBroken(
            f"the sealed document does not open: wrong key, or the ciphertext was changed ({CIPHERS[header.suite]})"
        ) from None
