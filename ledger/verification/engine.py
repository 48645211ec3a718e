"""The verifier: composes the checks into a verification result.

    verdict: VALID | REVOKED | SUSPENDED | EXPIRED | NOT_RECOGNIZED | INVALID | UNKNOWN | INCOMPLETE | ERROR

The verdict is the one implied by the first failing check, in the order integrity, anchored,
issuer_authorized, key_valid, status, validity_period, recognition — which makes INVALID
outrank UNKNOWN outrank REVOKED outrank SUSPENDED outrank EXPIRED outrank NOT_RECOGNIZED.
A check that could not reach its source yields ERROR, never REVOKED or INVALID. When every
check that ran passed but one that VALID depends on (integrity, validity_period) was skipped
— a bare hash carries no validity dates — the verdict is INCOMPLETE, never VALID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..deployment import Deployment
from ..document import Certificate
from ..errors import InvalidInput
from ..ids import iso_time
from ..presentation import PREFIX as PRESENTATION_PREFIX
from ..presentation import Presentation
from ..presentation import decode as decode_presentation
from ..qr import CompactPayload, CompactV3Payload, decode
from .checks import (
    DEFAULT_CHECKS,
    PRESENTATION_CHECKS,
    REQUIRED_FOR_VALID,
    Case,
    Check,
    CheckUnit,
    Outcome,
    Verdict,
    errored,
    run_check,
)
from .sources import Source, SourceHead, SourceUnavailable

MAX_CLOCK_SKEW = 300  # seconds an as_of may lie ahead of this server's clock


def _iso(ts: int) -> str:
    """iso_time, where the time is always a time (0 is the epoch, not "never")."""
    return iso_time(ts) or "1970-01-01T00:00:00Z"


@dataclass
class VerificationResult:
    verdict: Verdict
    checks: list[Check]
    certificate: dict[str, Any] | None
    verifier_region: int | None
    as_of: int
    source: dict[str, Any]
    disclosed_fields: dict[str, str] | None = None
    hidden_fields: list[str] | None = None
    presentation: dict[str, Any] | None = None  # a presentation's purpose and window

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "checks": [c.to_json() for c in self.checks],
            "certificate": self.certificate,
            "verifier_region": self.verifier_region,
            "as_of": _iso(self.as_of),
            "source": self.source,
        }
        if self.disclosed_fields is not None:
            out["disclosed_fields"] = self.disclosed_fields
            out["hidden_fields"] = self.hidden_fields or []
        if self.presentation is not None:
            out["presentation"] = self.presentation
        return out


def combine(checks: Sequence[Check]) -> Verdict:
    """The verdict of a list of checks: the first failure's (or error's), else INCOMPLETE if a
    check VALID depends on was skipped, else VALID."""
    for c in checks:
        if c.outcome in (Outcome.FAIL, Outcome.ERROR) and c.verdict is not None:
            return c.verdict
    if any(c.outcome is Outcome.SKIPPED and c.name in REQUIRED_FOR_VALID for c in checks):
        return Verdict.INCOMPLETE
    return Verdict.VALID


class Verifier:
    def __init__(
        self,
        source: Source,
        deployment: Deployment,
        *,
        checks: Sequence[CheckUnit] = DEFAULT_CHECKS,
        clock: Callable[[], float] = time.time,
        clock_skew: int = 30,
    ) -> None:
        self.source = source
        self.deployment = deployment
        self.checks = tuple(checks)
        self.clock = clock
        self.clock_skew = clock_skew  # seconds a wallet's clock may differ from ours (presentations)

    # -------------------------------------------------------------- entry points

    def verify_document(
        self,
        cert: Certificate,
        stated_hash: bytes | None = None,
        *,
        verifier_region: int | None = None,
        as_of: int | None = None,
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
        agency: str | None = None,
    ) -> VerificationResult:
        """By hash alone: the ledger's record of the certificate within ``agency`` (the issuing
        agency; without it, a hash anchored by several agencies is never VALID). The validity
        dates are not in a hash, so the best this answers is INCOMPLETE."""
        case = self._case(cert_hash, verifier_region, as_of)
        case.claimed_type, case.claimed_region, case.claimed_agency = claimed_type, claimed_region, agency
        return self._run(case)

    def verify_payload(
        self, payload: str, *, verifier_region: int | None = None, as_of: int | None = None
    ) -> VerificationResult:
        """A QR payload (compact, full, or a wallet's presentation); InvalidInput if it is not one."""
        if isinstance(payload, str) and payload.strip().startswith(PRESENTATION_PREFIX):
            if as_of is not None:
                raise InvalidInput("a presentation is checked as of now: leave out as_of")
            return self.verify_presentation(payload, verifier_region=verifier_region)
        decoded = decode(payload)
        if isinstance(decoded, CompactV3Payload):
            return self.verify_compact(decoded, verifier_region=verifier_region, as_of=as_of)
        if isinstance(decoded, CompactPayload):
            return self.verify_hash(
                decoded.cert_hash,
                verifier_region=verifier_region,
                as_of=as_of,
                claimed_type=decoded.type,
                claimed_region=decoded.region,
                agency=decoded.agency,
            )
        return self.verify_document(decoded, None, verifier_region=verifier_region, as_of=as_of)

    def verify_compact(
        self, compact: CompactV3Payload, *, verifier_region: int | None = None, as_of: int | None = None
    ) -> VerificationResult:
        """A ``CLC3:`` payload: the certificate hash is recomputed from its metadata and holder
        digest, so the ledger's record of that hash within the agency vouches for the metadata
        (dates, identifier) too, and the validity period is checked."""
        meta = compact.metadata
        case = self._case(compact.cert_hash, verifier_region, as_of)
        case.compact = compact
        case.claimed_type, case.claimed_region, case.claimed_agency = meta.type, meta.region, meta.agency
        return self._run(case)

    def verify_presentation(
        self, payload: str | Presentation, *, verifier_region: int | None = None
    ) -> VerificationResult:
        """A wallet's ``CLP1:`` presentation, as of now: the certificate as for a compact code
        (its hash recomputed from the metadata and the fields), the holder (the device key the
        agency bound, the window), and the fields the holder chose to show with the purpose."""
        p = payload if isinstance(payload, Presentation) else decode_presentation(payload)
        meta = p.metadata
        case = self._case(p.cert_hash, verifier_region, None)
        case.compact, case.presentation, case.clock_skew = p.compact, p, self.clock_skew
        case.claimed_type, case.claimed_region, case.claimed_agency = meta.type, meta.region, meta.agency
        result = self._run(case, PRESENTATION_CHECKS)
        result.disclosed_fields = p.fields
        result.hidden_fields = sorted(p.hidden)
        result.presentation = p.to_json()
        return result

    # -------------------------------------------------------------- composition

    def _case(self, cert_hash: bytes, verifier_region: int | None, as_of: int | None) -> Case:
        now = int(self.clock())
        if as_of is not None:
            if as_of > now + MAX_CLOCK_SKEW:
                raise InvalidInput("as_of is in the future")
            if not self.source.supports_as_of:
                raise InvalidInput(f"source={self.source.kind} answers for now only; leave out as_of or use the mirror")
        return Case(
            self.source,
            self.deployment,
            now if as_of is None else int(as_of),
            verifier_region,
            cert_hash,
            latest=as_of is None,
        )

    def _run(self, case: Case, units: Sequence[CheckUnit] | None = None) -> VerificationResult:
        head: SourceHead | None = None
        head_error: str | None = None
        doc = case.document
        try:
            case.source = self.source.for_case(
                case.agency,
                case.cert_hash,
                doc.anchor.root if doc is not None and doc.anchor is not None else None,
                case.verifier_region,
                case.as_of,
            )
            head = case.source.head()
        except SourceUnavailable as exc:
            head_error = str(exc)
        except Exception as exc:  # the database itself is unreachable
            head_error = f"{type(exc).__name__}"
        checks: list[Check] = []
        for unit in self.checks if units is None else units:
            if head_error is not None and unit.name != "integrity":
                checks.append(errored(unit.name, "UNAVAILABLE", f"could not check: {head_error}", reason=head_error))
                continue
            checks.append(run_check(unit, case))
        verdict = combine(checks)
        certificate = self._certificate(case)
        source = {
            "kind": case.source.kind,
            "block": head.block if head else None,
            "lag_blocks": head.lag_blocks if head else None,
        }
        if head is not None and head.age_seconds is not None:
            source["age_seconds"] = head.age_seconds
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
            "agency": a.agency if a else case.agency,
            "batch_root": "0x" + a.root.hex() if a else ("0x" + doc.anchor.root.hex() if doc and doc.anchor else None),
            "anchored_at": (
                {"block": a.block, "tx": "0x" + a.tx.hex() if a.tx else None, "time": iso_time(a.anchored_at)}
                if a
                else None
            ),
        }
        meta = case.metadata
        if meta is not None:
            out["valid_from"] = meta.valid_from
            out["valid_until"] = meta.valid_until
            if meta.identifier is not None:
                out["identifier"] = meta.identifier
            if doc is None or doc.version == 2:
                out["suite"] = meta.suite
        return out
