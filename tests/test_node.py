"""The embedded chain keeps its state across a clean restart and a kill -9."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from eth_account import Account

from ledger.chain import Chain
from ledger.deployment import deploy
from ledger.errors import ConfigError
from ledger.node import EmbeddedNode
from ledger.registry import Registry

from conftest import free_port


@pytest.fixture
def node(tmp_path):
    n = EmbeddedNode(tmp_path / "chain", port=free_port())
    yield n
    n.stop()


def _deploy_and_anchor(url: str) -> tuple[Registry, bytes, int]:
    chain = Chain(url)
    admin = Account.create()
    registry = Registry(chain, deploy(chain, Account.create(), [(440000, admin.address)]))
    registry.propose_add_type(admin, "ID_CARD", {"fields": []})
    registry.register_agency(admin, "GD-PSB", 440000, ["ID_CARD"])
    key = Account.create()
    registry.add_key(admin, "GD-PSB", key.address)
    batch = registry.anchor_batch(admin, key, "GD-PSB", "ID_CARD", [os.urandom(32) for _ in range(5)])
    return registry, batch.root, chain.block_number()


def _wait_for_dump(node: EmbeddedNode, block: int, timeout: float = 10.0) -> None:
    """Wait until the periodic state dump holds ``block``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(node.state_file.read_text())
            if int(str(state["block"]["number"]), 0) >= block:
                return
        except (FileNotFoundError, json.JSONDecodeError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError("state was not dumped in time")


def test_chain_up_is_idempotent(node):
    first = node.start()
    again = node.start()
    assert first.running and again.running
    assert first.pid == again.pid


def test_state_survives_clean_restart(node):
    node.start()
    registry, root, head = _deploy_and_anchor(node.url)
    assert node.stop()
    assert not node.status().running
    node.start()
    chain = Chain(node.url)
    assert chain.block_number() == head
    reopened = Registry(chain, registry.deployment)
    assert reopened.batch("GD-PSB", root) is not None
    logs = reopened.certificates.events.BatchAnchored().get_logs(from_block=0)
    assert [bytes(log["args"]["root"]) for log in logs] == [root]


def test_state_survives_kill_9(node):
    status = node.start()
    registry, root, head = _deploy_and_anchor(node.url)
    _wait_for_dump(node, head)
    os.kill(status.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert not node.status().running
    node.start()
    chain = Chain(node.url)
    assert chain.block_number() == head
    assert Registry(chain, registry.deployment).batch("GD-PSB", root) is not None


def test_corrupt_state_falls_back_to_last_good_copy(node):
    node.start()
    registry, root, head = _deploy_and_anchor(node.url)
    node.stop()
    node.start()  # keeps a backup of the good state
    node.stop()
    node.state_file.write_text(node.state_file.read_text()[:100])  # a write cut short
    node.start()
    assert Registry(Chain(node.url), registry.deployment).batch("GD-PSB", root) is not None


def test_port_taken_by_another_node_is_reported(node, tmp_path, anvil):
    other = EmbeddedNode(tmp_path / "other", port=int(anvil.url.rsplit(":", 1)[1]))
    with pytest.raises(ConfigError, match="port .* is taken"):
        other.start()
