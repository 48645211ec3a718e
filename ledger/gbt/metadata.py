"""GB/T 36903-2018 e-licence metadata: the national column names, and mapping a row named that
way to and from a certificate type's own fields.

The national names
------------------
``NATIONAL_NAMES`` lists the metadata elements used for exchange, by their column codes (the
pinyin initials of the Chinese names, e.g. ZZBH = 证照编号), with which are mandatory.
Type-specific data travels in extension columns prefixed ``KZ_`` (扩展), e.g. ``KZ_XB`` for sex.

The mapping a certificate type declares
---------------------------------------
A type schema (``ledger/certtypes/*.json``) may carry a ``national`` object::

    "national": {
      "typeCode": "11100000MB0143028R001",      # ZZLXDM the type is catalogued under
      "title": "营业执照",                       # ZZMC; default: the schema's title.zh
      "holderCodeType": "001",                  # CZZTDMLXDM (CZZTDMLX is looked up)
      "holderCodeTypeName": "统一社会信用代码",   # optional: overrides the looked-up name
      "columns": {                              # national column -> the type's field
        "CZZT": "companyName", "CZZTDM": "creditCode", "ZZBH": "creditCode",
        "KZ_FDDBR": "legalRepresentative"
      },
      "values": {"sex": {"男": "M", "女": "F"}}  # optional: national value -> field value
    }

``columns`` must map the holder (CZZT) and the holder's code (CZZTDM): a certificate has no
metadata entry for them. It may map ZZBH, the dates (ZZBFRQ, ZZYXQQSRQ, ZZYXQJZRQ) and any
``KZ_`` column; the other national columns come from the certificate's metadata and the issuing
agency, never from a field. Several columns may map to one field (an ID card's number is both
its ZZBH and its CZZTDM): on import their values must agree. ``values`` translations must be
one-to-one, so that export can reverse them.

Import (``import_row``/``import_rows``) checks the mandatory elements, the credit codes (GB 32100),
the identifier (GB/T 36904), the holder's code against its declared type (GB 11643 citizen
numbers, credit codes), and dates, which national systems send as ``YYYY-MM-DD`` or
``YYYYMMDD`` (normalised to ISO ``YYYY-MM-DD``; ``长期`` as an end date means no expiry). Every
problem of a row is reported at once, each naming its column. Export (``export_row``,
``export_certificate``) is the reverse: national names in table order, ISO dates, JSON-ready.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidInput
from ..schema import CertificateSchema, FieldError
from .identifier import (
    IdentifierError,
    LicenceIdentifier,
    parse,
    validate_issuer_code,
    validate_type_code,
    validate_uscc,
)

if TYPE_CHECKING:
    from ..document import Certificate


@dataclass(frozen=True)
class NationalName:
    """One GB/T 36903 metadata element as a column."""

    code: str
    name: str
    english: str
    mandatory: bool
    kind: str  # "text", "date", "type code", "credit code", "identifier"


NATIONAL_NAMES: Final[tuple[NationalName, ...]] = (
    NationalName("ZZMC", "证照名称", "licence name", False, "text"),
    NationalName("ZZLXDM", "证照类型代码", "licence type code", True, "type code"),
    NationalName("ZZBH", "证照编号", "licence number", False, "text"),
    NationalName("ZZBS", "证照标识", "licence identifier (GB/T 36904)", False, "identifier"),
    NationalName("ZZBFJG", "证照颁发机构", "issuing agency", True, "text"),
    NationalName("ZZBFJGDM", "证照颁发机构代码", "issuing agency's credit code", True, "credit code"),
    NationalName("ZZBFRQ", "证照颁发日期", "date of issue", True, "date"),
    NationalName("CZZT", "持证主体", "holder", True, "text"),
    NationalName("CZZTDM", "持证主体代码", "holder's code", True, "text"),
    NationalName("CZZTDMLX", "持证主体代码类型", "type of the holder's code", True, "text"),
    NationalName("CZZTDMLXDM", "持证主体代码类型代码", "code of the type of the holder's code", True, "text"),
    NationalName("ZZYXQQSRQ", "证照有效期起始日期", "valid from", False, "date"),
    NationalName("ZZYXQJZRQ", "证照有效期截止日期", "valid until", False, "date"),
)
NAMES: Final[Mapping[str, NationalName]] = MappingProxyType({n.code: n for n in NATIONAL_NAMES})
MANDATORY: Final = frozenset(n.code for n in NATIONAL_NAMES if n.mandatory)
EXTENSION_PREFIX: Final = "KZ_"
#: Columns a type may map to one of its fields (the rest come from metadata and the agency).
MAPPABLE: Final = frozenset({"ZZBH", "CZZT", "CZZTDM", "ZZBFRQ", "ZZYXQQSRQ", "ZZYXQJZRQ"})
DATE_COLUMNS: Final = frozenset(n.code for n in NATIONAL_NAMES if n.kind == "date")
#: An end of validity written as text meaning "no expiry".
NO_EXPIRY: Final = frozenset({"长期"})

#: Codes of the holder's code type (CZZTDMLXDM) in use with GB/T 36903 exchange.
HOLDER_CODE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "统一社会信用代码",
        "099": "其他法人和其他组织有效证件代码",
        "111": "公民身份号码",
        "114": "中国人民解放军军官证编号",
        "115": "中国人民武装警察部队警官证编号",
        "118": "中国人民解放军士兵证编号",
        "119": "中国人民武装警察部队士兵证编号",
        "120": "中国人民解放军文职人员证编号",
        "122": "中国人民武装警察部队文职人员证编号",
        "411": "外交护照号码",
        "412": "公务护照号码",
        "413": "公务普通护照号码",
        "414": "普通护照号码",
        "511": "台湾居民来往大陆通行证号码",
        "516": "港澳居民来往内地通行证号码",
        "999": "其他自然人有效证件号码",
    }
)
CITIZEN_ID: Final = "111"
CREDIT_CODE: Final = "001"

_EXTENSION = re.compile(r"^KZ_[A-Z0-9_]{1,60}$")
_HOLDER_CODE_TYPE = re.compile(r"^[0-9]{3}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_DATE = re.compile(r"^\d{8}$")
_CITIZEN_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_CITIZEN_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))


class NationalRowError(InvalidInput):
    """A national row that cannot be imported or exported; ``problems`` lists every problem,
    each naming its column, and ``row`` the row number when known."""

    def __init__(self, problems: Iterable[str], row: int | None = None) -> None:
        self.problems = tuple(problems)
        self.row = row
        where = f"row {row}: " if row is not None else ""
        super().__init__(where + "; ".join(self.problems))


def label(code: str) -> str:
    """``ZZBFRQ (证照颁发日期)`` for a national column, the code itself for an extension."""
    known = NAMES.get(code)
    return f"{code} ({known.name})" if known else code


# --------------------------------------------------------------------------- values


def national_date(value: Any) -> str:
    """A national date (``YYYY-MM-DD``, ``YYYYMMDD`` or a ``date``) in ISO ``YYYY-MM-DD``;
    raises ``ValueError`` with the reason."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if _COMPACT_DATE.fullmatch(text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    elif not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or YYYYMMDD)")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{str(value).strip()!r} is not a calendar date") from None


def citizen_id_check(first17: str) -> str:
    """GB 11643-1999 check character of a citizen identity number's first 17 digits."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _CITIZEN_WEIGHTS, strict=True)) % 11]


def validate_citizen_id(number: str) -> str:
    """A citizen identity number (公民身份号码, GB 11643-1999): 17 digits, a check character
    (0-9 or X) and a real birth date in positions 7-14. Raises ``ValueError``."""
    if not _CITIZEN_ID.fullmatch(number):
        raise ValueError(f"{number!r} is not a citizen identity number (17 digits and 0-9 or X)")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError(f"{number!r}: positions 7-14 are not a birth date") from None
    expected = citizen_id_check(number[:17])
    if number[17] != expected:
        raise ValueError(f"{number!r}: check character is {number[17]!r}, expected {expected!r} (GB 11643-1999)")
    return number


def _text(value: Any) -> str | None:
    """A cell as stripped text; None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return national_date(value)
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class NationalMapping:
    """A type's ``national`` declaration, checked (see the module docstring for the JSON)."""

    columns: Mapping[str, str]
    holder_code_type: str
    holder_code_type_name: str
    type_code: str | None = None
    title: str | None = None
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_json(
        cls, data: Any, field_names: Iterable[str] | None = None, *, title: str | None = None
    ) -> NationalMapping:
        """Check and compile a ``national`` object. ``field_names`` (the type's fields), when
        given, must include every mapped field; ``title`` is the default ZZMC."""
        if not isinstance(data, Mapping):
            raise InvalidInput("national mapping: expected an object")
        problems: list[str] = []
        known = set(field_names) if field_names is not None else None
        unknown_keys = set(data) - {"typeCode", "title", "holderCodeType", "holderCodeTypeName", "columns", "values"}
        if unknown_keys:
            problems.append(f"unknown keys {', '.join(sorted(unknown_keys))}")

        type_code = data.get("typeCode")
        if type_code is not None:
            try:
                validate_type_code(type_code)
            except IdentifierError as exc:
                problems.append(f"typeCode: {exc}")
        own_title = data.get("title", title)
        if own_title is not None and (not isinstance(own_title, str) or not own_title.strip()):
            problems.append("title: expected text")

        code_type = data.get("holderCodeType")
        code_type_name = data.get("holderCodeTypeName")
        if not isinstance(code_type, str) or not _HOLDER_CODE_TYPE.fullmatch(code_type):
            problems.append(f"holderCodeType: {code_type!r} is not a 3-digit code such as 111 or 001")
        elif code_type_name is None:
            code_type_name = HOLDER_CODE_TYPES.get(code_type)
            if code_type_name is None:
                problems.append(f"holderCodeType {code_type}: not a known code; give holderCodeTypeName")
        if code_type_name is not None and (not isinstance(code_type_name, str) or not code_type_name.strip()):
            problems.append("holderCodeTypeName: expected text")

        columns = data.get("columns")
        if not isinstance(columns, Mapping):
            problems.append("columns: expected an object of national column -> field name")
            columns = {}
        for column, name in columns.items():
            if not isinstance(column, str) or not (column in MAPPABLE or _EXTENSION.fullmatch(column)):
                reason = (
                    "comes from the certificate's metadata or the agency, not from a field"
                    if column in NAMES
                    else f"is neither one of {', '.join(sorted(MAPPABLE))} nor KZ_ followed by A-Z, 0-9, _"
                )
                problems.append(f"columns: {column!r} {reason}")
            if not isinstance(name, str) or (known is not None and name not in known):
                problems.append(f"columns: {column} maps to {name!r}, not a field of the type")
        for needed in ("CZZT", "CZZTDM"):
            if needed not in columns:
                problems.append(f"columns: {label(needed)} must be mapped to a field")

        values = data.get("values", {})
        if not isinstance(values, Mapping):
            problems.append("values: expected an object of field name -> {national value: field value}")
            values = {}
        mapped_fields = set(columns.values())
        compiled_values: dict[str, Mapping[str, str]] = {}
        for name, table in values.items():
            if name not in mapped_fields:
                problems.append(f"values: {name!r} is not a mapped field")
            if (
                not isinstance(table, Mapping)
                or not table
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
            ):
                problems.append(f"values: {name!r} needs an object of text -> text")
                continue
            if len(set(table.values())) != len(table):
                problems.append(
                    f"values: {name!r} maps two national values to one field value (export could not reverse it)"
                )
            compiled_values[name] = MappingProxyType(dict(table))
        if problems:
            raise InvalidInput("national mapping: " + "; ".join(problems))
        return cls(
            columns=MappingProxyType(dict(columns)),
            holder_code_type=str(code_type),
            holder_code_type_name=str(code_type_name),
            type_code=type_code,
            title=own_title.strip() if isinstance(own_title, str) else None,
            values=MappingProxyType(compiled_values),
        )

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> NationalMapping:
        """The mapping a raw type schema declares under ``national``."""
        if "national" not in schema:
            raise InvalidInput(f"type {schema.get('type')!r} declares no national mapping")
        names = [str(f.get("name")) for f in schema.get("fields", []) if isinstance(f, Mapping)]
        title = schema.get("title", {}).get("zh") if isinstance(schema.get("title"), Mapping) else None
        return cls.from_json(schema["national"], names, title=title)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.type_code is not None:
            out["typeCode"] = self.type_code
        if self.title is not None:
            out["title"] = self.title
        out["holderCodeType"] = self.holder_code_type
        if HOLDER_CODE_TYPES.get(self.holder_code_type) != self.holder_code_type_name:
            out["holderCodeTypeName"] = self.holder_code_type_name
        out["columns"] = dict(self.columns)
        if self.values:
            out["values"] = {k: dict(v) for k, v in self.values.items()}
        return out

    def columns_of(self, field_name: str) -> list[str]:
        return [c for c, f in self.columns.items() if f == field_name]


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class NationalRecord:
    """One imported national row: the metadata, and the type's fields (canonical text when a
    schema was given to the import)."""

    type_code: str
    issuer: str
    issuer_code: str
    issued_on: str
    holder: str
    holder_code: str
    holder_code_type: str
    holder_code_type_name: str
    valid_from: str
    valid_until: str | None
    fields: Mapping[str, str]
    title: str | None = None
    number: str | None = None
    identifier: LicenceIdentifier | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row of ``import_rows``: a record, or its problems."""

    row: int
    record: NationalRecord | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.record is not None


def _normalise_columns(row: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = str(key).strip().upper()
        if name in out:
            problems.append(f"column {name} appears twice")
        out[name] = value
    return out


def _holder_code_problem(code: str, code_type: str) -> str | None:
    try:
        if code_type == CITIZEN_ID:
            validate_citizen_id(code)
        elif code_type == CREDIT_CODE:
            validate_uscc(code, "credit code")
    except (ValueError, IdentifierError) as exc:
        return f"{label('CZZTDM')}: {exc}"
    return None


def import_row(
    row: Mapping[str, Any],
    mapping: NationalMapping,
    schema: CertificateSchema | None = None,
    *,
    strict: bool = True,
    row_number: int | None = None,
) -> NationalRecord:
    """Read one row keyed by national column names (any case) into a ``NationalRecord``.

    ``schema``, when given, validates the mapped fields and returns them canonical (dates of a
    ``date`` field may then come in either national format). ``strict`` rejects columns that
    are neither national names nor ``KZ_`` extensions. Raises ``NationalRowError`` listing
    every problem."""
    problems: list[str] = []
    cells = _normalise_columns(row, problems)
    text: dict[str, str] = {}
    for name, value in cells.items():
        try:
            cell = _text(value)
        except ValueError as exc:
            problems.append(f"{label(name)}: {exc}")
            continue
        if cell is not None:
            text[name] = cell

    if strict:
        unknown = sorted(n for n in cells if n not in NAMES and not n.startswith(EXTENSION_PREFIX))
        if unknown:
            problems.append(f"unknown columns {', '.join(unknown)} (neither GB/T 36903 names nor KZ_ extensions)")
    for name in sorted(n for n in cells if n.startswith(EXTENSION_PREFIX) and not _EXTENSION.fullmatch(n)):
        problems.append(f"extension column {name!r}: expected KZ_ followed by A-Z, 0-9, _")
    for element in NATIONAL_NAMES:
        if element.mandatory and element.code not in text:
            problems.append(f"{label(element.code)}: required")

    dates: dict[str, str | None] = {}
    for code in DATE_COLUMNS:
        if code not in text:
            continue
        if code == "ZZYXQJZRQ" and text[code] in NO_EXPIRY:
            dates[code] = None
            continue
        try:
            dates[code] = national_date(text[code])
        except ValueError as exc:
            problems.append(f"{label(code)}: {exc}")

    type_code = text.get("ZZLXDM")
    if type_code is not None:
        try:
            validate_type_code(type_code)
        except IdentifierError as exc:
            problems.append(f"{label('ZZLXDM')}: {exc}")
        else:
            if mapping.type_code is not None and type_code != mapping.type_code:
                problems.append(f"{label('ZZLXDM')}: {type_code!r} is not this type's code {mapping.type_code!r}")
    issuer_code = text.get("ZZBFJGDM")
    if issuer_code is not None:
        try:
            validate_issuer_code(issuer_code)
        except IdentifierError as exc:
            problems.append(f"{label('ZZBFJGDM')}: {exc}")

    identifier: LicenceIdentifier | None = None
    if "ZZBS" in text:
        try:
            identifier = parse(text["ZZBS"])
        except IdentifierError as exc:
            problems.append(f"{label('ZZBS')}: {exc}")
        else:
            if type_code is not None and identifier.type_code != type_code:
                problems.append(
                    f"{label('ZZBS')}: its type code {identifier.type_code} differs from ZZLXDM {type_code}"
                )
            if issuer_code is not None and identifier.issuer_code != issuer_code:
                problems.append(
                    f"{label('ZZBS')}: its issuer code {identifier.issuer_code} differs from ZZBFJGDM {issuer_code}"
                )

    code_type = text.get("CZZTDMLXDM")
    if code_type is not None and code_type != mapping.holder_code_type:
        problems.append(
            f"{label('CZZTDMLXDM')}: {code_type!r}, but this type's holders are identified by "
            f"{mapping.holder_code_type} ({mapping.holder_code_type_name})"
        )
    holder_code = text.get("CZZTDM")
    if holder_code is not None:
        problem = _holder_code_problem(holder_code, mapping.holder_code_type)
        if problem:
            problems.append(problem)

    issued_on = dates.get("ZZBFRQ")
    valid_from = dates.get("ZZYXQQSRQ") or issued_on
    valid_until = dates.get("ZZYXQJZRQ")
    if valid_from and valid_until and valid_until < valid_from:
        problems.append(f"{label('ZZYXQJZRQ')}: {valid_until} is before the start of validity {valid_from}")

    fields = _mapped_fields(text, dates, mapping, schema, problems)
    if problems:
        raise NationalRowError(problems, row_number)
    # every mandatory element is present and valid from here on
    return NationalRecord(
        type_code=text["ZZLXDM"],
        issuer=text["ZZBFJG"],
        issuer_code=text["ZZBFJGDM"],
        issued_on=str(issued_on),
        holder=text["CZZT"],
        holder_code=text["CZZTDM"],
        holder_code_type=text["CZZTDMLXDM"],
        holder_code_type_name=text["CZZTDMLX"],
        valid_from=str(valid_from),
        valid_until=valid_until,
        fields=MappingProxyType(fields),
        title=text.get("ZZMC"),
        number=text.get("ZZBH"),
        identifier=identifier,
        extensions=MappingProxyType(
            {n: v for n, v in text.items() if n.startswith(EXTENSION_PREFIX) and n not in mapping.columns}
        ),
    )


def _mapped_fields(
    text: Mapping[str, str],
    dates: Mapping[str, str | None],
    mapping: NationalMapping,
    schema: CertificateSchema | None,
    problems: list[str],
) -> dict[str, str]:
    raw: dict[str, str] = {}
    source: dict[str, str] = {}
    failed: set[str] = set()  # fields whose column already has a problem reported
    for column, name in mapping.columns.items():
        if column not in text:
            continue
        if column in DATE_COLUMNS:
            value = dates.get(column)
            if value is None:
                if text[column] not in NO_EXPIRY:
                    failed.add(name)  # bad date, reported
                continue
        else:
            value = text[column]
        table = mapping.values.get(name)
        if table is not None:
            if value in table:
                value = table[value]
            elif value not in table.values():
                problems.append(f"{label(column)}: {value!r} is not one of {', '.join(table)}")
                failed.add(name)
                continue
        if name in raw and raw[name] != value:
            problems.append(
                f"{label(column)}: {value!r} disagrees with {label(source[name])} {raw[name]!r} (both are {name})"
            )
            continue
        raw.setdefault(name, value)
        source.setdefault(name, column)
    if schema is None:
        return raw
    out: dict[str, str] = {}
    for spec in schema.fields:
        columns = " / ".join(mapping.columns_of(spec.name)) or "no national column"
        value = raw.get(spec.name)
        if value is None:
            if spec.required and spec.name not in failed:
                problems.append(f"{spec.name} ({columns}): required")
            continue
        try:
            if spec.kind == "date":
                value = national_date(value)
            out[spec.name] = spec.canonical(value)
        except (FieldError, ValueError) as exc:
            problems.append(f"{spec.name} ({columns}): {exc}")
    return out


def import_rows(
    rows: Iterable[Mapping[str, Any]],
    mapping: NationalMapping,
    schema: CertificateSchema | None = None,
    *,
    strict: bool = True,
    start: int = 1,
) -> list[RowResult]:
    """``import_row`` over many rows, numbered from ``start``; one result per row."""
    results = []
    for number, row in enumerate(rows, start):
        try:
            results.append(RowResult(number, import_row(row, mapping, schema, strict=strict, row_number=number)))
        except NationalRowError as exc:
            results.append(RowResult(number, None, exc.problems))
    return results


# --------------------------------------------------------------------------- export


def export_row(
    fields: Mapping[str, str],
    mapping: NationalMapping,
    *,
    issuer: str,
    issuer_code: str,
    issued_on: str | date | None,
    valid_from: str | date | None = None,
    valid_until: str | date | None = None,
    number: str | None = None,
    identifier: LicenceIdentifier | str | None = None,
    type_code: str | None = None,
    title: str | None = None,
) -> dict[str, str]:
    """A certificate's metadata and mapped fields under the national names, JSON-ready: ISO
    dates, table order, then the ``KZ_`` columns in mapping order, absent optional elements
    left out. A value given as an argument (``number``, ``issued_on``, the validity dates) and a
    mapped field for the same column must agree; ``issued_on`` may be None when the type maps
    ZZBFRQ to a field. Raises ``NationalRowError`` listing every problem (a missing mandatory
    element, a malformed code, a holder code that does not fit its type, ...)."""
    problems: list[str] = []
    out: dict[str, str] = {}

    def put(column: str, value: str | None) -> None:
        if value is None or not str(value).strip():
            return
        value = str(value).strip()
        if column in out and out[column] != value:
            problems.append(f"{label(column)}: {value!r} disagrees with {out[column]!r}")
            return
        out[column] = value

    def put_date(column: str, value: str | date | None) -> None:
        if value is None:
            return
        try:
            put(column, national_date(value))
        except ValueError as exc:
            problems.append(f"{label(column)}: {exc}")

    code = type_code or mapping.type_code
    if code is None:
        problems.append(f"{label('ZZLXDM')}: the type declares no typeCode and none was given")
    else:
        try:
            validate_type_code(code)
        except IdentifierError as exc:
            problems.append(f"{label('ZZLXDM')}: {exc}")
    try:
        validate_issuer_code(issuer_code)
    except IdentifierError as exc:
        problems.append(f"{label('ZZBFJGDM')}: {exc}")
    ident: LicenceIdentifier | None = None
    if identifier is not None:
        try:
            ident = identifier if isinstance(identifier, LicenceIdentifier) else parse(identifier)
        except IdentifierError as exc:
            problems.append(f"{label('ZZBS')}: {exc}")
        else:
            if code is not None and ident.type_code != code:
                problems.append(f"{label('ZZBS')}: its type code {ident.type_code} differs from ZZLXDM {code}")
            if ident.issuer_code != issuer_code:
                problems.append(
                    f"{label('ZZBS')}: its issuer code {ident.issuer_code} differs from ZZBFJGDM {issuer_code}"
                )

    put("ZZMC", title or mapping.title)
    put("ZZLXDM", code)
    put("ZZBH", number)
    put("ZZBS", str(ident) if ident else None)
    put("ZZBFJG", issuer)
    put("ZZBFJGDM", issuer_code)
    put_date("ZZBFRQ", issued_on)
    put("CZZTDMLX", mapping.holder_code_type_name)
    put("CZZTDMLXDM", mapping.holder_code_type)
    put_date("ZZYXQQSRQ", valid_from)
    put_date("ZZYXQJZRQ", valid_until)
    for column, name in mapping.columns.items():
        value = fields.get(name)
        if value is None:
            continue
        table = mapping.values.get(name)
        if table is not None:
            reverse = {v: k for k, v in table.items()}
            value = reverse.get(value, value)
        if column in DATE_COLUMNS:
            put_date(column, value)
        else:
            put(column, value)
    holder_code = out.get("CZZTDM")
    if holder_code is not None:
        problem = _holder_code_problem(holder_code, mapping.holder_code_type)
        if problem:
            problems.append(problem)
    for element in NATIONAL_NAMES:
        if element.mandatory and element.code not in out:
            where = f" (its field {mapping.columns.get(element.code)} is absent or not disclosed)"
            problems.append(f"{label(element.code)}: required" + (where if element.code in mapping.columns else ""))
    if problems:
        raise NationalRowError(problems)
    ordered = {n.code: out[n.code] for n in NATIONAL_NAMES if n.code in out}
    ordered.update((c, out[c]) for c in mapping.columns if c.startswith(EXTENSION_PREFIX) and c in out)
    return ordered


def export_certificate(
    certificate: Certificate,
    mapping: NationalMapping,
    *,
    issuer: str,
    issuer_code: str,
    issued_on: str | date | None = None,
    number: str | None = None,
    identifier: LicenceIdentifier | str | None = None,
) -> dict[str, str]:
    """``export_row`` for a certificate document: its disclosed fields, ``$validFrom`` and
    ``$validUntil``; the issue date defaults to the field mapped to ZZBFRQ, else the start of
    validity. The issuing agency's
    name and credit code are the caller's (they live in the agency registry, not the document)."""
    if issued_on is None and not any(
        column == "ZZBFRQ" and name in certificate.fields for column, name in mapping.columns.items()
    ):
        issued_on = certificate.valid_from
    return export_row(
        certificate.fields,
        mapping,
        issuer=issuer,
        issuer_code=issuer_code,
        issued_on=issued_on,
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until,
        number=number,
        identifier=identifier,
    )
