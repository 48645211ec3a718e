"""Indexer catch-up: 1,000,000 certificates anchored on anvil in batches, then a full
catch-up (a rebuild from scratch) into SQLite and into PostgreSQL, each in its own process so
that its peak memory is its own.

    .venv/bin/python bench/indexer.py [--certificates 1000000] [--batch 10000] [--pg URL]

Targets: >= 50,000 certificates/s into each database; a rebuild of 1 M
certificates in <= 30 s; memory bounded (streaming by block ranges).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import PG_DEFAULT, ROOT, anchor_many, anvil, anvil_version, one_agency, pg_database, provenance

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ledger.deployment import Deployment
from ledger.mirror import Indexer, MirrorStore, MirrorQueries
deployment = Deployment(**json.loads(sys.argv[3]))
store = MirrorStore(sys.argv[4]); store.open(deployment, rebuild=True)
indexer = Indexer(sys.argv[2], deployment, store)
t = time.perf_counter(); n = indexer.catch_up(); elapsed = time.perf_counter() - t
assert MirrorQueries(store).certificate_count() == n
print(json.dumps({"certificates": n, "seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def catch_up_in_child(url: str, deployment, db_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), url, json.dumps(deployment.to_json()), db_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "indexer.json")
    args = parser.parse_args(argv)
    with anvil() as chain:
        setup = one_agency(chain)
        anchoring = anchor_many(setup, args.certificates, args.batch)
        print(
            f"anchored {args.certificates:,} certificates in {anchoring:.1f} s ({args.certificates // args.batch} transactions)"
        )
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = catch_up_in_child(chain.url, setup.registry.deployment, f"sqlite:///{tmp}/mirror.db")
        pg_url, drop = pg_database(args.pg)
        try:
            results["postgresql"] = catch_up_in_child(chain.url, setup.registry.deployment, pg_url)
        finally:
            drop()
    report = {
        "benchmark": "indexer catch-up (full rebuild)",
        "certificates": args.certificates,
        "batch_size": args.batch,
        "node": anvil_version(),
        **provenance(),
        "results": {
            db: {**r, "certificates_per_second": round(r["certificates"] / r["seconds"])} for db, r in results.items()
        },
        "targets": {"certificates_per_second": 50_000, "rebuild_seconds_1m": 30},
    }
    for db, r in report["results"].items():
        print(
            f"{db:<11} {r['certificates']:>10,} certificates in {r['seconds']:6.2f} s = "
            f"{r['certificates_per_second']:>9,}/s, peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
