"""Indexer memory while following the head: ``certledger index`` runs as a process of its own
against a chain that keeps growing by one 10,000-certificate batch at a time; its resident
memory (RSS) is sampled after each batch is mirrored.

    .venv/bin/python bench/indexer_soak.py [--batches 100] [--batch-size 10000] [--db sqlite|postgresql]

Target: after a warm-up of 10 batches, RSS stays flat within 10 MB over the remaining batches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PG_DEFAULT, ROOT, anchor_many, anvil, one_agency, pg_database, provenance

from ledger.mirror import MirrorQueries, MirrorStore

CLI = str(Path(sys.executable).parent / "certledger")
WARMUP = 10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or ROOT / "bench" / "results" / f"indexer_soak_{args.db}.json"
    drop = None
    with tempfile.TemporaryDirectory(prefix="certledger-soak-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        setup = one_agency(chain)
        home = tmp / "home"
        home.mkdir()
        setup.registry.deployment.save(home / "deployment.json")
        if args.db == "postgresql":
            url, drop = pg_database(args.pg)
        else:
            url = f"sqlite:///{tmp}/mirror.db"
        env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": chain.url, "CERTLEDGER_DB_URL": url}
        indexer = subprocess.Popen([CLI, "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = MirrorStore(url)
        samples: list[dict[str, float]] = []
        try:
            time.sleep(3)
            for i in range(1, args.batches + 1):
                anchor_many(setup, args.batch_size, args.batch_size)
                head = chain.block_number()
                deadline = time.monotonic() + 120
                while MirrorQueries(store).head().block < head:
                    if indexer.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the indexer stopped or fell behind")
                    time.sleep(0.05)
                samples.append(
                    {"batch": i, "certificates": i * args.batch_size, "rss_mb": round(rss_mb(indexer.pid), 1)}
                )
                if i % 10 == 0:
                    print(f"{i:4d} batches: indexer RSS {samples[-1]['rss_mb']:.1f} MB")
        finally:
            indexer.terminate()
            indexer.wait(15)
            store.dispose()
            if drop is not None:
                drop()
    after_warmup = [s["rss_mb"] for s in samples[WARMUP - 1 :]]
    growth = round(max(after_warmup) - min(after_warmup), 1) if after_warmup else None
    report = {
        "benchmark": "indexer RSS while following the head",
        "db": args.db,
        "batches": args.batches,
        "batch_size": args.batch_size,
        "rss_first_mb": samples[0]["rss_mb"] if samples else None,
        "rss_after_warmup_mb": after_warmup[0] if after_warmup else None,
        "rss_last_mb": samples[-1]["rss_mb"] if samples else None,
        "rss_spread_after_warmup_mb": growth,
        "target_spread_mb": 10,
        "samples": samples,
        **provenance(),
    }
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=1))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
