"""Batch issuance: rows in (CSV or JSONL) -> certificate documents -> batches anchored on
chain -> one file per certificate (or one bundle), QR codes, a manifest.

Stages, each safe to interrupt:

1. **build** (parallel, one worker per CPU): validate rows against the type's schema, salt and
   hash every field, build each batch's Merkle tree, sign its root with the agency key, and
   stage the documents (with proofs and signature) under ``OUT/.certledger/``.
2. **journal**: record every batch root *before* anything is sent.
3. **anchor**: for each root not yet on chain, send ``anchorBatch`` (several transactions when
   one would exceed the block gas limit); record the transaction; wait for receipts.
4. **output**: write the certificate files or bundle, QR PNGs, ``index.csv`` and ``manifest.json``.

A re-run with the same input and output folder (after a crash or ``kill -9`` at any point)
reuses the staged documents — same salts, so the same roots — and anchors only roots the
chain does not have: every certificate is anchored exactly once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from eth_account.signers.local import LocalAccount

from . import qr as qrcodes
from .contracts import KeyState, Status
from .document import Anchor, Certificate, new_salts
from .errors import ContractRejected, InvalidInput, LedgerError
from .ids import CHINA_STANDARD_TIME, agency_id, type_id
from .merkle import build_tree
from .registry import Registry
from .schema import CertificateSchema, FieldError, canonical_date
from .signing import sign_batch

META_COLUMNS = frozenset({"validFrom", "validUntil", "reference"})
STATE_DIR = ".certledger"
JOURNAL = "journal.json"
DEFAULT_MAX_BATCH = 10_000
GAS_BASE = 150_000
GAS_PER_CERTIFICATE = 1_500  # measured ~1,320 (EIP-7623 calldata floor); margin for memory growth

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Tests set CERTLEDGER_CRASH_AT to kill -9 this very process at a named point of an issuance
# (journal-written, batch-sent, batch-anchored, output-written) and prove a re-run heals it.
_CRASH_AT = os.environ.get("CERTLEDGER_CRASH_AT", "")


def _crash_point(name: str) -> None:
    if _CRASH_AT == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class IssuanceRejected(LedgerError):
    """Rows failed validation and nothing was anchored."""

    code = "INVALID_ROWS"

    def __init__(self, bad_rows: list[BadRow], total: int) -> None:
        self.bad_rows = bad_rows
        super().__init__(
            f"{len(bad_rows)} of {total} rows are invalid; nothing was anchored "
            "(fix them, or --skip-invalid to anchor the valid rows)"
        )


@dataclass(frozen=True)
class BadRow:
    row: int
    reason: str


@dataclass
class IssueRequest:
    agency: str
    cert_type: str
    rows_path: Path
    out_dir: Path
    bundle: bool = False
    qr: bool = False
    qr_payload: str = "compact"  # or "full"
    skip_invalid: bool = False
    valid_from: str | None = None  # default: today
    valid_until: str | None = None  # default: open-ended
    max_batch: int = DEFAULT_MAX_BATCH
    workers: int = 0  # 0 = one per CPU


@dataclass
class BatchRecord:
    index: int
    root: str
    size: int
    part: str
    state: str = "planned"  # planned -> sent -> anchored
    tx: str | None = None
    block: int | None = None
    gas_used: int | None = None


@dataclass
class IssueResult:
    agency: str
    cert_type: str
    issued: int
    bad_rows: list[BadRow]
    batches: list[BatchRecord]
    out_dir: Path
    bundle: Path | None
    files: int
    qr_codes: int
    resumed: bool
    anchored_now: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def gas_per_certificate(self) -> float | None:
        gas = [b.gas_used for b in self.batches if b.gas_used]
        size = sum(b.size for b in self.batches if b.gas_used)
        return sum(gas) / size if gas and size else None

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "type": self.cert_type,
            "issued": self.issued,
            "bad_rows": [asdict(b) for b in self.bad_rows],
            "batches": [asdict(b) for b in self.batches],
            "out_dir": str(self.out_dir),
            "bundle": str(self.bundle) if self.bundle else None,
            "files": self.files,
            "qr_codes": self.qr_codes,
            "resumed": self.resumed,
            "anchored_now": self.anchored_now,
            "gas_per_certificate": self.gas_per_certificate,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


# ---------------------------------------------------------------------- reading rows


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs from a CSV (header line 1) or JSONL file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{path.name} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InvalidInput(f"{path.name} line {n}: expected a JSON object")
            rows.append((n, row))
        return rows
    if path.suffix.lower() != ".csv":
        raise InvalidInput(f"{path.name}: expected a .csv or .jsonl file")
    try:
        text = data.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}: not UTF-8 text (export the CSV as UTF-8)") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise InvalidInput(f"{path.name}: empty file (no header line)")
    rows = []
    for row in reader:
        if None in row:
            raise InvalidInput(f"{path.name} line {reader.line_num}: more values than header columns")
        rows.append((reader.line_num, row))
    return rows


# ---------------------------------------------------------------------- building (workers)


@dataclass
class _BuildContext:
    schema: CertificateSchema
    signer: LocalAccount
    chain_id: int
    registry: str
    agency: str
    cert_type: str
    region: int
    valid_from: str
    valid_until: str | None
    staging: Path


_CTX: _BuildContext | None = None  # set in the parent before forking the worker pool


def _build_certificate(ctx: _BuildContext, row: dict[str, Any]) -> Certificate:
    fields = ctx.schema.canonical_fields(row)
    valid_from = canonical_date(row["validFrom"]) if row.get("validFrom") else ctx.valid_from
    until = row.get("validUntil") or ctx.valid_until
    valid_until = canonical_date(until) if until else None
    if valid_until is not None and valid_until <= valid_from:
        raise FieldError(f"validUntil {valid_until} is not after validFrom {valid_from}")
    return Certificate(ctx.cert_type, ctx.agency, ctx.region, valid_from, valid_until, fields, new_salts(list(fields)))


@dataclass
class _Built:
    index: int
    root: str | None
    size: int
    part: str
    bad: list[BadRow]
    leaf_order: bytes = b""  # the batch's certificate hashes in leaf order, concatenated
    signature: bytes = b""


def _build_chunk(task: tuple[int, list[tuple[int, dict[str, Any]]]]) -> _Built:
    """Validate, hash, tree, sign and stage one batch (runs in a worker).

    Stages ``batch-N.jsonl`` (one document per line: the bundle format) and ``batch-N.index``
    (row, reference, hash per line), fsynced, before the parent journals the root.
    """
    index, rows = task
    ctx = _CTX
    assert ctx is not None
    bad: list[BadRow] = []
    built: list[tuple[int, str, Certificate, bytes]] = []
    for line, row in rows:
        try:
            cert = _build_certificate(ctx, row)
        except FieldError as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        h = cert.compute_hash()
        built.append((line, str(row.get("reference") or ""), cert, h))
    if not built:
        return _Built(index, None, 0, "", bad)
    tree = build_tree([h for *_, h in built])
    aid, tid = agency_id(ctx.agency), type_id(ctx.cert_type)
    signature = sign_batch(ctx.signer, tree.root, tid, aid, ctx.chain_id, ctx.registry)
    name = f"batch-{index:05d}"
    docs = bytearray()
    index_lines = io.StringIO()
    index_csv = csv.writer(index_lines)
    for line, reference, cert, h in built:
        anchor = Anchor(ctx.chain_id, ctx.registry, tree.root, tuple(tree.proof(h)), signature, ctx.signer.address)
        docs += orjson.dumps(replace(cert, anchor=anchor).to_json(h))
        docs += b"\n"
        index_csv.writerow([line, reference, "0x" + h.hex()])
    _write_durable(ctx.staging / f"{name}.index", index_lines.getvalue().encode())
    _write_durable(ctx.staging / f"{name}.jsonl", bytes(docs))
    return _Built(index, "0x" + tree.root.hex(), len(built), name, bad, b"".join(tree.cert_hashes), signature)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


# ---------------------------------------------------------------------- the journal


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Journal:
    path: Path
    identity: dict[str, Any]
    batches: list[BatchRecord]
    bad_rows: list[BadRow]
    complete: bool = False

    def save(self) -> None:
        _write_json_atomic(
            self.path,
            {
                "identity": self.identity,
                "batches": [asdict(b) for b in self.batches],
                "bad_rows": [asdict(b) for b in self.bad_rows],
                "complete": self.complete,
            },
        )

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            raise LedgerError(f"journal {path} is corrupt; it records what was anchored — inspect it before removing") from None
        return cls(
            path,
            data["identity"],
            [BatchRecord(**b) for b in data["batches"]],
            [BadRow(**b) for b in data["bad_rows"]],
            bool(data.get("complete")),
        )


# ---------------------------------------------------------------------- issuing


def _noop(stage: str, done: int, total: int) -> None:
    pass


def issue(
    registry: Registry,
    signer: LocalAccount,
    submitter: LocalAccount,
    request: IssueRequest,
    schema: CertificateSchema,
    progress: Progress = _noop,
) -> IssueResult:
    """Issue the rows of ``request.rows_path`` as certificates of ``request.agency``."""
    global _CTX
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out = Path(request.out_dir)
    state = out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    rows_bytes = Path(request.rows_path).read_bytes() if Path(request.rows_path).is_file() else None
    if rows_bytes is None:
        raise InvalidInput(f"no such file: {request.rows_path}")
    identity = {
        "input_sha256": hashlib.sha256(rows_bytes).hexdigest(),
        "agency": request.agency,
        "type": request.cert_type,
        "chain_id": registry.chain.chain_id,
        "registry": registry.deployment.certificate_registry,
        "signer": signer.address,
        "skip_invalid": request.skip_invalid,
        "valid_from": request.valid_from,
        "valid_until": request.valid_until,
        "max_batch": request.max_batch,
    }
    journal = Journal.load(state / JOURNAL)
    if journal is not None and journal.identity != identity:
        raise InvalidInput(
            f"{out} holds another issuance (different input or options); choose a new --out folder"
        )
    resumed = journal is not None
    if journal is not None and journal.complete:
        return _result(request, journal, out, resumed=True, anchored_now=0, timings=timings, outputs=_existing_outputs(out))

    agency = registry.agency(request.agency)
    if agency is None:
        raise InvalidInput(f"unknown agency {request.agency!r}")
    _preflight(registry, signer, request, agency.region)

    if journal is None:
        rows = read_rows(Path(request.rows_path))
        if not rows:
            raise InvalidInput(f"{Path(request.rows_path).name}: no rows")
        columns: dict[str, None] = {}
        for _, row in rows:  # JSONL rows may each have their own keys
            columns.update(dict.fromkeys(row))
        unknown = schema.unknown_columns(list(columns), META_COLUMNS)
        if unknown:
            raise InvalidInput(
                f"unknown column(s) {', '.join(unknown)} for {request.cert_type}; expected {', '.join(schema.field_names)}"
            )
        timings["read"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        max_batch = _max_batch(registry, request.max_batch)
        chunks = [(i, rows[s : s + max_batch]) for i, s in enumerate(range(0, len(rows), max_batch))]
        for leftover in state.glob("batch-*"):
            leftover.unlink()  # from a build that never reached the journal: nothing was anchored
        _CTX = _BuildContext(
            schema,
            signer,
            registry.chain.chain_id,
            registry.deployment.certificate_registry,
            request.agency,
            request.cert_type,
            agency.region,
            canonical_date(request.valid_from) if request.valid_from else datetime.now(CHINA_STANDARD_TIME).date().isoformat(),
            canonical_date(request.valid_until) if request.valid_until else None,
            state,
        )
        results: list[_Built] = []
        try:
            for res in _map(_build_chunk, chunks, request.workers):
                results.append(res)
                progress("build", sum(len(chunks[r.index][1]) for r in results), len(rows))
        finally:
            _CTX = None
        results.sort(key=lambda r: r.index)
        bad = sorted((b for r in results for b in r.bad), key=lambda b: b.row)
        if bad and not request.skip_invalid:
            for r in results:
                if r.part:
                    (state / f"{r.part}.jsonl").unlink(missing_ok=True)
                    (state / f"{r.part}.index").unlink(missing_ok=True)
            raise IssuanceRejected(bad, len(rows))
        batches = [BatchRecord(r.index, r.root, r.size, r.part) for r in results if r.root]
        if not batches:
            raise IssuanceRejected(bad, len(rows))
        staged = {r.part: (r.leaf_order, r.signature) for r in results if r.root}
        journal = Journal(state / JOURNAL, identity, batches, bad)
        journal.save()  # every root is on disk before the first transaction is sent
        _crash_point("journal-written")
        timings["build"] = time.perf_counter() - t1
    else:
        staged = {}

    t2 = time.perf_counter()
    anchored_now = _anchor_all(registry, submitter, journal, request, staged, progress)
    timings["anchor"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    outputs = _write_outputs(journal, request, state, progress)
    _crash_point("output-written")
    timings["output"] = time.perf_counter() - t3
    journal.complete = True
    journal.save()
    for b in journal.batches:
        (state / f"{b.part}.jsonl").unlink(missing_ok=True)
        (state / f"{b.part}.index").unlink(missing_ok=True)
    timings["total"] = time.perf_counter() - t0
    return _result(request, journal, out, resumed=resumed, anchored_now=anchored_now, timings=timings, outputs=outputs)


def _map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> Iterator[Any]:
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with multiprocessing.get_context("fork").Pool(min(n, len(items))) as pool:
        yield from pool.imap_unordered(fn, items)


def _max_batch(registry: Registry, requested: int) -> int:
    gas_limit = int(registry.chain.rpc(lambda: registry.chain.w3.eth.get_block("latest"))["gasLimit"])
    fits = (min(gas_limit, 2**24) - GAS_BASE) // GAS_PER_CERTIFICATE  # 2**24: EIP-7825 transaction cap
    if requested < 1:
        raise InvalidInput("--max-batch must be at least 1")
    return max(1, min(requested, fits))


def _preflight(registry: Registry, signer: LocalAccount, request: IssueRequest, region: int) -> None:
    """Check on chain what anchoring would check, so that nothing is built or sent in vain."""
    info = registry.key(signer.address)
    if info.agency != request.agency:
        raise InvalidInput(f"key {signer.address} is not a signing key of {request.agency}")
    if info.state is not KeyState.ACTIVE:
        raise InvalidInput(f"key {signer.address} of {request.agency} is {info.state.name.lower().replace('_', ' ')}")
    agency = registry.agency(request.agency)
    if agency is not None and agency.suspended:
        raise InvalidInput(f"agency {request.agency} is suspended")
    if agency is not None and not agency.enabled:
        raise InvalidInput(f"agency {request.agency} is disabled since its region was re-admitted: a region admin must reactivate it")
    if not info.enabled:
        raise InvalidInput(f"key {signer.address} of {request.agency} is disabled: a region admin must enable it again")
    if request.cert_type not in (agency.types if agency else []):
        raise InvalidInput(f"agency {request.agency} may not issue {request.cert_type}")
    if not registry.chain.call(registry.consortium.functions.isMember(region)):
        raise InvalidInput(f"region {region} of {request.agency} is not a consortium member")


def anchor_calldata(agency: bytes, cert_type: bytes, leaf_order: Sequence[bytes] | bytes, signature: bytes) -> bytes:
    """ABI encoding of ``anchorBatch(bytes32,bytes32,bytes32[],bytes)``, written out: eth-abi
    takes ~0.3 s for 10,000 hashes, this takes ~1 ms (tests compare both)."""
    hashes = leaf_order if isinstance(leaf_order, bytes) else b"".join(leaf_order)
    n = len(hashes) // 32
    sig_padded = signature + b"\0" * (-len(signature) % 32)
    return b"".join(
        (
            _ANCHOR_SELECTOR,
            agency,
            cert_type,
            (0x80).to_bytes(32, "big"),
            (0x80 + 32 + 32 * n).to_bytes(32, "big"),
            n.to_bytes(32, "big"),
            hashes,
            len(signature).to_bytes(32, "big"),
            sig_padded,
        )
    )


def _anchor_selector() -> bytes:
    from eth_utils import keccak

    return keccak(text="anchorBatch(bytes32,bytes32,bytes32[],bytes)")[:4]


_ANCHOR_SELECTOR = _anchor_selector()


def _find_anchor_tx(registry: Registry, agency: str, root: bytes) -> tuple[str | None, int | None]:
    """The transaction that anchored the agency's batch (its newest anchoring)."""
    event = registry.certificates.events.BatchAnchored()
    logs = registry.chain.rpc(
        lambda: event.get_logs(
            from_block=registry.deployment.deployment_block, argument_filters={"root": root, "agency": agency_id(agency)}
        )
    )
    if not logs:
        return None, None
    return "0x" + bytes(logs[-1]["transactionHash"]).hex(), int(logs[-1]["blockNumber"])


class BatchMismatch(LedgerError):
    """The chain holds this issuance's batch root for its agency, but not as this issuance anchors it."""

    code = "BATCH_MISMATCH"


def check_found_batch(registry: Registry, agency: str, cert_type: str, signer: str, root: bytes) -> bool:
    """Whether the agency's batch ``root`` is on chain as this issuance anchors it (True), or not
    on chain at all (False). Raises BatchMismatch when the chain has the root for the agency with
    another type or another key, or with a void anchoring: the documents written would not verify."""
    info = registry.batch(agency, root)
    if info is None:
        return False
    where = f"batch 0x{root.hex()} of {agency}"
    if info.cert_type != cert_type:
        raise BatchMismatch(f"{where} is on chain as type {info.cert_type}, not {cert_type}: its documents would not verify")
    if info.key.lower() != signer.lower():
        raise BatchMismatch(
            f"{where} is on chain signed by key {info.key}, not by this issuance's key {signer}: "
            "its documents would not verify"
        )
    void = registry.anchoring_void(agency, root)
    if void.value:
        raise BatchMismatch(f"{where} is on chain but void ({void.name.lower().replace('_', ' ')}): re-anchor it with a new key")
    return True


def _anchor_all(
    registry: Registry,
    submitter: LocalAccount,
    journal: Journal,
    request: IssueRequest,
    staged: dict[str, tuple[bytes, bytes]],
    progress: Progress,
) -> int:
    """Anchor every batch of the journal that the chain does not have yet; all transactions
    are sent first, then their receipts awaited. Returns how many were sent now."""
    chain = registry.chain
    aid, tid = agency_id(request.agency), type_id(request.cert_type)
    pending: list[BatchRecord] = []
    total = len(journal.batches)
    for record in journal.batches:
        if record.state == "anchored":
            continue
        root = bytes.fromhex(record.root[2:])
        # Anchored before a crash cut the journal short? Only if the chain has it exactly as this
        # issuance anchors it: same agency (the key of the lookup), type and signing key.
        if check_found_batch(registry, request.agency, request.cert_type, journal.identity["signer"], root):
            record.tx, record.block = _find_anchor_tx(registry, request.agency, root)
            record.state = "anchored"
            journal.save()
            continue
        leaf_order, signature = staged.get(record.part) or _staged_batch(journal.path.parent / f"{record.part}.jsonl")
        tx = {
            "to": registry.deployment.certificate_registry,
            "data": anchor_calldata(aid, tid, leaf_order, signature),
            "gas": GAS_BASE + GAS_PER_CERTIFICATE * record.size,
            "value": 0,
        }
        sent = chain.send_transaction(submitter, tx, wait=False)
        _crash_point("batch-sent")  # sent, not yet journaled as sent
        record.state, record.tx = "sent", sent.tx_hash
        journal.save()
        pending.append(record)
    done = total - len(pending)
    progress("anchor", done, total)
    for record in pending:
        receipt = chain.wait(bytes.fromhex(record.tx[2:]))  # type: ignore[index]
        if receipt["status"] != 1:
            try:
                tx_hash = record.tx
                chain.raise_for_failed(dict(chain.rpc(lambda: chain.w3.eth.get_transaction(tx_hash))), receipt)
            except ContractRejected:
                raise
            except LedgerError as exc:
                raise LedgerError(f"anchoring batch {record.root} failed: {exc}") from None
        record.state, record.block, record.gas_used = "anchored", int(receipt["blockNumber"]), int(receipt["gasUsed"])
        journal.save()
        _crash_point("batch-anchored")
        done += 1
        progress("anchor", done, total)
    return len(pending)


def _staged_batch(part: Path) -> tuple[bytes, bytes]:
    """A staged batch's certificate hashes in leaf order, and its signature (for a re-run)."""
    hashes = []
    signature = b""
    with open(part, "rb") as fh:
        for line in fh:
            doc = orjson.loads(line)
            hashes.append(bytes.fromhex(doc["hash"][2:]))
            signature = bytes.fromhex(doc["anchor"]["signature"][2:])
    return b"".join(build_tree(hashes).cert_hashes), signature


# ---------------------------------------------------------------------- outputs


@dataclass
class _Outputs:
    bundle: Path | None
    files: int
    qr_codes: int


def _existing_outputs(out: Path) -> _Outputs:
    bundle = out / "certificates.jsonl"
    files = len(list((out / "certificates").glob("*.json"))) if (out / "certificates").is_dir() else 0
    qr_codes = len(list((out / "qr").glob("*.png"))) if (out / "qr").is_dir() else 0
    return _Outputs(bundle if bundle.exists() else None, files, qr_codes)


def _file_stem(row: int, cert_hash: str) -> str:
    return f"row{row:07d}-{cert_hash[2:14]}"


def _staged_items(state: Path, part: str) -> Iterator[tuple[int, str, str, bytes]]:
    """(row, reference, hash, document line) of a staged batch."""
    with open(state / f"{part}.index", newline="", encoding="utf-8") as idx, open(state / f"{part}.jsonl", "rb") as docs:
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
            if qr_kind == "full":
                payload = qrcodes.full_payload(Certificate.from_json(doc)[0])
            else:
                payload = qrcodes.compact_payload(
                    bytes.fromhex(cert_hash[2:]), doc["type"], doc["issuer"]["region"], doc["issuer"]["agency"]
                )
            qrcodes.render_png(payload, out_dir / "qr" / f"{stem}.png")
            n_qr += 1
    return n_files, n_qr


def _write_outputs(journal: Journal, request: IssueRequest, state: Path, progress: Progress) -> _Outputs:
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
        for f, q in _map(_write_part_outputs, tasks, request.workers):
            n_files += f
            n_qr += q
            written += f or q
            progress("output", min(written, total), total)
    _write_index(journal, out, state, files, request.qr)
    _write_json_atomic(
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
    return _Outputs(bundle, n_files, n_qr)


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
                    writer.writerow([
                        row,
                        reference,
                        cert_hash,
                        b.root,
                        f"certificates/{stem}.json" if files else "",
                        f"qr/{stem}.png" if qr else "",
                    ])
    os.replace(tmp, out / "index.csv")


def _result(
    request: IssueRequest,
    journal: Journal,
    out: Path,
    *,
    resumed: bool,
    anchored_now: int,
    timings: dict[str, float],
    outputs: _Outputs,
) -> IssueResult:
    return IssueResult(
        request.agency,
        request.cert_type,
        sum(b.size for b in journal.batches),
        journal.bad_rows,
        journal.batches,
        out,
        outputs.bundle,
        outputs.files,
        outputs.qr_codes,
        resumed,
        anchored_now,
        timings,
    )


def load_bundle(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a bundle (``certificates.jsonl``)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def schema_for(registry: Registry, cert_type: str) -> CertificateSchema:
    """The type's schema as anchored on chain (the JSON in the CertificateTypeAdded event)."""
    for t in registry.types():
        if t.code == cert_type:
            if t.schema is None:
                raise InvalidInput(f"type {cert_type} has no schema on chain")
            return CertificateSchema.compile(t.schema)
    raise InvalidInput(f"unknown certificate type {cert_type!r}")


__all__ = [
    "BadRow",
    "IssuanceRejected",
    "IssueRequest",
    "IssueResult",
    "issue",
    "load_bundle",
    "read_rows",
    "schema_for",
]


# ---------------------------------------------------------------------- status changes


@dataclass
class StatusChange:
    subject: str  # certificate hash or batch root
    kind: str  # "certificate" or "batch"
    agency: str
    status: str
    reason: str
    tx: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def change_status(
    registry: Registry,
    actor: LocalAccount,
    status: Status,
    reason: str,
    *,
    cert_hash: bytes | None = None,
    agency: str | None = None,
    batch_root: bytes | None = None,
) -> StatusChange:
    """Suspend (SUSPENDED), reinstate (ACTIVE) or revoke (REVOKED) a certificate of ``agency``
    by hash, or a whole batch by root. ``actor`` is an active key of the agency or an admin of
    its region."""
    if (cert_hash is None) == (batch_root is None):
        raise InvalidInput("give a certificate hash or a batch root")
    if batch_root is not None:
        agency = agency or batch_agency(registry, batch_root)
        if registry.batch(agency, batch_root) is None:
            raise InvalidInput(f"{agency} anchored no batch with root 0x{batch_root.hex()}")
        sent = registry.set_batch_status(actor, agency, batch_root, status, reason)
        return StatusChange("0x" + batch_root.hex(), "batch", agency, status.name, reason, sent.tx_hash, sent.block_number)
    if not agency:
        raise InvalidInput("a certificate hash needs its agency (--agency), or give the certificate file")
    sent = registry.set_certificate_status(actor, agency, cert_hash, status, reason)  # type: ignore[arg-type]
    return StatusChange("0x" + cert_hash.hex(), "certificate", agency, status.name, reason, sent.tx_hash, sent.block_number)  # type: ignore[union-attr]


def batch_agency(registry: Registry, root: bytes) -> str:
    """The agency of a batch root, when exactly one agency anchored it."""
    agencies = registry.agencies_with_batch(root)
    if not agencies:
        raise InvalidInput(f"no batch with root 0x{root.hex()} on chain")
    if len(agencies) > 1:
        raise InvalidInput(f"several agencies anchored root 0x{root.hex()} ({', '.join(agencies)}): pass --agency")
    return agencies[0]


def load_document(path: Path) -> tuple[Certificate, bytes | None]:
    """A certificate document from a JSON file."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{Path(path).name}: not JSON ({exc.msg})") from None
    return Certificate.from_json(data)
