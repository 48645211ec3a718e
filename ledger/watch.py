"""Watching the node from the side: its head and its identity, polled by a background thread,
so that nothing on a request path ever waits for the node. A frozen node, a node that lost its
chain, a node that is gone — readers learn it from the last poll, at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .deployment import Deployment

RpcCall = Callable[[str, list[Any]], Any]


@dataclass(frozen=True)
class NodeState:
    head: int | None  # the last head the node reported (None: never answered)
    age: float | None  # seconds since the node last answered (None: never)
    error: str | None  # why the last poll failed
    identity_problem: str | None  # why the node is not the deployment's chain (None: it is, or not checked yet)

    def answering(self, stale_after: float) -> bool:
        return self.age is not None and self.age <= stale_after


class NodeWatch:
    """Polls ``eth_blockNumber`` every ``interval`` seconds and the chain's identity (genesis,
    deployment block, contract code) every ``identity_interval`` seconds. ``call`` should use
    a short timeout: a frozen node costs the poller that long, never a reader."""

    def __init__(
        self,
        call: RpcCall,
        deployment: Deployment | None = None,
        *,
        interval: float = 0.5,
        identity_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.call = call
        self.deployment = deployment
        self.interval = interval
        self.identity_interval = identity_interval
        self.clock = clock
        self._head: int | None = None
        self._seen_at: float | None = None
        self._error: str | None = None
        self._identity: str | None = None
        self._identity_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> NodeWatch:
        """Start polling (idempotent); the first poll runs before this returns."""
        with self._lock:
            if self._thread is None:
                self.poll()
                self._thread = threading.Thread(target=self._run, name="node-watch", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling; a later ``start`` (or ``snapshot``) polls again."""
        with self._lock:
            self._stop.set()
            self._thread = None
            self._stop = threading.Event()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """One poll: the head, and the identity when it is due."""
        try:
            head = int(self.call("eth_blockNumber", []), 16)
            now = self.clock()
            if self.deployment is not None and (
                self._identity_at is None or now - self._identity_at >= self.identity_interval
            ):
                self._identity = self.deployment.identity_problem(self.call)
                self._identity_at = now
            self._head, self._seen_at, self._error = head, now, None
        except Exception as exc:  # the node is down, frozen or answering nonsense
            self._error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    def snapshot(self) -> NodeState:
        self.start()
        age = None if self._seen_at is None else max(0.0, self.clock() - self._seen_at)
        return NodeState(self._head, age, self._error, self._identity)
