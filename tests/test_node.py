"""The embedded chain keeps its state across a clean restart and a kill -9 of anvil, of its
keeper, or of both, at any moment: generations, the block log, damaged files, older installs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import free_port, let_it_run, wait_until

from cli import main
from ledger.chain import Chain
from ledger.deployment import Deployment, deploy
from ledger.errors import ConfigError
from ledger.node import EmbeddedNode, anvil_args, wait_for_rpc
from ledger.node_state import StateUnrecoverable
from ledger.registry import Registry

AGENCY, CERT_TYPE = "GD-PSB", "ID_CARD"
INTERVAL = 1.0
# The documented window (docs/reliability.md): blocks younger than the keeper's interval plus
# the time it takes to write them may be lost. One extra second covers a loaded 2-core machine.
WINDOW = INTERVAL + 1.0


@pytest.fixture
def node(tmp_path):
    n = EmbeddedNode(tmp_path / "chain", port=free_port(), dump_interval=INTERVAL)
    yield n
    n.stop()


@dataclass
class Issuer:
    """A deployment with one agency and the accounts that anchor for it."""

    deployment: Deployment
    submitter: LocalAccount
    key: LocalAccount
    anchored: dict[bytes, tuple[list[bytes], int, float]] = field(default_factory=dict)  # root -> (hashes, block, seen)

    def registry(self, url: str) -> Registry:
        return Registry(Chain(url), self.deployment)  # a fresh Chain: no nonce cached before a restart


def _setup(url: str) -> Issuer:
    chain = Chain(url)
    admin = Account.create()
    registry = Registry(chain, deploy(chain, Account.create(), [(440000, admin.address)]))
    registry.propose_add_type(admin, CERT_TYPE, {"fields": []})
    registry.register_agency(admin, AGENCY, 440000, [CERT_TYPE])
    key = Account.create()
    registry.add_key(admin, AGENCY, key.address)
    return Issuer(registry.deployment, admin, key)


def _anchor(issuer: Issuer, registry: Registry, n: int) -> bytes:
    """The one place this file anchors certificates (the contract's anchoring API may change)."""
    batch = registry.anchor_batch(issuer.submitter, issuer.key, AGENCY, CERT_TYPE, [os.urandom(32) for _ in range(n)])
    issuer.anchored[batch.root] = (list(batch.cert_hashes), batch.tx.block_number, time.monotonic())
    return batch.root


def _on_chain(registry: Registry) -> dict[bytes, set[bytes]]:
    """Every anchored batch, read back from the BatchAnchored events: root -> certificate hashes."""
    logs = registry.certificates.events.BatchAnchored().get_logs(from_block=registry.deployment.deployment_block)
    return {bytes(log["args"]["root"]): {bytes(h) for h in log["args"]["certHashes"]} for log in logs}


def _assert_all_anchored(issuer: Issuer, url: str, before: float = float("inf")) -> int:
    """Every batch seen mined before ``before`` (monotonic) is on the chain, each of its
    certificates in its event and the batch in the contract's view; returns how many."""
    registry = issuer.registry(url)
    chain = registry.chain
    for name in ("consortium", "agency_registry", "certificate_registry"):
        assert chain.has_code(getattr(issuer.deployment, name)), f"{name} lost its code"
    on_chain = _on_chain(registry)
    expected = {root: v for root, v in issuer.anchored.items() if v[2] < before}
    for root, (hashes, block, _) in expected.items():
        assert root in on_chain, f"batch anchored in block {block} is gone (head now {chain.block_number()})"
        assert on_chain[root] == set(hashes)
        assert registry.batch(AGENCY, root) is not None
    return len(expected)


def _wait_logged(node: EmbeddedNode, block: int, timeout: float = 10.0) -> None:
    """Wait until the keeper's block log holds ``block``."""
    wait_until(
        lambda: ((node.status().keeper or {}).get("log_head") or -1) >= block,
        timeout=timeout,
        what=f"block {block} in the keeper's log",
        interval=0.1,
    )


def _cli(home: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `certledger` command, in a process of its own."""
    env = {
        **os.environ,
        "CERTLEDGER_HOME": str(home),
        "CERTLEDGER_PORT": str(port),
        "CERTLEDGER_CHAIN_DUMP_INTERVAL": str(INTERVAL),
    }
    env.pop("CERTLEDGER_RPC_URL", None)
    exe = Path(sys.executable).parent / "certledger"
    return subprocess.run([str(exe), *args], check=False, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def certledger(monkeypatch, capsys, tmp_path):
    """`certledger ...` run in this process (no interpreter start-up: the kill test stays short);
    returns (exit code, stdout, stderr)."""
    home, port = tmp_path / "home", free_port()
    monkeypatch.setenv("CERTLEDGER_HOME", str(home))
    monkeypatch.setenv("CERTLEDGER_PORT", str(port))
    monkeypatch.setenv("CERTLEDGER_CHAIN_DUMP_INTERVAL", str(INTERVAL))
    monkeypatch.delenv("CERTLEDGER_RPC_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    run.node = EmbeddedNode(home / "chain", port=port, dump_interval=INTERVAL)  # type: ignore[attr-defined]
    yield run
    run("chain", "down")


# ---------------------------------------------------------------------- restarts


def test_chain_up_is_idempotent(node):
    first = node.start()
    again = node.start()
    assert first.running and again.running
    assert first.pid == again.pid and first.keeper_pid == again.keeper_pid
    assert first.restored is not None and first.restored["empty_chain"]
    assert again.restored is None  # reused, nothing restored


def test_state_survives_clean_restart(node):
    node.start()
    issuer = _setup(node.url)
    root = _anchor(issuer, issuer.registry(node.url), 5)
    head = Chain(node.url).block_number()
    assert node.stop()
    assert not node.status().running
    newest = node.state.generations()[-1]
    assert newest.block == head  # `chain down` writes a last generation
    status = node.start()
    assert status.block == head and status.restored["replayed_blocks"] == 0
    assert _assert_all_anchored(issuer, node.url) == 1
    assert list(_on_chain(issuer.registry(node.url))) == [root]


def test_state_survives_kill_9_of_anvil_and_keeper(node):
    status = node.start()
    issuer = _setup(node.url)
    registry = issuer.registry(node.url)
    for _ in range(3):
        _anchor(issuer, registry, 50)
    head = registry.chain.block_number()
    _wait_logged(node, head)
    os.kill(status.pid, signal.SIGKILL)
    os.kill(status.keeper_pid, signal.SIGKILL)
    wait_until(lambda: not node.status().running, timeout=30, what="the killed node to be seen as down")
    restarted = node.start()
    assert restarted.block == head
    assert restarted.keeper_pid not in (None, status.keeper_pid)
    assert _assert_all_anchored(issuer, node.url) == 3


def test_replayed_blocks_are_the_same_blocks(node):
    """A generation plus the block log gives back the very same chain: same block hashes."""
    node.dump_budget = 0.0001  # full dumps become rare: the log carries the new blocks
    node.start()
    issuer = _setup(node.url)
    registry = issuer.registry(node.url)
    for _ in range(4):
        _anchor(issuer, registry, 20)
    chain = registry.chain
    head = chain.block_number()
    hashes = [chain.w3.eth.get_block(n)["hash"] for n in range(head + 1)]
    _wait_logged(node, head)
    status = node.status()
    os.kill(status.pid, signal.SIGKILL)
    restarted = node.start()
    assert restarted.restored["replayed_blocks"] >= 4
    assert restarted.restored["replay"]["diverged_at"] is None
    again = Chain(node.url)
    assert [again.w3.eth.get_block(n)["hash"] for n in range(head + 1)] == hashes
    # new blocks are stamped from the wall clock again, not from the replayed past
    _anchor(issuer, issuer.registry(node.url), 1)
    assert abs(again.w3.eth.get_block("latest")["timestamp"] - time.time()) < 5


def test_keeper_killed_alone_is_restarted_by_chain_up_and_loses_nothing(node):
    status = node.start()
    issuer = _setup(node.url)
    os.kill(status.keeper_pid, signal.SIGKILL)
    wait_until(lambda: node.status().keeper_pid is None, timeout=30, what="the killed keeper to be seen as gone")
    assert node.status().running
    _anchor(issuer, issuer.registry(node.url), 10)  # mined while no keeper runs
    again = node.start()
    assert again.pid == status.pid and again.keeper_pid is not None
    _wait_logged(node, again.block)
    os.kill(again.pid, signal.SIGKILL)
    node.start()
    assert _assert_all_anchored(issuer, node.url) == 1


# ---------------------------------------------------------------------- damaged files


def test_damaged_newest_generation_is_kept_aside_and_an_older_one_replayed(node):
    node.start()
    issuer = _setup(node.url)
    head = Chain(node.url).block_number()
    _wait_logged(node, head)
    node.stop()  # a last generation at the head; older ones and the block log stay
    newest = node.state.generations()[-1]
    data = bytearray(newest.path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit: still JSON-shaped, still the right size
    newest.path.write_bytes(bytes(data))
    status = node.start()
    skipped = status.restored["skipped"]
    assert [s["file"] for s in skipped] == [newest.path.name]
    assert "SHA-256" in skipped[0]["reason"] and "kept aside" in skipped[0]["action"]
    assert status.restored["generation"] < newest.seq
    assert status.block == head
    assert _assert_all_anchored(issuer, node.url) == 0  # contracts still have code
    assert any(p.name.endswith(newest.path.name) for p in node.state.aside_dir.iterdir())


def test_only_damaged_state_is_refused_unless_fresh(node):
    node.start()
    _setup(node.url)
    node.stop()
    for generation in node.state.generations():
        generation.path.write_bytes(generation.path.read_bytes()[:100])  # writes cut short
    with pytest.raises(StateUnrecoverable, match=r"no saved state .* can be restored .*--fresh") as exc:
        node.start()
    assert "\n" not in str(exc.value)
    assert not node.status().running
    kept = sorted(p.name for p in node.state.aside_dir.iterdir())
    assert any("gen-" in name for name in kept)  # kept aside, not deleted
    status = node.start(fresh=True)
    assert status.running and status.block == 0 and status.restored["empty_chain"]


def test_an_older_install_state_json_is_migrated(tmp_path):
    """Older installs let anvil rewrite <chain>/state.json in place: the first `chain up` makes
    it a generation; a state.json cut short with no good copy is refused, not started over."""
    directory = tmp_path / "chain"
    directory.mkdir()
    port = free_port()
    old = subprocess.Popen(
        anvil_args(port, 31337, directory / "state.json"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        issuer = _setup(wait_for_rpc(f"http://127.0.0.1:{port}", process=old).url)
        head = Chain(f"http://127.0.0.1:{port}").block_number()
    finally:
        old.terminate()
        old.wait(10)  # anvil dumps its state on a clean exit
    node = EmbeddedNode(directory, port=port)
    try:
        status = node.start()
        assert status.restored["migrated_from"] == "state.json"
        assert status.block == head and not (directory / "state.json").exists()
        _assert_all_anchored(issuer, node.url)
    finally:
        node.stop()

    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "state.json").write_bytes(node.state.generations()[-1].path.read_bytes()[:5000])
    broken = EmbeddedNode(cut, port=free_port())
    with pytest.raises(StateUnrecoverable, match=r"state\.json: cut short"):
        broken.start()
    assert not broken.status().running


def test_port_taken_by_another_node_is_reported(node, tmp_path, anvil):
    other = EmbeddedNode(tmp_path / "other", port=int(anvil.url.rsplit(":", 1)[1]))
    with pytest.raises(ConfigError, match=r"port .* is taken"):
        other.start()


def test_chain_up_and_status_report_generations_as_json(certledger):
    code, out, err = certledger("chain", "up", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["running"] and report["restored"]["empty_chain"]
    status = json.loads(certledger("chain", "status", "--json")[1])
    assert status["keeper_pid"] and status["generations"][0]["block"] == 0
    human = certledger("chain", "status")[1]
    assert "keeper: pid" in human and "generation 1: block 0" in human
    os.kill(status["pid"], signal.SIGKILL)
    code, out, err = certledger("chain", "up")
    assert code == 0, err
    assert "restored generation" in out


def test_chain_up_with_only_damaged_state_fails_in_one_line(certledger):
    certledger("chain", "up")
    node = certledger.node
    node.stop()
    for generation in node.state.generations():
        generation.path.write_bytes(b"")
    code, _, err = certledger("chain", "up")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: no saved state of the chain can be restored") and "--fresh" in err
    code, out, _ = certledger("chain", "up", "--fresh")
    assert code == 0 and "started an empty chain" in out


# ---------------------------------------------------------------------- kill -9 at random moments


def _write_in_progress(node: EmbeddedNode) -> bool:
    return any(p.name.endswith(".tmp") for p in node.state.generations_dir.iterdir())


def _traffic(issuer: Issuer, registry: Registry, stop: threading.Event, rng: random.Random) -> None:
    """Anchor batches back to back until told to stop or the node dies under it."""
    while not stop.is_set():
        try:
            _anchor(issuer, registry, rng.randint(50, 300))
        except Exception:  # the node was killed under it
            return


def test_kill_9_at_random_moments_loses_at_most_the_window(certledger, tmp_path):
    """Certificates are anchored while anvil, the keeper or both are SIGKILLed at random
    moments, some of them while a full dump is being written; after each `certledger chain
    up`, every batch mined more than the window before the kill is still anchored (events and
    the contract's view), and the contracts still have code."""
    seed = int(os.environ.get("CERTLEDGER_TEST_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    trace = [f"seed {seed} (CERTLEDGER_TEST_SEED={seed} replays these moments)"]
    node = certledger.node
    # the first `chain up` is a process of its own: anvil and the keeper outlive it
    up = _cli(tmp_path / "home", node.port, "chain", "up", "--json")
    assert up.returncode == 0, up.stderr
    assert node.status().running and node.status().keeper_pid
    issuer = _setup(node.url)
    registry = issuer.registry(node.url)
    for _ in range(5):
        _anchor(issuer, registry, 500)  # 2,500 certificates to begin with
    mid_write_kills, worst_blocks = 0, 0
    # (what to kill, whether to wait for a generation being written)
    plan = [("anvil", False), ("both", True), ("anvil", True), ("keeper", True), ("both", False), ("both", True)]
    for target, during_dump in plan:
        stop = threading.Event()
        sender = threading.Thread(target=_traffic, args=(issuer, issuer.registry(node.url), stop, rng), daemon=True)
        sender.start()
        let_it_run(rng.uniform(2.1, 2.8))  # traffic older than the window, then a kill at a random moment
        status = node.status()
        if during_dump:
            # best effort: a generation being written, if one starts within 10 s
            wait_until(lambda: _write_in_progress(node), timeout=10, interval=0.0005, required=False)
        for name, pid in (("anvil", status.pid), ("keeper", status.keeper_pid)):
            if target in (name, "both") and pid:
                os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        stop.set()
        sender.join(30)
        head_before = max(block for _, block, _ in issuer.anchored.values())
        code, out, err = certledger("chain", "up", "--json")
        assert code == 0, err
        report = json.loads(out)
        restored = report["restored"] or {}
        if any("incomplete dump" in s["reason"] for s in restored.get("skipped", [])):
            mid_write_kills += 1
        worst_blocks = max(worst_blocks, head_before - report["block"])
        shown = {k: restored.get(k) for k in ("generation", "generation_block", "replayed_blocks", "skipped", "note")}
        trace.append(
            f"kill {target} (waited for a dump: {during_dump}): head {head_before} -> {report['block']}; "
            f"restored {json.dumps(shown)}"
        )
        try:
            _assert_all_anchored(issuer, node.url, before=killed_at - WINDOW)
            if target == "keeper":  # anvil kept running: nothing at all may be lost
                _assert_all_anchored(issuer, node.url)
        except AssertionError as exc:
            log = node.directory / "keeper.log"
            keeper_log = log.read_text()[-3000:] if log.exists() else "(no keeper.log)"
            raise AssertionError("\n".join([str(exc), *trace, keeper_log])) from None
        for root, (_, block, _) in list(issuer.anchored.items()):
            if block > report["block"]:  # lost in the window: forget it, the journal re-anchors
                del issuer.anchored[root]
    assert sum(len(h) for h, _, _ in issuer.anchored.values()) >= 2_500
    assert mid_write_kills >= 1, "no kill landed while a generation was being written\n" + "\n".join(trace)
    sys.__stdout__.write(
        f"\n{trace[0]}: kills {len(plan)}, mid-write {mid_write_kills}, worst head loss {worst_blocks} blocks\n"
    )
