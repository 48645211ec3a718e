"""Trust snapshots and offline verification: a ledger of 1,000,000 certificates (10,000 of
them revoked) mirrored into SQLite and PostgreSQL; a snapshot made of each mirror; full
documents and presentations verified from the snapshot alone, beside the same verifications
from the mirror (the same-run baseline), and the command line's wall time.

    .venv/bin/python bench/snapshot.py [--certificates 1000000] [--revoked 10000] [--pg URL]

Targets: offline verification p50 <= 5 ms (full document and presentation); snapshot creation
for 1 M certificates <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import AGENCY, PG_DEFAULT, ROOT, anchor_many, anvil, one_agency, pg_database, provenance

from ledger.bootstrap import default_schemas
from ledger.contracts import Status
from ledger.document import Certificate
from ledger.ids import agency_id, reason_code
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.mirror import Indexer, MirrorQueries, MirrorStore
from ledger.presentation import MAX_LIFETIME, HolderKey, key_hash
from ledger.samples import write_id_cards
from ledger.snapshot import Snapshot, Trust, create
from ledger.verification import MirrorSource, Verifier


def revoke_many(setup: Any, hashes: list[bytes]) -> float:
    """Revoke ``hashes`` one transaction each, sent together and mined many to a block (the
    node's automining paused meanwhile: one block per transaction would take minutes)."""
    reg, chain = setup.registry, setup.registry.chain
    started = time.perf_counter()
    sent = []
    reason = reason_code("HOLDER_REQUEST")
    chain.w3.provider.make_request("evm_setAutomine", [False])
    for h in hashes:
        data = reg.certificates.encode_abi(
            "setCertificateStatus", args=[agency_id(AGENCY), h, int(Status.REVOKED), reason]
        )
        tx = {"to": reg.deployment.certificate_registry, "data": data, "gas": 120_000, "value": 0}
        sent.append(chain.send_transaction(setup.key, tx, wait=False).tx_hash)
    while chain.w3.eth.get_transaction_count(setup.key.address) < chain.w3.eth.get_transaction_count(
        setup.key.address, "pending"
    ):
        chain.w3.provider.make_request("evm_mine", [])
    chain.w3.provider.make_request("evm_setAutomine", [True])
    for h in sent:
        assert chain.wait(bytes.fromhex(h[2:]))["status"] == 1
    return time.perf_counter() - started


def timed(fn: Any, items: list[Any], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        for item in items:
            t = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


def measure(db_url: str, setup: Any, docs: list[dict], holders: list[HolderKey], tmp: Path, rounds: int) -> dict:
    reg = setup.registry
    store = MirrorStore(db_url)
    store.open(reg.deployment)
    t = time.perf_counter()
    Indexer(reg.chain.url, reg.deployment, store).catch_up()
    indexed = time.perf_counter() - t
    path = tmp / f"snapshot-{store.dialect}.zip"
    t = time.perf_counter()
    manifest = create(store, reg.deployment, path)
    made = time.perf_counter() - t
    snap = Snapshot.read(path)
    snap.sign(setup.admin)
    queries = MirrorQueries(store)
    pinned = Trust.of_mirror(queries, reg.deployment, manifest.block)
    t = time.perf_counter()
    opened = snap.open(pinned, tmp / f"cache-{store.dialect}")
    first_open = time.perf_counter() - t
    t = time.perf_counter()
    snap.open(pinned, tmp / f"cache-{store.dialect}")
    open_again = time.perf_counter() - t
    offline = Verifier(opened.source(), opened.deployment)
    online = Verifier(MirrorSource(queries, max_staleness_seconds=3600), reg.deployment)
    certs = [Certificate.from_json(d) for d in docs]
    presented = [
        h.present(c[0], ["name", "sex"], purpose="BANKING", lifetime=MAX_LIFETIME)
        for h, c in zip(holders, certs, strict=True)
    ]
    for v in (offline, online):  # the answers are the same, and what is measured is VALID/REVOKED
        verdicts = [v.verify_document(*c).verdict.value for c in certs[:20]]
        assert set(verdicts) <= {"VALID", "REVOKED"} and "VALID" in verdicts, verdicts
        assert all(v.verify_payload(p).verdict.value in ("VALID", "REVOKED") for p in presented[:20])
    out = {
        "mirror_catch_up_s": round(indexed, 2),
        "snapshot_create_s": round(made, 2),
        "snapshot_bytes": path.stat().st_size,
        "snapshot_counts": manifest.counts,
        "first_open_s": round(first_open, 3),
        "open_again_s": round(open_again, 3),
        "document_offline": timed(lambda c: offline.verify_document(*c), certs, rounds),
        "document_mirror": timed(lambda c: online.verify_document(*c), certs, rounds),
        "presentation_offline": timed(offline.verify_payload, presented, rounds),
        "presentation_mirror": timed(online.verify_payload, presented, rounds),
    }
    out["ratios"] = {
        "document_offline_vs_mirror_p50": round(
            out["document_offline"]["p50_ms"] / out["document_mirror"]["p50_ms"], 2
        ),
        "presentation_offline_vs_mirror_p50": round(
            out["presentation_offline"]["p50_ms"] / out["presentation_mirror"]["p50_ms"], 2
        ),
    }
    queries.close()
    store.dispose()
    return out


def cli_wall_time(home: Path, snapshot: Path, document: Path, runs: int = 5) -> dict[str, float]:
    """``certledger verify FILE --offline SNAPSHOT`` end to end (process start included)."""
    exe = Path(sys.executable).parent / "certledger"
    env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": "http://127.0.0.1:9"}  # no node
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run(
            [str(exe), "verify", str(document), "--offline", str(snapshot), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        samples.append((time.perf_counter() - t) * 1000)
        assert json.loads(done.stdout)["verdict"] == "VALID", done.stdout + done.stderr
    return {"runs": runs, "p50_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--revoked", type=int, default=10_000)
    parser.add_argument("--documents", type=int, default=200, help="real documents verified (and presented)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "snapshot.json")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with anvil() as chain, tempfile.TemporaryDirectory(prefix="certledger-snapshot-") as tmp_name:
        tmp = Path(tmp_name)
        setup = one_agency(chain, default_schemas()["ID_CARD"])
        reg = setup.registry
        sample: list[bytes] = []
        seconds = anchor_many(setup, args.certificates - 2_000, 10_000, keep=sample)
        print(f"anchored {args.certificates - 2_000:,} certificate hashes in {seconds:.1f} s", flush=True)
        issue(
            reg,
            setup.batch_signer,
            setup.deployer,
            IssueRequest("GD-PSB", "ID_CARD", write_id_cards(tmp / "rows.csv", 2_000), tmp / "docs", bundle=True),
            schema_for(reg, "ID_CARD"),
        )
        docs = [
            d for _, d in zip(range(args.documents), load_bundle(tmp / "docs" / "certificates.jsonl"), strict=False)
        ]
        holders = [HolderKey() for _ in docs]
        bindings = [(bytes.fromhex(d["hash"][2:]), key_hash(h.public_key)) for d, h in zip(docs, holders, strict=True)]
        for i in range(0, len(bindings), 100):
            reg.bind_holders(setup.key, "GD-PSB", bindings[i : i + 100])
        revoked = sample[: args.revoked - 20] + [bytes.fromhex(d["hash"][2:]) for d in docs[-20:]]
        seconds = revoke_many(setup, revoked)
        print(f"revoked {len(revoked):,} certificates in {seconds:.1f} s", flush=True)
        for db in args.databases.split(","):
            if db == "sqlite":
                results[db] = measure(f"sqlite:///{tmp}/mirror.db", setup, docs, holders, tmp, args.rounds)
            else:
                url, drop = pg_database(args.pg)
                try:
                    results[db] = measure(url, setup, docs, holders, tmp, args.rounds)
                finally:
                    drop()
            r = results[db]
            print(
                f"{db:<11} snapshot of {r['snapshot_counts']['certificates']:,} certificates "
                f"({r['snapshot_counts']['revoked']:,} revoked) in {r['snapshot_create_s']:.2f} s, "
                f"{r['snapshot_bytes'] / 1e6:.1f} MB; opened in {r['first_open_s']:.2f} s (again {r['open_again_s']:.2f} s)",
                flush=True,
            )
            for kind in ("document", "presentation"):
                off, on = r[f"{kind}_offline"], r[f"{kind}_mirror"]
                print(
                    f"  {kind:<12} offline p50 {off['p50_ms']:.2f} ms p99 {off['p99_ms']:.2f} ms; "
                    f"mirror p50 {on['p50_ms']:.2f} ms: {r['ratios'][f'{kind}_offline_vs_mirror_p50']} x",
                    flush=True,
                )
        # the command line, as a counter runs it: no node, no mirror
        home = tmp / "home"
        home.mkdir()
        Trust.of_mirror(MirrorQueries(MirrorStore(f"sqlite:///{tmp}/mirror.db")), reg.deployment, 0).save(
            home / "trust.json"
        )
        document = tmp / "one.json"
        document.write_text(json.dumps(docs[0], ensure_ascii=False))
        results["cli_verify_offline"] = cli_wall_time(home, tmp / "snapshot-sqlite.zip", document)
        print(f"certledger verify --offline (process start included): p50 {results['cli_verify_offline']['p50_ms']} ms")
    report = {
        "benchmark": "trust snapshots and offline verification",
        "certificates": args.certificates,
        "revoked": args.revoked,
        **provenance(),
        "results": results,
        "baseline": "the same verifications from the mirror the snapshot was made of, in the same process",
        "targets": {"offline_verify_p50_ms": 5, "snapshot_create_s_1m": 10},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
