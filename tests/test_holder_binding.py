"""Holder bindings (docs/presentations.md §2): an agency binds a citizen's device key (ECDSA
P-256) to one of its certificates on chain; the mirror keeps the bindings on SQLite and
PostgreSQL; both verification sources answer the same; ``certledger bind`` reads the wallets'
requests, refuses a malformed one before sending anything, and binds in as few transactions as
fit.

Who may bind: an enabled key of the certificate's agency or an admin of its region. Another
agency's key (of the same region or another), another region's admin, a retired or
compromised key, the key of a suspended agency and any stranger are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from api_helpers import save_deployment
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import Consortium, FakeClock, chain_now, dead_url, expect
from mirror_helpers import assert_same_mirror, index_to_head, open_store, rebuild_dump, settled

from cli import main
from ledger.chain import Chain
from ledger.contracts import Role
from ledger.errors import InvalidInput
from ledger.ids import agency_id, text_of
from ledger.keystore import Keystore
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries
from ledger.mirror import queries as mirror_queries
from ledger.mirror import schema as mirror_schema
from ledger.presentation import is_holder_key
from ledger.registry import Registry
from ledger.registry.certificates import BIND_GAS_PER_HOLDER, UNBOUND
from ledger.verification.sources import ChainSource, MirrorSource, SourceUnavailable

GD, ZJ = 440000, 330000
PASSWORD = "test-password"

# ---------------------------------------------------------------------- device keys
# Wallets make P-256 key pairs with WebCrypto and export the public key as the uncompressed
# point. The tests make points by hand (no crypto library needed): k * G on the curve.

P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
P256_2G = (  # NIST's point-multiplication test vector for k = 2
    0x7CF27B188D034F7E8A52380304B51AC3C08969E277F21B35A60B48FC47669978,
    0x07775510DB8ED040293D9AC69F7430DBBA7DADE63CE982299E04B79D227873D1,
)


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None or b is None:
        return a or b
    if a[0] == b[0] and (a[1] + b[1]) % P256_P == 0:
        return None
    if a == b:
        slope = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, P256_P)
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P256_P)
    x = (slope * slope - a[0] - b[0]) % P256_P
    return x, (slope * (a[0] - x) - a[1]) % P256_P


def _multiply(k: int) -> tuple[int, int]:
    out, addend = None, P256_G
    for bit in bin(k)[:1:-1]:  # least significant first
        if bit == "1":
            out = _add(out, addend)
        addend = _add(addend, addend)  # 2^i G: never the point at infinity (the order is prime)
    assert out is not None
    return out


def device_key(k: int | None = None) -> bytes:
    """A device's public key as a wallet exports it: 0x04 || x || y of k * G (k random by default)."""
    x, y = _multiply(k if k is not None else int.from_bytes(os.urandom(32), "big") % (P256_P - 1) + 1)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def key_hash(point: bytes) -> bytes:
    return hashlib.sha256(point).digest()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def request(cert_hash: bytes, point: bytes) -> dict[str, str]:
    """A binding request as a wallet exports it."""
    return {"certificate": "0x" + cert_hash.hex(), "holderKey": b64url(point)}


@pytest.mark.unit
def test_the_tests_device_keys_are_points_of_p256() -> None:
    assert _multiply(1) == P256_G and _multiply(2) == P256_2G
    for k in (1, 2, 3, 2**200 + 7):
        assert is_holder_key(device_key(k))
    point = device_key(5)
    assert not is_holder_key(point[:33] + (int.from_bytes(point[33:], "big") ^ 1).to_bytes(32, "big"))  # y off by one
    assert not is_holder_key(b"\x02" + point[1:])  # not uncompressed
    assert not is_holder_key(point[:64])


# ---------------------------------------------------------------------- the contract


def bound_logs(c: Consortium) -> list[Any]:
    logs = c.registry.certificates.events.HolderBound().get_logs(from_block=c.deployment.deployment_block)
    return sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"]))


def _event(log: Any) -> tuple[str, bytes, bytes, str, Role]:
    a = log["args"]
    return text_of(a["agency"]), bytes(a["certHash"]), bytes(a["keyHash"]), a["by"], Role(a["role"])


def test_the_agencys_key_binds_holders_and_the_chain_records_them(issuing: Consortium) -> None:
    reg, psb_key = issuing.registry, issuing.agency_keys["GD-PSB"]
    certs = [os.urandom(32) for _ in range(3)]
    points = [device_key() for _ in certs]
    sent = reg.bind_holders(psb_key, "GD-PSB", [(h, key_hash(p)) for h, p in zip(certs, points, strict=True)])
    for h, p in zip(certs, points, strict=True):
        assert reg.holder_key("GD-PSB", h) == key_hash(p)
    assert reg.holder_key("GD-PSB", os.urandom(32)) is None  # never bound
    assert reg.holder_key("GD-AMR", certs[0]) is None  # bindings are per agency
    assert [_event(lg) for lg in bound_logs(issuing)] == [
        ("GD-PSB", h, key_hash(p), psb_key.address, Role.AGENCY_KEY) for h, p in zip(certs, points, strict=True)
    ]
    assert {lg["transactionHash"].hex().removeprefix("0x") for lg in bound_logs(issuing)} == {
        sent.tx_hash.removeprefix("0x")
    }


def test_a_region_admin_binds_for_an_agency_of_its_region(issuing: Consortium) -> None:
    reg, admin = issuing.registry, issuing.admins[GD]
    h, point = os.urandom(32), device_key()
    reg.bind_holders(admin, "GD-PSB", [(h, key_hash(point))])
    assert reg.holder_key("GD-PSB", h) == key_hash(point)
    assert [_event(lg) for lg in bound_logs(issuing)] == [
        ("GD-PSB", h, key_hash(point), admin.address, Role.REGION_ADMIN)
    ]


def test_a_rebinding_replaces_the_key_and_an_unbinding_clears_it(issuing: Consortium) -> None:
    reg, psb_key = issuing.registry, issuing.agency_keys["GD-PSB"]
    h, other = os.urandom(32), os.urandom(32)
    old, new = device_key(), device_key()
    reg.bind_holders(psb_key, "GD-PSB", [(h, key_hash(old)), (other, key_hash(old))])
    reg.bind_holders(psb_key, "GD-PSB", [(h, key_hash(new))])  # a new phone
    assert reg.holder_key("GD-PSB", h) == key_hash(new)
    assert reg.holder_key("GD-PSB", other) == key_hash(old)
    reg.bind_holders(issuing.admins[GD], "GD-PSB", [(h, UNBOUND)])
    assert reg.holder_key("GD-PSB", h) is None
    assert reg.holder_key("GD-PSB", other) == key_hash(old)
    history = [(lg_h, k) for _, lg_h, k, _, _ in map(_event, bound_logs(issuing)) if lg_h == h]
    assert history == [(h, key_hash(old)), (h, key_hash(new)), (h, UNBOUND)]  # the events keep the history


def _refused(c: Consortium, actor: LocalAccount, agency: str = "GD-PSB") -> None:
    reg = c.registry
    h = os.urandom(32)
    err = expect("NotAuthorized", reg.bind_holders, actor, agency, [(h, key_hash(device_key()))])
    assert err == {"account": actor.address, "agency": agency}
    assert reg.holder_key(agency, h) is None


@pytest.mark.parametrize("who", ["GD-AMR", "ZJ-EDU"])
def test_another_agencys_key_cannot_bind_for_this_agency(issuing: Consortium, who: str) -> None:
    """The attack: an agency of the consortium (of the same region or another) binds its own
    device key to another agency's certificate, to present it as the holder."""
    reg = issuing.registry
    h = os.urandom(32)
    victim_key = device_key()
    reg.bind_holders(issuing.agency_keys["GD-PSB"], "GD-PSB", [(h, key_hash(victim_key))])
    attacker = issuing.agency_keys[who]
    err = expect("NotAuthorized", reg.bind_holders, attacker, "GD-PSB", [(h, key_hash(device_key()))])
    assert err == {"account": attacker.address, "agency": "GD-PSB"}
    expect("NotAuthorized", reg.bind_holders, attacker, "GD-PSB", [(h, UNBOUND)])  # nor unbind it
    assert reg.holder_key("GD-PSB", h) == key_hash(victim_key)
    # its own binding of the same hash is its own agency's, and changes nothing of GD-PSB's
    reg.bind_holders(attacker, who, [(h, key_hash(device_key()))])
    assert reg.holder_key("GD-PSB", h) == key_hash(victim_key)


@pytest.mark.parametrize("region", [ZJ, 110000])
def test_another_regions_admin_cannot_bind(issuing: Consortium, region: int) -> None:
    _refused(issuing, issuing.admins[region])


def test_a_stranger_and_the_deployer_cannot_bind_nor_anyone_for_an_unknown_agency(issuing: Consortium) -> None:
    _refused(issuing, Account.create())
    _refused(issuing, issuing.deployer)
    _refused(issuing, issuing.admins[GD], agency="GD-NONE")


def test_a_retired_key_cannot_bind(issuing: Consortium) -> None:
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    reg.retire_key(issuing.admins[GD], key.address)
    _refused(issuing, key)


def test_a_key_compromised_now_cannot_bind(issuing: Consortium) -> None:
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    reg.report_compromised(issuing.admins[GD], key.address, chain_now(issuing.chain))
    _refused(issuing, key)


def test_a_key_compromised_by_its_own_report_cannot_bind(issuing: Consortium) -> None:
    key = issuing.agency_keys["GD-PSB"]
    issuing.registry.report_own_compromise(key)
    _refused(issuing, key)


def test_the_key_of_a_suspended_agency_cannot_bind_its_region_admin_still_can(issuing: Consortium) -> None:
    reg, key, admin = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.admins[GD]
    reg.suspend_agency(admin, "GD-PSB")
    _refused(issuing, key)
    h = os.urandom(32)
    reg.bind_holders(admin, "GD-PSB", [(h, key_hash(device_key()))])  # as for its statuses
    reg.reactivate_agency(admin, "GD-PSB")
    reg.bind_holders(key, "GD-PSB", [(h, UNBOUND)])
    assert reg.holder_key("GD-PSB", h) is None


def test_malformed_bindings_are_refused(issuing: Consortium) -> None:
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    h, k = os.urandom(32), key_hash(device_key())
    expect("NoBindings", reg.bind_holders, key, "GD-PSB", [])
    assert expect("ZeroCertificateHash", reg.bind_holders, key, "GD-PSB", [(h, k), (bytes(32), k)]) == {"index": 1}
    mismatched = reg.certificates.functions.bindHolders(agency_id("GD-PSB"), [h, os.urandom(32)], [k])
    assert expect("BindingsMismatch", reg.chain.transact, key, mismatched) == {"certificates": 2, "keyHashes": 1}
    with pytest.raises(InvalidInput):
        reg.bind_holders(key, "GD-PSB", [(h, k[:31])])  # never sent
    assert reg.holder_key("GD-PSB", h) is None
    assert bound_logs(issuing) == []


def test_as_many_bindings_as_max_bindings_says_fit_one_transaction(issuing: Consortium) -> None:
    reg, key = issuing.registry, issuing.agency_keys["GD-PSB"]
    n = reg.max_bindings()
    assert n >= 500  # 2**24 gas (EIP-7825) over ~30,000 a binding
    bindings = [(os.urandom(32), key_hash(device_key(i + 1))) for i in range(n)]
    sent = reg.bind_holders(key, "GD-PSB", bindings)
    assert sent.gas_used <= n * BIND_GAS_PER_HOLDER
    assert reg.holder_key("GD-PSB", bindings[-1][0]) == bindings[-1][1]


# ---------------------------------------------------------------------- the mirror and the sources


def _scenario(c: Consortium) -> dict[tuple[str, bytes], bytes | None]:
    """Bindings, a rebinding, an unbinding, two agencies binding the same hash; returns what
    each (agency, certificate) is bound to now."""
    reg, psb, amr, admin = c.registry, c.agency_keys["GD-PSB"], c.agency_keys["GD-AMR"], c.admins[GD]
    a, b, shared, never = (os.urandom(32) for _ in range(4))
    ka, kb, k2, kshared, kamr = (key_hash(device_key()) for _ in range(5))
    reg.bind_holders(psb, "GD-PSB", [(a, ka), (b, kb), (shared, kshared)])
    reg.bind_holders(amr, "GD-AMR", [(shared, kamr)])
    reg.bind_holders(admin, "GD-PSB", [(a, k2)])  # rebound by the region admin
    reg.bind_holders(psb, "GD-PSB", [(b, UNBOUND)])
    return {
        ("GD-PSB", a): k2,
        ("GD-PSB", b): None,
        ("GD-PSB", shared): kshared,
        ("GD-AMR", shared): kamr,
        ("GD-PSB", never): None,
        ("ZJ-EDU", a): None,
    }


def test_the_mirror_keeps_the_bindings_on_both_databases(
    issuing: Consortium, mirror_url: str, fresh_mirror_url: Any
) -> None:
    expected = _scenario(issuing)
    store, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    try:
        for (agency, h), k in expected.items():
            assert q.holder_binding(agency, h) == k, (agency, h.hex())
        rows = store.dump()["holder_events"]
        assert len(rows) == 6
        psb = issuing.agency_keys["GD-PSB"].address
        roles = {(r[0], r[3], r[4]) for r in rows}  # agency, actor, role
        assert ("GD-PSB", psb, int(Role.AGENCY_KEY)) in roles
        assert ("GD-PSB", issuing.admins[GD].address, int(Role.REGION_ADMIN)) in roles
        assert sum(1 for r in rows if r[2] == bytes(32)) == 1  # the unbinding
        assert_same_mirror(store.dump(), rebuild_dump(issuing.chain.url, issuing.deployment, fresh_mirror_url()))
    finally:
        q.close()


def test_the_chain_and_the_mirror_sources_agree(issuing: Consortium, mirror_url: str) -> None:
    expected = _scenario(issuing)
    _, q = index_to_head(issuing.chain.url, issuing.deployment, mirror_url)
    chain_source = ChainSource(Registry(Chain(issuing.chain.url), issuing.deployment))
    mirror_source = MirrorSource(q)
    try:
        for (agency, h), k in expected.items():
            assert mirror_source.holder_binding(agency, h) == chain_source.holder_binding(agency, h) == k
    finally:
        q.close()


def test_the_chain_view_of_one_verification_asks_the_chain(issuing: Consortium) -> None:
    reg = issuing.registry
    batch = reg.anchor_batch(
        issuing.deployer, issuing.agency_keys["GD-PSB"], "GD-PSB", "ID_CARD", [os.urandom(32) for _ in range(2)]
    )
    h = batch.cert_hashes[0]
    k = key_hash(device_key())
    source = ChainSource(reg)
    view = source.for_case("GD-PSB", h, batch.root, None, chain_now(issuing.chain))
    assert view.holder_binding("GD-PSB", h) is None
    reg.bind_holders(issuing.agency_keys["GD-PSB"], "GD-PSB", [(h, k)])
    assert view.holder_binding("GD-PSB", h) == k  # not a fact of its one inspect call: asked now
    assert view.holder_binding("GD-PSB", batch.cert_hashes[1]) is None


def test_the_chain_source_without_a_node_is_unavailable(issuing: Consortium) -> None:
    source = ChainSource(Registry(Chain(dead_url(), timeout=2), issuing.deployment))
    with pytest.raises(SourceUnavailable):
        source.holder_binding("GD-PSB", os.urandom(32))


def test_the_mirror_answers_per_checkpoint_and_forgets_a_binding_a_reorg_undid(
    issuing: Consortium, mirror_url: str
) -> None:
    reg, key, chain = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.chain
    h = os.urandom(32)
    first, second = key_hash(device_key()), key_hash(device_key())
    reg.bind_holders(key, "GD-PSB", [(h, first)])
    store = open_store(mirror_url, issuing.deployment)
    indexer = Indexer(chain.url, issuing.deployment, store, IndexerConfig())
    indexer.catch_up()
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    try:
        assert q.holder_binding("GD-PSB", h) == first
        fork = chain.w3.provider.make_request("evm_snapshot", [])["result"]
        reg.bind_holders(key, "GD-PSB", [(h, second)])
        indexer.catch_up()
        assert q.holder_binding("GD-PSB", h) == first  # the same checkpoint's answer, for a moment
        assert settled(q, clock, store).holder_binding("GD-PSB", h) == second

        assert chain.w3.provider.make_request("evm_revert", [fork])["result"] is True
        chain._nonces.clear()  # the client's nonce cache still counts the dropped transaction
        for _ in range(3):  # a longer chain without the rebinding
            chain.w3.provider.make_request("evm_mine", [])
        indexer.catch_up()
        assert settled(q, clock, store).holder_binding("GD-PSB", h) == first
        assert reg.holder_key("GD-PSB", h) == first
        assert len(store.dump()["holder_events"]) == 1
    finally:
        q.close()


def test_beyond_its_bound_the_mirror_reads_instead_of_caching(
    issuing: Consortium, mirror_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bindings are cached per checkpoint like keys and rules, but there are as many as
    certificates: past ``CACHE_ENTRIES`` answers (while no block moves the checkpoint) a
    binding is read each time, so that asking about many certificates cannot grow the cache."""
    reg, key, chain = issuing.registry, issuing.agency_keys["GD-PSB"], issuing.chain
    a, b = os.urandom(32), os.urandom(32)
    store = open_store(mirror_url, issuing.deployment)
    indexer = Indexer(chain.url, issuing.deployment, store, IndexerConfig())
    indexer.catch_up()
    q = MirrorQueries(store, clock=FakeClock())
    monkeypatch.setattr(mirror_queries, "CACHE_ENTRIES", len(q._cache) + 1)
    try:
        assert q.holder_binding("GD-PSB", a) is None  # the last answer the cache takes
        assert q.holder_binding("GD-PSB", b) is None  # read, not kept
        k = key_hash(device_key())
        reg.bind_holders(key, "GD-PSB", [(a, k), (b, k)])
        indexer.catch_up()
        assert q.holder_binding("GD-PSB", a) is None  # cached for the old checkpoint (the clock stood still)
        assert q.holder_binding("GD-PSB", b) == k  # read again
    finally:
        q.close()


def test_the_mirror_schema_has_the_holder_bindings() -> None:
    assert mirror_schema.SCHEMA_VERSION == 5
    assert mirror_schema.holder_events in mirror_schema.EVENT_TABLES  # a reorg undoes them


# ---------------------------------------------------------------------- certledger bind


class Cli:
    """``certledger`` in process, as the installed script runs it."""

    def __init__(self, capsys: pytest.CaptureFixture[str], home: Path) -> None:
        self.capsys, self.home = capsys, home

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, f"certledger {' '.join(args)} failed: {err}"
        return json.loads(out)

    def fails(self, *args: str) -> str:
        """A command that must fail with one line on stderr; returns it."""
        code, out, err = self(*args)
        assert code != 0, f"certledger {' '.join(args)} succeeded: {out}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]


@pytest.fixture
def agency_cli(
    issuing: Consortium, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The command line of a home with the deployment of ``issuing`` and, in its keystore, the
    keys of GD-PSB (``psb``), GD-AMR (``amr``) and the admin of 440000 (``admin-440000``)."""
    home = tmp_path / "home"
    save_deployment(issuing, home)
    keystore = Keystore(home / "keys", PASSWORD, 1024)
    keystore.import_private_key("psb", issuing.agency_keys["GD-PSB"].key.hex())
    keystore.import_private_key("amr", issuing.agency_keys["GD-AMR"].key.hex())
    keystore.import_private_key(f"admin-{GD}", issuing.admins[GD].key.hex())
    monkeypatch.setenv("CERTLEDGER_HOME", str(home))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", issuing.chain.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return Cli(capsys, home)


def write_jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def test_bind_records_the_wallets_requests(issuing: Consortium, agency_cli: Cli, tmp_path: Path) -> None:
    reg = issuing.registry
    certs = [os.urandom(32) for _ in range(3)]
    points = [device_key() for _ in certs]
    file = write_jsonl(tmp_path / "requests.jsonl", [request(h, p) for h, p in zip(certs, points, strict=True)])
    out = agency_cli.ok("bind", str(file), "--agency", "GD-PSB")  # the agency's key, found in the keystore
    assert out["agency"] == "GD-PSB" and out["action"] == "bind"
    assert out["actor"] == issuing.agency_keys["GD-PSB"].address
    assert [(b["certificate"], b["key_hash"]) for b in out["bindings"]] == [
        ("0x" + h.hex(), "0x" + key_hash(p).hex()) for h, p in zip(certs, points, strict=True)
    ]
    assert len(out["transactions"]) == 1 and out["transactions"][0]["bindings"] == 3
    for h, p in zip(certs, points, strict=True):
        assert reg.holder_key("GD-PSB", h) == key_hash(p)

    code, text, _ = agency_cli("bind", str(file), "--agency", "GD-PSB", "--key", "psb")
    assert code == 0
    assert text.splitlines()[0].startswith("GD-PSB: bound 3 certificate(s) in 1 transaction(s)")
    assert f"0x{certs[0].hex()} -> key 0x{key_hash(points[0]).hex()}" in text


def test_bind_rebinds_and_unbinds_from_a_json_file(issuing: Consortium, agency_cli: Cli, tmp_path: Path) -> None:
    reg = issuing.registry
    h, old, new = os.urandom(32), device_key(), device_key()
    first = tmp_path / "one.json"
    first.write_text(json.dumps(request(h, old)), encoding="utf-8")  # a single request
    agency_cli.ok("bind", str(first), "--agency", "GD-PSB")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([request(h, new)]), encoding="utf-8")  # a list
    agency_cli.ok("bind", str(listed), "--agency", "GD-PSB", "--key", f"admin-{GD}")
    assert reg.holder_key("GD-PSB", h) == key_hash(new)  # replaced
    unbind = tmp_path / "unbind.json"
    unbind.write_text(json.dumps([{"certificate": "0x" + h.hex()}]), encoding="utf-8")  # no key needed
    out = agency_cli.ok("bind", str(unbind), "--agency", "GD-PSB", "--unbind")
    assert out["action"] == "unbind" and out["bindings"][0]["key_hash"] is None
    assert reg.holder_key("GD-PSB", h) is None


def test_bind_sends_as_few_transactions_as_fit(
    issuing: Consortium, agency_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Registry, "max_bindings", lambda self: 2)  # as if the gas limit allowed two
    certs = [os.urandom(32) for _ in range(5)]
    points = [device_key() for _ in certs]
    file = write_jsonl(tmp_path / "requests.jsonl", [request(h, p) for h, p in zip(certs, points, strict=True)])
    out = agency_cli.ok("bind", str(file), "--agency", "GD-PSB")
    assert [t["bindings"] for t in out["transactions"]] == [2, 2, 1]
    assert len({t["tx"] for t in out["transactions"]}) == 3
    for h, p in zip(certs, points, strict=True):
        assert issuing.registry.holder_key("GD-PSB", h) == key_hash(p)


def _bad_requests(cert_hash: bytes) -> dict[str, tuple[Any, str]]:
    point = device_key()
    off_curve = point[:33] + ((int.from_bytes(point[33:], "big") + 1) % P256_P).to_bytes(32, "big")
    good = "0x" + cert_hash.hex()
    return {
        "short hash": ({"certificate": good[:-2], "holderKey": b64url(point)}, "certificate must be 0x"),
        "hash without 0x": ({"certificate": good[2:], "holderKey": b64url(point)}, "certificate must be 0x"),
        "no key": ({"certificate": good}, "holderKey must be base64url"),
        "padded key": ({"certificate": good, "holderKey": b64url(point) + "="}, "holderKey must be base64url"),
        "standard base64": (
            {"certificate": good, "holderKey": base64.b64encode(b"\x04\xfb\xff" + point[3:]).decode().rstrip("=")},
            "holderKey must be base64url",
        ),
        "64-byte key": ({"certificate": good, "holderKey": b64url(point[1:])}, "got 64 bytes"),
        "compressed key": ({"certificate": good, "holderKey": b64url(b"\x02" + point[1:33])}, "got 33 bytes"),
        "wrong prefix": ({"certificate": good, "holderKey": b64url(b"\x03" + point[1:])}, "65 bytes starting 0x04"),
        "off the curve": ({"certificate": good, "holderKey": b64url(off_curve)}, "not a point of the P-256 curve"),
        "not an object": ([good], "is an object"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "short hash",
        "hash without 0x",
        "no key",
        "padded key",
        "standard base64",
        "64-byte key",
        "compressed key",
        "wrong prefix",
        "off the curve",
        "not an object",
    ],
)
def test_a_malformed_request_is_one_error_line_and_nothing_is_sent(
    issuing: Consortium, agency_cli: Cli, tmp_path: Path, case: str
) -> None:
    good_hash = os.urandom(32)
    bad, message = _bad_requests(os.urandom(32))[case]
    file = write_jsonl(tmp_path / "requests.jsonl", [request(good_hash, device_key()), bad])
    block = issuing.chain.block_number()
    line = agency_cli.fails("bind", str(file), "--agency", "GD-PSB")
    assert "requests.jsonl line 2" in line and message in line, line
    assert issuing.chain.block_number() == block  # nothing sent
    assert issuing.registry.holder_key("GD-PSB", good_hash) is None


def test_unreadable_empty_or_repeated_requests_are_refused(
    issuing: Consortium, agency_cli: Cli, tmp_path: Path
) -> None:
    h = os.urandom(32)
    block = issuing.chain.block_number()
    assert "cannot read" in agency_cli.fails("bind", str(tmp_path / "missing.jsonl"), "--agency", "GD-PSB")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert "no binding requests" in agency_cli.fails("bind", str(empty), "--agency", "GD-PSB")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(request(h, device_key())) + "\n{not json\n", encoding="utf-8")
    assert "broken.jsonl line 2: not JSON" in agency_cli.fails("bind", str(broken), "--agency", "GD-PSB")
    twice = write_jsonl(tmp_path / "twice.jsonl", [request(h, device_key()), request(h, device_key())])
    assert "listed twice" in agency_cli.fails("bind", str(twice), "--agency", "GD-PSB")
    file = write_jsonl(tmp_path / "requests.jsonl", [request(h, device_key())])
    assert "invalid agency" in agency_cli.fails("bind", str(file), "--agency", "gd psb").lower()
    assert issuing.chain.block_number() == block
    assert issuing.registry.holder_key("GD-PSB", h) is None


def test_another_agencys_key_cannot_bind_through_the_command_line(
    issuing: Consortium, agency_cli: Cli, tmp_path: Path
) -> None:
    """GD-AMR's operator, with its own agency key, tries to bind a device of its choosing to
    GD-PSB's certificates: refused by the contract before anything is sent."""
    h = os.urandom(32)
    victim = device_key()
    issuing.registry.bind_holders(issuing.agency_keys["GD-PSB"], "GD-PSB", [(h, key_hash(victim))])
    file = write_jsonl(tmp_path / "requests.jsonl", [request(h, device_key())])
    block = issuing.chain.block_number()
    line = agency_cli.fails("bind", str(file), "--agency", "GD-PSB", "--key", "amr")
    assert "NotAuthorized" in line and "GD-PSB" in line
    assert "NotAuthorized" in agency_cli.fails("bind", str(file), "--agency", "GD-PSB", "--key", "amr", "--unbind")
    assert issuing.chain.block_number() == block
    assert issuing.registry.holder_key("GD-PSB", h) == key_hash(victim)
