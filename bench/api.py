"""REST API latency and throughput with a mirror of 1,000,000 certificates, load from wrk on
loopback (Debian package ``wrk``; installed with apt-get if missing), in both cryptographic suites.

    .venv/bin/python bench/api.py [--certificates 1000000] [--seconds 15] [--workers 2]
                                  [--databases sqlite,postgresql] [--suites intl,sm]

For SQLite and for PostgreSQL (and for the sm suite on SQLite beside intl), each with its own
indexer following the chain (as deployed):
  GET  /v1/certificates/{hash}   at a fixed ~1,000 req/s (p50/p99), then at peak (req/s)
  POST /v1/verify (full document, proof check) at a fixed ~200 req/s (p50/p99), then at peak
and POST /v1/verify?source=chain (a document; the contracts' views through the node) at ~50 req/s.
An sm document is SM3-hashed and its batch SM2-signed: the engine checks both.

Beside each peak, in the same run with the same load: a bare FastAPI app on uvicorn with as
many workers answering the same routes with a constant JSON (``bench/_bare_app.py``), its GET
also at the same fixed ~1,000 req/s (paced the same way). The ratios (API / bare at peak;
GET p99 / bare GET p99 at ~1,000 req/s; POST / GET) compare run to run and machine to machine
better than the absolute figures, which move with the machine and whatever else runs on it
(the load average is recorded before every measurement).

Targets: GET p50 <= 2 ms, p99 <= 10 ms at 1,000 req/s and p99 <= 2 x the bare app's p99 at the
same rate, >= 4,000 req/s peak (SQLite);
POST /v1/verify p50 <= 3 ms at 200 req/s (sm: <= 5 ms); source=chain p50 <= 15 ms at ~50 req/s.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    CERT_TYPE,
    PG_DEFAULT,
    REGION,
    ROOT,
    anchor_many,
    anvil,
    free_port,
    issue_id_cards,
    load_average,
    pg_database,
    provenance,
)
from _wrk import ensure_wrk, lua_get, lua_post, pace, run_wrk, start_stack, stop

from ledger.deployment import Deployment
from ledger.mirror import Indexer, MirrorStore

VERIFY_PATH = "/v1/verify?verifier_region=330000"


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


def ratio(a: dict, b: dict, key: str = "req_per_s") -> float | None:
    """``a[key] / b[key]``: throughputs (req/s, the higher the better) or latencies (p99_ms,
    the lower the better)."""
    return round(a[key] / b[key], 3) if b.get(key) else None


@dataclass
class Ledger:
    """One deployment of a suite with its mirror-to-be: documents to POST, hashes to GET."""

    suite: str
    deployment: Deployment
    home: Path
    docs: list[str]
    hashes: list[str]


def prepare(chain: Any, suite: str, certificates: int, folder: Path) -> Ledger:
    """Deploy in ``suite`` and issue 2,000 real documents through the pipeline (with the home
    ``certledger serve`` reads: ``issue_id_cards``), then anchor ``certificates`` hashes (the
    fast path)."""
    issued = issue_id_cards(chain, suite, folder)
    setup = issued.setup
    setup.registry.set_recognition(setup.admin, REGION, CERT_TYPE, 0)
    sample: list[bytes] = []
    seconds = anchor_many(setup, certificates, 10_000, keep=sample)
    print(f"{suite}: anchored {certificates:,} certificate hashes in {seconds:.1f} s", flush=True)
    docs = [json.dumps(d, ensure_ascii=False) for d in issued.docs]
    hashes = ["0x" + h.hex() for h in random.sample(sample, min(10_000, len(sample)))]
    return Ledger(suite, setup.registry.deployment, issued.home, docs, hashes)


def measure_bare(wrk: str, ledger: Ledger, args: argparse.Namespace, tmp: Path) -> dict[str, dict]:
    """The same-run baseline: the bare FastAPI app under the same load, GET at the same fixed
    rate as the API's (paced the same way, from its own warm-up) and at peak."""
    port = free_port()
    bare = start_bare(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    hashes = ledger.hashes
    try:
        warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
        return {
            "bare_get_at_1000": measured(
                run_wrk(wrk, base, lua_get(hashes, pace(20, 1000, warm)), args.seconds, 20, tmp)
            ),
            "bare_get_peak": measured(run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp)),
            "bare_post_peak": measured(
                run_wrk(wrk, base, lua_post(ledger.docs, VERIFY_PATH, None), args.seconds, 32, tmp)
            ),
        }
    finally:
        stop([bare])


def measure(wrk: str, rpc: str, url: str, ledger: Ledger, args: argparse.Namespace, tmp: Path) -> dict[str, dict]:
    """GET and POST through ``certledger index`` + ``certledger serve`` on ``url``."""
    port = free_port()
    stack = start_stack(ledger.home, rpc, url, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    hashes, docs = ledger.hashes, ledger.docs
    r: dict[str, dict] = {}
    try:
        # warm up, then measure. wrk paces each connection with delay() between a response
        # and the next request: C connections at delay d and latency l give C / (d + l)
        # requests per second, so d is set from the warm-up latency.
        warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
        r["get_at_1000"] = measured(run_wrk(wrk, base, lua_get(hashes, pace(20, 1000, warm)), args.seconds, 20, tmp))
        r["get_peak"] = measured(run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp))
        warm = run_wrk(wrk, base, lua_post(docs, VERIFY_PATH, None), 3, 2, tmp)
        r["verify_at_200"] = measured(
            run_wrk(wrk, base, lua_post(docs, VERIFY_PATH, pace(8, 200, warm)), args.seconds, 8, tmp)
        )
        r["verify_peak"] = measured(run_wrk(wrk, base, lua_post(docs, VERIFY_PATH, None), args.seconds, 32, tmp))
        if url.startswith("sqlite"):
            path = VERIFY_PATH + "&source=chain"
            warm = run_wrk(wrk, base, lua_post(docs, path, None), 3, 1, tmp)
            r["verify_chain_at_50"] = measured(
                run_wrk(wrk, base, lua_post(docs, path, pace(4, 50, warm)), args.seconds, 4, tmp)
            )
    finally:
        stop(stack)
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--suites", default="intl,sm", help="comma-separated: intl, sm (sm on SQLite only)")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite and/or postgresql")
    suites = [x.strip() for x in args.suites.split(",") if x.strip()]
    if not suites or set(suites) - {"intl", "sm"}:
        parser.error("--suites: intl and/or sm")
    report = {
        "benchmark": "REST API with a mirror of 1 M certificates (wrk on loopback), both suites",
        **provenance(),
        "certificates": args.certificates,
        "api_workers": args.workers,
        "seconds_per_run": args.seconds,
    }
    wrk = ensure_wrk()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-api-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        pg_url, drop_pg = pg_database(args.pg) if "postgresql" in databases else ("", lambda: None)
        bare: dict[str, dict] = {}  # the baseline, once per run: it does not depend on the suite
        try:
            for n, suite in enumerate(suites):
                ledger = prepare(chain, suite, args.certificates, tmp / suite)
                # the first suite on every database; the next ones on SQLite beside it (the
                # mirror is the same: what differs is hashing and signature checks)
                for db in databases if n == 0 else ["sqlite"]:
                    url = f"sqlite:///{tmp}/{suite}-mirror.db" if db == "sqlite" else pg_url
                    store = MirrorStore(url)
                    store.open(ledger.deployment)
                    Indexer(chain.url, ledger.deployment, store).catch_up()
                    store.dispose()
                    bare = bare or measure_bare(wrk, ledger, args, tmp)
                    r = {**bare, **measure(wrk, chain.url, url, ledger, args, tmp)}
                    r["ratios"] = {
                        "get_at_1000_p99_vs_bare_get_at_1000_p99": ratio(
                            r["get_at_1000"], r["bare_get_at_1000"], "p99_ms"
                        ),
                        "get_peak_vs_bare_get": ratio(r["get_peak"], r["bare_get_peak"]),
                        "verify_peak_vs_bare_post": ratio(r["verify_peak"], r["bare_post_peak"]),
                        "verify_peak_vs_get_peak": ratio(r["verify_peak"], r["get_peak"]),
                    }
                    results.setdefault(suite, {})[db] = r
                    print(suite, db, json.dumps(r, indent=1), flush=True)
                    print(
                        f"{suite} {db}: GET at ~1,000 req/s p99 {r['get_at_1000']['p99_ms']} ms "
                        f"({r['get_at_1000']['req_per_s']:,} req/s) / bare p99 {r['bare_get_at_1000']['p99_ms']} ms "
                        f"({r['bare_get_at_1000']['req_per_s']:,} req/s) = "
                        f"{r['ratios']['get_at_1000_p99_vs_bare_get_at_1000_p99']} (target <= 2)",
                        flush=True,
                    )
        finally:
            drop_pg()
    report["results"] = results
    report["load_average_at_end"] = load_average()
    report["targets"] = {
        "get_p50_ms": 2,
        "get_p99_ms": 10,
        "get_at_1000_p99_vs_bare_get_at_1000_p99_max": 2,
        "get_peak_req_per_s": 4000,
        "verify_p50_ms": 3,
        "verify_sm_p50_ms": 5,
        "verify_chain_p50_ms": 15,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
