"""What an issuance is made of: the request, the rows that failed, the batches and their
states, the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LedgerError

STATE_DIR = ".certledger"  # under the output folder: the journal and the staged batches
DEFAULT_MAX_BATCH = 10_000

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CrashHook = Callable[[str], None]  # called at each named point of an issuance (tests kill the process there)


def no_progress(stage: str, done: int, total: int) -> None:
    """Progress that nobody watches."""


def no_crash(point: str) -> None:
    """The crash hook of production: every crash point passes."""


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
    allow_expired: bool = False  # issue certificates whose validUntil has passed
    issuer_code: str | None = None  # the agency's credit code (GB 32100): turns on GB/T 36904 identifiers
    national: bool | None = None  # rows are GB/T 36903 exports: None detects, True/False forces


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
