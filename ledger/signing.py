"""EIP-712 signatures over batch roots: AnchorBatch(root, certType, agency) in the domain
(name "CertLedger", version "2", chainId, verifyingContract = the CertificateRegistry).

The chain id and contract address in the domain stop a signature from being replayed on
another chain or another deployment.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "CertLedger"
DOMAIN_VERSION = "2"
ANCHOR_TYPES = {
    "AnchorBatch": [
        {"name": "root", "type": "bytes32"},
        {"name": "certType", "type": "bytes32"},
        {"name": "agency", "type": "bytes32"},
    ]
}


def batch_typed_data(root: bytes, cert_type: bytes, agency: bytes, chain_id: int, registry: str) -> dict[str, Any]:
    return {
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry),
        },
        "types": ANCHOR_TYPES,
        "primaryType": "AnchorBatch",
        "message": {"root": bytes(root), "certType": bytes(cert_type), "agency": bytes(agency)},
    }


def batch_digest(root: bytes, cert_type: bytes, agency: bytes, chain_id: int, registry: str) -> bytes:
    """The 32-byte EIP-712 digest (what ``CertificateRegistry.batchDigest`` returns)."""
    signable = encode_typed_data(full_message=batch_typed_data(root, cert_type, agency, chain_id, registry))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_batch(key: LocalAccount, root: bytes, cert_type: bytes, agency: bytes, chain_id: int, registry: str) -> bytes:
    """The agency key's 65-byte signature (r || s || v) of a batch root."""
    signable = encode_typed_data(full_message=batch_typed_data(root, cert_type, agency, chain_id, registry))
    return bytes(key.sign_message(signable).signature)


def recover_batch_signer(
    signature: bytes, root: bytes, cert_type: bytes, agency: bytes, chain_id: int, registry: str
) -> str:
    """The address that signed a batch root (any 65-byte signature recovers to *some* address:
    callers must check it against the trust list)."""
    signable = encode_typed_data(full_message=batch_typed_data(root, cert_type, agency, chain_id, registry))
    return to_checksum_address(Account.recover_message(signable, signature=bytes(signature)))
