"""Sealed documents in IPFS: publish (seal, store, pin, hand out a retrieval code) and fetch."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.errors import InvalidInput

from .common import JsonOpt, ctx_of, emit, err_console

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.content import ContentStore

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="Embedded content store folder (default: env CERTLEDGER_CONTENT_DIR or <home>/content)."
    ),
]
IpfsOpt = Annotated[
    str | None,
    typer.Option("--ipfs", help="RPC API of an IPFS node, e.g. http://127.0.0.1:5001 (env CERTLEDGER_IPFS_URL)."),
]


def content_store(settings: Settings, store: Path | None, ipfs: str | None) -> ContentStore:
    from ledger.content import store_for

    if store is not None and ipfs is not None:
        raise InvalidInput("give --store or --ipfs, not both")
    if store is None and ipfs is None and settings.ipfs_url:
        ipfs = settings.ipfs_url
    folder = store or settings.content_store_dir
    return store_for(store_dir=None if ipfs else str(folder), ipfs_url=ipfs, timeout=settings.ipfs_timeout)


def _document_suite(path: Path) -> tuple[bytes, str]:
    """The file's bytes and its suite, after checking it is a certificate document."""
    import orjson

    from ledger.document import Certificate

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        cert, _ = Certificate.from_json(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}: not a certificate document (not JSON: {exc.msg})") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{path.name}: not a certificate document ({exc})") from None
    return data, cert.suite


def publish_cmd(
    ctx: typer.Context,
    documents: Annotated[list[Path], typer.Argument(help="Certificate documents (JSON files written by `issue`).")],
    store: StoreOpt = None,
    ipfs: IpfsOpt = None,
    codes: Annotated[
        Path | None,
        typer.Option(help="Write the retrieval codes here (one `CODE<TAB>file` line each) instead of printing them."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal documents and publish them to IPFS (or the embedded store): one retrieval code each.

    Each document is sealed under a fresh key of its own (AES-256-GCM; SM4-GCM for an sm
    document), stored and pinned; its code (CLR1:...) holds the CID and the key: whoever has
    it can read the document, nobody else."""
    from ledger.content import publish_document

    settings = ctx_of(ctx).settings
    loaded = [(path, *_document_suite(path)) for path in documents]  # every file checked before any is published
    target = content_store(settings, store, ipfs)
    published: list[dict[str, Any]] = []
    for path, data, suite in loaded:
        code = publish_document(target, data, suite)
        published.append({"file": str(path), "cid": str(code.cid), "suite": suite, "code": str(code)})
    if codes is not None:
        fd = os.open(codes, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the codes are keys
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{p['code']}\t{p['file']}\n" for p in published)

    def show(d: dict[str, Any]) -> None:
        for p in d["documents"]:
            if codes is None:
                sys.stdout.write(f"{p['file']}\t{p['code']}\n")  # plain: rich would turn the tab into spaces
            else:
                err_console.print(f"{p['file']}: {p['cid']}", markup=False, highlight=False)
        where = f"; codes in {codes}" if codes is not None else ""
        err_console.print(
            f"published {len(d['documents'])} sealed document(s) to {d['store']}{where}", markup=False, highlight=False
        )

    result: dict[str, Any] = {"store": target.location, "documents": published}
    if codes is not None:
        result["codes_file"] = str(codes)
        for p in published:
            del p["code"]
    emit(result, as_json, show)


def fetch_cmd(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="A retrieval code (CLR1:...), as `publish` gave it.")],
    store: StoreOpt = None,
    ipfs: IpfsOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the document here (default: stdout).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a sealed document by its retrieval code, check it against its CID, open it."""
    from ledger.content import RetrievalCode, fetch

    parsed = RetrievalCode.parse(code)  # a malformed code fails before any store is opened
    document = fetch(content_store(ctx_of(ctx).settings, store, ipfs), parsed)
    if out is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    out.write_bytes(document)
    emit(
        {"file": str(out), "cid": str(parsed.cid), "suite": parsed.suite, "bytes": len(document)},
        as_json,
        lambda d: err_console.print(
            f"wrote {d['file']} ({d['bytes']:,} bytes, {d['cid']} verified and opened)", markup=False, highlight=False
        ),
    )
