"""Batch issuance (ledger.issuance, `certledger issue|revoke|suspend|reinstate`) against a real
node: inputs, outputs, bad rows, batching, gas, re-runs, crashes healed by a re-run with every
certificate anchored exactly once, forged and compromised signatures, status changes, and a
100,000-certificate issuance whose sampled proofs verify with the contract's own view.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from eth_account import Account
from helpers import Consortium, advance, let_it_run, new_consortium, wait_until

from cli import main
from ledger.bootstrap import default_schemas
from ledger.contracts import KeyState, Reason, Status, Verdict
from ledger.document import Certificate
from ledger.errors import InvalidInput
from ledger.ids import agency_id, type_id
from ledger.issuance import IssuanceRejected, IssueRequest, issue, load_bundle, schema_for
from ledger.keystore import Keystore
from ledger.merkle import build_tree, keccak, verify_proof
from ledger.registry import Registry
from ledger.signing import recover_batch_signer, sign_batch

PASSWORD = "test-password"
CRASH_ISSUE = Path(__file__).parent / "crash_issue.py"
CRASH_ISSUE = Path(__file__).parent / "crash_issue.py"
CERTLEDGER = Path(sys.executable).parent / "certledger"
ID_COLUMNS = ["name", "sex", "ethnicity", "birthDate", "address", "idNumber", "reference"]
CRASH_POINTS = ["journal-written", "batch-sent", "batch-anchored", "output-written"]


# ---------------------------------------------------------------------- rows


def id_rows(n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
    roads = ["天河路", "中山大道", "体育西路", "科苑路", "深南大道", "解放北路"]
    return [
        {
            "name": rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.randint(1, 2))),
            "sex": rng.choice("MF"),
            "ethnicity": rng.choice(["汉", "回", "壮", ""]),
            "birthDate": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "address": f"广东省广州市{rng.choice(roads)}{rng.randint(1, 999)}号",
            "idNumber": f"{(4401000000000000 + seed * 1_000_000 + i) * 10:017d}"[:17] + rng.choice("0123456789X"),
            "reference": f"R{seed}-{i:06d}",
        }
        for i in range(n)
    ]


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = ID_COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- chain helpers


def anchored(registry: Registry) -> list[tuple[bytes, list[bytes]]]:
    """(root, certificate hashes) of every BatchAnchored log of the deployment, decoded by hand
    from the raw logs (fast for 100,000 hashes)."""
    topic = "0x" + keccak(b"BatchAnchored(bytes32,bytes32,bytes32,address,bytes32[],bytes,bytes16[])").hex()
    logs = registry.chain.w3.eth.get_logs(
        {
            "fromBlock": registry.deployment.deployment_block,
            "toBlock": "latest",
            "address": registry.deployment.certificate_registry,
            "topics": [topic],
        }
    )
    out = []
    for log in logs:
        data = bytes(log["data"])
        offset = int.from_bytes(data[32:64], "big")  # (address key, bytes32[] certHashes)
        n = int.from_bytes(data[offset : offset + 32], "big")
        hashes = [data[offset + 32 + 32 * i : offset + 64 + 32 * i] for i in range(n)]
        out.append((bytes(log["topics"][1]), hashes))
    return out


def assert_exactly_once(registry: Registry, expected: set[bytes]) -> None:
    """Every certificate hash appears in exactly one BatchAnchored log, and the logged set is
    the expected set."""
    counts = Counter(h for _, hashes in anchored(registry) for h in hashes)
    twice = [h.hex() for h, c in counts.items() if c > 1]
    assert not twice, f"{len(twice)} certificates anchored more than once"
    assert set(counts) == expected, (
        f"{len(expected - set(counts))} not anchored, {len(set(counts) - expected)} anchored but not in the output"
    )


def verdict(registry: Registry, doc: dict[str, Any], region: int = 0) -> tuple[Verdict, Reason]:
    cert, stated = Certificate.from_json(doc)
    h = cert.compute_hash()
    assert h == stated
    return registry.verify_onchain(cert.agency, h, cert.anchor.root, cert.anchor.proof, region)


def doc_ok(doc: dict[str, Any]) -> bool:
    cert, stated = Certificate.from_json(doc)
    h = cert.compute_hash()
    return h == stated and cert.computed_root(h) == cert.anchor.root


# ---------------------------------------------------------------------- outputs


@dataclass
class Output:
    out: Path
    index: list[dict[str, str]]
    manifest: dict[str, Any]
    docs: dict[str, dict[str, Any]]  # certificate hash -> document

    @property
    def hashes(self) -> set[bytes]:
        return {bytes.fromhex(h[2:]) for h in self.docs}


def read_output(out: Path) -> Output:
    index = list(csv.DictReader(io.StringIO((out / "index.csv").read_text("utf-8"))))
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    docs: dict[str, dict[str, Any]] = {}
    if manifest["bundle"]:
        for doc in load_bundle(out / manifest["bundle"]):
            docs[doc["hash"]] = doc
    else:
        for row in index:
            doc = orjson.loads((out / row["file"]).read_bytes())
            docs[doc["hash"]] = doc
    return Output(out, index, manifest, docs)


def assert_complete(output: Output, rows: int, *, qr: bool = False) -> None:
    """Every row issued: index, manifest and documents agree; every document verifies offline."""
    assert len(output.index) == rows == output.manifest["issued"]
    assert len(output.docs) == rows
    assert {r["hash"] for r in output.index} == set(output.docs)
    roots = {b["root"] for b in output.manifest["batches"]}
    assert all(b["state"] == "anchored" for b in output.manifest["batches"])
    assert sum(b["size"] for b in output.manifest["batches"]) == rows
    for r in output.index:
        doc = output.docs[r["hash"]]
        assert doc["anchor"]["root"] == r["root"] and r["root"] in roots
        assert doc_ok(doc), r
        if r["file"]:
            assert (output.out / r["file"]).is_file()
        if qr:
            assert r["qr"] and (output.out / r["qr"]).is_file()
    if qr:
        assert len(list((output.out / "qr").glob("*.png"))) == rows


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def gd(consortium: Consortium) -> Consortium:
    """ID_CARD with its real schema; agency GD-PSB (440000) with one active key."""
    consortium.add_type("ID_CARD", default_schemas()["ID_CARD"])
    consortium.add_agency("GD-PSB", 440000, ["ID_CARD"])
    return consortium


def api_issue(c: Consortium, rows: Path, out: Path, **options: Any):
    key = c.agency_keys["GD-PSB"]
    request = IssueRequest("GD-PSB", "ID_CARD", rows, out, **options)
    return issue(c.registry, key, key, request, schema_for(c.registry, "ID_CARD"))


class Home:
    """A CERTLEDGER_HOME holding the deployment and the agency's (and admins') keys: what an
    agency's machine has. Runs the CLI in-process or as the installed script."""

    def __init__(self, c: Consortium, path: Path, rpc_url: str) -> None:
        self.c, self.path = c, path
        c.deployment.save(path / "deployment.json")
        ks = Keystore(path / "keys", PASSWORD, 1024)
        for agency, key in c.agency_keys.items():
            ks.import_private_key(f"{agency}-1", key.key.hex())
        for region, admin in c.admins.items():
            ks.import_private_key(f"admin-{region}", admin.key.hex())
        self.env = {
            "CERTLEDGER_HOME": str(path),
            "CERTLEDGER_RPC_URL": rpc_url,
            "CERTLEDGER_PASSWORD": PASSWORD,
            "CERTLEDGER_KEYSTORE_SCRYPT_N": "1024",
        }

    def process_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLEDGER_")}
        return {**env, **self.env, **extra}

    def run(self, *args: str, crash_at: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, str(CRASH_ISSUE), crash_at] if crash_at else [str(CERTLEDGER)]
        return subprocess.run(
            [*command, *args], env=self.process_env(), capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture
def home(gd: Consortium, anvil, tmp_path: Path, monkeypatch) -> Home:
    h = Home(gd, tmp_path / "home", anvil.url)
    for k, v in h.env.items():
        monkeypatch.setenv(k, v)
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return h


class Cli:
    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, f"certledger {' '.join(args)}: {err}"
        return json.loads(out)

    def fails(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 1, f"certledger {' '.join(args)} did not fail: {out} {err}"
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("error: ")
        return err


@pytest.fixture
def cli(home: Home, capsys) -> Cli:
    return Cli(capsys)


# ====================================================================== inputs and outputs


def test_csv_one_file_per_row(gd, tmp_path):
    rows = id_rows(12)
    result = api_issue(gd, write_csv(tmp_path / "rows.csv", rows), tmp_path / "out", max_batch=5)
    assert result.issued == 12 and result.files == 12 and result.bundle is None and not result.resumed
    assert [b.size for b in result.batches] == [5, 5, 2]
    assert result.anchored_now == 3
    out = read_output(tmp_path / "out")
    assert_complete(out, 12)

    # index.csv: one line per row, CSV line numbers (header is line 1), references kept
    assert [int(r["row"]) for r in out.index] == list(range(2, 14))
    assert [r["reference"] for r in out.index] == [r["reference"] for r in rows]
    for r in out.index:
        assert r["file"] == f"certificates/row{int(r['row']):07d}-{r['hash'][2:14]}.json"
        assert r["qr"] == ""
    assert sorted(p.name for p in (out.out / "certificates").iterdir()) == sorted(
        Path(r["file"]).name for r in out.index
    )

    # manifest.json
    m = out.manifest
    key = gd.agency_keys["GD-PSB"]
    assert m["agency"] == "GD-PSB" and m["type"] == "ID_CARD" and m["issued"] == 12
    assert m["chain_id"] == gd.chain.chain_id and m["registry"] == gd.deployment.certificate_registry
    assert m["signer"] == key.address and m["bad_rows"] == [] and m["bundle"] is None
    assert m["certificates_dir"] == "certificates" and m["qr_dir"] is None and m["index"] == "index.csv"
    assert [b["root"] for b in m["batches"]] == [b.root for b in result.batches]
    assert all(b["tx"] and b["block"] and b["gas_used"] for b in m["batches"])

    # documents: the row's values, anchored by this agency's key
    for r, row in zip(out.index, rows, strict=True):
        doc = out.docs[r["hash"]]
        assert doc["fields"] == {k: v for k, v in row.items() if k != "reference" and v}
        assert doc["issuer"] == {"agency": "GD-PSB", "region": 440000}
        assert doc["anchor"]["key"] == key.address and doc["anchor"]["chainId"] == gd.chain.chain_id
        assert verdict(gd.registry, doc) == (Verdict.OK, Reason.NONE)
    for b in result.batches:
        info = gd.registry.batch("GD-PSB", bytes.fromhex(b.root[2:]))
        assert info.size == b.size and info.cert_type == "ID_CARD" and info.key == key.address
    assert_exactly_once(gd.registry, out.hashes)


def test_jsonl_bundle(gd, tmp_path):
    rows = id_rows(10, seed=2)
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(3, "")  # a blank line: skipped, but line numbers stay the file's
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = api_issue(gd, path, tmp_path / "out", bundle=True, max_batch=4)
    assert result.issued == 10 and result.files == 0 and result.bundle == tmp_path / "out" / "certificates.jsonl"
    out = read_output(tmp_path / "out")
    assert_complete(out, 10)
    assert not (tmp_path / "out" / "certificates").exists()
    assert out.manifest["bundle"] == "certificates.jsonl" and out.manifest["certificates_dir"] is None
    assert [int(r["row"]) for r in out.index] == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert all(r["file"] == "" for r in out.index)
    bundle_lines = (tmp_path / "out" / "certificates.jsonl").read_bytes().splitlines()
    assert len(bundle_lines) == 10 and [orjson.loads(b)["hash"] for b in bundle_lines] == [r["hash"] for r in out.index]
    assert_exactly_once(gd.registry, out.hashes)
    for line in bundle_lines:  # each document exactly as its certificate serialises it (the anchor's proof its own)
        doc = orjson.loads(line)
        cert, stated = Certificate.from_json(doc)
        assert stated is not None and orjson.dumps(cert.to_json(stated)) == line
        tree_root = bytes.fromhex(doc["anchor"]["root"][2:])
        assert cert.anchor is not None and verify_proof(stated, list(cert.anchor.proof), tree_root)


def test_valid_from_and_until_columns_and_defaults(gd, tmp_path):
    rows = id_rows(3, seed=3)
    rows[0]["validFrom"], rows[0]["validUntil"] = "2020-01-01", "2030-01-01"
    rows[1]["validUntil"] = "2040-06-30"
    path = write_csv(tmp_path / "rows.csv", rows, [*ID_COLUMNS, "validFrom", "validUntil"])
    api_issue(gd, path, tmp_path / "out", valid_from="2024-01-01")
    docs = [read_output(tmp_path / "out").docs[r["hash"]] for r in read_output(tmp_path / "out").index]
    assert [(d["validFrom"], d["validUntil"]) for d in docs] == [
        ("2020-01-01", "2030-01-01"),
        ("2024-01-01", "2040-06-30"),
        ("2024-01-01", None),
    ]


# ====================================================================== bad rows


def _bad_rows_input(tmp_path: Path) -> tuple[Path, dict[int, list[str]]]:
    rows = id_rows(10, seed=4)
    rows[1]["sex"] = "X"  # line 3
    rows[3]["birthDate"] = "1990-02-30"  # line 5
    rows[4]["name"] = "  "  # line 6
    rows[6]["idNumber"] = "12345"  # line 8
    rows[7]["sex"], rows[7]["birthDate"] = "", "someday"  # line 9: two problems
    rows[8]["validUntil"] = "1999-01-01"  # line 10: before validFrom
    path = write_csv(tmp_path / "rows.csv", rows, [*ID_COLUMNS, "validUntil"])
    expected = {
        3: ["sex"],
        5: ["birthDate"],
        6: ["name: required"],
        8: ["idNumber"],
        9: ["sex: required", "birthDate"],
        10: ["validUntil"],
    }
    return path, expected


def test_bad_rows_are_listed_and_nothing_is_anchored(gd, tmp_path):
    path, expected = _bad_rows_input(tmp_path)
    head = gd.chain.block_number()
    with pytest.raises(IssuanceRejected) as info:
        api_issue(gd, path, tmp_path / "out", valid_from="2024-01-01", max_batch=3)
    bad = info.value.bad_rows
    assert [b.row for b in bad] == sorted(expected)
    for b in bad:
        for word in expected[b.row]:
            assert word in b.reason, (b.row, b.reason)
    assert "6 of 10 rows are invalid" in str(info.value) and "nothing was anchored" in str(info.value)
    assert anchored(gd.registry) == []
    assert gd.chain.block_number() == head
    assert not (tmp_path / "out" / "index.csv").exists() and not (tmp_path / "out" / "manifest.json").exists()
    assert not list((tmp_path / "out" / ".certledger").glob("batch-*"))
    assert not list((tmp_path / "out").glob("*.tmp"))  # nor the index and bundle begun during the build


def test_a_bad_row_in_a_late_batch_discards_the_outputs_begun_during_the_build(gd, tmp_path):
    """index.csv and the bundle are put together while the batches are built; a bad row in the
    last batch, built after the first ones were appended, still leaves no output at all."""
    rows = id_rows(12, seed=21)
    rows[-1]["birthDate"] = "not a date"
    with pytest.raises(IssuanceRejected) as info:
        api_issue(gd, write_csv(tmp_path / "rows.csv", rows), tmp_path / "out", bundle=True, max_batch=3, workers=1)
    assert [b.row for b in info.value.bad_rows] == [13]
    assert anchored(gd.registry) == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".certledger"]


@pytest.mark.parametrize("bundle", [False, True], ids=["files", "bundle"])
def test_skip_invalid_anchors_the_rest(gd, tmp_path, bundle):
    """Rows 2, 4, 7 and 11 are good: with batches of three, the third batch has none and is
    left out of index.csv and the bundle, which keep row order."""
    path, expected = _bad_rows_input(tmp_path)
    with pytest.raises(IssuanceRejected):  # first without: rejected, the folder stays usable
        api_issue(gd, path, tmp_path / "out", valid_from="2024-01-01", max_batch=3, bundle=bundle)
    result = api_issue(
        gd, path, tmp_path / "out", valid_from="2024-01-01", max_batch=3, skip_invalid=True, bundle=bundle
    )
    assert result.issued == 4 and [b.row for b in result.bad_rows] == sorted(expected)
    out = read_output(tmp_path / "out")
    assert_complete(out, 4)
    assert [int(r["row"]) for r in out.index] == [2, 4, 7, 11]
    assert all(bool(r["file"]) is not bundle for r in out.index)
    if bundle:
        lines = (tmp_path / "out" / "certificates.jsonl").read_bytes().splitlines()
        assert [orjson.loads(b)["hash"] for b in lines] == [r["hash"] for r in out.index]
    assert not list((tmp_path / "out").glob("*.tmp"))
    assert [b["row"] for b in out.manifest["bad_rows"]] == sorted(expected)
    assert all(b["reason"] for b in out.manifest["bad_rows"])
    assert_exactly_once(gd.registry, out.hashes)


def test_cli_lists_bad_rows(cli, home, tmp_path):
    path, expected = _bad_rows_input(tmp_path)
    code, out, err = cli(
        "issue",
        str(path),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "o"),
        "--valid-from",
        "2024-01-01",
    )
    assert code == 1
    lines = err.strip().splitlines()
    listed = [line for line in lines if line.startswith("row ")]
    assert [int(line.split(":")[0].removeprefix("row ")) for line in listed] == sorted(expected)
    assert "row 9: sex: required; birthDate:" in err
    assert lines[-1].startswith("error: 6 of 10 rows are invalid")
    code, out, _ = cli(
        "issue",
        str(path),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "o"),
        "--valid-from",
        "2024-01-01",
        "--json",
    )
    assert code == 1
    data = json.loads(out)
    assert data["error"]["code"] == "INVALID_ROWS" and [b["row"] for b in data["bad_rows"]] == sorted(expected)
    assert anchored(home.c.registry) == []
    result = cli.ok(
        "issue",
        str(path),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "o"),
        "--valid-from",
        "2024-01-01",
        "--skip-invalid",
    )
    assert result["issued"] == 4 and len(result["bad_rows"]) == 6


def test_unknown_columns_are_refused(gd, tmp_path):
    rows = id_rows(3, seed=5)
    for r in rows:
        r["nickname"] = "小王"
    path = write_csv(tmp_path / "rows.csv", rows, [*ID_COLUMNS, "nickname"])
    with pytest.raises(InvalidInput, match="nickname"):
        api_issue(gd, path, tmp_path / "out")
    with pytest.raises(InvalidInput, match="more values than header"):
        (tmp_path / "ragged.csv").write_text("name,sex\n张三,M,extra\n", encoding="utf-8")
        api_issue(gd, tmp_path / "ragged.csv", tmp_path / "out2")
    with pytest.raises(InvalidInput):
        api_issue(gd, write_jsonl(tmp_path / "rows.jsonl", rows), tmp_path / "out3")
    assert anchored(gd.registry) == []


def test_a_csv_syntax_error_is_reported_with_its_line(gd, tmp_path):
    """An unterminated quote swallows the rest of the file into one value: it is reported as
    the CSV error it is, on the line the quoted value starts, not as missing fields."""
    lines = write_csv(tmp_path / "rows.csv", id_rows(4, seed=7), ID_COLUMNS).read_text(encoding="utf-8").splitlines()
    lines[2] = '"' + lines[2]  # row 2 (line 3) opens a quote that never closes
    (tmp_path / "open.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"open.csv line 3: a quoted value is never closed"):
        api_issue(gd, tmp_path / "open.csv", tmp_path / "out")
    (tmp_path / "stray.csv").write_text('name,sex\n"张"三",M\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"stray.csv line 2: text after a closing quote"):
        api_issue(gd, tmp_path / "stray.csv", tmp_path / "out2")
    # a quoted value may span lines: the row is numbered by the line it starts on
    (tmp_path / "multi.csv").write_text('name,sex\n"张\n三",M\n李四,F\n', encoding="utf-8")
    from ledger.issuance.rows import read_rows

    assert [(n, r["name"]) for n, r in read_rows(tmp_path / "multi.csv")] == [(2, "张\n三"), (4, "李四")]
    # blank lines are skipped, and the rows after them keep their own line numbers; a short
    # row's missing columns are empty; a long one is refused by its line
    (tmp_path / "blank.csv").write_text("name,sex\n\n张三,M\n\n\n李四\n", encoding="utf-8")
    assert read_rows(tmp_path / "blank.csv") == [(3, {"name": "张三", "sex": "M"}), (6, {"name": "李四", "sex": None})]
    (tmp_path / "long.csv").write_text("name,sex\n\n张三,M,extra\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"long.csv line 3: more values than header columns"):
        read_rows(tmp_path / "long.csv")
    assert anchored(gd.registry) == []


def test_expired_certificates_are_refused_unless_allowed(gd, tmp_path):
    """A validUntil that has passed would verify EXPIRED from the first day: such rows are bad
    rows naming the option that issues them anyway."""
    rows = id_rows(3, seed=8)
    rows[1]["validUntil"] = "2020-12-31"
    path = write_csv(tmp_path / "rows.csv", rows, [*ID_COLUMNS, "validUntil"])
    with pytest.raises(IssuanceRejected) as refused:
        api_issue(gd, path, tmp_path / "out", valid_from="2020-01-01")
    assert [(b.row, "has passed" in b.reason and "--allow-expired" in b.reason) for b in refused.value.bad_rows] == [
        (3, True)
    ]
    assert anchored(gd.registry) == []
    with pytest.raises(IssuanceRejected):  # the default validUntil too
        api_issue(
            gd,
            write_csv(tmp_path / "all.csv", id_rows(2, seed=9), ID_COLUMNS),
            tmp_path / "out2",
            valid_from="2020-01-01",
            valid_until="2021-01-01",
        )
    result = api_issue(gd, path, tmp_path / "out3", valid_from="2020-01-01", allow_expired=True)
    assert result.issued == 3


def test_issue_refusals_are_one_line(cli, tmp_path):
    """Nothing else on stderr: no empty progress line before the error, and the warning that
    --allow-expired issues certificates that verify EXPIRED."""
    base = ["--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(tmp_path / "out")]
    code, out, err = cli("issue", str(tmp_path / "missing.csv"), *base)
    assert (code, out, err) == (1, "", f"error: no such file: {tmp_path / 'missing.csv'}\n")
    (tmp_path / "open.csv").write_text('name,sex\n"张三,M\n', encoding="utf-8")
    code, out, err = cli("issue", str(tmp_path / "open.csv"), *base)
    assert code == 1 and err.splitlines() == [
        "error: open.csv line 2: a quoted value is never closed (the file ends at line 2 inside quotes)"
    ]
    rows = write_csv(tmp_path / "rows.csv", id_rows(2, seed=10), ID_COLUMNS)
    code, out, err = cli(
        "issue",
        str(rows),
        *base,
        "--valid-from",
        "2019-01-01",
        "--valid-until",
        "2020-01-01",
        "--allow-expired",
        "--json",
    )
    assert code == 0 and json.loads(out)["issued"] == 2
    assert "warning: --allow-expired" in err and "verify EXPIRED" in err


def test_unknown_key_in_a_later_jsonl_row_is_refused(gd, tmp_path):
    """JSONL rows need not share keys: a typo in row 3 ("adress") must not silently drop the
    address from that certificate."""
    rows = id_rows(5, seed=6)
    rows[2]["adress"] = rows[2].pop("address")
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    try:
        result = api_issue(gd, path, tmp_path / "out")
    except InvalidInput as exc:
        assert "adress" in str(exc)
    except IssuanceRejected as exc:
        assert [b.row for b in exc.bad_rows] == [3] and "adress" in exc.bad_rows[0].reason
    else:
        pytest.fail(f"issued {result.issued} certificates; row 3's 'adress' was silently ignored")
    assert anchored(gd.registry) == []


# ====================================================================== batching and gas


def test_seven_rows_in_batches_of_three(gd, tmp_path):
    rows = id_rows(7, seed=7)
    result = api_issue(gd, write_csv(tmp_path / "rows.csv", rows), tmp_path / "out", max_batch=3)
    assert [b.size for b in result.batches] == [3, 3, 1]
    logs = anchored(gd.registry)
    assert len(logs) == 3 and [len(h) for _, h in logs] == [3, 3, 1]
    assert len({b.tx for b in result.batches}) == 3
    out = read_output(tmp_path / "out")
    by_root = {"0x" + root.hex(): {"0x" + h.hex() for h in hashes} for root, hashes in logs}
    for i, r in enumerate(out.index):
        assert r["root"] == result.batches[i // 3].root  # rows batched in input order
        assert r["hash"] in by_root[r["root"]]
    assert_exactly_once(gd.registry, out.hashes)


def test_gas_per_certificate_is_reported(gd, tmp_path, capsys, home):
    result = api_issue(gd, write_csv(tmp_path / "rows.csv", id_rows(2_000, seed=8)), tmp_path / "out", bundle=True)
    [batch] = result.batches
    receipt = gd.chain.w3.eth.get_transaction_receipt(batch.tx)
    assert batch.gas_used == receipt["gasUsed"] and batch.block == receipt["blockNumber"]
    assert result.gas_per_certificate == pytest.approx(receipt["gasUsed"] / 2_000)
    assert result.gas_per_certificate <= 1_500  # the target: at most 1,500 gas per certificate
    assert result.to_json()["gas_per_certificate"] == result.gas_per_certificate

    cli = Cli(capsys)
    data = cli.ok(
        "issue",
        str(write_csv(tmp_path / "small.csv", id_rows(9, seed=9))),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "cli"),
        "--max-batch",
        "4",
    )
    gas = [b["gas_used"] for b in data["batches"]]
    assert len(gas) == 3 and data["gas_per_certificate"] == pytest.approx(sum(gas) / 9)
    code, out, _ = cli(
        "issue",
        str(write_csv(tmp_path / "more.csv", id_rows(5, seed=10))),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "cli2"),
    )
    assert code == 0 and "gas per certificate" in out


# ====================================================================== re-runs


def _snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}


def test_rerun_of_a_completed_issuance_changes_nothing(gd, tmp_path):
    path = write_csv(tmp_path / "rows.csv", id_rows(8, seed=11))
    first = api_issue(gd, path, tmp_path / "out", max_batch=3, qr=True)
    before, head = _snapshot(tmp_path / "out"), gd.chain.block_number()
    again = api_issue(gd, path, tmp_path / "out", max_batch=3, qr=True)
    assert again.resumed and again.anchored_now == 0 and again.issued == 8
    assert [b.root for b in again.batches] == [b.root for b in first.batches]
    assert again.files == 8 and again.qr_codes == 8
    assert gd.chain.block_number() == head
    assert _snapshot(tmp_path / "out") == before
    assert_exactly_once(gd.registry, read_output(tmp_path / "out").hashes)


def test_rerun_with_other_input_or_options_is_refused(gd, tmp_path):
    path = write_csv(tmp_path / "rows.csv", id_rows(4, seed=12))
    api_issue(gd, path, tmp_path / "out")
    before, head = _snapshot(tmp_path / "out"), gd.chain.block_number()
    other = write_csv(tmp_path / "other.csv", id_rows(4, seed=13))
    with pytest.raises(InvalidInput, match="another issuance"):
        api_issue(gd, other, tmp_path / "out")
    path.write_text(path.read_text("utf-8") + "张三,M,汉,1990-01-01,,440100199001010011,X\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="another issuance"):  # same file name, new content
        api_issue(gd, path, tmp_path / "out")
    with pytest.raises(InvalidInput, match="another issuance"):
        api_issue(gd, other, tmp_path / "out", max_batch=2)
    assert _snapshot(tmp_path / "out") == before and gd.chain.block_number() == head


# ====================================================================== crashes


def _issue_args(rows: Path, out: Path, *extra: str) -> list[str]:
    return ["issue", str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(out), "--json", *extra]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_crash_and_rerun_anchors_exactly_once(home, tmp_path, crash_at):
    """`certledger issue` killed with SIGKILL at a named point (several batches, so mid-way),
    then re-run: every row issued, every certificate anchored exactly once."""
    rows = write_csv(tmp_path / "rows.csv", id_rows(25, seed=14))
    out = tmp_path / "out"
    args = _issue_args(rows, out, "--max-batch", "6", "--qr")
    crashed = home.run(*args, crash_at=crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    journal = json.loads((out / ".certledger" / "journal.json").read_text())
    assert len(journal["batches"]) == 5 and not journal["complete"]
    # all transactions are sent before the first receipt is awaited: at batch-anchored all 5 are out
    expected = {"journal-written": 0, "batch-sent": 1, "batch-anchored": 5, "output-written": 5}[crash_at]
    # a transaction sent just before the kill is mined a moment later
    wait_until(lambda: len(anchored(home.c.registry)) >= expected, timeout=15, what=f"{expected} batches on chain")
    on_chain = len(anchored(home.c.registry))
    assert on_chain == expected

    rerun = home.run(*args)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["resumed"] and result["issued"] == 25 and result["anchored_now"] == 5 - on_chain
    output = read_output(out)
    assert_complete(output, 25, qr=True)
    assert_exactly_once(home.c.registry, output.hashes)
    for doc in output.docs.values():
        assert verdict(home.c.registry, doc) == (Verdict.OK, Reason.NONE)

    third = home.run(*args)
    assert third.returncode == 0 and json.loads(third.stdout)["anchored_now"] == 0
    assert_exactly_once(home.c.registry, output.hashes)


def test_a_rerun_with_other_outputs_lists_its_own_files(home, tmp_path):
    """A crash after the journal, then a re-run that asks for files and QR codes instead of the
    bundle: index.csv names the files and images this run wrote (the staged index lines, made
    for a bundle, say none), and no bundle is left behind."""
    rows = write_csv(tmp_path / "rows.csv", id_rows(8, seed=15))
    out = tmp_path / "out"
    crashed = home.run(*_issue_args(rows, out, "--max-batch", "3", "--bundle"), crash_at="journal-written")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    rerun = home.run(*_issue_args(rows, out, "--max-batch", "3", "--qr"))
    assert rerun.returncode == 0, rerun.stderr
    output = read_output(out)
    assert_complete(output, 8, qr=True)
    assert all(r["file"] and r["qr"] for r in output.index)
    assert not (out / "certificates.jsonl").exists() and not list(out.glob("*.tmp"))
    assert_exactly_once(home.c.registry, output.hashes)


def _started(out: Path, since: float) -> bool:
    """Has the issuance begun writing (its folder, state folder or certificates folder changed
    since ``since``)? A directory's mtime moves whenever a file is created or renamed in it."""
    for path in (out, out / ".certledger", out / "certificates"):
        try:
            if path.stat().st_mtime >= since:
                return True
        except FileNotFoundError:
            pass
    return False


def _kill_when(args: list[str], env: dict[str, str], out: Path, delay: float) -> tuple[int, str]:
    """Run ``args``; SIGKILL it ``delay`` seconds after its issuance began writing; return its
    exit code and how far it got."""
    since = time.time() - 0.01
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_until(
        lambda: _started(out, since) or process.poll() is not None,
        timeout=120,
        what="the issuance to begin writing",
        interval=0.005,
    )
    let_it_run(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        try:  # and any worker it forked (its session: we started it with start_new_session)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(60)
    journal = out / ".certledger" / "journal.json"
    if not journal.exists():
        return process.returncode, "build"
    data = json.loads(journal.read_text())
    stage = "complete" if data["complete"] else "anchor/output: " + ",".join(b["state"][0] for b in data["batches"])
    return process.returncode, stage


def test_random_kill_and_rerun_anchors_exactly_once(home, tmp_path):
    """20,000 rows in batches of 2,000, killed at a random moment (twice in a row in the last
    round), then re-run to completion: exactly once, every time."""
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    registry = home.c.registry
    all_hashes: set[bytes] = set()
    killed = []
    for round_ in range(3):
        rows = write_csv(tmp_path / f"rows{round_}.csv", id_rows(20_000, seed=100 + round_))
        out = tmp_path / f"out{round_}"
        args = [str(CERTLEDGER), *_issue_args(rows, out, "--max-batch", "2000")]
        for attempt in range(2 if round_ == 2 else 1):
            delay = rng.uniform(0.3, 1.5) if attempt == 0 else rng.uniform(0.0, 0.8)
            code, stage = _kill_when(args, home.process_env(), out, delay)
            killed.append((round_, round(delay, 2), code, stage))
        rerun = home.run(*args[1:])
        assert rerun.returncode == 0, (killed, rerun.stderr)
        assert json.loads(rerun.stdout)["issued"] == 20_000
        output = read_output(out)
        assert_complete(output, 20_000)
        all_hashes |= output.hashes
        assert_exactly_once(registry, all_hashes)
    assert any(code == -signal.SIGKILL for _, _, code, _ in killed), killed
    print("kills (round, delay s, return code, stage reached):", killed)


# ====================================================================== forged and compromised


def _issued_docs(c: Consortium, tmp_path: Path, n: int = 3, name: str = "out", seed: int = 20) -> list[dict[str, Any]]:
    result = api_issue(c, write_jsonl(tmp_path / f"{name}.jsonl", id_rows(n, seed=seed)), tmp_path / name, bundle=True)
    return list(load_bundle(result.bundle))


def _signer(doc: dict[str, Any]) -> str:
    a = doc["anchor"]
    return recover_batch_signer(
        bytes.fromhex(a["signature"][2:]),
        bytes.fromhex(a["root"][2:]),
        type_id(doc["type"]),
        agency_id(doc["issuer"]["agency"]),
        a["chainId"],
        a["registry"],
    )


def _active_keys(registry: Registry, agency: str) -> set[str]:
    return {k.address for k in registry.agency(agency).keys if k.state is KeyState.ACTIVE}


def _is_trusted(registry: Registry, doc: dict[str, Any]) -> bool:
    """The recovered signer is an active key of the document's agency."""
    agency = doc["issuer"]["agency"]
    signer = _signer(doc)
    info = registry.key(signer)
    return info.agency == agency and info.state is KeyState.ACTIVE and signer in _active_keys(registry, agency)


def test_forged_batch_signatures_are_detected(gd, tmp_path):
    reg = gd.registry
    key = gd.agency_keys["GD-PSB"]
    [doc, *_] = _issued_docs(gd, tmp_path)
    root = bytes.fromhex(doc["anchor"]["root"][2:])
    chain_id, registry_address = doc["anchor"]["chainId"], doc["anchor"]["registry"]
    tid, aid = type_id("ID_CARD"), agency_id("GD-PSB")
    assert _signer(doc) == key.address and _is_trusted(reg, doc)

    def with_signature(sig: bytes) -> dict[str, Any]:
        return {**doc, "anchor": {**doc["anchor"], "signature": "0x" + sig.hex()}}

    # signed by another key
    stranger = Account.create()
    forged = with_signature(sign_batch(stranger, root, tid, aid, chain_id, registry_address))
    assert doc_ok(forged)  # hash and proof are fine: only the signature check catches it
    assert _signer(forged) == stranger.address
    assert reg.key(stranger.address).agency == "" and reg.key(stranger.address).state is KeyState.UNKNOWN
    assert not _is_trusted(reg, forged)

    # the agency's own key, but signed for another chain
    other_chain = with_signature(sign_batch(key, root, tid, aid, chain_id + 1, registry_address))
    assert _signer(other_chain) != key.address and not _is_trusted(reg, other_chain)

    # the agency's own key, signed for another deployment where that key is registered too
    other = new_consortium(gd.chain)
    other.add_type("ID_CARD", default_schemas()["ID_CARD"])
    other.registry.register_agency(other.admins[440000], "GD-PSB", 440000, ["ID_CARD"])
    other.registry.add_key(other.admins[440000], "GD-PSB", key.address)
    other_registry = other.deployment.certificate_registry
    replayed = with_signature(sign_batch(key, root, tid, aid, chain_id, other_registry))
    assert (
        recover_batch_signer(
            bytes.fromhex(replayed["anchor"]["signature"][2:]), root, tid, aid, chain_id, other_registry
        )
        == key.address
    )  # a genuine signature -- for the other contract
    assert _signer(replayed) != key.address and not _is_trusted(reg, replayed)

    # signed for another type or agency
    for t, a in ((type_id("DEGREE"), aid), (tid, agency_id("GD-AMR"))):
        assert not _is_trusted(reg, with_signature(sign_batch(key, root, t, a, chain_id, registry_address)))

    # a whole batch forged by a stranger: consistent hash, proof and signature -- by nobody
    cert, _ = Certificate.from_json(doc)
    tree = build_tree([cert.compute_hash(), os.urandom(32), os.urandom(32)])
    fake = {
        **doc,
        "anchor": {
            **doc["anchor"],
            "root": "0x" + tree.root.hex(),
            "proof": ["0x" + p.hex() for p in tree.proof(cert.compute_hash())],
            "signature": "0x" + sign_batch(stranger, tree.root, tid, aid, chain_id, registry_address).hex(),
        },
    }
    assert doc_ok(fake) and not _is_trusted(reg, fake)
    assert verdict(reg, fake) == (Verdict.UNKNOWN, Reason.NOT_ANCHORED)


def test_anchor_after_a_reported_compromise_is_invalid(gd, tmp_path):
    reg = gd.registry
    key = gd.agency_keys["GD-PSB"]
    admin = gd.admins[440000]
    advance(gd.chain, 100)
    early = _issued_docs(gd, tmp_path, 3, "early", seed=21)
    advance(gd.chain, 100)
    late = _issued_docs(gd, tmp_path, 3, "late", seed=22)
    t_early = reg.batch("GD-PSB", bytes.fromhex(early[0]["anchor"]["root"][2:])).anchored_at
    t_late = reg.batch("GD-PSB", bytes.fromhex(late[0]["anchor"]["root"][2:])).anchored_at
    assert t_late - t_early >= 100
    advance(gd.chain, 100)

    reg.report_compromised(admin, key.address, t_late - 10)  # compromised before the late anchor
    assert reg.key(key.address).state is KeyState.COMPROMISED
    for doc in late:
        assert doc_ok(doc)
        assert verdict(reg, doc) == (Verdict.INVALID, Reason.KEY_COMPROMISED)
        assert verdict(reg, doc, 330000) == (Verdict.INVALID, Reason.KEY_COMPROMISED)
    for doc in early:  # anchored before the compromise: still valid
        assert verdict(reg, doc) == (Verdict.OK, Reason.NONE)

    reg.report_compromised(admin, key.address, t_early)  # at the very anchor time: invalid too
    for doc in early:
        assert verdict(reg, doc) == (Verdict.INVALID, Reason.KEY_COMPROMISED)

    with pytest.raises(InvalidInput, match="compromised"):  # and it cannot issue any more
        _issued_docs(gd, tmp_path, 1, "after", seed=23)


# ====================================================================== status changes by CLI


def test_revoke_suspend_reinstate_by_hash_file_and_batch(cli, home, tmp_path):
    reg = home.c.registry
    rows = write_csv(tmp_path / "rows.csv", id_rows(6, seed=30))
    result = cli.ok(
        "issue",
        str(rows),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(tmp_path / "out"),
        "--max-batch",
        "3",
    )
    out = read_output(tmp_path / "out")
    files = [tmp_path / "out" / r["file"] for r in out.index]
    docs = [out.docs[r["hash"]] for r in out.index]
    first_batch, second_batch = result["batches"][0]["root"], result["batches"][1]["root"]
    assert all(verdict(reg, d) == (Verdict.OK, Reason.NONE) for d in docs)

    # by hash + --agency
    change = cli.ok("revoke", docs[0]["hash"], "--agency", "GD-PSB", "--reason", "FRAUD")
    assert change["kind"] == "certificate" and change["subject"] == docs[0]["hash"]
    assert change["status"] == "REVOKED" and change["reason"] == "FRAUD" and change["agency"] == "GD-PSB"
    assert change["tx"] and change["block"]
    assert verdict(reg, docs[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)
    assert "AlreadyRevoked" in cli.fails("reinstate", docs[0]["hash"], "--agency", "GD-PSB", "--reason", "ERROR")
    assert verdict(reg, docs[0]) == (Verdict.REVOKED, Reason.CERTIFICATE_REVOKED)

    # by certificate file
    assert cli.ok("suspend", str(files[1]), "--reason", "HOLDER_REQUEST")["status"] == "SUSPENDED"
    assert verdict(reg, docs[1]) == (Verdict.SUSPENDED, Reason.CERTIFICATE_SUSPENDED)
    assert verdict(reg, docs[2]) == (Verdict.OK, Reason.NONE)  # its batch-mates are untouched
    assert cli.ok("reinstate", str(files[1]), "--reason", "HOLDER_REQUEST")["status"] == "ACTIVE"
    assert verdict(reg, docs[1]) == (Verdict.OK, Reason.NONE)
    assert reg.certificate_status("GD-PSB", bytes.fromhex(docs[1]["hash"][2:]))[0] is Status.ACTIVE

    # by batch root
    change = cli.ok("suspend", second_batch, "--batch", "--reason", "COURT_ORDER")
    assert change["kind"] == "batch" and change["subject"] == second_batch and change["agency"] == "GD-PSB"
    for doc in docs[3:]:
        assert verdict(reg, doc) == (Verdict.SUSPENDED, Reason.BATCH_SUSPENDED)
    for doc in docs[1:3]:
        assert verdict(reg, doc) == (Verdict.OK, Reason.NONE)
    cli.ok("reinstate", second_batch, "--batch", "--reason", "COURT_ORDER")
    assert all(verdict(reg, d) == (Verdict.OK, Reason.NONE) for d in docs[3:])
    cli.ok("revoke", second_batch, "--batch", "--reason", "DATA_ERROR")
    assert all(verdict(reg, d) == (Verdict.REVOKED, Reason.BATCH_REVOKED) for d in docs[3:])
    assert reg.batch_status("GD-PSB", bytes.fromhex(second_batch[2:]))[0] is Status.REVOKED
    assert reg.batch_status("GD-PSB", bytes.fromhex(first_batch[2:]))[0] is Status.ACTIVE

    # refusals, one line each, nothing changed
    head = home.c.chain.block_number()
    assert "--agency" in cli.fails("revoke", docs[2]["hash"], "--reason", "FRAUD")
    assert "no batch" in cli.fails("suspend", "0x" + "12" * 32, "--batch", "--reason", "FRAUD")
    assert "invalid certificate hash" in cli.fails("suspend", "0x1234", "--agency", "GD-PSB", "--reason", "FRAUD")
    tampered = json.loads(files[2].read_text("utf-8"))
    tampered["fields"]["name"] = "冒名顶替"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    assert "tampered" in cli.fails("revoke", str(tmp_path / "tampered.json"), "--reason", "FRAUD")
    assert "not GD-AMR" in cli.fails("revoke", str(files[2]), "--agency", "GD-AMR", "--reason", "FRAUD")
    assert home.c.chain.block_number() == head
    assert verdict(reg, docs[2]) == (Verdict.OK, Reason.NONE)


# ====================================================================== 100,000 certificates


def test_100000_certificates_sampled_proofs_verify_on_chain(gd, tmp_path):
    """Issue 100,000 rows (bundle): a random sample of 200 documents recompute to their hash
    and verify with the contract's verify view; every certificate is anchored exactly once.
    Then all 100,000 hashes in ONE tree (too big for one transaction: its root is put into the
    contract's storage by an eth_call state override): sampled proofs verify there too."""
    reg = gd.registry
    rows = write_jsonl(tmp_path / "rows.jsonl", id_rows(100_000, seed=40))
    result = api_issue(gd, rows, tmp_path / "out", bundle=True)
    assert result.issued == 100_000 and len(result.batches) == 10
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    sample = rng.sample(range(100_000), 200)
    wanted = set(sample)
    hashes, docs = [], {}
    for i, doc in enumerate(load_bundle(result.bundle)):
        hashes.append(bytes.fromhex(doc["hash"][2:]))
        if i in wanted:
            docs[i] = doc
    assert len(hashes) == 100_000
    assert_exactly_once(reg, set(hashes))

    depths = set()
    for i in sample:
        doc = docs[i]
        cert, stated = Certificate.from_json(doc)
        h = cert.compute_hash()
        assert h == stated == hashes[i]
        depths.add(len(cert.anchor.proof))
        assert reg.verify_onchain("GD-PSB", h, cert.anchor.root, cert.anchor.proof, 0) == (Verdict.OK, Reason.NONE), i
    assert depths <= {13, 14}

    # one 100,000-leaf tree, "anchored" by a state override copying a real batch's record
    tree = build_tree(hashes)
    real_root = bytes.fromhex(result.batches[0].root[2:])
    address = reg.deployment.certificate_registry

    def slot(root: bytes) -> int:
        # _batches is the first state variable: mapping(bytes32 agency => mapping(bytes32 root => Batch)) at slot 0
        inner = keccak(agency_id("GD-PSB") + bytes(32))
        return int.from_bytes(keccak(root + inner), "big")

    words = [bytes(reg.chain.w3.eth.get_storage_at(address, slot(real_root) + i)) for i in (0, 1)]
    info = reg.batch("GD-PSB", real_root)  # layout as assumed: [size u32 | anchoredAt u64 | key address], then certType
    assert (
        int.from_bytes(words[0][:4], "big") == info.size and int.from_bytes(words[0][4:12], "big") == info.anchored_at
    )
    assert words[0][12:] == bytes.fromhex(info.key[2:]) and words[1] == type_id("ID_CARD")
    override = {address: {"stateDiff": {"0x%064x" % (slot(tree.root) + i): "0x" + words[i].hex() for i in (0, 1)}}}
    f = reg.certificates.functions
    aid = agency_id("GD-PSB")
    assert tuple(f.verify(aid, hashes[0], tree.root, tree.proof(hashes[0]), 0).call()) == (
        Verdict.UNKNOWN,
        Reason.NOT_ANCHORED,
    )
    for i in sample:
        proof = tree.proof(hashes[i])
        assert len(proof) in (16, 17)
        got = f.verify(aid, hashes[i], tree.root, proof, 0).call(state_override=override)
        assert tuple(got) == (Verdict.OK, Reason.NONE), i
    bad = list(tree.proof(hashes[sample[0]]))
    bad[5] = os.urandom(32)
    assert tuple(f.verify(aid, hashes[sample[0]], tree.root, bad, 0).call(state_override=override)) == (
        Verdict.INVALID,
        Reason.PROOF_MISMATCH,
    )
