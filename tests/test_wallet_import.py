"""The wallet imports documents by retrieval code (docs/content.md, "The wallet imports by
code"), in real headless Chromium against a real chain and the real API: a document issued
through the real pipeline and published sealed (ledger.content.publish_document) into the API's
embedded store; the citizen pastes its CLR1: code into /wallet; the page asks GET
/v1/content/{cid} (the CID only, never the key), recomputes the CID, opens the seal (AES-256-GCM
by WebCrypto, SM4-GCM in JavaScript) and adds the certificate as a file would be: listed,
presentable, and VALID when the API verifies the document the wallet kept. A wrong key, content
altered on disk (the API refuses it) or altered on the way (the page's own CID check), unknown
content, malformed codes and codes of large content import nothing and say why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from test_wallet import issued, listed, open_wallet, present, shoot, shown_payload, stub  # noqa: F401

from ledger.content import Cid, EmbeddedStore, RetrievalCode, publish_document
from ledger.presentation import decode

STORED_DOC_JS = """
async (hash) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("certledger-wallet"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  const rec = await new Promise((ok, no) => { const q = db.transaction("certificates").objectStore("certificates").get(hash); q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error); });
  db.close();
  return rec ? rec.document : null;
}
"""


@pytest.fixture
def api(issued: tuple, tmp_path: Path) -> Iterator[tuple]:  # noqa: F811
    """(client, store, consortium, documents, mirror): the real API on the issued deployment, its
    embedded content store in tmp_path/content."""
    from api_helpers import checked_client, save_deployment

    from api.app import ApiSettings, create_app

    c, docs, mirror = issued
    mirror.sync()
    home = tmp_path / "home"
    save_deployment(c, home)
    store = EmbeddedStore(tmp_path / "content")
    settings = ApiSettings(
        home=home, deployment=home / "deployment.json", rpc_url=c.chain.url, db_url=mirror.url, content_dir=store.root
    )
    with checked_client(create_app(settings)) as client:
        yield client, store, c, docs, mirror


def through_the_api(page, client) -> list[str]:
    """Answer the page's GET /v1/content/... with the real API; the paths it asked."""
    asked: list[str] = []

    def answer(route) -> None:
        url = urlsplit(route.request.url)
        asked.append(url.path + (f"?{url.query}" if url.query else ""))
        r = client.get(url.path)
        headers = {k: v for k, v in r.headers.items() if k in ("cache-control", "etag")}
        route.fulfill(status=r.status_code, content_type=r.headers["content-type"], body=r.content, headers=headers)

    page.route("**/v1/content/**", answer)
    return asked


def paste(page, code: str) -> None:
    page.fill("[data-testid=code-input]", code)
    page.click("[data-testid=code-import]")


def refused(page, words: str) -> str:
    page.wait_for_selector(f"[data-testid=code-status].status-error:has-text('{words}')")
    return page.inner_text("[data-testid=code-status]")


def document_bytes(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()  # as certledger issue writes a file


def test_a_published_document_is_imported_by_its_code_and_verifies(open_wallet, api: tuple) -> None:  # noqa: F811
    client, store, c, docs, mirror = api
    suite = c.deployment.suite
    code = publish_document(store, document_bytes(docs[0]), suite)
    page = open_wallet(width=1100, height=900)
    asked = through_the_api(page, client)
    paste(page, f"  {code}\n")  # as pasted from a message: surrounding white space is fine
    page.wait_for_selector("[data-testid=cert]")
    assert page.inner_text("[data-testid=code-status]") == "已添加：居民身份证（GD-PSB）。"
    assert page.input_value("[data-testid=code-input]") == ""
    shoot(page, f"wallet-import-code-{suite}-zh.png")
    (item,) = listed(page)
    assert item["hash"] == docs[0]["hash"] and item["suite"] == suite and item["presentable"]
    # only the CID left the page: never the key
    assert asked == [f"/v1/content/{code.cid}"]
    assert code.key.hex() not in asked[0] and str(code)[5:] not in asked[0]
    # the wallet kept the issued document itself: the API verifies it VALID
    stored = page.evaluate(STORED_DOC_JS, docs[0]["hash"])
    assert stored == docs[0]
    mirror.sync()  # a slow browser run must not leave the mirror stale (ERROR)
    body = client.post("/v1/verify", json={"document": stored}).json()
    assert body["verdict"] == "VALID", body
    # the same code again: already there; and it presents as any certificate does
    paste(page, str(code))
    page.wait_for_selector("[data-testid=code-status]:has-text('已在证书夹中')")
    assert len(listed(page)) == 1
    present(page, docs[0]["hash"], ["name"], "GOVERNMENT_SERVICE")
    assert decode(shown_payload(page)).cert_hash.hex() == docs[0]["hash"][2:]
    assert not page.problems, page.problems


def test_a_wrong_key_altered_content_or_a_bad_code_imports_nothing(open_wallet, api: tuple) -> None:  # noqa: F811
    client, store, c, docs, _ = api
    suite = c.deployment.suite
    code = publish_document(store, document_bytes(docs[0]), suite)
    page = open_wallet("/wallet?lang=en", locale="en")
    asked = through_the_api(page, client)

    # a key that is not the document's: the seal does not open
    key = bytearray(code.key)
    key[3] ^= 0x20
    paste(page, str(RetrievalCode(code.cid, bytes(key), suite)))
    refused(page, "does not open")
    # the code names the other suite (its key length then fits that suite only if edited too)
    other = "sm" if suite == "intl" else "intl"
    paste(page, str(RetrievalCode(code.cid, bytes(16 if other == "sm" else 32), other)))
    refused(page, "does not open")

    # unknown content; content altered on the server's disk: the API refuses to serve it
    paste(page, str(RetrievalCode(Cid.of_block(0x55, b"nothing"), code.key, suite)))
    refused(page, "No certificate was found")
    path = store.block_path(code.cid)
    good = path.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    path.write_bytes(bytes(bad))
    paste(page, str(code))
    assert "does not match the code" in refused(page, "altered or damaged")
    assert client.get(f"/v1/content/{code.cid}").status_code == 503
    path.write_bytes(good)

    # altered on the way (a server or proxy that lies): the page's own CID check refuses it
    page.unroute("**/v1/content/**")
    page.route(
        "**/v1/content/**",
        lambda route: route.fulfill(status=200, content_type="application/octet-stream", body=bytes(bad)),
    )
    paste(page, str(code))
    refused(page, "does not match the code")
    if suite == "intl":
        shoot(page, "wallet-import-code-refused-en.png", ".wallet-side")

    # codes that are wrong in themselves: said before anything is fetched
    n = len(asked)
    text = str(code)
    for typed, words in [
        ("CLP1:" + text[5:], "not a retrieval code"),
        (text[:40] + "1" + text[41:], "invalid character “1”"),
        (text[:70], "wrong length"),  # 65 characters of base32: one too many or too few
        (text[:29], "incomplete or wrong"),  # the key cut short
        (str(RetrievalCode(Cid(0x70, bytes(32)), code.key, suite)), "larger than 256 KiB"),
        ("   ", "Enter or paste"),
    ]:
        paste(page, typed)
        refused(page, words)
    assert len(asked) == n  # nothing was asked for them
    expect(page.locator("[data-testid=cert]")).to_have_count(0)
    assert page.is_visible("[data-testid=list-empty]")

    # the right code, the content as stored: it imports
    page.unroute("**/v1/content/**")
    through_the_api(page, client)
    paste(page, text.lower())  # lower case is accepted
    page.wait_for_selector("[data-testid=cert]")
    assert listed(page)[0]["hash"] == docs[0]["hash"]
    assert page.inner_text("[data-testid=code-status]").startswith("Added:")
    # the browser logs the refusals it was answered (404, 503), and nothing else went wrong
    expected = ("status of 404 (Not Found)", "status of 503 (Service Unavailable)")
    assert [p for p in page.problems if not p.endswith(expected)] == [], page.problems
