"""The verifier: composes the checks into the result of SPEC §3.

    verdict: VALID | REVOKED | SUSPENDED | EXPIRED | NOT_RECOGNIZED | INVALID | UNKNOWN | ERROR

The verdict is the one implied by the first failing check, in the order integrity, anchored,
issuer_authorized, key_valid, status, validity_period, recognition — which makes INVALID
outrank UNKNOWN outrank REVOKED outrank SUSPENDED outrank EXPIRED outrank NOT_RECOGNIZED.
A check that could not reach its source yields ERROR, never REVOKED or INVALID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..deployment import Deployment
from ..document import Certificate
from ..errors import InvalidInput
from ..ids import iso_time
from ..qr import CompactPayload, decode
from .checks import DEFAULT_CHECKS, Case, Check, CheckUnit, run_check
from .sources import Source, SourceHead, SourceUnavailable


MAX_CLOCK_SKEW = 300  # seconds an as_of may lie ahead of this server's clock


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class VerificationResult:
    verdict: str
    checks: list[Check]
    certificate: dict[str, Any] | None
    verifier_region: int | None
    as_of: int
    source: dict[str, Any]
    disclosed_fields: dict[str, str] | None = None
    hidden_fields: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "checks": [c.to_json() for c in self.checks],
            "certificate": self.certificate,
            "verifier_region": self.verifier_region,
            "as_of": _iso(self.as_of),
            "source": self.source,
        }
        if self.disclosed_fields is not None:
            out["disclosed_fields"] = self.disclosed_fields
            out["hidden_fields"] = self.hidden_fields or []
        return out


class Verifier:
    def __init__(
        self,
        source: Source,
        deployment: Deployment,
        *,
        checks: Sequence[CheckUnit] = DEFAULT_CHECKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.deployment = deployment
        self.checks = tuple(checks)
        self.clock = clock

    # -------------------------------------------------------------- entry points

    def verify_document(
        self, cert: Certificate, stated_hash: bytes | None = None, *, verifier_region: int | None = None, as_of: int | None = None
    ) -> VerificationResult:
        case = self._case(cert.compute_hash(), verifier_region, as_of)
        case.document, case.stated_hash = cert, stated_hash
        result = self._run(case)
        result.disclosed_fields = dict(cert.fields)
        result.hidden_fields = sorted(cert.hidden)
        return result

    def verify_hash(
        self,
        cert_hash: bytes,
        *,
        verifier_region: int | None = None,
        as_of: int | None = None,
        claimed_type: str | None = None,
        claimed_region: int | None = None,
    ) -> VerificationResult:
        case = self._case(cert_hash, verifier_region, as_of)
        case.claimed_type, case.claimed_region = claimed_type, claimed_region
        return self._run(case)

    def verify_payload(self, payload: str, *, verifier_region: int | None = None, as_of: int | None = None) -> VerificationResult:
        """A QR payload (compact or full); InvalidInput if it is not one."""
        decoded = decode(payload)
        if isinstance(decoded, CompactPayload):
            return self.verify_hash(
                decoded.cert_hash, verifier_region=verifier_region, as_of=as_of,
                claimed_type=decoded.type, claimed_region=decoded.region,
            )
        return self.verify_document(decoded, None, verifier_region=verifier_region, as_of=as_of)

    # -------------------------------------------------------------- composition

    def _case(self, cert_hash: bytes, verifier_region: int | None, as_of: int | None) -> Case:
        now = int(self.clock())
        if as_of is not None:
            if as_of > now + MAX_CLOCK_SKEW:
                raise InvalidInput("as_of is in the future")
            if not self.source.supports_as_of:
                raise InvalidInput(f"source={self.source.kind} answers for now only; leave out as_of or use the mirror")
        return Case(self.source, self.deployment, now if as_of is None else int(as_of), verifier_region, cert_hash,
                     latest=as_of is None)

    def _run(self, case: Case) -> VerificationResult:
        head: SourceHead | None = None
        head_error: str | None = None
        try:
            head = self.source.head()
        except SourceUnavailable as exc:
            head_error = str(exc)
        except Exception as exc:  # the database itself is unreachable
            head_error = f"{type(exc).__name__}"
        checks: list[Check] = []
        for unit in self.checks:
            if head_error is not None and unit.name != "integrity":
                checks.append(Check(unit.name, None, f"could not check: {head_error}", "UNAVAILABLE", "ERROR"))
                continue
            checks.append(run_check(unit, case))
        verdict = next((c.verdict for c in checks if c.ok is False or c.verdict == "ERROR"), None) or "VALID"
        certificate = self._certificate(case)
        source = {"kind": self.source.kind, "block": head.block if head else None, "lag_blocks": head.lag_blocks if head else None}
        if head_error is not None:
            source["error"] = head_error
        return VerificationResult(verdict, checks, certificate, case.verifier_region, case.as_of, source)

    @staticmethod
    def _certificate(case: Case) -> dict[str, Any]:
        a, doc = case.anchor, case.document
        out: dict[str, Any] = {
            "hash": "0x" + case.cert_hash.hex(),
            "type": a.cert_type if a else (doc.type if doc else case.claimed_type),
            "issuer_region": a.issuer_region if a else (doc.region if doc else case.claimed_region),
            "agency": a.agency if a else (doc.agency if doc else None),
            "batch_root": "0x" + a.root.hex() if a else ("0x" + doc.anchor.root.hex() if doc and doc.anchor else None),
            "anchored_at": (
                {"block": a.block, "tx": "0x" + a.tx.hex() if a.tx else None, "time": iso_time(a.anchored_at)} if a else None
            ),
        }
        if doc is not None:
            out["valid_from"] = doc.valid_from
            out["valid_until"] = doc.valid_until
        return out
