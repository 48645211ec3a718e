"""The national profile from the command line, as an operator runs it: `deploy --suite sm`, key
pairs created and registered, SM2-signed issuance, rotation, compromise and re-anchoring with
the new pair, agency credit codes; verified from the chain (a real anvil, no mirror)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT
from test_cli import PASSWORD, Cli

from ledger.chain import Chain
from ledger.crypto.sm import SM2PublicKey
from ledger.deployment import Deployment
from ledger.document import Certificate
from ledger.ids import agency_id, type_id
from ledger.keystore import Keystore
from ledger.registry import Registry
from ledger.samples import write_id_cards
from ledger.verification import ChainSource, Verifier


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anvil: Any) -> Cli:
    monkeypatch.setenv("CERTLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return Cli(capsys, tmp_path / "home")


@pytest.fixture
def sm_deployed(cli: Cli) -> Cli:
    """An sm deployment with type ID_CARD and agency GD-PSB (no key yet)."""
    data = cli.ok("deploy", "--suite", "sm")
    assert data["deployed"] and data["suite"] == "sm"
    schema = ROOT / "ledger" / "certtypes" / "ID_CARD.json"
    proposal = cli.ok("type", "add", "ID_CARD", "--schema", str(schema), "--key", "admin-440000")
    cli.ok("region", "approve", str(proposal["proposal"]), "--key", "admin-330000")
    cli.ok("agency", "add", "GD-PSB", "--region", "440000", "--types", "ID_CARD")
    return cli


def _registry(cli: Cli, anvil: Any) -> Registry:
    return Registry(Chain(anvil.url), Deployment.load(cli.home / "deployment.json"))


def _verify(registry: Registry, doc: dict[str, Any]) -> Any:
    return Verifier(ChainSource(registry), registry.deployment).verify_document(*Certificate.from_json(doc))


def test_deploy_records_the_suite_and_refuses_an_unknown_one(cli: Cli, anvil: Any) -> None:
    assert "unknown cryptographic suite 'gm'" in cli.fails("deploy", "--suite", "gm")
    assert not (cli.home / "deployment.json").exists()
    cli.ok("deploy", "--suite", "sm")
    saved = json.loads((cli.home / "deployment.json").read_text())
    assert (saved["suite"], saved["format"]) == ("sm", 4)
    assert Deployment.load(cli.home / "deployment.json").chain_suite(Chain(anvil.url).raw) == "sm"


def test_a_key_of_an_sm_deployment_is_a_registered_pair(sm_deployed: Cli, anvil: Any) -> None:
    cli = sm_deployed
    made = cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    sm2_file = cli.home / "keys" / "GD-PSB-1.sm2.json"
    assert sm2_file.is_file() and oct(sm2_file.stat().st_mode)[-3:] == "600"
    stored = json.loads(sm2_file.read_text())
    assert stored["sm2"]["signerId"] == "1234567812345678" and "crypto" in stored  # encrypted scalar
    keystore = Keystore(cli.home / "keys", PASSWORD)
    public = keystore.load_sm2("GD-PSB-1").public_key.to_bytes()
    assert made["sm2_public_key"] == "0x" + public[1:].hex()
    assert bytes.fromhex(stored["sm2"]["publicKey"][2:]) == public
    assert keystore.load_sm2("GD-PSB-1").to_bytes().hex() not in sm2_file.read_text()
    reg = _registry(cli, anvil)
    assert reg.key(made["address"]).sm2_public_key == public[1:]
    SM2PublicKey.from_bytes(reg.key(made["address"]).sm2_public_key)  # on the curve
    listed = {k["name"]: k for k in cli.ok("key", "list")}
    assert listed["GD-PSB-1"]["sm2_public_key"] == made["sm2_public_key"]
    assert "sm2_public_key" not in listed["admin-440000"]
    assert "GD-PSB-1.sm2" not in listed  # the SM2 file is not a key of its own


def test_sm_issuance_rotation_compromise_and_reanchoring(sm_deployed: Cli, anvil: Any, tmp_path: Path) -> None:
    cli = sm_deployed
    cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    rows = write_id_cards(tmp_path / "rows.csv", 5)
    out = tmp_path / "out"
    issued = cli.ok("issue", str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(out))
    assert issued["issued"] == 5
    reg = _registry(cli, anvil)
    docs = [json.loads(p.read_text()) for p in sorted((out / "certificates").glob("*.json"))]
    signatures = {d["anchor"]["sm2Signature"] for d in docs}
    assert len(signatures) == 1  # one SM2 signature per batch, never per certificate
    assert all(_verify(reg, d).verdict == "VALID" for d in docs)

    rotated = cli.ok("key", "rotate", "GD-PSB-1", "GD-PSB-2")
    assert rotated["created"] and rotated["sm2_public_key"].startswith("0x")
    assert (cli.home / "keys" / "GD-PSB-2.sm2.json").is_file()
    cli.ok("key", "compromise", "GD-PSB-1", "--since", "0", "--key", "admin-440000")
    assert _verify(reg, docs[0]).verdict == "INVALID"
    again = cli.ok("reanchor", str(out), "--key", "GD-PSB-2")
    assert again["reanchored"] == 1 and again["documents_rewritten"] == 5
    rewritten = [json.loads(p.read_text()) for p in sorted((out / "certificates").glob("*.json"))]
    assert {d["anchor"]["sm2Signature"] for d in rewritten}.isdisjoint(signatures)
    for doc in rewritten:
        r = _verify(reg, doc)
        assert r.verdict == "VALID", [c.to_json() for c in r.checks]
    # a second run finds the batch re-anchored by the new pair and leaves the documents valid
    assert cli.ok("reanchor", str(out), "--key", "GD-PSB-2")["reanchored"] == 0
    assert all(
        _verify(reg, json.loads(p.read_text())).verdict == "VALID" for p in (out / "certificates").glob("*.json")
    )


def test_an_sm_deployment_refuses_to_issue_with_a_key_without_sm2(sm_deployed: Cli, tmp_path: Path) -> None:
    cli = sm_deployed
    cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    (cli.home / "keys" / "GD-PSB-1.sm2.json").unlink()
    rows = write_id_cards(tmp_path / "rows.csv", 2)
    line = cli.fails("issue", str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(tmp_path / "o"))
    assert "no SM2 key" in line


def test_agency_credit_code(sm_deployed: Cli, anvil: Any) -> None:
    cli = sm_deployed
    done = cli.ok("agency", "credit-code", "GD-PSB", "11330105002500287C")
    assert done["credit_code"] == "11330105002500287C"
    assert _registry(cli, anvil).credit_code("GD-PSB") == "11330105002500287C"
    line = cli.fails("agency", "credit-code", "GD-PSB", "11330105002500287D")
    assert "check character is 'D', expected 'C'" in line
    assert "18" in cli.fails("agency", "credit-code", "GD-PSB", "1133010500")
    assert _registry(cli, anvil).credit_code("GD-PSB") == "11330105002500287C"
    listed = {a["agency"]: a for a in cli.ok("agency", "list")}
    assert listed["GD-PSB"]["credit_code"] == "11330105002500287C"


def test_an_sm_operator_issues_national_certificates_end_to_end(sm_deployed: Cli, anvil: Any, tmp_path: Path) -> None:
    """What an operator of an sm deployment does, command by command: a key pair, the agency's
    credit code, issuance with e-licence identifiers, the mirror, verification of the document,
    its compact QR and a tampered copy. The documents are SM3-hashed certledger/2, their batch
    SM2-signed by the registered key."""
    from ledger.gbt.identifier import parse
    from ledger.signing import sm2_batch_signature_ok
    from ledger.suites import suite

    cli = sm_deployed
    cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    code = "11330105002500287C"
    cli.ok("agency", "credit-code", "GD-PSB", code)
    rows = write_id_cards(tmp_path / "rows.csv", 4)
    out = tmp_path / "out"
    issued = cli.ok("issue", str(rows), "--agency", "GD-PSB", "--type", "ID_CARD", "--out", str(out), "--qr")
    assert issued["issued"] == 4
    paths = sorted((out / "certificates").glob("*.json"))
    docs = [json.loads(p.read_text()) for p in paths]
    reg = _registry(cli, anvil)
    for doc in docs:
        assert (doc["format"], doc["suite"]) == ("certledger/2", "sm")
        assert parse(doc["identifier"]).issuer_code == code  # from the ledger's code for GD-PSB
        cert, stated = Certificate.from_json(doc)
        assert cert.compute_hash() == stated  # recomputed in SM3 ...
        assert suite("intl").name != cert.suite  # ... not in SHA-256
        anchor = doc["anchor"]
        public = Keystore(cli.home / "keys", PASSWORD).load_sm2("GD-PSB-1").public_key
        assert sm2_batch_signature_ok(
            public,
            bytes.fromhex(anchor["sm2Signature"][2:]),
            bytes.fromhex(anchor["root"][2:]),
            type_id("ID_CARD"),
            agency_id("GD-PSB"),
            reg.chain.chain_id,
            reg.deployment.certificate_registry,
            identifier_tags_hash=reg.batch_commitments("GD-PSB", bytes.fromhex(anchor["root"][2:]))[1],
        )
    cli.ok("index", "--once")
    for source in ("mirror", "chain"):
        result = cli.ok("verify", str(paths[0]), "--source", source)
        assert result["verdict"] == "VALID", result
        key = next(c for c in result["checks"] if c["name"] == "key_valid")
        assert "EIP-712 and SM2" in key["detail"]
    qr = next((out / "qr").glob("*.png"))
    assert cli.ok("verify", str(qr))["verdict"] == "VALID"  # CLC3: the metadata is bound, dates checked
    tampered = tmp_path / "tampered.json"
    doc = docs[0]
    tampered.write_text(json.dumps({**doc, "fields": {**doc["fields"], "name": "李鬼"}}, ensure_ascii=False))
    status, printed, _ = cli("verify", str(tampered), "--json")
    assert status == 3 and json.loads(printed)["verdict"] == "INVALID"


def test_the_sm_demo_consortium_gives_every_certificate_an_identifier(cli: Cli, anvil: Any, tmp_path: Path) -> None:
    """``certledger demo --suite sm`` sets up: the agencies' credit codes on the ledger, so the
    sample certificates carry e-licence identifiers naming their issuer, found by identifier."""
    from ledger.bootstrap import DEMO_CREDIT_CODES, ensure_default_consortium, ensure_sample_certificates
    from ledger.gbt.identifier import parse
    from ledger.mirror import Indexer, MirrorQueries, MirrorStore
    from ledger.suites import suite

    keystore = Keystore(cli.home / "keys", PASSWORD)
    chain = Chain(anvil.url)
    report = ensure_default_consortium(chain, keystore, cli.home / "deployment.json", suite="sm")
    assert report.deployment.suite == "sm"
    again = ensure_default_consortium(chain, keystore, cli.home / "deployment.json")  # idempotent
    assert not again.created and "credit code of GD-PSB" in again.reused
    reg = Registry(chain, report.deployment)
    assert {a: reg.credit_code(a) for a in DEMO_CREDIT_CODES} == DEMO_CREDIT_CODES
    samples = ensure_sample_certificates(reg, keystore, tmp_path / "demo", id_cards=3, licences=2)
    doc_path, _ = samples.sample_files()
    doc = json.loads(doc_path.read_text())
    assert doc["suite"] == "sm" and parse(doc["identifier"]).issuer_code == DEMO_CREDIT_CODES["GD-PSB"]
    store = MirrorStore(f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    try:
        store.open(reg.deployment)
        Indexer(anvil.url, reg.deployment, store).catch_up()
        found = MirrorQueries(store).by_identifier_tag(suite("sm").identifier_tag(doc["identifier"]))
        assert found == [("GD-PSB", bytes.fromhex(doc["hash"][2:]))]
    finally:
        store.dispose()
