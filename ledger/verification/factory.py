"""Building verifiers the same way everywhere (API, CLI, tests): the same sources, the same lag
and staleness limits from the settings, the same watch on the node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Settings
from ..deployment import Deployment
from ..mirror.queries import MirrorQueries
from ..mirror.rpc import RawRpc
from ..watch import NodeWatch
from .engine import Verifier
from .sources import ChainSource, MirrorSource

if TYPE_CHECKING:  # verifying from the mirror loads no web3
    from ..registry import Registry

WATCH_TIMEOUT = 2.0  # seconds the watch's polls may take: a frozen node costs the poller this long


def node_watch(settings: Settings, deployment: Deployment) -> NodeWatch:
    """A watch on the node's head and identity (started on first use): plain JSON-RPC calls,
    no retries (a poll that fails is the news), each within WATCH_TIMEOUT."""
    rpc = RawRpc(settings.node_url, timeout=min(WATCH_TIMEOUT, settings.rpc_timeout), retries=0)
    return NodeWatch(rpc.call, deployment)


def mirror_verifier(
    settings: Settings, deployment: Deployment, queries: MirrorQueries, watch: NodeWatch | None = None
) -> Verifier:
    source = MirrorSource(
        queries,
        max_lag_blocks=settings.max_lag_blocks,
        max_staleness_seconds=settings.max_staleness_seconds,
        watch=watch,
    )
    return Verifier(source, deployment)


def chain_verifier(
    settings: Settings, deployment: Deployment, registry: Registry, watch: NodeWatch | None = None
) -> Verifier:
    return Verifier(ChainSource(registry, watch=watch), deployment)
