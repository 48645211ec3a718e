"""Reading the rows of an export: CSV (header on line 1, UTF-8, Excel's BOM tolerated) or
JSONL (one object per line), and planning how they are read.

Rows come in one of two shapes:

* **plain**: columns named as the type's fields, plus ``validFrom``, ``validUntil``,
  ``reference`` and, for the GB/T 36904 identifier, ``serial`` and ``version``;
* **national** (GB/T 36903): columns named ZZMC, ZZLXDM, ZZBH, ZZBS, ZZBFJG, ZZBFJGDM, ZZBFRQ,
  CZZT, CZZTDM, CZZTDMLX, CZZTDMLXDM, ZZYXQQSRQ, ZZYXQJZRQ and ``KZ_*`` extensions (any case),
  mapped to the type's fields by the ``national`` mapping its schema declares
  (``ledger.gbt.metadata``). Detected when a column is a national name or a ``KZ_`` extension
  (or forced with ``national=True``); each row is then imported on its own, its problems
  reported as a bad row naming the columns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import InvalidInput
from ..gbt.identifier import IdentifierError, validate_issuer_code, validate_type_code
from ..gbt.metadata import EXTENSION_PREFIX, NAMES, NationalMapping
from ..schema import CertificateSchema

# columns of a plain export that are not fields of the type
META_COLUMNS = frozenset({"validFrom", "validUntil", "reference", "serial", "version"})
NATIONAL_EXTRA = frozenset({"REFERENCE"})  # a national export may carry the agency's own reference too


def is_national_column(name: str) -> bool:
    column = str(name).strip().upper()
    return column in NAMES or column.startswith(EXTENSION_PREFIX)


@dataclass(frozen=True)
class RowPlan:
    """How the rows of an export are read: plain or national, and the identifier's parts the
    whole issuance shares (type code and issuer code; None: no identifiers)."""

    national: NationalMapping | None
    type_code: str | None
    issuer_code: str | None


def plan_rows(
    rows: list[tuple[int, dict[str, Any]]],
    schema: CertificateSchema,
    *,
    national: bool | None = None,
    issuer_code: str | None = None,
    recorded_code: str | None = None,
) -> RowPlan:
    """Check the columns of ``rows`` against ``schema`` and decide how they are read.

    ``national``: None detects national columns, True requires the national shape, False the
    plain one. ``issuer_code`` (the agency's unified social credit code, GB 32100) turns on
    GB/T 36904 identifiers; a national export without it uses the ZZBFJGDM its rows agree on.
    Without either, ``recorded_code`` (the agency's code on the ledger) does, for a type that
    declares a national type code: every certificate of such an agency gets its identifier.
    Raises InvalidInput (one line) for a problem of the whole file."""
    if issuer_code is not None:
        try:
            validate_issuer_code(issuer_code.strip().upper())
        except IdentifierError as exc:
            raise InvalidInput(f"--issuer-code: {exc}") from None
        issuer_code = issuer_code.strip().upper()
    columns: dict[str, None] = {}
    for _, row in rows:  # JSONL rows may each have their own keys (a JSON object's keys are text)
        columns.update(dict.fromkeys(row))
    detected = any(is_national_column(c) for c in columns)
    use_national = detected if national is None else national
    mapping: NationalMapping | None = None
    if use_national:
        if "national" not in schema.raw:
            raise InvalidInput(
                f"type {schema.type} declares no national (GB/T 36903) mapping: its rows must be named by its fields "
                f"({', '.join(schema.field_names)})"
            )
        mapping = NationalMapping.from_schema(schema.raw)
        unknown = [
            c
            for c in columns
            if (not is_national_column(c) and c.strip().upper() not in NATIONAL_EXTRA)
            or (c.strip().upper().startswith(EXTENSION_PREFIX) and c.strip().upper() not in mapping.columns)
        ]
        if unknown:
            raise InvalidInput(
                f"column(s) {', '.join(unknown)} are not GB/T 36903 names or {schema.type}'s KZ_ extensions "
                f"({', '.join(c for c in mapping.columns if c.startswith(EXTENSION_PREFIX)) or 'none'})"
            )
        if issuer_code is None:
            codes = {
                str(row.get(k) or "").strip().upper() for _, row in rows for k in row if k.strip().upper() == "ZZBFJGDM"
            }
            codes.discard("")
            if len(codes) > 1:
                raise InvalidInput(
                    f"the rows name {len(codes)} different issuing agency codes (ZZBFJGDM): give the agency's "
                    "with --issuer-code"
                )
            if codes:
                try:
                    issuer_code = validate_issuer_code(codes.pop())
                except IdentifierError:
                    issuer_code = None  # every row then reports its ZZBFJGDM as bad
    else:
        unknown = schema.unknown_columns(list(columns), META_COLUMNS)
        if unknown:
            raise InvalidInput(
                f"unknown column(s) {', '.join(unknown)} for {schema.type}; expected {', '.join(schema.field_names)}"
            )
    type_code: str | None = None
    declared = schema.raw.get("national")
    if issuer_code is None and recorded_code is not None and isinstance(declared, dict) and declared.get("typeCode"):
        issuer_code = recorded_code
    if issuer_code is not None:
        raw = schema.raw.get("national")
        type_code = raw.get("typeCode") if isinstance(raw, dict) else None
        if not type_code:
            raise InvalidInput(
                f"type {schema.type} declares no national type code (national.typeCode): it cannot have "
                "GB/T 36904 identifiers; leave out --issuer-code"
            )
        try:
            validate_type_code(type_code)
        except IdentifierError as exc:
            raise InvalidInput(f"type {schema.type}: national.typeCode: {exc}") from None
    return RowPlan(mapping, type_code, issuer_code)


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
    # csv.reader and a dict per record, as csv.DictReader makes them (blank lines skipped, a
    # short record's missing columns None) without its Python-level step per record, and each
    # record's own first line (after a blank line too)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    try:
        header = next(reader, [])
        if not header:
            raise InvalidInput(f"{path.name}: empty file (no header line)")
        width = len(header)
        rows = []
        start = reader.line_num + 1  # the line a record starts on (a quoted value may span lines)
        for values in reader:
            if not values:  # a blank line: the next record starts after it
                start = reader.line_num + 1
                continue
            if len(values) > width:
                raise InvalidInput(f"{path.name} line {start}: more values than header columns")
            row = dict(zip(header, values, strict=False))  # a short record: checked below
            if len(values) < width:
                row.update(dict.fromkeys(header[len(values) :]))
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} line {start if header else 1}: {_csv_problem(exc, reader.line_num)}") from None
    return rows


def _csv_problem(exc: csv.Error, line: int) -> str:
    """What a CSV syntax error means, in words an export's author can act on."""
    text = str(exc)
    if "unexpected end of data" in text:
        return f"a quoted value is never closed (the file ends at line {line} inside quotes)"
    if "expected" in text and "after" in text and '"' in text:
        return 'text after a closing quote: a quote inside a quoted value is written twice ("")'
    return f"CSV syntax error: {text}"
