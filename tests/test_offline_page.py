"""/verify offline in real headless Chromium, against the real API (uvicorn, a subprocess) over a
real chain (anvil) and mirror: the page is opened once online (its service worker keeps the page
and the trust snapshot), the API process is stopped, the page is loaded again and verifies full
QR payloads with the snapshot alone: VALID, REVOKED, and INVALID for an altered one, exactly as
the Python ``SnapshotSource`` answers for the same payloads, in both suites (sm: SM3 and the
batches' SM2 signatures, cross-checked with Tongsuo); a snapshot past its age answers ERROR with
its age; one signed by others than the pinned consortium's admins is refused.
Also GET /v1/snapshot and /v1/snapshot/trust through the checked test client.

Screenshots go to .artifacts/screenshots/ (docs/screenshots/ with CERTLEDGER_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_helpers import checked_client, id_rows, issue_rows, new_deployment, open_mirror
from eth_account import Account
from helpers import ROOT, Consortium, free_port, wait_until

from ledger.chain import Chain
from ledger.contracts import Status
from ledger.crypto.sm import SM2PrivateKey
from ledger.document import Anchor, Certificate
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree
from ledger.qr import compact_for, full_payload
from ledger.signing import sign_batch, sm2_sign_batch
from ledger.snapshot import Snapshot, SnapshotError, Trust, create
from ledger.verification import Verifier

SHOTS = ROOT / ("docs" if os.environ.get("CERTLEDGER_UPDATE_SCREENSHOTS") == "1" else ".artifacts") / "screenshots"
HOUR = 3600


@dataclass
class Setup:
    c: Consortium
    docs: list[dict[str, Any]]
    home: Path
    env: dict[str, str]
    snapshot: Path  # signed by every member region's admin
    forged: Path  # the same, signed by strangers only
    trust: Trust

    def payload(self, i: int, *, altered: bool = False, compact: bool = False) -> str:
        """The full (or compact) QR payload of certificate ``i`` (altered: a field, or for a
        compact code the end date, changed: its certificate hash is no longer the anchored one)."""
        doc = copy.deepcopy(self.docs[i])
        if altered:
            name = next(iter(doc["fields"]))
            doc["fields"][name] = doc["fields"][name] + "X"
            if compact:
                doc["validUntil"] = "2099-12-31"
            doc.pop("hash", None)
        cert, _ = Certificate.from_json(doc)
        return compact_for(cert) if compact else full_payload(cert)

    def python(self, payload: str | dict[str, Any], now: float) -> tuple[str, list[tuple[str, str, str]]]:
        """The verdict and checks of ledger/snapshot.py's SnapshotSource at ``now`` (a payload or a document)."""
        opened = Snapshot.read(self.snapshot).open(self.trust, self.home / "cache")
        verifier = Verifier(opened.source(clock=lambda: now), opened.deployment, clock=lambda: now)
        if isinstance(payload, dict):
            r = verifier.verify_document(*Certificate.from_json(payload))
        else:
            r = verifier.verify_payload(payload)
        return r.verdict.value, [(c.name, c.outcome.value, c.code) for c in r.checks]


def anchor_with_sm2(c: Consortium, like: dict[str, Any], sm2_key: SM2PrivateKey) -> dict[str, Any]:
    """A certificate like ``like`` (another holder) anchored in a batch of its own by its agency's
    chain key, the batch SM2-signed by ``sm2_key``: what an insider who skips the issuance
    pipeline's check of the SM2 key can put on chain. Returns its document."""
    doc = copy.deepcopy(like)
    doc.pop("hash", None)
    doc.pop("anchor", None)
    name = next(iter(doc["fields"]))
    doc["fields"][name] += "乙"
    cert, _ = Certificate.from_json(doc)
    h = cert.compute_hash()
    tree = build_tree([h])
    aid, tid = agency_id(cert.agency), type_id(cert.type)
    chain_id, registry = c.registry.chain.chain_id, c.deployment.certificate_registry
    sm2 = sm2_sign_batch(sm2_key, tree.root, tid, aid, chain_id, registry)
    eip712 = sign_batch(c.agency_keys[cert.agency], tree.root, tid, aid, chain_id, registry, sm2_signature=sm2)
    c.registry.chain.transact(
        c.deployer, c.registry.certificates.functions.anchorBatch(aid, tid, [h], eip712 + sm2, [])
    )
    address = c.agency_keys[cert.agency].address
    anchor = Anchor(chain_id, registry, tree.root, tuple(tree.proof(h)), eip712, address, sm2_signature=sm2)
    return replace(cert, anchor=anchor).to_json(h)


@pytest.fixture
def setup(chain: Chain, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    """A deployment (intl; ``@pytest.mark.parametrize("setup", ["sm"], indirect=True)``: sm) with
    three ID cards, the second revoked (sm: and a fourth whose batch a stranger's SM2 key signed),
    a mirror, and its snapshot signed by every region's admin."""
    suite = getattr(request, "param", "intl")
    c = new_deployment(chain, types=("ID_CARD",), suite=suite)
    docs = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(3), tmp_path / "issued")
    if suite == "sm":  # docs[3]: GD-PSB's chain key, a stranger's SM2 key (the contract cannot check SM2)
        docs.append(anchor_with_sm2(c, docs[2], SM2PrivateKey.generate()))
    c.registry.set_certificate_status(
        c.agency_keys["GD-PSB"], "GD-PSB", bytes.fromhex(docs[1]["hash"][2:]), Status.REVOKED, "HOLDER_REQUEST"
    )
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    mirror = open_mirror("sqlite", url, chain.url, c.deployment)
    mirror.sync()
    home = tmp_path / "home"
    home.mkdir()
    c.deployment.save(home / "deployment.json")
    snapshot, forged = home / "snapshot.zip", home / "forged.zip"
    create(mirror.store, c.deployment, snapshot)
    create(mirror.store, c.deployment, forged)
    snap, bad = Snapshot.read(snapshot), Snapshot.read(forged)
    for admin in c.admins.values():
        snap.sign(admin)
        bad.sign(Account.create())  # as many signatures, none of the consortium's
    trust = Trust.of_mirror(mirror.queries, c.deployment, mirror.queries.head().block)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CERTLEDGER_HOME": str(home),
        "CERTLEDGER_DEPLOYMENT": str(home / "deployment.json"),
        "CERTLEDGER_RPC_URL": chain.url,
        "CERTLEDGER_DB_URL": url,
        "CERTLEDGER_MAX_STALENESS_SECONDS": "3600",
    }
    try:
        yield Setup(c, docs, home, env, snapshot, forged, trust)
    finally:
        mirror.store.dispose()


@pytest.fixture
def serve(setup: Setup, tmp_path: Path) -> Iterator[Callable[..., tuple[str, subprocess.Popen[bytes]]]]:
    """serve(snapshot) -> (base URL, the uvicorn process): the real API serving that snapshot."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(snapshot: Path) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        log = tmp_path / f"uvicorn-{port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**setup.env, "CERTLEDGER_SNAPSHOT": str(snapshot)},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            import urllib.request

            assert proc.poll() is None, log.read_text()
            try:
                urllib.request.urlopen(base + "/v1/snapshot/trust", timeout=2).read()
                return True
            except OSError:
                return False

        wait_until(answering, timeout=60, interval=0.2, what="the API to start")
        return base, proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


def open_online(browser: Any, base: str) -> Any:
    """A fresh profile opens /verify online and waits until its service worker keeps the snapshot."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", device_scale_factor=1)
    page = ctx.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.goto(base + "/verify")
    page.wait_for_selector("html[data-ready]")
    page.wait_for_selector("html[data-offline-ready=true]", timeout=30_000)
    return page


def reload_offline(page: Any) -> None:
    page.reload()
    page.wait_for_selector("html[data-ready]")


def verify(page: Any, payload: str) -> None:
    page.fill("[data-testid=payload]", payload)
    page.click("[data-testid=verify-button]")


def shown(page: Any, verdict: str) -> tuple[str, list[tuple[str, str, str]]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(f"[data-testid=verdict][data-verdict={verdict}]:not([hidden])", timeout=30_000)
    except PlaywrightTimeout:
        seen = page.evaluate(
            "() => [document.querySelector('[data-testid=verdict]')?.dataset.verdict, "
            "document.querySelector('#verdict-message')?.innerText, document.querySelector('#result')?.innerText]"
        )
        raise AssertionError(f"expected {verdict}, the page shows {seen}") from None
    checks = page.eval_on_selector_all(
        "[data-testid=checks] li", "els => els.map(e => [e.dataset.check, e.dataset.outcome, e.dataset.code])"
    )
    return verdict, [tuple(c) for c in checks]


def page_now(page: Any) -> float:
    return float(page.evaluate("Date.now() / 1000"))


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#result").screenshot(path=str(SHOTS / f"{name}.png"))  # the answer, with its offline note


# ---------------------------------------------------------------------- the API


def test_the_api_serves_the_snapshot_with_an_etag_and_the_trusted_consortium(setup: Setup, serve: Any) -> None:
    import httpx

    base, _ = serve(setup.snapshot)
    r = httpx.get(base + "/v1/snapshot")
    assert r.status_code == 200 and r.content == setup.snapshot.read_bytes()
    etag = r.headers["etag"]
    assert etag == '"' + Snapshot.read(setup.snapshot).manifest.digest().hex() + '"'
    assert r.headers["cache-control"] == "no-cache"
    assert httpx.get(base + "/v1/snapshot", headers={"If-None-Match": etag}).status_code == 304
    t = httpx.get(base + "/v1/snapshot/trust").json()
    assert Trust.from_json(t).admins == setup.trust.admins and t["quorum"] == setup.trust.quorum
    assert t["max_age_seconds"] == 86_400
    sw = httpx.get(base + "/verify-sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    csp = httpx.get(base + "/verify").headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in csp and "worker-src 'self'" in csp and "'unsafe-inline'" not in csp


def test_without_a_snapshot_configured_the_api_says_so(setup: Setup) -> None:
    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings(
        home=setup.home,
        deployment=setup.home / "deployment.json",
        rpc_url=setup.env["CERTLEDGER_RPC_URL"],
        db_url=setup.env["CERTLEDGER_DB_URL"],
    )
    with checked_client(create_app(settings)) as client:  # the trust answer conforms to TrustModel
        r = client.get("/v1/snapshot")
        assert r.status_code == 404 and r.json()["error"]["code"] == "NO_SNAPSHOT"
        t = client.get("/v1/snapshot/trust")
        assert t.status_code == 200 and Trust.from_json(t.json()).admins == setup.trust.admins
    pinned = setup.home / "trust.json"
    Trust(setup.trust.chain_id, setup.trust.consortium, (2, 3), setup.trust.admins, 7).save(pinned)
    settings.snapshot_trust = pinned
    with checked_client(create_app(settings)) as client:  # the pinned file, when one is configured
        t = client.get("/v1/snapshot/trust").json()
        assert t["rule"] == [2, 3] and t["block"] == 7


# ---------------------------------------------------------------------- the page, offline


def test_with_the_api_stopped_the_page_verifies_full_payloads_as_python_does(
    browser: Any, setup: Setup, serve: Any
) -> None:
    base, proc = serve(setup.snapshot)
    page = open_online(browser, base)
    stop(proc)  # really: the server process is gone
    reload_offline(page)
    cases = [(setup.payload(0), "VALID"), (setup.payload(1), "REVOKED"), (setup.payload(0, altered=True), "INVALID")]
    for payload, verdict in cases:
        verify(page, payload)
        got = shown(page, verdict)
        assert got == setup.python(payload, page_now(page)), verdict
        note = page.inner_text("[data-testid=offline-note]")
        block = Snapshot.read(setup.snapshot).manifest.block
        assert "已离线核验" in note and f"区块 {block} " in note, note
        if verdict == "VALID":
            shoot(page, "verify-offline-valid")
    for payload, verdict in (
        (setup.payload(0, compact=True), "VALID"),
        (setup.payload(1, compact=True), "REVOKED"),
        (setup.payload(0, compact=True, altered=True), "UNKNOWN"),
    ):  # compact codes: the certificate hash recomputed from their metadata, looked up in the snapshot
        assert payload.startswith("CLC3:")
        verify(page, payload)
        assert shown(page, verdict) == setup.python(payload, page_now(page)), verdict
    altered = copy.deepcopy(setup.docs[1])  # a certificate file, its stated hash no longer its fields'
    altered["validUntil"] = "2099-12-31"
    for doc, verdict in ((setup.docs[0], "VALID"), (setup.docs[1], "REVOKED"), (altered, "INVALID")):
        verify(page, json.dumps(doc, ensure_ascii=False))
        assert shown(page, verdict) == setup.python(doc, page_now(page)), verdict
    page.click("[data-testid=lang-button]")
    page.click("[data-lang=en]")
    verify(page, setup.payload(0))
    shown(page, "VALID")
    assert "Verified offline with the trust snapshot of block" in page.inner_text("[data-testid=offline-note]")
    assert not page.problems, page.problems
    page.context.close()


def test_a_snapshot_past_its_age_answers_error_with_its_age(browser: Any, setup: Setup, serve: Any) -> None:
    base, proc = serve(setup.snapshot)
    page = open_online(browser, base)
    stop(proc)
    block_time = Snapshot.read(setup.snapshot).manifest.block_time
    later = block_time + 25 * HOUR
    page.clock.set_fixed_time(datetime.fromtimestamp(later, UTC))
    reload_offline(page)
    payload = setup.payload(0)
    verify(page, payload)
    got = shown(page, "ERROR")
    assert got == setup.python(payload, later)
    message = page.inner_text("#verdict-message")
    assert "25 小时" in message and "24 小时" in message, message
    shoot(page, "verify-offline-too-old")
    page.context.close()


def test_a_snapshot_not_signed_by_the_pinned_admins_is_refused(browser: Any, setup: Setup, serve: Any) -> None:
    base, proc = serve(setup.forged)
    page = open_online(browser, base)
    stop(proc)
    reload_offline(page)
    verify(page, setup.payload(0))
    shown(page, "ERROR")
    message = page.inner_text("#verdict-message")
    assert "未经联盟签署" in message and "已拒绝使用" in message, message
    # the browser's checks of a snapshot, each as ledger/snapshot.py refuses it
    trust = {**setup.trust.to_json(), "quorum": setup.trust.quorum}
    elsewhere = {**trust, "chain_id": trust["chain_id"] + 1}
    altered = rewritten(setup.snapshot, "trust.sqlite", lambda d: d[:-1] + bytes([d[-1] ^ 1]))
    (setup.home / "altered.zip").write_bytes(altered)
    with pytest.raises(SnapshotError, match="does not match its signed manifest"):
        Snapshot.read(setup.home / "altered.zip").open(setup.trust, setup.home / "cache-altered")
    genuine = setup.snapshot.read_bytes()
    assert open_in_page(page, genuine, trust) == "opened"
    assert open_in_page(page, altered, trust).startswith("ALTERED: the snapshot's database does not match")
    assert open_in_page(page, genuine, elsewhere).startswith("OTHER_DEPLOYMENT: the snapshot is of another deployment")
    assert open_in_page(page, setup.forged.read_bytes(), trust).startswith(
        "NOT_SIGNED: the snapshot is not signed by the consortium"
    )
    assert open_in_page(page, genuine[:-100], trust).startswith("NOT_A_SNAPSHOT")
    page.context.close()


def rewritten(path: Path, member: str, change: Callable[[bytes], bytes]) -> bytes:
    """The snapshot at ``path`` with one member changed (stored, as the original)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as w:
        for info in z.infolist():
            data = z.read(info.filename)
            w.writestr(info, change(data) if info.filename == member else data)
    return out.getvalue()


def open_in_page(page: Any, zip_bytes: bytes, trust: dict[str, Any]) -> str:
    """offline.js openSnapshot in the page: "opened", or the refusal's code and message."""
    import base64

    return str(
        page.evaluate(
            """async ([b64, trust]) => {
              const m = await import("/static/offline.js");
              const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
              try { await m.openSnapshot(bytes, trust); return "opened"; }
              catch (e) { return `${e.code}: ${e.message}`; }
            }""",
            [base64.b64encode(zip_bytes).decode(), trust],
        )
    )


def test_online_the_api_answers_as_before(browser: Any, setup: Setup, serve: Any) -> None:
    """Online, with the service worker installed, the API answers (no offline note); with the
    device offline (navigator.onLine false, the server still up), the snapshot answers at once."""
    base, _ = serve(setup.snapshot)
    page = open_online(browser, base)
    verify(page, setup.payload(0))
    shown(page, "VALID")
    assert page.locator("[data-testid=offline-note]").is_hidden()
    page.context.set_offline(True)
    verify(page, setup.payload(1))
    assert shown(page, "REVOKED") == setup.python(setup.payload(1), page_now(page))
    assert "已离线核验" in page.inner_text("[data-testid=offline-note]")
    page.context.close()


@pytest.mark.parametrize("setup", ["sm"], indirect=True)
def test_the_national_suite_verifies_offline_with_sm2_as_python_does(browser: Any, setup: Setup, serve: Any) -> None:
    """In the sm suite the page checks SM3 hashes and the batch's SM2 signature under the SM2 key
    registered with the anchoring key: genuine certificates are VALID (or REVOKED); a batch
    anchored with an SM2 key that is not the agency's (the contract cannot check SM2) is INVALID
    FORGED_SM2_SIGNATURE; a file whose SM2 signature was swapped or dropped is INVALID; each
    exactly as the Python SnapshotSource answers."""
    base, proc = serve(setup.snapshot)
    page = open_online(browser, base)
    stop(proc)
    reload_offline(page)
    forged_sm2 = setup.docs[3]  # anchored under GD-PSB's chain key, SM2-signed by a stranger's key
    swapped = copy.deepcopy(setup.docs[0])  # carries the stranger's batch SM2 signature instead
    swapped["anchor"]["sm2Signature"] = forged_sm2["anchor"]["sm2Signature"]
    dropped = copy.deepcopy(setup.docs[0])
    del dropped["anchor"]["sm2Signature"]
    cases: list[tuple[str | dict[str, Any], str, str]] = [
        (setup.payload(0), "VALID", "OK"),
        (setup.payload(1), "REVOKED", "OK"),
        (setup.payload(0, compact=True), "VALID", "OK"),
        (setup.docs[0], "VALID", "OK"),
        (setup.payload(3), "INVALID", "FORGED_SM2_SIGNATURE"),
        (setup.payload(3, compact=True), "INVALID", "FORGED_SM2_SIGNATURE"),  # the snapshot's recorded SM2 signature
        (forged_sm2, "INVALID", "FORGED_SM2_SIGNATURE"),
        (swapped, "INVALID", "SM2_SIGNATURE_MISMATCH"),
        (dropped, "INVALID", "SM2_SIGNATURE_MISSING"),
    ]
    for given, verdict, key_code in cases:
        verify(page, given if isinstance(given, str) else json.dumps(given, ensure_ascii=False))
        got = shown(page, verdict)
        assert got == setup.python(given, page_now(page)), (verdict, key_code)
        assert ("key_valid", "PASS" if key_code == "OK" else "FAIL", key_code) in got[1], got
    assert not page.problems, page.problems
    page.context.close()


def test_sm2_verification_in_the_browser_agrees_with_tongsuo(browser: Any, setup: Setup, serve: Any) -> None:
    """api/static/sm2.js against ledger.crypto.sm (Tongsuo) on the same signatures: genuine ones
    verify (65- and 64-byte keys, a custom signer ID); a changed message, bit of r or s, key, or ID,
    r or s of 0 or n, a short signature and a key off the curve do not."""
    from ledger.crypto.sm import N, SM2PrivateKey

    base, _ = serve(setup.snapshot)
    page = browser.new_page()
    page.goto(base + "/verify")
    page.wait_for_selector("html[data-ready]")
    vectors = []
    for i in range(12):
        key = SM2PrivateKey.generate()
        pub = key.public_key.to_bytes()
        message = os.urandom(i * 17)
        signer_id = b"1234567812345678" if i % 3 else f"agency-{i}@example.cn".encode()
        sig = key.sign(message, signer_id=signer_id)
        assert key.public_key.verify(message, sig, signer_id=signer_id)
        other = SM2PrivateKey.generate().public_key.to_bytes()
        off_curve = pub[:40] + bytes([pub[40] ^ 1]) + pub[41:]
        flip_r = bytes([sig[0] ^ 0x80]) + sig[1:]
        flip_s = sig[:63] + bytes([sig[63] ^ 1])
        n = N.to_bytes(32, "big")
        for k, sg, m, sid, want in (
            (pub, sig, message, signer_id, True),
            (pub[1:], sig, message, signer_id, True),
            (pub, sig, message + b"!", signer_id, False),
            (pub, flip_r, message, signer_id, False),
            (pub, flip_s, message, signer_id, False),
            (other, sig, message, signer_id, False),
            (pub, sig, message, signer_id + b"x", False),
            (off_curve, sig, message, signer_id, False),
            (pub, bytes(32) + sig[32:], message, signer_id, False),
            (pub, sig[:32] + n, message, signer_id, False),
            (pub, sig[:63], message, signer_id, False),
        ):
            vectors.append([k.hex(), sg.hex(), m.hex(), sid.hex(), want])
    got = page.evaluate(
        """async (vectors) => {
          const { sm2Verify } = await import("/static/sm2.js");
          const b = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
          return vectors.map(([k, s, m, id]) => sm2Verify(b(k), b(s), b(m), b(id)));
        }""",
        vectors,
    )
    assert got == [v[4] for v in vectors]
    page.close()


@pytest.mark.unit
def test_the_import_map_is_allowed_by_its_hash_and_the_offline_assets_exist() -> None:
    import base64
    import hashlib
    import json
    import re

    from api.middleware import CSP, IMPORT_MAP, IMPORT_MAP_HASH

    page = (ROOT / "api/static/verify.html").read_text()
    assert f'<script type="importmap">{IMPORT_MAP}</script>' in page
    assert page.index('type="importmap"') < page.index('rel="modulepreload"')  # before any module loads
    digest = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()
    assert f"sha256-{digest}" == IMPORT_MAP_HASH and f"'{IMPORT_MAP_HASH}'" in CSP
    manifest = json.loads((ROOT / "api/static/vendor/MANIFEST.json").read_text())["packages"]
    package = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for name, version, files in (
        ("@noble/secp256k1", "1.7.1", ["noble-secp256k1.js"]),
        ("@noble/curves", "1.8.2", ["noble-curves/weierstrass.js", "noble-curves/modular.js"]),
        ("sql.js", "1.13.0", ["sql-wasm.js", "sql-wasm.wasm"]),
    ):
        assert manifest[name]["version"] == version == package[name]
        for f in files:
            data = (ROOT / "api/static/vendor" / f).read_bytes()
            assert manifest[name]["files"][f]["sha256"] == hashlib.sha256(data).hexdigest()
    kept = re.findall(r'"(/static/[^"]+)"', (ROOT / "api/static/sw.js").read_text())
    assert "/static/offline.js" in kept and "/static/vendor/sql-wasm.wasm" in kept
    for path in kept:
        assert (ROOT / "api" / path.lstrip("/")).is_file(), path
