"""ASGI entry point: ``uvicorn api.main:app`` (settings from the environment)."""

from .app import create_app

app = create_app()
