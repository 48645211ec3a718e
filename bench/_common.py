"""What every benchmark shares: its own anvil, a one-region deployment, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.bootstrap import default_schemas  # noqa: E402
from ledger.chain import Chain  # noqa: E402
from ledger.deployment import deploy  # noqa: E402
from ledger.ids import agency_id, type_id  # noqa: E402
from ledger.issuance import IssueRequest, anchor_calldata, issue, load_bundle, schema_for  # noqa: E402
from ledger.merkle import build_tree  # noqa: E402
from ledger.node import anvil_args, anvil_binary, wait_for_rpc  # noqa: E402
from ledger.registry import Registry  # noqa: E402
from ledger.samples import write_id_cards  # noqa: E402
from ledger.signing import BatchSigner  # noqa: E402

CHAIN_ID = 31337
REGION = 440000
AGENCY = "GD-PSB"
CERT_TYPE = "ID_CARD"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_version() -> str:
    try:
        out = subprocess.run([anvil_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_facts() -> dict[str, Any]:
    """The machine a figure was measured on: CPU model, cores, RAM, OS, Python."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except (OSError, ValueError):
        pass
    os_name = f"{platform.system()} {platform.release()}"
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        os_name = f"{release.get('PRETTY_NAME', '').strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": os_name,
        "arch": platform.machine(),
        "python": platform.python_version(),
    }


def machine() -> str:
    """The machine in one line (for messages)."""
    m = machine_facts()
    return f"{m['os']} {m['arch']}, {m['cores']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine skews a figure)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def git_commit() -> str:
    """The commit the benchmark ran on (with "+dirty" when the tree has uncommitted changes
    other than bench/results/)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # the benchmarks' own results aside: they change with every run
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def provenance() -> dict[str, Any]:
    """Where a figure comes from: the commit, the machine, when, the command, and the load on
    the machine as the benchmark started (every bench/results/*.json carries these)."""
    return {
        "commit": git_commit(),
        "machine": machine_facts(),
        "measured_at": now_iso(),
        "command": " ".join(["python", *[a if a else "''" for a in sys.argv]]),
        "load_average_at_start": load_average(),
    }


@contextlib.contextmanager
def anvil(extra_args: list[str] | None = None) -> Iterator[Chain]:
    """A private anvil for the benchmark, stopped afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="certledger-bench-") as tmp:
        log = Path(tmp) / "anvil.log"
        with log.open("ab") as fh:
            process = subprocess.Popen(
                anvil_args(port, CHAIN_ID, None) + (extra_args or []),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            yield wait_for_rpc(f"http://127.0.0.1:{port}", timeout=60, process=process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Setup:
    registry: Registry
    deployer: LocalAccount
    admin: LocalAccount
    key: LocalAccount
    signer: BatchSigner | None = None  # the key with its SM2 key (sm suite)

    @property
    def batch_signer(self) -> BatchSigner:
        return self.signer or BatchSigner(self.key)


def one_agency(chain: Chain, schema: dict[str, Any] | None = None, suite: str = "intl") -> Setup:
    """Deploy with one region (a majority of one: its own approval), one type, one agency with one key
    (in the sm suite: a key pair, its SM2 public key registered with it)."""
    deployer, admin, key = Account.create(), Account.create(), Account.create()
    registry = Registry(chain, deploy(chain, deployer, [(REGION, admin.address)], suite=suite))
    registry.propose_add_type(admin, CERT_TYPE, schema or {"fields": [{"name": "name", "kind": "text"}]})
    registry.register_agency(admin, AGENCY, REGION, [CERT_TYPE])
    signer = None
    if suite != "intl":
        from ledger.crypto.sm import SM2PrivateKey

        sm2 = SM2PrivateKey.generate()
        signer = BatchSigner(key, suite, sm2)
    registry.add_key(admin, AGENCY, key.address, sm2_public_key=signer.sm2.public_key if signer and signer.sm2 else b"")
    return Setup(registry, deployer, admin, key, signer)


@dataclass
class Issued:
    """An agency that issued ID cards through the pipeline: its deployment, the first documents
    of its bundle, and the home ``certledger serve`` reads (its deployment.json)."""

    setup: Setup
    docs: list[dict[str, Any]]
    home: Path


def issue_id_cards(chain: Chain, suite: str, folder: Path, documents: int = 2_000, keep: int = 200) -> Issued:
    """What the API benchmarks share: deploy in ``suite`` with the ID card schema (in the sm
    suite the agency has its credit code, as deployed: the documents carry e-licence
    identifiers), issue ``documents`` ID cards through the pipeline (signed, anchored, bundled),
    keep the first ``keep`` of them, and write the home ``certledger serve`` reads in
    ``folder``/home."""
    folder.mkdir(parents=True)
    setup = one_agency(chain, default_schemas()[CERT_TYPE], suite=suite)
    reg = setup.registry
    if suite == "sm":
        reg.set_agency_credit_code(setup.admin, AGENCY, "11440000MB0000001F")
    rows = write_id_cards(folder / "rows.csv", documents)
    issue(
        reg,
        setup.batch_signer,
        setup.deployer,
        IssueRequest(AGENCY, CERT_TYPE, rows, folder / "docs", bundle=True),
        schema_for(reg, CERT_TYPE),
    )
    docs = [d for _, d in zip(range(keep), load_bundle(folder / "docs" / "certificates.jsonl"), strict=False)]
    home = folder / "home"
    home.mkdir()
    reg.deployment.save(home / "deployment.json")
    return Issued(setup, docs, home)


def anchor_many(setup: Setup, total: int, batch: int, keep: list[bytes] | None = None) -> float:
    """Anchor ``total`` random certificate hashes in batches (fast path, no documents);
    returns seconds taken. ``keep`` collects a sample of the hashes (every 100th)."""
    chain, reg = setup.registry.chain, setup.registry
    aid, tid = agency_id(AGENCY), type_id(CERT_TYPE)
    started = time.perf_counter()
    sent = []
    for i in range(0, total, batch):
        n = min(batch, total - i)
        hashes = [os.urandom(32) for _ in range(n)]
        if keep is not None:
            keep.extend(hashes[::100])
        tree = build_tree(hashes)
        sig, _ = setup.batch_signer.sign(tree.root, tid, aid, chain.chain_id, reg.deployment.certificate_registry)
        tx = {
            "to": reg.deployment.certificate_registry,
            "data": anchor_calldata(aid, tid, tree.cert_hashes, sig),
            "gas": 150_000 + 1_500 * n,
            "value": 0,
        }
        sent.append(chain.send_transaction(setup.deployer, tx, wait=False).tx_hash)
    for h in sent:
        assert chain.wait(bytes.fromhex(h[2:]))["status"] == 1
    return time.perf_counter() - started


def pg_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database for a benchmark; returns (URL, drop)."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"certledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop
