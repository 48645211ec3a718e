"""The mirror: a database copy of the chain's events, kept by the indexer, read by verification."""

from .indexer import Indexer, IndexerConfig
from .queries import MirrorQueries
from .store import MirrorStore

__all__ = ["Indexer", "IndexerConfig", "MirrorQueries", "MirrorStore"]
