"""Nobody believes a chain that lost its history, and a hung node hangs nothing.

- The node is reset to an empty chain under a following indexer and a serving API: the mirror
  stays as it was, the indexer stops and says why, /healthz answers 503 with the reason, every
  verification is ERROR (mirror and chain sources), and the CLI refuses to write. When the
  chain is restored, everything resumes.
- A reorganisation deeper than the limit stops the indexer instead of rewriting the mirror.
- With the node frozen (SIGSTOP), /healthz answers 503 at once, a CLI write fails within its
  timeout with one line, and verification keeps answering (ERROR once the mirror is stale).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_helpers import GD, ZJ, id_rows, issue_rows, new_deployment
from helpers import Consortium, Node, free_port, wait_until
from mirror_helpers import anvil_reorg, signed_anchor

from ledger.chain import Chain
from ledger.contracts import Status
from ledger.keystore import Keystore
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries, MirrorStore
from ledger.mirror.indexer import ChainHistoryLost
from ledger.node import anvil_args

CLI = str(Path(sys.executable).parent / "certledger")


@dataclass
class Stack:
    node: Node
    port: int
    chain: Chain
    c: Consortium
    home: Path
    directory: Path
    store: MirrorStore
    indexer: Indexer
    url: str
    docs: list[dict[str, Any]]

    def get(self, path: str, timeout: float = 10.0, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=timeout)

    def verify(self, doc: dict[str, Any], timeout: float = 10.0, **params: Any) -> dict[str, Any]:
        r = httpx.post(self.url + "/v1/verify", json={"document": doc}, params=params, timeout=timeout)
        assert r.status_code == 200, r.text
        return r.json()

    def cli(self, *args: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess[str]:
        full = {
            **os.environ,
            "CERTLEDGER_HOME": str(self.home),
            "CERTLEDGER_RPC_URL": self.node.url,
            "CERTLEDGER_PASSWORD": "pw",
            **env,
        }
        return subprocess.run([CLI, *args], env=full, capture_output=True, text=True, timeout=timeout)


def start_node(directory: Path, port: int, *extra: str) -> Node:
    return Node([*anvil_args(port, 31337, None), *extra], f"http://127.0.0.1:{port}", directory / f"anvil-{port}.log")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    from api.app import ApiSettings, create_app

    port = free_port()
    dump = tmp_path / "chain.json"
    node = start_node(tmp_path, port, "--dump-state", str(dump))
    server = indexer = None
    follower = None
    try:
        chain = Chain(node.url)
        c = new_deployment(chain, types=("ID_CARD",))
        home = tmp_path / "home"
        c.deployment.save(home / "deployment.json")
        Keystore(home / "keys", "pw", 1024).import_private_key("psb", c.agency_keys["GD-PSB"].key.hex())
        docs = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(3), tmp_path / "issued")
        db = f"sqlite:///{tmp_path}/mirror.db"
        store = MirrorStore(db)
        store.open(c.deployment)
        indexer = Indexer(
            node.url, c.deployment, store, IndexerConfig(poll_interval=0.1, identity_interval=0.5, rpc_timeout=2.0)
        )
        follower = threading.Thread(target=indexer.run, daemon=True)
        follower.start()
        api_port = free_port()
        settings = ApiSettings(home=home, rpc_url=node.url, db_url=db, max_staleness_seconds=3.0)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=api_port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        s = Stack(node, port, chain, c, home, tmp_path, store, indexer, f"http://127.0.0.1:{api_port}", docs)
        wait_until(lambda: server.started, what="the API listening")
        wait_until(lambda: s.get("/healthz").status_code == 200, what="a healthy API")
        yield s
    finally:
        if server is not None:
            server.should_exit = True
        if indexer is not None:
            indexer.stop()
        if follower is not None:
            follower.join(timeout=10)
        try:
            os.kill(node.process.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        node.stop()


def test_a_reset_chain_is_error_everywhere_and_the_mirror_is_kept_until_it_is_restored(stack: Stack) -> None:
    s = stack
    doc = s.docs[0]
    assert s.verify(doc, verifier_region=str(ZJ))["verdict"] == "VALID"
    before = s.store.dump()
    assert before["certificates"]

    # The node's state is lost: it comes back as an empty chain on the same port.
    s.node.stop()  # --dump-state: the chain as it was is kept aside in chain.json
    assert (s.directory / "chain.json").stat().st_size > 0
    empty = start_node(s.directory, s.port)
    try:
        wait_until(lambda: MirrorQueries(s.store).head().chain_problem, what="the indexer to notice")
        problem = MirrorQueries(s.store).head().chain_problem
        assert "genesis" in problem or "history" in problem, problem
        health = wait_until(lambda: (r := s.get("/healthz")).status_code == 503 and r, what="/healthz 503").json()
        assert "genesis" in health["detail"] or "history" in health["detail"], health
        for body in (
            s.verify(doc),
            s.verify(doc, source="chain"),
            s.get(f"/v1/certificates/{doc['hash']}", agency="GD-PSB").json(),
        ):
            assert body["verdict"] == "ERROR", body
        # the CLI refuses to send to that chain
        out = s.cli("revoke", doc["hash"], "--agency", "GD-PSB", "--reason", "FRAUD", "--key", "psb")
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 1 and len(lines) == 1 and "refusing" in lines[0], out.stderr
        rounds = {"n": 0}
        catch_up = s.indexer.catch_up

        def counted(*args: Any, **kwargs: Any) -> Any:
            rounds["n"] += 1
            return catch_up(*args, **kwargs)

        s.indexer.catch_up = counted
        # the indexer runs a few more rounds against the empty chain ...
        wait_until(lambda: rounds["n"] >= 3, what="three more indexer rounds against the empty chain")
        del s.indexer.catch_up
        assert s.store.dump() == before  # ... and nothing of the mirror was rolled back
        with pytest.raises(ChainHistoryLost):
            s.indexer.check_identity(force=True)
    finally:
        empty.stop()

    # The chain is restored: everything resumes by itself.
    restored = start_node(s.directory, s.port, "--load-state", str(s.directory / "chain.json"))
    s.node = restored
    try:
        wait_until(lambda: not MirrorQueries(s.store).head().chain_problem, what="the indexer to resume")
        wait_until(lambda: s.get("/healthz").status_code == 200, what="/healthz 200 again")
        assert s.verify(doc, verifier_region=str(ZJ))["verdict"] == "VALID"
        assert s.verify(doc, source="chain")["verdict"] == "VALID"
        s.c.registry.chain.w3.provider.make_request("evm_mine", [])
        Chain(restored.url)  # the node answers
        out = s.cli("revoke", doc["hash"], "--agency", "GD-PSB", "--reason", "FRAUD", "--key", "psb", "--json")
        assert out.returncode == 0, out.stderr
        wait_until(lambda: s.verify(doc)["verdict"] == "REVOKED", what="the revocation in the mirror")
    finally:
        restored.stop()


def test_a_reorganisation_deeper_than_the_limit_stops_the_indexer(tmp_path: Path) -> None:
    port = free_port()
    node = start_node(tmp_path, port)
    try:
        chain = Chain(node.url)
        c = new_deployment(chain, types=("ID_CARD",))
        issue_rows(c, "GD-PSB", "ID_CARD", id_rows(2), tmp_path / "a")
        for _ in range(6):
            chain.w3.provider.make_request("evm_mine", [])
        store = MirrorStore(f"sqlite:///{tmp_path}/mirror.db")
        store.open(c.deployment)
        indexer = Indexer(node.url, c.deployment, store, IndexerConfig(max_reorg_depth=3))
        indexer.catch_up()
        before = store.dump()
        checkpoint = store.checkpoint()
        # anvil replaces the last 5 blocks by others (a new batch in the first): deeper than the limit of 3
        raw, _ = signed_anchor(c, "GD-PSB", "ID_CARD", 2)
        anvil_reorg(chain, 5, [raw])
        with pytest.raises(ChainHistoryLost, match="deeper than the limit"):
            indexer.catch_up()
        assert store.dump() == before and store.checkpoint() == checkpoint
        assert "deeper than the limit" in MirrorQueries(store).head().chain_problem
        # within the limit, a reorganisation is followed as always
        deep = Indexer(node.url, c.deployment, store, IndexerConfig(max_reorg_depth=64))
        deep.catch_up()
        assert store.checkpoint()[1] == bytes.fromhex(chain.w3.eth.get_block("latest")["hash"].hex().removeprefix("0x"))
        assert MirrorQueries(store).head().chain_problem == ""
    finally:
        node.stop()


def test_a_frozen_node_hangs_nothing(stack: Stack) -> None:
    s = stack
    doc = s.docs[1]
    os.kill(s.node.process.pid, signal.SIGSTOP)
    try:
        # /healthz answers at once (well within 1 s), and soon says the node does not answer
        health = wait_until(
            lambda: (r := s.get("/healthz", timeout=1.0)).status_code == 503 and r, what="/healthz 503"
        ).json()
        assert "does not answer" in health["detail"], health
        # a CLI write fails within its timeout, with one line
        out = s.cli(
            "revoke",
            doc["hash"],
            "--agency",
            "GD-PSB",
            "--reason",
            "FRAUD",
            "--key",
            "psb",
            timeout=60.0,
            CERTLEDGER_RPC_TIMEOUT="2",
        )
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 1 and len(lines) == 1, out.stderr
        assert "does not answer" in lines[0] or "no node answers" in lines[0], lines
        # verification keeps answering: ERROR once the mirror is stale, on either source
        wait_until(lambda: s.verify(doc, timeout=1.0)["verdict"] == "ERROR", what="mirror verification ERROR")
        assert s.verify(doc, timeout=1.0, source="chain")["verdict"] == "ERROR"
    finally:
        os.kill(s.node.process.pid, signal.SIGCONT)
    wait_until(lambda: s.get("/healthz").status_code == 200, what="/healthz 200 after the node thaws")
    assert s.verify(doc)["verdict"] == "VALID"
    assert s.c.registry.certificate_status("GD-PSB", bytes.fromhex(doc["hash"][2:]))[0] is Status.ACTIVE
    assert GD


def test_a_following_indexers_memory_stays_flat(tmp_path: Path) -> None:
    """The short version of ``bench/indexer_soak.py``: ``certledger index`` follows a chain that
    grows by a batch of 10,000 certificates at a time; after a warm-up its resident memory does
    not creep up with every batch (it used to grow by ~1 MB per 10,000 certificates)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from _common import anchor_many, one_agency

    port = free_port()
    node = start_node(tmp_path, port)
    indexer = None
    try:
        chain = Chain(node.url)
        setup = one_agency(chain)
        home = tmp_path / "home"
        setup.registry.deployment.save(home / "deployment.json")
        url = f"sqlite:///{tmp_path}/mirror.db"
        env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": node.url, "CERTLEDGER_DB_URL": url}
        store = MirrorStore(url)
        store.open(setup.registry.deployment)
        indexer = subprocess.Popen([CLI, "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rss = []
        for _ in range(14):
            anchor_many(setup, 10_000, 10_000)
            head = chain.block_number()
            wait_until(
                lambda head=head: indexer.poll() is None and store.checkpoint()[0] >= head,
                timeout=60,
                what="the indexer to follow",
            )
            status = Path(f"/proc/{indexer.pid}/status").read_text()
            rss.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024)
        after_warmup = rss[4:]
        assert max(after_warmup) - min(after_warmup) < 5, rss
        store.dispose()
    finally:
        if indexer is not None:
            indexer.terminate()
            indexer.wait(15)
        node.stop()
