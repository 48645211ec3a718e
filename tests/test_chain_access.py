"""Chain access: HTTP and WebSocket endpoints, proof-of-authority blocks, errors."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from helpers import free_port, new_consortium
from web3 import Web3
from web3.exceptions import ExtraDataLengthError

from ledger.chain import Chain
from ledger.errors import ChainUnavailable, ContractRejected, LedgerError
from ledger.registry import Registry

# What a Besu QBFT block carries in extraData: vanity, validators, round, seals (here 97 bytes).
QBFT_EXTRA_DATA = "0x" + "f8" * 97


def qbft_extra_data(answer: Any) -> Any:
    """Rewrites what anvil answers as a Besu QBFT node would: block extraData of QBFT length
    (a Besu node cannot run on this machine)."""
    for item in answer if isinstance(answer, list) else [answer]:
        result = item.get("result")
        if isinstance(result, dict) and "extraData" in result:
            result["extraData"] = QBFT_EXTRA_DATA
    return answer


@pytest.fixture
def poa_proxy(anvil, rpc_proxy):
    return rpc_proxy(anvil.url, rewrite=qbft_extra_data)


def test_websocket_endpoint_deploys_calls_and_decodes_errors(anvil):
    ws_url = anvil.url.replace("http://", "ws://")
    consortium = new_consortium(Chain(ws_url))
    registry = consortium.registry
    assert registry.chain.url.startswith("ws://")
    assert registry.quorum() == 2
    result = registry.propose_add_type(consortium.admins[440000], "ID_CARD", {"fields": []})
    with pytest.raises(ContractRejected) as exc:
        registry.approve(consortium.admins[440000], result.id)
    assert exc.value.error_name == "AlreadyApproved"
    assert registry.approve(consortium.admins[330000], result.id).executed


def test_reads_proof_of_authority_blocks_with_long_extra_data(poa_proxy, anvil):
    # Plain web3 refuses such blocks: this is what the middleware is for.
    with pytest.raises(ExtraDataLengthError):
        Web3(Web3.HTTPProvider(poa_proxy.url)).eth.get_block("latest")
    chain = Chain(poa_proxy.url)
    block = chain.w3.eth.get_block("latest")
    assert len(block["proofOfAuthorityData"]) == 97
    consortium = new_consortium(chain)  # deploy + transactions through the PoA endpoint
    assert Registry(chain, consortium.deployment).now() > 0


@pytest.mark.unit
def test_unreachable_node_is_chain_unavailable():
    chain = Chain(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert not chain.is_up()
    with pytest.raises(ChainUnavailable):
        chain.block_number()


@pytest.mark.unit
def test_unsupported_url_scheme():
    with pytest.raises(LedgerError, match="unsupported RPC URL"):
        Chain("ftp://example.org")


def test_revert_in_a_mined_transaction_is_decoded(consortium):
    """A transaction sent with a fixed gas limit skips estimation; its revert is still decoded."""
    registry = consortium.registry
    stranger = Account.create()
    with pytest.raises(ContractRejected) as exc:
        registry.chain.transact(stranger, registry.consortium.functions.proposeQuorumRule(0, 1), gas=200_000)
    assert exc.value.error_name == "NotRegionAdmin"
