"""certledger/2 end to end, on a real anvil node and a real mirror: issuance writes certledger/2
with GB/T 36904 identifiers; compact v3 QR codes verify VALID / EXPIRED and any tampering with
their metadata or holder digest fails; a suite other than the ledger's is refused;
certledger/1 documents still verify; selective disclosure works as before; GB/T 36903 exports
(CSV and JSONL, Chinese values) are imported through the type's national mapping, bad rows
named by column; ``certledger export`` writes the national names."""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from api_helpers import (
    BJ,
    GD,
    ZJ,
    Mirror,
    check_of,
    checked_client,
    failing,
    new_deployment,
    open_mirror,
    save_deployment,
)
from helpers import Consortium, Node

from ledger import qr
from ledger.chain import Chain
from ledger.document import Anchor, Certificate, new_salts
from ledger.errors import InvalidInput, LedgerError
from ledger.gbt.identifier import build, parse
from ledger.ids import agency_id, type_id
from ledger.issuance import IssuanceRejected, IssueRequest, issue, load_bundle, schema_for
from ledger.merkle import build_tree
from ledger.signing import sign_batch
from ledger.verification import MirrorSource, Verifier

ISSUER = "11440000MB2C12345J"  # GD-PSB's credit code (GB 32100 check character valid)
AMR_ISSUER = "91440300MA5G0XKE55"  # GD-AMR's
OTHER_ISSUER = "11330105002500287C"
ID_TYPE = "11100000000013101Q001"  # ID_CARD's national type code (ledger/certtypes/ID_CARD.json)
BL_TYPE = "11100000MB0143028R001"  # BUSINESS_LICENSE's
PRODUCTION = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"


def test_issuer_code_is_valid() -> None:
    parse(build(ID_TYPE, ISSUER, "1").format())  # raises if the constants were mistyped


# ---------------------------------------------------------------------- the national exports


def citizen(body17: str) -> str:
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


def credit(body17: str) -> str:
    from ledger.gbt.identifier import uscc_check

    return body17 + uscc_check(body17)


def id_card_national(i: int, **changes: Any) -> dict[str, Any]:
    number = citizen(f"44010619900{i % 9 + 1}0{i % 9 + 1}{100 + i:03d}")
    birth = f"19900{i % 9 + 1}0{i % 9 + 1}"
    row = {
        "ZZMC": "居民身份证",
        "ZZLXDM": ID_TYPE,
        "ZZBH": number,
        "ZZBFJG": "广州市公安局天河分局",
        "ZZBFJGDM": ISSUER,
        "ZZBFRQ": "2020-03-01",
        "CZZT": f"王{'小大中'[i % 3]}明",
        "CZZTDM": number,
        "CZZTDMLX": "公民身份号码",
        "CZZTDMLXDM": "111",
        "ZZYXQQSRQ": "20200301",
        "ZZYXQJZRQ": "20400301",
        "KZ_XB": "男女"[i % 2],
        "KZ_MZ": "汉",
        "KZ_CSRQ": birth,
        "KZ_ZZ": f"广东省广州市天河区体育西路{i + 1}号",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def licence_national(i: int, **changes: Any) -> dict[str, Any]:
    code = credit(f"91440101MA5{i:06d}")
    row = {
        "ZZMC": "营业执照",
        "ZZLXDM": BL_TYPE,
        "ZZBH": code,
        "ZZBFJG": "广州市市场监督管理局",
        "ZZBFJGDM": AMR_ISSUER,
        "ZZBFRQ": "20210615",
        "CZZT": f"广州粤信{'科技贸易物流'[i % 3 * 2 : i % 3 * 2 + 2]}有限公司",
        "CZZTDM": code,
        "CZZTDMLX": "统一社会信用代码",
        "CZZTDMLXDM": "001",
        "ZZYXQQSRQ": "2021-06-15",
        "ZZYXQJZRQ": "长期",
        "KZ_FDDBR": "陈建国",
        "KZ_LX": "有限责任公司",
        "KZ_ZCZB": "500",
        "KZ_CLRQ": "2021-06-15",
        "KZ_ZS": "广东省广州市越秀区中山五路1号",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # as Excel writes it
        w = csv.DictWriter(fh, list(columns))
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


# ---------------------------------------------------------------------- the ledger


@dataclass
class Ledger:
    c: Consortium
    mirror: Mirror
    directory: Path
    docs: dict[str, list[dict[str, Any]]]

    def issue(self, name: str, agency: str, cert_type: str, rows_path: Path, **options: Any) -> list[dict[str, Any]]:
        request = IssueRequest(
            agency=agency,
            cert_type=cert_type,
            rows_path=rows_path,
            out_dir=self.directory / name,
            bundle=True,
            workers=1,
            allow_expired=True,
            **options,
        )
        key = self.c.agency_keys[agency]
        result = issue(self.c.registry, key, self.c.deployer, request, schema_for(self.c.registry, cert_type))
        assert result.bundle is not None
        return list(load_bundle(result.bundle))

    def verifier(self) -> Verifier:
        self.mirror.sync()
        return Verifier(MirrorSource(self.mirror.queries), self.c.deployment)

    def doc(self, name: str, i: int = 0) -> dict[str, Any]:
        return copy.deepcopy(self.docs[name][i])

    def cert(self, name: str, i: int = 0) -> Certificate:
        return Certificate.from_json(self.docs[name][i])[0]


@pytest.fixture(scope="module")
def ledger(anvil: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    directory = tmp_path_factory.mktemp("format-v2")
    c = new_deployment(Chain(anvil.url))
    mirror = open_mirror("sqlite", f"sqlite:///{directory}/mirror.db", anvil.url, c.deployment)
    led = Ledger(c, mirror, directory, {})
    plain = [
        {
            "name": "李四",
            "sex": "F",
            "birthDate": "1990-07-15",
            "idNumber": citizen("44010619900715002"),
            "validFrom": "2020-01-01",
        },
        {
            "name": "张三",
            "sex": "M",
            "birthDate": "1985-01-02",
            "idNumber": citizen("44010619850102001"),
            "serial": "GZ2025000001",
            "version": "002",
            "validFrom": "2020-01-01",
        },
        {
            "name": "过期",
            "sex": "M",
            "birthDate": "1970-01-01",
            "idNumber": citizen("44010619700101001"),
            "validFrom": "2010-01-01",
            "validUntil": "2020-01-01",
        },
        {
            "name": "未来",
            "sex": "F",
            "birthDate": "2001-01-01",
            "idNumber": citizen("44010620010101002"),
            "validFrom": "2099-01-01",
        },
    ]
    led.docs["noid"] = led.issue(
        "noid", "GD-PSB", "ID_CARD", write_jsonl(directory / "noid.jsonl", plain[:1]), valid_from="2020-01-01"
    )
    # identifiers name their issuer by the credit code the ledger records for the agency (an
    # agency with none issues without identifiers)
    c.registry.set_agency_credit_code(c.admins[GD], "GD-PSB", ISSUER)
    c.registry.set_agency_credit_code(c.admins[GD], "GD-AMR", AMR_ISSUER)
    led.docs["id"] = led.issue(
        "id", "GD-PSB", "ID_CARD", write_jsonl(directory / "id.jsonl", plain), issuer_code=ISSUER
    )
    led.docs["biz"] = led.issue(
        "biz", "GD-AMR", "BUSINESS_LICENSE", write_csv(directory / "biz.csv", [licence_national(i) for i in range(3)])
    )
    led.docs["nat_id"] = led.issue(
        "nat_id", "GD-PSB", "ID_CARD", write_jsonl(directory / "nat-id.jsonl", [id_card_national(i) for i in range(3)])
    )
    # a certledger/1 document, anchored as before certledger/2 existed
    fields = {"name": "旧证", "sex": "M", "birthDate": "1980-05-05", "idNumber": citizen("44010619800505003")}
    v1 = Certificate("ID_CARD", "GD-PSB", GD, "2020-01-01", None, fields, new_salts(list(fields)))
    other = replace(v1, fields={**fields, "name": "旧证二"})
    h = v1.compute_hash()
    anchored = c.registry.anchor_batch(
        c.deployer, c.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", [h, other.compute_hash()]
    )
    tree = build_tree([h, other.compute_hash()])
    assert tree.root == anchored.root
    d = c.deployment
    sig = sign_batch(
        c.agency_keys["GD-PSB"], tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), d.chain_id, d.certificate_registry
    )
    anchor = Anchor(d.chain_id, d.certificate_registry, tree.root, tuple(tree.proof(h)), sig)
    led.docs["v1"] = [replace(v1, anchor=anchor).to_json()]
    try:
        yield led
    finally:
        mirror.store.dispose()


def verify_doc(v: Verifier, doc: dict[str, Any], **kw: Any) -> Any:
    cert, stated = Certificate.from_json(doc)
    return v.verify_document(cert, stated, **kw)


def compact_with(cert: Certificate, **changes: Any) -> str:
    meta = replace(cert.metadata(), **changes)
    return qr.compact_v3_payload(meta, cert.holder_digest())


# ---------------------------------------------------------------------- issuance writes certledger/2


def test_issued_documents_are_certledger_2_with_identifiers(ledger: Ledger) -> None:
    first, second, *_ = ledger.docs["id"]
    for doc in ledger.docs["id"]:
        assert doc["format"] == "certledger/2" and doc["suite"] == "intl"
        ident = parse(doc["identifier"])
        assert ident.type_code == ID_TYPE and ident.issuer_code == ISSUER
    generated = parse(first["identifier"])
    assert generated.version == "001" and generated.serial.endswith("0000001")  # row 1 of the JSONL file
    assert len(generated.serial) == 17  # 10 characters of the input's SHA-256 + the row number
    assert parse(second["identifier"]).serial == "GZ2025000001" and parse(second["identifier"]).version == "002"
    assert len({d["identifier"] for d in ledger.docs["id"]}) == len(ledger.docs["id"])
    assert "identifier" not in ledger.doc("noid")  # no issuer code: no identifier, as before
    for doc in ledger.docs["id"]:
        cert, stated = Certificate.from_json(doc)
        assert cert.compute_hash() == stated


def test_v2_documents_verify_valid(ledger: Ledger) -> None:
    v = ledger.verifier()
    for name in ("id", "noid", "biz", "nat_id"):
        r = verify_doc(v, ledger.doc(name), verifier_region=GD)
        assert r.verdict == "VALID", (name, failing(r))
    r = verify_doc(v, ledger.doc("id"))
    assert r.certificate["identifier"] == ledger.doc("id")["identifier"] and r.certificate["suite"] == "intl"


# ---------------------------------------------------------------------- compact v3


def test_compact_v3_of_a_valid_certificate_is_valid(ledger: Ledger) -> None:
    v = ledger.verifier()
    cert = ledger.cert("id")
    payload = qr.compact_for(cert)
    assert payload.startswith("CLC3:")
    r = v.verify_payload(payload, verifier_region=GD)
    assert r.verdict == "VALID", failing(r)
    assert check_of(r, "integrity")["code"] == "METADATA_BOUND"
    assert check_of(r, "validity_period")["ok"] is True
    out = r.to_json()["certificate"]
    assert out["hash"] == ledger.doc("id")["hash"] and out["identifier"] == cert.identifier
    assert out["valid_from"] == "2020-01-01" and out["valid_until"] is None
    # without an identifier, and from a national import
    for name in ("noid", "biz", "nat_id"):
        r = v.verify_payload(qr.compact_for(ledger.cert(name)), verifier_region=GD)
        assert r.verdict == "VALID", (name, failing(r))
    # the recognition rules still apply: Zhejiang recognises ID cards from anywhere, Beijing has no rule
    assert v.verify_payload(payload, verifier_region=ZJ).verdict == "VALID"
    r = v.verify_payload(payload, verifier_region=BJ)
    assert r.verdict == "NOT_RECOGNIZED" and failing(r) == [("recognition", "NO_RULE")]


def test_compact_v3_of_an_expired_or_not_yet_valid_certificate(ledger: Ledger) -> None:
    v = ledger.verifier()
    expired = v.verify_payload(qr.compact_for(ledger.cert("id", 2)), verifier_region=GD)
    assert expired.verdict == "EXPIRED" and failing(expired) == [("validity_period", "EXPIRED")]
    future = v.verify_payload(qr.compact_for(ledger.cert("id", 3)), verifier_region=GD)
    assert future.verdict == "EXPIRED" and failing(future) == [("validity_period", "NOT_YET_VALID")]


def test_compact_v3_with_a_tampered_date_is_not_anchored(ledger: Ledger) -> None:
    """Moving the expiry of an expired certificate (or the start of a future one) changes the
    certificate hash the verifier recomputes: the ledger has no such certificate."""
    v = ledger.verifier()
    expired, future = ledger.cert("id", 2), ledger.cert("id", 3)
    for payload in (
        compact_with(expired, valid_until="2099-12-31"),
        compact_with(expired, valid_until=None),
        compact_with(future, valid_from="2020-01-01"),
    ):
        r = v.verify_payload(payload, verifier_region=GD)
        assert r.verdict == "UNKNOWN" and failing(r)[0] == ("anchored", "NOT_ANCHORED"), failing(r)


def test_compact_v3_with_a_tampered_identifier(ledger: Ledger) -> None:
    v = ledger.verifier()
    cert = ledger.cert("id", 1)
    ident = parse(cert.identifier or "")
    # a well-formed identifier of another licence (check character recomputed): not anchored
    other = build(ident.type_code, ident.issuer_code, "GZ2025000002", ident.version).format()
    r = v.verify_payload(compact_with(cert, identifier=other), verifier_region=GD)
    assert r.verdict == "UNKNOWN" and failing(r)[0] == ("anchored", "NOT_ANCHORED")
    # an identifier whose check character no longer fits: INVALID, named
    bad = cert.identifier[:-1] + ("1" if cert.identifier[-1] != "1" else "2")  # type: ignore[index]
    r = v.verify_payload(compact_with(cert, identifier=bad), verifier_region=GD)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "BAD_IDENTIFIER")
    assert check_of(r, "integrity")["params"]["segment"] == "check"
    # adding or removing an identifier changes the hash too
    r = v.verify_payload(compact_with(cert, identifier=None), verifier_region=GD)
    assert failing(r)[0] == ("anchored", "NOT_ANCHORED")
    r = v.verify_payload(compact_with(ledger.cert("noid"), identifier=PRODUCTION), verifier_region=GD)
    assert failing(r)[0] == ("anchored", "NOT_ANCHORED")


def test_compact_v3_with_a_tampered_holder_digest_or_claim(ledger: Ledger) -> None:
    v = ledger.verifier()
    cert = ledger.cert("id")
    digest = bytearray(cert.holder_digest())
    digest[0] ^= 1
    r = v.verify_payload(qr.compact_v3_payload(cert.metadata(), bytes(digest)), verifier_region=GD)
    assert r.verdict == "UNKNOWN" and failing(r)[0] == ("anchored", "NOT_ANCHORED")
    for change in ({"region": ZJ}, {"type": "DEGREE"}, {"agency": "GD-CMP"}):
        r = v.verify_payload(compact_with(cert, **change), verifier_region=GD)
        assert r.verdict in ("UNKNOWN", "INVALID") and failing(r), (change, failing(r))


def test_compact_v3_is_smaller_than_a_full_code(ledger: Ledger) -> None:
    cert = ledger.cert("noid")
    v3 = qr.compact_for(cert)
    v2 = qr.compact_payload(cert.compute_hash(), cert.type, cert.region, cert.agency)
    assert qr.qr_version(v3) <= qr.qr_version(v2) + 1
    assert qr.qr_version(qr.compact_for(ledger.cert("id"))) < qr.qr_version(qr.full_payload(ledger.cert("id")))


# ---------------------------------------------------------------------- suites and formats


def test_a_suite_other_than_the_ledgers_is_refused(ledger: Ledger) -> None:
    v = ledger.verifier()
    cert = ledger.cert("id")
    r = v.verify_payload(compact_with(cert, suite="sm"), verifier_region=GD)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "SUITE_MISMATCH")
    assert check_of(r, "integrity")["params"] == {"suite": "sm", "expected": "intl"}
    doc = ledger.doc("id")
    doc["suite"] = "sm"
    r = verify_doc(v, doc, verifier_region=GD)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "SUITE_MISMATCH")
    # re-hashed honestly in SM3, the certificate is another one: the ledger never anchored it
    resm = replace(cert, suite="sm")
    r = v.verify_payload(qr.compact_for(resm), verifier_region=GD)
    assert failing(r)[0] == ("integrity", "SUITE_MISMATCH")


def test_certledger_1_documents_still_verify(ledger: Ledger) -> None:
    v = ledger.verifier()
    doc = ledger.doc("v1")
    assert doc["format"] == "certledger/1" and "suite" not in doc
    r = verify_doc(v, doc, verifier_region=GD)
    assert r.verdict == "VALID", failing(r)
    assert "suite" not in r.certificate and "identifier" not in r.certificate
    cert = ledger.cert("v1")
    full = qr.full_payload(cert)
    assert full.startswith("CLF1:")
    assert v.verify_payload(full, verifier_region=GD).verdict == "VALID"
    compact = qr.compact_for(cert)
    assert compact.startswith("CLC2:")
    assert v.verify_payload(compact, verifier_region=GD).verdict == "INCOMPLETE"  # a bare hash, as decided
    disclosed = cert.disclose(["name"])
    assert v.verify_document(disclosed, cert.compute_hash(), verifier_region=GD).verdict == "VALID"


def test_certledger_1_is_never_reinterpreted(ledger: Ledger) -> None:
    doc = ledger.doc("v1")
    for edit, message in (
        ({"suite": "sm"}, "claims suite 'sm'"),
        ({"identifier": PRODUCTION}, "has no identifier"),
    ):
        with pytest.raises(InvalidInput, match=message):
            Certificate.from_json({**doc, **edit})
    assert Certificate.from_json({**doc, "suite": "intl"})[0].version == 1
    # relabelled as certledger/2 (with its suite), the same fields hash differently: INVALID
    v2 = {**doc, "format": "certledger/2", "suite": "intl"}
    r = verify_doc(ledger.verifier(), v2, verifier_region=GD)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "HASH_MISMATCH")
    # and a certledger/2 document relabelled certledger/1
    relabelled = {k: v for k, v in ledger.doc("noid").items() if k != "suite"} | {"format": "certledger/1"}
    r = verify_doc(ledger.verifier(), relabelled, verifier_region=GD)
    assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "HASH_MISMATCH")


@pytest.mark.parametrize(
    "edit",
    [
        {"suite": None},
        {"suite": "SM"},
        {"suite": "sha3"},
        {"suite": 1},
        {"identifier": "1.2.156.3005.2.x"},
        {"identifier": 5},
        {"format": "certledger/3"},
    ],
)
def test_malformed_v2_documents_are_refused(ledger: Ledger, edit: dict[str, Any]) -> None:
    doc = ledger.doc("id") | edit
    with pytest.raises(InvalidInput):
        Certificate.from_json(doc)


def test_a_tampered_v2_document_is_invalid(ledger: Ledger) -> None:
    v = ledger.verifier()
    for field, value in (("validUntil", "2099-01-01"), ("identifier", PRODUCTION), ("type", "DEGREE")):
        doc = ledger.doc("id", 2)
        doc[field] = value
        r = verify_doc(v, doc, verifier_region=GD)
        assert r.verdict == "INVALID" and failing(r)[0] == ("integrity", "HASH_MISMATCH"), (field, failing(r))


# ---------------------------------------------------------------------- over HTTP


def test_the_api_verifies_v2_documents_and_compact_v3_payloads(ledger: Ledger, anvil: Node) -> None:
    from api.app import ApiSettings, create_app

    home = ledger.directory / "api-home"
    settings = ApiSettings(
        home=home, deployment=save_deployment(ledger.c, home), rpc_url=anvil.url, db_url=ledger.mirror.url
    )
    ledger.mirror.sync()
    with checked_client(create_app(settings)) as client:
        doc = ledger.doc("id")
        r = client.post("/v1/verify", params={"verifier_region": str(GD)}, json={"document": doc})
        assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.json()
        assert r.json()["certificate"]["identifier"] == doc["identifier"]
        payload = qr.compact_for(ledger.cert("id"))
        r = client.post("/v1/verify", params={"verifier_region": str(GD)}, json={"payload": payload})
        assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.json()
        assert r.json()["certificate"]["suite"] == "intl"
        r = client.post("/v1/verify", json={"payload": qr.compact_for(ledger.cert("id", 2))})
        assert r.json()["verdict"] == "EXPIRED"
        r = client.post("/v1/verify", json={"payload": qr.full_payload(ledger.cert("biz"))})
        assert r.json()["verdict"] == "VALID", r.json()
        r = client.post("/v1/verify", json={"document": doc | {"suite": "sha3"}})
        assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_DOCUMENT"
        r = client.post("/v1/verify", json={"payload": payload[:-3]})
        assert r.status_code == 422


# ---------------------------------------------------------------------- selective disclosure


def test_selective_disclosure_under_v2(ledger: Ledger) -> None:
    v = ledger.verifier()
    cert = ledger.cert("id")
    disclosed = cert.disclose(["name"])
    assert set(disclosed.hidden) == {"sex", "birthDate", "idNumber"}
    assert disclosed.compute_hash() == cert.compute_hash() and disclosed.holder_digest() == cert.holder_digest()
    r = v.verify_document(disclosed, cert.compute_hash(), verifier_region=GD)
    assert r.verdict == "VALID", failing(r)
    assert r.hidden_fields == ["birthDate", "idNumber", "sex"] and r.disclosed_fields == {"name": "李四"}
    # the full QR code of the disclosed document, and its compact code (the same as the full one's)
    full = qr.full_payload(disclosed)
    assert full.startswith("CLF2:")
    decoded = qr.decode(full)
    assert isinstance(decoded, Certificate) and decoded.identifier == cert.identifier and decoded.suite == "intl"
    assert v.verify_payload(full, verifier_region=GD).verdict == "VALID"
    assert qr.compact_for(disclosed) == qr.compact_for(cert)
    # a hidden field hash altered: INVALID
    doc = disclosed.to_json(cert.compute_hash())
    doc["hidden"]["sex"] = "0x" + "00" * 32
    assert verify_doc(v, doc, verifier_region=GD).verdict == "INVALID"
    # a disclosed value altered
    doc = disclosed.to_json(cert.compute_hash())
    doc["fields"]["name"] = "李五"
    assert verify_doc(v, doc, verifier_region=GD).verdict == "INVALID"


# ---------------------------------------------------------------------- GB/T 36903 import


def test_national_import_maps_columns_to_fields(ledger: Ledger) -> None:
    biz = ledger.doc("biz")
    row = licence_national(0)
    assert biz["fields"] == {
        "companyName": row["CZZT"],
        "creditCode": row["CZZTDM"],
        "legalRepresentative": "陈建国",
        "companyType": "有限责任公司",
        "registeredCapital": "500",
        "establishedOn": "2021-06-15",
        "address": "广东省广州市越秀区中山五路1号",
    }
    assert biz["validFrom"] == "2021-06-15" and biz["validUntil"] is None  # 长期: no expiry
    ident = parse(biz["identifier"])  # the issuer code the rows agree on; ZZBH (a credit code) is the serial
    assert (ident.type_code, ident.issuer_code, ident.serial, ident.version) == (
        BL_TYPE,
        AMR_ISSUER,
        row["ZZBH"],
        "001",
    )
    nat = ledger.doc("nat_id")
    row = id_card_national(0)
    assert nat["fields"] == {
        "name": row["CZZT"],
        "sex": "M",
        "ethnicity": "汉",
        "birthDate": "1990-01-01",
        "address": row["KZ_ZZ"],
        "idNumber": row["CZZTDM"],
    }
    assert (nat["validFrom"], nat["validUntil"]) == ("2020-03-01", "2040-03-01")
    # the citizen number is ZZBH, but never the identifier's serial: the identifier is always shown
    serial = parse(nat["identifier"]).serial
    assert row["ZZBH"] not in nat["identifier"] and serial.endswith("0000001")


def rejected(ledger: Ledger, name: str, cert_type: str, path: Path, **options: Any) -> dict[int, str]:
    with pytest.raises(IssuanceRejected) as info:
        ledger.issue(name, "GD-AMR" if cert_type == "BUSINESS_LICENSE" else "GD-PSB", cert_type, path, **options)
    return {b.row: b.reason for b in info.value.bad_rows}


def test_bad_national_rows_are_named_by_column(ledger: Ledger, tmp_path: Path) -> None:
    good = licence_national(10)
    rows = [
        good,
        licence_national(11, CZZT=""),  # mandatory 持证主体 missing
        licence_national(12, CZZTDM=None, CZZTDMLX=None, CZZTDMLXDM=None),
        licence_national(13, ZZBFJGDM=AMR_ISSUER[:-1] + "Q"),  # check character wrong
        licence_national(14, ZZLXDM="11100000000013101Q001"),  # ID_CARD's type code
        licence_national(15, ZZBFRQ="2021-02-30"),
        licence_national(16, ZZBFJG=None, ZZLXDM=None),
        licence_national(17, KZ_ZCZB="五百"),
        licence_national(18, ZZBS=PRODUCTION),  # another type and issuer
        licence_national(19, ZZBH="gz-0001"),  # ZZBH and CZZTDM are both the credit code
        licence_national(20, ZZBFJGDM=OTHER_ISSUER),  # not this agency's code
    ]
    reasons = rejected(
        ledger, "bad-biz", "BUSINESS_LICENSE", write_csv(tmp_path / "bad.csv", rows), issuer_code=AMR_ISSUER
    )
    assert 2 not in reasons and set(reasons) == set(range(3, 13)), reasons
    assert "CZZT (持证主体): required" in reasons[3]
    assert all(f"{c}" in reasons[4] for c in ("CZZTDM", "CZZTDMLX", "CZZTDMLXDM"))
    assert "ZZBFJGDM (证照颁发机构代码)" in reasons[5] and "check character" in reasons[5]
    assert "ZZLXDM (证照类型代码)" in reasons[6] and "is not this type's code" in reasons[6]
    assert "ZZBFRQ (证照颁发日期)" in reasons[7] and "calendar date" in reasons[7]
    assert "ZZBFJG (证照颁发机构): required" in reasons[8] and "ZZLXDM (证照类型代码): required" in reasons[8]
    assert "registeredCapital" in reasons[9] and "KZ_ZCZB" in reasons[9]
    assert "ZZBS (证照标识)" in reasons[10] and "differs from ZZLXDM" in reasons[10]
    assert "ZZBH (证照编号)" in reasons[11] and "disagrees with CZZTDM" in reasons[11]
    assert OTHER_ISSUER in reasons[12] and "issuing agency's code" in reasons[12]


def test_bad_national_jsonl_rows(ledger: Ledger, tmp_path: Path) -> None:
    rows = [
        id_card_national(30),
        id_card_national(31, CZZTDM=citizen("44010619900101031")[:-1] + "0", ZZBH=None),  # GB 11643 check
        id_card_national(32, KZ_XB="未知"),
        id_card_national(33, ZZYXQJZRQ="20100101"),  # ends before it starts
        id_card_national(34, ZZBH=citizen("44010619900101034")),  # ZZBH and CZZTDM disagree on idNumber
        id_card_national(35, CZZTDMLXDM="001"),
    ]
    reasons = rejected(ledger, "bad-id", "ID_CARD", write_jsonl(tmp_path / "bad.jsonl", rows))
    assert set(reasons) == {2, 3, 4, 5, 6}, reasons
    assert "CZZTDM (持证主体代码)" in reasons[2] and "GB 11643" in reasons[2]
    assert "KZ_XB" in reasons[3] and "'未知' is not one of" in reasons[3]
    assert "ZZYXQJZRQ (证照有效期截止日期)" in reasons[4]
    assert "disagrees" in reasons[5]
    assert "CZZTDMLXDM" in reasons[6]


def test_national_file_level_problems(ledger: Ledger, tmp_path: Path) -> None:
    def refused(name: str, rows: list[dict[str, Any]], cert_type: str = "ID_CARD", **options: Any) -> str:
        path = write_jsonl(tmp_path / f"{name}.jsonl", rows)
        with pytest.raises(InvalidInput) as info:
            ledger.issue(name, "GD-PSB", cert_type, path, **options)
        return str(info.value)

    assert "KZ_FOO" in refused("unmapped", [id_card_national(40, KZ_FOO="x")])
    assert "name" in refused("mixed", [id_card_national(41, name="王")])
    msg = refused("two-issuers", [id_card_national(42), id_card_national(43, ZZBFJGDM=OTHER_ISSUER)])
    assert "2 different issuing agency codes" in msg and "--issuer-code" in msg
    assert "check character" in refused("bad-code", [id_card_national(44)], issuer_code=ISSUER[:-1] + "Q")
    # plain rows forced to be national: their columns are not national names
    plain = [{"name": "王", "sex": "M", "birthDate": "1990-01-01", "idNumber": citizen("44010619900101045")}]
    assert "not GB/T 36903 names" in refused("forced", plain, national=True)


def test_identifiers_name_the_issuer_the_ledger_records(ledger: Ledger, tmp_path: Path) -> None:
    """An identifier names its issuer by credit code: issuance takes the agency's code from the
    ledger, and refuses one that is not the agency's there (its certificates would verify
    INVALID), given or read from a national export's ZZBFJGDM."""
    plain = [{"name": "王", "sex": "M", "birthDate": "1990-01-01", "idNumber": citizen("44010619900101045")}]
    path = write_jsonl(tmp_path / "plain.jsonl", plain)
    with pytest.raises(InvalidInput, match=f"{AMR_ISSUER} is not GD-PSB's credit code on the ledger \\({ISSUER}\\)"):
        ledger.issue("amr-code", "GD-PSB", "ID_CARD", path, issuer_code=AMR_ISSUER)
    with pytest.raises(InvalidInput, match="GD-CMP has no credit code on the ledger: set it first"):
        ledger.issue("no-code", "GD-CMP", "ID_CARD", path, issuer_code=OTHER_ISSUER)
    (doc,) = ledger.issue("ledger-code", "GD-PSB", "ID_CARD", path)  # no --issuer-code: the ledger's
    assert parse(doc["identifier"]).issuer_code == ISSUER
    amr = write_jsonl(tmp_path / "amr.jsonl", [id_card_national(45, ZZBFJGDM=AMR_ISSUER)])
    with pytest.raises(InvalidInput, match=f"{AMR_ISSUER} is not GD-PSB's credit code on the ledger"):
        ledger.issue("amr-rows", "GD-PSB", "ID_CARD", amr)
    # another agency's code, a code taken: the contract refuses (one agency per code)
    with pytest.raises(LedgerError, match="CreditCodeTaken"):
        ledger.c.registry.set_agency_credit_code(ledger.c.admins[GD], "GD-CMP", ISSUER)
    assert ledger.c.registry.credit_code("GD-CMP") is None


def test_plain_rows_with_a_bad_serial_are_bad_rows(ledger: Ledger, tmp_path: Path) -> None:
    base = {"name": "王", "sex": "M", "birthDate": "1990-01-01", "validFrom": "2020-01-01"}
    rows = [
        {**base, "idNumber": citizen("44010619900101050"), "serial": "OK123"},
        {**base, "idNumber": citizen("44010619900101051"), "serial": "粤-1"},
        {**base, "idNumber": citizen("44010619900101052"), "serial": "A" * 33},
        {**base, "idNumber": citizen("44010619900101053"), "version": "000"},
    ]
    reasons = rejected(ledger, "bad-serial", "ID_CARD", write_jsonl(tmp_path / "s.jsonl", rows), issuer_code=ISSUER)
    assert set(reasons) == {2, 3, 4}, reasons
    assert "serial '粤-1' cannot be the identifier's serial" in reasons[2]
    assert "identifier" in reasons[4] and "version" in reasons[4]


# ---------------------------------------------------------------------- export


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_writes_the_national_names(ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "licence.json"
    path.write_text(json.dumps(ledger.doc("biz"), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "national.json"
    code, _, err = run_cli(capsys, "export", str(path), "--out", str(out), "--issuer-name", "广州市市场监督管理局")
    assert code == 0, err
    row = json.loads(out.read_text("utf-8"))
    source = licence_national(0)
    assert row == {
        "ZZMC": "营业执照",
        "ZZLXDM": BL_TYPE,
        "ZZBH": source["ZZBH"],
        "ZZBS": ledger.doc("biz")["identifier"],
        "ZZBFJG": "广州市市场监督管理局",
        "ZZBFJGDM": AMR_ISSUER,
        "ZZBFRQ": "2021-06-15",
        "CZZT": source["CZZT"],
        "CZZTDM": source["CZZTDM"],
        "CZZTDMLX": "统一社会信用代码",
        "CZZTDMLXDM": "001",
        "ZZYXQQSRQ": "2021-06-15",
        "KZ_FDDBR": "陈建国",
        "KZ_LX": "有限责任公司",
        "KZ_ZCZB": "500",
        "KZ_CLRQ": "2021-06-15",
        "KZ_ZS": "广东省广州市越秀区中山五路1号",
    }
    # standard output, and only the disclosed fields
    cert, stated = Certificate.from_json(ledger.doc("biz"))
    disclosed = tmp_path / "disclosed.json"
    disclosed.write_text(json.dumps(cert.disclose(["companyName", "creditCode"]).to_json(stated)), encoding="utf-8")
    code, stdout, err = run_cli(capsys, "export", str(disclosed))
    assert code == 0, err
    shown = json.loads(stdout)
    assert shown["ZZBFJG"] == "GD-AMR" and "KZ_FDDBR" not in shown and shown["CZZT"] == source["CZZT"]


def test_export_refusals_are_one_line(ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, stated = Certificate.from_json(ledger.doc("id"))
    hidden_holder = tmp_path / "hidden.json"
    hidden_holder.write_text(json.dumps(cert.disclose(["sex"]).to_json(stated)), encoding="utf-8")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(ledger.doc("id") | {"validUntil": "2099-01-01"}), encoding="utf-8")
    no_identifier = tmp_path / "noid.json"
    no_identifier.write_text(json.dumps(ledger.doc("noid")), encoding="utf-8")
    for path, expected in (
        (hidden_holder, "CZZT (持证主体): required (its field name is absent or not disclosed)"),
        (tampered, "does not match its stated hash"),
        (no_identifier, "--issuer-code"),
    ):
        code, _, err = run_cli(capsys, "export", str(path))
        lines = err.strip().splitlines()
        assert code != 0 and len(lines) == 1 and expected in lines[0], err
    code, out, err = run_cli(capsys, "export", str(no_identifier), "--issuer-code", ISSUER)
    assert code == 0 and json.loads(out)["ZZBFJGDM"] == ISSUER and "ZZBS" not in json.loads(out)
    code, _, err = run_cli(capsys, "export", str(no_identifier), "--issuer-code", ISSUER[:-1] + "Q")
    assert code != 0 and "check character" in err
