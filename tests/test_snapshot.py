"""Trust snapshots and verification with no node and no mirror: a snapshot of a real mirror
(SQLite and PostgreSQL, both suites), signed by a quorum of region admins, answers every check
as the mirror does; one too old answers ERROR; a forged, under-signed or altered one, or one of
another deployment, is refused; nothing personal is in it. And from the command line, with the
node stopped."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    Mirror,
    failing,
    id_rows,
    issue_rows,
    new_deployment,
    open_mirror,
    start_anvil,
    unanchored_document,
)
from eth_account import Account
from helpers import ROOT, Consortium, FakeClock, free_port
from test_cli import PASSWORD, Cli

from ledger.chain import Chain
from ledger.contracts import Status
from ledger.document import Certificate
from ledger.errors import ContractRejected
from ledger.presentation import HolderKey, key_hash
from ledger.samples import write_id_cards
from ledger.snapshot import DATABASE, MANIFEST, SIGNATURES, Snapshot, SnapshotError, Trust, create
from ledger.verification import MirrorSource, Verifier


@dataclass
class World:
    c: Consortium
    mirror: Mirror
    docs: list[dict[str, Any]]
    holder: HolderKey
    folder: Path

    def cert(self, i: int) -> tuple[Any, Any]:
        return Certificate.from_json(self.docs[i])

    def trust(self) -> Trust:
        return Trust.of_mirror(self.mirror.queries, self.c.deployment, self.mirror.queries.head().block)

    def snapshot(self, *signers: int) -> Snapshot:
        self.mirror.sync()
        path = self.folder / f"snap-{len(list(self.folder.glob('snap-*')))}.zip"
        create(self.mirror.store, self.c.deployment, path)
        snap = Snapshot.read(path)
        for region in signers:
            snap.sign(self.c.admins[region])
        return snap

    def mirror_verifier(self) -> Verifier:
        return Verifier(MirrorSource(self.mirror.queries, max_staleness_seconds=3600), self.c.deployment)


@pytest.fixture(params=["intl-sqlite", "sm-postgresql"])
def world(request: pytest.FixtureRequest, chain: Chain, tmp_path: Path) -> Iterator[World]:
    suite, kind = request.param.split("-")
    c = new_deployment(chain, types=("ID_CARD",), suite=suite)
    docs = issue_rows(c, "GD-PSB", "ID_CARD", id_rows(6), tmp_path / "issued")
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    pg = None
    if kind == "postgresql":
        from api_helpers import PgDatabase
        from helpers import require_postgres

        require_postgres()
        pg = PgDatabase()
        url = pg.url
    mirror = open_mirror(kind, url, chain.url, c.deployment)
    holder = HolderKey()
    c.registry.bind_holders(
        c.agency_keys["GD-PSB"], "GD-PSB", [(bytes.fromhex(docs[0]["hash"][2:]), key_hash(holder.public_key))]
    )
    reg, key = c.registry, c.agency_keys["GD-PSB"]
    reg.set_certificate_status(key, "GD-PSB", bytes.fromhex(docs[1]["hash"][2:]), Status.REVOKED, "HOLDER_REQUEST")
    reg.set_certificate_status(key, "GD-PSB", bytes.fromhex(docs[2]["hash"][2:]), Status.SUSPENDED, "UNDER_REVIEW")
    mirror.sync()
    (tmp_path / "snaps").mkdir()
    try:
        yield World(c, mirror, docs, holder, tmp_path / "snaps")
    finally:
        mirror.store.dispose()
        if pg is not None:
            pg.drop()


def offline(world: World, snap: Snapshot, tmp_path: Path, clock: Any = time.time, max_age: float = 86400) -> Verifier:
    opened = snap.open(world.trust(), tmp_path / "cache")
    return Verifier(opened.source(max_age=max_age, clock=clock), opened.deployment, clock=clock)


def verdicts(result: Any) -> tuple[str, list[tuple[str, str, str]]]:
    return result.verdict.value, [(c.name, c.outcome.value, c.code) for c in result.checks]


def test_a_snapshot_signed_by_a_quorum_answers_as_the_mirror_does(world: World, tmp_path: Path) -> None:
    snap = world.snapshot(440000, 330000)  # 2 of the 3 founding regions: the quorum
    assert snap.manifest.counts["certificates"] == 6 and snap.manifest.counts["revoked"] == 1
    assert snap.manifest.counts["suspended"] == 1 and snap.manifest.counts["holder_bindings"] == 1
    verifier, online = offline(world, snap, tmp_path), world.mirror_verifier()
    for i in range(6):
        r = verifier.verify_document(*world.cert(i), verifier_region=330000)
        assert verdicts(r) == verdicts(online.verify_document(*world.cert(i), verifier_region=330000))
        assert r.source["kind"] == "snapshot" and r.source["block"] == snap.manifest.block
        assert 0 <= r.source["age_seconds"] < 600
    assert [verifier.verify_document(*world.cert(i)).verdict.value for i in range(3)] == [
        "VALID",
        "REVOKED",
        "SUSPENDED",
    ]
    # a presentation: the holder's binding and the hash's batch come from the snapshot too
    cert = world.cert(0)[0]
    r = verifier.verify_payload(world.holder.present(cert, ["name"], purpose="BANKING"), verifier_region=330000)
    assert r.verdict == "VALID" and r.disclosed_fields == {"name": world.docs[0]["fields"]["name"]}
    r = verifier.verify_payload(HolderKey().present(cert, ["name"], purpose="BANKING"))
    assert failing(r)[0] == ("holder", "HOLDER_KEY_MISMATCH")
    # a certificate no one anchored
    stray = unanchored_document(world.c)
    assert failing(verifier.verify_document(*Certificate.from_json(stray)))[0] == ("anchored", "NOT_ANCHORED")


def test_what_happened_after_the_snapshot_is_not_in_it(world: World, tmp_path: Path) -> None:
    snap = world.snapshot(440000, 330000)
    world.c.registry.set_certificate_status(
        world.c.agency_keys["GD-PSB"],
        "GD-PSB",
        bytes.fromhex(world.docs[3]["hash"][2:]),
        Status.REVOKED,
        "HOLDER_REQUEST",
    )
    assert offline(world, snap, tmp_path).verify_document(*world.cert(3)).verdict == "VALID"
    newer = world.snapshot(440000, 110000)
    assert newer.manifest.block > snap.manifest.block
    assert offline(world, newer, tmp_path).verify_document(*world.cert(3)).verdict == "REVOKED"


def test_a_snapshot_past_its_age_answers_error_never_valid(world: World, tmp_path: Path) -> None:
    snap = world.snapshot(440000, 330000)
    clock = FakeClock(snap.manifest.block_time + 3600)
    assert offline(world, snap, tmp_path, clock, max_age=7200).verify_document(*world.cert(0)).verdict == "VALID"
    clock.advance(3601)
    r = offline(world, snap, tmp_path, clock, max_age=7200).verify_document(*world.cert(0))
    assert r.verdict == "ERROR"
    assert "the trust snapshot is 2 h old" in r.source["error"] and "fetch a newer snapshot" in r.source["error"]
    # the revoked one is ERROR too, not REVOKED: a stale snapshot answers nothing about status
    assert offline(world, snap, tmp_path, clock, max_age=7200).verify_document(*world.cert(1)).verdict == "ERROR"


def test_too_few_or_forged_signatures_are_refused(world: World, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="admins of 0 of the 2 member regions"):
        world.snapshot().open(world.trust(), tmp_path)
    with pytest.raises(SnapshotError, match=r"admins of 1 of the 2 member regions needed signed it \(regions: 440000"):
        world.snapshot(440000).open(world.trust(), tmp_path)
    snap = world.snapshot(440000)
    snap.sign(world.c.admins[440000])  # the same region twice counts once
    snap.sign(Account.create())  # an agency key, or anyone's: not a region admin
    snap.sign(world.c.agency_keys["GD-PSB"])
    with pytest.raises(SnapshotError, match="1 of the 2"):
        Snapshot.read(snap.path).open(world.trust(), tmp_path)
    # a signature copied from a snapshot of another block counts for nothing
    world.c.registry.set_certificate_status(
        world.c.agency_keys["GD-PSB"],
        "GD-PSB",
        bytes.fromhex(world.docs[5]["hash"][2:]),
        Status.SUSPENDED,
        "UNDER_REVIEW",
    )
    other = world.snapshot(330000)
    assert other.manifest.block > snap.manifest.block
    raw = json.loads(zipfile.ZipFile(other.path).read(SIGNATURES))
    snap.signatures.append(
        type(snap.signatures[0])(raw[0]["signer"], bytes.fromhex(raw[0]["signature"].removeprefix("0x")))
    )
    with pytest.raises(SnapshotError, match="1 of the 2"):
        snap.open(world.trust(), tmp_path)


def _rewrite(path: Path, out: Path, member: str, change: Any) -> None:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, change(data) if info.filename == member else data)


def test_an_altered_snapshot_is_refused(world: World, tmp_path: Path) -> None:
    snap = world.snapshot(440000, 330000)
    # the database: a revocation deleted (what a holder of a revoked certificate would want)
    work = tmp_path / "work.sqlite"
    with zipfile.ZipFile(snap.path) as z:
        work.write_bytes(z.read(DATABASE))
    db = sqlite3.connect(work)
    db.execute("DELETE FROM status_events")
    db.commit()
    db.close()
    _rewrite(snap.path, tmp_path / "db.zip", DATABASE, lambda _: work.read_bytes())
    with pytest.raises(SnapshotError, match="does not match its signed manifest"):
        Snapshot.read(tmp_path / "db.zip").open(world.trust(), tmp_path / "cache")

    # the manifest, with the database digest to match: the signatures no longer fit
    def digest_of_work(data: bytes) -> bytes:
        m = json.loads(data)
        m["database_digest"] = "0x" + snap.manifest.database_digest.hex()[::-1]
        return json.dumps(m).encode()

    _rewrite(snap.path, tmp_path / "manifest.zip", MANIFEST, digest_of_work)
    with pytest.raises(SnapshotError, match="not signed by the consortium"):
        Snapshot.read(tmp_path / "manifest.zip").open(world.trust(), tmp_path / "cache")
    # not a snapshot at all
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 nothing")
    with pytest.raises(SnapshotError, match="is not a trust snapshot"):
        Snapshot.read(tmp_path / "junk.zip")
    # the extracted copy altered after a first, good opening: refused, then extracted again
    opened = snap.open(world.trust(), tmp_path / "cache")
    opened.db_path.chmod(0o644)
    with opened.db_path.open("r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    with pytest.raises(SnapshotError, match="cached snapshot database was altered"):
        snap.open(world.trust(), tmp_path / "cache")
    assert snap.open(world.trust(), tmp_path / "cache").snapshot is snap


def test_a_snapshot_of_another_deployment_is_refused(world: World, chain: Chain, tmp_path: Path) -> None:
    other = new_deployment(chain, types=("ID_CARD",), suite=world.c.suite)
    pinned = Trust.of_mirror(world.mirror.queries, other.deployment, 0)  # same admins, other contracts
    with pytest.raises(SnapshotError, match="of another deployment"):
        world.snapshot(440000, 330000).open(pinned, tmp_path)


def test_nothing_personal_no_receipts_no_identifier_tags(world: World, tmp_path: Path) -> None:
    snap = world.snapshot(440000, 330000)
    blob = snap.path.read_bytes()
    for doc in world.docs:
        for value in doc["fields"].values():  # names, ID numbers, addresses, dates (not "M"/"F")
            if len(value.encode()) >= 4:
                assert value.encode() not in blob, value
    db = sqlite3.connect(snap.open(world.trust(), tmp_path).db_path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "certificates" in tables and "status_events" in tables
    assert not tables & {"identifier_tags", "receipts", "receipt_batches"}
    assert db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0] == 1


# ---------------------------------------------------------------------- from the command line


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[Any]:
    """A node of this test's own: its block times follow the clock (the session's node may have
    been moved ahead by tests that warp time, and a snapshot's age is its block's time)."""
    node = start_anvil(tmp_path)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_anvil: Any) -> Cli:
    monkeypatch.setenv("CERTLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", own_anvil.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT", "CERTLEDGER_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    return Cli(capsys, tmp_path / "home")


def test_offline_from_the_command_line_with_the_node_stopped(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("deploy")
    proposal = cli.ok(
        "type", "add", "ID_CARD", "--schema", str(ROOT / "ledger/certtypes/ID_CARD.json"), "--key", "admin-440000"
    )
    cli.ok("region", "approve", str(proposal["proposal"]), "--key", "admin-330000")
    cli.ok("agency", "add", "GD-PSB", "--region", "440000", "--types", "ID_CARD")
    cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    out = tmp_path / "issued"
    cli.ok(
        "issue",
        str(write_id_cards(tmp_path / "rows.csv", 3)),
        "--agency",
        "GD-PSB",
        "--type",
        "ID_CARD",
        "--out",
        str(out),
    )
    docs = sorted((out / "certificates").glob("*.json"))
    cli.ok("revoke", str(docs[1]), "--reason", "HOLDER_REQUEST")
    cli.ok("index", "--once")
    assert "no pinned consortium" in cli.fails("verify", str(docs[0]), "--offline", str(tmp_path / "none.zip"))
    pinned = cli.ok("snapshot", "trust")
    assert pinned["quorum"] == 2 and sorted(pinned["admins"]) == ["110000", "330000", "440000"]
    snap = tmp_path / "trust.zip"
    made = cli.ok("snapshot", "create", "-o", str(snap), "--sign", "admin-440000")
    assert made["counts"]["certificates"] == 3 and made["counts"]["revoked"] == 1 and len(made["signers"]) == 1
    shown = cli.ok("snapshot", "show", str(snap))
    assert "1 of the 2 member regions" in shown["not_trusted"]
    line = cli.fails("verify", str(docs[0]), "--offline", str(snap))
    assert "not signed by the consortium" in line
    store = str(tmp_path / "content")
    assert "not signed by the consortium" in cli.fails("snapshot", "publish", str(snap), "--key", "admin-440000")
    cli.ok("snapshot", "sign", str(snap), "--key", "admin-110000")
    assert cli.ok("snapshot", "show", str(snap))["trusted_by_regions"] == [110000, 440000]
    # published: stored by CID, anchored on chain; a counter fetches the latest one anchored
    published = cli.ok("snapshot", "publish", str(snap), "--key", "admin-440000", "--store", store)
    assert published["signed_by_regions"] == [110000, 440000] and published["cid"].startswith(("bafk", "bafy"))
    fetched = cli.ok("snapshot", "fetch", "-o", str(tmp_path / "fetched.zip"), "--store", store)
    assert fetched["cid"] == published["cid"] and fetched["digest"] == published["digest"]
    assert (tmp_path / "fetched.zip").read_bytes() == snap.read_bytes()
    absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    line = cli.fails("snapshot", "fetch", absent, "-o", str(tmp_path / "x.zip"), "--store", store)
    assert "is not in the content store" in line and not (tmp_path / "x.zip").exists()
    # content that is no snapshot, under its own (correct) CID: refused, nothing written
    from ledger.content import EmbeddedStore

    junk = EmbeddedStore(store).add(b"not a snapshot at all")
    line = cli.fails("snapshot", "fetch", str(junk), "-o", str(tmp_path / "y.zip"), "--store", store)
    assert "not a trust snapshot" in line and not (tmp_path / "y.zip").exists()

    # the node goes away (an address nothing answers on), and there is no mirror
    monkeypatch.setenv("CERTLEDGER_RPC_URL", f"http://127.0.0.1:{free_port()}")
    (cli.home / "mirror.db").unlink()
    code, stdout, _ = cli("verify", str(docs[0]), "--offline", str(snap), "--json")
    result = json.loads(stdout)
    assert code == 0 and result["verdict"] == "VALID" and result["source"]["kind"] == "snapshot"
    code, stdout, _ = cli("verify", str(docs[1]), "--offline", str(snap), "--json")
    assert code == 3 and json.loads(stdout)["verdict"] == "REVOKED"
    time.sleep(2)
    code, stdout, _ = cli("verify", str(docs[0]), "--offline", str(snap), "--max-age", "1s", "--json")
    result = json.loads(stdout)
    assert code == 3 and result["verdict"] == "ERROR" and "fetch a newer snapshot" in result["source"]["error"]
    assert "not an age" in cli.fails("verify", str(docs[0]), "--offline", str(snap), "--max-age", "soon")
    # a forged snapshot: signed by keys that are no region's admins
    forged = tmp_path / "forged.zip"
    shutil.copy(snap, forged)
    with zipfile.ZipFile(forged) as z:
        members = {n: z.read(n) for n in z.namelist()}
    fake = [Account.create(), Account.create()]
    digest = Snapshot.read(snap).manifest.digest()
    members[SIGNATURES] = json.dumps(
        [{"signer": a.address, "signature": "0x" + bytes(a.unsafe_sign_hash(digest).signature).hex()} for a in fake]
    ).encode()
    with zipfile.ZipFile(forged, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert "not signed by the consortium" in cli.fails("verify", str(docs[0]), "--offline", str(forged))


def test_only_a_member_regions_admin_anchors_a_snapshot(consortium: Consortium) -> None:
    reg = consortium.registry
    head = reg.chain.w3.eth.block_number
    digest = bytes(range(32))
    sent = reg.anchor_snapshot(consortium.admins[330000], head, digest, "bafkreitest")
    (anchor,) = reg.snapshot_anchors()
    assert (anchor.region, anchor.height, anchor.digest, anchor.cid) == (330000, head, digest, "bafkreitest")
    assert anchor.block == sent.block_number
    outsider = Account.create()
    for who, args, error in (
        (outsider, (head, digest, "bafkreitest"), "NotRegionAdmin"),
        (consortium.admins[440000], (head, bytes(32), "bafkreitest"), "InvalidSnapshot"),
        (consortium.admins[440000], (head, digest, ""), "InvalidSnapshot"),
        (consortium.admins[440000], (head + 1000, digest, "bafkreitest"), "InvalidSnapshot"),
    ):
        with pytest.raises(ContractRejected) as rejected:
            reg.anchor_snapshot(who, *args)
        assert rejected.value.error_name == error
    assert len(reg.snapshot_anchors()) == 1
