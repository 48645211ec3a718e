"""kill -9 soak of the embedded chain: what a crash of anvil, of its keeper or of both costs.

    .venv/bin/python bench/node_kill.py [--certificates 250000] [--kills 50] [--scale 10000000]

Soak: `certledger chain up` on a fresh home, a chain of --certificates certificates (batches of
10,000), then --kills rounds. In each, batches of 200 certificates are anchored (about three a
second) while anvil, the keeper or both are SIGKILLed at a random moment: half the kills wait
for a full dump to be in progress and land at a random point of it, a few also kill a
`chain up` in the middle of its restore. After each kill `certledger chain up` restores the
chain, and every batch is checked on chain (BatchAnchored events: every certificate hash;
the contract's batch view for a sample; the contracts' code). Reported: the worst head loss
in blocks and seconds, certificates lost outside the documented window (must be 0), restore
times, and the state's size, dump and load times.

Scale: a chain of --scale certificates on a plain anvil, one full dump into a generation (dump
time, how long anvil stalls, size), a load of it (`--load-state`), the keeper's per-block log
cost. This decides whether a full dump every second can reach 10 M certificates on this machine.

Writes bench/results/node_kill.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import AGENCY, CERT_TYPE, ROOT, Setup, anvil_version, free_port, one_agency, provenance

from ledger.chain import Chain
from ledger.ids import agency_id, type_id
from ledger.issuance import GAS_BASE, GAS_PER_CERTIFICATE, anchor_calldata
from ledger.merkle import build_tree
from ledger.node import anvil_args, wait_for_rpc
from ledger.node_keeper import process_alive
from ledger.node_state import Rpc, StateStore, fetch_blocks
from ledger.registry import Registry
from ledger.signing import sign_batch

INTERVAL = 1.0
WINDOW = INTERVAL + 1.0  # docs/reliability.md: the interval, plus the time to write it, with a margin
TRAFFIC_BATCH, TRAFFIC_PER_SECOND = 200, 3.0


@dataclass
class Batch:
    root: bytes
    size: int
    block: int
    seen: float  # monotonic time its receipt was seen


def anchor(setup: Setup, chain: Chain, batches: list[list[bytes]]) -> list[Batch]:
    """The one place this benchmark anchors certificates: raw anchorBatch transactions sent back
    to back, then their receipts (the contract's anchoring API may change under it)."""
    deployment = setup.registry.deployment
    aid, tid = agency_id(AGENCY), type_id(CERT_TYPE)
    sent = []
    for hashes in batches:
        tree = build_tree(hashes)
        signature = sign_batch(setup.key, tree.root, tid, aid, chain.chain_id, deployment.certificate_registry)
        tx = {
            "to": deployment.certificate_registry,
            "data": anchor_calldata(aid, tid, tree.cert_hashes, signature),
            "gas": GAS_BASE + GAS_PER_CERTIFICATE * len(hashes),
            "value": 0,
        }
        sent.append((tree.root, len(hashes), chain.send_transaction(setup.deployer, tx, wait=False).tx_hash))
    done = []
    for root, size, tx_hash in sent:
        receipt = chain.wait(bytes.fromhex(tx_hash[2:]))
        assert receipt["status"] == 1, "anchorBatch reverted"
        done.append(Batch(root, size, int(receipt["blockNumber"]), time.monotonic()))
    return done


def random_batches(total: int, size: int) -> list[list[bytes]]:
    return [[os.urandom(32) for _ in range(min(size, total - i))] for i in range(0, total, size)]


# ---------------------------------------------------------------------- the soak


class Soak:
    """One embedded chain in a scratch home, driven through the real `certledger` command."""

    def __init__(self, home: Path, seed: int) -> None:
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_dir = home / "chain"
        self.store = StateStore(self.chain_dir)
        self.rng = random.Random(seed)
        self.batches: list[Batch] = []
        self.lock = threading.Lock()
        self.setup: Setup | None = None

    def cli(self, *args: str, wait: bool = True) -> Any:
        env = {
            **os.environ,
            "CERTLEDGER_HOME": str(self.home),
            "CERTLEDGER_PORT": str(self.port),
            "CERTLEDGER_CHAIN_DUMP_INTERVAL": str(INTERVAL),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("CERTLEDGER_RPC_URL", None)
        command = [str(Path(sys.executable).parent / "certledger"), *args]
        if not wait:
            return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)

    def up(self) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        done = self.cli("chain", "up", "--json")
        if done.returncode != 0:
            raise SystemExit(f"chain up failed: {done.stderr.strip()}")
        return json.loads(done.stdout), time.perf_counter() - started

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("chain", "status", "--json").stdout)

    def pid(self, name: str) -> int | None:
        try:
            return int((self.chain_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def kill(self, name: str) -> None:
        """SIGKILL this chain's anvil or keeper, checked by pid file, command line and port."""
        pid = self.pid(name)
        if pid is None or not process_alive(pid, "anvil" if name == "anvil" else "ledger.node_keeper"):
            return
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(self.port).encode() in cmdline:
            os.kill(pid, signal.SIGKILL)

    def last_dump_seconds(self) -> float:
        try:
            return float(json.loads((self.chain_dir / "keeper.json").read_text())["last_dump_seconds"]) or 0.5
        except (OSError, ValueError, KeyError, TypeError):
            return 0.5

    def dump_in_progress(self) -> bool:
        return any(p.name.endswith(".tmp") for p in self.store.generations_dir.iterdir())

    def traffic(self, stop: threading.Event) -> None:
        assert self.setup is not None
        chain = Chain(self.url)  # fresh: no nonce cached from before a restore
        while not stop.is_set():
            started = time.monotonic()
            try:
                done = anchor(self.setup, chain, random_batches(TRAFFIC_BATCH, TRAFFIC_BATCH))
            except Exception:
                return
            with self.lock:
                self.batches += done
            stop.wait(max(0.0, 1 / TRAFFIC_PER_SECOND - (time.monotonic() - started)))

    def check(self, killed_at: float) -> dict[str, Any]:
        """What the restored chain holds of what was anchored before the kill."""
        assert self.setup is not None
        registry = Registry(Chain(self.url), self.setup.registry.deployment)
        deployment = registry.deployment
        code = all(
            registry.chain.has_code(a)
            for a in (deployment.consortium, deployment.agency_registry, deployment.certificate_registry)
        )
        logs = registry.certificates.events.BatchAnchored().get_logs(from_block=deployment.deployment_block)
        on_chain = {bytes(log["args"]["root"]): len(log["args"]["certHashes"]) for log in logs}
        head = registry.chain.block_number()
        lost = [b for b in self.batches if on_chain.get(b.root) != b.size]
        outside = [b for b in lost if b.seen < killed_at - WINDOW]
        expected = [b for b in self.batches if b.seen < killed_at - WINDOW]
        sample = self.rng.sample(expected, min(20, len(expected))) + expected[-10:]
        views_ok = all(registry.batch(AGENCY, b.root) is not None for b in sample)
        newest = max((b for b in self.batches if b.seen < killed_at), key=lambda b: b.block, default=None)
        self.batches = [b for b in self.batches if b not in lost]  # lost in the window: the journal re-anchors
        return {
            "head": head,
            "lost_batches": len(lost),
            "lost_certificates": sum(b.size for b in lost),
            "lost_certificates_outside_window": sum(b.size for b in outside),
            "head_loss_blocks": max(0, newest.block - head) if newest else 0,
            "oldest_loss_seconds": round(killed_at - min(b.seen for b in lost), 2) if lost else 0.0,
            "contracts_have_code": code,
            "batch_views_ok": views_ok,
            "certificates_on_chain": sum(on_chain.values()),
        }


def soak(certificates: int, kills: int, seed: int, scratch: Path) -> dict[str, Any]:
    s = Soak(scratch / "home", seed)
    report, first_up = s.up()
    chain = Chain(s.url)
    s.setup = one_agency(chain)
    started = time.perf_counter()
    for i in range(0, certificates, 100_000):  # bounded memory: 10 batches at a time
        s.batches += anchor(s.setup, chain, random_batches(min(100_000, certificates - i), 10_000))
    build_seconds = time.perf_counter() - started
    print(f"chain of {certificates:,} certificates in {build_seconds:.1f} s; {kills} kills follow", flush=True)
    rounds: list[dict[str, Any]] = []
    for n in range(kills):
        during_dump = n % 2 == 1
        target = s.rng.choice(["anvil", "anvil", "keeper", "both", "both"])
        also_restore = n % 10 == 9  # kill a `chain up` in the middle of its restore, too
        stop = threading.Event()
        sender = threading.Thread(target=s.traffic, args=(stop,), daemon=True)
        sender.start()
        time.sleep(s.rng.uniform(WINDOW + 0.5, WINDOW + 6))
        if during_dump:
            deadline = time.monotonic() + 300
            while not s.dump_in_progress() and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(s.rng.uniform(0, s.last_dump_seconds()))  # anywhere in the dump, or just after
        caught_dump = s.dump_in_progress()
        if target in ("anvil", "both"):
            s.kill("anvil")
        if target in ("keeper", "both"):
            s.kill("keeper")
        killed_at = time.monotonic()
        stop.set()
        sender.join(60)
        restore_killed = False
        if also_restore and target != "keeper":
            half = s.cli("chain", "up", "--json", wait=False)
            time.sleep(s.rng.uniform(0.05, 0.8))
            if half.poll() is None:
                restore_killed = True
                os.kill(half.pid, signal.SIGKILL)  # our own child
                s.kill("anvil")
            half.communicate()
        report, up_seconds = s.up()
        restored = report.get("restored") or {}
        result = s.check(killed_at)
        rounds.append(
            {
                "kill": n + 1,
                "target": target,
                "waited_for_dump": during_dump,
                "dump_in_progress_at_kill": caught_dump,
                "restore_killed_too": restore_killed,
                "chain_up_seconds": round(up_seconds, 2),
                "generation": restored.get("generation"),
                "generation_age_seconds": restored.get("generation_age_seconds"),
                "replayed_blocks": restored.get("replayed_blocks", 0),
                "skipped": [f"{x['file']}: {x['reason']}" for x in restored.get("skipped", [])],
                **result,
            }
        )
        r = rounds[-1]
        print(
            f"kill {n + 1:>2} {target:<6} dump={caught_dump!s:<5} restore-kill={restore_killed!s:<5} "
            f"up {r['chain_up_seconds']:>5.2f} s replayed {r['replayed_blocks']:>3} lost {r['lost_batches']} "
            f"batches ({r['oldest_loss_seconds']} s) outside window {r['lost_certificates_outside_window']}",
            flush=True,
        )
        assert r["contracts_have_code"] and r["batch_views_ok"], r
    # final figures at the soak's size
    down_started = time.perf_counter()
    s.cli("chain", "down")
    down_seconds = time.perf_counter() - down_started
    final = s.store.generations()[-1]
    meta = json.loads(final.meta_path.read_text())
    certs = rounds[-1]["certificates_on_chain"] if rounds else certificates
    log_bytes = sum(p.stat().st_size for _, p in s.store.log.segments())
    report, clean_up_seconds = s.up()
    load_seconds = _load_seconds(final.path)
    s.cli("chain", "down")
    kinds = [r["target"] for r in rounds]
    return {
        "seed": seed,
        "certificates_at_start": certificates,
        "certificates_at_end": certs,
        "build_seconds": round(build_seconds, 1),
        "kills": len(rounds),
        "kills_by_target": {k: kinds.count(k) for k in sorted(set(kinds))},
        "kills_while_a_dump_was_in_progress": sum(r["dump_in_progress_at_kill"] for r in rounds),
        "kills_of_a_restore_in_progress": sum(r["restore_killed_too"] for r in rounds),
        "incomplete_dumps_found_by_chain_up": sum(any("incomplete dump" in x for x in r["skipped"]) for r in rounds),
        "window_seconds": WINDOW,
        "worst_head_loss_blocks": max((r["head_loss_blocks"] for r in rounds), default=0),
        "worst_loss_seconds": max((r["oldest_loss_seconds"] for r in rounds), default=0.0),
        "lost_certificates_total": sum(r["lost_certificates"] for r in rounds),
        "lost_certificates_outside_window": sum(r["lost_certificates_outside_window"] for r in rounds),
        "chain_up_seconds": {
            "median": round(statistics.median(r["chain_up_seconds"] for r in rounds), 2),
            "max": max(r["chain_up_seconds"] for r in rounds),
        }
        if rounds
        else None,
        "replayed_blocks_max": max((r["replayed_blocks"] for r in rounds), default=0),
        "first_chain_up_seconds": round(first_up, 2),
        "state": {
            "generation_bytes": final.size,
            "bytes_per_million_certificates": round((final.size or 0) / certs * 1e6),
            "dump_seconds": meta.get("dump_seconds"),
            "anvil_busy_seconds": meta.get("anvil_seconds"),
            "load_seconds": round(load_seconds, 2),
            "chain_down_seconds": round(down_seconds, 2),
            "clean_chain_up_seconds": round(clean_up_seconds, 2),
            "block_log_bytes": log_bytes,
        },
        "rounds": rounds,
    }


def _load_seconds(state: Path) -> float:
    """Seconds until a fresh anvil answers after ``--load-state`` of ``state``."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        anvil_args(port, 31337, None, load_state=state), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for_rpc(f"http://127.0.0.1:{port}", timeout=3600, process=process)
        return time.perf_counter() - started
    finally:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------- the scale check


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def _available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def scale(certificates: int, scratch: Path) -> dict[str, Any]:
    """One full dump and one load of a chain of ``certificates``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (scratch / "scale-anvil.log").open("ab") as log:
        process = subprocess.Popen(anvil_args(port, 31337, None), stdout=log, stderr=subprocess.STDOUT)
    try:
        chain = wait_for_rpc(url, timeout=60, process=process)
        setup = one_agency(chain)
        started = time.perf_counter()
        for i in range(0, certificates, 200_000):
            anchor(setup, chain, random_batches(min(200_000, certificates - i), 10_000))
            print(f"  {min(i + 200_000, certificates):,} certificates", end="\r", flush=True)
        build = time.perf_counter() - started
        rss_before = _rss_mb(process.pid)
        store = StateStore(scratch / "scale")
        stall: dict[str, float] = {}

        def one_tx_during_dump() -> None:  # how long anvil keeps a transaction waiting during a dump
            time.sleep(0.3)
            t = time.perf_counter()
            anchor(setup, Chain(url), random_batches(1, 1))
            stall["tx_seconds"] = time.perf_counter() - t

        prober = threading.Thread(target=one_tx_during_dump)
        prober.start()
        peak = [0.0]
        watching = threading.Event()

        def watch_rss() -> None:
            while not watching.wait(0.2):
                peak[0] = max(peak[0], _rss_mb(process.pid))

        watcher = threading.Thread(target=watch_rss, daemon=True)
        watcher.start()
        started = time.perf_counter()
        generation = store.write_generation(Rpc(url))
        dump = time.perf_counter() - started
        watching.set()
        prober.join()
        meta = json.loads(generation.meta_path.read_text())
        rpc = Rpc(url)
        head = rpc.block_number()
        t = time.perf_counter()
        fetch_blocks(rpc, head - 9, head)  # the keeper's cost for 10 new blocks of 10,000 certificates
        log_tick = time.perf_counter() - t
    finally:
        process.kill()
        process.wait()
    t = time.perf_counter()
    valid = store.check(generation) is None
    check_seconds = time.perf_counter() - t
    load = _load_seconds(generation.path)
    size = generation.size or 0
    result = {
        "certificates": certificates,
        "build_seconds": round(build, 1),
        "generation_bytes": size,
        "bytes_per_million_certificates": round(size / certificates * 1e6),
        "dump_seconds": round(dump, 2),
        "anvil_busy_seconds": meta.get("anvil_seconds"),
        "tx_waiting_during_dump_seconds": round(stall.get("tx_seconds", 0.0), 2),
        "generation_check_seconds": round(check_seconds, 2),
        "generation_valid": valid,
        "load_seconds": round(load, 2),
        "anvil_rss_mb": round(rss_before),
        "anvil_peak_rss_during_dump_mb": round(peak[0]),
        "keeper_log_seconds_for_10_blocks": round(log_tick, 3),
        "full_dump_interval_at_budget_0_1_seconds": round(dump / 0.1, 1),
        "full_dump_every_second_possible": dump < 1.0,
    }
    for p in store.generations_dir.iterdir():
        p.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=250_000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--scale", type=int, default=10_000_000, help="0 skips the scale check")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--scratch", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "node_kill.json")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    result: dict[str, Any] = {
        "benchmark": "kill -9 soak of the embedded chain (anvil + keeper)",
        **provenance(),
        "command": "./run bench node_kill  (bench/node_kill.py "
        f"--certificates {args.certificates} --kills {args.kills} --scale {args.scale} --seed {seed})",
        "node": anvil_version(),
        "dump_interval_seconds": INTERVAL,
    }
    with tempfile.TemporaryDirectory(prefix="certledger-kill-", dir=args.scratch) as tmp:
        scratch = Path(tmp)
        result["soak"] = soak(args.certificates, args.kills, seed, scratch)
        print(json.dumps({k: v for k, v in result["soak"].items() if k != "rounds"}, indent=1), flush=True)
        if args.scale:
            need = 12.0 * args.scale / 10_000_000
            if _available_gb() < need:
                result["scale"] = {
                    "skipped": f"needs ~{need:.0f} GB of free memory, {_available_gb():.1f} GB available"
                }
            else:
                print(f"scale check: {args.scale:,} certificates", flush=True)
                result["scale"] = scale(args.scale, scratch)
            print(json.dumps(result["scale"], indent=1), flush=True)
    result["python_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0 if result["soak"]["lost_certificates_outside_window"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
