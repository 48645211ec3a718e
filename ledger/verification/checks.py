"""The verification checks. Each is a small unit with the same shape — ``run(case) -> Check`` —
and the engine composes them in order; a new check is a new class, not an edit of a long
function. A check that cannot get an answer from its source says so (verdict ERROR): an outage
never turns into REVOKED or INVALID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from eth_utils import to_checksum_address

from ..contracts import KeyState, Status
from ..deployment import Deployment
from ..document import Certificate
from ..errors import LedgerError
from ..ids import CHINA_STANDARD_TIME, agency_id, iso_time, type_id
from ..signing import recover_batch_signer
from .sources import AnchorFacts, Source, SourceUnavailable

VERDICTS = ("VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INVALID", "UNKNOWN", "ERROR")


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped, or could not be decided
    detail: str
    code: str = "OK"
    verdict: str | None = None  # what a failure of this check makes the overall verdict

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "code": self.code}


@dataclass
class Case:
    """One verification: the inputs, and facts checks hand to later checks."""

    source: Source
    deployment: Deployment
    as_of: int  # the time asked about (now when ``latest``)
    verifier_region: int | None
    cert_hash: bytes
    latest: bool = True  # no as_of given: the latest mirrored state, whatever the block times
    document: Certificate | None = None
    stated_hash: bytes | None = None
    claimed_type: str | None = None  # from a compact QR payload
    claimed_region: int | None = None
    anchor: AnchorFacts | None = None
    facts: dict[str, object] = field(default_factory=dict)


class CheckUnit(Protocol):
    name: str

    def run(self, case: Case) -> Check: ...


def _ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def _fail(name: str, verdict: str, code: str, detail: str) -> Check:
    return Check(name, False, detail, code, verdict)


def _skip(name: str, detail: str) -> Check:
    return Check(name, None, detail, "SKIPPED")


class Integrity:
    """The document hashes to its stated hash, and its Merkle proof leads to its batch root."""

    name = "integrity"

    def run(self, case: Case) -> Check:
        doc = case.document
        if doc is None:
            return _skip(self.name, "verified by certificate hash only: no document to check")
        if case.stated_hash is not None and case.stated_hash != case.cert_hash:
            return _fail(self.name, "INVALID", "HASH_MISMATCH", "the document's fields do not produce its stated hash: it was altered")
        if doc.anchor is None:
            return _fail(self.name, "INVALID", "NO_ANCHOR", "the document carries no batch root and proof")
        root = doc.computed_root(case.cert_hash)
        if root != doc.anchor.root:
            return _fail(self.name, "INVALID", "PROOF_MISMATCH", "the Merkle proof does not lead from the certificate to its batch root")
        shown = f"{len(doc.fields)} field(s) shown" + (f", {len(doc.hidden)} hidden" if doc.hidden else "")
        return _ok(self.name, f"hash and Merkle proof check out ({shown})")


class Anchored:
    """The ledger has the batch (and, for the mirror, lists the certificate in it)."""

    name = "anchored"

    def run(self, case: Case) -> Check:
        doc = case.document
        if doc is not None and doc.anchor is not None:
            if doc.anchor.chain_id != case.deployment.chain_id or doc.anchor.registry.lower() != case.deployment.certificate_registry.lower():
                return _fail(
                    self.name, "INVALID", "OTHER_LEDGER",
                    f"the document was anchored on chain {doc.anchor.chain_id} at {doc.anchor.registry}, not on this ledger",
                )
            facts = case.source.batch(doc.anchor.root)
            if facts is None:
                return _fail(self.name, "UNKNOWN", "NOT_ANCHORED", "no batch with this root is anchored on the ledger")
            if case.source.contains(doc.anchor.root, case.cert_hash) is False:
                return _fail(self.name, "INVALID", "NOT_IN_BATCH", "the batch does not list this certificate hash")
        else:
            facts = case.source.anchor_of_hash(case.cert_hash)
            if facts is None:
                return _fail(self.name, "UNKNOWN", "NOT_ANCHORED", "this certificate hash was never anchored on the ledger")
        if not case.latest and facts.anchored_at > case.as_of:
            return _fail(self.name, "UNKNOWN", "NOT_YET_ANCHORED", f"not anchored yet at {iso_time(case.as_of)}")
        case.anchor = facts
        when = iso_time(facts.anchored_at)
        where = f"block {facts.block}" if facts.block is not None else "the chain"
        return _ok(self.name, f"anchored in {where} at {when} by {facts.agency}")


class IssuerAuthorized:
    """The batch was anchored by the agency, type and region the certificate claims."""

    name = "issuer_authorized"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _skip(self.name, "not anchored")
        doc = case.document
        claims = {
            "agency": doc.agency if doc else None,
            "type": doc.type if doc else case.claimed_type,
            "region": doc.region if doc else case.claimed_region,
        }
        if claims["agency"] is not None and claims["agency"] != a.agency:
            return _fail(self.name, "INVALID", "WRONG_AGENCY", f"claims issuer {claims['agency']}, but the batch was anchored by {a.agency}")
        if claims["type"] is not None and claims["type"] != a.cert_type:
            return _fail(self.name, "INVALID", "WRONG_TYPE", f"claims type {claims['type']}, but the batch is of type {a.cert_type}")
        if claims["region"] is not None and a.issuer_region is not None and claims["region"] != a.issuer_region:
            return _fail(self.name, "INVALID", "WRONG_REGION", f"claims region {claims['region']}, but {a.agency} is in {a.issuer_region}")
        # The contract accepted the batch only from an active key of an active agency allowed
        # this type, so being anchored is the authorisation at anchoring time.
        return _ok(self.name, f"{a.agency} ({a.issuer_region}) was authorised to issue {a.cert_type} when it anchored")


class KeyValid:
    """The batch's signing key belonged to the agency and was not compromised at anchoring time;
    the document's EIP-712 signature is that key's."""

    name = "key_valid"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _skip(self.name, "not anchored")
        doc = case.document
        if doc is not None and doc.anchor is not None:
            try:
                signer = recover_batch_signer(
                    doc.anchor.signature, doc.anchor.root, type_id(a.cert_type), agency_id(a.agency),
                    doc.anchor.chain_id, doc.anchor.registry,
                )
            except Exception:  # any signature that does not recover is malformed: decided offline
                return _fail(self.name, "INVALID", "BAD_SIGNATURE", "the batch signature is malformed")
            if signer != to_checksum_address(a.key):
                return _fail(self.name, "INVALID", "FORGED_SIGNATURE", f"the batch signature is by {signer}, not by the anchoring key {a.key}")
        key = case.source.key(a.key)
        if key is None or key.agency != a.agency:
            return _fail(self.name, "INVALID", "UNKNOWN_KEY", f"key {a.key} is not a key of {a.agency}")
        state = key.state_at(a.anchored_at)
        if state is KeyState.COMPROMISED:
            return _fail(self.name, "INVALID", "KEY_COMPROMISED",
                         f"key {a.key} is reported compromised since {iso_time(key.compromised_since)}, before this anchor")
        return _ok(self.name, f"signed by {a.key}, valid at anchoring time")


class CurrentStatus:
    """Not revoked or suspended (the certificate, or its whole batch) as of the asked time."""

    name = "status"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _skip(self.name, "not anchored")
        st = case.source.status(case.cert_hash, a.agency, a.root, None if case.latest else case.as_of)
        ev = st.event
        how = f" ({ev.scope}, reason {ev.reason}, {iso_time(ev.time)})" if ev is not None else ""
        if st.status is Status.REVOKED:
            return _fail(self.name, "REVOKED", "REVOKED", f"revoked{how}")
        if st.status is Status.SUSPENDED:
            return _fail(self.name, "SUSPENDED", "SUSPENDED", f"suspended{how}")
        return _ok(self.name, "active" + (f", reinstated{how}" if ev is not None else ""))


class ValidityPeriod:
    """The asked time is within validFrom .. validUntil: calendar dates in China Standard Time
    (UTC+8), valid from the start of validFrom through the end of validUntil."""

    name = "validity_period"

    def run(self, case: Case) -> Check:
        doc = case.document
        if doc is None:
            return _skip(self.name, "the validity dates are in the document, not on the ledger")
        today = datetime.fromtimestamp(case.as_of, CHINA_STANDARD_TIME).date()
        if today < date.fromisoformat(doc.valid_from):
            return _fail(self.name, "EXPIRED", "NOT_YET_VALID", f"not valid before {doc.valid_from}")
        if doc.valid_until and today > date.fromisoformat(doc.valid_until):
            return _fail(self.name, "EXPIRED", "EXPIRED", f"expired on {doc.valid_until}")
        return _ok(self.name, f"valid from {doc.valid_from}" + (f" until {doc.valid_until}" if doc.valid_until else ", no end date"))


class Recognition:
    """The verifier's region recognises this type from the issuing region (on-chain rules)."""

    name = "recognition"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _skip(self.name, "not anchored")
        if case.verifier_region is None:
            return _skip(self.name, "no verifier region given")
        if a.issuer_region is None:
            return _fail(self.name, "ERROR", "UNKNOWN_ISSUER_REGION", f"the region of {a.agency} is not known")
        if case.source.recognition(case.verifier_region, a.cert_type, a.issuer_region, case.as_of, latest=case.latest):
            how = "its own certificates" if case.verifier_region == a.issuer_region else f"{a.cert_type} from {a.issuer_region}"
            return _ok(self.name, f"{case.verifier_region} recognises {how}")
        return _fail(self.name, "NOT_RECOGNIZED", "NO_RULE",
                     f"{case.verifier_region} has no rule recognising {a.cert_type} issued in {a.issuer_region}")


DEFAULT_CHECKS: tuple[CheckUnit, ...] = (
    Integrity(),
    Anchored(),
    IssuerAuthorized(),
    KeyValid(),
    CurrentStatus(),
    ValidityPeriod(),
    Recognition(),
)


def run_check(unit: CheckUnit, case: Case) -> Check:
    """Run one check; an unavailable source or a failing database makes it ERROR, never a verdict."""
    try:
        return unit.run(case)
    except (SourceUnavailable, LedgerError) as exc:
        return Check(unit.name, None, f"could not check: {exc}", "UNAVAILABLE", "ERROR")
    except Exception as exc:  # a database or transport failure we did not foresee
        return Check(unit.name, None, f"could not check: {type(exc).__name__}", "UNAVAILABLE", "ERROR")
