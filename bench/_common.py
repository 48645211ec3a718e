"""What every benchmark shares: its own anvil, a one-region deployment, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.chain import Chain  # noqa: E402
from ledger.deployment import deploy  # noqa: E402
from ledger.node import anvil_args, anvil_binary, wait_for_rpc  # noqa: E402
from ledger.registry import Registry  # noqa: E402

CHAIN_ID = 31337
REGION = 440000
AGENCY = "GD-PSB"
CERT_TYPE = "ID_CARD"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_version() -> str:
    try:
        out = subprocess.run([anvil_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextlib.contextmanager
def anvil(extra_args: list[str] | None = None) -> Iterator[Chain]:
    """A private anvil for the benchmark, stopped afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="certledger-bench-") as tmp:
        log = Path(tmp) / "anvil.log"
        with log.open("ab") as fh:
            process = subprocess.Popen(
                anvil_args(port, CHAIN_ID, None) + (extra_args or []), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            yield wait_for_rpc(f"http://127.0.0.1:{port}", timeout=60, process=process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Setup:
    registry: Registry
    deployer: LocalAccount
    admin: LocalAccount
    key: LocalAccount


def one_agency(chain: Chain, schema: dict[str, Any] | None = None) -> Setup:
    """Deploy with one region (quorum 1), one type, one agency with one key."""
    deployer, admin, key = Account.create(), Account.create(), Account.create()
    registry = Registry(chain, deploy(chain, deployer, [(REGION, admin.address)], 1))
    registry.propose_add_type(admin, CERT_TYPE, schema or {"fields": [{"name": "name", "kind": "text"}]})
    registry.register_agency(admin, AGENCY, REGION, [CERT_TYPE])
    registry.add_key(admin, AGENCY, key.address)
    return Setup(registry, deployer, admin, key)
