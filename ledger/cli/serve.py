"""``certledger serve``: run the REST API and the verification web page."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import ctx_of


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (stateless; scale out freely).")] = 1,
    db: Annotated[str | None, typer.Option(help="Mirror database URL (env CERTLEDGER_DB_URL).")] = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web page at /verify."""
    import os

    import uvicorn

    c = ctx_of(ctx)
    c.deployment  # fail early, with one line, if there is no deployment or no node  # noqa: B018
    os.environ["CERTLEDGER_HOME"] = str(c.settings.home)
    if c.settings.rpc_url:
        os.environ["CERTLEDGER_RPC_URL"] = c.settings.rpc_url
    if db:
        os.environ["CERTLEDGER_DB_URL"] = db
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_level="warning", access_log=False)
