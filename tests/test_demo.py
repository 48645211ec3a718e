"""`certledger demo` as the README's main command: everything up, verifiable, Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from helpers import free_port, wait_until


def _wait_healthy(base: str, process: subprocess.Popen, timeout: float = 240) -> dict:
    def health() -> dict | None:
        assert process.poll() is None, process.stdout.read() if process.stdout else "demo exited"
        try:
            r = httpx.get(f"{base}/healthz", timeout=2)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    return wait_until(health, timeout=timeout, what="the demo to become healthy", interval=0.5)


def test_demo_serves_the_page_and_api_and_stops_cleanly_on_ctrl_c(tmp_path):
    home = tmp_path / "home"
    port, chain_port = free_port(), free_port()
    env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_PORT": str(chain_port)}
    for var in ("CERTLEDGER_RPC_URL", "CERTLEDGER_PASSWORD", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_DB_URL"):
        env.pop(var, None)
    exe = Path(sys.executable).parent / "certledger"
    process = subprocess.Popen(
        [str(exe), "demo", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = _wait_healthy(base, process)
        assert health["status"] == "ok" and health["lag_blocks"] == 0
        page = httpx.get(f"{base}/verify")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        qr = sorted((home / "demo" / "id-cards" / "qr").glob("*.png"))[0]
        r = httpx.post(
            f"{base}/v1/verify?verifier_region=330000", files={"image": (qr.name, qr.read_bytes(), "image/png")}
        )
        assert r.status_code == 200 and r.json()["verdict"] == "VALID"
        doc = sorted((home / "demo" / "business-licences" / "certificates").glob("*.json"))[0]
        r = httpx.post(
            f"{base}/v1/verify?verifier_region=110000",
            content=doc.read_bytes(),
            headers={"content-type": "application/json"},
        )
        assert r.json()["verdict"] == "NOT_RECOGNIZED"  # Beijing has no rule for Guangdong licences
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "chain stopped" in out
    status = subprocess.run([str(exe), "chain", "status", "--json"], env=env, capture_output=True, text=True)
    assert '"running": false' in status.stdout
