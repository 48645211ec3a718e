"""EIP-712 digests of CertLedger's flat structs, and recovering their signers.

The verification path recovers who signed a batch root or a trust snapshot. ``eth_account``
does that too, but importing it loads ``eth_keyfile`` and ``py_ecc``'s BLS constants (about a
second on this machine kind), which every ``certledger verify`` would pay; here the digest is
the few lines EIP-712 defines for structs of static fields (``bytes32``, ``uintN``,
``address``; the domain's strings hashed) and recovery is ``eth_keys``' own. These digests are
also what keys sign (``LocalAccount.unsafe_sign_hash``): one digest for signing, recovering and
the contract's ``batchDigest``, held equal to ``eth_account``'s typed-data encoding by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import to_canonical_address, to_checksum_address

from .merkle import keccak  # the C keccak when installed

DOMAIN_FIELDS = (("name", "string"), ("version", "string"), ("chainId", "uint256"), ("verifyingContract", "address"))


class SignatureInvalid(ValueError):
    """A signature that recovers to no key (malformed, out of range)."""


def type_hash(primary: str, fields: Sequence[tuple[str, str]]) -> bytes:
    return keccak(f"{primary}({','.join(f'{t} {n}' for n, t in fields)})".encode())


def _word(kind: str, value: Any) -> bytes:
    if kind in ("string", "bytes"):
        return keccak(value.encode() if isinstance(value, str) else bytes(value))
    if kind == "bytes32":
        raw = bytes(value)
        if len(raw) != 32:
            raise ValueError(f"bytes32 needs 32 bytes, not {len(raw)}")
        return raw
    if kind == "address":
        return to_canonical_address(value).rjust(32, b"\0")
    if kind.startswith("uint"):
        return int(value).to_bytes(32, "big")
    raise ValueError(f"unsupported EIP-712 field type {kind!r}")


def struct_hash(primary: str, fields: Sequence[tuple[str, str]], values: Mapping[str, Any]) -> bytes:
    return keccak(type_hash(primary, fields) + b"".join(_word(t, values[n]) for n, t in fields))


def digest(
    domain: Mapping[str, Any], primary: str, fields: Sequence[tuple[str, str]], message: Mapping[str, Any]
) -> bytes:
    """keccak256(0x1901 || domainSeparator || hashStruct(message)): what is signed."""
    separator = struct_hash("EIP712Domain", DOMAIN_FIELDS, domain)
    return keccak(b"\x19\x01" + separator + struct_hash(primary, fields, message))


def recover(message_digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made the 65-byte signature (r || s || v, v = 27/28
    or 0/1) of ``message_digest``; ``SignatureInvalid`` when it recovers to none."""
    sig = bytes(signature)
    if len(sig) != 65:
        raise SignatureInvalid(f"a signature is 65 bytes, not {len(sig)}")
    v = sig[64] - 27 if sig[64] >= 27 else sig[64]
    try:
        signed = keys.Signature(vrs=(v, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")))
        return to_checksum_address(
            signed.recover_public_key_from_msg_hash(bytes(message_digest)).to_canonical_address()
        )
    except (BadSignature, ValidationError, ValueError) as exc:
        raise SignatureInvalid(f"the signature recovers to no key ({exc})") from None
