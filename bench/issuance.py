"""Batch issuance end to end: 100,000 certificates from a CSV export -> validated, hashed,
signed, anchored on anvil -> certificate documents out. Reported per stage.

    .venv/bin/python bench/issuance.py [--rows 100000] [--qr-sample 2000]

Runs (each on a fresh output folder, same chain):
  bundle  -- one JSONL bundle (the target: >= 20,000 certificates/s on 2 cores)
  files   -- one JSON file per certificate
  qr      -- QR PNG rendering rate (compact payloads), on a sample of rows
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _common import AGENCY, CERT_TYPE, ROOT, anvil, anvil_version, one_agency, provenance

from ledger.bootstrap import default_schemas
from ledger.issuance import IssueRequest, issue
from ledger.samples import write_id_cards
from ledger.schema import CertificateSchema


def run_issue(setup, schema, rows: Path, out: Path, **options) -> dict:
    request = IssueRequest(AGENCY, CERT_TYPE, rows, out, **options)
    started = time.perf_counter()
    result = issue(setup.registry, setup.key, setup.deployer, request, schema)
    elapsed = time.perf_counter() - started
    return {
        "certificates": result.issued,
        "seconds": round(elapsed, 3),
        "certificates_per_second": round(result.issued / elapsed),
        "stages_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        "batches": len(result.batches),
        "gas_per_certificate": round(result.gas_per_certificate or 0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--qr-sample", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "issuance.json")
    args = parser.parse_args(argv)
    schema_json = default_schemas()[CERT_TYPE]
    schema = CertificateSchema.compile(schema_json)
    results = {}
    with tempfile.TemporaryDirectory(prefix="certledger-issue-") as tmp, anvil() as chain:
        tmp_path = Path(tmp)
        rows = tmp_path / "rows.csv"
        write_id_cards(rows, args.rows)
        sample = tmp_path / "sample.csv"
        write_id_cards(sample, args.qr_sample, seed=11)
        setup = one_agency(chain, schema_json)
        results["bundle"] = run_issue(setup, schema, rows, tmp_path / "bundle", bundle=True)
        print(f"bundle : {results['bundle']}")
        write_id_cards(rows, args.rows, seed=8)  # new rows: new certificates
        results["files"] = run_issue(setup, schema, rows, tmp_path / "files")
        print(f"files  : {results['files']}")
        qr = run_issue(setup, schema, sample, tmp_path / "qr", bundle=True, qr=True)
        qr["qr_pngs_per_second"] = round(qr["certificates"] / qr["stages_seconds"]["output"])
        results["qr"] = qr
        print(f"qr     : {qr}")
        out_size = sum(f.stat().st_size for f in (tmp_path / "bundle").glob("certificates.jsonl"))
    report = {
        "benchmark": "issuance end to end (CSV -> anchored -> documents)",
        "rows": args.rows,
        "workers": os.cpu_count(),
        "node": anvil_version(),
        **provenance(),
        "bundle_bytes_per_certificate": round(out_size / args.rows),
        "results": results,
        "target_certificates_per_second": 20_000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
