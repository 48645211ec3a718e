"""The ledger's rules as the contracts apply them, written once for every reader in Python.

The mirror and the chain source answer verification's questions from different data (events
in a database, the contracts' views), but the rules that turn those data into an answer are
the same and live here: which status wins, what state a key was in at a time, which
recognition rule was in force, which anchoring of a hash counts, whether a removal voids an
anchor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from .contracts import KeyState, Status

T = TypeVar("T")


def effective_status(certificate: tuple[Status, T], batch: tuple[Status, T]) -> tuple[Status, T | None]:
    """A certificate's status from its own and its batch's: REVOKED if either is revoked, else
    SUSPENDED if either is suspended, else ACTIVE. Each input carries what set it (an event, a
    role); the winner's comes back (the certificate's first when both agree), or None when both
    are ACTIVE and never changed."""
    for wanted in (Status.REVOKED, Status.SUSPENDED):
        for status, origin in (certificate, batch):
            if status is wanted:
                return wanted, origin
    return Status.ACTIVE, certificate[1] if certificate[1] is not None else batch[1]


def key_state_at(active_from: int, retired_at: int, compromised_since: int, at: int) -> KeyState:
    """The standing of a signing key at time ``at`` (AgencyRegistry.keyStateAt): compromised
    from ``compromised_since`` on (0 = never), not yet active before ``active_from``, retired
    from ``retired_at`` on (0 = never), else active."""
    if compromised_since and at >= compromised_since:
        return KeyState.COMPROMISED
    if at < active_from:
        return KeyState.NOT_YET_ACTIVE
    if retired_at and at >= retired_at:
        return KeyState.RETIRED
    return KeyState.ACTIVE


def in_void_window(windows: Iterable[tuple[int, int]], at: int) -> int | None:
    """The cut-off of the removal window [cutoff, removed_at] holding ``at``, or None
    (Consortium.anchorVoid). A removal without a cut-off has no window."""
    for cutoff, removed_at in windows:
        if cutoff <= at <= removed_at:
            return cutoff
    return None


def rule_window_in_force(
    events: Sequence[tuple[int, bool, int, int]], at: int, *, latest: bool
) -> tuple[int, int] | None:
    """Replay a recognition rule's events ``(event time, removed, valid_from, valid_until)``,
    oldest first, and return the (valid_from, valid_until) window that covers ``at``, or None.
    ``latest``: by the rule as it stands now (whatever the events' times); else by the rule as
    it stood at ``at``. ``valid_until`` 0 is open-ended, exclusive otherwise
    (Consortium.setRecognition)."""
    current: tuple[int, int] | None = None
    for t, removed, valid_from, valid_until in events:
        if t > at and not latest:
            break
        current = None if removed else (valid_from, valid_until)
    if current is None:
        return None
    valid_from, valid_until = current
    if at < valid_from or (valid_until and at >= valid_until):
        return None
    return current
