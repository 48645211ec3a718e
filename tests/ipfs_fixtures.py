"""A real js-ipfs node (npm ``ipfs@0.66.1``, in tests/ipfs-node) for the content layer's tests,
and stand-ins that lie.

``./run test`` installs the node (``setup_ipfs``). When it is missing the tests that need it
fail under CI (env ``CI=true``) and are skipped, with the reason, elsewhere.

The node runs offline in a fresh repository (``init --profile test``) with its API and gateway
on free ports, no swarm addresses and no bootstrap peers; it is stopped at the end of the session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from helpers import free_port

NODE_DIR = Path(__file__).parent / "ipfs-node"
JSIPFS = NODE_DIR / "node_modules" / ".bin" / "jsipfs"
POLYFILL = NODE_DIR / "polyfill.cjs"
START_TIMEOUT = 90.0


@dataclass
class IpfsNode:
    url: str  # the RPC API, e.g. http://127.0.0.1:PORT
    repo: Path  # IPFS_PATH: its blocks are under repo/blocks
    log: Path


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the js-ipfs test node is needed under CI: {reason} (./run test installs it)", pytrace=False)
    pytest.skip(f"no js-ipfs test node: {reason} (./run test installs it into tests/ipfs-node)")


def _env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPFS_")}
    env["IPFS_PATH"] = str(repo)
    env["NODE_OPTIONS"] = f"--require {POLYFILL}"
    env["DEBUG"] = ""
    return env


def _configure(repo: Path, api_port: int, gateway_port: int) -> None:
    """What `jsipfs config` would set, written in one go (each jsipfs call costs ~1 s of Node start-up)."""
    path = repo / "config"
    config = json.loads(path.read_text())
    config["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{api_port}"
    config["Addresses"]["Gateway"] = f"/ip4/127.0.0.1/tcp/{gateway_port}"
    config["Addresses"]["Swarm"] = []
    config["Addresses"]["Delegates"] = []
    config["Bootstrap"] = []
    discovery = config.setdefault("Discovery", {})
    discovery.setdefault("MDNS", {})["Enabled"] = False
    discovery.setdefault("webRTCStar", {})["Enabled"] = False
    path.write_text(json.dumps(config, indent=2))


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    if not JSIPFS.exists():
        _missing(f"{JSIPFS.relative_to(NODE_DIR.parent.parent)} is not installed")
    base = tmp_path_factory.mktemp("ipfs")
    repo, log = base / "repo", base / "jsipfs.log"
    env = _env(repo)
    init = subprocess.run(
        [str(JSIPFS), "init", "--profile", "test"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if init.returncode != 0:
        _missing(f"`jsipfs init` failed: {(init.stderr or init.stdout).strip()[-300:]}")
    api_port, gateway_port = free_port(), free_port()
    _configure(repo, api_port, gateway_port)
    url = f"http://127.0.0.1:{api_port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(JSIPFS), "daemon", "--offline"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                _missing(f"`jsipfs daemon` exited ({proc.returncode}): {log.read_text(errors='replace')[-300:]}")
            try:
                if httpx.post(f"{url}/api/v0/version", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                _missing(f"`jsipfs daemon` did not answer in {START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield IpfsNode(url, repo, log)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # its own session: the daemon and nothing else
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


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
