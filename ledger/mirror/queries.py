"""Reading the mirror: what verification and the API ask of it.

All "as of" questions are answered from the event tables: the state at time ``t`` is the
latest event at or before ``t``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select

from ..contracts import KeyState, Role, Status
from ..ids import iso_time
from ..rules import effective_status, in_void_window, key_state_at, rule_window_in_force
from . import schema as s
from .store import READER_POOL_SIZE, MirrorStore, make_reader_engine


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
    sm2_signature: bytes | None = None  # the batch's SM2 signature (sm suite)
    identifier_tags_hash: bytes | None = None  # keccak256 of the batch's identifier tags; None: none
    status_now: StatusAt | None = None  # its status at the mirror's head, when read along (lookup)

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
    sm2_signature: bytes | None = None  # the batch's SM2 signature (sm suite)
    identifier_tags_hash: bytes | None = None  # keccak256 of the batch's identifier tags; None: none
    # read along with the batch for one certificate (anchoring): whether the batch lists it, and
    # its status at the mirror's head
    listed: bool | None = None
    status_now: StatusAt | None = None


@dataclass(frozen=True)
class HashLookup:
    """What the mirror knows of a certificate hash: the anchoring a verification uses (within
    one agency), and every agency that anchored the hash. With several agencies and none named,
    ``record`` is None: the hash alone does not say whose certificate it is."""

    record: CertificateRecord | None
    agencies: tuple[str, ...]

    @property
    def ambiguous(self) -> bool:
        return self.record is None and len(self.agencies) > 1


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
    role: Role = Role.AGENCY_KEY

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "subject": "0x" + self.subject.hex(),
            "status": self.status.name,
            "reason": self.reason,
            "actor": self.actor,
            "role": self.role.name,
            "time": iso_time(self.time),
            "block": self.block,
            "tx": "0x" + self.tx.hex(),
        }


@dataclass(frozen=True)
class StatusAt:
    status: Status
    event: StatusEvent | None  # the event that set it (None: never changed, ACTIVE)
    role: Role | None = None  # who set it, when known without an event (the chain's views)

    @property
    def by(self) -> Role | None:
        return self.event.role if self.event is not None else self.role


@dataclass(frozen=True)
class KeyRecord:
    address: str
    agency: str
    active_from: int
    retired_at: int
    compromised_since: int
    sm2_public_key: bytes = b""  # the SM2 public key (x || y) registered with the address

    def state_at(self, at: int) -> KeyState:
        """As the contract's keyStateAt."""
        return key_state_at(self.active_from, self.retired_at, self.compromised_since, at)


@dataclass(frozen=True)
class MirrorHead:
    block: int
    block_hash: bytes | None
    block_time: int | None
    chain_head: int | None
    chain_head_seen_at: int | None
    last_error: str
    chain_problem: str = ""  # set by the indexer when the node does not serve the deployment's chain

    @property
    def lag_blocks(self) -> int | None:
        return None if self.chain_head is None else max(0, self.chain_head - self.block)


@dataclass(frozen=True)
class RegionView:
    """A region ever admitted, as the mirror knows it (times are unix seconds, 0 = never)."""

    region: int
    member: bool
    admitted_at: int
    removed_at: int
    cutoff: int  # the last removal's cut-off: its anchors from then on are void (0: none)
    epoch: int  # how many times it has been removed
    admins: tuple[str, ...]


@dataclass(frozen=True)
class Membership:
    """The consortium's members and its quorum: approvals from more than ``rule`` of the
    members (numerator, denominator), which takes ``quorum`` approvals now."""

    quorum: int | None
    rule: tuple[int, int] | None
    members: int
    regions: tuple[RegionView, ...]


@dataclass(frozen=True)
class KeyView:
    address: str
    active_from: int
    retired_at: int
    compromised_since: int
    state: KeyState  # as of the chain's clock
    enabled: bool  # may sign now


@dataclass(frozen=True)
class AgencyView:
    agency: str
    region: int
    suspended: bool
    enabled: bool  # may act: not suspended, its region a member, enabled after the region's last re-admission
    registered_at: int
    types: tuple[str, ...]
    keys: tuple[str, ...]  # key addresses, in the order they were added


@dataclass(frozen=True)
class AgencyListing:
    agency: AgencyView
    keys: tuple[KeyView, ...]


@dataclass(frozen=True)
class TypeView:
    type: str
    schema_hash: bytes
    schema: dict[str, Any]
    added_at: int


@dataclass(frozen=True)
class RuleView:
    """``verifier`` recognises ``type`` issued in ``issuer`` (None: any region) from
    ``valid_from`` (0: always) until ``valid_until`` (0: open-ended); ``own_region``: a region
    always recognises its own certificates."""

    verifier: int
    type: str
    issuer: int | None
    valid_from: int
    valid_until: int
    own_region: bool = False


def schema_field_names(schema: str | dict[str, Any]) -> frozenset[str]:
    """The field names a type's schema JSON declares (``{"fields": [{"name": ...}, ...]}``)."""
    data = json.loads(schema) if isinstance(schema, str) else schema
    fields = data.get("fields", []) if isinstance(data, dict) else []
    return frozenset(f["name"] for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str))


def _status_of_row(row: tuple[Any, ...]) -> StatusEvent:
    """A StatusEvent from a plain row of MirrorQueries._STATUS_COLUMNS (the raw readers')."""
    subject, kind, agency, status, reason, actor, block, tx, t, role = row[:10]
    return StatusEvent(
        bytes(subject),
        "certificate" if kind == 0 else "batch",
        agency,
        Status(status),
        reason,
        actor,
        block,
        bytes(tx),
        t,
        Role(role),
    )


def _effective(cert: StatusEvent | None, whole: StatusEvent | None) -> StatusAt:
    """The certificate's status from its own latest event and its batch's (rules.effective_status)."""
    status, event = effective_status(
        (cert.status if cert else Status.ACTIVE, cert), (whole.status if whole else Status.ACTIVE, whole)
    )
    return StatusAt(status, event)


class _Reader:
    """Plain SQL on the raw driver connections of SQLAlchemy's pool (``make_reader_engine``):
    the verification hot path costs tens of microseconds per query instead of SQLAlchemy's
    statement building, and any number of threads share at most ``size`` connections.

    A read that fails discards its connection. When it failed because the connection was gone
    (a restarted or failed-over server, a terminated session), the pool's other idle
    connections of that age are dropped too and the read runs once more on a new connection:
    reads change nothing, so repeating one is safe, and a server that came back costs no
    failed request."""

    def __init__(self, store: MirrorStore, size: int = READER_POOL_SIZE) -> None:
        self.postgres = store.dialect == "postgresql"
        self.engine = make_reader_engine(store.url, size=size)
        self._error: type[Exception] = self.engine.dialect.loaded_dbapi.Error

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The statement's rows (``?`` placeholders): every read is one statement, so one round
        trip to a server."""
        if self.postgres:
            sql = sql.replace("?", "%s")
        try:
            return self._read(sql, params)
        except _Disconnected as gone:
            # the connection was gone: so are the pool's others of that age; read again once
            self.engine.pool._invalidate(gone.conn, gone.error)
        try:
            return self._read(sql, params)
        except _Disconnected as again:
            raise again.error from None

    def one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self.engine.raw_connection()
        cur = None
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            out: list[tuple[Any, ...]] = cur.fetchall()  # type: ignore[assignment]  # DBAPI rows are tuples
            cur.close()
        except Exception as exc:
            gone = isinstance(exc, self._error) and self.engine.dialect.is_disconnect(
                exc,  # type: ignore[arg-type]  # a DBAPI error (checked just before)
                conn.dbapi_connection,
                cur,
            )
            try:
                conn.invalidate(exc)  # never handed out again
            except Exception:  # already gone
                pass
            if gone:
                raise _Disconnected(conn, exc) from exc
            raise
        conn.close()  # back to the pool
        return out

    def close(self) -> None:
        self.engine.dispose()


class _Disconnected(Exception):
    """A read failed because its connection was gone (``error``: the driver's)."""

    def __init__(self, conn: Any, error: Exception) -> None:
        super().__init__(str(error))
        self.conn, self.error = conn, error


CACHE_SECONDS = 0.1  # how long the checkpoint read by head() is trusted before it is read again
CACHE_ENTRIES = 100_000  # answers kept per checkpoint at most: beyond, reads are not cached


class MirrorQueries:
    def __init__(self, store: MirrorStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock  # when head() last read the checkpoint (CACHE_SECONDS); tests move it by hand
        self.engine = store.engine
        self.read = _Reader(store)
        # Keys, agency regions, recognition rules and holder bindings change only with new
        # blocks: cached per mirror checkpoint, dropped as soon as the checkpoint moves.
        self._cache: dict[Any, Any] = {}
        self._cache_block: tuple[int, str] | None = None
        self._checked_at = 0.0
        self._head: MirrorHead | None = None

    def close(self) -> None:
        """Close the readers' connections (the store's own engine is the store's to dispose)."""
        self.read.close()

    def _fresh(self) -> None:
        if self._clock() - self._checked_at > CACHE_SECONDS:
            self.head()

    def _cached(self, key: Any, compute: Any) -> Any:
        self._fresh()
        if key not in self._cache:
            if len(self._cache) >= CACHE_ENTRIES:  # many certificates asked about while no block came
                return compute()
            self._cache[key] = compute()
        return self._cache[key]

    # -------------------------------------------------------------- head

    def head(self) -> MirrorHead:
        if self._head is not None and self._clock() - self._checked_at <= CACHE_SECONDS:
            return self._head
        meta = dict(self.read.rows("SELECT key, value FROM meta", ()))
        block = int(meta.get("checkpoint_block", -1))
        row = self.read.one("SELECT time FROM blocks WHERE number = ?", (block,))
        h = meta.get("checkpoint_hash") or ""
        head = meta.get("chain_head")
        seen = meta.get("chain_head_seen_at")
        result = MirrorHead(
            block,
            bytes.fromhex(h) if h else None,
            int(row[0]) if row else None,
            int(head) if head else None,
            int(seen) if seen else None,
            meta.get("last_error", ""),
            meta.get("chain_problem", ""),
        )
        if (block, h) != self._cache_block:  # the hash too: a reorg may keep the height
            self._cache = {}
            self._cache_block = (block, h)
        self._head, self._checked_at = result, self._clock()
        return result

    # -------------------------------------------------------------- certificates and batches

    def region_of(self, agency: str) -> int | None:
        def compute() -> int | None:
            row = self.read.one("SELECT region FROM agency_events WHERE agency = ? AND kind = 'registered'", (agency,))
            return int(row[0]) if row else None

        return self._cached(("region", agency), compute)

    _BATCH_COLUMNS = (
        "b.id, b.root, b.agency, b.cert_type, b.key, b.size, b.block, b.tx, b.time, b.sm2_signature, "
        "b.identifier_tags_hash"
    )

    def _batch_record(self, row: tuple[Any, ...]) -> BatchRecord:
        _, root, agency, cert_type, key, size, block, tx, t, sm2, tags = row
        return BatchRecord(
            bytes(root),
            agency,
            cert_type,
            key,
            size,
            block,
            bytes(tx),
            t,
            self.region_of(agency),
            bytes(sm2) if sm2 is not None else None,
            bytes(tags) if tags is not None else None,
        )

    def lookup(self, cert_hash: bytes, agency: str | None = None) -> HashLookup:
        """Resolve a certificate hash within its issuing agency.

        Every anchoring of the hash is found; only those of ``agency`` count when it is given.
        When several agencies anchored the hash and none is named, nothing is chosen (another
        agency can copy a hash into a batch of its own: the hash alone cannot say whose it is).
        Within the agency, a re-anchored (agency, root) counts in its newest anchoring (as on
        chain), and the first anchoring that is not void (key compromised at anchoring, region
        removed with a cut-off before it) is used — else the newest, so that the verdict names
        why it is void.
        """
        h = bytes(cert_hash)
        rows: list[tuple[Any, ...]] = []  # each anchoring's batch, oldest first
        events: list[tuple[Any, ...]] = []  # the status events along, oldest first
        for row in self.read.rows(self._LOOKUP, (h, h, h)):
            if row[0] == 0:
                rows.append(row[1:12])
            else:
                events.append(row[12:])
        rows.sort(key=lambda r: r[0])  # by batch id
        events.sort(key=lambda e: (e[6], e[10]))  # by block and log index
        agencies = tuple(dict.fromkeys(r[2] for r in rows))
        if agency is not None:
            rows = [r for r in rows if r[2] == agency]
        elif len(agencies) > 1:
            return HashLookup(None, agencies)
        if not rows:
            return HashLookup(None, agencies)
        newest: dict[bytes, tuple[Any, ...]] = {}
        for r in rows:  # ordered by id: later anchorings of the same root replace earlier ones
            newest[bytes(r[1])] = r
        candidates = sorted(newest.values(), key=lambda r: r[0])
        chosen = next((r for r in candidates if self.void_reason(r[2], r[4], r[8]) is None), candidates[-1])
        b = self._batch_record(chosen)
        record = CertificateRecord(
            h,
            b.root,
            b.agency,
            b.cert_type,
            b.key,
            b.size,
            b.block,
            b.tx,
            b.time,
            b.issuer_region,
            b.sm2_signature,
            b.identifier_tags_hash,
            self._status_now(events, h, b.agency, b.root),
        )
        return HashLookup(record, agencies)

    def certificate(self, cert_hash: bytes, agency: str | None = None) -> CertificateRecord | None:
        """The anchoring a verification of this hash uses (see ``lookup``), or None."""
        return self.lookup(cert_hash, agency).record

    def void_reason(self, agency: str, key: str, anchored_at: int) -> str | None:
        """Why an anchoring is void, or None: "KEY_COMPROMISED" (its key was compromised at or
        before it) or "REGION_REMOVED" (its region was removed with a cut-off at or before it)."""
        k = self.key(key)
        if k is not None and k.state_at(anchored_at) is KeyState.COMPROMISED:
            return "KEY_COMPROMISED"
        region = self.region_of(agency)
        if region is not None and self.region_void(region, anchored_at) is not None:
            return "REGION_REMOVED"
        return None

    def region_void(self, region: int, at: int) -> int | None:
        """The cut-off of the removal of ``region`` that voids an anchor made at ``at``, or None."""
        return in_void_window(self.void_windows(region), at)

    def void_windows(self, region: int) -> list[tuple[int, int]]:
        """(cutoff, removed_at) of the removals of ``region`` that voided anchors."""
        return self._cached(
            ("void", region),
            lambda: [
                (int(cutoff), int(t))
                for cutoff, t in self.read.rows(
                    "SELECT value, time FROM region_events WHERE region = ? AND kind = 'removed' ORDER BY block, log_index",
                    (region,),
                )
                if cutoff is not None and int(cutoff) < int(t)
            ],
        )

    def in_batch(self, agency: str, root: bytes, cert_hash: bytes) -> bool:
        """Whether the agency's batch with this root lists the certificate hash."""
        return (
            self.read.one(
                "SELECT 1 FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ? AND b.root = ? AND b.agency = ?",
                (bytes(cert_hash), bytes(root), agency),
            )
            is not None
        )

    def batch(self, agency: str, root: bytes) -> BatchRecord | None:
        """The agency's batch with this root (its newest anchoring), or None."""
        row = self.read.one(
            f"SELECT {self._BATCH_COLUMNS} FROM batches b WHERE b.agency = ? AND b.root = ? ORDER BY b.id DESC LIMIT 1",
            (agency, bytes(root)),
        )
        return None if row is None else self._batch_record(row)

    def anchoring(self, agency: str, root: bytes, cert_hash: bytes) -> BatchRecord | None:
        """As ``batch``, read in one round trip with whether the batch lists ``cert_hash`` and
        the certificate's status at the mirror's head (``listed``, ``status_now``)."""
        h, r = bytes(cert_hash), bytes(root)
        latest = f"{self._STATUS_OF} ORDER BY block DESC, log_index DESC LIMIT 1"
        row = self.read.one(  # one statement, one round trip
            f"SELECT {self._BATCH_COLUMNS}, "
            "EXISTS (SELECT 1 FROM certificates c JOIN batches l ON l.id = c.batch_id "
            "WHERE c.hash = ? AND l.root = ? AND l.agency = ?), "
            f"s0.*, s1.* FROM (SELECT * FROM batches WHERE agency = ? AND root = ? ORDER BY id DESC LIMIT 1) AS b "
            f"LEFT JOIN ({latest}) AS s0 ON 1 = 1 LEFT JOIN ({latest}) AS s1 ON 1 = 1",
            (h, r, agency, agency, r, h, 0, agency, r, 1, agency),
        )
        if row is None:
            return None
        cert_event, batch_event = row[12:22], row[22:32]
        return replace(
            self._batch_record(row[:11]),
            listed=bool(row[11]),
            status_now=_effective(
                _status_of_row(cert_event) if cert_event[0] is not None else None,
                _status_of_row(batch_event) if batch_event[0] is not None else None,
            ),
        )

    def batches_with_root(self, root: bytes) -> list[BatchRecord]:
        """Every agency's batch with this root (the newest anchoring of each), oldest first."""
        rows = self.read.rows(
            f"SELECT {self._BATCH_COLUMNS} FROM batches b WHERE b.root = ? ORDER BY b.id", (bytes(root),)
        )
        newest: dict[str, tuple[Any, ...]] = {}
        for r in rows:
            newest[r[2]] = r
        return [self._batch_record(r) for r in sorted(newest.values(), key=lambda r: r[0])]

    def batch_hashes(self, agency: str, root: bytes) -> list[bytes]:
        record = self.read.one(
            "SELECT id FROM batches WHERE agency = ? AND root = ? ORDER BY id DESC LIMIT 1", (agency, bytes(root))
        )
        if record is None:
            return []
        return [bytes(r[0]) for r in self.read.rows("SELECT hash FROM certificates WHERE batch_id = ?", (record[0],))]

    def certificate_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.certificates)).scalar() or 0)

    # -------------------------------------------------------------- status

    _STATUS_COLUMNS = "subject, kind, agency, status, reason, actor, block, tx, time, role"
    _STATUS_OF = f"SELECT {_STATUS_COLUMNS} FROM status_events WHERE subject = ? AND kind = ? AND agency = ?"

    # What a lookup reads, in one statement (one round trip): every anchoring of a certificate
    # hash (any agency; part 0), and every status event of the hash (any agency) and of the
    # batches that list it (part 1). The parts are stacked, not joined: an agency that copies a
    # hash into many batches and gives it many statuses adds rows, it does not multiply them.
    _NULLS = ", ".join(["NULL"] * 11)  # a batch's columns in an event's row, and the other way round
    _LOOKUP = (
        f"SELECT 0, {_BATCH_COLUMNS}, {_NULLS} FROM certificates c JOIN batches b ON b.id = c.batch_id "
        "WHERE c.hash = ? "
        f"UNION ALL SELECT 1, {_NULLS}, {_STATUS_COLUMNS}, log_index FROM status_events "
        "WHERE subject = ? AND kind = 0 "
        f"UNION ALL SELECT 1, {_NULLS}, {_STATUS_COLUMNS}, log_index FROM status_events WHERE kind = 1 "
        "AND subject IN (SELECT b.root FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ?)"
    )  # unordered: the few rows are sorted in Python (a merge of sorted parts costs SQLite more)

    @staticmethod
    def _status_now(events: list[tuple[Any, ...]], cert_hash: bytes, agency: str, root: bytes) -> StatusAt:
        """The effective status now, from the status events ``_LOOKUP`` read along (oldest first),
        within the agency."""
        latest: dict[int, tuple[Any, ...]] = {}
        for row in events:  # oldest first: the last of each scope wins
            subject, kind, ev_agency = bytes(row[0]), row[1], row[2]
            if ev_agency == agency and subject == (cert_hash if kind == 0 else root):
                latest[kind] = row
        return _effective(*(_status_of_row(latest[k]) if k in latest else None for k in (0, 1)))

    def _latest_statuses_sql(
        self, subjects: tuple[tuple[bytes, int], ...], agency: str, at: int | None, block: int | None
    ) -> tuple[str, tuple[Any, ...]]:
        one = self._STATUS_OF
        if at is not None:
            one += " AND time <= ?"
        if block is not None:
            one += " AND block <= ?"
        one += " ORDER BY block DESC, log_index DESC LIMIT 1"
        params: tuple[Any, ...] = ()
        for subject, kind in subjects:
            params += (bytes(subject), kind, agency)
            params += (int(at),) if at is not None else ()
            params += (int(block),) if block is not None else ()
        return " UNION ALL ".join(f"SELECT * FROM ({one}) AS s{i}" for i in range(len(subjects))), params

    def _latest_statuses(
        self, subjects: tuple[tuple[bytes, int], ...], agency: str, at: int | None, block: int | None
    ) -> dict[int, StatusEvent]:
        """The latest status event of each (subject, kind) within the agency, by kind, in one
        round trip (kinds: 0 certificate, 1 batch)."""
        sql, params = self._latest_statuses_sql(subjects, agency, at, block)
        return {row[1]: _status_of_row(row) for row in self.read.rows(sql, params)}

    def batch_status_as_of(self, agency: str, root: bytes, *, at: int | None = None) -> StatusAt:
        """The status of the agency's batch as a whole (batch-scope events only)."""
        ev = self._latest_statuses(((root, 1),), agency, at, None).get(1)
        return StatusAt(ev.status if ev is not None else Status.ACTIVE, ev)

    def status_as_of(
        self, cert_hash: bytes, agency: str, root: bytes, *, at: int | None = None, block: int | None = None
    ) -> StatusAt:
        """The effective status of a certificate at a time or block (None = now): REVOKED if
        it or its batch is revoked, else SUSPENDED if either is suspended, else ACTIVE."""
        latest = self._latest_statuses(((cert_hash, 0), (root, 1)), agency, at, block)
        return _effective(latest.get(0), latest.get(1))

    def history(self, record: CertificateRecord) -> list[StatusEvent]:
        """Every status change of the certificate and of its batch (within its agency), oldest first."""
        rows = self.read.rows(
            f"SELECT {self._STATUS_COLUMNS} FROM status_events WHERE agency = ? "
            "AND ((subject = ? AND kind = 0) OR (subject = ? AND kind = 1)) ORDER BY block, log_index",
            (record.agency, bytes(record.hash), bytes(record.root)),
        )
        return [_status_of_row(r) for r in rows]

    # -------------------------------------------------------------- keys and agencies

    def key(self, address: str) -> KeyRecord | None:
        def compute() -> KeyRecord | None:
            rows = self.read.rows(
                "SELECT agency, kind, value, sm2_public_key FROM key_events WHERE address = ? ORDER BY block, log_index",
                (address,),
            )
            if not rows:
                return None
            values = {"added": 0, "retired": 0, "compromised": 0}
            sm2 = b""
            for _, kind, value, sm2_key in rows:
                if kind == "corrected":  # the consortium's correction replaces the reported time
                    values["compromised"] = int(value)
                elif kind in values:
                    values[kind] = int(value)
                if kind == "added" and sm2_key is not None:
                    sm2 = bytes(sm2_key)
            return KeyRecord(address, rows[0][0], values["added"], values["retired"], values["compromised"], sm2)

        return self._cached(("key", address), compute)

    def by_identifier_tag(self, tag: bytes) -> list[tuple[str, bytes]]:
        """(agency, certificate hash) of every certificate anchored with this identifier tag,
        in the order they were first anchored (a re-anchoring adds nothing new)."""
        rows = self.read.rows(
            "SELECT agency, cert_hash FROM identifier_tags WHERE tag = ? ORDER BY block, log_index, id", (bytes(tag),)
        )
        return list(dict.fromkeys((agency, bytes(h)) for agency, h in rows))

    def holder_binding(self, agency: str, cert_hash: bytes) -> bytes | None:
        """The SHA-256 of the device key the agency bound to the certificate, by its latest
        binding event (None: never bound, or unbound since)."""

        def compute() -> bytes | None:
            row = self.read.one(
                "SELECT key_hash FROM holder_events WHERE cert_hash = ? AND agency = ? "
                "ORDER BY block DESC, log_index DESC LIMIT 1",
                (bytes(cert_hash), agency),
            )
            return None if row is None or not any(row[0]) else bytes(row[0])

        return self._cached(("holder", agency, bytes(cert_hash)), compute)

    def credit_code(self, agency: str) -> str | None:
        """The agency's unified social credit code (GB 32100), the latest one set, or None."""

        def compute() -> str | None:
            row = self.read.one(
                "SELECT credit_code FROM agency_events WHERE agency = ? AND kind = 'credit_code' "
                "ORDER BY block DESC, log_index DESC LIMIT 1",
                (agency,),
            )
            return None if row is None else str(row[0])

        return self._cached(("credit_code", agency), compute)

    def _region_timeline(self) -> dict[int, list[tuple[int, int, str]]]:
        """(block, log_index, kind) of every admission and removal, per region."""
        r = s.region_events
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(r.c.region, r.c.block, r.c.log_index, r.c.kind)
                .where(r.c.kind.in_(("admitted", "removed")))
                .order_by(r.c.block, r.c.log_index)
            ).all()
        out: dict[int, list[tuple[int, int, str]]] = {}
        for row in rows:
            out.setdefault(row.region, []).append((row.block, row.log_index, row.kind))
        return out

    @staticmethod
    def _removals_after(timeline: list[tuple[int, int, str]], block: int, log_index: int) -> int:
        return sum(1 for b, i, kind in timeline if kind == "removed" and (b, i) > (block, log_index))

    def agency(self, code: str, at: int | None = None) -> AgencyView | None:
        """An agency's region, suspension, allowed types and keys at time ``at`` (None = now)."""
        a = s.agency_events
        q = select(a).where(a.c.agency == code)
        if at is not None:
            q = q.where(a.c.time <= at)
        k = s.key_events
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(a.c.block, a.c.log_index)).all()
            keys = conn.execute(
                select(k.c.address).where(k.c.agency == code, k.c.kind == "added").order_by(k.c.block, k.c.log_index)
            ).all()
        if not rows or rows[0].kind != "registered":
            return None
        region = rows[0].region
        suspended = False
        enabled_at = (rows[0].block, rows[0].log_index)
        types: dict[str, bool] = {}
        for r in rows:
            if r.kind == "suspended":
                suspended = True
            elif r.kind == "reactivated":
                suspended = False
                enabled_at = (r.block, r.log_index)
            elif r.kind in ("type_allowed", "type_forbidden"):
                types[r.cert_type] = r.kind == "type_allowed"
        timeline = self._region_timeline().get(region, [])
        member = bool(timeline) and timeline[-1][2] == "admitted"
        disabled_by_removal = self._removals_after(timeline, *enabled_at) > 0
        return AgencyView(
            code,
            region,
            suspended,
            member and not suspended and not disabled_by_removal,
            rows[0].time,
            tuple(sorted(t for t, ok in types.items() if ok)),
            tuple(r[0] for r in keys),
        )

    def agencies(self) -> list[AgencyListing]:
        """Every agency with its keys' life cycles (key states as of the chain's own clock)."""
        a = s.agency_events
        k = s.key_events
        with self.engine.connect() as conn:
            codes = [
                r[0]
                for r in conn.execute(
                    select(a.c.agency).where(a.c.kind == "registered").order_by(a.c.block, a.c.log_index)
                )
            ]
            key_rows = conn.execute(
                select(k.c.address, k.c.kind, k.c.block, k.c.log_index).where(k.c.kind.in_(("added", "enabled")))
            ).all()
        enabled_at: dict[str, tuple[int, int]] = {}
        for row in key_rows:
            enabled_at[row.address] = max(enabled_at.get(row.address, (0, 0)), (row.block, row.log_index))
        timelines = self._region_timeline()
        out = []
        now = self.head().block_time or int(time.time())
        for code in codes:
            info = self.agency(code)
            if info is None:
                continue
            timeline = timelines.get(info.region, [])
            keys = []
            for address in info.keys:
                rec = self.key(address)
                if rec is None:
                    continue
                state = rec.state_at(now)
                since_enable = self._removals_after(timeline, *enabled_at.get(address, (0, 0)))
                keys.append(
                    KeyView(
                        address,
                        rec.active_from,
                        rec.retired_at,
                        rec.compromised_since,
                        state,
                        info.enabled and state is KeyState.ACTIVE and since_enable == 0,
                    )
                )
            out.append(AgencyListing(info, tuple(keys)))
        return out

    # -------------------------------------------------------------- regions, types, recognition

    def regions(self) -> Membership:
        """Regions ever admitted, their admins, and the quorum rule."""
        r = s.region_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(r).order_by(r.c.block, r.c.log_index)).all()
        regions: dict[int, dict[str, Any]] = {}
        rule: tuple[int, int] | None = None
        for row in rows:
            if row.kind == "quorum":
                rule = (int(row.value), int(row.value2))
                continue
            info = regions.setdefault(
                row.region,
                {
                    "region": row.region,
                    "member": False,
                    "admitted_at": 0,
                    "removed_at": 0,
                    "cutoff": 0,
                    "epoch": 0,
                    "admins": [],
                },
            )
            if row.kind == "admitted":
                info.update(member=True, admitted_at=row.time, removed_at=0, cutoff=0, admins=[row.admin])
            elif row.kind == "removed":
                cutoff = int(row.value) if row.value is not None else row.time
                info.update(
                    member=False,
                    removed_at=row.time,
                    admins=[],
                    epoch=info["epoch"] + 1,
                    cutoff=cutoff if cutoff < row.time else 0,
                )
            elif row.kind == "admin_added":
                info["admins"].append(row.admin)
            elif row.kind == "admin_removed" and row.admin in info["admins"]:
                info["admins"].remove(row.admin)
        views = tuple(RegionView(**{**x, "admins": tuple(x["admins"])}) for x in regions.values())
        members = sum(1 for x in views if x.member)
        quorum = None if rule is None else members * rule[0] // rule[1] + 1
        return Membership(quorum, rule, members, views)

    def is_member(self, region: int, at: int | None = None) -> bool:
        r = s.region_events
        q = select(r.c.kind).where(r.c.region == region, r.c.kind.in_(("admitted", "removed")))
        if at is not None:
            q = q.where(r.c.time <= at)
        with self.engine.connect() as conn:
            last = conn.execute(q.order_by(r.c.block.desc(), r.c.log_index.desc()).limit(1)).scalar()
        return last == "admitted"

    def types(self) -> list[TypeView]:
        t = s.type_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.block, t.c.log_index)).all()
        return [TypeView(r.cert_type, bytes(r.schema_hash), json.loads(r.schema), r.time) for r in rows]

    def type_fields(self, cert_type: str) -> frozenset[str] | None:
        """The field names of a certificate type's schema (None: no such type)."""

        def compute() -> frozenset[str] | None:
            row = self.read.one("SELECT schema FROM type_events WHERE cert_type = ?", (cert_type,))
            return None if row is None else schema_field_names(row[0])

        return self._cached(("fields", cert_type), compute)

    def _rule_events(self, verifier: int, cert_type: str, issuer: int) -> list[tuple[Any, ...]]:
        return self._cached(
            ("rule", verifier, cert_type, issuer),
            lambda: self.read.rows(
                "SELECT time, removed, valid_from, valid_until FROM recognition_events "
                "WHERE verifier = ? AND cert_type = ? AND issuer = ? ORDER BY block, log_index",
                (verifier, cert_type, issuer),
            ),
        )

    def _rule(self, verifier: int, cert_type: str, issuer: int, at: int, latest: bool) -> RuleView | None:
        window = rule_window_in_force(self._rule_events(verifier, cert_type, issuer), at, latest=latest)
        if window is None:
            return None
        return RuleView(verifier, cert_type, issuer or None, window[0], window[1])

    def recognition(
        self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False
    ) -> RuleView | None:
        """The rule by which ``verifier`` recognises ``cert_type`` from ``issuer`` at ``at``,
        as the contract's isRecognized (a region recognises its own), or None. ``latest``:
        by the rules in force now, else by the rules as they stood at ``at``."""
        if verifier == issuer:
            return RuleView(verifier, cert_type, issuer, 0, 0, own_region=True)
        return self._rule(verifier, cert_type, issuer, at, latest) or self._rule(verifier, cert_type, 0, at, latest)

    def recognitions(self) -> list[RuleView]:
        """The rules in force now, by verifier, type and issuer."""
        e = s.recognition_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(e).order_by(e.c.block, e.c.log_index)).all()
        rules: dict[tuple[int, str, int], RuleView] = {}
        for r in rows:
            key = (r.verifier, r.cert_type, r.issuer)
            if r.removed:
                rules.pop(key, None)
            else:
                rules[key] = RuleView(r.verifier, r.cert_type, r.issuer or None, r.valid_from, r.valid_until)
        return [rules[k] for k in sorted(rules)]
