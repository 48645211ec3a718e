"""The UnixFS importer of the profile, and reading its DAGs back with every block verified.

Content is cut into 256 KiB chunks, each a raw block. One chunk: its raw CID is the content's
CID. More: dag-pb nodes carrying UnixFS ``File`` data link up to 174 children each, built
bottom-up (the "balanced" layout of js-ipfs and Kubo) until one root remains.

No maintained PyPI library implements the UnixFS importer (``multiformats`` and ``py-cid``
do CIDs only; the dag-pb codecs on PyPI are single-release projects and do not build UnixFS
trees), and the two protobuf messages needed are small, so they are written here:

    PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }   (Links written first)
    PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
    UnixFS Data { Type = 1 (File = 2); filesize = 3; repeated blocksizes = 4 (unpacked) }

The byte layout is checked against a real js-ipfs node by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .cid import Cid, read_varint, varint
from .errors import ContentNotFound, ContentTampered
from .profile import CHUNK_SIZE, CODEC_DAG_PB, CODEC_RAW, MAX_CONTENT_SIZE, MAX_DEPTH, MAX_LINKS

UNIXFS_FILE = 2
UNIXFS_RAW = 0

# protobuf wire types
_VARINT, _BYTES = 0, 2


def _key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, _BYTES) + varint(len(value)) + value


@dataclass(frozen=True)
class _Child:
    cid: Cid
    content_size: int  # bytes of file content below it (UnixFS blocksizes)
    tsize: int  # bytes of blocks below it, its own included (PBLink.Tsize)


def _file_node(children: list[_Child]) -> bytes:
    """A dag-pb node with UnixFS File data linking ``children`` (canonical dag-pb order)."""
    out = bytearray()
    for child in children:
        link = _bytes_field(1, child.cid.to_bytes()) + _bytes_field(2, b"") + _key(3, _VARINT) + varint(child.tsize)
        out += _bytes_field(2, link)
    data = bytearray(_key(1, _VARINT) + varint(UNIXFS_FILE))
    data += _key(3, _VARINT) + varint(sum(c.content_size for c in children))
    for child in children:
        data += _key(4, _VARINT) + varint(child.content_size)
    out += _bytes_field(1, bytes(data))
    return bytes(out)


def import_bytes(content: bytes) -> tuple[Cid, dict[Cid, bytes]]:
    """The content's root CID and all its blocks, as an IPFS node with the profile makes them."""
    chunks = [content[i : i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)] or [b""]
    blocks: dict[Cid, bytes] = {}
    level: list[_Child] = []
    for chunk in chunks:
        cid = Cid.of_block(CODEC_RAW, chunk)
        blocks[cid] = chunk
        level.append(_Child(cid, len(chunk), len(chunk)))
    if len(level) == 1:
        return level[0].cid, blocks  # a one-chunk file is its raw block
    while True:
        parents = []
        for i in range(0, len(level), MAX_LINKS):
            group = level[i : i + MAX_LINKS]
            node = _file_node(group)
            cid = Cid.of_block(CODEC_DAG_PB, node)
            blocks[cid] = node
            parents.append(_Child(cid, sum(c.content_size for c in group), len(node) + sum(c.tsize for c in group)))
        if len(parents) == 1:
            return parents[0].cid, blocks
        level = parents


def content_cid(content: bytes) -> Cid:
    """The CID an IPFS node with the profile gives ``content``."""
    return import_bytes(content)[0]


# ---------------------------------------------------------------------- reading


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message as (field, value) pairs: varints and length-delimited fields only."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = read_varint(data, pos)
            out.append((field, value))
        elif wire == _BYTES:
            size, pos = read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((field, data[pos : pos + size]))
            pos += size
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


@dataclass(frozen=True)
class FileNode:
    links: list[Cid]
    data: bytes  # bytes held in the node itself (none in the profile's nodes)
    filesize: int | None
    blocksizes: list[int]


def decode_file_node(block: bytes) -> FileNode:
    """A dag-pb node with UnixFS File (or Raw) data; anything else is refused."""
    try:
        links: list[Cid] = []
        unixfs: bytes | None = None
        for field, value in _fields(block):
            if field == 2 and isinstance(value, bytes):
                hashes = [v for f, v in _fields(value) if f == 1 and isinstance(v, bytes)]
                if len(hashes) != 1:
                    raise ValueError("link without one hash")
                links.append(Cid.from_bytes(hashes[0]))
            elif field == 1 and isinstance(value, bytes):
                unixfs = value
            else:
                raise ValueError(f"unexpected field {field}")
        if unixfs is None:
            raise ValueError("no UnixFS data")
        kind, inline, filesize, sizes = None, b"", None, []
        for field, value in _fields(unixfs):
            if field == 1 and isinstance(value, int):
                kind = value
            elif field == 2 and isinstance(value, bytes):
                inline = value
            elif field == 3 and isinstance(value, int):
                filesize = value
            elif field == 4 and isinstance(value, int):
                sizes.append(value)
        if kind not in (UNIXFS_FILE, UNIXFS_RAW):
            raise ValueError(f"UnixFS type {kind} is not a file")
        if len(sizes) != len(links):
            raise ValueError("blocksizes do not match the links")
        return FileNode(links, inline, filesize, sizes)
    except ValueError as exc:
        raise ContentTampered(f"malformed dag-pb node: {exc}") from None


def read_dag(cid: Cid, get_block: Callable[[Cid], bytes | None], limit: int = MAX_CONTENT_SIZE) -> bytes:
    """The content under ``cid``, every block checked against the CID that names it."""
    out = bytearray()
    _read(cid, get_block, out, 0, limit)
    return bytes(out)


def _block(cid: Cid, get_block: Callable[[Cid], bytes | None]) -> bytes:
    block = get_block(cid)
    if block is None:
        raise ContentNotFound(f"block {cid} is missing")
    if not cid.matches(block):
        raise ContentTampered(f"block {cid} does not match its CID (the stored content was changed)")
    return block


def _read(cid: Cid, get_block: Callable[[Cid], bytes | None], out: bytearray, depth: int, limit: int) -> None:
    if depth > MAX_DEPTH:
        raise ContentTampered(f"DAG under {cid} is deeper than {MAX_DEPTH} levels")
    block = _block(cid, get_block)
    if cid.is_raw:
        if len(out) + len(block) > limit:
            raise ContentTampered(f"content is larger than {limit:,} bytes")
        out += block
        return
    node = decode_file_node(block)
    start = len(out)
    out += node.data
    for child, size in zip(node.links, node.blocksizes, strict=True):
        before = len(out)
        _read(child, get_block, out, depth + 1, limit)
        if len(out) - before != size:
            raise ContentTampered(f"block {child} holds {len(out) - before} bytes, its parent says {size}")
    if node.filesize is not None and len(out) - start != node.filesize:
        raise ContentTampered(f"node {cid} holds {len(out) - start} bytes, it says {node.filesize}")


def walk_blocks(cid: Cid, get_block: Callable[[Cid], bytes | None], depth: int = 0) -> list[Cid]:
    """Every block CID of a DAG (each block read and checked)."""
    if depth > MAX_DEPTH:
        raise ContentTampered(f"DAG under {cid} is deeper than {MAX_DEPTH} levels")
    block = _block(cid, get_block)
    found = [cid]
    if not cid.is_raw:
        for child in decode_file_node(block).links:
            found += walk_blocks(child, get_block, depth + 1)
    return found
