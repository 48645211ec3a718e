"""The journal: every batch root is recorded, durably, before anything is sent, and every
transaction as it is sent and mined, so that a re-run after a crash anchors each root once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import LedgerError
from ..files import write_json_atomically
from .model import BadRow, BatchRecord

JOURNAL = "journal.json"


@dataclass
class Journal:
    path: Path
    identity: dict[str, Any]
    batches: list[BatchRecord]
    bad_rows: list[BadRow]
    complete: bool = False

    def save(self) -> None:
        write_json_atomically(
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
            raise LedgerError(
                f"journal {path} is corrupt; it records what was anchored — inspect it before removing"
            ) from None
        return cls(
            path,
            data["identity"],
            [BatchRecord(**b) for b in data["batches"]],
            [BadRow(**b) for b in data["bad_rows"]],
            bool(data.get("complete")),
        )
