"""Reading the rows of an export: CSV (header on line 1, UTF-8, Excel's BOM tolerated) or
JSONL (one object per line)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from ..errors import InvalidInput

META_COLUMNS = frozenset({"validFrom", "validUntil", "reference"})  # columns that are not fields of the type


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
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        if not reader.fieldnames:
            raise InvalidInput(f"{path.name}: empty file (no header line)")
        rows = []
        start = reader.line_num + 1  # the line a record starts on (a quoted value may span lines)
        for row in reader:
            if None in row:
                raise InvalidInput(f"{path.name} line {start}: more values than header columns")
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(
            f"{path.name} line {start if reader.fieldnames else 1}: {_csv_problem(exc, reader.line_num)}"
        ) from None
    return rows


def _csv_problem(exc: csv.Error, line: int) -> str:
    """What a CSV syntax error means, in words an export's author can act on."""
    text = str(exc)
    if "unexpected end of data" in text:
        return f"a quoted value is never closed (the file ends at line {line} inside quotes)"
    if "expected" in text and "after" in text and '"' in text:
        return 'text after a closing quote: a quote inside a quoted value is written twice ("")'
    return f"CSV syntax error: {text}"
