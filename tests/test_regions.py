"""Region names: the 34 provincial-level divisions in Chinese and English, and /v1/regions
naming each member."""

from __future__ import annotations

import re

import pytest
from api_helpers import BJ, GD, ZJ, World
from fastapi.testclient import TestClient

from ledger.regions import PROVINCIAL_CODES, region_name


@pytest.mark.unit
def test_all_34_provincial_level_divisions_are_named_in_chinese_and_english() -> None:
    assert len(PROVINCIAL_CODES) == 34
    assert PROVINCIAL_CODES[0] == 110000 and PROVINCIAL_CODES[-1] == 820000
    for code in PROVINCIAL_CODES:
        assert re.fullmatch(r"[1-8]\d0000", str(code)), code
        name = region_name(code)
        assert name and re.fullmatch(r"[\u4e00-\u9fff]+", name["zh"]) and re.fullmatch(r"[A-Za-z ()]+", name["en"]), (
            name
        )
    assert region_name(350000) == {"zh": "福建省", "en": "Fujian"}
    assert region_name(440100) is None  # a city, not a province


def test_regions_endpoint_names_every_region(world: World, client: TestClient) -> None:
    body = client.get("/v1/regions").json()
    by_code = {r["region"]: r for r in body["regions"]}
    assert by_code[GD]["name"] == {"zh": "广东省", "en": "Guangdong"}
    assert by_code[ZJ]["name"] == {"zh": "浙江省", "en": "Zhejiang"}
    assert by_code[BJ]["name"] == {"zh": "北京市", "en": "Beijing"}
