"""Verification: composable checks over the mirror or the chain, combined into a verdict."""

from .checks import DEFAULT_CHECKS, Case, Check, Outcome, Verdict
from .engine import VerificationResult, Verifier
from .sources import ChainSource, MirrorSource, SourceUnavailable

__all__ = [
    "DEFAULT_CHECKS",
    "Case",
    "ChainSource",
    "Check",
    "MirrorSource",
    "Outcome",
    "SourceUnavailable",
    "Verdict",
    "VerificationResult",
    "Verifier",
]
