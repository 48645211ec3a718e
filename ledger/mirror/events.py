"""Decoding the contracts' logs straight from ``eth_getLogs`` JSON, without web3's per-log
processing (which caps near 10,000 logs/s): topics and data are decoded with eth-abi, and the
one big array — the certificate hashes of ``BatchAnchored`` — is sliced out of the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ..contracts import abi
from ..deployment import Deployment
from ..ids import text_of


@dataclass(frozen=True)
class Log:
    """One decoded log. ``args`` holds the event's arguments (bytes32 codes as text,
    addresses checksummed); ``BatchAnchored`` carries ``certHashes`` as one bytes object of
    32-byte words, in leaf order, its ``sm2Signature`` and its ``identifierTags`` as one bytes
    object of 16-byte tags in the same order (empty: none)."""

    event: str
    args: dict[str, Any]
    block: int
    block_hash: bytes
    tx: bytes
    log_index: int


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


def _convert(value: Any, typ: str) -> Any:
    if typ == "bytes32":
        return value  # kept raw; callers decide (roots and hashes stay bytes)
    if typ == "address":
        return to_checksum_address(value)
    return value


def _generic_decoder(item: dict[str, Any]) -> Callable[[list[str], bytes], dict[str, Any]]:
    indexed = [i for i in item["inputs"] if i["indexed"]]
    plain = [i for i in item["inputs"] if not i["indexed"]]
    plain_types = [i["type"] for i in plain]

    def decode(topics: list[str], data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for inp, topic in zip(indexed, topics[1:], strict=True):
            (value,) = abi_decode([inp["type"]], bytes.fromhex(topic[2:]))
            args[inp["name"]] = _convert(value, inp["type"])
        if plain:
            for inp, value in zip(plain, abi_decode(plain_types, data), strict=True):
                args[inp["name"]] = _convert(value, inp["type"])
        return args

    return decode


def _word(data: bytes, at: int) -> int:
    if at + 32 > len(data):
        raise ValueError("truncated BatchAnchored data")
    return int.from_bytes(data[at : at + 32], "big")


def _batch_anchored(topics: list[str], data: bytes) -> dict[str, Any]:
    # data = abi.encode(address key, bytes32[] certHashes, bytes sm2Signature, bytes16[] identifierTags):
    # key, three offsets, then each dynamic part as its length and its words
    at = _word(data, 32)
    length = _word(data, at)
    hashes = data[at + 32 : at + 32 + 32 * length]
    if len(hashes) != 32 * length:
        raise ValueError("truncated BatchAnchored data")
    at = _word(data, 64)
    sm2_length = _word(data, at)
    sm2_signature = data[at + 32 : at + 32 + sm2_length]
    at = _word(data, 96)
    n_tags = _word(data, at)
    words = data[at + 32 : at + 32 + 32 * n_tags]
    if len(sm2_signature) != sm2_length or len(words) != 32 * n_tags:
        raise ValueError("truncated BatchAnchored data")
    return {
        "root": bytes.fromhex(topics[1][2:]),
        "agency": bytes.fromhex(topics[2][2:]),
        "certType": bytes.fromhex(topics[3][2:]),
        "key": to_checksum_address(data[12:32]),
        "certHashes": hashes,
        "sm2Signature": bytes(sm2_signature),
        "identifierTags": b"".join(words[i : i + 16] for i in range(0, len(words), 32)),  # 16 bytes each
    }


WATCHED = {
    "Consortium": (
        "RegionAdmitted",
        "RegionRemoved",
        "RegionAdminAdded",
        "RegionAdminRemoved",
        "QuorumRuleChanged",
        "CertificateTypeAdded",
        "RecognitionSet",
        "RecognitionRemoved",
    ),
    "AgencyRegistry": (
        "AgencyRegistered",
        "AgencyTypeSet",
        "AgencySuspendedSet",
        "AgencyCreditCodeSet",
        "KeyAdded",
        "KeyRetired",
        "KeyCompromised",
        "KeyCompromiseCorrected",
        "KeyEnabled",
    ),
    "CertificateRegistry": ("BatchAnchored", "CertificateStatusChanged", "BatchStatusChanged", "HolderBound"),
}


class LogDecoder:
    """Decodes the logs of one deployment; logs of other contracts or events are skipped."""

    def __init__(self, deployment: Deployment) -> None:
        addresses = {
            "Consortium": deployment.consortium,
            "AgencyRegistry": deployment.agency_registry,
            "CertificateRegistry": deployment.certificate_registry,
        }
        self.addresses = [a.lower() for a in addresses.values()]
        self._table: dict[tuple[str, str], tuple[str, Callable[[list[str], bytes], dict[str, Any]]]] = {}
        for contract, events in WATCHED.items():
            items = {i["name"]: i for i in abi(contract) if i["type"] == "event"}
            for name in events:
                topic = "0x" + keccak(text=_signature(items[name])).hex()
                decoder = _batch_anchored if name == "BatchAnchored" else _generic_decoder(items[name])
                self._table[(addresses[contract].lower(), topic)] = (name, decoder)

    def decode(self, raw: dict[str, Any]) -> Log | None:
        topics = raw.get("topics") or []
        if not topics:
            return None
        entry = self._table.get((raw["address"].lower(), topics[0].lower()))
        if entry is None:
            return None
        name, decoder = entry
        data = raw.get("data") or "0x"
        args = decoder(topics, bytes.fromhex(data[2:]))
        return Log(
            name,
            args,
            int(raw["blockNumber"], 16),
            bytes.fromhex(raw["blockHash"][2:]),
            bytes.fromhex(raw["transactionHash"][2:]),
            int(raw["logIndex"], 16),
        )


def code(b32: bytes) -> str:
    """The ASCII code (agency, type, reason) held in a bytes32 event argument."""
    return text_of(b32)
