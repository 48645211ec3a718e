"""Batch signatures.

**EIP-712** (every suite; the contract checks it): ``AnchorBatch(root, certType, agency,
sm2Signature, identifierTags)`` in the domain (name "CertLedger", version "3", chainId,
verifyingContract = the CertificateRegistry). ``sm2Signature`` is keccak256 of the batch's SM2
signature (of empty bytes outside the ``sm`` suite), ``identifierTags`` keccak256 of the
certificates' 16-byte identifier tags concatenated in leaf order (of empty bytes when the batch
has none). The chain id and contract address in the domain stop a signature from being replayed
on another chain or another deployment.

**SM2** (``sm`` suite; verified off chain against the SM2 public key registered with the
signing key): SM2-with-SM3 (GM/T 0009, signer ID ``1234567812345678`` unless the key says
otherwise) over the message::

    b"CLB2" || u256(chainId) || registry (20 bytes) || agency id (32) || certType id (32)
            || root (32) || keccak256(identifier tags) (32)

One SM2 signature per batch, never per certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eth_typing import Hash32
from eth_utils import to_bytes, to_checksum_address

from . import eip712
from .merkle import keccak  # the C keccak when installed
from .suites import INTL, Suite, suite

if TYPE_CHECKING:  # verifying never loads eth_account (ledger.eip712): only signing does
    from eth_account.signers.local import LocalAccount

    from .crypto.sm import SM2PrivateKey, SM2PublicKey

DOMAIN_NAME = "CertLedger"
DOMAIN_VERSION = "3"
ANCHOR_TYPES = {
    "AnchorBatch": [
        {"name": "root", "type": "bytes32"},
        {"name": "certType", "type": "bytes32"},
        {"name": "agency", "type": "bytes32"},
        {"name": "sm2Signature", "type": "bytes32"},
        {"name": "identifierTags", "type": "bytes32"},
    ]
}
ANCHOR_FIELDS = tuple((f["name"], f["type"]) for f in ANCHOR_TYPES["AnchorBatch"])
EIP712_SIGNATURE_BYTES = 65
SM2_SIGNATURE_BYTES = 64
TAG_BYTES = 16
NO_TAG = bytes(TAG_BYTES)
SM2_BATCH_PREFIX = b"CLB2"
DEFAULT_SM2_SIGNER_ID = b"1234567812345678"  # GM/T 0009-2012 (= ledger.crypto.sm.DEFAULT_SIGNER_ID)


NO_TAGS_HASH = keccak(b"")  # a batch without identifier tags (computed once: every verification asks)


def tags_hash(identifier_tags: Sequence[bytes] | bytes = ()) -> bytes:
    """keccak256 of the tags, 16 bytes each, back to back (keccak256 of empty bytes: none)."""
    packed = identifier_tags if isinstance(identifier_tags, bytes | bytearray) else b"".join(identifier_tags)
    return keccak(bytes(packed)) if packed else NO_TAGS_HASH


def identifier_tags(identifiers: Sequence[str | None], suite_name: str = INTL) -> list[bytes]:
    """One tag per certificate (``NO_TAG`` for one without identifier), or ``[]`` when no
    certificate of the batch has an identifier."""
    if not any(identifiers):
        return []
    s = suite(suite_name)
    return [s.identifier_tag(i) if i else NO_TAG for i in identifiers]


def batch_typed_data(
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    *,
    sm2_signature: bytes = b"",
    identifier_tags: Sequence[bytes] | bytes = (),
    identifier_tags_hash: bytes | None = None,
) -> dict[str, Any]:
    """The EIP-712 typed data; ``identifier_tags_hash`` (keccak256 of the tags, as the ledger
    records it) stands in for ``identifier_tags`` when given."""
    return {
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry),
        },
        "types": ANCHOR_TYPES,
        "primaryType": "AnchorBatch",
        "message": {
            "root": bytes(root),
            "certType": bytes(cert_type),
            "agency": bytes(agency),
            "sm2Signature": keccak(bytes(sm2_signature)),
            "identifierTags": identifier_tags_hash or tags_hash(identifier_tags),
        },
    }


def _digest(typed: dict[str, Any]) -> bytes:
    return eip712.digest(typed["domain"], "AnchorBatch", ANCHOR_FIELDS, typed["message"])


def batch_digest(
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    *,
    sm2_signature: bytes = b"",
    identifier_tags: Sequence[bytes] | bytes = (),
) -> bytes:
    """The 32-byte EIP-712 digest (what ``CertificateRegistry.batchDigest`` returns)."""
    return _digest(
        batch_typed_data(
            root, cert_type, agency, chain_id, registry, sm2_signature=sm2_signature, identifier_tags=identifier_tags
        )
    )


def sign_batch(
    key: LocalAccount,
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    *,
    sm2_signature: bytes = b"",
    identifier_tags: Sequence[bytes] | bytes = (),
) -> bytes:
    """The agency key's 65-byte EIP-712 signature (r || s || v) of a batch root, committing to
    the batch's SM2 signature and identifier tags."""
    digest = batch_digest(
        root, cert_type, agency, chain_id, registry, sm2_signature=sm2_signature, identifier_tags=identifier_tags
    )
    return bytes(key.unsafe_sign_hash(Hash32(digest)).signature)  # the EIP-712 digest, as sign_message signs it


def recover_batch_signer(
    signature: bytes,
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    *,
    sm2_signature: bytes = b"",
    identifier_tags: Sequence[bytes] | bytes = (),
    identifier_tags_hash: bytes | None = None,
) -> str:
    """The address that signed a batch root (any 65-byte signature recovers to *some* address:
    callers must check it against the trust list)."""
    return _recover(
        bytes(signature),
        bytes(root),
        bytes(cert_type),
        bytes(agency),
        chain_id,
        registry,
        bytes(sm2_signature),
        bytes(identifier_tags_hash or tags_hash(identifier_tags)),
    )


# Every certificate of a batch carries the same batch signature, and verifying one recovers it:
# a pure function of its inputs, so the last few thousand batches' answers are kept.
@lru_cache(maxsize=4096)
def _recover(
    signature: bytes,
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    sm2_signature: bytes,
    identifier_tags_hash: bytes,
) -> str:
    typed = batch_typed_data(
        root,
        cert_type,
        agency,
        chain_id,
        registry,
        sm2_signature=sm2_signature,
        identifier_tags_hash=identifier_tags_hash,
    )
    return eip712.recover(_digest(typed), signature)


# ---------------------------------------------------------------------- SM2


@lru_cache(maxsize=64)  # a deployment has one registry: not re-checked for every verification
def _address_bytes(address: str) -> bytes:
    """The 20 bytes of an address (refused as ``to_checksum_address`` refuses it)."""
    return to_bytes(hexstr=to_checksum_address(address))


def sm2_batch_message(
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    identifier_tags: Sequence[bytes] | bytes = (),
    *,
    identifier_tags_hash: bytes | None = None,
) -> bytes:
    """The bytes an agency's SM2 key signs for a batch (see the module's docstring)."""
    return b"".join(
        (
            SM2_BATCH_PREFIX,
            int(chain_id).to_bytes(32, "big"),
            _address_bytes(registry),
            bytes(agency),
            bytes(cert_type),
            bytes(root),
            identifier_tags_hash or tags_hash(identifier_tags),
        )
    )


def sm2_sign_batch(
    key: SM2PrivateKey,
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    identifier_tags: Sequence[bytes] | bytes = (),
    *,
    signer_id: bytes | str = DEFAULT_SM2_SIGNER_ID,
) -> bytes:
    """The agency SM2 key's 64-byte signature (r || s) of a batch."""
    message = sm2_batch_message(root, cert_type, agency, chain_id, registry, identifier_tags)
    return key.sign(message, signer_id=signer_id)


def sm2_batch_signature_ok(
    public_key: SM2PublicKey | bytes,
    signature: bytes,
    root: bytes,
    cert_type: bytes,
    agency: bytes,
    chain_id: int,
    registry: str,
    identifier_tags: Sequence[bytes] | bytes = (),
    *,
    signer_id: bytes | str = DEFAULT_SM2_SIGNER_ID,
    identifier_tags_hash: bytes | None = None,
) -> bool:
    """Whether ``signature`` is the SM2 signature of this batch by ``public_key`` (64 bytes
    x || y, 65 bytes 04 || x || y, or an SM2PublicKey). False for a malformed key or signature."""
    from .crypto.sm import SM2PublicKey

    if len(signature) != SM2_SIGNATURE_BYTES:
        return False
    message = sm2_batch_message(
        root, cert_type, agency, chain_id, registry, identifier_tags, identifier_tags_hash=identifier_tags_hash
    )
    signer = signer_id.encode() if isinstance(signer_id, str) else bytes(signer_id)
    if isinstance(public_key, SM2PublicKey):
        return _sm2_ok(public_key, bytes(signature), message, signer)
    return _sm2_ok_for_bytes(bytes(public_key), bytes(signature), message, signer)


def _sm2_ok(key: SM2PublicKey | bytes, signature: bytes, message: bytes, signer_id: bytes) -> bool:
    from .crypto.sm import SM2PublicKey
    from .errors import InvalidInput

    try:
        public = key if isinstance(key, SM2PublicKey) else SM2PublicKey.from_bytes(key)
        return public.verify(message, signature, signer_id=signer_id)
    except InvalidInput:
        return False


@lru_cache(maxsize=4096)  # one SM2 verification per batch, not per certificate (a pure function)
def _sm2_ok_for_bytes(public_key: bytes, signature: bytes, message: bytes, signer_id: bytes) -> bool:
    return _sm2_ok(public_key, signature, message, signer_id)


# ---------------------------------------------------------------------- an agency's signing key(s)


@dataclass(frozen=True)
class BatchSigner:
    """What signs an agency's batches: its chain key, and in the ``sm`` suite its SM2 key."""

    account: LocalAccount
    suite: str = INTL
    sm2: SM2PrivateKey | None = None
    sm2_signer_id: bytes = DEFAULT_SM2_SIGNER_ID

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def the_suite(self) -> Suite:
        return suite(self.suite)

    def tags(self, identifiers: Sequence[str | None]) -> list[bytes]:
        return identifier_tags(identifiers, self.suite)

    def sign(
        self,
        root: bytes,
        cert_type: bytes,
        agency: bytes,
        chain_id: int,
        registry: str,
        identifier_tags: Sequence[bytes] | bytes = (),
    ) -> tuple[bytes, bytes | None]:
        """(what ``anchorBatch`` takes as ``signatures``: EIP-712 || SM2 in the sm suite, the
        SM2 signature or None)."""
        sm2_signature = None
        if self.suite != INTL:
            if self.sm2 is None:
                raise ValueError(f"an {self.suite} deployment needs the key's SM2 key to sign a batch")
            sm2_signature = sm2_sign_batch(
                self.sm2, root, cert_type, agency, chain_id, registry, identifier_tags, signer_id=self.sm2_signer_id
            )
        eip712 = sign_batch(
            self.account,
            root,
            cert_type,
            agency,
            chain_id,
            registry,
            sm2_signature=sm2_signature or b"",
            identifier_tags=identifier_tags,
        )
        return eip712 + (sm2_signature or b""), sm2_signature


def as_batch_signer(signer: LocalAccount | BatchSigner) -> BatchSigner:
    return signer if isinstance(signer, BatchSigner) else BatchSigner(signer)
