"""Starting and stopping the js-ipfs test node (npm ``ipfs@0.66.1`` in tests/ipfs-node): for the
``ipfs_node`` fixture and for bench/ipfs.py. No pytest here.

The node runs offline in a fresh repository (``jsipfs init --profile test``) with its API and
gateway on free ports, no swarm addresses, no bootstrap peers and no discovery; Node 20 lacks
``Promise.withResolvers``, which the polyfill (loaded with ``NODE_OPTIONS=--require``) adds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

NODE_DIR = Path(__file__).parent / "ipfs-node"
JSIPFS = NODE_DIR / "node_modules" / ".bin" / "jsipfs"
POLYFILL = NODE_DIR / "polyfill.cjs"
START_TIMEOUT = 90.0


class NodeMissing(RuntimeError):
    """The node is not installed or does not start: the message says why."""


@dataclass
class IpfsNode:
    url: str  # the RPC API, e.g. http://127.0.0.1:PORT
    repo: Path  # IPFS_PATH: blocks under repo/blocks
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPFS_")}
    env["IPFS_PATH"] = str(repo)
    env["NODE_OPTIONS"] = f"--require {POLYFILL}"
    env.pop("DEBUG", None)
    return env


def _configure(repo: Path, api_port: int, gateway_port: int, rpc_port: int) -> None:
    """What `jsipfs config` would set, written at once (each jsipfs call costs ~1 s of start-up).
    Every listening address gets a free port, the gRPC-over-websocket one (``RPC``, 5003 by
    default) too, so that several nodes (one per test worker) run side by side."""
    path = repo / "config"
    config = json.loads(path.read_text())
    config["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{api_port}"
    config["Addresses"]["Gateway"] = f"/ip4/127.0.0.1/tcp/{gateway_port}"
    config["Addresses"]["RPC"] = f"/ip4/127.0.0.1/tcp/{rpc_port}"
    config["Addresses"]["Swarm"] = []
    config["Addresses"]["Delegates"] = []
    config["Bootstrap"] = []
    discovery = config.setdefault("Discovery", {})
    discovery.setdefault("MDNS", {})["Enabled"] = False
    discovery.setdefault("webRTCStar", {})["Enabled"] = False
    path.write_text(json.dumps(config, indent=2))


@contextlib.contextmanager
def running_node(base: Path) -> Iterator[IpfsNode]:
    """A fresh js-ipfs node with its repository under ``base``, stopped on exit."""
    if not JSIPFS.exists():
        raise NodeMissing(f"{JSIPFS.relative_to(NODE_DIR.parents[1])} is not installed")
    repo, log = base / "repo", base / "jsipfs.log"
    env = _env(repo)
    init = subprocess.run(
        [str(JSIPFS), "init", "--profile", "test"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if init.returncode != 0:
        raise NodeMissing(f"`jsipfs init` failed: {(init.stderr or init.stdout).strip()[-300:]}")
    api_port = _free_port()
    _configure(repo, api_port, _free_port(), _free_port())
    url = f"http://127.0.0.1:{api_port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(JSIPFS), "daemon", "--offline"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise NodeMissing(
                    f"`jsipfs daemon` exited ({proc.returncode}): {log.read_text(errors='replace')[-300:]}"
                )
            try:
                if httpx.post(f"{url}/api/v0/version", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise NodeMissing(f"`jsipfs daemon` did not answer in {START_TIMEOUT:.0f} s")
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
