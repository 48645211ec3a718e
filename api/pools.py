"""Bounded pools for work that must never run on the event loop: node round trips
(``BlockingPool``, threads) and QR image decoding (``ProcessPool``, lower-priority processes).
A full pool refuses new work with 503 BUSY rather than queueing without end."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import anyio
import anyio.to_thread

from .errors import ApiError


class BlockingPool:
    """Blocking work (QR image decoding, node round trips) runs in worker threads, at most
    ``workers`` at once, so that it never stalls the event loop that serves everyone else; when
    more than ``max_queued`` jobs already wait, a new one is refused with 503 BUSY."""

    def __init__(self, workers: int, max_queued: int, what: str) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.max_queued = max_queued
        self.what = what

    async def run(self, fn: Any, *args: Any) -> Any:
        if self.limiter.statistics().tasks_waiting >= self.max_queued:
            raise ApiError(503, "BUSY", f"too many requests waiting for {self.what}: try again shortly")
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)


def _lower_priority() -> None:
    """Worker processes yield the CPU to the event loops that serve everyone else: they run
    only when no other process wants the CPU (SCHED_IDLE), else at the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not permitted
        try:
            os.nice(19)
        except OSError:
            pass


class ProcessPool:
    """CPU-bound work (decoding QR images) in worker processes of lower priority: it holds
    neither the event loop nor the interpreter lock of the process that serves requests, and
    the operating system prefers the serving processes when the cores are busy. At most
    ``workers`` jobs run at once; when ``max_queued`` already wait, a new one gets 503 BUSY."""

    def __init__(self, workers: int, max_queued: int, what: str) -> None:
        self.workers, self.max_queued, self.what = workers, max_queued, what
        self._pool: ProcessPoolExecutor | None = None
        self._pending = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # created in the serving process, after any fork by the server
            # Workers fork from a clean server process (never from this one, which runs threads);
            # the server keeps the decoder imported, so a new pool starts in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ledger.qr", "PIL.Image", "zxingcpp"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_lower_priority)
        return self._pool

    async def run(self, fn: Any, *args: Any) -> Any:
        if self._pending >= self.workers + self.max_queued:
            raise ApiError(503, "BUSY", f"too many requests waiting for {self.what}: try again shortly")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
        finally:
            self._pending -= 1

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
