"""Hardhat (2.x, npm) as a second toolchain and a second EVM: helpers.

The session fixture ``hardhat_node`` (in conftest.py) starts a ``HardhatNode`` per test worker
(pytest-xdist) on a free port, like ``anvil``, when a test asks for it.

The node is started as ``node node_modules/.bin/hardhat node`` rather than ``npx hardhat node``:
npx does not pass SIGTERM on to the Hardhat process it spawns, so stopping npx would leave the
node running. The network settings (chain id 31337, free gas, prague) are in hardhat.config.js.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT, Node

HARDHAT_CLI = ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "bootstrap.js"
CONFIG = ROOT / "hardhat.config.js"


def node_binary() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed")
    return found


def hardhat_env() -> dict[str, str]:
    # Never ask about telemetry (Hardhat only asks on a TTY anyway).
    return {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}


def hardhat(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the Hardhat CLI of node_modules in project directory ``cwd``."""
    if not HARDHAT_CLI.is_file():
        pytest.skip("hardhat is not installed in node_modules: run npm ci")
    return subprocess.run(
        [node_binary(), str(HARDHAT_CLI), *args],
        cwd=cwd,
        env=hardhat_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def project_copy(dest: Path) -> Path:
    """A throw-away Hardhat project in ``dest``: our config and contracts, the repo's node_modules.

    Compiling there does not race with anyone compiling in the repository (same cache and
    artifact paths). The layout is the same, so source names (contracts/X.sol) are the same.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "contracts", dest / "contracts")
    shutil.copy2(CONFIG, dest / "hardhat.config.js")
    shutil.copy2(ROOT / "package.json", dest / "package.json")
    (dest / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    return dest


class HardhatNode(Node):
    """``hardhat node`` of this project, listening on 127.0.0.1:port."""

    def __init__(self, port: int, log: Path) -> None:
        if not HARDHAT_CLI.is_file():
            pytest.skip("hardhat is not installed in node_modules: run npm ci")
        args = [node_binary(), str(HARDHAT_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)]
        # stdin is not a TTY, so Hardhat asks nothing (telemetry) and shows no banner.
        super().__init__(args, f"http://127.0.0.1:{port}", log, cwd=ROOT)
