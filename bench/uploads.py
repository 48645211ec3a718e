"""Unrelated requests while QR images are being decoded: GET /v1/certificates/{hash} latency
at a fixed rate, alone and while 10 clients keep uploading the largest images the API takes
(4,000 x 4,000 pixels, a small PNG that decodes to 16 megapixels).

    .venv/bin/python bench/uploads.py [--certificates 50000] [--seconds 15] [--rate 500] [--uploaders 10]

Image decoding runs in a bounded worker pool off the event loop, so the GETs keep their p99:
the benchmark reports both p99s and their ratio (target: close to 1), and how the uploads
fared (decoded, refused with 503 BUSY when too many wait).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import ROOT, anchor_many, anvil, free_port, one_agency, provenance
from _wrk import ensure_wrk, lua_get, pace, run_wrk, start_stack, stop
from PIL import Image

from ledger.bootstrap import default_schemas
from ledger.mirror import Indexer, MirrorStore
from ledger.qr import compact_payload, render_png


def big_png(tmp: Path) -> bytes:
    """A 4,000 x 4,000 white image with a QR code in a corner: ~100 KB that decode to 16 MP."""
    qr = tmp / "qr.png"
    render_png(compact_payload(os.urandom(32), "ID_CARD", 440000, "GD-PSB"), qr, scale=8)
    image = Image.new("L", (4000, 4000), 255)
    image.paste(Image.open(qr).convert("L"), (100, 100))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def uploaders(base: str, png: bytes, n: int, stop_at: float, counts: dict[str, int]) -> list[threading.Thread]:
    lock = threading.Lock()

    def loop() -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < stop_at:
                try:
                    r = client.post(base + "/v1/verify", files={"image": ("big.png", png, "image/png")})
                    key = str(r.status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                with lock:
                    counts[key] = counts.get(key, 0) + 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--uploaders", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "uploads.json")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="certledger-uploads-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        setup = one_agency(chain, default_schemas()["ID_CARD"])
        sample: list[bytes] = []
        anchor_many(setup, args.certificates, 10_000, keep=sample)
        home = tmp / "home"
        home.mkdir()
        setup.registry.deployment.save(home / "deployment.json")
        url = f"sqlite:///{tmp}/mirror.db"
        store = MirrorStore(url)
        store.open(setup.registry.deployment)
        Indexer(chain.url, setup.registry.deployment, store).catch_up()
        store.dispose()
        hashes = ["0x" + h.hex() for h in random.sample(sample, min(2_000, len(sample)))]
        png = big_png(tmp)
        port = free_port()
        stack = start_stack(home, chain.url, url, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        try:
            warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
            script = lua_get(hashes, pace(10, args.rate, warm))
            alone = run_wrk(wrk, base, script, args.seconds, 10, tmp)
            counts: dict[str, int] = {}
            threads = uploaders(base, png, args.uploaders, time.monotonic() + args.seconds + 2, counts)
            time.sleep(1)
            loaded = run_wrk(wrk, base, script, args.seconds, 10, tmp)
            for t in threads:
                t.join()
        finally:
            stop(stack)
    ratio = round(loaded["p99_ms"] / alone["p99_ms"], 2) if alone["p99_ms"] else None
    report = {
        "benchmark": "GET by hash while large QR images are uploaded",
        "certificates": args.certificates,
        "api_workers": args.workers,
        "rate_req_per_s": args.rate,
        "uploaders": args.uploaders,
        "image": {"pixels": "4000x4000", "bytes": len(png)},
        "get_alone": alone,
        "get_with_uploads": loaded,
        "p99_ratio": ratio,
        "uploads": counts,
        **provenance(),
    }
    print(json.dumps(report, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
