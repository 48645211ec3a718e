"""The national profile on chain: the cryptographic suite chosen at deployment, SM2 public keys
registered next to agency keys, SM2-signed batches with identifier tags, agencies' credit
codes, and the verification of the SM2 batch signature (on a real anvil node, verified from the
chain and from a real mirror).

Attacks performed here: an agency submits an SM2 signature made by another agency's SM2 key, by
a random key, or over another root (INVALID); a document swaps its SM2 signature (INVALID); an sm
batch without SM2 signature, an SM2 key of the wrong length (reverted); a retired or compromised
key's SM2 signature follows the address's life cycle; a deployment file whose suite is not the
chain's (refused).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from api_helpers import checked_client
from eth_account import Account
from eth_utils import keccak
from helpers import REGIONS, SCHEMA, Consortium, FakeClock, advance, expect

from ledger.chain import Chain
from ledger.contracts import KeyState
from ledger.crypto.sm import SM2PrivateKey
from ledger.deployment import FORMAT, ChainMismatch, Deployment, deploy
from ledger.document import Anchor, Certificate, new_salts
from ledger.errors import ConfigError, ContractRejected, InvalidInput
from ledger.ids import agency_id, type_id
from ledger.merkle import build_tree
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries, MirrorStore
from ledger.registry import Registry
from ledger.signing import (
    BatchSigner,
    identifier_tags,
    recover_batch_signer,
    sign_batch,
    sm2_batch_message,
    sm2_batch_signature_ok,
    sm2_sign_batch,
)
from ledger.suites import suite
from ledger.verification import ChainSource, MirrorSource, Verifier

GD, ZJ = 440000, 330000
IDENT_A = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"
PSB_CODE = "11330105002500287C"  # the issuer code IDENT_A names
AMR_CODE = "91440300MA5G0XKE55"


# ---------------------------------------------------------------------- an sm deployment


@dataclass
class SmLedger:
    """A fresh deployment of the sm suite: GD-PSB (ID_CARD), GD-AMR (BUSINESS_LICENSE), ZJ-EDU
    (DEGREE), each with one key pair (chain key + SM2 key)."""

    c: Consortium
    sm2: dict[str, SM2PrivateKey] = field(default_factory=dict)

    @property
    def reg(self) -> Registry:
        return self.c.registry

    def signer(self, agency: str) -> BatchSigner:
        return BatchSigner(self.c.agency_keys[agency], "sm", self.sm2[agency])

    def add_agency(self, code: str, region: int, types: list[str]) -> None:
        self.reg.register_agency(self.c.admins[region], code, region, types)
        key, sm2 = Account.create(), SM2PrivateKey.generate()
        self.reg.add_key(self.c.admins[region], code, key.address, sm2_public_key=sm2.public_key.to_bytes())
        self.c.agency_keys[code], self.sm2[code] = key, sm2


def new_ledger(chain: Chain, suite_name: str) -> Consortium:
    deployer = Account.create()
    admins = {r: Account.create() for r in REGIONS}
    deployment = deploy(chain, deployer, [(r, admins[r].address) for r in REGIONS], (1, 2), suite=suite_name)
    c = Consortium(Registry(chain, deployment), deployer, admins)
    for code in ("ID_CARD", "DEGREE", "BUSINESS_LICENSE"):
        c.add_type(code, SCHEMA)
    return c


@pytest.fixture
def sm(chain: Chain) -> SmLedger:
    ledger = SmLedger(new_ledger(chain, "sm"))
    ledger.add_agency("GD-PSB", GD, ["ID_CARD"])
    ledger.add_agency("GD-AMR", GD, ["BUSINESS_LICENSE"])
    ledger.add_agency("ZJ-EDU", ZJ, ["DEGREE"])
    return ledger


def certificates(agency: str, region: int, n: int, cert_type: str = "ID_CARD", suite: str = "sm") -> list[Certificate]:
    """``n`` certledger/2 certificates in ``suite``."""
    out = []
    for i in range(n):
        fields = {"name": f"holder {i} {os.urandom(4).hex()}"}
        salts = new_salts(list(fields))
        out.append(Certificate(cert_type, agency, region, "2026-01-01", None, fields, salts, version=2, suite=suite))
    return out


def anchor_documents(
    ledger: SmLedger,
    agency: str,
    certs: list[Certificate],
    *,
    signer: BatchSigner | None = None,
    identifiers: list[str | None] | None = None,
    sm2_over: bytes | None = None,
) -> list[dict[str, Any]]:
    """Anchor ``certs`` as one batch of ``agency`` and return their documents. ``signer``: who
    signs (default: the agency's pair); ``sm2_over``: make the SM2 signature over this root
    instead (the EIP-712 signature commits to whatever SM2 signature is sent)."""
    reg = ledger.reg
    signer = signer or ledger.signer(agency)
    hashes = [c.compute_hash() for c in certs]
    tree = build_tree(hashes)
    aid, tid = agency_id(agency), type_id(certs[0].type)
    tags: list[bytes] = []
    if identifiers is not None:
        by_hash = dict(zip(hashes, identifiers, strict=True))
        tags = identifier_tags([by_hash[h] for h in tree.cert_hashes], "sm")
    chain_id, address = reg.chain.chain_id, reg.deployment.certificate_registry
    assert signer.sm2 is not None
    sm2 = sm2_sign_batch(signer.sm2, sm2_over or tree.root, tid, aid, chain_id, address, tags)
    eip712 = sign_batch(signer.account, tree.root, tid, aid, chain_id, address, sm2_signature=sm2, identifier_tags=tags)
    fn = reg.certificates.functions.anchorBatch(aid, tid, tree.cert_hashes, eip712 + sm2, tags)
    reg.chain.transact(ledger.c.deployer, fn)
    docs = []
    for cert, h in zip(certs, hashes, strict=True):
        anchor = Anchor(chain_id, address, tree.root, tuple(tree.proof(h)), eip712, signer.address, sm2_signature=sm2)
        docs.append(replace(cert, anchor=anchor).to_json(h))
    return docs


def chain_verify(ledger: SmLedger, doc: dict[str, Any]) -> Any:
    cert, stated = Certificate.from_json(doc)
    return Verifier(ChainSource(ledger.reg), ledger.reg.deployment).verify_document(cert, stated)


def key_check(result: Any) -> tuple[str, str]:
    check = next(c for c in result.checks if c.name == "key_valid")
    return str(check.outcome.value).lower(), check.code


# ---------------------------------------------------------------------- the suite at deployment


def test_the_suite_is_chosen_at_deployment_and_recorded_on_chain(chain: Chain, sm: SmLedger, tmp_path: Path) -> None:
    d = sm.reg.deployment
    assert d.suite == "sm" and d.format == FORMAT
    assert bytes(sm.reg.chain.call(sm.reg.consortium.functions.cryptoSuite())) == suite("sm").chain_id
    assert d.chain_suite(chain.raw) == "sm" and d.identity_problem(chain.raw) is None
    d.save(tmp_path / "deployment.json")
    assert json.loads((tmp_path / "deployment.json").read_text())["suite"] == "sm"
    assert Deployment.load(tmp_path / "deployment.json").suite == "sm"
    intl = new_ledger(chain, "intl").registry.deployment
    assert intl.suite == "intl" and intl.chain_suite(chain.raw) == "intl"


def test_an_unknown_suite_is_refused_on_chain_and_off(chain: Chain) -> None:
    deployer, admin = Account.create(), Account.create()
    with pytest.raises(ContractRejected) as info:
        chain.deploy(deployer, "Consortium", [GD], [admin.address], 1, 2, 3600, b"gm".ljust(32, b"\0"))
    assert info.value.error_name == "UnknownCryptoSuite"
    with pytest.raises(InvalidInput, match="unknown cryptographic suite"):
        deploy(chain, deployer, [(GD, admin.address)], suite="gm")


def test_a_deployment_file_whose_suite_is_not_the_chains_is_refused(chain: Chain, sm: SmLedger, tmp_path: Path) -> None:
    lying = replace(sm.reg.deployment, suite="intl")
    problem = lying.identity_problem(chain.raw)
    assert problem is not None and "'sm'" in problem and "'intl'" in problem
    with pytest.raises(ChainMismatch):
        lying.check(chain)
    path = tmp_path / "deployment.json"
    data = sm.reg.deployment.to_json()
    data["format"] = 2  # written before the suite existed
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"format 2.*cryptographic suite.*deploy again"):
        Deployment.load(path)
    data["format"], data["suite"] = FORMAT, "gm"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="unknown cryptographic suite"):
        Deployment.load(path)


# ---------------------------------------------------------------------- SM2 keys on chain


def test_an_sm_key_is_registered_with_its_sm2_public_key(sm: SmLedger) -> None:
    reg, admin = sm.reg, sm.c.admins[GD]
    key, sm2 = Account.create(), SM2PrivateKey.generate()
    sent = reg.add_key(admin, "GD-PSB", key.address, sm2_public_key=sm2.public_key.to_bytes())
    (event,) = reg.agencies.events.KeyAdded().process_receipt(sent.receipt)
    assert bytes(event["args"]["sm2PublicKey"]) == sm2.public_key.to_bytes()[1:]  # x || y
    assert reg.sm2_public_key(key.address) == sm2.public_key.to_bytes()[1:]
    info = reg.key(key.address)
    assert info.sm2_public_key == sm2.public_key.to_bytes()[1:]
    assert info.to_json()["sm2_public_key"] == "0x" + sm2.public_key.to_bytes()[1:].hex()
    assert reg.sm2_public_key(Account.create().address) == b""  # unknown key: none


def test_an_sm_deployment_refuses_a_key_without_sm2_key(sm: SmLedger) -> None:
    reg, admin = sm.reg, sm.c.admins[GD]
    key = Account.create()
    assert expect("Sm2KeyRequired", reg.add_key, admin, "GD-PSB", key.address) == {"key": key.address}
    old = sm.c.agency_keys["GD-PSB"]
    expect("Sm2KeyRequired", reg.rotate_key, admin, old.address, key.address)
    assert reg.key(key.address).agency == ""
    assert reg.key(old.address).state is KeyState.ACTIVE  # the failed rotation changed nothing


@pytest.mark.parametrize("suite_name", ["intl", "sm"])
@pytest.mark.parametrize("length", [1, 32, 63, 65, 128])
def test_an_sm2_key_of_the_wrong_length_is_refused(chain: Chain, suite_name: str, length: int) -> None:
    c = new_ledger(chain, suite_name)
    c.registry.register_agency(c.admins[GD], "GD-PSB", GD, ["ID_CARD"])
    key = Account.create()
    raw = os.urandom(length)
    if length == 65:
        raw = b"\x05" + raw[1:]  # not the 04 || x || y form, which the wrapper would shorten
    args = expect("InvalidSm2PublicKey", c.registry.add_key, c.admins[GD], "GD-PSB", key.address, 0, raw)
    assert args == {"length": length}


def test_the_zero_sm2_key_is_refused(sm: SmLedger) -> None:
    args = expect(
        "InvalidSm2PublicKey", sm.reg.add_key, sm.c.admins[GD], "GD-PSB", Account.create().address, 0, bytes(64)
    )
    assert args == {"length": 64}


def test_rotation_registers_the_new_keys_sm2_key(sm: SmLedger) -> None:
    old = sm.c.agency_keys["GD-PSB"]
    new, sm2 = Account.create(), SM2PrivateKey.generate()
    sent = sm.reg.rotate_key(sm.c.admins[GD], old.address, new.address, sm2_public_key=sm2.public_key)
    (event,) = sm.reg.agencies.events.KeyAdded().process_receipt(sent.receipt)
    assert bytes(event["args"]["sm2PublicKey"]) == sm2.public_key.to_bytes()[1:]
    assert sm.reg.key(new.address).sm2_public_key == sm2.public_key.to_bytes()[1:]
    assert sm.reg.key(old.address).state is KeyState.RETIRED
    assert sm.reg.sm2_public_key(old.address) == sm.sm2["GD-PSB"].public_key.to_bytes()[1:]  # kept, as history


def test_an_intl_key_may_carry_an_sm2_key_or_none(chain: Chain) -> None:
    c = new_ledger(chain, "intl")
    key = c.add_agency("GD-PSB", GD, ["ID_CARD"])
    assert c.registry.key(key.address).sm2_public_key == b""
    sm2 = SM2PrivateKey.generate()
    other = Account.create()
    c.registry.add_key(c.admins[GD], "GD-PSB", other.address, sm2_public_key=sm2.public_key.to_bytes())
    assert c.registry.sm2_public_key(other.address) == sm2.public_key.to_bytes()[1:]


# ---------------------------------------------------------------------- credit codes


def test_a_region_admin_records_an_agencys_credit_code(sm: SmLedger) -> None:
    reg = sm.reg
    sent = reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", "11330105002500287C")
    (event,) = reg.agencies.events.AgencyCreditCodeSet().process_receipt(sent.receipt)
    assert bytes(event["args"]["creditCode"]) == b"11330105002500287C"
    assert reg.credit_code("GD-PSB") == "11330105002500287C"
    assert reg.agency("GD-PSB").to_json()["credit_code"] == "11330105002500287C"
    assert reg.credit_code("GD-AMR") is None


def test_a_bad_credit_code_never_reaches_the_chain_and_only_the_region_admin_sets_one(sm: SmLedger) -> None:
    reg = sm.reg
    block = reg.chain.block_number()
    for bad in ("11330105002500287D", "1133010500250028", "I1330105002500287C"):
        with pytest.raises(InvalidInput):
            reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", bad)
    assert reg.chain.block_number() == block
    fn = reg.agencies.functions.setAgencyCreditCode(agency_id("GD-PSB"), bytes(18))
    with pytest.raises(ContractRejected) as info:
        reg.chain.transact(sm.c.admins[GD], fn)
    assert info.value.error_name == "InvalidCreditCode"
    expect("NotAdminOfRegion", reg.set_agency_credit_code, sm.c.admins[ZJ], "GD-PSB", "11330105002500287C")
    expect("NotAdminOfRegion", reg.set_agency_credit_code, sm.c.agency_keys["GD-PSB"], "GD-PSB", "11330105002500287C")


# ---------------------------------------------------------------------- SM2-signed batches


def test_an_sm_batch_carries_its_sm2_signature_and_tags(sm: SmLedger) -> None:
    reg = sm.reg
    hashes = [os.urandom(32) for _ in range(5)]
    idents: list[str | None] = [IDENT_A, None, None, "1.2.156.3005.2.X", None]
    batch = reg.anchor_batch(sm.c.deployer, sm.signer("GD-PSB"), "GD-PSB", "ID_CARD", hashes, identifiers=idents)
    assert batch.sm2_signature is not None and len(batch.sm2_signature) == 64
    (event,) = reg.certificates.events.BatchAnchored().process_receipt(batch.tx.receipt)
    assert bytes(event["args"]["sm2Signature"]) == batch.sm2_signature
    tags = [bytes(t) for t in event["args"]["identifierTags"]]
    by_hash = dict(zip(hashes, idents, strict=True))
    assert tags == [suite("sm").identifier_tag(by_hash[h]) if by_hash[h] else bytes(16) for h in batch.cert_hashes]
    sm2_hash, tags_hash = reg.batch_commitments("GD-PSB", batch.root)
    assert sm2_hash == keccak(batch.sm2_signature) and tags_hash == keccak(b"".join(tags))
    # the SM2 signature verifies under the registered key, over the batch message
    public = reg.sm2_public_key(sm.c.agency_keys["GD-PSB"].address)
    args = (
        batch.root,
        type_id("ID_CARD"),
        agency_id("GD-PSB"),
        reg.chain.chain_id,
        reg.deployment.certificate_registry,
    )
    assert sm2_batch_signature_ok(public, batch.sm2_signature, *args, tags)
    assert not sm2_batch_signature_ok(public, batch.sm2_signature, *args)  # the tags are signed
    message = sm2_batch_message(*args, tags)
    assert message[:4] == b"CLB2" and len(message) == 4 + 32 + 20 + 32 * 4
    # one eth_call tells a verifier all of it
    i = reg.inspect("GD-PSB", hashes[0], batch.root, None, reg.now())
    assert (i.sm2_signature_hash, i.identifier_tags_hash, i.key_sm2_public_key) == (sm2_hash, tags_hash, public)


def test_an_sm_batch_without_sm2_signature_is_reverted(sm: SmLedger) -> None:
    key = sm.c.agency_keys["GD-PSB"]
    hashes = [os.urandom(32) for _ in range(3)]
    args = expect("InvalidSignatures", sm.reg.anchor_batch, sm.c.deployer, key, "GD-PSB", "ID_CARD", hashes)
    assert args == {"length": 65, "expected": 129}
    assert sm.reg.batch("GD-PSB", build_tree(hashes).root) is None


def test_identifier_tags_must_match_the_batch(sm: SmLedger) -> None:
    reg = sm.reg
    tree = build_tree([os.urandom(32) for _ in range(3)])
    aid, tid = agency_id("GD-PSB"), type_id("ID_CARD")
    tags = [os.urandom(16), os.urandom(16)]  # two tags for three certificates
    signatures, _ = sm.signer("GD-PSB").sign(
        tree.root, tid, aid, reg.chain.chain_id, reg.deployment.certificate_registry, tags
    )
    fn = reg.certificates.functions.anchorBatch(aid, tid, tree.cert_hashes, signatures, tags)
    with pytest.raises(ContractRejected) as info:
        reg.chain.transact(sm.c.deployer, fn)
    assert info.value.error_name == "IdentifierTagsMismatch"
    assert info.value.error_args == {"tags": 2, "certificates": 3}


def test_the_eip712_signature_commits_to_the_sm2_signature_and_the_tags(sm: SmLedger) -> None:
    """Swapping the SM2 signature or the tags under a submitted EIP-712 signature recovers
    another address: the contract refuses it (UnknownKey)."""
    reg = sm.reg
    tree = build_tree([os.urandom(32) for _ in range(3)])
    aid, tid = agency_id("GD-PSB"), type_id("ID_CARD")
    chain_id, address = reg.chain.chain_id, reg.deployment.certificate_registry
    tags = [os.urandom(16) for _ in range(3)]
    signatures, sm2 = sm.signer("GD-PSB").sign(tree.root, tid, aid, chain_id, address, tags)
    assert sm2 is not None
    other_sm2 = sm2_sign_batch(sm.sm2["GD-PSB"], tree.root, tid, aid, chain_id, address, tags)
    for sent_sigs, sent_tags in ((signatures[:65] + other_sm2, tags), (signatures, tags[::-1]), (signatures, [])):
        fn = reg.certificates.functions.anchorBatch(aid, tid, tree.cert_hashes, sent_sigs, sent_tags)
        with pytest.raises(ContractRejected) as info:
            reg.chain.transact(sm.c.deployer, fn)
        assert info.value.error_name == "UnknownKey"
    recovered = recover_batch_signer(
        signatures[:65], tree.root, tid, aid, chain_id, address, sm2_signature=sm2, identifier_tags=tags
    )
    assert recovered == sm.c.agency_keys["GD-PSB"].address


# ---------------------------------------------------------------------- verifying the SM2 signature


def test_a_genuine_sm_document_verifies_from_the_chain(sm: SmLedger) -> None:
    docs = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 3), identifiers=[IDENT_A, None, None])
    assert all(len(bytes.fromhex(d["anchor"]["sm2Signature"][2:])) == 64 for d in docs)
    for doc in docs:
        r = chain_verify(sm, doc)
        assert r.verdict == "VALID", [c.to_json() for c in r.checks]
        assert key_check(r) == ("pass", "OK")


@pytest.mark.parametrize("whose", ["another agency's SM2 key", "a random SM2 key"])
def test_an_sm2_signature_by_a_key_not_registered_with_the_signer_is_invalid(sm: SmLedger, whose: str) -> None:
    """The contract cannot check SM2, so GD-PSB's batch signed with GD-AMR's (or any other) SM2
    key is anchored; every verifier finds it INVALID."""
    wrong = sm.sm2["GD-AMR"] if whose.startswith("another") else SM2PrivateKey.generate()
    signer = BatchSigner(sm.c.agency_keys["GD-PSB"], "sm", wrong)
    (doc,) = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 1), signer=signer)
    r = chain_verify(sm, doc)
    assert r.verdict == "INVALID"
    assert key_check(r) == ("fail", "FORGED_SM2_SIGNATURE")


def test_an_sm2_signature_over_another_root_is_invalid(sm: SmLedger) -> None:
    (doc,) = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 1), sm2_over=os.urandom(32))
    r = chain_verify(sm, doc)
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "FORGED_SM2_SIGNATURE")


def test_a_document_whose_sm2_signature_is_not_the_recorded_one_is_invalid(sm: SmLedger) -> None:
    """A valid SM2 signature of the same batch by the same key, but not the one anchored (SM2
    signatures are randomised): the ledger's record decides; and one without any."""
    doc = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 2))[0]
    a = doc["anchor"]
    reg = sm.reg
    again = sm2_sign_batch(
        sm.sm2["GD-PSB"],
        bytes.fromhex(a["root"][2:]),
        type_id("ID_CARD"),
        agency_id("GD-PSB"),
        a["chainId"],
        a["registry"],
    )
    swapped = {**doc, "anchor": {**a, "sm2Signature": "0x" + again.hex()}}
    r = chain_verify(sm, swapped)
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "SM2_SIGNATURE_MISMATCH")
    bare = {**doc, "anchor": {k: v for k, v in a.items() if k != "sm2Signature"}}
    r = chain_verify(sm, bare)
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "SM2_SIGNATURE_MISSING")
    assert reg.deployment.suite == "sm"


def test_an_intl_document_with_an_sm2_signature_is_invalid(chain: Chain) -> None:
    c = new_ledger(chain, "intl")
    key = c.add_agency("GD-PSB", GD, ["ID_CARD"])
    (cert,) = certificates("GD-PSB", GD, 1, suite="intl")
    h = cert.compute_hash()
    batch = c.registry.anchor_batch(c.deployer, key, "GD-PSB", "ID_CARD", [h])
    reg = c.registry
    anchor = Anchor(
        reg.chain.chain_id, reg.deployment.certificate_registry, batch.root, (), batch.signature, key.address
    )
    doc = replace(cert, anchor=anchor).to_json(h)
    verifier = Verifier(ChainSource(reg), reg.deployment)
    assert verifier.verify_document(*Certificate.from_json(doc)).verdict == "VALID"
    doc["anchor"]["sm2Signature"] = "0x" + os.urandom(64).hex()
    r = verifier.verify_document(*Certificate.from_json(doc))
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "SM2_SIGNATURE_MISMATCH")


def test_the_sm2_signature_follows_the_life_cycle_of_its_address(sm: SmLedger) -> None:
    """Retiring a key keeps what it signed (SM2 included) valid and stops it signing; a compromise
    voids what it signed since, SM2 signature or not."""
    reg, admin = sm.reg, sm.c.admins[GD]
    before = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 1))[0]
    old = sm.c.agency_keys["GD-PSB"]
    new, new_sm2 = Account.create(), SM2PrivateKey.generate()
    reg.rotate_key(admin, old.address, new.address, sm2_public_key=new_sm2.public_key)
    advance(reg.chain, 5)
    assert chain_verify(sm, before).verdict == "VALID"  # retired, not compromised: its signatures stand
    with pytest.raises(ContractRejected) as info:
        anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 1))  # the retired pair signs no more
    assert info.value.error_name == "KeyRetired"
    sm.c.agency_keys["GD-PSB"], sm.sm2["GD-PSB"] = new, new_sm2
    later = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 1))[0]
    assert chain_verify(sm, later).verdict == "VALID"
    reg.report_compromised(admin, new.address, 0)  # since ever
    r = chain_verify(sm, later)
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "KEY_COMPROMISED")


def test_the_mirror_records_and_verifies_the_sm2_signature(sm: SmLedger, tmp_path: Path, anvil: Any) -> None:
    """The indexer decodes the SM2 signature, the tags, the SM2 keys and the credit codes; the
    mirror's verdicts agree with the chain's, by document and by hash alone."""
    good = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 3), identifiers=[IDENT_A, None, None])
    forged = anchor_documents(
        sm,
        "GD-PSB",
        certificates("GD-PSB", GD, 1),
        signer=BatchSigner(sm.c.agency_keys["GD-PSB"], "sm", sm.sm2["GD-AMR"]),
    )[0]
    sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", "11330105002500287C")
    store = MirrorStore(f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    store.open(sm.reg.deployment)
    Indexer(anvil.url, sm.reg.deployment, store, IndexerConfig()).catch_up()
    q = MirrorQueries(store)
    tag = suite("sm").identifier_tag(IDENT_A)
    tagged_hash = next(bytes.fromhex(d["hash"][2:]) for d in good if d["fields"]["name"] == good[0]["fields"]["name"])
    found = q.by_identifier_tag(tag)
    assert [a for a, _ in found] == ["GD-PSB"] and len(found) == 1
    assert q.by_identifier_tag(os.urandom(16)) == []
    assert q.credit_code("GD-PSB") == "11330105002500287C" and q.credit_code("GD-AMR") is None
    key = q.key(sm.c.agency_keys["GD-PSB"].address)
    assert key is not None and key.sm2_public_key == sm.sm2["GD-PSB"].public_key.to_bytes()[1:]
    record = q.certificate(found[0][1], "GD-PSB")
    assert record is not None and record.sm2_signature == bytes.fromhex(good[0]["anchor"]["sm2Signature"][2:])
    assert record.identifier_tags_hash is not None
    verifier = Verifier(MirrorSource(q, max_staleness_seconds=3600), sm.reg.deployment)
    store.set_status({"chain_head": sm.reg.chain.block_number(), "chain_head_seen_at": int(time.time())})
    for doc in good:
        r = verifier.verify_document(*Certificate.from_json(doc))
        assert r.verdict == "VALID", [c.to_json() for c in r.checks]
    r = verifier.verify_document(*Certificate.from_json(forged))
    assert r.verdict == "INVALID" and key_check(r) == ("fail", "FORGED_SM2_SIGNATURE")
    # by hash alone, the mirror knows the whole SM2 signature and checks it too
    r = verifier.verify_hash(bytes.fromhex(forged["hash"][2:]), agency="GD-PSB")
    assert key_check(r) == ("fail", "FORGED_SM2_SIGNATURE")
    r = verifier.verify_hash(tagged_hash, agency="GD-PSB")
    assert key_check(r) == ("pass", "OK")
    store.dispose()


def test_an_identifier_naming_another_agencys_credit_code_is_invalid(sm: SmLedger, tmp_path: Path, anvil: Any) -> None:
    """An agency key inside the consortium puts another agency's e-licence identifier (its
    credit code as issuer) on a certificate of its own, signs and anchors it: no source, by
    document or by compact code, says VALID. The identifier's owner's own certificate does."""
    from ledger.qr import compact_for

    sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", PSB_CODE)
    own = replace(certificates("GD-PSB", GD, 1)[0], identifier=IDENT_A)
    copied = replace(certificates("GD-AMR", GD, 1, "BUSINESS_LICENSE")[0], identifier=IDENT_A)
    (own_doc,) = anchor_documents(sm, "GD-PSB", [own], identifiers=[IDENT_A])
    (copy_doc,) = anchor_documents(sm, "GD-AMR", [copied], identifiers=[IDENT_A])
    store = MirrorStore(f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    store.open(sm.reg.deployment)
    indexer = Indexer(anvil.url, sm.reg.deployment, store, IndexerConfig())
    clock = FakeClock()
    q = MirrorQueries(store, clock=clock)
    mirror = Verifier(MirrorSource(q, max_staleness_seconds=3600), sm.reg.deployment)
    chain = Verifier(ChainSource(sm.reg), sm.reg.deployment)

    def verdicts(doc: dict[str, Any]) -> set[tuple[str, str | None]]:
        indexer.catch_up()
        store.set_status({"chain_head": sm.reg.chain.block_number(), "chain_head_seen_at": int(time.time())})
        clock.advance(60)  # past the mirror's cache of its checkpoint: it sees the new blocks
        cert, stated = Certificate.from_json(doc)
        results = [
            chain.verify_document(cert, stated),
            mirror.verify_document(cert, stated),
            mirror.verify_payload(compact_for(cert)),
        ]
        return {(r.verdict.value, next((c.code for c in r.checks if c.outcome == "FAIL"), None)) for r in results}

    try:
        assert verdicts(own_doc) == {("VALID", None)}
        # GD-AMR has no credit code: the identifier's issuer cannot be its own
        assert verdicts(copy_doc) == {("INVALID", "ISSUER_CODE_UNKNOWN")}
        sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-AMR", AMR_CODE)
        assert verdicts(copy_doc) == {("INVALID", "ISSUER_CODE_MISMATCH")}
        # nor can GD-AMR's region admin hand GD-AMR the code GD-PSB holds
        expect("CreditCodeTaken", sm.reg.set_agency_credit_code, sm.c.admins[GD], "GD-AMR", PSB_CODE)
        assert verdicts(copy_doc) == {("INVALID", "ISSUER_CODE_MISMATCH")}
        # a new code frees the old one for another agency
        sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", "11440000MB2C12345J")
        sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-AMR", PSB_CODE)
        assert sm.reg.credit_code("GD-AMR") == PSB_CODE
        assert verdicts(own_doc) == {("INVALID", "ISSUER_CODE_MISMATCH")}
    finally:
        q.close()
        store.dispose()


def test_a_mirror_of_an_older_schema_is_rebuilt(sm: SmLedger, tmp_path: Path, anvil: Any) -> None:
    from ledger.mirror import schema as s

    assert s.SCHEMA_VERSION == 5
    store = MirrorStore(f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    store.open(sm.reg.deployment)
    store.set_status({"schema_version": 4})
    store.open(sm.reg.deployment)  # rebuilt from the chain, not migrated
    Indexer(anvil.url, sm.reg.deployment, store, IndexerConfig()).catch_up()
    assert MirrorQueries(store).key(sm.c.agency_keys["GD-PSB"].address) is not None
    store.dispose()


# ---------------------------------------------------------------------- the mirror on PostgreSQL, the API


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.sqlite'}"
        return
    from api_helpers import PgDatabase
    from helpers import require_postgres

    require_postgres()
    db = PgDatabase()
    try:
        yield db.url
    finally:
        db.drop()


def test_the_mirror_keeps_tags_keys_and_signatures_on_both_databases(sm: SmLedger, mirror_url: str, anvil: Any) -> None:
    docs = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 2), identifiers=[IDENT_A, None])
    other = anchor_documents(sm, "GD-AMR", certificates("GD-AMR", GD, 1, "BUSINESS_LICENSE"), identifiers=[IDENT_A])
    sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-AMR", AMR_CODE)
    store = MirrorStore(mirror_url)
    try:
        store.open(sm.reg.deployment)
        Indexer(anvil.url, sm.reg.deployment, store, IndexerConfig()).catch_up()
        q = MirrorQueries(store)
        found = q.by_identifier_tag(suite("sm").identifier_tag(IDENT_A))
        hashes = {bytes.fromhex(d["hash"][2:]) for d in docs + other}
        assert {a for a, _ in found} == {"GD-PSB", "GD-AMR"} and {h for _, h in found} <= hashes
        assert q.credit_code("GD-AMR") == AMR_CODE
        b = q.batch("GD-AMR", bytes.fromhex(other[0]["anchor"]["root"][2:]))
        assert b is not None and b.sm2_signature == bytes.fromhex(other[0]["anchor"]["sm2Signature"][2:])
        assert b.identifier_tags_hash == keccak(suite("sm").identifier_tag(IDENT_A))
        k = q.key(sm.c.agency_keys["GD-AMR"].address)
        assert k is not None and k.sm2_public_key == sm.sm2["GD-AMR"].public_key.to_bytes()[1:]
    finally:
        store.dispose()


@pytest.fixture
def api_client(sm: SmLedger, tmp_path: Path, anvil: Any) -> Any:
    """An sm ledger where GD-PSB (credit code PSB_CODE) anchored IDENT_A and two more
    identifiers (one of them on two certificates), GD-AMR (AMR_CODE) the same IDENT_A
    (copied), served by the real app over a SQLite mirror."""
    from api_helpers import open_mirror, save_deployment

    from api.app import ApiSettings, create_app
    from ledger.gbt.identifier import build

    second = str(build("11100000000013338W009", "11330105002500287C", "2025052299", 1))
    third = str(build("11100000000013338W009", "11330105002500287C", "2025052300", 1))
    psb = anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 3), identifiers=[IDENT_A, second, None])
    anchor_documents(sm, "GD-AMR", certificates("GD-AMR", GD, 1, "BUSINESS_LICENSE"), identifiers=[IDENT_A])
    anchor_documents(sm, "GD-PSB", certificates("GD-PSB", GD, 2), identifiers=[third, third])
    sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-PSB", PSB_CODE)
    sm.reg.set_agency_credit_code(sm.c.admins[GD], "GD-AMR", AMR_CODE)
    home = tmp_path / "home"
    save_deployment(sm.c, home)
    mirror = open_mirror("sqlite", f"sqlite:///{tmp_path / 'api.sqlite'}", anvil.url, sm.reg.deployment)
    mirror.sync()
    settings = ApiSettings(home=home, deployment=home / "deployment.json", rpc_url=anvil.url, db_url=mirror.url)
    try:
        with checked_client(create_app(settings)) as client:
            client.psb = psb  # type: ignore[attr-defined]
            client.idents = (second, third)  # type: ignore[attr-defined]
            yield client
    finally:
        mirror.store.dispose()


def test_lookup_by_identifier(api_client: Any) -> None:
    second, _ = api_client.idents
    r = api_client.get(f"/v1/certificates/by-identifier/{second}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["identifier_tag"] == "0x" + suite("sm").identifier_tag(second).hex()
    assert body["verdict"] == "INCOMPLETE"  # a hash, no validity dates: never VALID
    named = {d["fields"]["name"]: d["hash"] for d in api_client.psb}
    assert body["certificate"]["hash"] in named.values()
    assert second not in r.text  # the identifier is not echoed, nor any field
    assert all(name not in r.text for name in named)
    key = next(c for c in body["checks"] if c["name"] == "key_valid")
    assert key["outcome"] == "PASS" and "SM2" in key["detail"]


def test_a_copied_identifier_neither_takes_the_lookup_over_nor_blocks_it(api_client: Any) -> None:
    """GD-AMR anchored IDENT_A's tag too, but IDENT_A names GD-PSB's credit code as issuer:
    the lookup answers for GD-PSB, and never for GD-AMR."""
    r = api_client.get(f"/v1/certificates/by-identifier/{IDENT_A}")
    assert r.status_code == 200, r.text
    assert r.json()["certificate"]["agency"] == "GD-PSB"
    r = api_client.get(f"/v1/certificates/by-identifier/{IDENT_A}?agency=GD-AMR")
    assert r.status_code == 404
    error = r.json()["error"]
    assert (
        error["code"] == "NOT_FOUND" and "GD-AMR anchored its tag" in error["message"] and PSB_CODE in error["message"]
    )
    assert "VALID" not in r.text
    r = api_client.get(f"/v1/certificates/by-identifier/{api_client.idents[1]}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "AMBIGUOUS_CERTIFICATE"


@pytest.mark.parametrize(
    ("identifier", "code"),
    [
        ("1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.1", "BAD_CHECK_CHARACTER"),
        ("1.2.156.3005.2.11100000000013338W009.11330105002500287D.2025052201.002.0", "BAD_CHECK_CHARACTER"),
        ("1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201", "MALFORMED_IDENTIFIER"),
        ("not-an-identifier", "MALFORMED_IDENTIFIER"),
    ],
)
def test_a_bad_identifier_is_a_400_with_a_code(api_client: Any, identifier: str, code: str) -> None:
    r = api_client.get(f"/v1/certificates/by-identifier/{identifier}")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code


def test_an_unknown_identifier_is_not_found(api_client: Any) -> None:
    from ledger.gbt.identifier import build

    unknown = str(build("11100000000013338W009", "11330105002500287C", "77777", 1))
    r = api_client.get(f"/v1/certificates/by-identifier/{unknown}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
