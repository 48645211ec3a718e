"""Access to any EVM node over standard Ethereum JSON-RPC (HTTP or WebSocket).

Transactions are signed locally (eth-account) and sent raw, so the node never holds a key.
Reverts are decoded into :class:`~ledger.errors.ContractRejected` naming the contract's custom
error. Proof-of-authority chains with long ``extraData`` (Besu QBFT, Clique) are read through
web3's ``ExtraDataToPOAMiddleware``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import BlockIdentifier, Nonce, RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from .contracts import abi, artifact, decode_error
from .errors import ChainUnavailable, ContractRejected, LedgerError, redact_url

T = TypeVar("T")


class WebSocketSyncProvider(JSONBaseProvider):
    """A blocking JSON-RPC provider over one WebSocket connection.

    web3.py 8 offers WebSocket only to ``AsyncWeb3``; the CLI, the indexer and the tests are
    synchronous, so this small provider carries requests over ``websockets.sync``.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._conn is None:
            from websockets.sync.client import connect

            self._conn = connect(self.url, open_timeout=self.timeout, max_size=None, legacy=True)
        return self._conn

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        request = self.encode_rpc_request(method, params)
        request_id = json.loads(request)["id"]
        with self._lock:
            try:
                conn = self._connection()
                conn.send(request.decode())
                deadline = time.monotonic() + self.timeout
                while True:
                    raw = conn.recv(timeout=max(0.0, deadline - time.monotonic()))
                    response = self.decode_rpc_response(raw if isinstance(raw, bytes) else raw.encode())
                    if response.get("id") == request_id:  # skip subscription notifications
                        return response
            except (OSError, TimeoutError):
                self.close()
                raise
            except Exception as exc:  # handshake refused, invalid URI, ...: never echo the URL
                self.close()
                raise ConnectionError(f"WebSocket failure: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


DEFAULT_TIMEOUT = 10.0  # seconds one call to the node may take (CERTLEDGER_RPC_TIMEOUT)


def make_web3(url: str, timeout: float = DEFAULT_TIMEOUT) -> Web3:
    if url.startswith(("ws://", "wss://")):
        provider: Any = WebSocketSyncProvider(url, timeout)
    elif url.startswith(("http://", "https://")):
        # No retries: web3 would retry a timed-out call five times, turning a frozen node into
        # minutes of silence. One timeout is one clear failure.
        provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    else:
        raise LedgerError(
            f"unsupported RPC URL {redact_url(url)!r}: expected http(s):// or ws(s)://", code="INVALID_INPUT"
        )
    w3 = Web3(provider)
    # PoA chains put signatures in extraData (> 32 bytes); harmless elsewhere.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@dataclass(frozen=True)
class SentTransaction:
    tx_hash: str
    receipt: TxReceipt

    @property
    def block_number(self) -> int:
        return int(self.receipt["blockNumber"])

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])


class Chain:
    """A connection to one EVM chain."""

    def __init__(
        self, url: str, *, timeout: float = DEFAULT_TIMEOUT, tx_timeout: float = 60.0, gas_price: int | None = None
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.tx_timeout = tx_timeout
        self.w3 = make_web3(url, timeout)
        self._chain_id: int | None = None
        self._gas_price = gas_price
        self._nonces: dict[str, int] = {}
        self._nonce_lock = threading.Lock()

    # -------------------------------------------------------------- basics

    @property
    def public_url(self) -> str:
        """The node's URL without credentials or query string, for messages."""
        return redact_url(self.url)

    def rpc(self, fn: Callable[[], T]) -> T:
        """Run a node call, turning transport failures into ChainUnavailable (whose message never
        carries the URL's credentials)."""
        try:
            return fn()
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "error"
            raise ChainUnavailable(f"node at {self.public_url} answered HTTP {status}") from None
        except (requests.Timeout, TimeoutError):
            raise ChainUnavailable(
                f"node at {self.public_url} does not answer (no reply within {self.timeout:g} s)"
            ) from None
        except (requests.RequestException, ConnectionError, OSError) as exc:
            raise ChainUnavailable(f"node at {self.public_url} unreachable: {type(exc).__name__}") from None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.rpc(lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def block_number(self) -> int:
        return self.rpc(lambda: int(self.w3.eth.block_number))

    def raw(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call, its ``result`` as the node sent it (hex strings)."""
        response = self.rpc(lambda: self.w3.provider.make_request(RPCEndpoint(method), params))
        if response.get("error"):
            raise LedgerError(f"node refused {method}: {response['error']}", code="RPC_ERROR")
        return response.get("result")

    def is_up(self) -> bool:
        try:
            self.block_number()
            return True
        except (LedgerError, Web3RPCError):
            return False

    def block_gas_limit(self) -> int:
        return int(self.rpc(lambda: self.w3.eth.get_block("latest"))["gasLimit"])

    def has_code(self, address: str) -> bool:
        return len(self.rpc(lambda: self.w3.eth.get_code(Web3.to_checksum_address(address)))) > 0

    def gas_price(self) -> int:
        """0 on free-gas consortium chains (base fee 0 or node price 0), else the node's price."""
        if self._gas_price is None:
            block = self.rpc(lambda: self.w3.eth.get_block("latest"))
            base_fee = block.get("baseFeePerGas")
            self._gas_price = 0 if base_fee == 0 else self.rpc(lambda: int(self.w3.eth.gas_price))
        return self._gas_price

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))

    # -------------------------------------------------------------- calls and transactions

    def call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """A view call; reverts raise ContractRejected."""
        return self._guard(lambda: fn.call(block_identifier=block))

    def _next_nonce(self, address: str) -> int:
        with self._nonce_lock:
            chain_nonce = self.rpc(
                lambda: self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")
            )
            nonce = max(chain_nonce, self._nonces.get(address, 0))
            self._nonces[address] = nonce + 1
            return nonce

    def _forget_nonce(self, address: str) -> None:
        with self._nonce_lock:
            self._nonces.pop(address, None)

    def transact(
        self, account: LocalAccount, fn: ContractFunction, *, gas: int | None = None, wait: bool = True
    ) -> SentTransaction:
        """Sign and send a contract call from ``account``; wait for its receipt.

        The gas is estimated first, so a call the contract would reject fails here with the
        decoded custom error, before anything is sent.
        """
        params = self._params(account)
        if gas is None:
            estimate = self._guard(lambda: fn.estimate_gas(params))
            # Headroom for state changes between estimate and inclusion, within the block limit.
            gas = min(int(estimate * 1.1) + 5_000, max(estimate, self.block_gas_limit()))
        tx = self._guard(lambda: fn.build_transaction({**params, "gas": gas, "nonce": Nonce(0)}))
        return self.send_transaction(account, dict(tx), wait=wait)

    def _params(self, account: LocalAccount) -> TxParams:
        return {"from": account.address, "chainId": self.chain_id, "gasPrice": Wei(self.gas_price())}

    def send_transaction(self, account: LocalAccount, tx: dict[str, Any], *, wait: bool = True) -> SentTransaction:
        tx = dict(tx)
        tx.setdefault("chainId", self.chain_id)
        tx.setdefault("gasPrice", self.gas_price())
        tx["nonce"] = self._next_nonce(account.address)
        signed = account.sign_transaction(tx)
        try:
            tx_hash = self._guard(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except Exception:
            self._forget_nonce(account.address)
            raise
        if not wait:
            return SentTransaction("0x" + bytes(tx_hash).hex(), {})  # type: ignore[typeddict-item]
        receipt = self.wait(tx_hash)
        if receipt["status"] != 1:
            self.raise_for_failed(tx, receipt)
        return SentTransaction("0x" + bytes(tx_hash).hex(), receipt)

    def wait(self, tx_hash: Any, timeout: float | None = None) -> TxReceipt:
        timeout = self.tx_timeout if timeout is None else timeout
        try:
            return self.rpc(
                lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(f"transaction {bytes(tx_hash).hex()} not mined within {timeout:.0f} s") from exc

    def raise_for_failed(self, tx: dict[str, Any], receipt: TxReceipt) -> None:
        # Replay the call at its block to learn the revert reason.
        call = {k: tx[k] for k in ("to", "data", "gas") if k in tx}
        call["from"] = receipt["from"]
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._rejected(exc) from exc
        raise LedgerError(f"transaction {receipt['transactionHash'].hex()} failed (status 0, out of gas?)")

    def deploy(self, account: LocalAccount, name: str, *args: Any) -> tuple[str, SentTransaction]:
        """Deploy contract ``name`` with constructor ``args``; returns (address, transaction)."""
        factory = self.w3.eth.contract(abi=abi(name), bytecode=artifact(name)["bytecode"])
        params = self._params(account)
        ctor = factory.constructor(*args)
        gas = int(self._guard(lambda: ctor.estimate_gas(params)) * 1.1) + 10_000
        tx = self._guard(lambda: ctor.build_transaction({**params, "gas": gas, "nonce": Nonce(0)}))
        sent = self.send_transaction(account, dict(tx))
        address = sent.receipt["contractAddress"]
        if address is None:
            raise LedgerError(f"deploying {name}: the receipt names no contract address")
        return Web3.to_checksum_address(address), sent

    # -------------------------------------------------------------- errors

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return self.rpc(fn)
        except ContractLogicError as exc:
            raise self._rejected(exc) from exc
        except Web3RPCError as exc:
            decoded = self._decode_rpc_error(exc)
            if decoded is not None:
                raise decoded from exc
            raise LedgerError(f"node refused the request: {exc.message}", code="RPC_ERROR") from exc

    @staticmethod
    def _rejected(exc: ContractLogicError) -> LedgerError:
        data = exc.data
        if isinstance(data, dict):
            data = data.get("data")
        decoded = decode_error(data if isinstance(data, str) else None)
        if decoded is None:
            return LedgerError(f"contract rejected the call: {exc.message or data}", code="CONTRACT_REVERTED")
        name, args = decoded
        return ContractRejected(name, args, raw=data if isinstance(data, str) else None)

    @staticmethod
    def _decode_rpc_error(exc: Web3RPCError) -> LedgerError | None:
        response = exc.rpc_response or {}
        error = response.get("error") if isinstance(response, dict) else None
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):
            data = data.get("data")
        decoded = decode_error(data) if isinstance(data, str) else None
        if decoded is None:
            return None
        return ContractRejected(decoded[0], decoded[1], raw=data)
