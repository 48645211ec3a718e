"""Where sealed documents live: the embedded store (a folder) or an IPFS node (``kubo``).

Both keep the same interface (``ContentStore``) and the same CIDs. ``cat`` always checks what
it returns against the CID it was asked for, so a damaged disk or a lying node yields an error,
never other bytes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from .cid import Cid
from .errors import ContentError, ContentNotFound
from .profile import MAX_CONTENT_SIZE
from .unixfs import import_bytes, read_dag, walk_blocks


@runtime_checkable
class ContentStore(Protocol):
    """A content-addressed store with the profile's CIDs."""

    def add(self, data: bytes) -> Cid:
        """Store ``data``; its CID."""
        ...

    def cat(self, cid: Cid | str) -> bytes:
        """The content under ``cid``, verified against it (``ContentTampered`` otherwise)."""
        ...

    def pin(self, cid: Cid | str) -> None:
        """Keep the content (a node's garbage collector spares it)."""
        ...

    def has(self, cid: Cid | str) -> bool:
        """Whether the store holds the content (every block)."""
        ...

    @property
    def location(self) -> str:
        """Where the store is, for messages (a folder, or a URL without credentials)."""
        ...


def as_cid(cid: Cid | str) -> Cid:
    return cid if isinstance(cid, Cid) else Cid.parse(cid)


class EmbeddedStore:
    """Blocks as files under ``root/blocks`` (named by CID, sharded like Kubo's flatfs by the
    next-to-last two characters); pins as empty files under ``root/pins``. Writes are atomic
    (temporary file, then rename), so a crash never leaves a half block under a CID's name."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.blocks_dir = self.root / "blocks"
        self.pins_dir = self.root / "pins"

    @property
    def location(self) -> str:
        return str(self.root)

    def block_path(self, cid: Cid) -> Path:
        text = str(cid)
        return self.blocks_dir / text[-3:-1] / text

    def _get(self, cid: Cid) -> bytes | None:
        try:
            return self.block_path(cid).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ContentError(f"cannot read block {cid} in {self.root}: {exc.strerror}") from None

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def add(self, data: bytes) -> Cid:
        if len(data) > MAX_CONTENT_SIZE:
            raise ContentError(f"content of {len(data):,} bytes is larger than {MAX_CONTENT_SIZE:,}")
        root, blocks = import_bytes(data)
        try:
            for cid, block in blocks.items():
                path = self.block_path(cid)
                existing = self._get(cid)
                if existing is None or not cid.matches(existing):  # a damaged copy is replaced
                    self._write(path, block)
        except OSError as exc:
            raise ContentError(f"cannot write to the content store {self.root}: {exc.strerror}") from None
        return root

    def cat(self, cid: Cid | str) -> bytes:
        c = as_cid(cid)
        if not self.block_path(c).exists():
            raise ContentNotFound(f"{c} is not in the content store {self.root}")
        return read_dag(c, self._get)

    def has(self, cid: Cid | str) -> bool:
        try:
            walk_blocks(as_cid(cid), self._get)
        except ContentError:
            return False
        return True

    def pin(self, cid: Cid | str) -> None:
        c = as_cid(cid)
        walk_blocks(c, self._get)  # raises if anything is missing or damaged
        try:
            self._write(self.pins_dir / str(c), b"")
        except OSError as exc:
            raise ContentError(f"cannot write to the content store {self.root}: {exc.strerror}") from None

    def pins(self) -> list[Cid]:
        if not self.pins_dir.is_dir():
            return []
        return sorted((Cid.parse(p.name) for p in self.pins_dir.iterdir() if not p.name.startswith(".")), key=str)
