"""A client of the Kubo RPC API (``/api/v0``; js-ipfs serves the same), over httpx.

The node is not trusted with integrity: ``add`` recomputes the CID locally and refuses an
answer that differs, and ``cat`` recomputes the CID of the bytes it received with the
embedded importer, so a node that lies (or runs another profile) cannot feed other content.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from ..errors import redact_url
from .cid import Cid
from .errors import ContentError, ContentNotFound, ContentTampered, InvalidCid, IpfsUnavailable
from .profile import MAX_CONTENT_SIZE, RPC_ADD_PARAMS
from .store import as_cid
from .unixfs import content_cid

_NOT_FOUND_HINTS = ("not found", "no link named", "could not resolve")
# What a node says when its own deadline (the ``timeout`` argument every RPC command takes) passed
# while it looked for content it does not hold: js-ipfs, Kubo.
_TIMED_OUT_HINTS = ("request timed out", "context deadline exceeded")
LOCAL_CHECK_SECONDS = 2.0  # how long ``has`` lets a node look in its own repository


class KuboStore:
    """The ``ContentStore`` of an IPFS node's RPC API at ``url`` (e.g. http://127.0.0.1:5001).

    A node asked for content it does not hold searches the network until a deadline: it gets
    ``find_timeout`` seconds (its ``timeout`` argument), after which the content counts as not
    found. ``has`` asks the node to look only in its own repository (Kubo: ``offline=true``;
    js-ipfs ignores that and gets ``LOCAL_CHECK_SECONDS``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        find_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.find_timeout = find_timeout
        self._http = httpx.Client(
            base_url=self.url + "/api/v0", timeout=max(timeout, find_timeout + 5), transport=transport
        )

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KuboStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _post(self, path: str, params: dict[str, str], **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.post(path, params=params, **kwargs)
        except httpx.TimeoutException:
            raise IpfsUnavailable(f"the IPFS node at {self.location} did not answer {path} in time") from None
        except httpx.HTTPError as exc:
            raise IpfsUnavailable(f"cannot reach the IPFS node at {self.location}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            self._raise_for(response, path)
        return response

    def _json(self, response: httpx.Response, path: str) -> dict[str, Any]:
        try:
            # add answers one JSON object per line (progress, then the file): the last line counts
            lines = [line for line in response.content.splitlines() if line.strip()]
            value = orjson.loads(lines[-1])
        except (orjson.JSONDecodeError, IndexError):
            raise IpfsUnavailable(f"the IPFS node at {self.location} answered {path} with no JSON") from None
        if not isinstance(value, dict):
            raise IpfsUnavailable(f"the IPFS node at {self.location} answered {path} with no JSON object")
        return value

    # ------------------------------------------------------------------ ContentStore

    def version(self) -> dict[str, Any]:
        return self._json(self._post("/version", {}), "/version")

    def add(self, data: bytes) -> Cid:
        if len(data) > MAX_CONTENT_SIZE:
            raise ContentError(f"content of {len(data):,} bytes is larger than {MAX_CONTENT_SIZE:,}")
        expected = content_cid(data)
        params = {**RPC_ADD_PARAMS, "pin": "false", "progress": "false"}
        answer = self._json(self._post("/add", params, files={"file": ("blob", data)}), "/add")
        try:
            got = Cid.parse(str(answer.get("Hash", "")))
        except InvalidCid as exc:
            raise IpfsUnavailable(f"the IPFS node at {self.location} answered add with a bad CID: {exc}") from None
        if got != expected:
            raise ContentTampered(
                f"the IPFS node at {self.location} answered CID {got} for content whose CID is {expected} "
                "(a node with another profile, or a lying node)"
            )
        return got

    def cat(self, cid: Cid | str) -> bytes:
        c = as_cid(cid)
        body = bytearray()
        try:
            params = {"arg": str(c), "timeout": f"{self.find_timeout:g}s"}
            with self._http.stream("POST", "/cat", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response, "/cat")
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > MAX_CONTENT_SIZE:
                        raise ContentTampered(
                            f"the IPFS node at {self.location} sent more than {MAX_CONTENT_SIZE:,} bytes for {c}"
                        )
        except httpx.TimeoutException:
            raise IpfsUnavailable(f"the IPFS node at {self.location} did not answer /cat in time") from None
        except httpx.HTTPError as exc:
            raise IpfsUnavailable(f"cannot reach the IPFS node at {self.location}: {type(exc).__name__}") from None
        data = bytes(body)
        if content_cid(data) != c:
            raise ContentTampered(f"the IPFS node at {self.location} sent content that does not match {c}")
        return data

    def _raise_for(self, response: httpx.Response, path: str) -> None:
        message = _error_message(response)
        if any(hint in message.lower() for hint in _TIMED_OUT_HINTS):
            raise ContentNotFound(f"the IPFS node at {self.location} did not find it in time ({message})")
        if any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
            raise ContentNotFound(f"the IPFS node at {self.location} does not have it: {message}")
        raise IpfsUnavailable(f"the IPFS node at {self.location} refused {path}: {message}")

    def pin(self, cid: Cid | str) -> None:
        c = as_cid(cid)
        self._post("/pin/add", {"arg": str(c), "timeout": f"{self.find_timeout:g}s"})

    def has(self, cid: Cid | str) -> bool:
        c = as_cid(cid)
        local = {"offline": "true", "timeout": f"{LOCAL_CHECK_SECONDS:g}s"}
        try:
            self._post("/block/stat", {"arg": str(c), **local})
            if not c.is_raw:  # and every block below it (a missing one is an error line in the stream)
                refs = self._post("/refs", {"arg": str(c), "recursive": "true", "unique": "true", **local})
                for line in refs.content.splitlines():
                    entry = orjson.loads(line) if line.strip() else {}
                    if not isinstance(entry, dict) or entry.get("Err"):
                        return False
        except ContentNotFound:
            return False
        return True


def _error_message(response: httpx.Response) -> str:
    try:
        value = orjson.loads(response.content)
        if isinstance(value, dict) and isinstance(value.get("Message"), str):
            return value["Message"][:200]
    except orjson.JSONDecodeError:
        pass
    return f"HTTP {response.status_code}"
