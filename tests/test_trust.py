"""Attacks on the verdicts, performed for real: an agency key inside the consortium, a holder
editing their own file, an anonymous client, a removed region. Each test carries out the
attack — real pending transactions on anvil, real HTTP requests to a running API — and passes
because the attack now fails.

The stack of each test: its own anvil node, a fresh deployment (types ID_CARD, DRIVING_LICENCE,
BUSINESS_LICENSE; agencies GD-PSB, GD-AMR, BJ-PSB), an indexer following the chain into SQLite,
and the API served by uvicorn on a free port.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_helpers import BJ, GD, ZJ, biz_rows, checked_client, failing, id_rows, issue_rows, start_anvil
from eth_account import Account
from helpers import Consortium, Node, expect, free_port, new_consortium, wait_until
from PIL import Image

from ledger.bootstrap import default_schemas
from ledger.chain import Chain
from ledger.contracts import Reason, Status, Verdict
from ledger.document import Certificate
from ledger.ids import agency_id, type_id
from ledger.keystore import Keystore
from ledger.merkle import build_tree
from ledger.mirror import Indexer, IndexerConfig, MirrorStore
from ledger.qr import COMPACT_V1_PREFIX, compact_payload, full_payload
from ledger.signing import sign_batch
from ledger.verification import ChainSource, MirrorSource, Verifier

CLI = str(Path(sys.executable).parent / "certledger")


# ---------------------------------------------------------------------- the stack


@dataclass
class Stack:
    node: Node
    chain: Chain
    c: Consortium
    home: Path
    directory: Path
    store: MirrorStore
    indexer: Indexer
    url: str

    @property
    def reg(self):
        return self.c.registry

    def sync(self) -> None:
        """Wait until the service itself answers from the chain's head: the indexer has written
        it and the service's view of the mirror (trusted for a short while between reads) has
        moved on to it."""
        head = self.chain.block_number()
        wait_until(
            lambda: (httpx.get(self.url + "/healthz", timeout=30).json()["mirror_block"] or -1) >= head,
            timeout=30,
            what="the service to catch up with the chain",
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        self.sync()
        return httpx.get(self.url + path, params={k: v for k, v in params.items() if v is not None}, timeout=30)

    def post(self, body: Any, **params: Any) -> httpx.Response:
        self.sync()
        return httpx.post(
            self.url + "/v1/verify", json=body, params={k: v for k, v in params.items() if v is not None}, timeout=30
        )

    def by_hash(self, cert_hash: str, **params: Any) -> dict[str, Any]:
        r = self.get(f"/v1/certificates/{cert_hash}", **params)
        assert r.status_code == 200, r.text
        return r.json()

    def verify_doc(self, doc: dict[str, Any], **params: Any) -> dict[str, Any]:
        r = self.post({"document": doc}, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def verify_payload(self, payload: str, **params: Any) -> dict[str, Any]:
        r = self.post({"payload": payload}, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def issue(
        self, agency: str, cert_type: str, rows: list[dict[str, Any]], name: str, **kw: Any
    ) -> list[dict[str, Any]]:
        return issue_rows(self.c, agency, cert_type, rows, self.directory / name, **kw)


def _deploy(chain: Chain) -> Consortium:
    c = new_consortium(chain)
    schemas = default_schemas()
    for code in ("ID_CARD", "DRIVING_LICENCE", "BUSINESS_LICENSE"):
        c.add_type(code, schemas[code])
    c.add_agency("GD-PSB", GD, ["ID_CARD", "DRIVING_LICENCE"])
    c.add_agency("GD-AMR", GD, ["BUSINESS_LICENSE"])
    c.add_agency("BJ-PSB", BJ, ["ID_CARD"])
    c.registry.set_recognition(c.admins[ZJ], ZJ, "ID_CARD", None)
    return c


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    from api.app import ApiSettings, create_app

    node = start_anvil(tmp_path)
    server = None
    indexer = None
    follower = None
    try:
        chain = Chain(node.url)
        c = _deploy(chain)
        home = tmp_path / "home"
        c.deployment.save(home / "deployment.json")
        db = f"sqlite:///{tmp_path}/mirror.db"
        store = MirrorStore(db)
        store.open(c.deployment)
        indexer = Indexer(node.url, c.deployment, store, IndexerConfig(poll_interval=0.05))
        follower = threading.Thread(target=indexer.run, daemon=True)
        follower.start()
        port = free_port()
        settings = ApiSettings(home=home, rpc_url=node.url, db_url=db)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: server.started, timeout=30, what="the API to start")
        yield Stack(node, chain, c, home, tmp_path, store, indexer, url)
    finally:
        if server is not None:
            server.should_exit = True
        if indexer is not None:
            indexer.stop()
        if follower is not None:
            follower.join(timeout=10)
        node.stop()


def _h(doc: dict[str, Any]) -> bytes:
    return bytes.fromhex(doc["hash"][2:])


def _v1_compact(doc: dict[str, Any]) -> str:
    """A compact QR as printed before it named its agency."""
    import base45
    import cbor2

    body = [_h(doc), doc["type"], doc["issuer"]["region"]]
    return COMPACT_V1_PREFIX + base45.b45encode(cbor2.dumps(body)).decode()


def _compact(doc: dict[str, Any]) -> str:
    return compact_payload(_h(doc), doc["type"], doc["issuer"]["region"], doc["issuer"]["agency"])


def _anchor_copy(s: Stack, agency: str, cert_type: str, hashes: list[bytes]):
    """The interloper anchors the same hashes as a batch of its own, signed with its own key."""
    return s.reg.anchor_batch(s.c.deployer, s.c.agency_keys[agency], agency, cert_type, hashes)


# ---------------------------------------------------------------------- 1. batches belong to one agency


def test_front_running_a_pending_batch_neither_blocks_nor_shadows_nor_revokes_it(stack: Stack) -> None:
    """GD-AMR's key reads GD-PSB's pending anchorBatch from the mempool, copies its hashes into
    a batch of its own and gets it mined first (higher gas price). Both batches are anchored,
    each under its own agency: hash lookups within GD-PSB find GD-PSB's, GD-AMR cannot revoke
    GD-PSB's certificates, and a lookup that names no agency is never VALID."""
    s = stack
    docs = s.issue("GD-PSB", "ID_CARD", id_rows(3), "victim-setup")  # a first batch: the agency works
    rows = id_rows(4)
    victim_key = s.c.agency_keys["GD-PSB"]
    # The victim's batch, built as `issue` builds it, sent while mining is paused.
    from ledger.document import Anchor, new_salts

    schema_fields = [f["name"] for f in default_schemas()["ID_CARD"]["fields"]]
    certs = []
    for row in rows:
        fields = {k: str(v) for k, v in row.items() if k in schema_fields}
        certs.append(Certificate("ID_CARD", "GD-PSB", GD, "2020-01-01", None, fields, new_salts(list(fields))))
    hashes = [c.compute_hash() for c in certs]
    tree = build_tree(hashes)
    d = s.c.deployment
    sig = sign_batch(victim_key, tree.root, type_id("ID_CARD"), agency_id("GD-PSB"), d.chain_id, d.certificate_registry)
    victim_docs = [
        Certificate(
            c.type,
            c.agency,
            c.region,
            c.valid_from,
            c.valid_until,
            c.fields,
            c.salts,
            anchor=Anchor(d.chain_id, d.certificate_registry, tree.root, tuple(tree.proof(h)), sig, victim_key.address),
        ).to_json(h)
        for c, h in zip(certs, hashes, strict=True)
    ]
    w3 = s.chain.w3
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        fn = s.reg.certificates.functions.anchorBatch(
            agency_id("GD-PSB"), type_id("ID_CARD"), tree.cert_hashes, sig, []
        )
        victim_tx = s.chain.transact(victim_key, fn, gas=2_000_000, wait=False).tx_hash

        # the attacker watches the mempool and decodes the victim's calldata
        pending = w3.provider.make_request("eth_getBlockByNumber", ["pending", True])["result"]["transactions"]
        (seen,) = [t for t in pending if t["hash"] == victim_tx]
        _, args = s.reg.certificates.decode_function_input(seen["input"])
        copied = [bytes(h) for h in args["certHashes"]]
        assert sorted(copied) == sorted(hashes)
        attacker_key = s.c.agency_keys["GD-AMR"]
        attacker_tree = build_tree(copied)
        attacker_sig = sign_batch(
            attacker_key,
            attacker_tree.root,
            type_id("BUSINESS_LICENSE"),
            agency_id("GD-AMR"),
            d.chain_id,
            d.certificate_registry,
        )
        submitter = Account.create()
        w3.provider.make_request("anvil_setBalance", [submitter.address, hex(10**20)])
        copy_fn = s.reg.certificates.functions.anchorBatch(
            agency_id("GD-AMR"), type_id("BUSINESS_LICENSE"), attacker_tree.cert_hashes, attacker_sig, []
        )
        tx = copy_fn.build_transaction(
            {"from": submitter.address, "gas": 2_000_000, "gasPrice": 10**9, "nonce": 0, "chainId": d.chain_id}
        )
        attacker_tx = "0x" + bytes(w3.eth.send_raw_transaction(submitter.sign_transaction(tx).raw_transaction)).hex()
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    victim_receipt, attacker_receipt = (
        w3.eth.get_transaction_receipt(victim_tx),
        w3.eth.get_transaction_receipt(attacker_tx),
    )
    assert victim_receipt["status"] == attacker_receipt["status"] == 1  # neither blocked the other
    assert victim_receipt["blockNumber"] == attacker_receipt["blockNumber"]
    assert attacker_receipt["transactionIndex"] < victim_receipt["transactionIndex"]  # the copy was mined first
    assert s.reg.batch("GD-PSB", tree.root).cert_type == "ID_CARD"

    doc = victim_docs[0]
    # the attacker "revokes" its copy of the victim's certificate, and tries the victim's own
    s.reg.set_certificate_status(attacker_key, "GD-AMR", _h(doc), Status.REVOKED, "FRAUD")
    s.reg.set_batch_status(attacker_key, "GD-AMR", tree.root, Status.REVOKED, "FRAUD")
    expect("NotAuthorized", s.reg.set_certificate_status, attacker_key, "GD-PSB", _h(doc), Status.REVOKED, "FRAUD")
    expect("NotAuthorized", s.reg.set_batch_status, attacker_key, "GD-PSB", tree.root, Status.REVOKED, "FRAUD")

    # what verifiers see
    assert s.verify_doc(doc, verifier_region=str(ZJ))["verdict"] == "VALID"
    assert s.verify_payload(full_payload(Certificate.from_json(doc)[0]))["verdict"] == "VALID"
    assert s.verify_payload(_compact(doc))["verdict"] == "INCOMPLETE"  # CLC2 names GD-PSB: the copy does not count
    assert s.by_hash(doc["hash"], agency="GD-PSB")["verdict"] == "INCOMPLETE"
    for body in (s.by_hash(doc["hash"]), s.verify_payload(_v1_compact(doc))):  # no agency named: never VALID
        assert body["verdict"] == "INVALID", failing(body)
        (check,) = [c for c in body["checks"] if c["name"] == "anchored"]
        assert check["code"] == "AMBIGUOUS_ISSUER" and check["params"]["agencies"] == ["GD-AMR", "GD-PSB"]
    # the attacker's copy is the attacker's: revoked, and as a business licence
    assert s.by_hash(doc["hash"], agency="GD-AMR")["verdict"] == "REVOKED"
    r = s.get(f"/v1/batches/{'0x' + tree.root.hex()}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "AMBIGUOUS_BATCH"
    assert s.get(f"/v1/batches/{'0x' + tree.root.hex()}", agency="GD-PSB").json()["status"] == "ACTIVE"
    assert s.get(f"/v1/certificates/{doc['hash']}/history").status_code == 409
    assert s.get(f"/v1/certificates/{doc['hash']}/history", agency="GD-PSB").json()["events"] == []

    # the real issuer's revocation is seen by everyone who asks about its certificate
    s.reg.set_certificate_status(victim_key, "GD-PSB", _h(doc), Status.REVOKED, "HOLDER_REQUEST")
    assert s.verify_doc(doc)["verdict"] == "REVOKED"
    assert s.verify_payload(_compact(doc))["verdict"] == "REVOKED"
    assert s.by_hash(doc["hash"], agency="GD-PSB")["verdict"] == "REVOKED"
    assert s.verify_doc(victim_docs[1])["verdict"] == "VALID"  # its batch-mates are untouched
    assert docs  # the first batch stays as it was
    assert s.verify_doc(docs[0])["verdict"] == "VALID"


def test_taking_the_exact_root_first_does_not_stop_the_issuer(stack: Stack) -> None:
    """The interloper anchors the exact root of the issuer's batch before the issuer does. The
    issuer's `issue` anchors its own batch anyway (no BatchAlreadyAnchored), and every document
    it writes verifies VALID."""
    s = stack
    rows = id_rows(3)
    out = s.directory / "issued"
    # learn the root the issuer will anchor by building its batch first (the interloper would
    # read it from the pending transaction, as in the test above)
    from ledger.issuance import IssueRequest, issue, schema_for

    rows_path = s.directory / "rows.jsonl"
    rows_path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    request = IssueRequest("GD-PSB", "ID_CARD", rows_path, out, bundle=True, valid_from="2020-01-01", workers=1)
    _crash_issue(s, rows_path, out, "journal-written")  # the journal holds the roots; nothing is anchored
    journal = json.loads((out / ".certledger" / "journal.json").read_text())
    root = bytes.fromhex(journal["batches"][0]["root"][2:])
    staged = [json.loads(line) for line in (out / ".certledger" / "batch-00000.jsonl").read_text().splitlines()]
    hashes = [_h(d) for d in staged]
    assert build_tree(hashes).root == root
    _anchor_copy(s, "GD-AMR", "BUSINESS_LICENSE", hashes)  # the same root, first
    key = s.c.agency_keys["GD-PSB"]
    result = issue(s.reg, key, s.c.deployer, request, schema_for(s.reg, "ID_CARD"))
    assert result.issued == 3 and result.anchored_now == 1
    assert s.reg.batch("GD-PSB", root).cert_type == "ID_CARD"
    for line in (out / "certificates.jsonl").read_text().splitlines():
        assert s.verify_doc(json.loads(line))["verdict"] == "VALID"


def _crash_issue(s: Stack, rows_path: Path, out: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    keystore = Keystore(s.home / "keys", "pw", 1024)
    if not keystore.exists("psb"):
        keystore.import_private_key("psb", s.c.agency_keys["GD-PSB"].key.hex())
    full_env = {
        **os.environ,
        "CERTLEDGER_HOME": str(s.home),
        "CERTLEDGER_RPC_URL": s.node.url,
        "CERTLEDGER_PASSWORD": "pw",
    }
    command = [sys.executable, str(Path(__file__).parent / "crash_issue.py"), crash_at] if crash_at else [CLI]
    proc = subprocess.run(
        [
            *command,
            "issue",
            str(rows_path),
            "--agency",
            "GD-PSB",
            "--type",
            "ID_CARD",
            "--out",
            str(out),
            "--bundle",
            "--valid-from",
            "2020-01-01",
            "--workers",
            "1",
            "--key",
            "psb",
        ],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc


def test_issue_rerun_fails_loudly_when_its_root_was_anchored_with_another_key_or_type(stack: Stack) -> None:
    """After a crash, the agency's batch root turns up on chain, but anchored by another of the
    agency's keys as another type: a re-run must not report the issuance done (its documents
    would be INVALID); it fails with one line and exit code 1."""
    s = stack
    rows_path = s.directory / "rows.jsonl"
    rows_path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in id_rows(3)) + "\n", encoding="utf-8")
    out = s.directory / "issued"
    crashed = _crash_issue(s, rows_path, out, "journal-written")
    assert crashed.returncode == -9, crashed.stderr
    staged = [json.loads(line) for line in (out / ".certledger" / "batch-00000.jsonl").read_text().splitlines()]
    other_key = Account.create()
    s.reg.add_key(s.c.admins[GD], "GD-PSB", other_key.address)
    s.reg.anchor_batch(s.c.deployer, other_key, "GD-PSB", "DRIVING_LICENCE", [_h(d) for d in staged])

    rerun = _crash_issue(s, rows_path, out)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    lines = rerun.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "DRIVING_LICENCE" in lines[0] and "would not verify" in lines[0]
    assert not (out / "manifest.json").exists()
    assert json.loads((out / ".certledger" / "journal.json").read_text())["complete"] is False


def test_after_a_key_compromise_the_agency_reanchors_and_hash_lookups_find_the_good_anchoring(stack: Stack) -> None:
    """GD-PSB's key is reported compromised since before its batch: the batch is void (INVALID).
    `certledger reanchor` anchors the same certificates with a new key and rewrites the
    documents; lookups by hash then find the sound anchoring, and the rewritten documents are
    VALID. A sound batch cannot be anchored again."""
    s = stack
    keystore = Keystore(s.home / "keys", "pw", 1024)
    old_key = s.c.agency_keys["GD-PSB"]
    keystore.import_private_key("psb-1", old_key.key.hex())
    new_address = keystore.create("psb-2")
    rows_path = s.directory / "rows.jsonl"
    rows_path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in id_rows(4)) + "\n", encoding="utf-8")
    out = s.directory / "issued"
    env = {**os.environ, "CERTLEDGER_HOME": str(s.home), "CERTLEDGER_RPC_URL": s.node.url, "CERTLEDGER_PASSWORD": "pw"}
    issued = subprocess.run(
        [
            CLI,
            "issue",
            str(rows_path),
            "--agency",
            "GD-PSB",
            "--type",
            "ID_CARD",
            "--out",
            str(out),
            "--qr",
            "--qr-payload",
            "full",
            "--valid-from",
            "2020-01-01",
            "--workers",
            "1",
            "--key",
            "psb-1",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert issued.returncode == 0, issued.stderr
    files = sorted((out / "certificates").glob("*.json"))
    doc = json.loads(files[0].read_text())
    root = bytes.fromhex(doc["anchor"]["root"][2:])
    assert s.verify_doc(doc)["verdict"] == "VALID"

    # a sound batch cannot be re-anchored, not even by the agency's new key
    s.reg.add_key(s.c.admins[GD], "GD-PSB", new_address)
    new_key = keystore.load("psb-2")
    expect(
        "BatchAlreadyAnchored",
        s.reg.anchor_batch,
        s.c.deployer,
        new_key,
        "GD-PSB",
        "ID_CARD",
        [_h(json.loads(f.read_text())) for f in files],
    )

    s.reg.report_compromised(s.c.admins[GD], old_key.address, s.reg.batch("GD-PSB", root).anchored_at - 60)
    for body in (s.verify_doc(doc), s.by_hash(doc["hash"], agency="GD-PSB")):
        assert body["verdict"] == "INVALID" and failing(body)[0] == ("key_valid", "KEY_COMPROMISED")

    done = subprocess.run(
        [CLI, "reanchor", str(out), "--key", "psb-2", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["reanchored"] == 1 and report["documents_rewritten"] == 4 and report["qr_codes_rewritten"] == 4
    assert s.reg.batch("GD-PSB", root).key == new_address
    assert s.reg.anchoring_void("GD-PSB", root) is Reason.NONE
    # the hash is found in its good anchoring; the old document (old signature) no longer matches it
    assert s.by_hash(doc["hash"], agency="GD-PSB")["verdict"] == "INCOMPLETE"
    old = s.verify_doc(doc)
    assert old["verdict"] == "INVALID" and failing(old)[0] == ("key_valid", "FORGED_SIGNATURE")
    rewritten = json.loads(files[0].read_text())
    assert rewritten["hash"] == doc["hash"] and rewritten["anchor"]["proof"] == doc["anchor"]["proof"]
    assert rewritten["anchor"]["key"] == new_address
    assert s.verify_doc(rewritten, verifier_region=str(ZJ))["verdict"] == "VALID"
    qr_png = out / "qr" / f"{files[0].stem}.png"
    r = httpx.post(s.url + "/v1/verify", files={"image": (qr_png.name, qr_png.read_bytes(), "image/png")}, timeout=30)
    assert r.json()["verdict"] == "VALID"
    # a second run has nothing left to do
    again = subprocess.run(
        [CLI, "reanchor", str(out), "--key", "psb-2", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and json.loads(again.stdout)["reanchored"] == 0


# ---------------------------------------------------------------------- 2. never VALID without its checks


def test_expired_certificate_is_not_valid_by_qr_or_hash(stack: Stack) -> None:
    s = stack
    (doc,) = s.issue("GD-PSB", "ID_CARD", id_rows(1), "expired", valid_until="2021-01-01")
    assert s.verify_doc(doc)["verdict"] == "EXPIRED"
    for body in (
        s.by_hash(doc["hash"], agency="GD-PSB"),
        s.verify_payload(_compact(doc)),
        s.verify_payload(_v1_compact(doc)),
    ):
        assert body["verdict"] == "INCOMPLETE", failing(body)
        skipped = {c["name"]: c["code"] for c in body["checks"] if c["outcome"] == "SKIPPED"}
        assert skipped["validity_period"] == "NO_DATES" and skipped["integrity"] == "NO_DOCUMENT"
    assert s.verify_payload(full_payload(Certificate.from_json(doc)[0]))["verdict"] == "EXPIRED"


# ---------------------------------------------------------------------- 3. compromise reports


def test_a_leaked_archived_key_cannot_void_what_it_signed(stack: Stack) -> None:
    s = stack
    key = s.c.agency_keys["GD-PSB"]
    (doc,) = s.issue("GD-PSB", "ID_CARD", id_rows(1), "old")
    s.chain.w3.provider.make_request("evm_increaseTime", [86_400])
    s.reg.rotate_key(s.c.admins[GD], key.address, Account.create().address)  # archived
    expect("NotAdminOfRegion", s.reg.report_compromised, key, key.address, 0)
    s.reg.report_own_compromise(key)  # "from now on": harmless to the past
    assert s.verify_doc(doc)["verdict"] == "VALID"
    assert s.by_hash(doc["hash"], agency="GD-PSB")["verdict"] == "INCOMPLETE"


# ---------------------------------------------------------------------- 4. removed regions, roles


def test_a_removed_regions_certificates_can_still_be_revoked_by_the_consortium(stack: Stack) -> None:
    s = stack
    docs = s.issue("BJ-PSB", "ID_CARD", id_rows(2), "bj")
    removal = s.reg.propose_remove_region(s.c.admins[GD], BJ)
    assert s.reg.approve(s.c.admins[ZJ], removal.id).executed
    # still recognised where a rule recognises it (the removal had no cut-off)
    assert s.verify_doc(docs[0], verifier_region=str(ZJ))["verdict"] == "VALID"
    proposal = s.reg.propose_status(s.c.admins[GD], "BJ-PSB", Status.REVOKED, "REGION_LEFT", cert_hash=_h(docs[0]))
    assert s.reg.approve(s.c.admins[ZJ], proposal.id).executed
    body = s.verify_doc(docs[0])
    assert body["verdict"] == "REVOKED"
    (status,) = [c for c in body["checks"] if c["name"] == "status"]
    assert status["params"]["role"] == "CONSORTIUM"
    events = s.get(f"/v1/certificates/{docs[0]['hash']}/history").json()["events"]
    assert [(e["status"], e["role"]) for e in events] == [("REVOKED", "CONSORTIUM")]
    assert s.verify_doc(docs[1])["verdict"] == "VALID"


def test_a_removal_cutoff_voids_the_regions_later_anchors_for_every_verifier(stack: Stack) -> None:
    s = stack
    early = s.issue("BJ-PSB", "ID_CARD", id_rows(1), "bj-early")
    s.chain.w3.provider.make_request("evm_increaseTime", [3600])
    s.chain.w3.provider.make_request("evm_mine", [])
    cutoff = int(s.chain.w3.eth.get_block("latest")["timestamp"])
    late = s.issue("BJ-PSB", "ID_CARD", id_rows(1), "bj-late")
    s.chain.w3.provider.make_request("evm_increaseTime", [60])
    removal = s.reg.propose_remove_region(s.c.admins[GD], BJ, cutoff)
    assert s.reg.approve(s.c.admins[ZJ], removal.id).executed
    assert s.verify_doc(early[0], verifier_region=str(ZJ))["verdict"] == "VALID"
    for body in (
        s.verify_doc(late[0], verifier_region=str(ZJ)),
        s.verify_doc(late[0]),
        s.by_hash(late[0]["hash"], agency="BJ-PSB"),
        s.post({"document": late[0]}, source="chain").json(),
    ):
        assert body["verdict"] == "INVALID", failing(body)
        assert failing(body)[0] == ("issuer_authorized", "REGION_REMOVED")
    regions = {r["region"]: r for r in s.get("/v1/regions").json()["regions"]}
    assert regions[BJ]["member"] is False and regions[BJ]["cutoff"] is not None


def test_an_agency_key_cannot_lift_its_region_admins_suspension(stack: Stack) -> None:
    s = stack
    (doc,) = s.issue("GD-PSB", "ID_CARD", id_rows(1), "held")
    s.reg.set_certificate_status(s.c.admins[GD], "GD-PSB", _h(doc), Status.SUSPENDED, "INVESTIGATION")
    expect(
        "SuspensionHeldByStrongerRole",
        s.reg.set_certificate_status,
        s.c.agency_keys["GD-PSB"],
        "GD-PSB",
        _h(doc),
        Status.ACTIVE,
        "CLEARED",
    )
    body = s.verify_doc(doc)
    assert body["verdict"] == "SUSPENDED"
    (status,) = [c for c in body["checks"] if c["name"] == "status"]
    assert status["params"]["role"] == "REGION_ADMIN" and status["params"]["reason"] == "INVESTIGATION"


def test_re_admitted_regions_agency_cannot_issue_until_enabled(stack: Stack) -> None:
    s = stack
    removal = s.reg.propose_remove_region(s.c.admins[GD], BJ)
    assert s.reg.approve(s.c.admins[ZJ], removal.id).executed
    new_admin = Account.create()
    s.reg.approve(s.c.admins[ZJ], s.reg.propose_add_region(s.c.admins[GD], BJ, new_admin.address).id)
    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="disabled"):
        s.issue("BJ-PSB", "ID_CARD", id_rows(1), "bj-again")
    agencies = {a["agency"]: a for a in s.get("/v1/agencies").json()}
    assert agencies["BJ-PSB"]["enabled"] is False and agencies["GD-PSB"]["enabled"] is True
    s.reg.reactivate_agency(new_admin, "BJ-PSB")
    s.reg.enable_key(new_admin, s.c.agency_keys["BJ-PSB"].address)
    (doc,) = s.issue("BJ-PSB", "ID_CARD", id_rows(1), "bj-enabled")
    assert s.verify_doc(doc)["verdict"] == "VALID"
    agencies = {a["agency"]: a for a in s.get("/v1/agencies").json()}
    assert agencies["BJ-PSB"]["enabled"] is True and agencies["BJ-PSB"]["keys"][0]["enabled"] is True


# ---------------------------------------------------------------------- 5. the API: holder edits, anonymous clients


def test_relabelled_hidden_fields_are_refused_and_hidden_fields_are_never_facts(stack: Stack) -> None:
    """A holder hides a field and relabels it: hidden entries are only hashes, so their names
    are not bound. A name that is not a field of the type is refused; a genuine one is listed
    as hidden, never with a value."""
    s = stack
    (doc,) = s.issue("GD-PSB", "ID_CARD", id_rows(1), "holder")
    disclosed = Certificate.from_json(doc)[0].disclose(["name"]).to_json()
    ok = s.verify_doc(disclosed)
    assert ok["verdict"] == "VALID"
    assert set(ok["disclosed_fields"]) == {"name"} and "idNumber" in ok["hidden_fields"]
    assert "idNumber" not in ok["disclosed_fields"]
    forged = copy.deepcopy(disclosed)
    forged["hidden"]["nationality"] = forged["hidden"].pop("idNumber")  # not a field of ID_CARD
    bad = s.verify_doc(forged)
    assert bad["verdict"] == "INVALID" and failing(bad)[0] == ("integrity", "UNKNOWN_FIELD_NAME")
    assert bad["checks"][0]["params"] == {"field": "nationality", "type": "ID_CARD"}
    forged["hidden"]["管理员 批准"] = forged["hidden"].pop("nationality")  # not even a field name
    r = s.post({"document": forged})
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_DOCUMENT"


def test_batch_status_comes_from_batch_wide_changes_only(stack: Stack) -> None:
    """The attack: an agency revokes the certificate hash 0x00…00 (a status may be set for a
    hash never anchored); GET /v1/batches/{root} computed the batch status from it."""
    s = stack
    (doc,) = s.issue("GD-PSB", "ID_CARD", id_rows(1), "batch")
    s.reg.set_certificate_status(s.c.agency_keys["GD-PSB"], "GD-PSB", bytes(32), Status.REVOKED, "TRICK")
    body = s.get(f"/v1/batches/{doc['anchor']['root']}").json()
    assert body["status"] == "ACTIVE" and body["status_changed"] is None
    s.reg.set_batch_status(
        s.c.admins[GD], "GD-PSB", bytes.fromhex(doc["anchor"]["root"][2:]), Status.SUSPENDED, "AUDIT"
    )
    body = s.get(f"/v1/batches/{doc['anchor']['root']}").json()
    assert body["status"] == "SUSPENDED" and body["status_changed"]["role"] == "REGION_ADMIN"


def test_node_credentials_are_never_shown_to_anonymous_clients(tmp_path: Path) -> None:
    """The node URL, with credentials and an API key, must not appear in /healthz or in any
    error text; a verification during the outage is ERROR."""

    from api.app import ApiSettings, create_app

    node = start_anvil(tmp_path)
    try:
        c = _deploy(Chain(node.url))
        home = tmp_path / "home"
        c.deployment.save(home / "deployment.json")
        db = f"sqlite:///{tmp_path}/mirror.db"
        store = MirrorStore(db)
        store.open(c.deployment)
        Indexer(node.url, c.deployment, store).catch_up()
    finally:
        node.stop()
    secret_url = f"http://admin:s3cr3t-pw@127.0.0.1:{free_port()}/rpc?apikey=KEY-123456"
    app = create_app(ApiSettings(home=home, rpc_url=secret_url, db_url=db))
    with checked_client(app) as client:
        texts = [client.get("/healthz").text]
        texts.append(
            client.post(
                "/v1/verify",
                params={"source": "chain"},
                json={"payload": compact_payload(bytes(32), "ID_CARD", GD, "GD-PSB")},
            ).text
        )
        texts.append(client.get(f"/v1/certificates/0x{'ab' * 32}").text)
        for text in texts:
            assert "s3cr3t" not in text and "KEY-123456" not in text and "admin:" not in text, text
        assert "127.0.0.1" in texts[0]  # the host is still named, for operators
    # the CLI's one-line errors too
    env = {**os.environ, "CERTLEDGER_HOME": str(home), "CERTLEDGER_RPC_URL": secret_url}
    out = subprocess.run([CLI, "agency", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "s3cr3t" not in out.stderr and "KEY-123456" not in out.stderr


def test_qr_image_decoding_never_stalls_other_requests(stack: Stack) -> None:
    """Three uploads of a compressible PNG at the pixel limit are decoded off the event loop:
    a request for something else, sent once they are under way, is answered before any of them."""
    s = stack
    import io

    img = Image.new("L", (4000, 4000), 255)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    png = buf.getvalue()
    done: list[str] = []
    lock = threading.Lock()

    class Body(io.BytesIO):
        """An upload's file; ``sent`` is set once the client has read (and so sent) all of it."""

        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.sent = threading.Event()

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            if not chunk:
                self.sent.set()
            return chunk

    bodies = [Body(png) for _ in range(3)]

    def upload(i: int) -> None:
        httpx.post(s.url + "/v1/verify", files={"image": ("big.png", bodies[i], "image/png")}, timeout=60)
        with lock:
            done.append(f"upload-{i}")

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: all(b.sent.is_set() for b in bodies), timeout=60, what="the three uploads sent in full")
    r = httpx.get(s.url + "/v1/types", timeout=60)
    with lock:
        done.append("get")
    for t in threads:
        t.join()
    assert r.status_code == 200
    assert done.index("get") < min(done.index(f"upload-{i}") for i in range(3)), done


# ---------------------------------------------------------------------- 6. the view and the engine agree


def test_verify_view_and_engine_agree_on_the_new_cases(stack: Stack) -> None:
    """A table over the cases this work added, on both sources: the engine's verdict and the
    contracts' own view (OK where the engine needs the document's dates to say VALID)."""
    s = stack
    reg = s.reg
    docs = {
        name: s.issue(agency, t, rows, name)
        for name, agency, t, rows in (
            ("plain", "GD-PSB", "ID_CARD", id_rows(1)),
            ("admin_held", "GD-PSB", "ID_CARD", id_rows(1)),
            ("consortium_revoked", "GD-PSB", "ID_CARD", id_rows(1)),
            ("batch_consortium", "GD-AMR", "BUSINESS_LICENSE", biz_rows(1)),
            ("bj_early", "BJ-PSB", "ID_CARD", id_rows(1)),
        )
    }
    reg.set_certificate_status(s.c.admins[GD], "GD-PSB", _h(docs["admin_held"][0]), Status.SUSPENDED, "HOLD")
    p = reg.propose_status(
        s.c.admins[ZJ], "GD-PSB", Status.REVOKED, "RULING", cert_hash=_h(docs["consortium_revoked"][0])
    )
    reg.approve(s.c.admins[BJ], p.id)
    root = bytes.fromhex(docs["batch_consortium"][0]["anchor"]["root"][2:])
    p = reg.propose_status(s.c.admins[ZJ], "GD-AMR", Status.SUSPENDED, "RULING", batch_root=root)
    reg.approve(s.c.admins[BJ], p.id)
    s.chain.w3.provider.make_request("evm_increaseTime", [600])
    s.chain.w3.provider.make_request("evm_mine", [])
    cutoff = int(s.chain.w3.eth.get_block("latest")["timestamp"])
    docs["bj_late"] = s.issue("BJ-PSB", "ID_CARD", id_rows(1), "bj_late")
    s.chain.w3.provider.make_request("evm_increaseTime", [60])
    removal = reg.propose_remove_region(s.c.admins[GD], BJ, cutoff)
    reg.approve(s.c.admins[ZJ], removal.id)
    other_agency = copy.deepcopy(docs["plain"][0])
    other_agency["issuer"]["agency"] = "GD-AMR"  # claims another agency: its batch is not GD-AMR's
    cases = {
        "plain": (docs["plain"][0], "VALID", Verdict.OK),
        "admin_held": (docs["admin_held"][0], "SUSPENDED", Verdict.SUSPENDED),
        "consortium_revoked": (docs["consortium_revoked"][0], "REVOKED", Verdict.REVOKED),
        "batch_consortium": (docs["batch_consortium"][0], "SUSPENDED", Verdict.SUSPENDED),
        "bj_early_after_removal": (docs["bj_early"][0], "VALID", Verdict.OK),
        "bj_late_after_cutoff": (docs["bj_late"][0], "INVALID", Verdict.INVALID),
        "claims_other_agency": (other_agency, "INVALID", Verdict.UNKNOWN),
    }
    s.sync()
    mirror = Verifier(
        MirrorSource(__import__("ledger.mirror", fromlist=["MirrorQueries"]).MirrorQueries(s.store)), s.c.deployment
    )
    chain = Verifier(ChainSource(reg), s.c.deployment)
    for name, (doc, engine, view) in cases.items():
        cert, stated = Certificate.from_json(doc)
        a = mirror.verify_document(cert, stated)
        b = chain.verify_document(cert, stated)
        assert a.verdict == b.verdict, (name, failing(a), failing(b))
        # the engine names the hash mismatch of an edited agency first (INVALID); the view,
        # which sees only (agency, hash, root, proof), does not find the batch (UNKNOWN)
        assert a.verdict == engine, (name, failing(a))
        got = reg.verify_onchain(cert.agency, cert.compute_hash(), cert.anchor.root, cert.anchor.proof, 0)
        assert got[0] is view, (name, got)
