"""Per-certificate cost of building and hashing certificate documents, SHA-256 against SM3, side
by side in one run.

    .venv/bin/python bench/format_hash.py [--rows 20000]

For realistic ID card rows (ledger.samples), on one core, median of 5 rounds:
  * ``hash``: the certificate hash of a built certificate (certledger/1: 11 SHA-256; certledger/2:
    field hashes + metaDigest + holderDigest + certHash, in SHA-256 (intl) or SM3 (sm));
  * ``build_hash``: what an issuance worker does per row before the Merkle tree: validate and
    canonicalise the row against the schema, draw the salts, build the document, hash it (with
    and without a GB/T 36904 identifier);
  * ``build_hash_json``: the same plus the document's JSON line (the ``--bundle`` format).
Writes bench/results/format_hash.json (certificates per second per core; the issuance pipeline
runs one worker per CPU).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from _common import ROOT, provenance

from ledger.bootstrap import default_schemas
from ledger.crypto.sm import SM3_PROVIDER
from ledger.document import Certificate, new_salts
from ledger.gbt.identifier import build as build_identifier
from ledger.samples import person
from ledger.schema import CertificateSchema

ROUNDS = 5
ISSUER_CODE = "11440000MB2C12345J"


def per_cert_us(fn: Callable[[], int]) -> float:
    """Median over ROUNDS of the time per certificate, in microseconds."""
    fn()  # warm up
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        n = fn()
        samples.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "format_hash.json")
    args = parser.parse_args(argv)

    raw = default_schemas()["ID_CARD"]
    schema = CertificateSchema.compile(raw)
    type_code = raw["national"]["typeCode"]
    rng = random.Random(7)
    rows = [person(rng) for _ in range(args.rows)]

    variants: dict[str, dict[str, Any]] = {
        "v1_sha256": {"version": 1, "suite": "intl"},
        "v2_intl_sha256": {"version": 2, "suite": "intl"},
        "v2_sm_sm3": {"version": 2, "suite": "sm"},
    }
    results: dict[str, dict[str, float]] = {}
    for name, opts in variants.items():
        version, suite = opts["version"], opts["suite"]

        def build(row: dict[str, Any], i: int, identifier: bool, version: int = version, suite: str = suite) -> Any:
            fields = schema.canonical_fields(row)
            ident = (
                build_identifier(type_code, ISSUER_CODE, f"BENCH{i:07d}").format()
                if identifier and version == 2
                else None
            )
            extra: dict[str, Any] = {"version": version, "suite": suite, "identifier": ident} if version == 2 else {}
            return Certificate(
                "ID_CARD", "GD-PSB", 440000, "2026-01-01", "2046-01-01", fields, new_salts(list(fields)), **extra
            )

        built = [build(r, i, True) for i, r in enumerate(rows)]

        def hash_only(built: list[Any] = built) -> int:
            for cert in built:
                cert.compute_hash()
            return len(built)

        def build_hash(identifier: bool, build: Callable[..., Any] = build) -> Callable[[], int]:
            def run() -> int:
                for i, row in enumerate(rows):
                    build(row, i, identifier).compute_hash()
                return len(rows)

            return run

        def build_hash_json(build: Callable[..., Any] = build) -> int:
            out = bytearray()
            for i, row in enumerate(rows):
                cert = build(row, i, True)
                out += orjson.dumps(cert.to_json(cert.compute_hash()))
                out += b"\n"
            return len(rows)

        figures = {
            "hash_us": per_cert_us(hash_only),
            "build_hash_us": per_cert_us(build_hash(False)),
            "build_hash_identifier_us": per_cert_us(build_hash(True)),
            "build_hash_json_us": per_cert_us(build_hash_json),
        }
        figures["certificates_per_second_per_core"] = round(1e6 / figures["build_hash_json_us"])
        results[name] = {k: float(f"{v:.4g}") for k, v in figures.items()}

    sm, intl = results["v2_sm_sm3"], results["v2_intl_sha256"]
    report = {
        "benchmark": "certificate build + hash cost per certificate, one core, median of 5 rounds",
        "rows": args.rows,
        "type": "ID_CARD (4-6 holder fields; realistic Chinese values from ledger.samples)",
        "sm3_provider": SM3_PROVIDER,
        **provenance(),
        "results": results,
        "ratios": {
            "sm_over_intl_hash": round(sm["hash_us"] / intl["hash_us"], 2),
            "sm_over_intl_build_hash_json": round(sm["build_hash_json_us"] / intl["build_hash_json_us"], 2),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
