"""A real js-ipfs node (npm ``ipfs@0.66.1``, in tests/ipfs-node) for the content layer's tests,
and stand-ins that lie.

``./run test`` installs the node (``setup_ipfs``). When it is missing the tests that need it
fail under CI (env ``CI=true``) and are skipped, with the reason, elsewhere.

One node per test worker (see ``jsipfs_node``), stopped at the end of the session.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from jsipfs_node import IpfsNode, NodeMissing, running_node


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    try:
        with running_node(tmp_path_factory.mktemp("ipfs")) as node:
            yield node
    except NodeMissing as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the js-ipfs test node is needed under CI: {exc} (./run test installs it)", pytrace=False)
        pytest.skip(f"no js-ipfs test node: {exc} (./run test installs it into tests/ipfs-node)")


class LyingNode:
    """An RPC endpoint in front of a real node that passes every call through and, for ``/cat``,
    answers ``lie(bytes)`` instead of the node's bytes."""

    def __init__(self, upstream: str, lie: Callable[[bytes], bytes]) -> None:
        self.upstream = upstream
        self.lie = lie
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
                answer = httpx.post(owner.upstream + self.path, content=body, headers=headers, timeout=60)
                content = answer.content
                if self.path.startswith("/api/v0/cat") and answer.status_code == 200:
                    content = owner.lie(content)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def lying_node() -> Iterator[Callable[[str, Callable[[bytes], bytes]], LyingNode]]:
    made: list[LyingNode] = []

    def make(upstream: str, lie: Callable[[bytes], bytes]) -> LyingNode:
        node = LyingNode(upstream, lie)
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()
