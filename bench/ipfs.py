"""Publishing and fetching a sealed 4 KiB document: the embedded store and a js-ipfs node.

    .venv/bin/python bench/ipfs.py [--n 300]

Per operation, p50 and p99 over N runs (after a warm-up):
  * baseline: what any publish costs before storage, sealing (fresh key, AES-256-GCM) and
    computing the CID, and what any fetch costs after it, verifying the CID and opening;
  * the embedded store: ``publish_document`` (seal, add, pin) and ``fetch`` (cat with every
    block verified, open);
  * the same through the Kubo RPC client against a local js-ipfs node (tests/ipfs-node,
    installed by ``./run test``), which also recomputes the CID of what the node answers.
Ratios are to the same run's baseline. Writes bench/results/ipfs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT, provenance

sys.path.insert(0, str(ROOT / "tests"))

from jsipfs_node import running_node

from ledger.content import (
    ContentStore,
    EmbeddedStore,
    RetrievalCode,
    content_cid,
    fetch,
    open_sealed,
    publish_document,
    seal,
)
from ledger.content.kubo import KuboStore

DOCUMENT_BYTES = 4096
WARMUP = 20


def document() -> bytes:
    """A 4 KiB JSON document (fresh content each call, as every certificate is)."""
    head = b'{"format":"certledger/2","fields":{"note":"'
    tail = b'"}}'
    return head + os.urandom((DOCUMENT_BYTES - len(head) - len(tail)) // 2).hex().encode() + tail


def timings_ms(fn: Callable[[], Any], n: int) -> dict[str, float]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e3)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 4),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 4),
        "mean_ms": round(statistics.fmean(samples), 4),
        "n": n,
    }


def measure_store(store: ContentStore, n: int) -> dict[str, Any]:
    codes: list[RetrievalCode] = []
    published = timings_ms(lambda: codes.append(publish_document(store, document(), "intl")), n)
    pending = iter(codes[-n:])
    fetched = timings_ms(lambda: fetch(store, next(pending)), n - WARMUP)
    return {"publish": published, "fetch": fetched}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="measured operations per kind")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ipfs.json")
    args = parser.parse_args(argv)
    n = args.n
    facts = provenance()
    results: dict[str, Any] = {}

    sealed = [seal(document(), "intl") for _ in range(n + WARMUP)]
    pending_seal = iter(sealed)
    results["baseline"] = {
        "seal_and_cid": timings_ms(lambda: content_cid(seal(document(), "intl").ciphertext), n),
        "cid_check_and_open": timings_ms(
            lambda: (s := next(pending_seal), content_cid(s.ciphertext), open_sealed(s.ciphertext, s.key)), n
        ),
    }
    with tempfile.TemporaryDirectory(prefix="certledger-bench-ipfs-") as tmp:
        results["embedded"] = measure_store(EmbeddedStore(Path(tmp) / "content"), n)
        with running_node(Path(tmp)) as node, KuboStore(node.url) as client:
            results["jsipfs_kubo_rpc"] = measure_store(client, n)
            results["jsipfs_version"] = client.version().get("Version")  # js-ipfs reports its core's version
            package = json.loads((ROOT / "tests" / "ipfs-node" / "package.json").read_text())
            results["jsipfs_package"] = f"ipfs@{package['dependencies']['ipfs']}"

    base_publish = results["baseline"]["seal_and_cid"]["p50_ms"]
    base_fetch = results["baseline"]["cid_check_and_open"]["p50_ms"]
    ratios = {
        f"{where}_{op}_p50_over_baseline": round(results[where][op]["p50_ms"] / base, 1)
        for where in ("embedded", "jsipfs_kubo_rpc")
        for op, base in (("publish", base_publish), ("fetch", base_fetch))
    }
    report = {
        "benchmark": "ipfs",
        "what": "publish (seal + add + pin) and fetch (cat + CID check + open) of a sealed 4 KiB document; "
        "through the node, publish is two RPC calls (add, pin/add) and fetch one (cat), on 127.0.0.1",
        "document_bytes": DOCUMENT_BYTES,
        "suite": "intl (AES-256-GCM)",
        **facts,
        "results": results,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"results": results, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
