"""Drive the /verify page against a REAL running API (e.g. `certledger demo --port 8790`).

Manual check, not part of the pytest suite. Uses the demo's sample files:

    CERTLEDGER_HOME=/tmp/cl-demo .venv/bin/certledger demo --port 8790 &
    /tmp/pw-venv/bin/python tests/web/drive_real.py --base http://127.0.0.1:8790 --home /tmp/cl-demo

Checks: the page and its assets load from the API (no CSP or console errors), a demo QR PNG is
decoded in the browser and verified, the same QR through the server-side image path, a
certificate file pasted and uploaded as .json, a tampered file, a region without a rule, and an
unknown hash; screenshots go to tests/web/screenshots/real_*.png. Ends with "N passed, N failed".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
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
RESULTS: list[bool] = []


def verdict(page, want: str, timeout: int = 15000) -> None:
    page.wait_for_selector(f"[data-testid=verdict][data-verdict={want}]:not([hidden])", timeout=timeout)


def step(name: str, fn) -> None:
    try:
        fn()
        RESULTS.append(True)
        print(f"PASS {name}", flush=True)
    except Exception as exc:
        RESULTS.append(False)
        print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8790")
    ap.add_argument("--home", default="/tmp/cl-demo", help="CERTLEDGER_HOME of the demo")
    args = ap.parse_args()
    ids = Path(args.home) / "demo" / "id-cards"
    certs = sorted((ids / "certificates").glob("*.json"))
    qrs = sorted((ids / "qr").glob("*.png"))
    if not certs or not qrs:
        sys.exit(f"no demo certificates under {ids}")
    SHOTS.mkdir(exist_ok=True)
    doc = json.loads(certs[0].read_text())

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(args.base + "/verify?verifier_region=330000")
        page.wait_for_load_state("networkidle")

        def loads():
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            assert page.eval_on_selector("[data-testid=region]", "e => e.value") == "330000"
            assert not problems, problems

        step("page and assets load from the API", loads)

        def qr_in_browser():
            page.set_input_files("[data-testid=upload]", str(qrs[0]))
            page.wait_for_selector(
                "[data-testid=verdict]:not([hidden]), [data-testid=error]:not([hidden])", timeout=15000
            )
            got = page.get_attribute("[data-testid=verdict]", "data-verdict")
            assert got in ("VALID", "NOT_RECOGNIZED"), (got, page.inner_text("#result"))
            page.screenshot(path=str(SHOTS / "real_qr_zh.png"), full_page=True)

        step("demo QR PNG decoded in the browser and verified (330000)", qr_in_browser)

        def qr_on_server():
            p2 = ctx.new_page()
            p2.route("**/static/vendor/jsQR.js", lambda r: r.abort())
            p2.goto(args.base + "/verify?verifier_region=440000&lang=en")
            p2.set_input_files("[data-testid=upload]", str(qrs[1]))
            verdict(p2, "VALID")
            p2.close()

        step("same kind of QR via the server's image path (multipart)", qr_on_server)

        def pasted_document():
            page.select_option("[data-testid=region]", "440000")
            page.fill("[data-testid=payload]", json.dumps(doc, ensure_ascii=False))
            page.click("[data-testid=verify-button]")
            verdict(page, "VALID")
            page.wait_for_selector("[data-testid=fields]:has-text('公民身份号码')")
            assert doc["fields"]["name"] in page.inner_text("[data-testid=fields]")
            page.screenshot(path=str(SHOTS / "real_document_zh.png"), full_page=True)

        step("certificate file pasted as JSON -> VALID in 440000, fields labelled", pasted_document)

        def uploaded_json():
            page.set_input_files("[data-testid=upload]", str(certs[1]))
            verdict(page, "VALID")

        step("certificate file uploaded as .json", uploaded_json)

        def tampered():
            bad = json.loads(json.dumps(doc))
            bad["fields"]["name"] = bad["fields"]["name"] + "X"
            page.fill("[data-testid=payload]", json.dumps(bad, ensure_ascii=False))
            page.click("[data-testid=verify-button]")
            verdict(page, "INVALID")
            assert page.locator("[data-testid=checks] li[data-check=integrity][data-ok=false]").count() == 1
            page.click("[data-testid=lang-button]")
            page.click(
                "[data-lang=en]" if page.evaluate("document.documentElement.lang") != "en" else "[data-lang=zh-CN]"
            )
            page.screenshot(path=str(SHOTS / "real_tampered_en.png"), full_page=True)
            page.click("[data-testid=lang-button]")
            page.click(
                "[data-lang=en]" if page.evaluate("document.documentElement.lang") != "en" else "[data-lang=zh-CN]"
            )

        step("tampered document -> INVALID (integrity failed)", tampered)

        def unknown_hash():
            page.fill("[data-testid=payload]", "CLC1:" + "0" * 10)
            page.click("[data-testid=verify-button]")
            page.wait_for_selector("[data-testid=error]:not([hidden])")
            assert "MALFORMED_PAYLOAD" in page.inner_text("[data-testid=error]")

        step("malformed payload -> 4xx message in the error box", unknown_hash)

        browser.close()
    passed = sum(RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
