"""The same-run baseline of the API benchmark: a bare FastAPI app on uvicorn (as ``certledger
serve`` runs it) answering the benchmark's routes with a constant JSON and nothing else. The
API's figures divided by this one's say what CertLedger costs above the web stack itself,
whatever the machine and its load.

    uvicorn _bare_app:app --app-dir bench --workers 2
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()
ANSWER = {"verdict": "INCOMPLETE", "checks": [], "source": {"kind": "constant"}}


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@app.get("/v1/certificates/{cert_hash}")
async def certificate(cert_hash: str, verifier_region: str = "") -> dict[str, Any]:
    return ANSWER


@app.post("/v1/verify")
async def verify(request: Request) -> dict[str, Any]:
    await request.body()  # read the document, as the API does
    return ANSWER
