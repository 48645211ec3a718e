"""The embedded chain: an anvil node (npm ``@foundry-rs/anvil``) with persistent state.

State is dumped to ``<home>/chain/state.json`` every second and on a clean shutdown, so the
chain survives a restart and a ``kill -9`` (losing at most the last second of blocks; the
issuance journal re-anchors anything that was lost). Gas is free (base fee 0, gas price 0),
as on a consortium chain, so keys need no balance.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .chain import Chain
from .errors import ChainUnavailable, ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HARDFORK = "prague"


def anvil_binary() -> str:
    """Path of the anvil executable: $CERTLEDGER_ANVIL, or the one npm installed."""
    explicit = os.environ.get("CERTLEDGER_ANVIL")
    if explicit:
        return explicit
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "amd64")
    system = platform.system().lower()
    for root in (PROJECT_ROOT, Path.cwd()):
        candidate = root / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("anvil")
    if found:
        return found
    raise ConfigError("anvil not found: run ./run setup (npm installs @foundry-rs/anvil) or set CERTLEDGER_ANVIL")


def anvil_args(port: int, chain_id: int, state_file: Path | None, *, block_time: float | None = None) -> list[str]:
    args = [
        anvil_binary(),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--hardfork", HARDFORK,
        "--base-fee", "0",
        "--gas-price", "0",
        "--gas-limit", "30000000",
        "--accounts", "1",
        # Anvil moves old block states to ~/.foundry/anvil/tmp and leaves them there after a
        # kill -9: tens of GB over a test run. Keep history in memory only.
        "--max-persisted-states", "0",
    ]
    if state_file is not None:
        args += ["--state", str(state_file), "--state-interval", "1"]
    if block_time:
        args += ["--block-time", str(block_time)]
    return args


def wait_for_rpc(url: str, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> Chain:
    chain = Chain(url, timeout=2.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ChainUnavailable(f"node exited with code {process.returncode} while starting")
        if chain.is_up():
            return Chain(url)
        time.sleep(0.05)
    raise ChainUnavailable(f"node at {url} did not answer within {timeout:.0f} s")


@dataclass
class NodeStatus:
    running: bool
    pid: int | None
    url: str
    block: int | None
    state_file: str


class EmbeddedNode:
    """The embedded anvil node living in ``directory`` (pid file, state, log)."""

    def __init__(self, directory: Path, port: int = 8545, chain_id: int = 31337) -> None:
        self.directory = Path(directory)
        self.port = port
        self.chain_id = chain_id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @property
    def pid_file(self) -> Path:
        return self.directory / "anvil.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "anvil.log"

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def status(self) -> NodeStatus:
        pid = self._pid()
        chain = Chain(self.url, timeout=2.0)
        block = chain.block_number() if pid and chain.is_up() else None
        return NodeStatus(pid is not None and block is not None, pid, self.url, block, str(self.state_file))

    def _check_state_file(self) -> None:
        """Keep a last good copy of the state; fall back to it if a kill -9 cut a write short."""
        backup = self.state_file.with_suffix(".json.bak")
        if not self.state_file.exists():
            return
        try:
            with self.state_file.open("rb") as fh:
                json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if backup.exists():
                shutil.copyfile(backup, self.state_file)
            else:
                self.state_file.rename(self.state_file.with_suffix(".json.corrupt"))
            return
        shutil.copyfile(self.state_file, backup)

    def start(self, *, timeout: float = 20.0) -> NodeStatus:
        """Start the node in the background, or reuse the one already running."""
        current = self.status()
        if current.running:
            return current
        chain = Chain(self.url, timeout=1.0)
        if chain.is_up():
            raise ConfigError(f"port {self.port} is taken by another node; set CERTLEDGER_PORT")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._check_state_file()
        log = self.log_file.open("ab")
        process = subprocess.Popen(
            anvil_args(self.port, self.chain_id, self.state_file),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the CLI that started it
        )
        self.pid_file.write_text(str(process.pid))
        try:
            wait_for_rpc(self.url, timeout, process)
        except ChainUnavailable:
            process.kill()
            tail = self.log_file.read_text(errors="replace")[-400:]
            raise ChainUnavailable(f"embedded node failed to start: {tail.strip().splitlines()[-1:] or '?'}") from None
        return self.status()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the node cleanly (it dumps its state on SIGTERM). False if it was not running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:  # reap it if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True
