"""Fixtures of the verification-engine, REST API and cross-region tests (a plugin registered in
conftest.py: tests name them as arguments). What the world holds is described in
``api_helpers``; the session fixtures start their node only when a test asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import PgDatabase, World, build_world, checked_client, open_mirror, start_anvil
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import Node, postgres_problem, require_postgres


@pytest.fixture(scope="session", params=["intl", "sm"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world in each cryptographic suite: every test that takes it runs in both (intl:
    SHA-256, EIP-712; sm: SM3, EIP-712 and SM2, credit codes and e-licence identifiers)."""
    directory = tmp_path_factory.mktemp(f"api-world-{request.param}")
    w = build_world(directory, request.param)
    pg: PgDatabase | None = None
    try:
        if postgres_problem() is None:
            pg = PgDatabase()
            w.mirrors["postgresql"] = open_mirror("postgresql", pg.url, w.node.url, w.deployment)
            w.mirrors["postgresql"].sync()
        yield w
    finally:
        for m in w.mirrors.values():
            m.store.dispose()
        if pg is not None:
            pg.drop()
        w.node.stop()


@pytest.fixture
def synced(world: World) -> World:
    """The world with its mirrors caught up to the head (fresh ``chain_head_seen_at``)."""
    world.sync()
    return world


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_kind(request: pytest.FixtureRequest, world: World) -> str:
    if request.param == "postgresql":
        world.mirror("postgresql")  # skips (or fails in CI) without PostgreSQL
    return request.param


@pytest.fixture(scope="session")
def app(world: World) -> FastAPI:
    return world.app("sqlite")


@pytest.fixture
def client(app: FastAPI, world: World) -> Iterator[TestClient]:
    world.sync()
    with checked_client(app) as tc:
        yield tc


@pytest.fixture
def lenient_client(app: FastAPI, world: World) -> Iterator[TestClient]:
    """A client that returns the response of an unhandled exception instead of raising it."""
    world.sync()
    with checked_client(app, raise_server_exceptions=False) as tc:
        yield tc


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[Node]:
    node = start_anvil(tmp_path)
    yield node
    node.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database URL for one test (skips without PostgreSQL, fails in CI)."""
    require_postgres()
    db = PgDatabase()
    try:
        yield db.url
    finally:
        db.drop()
