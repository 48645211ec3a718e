"""CertificateRegistry.anchorBatch: stored batches, the BatchAnchored event, every rejection,
the EIP-712 signature domain and who may submit."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from helpers import advance, chain_now, expect, new_consortium

from ledger.errors import ContractRejected
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree, leaf_of
from ledger.registry import BatchInfo
from ledger.signing import batch_digest, recover_batch_signer, sign_batch

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
BATCH_ANCHORED_TOPIC = keccak(text="BatchAnchored(bytes32,bytes32,bytes32,address,bytes32[],bytes,bytes16[])")
NO_COMMITMENT = keccak(b"")  # keccak256 of empty bytes: no SM2 signature, no identifier tags


# ---------------------------------------------------------------------- helpers


def _sign(issuing, key, root: bytes, agency: str, cert_type: str, *, chain_id=None, registry=None) -> bytes:
    reg = issuing.registry
    return sign_batch(
        key,
        root,
        type_id(cert_type),
        agency_id(agency),
        reg.chain.chain_id if chain_id is None else chain_id,
        reg.deployment.certificate_registry if registry is None else registry,
    )


def _anchor_raw(issuing, agency: str, cert_type: str, hashes, signature: bytes, submitter=None):
    """Call anchorBatch exactly as given (no sorting, no signing)."""
    reg = issuing.registry
    fn = reg.certificates.functions.anchorBatch(agency_id(agency), type_id(cert_type), list(hashes), signature, [])
    return reg.chain.transact(submitter or issuing.deployer, fn)


def _anchor_signed_by(issuing, key, agency: str, cert_type: str, hashes, **domain):
    """Anchor ``hashes`` in leaf order with a signature by ``key`` (optionally over another domain)."""
    tree = build_tree(hashes)
    return _anchor_raw(
        issuing, agency, cert_type, tree.cert_hashes, _sign(issuing, key, tree.root, agency, cert_type, **domain)
    )


def _same_address(a: object, b: str) -> bool:
    return str(a).lower() == b.lower()


def _decode_batch_anchored(receipt) -> dict:
    """Decode the BatchAnchored log by hand (topics + ABI data), independent of web3's decoder."""
    logs = [log for log in receipt["logs"] if bytes(log["topics"][0]) == BATCH_ANCHORED_TOPIC]
    assert len(logs) == 1
    log = logs[0]
    key, cert_hashes, sm2_signature, tags = abi_decode(
        ["address", "bytes32[]", "bytes", "bytes16[]"], bytes(log["data"])
    )
    return {
        "address": log["address"],
        "root": bytes(log["topics"][1]),
        "agency": bytes(log["topics"][2]),
        "certType": bytes(log["topics"][3]),
        "key": key,
        "certHashes": [bytes(h) for h in cert_hashes],
        "sm2Signature": bytes(sm2_signature),
        "identifierTags": [bytes(t) for t in tags],
    }


def _block_time(issuing, receipt) -> int:
    return int(issuing.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


# ---------------------------------------------------------------------- successful anchoring


@pytest.mark.parametrize("size", [1, 2, 7, 300])
def test_anchor_batch_stores_batch_and_emits_every_hash_in_leaf_order(issuing, random_hashes, size):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    hashes = random_hashes(size)
    batch = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", hashes)
    tree = build_tree(hashes)

    assert batch.root == tree.root
    if size == 1:
        assert batch.root == leaf_of(hashes[0])  # a one-leaf tree's root is the leaf itself

    event = _decode_batch_anchored(batch.tx.receipt)
    assert _same_address(event["address"], reg.deployment.certificate_registry)
    assert event["root"] == tree.root
    assert event["agency"] == agency_id("GD-PSB")
    assert event["certType"] == type_id("ID_CARD")
    assert _same_address(event["key"], key.address)
    assert event["certHashes"] == tree.cert_hashes
    assert sorted(event["certHashes"]) == sorted(hashes)
    assert (event["sm2Signature"], event["identifierTags"]) == (b"", [])  # intl, no identifiers

    # web3's decoder agrees with the manual decoding
    (decoded,) = reg.certificates.events.BatchAnchored().process_receipt(batch.tx.receipt)
    assert bytes(decoded["args"]["root"]) == tree.root
    assert [bytes(h) for h in decoded["args"]["certHashes"]] == tree.cert_hashes

    stored = reg.batch("GD-PSB", tree.root)
    assert stored == BatchInfo(
        "GD-PSB", tree.root, to_checksum_address(key.address), _block_time(issuing, batch.tx.receipt), size, "ID_CARD"
    )
    assert reg.batch("GD-AMR", tree.root) is None  # a batch belongs to its agency


def test_anchor_batch_returns_the_root_it_computed(issuing, random_hashes):
    reg = issuing.registry
    tree = build_tree(random_hashes(9))
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    fn = reg.certificates.functions.anchorBatch(agency_id("GD-PSB"), type_id("ID_CARD"), tree.cert_hashes, sig, [])
    assert bytes(reg.chain.call(fn)) == tree.root


def test_unknown_root_has_no_batch(issuing, random_hashes):
    assert issuing.registry.batch("GD-PSB", random_hashes(1)[0]) is None


def test_random_account_may_submit_a_batch_signed_by_the_agency_key(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["ZJ-EDU"]
    stranger = Account.create()  # no role anywhere, no balance (gas is free)
    batch = reg.anchor_batch(stranger, key, "ZJ-EDU", "DEGREE", random_hashes(5))
    assert _same_address(batch.tx.receipt["from"], stranger.address)
    stored = reg.batch("ZJ-EDU", batch.root)
    assert _same_address(stored.key, key.address)  # the batch is the signer's, not the submitter's
    assert stored.cert_type == "DEGREE"


def test_agency_key_may_submit_its_own_batch(issuing, random_hashes):
    key = issuing.agency_keys["GD-AMR"]
    batch = issuing.registry.anchor_batch(key, key, "GD-AMR", "BUSINESS_LICENSE", random_hashes(3))
    assert _same_address(issuing.registry.batch("GD-AMR", batch.root).key, key.address)


def test_second_key_of_an_agency_can_anchor(issuing, random_hashes):
    reg = issuing.registry
    second = Account.create()
    reg.add_key(issuing.admins[440000], "GD-PSB", second.address)
    batch = reg.anchor_batch(issuing.deployer, second, "GD-PSB", "ID_CARD", random_hashes(2))
    assert _same_address(reg.batch("GD-PSB", batch.root).key, second.address)


# ---------------------------------------------------------------------- batch shape


def test_empty_batch_is_rejected(issuing):
    root = b"\x11" * 32
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], root, "GD-PSB", "ID_CARD")
    expect("EmptyBatch", _anchor_raw, issuing, "GD-PSB", "ID_CARD", [], sig)


def test_same_batch_cannot_be_anchored_twice(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    hashes = random_hashes(6)
    first = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", hashes)
    err = expect("BatchAlreadyAnchored", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", hashes)
    assert err["root"] == "0x" + first.root.hex()
    assert err["agency"] == "GD-PSB"


def test_same_hashes_in_another_submission_order_are_the_same_batch(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    hashes = random_hashes(6)
    first = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", hashes)
    shuffled = list(reversed(hashes))
    random.Random(7).shuffle(shuffled)
    err = expect("BatchAlreadyAnchored", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", shuffled)
    assert err["root"] == "0x" + first.root.hex()


def test_another_agency_anchoring_the_same_root_gets_its_own_batch_and_touches_nothing(issuing, random_hashes):
    """Batches are keyed by (agency, root): another agency anchoring the same hashes first (say,
    copied from the pending transaction) neither blocks nor takes nor shadows the issuer's batch."""
    reg = issuing.registry
    hashes = random_hashes(4)
    interloper = reg.anchor_batch(issuing.deployer, issuing.agency_keys["GD-AMR"], "GD-AMR", "BUSINESS_LICENSE", hashes)
    issuer = reg.anchor_batch(issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)
    assert issuer.root == interloper.root
    mine, theirs = reg.batch("GD-PSB", issuer.root), reg.batch("GD-AMR", issuer.root)
    assert (mine.cert_type, theirs.cert_type) == ("ID_CARD", "BUSINESS_LICENSE")
    assert _same_address(mine.key, issuing.agency_keys["GD-PSB"].address)
    assert sorted(reg.agencies_with_batch(issuer.root)) == ["GD-AMR", "GD-PSB"]


def test_subset_of_an_anchored_batch_is_a_new_batch(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    hashes = random_hashes(5)
    a = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", hashes)
    b = reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", hashes[:4])
    assert a.root != b.root and reg.batch("GD-PSB", b.root).size == 4


def _first_unsorted_index(hashes: list[bytes]) -> int:
    leaves = [leaf_of(h) for h in hashes]
    return next(i for i in range(1, len(leaves)) if leaves[i] <= leaves[i - 1])


def test_hashes_not_in_leaf_order_are_rejected_even_with_a_valid_signature(issuing, random_hashes):
    tree = build_tree(random_hashes(8))
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    for unordered in (
        list(reversed(tree.cert_hashes)),
        [*tree.cert_hashes[:3], tree.cert_hashes[4], tree.cert_hashes[3], *tree.cert_hashes[5:]],
        tree.cert_hashes[1:] + tree.cert_hashes[:1],
    ):
        err = expect("UnsortedLeaves", _anchor_raw, issuing, "GD-PSB", "ID_CARD", unordered, sig)
        assert err["index"] == _first_unsorted_index(unordered)
    # in leaf order, the same signature anchors
    _anchor_raw(issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, sig)
    assert issuing.registry.batch("GD-PSB", tree.root) is not None


def test_hashes_sorted_by_value_rather_than_by_leaf_are_rejected(issuing, random_hashes):
    hashes = random_hashes(8)
    while sorted(hashes) == build_tree(hashes).cert_hashes:  # 1 in 8! draws: draw again
        hashes = random_hashes(8)
    tree = build_tree(hashes)
    by_value = sorted(hashes)
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    expect("UnsortedLeaves", _anchor_raw, issuing, "GD-PSB", "ID_CARD", by_value, sig)


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_duplicate_hash_in_a_batch_is_rejected_as_unsorted(issuing, random_hashes, position):
    tree = build_tree(random_hashes(5))
    ordered = tree.cert_hashes
    i = {"first": 0, "middle": 2, "last": 4}[position]
    with_duplicate = [*ordered[: i + 1], ordered[i], *ordered[i + 1 :]]
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    err = expect("UnsortedLeaves", _anchor_raw, issuing, "GD-PSB", "ID_CARD", with_duplicate, sig)
    assert err["index"] == i + 1


def test_batch_of_one_hash_twice_is_rejected(issuing, random_hashes):
    (h,) = random_hashes(1)
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], leaf_of(h), "GD-PSB", "ID_CARD")
    err = expect("UnsortedLeaves", _anchor_raw, issuing, "GD-PSB", "ID_CARD", [h, h], sig)
    assert err["index"] == 1


# ---------------------------------------------------------------------- who signed


def test_signature_by_an_unregistered_key_is_rejected(issuing, random_hashes):
    outsider = Account.create()
    err = expect("UnknownKey", _anchor_signed_by, issuing, outsider, "GD-PSB", "ID_CARD", random_hashes(3))
    assert _same_address(err["key"], outsider.address)


def test_signature_by_a_region_admin_is_not_an_agency_signature(issuing, random_hashes):
    admin = issuing.admins[440000]
    expect("UnknownKey", _anchor_signed_by, issuing, admin, "GD-PSB", "ID_CARD", random_hashes(3))


def test_key_of_another_agency_is_rejected(issuing, random_hashes):
    other = issuing.agency_keys["GD-AMR"]  # same region, other agency
    err = expect("KeyNotOfAgency", _anchor_signed_by, issuing, other, "GD-PSB", "ID_CARD", random_hashes(3))
    assert _same_address(err["key"], other.address)
    assert err["agency"] == "GD-PSB"


def test_type_not_allowed_for_the_agency_is_rejected(issuing, random_hashes):
    key = issuing.agency_keys["GD-PSB"]
    err = expect("TypeNotAllowed", _anchor_signed_by, issuing, key, "GD-PSB", "DEGREE", random_hashes(3))
    assert err == {"agency": "GD-PSB", "typeId": "DEGREE"}
    # a type that does not exist at all
    expect("TypeNotAllowed", _anchor_signed_by, issuing, key, "GD-PSB", "NO_SUCH_TYPE", random_hashes(3))


def test_type_forbidden_later_stops_new_anchors(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))
    reg.set_agency_types(issuing.admins[440000], "GD-PSB", ["ID_CARD"], False)
    expect("TypeNotAllowed", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))


def test_suspended_agency_cannot_anchor_until_reactivated(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    reg.suspend_agency(issuing.admins[440000], "GD-PSB")
    err = expect("AgencySuspended", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))
    assert err["agency"] == "GD-PSB"
    reg.reactivate_agency(issuing.admins[440000], "GD-PSB")
    reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))


def test_retired_key_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    reg.retire_key(issuing.admins[440000], key.address)
    err = expect("KeyRetired", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))
    assert _same_address(err["key"], key.address)
    assert err["retiredAt"] == reg.key(key.address).retired_at


def test_key_retired_in_the_future_anchors_until_then(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    retire_at = chain_now(issuing.chain) + 1000
    reg.retire_key(issuing.admins[440000], key.address, retire_at)
    reg.anchor_batch(issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))
    advance(issuing.chain, 1000)
    expect("KeyRetired", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))


def test_rotated_out_key_is_rejected_and_new_key_anchors(issuing, random_hashes):
    reg = issuing.registry
    old = issuing.agency_keys["GD-PSB"]
    new = Account.create()
    reg.rotate_key(issuing.admins[440000], old.address, new.address)
    expect("KeyRetired", reg.anchor_batch, issuing.deployer, old, "GD-PSB", "ID_CARD", random_hashes(2))
    reg.anchor_batch(issuing.deployer, new, "GD-PSB", "ID_CARD", random_hashes(2))


def test_compromised_key_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    since = chain_now(issuing.chain)
    reg.report_compromised(issuing.admins[440000], key.address, since)
    err = expect("KeyCompromised", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))
    assert _same_address(err["key"], key.address)
    assert err["since"] == since


def test_key_reported_compromised_by_itself_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    reg.report_own_compromise(key)
    expect("KeyCompromised", reg.anchor_batch, issuing.deployer, key, "GD-PSB", "ID_CARD", random_hashes(2))


def test_key_not_yet_active_is_rejected_until_its_start(issuing, random_hashes):
    reg = issuing.registry
    later = Account.create()
    start = chain_now(issuing.chain) + 500
    reg.add_key(issuing.admins[440000], "GD-PSB", later.address, start)
    err = expect("KeyNotYetActive", reg.anchor_batch, issuing.deployer, later, "GD-PSB", "ID_CARD", random_hashes(2))
    assert err["activeFrom"] == start
    advance(issuing.chain, 500)
    reg.anchor_batch(issuing.deployer, later, "GD-PSB", "ID_CARD", random_hashes(2))


# ---------------------------------------------------------------------- the signature itself


def test_signature_for_another_chain_id_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    tree = build_tree(random_hashes(3))
    sig = _sign(issuing, key, tree.root, "GD-PSB", "ID_CARD", chain_id=reg.chain.chain_id + 1)
    err = expect("UnknownKey", _anchor_raw, issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, sig)
    # the contract recovered the address this signature yields under the right domain
    recovered = recover_batch_signer(
        sig, tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), reg.chain.chain_id, reg.deployment.certificate_registry
    )
    assert _same_address(err["key"], recovered)
    assert not _same_address(recovered, key.address)


def test_signature_for_another_contract_address_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    for address in (reg.deployment.agency_registry, reg.deployment.consortium, Account.create().address):
        expect(
            "UnknownKey",
            _anchor_signed_by,
            issuing,
            issuing.agency_keys["GD-PSB"],
            "GD-PSB",
            "ID_CARD",
            random_hashes(3),
            registry=address,
        )


def test_signature_for_another_deployment_on_the_same_chain_is_rejected(issuing, random_hashes):
    other = new_consortium(issuing.chain)
    expect(
        "UnknownKey",
        _anchor_signed_by,
        issuing,
        issuing.agency_keys["GD-PSB"],
        "GD-PSB",
        "ID_CARD",
        random_hashes(3),
        registry=other.deployment.certificate_registry,
    )


def test_signature_over_another_root_type_or_agency_is_rejected(issuing, random_hashes):
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    tree = build_tree(random_hashes(3))
    other_root = build_tree(random_hashes(3)).root
    for sig in (
        _sign(issuing, key, other_root, "GD-PSB", "ID_CARD"),
        _sign(issuing, key, tree.root, "GD-PSB", "DEGREE"),
        _sign(issuing, key, tree.root, "GD-AMR", "ID_CARD"),
    ):
        expect("UnknownKey", _anchor_raw, issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, sig)
    assert reg.batch("GD-PSB", tree.root) is None


def test_signature_over_a_batch_cannot_anchor_a_superset(issuing, random_hashes):
    key = issuing.agency_keys["GD-PSB"]
    hashes = random_hashes(4)
    sig = _sign(issuing, key, build_tree(hashes).root, "GD-PSB", "ID_CARD")
    bigger = build_tree(hashes + random_hashes(1))
    expect("UnknownKey", _anchor_raw, issuing, "GD-PSB", "ID_CARD", bigger.cert_hashes, sig)


@pytest.mark.parametrize("where", ["r", "s", "v"])
def test_tampered_signature_is_rejected(issuing, random_hashes, where):
    tree = build_tree(random_hashes(3))
    sig = bytearray(_sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD"))
    if where == "r":
        sig[5] ^= 0x01
        expected = {"UnknownKey", "ECDSAInvalidSignature"}  # a changed r may not be a curve point
    elif where == "s":
        sig[63] ^= 0x01  # s stays in the lower half: recovers to some other address
        expected = {"UnknownKey"}
    else:
        sig[64] = 55 - sig[64]  # 27 <-> 28: the other candidate public key
        expected = {"UnknownKey"}
    with pytest.raises(ContractRejected) as info:
        _anchor_raw(issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, bytes(sig))
    assert info.value.error_name in expected
    assert issuing.registry.batch("GD-PSB", tree.root) is None


def test_malleable_high_s_signature_is_rejected(issuing, random_hashes):
    tree = build_tree(random_hashes(3))
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    malleated = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    expect("ECDSAInvalidSignatureS", _anchor_raw, issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, malleated)


def test_signature_with_invalid_v_is_rejected(issuing, random_hashes):
    tree = build_tree(random_hashes(3))
    sig = bytearray(_sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD"))
    sig[64] = 29
    expect("ECDSAInvalidSignature", _anchor_raw, issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, bytes(sig))


def test_signature_of_wrong_length_is_rejected(issuing, random_hashes):
    tree = build_tree(random_hashes(3))
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    for length in (0, 1, 64, 66, 129, 130):  # 64 bytes: r || s without v (no EIP-2098 compact form)
        malformed = (sig * 3)[:length]
        err = expect("InvalidSignatures", _anchor_raw, issuing, "GD-PSB", "ID_CARD", tree.cert_hashes, malformed)
        assert err == {"length": length, "expected": 65}  # intl: the EIP-712 signature alone
    assert issuing.registry.batch("GD-PSB", tree.root) is None


# ---------------------------------------------------------------------- EIP-712 domain


def test_python_batch_digest_equals_contract_batch_digest(issuing, random_hashes):
    reg = issuing.registry
    for agency, cert_type in (("GD-PSB", "ID_CARD"), ("ZJ-EDU", "DEGREE")):
        root = random_hashes(1)[0]
        aid, tid = agency_id(agency), type_id(cert_type)
        on_chain = bytes(
            reg.chain.call(reg.certificates.functions.batchDigest(root, tid, aid, NO_COMMITMENT, NO_COMMITMENT))
        )
        assert on_chain == batch_digest(root, tid, aid, reg.chain.chain_id, reg.deployment.certificate_registry)
        # and the digest depends on every field
        assert on_chain != batch_digest(root, tid, aid, reg.chain.chain_id + 1, reg.deployment.certificate_registry)
        assert on_chain != batch_digest(root, tid, aid, reg.chain.chain_id, reg.deployment.agency_registry)


def test_domain_separator_and_eip712_domain_views_are_consistent(issuing):
    reg = issuing.registry
    c = reg.certificates.functions
    address = reg.deployment.certificate_registry
    fields, name, version, chain_id, verifying, salt, extensions = reg.chain.call(c.eip712Domain())
    assert bytes(fields) == b"\x0f"  # name, version, chainId, verifyingContract
    assert (name, version) == ("CertLedger", "3")
    assert (reg.chain.call(c.DOMAIN_NAME()), reg.chain.call(c.DOMAIN_VERSION())) == (name, version)
    assert chain_id == reg.chain.chain_id
    assert _same_address(verifying, address)
    assert bytes(salt) == b"\x00" * 32 and list(extensions) == []

    domain_typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    expected = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_typehash, keccak(text=name), keccak(text=version), chain_id, verifying],
        )
    )
    separator = bytes(reg.chain.call(c.domainSeparator()))
    assert separator == expected

    anchor_typehash = bytes(reg.chain.call(c.ANCHOR_TYPEHASH()))
    assert anchor_typehash == keccak(
        text="AnchorBatch(bytes32 root,bytes32 certType,bytes32 agency,bytes32 sm2Signature,bytes32 identifierTags)"
    )
    root, tid, aid = b"\x42" * 32, type_id("ID_CARD"), agency_id("GD-PSB")
    sm2, tags = keccak(b"sm2"), keccak(b"tags")
    struct_hash = keccak(abi_encode(["bytes32"] * 6, [anchor_typehash, root, tid, aid, sm2, tags]))
    assert bytes(reg.chain.call(c.batchDigest(root, tid, aid, sm2, tags))) == keccak(
        b"\x19\x01" + separator + struct_hash
    )


def test_two_deployments_have_different_domain_separators(issuing):
    other = new_consortium(issuing.chain)
    a = issuing.registry.chain.call(issuing.registry.certificates.functions.domainSeparator())
    b = other.registry.chain.call(other.registry.certificates.functions.domainSeparator())
    assert bytes(a) != bytes(b)


# ---------------------------------------------------------------------- large batches


def test_batch_that_fits_in_a_block_is_anchored_by_the_client(issuing, random_hashes):
    """20,000 certificates need ~27.9 M gas, under the 30 M block gas limit: Registry.anchor_batch
    must send it (the client's gas margin must not push the limit above the block's)."""
    reg = issuing.registry
    hashes = random_hashes(20_000)
    tree = build_tree(hashes)
    sig = _sign(issuing, issuing.agency_keys["GD-PSB"], tree.root, "GD-PSB", "ID_CARD")
    fn = reg.certificates.functions.anchorBatch(agency_id("GD-PSB"), type_id("ID_CARD"), tree.cert_hashes, sig, [])
    estimate = fn.estimate_gas({"from": issuing.deployer.address})
    block_limit = int(issuing.chain.w3.eth.get_block("latest")["gasLimit"])
    assert estimate < block_limit
    batch = reg.anchor_batch(issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)
    assert batch.tx.gas_used <= block_limit
    assert reg.batch("GD-PSB", tree.root).size == 20_000
