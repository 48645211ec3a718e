"""Building batches, in worker processes: validate each row against the type's schema (a
national GB/T 36903 row through the type's national mapping first), give it its GB/T 36904
identifier, salt and hash every field (``certledger/2`` in the deployment's suite), build the
batch's Merkle tree, sign its root with the agency key, and stage the documents (with proofs
and signature) under the output folder."""

from __future__ import annotations

import csv
import gc
import io
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from eth_account.signers.local import LocalAccount

from ..document import Anchor, Certificate, new_salts
from ..files import write_durable
from ..gbt.identifier import ROOT, SEGMENTS, mod37_36_finish, mod37_36_state
from ..gbt.metadata import CITIZEN_ID, NationalMapping, NationalRowError, import_row, label
from ..ids import agency_id, type_id
from ..merkle import build_tree
from ..schema import CertificateSchema, FieldError, canonical_date
from ..signing import BatchSigner, as_batch_signer
from ..suites import INTL
from .model import BadRow


@dataclass
class BuildContext:
    schema: CertificateSchema
    signer: LocalAccount | BatchSigner  # a BatchSigner carries the SM2 key (sm suite)
    chain_id: int
    registry: str
    agency: str
    cert_type: str
    region: int
    valid_from: str
    valid_until: str | None
    staging: Path
    today: str = ""  # YYYY-MM-DD in China Standard Time: a validUntil before it has passed
    allow_expired: bool = False
    suite: str = INTL  # the deployment's: the hash of certledger/2 documents
    national: NationalMapping | None = None  # rows are GB/T 36903 exports, mapped by this
    type_code: str | None = None  # GB/T 36904 identifiers: the type's national type code ...
    issuer_code: str | None = None  # ... and the agency's credit code (None: no identifiers)
    serial_prefix: str = ""  # generated serials: this (from the input's hash) + the row number
    files: bool = False  # index.csv lists each certificate's own file ...
    qr: bool = False  # ... and its QR image
    _prefix_state: int = 0  # MOD 37,36 state after type code + issuer code (0: not computed; states are 1-36)


INDEX_HEADER = ("row", "reference", "hash", "root", "file", "qr")  # index.csv's columns


def file_stem(row: int, cert_hash: str) -> str:
    """The name of a certificate's own file and QR image, without the extension."""
    return f"row{row:07d}-{cert_hash[2:14]}"


def index_row(row: int | str, reference: str, cert_hash: str, root: str, files: bool, qr: bool) -> list[Any]:
    """A certificate's line of index.csv (INDEX_HEADER)."""
    stem = file_stem(int(row), cert_hash)
    return [
        row,
        reference,
        cert_hash,
        root,
        f"certificates/{stem}.json" if files else "",
        f"qr/{stem}.png" if qr else "",
    ]


def _serial_of(ctx: BuildContext, line: int, given: Any, source: str) -> str:
    if given is None or (isinstance(given, str) and not given.strip()):
        return f"{ctx.serial_prefix}{line:07d}"
    serial = str(given).strip()
    if not _SERIAL.fullmatch(serial):
        raise FieldError(
            f"{source} {serial!r} cannot be the identifier's {SEGMENTS['serial']}: GB/T 36904 allows "
            "1-32 digits and upper-case letters A-Z (give a serial column, or leave it empty to have one generated)"
        )
    return serial


def _identifier(ctx: BuildContext, line: int, serial: Any, version: Any, source: str) -> str | None:
    """The row's GB/T 36904 identifier (the type and issuer codes were checked once, by the plan)."""
    if ctx.issuer_code is None or ctx.type_code is None:
        return None
    text = str(version).strip() if version is not None and str(version).strip() else "001"
    if not _VERSION.fullmatch(text):
        raise FieldError(f"identifier: {SEGMENTS['version']} {text!r}: expected 3 digits 001-999, e.g. 001")
    serial_text = _serial_of(ctx, line, serial, source)
    if ctx._prefix_state == 0:  # MOD 37,36 runs left to right: the codes' state is computed once
        ctx._prefix_state = mod37_36_state(ctx.type_code + ctx.issuer_code)
    check = mod37_36_finish(mod37_36_state(serial_text + text, ctx._prefix_state))
    return f"{ROOT}.{ctx.type_code}.{ctx.issuer_code}.{serial_text}.{text}.{check}"


_SERIAL = re.compile(r"^[0-9A-Z]{1,32}$")
_VERSION = re.compile(r"^(?!000)[0-9]{3}$")
_CTX: BuildContext | None = None  # each worker's, set by its pool initializer


def _init_worker(ctx: BuildContext) -> None:
    global _CTX
    _CTX = ctx


def _national(ctx: BuildContext, mapping: NationalMapping, line: int, row: dict[str, Any]) -> Certificate:
    """A certificate from a GB/T 36903 row: the mapped fields, its validity dates and identifier."""
    cells = {str(k).strip().upper(): v for k, v in row.items() if str(k).strip().upper() != "REFERENCE"}
    try:
        record = import_row(cells, mapping, ctx.schema, strict=True, row_number=line)
    except NationalRowError as exc:
        raise FieldError("; ".join(exc.problems)) from None
    if ctx.issuer_code is not None and record.issuer_code != ctx.issuer_code:
        raise FieldError(
            f"{label('ZZBFJGDM')}: {record.issuer_code} is not the issuing agency's code {ctx.issuer_code}"
        )
    identifier: str | None
    if record.identifier is not None:
        if ctx.issuer_code is None:
            raise FieldError(f"{label('ZZBS')}: an identifier needs the agency's credit code (--issuer-code)")
        identifier = record.identifier.format()
    else:
        # ZZBH is the serial, unless it is the holder's citizen number: the identifier is always
        # disclosed, and a citizen number in it would defeat selective disclosure
        number_field = mapping.columns.get("ZZBH")
        personal = mapping.holder_code_type == CITIZEN_ID and number_field == mapping.columns.get("CZZTDM")
        identifier = _identifier(ctx, line, None if personal else record.number, None, label("ZZBH"))
    return _certificate(ctx, dict(record.fields), record.valid_from, record.valid_until, identifier)


def _build_certificate(ctx: BuildContext, row: dict[str, Any], line: int = 0) -> Certificate:
    if ctx.national is not None:
        return _national(ctx, ctx.national, line, row)
    fields = ctx.schema.canonical_fields(row)
    valid_from = canonical_date(row["validFrom"]) if row.get("validFrom") else ctx.valid_from
    until = row.get("validUntil") or ctx.valid_until
    valid_until = canonical_date(until) if until else None
    identifier = _identifier(ctx, line, row.get("serial"), row.get("version"), "serial")
    return _certificate(ctx, fields, valid_from, valid_until, identifier)


def _certificate(
    ctx: BuildContext, fields: dict[str, str], valid_from: str, valid_until: str | None, identifier: str | None
) -> Certificate:
    if valid_until is not None and valid_until <= valid_from:
        raise FieldError(f"validUntil {valid_until} is not after validFrom {valid_from}")
    if valid_until is not None and valid_until < ctx.today and not ctx.allow_expired:
        raise FieldError(
            f"validUntil {valid_until} has passed: the certificate would verify EXPIRED "
            "(issue it anyway with --allow-expired)"
        )
    return Certificate(
        ctx.cert_type,
        ctx.agency,
        ctx.region,
        valid_from,
        valid_until,
        fields,
        new_salts(list(fields)),
        version=2,
        suite=ctx.suite,
        identifier=identifier,
    )


@dataclass
class Built:
    index: int
    root: str | None
    size: int
    part: str
    bad: list[BadRow]
    leaf_order: bytes = b""  # the batch's certificate hashes in leaf order, concatenated
    signature: bytes = b""  # what anchorBatch takes: EIP-712, then SM2 in the sm suite
    tags: bytes = b""  # identifier tags in leaf order, 16 bytes each (empty: none)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cycle collector paused while a batch's tens of thousands of acyclic objects (rows,
    certificates, documents) are made: reference counting frees them all, and the collector's
    passes over the growing heap took a sixth of the build."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _build_chunk(task: tuple[int, list[tuple[int, dict[str, Any]]]]) -> Built:
    """Validate, hash, tree, sign and stage one batch (runs in a worker).

    Stages ``batch-N.jsonl`` (one document per line: the bundle format) and ``batch-N.index``
    (its lines of index.csv: row, reference, hash, root, file, QR), fsynced, before the parent
    journals the root.
    """
    index, rows = task
    ctx = _CTX
    assert ctx is not None
    bad: list[BadRow] = []
    built: list[tuple[int, str, Certificate, bytes]] = []
    for line, row in rows:
        try:
            cert = _build_certificate(ctx, row, line)
        except FieldError as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        h = cert.compute_hash()
        built.append((line, str(row.get("reference") or ""), cert, h))
    if not built:
        return Built(index, None, 0, "", bad)
    tree = build_tree([h for *_, h in built])
    aid, tid = agency_id(ctx.agency), type_id(ctx.cert_type)
    signer = as_batch_signer(ctx.signer)
    by_hash = {h: cert for _, _, cert, h in built}
    tags = signer.tags([getattr(by_hash[h], "identifier", None) for h in tree.cert_hashes])
    signatures, sm2_signature = signer.sign(tree.root, tid, aid, ctx.chain_id, ctx.registry, tags)
    signature = signatures[:65]
    name = f"batch-{index:05d}"
    docs = bytearray()
    index_lines = io.StringIO()
    index_csv = csv.writer(index_lines)
    # Every document's anchor is the batch's but for its proof: the rest is rendered once, and
    # each tree node's hex once (upper nodes sit in thousands of proofs). The same JSON as
    # replace(cert, anchor=Anchor(..., proof)).to_json(h), whose last key the anchor is.
    template = Anchor(
        ctx.chain_id, ctx.registry, tree.root, (), signature, signer.address, sm2_signature=sm2_signature
    ).to_json()
    node_hex: dict[bytes, str] = {}
    root = "0x" + tree.root.hex()
    for line, reference, cert, h in built:
        doc = cert.to_json(h)
        anchor = dict(template)
        anchor["proof"] = [node_hex.get(p) or node_hex.setdefault(p, "0x" + p.hex()) for p in tree.proof(h)]
        doc["anchor"] = anchor
        docs += orjson.dumps(doc)
        docs += b"\n"
        index_csv.writerow(index_row(line, reference, "0x" + h.hex(), root, ctx.files, ctx.qr))
    write_durable(ctx.staging / f"{name}.index", index_lines.getvalue().encode())
    if tags:
        write_durable(ctx.staging / f"{name}.tags", b"".join(tags))
    write_durable(ctx.staging / f"{name}.jsonl", bytes(docs))
    return Built(index, root, len(built), name, bad, b"".join(tree.cert_hashes), signatures, b"".join(tags))


_CHUNKS: Sequence[tuple[int, list[tuple[int, dict[str, Any]]]]] = ()  # the rows, inherited by forked workers


def _build_chunk_at(i: int) -> Built:
    with paused_gc():
        return _build_chunk(_CHUNKS[i])


def build_batches(
    ctx: BuildContext, chunks: Sequence[tuple[int, list[tuple[int, dict[str, Any]]]]], workers: int
) -> Iterator[Built]:
    """Build every chunk, in ``workers`` processes (0: one per CPU); results come as they finish.
    The workers are forked after the rows were read and find them in memory: only a chunk's
    number goes to a worker, never its rows (pickling them cost the parent a tenth of the build)."""
    global _CHUNKS
    _CHUNKS = chunks
    try:
        yield from run_parallel(_build_chunk_at, range(len(chunks)), workers, _init_worker, (ctx,))
    finally:
        _CHUNKS = ()


def run_parallel(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Any]:
    """``fn`` over ``items`` in a pool of forked workers (in this process when one suffices)."""
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(items) <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    with multiprocessing.get_context("fork").Pool(min(n, len(items)), initializer, initargs) as pool:
        yield from pool.imap_unordered(fn, items)
