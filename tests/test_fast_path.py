"""GET /v1/certificates/{hash}, and POST /v1/verify with a JSON body and no API key, are
answered past FastAPI's routing and parameter machinery when the request is well formed
(``api.middleware.FastPaths``), by the functions the routes call. Here both paths answer the
same requests — good and bad, every parameter, body and header — alike: the same status,
headers that matter, body (but the time it was asked) and latency label."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from api_helpers import World, checked_client

from ledger import qr

GOOD = "0x" + "ab" * 32


def _requests(world: World) -> list[str]:
    h = world.hash("id", 0)
    return [
        f"/v1/certificates/{h}",
        f"/v1/certificates/{h.upper().replace('0X', '0x')}",
        f"/v1/certificates/{h}?verifier_region=330000",
        f"/v1/certificates/{h}?verifier_region=110000&agency=GD-PSB",
        f"/v1/certificates/{world.hash('id', 1)}?agency=GD-PSB",  # revoked
        f"/v1/certificates/{world.hash('cmp_late', 0)}",
        f"/v1/certificates/{GOOD}",  # never anchored
        f"/v1/certificates/{h}?agency=ZJ-EDU",  # not by that agency
        f"/v1/certificates/{h}?as_of=2020-01-01",
        f"/v1/certificates/{h}?as_of=2099-01-01",  # in the future: refused by the parser
        f"/v1/certificates/{h}?as_of=1700000000",
        f"/v1/certificates/{h}?source=chain",
        f"/v1/certificates/{h}?source=chain&as_of=2020-01-01",
        f"/v1/certificates/{h}?source=mirror&unknown=1",
        f"/v1/certificates/{h}?agency=GD-PSB&agency=ZJ-EDU",  # repeated: the last one counts, both ways
        f"/v1/certificates/{h}?verifier_region=",
        f"/v1/certificates/{h}?verifier_region=33%30000&as_of=2020-01-01T00%3A00%3A00Z",  # percent-encoded
        f"/v1/certificates/{h}?agency=GD+PSB",  # a plus is a space: breaks the pattern both ways
        f"/v1/certificates/{h}?agency=%E4%B8%AD&source",  # not ASCII; a name without a value
        # breaking a published pattern: the application refuses them, as before
        f"/v1/certificates/{h}?verifier_region=44000",
        f"/v1/certificates/{h}?verifier_region=440000%0A",
        f"/v1/certificates/{h}?agency=not%20valid",
        f"/v1/certificates/{h}?as_of=yesterday",
        f"/v1/certificates/{h}?source=both",
        f"/v1/certificates/{h}?source=",
        f"/v1/certificates/{h[:-1]}",
        "/v1/certificates/by-identifier",
        f"/v1/certificates/{h}/",
        f"/v1/certificates/{h}/history",
    ]


def _comparable(r: Any) -> tuple[int, str | None, Any]:
    body = r.json()
    if isinstance(body, dict):
        body.pop("as_of", None)  # the time of asking
    return r.status_code, r.headers.get("content-type"), body


@pytest.fixture
def both(world: World) -> Any:
    world.sync()
    with checked_client(world.app("sqlite")) as fast, checked_client(world.app("sqlite", fast_paths=False)) as plain:
        yield fast, plain


def test_the_fast_path_answers_exactly_as_the_route(world: World, both: Any) -> None:
    fast, plain = both
    for url in _requests(world):
        a, b = fast.get(url), plain.get(url)
        assert _comparable(a) == _comparable(b), url
        assert a.headers.get("x-content-type-options") == b.headers.get("x-content-type-options") == "nosniff", url


def test_the_fast_path_keeps_the_latency_label_of_the_route(world: World, both: Any) -> None:
    fast, _ = both
    fast.get(f"/v1/certificates/{world.hash('id', 0)}")
    metrics = fast.get("/metrics").text
    assert 'route="/v1/certificates/{cert_hash}"' in metrics
    assert world.hash("id", 0) not in metrics  # never the raw path


def test_a_failing_mirror_answers_503_on_the_fast_path_too(world: World) -> None:
    app = world.app("sqlite")
    with checked_client(app) as client:
        app.state.ledger.queries.read.close()  # the readers' pool goes away under the route

        def broken(*_: Any, **__: Any) -> Any:
            raise OSError("database is gone")

        app.state.ledger.queries.lookup = broken  # type: ignore[method-assign]
        r = client.get(f"/v1/certificates/{world.hash('id', 0)}")
        assert r.status_code in (200, 503)
        if r.status_code == 200:  # the engine reports an unreachable source as ERROR, never a verdict
            assert r.json()["verdict"] == "ERROR"
        else:
            assert r.json()["error"]["code"] == "UNAVAILABLE"


def test_well_formed_requests_take_the_fast_path_and_the_rest_the_route(
    world: World, both: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.routes.certificates as route_module

    calls: list[str] = []
    original = route_module.answer_by_hash

    def counted(*args: Any) -> Any:  # the route looks its helper up by name; the fast path holds its own
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(route_module, "answer_by_hash", counted)
    fast, plain = both
    h = world.hash("id", 0)
    fast.get(f"/v1/certificates/{h}?verifier_region=330000")
    assert calls == []  # past FastAPI
    fast.get(f"/v1/certificates/{h}?verifier_region=44000")
    assert calls == []  # refused by the application's parameter check, before the route's body
    plain.get(f"/v1/certificates/{h}?verifier_region=330000")
    assert calls == [h]


def _posts(world: World) -> list[tuple[str, Any, bytes]]:
    """(query, headers, body) of POST /v1/verify requests, good and bad."""
    doc = world.doc("id", 0)
    tampered = world.doc("id", 0)
    tampered["fields"]["name"] = "Someone Else"
    forged = world.doc("id", 0)
    forged["anchor"]["signature"] = "0x" + "11" * 65
    cert = world.cert("id", 0)
    compact, full = qr.compact_for(cert), qr.full_payload(cert)
    js = {"content-type": "application/json"}

    def body(value: Any) -> bytes:
        return orjson.dumps(value)

    return [
        ("", js, body({"document": doc})),
        ("verifier_region=330000", js, body({"document": doc})),
        ("verifier_region=440000&as_of=2020-01-01", js, body({"document": doc})),
        ("", {"content-type": "application/json; charset=utf-8"}, body(doc)),  # a bare document
        ("", js, body({"document": world.doc("id", 1)})),  # revoked
        ("", js, body({"document": world.doc("expired")})),
        ("", js, body({"document": world.doc("cmp_late")})),
        ("", js, body({"document": tampered})),
        ("", js, body({"document": forged})),
        ("", js, body({"payload": compact})),
        ("verifier_region=330000", js, body({"payload": full})),
        ("", js, body(compact)),  # a bare payload string
        ("source=chain", js, body({"document": doc})),
        ("source=chain&as_of=2020-01-01", js, body({"document": doc})),
        ("source=mirror&unknown=1", js, body({"document": doc})),
        ("verifier_region=110000&verifier_region=330000", js, body({"document": doc})),  # the last one counts
        ("", js, body({"payload": "CLP1:NOTAPRESENTATION"})),  # a presentation: verifiers with a key only
        ("", js, body({"payload": "CLC3:%%%"})),
        ("", js, body({"payload": "x" * 9000})),
        ("", js, b"{"),
        ("", js, b"[]"),
        ("", js, body({})),
        ("", js, body({"document": 5})),
        ("", js, body({"payload": 5})),
        ("", js, body({"payload": compact, "document": doc})),
        ("", js, body({"document": {**doc, "format": "nope"}})),
        ("", js, body({"document": {k: v for k, v in doc.items() if k != "fields"}})),
        ("", js, b"x" * 70_000),  # over the body limit
        # breaking a published pattern, another content type, an API key: the application's
        ("verifier_region=44000", js, body({"document": doc})),
        ("as_of=yesterday", js, body({"document": doc})),
        ("source=both", js, body({"document": doc})),
        ("", {"content-type": "text/plain"}, body({"document": doc})),
        ("", {}, body({"document": doc})),
        ("", {**js, "authorization": "Bearer clv_not-a-key"}, body({"document": doc})),
        ("", {**js, "x-api-key": "clv_not-a-key"}, body({"document": doc})),
        # a header sent twice is judged by its first value, as the application reads it
        ("", [("content-type", "application/json"), ("content-type", "text/plain")], body({"document": doc})),
        ("", [("content-type", "text/plain"), ("content-type", "application/json")], body({"document": doc})),
    ]


def test_the_fast_path_verifies_exactly_as_the_route(world: World, both: Any) -> None:
    fast, plain = both
    for query, headers, content in _posts(world):
        url = "/v1/verify" + (f"?{query}" if query else "")
        a = fast.post(url, headers=headers, content=content)
        b = plain.post(url, headers=headers, content=content)
        assert _comparable(a) == _comparable(b), (query, headers, content[:80])
        assert a.headers.get("retry-after") == b.headers.get("retry-after")


def test_anonymous_json_verifications_take_the_fast_path_and_the_rest_the_route(
    world: World, both: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.routes.verify as route_module

    calls: list[str] = []
    original = route_module.answer_verify

    async def counted(*args: Any) -> Any:  # the route looks its helper up by name; the fast path holds its own
        calls.append(args[3] or "mirror")
        return await original(*args)

    monkeypatch.setattr(route_module, "answer_verify", counted)
    fast, plain = both
    document = {"document": world.doc("id", 0)}
    r = fast.post("/v1/verify", params={"verifier_region": "330000"}, json=document)
    assert r.status_code == 200 and r.json()["verdict"] == "VALID" and calls == []  # past FastAPI
    fast.post("/v1/verify", params={"verifier_region": "44000"}, json=document)
    assert calls == []  # refused by the application's parameter check, before the route's body
    r = fast.post("/v1/verify", json=document, headers={"authorization": "Bearer clv_nobody"})
    assert r.status_code == 401 and calls == []  # the route's: the key is refused before its body runs
    plain.post("/v1/verify", json=document)
    assert calls == ["mirror"]
    metrics = fast.get("/metrics").text
    assert 'route="/v1/verify"' in metrics and "unmatched" not in metrics
