"""Errors with one-line messages: what went wrong, in the domain's words."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error CertLedger reports to a user. ``code`` is stable and machine-readable."""

    code = "LEDGER_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidInput(LedgerError):
    """Malformed input: a region code, an identifier, a time, a file."""

    code = "INVALID_INPUT"


class ConfigError(LedgerError):
    """Missing deployment file, node not running, unknown key name, wrong password."""

    code = "CONFIG_ERROR"


class ChainUnavailable(LedgerError):
    """The node cannot be reached or did not answer in time."""

    code = "CHAIN_UNAVAILABLE"


class MirrorBusy(LedgerError):
    """Another indexer holds the mirror database (or took it over from this one)."""

    code = "MIRROR_BUSY"


class ContractRejected(LedgerError):
    """A contract call reverted with a decoded custom error, e.g. ``AgencySuspended(agency=GD-PSB)``."""

    code = "CONTRACT_REJECTED"

    def __init__(self, error_name: str, args: dict[str, object], *, raw: str | None = None) -> None:
        self.error_name = error_name
        self.error_args = args
        self.raw = raw
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        super().__init__(f"contract rejected the call: {error_name}({shown})", code=error_name)


def redact_url(url: str | None) -> str:
    """A node or database URL safe to show anyone: scheme, host, port and path only. User names,
    passwords, query strings (API keys) and fragments are dropped."""
    if not url:
        return ""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # IPv6
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
