"""Where the API's time goes: py-spy samples the ``certledger serve`` workers while wrk drives
GET /v1/certificates/{hash} and POST /v1/verify at peak, and the samples are summarised by
function (self time, and inclusive time of the project's own frames).

    .venv/bin/python bench/profile_api.py [--certificates 100000] [--seconds 10]
                                          [--databases sqlite,postgresql] [--suite intl]

Profiles are for finding work to remove, not for figures: sampling slows the workers a little,
so the throughput printed here is not the benchmark's (``bench/api.py``). Summaries go to
bench/results/profiles/api-<database>-<get|post>.txt.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PG_DEFAULT, ROOT, anvil, free_port, pg_database
from _wrk import ensure_wrk, lua_get, lua_post, run_wrk, start_stack, stop

from ledger.mirror import Indexer, MirrorStore


def _bench_api():  # bench/api.py (its name is the api package's: loaded by path)
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_api", Path(__file__).with_name("api.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module
    spec.loader.exec_module(module)
    return module


bench_api = _bench_api()
VERIFY_PATH, prepare = bench_api.VERIFY_PATH, bench_api.prepare

PY_SPY = str(Path(sys.executable).parent / "py-spy")
OWN = ("ledger/", "api/", "cli/")


def summarise(raw: Path, top: int = 30) -> str:
    """Self and inclusive shares by frame, from py-spy's raw (collapsed) output."""
    text = raw.read_text(errors="replace")
    total = 0
    own: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    for m in re.finditer(r"(.*?) (\d+)\n", text, re.S):
        frames = [f for f in m.group(1).split(";") if not f.startswith("process ")]
        if not frames:
            continue
        n = int(m.group(2))
        total += n
        leaf[frames[-1]] += n
        for f in set(frames):
            if any(f"({p}" in f for p in OWN):
                own[f] += n
    if not total:
        return "no samples\n"
    lines = [f"samples: {total}", "", "self time (where the CPU is):"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in leaf.most_common(top)]
    lines += ["", "inclusive time of the project's frames:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen:
    sampling = ["--subprocesses", "--nonblocking", "--rate", "250", "--duration", str(seconds)]
    return subprocess.Popen(
        [PY_SPY, "record", "--pid", str(pid), *sampling, "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--suite", default="intl", choices=["intl", "sm"])
    parser.add_argument("--pg", default=os.environ.get("CERTLEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profiles")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    with tempfile.TemporaryDirectory(prefix="certledger-profile-") as tmp_name, anvil() as chain:
        tmp = Path(tmp_name)
        pg_url, drop_pg = pg_database(args.pg) if "postgresql" in databases else ("", lambda: None)
        try:
            ledger = prepare(chain, args.suite, args.certificates, tmp / args.suite)
            for db in databases:
                url = f"sqlite:///{tmp}/mirror.db" if db == "sqlite" else pg_url
                store = MirrorStore(url)
                store.open(ledger.deployment)
                Indexer(chain.url, ledger.deployment, store).catch_up()
                store.dispose()
                port = free_port()
                stack = start_stack(ledger.home, chain.url, url, port, args.workers)
                base = f"http://127.0.0.1:{port}"
                try:
                    for name, script in (
                        ("get", lua_get(ledger.hashes, None)),
                        ("post", lua_post(ledger.docs, VERIFY_PATH, None)),
                    ):
                        run_wrk(wrk, base, script, 3, 8, tmp)  # warm
                        raw = tmp / f"{db}-{name}.raw"
                        spy = profile(stack[1].pid, args.seconds, raw)
                        time.sleep(1)  # py-spy attached to every worker
                        figure = run_wrk(wrk, base, script, args.seconds - 2, 32, tmp)
                        spy.wait(args.seconds + 30)
                        summary = summarise(raw) if raw.exists() else "py-spy wrote nothing (ptrace not allowed?)\n"
                        head = f"{db} {name} at peak under py-spy: {figure['req_per_s']:,} req/s (not a benchmark figure)\n"
                        (args.out / f"api-{db}-{name}.txt").write_text(head + summary)
                        print(head + summary, flush=True)
                finally:
                    stop(stack)
        finally:
            drop_pg()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
