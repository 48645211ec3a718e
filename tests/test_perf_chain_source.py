"""The chain source's hot path: ``inspect`` encoded without web3's ABI lookup, and the node
called over kept-alive HTTP connections (``NodeCalls``) that answer, fail and report exactly as
the chain's own calls do."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class StubNode:
    """An HTTP server standing in for a node: answers each request with ``answer(body, headers)``
    -> (status, body bytes, close the connection afterwards)."""

    def __init__(self, answer: Callable[[dict[str, Any], Any], tuple[int, bytes, bool]]) -> None:
        self.requests: list[tuple[dict[str, Any], Any]] = []
        self.connections = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                stub.connections += 1
                super().setup()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((body, self.headers))
                status, raw, close = answer(body, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                self.wfile.flush()
                if close:  # as a node whose keep-alive timed out: closed without saying so
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}/rpc?key=secret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def result(value: Any, *, close: bool = False) -> Callable[[dict[str, Any], Any], tuple[int, bytes, bool]]:
    return lambda body, _: (200, json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": value}).encode(), close)


@pytest.fixture
def stub_node() -> Iterator[Callable[..., StubNode]]:
    made: list[StubNode] = []

    def make(answer: Callable[[dict[str, Any], Any], tuple[int, bytes, bool]]) -> StubNode:
        made.append(StubNode(answer))
        return made[-1]

    yield make
    for node in made:
        node.close()


def test_calls_reuse_one_connection_and_send_path_query_and_credentials(stub_node) -> None:
    node = stub_node(result("0x2a"))
    calls = NodeCalls(Chain(node.url("alice:p%40ss@")))
    assert [calls.call("eth_chainId", []) for _ in range(5)] == ["0x2a"] * 5
    assert node.connections == 1
    body, headers = node.requests[0]
    assert (body["method"], body["params"], body["jsonrpc"]) == ("eth_chainId", [], "2.0")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:p@ss").decode()
    assert len({b["id"] for b, _ in node.requests}) == 5


def test_a_connection_the_node_closed_is_replaced_without_an_error(stub_node) -> None:
    node = stub_node(result("0x1", close=True))
    calls = NodeCalls(Chain(node.url()))
    assert [calls.call("eth_blockNumber", []) for _ in range(3)] == ["0x1"] * 3
    assert node.connections == 3


def test_each_thread_has_its_own_connection(stub_node) -> None:
    node = stub_node(result("0x1"))
    calls = NodeCalls(Chain(node.url()))
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
    calls = NodeCalls(Chain(stub_node(refuse).url()))
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
    calls = NodeCalls(Chain(node.url("alice:hunter2@")))
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
