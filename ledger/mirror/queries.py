"""Reading the mirror: what verification and the API ask of it.

All "as of" questions are answered from the event tables: the state at time ``t`` is the
latest event at or before ``t``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..contracts import KeyState, Status
from ..ids import iso_time
from . import schema as s
from .store import MirrorStore


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


class MirrorQueries:
    def __init__(self, store: MirrorStore) -> None:
        self.store = store
        self.engine = store.engine

    # -------------------------------------------------------------- head

    def head(self) -> MirrorHead:
        with self.engine.connect() as conn:
            meta = self.store.meta(conn)
            block = int(meta.get("checkpoint_block", -1))
            row = conn.execute(select(s.blocks.c.time).where(s.blocks.c.number == block)).first()
        h = meta.get("checkpoint_hash") or ""
        head = meta.get("chain_head")
        seen = meta.get("chain_head_seen_at")
        return MirrorHead(
            block, bytes.fromhex(h) if h else None, int(row[0]) if row else None,
            int(head) if head else None, int(seen) if seen else None, meta.get("last_error", ""),
        )

    # -------------------------------------------------------------- certificates and batches

    def _region_of(self, conn: Any, agency: str) -> int | None:
        return conn.execute(
            select(s.agency_events.c.region).where(
                s.agency_events.c.agency == agency, s.agency_events.c.kind == "registered"
            )
        ).scalar()

    def certificate(self, cert_hash: bytes) -> CertificateRecord | None:
        b = s.batches
        with self.engine.connect() as conn:
            row = conn.execute(
                select(b.c.root, b.c.agency, b.c.cert_type, b.c.key, b.c.size, b.c.block, b.c.tx, b.c.time)
                .select_from(s.certificates.join(b, s.certificates.c.batch_id == b.c.id))
                .where(s.certificates.c.hash == cert_hash)
            ).first()
            if row is None:
                return None
            region = self._region_of(conn, row.agency)
        return CertificateRecord(
            bytes(cert_hash), bytes(row.root), row.agency, row.cert_type, row.key, row.size, row.block,
            bytes(row.tx), row.time, region,
        )

    def batch(self, root: bytes) -> BatchRecord | None:
        b = s.batches
        with self.engine.connect() as conn:
            row = conn.execute(select(b).where(b.c.root == root)).first()
            if row is None:
                return None
            region = self._region_of(conn, row.agency)
        return BatchRecord(bytes(row.root), row.agency, row.cert_type, row.key, row.size, row.block, bytes(row.tx), row.time, region)

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

    def _latest_status(self, conn: Any, subject: bytes, kind: int, agency: str, at: int | None, block: int | None) -> StatusEvent | None:
        e = s.status_events
        q = select(e).where(e.c.subject == subject, e.c.kind == kind, e.c.agency == agency)
        if at is not None:
            q = q.where(e.c.time <= at)
        if block is not None:
            q = q.where(e.c.block <= block)
        row = conn.execute(q.order_by(e.c.block.desc(), e.c.log_index.desc()).limit(1)).first()
        return _status_event(row) if row else None

    def status_as_of(
        self, cert_hash: bytes, agency: str, root: bytes, *, at: int | None = None, block: int | None = None
    ) -> StatusAt:
        """The effective status of a certificate at a time or block (None = now): REVOKED if
        it or its batch is revoked, else SUSPENDED if either is suspended, else ACTIVE."""
        with self.engine.connect() as conn:
            cert = self._latest_status(conn, cert_hash, 0, agency, at, block)
            whole = self._latest_status(conn, root, 1, agency, at, block)
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
        k = s.key_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(k).where(k.c.address == address).order_by(k.c.block, k.c.log_index)).all()
        if not rows:
            return None
        active_from = retired_at = compromised = 0
        for r in rows:
            if r.kind == "added":
                active_from = r.value
            elif r.kind == "retired":
                retired_at = r.value
            elif r.kind == "compromised":
                compromised = r.value
        return KeyRecord(address, rows[0].agency, active_from, retired_at, compromised)

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
        now = int(time.time())
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

    def _rule(self, conn: Any, verifier: int, cert_type: str, issuer: int, at: int) -> dict[str, Any] | None:
        e = s.recognition_events
        row = conn.execute(
            select(e)
            .where(e.c.verifier == verifier, e.c.cert_type == cert_type, e.c.issuer == issuer, e.c.time <= at)
            .order_by(e.c.block.desc(), e.c.log_index.desc())
            .limit(1)
        ).first()
        if row is None or row.removed:
            return None
        if at < row.valid_from or (row.valid_until and at >= row.valid_until):
            return None
        return {"verifier_region": verifier, "type": cert_type, "issuer_region": issuer or "any",
                "valid_from": iso_time(row.valid_from), "valid_until": iso_time(row.valid_until)}

    def recognition(self, verifier: int, cert_type: str, issuer: int, at: int) -> dict[str, Any] | None:
        """The rule by which ``verifier`` recognises ``cert_type`` from ``issuer`` at ``at``,
        as the contract's isRecognized (a region recognises its own), or None."""
        if verifier == issuer:
            return {"verifier_region": verifier, "type": cert_type, "issuer_region": issuer, "rule": "own region"}
        with self.engine.connect() as conn:
            return self._rule(conn, verifier, cert_type, issuer, at) or self._rule(conn, verifier, cert_type, 0, at)

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
