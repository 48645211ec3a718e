"""Deploying the contracts and the deployment file every other component reads."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from .chain import Chain
from .contracts import artifact
from .errors import ConfigError, InvalidInput
from .ids import region_code

DEFAULT_PROPOSAL_TTL = 7 * 24 * 3600
FORMAT = 1


@dataclass
class Deployment:
    """Where the contracts live: chain id, addresses, deployment block."""

    chain_id: int
    consortium: str
    agency_registry: str
    certificate_registry: str
    deployment_block: int
    deployer: str
    rpc_url: str | None = None
    code_hashes: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    @property
    def addresses(self) -> list[str]:
        return [self.consortium, self.agency_registry, self.certificate_registry]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"no deployment file at {path}: run `certledger deploy` first") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"deployment file {path} is unreadable: {exc}") from None
        try:
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except TypeError as exc:
            raise ConfigError(f"deployment file {path} is incomplete: {exc}") from None

    def check(self, chain: Chain) -> None:
        """Fail clearly when the file does not describe the chain we are connected to."""
        if chain.chain_id != self.chain_id:
            raise ConfigError(f"deployment is for chain id {self.chain_id}, node reports {chain.chain_id}")
        if not chain.has_code(self.certificate_registry):
            raise ConfigError(
                f"no contract at {self.certificate_registry} on chain {self.chain_id}: the chain was reset; "
                "deploy again"
            )


def deploy(
    chain: Chain,
    deployer: LocalAccount,
    founding: list[tuple[int, str]],
    quorum: int,
    proposal_ttl: int = DEFAULT_PROPOSAL_TTL,
) -> Deployment:
    """Deploy Consortium, AgencyRegistry and CertificateRegistry.

    ``founding`` lists (region code, admin address) of the founding regions.
    """
    if not founding:
        raise InvalidInput("at least one founding region is needed")
    codes = [region_code(c) for c, _ in founding]
    if len(set(codes)) != len(codes):
        raise InvalidInput("founding regions repeat a code")
    if not 1 <= quorum <= len(codes):
        raise InvalidInput(f"quorum {quorum} must be between 1 and {len(codes)} (the founding regions)")
    admins = [a for _, a in founding]
    consortium, first = chain.deploy(deployer, "Consortium", codes, admins, quorum, proposal_ttl)
    agencies, _ = chain.deploy(deployer, "AgencyRegistry", consortium)
    certificates, _ = chain.deploy(deployer, "CertificateRegistry", consortium, agencies)
    return Deployment(
        chain_id=chain.chain_id,
        consortium=consortium,
        agency_registry=agencies,
        certificate_registry=certificates,
        deployment_block=first.block_number,
        deployer=deployer.address,
        code_hashes={
            name: "0x" + keccak(hexstr=artifact(name)["deployedBytecode"]).hex()
            for name in ("Consortium", "AgencyRegistry", "CertificateRegistry")
        },
    )
