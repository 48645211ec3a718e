"""Indexer catch-up: 1,000,000 certificates anchored on anvil in batches, then a full
catch-up (a rebuild from scratch) into SQLite and into PostgreSQL, each in its own process so
that its peak memory is its own.

    .venv/bin/python bench/indexer.py [--certificates 1000000] [--batch 10000] [--repeat 3]
                                      [--databases sqlite,postgresql] [--pg URL]

Beside each catch-up, in the same run on the same machine, its baseline: a bulk insert of the
same rows into the same database, with the same indexes, and no chain (``bench/_bulk_insert.py``:
the rows the indexer wrote, read back untimed, inserted into an empty database of the same kind
opened through ``MirrorStore``: executemany on SQLite, binary COPY on PostgreSQL). The ratio
(catch-up certificates/s / bulk insert certificates/s) says what following the chain costs
above writing the rows at all, whatever the machine and its load. The catch-up and its
baseline run alternately ``--repeat`` times; the figures are the medians.

Targets: >= 50,000 certificates/s into each database; a rebuild of 1 M
certificates in <= 30 s; memory bounded (streaming by block ranges); catch-up >= 0.7 x the
bulk insert baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    PG_DEFAULT,
    ROOT,
    anchor_many,
    anvil,
    anvil_version,
    load_average,
    one_agency,
    pg_database,
    provenance,
)

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
url = sys.argv[4]
if url.startswith("sqlite:///"):
    from pathlib import Path
    from sqlalchemy import text
    with store.engine.begin() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    db = Path(url[len("sqlite:///"):])
    disk = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
else:
    from sqlalchemy import text
    with store.engine.connect() as conn:
        disk = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
print(json.dumps({"certificates": n, "seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "disk_mb": round(disk / 2**20, 1)}))
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


def bulk_insert_in_child(source_url: str, deployment, target_url: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "_bulk_insert.py"),
            source_url,
            target_url,
            json.dumps(deployment.to_json()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh(url: str) -> None:
    """A SQLite database at ``url`` starts from no file at all for every run (PostgreSQL's are
    rebuilt: ``open(rebuild=True)`` drops and creates every table)."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            f.unlink(missing_ok=True)


def measure(chain_url: str, deployment, db_url: str, baseline_url: str, repeat: int) -> dict:
    """The catch-up into ``db_url``, then its baseline: the same rows into ``baseline_url``;
    ``repeat`` times, alternately, so that both see the same load on a shared machine (each
    run with the load average just before it). The figures are the median runs; the ratio is
    theirs."""
    runs: list[dict] = []
    baselines: list[dict] = []
    for _ in range(repeat):
        fresh(db_url)
        fresh(baseline_url)
        load = load_average()
        runs.append({**catch_up_in_child(chain_url, deployment, db_url), "load_average_before": load})
        load = load_average()
        baselines.append({**bulk_insert_in_child(db_url, deployment, baseline_url), "load_average_before": load})
    for x in runs + baselines:
        x["certificates_per_second"] = round(x["certificates"] / x["seconds"])
    assert all(b["certificates"] == r["certificates"] for r in runs for b in baselines), (runs, baselines)
    r = dict(sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2])
    b = dict(sorted(baselines, key=lambda x: x["seconds"])[len(baselines) // 2])
    r["bulk_insert_baseline"] = b
    r["ratio_vs_bulk_insert"] = round(r["certificates_per_second"] / b["certificates_per_second"], 3)
    r["runs"] = [
        {
            "catch_up_seconds": round(x["seconds"], 3),
            "bulk_insert_seconds": round(y["seconds"], 3),
            "ratio": round(y["seconds"] / x["seconds"], 3),
            "load_average_before": x["load_average_before"],
        }
        for x, y in zip(runs, baselines, strict=True)
    ]
    return r


def print_result(db: str, r: dict) -> None:
    b = r["bulk_insert_baseline"]
    print(
        f"{db:<11} catch-up    {r['certificates']:>10,} certificates in {r['seconds']:6.2f} s = "
        f"{r['certificates_per_second']:>9,}/s, peak RSS {r['peak_rss_mb']:.0f} MB, on disk {r['disk_mb']:,.0f} MB\n"
        f"{'':<11} bulk insert {b['certificates']:>10,} certificates in {b['seconds']:6.2f} s = "
        f"{b['certificates_per_second']:>9,}/s ({b['method']})\n"
        f"{'':<11} catch-up / bulk insert = {r['ratio_vs_bulk_insert']:.3f} (target >= 0.7; medians of "
        f"{len(r['runs'])} alternate runs, each run's ratio: {', '.join(str(x['ratio']) for x in r['runs'])}); "
        f"load average before: {r['load_average_before']}, {b['load_average_before']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="catch-up and bulk insert alternately, this many times each (medians)"
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "indexer.json")
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite and/or postgresql")
    started = provenance()
    with anvil() as chain:
        setup = one_agency(chain)
        anchoring = anchor_many(setup, args.certificates, args.batch)
        print(
            f"anchored {args.certificates:,} certificates in {anchoring:.1f} s ({args.certificates // args.batch} transactions)"
        )
        deployment = setup.registry.deployment
        results = {}
        if "sqlite" in databases:
            with tempfile.TemporaryDirectory() as tmp:
                results["sqlite"] = measure(
                    chain.url, deployment, f"sqlite:///{tmp}/mirror.db", f"sqlite:///{tmp}/baseline.db", args.repeat
                )
            print_result("sqlite", results["sqlite"])
        if "postgresql" in databases:
            pg_url, drop = pg_database(args.pg)
            baseline_url, drop_baseline = pg_database(args.pg)
            try:
                results["postgresql"] = measure(chain.url, deployment, pg_url, baseline_url, args.repeat)
            finally:
                drop()
                drop_baseline()
            print_result("postgresql", results["postgresql"])
    report = {
        "benchmark": "indexer catch-up (full rebuild)",
        "certificates": args.certificates,
        "batch_size": args.batch,
        "repeat": args.repeat,
        "node": anvil_version(),
        **started,
        "results": results,
        "load_average_at_end": load_average(),
        "targets": {"certificates_per_second": 50_000, "rebuild_seconds_1m": 30, "ratio_vs_bulk_insert_min": 0.7},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
