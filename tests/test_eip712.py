"""The verification path's own EIP-712 digests and signer recovery (``ledger.eip712``) equal
eth_account's, for batch roots and trust snapshots, and a malformed signature recovers to no
one rather than to someone."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from ledger import eip712
from ledger.signing import ANCHOR_FIELDS, batch_digest, batch_typed_data, recover_batch_signer, sign_batch
from ledger.snapshot import SNAPSHOT_TYPES

pytestmark = pytest.mark.unit


def _eth_account_digest(typed: dict) -> bytes:
    m = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + m.version + m.header + m.body)


@pytest.mark.parametrize("case", range(20))
def test_batch_digests_and_signers_equal_eth_accounts(case: int) -> None:
    key = Account.create()
    root, cert_type, agency, sm2 = os.urandom(32), os.urandom(32), os.urandom(32), os.urandom(case % 2 * 64)
    tags = [os.urandom(16) for _ in range(case % 3)]
    registry, chain_id = Account.create().address, 1 + case * 7919
    typed = batch_typed_data(root, cert_type, agency, chain_id, registry, sm2_signature=sm2, identifier_tags=tags)
    ours = eip712.digest(typed["domain"], "AnchorBatch", ANCHOR_FIELDS, typed["message"])
    assert (
        ours
        == _eth_account_digest(typed)
        == batch_digest(root, cert_type, agency, chain_id, registry, sm2_signature=sm2, identifier_tags=tags)
    )
    signature = sign_batch(key, root, cert_type, agency, chain_id, registry, sm2_signature=sm2, identifier_tags=tags)
    assert eip712.recover(ours, signature) == key.address
    assert (
        recover_batch_signer(
            signature, root, cert_type, agency, chain_id, registry, sm2_signature=sm2, identifier_tags=tags
        )
        == key.address
    )
    # v as 0/1 recovers the same; another root recovers someone else
    assert eip712.recover(ours, signature[:64] + bytes([signature[64] - 27])) == key.address
    assert recover_batch_signer(signature, os.urandom(32), cert_type, agency, chain_id, registry) != key.address


def test_snapshot_digest_equals_eth_accounts() -> None:
    typed = {
        "domain": {
            "name": "CertLedger",
            "version": "3",
            "chainId": 31337,
            "verifyingContract": Account.create().address,
        },
        "types": SNAPSHOT_TYPES,
        "primaryType": "TrustSnapshot",
        "message": {
            "height": 123456,
            "blockHash": os.urandom(32),
            "blockTime": 1_800_000_000,
            "manifest": os.urandom(32),
        },
    }
    fields = [(f["name"], f["type"]) for f in SNAPSHOT_TYPES["TrustSnapshot"]]
    assert eip712.digest(typed["domain"], "TrustSnapshot", fields, typed["message"]) == _eth_account_digest(typed)


@pytest.mark.parametrize(
    "signature",
    [b"", bytes(64), bytes(65), b"\xff" * 65, b"\x5a" * 32 + bytes(32) + b"\x1b", b"\x5a" * 64 + b"\x05"],
    ids=["empty", "64 bytes", "zeros", "r, s out of range", "s zero", "v out of range"],
)
def test_a_malformed_signature_recovers_to_no_one(signature: bytes) -> None:
    with pytest.raises(eip712.SignatureInvalid):
        eip712.recover(os.urandom(32), signature)


def test_a_field_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="bytes32 needs 32 bytes"):
        eip712.digest(
            {"name": "CertLedger", "version": "3", "chainId": 1, "verifyingContract": Account.create().address},
            "AnchorBatch",
            ANCHOR_FIELDS,
            dict.fromkeys(("root", "certType", "agency", "sm2Signature", "identifierTags"), b"short"),
        )
