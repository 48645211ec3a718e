"""Consortium operator commands: deploy, region, agency, key, type, recognize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.deployment import DEFAULT_PROPOSAL_TTL, Deployment, deploy, parse_quorum_rule, quorum_for
from ledger.errors import ConfigError, InvalidInput
from ledger.ids import REGION_NAMES, iso_time, parse_time, region_code

from .common import JsonOpt, KeyOpt, console, ctx_of, done, emit, split_list, table

region_app = typer.Typer(help="Consortium membership: propose and approve regions, quorum.", no_args_is_help=True)
agency_app = typer.Typer(help="Issuing agencies of a region and the types they may issue.", no_args_is_help=True)
key_app = typer.Typer(help="Signing keys: create, import, rotate, retire, report compromised.", no_args_is_help=True)
type_app = typer.Typer(help="Certificate types and their field schemas.", no_args_is_help=True)


# ---------------------------------------------------------------------- shared look-ups


def _agency(c: Any, code: str) -> Any:
    info = c.registry.agency(code)
    if info is None:
        raise InvalidInput(f"unknown agency {code!r}")
    return info


def _signing_key(c: Any, target: str) -> tuple[str, Any]:
    """(address, on-chain key record) of a keystore name or address that must be a signing key."""
    address = c.keystore.resolve_address(target)
    info = c.registry.key(address)
    if not info.agency:
        raise InvalidInput(f"{target} ({address}) is not a registered signing key")
    return address, info


def _agency_admin(c: Any, agency: str, key: str | None) -> Any:
    """The acting admin of the agency's region."""
    return c.admin_key(_agency(c, agency).region, key)


# ---------------------------------------------------------------------- deploy


def deploy_cmd(
    ctx: typer.Context,
    regions: Annotated[
        str, typer.Option("--regions", help="Founding regions, comma-separated 6-digit codes.")
    ] = "440000,330000,110000",
    quorum: Annotated[
        str, typer.Option(help="Quorum rule N/D: a proposal needs approvals from more than N/D of the member regions.")
    ] = "1/2",
    admin: Annotated[
        list[str] | None,
        typer.Option(
            "--admin",
            help="REGION=KEY_OR_ADDRESS for a founding admin (default: key admin-REGION, created if missing).",
        ),
    ] = None,
    ttl_days: Annotated[float, typer.Option(help="Days a proposal stays open.")] = DEFAULT_PROPOSAL_TTL / 86400,
    force: Annotated[bool, typer.Option(help="Deploy anew even if a deployment exists.")] = False,
    suite: Annotated[
        str,
        typer.Option(
            help="Cryptographic suite, fixed for the deployment's life: intl (SHA-256, EIP-712) or sm "
            "(SM3 documents, SM2-signed batches, an SM2 key next to every agency key)."
        ),
    ] = "intl",
    as_json: JsonOpt = False,
) -> None:
    """Deploy the contracts and write the deployment file."""
    from ledger.suites import suite as suite_of

    suite = suite_of(suite).name  # a bad name fails here, before anything is deployed
    c = ctx_of(ctx)
    path = c.settings.deployment_path
    if path.exists() and not force:
        try:
            existing = Deployment.load(path)
            existing.check(c.chain)
        except ConfigError:
            existing = None  # stale file (chain reset): deploy again
        if existing is not None:
            emit(
                {"deployed": False, "reason": "already deployed", **existing.to_json()},
                as_json,
                done(
                    "already deployed: CertificateRegistry at {certificate_registry} (chain {chain_id}); --force to redeploy"
                ),
            )
            return
    codes = [region_code(r) for r in split_list(regions)]
    explicit: dict[int, str] = {}
    for item in admin or []:
        region_text, _, who = item.partition("=")
        if not who:
            raise InvalidInput(f"--admin {item!r}: expected REGION=KEY_OR_ADDRESS")
        explicit[region_code(region_text)] = who
    founding: list[tuple[int, str]] = []
    for region in codes:
        who = explicit.get(region) or f"admin-{region}"
        if who == f"admin-{region}" and not c.keystore.exists(who):
            c.keystore.create(who)
        founding.append((region, c.keystore.resolve_address(who)))
    if not c.keystore.exists("deployer"):
        c.keystore.create("deployer")
    deployer = c.keystore.load("deployer")
    rule = _quorum_rule(quorum)
    q = quorum_for(len(codes), rule)
    deployment = deploy(c.chain, deployer, founding, rule, int(ttl_days * 86400), suite=suite)
    deployment.rpc_url = c.settings.rpc_url
    if path.exists():
        path.replace(path.with_suffix(f".{deployment.deployment_block}.bak"))
    deployment.save(path)
    emit(
        {
            "deployed": True,
            "file": str(path),
            "quorum": q,
            "quorum_rule": f"{rule[0]}/{rule[1]}",
            "founding": [{"region": r, "admin": a} for r, a in founding],
            **deployment.to_json(),
        },
        as_json,
        done(
            "deployed on chain {chain_id} at block {deployment_block} (suite {suite}): CertificateRegistry "
            "{certificate_registry}, quorum {quorum} (more than {quorum_rule} of the members); wrote {file}"
        ),
    )


def _quorum_rule(text: str) -> tuple[int, int]:
    if text.strip().isdigit():
        raise InvalidInput(
            f"--quorum {text}: the quorum is a rule N/D (more than N/D of the member regions must approve), "
            "so that it follows the membership; e.g. 1/2 for a majority, 2/3 for more than two thirds"
        )
    return parse_quorum_rule(text)


# ---------------------------------------------------------------------- regions


@region_app.command("list")
def region_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List regions (members and removed ones) and the quorum."""
    reg = ctx_of(ctx).registry
    num, den = reg.quorum_rule()
    data = {
        "quorum": reg.quorum(),
        "quorum_rule": f"{num}/{den}",
        "members": reg.member_count(),
        "regions": [r.to_json() for r in reg.regions()],
    }

    def show(d: dict[str, Any]) -> None:
        title = f"Regions (quorum: {d['quorum']} of {d['members']} members, i.e. more than {d['quorum_rule']})"
        table(
            title,
            ["region", "name", "member", "admins", "admitted"],
            [
                [
                    r["region"],
                    REGION_NAMES.get(r["region"], ""),
                    "yes" if r["member"] else f"removed {r['removed_at']}",
                    r["admins"],
                    r["admitted_at"],
                ]
                for r in d["regions"]
            ],
        )

    emit(data, as_json, show)


@region_app.command("propose")
def region_propose(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Argument(help="Region code to admit (or to remove with --remove).")] = None,
    admin: Annotated[str | None, typer.Option(help="First admin of the new region: keystore name or address.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Propose removing REGION.")] = False,
    cutoff: Annotated[
        str | None,
        typer.Option(
            help="With --remove: its anchors made from this time on become void (ISO 8601 or unix; default none)."
        ),
    ] = None,
    quorum: Annotated[
        str | None, typer.Option(help="Propose a new quorum rule N/D instead (more than N/D of the members).")
    ] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose admitting a region (REGION --admin X), removing one (REGION --remove) or a quorum rule (--quorum N/D)."""
    c = ctx_of(ctx)
    actor = c.admin_key(None, key)
    if cutoff is not None and not remove:
        raise InvalidInput("--cutoff goes with --remove")
    if quorum is not None:
        if region or remove or admin:
            raise InvalidInput("--quorum is a proposal of its own: give no REGION, --admin or --remove with it")
        num, den = _quorum_rule(quorum)
        result = c.registry.propose_quorum_rule(actor, num, den)
    elif region is None:
        raise InvalidInput("give a REGION to admit or remove, or --quorum N/D")
    elif remove:
        result = c.registry.propose_remove_region(actor, region, parse_time(cutoff) if cutoff else 0)
    else:
        if not admin:
            raise InvalidInput("admitting a region needs --admin KEY_OR_ADDRESS (its first admin)")
        result = c.registry.propose_add_region(actor, region, c.keystore.resolve_address(admin))
    emit(result.to_json(), as_json, _show_proposal)


@region_app.command("approve")
def region_approve(
    ctx: typer.Context,
    proposal: Annotated[int, typer.Argument(help="Proposal id.")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a proposal (regions, types, quorum, consortium actions) for your region; it executes at the quorum."""
    c = ctx_of(ctx)
    result = c.registry.approve(c.admin_key(None, key), proposal)
    emit(result.to_json(), as_json, _show_proposal)


@region_app.command("proposals")
def region_proposals(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include executed and expired ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List open governance proposals."""
    items = [p.to_json() for p in ctx_of(ctx).registry.proposals(open_only=not all_)]
    emit(
        items,
        as_json,
        lambda d: table(
            "Proposals",
            ["id", "kind", "params", "approvers", "executed", "expires"],
            [[p["id"], p["kind"], json.dumps(p["params"]), p["approvers"], p["executed"], p["expires_at"]] for p in d],
        ),
    )


def _show_proposal(d: dict[str, Any]) -> None:
    state = "executed" if d["executed"] else "open, waiting for more approvals"
    console.print(f"proposal {d['proposal']}: {state} (tx {d['tx']}, block {d['block']})")


# ---------------------------------------------------------------------- agencies


@agency_app.command("add")
def agency_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Agency code, e.g. GD-PSB.")],
    region: Annotated[str, typer.Option(help="The agency's region (you must be its admin).")],
    types: Annotated[str, typer.Option(help="Certificate types it may issue, comma-separated.")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an agency of your region."""
    c = ctx_of(ctx)
    r = region_code(region)
    sent = c.registry.register_agency(c.admin_key(r, key), code, r, split_list(types))
    emit(
        {"agency": code, "region": r, "types": split_list(types), "tx": sent.tx_hash},
        as_json,
        done("registered agency {agency} in {region} for {types}"),
    )


@agency_app.command("suspend")
def agency_suspend(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Agency code.")],
    lift: Annotated[bool, typer.Option("--lift", help="Lift the suspension instead.")] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suspend an agency (it can no longer anchor); --lift reactivates it (also after its region was re-admitted)."""
    c = ctx_of(ctx)
    actor = _agency_admin(c, code, key)
    sent = c.registry.reactivate_agency(actor, code) if lift else c.registry.suspend_agency(actor, code)
    emit(
        {"agency": code, "suspended": not lift, "tx": sent.tx_hash},
        as_json,
        done("agency {agency}: " + ("reactivated" if lift else "suspended")),
    )


@agency_app.command("types")
def agency_types(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Agency code.")],
    allow: Annotated[str | None, typer.Option(help="Types to allow, comma-separated.")] = None,
    forbid: Annotated[str | None, typer.Option(help="Types to forbid, comma-separated.")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow or forbid certificate types for an agency."""
    c = ctx_of(ctx)
    if not allow and not forbid:
        raise InvalidInput("give --allow and/or --forbid")
    actor = _agency_admin(c, code, key)
    if allow:
        c.registry.set_agency_types(actor, code, split_list(allow), True)
    if forbid:
        c.registry.set_agency_types(actor, code, split_list(forbid), False)
    after = c.registry.agency(code)
    emit({"agency": code, "types": after.types if after else []}, as_json, done("agency {agency} may issue {types}"))


@agency_app.command("credit-code")
def agency_credit_code(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Agency code.")],
    credit_code: Annotated[str, typer.Argument(help="Its unified social credit code (GB 32100, 18 characters).")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an agency's unified social credit code (统一社会信用代码), checked under GB 32100-2015."""
    from ledger.gbt.identifier import validate_uscc

    valid = validate_uscc(credit_code.strip().upper())  # before anything is sent: a bad check character fails here
    c = ctx_of(ctx)
    sent = c.registry.set_agency_credit_code(_agency_admin(c, code, key), code, valid)
    emit(
        {"agency": code, "credit_code": valid, "tx": sent.tx_hash},
        as_json,
        done("agency {agency}: credit code {credit_code}"),
    )


@agency_app.command("list")
def agency_list(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="Only this region's agencies.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List agencies with their types and keys."""
    items = [a.to_json() for a in ctx_of(ctx).registry.agencies_list(region_code(region) if region else None)]
    emit(
        items,
        as_json,
        lambda d: table(
            "Agencies",
            ["agency", "region", "credit code", "status", "types", "keys"],
            [
                [
                    a["agency"],
                    a["region"],
                    a["credit_code"] or "—",
                    "suspended" if a["suspended"] else "active" if a["enabled"] else "disabled",
                    ", ".join(a["types"]),
                    "\n".join(
                        f"{k['address']} {k['state']}{'' if k['enabled'] or k['state'] != 'ACTIVE' else ' (disabled)'}"
                        for k in a["keys"]
                    ),
                ]
                for a in d
            ],
        ),
    )


# ---------------------------------------------------------------------- keys


@key_app.command("new")
def key_new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Keystore name for the new key.")],
    agency: Annotated[str | None, typer.Option(help="Register it as a signing key of this agency.")] = None,
    active_from: Annotated[str | None, typer.Option(help="When it may start signing (ISO 8601 or unix).")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key in the encrypted keystore; with --agency also register it on chain."""
    c = ctx_of(ctx)
    address = c.keystore.create(name)
    data: dict[str, Any] = {"name": name, "address": address, "file": str(c.keystore.path(name))}
    if agency:
        data.update(_register_key(c, agency, address, active_from, key, name))
    emit(data, as_json, done("key {name}: {address}" + (" registered for {agency}" if agency else "")))


@key_app.command("import")
def key_import(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Keystore name for the imported key.")],
    keystore_file: Annotated[Path | None, typer.Option("--keystore", help="An existing keystore JSON file.")] = None,
    keystore_password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding that file's password (default: same password).")
    ] = None,
    private_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a hex private key (never pass keys as arguments).")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Register it as a signing key of this agency.")] = None,
    active_from: Annotated[str | None, typer.Option(help="When it may start signing.")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an existing key (keystore file or private key from an environment variable)."""
    import os

    c = ctx_of(ctx)
    if bool(keystore_file) == bool(private_key_env):
        raise InvalidInput("give exactly one of --keystore FILE or --private-key-env VAR")
    if private_key_env:
        secret = os.environ.get(private_key_env)
        if not secret:
            raise InvalidInput(f"environment variable {private_key_env} is empty or unset")
        address = c.keystore.import_private_key(name, secret)
    else:
        password = os.environ.get(keystore_password_env) if keystore_password_env else c.keystore.password()
        if password is None:
            raise InvalidInput(f"environment variable {keystore_password_env} is unset")
        address = c.keystore.import_keystore(name, keystore_file, password)  # type: ignore[arg-type]
    data: dict[str, Any] = {"name": name, "address": address}
    if agency:
        data.update(_register_key(c, agency, address, active_from, key, name))
    emit(data, as_json, done("imported key {name}: {address}"))


def _sm2_key(c: Any, name: str) -> bytes:
    """In an sm deployment: the SM2 public key of keystore key ``name``, created beside it when
    missing; b"" in an intl deployment."""
    if c.registry.deployment.suite == "intl":
        return b""
    return bytes(c.keystore.sm2_public_key(name) or c.keystore.create_sm2(name))


def _register_key(
    c: Any, agency: str, address: str, active_from: str | None, key: str | None, name: str
) -> dict[str, Any]:
    start = parse_time(active_from) if active_from else 0
    sm2 = _sm2_key(c, name)
    sent = c.registry.add_key(_agency_admin(c, agency, key), agency, address, start, sm2_public_key=sm2)
    out = {"agency": agency, "active_from": iso_time(start) or "now", "tx": sent.tx_hash}
    if sm2:
        out["sm2_public_key"] = "0x" + sm2.hex()
    return out


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The key to retire: keystore name or address.")],
    new: Annotated[str, typer.Argument(help="Keystore name of the replacement (created if missing).")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a signing key: the new one is active now, the old one retired now."""
    c = ctx_of(ctx)
    old_address, info = _signing_key(c, old)
    created = not c.keystore.exists(new)
    new_address = c.keystore.create(new) if created else c.keystore.address(new)
    sm2 = _sm2_key(c, new)
    sent = c.registry.rotate_key(_agency_admin(c, info.agency, key), old_address, new_address, sm2_public_key=sm2)
    emit(
        {
            "agency": info.agency,
            "retired": old_address,
            "active": new_address,
            "created": created,
            "tx": sent.tx_hash,
            **({"sm2_public_key": "0x" + sm2.hex()} if sm2 else {}),
        },
        as_json,
        done("{agency}: {active} active, {retired} retired"),
    )


@key_app.command("retire")
def key_retire(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Keystore name or address of the key.")],
    at: Annotated[str | None, typer.Option(help="Retire from this time (default now).")] = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retire a signing key (it cannot sign from then on; earlier anchors stay valid)."""
    c = ctx_of(ctx)
    address, info = _signing_key(c, target)
    when = parse_time(at) if at else 0
    sent = c.registry.retire_key(_agency_admin(c, info.agency, key), address, when)
    emit(
        {"key": address, "retired_at": iso_time(when) or "now", "tx": sent.tx_hash},
        as_json,
        done("{key} retired at {retired_at}"),
    )


@key_app.command("compromise")
def key_compromise(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Keystore name or address of the compromised key.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Since when it is not trusted (ISO 8601, unix seconds, or 'now'); a region admin's report only."
        ),
    ] = None,
    self_report: Annotated[
        bool, typer.Option("--self", help="The key reports itself, from now on (a key can never backdate its report).")
    ] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report a key compromised: every anchor it made at or after SINCE becomes invalid.

    A region admin of the key's agency may backdate (--since); the key itself (--self) reports
    only "from now on". A wrong report is corrected by the consortium: `key correct`."""
    c = ctx_of(ctx)
    address, info = _signing_key(c, target)
    if self_report:
        if since not in (None, "now"):
            raise InvalidInput(
                "--self reports from now on only: a key cannot backdate its own report (a region admin can)"
            )
        sent = c.registry.report_own_compromise(c.keystore.load(target))
        when = c.registry.now()
    else:
        if since is None:
            raise InvalidInput(
                "give --since TIME (a region admin's report), or --self for the key's own report from now on"
            )
        when = parse_time(since, now=c.registry.now())
        sent = c.registry.report_compromised(_agency_admin(c, info.agency, key), address, when)
    emit(
        {"key": address, "agency": info.agency, "compromised_since": iso_time(when), "tx": sent.tx_hash},
        as_json,
        done("{key} ({agency}) compromised since {compromised_since}: its anchors from then on are invalid"),
    )


@key_app.command("correct")
def key_correct(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Keystore name or address of the key.")],
    since: Annotated[str | None, typer.Option(help="The corrected time from which it is not trusted.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="The key was never compromised: clear the report.")] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose that the consortium correct a key's compromise report (M-of-N; approve with `region approve`)."""
    c = ctx_of(ctx)
    if clear == (since is not None):
        raise InvalidInput("give exactly one of --since TIME or --clear")
    address, _ = _signing_key(c, target)
    when = 0 if clear else parse_time(since, now=c.registry.now())
    result = c.registry.propose_key_correction(c.admin_key(None, key), address, when)
    emit({"key": address, "since": iso_time(when), **result.to_json()}, as_json, _show_proposal)


@key_app.command("enable")
def key_enable(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Keystore name or address of the key.")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a signing key again after its region was removed and re-admitted."""
    c = ctx_of(ctx)
    address, info = _signing_key(c, target)
    sent = c.registry.enable_key(_agency_admin(c, info.agency, key), address)
    emit({"key": address, "agency": info.agency, "tx": sent.tx_hash}, as_json, done("{key} ({agency}) enabled"))


@key_app.command("list")
def key_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the keys in the local keystore (addresses only, never the keys)."""
    c = ctx_of(ctx)
    items = []
    for n in c.keystore.names():
        sm2 = c.keystore.sm2_public_key(n)
        item = {"name": n, "address": c.keystore.address(n)}
        if sm2:  # a pair's SM2 key (sm deployments)
            item["sm2_public_key"] = "0x" + sm2.hex()
        items.append(item)
    emit(
        items,
        as_json,
        lambda d: table(
            f"Keystore {c.keystore.directory}",
            ["name", "address", "SM2"],
            [[k["name"], k["address"], "yes" if k.get("sm2_public_key") else ""] for k in d],
        ),
    )


# ---------------------------------------------------------------------- types


@type_app.command("add")
def type_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Type code, e.g. ID_CARD.")],
    schema: Annotated[Path, typer.Option(help="Field schema, a JSON file (see ledger/certtypes/).")],
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose a new certificate type; other regions approve with `region approve`."""
    c = ctx_of(ctx)
    try:
        text = schema.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read schema {schema}: {exc.strerror}") from None
    from ledger.registry import canonical_schema

    result = c.registry.propose_add_type(c.admin_key(None, key), code, canonical_schema(text))
    emit({"type": code, **result.to_json()}, as_json, _show_proposal)


@type_app.command("list")
def type_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List certificate types with their schema hash and fields."""
    items = [t.to_json() for t in ctx_of(ctx).registry.types()]
    emit(
        items,
        as_json,
        lambda d: table(
            "Certificate types",
            ["type", "title", "fields", "schema hash"],
            [
                [
                    t["type"],
                    (t["schema"] or {}).get("title", {}).get("zh", ""),
                    ", ".join(f["name"] for f in (t["schema"] or {}).get("fields", [])),
                    t["schema_hash"][:18] + "…",
                ]
                for t in d
            ],
        ),
    )


# ---------------------------------------------------------------------- recognition


def recognize_cmd(
    ctx: typer.Context,
    verifier: Annotated[str, typer.Option(help="Your region, the one that recognises.")],
    cert_type: Annotated[str, typer.Option("--type", help="Certificate type.")],
    issuer: Annotated[str, typer.Option(help="Issuing region, or 'any'.")] = "any",
    valid_from: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601 or unix; default always).")] = None,
    valid_until: Annotated[str | None, typer.Option("--until", help="End, exclusive (default open-ended).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the rule instead.")] = False,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set (or --remove) "VERIFIER recognises TYPE issued in ISSUER" for a time window."""
    c = ctx_of(ctx)
    v = region_code(verifier)
    issuer_code = 0 if issuer.lower() in ("any", "*", "0") else region_code(issuer)
    actor = c.admin_key(v, key)
    if remove:
        sent = c.registry.remove_recognition(actor, v, cert_type, issuer_code)
    else:
        start = parse_time(valid_from) if valid_from else 0
        end = parse_time(valid_until) if valid_until else 0
        sent = c.registry.set_recognition(actor, v, cert_type, issuer_code, start, end)
    data = {
        "verifier_region": v,
        "type": cert_type,
        "issuer_region": issuer_code or None,
        "removed": remove,
        "tx": sent.tx_hash,
    }
    emit(
        data,
        as_json,
        done(
            "{verifier_region} " + ("no longer recognises" if remove else "recognises") + " {type} from {issuer_region}"
        ),
    )


def recognitions_cmd(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the recognition rules in force."""
    items = [r.to_json() for r in ctx_of(ctx).registry.recognitions()]
    emit(
        items,
        as_json,
        lambda d: table(
            "Recognition rules",
            ["verifier", "recognises type", "issued in", "from", "until"],
            [
                [
                    r["verifier_region"],
                    r["type"],
                    r["issuer_region"] or "any region",
                    r["valid_from"] or "always",
                    r["valid_until"] or "open-ended",
                ]
                for r in d
            ],
        ),
    )
