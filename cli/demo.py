"""``certledger demo``: the whole system on embedded defaults, in one command."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import Context, JsonOpt, console, ctx_of, emit
from .serve import api_settings, run_api

if TYPE_CHECKING:
    from ledger.mirror import Indexer, MirrorStore


def demo_cmd(
    ctx: typer.Context,
    serve: Annotated[
        bool, typer.Option(help="Run the indexer and the API until Ctrl-C (--no-serve: set up and exit).")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the API and web page.")] = 8000,
    suite: Annotated[
        str | None,
        typer.Option(
            help="Cryptographic suite of a new deployment: intl or sm (SM2/SM3); default: the existing one's, else intl."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The whole system on one machine, with sample certificates, in one command.

    Chain, deployment, three regions with agencies, types and recognition rules, sample
    certificates issued, the indexer and the API on localhost. Ctrl-C stops everything cleanly;
    a second run continues with the same state."""
    from ledger.bootstrap import ensure_default_consortium, ensure_sample_certificates
    from ledger.config import Settings
    from ledger.mirror import Indexer, IndexerConfig, MirrorStore
    from ledger.suites import suite as suite_of

    if suite is not None:
        suite = suite_of(suite).name
    c = ctx_of(ctx)
    overrides: dict[str, Any] = {}
    if c.settings.password is None:
        # Demo keys guard a throw-away local chain; real deployments set CERTLEDGER_PASSWORD.
        overrides["password"] = "certledger-demo"
    if "CERTLEDGER_KEYSTORE_SCRYPT_N" not in os.environ:
        overrides["keystore_scrypt_n"] = 2**12  # geth's light KDF, for throw-away demo keys
    settings = Settings(**{**c.settings.model_dump(), **overrides})
    c = Context(settings)
    ctx.find_root().obj = c
    say = (lambda _: None) if as_json else console.print
    started_chain = False
    if settings.embedded:
        started_chain = not c.node.status().running
        status = c.node.start()
        say(f"[bold]chain[/] {status.url} (block {status.block}, state {status.state_file})")
    try:
        report = ensure_default_consortium(c.chain, c.keystore, settings.deployment_path, progress=say, suite=suite)
        registry = c.registry
        say("[bold]sample certificates[/] (GD-PSB ID cards, GD-AMR business licences)")
        samples = ensure_sample_certificates(registry, c.keystore, settings.home / "demo")
        store = MirrorStore(settings.mirror_url, indexer=True)
        store.claim()  # one indexer per mirror, the demo's included; released by dispose()
        config = IndexerConfig.from_settings(settings, confirmations=0)
        try:
            store.open(c.deployment)
            indexer = Indexer(settings.node_url, c.deployment, store, config)
            indexed = indexer.catch_up()
        except BaseException:
            store.dispose()
            raise
        sample_file, sample_qr = samples.sample_files()
        base = f"http://127.0.0.1:{port}"
        summary = {
            **report.to_json(),
            "rpc_url": settings.node_url,
            "home": str(settings.home),
            "mirror": settings.mirror_url,
            "regions": [r.to_json() for r in registry.regions()],
            "agencies": [a.code for a in registry.agencies_list()],
            "types": [t.code for t in registry.types()],
            "recognitions": len(registry.recognitions()),
            "issued": {"ID_CARD": samples.id_cards.issued, "BUSINESS_LICENSE": samples.licences.issued},
            "indexed_now": indexed,
            "sample_certificate": str(sample_file),
            "sample_qr": str(sample_qr),
            "urls": {"web_page": f"{base}/verify", "api_docs": f"{base}/docs", "health": f"{base}/healthz"},
        }
        emit(summary, as_json, _show)
        if not serve:
            store.dispose()
            return
        try:
            _serve(c, store, indexer, port)
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: a clean stop
            pass
    finally:
        if started_chain and serve:
            c.node.stop()
            say("chain stopped (state kept; run the demo again to continue)")


def _show(d: dict[str, Any]) -> None:
    console.print(
        f"\n[bold green]ready[/]: {len(d['regions'])} regions, {len(d['agencies'])} agencies, "
        f"{len(d['types'])} certificate types, {d['recognitions']} recognition rules; "
        f"{d['issued']['ID_CARD']} ID cards and {d['issued']['BUSINESS_LICENSE']} business licences issued"
    )
    u = d["urls"]
    console.print(f"  web page   {u['web_page']}   (upload the QR below, or paste its payload)")
    console.print(f"  API docs   {u['api_docs']}")
    console.print(f"  sample     {d['sample_certificate']}")
    console.print(f"  its QR     {d['sample_qr']}")
    console.print(
        f"  try        curl -s -X POST '{u['web_page'].replace('/verify', '/v1/verify')}?verifier_region=330000' "
        f"-H 'content-type: application/json' --data @{d['sample_certificate']}"
    )


def _serve(c: Context, store: MirrorStore, indexer: Indexer, port: int) -> None:
    follower = threading.Thread(target=indexer.run, name="indexer", daemon=True)
    follower.start()
    console.print(f"\nserving on http://127.0.0.1:{port} — Ctrl-C stops everything")
    try:
        run_api(api_settings(c.settings), "127.0.0.1", port, workers=1)
    finally:
        indexer.stop()
        follower.join(timeout=10)
        store.dispose()
