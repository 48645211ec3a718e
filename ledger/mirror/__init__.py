"""The mirror: a database copy of the chain's events, kept by the indexer, read by verification.

Readers (``MirrorQueries`` over a ``MirrorStore``) load no web3: the indexer, which talks to
the node, is imported when it is first asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queries import MirrorQueries
from .store import MirrorStore

if TYPE_CHECKING:
    from .indexer import Indexer, IndexerConfig

__all__ = ["Indexer", "IndexerConfig", "MirrorQueries", "MirrorStore"]


def __getattr__(name: str) -> Any:
    if name in ("Indexer", "IndexerConfig"):
        from . import indexer

        return getattr(indexer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
