"""The content-addressed layer: certificate documents, sealed, in IPFS (issue 13 section 1).

A document is encrypted under a fresh key of its own (``sealing``), stored by CID in the
embedded store or an IPFS node (``store``, ``kubo``; the CID profile in ``profile``), and
handed to its holder as one retrieval code: CID + key (``codes``). Only sealed bytes are ever
published (``publishing``); whatever comes back is checked against its CID before it is
opened. See docs/content.md.
"""

from __future__ import annotations

from .cid import Cid
from .codes import RetrievalCode
from .errors import (
    ContentError,
    ContentNotFound,
    ContentTampered,
    InvalidCid,
    IpfsUnavailable,
    MalformedCode,
    NotSealed,
    SealBroken,
)
from .publishing import check_sealed_bytes, ensure_sealed, fetch, publish, publish_document, sealed_content
from .sealing import Sealed, open_sealed, seal
from .store import ContentStore, EmbeddedStore
from .unixfs import content_cid

__all__ = [
    "Cid",
    "ContentError",
    "ContentNotFound",
    "ContentStore",
    "ContentTampered",
    "EmbeddedStore",
    "InvalidCid",
    "IpfsUnavailable",
    "MalformedCode",
    "NotSealed",
    "RetrievalCode",
    "SealBroken",
    "Sealed",
    "check_sealed_bytes",
    "content_cid",
    "ensure_sealed",
    "fetch",
    "open_sealed",
    "publish",
    "publish_document",
    "seal",
    "sealed_content",
    "store_for",
]


def store_for(*, store_dir: str | None = None, ipfs_url: str | None = None, timeout: float = 30.0) -> ContentStore:
    """The store a command names: an IPFS node's RPC URL, else the embedded store's folder."""
    if ipfs_url:
        from .kubo import KuboStore  # httpx loads only when a node is used

        return KuboStore(ipfs_url, timeout=timeout)
    if not store_dir:
        raise ContentError("no content store: give a folder or an IPFS node URL")
    return EmbeddedStore(store_dir)
