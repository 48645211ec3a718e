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

from .common import JsonOpt, console, ctx_of, emit

if TYPE_CHECKING:  # the API is imported when it is served, not for every command
    from api.app import ApiSettings
    from ledger.config import Settings


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
    as_json: JsonOpt = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web page at /verify."""
    c = ctx_of(ctx)
    c.deployment  # fail early, with one line, if there is no deployment or no node  # noqa: B018
    settings = api_settings(c.settings, db_url=db)
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    emit(
        {
            "url": base,
            "web_page": f"{base}/verify",
            "api_docs": f"{base}/docs",
            "health": f"{base}/healthz",
            "workers": workers,
            "chain_id": c.deployment.chain_id,
        },
        as_json,
        lambda d: console.print(
            f"serving {d['url']} ({d['workers']} worker{'s' if d['workers'] > 1 else ''}): "
            f"web page {d['web_page']}, API docs {d['api_docs']} — Ctrl-C stops",
            markup=False,
            highlight=False,
        ),
    )
    sys.stdout.flush()
    run_api(settings, host, port, workers=workers)
