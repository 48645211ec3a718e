"""Test vectors of docs/certificate-format.md, computed by an independent implementation.

The "reference implementation" below is written from the text of docs/certificate-format.md
alone, with hashlib, struct, unicodedata and pycryptodome's keccak-256 (plus eth-keys for the
secp256k1 signature itself) -- it never imports ``ledger``. The vector files in docs/vectors/
are its output; the tests check that

- the files are exactly what the reference implementation computes (nothing edited by hand),
- ledger's own functions (schema canonicalisation, field and certificate hashes, JSON
  documents, Merkle trees, EIP-712 digests and signatures) give the same values,
- the deployed contract computes the same EIP-712 digest and accepts the same proofs,
- OpenZeppelin's JavaScript StandardMerkleTree builds the same tree.

Regenerate the files (only when the format itself changes) with::

    .venv/bin/python tests/test_format_vectors.py --write
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from Crypto.Hash import keccak as _keccak_mod

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "docs" / "vectors"
FORMAT_DOC = ROOT / "docs" / "certificate-format.md"
CERT_FILE = "certificate-hashes.json"
TREE_FILE = "batch-tree.json"
SIG_FILE = "batch-signature.json"

# ====================================================================== reference implementation
# Written from docs/certificate-format.md; no ledger imports in this section.


def ref_keccak(data: bytes) -> bytes:
    return _keccak_mod.new(digest_bits=256, data=data).digest()


def _ref_is_space(ch: str) -> bool:
    """Whitespace as the document defines it for trimming: bidirectional class WS, B or S,
    or general category Zs (this is Python's ``str.isspace``)."""
    return unicodedata.bidirectional(ch) in ("WS", "B", "S") or unicodedata.category(ch) == "Zs"


def ref_strip(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _ref_is_space(text[start]):
        start += 1
    while end > start and _ref_is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def _ref_ascii_digits(text: str, *, allow_minus: bool = False) -> bool:
    body = text[1:] if allow_minus and text.startswith("-") else text
    return bool(body) and all("0" <= c <= "9" for c in body)


def ref_canonical(spec: dict[str, Any], raw: Any) -> str:
    """Canonical text of one holder field (kinds text, enum, date, integer)."""
    kind = spec.get("kind", "text")
    if kind == "text":
        text = unicodedata.normalize("NFC", ref_strip(str(raw)))
        if "maxLength" in spec:
            assert len(text) <= spec["maxLength"]
        return text
    if kind == "enum":
        text = unicodedata.normalize("NFC", ref_strip(str(raw)))
        assert text in [unicodedata.normalize("NFC", v) for v in spec["values"]]
        return text
    if kind == "date":
        text = ref_strip(str(raw))
        assert len(text) == 10 and text[4] == "-" and text[7] == "-"
        y, m, d = text[:4], text[5:7], text[8:]
        assert all(_ref_ascii_digits(p) for p in (y, m, d))
        days = [
            31,
            29 if (int(y) % 4 == 0 and int(y) % 100 != 0) or int(y) % 400 == 0 else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ]
        assert int(y) >= 1 and 1 <= int(m) <= 12 and 1 <= int(d) <= days[int(m) - 1]
        return text
    if kind == "integer":
        text = ref_strip(str(raw))
        assert _ref_ascii_digits(text, allow_minus=True)  # (the vectors use ASCII digits only)
        negative = text.startswith("-")
        digits = text.lstrip("-").lstrip("0") or "0"
        return "-" + digits if negative and digits != "0" else digits
    raise AssertionError(kind)


def ref_field_preimage(name: str, value: str, salt: bytes) -> bytes:
    n, v = name.encode("utf-8"), value.encode("utf-8")
    assert len(salt) == 16
    return b"CL1F" + salt + struct.pack(">H", len(n)) + n + struct.pack(">I", len(v)) + v


def ref_field_hash(name: str, value: str, salt: bytes) -> bytes:
    return hashlib.sha256(ref_field_preimage(name, value, salt)).digest()


def ref_certificate_hash(field_hashes: list[bytes]) -> bytes:
    return hashlib.sha256(b"CL1C" + b"".join(sorted(field_hashes))).digest()


def ref_entries(
    cert_type: str, agency: str, region: int, valid_from: str, valid_until: str | None, fields: dict[str, str]
) -> list[tuple[str, str]]:
    return [
        ("$type", cert_type),
        ("$agency", agency),
        ("$region", str(region)),
        ("$validFrom", valid_from),
        ("$validUntil", valid_until or ""),
        *fields.items(),
    ]


def ref_leaf(cert_hash: bytes) -> bytes:
    return ref_keccak(ref_keccak(cert_hash))


def ref_pair(a: bytes, b: bytes) -> bytes:
    return ref_keccak(min(a, b) + max(a, b))


def ref_tree(cert_hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(heap of 2n-1 nodes, certificate hashes in leaf order)."""
    pairs = sorted((ref_leaf(h), h) for h in cert_hashes)
    n = len(pairs)
    nodes = [b""] * (2 * n - 1)
    for i, (leaf, _) in enumerate(pairs):
        nodes[2 * n - 2 - i] = leaf
    for k in range(n - 2, -1, -1):
        nodes[k] = ref_pair(nodes[2 * k + 1], nodes[2 * k + 2])
    return nodes, [h for _, h in pairs]


def ref_proof(nodes: list[bytes], leaf: bytes) -> list[bytes]:
    i = nodes.index(leaf)
    proof = []
    while i > 0:
        proof.append(nodes[i - 1] if i % 2 == 0 else nodes[i + 1])
        i = (i - 1) // 2
    return proof


def ref_process_proof(cert_hash: bytes, proof: list[bytes]) -> bytes:
    node = ref_leaf(cert_hash)
    for sibling in proof:
        node = ref_pair(node, sibling)
    return node


def ref_code32(code: str) -> bytes:
    raw = code.encode("ascii")
    assert len(raw) <= 32
    return raw + b"\0" * (32 - len(raw))


DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
ANCHOR_TYPE = "AnchorBatch(bytes32 root,bytes32 certType,bytes32 agency,bytes32 sm2Signature,bytes32 identifierTags)"
NO_COMMITMENT = b""  # no SM2 signature (intl), no identifier tags: keccak256 of empty bytes


def ref_domain_separator(chain_id: int, registry: str) -> bytes:
    address = bytes.fromhex(registry[2:])
    return ref_keccak(
        ref_keccak(DOMAIN_TYPE.encode())
        + ref_keccak(b"CertLedger")
        + ref_keccak(b"3")
        + chain_id.to_bytes(32, "big")
        + b"\0" * 12
        + address
    )


def ref_struct_hash(root: bytes, cert_type: str, agency: str) -> bytes:
    return ref_keccak(
        ref_keccak(ANCHOR_TYPE.encode())
        + root
        + ref_code32(cert_type)
        + ref_code32(agency)
        + ref_keccak(NO_COMMITMENT)  # sm2Signature
        + ref_keccak(NO_COMMITMENT)  # identifierTags
    )


def ref_digest(root: bytes, cert_type: str, agency: str, chain_id: int, registry: str) -> bytes:
    return ref_keccak(b"\x19\x01" + ref_domain_separator(chain_id, registry) + ref_struct_hash(root, cert_type, agency))


def ref_checksum(address: bytes) -> str:
    """EIP-55 mixed-case address."""
    hexed = address.hex()
    digest = ref_keccak(hexed.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hexed))


def ref_sign(private_key: bytes, digest: bytes) -> bytes:
    """65-byte r || s || v (v = 27 or 28), RFC 6979 deterministic (eth-keys)."""
    from eth_keys import keys

    sig = keys.PrivateKey(private_key).sign_msg_hash(digest)
    return sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([27 + sig.v])


def ref_recover(signature: bytes, digest: bytes) -> str:
    from eth_keys import keys

    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    return ref_checksum(ref_keccak(public.to_bytes())[12:])


def ref_address(private_key: bytes) -> str:
    from eth_keys import keys

    return ref_checksum(ref_keccak(keys.PrivateKey(private_key).public_key.to_bytes())[12:])


META_SALT = bytes(16)  # metadata entries are always disclosed and hashed with 16 zero bytes


def ref_salt(doc: dict[str, Any], name: str) -> bytes:
    return META_SALT if name.startswith("$") else bytes.fromhex(doc["salts"][name][2:])


def ref_verify_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The offline checks of the document's "Verifying a document" section, steps 1-4."""
    assert doc["format"] == "certledger/1"
    fields = {k: unicodedata.normalize("NFC", v) for k, v in doc["fields"].items()}
    entries = ref_entries(
        doc["type"], doc["issuer"]["agency"], doc["issuer"]["region"], doc["validFrom"], doc["validUntil"], fields
    )
    hashes = [ref_field_hash(n, v, ref_salt(doc, n)) for n, v in entries]
    hashes += [bytes.fromhex(h[2:]) for h in doc.get("hidden", {}).values()]
    cert_hash = ref_certificate_hash(hashes)
    anchor = doc["anchor"]
    root = bytes.fromhex(anchor["root"][2:])
    reached = ref_process_proof(cert_hash, [bytes.fromhex(p[2:]) for p in anchor["proof"]])
    digest = ref_digest(root, doc["type"], doc["issuer"]["agency"], anchor["chainId"], anchor["registry"])
    return {
        "hash": "0x" + cert_hash.hex(),
        "hash_ok": "0x" + cert_hash.hex() == doc["hash"],
        "proof_ok": reached == root,
        "signer": ref_recover(bytes.fromhex(anchor["signature"][2:]), digest),
    }


# ====================================================================== the vectors (inputs fixed here)

SCHEMAS = {p.stem: json.loads(p.read_text("utf-8")) for p in (ROOT / "ledger" / "certtypes").glob("*.json")}

# The well-known test key of the Ethereum docs / web3.js examples; never use it for anything real.
TEST_PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
TEST_CHAIN_ID = 31337
TEST_REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # first contract a fresh anvil/hardhat deploys

CASES: list[dict[str, Any]] = [
    {
        "id": "id-card-non-nfc",
        "description": (
            "ID_CARD with non-NFC input: the name has an ideographic space (U+3000) around it and the "
            "CJK compatibility ideograph U+F900, which NFC maps to U+8C48; the address has full-width "
            "digits, which NFC keeps (NFC, not NFKC). sex has a leading space. The hashed values are "
            "the canonical ones."
        ),
        "type": "ID_CARD",
        "issuer": {"agency": "GD-PSB", "region": 440000},
        "validFrom": "2024-03-01",
        "validUntil": "2044-03-01",
        "input": {
            "name": "\u3000\u674e\uf900\u660e ",
            "sex": " F",
            "ethnicity": "\u6c49",
            "birthDate": "1990-07-15",
            "address": "\u5e7f\u4e1c\u7701\u5e7f\u5dde\u5e02\u5929\u6cb3\u533a\u4f53\u80b2\u897f\u8def\uff11\uff12\uff13\u53f7",
            "idNumber": "44010619900715002X",
        },
        "disclose": ["name", "birthDate"],
    },
    {
        "id": "business-licence-decomposed",
        "description": (
            "BUSINESS_LICENSE with a decomposed accented letter (e + U+0301 COMBINING ACUTE ACCENT, "
            "NFC: U+00E9) in a Chinese company name, an integer with a leading zero and spaces, an "
            "empty optional field (no entry at all) and no validUntil (the $validUntil entry is the "
            "empty string)."
        ),
        "type": "BUSINESS_LICENSE",
        "issuer": {"agency": "GD-AMR", "region": 440000},
        "validFrom": "2023-11-20",
        "validUntil": None,
        "input": {
            "companyName": "\u5e7f\u5dde\u5e02Cafe\u0301\u5496\u5561\u6709\u9650\u516c\u53f8",
            "creditCode": "91440101MA59ABCD2Q",
            "legalRepresentative": "\u5f20\u4f1f",
            "companyType": "",
            "registeredCapital": " 0500 ",
            "establishedOn": "2019-06-03",
            "address": "\u5e7f\u5dde\u5e02\u8d8a\u79c0\u533a\u5317\u4eac\u8def1\u53f7",
        },
        "disclose": ["companyName"],
    },
]
EXTRA_TREE_HASHES = 4  # the batch tree: case 1's hash plus 4 more = 5 certificates


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _salt(case_id: str, name: str) -> bytes:
    return hashlib.sha256(f"certledger/1 test vector salt {case_id} {name}".encode()).digest()[:16]


def _code_points(text: str) -> str:
    return " ".join(f"U+{ord(c):04X}" for c in text)


def _canonical_fields(case: dict[str, Any]) -> dict[str, str]:
    out = {}
    for spec in SCHEMAS[case["type"]]["fields"]:
        raw = case["input"].get(spec["name"])
        if raw is None or not ref_strip(str(raw)):
            assert not spec.get("required", True)
            continue
        out[spec["name"]] = ref_canonical(spec, raw)
    return out


def _document(
    case: dict[str, Any],
    fields: dict[str, str],
    salts: dict[str, bytes],
    cert_hash: bytes,
    hidden: dict[str, bytes] | None = None,
    anchor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "certledger/1",
        "type": case["type"],
        "issuer": dict(case["issuer"]),
        "validFrom": case["validFrom"],
        "validUntil": case["validUntil"],
        "fields": dict(fields),
        "salts": {k: _hex(v) for k, v in salts.items()},
    }
    if hidden:
        doc["hidden"] = {k: _hex(v) for k, v in hidden.items()}
    doc["hash"] = _hex(cert_hash)
    if anchor is not None:
        doc["anchor"] = anchor
    return doc


def build_vectors() -> dict[str, Any]:
    """Every vector file's content, from the reference implementation only."""
    cases_out = []
    for case in CASES:
        fields = _canonical_fields(case)
        entries = ref_entries(
            case["type"],
            case["issuer"]["agency"],
            case["issuer"]["region"],
            case["validFrom"],
            case["validUntil"],
            fields,
        )
        salts = {n: META_SALT if n.startswith("$") else _salt(case["id"], n) for n, _ in entries}
        rows = []
        for n, v in entries:
            rows.append(
                {
                    "name": n,
                    "value": v,
                    "salt": _hex(salts[n]),
                    "preimage": _hex(ref_field_preimage(n, v, salts[n])),
                    "fieldHash": _hex(ref_field_hash(n, v, salts[n])),
                }
            )
        hashes = {r["name"]: bytes.fromhex(r["fieldHash"][2:]) for r in rows}
        cert_hash = ref_certificate_hash(list(hashes.values()))
        shown = {n: v for n, v in fields.items() if n in case["disclose"]}
        hidden = {n: hashes[n] for n in fields if n not in shown}
        shown_salts = {n: s for n, s in salts.items() if n in shown}
        field_salts = {n: s for n, s in salts.items() if not n.startswith("$")}
        cases_out.append(
            {
                "id": case["id"],
                "description": case["description"],
                "type": case["type"],
                "schema": f"ledger/certtypes/{case['type']}.json",
                "issuer": case["issuer"],
                "validFrom": case["validFrom"],
                "validUntil": case["validUntil"],
                "input": case["input"],
                "inputCodePoints": {k: _code_points(v) for k, v in case["input"].items() if not v.isascii()},
                "canonical": fields,
                "canonicalCodePoints": {k: _code_points(v) for k, v in fields.items() if not v.isascii()},
                "entries": rows,
                "sortedFieldHashes": [_hex(h) for h in sorted(hashes.values())],
                "certificatePreimage": _hex(b"CL1C" + b"".join(sorted(hashes.values()))),
                "certificateHash": _hex(cert_hash),
                "document": _document(case, fields, field_salts, cert_hash),
                "disclosed": {
                    "shown": case["disclose"],
                    "document": _document(case, shown, shown_salts, cert_hash, hidden),
                },
            }
        )

    # ---- the batch tree: case 1 plus four more certificates
    first = bytes.fromhex(cases_out[0]["certificateHash"][2:])
    cert_hashes = [first] + [
        hashlib.sha256(f"certledger/1 test vector certificate {i}".encode()).digest()
        for i in range(2, 2 + EXTRA_TREE_HASHES)
    ]
    nodes, leaf_order = ref_tree(cert_hashes)
    root = nodes[0]
    tree = {
        "description": "OpenZeppelin StandardMerkleTree.of(hashes.map(h => [h]), ['bytes32']) of 5 certificate hashes",
        "certificateHashes": [_hex(h) for h in cert_hashes],
        "leaves": [_hex(ref_leaf(h)) for h in cert_hashes],
        "leafOrder": [_hex(h) for h in leaf_order],
        "tree": [_hex(n) for n in nodes],
        "root": _hex(root),
        "proofs": [
            {"certificateHash": _hex(h), "proof": [_hex(p) for p in ref_proof(nodes, ref_leaf(h))]} for h in cert_hashes
        ],
    }

    # ---- the EIP-712 signature of that root
    case1 = cases_out[0]
    private_key = bytes.fromhex(TEST_PRIVATE_KEY[2:])
    digest = ref_digest(root, case1["type"], case1["issuer"]["agency"], TEST_CHAIN_ID, TEST_REGISTRY)
    signature = ref_sign(private_key, digest)
    address = ref_address(private_key)
    assert ref_recover(signature, digest) == address
    sig = {
        "description": "EIP-712 AnchorBatch signature of the batch-tree.json root by a well-known TEST key",
        "domain": {"name": "CertLedger", "version": "3", "chainId": TEST_CHAIN_ID, "verifyingContract": TEST_REGISTRY},
        "message": {
            "root": _hex(root),
            "certType": case1["type"],
            "certTypeBytes32": _hex(ref_code32(case1["type"])),
            "agency": case1["issuer"]["agency"],
            "agencyBytes32": _hex(ref_code32(case1["issuer"]["agency"])),
        },
        "domainTypeHash": _hex(ref_keccak(DOMAIN_TYPE.encode())),
        "anchorTypeHash": _hex(ref_keccak(ANCHOR_TYPE.encode())),
        "domainSeparator": _hex(ref_domain_separator(TEST_CHAIN_ID, TEST_REGISTRY)),
        "structHash": _hex(ref_struct_hash(root, case1["type"], case1["issuer"]["agency"])),
        "digest": _hex(digest),
        "privateKey": TEST_PRIVATE_KEY,
        "signature": _hex(signature),
        "r": _hex(signature[:32]),
        "s": _hex(signature[32:64]),
        "v": signature[64],
        "signer": address,
    }

    # ---- case 1 as a complete anchored document (and its disclosed form)
    anchor = {
        "chainId": TEST_CHAIN_ID,
        "registry": TEST_REGISTRY,
        "root": _hex(root),
        "proof": tree["proofs"][0]["proof"],
        "signature": _hex(signature),
        "key": address,
    }
    case1["document"]["anchor"] = anchor
    case1["disclosed"]["document"]["anchor"] = dict(anchor)

    return {
        CERT_FILE: {
            "format": "certledger/1",
            "description": "Field and certificate hashes; see docs/certificate-format.md",
            "cases": cases_out,
        },
        TREE_FILE: tree,
        SIG_FILE: sig,
    }


def write_vectors() -> None:
    VECTORS.mkdir(parents=True, exist_ok=True)
    for name, data in build_vectors().items():
        # ensure_ascii: non-NFC input survives any editor or tool that normalises text
        (VECTORS / name).write_text(json.dumps(data, indent=2, ensure_ascii=True) + "\n", encoding="ascii")


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text("ascii"))


def unhex(text: str) -> bytes:
    return bytes.fromhex(text[2:])


# ====================================================================== tests: the vectors themselves


@pytest.mark.unit
def test_vector_files_are_what_the_reference_implementation_computes():
    built = build_vectors()
    for name, data in built.items():
        assert load(name) == data, f"docs/vectors/{name} differs from the reference implementation"


@pytest.mark.unit
def test_whitespace_as_documented_is_python_str_strip():
    """The document defines trimming by bidirectional class / category; that is str.isspace."""
    for cp in range(0x110000):
        ch = chr(cp)
        assert _ref_is_space(ch) == ch.isspace(), f"U+{cp:04X}"


@pytest.mark.unit
def test_non_nfc_inputs_really_are_non_nfc():
    [card, licence] = load(CERT_FILE)["cases"]
    name, company = card["input"]["name"], licence["input"]["companyName"]
    assert "\uf900" in name and unicodedata.normalize("NFC", name) != name
    assert "e\u0301" in company and unicodedata.normalize("NFC", company) != company
    assert "\u8c48" in card["canonical"]["name"] and "\u00e9" in licence["canonical"]["companyName"]
    # NFC, not NFKC: full-width digits stay
    assert "\uff11\uff12\uff13" in card["canonical"]["address"]
    # hashing the raw (non-canonical) text would give another hash
    entry = next(e for e in card["entries"] if e["name"] == "name")
    assert _hex(ref_field_hash("name", card["input"]["name"], unhex(entry["salt"]))) != entry["fieldHash"]
    assert _hex(ref_field_hash("name", "\u674e\uf900\u660e", unhex(entry["salt"]))) != entry["fieldHash"]


@pytest.mark.unit
def test_anchored_vector_document_verifies_with_the_reference_implementation():
    [card, _] = load(CERT_FILE)["cases"]
    sig = load(SIG_FILE)
    for doc in (card["document"], card["disclosed"]["document"]):
        result = ref_verify_document(doc)
        assert result == {"hash": card["certificateHash"], "hash_ok": True, "proof_ok": True, "signer": sig["signer"]}


# ====================================================================== tests: ledger agrees


def _field_hash_entries(case: dict[str, Any]) -> list[tuple[str, str, bytes, bytes]]:
    return [(e["name"], e["value"], unhex(e["salt"]), unhex(e["fieldHash"])) for e in case["entries"]]


@pytest.mark.unit
@pytest.mark.parametrize("index", [0, 1])
def test_ledger_schema_canonicalises_the_inputs_as_the_vectors(index):
    from ledger.bootstrap import default_schemas
    from ledger.schema import CertificateSchema

    case = load(CERT_FILE)["cases"][index]
    schema = CertificateSchema.compile(default_schemas()[case["type"]])
    got = schema.canonical_fields(case["input"])
    assert got == case["canonical"]
    assert list(got) == list(case["canonical"])  # schema order


@pytest.mark.unit
@pytest.mark.parametrize("index", [0, 1])
def test_ledger_field_and_certificate_hashes_match(index):
    from ledger.document import certificate_hash, field_hash

    case = load(CERT_FILE)["cases"][index]
    for name, value, salt, expected in _field_hash_entries(case):
        assert field_hash(name, value, salt) == expected, name
        assert ref_field_hash(name, value, salt) == expected, name
    hashes = [e[3] for e in _field_hash_entries(case)]
    assert certificate_hash(hashes) == unhex(case["certificateHash"])
    assert certificate_hash(list(reversed(hashes))) == unhex(case["certificateHash"])
    assert ref_certificate_hash(hashes) == unhex(case["certificateHash"])


@pytest.mark.unit
@pytest.mark.parametrize("index", [0, 1])
def test_ledger_certificate_objects_and_json_match(index):
    from ledger.document import Anchor, Certificate

    case = load(CERT_FILE)["cases"][index]
    salts = {e["name"]: unhex(e["salt"]) for e in case["entries"] if not e["name"].startswith("$")}
    doc = case["document"]
    anchor = Anchor.from_json(doc["anchor"]) if "anchor" in doc else None
    cert = Certificate(
        case["type"],
        case["issuer"]["agency"],
        case["issuer"]["region"],
        case["validFrom"],
        case["validUntil"],
        case["canonical"],
        salts,
        anchor=anchor,
    )
    assert [(k, v) for k, v in cert.entries().items()] == [(e["name"], e["value"]) for e in case["entries"]]
    assert cert.compute_hash() == unhex(case["certificateHash"])
    assert cert.to_json() == doc
    assert json.loads(json.dumps(cert.to_json())) == doc

    parsed, stated = Certificate.from_json(doc)
    assert stated == parsed.compute_hash() == unhex(case["certificateHash"])
    if anchor is not None:
        assert parsed.computed_root() == unhex(doc["anchor"]["root"])

    disclosed = cert.disclose(case["disclosed"]["shown"])
    assert disclosed.to_json(cert.compute_hash()) == case["disclosed"]["document"]
    parsed, stated = Certificate.from_json(case["disclosed"]["document"])
    assert parsed.compute_hash() == stated == unhex(case["certificateHash"])


@pytest.mark.unit
def test_ledger_hashes_raw_non_nfc_rows_like_the_vectors():
    """From the raw row through ledger's schema and hashing, with the vector's salts."""
    from ledger.bootstrap import default_schemas
    from ledger.document import Certificate
    from ledger.schema import CertificateSchema

    for case in load(CERT_FILE)["cases"]:
        fields = CertificateSchema.compile(default_schemas()[case["type"]]).canonical_fields(case["input"])
        salts = {e["name"]: unhex(e["salt"]) for e in case["entries"] if not e["name"].startswith("$")}
        cert = Certificate(
            case["type"],
            case["issuer"]["agency"],
            case["issuer"]["region"],
            case["validFrom"],
            case["validUntil"],
            fields,
            salts,
        )
        assert cert.compute_hash() == unhex(case["certificateHash"])


@pytest.mark.unit
def test_ledger_merkle_matches_the_tree_vector():
    from ledger.merkle import build_tree, leaf_of, root_from_proof, verify_proof

    v = load(TREE_FILE)
    hashes = [unhex(h) for h in v["certificateHashes"]]
    assert [leaf_of(h) for h in hashes] == [unhex(x) for x in v["leaves"]]
    tree = build_tree(hashes)
    assert tree.nodes == [unhex(x) for x in v["tree"]]
    assert tree.root == unhex(v["root"])
    assert tree.cert_hashes == [unhex(x) for x in v["leafOrder"]]
    assert build_tree(list(reversed(hashes))).root == tree.root
    for p in v["proofs"]:
        h, proof = unhex(p["certificateHash"]), [unhex(x) for x in p["proof"]]
        assert tree.proof(h) == proof
        assert root_from_proof(h, proof) == tree.root and verify_proof(h, proof, tree.root)
        assert ref_process_proof(h, proof) == tree.root


@pytest.mark.unit
def test_tree_vector_matches_openzeppelin_javascript():
    if shutil.which("node") is None or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.skip("node or @openzeppelin/merkle-tree not installed")
    v = load(TREE_FILE)
    done = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "oz_merkle.mjs")],
        input=json.dumps({"cases": [{"values": v["certificateHashes"], "proofs": v["certificateHashes"]}]}).encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    [oz] = json.loads(done.stdout)["cases"]
    assert oz["root"] == v["root"]
    assert oz["tree"] == v["tree"]
    assert oz["leafOrder"] == v["leafOrder"]
    assert [p["proof"] for p in oz["proofs"]] == [p["proof"] for p in v["proofs"]]
    assert all(p["verified"] for p in oz["proofs"])


@pytest.mark.unit
def test_ledger_signing_matches_the_signature_vector():
    from eth_account import Account

    from ledger.ids import agency_id, type_id
    from ledger.signing import batch_digest, recover_batch_signer, sign_batch

    v = load(SIG_FILE)
    d, m = v["domain"], v["message"]
    root = unhex(m["root"])
    assert type_id(m["certType"]) == unhex(m["certTypeBytes32"])
    assert agency_id(m["agency"]) == unhex(m["agencyBytes32"])
    args = (root, type_id(m["certType"]), agency_id(m["agency"]), d["chainId"], d["verifyingContract"])
    assert batch_digest(*args) == unhex(v["digest"])
    account = Account.from_key(v["privateKey"])
    assert account.address == v["signer"] == ref_address(unhex(v["privateKey"]))
    assert sign_batch(account, *args) == unhex(v["signature"])
    assert recover_batch_signer(unhex(v["signature"]), *args) == v["signer"]
    assert ref_recover(unhex(v["signature"]), unhex(v["digest"])) == v["signer"]
    assert v["v"] in (27, 28) and unhex(v["signature"])[64] == v["v"]


def test_contract_computes_the_documented_digest(consortium):
    """The deployed CertificateRegistry's batchDigest / domainSeparator / ANCHOR_TYPEHASH are
    what the document's formulas give for its own chain id and address."""
    from ledger.ids import agency_id, type_id

    reg = consortium.registry
    f = reg.certificates.functions
    address = reg.deployment.certificate_registry
    chain_id = reg.chain.chain_id
    v = load(SIG_FILE)
    assert bytes(reg.chain.call(f.ANCHOR_TYPEHASH())) == unhex(v["anchorTypeHash"])
    assert bytes(reg.chain.call(f.domainSeparator())) == ref_domain_separator(chain_id, address)
    root = unhex(v["message"]["root"])
    none = ref_keccak(NO_COMMITMENT)
    got = bytes(reg.chain.call(f.batchDigest(root, type_id("ID_CARD"), agency_id("GD-PSB"), none, none)))
    assert got == ref_digest(root, "ID_CARD", "GD-PSB", chain_id, address)
    if chain_id == TEST_CHAIN_ID and address.lower() == TEST_REGISTRY.lower():  # pragma: no cover - fresh node only
        assert got == unhex(v["digest"])


def test_contract_accepts_the_vector_tree(issuing):
    """Anchoring the vector's five hashes on chain stores the vector's root, and every vector
    proof verifies with the contract's verify view."""
    from ledger.contracts import Reason, Verdict

    v = load(TREE_FILE)
    reg = issuing.registry
    batch = reg.anchor_batch(
        issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", [unhex(h) for h in v["certificateHashes"]]
    )
    assert batch.root == unhex(v["root"])
    assert [_hex(h) for h in batch.cert_hashes] == v["leafOrder"]
    for p in v["proofs"]:
        proof = [unhex(x) for x in p["proof"]]
        assert reg.verify_onchain(batch.agency, unhex(p["certificateHash"]), batch.root, proof, 0) == (
            Verdict.OK,
            Reason.NONE,
        )


@pytest.mark.unit
def test_format_document_shows_the_vectors():
    text = FORMAT_DOC.read_text("utf-8")
    for name in (CERT_FILE, TREE_FILE, SIG_FILE):
        assert f"docs/vectors/{name}" in text
    [card, licence] = load(CERT_FILE)["cases"]
    assert card["certificateHash"] in text and licence["certificateHash"] in text
    assert load(TREE_FILE)["root"] in text
    assert load(SIG_FILE)["digest"] in text and load(SIG_FILE)["signature"] in text
    assert card["entries"][0]["preimage"] in text


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_vectors()
        print(f"wrote {', '.join(sorted(build_vectors()))} to {VECTORS}")
    else:
        print(json.dumps(build_vectors(), indent=2, ensure_ascii=False))
