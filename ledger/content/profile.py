"""The one CID profile CertLedger writes and accepts, stated once.

It is the js-ipfs / Kubo default importer with CIDv1 and raw leaves, i.e. what
``ipfs add --cid-version=1 --raw-leaves --chunker=size-262144`` gives: any IPFS node told
these options computes the same CIDs as the embedded store, so a document published through
either is found through the other, and a fetched document can be checked locally.
"""

from __future__ import annotations

from typing import Final

CID_VERSION: Final = 1
HASH_NAME: Final = "sha2-256"
HASH_CODE: Final = 0x12  # multihash code of sha2-256
HASH_SIZE: Final = 32
CODEC_RAW: Final = 0x55  # a leaf: the chunk's bytes themselves (bafk...)
CODEC_DAG_PB: Final = 0x70  # an inner node: dag-pb carrying UnixFS File data (bafy...)
CHUNK_SIZE: Final = 262_144  # fixed-size chunker, "size-262144" (256 KiB)
MAX_LINKS: Final = 174  # children per dag-pb node in the balanced layout
LAYOUT: Final = "balanced"
CHUNKER: Final = f"size-{CHUNK_SIZE}"
TEXT_BASE: Final = "base32"  # CIDs are written 'b' + lower-case RFC 4648 base32, no padding

# What a Kubo-compatible node is asked for on /api/v0/add (the same profile).
RPC_ADD_PARAMS: Final = {
    "cid-version": str(CID_VERSION),
    "raw-leaves": "true",
    "chunker": CHUNKER,
    "hash": HASH_NAME,
    "trickle": "false",
    "wrap-with-directory": "false",
}

MAX_CONTENT_SIZE: Final = 64 * 1024 * 1024  # the most a fetch reads: documents are kilobytes
MAX_DEPTH: Final = 8  # 174**7 chunks of 256 KiB is far beyond MAX_CONTENT_SIZE
