"""QR payloads (ledger.qr, docs/qr-payloads.md): round trips, refusal of anything malformed
with InvalidInput only, sizes of a realistic ID card at error correction M, and an independent
decoder (zxing-cpp) reading back every PNG that `certledger issue --qr` writes."""

from __future__ import annotations

import json
import os
import random
import re
import zlib
from dataclasses import replace
from pathlib import Path

import base45
import cbor2
import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from cli import main
from ledger import qr
from ledger.document import Anchor, Certificate
from ledger.errors import InvalidInput
from ledger.ids import agency_id, type_id
from ledger.keystore import Keystore
from ledger.merkle import build_tree, verify_proof
from ledger.signing import sign_batch

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "test-password"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

# ---------------------------------------------------------------------- a realistic certificate

NAME = "王秀英"
ADDRESS = "广东省广州市天河区体育西路123号"  # 17 characters, as on a typical card
LONG_ADDRESS = "广东省深圳市南山区粤海街道科技园社区科苑路15号科兴科学园A栋1单元1203室"


def realistic_id_card(batch_size: int = 10_000, depth: int = 14, *, seed: int = 7) -> tuple[Certificate, bytes]:
    """A full ID_CARD document with a Chinese name and address, anchored in a batch of
    ``batch_size`` (as issuance cuts 100,000 rows into batches of 10,000) at a leaf whose
    proof has ``depth`` elements -- the worst case for a 10,000-leaf tree."""
    rng = random.Random(seed)
    fields = {
        "name": NAME,
        "sex": "M",
        "ethnicity": "汉",
        "birthDate": "1987-11-23",
        "address": ADDRESS,
        "idNumber": "44030519871123421X",
    }
    key = Account.from_key(rng.randbytes(32))
    registry = "0x" + rng.randbytes(20).hex()
    while True:
        salts = {n: rng.randbytes(16) for n in fields}  # metadata entries are not salted
        cert = Certificate("ID_CARD", "GD-PSB", 440000, "2024-05-01", "2044-05-01", fields, salts)
        h = cert.compute_hash()
        tree = build_tree([h] + [rng.randbytes(32) for _ in range(batch_size - 1)])
        if len(tree.proof(h)) == depth:
            break
    signature = sign_batch(key, tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), 31337, registry)
    anchor = Anchor(31337, to_checksum_address(registry), tree.root, tuple(tree.proof(h)), signature, key.address)
    return replace(cert, anchor=anchor), h


@pytest.fixture(scope="module")
def card() -> tuple[Certificate, bytes]:
    return realistic_id_card()


def _bare(cert: Certificate) -> Certificate:
    """What a full payload carries: the anchor without key / block / tx / time (the registry
    address comes back checksummed, EIP-55, from its 20 bytes)."""
    assert cert.anchor is not None
    a = cert.anchor
    return replace(
        cert,
        anchor=replace(a, registry=to_checksum_address(a.registry), key=None, block=None, tx=None, anchored_at=None),
    )


# ---------------------------------------------------------------------- round trips


@pytest.mark.unit
def test_compact_payload_round_trip(card):
    cert, h = card
    payload = qr.compact_payload(h, cert.type, cert.region, cert.agency)
    assert payload.startswith("CLC2:")
    assert set(payload) <= QR_ALPHANUMERIC
    decoded = qr.decode(payload)
    assert decoded == qr.CompactPayload(h, "ID_CARD", 440000, "GD-PSB")
    # the layout of docs/qr-payloads.md: CBOR [hash, type, region, agency]
    assert cbor2.loads(base45.b45decode(payload[5:])) == [h, "ID_CARD", 440000, "GD-PSB"]
    assert qr.decode(f"  {payload}\n") == decoded  # scanners may add whitespace around it


@pytest.mark.unit
def test_version_1_compact_payload_is_still_read_without_an_agency(card):
    """QR codes printed before the compact payload named its agency still decode; the hash
    alone then cannot say whose certificate it is (see the verification tests)."""
    _cert, h = card
    v1 = "CLC1:" + base45.b45encode(cbor2.dumps([h, "ID_CARD", 440000])).decode()
    assert qr.decode(v1) == qr.CompactPayload(h, "ID_CARD", 440000, None)
    # a CLC1 prefix on a 4-element body, or CLC2 on a 3-element one, is malformed
    for bad in (
        "CLC1:" + payload_body([h, "ID_CARD", 440000, "GD-PSB"]),
        "CLC2:" + payload_body([h, "ID_CARD", 440000]),
    ):
        with pytest.raises(InvalidInput, match="malformed compact"):
            qr.decode(bad)


@pytest.mark.unit
@pytest.mark.parametrize("agency", ["", "GD PSB", "x" * 40, "张"])
def test_compact_payload_with_a_malformed_agency_is_refused(card, agency):
    _, h = card
    with pytest.raises(InvalidInput, match="agency"):
        qr.decode("CLC2:" + payload_body([h, "ID_CARD", 440000, agency]))


def payload_body(items: list) -> str:
    return base45.b45encode(cbor2.dumps(items)).decode()


@pytest.mark.unit
def test_full_payload_round_trip(card):
    cert, h = card
    payload = qr.full_payload(cert)
    assert payload.startswith("CLF1:")
    assert set(payload) <= QR_ALPHANUMERIC
    decoded = qr.decode(payload)
    assert isinstance(decoded, Certificate)
    assert decoded == _bare(cert)
    assert decoded.compute_hash() == h
    assert decoded.computed_root() == cert.anchor.root
    assert verify_proof(h, decoded.anchor.proof, decoded.anchor.root)
    body = cbor2.loads(zlib.decompress(base45.b45decode(payload[5:])))
    assert set(body) == set(range(1, 14)) - {8}  # nothing hidden
    assert body[qr.K_REGISTRY] == bytes.fromhex(cert.anchor.registry[2:])


@pytest.mark.unit
def test_full_payload_of_disclosed_and_open_ended_documents(card):
    cert, h = card
    disclosed = cert.disclose(["name"])
    decoded = qr.decode(qr.full_payload(disclosed))
    assert decoded == _bare(disclosed)
    assert decoded.hidden == disclosed.hidden and set(decoded.fields) == {"name"}
    assert decoded.compute_hash() == h

    open_ended = replace(cert, valid_until=None)
    body = cbor2.loads(zlib.decompress(base45.b45decode(qr.full_payload(open_ended)[5:])))
    assert qr.K_UNTIL not in body
    decoded = qr.decode(qr.full_payload(open_ended))
    assert decoded.valid_until is None and decoded.compute_hash() == open_ended.compute_hash()


@pytest.mark.unit
def test_full_payload_needs_an_anchor(card):
    cert, _ = card
    with pytest.raises(InvalidInput):
        qr.full_payload(replace(cert, anchor=None))


@pytest.mark.unit
def test_documented_example_payload_decodes():
    """The compact example in docs/qr-payloads.md is the vector certificate of
    docs/certificate-format.md."""
    text = (ROOT / "docs" / "qr-payloads.md").read_text("utf-8")
    vectors = json.loads((ROOT / "docs" / "vectors" / "certificate-hashes.json").read_text("ascii"))
    case = vectors["cases"][0]
    expected = qr.compact_payload(
        bytes.fromhex(case["certificateHash"][2:]), case["type"], case["issuer"]["region"], case["issuer"]["agency"]
    )
    assert expected in text
    decoded = qr.decode(expected)
    assert "0x" + decoded.cert_hash.hex() == case["certificateHash"]
    cbor_hex = cbor2.dumps([decoded.cert_hash, decoded.type, decoded.region, decoded.agency]).hex()
    assert cbor_hex in text.replace(" ", "").replace("\n", "")


# ---------------------------------------------------------------------- sizes


@pytest.mark.unit
def test_realistic_id_card_compact_payload_fits_version_6(card):
    cert, h = card
    compact = qr.compact_payload(h, cert.type, cert.region, cert.agency)
    assert len(compact) == 88
    assert qr.qr_version(compact, "m") <= 6


@pytest.mark.unit
def test_realistic_id_card_full_payload_fits_version_25(card):
    """A typical ID card from a batch of 100,000 (cut into batches of 10,000: a 14-element
    proof), full payload, error correction M: at most version 25 (1,451 alphanumeric
    characters)."""
    cert, _h = card
    assert len(cert.anchor.proof) == 14
    full = qr.full_payload(cert)
    versions = {
        "full": qr.qr_version(full, "m"),
        "full, name only": qr.qr_version(qr.full_payload(cert.disclose(["name"])), "m"),
        "full, long address": qr.qr_version(
            qr.full_payload(replace(cert, fields={**cert.fields, "address": LONG_ADDRESS})), "m"
        ),
    }
    assert max(versions.values()) <= 25, f"{len(full)} characters; QR versions at M: {versions}"


@pytest.mark.unit
def test_shallower_proofs_give_smaller_full_payloads():
    sizes = [len(qr.full_payload(realistic_id_card(batch_size=2**d, depth=d, seed=d)[0])) for d in (4, 8, 12)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


@pytest.mark.unit
def test_longest_allowed_id_card_fields_still_fit_version_40():
    """The schema maxima (name 64, address 200 characters, all Chinese) in a full payload."""
    cert, _ = realistic_id_card(batch_size=10_000, depth=14, seed=9)
    big = replace(cert, fields={**cert.fields, "name": "鑫" * 64, "address": "龘" * 200})
    assert len(big.fields["address"]) == 200
    payload = qr.full_payload(big)
    assert len(payload) <= 3391  # version 40-M alphanumeric capacity
    assert qr.qr_version(payload, "m") <= 40
    assert qr.decode(payload).compute_hash() == big.compute_hash()


# ---------------------------------------------------------------------- malformed payloads


def _refused(payload) -> str:
    with pytest.raises(InvalidInput) as info:
        qr.decode(payload)
    return str(info.value)


def _full(body) -> str:
    return qr.FULL_V1_PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(body))).decode()


def _compact(items) -> str:
    return qr.COMPACT_V2_PREFIX + base45.b45encode(cbor2.dumps(items)).decode()


@pytest.mark.unit
@pytest.mark.parametrize(
    "payload",
    [
        "",
        "   ",
        "hello",
        "CLC1",
        "CLC1:",
        "CLF1:",
        "CLC2:" + "0" * 60,
        "CLX1:ABC",
        "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA.A5:S9MKN4NI",
        "clc1:" + base45.b45encode(cbor2.dumps([b"\0" * 32, "ID_CARD", 440000])).decode().lower(),
        "CLC1:abc",  # not Base45: lower case
        "CLC1:!!!",  # not Base45 characters
        "CLC1:A",  # Base45 length 1 (mod 3)
        "CLC1:ZZZ",  # Base45 group above 65535
        "CLC1:ZZ",  # Base45 final pair above 255
        "CLF1:ZZZ",
        "CLF1:" + base45.b45encode(b"not zlib at all").decode(),
        "CLC1:" + base45.b45encode(b"\xff\xff\xff").decode(),  # not CBOR
        "CLC1:" + base45.b45encode(b"\x81" * 3000).decode(),  # deeply nested CBOR
        "CLF1:" + base45.b45encode(zlib.compress(b"\x81" * 65536, 9)).decode(),
        "CLF1:" + base45.b45encode(zlib.compress(b"\0" * 5_000_000, 9)).decode(),  # zlib bomb
        b"CLC1:ABC",
        None,
        12345,
        ["CLC1:"],
    ],
)
def test_garbage_is_refused_with_invalid_input(payload):
    _refused(payload)


@pytest.mark.unit
def test_compact_structure_is_checked():
    h = os.urandom(32)
    for items in (
        [h, "ID_CARD"],
        [h, "ID_CARD", 440000, 1],
        [h[:31], "ID_CARD", 440000],
        [h + b"\0", "ID_CARD", 440000],
        [h.hex(), "ID_CARD", 440000],
        [h, 7, 440000],
        [h, "ID_CARD", 44000],
        [h, "ID_CARD", "abc"],
        [h, "ID_CARD", None],
        [h, "ID_CARD", 440000.0],
        {"hash": h},
        h,
        "text",
    ):
        _refused(_compact(items))


@pytest.mark.unit
def test_wrong_prefix_for_the_body_is_refused(card):
    cert, h = card
    compact = qr.compact_payload(h, cert.type, cert.region, cert.agency)
    full = qr.full_payload(cert)
    _refused(qr.FULL_V1_PREFIX + compact[5:])
    _refused(qr.COMPACT_V2_PREFIX + full[5:])
    _refused(compact[5:])
    _refused(full[5:])


@pytest.mark.unit
def test_every_truncation_is_refused(card):
    cert, h = card
    for payload in (qr.compact_payload(h, cert.type, cert.region, cert.agency), qr.full_payload(cert)):
        for n in range(len(payload)):
            _refused(payload[:n])


@pytest.mark.unit
def test_incomplete_or_padded_encodings_are_refused(card):
    """The zlib stream must be complete (its Adler-32 checked), nothing may follow it, the
    CBOR item must use every byte, and a body inflating beyond the limit is refused, not cut."""
    cert, h = card
    body = _valid_body(cert)
    packed = zlib.compress(cbor2.dumps(body), 9)
    b45 = lambda b: base45.b45encode(b).decode()  # noqa: E731
    assert isinstance(qr.decode(qr.FULL_V1_PREFIX + b45(packed)), Certificate)
    _refused(qr.FULL_V1_PREFIX + b45(packed[:-4]))  # no Adler-32 trailer
    _refused(qr.FULL_V1_PREFIX + b45(packed[:-1]))
    _refused(qr.FULL_V1_PREFIX + b45(packed + b"trailing"))  # data after the zlib stream
    _refused(qr.FULL_V1_PREFIX + b45(zlib.compress(cbor2.dumps(body) + b"junk")))  # data after the CBOR item
    _refused(qr.FULL_V1_PREFIX + b45(zlib.compress(cbor2.dumps(body) + b"\0" * 100_000, 9)))  # inflates past 64 KiB
    _refused(qr.COMPACT_V2_PREFIX + b45(cbor2.dumps([h, "ID_CARD", 440000]) + b"junk"))


@pytest.mark.unit
def test_oversized_payloads_are_refused(card):
    cert, _ = card
    full = qr.full_payload(cert)
    assert "longer than" in _refused(full + "0" * (qr.MAX_PAYLOAD + 1 - len(full)))
    assert "longer than" in _refused("CLF1:" + "A" * 1_000_000)
    assert "longer than" in _refused("CLC1:" + "0" * qr.MAX_PAYLOAD)


def _valid_body(cert: Certificate) -> dict:
    return cbor2.loads(zlib.decompress(base45.b45decode(qr.full_payload(cert)[5:])))


@pytest.mark.unit
def test_full_structure_is_checked(card):
    cert, _ = card
    body = _valid_body(cert)
    assert isinstance(qr.decode(_full(body)), Certificate)
    cases = []
    for key in list(body):
        cases.append({k: v for k, v in body.items() if k != key} if key in (1, 2, 3, 4, 6, 7, 9, 10, 11, 13) else None)
    cases = [c for c in cases if c is not None]
    cases += [
        {**body, qr.K_REGISTRY: b"\0" * 19},
        {**body, qr.K_ROOT: b"\0" * 31},
        {**body, qr.K_SIGNATURE: b"\0" * 64},
        {**body, qr.K_PROOF: b"\0" * 33},
        {**body, qr.K_PROOF: [b"\0" * 32]},
        {**body, qr.K_PROOF: b"\0" * 32 * 65},
        {**body, qr.K_SALTS: body[qr.K_SALTS][:-1]},
        {**body, qr.K_SALTS: body[qr.K_SALTS][:-16]},
        {**body, qr.K_SALTS: body[qr.K_SALTS] + b"\0" * 16},
        {**body, qr.K_SALTS: {"name": b"\0" * 16}},
        {**body, qr.K_HIDDEN: {"name": b"\0" * 32}},  # both shown and hidden
        {**body, qr.K_HIDDEN: {"$type": b"\0" * 32}},  # metadata cannot be hidden
        {**body, qr.K_FIELDS: {**body[qr.K_FIELDS], "bad name": "x"}},
        {**body, qr.K_FIELDS: {1: "x"}},
        {**body, qr.K_FIELDS: ["name"]},
        {**body, qr.K_FIELDS: {**body[qr.K_FIELDS], "name": 5}},
        {**body, qr.K_FROM: "2024-02-30"},
        {**body, qr.K_UNTIL: "someday"},
        {**body, qr.K_REGION: 1},
        {**body, qr.K_CHAIN: 0},
        {**body, qr.K_CHAIN: True},
        {**body, qr.K_TYPE: ""},
        {**body, qr.K_AGENCY: "A" * 33},
        [1, 2, 3],
        "CLF1",
        None,
    ]
    for bad in cases:
        _refused(_full(bad))


@pytest.mark.unit
@pytest.mark.parametrize("kind", ["compact", "full"])
def test_random_corruption_never_raises_anything_but_invalid_input(card, kind):
    """Flip, insert and delete characters and bytes: decode answers or says InvalidInput."""
    cert, h = card
    payload = qr.compact_payload(h, cert.type, cert.region, cert.agency) if kind == "compact" else qr.full_payload(cert)
    prefix, data = payload[:5], payload[5:]
    raw = base45.b45decode(data)
    inner = zlib.decompress(raw) if kind == "full" else raw
    alphabet = sorted(QR_ALPHANUMERIC)
    rng = random.Random(f"qr-fuzz-{kind}")
    outcomes = {"ok": 0, "refused": 0}

    def attempt(text: str) -> None:
        try:
            result = qr.decode(text)
        except InvalidInput:
            outcomes["refused"] += 1
            return
        assert isinstance(result, (qr.CompactPayload, Certificate))
        outcomes["ok"] += 1

    for _ in range(600):
        chars = list(data)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars))
            op = rng.choice(("set", "ins", "del"))
            if op == "set":
                chars[i] = rng.choice(alphabet)
            elif op == "ins":
                chars.insert(i, rng.choice(alphabet))
            elif len(chars) > 1:
                del chars[i]
        attempt(prefix + "".join(chars))
    for _ in range(600):  # corrupt the CBOR itself, re-wrapped correctly
        b = bytearray(inner)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        packed = zlib.compress(bytes(b)) if kind == "full" else bytes(b)
        attempt(prefix + base45.b45encode(packed).decode())
    assert outcomes["refused"] > 0


# ---------------------------------------------------------------------- PNGs from `certledger issue --qr`


def id_rows(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧阳"
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
    roads = ["天河路", "中山大道", "体育西路", "科苑路", "深南大道", "解放北路"]
    out = []
    for i in range(n):
        out.append(
            {
                "name": rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.randint(1, 2))),
                "sex": rng.choice("MF"),
                "ethnicity": "汉",
                "birthDate": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "address": f"广东省广州市天河区{rng.choice(roads)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2999)}室",
                "idNumber": f"{440100000000000000 + i * 7919 + seed:018d}"[:17] + rng.choice("0123456789X"),
                "reference": f"REF-{i:05d}",
            }
        )
    return out


@pytest.fixture
def cli_home(consortium, anvil, tmp_path, monkeypatch):
    """ID_CARD with its real schema, agency GD-PSB, and a CERTLEDGER_HOME that holds the
    deployment and the agency key: the CLI sees what an agency's machine has."""
    from ledger.bootstrap import default_schemas

    consortium.add_type("ID_CARD", default_schemas()["ID_CARD"])
    consortium.add_agency("GD-PSB", 440000, ["ID_CARD"])
    home = tmp_path / "home"
    consortium.deployment.save(home / "deployment.json")
    keystore = Keystore(home / "keys", PASSWORD, 1024)
    for agency, key in consortium.agency_keys.items():
        keystore.import_private_key(f"{agency}-1", key.key.hex())
    monkeypatch.setenv("CERTLEDGER_HOME", str(home))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return consortium


def _issue_cli(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main(["issue", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _read_qr(path: Path) -> list:
    """QR codes zxing-cpp finds in a PNG. (Looking for QR codes only: with every format
    enabled, zxing occasionally also "finds" an EAN-13 in the random-looking modules.)"""
    import zxingcpp
    from PIL import Image

    return zxingcpp.read_barcodes(Image.open(path), formats=zxingcpp.BarcodeFormat.QRCode)


@pytest.mark.parametrize("kind", ["compact", "full"])
def test_zxing_reads_back_every_issued_png(cli_home, tmp_path, capsys, kind):
    import zxingcpp

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in id_rows(50)), encoding="utf-8")
    out = tmp_path / "out"
    args = [str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(out), "--qr", "--max-batch", "20"]
    result = _issue_cli(capsys, *args, "--qr-payload", kind)
    assert result["issued"] == 50 and result["qr_codes"] == 50

    index = (out / "index.csv").read_text("utf-8").splitlines()[1:]
    assert len(index) == 50
    versions = []
    for line in index:
        _row, _reference, cert_hash, root, file, png = line.split(",")
        doc = json.loads((out / file).read_text("utf-8"))
        cert, stated = Certificate.from_json(doc)
        assert stated == cert.compute_hash() == bytes.fromhex(cert_hash[2:])
        expected = qr.full_payload(cert) if kind == "full" else qr.compact_for(cert)
        found = _read_qr(out / png)
        assert len(found) == 1, png
        barcode = found[0]
        assert barcode.format == zxingcpp.BarcodeFormat.QRCode
        assert barcode.text == expected
        assert barcode.ec_level == "M"
        versions.append(int(barcode.extra["Version"]))
        decoded = qr.decode(barcode.text)
        if kind == "full":
            assert decoded.compute_hash() == stated and decoded.computed_root() == bytes.fromhex(root[2:])
        else:
            assert decoded.cert_hash == stated
    assert max(versions) <= (6 if kind == "compact" else 25)


def test_qr_command_renders_readable_codes(cli_home, tmp_path, capsys):
    """`certledger qr FILE [--full]` on an issued and on a disclosed document."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in id_rows(3, seed=5)), encoding="utf-8")
    out = tmp_path / "out"
    _issue_cli(capsys, str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(out))
    [doc_path] = sorted((out / "certificates").glob("*.json"))[:1]
    disclosed_path = tmp_path / "disclosed.json"
    assert main(["disclose", str(doc_path), "--fields", "name", "--out", str(disclosed_path)]) == 0
    for source in (doc_path, disclosed_path):
        for full in (False, True):
            png = tmp_path / f"{source.stem}-{full}.png"
            capsys.readouterr()
            assert main(["qr", str(source), "--out", str(png), "--json", *(["--full"] if full else [])]) == 0
            shown = json.loads(capsys.readouterr().out)
            [barcode] = _read_qr(png)
            assert barcode.text == shown["payload"]
            assert int(barcode.extra["Version"]) == shown["qr_version"]
            decoded = qr.decode(barcode.text)
            cert, stated = Certificate.from_json(json.loads(source.read_text("utf-8")))
            if full:
                assert decoded.compute_hash() == stated and set(decoded.fields) == set(cert.fields)
            else:
                assert decoded.cert_hash == stated


@pytest.mark.unit
def test_payload_prefixes_are_qr_alphanumeric():
    assert re.fullmatch(
        r"[0-9A-Z $%*+\-./:]+", qr.COMPACT_PREFIX + qr.FULL_PREFIX + qr.COMPACT_V2_PREFIX + qr.FULL_V1_PREFIX
    )
    assert set(base45.b45encode(bytes(range(256)) * 2).decode()) <= QR_ALPHANUMERIC
