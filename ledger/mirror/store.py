"""The mirror database: connecting, creating and versioning the schema, writing a block
range's events in one transaction together with the checkpoint, undoing reorgs.

SQLite (default) and PostgreSQL share the schema; only the bulk insert of certificate hashes
differs, both in key order (hash, batch id), which the tables' B-trees take about twice as fast
as the chain's order: on SQLite ``executemany`` into a temporary table, then into the table
sorted by SQLite; on PostgreSQL a binary ``COPY`` of the rows sorted here, straight into the
table (through a temporary table with ``ON CONFLICT DO NOTHING`` should a row be there
already).

On PostgreSQL every session is set up so that the server drops a dead client within seconds
instead of holding its transaction (and row locks) until it happens to notice: TCP keepalives
on both ends, ``client_connection_check_interval`` (a killed client's running statement is
cancelled), ``idle_in_transaction_session_timeout`` (a stopped client's open transaction is
ended). An indexer's store also claims the mirror (``claim``, see ``lease``): one indexer per
mirror database, and a dead one's sessions are taken over at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, inspect, make_url, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool, QueuePool

from ..deployment import Deployment
from ..errors import ConfigError, redact_url
from . import schema as s
from .lease import INDEXER_APPLICATION_NAME, OWNER_META_KEY, FileLease, Lease, PostgresLease, fenced_owner

DEFAULT_KEEP_BLOCKS = 4096  # block hashes kept for reorg detection
APPLICATION_NAME = "certledger"  # readers (the API, the CLI); the indexer's sessions: INDEXER_APPLICATION_NAME

# libpq (client side): probe an idle connection after 5 s, every 2 s, give up after 3 misses;
# unacknowledged data for 10 s also ends it.
PG_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
# The server's side of the same, and how long a client may leave a transaction idle.
PG_SESSION_SETTINGS = {
    "tcp_keepalives_idle": 5,
    "tcp_keepalives_interval": 2,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    "idle_in_transaction_session_timeout": 5_000,
}
PG_CLIENT_CHECK_MS = 1_000  # client_connection_check_interval (PostgreSQL 14+)


def make_engine(
    url: str, *, pooled: bool = True, cache_kib: int = 65536, application_name: str = APPLICATION_NAME
) -> Engine:
    """An engine for the mirror URL (``postgresql://`` means psycopg 3). ``pooled=False``:
    every connection is a new driver connection (NullPool), closed when given back."""
    pool: dict[str, Any] = {}
    if not pooled:
        pool = {"poolclass": NullPool}
    elif not _is_sqlite(url):
        pool = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}
    return _engine_for(url, pool, cache_kib, application_name, reader=False)


READER_POOL_SIZE = 8  # connections one process's readers share at most
READER_POOL_TIMEOUT = 30.0  # seconds a reader waits for one of them before the read fails


def make_reader_engine(url: str, *, size: int = READER_POOL_SIZE, timeout: float = READER_POOL_TIMEOUT) -> Engine:
    """The engine of the mirror's readers (the verification hot path reads through its pool's
    raw driver connections, see ``queries``): SQLAlchemy's ``QueuePool`` of at most ``size``
    connections shared by any number of threads (a thread waits up to ``timeout`` s for one),
    the most recently returned handed out first (its pages are hot). Reads run in autocommit
    (PostgreSQL) or outside any transaction (SQLite, whose reader connections are also
    ``query_only``), so a connection given back needs no reset, and none is pinged on the way
    out: a dropped connection shows in the read that uses it, which discards it, drops the
    pool's other idle connections of that age and reads again once."""
    pool = {
        "poolclass": QueuePool,
        "pool_size": size,
        "max_overflow": 0,
        "pool_timeout": timeout,
        "pool_use_lifo": True,
        "pool_reset_on_return": None,
        "pool_pre_ping": False,
    }
    return _engine_for(url, pool, 65536, APPLICATION_NAME, reader=True)


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _engine_for(url: str, pool: dict[str, Any], cache_kib: int, application_name: str, *, reader: bool) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        return _make_engine(url, pool, cache_kib, application_name, reader)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"invalid mirror database URL {redact_url(url)!r}: {type(exc).__name__}") from None


def _pg_session(dbapi_conn: Any, _record: Any) -> None:
    """Server-side settings for every new PostgreSQL session (see the module docstring)."""
    settings = dict(PG_SESSION_SETTINGS)
    if dbapi_conn.info.server_version >= 140000:
        settings["client_connection_check_interval"] = PG_CLIENT_CHECK_MS
    with dbapi_conn.cursor() as cur:  # one round trip
        cur.execute("; ".join(f"SET {name} = {int(value)}" for name, value in settings.items()))
    dbapi_conn.commit()


def _make_engine(url: str, pool: dict[str, Any], cache_kib: int, application_name: str, reader: bool) -> Engine:
    if _is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        # a database opened read-only (a trust snapshot's: ``file:…?mode=ro&immutable=1&uri=true``)
        # keeps its journal mode: changing it would be a write
        read_only = "mode=ro" in url or "immutable=1" in url

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers (the API) never block the writer (the indexer). NORMAL: a committed
            # transaction survives a process crash (kill -9); only a power cut may lose the
            # last commits, which the indexer then re-reads from the chain.
            if not read_only:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            # Page cache per connection: readers (verification) keep hot pages of a large mirror;
            # the writer appends and needs little, and its memory stays flat while it follows.
            cur.execute(f"PRAGMA cache_size=-{cache_kib}")
            cur.execute("PRAGMA busy_timeout=30000")
            if reader:
                cur.execute("PRAGMA query_only=ON")  # a reader's connection never writes
            cur.close()

        return engine
    given = make_url(url).query  # what the URL sets explicitly wins
    connect_args = {
        k: v for k, v in {**PG_CLIENT_KEEPALIVES, "application_name": application_name}.items() if k not in given
    }
    if reader:
        connect_args["autocommit"] = True  # plain reads: no transaction left idle between them
    engine = create_engine(url, connect_args=connect_args, **pool)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _pg_session)
    return engine


@dataclass
class RangeData:
    """Everything one block range brought, ready to write."""

    first: int
    last: int
    last_hash: bytes
    blocks: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # number -> (hash, time)
    batches: list[dict[str, Any]] = field(default_factory=list)  # with "hashes": bytes of 32-byte words
    rows: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)  # event table -> rows

    @property
    def certificate_count(self) -> int:
        return sum(len(b["hashes"]) // 32 for b in self.batches)


def _certificate_rows(batches: Sequence[dict[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """(hash, batch id) of every certificate of ``batches``, in the chain's order."""
    for b in batches:
        words = b["hashes"]
        bid = b["id"]
        for i in range(0, len(words), 32):
            yield words[i : i + 32], bid


# PostgreSQL's binary COPY format: a header, then per row its number of fields and each field
# as its length and bytes, then a trailer.
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_PG_COPY_TRAILER = b"\xff\xff"
_PG_ROW_HASH = b"\x00\x02\x00\x00\x00\x20"  # 2 fields; the first: 32 bytes (bytea)
_PG_ROW_BATCH = b"\x00\x00\x00\x04"  # the second: 4 bytes (integer)


def _pg_copy_rows(batches: Sequence[dict[str, Any]]) -> list[list[bytes]]:
    """Every certificate of ``batches`` as a row of the binary COPY format, in 256 buckets by
    the hash's first byte: sorted bucket by bucket as the COPY reaches them (``_pg_copy``), the
    rows go in key order (hash, batch id: they differ in those bytes alone, big-endian, ids >
    0), and Python sorts one bucket while the server inserts the one before."""
    rows: list[bytes] = []
    for b in batches:
        words = b["hashes"]
        tail = _PG_ROW_BATCH + int(b["id"]).to_bytes(4, "big")
        rows.extend([_PG_ROW_HASH + words[i : i + 32] + tail for i in range(0, len(words), 32)])
    buckets: list[list[bytes]] = [[] for _ in range(256)]
    first_byte = len(_PG_ROW_HASH)
    for row in rows:
        buckets[row[first_byte]].append(row)
    return buckets


def _pg_copy(cur: Any, table: str, buckets: list[list[bytes]]) -> None:
    with cur.copy(f"COPY {table} (hash, batch_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PG_COPY_HEADER)
        for bucket in buckets:
            if bucket:
                bucket.sort()
                copy.write(b"".join(bucket))
        copy.write(_PG_COPY_TRAILER)


WRITER_CACHE_KIB = 4096  # the indexer's SQLite page cache


class MirrorStore:
    """The mirror database. ``indexer=True``: the store of the mirror's indexer, whose sessions
    are named ``certledger-indexer``; it calls ``claim`` before anything else."""

    def __init__(self, url: str, *, indexer: bool = False) -> None:
        self.url = url
        self.engine = make_engine(
            url, cache_kib=WRITER_CACHE_KIB, application_name=INDEXER_APPLICATION_NAME if indexer else APPLICATION_NAME
        )
        self.dialect = self.engine.dialect.name
        self.lease: Lease | None = None

    # -------------------------------------------------------------- one indexer per mirror

    def claim(self) -> None:
        """Become the mirror's only indexer, before opening it: raises ``MirrorBusy`` when a
        live indexer holds it; takes it over from a dead one (see ``lease``). From then on
        every write checks that the mirror is still this store's."""
        if self.lease is not None:
            return
        if self.dialect == "postgresql":
            lease: Lease = PostgresLease(make_engine(self.url, pooled=False, application_name=INDEXER_APPLICATION_NAME))
        elif self.engine.url.database and self.engine.url.database != ":memory:":
            lease = FileLease(Path(self.engine.url.database))
        else:
            return
        try:
            lease.acquire()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConfigError(f"cannot open the mirror database {self.safe_url}: {reason}") from None
        except OSError as exc:  # SQLite: the lock file beside the database
            raise ConfigError(f"cannot open the mirror database {self.safe_url}: {exc.strerror or exc}") from None
        self.lease = lease

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def _fence(self, conn: Connection) -> None:
        """In a write transaction: go on only while the mirror is still this store's."""
        if self.lease is not None:
            row = select(s.meta.c.value).where(s.meta.c.key == OWNER_META_KEY).with_for_update()
            fenced_owner(conn.execute(row).scalar(), self.lease)

    # -------------------------------------------------------------- schema and identity

    def meta(self, conn: Connection) -> dict[str, str]:
        return {row.key: row.value for row in conn.execute(select(s.meta.c.key, s.meta.c.value))}

    def _set_meta(self, conn: Connection, values: dict[str, Any]) -> None:
        for key, value in values.items():
            conn.execute(delete(s.meta).where(s.meta.c.key == key))
            conn.execute(insert(s.meta).values(key=key, value=str(value)))

    def open(self, deployment: Deployment, *, rebuild: bool = False) -> None:
        """Create the schema, or check the existing one: another schema version is rebuilt
        (a mirror can always be rebuilt from the chain); another deployment is refused unless
        ``rebuild``."""
        try:
            self._open(deployment, rebuild)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConfigError(f"cannot open the mirror database {self.safe_url}: {reason}") from None

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _open(self, deployment: Deployment, rebuild: bool) -> None:
        identity = json.dumps(
            {"chain_id": deployment.chain_id, "contracts": [a.lower() for a in deployment.addresses]}, sort_keys=True
        )
        with self.engine.begin() as conn:
            tables = set(inspect(conn).get_table_names())
            if "meta" in tables and not rebuild:
                meta = self.meta(conn)
                if meta.get("identity") not in (None, identity):
                    raise ConfigError("the mirror database holds another deployment; use another database or --rebuild")
                if meta.get("schema_version") != str(s.SCHEMA_VERSION):
                    rebuild = True  # no migration from older versions: rebuild from the chain
            if rebuild:
                s.metadata.drop_all(conn)
                tables = set()
            s.metadata.create_all(conn)
            if self.lease is not None:
                self._set_meta(conn, {OWNER_META_KEY: self.lease.owner.to_json()})
            meta = self.meta(conn)
            if "identity" not in meta:
                self._set_meta(
                    conn,
                    {
                        "identity": identity,
                        "schema_version": s.SCHEMA_VERSION,
                        "checkpoint_block": deployment.deployment_block - 1,
                        "checkpoint_hash": "",
                        "deployment_block": deployment.deployment_block,
                    },
                )

    def checkpoint(self) -> tuple[int, bytes | None]:
        with self.engine.connect() as conn:
            meta = self.meta(conn)
        h = meta.get("checkpoint_hash") or ""
        return int(meta["checkpoint_block"]), bytes.fromhex(h) if h else None

    def set_status(self, values: dict[str, Any]) -> None:
        """Health facts (chain head seen, last error) kept beside the data."""
        with self.engine.begin() as conn:
            self._fence(conn)
            self._set_meta(conn, values)

    def refresh_statistics(self) -> None:
        """After a large catch-up: PostgreSQL's planner statistics and visibility map brought up
        to date (``VACUUM (ANALYZE)`` of the tables that grew), so that lookups plan as index
        scans over a table the planner knows is large, and index-only scans skip the heap. Until
        autovacuum comes by (a minute or more later), a 10 M-certificate mirror answered lookups
        3 x slower (1,150 against 3,800 requests/s). SQLite: ``PRAGMA optimize``."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) certificates, batches, status_events")
        else:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA optimize")

    def known_blocks(self, below_or_at: int, limit: int = 64) -> list[tuple[int, bytes]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.blocks.c.number, s.blocks.c.hash)
                .where(s.blocks.c.number <= below_or_at)
                .order_by(s.blocks.c.number.desc())
                .limit(limit)
            )
            return [(int(row.number), bytes(row.hash)) for row in rows]

    # -------------------------------------------------------------- writing

    def write(self, data: RangeData, keep_blocks: int = DEFAULT_KEEP_BLOCKS) -> None:
        """Write one range and move the checkpoint, atomically."""
        with self.engine.begin() as conn:
            self._fence(conn)
            if data.batches:
                next_id = (conn.execute(select(func.max(s.batches.c.id))).scalar() or 0) + 1
                for b in data.batches:
                    b["id"] = next_id
                    next_id += 1
                conn.execute(insert(s.batches), [{k: v for k, v in b.items() if k != "hashes"} for b in data.batches])
                self._insert_certificates(conn, data.batches)
            for table, rows in data.rows.items():
                if rows:
                    conn.execute(insert(table), rows)
            blocks = dict(data.blocks)
            blocks[data.last] = (data.last_hash, blocks.get(data.last, (b"", 0))[1])
            numbers = list(blocks)
            conn.execute(delete(s.blocks).where(s.blocks.c.number.in_(numbers)))
            conn.execute(insert(s.blocks), [{"number": n, "hash": h, "time": t} for n, (h, t) in blocks.items()])
            conn.execute(delete(s.blocks).where(s.blocks.c.number < data.last - keep_blocks))
            self._set_meta(conn, {"checkpoint_block": data.last, "checkpoint_hash": data.last_hash.hex()})

    def _insert_certificates(self, conn: Connection, batches: Sequence[dict[str, Any]]) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None  # a live connection inside a transaction
        if self.dialect == "sqlite":
            # Through a temporary table, sorted into the table in key order: the chain gives a
            # batch's hashes in leaf order (random in the hashes themselves), and inserting them
            # so into the WITHOUT ROWID B-tree costs about twice SQLite's own sort plus an
            # insert in key order. Temporary tables are transactional: a failed write leaves
            # none of its rows behind.
            cur = raw.cursor()
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS certificates_in (hash BLOB, batch_id INTEGER)")
            cur.executemany("INSERT INTO certificates_in (hash, batch_id) VALUES (?, ?)", _certificate_rows(batches))
            # OR IGNORE: a batch that lists the same hash twice cannot be anchored (the
            # contract requires strictly ascending leaves), so this only guards a re-write.
            cur.execute(
                "INSERT OR IGNORE INTO certificates (hash, batch_id) "
                "SELECT hash, batch_id FROM certificates_in ORDER BY hash, batch_id"
            )
            cur.execute("DELETE FROM certificates_in")
            cur.close()
            return
        from psycopg.errors import UniqueViolation  # loaded already: this is a psycopg connection

        # PostgreSQL: binary COPY of the rows in key order (sorted here: the server's index
        # takes them about twice as fast so than in the chain's order) straight into the table,
        # under a savepoint; should a row be there already (the same guard as above), the COPY
        # is undone and the rows go through a temporary table with ON CONFLICT DO NOTHING.
        rows = _pg_copy_rows(batches)
        with raw.cursor() as cur:
            cur.execute("SAVEPOINT certificates_copy")
            try:
                _pg_copy(cur, "certificates", rows)
            except UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT certificates_copy")
            else:
                cur.execute("RELEASE SAVEPOINT certificates_copy")
                return
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS certificates_in (hash bytea, batch_id integer) ON COMMIT DELETE ROWS"
            )
            _pg_copy(cur, "certificates_in", rows)
            cur.execute(
                "INSERT INTO certificates (hash, batch_id) SELECT hash, batch_id FROM certificates_in "
                "ON CONFLICT (hash, batch_id) DO NOTHING"
            )

    def rollback_to(self, block: int) -> None:
        """Undo everything above ``block`` (a reorg's common ancestor)."""
        with self.engine.begin() as conn:
            self._fence(conn)
            doomed = select(s.batches.c.id).where(s.batches.c.block > block)
            conn.execute(delete(s.certificates).where(s.certificates.c.batch_id.in_(doomed)))
            conn.execute(delete(s.batches).where(s.batches.c.block > block))
            for table in s.EVENT_TABLES:
                conn.execute(delete(table).where(table.c.block > block))
            kept = conn.execute(select(s.blocks.c.hash).where(s.blocks.c.number == block)).scalar()
            conn.execute(delete(s.blocks).where(s.blocks.c.number > block))
            self._set_meta(conn, {"checkpoint_block": block, "checkpoint_hash": bytes(kept).hex() if kept else ""})

    # -------------------------------------------------------------- dumps (tests compare mirrors)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every data table, in a canonical order, without surrogate ids. The rows
        are fetched in one read transaction and sorted after it: a transaction left idle while
        Python sorts (seconds for a large mirror on a busy machine) would be ended by
        PostgreSQL's idle_in_transaction_session_timeout."""
        fetched: dict[str, Sequence[Any]] = {}
        with self.engine.connect() as conn:
            roots = {row.id: bytes(row.root) for row in conn.execute(select(s.batches.c.id, s.batches.c.root)).all()}
            fetched["certificates"] = conn.execute(select(s.certificates.c.hash, s.certificates.c.batch_id)).all()
            for table in (s.batches, *s.EVENT_TABLES):
                fetched[table.name] = conn.execute(select(*[c for c in table.columns if c.name != "id"])).all()
        out: dict[str, list[tuple[Any, ...]]] = {
            "certificates": sorted((bytes(row.hash), roots[row.batch_id]) for row in fetched.pop("certificates"))
        }
        for name, rows in fetched.items():
            out[name] = sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows)
        return out

    def dispose(self) -> None:
        self.release()
        self.engine.dispose()
