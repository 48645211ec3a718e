"""Citizens' presentations through the API, and what a verification receipt costs, in both
suites, load from wrk on loopback.

    .venv/bin/python bench/presentations.py [--seconds 10] [--workers 2] [--databases sqlite,postgresql]

For each suite: 2,000 ID cards issued through the pipeline, 200 of them bound to holder device
keys on chain (``bindHolders``), a registered verifier organisation with its API key; then
``certledger index`` + ``certledger serve`` and
  POST /v1/verify {"payload": "CLP1:…"} (a registered verifier; the holder check, every other
  check, and the receipt written before the answer) at ~200 req/s (p50/p99), then at peak;
beside it, in the same run: the same certificates as full documents (POST /v1/verify, no
presentation, no receipt), so the ratio says what presenting costs above verifying. And, in
process on the same database: ReceiptStore.record alone (p50/p99), what a receipt adds.

Targets: presentation verification p50 <= 10 ms; a receipt adds <= 1 ms p50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import (
    AGENCY,
    PG_DEFAULT,
    ROOT,
    anvil,
    free_port,
    issue_id_cards,
    load_average,
    pg_database,
    provenance,
)
from _wrk import ensure_wrk, lua_post, pace, run_wrk, start_stack, stop
from eth_account import Account

from ledger.document import Certificate
from ledger.mirror import Indexer, MirrorStore
from ledger.mirror.store import make_engine
from ledger.presentation import MAX_LIFETIME, HolderKey, key_hash
from ledger.receipts import Receipt, ReceiptStore
from ledger.verifiers import api_key_hash, new_api_key

PATH = "/v1/verify?verifier_region=440000"


def measured(result: dict) -> dict:
    return {**result, "load_average_before": load_average()}


def receipt_cost(url: str, n: int = 2000) -> dict:
    """ReceiptStore.record alone, ``n`` times, on the database at ``url``."""
    engine = make_engine(url)
    try:
        store = ReceiptStore(engine)
        times = []
        for i in range(n):
            r = Receipt("GD-BANK-1", 440000, "BANKING", "开户", 1_800_000_000 + i, ("name",), os.urandom(16), "VALID")
            t0 = time.perf_counter()
            store.record(r)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        engine.dispose()
    times.sort()
    return {
        "receipts": n,
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[int(n * 0.99)], 3),
        "load_average_before": load_average(),
    }


def run_suite(suite: str, db: str, pg_url: str, args: argparse.Namespace, wrk: str, chain: object, tmp: Path) -> dict:
    folder = tmp / f"{suite}-{db}"
    issued = issue_id_cards(chain, suite, folder)  # type: ignore[arg-type]
    setup, docs, home = issued.setup, issued.docs, issued.home
    reg = setup.registry
    holders = [HolderKey() for _ in docs]
    bindings = [(bytes.fromhex(d["hash"][2:]), key_hash(h.public_key)) for d, h in zip(docs, holders, strict=True)]
    for i in range(0, len(bindings), 100):
        reg.bind_holders(setup.key, AGENCY, bindings[i : i + 100])
    api_key = new_api_key("GD-BANK-1")
    reg.register_verifier(setup.admin, "GD-BANK-1", 440000, Account.create().address, api_key_hash(api_key))
    url = f"sqlite:///{folder}/mirror.db" if db == "sqlite" else pg_url
    store = MirrorStore(url)
    store.open(reg.deployment)
    Indexer(chain.url, reg.deployment, store).catch_up()  # type: ignore[attr-defined]
    store.dispose()
    certs = [Certificate.from_json(d)[0] for d in docs]

    def presentations() -> list[str]:  # fresh for each run: a window of 600 s
        return [
            json.dumps({"payload": h.present(c, ["name", "sex"], purpose="BANKING", lifetime=MAX_LIFETIME)})
            for h, c in zip(holders, certs, strict=True)
        ]

    documents = [json.dumps({"document": d}, ensure_ascii=False) for d in docs]
    auth = {"Authorization": f"Bearer {api_key}"}
    port = free_port()
    stack = start_stack(home, chain.url, url, port, args.workers)  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    r: dict[str, dict] = {}
    try:
        bodies = presentations()
        warm = run_wrk(wrk, base, lua_post(bodies, PATH, None, auth), 3, 2, tmp)
        r["presentation_at_200"] = measured(
            run_wrk(wrk, base, lua_post(bodies, PATH, pace(8, 200, warm), auth), args.seconds, 8, tmp)
        )
        r["presentation_peak"] = measured(run_wrk(wrk, base, lua_post(bodies, PATH, None, auth), args.seconds, 32, tmp))
        warm = run_wrk(wrk, base, lua_post(documents, PATH, None), 3, 2, tmp)
        r["document_at_200"] = measured(
            run_wrk(wrk, base, lua_post(documents, PATH, pace(8, 200, warm)), args.seconds, 8, tmp)
        )
        r["document_peak"] = measured(run_wrk(wrk, base, lua_post(documents, PATH, None), args.seconds, 32, tmp))
    finally:
        stop(stack)
    r["receipt_record"] = receipt_cost(url)
    r["ratios"] = {
        "presentation_peak_vs_document_peak": round(
            r["presentation_peak"]["req_per_s"] / max(1, r["document_peak"]["req_per_s"]), 3
        ),
    }
    non_2xx = sum(r[k].get("non_2xx", 0) for k in ("presentation_at_200", "presentation_peak"))
    assert non_2xx == 0, f"{non_2xx} presentations were refused: the benchmark measured errors"
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--suites", default="intl,sm")
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "presentations.json")
    args = parser.parse_args(argv)
    databases = [d for d in args.databases.split(",") if d]
    suites = [s for s in args.suites.split(",") if s]
    report = {"benchmark": "citizens' presentations through the API, and receipts", **provenance()}
    wrk = ensure_wrk()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-present-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        for suite in suites:
            for db in databases if suite == suites[0] else ["sqlite"]:
                pg_url, drop = pg_database(args.pg) if db == "postgresql" else ("", lambda: None)
                try:
                    results[f"{suite}/{db}"] = r = run_suite(suite, db, pg_url, args, wrk, chain, tmp)
                    print(suite, db, json.dumps(r, indent=1), flush=True)
                finally:
                    drop()
    report["results"] = results
    report["targets"] = {"presentation_p50_ms": 10, "receipt_p50_ms": 1}
    report["load_average_at_end"] = load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
