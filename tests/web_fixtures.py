"""Fixtures of the browser tests (a plugin registered in conftest.py): one Debian Chromium per test
worker, driven by Playwright's sync API, and the pictures and fake camera feed they use.
Playwright's sync API allows one instance per thread, so every browser test uses this one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from helpers import CHROMIUM, require_browser

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real compact payload and its QR PNG, a JPEG photo of it, pictures without one, a QR
    that is not ours, a 10 MB picture and a Y4M feed for the fake camera."""
    import hashlib

    import segno
    from PIL import Image

    from ledger.qr import compact_payload

    tmp = tmp_path_factory.mktemp("web-assets")
    payload = compact_payload(bytes(range(32)), "ID_CARD", 440000, "GD-PSB")
    segno.make_qr(payload, error="m").save(str(tmp / "qr.png"), scale=4)
    img = Image.open(tmp / "qr.png").convert("RGB")
    photo = Image.new("RGB", (1600, 1200), (170, 168, 160))
    photo.paste(img.resize((img.width * 3, img.height * 3), Image.NEAREST), (500, 300))
    photo.save(tmp / "photo.jpg", quality=85)
    Image.new("RGB", (300, 300), (255, 255, 255)).save(tmp / "blank.png")
    Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3)).save(tmp / "noise.png")
    segno.make_qr("https://example.org/not-a-certificate", error="m").save(str(tmp / "other.png"), scale=4)
    frame = Image.new("RGB", (640, 480), (235, 235, 230))
    q = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
    frame.paste(q, ((640 - q.width) // 2, (480 - q.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    with open(tmp / "camera.y4m", "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(2):
            f.write(b"FRAME\n" + y.tobytes() + cb.resize((320, 240)).tobytes() + cr.resize((320, 240)).tobytes())
    tricky = next(
        p
        for p in (compact_payload(hashlib.sha256(bytes([i])).digest(), "ID_CARD", 440000, "GD-PSB") for i in range(256))
        if "+" in p and " " in p
    )  # Base45 with both "+" and " ": URL encodings must keep them apart
    return {"dir": tmp, "payload": payload, "tricky": tricky}


@pytest.fixture(scope="session")
def browser(assets: dict) -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={assets['dir'] / 'camera.y4m'}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield b
        b.close()
