"""``certledger verifier``: a region's registered verifier organisations (who may receive a
citizen's presentation through the API); ``certledger receipts anchor``: seal and anchor a
verifier's verification receipts, beside ``certledger serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import InvalidInput
from ledger.ids import region_code

from .common import Context, JsonOpt, KeyOpt, console, ctx_of, done, emit

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ledger.receipts import ReceiptAnchorer, SealedBatch

verifier_app = typer.Typer(
    help="Verifier organisations of a region: register, change, suspend, show.", no_args_is_help=True
)
receipts_app = typer.Typer(help="Verification receipts: seal and anchor them on chain.", no_args_is_help=True)


@verifier_app.command("add")
def verifier_add(
    ctx: typer.Context,
    verifier: Annotated[str, typer.Argument(help="The organisation's code, e.g. ZJ-BANK-1.")],
    region: Annotated[str, typer.Option(help="Its region (yours).")],
    account: Annotated[str, typer.Option(help="Keystore name (or address) of the account that anchors its receipts.")],
    rate: Annotated[int, typer.Option(help="Requests per minute the API accepts from it (0: no limit).")] = 600,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a verifier organisation of your region; prints its API key, once.

    Only the key's SHA-256 goes on chain: hand the key over, it cannot be shown again."""
    from ledger.verifiers import api_key_hash, new_api_key

    c = ctx_of(ctx)
    r = region_code(region)
    api_key = new_api_key(verifier)
    address = account if account.startswith("0x") else c.keystore.address(account)
    sent = c.registry.register_verifier(
        c.admin_key(r, key), verifier, r, address, api_key_hash(api_key), rate_per_minute=rate
    )
    emit(
        {"verifier": verifier, "region": r, "account": address, "api_key": api_key, "tx": sent.tx_hash},
        as_json,
        done("verifier {verifier} registered in {region}; its API key (shown once): {api_key}"),
    )


@verifier_app.command("set")
def verifier_set(
    ctx: typer.Context,
    verifier: Annotated[str, typer.Argument(help="The organisation's code.")],
    new_key: Annotated[bool, typer.Option("--new-key", help="Issue a new API key (the old one stops).")] = False,
    rate: Annotated[int | None, typer.Option(help="Requests per minute (0: no limit).")] = None,
    suspend: Annotated[bool | None, typer.Option("--suspend/--resume", help="Suspend it, or lift that.")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a verifier organisation of your region: a new API key, its rate, suspend or resume it."""
    from ledger.verifiers import api_key_hash, new_api_key

    c = ctx_of(ctx)
    now = c.registry.verifier(verifier)
    if now is None:
        raise InvalidInput(f"unknown verifier {verifier!r}")
    if not new_key and rate is None and suspend is None:
        raise InvalidInput("nothing to change: give --new-key, --rate, --suspend or --resume")
    api_key = new_api_key(verifier) if new_key else None
    sent = c.registry.update_verifier(
        c.admin_key(now.region, key),
        verifier,
        api_key_hash=api_key_hash(api_key) if api_key else None,
        rate_per_minute=rate,
        suspended=suspend,
    )
    after = c.registry.verifier(verifier)
    data = {**(after.to_json() if after else {}), "tx": sent.tx_hash}
    if api_key:
        data["api_key"] = api_key
    emit(data, as_json, done("verifier {verifier}: rate {rate_per_minute}/min, suspended {suspended}"))
    if api_key and not as_json:
        console.print(f"its new API key (shown once): {api_key}")


@verifier_app.command("show")
def verifier_show(
    ctx: typer.Context,
    verifier: Annotated[str, typer.Argument(help="The organisation's code.")],
    as_json: JsonOpt = False,
) -> None:
    """A verifier organisation as the chain registers it."""
    info = ctx_of(ctx).registry.verifier(verifier)
    if info is None:
        raise InvalidInput(f"unknown verifier {verifier!r}")
    emit(
        info.to_json(),
        as_json,
        done("{verifier} ({region}): {role}, account {account}, {rate_per_minute}/min, active {active}"),
    )


def receipt_anchorer(
    c: Context, engine: Engine, verifier: str, account: str, *, every: float, at_most: int
) -> ReceiptAnchorer:
    """The anchorer of ``verifier``'s receipts from keystore ``account``, checked first: the
    verifier is registered and active, and the account is the one it registered."""
    from ledger.receipts import ReceiptAnchorer, ReceiptStore

    info = c.registry.verifier(verifier)
    if info is None:
        raise InvalidInput(f"unknown verifier {verifier!r}")
    if not info.active:
        raise InvalidInput(f"verifier {verifier!r} is not active (suspended, or its region left)")
    signer = c.keystore.load(account)
    if signer.address != info.account:
        raise InvalidInput(f"{account!r} ({signer.address}) is not verifier {verifier!r}'s account ({info.account})")
    return ReceiptAnchorer(ReceiptStore(engine), c.registry, verifier, signer, every=every, at_most=at_most)


@receipts_app.command("anchor")
def receipts_anchor(
    ctx: typer.Context,
    verifier: Annotated[str, typer.Option(help="The verifier organisation whose receipts to anchor.")],
    account: Annotated[str, typer.Option(help="Keystore name of its registered account.")],
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep anchoring on schedule until Ctrl-C.")] = False,
    every: Annotated[float, typer.Option(help="Seal once the oldest waiting receipt is this old (s).")] = 30.0,
    at_most: Annotated[int, typer.Option(help="Seal once this many wait; the largest batch.")] = 10_000,
    as_json: JsonOpt = False,
) -> None:
    """Seal a verifier's waiting receipts into Merkle batches and anchor their roots.

    ``certledger serve --anchor VERIFIER=ACCOUNT`` does the same on schedule inside the API;
    this command is for an API run without it. A crash loses nothing: the next run finishes
    what it left."""
    from ledger.mirror.store import make_engine
    from ledger.receipts import AnchorSchedule

    c = ctx_of(ctx)
    engine = make_engine(db or c.settings.mirror_url)
    anchored: list[dict[str, object]] = []

    def shown(_: ReceiptAnchorer, batch: SealedBatch) -> None:
        anchored.append({"root": "0x" + batch.root.hex(), "receipts": batch.size})
        if follow and not as_json:
            console.print(f"anchored {batch.size} receipt(s): root 0x{batch.root.hex()}")

    try:
        # once: whatever waits is sealed now; following: on the schedule
        anchorer = receipt_anchorer(c, engine, verifier, account, every=every if follow else 0, at_most=at_most)
        schedule = AnchorSchedule([anchorer], on_anchor=shown)
        if follow:
            schedule.run()
        else:
            schedule.run_once()
    finally:
        engine.dispose()
    emit({"verifier": verifier, "anchored": anchored}, as_json, done("anchored {anchored}"))
