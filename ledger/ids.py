"""Domain identifiers and their on-chain encodings.

- Region: 6-digit administrative division code (440000 = Guangdong), a ``uint32`` on chain.
- Certificate type, agency, reason code: short ASCII codes, ``bytes32`` on chain, left-aligned
  and zero-padded, so that they stay readable in events and block explorers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from .errors import InvalidInput

# Validity dates (validFrom / validUntil) are calendar days in Beijing time.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

REGION_NAMES: dict[int, str] = {
    110000: "Beijing 北京市",
    120000: "Tianjin 天津市",
    130000: "Hebei 河北省",
    310000: "Shanghai 上海市",
    320000: "Jiangsu 江苏省",
    330000: "Zhejiang 浙江省",
    350000: "Fujian 福建省",
    370000: "Shandong 山东省",
    420000: "Hubei 湖北省",
    440000: "Guangdong 广东省",
    500000: "Chongqing 重庆市",
    510000: "Sichuan 四川省",
}

REGION_PATTERN = r"^[1-9][0-9]{5}$"
AGENCY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$"  # also published in the API's OpenAPI document
_REGION_RE = re.compile(REGION_PATTERN)
_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
_AGENCY_RE = re.compile(AGENCY_PATTERN)
_REASON_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


def region_code(value: str | int) -> int:
    """A 6-digit region code, validated."""
    text = str(value).strip()
    if not _REGION_RE.fullmatch(text):
        raise InvalidInput(f"invalid region code {value!r}: expected 6 digits, e.g. 440000")
    return int(text)


def _ascii32(value: str, pattern: re.Pattern[str], what: str, example: str) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"invalid {what} {value!r}: expected e.g. {example} ({pattern.pattern})")
    return value.encode("ascii").ljust(32, b"\0")


def type_id(code: str) -> bytes:
    """bytes32 of a certificate type code such as ``ID_CARD``."""
    return _ascii32(code, _TYPE_RE, "certificate type", "ID_CARD")


def agency_id(code: str) -> bytes:
    """bytes32 of an agency code such as ``GD-PSB``."""
    return _ascii32(code, _AGENCY_RE, "agency code", "GD-PSB")


def reason_code(code: str) -> bytes:
    """bytes32 of a status-change reason code such as ``HOLDER_REQUEST``."""
    return _ascii32(code, _REASON_RE, "reason code", "HOLDER_REQUEST")


def credit_code_text(raw: bytes) -> str | None:
    """An agency's credit code as the contracts hold it (bytes18, ASCII), or None when unset."""
    return bytes(raw).rstrip(b"\0").decode("ascii", "replace") if any(raw) else None


def text_of(b32: bytes) -> str:
    """The ASCII code held in a bytes32 (inverse of type_id / agency_id / reason_code)."""
    raw = bytes(b32).rstrip(b"\0")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return "0x" + bytes(b32).hex()


def parse_time(value: str | int | None, *, now: int | None = None) -> int:
    """Unix seconds from ``now``, unix seconds, or an ISO 8601 date/time (UTC unless given)."""
    if value is None or value == "" or value == "now":
        return int(now if now is not None else datetime.now(UTC).timestamp())
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid time {value!r}: expected 'now', unix seconds or ISO 8601 (2026-01-31T08:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@lru_cache(maxsize=8192)  # every answer carries a few times, most of them repeated (now, anchoring times)
def iso_time(ts: int | None) -> str | None:
    """ISO 8601 UTC text of unix seconds (None and 0 stay None: 'never')."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
