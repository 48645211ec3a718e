"""REST API latency and throughput with a mirror of 1,000,000 certificates, load from wrk on
loopback (Debian package ``wrk``; installed with apt-get if missing).

    .venv/bin/python bench/api.py [--certificates 1000000] [--seconds 15] [--workers 2]

For SQLite and for PostgreSQL, each with its own indexer following the chain (as deployed):
  GET  /v1/certificates/{hash}   at a fixed ~1,000 req/s (p50/p99), then at peak (req/s)
  POST /v1/verify (full document, proof check) at a fixed ~200 req/s (p50/p99)
and POST /v1/verify?source=chain (the contracts' views through the node) at ~50 req/s.

Targets (SPEC section 6): GET p50 <= 2 ms, p99 <= 10 ms at 1,000 req/s, >= 3,000 req/s peak
(SQLite); POST /v1/verify p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import PG_DEFAULT, ROOT, anchor_many, anvil, free_port, machine, now_iso, one_agency, pg_database

from ledger.bootstrap import default_schemas
from ledger.deployment import Deployment
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.mirror import Indexer, MirrorStore
from ledger.samples import write_id_cards

CLI = str(Path(sys.executable).parent / "certledger")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (Debian package) ...")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def lua_delay(mean_ms: float | None) -> str:
    """Exponentially distributed pauses between a response and a connection's next request:
    arrivals spread like independent clients (fixed pauses make all connections fire at once)."""
    if not mean_ms:
        return ""
    return f"function delay() return -math.log(1 - math.random()) * {mean_ms} end\n"


def lua_get(hashes: list[str], delay_ms: float | None) -> str:
    table = ",".join(f'"{h}"' for h in hashes)
    delay = lua_delay(delay_ms)
    return (
        f"local hashes = {{{table}}}\nmath.randomseed(os.time())\n{delay}"
        "request = function()\n"
        '  return wrk.format("GET", "/v1/certificates/" .. hashes[math.random(#hashes)] .. "?verifier_region=330000")\n'
        "end\n"
    )


def lua_post(bodies: list[str], path: str, delay_ms: float | None) -> str:
    table = ",".join("[==[" + b + "]==]" for b in bodies)
    delay = lua_delay(delay_ms)
    return (
        f"local bodies = {{{table}}}\nmath.randomseed(os.time())\n{delay}"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        f'  return wrk.format("POST", "{path}", nil, bodies[math.random(#bodies)])\n'
        "end\n"
    )


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    pct = {m.group(1): ms(m.group(2)) for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s))", text, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "req_per_s": round(rps),
        "p50_ms": round(pct.get("50", 0), 3),
        "p90_ms": round(pct.get("90", 0), 3),
        "p99_ms": round(pct.get("99", 0), 3),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def run_wrk(wrk: str, base: str, script: str, seconds: int, connections: int, tmp: Path) -> dict:
    path = tmp / f"s{random.randrange(1 << 30)}.lua"
    path.write_text(script)
    out = subprocess.run(
        [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(path), base],
        capture_output=True, text=True, check=True,
    )
    return parse_wrk(out.stdout)


def pace(connections: int, rate: float, warm: dict) -> float:
    """wrk delay (ms) per connection for ``rate`` requests/s given the warm-up latency."""
    return max(0.0, connections / rate * 1000 - warm["p50_ms"])


def start_stack(home: Path, rpc: str, db_url: str, port: int, workers: int) -> list[subprocess.Popen]:
    env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": rpc, "CERTLEDGER_DB_URL": db_url}
    indexer = subprocess.Popen([CLI, "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = subprocess.Popen([CLI, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return [indexer, api]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    for p in (indexer, api):
        p.terminate()
    raise RuntimeError("API did not become healthy")


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="certledger-api-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        setup = one_agency(chain, default_schemas()["ID_CARD"])
        reg = setup.registry
        reg.set_recognition(setup.admin, 440000, "ID_CARD", 0)
        sample: list[bytes] = []
        seconds = anchor_many(setup, args.certificates, 10_000, keep=sample)
        print(f"anchored {args.certificates:,} certificate hashes in {seconds:.1f} s")
        rows = write_id_cards(tmp / "rows.csv", 2_000)
        issue(reg, setup.key, setup.deployer, IssueRequest("GD-PSB", "ID_CARD", rows, tmp / "docs", bundle=True),
              schema_for(reg, "ID_CARD"))
        docs = [json.dumps(d, ensure_ascii=False) for _, d in zip(range(200), load_bundle(tmp / "docs" / "certificates.jsonl"), strict=False)]
        home = tmp / "home"
        home.mkdir()
        deployment: Deployment = reg.deployment
        deployment.save(home / "deployment.json")
        hashes = ["0x" + h.hex() for h in random.sample(sample, min(10_000, len(sample)))]
        pg_url, drop_pg = pg_database(args.pg)
        try:
            for db, url in (("sqlite", f"sqlite:///{tmp}/mirror.db"), ("postgresql", pg_url)):
                store = MirrorStore(url)
                store.open(deployment)
                Indexer(chain.url, deployment, store).catch_up()
                store.dispose()
                port = free_port()
                stack = start_stack(home, chain.url, url, port, args.workers)
                base = f"http://127.0.0.1:{port}"
                try:
                    # warm up, then measure. wrk paces each connection with delay() between a
                    # response and the next request: C connections at delay d and latency l give
                    # C / (d + l) requests per second, so d is set from the warm-up latency.
                    warm = run_wrk(wrk, base, lua_get(hashes, None), 3, 4, tmp)
                    r = {
                        "get_at_1000": run_wrk(wrk, base, lua_get(hashes, pace(20, 1000, warm)), args.seconds, 20, tmp),
                        "get_peak": run_wrk(wrk, base, lua_get(hashes, None), args.seconds, 32, tmp),
                    }
                    warm = run_wrk(wrk, base, lua_post(docs, "/v1/verify?verifier_region=330000", None), 3, 2, tmp)
                    r["verify_at_200"] = run_wrk(
                        wrk, base, lua_post(docs, "/v1/verify?verifier_region=330000", pace(8, 200, warm)), args.seconds, 8, tmp
                    )
                    if db == "sqlite":
                        path = "/v1/verify?verifier_region=330000&source=chain"
                        warm = run_wrk(wrk, base, lua_post(docs, path, None), 3, 1, tmp)
                        r["verify_chain_at_50"] = run_wrk(wrk, base, lua_post(docs, path, pace(4, 50, warm)), args.seconds, 4, tmp)
                    results[db] = r
                    print(db, json.dumps(r, indent=1))
                finally:
                    stop(stack)
        finally:
            drop_pg()
    report = {
        "benchmark": "REST API with a mirror of 1 M certificates (wrk on loopback)",
        "certificates": args.certificates,
        "api_workers": args.workers,
        "seconds_per_run": args.seconds,
        "measured_at": now_iso(),
        "machine": machine(),
        "results": results,
        "targets": {"get_p50_ms": 2, "get_p99_ms": 10, "get_peak_req_per_s": 3000, "verify_p50_ms": 5},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
