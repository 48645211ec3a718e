"""Helpers of the mirror tests: open a store, index to the head, rebuild and compare mirrors,
an indexer following in a thread, reorganisations on anvil (the fixtures ``mirror_url`` and
``fresh_mirror_url`` are in the plugin ``mirror_fixtures``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from helpers import FakeClock

from ledger.deployment import Deployment
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries, MirrorStore
from ledger.mirror.queries import CACHE_SECONDS

# Every store a test opened through these helpers, so that teardown can close its
# connections before the database is dropped.
_STORES: list[MirrorStore] = []


def dispose_stores(url: str) -> None:
    for store in [s for s in _STORES if s.url == url]:
        store.dispose()
        _STORES.remove(store)


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


def rebuild_dump(rpc_url: str, deployment: Deployment, url: str, **config: Any) -> dict[str, list[tuple[Any, ...]]]:
    """A mirror built from scratch (deployment block to head) by a new indexer (``config``:
    its IndexerConfig), dumped."""
    store = open_store(url, deployment)
    assert store.checkpoint()[0] == deployment.deployment_block - 1, "the rebuild database is not empty"
    indexer_for(rpc_url, deployment, store, **config).catch_up()
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
        except BaseException as exc:  # reported by stop()/alive()
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


def past_the_cache(clock: FakeClock) -> None:
    """Move the clock of a ``MirrorQueries`` past ``CACHE_SECONDS``: its next question re-reads
    the mirror's head (it trusts its last read, and the caches kept for it, for a moment)."""
    clock.advance(2 * CACHE_SECONDS)


def settled(q: MirrorQueries, clock: FakeClock, store: MirrorStore) -> MirrorQueries:
    """``q`` (made with ``clock=clock``) past its cache: it sees the store's current checkpoint."""
    past_the_cache(clock)
    head = q.head()
    assert (head.block, head.block_hash) == store.checkpoint()
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
