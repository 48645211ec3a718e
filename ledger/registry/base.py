"""What every part of the registry shares: the chain, the deployment, the three contracts."""

from __future__ import annotations

import json
from typing import Any

from ..chain import Chain
from ..deployment import Deployment
from ..errors import InvalidInput

ANY_REGION = 0


def canonical_schema(schema: dict[str, Any] | str) -> str:
    """The schema JSON text as stored on chain: sorted keys, no spaces, UTF-8 kept."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"schema is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise InvalidInput("schema must be a JSON object")
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class RegistryBase:
    """The deployed contracts on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.consortium = chain.contract("Consortium", deployment.consortium)
        self.agencies = chain.contract("AgencyRegistry", deployment.agency_registry)
        self.certificates = chain.contract("CertificateRegistry", deployment.certificate_registry)

    def _logs(self, event: Any, **filters: Any) -> list[Any]:
        return self.chain.rpc(
            lambda: event.get_logs(from_block=self.deployment.deployment_block, argument_filters=filters or None)
        )

    @staticmethod
    def _calldata(contract: Any, name: str, *args: Any) -> bytes:
        return bytes.fromhex(contract.encode_abi(name, args=list(args))[2:])

    def now(self) -> int:
        """The chain's notion of now: the latest block's timestamp."""
        return int(self.chain.rpc(lambda: self.chain.w3.eth.get_block("latest"))["timestamp"])
