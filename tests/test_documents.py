"""Certificate documents (ledger.document): tampering with anything is detected, the hash does
not depend on order or Unicode normalization form, selective disclosure keeps the hash, and
malformed documents are refused with InvalidInput only.

The documents are real ones: issued by ``ledger.issuance.issue`` and anchored on a real node,
so "detected" is checked both offline (recomputed hash, Merkle proof) and with the contract's
``verify`` view.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli import main
from ledger.bootstrap import default_schemas
from ledger.contracts import Reason, Verdict
from ledger.document import META_FIELDS, Certificate
from ledger.errors import InvalidInput
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.registry import Registry

ID_FIELDS = ["name", "sex", "ethnicity", "birthDate", "address", "idNumber"]

ROWS = [
    {
        "name": "王秀英",
        "sex": "F",
        "ethnicity": "汉",
        "birthDate": "1985-02-14",
        "address": "广东省广州市天河区体育西路123号",
        "idNumber": "440106198502140023",
        "reference": "A-1",
    },
    {
        "name": "欧阳明",
        "sex": "M",
        "ethnicity": "回",
        "birthDate": "1979-12-31",
        "address": "广东省深圳市南山区科苑路15号",
        "idNumber": "44030519791231001X",
        "reference": "A-2",
    },
    {"name": "李娜", "sex": "F", "birthDate": "2001-07-01", "idNumber": "440104200107010028", "reference": "A-3"},
    {
        "name": "Zoé 张",
        "sex": "M",
        "ethnicity": "汉",
        "birthDate": "1990-01-01",
        "address": "广东省珠海市香洲区1号",
        "idNumber": "440402199001010011",
        "reference": "A-4",
    },
]


@dataclass
class Issued:
    registry: Registry
    docs: list[dict[str, Any]]
    tmp: Path

    def full(self) -> dict[str, Any]:
        """The document with every optional field present (row 1)."""
        return copy.deepcopy(self.docs[0])


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _issue(consortium, tmp_path: Path, rows_file: Path, out: str, **options: Any) -> list[dict[str, Any]]:
    reg = consortium.registry
    key = consortium.agency_keys["GD-PSB"]
    request = IssueRequest("GD-PSB", "ID_CARD", rows_file, tmp_path / out, bundle=True, workers=1, **options)
    result = issue(reg, key, key, request, schema_for(reg, "ID_CARD"))
    return list(load_bundle(result.bundle))


@pytest.fixture
def gd(consortium):
    consortium.add_type("ID_CARD", default_schemas()["ID_CARD"])
    consortium.add_agency("GD-PSB", 440000, ["ID_CARD"])
    return consortium


@pytest.fixture
def issued(gd, tmp_path) -> Issued:
    rows = _write_jsonl(tmp_path / "rows.jsonl", ROWS)
    docs = _issue(gd, tmp_path, rows, "out", valid_from="2024-01-01", valid_until="2044-01-01")
    assert [d["fields"]["name"] for d in docs] == [r["name"] for r in ROWS]
    return Issued(gd.registry, docs, tmp_path)


# ---------------------------------------------------------------------- verification helpers


def parse(doc: dict[str, Any]) -> tuple[Certificate, bytes]:
    cert, stated = Certificate.from_json(doc)
    assert stated is not None
    return cert, stated


def offline_ok(doc: dict[str, Any]) -> bool:
    """The document's own checks: the stated hash is the recomputed one, and the proof leads
    from it to the stated root."""
    try:
        cert, stated = parse(doc)
    except InvalidInput:
        return False
    h = cert.compute_hash()
    return h == stated and cert.computed_root(h) == cert.anchor.root


def onchain(registry: Registry, doc: dict[str, Any]) -> tuple[Verdict, Reason]:
    """The contract's verdict for the document's recomputed hash, root and proof."""
    cert, _ = parse(doc)
    return registry.verify_onchain(cert.agency, cert.compute_hash(), cert.anchor.root, cert.anchor.proof, 0)


def assert_detected(registry: Registry, doc: dict[str, Any], what: str) -> None:
    """Tampered: the recomputed hash differs from the stated one; and even with the stated
    hash replaced by the recomputed one, the proof no longer reaches the anchored root."""
    cert, stated = parse(doc)
    h = cert.compute_hash()
    assert h != stated, f"{what}: the recomputed hash did not change"
    assert not offline_ok(doc), what
    restated = {**doc, "hash": "0x" + h.hex()}
    assert not offline_ok(restated), f"{what}: the proof still leads to the root"
    # the agency is part of the batch's identity: under another agency's name the batch is unknown
    expected = (
        (Verdict.UNKNOWN, Reason.NOT_ANCHORED) if cert.agency != "GD-PSB" else (Verdict.INVALID, Reason.PROOF_MISMATCH)
    )
    assert onchain(registry, doc) == expected, what


def _flip_hex(text: str, nibble: int = -1) -> str:
    chars = list(text)
    chars[nibble] = "0123456789abcdef"[(int(chars[nibble], 16) + 1) % 16]
    return "".join(chars)


# ---------------------------------------------------------------------- genuine documents


def test_issued_documents_verify(issued):
    for doc in issued.docs:
        assert offline_ok(doc)
        assert onchain(issued.registry, doc) == (Verdict.OK, Reason.NONE)
        cert, _ = parse(doc)
        assert set(cert.salts) == set(cert.fields)  # metadata entries are not salted
    # an optional field left out has no entry and no salt at all
    third = issued.docs[2]
    assert "ethnicity" not in third["fields"] and "ethnicity" not in third["salts"]
    assert "address" not in third["fields"] and "address" not in third["salts"]


# ---------------------------------------------------------------------- tampering


ALTERNATIVES = {
    "name": ["王秀", "王秀英 ", "王秀英X", "汪秀英", ""],
    "sex": ["M", "m", ""],
    "ethnicity": ["回", "汉族"],
    "birthDate": ["1985-02-15", "1985-2-14", "1986-02-14"],
    "address": ["广东省广州市天河区体育西路124号", "广东省广州市天河区体育西路123"],
    "idNumber": ["440106198502140024", "44010619850214002X"],
}


def test_changing_any_field_value_is_detected(issued):
    doc = issued.full()
    assert set(doc["fields"]) == set(ID_FIELDS)
    for name in ID_FIELDS:
        for value in ALTERNATIVES[name]:
            assert value != doc["fields"][name]
            bad = copy.deepcopy(doc)
            bad["fields"][name] = value
            assert_detected(issued.registry, bad, f"{name}={value!r}")


def test_changing_any_field_of_every_document_is_detected(issued):
    rng = random.Random(5)
    for doc in issued.docs:
        for name, value in doc["fields"].items():
            bad = copy.deepcopy(doc)
            i = rng.randrange(len(value))
            bad["fields"][name] = value[:i] + chr(ord(value[i]) + 1) + value[i + 1 :]
            cert, stated = parse(bad)
            assert cert.compute_hash() != stated and not offline_ok(bad), name


@pytest.mark.parametrize(
    "change",
    [
        ("type", "DEGREE"),
        ("type", "ID_CARDS"),
        ("issuer.agency", "GD-AMR"),
        ("issuer.agency", "gd-psb"),
        ("issuer.region", 330000),
        ("validFrom", "2024-01-02"),
        ("validFrom", "2023-01-01"),
        ("validUntil", "2044-01-02"),
        ("validUntil", None),
        ("validUntil", "2099-12-31"),
    ],
)
def test_changing_any_metadata_entry_is_detected(issued, change):
    path, value = change
    bad = issued.full()
    target = bad
    *parents, leaf = path.split(".")
    for p in parents:
        target = target[p]
    target[leaf] = value
    assert_detected(issued.registry, bad, path)


def test_changing_any_salt_is_detected(issued):
    doc = issued.full()
    assert set(doc["salts"]) == set(ID_FIELDS)
    for name in doc["salts"]:
        for nibble in (2, 17, -1):
            bad = copy.deepcopy(doc)
            bad["salts"][name] = _flip_hex(doc["salts"][name], nibble)
            assert_detected(issued.registry, bad, f"salt of {name} (nibble {nibble})")


def test_swapping_salts_between_entries_is_detected(issued):
    doc = issued.full()
    for a, b in itertools.combinations(list(doc["salts"]), 2):
        bad = copy.deepcopy(doc)
        bad["salts"][a], bad["salts"][b] = doc["salts"][b], doc["salts"][a]
        assert not offline_ok(bad), (a, b)


def test_salts_and_values_of_another_certificate_are_detected(issued):
    """A field value with its genuine salt, but taken from another certificate."""
    doc, other = issued.full(), issued.docs[1]
    for name in ID_FIELDS:
        bad = copy.deepcopy(doc)
        bad["fields"][name] = other["fields"][name]
        bad["salts"][name] = other["salts"][name]
        assert_detected(issued.registry, bad, name)


def test_changing_any_hidden_field_hash_is_detected(issued):
    cert, stated = parse(issued.full())
    disclosed = cert.disclose(["name"]).to_json(stated)
    assert offline_ok(disclosed)
    assert onchain(issued.registry, disclosed) == (Verdict.OK, Reason.NONE)
    assert set(disclosed["hidden"]) == set(ID_FIELDS) - {"name"}
    for name in disclosed["hidden"]:
        for nibble in (2, 40, -1):
            bad = copy.deepcopy(disclosed)
            bad["hidden"][name] = _flip_hex(disclosed["hidden"][name], nibble)
            assert_detected(issued.registry, bad, f"hidden {name}")
        dropped = copy.deepcopy(disclosed)
        del dropped["hidden"][name]
        assert_detected(issued.registry, dropped, f"hidden {name} dropped")
    extra = copy.deepcopy(disclosed)
    extra["hidden"]["nickname"] = "0x" + "11" * 32
    assert_detected(issued.registry, extra, "extra hidden field")
    # swapping the names of two hidden hashes does not change the set of hashes: names of
    # hidden fields are not bound by the hash -- only their values are
    swapped = copy.deepcopy(disclosed)
    swapped["hidden"]["sex"], swapped["hidden"]["address"] = disclosed["hidden"]["address"], disclosed["hidden"]["sex"]
    assert offline_ok(swapped)


def test_changing_the_stated_hash_is_detected(issued):
    doc = issued.full()
    for nibble in range(2, 66):
        bad = copy.deepcopy(doc)
        bad["hash"] = _flip_hex(doc["hash"], nibble)
        cert, stated = parse(bad)
        assert stated != cert.compute_hash()
        assert not offline_ok(bad)
    # and another genuine certificate's hash is no better
    bad = copy.deepcopy(doc)
    bad["hash"] = issued.docs[1]["hash"]
    assert not offline_ok(bad)


def test_changing_any_proof_element_is_detected(issued):
    doc = issued.full()
    proof = doc["anchor"]["proof"]
    assert len(proof) >= 2
    variants: dict[str, list[str]] = {}
    for i in range(len(proof)):
        for nibble in (2, 33, -1):
            p = list(proof)
            p[i] = _flip_hex(p[i], nibble)
            variants[f"element {i} nibble {nibble}"] = p
        variants[f"without element {i}"] = proof[:i] + proof[i + 1 :]
        variants[f"element {i} twice"] = proof[: i + 1] + proof[i:]
    variants["reversed"] = list(reversed(proof))
    variants["extra element"] = [*proof, "0x" + "22" * 32]
    variants["empty"] = []
    variants["another document's proof"] = list(issued.docs[1]["anchor"]["proof"])
    for what, p in variants.items():
        if p == proof:
            continue
        bad = copy.deepcopy(doc)
        bad["anchor"]["proof"] = p
        cert, stated = parse(bad)
        assert cert.compute_hash() == stated  # the certificate itself is intact ...
        assert cert.computed_root() != cert.anchor.root, what  # ... but it is not in the batch
        assert not offline_ok(bad)
        assert onchain(issued.registry, bad) == (Verdict.INVALID, Reason.PROOF_MISMATCH), what


def test_another_root_is_detected(issued, gd, tmp_path):
    doc = issued.full()
    other = _issue(gd, tmp_path, _write_jsonl(tmp_path / "other.jsonl", ROWS[:2]), "other")
    assert other[0]["anchor"]["root"] != doc["anchor"]["root"]
    bad = copy.deepcopy(doc)
    bad["anchor"]["root"] = other[0]["anchor"]["root"]
    assert not offline_ok(bad)
    assert onchain(issued.registry, bad) == (Verdict.INVALID, Reason.PROOF_MISMATCH)
    bad["anchor"]["root"] = "0x" + "33" * 32
    assert not offline_ok(bad)
    assert onchain(issued.registry, bad) == (Verdict.UNKNOWN, Reason.NOT_ANCHORED)


# ---------------------------------------------------------------------- order and normalization


def test_order_of_entries_in_the_json_does_not_matter(issued):
    doc = issued.full()
    rng = random.Random(11)
    for _ in range(10):
        shuffled = copy.deepcopy(doc)
        for key in ("fields", "salts"):
            items = list(doc[key].items())
            rng.shuffle(items)
            shuffled[key] = dict(items)
        top = list(shuffled.items())
        rng.shuffle(top)
        shuffled = dict(top)
        assert offline_ok(shuffled)
        assert parse(shuffled)[0].compute_hash() == parse(doc)[1]
    disclosed = parse(doc)[0].disclose(["name", "sex"]).to_json(parse(doc)[1])
    disclosed["hidden"] = dict(reversed(list(disclosed["hidden"].items())))
    assert offline_ok(disclosed)


def _with_salts_of(doc: dict[str, Any], salts_from: dict[str, Any]) -> bytes:
    """The hash of ``doc``'s entries with the salts of ``salts_from``."""
    cert, _ = parse({**doc, "salts": salts_from["salts"]})
    return cert.compute_hash()


def test_order_of_columns_and_keys_in_the_input_does_not_matter(gd, tmp_path):
    row = ROWS[0]
    names = [*ID_FIELDS, "reference"]
    reordered = ["idNumber", "reference", "address", "birthDate", "sex", "ethnicity", "name"]
    csv_a = tmp_path / "a.csv"
    csv_a.write_text(",".join(names) + "\n" + ",".join(row[n] for n in names) + "\n", encoding="utf-8")
    csv_b = tmp_path / "b.csv"
    csv_b.write_text(",".join(reordered) + "\n" + ",".join(row[n] for n in reordered) + "\n", encoding="utf-8")
    jsonl_c = _write_jsonl(tmp_path / "c.jsonl", [{n: row[n] for n in reversed(names)}])
    docs = [_issue(gd, tmp_path, f, f.stem, valid_from="2024-01-01")[0] for f in (csv_a, csv_b, jsonl_c)]
    first = docs[0]
    for doc in docs:
        assert list(doc["fields"]) == ID_FIELDS  # always schema order
        assert doc["fields"] == first["fields"]
        assert _with_salts_of(doc, first) == bytes.fromhex(first["hash"][2:])
        assert offline_ok(doc)


def test_nfc_and_non_nfc_input_give_the_same_hash(gd, tmp_path):
    composed = {**ROWS[0], "name": "李豈明 Zoé", "address": "广东省广州市Café路1号"}
    decomposed = {
        **ROWS[0],
        "name": "\u674e\uf900\u660e Zoe\u0301",  # U+F900 -> U+8C48 under NFC; e + combining acute -> é
        "address": "广东省广州市Cafe\u0301路1号",
    }
    assert composed["name"] != decomposed["name"]
    rows = _write_jsonl(tmp_path / "nfc.jsonl", [composed, decomposed])
    a, b = _issue(gd, tmp_path, rows, "nfc", valid_from="2024-01-01")
    assert a["fields"] == b["fields"]
    assert a["fields"]["name"] == "\u674e\u8c48\u660e Zo\u00e9"
    assert _with_salts_of(b, a) == bytes.fromhex(a["hash"][2:])
    assert a["hash"] != b["hash"]  # fresh salts per certificate
    assert offline_ok(a) and offline_ok(b)


def test_a_document_written_in_non_nfc_form_still_verifies(gd, tmp_path):
    rows = _write_jsonl(tmp_path / "nfc.jsonl", [{**ROWS[0], "name": "李豈明 Zoé"}])
    [doc] = _issue(gd, tmp_path, rows, "nfc2", valid_from="2024-01-01")
    rewritten = copy.deepcopy(doc)
    rewritten["fields"]["name"] = "\u674e\uf900\u660e Zoe\u0301"  # e.g. after a tool decomposed it
    assert offline_ok(rewritten)
    # but a different character is a different value
    rewritten["fields"]["name"] = "李豈明 Zoe"
    assert not offline_ok(rewritten)


# ---------------------------------------------------------------------- selective disclosure


def test_disclosing_any_subset_keeps_the_hash(issued):
    cert, stated = parse(issued.full())
    for k in range(len(ID_FIELDS) + 1):
        for shown in itertools.combinations(ID_FIELDS, k):
            disclosed = cert.disclose(shown)
            assert set(disclosed.fields) == set(shown)
            assert set(disclosed.hidden) == set(ID_FIELDS) - set(shown)
            assert set(disclosed.salts) == set(shown)
            assert disclosed.compute_hash() == stated
            doc = disclosed.to_json(stated)
            assert offline_ok(doc)
            text = json.dumps(doc, ensure_ascii=False)
            for name in set(ID_FIELDS) - set(shown):  # a hidden value leaves no trace but its hash
                assert name not in doc["fields"] and name not in doc["salts"]
                assert cert.salts[name].hex() not in text
                if len(cert.fields[name]) > 2:
                    assert cert.fields[name] not in text


def test_disclosing_nothing_and_everything(issued):
    cert, stated = parse(issued.full())
    nothing = cert.disclose([])
    assert nothing.fields == {} and set(nothing.hidden) == set(ID_FIELDS)
    assert nothing.salts == {}
    assert nothing.compute_hash() == stated
    assert nothing.entries()["$type"] == "ID_CARD"  # metadata always shown
    doc = nothing.to_json(stated)
    assert doc["fields"] == {} and offline_ok(doc)
    assert onchain(issued.registry, doc) == (Verdict.OK, Reason.NONE)

    everything = cert.disclose(ID_FIELDS)
    assert everything == cert and not everything.is_disclosed
    assert "hidden" not in everything.to_json()


def test_disclosed_documents_round_trip_and_can_be_disclosed_further(issued):
    cert, stated = parse(issued.full())
    first = Certificate.from_json(cert.disclose(["name", "birthDate", "sex"]).to_json(stated))[0]
    assert first.compute_hash() == stated
    second = first.disclose(["name"])
    assert set(second.fields) == {"name"} and second.compute_hash() == stated
    doc = second.to_json(stated)
    assert offline_ok(doc) and onchain(issued.registry, doc) == (Verdict.OK, Reason.NONE)
    assert first.disclose(["name", "name"]).compute_hash() == stated  # repeats are harmless


def test_disclosure_errors(issued):
    cert, _stated = parse(issued.full())
    with pytest.raises(InvalidInput, match="nickname"):
        cert.disclose(["name", "nickname"])
    for meta in ("$type", "$agency", "$validUntil", "type", "issuer"):
        with pytest.raises(InvalidInput):
            cert.disclose([meta])
    disclosed = cert.disclose(["name"])
    with pytest.raises(InvalidInput, match="already hidden"):
        disclosed.disclose(["name", "address"])
    # optional fields that the certificate does not have are unknown too
    third, _ = parse(issued.docs[2])
    with pytest.raises(InvalidInput):
        third.disclose(["ethnicity"])


def test_metadata_can_never_be_hidden(issued):
    cert, stated = parse(issued.full())
    base = cert.disclose(["name"]).to_json(stated)
    hashes = cert.field_hashes()
    for meta in (*META_FIELDS, "$identifier"):
        bad = copy.deepcopy(base)
        # even with a genuine hash (certledger/2 metadata have no field hash of their own)
        bad["hidden"][meta] = "0x" + hashes.get(meta, cert.metadata().digest()).hex()
        with pytest.raises(InvalidInput):
            Certificate.from_json(bad)
    with pytest.raises(InvalidInput):
        cert.disclose(["$type"])


def test_cli_disclose(issued, tmp_path, capsys):
    source = tmp_path / "cert.json"
    source.write_text(json.dumps(issued.full(), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "disclosed.json"
    assert main(["disclose", str(source), "--fields", "name, birthDate", "--out", str(out)]) == 0
    doc = json.loads(out.read_text("utf-8"))
    assert set(doc["fields"]) == {"name", "birthDate"} and doc["hash"] == issued.docs[0]["hash"]
    assert offline_ok(doc) and onchain(issued.registry, doc) == (Verdict.OK, Reason.NONE)
    capsys.readouterr()
    assert main(["disclose", str(source), "--fields", "name", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["file"] == str(out) and summary["shown"] == ["name"] and "birthDate" in summary["hidden"]
    assert summary["hash"] == issued.docs[0]["hash"]
    assert main(["disclose", str(source), "--fields", "name"]) == 0
    assert json.loads(capsys.readouterr().out)["fields"] == {"name": issued.docs[0]["fields"]["name"]}
    for fields in ("nickname", "$type"):
        capsys.readouterr()
        assert main(["disclose", str(source), "--fields", fields]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
    tampered = issued.full()
    tampered["fields"]["name"] = "冒名"
    source.write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["disclose", str(source), "--fields", "name"]) == 1
    assert "tampered" in capsys.readouterr().err


# ---------------------------------------------------------------------- malformed documents


def _mutations(doc: dict[str, Any]) -> dict[str, dict[str, Any] | Any]:
    def m(fn) -> dict[str, Any]:
        d = copy.deepcopy(doc)
        fn(d)
        return d

    salt = doc["salts"]["name"]
    return {
        "missing salt": m(lambda d: d["salts"].pop("name")),
        "salt for a metadata entry": m(lambda d: d["salts"].update({"$region": salt})),
        "extra salt": m(lambda d: d["salts"].update(nickname=salt)),
        "salt of a hidden field": m(
            lambda d: (d.__setitem__("hidden", {"nickname": "0x" + "00" * 32}), d["salts"].update(nickname=salt))
        ),
        "short salt": m(lambda d: d["salts"].update(name=salt[:-2])),
        "long salt": m(lambda d: d["salts"].update(name=salt + "00")),
        "salt without 0x": m(lambda d: d["salts"].update(name=salt[2:] + "00")),
        "salt not hex": m(lambda d: d["salts"].update(name=salt[:-1] + "g")),
        "salt as number": m(lambda d: d["salts"].update(name=12345)),
        "salts as list": m(lambda d: d.__setitem__("salts", [salt])),
        "hash not hex": m(lambda d: d.__setitem__("hash", "0x" + "zz" * 32)),
        "short hash": m(lambda d: d.__setitem__("hash", doc["hash"][:-2])),
        "hash as number": m(lambda d: d.__setitem__("hash", 7)),
        "hidden hash not hex": m(lambda d: d.__setitem__("hidden", {"nickname": "0xnothex"})),
        "proof element not hex": m(lambda d: d["anchor"]["proof"].__setitem__(0, "0x" + "q" * 64)),
        "proof element short": m(lambda d: d["anchor"]["proof"].__setitem__(0, "0x" + "ab" * 31)),
        "proof not a list": m(lambda d: d["anchor"].__setitem__("proof", "0x" + "ab" * 32)),
        "proof too long": m(lambda d: d["anchor"].__setitem__("proof", ["0x" + "ab" * 32] * 65)),
        "root not hex": m(lambda d: d["anchor"].__setitem__("root", "root")),
        "signature short": m(lambda d: d["anchor"].__setitem__("signature", d["anchor"]["signature"][:-2])),
        "registry not an address": m(lambda d: d["anchor"].__setitem__("registry", "0x1234")),
        "chain id zero": m(lambda d: d["anchor"].__setitem__("chainId", 0)),
        "chain id text": m(lambda d: d["anchor"].__setitem__("chainId", "31337")),
        "chain id bool": m(lambda d: d["anchor"].__setitem__("chainId", True)),
        "anchor not an object": m(lambda d: d.__setitem__("anchor", "anchored")),
        "anchor without root": m(lambda d: d["anchor"].pop("root")),
        "anchor without signature": m(lambda d: d["anchor"].pop("signature")),
        "format missing": m(lambda d: d.pop("format")),
        "format certledger/3": m(lambda d: d.__setitem__("format", "certledger/3")),
        "format number": m(lambda d: d.__setitem__("format", 1)),
        "validFrom not a date": m(lambda d: d.__setitem__("validFrom", "yesterday")),
        "validFrom Feb 30": m(lambda d: d.__setitem__("validFrom", "2024-02-30")),
        "validFrom without zero padding": m(lambda d: d.__setitem__("validFrom", "2024-1-01")),
        "validFrom missing": m(lambda d: d.pop("validFrom")),
        "validFrom number": m(lambda d: d.__setitem__("validFrom", 20240101)),
        "validUntil month 13": m(lambda d: d.__setitem__("validUntil", "2044-13-01")),
        "validUntil slashes": m(lambda d: d.__setitem__("validUntil", "2044/01/01")),
        "type missing": m(lambda d: d.pop("type")),
        "type empty": m(lambda d: d.__setitem__("type", "")),
        "type too long": m(lambda d: d.__setitem__("type", "T" * 33)),
        "type number": m(lambda d: d.__setitem__("type", 3)),
        "issuer missing": m(lambda d: d.pop("issuer")),
        "issuer not an object": m(lambda d: d.__setitem__("issuer", "GD-PSB")),
        "agency missing": m(lambda d: d["issuer"].pop("agency")),
        "agency empty": m(lambda d: d["issuer"].__setitem__("agency", "")),
        "agency too long": m(lambda d: d["issuer"].__setitem__("agency", "A" * 33)),
        "region 5 digits": m(lambda d: d["issuer"].__setitem__("region", 44000)),
        "region text": m(lambda d: d["issuer"].__setitem__("region", "Guangdong")),
        "region missing": m(lambda d: d["issuer"].pop("region")),
        "field value number": m(lambda d: d["fields"].__setitem__("name", 42)),
        "field value null": m(lambda d: d["fields"].__setitem__("name", None)),
        "field value too long": m(lambda d: d["fields"].__setitem__("name", "x" * 4097)),
        "field name with space": m(
            lambda d: (d["fields"].__setitem__("first name", "x"), d["salts"].__setitem__("first name", salt))
        ),
        "field name with $": m(
            lambda d: (d["fields"].__setitem__("$name", "x"), d["salts"].__setitem__("$name", salt))
        ),
        "field both shown and hidden": m(lambda d: d.__setitem__("hidden", {"name": "0x" + "00" * 32})),
        "fields as list": m(lambda d: d.__setitem__("fields", [["name", "x"]])),
        "hidden as list": m(lambda d: d.__setitem__("hidden", ["0x" + "00" * 32])),
        "too many fields": m(
            lambda d: (
                d["fields"].update({f"f{i}": "x" for i in range(251)}),
                d["salts"].update({f"f{i}": salt for i in range(251)}),
            )
        ),
        "too many hidden fields": m(lambda d: d.__setitem__("hidden", {f"h{i}": "0x" + "00" * 32 for i in range(251)})),
    }


def test_malformed_documents_are_refused_with_invalid_input(issued):
    doc = issued.full()
    assert len(doc["fields"]) == 6
    for what, bad in _mutations(doc).items():
        with pytest.raises(InvalidInput):
            Certificate.from_json(bad)
            pytest.fail(f"accepted: {what}")


@pytest.mark.unit
@pytest.mark.parametrize("data", [None, [], [{}], "certificate", b"{}", 1, 1.5, True, {}, {"format": "certledger/1"}])
def test_non_documents_are_refused_with_invalid_input(data):
    with pytest.raises(InvalidInput):
        Certificate.from_json(data)


def test_field_count_limit_is_256(issued):
    doc = issued.full()
    salt = doc["salts"]["name"]
    ok = copy.deepcopy(doc)
    ok["fields"].update({f"f{i}": "x" for i in range(250)})  # 6 + 250 = 256
    ok["salts"].update({f"f{i}": salt for i in range(250)})
    Certificate.from_json(ok)
    ok["hidden"] = {"extra": "0x" + "00" * 32}  # 257
    with pytest.raises(InvalidInput, match="too many"):
        Certificate.from_json(ok)


def test_names_and_hex_strings_must_match_exactly(issued):
    """A trailing newline is not part of a field name, salt or hash (`$` in a Python regex
    also matches before a final newline)."""
    doc = issued.full()
    renamed = copy.deepcopy(doc)
    renamed["fields"]["name\n"] = renamed["fields"].pop("name")
    renamed["salts"]["name\n"] = renamed["salts"].pop("name")
    cases = {
        "field name with newline": renamed,
        "hidden name with newline": {**doc, "hidden": {"nickname\n": "0x" + "00" * 32}},
        "salt with newline": {**doc, "salts": {**doc["salts"], "name": doc["salts"]["name"] + "\n"}},
        "hash with newline": {**doc, "hash": doc["hash"] + "\n"},
        "root with newline": {**doc, "anchor": {**doc["anchor"], "root": doc["anchor"]["root"] + "\n"}},
    }
    accepted = []
    for what, bad in cases.items():
        try:
            Certificate.from_json(bad)
            accepted.append(what)
        except InvalidInput:
            pass
    assert accepted == [], f"accepted: {accepted}"


def test_random_mutations_raise_nothing_but_invalid_input(issued):
    """Replace or delete every property, at every depth, with values of every JSON type."""
    doc = issued.full()
    values = [
        None,
        True,
        False,
        0,
        -1,
        2**80,
        1.5,
        "",
        "x",
        "440000",
        "2024-01-01",
        [],
        [1],
        ["0x" + "00" * 32],
        {},
        {"a": 1},
        {"name": "x"},
        "0x" + "00" * 16,
        "0x" + "00" * 32,
        "0x" + "00" * 65,
    ]

    def paths(d: Any, prefix: tuple = ()) -> Any:
        if isinstance(d, dict):
            for k, v in d.items():
                yield (*prefix, k)
                yield from paths(v, (*prefix, k))
        elif isinstance(d, list):
            for i in range(len(d)):
                yield (*prefix, i)

    outcomes = {"ok": 0, "refused": 0}
    for path in list(paths(doc)):
        for value in [*values, "DELETE"]:
            bad = copy.deepcopy(doc)
            target = bad
            for p in path[:-1]:
                target = target[p]
            if value == "DELETE":
                if isinstance(target, list):
                    target.pop(path[-1])
                else:
                    del target[path[-1]]
            else:
                target[path[-1]] = value
            try:
                Certificate.from_json(bad)
                outcomes["ok"] += 1
            except InvalidInput:
                outcomes["refused"] += 1
    assert outcomes["refused"] > 500


def test_salts_never_repeat_within_a_process_across_blocks_or_in_a_forked_worker():
    """Salts come from os.urandom a block at a time: every salt handed out is fresh — across
    block boundaries, and in a forked worker, which must not continue its parent's block (two
    issuance workers giving two holders the same salt would link their fields)."""
    import multiprocessing

    from ledger.document import SALT_BYTES, SaltPool

    pool = SaltPool(block=SALT_BYTES * 7)  # a block boundary every 7 salts
    names = ["name", "gender", "birthDate", "address", "idNumber"]
    drawn = [v for _ in range(50) for v in pool.take(names).values()]
    assert all(len(v) == SALT_BYTES for v in drawn) and len(set(drawn)) == len(drawn) == 250
    big = pool.take([f"f{i}" for i in range(20)])  # more than a block at once
    assert len(set(big.values())) == 20 and not set(big.values()) & set(drawn)

    from ledger.document import new_salts

    parent_first = new_salts(names)  # the process's pool, a block started in the parent ...
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as workers:  # ... then each forked worker draws as the parent does next
        children = workers.map(_draw_in_child, range(4))
    parent_next = new_salts(names)
    everything = [*parent_first.values(), *parent_next.values(), *(v for c in children for v in c)]
    assert len(set(everything)) == len(everything)


def _draw_in_child(_: int) -> list[bytes]:
    from ledger.document import new_salts

    return list(new_salts(["a", "b", "c"]).values())
