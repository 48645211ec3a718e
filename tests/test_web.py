"""The citizens' page in a real headless Chromium (Debian's, driven by Playwright) against the
real stack: a full QR made by `certledger issue --qr --qr-payload full` uploaded on /verify shows
VALID for the region it names beside the verdict; after `certledger revoke` it shows REVOKED. Screenshots of the run are kept in .artifacts/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from helpers import ROOT, free_port, wait_until

from ledger.bootstrap import default_schemas
from ledger.mirror import Indexer, IndexerConfig, MirrorStore

SHOTS = ROOT / ".artifacts" / "screenshots"
CLI = str(Path(sys.executable).parent / "certledger")


@pytest.fixture
def stack(tmp_path, issuing, monkeypatch):
    """A deployment with a real ID_CARD schema, an agency key in a keystore, an indexer and
    the API serving the page on a free port."""
    from api.app import ApiSettings, create_app

    c = issuing
    c.add_type("DRIVING_LICENCE", default_schemas()["DRIVING_LICENCE"])
    home = tmp_path / "home"
    c.deployment.save(home / "deployment.json")
    env = {
        "CERTLEDGER_HOME": str(home),
        "CERTLEDGER_RPC_URL": c.chain.url,
        "CERTLEDGER_PASSWORD": "pw",
        "CERTLEDGER_KEYSTORE_SCRYPT_N": "1024",
        "CERTLEDGER_DB_URL": f"sqlite:///{tmp_path}/mirror.db",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # a type with a real schema, an agency whose key lives in the keystore, a recognition rule
    subprocess.run([CLI, "key", "new", "GD-TPB-1"], check=True, capture_output=True, env={**os.environ, **env})
    c.registry.register_agency(c.admins[440000], "GD-TPB", 440000, ["DRIVING_LICENCE"])
    from ledger.keystore import Keystore

    c.registry.add_key(c.admins[440000], "GD-TPB", Keystore(home / "keys").address("GD-TPB-1"))
    c.registry.set_recognition(c.admins[330000], 330000, "DRIVING_LICENCE", 440000)

    store = MirrorStore(env["CERTLEDGER_DB_URL"])
    store.open(c.deployment)
    indexer = Indexer(c.chain.url, c.deployment, store, IndexerConfig(poll_interval=0.2))
    follower = threading.Thread(target=indexer.run, daemon=True)
    follower.start()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ApiSettings()), host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=60, what="a healthy API", interval=0.2)
    yield {"base": base, "env": {**os.environ, **env}, "tmp": tmp_path}
    server.should_exit = True
    serving.join(10)
    indexer.stop()
    follower.join(10)
    store.dispose()


def _licence_rows(path: Path) -> Path:
    rows = [
        "name,sex,idNumber,vehicleClass,firstIssuedOn",
        "张伟,M,440106199001011234,C1,2010-05-06",
        "王芳,F,44010619920202234X,C2,2012-07-08",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _verdict(page, want: str) -> None:
    page.wait_for_selector(f"[data-testid=verdict][data-verdict={want}]:not([hidden])", timeout=20_000)


def test_uploaded_qr_shows_valid_then_revoked_after_revoke(stack, browser):
    out = stack["tmp"] / "issued"
    issued = subprocess.run(
        [
            CLI,
            "issue",
            str(_licence_rows(stack["tmp"] / "licences.csv")),
            "--agency",
            "GD-TPB",
            "--type",
            "DRIVING_LICENCE",
            "--out",
            str(out),
            "--qr",
            "--qr-payload",
            "full",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=stack["env"],
    )
    assert issued.returncode == 0, issued.stderr
    qr = sorted((out / "qr").glob("*.png"))[0]
    certificate = out / "certificates" / f"{qr.stem}.json"
    SHOTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{stack['base']}/verify?verifier_region=330000&lang=zh-CN")
        page.wait_for_selector("[data-testid=region][data-loaded=true]")
        # the region list comes from the real /v1/regions, names included
        assert "浙江省 330000" in page.inner_text("[data-testid=region]")
        page.set_input_files("[data-testid=upload]", str(qr))
        _verdict(page, "VALID")  # a full QR carries the document: nothing left unchecked
        assert "有效" in page.inner_text("[data-testid=verdict]")
        assert page.inner_text("[data-testid=verdict-region]") == "核验地区：浙江省（330000）"
        page.screenshot(path=str(SHOTS / "web-valid-zh.png"), full_page=True)

        revoked = subprocess.run(
            [CLI, "revoke", str(certificate), "--reason", "FRAUD"], capture_output=True, text=True, env=stack["env"]
        )
        assert revoked.returncode == 0, revoked.stderr

        def shows_revoked() -> bool:  # the indexer polls every 0.2 s
            page.reload()
            page.wait_for_selector("html[data-ready]")  # the upload's listener is attached
            page.set_input_files("[data-testid=upload]", str(qr))
            page.wait_for_selector("[data-testid=verdict]:not([hidden])", timeout=20_000)
            return page.get_attribute("[data-testid=verdict]", "data-verdict") == "REVOKED"

        wait_until(shows_revoked, timeout=30, what="the page to show REVOKED", interval=0.3, required=False)
        _verdict(page, "REVOKED")
        assert "已撤销" in page.inner_text("[data-testid=verdict]")
        page.click("[data-testid=lang-button]")
        page.click("[data-lang=en]")
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        assert "Revoked" in page.inner_text("[data-testid=verdict]")
        page.screenshot(path=str(SHOTS / "web-revoked-en.png"), full_page=True)

        # The other certificate, pasted as a document, for a region without a rule (110000).
        other = next(p for p in sorted((out / "certificates").glob("*.json")) if p != certificate)
        page.goto(f"{stack['base']}/verify?verifier_region=110000&lang=en")
        page.wait_for_selector("html[data-ready]")
        page.fill("[data-testid=payload]", other.read_text(encoding="utf-8"))
        page.click("[data-testid=verify-button]")
        _verdict(page, "NOT_RECOGNIZED")
        assert page.get_attribute("[data-testid=checks] [data-check=recognition]", "data-ok") == "false"
    finally:
        context.close()
    assert not errors, errors
    assert (SHOTS / "web-valid-zh.png").stat().st_size > 10_000
