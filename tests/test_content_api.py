"""GET /v1/content/{cid} (docs/content.md, "The wallet imports by code"): the sealed bytes of a
published document from the server's content store, checked against the CID before they are
sent, immutable; 404 for unknown content and for anything in the store that is not a sealed
document; 400 for a malformed CID; a damaged store or a lying IPFS node is refused (503
CONTENT_TAMPERED), never served. Both suites (the ``world`` fixture), the embedded store, and a
fake IPFS node that answers other bytes."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import World, checked_client
from content_helpers import HOLDER, FixedAnswer, certificate
from fastapi.testclient import TestClient
from helpers import dead_url

from api.routes.content import CID_PATTERN
from ledger.content import Cid, EmbeddedStore, content_cid, open_sealed, publish_document, seal

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "content")


@pytest.fixture
def client(world: World, store: EmbeddedStore) -> Iterator[TestClient]:
    world.sync()
    with checked_client(world.app("sqlite", content_dir=store.root)) as tc:
        yield tc


def error_of(response: object) -> tuple[int, str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]  # type: ignore[attr-defined]


def test_a_published_document_is_served_sealed_checked_and_immutable(
    client: TestClient, store: EmbeddedStore, world: World
) -> None:
    document = certificate(world.deployment.suite)
    code = publish_document(store, document, world.deployment.suite)
    r = client.get(f"/v1/content/{code.cid}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["cache-control"] == IMMUTABLE and r.headers["etag"] == f'"{code.cid}"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == store.cat(code.cid) and content_cid(r.content) == code.cid
    assert r.content[:3] == b"CLS" and open_sealed(r.content, code.key) == document
    for value in HOLDER.values():  # ciphertext only
        assert value.encode() not in r.content
    # anonymous, and the same answer again (content-addressed)
    assert client.get(f"/v1/content/{code.cid}").content == r.content


def test_unknown_content_is_404_without_naming_the_store(client: TestClient, store: EmbeddedStore) -> None:
    unknown = content_cid(seal(b"never published" * 10, "intl").ciphertext)
    status, code, message = error_of(client.get(f"/v1/content/{unknown}"))
    assert (status, code) == (404, "CONTENT_NOT_FOUND") and str(unknown) in message
    assert str(store.root) not in message


def _b58(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def test_a_malformed_cid_is_400(client: TestClient, store: EmbeddedStore) -> None:
    code = publish_document(store, certificate("intl"), "intl")
    text = str(code.cid)
    raw = code.cid.to_bytes()
    dag_cbor = "b" + base64.b32encode(bytes([1, 0x71]) + raw[2:]).decode().rstrip("=").lower()
    last = "abcdefghijklmnopqrstuvwxyz234567".index(text[-1])
    padded = text[:-1] + "abcdefghijklmnopqrstuvwxyz234567"[last | 1]  # a set padding bit
    for bad in [
        "not-a-cid",
        "bafkrei",
        text[:-2],
        text + "aa",
        text.upper(),  # the same CID, not as the codes write it
        "z" + _b58(raw),  # base58btc: also the same CID
        dag_cbor,  # another codec
        padded,
        "b" + "a" * 58,
    ]:
        status, err, message = error_of(client.get(f"/v1/content/{bad}"))
        assert (status, err) == (400, "MALFORMED_CID"), (bad, message)
    # the published pattern says exactly which CIDs are well formed
    pattern = re.compile(CID_PATTERN)
    assert pattern.fullmatch(text) and not pattern.fullmatch(padded) and not pattern.fullmatch(dag_cbor)
    for codec in (0x55, 0x70):
        for _ in range(200):
            assert pattern.fullmatch(str(Cid(codec, os.urandom(32))))


def test_content_damaged_in_the_store_is_refused_never_served(client: TestClient, store: EmbeddedStore) -> None:
    code = publish_document(store, certificate("intl"), "intl")
    path = store.block_path(code.cid)
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    r = client.get(f"/v1/content/{code.cid}")
    status, err, message = error_of(r)
    assert (status, err) == (503, "CONTENT_TAMPERED") and str(store.root) not in message
    assert bytes(data[17:60]) not in r.content
    assert "cache-control" not in r.headers or "immutable" not in r.headers["cache-control"]
    path.write_bytes(b"")  # emptied
    assert error_of(client.get(f"/v1/content/{code.cid}"))[:2] == (503, "CONTENT_TAMPERED")


def test_only_sealed_documents_are_served(client: TestClient, store: EmbeddedStore) -> None:
    """The store may hold other things (trust snapshots): this route serves sealed documents only."""
    clear = certificate("intl")  # a document in clear, added below the publishing guard
    not_sealed = [
        clear,
        b"PK\x03\x04" + os.urandom(200),
        b"CLS\x01\x01" + b"\0" * 12 + clear,
        b"CLS\x09\x01" + b"x" * 40,
    ]
    for data in not_sealed:
        cid = store.add(data)
        status, err, message = error_of(client.get(f"/v1/content/{cid}"))
        assert (status, err) == (404, "NOT_SEALED"), message
        assert "cache-control" not in client.get(f"/v1/content/{cid}").headers


def test_a_lying_ipfs_node_is_refused_and_a_dead_one_is_503(world: World, store: EmbeddedStore) -> None:
    code = publish_document(store, certificate("intl"), "intl")
    liar = FixedAnswer(seal(b"another document" * 8, "intl").ciphertext)  # sealed, but not this CID's bytes
    try:
        with checked_client(world.app("sqlite", ipfs_url=liar.url, ipfs_timeout=5)) as client:
            r = client.get(f"/v1/content/{code.cid}")
            assert error_of(r)[:2] == (503, "CONTENT_TAMPERED")
    finally:
        liar.close()
    with checked_client(world.app("sqlite", ipfs_url=dead_url(), ipfs_timeout=2)) as client:
        status, err, message = error_of(client.get(f"/v1/content/{code.cid}"))
        assert (status, err) == (503, "IPFS_UNAVAILABLE") and "127.0.0.1" not in message


def test_the_route_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/content/{cid}"]["get"]
    assert set(op["responses"]) >= {"200", "400", "404", "503"}
    assert "application/octet-stream" in op["responses"]["200"]["content"]
    assert "sealed document" in op["responses"]["200"]["description"]
    for status in ("400", "404", "503"):
        assert op["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    (param,) = op["parameters"]
    assert param["in"] == "path" and param["schema"]["pattern"] == CID_PATTERN
