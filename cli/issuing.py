"""An agency's daily commands: issue, revoke, suspend, reinstate, disclose, qr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ledger.contracts import Status
from ledger.document import load_document
from ledger.errors import InvalidInput
from ledger.ids import agency_id

from .common import Context, JsonOpt, KeyOpt, console, ctx_of, emit, err_console, split_list

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.signing import BatchSigner

STAGE_LABELS = {"build": "validate, hash, sign", "anchor": "anchor on chain", "output": "write files"}


def _agency_key_name(c: Context, agency: str, explicit: str | None) -> str:
    """The keystore name of the key that signs for ``agency``: --key, else the one whose
    address is an active signing key of the agency (found without decrypting anything)."""
    if explicit:
        return explicit
    info = c.registry.agency(agency)
    if info is None:
        raise InvalidInput(f"unknown agency {agency!r}")
    active = {k.address for k in info.keys if k.state.name == "ACTIVE"}
    for name in c.keystore.names():
        if c.keystore.address(name) in active:
            return name
    raise InvalidInput(f"no active signing key of {agency} in the keystore; pass --key NAME")


def _agency_key(c: Context, agency: str, explicit: str | None) -> BatchSigner:
    """What signs ``agency``'s batches: its key, in an sm deployment with its SM2 key."""
    return c.keystore.signer(_agency_key_name(c, agency, explicit), c.registry.deployment.suite)


def issue_cmd(
    ctx: typer.Context,
    rows: Annotated[
        Path,
        typer.Argument(help="Rows to issue: a .csv (header = field names or GB/T 36903 names) or .jsonl file."),
    ],
    agency: Annotated[str, typer.Option(help="Issuing agency, e.g. GD-PSB.")],
    cert_type: Annotated[str, typer.Option("--type", help="Certificate type, e.g. ID_CARD.")],
    out: Annotated[Path, typer.Option(help="Output folder (re-run with the same folder to resume).")],
    bundle: Annotated[bool, typer.Option(help="One JSONL bundle instead of one file per certificate.")] = False,
    qr: Annotated[bool, typer.Option(help="Also one QR PNG per certificate.")] = False,
    qr_payload: Annotated[
        str, typer.Option(help="QR content: compact (metadata + holder digest, online check) or full (offline).")
    ] = "compact",
    skip_invalid: Annotated[bool, typer.Option(help="Anchor the valid rows even if some are invalid.")] = False,
    allow_expired: Annotated[
        bool,
        typer.Option("--allow-expired", help="Issue certificates whose validUntil has passed (they verify EXPIRED)."),
    ] = False,
    valid_from: Annotated[str | None, typer.Option(help="Default validFrom (YYYY-MM-DD; default today).")] = None,
    valid_until: Annotated[str | None, typer.Option(help="Default validUntil (YYYY-MM-DD; default none).")] = None,
    max_batch: Annotated[int, typer.Option(help="Most certificates per anchoring transaction.")] = 10_000,
    issuer_code: Annotated[
        str | None,
        typer.Option(
            help="The agency's unified social credit code (GB 32100): each certificate gets a GB/T 36904 identifier. "
            "Default: the code the ledger records for the agency (any other is refused), for a type with a national "
            "type code."
        ),
    ] = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national", help="The rows are a GB/T 36903 export (ZZBH, CZZT, ...; detected without this flag)."
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per CPU).")] = 0,
    submitter: Annotated[
        str | None,
        typer.Option(help="Keystore name of the account sending the transactions (default: the signing key)."),
    ] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue certificates from a CSV/JSONL export: validate, hash, anchor, write files (+ QR)."""
    from ledger.issuance import IssuanceRejected, IssueRequest, issue, schema_for

    c = ctx_of(ctx)
    if qr_payload not in ("compact", "full"):
        raise InvalidInput("--qr-payload must be compact or full")
    agency_id(agency)  # validates the code before touching the chain
    signer = _agency_key(c, agency, key)
    sender = c.keystore.load(submitter) if submitter else signer.account
    schema = schema_for(c.registry, cert_type)
    request = IssueRequest(
        agency,
        cert_type,
        rows,
        out,
        bundle=bundle,
        qr=qr,
        qr_payload=qr_payload,
        skip_invalid=skip_invalid,
        valid_from=valid_from,
        valid_until=valid_until,
        max_batch=max_batch,
        workers=workers,
        allow_expired=allow_expired,
        issuer_code=issuer_code,
        national=True if national else None,
    )
    if allow_expired:
        err_console.print(
            "warning: --allow-expired: certificates whose validUntil has passed are issued, and verify EXPIRED",
            markup=False,
            highlight=False,
        )
    columns = [
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    bar = Progress(*columns, console=err_console, disable=as_json, transient=False)
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()  # on the first step: an input refused at once leaves no empty progress line
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGE_LABELS.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        try:
            result = issue(c.registry, signer, sender, request, schema, progress)
        finally:
            if tasks:
                bar.stop()
    except IssuanceRejected as exc:
        if as_json:
            sys.stdout.write(
                orjson.dumps(
                    {"error": {"code": exc.code, "message": str(exc)}, "bad_rows": [b.__dict__ for b in exc.bad_rows]},
                    option=orjson.OPT_INDENT_2,
                ).decode()
                + "\n"
            )
        else:
            for b in exc.bad_rows[:20]:
                sys.stderr.write(f"row {b.row}: {b.reason}\n")
            if len(exc.bad_rows) > 20:
                sys.stderr.write(f"... and {len(exc.bad_rows) - 20} more invalid rows\n")
        raise

    def show(d: dict[str, Any]) -> None:
        gas = f", {d['gas_per_certificate']:,.0f} gas per certificate" if d["gas_per_certificate"] else ""
        console.print(
            f"issued {d['issued']:,} {d['type']} certificates of {d['agency']} in {len(d['batches'])} batch(es)"
            f"{gas}{' (resumed)' if d['resumed'] else ''}"
        )
        if d["bad_rows"]:
            console.print(f"skipped {len(d['bad_rows'])} invalid rows (listed in manifest.json)")
        where = d["bundle"] or f"{d['out_dir']}/certificates ({d['files']:,} files)"
        console.print(
            f"documents: {where}" + (f"; QR codes: {d['out_dir']}/qr ({d['qr_codes']:,})" if d["qr_codes"] else "")
        )
        console.print(f"manifest: {d['out_dir']}/manifest.json")

    emit(result.to_json(), as_json, show)


def reanchor_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="The issuance folder (the --out of `certledger issue`).")],
    key: Annotated[str, typer.Option("--key", "-k", help="Keystore name of the new signing key of the agency.")],
    submitter: Annotated[
        str | None, typer.Option(help="Keystore name of the account sending the transactions (default: the key).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """After a key compromise: re-anchor an issuance's void batches with a new key.

    Rewrites its documents (and full QR codes) with the new signature. Hashes and proofs stay
    the same."""
    from ledger.issuance import reanchor

    c = ctx_of(ctx)
    signer = c.keystore.signer(key, c.registry.deployment.suite)
    sender = c.keystore.load(submitter) if submitter else signer.account
    result = reanchor(c.registry, signer, sender, out)

    def show(d: dict[str, Any]) -> None:
        console.print(
            f"{d['agency']}: re-anchored {d['reanchored']} of {len(d['batches'])} batch(es) with {d['key']}; "
            f"rewrote {d['documents_rewritten']} document(s) and {d['qr_codes_rewritten']} QR code(s)"
        )

    emit(result.to_json(), as_json, show)


# ---------------------------------------------------------------------- status changes


def _status_cmd(status: Status, verb: str) -> Any:
    def command(
        ctx: typer.Context,
        target: Annotated[
            str, typer.Argument(help="Certificate hash (0x...), certificate file, or batch root with --batch.")
        ],
        reason: Annotated[str, typer.Option(help="Reason code, e.g. HOLDER_REQUEST, DATA_ERROR, FRAUD, COURT_ORDER.")],
        agency: Annotated[
            str | None, typer.Option(help="Issuing agency (needed with a bare certificate hash).")
        ] = None,
        batch: Annotated[bool, typer.Option("--batch", help="TARGET is a batch root: change the whole batch.")] = False,
        consortium: Annotated[
            bool,
            typer.Option(
                "--consortium",
                help="Propose it as a consortium action (M-of-N), e.g. for a removed region's certificates.",
            ),
        ] = False,
        key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        from ledger.status import batch_agency, change_status

        c = ctx_of(ctx)
        cert_hash = root = None
        path = Path(target)
        if batch:
            root = _hash32(target, "batch root")
            agency = agency or batch_agency(c.registry, root)
            if c.registry.batch(agency, root) is None:
                raise InvalidInput(f"{agency} anchored no batch with root {target}")
        elif path.suffix == ".json" or path.exists():
            cert, stated = load_document(path)
            cert_hash = cert.compute_hash()
            if stated is not None and stated != cert_hash:
                raise InvalidInput(f"{path.name}: the document does not match its stated hash (tampered?)")
            if agency and agency != cert.agency:
                raise InvalidInput(f"{path.name} was issued by {cert.agency}, not {agency}")
            agency = cert.agency
        else:
            cert_hash = _hash32(target, "certificate hash")
            if not agency:
                raise InvalidInput("a bare certificate hash needs --agency (or give the certificate file)")
        if consortium:
            result = c.registry.propose_status(
                c.admin_key(None, key), agency, status, reason, cert_hash=cert_hash, batch_root=root
            )
            emit(
                {
                    "agency": agency,
                    "subject": "0x" + (cert_hash or root or b"").hex(),
                    "status": status.name,
                    "reason": reason,
                    **result.to_json(),
                },
                as_json,
                lambda d: console.print(
                    f"consortium proposal {d['proposal']} to set {d['subject']} of {d['agency']} "
                    f"{d['status']}: {'executed' if d['executed'] else 'waiting for approvals'}"
                ),
            )
            return
        actor = _status_actor(c, agency, key)
        change = change_status(c.registry, actor, status, reason, cert_hash=cert_hash, agency=agency, batch_root=root)
        emit(
            change.to_json(),
            as_json,
            lambda d: console.print(
                f"{d['kind']} {d['subject']} of {d['agency']}: {verb} ({d['reason']}), tx {d['tx']} block {d['block']}"
            ),
        )

    command.__doc__ = {
        Status.REVOKED: "Revoke a certificate or a whole batch (final).",
        Status.SUSPENDED: "Suspend a certificate or a whole batch (reversible with reinstate).",
        Status.ACTIVE: "Reinstate a suspended certificate or batch.",
    }[status]
    return command


def _status_actor(c: Context, agency: str, explicit: str | None) -> LocalAccount:
    if explicit:
        return c.keystore.load(explicit)
    try:
        return c.keystore.load(_agency_key_name(c, agency, None))
    except InvalidInput:
        info = c.registry.agency(agency)
        return c.admin_key(info.region if info else None, None)


def _hash32(text: str, what: str) -> bytes:
    t = text.strip().lower().removeprefix("0x")
    if len(t) != 64 or any(ch not in "0123456789abcdef" for ch in t):
        raise InvalidInput(f"invalid {what} {text!r}: expected 0x and 64 hex digits (or a certificate file)")
    return bytes.fromhex(t)


revoke_cmd = _status_cmd(Status.REVOKED, "revoked")
suspend_cmd = _status_cmd(Status.SUSPENDED, "suspended")
reinstate_cmd = _status_cmd(Status.ACTIVE, "reinstated")


# ---------------------------------------------------------------------- holder tools


def disclose_cmd(
    file: Annotated[Path, typer.Argument(help="A certificate file.")],
    fields: Annotated[str, typer.Option(help="Fields to show, comma-separated; the others become hashes.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a copy of a certificate showing only some fields; it verifies to the same hash."""
    cert, stated = load_document(file)
    full_hash = cert.compute_hash()
    if stated is not None and stated != full_hash:
        raise InvalidInput(f"{file.name}: the document does not match its stated hash (tampered?)")
    disclosed = cert.disclose(split_list(fields))
    assert disclosed.compute_hash() == full_hash  # disclosure never changes the certificate hash
    text = orjson.dumps(disclosed.to_json(full_hash), option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is None:
        sys.stdout.write(text)  # the document itself: JSON either way
        return
    out.write_text(text, encoding="utf-8")
    summary = {
        "file": str(out),
        "hash": "0x" + full_hash.hex(),
        "shown": list(disclosed.fields),
        "hidden": list(disclosed.hidden),
    }
    emit(
        summary,
        as_json,
        lambda d: err_console.print(
            f"wrote {d['file']}: shows {', '.join(d['shown']) or 'no fields'}; hidden: {', '.join(d['hidden']) or 'none'}",
            markup=False,
            highlight=False,
        ),
    )


def qr_cmd(
    file: Annotated[Path, typer.Argument(help="A certificate file (full or disclosed).")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    full: Annotated[
        bool, typer.Option("--full", help="Carry the document itself (offline check) instead of its hash.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Render a certificate's QR code (compact: metadata and holder digest; --full: the document)."""
    from ledger import qr as qrcodes

    cert, _ = load_document(file)
    payload = qrcodes.full_payload(cert) if full else qrcodes.compact_for(cert)
    version = qrcodes.render_png(payload, out)
    emit(
        {"file": str(out), "payload": payload, "qr_version": version, "kind": "full" if full else "compact"},
        as_json,
        lambda d: console.print(f"wrote {d['file']} (QR version {d['qr_version']}, {d['kind']} payload)"),
    )
