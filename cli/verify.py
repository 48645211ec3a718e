"""``certledger verify``: verify a certificate file, a QR payload, a QR image or a hash."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.errors import InvalidInput
from ledger.ids import agency_id, parse_time, region_code

from .common import JsonOpt, console, ctx_of, emit
from .snapshot import TrustOpt, open_trusted

EXIT_NOT_VALID = 3
MARKS = {"VALID": "[bold green]✓ VALID[/]", "ERROR": "[bold]! ERROR[/]", "INCOMPLETE": "[bold yellow]? INCOMPLETE[/]"}


def verify_cmd(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="A certificate file (.json), a QR image (.png/.jpg), a QR payload (CLC3:/CLF2:) or a certificate hash."
        ),
    ],
    verifier_region: Annotated[str | None, typer.Option(help="Your region: checks recognition for it.")] = None,
    agency: Annotated[
        str | None,
        typer.Option(
            help="With a bare hash: the issuing agency (a hash anchored by several is never VALID without it)."
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Status as of this time (ISO 8601 or unix).")] = None,
    source: Annotated[
        str, typer.Option(help="mirror (default) or chain (the contracts' views, no mirror).")
    ] = "mirror",
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    offline: Annotated[
        Path | None,
        typer.Option(help="Verify with this trust snapshot alone: no node, no mirror (see `certledger snapshot`)."),
    ] = None,
    trust: TrustOpt = None,
    max_age: Annotated[
        str | None,
        typer.Option(help="Offline: the oldest snapshot to trust, e.g. 24h, 7d (env CERTLEDGER_SNAPSHOT_MAX_AGE)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a certificate; exit code 0 when VALID, 3 for any other verdict.

    A bare hash (or a compact QR) carries no validity dates: its best verdict is INCOMPLETE."""
    from ledger.document import load_document
    from ledger.mirror.queries import MirrorQueries
    from ledger.mirror.store import MirrorStore
    from ledger.verification.checks import Verdict
    from ledger.verification.factory import chain_verifier, mirror_verifier, node_watch

    c = ctx_of(ctx)
    if agency is not None:
        agency_id(agency)
    if source not in ("mirror", "chain"):
        raise InvalidInput("--source must be mirror or chain")
    region = region_code(verifier_region) if verifier_region else None
    when = parse_time(as_of) if as_of else None
    if offline is not None:
        from ledger.snapshot import parse_age
        from ledger.verification.engine import Verifier

        opened = open_trusted(c, offline, trust)
        limit = parse_age(max_age) if max_age else c.settings.snapshot_max_age
        verifier = Verifier(opened.source(max_age=limit), opened.deployment)
    elif source == "chain":
        verifier = chain_verifier(c.settings, c.deployment, c.registry)
    else:
        from ledger.deployment import Deployment

        deployment = Deployment.load(c.settings.deployment_path)
        store = MirrorStore(db or c.settings.mirror_url)
        # the lag is measured against the node itself, and a node of another chain is ERROR
        verifier = mirror_verifier(c.settings, deployment, MirrorQueries(store), node_watch(c.settings, deployment))
    path = Path(target)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        from ledger.qr import read_image

        result = verifier.verify_payload(read_image(data), verifier_region=region, as_of=when)
    elif path.suffix.lower() == ".json":
        cert, stated = load_document(path)
        result = verifier.verify_document(cert, stated, verifier_region=region, as_of=when)
    elif re.fullmatch(r"0x[0-9a-fA-F]{64}", target):
        result = verifier.verify_hash(bytes.fromhex(target[2:]), verifier_region=region, as_of=when, agency=agency)
    else:
        result = verifier.verify_payload(target, verifier_region=region, as_of=when)
    emit(result.to_json(), as_json, _show)
    if result.verdict != Verdict.VALID:
        raise typer.Exit(EXIT_NOT_VALID)


OUTCOME_MARKS = {"PASS": "✓", "FAIL": "✗", "SKIPPED": "–", "ERROR": "!"}


def _show(d: dict[str, Any]) -> None:
    console.print(MARKS.get(d["verdict"], f"[bold red]✗ {d['verdict']}[/]"))
    for check in d["checks"]:
        mark = OUTCOME_MARKS[check["outcome"]]
        console.print(f"  {mark} {check['name']:<18} {check['detail']}", markup=False, highlight=False)
    skipped = [c["name"] for c in d["checks"] if c["outcome"] == "SKIPPED"]
    if d["verdict"] == "INCOMPLETE":
        console.print(
            f"  not checked: {', '.join(skipped)} — verify the certificate file or its full QR code for a complete answer",
            markup=False,
            highlight=False,
        )
    cert = d.get("certificate") or {}
    if cert.get("type"):
        console.print(f"  {cert['type']} from {cert.get('agency')} ({cert.get('issuer_region')}), hash {cert['hash']}")
    region = d.get("verifier_region")
    console.print(
        f"  checked for region {region}" if region else "  no verifier region given: recognition not checked",
        markup=False,
        highlight=False,
    )
    if d.get("disclosed_fields") is not None:
        for name, value in d["disclosed_fields"].items():
            console.print(f"  {name}: {value}", markup=False, highlight=False)
        if d.get("hidden_fields"):
            # only hashes: their names are the holder's labels, their values are not shown
            console.print(f"  not shown: {', '.join(d['hidden_fields'])}", markup=False, highlight=False)
    sys.stdout.flush()
