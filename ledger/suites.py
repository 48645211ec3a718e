"""Cryptographic suites: which hash and which signature a deployment's documents use.

A deployment picks its suite once, when it is deployed (stored on chain by the Consortium
contract):

``intl``
    SHA-256 for field hashes and the certificate hash; agencies sign batches with EIP-712 over
    secp256k1 (their chain key).
``sm``
    SM3 (GB/T 32905) for field hashes and the certificate hash; agencies sign batches with
    SM2-with-SM3 (GB/T 32918, GM/T 0009 signer ID) with an SM2 key registered on chain next to
    their chain address, in addition to the EIP-712 signature the contract checks.

Keccak-256 stays wherever the EVM computes (Merkle nodes over certificate hashes, EIP-712,
identifiers of agencies and types): SM3 in Solidity would cost ~340k gas per 64 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidInput

INTL = "intl"
SM = "sm"


@dataclass(frozen=True)
class Suite:
    name: str
    hash_name: str  # how documents and docs name the hash
    hash: Callable[[bytes], bytes]  # 32-byte digest
    signature: str  # how the agency signs a batch, in words

    @property
    def chain_id(self) -> bytes:
        """The suite as the Consortium contract stores it (bytes32, name left-aligned)."""
        return self.name.encode().ljust(32, b"\0")

    def identifier_tag(self, identifier: str) -> bytes:
        """16 bytes naming a GB/T 36904 identifier on chain without the identifier itself."""
        return self.hash(b"CLID" + identifier.encode())[:16]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sm3(data: bytes) -> bytes:
    from .crypto.sm import sm3  # Tongsuo loads only for deployments that use it

    return sm3(data)


SUITES: dict[str, Suite] = {
    INTL: Suite(INTL, "SHA-256", _sha256, "EIP-712 over secp256k1"),
    SM: Suite(SM, "SM3", _sm3, "SM2-with-SM3 (and EIP-712 for the contract)"),
}


def suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise InvalidInput(f"unknown cryptographic suite {name!r}: use one of {', '.join(SUITES)}") from None


def suite_from_chain(value: bytes) -> Suite:
    """The suite from the Consortium contract's bytes32."""
    return suite(value.rstrip(b"\0").decode("ascii", "replace"))
