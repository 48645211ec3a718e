"""``certledger index``: run the indexer."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .common import JsonOpt, console, ctx_of, emit, err_console

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.deployment import Deployment
    from ledger.mirror import MirrorStore


def index_cmd(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL; default SQLite in CERTLEDGER_HOME).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Catch up to the head and exit instead of following it.")
    ] = False,
    rebuild: Annotated[bool, typer.Option(help="Drop the mirror and rebuild it from the chain.")] = False,
    confirmations: Annotated[
        int | None, typer.Option(help="Blocks to stay behind the head (default 0: QBFT blocks are final).")
    ] = None,
    poll_interval: Annotated[float | None, typer.Option(help="Seconds between head polls when following.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mirror the chain into SQLite or PostgreSQL: catch up, then follow the head (Ctrl-C stops)."""
    from ledger.mirror import MirrorStore

    c = ctx_of(ctx)
    settings = c.settings
    deployment = c.deployment
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = MirrorStore(db or settings.mirror_url, indexer=True)
    store.claim()  # one indexer per mirror: before touching it
    try:
        store.open(deployment, rebuild=rebuild)
        _index(store, deployment, settings, once, confirmations, poll_interval, as_json)
    finally:
        store.dispose()


def _index(
    store: MirrorStore,
    deployment: Deployment,
    settings: Settings,
    once: bool,
    confirmations: int | None,
    poll_interval: float | None,
    as_json: bool,
) -> None:
    from ledger.mirror import Indexer, IndexerConfig, MirrorQueries

    config = IndexerConfig.from_settings(settings, confirmations=confirmations, poll_interval=poll_interval)
    indexer = Indexer(settings.node_url, deployment, store, config)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[certs]:,} certificates"),
        TimeElapsedColumn(),
    ]
    start, _ = store.checkpoint()
    with Progress(*columns, console=err_console, disable=as_json) as bar:
        task = bar.add_task("indexing blocks", total=None, certs=0)

        def progress(block: int, target: int, certs: int) -> None:
            bar.update(task, completed=max(0, block - start), total=max(1, target - start), certs=certs)

        if once:
            certs = indexer.catch_up(progress)
        else:
            signal.signal(signal.SIGTERM, lambda *_: indexer.stop())
            try:
                indexer.run(progress)
            except KeyboardInterrupt:
                indexer.stop()
            certs = None
    head = MirrorQueries(store).head()
    data: dict[str, Any] = {
        "mirror_block": head.block,
        "chain_head": head.chain_head,
        "lag_blocks": head.lag_blocks,
        "certificates": MirrorQueries(store).certificate_count(),
        "db": store.engine.url.render_as_string(hide_password=True),
    }
    if certs is not None:
        data["indexed_now"] = certs
    emit(
        data,
        as_json,
        lambda d: console.print(
            f"mirror at block {d['mirror_block']} (chain head {d['chain_head']}, lag {d['lag_blocks']}): "
            f"{d['certificates']:,} certificates in {d['db']}"
        ),
    )
