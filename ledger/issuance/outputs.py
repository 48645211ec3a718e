"""Writing what an issuance gives the agency: the documents (one file each, or one JSONL
bundle), QR codes, ``index.csv`` and ``manifest.json``."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from .. import qr as qrcodes
from ..document import Certificate
from ..files import write_json_atomically
from .build import run_parallel
from .journal import Journal
from .model import IssueRequest, Progress


@dataclass
class Outputs:
    bundle: Path | None
    files: int
    qr_codes: int


def existing_outputs(out: Path) -> Outputs:
    bundle = out / "certificates.jsonl"
    files = len(list((out / "certificates").glob("*.json"))) if (out / "certificates").is_dir() else 0
    qr_codes = len(list((out / "qr").glob("*.png"))) if (out / "qr").is_dir() else 0
    return Outputs(bundle if bundle.exists() else None, files, qr_codes)


def _file_stem(row: int, cert_hash: str) -> str:
    return f"row{row:07d}-{cert_hash[2:14]}"


def _staged_items(state: Path, part: str) -> Iterator[tuple[int, str, str, bytes]]:
    """(row, reference, hash, document line) of a staged batch."""
    with (
        open(state / f"{part}.index", newline="", encoding="utf-8") as idx,
        open(state / f"{part}.jsonl", "rb") as docs,
    ):
        for (row, reference, cert_hash), line in zip(csv.reader(idx), docs, strict=True):
            yield int(row), reference, cert_hash, line


OUTPUT_SLICE = 1_000  # certificates per output task, so that both cores render QR codes


def _write_part_outputs(task: tuple[str, str, int, str, bool, bool, str]) -> tuple[int, int]:
    """Write one slice of a staged batch's per-certificate files and/or QR codes (in a worker)."""
    state, part, start, out, files, qr, qr_kind = task
    out_dir = Path(out)
    n_files = n_qr = 0
    items = _staged_items(Path(state), part)
    for i, (row, _, cert_hash, line) in enumerate(items):
        if i < start:
            continue
        if i >= start + OUTPUT_SLICE:
            break
        stem = _file_stem(row, cert_hash)
        doc = orjson.loads(line)
        if files:
            (out_dir / "certificates" / f"{stem}.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            n_files += 1
        if qr:
            cert = Certificate.from_json(doc)[0]
            if qr_kind == "full":
                payload = qrcodes.full_payload(cert)
            else:  # CLC3 for certledger/2 (CLC2 for a re-run of an issuance staged as certledger/1)
                payload = qrcodes.compact_for(cert, bytes.fromhex(cert_hash[2:]))
            qrcodes.render_png(payload, out_dir / "qr" / f"{stem}.png")
            n_qr += 1
    return n_files, n_qr


def write_outputs(journal: Journal, request: IssueRequest, state: Path, progress: Progress) -> Outputs:
    out = Path(request.out_dir)
    total = sum(b.size for b in journal.batches)
    bundle = None
    if request.bundle:
        bundle = out / "certificates.jsonl"
        tmp = bundle.with_suffix(".jsonl.tmp")
        with open(tmp, "wb") as dst:
            for b in journal.batches:  # staged parts are already in bundle format
                with open(state / f"{b.part}.jsonl", "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, bundle)
    files = not request.bundle
    if files:
        (out / "certificates").mkdir(parents=True, exist_ok=True)
    if request.qr:
        (out / "qr").mkdir(parents=True, exist_ok=True)
    n_files = n_qr = 0
    if files or request.qr:
        tasks = [
            (str(state), b.part, start, str(out), files, request.qr, request.qr_payload)
            for b in journal.batches
            for start in range(0, b.size, OUTPUT_SLICE)
        ]
        written = 0
        for f, q in run_parallel(_write_part_outputs, tasks, request.workers):
            n_files += f
            n_qr += q
            written += f or q
            progress("output", min(written, total), total)
    _write_index(journal, out, state, files, request.qr)
    write_json_atomically(
        out / "manifest.json",
        {
            "agency": request.agency,
            "type": request.cert_type,
            "chain_id": journal.identity["chain_id"],
            "registry": journal.identity["registry"],
            "signer": journal.identity["signer"],
            "issued": total,
            "batches": [asdict(b) for b in journal.batches],
            "bad_rows": [asdict(b) for b in journal.bad_rows],
            "bundle": bundle.name if bundle else None,
            "certificates_dir": "certificates" if files else None,
            "qr_dir": "qr" if request.qr else None,
            "qr_payload": request.qr_payload if request.qr else None,
            "index": "index.csv",
        },
    )
    return Outputs(bundle, n_files, n_qr)


def _write_index(journal: Journal, out: Path, state: Path, files: bool, qr: bool) -> None:
    """index.csv: row, reference, certificate hash, batch root, file, QR file."""
    tmp = out / "index.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "reference", "hash", "root", "file", "qr"])
        for b in journal.batches:
            with open(state / f"{b.part}.index", newline="", encoding="utf-8") as idx:
                for row, reference, cert_hash in csv.reader(idx):
                    stem = _file_stem(int(row), cert_hash)
                    writer.writerow(
                        [
                            row,
                            reference,
                            cert_hash,
                            b.root,
                            f"certificates/{stem}.json" if files else "",
                            f"qr/{stem}.png" if qr else "",
                        ]
                    )
    os.replace(tmp, out / "index.csv")


def load_bundle(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a bundle (``certificates.jsonl``)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
