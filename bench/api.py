"""REST API latency and throughput with a mirror of 1,000,000 certificates, load from wrk on
loopback (Debian package ``wrk``; installed with apt-get if missing).

    .venv/bin/python bench/api.py [--certificates 1000000] [--seconds 15] [--workers 2]
                                  [--databases sqlite,postgresql]

For SQLite and for PostgreSQL, each with its own indexer following the chain (as deployed):
  GET  /v1/certificates/{hash}   at a fixed ~1,000 req/s (p50/p99), then at peak (req/s)
  POST /v1/verify (full document, proof check) at a fixed ~200 req/s (p50/p99), then at peak
and POST /v1/verify?source=chain (a document; the contracts' views through the node) at ~50 req/s.

Beside each peak, in the same run with the same load: a bare FastAPI app on uvicorn with as
many workers answering the same routes with a constant JSON (``bench/_bare_app.py``). The
ratios (API / bare; POST / GET) compare run to run and machine to machine better than the
absolute figures, which move with the machine and whatever else runs on it (the load average
is recorded before every measurement).

Targets: GET p50 <= 2 ms, p99 <= 10 ms at 1,000 req/s, >= 4,000 req/s peak (SQLite);
POST /v1/verify p50 <= 3 ms at 200 req/s; source=chain p50 <= 15 ms at ~50 req/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    PG_DEFAULT,
    ROOT,
    anchor_many,
    anvil,
    free_port,
    load_average,
    one_agency,
    pg_database,
    provenance,
)
from _wrk import ensure_wrk, lua_get, lua_post, pace, run_wrk, start_stack, stop

from ledger.bootstrap import default_schemas
from ledger.deployment import Deployment
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.mirror import Indexer, MirrorStore
from ledger.samples import write_id_cards


def start_bare(port: int, workers: int) -> subprocess.Popen:
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "_bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-worker-healthcheck",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return bare
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop([bare])
    raise RuntimeError("the bare FastAPI app did not start")


def measured(figure: dict) -> dict:
    """A wrk figure with the load average just before it was taken."""
    return {**figure, "load_average_before": load_average()}


def ratio(a: dict, b: dict) -> float | None:
    return round(a["req_per_s"] / b["req_per_s"], 3) if b.get("req_per_s") else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite and/or postgresql")
    report = {
        "benchmark": "REST API with a mirror of 1 M certificates (wrk on loopback)",
        **provenance(),
        "certificates": args.certificates,
        "api_workers": args.workers,
        "seconds_per_run": args.seconds,
    }
    wrk = ensure_wrk()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-api-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        setup = one_agency(chain, default_schemas()["ID_CARD"])
        reg = setup.registry
        reg.set_recognition(setup.admin, 440000, "ID_CARD", 0)
        sample: list[bytes] = []
        seconds = anchor_many(setup, args.certificates, 10_000, keep=sample)
        print(f"anchored {args.certificates:,} certificate hashes in {seconds:.1f} s", flush=True)
        rows = write_id_cards(tmp / "rows.csv", 2_000)
        issue(
            reg,
            setup.key,
            setup.deployer,
            IssueRequest("GD-PSB", "ID_CARD", rows, tmp / "docs", bundle=True),
            schema_for(reg, "ID_CARD"),
        )
        docs = [
            json.dumps(d, ensure_ascii=False)
            for _, d in zip(range(200), load_bundle(tmp / "docs" / "certificates.jsonl"), strict=False)
        ]
        home = tmp / "home"
        home.mkdir()
        deployment: Deployment = reg.deployment
        deployment.save(home / "deployment.json")
        hashes = ["0x" + h.hex() for h in random.sample(sample, min(10_000, len(sample)))]
        verify_path = "/v1/verify?verifier_region=330000"
        pg_url, drop_pg = pg_database(args.pg) if "postgresql" in databases else ("", lambda: None)
        try:
            urls = {"sqlite": f"sqlite:///{tmp}/mirror.db", "postgresql": pg_url}
            for db in databases:
                url = urls[db]
                store = MirrorStore(url)
                store.open(deployment)
                Indexer(chain.url, deployment, store).catch_up()
                store.dispose()
                r: dict[str, dict] = {}
                # the baseline first, on the same machine under the same load, with the same wrk
                port = free_port()
                bare = start_bare(port, args.workers)
                base = f"http://127.0.0.1:{port}"
                try:
                    run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
                    r["bare_get_peak"] = measured(run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp))
                    r["bare_post_peak"] = measured(
                        run_wrk(wrk, base, lua_post(docs, verify_path, None), args.seconds, 32, tmp)
                    )
                finally:
                    stop([bare])
                port = free_port()
                stack = start_stack(home, chain.url, url, port, args.workers)
                base = f"http://127.0.0.1:{port}"
                try:
                    # warm up, then measure. wrk paces each connection with delay() between a
                    # response and the next request: C connections at delay d and latency l give
                    # C / (d + l) requests per second, so d is set from the warm-up latency.
                    warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
                    r["get_at_1000"] = measured(
                        run_wrk(wrk, base, lua_get(hashes, pace(20, 1000, warm)), args.seconds, 20, tmp)
                    )
                    r["get_peak"] = measured(run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp))
                    warm = run_wrk(wrk, base, lua_post(docs, verify_path, None), 3, 2, tmp)
                    r["verify_at_200"] = measured(
                        run_wrk(wrk, base, lua_post(docs, verify_path, pace(8, 200, warm)), args.seconds, 8, tmp)
                    )
                    r["verify_peak"] = measured(
                        run_wrk(wrk, base, lua_post(docs, verify_path, None), args.seconds, 32, tmp)
                    )
                    if db == "sqlite":
                        path = verify_path + "&source=chain"
                        warm = run_wrk(wrk, base, lua_post(docs, path, None), 3, 1, tmp)
                        r["verify_chain_at_50"] = measured(
                            run_wrk(wrk, base, lua_post(docs, path, pace(4, 50, warm)), args.seconds, 4, tmp)
                        )
                finally:
                    stop(stack)
                r["ratios"] = {
                    "get_peak_vs_bare_get": ratio(r["get_peak"], r["bare_get_peak"]),
                    "verify_peak_vs_bare_post": ratio(r["verify_peak"], r["bare_post_peak"]),
                    "verify_peak_vs_get_peak": ratio(r["verify_peak"], r["get_peak"]),
                }
                results[db] = r
                print(db, json.dumps(r, indent=1), flush=True)
        finally:
            drop_pg()
    report["results"] = results
    report["load_average_at_end"] = load_average()
    report["targets"] = {
        "get_p50_ms": 2,
        "get_p99_ms": 10,
        "get_peak_req_per_s": 4000,
        "verify_p50_ms": 3,
        "verify_chain_p50_ms": 15,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
