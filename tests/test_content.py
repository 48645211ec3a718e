"""The content-addressed layer (ledger.content): the embedded store and a real js-ipfs node give
the same CIDs and pass the same tests; whatever comes back is checked against its CID; sealed
documents open with their key only; retrieval codes parse strictly; nothing in clear is
ever published.

Tests that take ``store`` run twice: against the embedded store and against the js-ipfs node
through the Kubo RPC client.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from content_helpers import HOLDER, FixedAnswer, certificate
from ipfs_fixtures import LyingNode
from jsipfs_node import IpfsNode

from ledger.content import (
    Cid,
    ContentNotFound,
    ContentStore,
    ContentTampered,
    EmbeddedStore,
    InvalidCid,
    MalformedCode,
    NotSealed,
    RetrievalCode,
    SealBroken,
    Sealed,
    content_cid,
    ensure_sealed,
    fetch,
    open_sealed,
    publish,
    publish_document,
    seal,
    unixfs,
)
from ledger.content.cid import varint
from ledger.content.kubo import KuboStore
from ledger.content.profile import CHUNK_SIZE, CODEC_DAG_PB, CODEC_RAW
from ledger.content.sealing import HEADER_SIZE

KIB, MIB = 1024, 1024 * 1024
SIZES = {
    "1 B": 1,
    "1 KiB": KIB,
    "256 KiB - 1": CHUNK_SIZE - 1,
    "256 KiB": CHUNK_SIZE,
    "256 KiB + 1": CHUNK_SIZE + 1,
    "1 MiB": MIB,
    "5 MiB": 5 * MIB,
}


def content(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that do not repeat (so no two chunks share a CID)."""
    return random.Random(size * 1000 + seed).randbytes(size)


@pytest.fixture(params=["embedded", "jsipfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContentStore]:
    if request.param == "embedded":
        yield EmbeddedStore(tmp_path / "content")
        return
    node: IpfsNode = request.getfixturevalue("ipfs_node")
    with KuboStore(node.url, find_timeout=1) as client:  # the node holds what the tests look for, or nothing
        yield client


@pytest.fixture
def tamper(
    request: pytest.FixtureRequest, lying_node: Callable[[str, Callable[[bytes], bytes]], LyingNode]
) -> Callable[[ContentStore, Cid], ContentStore]:
    """A store that holds (or answers) changed bytes for ``cid``: one block changed on disk for
    the embedded store; for a node, a stand-in in front of it changing what /cat answers."""

    def flip(data: bytes) -> bytes:
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]

    def make(store: ContentStore, cid: Cid) -> ContentStore:
        if isinstance(store, EmbeddedStore):
            leaves = sorted(store.blocks_dir.rglob("bafk*"))  # a leaf: the content itself
            assert leaves
            leaves[-1].write_bytes(flip(leaves[-1].read_bytes()))
            return store
        assert isinstance(store, KuboStore)
        return KuboStore(lying_node(store.url, flip).url)

    return make


# ---------------------------------------------------------------------- CIDs


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_store_gives_the_profile_cid(store: ContentStore, size: int) -> None:
    data = content(size)
    cid = store.add(data)
    assert cid == content_cid(data)
    assert str(cid).startswith("bafk" if size <= CHUNK_SIZE else "bafy")


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_the_embedded_cids_equal_the_js_ipfs_nodes_own_answer(ipfs_node: IpfsNode, size: int) -> None:
    """The node's answer read straight off the RPC API (not through KuboStore, which would refuse a difference)."""
    for data in (content(size), bytes(size)):  # random content, and content whose chunks repeat
        answer = httpx.post(
            f"{ipfs_node.url}/api/v0/add",
            params={"cid-version": "1", "raw-leaves": "true", "chunker": "size-262144", "pin": "false"},
            files={"file": ("blob", data)},
            timeout=60,
        )
        answer.raise_for_status()
        node_cid = Cid.parse(orjson.loads(answer.content.splitlines()[-1])["Hash"])
        assert node_cid == content_cid(data)


@pytest.mark.unit
def test_cid_texts_of_every_spelling_parse_to_the_same_cid() -> None:
    cid = content_cid(b"hello")
    assert Cid.parse(str(cid)) == cid
    assert Cid.parse(str(cid).upper()) == cid
    b58 = "z" + _b58encode(cid.to_bytes())
    assert Cid.parse(b58) == cid
    dag = content_cid(content(CHUNK_SIZE + 1))
    v0 = _b58encode(bytes([0x12, 0x20]) + dag.digest)
    assert v0.startswith("Qm") and Cid.parse(v0) == dag


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    ["", "x" * 200, "Qmnotbase58000000000000000000000000000000000000", "bafk!!", "k51qzi5uqu5dl", "bafkqaaa"],
)
def test_malformed_or_foreign_cids_are_refused(text: str) -> None:
    with pytest.raises(InvalidCid):
        Cid.parse(text)


@pytest.mark.unit
def test_a_cid_of_another_hash_or_version_is_refused() -> None:
    digest = bytes(32)
    with pytest.raises(InvalidCid, match="sha2-256"):
        Cid.from_bytes(varint(1) + varint(CODEC_RAW) + bytes([0x13, 0x20]) + digest)  # sha2-512 code
    with pytest.raises(InvalidCid, match="version"):
        Cid.from_bytes(varint(2) + varint(CODEC_RAW) + bytes([0x12, 0x20]) + digest)
    with pytest.raises(InvalidCid, match="codec"):
        Cid.from_bytes(varint(1) + varint(0x71) + bytes([0x12, 0x20]) + digest)  # dag-cbor
    with pytest.raises(InvalidCid, match="after"):
        Cid.from_bytes(varint(1) + varint(CODEC_RAW) + bytes([0x12, 0x20]) + digest + b"\0")


@pytest.mark.unit
def test_deep_trees_round_trip_in_the_embedded_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The balanced layout's upper levels (174**2 chunks is 7 GiB at the real sizes): shrunk."""
    monkeypatch.setattr(unixfs, "CHUNK_SIZE", 4)
    monkeypatch.setattr(unixfs, "MAX_LINKS", 3)
    data = content(4 * 3 * 3 * 3 + 5)  # four levels of nodes above the leaves
    store = EmbeddedStore(tmp_path)
    cid = store.add(data)
    assert cid.codec == CODEC_DAG_PB
    assert store.cat(cid) == data
    assert len(unixfs.walk_blocks(cid, store._get)) == len(set(unixfs.import_bytes(data)[1]))


IPFS_CID = shutil.which("ipfs_cid")


@pytest.mark.unit
@pytest.mark.skipif(IPFS_CID is None, reason="Debian's ipfs-cid (/usr/bin/ipfs_cid) is not installed")
@pytest.mark.parametrize("size", [1, KIB, 10_000])
def test_cid_encoding_agrees_with_debians_ipfs_cid(tmp_path: Path, size: int) -> None:
    """ipfs_cid (an independent Rust implementation) hashes a file as one dag-pb UnixFS leaf (no
    raw leaves): this module's protobuf writer, CID text and CIDv0 reading must give its answers."""
    data = content(size)
    path = tmp_path / "file"
    path.write_bytes(data)
    out = subprocess.run([str(IPFS_CID), str(path)], capture_output=True, text=True, timeout=30, check=True)
    answer = orjson.loads(out.stdout.strip().splitlines()[-1])
    unixfs_data = unixfs._key(1, 0) + varint(2) + unixfs._bytes_field(2, data) + unixfs._key(3, 0) + varint(len(data))
    leaf = Cid.of_block(CODEC_DAG_PB, unixfs._bytes_field(1, unixfs_data))
    assert str(leaf) == answer["CIDv1"]
    assert Cid.parse(answer["CIDv0"]) == leaf


# ---------------------------------------------------------------------- the stores


def test_add_then_cat_returns_the_same_bytes(store: ContentStore) -> None:
    for size in (0, 1, 4 * KIB, 3 * CHUNK_SIZE + 17):
        data = content(size, seed=1)
        cid = store.add(data)
        assert store.cat(cid) == data
        assert store.cat(str(cid)) == data
        assert store.has(cid)


def test_pin_keeps_what_was_added_and_has_tells_what_is_there(store: ContentStore) -> None:
    data = content(2 * CHUNK_SIZE, seed=2)
    cid = store.add(data)
    store.pin(cid)
    assert store.has(cid)
    assert not store.has(content_cid(content(100, seed=99)))
    if isinstance(store, EmbeddedStore):
        assert cid in store.pins()


def test_content_not_in_the_store_is_not_found(store: ContentStore) -> None:
    with pytest.raises(ContentNotFound):
        store.cat(content_cid(content(10, seed=98)))


@pytest.mark.parametrize("size", [4 * KIB, 2 * CHUNK_SIZE + 5], ids=["one block", "a DAG"])
def test_a_tampered_block_fails_cat(store: ContentStore, tamper: Any, size: int) -> None:
    data = content(size, seed=3)
    cid = store.add(data)
    liar = tamper(store, cid)
    with pytest.raises(ContentTampered):
        liar.cat(cid)


def test_a_node_answering_another_cid_on_add_is_refused(ipfs_node: IpfsNode) -> None:
    with KuboStore(ipfs_node.url) as honest:
        other = honest.add(b"something else")
    fake = FixedAnswer(orjson.dumps({"Name": "blob", "Hash": str(other), "Size": "14"}))
    try:
        with KuboStore(fake.url) as client, pytest.raises(ContentTampered, match="lying node"):
            client.add(b"what I sent")
    finally:
        fake.close()


@pytest.mark.unit
def test_an_unreachable_node_is_a_clear_error() -> None:
    from helpers import dead_url

    from ledger.content import IpfsUnavailable

    with KuboStore(dead_url(), timeout=2) as client, pytest.raises(IpfsUnavailable, match="cannot reach"):
        client.cat(content_cid(b"x"))


# ---------------------------------------------------------------------- sealing


@pytest.mark.unit
@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_seal_then_open_gives_the_document_back(suite: str) -> None:
    document = certificate(suite)
    sealed = seal(document, suite)
    assert sealed.suite == suite and len(sealed.key) == {"intl": 32, "sm": 16}[suite]
    assert open_sealed(sealed.ciphertext, sealed.key) == document
    assert document not in sealed.ciphertext
    again = seal(document, suite)
    assert again.key != sealed.key and again.ciphertext != sealed.ciphertext  # a fresh key every time


@pytest.mark.unit
@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_a_wrong_key_does_not_open(suite: str) -> None:
    sealed = seal(certificate(suite), suite)
    with pytest.raises(SealBroken, match="wrong key"):
        open_sealed(sealed.ciphertext, os.urandom(len(sealed.key)))
    with pytest.raises(SealBroken, match="wrong key"):
        open_sealed(sealed.ciphertext, sealed.key[:-1])


@pytest.mark.unit
@pytest.mark.parametrize("suite", ["intl", "sm"])
@pytest.mark.parametrize("where", ["header", "body", "tag"])
def test_tampered_ciphertext_does_not_open(suite: str, where: str) -> None:
    sealed = seal(certificate(suite), suite)
    at = {"header": 7, "body": HEADER_SIZE + 10, "tag": len(sealed.ciphertext) - 1}[where]  # 7: in the nonce
    changed = bytearray(sealed.ciphertext)
    changed[at] ^= 0x01
    with pytest.raises(SealBroken, match="changed"):
        open_sealed(bytes(changed), sealed.key)


@pytest.mark.unit
def test_a_sealed_document_cannot_be_relabelled_to_another_suite() -> None:
    sealed = seal(certificate("sm"), "sm")
    relabelled = bytearray(sealed.ciphertext)
    relabelled[4] = 1  # intl: wants a 32-byte key
    with pytest.raises(SealBroken):
        open_sealed(bytes(relabelled), sealed.key)
    with pytest.raises(SealBroken):
        open_sealed(bytes(relabelled), sealed.key * 2)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("data", "message"),
    [(b"{}", "no CLS header"), (b"CLS\x01\x01" + bytes(12), "truncated"), (b"CLS\x09\x01" + bytes(40), "version 9")],
)
def test_what_is_not_sealed_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(SealBroken, match=message):
        open_sealed(data, bytes(32))


@pytest.mark.unit
def test_an_unknown_suite_is_refused() -> None:
    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown cryptographic suite"):
        seal(b"x", "rot13")


# ---------------------------------------------------------------------- retrieval codes


@pytest.mark.unit
@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_a_retrieval_code_round_trips_and_fits_a_qr_alphanumeric_code(suite: str) -> None:
    sealed = seal(certificate(suite), suite)
    code = RetrievalCode(content_cid(sealed.ciphertext), sealed.key, suite)
    text = str(code)
    assert text.startswith("CLR1:") and len(text) <= 116
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert RetrievalCode.parse(text) == code
    assert RetrievalCode.parse(f"  {text.lower()}\n") == code
    assert sealed.key.hex() not in repr(code)


def _good_code() -> str:
    return str(RetrievalCode(content_cid(b"x"), bytes(range(32)), "intl"))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "should start with CLR1:"),
        ("CLC3:ABCDEF", "should start with CLR1:"),
        ("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm", "should start with CLR1:"),
        ("CLR1:", "unknown cipher suite"),
        ("CLR1:AB1CDEFG", "not a base32 character"),
        ("CLR1:ABC", "wrong length"),
        ("CLR1:" + "A" * 300, "too long"),
        (lambda: _good_code()[:60], "truncated|no valid CID|wrong length"),
        (lambda: _good_code()[:-8], "no valid CID"),
        (lambda: _good_code() + "AAAAAAAA", "no valid CID"),
        (lambda: "CLR1:H" + _good_code()[6:], "unknown cipher suite"),
    ],
)
def test_malformed_retrieval_codes_fail_cleanly(text: Any, message: str) -> None:
    with pytest.raises(MalformedCode, match=message):
        RetrievalCode.parse(text() if callable(text) else text)


# ---------------------------------------------------------------------- publishing and its guard


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_publish_then_fetch_gives_the_document_back(store: ContentStore, suite: str) -> None:
    document = certificate(suite)
    code = publish_document(store, document, suite)
    assert store.has(code.cid)
    assert fetch(store, str(code)) == document


def test_a_code_whose_key_was_edited_does_not_open(store: ContentStore) -> None:
    code = publish_document(store, certificate(), "intl")
    edited = RetrievalCode(code.cid, bytes([code.key[0] ^ 1]) + code.key[1:], "intl")
    with pytest.raises(SealBroken):
        fetch(store, str(edited))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda: certificate(), id="the document in clear"),
        pytest.param(lambda: bytearray(certificate()), id="a bytearray"),
        pytest.param(lambda: seal(certificate(), "intl").ciphertext, id="bare ciphertext"),
        pytest.param(lambda: {"ciphertext": b"x"}, id="a dict"),
    ],
)
def test_the_guard_refuses_anything_that_is_not_sealed(store: ContentStore, value: Any) -> None:
    with pytest.raises(NotSealed, match="refusing to publish"):
        publish(store, value())


def test_the_guard_refuses_clear_text_behind_a_forged_seal_header(store: ContentStore) -> None:
    genuine = seal(certificate(), "intl")
    forged = Sealed(genuine.ciphertext[:HEADER_SIZE] + certificate(), genuine.key, "intl")
    with pytest.raises(NotSealed, match="reads as text"):
        publish(store, forged)
    assert ensure_sealed(genuine) is genuine


def _stored_bytes(store: ContentStore, request: pytest.FixtureRequest) -> list[bytes]:
    """Everything the store keeps on disk (the embedded folder, or the node's repository)."""
    if isinstance(store, EmbeddedStore):
        root = store.root
    else:
        root = request.getfixturevalue("ipfs_node").repo
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_no_field_value_of_a_published_document_reaches_the_store(
    store: ContentStore, suite: str, request: pytest.FixtureRequest
) -> None:
    document = certificate(suite)
    code = publish_document(store, document, suite)
    try:  # the node may keep new blocks in memory a moment before they are written
        publish(store, document)  # type: ignore[arg-type]
    except NotSealed:
        pass
    stored = b"\n".join(_stored_bytes(store, request))
    assert stored, "the store keeps nothing on disk?"
    for value in HOLDER.values():
        for encoded in (value.encode(), value.encode("utf-16-le"), orjson.dumps(value)):
            assert encoded not in stored
    assert b'"fields"' not in stored and b"GD-PSB" not in stored
    assert fetch(store, code) == document


def _b58encode(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out
