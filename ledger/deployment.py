"""Deploying the contracts and the deployment file every other component reads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contracts import artifact
from .errors import ConfigError, InvalidInput
from .ids import region_code

if TYPE_CHECKING:  # reading a deployment file needs neither web3 nor eth-account
    from eth_account.signers.local import LocalAccount

    from .chain import Chain

DEFAULT_PROPOSAL_TTL = 7 * 24 * 3600
MAJORITY = (1, 2)  # the default quorum rule: approvals from more than half of the member regions
# 2: batches keyed by (agency, root), status roles, consortium actions, fractional quorum.
# 3: the cryptographic suite chosen at deployment (Consortium.cryptoSuite), SM2 public keys
# next to agency keys, SM2-signed batches with identifier tags (EIP-712 domain version 3).
# The contracts of an older format are not compatible with this code: such a file is refused.
FORMAT = 4
_FORMAT_NEWS = {
    1: "batches keyed by agency and root",
    2: "the cryptographic suite and SM2 agency keys",
    3: "holder bindings, verifier organisations and their receipts, trust snapshots",
}


class ChainMismatch(ConfigError):
    """The node does not serve the chain this deployment lives on: another chain, or one that
    lost its history (reset, restored from nothing, reorganised below the deployment)."""

    code = "CHAIN_MISMATCH"


RpcCall = Callable[[str, list[Any]], Any]  # (method, params) -> the JSON-RPC result


@dataclass
class Deployment:
    """Where the contracts live: chain id, addresses, deployment block, and the hashes of the
    chain's genesis block and of the deployment block, by which a node is recognised as serving
    this very chain (and not one that was reset or replaced)."""

    chain_id: int
    consortium: str
    agency_registry: str
    certificate_registry: str
    deployment_block: int
    deployer: str
    genesis_hash: str = ""
    deployment_block_hash: str = ""
    rpc_url: str | None = None
    code_hashes: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT
    suite: str = "intl"  # the cryptographic suite (ledger.suites), as the Consortium contract records it

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
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """A deployment as ``to_json`` wrote it (known fields only)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"no deployment file at {path}: run `certledger deploy` first") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"deployment file {path} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"deployment file {path} is not a JSON object")
        if data.get("format") != FORMAT:
            old = data.get("format", 1)
            news = ", ".join(v for k, v in _FORMAT_NEWS.items() if not isinstance(old, int) or k >= old)
            raise ConfigError(
                f"deployment file {path} describes contracts of format {old}, which this version "
                f"cannot use (it needs format {FORMAT}: {news or 'other contracts'}); deploy again "
                "with `certledger deploy` (or `certledger demo` on a fresh CERTLEDGER_HOME)"
            )
        if data.get("suite", "intl") not in ("intl", "sm"):
            raise ConfigError(f"deployment file {path} names an unknown cryptographic suite {data.get('suite')!r}")
        try:
            deployment = cls.from_json(data)
        except TypeError as exc:
            raise ConfigError(f"deployment file {path} is incomplete: {exc}") from None
        if not (deployment.genesis_hash and deployment.deployment_block_hash):
            raise ConfigError(f"deployment file {path} is incomplete: no genesis or deployment block hash")
        return deployment

    def identity_problem(self, call: RpcCall) -> str | None:
        """Why the node behind ``call`` does not serve this deployment's chain, or None when it
        does: same chain id, same genesis block, same deployment block, code at every contract."""
        chain_id = int(call("eth_chainId", []), 16)
        if chain_id != self.chain_id:
            return f"the node serves chain id {chain_id}, not the deployment's {self.chain_id}"
        genesis = call("eth_getBlockByNumber", ["0x0", False])
        if not genesis or str(genesis.get("hash", "")).lower() != self.genesis_hash.lower():
            return "the node's genesis block is not the deployment's: another chain, or one that was reset"
        block = call("eth_getBlockByNumber", [hex(self.deployment_block), False])
        if not block:
            return f"the node does not have the deployment block {self.deployment_block}: the chain lost its history"
        if str(block.get("hash", "")).lower() != self.deployment_block_hash.lower():
            return f"the node's block {self.deployment_block} is not the deployment's: the chain lost its history"
        for name, address in zip(("Consortium", "AgencyRegistry", "CertificateRegistry"), self.addresses, strict=True):
            if call("eth_getCode", [address, "latest"]) in (None, "0x", "0x0", ""):
                return f"no contract code at the {name} {address}: the chain lost its history"
        on_chain = self.chain_suite(call)
        if on_chain != self.suite:
            return (
                f"the Consortium {self.consortium} records the cryptographic suite {on_chain!r}, "
                f"the deployment file {self.suite!r}"
            )
        return None

    def chain_suite(self, call: RpcCall) -> str:
        """The suite the Consortium contract records (``cryptoSuite()``)."""
        selector = "0x" + _CRYPTO_SUITE_SELECTOR.hex()
        raw = call("eth_call", [{"to": self.consortium, "data": selector}, "latest"])
        value = bytes.fromhex(str(raw or "0x")[2:])[:32]
        return value.rstrip(b"\0").decode("ascii", "replace")

    def check(self, chain: Chain) -> None:
        """Fail clearly when the node does not serve the chain this deployment lives on."""
        problem = self.identity_problem(chain.raw)
        if problem is not None:
            raise ChainMismatch(f"{problem}; refusing to use it (redeploy only if this is meant to be a new ledger)")


_CRYPTO_SUITE_SELECTOR = bytes.fromhex("591e9e62")  # cryptoSuite()


def parse_quorum_rule(text: str | tuple[int, int]) -> tuple[int, int]:
    """A quorum rule "N/D" (approvals from more than N/D of the members): "1/2" is a majority,
    "2/3" more than two thirds, "0/1" any one region."""
    if isinstance(text, tuple):
        num, den = text
    else:
        parts = str(text).strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise InvalidInput(f"invalid quorum rule {text!r}: expected a fraction such as 1/2 (more than half)")
        num, den = (int(p) for p in parts)
    if not (0 < den <= 100 and 0 <= num < den):
        raise InvalidInput(f"invalid quorum rule {num}/{den}: need 0 <= numerator < denominator <= 100")
    return num, den


def quorum_for(members: int, rule: tuple[int, int]) -> int:
    """Approvals a proposal needs with ``members`` member regions (as Consortium.quorum)."""
    num, den = rule
    return members * num // den + 1


def deploy(
    chain: Chain,
    deployer: LocalAccount,
    founding: list[tuple[int, str]],
    quorum_rule: tuple[int, int] = MAJORITY,
    proposal_ttl: int = DEFAULT_PROPOSAL_TTL,
    suite: str = "intl",
) -> Deployment:
    """Deploy Consortium, AgencyRegistry and CertificateRegistry.

    ``founding`` lists (region code, admin address) of the founding regions; ``quorum_rule``
    (N, D) makes proposals need approvals from more than N/D of the member regions; ``suite``
    is the cryptographic suite ("intl" or "sm", see ledger.suites), fixed for the deployment's life.
    """
    from .suites import suite as suite_of

    chosen = suite_of(suite)
    if not founding:
        raise InvalidInput("at least one founding region is needed")
    codes = [region_code(c) for c, _ in founding]
    if len(set(codes)) != len(codes):
        raise InvalidInput("founding regions repeat a code")
    num, den = parse_quorum_rule(quorum_rule)
    admins = [a for _, a in founding]
    consortium, first = chain.deploy(deployer, "Consortium", codes, admins, num, den, proposal_ttl, chosen.chain_id)
    agencies, _ = chain.deploy(deployer, "AgencyRegistry", consortium)
    certificates, _ = chain.deploy(deployer, "CertificateRegistry", consortium, agencies)
    from eth_utils import keccak

    return Deployment(
        chain_id=chain.chain_id,
        consortium=consortium,
        agency_registry=agencies,
        certificate_registry=certificates,
        deployment_block=first.block_number,
        deployer=deployer.address,
        genesis_hash=chain.raw("eth_getBlockByNumber", ["0x0", False])["hash"],
        deployment_block_hash="0x" + bytes(first.receipt["blockHash"]).hex(),
        code_hashes={
            name: "0x" + keccak(hexstr=artifact(name)["deployedBytecode"]).hex()
            for name in ("Consortium", "AgencyRegistry", "CertificateRegistry")
        },
        suite=chosen.name,
    )
