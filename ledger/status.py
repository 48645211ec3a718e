"""Changing a certificate's or a whole batch's status: suspend, reinstate, revoke (final).
The acting account is an enabled key of the agency or an admin of its region; the consortium
acts through proposals (``Registry.propose_status``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from .contracts import Status
from .errors import InvalidInput
from .registry import Registry


@dataclass
class StatusChange:
    subject: str  # certificate hash or batch root
    kind: str  # "certificate" or "batch"
    agency: str
    status: str
    reason: str
    tx: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def change_status(
    registry: Registry,
    actor: LocalAccount,
    status: Status,
    reason: str,
    *,
    cert_hash: bytes | None = None,
    agency: str | None = None,
    batch_root: bytes | None = None,
) -> StatusChange:
    """Suspend (SUSPENDED), reinstate (ACTIVE) or revoke (REVOKED) a certificate of ``agency``
    by hash, or a whole batch by root. ``actor`` is an active key of the agency or an admin of
    its region."""
    if (cert_hash is None) == (batch_root is None):
        raise InvalidInput("give a certificate hash or a batch root")
    if batch_root is not None:
        agency = agency or batch_agency(registry, batch_root)
        if registry.batch(agency, batch_root) is None:
            raise InvalidInput(f"{agency} anchored no batch with root 0x{batch_root.hex()}")
        sent = registry.set_batch_status(actor, agency, batch_root, status, reason)
        return StatusChange(
            "0x" + batch_root.hex(), "batch", agency, status.name, reason, sent.tx_hash, sent.block_number
        )
    if not agency:
        raise InvalidInput("a certificate hash needs its agency (--agency), or give the certificate file")
    assert cert_hash is not None
    sent = registry.set_certificate_status(actor, agency, cert_hash, status, reason)
    return StatusChange(
        "0x" + cert_hash.hex(), "certificate", agency, status.name, reason, sent.tx_hash, sent.block_number
    )


def batch_agency(registry: Registry, root: bytes) -> str:
    """The agency of a batch root, when exactly one agency anchored it."""
    agencies = registry.agencies_with_batch(root)
    if not agencies:
        raise InvalidInput(f"no batch with root 0x{root.hex()} on chain")
    if len(agencies) > 1:
        raise InvalidInput(f"several agencies anchored root 0x{root.hex()} ({', '.join(agencies)}): pass --agency")
    return agencies[0]
