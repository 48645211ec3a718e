"""Drive the /verify page in headless Chromium against tests/web/stub_server.py.

Manual check, not part of the pytest suite (its name does not start with test_). Needs
Playwright in a separate venv and Debian's chromium:

    python3 -m venv /tmp/pw-venv && /tmp/pw-venv/bin/pip install playwright==1.65.2
    apt-get install -y chromium fonts-noto-cjk
    /tmp/pw-venv/bin/python tests/web/drive.py

The stub runs under the project's .venv (for segno, zxing-cpp and ledger.qr). Screenshots go
to tests/web/screenshots/. Prints one line per check and "N passed, N failed" at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"
SHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

RESULTS: list[tuple[str, bool, str]] = []
TRICKY: list[str] = []  # a real payload holding both "+" and " "


def check(name: str):
    def wrap(fn):
        def run(*a, **kw):
            try:
                fn(*a, **kw)
                RESULTS.append((name, True, ""))
                print(f"PASS {name}", flush=True)
            except Exception as exc:  # noqa: BLE001
                RESULTS.append((name, False, f"{type(exc).__name__}: {exc}"))
                print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc()

        return run

    return wrap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_assets(tmp: Path) -> dict[str, object]:
    """A real compact payload, its QR PNG, a JPEG of it, a blank PNG and a Y4M camera feed."""
    code = r"""
import json, os, sys
from pathlib import Path
import segno
from PIL import Image
from ledger.qr import compact_payload
tmp = Path(sys.argv[1])
payload = compact_payload(bytes(range(32)), "ID_CARD", 440000)
segno.make_qr(payload, error="m").save(str(tmp / "qr.png"), scale=4)
# a photo-like JPEG: the code small inside a larger grey picture
img = Image.open(tmp / "qr.png").convert("RGB")
photo = Image.new("RGB", (1600, 1200), (170, 168, 160))
photo.paste(img.resize((img.width * 3, img.height * 3), Image.NEAREST), (500, 300))
photo.save(tmp / "photo.jpg", quality=85)
Image.new("RGB", (300, 300), (255, 255, 255)).save(tmp / "blank.png")
Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3)).save(tmp / "noise.png")  # ~10 MB
Image.new("RGB", (300, 300), (255, 255, 255)).save(tmp / "blank.jpg")
segno.make_qr("https://example.org/not-a-certificate", error="m").save(str(tmp / "other.png"), scale=4)
# a fake camera: one 640x480 4:2:0 frame (Chromium loops it)
frame = Image.new("RGB", (640, 480), (235, 235, 230))
q = Image.open(tmp / "qr.png").convert("RGB")
q = q.resize((q.width * 2, q.height * 2), Image.NEAREST)
frame.paste(q, ((640 - q.width) // 2, (480 - q.height) // 2))
y, cb, cr = frame.convert("YCbCr").split()
cb = cb.resize((320, 240)); cr = cr.resize((320, 240))
with open(tmp / "camera.y4m", "wb") as f:
    f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
    for _ in range(2):
        f.write(b"FRAME\n" + y.tobytes() + cb.tobytes() + cr.tobytes())
import hashlib
tricky = next(p for p in (compact_payload(hashlib.sha256(bytes([i])).digest(), "ID_CARD", 440000) for i in range(256))
              if "+" in p and " " in p)  # Base45 with both "+" and " ": URL encodings must keep them apart
print(json.dumps({"payload": payload, "tricky": tricky}))
"""
    out = subprocess.run(
        [str(VENV_PY), "-c", code, str(tmp)], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout)


def requests_seen(base: str) -> list[dict]:
    with urllib.request.urlopen(base + "/_stub/requests") as r:
        return json.load(r)


def reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(base + "/_stub/reset", method="POST")).read()


CONTRAST_JS = r"""
(sel) => {
  const parse = (s) => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return {r:p[0], g:p[1], b:p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = (node) => { for (let n = node; n; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
    if (c && c.a > 0) return c; } return {r:255, g:255, b:255, a:1}; };
  const out = [];
  for (const node of document.querySelectorAll(sel)) {
    if (!node.offsetParent && getComputedStyle(node).position !== 'fixed') continue;
    const fg = parse(getComputedStyle(node).color), bg = bgOf(node);
    const L1 = lum(fg), L2 = lum(bg);
    out.push({text: (node.textContent || '').trim().slice(0, 30), ratio: (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05),
              size: parseFloat(getComputedStyle(node).fontSize)});
  }
  return out;
}
"""

TEXT_SELECTORS = "h1, h2, h3, p, label, button, .btn, dt, dd, .check-name, .check-state, .check-detail, .verdict-word, .verdict-code, select, textarea, .error-title, .error-message, a.skip"


def min_contrast(page: Page) -> tuple[float, str]:
    items = page.evaluate(CONTRAST_JS, TEXT_SELECTORS)
    worst = min(items, key=lambda i: i["ratio"])
    return worst["ratio"], worst["text"]


def verdict_of(page: Page) -> str:
    page.wait_for_selector("[data-testid=verdict]:not([hidden])", timeout=10000)
    return page.get_attribute("[data-testid=verdict]", "data-verdict")


def wait_verdict(page: Page, verdict: str, timeout: int = 10000) -> None:
    page.wait_for_selector(f"[data-testid=verdict][data-verdict={verdict}]:not([hidden])", timeout=timeout)


def paste_and_verify(page: Page, text: str) -> None:
    page.fill("[data-testid=payload]", text)
    page.click("[data-testid=verify-button]")


def main() -> int:
    SHOTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="verify-web-"))
    assets = make_assets(tmp)
    real_payload = assets["payload"]
    TRICKY.append(assets["tricky"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stub = subprocess.Popen(
        [str(VENV_PY), str(HERE / "stub_server.py"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(base + "/verify").read()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            run_page_checks(browser, base, tmp, real_payload)
            browser.close()
            cam_browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=ARGS
                + [
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={tmp / 'camera.y4m'}",
                ],
            )
            run_camera_checks(cam_browser, base, real_payload)
            cam_browser.close()
    finally:
        stub.terminate()
        stub.wait(5)
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def new_page(browser, base: str, path="/verify", viewport=(1280, 900), storage=None):
    ctx = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN", device_scale_factor=1
    )
    page = ctx.new_page()
    page.console_messages = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: (
            page.console_messages.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.console_messages.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    return ctx, page


def run_page_checks(browser, base: str, tmp: Path, real_payload: str) -> None:
    ctx, page = new_page(browser, base)

    @check("loads in Chinese by default, no console errors or CSP violations")
    def _():
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert page.title().startswith("证书核验"), page.title()
        assert page.inner_text("[data-testid=verify-button]") == "核验"
        assert page.is_hidden("[data-testid=verdict]")
        assert page.is_hidden("[data-testid=error]")
        assert float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 18
        for tid in (
            "verdict",
            "upload",
            "payload",
            "verify-button",
            "region",
            "lang-toggle",
            "contrast-toggle",
            "checks",
            "error",
        ):
            assert page.locator(f"[data-testid={tid}]").count() == 1, tid
        assert not page.console_messages, page.console_messages  # type: ignore[attr-defined]

    _()

    @check("VALID (zh): large verdict, icon, word, code, checks, facts, disclosed and hidden fields")
    def _():
        reset(base)
        paste_and_verify(page, "CLC1:DEMO-VALID")
        assert verdict_of(page) == "VALID"
        text = page.inner_text("[data-testid=verdict]")
        assert "有效" in text and "VALID" in text, text
        assert page.locator("[data-testid=verdict] svg").count() == 1
        assert page.get_attribute("[data-testid=verdict]", "data-tone") == "ok"
        assert page.locator("[data-testid=checks] li").count() == 7
        checks = page.inner_text("[data-testid=checks]")
        for word in (
            "完整性",
            "已上链",
            "签发机构授权",
            "签名密钥有效",
            "状态",
            "有效期",
            "跨区域认可",
            "通过",
        ):
            assert word in checks, word
        facts = page.inner_text("[data-testid=facts]")
        for word in ("居民身份证", "广东省", "GD-PSB", "第 12 块", "2026-01-01 至 2036-01-01"):
            assert word in facts, word
        fields = page.inner_text("[data-testid=fields]")
        assert "男" in fields, fields  # enum value shown in words
        assert "姓名" in fields and "张三" in fields and "未公开" in fields and "住址" in fields, fields
        assert "证书已记录在区块链上。" in checks, checks  # the check's code, in Chinese
        assert "技术细节：anchored in block 12" in checks, checks  # the API's own detail, marked
        live = page.inner_text("[data-testid=live]")
        assert "有效" in live, live
        assert page.evaluate("document.activeElement.dataset.testid") == "verdict"
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)")
        assert size >= 40, size
        req = requests_seen(base)[-1]
        assert req["body"] == {"payload": "CLC1:DEMO-VALID"} and req["query"] == "", req
        page.screenshot(path=str(SHOTS / "valid_zh.png"), full_page=True)

    _()

    @check("every verdict renders with its tone, icon and word (zh and en)")
    def _():
        tones = {
            "VALID": "ok",
            "REVOKED": "bad",
            "SUSPENDED": "warn",
            "EXPIRED": "warn",
            "NOT_RECOGNIZED": "warn",
            "INVALID": "bad",
            "UNKNOWN": "grey",
            "ERROR": "error",
        }
        words = {
            "VALID": "有效",
            "REVOKED": "已撤销",
            "SUSPENDED": "已暂停",
            "EXPIRED": "已过期",
            "NOT_RECOGNIZED": "本地区不予认可",
            "INVALID": "无效/被篡改",
            "UNKNOWN": "未登记",
            "ERROR": "暂时无法核验",
        }
        for v, tone in tones.items():
            paste_and_verify(page, f"CLC1:DEMO-{v}")
            wait_verdict(page, v)
            assert page.get_attribute("[data-testid=verdict]", "data-tone") == tone, v
            t = page.inner_text("[data-testid=verdict]")
            assert words[v] in t and v in t, t
            ratio, what = min_contrast(page)
            assert ratio >= 4.5, (v, ratio, what)
            page.locator("[data-testid=verdict]").screenshot(path=str(SHOTS / f"verdict_{v.lower()}_zh.png"))
        # UNKNOWN has "not checked" items
        paste_and_verify(page, "CLC1:DEMO-UNKNOWN")
        wait_verdict(page, "UNKNOWN")
        assert page.locator("[data-testid=checks] li[data-ok=null]").count() == 5
        assert "未检查" in page.inner_text("[data-testid=checks]")

    _()

    @check("language toggle: English everywhere, <html lang>, re-renders the result, remembered")
    def _():
        page.click("[data-testid=lang-toggle]")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.inner_text("[data-testid=verify-button]") == "Verify"
        assert page.inner_text("[data-testid=lang-toggle]") == "中文"
        assert "Not found on the ledger" in page.inner_text("[data-testid=verdict]")
        assert page.title().startswith("Certificate check")
        body = page.inner_text("body")
        han = [ch for ch in body if "\u4e00" <= ch <= "\u9fff"]
        # only the toggle's own label "中文" may remain in Chinese
        assert "".join(han) == "中文", "".join(han)
        reset(base)
        paste_and_verify(page, "CLC1:DEMO-REVOKED")
        assert verdict_of(page) == "REVOKED"
        wait_verdict(page, "REVOKED")
        t = page.inner_text("[data-testid=verdict]")
        assert "Revoked" in t and "REVOKED" in t
        checks = page.inner_text("[data-testid=checks]")
        assert (
            "Status" in checks
            and "failed" in checks
            and "revoked (certificate, reason CERTIFICATE_WITHDRAWN" in checks
        ), checks
        assert "hidden" in page.inner_text("[data-testid=fields]")
        assert requests_seen(base)[-1]["accept_language"].startswith("en")
        page.screenshot(path=str(SHOTS / "revoked_en.png"), full_page=True)
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == "en"

    _()

    @check("region: chosen, sent as ?verifier_region=, remembered; 'any' omits it; change re-verifies")
    def _():
        page.select_option("[data-testid=region]", "330000")  # re-verifies the last input
        time.sleep(0.5)
        reset(base)
        paste_and_verify(page, "CLC1:DEMO-NOT_RECOGNIZED")
        assert verdict_of(page) == "NOT_RECOGNIZED"
        wait_verdict(page, "NOT_RECOGNIZED")
        assert requests_seen(base)[-1]["query"] == "verifier_region=330000"
        assert "Zhejiang" in page.inner_text("#verdict-explain")
        page.select_option("[data-testid=region]", "")
        time.sleep(0.5)
        seen = requests_seen(base)
        assert len(seen) == 2 and seen[-1]["query"] == "", seen  # re-verified without the parameter
        page.select_option("[data-testid=region]", "110000")
        time.sleep(0.5)
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.eval_on_selector("[data-testid=region]", "e => e.value") == "110000"

    _()

    @check("4xx: the message is shown plainly in the error box, no verdict")
    def _():
        paste_and_verify(page, "CLC1:DEMO-HTTP400")
        page.wait_for_selector("[data-testid=error]:not([hidden])")
        msg = page.inner_text("[data-testid=error]")
        assert "not a valid CertLedger certificate QR code" in msg, msg  # the code, in the page's language
        assert "not a CertLedger QR payload" in msg and "MALFORMED_PAYLOAD" in msg, msg  # the API's words
        assert page.is_hidden("[data-testid=verdict]")
        assert page.get_attribute("[data-testid=verdict]", "data-verdict") == ""
        paste_and_verify(page, "CLC1:DEMO-HTTP418")  # a code the page does not know: message as is
        page.wait_for_selector("[data-testid=error]:has-text('a new kind of input problem')")

    _()

    @check("not ours / bad JSON / empty: local message, nothing sent")
    def _():
        reset(base)
        for text, expect in (
            ("hello world", "should start with CLC1: or CLF1:"),
            ('{"a": ', "JSON is malformed"),
            ("", "Paste the QR content"),
        ):
            paste_and_verify(page, text)
            page.wait_for_selector("[data-testid=error]:not([hidden])")
            assert expect in page.inner_text("[data-testid=error]"), page.inner_text("[data-testid=error]")
        assert requests_seen(base) == []

    _()

    @check("pasted request bodies are unwrapped: {payload: ...} and {document: ...}")
    def _():
        reset(base)
        paste_and_verify(page, '{"payload": "CLC1:DEMO-SUSPENDED"}')
        wait_verdict(page, "SUSPENDED")
        paste_and_verify(page, '{"document": {"format": "certledger/1", "demo": "EXPIRED"}}')
        wait_verdict(page, "EXPIRED")
        seen = requests_seen(base)
        assert seen[0]["body"] == {"payload": "CLC1:DEMO-SUSPENDED"}, seen[0]
        assert seen[1]["body"] == {"document": {"format": "certledger/1", "demo": "EXPIRED"}}, seen[1]
        assert "NOT verified" not in page.inner_text("#fields-block")
        # after INVALID, what the document claims is marked as not verified
        paste_and_verify(page, '{"format": "certledger/1", "demo": "INVALID"}')
        wait_verdict(page, "INVALID")
        assert "NOT verified" in page.inner_text("#fields-heading"), page.inner_text("#fields-heading")
        assert page.evaluate("document.querySelector('#fields-block').classList.contains('untrusted')")
        page.locator("#result").screenshot(path=str(SHOTS / "invalid_fields_en.png"))

    _()

    @check(
        "pasted JSON document -> {document: ...}; disclosed fields labelled; Enter inside JSON is a newline"
    )
    def _():
        reset(base)
        page.fill("[data-testid=payload]", '{"format": "certledger/1", "type": "BUSINESS_LICENSE",')
        page.focus("[data-testid=payload]")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        assert page.eval_on_selector("[data-testid=payload]", "e => e.value").endswith("\n")
        assert requests_seen(base) == []
        paste_and_verify(
            page,
            json.dumps(
                {
                    "format": "certledger/1",
                    "type": "BUSINESS_LICENSE",
                    "fields": {"companyName": "杭州示例科技有限公司"},
                    "hidden": {"address": "0x00"},
                }
            ),
        )
        assert verdict_of(page) == "VALID"
        page.wait_for_selector("[data-testid=fields]:has-text('Company name')")
        req = requests_seen(base)[-1]
        assert req["kind"] == "document" and req["body"]["document"]["type"] == "BUSINESS_LICENSE"
        f = page.inner_text("[data-testid=fields]")
        assert "Company name" in f and "杭州示例科技有限公司" in f and "Domicile" in f and "hidden" in f, f

    _()

    @check("ERROR state: network failure, 500, 503, HTML 500, timeout-free retry; never looks like INVALID")
    def _():
        page.route("**/v1/verify*", lambda route: route.abort("connectionrefused"))
        paste_and_verify(page, "CLC1:DEMO-VALID")
        wait_verdict(page, "ERROR")
        assert page.get_attribute("[data-testid=verdict]", "data-tone") == "error"
        assert "Cannot verify right now" in page.inner_text("[data-testid=verdict]")
        assert "cannot be reached" in page.inner_text("#verdict-message")
        assert page.is_visible("[data-testid=retry-button]")
        assert page.is_hidden("[data-testid=error]")
        bg = page.eval_on_selector("[data-testid=verdict]", "e => getComputedStyle(e).backgroundColor")
        assert bg not in ("rgb(164, 32, 26)",), bg
        page.screenshot(path=str(SHOTS / "error_en.png"), full_page=True)
        page.unroute("**/v1/verify*")
        page.click("[data-testid=retry-button]")
        wait_verdict(page, "VALID")
        for payload, msg in (
            ("CLC1:DEMO-HTTP500", "internal error"),
            ("CLC1:DEMO-HTTP503", "temporarily unable"),
            ("CLC1:DEMO-HTML500", "(500)"),
        ):
            paste_and_verify(page, payload)
            wait_verdict(page, "ERROR")
            assert msg in page.inner_text("#verdict-message"), page.inner_text("#verdict-message")
            assert page.is_hidden("[data-testid=error]")
        # a 200 answer with verdict ERROR (mirror too far behind): the source's reason is shown
        paste_and_verify(page, "CLC1:DEMO-ERROR")
        wait_verdict(page, "ERROR")
        page.wait_for_selector("#verdict-message:has-text('240 blocks behind')")
        assert page.locator("[data-testid=checks] li[data-ok=false]").count() == 0

    _()

    @check("stale answers are ignored: a slow VALID does not overwrite a later result")
    def _():
        paste_and_verify(page, "CLC1:DEMO-SLOW")
        page.wait_for_selector("#result-busy:not([hidden])")
        assert page.is_disabled("[data-testid=verify-button]")
        page.evaluate("document.querySelector('#paste-form').requestSubmit = null")
        page.fill("[data-testid=payload]", "CLC1:DEMO-REVOKED")
        page.focus("[data-testid=payload]")
        page.keyboard.press("Enter")  # a handheld scanner's Enter: verifies, focus stays
        wait_verdict(page, "REVOKED")
        time.sleep(1.8)
        assert page.get_attribute("[data-testid=verdict]", "data-verdict") == "REVOKED"
        assert page.evaluate("document.activeElement.dataset.testid") == "payload"

    _()

    @check("upload: a real QR PNG is decoded in the browser (JSON payload sent, not the image)")
    def _():
        reset(base)
        page.set_input_files("[data-testid=upload]", str(tmp / "qr.png"))
        assert verdict_of(page) in ("VALID", "")
        wait_verdict(page, "VALID")
        req = requests_seen(base)[-1]
        assert req["kind"] == "payload" and req["body"]["payload"] == real_payload, req
        assert "ID card" in page.inner_text(
            "[data-testid=facts]"
        ) or "Resident Identity Card" in page.inner_text("[data-testid=facts]")

    _()

    @check("upload: a JPEG photo with a small QR is decoded in the browser")
    def _():
        reset(base)
        page.set_input_files("[data-testid=upload]", str(tmp / "photo.jpg"))
        wait_verdict(page, "VALID")
        req = requests_seen(base)[-1]
        assert req["kind"] == "payload" and req["body"]["payload"] == real_payload, req

    _()

    @check("upload: no QR found in the browser -> multipart 'image' to the server -> its 4xx shown")
    def _():
        reset(base)
        page.set_input_files("[data-testid=upload]", str(tmp / "blank.png"))
        page.wait_for_selector("[data-testid=error]:not([hidden])")
        assert "no QR code found" in page.inner_text("[data-testid=error]")
        req = requests_seen(base)[-1]
        assert (
            req["kind"] == "image"
            and req["content_type"] == "multipart/form-data"
            and req["filename"] == "blank.png"
        ), req

    _()

    @check("upload: a picture over the API's 4 MiB limit is shrunk to JPEG before the fallback upload")
    def _():
        reset(base)
        assert (tmp / "noise.png").stat().st_size > 4 * 1024 * 1024
        page.set_input_files("[data-testid=upload]", str(tmp / "noise.png"))
        page.wait_for_selector("[data-testid=error]:not([hidden])", timeout=30000)
        assert "NO_QR_FOUND" in page.inner_text("[data-testid=error]"), page.inner_text("[data-testid=error]")
        req = requests_seen(base)[-1]
        assert req["kind"] == "image" and req["filename"] == "noise.jpg", req
        assert int(req["body"].split()[0]) <= 3.5 * 1024 * 1024, req

    _()

    @check("upload: decoder unavailable -> server decodes the image -> VALID")
    def _():
        reset(base)
        ctx2, p2 = new_page(browser, base)
        p2.route("**/static/vendor/jsQR.js", lambda route: route.abort())
        p2.set_input_files("[data-testid=upload]", str(tmp / "qr.png"))
        wait_verdict(p2, "VALID")
        req = requests_seen(base)[-1]
        assert req["kind"] == "image", req
        ctx2.close()

    _()

    @check("upload: a QR that is not ours is refused locally; a text file is refused")
    def _():
        reset(base)
        page.set_input_files("[data-testid=upload]", str(tmp / "other.png"))
        page.wait_for_selector("[data-testid=error]:not([hidden])")
        assert "not a CertLedger" in page.inner_text("[data-testid=error]")
        bad = tmp / "note.txt"
        bad.write_text("hello")
        page.set_input_files("[data-testid=upload]", str(bad))
        page.wait_for_selector("[data-testid=error]:has-text('PNG or JPEG')")
        assert requests_seen(base) == []

    _()

    @check("large-text / high-contrast mode: 24px base, verdict >= 48px, AA contrast, remembered")
    def _():
        paste_and_verify(page, "CLC1:DEMO-VALID")
        wait_verdict(page, "VALID")
        page.click("[data-testid=contrast-toggle]")
        assert page.get_attribute("[data-testid=contrast-toggle]", "aria-pressed") == "true"
        assert page.evaluate("document.documentElement.classList.contains('large')")
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 24
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)")
        assert size >= 48, size
        ratio, what = min_contrast(page)
        assert ratio >= 7, (ratio, what)
        page.screenshot(path=str(SHOTS / "large_valid_en.png"), full_page=True)
        page.click("[data-testid=lang-toggle]")
        paste_and_verify(page, "CLC1:DEMO-SUSPENDED")
        wait_verdict(page, "SUSPENDED")
        assert "自 2026-11-01 起暂停" in page.inner_text("[data-testid=checks]")  # localised detail
        page.screenshot(path=str(SHOTS / "large_suspended_zh.png"), full_page=True)
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.classList.contains('large')")
        page.click("[data-testid=contrast-toggle]")  # back to normal for the next checks

    _()

    @check("normal mode contrast >= 4.5:1 on every text element")
    def _():
        paste_and_verify(page, "CLC1:DEMO-VALID")
        wait_verdict(page, "VALID")
        ratio, what = min_contrast(page)
        assert ratio >= 4.5, (ratio, what)

    _()
    ctx.close()

    @check(
        "URL: ?verifier_region=&lang=en&payload= verifies at once and drops the payload from the address bar"
    )
    def _():
        reset(base)
        ctx3, p3 = new_page(
            browser, base, "/verify?verifier_region=330000&lang=en&payload=CLC1%3ADEMO-EXPIRED"
        )
        wait_verdict(p3, "EXPIRED")
        assert p3.evaluate("document.documentElement.lang") == "en"
        assert p3.eval_on_selector("[data-testid=region]", "e => e.value") == "330000"
        assert requests_seen(base)[-1]["query"] == "verifier_region=330000"
        assert "payload" not in p3.url and "lang=en" in p3.url, p3.url
        ctx3.close()
        # a real payload with '+' or spaces, percent-encoded; and #payload= keeps it out of server logs
        from urllib.parse import quote

        reset(base)
        ctx4, p4 = new_page(browser, base, "/verify#payload=" + quote(TRICKY[0], safe=""))
        wait_verdict(p4, "VALID")
        assert requests_seen(base)[-1]["body"]["payload"] == TRICKY[0]
        assert p4.evaluate("document.documentElement.lang") == "zh-CN"
        ctx4.close()
        # form encoding (Python's urlencode): space as "+", "+" as %2B
        from urllib.parse import urlencode

        for payload in (real_payload, TRICKY[0]):
            reset(base)
            ctx5, p5 = new_page(browser, base, "/verify?" + urlencode({"payload": payload, "lang": "en"}))
            wait_verdict(p5, "VALID")
            assert requests_seen(base)[-1]["body"]["payload"] == payload
            ctx5.close()

    _()

    @check("QR text that is a URL with ?payload= is accepted")
    def _():
        from urllib.parse import quote

        reset(base)
        ctx5, p5 = new_page(browser, base)
        paste_and_verify(p5, f"https://verify.example.gov.cn/verify?payload={quote(real_payload, safe='')}")
        wait_verdict(p5, "VALID")
        assert requests_seen(base)[-1]["body"]["payload"] == real_payload
        ctx5.close()

    _()

    @check("phone (390x844): one column, no horizontal scroll, in both modes")
    def _():
        ctx6, p6 = new_page(browser, base, viewport=(390, 844))
        paste_and_verify(p6, "CLC1:DEMO-NOT_RECOGNIZED")
        wait_verdict(p6, "NOT_RECOGNIZED")
        assert p6.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), p6.evaluate(
            "document.documentElement.scrollWidth"
        )
        p6.screenshot(path=str(SHOTS / "phone_not_recognized_zh.png"), full_page=True)
        p6.click("[data-testid=contrast-toggle]")
        assert p6.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), p6.evaluate(
            "document.documentElement.scrollWidth"
        )
        p6.evaluate("window.scrollTo(0, document.querySelector('#result').offsetTop)")
        p6.screenshot(path=str(SHOTS / "phone_large_zh.png"))
        box = p6.eval_on_selector(
            "[data-testid=verdict]", "e => [e.getBoundingClientRect().right, e.scrollWidth, e.clientWidth]"
        )
        assert box[0] <= 390 and box[1] <= box[2], box  # nothing sticks out of the verdict box
        assert (
            p6.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)")
            >= 48
        )
        p6.click("[data-testid=lang-toggle]")
        paste_and_verify(p6, "CLC1:DEMO-HTTP503")
        wait_verdict(p6, "ERROR")
        assert p6.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        p6.screenshot(path=str(SHOTS / "phone_large_error_en.png"), full_page=True)
        ctx6.close()

    _()

    @check("keyboard: Tab reaches every control in order, file input focusable, focus visible")
    def _():
        ctx7, p7 = new_page(browser, base)
        seen = []
        for _ in range(12):
            p7.keyboard.press("Tab")
            seen.append(
                p7.evaluate(
                    "document.activeElement.dataset.testid || document.activeElement.id || document.activeElement.tagName"
                )
            )
        want = [
            "lang-toggle",
            "contrast-toggle",
            "region",
            "scan-button",
            "upload",
            "payload",
            "verify-button",
            "clear-button",
        ]
        order = [s for s in seen if s in want]
        assert order[: len(want)] == want, seen
        p7.focus("[data-testid=upload]")
        outline = p7.eval_on_selector("label.file-label", "e => getComputedStyle(e).outlineStyle")
        assert outline == "solid", outline
        # keyboard-only verify: type in the textarea and press Ctrl+Enter
        p7.focus("[data-testid=payload]")
        p7.keyboard.type("CLC1:DEMO-VALID")
        p7.keyboard.press("Control+Enter")
        wait_verdict(p7, "VALID")
        assert p7.evaluate("document.activeElement.dataset.testid") == "verdict"
        p7.keyboard.press("Shift+Tab")
        ctx7.close()

    _()

    @check("clear: wipes the payload, the result and the disclosed fields")
    def _():
        ctx8, p8 = new_page(browser, base)
        paste_and_verify(p8, "CLC1:DEMO-VALID")
        wait_verdict(p8, "VALID")
        p8.click("[data-testid=clear-button]")
        assert (
            p8.is_hidden("[data-testid=verdict]")
            and p8.eval_on_selector("[data-testid=payload]", "e => e.value") == ""
        )
        assert "张三" not in p8.inner_text("body")
        ctx8.close()

    _()

    @check("camera without a camera device: plain message, no crash")
    def _():
        ctx9, p9 = new_page(browser, base)
        p9.click("[data-testid=scan-button]")
        p9.wait_for_selector("[data-testid=scan-status]:has-text('摄像头')")
        msg = p9.inner_text("[data-testid=scan-status]")
        assert "摄像头" in msg, msg
        assert not [m for m in p9.console_messages if "pageerror" in m]  # type: ignore[attr-defined]
        ctx9.close()

    _()


def run_camera_checks(browser, base: str, real_payload: str) -> None:
    @check("camera: getUserMedia frames decoded with jsQR -> payload verified, camera stopped")
    def _():
        reset(base)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/verify?lang=en")
        page.click("[data-testid=scan-button]")
        wait_verdict(page, "VALID", timeout=15000)
        req = requests_seen(base)[-1]
        assert req["kind"] == "payload" and req["body"]["payload"] == real_payload, req
        assert page.is_hidden("#scan-view")
        assert page.evaluate("document.querySelector('#scan-video').srcObject === null")
        assert not errors, errors
        page.screenshot(path=str(SHOTS / "camera_valid_en.png"), full_page=True)
        ctx.close()

    _()

    @check("camera: live view with stop button while scanning")
    def _():
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["camera"])
        page = ctx.new_page()
        # hold verification so the camera view can be seen: make every frame "not ours"
        page.add_init_script(
            "Object.defineProperty(window, 'jsQR', {configurable: true, get(){ return window.__j; }, set(v){ window.__j = (...a) => { const r = v(...a); return r ? {...r, data: 'hello'} : r; }; }})"
        )
        page.goto(base + "/verify")
        page.click("[data-testid=scan-button]")
        page.wait_for_selector("#scan-view:not([hidden])")
        page.wait_for_selector("[data-testid=scan-status]:has-text('不是')", timeout=15000)
        page.screenshot(path=str(SHOTS / "phone_camera_zh.png"))
        page.click("#scan-stop")
        assert page.is_hidden("#scan-view")
        ctx.close()

    _()


if __name__ == "__main__":
    sys.exit(main())
