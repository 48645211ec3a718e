"""Publishing a certificate document to IPFS (sealed), and fetching it back with its code.

The guard: ``publish`` accepts only a ``Sealed`` value (made by ``seal``), checks its header
again, and refuses a body that reads as text, so a document in clear cannot reach a store by
mistake, whatever the caller passes. The stores' own ``add`` is lower level: only tests and
benchmarks call it directly.
"""

from __future__ import annotations

from .codes import RetrievalCode
from .errors import ContentError, NotSealed, SealBroken
from .sealing import HEADER_SIZE, Sealed, open_sealed, parse_header, seal
from .store import ContentStore

_TEXT_CHECK_FROM = 48  # bytes of ciphertext past which valid UTF-8 means "not encrypted" (p < 2**-40)


def ensure_sealed(value: object) -> Sealed:
    """``value`` if it is sealed ciphertext; ``NotSealed`` otherwise."""
    if not isinstance(value, Sealed):
        raise NotSealed(f"refusing to publish {type(value).__name__}: only sealed documents go to IPFS (seal it first)")
    try:
        parse_header(value.ciphertext)
    except SealBroken as exc:
        raise NotSealed(f"refusing to publish: {exc}") from None
    body = value.ciphertext[HEADER_SIZE:]
    if len(body) >= _TEXT_CHECK_FROM:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return value
        raise NotSealed("refusing to publish: the body after the seal header reads as text, not ciphertext")
    return value


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
