"""Plain helpers the tests import (no fixtures here: those are registered as plugins by
``tests/conftest.py`` and reach a test by naming them as arguments).

Nodes and ports, a fresh consortium, the chain's clock, ``expect`` (a contract must reject a
call with a named custom error), ``wait_until`` (the one way a test polls for something a real
process or thread does meanwhile), and the PostgreSQL and browser requirements.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import Chain
from ledger.deployment import Deployment, deploy
from ledger.errors import ContractRejected
from ledger.node import wait_for_rpc
from ledger.registry import Registry
from ledger.signing import BatchSigner

ROOT = Path(__file__).resolve().parents[1]
REGIONS = (440000, 330000, 110000)  # Guangdong, Zhejiang, Beijing
SCHEMA = {"fields": [{"name": "name", "type": "string", "required": True}]}

T = TypeVar("T")

# The test being run when it is marked ``unit`` (set by conftest.py): a unit test that starts a
# node fails, so ``pytest -m unit`` stays free of nodes.
UNIT_TEST: list[str] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_url() -> str:
    """A URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


class Node:
    """A node process we started; ``url`` is its JSON-RPC endpoint."""

    def __init__(self, args: list[str], url: str, log: Path, cwd: Path | None = None) -> None:
        if UNIT_TEST:
            pytest.fail(f"{UNIT_TEST[0]} is marked unit but starts a node ({args[0]})", pytrace=False)
        self.args, self.url, self.log = args, url, log
        self.process = subprocess.Popen(
            args, stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )
        wait_for_rpc(url, timeout=60, process=self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------- consortium


@dataclass
class Consortium:
    """A fresh deployment: three founding regions (quorum: a majority, 2 of 3), one admin key each."""

    registry: Registry
    deployer: LocalAccount
    admins: dict[int, LocalAccount]
    agency_keys: dict[str, LocalAccount] = field(default_factory=dict)
    sm2_keys: dict[str, Any] = field(default_factory=dict)  # agency -> its key's SM2 key (sm suite)

    @property
    def suite(self) -> str:
        return self.registry.deployment.suite

    def signer(self, agency: str) -> BatchSigner:
        """What signs the agency's batches: its key, with its SM2 key in the sm suite."""
        return BatchSigner(self.agency_keys[agency], self.suite, self.sm2_keys.get(agency))

    @property
    def chain(self) -> Chain:
        return self.registry.chain

    @property
    def deployment(self) -> Deployment:
        return self.registry.deployment

    def add_type(self, code: str, schema: dict | None = None) -> None:
        """Add a type through governance: proposed by 440000, approved by 330000."""
        result = self.registry.propose_add_type(self.admins[440000], code, schema or SCHEMA)
        if not result.executed:
            self.registry.approve(self.admins[330000], result.id)

    def add_agency(self, code: str, region: int, types: list[str]) -> LocalAccount:
        """Register an agency with one fresh active key (in the sm suite with its SM2 key);
        returns the key."""
        self.registry.register_agency(self.admins[region], code, region, types)
        key = Account.create()
        sm2 = b""
        if self.suite != "intl":
            from ledger.crypto.sm import SM2PrivateKey

            self.sm2_keys[code] = SM2PrivateKey.generate()
            sm2 = self.sm2_keys[code].public_key.to_bytes()
        self.registry.add_key(self.admins[region], code, key.address, sm2_public_key=sm2)
        self.agency_keys[code] = key
        return key


def new_consortium(chain: Chain, quorum_rule: tuple[int, int] = (1, 2), suite: str = "intl") -> Consortium:
    """Deploy for the three founding regions; ``quorum_rule`` (N, D): more than N/D must approve;
    ``suite``: the cryptographic suite (intl, sm)."""
    deployer = Account.create()
    admins = {r: Account.create() for r in REGIONS}
    deployment = deploy(chain, deployer, [(r, admins[r].address) for r in REGIONS], quorum_rule, suite=suite)
    return Consortium(Registry(chain, deployment), deployer, admins)


# ---------------------------------------------------------------------- time


def chain_now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def advance(chain: Chain, seconds: int) -> int:
    """Move the chain's clock forward and mine a block; returns the new latest timestamp."""
    chain.w3.provider.make_request("evm_increaseTime", [int(seconds)])
    chain.w3.provider.make_request("evm_mine", [])
    return chain_now(chain)


class FakeClock:
    """A clock a test moves by hand (``clock.advance(s)``), for code that takes a
    ``clock: Callable[[], float]`` (e.g. ``MirrorQueries``): no sleeping to wait out a cache."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 120.0,
    what: str = "condition",
    *,
    interval: float = 0.05,
    required: bool = True,
) -> T:
    """Poll ``predicate`` until it returns something true, and return that. After ``timeout``
    seconds fail the test (generous: only a broken system waits that long; tests never assert
    wall-clock times) - or, with ``required=False``, return the last (false) answer.

    The one way a test waits for something a real process, thread, node or indexer does
    meanwhile. Never to wait out a cache: code with one takes an injected clock instead
    (``FakeClock``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if not value and required:
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
    return value


def let_it_run(seconds: float) -> None:
    """Fault injection, never synchronisation: let the system under test run on for ``seconds``
    (drawn at random by the caller, from a seed the test reports) so that the kill that follows
    lands at an unplanned moment. What the test checks afterwards holds whatever happened
    meanwhile; waiting *for* something goes through ``wait_until``."""
    time.sleep(seconds)


# ---------------------------------------------------------------------- assertions


def expect(name: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``fn``, require the contract to reject it with custom error ``name``; returns the
    error's decoded arguments."""
    with pytest.raises(ContractRejected) as exc:
        fn(*args, **kwargs)
    assert exc.value.error_name == name, f"expected {name}, got {exc.value}"
    return exc.value.error_args


def same(address: str, account: LocalAccount | str) -> bool:
    """Two addresses are equal, whatever their letter case."""
    other = account if isinstance(account, str) else account.address
    return address.lower() == other.lower()


# ---------------------------------------------------------------------- PostgreSQL

PG_ADMIN_URL = os.environ.get("CERTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can (asked once per process)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "unreachable"
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


def require_postgres() -> None:
    """Skip without PostgreSQL locally; in CI (CI=true) fail: a CI run must never pass by skipping."""
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: the PostgreSQL tests must run, not skip)", pytrace=False)
    pytest.skip(problem)


def create_pg_database(prefix: str) -> tuple[str, str]:
    """A fresh PostgreSQL database: (name, SQLAlchemy URL)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, "postgresql+psycopg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name


def drop_pg_databases(*names: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------- browser

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# fontconfig languages whose fonts the page needs (mn-cn: Mongolian in its traditional script)
FONT_LANGS = {
    "zh-cn": "fonts-noto-cjk",
    "ko": "fonts-noto-cjk",
    "ug": "fonts-noto-core",
    "bo": "fonts-noto-core",
    "mn-cn": "fonts-noto-core",
}


# A page's init script that holds back its language files until the test calls
# window.heldLanguages.forEach((release) => release()): the page is still starting meanwhile.
HOLD_LANGUAGE_FILES = (
    "const realFetch = window.fetch; window.heldLanguages = [];"
    "window.fetch = (url, opts) => String(url).includes('/i18n/')"
    " ? new Promise((resolve) => window.heldLanguages.push(() => resolve(realFetch(url, opts))))"
    " : realFetch(url, opts);"
)


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"Debian chromium not found at {CHROMIUM} (./run test installs it)"
    if not shutil.which("fc-list"):
        return "fontconfig (fc-list) not installed"
    for lang, package in FONT_LANGS.items():
        out = subprocess.run(["fc-list", f":lang={lang}", "family"], capture_output=True, text=True).stdout
        if not out.strip():
            return f"no font for {lang} (install Debian {package}; ./run test does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    return None


def require_browser() -> None:
    """Skip without the browser or fonts locally; in CI (CI=true) fail: never pass by skipping."""
    problem = browser_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: the web page tests must run, not skip)", pytrace=False)
    pytest.skip(problem)
