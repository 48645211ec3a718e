"""The chain source's hot path: ``inspect`` encoded without web3's ABI lookup, and the node
called over kept-alive HTTP connections (``NodeCalls``) that answer, fail and report exactly as
the chain's own calls do."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from helpers import Consortium, chain_now, free_port

from ledger.chain import Chain
from ledger.errors import ChainUnavailable, LedgerError
from ledger.ids import agency_id
from ledger.registry import Registry
from ledger.verification.sources import ChainSource, NodeCalls

# ---------------------------------------------------------------------- inspect's encoding


@pytest.mark.parametrize(
    ("agency", "region", "at"),
    [("GD-PSB", 330000, 1_700_000_000), ("ZJ-EDU", None, 0), ("X", 2**32 - 1, 2**64 - 1)],
)
def test_inspect_call_data_is_what_web3_encodes(consortium: Consortium, agency: str, region: Any, at: int) -> None:
    reg = consortium.registry
    cert, root = Account.create().key, Account.create().key
    (params, block) = reg.inspect_params(agency, cert, root, region, at)
    expected = reg.certificates.encode_abi("inspect", args=[agency_id(agency), cert, root, region or 0, at])
    assert block == "latest"
    assert params == {"to": reg.deployment.certificate_registry, "data": expected}


def test_inspect_call_data_refuses_what_the_abi_cannot_hold(consortium: Consortium) -> None:
    cert = Account.create().key
    with pytest.raises(Exception, match=r"uint32|value|bounds|encode"):
        consortium.registry.inspect_params("GD-PSB", cert, cert, 2**32, 0)  # a region beyond uint32
    with pytest.raises(Exception, match=r"uint64|value|bounds|encode"):
        consortium.registry.inspect_params("GD-PSB", cert, cert, 0, -1)


def test_chain_source_reads_what_the_registry_reads(issuing: Consortium) -> None:
    reg = issuing.registry
    hashes = [Account.create().key for _ in range(3)]
    batch = reg.anchor_batch(issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)
    source = ChainSource(Registry(Chain(issuing.chain.url), issuing.deployment))
    assert source.node.lean
    now = chain_now(issuing.chain)
    for cert, root, region in (
        (batch.cert_hashes[0], batch.root, 330000),
        (batch.cert_hashes[1], batch.root, None),
        (Account.create().key, Account.create().key, 440000),  # nothing anchored: no batch
    ):
        view = source.for_case("GD-PSB", cert, root, region, now)
        assert view.i == reg.inspect("GD-PSB", cert, root, region, now)  # type: ignore[attr-defined]
    anchored = source.for_case("GD-PSB", batch.cert_hashes[2], batch.root, 330000, now)
    facts = anchored.batch("GD-PSB", batch.root)
    assert facts is not None and (facts.cert_type, facts.issuer_region) == ("ID_CARD", 440000)


# ---------------------------------------------------------------------- the node's transport


def node_url(node: Any, userinfo: str = "") -> str:
    """The fake node's URL with a path, a query and credentials, as a provider's would have."""
    return f"http://{userinfo}127.0.0.1:{node.port}/rpc?key=secret"


def result(value: Any, *, close: bool = False) -> Callable[[dict[str, Any], Any], tuple[int, bytes, bool]]:
    return lambda body, _: (200, json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": value}).encode(), close)


@pytest.fixture
def stub_node(rpc_proxy: Callable[..., Any]) -> Callable[..., Any]:
    """A node of the test's own making (the shared fake RPC endpoint without an upstream)."""
    return lambda answer: rpc_proxy(None, answer=answer)


def test_calls_reuse_one_connection_and_send_path_query_and_credentials(stub_node) -> None:
    node = stub_node(result("0x2a"))
    calls = NodeCalls(Chain(node_url(node, "alice:p%40ss@")))
    assert [calls.call("eth_chainId", []) for _ in range(5)] == ["0x2a"] * 5
    assert node.connections == 1
    body, headers = node.seen[0]
    assert (body["method"], body["params"], body["jsonrpc"]) == ("eth_chainId", [], "2.0")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:p@ss").decode()
    assert len({b["id"] for b, _ in node.seen}) == 5


def test_a_connection_the_node_closed_is_replaced_without_an_error(stub_node) -> None:
    node = stub_node(result("0x1", close=True))
    calls = NodeCalls(Chain(node_url(node)))
    assert [calls.call("eth_blockNumber", []) for _ in range(3)] == ["0x1"] * 3
    assert node.connections == 3


def test_each_thread_has_its_own_connection(stub_node) -> None:
    node = stub_node(result("0x1"))
    calls = NodeCalls(Chain(node_url(node)))
    barrier = threading.Barrier(4, timeout=30)
    answers: list[Any] = []

    def work() -> None:
        barrier.wait()
        answers.extend(calls.call("eth_blockNumber", []) for _ in range(3))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == ["0x1"] * 12
    assert node.connections == 4


def test_a_refusal_is_an_rpc_error(stub_node) -> None:
    refuse = lambda body, _: (  # noqa: E731
        200,
        json.dumps(
            {"jsonrpc": "2.0", "id": body["id"], "error": {"code": 3, "message": "execution reverted"}}
        ).encode(),
        False,
    )
    calls = NodeCalls(Chain(node_url(stub_node(refuse))))
    with pytest.raises(LedgerError, match=r"node refused eth_call: .*execution reverted") as exc:
        calls.call("eth_call", [{}, "latest"])
    assert exc.value.code == "RPC_ERROR" and not isinstance(exc.value, ChainUnavailable)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda body, _: (503, b"busy", False), "answered HTTP 503"),
        (lambda body, _: (200, b"<html>not json</html>", False), "answered something other than JSON-RPC"),
        (lambda body, _: (200, b"[1, 2]", False), "answered something other than JSON-RPC"),
    ],
)
def test_a_node_answering_nonsense_is_unavailable_and_the_url_stays_secret(stub_node, answer, message) -> None:
    node = stub_node(answer)
    calls = NodeCalls(Chain(node_url(node, "alice:hunter2@")))
    with pytest.raises(ChainUnavailable, match=message) as exc:
        calls.call("eth_blockNumber", [])
    assert "hunter2" not in str(exc.value) and "secret" not in str(exc.value)


def test_no_node_and_a_frozen_node_are_unavailable_within_the_timeout() -> None:
    calls = NodeCalls(Chain(f"http://alice:hunter2@127.0.0.1:{free_port()}", timeout=1.0))
    with pytest.raises(ChainUnavailable, match="unreachable: ConnectionRefusedError") as exc:
        calls.call("eth_blockNumber", [])
    assert "hunter2" not in str(exc.value)
    with socket.socket() as frozen:  # accepts connections, never answers
        frozen.bind(("127.0.0.1", 0))
        frozen.listen(8)
        calls = NodeCalls(Chain(f"http://127.0.0.1:{frozen.getsockname()[1]}", timeout=0.5))
        with pytest.raises(ChainUnavailable, match=r"does not answer \(no reply within 0.5 s\)"):
            calls.call("eth_blockNumber", [])


def test_websocket_and_proxied_nodes_go_through_the_chains_provider(anvil, monkeypatch) -> None:
    ws = NodeCalls(Chain(anvil.url.replace("http://", "ws://")))
    assert not ws.lean
    assert int(ws.call("eth_chainId", []), 16) == 31337
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    assert not NodeCalls(Chain("http://node.example:8545")).lean
    monkeypatch.setenv("NO_PROXY", "node.example")
    assert NodeCalls(Chain("http://node.example:8545")).lean
