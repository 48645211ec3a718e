"""``certledger bind``: an agency binds its citizens' device keys to their certificates, or
unbinds them (docs/presentations.md §2).

A citizen's wallet exports a binding request: the certificate's hash and the device's public
key (ECDSA P-256, the 65-byte uncompressed point, base64url). The agency checks who asks, then
runs this command with its key: the ledger records the SHA-256 of the key against the
certificate, in as few transactions as the gas limit allows. Every request is read and checked
before anything is sent: one malformed request sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.errors import InvalidInput, LedgerError
from ledger.ids import agency_id

from .common import JsonOpt, console, ctx_of, emit
from .issuing import _status_actor

HOLDER_KEY_BYTES = 65  # 0x04 || x || y
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class BindingRequest:
    """One certificate and the device key to bind to it (None: unbind)."""

    cert_hash: bytes
    holder_key: bytes | None

    @property
    def key_hash(self) -> bytes | None:
        """What the ledger records: the SHA-256 of the 65-byte point."""
        from ledger.presentation import key_hash

        return None if self.holder_key is None else key_hash(self.holder_key)


def holder_key(text: Any, where: str) -> bytes:
    """The device key of a request: base64url without padding of a P-256 point."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text):
        raise InvalidInput(f"{where}: holderKey must be base64url (no padding) of the device's public key")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: holderKey is not valid base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        raise InvalidInput(f"{where}: holderKey is not canonical base64url")
    if len(raw) != HOLDER_KEY_BYTES or raw[0] != 4:
        raise InvalidInput(
            f"{where}: holderKey must be an uncompressed P-256 point (65 bytes starting 0x04), got {len(raw)} bytes"
        )
    from ledger.presentation import is_holder_key

    if not is_holder_key(raw):
        raise InvalidInput(f"{where}: holderKey is not a point of the P-256 curve")
    return raw


def read_requests(path: Path, *, unbind: bool = False) -> list[BindingRequest]:
    """The binding requests of a JSON file (one request or a list) or a JSONL file (one request
    a line), each ``{"certificate": "0x<64 hex>", "holderKey": "<base64url>"}``; with ``unbind``
    only the certificate is read. InvalidInput names the first bad request."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    items: list[tuple[str, Any]]
    try:
        whole = json.loads(text)
        listed = whole if isinstance(whole, list) else [whole]
        items = [(f"{path.name} request {i}", item) for i, item in enumerate(listed, 1)]
    except json.JSONDecodeError:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"{path.name} line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path.name} line {n}: not JSON ({exc.msg})") from None
    if not items:
        raise InvalidInput(f"{path.name}: no binding requests")
    out: list[BindingRequest] = []
    seen: dict[bytes, str] = {}
    for where, item in items:
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: a binding request is an object with certificate and holderKey")
        cert = item.get("certificate")
        if not isinstance(cert, str) or not _HASH.fullmatch(cert):
            raise InvalidInput(f"{where}: certificate must be 0x and 64 hex digits (the certificate hash)")
        cert_hash = bytes.fromhex(cert[2:])
        if cert_hash in seen:
            raise InvalidInput(f"{where}: certificate {cert} is listed twice (also {seen[cert_hash]})")
        seen[cert_hash] = where
        out.append(BindingRequest(cert_hash, None if unbind else holder_key(item.get("holderKey"), where)))
    return out


def bind_cmd(
    ctx: typer.Context,
    requests: Annotated[
        Path,
        typer.Argument(
            help='Binding requests as wallets export them: JSON (one or a list) or JSONL, each {"certificate": '
            '"0x<hash>", "holderKey": "<base64url of the 65-byte P-256 public key>"}.'
        ),
    ],
    agency: Annotated[str, typer.Option(help="The certificates' issuing agency, e.g. GD-PSB.")],
    unbind: Annotated[
        bool, typer.Option("--unbind", help="Clear the bindings of the listed certificates (holderKey not needed).")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            "-k",
            help="Keystore name of the acting key: a key of the agency or an admin of its region "
            "(default: the agency's active key in the keystore, else admin-<region>).",
            envvar="CERTLEDGER_KEY",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bind holders' device keys to the agency's certificates on chain (or unbind them).

    A rebinding replaces the certificate's key; the chain's events keep the history."""
    agency_id(agency)  # validates the code before reading anything else
    wanted = read_requests(requests, unbind=unbind)
    c = ctx_of(ctx)
    actor = _status_actor(c, agency, key)
    from ledger.registry.certificates import UNBOUND

    per_tx = c.registry.max_bindings()
    bound: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    for start in range(0, len(wanted), per_tx):
        chunk = wanted[start : start + per_tx]
        try:
            sent = c.registry.bind_holders(actor, agency, [(r.cert_hash, r.key_hash or UNBOUND) for r in chunk])
        except LedgerError as exc:
            if not transactions:
                raise
            raise LedgerError(
                f"{len(bound)} of {len(wanted)} bindings recorded (last tx {transactions[-1]['tx']}), "
                f"the rest not: {exc}",
                code=exc.code,
            ) from exc
        transactions.append({"tx": sent.tx_hash, "block": sent.block_number, "bindings": len(chunk)})
        bound.extend(
            {
                "certificate": "0x" + r.cert_hash.hex(),
                "key_hash": None if r.key_hash is None else "0x" + r.key_hash.hex(),
                "tx": sent.tx_hash,
            }
            for r in chunk
        )
    result = {
        "agency": agency,
        "action": "unbind" if unbind else "bind",
        "actor": actor.address,
        "bindings": bound,
        "transactions": transactions,
    }
    emit(result, as_json, _show)


def _show(d: dict[str, Any]) -> None:
    verb = "unbound" if d["action"] == "unbind" else "bound"
    console.print(
        f"{d['agency']}: {verb} {len(d['bindings'])} certificate(s) in {len(d['transactions'])} transaction(s) "
        f"by {d['actor']}",
        markup=False,
        highlight=False,
    )
    for b in d["bindings"]:
        target = f"key {b['key_hash']}" if b["key_hash"] else "no key"
        console.print(f"  {b['certificate']} -> {target} (tx {b['tx']})", markup=False, highlight=False)
