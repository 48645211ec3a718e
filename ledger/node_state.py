"""The embedded chain's state on disk, written so that a ``kill -9`` costs at most a few seconds.

anvil can dump its whole state (``anvil_dumpState``), but its own ``--state`` file is rewritten
in place: a kill during a write leaves it empty or half-written. CertLedger therefore writes
the state itself (the keeper, :mod:`ledger.node_keeper`) and keeps two things under the chain
directory:

``generations/gen-NNNNNNNN.json``
    full states, exactly what ``anvil --load-state`` reads (plain JSON: anvil does not read
    its own gzip'd dump back, and plain JSON loads fastest). Each is written to a ``.tmp``
    file, fsynced, and renamed after its sidecar ``gen-NNNNNNNN.meta.json`` (block, block
    hash, size, SHA-256): a generation whose data file exists is complete. The newest N stay.
``blocklog/blocks-NNNNNNNNNNNN.log``
    every block after a generation, one line per block (raw signed transactions, timestamp,
    hash, parent hash) under a CRC-32, appended and fsynced every ``interval`` seconds.

A full dump costs time in proportion to the whole chain, and anvil neither mines nor serves
blocks while it runs (93 s for 10 million certificates on two cores, docs/reliability.md); a
log line costs only its own block. So full dumps become rarer as the chain grows (they may
keep the node busy at most ``budget`` of the time) while the block log bounds the loss to the
last interval.
Restoring loads the newest generation that passes its checks and replays the log on top of it:
anvil mines the very same blocks again (same hashes) from the same transactions and timestamps.
"""

from __future__ import annotations

import binascii
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from .errors import ChainUnavailable, LedgerError
from .files import fsync_dir, write_atomically

FORMAT = 1
GENERATIONS = "generations"
BLOCK_LOG = "blocklog"
KEPT_ASIDE = "kept-aside"
_CHUNK = 1 << 20
_GEN_NAME = re.compile(r"^gen-(\d{8})\.(json|meta\.json)(\.tmp)?$")
_SEGMENT_NAME = re.compile(r"^blocks-(\d{12})\.log$")
# The dump starts with the block environment: {"block":{"number":"0x1a2",...
_HEADER_BLOCK = re.compile(rb'^\s*\{\s*"block"\s*:\s*\{\s*"number"\s*:\s*"?(0x[0-9a-fA-F]+|\d+)"?')
_RESULT = b'"result":"0x'
_ACCOUNTS_END = b',"best_block_number"'  # the dump's keys come in this order: block, accounts, best_block_number, ...
_ACCOUNTS_CAP = 256 << 20


class StateUnrecoverable(LedgerError):
    """Saved chain state exists but none of it can be restored."""

    code = "STATE_UNRECOVERABLE"


class RpcFailed(ChainUnavailable):
    """The node answered a JSON-RPC call with an error."""

    code = "RPC_FAILED"


# ---------------------------------------------------------------------- JSON-RPC


class Rpc:
    """A minimal JSON-RPC client over one keep-alive HTTP connection: batches, and the state
    dump streamed to disk (it can be gigabytes of hex)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: bytes, timeout: float | None = None) -> http.client.HTTPResponse:
        for attempt in (1, 2):  # a kept-alive connection the node closed is retried once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
            elif timeout is not None and self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            try:
                self._conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                return self._conn.getresponse()
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 2 or not isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                ):
                    raise ChainUnavailable(f"node at {self.url} unreachable: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")

    def _exchange(self, payload: Any, timeout: float | None = None) -> Any:
        response = self._post(json.dumps(payload).encode(), timeout)
        try:
            data = response.read()
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            raise ChainUnavailable(f"node at {self.url} unreachable: {type(exc).__name__}") from exc
        if response.status != 200:
            raise RpcFailed(f"node at {self.url} answered HTTP {response.status}")
        return json.loads(data)

    @staticmethod
    def _result(reply: dict[str, Any], method: str) -> Any:
        if "error" in reply:
            message = (
                reply["error"].get("message", reply["error"]) if isinstance(reply["error"], dict) else reply["error"]
            )
            raise RpcFailed(f"{method} failed: {message}")
        return reply.get("result")

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        reply = self._exchange({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout)
        return self._result(reply, method)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one request; results in the order of ``calls``."""
        if not calls:
            return []
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        replies = self._exchange(payload)
        if not isinstance(replies, list):
            self._result(replies, calls[0][0])
            raise RpcFailed("a batch request was answered with a single reply")
        by_id = {r.get("id"): r for r in replies}
        return [self._result(by_id.get(i, {"error": "no answer"}), m) for i, (m, _) in enumerate(calls)]

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        block = self.call("eth_getBlockByNumber", hex(number), False)
        return block["hash"] if block else None

    def dump_state(self, out: BinaryIO, timeout: float = 3600.0) -> DumpedState:
        """``anvil_dumpState`` (hex of gzip'd JSON) written to ``out`` as plain JSON, streamed:
        memory stays flat whatever the size of the chain. Raises if the dump is cut short."""
        started = time.monotonic()
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "anvil_dumpState", "params": []}).encode()
        response = self._post(body, timeout)
        try:
            return _inflate_dump(response, out, started)
        except (http.client.HTTPException, OSError) as exc:
            raise ChainUnavailable(f"state dump from {self.url} cut short: {type(exc).__name__}") from exc
        finally:
            self.close()  # never reuse a connection a dump may have left half-read


@dataclass
class DumpedState:
    block: int
    size: int
    sha256: str
    anvil_seconds: float  # until the first byte: anvil busy building the dump
    seconds: float
    accounts: dict[str, Any] | None  # the dump's "accounts" section (None: too large to keep)


def _inflate_dump(response: http.client.HTTPResponse, out: BinaryIO, started: float) -> DumpedState:
    head, first_byte = b"", started
    while _RESULT not in head:
        chunk = response.read(65536)
        if not chunk or len(head) > _CHUNK:
            try:
                reply = json.loads(head)
                raise RpcFailed(f"anvil_dumpState failed: {reply.get('error', reply)}")
            except ValueError:
                raise ChainUnavailable("anvil_dumpState answered no state") from None
        if not head:
            first_byte = time.monotonic()
        head += chunk
    pending = head[head.index(_RESULT) + len(_RESULT) :]
    inflater = zlib.decompressobj(wbits=31)  # gzip; checks the gzip trailer's CRC-32 and length
    digest, size, carry = hashlib.sha256(), 0, b""
    prefix, prefix_done = bytearray(), False  # up to the end of the "accounts" section
    while True:
        end = pending.find(b'"')
        data = carry + (pending if end < 0 else pending[:end])
        even = len(data) - len(data) % 2
        carry = data[even:]
        plain = inflater.decompress(binascii.unhexlify(data[:even]))
        if plain:
            out.write(plain)
            digest.update(plain)
            size += len(plain)
            if not prefix_done:
                prefix += plain
                prefix_done = _ACCOUNTS_END in prefix or len(prefix) > _ACCOUNTS_CAP
        if end >= 0:
            break
        pending = response.read(_CHUNK)
        if not pending:
            raise ChainUnavailable("state dump cut short (connection closed mid-dump)")
    rest = inflater.flush()
    out.write(rest)
    digest.update(rest)
    size += len(rest)
    response.read()
    if carry or not inflater.eof:
        raise ChainUnavailable("state dump cut short (incomplete gzip stream)")
    block = header_block(bytes(prefix[:256]))
    if block is None:
        raise ChainUnavailable("state dump names no block")
    accounts = None
    if _ACCOUNTS_END in prefix:
        try:
            accounts = json.loads(bytes(prefix[: prefix.index(_ACCOUNTS_END)]) + b"}").get("accounts")
        except ValueError:
            accounts = None
    return DumpedState(block, size, digest.hexdigest(), first_byte - started, time.monotonic() - started, accounts)


class TornDump(ChainUnavailable):
    """A dump whose accounts already hold transactions of blocks it does not contain."""

    code = "TORN_DUMP"


def check_not_torn(rpc: Rpc, dumped: DumpedState) -> None:
    """anvil_dumpState reads the blocks first and the accounts after, without stopping the
    miner in between: a block mined in that instant is in the accounts but not in the blocks.
    Such a state cannot take the block log's next block (its nonce is already used), so it
    must not become a generation. Every transaction moves its sender's nonce: compare each
    account's nonce with the node's at the dump's block."""
    if dumped.accounts is None:
        return  # an accounts section of more than _ACCOUNTS_CAP: not checked
    senders = [(a, _as_int(v.get("nonce", 0))) for a, v in dumped.accounts.items() if _as_int(v.get("nonce", 0))]
    for i in range(0, len(senders), 500):
        part = senders[i : i + 500]
        counts = rpc.batch([("eth_getTransactionCount", [a, hex(dumped.block)]) for a, _ in part])
        for (address, nonce), count in zip(part, counts, strict=True):
            if nonce > int(count, 16):
                raise TornDump(
                    f"torn dump: account {address} has nonce {nonce} in it, {int(count, 16)} at its "
                    f"block {dumped.block} (a block was mined while anvil wrote it)"
                )


def _as_int(value: Any) -> int:
    return int(value, 0) if isinstance(value, str) else int(value or 0)


def header_block(header: bytes) -> int | None:
    """The block number an anvil state file names in its first bytes, or None."""
    match = _HEADER_BLOCK.match(header)
    return int(match.group(1), 0) if match else None


# ---------------------------------------------------------------------- files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * _CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Skipped:
    """A file restoring did not use, and what became of it."""

    file: str
    reason: str
    action: str  # "kept aside: <path>" or "removed"

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "action": self.action}


# ---------------------------------------------------------------------- generations


@dataclass
class Generation:
    """One full state of the chain, as ``anvil --load-state`` reads it."""

    seq: int
    path: Path
    block: int | None = None
    block_hash: str | None = None
    size: int | None = None
    sha256: str | None = None
    written_at: float | None = None
    dump_seconds: float | None = None
    sidecar_problem: str | None = None

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(f"gen-{self.seq:08d}.meta.json")

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "generation": self.seq,
            "block": self.block,
            "file": str(self.path),
            "bytes": self.size,
            "age_seconds": round(now - self.written_at, 1) if self.written_at else None,
            "dump_seconds": self.dump_seconds,
        }


class StateStore:
    """The generations, the block log and the kept-aside files of one chain directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.generations_dir = self.directory / GENERATIONS
        self.aside_dir = self.directory / KEPT_ASIDE
        self.log = BlockLog(self.directory / BLOCK_LOG, self)

    def ensure(self) -> None:
        for d in (self.directory, self.generations_dir, self.log.directory):
            d.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ reading

    def generations(self) -> list[Generation]:
        """Committed generations (the data file exists), oldest first."""
        if not self.generations_dir.is_dir():
            return []
        found = []
        for path in self.generations_dir.iterdir():
            m = _GEN_NAME.match(path.name)
            if m and m.group(2) == "json" and not m.group(3):
                found.append(self._read_sidecar(Generation(int(m.group(1)), path)))
        return sorted(found, key=lambda g: g.seq)

    def _read_sidecar(self, gen: Generation) -> Generation:
        try:
            meta = json.loads(gen.meta_path.read_bytes())
            gen.block, gen.block_hash = int(meta["block"]), meta.get("block_hash")
            gen.size, gen.sha256 = int(meta["bytes"]), str(meta["sha256"])
            gen.written_at, gen.dump_seconds = float(meta["written_at"]), meta.get("dump_seconds")
        except FileNotFoundError:
            gen.sidecar_problem = "its sidecar (size, SHA-256) is missing"
        except (ValueError, KeyError, TypeError):
            gen.sidecar_problem = "its sidecar is unreadable"
        return gen

    def check(self, gen: Generation) -> str | None:
        """Why ``gen`` cannot be trusted, or None: sidecar present, size, header block, SHA-256."""
        if gen.sidecar_problem:
            return gen.sidecar_problem
        try:
            size = gen.path.stat().st_size
            if size != gen.size:
                return f"{size} bytes where its sidecar says {gen.size} (cut short or altered)"
            with gen.path.open("rb") as fh:
                named = header_block(fh.read(256))
            if named != gen.block:
                return f"its first bytes name block {named}, its sidecar block {gen.block}"
            if file_sha256(gen.path) != gen.sha256:
                return "SHA-256 differs from its sidecar (damaged or altered)"
        except OSError as exc:
            return f"unreadable: {exc.strerror or exc}"
        return None

    def next_seq(self) -> int:
        seqs = [0]
        for d in (self.generations_dir, self.aside_dir):
            if d.is_dir():
                seqs += [int(m.group(1)) for p in d.iterdir() if (m := re.match(r"^gen-(\d{8})", p.name))]
        return max(seqs) + 1

    # ------------------------------------------------------------------ writing

    def write_generation(self, rpc: Rpc) -> Generation:
        """Dump the node's state into a new generation: data to ``.tmp``, fsync; sidecar
        written atomically; rename the data (the commit); fsync the directory."""
        self.ensure()
        seq = self.next_seq()
        gen = Generation(seq, self.generations_dir / f"gen-{seq:08d}.json")
        tmp = gen.path.with_name(gen.path.name + ".tmp")
        try:
            with tmp.open("wb") as out:
                dumped = rpc.dump_state(out)
                check_not_torn(rpc, dumped)
                out.flush()
                os.fsync(out.fileno())
            gen.block, gen.size, gen.sha256 = dumped.block, dumped.size, dumped.sha256
            gen.block_hash = rpc.block_hash(dumped.block)
            gen.written_at = time.time()
            gen.dump_seconds = round(dumped.seconds, 3)
            meta = {
                "format": FORMAT,
                "generation": seq,
                "block": gen.block,
                "block_hash": gen.block_hash,
                "bytes": gen.size,
                "sha256": gen.sha256,
                "written_at": gen.written_at,
                "dump_seconds": gen.dump_seconds,
                "anvil_seconds": round(dumped.anvil_seconds, 3),
            }
            write_atomically(gen.meta_path, json.dumps(meta, indent=1).encode())
            os.replace(tmp, gen.path)
            fsync_dir(self.generations_dir)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return gen

    def adopt(self, source: Path) -> Generation:
        """Make an existing anvil state file (an older install's ``state.json``) a generation."""
        self.ensure()
        with source.open("rb") as fh:
            block = header_block(fh.read(256))
        seq = self.next_seq()
        gen = Generation(seq, self.generations_dir / f"gen-{seq:08d}.json", block=block)
        gen.size, gen.sha256, gen.written_at = source.stat().st_size, file_sha256(source), source.stat().st_mtime
        meta = {
            "format": FORMAT,
            "generation": seq,
            "block": block,
            "block_hash": None,
            "bytes": gen.size,
            "sha256": gen.sha256,
            "written_at": gen.written_at,
            "dump_seconds": None,
            "migrated_from": source.name,
        }
        write_atomically(gen.meta_path, json.dumps(meta, indent=1).encode())
        os.replace(source, gen.path)
        fsync_dir(self.generations_dir)
        return gen

    def prune(self, keep: int) -> None:
        """Remove all but the newest ``keep`` generations (at least one is always kept)."""
        for gen in self.generations()[: -max(1, keep)]:
            gen.meta_path.unlink(missing_ok=True)
            gen.path.unlink(missing_ok=True)

    def clean_incomplete(self) -> list[Skipped]:
        """Remove what an interrupted write left: ``.tmp`` files, sidecars without data.
        Only call this while no keeper runs."""
        removed: list[Skipped] = []
        if not self.generations_dir.is_dir():
            return removed
        names = {p.name for p in self.generations_dir.iterdir()}
        for name in sorted(names):
            m = _GEN_NAME.match(name)
            if m and m.group(3):
                reason = "incomplete dump (the writer was killed mid-write)"
            elif m and m.group(2) == "meta.json" and f"gen-{m.group(1)}.json" not in names:
                reason = "sidecar of a dump that was never committed"
            else:
                continue
            (self.generations_dir / name).unlink(missing_ok=True)
            removed.append(Skipped(name, reason, "removed"))
        return removed

    def set_aside(self, path: Path, reason: str) -> Skipped:
        """Move a file that cannot be used into ``kept-aside/`` (never deleted), with the reason."""
        self.aside_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.aside_dir / f"{stamp}-{path.name}"
        n = 1
        while target.exists():
            n += 1
            target = self.aside_dir / f"{stamp}-{n}-{path.name}"
        shutil.move(str(path), target)
        with (self.aside_dir / "REASONS.txt").open("a") as fh:
            fh.write(f"{stamp} {target.name}: {reason}\n")
        return Skipped(path.name, reason, f"kept aside: {target}")

    def set_aside_generation(self, gen: Generation, reason: str) -> Skipped:
        skipped = self.set_aside(gen.path, reason)
        if gen.meta_path.exists():
            self.set_aside(gen.meta_path, f"sidecar of {gen.path.name}")
        return skipped


# ---------------------------------------------------------------------- block log


@dataclass
class LoggedBlock:
    """One block of the log: enough to mine it again, identically."""

    number: int
    hash: str
    parent: str
    timestamp: int
    logged_at: float
    txs: list[str]

    def line(self) -> bytes:
        payload = json.dumps(
            {"ts": self.timestamp, "at": round(self.logged_at, 3), "txs": self.txs}, separators=(",", ":")
        )
        body = f"{self.number} {self.hash} {self.parent} {payload}".encode()
        return b"%08x %s\n" % (zlib.crc32(body), body)


@dataclass
class LogEntry:
    """Where one good line of the log lies (the transactions are read only to replay)."""

    number: int
    hash: str
    parent: str
    segment: Path
    start: int
    end: int

    def load(self) -> LoggedBlock:
        with self.segment.open("rb") as fh:
            fh.seek(self.start)
            body = fh.read(self.end - self.start).split(b" ", 1)[1].rstrip(b"\n")
        number, hash_, parent, payload = body.decode().split(" ", 3)
        data = json.loads(payload)
        return LoggedBlock(int(number), hash_, parent, int(data["ts"]), float(data["at"]), list(data["txs"]))


@dataclass
class LogScan:
    """The log's contiguous run of good lines, and why it stops where it stops."""

    entries: list[LogEntry] = field(default_factory=list)
    stopped: str | None = None  # a problem after the last good line, if any

    @property
    def last(self) -> LogEntry | None:
        return self.entries[-1] if self.entries else None

    def after(self, block: int) -> list[LogEntry]:
        return [e for e in self.entries if e.number > block]


class BlockLog:
    """Append-only segments ``blocks-<first block>.log``; one CRC-checked line per block."""

    def __init__(self, directory: Path, store: StateStore) -> None:
        self.directory = Path(directory)
        self.store = store

    def segments(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _SEGMENT_NAME.match(p.name))]
        return sorted(found)

    def scan(self) -> LogScan:
        """Read every segment in order; stop at the first line that is cut short, damaged, or
        does not follow (number and parent hash) the one before it."""
        scan = LogScan()
        for _, segment in self.segments():
            with segment.open("rb") as fh:
                offset = 0
                for raw in iter(lambda: fh.readline(), b""):
                    start, offset = offset, offset + len(raw)
                    problem = self._problem(raw, scan.last)
                    if problem:
                        scan.stopped = f"{segment.name}: {problem}"
                        return scan
                    number, hash_, parent = raw.split(b" ", 4)[1:4]
                    scan.entries.append(LogEntry(int(number), hash_.decode(), parent.decode(), segment, start, offset))
        return scan

    @staticmethod
    def _problem(raw: bytes, previous: LogEntry | None) -> str | None:
        if not raw.endswith(b"\n"):
            return "last line cut short (the writer was killed mid-append)"
        crc, _, body = raw.rstrip(b"\n").partition(b" ")
        try:
            if int(crc, 16) != zlib.crc32(body):
                return "a line fails its CRC (damaged)"
            number, _, parent = body.split(b" ", 3)[:3]
            n = int(number)
        except ValueError:
            return "an unreadable line (damaged)"
        if previous is not None and n != previous.number + 1:
            return f"block {n} follows block {previous.number} (gap)"
        if previous is not None and parent.decode() != previous.hash:
            return f"block {n} does not link to block {previous.number}"
        return None

    def cut_after(self, scan: LogScan, block: int | None) -> list[Skipped]:
        """Make the log end at ``block`` (None: empty it): later lines are kept aside,
        a line cut short is removed. Only call this while no keeper runs."""
        skipped: list[Skipped] = []
        keep = [e for e in scan.entries if block is not None and e.number <= block]
        last = keep[-1] if keep else None
        for first, segment in self.segments():
            if last is not None and segment == last.segment:
                size = segment.stat().st_size
                if size > last.end:
                    skipped += self._cut_tail(segment, last.end, scan)
            elif last is None or first > last.number:
                has_lines = any(e.segment == segment for e in scan.entries) or self._has_full_line(segment)
                if has_lines:
                    skipped.append(self.store.set_aside(segment, "block log after the restored head"))
                else:
                    segment.unlink()
                    skipped.append(Skipped(segment.name, scan.stopped or "empty block log segment", "removed"))
        return skipped

    def _cut_tail(self, segment: Path, end: int, scan: LogScan) -> list[Skipped]:
        with segment.open("rb") as fh:
            fh.seek(end)
            tail = fh.read()
        if b"\n" in tail:  # whole lines: keep them
            self.store.aside_dir.mkdir(parents=True, exist_ok=True)
            target = self.store.aside_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-tail-{segment.name}"
            target.write_bytes(tail)
            result = Skipped(
                segment.name,
                f"block log lines after the restored head ({scan.stopped or 'not replayed'})",
                f"kept aside: {target}",
            )
        else:
            result = Skipped(segment.name, scan.stopped or "a line cut short", "removed")
        with segment.open("r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
        return [result]

    @staticmethod
    def _has_full_line(segment: Path) -> bool:
        with segment.open("rb") as fh:
            return b"\n" in fh.read(_CHUNK)

    def prune(self, oldest_block: int) -> None:
        """Remove segments holding only blocks up to ``oldest_block`` (the oldest kept
        generation has them); the newest segment always stays."""
        segments = self.segments()
        for (_, segment), (next_first, _) in itertools.pairwise(segments):
            if next_first - 1 <= oldest_block:
                segment.unlink(missing_ok=True)

    def set_aside_all(self, reason: str) -> list[Skipped]:
        return [self.store.set_aside(segment, reason) for _, segment in self.segments()]


class BlockLogWriter:
    """Appends blocks to a new segment; every :meth:`append` is fsynced before it returns."""

    def __init__(self, log: BlockLog) -> None:
        self.log = log
        self._fh: BinaryIO | None = None

    def append(self, blocks: list[LoggedBlock]) -> None:
        if not blocks:
            return
        if self._fh is None:
            self.log.directory.mkdir(parents=True, exist_ok=True)
            path = self.log.directory / f"blocks-{blocks[0].number:012d}.log"
            if path.exists():  # left by a writer killed before its first whole line
                self.log.store.set_aside(path, "superseded block log segment")
            self._fh = path.open("ab")
            fsync_dir(self.log.directory)
        start = self._fh.tell()
        try:
            self._fh.write(b"".join(b.line() for b in blocks))
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError:  # disk full: take back the half-written lines, or the next would follow them
            try:
                self._fh.truncate(start)
                self._fh.seek(start)
            except OSError:
                self.close()  # the next keeper's start cuts the tail off
            raise

    def rotate(self) -> None:
        """Start a new segment with the next append (after a new generation)."""
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def fetch_blocks(rpc: Rpc, first: int, last: int) -> list[LoggedBlock]:
    """Blocks ``first..last`` with their raw signed transactions, in two batched requests."""
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)])
    if any(b is None for b in blocks):
        raise ChainUnavailable(f"node has no block in {first}..{last} any more")
    hashes = [h for b in blocks for h in b["transactions"]]
    raws = dict(zip(hashes, rpc.batch([("eth_getRawTransactionByHash", [h]) for h in hashes]), strict=True))
    if any(r is None for r in raws.values()):
        raise ChainUnavailable("node cannot give a raw transaction of a mined block")
    now = time.time()
    return [
        LoggedBlock(
            int(b["number"], 16),
            b["hash"],
            b["parentHash"],
            int(b["timestamp"], 16),
            now,
            [raws[h] for h in b["transactions"]],
        )
        for b in blocks
    ]


# ---------------------------------------------------------------------- replay


@dataclass
class Replay:
    blocks: int = 0
    head: int | None = None
    head_logged_at: float | None = None
    diverged_at: int | None = None  # first block whose hash differs from the logged one
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "head": self.head, "diverged_at": self.diverged_at, "stopped": self.stopped}


def replay(rpc: Rpc, entries: Iterator[LogEntry] | list[LogEntry]) -> Replay:
    """Mine the logged blocks again, each with its transactions and timestamp. anvil derives
    everything else deterministically, so the blocks come back with the same hashes."""
    result = Replay()
    rpc.call("evm_setAutomine", False)
    try:
        for entry in entries:
            block = entry.load()
            if block.txs:
                try:
                    rpc.batch([("eth_sendRawTransaction", [raw]) for raw in block.txs])
                except RpcFailed as exc:
                    result.stopped = f"block {block.number}: {exc}"
                    break
            # a freshly loaded anvil refuses timestamps before its own clock: wind it back first
            rpc.call("evm_setTime", block.timestamp)
            rpc.call("evm_setNextBlockTimestamp", block.timestamp)
            rpc.call("evm_mine")
            mined = rpc.call("eth_getBlockByNumber", hex(block.number), False)
            if mined is None or len(mined["transactions"]) != len(block.txs):
                result.stopped = f"block {block.number} came back with other transactions"
                break
            if mined["hash"] != block.hash and result.diverged_at is None:
                result.diverged_at = block.number
            result.blocks += 1
            result.head, result.head_logged_at = block.number, block.logged_at
    finally:
        rpc.call("evm_setAutomine", True)
        if result.blocks:
            # the replay moved anvil's clock back to the replayed times; new blocks are stamped
            # from the wall clock again (never before the last block).
            latest = rpc.call("eth_getBlockByNumber", "latest", False)
            rpc.call("evm_setTime", max(int(time.time()), int(latest["timestamp"], 16)))
    return result
