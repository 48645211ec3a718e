"""Test vectors of ``certledger/2`` (docs/certificate-format.md), in both suites, computed by an
independent implementation.

The reference implementation below is written from the text of docs/certificate-format.md:
hashlib's SHA-256 for suite ``intl``, GmSSL's SM3 (gmssl-pyx, cross-checked against the
pure-Python gmssl) for suite ``sm``, struct, cbor2 and base45 for the compact QR payload, and
the canonicalisation of ``tests/test_format_vectors.py`` (same inputs as the certledger/1
vectors). It never imports ``ledger``. ``docs/vectors/certificate-hashes-v2.json`` is its
output; the tests check that the file is exactly that and that ledger's documents, hashes and
QR payloads agree with it.

Regenerate the file (only when the format itself changes) with::

    .venv/bin/python tests/test_format_vectors_v2.py --write
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_format_vectors import CASES, SCHEMAS, ref_canonical, ref_strip

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "docs" / "vectors"
V2_FILE = "certificate-hashes-v2.json"

# ====================================================================== reference implementation


def ref_sm3(data: bytes) -> bytes:
    import gmssl_pyx

    return bytes(gmssl_pyx.sm3_hash(data))


def ref_sm3_pure(data: bytes) -> bytes:
    from gmssl import func, sm3

    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def ref_sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


REF_HASH: dict[str, Callable[[bytes], bytes]] = {"intl": ref_sha256, "sm": ref_sm3}
META_ORDER = ("$type", "$agency", "$region", "$validFrom", "$validUntil", "$identifier")


def ref_entry(name: str, value: str) -> bytes:
    n, v = name.encode("utf-8"), value.encode("utf-8")
    return struct.pack(">H", len(n)) + n + struct.pack(">I", len(v)) + v


def ref_field_preimage(name: str, value: str, salt: bytes) -> bytes:
    assert len(salt) == 16
    return b"CL2F" + salt + ref_entry(name, value)


def ref_meta_preimage(values: dict[str, str]) -> bytes:
    return b"CL2M" + b"".join(ref_entry(n, values[n]) for n in META_ORDER)


def ref_mod37_36(body: str) -> str:
    """ISO/IEC 7064 MOD 37,36 over 0-9A-Z (the GB/T 36904 check character)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    p = 36
    for ch in body:
        s = (p + alphabet.index(ch)) % 36 or 36
        p = (2 * s) % 37
    return alphabet[(37 - p) % 36]


def ref_identifier(type_code: str, issuer_code: str, serial: str, version: str) -> str:
    check = ref_mod37_36(type_code + issuer_code + serial + version)
    return ".".join(("1.2.156.3005.2", type_code, issuer_code, serial, version, check))


def ref_compact(suite: str, meta: dict[str, str], holder: bytes, region: int) -> str:
    def day(text: str) -> int | None:
        return int(text.replace("-", "")) if text else None

    ident = meta["$identifier"]
    body = [
        suite,
        meta["$type"],
        meta["$agency"],
        region,
        day(meta["$validFrom"]),
        day(meta["$validUntil"]),
        ident[len("1.2.156.3005.2.") :] if ident else None,
        holder,
    ]
    return "CLC3:" + base45.b45encode(cbor2.dumps(body)).decode()


# ====================================================================== the vectors

# The business licence gets an identifier: its type's national type code (BUSINESS_LICENSE),
# the issuer code of the production identifier 1.2.156.3005.2.11100000000013338W009.
# 11330105002500287C.2025052201.002.0, a serial and version 001.
IDENTIFIERS = {
    "business-licence-decomposed": ("11100000MB0143028R001", "11330105002500287C", "2025052201", "001"),
}


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _salt(case_id: str, name: str) -> bytes:
    return hashlib.sha256(f"certledger/2 test vector salt {case_id} {name}".encode()).digest()[:16]


def _canonical_fields(case: dict[str, Any]) -> dict[str, str]:
    out = {}
    for spec in SCHEMAS[case["type"]]["fields"]:
        raw = case["input"].get(spec["name"])
        if raw is None or not ref_strip(str(raw)):
            continue
        out[spec["name"]] = ref_canonical(spec, raw)
    return out


def _document(
    suite: str,
    case: dict[str, Any],
    identifier: str,
    fields: dict[str, str],
    salts: dict[str, bytes],
    cert_hash: bytes,
    hidden: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"format": "certledger/2", "suite": suite, "type": case["type"]}
    if identifier:
        doc["identifier"] = identifier
    doc |= {
        "issuer": dict(case["issuer"]),
        "validFrom": case["validFrom"],
        "validUntil": case["validUntil"],
        "fields": dict(fields),
        "salts": {k: _hex(v) for k, v in salts.items()},
    }
    if hidden:
        doc["hidden"] = {k: _hex(v) for k, v in hidden.items()}
    doc["hash"] = _hex(cert_hash)
    return doc


def build_vectors() -> dict[str, Any]:
    out = []
    for suite, h in REF_HASH.items():
        for case in CASES:
            fields = _canonical_fields(case)
            salts = {n: _salt(case["id"], n) for n in fields}
            parts = IDENTIFIERS.get(case["id"])
            identifier = ref_identifier(*parts) if parts else ""
            meta = {
                "$type": case["type"],
                "$agency": case["issuer"]["agency"],
                "$region": str(case["issuer"]["region"]),
                "$validFrom": case["validFrom"],
                "$validUntil": case["validUntil"] or "",
                "$identifier": identifier,
            }
            entries = []
            for n, v in fields.items():
                pre = ref_field_preimage(n, v, salts[n])
                entries.append(
                    {"name": n, "value": v, "salt": _hex(salts[n]), "preimage": _hex(pre), "fieldHash": _hex(h(pre))}
                )
            hashes = {e["name"]: bytes.fromhex(e["fieldHash"][2:]) for e in entries}
            meta_pre = ref_meta_preimage(meta)
            meta_digest = h(meta_pre)
            holder_pre = b"CL2H" + b"".join(sorted(hashes.values()))
            holder = h(holder_pre)
            cert_pre = b"CL2C" + meta_digest + holder
            cert_hash = h(cert_pre)
            shown = {n: v for n, v in fields.items() if n in case["disclose"]}
            hidden = {n: hashes[n] for n in fields if n not in shown}
            out.append(
                {
                    "id": f"{case['id']}-{suite}",
                    "suite": suite,
                    "hash": "SHA-256" if suite == "intl" else "SM3",
                    "input": case["id"] + " of certificate-hashes.json (same input rows and canonical values)",
                    "type": case["type"],
                    "issuer": case["issuer"],
                    "validFrom": case["validFrom"],
                    "validUntil": case["validUntil"],
                    "identifier": identifier or None,
                    "metaEntries": [{"name": n, "value": meta[n]} for n in META_ORDER],
                    "metaPreimage": _hex(meta_pre),
                    "metaDigest": _hex(meta_digest),
                    "entries": entries,
                    "sortedFieldHashes": [_hex(x) for x in sorted(hashes.values())],
                    "holderPreimage": _hex(holder_pre),
                    "holderDigest": _hex(holder),
                    "certificatePreimage": _hex(cert_pre),
                    "certificateHash": _hex(cert_hash),
                    "compactPayload": ref_compact(suite, meta, holder, case["issuer"]["region"]),
                    "document": _document(suite, case, identifier, fields, salts, cert_hash),
                    "disclosed": {
                        "shown": case["disclose"],
                        "document": _document(
                            suite,
                            case,
                            identifier,
                            shown,
                            {n: s for n, s in salts.items() if n in shown},
                            cert_hash,
                            hidden,
                        ),
                    },
                }
            )
    return {
        "format": "certledger/2",
        "description": "certledger/2 field hashes, metaDigest, holderDigest, certificate hash and compact QR payload "
        "in both suites (intl: SHA-256, sm: SM3); see docs/certificate-format.md",
        "cases": out,
    }


def write_vectors() -> None:
    (VECTORS / V2_FILE).write_text(json.dumps(build_vectors(), indent=2, ensure_ascii=True) + "\n", encoding="ascii")


def load() -> Any:
    return json.loads((VECTORS / V2_FILE).read_text("ascii"))


def unhex(text: str) -> bytes:
    return bytes.fromhex(text[2:])


# ====================================================================== tests: the vectors themselves


def test_vector_file_is_what_the_reference_implementation_computes() -> None:
    assert load() == build_vectors(), f"docs/vectors/{V2_FILE} differs from the reference implementation"


def test_reference_sm3_agrees_with_a_second_implementation_and_the_standard() -> None:
    # GB/T 32905-2016 example 1
    assert ref_sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    for case in load()["cases"]:
        if case["suite"] == "sm":
            for pre in (case["metaPreimage"], case["holderPreimage"], case["certificatePreimage"]):
                assert ref_sm3_pure(unhex(pre)) == ref_sm3(unhex(pre))


def test_the_suites_and_the_formats_give_different_hashes() -> None:
    cases = load()["cases"]
    by_id = {c["id"]: c for c in cases}
    v1 = {c["id"]: c for c in json.loads((VECTORS / "certificate-hashes.json").read_text("ascii"))["cases"]}
    for case in CASES:
        intl, sm = by_id[f"{case['id']}-intl"], by_id[f"{case['id']}-sm"]
        assert len({intl["certificateHash"], sm["certificateHash"], v1[case["id"]]["certificateHash"]}) == 3


def test_the_vector_identifier_is_a_valid_gbt_36904_identifier() -> None:
    from ledger.gbt.identifier import parse

    licence = next(c for c in load()["cases"] if c["identifier"])
    assert str(parse(licence["identifier"])) == licence["identifier"]
    assert ref_mod37_36("11100000000013338W00911330105002500287C2025052201002") == "0"  # the production one


def test_format_document_shows_the_vectors() -> None:
    text = (ROOT / "docs" / "certificate-format.md").read_text("utf-8")
    assert f"docs/vectors/{V2_FILE}" in text
    for case in load()["cases"]:
        assert case["certificateHash"] in text, case["id"]
    licence = next(c for c in load()["cases"] if c["id"] == "business-licence-decomposed-intl")
    assert licence["metaDigest"] in text and licence["holderDigest"] in text and licence["identifier"] in text
    qr_text = (ROOT / "docs" / "qr-payloads.md").read_text("utf-8")
    assert licence["compactPayload"] in qr_text


# ====================================================================== tests: ledger agrees


@pytest.mark.parametrize("index", range(4))
def test_ledger_hashes_documents_and_qr_payloads_agree(index: int) -> None:
    from ledger import qr
    from ledger.document import Certificate, field_hash_v2, meta_digest
    from ledger.suites import suite

    case = load()["cases"][index]
    h = suite(case["suite"]).hash
    for e in case["entries"]:
        assert field_hash_v2(h, e["name"], e["value"], unhex(e["salt"])) == unhex(e["fieldHash"])
    assert meta_digest(h, [m["value"] for m in case["metaEntries"]]) == unhex(case["metaDigest"])
    cert = Certificate(
        case["type"],
        case["issuer"]["agency"],
        case["issuer"]["region"],
        case["validFrom"],
        case["validUntil"],
        {e["name"]: e["value"] for e in case["entries"]},
        {e["name"]: unhex(e["salt"]) for e in case["entries"]},
        version=2,
        suite=case["suite"],
        identifier=case["identifier"],
    )
    assert cert.metadata().digest() == unhex(case["metaDigest"])
    assert cert.holder_digest() == unhex(case["holderDigest"])
    assert cert.compute_hash() == unhex(case["certificateHash"])
    assert cert.to_json() == case["document"]
    assert qr.compact_for(cert) == case["compactPayload"]
    decoded = qr.decode(case["compactPayload"])
    assert isinstance(decoded, qr.CompactV3Payload)
    assert decoded.cert_hash == unhex(case["certificateHash"]) and decoded.metadata == cert.metadata()
    for doc in (case["document"], case["disclosed"]["document"]):
        parsed, stated = Certificate.from_json(doc)
        assert stated == parsed.compute_hash() == unhex(case["certificateHash"])
        assert parsed.holder_digest() == unhex(case["holderDigest"])
    disclosed = cert.disclose(case["disclosed"]["shown"])
    assert disclosed.to_json() == case["disclosed"]["document"]


@pytest.mark.parametrize("suite_name", ["sm", "intl"])
def test_the_build_stage_writes_the_suites_hashes(tmp_path: Path, suite_name: str) -> None:
    """What an issuance worker stages, in each suite, recomputed by the reference implementation."""
    from eth_account import Account

    from ledger.bootstrap import default_schemas
    from ledger.issuance.build import BuildContext, _build_chunk, _init_worker
    from ledger.schema import CertificateSchema

    raw = default_schemas()["ID_CARD"]
    ctx = BuildContext(
        CertificateSchema.compile(raw),
        Account.create(),
        31337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "GD-PSB",
        "ID_CARD",
        440000,
        "2026-01-01",
        None,
        tmp_path,
        "2026-01-01",
        suite=suite_name,
        type_code=raw["national"]["typeCode"],
        issuer_code="11330105002500287C",
        serial_prefix="ABCDEF0123",
    )
    _init_worker(ctx)
    rows = [
        (2, {"name": "王小明", "sex": "M", "birthDate": "1990-01-01", "idNumber": "44010619900101001X"}),
        (3, {"name": "李丽", "sex": "F", "birthDate": "1991-02-02", "idNumber": "440106199102020026", "serial": "Q7"}),
    ]
    built = _build_chunk((0, rows))
    assert built.size == 2 and not built.bad
    docs = [json.loads(line) for line in (tmp_path / f"{built.part}.jsonl").read_text("utf-8").splitlines()]
    h = REF_HASH[suite_name]
    for doc, serial in zip(docs, ("ABCDEF01230000002", "Q7"), strict=True):
        assert doc["format"] == "certledger/2" and doc["suite"] == suite_name
        assert doc["identifier"] == ref_identifier(raw["national"]["typeCode"], "11330105002500287C", serial, "001")
        meta = {
            "$type": "ID_CARD",
            "$agency": "GD-PSB",
            "$region": "440000",
            "$validFrom": "2026-01-01",
            "$validUntil": "",
            "$identifier": doc["identifier"],
        }
        fields = [h(ref_field_preimage(n, v, unhex(doc["salts"][n]))) for n, v in doc["fields"].items()]
        holder = h(b"CL2H" + b"".join(sorted(fields)))
        assert doc["hash"] == _hex(h(b"CL2C" + h(ref_meta_preimage(meta)) + holder))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_vectors()
        print(f"wrote {VECTORS / V2_FILE}")
    else:
        print(__doc__)
