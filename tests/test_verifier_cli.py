"""Verifier organisations and their receipts from the command line, as a region's operator
runs them: register (the API key shown once), change, suspend, show; anchor the receipts a
verifier's API recorded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import free_port, wait_until
from test_cli import PASSWORD, Cli

from ledger.chain import Chain
from ledger.deployment import Deployment
from ledger.mirror.store import make_engine
from ledger.receipts import Receipt, ReceiptStore
from ledger.registry import Registry
from ledger.verifiers import VerifierDirectory

CERTLEDGER = Path(sys.executable).parent / "certledger"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch, anvil: Any) -> Cli:
    monkeypatch.setenv("CERTLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT", "CERTLEDGER_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    return Cli(capsys, tmp_path / "home")


def test_a_region_registers_a_verifier_and_its_receipts_are_anchored(cli: Cli, anvil: Any) -> None:
    cli.ok("deploy")
    cli.ok("key", "new", "zj-bank-1-account")
    added = cli.ok(
        "verifier", "add", "ZJ-BANK-1", "--region", "330000", "--account", "zj-bank-1-account", "--rate", "60"
    )
    key = added["api_key"]
    assert key.startswith("clv_ZJ-BANK-1_") and added["region"] == 330000
    registry = Registry(Chain(anvil.url), Deployment.load(cli.home / "deployment.json"))
    assert VerifierDirectory(registry).authenticate(key).id == "ZJ-BANK-1"
    shown = cli.ok("verifier", "show", "ZJ-BANK-1")
    assert shown["active"] and shown["rate_per_minute"] == 60 and "api_key" not in shown
    # another region's admin cannot change it; bad input is one line
    assert "NotAdminOfRegion" in cli.fails("verifier", "set", "ZJ-BANK-1", "--suspend", "--key", "admin-440000")
    assert "unknown verifier 'ZJ-NOBODY'" in cli.fails("verifier", "show", "ZJ-NOBODY")
    assert "nothing to change" in cli.fails("verifier", "set", "ZJ-BANK-1")
    renewed = cli.ok("verifier", "set", "ZJ-BANK-1", "--new-key")
    assert renewed["api_key"] != key and VerifierDirectory(registry).authenticate(renewed["api_key"])
    # receipts its API recorded, anchored once by its account
    engine = make_engine(f"sqlite:///{cli.home / 'mirror.db'}")
    try:
        store = ReceiptStore(engine)
        tags = [os.urandom(16) for _ in range(3)]
        for t in tags:
            store.record(Receipt("ZJ-BANK-1", 330000, "BANKING", "", 1_800_000_000, ("name",), t, "VALID"))
        out = cli.ok("receipts", "anchor", "--verifier", "ZJ-BANK-1", "--account", "zj-bank-1-account")
        (batch,) = out["anchored"]
        assert batch["receipts"] == 3
        assert all(r.proves() and r.block is not None for r in store.by_tags(tags))
        assert (
            cli.ok("receipts", "anchor", "--verifier", "ZJ-BANK-1", "--account", "zj-bank-1-account")["anchored"] == []
        )
        # suspended: its account can no longer anchor
        cli.ok("verifier", "set", "ZJ-BANK-1", "--suspend")
        store.record(Receipt("ZJ-BANK-1", 330000, "BANKING", "", 1_800_000_001, ("name",), os.urandom(16), "VALID"))
        line = cli.fails("receipts", "anchor", "--verifier", "ZJ-BANK-1", "--account", "zj-bank-1-account")
        assert "is not active (suspended" in line
    finally:
        engine.dispose()


def test_serve_anchors_its_verifiers_receipts_on_schedule_and_refuses_a_wrong_account(
    cli: Cli, anvil: Any, tmp_path: Path
) -> None:
    cli.ok("deploy")
    cli.ok("key", "new", "zj-bank-1-account")
    cli.ok("key", "new", "someone-else")
    cli.ok("verifier", "add", "ZJ-BANK-1", "--region", "330000", "--account", "zj-bank-1-account")
    # bad --anchor values are one line each, before anything is served
    assert "VERIFIER=ACCOUNT" in cli.fails("serve", "--anchor", "ZJ-BANK-1")
    assert "unknown verifier 'ZJ-NOBODY'" in cli.fails("serve", "--anchor", "ZJ-NOBODY=zj-bank-1-account")
    assert "is not verifier 'ZJ-BANK-1''s account" in cli.fails("serve", "--anchor", "ZJ-BANK-1=someone-else")
    # the API anchors what its verifier's checks recorded, while it serves
    db_url = f"sqlite:///{cli.home / 'mirror.db'}"
    engine = make_engine(db_url)
    port = free_port()
    anchor = ("--anchor", "ZJ-BANK-1=zj-bank-1-account")
    log = tmp_path / "serve.log"
    env = {**os.environ, "CERTLEDGER_POLL_INTERVAL": "0.25"}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(CERTLEDGER), "serve", "--port", str(port), "--db", db_url, *anchor, "--anchor-every", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        store = ReceiptStore(engine)
        tags = [os.urandom(16) for _ in range(3)]
        for t in tags:
            store.record(Receipt("ZJ-BANK-1", 330000, "BANKING", "", int(time.time()), ("name",), t, "VALID"))

        def anchored() -> bool:
            assert server.poll() is None, log.read_text()
            return all(r.proves() and r.block is not None for r in store.by_tags(tags))

        assert wait_until(anchored, timeout=240, interval=0.25, required=False), log.read_text()

        def page_status() -> int | None:  # the anchorer may finish before the workers listen
            try:
                return httpx.get(f"http://127.0.0.1:{port}/verify", timeout=10).status_code
            except httpx.ConnectError:
                return None

        assert wait_until(lambda: page_status() is not None, timeout=120, interval=0.25, required=False)
        assert page_status() == 200
        assert "anchoring the receipts of ZJ-BANK-1" in log.read_text()
        # suspended: the API keeps serving, says why anchoring fails, and the receipt waits
        cli.ok("verifier", "set", "ZJ-BANK-1", "--suspend")
        waiting = os.urandom(16)
        store.record(Receipt("ZJ-BANK-1", 330000, "BANKING", "", int(time.time()), ("name",), waiting, "VALID"))
        assert wait_until(lambda: "NotVerifierAccount" in log.read_text(), timeout=240, interval=0.25, required=False)
        assert server.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/verify", timeout=10).status_code == 200
        (still,) = store.by_tags([waiting])
        assert still.block is None
    finally:
        server.terminate()
        server.wait(30)
        engine.dispose()
