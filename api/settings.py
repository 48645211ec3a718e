"""The API's settings: the core's (``ledger.config.Settings``: home, node, mirror, lag and
staleness limits) and its own limits, from ``CERTLEDGER_*`` environment variables or given."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ledger.config import Settings

STATIC = Path(__file__).parent / "static"  # the web page and its assets


class ApiSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="CERTLEDGER_", extra="ignore")

    max_body_bytes: int = 64 * 1024  # JSON documents and payloads
    max_image_bytes: int = 4 * 1024 * 1024  # uploaded QR images
    # QR images decoded at once, off the event loop (CPU-bound): one core is left to the event
    # loop, so that decoding never takes the CPU the other requests need
    image_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    chain_workers: int = 8  # source=chain verifications at once, off the event loop (node round trips)
    max_queued: int = 32  # blocking jobs waiting for a worker before new ones get 503 BUSY
    # GET /v1/certificates/{hash} and anonymous JSON POST /v1/verify past FastAPI's machinery
    # (middleware.FastPaths)
    fast_paths: bool = True
    # FastAPI's native OpenTelemetry (traces, metrics, logs through the global providers). Off by
    # default: the API exports its own Prometheus metrics (/metrics), and FastAPI asks the
    # OpenTelemetry API whether providers are configured on every request (~10 us of a ~100 us GET).
    opentelemetry: bool = False
    # The trust snapshot served at GET /v1/snapshot for the page's offline mode (a signed
    # `certledger snapshot create` file, replaced in place when a newer one is made); None: none
    snapshot: Path | None = None
    # The pinned consortium served at GET /v1/snapshot/trust (a `certledger snapshot trust`
    # file); None: the membership the mirror records now
    snapshot_trust: Path | None = None
