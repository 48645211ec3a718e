"""REST API latency and throughput with a mirror of 1,000,000 certificates, load from wrk on
loopback (Debian package ``wrk``; installed with apt-get if missing).

    .venv/bin/python bench/api.py [--certificates 1000000] [--seconds 15] [--workers 2]

For SQLite and for PostgreSQL, each with its own indexer following the chain (as deployed):
  GET  /v1/certificates/{hash}   at a fixed ~1,000 req/s (p50/p99), then at peak (req/s)
  POST /v1/verify (full document, proof check) at a fixed ~200 req/s (p50/p99)
and POST /v1/verify?source=chain (the contracts' views through the node) at ~50 req/s.

Targets: GET p50 <= 2 ms, p99 <= 10 ms at 1,000 req/s, >= 3,000 req/s peak
(SQLite); POST /v1/verify p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

from _common import PG_DEFAULT, ROOT, anchor_many, anvil, free_port, machine, now_iso, one_agency, pg_database
from _wrk import ensure_wrk, lua_get, lua_post, pace, run_wrk, start_stack, stop

from ledger.bootstrap import default_schemas
from ledger.deployment import Deployment
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.mirror import Indexer, MirrorStore
from ledger.samples import write_id_cards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-api-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        setup = one_agency(chain, default_schemas()["ID_CARD"])
        reg = setup.registry
        reg.set_recognition(setup.admin, 440000, "ID_CARD", 0)
        sample: list[bytes] = []
        seconds = anchor_many(setup, args.certificates, 10_000, keep=sample)
        print(f"anchored {args.certificates:,} certificate hashes in {seconds:.1f} s")
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
        pg_url, drop_pg = pg_database(args.pg)
        try:
            for db, url in (("sqlite", f"sqlite:///{tmp}/mirror.db"), ("postgresql", pg_url)):
                store = MirrorStore(url)
                store.open(deployment)
                Indexer(chain.url, deployment, store).catch_up()
                store.dispose()
                port = free_port()
                stack = start_stack(home, chain.url, url, port, args.workers)
                base = f"http://127.0.0.1:{port}"
                try:
                    # warm up, then measure. wrk paces each connection with delay() between a
                    # response and the next request: C connections at delay d and latency l give
                    # C / (d + l) requests per second, so d is set from the warm-up latency.
                    warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
                    r = {
                        "get_at_1000": run_wrk(wrk, base, lua_get(hashes, pace(20, 1000, warm)), args.seconds, 20, tmp),
                        "get_peak": run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp),
                    }
                    warm = run_wrk(wrk, base, lua_post(docs, "/v1/verify?verifier_region=330000", None), 3, 2, tmp)
                    r["verify_at_200"] = run_wrk(
                        wrk,
                        base,
                        lua_post(docs, "/v1/verify?verifier_region=330000", pace(8, 200, warm)),
                        args.seconds,
                        8,
                        tmp,
                    )
                    if db == "sqlite":
                        path = "/v1/verify?verifier_region=330000&source=chain"
                        warm = run_wrk(wrk, base, lua_post(docs, path, None), 3, 1, tmp)
                        r["verify_chain_at_50"] = run_wrk(
                            wrk, base, lua_post(docs, path, pace(4, 50, warm)), args.seconds, 4, tmp
                        )
                    results[db] = r
                    print(db, json.dumps(r, indent=1))
                finally:
                    stop(stack)
        finally:
            drop_pg()
    report = {
        "benchmark": "REST API with a mirror of 1 M certificates (wrk on loopback)",
        "certificates": args.certificates,
        "api_workers": args.workers,
        "seconds_per_run": args.seconds,
        "measured_at": now_iso(),
        "machine": machine(),
        "results": results,
        "targets": {"get_p50_ms": 2, "get_p99_ms": 10, "get_peak_req_per_s": 3000, "verify_p50_ms": 5},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
