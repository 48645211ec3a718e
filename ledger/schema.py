"""Certificate type schemas: the fields a type has, how each is validated and how its value
is written canonically before hashing.

A schema (see ``ledger/certtypes/*.json``; its canonical JSON is anchored on chain when the
type is added) lists fields, each with ``name``, ``kind`` and constraints:

| kind | canonical text | constraints |
|---|---|---|
| ``text`` | Unicode NFC, surrounding whitespace removed | ``maxLength`` (in characters), ``pattern`` (regex, full match) |
| ``enum`` | one of ``values`` | ``values`` |
| ``date`` | ``YYYY-MM-DD`` | a real calendar date |
| ``integer`` | decimal, no leading zeros | ``minimum``, ``maximum`` |

``required: false`` fields may be absent (or empty): they then have no entry at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import InvalidInput

FIELD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Canonicaliser = Callable[[Any], str]


class FieldError(ValueError):
    """A value that does not fit its field; the message says why."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def canonical_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if not _DATE_RE.fullmatch(text):
        raise FieldError(f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldError(f"{text!r} is not a calendar date") from None


def _text(spec: Mapping[str, Any]) -> Canonicaliser:
    max_length = spec.get("maxLength")
    pattern = re.compile(spec["pattern"]) if spec.get("pattern") else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FieldError("expected text")
            value = str(value)
        text = nfc(value.strip())
        if max_length is not None and len(text) > max_length:
            raise FieldError(f"longer than {max_length} characters")
        if pattern is not None and not pattern.fullmatch(text):
            raise FieldError(f"{text!r} does not match {pattern.pattern}")
        return text

    return check


def _enum(spec: Mapping[str, Any]) -> Canonicaliser:
    values = [nfc(str(v)) for v in spec["values"]]
    allowed = frozenset(values)

    def check(value: Any) -> str:
        text = nfc(str(value).strip())
        if text not in allowed:
            raise FieldError(f"{text!r} is not one of {', '.join(values)}")
        return text

    return check


def _integer(spec: Mapping[str, Any]) -> Canonicaliser:
    minimum, maximum = spec.get("minimum"), spec.get("maximum")

    def check(value: Any) -> str:
        if isinstance(value, bool):
            raise FieldError("expected an integer")
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            if not re.fullmatch(r"-?\d+", text):
                raise FieldError(f"{text!r} is not an integer")
            number = int(text)
        if minimum is not None and number < minimum:
            raise FieldError(f"{number} is below the minimum {minimum}")
        if maximum is not None and number > maximum:
            raise FieldError(f"{number} is above the maximum {maximum}")
        return str(number)

    return check


_KINDS: dict[str, Callable[[Mapping[str, Any]], Canonicaliser]] = {
    "text": _text,
    "enum": _enum,
    "date": lambda spec: canonical_date,
    "integer": _integer,
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    required: bool
    canonical: Canonicaliser
    label: Mapping[str, str]


@dataclass(frozen=True)
class CertificateSchema:
    """A compiled schema: validates rows and turns them into canonical field values."""

    type: str
    fields: tuple[FieldSpec, ...]
    raw: Mapping[str, Any]

    @classmethod
    def compile(cls, raw: Mapping[str, Any]) -> CertificateSchema:
        try:
            specs = []
            seen = set()
            for f in raw["fields"]:
                name, kind = f["name"], f.get("kind", "text")
                if not isinstance(name, str) or not FIELD_NAME_RE.fullmatch(name) or name in seen:
                    raise InvalidInput(f"schema field name {name!r} is invalid or repeated")
                if kind not in _KINDS:
                    raise InvalidInput(f"schema field {name!r} has unknown kind {kind!r}")
                seen.add(name)
                specs.append(FieldSpec(name, kind, bool(f.get("required", True)), _KINDS[kind](f), f.get("label", {})))
            return cls(str(raw["type"]), tuple(specs), raw)
        except (KeyError, TypeError, re.error) as exc:
            raise InvalidInput(f"malformed schema: {exc}") from None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def canonical_fields(self, row: Mapping[str, Any]) -> dict[str, str]:
        """Validate a row and return its fields in canonical text, in schema order.

        Raises FieldError naming every problem of the row ("sex: ...; birthDate: ...").
        """
        out: dict[str, str] = {}
        problems: list[str] = []
        for spec in self.fields:
            value = row.get(spec.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if spec.required:
                    problems.append(f"{spec.name}: required")
                continue
            try:
                out[spec.name] = spec.canonical(value)
            except FieldError as exc:
                problems.append(f"{spec.name}: {exc}")
        if problems:
            raise FieldError("; ".join(problems))
        return out

    def unknown_columns(self, columns: list[str], extra_allowed: frozenset[str]) -> list[str]:
        known = set(self.field_names) | extra_allowed
        return [c for c in columns if c not in known]
