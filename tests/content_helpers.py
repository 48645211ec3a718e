"""Plain helpers of the content layer's tests: a certificate document with personal data in it,
and an RPC endpoint that answers one fixed body whatever it is asked."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from ledger.document import Certificate

HOLDER = {
    "name": "王秀英",
    "idNumber": "440106198502140023",
    "address": "广东省广州市天河区体育西路123号",
    "birthDate": "1985-02-14",
}


def certificate(suite: str = "intl") -> bytes:
    cert = Certificate(
        type="ID_CARD",
        agency="GD-PSB",
        region=440000,
        valid_from="2026-01-01",
        valid_until="2036-01-01",
        fields=HOLDER,
        salts={name: os.urandom(16) for name in HOLDER},
        version=2,
        suite=suite,
    )
    return orjson.dumps(cert.to_json(), option=orjson.OPT_INDENT_2)


class FixedAnswer:
    """An RPC endpoint that answers every call with the same body."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
