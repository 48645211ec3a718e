"""The indexer under faults: ``kill -9`` at any moment, a node that goes away and comes back,
providers that limit ``eth_getLogs`` ranges, and providers that fail requests with HTTP 503.

After each, the mirror must equal a fresh rebuild from the chain: nothing lost, nothing twice
(a lost or duplicated certificate after a crash is never acceptable). Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from helpers import Consortium, Node, free_port, let_it_run, new_consortium, wait_until
from mirror_helpers import Follower, assert_same_mirror, indexer_for, mirrored_up_to, open_store, rebuild_dump
from sqlalchemy import text

from ledger.chain import Chain
from ledger.errors import LedgerError
from ledger.ids import agency_id, type_id
from ledger.issuance import anchor_calldata
from ledger.merkle import build_tree
from ledger.mirror import MirrorQueries, MirrorStore
from ledger.mirror.lease import INDEXER_APPLICATION_NAME, LOCK_KEY
from ledger.node import anvil_args
from ledger.signing import sign_batch

CERTLEDGER = Path(sys.executable).parent / "certledger"


# ---------------------------------------------------------------------- chains for these tests


def issuing_on(chain: Chain) -> Consortium:
    c = new_consortium(chain)
    for code in ("ID_CARD", "DEGREE"):
        c.add_type(code)
    c.add_agency("GD-PSB", 440000, ["ID_CARD"])
    c.add_agency("ZJ-EDU", 330000, ["DEGREE"])
    return c


def anchor_many(c: Consortium, batches: int, size: int, agency: str = "GD-PSB", cert_type: str = "ID_CARD") -> int:
    """Anchor ``batches`` batches of ``size`` random hashes fast (raw calldata, receipts awaited
    at the end, as bench/indexer.py does); returns the number of certificates."""
    chain, deployment = c.chain, c.deployment
    aid, tid = agency_id(agency), type_id(cert_type)
    sent = []
    for _ in range(batches):
        tree = build_tree([os.urandom(32) for _ in range(size)])
        sig = sign_batch(c.agency_keys[agency], tree.root, tid, aid, chain.chain_id, deployment.certificate_registry)
        tx = {
            "to": deployment.certificate_registry,
            "data": anchor_calldata(aid, tid, tree.cert_hashes, sig),
            "gas": 150_000 + 1_500 * size,
            "value": 0,
        }
        sent.append(chain.send_transaction(c.deployer, tx, wait=False).tx_hash)
    for h in sent:
        assert chain.wait(bytes.fromhex(h[2:]))["status"] == 1
    return batches * size


def some_history(c: Consortium, rounds: int = 6) -> None:
    """Batches, status changes, rules and key events spread over many blocks."""
    reg, key = c.registry, c.agency_keys["GD-PSB"]
    for i in range(rounds):
        batch = reg.anchor_batch(c.deployer, key, "GD-PSB", "ID_CARD", [Account.create().key for _ in range(3 + i)])
        reg.set_certificate_status(key, "GD-PSB", batch.cert_hashes[0], 1, "HOLDER_REQUEST")
        if i % 2:
            reg.set_batch_status(key, "GD-PSB", batch.root, 2, "ISSUER_ERROR")
        reg.set_recognition(c.admins[330000], 330000, "ID_CARD", 440000, 0, 10**10 + i)
        c.chain.w3.provider.make_request("evm_mine", [])
    reg.add_key(c.admins[440000], "GD-PSB", Account.create().address)


# ---------------------------------------------------------------------- (a) kill -9 at any moment

BIG_BATCHES, BIG_SIZE = 300, 1_000


@pytest.fixture(scope="module")
def big_chain(anvil) -> Consortium:
    """300 batches of 1,000 hashes on the worker's anvil (built once per module and worker)."""
    c = issuing_on(Chain(anvil.url))
    anchor_many(c, BIG_BATCHES, BIG_SIZE)
    some_history(c, 2)
    return c


def _checkpoint(probe: MirrorStore) -> int | None:
    try:
        return probe.checkpoint()[0]
    except Exception:  # the schema may not exist yet
        return None


def test_kill_9_at_any_moment_then_restart_loses_nothing_and_duplicates_nothing(
    big_chain, mirror_url, fresh_mirror_url, tmp_path
):
    c = big_chain
    home = tmp_path / "home"
    c.deployment.save(home / "deployment.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
    env.update(
        CERTLEDGER_HOME=str(home),
        CERTLEDGER_RPC_URL=c.chain.url,
        CERTLEDGER_DB_URL=mirror_url,
        CERTLEDGER_POLL_INTERVAL="0.1",
        # ranges of at most 20,000 certificates: the 300,000 are written in about fifteen
        # (with the default, a rebuild this small is one range, and no kill lands between two)
        CERTLEDGER_INDEX_RANGE_CERTIFICATES="20000",
    )
    head = c.chain.block_number()
    probe = MirrorStore(mirror_url)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    log = (tmp_path / "index.log").open("ab")
    killed_at: list[int | None] = []
    try:
        for round_ in range(12):
            before = _checkpoint(probe)
            if before is None:
                before = c.deployment.deployment_block - 1
            process = subprocess.Popen([str(CERTLEDGER), "index"], env=env, stdout=subprocess.DEVNULL, stderr=log)
            try:
                if round_ == 0:
                    let_it_run(rng.uniform(0.05, 1.5))  # while starting up, opening, creating the schema
                else:
                    # once this run has written a range, a random moment later: reading the
                    # next range, decoding it, or in the middle of writing it
                    wait_until(
                        lambda before=before, process=process: (
                            process.poll() is not None or (_checkpoint(probe) or before) > before
                        ),
                        timeout=180,
                        what="this run's first range written",
                        interval=0.01,
                    )
                    let_it_run(rng.uniform(0.0, 0.3))
                assert process.poll() is None, f"the indexer exited by itself with {process.returncode}; see {log.name}"
            finally:
                process.kill()  # SIGKILL
                process.wait(30)
            killed_at.append(_checkpoint(probe))
            if killed_at[-1] == head:
                break
    finally:
        log.close()
        probe.dispose()

    print(
        f"kill -9 left the mirror at blocks {killed_at} (deployment {c.deployment.deployment_block}, head {head}, seed {seed})"
    )
    partial = [k for k in killed_at if k is not None and c.deployment.deployment_block <= k < head]
    assert len(partial) >= 2, f"kills did not land mid-indexing (checkpoints {killed_at}, head {head}, seed {seed})"
    done = subprocess.run(
        [str(CERTLEDGER), "index", "--once", "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["mirror_block"] == head and report["lag_blocks"] == 0
    assert report["certificates"] == BIG_BATCHES * BIG_SIZE + sum(3 + i for i in range(2))

    store = open_store(mirror_url, c.deployment)
    assert_same_mirror(store.dump(), rebuild_dump(c.chain.url, c.deployment, fresh_mirror_url()))


# ---------------------------------------------------------------------- (b) the node goes away


@pytest.fixture
def own_node(tmp_path) -> Iterator[dict[str, Any]]:
    """A dedicated anvil with a state file, so that it can be stopped and started again with
    the same chain on the same port."""
    port = free_port()
    state = tmp_path / "anvil-state.json"
    box: dict[str, Any] = {
        "args": anvil_args(port, 31337, state),
        "url": f"http://127.0.0.1:{port}",
        "log": tmp_path / "anvil.log",
    }
    box["node"] = Node(box["args"], box["url"], box["log"])
    yield box
    if box["node"] is not None:
        box["node"].stop()


def test_node_going_away_is_retried_and_caught_up_after(own_node, mirror_url, fresh_mirror_url):
    c = issuing_on(Chain(own_node["url"]))
    some_history(c, 2)
    store = open_store(mirror_url, c.deployment)
    q = MirrorQueries(store)
    indexer = indexer_for(own_node["url"], c.deployment, store, poll_interval=0.05, backoff_max=0.5)
    polls = {"n": 0}
    real_target = indexer.target_block

    def counted_target() -> int:
        polls["n"] += 1
        return real_target()

    indexer.target_block = counted_target
    follower = Follower(indexer)
    try:
        wait_until(mirrored_up_to(store, c.chain.block_number()), what="the initial catch-up")
        mirrored_head = store.checkpoint()[0]

        own_node["node"].stop()
        own_node["node"] = None
        wait_until(lambda: q.head().last_error != "", what="the outage to be recorded")
        seen = polls["n"]
        wait_until(lambda: polls["n"] >= seen + 4, what="more attempts while the node is away")
        assert follower.alive()  # still retrying, not crashed
        head = q.head()  # the mirror still answers
        assert head.block == mirrored_head and "unreachable" in head.last_error
        assert q.certificate_count() > 0
        with store.engine.connect() as conn:
            assert store.meta(conn).get("last_error_at")

        own_node["node"] = Node(own_node["args"], own_node["url"], own_node["log"])
        assert c.chain.block_number() == mirrored_head  # the same chain came back
        batch = c.registry.anchor_batch(c.deployer, c.agency_keys["ZJ-EDU"], "ZJ-EDU", "DEGREE", [Account.create().key])
        wait_until(
            lambda: q.certificate(batch.cert_hashes[0]) is not None, what="the catch-up after the node came back"
        )
        wait_until(lambda: q.head().last_error == "", what="the error to clear")
        assert follower.alive()
    finally:
        follower.stop()
    assert_same_mirror(store.dump(), rebuild_dump(own_node["url"], c.deployment, fresh_mirror_url()))


def test_indexer_pointed_at_no_node_keeps_retrying_then_catches_up(mirror_url, fresh_mirror_url, tmp_path):
    """Start the indexer before the node (a free port), then start the node there."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "state.json"
    args = anvil_args(port, 31337, state)
    # the chain is prepared first, then the node is stopped, so the indexer starts against nothing
    node = Node(args, url, tmp_path / "anvil.log")
    try:
        c = issuing_on(Chain(url))
        some_history(c, 2)
    finally:
        node.stop()
    store = open_store(mirror_url, c.deployment)
    q = MirrorQueries(store)
    follower = Follower(indexer_for(url, c.deployment, store, poll_interval=0.05, backoff_max=0.5))
    node = None
    try:
        wait_until(lambda: q.head().last_error != "", what="the first failed attempt")
        assert follower.alive() and q.head().block == c.deployment.deployment_block - 1
        node = Node(args, url, tmp_path / "anvil.log")
        head = c.chain.block_number()
        wait_until(mirrored_up_to(store, head), what="the catch-up once the node is up")
    finally:
        follower.stop()
        if node is not None:
            rebuilt = rebuild_dump(url, c.deployment, fresh_mirror_url())
            node.stop()
    assert_same_mirror(store.dump(), rebuilt)


# ---------------------------------------------------------------------- (c, d) difficult providers


MAX_LOG_RANGE = 5


def test_provider_block_range_limit_shrinks_the_span(anvil, rpc_proxy, mirror_url, fresh_mirror_url):
    """Like Besu's limit on eth_getLogs ranges: ranges over 5 blocks get a JSON-RPC error."""
    c = issuing_on(Chain(anvil.url))
    some_history(c, 6)
    spans: dict[str, list[int]] = {"refused": [], "served": []}

    def limit(payload: Any, _number: int) -> tuple[int, Any] | None:
        calls = payload if isinstance(payload, list) else [payload]
        for call in calls:
            if call.get("method") == "eth_getLogs":
                f = call["params"][0]
                span = int(f["toBlock"], 16) - int(f["fromBlock"], 16) + 1
                if span > MAX_LOG_RANGE:
                    spans["refused"].append(span)
                    error = {"code": -32005, "message": f"block range {span} exceeds the limit of {MAX_LOG_RANGE}"}
                    if isinstance(payload, list):
                        return 200, [{"jsonrpc": "2.0", "id": x.get("id"), "error": error} for x in payload]
                    return 200, {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
                spans["served"].append(span)
        return None

    proxy = rpc_proxy(anvil.url, limit)
    store = open_store(mirror_url, c.deployment)
    indexer = indexer_for(proxy.url, c.deployment, store, initial_span=16)
    indexer.catch_up()
    head = c.chain.block_number()
    assert head - c.deployment.deployment_block > 3 * MAX_LOG_RANGE
    assert store.checkpoint()[0] == head
    assert spans["refused"] and max(spans["served"]) <= MAX_LOG_RANGE
    assert_same_mirror(store.dump(), rebuild_dump(anvil.url, c.deployment, fresh_mirror_url()))


def test_provider_failing_every_third_request_with_503_is_retried_by_run(
    anvil, rpc_proxy, mirror_url, fresh_mirror_url
):
    c = issuing_on(Chain(anvil.url))
    some_history(c, 4)
    failed = {"n": 0}

    seen: list[str] = []

    def every_third(payload: Any, number: int) -> tuple[int, Any] | None:
        seen.append(payload.get("method", "?") if isinstance(payload, dict) else f"batch of {len(payload)}")
        if number % 3 == 0:
            failed["n"] += 1
            seen[-1] += " -> 503"
            return 503, {"error": "service unavailable"}
        return None

    proxy = rpc_proxy(anvil.url, every_third)
    head = c.chain.block_number()
    store = open_store(mirror_url, c.deployment)
    follower = Follower(indexer_for(proxy.url, c.deployment, store, poll_interval=0.05, backoff_max=0.5))
    try:
        try:
            wait_until(mirrored_up_to(store, head), timeout=60, what="run()")
        except pytest.fail.Exception:
            pytest.fail(
                f"run() did not complete through a proxy failing every 3rd request: {failed['n']} failures, "
                f"checkpoint {store.checkpoint()[0]} of {head}; the last requests: {seen[-9:]}",
                pytrace=False,
            )
        assert follower.alive()
    finally:
        follower.stop()
    assert failed["n"] > 0
    assert_same_mirror(store.dump(), rebuild_dump(anvil.url, c.deployment, fresh_mirror_url()))


def test_catch_up_alone_reports_an_unavailable_node_as_chain_unavailable(mirror_url, consortium):
    """Without run()'s retries the failure surfaces as the domain's error, not a crash elsewhere."""
    store = open_store(mirror_url, consortium.deployment)
    indexer = indexer_for(f"http://127.0.0.1:{free_port()}", consortium.deployment, store)
    with pytest.raises(LedgerError) as info:
        indexer.catch_up()
    assert info.value.code == "CHAIN_UNAVAILABLE"
    assert store.checkpoint()[0] == consortium.deployment.deployment_block - 1


@pytest.mark.parametrize("failing", ["_insert_certificates", "_set_meta"], ids=["mid-write", "at-checkpoint"])
def test_a_write_failing_midway_leaves_no_trace(anvil, mirror_url, fresh_mirror_url, monkeypatch, failing):
    """The deterministic twin of kill -9: the range's transaction breaks after some of its rows
    were written; none of them may stay, and the next run writes each exactly once."""
    c = issuing_on(Chain(anvil.url))
    some_history(c, 3)
    store = open_store(mirror_url, c.deployment)
    indexer = indexer_for(anvil.url, c.deployment, store, initial_span=4)
    indexer.catch_up()
    before, checkpoint = store.dump(), store.checkpoint()
    some_history(c, 3)
    real = getattr(MirrorStore, failing)

    def breaks(self, conn, *args):
        if failing == "_set_meta" and "checkpoint_block" not in args[0]:
            return real(self, conn, *args)
        real(self, conn, *args)  # the rows are in the transaction ...
        raise OSError("disk full")  # ... and then it breaks

    monkeypatch.setattr(MirrorStore, failing, breaks)
    with pytest.raises(OSError):
        indexer.catch_up()
    assert store.dump() == before and store.checkpoint() == checkpoint
    monkeypatch.setattr(MirrorStore, failing, real)
    indexer.catch_up()
    assert store.checkpoint()[0] == c.chain.block_number()
    assert_same_mirror(store.dump(), rebuild_dump(anvil.url, c.deployment, fresh_mirror_url()))


# ---------------------------------------------------------------------- (e) one indexer per mirror; a dead one taken over

WIDE_BATCHES, WIDE_SIZE = 20, 10_000
TERMINATED = re.compile(r"terminated database backend (\d+)")


@pytest.fixture(scope="module")
def wide_chain(anvil) -> Consortium:
    """20 batches of 10,000 hashes: the indexer's first ranges are large writes."""
    c = issuing_on(Chain(anvil.url))
    anchor_many(c, WIDE_BATCHES, WIDE_SIZE)
    return c


class IndexerProcess:
    """``certledger index`` as a real process, its stderr (the log) in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        with log.open("ab") as err:
            self.process = subprocess.Popen(
                [str(CERTLEDGER), "index", *args], env=env, stdout=subprocess.DEVNULL, stderr=err
            )
        self.pid = self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminated(self) -> set[int]:
        """The database backends this indexer's log says it terminated."""
        return {int(pid) for pid in TERMINATED.findall(self.log())}

    def stop(self) -> int:
        """SIGTERM (a clean stop), or SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return self.process.returncode


class Sessions:
    """What the PostgreSQL server shows about the indexers' sessions on one mirror database;
    also holds a row lock on the checkpoint, to keep an indexer's write open as long as a test needs."""

    def __init__(self, url: str) -> None:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.watch = psycopg.connect(dsn, autocommit=True)
        self.blocker = psycopg.connect(dsn)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.watch.execute(sql).fetchall()

    def indexer_sessions(self) -> dict[int, tuple[str, str | None, bool]]:
        """pid -> (state, wait event type, has written in its open transaction)."""
        return {
            pid: (state, wait, wrote)
            for pid, state, wait, wrote in self.rows(
                f"SELECT pid, state, wait_event_type, backend_xid IS NOT NULL FROM pg_stat_activity "
                f"WHERE datname = current_database() AND application_name = '{INDEXER_APPLICATION_NAME}'"
            )
        }

    def lease_holder(self) -> int | None:
        rows = self.rows(
            f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = {LOCK_KEY[0]} "
            f"AND objid = {LOCK_KEY[1]} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return rows[0][0] if rows else None

    def alive(self, pids: set[int]) -> set[int]:
        return {pid for (pid,) in self.rows("SELECT pid FROM pg_stat_activity") if pid in pids}

    def writer_waiting_on_the_checkpoint(self) -> int | None:
        """The indexer session that wrote a range and now waits for the checkpoint row."""
        waiting = [pid for pid, (_, wait, wrote) in self.indexer_sessions().items() if wrote and wait == "Lock"]
        return waiting[0] if waiting else None

    def hold_checkpoint(self) -> None:
        self.blocker.execute("SELECT value FROM meta WHERE key = 'checkpoint_block' FOR UPDATE")

    def release_checkpoint(self) -> None:
        self.blocker.rollback()

    def close(self) -> None:
        self.blocker.close()
        self.watch.close()


def _index_env(c: Consortium, home: Path, mirror_url: str) -> dict[str, str]:
    c.deployment.save(home / "deployment.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
    env.update(
        CERTLEDGER_HOME=str(home),
        CERTLEDGER_RPC_URL=c.chain.url,
        CERTLEDGER_DB_URL=mirror_url,
        CERTLEDGER_POLL_INTERVAL="0.1",
    )
    return env


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_indexer_stopped_mid_write_is_taken_over_and_cannot_write_when_it_resumes(
    wide_chain, mirror_url, fresh_mirror_url, tmp_path
):
    """SIGSTOP the indexer while a large range's transaction is open on the server: nothing
    on the server notices a stopped client. A new indexer sees the lock holder's heartbeat stop,
    terminates its session and the open transaction, and takes over; the old one, resumed,
    stops at its next write instead of writing beside the new one."""
    c = wide_chain
    head = c.chain.block_number()
    env = _index_env(c, tmp_path, mirror_url)
    store = open_store(mirror_url, c.deployment)  # the schema exists: the test can lock the checkpoint row
    db = Sessions(mirror_url)
    old = new = None
    try:
        db.hold_checkpoint()
        old = IndexerProcess(env, tmp_path / "old.log")
        wait_until(lambda: db.writer_waiting_on_the_checkpoint() is not None, what="the first indexer's range write")
        writer, lease = db.writer_waiting_on_the_checkpoint(), db.lease_holder()
        assert lease is not None and lease != writer
        os.kill(old.pid, signal.SIGSTOP)
        wait_until(lambda: _stopped(old.pid), what="the first indexer to stop")

        new = IndexerProcess(env, tmp_path / "new.log")
        # The takeover is an event: the new indexer names the backends it ended, and they are gone.
        wait_until(
            lambda: {lease, writer} <= new.terminated(),
            timeout=60,
            what=f"the new indexer to terminate backends {lease} and {writer}; its log: {new.log()[-2000:]}",
        )
        assert db.alive({lease, writer}) == set()
        assert _stopped(old.pid) and new.process.poll() is None
        assert db.lease_holder() not in (None, lease)
        db.release_checkpoint()
        wait_until(mirrored_up_to(store, head), what="the new indexer to catch up")

        os.kill(old.pid, signal.SIGCONT)
        assert old.process.wait(60) == 1
        last = old.log().strip().splitlines()[-1]
        assert last.startswith("error: another indexer took over this mirror (pid "), old.log()[-2000:]
        assert f"pid {new.pid} " in last
        assert new.process.poll() is None, new.log()[-2000:]
        assert new.stop() == 0, new.log()[-2000:]
    finally:
        for p in (old, new):
            if p is not None:
                p.process.kill()
                p.process.wait(30)
        db.close()
    assert store.checkpoint()[0] == head
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM certificates")).scalar() == WIDE_BATCHES * WIDE_SIZE
    assert_same_mirror(store.dump(), rebuild_dump(c.chain.url, c.deployment, fresh_mirror_url()))


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_indexer_killed_mid_write_leaves_no_session_behind_and_a_second_indexer_is_refused(
    wide_chain, mirror_url, fresh_mirror_url, tmp_path
):
    """kill -9 while the range's statement is still running on the server (here: waiting for
    a row lock the test holds, as a long INSERT would run on): the server ends the killed
    client's sessions by itself within seconds, while the test still holds its lock (before,
    the statement went on until it finished and only then noticed the client was gone). The
    next indexer takes over at once; a second one, started while it works, is refused."""
    c = wide_chain
    head = c.chain.block_number()
    env = _index_env(c, tmp_path, mirror_url)
    store = open_store(mirror_url, c.deployment)
    db = Sessions(mirror_url)
    old = new = None
    try:
        db.hold_checkpoint()
        old = IndexerProcess(env, tmp_path / "old.log")
        wait_until(lambda: db.writer_waiting_on_the_checkpoint() is not None, what="the first indexer's range write")
        sessions = set(db.indexer_sessions())
        old.process.kill()
        old.process.wait(30)
        # Still holding the lock the killed statement waits for: only the server's check of
        # the client connection can end it.
        wait_until(
            lambda: db.alive(sessions) == set(),
            timeout=30,
            what=f"the server to end the killed indexer's sessions {sessions}",
        )
        db.release_checkpoint()

        new = IndexerProcess(env, tmp_path / "new.log")
        wait_until(lambda: db.lease_holder() is not None, what="the new indexer to take the lock")
        second = subprocess.run([str(CERTLEDGER), "index"], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: another indexer is running against this mirror (pid "), (
            second.stderr
        )
        assert f"pid {new.pid} on " in lines[0] and ", since " in lines[0]
        wait_until(mirrored_up_to(store, head), what="the new indexer to catch up")
        assert new.process.poll() is None and new.terminated() == set(), new.log()[-2000:]
        assert new.stop() == 0, new.log()[-2000:]
    finally:
        for p in (old, new):
            if p is not None:
                p.process.kill()
                p.process.wait(30)
        db.close()
    assert_same_mirror(store.dump(), rebuild_dump(c.chain.url, c.deployment, fresh_mirror_url()))


def test_second_indexer_on_the_same_mirror_is_refused_with_one_line(anvil, mirror_url, tmp_path):
    c = issuing_on(Chain(anvil.url))
    some_history(c, 2)
    env = _index_env(c, tmp_path, mirror_url)
    first = IndexerProcess(env, tmp_path / "first.log")
    probe = MirrorStore(mirror_url)
    try:
        wait_until(lambda: (_checkpoint(probe) or 0) >= c.chain.block_number(), what="the first indexer to catch up")
        second = subprocess.run(
            [str(CERTLEDGER), "index", "--once"], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [second.stderr.strip()]
        assert second.stderr.startswith(f"error: another indexer is running against this mirror (pid {first.pid} on ")
        assert first.process.poll() is None
    finally:
        probe.dispose()
        assert first.stop() == 0, first.log()[-2000:]
    # once it stopped, the mirror is free again
    again = subprocess.run(
        [str(CERTLEDGER), "index", "--once", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("mirror_url", ["postgresql"], indirect=True)
def test_postgresql_sessions_are_set_to_drop_a_dead_client_within_seconds(mirror_url):
    store = MirrorStore(mirror_url, indexer=True)
    try:
        with store.engine.connect() as conn:
            shown = {
                name: conn.execute(text(f"SHOW {name}")).scalar()
                for name in (
                    "application_name",
                    "idle_in_transaction_session_timeout",
                    "client_connection_check_interval",
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                )
            }
            client = conn.connection.driver_connection.info.get_parameters()
    finally:
        store.dispose()
    assert shown == {
        "application_name": INDEXER_APPLICATION_NAME,
        "idle_in_transaction_session_timeout": "5s",
        "client_connection_check_interval": "1s",
        "tcp_keepalives_idle": "5",
        "tcp_keepalives_interval": "2",
        "tcp_keepalives_count": "3",
    }
    assert (
        client["keepalives"],
        client["keepalives_idle"],
        client["keepalives_interval"],
        client["keepalives_count"],
    ) == ("1", "5", "2", "3")
