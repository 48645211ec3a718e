"""The verification checks. Each is a small unit with the same shape — ``run(case) -> Check`` —
and the engine composes them in order; a new check is a new class, not an edit of a long
function. A check that cannot get an answer from its source says so (outcome ERROR, verdict
ERROR): an outage never turns into REVOKED or INVALID. A check that has nothing to check
(no document, no verifier region) says so too (outcome SKIPPED), and the engine never answers
VALID when a check VALID depends on was skipped.

Every check reports a stable ``code`` and the ``params`` behind its English ``detail``, so that
pages and clients can say the same thing in their own language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ..contracts import KeyState, Status
from ..deployment import Deployment
from ..document import Certificate, Metadata, deployment_suite
from ..errors import LedgerError
from ..gbt.identifier import IdentifierError
from ..gbt.identifier import parse as parse_identifier
from ..ids import CHINA_STANDARD_TIME, agency_id, iso_time, type_id
from .sources import AnchorFacts, Source, SourceUnavailable

if TYPE_CHECKING:
    from ..presentation import Presentation
    from ..qr import CompactV3Payload


class Verdict(StrEnum):
    """The answer of a verification, strongest first when checks disagree (see the engine)."""

    VALID = "VALID"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    NOT_RECOGNIZED = "NOT_RECOGNIZED"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"
    INCOMPLETE = "INCOMPLETE"  # every check that ran passed, but one VALID depends on could not run
    ERROR = "ERROR"


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"  # nothing to check with this input (no document, no verifier region)
    ERROR = "ERROR"  # the source could not answer


VERDICTS = tuple(v.value for v in Verdict)


@dataclass
class Check:
    name: str
    outcome: Outcome
    code: str
    detail: str
    params: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None  # what this check makes the overall verdict (FAIL, ERROR)

    @property
    def ok(self) -> bool | None:
        """True passed, False failed, None skipped or undecided."""
        return True if self.outcome is Outcome.PASS else False if self.outcome is Outcome.FAIL else None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ok": self.ok,
            "outcome": self.outcome.value,
            "code": self.code,
            "detail": self.detail,
            "params": self.params,
        }


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
    claimed_type: str | None = None  # from a compact QR payload or the request
    claimed_region: int | None = None
    claimed_agency: str | None = None
    compact: CompactV3Payload | None = None  # a CLC3 payload: metadata bound in cert_hash
    presentation: Presentation | None = None  # a CLP1 presentation (its compact form is ``compact``)
    clock_skew: int = 30  # seconds of disagreement between a wallet's clock and ours that is forgiven
    anchor: AnchorFacts | None = None
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def agency(self) -> str | None:
        """The issuing agency the input names (bound in the document's hash, or claimed)."""
        return self.document.agency if self.document is not None else self.claimed_agency

    @property
    def metadata(self) -> Metadata | None:
        """The metadata the certificate hash binds (a document's, or a compact v3 payload's);
        None for a bare hash."""
        if self.document is not None:
            return self.document.metadata()
        if self.compact is not None:
            return self.compact.metadata
        return None


class CheckUnit(Protocol):
    name: str

    def run(self, case: Case) -> Check: ...


def passed(name: str, code: str, detail: str, **params: Any) -> Check:
    return Check(name, Outcome.PASS, code, detail, params)


def failed(name: str, verdict: Verdict, code: str, detail: str, **params: Any) -> Check:
    return Check(name, Outcome.FAIL, code, detail, params, verdict)


def skipped(name: str, code: str, detail: str, **params: Any) -> Check:
    return Check(name, Outcome.SKIPPED, code, detail, params)


def errored(name: str, code: str, detail: str, **params: Any) -> Check:
    return Check(name, Outcome.ERROR, code, detail, params, Verdict.ERROR)


def _not_anchored(name: str) -> Check:
    return skipped(name, "NOT_ANCHORED", "not checked: the certificate is not anchored")


def _suite_mismatch(name: str, claimed: str, deployment: Deployment) -> Check | None:
    expected = deployment_suite(deployment)
    if claimed == expected:
        return None
    return failed(
        name,
        Verdict.INVALID,
        "SUITE_MISMATCH",
        f"the certificate is hashed in suite {claimed}, but this ledger's suite is {expected}",
        suite=claimed,
        expected=expected,
    )


def _identifier_problem(name: str, identifier: str | None) -> Check | None:
    if identifier is None:
        return None
    try:
        parse_identifier(identifier)
    except IdentifierError as exc:
        return failed(
            name,
            Verdict.INVALID,
            "BAD_IDENTIFIER",
            f"the e-licence identifier does not conform to GB/T 36904: {exc}",
            identifier=identifier,
            segment=exc.segment,
        )
    return None


class Integrity:
    """The document hashes to its stated hash, its Merkle proof leads to its batch root, and
    the names of its hidden fields are fields of its type. A compact v3 payload has its
    certificate hash recomputed from its metadata and holder digest (the anchored check then
    finds that hash, or not). Either way the suite must be this ledger's and an identifier must
    conform to GB/T 36904."""

    name = "integrity"

    def run(self, case: Case) -> Check:
        doc = case.document
        if doc is None and case.compact is not None:
            meta = case.compact.metadata
            problem = _suite_mismatch(self.name, meta.suite, case.deployment) or _identifier_problem(
                self.name, meta.identifier
            )
            if problem is not None:
                return problem
            p = case.presentation
            if p is not None:
                problem = _stray_hidden(self.name, case, meta.type, p.hidden)
                if problem is not None:
                    return problem
                shown, hidden = len(p.shown), len(p.hidden)
                return passed(
                    self.name,
                    "FIELDS_BOUND",
                    f"certificate hash recomputed from the presentation's metadata and fields ({shown} shown, "
                    f"{hidden} hidden)",
                    shown=shown,
                    hidden=hidden,
                )
            return passed(
                self.name,
                "METADATA_BOUND",
                "certificate hash recomputed from the QR code's metadata and holder digest (fields not shown)",
                shown=0,
                hidden=None,
            )
        if doc is None:
            return skipped(self.name, "NO_DOCUMENT", "not checked: only the certificate hash was given, no document")
        problem = _suite_mismatch(self.name, doc.suite, case.deployment) or _identifier_problem(
            self.name, doc.identifier
        )
        if problem is not None:
            return problem
        if case.stated_hash is not None and case.stated_hash != case.cert_hash:
            return failed(
                self.name,
                Verdict.INVALID,
                "HASH_MISMATCH",
                "the document's fields do not produce its stated hash: it was altered",
            )
        if doc.anchor is None:
            return failed(self.name, Verdict.INVALID, "NO_ANCHOR", "the document carries no batch root and proof")
        if doc.computed_root(case.cert_hash) != doc.anchor.root:
            return failed(
                self.name,
                Verdict.INVALID,
                "PROOF_MISMATCH",
                "the Merkle proof does not lead from the certificate to its batch root",
            )
        problem = _stray_hidden(self.name, case, doc.type, doc.hidden)
        if problem is not None:
            return problem
        shown, hidden = len(doc.fields), len(doc.hidden)
        what = f"{shown} field(s) shown" + (f", {hidden} hidden" if hidden else "")
        return passed(self.name, "OK", f"hash and Merkle proof check out ({what})", shown=shown, hidden=hidden)


def _stray_hidden(name: str, case: Case, cert_type: str, hidden: Mapping[str, bytes]) -> Check | None:
    """Hidden entries are only hashes: their names are labels the holder could change. A name
    that is not a field of the type is refused; the rest are shown as "not shown"."""
    if not hidden:
        return None
    known = case.source.type_fields(cert_type)
    stray = sorted(n for n in hidden if known is not None and n not in known)
    if not stray:
        return None
    return failed(
        name,
        Verdict.INVALID,
        "UNKNOWN_FIELD_NAME",
        f"hidden entry {stray[0]!r} is not a field of {cert_type}: the labels were altered",
        field=stray[0],
        type=cert_type,
    )


class Anchored:
    """The issuing agency anchored the certificate: its batch (agency, root) for a document,
    or a batch of the agency listing the hash for a bare hash."""

    name = "anchored"

    def run(self, case: Case) -> Check:
        doc = case.document
        facts: AnchorFacts | None
        if doc is not None and doc.anchor is not None:
            anchor = doc.anchor
            if (
                anchor.chain_id != case.deployment.chain_id
                or anchor.registry.lower() != case.deployment.certificate_registry.lower()
            ):
                return failed(
                    self.name,
                    Verdict.INVALID,
                    "OTHER_LEDGER",
                    f"the document was anchored on chain {anchor.chain_id} at {anchor.registry}, not on this ledger",
                    chain_id=anchor.chain_id,
                    registry=anchor.registry,
                )
            facts = case.source.batch(doc.agency, anchor.root, case.cert_hash)
            if facts is None:
                return failed(
                    self.name,
                    Verdict.UNKNOWN,
                    "NOT_ANCHORED",
                    f"{doc.agency} anchored no batch with this root on the ledger",
                    agency=doc.agency,
                )
            listed = (
                facts.listed
                if facts.listed is not None
                else case.source.contains(doc.agency, anchor.root, case.cert_hash)
            )
            if listed is False:
                return failed(
                    self.name, Verdict.INVALID, "NOT_IN_BATCH", "the batch does not list this certificate hash"
                )
        else:
            found = case.source.resolve_hash(case.cert_hash, case.claimed_agency)
            facts = found.facts
            if facts is None and case.claimed_agency is None and len(found.agencies) > 1:
                agencies = list(found.agencies)
                return failed(
                    self.name,
                    Verdict.INVALID,
                    "AMBIGUOUS_ISSUER",
                    f"this hash was anchored by several agencies ({', '.join(agencies)}): name the issuing "
                    "agency (a current QR code does) to verify it",
                    agencies=agencies,
                )
            if facts is None:
                others = [a for a in found.agencies if a != case.claimed_agency]
                by = f" by {case.claimed_agency}" if case.claimed_agency else ""
                also = f" (other agencies anchored it: {', '.join(others)})" if others else ""
                return failed(
                    self.name,
                    Verdict.UNKNOWN,
                    "NOT_ANCHORED",
                    f"this certificate hash was never anchored{by} on the ledger{also}",
                    agency=case.claimed_agency,
                    others=others,
                )
        if not case.latest and facts.anchored_at > case.as_of:
            return failed(
                self.name,
                Verdict.UNKNOWN,
                "NOT_YET_ANCHORED",
                f"not anchored yet at {iso_time(case.as_of)}",
                time=iso_time(case.as_of),
            )
        case.anchor = facts
        when = iso_time(facts.anchored_at)
        where = f"block {facts.block}" if facts.block is not None else "the chain"
        return passed(
            self.name,
            "OK",
            f"anchored in {where} at {when} by {facts.agency}",
            agency=facts.agency,
            block=facts.block,
            time=when,
        )


class HolderBound:
    """A presentation (``CLP1:``): signed by the device key the certificate's agency bound to
    it, and shown within its window (a screenshot shown again later, or a copy presented from
    another device, never passes). Only in the checks of a presentation."""

    name = "holder"

    def run(self, case: Case) -> Check:
        from ..presentation import MAX_LIFETIME, key_hash

        p = case.presentation
        if p is None:
            return skipped(self.name, "NO_PRESENTATION", "not checked: this is not a presentation")
        if not p.signature_ok():
            return failed(
                self.name,
                Verdict.INVALID,
                "HOLDER_SIGNATURE_INVALID",
                "the presentation's signature is not its device key's: it was altered or forged",
            )
        now, skew = case.as_of, case.clock_skew
        if p.expires_at - p.issued_at > MAX_LIFETIME:
            return failed(
                self.name,
                Verdict.INVALID,
                "PRESENTATION_TOO_LONG",
                f"the presentation claims a window of {p.expires_at - p.issued_at} s; at most {MAX_LIFETIME} s is "
                "accepted",
                seconds=p.expires_at - p.issued_at,
                limit=MAX_LIFETIME,
            )
        if p.issued_at > now + skew:
            return failed(
                self.name,
                Verdict.INVALID,
                "PRESENTATION_NOT_YET_VALID",
                f"the presentation is dated {iso_time(p.issued_at)}, in the future: the device's clock is wrong",
                issued=iso_time(p.issued_at),
            )
        if now > p.expires_at + skew:
            return failed(
                self.name,
                Verdict.EXPIRED,
                "PRESENTATION_EXPIRED",
                f"this presentation expired {now - p.expires_at} s ago (at {iso_time(p.expires_at)}): a copy or "
                "screenshot shown again; ask the holder to show a fresh one",
                seconds=now - p.expires_at,
                expired=iso_time(p.expires_at),
            )
        # The binding is looked up under the agency the metadata names (bound in the certificate
        # hash); the anchored check then requires that agency to have anchored the certificate.
        agency = p.metadata.agency
        bound = case.source.holder_binding(agency, case.cert_hash)
        if bound is None:
            return failed(
                self.name,
                Verdict.INVALID,
                "HOLDER_NOT_BOUND",
                f"{agency} bound no holder device to this certificate: it cannot be presented from a wallet",
                agency=agency,
            )
        if bound != key_hash(p.holder_key):
            return failed(
                self.name,
                Verdict.INVALID,
                "HOLDER_KEY_MISMATCH",
                "presented from a device that is not the holder's: the key that signed it is not the one "
                f"{agency} bound to this certificate",
                agency=agency,
            )
        return passed(
            self.name,
            "OK",
            f"presented from the holder's device (bound by {agency}), valid until {iso_time(p.expires_at)}",
            agency=agency,
            until=iso_time(p.expires_at),
        )


class IssuerAuthorized:
    """The batch was anchored by the agency, type and region the certificate claims, and no
    removal of that region voids the anchoring."""

    name = "issuer_authorized"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _not_anchored(self.name)
        doc = case.document
        claims = {
            "agency": case.agency,
            "type": doc.type if doc else case.claimed_type,
            "region": doc.region if doc else case.claimed_region,
        }
        if claims["agency"] is not None and claims["agency"] != a.agency:
            return failed(
                self.name,
                Verdict.INVALID,
                "WRONG_AGENCY",
                f"claims issuer {claims['agency']}, but the batch was anchored by {a.agency}",
                claimed=claims["agency"],
                actual=a.agency,
            )
        if claims["type"] is not None and claims["type"] != a.cert_type:
            return failed(
                self.name,
                Verdict.INVALID,
                "WRONG_TYPE",
                f"claims type {claims['type']}, but the batch is of type {a.cert_type}",
                claimed=claims["type"],
                actual=a.cert_type,
            )
        if a.issuer_region is None:
            return errored(self.name, "AGENCY_UNKNOWN", f"the region of {a.agency} is not known", agency=a.agency)
        if claims["region"] is not None and claims["region"] != a.issuer_region:
            return failed(
                self.name,
                Verdict.INVALID,
                "WRONG_REGION",
                f"claims region {claims['region']}, but {a.agency} is in {a.issuer_region}",
                claimed=claims["region"],
                actual=a.issuer_region,
            )
        problem = _identifier_issuer_problem(self.name, case, a)
        if problem is not None:
            return problem
        cutoff = case.source.region_void(a.issuer_region, a.anchored_at)
        if cutoff is not None:
            return failed(
                self.name,
                Verdict.INVALID,
                "REGION_REMOVED",
                f"region {a.issuer_region} was removed from the consortium, voiding its anchors made from "
                f"{iso_time(cutoff)} on; this one was made at {iso_time(a.anchored_at)}",
                region=a.issuer_region,
                cutoff=iso_time(cutoff),
            )
        # The contract accepted the batch only from an enabled key of an enabled agency allowed
        # this type, so being anchored is the authorisation at anchoring time.
        return passed(
            self.name,
            "OK",
            f"{a.agency} ({a.issuer_region}) was authorised to issue {a.cert_type} when it anchored",
            agency=a.agency,
            region=a.issuer_region,
            type=a.cert_type,
        )


def _identifier_issuer_problem(name: str, case: Case, a: AnchorFacts) -> Check | None:
    """An e-licence identifier names its issuer by credit code: it must be the code the ledger
    records for the agency that anchored the certificate. Else an agency could put another
    agency's code (and so its identifiers) on certificates of its own."""
    meta = case.metadata
    if meta is None or meta.identifier is None:
        return None
    try:
        named = parse_identifier(meta.identifier).issuer_code
    except IdentifierError:
        return None  # the integrity check refuses it (BAD_IDENTIFIER)
    recorded = case.source.credit_code(a.agency)
    if recorded is None:
        return failed(
            name,
            Verdict.INVALID,
            "ISSUER_CODE_UNKNOWN",
            f"the identifier names issuer {named}, but the ledger records no credit code for {a.agency}",
            named=named,
            agency=a.agency,
        )
    if named != recorded:
        return failed(
            name,
            Verdict.INVALID,
            "ISSUER_CODE_MISMATCH",
            f"the identifier names issuer {named}, but {a.agency} (which anchored it) is {recorded}",
            named=named,
            agency=a.agency,
            recorded=recorded,
        )
    return None


class KeyValid:
    """The batch's signing key belonged to the agency and was not compromised at anchoring time;
    the document's EIP-712 signature is that key's. In an sm deployment also: the batch's SM2
    signature is the one the ledger recorded, and verifies under the SM2 public key registered
    with the signing key (GM/T 0009, default signer ID)."""

    name = "key_valid"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _not_anchored(self.name)
        sm = case.deployment.suite != "intl"
        doc = case.document
        sm2_signature: bytes | None = a.sm2_signature  # the whole signature, when the source knows it
        if doc is not None and doc.anchor is not None:
            from ..merkle import keccak
            from ..signing import recover_batch_signer

            carried = doc.anchor.sm2_signature
            recorded = a.sm2_signature_hash or (keccak(a.sm2_signature) if a.sm2_signature else None)
            if sm and carried is None:
                return failed(
                    self.name,
                    Verdict.INVALID,
                    "SM2_SIGNATURE_MISSING",
                    "the document carries no SM2 batch signature, which every batch of this sm deployment has",
                )
            if carried is not None and (recorded is None or keccak(carried) != recorded):
                return failed(
                    self.name,
                    Verdict.INVALID,
                    "SM2_SIGNATURE_MISMATCH",
                    "the document's SM2 batch signature is not the one the ledger recorded for this batch"
                    if recorded is not None
                    else "the document carries an SM2 batch signature, but the ledger recorded none for this batch",
                )
            sm2_signature = carried
            try:
                signer = recover_batch_signer(
                    doc.anchor.signature,
                    doc.anchor.root,
                    type_id(a.cert_type),
                    agency_id(a.agency),
                    doc.anchor.chain_id,
                    doc.anchor.registry,
                    sm2_signature=carried or b"",
                    identifier_tags_hash=a.identifier_tags_hash,
                )
            except Exception:  # any signature that does not recover is malformed: decided offline
                return failed(self.name, Verdict.INVALID, "BAD_SIGNATURE", "the batch signature is malformed")
            if signer.lower() != a.key.lower():  # the same 20 bytes (a checksum is only letter case)
                return failed(
                    self.name,
                    Verdict.INVALID,
                    "FORGED_SIGNATURE",
                    f"the batch signature is by {signer}, not by the anchoring key {a.key}",
                    signer=signer,
                    key=a.key,
                )
        key = case.source.key(a.key)
        if key is None or key.agency != a.agency:
            return failed(
                self.name,
                Verdict.INVALID,
                "UNKNOWN_KEY",
                f"key {a.key} is not a key of {a.agency}",
                key=a.key,
                agency=a.agency,
            )
        if sm and sm2_signature is not None:
            problem = _sm2_problem(case, a, key.sm2_public_key, sm2_signature)
            if problem is not None:
                return problem
        if key.state_at(a.anchored_at) is KeyState.COMPROMISED:
            since = iso_time(key.compromised_since)
            return failed(
                self.name,
                Verdict.INVALID,
                "KEY_COMPROMISED",
                f"key {a.key} is reported compromised since {since}, before this anchor",
                key=a.key,
                since=since,
            )
        how = " (EIP-712 and SM2)" if sm and sm2_signature is not None else ""
        return passed(self.name, "OK", f"signed by {a.key}{how}, valid at anchoring time", key=a.key)


def _sm2_problem(case: Case, a: AnchorFacts, public_key: bytes, signature: bytes) -> Check | None:
    """Why the batch's SM2 signature does not stand, or None when it verifies under the SM2
    key registered with the anchoring key (which shares that key's life cycle)."""
    from ..signing import sm2_batch_signature_ok

    if not public_key:
        return failed(
            KeyValid.name,
            Verdict.INVALID,
            "SM2_KEY_MISSING",
            f"key {a.key} has no SM2 public key registered: its SM2 batch signature cannot be trusted",
            key=a.key,
        )
    doc = case.document
    chain_id = doc.anchor.chain_id if doc is not None and doc.anchor is not None else case.deployment.chain_id
    registry = (
        doc.anchor.registry if doc is not None and doc.anchor is not None else case.deployment.certificate_registry
    )
    ok = sm2_batch_signature_ok(
        public_key,
        signature,
        a.root,
        type_id(a.cert_type),
        agency_id(a.agency),
        chain_id,
        registry,
        identifier_tags_hash=a.identifier_tags_hash,
    )
    if not ok:
        return failed(
            KeyValid.name,
            Verdict.INVALID,
            "FORGED_SM2_SIGNATURE",
            f"the SM2 batch signature does not verify under the SM2 key registered with {a.key}",
            key=a.key,
        )
    return None


class CurrentStatus:
    """Not revoked or suspended (the certificate, or its whole batch) as of the asked time."""

    name = "status"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _not_anchored(self.name)
        if case.latest and a.status_now is not None:  # read along with the anchoring
            st = a.status_now
        else:
            st = case.source.status(case.cert_hash, a.agency, a.root, None if case.latest else case.as_of)
        ev = st.event
        role = st.by.name if st.by is not None else None
        params: dict[str, Any] = {
            "scope": ev.scope if ev else None,
            "reason": ev.reason if ev else None,
            "time": iso_time(ev.time) if ev else None,
            "role": role,
        }
        how = f" ({ev.scope}, reason {ev.reason}, {iso_time(ev.time)})" if ev is not None else ""
        by = f" by the {role.lower().replace('_', ' ')}" if role else ""
        if st.status is Status.REVOKED:
            return failed(self.name, Verdict.REVOKED, "REVOKED", f"revoked{by}{how}", **params)
        if st.status is Status.SUSPENDED:
            return failed(self.name, Verdict.SUSPENDED, "SUSPENDED", f"suspended{by}{how}", **params)
        if ev is not None:
            return passed(self.name, "REINSTATED", f"active, reinstated{by}{how}", **params)
        return passed(self.name, "OK", "active")


class ValidityPeriod:
    """The asked time is within validFrom .. validUntil: calendar dates in China Standard Time
    (UTC+8), valid from the start of validFrom through the end of validUntil."""

    name = "validity_period"

    def run(self, case: Case) -> Check:
        doc = case.metadata
        if doc is None:
            return skipped(
                self.name,
                "NO_DATES",
                "not checked: the validity dates are in the certificate, and only its hash was given",
            )
        today = datetime.fromtimestamp(case.as_of, CHINA_STANDARD_TIME).date()
        if today < date.fromisoformat(doc.valid_from):
            return failed(
                self.name,
                Verdict.EXPIRED,
                "NOT_YET_VALID",
                f"not valid before {doc.valid_from}",
                valid_from=doc.valid_from,
            )
        if doc.valid_until and today > date.fromisoformat(doc.valid_until):
            return failed(
                self.name, Verdict.EXPIRED, "EXPIRED", f"expired on {doc.valid_until}", valid_until=doc.valid_until
            )
        until = f" until {doc.valid_until}" if doc.valid_until else ", no end date"
        return passed(
            self.name,
            "OK",
            f"valid from {doc.valid_from}{until}",
            valid_from=doc.valid_from,
            valid_until=doc.valid_until,
        )


class Recognition:
    """The verifier's region recognises this type from the issuing region (on-chain rules)."""

    name = "recognition"

    def run(self, case: Case) -> Check:
        a = case.anchor
        if a is None:
            return _not_anchored(self.name)
        if case.verifier_region is None:
            return skipped(self.name, "NO_VERIFIER_REGION", "not checked: no verifier region given")
        if a.issuer_region is None:
            return errored(
                self.name, "UNKNOWN_ISSUER_REGION", f"the region of {a.agency} is not known", agency=a.agency
            )
        v, t, i = case.verifier_region, a.cert_type, a.issuer_region
        if case.source.recognition(v, t, i, case.as_of, latest=case.latest):
            if v == i:
                return passed(self.name, "OWN_REGION", f"{v} recognises its own certificates", region=v)
            return passed(self.name, "OK", f"{v} recognises {t} from {i}", verifier_region=v, type=t, issuer_region=i)
        return failed(
            self.name,
            Verdict.NOT_RECOGNIZED,
            "NO_RULE",
            f"{v} has no rule recognising {t} issued in {i}",
            verifier_region=v,
            type=t,
            issuer_region=i,
        )


DEFAULT_CHECKS: tuple[CheckUnit, ...] = (
    Integrity(),
    Anchored(),
    IssuerAuthorized(),
    KeyValid(),
    CurrentStatus(),
    ValidityPeriod(),
    Recognition(),
)

# A presentation's checks: the holder's right after integrity (an altered, stale or copied
# presentation is what the verifier must be told first).
PRESENTATION_CHECKS: tuple[CheckUnit, ...] = (DEFAULT_CHECKS[0], HolderBound(), *DEFAULT_CHECKS[1:])

# A verification that skipped one of these never answers VALID (it answers INCOMPLETE).
REQUIRED_FOR_VALID = frozenset({"integrity", "validity_period"})


def run_check(unit: CheckUnit, case: Case) -> Check:
    """Run one check; an unavailable source or a failing database makes it ERROR, never a verdict."""
    try:
        return unit.run(case)
    except (SourceUnavailable, LedgerError) as exc:
        return errored(unit.name, "UNAVAILABLE", f"could not check: {exc}", reason=str(exc))
    except Exception as exc:  # a database or transport failure we did not foresee
        return errored(unit.name, "UNAVAILABLE", f"could not check: {type(exc).__name__}", reason=type(exc).__name__)
