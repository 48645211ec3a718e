"""``certledger serve``: run the REST API and the verification web page.

The app is built by ``api.app.create_app`` with the settings this command resolved (options,
environment, defaults), never through environment variables set on the way: each worker
process gets the same settings object.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import InvalidInput

from .common import Context, JsonOpt, console, ctx_of, emit

if TYPE_CHECKING:  # the API is imported when it is served, not for every command
    from api.app import ApiSettings
    from ledger.config import Settings
    from ledger.receipts import AnchorSchedule


def api_settings(settings: Settings, **overrides: object) -> ApiSettings:
    """The API's settings: the core settings this command resolved, the API's own (from the
    environment: CERTLEDGER_IMAGE_WORKERS, ...), and ``overrides`` that are not None."""
    from api.app import ApiSettings

    return ApiSettings(**{**settings.model_dump(), **{k: v for k, v in overrides.items() if v is not None}})


WORKER_HEALTHCHECK_SECONDS = 60  # how long a worker may take to answer the supervisor's ping


def run_api(settings: ApiSettings, host: str, port: int, *, workers: int = 1) -> None:
    """Serve ``create_app(settings)`` with uvicorn: in this process, or in ``workers``
    processes sharing one listening socket (each builds its app from the same settings)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.app import create_app

    factory = functools.partial(create_app, settings)
    config = uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # the supervisor kills a worker that does not answer its ping in time; a worker starting
        # on a busy machine (importing the app takes seconds there) must not be killed in a loop
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    server = uvicorn.Server(config)
    if workers <= 1:
        server.run()
        return
    socket = config.bind_socket()
    Multiprocess(config, sockets=[socket]).run()


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (stateless; scale out freely).")] = 1,
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            metavar="VERIFIER=ACCOUNT",
            help="Anchor this verifier's receipts on schedule from its keystore account (repeatable).",
        ),
    ] = None,
    anchor_every: Annotated[float, typer.Option(help="Seal receipts once the oldest waiting is this old (s).")] = 30.0,
    anchor_at_most: Annotated[int, typer.Option(help="Seal receipts once this many wait; the largest batch.")] = 1_000,
    as_json: JsonOpt = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web page at /verify."""
    c = ctx_of(ctx)
    c.deployment  # fail early, with one line, if there is no deployment or no node  # noqa: B018
    settings = api_settings(c.settings, db_url=db)
    schedule = receipt_schedule(c, settings.mirror_url, anchor or [], anchor_every, anchor_at_most)
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    emit(
        {
            "url": base,
            "web_page": f"{base}/verify",
            "api_docs": f"{base}/docs",
            "health": f"{base}/healthz",
            "workers": workers,
            "chain_id": c.deployment.chain_id,
            "anchoring_receipts_of": [a.verifier for a in schedule.anchorers] if schedule else [],
        },
        as_json,
        lambda d: console.print(
            f"serving {d['url']} ({d['workers']} worker{'s' if d['workers'] > 1 else ''}): "
            f"web page {d['web_page']}, API docs {d['api_docs']}"
            + (
                f", anchoring the receipts of {', '.join(d['anchoring_receipts_of'])}"
                if d["anchoring_receipts_of"]
                else ""
            )
            + " — Ctrl-C stops",
            markup=False,
            highlight=False,
        ),
    )
    sys.stdout.flush()
    if schedule is not None:
        schedule.start()
    try:
        run_api(settings, host, port, workers=workers)
    finally:
        if schedule is not None:
            schedule.stop()


def receipt_schedule(
    c: Context, mirror_url: str, pairs: list[str], every: float, at_most: int
) -> AnchorSchedule | None:
    """The anchoring of the receipts of the verifiers named ``VERIFIER=ACCOUNT``, run in this
    (the supervising) process beside the workers; None when there are none. A failure is one
    line on stderr and is tried again later: the API keeps serving, the receipts wait."""
    if not pairs:
        return None
    from ledger.mirror.store import make_engine
    from ledger.receipts import AnchorSchedule, ReceiptAnchorer

    from .verifiers import receipt_anchorer

    engine = make_engine(mirror_url)
    anchorers = []
    for pair in pairs:
        verifier, sep, account = pair.partition("=")
        if not sep or not verifier or not account:
            raise InvalidInput(f"--anchor takes VERIFIER=ACCOUNT, not {pair!r}")
        anchorers.append(receipt_anchorer(c, engine, verifier, account, every=every, at_most=at_most))

    def failed(anchorer: ReceiptAnchorer, exc: Exception) -> None:
        print(f"warning: anchoring {anchorer.verifier}'s receipts failed ({exc}); will try again", file=sys.stderr)

    return AnchorSchedule(anchorers, on_error=failed)
