"""The one fake JSON-RPC endpoint of the tests: a real HTTP server in front of a real node.

Every request is forwarded to ``upstream`` (a node the test started) unless ``meddle`` answers
it; ``rewrite`` may edit the node's JSON answer on its way back. That is how the tests stand in
for the providers and nodes this machine cannot run (a Besu QBFT node, a provider limiting
``eth_getLogs`` ranges, one failing with 503 now and then) while the chain behind stays real.

Tests get one through the ``rpc_proxy`` fixture (closed at teardown)::

    def test_x(anvil, rpc_proxy):
        proxy = rpc_proxy(anvil.url, meddle=lambda payload, number: None)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

# meddle(payload, number) -> (HTTP status, JSON body) to answer instead of the node, or None to
# forward; ``number`` counts the requests this proxy received, from 1.
Meddle = Callable[[Any, int], tuple[int, Any] | None]
Rewrite = Callable[[Any], Any]


class RpcProxy:
    """A JSON-RPC proxy on 127.0.0.1 (``url``); ``requests`` counts what it received."""

    def __init__(self, upstream: str, meddle: Meddle | None = None, rewrite: Rewrite | None = None) -> None:
        self.upstream = upstream
        self.requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, raw = proxy._answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self._meddle, self._rewrite = meddle, rewrite
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-rpc").start()

    def _answer(self, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.requests += 1
            number = self.requests
        if self._meddle is not None:
            answer = self._meddle(json.loads(body), number)
            if answer is not None:
                return answer[0], json.dumps(answer[1]).encode()
        upstream = requests.post(self.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        if self._rewrite is None:
            return upstream.status_code, upstream.content
        return upstream.status_code, json.dumps(self._rewrite(upstream.json())).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
