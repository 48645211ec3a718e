"""FastAPI dependencies the routes declare: the process's shared state, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ledger.registry.results import VerifierInfo
from ledger.verifiers import NotAuthorized, RateLimited

from .errors import ApiError
from .state import AppState


async def _state(request: Request) -> AppState:  # async: resolved on the loop, never in a thread
    state: AppState = request.app.state.ledger
    return state


State = Annotated[AppState, Depends(_state)]


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else auth
    return request.headers.get("x-api-key")


async def caller(request: Request) -> VerifierInfo | None:
    """The registered verifier organisation the request's API key (``Authorization: Bearer``
    or ``X-API-Key``) belongs to, its request counted against its rate; None without a key
    (an anonymous caller). A key that does not authenticate is refused (401), a spent rate
    429: never treated as anonymous. Async, so that an anonymous request costs no thread; a
    key's look-up (which may read the chain) runs in the thread pool."""
    key = _api_key(request)
    if key is None:
        return None
    state: AppState = request.app.state.ledger
    try:
        info = await run_in_threadpool(state.verifiers.authenticate, key)
        state.verifiers.take(info)
    except NotAuthorized as exc:
        raise ApiError(401, "NOT_AUTHORIZED", str(exc)) from None
    except RateLimited as exc:
        raise ApiError(
            429, "RATE_LIMITED", str(exc), headers={"retry-after": str(max(1, round(exc.retry_after)))}
        ) from None
    return info


Caller = Annotated[VerifierInfo | None, Depends(caller)]
