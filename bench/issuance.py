"""Batch issuance end to end: 100,000 certificates from a CSV export -> validated, hashed,
signed, anchored on anvil -> certificate documents out. Reported per stage.

    .venv/bin/python bench/issuance.py [--rows 100000] [--qr-sample 2000]

Runs (each on a fresh output folder, same chain):
  bundle  -- one JSONL bundle (the SPEC target: >= 20,000 certificates/s on 2 cores)
  files   -- one JSON file per certificate
  qr      -- QR PNG rendering rate (compact payloads), on a sample of rows
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import tempfile
import time
from pathlib import Path

from _common import AGENCY, CERT_TYPE, ROOT, anvil, anvil_version, machine, now_iso, one_agency

from ledger.bootstrap import default_schemas
from ledger.issuance import IssueRequest, issue
from ledger.schema import CertificateSchema

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥建华国庆志强晓东海燕春梅"
STREETS = ("天河区体育西路", "越秀区中山五路", "海珠区新港中路", "南山区科技园南路", "福田区深南大道", "番禺区市桥街")
CHECK = "10X98765432"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random, birth: str) -> str:
    body = f"440{rng.randint(100, 199):03d}{birth.replace('-', '')}{rng.randint(0, 999):03d}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def write_rows(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "sex", "ethnicity", "birthDate", "address", "idNumber", "validUntil", "reference"])
        for i in range(n):
            birth = f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            address = f"广东省广州市{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}房"
            w.writerow([name, rng.choice("MF"), "汉", birth, address, id_number(rng, birth), "2036-12-31", f"APP{i:08d}"])


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
        write_rows(rows, args.rows)
        sample = tmp_path / "sample.csv"
        write_rows(sample, args.qr_sample, seed=11)
        setup = one_agency(chain, schema_json)
        results["bundle"] = run_issue(setup, schema, rows, tmp_path / "bundle", bundle=True)
        print(f"bundle : {results['bundle']}")
        write_rows(rows, args.rows, seed=8)  # new rows: new certificates
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
        "measured_at": now_iso(),
        "machine": machine(),
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
