"""Writing what an issuance gives the agency: the documents (one file each, or one JSONL
bundle), QR codes, ``index.csv`` and ``manifest.json``."""

from __future__ import annotations

import csv
import io
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
from .build import INDEX_HEADER, file_stem, index_row, run_parallel
from .journal import Journal
from .model import IssueRequest, Progress

BUNDLE = "certificates.jsonl"
INDEX = "index.csv"


@dataclass
class Outputs:
    bundle: Path | None
    files: int
    qr_codes: int


def existing_outputs(out: Path) -> Outputs:
    bundle = out / BUNDLE
    files = len(list((out / "certificates").glob("*.json"))) if (out / "certificates").is_dir() else 0
    qr_codes = len(list((out / "qr").glob("*.png"))) if (out / "qr").is_dir() else 0
    return Outputs(bundle if bundle.exists() else None, files, qr_codes)


def _staged_items(state: Path, part: str) -> Iterator[tuple[int, str, str, bytes]]:
    """(row, reference, hash, document line) of a staged batch."""
    with (
        open(state / f"{part}.index", newline="", encoding="utf-8") as idx,
        open(state / f"{part}.jsonl", "rb") as docs,
    ):
        for (row, reference, cert_hash, *_), line in zip(csv.reader(idx), docs, strict=True):
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
        stem = file_stem(row, cert_hash)
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


@dataclass
class Assembled:
    """index.csv, and the bundle when one is asked for, put together while the batches were built."""

    index: Path
    bundle: Path | None


class OutputAssembly:
    """index.csv and the bundle, put together while the batches are built: each batch's
    staged lines (already in their final format) are appended as soon as it and every batch
    before it are built, so that the copying overlaps the build instead of following the
    anchoring. The files stay ``*.tmp`` until the batches are anchored (``write_outputs``
    renames them); a crash before leaves only those, and a re-run writes them again from the
    staged parts."""

    def __init__(self, out: Path, state: Path, bundle: bool) -> None:
        self.state = state
        self.index_path = out / (INDEX + ".tmp")
        self.bundle_path = out / (BUNDLE + ".tmp") if bundle else None
        header = io.StringIO()
        csv.writer(header).writerow(INDEX_HEADER)
        self._index = open(self.index_path, "wb")  # noqa: SIM115  # closed by finish() or discard()
        self._index.write(header.getvalue().encode())
        self._bundle = open(self.bundle_path, "wb") if self.bundle_path else None  # noqa: SIM115
        self._ready: dict[int, str | None] = {}  # built batches not yet appended: index -> part (None: empty)
        self._next = 0

    def add(self, index: int, part: str | None) -> None:
        """Batch ``index`` is built (``part``: its staged name; None when none of its rows was good)."""
        self._ready[index] = part
        while self._next in self._ready:
            name = self._ready.pop(self._next)
            if name:
                for suffix, dst in ((".index", self._index), (".jsonl", self._bundle)):
                    if dst is not None:
                        with open(self.state / f"{name}{suffix}", "rb") as src:
                            shutil.copyfileobj(src, dst, 1 << 20)
            self._next += 1

    def finish(self, batches: int) -> Assembled:
        """The assembled files, the bundle made durable; all ``batches`` batches must be in them."""
        if self._ready or self._next != batches:
            raise AssertionError(f"outputs assembled from {self._next} of {batches} batches")
        self._index.close()
        if self._bundle is not None:
            self._bundle.flush()
            os.fsync(self._bundle.fileno())
            self._bundle.close()
        return Assembled(self.index_path, self.bundle_path)

    def discard(self) -> None:
        for f, path in ((self._index, self.index_path), (self._bundle, self.bundle_path)):
            if f is not None and path is not None:
                f.close()
                path.unlink(missing_ok=True)


def write_outputs(
    journal: Journal, request: IssueRequest, state: Path, progress: Progress, assembled: Assembled | None = None
) -> Outputs:
    """The agency's outputs of an anchored issuance. ``assembled``: index.csv and the bundle
    put together while the batches were built (``OutputAssembly``); else (a re-run, whose output
    options may differ) they are written from the staged parts."""
    out = Path(request.out_dir)
    total = sum(b.size for b in journal.batches)
    if assembled is None:  # what a crashed run put together is not this run's
        (out / (BUNDLE + ".tmp")).unlink(missing_ok=True)
    bundle = None
    if request.bundle:
        bundle = out / BUNDLE
        if assembled is not None and assembled.bundle is not None:
            os.replace(assembled.bundle, bundle)
        else:
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
    if assembled is not None:
        os.replace(assembled.index, out / INDEX)
    else:
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
    """index.csv from the staged parts (a re-run: each line's file and QR columns as this run
    writes them)."""
    tmp = out / (INDEX + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(INDEX_HEADER)
        for b in journal.batches:
            with open(state / f"{b.part}.index", newline="", encoding="utf-8") as idx:
                for row, reference, cert_hash, *_ in csv.reader(idx):
                    writer.writerow(index_row(row, reference, cert_hash, b.root, files, qr))
    os.replace(tmp, out / INDEX)


def load_bundle(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a bundle (``certificates.jsonl``)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
