"""Chain cost of anchoring: gas used by CertificateRegistry.anchorBatch per batch size.

Starts its own anvil (free port, no state file, the project's hardfork), deploys the
contracts, registers one region, one type and one agency with one key, anchors batches of
1, 100, 1,000 and 10,000 random certificate hashes, prints a table and writes
bench/results/gas.json. With ``--suite intl,sm`` (the default) it measures both suites, and for
each also batches whose every certificate carries an identifier tag.

    .venv/bin/python bench/gas.py [--sizes 1,100,1000,10000] [--suite intl,sm] [--out bench/results/gas.json]

Target: at most 1,500 gas per certificate in a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _common import CHAIN_ID, ROOT, anvil, anvil_version, one_agency, provenance

from ledger.chain import Chain
from ledger.contracts import artifact
from ledger.node import HARDFORK

DEFAULT_SIZES = (1, 100, 1_000, 10_000)
TARGET_GAS_PER_CERT = 1_500
MAX_TAGGED_BATCH = 6_000
AGENCY = "GD-PSB"
CERT_TYPE = "ID_CARD"


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague) floor of a transaction: 21,000 + 10 gas per calldata token
    (a zero byte is 1 token, a non-zero byte 4)."""
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


def run(sizes: list[int], suites: list[str] | None = None) -> dict:
    with anvil() as chain:
        report = measure(chain, sizes)
        report["variants"] = {}
        for suite in suites or ["intl", "sm"]:
            for tagged in (False, True):
                name = suite + (" + identifier tags" if tagged else "")
                # a tagged batch of 10,000 would pass the 2**24 gas cap of a transaction (EIP-7825)
                measured = [n for n in sizes if not tagged or n <= MAX_TAGGED_BATCH]
                report["variants"][name] = measure(chain, measured, suite=suite, tagged=tagged)["results"]
        return report


def measure(chain: Chain, sizes: list[int], suite: str = "intl", tagged: bool = False) -> dict:
    setup = one_agency(chain, suite=suite)
    registry, deployer, key = setup.registry, setup.deployer, setup.batch_signer

    rows: list[dict] = []
    for n in sizes:
        hashes = [os.urandom(32) for _ in range(n)]
        identifiers = [f"1.2.156.3005.2.bench.{i}" for i in range(n)] if tagged else None
        started = time.perf_counter()
        batch = registry.anchor_batch(deployer, key, AGENCY, CERT_TYPE, hashes, identifiers=identifiers)
        elapsed = time.perf_counter() - started
        tx = chain.w3.eth.get_transaction(batch.tx.tx_hash)
        data = bytes(tx["input"])
        gas = batch.tx.gas_used
        floor = calldata_floor(data)
        smallest = rows[0] if rows else None
        marginal = (
            round((gas - smallest["gas_used"]) / (n - smallest["batch_size"]), 1)
            if smallest is not None and n > smallest["batch_size"]
            else None
        )
        rows.append(
            {
                "batch_size": n,
                "gas_used": gas,
                "gas_per_certificate": round(gas / n, 1),
                "marginal_gas_per_certificate": marginal,
                "calldata_bytes": len(data),
                "eip7623_calldata_floor": floor,
                "floor_applies": gas == floor,
                "log_data_bytes": sum(len(bytes(log["data"])) for log in batch.tx.receipt["logs"]),
                "wall_seconds": round(elapsed, 3),
                "within_target": gas / n <= TARGET_GAS_PER_CERT,
            }
        )
    compiler = artifact("CertificateRegistry").get("compiler")
    return {
        "benchmark": "anchorBatch gas",
        "hardfork": HARDFORK,
        "node": anvil_version(),
        "compiler": compiler,
        "chain_id": CHAIN_ID,
        "block_gas_limit": int(chain.w3.eth.get_block("latest")["gasLimit"]),
        "target_gas_per_certificate": TARGET_GAS_PER_CERT,
        **provenance(),
        "results": rows,
    }


def table(report: dict) -> str:
    lines = [
        f"anchorBatch gas  (hardfork {report['hardfork']}, {report['node']}, "
        f"target <= {report['target_gas_per_certificate']:,} gas/certificate)",
        "",
        f"{'batch size':>10}  {'gas used':>12}  {'gas/cert':>10}  {'marginal':>10}  {'calldata floor':>14}  {'target':>6}",
        f"{'-' * 10}  {'-' * 12}  {'-' * 10}  {'-' * 10}  {'-' * 14}  {'-' * 6}",
    ]
    variants = report.get("variants") or {"intl": report["results"]}
    for name, results in variants.items():
        lines.append(f"{name}:")
        for r in results:
            floor = f"{r['eip7623_calldata_floor']:,}" + (" *" if r["floor_applies"] else "  ")
            marginal = "-" if r["marginal_gas_per_certificate"] is None else f"{r['marginal_gas_per_certificate']:,.1f}"
            lines.append(
                f"{r['batch_size']:>10,}  {r['gas_used']:>12,}  {r['gas_per_certificate']:>10,.1f}  {marginal:>10}  "
                f"{floor:>14}  {'ok' if r['within_target'] else 'MISS':>6}"
            )
    if any(r["floor_applies"] for results in variants.values() for r in results):
        lines += ["", "* gas used is the EIP-7623 calldata floor (21,000 + 40 gas per non-zero calldata byte)"]
    lines += ["", "marginal: extra gas per extra certificate relative to the smallest batch"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="comma-separated batch sizes")
    parser.add_argument("--suite", default="intl,sm", help="comma-separated suites to measure (intl, sm)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gas.json")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    report = run(sizes, [s.strip() for s in args.suite.split(",") if s.strip()])
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
