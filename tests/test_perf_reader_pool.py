"""The mirror's readers share SQLAlchemy's connection pool (``make_reader_engine``): bounded,
read-only on SQLite, and a dropped PostgreSQL session costs no failed read (the read runs
again once on a new connection) while a database that is really gone still fails the read.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from eth_account import Account
from helpers import PG_ADMIN_URL, Consortium, drop_pg_databases, wait_until
from mirror_helpers import index_to_head

from ledger.contracts import Status
from ledger.mirror import MirrorQueries
from ledger.mirror.store import READER_POOL_SIZE
from ledger.registry import AnchoredBatch


def anchor(c: Consortium, n: int) -> AnchoredBatch:
    hashes = [Account.create().key for _ in range(n)]
    return c.registry.anchor_batch(c.deployer, c.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", hashes)


def admin(sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def backend_pid(q: MirrorQueries) -> int:
    row = q.read.one("SELECT pg_backend_pid()", ())
    assert row is not None
    return int(row[0])


def database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def reader_backends(url: str) -> set[int]:
    """The sessions open on this mirror database, but for the admin's."""
    rows = admin(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        database(url),
    )
    return {int(r[0]) for r in rows}


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_terminated_reader_sessions_cost_no_failed_read(issuing, mirror_url):
    batch = anchor(issuing, 3)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        assert q.certificate(batch.cert_hashes[0]).root == batch.root
        # several idle connections in the pool, all of them about to be killed
        barrier = threading.Barrier(4, timeout=60)

        def hold(_: int) -> int:
            pid = backend_pid(q)
            barrier.wait()
            return pid

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(hold, range(4)))
        before = {backend_pid(q)}
        store.engine.dispose()  # only the readers' sessions remain
        killed = reader_backends(mirror_url)
        assert before <= killed
        for pid in killed:
            admin("SELECT pg_terminate_backend(%s, 5000)", pid)
        assert not reader_backends(mirror_url) & killed

        # the next reads answer, from new sessions, without an error
        assert q.certificate(batch.cert_hashes[1]).root == batch.root
        assert q.status_as_of(batch.cert_hashes[2], "GD-PSB", batch.root).status is Status.ACTIVE
        assert backend_pid(q) not in killed
        assert not reader_backends(mirror_url) & killed
    finally:
        q.close()


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_a_mirror_database_that_is_gone_fails_the_read(issuing, mirror_url):
    """Reading again once is for a dropped connection: a database that no longer exists fails
    the read (with the driver's error) instead of hiding it, and does not hang."""
    batch = anchor(issuing, 2)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        assert q.certificate(batch.cert_hashes[0]).root == batch.root
        store.engine.dispose()
        drop_pg_databases(database(mirror_url))  # WITH (FORCE): the readers' sessions end too
        with pytest.raises(psycopg.OperationalError):
            q.read.rows("SELECT hash FROM certificates", ())
        with pytest.raises(psycopg.OperationalError):  # and again: nothing cached hides it
            q.certificate(batch.cert_hashes[1])
    finally:
        q.close()


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_many_threads_share_at_most_the_pools_connections(issuing, mirror_url):
    batch = anchor(issuing, 4)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        store.engine.dispose()
        threads = READER_POOL_SIZE * 3
        barrier = threading.Barrier(threads, timeout=120)

        def read(i: int) -> tuple[bytes, int]:
            barrier.wait()
            root = q.certificate(batch.cert_hashes[i % 4]).root
            return root, backend_pid(q)

        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(read, range(threads), timeout=600))
        assert [r for r, _ in results] == [batch.root] * threads
        pids = {pid for _, pid in results}
        assert 1 <= len(pids) <= READER_POOL_SIZE
        assert len(reader_backends(mirror_url)) <= READER_POOL_SIZE
    finally:
        q.close()
    # close() ends the readers' sessions (the server's backends exit just after their clients hang up)
    wait_until(lambda: reader_backends(mirror_url) == set(), timeout=10, what="the readers' sessions to end")


def test_a_failed_read_is_not_repeated_and_the_pool_goes_on(issuing, mirror_url):
    """An error that is not a lost connection (here: no such column) reaches the caller at
    once; the connection it broke is discarded and the next reads are served."""
    batch = anchor(issuing, 2)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        for _ in range(READER_POOL_SIZE + 2):  # more failures than the pool has connections
            with pytest.raises(Exception, match=r"no_such_column|no such column"):
                q.read.rows("SELECT no_such_column FROM certificates", ())
        assert q.certificate(batch.cert_hashes[1]).root == batch.root
        assert q.read.engine.pool.checkedout() == 0  # nothing leaked
    finally:
        q.close()


@pytest.mark.parametrize("mirror_url", ["sqlite"], indirect=True)
def test_sqlite_readers_cannot_write(issuing, mirror_url):
    batch = anchor(issuing, 2)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        before = store.dump()
        with pytest.raises(Exception, match="readonly"):
            q.read.rows("DELETE FROM certificates", ())
        assert store.dump() == before
        assert q.certificate(batch.cert_hashes[0]).root == batch.root
        assert q.read.rows("PRAGMA journal_mode", ()) == [("wal",)]
    finally:
        q.close()
