"""What the request handlers share, built once per process: the deployment, the mirror's
queries, the node watch, the verifiers, the pools and the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from ledger.chain import Chain
from ledger.content import ContentStore, store_for
from ledger.deployment import Deployment
from ledger.mirror import MirrorQueries, MirrorStore
from ledger.receipts import ReceiptStore
from ledger.registry import Registry
from ledger.verification import Verifier
from ledger.verification.factory import chain_verifier, mirror_verifier, node_watch
from ledger.verifiers import VerifierDirectory

from .pools import BlockingPool, ProcessPool
from .settings import ApiSettings

SPEECH_WORKERS, SPEECH_QUEUE = 2, 8  # espeak-ng runs at once, and waiting beyond them
disable_created_metrics()  # no *_created series: counters and histograms only


@dataclass
class Metrics:
    registry: CollectorRegistry
    verifications: Counter
    latency: Histogram
    # prometheus_client's labels() costs a few microseconds a call (it validates and locks): the
    # children are kept here, a bounded number (a client chooses the method it sends)
    _children: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            if len(self._children) < 1024:
                self._children[key] = child
        return child

    def verified(self, verdict: str, source: str, kind: str) -> None:
        """One verification answered, by verdict, source and what was verified."""
        self._child(self.verifications, verdict, source, kind).inc()

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP answer's latency, by method, route template and status."""
        self._child(self.latency, method, route, str(status)).observe(seconds)

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry()
        return cls(
            reg,
            Counter(
                "certledger_verifications",
                "Verifications by verdict and source",
                ["verdict", "source", "kind"],
                registry=reg,
            ),
            Histogram(
                "certledger_http_request_duration_seconds",
                "HTTP request latency",
                ["method", "route", "status"],
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
                registry=reg,
            ),
        )


class AppState:
    """What the request handlers share; built once per process."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.deployment = Deployment.load(settings.deployment_path)
        self.store = MirrorStore(settings.mirror_url)
        self.queries = MirrorQueries(self.store)
        self.watch = node_watch(settings, self.deployment)  # the node, polled off the request path
        self.mirror_verifier = mirror_verifier(settings, self.deployment, self.queries, self.watch)
        self.metrics = Metrics.create()

    @cached_property
    def chain(self) -> Chain:
        return Chain(self.settings.node_url, timeout=self.settings.rpc_timeout)

    @cached_property
    def image_pool(self) -> ProcessPool:
        return ProcessPool(self.settings.image_workers, self.settings.max_queued, "QR image decoding")

    @cached_property
    def chain_pool(self) -> BlockingPool:
        return BlockingPool(self.settings.chain_workers, self.settings.max_queued, "chain verification")

    @cached_property
    def speech_pool(self) -> BlockingPool:
        return BlockingPool(SPEECH_WORKERS, SPEECH_QUEUE, "reading aloud")

    @cached_property
    def content(self) -> ContentStore:
        """Where sealed documents are (GET /v1/content): the IPFS node, else the embedded store."""
        s = self.settings
        return store_for(store_dir=str(s.content_store_dir), ipfs_url=s.ipfs_url, timeout=s.ipfs_timeout)

    @cached_property
    def verifiers(self) -> VerifierDirectory:
        """Registered verifier organisations, read from the chain by their API keys."""
        return VerifierDirectory(Registry(self.chain, self.deployment))

    @cached_property
    def receipts(self) -> ReceiptStore:
        """The verification receipts of presentations, in the mirror's database."""
        return ReceiptStore(self.store.engine)

    @cached_property
    def chain_verifier(self) -> Verifier:
        return chain_verifier(self.settings, self.deployment, Registry(self.chain, self.deployment), self.watch)

    def verifier(self, source: str) -> Verifier:
        return self.chain_verifier if source == "chain" else self.mirror_verifier

    def close(self) -> None:
        self.queries.close()
        self.store.dispose()
        self.watch.stop()
        if "image_pool" in self.__dict__:
            self.image_pool.shutdown()
        close = getattr(self.__dict__.get("content"), "close", None)
        if close is not None:  # an IPFS node's HTTP client
            close()
