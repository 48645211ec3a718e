"""Compiled contract artifacts (ABI + bytecode) and decoding of their custom errors.

Artifacts are built by ``node scripts/build_contracts.mjs`` and committed; nothing here needs
a Solidity compiler.
"""

from __future__ import annotations

import json
from enum import IntEnum
from functools import cache
from importlib import resources
from typing import Any

from .ids import text_of

CONTRACT_NAMES = ("Consortium", "AgencyRegistry", "CertificateRegistry")


class Status(IntEnum):
    ACTIVE = 0
    SUSPENDED = 1
    REVOKED = 2


class Verdict(IntEnum):
    """What the on-chain ``verify`` view can tell, numbered as ICertificateRegistry.Verdict.
    OK is not VALID: the validity dates and the document's integrity are not on chain."""

    OK = 0
    REVOKED = 1
    SUSPENDED = 2
    NOT_RECOGNIZED = 3
    INVALID = 4
    UNKNOWN = 5


class Reason(IntEnum):
    NONE = 0
    NOT_ANCHORED = 1
    PROOF_MISMATCH = 2
    KEY_COMPROMISED = 3
    REGION_REMOVED = 4
    CERTIFICATE_REVOKED = 5
    BATCH_REVOKED = 6
    CERTIFICATE_SUSPENDED = 7
    BATCH_SUSPENDED = 8
    NO_RECOGNITION_RULE = 9


class ProposalKind(IntEnum):
    ADD_REGION = 0
    REMOVE_REGION = 1
    ADD_TYPE = 2
    SET_QUORUM = 3
    CALL = 4


class Role(IntEnum):
    """Who changed a status, weakest first (IAgencyRegistry.Role)."""

    NONE = 0
    AGENCY_KEY = 1
    REGION_ADMIN = 2
    CONSORTIUM = 3


class KeyState(IntEnum):
    UNKNOWN = 0
    NOT_YET_ACTIVE = 1
    ACTIVE = 2
    RETIRED = 3
    COMPROMISED = 4


def _read(name: str) -> Any:
    return json.loads(resources.files("ledger").joinpath("artifacts", name).read_text("utf-8"))


@cache
def artifact(name: str) -> dict[str, Any]:
    """The artifact of a deployable contract: ``abi``, ``bytecode``, ``compiler``, ..."""
    if name not in CONTRACT_NAMES:
        raise KeyError(name)
    return _read(f"{name}.json")


def abi(name: str) -> list[dict[str, Any]]:
    return artifact(name)["abi"]


def _signature(item: dict[str, Any]) -> str:
    def typ(inp: dict[str, Any]) -> str:
        t = inp["type"]
        if t.startswith("tuple"):
            return "(" + ",".join(typ(c) for c in inp["components"]) + ")" + t[5:]
        return t

    return f"{item['name']}({','.join(typ(i) for i in item['inputs'])})"


@cache
def _error_table() -> dict[bytes, dict[str, Any]]:
    from eth_utils import keccak  # here, not at import: reading the enums stays cheap

    table = {}
    for item in _read("errors.json"):
        table[keccak(text=_signature(item))[:4]] = item
    # Solidity's built-in Error(string) and Panic(uint256)
    table[keccak(text="Error(string)")[:4]] = {"name": "Error", "inputs": [{"name": "message", "type": "string"}]}
    table[keccak(text="Panic(uint256)")[:4]] = {"name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]}
    return table


def _show(value: Any, typ: str) -> Any:
    if typ == "bytes32":
        return text_of(value)
    if typ == "address":
        from eth_utils import to_checksum_address

        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def decode_error(data: bytes | str | None) -> tuple[str, dict[str, Any]] | None:
    """Decode revert data into (error name, {arg: value}); None if it is not a known error."""
    if data is None:
        return None
    if isinstance(data, str):
        text = data[2:] if data.startswith("0x") else data
        try:
            data = bytes.fromhex(text)
        except ValueError:
            return None
    if len(data) < 4:
        return None
    item = _error_table().get(bytes(data[:4]))
    if item is None:
        return None
    types = [i["type"] for i in item["inputs"]]
    try:
        from eth_abi import decode as abi_decode

        values = abi_decode(types, bytes(data[4:]))
    except Exception:  # malformed payload: report the name only
        return item["name"], {}
    return item["name"], {
        i["name"] or f"arg{n}": _show(v, i["type"]) for n, (i, v) in enumerate(zip(item["inputs"], values, strict=True))
    }
