"""What an anonymous caller (no API key) learns, exactly — and that it gets no more.

- By hash, by identifier, a hash's history, a batch: the ledger's record — verdict and checks,
  type, issuing agency and region, batch root, anchoring time, statuses. Never a holder field.
- By document or full QR: the same verdict about what it sent; the fields in the answer are the
  ones it sent (nothing hidden is revealed, nothing of any other certificate).
- The registers (regions, agencies, types, rules), /healthz, /metrics: public governance and
  operations data, no holder field.
- A citizen's presentation: refused (401) — it is for registered verifiers, and leaves a receipt.
- Receipts: only by the tags the holder's own presentations made; there is no listing.
"""

from __future__ import annotations

from api_helpers import World
from fastapi.testclient import TestClient


def _holder_values(world: World, public: str = "") -> set[str]:
    """Every holder field value of every certificate of the world that could identify someone
    (what must never leak): not a value the types' schemas list (an enumeration such as
    MASTER), not a short number (a height, a count)."""
    values = {str(v) for docs in world.docs.values() for d in docs for v in d["fields"].values()}
    return {v for v in values if v not in public and not (v.isdigit() and len(v) < 8) and len(v) >= 2}


def test_an_anonymous_caller_learns_no_holder_field_from_any_lookup(world: World, client: TestClient) -> None:
    secrets = _holder_values(world, client.get("/v1/types").text)
    assert len(secrets) > 20  # names, citizen numbers, addresses, dates of birth ...
    answers = []
    for name, docs in world.docs.items():
        for i, d in enumerate(docs):
            answers.append(client.get(f"/v1/certificates/{world.hash(name, i)}"))
            answers.append(
                client.get(f"/v1/certificates/{world.hash(name, i)}/history", params={"agency": d["issuer"]["agency"]})
            )
            if d.get("identifier"):
                answers.append(client.get(f"/v1/certificates/by-identifier/{d['identifier']}"))
        answers.append(client.get(f"/v1/batches/{world.docs[name][0]['anchor']['root']}"))
    for path in ("/v1/regions", "/v1/agencies", "/v1/types", "/v1/recognitions", "/healthz", "/metrics"):
        answers.append(client.get(path))
    assert all(a.status_code in (200, 404, 409) for a in answers), [a.text for a in answers if a.status_code >= 500]
    leaked = {s for a in answers for s in secrets if s in a.text}
    assert not leaked, leaked


def test_a_posted_document_is_answered_with_what_was_sent_and_nothing_more(world: World, client: TestClient) -> None:
    doc = world.doc("id", 0)
    shown = {"name": doc["fields"]["name"]}
    from ledger.document import Certificate

    disclosed = Certificate.from_json(doc)[0].disclose(["name"]).to_json(bytes.fromhex(doc["hash"][2:]))
    r = client.post("/v1/verify", json={"document": disclosed})
    body = r.json()
    assert r.status_code == 200 and body["disclosed_fields"] == shown
    others = _holder_values(world, client.get("/v1/types").text) - set(shown.values())
    assert not {s for s in others if s in r.text}


def test_an_anonymous_presentation_is_refused_and_leaves_no_receipt(world: World, client: TestClient) -> None:
    from ledger.presentation import HolderKey, decode

    payload = HolderKey().present(world.cert("id", 0), ["name"], purpose="OTHER")
    r = client.post("/v1/verify", json={"payload": payload})
    assert r.status_code == 401 and r.json()["error"]["code"] == "NOT_AUTHORIZED"
    assert world.doc("id", 0)["fields"]["name"] not in r.text
    tag = decode(payload).receipt_tag
    assert tag is not None
    assert client.get("/v1/receipts", params={"tag": "0x" + tag.hex()}).json() == {"receipts": []}
