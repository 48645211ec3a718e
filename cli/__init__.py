"""``certledger``: the command line for operators, agencies and verifiers.

Every command has ``--help`` and ``--json``. Errors end the command with exit code 1 (2 for
usage errors) and one line on stderr naming the problem.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

# typer >= 0.25 vendors click; its exceptions live here.
from typer._click import exceptions as click_exc

from ledger.errors import ConfigError, LedgerError

from .binding import bind_cmd
from .common import Context, JsonOpt, console, ctx_of, emit
from .content import fetch_cmd, publish_cmd
from .demo import demo_cmd
from .export import export_cmd
from .issuing import disclose_cmd, issue_cmd, qr_cmd, reanchor_cmd, reinstate_cmd, revoke_cmd, suspend_cmd
from .mirror import index_cmd
from .operator import (
    agency_app,
    deploy_cmd,
    key_app,
    recognitions_cmd,
    recognize_cmd,
    region_app,
    type_app,
)
from .serve import serve_cmd
from .snapshot import snapshot_app
from .verifiers import receipts_app, verifier_app
from .verify import verify_cmd

app = typer.Typer(
    name="certledger",
    help="CertLedger: cross-region e-certificate mutual-recognition ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
chain_app = typer.Typer(help="The embedded chain node (anvil) for one-machine use.", no_args_is_help=True)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="State directory (env CERTLEDGER_HOME).")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC endpoint of a node (env CERTLEDGER_RPC_URL).")] = None,
) -> None:
    from ledger.config import Settings

    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    if rpc_url is not None:
        overrides["rpc_url"] = rpc_url
    ctx.obj = Context(Settings(**overrides))


# ---------------------------------------------------------------------- chain


@chain_app.command("up")
def chain_up(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="If no saved state can be restored, start an empty chain instead of refusing "
            "(damaged files stay in <home>/chain/kept-aside).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start the embedded node in the background with persistent state (reuses a running one).

    A stopped or killed node is restored from its newest good state generation plus the block
    log, and the command says what it restored and what it skipped."""
    c = ctx_of(ctx)
    if not c.settings.embedded:
        raise ConfigError("CERTLEDGER_RPC_URL points at an external node; `chain up` starts only the embedded one")
    status = c.node.start(fresh=fresh)
    emit(status.__dict__, as_json, _show_up)


def _show_up(s: dict[str, Any]) -> None:
    console.print(f"chain up: {s['url']} (pid {s['pid']}, block {s['block']}, state {s['state_file']})")
    r = s.get("restored")
    if not r:
        return
    if r["empty_chain"]:
        console.print("started an empty chain (no saved state)")
    else:
        replayed = f" + {r['replayed_blocks']} block(s) from the block log" if r["replayed_blocks"] else ""
        console.print(
            f"restored generation {r['generation']} (block {r['generation_block']}, written "
            f"{_ago(r['generation_age_seconds'])}){replayed} -> block {r['head']}, "
            f"newest block saved {_ago(r['head_age_seconds'])}"
        )
    if r["migrated_from"]:
        console.print(f"migrated {r['migrated_from']} (older install) to a generation")
    for skip in r["skipped"]:
        console.print(f"skipped {skip['file']}: {skip['reason']} ({skip['action']})")
    if r["note"]:
        console.print(f"note: {r['note']}")


def _ago(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.1f} s ago"


@chain_app.command("down")
def chain_down(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Stop the embedded node cleanly: a last state generation is written first."""
    stopped = ctx_of(ctx).node.stop()
    emit(
        {"stopped": stopped},
        as_json,
        lambda d: console.print("chain stopped" if d["stopped"] else "chain was not running"),
    )


@chain_app.command("status")
def chain_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show whether the embedded node runs, its head block, its keeper and its saved generations."""
    status = ctx_of(ctx).node.status()
    emit(status.__dict__, as_json, _show_status)


def _show_status(s: dict[str, Any]) -> None:
    console.print(f"{'running' if s['running'] else 'stopped'}: {s['url']} block {s['block']} state {s['state_file']}")
    k = s.get("keeper")
    if s.get("keeper_pid") is None:
        console.print("keeper: not running" + (" (`certledger chain up` starts it)" if s["running"] else ""))
    elif k:
        logged = k.get("log_head_written_at") or k.get("checked_at")
        age = f", checked {time.time() - k['checked_at']:.1f} s ago" if k.get("checked_at") else ""
        console.print(
            f"keeper: pid {s['keeper_pid']}, block log up to block {k.get('log_head')}{age}; full dumps every "
            f">= {k.get('full_dump_interval')} s (last took {k.get('last_dump_seconds')} s)"
            + (f"; error: {k['error']}" if k.get("error") else "")
        ) if logged else console.print(f"keeper: pid {s['keeper_pid']}")
    else:
        console.print(f"keeper: pid {s['keeper_pid']} (starting)")
    for g in s["generations"]:
        size = f"{g['bytes'] / 1e6:.1f} MB" if g["bytes"] is not None else "? MB"
        console.print(f"  generation {g['generation']}: block {g['block']}, {size}, written {_ago(g['age_seconds'])}")


app.add_typer(chain_app, name="chain")
app.command("demo")(demo_cmd)
app.command("deploy")(deploy_cmd)
app.add_typer(region_app, name="region")
app.add_typer(agency_app, name="agency")
app.add_typer(key_app, name="key")
app.add_typer(type_app, name="type")
app.add_typer(verifier_app, name="verifier")
app.add_typer(receipts_app, name="receipts")
app.add_typer(snapshot_app, name="snapshot")
app.command("recognize")(recognize_cmd)
app.command("recognitions")(recognitions_cmd)
app.command("issue")(issue_cmd)
app.command("reanchor")(reanchor_cmd)
app.command("revoke")(revoke_cmd)
app.command("suspend")(suspend_cmd)
app.command("reinstate")(reinstate_cmd)
app.command("bind")(bind_cmd)
app.command("disclose")(disclose_cmd)
app.command("qr")(qr_cmd)
app.command("export")(export_cmd)
app.command("publish")(publish_cmd)
app.command("fetch")(fetch_cmd)
app.command("index")(index_cmd)
app.command("serve")(serve_cmd)
app.command("verify")(verify_cmd)


def command() -> Any:
    """The click command tree of ``app``, with on/off flags shown without a value placeholder
    in --help (typer shows ``<bool>``, as if ``--json`` took a value)."""
    root = typer.main.get_command(app)

    def walk(cmd: Any) -> None:
        for param in cmd.params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        made = cmd.get_help_option  # --help is made per context, not listed in params

        def help_option(ctx: Any, made: Any = made) -> Any:
            option = made(ctx)
            if option is not None:
                option.metavar = ""
            return option

        cmd.get_help_option = help_option
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(root)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every failure is one line on stderr."""
    try:
        # With standalone_mode=False click returns the code of a typer.Exit instead of raising it.
        code = command().main(args=argv, prog_name="certledger", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click_exc.NoArgsIsHelpError as exc:
        exc.show()
        return 2
    except click_exc.UsageError as exc:
        sys.stderr.write(f"error: {exc.format_message()}\n")
        return 2
    except click_exc.ClickException as exc:
        sys.stderr.write(f"error: {exc.format_message()}\n")
        return 1
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except LedgerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130


def run() -> None:
    sys.exit(main())
