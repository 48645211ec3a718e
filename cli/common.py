"""What every command shares: settings, the keystore, the chain and deployment, output.

The command line starts fast (``certledger --help`` loads neither web3 nor SQLAlchemy): the
core's heavy modules are imported where a command first needs them, here and in each command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ledger.errors import ConfigError, redact_url

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.chain import Chain
    from ledger.config import Settings
    from ledger.deployment import Deployment
    from ledger.keystore import Keystore
    from ledger.node import EmbeddedNode
    from ledger.registry import Registry

console = Console(soft_wrap=True)
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", "-k", help="Keystore name of the acting key (default: admin-<region>).", envvar="CERTLEDGER_KEY"
    ),
]


@dataclass
class Context:
    """Lazily built: a command that only reads the keystore never touches the chain."""

    settings: Settings

    @cached_property
    def keystore(self) -> Keystore:
        from ledger.keystore import Keystore

        password = self.settings.password.get_secret_value() if self.settings.password else None
        return Keystore(self.settings.keystore_dir, password, self.settings.keystore_scrypt_n)

    @cached_property
    def node(self) -> EmbeddedNode:
        from ledger.node import EmbeddedNode

        return EmbeddedNode.from_settings(self.settings)

    @cached_property
    def chain(self) -> Chain:
        from ledger.chain import Chain

        chain = Chain(
            self.settings.node_url,
            timeout=self.settings.rpc_timeout,
            tx_timeout=self.settings.tx_timeout,
            gas_price=self.settings.gas_price,
        )
        if not chain.is_up():
            hint = "start it with `certledger chain up`" if self.settings.embedded else "check CERTLEDGER_RPC_URL"
            raise ConfigError(f"no node answers at {redact_url(self.settings.node_url)}: {hint}")
        return chain

    @cached_property
    def deployment(self) -> Deployment:
        from ledger.deployment import Deployment

        deployment = Deployment.load(self.settings.deployment_path)
        deployment.check(self.chain)
        return deployment

    @cached_property
    def registry(self) -> Registry:
        from ledger.registry import Registry

        return Registry(self.chain, self.deployment)

    # -------------------------------------------------------------- acting keys

    def admin_key(self, region: int | None, explicit: str | None) -> LocalAccount:
        """The acting region admin: --key, else admin-<region>, else the only admin-* key."""
        if explicit:
            return self.keystore.load(explicit)
        if region is not None and self.keystore.exists(f"admin-{region}"):
            return self.keystore.load(f"admin-{region}")
        admins = [n for n in self.keystore.names() if n.startswith("admin-")]
        if region is None and len(admins) == 1:
            return self.keystore.load(admins[0])
        raise ConfigError("which admin acts? pass --key NAME (a keystore name)")


def ctx_of(typer_ctx: typer.Context) -> Context:
    obj = typer_ctx.find_root().obj
    if not isinstance(obj, Context):
        from ledger.config import Settings

        obj = Context(Settings())
        typer_ctx.find_root().obj = obj
    return obj


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or through ``human``."""
    if as_json or human is None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        human(data)


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def done(message: str) -> Callable[[Any], None]:
    def show(data: Any) -> None:
        console.print(message.format(**data) if isinstance(data, dict) else message)

    return show


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]
