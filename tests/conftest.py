"""Shared fixtures: a real anvil node per test worker, fresh deployments, accounts, time travel.

Every test that touches the chain runs against a real EVM node (anvil from npm). Each test
gets its own deployment (deploying takes ~50 ms), so tests never see each other's state.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import Chain
from ledger.errors import ContractRejected
from ledger.deployment import Deployment, deploy
from ledger.node import anvil_args, wait_for_rpc
from ledger.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["web_fixtures"]  # the browser tests' shared Chromium
REGIONS = (440000, 330000, 110000)  # Guangdong, Zhejiang, Beijing
SCHEMA = {"fields": [{"name": "name", "type": "string", "required": True}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """A node process we started; ``url`` is its JSON-RPC endpoint."""

    def __init__(self, args: list[str], url: str, log: Path, cwd: Path | None = None) -> None:
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


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One anvil per test worker, free gas, automine."""
    port = free_port()
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = Node(anvil_args(port, 31337, None), f"http://127.0.0.1:{port}", log)
    yield node
    node.stop()


@pytest.fixture
def chain(anvil: Node) -> Chain:
    return Chain(anvil.url)


@dataclass
class Consortium:
    """A fresh deployment: three founding regions (quorum: a majority, 2 of 3), one admin key each."""

    registry: Registry
    deployer: LocalAccount
    admins: dict[int, LocalAccount]
    agency_keys: dict[str, LocalAccount] = field(default_factory=dict)

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
        """Register an agency with one fresh active key; returns the key."""
        self.registry.register_agency(self.admins[region], code, region, types)
        key = Account.create()
        self.registry.add_key(self.admins[region], code, key.address)
        self.agency_keys[code] = key
        return key


def new_consortium(chain: Chain, quorum_rule: tuple[int, int] = (1, 2)) -> Consortium:
    """Deploy for the three founding regions; ``quorum_rule`` (N, D): more than N/D must approve."""
    deployer = Account.create()
    admins = {r: Account.create() for r in REGIONS}
    deployment = deploy(chain, deployer, [(r, admins[r].address) for r in REGIONS], quorum_rule)
    return Consortium(Registry(chain, deployment), deployer, admins)


@pytest.fixture
def consortium(chain: Chain) -> Consortium:
    """Three regions, quorum 2 (a majority), no types or agencies yet."""
    return new_consortium(chain)


@pytest.fixture
def issuing(consortium: Consortium) -> Consortium:
    """Three regions with types ID_CARD, DEGREE, BUSINESS_LICENSE and agencies
    GD-PSB (440000: ID_CARD), GD-AMR (440000: BUSINESS_LICENSE), ZJ-EDU (330000: DEGREE),
    each with one active key (``consortium.agency_keys[code]``)."""
    for code in ("ID_CARD", "DEGREE", "BUSINESS_LICENSE"):
        consortium.add_type(code)
    consortium.add_agency("GD-PSB", 440000, ["ID_CARD"])
    consortium.add_agency("GD-AMR", 440000, ["BUSINESS_LICENSE"])
    consortium.add_agency("ZJ-EDU", 330000, ["DEGREE"])
    return consortium


# ---------------------------------------------------------------------- time


def chain_now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def advance(chain: Chain, seconds: int) -> int:
    """Move the chain's clock forward and mine a block; returns the new latest timestamp."""
    chain.w3.provider.make_request("evm_increaseTime", [int(seconds)])
    chain.w3.provider.make_request("evm_mine", [])
    return chain_now(chain)


@pytest.fixture
def random_hashes() -> callable:
    def make(n: int) -> list[bytes]:
        return [os.urandom(32) for _ in range(n)]

    return make


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
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
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
