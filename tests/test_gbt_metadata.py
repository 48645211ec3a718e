"""GB/T 36903 metadata (ledger.gbt.metadata): the names table, the ``national`` mapping a type
declares (and the proposed mappings for the eight built-in types, checked against their real
schemas), import with per-row problems naming the columns, and export back to national names."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from stdnum.cn import ric as stdnum_ric

from ledger.document import Certificate, new_salts
from ledger.errors import InvalidInput
from ledger.gbt import identifier as gid
from ledger.gbt import metadata as md
from ledger.gbt.metadata import (
    NationalMapping,
    NationalRowError,
    export_certificate,
    export_row,
    import_row,
    import_rows,
)
from ledger.schema import CertificateSchema

pytestmark = pytest.mark.unit

CERTTYPES = Path(__file__).resolve().parents[1] / "ledger" / "certtypes"
ISSUER_CODE = "11330105002500287C"
CITIZEN = "11010519491231002X"  # the GB 11643-1999 example number

SEX = {"男": "M", "女": "F"}

# The proposed national mappings of the eight built-in types (see docs/national-profile.md).
# MARRIAGE_CERTIFICATE needs a holderIdNumber field its schema does not have yet.
PROPOSED: dict[str, dict[str, Any]] = {
    "ID_CARD": {
        "holderCodeType": "111",
        "columns": {
            "CZZT": "name",
            "CZZTDM": "idNumber",
            "ZZBH": "idNumber",
            "KZ_XB": "sex",
            "KZ_MZ": "ethnicity",
            "KZ_CSRQ": "birthDate",
            "KZ_ZZ": "address",
        },
        "values": {"sex": SEX},
    },
    "HOUSEHOLD_REGISTRATION": {
        "title": "居民户口簿",
        "holderCodeType": "111",
        "columns": {
            "CZZT": "name",
            "CZZTDM": "idNumber",
            "ZZBH": "householdNumber",
            "KZ_YHZGX": "relationToHead",
            "KZ_ZZ": "address",
        },
    },
    "DRIVING_LICENCE": {
        "holderCodeType": "111",
        "columns": {
            "CZZT": "name",
            "CZZTDM": "idNumber",
            "ZZBH": "idNumber",
            "KZ_XB": "sex",
            "KZ_ZJCX": "vehicleClass",
            "KZ_CCLZRQ": "firstIssuedOn",
        },
        "values": {"sex": SEX},
    },
    "SOCIAL_SECURITY_CARD": {
        "holderCodeType": "111",
        "columns": {"CZZT": "name", "CZZTDM": "idNumber", "ZZBH": "cardNumber", "ZZBFRQ": "issuedOn"},
    },
    "DEGREE": {
        "holderCodeType": "111",
        "columns": {
            "CZZT": "name",
            "CZZTDM": "idNumber",
            "ZZBH": "certificateNumber",
            "ZZBFRQ": "conferredOn",
            "KZ_XW": "degree",
            "KZ_ZY": "major",
            "KZ_XWSYDW": "institution",
        },
        "values": {"degree": {"学士": "BACHELOR", "硕士": "MASTER", "博士": "DOCTOR"}},
    },
    "PROFESSIONAL_QUALIFICATION": {
        "holderCodeType": "111",
        "columns": {
            "CZZT": "name",
            "CZZTDM": "idNumber",
            "ZZBH": "certificateNumber",
            "ZZBFRQ": "issuedOn",
            "KZ_ZYGZ": "qualification",
            "KZ_DJ": "level",
        },
        "values": {"level": {"一级": "1", "二级": "2", "三级": "3", "四级": "4", "五级": "5"}},
    },
    "MARRIAGE_CERTIFICATE": {
        "holderCodeType": "111",
        "columns": {
            "CZZT": "holderName",
            "CZZTDM": "holderIdNumber",
            "ZZBH": "certificateNumber",
            "ZZBFRQ": "registeredOn",
            "KZ_XM1": "spouse1Name",
            "KZ_SFZH1": "spouse1IdNumber",
            "KZ_XM2": "spouse2Name",
            "KZ_SFZH2": "spouse2IdNumber",
        },
    },
    "BUSINESS_LICENSE": {
        "typeCode": "11100000MB0143028R001",
        "holderCodeType": "001",
        "columns": {
            "CZZT": "companyName",
            "CZZTDM": "creditCode",
            "ZZBH": "creditCode",
            "KZ_FDDBR": "legalRepresentative",
            "KZ_LX": "companyType",
            "KZ_ZCZB": "registeredCapital",
            "KZ_CLRQ": "establishedOn",
            "KZ_ZS": "address",
        },
    },
}


def schema_with_mapping(cert_type: str) -> dict[str, Any]:
    raw = json.loads((CERTTYPES / f"{cert_type}.json").read_text(encoding="utf-8"))
    if cert_type == "MARRIAGE_CERTIFICATE" and not any(f["name"] == "holderIdNumber" for f in raw["fields"]):
        raw["fields"].insert(
            1,
            {
                "name": "holderIdNumber",
                "label": {"en": "Holder's citizen ID number", "zh": "持证人身份证件号"},
                "kind": "text",
                "required": True,
                "pattern": "^[0-9]{17}[0-9X]$",
            },
        )
    raw["national"] = copy.deepcopy(PROPOSED[cert_type])
    return raw


def id_card() -> tuple[NationalMapping, CertificateSchema]:
    raw = schema_with_mapping("ID_CARD")
    raw["national"]["typeCode"] = "11100000000013338W009"  # any valid type code, for the tests
    return NationalMapping.from_schema(raw), CertificateSchema.compile(raw)


def id_card_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ZZMC": "居民身份证",
        "ZZLXDM": "11100000000013338W009",
        "ZZBH": CITIZEN,
        "ZZBFJG": "北京市公安局西城分局",
        "ZZBFJGDM": ISSUER_CODE,
        "ZZBFRQ": "2020-01-02",
        "CZZT": "张三",
        "CZZTDM": CITIZEN,
        "CZZTDMLX": "公民身份号码",
        "CZZTDMLXDM": "111",
        "ZZYXQQSRQ": "20200102",
        "ZZYXQJZRQ": "20400102",
        "KZ_XB": "男",
        "KZ_CSRQ": "19491231",
        "KZ_MZ": "汉",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


# --------------------------------------------------------------------------- the table


def test_names_table() -> None:
    codes = [n.code for n in md.NATIONAL_NAMES]
    assert codes == [
        "ZZMC",
        "ZZLXDM",
        "ZZBH",
        "ZZBS",
        "ZZBFJG",
        "ZZBFJGDM",
        "ZZBFRQ",
        "CZZT",
        "CZZTDM",
        "CZZTDMLX",
        "CZZTDMLXDM",
        "ZZYXQQSRQ",
        "ZZYXQJZRQ",
    ]
    assert {"ZZLXDM", "ZZBFJG", "ZZBFJGDM", "ZZBFRQ", "CZZT", "CZZTDM", "CZZTDMLX", "CZZTDMLXDM"} == md.MANDATORY
    assert md.NAMES["CZZTDMLXDM"].name == "持证主体代码类型代码"
    assert md.HOLDER_CODE_TYPES["111"] == "公民身份号码" and md.HOLDER_CODE_TYPES["001"] == "统一社会信用代码"
    assert md.label("ZZBFRQ") == "ZZBFRQ (证照颁发日期)" and md.label("KZ_XB") == "KZ_XB"


def test_national_dates() -> None:
    assert md.national_date("2025-05-22") == md.national_date("20250522") == "2025-05-22"
    assert md.national_date(date(2025, 5, 22)) == "2025-05-22"
    assert md.national_date(" 20240229 ") == "2024-02-29"
    for bad, message in (
        ("20230229", "not a calendar date"),
        ("2025/05/22", "not a date"),
        ("2025-5-22", "not a date"),
        ("22.05.2025", "not a date"),
        ("", "not a date"),
    ):
        with pytest.raises(ValueError, match=message):
            md.national_date(bad)


def test_citizen_id_check_agrees_with_python_stdnum() -> None:
    assert md.validate_citizen_id(CITIZEN) == CITIZEN
    for serial in range(1000):
        first17 = f"11010519491231{serial:03d}"
        # python-stdnum's calc_check_digit takes the whole number and ignores its last character
        assert md.citizen_id_check(first17) == stdnum_ric.calc_check_digit(first17 + "?"), first17
    assert stdnum_ric.is_valid(CITIZEN)
    with pytest.raises(ValueError, match="expected 'X'"):
        md.validate_citizen_id(CITIZEN[:-1] + "1")
    with pytest.raises(ValueError, match="birth date"):
        md.validate_citizen_id("110105194913310020")
    with pytest.raises(ValueError, match="not a citizen identity number"):
        md.validate_citizen_id("11010519491231002x")


# --------------------------------------------------------------------------- mappings


@pytest.mark.parametrize("cert_type", sorted(PROPOSED))
def test_proposed_mappings_fit_the_real_schemas(cert_type: str) -> None:
    raw = schema_with_mapping(cert_type)
    mapping = NationalMapping.from_schema(raw)
    schema = CertificateSchema.compile(raw)
    assert mapping.title == (PROPOSED[cert_type].get("title") or raw["title"]["zh"])
    assert NationalMapping.from_json(mapping.to_json(), schema.field_names) == mapping
    # every required field of the type is reachable from a national column
    for spec in schema.fields:
        if spec.required:
            assert mapping.columns_of(spec.name), f"{cert_type}.{spec.name} has no national column"


def test_mapping_errors_name_every_problem() -> None:
    bad = {
        "typeCode": "11100000000013338X009",
        "holderCodeType": "11",
        "columns": {"CZZT": "name", "ZZBFJG": "name", "KZ_x": "name", "FOO": "name", "ZZBH": "nope"},
        "values": {"sex": {"男": "M"}, "name": {"a": "x", "b": "x"}},
        "extra": 1,
    }
    with pytest.raises(InvalidInput) as caught:
        NationalMapping.from_json(bad, ["name", "sex"])
    text = str(caught.value)
    for expected in (
        "unknown keys extra",
        "typeCode:",
        "holderCodeType: '11'",
        "'ZZBFJG' comes from the certificate's",
        "'KZ_x' is neither",
        "'FOO' is neither",
        "ZZBH maps to 'nope'",
        "CZZTDM (持证主体代码) must be mapped",
        "values: 'sex' is not a mapped field",
        "'name' maps two national values to one field value",
    ):
        assert expected in text, expected
    with pytest.raises(InvalidInput, match="not a known code; give holderCodeTypeName"):
        NationalMapping.from_json({"holderCodeType": "555", "columns": {"CZZT": "a", "CZZTDM": "b"}})
    custom = NationalMapping.from_json(
        {"holderCodeType": "555", "holderCodeTypeName": "某证件号码", "columns": {"CZZT": "a", "CZZTDM": "b"}}
    )
    assert custom.to_json()["holderCodeTypeName"] == "某证件号码"
    with pytest.raises(InvalidInput, match="declares no national mapping"):
        NationalMapping.from_schema({"type": "X", "fields": []})
    with pytest.raises(InvalidInput, match="expected an object"):
        NationalMapping.from_json([])


# --------------------------------------------------------------------------- import


def test_import_a_good_row() -> None:
    mapping, schema = id_card()
    record = import_row(id_card_row(), mapping, schema)
    assert record.type_code == "11100000000013338W009"
    assert record.issuer == "北京市公安局西城分局" and record.issuer_code == ISSUER_CODE
    assert record.issued_on == "2020-01-02" and record.valid_from == "2020-01-02" and record.valid_until == "2040-01-02"
    assert (record.holder, record.holder_code, record.holder_code_type, record.holder_code_type_name) == (
        "张三",
        CITIZEN,
        "111",
        "公民身份号码",
    )
    assert record.number == CITIZEN and record.title == "居民身份证"
    assert dict(record.fields) == {
        "name": "张三",
        "sex": "M",
        "ethnicity": "汉",
        "birthDate": "1949-12-31",
        "idNumber": CITIZEN,
    }
    assert record.identifier is None and dict(record.extensions) == {}


def test_import_accepts_both_date_forms_lower_case_columns_and_no_expiry() -> None:
    mapping, schema = id_card()
    row = {
        k.lower(): v
        for k, v in id_card_row(ZZBFRQ="20200102", ZZYXQQSRQ=None, ZZYXQJZRQ="长期", KZ_CSRQ=date(1949, 12, 31)).items()
    }
    record = import_row(row, mapping, schema)
    assert record.issued_on == record.valid_from == "2020-01-02"
    assert record.valid_until is None
    assert record.fields["birthDate"] == "1949-12-31"


def test_import_with_identifier_and_extensions() -> None:
    mapping, schema = id_card()
    ident = gid.build("11100000000013338W009", ISSUER_CODE, "ID2020000001", 1)
    record = import_row(id_card_row(ZZBS=str(ident), KZ_QFJG="西城分局"), mapping, schema)
    assert record.identifier == ident
    assert dict(record.extensions) == {"KZ_QFJG": "西城分局"}
    other_issuer = gid.build("11100000000013338W009", "11430000006122244L", "1", 1)
    with pytest.raises(NationalRowError, match="its issuer code 11430000006122244L differs from ZZBFJGDM"):
        import_row(id_card_row(ZZBS=str(other_issuer)), mapping, schema)
    other_type = gid.build("11100000000013338W011", ISSUER_CODE, "1", 1)
    with pytest.raises(NationalRowError, match="its type code 11100000000013338W011 differs from ZZLXDM"):
        import_row(id_card_row(ZZBS=str(other_type)), mapping, schema)
    with pytest.raises(NationalRowError, match=r"ZZBS \(证照标识\): check character"):
        import_row(id_card_row(ZZBS=str(ident)[:-1] + "Z"), mapping, schema)


def test_import_reports_every_problem_of_a_row() -> None:
    mapping, schema = id_card()
    row = id_card_row(
        ZZBFJG=None,
        CZZTDMLX=" ",
        ZZBFRQ="2020/01/02",
        ZZYXQJZRQ="20230230",
        ZZBFJGDM="11330105002500287D",
        ZZLXDM="11100000000013338W011",
        CZZTDMLXDM="001",
        CZZTDM="110105194912310021",
        KZ_XB="未知",
        FOO="bar",
    )
    with pytest.raises(NationalRowError) as caught:
        import_row(row, mapping, schema, row_number=7)
    problems = caught.value.problems
    assert caught.value.row == 7 and str(caught.value).startswith("row 7: ")
    expected = [
        "unknown columns FOO",
        "ZZBFJG (证照颁发机构): required",
        "CZZTDMLX (持证主体代码类型): required",
        "ZZBFRQ (证照颁发日期): '2020/01/02' is not a date (YYYY-MM-DD or YYYYMMDD)",
        "ZZYXQJZRQ (证照有效期截止日期): '20230230' is not a calendar date",
        "ZZLXDM (证照类型代码): '11100000000013338W011' is not this type's code '11100000000013338W009'",
        "ZZBFJGDM (证照颁发机构代码): issuer code (证照颁发机构代码) '11330105002500287D': check character is 'D', "
        "expected 'C'",
        "CZZTDMLXDM (持证主体代码类型代码): '001', but this type's holders are identified by 111 (公民身份号码)",
        "CZZTDM (持证主体代码): '110105194912310021': check character is '1', expected 'X'",
        "ZZBH (证照编号): '11010519491231002X' disagrees with CZZTDM (持证主体代码) '110105194912310021'",
        "KZ_XB: '未知' is not one of 男, 女",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert not any(p.startswith("sex ") for p in problems)  # no second report for KZ_XB
    assert len(problems) == len(expected)


def test_import_checks_dates_order_and_type_field_rules() -> None:
    mapping, schema = id_card()
    with pytest.raises(NationalRowError, match="2019-01-01 is before the start of validity 2020-01-02"):
        import_row(id_card_row(ZZYXQJZRQ="2019-01-01"), mapping, schema)
    with pytest.raises(NationalRowError, match=r"birthDate \(KZ_CSRQ\): '1949-13-01' is not a calendar date"):
        import_row(id_card_row(KZ_CSRQ="1949-13-01"), mapping, schema)
    with pytest.raises(NationalRowError, match=r"sex \(KZ_XB\): required"):
        import_row(id_card_row(KZ_XB=None), mapping, schema)
    with pytest.raises(NationalRowError, match=r"name \(CZZT\): longer than 64"):
        import_row(id_card_row(CZZT="张" * 65), mapping, schema)
    # the field value itself is accepted where a translation exists
    assert import_row(id_card_row(KZ_XB="F"), mapping, schema).fields["sex"] == "F"


def test_import_without_schema_and_non_strict() -> None:
    mapping, _ = id_card()
    record = import_row(id_card_row(FOO="bar", KZ_CSRQ="19491231"), mapping, strict=False)
    assert record.fields["birthDate"] == "19491231"  # raw: no schema to say it is a date
    with pytest.raises(NationalRowError, match="column ZZBH appears twice"):
        import_row({**id_card_row(), "zzbh": CITIZEN}, mapping)
    with pytest.raises(NationalRowError, match="extension column 'KZ_X-Y'"):
        import_row(id_card_row(**{"KZ_X-Y": "1"}), mapping)


def test_import_credit_code_holders() -> None:
    raw = schema_with_mapping("BUSINESS_LICENSE")
    mapping, schema = NationalMapping.from_schema(raw), CertificateSchema.compile(raw)
    row = {
        "ZZLXDM": "11100000MB0143028R001",
        "ZZBFJG": "杭州市市场监督管理局",
        "ZZBFJGDM": ISSUER_CODE,
        "ZZBFRQ": "20240301",
        "CZZT": "某某科技有限公司",
        "CZZTDM": "91110000600037341L",
        "CZZTDMLX": "统一社会信用代码",
        "CZZTDMLXDM": "001",
        "ZZBH": "91110000600037341L",
        "KZ_FDDBR": "李四",
        "KZ_CLRQ": "20010509",
        "KZ_ZCZB": "500",
    }
    record = import_row(row, mapping, schema)
    assert record.fields["establishedOn"] == "2001-05-09" and record.fields["registeredCapital"] == "500"
    with pytest.raises(NationalRowError, match="credit code '91110000600037341M': check character"):
        import_row({**row, "CZZTDM": "91110000600037341M", "ZZBH": "91110000600037341M"}, mapping, schema)


def test_import_rows_numbers_and_separates() -> None:
    mapping, schema = id_card()
    results = import_rows([id_card_row(), id_card_row(ZZBFRQ="x"), id_card_row()], mapping, schema, start=2)
    assert [r.row for r in results] == [2, 3, 4]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].record is None and results[1].problems[0].startswith("ZZBFRQ")


# --------------------------------------------------------------------------- export


def test_export_round_trips_through_import() -> None:
    mapping, schema = id_card()
    record = import_row(id_card_row(), mapping, schema)
    ident = gid.build(record.type_code, record.issuer_code, "ID2020000001", 1)
    out = export_row(
        record.fields,
        mapping,
        issuer=record.issuer,
        issuer_code=record.issuer_code,
        issued_on=record.issued_on,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        identifier=ident,
    )
    assert list(out)[:13] == [c for c in (n.code for n in md.NATIONAL_NAMES) if c in out]
    assert out["ZZMC"] == "居民身份证" and out["ZZBS"] == str(ident)
    assert out["CZZTDMLX"] == "公民身份号码" and out["CZZTDMLXDM"] == "111"
    assert out["KZ_XB"] == "男" and out["KZ_CSRQ"] == "1949-12-31" and out["ZZYXQJZRQ"] == "2040-01-02"
    orjson.dumps(out)
    again = import_row(out, mapping, schema)
    assert again.fields == record.fields and again.identifier == ident
    assert (again.issued_on, again.valid_from, again.valid_until) == (
        record.issued_on,
        record.valid_from,
        record.valid_until,
    )


def test_export_certificate_document() -> None:
    raw = schema_with_mapping("SOCIAL_SECURITY_CARD")
    raw["national"]["typeCode"] = "11100000000013338W009"
    mapping = NationalMapping.from_schema(raw)
    fields = {"name": "王五", "idNumber": CITIZEN, "cardNumber": "A12345678", "issuedOn": "2019-06-01"}
    cert = Certificate(
        type="SOCIAL_SECURITY_CARD",
        agency="GD-HRSS",
        region=440000,
        valid_from="2019-06-01",
        valid_until=None,
        fields=fields,
        salts=new_salts(list(fields)),
    )
    out = export_certificate(cert, mapping, issuer="广东省人力资源和社会保障厅", issuer_code=ISSUER_CODE)
    assert out["ZZBFRQ"] == "2019-06-01" and out["ZZBH"] == "A12345678" and "ZZYXQJZRQ" not in out
    # a disclosure that hides the holder cannot be exported
    hidden = cert.disclose(["cardNumber", "issuedOn"])
    with pytest.raises(NationalRowError) as caught:
        export_certificate(hidden, mapping, issuer="x", issuer_code=ISSUER_CODE)
    assert "CZZT (持证主体): required (its field name is absent or not disclosed)" in caught.value.problems
    assert any(p.startswith("CZZTDM (持证主体代码): required") for p in caught.value.problems)


def test_export_errors() -> None:
    mapping, _ = id_card()
    fields = {"name": "张三", "idNumber": CITIZEN, "sex": "M"}
    common: dict[str, Any] = {"issuer": "x", "issuer_code": ISSUER_CODE, "issued_on": "2020-01-02"}
    with pytest.raises(NationalRowError, match=r"ZZBH \(证照编号\): '11010519491231002X' disagrees with 'OTHER'"):
        export_row(fields, mapping, number="OTHER", **common)
    with pytest.raises(NationalRowError, match="check character is '1', expected 'X'"):
        export_row({**fields, "idNumber": CITIZEN[:-1] + "1"}, mapping, **common)
    with pytest.raises(NationalRowError, match=r"ZZBFRQ \(证照颁发日期\): '2020\.01\.02' is not a date"):
        export_row(fields, mapping, **{**common, "issued_on": "2020.01.02"})
    with pytest.raises(NationalRowError, match="ZZBFJGDM"):
        export_row(fields, mapping, **{**common, "issuer_code": "123"})
    with pytest.raises(NationalRowError, match="its issuer code 11430000006122244L differs"):
        export_row(fields, mapping, identifier=gid.build("11100000000013338W009", "11430000006122244L", "1"), **common)
    with pytest.raises(NationalRowError, match=r"ZZBS \(证照标识\): root"):
        export_row(fields, mapping, identifier="1.2.3", **common)
    untyped = NationalMapping.from_json({"holderCodeType": "111", "columns": {"CZZT": "name", "CZZTDM": "idNumber"}})
    with pytest.raises(NationalRowError, match="declares no typeCode and none was given"):
        export_row(fields, untyped, **common)
    out = export_row(fields, untyped, type_code="11100000000013338W009", **common)
    assert out["ZZLXDM"] == "11100000000013338W009" and "ZZMC" not in out
    with pytest.raises(NationalRowError, match=r"ZZBFRQ .*: required"):
        export_row(fields, mapping, **{**common, "issued_on": None})
