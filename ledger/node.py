"""The embedded chain: an anvil node (npm ``@foundry-rs/anvil``) whose state survives a
restart and a ``kill -9``.

anvil serves; the keeper (:mod:`ledger.node_keeper`), started beside it, writes the state to
disk crash-safely: full generations plus a block log (:mod:`ledger.node_state`). ``start``
restores the newest good generation and replays the block log on top of it, so a ``kill -9``
of anvil, of the keeper or of both, at any moment, loses at most the blocks of the last
``dump_interval`` seconds plus the time to write them (docs/reliability.md); the issuance
journal re-anchors anything that was lost. Gas is free (base fee 0, gas price 0), as on a
consortium chain, so keys need no balance.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chain import Chain
from .config import Settings
from .errors import ChainUnavailable, ConfigError
from .node_keeper import LOCK as KEEPER_LOCK
from .node_keeper import MODULE as KEEPER_MODULE
from .node_keeper import STATUS as KEEPER_STATUS
from .node_keeper import process_alive, try_lock
from .node_state import (
    Generation,
    LogScan,
    Replay,
    Rpc,
    Skipped,
    StateStore,
    StateUnrecoverable,
    TornDump,
    header_block,
    replay,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HARDFORK = "prague"


def anvil_binary() -> str:
    """Path of the anvil executable: $CERTLEDGER_ANVIL, or the one npm installed."""
    explicit = os.environ.get("CERTLEDGER_ANVIL")
    if explicit:
        return explicit
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), "amd64"
    )
    system = platform.system().lower()
    for root in (PROJECT_ROOT, Path.cwd()):
        candidate = root / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("anvil")
    if found:
        return found
    raise ConfigError("anvil not found: run ./run setup (npm installs @foundry-rs/anvil) or set CERTLEDGER_ANVIL")


def anvil_args(
    port: int,
    chain_id: int,
    state_file: Path | None,
    *,
    block_time: float | None = None,
    load_state: Path | None = None,
) -> list[str]:
    """anvil's command line. ``state_file`` is anvil's own ``--state`` (load it, dump on a clean
    exit; not crash-safe: for throw-away nodes); ``load_state`` only loads a saved state."""
    args = [
        anvil_binary(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--hardfork",
        HARDFORK,
        "--base-fee",
        "0",
        "--gas-price",
        "0",
        "--gas-limit",
        "30000000",
        "--accounts",
        "1",
        # Anvil moves old block states to ~/.foundry/anvil/tmp and leaves them there after a
        # kill -9: tens of GB over a test run. Keep history in memory only.
        "--max-persisted-states",
        "0",
    ]
    if state_file is not None:
        args += ["--state", str(state_file)]
    if load_state is not None:
        args += ["--load-state", str(load_state)]
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
    keeper_pid: int | None = None
    generations: list[dict[str, Any]] = field(default_factory=list)
    keeper: dict[str, Any] | None = None
    restored: dict[str, Any] | None = None


class EmbeddedNode:
    """The embedded anvil node living in ``directory`` (pid files, state, logs), with its keeper.

    ``dump_interval``: seconds between writes of new blocks to the block log (and the shortest
    time between full dumps); ``generations``: full dumps kept; ``dump_budget``: the largest
    share of the node's time full dumps may take (they stall mining while they run).
    """

    def __init__(
        self,
        directory: Path,
        port: int = 8545,
        chain_id: int = 31337,
        *,
        dump_interval: float = 1.0,
        generations: int = 3,
        dump_budget: float = 0.1,
    ) -> None:
        self.directory = Path(directory)
        self.port = port
        self.chain_id = chain_id
        self.dump_interval = dump_interval
        self.generations = generations
        self.dump_budget = dump_budget
        self.state = StateStore(self.directory)

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedNode:
        return cls(
            settings.chain_dir,
            settings.port,
            settings.chain_id,
            dump_interval=settings.chain_dump_interval,
            generations=settings.chain_generations,
            dump_budget=settings.chain_dump_budget,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        """The newest generation (what a restart loads first), or the generations folder."""
        generations = self.state.generations()
        return generations[-1].path if generations else self.state.generations_dir

    @property
    def legacy_state_file(self) -> Path:
        """Where older installs let anvil write its state in place."""
        return self.directory / "state.json"

    @property
    def pid_file(self) -> Path:
        return self.directory / "anvil.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "anvil.log"

    @property
    def keeper_pid_file(self) -> Path:
        return self.directory / "keeper.pid"

    @property
    def keeper_log_file(self) -> Path:
        return self.directory / "keeper.log"

    @property
    def restoring_marker(self) -> Path:
        """Present while a restore runs: an anvil found with it holds a partial chain."""
        return self.directory / "restoring"

    # ------------------------------------------------------------------ processes

    def _read_pid(self, path: Path, name: str) -> int | None:
        try:
            pid = int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        _reap(pid)
        return pid if process_alive(pid, name) else None

    def _pid(self) -> int | None:
        return self._read_pid(self.pid_file, "anvil")

    def keeper_pid(self) -> int | None:
        return self._read_pid(self.keeper_pid_file, KEEPER_MODULE)

    def status(self) -> NodeStatus:
        pid = self._pid()
        chain = Chain(self.url, timeout=2.0)
        block = chain.block_number() if pid and chain.is_up() else None
        keeper_pid = self.keeper_pid()
        keeper = None
        if keeper_pid is not None:
            try:
                keeper = json.loads((self.directory / KEEPER_STATUS).read_text())
            except (OSError, ValueError):
                keeper = None
        now = time.time()
        return NodeStatus(
            pid is not None and block is not None,
            pid,
            self.url,
            block,
            str(self.state_file),
            keeper_pid,
            [g.to_json(now) for g in reversed(self.state.generations())],
            keeper,
        )

    # ------------------------------------------------------------------ start

    def start(self, *, timeout: float = 20.0, fresh: bool = False) -> NodeStatus:
        """Start the node in the background, or reuse the one already running (and make sure
        its keeper runs). Starting restores the saved state: see :meth:`restore`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        pid = self._pid()
        if pid is not None and self.restoring_marker.exists():
            _kill(pid)  # a restore was cut short: this anvil holds part of the chain only
            pid = None
        if pid is not None and self._answers_while_alive(pid, timeout):
            self._ensure_keeper(pid)
            return self.status()
        if Chain(self.url, timeout=1.0).is_up():
            raise ConfigError(f"port {self.port} is taken by another node; set CERTLEDGER_PORT")
        self._stop_keeper()
        with self._locked():
            restored = self.restore(timeout, fresh=fresh)
        pid = self._pid()
        assert pid is not None
        self._start_keeper(pid)
        status = self.status()
        status.restored = restored
        return status

    def _answers_while_alive(self, pid: int, timeout: float) -> bool:
        """True once anvil ``pid`` answers; False if it dies first (killed a moment ago)."""
        chain = Chain(self.url, timeout=1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if chain.is_up():
                return True
            _reap(pid)
            if not process_alive(pid, "anvil"):
                return False
            time.sleep(0.05)
        raise ChainUnavailable(f"anvil (pid {pid}) runs but does not answer at {self.url}")

    def restore(self, timeout: float = 20.0, *, fresh: bool = False) -> dict[str, Any]:
        """Start anvil on the newest generation that passes its checks (older ones if anvil
        cannot load it) and replay the block log on top. Generations that fail are kept aside;
        with none left, refuse, unless ``fresh``: then start an empty chain. Needs the keeper
        lock (no keeper runs)."""
        store = self.state
        store.ensure()
        skipped = store.clean_incomplete()
        migrated = None
        if not store.generations():
            migrated, aside = self._migrate_legacy()
            skipped += aside
        generations = store.generations()
        had_state = bool(generations) or any(s.action != "removed" for s in skipped)
        self.restoring_marker.write_text(str(os.getpid()))
        scan = store.log.scan()
        rpc = Rpc(self.url)
        base, replayed, note, torn = None, Replay(), None, []
        for generation in reversed(generations):
            reason = store.check(generation) or self._load(generation, timeout)
            if reason is None:
                replayed, note = self._replay_log(rpc, generation, scan)
                if replayed.stopped and not replayed.blocks:
                    # its accounts already hold the log's next block: a torn dump (written by
                    # an older keeper); an older generation plus more of the log may do better
                    torn.append(generation)
                    skipped.append(
                        Skipped(
                            generation.path.name, f"the block log does not apply to it ({replayed.stopped})", "not used"
                        )
                    )
                    self._kill_anvil()
                    continue
                base = generation
                break
            skipped.append(store.set_aside_generation(generation, reason))
        if base is None and torn:  # better a torn state than none: it holds everything but the log
            base, replayed = torn[0], Replay()
            self._load(base, timeout)
            note = f"generation {base.seq} restored without the block log, which does not apply to it"
        if base is None:
            if had_state and not fresh:
                self.restoring_marker.unlink(missing_ok=True)
                damaged = [s for s in skipped if s.action != "removed"]
                first = f"{damaged[0].file}: {damaged[0].reason}" if damaged else "nothing usable"
                raise StateUnrecoverable(
                    f"no saved state of the chain can be restored ({len(damaged)} file(s) damaged, first {first}); "
                    f"they are kept in {store.aside_dir}; `certledger chain up --fresh` starts an empty chain"
                )
            self._spawn_anvil(None, timeout)
        head = rpc.block_number()
        skipped += store.log.cut_after(scan, head if base is not None else None)
        self.restoring_marker.unlink(missing_ok=True)
        now = time.time()
        age = (now - base.written_at) if base is not None and base.written_at else None
        head_age = (now - replayed.head_logged_at) if replayed.head_logged_at else age
        return {
            "generation": base.seq if base else None,
            "file": str(base.path) if base else None,
            "generation_block": base.block if base else None,
            "generation_age_seconds": round(age, 1) if age is not None else None,
            "replayed_blocks": replayed.blocks,
            "head": head,
            "head_age_seconds": round(head_age, 1) if head_age is not None else None,
            "replay": replayed.to_json() if replayed.blocks or replayed.stopped else None,
            "note": note,
            "skipped": [s.to_json() for s in skipped],
            "migrated_from": migrated,
            "empty_chain": base is None,
        }

    @staticmethod
    def _replay_log(rpc: Rpc, generation: Generation, scan: LogScan) -> tuple[Replay, str | None]:
        """Replay the block log's blocks after ``generation`` (loaded); a note if it stops short."""
        assert generation.block is not None
        entries = scan.after(generation.block)
        if not entries:
            return Replay(), None
        if entries[0].number != generation.block + 1 or entries[0].parent != rpc.block_hash(generation.block):
            return Replay(), f"the block log ({entries[0].number}..) does not continue generation {generation.seq}"
        replayed = replay(rpc, entries)
        stop = replayed.stopped or (scan.stopped if replayed.blocks == len(entries) else None)
        return replayed, f"the block log stops at block {replayed.head}: {stop}" if stop else None

    def _kill_anvil(self) -> None:
        pid = self._pid()
        if pid is not None:
            _kill(pid)

    def _load(self, generation: Generation, timeout: float) -> str | None:
        """Start anvil on ``generation``; why it failed, or None."""
        try:
            self._spawn_anvil(generation.path, timeout + (generation.size or 0) / LOAD_BYTES_PER_SECOND)
        except ChainUnavailable as exc:
            return f"anvil cannot load it: {exc}"
        rpc = Rpc(self.url)
        head = rpc.block_number()
        problem = None
        if head != generation.block:
            problem = f"anvil loaded block {head}, its sidecar says {generation.block}"
        elif generation.block_hash and rpc.block_hash(head) != generation.block_hash:
            problem = f"block {head} loaded with another hash than its sidecar's"
        if problem:
            self._kill_anvil()
        return problem

    def _spawn_anvil(self, load_state: Path | None, timeout: float) -> None:
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                anvil_args(self.port, self.chain_id, None, load_state=load_state),
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
            process.wait()
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
            last = next((line for line in reversed(lines) if line.strip() and not line.startswith("For more")), "?")
            raise ChainUnavailable(last.strip()[:300]) from None

    def _migrate_legacy(self) -> tuple[str | None, list[Skipped]]:
        """Older installs let anvil rewrite ``state.json`` in place (and kept ``state.json.bak``):
        make the good ones generations (the newer last), keep the damaged ones aside."""
        migrated, skipped = None, []
        for source in (self.legacy_state_file.with_suffix(".json.bak"), self.legacy_state_file):
            if not source.exists():
                continue
            reason = _legacy_problem(source)
            if reason:
                skipped.append(self.state.set_aside(source, reason))
            else:
                self.state.adopt(source)
                migrated = source.name
        return migrated, skipped

    # ------------------------------------------------------------------ keeper

    def _ensure_keeper(self, anvil_pid: int) -> None:
        if self.keeper_pid() is None:
            self._start_keeper(anvil_pid)

    def _start_keeper(self, anvil_pid: int, wait: float = 10.0) -> None:
        env = dict(os.environ)
        # the keeper runs this very code, whatever an editable install would import
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        with self.keeper_log_file.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    KEEPER_MODULE,
                    "--dir",
                    str(self.directory),
                    "--url",
                    self.url,
                    "--anvil-pid",
                    str(anvil_pid),
                    "--interval",
                    str(self.dump_interval),
                    "--generations",
                    str(self.generations),
                    "--budget",
                    str(self.dump_budget),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                cwd=self.directory,
            )
        self.keeper_pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process.poll() is None:  # until its first status
            try:
                if json.loads((self.directory / KEEPER_STATUS).read_text()).get("pid") == process.pid:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    def _stop_keeper(self, grace: float = 5.0) -> None:
        """Stop the keeper (SIGTERM: it logs the last blocks; SIGKILL after ``grace``)."""
        pid = self.keeper_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, KEEPER_MODULE, grace):
                _kill(pid)
        self.keeper_pid_file.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, timeout: float = 30.0) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        while (fd := try_lock(self.directory)) is None:
            if time.monotonic() > deadline:
                raise ConfigError(f"another process holds {self.directory / KEEPER_LOCK}")
            time.sleep(0.05)
        try:
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ stop

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the keeper, write a last generation, stop anvil. False if it was not running."""
        pid = self._pid()
        self._stop_keeper()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with self._locked():
            if not self.restoring_marker.exists() and Chain(self.url, timeout=2.0).is_up():
                self.state.clean_incomplete()
                try:
                    for attempt in range(3):  # a transaction landing mid-dump tears it: dump again
                        try:
                            self.state.write_generation(Rpc(self.url))
                            break
                        except TornDump:
                            if attempt == 2:
                                raise
                    self.state.prune(self.generations)
                    generations = self.state.generations()
                    if generations and generations[0].block is not None:
                        self.state.log.prune(generations[0].block)
                except (ChainUnavailable, OSError):
                    pass  # the block log and the earlier generations still hold the chain
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, "anvil", timeout):
                _kill(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


LOAD_BYTES_PER_SECOND = 20e6  # anvil loads ~600 MB/s here; the allowance is generous


def _legacy_problem(path: Path) -> str | None:
    """Why an older install's state file cannot be a generation: a write cut short leaves a
    prefix of the JSON (anvil judges the rest when it loads it)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
            fh.seek(max(0, path.stat().st_size - 64))
            tail = fh.read().rstrip()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if not head.strip():
        return "empty (a write was cut short)"
    if header_block(head) is None:
        return "does not start like an anvil state"
    if not tail.endswith(b"}"):
        return "cut short (a write was interrupted)"
    return None


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so that it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _wait_gone(pid: int, name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not process_alive(pid, name):
            return True
        time.sleep(0.05)
    return False


def _kill(pid: int) -> None:
    """SIGKILL ``pid`` (one of ours, checked by the caller) and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_gone(pid, "", 5.0)
