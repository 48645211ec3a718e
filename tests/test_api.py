"""The REST API (README, docs/verification.md) through FastAPI's TestClient, over a real chain and a real mirror:
every endpoint, the verification result (docs/verification.md), every way of handing in a certificate
(document, disclosed document, compact and full QR payloads, a bare document, a JSON string,
a QR image as PNG and as JPEG), source=chain, history, batches, the registers, /healthz,
/metrics, the web page and the OpenAPI document.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from api_helpers import (
    BJ,
    GD,
    RULES,
    ZJ,
    World,
    checked_client,
    conforms,
    failing,
    forge_signature,
    published_model,
    unanchored_document,
)
from eth_account import Account
from fastapi.testclient import TestClient
from helpers import dead_url
from PIL import Image

from ledger.bootstrap import default_schemas
from ledger.ids import iso_time
from ledger.qr import compact_payload, full_payload, render_png

VERDICTS = {"VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INVALID", "UNKNOWN", "INCOMPLETE", "ERROR"}
CHECK_NAMES = ["integrity", "anchored", "issuer_authorized", "key_valid", "status", "validity_period", "recognition"]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


def assert_result(body: dict[str, Any], *, kind: str = "mirror") -> None:
    """The verification result (docs/verification.md), field by field."""
    assert set(body) >= {"verdict", "checks", "certificate", "verifier_region", "as_of", "source"}, body
    assert body["verdict"] in VERDICTS
    assert [c["name"] for c in body["checks"]] == CHECK_NAMES
    for c in body["checks"]:
        assert set(c) >= {"name", "ok", "detail"}
        assert c["ok"] in (True, False, None) and isinstance(c["detail"], str) and c["detail"]
    cert = body["certificate"]
    assert set(cert) >= {"hash", "type", "issuer_region", "agency", "batch_root", "anchored_at"}
    assert HEX32.match(cert["hash"])
    if cert["anchored_at"] is not None:
        assert set(cert["anchored_at"]) == {"block", "tx", "time"}
        assert ISO.match(cert["anchored_at"]["time"])
        if kind == "mirror":
            assert isinstance(cert["anchored_at"]["block"], int) and HEX32.match(cert["anchored_at"]["tx"])
    assert body["verifier_region"] is None or isinstance(body["verifier_region"], int)
    assert ISO.match(body["as_of"])
    src = body["source"]
    assert src["kind"] == kind and set(src) >= {"kind", "block", "lag_blocks"}
    if body["verdict"] != "ERROR":
        assert isinstance(src["block"], int) and isinstance(src["lag_blocks"], int)


def post_verify(client: TestClient, body: Any, **params: Any) -> Any:
    return client.post("/v1/verify", json=body, params=params)


def png_of(payload: str, tmp_path: Path) -> bytes:
    path = tmp_path / "qr.png"
    render_png(payload, path)
    return path.read_bytes()


def jpeg_of(png: bytes, quality: int = 80) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


# ---------------------------------------------------------------------- GET /v1/certificates/{hash}


def test_certificate_by_hash_valid(world: World, client: TestClient) -> None:
    doc = world.doc("id", 0)
    r = client.get(f"/v1/certificates/{doc['hash']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert_result(body)
    # every ledger check passed; a hash carries no validity dates: INCOMPLETE, never VALID
    assert body["verdict"] == "INCOMPLETE"
    cert = body["certificate"]
    assert cert == {
        **cert,
        "hash": doc["hash"],
        "type": "ID_CARD",
        "issuer_region": GD,
        "agency": "GD-PSB",
        "batch_root": doc["anchor"]["root"],
    }
    assert body["verifier_region"] is None
    assert {c["name"]: c["outcome"] for c in body["checks"]} == {
        "integrity": "SKIPPED",
        "anchored": "PASS",
        "issuer_authorized": "PASS",
        "key_valid": "PASS",
        "status": "PASS",
        "validity_period": "SKIPPED",
        "recognition": "SKIPPED",
    }
    assert {c["name"]: c["code"] for c in body["checks"] if c["outcome"] == "SKIPPED"} == {
        "integrity": "NO_DOCUMENT",
        "validity_period": "NO_DATES",
        "recognition": "NO_VERIFIER_REGION",
    }
    # naming the issuing agency gives the same answer; naming another one does not find it
    assert client.get(f"/v1/certificates/{doc['hash']}", params={"agency": "GD-PSB"}).json()["verdict"] == "INCOMPLETE"
    other = client.get(f"/v1/certificates/{doc['hash']}", params={"agency": "GD-AMR"}).json()
    assert other["verdict"] == "UNKNOWN" and failing(other)[0] == ("anchored", "NOT_ANCHORED")
    assert body["source"]["lag_blocks"] == 0 and body["source"]["block"] >= cert["anchored_at"]["block"]


def test_certificate_by_hash_accepts_upper_case_hex(world: World, client: TestClient) -> None:
    h = world.hash("id", 0)
    body = client.get(f"/v1/certificates/0x{h[2:].upper()}").json()
    assert body["verdict"] == "INCOMPLETE" and body["certificate"]["hash"] == h


@pytest.mark.parametrize(
    ("name", "i", "region", "verdict"),
    [
        ("biz", 0, ZJ, "INCOMPLETE"),
        ("biz", 0, BJ, "NOT_RECOGNIZED"),
        ("biz", 0, GD, "INCOMPLETE"),
        ("id", 1, ZJ, "REVOKED"),
        ("id", 2, ZJ, "SUSPENDED"),
        ("id", 3, ZJ, "INCOMPLETE"),
        ("batch_revoked", 2, None, "REVOKED"),
        ("batch_suspended", 0, None, "SUSPENDED"),
        ("cmp_late", 0, ZJ, "INVALID"),
        ("cmp_early", 0, ZJ, "INCOMPLETE"),
        ("expired", 0, ZJ, "INCOMPLETE"),
    ],
)
def test_certificate_by_hash_verdicts(
    world: World, client: TestClient, name: str, i: int, region: int | None, verdict: str
) -> None:
    params = {"verifier_region": str(region)} if region else {}
    body = client.get(f"/v1/certificates/{world.hash(name, i)}", params=params).json()
    assert_result(body)
    assert body["verdict"] == verdict, failing(body)
    assert body["verifier_region"] == region


def test_certificate_never_anchored_is_unknown(client: TestClient) -> None:
    r = client.get(
        f"/v1/certificates/0x{Account.create().key.hex().removeprefix('0x')}", params={"verifier_region": "330000"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["verdict"] == "UNKNOWN" and failing(body)[0] == ("anchored", "NOT_ANCHORED")
    assert body["certificate"]["anchored_at"] is None


def test_certificate_as_of(world: World, client: TestClient) -> None:
    h = world.hash("id", 1)
    before = world.times["issued"]
    iso = iso_time(before)
    for value in (str(before), iso):
        body = client.get(f"/v1/certificates/{h}", params={"as_of": value}).json()
        assert body["verdict"] == "INCOMPLETE", (value, failing(body))
        assert body["as_of"] == iso
    assert (
        client.get(f"/v1/certificates/{h}", params={"as_of": str(world.times["revoked"])}).json()["verdict"]
        == "REVOKED"
    )
    assert client.get(f"/v1/certificates/{h}").json()["verdict"] == "REVOKED"


def test_certificate_by_hash_with_source_chain_needs_the_document(world: World, client: TestClient) -> None:
    r = client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"source": "chain"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "NEEDS_DOCUMENT"
    assert "/v1/verify" in r.json()["error"]["message"]


def test_certificate_explicit_source_mirror(world: World, client: TestClient) -> None:
    body = client.get(f"/v1/certificates/{world.hash('id', 0)}", params={"source": "mirror"}).json()
    assert body["verdict"] == "INCOMPLETE" and body["source"]["kind"] == "mirror"


# ---------------------------------------------------------------------- POST /v1/verify: every input form


def _inputs(world: World, tmp_path: Path) -> dict[str, dict[str, Any]]:
    doc = world.doc("id", 0)
    cert = world.cert("id", 0)
    compact = compact_payload(cert.compute_hash(), "ID_CARD", GD, "GD-PSB")
    full = full_payload(cert)
    png = png_of(compact, tmp_path)
    return {
        "document": {"json": {"document": doc}},
        "bare-document": {"json": doc},
        "disclosed-document": {"json": {"document": cert.disclose(["name"]).to_json()}},
        "compact-payload": {"json": {"payload": compact}},
        "full-payload": {"json": {"payload": full}},
        "json-string-payload": {"json": compact},
        "payload-with-whitespace": {"json": {"payload": f"  {compact}\n"}},
        "qr-png": {"files": {"image": ("qr.png", png, "image/png")}},
        "qr-jpeg": {"files": {"image": ("qr.jpg", jpeg_of(png), "image/jpeg")}},
        "qr-png-full-payload": {"files": {"image": ("qr.png", png_of(full, tmp_path), "image/png")}},
        "json-with-charset": {
            "content": orjson.dumps({"document": doc}),
            "headers": {"content-type": "application/json; charset=utf-8"},
        },
    }


INPUT_KINDS = [
    "document",
    "bare-document",
    "disclosed-document",
    "compact-payload",
    "full-payload",
    "json-string-payload",
    "payload-with-whitespace",
    "qr-png",
    "qr-jpeg",
    "qr-png-full-payload",
    "json-with-charset",
]


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_verify_every_input_form(world: World, client: TestClient, tmp_path: Path, kind: str) -> None:
    request = _inputs(world, tmp_path)[kind]
    r = client.post("/v1/verify", params={"verifier_region": "330000"}, **request)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_result(body)
    by_hash_only = kind in ("compact-payload", "json-string-payload", "payload-with-whitespace", "qr-png", "qr-jpeg")
    assert body["verdict"] == ("INCOMPLETE" if by_hash_only else "VALID"), failing(body)
    assert body["verifier_region"] == ZJ
    assert body["certificate"]["hash"] == world.hash("id", 0)
    assert body["certificate"]["batch_root"] == world.doc("id", 0)["anchor"]["root"]
    integrity = next(c for c in body["checks"] if c["name"] == "integrity")
    assert integrity["ok"] is (None if by_hash_only else True)
    if kind == "disclosed-document":
        assert body["disclosed_fields"] == {"name": world.doc("id", 0)["fields"]["name"]}
        assert body["hidden_fields"] == sorted(set(world.doc("id", 0)["fields"]) - {"name"})
    elif not by_hash_only:
        assert body["disclosed_fields"] == world.doc("id", 0)["fields"] and body["hidden_fields"] == []


@pytest.mark.parametrize(
    ("name", "i", "region", "verdict", "check"),
    [
        ("id", 1, ZJ, "REVOKED", ("status", "REVOKED")),
        ("id", 2, ZJ, "SUSPENDED", ("status", "SUSPENDED")),
        ("batch_revoked", 1, ZJ, "REVOKED", ("status", "REVOKED")),
        ("biz", 0, BJ, "NOT_RECOGNIZED", ("recognition", "NO_RULE")),
        ("expired", 0, None, "EXPIRED", ("validity_period", "EXPIRED")),
        ("future", 0, None, "EXPIRED", ("validity_period", "NOT_YET_VALID")),
        ("cmp_late", 0, None, "INVALID", ("key_valid", "KEY_COMPROMISED")),
    ],
)
def test_verify_document_verdicts(
    world: World, client: TestClient, name: str, i: int, region: int | None, verdict: str, check: tuple[str, str]
) -> None:
    params = {"verifier_region": str(region)} if region else {}
    body = post_verify(client, {"document": world.doc(name, i)}, **params).json()
    assert_result(body)
    assert body["verdict"] == verdict
    assert failing(body)[0] == check


def test_verify_unknown_and_tampered_documents(world: World, client: TestClient) -> None:
    body = post_verify(client, {"document": unanchored_document(world.c)}).json()
    assert body["verdict"] == "UNKNOWN" and failing(body)[0] == ("anchored", "NOT_ANCHORED")
    doc = world.doc("id", 0)
    doc["fields"]["name"] = "冒名"
    body = post_verify(client, doc).json()
    assert body["verdict"] == "INVALID" and failing(body)[0] == ("integrity", "HASH_MISMATCH")


def test_verify_as_of(world: World, client: TestClient) -> None:
    doc = world.doc("id", 1)
    assert post_verify(client, {"document": doc}, as_of=str(world.times["issued"])).json()["verdict"] == "VALID"
    assert post_verify(client, {"document": doc}).json()["verdict"] == "REVOKED"
    before_anchoring = post_verify(client, {"document": world.doc("expired")}, as_of="2020-07-01T00:00:00Z").json()
    assert before_anchoring["verdict"] == "UNKNOWN"
    assert [c["code"] for c in before_anchoring["checks"] if c["ok"] is False] == ["NOT_YET_ANCHORED"]


# ---------------------------------------------------------------------- source=chain


def _chain_cases(world: World) -> dict[str, tuple[dict[str, Any], int | None]]:
    tampered = world.doc("id", 5)
    tampered["fields"]["sex"] = "F" if tampered["fields"]["sex"] == "M" else "M"
    return {
        "valid": (world.doc("id", 0), ZJ),
        "disclosed": (world.cert("id", 4).disclose(["sex"]).to_json(), ZJ),
        "reinstated": (world.doc("id", 3), None),
        "revoked": (world.doc("id", 1), None),
        "suspended": (world.doc("id", 2), ZJ),
        "batch-revoked": (world.doc("batch_revoked", 0), ZJ),
        "batch-suspended": (world.doc("batch_suspended", 1), None),
        "not-recognized": (world.doc("biz", 1), BJ),
        "recognized": (world.doc("biz", 1), ZJ),
        "tampered": (tampered, None),
        "forged": (forge_signature(world.doc("id", 0)), None),
        "compromised": (world.doc("cmp_late"), None),
        "unknown": (unanchored_document(world.c), None),
        "expired": (world.doc("expired"), None),
        "not-yet-valid": (world.doc("future"), ZJ),
    }


def test_source_chain_gives_the_same_verdicts_as_the_mirror(world: World, client: TestClient) -> None:
    for case, (doc, region) in _chain_cases(world).items():
        params = {"verifier_region": str(region)} if region else {}
        mirror = post_verify(client, {"document": doc}, **params).json()
        chain = post_verify(client, {"document": doc}, source="chain", **params).json()
        assert_result(mirror, kind="mirror")
        assert_result(chain, kind="chain")
        assert mirror["verdict"] == chain["verdict"], (case, failing(mirror), failing(chain))
        assert failing(mirror)[:1] == failing(chain)[:1], case
        assert chain["certificate"]["hash"] == mirror["certificate"]["hash"]


def test_source_chain_with_payloads(world: World, client: TestClient) -> None:
    cert = world.cert("id", 1)
    body = post_verify(client, {"payload": full_payload(cert)}, source="chain").json()
    assert body["verdict"] == "REVOKED" and body["source"]["kind"] == "chain"
    # A compact payload is a hash only: the chain cannot look it up, so it cannot decide
    # (ERROR today; 422 NEEDS_DOCUMENT, as GET by hash answers, would be as right).
    r = post_verify(client, {"payload": compact_payload(cert.compute_hash(), "ID_CARD", GD, "GD-PSB")}, source="chain")
    if r.status_code == 422:
        assert r.json()["error"]["code"] == "NEEDS_DOCUMENT"
    else:
        assert r.status_code == 200 and r.json()["verdict"] == "ERROR"


def test_source_chain_as_of_a_past_time_is_not_answered_with_the_current_status(
    world: World, client: TestClient
) -> None:
    """The chain only knows current statuses: asked about a time before the revocation, the
    answer must be the status then (VALID) or a refusal (422) — not today's REVOKED."""
    r = post_verify(client, {"document": world.doc("id", 1)}, source="chain", as_of=str(world.times["issued"]))
    if r.status_code == 422:
        assert r.json()["error"]["code"]
    else:
        assert r.json()["verdict"] in ("VALID", "ERROR"), failing(r.json())


# ---------------------------------------------------------------------- history


def test_history_lists_status_changes_oldest_first(world: World, client: TestClient) -> None:
    r = client.get(f"/v1/certificates/{world.hash('id', 3)}/history")
    assert r.status_code == 200
    body = r.json()
    assert body["hash"] == world.hash("id", 3)
    assert body["batch_root"] == world.doc("id", 3)["anchor"]["root"] and body["agency"] == "GD-PSB"
    events = body["events"]
    assert [(e["scope"], e["status"], e["reason"]) for e in events] == [
        ("certificate", "SUSPENDED", "UNDER_REVIEW"),
        ("certificate", "ACTIVE", "REVIEW_CLEARED"),
    ]
    assert events[0]["block"] < events[1]["block"]
    for e in events:
        assert e["subject"] == world.hash("id", 3)
        assert ISO.match(e["time"]) and HEX32.match(e["tx"])
        assert e["actor"].lower() == world.c.agency_keys["GD-PSB"].address.lower()


def test_history_of_revoked_certificate(world: World, client: TestClient) -> None:
    events = client.get(f"/v1/certificates/{world.hash('id', 1)}/history").json()["events"]
    assert [(e["scope"], e["status"], e["reason"]) for e in events] == [("certificate", "REVOKED", "HOLDER_REQUEST")]


def test_history_includes_batch_level_changes(world: World, client: TestClient) -> None:
    body = client.get(f"/v1/certificates/{world.hash('batch_revoked', 2)}/history").json()
    assert [(e["scope"], e["status"], e["subject"]) for e in body["events"]] == [
        ("batch", "REVOKED", world.doc("batch_revoked", 2)["anchor"]["root"])
    ]
    assert body["events"][0]["actor"].lower() == world.c.admins[GD].address.lower()


def test_history_of_untouched_certificate_is_empty(world: World, client: TestClient) -> None:
    body = client.get(f"/v1/certificates/{world.hash('id', 0)}/history").json()
    assert body["events"] == []


def test_history_of_unknown_certificate_is_404(client: TestClient) -> None:
    r = client.get(f"/v1/certificates/0x{'ab' * 32}/history")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------------- batches


def test_batch(world: World, client: TestClient) -> None:
    root = world.doc("id", 0)["anchor"]["root"]
    r = client.get(f"/v1/batches/{root}")
    assert r.status_code == 200
    body = r.json()
    assert body["root"] == root
    assert (body["agency"], body["type"], body["issuer_region"], body["size"], body["status"]) == (
        "GD-PSB",
        "ID_CARD",
        GD,
        6,
        "ACTIVE",
    )
    assert body["key"].lower() == world.c.agency_keys["GD-PSB"].address.lower()
    assert isinstance(body["anchored_at"]["block"], int) and HEX32.match(body["anchored_at"]["tx"])
    assert ISO.match(body["anchored_at"]["time"])
    # the certificate's own view names the same batch and block
    cert = client.get(f"/v1/certificates/{world.hash('id', 0)}").json()["certificate"]
    assert cert["anchored_at"] == body["anchored_at"]


def test_batch_root_upper_case_is_normalised(world: World, client: TestClient) -> None:
    root = world.doc("biz", 0)["anchor"]["root"]
    body = client.get(f"/v1/batches/0x{root[2:].upper()}").json()
    assert body["root"] == root and body["type"] == "BUSINESS_LICENSE"


def test_batch_statuses(world: World, client: TestClient) -> None:
    assert client.get(f"/v1/batches/{world.doc('batch_revoked')['anchor']['root']}").json()["status"] == "REVOKED"
    assert client.get(f"/v1/batches/{world.doc('batch_suspended')['anchor']['root']}").json()["status"] == "SUSPENDED"
    # a single certificate's revocation does not change its batch
    assert client.get(f"/v1/batches/{world.doc('id', 1)['anchor']['root']}").json()["status"] == "ACTIVE"


def test_unknown_batch_is_404(client: TestClient) -> None:
    r = client.get(f"/v1/batches/0x{'cd' * 32}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND" and r.json()["error"]["message"]


def test_malformed_batch_root_is_422(client: TestClient) -> None:
    r = client.get("/v1/batches/0x1234")
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_HASH"


# ---------------------------------------------------------------------- registers


def test_regions(world: World, client: TestClient) -> None:
    body = client.get("/v1/regions").json()
    assert body["quorum"] == 2 and body["members"] == 3 and body["quorum_rule"] == "1/2"
    by_code = {r["region"]: r for r in body["regions"]}
    assert set(by_code) == {GD, ZJ, BJ}
    for code, info in by_code.items():
        assert info["member"] is True and ISO.match(info["admitted_at"])
        assert [a.lower() for a in info["admins"]] == [world.c.admins[code].address.lower()]


def test_agencies(world: World, client: TestClient) -> None:
    body = client.get("/v1/agencies").json()
    by_code = {a["agency"]: a for a in body}
    assert set(by_code) == {"GD-PSB", "GD-AMR", "GD-CMP", "ZJ-EDU"}
    assert by_code["GD-PSB"]["region"] == GD and by_code["GD-PSB"]["types"] == ["ID_CARD"]
    assert by_code["ZJ-EDU"]["region"] == ZJ and by_code["ZJ-EDU"]["types"] == ["DEGREE"]
    assert by_code["GD-AMR"]["suspended"] is False
    (key,) = by_code["GD-PSB"]["keys"]
    assert key["address"].lower() == world.c.agency_keys["GD-PSB"].address.lower() and key["state"] == "ACTIVE"
    (cmp_key,) = by_code["GD-CMP"]["keys"]
    assert cmp_key["state"] == "COMPROMISED" and ISO.match(cmp_key["compromised_since"])


def test_types(client: TestClient) -> None:
    body = client.get("/v1/types").json()
    by_code = {t["type"]: t for t in body}
    assert set(by_code) == {"ID_CARD", "BUSINESS_LICENSE", "DEGREE"}
    schemas = default_schemas()
    for code, t in by_code.items():
        assert [f["name"] for f in t["schema"]["fields"]] == [f["name"] for f in schemas[code]["fields"]]
        assert HEX32.match(t["schema_hash"])


def test_recognitions(client: TestClient) -> None:
    body = client.get("/v1/recognitions").json()
    got = {(r["verifier_region"], r["type"], r["issuer_region"]) for r in body}
    assert got == {(v, t, i or None) for v, t, i in RULES}
    # open windows are null, never a word in place of a time
    assert all(r["valid_from"] is None and r["valid_until"] is None for r in body)


# ---------------------------------------------------------------------- healthz


def test_healthz_in_step(world: World, client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["chain_head"] == world.chain.block_number()
    assert body["mirror_block"] == body["chain_head"] and body["lag_blocks"] == 0
    assert body["chain_id"] == world.deployment.chain_id and body["detail"]


def test_healthz_with_the_node_down_is_503(world: World) -> None:
    world.sync()
    with checked_client(world.app("sqlite", rpc_url=dead_url())) as c:
        r = c.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] in ("degraded", "down") and body["chain_head"] is None
        assert body["mirror_block"] is not None and "node" in body["detail"]
        # verification through the mirror still answers; through the chain it is ERROR, not a verdict
        assert c.get(f"/v1/certificates/{world.hash('id', 1)}").json()["verdict"] == "REVOKED"
        chain = c.post("/v1/verify", params={"source": "chain"}, json={"document": world.doc("id", 1)}).json()
        assert chain["verdict"] == "ERROR" and chain["source"]["kind"] == "chain"


def test_healthz_with_the_mirror_unreachable_is_503(world: World) -> None:
    app = world.app("sqlite", db_url="postgresql+psycopg://postgres@127.0.0.1:1/certledger_none")
    with checked_client(app, raise_server_exceptions=False) as c:
        r = c.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "down" and body["mirror_block"] is None and body["chain_head"] is not None
        v = c.get(f"/v1/certificates/{world.hash('id', 1)}")
        assert v.status_code in (200, 503)
        if v.status_code == 200:
            assert v.json()["verdict"] == "ERROR"
        else:
            assert v.json()["error"]["code"]
        r = c.post("/v1/verify", json={"document": world.doc("id", 1)})
        assert r.status_code in (200, 503)
        assert r.status_code == 503 or r.json()["verdict"] == "ERROR"


# ---------------------------------------------------------------------- metrics


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics(world: World, client: TestClient) -> None:
    before = client.get("/metrics").text
    client.get(f"/v1/certificates/{world.hash('id', 0)}")
    client.get(f"/v1/certificates/{world.hash('id', 1)}")
    post_verify(client, {"document": world.doc("id", 1)})
    post_verify(client, {"document": world.doc("expired")})
    post_verify(client, {"document": world.doc("id", 0)}, source="chain")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE certledger_verifications_total counter" in text
    assert "# TYPE certledger_http_request_duration_seconds histogram" in text

    def delta(**labels: str) -> float:
        return _metric(text, "certledger_verifications_total", **labels) - _metric(
            before, "certledger_verifications_total", **labels
        )

    assert delta(verdict="INCOMPLETE", source="mirror") == 1
    assert delta(verdict="REVOKED", source="mirror") == 2
    assert delta(verdict="EXPIRED") == 1
    assert delta(verdict="VALID", source="chain") == 1
    assert delta(kind="document") == 3 and delta(kind="hash") == 2
    count = _metric(
        text, "certledger_http_request_duration_seconds_count", route="/v1/certificates/{cert_hash}", status="200"
    )
    assert count >= 2
    assert _metric(text, "certledger_http_request_duration_seconds_bucket", route="/v1/verify", le="+Inf") >= 3


def test_metrics_label_routes_not_raw_paths(client: TestClient) -> None:
    """Latency series are labelled by route template: random hashes must not create series."""
    for _ in range(3):
        client.get(f"/v1/certificates/0x{Account.create().key.hex().removeprefix('0x')}")
    client.get("/no/such/path/" + "x" * 20)
    text = client.get("/metrics").text
    assert not re.search(r'route="/v1/certificates/0x', text)
    assert "/no/such/path" not in text


# ---------------------------------------------------------------------- web page and OpenAPI


def test_web_page(client: TestClient) -> None:
    r = client.get("/verify")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"].endswith("/verify")


def test_openapi_and_docs(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/certificates/{cert_hash}", "get"),
        ("/v1/certificates/{cert_hash}/history", "get"),
        ("/v1/verify", "post"),
        ("/v1/regions", "get"),
        ("/v1/agencies", "get"),
        ("/v1/types", "get"),
        ("/v1/recognitions", "get"),
        ("/v1/batches/{root}", "get"),
        ("/healthz", "get"),
    ]:
        assert method in paths.get(path, {}), path
    verify = paths["/v1/verify"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(verify["requestBody"]["content"])
    params = {p["name"] for p in verify["parameters"]}
    assert {"verifier_region", "as_of", "source"} <= params
    result = spec["components"]["schemas"]["VerificationModel"]["properties"]
    assert {"verdict", "checks", "certificate", "verifier_region", "as_of", "source"} <= set(result)


def test_answers_are_held_to_their_published_models(world: World, client: TestClient) -> None:
    """The routes answer JSON they build (FastAPI validates nothing returned as a Response), so
    every test client holds each 200 answer to the route's published model: exact, both ways."""
    from fastapi import FastAPI

    from api.errors import json_response
    from api.models import VerificationModel

    body = client.get(f"/v1/certificates/{world.hash('id', 0)}").json()
    assert conforms(VerificationModel, body)
    assert not conforms(VerificationModel, {**body, "unpublished": 1})
    assert not conforms(VerificationModel, {k: v for k, v in body.items() if k != "source"})
    assert not conforms(VerificationModel, {**body, "verifier_region": "330000"})
    assert not conforms(VerificationModel, {**body, "checks": [{**body["checks"][0], "outcome": "MAYBE"}]})

    assert published_model(client.app, "GET", f"/v1/certificates/{world.hash('id', 0)}") is VerificationModel
    assert published_model(client.app, "POST", "/v1/verify") is VerificationModel
    drifted = FastAPI()

    @drifted.get("/answer", response_model=VerificationModel)
    async def answer() -> Any:
        return json_response({**body, "unpublished": 1})

    with checked_client(drifted) as c, pytest.raises(AssertionError, match="not a VerificationModel"):
        c.get("/answer")


def test_the_world_runs_in_each_suite(world: World, client: TestClient) -> None:
    """Every test of the world runs in both suites: here is what differs between them."""
    doc = world.doc("id", 0)
    body = post_verify(client, {"document": doc}, verifier_region="330000").json()
    assert body["verdict"] == "VALID", failing(body)
    key = next(c for c in body["checks"] if c["name"] == "key_valid")
    if world.deployment.suite == "sm":
        assert (doc["format"], doc["suite"]) == ("certledger/2", "sm")
        assert len(bytes.fromhex(doc["anchor"]["sm2Signature"][2:])) == 64 and "SM2" in key["detail"]
        assert doc["identifier"].split(".")[6] == world.registry.credit_code("GD-PSB")
        assert body["certificate"]["identifier"] == doc["identifier"]
    else:
        assert doc.get("suite", "intl") == "intl" and "sm2Signature" not in doc["anchor"]
        assert "identifier" not in doc and "SM2" not in key["detail"]
