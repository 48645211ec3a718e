"""POST /v1/speech: a short text read aloud by espeak-ng, for browsers without a voice.

The web page reads the verdict and the key facts aloud (for the elderly, for people who do
not read well). It uses the browser's own speech synthesis where it has a voice for the
page's language; otherwise it asks here. espeak-ng runs as a child process with the text on
its standard input (never through a shell, never as an argument it could take for an
option), in a small thread pool with a timeout, so the event loop never waits on it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..deps import State
from ..errors import ApiError
from ..models import ErrorResponse

router = APIRouter(tags=["speech"])

MAX_CHARS = 400
TIMEOUT_SECONDS = 10.0

# The page's language codes -> espeak-ng voices. Tibetan, Mongolian and Zhuang have no
# espeak-ng voice (bo, mn-Mong, za): refused with 422, and the page says reading aloud is not available.
VOICES = {"zh-CN": "cmn", "zh": "cmn", "en": "en", "ug": "ug", "ko": "ko"}


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The published schema states the rules (the voices, some visible text); the handler
    # applies them with their own error codes (UNSUPPORTED_LANGUAGE, EMPTY_TEXT).
    lang: str = Field(
        description="The page's language: zh-CN, en, ug or ko",
        examples=["zh-CN"],
        max_length=16,
        json_schema_extra={"enum": list(VOICES)},
    )
    text: str = Field(
        description=f"At most {MAX_CHARS} characters, not only blanks",
        examples=["核验结果：有效。"],
        max_length=MAX_CHARS,
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )


class SpeechUnavailable(Exception):
    """espeak-ng is not installed or failed."""


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def clean_text(text: str) -> str:
    """The text without control characters (line breaks become spaces), trimmed."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\r\n\t":
            out.append(" ")
        elif cat == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


def synthesize(lang: str, text: str, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """WAV audio of ``text`` in ``lang`` (a key of VOICES). Blocking: call it off the event loop.
    Raises KeyError for an unsupported language and SpeechUnavailable when espeak-ng is
    missing, fails or takes longer than ``timeout`` seconds."""
    voice = VOICES[lang]
    binary = espeak_binary()
    if binary is None:
        raise SpeechUnavailable("espeak-ng is not installed on the server")
    with tempfile.TemporaryDirectory(prefix="certledger-speech-") as tmp:
        out = Path(tmp) / "speech.wav"
        try:
            done = subprocess.run(
                [binary, "-v", voice, "-s", "150", "-b", "1", "-w", str(out)],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SpeechUnavailable(f"espeak-ng took longer than {timeout:g} s") from None
        except OSError as exc:
            raise SpeechUnavailable(f"espeak-ng could not be started: {exc}") from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpeechUnavailable("espeak-ng failed" + (f": {message[-1]}" if message else ""))
        return out.read_bytes()


def _read_request(raw: bytes) -> SpeechRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(422, "MALFORMED_JSON", "the body is not valid JSON (UTF-8)") from None
    try:
        return SpeechRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ApiError(
            422, "VALIDATION_ERROR", f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        ) from None


@router.post(
    "/v1/speech",
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SpeechRequest.model_json_schema()}},
        }
    },
    responses={
        200: {
            "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The text read aloud (WAV, mono)",
        },
        422: {
            "model": ErrorResponse,
            "description": "Malformed body, empty or too long text, or a language without a voice",
        },
        503: {"model": ErrorResponse, "description": "espeak-ng is not installed, failed or is busy"},
    },
)
async def speech(request: Request, state: State) -> Any:
    """The verdict and key facts read aloud in the page's language (espeak-ng, WAV), for
    browsers that have no voice for it. Languages: zh-CN (Mandarin), en, ug, ko."""
    body = _read_request(await request.body())
    if body.lang not in VOICES:
        known = ", ".join(VOICES)
        raise ApiError(422, "UNSUPPORTED_LANGUAGE", f"no voice for language {body.lang!r}; voices: {known}")
    text = clean_text(body.text)
    if not text:
        raise ApiError(422, "EMPTY_TEXT", "text is empty")
    if espeak_binary() is None:
        raise ApiError(503, "SPEECH_UNAVAILABLE", "espeak-ng is not installed on the server")
    try:
        audio = await state.speech_pool.run(synthesize, body.lang, text)
    except SpeechUnavailable as exc:
        raise ApiError(503, "SPEECH_UNAVAILABLE", str(exc)) from None
    return Response(audio, media_type="audio/wav", headers={"Cache-Control": "no-store"})
