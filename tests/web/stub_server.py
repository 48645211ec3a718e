"""A tiny stand-in for the CertLedger API, for trying the /verify page by hand and with
Playwright (tests/test_web_page.py). Not part of the product; stdlib only.

    python tests/web/stub_server.py [--port 8765]

Serves GET /verify (api/static/verify.html), GET /wallet (api/static/wallet.html), GET
/static/... (api/static/), GET /v1/types (ledger/certtypes/*.json), GET /v1/regions (four
members, one of them admitted late, and a removed region), POST /v1/speech (the API's own
espeak-ng runner) and answers POST /v1/verify
with canned results in the API's result contract (outcome, code, params per check):

- payload "CLC1:DEMO-<VERDICT>" (VALID, REVOKED, SUSPENDED, EXPIRED, NOT_RECOGNIZED, INVALID,
  UNKNOWN, INCOMPLETE, ERROR) -> that verdict; "CLC1:DEMO-NEWCODE" -> INVALID with a check code
  the page does not know; "CLC1:DEMO-HTTP400" (422 MALFORMED_PAYLOAD) / "-HTTP418" (an unknown code) /
  "-HTTP500" / "-HTTP503" -> that error; larger bodies than the API takes -> 413;
  "CLC1:DEMO-SLOW" -> VALID after 1.5 s; "CLC1:DEMO-HTML500" -> 500 with an HTML body.
- any other CLC2:/CLC1:/CLF1: payload -> decoded with ledger.qr when importable (run with the
  project's .venv): a compact CLC2:/CLC1: payload (the hash only) is INCOMPLETE, a full CLF1: one VALID;
  without ledger.qr a VALID result; undecodable -> 422 MALFORMED_PAYLOAD like the API.
- {"document": {...}} -> VALID with disclosed fields (or {"document": {"demo": "REVOKED"}}).
- multipart "image" -> decoded with zxing-cpp when importable, then as a payload; no QR -> 422.

GET /_stub/requests lists what the page sent (method, path, query, kind, body); POST
/_stub/reset clears it.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "static"
CERTTYPES = ROOT / "ledger" / "certtypes"
sys.path.insert(0, str(ROOT))

from api.middleware import IMPORT_MAP_HASH  # noqa: E402  (verify.html's import map)

CSP = (
    f"default-src 'self'; script-src 'self' 'wasm-unsafe-eval' '{IMPORT_MAP_HASH}'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

VERDICTS = (
    "VALID",
    "REVOKED",
    "SUSPENDED",
    "EXPIRED",
    "NOT_RECOGNIZED",
    "INVALID",
    "UNKNOWN",
    "INCOMPLETE",
    "ERROR",
    "NEWCODE",
)
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # as api/app.py
MAX_BODY_BYTES = 64 * 1024
REQUESTS: list[dict] = []
LOCK = threading.Lock()

HASH = "0x5f1c2a9b7e3d4c6a8b0e1f2d3c4b5a69788766554433221100ffeeddccbbaa99"
ROOT_HASH = "0x9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
TX = "0x3c2b1a0f9e8d7c6b5a49382716051423324150697887a6b5c4d3e2f1a0b9c8d7"


def certificate(cert_type="ID_CARD", region=440000, agency="GD-PSB", cert_hash=HASH, until="2036-01-01"):
    return {
        "hash": cert_hash,
        "type": cert_type,
        "issuer_region": region,
        "agency": agency,
        "batch_root": ROOT_HASH,
        "anchored_at": {"block": 12, "tx": TX, "time": "2026-11-28T08:00:00Z"},
        "valid_from": "2026-01-01",
        "valid_until": until,
    }


KEY = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"


def check(name, outcome, code="OK", detail="", **params):
    ok = {"PASS": True, "FAIL": False}.get(outcome)
    return {"name": name, "ok": ok, "outcome": outcome, "code": code, "detail": detail, "params": params}


def checks_for(
    verdict: str,
    verifier_region: int | None,
    issuer_region: int,
    cert_type: str,
    until: str | None = "2036-01-01",
    shown: int = 3,
    hidden: int = 3,
) -> list[dict]:
    """Checks in the API's result contract: outcome, code and params (the detail is English)."""
    anchored_at = "2026-11-28T08:00:00Z"
    c = {
        "integrity": check(
            "integrity",
            "PASS",
            "OK",
            f"hash and Merkle proof check out ({shown} field(s) shown, {hidden} hidden)",
            shown=shown,
            hidden=hidden,
        ),
        "anchored": check(
            "anchored",
            "PASS",
            "OK",
            f"anchored in block 12 at {anchored_at} by GD-PSB",
            agency="GD-PSB",
            block=12,
            time=anchored_at,
        ),
        "issuer_authorized": check(
            "issuer_authorized",
            "PASS",
            "OK",
            f"GD-PSB ({issuer_region}) was authorised to issue {cert_type} when it anchored",
            agency="GD-PSB",
            region=issuer_region,
            type=cert_type,
        ),
        "key_valid": check("key_valid", "PASS", "OK", f"signed by {KEY}, valid at anchoring time", key=KEY),
        "status": check("status", "PASS", "OK", "active"),
        "validity_period": check(
            "validity_period",
            "PASS",
            "OK",
            f"valid from 2026-01-01 until {until}",
            valid_from="2026-01-01",
            valid_until=until,
        ),
        "recognition": (
            check(
                "recognition",
                "PASS",
                "OK",
                f"{verifier_region} recognises {cert_type} from {issuer_region}",
                verifier_region=verifier_region,
                type=cert_type,
                issuer_region=issuer_region,
            )
            if verifier_region and verifier_region != issuer_region
            else check("recognition", "PASS", "OWN_REGION", f"issued in {issuer_region} itself", region=issuer_region)
            if verifier_region
            else check("recognition", "SKIPPED", "NO_VERIFIER_REGION", "no verifier region given")
        ),
    }
    if verdict == "REVOKED":
        c["status"] = check(
            "status",
            "FAIL",
            "REVOKED",
            "revoked (certificate, reason FRAUD, 2026-10-02T03:00:00Z)",
            scope="certificate",
            reason="FRAUD",
            time="2026-10-02T03:00:00Z",
            role="AGENCY_KEY",
        )
    elif verdict == "SUSPENDED":
        c["status"] = check(
            "status",
            "FAIL",
            "SUSPENDED",
            "suspended (batch, reason UNDER_INVESTIGATION, 2026-11-01T00:00:00Z)",
            scope="batch",
            reason="UNDER_INVESTIGATION",
            time="2026-11-01T00:00:00Z",
            role="REGION_ADMIN",
        )
    elif verdict == "EXPIRED":
        c["validity_period"] = check(
            "validity_period", "FAIL", "EXPIRED", "expired on 2025-12-31", valid_until="2025-12-31"
        )
    elif verdict == "NOT_RECOGNIZED":
        vr = verifier_region or 330000
        c["recognition"] = check(
            "recognition",
            "FAIL",
            "NO_RULE",
            f"{vr} has no rule recognising {cert_type} issued in {issuer_region}",
            verifier_region=vr,
            type=cert_type,
            issuer_region=issuer_region,
        )
    elif verdict == "INVALID":
        c["integrity"] = check(
            "integrity", "FAIL", "HASH_MISMATCH", "the document's fields do not produce its stated hash: it was altered"
        )
    elif verdict == "UNKNOWN":
        c["anchored"] = check(
            "anchored", "FAIL", "NOT_ANCHORED", "this certificate hash was never anchored on the ledger"
        )
        for k in ("issuer_authorized", "key_valid", "status"):
            c[k] = check(k, "SKIPPED", "NOT_ANCHORED", "not anchored")
        c["validity_period"] = check(
            "validity_period", "SKIPPED", "NO_DATES", "the validity dates are in the document, not on the ledger"
        )
        if verifier_region:
            c["recognition"] = check("recognition", "SKIPPED", "NOT_ANCHORED", "not anchored")
    elif verdict == "INCOMPLETE":  # a compact QR: only the hash
        c["integrity"] = check(
            "integrity", "SKIPPED", "NO_DOCUMENT", "verified by certificate hash only: no document to check"
        )
        c["validity_period"] = check("validity_period", "SKIPPED", "NO_DATES", "a compact QR carries no validity dates")
    elif verdict == "ERROR":
        why = "mirror is 240 blocks behind the chain (limit 5)"
        for k in c:
            if k != "integrity":
                c[k] = check(k, "ERROR", "UNAVAILABLE", f"could not check: {why}", reason=why)
    elif verdict == "NEWCODE":  # a code this page does not know: the English detail is shown
        c["key_valid"] = check(
            "key_valid", "FAIL", "QUANTUM_BROKEN", "the signing key was broken by a quantum computer"
        )
    return list(c.values())


def result(
    verdict: str,
    verifier_region: int | None,
    *,
    cert_type="ID_CARD",
    region=440000,
    cert_hash=HASH,
    disclosed=None,
    hidden=None,
):
    until = "2025-12-31" if verdict == "EXPIRED" else "2036-01-01"
    shown, n_hidden = len(disclosed or {}) or 3, len(hidden or []) or 3
    body = {
        "verdict": "INVALID" if verdict == "NEWCODE" else verdict,
        "checks": checks_for(verdict, verifier_region, region, cert_type, until, shown, n_hidden),
        "certificate": None
        if verdict == "ERROR"
        else certificate(cert_type, region, cert_hash=cert_hash, until=None if verdict == "INCOMPLETE" else until),
        "verifier_region": verifier_region,
        "as_of": "2026-11-28T09:00:00Z",
        "source": {"kind": "mirror", "block": 120, "lag_blocks": 240 if verdict == "ERROR" else 0},
    }
    if verdict == "INCOMPLETE":
        body["certificate"].pop("valid_from")
        body["certificate"].pop("valid_until")
    if verdict == "ERROR":
        body["source"]["error"] = "mirror is 240 blocks behind the chain (limit 5)"
    if disclosed is not None:
        body["disclosed_fields"] = disclosed
        body["hidden_fields"] = hidden or []
    return body


# GET /v1/regions, as the API answers it: 350000 (Fujian) was admitted after the page was
# written; 460000 (Hainan) was admitted and later removed (not a member: not listed).
REGIONS = {
    "quorum": 2,
    "members": 4,
    "regions": [
        {
            "region": 440000,
            "member": True,
            "admitted_at": "2026-01-01T00:00:00Z",
            "removed_at": None,
            "admins": [],
            "name": {"zh": "广东省", "en": "Guangdong"},
        },
        {
            "region": 330000,
            "member": True,
            "admitted_at": "2026-01-01T00:00:00Z",
            "removed_at": None,
            "admins": [],
            "name": {"zh": "浙江省", "en": "Zhejiang"},
        },
        {
            "region": 110000,
            "member": True,
            "admitted_at": "2026-01-01T00:00:00Z",
            "removed_at": None,
            "admins": [],
            "name": {"zh": "北京市", "en": "Beijing"},
        },
        {
            "region": 460000,
            "member": False,
            "admitted_at": None,
            "removed_at": "2026-06-01T00:00:00Z",
            "admins": [],
            "name": {"zh": "海南省", "en": "Hainan"},
        },
        {
            "region": 350000,
            "member": True,
            "admitted_at": "2026-11-29T00:00:00Z",
            "removed_at": None,
            "admins": [],
            "name": {"zh": "福建省", "en": "Fujian"},
        },
    ],
}


def speech(raw: bytes):
    """POST /v1/speech through the API's own espeak-ng runner (503 when it cannot be imported)."""
    try:
        from api.routes.speech import MAX_CHARS, VOICES, SpeechUnavailable, clean_text, synthesize  # type: ignore
    except Exception:  # run without the project's venv
        return error(503, "SPEECH_UNAVAILABLE", "the stub cannot import api.routes.speech")
    try:
        body = json.loads(raw)
    except ValueError:
        return error(422, "VALIDATION_ERROR", "body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not isinstance(body.get("lang"), str):
        return error(422, "VALIDATION_ERROR", "expected {lang, text}")
    if len(body["text"]) > MAX_CHARS:
        return error(422, "VALIDATION_ERROR", f"text: at most {MAX_CHARS} characters")
    if body["lang"] not in VOICES:
        return error(422, "UNSUPPORTED_LANGUAGE", f"no voice for language {body['lang']!r}")
    try:
        return 200, synthesize(body["lang"], clean_text(body["text"]))
    except SpeechUnavailable as exc:
        return error(503, "SPEECH_UNAVAILABLE", str(exc))


def error(status: int, code: str, message: str):
    return status, {"error": {"code": code, "message": message}}


def verify_payload(payload: str, verifier_region: int | None):
    m = re.fullmatch(r"CLC1:DEMO-([A-Z_]+[0-9]*)", payload.strip())
    if m:
        word = m.group(1)
        if word in VERDICTS:
            disclosed = (
                {"name": "张三", "sex": "M", "birthDate": "1990-01-01"} if word in ("VALID", "REVOKED") else None
            )
            return 200, result(word, verifier_region, disclosed=disclosed, hidden=["address", "idNumber", "ethnicity"])
        if word == "SLOW":
            time.sleep(1.5)
            return 200, result("VALID", verifier_region)
        if word == "HTTP400":  # as the API answers a payload it cannot decode
            return error(422, "MALFORMED_PAYLOAD", "not a CertLedger QR payload (expected CLC2: or CLF1: prefix)")
        if word == "HTTP418":  # an error code this page does not know: its message is shown as is
            return error(400, "SOMETHING_NEW", "a new kind of input problem")
        if word == "HTTP500":
            return error(500, "INTERNAL", "internal error while verifying")
        if word == "HTTP503":
            return error(503, "UNAVAILABLE", "temporarily unable to answer: OperationalError")
        if word == "HTML500":
            return 500, "<html><body>Bad gateway</body></html>"
    try:
        from ledger import qr  # type: ignore
        from ledger.errors import InvalidInput  # type: ignore
    except Exception:  # run without the project's venv
        if payload.startswith(("CLC2:", "CLC1:", "CLF1:")):
            return 200, result("VALID", verifier_region)
        return error(422, "MALFORMED_PAYLOAD", "not a CertLedger QR payload (expected CLC2: or CLF1: prefix)")
    try:
        decoded = qr.decode(payload)
    except InvalidInput as exc:
        return error(422, "MALFORMED_PAYLOAD", str(exc))
    if isinstance(decoded, qr.CompactPayload):  # only the hash: validity and content not checked
        return 200, result(
            "INCOMPLETE",
            verifier_region,
            cert_type=decoded.type,
            region=decoded.region,
            cert_hash="0x" + decoded.cert_hash.hex(),
        )
    return 200, result(
        "VALID",
        verifier_region,
        cert_type=decoded.type,
        region=decoded.region,
        disclosed=dict(decoded.fields),
        hidden=list(decoded.hidden),
    )


def verify_presentation(authorization: str, verifier_region: int | None):
    """As the API answers a wallet's presentation: 401 without a verifier's key (the stub takes
    any ``Bearer clv_…``), else VALID with the holder's chosen field and the purpose."""
    if not authorization.startswith("Bearer clv_"):
        return error(
            401,
            "NOT_AUTHORIZED",
            "a citizen's presentation is shown to registered verifiers only: send your organisation's API key",
        )
    body = result("VALID", verifier_region, disclosed={"name": "张三"}, hidden=["sex", "birthDate", "idNumber"])
    body["presentation"] = {
        "purpose": "BANKING",
        "purpose_text": "开户",
        "issued_at": 1_795_000_000,
        "expires_at": 1_795_000_060,
    }
    return 200, body


def verify_document(doc, verifier_region):
    if not isinstance(doc, dict):
        return error(400, "bad_document", "document must be a JSON object")
    verdict = doc.get("demo", "VALID")
    if verdict not in VERDICTS:
        return error(422, "bad_document", "malformed certificate document: missing anchor")
    fields = (
        doc.get("fields")
        if isinstance(doc.get("fields"), dict)
        else {
            "companyName": "杭州示例科技有限公司",
            "creditCode": "91330100MA2XXXXX0X",
            "establishedOn": "2019-05-20",
        }
    )
    hidden = (
        list(doc.get("hidden", {}).keys())
        if isinstance(doc.get("hidden"), dict)
        else ["legalRepresentative", "address"]
    )
    return 200, result(
        verdict,
        verifier_region,
        cert_type=doc.get("type", "BUSINESS_LICENSE"),
        region=330000,
        disclosed=fields,
        hidden=hidden,
    )


def decode_image(data: bytes) -> str | None:
    try:
        import io

        import zxingcpp  # type: ignore
        from PIL import Image  # type: ignore
    except Exception:
        return None
    try:
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    except Exception:
        return None
    return found[0].text if found else None


class Handler(BaseHTTPRequestHandler):
    server_version = "CertLedgerStub/1"

    def log_message(self, fmt, *args):  # quiet; pass --verbose to see requests
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(fmt, *args)

    def send(self, status: int, body, content_type="application/json; charset=utf-8", extra=None):
        raw = (
            body
            if isinstance(body, bytes)
            else (json.dumps(body, ensure_ascii=False).encode() if not isinstance(body, str) else body.encode())
        )
        if isinstance(body, str):
            content_type = "text/html; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path in ("/verify", "/verify/", "/wallet", "/wallet/"):
            page = "wallet.html" if url.path.startswith("/wallet") else "verify.html"
            return self.send(
                200,
                (STATIC / page).read_bytes(),
                "text/html; charset=utf-8",
                {
                    "Content-Security-Policy": CSP,
                    "Referrer-Policy": "no-referrer",
                    "Permissions-Policy": "camera=(self)",
                },
            )
        if url.path == "/verify-sw.js":
            # a service worker that keeps nothing: the page registers one, and its offline mode
            # is tried against the real API (tests/test_offline_page.py), never the stub
            return self.send(200, b"// the stub's service worker: keeps nothing\n", "text/javascript; charset=utf-8")
        if url.path.startswith("/static/"):
            rel = url.path[len("/static/") :]
            path = (STATIC / rel).resolve()
            if not str(path).startswith(str(STATIC.resolve()) + "/") or not path.is_file():
                return self.send(404, {"error": {"code": "not_found", "message": "no such file"}})
            ctype = {
                ".js": "text/javascript; charset=utf-8",
                ".mjs": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8",
                ".json": "application/json; charset=utf-8",
            }.get(path.suffix) or (mimetypes.guess_type(path.name)[0] or "application/octet-stream")
            return self.send(200, path.read_bytes(), ctype)
        if url.path == "/v1/types":
            types = [json.loads(p.read_text()) for p in sorted(CERTTYPES.glob("*.json"))]
            return self.send(200, types)
        if url.path == "/v1/regions":
            return self.send(200, REGIONS)
        if url.path == "/_stub/requests":
            with LOCK:
                return self.send(200, list(REQUESTS))
        return self.send(404, {"error": {"code": "not_found", "message": f"no route {url.path}"}})

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/_stub/reset":
            with LOCK:
                REQUESTS.clear()
            return self.send(200, {"ok": True})
        if url.path == "/v1/speech":
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                lang = json.loads(raw).get("lang")
            except Exception:
                lang = None
            with LOCK:
                REQUESTS.append(
                    {
                        "method": "POST",
                        "path": url.path,
                        "query": url.query,
                        "kind": "speech",
                        "body": json.loads(raw) if lang else raw.decode("utf-8", "replace"),
                    }
                )
            status, answer = speech(raw)
            if isinstance(answer, bytes):
                return self.send(status, answer, "audio/wav")
            return self.send(status, answer)
        if url.path != "/v1/verify":
            return self.send(404, {"error": {"code": "not_found", "message": f"no route {url.path}"}})
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        limit = MAX_IMAGE_BYTES if self.headers.get("Content-Type", "").startswith("multipart/") else MAX_BODY_BYTES
        if length > limit:
            self.rfile.read(length)
            return self.send(*error(413, "BODY_TOO_LARGE", f"request body larger than {limit} bytes"))
        raw = self.rfile.read(length)
        ctype = self.headers.get("Content-Type", "")
        record = {
            "method": "POST",
            "path": url.path,
            "query": url.query,
            "content_type": ctype.split(";")[0],
            "accept_language": self.headers.get("Accept-Language"),
            "authorization": self.headers.get("Authorization"),
        }

        region = None
        if "verifier_region" in query:
            text = query["verifier_region"][0]
            if not re.fullmatch(r"\d{6}", text):
                return self.send(
                    *error(400, "bad_region", f"verifier_region must be a 6-digit region code, got {text!r}")
                )
            region = int(text)

        if ctype.startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                return self.send(*error(400, "bad_json", "request body is not JSON"))
            record["kind"] = "document" if "document" in body else "payload"
            record["body"] = body
            with LOCK:
                REQUESTS.append(record)
            if "document" in body:
                return self.send(*verify_document(body["document"], region))
            if isinstance(body.get("payload"), str):
                if body["payload"].strip().startswith("CLP1:"):  # a presentation: registered verifiers only
                    return self.send(*verify_presentation(self.headers.get("Authorization") or "", region))
                return self.send(*verify_payload(body["payload"], region))
            return self.send(*error(400, "bad_request", "body needs 'payload' or 'document'"))
        if ctype.startswith("multipart/form-data"):
            msg = BytesParser(policy=email_policy).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            image = None
            for part in msg.iter_parts():
                if part.get_param("name", header="content-disposition") == "image":
                    image = part.get_payload(decode=True)
                    record["filename"] = part.get_filename()
            record["kind"] = "image"
            record["body"] = f"{len(image) if image else 0} bytes"
            with LOCK:
                REQUESTS.append(record)
            if not image:
                return self.send(*error(400, "no_image", "multipart field 'image' is missing"))
            text = decode_image(image)
            if not text:
                return self.send(*error(422, "NO_QR_FOUND", "no QR code found in the image"))
            return self.send(*verify_payload(text, region))
        return self.send(*error(415, "unsupported_media_type", "send JSON or multipart/form-data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.verbose = args.verbose  # type: ignore[attr-defined]
    print(f"stub API on http://{args.host}:{httpd.server_port}/verify", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
