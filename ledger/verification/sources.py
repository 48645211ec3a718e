"""Where verification looks things up: the mirror (fast, default) or the chain itself
(``source=chain``: the contracts' views, trusting no mirror). Both answer the same questions
in the same shapes, so every check runs unchanged on either.
"""

from __future__ import annotations

import base64
import http.client
import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

import orjson

from ..contracts import KeyState, Status
from ..errors import ChainUnavailable, LedgerError
from ..mirror.queries import KeyRecord, MirrorQueries, StatusAt, schema_field_names
from ..rules import effective_status
from ..watch import NodeWatch

if TYPE_CHECKING:  # the mirror's path never loads web3
    from ..chain import Chain
    from ..registry import Inspection, Registry


class SourceUnavailable(LedgerError):
    """The source cannot answer reliably now (node down, mirror behind): verdict ERROR."""

    code = "SOURCE_UNAVAILABLE"


@dataclass(frozen=True)
class AnchorFacts:
    """What the ledger knows about the batch a certificate is in."""

    root: bytes
    agency: str
    cert_type: str
    key: str
    anchored_at: int
    block: int | None
    tx: bytes | None
    issuer_region: int | None
    # What the batch's signatures committed to (the national profile). The ledger records an SM2
    # signature exactly in an sm deployment: the mirror knows it whole, the chain its keccak256.
    sm2_signature: bytes | None = None
    sm2_signature_hash: bytes | None = None
    identifier_tags_hash: bytes | None = None  # keccak256 of the batch's identifier tags; None: none
    # What a source read along with the anchoring for one certificate, when it did (the mirror:
    # in the same round trip): whether the batch lists it, and its status at the source's head.
    listed: bool | None = None
    status_now: StatusAt | None = None

    @property
    def sm2_signed(self) -> bool:
        """Whether the ledger recorded an SM2 signature for the batch (an sm deployment)."""
        return bool(self.sm2_signature) or bool(self.sm2_signature_hash)


@dataclass(frozen=True)
class SourceHead:
    kind: str  # "mirror", "chain" or "snapshot"
    block: int
    lag_blocks: int
    age_seconds: int | None = None  # a snapshot: how old its block is


@dataclass(frozen=True)
class HashAnchor:
    """A certificate hash resolved within its issuing agency: the anchoring to verify against
    (None when not anchored by the agency asked for, or when several agencies anchored the hash
    and none was named), and every agency that anchored it."""

    facts: AnchorFacts | None
    agencies: tuple[str, ...]


class Source(Protocol):
    kind: str
    supports_as_of: bool  # can answer "as of a past time"

    def head(self) -> SourceHead: ...

    def resolve_hash(self, cert_hash: bytes, agency: str | None) -> HashAnchor:
        """The anchoring of ``cert_hash`` within ``agency`` (by hash alone)."""

    def batch(self, agency: str, root: bytes, cert_hash: bytes | None = None) -> AnchorFacts | None:
        """The agency's batch with this root. Given ``cert_hash``, a source may read along
        whether the batch lists it and its status now (``listed``, ``status_now``)."""

    def contains(self, agency: str, root: bytes, cert_hash: bytes) -> bool | None:
        """Whether the agency's batch lists the hash (None: this source cannot tell without a proof)."""

    def key(self, address: str) -> KeyRecord | None: ...

    def region_void(self, region: int, at: int) -> int | None:
        """The cut-off of a removal of ``region`` that voids its anchors made at ``at``, or None."""

    def type_fields(self, cert_type: str) -> frozenset[str] | None:
        """The field names of the type's schema (None: no such type)."""

    def credit_code(self, agency: str) -> str | None:
        """The agency's unified social credit code as the ledger records it now (None: none set)."""

    def holder_binding(self, agency: str, cert_hash: bytes) -> bytes | None:
        """The SHA-256 of the device key the agency bound to the certificate (None: none bound)."""

    def status(self, cert_hash: bytes, agency: str, root: bytes, at: int | None) -> StatusAt:
        """The status at time ``at``, or the latest known (None)."""

    def recognition(self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False) -> bool:
        """Whether a rule covers ``at``; ``latest``: by the rules in force now (whatever their
        block times), else by the rules as they stood at ``at``."""

    def for_case(
        self, agency: str | None, cert_hash: bytes, root: bytes | None, verifier_region: int | None, at: int
    ) -> Source:
        """The source to answer one verification (a source may read what it needs at once)."""


class MirrorSource:
    """The mirror database, refusing to answer when it is too far behind the chain, when its
    indexer has gone silent, or when the node no longer serves the deployment's chain."""

    kind = "mirror"
    supports_as_of = True

    def __init__(
        self,
        queries: MirrorQueries,
        *,
        max_lag_blocks: int = 5,
        max_staleness_seconds: float = 10.0,
        watch: NodeWatch | None = None,
        stale_after: float = 2.0,
    ) -> None:
        self.q = queries
        self.max_lag_blocks = max_lag_blocks
        self.max_staleness_seconds = max_staleness_seconds
        self.watch = watch  # the node's head and identity, polled off the request path
        self.stale_after = stale_after

    def head(self) -> SourceHead:
        head = self.q.head()
        if head.chain_problem:
            raise SourceUnavailable(f"the mirror's indexer stopped: {head.chain_problem}")
        node = self.watch.snapshot() if self.watch is not None else None
        if node is not None and node.identity_problem:
            raise SourceUnavailable(node.identity_problem)
        if head.chain_head is None or head.chain_head_seen_at is None:
            raise SourceUnavailable("the mirror has not seen the chain yet (is the indexer running?)")
        age = time.time() - head.chain_head_seen_at
        if age > self.max_staleness_seconds:
            raise SourceUnavailable(
                f"the indexer last reached the chain {age:.0f} s ago: {head.last_error or 'indexer not running'}"
            )
        live = node.head if node is not None and node.answering(self.stale_after) else None
        lag = max(0, (live if live is not None else head.chain_head) - head.block)
        if lag > self.max_lag_blocks:
            raise SourceUnavailable(f"the mirror is {lag} blocks behind the chain (more than {self.max_lag_blocks})")
        return SourceHead(self.kind, head.block, lag)

    def _facts(self, rec: object) -> AnchorFacts:
        return AnchorFacts(
            rec.root,  # type: ignore[attr-defined]
            rec.agency,  # type: ignore[attr-defined]
            rec.cert_type,  # type: ignore[attr-defined]
            rec.key,  # type: ignore[attr-defined]
            rec.time,  # type: ignore[attr-defined]
            rec.block,  # type: ignore[attr-defined]
            rec.tx,  # type: ignore[attr-defined]
            rec.issuer_region,  # type: ignore[attr-defined]
            sm2_signature=getattr(rec, "sm2_signature", None),
            identifier_tags_hash=getattr(rec, "identifier_tags_hash", None),
            listed=getattr(rec, "listed", None),
            status_now=getattr(rec, "status_now", None),
        )

    def for_case(
        self, agency: str | None, cert_hash: bytes, root: bytes | None, verifier_region: int | None, at: int
    ) -> Source:
        return self

    def resolve_hash(self, cert_hash: bytes, agency: str | None) -> HashAnchor:
        found = self.q.lookup(cert_hash, agency)
        return HashAnchor(None if found.record is None else self._facts(found.record), found.agencies)

    def batch(self, agency: str, root: bytes, cert_hash: bytes | None = None) -> AnchorFacts | None:
        rec = self.q.batch(agency, root) if cert_hash is None else self.q.anchoring(agency, root, cert_hash)
        return None if rec is None else self._facts(rec)

    def contains(self, agency: str, root: bytes, cert_hash: bytes) -> bool | None:
        return self.q.in_batch(agency, root, cert_hash)

    def key(self, address: str) -> KeyRecord | None:
        return self.q.key(address)

    def region_void(self, region: int, at: int) -> int | None:
        return self.q.region_void(region, at)

    def type_fields(self, cert_type: str) -> frozenset[str] | None:
        return self.q.type_fields(cert_type)

    def credit_code(self, agency: str) -> str | None:
        return self.q.credit_code(agency)

    def holder_binding(self, agency: str, cert_hash: bytes) -> bytes | None:
        return self.q.holder_binding(agency, cert_hash)

    def status(self, cert_hash: bytes, agency: str, root: bytes, at: int | None) -> StatusAt:
        return self.q.status_as_of(cert_hash, agency, root, at=at)

    def recognition(self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False) -> bool:
        return self.q.recognition(verifier, cert_type, issuer, at, latest=latest) is not None


class NodeCalls:
    """JSON-RPC calls on the chain source's hot path: one keep-alive HTTP connection per
    thread (``http.client``, ``orjson``), a few hundred microseconds of CPU a call where
    web3's provider (``requests``) takes over a millisecond. Errors read as the chain's own
    (``Chain.raw``): ChainUnavailable when the node does not answer, LedgerError RPC_ERROR when
    it refuses. A WebSocket node, or an HTTP one behind a proxy, is called through the chain's
    provider."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        url = urlsplit(chain.url)
        self.host, self.port = url.hostname or "", url.port
        self.https = url.scheme == "https"
        proxied = bool(urllib.request.getproxies().get(url.scheme)) and not urllib.request.proxy_bypass(self.host)
        self.lean = url.scheme in ("http", "https") and bool(self.host) and not proxied
        self.path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self.headers = {"Content-Type": "application/json"}
        if url.username is not None:
            login = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(login).decode()
        self._local = threading.local()
        self._ids = iter(range(1, 1 << 62))

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.https:
                import ssl

                # the certificate authorities requests would use (its variables, else certifi's)
                cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if not cafile:
                    import certifi

                    cafile = certifi.where()
                context = ssl.create_default_context(cafile=cafile)
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.chain.timeout, context=context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.chain.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def call(self, method: str, params: list[Any]) -> Any:
        """One call, its ``result`` as the node sent it."""
        if not self.lean:
            return self.chain.raw(method, params)
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        where = f"node at {self.chain.public_url}"
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self.path, body, self.headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                self._drop()
                raise ChainUnavailable(f"{where} does not answer (no reply within {self.chain.timeout:g} s)") from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()  # a kept-alive connection the node had closed: once more on a new one
                if attempt == 2:
                    raise ChainUnavailable(f"{where} unreachable: {type(exc).__name__}") from None
                continue
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise ChainUnavailable(f"{where} unreachable: {type(exc).__name__}") from None
            if response.status != 200:
                raise ChainUnavailable(f"{where} answered HTTP {response.status}")
            try:
                answer = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise ChainUnavailable(f"{where} answered something other than JSON-RPC") from None
            if not isinstance(answer, dict):
                raise ChainUnavailable(f"{where} answered something other than JSON-RPC")
            if answer.get("error"):
                raise LedgerError(f"node refused {method}: {answer['error']}", code="RPC_ERROR")
            return answer.get("result")
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._drop()


class ChainSource:
    """The contracts' own views on a node: nothing cached, nothing trusted but the chain.

    The chain stores batch roots, not certificate hashes, so a bare hash cannot be looked up
    here (a document with its proof can); statuses are the current ones (``as_of`` must be now).
    With a ``watch``, a node that stopped answering or lost its chain is ERROR at once.
    """

    kind = "chain"
    supports_as_of = False  # contract views answer for the current block only

    def __init__(self, registry: Registry, *, watch: NodeWatch | None = None, stale_after: float = 2.0) -> None:
        self.registry = registry
        self.watch = watch
        self.stale_after = stale_after
        self._regions: dict[str, int | None] = {}
        self._fields: dict[str, frozenset[str] | None] = {}
        self.node = NodeCalls(registry.chain)

    def _check_node(self) -> None:
        if self.watch is not None:
            node = self.watch.snapshot()
            if node.identity_problem:
                raise SourceUnavailable(node.identity_problem)
            if not node.answering(self.stale_after):
                raise SourceUnavailable(f"the node does not answer: {node.error or 'no reply yet'}")

    def head(self) -> SourceHead:
        self._check_node()
        try:
            return SourceHead(self.kind, self.registry.chain.block_number(), 0)
        except ChainUnavailable as exc:
            raise SourceUnavailable(str(exc)) from exc

    def for_case(
        self, agency: str | None, cert_hash: bytes, root: bytes | None, verifier_region: int | None, at: int
    ) -> Source:
        """For a document (agency and root known): everything in one call to the node."""
        if agency is None or root is None:
            return self
        self._check_node()
        try:
            params = self.registry.inspect_params(agency, cert_hash, root, verifier_region, at)
            inspection = self.registry.inspection(agency, root, self.node.call("eth_call", params))
        except ChainUnavailable as exc:
            raise SourceUnavailable(str(exc)) from exc
        return _ChainView(self, agency, cert_hash, root, verifier_region, inspection)

    def _region(self, agency: str) -> int | None:
        if agency not in self._regions:  # an agency's region never changes
            self._regions[agency] = self.registry.agency_region(agency)
        return self._regions[agency]

    def resolve_hash(self, cert_hash: bytes, agency: str | None) -> HashAnchor:
        raise SourceUnavailable(
            "the chain keeps batch roots, not certificate hashes: give the document (or use the mirror)"
        )

    def batch(self, agency: str, root: bytes, cert_hash: bytes | None = None) -> AnchorFacts | None:
        info = self.registry.batch(agency, root)
        if info is None:
            return None
        sm2_hash, tags_hash = self.registry.batch_commitments(agency, root)
        return AnchorFacts(
            root,
            agency,
            info.cert_type,
            info.key,
            info.anchored_at,
            None,
            None,
            self._region(agency),
            sm2_signature_hash=sm2_hash or None,
            identifier_tags_hash=tags_hash or None,
        )

    def contains(self, agency: str, root: bytes, cert_hash: bytes) -> bool | None:
        return None  # the proof decides

    def region_void(self, region: int, at: int) -> int | None:
        voided, cutoff = self.registry.chain.call(self.registry.consortium.functions.anchorVoid(int(region), int(at)))
        return int(cutoff) if voided else None

    def type_fields(self, cert_type: str) -> frozenset[str] | None:
        if cert_type not in self._fields:  # a type's schema never changes once added
            schema = next((t.schema for t in self.registry.types() if t.code == cert_type), None)
            self._fields[cert_type] = None if schema is None else schema_field_names(schema)
        return self._fields[cert_type]

    def credit_code(self, agency: str) -> str | None:
        try:
            return self.registry.credit_code(agency)
        except ChainUnavailable as exc:
            raise SourceUnavailable(str(exc)) from exc

    def holder_binding(self, agency: str, cert_hash: bytes) -> bytes | None:
        try:
            return self.registry.holder_key(agency, cert_hash)
        except ChainUnavailable as exc:
            raise SourceUnavailable(str(exc)) from exc

    def key(self, address: str) -> KeyRecord | None:
        info = self.registry.key(address)
        if not info.agency:
            return None
        return KeyRecord(
            info.address, info.agency, info.active_from, info.retired_at, info.compromised_since, info.sm2_public_key
        )

    def status(self, cert_hash: bytes, agency: str, root: bytes, at: int | None) -> StatusAt:
        if at is not None:
            raise SourceUnavailable("the chain's views answer for now only: ask the mirror about a past time")
        status, role = effective_status(
            self.registry.certificate_status(agency, cert_hash), self.registry.batch_status(agency, root)
        )
        return StatusAt(status, None, role if status is not Status.ACTIVE else None)

    def recognition(self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False) -> bool:
        return self.registry.is_recognized(verifier, cert_type, issuer, at)


class _ChainView:
    """The chain's answers for one verification, from one ``inspect`` call; questions about
    anything else go to the chain source."""

    kind = "chain"
    supports_as_of = False

    def __init__(
        self,
        parent: ChainSource,
        agency: str,
        cert_hash: bytes,
        root: bytes,
        verifier_region: int | None,
        inspection: Inspection,
    ) -> None:
        self.parent, self.agency, self.cert_hash, self.root = parent, agency, cert_hash, root
        self.verifier_region, self.i = verifier_region, inspection

    def head(self) -> SourceHead:
        return SourceHead(self.kind, self.i.block, 0)

    def for_case(
        self, agency: str | None, cert_hash: bytes, root: bytes | None, verifier_region: int | None, at: int
    ) -> Source:
        return self.parent.for_case(agency, cert_hash, root, verifier_region, at)

    def resolve_hash(self, cert_hash: bytes, agency: str | None) -> HashAnchor:
        return self.parent.resolve_hash(cert_hash, agency)

    def batch(self, agency: str, root: bytes, cert_hash: bytes | None = None) -> AnchorFacts | None:
        if (agency, bytes(root)) != (self.agency, self.root):
            return self.parent.batch(agency, root)
        b = self.i.batch
        if b is None:
            return None
        return AnchorFacts(
            b.root,
            agency,
            b.cert_type,
            b.key,
            b.anchored_at,
            None,
            None,
            self.i.issuer_region,
            sm2_signature_hash=self.i.sm2_signature_hash or None,
            identifier_tags_hash=self.i.identifier_tags_hash or None,
        )

    def contains(self, agency: str, root: bytes, cert_hash: bytes) -> bool | None:
        return None  # the proof decides

    def key(self, address: str) -> KeyRecord | None:
        b = self.i.batch
        if b is None or address.lower() != b.key.lower():
            return self.parent.key(address)
        if not self.i.key_agency:
            return None
        return KeyRecord(
            b.key,
            self.i.key_agency,
            self.i.key_active_from,
            self.i.key_retired_at,
            self.i.key_compromised_since,
            self.i.key_sm2_public_key,
        )

    def region_void(self, region: int, at: int) -> int | None:
        b = self.i.batch
        if b is None or (region, at) != (self.i.issuer_region, b.anchored_at):
            return self.parent.region_void(region, at)
        return self.i.void_cutoff

    def type_fields(self, cert_type: str) -> frozenset[str] | None:
        return self.parent.type_fields(cert_type)

    def credit_code(self, agency: str) -> str | None:
        if agency != self.agency:
            return self.parent.credit_code(agency)
        return self.i.issuer_credit_code

    def holder_binding(self, agency: str, cert_hash: bytes) -> bytes | None:
        return self.parent.holder_binding(agency, cert_hash)

    def status(self, cert_hash: bytes, agency: str, root: bytes, at: int | None) -> StatusAt:
        if at is not None:
            raise SourceUnavailable("the chain's views answer for now only: ask the mirror about a past time")
        if (bytes(cert_hash), agency, bytes(root)) != (self.cert_hash, self.agency, self.root):
            return self.parent.status(cert_hash, agency, root, at)
        status, role = effective_status(self.i.certificate_status, self.i.batch_status)
        return StatusAt(status, None, role if status is not Status.ACTIVE else None)

    def recognition(self, verifier: int, cert_type: str, issuer: int, at: int, *, latest: bool = False) -> bool:
        b = self.i.batch
        if b is None or (verifier, cert_type, issuer) != (self.verifier_region, b.cert_type, self.i.issuer_region):
            return self.parent.recognition(verifier, cert_type, issuer, at, latest=latest)
        return self.i.recognized


__all__ = [
    "AnchorFacts",
    "ChainSource",
    "HashAnchor",
    "KeyState",
    "MirrorSource",
    "Source",
    "SourceHead",
    "SourceUnavailable",
]
