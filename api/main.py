"""ASGI entry point for running the API under any ASGI server: ``uvicorn api.main:app``
(settings from the environment). ``certledger serve`` builds the app itself, with the
settings it resolved."""

from .app import create_app

app = create_app()
