"""Bad input to the REST API: every malformed request gets a 4xx with a clear error body
``{"error": {"code", "message"}}`` (never a 500), and documents that are
well-formed but not genuine get a verdict of their own (200 INVALID / UNKNOWN with the failing
check named). Ends with a Schemathesis run over the app's own OpenAPI document.
"""

from __future__ import annotations

import copy
import io
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base45
import cbor2
import orjson
import pytest
import schemathesis
from api_helpers import GD, World, failing, flip_hex, forge_signature, id_rows, issue_rows, new_deployment
from fastapi.testclient import TestClient
from helpers import free_port, wait_until
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis_hooks import negative_data_rejected, positive_data_accepted  # noqa: F401 - registers the checks

from ledger.document import Certificate
from ledger.qr import compact_payload, full_payload, render_png

GOOD_HASH = "0x" + "ab" * 32


def assert_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A 4xx whose body is exactly {"error": {"code": ..., "message": ...}}."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"].isupper()
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# ---------------------------------------------------------------------- hashes


MALFORMED_HASHES = [
    "0x1234",  # short
    "0x" + "a" * 63,
    "0x" + "a" * 65,
    "ab" * 32,  # no 0x
    "0x" + "g" * 64,  # not hex
    "0x" + "a" * 62 + "zz",
    "0X" + "a" * 64,
    "0x" + "a" * 64 + "00",
    "0x",
    "x",
    "0x%20" + "a" * 62,
    "null",
    "0x" + "é" * 64,
]


@pytest.mark.parametrize("h", MALFORMED_HASHES)
@pytest.mark.parametrize("suffix", ["", "/history"])
def test_malformed_certificate_hash(client: TestClient, h: str, suffix: str) -> None:
    assert_error(client.get(f"/v1/certificates/{h}{suffix}"), 422, "MALFORMED_HASH")


@pytest.mark.parametrize("h", MALFORMED_HASHES[:6])
def test_malformed_batch_root(client: TestClient, h: str) -> None:
    assert_error(client.get(f"/v1/batches/{h}"), 422, "MALFORMED_HASH")


# ---------------------------------------------------------------------- query parameters


BAD_REGIONS = [
    "abc",
    "44000",
    "4400000",
    "000000",
    "040000",
    "440000.0",
    "-440000",
    "44 000",
    "４４００００",
    "0x6b6c0",
]


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_bad_region(world: World, client: TestClient, region: str) -> None:
    assert_error(
        client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"verifier_region": region}), 422, "BAD_REGION"
    )
    r = client.post("/v1/verify", params={"verifier_region": region}, json={"document": world.doc("id", 0)})
    assert_error(r, 422, "BAD_REGION")


def test_empty_region_means_no_region(world: World, client: TestClient) -> None:
    body = client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"verifier_region": ""}).json()
    assert body["verdict"] == "INCOMPLETE" and body["verifier_region"] is None


BAD_TIMES = [
    "yesterday",
    "2024-13-01",
    "2024-02-30T00:00:00Z",
    "-5",
    "1e9",
    "12:00",
    "99999999999999",
    "now-1d",
    "2024/01/01",
]


@pytest.mark.parametrize("as_of", BAD_TIMES)
def test_bad_as_of(world: World, client: TestClient, as_of: str) -> None:
    assert_error(client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"as_of": as_of}), 422, "BAD_TIME")
    assert_error(
        client.post("/v1/verify", params={"as_of": as_of}, json={"document": world.doc("id", 0)}), 422, "BAD_TIME"
    )


@pytest.mark.parametrize("as_of", ["2999-01-01T00:00:00Z", "32503680000"])
def test_as_of_in_the_future_is_bad_time(world: World, client: TestClient, as_of: str) -> None:
    """A time in the future is a bad as_of (not a malformed document or payload)."""
    assert_error(client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"as_of": as_of}), 422, "BAD_TIME")
    assert_error(
        client.post("/v1/verify", params={"as_of": as_of}, json={"document": world.doc("id", 0)}), 422, "BAD_TIME"
    )
    assert_error(
        client.post("/v1/verify", params={"as_of": as_of}, json={"payload": full_payload(world.cert("id", 0))}),
        422,
        "BAD_TIME",
    )


@pytest.mark.parametrize("as_of", ["0", "1970-01-01T00:00:00Z"])
def test_as_of_the_epoch_is_not_a_server_error(world: World, lenient_client: TestClient, as_of: str) -> None:
    """as_of=0 is a valid unix time (or a 422), never a 5xx: the result's as_of must still be a time."""
    for r in (
        lenient_client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"as_of": as_of}),
        lenient_client.post("/v1/verify", params={"as_of": as_of}, json={"document": world.doc("id", 0)}),
    ):
        assert r.status_code in (200, 422), r.text
        if r.status_code == 200:
            assert r.json()["as_of"] == "1970-01-01T00:00:00Z"
        else:
            assert_error(r, 422, "BAD_TIME")


@pytest.mark.parametrize("source", ["", "Mirror", "db", "chain ", "CHAIN"])
def test_bad_source(world: World, client: TestClient, source: str) -> None:
    r = client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"source": source})
    assert_error(r, 422)
    assert_error(client.post("/v1/verify", params={"source": source}, json={"document": world.doc("id", 0)}), 422)


# ---------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "raw", [b"{", b"{bad json", b"", b"\xff\xfe", b'{"payload": "x",}', b"NaN", b"[1,", b'{"a": 1e999999}']
)
def test_garbage_json(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/verify", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 422, "MALFORMED_JSON")


def test_body_without_content_type_is_read_as_json(client: TestClient) -> None:
    assert_error(client.post("/v1/verify", content=b"{oops"), 422, "MALFORMED_JSON")


WRONG_SHAPES: list[Any] = [
    [],
    [{"payload": "CLC1:x"}],
    5,
    None,
    True,
    {},
    {"foo": 1},
    {"payload": 5},
    {"payload": None},
    {"payload": ["CLC1:x"]},
    {"document": "a document"},
    {"document": None},
    {"document": [1]},
    {"payload": "CLC1:x", "extra": 1},
    {"document": {}, "payload": "CLC1:x"},
]


@pytest.mark.parametrize("body", WRONG_SHAPES, ids=lambda b: orjson.dumps(b).decode()[:40])
def test_wrong_shape(client: TestClient, body: Any) -> None:
    r = client.post("/v1/verify", content=orjson.dumps(body), headers={"content-type": "application/json"})
    assert_error(r, 422, "MALFORMED_BODY")


def _compact(world: World) -> str:
    return compact_payload(world.cert("id", 0).compute_hash(), "ID_CARD", GD, "GD-PSB")


def _payloads(world: World) -> dict[str, str]:
    compact = _compact(world)
    full = full_payload(world.cert("id", 0))
    b45 = lambda raw: base45.b45encode(raw).decode()  # noqa: E731
    return {
        "empty": "",
        "spaces": "   ",
        "text": "hello world",
        "url": "https://example.com/cert/123",
        "compact-prefix-only": "CLC1:",
        "full-prefix-only": "CLF1:",
        "wrong-prefix": "CLX1:" + compact[5:],
        "lower-case-prefix": "clc1:" + compact[5:],
        "no-prefix": compact[5:],
        "old-version": "CLC0:" + compact[5:],
        "truncated-base45": compact[:-1],
        "truncated-base45-2": compact[:-4],
        "not-base45": "CLC1:abc$%^&*",
        "base45-not-cbor": "CLC1:" + b45(b"\xff\xff\xff\xff"),
        "cbor-wrong-shape": "CLC1:" + b45(cbor2.dumps({"hash": "x"})),
        "cbor-short-hash": "CLC1:" + b45(cbor2.dumps([b"\x01" * 31, "ID_CARD", GD])),
        "cbor-bad-region": "CLC1:" + b45(cbor2.dumps([b"\x01" * 32, "ID_CARD", 44])),
        "cbor-bignum-region": "CLC1:" + b45(cbor2.dumps([b"\x01" * 32, "ID_CARD", 10**4000])),
        "cbor-deep-nesting": "CLC1:" + b45(b"\x81" * 5000 + b"\x00"),
        "full-truncated": full[: len(full) // 2],
        "full-not-zlib": "CLF1:" + b45(b"not zlib at all"),
        "full-zlib-not-cbor": "CLF1:" + b45(zlib.compress(b"\xff" * 10)),
        "full-zlib-bomb": "CLF1:" + b45(zlib.compress(b"\x00" * 5_000_000, 9)),
        "full-missing-keys": "CLF1:" + b45(zlib.compress(cbor2.dumps({1: "ID_CARD"}))),
        "full-wrong-types": "CLF1:"
        + b45(zlib.compress(cbor2.dumps({1: 5, 2: [], 3: "x", 4: 1, 9: "a", 10: 1, 11: 2, 13: 3}))),
        "compact-in-full-prefix": "CLF1:" + compact[5:],
        "too-long": "CLC1:" + "A" * 8200,
    }


PAYLOAD_CASES = [
    "empty",
    "spaces",
    "text",
    "url",
    "compact-prefix-only",
    "full-prefix-only",
    "wrong-prefix",
    "lower-case-prefix",
    "no-prefix",
    "old-version",
    "truncated-base45",
    "truncated-base45-2",
    "not-base45",
    "base45-not-cbor",
    "cbor-wrong-shape",
    "cbor-short-hash",
    "cbor-bad-region",
    "cbor-bignum-region",
    "cbor-deep-nesting",
    "full-truncated",
    "full-not-zlib",
    "full-zlib-not-cbor",
    "full-zlib-bomb",
    "full-missing-keys",
    "full-wrong-types",
    "compact-in-full-prefix",
    "too-long",
]


@pytest.mark.parametrize("case", PAYLOAD_CASES)
def test_malformed_payload(world: World, client: TestClient, case: str) -> None:
    payload = _payloads(world)[case]
    assert_error(client.post("/v1/verify", json={"payload": payload}), 422, "MALFORMED_PAYLOAD")
    # the same payload sent as a bare JSON string
    assert_error(client.post("/v1/verify", json=payload), 422, "MALFORMED_PAYLOAD")


def test_payload_over_the_body_limit_is_413(client: TestClient) -> None:
    assert_error(client.post("/v1/verify", json={"payload": "CLC1:" + "A" * 70_000}), 413, "BODY_TOO_LARGE")


def _doc_edits() -> dict[str, Any]:
    def drop(*path: str) -> Any:
        def edit(d: dict[str, Any]) -> None:
            for p in path[:-1]:
                d = d[p]
            del d[path[-1]]

        return edit

    def put(value: Any, *path: str) -> Any:
        def edit(d: dict[str, Any]) -> None:
            for p in path[:-1]:
                d = d[p]
            d[path[-1]] = value

        return edit

    return {
        "no-format": drop("format"),
        "format-v3": put("certledger/3", "format"),
        "format-number": put(1, "format"),
        "no-issuer": drop("issuer"),
        "issuer-not-object": put("GD-PSB", "issuer"),
        "no-agency": drop("issuer", "agency"),
        "agency-empty": put("", "issuer", "agency"),
        "agency-number": put(7, "issuer", "agency"),
        "agency-too-long": put("A" * 40, "issuer", "agency"),
        "no-region": drop("issuer", "region"),
        "region-bad": put("GD", "issuer", "region"),
        "region-list": put([440000], "issuer", "region"),
        "region-float": put(440000.5, "issuer", "region"),
        "no-type": drop("type"),
        "type-empty": put("", "type"),
        "type-object": put({"a": 1}, "type"),
        "no-validFrom": drop("validFrom"),
        "validFrom-garbage": put("soon", "validFrom"),
        "validFrom-not-a-day": put("2020-02-30", "validFrom"),
        "validUntil-garbage": put("2030-1-1", "validUntil"),
        "fields-list": put(["x"], "fields"),
        "field-number": put({"name": 5}, "fields"),
        "field-name-bad": put({"1name": "x"}, "fields"),
        "field-too-long": put({"name": "x" * 5000}, "fields"),
        "too-many-fields": put({f"f{i}": "x" for i in range(300)}, "fields"),
        "salts-list": put(["0x00"], "salts"),
        "salt-missing": drop("salts", "name"),
        "salt-short": put("0x" + "00" * 15, "salts", "name"),
        "salt-not-hex": put("0x" + "zz" * 16, "salts", "name"),
        "salt-number": put(12, "salts", "name"),
        "salt-extra": put("0x" + "00" * 16, "salts", "nickname"),
        "hidden-bad-hex": put({"secret": "0x1234"}, "hidden"),
        "hidden-name-bad": put({"$x": "0x" + "00" * 32}, "hidden"),
        "hidden-also-shown": put({"name": "0x" + "00" * 32}, "hidden"),
        "hash-short": put("0x1234", "hash"),
        "hash-no-0x": put("ab" * 32, "hash"),
        "anchor-string": put("0xabc", "anchor"),
        "anchor-list": put([1], "anchor"),
        "chainId-string": put("31337", "anchor", "chainId"),
        "chainId-negative": put(-1, "anchor", "chainId"),
        "chainId-bool": put(True, "anchor", "chainId"),
        "chainId-missing": drop("anchor", "chainId"),
        "registry-bad": put("0x1234", "anchor", "registry"),
        "registry-missing": drop("anchor", "registry"),
        "root-bad": put("0x" + "a" * 63, "anchor", "root"),
        "root-missing": drop("anchor", "root"),
        "proof-not-list": put("0x" + "a" * 64, "anchor", "proof"),
        "proof-element-bad": put(["0x12"], "anchor", "proof"),
        "proof-too-long": put(["0x" + "a" * 64] * 65, "anchor", "proof"),
        "signature-short": put("0x" + "ab" * 64, "anchor", "signature"),
        "signature-missing": drop("anchor", "signature"),
    }


DOC_EDITS = list(_doc_edits())


@pytest.mark.parametrize("edit", DOC_EDITS)
def test_malformed_document(world: World, client: TestClient, edit: str) -> None:
    doc = world.doc("id", 0)
    _doc_edits()[edit](doc)
    err = assert_error(client.post("/v1/verify", json={"document": doc}), 422, "MALFORMED_DOCUMENT")
    assert len(err["message"]) < 300
    if "format" in doc:  # a bare document is recognised by its format tag
        assert_error(client.post("/v1/verify", json=doc), 422, "MALFORMED_DOCUMENT")


def test_malformed_document_inside_a_full_payload(world: World, client: TestClient) -> None:
    body = {
        1: "ID_CARD",
        2: "GD-PSB",
        3: GD,
        4: "2020-01-01",
        6: {"name": "x"},
        7: {},
        9: 31337,
        10: b"a" * 20,
        11: b"b" * 32,
        13: b"c" * 65,
    }
    payload = "CLF1:" + base45.b45encode(zlib.compress(cbor2.dumps(body))).decode()
    assert_error(client.post("/v1/verify", json={"payload": payload}), 422, "MALFORMED_PAYLOAD")


# ---------------------------------------------------------------------- uploads


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_non_image_upload(client: TestClient) -> None:
    for name, data, mime in [
        ("a.txt", b"hello, not an image", "text/plain"),
        ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png"),
        ("e.png", b"", "image/png"),
    ]:
        assert_error(client.post("/v1/verify", files={"image": (name, data, mime)}), 422, "BAD_IMAGE")


def test_truncated_png_upload(world: World, client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "qr.png"
    render_png(_compact(world), path)
    data = path.read_bytes()
    assert_error(
        client.post("/v1/verify", files={"image": ("qr.png", data[: len(data) // 2], "image/png")}), 422, "BAD_IMAGE"
    )


def test_image_without_a_qr_code(client: TestClient) -> None:
    blank = _png(Image.new("L", (300, 300), 255))
    assert_error(client.post("/v1/verify", files={"image": ("blank.png", blank, "image/png")}), 422, "NO_QR_FOUND")
    noise = _png(Image.effect_noise((200, 200), 80))
    assert_error(client.post("/v1/verify", files={"image": ("noise.png", noise, "image/png")}), 422, "NO_QR_FOUND")


def test_qr_code_that_is_not_a_certledger_payload(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "other.png"
    render_png("https://example.com/not-a-certificate", path)
    r = client.post("/v1/verify", files={"image": ("other.png", path.read_bytes(), "image/png")})
    assert_error(r, 422, "MALFORMED_PAYLOAD")


def test_multipart_without_an_image_field(client: TestClient) -> None:
    assert_error(client.post("/v1/verify", files={"photo": ("qr.png", b"x", "image/png")}), 422, "MISSING_IMAGE")
    assert_error(
        client.post("/v1/verify", data={"image": "CLC1:abc"}, files={"other": ("a", b"x", "text/plain")}),
        422,
        "MISSING_IMAGE",
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=b0undary", b"--b0undary\r\n0.025--b0undary--\r\n"),
        ("multipart/form-data; boundary=b0undary", b"garbage without any boundary"),
    ],
    ids=["no-boundary", "part-without-headers", "no-parts"],
)
def test_malformed_multipart_is_422(client: TestClient, content_type: str, body: bytes) -> None:
    """A broken multipart body is a malformed request: 422 like every other one (POST
    /v1/verify documents 413, 415 and 422 for bad input, not 400)."""
    r = client.post("/v1/verify", content=body, headers={"content-type": content_type})
    assert_error(r, 422)


@pytest.mark.parametrize("size", [(12_000, 12_000), (4_001, 4_001), (16_001, 1_000)])
def test_huge_dimensions_image_is_refused(client: TestClient, size: tuple[int, int]) -> None:
    """A small file that decodes to a very large image (over 16 megapixels) is refused from its
    header, before anything is decoded."""
    big = _png(Image.new("1", size, 1))
    assert len(big) < 4 * 1024 * 1024
    r = client.post("/v1/verify", files={"image": ("big.png", big, "image/png")})
    assert_error(r, 422, "BAD_IMAGE")
    assert "megapixels" in r.json()["error"]["message"]


def test_large_photo_is_shrunk_before_decoding_and_still_read(world: World, client: TestClient, tmp_path: Path) -> None:
    """A 12-megapixel phone photo with the QR code in it: shrunk before the decoder sees it,
    and still read."""
    path = tmp_path / "qr.png"
    render_png(_compact(world), path, scale=20)
    qr_img = Image.open(path).convert("L")
    photo = Image.new("L", (4000, 3000), 200)
    photo.paste(qr_img, (1500, 900))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    r = client.post("/v1/verify", files={"image": ("photo.jpg", out.getvalue(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["certificate"]["hash"] == world.hash("id", 0)


# ---------------------------------------------------------------------- size and media type


def test_oversized_json_body_with_content_length(client: TestClient) -> None:
    body = orjson.dumps({"document": {"format": "certledger/1", "fields": {"name": "x" * 100_000}}})
    r = client.post("/v1/verify", content=body, headers={"content-type": "application/json"})
    assert_error(r, 413, "BODY_TOO_LARGE")


def test_oversized_json_body_chunked(lenient_client: TestClient) -> None:
    """No Content-Length: the limit is enforced while reading (413, not a 5xx)."""
    client = lenient_client

    def chunks() -> Iterator[bytes]:
        yield b'{"payload": "'
        for _ in range(100):
            yield b"A" * 1024
        yield b'"}'

    r = client.post("/v1/verify", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "BODY_TOO_LARGE")


def test_lying_content_length_is_not_trusted(lenient_client: TestClient) -> None:
    """A small Content-Length does not let a bigger body through."""
    client = lenient_client
    body = orjson.dumps({"payload": "CLC1:" + "A" * 100_000})

    def chunks() -> Iterator[bytes]:
        yield body

    r = client.post(
        "/v1/verify", content=chunks(), headers={"content-type": "application/json", "content-length": "20"}
    )
    assert 400 <= r.status_code < 500


def test_oversized_upload(client: TestClient) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * (4 * 1024 * 1024 + 10)
    assert_error(client.post("/v1/verify", files={"image": ("big.png", data, "image/png")}), 413, "BODY_TOO_LARGE")


def test_upload_between_the_json_and_image_limits_is_accepted(world: World, client: TestClient, tmp_path: Path) -> None:
    """An image of a few hundred KB is over the JSON limit but within the image limit."""
    path = tmp_path / "qr.png"
    render_png(_compact(world), path, scale=12)
    img = Image.open(path).convert("L").resize((1200, 1200), Image.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=0)
    data = out.getvalue()
    assert 64 * 1024 < len(data) < 4 * 1024 * 1024
    r = client.post("/v1/verify", files={"image": ("qr.png", data, "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "INCOMPLETE"  # a compact QR: every ledger check passed


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "image/png", "application/cbor"],
)
def test_unsupported_content_type(world: World, client: TestClient, content_type: str) -> None:
    r = client.post(
        "/v1/verify", content=orjson.dumps({"document": world.doc("id", 0)}), headers={"content-type": content_type}
    )
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unknown_path_and_method(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "NOT_FOUND")
    r = client.delete(f"/v1/certificates/{GOOD_HASH}")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "GET"
    r = client.get("/v1/verify")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "POST"
    for method in ("PUT", "PATCH", "TRACE", "OPTIONS"):
        r = client.request(method, "/healthz")
        assert r.status_code == 405 and r.headers["allow"] == "GET", (method, r.status_code, r.headers)


@pytest.mark.parametrize("agency", ["GD PSB", "-GD", "GD/PSB", "A" * 33, "广东", "GD-PSB\n"])
def test_bad_agency(world: World, client: TestClient, agency: str) -> None:
    assert_error(client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"agency": agency}), 422, "BAD_AGENCY")
    assert_error(client.get(f"/v1/batches/{GOOD_HASH}", params={"agency": agency}), 422, "BAD_AGENCY")


def test_openapi_document_states_the_rules_the_api_applies(world: World, app: Any, client: TestClient) -> None:
    """The published patterns and shapes are the ones requests are held to: a document ``{}``
    is not valid under the schema, a genuine document is."""
    import jsonschema_rs  # comes with schemathesis

    doc = app.openapi()
    params = {
        (path, p["name"]): p["schema"]
        for path, item in doc["paths"].items()
        for op in item.values()
        for p in op.get("parameters", [])
    }
    hash_pattern = r"^0x[0-9a-fA-F]{64}$"
    assert params[("/v1/certificates/{cert_hash}", "cert_hash")]["pattern"] == hash_pattern
    assert params[("/v1/batches/{root}", "root")]["pattern"] == hash_pattern
    assert params[("/v1/certificates/{cert_hash}", "agency")]["pattern"] == r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,31})?$"
    assert params[("/v1/verify", "verifier_region")]["pattern"] == r"^([1-9][0-9]{5})?$"
    assert "pattern" in params[("/v1/verify", "as_of")]
    assert params[("/v1/verify", "source")]["enum"] == ["mirror", "chain"]
    assert params[("/v1/certificates/{cert_hash}", "source")]["enum"] == ["mirror"]  # by hash: the mirror only

    body = doc["paths"]["/v1/verify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(body, validate_formats=True)
    assert not validator.is_valid({})
    assert not validator.is_valid({"document": {}})
    assert not validator.is_valid({"payload": "hello"})
    assert validator.is_valid({"payload": _compact(world)})
    genuine, disclosed = world.doc("id", 0), world.cert("id", 0).disclose(["name"]).to_json()
    disclosed["anchor"] = genuine["anchor"]
    for doc in (genuine, disclosed):
        assert validator.is_valid({"document": doc}) and validator.is_valid(doc)
        assert client.post("/v1/verify", json={"document": doc}).json()["verdict"] == "VALID"
    # JSON numbers: 440000.0 is the integer 440000, under the schema and for the API alike
    doc = copy.deepcopy(genuine)
    doc["issuer"]["region"] = float(doc["issuer"]["region"])
    doc["anchor"]["chainId"] = float(doc["anchor"]["chainId"])
    assert validator.is_valid({"document": doc})
    assert client.post("/v1/verify", json={"document": doc}).json()["verdict"] == "VALID"


# ---------------------------------------------------------------------- a real server: chunked bodies on the wire


@pytest.fixture(scope="module")
def live_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API in a real uvicorn process (a subprocess: an in-process server thread logging
    tracebacks while pytest formats its own trips a CPython 3.11 ast bug)."""
    import os
    import subprocess
    import sys

    import httpx

    port = free_port()
    log = tmp_path_factory.mktemp("live") / "uvicorn.log"
    env = {
        **os.environ,
        "CERTLEDGER_HOME": str(world.home),
        "CERTLEDGER_DEPLOYMENT": str(world.home / "deployment.json"),
        "CERTLEDGER_RPC_URL": world.node.url,
        "CERTLEDGER_DB_URL": world.mirror("sqlite").url,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answering() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(url + "/healthz", timeout=2)
                return True
            except httpx.HTTPError:
                return False

        if not wait_until(answering, timeout=60, interval=0.1, required=False):
            pytest.fail("uvicorn did not start:\n" + log.read_text(), pytrace=False)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raw_post(url: str, head: bytes, chunks: Iterator[bytes]) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as s:
        try:
            s.sendall(head)
            for chunk in chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before taking the whole body
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < 200:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except (TimeoutError, ConnectionResetError):
            pass
        return data


def test_live_server_refuses_an_oversized_chunked_body(world: World, live_url: str) -> None:
    head = (
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )

    def chunks() -> Iterator[bytes]:
        payload = b'{"payload": "' + b"A" * 200_000 + b'"}'
        for i in range(0, len(payload), 4096):
            part = payload[i : i + 4096]
            yield b"%x\r\n%s\r\n" % (len(part), part)
        yield b"0\r\n\r\n"

    response = _raw_post(live_url, head, chunks())
    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b'"BODY_TOO_LARGE"' in response


def test_live_server_accepts_a_small_chunked_body(world: World, live_url: str) -> None:
    head = b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    body = orjson.dumps({"document": world.doc("id", 0)})

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            part = body[i : i + 100]
            yield b"%x\r\n%s\r\n" % (len(part), part)
        yield b"0\r\n\r\n"

    response = _raw_post(live_url, head, chunks())
    assert response.startswith(b"HTTP/1.1 200"), response[:300]


def test_live_server_refuses_an_oversized_body_with_content_length(live_url: str) -> None:
    import httpx

    r = httpx.post(f"{live_url}/v1/verify", json={"payload": "CLC1:" + "A" * 100_000}, timeout=20)
    assert_error(r, 413, "BODY_TOO_LARGE")


# ---------------------------------------------------------------------- not genuine: verdicts, not errors


def _not_genuine(world: World, tmp_path: Path) -> dict[str, tuple[dict[str, Any], str, tuple[str, str]]]:
    tampered = world.doc("id", 0)
    tampered["fields"]["name"] = "冒名顶替"
    proof = world.doc("id", 0)
    proof["anchor"]["proof"][0] = flip_hex(proof["anchor"]["proof"][0])
    other_chain = world.doc("id", 0)
    other_chain["anchor"]["chainId"] = 1
    # A genuine document of another deployment (another consortium) replayed here.
    other = new_deployment(world.chain, types=("ID_CARD",), suite=world.deployment.suite)
    (replayed,) = issue_rows(other, "GD-PSB", "ID_CARD", id_rows(1), tmp_path / "replayed")
    relabelled = dict(replayed, anchor={**replayed["anchor"], "registry": world.deployment.certificate_registry})
    return {
        "tampered-field": (tampered, "INVALID", ("integrity", "HASH_MISMATCH")),
        "tampered-proof": (proof, "INVALID", ("integrity", "PROOF_MISMATCH")),
        "forged-signature": (forge_signature(world.doc("id", 0)), "INVALID", ("key_valid", "FORGED_SIGNATURE")),
        "other-chain-id": (other_chain, "INVALID", ("anchored", "OTHER_LEDGER")),
        "replayed-from-another-deployment": (replayed, "INVALID", ("anchored", "OTHER_LEDGER")),
        "replayed-and-relabelled": (relabelled, "UNKNOWN", ("anchored", "NOT_ANCHORED")),
    }


def test_not_genuine_documents_get_distinct_verdicts(world: World, client: TestClient, tmp_path: Path) -> None:
    seen = set()
    for case, (doc, verdict, check) in _not_genuine(world, tmp_path).items():
        world.sync()
        r = client.post("/v1/verify", json={"document": doc}, params={"verifier_region": "330000"})
        assert r.status_code == 200, (case, r.text)
        body = r.json()
        assert body["verdict"] == verdict, (case, failing(body))
        assert failing(body)[0] == check, (case, failing(body))
        seen.add(check)
        # the same through a full QR payload, and through the chain
        r = client.post("/v1/verify", json={"payload": full_payload(Certificate.from_json(doc)[0])})
        assert r.json()["verdict"] == verdict, case
        chain = client.post("/v1/verify", json={"document": doc}, params={"source": "chain"}).json()
        assert chain["verdict"] == verdict and failing(chain)[0] == check, (case, failing(chain))
    assert len(seen) == 5


def test_zeroed_signature_is_invalid_not_error(world: World, client: TestClient) -> None:
    doc = world.doc("id", 0)
    doc["anchor"]["signature"] = "0x" + "00" * 65
    body = client.post("/v1/verify", json={"document": doc}).json()
    assert body["verdict"] == "INVALID", failing(body)


# ---------------------------------------------------------------------- Schemathesis


def _with_example_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """One thing the published document cannot carry: a payload of this test's world (a
    compact QR of a random hash decodes, so generation reaches verification). Parameters and
    bodies are generated from the app's own patterns and shapes, unchanged."""
    import secrets

    op = doc["paths"]["/v1/verify"]["post"]
    payload = op["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]["properties"]["payload"]
    payload["examples"] = [compact_payload(secrets.token_bytes(32), "ID_CARD", GD, "GD-PSB")]
    return doc


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, from an app on a placeholder deployment (the document
    depends on the routes only). Built at import so that Schemathesis can make one test per
    operation; the requests then go to the real app of the ``synced_app`` fixture."""
    import shutil
    import tempfile

    from api.app import ApiSettings, create_app
    from ledger.deployment import Deployment

    home = Path(tempfile.mkdtemp(prefix="certledger-openapi-"))
    try:
        zero = "0x" + "00" * 20
        Deployment(31337, zero, zero, zero, 0, zero, "0x" + "11" * 32, "0x" + "22" * 32).save(home / "deployment.json")
        placeholder = create_app(
            ApiSettings(
                home=home,
                deployment=home / "deployment.json",
                rpc_url="http://127.0.0.1:9",
                db_url=f"sqlite:///{home}/m.db",
            )
        )
        return _with_example_payload(copy.deepcopy(placeholder.openapi()))
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def synced_app(world: World) -> Any:
    """The app over the world's mirror, just synced and trusted for the run's length: with no
    indexer running, a mirror last updated over 10 s ago makes /healthz answer 503, which the
    server-error check would flag."""
    world.sync()
    return world.app("sqlite", max_staleness_seconds=3600.0)


# (schemathesis.pytest.from_fixture would load the schema from the real app lazily, but with
# pytest 9 it fails: it sets request.node._nodeid, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(_openapi_document())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    derandomize=True,
    database=None,  # the same cases every run, not replays of earlier failures
)
def test_schemathesis(case: Any, synced_app: Any) -> None:
    """Every Schemathesis check (as ``--checks all``; schemathesis_hooks.py) for generated valid
    and invalid requests to every operation: no 5xx, responses as declared, schema-valid requests
    accepted (but for the refusals no schema can state), schema-invalid ones refused, and 405 with
    Allow for undeclared methods."""
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    # every check, the two data checks as refined in schemathesis_hooks.py
    case.call_and_validate(app=synced_app, excluded_checks=[positive_data_acceptance, negative_data_rejection])
