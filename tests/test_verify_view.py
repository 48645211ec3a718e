"""The on-chain verification view CertificateRegistry.verify (through Registry.verify_onchain):
anchoring, Merkle proofs, key compromise, recognition rules, second-preimage safety."""

from __future__ import annotations

import pytest
from eth_account import Account
from helpers import advance, chain_now

from ledger.contracts import Reason, Verdict
from ledger.merkle import build_tree, hash_pair, leaf_of, root_from_proof, verify_proof

VALID = (Verdict.OK, Reason.NONE)
MISMATCH = (Verdict.INVALID, Reason.PROOF_MISMATCH)
UNKNOWN = (Verdict.UNKNOWN, Reason.NOT_ANCHORED)
COMPROMISED = (Verdict.INVALID, Reason.KEY_COMPROMISED)
NOT_RECOGNIZED = (Verdict.NOT_RECOGNIZED, Reason.NO_RECOGNITION_RULE)


def _anchor(issuing, agency, cert_type, hashes):
    issuing.registry.anchor_batch(issuing.deployer, issuing.agency_keys[agency], agency, cert_type, hashes)
    return build_tree(hashes)


@pytest.fixture
def psb(issuing, random_hashes):
    """GD-PSB (440000) anchored 8 ID_CARD certificates; returns the tree."""
    return _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(8))


def _flip(b: bytes, index: int = 31) -> bytes:
    out = bytearray(b)
    out[index] ^= 0x01
    return bytes(out)


# ---------------------------------------------------------------------- valid and unknown


def test_every_certificate_of_an_anchored_batch_is_valid(issuing, psb):
    for h in psb.cert_hashes:
        proof = psb.proof(h)
        assert issuing.registry.verify_onchain("GD-PSB", h, psb.root, proof, 0) == VALID
        assert issuing.registry.verify_onchain("GD-PSB", h, psb.root, proof, 440000) == VALID  # own region


def test_single_certificate_batch_verifies_with_empty_proof(issuing, random_hashes):
    (h,) = random_hashes(1)
    tree = _anchor(issuing, "ZJ-EDU", "DEGREE", [h])
    assert issuing.registry.verify_onchain("ZJ-EDU", h, tree.root, [], 330000) == VALID
    assert issuing.registry.verify_onchain("GD-PSB", h, tree.root, [], 330000) == UNKNOWN  # not GD-PSB's batch


def test_unknown_root_is_unknown_not_anchored(issuing, psb, random_hashes):
    reg = issuing.registry
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, random_hashes(1)[0], psb.proof(h), 0) == UNKNOWN
    # a well-formed tree that was never anchored
    hashes = random_hashes(4)
    tree = build_tree(hashes)
    assert reg.verify_onchain("GD-PSB", hashes[0], tree.root, tree.proof(hashes[0]), 440000) == UNKNOWN
    # an inner node or a leaf of an anchored tree is not a batch root
    assert reg.verify_onchain("GD-PSB", h, psb.nodes[1], psb.proof(h)[:-1], 0) == UNKNOWN
    assert reg.verify_onchain("GD-PSB", h, leaf_of(h), [], 0) == UNKNOWN


def test_unknown_root_is_reported_before_anything_else(issuing, psb, random_hashes):
    assert issuing.registry.verify_onchain("GD-PSB", random_hashes(1)[0], random_hashes(1)[0], [], 330000) == UNKNOWN


# ---------------------------------------------------------------------- proof mismatches


def test_proof_of_another_certificate_does_not_verify(issuing, psb):
    a, b = psb.cert_hashes[0], psb.cert_hashes[5]
    assert issuing.registry.verify_onchain("GD-PSB", a, psb.root, psb.proof(b), 0) == MISMATCH
    assert not verify_proof(a, psb.proof(b), psb.root)


def test_tampered_proof_element_does_not_verify(issuing, psb):
    h = psb.cert_hashes[3]
    proof = psb.proof(h)
    for i in range(len(proof)):
        for byte in (0, 31):
            tampered = [*proof[:i], _flip(proof[i], byte), *proof[i + 1 :]]
            assert issuing.registry.verify_onchain("GD-PSB", h, psb.root, tampered, 0) == MISMATCH


def test_truncated_extended_or_reordered_proof_does_not_verify(issuing, psb):
    reg = issuing.registry
    h = psb.cert_hashes[2]
    proof = psb.proof(h)
    assert len(proof) == 3
    for bad in ([], proof[:-1], [*proof, proof[0]], [*proof, psb.root], list(reversed(proof))):
        assert reg.verify_onchain("GD-PSB", h, psb.root, bad, 0) == MISMATCH


def test_certificate_hash_not_in_the_batch_does_not_verify(issuing, psb, random_hashes):
    reg = issuing.registry
    stranger = random_hashes(1)[0]
    assert reg.verify_onchain("GD-PSB", stranger, psb.root, psb.proof(psb.cert_hashes[0]), 0) == MISMATCH
    assert reg.verify_onchain("GD-PSB", stranger, psb.root, [], 0) == MISMATCH
    assert (
        reg.verify_onchain("GD-PSB", _flip(psb.cert_hashes[0]), psb.root, psb.proof(psb.cert_hashes[0]), 0) == MISMATCH
    )


def test_certificate_of_one_batch_does_not_verify_against_another_batch(issuing, psb, random_hashes):
    other = _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(8))
    h = psb.cert_hashes[0]
    assert issuing.registry.verify_onchain("GD-PSB", h, other.root, psb.proof(h), 0) == MISMATCH
    assert issuing.registry.verify_onchain("GD-PSB", h, other.root, other.proof(other.cert_hashes[0]), 0) == MISMATCH


def test_leaf_value_passed_as_certificate_hash_does_not_verify(issuing, psb):
    h = psb.cert_hashes[4]
    assert issuing.registry.verify_onchain("GD-PSB", leaf_of(h), psb.root, psb.proof(h), 0) == MISMATCH


# ---------------------------------------------------------------------- second preimage


@pytest.mark.parametrize("size", [2, 4, 5, 8, 13])
def test_inner_node_as_certificate_hash_with_shortened_proof_does_not_verify(issuing, random_hashes, size):
    """Each inner node k with the proof of its subtree's path would verify if leaves were the
    plain values (processProof(path, node) == root); double-hashed leaves prevent it."""
    tree = _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(size))
    reg = issuing.registry
    n = len(tree.nodes)
    for k in range(n // 2):  # inner nodes are 0 .. n-2 (k < n//2 for 2n-1 nodes)
        path, i = [], k
        while i > 0:
            path.append(tree.nodes[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        inner = tree.nodes[k]
        # the attack works against a tree whose leaves are not hashed again...
        node = inner
        for sibling in path:
            node = hash_pair(node, sibling)
        assert node == tree.root
        # ...but neither Python nor the contract takes an inner node for a certificate
        assert root_from_proof(inner, path) != tree.root
        assert not verify_proof(inner, path, tree.root)
        assert reg.verify_onchain("GD-PSB", inner, tree.root, path, 0) == MISMATCH
        assert reg.verify_onchain("GD-PSB", inner, tree.root, path, 440000) == MISMATCH


def test_root_as_certificate_hash_with_empty_proof_does_not_verify(issuing, psb):
    assert issuing.registry.verify_onchain("GD-PSB", psb.root, psb.root, [], 0) == MISMATCH


# ---------------------------------------------------------------------- key compromise


def test_key_compromised_at_anchoring_time_makes_the_batch_invalid(issuing, psb):
    reg = issuing.registry
    anchored_at = reg.batch("GD-PSB", psb.root).anchored_at
    reg.report_compromised(issuing.admins[440000], issuing.agency_keys["GD-PSB"].address, anchored_at)
    for h in psb.cert_hashes:
        assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 0) == COMPROMISED
        assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 440000) == COMPROMISED


def test_key_compromised_before_anchoring_time_makes_the_batch_invalid(issuing, psb):
    reg = issuing.registry
    anchored_at = reg.batch("GD-PSB", psb.root).anchored_at
    reg.report_compromised(issuing.admins[440000], issuing.agency_keys["GD-PSB"].address, anchored_at - 3600)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 0) == COMPROMISED


def test_key_compromised_after_anchoring_leaves_earlier_batches_valid(issuing, random_hashes):
    reg = issuing.registry
    chain = issuing.chain
    key = issuing.agency_keys["GD-PSB"]
    early = _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(3))
    advance(chain, 100)
    late = _anchor(issuing, "GD-PSB", "ID_CARD", random_hashes(3))
    late_at = reg.batch("GD-PSB", late.root).anchored_at
    assert reg.batch("GD-PSB", early.root).anchored_at < late_at

    reg.report_compromised(issuing.admins[440000], key.address, late_at)
    e, la = early.cert_hashes[0], late.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", e, early.root, early.proof(e), 0) == VALID
    assert reg.verify_onchain("GD-PSB", la, late.root, late.proof(la), 0) == COMPROMISED

    # a second report can move the time earlier, and then the early batch is invalid too
    reg.report_compromised(issuing.admins[440000], key.address, reg.batch("GD-PSB", early.root).anchored_at)
    assert reg.verify_onchain("GD-PSB", e, early.root, early.proof(e), 0) == COMPROMISED


def test_key_compromised_one_second_after_anchoring_leaves_the_batch_valid(issuing, psb):
    reg = issuing.registry
    anchored_at = reg.batch("GD-PSB", psb.root).anchored_at
    if chain_now(issuing.chain) < anchored_at + 1:
        advance(issuing.chain, 1)
    reg.report_compromised(issuing.admins[440000], issuing.agency_keys["GD-PSB"].address, anchored_at + 1)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 0) == VALID


def test_compromise_of_another_key_of_the_agency_does_not_affect_the_batch(issuing, psb):
    reg = issuing.registry
    other = Account.create()
    reg.add_key(issuing.admins[440000], "GD-PSB", other.address)
    reg.report_compromised(issuing.admins[440000], other.address, reg.batch("GD-PSB", psb.root).anchored_at)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 0) == VALID


def test_retiring_the_key_or_suspending_the_agency_later_leaves_the_batch_valid(issuing, psb):
    reg = issuing.registry
    admin = issuing.admins[440000]
    reg.retire_key(admin, issuing.agency_keys["GD-PSB"].address)
    reg.suspend_agency(admin, "GD-PSB")
    reg.set_agency_types(admin, "GD-PSB", ["ID_CARD"], False)
    advance(issuing.chain, 3600)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 0) == VALID
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 440000) == VALID


def test_proof_mismatch_is_reported_before_key_compromise(issuing, psb):
    reg = issuing.registry
    reg.report_compromised(
        issuing.admins[440000], issuing.agency_keys["GD-PSB"].address, reg.batch("GD-PSB", psb.root).anchored_at
    )
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(psb.cert_hashes[1]), 0) == MISMATCH


# ---------------------------------------------------------------------- recognition


def test_other_region_without_rule_does_not_recognise_until_a_rule_is_set(issuing, psb):
    reg = issuing.registry
    h = psb.cert_hashes[0]
    proof = psb.proof(h)
    assert reg.verify_onchain("GD-PSB", h, psb.root, proof, 330000) == NOT_RECOGNIZED
    assert reg.verify_onchain("GD-PSB", h, psb.root, proof, 110000) == NOT_RECOGNIZED

    reg.set_recognition(issuing.admins[330000], 330000, "ID_CARD", 440000)
    assert reg.verify_onchain("GD-PSB", h, psb.root, proof, 330000) == VALID
    assert reg.verify_onchain("GD-PSB", h, psb.root, proof, 110000) == NOT_RECOGNIZED  # rules are per verifier

    reg.remove_recognition(issuing.admins[330000], 330000, "ID_CARD", 440000)
    assert reg.verify_onchain("GD-PSB", h, psb.root, proof, 330000) == NOT_RECOGNIZED


def test_verifier_region_zero_skips_recognition(issuing, random_hashes):
    tree = _anchor(issuing, "ZJ-EDU", "DEGREE", random_hashes(3))
    h = tree.cert_hashes[1]
    reg = issuing.registry
    assert reg.verify_onchain("ZJ-EDU", h, tree.root, tree.proof(h), 0) == VALID
    assert reg.verify_onchain("ZJ-EDU", h, tree.root, tree.proof(h), 440000) == NOT_RECOGNIZED
    assert reg.verify_onchain("ZJ-EDU", h, tree.root, tree.proof(h), 330000) == VALID


def test_any_region_rule_recognises_every_issuer(issuing, psb, random_hashes):
    reg = issuing.registry
    reg.set_recognition(issuing.admins[110000], 110000, "ID_CARD", None)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 110000) == VALID
    # ...but only for that type
    degree = _anchor(issuing, "ZJ-EDU", "DEGREE", random_hashes(2))
    d = degree.cert_hashes[0]
    assert reg.verify_onchain("ZJ-EDU", d, degree.root, degree.proof(d), 110000) == NOT_RECOGNIZED


def test_rule_for_another_type_or_issuer_does_not_recognise(issuing, psb):
    reg = issuing.registry
    reg.set_recognition(issuing.admins[330000], 330000, "DEGREE", 440000)
    reg.set_recognition(issuing.admins[330000], 330000, "ID_CARD", 110000)
    h = psb.cert_hashes[0]
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 330000) == NOT_RECOGNIZED


def test_rule_counts_only_inside_its_validity_window(issuing, psb):
    reg = issuing.registry
    chain = issuing.chain
    h = psb.cert_hashes[0]
    now = chain_now(chain)
    reg.set_recognition(issuing.admins[330000], 330000, "ID_CARD", 440000, now + 1000, now + 2000)
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 330000) == NOT_RECOGNIZED  # not yet
    advance(chain, 1000)
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 330000) == VALID
    advance(chain, 1000)
    assert reg.verify_onchain("GD-PSB", h, psb.root, psb.proof(h), 330000) == NOT_RECOGNIZED  # until is exclusive


def test_proof_mismatch_is_reported_before_recognition(issuing, psb):
    h = psb.cert_hashes[0]
    assert issuing.registry.verify_onchain("GD-PSB", h, psb.root, psb.proof(psb.cert_hashes[1]), 330000) == MISMATCH
