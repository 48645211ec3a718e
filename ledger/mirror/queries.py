"""Reading the mirror: what verification and the API ask of it.

All "as of" questions are answered from the event tables: the state at time ``t`` is the
latest event at or before ``t``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..contracts import KeyState, Status
from ..ids import iso_time
from . import schema as s
from .store import MirrorStore, make_engine


@dataclass(frozen=True)
class CertificateRecord:
    hash: bytes
    root: bytes
    agency: str
    cert_type: str
    key: str
    batch_size: int
    block: int
    tx: bytes
    time: int
    issuer_region: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": "0x" + self.hash.hex(),
            "type": self.cert_type,
            "issuer_region": self.issuer_region,
            "agency": self.agency,
            "batch_root": "0x" + self.root.hex(),
            "anchored_at": {"block": self.block, "tx": "0x" + self.tx.hex(), "time": iso_time(self.time)},
        }


@dataclass(frozen=True)
class BatchRecord:
    root: bytes
    agency: str
    cert_type: str
    key: str
    size: int
    block: int
    tx: bytes
    time: int
    issuer_region: int | None


@dataclass(frozen=True)
class StatusEvent:
    subject: bytes
    scope: str  # "certificate" or "batch"
    agency: str
    status: Status
    reason: str
    actor: str
    block: int
    tx: bytes
    time: int

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "subject": "0x" + self.subject.hex(),
            "status": self.status.name,
            "reason": self.reason,
            "actor": self.actor,
            "time": iso_time(self.time),
            "block": self.block,
            "tx": "0x" + self.tx.hex(),
        }


@dataclass(frozen=True)
class StatusAt:
    status: Status
    event: StatusEvent | None  # the event that set it (None: never changed, ACTIVE)


@dataclass(frozen=True)
class KeyRecord:
    address: str
    agency: str
    active_from: int
    retired_at: int
    compromised_since: int

    def state_at(self, at: int) -> KeyState:
        """As the contract's keyStateAt."""
        if self.compromised_since and at >= self.compromised_since:
            return KeyState.COMPROMISED
        if at < self.active_from:
            return KeyState.NOT_YET_ACTIVE
        if self.retired_at and at >= self.retired_at:
            return KeyState.RETIRED
        return KeyState.ACTIVE


@dataclass(frozen=True)
class MirrorHead:
    block: int
    block_hash: bytes | None
    block_time: int | None
    chain_head: int | None
    chain_head_seen_at: int | None
    last_error: str

    @property
    def lag_blocks(self) -> int | None:
        return None if self.chain_head is None else max(0, self.chain_head - self.block)


def _status_event(row: Any) -> StatusEvent:
    return StatusEvent(
        bytes(row.subject), "certificate" if row.kind == 0 else "batch", row.agency, Status(row.status),
        row.reason, row.actor, row.block, bytes(row.tx), row.time,
    )


class _Reader:
    """Plain SQL on raw driver connections from a small pool of its own: the verification
    hot path costs tens of microseconds per query instead of SQLAlchemy's statement building,
    and any number of threads share at most ``size`` connections."""

    def __init__(self, store: MirrorStore, size: int = 8) -> None:
        self.postgres = store.dialect == "postgresql"
        self._engine = make_engine(store.url, pooled=False)
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._open = 0
        self._size = size
        self._lock = threading.Lock()

    def _acquire(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._open < self._size:
                self._open += 1
                try:
                    conn = self._engine.raw_connection()
                except Exception:
                    self._open -= 1
                    raise
                if self.postgres:
                    conn.driver_connection.autocommit = True  # plain reads: no idle transactions
                return conn
        return self._idle.get(timeout=30)

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self.postgres:
            sql = sql.replace("?", "%s")
        conn = self._acquire()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            out = cur.fetchall()
            cur.close()
        except Exception:
            with self._lock:
                self._open -= 1
            try:
                conn.invalidate()
            except Exception:  # already gone
                pass
            raise
        self._idle.put(conn)
        return out

    def one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None


CACHE_SECONDS = 0.1  # how long the checkpoint read by head() is trusted before it is read again


class MirrorQueries:
    def __init__(self, store: MirrorStore) -> None:
        self.store = store
        self.engine = store.engine
        self.read = _Reader(store)
        # Keys, agency regions and recognition rules change only with new blocks: cached per
        # mirror checkpoint, dropped as soon as the checkpoint moves.
        self._cache: dict[Any, Any] = {}
        self._cache_block: tuple[int, str] | None = None
        self._checked_at = 0.0
        self._head: MirrorHead | None = None

    def _fresh(self) -> None:
        if time.monotonic() - self._checked_at > CACHE_SECONDS:
            self.head()

    def _cached(self, key: Any, compute: Any) -> Any:
        self._fresh()
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # -------------------------------------------------------------- head

    def head(self) -> MirrorHead:
        if self._head is not None and time.monotonic() - self._checked_at <= CACHE_SECONDS:
            return self._head
        meta = dict(self.read.rows("SELECT key, value FROM meta", ()))
        block = int(meta.get("checkpoint_block", -1))
        row = self.read.one("SELECT time FROM blocks WHERE number = ?", (block,))
        h = meta.get("checkpoint_hash") or ""
        head = meta.get("chain_head")
        seen = meta.get("chain_head_seen_at")
        result = MirrorHead(
            block, bytes.fromhex(h) if h else None, int(row[0]) if row else None,
            int(head) if head else None, int(seen) if seen else None, meta.get("last_error", ""),
        )
        if (block, h) != self._cache_block:  # the hash too: a reorg may keep the height
            self._cache = {}
            self._cache_block = (block, h)
        self._head, self._checked_at = result, time.monotonic()
        return result

    # -------------------------------------------------------------- certificates and batches

    def region_of(self, agency: str) -> int | None:
        def compute() -> int | None:
            row = self.read.one("SELECT region FROM agency_events WHERE agency = ? AND kind = 'registered'", (agency,))
            return int(row[0]) if row else None

        return self._cached(("region", agency), compute)

    _BATCH_COLUMNS = "b.root, b.agency, b.cert_type, b.key, b.size, b.block, b.tx, b.time"

    def certificate(self, cert_hash: bytes) -> CertificateRecord | None:
        row = self.read.one(
            f"SELECT {self._BATCH_COLUMNS} FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ? "
            "ORDER BY b.id LIMIT 1",  # a hash anchored twice: its first anchoring
            (bytes(cert_hash),),
        )
        if row is None:
            return None
        root, agency, cert_type, key, size, block, tx, t = row
        return CertificateRecord(
            bytes(cert_hash), bytes(root), agency, cert_type, key, size, block, bytes(tx), t, self.region_of(agency)
        )

    def in_batch(self, root: bytes, cert_hash: bytes) -> bool:
        """Whether the batch with this root lists the certificate hash."""
        return self.read.one(
            "SELECT 1 FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ? AND b.root = ?",
            (bytes(cert_hash), bytes(root)),
        ) is not None

    def batch(self, root: bytes) -> BatchRecord | None:
        row = self.read.one(f"SELECT {self._BATCH_COLUMNS} FROM batches b WHERE b.root = ?", (bytes(root),))
        if row is None:
            return None
        r, agency, cert_type, key, size, block, tx, t = row
        return BatchRecord(bytes(r), agency, cert_type, key, size, block, bytes(tx), t, self.region_of(agency))

    def batch_hashes(self, root: bytes) -> list[bytes]:
        b = s.batches
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.certificates.c.hash)
                .select_from(s.certificates.join(b, s.certificates.c.batch_id == b.c.id))
                .where(b.c.root == root)
            )
            return [bytes(r[0]) for r in rows]

    def certificate_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.certificates)).scalar() or 0)

    # -------------------------------------------------------------- status

    _STATUS_COLUMNS = "subject, kind, agency, status, reason, actor, block, tx, time"

    def _latest_status(self, subject: bytes, kind: int, agency: str, at: int | None, block: int | None) -> StatusEvent | None:
        sql = f"SELECT {self._STATUS_COLUMNS} FROM status_events WHERE subject = ? AND kind = ? AND agency = ?"
        params: tuple[Any, ...] = (bytes(subject), kind, agency)
        if at is not None:
            sql += " AND time <= ?"
            params += (int(at),)
        if block is not None:
            sql += " AND block <= ?"
            params += (int(block),)
        row = self.read.one(sql + " ORDER BY block DESC, log_index DESC LIMIT 1", params)
        if row is None:
            return None
        subj, k, ag, status, reason, actor, blk, tx, t = row
        return StatusEvent(bytes(subj), "certificate" if k == 0 else "batch", ag, Status(status), reason, actor, blk, bytes(tx), t)

    def status_as_of(
        self, cert_hash: bytes, agency: str, root: bytes, *, at: int | None = None, block: int | None = None
    ) -> StatusAt:
        """The effective status of a certificate at a time or block (None = now): REVOKED if
        it or its batch is revoked, else SUSPENDED if either is suspended, else ACTIVE."""
        cert = self._latest_status(cert_hash, 0, agency, at, block)
        whole = self._latest_status(root, 1, agency, at, block)
        for wanted in (Status.REVOKED, Status.SUSPENDED):
            for ev in (cert, whole):
                if ev is not None and ev.status is wanted:
                    return StatusAt(wanted, ev)
        return StatusAt(Status.ACTIVE, cert or whole)

    def history(self, cert_hash: bytes) -> list[StatusEvent]:
        """Every status change of the certificate and of its batch, oldest first."""
        record = self.certificate(cert_hash)
        e = s.status_events
        cond = and_(e.c.subject == cert_hash, e.c.kind == 0)
        if record is not None:
            cond = and_(e.c.agency == record.agency, or_(cond, and_(e.c.subject == record.root, e.c.kind == 1)))
        with self.engine.connect() as conn:
            rows = conn.execute(select(e).where(cond).order_by(e.c.block, e.c.log_index))
            return [_status_event(r) for r in rows]

    # -------------------------------------------------------------- keys and agencies

    def key(self, address: str) -> KeyRecord | None:
        def compute() -> KeyRecord | None:
            rows = self.read.rows(
                "SELECT agency, kind, value FROM key_events WHERE address = ? ORDER BY block, log_index", (address,)
            )
            if not rows:
                return None
            values = {"added": 0, "retired": 0, "compromised": 0}
            for _, kind, value in rows:
                values[kind] = int(value)
            return KeyRecord(address, rows[0][0], values["added"], values["retired"], values["compromised"])

        return self._cached(("key", address), compute)

    def agency(self, code: str, at: int | None = None) -> dict[str, Any] | None:
        """An agency's region, suspension and allowed types at time ``at`` (None = now)."""
        a = s.agency_events
        q = select(a).where(a.c.agency == code)
        if at is not None:
            q = q.where(a.c.time <= at)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(a.c.block, a.c.log_index)).all()
            keys = conn.execute(select(s.key_events.c.address).where(s.key_events.c.agency == code, s.key_events.c.kind == "added").order_by(s.key_events.c.block)).all()
        if not rows or rows[0].kind != "registered":
            return None
        suspended = False
        types: dict[str, bool] = {}
        for r in rows:
            if r.kind == "suspended":
                suspended = True
            elif r.kind == "reactivated":
                suspended = False
            elif r.kind in ("type_allowed", "type_forbidden"):
                types[r.cert_type] = r.kind == "type_allowed"
        return {
            "agency": code,
            "region": rows[0].region,
            "suspended": suspended,
            "registered_at": iso_time(rows[0].time),
            "types": sorted(t for t, ok in types.items() if ok),
            "keys": [r[0] for r in keys],
        }

    def agencies(self) -> list[dict[str, Any]]:
        a = s.agency_events
        with self.engine.connect() as conn:
            codes = [r[0] for r in conn.execute(select(a.c.agency).where(a.c.kind == "registered").order_by(a.c.block, a.c.log_index))]
        out = []
        head = self.head()
        now = head.block_time or int(time.time())  # key states as of the chain's own clock
        for code in codes:
            info = self.agency(code)
            if info is None:
                continue
            keys = []
            for address in info.pop("keys"):
                k = self.key(address)
                if k is not None:
                    keys.append({
                        "address": address,
                        "active_from": iso_time(k.active_from),
                        "retired_at": iso_time(k.retired_at),
                        "compromised_since": iso_time(k.compromised_since),
                        "state": k.state_at(now).name,
                    })
            out.append({**info, "keys": keys})
        return out

    # -------------------------------------------------------------- regions, types, recognition

    def regions(self) -> dict[str, Any]:
        r = s.region_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(r).order_by(r.c.block, r.c.log_index)).all()
        regions: dict[int, dict[str, Any]] = {}
        quorum = None
        for row in rows:
            if row.kind == "quorum":
                quorum = row.value
                continue
            info = regions.setdefault(row.region, {"region": row.region, "member": False, "admitted_at": None, "removed_at": None, "admins": []})
            if row.kind == "admitted":
                info.update(member=True, admitted_at=iso_time(row.time), removed_at=None, admins=[row.admin])
            elif row.kind == "removed":
                info.update(member=False, removed_at=iso_time(row.time), admins=[])
            elif row.kind == "admin_added":
                info["admins"].append(row.admin)
            elif row.kind == "admin_removed" and row.admin in info["admins"]:
                info["admins"].remove(row.admin)
        members = [x for x in regions.values() if x["member"]]
        return {"quorum": quorum, "members": len(members), "regions": list(regions.values())}

    def is_member(self, region: int, at: int | None = None) -> bool:
        r = s.region_events
        q = select(r.c.kind).where(r.c.region == region, r.c.kind.in_(("admitted", "removed")))
        if at is not None:
            q = q.where(r.c.time <= at)
        with self.engine.connect() as conn:
            last = conn.execute(q.order_by(r.c.block.desc(), r.c.log_index.desc()).limit(1)).scalar()
        return last == "admitted"

    def types(self) -> list[dict[str, Any]]:
        t = s.type_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.block, t.c.log_index)).all()
        return [
            {"type": r.cert_type, "schema_hash": "0x" + bytes(r.schema_hash).hex(), "schema": json.loads(r.schema),
             "added_at": iso_time(r.time)}
            for r in rows
        ]

    def _rule_events(self, verifier: int, cert_type: str, issuer: int) -> list[tuple[Any, ...]]:
        return self._cached(
            ("rule", verifier, cert_type, issuer),
            lambda: self.read.rows(
                "SELECT time, removed, valid_from, valid_until FROM recognition_events "
                "WHERE verifier = ? AND cert_type = ? AND issuer = ? ORDER BY block, log_index",
                (verifier, cert_type, issuer),
            ),
        )

    def _rule(self, verifier: int, cert_type: str, issuer: int, at: int, latest: bool) -> dict[str, Any] | None:
        current = None
        for t, removed, valid_from, valid_until in self._rule_events(verifier, cert_type, issuer):
            if t > at and not latest:
                break
            current = None if removed else (valid_from, valid_until)
        if current is None:
            return None
        valid_from, valid_until = current
        if at < valid_from or (valid_until and at >= valid_until):
            return None
        return {"verifier_region": verifier, "type": cert_type, "issuer_region": issuer or "any",
                "valid_from": iso_time(valid_from), "valid_until": iso_time(valid_until)}

    def recognition(
        self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False
    ) -> dict[str, Any] | None:
        """The rule by which ``verifier`` recognises ``cert_type`` from ``issuer`` at ``at``,
        as the contract's isRecognized (a region recognises its own), or None. ``latest``:
        by the rules in force now, else by the rules as they stood at ``at``."""
        if verifier == issuer:
            return {"verifier_region": verifier, "type": cert_type, "issuer_region": issuer, "rule": "own region"}
        return self._rule(verifier, cert_type, issuer, at, latest) or self._rule(verifier, cert_type, 0, at, latest)

    def recognitions(self) -> list[dict[str, Any]]:
        e = s.recognition_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(e).order_by(e.c.block, e.c.log_index)).all()
        rules: dict[tuple[int, str, int], dict[str, Any]] = {}
        for r in rows:
            key = (r.verifier, r.cert_type, r.issuer)
            if r.removed:
                rules.pop(key, None)
            else:
                rules[key] = {"verifier_region": r.verifier, "type": r.cert_type, "issuer_region": r.issuer or "any",
                              "valid_from": iso_time(r.valid_from) or "always", "valid_until": iso_time(r.valid_until)}
        return [rules[k] for k in sorted(rules, key=lambda k: (k[0], k[1], k[2]))]
