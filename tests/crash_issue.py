"""Run ``certledger`` killed with SIGKILL at a named point of an issuance, for the crash tests:

    python tests/crash_issue.py POINT issue ROWS --agency ... --out ...

POINT is one of journal-written, batch-sent, batch-anchored, output-written (the points at
which ``ledger.issuance.issue`` calls its crash hook). The hook is injected here, in the test
process only: the product has no crash switch.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

import ledger.issuance
from cli import main


def _crash_at(point: str, name: str) -> None:
    if name == point:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    point, *args = sys.argv[1:]
    # the command imports ``issue`` from ledger.issuance when it runs: it finds this one
    ledger.issuance.issue = functools.partial(ledger.issuance.issue, crash=functools.partial(_crash_at, point))
    sys.exit(main(args))
