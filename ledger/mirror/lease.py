"""One indexer per mirror: the lease an indexer holds on its mirror database while it runs.

Two indexers writing one mirror would race for the same batch ids and checkpoint. So an indexer
claims the mirror before it touches it, and a second one is refused with one line naming the
first ("another indexer is running against this mirror (pid …, since …)").

**PostgreSQL.** The lease is a session-level advisory lock, held by a session of its own
(``application_name`` ``certledger-indexer``) that runs a heartbeat query every
``HEARTBEAT_SECONDS``. Every query moves the session's ``pg_stat_activity.state_change``, so
the server itself shows whether the holder's process still runs:

- *Live*: the holder's last state change is at most a heartbeat old. A new indexer watches it
  for up to ``STALE_SECONDS``; as soon as it sees a newer heartbeat it gives up with the one
  line above. A live indexer is never terminated, however busy its main thread (the heartbeat
  is a thread of its own, and the database calls release the interpreter lock).
- *Dead*: no state change for ``STALE_SECONDS``: the process is stopped (SIGSTOP, a debugger,
  a frozen VM) or its host or network is gone while the server still holds the connection. The
  new indexer terminates that session (``pg_terminate_backend``) and takes the lock. It only
  ever terminates a holder of *our* lock key with *our* application name; a lock held by any
  other session is reported, never broken.
- *Killed* (``kill -9``): the kernel closes the client's sockets; the idle lease session sees
  that at once and ends, which releases the lock.

Having the lock, the new indexer terminates what the dead one left in a transaction: sessions
named ``certledger-indexer`` with an open transaction that wrote (``backend_xid``) or that
sit idle in one. Such a transaction holds row locks the new indexer would wait on (a killed
client's statement keeps running until the server notices the client is gone). Only the lock
holder does this, so it never touches a live indexer's sessions.

Safety does not rest on the liveness rule: every write of a claimed store first locks the
mirror's ``indexer`` meta row and checks that it still names this lease (``MirrorStore``
fences ``write``, ``rollback_to`` and ``set_status``). A taken-over indexer that comes back
(SIGCONT) fails its next write with ``MirrorBusy`` and exits instead of writing beside the new
one; the new indexer's claim rewrote that row only after the old one's transactions were gone.

Reading another session's ``state_change`` and terminating it need the same database role
(or ``pg_read_all_stats`` and ``pg_signal_backend``); without them a holder is treated as live.

**SQLite.** An exclusive ``flock`` on ``<database>.indexer-lock``, which names the holder. The
kernel drops it when the process dies; a stopped process keeps it (resume or kill it).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import MirrorBusy

log = logging.getLogger("certledger.indexer")

INDEXER_APPLICATION_NAME = "certledger-indexer"
LOCK_KEY = (0x434C4447, 1)  # ("CLDG", 1); advisory locks are per database: one lock per mirror
HEARTBEAT_SECONDS = 1.0
STALE_SECONDS = 5.0
OWNER_META_KEY = "indexer"  # the meta row naming the lease that may write


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Owner:
    """Who holds the lease: written to the mirror's meta table (PostgreSQL) or the lock file
    (SQLite), so that a refused indexer can name it."""

    token: str
    pid: int
    host: str
    since: float
    backend: int | None = None  # PostgreSQL: the lease session's backend pid

    @classmethod
    def me(cls) -> Owner:
        return cls(uuid.uuid4().hex, os.getpid(), socket.gethostname(), time.time())

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> Owner | None:
        try:
            return cls(**json.loads(raw or ""))
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {_utc(self.since)}"


def busy(description: str) -> MirrorBusy:
    return MirrorBusy(f"another indexer is running against this mirror ({description})")


# ---------------------------------------------------------------------- PostgreSQL


@dataclass
class _Holder:
    pid: int
    application_name: str
    state: str | None
    state_change: datetime | None
    silent_for: float | None  # seconds since its last state change
    backend_start: datetime


_HOLDER = text(
    f"""
    SELECT a.pid, a.application_name, a.state, a.state_change,
           extract(epoch FROM clock_timestamp() - a.state_change) AS silent_for, a.backend_start
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {LOCK_KEY[0]} AND l.objid = {LOCK_KEY[1]}
      AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)

# Sessions of an earlier indexer still in a transaction that holds row locks (it wrote) or that
# its client abandoned (idle in one); never this session.
_LEFT_BEHIND = text(
    """
    SELECT pid, state, xact_start FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = :name AND pid <> pg_backend_pid()
      AND (backend_xid IS NOT NULL OR state IN ('idle in transaction', 'idle in transaction (aborted)'))
    """
)


class PostgresLease:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # unpooled, sessions named INDEXER_APPLICATION_NAME
        self.owner = Owner.me()
        self.terminated: list[int] = []  # backends this claim terminated (for logs and tests)
        self._conn: Connection | None = None
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _session(self) -> Connection:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return conn

    def acquire(self) -> None:
        conn = self._conn = self._session()
        try:
            self._take(conn)
            self._end_left_behind(conn)
        except BaseException:
            self._conn = None
            conn.close()
            raise
        self.owner.backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        self._thread = threading.Thread(target=self._heartbeat, name="mirror-lease", daemon=True)
        self._thread.start()

    def _try_lock(self, conn: Connection) -> bool:
        return bool(conn.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY[0]}, {LOCK_KEY[1]})")).scalar_one())

    def _take(self, conn: Connection) -> None:
        watched: tuple[int, datetime | None] | None = None
        give_up = time.monotonic() + STALE_SECONDS + 2 * HEARTBEAT_SECONDS
        while not self._try_lock(conn):
            row = conn.execute(_HOLDER).first()
            if row is None:  # released between the two queries: try again
                time.sleep(0.05)
                continue
            holder = _Holder(
                int(row.pid),
                row.application_name or "",
                row.state,
                row.state_change,
                None if row.silent_for is None else float(row.silent_for),
                row.backend_start,
            )
            ours = holder.application_name == INDEXER_APPLICATION_NAME
            if ours and holder.silent_for is not None and holder.silent_for > STALE_SECONDS:
                self._terminate(
                    conn, holder.pid, f"the indexer holding this mirror, silent for {holder.silent_for:.1f} s"
                )
                continue
            if watched is None or watched[0] != holder.pid:
                watched = (holder.pid, holder.state_change)
            elif (ours and holder.state_change != watched[1]) or time.monotonic() > give_up:
                raise busy(self._describe(conn, holder))
            time.sleep(0.2)

    def _describe(self, conn: Connection, holder: _Holder) -> str:
        if holder.application_name == INDEXER_APPLICATION_NAME:
            try:
                raw = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": OWNER_META_KEY}).scalar()
            except SQLAlchemyError:  # no schema yet
                raw = None
            owner = Owner.from_json(raw)
            if owner is not None and owner.backend == holder.pid:
                return owner.describe()
        started = holder.backend_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"database backend pid {holder.pid} ({holder.application_name or 'no application name'}), since {started}"
        )

    def _terminate(self, conn: Connection, pid: int, what: str) -> None:
        # With a timeout, pg_terminate_backend returns once the session is gone and its locks with it.
        done = conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
        if done:
            self.terminated.append(pid)
            log.warning("terminated database backend %d: %s", pid, what)

    def _end_left_behind(self, conn: Connection) -> None:
        for row in conn.execute(_LEFT_BEHIND, {"name": INDEXER_APPLICATION_NAME}).all():
            since = row.xact_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if row.xact_start else "?"
            self._terminate(
                conn, int(row.pid), f"left by an earlier indexer ({row.state}, in a transaction since {since})"
            )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self._guard:
                    if self._conn is None:
                        return
                    self._conn.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                # The session ended (a database restart, or another indexer took the mirror over).
                # Take the lock again if it is free; the fence on every write decides either way.
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                log.warning("lost the mirror's indexer lock (%s); taking it again", reason)
                if not self._retake():
                    return

    def _retake(self) -> bool:
        with self._guard:
            if self._conn is not None:
                try:
                    self._conn.close()
                except SQLAlchemyError:
                    pass
            self._conn = None
            while not self._stop.is_set():
                try:
                    conn = self._session()
                except SQLAlchemyError:
                    if self._stop.wait(HEARTBEAT_SECONDS):
                        return False
                    continue
                if self._try_lock(conn):
                    self._conn = conn
                    return True
                conn.close()
                log.warning("another indexer holds the mirror now: this one stops at its next write")
                return False
        return False

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._guard:
            if self._conn is not None:
                try:  # closing the session releases the lock; unlock first for a pooled driver
                    self._conn.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY[0]}, {LOCK_KEY[1]})"))
                except SQLAlchemyError:
                    pass
                self._conn.close()
                self._conn = None
        self.engine.dispose()


# ---------------------------------------------------------------------- SQLite


class FileLease:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".indexer-lock")
        self.owner = Owner.me()
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = Owner.from_json(self.path.read_text(errors="replace"))
            os.close(fd)
            raise busy(owner.describe() if owner else f"it holds {self.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, self.owner.to_json().encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


Lease = PostgresLease | FileLease


def fenced_owner(raw: Any, lease: Lease) -> None:
    """Raise unless the mirror's ``indexer`` meta row (``raw``) names ``lease``."""
    owner = Owner.from_json(raw)
    if owner is None or owner.token != lease.owner.token:
        who = owner.describe() if owner is not None else "the mirror was claimed again"
        raise MirrorBusy(f"another indexer took over this mirror ({who}): this one stops")
