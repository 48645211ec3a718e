"""The journal: every batch root is recorded, durably, before anything is sent, and every
transaction as it is sent and mined, so that a re-run after a crash anchors each root once."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import LedgerError
from .model import BadRow, BatchRecord

JOURNAL = "journal.json"


def write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())

def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)

@dataclass
class Journal:
    path: Path
    identity: dict[str, Any]
    batches: list[BatchRecord]
    bad_rows: list[BadRow]
    complete: bool = False

    def save(self) -> None:
        write_json_atomic(
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
