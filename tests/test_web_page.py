"""The citizens' page /verify in real headless Chromium (Debian's, driven by Playwright's sync
API) against tests/web/stub_server.py, a stand-in API with canned answers in the API's result
contract. One browser and one stub per test worker; every test gets a fresh browser context
(its own localStorage), so tests do not see each other's settings.

Covers every verdict and outcome, every language (real fonts, right-to-left Uyghur, vertical
Mongolian, no horizontal overflow at phone width in both text sizes), the language menu, the
verifying region (from /v1/regions; never from a URL that carries a payload), reading aloud
(browser voice, else the server's espeak-ng), the service counter (scanner wedge, tones,
auto-clear, today's counts), uploads, the camera, errors and accessibility. Screenshots of each
language go to .artifacts/screenshots/verify-<lang>.png (docs/screenshots/ with
CERTLEDGER_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from helpers import HOLD_LANGUAGE_FILES, ROOT, free_port, require_browser, wait_until

# Screenshots go to .artifacts/screenshots/ on every run; CERTLEDGER_UPDATE_SCREENSHOTS=1 writes
# them to docs/screenshots/ instead (the committed ones), so that a test run never edits the tree.
SHOTS = ROOT / ("docs" if os.environ.get("CERTLEDGER_UPDATE_SCREENSHOTS") == "1" else ".artifacts") / "screenshots"
LANGS = ["zh-CN", "en", "ug", "bo", "mn-Mong", "ko", "za"]
VERDICT_WORDS_ZH = {
    "VALID": "有效",
    "REVOKED": "已撤销",
    "SUSPENDED": "已暂停",
    "EXPIRED": "已过期",
    "NOT_RECOGNIZED": "本地区不予认可",
    "INVALID": "无效/被篡改",
    "UNKNOWN": "未登记",
    "INCOMPLETE": "未完全核验",
    "ERROR": "暂时无法核验",
}
TONES = {
    "VALID": "ok",
    "REVOKED": "bad",
    "SUSPENDED": "warn",
    "EXPIRED": "warn",
    "NOT_RECOGNIZED": "warn",
    "INVALID": "bad",
    "UNKNOWN": "grey",
    "INCOMPLETE": "incomplete",
    "ERROR": "error",
}


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def stub() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "web" / "stub_server.py"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def serving() -> bool:
        try:
            urllib.request.urlopen(base + "/verify", timeout=2).read()
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


class Stub:
    def __init__(self, base: str) -> None:
        self.base = base

    def requests(self, kind: str | None = None) -> list[dict]:
        with urllib.request.urlopen(self.base + "/_stub/requests") as r:
            seen = json.load(r)
        return [
            x for x in seen if kind is None or x.get("kind") == kind or (kind == "verify" and x["path"] == "/v1/verify")
        ]

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.base + "/_stub/reset", method="POST")).read()


@pytest.fixture
def api(stub: str) -> Stub:
    s = Stub(stub)
    s.reset()
    return s


@pytest.fixture
def open_page(browser: object, stub: str) -> Iterator:
    """open_page(path, width=1280, locale="zh-CN", storage={...}, init=JS, large=False) -> page."""
    contexts = []

    def make(
        path: str = "/verify",
        width: int = 1280,
        height: int = 900,
        locale: str = "zh-CN",
        storage: dict | None = None,
        init: str | None = None,
        large: bool = False,
        wait: bool = True,
    ):
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale, device_scale_factor=1, permissions=["camera"]
        )
        contexts.append(ctx)
        items = dict(storage or {})
        if large:
            items["certledger.verify.large"] = "1"
        if items:
            ctx.add_init_script(
                "if (!sessionStorage.getItem('seeded')) { sessionStorage.setItem('seeded', '1'); "
                + "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});" for k, v in items.items())
                + "}"
            )
        if init:
            ctx.add_init_script(init)
        page = ctx.new_page()
        page.problems = []
        page.on(
            "console", lambda m: page.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        page.goto(stub + path)
        if wait:
            page.wait_for_selector("html[data-ready]")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


# ---------------------------------------------------------------------- helpers


def verify(page, payload: str) -> None:
    page.fill("[data-testid=payload]", payload)
    page.click("[data-testid=verify-button]")


def wait_verdict(page, verdict: str, timeout: int = 10_000) -> None:
    page.wait_for_selector(f"[data-testid=verdict][data-verdict={verdict}]:not([hidden])", timeout=timeout)


def check_items(page) -> dict[str, dict]:
    return {
        c["name"]: c
        for c in page.eval_on_selector_all(
            "[data-testid=checks] li",
            "els => els.map(e => ({name: e.dataset.check, outcome: e.dataset.outcome, code: e.dataset.code, "
            "text: e.innerText, detailLang: (e.querySelector('.check-detail') || {}).lang || ''}))",
        )
    }


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
    if (!node.getClientRects().length) continue;
    const fg = parse(getComputedStyle(node).color), bg = bgOf(node);
    const L1 = lum(fg), L2 = lum(bg);
    out.push({text: (node.textContent || '').trim().slice(0, 30), ratio: (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05)});
  }
  return out;
}
"""
TEXT_SELECTORS = (
    "h1, h2, h3, p, label, button, .btn, dt, dd, li, .check-name, .check-state, .check-detail, .verdict-word, "
    ".verdict-code, .verdict-region, select, textarea, input, .error-title, .error-message, a.skip"
)


def min_contrast(page) -> tuple[float, str]:
    worst = min(page.evaluate(CONTRAST_JS, TEXT_SELECTORS), key=lambda i: i["ratio"])
    return worst["ratio"], worst["text"]


# A character is missing from every font when it draws exactly like the .notdef box of a
# code point no font has (U+E000 private use, U+0378 unassigned), or draws nothing at all.
GLYPHS_JS = r"""
(extra) => {
  const byFont = new Map();
  const add = (font, text) => { let s = byFont.get(font); if (!s) byFont.set(font, s = new Set()); for (const ch of text) s.add(ch); };
  if (extra) {
    add(extra.font, extra.text);
  } else {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const n = walker.currentNode, p = n.parentElement;
      if (!p || !p.getClientRects().length || !n.data.trim()) continue;
      const cs = getComputedStyle(p);
      add(`${cs.fontStyle} ${cs.fontWeight} 40px ${cs.fontFamily}`, n.data);
    }
  }
  const canvas = document.createElement('canvas'); canvas.width = 96; canvas.height = 96;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (font, ch) => {
    ctx.clearRect(0, 0, 96, 96); ctx.font = font; ctx.fillStyle = '#000'; ctx.textBaseline = 'middle';
    ctx.fillText(ch, 16, 48);
    const d = ctx.getImageData(0, 0, 96, 96).data; let ink = 0, h = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) { ink++; h = (Math.imul(h, 31) + i * d[i]) >>> 0; }
    return ink + ':' + h;
  };
  const skip = /[\s\p{Cc}\p{Cf}\p{Mn}\p{Me}\p{Zs}\u180b-\u180f]/u;
  const missing = []; let checked = 0;
  for (const [font, chars] of byFont) {
    const tofu = new Set([draw(font, '\uE000'), draw(font, '\u0378')]);
    for (const ch of chars) {
      if (skip.test(ch)) continue;
      checked++;
      const r = draw(font, ch);
      if (tofu.has(r) || r.startsWith('0:')) missing.push(ch + ' U+' + ch.codePointAt(0).toString(16).toUpperCase());
    }
  }
  return {checked, missing};
}
"""

OVERFLOW_JS = r"""
() => {
  const bad = [];
  const de = document.documentElement;
  if (de.scrollWidth > de.clientWidth) bad.push(`document ${de.scrollWidth} > ${de.clientWidth}`);
  const sels = ['.bar-inner', 'main', '.layout', '.card', '#result', '.verdict', '.verdict-more', '.keyfacts',
                '.checks', '.check', '.facts', '#hidden-block', '.counter-card', '.counts-list'];
  for (const sel of sels) for (const e of document.querySelectorAll(sel)) {
    if (!e.getClientRects().length) continue;
    const r = e.getBoundingClientRect();
    if (e.scrollWidth > e.clientWidth + 1) bad.push(`${sel} scroll ${e.scrollWidth} > ${e.clientWidth}`);
    // in the result, content taller than a box of limited height spills over what follows
    // (vertical text); menus elsewhere overlay the page on purpose
    if (e.closest('#result') && e.scrollHeight > e.clientHeight + 1 && getComputedStyle(e).overflowY === 'visible')
      bad.push(`${sel} spills ${e.scrollHeight} > ${e.clientHeight}`);
    if (r.right > de.clientWidth + 1 || r.left < -1) bad.push(`${sel} box ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return bad;
}
"""


def shoot(page, name: str, height: int = 1100) -> None:
    """The top of the result (verdict, region, key facts, first checks) as a small PNG."""
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    box = page.locator("#result").bounding_box()
    scroll = page.evaluate("window.scrollY")
    clip = {"x": box["x"], "y": box["y"] + scroll, "width": box["width"], "height": min(box["height"], height)}
    path = SHOTS / name
    page.screenshot(path=str(path), clip=clip, full_page=True)
    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def set_clear_seconds(page, seconds: int) -> None:
    page.fill("[data-testid=clear-seconds]", str(seconds))
    page.dispatch_event("[data-testid=clear-seconds]", "change")


TONE_SPY = """
window.__tones = [];
const _start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...a) { window.__tones.push({f: this.frequency.value, type: this.type}); return _start.apply(this, a); };
"""
AUDIO_SPY = """
window.__played = [];
HTMLMediaElement.prototype.play = function () { window.__played.push(this.src); return Promise.resolve(); };
"""


# ---------------------------------------------------------------------- loading, verdicts, checks


def test_page_loads_in_chinese_without_console_errors_or_csp_violations(open_page) -> None:
    page = open_page()
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["zh-CN", "ltr"]
    assert page.title().startswith("证书核验")
    assert page.inner_text("[data-testid=verify-button]") == "核验"
    assert page.is_hidden("[data-testid=verdict]") and page.is_hidden("[data-testid=error]")
    for tid in (
        "verdict",
        "upload",
        "payload",
        "verify-button",
        "region",
        "lang-button",
        "contrast-toggle",
        "counter-toggle",
        "checks",
        "error",
    ):
        assert page.locator(f"[data-testid={tid}]").count() == 1, tid
    assert not page.problems, page.problems


def test_valid_result_shows_verdict_region_checks_facts_and_fields(open_page, api) -> None:
    page = open_page("/verify?verifier_region=330000")
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    assert page.get_attribute("[data-testid=verdict]", "data-tone") == "ok"
    assert "有效" in page.inner_text("[data-testid=verdict]")
    assert page.inner_text("[data-testid=verdict-region]") == "核验地区：浙江省（330000）"
    checks = check_items(page)
    assert list(checks) == [
        "integrity",
        "anchored",
        "issuer_authorized",
        "key_valid",
        "status",
        "validity_period",
        "recognition",
    ]
    assert all(c["outcome"] == "PASS" for c in checks.values())
    assert "由 GD-PSB 于 北京时间 2026-11-28 16:00 记录在第 12 块。" in checks["anchored"]["text"]
    assert "浙江省（330000）认可广东省（440000）签发的居民身份证。" in checks["recognition"]["text"]
    assert "0x71C7656EC7ab88b098defB751B7401B5f6d8976F" in checks["key_valid"]["text"]
    keyfacts = page.inner_text("[data-testid=keyfacts]")
    for word in ("居民身份证", "广东省（440000）", "GD-PSB", "2026-01-01 至 2036-01-01"):
        assert word in keyfacts, word
    fields = page.inner_text("[data-testid=fields]")
    assert "张三" in fields and "男" in fields and "住址" not in fields
    # hidden fields: names only, in their own list, never among the facts with values
    hidden = page.eval_on_selector_all("[data-testid=hidden-fields] li", "els => els.map(e => e.dataset.hiddenField)")
    assert set(hidden) == {"address", "idNumber", "ethnicity"}
    assert "住址" in page.inner_text("[data-testid=hidden-fields]") and "未出示" in page.inner_text(
        "[data-testid=hidden-fields]"
    )
    assert page.locator("[data-testid=fields] [data-field=address]").count() == 0
    style = page.eval_on_selector("#hidden-block", "e => getComputedStyle(e).borderTopStyle")
    assert style == "dashed"
    assert "有效" in page.inner_text("[data-testid=live]")
    assert page.evaluate("document.activeElement.dataset.testid") == "verdict"
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)") >= 40
    assert api.requests("verify")[-1]["query"] == "verifier_region=330000"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_verdict_has_its_tone_icon_word_and_contrast(open_page, lang: str) -> None:
    page = open_page(f"/verify?lang={lang}")
    for verdict, tone in TONES.items():
        verify(page, f"CLC1:DEMO-{verdict}")
        wait_verdict(page, verdict)
        assert page.get_attribute("[data-testid=verdict]", "data-tone") == tone, verdict
        assert page.locator("[data-testid=verdict] svg").count() == 1
        text = page.inner_text("[data-testid=verdict]")
        assert verdict in text
        if lang == "zh-CN":
            assert VERDICT_WORDS_ZH[verdict] in text, text
        ratio, what = min_contrast(page)
        assert ratio >= 4.5, (verdict, ratio, what)


def test_incomplete_is_not_green_and_says_what_was_not_checked(open_page) -> None:
    page = open_page("/verify?lang=en")
    verify(page, "CLC1:DEMO-INCOMPLETE")
    wait_verdict(page, "INCOMPLETE")
    bg = page.eval_on_selector("[data-testid=verdict]", "e => getComputedStyle(e).backgroundColor")
    valid_bg = "rgb(13, 102, 48)"
    assert bg != valid_bg
    assert page.locator("[data-testid=verdict] circle[r='3']").count() == 1  # the "i" icon's dot
    explain = page.inner_text("[data-testid=verdict-explain]")
    assert (
        "the ledger record is in order" in explain.lower() and "content and validity period were not checked" in explain
    )
    assert "show the certificate file or its full QR code" in explain
    checks = check_items(page)
    assert checks["integrity"]["outcome"] == "SKIPPED" and "not checked" in checks["integrity"]["text"]
    assert "only the certificate's hash was given" in checks["integrity"]["text"]
    assert (
        checks["validity_period"]["outcome"] == "SKIPPED"
        and "validity dates are in the certificate file" in checks["validity_period"]["text"]
    )


def test_error_outcomes_say_could_not_check_and_unknown_codes_fall_back_to_english(open_page) -> None:
    page = open_page()
    verify(page, "CLC1:DEMO-ERROR")
    wait_verdict(page, "ERROR")
    checks = check_items(page)
    assert checks["status"]["outcome"] == "ERROR" and "无法检查" in checks["status"]["text"]
    assert "暂时无法检查：数据源没有响应（mirror is 240 blocks behind" in checks["status"]["text"]
    assert page.locator("[data-testid=checks] li[data-ok=false]").count() == 0
    page.wait_for_selector("#verdict-message:has-text('240 blocks behind')")
    verify(page, "CLC1:DEMO-NEWCODE")
    wait_verdict(page, "INVALID")
    key = check_items(page)["key_valid"]
    assert key["code"] == "QUANTUM_BROKEN" and "the signing key was broken" in key["text"] and key["detailLang"] == "en"


@pytest.mark.parametrize("verdict", ["REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INVALID", "UNKNOWN"])
def test_failure_details_are_sentences_from_code_and_params(open_page, verdict: str) -> None:
    page = open_page("/verify?verifier_region=330000")
    verify(page, f"CLC1:DEMO-{verdict}")
    wait_verdict(page, verdict)
    texts = " ".join(c["text"] for c in check_items(page).values())
    assert "{" not in texts and not any(
        w in texts for w in ("revoked (", "suspended (", "expired on", "no rule", "altered", "never anchored")
    )
    expected = {
        "REVOKED": "签发机构于 北京时间 2026-10-02 11:00 撤销（本证书）。原因：欺诈。",
        "SUSPENDED": "地区管理员自 北京时间 2026-11-01 08:00 起暂停（整个批次）。原因：调查中。",
        "EXPIRED": "已过期：有效期至 2025-12-31。",
        "NOT_RECOGNIZED": "浙江省（330000）没有认可广东省（440000）签发的居民身份证的规则。",
        "INVALID": "证书内容与其声明的哈希不一致",
        "UNKNOWN": "区块链账本上没有这份证书的登记。",
    }[verdict]
    assert expected in texts, texts


@pytest.mark.parametrize("lang", LANGS)
def test_check_details_are_translated_in_every_language(open_page, lang: str) -> None:
    english = json.loads((ROOT / "api/static/i18n/en.json").read_text())["strings"]
    page = open_page(f"/verify?lang={lang}&verifier_region=330000")
    for verdict in ("VALID", "REVOKED", "INCOMPLETE", "ERROR"):
        verify(page, f"CLC1:DEMO-{verdict}")
        wait_verdict(page, verdict)
        for name, c in check_items(page).items():
            assert "{" not in c["text"], (name, c["text"])
            assert c["detailLang"] in ("", lang), (name, c["detailLang"])
            if lang != "en":
                assert not any(
                    english[k].split("{")[0].strip() in c["text"]
                    for k in english
                    if k.startswith("detail.") and len(english[k].split("{")[0].strip()) > 12
                ), c["text"]


E_LICENCE_ID = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.001.1"
SM_KEY = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"


def _national_answer() -> dict:
    """An answer (in the API's result contract) with the codes of certledger/2 documents and
    compact v3 QR codes: one list item each, an English detail no page should show."""

    def check(name: str, outcome: str, code: str, **params: object) -> dict:
        ok = {"PASS": True, "FAIL": False}.get(outcome)
        return {"name": name, "ok": ok, "outcome": outcome, "code": code, "detail": "ENGINE ENGLISH", "params": params}

    checks = [
        check("integrity", "PASS", "METADATA_BOUND", shown=0, hidden=None),
        check("integrity", "FAIL", "SUITE_MISMATCH", suite="sm", expected="intl"),
        check("integrity", "FAIL", "BAD_IDENTIFIER", identifier=E_LICENCE_ID[:-1] + "A", segment="check"),
        check("integrity", "FAIL", "BAD_IDENTIFIER", identifier="1.2.156.3005.2.A.B", segment=None),
        check(
            "issuer_authorized",
            "FAIL",
            "ISSUER_CODE_MISMATCH",
            named="11330105002500287C",
            agency="GD-AMR",
            recorded="11440000MB2C95813K",
        ),
        check("issuer_authorized", "FAIL", "ISSUER_CODE_UNKNOWN", named="11330105002500287C", agency="GD-AMR"),
        check("key_valid", "FAIL", "SM2_SIGNATURE_MISSING"),
        check("key_valid", "FAIL", "SM2_SIGNATURE_MISMATCH"),
        check("key_valid", "FAIL", "SM2_KEY_MISSING", key=SM_KEY),
        check("key_valid", "FAIL", "FORGED_SM2_SIGNATURE", key=SM_KEY),
        check("recognition", "SKIPPED", "NOT_ANCHORED"),
    ]
    certificate = {
        "hash": "0x" + "5f" * 32,
        "type": "BUSINESS_LICENSE",
        "issuer_region": 440000,
        "agency": "GD-AMR",
        "batch_root": "0x" + "9a" * 32,
        "anchored_at": {"block": 12, "tx": "0x" + "3c" * 32, "time": "2026-11-28T08:00:00Z"},
        "valid_from": "2026-01-01",
        "valid_until": None,
        "identifier": E_LICENCE_ID,
        "suite": "sm",
    }
    return {
        "verdict": "INVALID",
        "checks": checks,
        "certificate": certificate,
        "verifier_region": 330000,
        "as_of": "2026-11-30T04:00:00Z",
        "source": {"kind": "mirror", "block": 4711, "lag_blocks": 0},
    }


@pytest.mark.parametrize("lang", LANGS)
def test_national_check_codes_and_the_identifier_are_shown_in_every_language(open_page, lang: str) -> None:
    english = json.loads((ROOT / "api/static/i18n/en.json").read_text())["strings"]
    answer = _national_answer()
    page = open_page(f"/verify?lang={lang}")
    page.route(
        "**/v1/verify*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(answer)),
    )
    verify(page, "CLC3:NATIONAL")
    wait_verdict(page, "INVALID")
    items = page.eval_on_selector_all(
        "[data-testid=checks] li",
        "els => els.map(e => ({code: e.dataset.code, text: e.querySelector('.check-detail').innerText, "
        "lang: e.querySelector('.check-detail').lang}))",
    )
    assert [i["code"] for i in items] == [c["code"] for c in answer["checks"]]
    for item in items:
        assert item["lang"] == "" and "{" not in item["text"] and "ENGINE ENGLISH" not in item["text"], item
        if lang != "en":
            assert not any(
                english[k].split("{")[0].strip() in item["text"]
                for k in english
                if k.startswith(("detail.", "suite.", "identifier.segment."))
                and len(english[k].split("{")[0].strip()) > 12
            ), item
    texts = [i["text"] for i in items]
    assert E_LICENCE_ID[:-1] + "A" in texts[2] and "1.2.156.3005.2.A.B" in texts[3] and texts[2] != texts[3]
    assert "11440000MB2C95813K" in texts[4] and SM_KEY in texts[8]
    if lang == "zh-CN":
        assert texts[1] == "证书哈希采用国密算法（SM3、SM2），但本账本使用国际密码算法（SHA-256）。"
        assert texts[2].endswith("：校验位有误。") and texts[3].endswith("的格式不符合 GB/T 36904。")
    if lang == "en":
        assert "its check character is wrong" in texts[2] and "not in the form GB/T 36904 sets out" in texts[3]
    fact = page.locator("[data-testid=facts] [data-fact=identifier]")
    assert fact.inner_text() == E_LICENCE_ID
    label = page.evaluate("document.querySelector('[data-fact=identifier]').previousElementSibling.textContent")
    assert label == json.loads((ROOT / f"api/static/i18n/{lang}.json").read_text())["strings"]["facts.identifier"]
    assert not page.problems, page.problems


@pytest.mark.unit
def test_translation_files_are_complete_and_say_whether_reviewed() -> None:
    base = json.loads((ROOT / "api/static/i18n/en.json").read_text())
    for lang in LANGS:
        data = json.loads((ROOT / f"api/static/i18n/{lang}.json").read_text())
        assert data["lang"] == lang and isinstance(data["reviewed"], bool) and data["note"]
        assert set(data["strings"]) == set(base["strings"]), set(data["strings"]) ^ set(base["strings"])
        assert data["dir"] == ("rtl" if lang == "ug" else "ltr")
        assert all(
            set(_placeholders(v)) == set(_placeholders(base["strings"][k])) for k, v in data["strings"].items()
        ), lang
    from ledger.regions import PROVINCIAL_CODES, region_name

    zh = json.loads((ROOT / "api/static/i18n/zh-CN.json").read_text())["regions"]
    assert zh == {str(c): region_name(c)["zh"] for c in PROVINCIAL_CODES}
    assert base["regions"] == {str(c): region_name(c)["en"] for c in PROVINCIAL_CODES}


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"\{(\w+)\}", text)


@pytest.mark.unit
def test_every_check_code_the_engine_can_emit_has_a_sentence() -> None:
    """Every (check, code) that ledger/verification can report has its sentence in en.json (the
    other files have the same keys, see above), read from the source: a new code without one
    would show the engine's English on every page. The page looks up detail.<check>.<code>, then
    detail.any.<code> (a code any check can report, like UNAVAILABLE); a placeholder must be a
    param the code is reported with, or the page falls back to the English detail."""
    from ledger.verification.checks import DEFAULT_CHECKS, PRESENTATION_CHECKS

    emitted = _emitted_check_codes()
    names = {unit.name for unit in (*DEFAULT_CHECKS, *PRESENTATION_CHECKS)}
    assert {name for name, _ in emitted} == names | {"any"}, emitted.keys()
    assert {("integrity", "OK"), ("key_valid", "FORGED_SM2_SIGNATURE"), ("any", "UNAVAILABLE")} <= emitted.keys()
    strings = json.loads((ROOT / "api/static/i18n/en.json").read_text())["strings"]
    missing, stray = [], []
    for (name, code), params in sorted(emitted.items()):
        key = f"detail.{name}.{code}" if f"detail.{name}.{code}" in strings else f"detail.any.{code}"
        if key not in strings:
            missing.append(f"detail.{name}.{code}")
            continue
        for k in [key, *(k for k in strings if k.startswith(key + "."))]:  # variants, e.g. OK.open
            if params is not None and not set(_placeholders(strings[k])) <= params:
                stray.append((k, set(_placeholders(strings[k])) - params))
    assert not missing, f"no sentence in api/static/i18n/*.json for {missing}"
    assert not stray, f"placeholders that are not params of the code: {stray}"


def _emitted_check_codes() -> dict[tuple[str, str], set[str] | None]:
    """{(check name or "any", code): the names of the params it is reported with (None: not
    known statically)} from the calls in ledger/verification/*.py to the functions of checks.py
    that build a Check from a name and a code (passed, failed, skipped, errored). The name is
    resolved from self.name (the class's ``name``), SomeCheck.name, a string, or a parameter of
    a helper function (from the helper's callers); anything else (unit.name) is "any" check."""
    import ast

    trees = {path: ast.parse(path.read_text(), str(path)) for path in (ROOT / "ledger/verification").glob("*.py")}
    checks_tree = trees[ROOT / "ledger/verification/checks.py"]
    emitters: dict[str, tuple[int, int]] = {}  # function -> (position of its name, of its code)
    for node in checks_tree.body:
        if isinstance(node, ast.FunctionDef):
            args = [a.arg for a in node.args.args]
            builds = any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Check"
                for n in ast.walk(node)
            )
            if builds and {"name", "code"} <= set(args):
                emitters[node.name] = (args.index("name"), args.index("code"))
    assert {"passed", "failed", "skipped", "errored"} <= emitters.keys(), emitters
    class_names: dict[str, str] = {}  # class -> its name attribute (the check's name)
    for tree in trees.values():
        for cls_node in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for stmt in cls_node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and [getattr(t, "id", None) for t in stmt.targets] == ["name"]
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    class_names[cls_node.name] = stmt.value.value

    # every call, with the class and the outermost function (or method) it is in
    calls: list[tuple[ast.Call, str | None, ast.FunctionDef | None]] = []

    def visit(node: ast.AST, cls: str | None, fn: ast.FunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            c = child.name if isinstance(child, ast.ClassDef) else cls
            f = child if isinstance(child, ast.FunctionDef) and fn is None else fn
            if isinstance(child, ast.Call):
                calls.append((child, cls, fn))
            visit(child, c, f)

    for tree in trees.values():
        visit(tree, None, None)

    def argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
        if len(call.args) > index:
            return call.args[index]
        return next((k.value for k in call.keywords if k.arg == name), None)

    def called(call: ast.Call) -> str | None:
        f = call.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None

    def check_names(
        expr: ast.expr | None, cls: str | None, fn: ast.FunctionDef | None, seen: tuple[str, ...] = ()
    ) -> set[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.Attribute) and expr.attr == "name" and isinstance(expr.value, ast.Name):
            owner = cls if expr.value.id == "self" else expr.value.id
            return {class_names[owner]} if owner in class_names else {"any"}
        args = [a.arg for a in fn.args.args] if fn is not None else []
        if isinstance(expr, ast.Name) and expr.id in args and fn is not None and fn.name not in seen:
            index = args.index(expr.id) - (1 if args[:1] == ["self"] else 0)
            found: set[str] = set()
            for call, c, f in calls:
                if called(call) == fn.name:
                    found |= check_names(argument(call, index, expr.id), c, f, (*seen, fn.name))
            return found or {"any"}
        return {"any"}

    def param_names(call: ast.Call, fn: ast.FunctionDef | None) -> set[str] | None:
        names: set[str] = {k.arg for k in call.keywords if k.arg is not None}
        for k in call.keywords:
            if k.arg is None:  # **params: the keys of a dict literal assigned to params in the function
                assigned = [
                    n.value
                    for n in ast.walk(fn or ast.Module(body=[], type_ignores=[]))
                    if isinstance(n, ast.AnnAssign | ast.Assign)
                    and isinstance(k.value, ast.Name)
                    and k.value.id
                    in [getattr(t, "id", None) for t in (n.targets if isinstance(n, ast.Assign) else [n.target])]
                ]
                if len(assigned) != 1 or not isinstance(assigned[0], ast.Dict):
                    return None
                keys = [key.value if isinstance(key, ast.Constant) else None for key in assigned[0].keys]
                if not all(isinstance(key, str) for key in keys):
                    return None
                names |= {key for key in keys if isinstance(key, str)}
        return names

    emitted: dict[tuple[str, str], set[str] | None] = {}
    for call, cls, fn in calls:
        if not isinstance(call.func, ast.Name) or call.func.id not in emitters:
            continue
        name_at, code_at = emitters[call.func.id]
        code = argument(call, code_at, "code")
        assert isinstance(code, ast.Constant) and isinstance(code.value, str), (
            f"line {call.lineno}: a check code must be a string literal, not {ast.unparse(code) if code else None}"
        )
        params = param_names(call, fn)
        for name in check_names(argument(call, name_at, "name"), cls, fn):
            before = emitted.get((name, code.value), set())
            emitted[name, code.value] = None if params is None or before is None else before | params
    return emitted


# ---------------------------------------------------------------------- languages: menu, fonts, layout


def test_language_menu_works_with_the_keyboard_and_is_remembered(open_page) -> None:
    page = open_page()
    button = page.locator("[data-testid=lang-button]")
    assert button.get_attribute("aria-haspopup") == "menu" and button.get_attribute("aria-expanded") == "false"
    button.focus()
    page.keyboard.press("ArrowDown")
    assert button.get_attribute("aria-expanded") == "true"
    items = page.locator("[data-testid=lang-menu] [role=menuitemradio]")
    assert items.count() == 7
    assert page.evaluate("document.activeElement.dataset.lang") == "zh-CN"  # the checked item
    assert page.eval_on_selector_all("[role=menuitemradio]", "els => els.map(e => e.lang)") == LANGS
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.lang") == "za"
    page.keyboard.press("Escape")
    assert (
        button.get_attribute("aria-expanded") == "false" and page.evaluate("document.activeElement.id") == "lang-button"
    )
    page.keyboard.press("Enter")
    for _ in range(2):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.lang") == "ug"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.lang === 'ug'")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.is_hidden("[data-testid=lang-menu]") and page.evaluate("document.activeElement.id") == "lang-button"
    assert page.get_attribute("[data-lang=ug]", "aria-checked") == "true"
    assert "ئۇيغۇرچە" in button.get_attribute("aria-label")
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.evaluate("document.documentElement.lang") == "ug"


@pytest.mark.parametrize(
    ("locale", "lang"), [("ko-KR", "ko"), ("ug-CN", "ug"), ("bo-CN", "bo"), ("mn-CN", "mn-Mong"), ("fr-FR", "zh-CN")]
)
def test_initial_language_comes_from_the_browsers_languages(open_page, locale: str, lang: str) -> None:
    page = open_page(locale=locale)
    assert page.evaluate("document.documentElement.lang") == lang


def test_a_remembered_language_wins_over_the_browsers(open_page) -> None:
    page = open_page(locale="ko-KR", storage={"certledger.verify.lang": "en"})
    assert page.evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_renders_in_a_real_font(open_page, lang: str) -> None:
    page = open_page(f"/verify?lang={lang}&verifier_region=350000")
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    page.wait_for_selector("[data-testid=region][data-loaded=true]")
    result = page.evaluate(GLYPHS_JS, None)
    assert result["checked"] > 30
    assert not result["missing"], result["missing"][:20]


def test_the_font_check_fails_for_a_script_without_a_font(open_page) -> None:
    """Kana Supplement (U+1B000…) and private-use code points have no font on the machine: the
    same measurement must report them, else the test above could never fail."""
    page = open_page()
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    result = page.evaluate(GLYPHS_JS, {"font": f"400 40px {font}", "text": "\U0001b001\U0001b002\ue123有"})
    assert {m.split()[0] for m in result["missing"]} == {"\U0001b001", "\U0001b002", "\ue123"}, result


def test_uyghur_layout_is_mirrored_right_to_left(open_page) -> None:
    def boxes(page) -> dict:
        return page.evaluate("""() => {
          const r = (s) => document.querySelector(s).getBoundingClientRect();
          return {icon: r('.verdict-icon').left, word: r('.verdict-word').left, brand: r('.brand').left,
                  toggles: r('.toggles').left, check_icon: r('.check-icon').left, check_name: r('.check-name').left};
        }""")

    zh = open_page("/verify?lang=zh-CN")
    verify(zh, "CLC1:DEMO-VALID")
    wait_verdict(zh, "VALID")
    ltr = boxes(zh)
    assert ltr["icon"] < ltr["word"] and ltr["brand"] < ltr["toggles"] and ltr["check_icon"] < ltr["check_name"]
    ug = open_page("/verify?lang=ug")
    verify(ug, "CLC1:DEMO-VALID")
    wait_verdict(ug, "VALID")
    assert ug.evaluate(
        "[document.documentElement.dir, getComputedStyle(document.querySelector('.verdict')).direction]"
    ) == ["rtl", "rtl"]
    rtl = boxes(ug)
    assert rtl["icon"] > rtl["word"] and rtl["brand"] > rtl["toggles"] and rtl["check_icon"] > rtl["check_name"]
    # a key (Latin, left to right) inside a right-to-left sentence stays whole and in order
    assert "0x71C7656EC7ab88b098defB751B7401B5f6d8976F" in ug.inner_text("[data-check=key_valid] .check-detail")


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("lang", LANGS)
def test_nothing_overflows_at_phone_width(open_page, lang: str, large: bool) -> None:
    page = open_page(f"/verify?lang={lang}&verifier_region=330000", width=390, height=844, large=large)
    for verdict in ("NOT_RECOGNIZED", "INCOMPLETE", "VALID"):
        verify(page, f"CLC1:DEMO-{verdict}")
        wait_verdict(page, verdict)
        assert page.evaluate(OVERFLOW_JS) == [], (lang, verdict)
    page.click("[data-testid=lang-button]")
    assert page.evaluate(OVERFLOW_JS) == []  # the open language menu fits too
    page.keyboard.press("Escape")
    if not large:
        shoot(page, f"verify-{lang}.png")


def test_the_overflow_check_fails_for_a_too_wide_element(open_page) -> None:
    page = open_page(width=390, height=844)
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    page.evaluate("""() => { const s = document.createElement('span'); s.textContent = 'W'.repeat(80);
                             s.style.whiteSpace = 'nowrap'; document.querySelector('.verdict-word').append(s); }""")
    bad = page.evaluate(OVERFLOW_JS)
    assert any(b.startswith(".verdict") for b in bad), bad


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_mongolian_verdict_and_key_facts_are_set_vertically(open_page, large: bool) -> None:
    page = open_page("/verify?lang=mn-Mong&verifier_region=330000", width=390, height=844, large=large)
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    info = page.evaluate("""() => Object.fromEntries(['.verdict-word', '#verdict-explain', '#verdict-region', '#keyfacts'].map(s => {
        const e = document.querySelector(s); const r = e.getBoundingClientRect();
        return [s, {mode: getComputedStyle(e).writingMode, w: r.width, h: r.height}]; }))""")
    for sel, box in info.items():
        assert box["mode"] == "vertical-lr", (sel, box)
    word = info[".verdict-word"]
    assert word["h"] > 1.5 * word["w"], word  # a column, not a line
    assert page.evaluate("getComputedStyle(document.querySelector('.check-name')).writingMode") == "horizontal-tb"
    if large:
        shoot(page, "verify-mn-Mong-large.png")


# ---------------------------------------------------------------------- regions


def test_regions_come_from_the_api_with_names(open_page) -> None:
    page = open_page()
    page.wait_for_selector("[data-testid=region][data-loaded=true]")
    options = page.eval_on_selector_all("[data-testid=region] option", "els => els.map(o => [o.value, o.textContent])")
    assert dict(options) == {
        "": "不指定（不检查跨区域认可）",
        "110000": "北京市 110000",
        "330000": "浙江省 330000",
        "350000": "福建省 350000",
        "440000": "广东省 440000",
    }  # 460000 was removed: not listed
    page.click("[data-testid=lang-button]")
    page.click("[data-lang=ug]")
    page.wait_for_function("() => document.documentElement.lang === 'ug'")
    assert "فۇجيەن ئۆلكىسى 350000" in page.inner_text("[data-testid=region]")
    page.click("[data-testid=lang-button]")
    page.click("[data-lang=za]")
    page.wait_for_function("() => document.documentElement.lang === 'za'")
    fujian = page.eval_on_selector("[data-testid=region] option[value='350000']", "o => [o.textContent, o.lang]")
    assert fujian == ["福建省 350000", "zh-CN"]  # no Zhuang name yet: the Chinese one, marked as Chinese


def test_a_payload_url_cannot_choose_the_verifying_region(open_page, api) -> None:
    """The attack: a holder prints a QR whose link names the issuer's own region, hoping to turn
    NOT_RECOGNIZED into VALID at another region's counter. The device's region is used."""
    page = open_page(
        "/verify?verifier_region=440000&payload=CLC1%3ADEMO-VALID", storage={"certledger.verify.region": "110000"}
    )
    wait_verdict(page, "VALID")
    (req,) = api.requests("verify")
    assert req["query"] == "verifier_region=110000"
    assert page.inner_text("[data-testid=verdict-region]") == "核验地区：北京市（110000）"
    assert page.get_attribute("[data-testid=verdict-region]", "data-region") == "110000"
    assert "440000" in page.inner_text("[data-testid=region-note]")
    assert "verifier_region" not in page.url and "payload" not in page.url
    assert page.eval_on_selector("[data-testid=region]", "e => e.value") == "110000"


def test_a_payload_url_on_a_device_without_a_region_checks_no_region(open_page, api) -> None:
    page = open_page("/verify#verifier_region=440000&payload=CLC1%3ADEMO-VALID")
    wait_verdict(page, "VALID")
    assert api.requests("verify")[-1]["query"] == ""
    assert page.inner_text("[data-testid=verdict-region]") == "未选择核验地区：未检查跨区域认可"


def test_a_url_without_a_payload_may_preset_the_region_for_the_visit(open_page, api) -> None:
    page = open_page("/verify?verifier_region=330000", storage={"certledger.verify.region": "110000"})
    assert page.eval_on_selector("[data-testid=region]", "e => e.value") == "330000"
    verify(page, "CLC1:DEMO-NOT_RECOGNIZED")
    wait_verdict(page, "NOT_RECOGNIZED")
    assert api.requests("verify")[-1]["query"] == "verifier_region=330000"
    assert page.evaluate("localStorage.getItem('certledger.verify.region')") == "110000"  # not stored


def test_the_chosen_region_is_sent_remembered_and_reverifies(open_page, api) -> None:
    page = open_page("/verify?lang=en")
    page.wait_for_selector("[data-testid=region][data-loaded=true]")
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    page.select_option("[data-testid=region]", "350000")  # re-verifies the last input
    page.wait_for_function("() => document.querySelector('[data-testid=verdict-region]').dataset.region === '350000'")
    assert api.requests("verify")[-1]["query"] == "verifier_region=350000"
    assert "Fujian (350000)" in page.inner_text("[data-testid=verdict-region]")
    page.select_option("[data-testid=region]", "")
    page.wait_for_function("() => document.querySelector('[data-testid=verdict-region]').dataset.region === ''")
    assert api.requests("verify")[-1]["query"] == ""
    page.select_option("[data-testid=region]", "110000")
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.eval_on_selector("[data-testid=region]", "e => e.value") == "110000"


# ---------------------------------------------------------------------- reading aloud


@pytest.mark.parametrize(("lang", "word"), [("zh-CN", "有效"), ("ug", "ئىناۋەتلىك")])
def test_read_aloud_uses_the_server_voice_when_the_browser_has_none(open_page, api, lang: str, word: str) -> None:
    if not shutil.which("espeak-ng"):
        require_browser()
        pytest.fail("espeak-ng is not installed") if os.environ.get("CI") == "true" else pytest.skip(
            "espeak-ng is not installed"
        )
    page = open_page(f"/verify?lang={lang}&verifier_region=330000", init=AUDIO_SPY)
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    assert page.evaluate("speechSynthesis.getVoices().length") == 0  # headless Chromium here has no voices
    page.click("[data-testid=speak-button]")
    page.wait_for_function("() => window.__played.length === 1")
    assert page.get_attribute("[data-testid=speak-button]", "data-engine") == "server"
    (req,) = api.requests("speech")
    assert req["body"]["lang"] == lang and word in req["body"]["text"] and len(req["body"]["text"]) <= 400
    assert page.evaluate("window.__played[0]").startswith("blob:")
    assert not [p for p in page.problems if "error" in p]


def test_read_aloud_uses_the_browsers_voice_when_it_has_one(open_page, api) -> None:
    fake = """
    window.__spoken = [];
    const voice = {lang: 'ko-KR', name: 'Korean', default: false, localService: true, voiceURI: 'ko'};
    Object.defineProperty(window, 'speechSynthesis', {value: {getVoices: () => [voice], cancel() {},
      speak(u) { window.__spoken.push({text: u.text, lang: u.lang}); }}});
    window.SpeechSynthesisUtterance = function (text) { this.text = text; };
    """
    page = open_page("/verify?lang=ko", init=fake)
    verify(page, "CLC1:DEMO-REVOKED")
    wait_verdict(page, "REVOKED")
    page.click("[data-testid=speak-button]")
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "ko-KR" and "취소됨" in spoken[0]["text"]
    assert api.requests("speech") == []


def test_read_aloud_says_when_a_language_has_no_voice(open_page, api) -> None:
    page = open_page("/verify?lang=bo")
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    page.click("[data-testid=speak-button]")
    page.wait_for_selector("[data-testid=speak-status].status-error")
    assert page.inner_text("[data-testid=speak-status]") == "སྐད་ཡིག་འདིས་ད་ལྟ་ཀློག་ཐབས་མེད།"
    assert api.requests("speech")[0]["body"]["lang"] == "bo"


# ---------------------------------------------------------------------- service counter


def test_a_counter_verifies_presentations_with_its_organisations_key_kept_in_the_tab_only(open_page, api) -> None:
    """A wallet's presentation (CLP1:) is for registered verifiers: without the organisation's key
    the counter says so in its language; with it (entered once, kept in this tab's
    sessionStorage, never in localStorage) the request carries it and the result shows the
    holder's purpose."""
    page = open_page("/verify?mode=counter&verifier_region=330000")
    page.locator("[data-testid=scan-input]").focus()
    page.keyboard.type("CLP1:ABC\n", delay=2)
    page.wait_for_selector("[data-testid=error]")
    assert "已登记的核验机构" in page.inner_text("[data-testid=error]")
    key = "clv_ZJ-BANK-1_" + "A" * 43
    page.fill("[data-testid=api-key]", key)
    page.dispatch_event("[data-testid=api-key]", "change")
    page.locator("[data-testid=scan-input]").focus()
    page.keyboard.type("CLP1:ABC\n", delay=2)
    wait_verdict(page, "VALID")
    assert "开户" in page.inner_text("main")
    sent = [r["authorization"] for r in api.requests("verify")]
    assert sent[-2:] == [None, f"Bearer {key}"]
    assert page.evaluate("sessionStorage.getItem('certledger.verify.counter.api_key')") == key
    assert key not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    # the citizen view never sends it
    page.click("[data-testid=counter-toggle]")
    page.fill("[data-testid=payload]", "CLC1:DEMO-VALID")
    page.click("[data-testid=verify-button]")
    wait_verdict(page, "VALID")
    assert api.requests("verify")[-1]["authorization"] is None


def test_counter_mode_verifies_scans_sounds_clears_and_counts(open_page, api) -> None:
    page = open_page("/verify?mode=counter&verifier_region=330000", init=TONE_SPY)
    assert page.is_visible("[data-testid=counter]") and page.is_hidden("[data-testid=payload]")
    assert page.evaluate("document.activeElement.dataset.testid") == "scan-input"
    set_clear_seconds(page, 1)
    page.locator("[data-testid=scan-input]").focus()
    page.keyboard.type("CLC1:DEMO-VALID\n", delay=2)  # a handheld scanner: fast keys, then Enter
    wait_verdict(page, "VALID")
    assert page.evaluate("document.activeElement.dataset.testid") == "scan-input"
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)") >= 70
    page.wait_for_function("() => window.__tones.length >= 2")
    assert [t["f"] for t in page.evaluate("window.__tones")][:2] == [660, 990]
    assert page.inner_text("[data-testid=verdict-region]") == "核验地区：浙江省（330000）"
    page.wait_for_selector("[data-testid=verdict]", state="hidden", timeout=3000)  # cleared after 1 s
    assert page.inner_text("#result-empty") == "请扫描下一份证书。"
    assert page.get_attribute("[data-testid=counts-total]", "data-total") == "1"
    page.keyboard.type("CLC1:DEMO-REVOKED\n", delay=2)
    wait_verdict(page, "REVOKED")
    page.wait_for_function("() => window.__tones.length >= 4")
    assert {t["f"] for t in page.evaluate("window.__tones")[2:]} == {196} and page.evaluate(
        "window.__tones[2].type"
    ) == "square"
    page.keyboard.type("CLC1:DEMO-VALID\n", delay=2)
    page.wait_for_function("() => document.querySelector('[data-testid=counts-total]').dataset.total === '3'")
    counts = dict(
        page.eval_on_selector_all("[data-testid=counts] dd", "els => els.map(e => [e.dataset.verdict, e.textContent])")
    )
    assert counts == {"VALID": "2", "REVOKED": "1"}
    assert [r["query"] for r in api.requests("verify")] == ["verifier_region=330000"] * 3
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.get_attribute("[data-testid=counts-total]", "data-total") == "3"
    assert page.input_value("[data-testid=clear-seconds]") == "1"


def test_counter_switch_is_remembered_and_counts_start_again_each_day(open_page) -> None:
    yesterday = json.dumps({"date": "2000-01-01", "counts": {"VALID": 9}})
    page = open_page(storage={"certledger.verify.counter.counts": yesterday})
    assert page.is_hidden("[data-testid=counter]")
    page.click("[data-testid=counter-toggle]")
    assert page.get_attribute("[data-testid=counter-toggle]", "aria-pressed") == "true"
    assert page.get_attribute("[data-testid=counts-total]", "data-total") == "0"
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.is_visible("[data-testid=counter]")
    page.click("body", position={"x": 5, "y": 300})  # a click elsewhere: the scanner field keeps the focus
    page.wait_for_function("() => document.activeElement.dataset.testid === 'scan-input'")


def test_counter_refuses_a_foreign_qr_with_the_not_valid_tone(open_page, api) -> None:
    page = open_page("/verify?mode=counter", init=TONE_SPY)
    page.keyboard.type("https://example.org/x\n", delay=2)
    page.wait_for_selector("[data-testid=error]:not([hidden])")
    page.wait_for_function("() => window.__tones.length >= 2")
    assert page.evaluate("window.__tones[0].f") == 196 and api.requests("verify") == []


# ---------------------------------------------------------------------- input, errors, accessibility


def test_api_4xx_errors_are_shown_plainly(open_page) -> None:
    page = open_page("/verify?lang=en")
    verify(page, "CLC1:DEMO-HTTP400")
    page.wait_for_selector("[data-testid=error]:not([hidden])")
    msg = page.inner_text("[data-testid=error]")
    assert "not a valid CertLedger certificate QR code" in msg and "MALFORMED_PAYLOAD" in msg
    assert page.is_hidden("[data-testid=verdict]")
    verify(page, "CLC1:DEMO-HTTP418")
    page.wait_for_selector("[data-testid=error]:has-text('a new kind of input problem')")


def test_text_that_is_not_ours_is_refused_without_asking_the_api(open_page, api) -> None:
    page = open_page("/verify?lang=en")
    for text, expect in (
        ("hello world", "should start with CLC3: or CLF2:"),
        ('{"a": ', "JSON is malformed"),
        ("", "Paste the QR content"),
    ):
        verify(page, text)
        page.wait_for_selector(f"[data-testid=error]:has-text('{expect}')")
    assert api.requests("verify") == []


def test_pasted_request_bodies_are_unwrapped_and_unverified_fields_marked(open_page, api) -> None:
    page = open_page("/verify?lang=en")
    verify(page, '{"payload": "CLC1:DEMO-SUSPENDED"}')
    wait_verdict(page, "SUSPENDED")
    verify(page, '{"document": {"format": "certledger/1", "demo": "EXPIRED"}}')
    wait_verdict(page, "EXPIRED")
    seen = api.requests("verify")
    assert seen[0]["body"] == {"payload": "CLC1:DEMO-SUSPENDED"}
    assert seen[1]["body"] == {"document": {"format": "certledger/1", "demo": "EXPIRED"}}
    assert "NOT verified" not in page.inner_text("#fields-block")
    verify(page, '{"format": "certledger/1", "demo": "INVALID"}')
    wait_verdict(page, "INVALID")
    assert "NOT verified" in page.inner_text("#fields-heading")
    page.fill("[data-testid=payload]", '{"format": "certledger/1",')
    page.focus("[data-testid=payload]")
    page.keyboard.press("End")
    page.keyboard.press("Enter")  # inside JSON, Enter is a new line
    assert page.input_value("[data-testid=payload]").endswith("\n") and len(api.requests("verify")) == 3


def test_error_state_for_network_failure_5xx_and_html_never_looks_invalid(open_page) -> None:
    page = open_page("/verify?lang=en")
    page.route("**/v1/verify*", lambda route: route.abort("connectionrefused"))
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "ERROR")
    assert page.get_attribute("[data-testid=verdict]", "data-tone") == "error"
    assert "cannot be reached" in page.inner_text("#verdict-message")
    page.unroute("**/v1/verify*")
    page.click("[data-testid=retry-button]")
    wait_verdict(page, "VALID")
    for payload, msg in (
        ("CLC1:DEMO-HTTP500", "internal error"),
        ("CLC1:DEMO-HTTP503", "temporarily unable"),
        ("CLC1:DEMO-HTML500", "(500)"),
    ):
        verify(page, payload)
        wait_verdict(page, "ERROR")
        assert msg in page.inner_text("#verdict-message")


def test_a_slow_answer_never_overwrites_a_later_one(open_page) -> None:
    page = open_page()
    # count the verification answers the page has read (the page reads every answer's JSON)
    page.evaluate(
        """() => {
          window.verifyAnswersRead = 0;
          const json = Response.prototype.json;
          Response.prototype.json = async function () {
            try { return await json.call(this); }
            finally { if (this.url.includes("/v1/verify")) window.verifyAnswersRead++; }
          };
        }"""
    )
    verify(page, "CLC1:DEMO-SLOW")
    page.wait_for_selector("#result-busy:not([hidden])")
    page.fill("[data-testid=payload]", "CLC1:DEMO-REVOKED")
    page.focus("[data-testid=payload]")
    page.keyboard.press("Enter")
    wait_verdict(page, "REVOKED")
    # the slow answer arrives after the later one: wait until the page has read it, and one
    # turn of its event loop more (the page's handling of it runs in the meantime)
    page.wait_for_function("() => window.verifyAnswersRead >= 2", timeout=20_000)
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")
    assert page.get_attribute("[data-testid=verdict]", "data-verdict") == "REVOKED"
    assert page.evaluate("document.activeElement.dataset.testid") == "payload"


def test_uploaded_qr_pictures_are_decoded_in_the_browser(open_page, api, assets) -> None:
    page = open_page("/verify?lang=en")
    for name in ("qr.png", "photo.jpg"):
        api.reset()
        page.set_input_files("[data-testid=upload]", str(assets["dir"] / name))
        wait_verdict(page, "INCOMPLETE")  # a compact QR carries only the hash
        (req,) = api.requests("verify")
        assert req["kind"] == "payload" and req["body"]["payload"] == assets["payload"]


def test_a_picture_chosen_while_the_page_starts_is_verified_once_it_is_ready(open_page, api, assets) -> None:
    page = open_page("/verify?lang=en", wait=False, init=HOLD_LANGUAGE_FILES)
    page.wait_for_function("() => window.heldLanguages.length > 0")
    page.set_input_files("[data-testid=upload]", str(assets["dir"] / "qr.png"))
    assert page.get_attribute("html", "data-ready") is None
    page.evaluate("() => window.heldLanguages.forEach((release) => release())")
    wait_verdict(page, "INCOMPLETE")
    (req,) = api.requests("verify")
    assert req["body"]["payload"] == assets["payload"]


def test_pictures_without_a_qr_go_to_the_server_shrunk_below_its_limit(open_page, api, assets) -> None:
    page = open_page("/verify?lang=en")
    page.set_input_files("[data-testid=upload]", str(assets["dir"] / "blank.png"))
    page.wait_for_selector("[data-testid=error]:has-text('no QR code found')")
    req = api.requests("verify")[-1]
    assert req["kind"] == "image" and req["filename"] == "blank.png"
    page.set_input_files("[data-testid=upload]", str(assets["dir"] / "noise.png"))
    page.wait_for_selector("[data-testid=error]:has-text('NO_QR_FOUND')", timeout=30_000)
    req = api.requests("verify")[-1]
    assert req["filename"] == "noise.jpg" and int(req["body"].split()[0]) <= 3.5 * 1024 * 1024


def test_without_the_decoder_the_server_reads_the_picture(open_page, api, assets) -> None:
    page = open_page(wait=False)
    page.route("**/static/vendor/jsQR.js", lambda route: route.abort())
    page.wait_for_selector("html[data-ready]")
    page.set_input_files("[data-testid=upload]", str(assets["dir"] / "qr.png"))
    wait_verdict(page, "INCOMPLETE")
    assert api.requests("verify")[-1]["kind"] == "image"


def test_foreign_qr_pictures_and_other_files_are_refused_locally(open_page, api, assets, tmp_path) -> None:
    page = open_page("/verify?lang=en")
    page.set_input_files("[data-testid=upload]", str(assets["dir"] / "other.png"))
    page.wait_for_selector("[data-testid=error]:has-text('not a CertLedger')")
    (tmp_path / "note.txt").write_text("hello")
    page.set_input_files("[data-testid=upload]", str(tmp_path / "note.txt"))
    page.wait_for_selector("[data-testid=error]:has-text('PNG or JPEG')")
    assert api.requests("verify") == []


def test_large_text_mode_is_bigger_higher_contrast_and_remembered(open_page) -> None:
    page = open_page()
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    ratio, what = min_contrast(page)
    assert ratio >= 4.5, (ratio, what)
    page.click("[data-testid=contrast-toggle]")
    assert page.get_attribute("[data-testid=contrast-toggle]", "aria-pressed") == "true"
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 24
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.verdict-word')).fontSize)") >= 48
    ratio, what = min_contrast(page)
    assert ratio >= 7, (ratio, what)
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.evaluate("document.documentElement.classList.contains('large')")


def test_url_payloads_in_every_encoding_verify_at_once(open_page, api, assets) -> None:
    page = open_page("/verify?lang=en&payload=CLC1%3ADEMO-EXPIRED")
    wait_verdict(page, "EXPIRED")
    assert "payload" not in page.url and "lang=en" in page.url
    for path in (
        "/verify#payload=" + quote(assets["tricky"], safe=""),
        "/verify?" + urlencode({"payload": assets["tricky"]}),
        "/verify?" + urlencode({"payload": assets["payload"]}),
    ):
        api.reset()
        p = open_page(path)
        wait_verdict(p, "INCOMPLETE")
        assert api.requests("verify")[-1]["body"]["payload"] in (assets["tricky"], assets["payload"])
    api.reset()
    verify(page, f"https://verify.example.gov.cn/verify?payload={quote(assets['payload'], safe='')}")
    wait_verdict(page, "INCOMPLETE")
    assert api.requests("verify")[-1]["body"]["payload"] == assets["payload"]


def test_keyboard_reaches_every_control_in_order_with_visible_focus(open_page) -> None:
    page = open_page()
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.dataset.testid || document.activeElement.id"))
    want = [
        "lang-button",
        "counter-toggle",
        "contrast-toggle",
        "region",
        "scan-button",
        "upload",
        "payload",
        "verify-button",
        "clear-button",
    ]
    assert [s for s in seen if s in want][: len(want)] == want, seen
    page.focus("[data-testid=upload]")
    assert page.eval_on_selector("label.file-label", "e => getComputedStyle(e).outlineStyle") == "solid"
    page.focus("[data-testid=payload]")
    page.keyboard.type("CLC1:DEMO-VALID")
    page.keyboard.press("Control+Enter")
    wait_verdict(page, "VALID")
    assert page.evaluate("document.activeElement.dataset.testid") == "verdict"
    assert page.get_attribute("[data-testid=live]", "aria-live") == "polite"


def test_clear_wipes_the_payload_result_and_fields(open_page) -> None:
    page = open_page()
    verify(page, "CLC1:DEMO-VALID")
    wait_verdict(page, "VALID")
    page.click("[data-testid=clear-button]")
    assert page.is_hidden("[data-testid=verdict]") and page.input_value("[data-testid=payload]") == ""
    assert "张三" not in page.inner_text("body")


def test_camera_frames_are_decoded_and_the_camera_stops(open_page, api, assets) -> None:
    page = open_page("/verify?lang=en")
    page.click("[data-testid=scan-button]")
    wait_verdict(page, "INCOMPLETE", timeout=15_000)
    assert api.requests("verify")[-1]["body"]["payload"] == assets["payload"]
    assert page.is_hidden("#scan-view") and page.evaluate("document.querySelector('#scan-video').srcObject === null")


def test_without_a_camera_a_plain_message_is_shown(open_page) -> None:
    no_camera = "navigator.mediaDevices.getUserMedia = () => Promise.reject(Object.assign(new Error('none'), {name: 'NotFoundError'}));"
    page = open_page(init=no_camera)
    page.click("[data-testid=scan-button]")
    page.wait_for_selector("[data-testid=scan-status]:has-text('没有找到摄像头')")
    assert not [p for p in page.problems if p.startswith("pageerror")]
