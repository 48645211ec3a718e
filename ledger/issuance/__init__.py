"""Batch issuance: rows in (CSV or JSONL) -> certificate documents -> batches anchored on
chain -> one file per certificate (or one bundle), QR codes, a manifest.

Stages, each in a module of its own and each safe to interrupt:

1. **rows** (``rows``): read the export.
2. **build** (``build``, in worker processes, one per CPU): validate rows against the type's
   schema, salt and hash every field, build each batch's Merkle tree, sign its root with the
   agency key, and stage the documents (with proofs and signature) under ``OUT/.certledger/``.
   Meanwhile the parent appends each batch, in order, to ``index.csv.tmp`` and (``--bundle``)
   ``certificates.jsonl.tmp``: the output's copying overlaps the build.
3. **journal** (``journal``): record every batch root *before* anything is sent.
4. **anchor** (``anchor``): for each root the chain does not have, send ``anchorBatch`` (several
   transactions when one would exceed the block gas limit); record the transaction; wait for
   receipts. A root the chain has for this agency must have this issuance's type and key.
5. **output** (``outputs``): rename the bundle and ``index.csv`` into place (a re-run writes
   them from the staged documents), write the certificate files, QR PNGs and ``manifest.json``.

A re-run with the same input and output folder (after a crash or ``kill -9`` at any point)
reuses the staged documents — same salts, so the same roots — and anchors only roots the
chain does not have: every certificate is anchored exactly once. ``reanchor`` re-anchors an
issuance whose key was reported compromised.
"""

from .anchor import BatchMismatch, anchor_calldata, check_found_batch
from .model import (
    DEFAULT_MAX_BATCH,
    STATE_DIR,
    BadRow,
    BatchRecord,
    CrashHook,
    IssuanceRejected,
    IssueRequest,
    IssueResult,
    Progress,
)
from .outputs import load_bundle
from .pipeline import issue, schema_for
from .reanchor import ReanchorResult, reanchor
from .rows import read_rows

__all__ = [
    "DEFAULT_MAX_BATCH",
    "STATE_DIR",
    "BadRow",
    "BatchMismatch",
    "BatchRecord",
    "CrashHook",
    "IssuanceRejected",
    "IssueRequest",
    "IssueResult",
    "Progress",
    "ReanchorResult",
    "anchor_calldata",
    "check_found_batch",
    "issue",
    "load_bundle",
    "read_rows",
    "reanchor",
    "schema_for",
]
