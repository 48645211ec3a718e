"""FastAPI dependencies the routes declare: the process's shared state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .state import AppState


async def _state(request: Request) -> AppState:  # async: resolved on the loop, never in a thread
    state: AppState = request.app.state.ledger
    return state


State = Annotated[AppState, Depends(_state)]
