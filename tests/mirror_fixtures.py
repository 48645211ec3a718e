"""Fixtures and helpers for the mirror tests: one database per test, SQLite and PostgreSQL.

Test modules import the fixtures explicitly (``pytest_plugins`` is only honoured in the
root conftest)::

    from mirror_fixtures import fresh_mirror_url, mirror_url  # noqa: F401

``mirror_url`` is parametrized over ``["sqlite", "postgresql"]``: every test that uses it runs
once per database. PostgreSQL comes from ``CERTLEDGER_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets a database of its own,
dropped afterwards. When PostgreSQL cannot be reached the PostgreSQL variant is skipped -
except in CI (``CI=true``), where it fails: a CI run must never pass by skipping.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import create_pg_database, drop_pg_databases, require_postgres

from ledger.deployment import Deployment
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries, MirrorStore

# Every store a test opened through these helpers, so that teardown can close its
# connections before the database is dropped.
_STORES: list[MirrorStore] = []


def _dispose_stores(url: str) -> None:
    for store in [s for s in _STORES if s.url == url]:
        store.dispose()
        _STORES.remove(store)


class MirrorDatabases:
    """Creates databases of one kind for one test and removes them afterwards."""

    def __init__(self, kind: str, directory: Any) -> None:
        self.kind = kind
        self.directory = directory
        self.urls: list[str] = []
        self._pg_names: list[str] = []

    def new(self) -> str:
        if self.kind == "sqlite":
            url = f"sqlite:///{self.directory}/mirror-{len(self.urls)}.db"
        else:
            name, url = create_pg_database("certledger_t")
            self._pg_names.append(name)
        self.urls.append(url)
        return url

    def close(self) -> None:
        for url in self.urls:
            _dispose_stores(url)
        if self._pg_names:
            drop_pg_databases(*self._pg_names)


_DATABASES: dict[str, MirrorDatabases] = {}  # mirror_url -> the databases of its test


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty mirror database URL: SQLite, then PostgreSQL."""
    if request.param == "postgresql":
        require_postgres()
    dbs = MirrorDatabases(request.param, tmp_path)
    url = dbs.new()
    _DATABASES[url] = dbs
    try:
        yield url
    finally:
        _DATABASES.pop(url, None)
        dbs.close()


@pytest.fixture
def fresh_mirror_url(mirror_url: str) -> Callable[[], str]:
    """Makes another empty database of the same kind as ``mirror_url`` (for rebuilds)."""
    return _DATABASES[mirror_url].new


# ---------------------------------------------------------------------- helpers


def open_store(url: str, deployment: Deployment, *, rebuild: bool = False) -> MirrorStore:
    store = MirrorStore(url)
    _STORES.append(store)
    store.open(deployment, rebuild=rebuild)
    return store


def indexer_for(rpc_url: str, deployment: Deployment, store: MirrorStore, **config: Any) -> Indexer:
    return Indexer(rpc_url, deployment, store, IndexerConfig(**config))


def index_to_head(rpc_url: str, deployment: Deployment, url: str, **config: Any) -> tuple[MirrorStore, MirrorQueries]:
    """Open (or create) the mirror at ``url`` and catch it up to the chain's head."""
    store = open_store(url, deployment)
    indexer_for(rpc_url, deployment, store, **config).catch_up()
    return store, MirrorQueries(store)


def rebuild_dump(rpc_url: str, deployment: Deployment, url: str) -> dict[str, list[tuple[Any, ...]]]:
    """A mirror built from scratch (deployment block to head) by a new indexer, dumped."""
    store = open_store(url, deployment)
    assert store.checkpoint()[0] == deployment.deployment_block - 1, "the rebuild database is not empty"
    indexer_for(rpc_url, deployment, store).catch_up()
    return store.dump()


def assert_same_mirror(actual: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]) -> None:
    """Table by table, so that a failure names the table and the differing rows."""
    assert set(actual) == set(expected)
    for table in expected:
        got, want = actual[table], expected[table]
        if got != want:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            dupes = len(got) - len(set(got))
            pytest.fail(
                f"table {table}: {len(got)} rows, rebuild has {len(want)}; "
                f"missing {missing!r}, extra {extra!r}, duplicated rows {dupes}",
                pytrace=False,
            )


def wait_for(
    predicate: Callable[[], bool], timeout: float = 120.0, interval: float = 0.1, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; generous timeouts, no wall-clock assertions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)


class Follower:
    """``Indexer.run`` in a thread; ``stop()`` ends it and re-raises whatever ended it early."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="mirror-follower")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.indexer.run()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()/alive()
            self.error = exc

    def alive(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the indexer's run() ended with {self.error!r}") from self.error
        return self.thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        self.indexer.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return after stop()"
        if self.error is not None:
            raise AssertionError(f"the indexer's run() ended with {self.error!r}") from self.error


def mirrored_up_to(store: MirrorStore, block: int) -> Callable[[], bool]:
    return lambda: store.checkpoint()[0] >= block


def settled(q: MirrorQueries, store: MirrorStore, timeout: float = 30.0) -> MirrorQueries:
    """Wait until ``q`` sees the store's current checkpoint (MirrorQueries trusts its last
    read of the head, and the caches kept for it, for a short while)."""
    want = store.checkpoint()
    wait_for(
        lambda: (q.head().block, q.head().block_hash) == want,
        timeout=timeout,
        interval=0.02,
        what=f"the queries to see checkpoint {want[0]}",
    )
    return q


def signed_anchor(c: Any, agency: str, cert_type: str, n: int) -> tuple[str, Any]:
    """A raw, signed anchorBatch transaction from a fresh submitter (nonce 0, free gas), for
    ``anvil_reorg``; returns (raw hex, the batch tree)."""
    from eth_account import Account

    from ledger.ids import agency_id, type_id
    from ledger.issuance import anchor_calldata
    from ledger.merkle import build_tree
    from ledger.signing import sign_batch

    chain, deployment = c.chain, c.deployment
    tree = build_tree([os.urandom(32) for _ in range(n)])
    aid, tid = agency_id(agency), type_id(cert_type)
    sig = sign_batch(c.agency_keys[agency], tree.root, tid, aid, chain.chain_id, deployment.certificate_registry)
    raw = (
        Account.create()
        .sign_transaction(
            {
                "to": deployment.certificate_registry,
                "data": anchor_calldata(aid, tid, tree.cert_hashes, sig),
                "gas": 200_000 + 2_000 * n,
                "gasPrice": 0,
                "nonce": 0,
                "chainId": chain.chain_id,
                "value": 0,
            }
        )
        .raw_transaction
    )
    return "0x" + bytes(raw).hex(), tree


def anvil_reorg(chain: Any, depth: int, raw_txs: list[str]) -> None:
    """anvil's ``anvil_reorg``: replace the last ``depth`` blocks by as many new ones, the
    given transactions in the first of them."""
    answer = chain.w3.provider.make_request("anvil_reorg", [depth, [[tx, 0] for tx in raw_txs]])
    assert "error" not in answer, answer
    chain._nonces.clear()  # the client's nonce cache still counts the dropped transactions
