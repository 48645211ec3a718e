"""Publishing a certificate document to IPFS (sealed), and fetching it back with its code.

The guard: ``publish`` accepts only a ``Sealed`` value (made by ``seal``), checks its header
again, and refuses a body that reads as text, so a document in clear cannot reach a store by
mistake, whatever the caller passes. The stores' own ``add`` is lower level: only tests and
benchmarks call it directly.
"""

from __future__ import annotations

from .cid import Cid
from .codes import RetrievalCode
from .errors import ContentError, NotSealed, SealBroken
from .sealing import HEADER_SIZE, Sealed, open_sealed, parse_header, seal
from .store import ContentStore, as_cid

_TEXT_CHECK_FROM = 48  # bytes of ciphertext past which valid UTF-8 means "not encrypted" (p < 2**-40)


def ensure_sealed(value: object) -> Sealed:
    """``value`` if it is sealed ciphertext; ``NotSealed`` otherwise."""
    if not isinstance(value, Sealed):
        raise NotSealed(f"refusing to publish {type(value).__name__}: only sealed documents go to IPFS (seal it first)")
    check_sealed_bytes(value.ciphertext, "refusing to publish")
    return value


def check_sealed_bytes(data: bytes, refusing: str = "not a sealed document") -> bytes:
    """``data`` if it looks like sealed ciphertext (a valid seal header, a body that does not
    read as text); ``NotSealed`` otherwise. It cannot tell a forgery that imitates a seal: only
    the key can (``open_sealed``)."""
    try:
        parse_header(data)
    except SealBroken as exc:
        raise NotSealed(f"{refusing}: {exc}") from None
    body = data[HEADER_SIZE:]
    if len(body) >= _TEXT_CHECK_FROM:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return data
        raise NotSealed(f"{refusing}: the body after the seal header reads as text, not ciphertext")
    return data


def sealed_content(store: ContentStore, cid: Cid | str) -> bytes:
    """The sealed document stored under ``cid``, as the API serves it (GET /v1/content/{cid}):
    checked against its CID by the store's ``cat`` (``ContentTampered`` otherwise) and refused
    with ``NotSealed`` when it is anything else (a trust snapshot, say)."""
    return check_sealed_bytes(store.cat(as_cid(cid)), "not a sealed document")


def publish(store: ContentStore, sealed: Sealed) -> RetrievalCode:
    """Store sealed ciphertext and pin it; the code that fetches and opens it."""
    ensure_sealed(sealed)
    cid = store.add(sealed.ciphertext)
    store.pin(cid)
    return RetrievalCode(cid, sealed.key, sealed.suite)


def publish_document(store: ContentStore, document: bytes, suite: str) -> RetrievalCode:
    """Seal ``document`` under a fresh key with the suite's cipher, then ``publish`` it."""
    return publish(store, seal(document, suite))


def fetch(store: ContentStore, code: RetrievalCode | str) -> bytes:
    """The document a retrieval code names: fetched, checked against its CID, opened."""
    c = code if isinstance(code, RetrievalCode) else RetrievalCode.parse(code)
    ciphertext = store.cat(c.cid)
    header = parse_header(ciphertext)
    if header.suite != c.suite:
        raise ContentError(f"the retrieval code says suite {c.suite}, the stored document is sealed for {header.suite}")
    return open_sealed(ciphertext, c.key)
