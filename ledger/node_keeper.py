"""The keeper: a small process beside the embedded anvil that writes the chain's state to disk
so that a ``kill -9`` of anvil, of the keeper or of both costs at most the last few seconds.

``certledger chain up`` starts it detached (``python -m ledger.node_keeper``), like anvil. anvil
serves without it; it exits when its anvil goes away; it may itself be killed at any moment,
since nothing it leaves half-written is ever trusted (see :mod:`ledger.node_state`). One keeper
per chain directory: it holds ``keeper.lock`` while it runs.

Every ``interval`` seconds it appends the new blocks to the block log (fsynced). A full dump, a
new generation, follows once the head has moved and ``max(interval, last dump / budget)``
seconds have passed: a dump stalls anvil's mining for about its own duration, so dumps take at
most ``budget`` of the node's time however large the chain grows.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from .errors import ChainUnavailable
from .node_state import BlockLogWriter, Generation, Rpc, StateStore, fetch_blocks

MODULE = "ledger.node_keeper"
LOCK = "keeper.lock"
STATUS = "keeper.json"
FETCH_BLOCKS = 100  # blocks per batched request


def process_alive(pid: int, name: str) -> bool:
    """Whether ``pid`` runs (not a zombie) as program ``name`` (in its executable's name, or
    the module of ``python -m``): a pid reused by another program does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and (name in Path(argv[0]).name or name in argv[1:3])


def try_lock(directory: Path) -> int | None:
    """An open descriptor holding the chain directory's keeper lock, or None if it is held.
    The kernel releases it when the holder dies, however it dies."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Keeper:
    """The block log and the generations of one running anvil."""

    def __init__(
        self,
        directory: Path,
        url: str,
        anvil_pid: int,
        *,
        interval: float = 1.0,
        generations: int = 3,
        budget: float = 0.1,
        out: TextIO = sys.stdout,
    ) -> None:
        self.store = StateStore(directory)
        self.url, self.anvil_pid = url, anvil_pid
        self.interval, self.keep, self.budget = max(0.05, interval), max(1, generations), min(1.0, max(1e-6, budget))
        self.out = out
        self.stopping = threading.Event()
        self._rotate = threading.Event()
        self._write_lock = threading.Lock()  # one generation at a time
        self._log_lock = threading.Lock()  # one writer of the block log at a time
        self.writer = BlockLogWriter(self.store.log)
        self.last: tuple[int, str] | None = None  # last logged block (number, hash)
        self.last_logged_at: float | None = None
        self.last_generation: Generation | None = None
        self.last_dump_seconds = 0.0
        self.slowest_tick = 0.0  # seconds: the block log's window is the interval plus this
        self.error: str | None = None

    def say(self, message: str) -> None:
        self.out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
        self.out.flush()

    def anvil_alive(self) -> bool:
        return process_alive(self.anvil_pid, "anvil")

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> None:
        self.store.ensure()
        for removed in self.store.clean_incomplete():
            self.say(f"removed {removed.file}: {removed.reason}")
        rpc = Rpc(self.url)
        if not self._wait_for_node(rpc):
            return
        try:
            self._bootstrap(rpc)
        except (ChainUnavailable, OSError) as exc:
            self.say(f"cannot start the block log: {exc}")
            return
        dumper = threading.Thread(target=self._dump_loop, name="dumper", daemon=True)
        dumper.start()
        try:
            self._log_loop(rpc)
        finally:
            self.writer.close()

    def _wait_for_node(self, rpc: Rpc) -> bool:
        while not self.stopping.is_set() and self.anvil_alive():
            try:
                rpc.block_number()
                return True
            except ChainUnavailable:
                self.stopping.wait(0.1)
        return False

    def _bootstrap(self, rpc: Rpc) -> None:
        """Continue the block log where it ends if it matches the running chain; otherwise
        keep it aside and start a new one after the newest generation (dumping one if need be)."""
        log = self.store.log
        scan = log.scan()
        last = scan.last
        generations = self.store.generations()
        newest = generations[-1] if generations else None
        self.last_generation = newest
        if newest is not None and newest.dump_seconds:
            self.last_dump_seconds = float(newest.dump_seconds)
        if last is not None and rpc.block_hash(last.number) == last.hash:
            for s in log.cut_after(scan, last.number):
                self.say(f"block log: {s.reason} ({s.action})")
            self.last = (last.number, last.hash)
            self.say(f"continuing the block log after block {last.number}")
            return
        if last is not None:
            for s in log.set_aside_all(f"block log does not match the running chain at block {last.number}"):
                self.say(f"{s.file}: {s.reason} ({s.action})")
        else:
            log.cut_after(scan, None)
        if (
            newest
            and newest.block is not None
            and newest.block_hash
            and rpc.block_hash(newest.block) == newest.block_hash
        ):
            self.last = (newest.block, newest.block_hash)
        else:
            generation = self._base_generation(rpc)
            assert generation.block is not None and generation.block_hash is not None
            self.last = (generation.block, generation.block_hash)
        self.say(f"starting the block log after block {self.last[0]}")

    # ------------------------------------------------------------------ block log

    def _log_loop(self, rpc: Rpc) -> None:
        next_tick = time.monotonic()
        while True:
            final = self.stopping.is_set()
            started = time.monotonic()
            if not self.anvil_alive():
                self.say(f"anvil (pid {self.anvil_pid}) is gone: keeper exits")
                return
            try:
                with self._log_lock:
                    if self._rotate.is_set():
                        self._rotate.clear()
                        self.writer.rotate()
                        generations = self.store.generations()
                        if generations and generations[0].block is not None:
                            self.store.log.prune(generations[0].block)
                    self._log_new_blocks(rpc)
                self.error = None
            except (ChainUnavailable, OSError) as exc:
                if self.error != str(exc):
                    self.say(f"block log: {exc}")
                self.error = str(exc)
            self.slowest_tick = max(self.slowest_tick, time.monotonic() - started)
            self._write_status()
            if final:
                return
            next_tick = max(next_tick + self.interval, time.monotonic())  # a fixed rate, not interval + tick
            self.stopping.wait(next_tick - time.monotonic())

    def _log_new_blocks(self, rpc: Rpc) -> None:
        assert self.last is not None
        head = rpc.block_number()
        if head < self.last[0]:
            self._diverged(rpc, f"the chain went back from block {self.last[0]} to {head}")
            return
        while self.last[0] < head:
            first = self.last[0] + 1
            blocks = fetch_blocks(rpc, first, min(head, first + FETCH_BLOCKS - 1))
            if blocks[0].parent != self.last[1]:
                self._diverged(rpc, f"block {first} no longer follows the logged block {self.last[0]}")
                return
            self.writer.append(blocks)
            self.last, self.last_logged_at = (blocks[-1].number, blocks[-1].hash), time.time()

    def _diverged(self, rpc: Rpc, reason: str) -> None:
        """The running chain is not the logged one (evm_revert, a node swapped underneath):
        keep the log aside, dump a generation now and log after it."""
        self.say(f"block log: {reason}; keeping it aside and dumping a new generation")
        self.writer.close()
        self.store.log.set_aside_all(reason)
        generation = self._base_generation(rpc)
        assert generation.block is not None and generation.block_hash is not None
        self.last = (generation.block, generation.block_hash)

    # ------------------------------------------------------------------ generations

    def full_dump_interval(self) -> float:
        return max(self.interval, self.last_dump_seconds / self.budget)

    def _dump_loop(self) -> None:
        rpc = Rpc(self.url)
        newest = self.last_generation
        written = newest.written_at if newest and newest.written_at else 0.0
        next_dump = time.monotonic() + (written + self.full_dump_interval() - time.time())
        while not self.stopping.wait(max(0.0, min(next_dump - time.monotonic(), self.interval))):
            if time.monotonic() < next_dump:
                continue
            started = time.monotonic()
            try:
                newest = self.last_generation
                if newest is None or rpc.block_number() != newest.block:
                    # anvil serves no block while it dumps: log the newest ones first, or they
                    # would wait in anvil's memory alone for as long as the dump takes
                    with self._log_lock:
                        self._log_new_blocks(rpc)
                    self._write_generation(rpc)
            except (ChainUnavailable, OSError) as exc:
                self.last_dump_seconds = max(self.last_dump_seconds, time.monotonic() - started)
                self.say(f"full dump failed: {exc}")
            # a failed dump stalled anvil as long as a good one: back off the same way
            next_dump = time.monotonic() + self.full_dump_interval()

    def _base_generation(self, rpc: Rpc) -> Generation:
        """A new generation for the block log to start from: retried until one is written
        (a dump can be torn by a block mined during it) or anvil is gone."""
        while True:
            try:
                return self._write_generation(rpc)
            except (ChainUnavailable, OSError) as exc:
                self.say(f"full dump failed: {exc}")
                if self.stopping.wait(self.interval) or not self.anvil_alive():
                    raise

    def _write_generation(self, rpc: Rpc) -> Generation:
        with self._write_lock:
            started = time.monotonic()
            generation = self.store.write_generation(rpc)
            self.last_dump_seconds = time.monotonic() - started
            self.store.prune(self.keep)
            self.last_generation = generation
            self._rotate.set()
        self.say(
            f"generation {generation.seq}: block {generation.block}, {generation.size} bytes, "
            f"{self.last_dump_seconds:.2f} s; next full dump in >= {self.full_dump_interval():.1f} s"
        )
        return generation

    def _write_status(self) -> None:
        newest = self.last_generation
        status: dict[str, Any] = {
            "pid": os.getpid(),
            "anvil_pid": self.anvil_pid,
            "interval": self.interval,
            "log_head": self.last[0] if self.last else None,
            "log_head_written_at": self.last_logged_at,
            "checked_at": time.time(),
            "generation": newest.seq if newest else None,
            "generation_block": newest.block if newest else None,
            "last_dump_seconds": round(self.last_dump_seconds, 3),
            "slowest_log_write_seconds": round(self.slowest_tick, 3),
            "full_dump_interval": round(self.full_dump_interval(), 1),
            "error": self.error,
        }
        path = self.store.directory / STATUS
        try:  # informational: renamed into place, not fsynced (the block log's fsync is the one that counts)
            path.with_name(STATUS + ".tmp").write_text(json.dumps(status))
            os.replace(path.with_name(STATUS + ".tmp"), path)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.node_keeper", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="the chain directory")
    parser.add_argument("--url", required=True, help="anvil's JSON-RPC endpoint")
    parser.add_argument("--anvil-pid", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--budget", type=float, default=0.1)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    lock = try_lock(args.dir)
    if lock is None:
        sys.stdout.write("another keeper holds this chain directory: exiting\n")
        return 0
    keeper = Keeper(
        args.dir, args.url, args.anvil_pid, interval=args.interval, generations=args.generations, budget=args.budget
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: keeper.stopping.set())
    keeper.say(f"keeper {os.getpid()} for anvil {args.anvil_pid} at {args.url}")
    keeper.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
