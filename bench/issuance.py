"""Batch issuance end to end: 100,000 certificates from a CSV export -> validated, hashed,
signed, anchored on anvil -> certificate documents out. Reported per stage, and as a ratio to
its baseline measured in the same run: the unavoidable work for the same rows on the same
number of processes (NFC, salts, the salted field hashes, the metadata and holder digests, the
certificate hash, the Merkle tree and one signature per batch) in a tight loop with no I/O.

    .venv/bin/python bench/issuance.py [--rows 100000] [--qr-sample 2000] [--suite intl,sm]

For each suite (``--suite``, default both, side by side in one run: each its own deployment on
the same chain; in the sm suite every batch is also signed with the agency's SM2 key), runs
(each on a fresh output folder):
  bundle  -- one JSONL bundle (the target: >= 20,000 certificates/s on 2 cores)
  files   -- one JSON file per certificate
  qr      -- QR PNG rendering rate (compact payloads), on a sample of rows
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import tempfile
import time
import unicodedata
from pathlib import Path

from _common import AGENCY, CERT_TYPE, ROOT, anvil, anvil_version, one_agency, provenance

from ledger.bootstrap import default_schemas
from ledger.issuance import IssueRequest, issue
from ledger.samples import write_id_cards
from ledger.schema import CertificateSchema


def run_issue(setup, schema, rows: Path, out: Path, **options) -> dict:
    request = IssueRequest(AGENCY, CERT_TYPE, rows, out, **options)
    started = time.perf_counter()
    result = issue(setup.registry, setup.batch_signer, setup.deployer, request, schema)
    elapsed = time.perf_counter() - started
    return {
        "certificates": result.issued,
        "seconds": round(elapsed, 3),
        "certificates_per_second": round(result.issued / elapsed),
        "stages_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        "batches": len(result.batches),
        "gas_per_certificate": round(result.gas_per_certificate or 0, 1),
    }


_SIGNER = None  # the baseline workers' batch signer (set before the pool forks)
_JOBS: list[tuple[str, list[dict[str, str]]]] = []  # the baseline's batches of rows (likewise)


def _baseline_job(i: int) -> int:
    return _baseline_chunk(_JOBS[i])


def _baseline_chunk(job: tuple[str, list[dict[str, str]]]) -> int:
    """The unavoidable work for one batch of rows: NFC, salts, field hashes, digests, the
    certificate hash; the tree and its one signature."""
    from ledger.issuance.build import paused_gc

    with paused_gc():  # as issuance builds its batches
        return _baseline_work(job)


def _baseline_work(job: tuple[str, list[dict[str, str]]]) -> int:
    from ledger.document import certificate_hash_v2, field_hash_v2, holder_digest, meta_digest, new_salts, suite_hash
    from ledger.ids import agency_id, type_id
    from ledger.merkle import build_tree

    suite_name, rows = job
    h = suite_hash(suite_name)
    hashes = []
    for row in rows:
        fields = {k: unicodedata.normalize("NFC", v) for k, v in row.items() if v}
        salts = new_salts(list(fields))  # from the OS a block at a time, as issuance draws them
        holder = holder_digest(h, [field_hash_v2(h, k, v, salts[k]) for k, v in fields.items()])
        meta = meta_digest(h, [CERT_TYPE, AGENCY, "440000", row.get("validFrom") or "2026-12-01", "", ""])
        hashes.append(certificate_hash_v2(h, meta, holder))
    tree = build_tree(hashes)
    assert _SIGNER is not None
    _SIGNER.sign(tree.root, type_id(CERT_TYPE), agency_id(AGENCY), 31337, "0x" + "11" * 20)
    return len(rows)


def baseline(rows_path: Path, suite: str, signer: object, batch: int = 10_000) -> dict:
    """Certificates per second of the unavoidable work for ``rows_path`` on os.cpu_count()
    processes (the rows read beforehand: no I/O is timed)."""
    global _SIGNER
    with rows_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    global _JOBS
    _JOBS = [(suite, rows[i : i + batch]) for i in range(0, len(rows), batch)]
    _SIGNER = signer
    started = time.perf_counter()
    # forked after the rows are in memory: a worker gets a job's number, never its rows (as issuance)
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        done = sum(pool.map(_baseline_job, range(len(_JOBS))))
    elapsed = time.perf_counter() - started
    return {"certificates": done, "seconds": round(elapsed, 3), "certificates_per_second": round(done / elapsed)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--qr-sample", type=int, default=2_000)
    parser.add_argument("--suite", default="intl,sm", help="comma-separated suites to measure (intl, sm)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "issuance.json")
    args = parser.parse_args(argv)
    suites = [x.strip() for x in args.suite.split(",") if x.strip()]
    schema_json = default_schemas()[CERT_TYPE]
    schema = CertificateSchema.compile(schema_json)
    by_suite: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-issue-") as tmp, anvil() as chain:
        tmp_path = Path(tmp)
        sample = tmp_path / "sample.csv"
        write_id_cards(sample, args.qr_sample, seed=11)
        for n, suite in enumerate(suites):
            results: dict[str, dict] = {}
            rows = tmp_path / f"rows-{suite}.csv"
            write_id_cards(rows, args.rows, seed=7 + 10 * n)
            setup = one_agency(chain, schema_json, suite=suite)
            results["baseline"] = baseline(rows, suite, setup.batch_signer)
            print(f"{suite:4} baseline: {results['baseline']}")
            results["bundle"] = run_issue(setup, schema, rows, tmp_path / suite / "bundle", bundle=True)
            results["bundle"]["ratio_to_baseline"] = round(
                results["bundle"]["certificates_per_second"] / results["baseline"]["certificates_per_second"], 3
            )
            print(f"{suite:4} bundle : {results['bundle']}")
            write_id_cards(rows, args.rows, seed=8 + 10 * n)  # new rows: new certificates
            results["files"] = run_issue(setup, schema, rows, tmp_path / suite / "files")
            print(f"{suite:4} files  : {results['files']}")
            qr = run_issue(setup, schema, sample, tmp_path / suite / "qr", bundle=True, qr=True)
            qr["qr_pngs_per_second"] = round(qr["certificates"] / qr["stages_seconds"]["output"])
            results["qr"] = qr
            print(f"{suite:4} qr     : {qr}")
            by_suite[suite] = results
        out_size = sum(f.stat().st_size for f in (tmp_path / suites[0] / "bundle").glob("certificates.jsonl"))
    results = by_suite[suites[0]]
    report = {
        "benchmark": "issuance end to end (CSV -> anchored -> documents)",
        "rows": args.rows,
        "workers": os.cpu_count(),
        "node": anvil_version(),
        **provenance(),
        "bundle_bytes_per_certificate": round(out_size / args.rows),
        "results": results,  # the first suite's (intl by default), as before
        "suites": by_suite,
        "target_certificates_per_second": 20_000,
        "target_ratio_to_baseline": 0.6,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
