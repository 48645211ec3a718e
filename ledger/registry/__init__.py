"""The on-chain registry as a Python API, one part per contract: the Consortium (regions,
governance, types, recognition), the AgencyRegistry (agencies and keys), the
CertificateRegistry (anchoring, statuses, the verification views).

Every write takes the acting account (a region admin, an agency key, or a submitter) and
returns once the transaction is mined; a call the contracts reject raises
:class:`~ledger.errors.ContractRejected` with the decoded custom error. Every read returns
named records (``ledger.registry.results``).
"""

from __future__ import annotations

from .agencies import AgenciesApi
from .base import ANY_REGION, canonical_schema
from .certificates import CertificatesApi
from .consortium import ConsortiumApi, describe_call
from .results import (
    AgencyInfo,
    AnchoredBatch,
    BatchInfo,
    Inspection,
    KeyInfo,
    ProposalInfo,
    ProposalResult,
    RecognitionInfo,
    RegionInfo,
    SnapshotAnchor,
    TypeInfo,
)


class Registry(ConsortiumApi, AgenciesApi, CertificatesApi):
    """The deployed contracts on one chain."""


__all__ = [
    "ANY_REGION",
    "AgencyInfo",
    "AnchoredBatch",
    "BatchInfo",
    "Inspection",
    "KeyInfo",
    "ProposalInfo",
    "ProposalResult",
    "RecognitionInfo",
    "RegionInfo",
    "Registry",
    "SnapshotAnchor",
    "TypeInfo",
    "canonical_schema",
    "describe_call",
]
