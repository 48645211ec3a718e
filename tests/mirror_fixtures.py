"""Fixtures of the mirror tests: one database per test, SQLite and PostgreSQL.

A plugin registered in conftest.py: tests name the fixtures as arguments; the helpers are
in ``mirror_helpers``.

``mirror_url`` is parametrized over ``["sqlite", "postgresql"]``: every test that uses it runs
once per database. PostgreSQL comes from ``CERTLEDGER_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets a database of its own,
dropped afterwards. When PostgreSQL cannot be reached the PostgreSQL variant is skipped -
except in CI (``CI=true``), where it fails: a CI run must never pass by skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import create_pg_database, drop_pg_databases, require_postgres
from mirror_helpers import dispose_stores


class MirrorDatabases:
    """Creates databases of one kind for one test and removes them afterwards."""

    def __init__(self, kind: str, directory: Any) -> None:
        self.kind = kind
        self.directory = directory
        self.urls: list[str] = []
        self._pg_names: list[str] = []

    def new(self) -> str:
        if self.kind == "sqlite":
            url = f"sqlite:///{self.directory}/mirror-{len(self.urls)}.db"
        else:
            name, url = create_pg_database("certledger_t")
            self._pg_names.append(name)
        self.urls.append(url)
        return url

    def close(self) -> None:
        for url in self.urls:
            dispose_stores(url)
        if self._pg_names:
            drop_pg_databases(*self._pg_names)


_DATABASES: dict[str, MirrorDatabases] = {}  # mirror_url -> the databases of its test


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty mirror database URL: SQLite, then PostgreSQL."""
    if request.param == "postgresql":
        require_postgres()
    dbs = MirrorDatabases(request.param, tmp_path)
    url = dbs.new()
    _DATABASES[url] = dbs
    try:
        yield url
    finally:
        _DATABASES.pop(url, None)
        dbs.close()


@pytest.fixture
def fresh_mirror_url(mirror_url: str) -> Callable[[], str]:
    """Makes another empty database of the same kind as ``mirror_url`` (for rebuilds)."""
    return _DATABASES[mirror_url].new
