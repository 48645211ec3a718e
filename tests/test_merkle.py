"""ledger.merkle against OpenZeppelin's JS StandardMerkleTree and the on-chain BatchMerkle.

The reference trees come from ``@openzeppelin/merkle-tree`` (``StandardMerkleTree.of(values.map(h
=> [h]), ["bytes32"])``) computed by ``tests/js/oz_merkle.mjs`` in one node process per module.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from ledger.contracts import Reason, Verdict
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree, hash_pair, leaf_of, root_from_proof, verify_proof
from ledger.signing import sign_batch

ROOT = Path(__file__).resolve().parents[1]
OZ_SCRIPT = ROOT / "tests" / "js" / "oz_merkle.mjs"
SIZES = (1, 2, 3, 5, 8, 13, 100, 1000)
PROOFS_PER_TREE = 6


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


def oz_trees(cases: list[dict]) -> list[dict]:
    """Run the node reference script on ``cases`` ({values, proofs} of hex strings)."""
    done = subprocess.run(
        ["node", str(OZ_SCRIPT)],
        input=json.dumps({"cases": cases}).encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)["cases"]


@pytest.fixture(scope="module")
def reference() -> dict[int, dict]:
    """For every size: random hashes, the sampled hashes, and OpenZeppelin's tree of them."""
    rng = random.Random(20240611)
    inputs = {}
    for n in SIZES:
        values = [os.urandom(32) for _ in range(n)]
        picks = sorted({0, n - 1, *rng.sample(range(n), min(n, PROOFS_PER_TREE))})
        inputs[n] = (values, [values[i] for i in picks])
    out = oz_trees(
        [{"values": [_hex(v) for v in vals], "proofs": [_hex(p) for p in picks]} for vals, picks in inputs.values()]
    )
    return {
        n: {"values": vals, "picks": picks, "oz": oz}
        for (n, (vals, picks)), oz in zip(inputs.items(), out, strict=True)
    }


# ---------------------------------------------------------------------- Python vs OpenZeppelin JS


@pytest.mark.unit
@pytest.mark.parametrize("size", SIZES)
def test_python_root_and_nodes_equal_openzeppelin_standard_merkle_tree(reference, size):
    ref = reference[size]
    tree = build_tree(ref["values"])
    assert _hex(tree.root) == ref["oz"]["root"]
    assert [_hex(n) for n in tree.nodes] == ref["oz"]["tree"]
    # leaf order (the order anchorBatch expects) is OpenZeppelin's sorted-leaf order
    assert [_hex(h) for h in tree.cert_hashes] == ref["oz"]["leafOrder"]


@pytest.mark.unit
@pytest.mark.parametrize("size", SIZES)
def test_python_proofs_equal_openzeppelin_proofs_and_verify(reference, size):
    ref = reference[size]
    tree = build_tree(ref["values"])
    assert len(ref["oz"]["proofs"]) == len(ref["picks"])
    for value, oz in zip(ref["picks"], ref["oz"]["proofs"], strict=True):
        assert oz["value"] == _hex(value)
        assert oz["verified"] is True
        proof = tree.proof(value)
        assert [_hex(p) for p in proof] == oz["proof"]
        assert verify_proof(value, proof, tree.root)
        assert verify_proof(value, [_unhex(p) for p in oz["proof"]], _unhex(ref["oz"]["root"]))


@pytest.mark.unit
def test_root_is_independent_of_submission_order(random_hashes):
    hashes = random_hashes(37)
    shuffled = hashes[:]
    random.Random(1).shuffle(shuffled)
    a, b = build_tree(hashes), build_tree(shuffled)
    assert a.root == b.root
    assert a.cert_hashes == b.cert_hashes
    assert [leaf_of(h) for h in a.cert_hashes] == sorted(leaf_of(h) for h in hashes)


@pytest.mark.unit
def test_single_leaf_tree_root_is_the_double_hashed_leaf_with_empty_proof(random_hashes):
    (h,) = random_hashes(1)
    tree = build_tree([h])
    assert tree.root == leaf_of(h)
    assert tree.proof(h) == []
    assert verify_proof(h, [], tree.root)


@pytest.mark.unit
def test_every_proof_of_a_python_tree_verifies_and_no_proof_verifies_another_hash(random_hashes):
    hashes = random_hashes(21)
    tree = build_tree(hashes)
    for h in hashes:
        proof = tree.proof(h)
        assert verify_proof(h, proof, tree.root)
        assert root_from_proof(h, proof) == tree.root
    other = next(h for h in hashes if h != hashes[0])
    assert not verify_proof(other, tree.proof(hashes[0]), tree.root)


@pytest.mark.unit
def test_leaf_is_keccak_of_keccak_of_the_hash_and_pairs_are_sorted(random_hashes):
    from eth_hash.auto import keccak

    a, b = random_hashes(2)
    assert leaf_of(a) == keccak(keccak(a))
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(min(a, b) + max(a, b))


@pytest.mark.unit
def test_duplicate_hash_in_batch_raises_value_error(random_hashes):
    hashes = random_hashes(4)
    with pytest.raises(ValueError):
        build_tree([*hashes, hashes[2]])


@pytest.mark.unit
def test_empty_batch_raises_value_error():
    with pytest.raises(ValueError):
        build_tree([])


@pytest.mark.unit
def test_proof_of_hash_not_in_tree_raises_key_error(random_hashes):
    hashes = random_hashes(3)
    tree = build_tree(hashes[:2])
    with pytest.raises(KeyError):
        tree.proof(hashes[2])


# ---------------------------------------------------------------------- Python vs the contract


def _anchor_raw(issuing, hashes: list[bytes]):
    """Anchor ``hashes`` (already in leaf order) through the raw contract function; returns
    (root returned by an eth_call of anchorBatch, root in the BatchAnchored event)."""
    reg = issuing.registry
    key = issuing.agency_keys["GD-PSB"]
    aid, tid = agency_id("GD-PSB"), type_id("ID_CARD")
    expected_root = build_tree(hashes).root
    sig = sign_batch(key, expected_root, tid, aid, reg.chain.chain_id, reg.deployment.certificate_registry)
    fn = reg.certificates.functions.anchorBatch(aid, tid, hashes, sig, [])
    returned = bytes(reg.chain.call(fn))
    sent = reg.chain.transact(issuing.deployer, fn)
    (event,) = reg.certificates.events.BatchAnchored().process_receipt(sent.receipt)
    return returned, bytes(event["args"]["root"])


@pytest.mark.parametrize("size", SIZES)
def test_onchain_computed_root_equals_python_and_openzeppelin_root(issuing, reference, size):
    ref = reference[size]
    tree = build_tree(ref["values"])
    returned, emitted = _anchor_raw(issuing, tree.cert_hashes)
    assert returned == emitted == tree.root == _unhex(ref["oz"]["root"])
    stored = issuing.registry.batch("GD-PSB", tree.root)
    assert stored is not None and stored.size == size


def test_every_proof_of_a_1000_leaf_anchored_batch_verifies_with_the_contract_view(issuing, random_hashes):
    hashes = random_hashes(1000)
    reg = issuing.registry
    batch = reg.anchor_batch(issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)
    tree = build_tree(hashes)
    assert batch.root == tree.root
    proofs = {h: tree.proof(h) for h in tree.cert_hashes}
    assert {len(p) for p in proofs.values()} <= {9, 10}  # 1000 leaves: depth 9 or 10
    fn = reg.certificates.functions.verify
    results = []
    hashes_in_order = list(proofs)
    for start in range(0, len(hashes_in_order), 250):  # JSON-RPC batches: one round trip per 250 calls
        with reg.chain.w3.batch_requests() as batch:
            for h in hashes_in_order[start : start + 250]:
                batch.add(fn(agency_id("GD-PSB"), h, tree.root, proofs[h], 0))
            results += batch.execute()
        with reg.chain.w3.batch_requests() as batch:  # the batched decoding does see a failure
            batch.add(fn(agency_id("GD-PSB"), hashes_in_order[0], tree.root, proofs[hashes_in_order[1]], 0))
            (mismatch,) = batch.execute()
    assert (Verdict(mismatch[0]), Reason(mismatch[1])) == (Verdict.INVALID, Reason.PROOF_MISMATCH)
    assert len(results) == 1000
    bad = [
        h.hex()
        for h, r in zip(hashes_in_order, results, strict=True)
        if (Verdict(r[0]), Reason(r[1])) != (Verdict.OK, Reason.NONE)
    ]
    assert bad == []
