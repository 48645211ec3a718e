"""The citizen's wallet /wallet (docs/presentations.md) in real headless Chromium (Debian's,
driven by Playwright's sync API) against tests/web/stub_server.py, and the /verify page showing a
presentation's result.

Covers the device key (ECDSA P-256 made by WebCrypto, non-extractable, kept in IndexedDB, one per
browser profile), importing, listing and deleting certificate files (certledger/2 in both suites,
certledger/1 kept but not presentable, damaged files refused), the binding request (text, file,
QR code), and presentations: the QR code the page draws decodes (zxing) to a CLP1: payload that
ledger.presentation decodes, whose signature verifies, which shows exactly the chosen fields and
whose hidden hashes (SHA-256, or SM3 computed in the browser) recompute the certificate hash; it
expires with a visible countdown and is replaced by a fresh one (Playwright's clock). Also the
browser's SM3 against Python's, the route and its page headers, every language (right-to-left
Uyghur), and screenshots (docs/screenshots/wallet-*.png with CERTLEDGER_UPDATE_SCREENSHOTS=1).

Receipts (docs/presentations.md §6): every presentation's receipt tag is kept with its certificate
(the last 500); the Receipts panel asks GET /v1/receipts with those tags only (100 a request),
lists them newest first, and says "anchored in block N" only once the browser has checked the
receipt's Merkle proof (keccak-256 and CBOR in the browser, compared with Python's) against its
batch root; an altered receipt is shown as not matching. End to end on a real chain in both suites.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import HOLD_LANGUAGE_FILES, ROOT, free_port, wait_until
from playwright.sync_api import expect

from ledger.document import Certificate, new_salts
from ledger.presentation import DEFAULT_LIFETIME, decode, receipt_key, receipt_tag
from ledger.qr import read_image

SHOTS = ROOT / ("docs" if os.environ.get("CERTLEDGER_UPDATE_SCREENSHOTS") == "1" else ".artifacts") / "screenshots"
LANGS = ["zh-CN", "en", "ug", "bo", "mn-Mong", "ko", "za"]
FIELDS = {
    "name": "张三",
    "sex": "M",
    "ethnicity": "汉",
    "birthDate": "1990-01-01",
    "address": "广东省广州市天河区体育西路 1 号",
    "idNumber": "440106199001010000",
}
IDENT = "1.2.156.3005.2.11100000000013101Q001.11440000MB0000001F.C3967E5ABA0000003.001.V"
START = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)

IDB_KEY_JS = """
async () => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("certledger-wallet"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  const rec = await new Promise((ok, no) => { const q = db.transaction("keys").objectStore("keys").get("device"); q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error); });
  db.close();
  const out = {extractable: rec.privateKey.extractable, type: rec.privateKey.type, usages: rec.privateKey.usages,
               algorithm: rec.privateKey.algorithm, public: Array.from(rec.publicRaw)};
  for (const format of ["pkcs8", "jwk", "raw"]) {
    try { await crypto.subtle.exportKey(format, rec.privateKey); out[format] = "exported"; } catch (e) { out[format] = e.name; }
  }
  return out;
}
"""


def certificate(suite: str = "intl", fields: dict[str, str] | None = None, **extra: object) -> Certificate:
    f = dict(fields or FIELDS)
    return Certificate(
        "ID_CARD",
        "GD-PSB",
        440000,
        "2020-01-01",
        "2040-01-01",
        f,
        new_salts(list(f)),
        version=2,
        suite=suite,
        identifier=IDENT if suite == "sm" else None,
        **extra,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "web" / "stub_server.py"), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def serving() -> bool:
        try:
            urllib.request.urlopen(base + "/wallet", timeout=2).read()
            return True
        except OSError:
            assert proc.poll() is None, "the stub API exited"
            return False

    try:
        wait_until(serving, timeout=20, what="the stub API to start")
    except BaseException:
        proc.kill()
        raise
    yield base
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def open_wallet(browser: object, stub: str) -> Iterator:
    """open_wallet(path, locale=, width=, context=, clock=) -> page; a new browser context (another
    profile: its own IndexedDB, so its own device key) unless one is given."""
    contexts = []

    def make(
        path: str = "/wallet",
        *,
        locale: str = "zh-CN",
        width: int = 1280,
        height: int = 900,
        context: object | None = None,
        clock: datetime | None = None,
        init: str | None = None,
        wait: bool = True,
    ):
        ctx = context
        if ctx is None:
            ctx = browser.new_context(  # type: ignore[attr-defined]
                viewport={"width": width, "height": height}, locale=locale, device_scale_factor=1, accept_downloads=True
            )
            contexts.append(ctx)
        page = ctx.new_page()
        page.problems = []
        page.on(
            "console", lambda m: page.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        if clock is not None:
            page.clock.install(time=clock - timedelta(seconds=5))  # the clock runs until paused: start before
            page.clock.pause_at(clock)
        if init is not None:
            page.add_init_script(init)
        page.goto(stub + path)
        if wait:
            page.wait_for_selector("html[data-ready]")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


# ---------------------------------------------------------------------- helpers


def import_document(page, doc: dict, name: str = "certificate.json") -> None:
    page.set_input_files(
        "[data-testid=import]",
        files=[{"name": name, "mimeType": "application/json", "buffer": json.dumps(doc).encode()}],
    )


def listed(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=cert]",
        "els => els.map(e => ({hash: e.dataset.hash, format: e.dataset.format, suite: e.dataset.suite, text: e.innerText,"
        " presentable: !!e.querySelector('[data-testid=present-open]')}))",
    )


def device_key(page) -> dict:
    return page.evaluate(IDB_KEY_JS)


def present(page, hash_: str, fields: list[str], purpose: str, text: str = "") -> None:
    page.click(f"[data-testid=cert][data-hash='{hash_}'] [data-testid=present-open]")
    for name in fields:
        page.check(f"[data-testid=field-{name}]")
    page.select_option("[data-testid=purpose]", purpose)
    if text:
        page.fill("[data-testid=purpose-text]", text)
    page.click("[data-testid=present-start]")
    page.wait_for_selector("[data-testid=qr][data-payload]")


def shown_payload(page) -> str:
    return page.get_attribute("[data-testid=qr]", "data-payload")


def qr_text(page, selector: str = "[data-testid=qr]") -> str:
    """What a phone reads from the QR code on the screen (zxing-cpp on a screenshot)."""
    return read_image(page.locator(selector).screenshot())


def shoot(page, name: str, selector: str = "main") -> None:
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.locator(selector).screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


# ---------------------------------------------------------------------- the device key


def test_the_device_key_is_made_once_non_extractable_and_kept_in_indexeddb(open_wallet) -> None:
    page = open_wallet()
    assert page.title().startswith("我的证书")
    fingerprint = page.inner_text("[data-testid=key-fingerprint]")
    key = device_key(page)
    assert key["extractable"] is False and key["type"] == "private" and key["usages"] == ["sign"]
    assert key["algorithm"] == {"name": "ECDSA", "namedCurve": "P-256"}
    # the page can sign with it, never read it: every export is refused
    assert key["pkcs8"] == key["jwk"] == key["raw"] == "InvalidAccessError"
    public = bytes(key["public"])
    assert len(public) == 65 and public[0] == 4
    # kept: a reload (and a new tab of the same profile) finds the same key, not a new one
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.inner_text("[data-testid=key-fingerprint]") == fingerprint
    assert bytes(device_key(page)["public"]) == public
    other_tab = open_wallet(context=page.context)
    assert bytes(device_key(other_tab)["public"]) == public
    assert not page.problems, page.problems


def test_another_browser_profile_has_another_device_key(open_wallet) -> None:
    a, b = open_wallet(), open_wallet()
    ka, kb = bytes(device_key(a)["public"]), bytes(device_key(b)["public"])
    assert ka != kb
    assert a.inner_text("[data-testid=key-fingerprint]") != b.inner_text("[data-testid=key-fingerprint]")


# ---------------------------------------------------------------------- certificates


def test_certificates_are_imported_listed_refused_when_damaged_and_deleted(open_wallet) -> None:
    page = open_wallet()
    assert page.is_visible("[data-testid=list-empty]")
    intl, sm = certificate("intl"), certificate("sm")
    import_document(page, intl.to_json())
    page.wait_for_selector("[data-testid=cert]")
    assert page.inner_text("[data-testid=import-status]") == "已添加：居民身份证（GD-PSB）。"
    import_document(page, {"document": sm.to_json()})  # a request body {"document": ...} works too
    expect(page.locator("[data-testid=cert]")).to_have_count(2)
    items = listed(page)
    assert [i["hash"] for i in items] == ["0x" + intl.compute_hash().hex(), "0x" + sm.compute_hash().hex()]
    assert [i["suite"] for i in items] == ["intl", "sm"] and all(i["presentable"] for i in items)
    for word in ("居民身份证", "GD-PSB", "2020-01-01 至 2040-01-01", "0x" + intl.compute_hash().hex()):
        assert word in items[0]["text"], word
    assert IDENT in items[1]["text"]  # the e-licence identifier names an sm certificate

    # the same file again; a file whose content no longer matches its hash; not JSON; not ours
    import_document(page, intl.to_json())
    page.wait_for_selector("[data-testid=import-status]:has-text('已在证书夹中')")
    altered = intl.to_json()
    altered["fields"]["name"] = "李四"
    import_document(page, altered)
    page.wait_for_selector("[data-testid=import-status].status-error:has-text('不一致')")
    page.set_input_files(
        "[data-testid=import]", files=[{"name": "x.json", "mimeType": "application/json", "buffer": b"{not json"}]
    )
    page.wait_for_selector("[data-testid=import-status]:has-text('不是有效的 JSON')")
    import_document(page, {"format": "something/9"})
    page.wait_for_selector("[data-testid=import-status]:has-text('不是 CertLedger 证书文件')")
    assert len(listed(page)) == 2

    # certledger/1: kept, but said not presentable (no Show, no binding request)
    v1 = Certificate("ID_CARD", "GD-PSB", 440000, "2020-01-01", None, FIELDS, new_salts(list(FIELDS)))
    import_document(page, v1.to_json())
    page.wait_for_selector("[data-testid=import-status]:has-text('certledger/1')")
    old = listed(page)[2]
    assert old["format"] == "certledger/1" and not old["presentable"]
    assert old["hash"] == "0x" + v1.compute_hash().hex()
    assert "不能用证书夹二维码出示" in page.inner_text(f"[data-hash='{old['hash']}'] [data-testid=cert-note]")

    # delete asks first; Cancel keeps it; Yes removes it, for good
    target = f"[data-testid=cert][data-hash='{items[0]['hash']}']"
    page.click(f"{target} [data-testid=delete]")
    assert page.evaluate("document.activeElement.dataset.testid") == "delete-no"
    page.click(f"{target} [data-testid=delete-no]")
    assert len(listed(page)) == 3
    page.click(f"{target} [data-testid=delete]")
    page.click(f"{target} [data-testid=delete-yes]")
    expect(page.locator("[data-testid=cert]")).to_have_count(2)
    page.wait_for_selector("[data-testid=live]:has-text('已删除')")
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert [i["hash"] for i in listed(page)] == [items[1]["hash"], old["hash"]]
    assert not page.problems, page.problems


# ---------------------------------------------------------------------- the binding request


def test_a_file_chosen_while_the_wallet_starts_is_imported_once_it_is_ready(open_wallet) -> None:
    page = open_wallet(init=HOLD_LANGUAGE_FILES, wait=False)
    page.wait_for_function("() => window.heldLanguages.length > 0")
    intl = certificate("intl")
    import_document(page, intl.to_json())
    assert page.get_attribute("html", "data-ready") is None
    page.evaluate("() => window.heldLanguages.forEach((release) => release())")
    page.wait_for_selector("html[data-ready]")
    expect(page.locator("[data-testid=cert]")).to_have_count(1)
    assert listed(page)[0]["hash"] == "0x" + intl.compute_hash().hex()
    assert not page.problems, page.problems


def test_the_binding_request_names_the_certificate_and_the_device_key(open_wallet) -> None:
    page = open_wallet(locale="en")
    cert = certificate("sm")
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    page.click("[data-testid=bind-open]")
    assert page.evaluate("document.activeElement.id") == "bind-heading"
    explain = page.inner_text("#bind-explain")
    assert "the issuing agency must bind this device" in explain and "GD-PSB" in explain
    request = json.loads(page.input_value("[data-testid=bind-request]"))
    public = bytes(device_key(page)["public"])
    assert request == {"certificate": "0x" + cert.compute_hash().hex(), "holderKey": _b64url(public)}
    assert "=" not in request["holderKey"] and base64.urlsafe_b64decode(request["holderKey"] + "=") == public
    with page.expect_download() as info:
        page.click("[data-testid=bind-download]")
    download = info.value
    assert download.suggested_filename == f"certledger-binding-{cert.compute_hash().hex()[:8]}.json"
    assert json.loads(Path(download.path()).read_text(encoding="utf-8")) == request
    # the same request as a QR code for the agency's counter
    assert json.loads(qr_text(page, "[data-testid=bind-qr]")) == request
    assert not page.problems, page.problems


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ---------------------------------------------------------------------- presentations


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_a_presentation_shows_the_chosen_fields_signed_by_the_device_and_expires(open_wallet, suite: str) -> None:
    page = open_wallet(clock=START)
    cert = certificate(suite)
    cert_hash = cert.compute_hash()
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    present(page, "0x" + cert_hash.hex(), ["name", "birthDate"], "EMPLOYMENT", "入职核验")
    public = bytes(device_key(page)["public"])

    first = shown_payload(page)
    assert qr_text(page) == first  # what a phone reads is what the page signed
    assert page.get_attribute("[data-testid=qr]", "data-level") == "M"
    assert int(page.get_attribute("[data-testid=qr]", "data-version")) <= 20
    p = decode(first)
    assert p.signature_ok() and p.holder_key == public
    assert p.fields == {"name": "张三", "birthDate": "1990-01-01"}
    assert sorted(p.hidden) == ["address", "ethnicity", "idNumber", "sex"]
    assert p.cert_hash == cert_hash  # the hidden hashes (SM3 in the browser for sm) recompute it
    assert (p.purpose, p.purpose_text) == ("EMPLOYMENT", "入职核验")
    assert p.issued_at == int(START.timestamp()) and p.expires_at - p.issued_at == DEFAULT_LIFETIME
    assert p.receipt_tag == receipt_tag(receipt_key(cert), p.nonce)  # the receipt's pseudonym (§6)
    assert "440106199001010000" not in first and FIELDS["address"].encode() not in p.body
    summary = page.inner_text("[data-testid=summary]")
    assert "用途：就业" in summary and "出示：姓名、出生日期" in summary.replace("，", "、")
    assert page.inner_text("[data-testid=countdown]").startswith("还有 60 秒有效")
    assert page.evaluate("document.activeElement.dataset.testid") == "present-stop"
    page.clock.run_for(100)
    assert "60 秒内有效" in page.inner_text("[data-testid=live]")

    # the countdown runs; at the end of its minute the code is replaced by a fresh one
    page.clock.run_for(10_000)
    assert page.get_attribute("[data-testid=countdown]", "data-left") == "50"
    assert shown_payload(page) == first
    page.clock.run_for(50_000)
    page.wait_for_selector("[data-testid=qr][data-count='2']")
    second = decode(shown_payload(page))
    assert second.signature_ok() and second.cert_hash == cert_hash and second.holder_key == public
    assert second.issued_at == p.issued_at + DEFAULT_LIFETIME and second.nonce != p.nonce
    assert second.fields == p.fields and second.body != p.body and second.signature != p.signature
    assert second.receipt_tag == receipt_tag(receipt_key(cert), second.nonce) != p.receipt_tag
    assert page.get_attribute("[data-testid=countdown]", "data-left") == "60"
    assert qr_text(page) == shown_payload(page)
    page.clock.run_for(1000)
    assert "已换新二维码" in page.inner_text("[data-testid=live]")

    # on until the citizen stops
    page.clock.run_for(60_000)
    page.wait_for_selector("[data-testid=qr][data-count='3']")
    page.click("[data-testid=present-stop]")
    assert page.is_hidden("[data-testid=showing]") and page.get_attribute("[data-testid=qr]", "data-payload") is None
    page.clock.run_for(120_000)
    assert page.get_attribute("[data-testid=qr]", "data-payload") is None
    assert page.is_visible("[data-testid=present-start]")
    assert not page.problems, page.problems


def test_a_presentation_needs_a_purpose_and_may_show_no_field(open_wallet) -> None:
    page = open_wallet(locale="en")
    cert = certificate("intl")
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    page.click("[data-testid=present-open]")
    assert page.evaluate("document.activeElement.id") == "present-heading"
    # the metadata are always shown; the fields are the citizen's choice, none ticked at first
    assert "Always shown: Resident Identity Card, issued by GD-PSB" in page.inner_text("[data-testid=field-choices]")
    assert page.eval_on_selector_all("[data-testid=field-choices] input:checked", "els => els.length") == 0
    assert page.get_attribute("[data-testid=purpose-text]", "maxlength") == "100"
    page.click("[data-testid=present-start]")
    assert page.inner_text("[data-testid=purpose-error]") == "Choose a purpose first."
    assert page.evaluate("document.activeElement.id") == "purpose"
    assert page.get_attribute("[data-testid=purpose]", "aria-invalid") == "true"
    labels = page.eval_on_selector_all("[data-testid=purpose] option", "os => os.map(o => [o.value, o.textContent])")
    assert labels[1:] == [
        ["EMPLOYMENT", "Employment"],
        ["HOUSING", "Housing"],
        ["BANKING", "Banking"],
        ["TRAVEL", "Travel"],
        ["EDUCATION", "Education"],
        ["MEDICAL", "Medical care"],
        ["GOVERNMENT_SERVICE", "Government services"],
        ["OTHER", "Other"],
    ]
    page.select_option("[data-testid=purpose]", "OTHER")
    page.fill("[data-testid=purpose-text]", "x" * 150)  # the field keeps 100
    page.click("[data-testid=present-start]")
    page.wait_for_selector("[data-testid=qr][data-payload]")
    p = decode(shown_payload(page))
    assert p.fields == {} and len(p.hidden) == len(FIELDS) and p.cert_hash == cert.compute_hash()
    assert (p.purpose, p.purpose_text) == ("OTHER", "x" * 100) and p.signature_ok()
    assert "Shown: none." in page.inner_text("[data-testid=summary]")


def test_a_long_presentation_falls_back_to_level_l_and_still_reads(open_wallet) -> None:
    fields = {**FIELDS, "address": "广东省广州市天河区体育西路" + "一二三四五六七八九十" * 12}
    cert = certificate("sm", fields)
    page = open_wallet(width=390, height=844)
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    present(page, "0x" + cert.compute_hash().hex(), list(fields), "HOUSING")
    assert page.get_attribute("[data-testid=qr]", "data-level") == "L"
    assert qr_text(page) == shown_payload(page)
    p = decode(shown_payload(page))
    assert p.fields == fields and p.cert_hash == cert.compute_hash() and p.signature_ok()


def test_a_disclosed_copy_presents_its_hidden_fields_as_given(open_wallet) -> None:
    """A file that already hides some fields (a disclosed copy) keeps them hidden: their hashes
    come from the file, the rest are computed (here SM3) in the browser."""
    page = open_wallet()
    cert = certificate("sm")
    copy = cert.disclose(["name", "sex", "birthDate"])
    import_document(page, copy.to_json())
    page.wait_for_selector("[data-testid=cert]")
    page.click("[data-testid=present-open]")
    disabled = page.eval_on_selector_all(
        "[data-testid=field-choices] label.unavailable", "els => els.map(e => e.dataset.field)"
    )
    assert sorted(disabled) == ["address", "ethnicity", "idNumber"]
    page.check("[data-testid=field-sex]")
    page.select_option("[data-testid=purpose]", "HOUSING")
    page.click("[data-testid=present-start]")
    page.wait_for_selector("[data-testid=qr][data-payload]")
    p = decode(shown_payload(page))
    assert p.fields == {"sex": "M"} and p.cert_hash == cert.compute_hash() and p.signature_ok()
    assert p.receipt_tag == receipt_tag(receipt_key(copy), p.nonce)  # from the salts this file has


def test_a_copy_presented_from_another_profile_is_signed_by_another_key(open_wallet) -> None:
    cert = certificate("intl")
    mine, thief = open_wallet(), open_wallet()
    keys = []
    for page in (mine, thief):
        import_document(page, cert.to_json())
        page.wait_for_selector("[data-testid=cert]")
        present(page, "0x" + cert.compute_hash().hex(), ["name"], "BANKING")
        p = decode(shown_payload(page))
        assert p.signature_ok() and p.cert_hash == cert.compute_hash()
        keys.append(p.holder_key)
    assert keys[0] != keys[1]  # the ledger binds one of them: the copy fails HOLDER_KEY_MISMATCH


# ---------------------------------------------------------------------- the browser's hashing


def test_the_browsers_sm3_and_document_hashes_match_python(open_wallet) -> None:
    from ledger.crypto.sm import sm3

    page = open_wallet()
    messages = [b"", b"abc", b"abcd" * 16] + [
        bytes((i * 7 + j) % 256 for j in range(n))
        for i, n in enumerate([1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000])
    ]
    got = page.evaluate(
        "async (hexes) => { const c = await import('/static/wallet-core.js');"
        " return hexes.map(h => c.hex(c.sm3(c.unhex(h)))); }",
        [m.hex() for m in messages],
    )
    assert got == [sm3(m).hex() for m in messages]
    # the published vectors (docs/vectors): the page recomputes every certificate's hash
    vectors = json.loads((ROOT / "docs/vectors/certificate-hashes-v2.json").read_text())["cases"]
    hashes = page.evaluate(
        "async (docs) => { const c = await import('/static/wallet-core.js');"
        " const out = []; for (const d of docs) out.push((await c.readDocument(d)).hash); return out; }",
        [case["document"] for case in vectors],
    )
    assert hashes == [case["certificateHash"] for case in vectors]


# ---------------------------------------------------------------------- receipts (docs/presentations.md §6)

SEED_TAGS_JS = """
async ([hash, tags]) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("certledger-wallet"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  await new Promise((ok, no) => {
    const t = db.transaction("certificates", "readwrite"); const s = t.objectStore("certificates");
    const q = s.get(hash); q.onsuccess = () => s.put({...q.result, receiptTags: tags});
    t.oncomplete = ok; t.onerror = () => no(t.error);
  });
  db.close();
}
"""
STORED_TAGS_JS = """
async (hash) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("certledger-wallet"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  const rec = await new Promise((ok, no) => { const q = db.transaction("certificates").objectStore("certificates").get(hash); q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error); });
  db.close();
  return rec.receiptTags || [];
}
"""


def stored_tags(page, hash_: str) -> list[str]:
    return page.evaluate(STORED_TAGS_JS, hash_)


def seed_tags(page, hash_: str, tags: list[str]) -> None:
    page.evaluate(SEED_TAGS_JS, [hash_, tags])
    page.reload()
    page.wait_for_selector("html[data-ready]")


def open_receipts(page, hash_: str) -> None:
    """Open (or reopen) the certificate's Receipts panel and wait for its answer."""
    if page.is_visible("[data-testid=receipts]"):
        page.click("[data-testid=receipts-close]")
    page.click(f"[data-testid=cert][data-hash='{hash_}'] [data-testid=receipts-open]")
    page.wait_for_selector(
        "[data-testid=receipts-status][data-status=done], [data-testid=receipts-status][data-status=error]"
    )


def shown_receipts(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=receipt]",
        "els => els.map(e => ({state: e.dataset.state, tag: e.dataset.tag, block: e.dataset.block || null,"
        " status: e.querySelector('[data-testid=receipt-status]').innerText,"
        " facts: Object.fromEntries(Array.from(e.querySelectorAll('dd'), d => [d.dataset.fact, d.innerText]))}))",
    )


def route_receipts(page, answer) -> list[dict]:
    """Answer the page's GET /v1/receipts with answer(tags) (a dict, or an int status); returns
    the requests seen (their query, parsed)."""
    from urllib.parse import parse_qs, urlsplit

    seen: list[dict] = []

    def handle(route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        seen.append(query)
        out = answer(query.get("tag", []))
        if isinstance(out, int):
            route.fulfill(status=out, content_type="application/json", body='{"error": {"code": "X"}}')
        elif out is None:
            route.abort()
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(out))

    page.route("**/v1/receipts*", handle)
    return seen


def canned_receipts() -> tuple[list[str], list[dict]]:
    """Three receipts for three of the wallet's tags: one anchored whose proof holds, one waiting
    (not sealed), one sealed in the same batch and altered afterwards (its fields)."""
    from ledger.merkle import build_tree
    from ledger.receipts import Receipt, ReceiptProof

    t0 = int(START.timestamp())
    tags = [bytes([i]) * 16 for i in (1, 2, 3)]
    anchored = Receipt("GD-BANK-1", 440000, "EMPLOYMENT", "入职核验", t0, ("name", "birthDate"), tags[0], "VALID")
    waiting = Receipt("ZJ-HOSP-2", 330000, "MEDICAL", "", t0 + 3600, (), tags[1], "VALID")
    altered = Receipt("GD-RENT-1", 440000, "HOUSING", "租房", t0 + 60, ("name",), tags[2], "EXPIRED")
    others = [Receipt("GD-BANK-1", 440000, "BANKING", "", t0, ("name",), bytes(16), "VALID") for _ in range(2)]
    tree = build_tree([r.leaf() for r in (anchored, altered, *others)])
    tx = bytes.fromhex(TX_HEX)

    def sealed(r: Receipt) -> dict:
        return ReceiptProof(r, tree.root, tuple(tree.proof(r.leaf())), 1234, tx).to_json()

    bad = sealed(altered)
    bad["fields"] = ["idNumber", "name"]  # what the verifier's database says now
    answer = [sealed(anchored), ReceiptProof(waiting, None, (), None, None).to_json(), bad]
    return ["0x" + t.hex() for t in tags], answer


TX_HEX = "3c2b1a0f9e8d7c6b5a49382716051423324150697887a6b5c4d3e2f1a0b9c8d7"


def test_the_browsers_keccak_cbor_and_receipt_proofs_match_python(open_wallet) -> None:
    import cbor2
    from eth_utils import keccak

    from ledger.merkle import build_tree
    from ledger.receipts import Receipt, ReceiptProof

    page = open_wallet()
    messages = [b"", b"abc", b"CLRC"] + [
        bytes((i * 11 + j * 7) % 256 for j in range(n))
        for i, n in enumerate([1, 31, 32, 33, 135, 136, 137, 200, 271, 272, 273, 408, 1000, 5000])
    ]
    got = page.evaluate(
        "async (hexes) => { const c = await import('/static/wallet-core.js');"
        " return hexes.map(h => c.hex(c.keccak256(c.unhex(h)))); }",
        [m.hex() for m in messages],
    )
    assert got == [keccak(m).hex() for m in messages]
    assert got[0] == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"  # keccak, not SHA3-256

    # CBOR of the types a receipt's leaf has: text, integers at every head size, lists, bytes
    values = [
        [
            "GD-BANK-1",
            440000,
            "EMPLOYMENT",
            "入职核验 ✓",
            1_796_117_400,
            ["birthDate", "name"],
            b"\x01" * 16,
            "VALID",
            b"\xff" * 16,
        ],
        [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1],
        ["", "x" * 23, "y" * 24, "z" * 300, "é" * 40000, [], [[]], b"", b"\x00" * 24, b"\x07" * 70000],
        [["a"] * 24, list(range(30))],
    ]
    encoded = page.evaluate(
        "async (vs) => { const c = await import('/static/wallet-core.js');"
        " const revive = (v) => Array.isArray(v) ? v.map(revive) : (v && v.b !== undefined ? c.unhex(v.b) : v);"
        " return vs.map(v => c.hex(c.cbor(revive(v)))); }",
        [_jsonable(v) for v in values],
    )
    assert encoded == [cbor2.dumps(v).hex() for v in values]

    # a receipt's leaf and its proof through a batch, as ledger/receipts.py and ledger/merkle.py
    receipts = [
        Receipt(
            f"V-{i}",
            440000 + i,
            "BANKING",
            "开户" * i,
            1_796_117_400 + i,
            ("sex", "name")[: i % 3],
            os.urandom(16),
            "VALID",
        )
        for i in range(7)
    ]
    tree = build_tree([r.leaf() for r in receipts])
    proofs = [ReceiptProof(r, tree.root, tuple(tree.proof(r.leaf())), 9, b"\x01" * 32).to_json() for r in receipts]
    proofs[3]["purpose_text"] = "改过"  # altered after sealing
    proofs[5]["proof"] = proofs[5]["proof"][:-1]  # a proof cut short
    result = page.evaluate(
        "async (rs) => { const c = await import('/static/wallet-core.js');"
        " return rs.map(r => [c.hex(c.receiptLeaf(r)), c.receiptWellFormed(r), c.receiptState(r)]); }",
        proofs,
    )
    assert [x[0] for x in result] == [r.leaf().hex() for r in receipts[:3]] + [result[3][0]] + [
        r.leaf().hex() for r in receipts[4:]
    ]
    assert result[3][0] != receipts[3].leaf().hex()
    assert all(x[1] for x in result)
    assert [x[2] for x in result] == ["anchored"] * 3 + ["mismatch", "anchored", "mismatch", "anchored"]


def _jsonable(v: object) -> object:
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def test_the_receipts_panel_lists_proves_and_asks_only_with_the_tags(open_wallet) -> None:
    page = open_wallet(clock=START)
    cert = certificate("intl")
    hash_ = "0x" + cert.compute_hash().hex()
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    tags, answer = canned_receipts()
    seed_tags(page, hash_, tags)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    seen = route_receipts(page, lambda asked: {"receipts": [r for r in answer if r["tag"] in asked]})
    open_receipts(page, hash_)
    assert page.evaluate("document.activeElement.id") == "receipts-heading"
    assert page.inner_text("#receipts-heading") == "核验回执：居民身份证"
    assert seen == [{"tag": tags}]
    assert (
        page.inner_text("[data-testid=receipts-status]") == "共 3 条回执，最新的在前。注意：其中 1 条与其上链批次不符。"
    )
    got = shown_receipts(page)
    assert [g["state"] for g in got] == ["waiting", "mismatch", "anchored"]  # newest first
    waiting, altered, anchored = got
    assert waiting["status"] == "等待上链" and waiting["block"] is None
    assert waiting["facts"] == {
        "time": "北京时间 2026-12-01 18:30",
        "verifier": "ZJ-HOSP-2",
        "region": "浙江省（330000）",
        "purpose": "就医",
        "fields": "无",
        "verdict": "有效",
    }
    assert altered["status"].startswith("与其上链批次不符") and altered["block"] is None
    assert altered["facts"]["fields"] == "姓名、公民身份号码" and altered["facts"]["verdict"] == "已过期"
    assert anchored["status"] == "已上链：区块 1234（交易 0x3c2b1a…b9c8d7）" and anchored["block"] == "1234"
    assert anchored["facts"] == {
        "time": "北京时间 2026-12-01 17:30",
        "verifier": "GD-BANK-1",
        "region": "广东省（440000）",
        "purpose": "就业 — 入职核验",
        "fields": "姓名、出生日期",
        "verdict": "有效",
    }
    # nothing but the tags left the browser: no request names the certificate or its content
    sent = [u for u in requests if "/static/" not in u]
    assert all(u.split("?")[0].endswith(("/v1/receipts", "/v1/types")) for u in sent), sent
    assert not any(cert.compute_hash().hex() in u or "440106" in u for u in sent)

    # English: the same receipts in its words
    page.click("[data-testid=lang-button]")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("html[lang=en]")
    got = shown_receipts(page)
    assert got[2]["status"] == "Anchored in block 1234 (transaction 0x3c2b1a…b9c8d7)"
    assert got[2]["facts"]["time"] == "2026-12-01 17:30 Beijing time"
    assert got[2]["facts"]["region"] == "Guangdong (440000)" and got[2]["facts"]["purpose"] == "Employment — 入职核验"
    assert got[0]["status"] == "Waiting to be anchored"
    assert got[1]["status"].startswith("Does not match its anchored batch")
    assert not page.problems, page.problems


def test_the_receipts_panel_asks_100_tags_at_a_time_and_says_when_there_are_none_or_no_answer(open_wallet) -> None:
    page = open_wallet(locale="en")
    cert = certificate("sm")
    hash_ = "0x" + cert.compute_hash().hex()
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    # no presentation yet: nothing to ask, nothing asked
    seen = route_receipts(page, lambda asked: {"receipts": []})
    open_receipts(page, hash_)
    assert seen == []
    empty = "No receipts yet: no registered verifier has checked a QR code this device showed for this certificate."
    assert page.inner_text("[data-testid=receipts-status]") == empty
    assert page.is_hidden("[data-testid=receipts-list]")
    tags = ["0x" + os.urandom(16).hex() for _ in range(250)]
    seed_tags(page, hash_, tags)
    seen = route_receipts(page, lambda asked: {"receipts": []})
    open_receipts(page, hash_)
    assert [len(q["tag"]) for q in seen] == [100, 100, 50] and all(list(q) == ["tag"] for q in seen)
    assert [t for q in seen for t in q["tag"]] == tags
    assert page.inner_text("[data-testid=receipts-status]") == empty
    # no answer, an error answer, something else: said, and the panel can ask again
    error = "The receipts could not be fetched (no connection, or the service is unavailable). Try again later."
    for failure in (None, 503, {"unexpected": True}):
        page.unroute("**/v1/receipts*")
        route_receipts(page, lambda asked, f=failure: f)
        open_receipts(page, hash_)
        assert page.inner_text("[data-testid=receipts-status]") == error, failure
        assert page.get_attribute("[data-testid=receipts-status]", "class") == "status status-error"
    page.unroute("**/v1/receipts*")
    route_receipts(page, lambda asked: {"receipts": []})
    page.click("[data-testid=receipts-reload]")
    page.wait_for_selector("[data-testid=receipts-status][data-status=done]")
    assert page.inner_text("[data-testid=receipts-status]") == empty
    # a receipt for a tag the wallet did not ask for is not shown
    _, answer = canned_receipts()
    page.unroute("**/v1/receipts*")
    route_receipts(page, lambda asked: {"receipts": answer})
    open_receipts(page, hash_)
    assert shown_receipts(page) == []
    page.click("[data-testid=receipts-close]")
    assert page.evaluate("document.activeElement.dataset.testid") == "receipts-open"


def test_each_presentation_keeps_its_receipt_tag_the_last_500(open_wallet) -> None:
    page = open_wallet(clock=START)
    cert = certificate("intl")
    hash_ = "0x" + cert.compute_hash().hex()
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    present(page, hash_, ["name"], "BANKING")
    first = decode(shown_payload(page))
    assert stored_tags(page, hash_) == ["0x" + first.receipt_tag.hex()]
    page.clock.run_for(61_000)  # a fresh code, a fresh tag
    page.wait_for_selector("[data-testid=qr][data-count='2']")
    second = decode(shown_payload(page))
    assert stored_tags(page, hash_) == ["0x" + first.receipt_tag.hex(), "0x" + second.receipt_tag.hex()]
    page.click("[data-testid=present-stop]")
    old = ["0x" + os.urandom(16).hex() for _ in range(500)]
    seed_tags(page, hash_, old)
    present(page, hash_, [], "HOUSING")
    third = decode(shown_payload(page))
    kept = stored_tags(page, hash_)
    assert len(kept) == 500 and kept == [*old[1:], "0x" + third.receipt_tag.hex()]
    assert listed(page)[0]["hash"] == hash_ and not page.problems, page.problems


# ---------------------------------------------------------------------- languages, layout, accessibility


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_the_wallets_words(open_wallet, lang: str) -> None:
    strings = json.loads((ROOT / f"api/static/i18n/{lang}.json").read_text())["strings"]
    page = open_wallet(f"/wallet?lang={lang}", width=390)
    import_document(page, certificate("intl").to_json())
    page.wait_for_selector("[data-testid=cert]")
    page.click("[data-testid=present-open]")
    page.select_option("[data-testid=purpose]", "MEDICAL")
    page.click("[data-testid=present-start]")
    page.wait_for_selector("[data-testid=qr][data-payload]")
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ug" else "ltr")
    text = page.inner_text("body")
    assert not re.search(r"\b(wallet|purpose|presentation)\.[A-Za-z]", text) and "{" not in text
    assert strings["wallet.heading"] in text and strings["wallet.present.stop"] in text
    assert strings["purpose.MEDICAL"] in page.inner_text("[data-testid=summary]")
    # nothing wider than a phone
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    box = page.locator("[data-testid=qr] svg").bounding_box()
    assert box["width"] >= 300 and abs(box["width"] - box["height"]) < 1  # big and square at 390 px
    if lang == "ug":  # mirrored: the certificate's buttons start at the right
        row = page.locator("[data-testid=cert] .cert-actions").bounding_box()
        first = page.locator("[data-testid=cert] .cert-actions button").first.bounding_box()
        assert first["x"] + first["width"] > row["x"] + row["width"] - 2
    assert not page.problems, page.problems


def test_keyboard_reaches_the_wallets_controls_in_order(open_wallet) -> None:
    page = open_wallet(locale="en")
    import_document(page, certificate("intl").to_json())
    page.wait_for_selector("[data-testid=cert]")
    page.focus("body")
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.dataset.testid || document.activeElement.id"))
    order = [
        s for s in seen if s in ("lang-button", "contrast-toggle", "import", "present-open", "bind-open", "delete")
    ]
    # the certificates first, then adding one: as on the screen (the list is the first column)
    assert order[:6] == ["lang-button", "contrast-toggle", "present-open", "bind-open", "delete", "import"], seen


def test_the_language_menu_is_the_verify_pages(open_wallet) -> None:
    """The menu is /verify's (api/static/page-common.js): keyboard, type-ahead, aria-*, the
    choice remembered for both pages."""
    page = open_wallet()
    button = page.locator("[data-testid=lang-button]")
    button.focus()
    page.keyboard.press("ArrowDown")
    assert button.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.dataset.lang") == "zh-CN"  # the checked item
    page.keyboard.press("u")  # type-ahead on a language's name or code
    assert page.evaluate("document.activeElement.dataset.lang") == "ug"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.lang === 'ug'")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert (
        button.get_attribute("aria-expanded") == "false" and page.evaluate("document.activeElement.id") == "lang-button"
    )
    assert page.get_attribute("[data-lang=ug]", "aria-checked") == "true"
    assert "ئۇيغۇرچە" in button.get_attribute("aria-label")
    verify = open_wallet("/verify", context=page.context)
    assert verify.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ug", "rtl"]
    assert not page.problems and not verify.problems, page.problems + verify.problems


def test_large_text_is_shared_with_the_verify_page(open_wallet) -> None:
    page = open_wallet()
    page.click("[data-testid=contrast-toggle]")
    assert page.evaluate("document.documentElement.classList.contains('large')")
    verify = open_wallet("/verify", context=page.context)
    assert verify.evaluate("document.documentElement.classList.contains('large')")


def test_screenshots_of_the_wallet(open_wallet) -> None:
    page = open_wallet(width=1100, height=900, clock=START)
    for doc in (certificate("sm").to_json(), certificate("intl").to_json()):
        import_document(page, doc)
    expect(page.locator("[data-testid=cert]")).to_have_count(2)
    shoot(page, "wallet-list-zh.png")
    page.click("[data-testid=cert] >> nth=0 >> [data-testid=present-open]")
    for name in ("name", "sex", "birthDate"):
        page.check(f"[data-testid=field-{name}]")
    page.select_option("[data-testid=purpose]", "EMPLOYMENT")
    page.fill("[data-testid=purpose-text]", "入职核验")
    shoot(page, "wallet-choose-zh.png", "[data-testid=present]")
    page.click("[data-testid=present-start]")
    page.wait_for_selector("[data-testid=qr][data-payload]")
    page.clock.run_for(17_000)
    shoot(page, "wallet-present-zh.png", "[data-testid=present]")
    phone = open_wallet("/wallet?lang=en", width=390, height=844, clock=START)
    import_document(phone, certificate("intl").to_json())
    phone.wait_for_selector("[data-testid=cert]")
    present(phone, listed(phone)[0]["hash"], ["name"], "HOUSING")
    phone.clock.run_for(5000)
    shoot(phone, "wallet-present-phone-en.png", "[data-testid=present]")
    for name in ("wallet-list-zh.png", "wallet-choose-zh.png", "wallet-present-zh.png", "wallet-present-phone-en.png"):
        assert (SHOTS / name).stat().st_size > 5000
    assert read_image((SHOTS / "wallet-present-phone-en.png").read_bytes()).startswith("CLP1:")


def test_screenshot_of_the_wallets_receipts(open_wallet) -> None:
    page = open_wallet(width=1100, height=900, clock=START)
    cert = certificate("intl")
    hash_ = "0x" + cert.compute_hash().hex()
    import_document(page, cert.to_json())
    page.wait_for_selector("[data-testid=cert]")
    tags, answer = canned_receipts()
    seed_tags(page, hash_, tags)
    route_receipts(page, lambda asked: {"receipts": answer})
    open_receipts(page, hash_)
    assert [g["state"] for g in shown_receipts(page)] == ["waiting", "mismatch", "anchored"]
    shoot(page, "wallet-receipts-zh.png", "[data-testid=receipts]")
    assert (SHOTS / "wallet-receipts-zh.png").stat().st_size > 5000


# ---------------------------------------------------------------------- the verify page shows a presentation


def _presentation_answer(verdict: str, holder: dict) -> dict:
    def check(name: str, outcome: str, code: str = "OK", **params: object) -> dict:
        ok = {"PASS": True, "FAIL": False}.get(outcome)
        return {"name": name, "ok": ok, "outcome": outcome, "code": code, "detail": "ENGINE ENGLISH", "params": params}

    return {
        "verdict": verdict,
        "checks": [
            check("integrity", "PASS", "FIELDS_BOUND", shown=2, hidden=4),
            check("anchored", "PASS", agency="GD-PSB", block=12, time="2026-11-28T08:00:00Z"),
            check("holder", **holder),
            check("issuer_authorized", "PASS", agency="GD-PSB", region=440000, type="ID_CARD"),
            check("key_valid", "PASS", key="0x71C7656EC7ab88b098defB751B7401B5f6d8976F"),
            check("status", "PASS"),
            check("validity_period", "PASS", valid_from="2020-01-01", valid_until="2040-01-01"),
            check("recognition", "SKIPPED", "NO_VERIFIER_REGION"),
        ],
        "certificate": {
            "hash": "0x" + "5f" * 32,
            "type": "ID_CARD",
            "issuer_region": 440000,
            "agency": "GD-PSB",
            "batch_root": "0x" + "9a" * 32,
            "anchored_at": {"block": 12, "tx": "0x" + "3c" * 32, "time": "2026-11-28T08:00:00Z"},
            "valid_from": "2020-01-01",
            "valid_until": "2040-01-01",
        },
        "verifier_region": None,
        "as_of": "2026-12-01T09:30:20Z",
        "source": {"kind": "mirror", "block": 40, "lag_blocks": 0},
        "disclosed_fields": {"name": "张三", "birthDate": "1990-01-01"},
        "hidden_fields": ["address", "ethnicity", "idNumber", "sex"],
        "presentation": {
            "purpose": "EMPLOYMENT",
            "purpose_text": "入职核验",
            "issued_at": 1_796_117_400,
            "expires_at": 1_796_117_460,
        },
    }


HOLDER_CASES = {
    "OK": ("VALID", {"outcome": "PASS", "agency": "GD-PSB", "until": "2026-12-01T09:31:00Z"}),
    "HOLDER_SIGNATURE_INVALID": ("INVALID", {"outcome": "FAIL"}),
    "PRESENTATION_TOO_LONG": ("INVALID", {"outcome": "FAIL", "seconds": 86400, "limit": 600}),
    "PRESENTATION_NOT_YET_VALID": ("INVALID", {"outcome": "FAIL", "issued": "2026-12-01T10:30:00Z"}),
    "PRESENTATION_EXPIRED": ("EXPIRED", {"outcome": "FAIL", "seconds": 95, "expired": "2026-12-01T09:31:00Z"}),
    "HOLDER_NOT_BOUND": ("INVALID", {"outcome": "FAIL", "agency": "GD-PSB"}),
    "HOLDER_KEY_MISMATCH": ("INVALID", {"outcome": "FAIL", "agency": "GD-PSB"}),
}


@pytest.mark.parametrize("lang", LANGS)
def test_the_verify_page_shows_a_presentations_purpose_and_holder_check(open_wallet, lang: str) -> None:
    strings = json.loads((ROOT / f"api/static/i18n/{lang}.json").read_text())["strings"]
    english = json.loads((ROOT / "api/static/i18n/en.json").read_text())["strings"]
    page = open_wallet(f"/verify?lang={lang}")
    answer: dict = {}
    page.route(
        "**/v1/verify*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(answer)),
    )
    details = {}
    for code, (verdict, holder) in HOLDER_CASES.items():
        answer.clear()
        answer.update(_presentation_answer(verdict, {"code": code, **holder}))
        page.fill("[data-testid=payload]", "CLP1:" + code.replace("_", "-"))
        page.click("[data-testid=verify-button]")
        page.wait_for_selector(f"[data-testid=verdict][data-verdict={verdict}]:not([hidden])")
        page.wait_for_selector(f"[data-testid=checks] li[data-check=holder][data-code={code}]")
        item = page.locator("[data-testid=checks] li[data-check=holder]")
        detail = details[code] = item.locator(".check-detail").inner_text()
        assert "ENGINE ENGLISH" not in detail and "{" not in detail, (code, detail)
        assert item.locator(".check-detail").get_attribute("lang") is None, code
        assert strings["check.holder"] in item.inner_text()
        start = english[f"detail.holder.{code}"].split("{")[0].strip()
        if lang != "en" and len(start) > 12:
            assert start not in detail, (code, detail)
        explain = page.inner_text("[data-testid=verdict-explain]")
        if code == "PRESENTATION_EXPIRED":
            assert explain == strings["explain.EXPIRED.presentation"]
        purpose = page.locator("[data-testid=presentation] [data-fact=purpose]")
        assert purpose.inner_text() == f"{strings['purpose.EMPLOYMENT']} — 入职核验"
        assert strings["presentation.note"] in page.inner_text("[data-testid=presentation]")
        assert "17:30:00" in page.inner_text("[data-testid=presentation] [data-fact=window]")
        assert strings["purpose.EMPLOYMENT"] in page.inner_text("[data-testid=keyfacts]")
    if lang == "zh-CN":
        assert "本二维码已于 95 秒前（北京时间 2026-12-01 17:31:00）过期" in details["PRESENTATION_EXPIRED"]
        assert (
            details["OK"] == "由持证人本人的设备出示（由 GD-PSB 绑定）；本二维码有效至 北京时间 2026-12-01 17:31:00。"
        )
    if lang == "en":
        expired = details["PRESENTATION_EXPIRED"]
        assert "This QR code expired 95 seconds ago (at 2026-12-01 17:31:00 Beijing time)" in expired
    assert page.inner_text("#fields-heading") == strings["fields.heading.untrusted"]  # INVALID: not verified
    answer.update(_presentation_answer("VALID", {"code": "OK", **HOLDER_CASES["OK"][1]}))
    page.fill("[data-testid=payload]", "CLP1:AGAIN")
    page.click("[data-testid=verify-button]")
    page.wait_for_selector("[data-testid=verdict][data-verdict=VALID]:not([hidden])")
    assert page.inner_text("#fields-heading") == strings["fields.heading.presentation"]
    assert not page.problems, page.problems


# ---------------------------------------------------------------------- the API serves the page


@pytest.mark.unit
def test_the_api_serves_the_wallet_with_the_pages_headers() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.middleware import HeadersAndTiming
    from api.routes.health import router
    from api.state import Metrics

    app = FastAPI()
    app.include_router(router)
    metrics = Metrics.create()
    app.add_middleware(HeadersAndTiming, metrics=metrics)
    with TestClient(app) as client:
        for path in ("/wallet", "/verify"):
            r = client.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
            assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-content-type-options"] == "nosniff"
        page = client.get("/wallet").text
        assert '<script type="module" src="/static/wallet.js">' in page and "<style" not in page
        assert " style=" not in page and "onclick" not in page
    observed = {
        s.labels["route"]: s.value
        for m in metrics.registry.collect()
        for s in m.samples
        if s.name == "certledger_http_request_duration_seconds_count"
    }
    assert observed == {"/wallet": 2.0, "/verify": 1.0}  # each answer's latency, by route template


@pytest.mark.unit
def test_the_vendored_qr_encoder_is_listed_with_its_source_and_hash() -> None:
    import hashlib

    manifest = json.loads((ROOT / "api/static/vendor/MANIFEST.json").read_text())
    entry = manifest["packages"]["qrcode-generator"]
    assert entry["license"] == "MIT" and entry["version"] == "2.0.4"
    data = (ROOT / "api/static/vendor/qrcode.esm.js").read_bytes()
    assert entry["files"]["qrcode.esm.js"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert b"Licensed under the MIT license" in data[:1000]
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"]["qrcode-generator"] == "2.0.4"


# ---------------------------------------------------------------------- end to end: a real chain


@pytest.fixture(params=["intl", "sm"])
def issued(request: pytest.FixtureRequest, chain: object, tmp_path: Path) -> Iterator[tuple]:
    """A deployment in each suite on a real node, two ID cards issued by GD-PSB through the real
    pipeline (the files a citizen receives), and a mirror of the chain."""
    from api_helpers import id_rows, issue_rows, new_deployment, open_mirror

    c = new_deployment(chain, types=("ID_CARD",), suite=request.param)  # type: ignore[arg-type]
    docs = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(2), tmp_path / "issued")
    mirror = open_mirror("sqlite", f"sqlite:///{tmp_path / 'mirror.db'}", c.chain.url, c.deployment)
    try:
        yield c, docs, mirror
    finally:
        mirror.store.dispose()


def _bind_from_the_wallets_file(page, c: object, tmp_path: Path) -> bytes:
    """The citizen downloads the binding request; the agency reads that file as `certledger bind`
    does and records it on chain with its key. Returns the certificate hash."""
    from cli.binding import read_requests

    page.click("[data-testid=bind-open]")
    with page.expect_download() as info:
        page.click("[data-testid=bind-download]")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    (request,) = read_requests(path)
    c.registry.bind_holders(c.agency_keys["GD-PSB"], "GD-PSB", [(request.cert_hash, request.key_hash)])  # type: ignore[attr-defined]
    page.click("#bind-close")
    return request.cert_hash


def test_the_agency_binds_the_wallets_request_on_chain_and_only_that_device_matches(
    open_wallet, issued: tuple, tmp_path: Path
) -> None:
    from ledger.presentation import key_hash
    from ledger.verification import MirrorSource

    c, docs, mirror = issued
    mine, copy = open_wallet(), open_wallet()  # the holder's phone; the same file on another device
    for page in (mine, copy):
        import_document(page, docs[0])
        page.wait_for_selector("[data-testid=cert]")
    cert_hash = _bind_from_the_wallets_file(mine, c, tmp_path)
    assert "0x" + cert_hash.hex() == docs[0]["hash"]
    mirror.sync()
    bound = MirrorSource(mirror.queries, max_staleness_seconds=3600).holder_binding("GD-PSB", cert_hash)
    payloads = []
    for page in (mine, copy):
        present(page, docs[0]["hash"], ["name"], "GOVERNMENT_SERVICE")
        p = decode(shown_payload(page))
        assert p.signature_ok() and p.cert_hash == cert_hash
        payloads.append(p)
    assert bound == key_hash(payloads[0].holder_key) == key_hash(bytes(device_key(mine)["public"]))
    assert bound != key_hash(payloads[1].holder_key)


def test_the_ledger_verifies_the_wallets_presentation_valid_then_expired_and_a_copy_invalid(
    open_wallet, issued: tuple, tmp_path: Path
) -> None:
    """Wallet → the agency binds its request → a registered verifier POSTs the QR code's payload
    to /v1/verify: VALID with the chosen fields and the purpose, and a receipt the wallet's tag
    finds; a copy presented from another profile: HOLDER_KEY_MISMATCH; the same QR code after its
    minute (and the 30 s of clock skew forgiven): EXPIRED, the QR code's expiry and not the
    certificate's."""
    import time

    from api_helpers import GD, checked_client, save_deployment
    from eth_account import Account

    from api.app import ApiSettings, create_app
    from ledger.verification import MirrorSource, Verifier
    from ledger.verifiers import api_key_hash, new_api_key

    c, docs, mirror = issued
    mine, copy = open_wallet(), open_wallet()
    for page in (mine, copy):
        import_document(page, docs[0])
        page.wait_for_selector("[data-testid=cert]")
    _bind_from_the_wallets_file(mine, c, tmp_path)
    key = new_api_key("GD-BANK-1")
    c.registry.register_verifier(c.admins[GD], "GD-BANK-1", GD, Account.create().address, api_key_hash(key))
    mirror.sync()
    payloads = []
    for page in (mine, copy):
        present(page, docs[0]["hash"], ["name", "sex"], "EMPLOYMENT", "入职")
        payloads.append(shown_payload(page))

    home = tmp_path / "home"
    save_deployment(c, home)
    settings = ApiSettings(home=home, deployment=home / "deployment.json", rpc_url=c.chain.url, db_url=mirror.url)
    auth = {"authorization": f"Bearer {key}"}
    with checked_client(create_app(settings)) as client:
        body = client.post("/v1/verify", json={"payload": payloads[0]}, headers=auth).json()
        assert body["verdict"] == "VALID", body
        holder = next(x for x in body["checks"] if x["name"] == "holder")
        assert (holder["outcome"], holder["code"]) == ("PASS", "OK")
        assert body["disclosed_fields"] == {"name": docs[0]["fields"]["name"], "sex": docs[0]["fields"]["sex"]}
        assert sorted(body["hidden_fields"]) == sorted(set(docs[0]["fields"]) - {"name", "sex"})
        p = decode(payloads[0])
        assert body["presentation"] == {
            "purpose": "EMPLOYMENT",
            "purpose_text": "入职",
            "issued_at": p.issued_at,
            "expires_at": p.expires_at,
        }
        stolen = client.post("/v1/verify", json={"payload": payloads[1]}, headers=auth).json()
        holder = next(x for x in stolen["checks"] if x["name"] == "holder")
        assert stolen["verdict"] == "INVALID" and holder["code"] == "HOLDER_KEY_MISMATCH"
        # the holder finds the receipt of its presentation by the tag its wallet computed
        found = client.get("/v1/receipts", params={"tag": "0x" + p.receipt_tag.hex()}).json()["receipts"]
        assert [(x["verdict"], x["purpose"], x["fields"]) for x in found] == [("VALID", "EMPLOYMENT", ["name", "sex"])]

    source = MirrorSource(mirror.queries, max_staleness_seconds=3600)
    later = Verifier(source, c.deployment, clock=lambda: time.time() + DEFAULT_LIFETIME + 31 + 2)
    result = later.verify_presentation(payloads[0])
    holder_check = next(x for x in result.checks if x.name == "holder")
    assert result.verdict.value == "EXPIRED" and holder_check.code == "PRESENTATION_EXPIRED"
    assert next(x for x in result.checks if x.name == "validity_period").outcome.value == "PASS"


def test_the_wallets_receipts_panel_shows_a_real_verification_waiting_then_anchored_and_an_altered_one(
    open_wallet, issued: tuple, tmp_path: Path
) -> None:
    """Wallet → the agency binds it → a registered verifier POSTs the wallet's QR code to
    /v1/verify twice (two receipts) → the wallet's Receipts panel, asking the real API with its
    tags, shows both waiting; the verifier's anchorer seals and anchors them → "anchored in block
    N" with the block of the ReceiptsAnchored transaction, after the browser checked each proof;
    one receipt altered in the verifier's database → shown as not matching its batch."""
    from urllib.parse import urlsplit

    from api_helpers import GD, checked_client, save_deployment
    from eth_account import Account
    from sqlalchemy import create_engine, update

    from api.app import ApiSettings, create_app
    from ledger.receipts import ReceiptAnchorer, ReceiptStore, receipts
    from ledger.verifiers import api_key_hash, new_api_key

    c, docs, mirror = issued
    page = open_wallet()
    import_document(page, docs[0])
    page.wait_for_selector("[data-testid=cert]")
    _bind_from_the_wallets_file(page, c, tmp_path)
    key, account = new_api_key("GD-BANK-1"), Account.create()
    c.registry.register_verifier(c.admins[GD], "GD-BANK-1", GD, account.address, api_key_hash(key))
    mirror.sync()
    present(page, docs[0]["hash"], ["sex", "name"], "EMPLOYMENT", "入职")
    payload = shown_payload(page)
    tag = "0x" + decode(payload).receipt_tag.hex()
    page.click("[data-testid=present-stop]")
    assert stored_tags(page, docs[0]["hash"]) == [tag]

    home = tmp_path / "home"
    save_deployment(c, home)
    settings = ApiSettings(home=home, deployment=home / "deployment.json", rpc_url=c.chain.url, db_url=mirror.url)
    asked: list[str] = []
    with checked_client(create_app(settings)) as client:

        def through_the_api(route) -> None:  # the page's GET /v1/receipts, answered by the real API
            url = urlsplit(route.request.url)
            asked.append(url.query)
            r = client.get(f"{url.path}?{url.query}")
            route.fulfill(status=r.status_code, content_type=r.headers["content-type"], body=r.content)

        page.route("**/v1/receipts*", through_the_api)
        for _ in range(2):
            body = client.post("/v1/verify", json={"payload": payload}, headers={"authorization": f"Bearer {key}"})
            assert body.json()["verdict"] == "VALID", body.json()

        open_receipts(page, docs[0]["hash"])
        assert asked == [f"tag={tag}"]  # only the tag
        got = shown_receipts(page)
        assert [g["state"] for g in got] == ["waiting", "waiting"] and {g["tag"] for g in got} == {tag}
        assert got[0]["status"] == "等待上链"
        facts = got[0]["facts"]
        assert (facts["verifier"], facts["region"], facts["purpose"]) == (
            "GD-BANK-1",
            "广东省（440000）",
            "就业 — 入职",
        )
        assert (facts["fields"], facts["verdict"]) == ("姓名、性别", "有效")
        assert re.fullmatch(r"北京时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", facts["time"])

        # the verifier's anchorer seals the two receipts and anchors their root on chain
        store = ReceiptStore(create_engine(mirror.url))
        (batch,) = ReceiptAnchorer(store, c.registry, "GD-BANK-1", account, every=0).run_once()
        proofs = store.by_tags([bytes.fromhex(tag[2:])])
        assert batch.size == 2 and all(p.proves() and p.block is not None for p in proofs)
        block, tx = proofs[0].block, proofs[0].tx
        assert c.registry.receipts_anchored("GD-BANK-1", batch.root) == (tx, block)
        open_receipts(page, docs[0]["hash"])
        got = shown_receipts(page)
        assert [(g["state"], g["block"]) for g in got] == [("anchored", str(block))] * 2
        assert got[0]["status"] == f"已上链：区块 {block}（交易 0x{tx.hex()[:6]}…{tx.hex()[-6:]}）"

        # one receipt altered in the verifier's database: its proof no longer leads to the root
        with store.engine.begin() as conn:
            first = min(r.id for r in conn.execute(receipts.select()))
            conn.execute(update(receipts).where(receipts.c.id == first).values(fields='["name"]'))
        assert not store.audit(batch.id)
        open_receipts(page, docs[0]["hash"])
        got = shown_receipts(page)
        assert sorted(g["state"] for g in got) == ["anchored", "mismatch"]
        bad = next(g for g in got if g["state"] == "mismatch")
        assert bad["block"] is None and "已上链" not in bad["status"] and bad["facts"]["fields"] == "姓名"
        assert bad["status"].startswith("与其上链批次不符")
        assert "1 条与其上链批次不符" in page.inner_text("[data-testid=receipts-status]")
        store.engine.dispose()
    assert not page.problems, page.problems


def test_the_counter_page_checks_the_wallets_presentation_through_the_ledger(
    open_wallet, issued: tuple, tmp_path: Path
) -> None:
    """The whole counter flow in the browser: the wallet presents (its key bound by the agency),
    the counter page in counter mode scans it — refused and explained without the organisation's
    key, VALID with it, showing only the chosen fields and the purpose — answered by the real API
    on a real chain."""
    from urllib.parse import urlsplit

    from api_helpers import GD, checked_client, save_deployment
    from eth_account import Account

    from api.app import ApiSettings, create_app
    from ledger.verifiers import api_key_hash, new_api_key

    c, docs, mirror = issued
    wallet = open_wallet()
    import_document(wallet, docs[0])
    wallet.wait_for_selector("[data-testid=cert]")
    _bind_from_the_wallets_file(wallet, c, tmp_path)
    key = new_api_key("GD-BANK-1")
    c.registry.register_verifier(c.admins[GD], "GD-BANK-1", GD, Account.create().address, api_key_hash(key))
    mirror.sync()
    present(wallet, docs[0]["hash"], ["name"], "BANKING", "开户")
    payload = shown_payload(wallet)

    home = tmp_path / "home"
    save_deployment(c, home)
    settings = ApiSettings(home=home, deployment=home / "deployment.json", rpc_url=c.chain.url, db_url=mirror.url)
    sent: list[str | None] = []
    with checked_client(create_app(settings)) as client:

        def through_the_api(route) -> None:  # the page's POST /v1/verify, answered by the real API
            request = route.request
            url = urlsplit(request.url)
            headers = {k: v for k, v in request.headers.items() if k in ("content-type", "authorization")}
            sent.append(headers.get("authorization"))
            r = client.post(f"{url.path}?{url.query}", content=request.post_data_buffer, headers=headers)
            route.fulfill(status=r.status_code, content_type=r.headers["content-type"], body=r.content)

        counter = open_wallet("/verify?mode=counter&verifier_region=330000")
        counter.route("**/v1/verify*", through_the_api)
        scan = counter.locator("[data-testid=scan-input]")
        scan.fill(payload)
        scan.press("Enter")
        counter.wait_for_selector("[data-testid=error]:not([hidden])")
        assert "已登记的核验机构" in counter.inner_text("[data-testid=error]")
        counter.fill("[data-testid=api-key]", key)
        counter.dispatch_event("[data-testid=api-key]", "change")
        scan.fill(payload)
        scan.press("Enter")
        counter.wait_for_selector("[data-testid=verdict][data-verdict=VALID]:not([hidden])", timeout=15_000)
        text = counter.inner_text("main")
        assert docs[0]["fields"]["name"] in text and "开户" in text
        assert all(docs[0]["fields"][f] not in text for f in ("idNumber", "address") if f in docs[0]["fields"])
        assert sent == [None, f"Bearer {key}"]
        shoot(counter, "counter-presentation-zh.png")
