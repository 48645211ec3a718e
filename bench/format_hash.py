"""Per-certificate cost of building and hashing certificate documents, SHA-256 against SM3, side
by side in one run.

    .venv/bin/python bench/format_hash.py [--rows 20000]

For realistic ID card rows (ledger.samples), on one core, CPU time (so that other work on the
machine does not inflate it), median of 5 rounds:
  * ``hash``: the certificate hash of a built certificate (certledger/1: 11 SHA-256; certledger/2:
    field hashes + metaDigest + holderDigest + certHash, in SHA-256 (intl) or SM3 (sm));
  * ``build_hash``: what an issuance worker does per row before the Merkle tree
    (``ledger.issuance.build``): validate and canonicalise the row against the schema, draw the
    salts, build the document, hash it (without and with a GB/T 36904 identifier; certledger/1
    as it was built before, for comparison);
  * ``build_hash_json``: the same (with identifier) plus the document's JSON line (the
    ``--bundle`` format).
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
from eth_account import Account

from ledger.bootstrap import default_schemas
from ledger.crypto.sm import SM3_PROVIDER
from ledger.document import Certificate, new_salts
from ledger.issuance.build import BuildContext, _build_certificate
from ledger.samples import person
from ledger.schema import CertificateSchema

ROUNDS = 5
ISSUER_CODE = "11440000MB2C12345J"


def per_cert_us(fn: Callable[[], int]) -> float:
    """Median over ROUNDS of the CPU time per certificate, in microseconds (CPU time of this
    process, not wall time: the figure holds on a machine busy with other work too)."""
    fn()  # warm up
    samples = []
    for _ in range(ROUNDS):
        started = time.process_time()
        n = fn()
        samples.append((time.process_time() - started) / n * 1e6)
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

    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    def context(suite: str, identifier: bool) -> BuildContext:
        """What an issuance worker holds (``ledger.issuance.build``)."""
        return BuildContext(
            schema,
            Account.create(),
            31337,
            registry,
            "GD-PSB",
            "ID_CARD",
            440000,
            "2026-01-01",
            "2046-01-01",
            Path("."),
            "2026-01-01",
            suite=suite,
            type_code=type_code if identifier else None,
            issuer_code=ISSUER_CODE if identifier else None,
            serial_prefix="0123456789",
        )

    def v1(row: dict[str, Any], line: int) -> Certificate:
        """certledger/1 as issuance built it before certledger/2 (for comparison)."""
        fields = schema.canonical_fields(row)
        return Certificate("ID_CARD", "GD-PSB", 440000, "2026-01-01", "2046-01-01", fields, new_salts(list(fields)))

    def v2(suite: str, identifier: bool) -> Callable[[dict[str, Any], int], Certificate]:
        ctx = context(suite, identifier)
        return lambda row, line: _build_certificate(ctx, row, line)

    variants: dict[str, tuple[Callable[[dict[str, Any], int], Certificate], ...]] = {
        "v1_sha256": (v1, v1),
        "v2_intl_sha256": (v2("intl", False), v2("intl", True)),
        "v2_sm_sm3": (v2("sm", False), v2("sm", True)),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (plain, with_identifier) in variants.items():
        built = [with_identifier(r, i + 2) for i, r in enumerate(rows)]

        def hash_only(built: list[Certificate] = built) -> int:
            for cert in built:
                cert.compute_hash()
            return len(built)

        def build_hash(build: Callable[[dict[str, Any], int], Certificate]) -> Callable[[], int]:
            def run() -> int:
                for i, row in enumerate(rows):
                    build(row, i + 2).compute_hash()
                return len(rows)

            return run

        def build_hash_json(build: Callable[[dict[str, Any], int], Certificate] = with_identifier) -> int:
            out = bytearray()
            for i, row in enumerate(rows):
                cert = build(row, i + 2)
                out += orjson.dumps(cert.to_json(cert.compute_hash()))
                out += b"\n"
            return len(rows)

        figures = {
            "hash_us": per_cert_us(hash_only),
            "build_hash_us": per_cert_us(build_hash(plain)),
            "build_hash_identifier_us": per_cert_us(build_hash(with_identifier)),
            "build_hash_json_us": per_cert_us(build_hash_json),
        }
        figures["certificates_per_second_per_core"] = round(1e6 / figures["build_hash_json_us"])
        results[name] = {k: float(f"{v:.4g}") for k, v in figures.items()}

    sm, intl = results["v2_sm_sm3"], results["v2_intl_sha256"]
    report = {
        "benchmark": "certificate build + hash CPU time per certificate, one core, median of 5 rounds",
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
