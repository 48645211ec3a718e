"""The root of the test suite's fixtures: a real anvil node per test worker, fresh deployments,
the fake JSON-RPC proxy, and the plugins that register every other fixture.

Every test that touches the chain runs against a real EVM node (anvil from npm). Each test
gets its own deployment (deploying takes ~50 ms), so tests never see each other's state.

Fixtures reach a test only by being named as its arguments: they are registered here, and by
the plugin modules of ``pytest_plugins``, never imported into test modules. Plain helpers
(``expect``, ``wait_until``, ``new_consortium``, row builders ...) are imported from
``helpers``, ``api_helpers`` and ``mirror_helpers``. Session fixtures that start processes
(anvil, Hardhat, the API world, Chromium) start only when a test asks for them, so
``pytest -m unit`` starts none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_rpc import RpcProxy
from helpers import UNIT_TEST, Consortium, Node, free_port, new_consortium

from ledger.chain import Chain
from ledger.node import anvil_args

pytest_plugins = [
    "api_fixtures",  # world, app, client, mirror_kind, own_anvil, pg_url ...
    "mirror_fixtures",  # mirror_url, fresh_mirror_url
    "web_fixtures",  # the browser tests' shared Chromium and pictures
    "ipfs_fixtures",  # ipfs_node (a real js-ipfs node), lying_node
]


# Fixtures that start a node, a database, a server or a browser: no ``unit`` test may use them.
NOT_UNIT = {
    "anvil",
    "hardhat_node",
    "chain",
    "consortium",
    "issuing",
    "world",
    "synced",
    "app",
    "client",
    "lenient_client",
    "mirror_kind",
    "own_anvil",
    "pg_url",
    "mirror_url",
    "fresh_mirror_url",
    "rpc_proxy",
    "browser",
    "ipfs_node",
    "lying_node",
}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m unit`` a test module that marks nothing ``unit`` is not even imported (its
    imports, and the API schema tests' generation, cost more than the unit tests themselves)."""
    if config.getoption("markexpr") != "unit" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.unit" not in collection_path.read_text(encoding="utf-8") or None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Keeps the ``unit`` tier honest: a unit test may neither use a fixture of ``NOT_UNIT``
    nor start a node (``helpers.Node``) itself."""
    if item.get_closest_marker("unit") is None:
        return
    used = sorted(NOT_UNIT.intersection(getattr(item, "fixturenames", ())))
    if used:
        pytest.fail(f"{item.nodeid} is marked unit but uses {', '.join(used)}", pytrace=False)
    UNIT_TEST[:] = [item.nodeid]


def pytest_runtest_teardown(item: pytest.Item) -> None:
    UNIT_TEST.clear()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One anvil per test worker, free gas, automine."""
    port = free_port()
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = Node(anvil_args(port, 31337, None), f"http://127.0.0.1:{port}", log)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One Hardhat node per test worker: chain id 31337, free gas (see hardhat.config.js)."""
    from hardhat_node import HardhatNode

    log = tmp_path_factory.mktemp("hardhat") / "hardhat-node.log"
    # `hardhat node` logs every JSON-RPC call and failing transaction there; it costs no
    # measurable time and helps when a test fails.
    node = HardhatNode(free_port(), log)
    yield node
    node.stop()


@pytest.fixture
def chain(anvil: Node) -> Chain:
    return Chain(anvil.url)


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


@pytest.fixture
def random_hashes() -> Callable[[int], list[bytes]]:
    def make(n: int) -> list[bytes]:
        return [os.urandom(32) for _ in range(n)]

    return make


@pytest.fixture
def rpc_proxy() -> Iterator[Callable[..., RpcProxy]]:
    """Makes fake JSON-RPC endpoints in front of a node (see ``fake_rpc``); all closed at teardown."""
    made: list[RpcProxy] = []

    def make(upstream: str | None, meddle: Any = None, rewrite: Any = None, answer: Any = None) -> RpcProxy:
        proxy = RpcProxy(upstream, meddle, rewrite, answer)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
