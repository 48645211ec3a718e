"""``certledger publish`` and ``certledger fetch``: the round trip through the embedded store and
a real js-ipfs node, and each way it can fail: exit code 1 and one line naming the problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from content_helpers import HOLDER, certificate
from ipfs_fixtures import LyingNode
from jsipfs_node import IpfsNode

from cli import main
from ledger.content import EmbeddedStore, RetrievalCode

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("CERTLEDGER_HOME", str(tmp_path / "home"))
    for var in ("CERTLEDGER_IPFS_URL", "CERTLEDGER_CONTENT_DIR"):
        monkeypatch.delenv(var, raising=False)

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(params=["embedded", "jsipfs"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "embedded":
        return ["--store", str(tmp_path / "store")]
    node: IpfsNode = request.getfixturevalue("ipfs_node")
    return ["--ipfs", node.url]


def fails(run: Run, *args: str) -> str:
    code, out, err = run(*args)
    assert code == 1, f"certledger {' '.join(args)} exited {code}: {out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def documents(tmp_path: Path) -> list[Path]:
    out = []
    for i, suite in enumerate(["intl", "sm"]):
        path = tmp_path / f"cert-{i}.json"
        path.write_bytes(certificate(suite))
        out.append(path)
    return out


def test_publish_then_fetch_gives_each_document_back(run: Run, where: list[str], tmp_path: Path) -> None:
    docs = documents(tmp_path)
    codes_file = tmp_path / "codes.tsv"
    code, out, err = run("publish", *map(str, docs), *where, "--codes", str(codes_file))
    assert code == 0, err
    assert "published 2 sealed document(s)" in err and "CLR1:" not in out + err  # the codes go to the file only
    assert codes_file.stat().st_mode & 0o077 == 0
    lines = codes_file.read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == [str(d) for d in docs]
    for line, doc in zip(lines, docs, strict=True):
        target = tmp_path / f"back-{doc.name}"
        code, _, err = run("fetch", line.split("\t")[0], *where, "-o", str(target))
        assert code == 0, err
        assert target.read_bytes() == doc.read_bytes()
    assert RetrievalCode.parse(lines[1].split("\t")[0]).suite == "sm"


@pytest.mark.unit
def test_publish_prints_codes_and_fetch_writes_to_stdout(run: Run, tmp_path: Path) -> None:
    doc = documents(tmp_path)[0]
    code, out, err = run("publish", str(doc))  # the default store: <home>/content
    assert code == 0, err
    name, text = out.strip().split("\t")
    assert name == str(doc)
    assert EmbeddedStore(tmp_path / "home" / "content").has(RetrievalCode.parse(text).cid)
    code, out, _ = run("fetch", text)
    assert code == 0 and out.encode() == doc.read_bytes()
    code, out, _ = run("publish", str(doc), "--json")
    assert code == 0 and json.loads(out)["documents"][0]["code"].startswith("CLR1:")


@pytest.mark.unit
def test_publish_refuses_what_is_not_a_certificate_before_publishing_anything(run: Run, tmp_path: Path) -> None:
    good = documents(tmp_path)[0]
    notes = tmp_path / "notes.txt"
    notes.write_text("王秀英 440106198502140023")
    store = tmp_path / "store"
    assert "not a certificate document" in fails(run, "publish", str(good), str(notes), "--store", str(store))
    assert not store.exists()  # the good one was not published either
    assert "no such file" in fails(run, "publish", str(tmp_path / "missing.json"), "--store", str(store))
    assert "not both" in fails(run, "publish", str(good), "--store", str(store), "--ipfs", "http://127.0.0.1:1")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("hello", "should start with CLR1:"),
        ("CLR1:AB1", "not a base32 character"),
        ("CLR1:AAAAAAAA", "unknown cipher suite"),
    ],
)
def test_fetch_with_a_malformed_code_says_what_is_wrong(run: Run, code: str, message: str) -> None:
    assert message in fails(run, "fetch", code)


def test_fetch_errors_name_the_problem(
    run: Run, where: list[str], tmp_path: Path, lying_node: Callable[..., LyingNode]
) -> None:
    doc = documents(tmp_path)[0]
    _, out, _ = run("publish", str(doc), *where)
    text = out.strip().split("\t")[1]
    good = RetrievalCode.parse(text)
    edited_key = RetrievalCode(good.cid, bytes([good.key[0] ^ 1]) + good.key[1:], good.suite)
    assert "does not open" in fails(run, "fetch", str(edited_key), *where)
    other = tmp_path / "other.json"
    other.write_bytes(certificate("intl"))
    other_cid = RetrievalCode.parse(run("publish", str(other), *where)[1].split("\t")[1]).cid
    assert "does not open" in fails(run, "fetch", str(RetrievalCode(other_cid, good.key, good.suite)), *where)
    sm = RetrievalCode.parse(run("publish", str(documents(tmp_path)[1]), *where)[1].split("\t")[1]).cid
    assert "sealed for sm" in fails(run, "fetch", str(RetrievalCode(sm, good.key, good.suite)), *where)
    if where[0] == "--store":
        assert "not in the content store" in fails(run, "fetch", text, "--store", str(tmp_path / "empty"))
        for block in Path(where[1]).rglob("bafk*"):
            block.write_bytes(block.read_bytes()[:-1] + b"\0")
        assert "does not match its CID" in fails(run, "fetch", text, *where)
    else:
        liar = lying_node(where[1], lambda b: b[:-1] + bytes([b[-1] ^ 1]))
        assert "does not match" in fails(run, "fetch", text, "--ipfs", liar.url)
    assert "cannot reach the IPFS node" in fails(run, "fetch", text, "--ipfs", "http://127.0.0.1:9")
    assert not (tmp_path / "never.json").exists()


@pytest.mark.unit
def test_nothing_personal_reaches_the_store_through_the_cli(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, _, err = run("publish", *map(str, documents(tmp_path)), "--store", str(store))
    assert code == 0, err
    stored = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    for value in HOLDER.values():
        assert value.encode() not in stored
