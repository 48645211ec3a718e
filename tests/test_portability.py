"""Portability subset: the same scenarios against two independent EVM implementations.

- anvil (Foundry, Rust/revm), the node the project embeds, and
- Hardhat's node (Nomic Foundation EDR), configured in hardhat.config.js: chain id 31337,
  prague, base fee 0, so that keys with no balance send transactions at gas price 0.

This module overrides conftest's ``chain`` fixture with one parametrized over both nodes, so
``consortium`` (and every fixture built on ``chain``) runs on each. Each test worker starts its
own session-scoped nodes on free ports. Deselect Hardhat with ``-m "not hardhat"``.

Gas may legitimately differ between nodes and hardforks: it is printed (see it with ``-rP`` or
``-s``) and recorded as a junit property, never compared.
"""

from __future__ import annotations

import os

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from helpers import SCHEMA, Consortium, Node, advance, new_consortium

from ledger.chain import Chain
from ledger.contracts import CONTRACT_NAMES, Reason, Status, Verdict, artifact
from ledger.errors import ContractRejected
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree
from ledger.signing import batch_digest

BATCH_SIZE = 100
BATCH_ANCHORED = keccak(text="BatchAnchored(bytes32,bytes32,bytes32,address,bytes32[],bytes,bytes16[])")


@pytest.fixture(params=["anvil", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def node_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def chain(node_kind: str, request: pytest.FixtureRequest) -> Chain:
    """A Chain on anvil or on Hardhat's node (overrides conftest's anvil-only ``chain``)."""
    node: Node = request.getfixturevalue("anvil" if node_kind == "anvil" else "hardhat_node")
    return Chain(node.url)


@pytest.fixture
def agency(consortium: Consortium) -> Consortium:
    """The consortium with type ID_CARD and agency GD-PSB (440000) holding one key."""
    consortium.add_type("ID_CARD")
    consortium.add_agency("GD-PSB", 440000, ["ID_CARD"])
    return consortium


def hashes(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


def record_gas(record_property, node_kind: str, what: str, gas: int, per: int = 1) -> None:
    record_property(f"gas_{what}_{node_kind}", gas)
    share = f", {gas / per:.0f} per certificate" if per > 1 else ""
    print(f"[{node_kind}] {what}: {gas} gas{share}")


# ---------------------------------------------------------------------- the node itself


def test_node_has_free_gas_and_chain_id(chain: Chain, node_kind: str) -> None:
    client = chain.w3.client_version
    print(f"[{node_kind}] {client}")
    assert ("anvil" if node_kind == "anvil" else "hardhat") in client.lower()
    assert chain.chain_id == 31337
    assert chain.w3.eth.get_block("latest")["baseFeePerGas"] == 0
    assert chain.gas_price() == 0  # what Chain signs with


def test_base_fee_stays_zero_after_a_heavy_block(chain: Chain) -> None:
    """anvil keeps a zero base fee constant; Hardhat applies EIP-1559, which raises a zero base
    fee to 1 wei after a block more than half full. hardhat.config.js sets a 60M block gas limit
    so that no transaction anvil accepts (its blocks hold 30M) fills half a Hardhat block."""
    w3 = chain.w3
    sender = Account.create()  # no balance

    def send(data: str, gas: int, nonce: int) -> dict:
        tx = {"data": data, "gas": gas, "gasPrice": 0, "value": 0, "nonce": nonce, "chainId": chain.chain_id}
        tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)

    # Init code `PUSH1 0 PUSH4 0xffffffff MSTORE` asks for 4 GiB of memory and so runs out of
    # gas at once, using all 16M: more than half of anvil's block. A failed transaction is still
    # mined (Hardhat: throwOnTransactionFailures false keeps it from becoming an RPC error).
    heavy = send("0x600063ffffffff52", 16_000_000, 0)
    assert heavy["status"] == 0
    assert heavy["gasUsed"] == 16_000_000
    light = send("0x00", 100_000, 1)  # refused if the base fee had risen above 0
    assert light["status"] == 1
    assert w3.eth.get_block(light["blockNumber"])["baseFeePerGas"] == 0
    assert w3.eth.get_balance(sender.address) == 0


# ---------------------------------------------------------------------- deployment and governance


def test_deploy_three_contracts(chain: Chain, node_kind: str, record_property) -> None:
    consortium = new_consortium(chain)
    registry, deployment = consortium.registry, consortium.deployment
    assert deployment.chain_id == 31337
    for name, address in zip(CONTRACT_NAMES, deployment.addresses, strict=True):
        code = bytes(chain.w3.eth.get_code(address))
        expected = bytes.fromhex(artifact(name)["deployedBytecode"][2:])
        # Immutables (addresses, the proposal TTL) are filled in at deployment, so compare the
        # length and the trailing CBOR metadata (its length is in the last two bytes).
        metadata = expected[-(int.from_bytes(expected[-2:], "big") + 2) :]
        assert len(code) == len(expected), name
        assert code.endswith(metadata), name
    assert registry.quorum() == 2
    assert registry.member_count() == 3
    assert [r.code for r in registry.regions()] == [440000, 330000, 110000]
    assert chain.w3.eth.get_balance(consortium.deployer.address) == 0  # deployed for free
    receipts = [
        chain.w3.eth.get_transaction_receipt(chain.w3.eth.get_block(n)["transactions"][0])
        for n in range(deployment.deployment_block, deployment.deployment_block + 3)
    ]
    record_gas(record_property, node_kind, "deploy", sum(int(r["gasUsed"]) for r in receipts))


def test_governance_executes_at_quorum(consortium: Consortium) -> None:
    registry, admins = consortium.registry, consortium.admins
    proposed = registry.propose_add_type(admins[440000], "DEGREE", SCHEMA)
    assert not proposed.executed  # quorum 2: the proposer's approval alone is not enough
    assert not registry.type_exists("DEGREE")
    info = registry.proposal(proposed.id)
    assert (info.executed, info.approvers, info.proposer_region) == (False, [440000], 440000)

    approved = registry.approve(admins[330000], proposed.id)
    assert approved.id == proposed.id and approved.executed
    assert registry.type_exists("DEGREE")
    assert registry.proposal(proposed.id).approvers == [440000, 330000]
    assert registry.proposal(proposed.id).executed
    # the schema is read back from the CertificateTypeAdded event
    assert [(t.code, t.schema) for t in registry.types()] == [("DEGREE", SCHEMA)]


def test_custom_errors_decode_the_same(consortium: Consortium) -> None:
    registry, admins = consortium.registry, consortium.admins
    proposed = registry.propose_add_type(admins[440000], "DEGREE", SCHEMA)

    with pytest.raises(ContractRejected) as twice:
        registry.approve(admins[440000], proposed.id)
    assert twice.value.error_name == "AlreadyApproved"
    assert twice.value.error_args == {"id": proposed.id, "region": 440000}

    stranger = Account.create()
    with pytest.raises(ContractRejected) as outsider:
        registry.approve(stranger, proposed.id)
    assert outsider.value.error_name == "NotRegionAdmin"
    assert to_checksum_address(outsider.value.error_args["account"]) == stranger.address

    registry.approve(admins[330000], proposed.id)
    with pytest.raises(ContractRejected) as late:
        registry.approve(admins[110000], proposed.id)
    assert (late.value.error_name, late.value.error_args) == ("ProposalAlreadyExecuted", {"id": proposed.id})


# ---------------------------------------------------------------------- anchoring and verification


def test_anchor_batch_and_verify(agency: Consortium, node_kind: str, record_property) -> None:
    registry, key = agency.registry, agency.agency_keys["GD-PSB"]
    certs = hashes(BATCH_SIZE)
    tree = build_tree(certs)

    # The EIP-712 digest the key signs is the one the contract recomputes (chain id, address).
    onchain_digest = agency.chain.call(
        registry.certificates.functions.batchDigest(
            tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), keccak(b""), keccak(b"")
        )
    )
    assert bytes(onchain_digest) == batch_digest(
        tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), 31337, agency.deployment.certificate_registry
    )

    submitter = Account.create()  # anyone may submit a signed batch; no balance needed
    batch = registry.anchor_batch(submitter, key, "GD-PSB", "ID_CARD", certs)
    assert batch.root == tree.root
    assert batch.cert_hashes == tree.cert_hashes
    record_gas(record_property, node_kind, f"anchor_{BATCH_SIZE}", batch.tx.gas_used, BATCH_SIZE)
    stored = registry.batch(batch.agency, batch.root)
    assert stored is not None
    assert (stored.key, stored.size, stored.cert_type) == (key.address, BATCH_SIZE, "ID_CARD")

    sample = [tree.cert_hashes[i] for i in (0, 1, BATCH_SIZE // 2, BATCH_SIZE - 1)]
    for cert in sample:
        assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(cert)) == (Verdict.OK, Reason.NONE)
        # 440000 recognises its own agencies without a rule
        assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(cert), 440000)[0] is Verdict.OK
    cert, other = sample[0], sample[1]

    # Zhejiang has no recognition rule for Guangdong's ID cards yet
    assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(cert), 330000) == (
        Verdict.NOT_RECOGNIZED,
        Reason.NO_RECOGNITION_RULE,
    )
    registry.set_recognition(agency.admins[330000], 330000, "ID_CARD", 440000)
    assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(cert), 330000) == (
        Verdict.OK,
        Reason.NONE,
    )

    # wrong proof, unknown root
    assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(other)) == (
        Verdict.INVALID,
        Reason.PROOF_MISMATCH,
    )
    assert registry.verify_onchain(batch.agency, cert, os.urandom(32), []) == (Verdict.UNKNOWN, Reason.NOT_ANCHORED)

    # revocation by the agency key (which has no balance either)
    registry.set_certificate_status(key, "GD-PSB", cert, Status.REVOKED, "HOLDER_REQUEST")
    assert registry.verify_onchain(batch.agency, cert, batch.root, tree.proof(cert), 330000) == (
        Verdict.REVOKED,
        Reason.CERTIFICATE_REVOKED,
    )
    assert registry.verify_onchain(batch.agency, other, batch.root, tree.proof(other), 330000) == (
        Verdict.OK,
        Reason.NONE,
    )
    with pytest.raises(ContractRejected) as again:
        registry.set_certificate_status(key, "GD-PSB", cert, Status.ACTIVE, "REINSTATED")
    assert again.value.error_name == "AlreadyRevoked"


def test_batch_anchored_log_carries_every_hash(agency: Consortium) -> None:
    registry, key, w3 = agency.registry, agency.agency_keys["GD-PSB"], agency.chain.w3
    batch = registry.anchor_batch(agency.deployer, key, "GD-PSB", "ID_CARD", hashes(BATCH_SIZE))

    # decoded by web3 from the receipt
    (event,) = registry.certificates.events.BatchAnchored().process_receipt(batch.tx.receipt)
    args = event["args"]
    assert bytes(args["root"]) == batch.root
    assert bytes(args["agency"]) == agency_id("GD-PSB")
    assert bytes(args["certType"]) == type_id("ID_CARD")
    assert args["key"] == key.address
    assert [bytes(h) for h in args["certHashes"]] == batch.cert_hashes

    # found again through the node's eth_getLogs topic filter, decoded by hand
    logs = w3.eth.get_logs(
        {
            "address": to_checksum_address(agency.deployment.certificate_registry),
            "fromBlock": agency.deployment.deployment_block,
            "toBlock": "latest",
            "topics": ["0x" + BATCH_ANCHORED.hex(), "0x" + batch.root.hex()],
        }
    )
    assert len(logs) == 1
    signer, cert_hashes, sm2_signature, tags = abi_decode(
        ["address", "bytes32[]", "bytes", "bytes16[]"], bytes(logs[0]["data"])
    )
    assert to_checksum_address(signer) == key.address
    assert list(cert_hashes) == batch.cert_hashes
    assert (sm2_signature, list(tags)) == (b"", [])
    assert logs[0]["transactionHash"] == batch.tx.receipt["transactionHash"]


def test_mined_revert_decodes_the_same(agency: Consortium) -> None:
    """A transaction sent without a gas estimate is mined and reverts; Chain replays it to name
    the error (Hardhat would answer eth_sendRawTransaction with an error instead if
    throwOnTransactionFailures were left at its default, true)."""
    registry, key = agency.registry, agency.agency_keys["GD-PSB"]
    certs = hashes(10)
    submitter = Account.create()
    batch = registry.anchor_batch(submitter, key, "GD-PSB", "ID_CARD", certs)
    with pytest.raises(ContractRejected) as exc:
        registry.anchor_batch(submitter, key, "GD-PSB", "ID_CARD", certs, gas=500_000)
    assert exc.value.error_name == "BatchAlreadyAnchored"
    assert exc.value.error_args == {"agency": "GD-PSB", "root": "0x" + batch.root.hex()}
    assert agency.chain.w3.eth.get_transaction_count(submitter.address) == 2  # both were mined


def test_key_compromise_invalidates_later_batches(agency: Consortium) -> None:
    registry, key, chain = agency.registry, agency.agency_keys["GD-PSB"], agency.chain
    before = registry.anchor_batch(agency.deployer, key, "GD-PSB", "ID_CARD", hashes(BATCH_SIZE))
    advance(chain, 3600)
    after = registry.anchor_batch(agency.deployer, key, "GD-PSB", "ID_CARD", hashes(BATCH_SIZE))
    t_before = registry.batch(before.agency, before.root).anchored_at
    t_after = registry.batch(after.agency, after.root).anchored_at
    assert t_after >= t_before + 3600

    # the key was stolen just before the second batch was anchored
    registry.report_compromised(agency.admins[440000], key.address, t_after - 1)

    cert = before.cert_hashes[7]
    tree = build_tree(before.cert_hashes)
    assert registry.verify_onchain(before.agency, cert, before.root, tree.proof(cert)) == (Verdict.OK, Reason.NONE)
    cert = after.cert_hashes[7]
    tree = build_tree(after.cert_hashes)
    assert registry.verify_onchain(after.agency, cert, after.root, tree.proof(cert)) == (
        Verdict.INVALID,
        Reason.KEY_COMPROMISED,
    )

    with pytest.raises(ContractRejected) as exc:
        registry.anchor_batch(agency.deployer, key, "GD-PSB", "ID_CARD", hashes(3))
    assert exc.value.error_name == "KeyCompromised"
    assert exc.value.error_args == {"key": key.address, "since": t_after - 1}
