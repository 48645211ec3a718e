"""``certledger snapshot``: trust snapshots for verification with no node and no mirror.

An operator makes one from a current mirror (``create``), region admins sign it (``sign``;
a quorum of regions makes it trusted), it is published (``publish``), and counters pin the
consortium once while online (``trust``) and then verify with ``certledger verify --offline``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.errors import InvalidInput

from .common import Context, JsonOpt, console, ctx_of, emit, err_console
from .content import IpfsOpt, StoreOpt, content_store

if TYPE_CHECKING:
    from ledger.snapshot import OpenSnapshot, Snapshot

snapshot_app = typer.Typer(
    help="Trust snapshots: make, sign, publish, pin the consortium (for verify --offline).", no_args_is_help=True
)

TrustOpt = Annotated[
    Path | None, typer.Option("--trust", help="The pinned consortium (default: $CERTLEDGER_HOME/trust.json).")
]


def trust_path(c: Context, given: Path | None) -> Path:
    return given or c.settings.home / "trust.json"


def snapshot_cache(c: Context) -> Path:
    return c.settings.home / "snapshots"


def _current_mirror(c: Context, db: str | None) -> tuple[Any, Any]:
    """The mirror (store, queries), refused unless it is current with the node."""
    from ledger.mirror.queries import MirrorQueries
    from ledger.mirror.store import MirrorStore
    from ledger.verification.factory import mirror_verifier, node_watch

    store = MirrorStore(db or c.settings.mirror_url)
    queries = MirrorQueries(store)
    verifier = mirror_verifier(c.settings, c.deployment, queries, node_watch(c.settings, c.deployment))
    from ledger.verification.sources import SourceUnavailable

    try:
        verifier.source.head()
    except SourceUnavailable as exc:
        store.dispose()
        raise InvalidInput(f"the mirror is not current, so neither would a snapshot be: {exc}") from None
    return store, queries


@snapshot_app.command("create")
def snapshot_create(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="The snapshot file to write.")],
    sign: Annotated[
        list[str] | None, typer.Option("--sign", help="Sign it with this region admin's key too (repeatable).")
    ] = None,
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a trust snapshot of the ledger as the (current) mirror has it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger.snapshot import Snapshot, create

    c = ctx_of(ctx)
    store, queries = _current_mirror(c, db)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err_console,
            disable=as_json,
        ) as bar:
            task = bar.add_task("snapshot", total=None)

            def progress(table_name: str, rows: int) -> None:
                bar.update(task, description=f"snapshot: {table_name}", advance=rows)

            create(store, c.deployment, out, progress=progress)
    finally:
        queries.close()
        store.dispose()
    snap = Snapshot.read(out)
    for name in sign or []:
        snap.sign(c.keystore.load(name))
    emit(_facts(snap), as_json, _show)


@snapshot_app.command("sign")
def snapshot_sign(
    ctx: typer.Context,
    snapshot: Annotated[Path, typer.Argument(help="The snapshot file.")],
    key: Annotated[str, typer.Option("--key", "-k", help="Keystore name of your region admin key.")],
    as_json: JsonOpt = False,
) -> None:
    """Add your region admin signature to a snapshot (check its block and counts first: `show`)."""
    from ledger.snapshot import Snapshot

    c = ctx_of(ctx)
    snap = Snapshot.read(snapshot)
    snap.sign(c.keystore.load(key))
    emit(_facts(snap), as_json, _show)


@snapshot_app.command("show")
def snapshot_show(
    ctx: typer.Context,
    snapshot: Annotated[Path, typer.Argument(help="The snapshot file.")],
    trust: TrustOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What a snapshot holds, who signed it, and (with a pinned consortium) whether it is trusted."""
    from ledger.snapshot import Snapshot, SnapshotError, Trust

    c = ctx_of(ctx)
    snap = Snapshot.read(snapshot)
    facts = _facts(snap)
    path = trust_path(c, trust)
    if path.exists():
        try:
            facts["trusted_by_regions"] = Trust.load(path).check(snap.manifest, snap.signatures)
        except SnapshotError as exc:
            facts["not_trusted"] = str(exc)
    emit(facts, as_json, _show)


@snapshot_app.command("trust")
def snapshot_trust(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to pin it (default: the trust file).")] = None,
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin the consortium (member regions, their admins, the quorum rule) while online.

    Read from the current mirror and checked against the chain: every admin named is an admin
    of its region on chain, and each region has as many admins as the chain counts."""
    from ledger.snapshot import Trust

    c = ctx_of(ctx)
    store, queries = _current_mirror(c, db)
    try:
        pinned = Trust.of_mirror(queries, c.deployment, queries.head().block)
    finally:
        queries.close()
        store.dispose()
    reg = c.registry
    for region, admins in pinned.admins.items():
        on_chain = reg.region(region)
        if not on_chain.member or on_chain.admin_count != len(admins):
            raise InvalidInput(f"the mirror's admins of region {region} differ from the chain's; index again")
        for admin in admins:
            if reg.admin_region(admin) != region:
                raise InvalidInput(f"{admin} is not an admin of region {region} on chain; index again")
    if reg.quorum_rule() != pinned.rule:
        raise InvalidInput("the mirror's quorum rule differs from the chain's; index again")
    path = trust_path(c, out)
    pinned.save(path)
    emit(
        {**pinned.to_json(), "quorum": pinned.quorum, "path": str(path)},
        as_json,
        lambda d: console.print(
            f"pinned the consortium of {len(d['admins'])} regions (quorum {d['quorum']}) at block "
            f"{d['block']} in {d['path']}",
            markup=False,
            highlight=False,
        ),
    )


def open_trusted(c: Context, snapshot: Path, trust: Path | None) -> OpenSnapshot:
    """Open a snapshot trusted by the pinned consortium; a trusted newer membership moves the pin."""
    from ledger.snapshot import Snapshot, Trust

    path = trust_path(c, trust)
    pinned = Trust.load(path)
    opened = Snapshot.read(snapshot).open(pinned, snapshot_cache(c))
    if opened.manifest.block > pinned.block:
        recorded = opened.trust()
        if (recorded.admins, recorded.rule) != (pinned.admins, pinned.rule):
            recorded.save(path)
            err_console.print(
                f"the consortium changed by block {recorded.block}: pinned its new membership in {path}",
                markup=False,
                highlight=False,
            )
    return opened


def _facts(snap: Snapshot) -> dict[str, Any]:
    m = snap.manifest
    return {
        "path": str(snap.path),
        "block": m.block,
        "block_time": m.to_json()["block_time_iso"],
        "digest": "0x" + m.digest().hex(),
        "suite": m.suite,
        "counts": m.counts,
        "signers": snap.signers(),
        "size_bytes": snap.path.stat().st_size,
    }


def _show(d: dict[str, Any]) -> None:
    counts = d["counts"]
    console.print(
        f"{d['path']}: block {d['block']} ({d['block_time']}), {counts['certificates']:,} certificates in "
        f"{counts['batches']:,} batches, {counts['revoked']:,} revoked, {counts['suspended']:,} suspended; "
        f"{d['size_bytes'] / 1e6:.1f} MB",
        markup=False,
        highlight=False,
    )
    console.print(f"  digest {d['digest']}", markup=False, highlight=False)
    console.print(f"  signed by {', '.join(d['signers']) or 'nobody yet'}", markup=False, highlight=False)
    if "trusted_by_regions" in d:
        console.print(f"  trusted: signed by regions {d['trusted_by_regions']}", markup=False, highlight=False)
    if "not_trusted" in d:
        console.print(f"  NOT trusted: {d['not_trusted']}", markup=False, highlight=False)


@snapshot_app.command("publish")
def snapshot_publish(
    ctx: typer.Context,
    snapshot: Annotated[Path, typer.Argument(help="The signed snapshot file.")],
    key: Annotated[str, typer.Option("--key", "-k", help="Keystore name of your region admin key (anchors it).")],
    store: StoreOpt = None,
    ipfs: IpfsOpt = None,
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a snapshot signed by the quorum in IPFS and anchor its CID, block and digest on chain."""
    from ledger.snapshot import Snapshot, Trust

    c = ctx_of(ctx)
    snap = Snapshot.read(snapshot)
    mirror, queries = _current_mirror(c, db)
    try:  # the consortium as it stands now must trust it (a quorum of today's member regions)
        regions = Trust.of_mirror(queries, c.deployment, queries.head().block).check(snap.manifest, snap.signatures)
    finally:
        queries.close()
        mirror.dispose()
    admin = c.keystore.load(key)
    target = content_store(c.settings, store, ipfs)
    cid = target.add(snapshot.read_bytes())  # public trust data, nothing personal: stored as it is
    target.pin(cid)
    digest = snap.manifest.digest()
    sent = c.registry.anchor_snapshot(admin, snap.manifest.block, digest, str(cid))
    emit(
        {
            "cid": str(cid),
            "block": snap.manifest.block,
            "digest": "0x" + digest.hex(),
            "signed_by_regions": regions,
            "store": target.location,
            "tx": sent.tx_hash,
            "anchored_in_block": sent.block_number,
        },
        as_json,
        lambda d: console.print(
            f"published {d['cid']} (snapshot of block {d['block']}, signed by regions {d['signed_by_regions']}) "
            f"to {d['store']}; anchored in block {d['anchored_in_block']}",
            markup=False,
            highlight=False,
        ),
    )


@snapshot_app.command("fetch")
def snapshot_fetch(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the snapshot.")],
    cid: Annotated[
        str | None, typer.Argument(help="The snapshot's CID (default: the latest one anchored on chain).")
    ] = None,
    store: StoreOpt = None,
    ipfs: IpfsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a published snapshot by its CID (checked), or the latest one anchored on chain."""
    from ledger.snapshot import Snapshot, SnapshotError

    c = ctx_of(ctx)
    anchored = None
    if cid is None:
        published = c.registry.snapshot_anchors()
        if not published:
            raise InvalidInput("no snapshot has been published on chain yet")
        anchored = max(published, key=lambda a: (a.height, a.block))
        cid = anchored.cid
    data = content_store(c.settings, store, ipfs).cat(cid)  # checked against the CID
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    try:
        snap = Snapshot.read(tmp)
        if anchored is not None and snap.manifest.digest() != anchored.digest:
            raise SnapshotError(f"the snapshot stored under {cid} is not the one anchored on chain (digest differs)")
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(out)
    snap.path = out
    emit({**_facts(snap), "cid": cid}, as_json, _show)
