"""The indexer: follows the deployed contracts from their deployment block and mirrors every
event into the database.

- **Catch-up** with ``eth_getLogs`` over block ranges that adapt: halved on provider errors or
  oversized results (Besu's default limit is 1,000 blocks per query), grown by their density
  while results stay small, and a light range extended by the blocks after it before it is
  written, up to the certificate budget (``max_hashes_per_range``); the next range's logs are
  fetched on a second connection while the database writes the current one. Each range is
  written in one database transaction together with the checkpoint, so a crash (even
  ``kill -9``) at any moment leaves the mirror at a range boundary: nothing lost, nothing twice.
- **Live**: follows the head at a configurable confirmation depth (default 0: QBFT blocks are
  final), polling every ``poll_interval`` seconds.
- **Reorgs**: before each range the checkpoint block's hash is compared with the chain's; on a
  mismatch the mirror rolls back to the newest block whose hash the chain still has and
  re-reads from there — at most ``max_reorg_depth`` blocks (default 64; the last blocks of every
  range are recorded, so the common ancestor is found exactly).
- **A chain that lost its history is not followed**: the node's genesis block, the deployment
  block and the contracts' code are checked on start and every few seconds. A node that fails
  (reset, replaced, another chain) or a reorganisation deeper than the limit stops the indexer:
  the mirror stays as it was, the reason is kept in its meta table (``chain_problem``) so that
  verification answers ERROR and ``/healthz`` 503, and the indexer keeps checking until the
  node serves the deployment's chain again.
- **Faults**: an unreachable node is retried with exponential backoff; the health facts
  (chain head, last error) are kept in the mirror's meta table for ``/healthz``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..deployment import Deployment
from ..errors import ChainUnavailable
from ..ids import credit_code_text, text_of
from . import schema as s
from .events import Log, LogDecoder
from .rpc import RawRpc, RpcError
from .store import MirrorStore, RangeData

log = logging.getLogger("certledger.indexer")
MAX_REORG_RETRIES = 5
HEAD_REFRESH_SECONDS = 2.0
MAX_SPAN_GROWTH = 16  # a light range's successor spans at most this many times its blocks
REFRESH_STATISTICS_AFTER = 100_000  # certificates written by one catch-up: then the planner's statistics


def _malloc_trim() -> Callable[[], None]:
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return lambda: None

    def release() -> None:
        trim(0)  # returns whether memory was released: either way, nothing to do

    return release


# A range of 10,000 certificate hashes brings a few MB of JSON and bytes that Python frees at
# once; glibc keeps the freed pages in its arenas unless told to return them, and a following
# indexer's memory then creeps up with every batch. Returning them keeps it flat.
release_memory = _malloc_trim()


def _certificate_count(logs: list[Log]) -> int:
    return sum(len(lg.args["certHashes"]) // 32 for lg in logs if lg.event == "BatchAnchored")


def _light(certs: int, n_raw: int, budget: int) -> bool:
    """A range worth extending (or a larger span): under a quarter of the certificate budget,
    and few enough logs for one eth_getLogs answer."""
    return certs < budget // 4 and n_raw < 1_000


class ReorgInProgress(ChainUnavailable):
    """The chain changed while a range was being read: check for a reorg and read again."""


class ChainHistoryLost(ChainUnavailable):
    """The node does not serve the deployment's chain any more (reset, replaced, reorganised
    deeper than the limit): the indexer stops following and changes nothing."""

    code = "CHAIN_HISTORY_LOST"


CatchUpProgress = Callable[[int, int, int], None]  # (checkpoint block, target block, certificates so far)


@dataclass
class IndexerConfig:
    confirmations: int = 0
    poll_interval: float = 0.25
    initial_span: int = 16  # grows while ranges stay light; a block holds at most ~22,000 hashes
    min_span: int = 1
    max_span: int = 100_000
    # Bounds memory (a range's hashes and their rows, and the next range's hashes while it is
    # written: about 250 MB at most): shrink the span when a range brings more. Large on
    # purpose: a range of random hashes touches nearly every page of the certificates table, so
    # fewer ranges write it fewer times (a light range is extended up to it, see _extend).
    max_hashes_per_range: int = 1_000_000
    backoff_min: float = 0.2
    backoff_max: float = 30.0
    max_reorg_depth: int = 64  # a deeper reorganisation stops the indexer instead of rewriting the mirror
    identity_interval: float = 5.0  # seconds between checks that the node still serves the deployment's chain
    rpc_timeout: float = 10.0  # seconds one call to the node may take

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> IndexerConfig:
        """The configuration the environment gives (``CERTLEDGER_*``), with ``overrides``."""
        given = {
            "confirmations": settings.confirmations,
            "poll_interval": settings.poll_interval,
            "max_reorg_depth": settings.max_reorg_depth,
            "rpc_timeout": settings.rpc_timeout,
            "max_hashes_per_range": settings.index_range_certificates,
        }
        return cls(**(given | {k: v for k, v in overrides.items() if v is not None}))


@dataclass
class StepResult:
    first: int
    last: int
    certificates: int
    events: int
    reorg_to: int | None = None


class Indexer:
    def __init__(
        self, rpc_url: str, deployment: Deployment, store: MirrorStore, config: IndexerConfig | None = None
    ) -> None:
        self.config = config or IndexerConfig()
        self.rpc = RawRpc(rpc_url, timeout=self.config.rpc_timeout)
        self.deployment = deployment
        self.store = store
        self.decoder = LogDecoder(deployment)
        self.span = self.config.initial_span
        self._stop = threading.Event()
        self._seen: tuple[int | None, float] = (None, 0.0)  # last chain head written, and when
        self._had_error = True  # clear any error left in the mirror by an earlier run
        self._identity_at: float | None = None  # when the chain's identity was last confirmed
        self._halted = True  # clear a chain problem left by an earlier run once the chain checks out
        self._prefetcher: Any = None  # ThreadPoolExecutor: the next range's logs while catching up
        self._prefetch_rpc: RawRpc | None = None
        self._prefetch: tuple[int, int, Any] | None = None  # (first, last, future)

    # -------------------------------------------------------------- the chain's identity

    def check_identity(self, *, force: bool = False) -> None:
        """Raise ChainHistoryLost unless the node serves the deployment's chain (checked every
        ``identity_interval`` seconds, or now with ``force``)."""
        now = time.monotonic()
        if not force and self._identity_at is not None and now - self._identity_at < self.config.identity_interval:
            return
        problem = self.deployment.identity_problem(self.rpc.call)
        if problem is not None:
            raise ChainHistoryLost(problem)
        self._identity_at = now
        if self._halted:
            self.store.set_status({"chain_problem": ""})
            self._halted = False

    def _halt(self, reason: str) -> None:
        log.error("indexer stopped following the chain: %s (the mirror is kept as it is)", reason)
        self._identity_at = None
        self._halted = True
        self.store.set_status({"chain_problem": reason, "last_error": reason, "last_error_at": int(time.time())})

    # -------------------------------------------------------------- one step

    def target_block(self) -> int:
        head = self.rpc.block_number()
        now = time.time()
        # Written when the head moves, else every couple of seconds: enough for readers to tell
        # a live indexer from a stopped one, without a write transaction per poll.
        if head != self._seen[0] or now - self._seen[1] >= HEAD_REFRESH_SECONDS:
            self.store.set_status({"chain_head": head, "chain_head_seen_at": int(now)})
            self._seen = (head, now)
        return head - self.config.confirmations

    def check_reorg(self) -> int | None:
        """Roll back if the chain no longer has our checkpoint block; returns the new checkpoint.
        Never deeper than ``max_reorg_depth`` blocks, never below the deployment block: a chain
        that changed more than that is not believed (ChainHistoryLost)."""
        checkpoint, checkpoint_hash = self.store.checkpoint()
        if checkpoint_hash is None or checkpoint < self.deployment.deployment_block:
            return None
        chain = self.rpc.blocks([checkpoint]).get(checkpoint)
        if chain is not None and chain[0] == checkpoint_hash:
            return None
        # The chain changed under us: first make sure it is still the deployment's chain.
        self.check_identity(force=True)
        # Walk back through the block hashes we kept until the chain agrees with one.
        limit = self.config.max_reorg_depth
        floor = max(self.deployment.deployment_block, checkpoint - limit)
        known = [(n, h) for n, h in self.store.known_blocks(checkpoint, limit=limit + 1) if n >= floor]
        on_chain = self.rpc.blocks([n for n, _ in known])
        ancestor = next((n for n, h in known if on_chain.get(n, (None,))[0] == h), None)
        if ancestor is None:
            raise ChainHistoryLost(
                f"the chain no longer has any block the mirror holds in the last {limit} blocks below {checkpoint}: "
                f"a reorganisation deeper than the limit of {limit} blocks"
            )
        log.warning("reorg: block %d changed; rolling back to %d", checkpoint, ancestor)
        self.store.rollback_to(ancestor)
        return ancestor

    def step(self, target: int) -> StepResult | None:
        """Index the next range up to ``target``; None when already there."""
        for _ in range(MAX_REORG_RETRIES):
            try:
                return self._step(target)
            except ReorgInProgress as exc:
                log.warning("%s: checking for a reorg and trying again", exc)
        raise ChainUnavailable("the chain keeps reorganising under the indexer")

    def _step(self, target: int) -> StepResult | None:
        reorg_to = self.check_reorg()
        checkpoint, checkpoint_hash = self.store.checkpoint()
        first = max(checkpoint + 1, self.deployment.deployment_block)
        if first > target:
            self._drop_prefetch()
            return StepResult(first, checkpoint, 0, 0, reorg_to) if reorg_to is not None else None
        fetched = self._take_prefetch(first, target)
        while fetched is None:
            last = min(target, first + self.span - 1)
            try:
                fetched = (last, self._fetch_logs(self.rpc, first, last))
            except RpcError as exc:
                if self.span <= self.config.min_span:
                    raise
                self.span = max(self.config.min_span, self.span // 2)
                log.info("eth_getLogs %d..%d refused (%s); span now %d", first, last, exc, self.span)
        last, (n_raw, logs) = fetched
        if reorg_to is None:
            last, n_raw, logs = self._extend(first, last, target, n_raw, logs)
        parent = (first - 1, checkpoint_hash) if checkpoint_hash is not None and first - 1 == checkpoint else None
        data = self._range_data(first, last, logs, parent)
        certs = data.certificate_count
        n_logs = len(logs)
        self.span = self._next_span(certs, n_raw, last - first + 1, last < target)
        if last < target and reorg_to is None:  # catching up: the next range's logs come while this one is written
            self._start_prefetch(last + 1, min(target, last + self.span))
        self.store.write(data)
        del logs, data
        if certs:
            release_memory()
        return StepResult(first, last, certs, n_logs, reorg_to)

    def _next_span(self, certs: int, n_raw: int, blocks: int, behind: bool) -> int:
        """The span in blocks after a range of ``blocks`` blocks that brought ``certs``
        certificates in ``n_raw`` logs: halved after a range heavier than the budget; while
        ranges stay light, grown to what the range's density says fills the budget (at most
        x16 at a time; x2 when it brought no certificates)."""
        budget = self.config.max_hashes_per_range
        if certs > budget:
            return max(self.config.min_span, self.span // 2)
        if behind and _light(certs, n_raw, budget):
            grow = min(MAX_SPAN_GROWTH, budget // certs) if certs else 2
            return min(self.config.max_span, max(self.span, blocks * max(2, grow)))
        return self.span

    def _extend(self, first: int, last: int, target: int, n_raw: int, logs: list[Log]) -> tuple[int, int, list[Log]]:
        """While catching up, a light range is extended by the blocks after it, before it is
        written, until it holds about the budget of certificates: each write spreads its hashes
        (random in value) over most of the certificates table, and writing into a table that
        is not empty is slower than filling an empty one, so a rebuild writes as few ranges as
        memory allows (a million certificates in one range rather than four: SQLite 4.9 -> 4.2 s,
        PostgreSQL 4.5 -> 3.7 s on one machine). Returns the range's last block, raw log count
        and logs."""
        certs = _certificate_count(logs)
        while last < target and _light(certs, n_raw, self.config.max_hashes_per_range):
            self.span = self._next_span(certs, n_raw, last - first + 1, True)
            upto = min(target, first + self.span - 1)
            if upto <= last:  # at the largest span allowed
                break
            try:
                more_raw, more = self._fetch_logs(self.rpc, last + 1, upto)
            except RpcError as exc:  # too much for the node at once: write what was read
                self.span = last - first + 1
                log.info("eth_getLogs %d..%d refused (%s); span now %d", last + 1, upto, exc, self.span)
                break
            last, n_raw, certs = upto, n_raw + more_raw, certs + _certificate_count(more)
            logs.extend(more)
        return last, n_raw, logs

    def _fetch_logs(self, rpc: RawRpc, first: int, last: int) -> tuple[int, list[Log]]:
        """The deployment's logs of blocks first..last, decoded: (raw log count, logs)."""
        raw_logs = rpc.logs(self.decoder.addresses, first, last)
        return len(raw_logs), [d for d in (self.decoder.decode(r) for r in raw_logs) if d is not None]

    # While catching up, the logs of the next range are fetched (and decoded) on a thread of
    # their own, over a connection of their own, while the database writes the current one:
    # the node's answer and the database's work overlap. Nothing is trusted for it: the range
    # is used only if it starts where the mirror's checkpoint then is, and its logs go through
    # the same block-hash checks against the chain as any others (_range_data).

    def _start_prefetch(self, first: int, last: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._drop_prefetch()
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certledger-prefetch")
            self._prefetch_rpc = RawRpc(self.rpc.url, timeout=self.config.rpc_timeout)
        rpc = self._prefetch_rpc
        assert rpc is not None
        self._prefetch = (first, last, self._prefetcher.submit(self._fetch_logs, rpc, first, last))

    def _take_prefetch(self, first: int, target: int) -> tuple[int, tuple[int, list[Log]]] | None:
        """The prefetched range if it starts at ``first`` and ends by ``target`` (else None,
        and the range is fetched again): any failure there is left to the direct fetch."""
        pending, self._prefetch = self._prefetch, None
        if pending is None:
            return None
        p_first, p_last, future = pending
        try:
            result = future.result()
        except Exception as exc:  # refused, timed out: the direct fetch decides what it means
            log.debug("prefetch of %d..%d failed: %s", p_first, p_last, exc)
            return None
        if p_first != first or p_last > target:
            return None
        return p_last, result

    def _drop_prefetch(self) -> None:
        pending, self._prefetch = self._prefetch, None
        if pending is not None:
            pending[2].cancel()

    def _close_prefetcher(self) -> None:
        self._drop_prefetch()
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=True, cancel_futures=True)
            self._prefetcher = None
        if self._prefetch_rpc is not None:
            self._prefetch_rpc.close()
            self._prefetch_rpc = None

    def _range_data(self, first: int, last: int, logs: list[Log], parent: tuple[int, bytes] | None) -> RangeData:
        # The range's last blocks too, so that a reorg near the head finds its exact ancestor.
        tail = set(range(max(first, last - self.config.max_reorg_depth + 1), last + 1))
        numbers = sorted({lg.block for lg in logs} | tail | ({parent[0]} if parent else set()))
        blocks = {}
        for i in range(0, len(numbers), 500):
            blocks.update(self.rpc.blocks(numbers[i : i + 500]))
        if last not in blocks:
            raise ReorgInProgress(f"node does not have block {last}")
        if parent is not None and blocks.get(parent[0], (None,))[0] != parent[1]:
            # the chain changed under the checkpoint since check_reorg looked
            raise ReorgInProgress(f"block {parent[0]} changed while indexing")
        for lg in logs:  # the hash the log came with is the block we index
            if lg.block in blocks and blocks[lg.block][0] != lg.block_hash:
                raise ReorgInProgress(f"block {lg.block} changed while indexing")
        own = {n: blocks[n] for n in numbers if n >= first}  # the parent is stored already
        data = RangeData(first, last, blocks[last][0], blocks=own)
        rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for lg in logs:
            base = {"block": lg.block, "log_index": lg.log_index, "tx": lg.tx, "time": blocks[lg.block][1]}
            a = lg.args
            e = lg.event
            if e == "BatchAnchored":
                tags = a["identifierTags"]
                agency = text_of(a["agency"])
                data.batches.append(
                    {
                        "root": a["root"],
                        "agency": agency,
                        "cert_type": text_of(a["certType"]),
                        "key": a["key"],
                        "size": len(a["certHashes"]) // 32,
                        "sm2_signature": a["sm2Signature"] or None,
                        "identifier_tags_hash": keccak(tags) if tags else None,
                        "hashes": a["certHashes"],
                        **base,
                    }
                )
                if tags:
                    words = a["certHashes"]
                    rows[s.identifier_tags].extend(
                        {
                            "tag": tags[16 * i : 16 * i + 16],
                            "agency": agency,
                            "cert_hash": words[32 * i : 32 * i + 32],
                            "root": a["root"],
                            **base,
                        }
                        for i in range(len(tags) // 16)
                        if any(tags[16 * i : 16 * i + 16])
                    )
            elif e in ("CertificateStatusChanged", "BatchStatusChanged"):
                rows[s.status_events].append(
                    {
                        "subject": a["certHash"] if e == "CertificateStatusChanged" else a["root"],
                        "kind": 0 if e == "CertificateStatusChanged" else 1,
                        "agency": text_of(a["agency"]),
                        "status": int(a["status"]),
                        "reason": text_of(a["reason"]),
                        "actor": a["actor"],
                        "role": int(a["role"]),
                        **base,
                        "time": int(a["time"]),
                    }
                )
            elif e == "HolderBound":
                rows[s.holder_events].append(
                    {
                        "agency": text_of(a["agency"]),
                        "cert_hash": bytes(a["certHash"]),
                        "key_hash": bytes(a["keyHash"]),
                        "actor": a["by"],
                        "role": int(a["role"]),
                        **base,
                    }
                )
            elif e in ("KeyAdded", "KeyRetired", "KeyCompromised", "KeyCompromiseCorrected", "KeyEnabled"):
                kind, field = {
                    "KeyAdded": ("added", "activeFrom"),
                    "KeyRetired": ("retired", "retiredAt"),
                    "KeyCompromised": ("compromised", "since"),
                    "KeyCompromiseCorrected": ("corrected", "since"),
                    "KeyEnabled": ("enabled", "epoch"),
                }[e]
                rows[s.key_events].append(
                    {
                        "address": a["key"],
                        "agency": text_of(a["agency"]),
                        "kind": kind,
                        "value": int(a[field]),
                        "actor": a.get("reporter"),
                        "role": int(a["role"]) if "role" in a else None,
                        "sm2_public_key": bytes(a["sm2PublicKey"]) or None if e == "KeyAdded" else None,
                        **base,
                    }
                )
            elif e == "AgencyRegistered":
                rows[s.agency_events].append(
                    {
                        "agency": text_of(a["agency"]),
                        "kind": "registered",
                        "region": int(a["region"]),
                        "cert_type": None,
                        "credit_code": None,
                        **base,
                    }
                )
            elif e == "AgencyTypeSet":
                rows[s.agency_events].append(
                    {
                        "agency": text_of(a["agency"]),
                        "kind": "type_allowed" if a["allowed"] else "type_forbidden",
                        "region": None,
                        "cert_type": text_of(a["typeId"]),
                        "credit_code": None,
                        **base,
                    }
                )
            elif e == "AgencySuspendedSet":
                rows[s.agency_events].append(
                    {
                        "agency": text_of(a["agency"]),
                        "kind": "suspended" if a["suspended"] else "reactivated",
                        "region": None,
                        "cert_type": None,
                        "credit_code": None,
                        **base,
                    }
                )
            elif e == "AgencyCreditCodeSet":
                rows[s.agency_events].append(
                    {
                        "agency": text_of(a["agency"]),
                        "kind": "credit_code",
                        "region": None,
                        "cert_type": None,
                        "credit_code": credit_code_text(a["creditCode"]),
                        **base,
                    }
                )
            elif e in ("RegionAdmitted", "RegionAdminAdded", "RegionAdminRemoved"):
                kind = {
                    "RegionAdmitted": "admitted",
                    "RegionAdminAdded": "admin_added",
                    "RegionAdminRemoved": "admin_removed",
                }[e]
                rows[s.region_events].append(
                    {
                        "region": int(a["region"]),
                        "kind": kind,
                        "admin": a["admin"],
                        "value": int(a["epoch"]) if "epoch" in a else None,
                        "value2": None,
                        **base,
                    }
                )
            elif e == "RegionRemoved":
                rows[s.region_events].append(
                    {
                        "region": int(a["region"]),
                        "kind": "removed",
                        "admin": None,
                        "value": int(a["cutoff"]),
                        "value2": None,
                        **base,
                    }
                )
            elif e == "QuorumRuleChanged":
                rows[s.region_events].append(
                    {
                        "region": 0,
                        "kind": "quorum",
                        "admin": None,
                        "value": int(a["numerator"]),
                        "value2": int(a["denominator"]),
                        **base,
                    }
                )
            elif e == "CertificateTypeAdded":
                rows[s.type_events].append(
                    {"cert_type": text_of(a["typeId"]), "schema_hash": a["schemaHash"], "schema": a["schema"], **base}
                )
            elif e in ("RecognitionSet", "RecognitionRemoved"):
                removed = e == "RecognitionRemoved"
                rows[s.recognition_events].append(
                    {
                        "verifier": int(a["verifier"]),
                        "cert_type": text_of(a["typeId"]),
                        "issuer": int(a["issuer"]),
                        "valid_from": 0 if removed else int(a["validFrom"]),
                        "valid_until": 0 if removed else int(a["validUntil"]),
                        "removed": removed,
                        **base,
                    }
                )
        data.rows = dict(rows)
        return data

    # -------------------------------------------------------------- loops

    def catch_up(self, progress: CatchUpProgress | None = None) -> int:
        """Index up to the current target block; returns the number of certificates mirrored.
        Raises ChainHistoryLost (having recorded why) when the node does not serve the
        deployment's chain."""
        try:
            return self._catch_up(progress)
        except ChainHistoryLost as exc:
            self._halt(str(exc))
            raise
        finally:
            self._close_prefetcher()

    def _catch_up(self, progress: CatchUpProgress | None) -> int:
        self.check_identity()
        target = self.target_block()
        total = 0
        while not self._stop.is_set():
            result = self.step(target)
            if result is None:
                break
            total += result.certificates
            if progress is not None:
                progress(result.last, target, total)
            if result.last >= target and result.reorg_to is None:
                break
        if total >= REFRESH_STATISTICS_AFTER:
            self.store.refresh_statistics()
        if self._had_error:
            self.store.set_status({"last_error": ""})
            self._had_error = False
        return total

    def run(self, progress: CatchUpProgress | None = None, *, until: Callable[[], bool] | None = None) -> None:
        """Catch up, then follow the head until stopped. An unreachable node or database is
        retried with exponential backoff; the error is kept in the mirror for /healthz."""
        delay = self.config.backoff_min
        while not self._stop.is_set() and not (until and until()):
            try:
                self.catch_up(progress)
                delay = self.config.backoff_min
                self._stop.wait(self.config.poll_interval)
            except ChainHistoryLost:
                # Recorded by catch_up; keep checking (the node may be restored), slowly.
                self._stop.wait(self.config.identity_interval)
            except (ChainUnavailable, SQLAlchemyError) as exc:
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("indexer: %s; retrying in %.1f s", message, delay)
                self._had_error = True
                try:
                    self.store.set_status({"last_error": message, "last_error_at": int(time.time())})
                except SQLAlchemyError:  # the database may be the thing that is down
                    pass
                self._stop.wait(delay)
                delay = min(self.config.backoff_max, delay * 2)

    def stop(self) -> None:
        self._stop.set()
