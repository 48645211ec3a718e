"""Registered verifier organisations as an API meets them: an API key names its organisation,
the chain says whether the organisation stands (``Consortium.verifier``), and each one gets its
rate.

An API key is ``clv_<verifier id>_<secret>`` (the secret 32 random bytes, base64url): the id
says which registration to read, the SHA-256 of the whole key must be the one its region
registered. The key itself is never stored anywhere: the region admin hands it to the
organisation once (``certledger verifier add`` prints it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidInput, LedgerError
from .ids import AGENCY_PATTERN
from .registry import Registry
from .registry.results import VerifierInfo

KEY_PREFIX = "clv_"
_KEY = re.compile(rf"^{KEY_PREFIX}({AGENCY_PATTERN[1:-1]})_([A-Za-z0-9_-]{{43}})$")
CACHE_SECONDS = 30.0  # how long a registration read from the chain is trusted


class NotAuthorized(LedgerError):
    """The key is unknown, malformed, revoked, or its organisation does not stand."""

    code = "NOT_AUTHORIZED"


class RateLimited(LedgerError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def new_api_key(verifier: str) -> str:
    """A fresh API key for ``verifier`` (give it to the organisation; register its hash)."""
    key = KEY_PREFIX + verifier + "_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    if not _KEY.fullmatch(key):
        raise InvalidInput(f"invalid verifier id {verifier!r}: letters, digits, _ . - (at most 32)")
    return key


def api_key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass
class _Bucket:
    tokens: float
    at: float


class VerifierDirectory:
    """Who an API key belongs to, as the chain registers it now (cached ``CACHE_SECONDS``),
    and each organisation's request budget (a token bucket per organisation, per process)."""

    def __init__(self, registry: Registry, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.clock = clock
        self._cache: dict[str, tuple[float, VerifierInfo | None]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def authenticate(self, key: str) -> VerifierInfo:
        """The standing organisation ``key`` belongs to; NotAuthorized otherwise (one message
        for every reason a key fails, so that a caller learns nothing about registrations)."""
        m = _KEY.fullmatch(key.strip())
        if m is None:
            raise NotAuthorized("not a CertLedger API key (clv_<verifier>_<secret>)")
        info = self._lookup(m.group(1))
        if info is None or not info.active or not hmac.compare_digest(info.api_key_hash, api_key_hash(key.strip())):
            raise NotAuthorized("this API key is not the key of a registered verifier that stands")
        return info

    def take(self, info: VerifierInfo) -> None:
        """Count one request against the organisation's rate; RateLimited when it is spent."""
        if info.rate_per_minute <= 0:
            return
        now, rate = self.clock(), info.rate_per_minute / 60.0
        with self._lock:
            b = self._buckets.setdefault(info.id, _Bucket(float(info.rate_per_minute), now))
            b.tokens = min(float(info.rate_per_minute), b.tokens + (now - b.at) * rate)
            b.at = now
            if b.tokens < 1.0:
                raise RateLimited(
                    f"{info.id} may make {info.rate_per_minute} requests a minute", retry_after=(1.0 - b.tokens) / rate
                )
            b.tokens -= 1.0

    def _lookup(self, verifier: str) -> VerifierInfo | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(verifier)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        info = self.registry.verifier(verifier)  # ChainUnavailable: the API answers 503
        with self._lock:
            self._cache[verifier] = (now, info)
        return info
