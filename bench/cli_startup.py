"""How long the command line takes to answer, as a new user types it: ``certledger --help`` and
``certledger verify HASH`` (a certificate hash checked against the mirror), each the median of
several cold runs, beside the interpreter's own start-up and typer's import in the same run.

    .venv/bin/python bench/cli_startup.py [--runs 15]

Sets up a throw-away home with ``certledger demo --no-serve`` (embedded chain, samples,
mirror), measures, and stops the chain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, free_port, provenance

CLI = str(Path(sys.executable).parent / "certledger")


def timed(args: list[str], env: dict[str, str], runs: int, ok: tuple[int, ...] = (0,)) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - started)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(args[:3])} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certledger-cli-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
        env.update(CERTLEDGER_HOME=str(Path(tmp) / "home"), CERTLEDGER_PORT=str(free_port()))
        setup = subprocess.run(
            [CLI, "demo", "--no-serve", "--json"], env=env, capture_output=True, text=True, check=False
        )
        if setup.returncode != 0:
            raise SystemExit(f"demo failed: {setup.stderr.strip()[-500:]}")
        sample = json.loads(Path(json.loads(setup.stdout)["sample_certificate"]).read_text(encoding="utf-8"))
        try:
            python = timed([sys.executable, "-c", "pass"], env, args.runs)
            typer = timed([sys.executable, "-c", "import typer, rich.console"], env, args.runs)
            help_ = timed([CLI, "--help"], env, args.runs)
            # a bare hash: INCOMPLETE (exit 3) at best, every ledger check run against the mirror
            verify = timed(
                [CLI, "verify", sample["hash"], "--agency", sample["issuer"]["agency"]], env, args.runs, ok=(3,)
            )
        finally:
            subprocess.run([CLI, "chain", "down"], env=env, capture_output=True, check=False)
    result = {
        "benchmark": "cli_startup",
        "runs": args.runs,
        "python_start": python,
        "import_typer_rich": typer,
        "help": help_,
        "verify_hash": verify,
        "help_over_typer_import": round(help_["median_s"] / typer["median_s"], 2),
        "verify_over_typer_import": round(verify["median_s"] / typer["median_s"], 2),
        "targets": {"help_s": 0.3, "verify_hash_s": 0.8},
        "load_average": os.getloadavg(),
        **provenance(),
    }
    out = ROOT / "bench" / "results" / "cli_startup.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
