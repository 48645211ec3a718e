"""GET /v1/certificates/{hash} is answered past FastAPI's routing and parameter machinery when
the request is well formed (``api.middleware.HashLookups``), by the function the route calls.
Here both paths answer the same requests — good and bad, every parameter — alike: the same
status, headers that matter, body (but the time it was asked) and latency label."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import World, checked_client

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
    with checked_client(world.app("sqlite")) as fast, checked_client(world.app("sqlite", fast_lookups=False)) as plain:
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
