"""Load generation for the API benchmarks: wrk on loopback (Lua scripts that pace requests like
independent clients), and a running stack of ``certledger index`` + ``certledger serve``."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def lua_post(bodies: list[str], path: str, delay_ms: float | None, headers: dict[str, str] | None = None) -> str:
    table = ",".join("[==[" + b + "]==]" for b in bodies)
    delay = lua_delay(delay_ms)
    extra = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in (headers or {}).items())
    return (
        f"local bodies = {{{table}}}\nmath.randomseed(os.time())\n{delay}"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"{extra}"
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
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(out.stdout)


def pace(connections: int, rate: float, warm: dict) -> float:
    """wrk delay (ms) per connection for ``rate`` requests/s given the warm-up latency."""
    return max(0.0, connections / rate * 1000 - warm["p50_ms"])


def start_stack(home: Path, rpc: str, db_url: str, port: int, workers: int) -> list[subprocess.Popen]:
    """``certledger index`` and ``certledger serve`` on ``home``, their output in home/*.log;
    returns once /healthz answers 200 (else raises with its last answer and the logs' tails)."""
    env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": rpc, "CERTLEDGER_DB_URL": db_url}
    logs = {name: (home / f"{name}-{port}.log").open("ab") for name in ("index", "serve")}
    indexer = subprocess.Popen([CLI, "index"], env=env, stdout=logs["index"], stderr=subprocess.STDOUT)
    api = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=logs["serve"],
        stderr=subprocess.STDOUT,
    )
    for fh in logs.values():
        fh.close()
    last = "no answer"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            if r.status_code == 200:
                return [indexer, api]
            last = f"HTTP {r.status_code}: {r.text[:300]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    stop([indexer, api])
    tails = {name: (home / f"{name}-{port}.log").read_text(errors="replace")[-1500:] for name in logs}
    raise RuntimeError(f"API did not become healthy ({last}); logs: {tails}")


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
