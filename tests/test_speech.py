"""POST /v1/speech: real espeak-ng, the audio measured with real sox; bad input refused.

The endpoint needs no chain: the app is built on a deployment file that names no live node.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import checked_client
from fastapi.testclient import TestClient

from ledger.deployment import Deployment

ZERO = "0x" + "00" * 20
MIN_RMS = 0.02  # espeak-ng speech measures ~0.07; silence is 0


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    why = f"{name} is not installed (./run test installs it with apt)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: the speech tests must run, not skip)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def speech_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from api.app import ApiSettings, create_app

    home = tmp_path_factory.mktemp("speech")
    Deployment(31337, ZERO, ZERO, ZERO, 0, ZERO, "0x" + "11" * 32, "0x" + "22" * 32).save(home / "deployment.json")
    app = create_app(ApiSettings(home=home, rpc_url="http://127.0.0.1:9", db_url=f"sqlite:///{home}/mirror.db"))
    with checked_client(app) as client:
        yield client


def rms_amplitude(wav: Path) -> float:
    stat = subprocess.run([require_tool("sox"), str(wav), "-n", "stat"], capture_output=True, text=True, check=True)
    match = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", stat.stderr)
    assert match, stat.stderr
    return float(match.group(1))


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("zh-CN", "核验结果：有效。该证书真实，目前有效。"),
        ("ug", "تەكشۈرۈش نەتىجىسى: ئىناۋەتلىك."),
        ("en", "Result: valid."),
        ("ko", "확인 결과: 유효합니다."),
    ],
)
def test_speech_returns_audible_wav(speech_client: TestClient, tmp_path: Path, lang: str, text: str) -> None:
    require_tool("espeak-ng")
    r = speech_client.post("/v1/speech", json={"lang": lang, "text": text})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    wav = tmp_path / "speech.wav"
    wav.write_bytes(r.content)
    assert rms_amplitude(wav) > MIN_RMS


def test_silence_measures_below_the_threshold(tmp_path: Path) -> None:
    """The measure can fail: a silent WAV of the same format is below it."""
    wav = tmp_path / "silence.wav"
    subprocess.run(
        [require_tool("sox"), "-n", "-r", "22050", "-c", "1", "-b", "16", str(wav), "trim", "0", "1"], check=True
    )
    assert rms_amplitude(wav) < MIN_RMS


def test_text_is_never_taken_for_an_option(speech_client: TestClient) -> None:
    require_tool("espeak-ng")
    r = speech_client.post("/v1/speech", json={"lang": "en", "text": "--version; rm -rf / $(id) `id`"})
    assert r.status_code == 200 and r.content[:4] == b"RIFF"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"lang": "zh-CN", "text": "长" * 401}, "VALIDATION_ERROR"),
        ({"lang": "xx", "text": "hello"}, "UNSUPPORTED_LANGUAGE"),
        ({"lang": "bo", "text": "བཀྲ་ཤིས་བདེ་ལེགས།"}, "UNSUPPORTED_LANGUAGE"),
        ({"lang": "mn-Mong", "text": "ᠮᠣᠩᠭᠣᠯ"}, "UNSUPPORTED_LANGUAGE"),
        ({"lang": "en", "text": " \n\t "}, "EMPTY_TEXT"),
        ({"lang": "en"}, "VALIDATION_ERROR"),
        ({"lang": "en", "text": "hi", "voice": "x"}, "VALIDATION_ERROR"),
        ({"lang": 3, "text": "hi"}, "VALIDATION_ERROR"),
        (["en", "hi"], "VALIDATION_ERROR"),
    ],
)
def test_bad_speech_requests_are_422(speech_client: TestClient, body: dict, code: str) -> None:
    r = speech_client.post("/v1/speech", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_malformed_json_is_422(speech_client: TestClient) -> None:
    r = speech_client.post(
        "/v1/speech", content=b'{"lang": "en", "text": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_JSON"
    r = speech_client.post("/v1/speech", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_JSON"


def test_missing_espeak_is_503(speech_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    r = speech_client.post("/v1/speech", json={"lang": "en", "text": "hello"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "SPEECH_UNAVAILABLE"


def test_speech_is_in_the_openapi_document(speech_client: TestClient) -> None:
    doc = speech_client.get("/openapi.json").json()
    op = doc["paths"]["/v1/speech"]["post"]
    assert "audio/wav" in op["responses"]["200"]["content"]
    assert {"422", "503"} <= set(op["responses"])
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["text"]["maxLength"] == 400 and set(schema["required"]) == {"lang", "text"}
