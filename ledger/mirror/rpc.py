"""A lean JSON-RPC client for the indexer: one keep-alive connection, batch requests, orjson.

web3.py formats every log and block into rich Python objects; the indexer only needs the raw
JSON, and at a million certificate hashes the difference is most of the run time.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import orjson
import requests

from ..errors import ChainUnavailable, LedgerError, redact_url


class RpcError(LedgerError):
    """The node answered with a JSON-RPC error (e.g. a block range or result limit)."""

    code = "RPC_ERROR"

    def __init__(self, rpc_code: int, message: str) -> None:
        self.rpc_code = rpc_code
        super().__init__(f"node error {rpc_code}: {message}")


class NodeTimeout(ChainUnavailable):
    """The node accepted the request but did not answer in time."""


class RawRpc:
    def __init__(self, url: str, timeout: float = 10.0, retries: int = 3) -> None:
        self.url = url
        self.public_url = redact_url(url)  # for messages: no credentials, no query string
        self.timeout = timeout
        self.retries = retries  # a transient failure (connection, 5xx) is retried this often
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._ws: Any = None

    # -------------------------------------------------------------- transport

    def _send(self, payload: Any) -> Any:
        """Send, retrying quick transport failures (a refused connection, a 5xx); a call that
        timed out is not retried: the node is frozen or overloaded, and the caller decides."""
        for attempt in range(self.retries + 1):
            try:
                return self._send_once(payload)
            except NodeTimeout:
                raise
            except ChainUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    def _send_once(self, payload: Any) -> Any:
        body = orjson.dumps(payload)
        try:
            if self.url.startswith(("ws://", "wss://")):
                with self._lock:
                    if self._ws is None:
                        from websockets.sync.client import connect

                        self._ws = connect(self.url, open_timeout=self.timeout, max_size=None, legacy=True)
                    self._ws.send(body.decode())
                    wanted = {p["id"] for p in payload} if isinstance(payload, list) else payload["id"]
                    while True:
                        answer = orjson.loads(self._ws.recv(timeout=self.timeout))
                        ids = {a.get("id") for a in answer} if isinstance(answer, list) else answer.get("id")
                        if ids == wanted:
                            return answer
            if self._session is None:
                self._session = requests.Session()
            response = self._session.post(
                self.url, data=body, headers={"Content-Type": "application/json"}, timeout=self.timeout
            )
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise ChainUnavailable(f"node at {self.public_url} answered HTTP {response.status_code}")
            return orjson.loads(response.content)
        except (requests.Timeout, TimeoutError):
            self.close()
            raise NodeTimeout(
                f"node at {self.public_url} does not answer (no reply within {self.timeout:g} s)"
            ) from None
        except (requests.RequestException, OSError) as exc:
            self.close()
            raise ChainUnavailable(f"node at {self.public_url} unreachable: {type(exc).__name__}") from None
        except orjson.JSONDecodeError:
            raise ChainUnavailable(f"node at {self.public_url} sent an unreadable answer") from None

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            finally:
                self._ws = None
        if self._session is not None:
            self._session.close()
            self._session = None

    # -------------------------------------------------------------- calls

    @staticmethod
    def _result(answer: dict[str, Any]) -> Any:
        if "error" in answer and answer["error"] is not None:
            err = answer["error"]
            raise RpcError(int(err.get("code", 0)), str(err.get("message", err)))
        return answer.get("result")

    def call(self, method: str, params: list[Any]) -> Any:
        return self._result(self._send({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}))

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        payload = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in calls]
        answers = self._send(payload)
        if not isinstance(answers, list):  # some nodes answer a batch with one error object
            raise RpcError(0, str(answers.get("error") if isinstance(answers, dict) else answers))
        by_id = {a.get("id"): a for a in answers}
        return [self._result(by_id[p["id"]]) for p in payload]

    # -------------------------------------------------------------- helpers

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def blocks(self, numbers: list[int]) -> dict[int, tuple[bytes, int]]:
        """{number: (hash, timestamp)} of the given blocks (missing ones are left out)."""
        results = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        out = {}
        for n, block in zip(numbers, results, strict=True):
            if block:
                out[n] = (bytes.fromhex(block["hash"][2:]), int(block["timestamp"], 16))
        return out

    def logs(self, addresses: list[str], from_block: int, to_block: int) -> list[dict[str, Any]]:
        return self.call(
            "eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]
        )
