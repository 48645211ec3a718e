"""Files that survive a crash: written whole or not at all, and on disk before anyone relies on
them. One implementation for the issuance journal and its staged batches, the embedded chain's
state generations and the keystore."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


def fsync_dir(directory: Path) -> None:
    """Make a rename (or a new file) in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (a new file nobody reads before this returns)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old or the new file, after any
    crash: a temporary file beside it, fsynced, renamed over it, the directory fsynced.
    ``mode``: the new file's permissions (e.g. 0o600 for secrets), set before any byte is written."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomically(path: Path, data: Any) -> None:
    """``write_atomically`` of ``data`` as indented JSON."""
    write_atomically(path, orjson.dumps(data, option=orjson.OPT_INDENT_2))
