from ledger.contracts import Verdict


def test_issuing_fixture_anchors_and_verifies(issuing, random_hashes):
    from ledger.merkle import build_tree

    hashes = random_hashes(3)
    batch = issuing.registry.anchor_batch(issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)
    tree = build_tree(hashes)
    verdict, _ = issuing.registry.verify_onchain("GD-PSB", hashes[1], batch.root, tree.proof(hashes[1]), 440000)
    assert verdict is Verdict.OK
