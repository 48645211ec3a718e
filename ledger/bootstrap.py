"""The embedded default consortium: three regions with agencies, types and recognition rules.

Idempotent: every step first checks the chain and does only what is missing, so a second
run reuses everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .chain import Chain
from .contracts import KeyState
from .deployment import MAJORITY, Deployment, deploy
from .errors import ConfigError
from .keystore import Keystore
from .registry import Registry

FOUNDING = (440000, 330000, 110000)  # Guangdong, Zhejiang, Beijing
QUORUM_RULE = MAJORITY  # more than half of the members: 2 of 3, 3 of 4

# agency code -> (region, types it may issue)
AGENCIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "GD-PSB": (440000, ("ID_CARD", "HOUSEHOLD_REGISTRATION", "DRIVING_LICENCE")),  # 广东省公安厅
    "GD-AMR": (440000, ("BUSINESS_LICENSE",)),  # 广东省市场监督管理局
    "GD-EDU": (440000, ("DEGREE",)),  # 广东省教育厅
    "ZJ-PSB": (330000, ("ID_CARD", "HOUSEHOLD_REGISTRATION", "DRIVING_LICENCE")),  # 浙江省公安厅
    "ZJ-HRSS": (330000, ("SOCIAL_SECURITY_CARD", "PROFESSIONAL_QUALIFICATION")),  # 浙江省人社厅
    "BJ-EDU": (110000, ("DEGREE",)),  # 北京市教委
    "BJ-CAB": (110000, ("MARRIAGE_CERTIFICATE",)),  # 北京市民政局
}


def _demo_credit_code(region: int, n: int) -> str:
    """A made-up unified social credit code of a government body of ``region`` (GB 32100: its
    check character computed, so it validates), for the demo's agencies in an sm deployment."""
    from .gbt.identifier import uscc_check

    first17 = f"11{region}MB{n:07d}"
    return first17 + uscc_check(first17)


DEMO_CREDIT_CODES = {code: _demo_credit_code(region, n) for n, (code, (region, _)) in enumerate(AGENCIES.items(), 1)}

# (verifier, type, issuer or 0 = any region). Deliberately not everything: 110000 does not
# recognise Guangdong business licences, so the demo can show NOT_RECOGNIZED.
RECOGNITION: tuple[tuple[int, str, int], ...] = (
    (330000, "ID_CARD", 0),
    (110000, "ID_CARD", 0),
    (440000, "ID_CARD", 0),
    (330000, "BUSINESS_LICENSE", 440000),
    (110000, "DEGREE", 0),
    (330000, "DEGREE", 440000),
    (440000, "DEGREE", 110000),
    (440000, "DRIVING_LICENCE", 330000),
    (330000, "DRIVING_LICENCE", 440000),
    (440000, "PROFESSIONAL_QUALIFICATION", 330000),
    (440000, "SOCIAL_SECURITY_CARD", 330000),
)


def default_schemas() -> dict[str, dict[str, Any]]:
    """The bundled certificate type schemas (ledger/certtypes/*.json), by type code."""
    folder = resources.files("ledger").joinpath("certtypes")
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text("utf-8"))
            out[schema["type"]] = schema
    return out


@dataclass
class BootstrapReport:
    deployment: Deployment
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment.to_json(), "created": self.created, "reused": self.reused}


def ensure_default_consortium(
    chain: Chain,
    keystore: Keystore,
    deployment_path: Any,
    progress: Callable[[str], None] = lambda _: None,
    suite: str | None = None,
) -> BootstrapReport:
    """Deploy (if needed) and set up the default consortium; return what was done. ``suite``:
    the cryptographic suite of a new deployment ("intl" or "sm"; None: keep the existing
    deployment's, else intl). An existing deployment of another suite is refused."""
    created: list[str] = []
    reused: list[str] = []

    def note(done: bool, what: str) -> None:
        (created if done else reused).append(what)
        progress(("+ " if done else "= ") + what)

    def key(name: str) -> str:
        if keystore.exists(name):
            return keystore.address(name)
        address = keystore.create(name)
        note(True, f"key {name} {address}")
        return address

    admins = {r: key(f"admin-{r}") for r in FOUNDING}
    key("deployer")

    deployment = None
    if deployment_path.exists():
        try:
            deployment = Deployment.load(deployment_path)
            deployment.check(chain)
            note(False, f"deployment {deployment.certificate_registry} on chain {deployment.chain_id}")
        except ConfigError:
            deployment = None
    if deployment is not None and suite is not None and deployment.suite != suite:
        raise ConfigError(
            f"{deployment_path} is a deployment of the {deployment.suite} suite, not {suite}: "
            "use another CERTLEDGER_HOME for a deployment of another suite"
        )
    if deployment is None:
        deployment = deploy(
            chain,
            keystore.load("deployer"),
            [(r, admins[r]) for r in FOUNDING],
            QUORUM_RULE,
            suite=suite or "intl",
        )
        deployment.save(deployment_path)
        note(
            True,
            f"deployment {deployment.certificate_registry} on chain {deployment.chain_id} "
            f"(quorum: a majority, suite {deployment.suite})",
        )
    registry = Registry(chain, deployment)
    sm = deployment.suite != "intl"

    def admin(region: int) -> Any:
        return keystore.load(f"admin-{region}")

    # Types, through governance: proposed by the first region, approved by the others until executed.
    existing = {t.code for t in registry.types()}
    for code, schema in default_schemas().items():
        if code in existing:
            note(False, f"type {code}")
            continue
        result = registry.propose_add_type(admin(FOUNDING[0]), code, schema)
        for other in FOUNDING[1:]:
            if result.executed:
                break
            result = registry.approve(admin(other), result.id)
        note(True, f"type {code} (proposal {result.id})")

    for code, (region, types) in AGENCIES.items():
        if registry.agency(code) is None:
            registry.register_agency(admin(region), code, region, types)
            note(True, f"agency {code} in {region}: {', '.join(types)}")
        else:
            note(False, f"agency {code}")
        key_name = f"{code}-1"
        address = key(key_name)
        sm2 = b""
        if sm:
            sm2 = keystore.sm2_public_key(key_name) or keystore.create_sm2(key_name)
        if registry.key(address).agency != code:
            registry.add_key(admin(region), code, address, sm2_public_key=sm2)
            note(True, f"signing key {key_name} for {code}" + (" (with its SM2 key)" if sm else ""))
        else:
            _note_keys(registry, keystore, code, note)
        if sm:  # the national profile: identifiers name their issuer by its credit code
            if registry.credit_code(code) is None:
                registry.set_agency_credit_code(admin(region), code, DEMO_CREDIT_CODES[code])
                note(True, f"credit code {DEMO_CREDIT_CODES[code]} for {code}")
            else:
                note(False, f"credit code of {code}")

    rules = {(r.verifier, r.type, r.issuer) for r in registry.recognitions()}
    for verifier, cert_type, issuer in RECOGNITION:
        label = f"rule {verifier} recognises {cert_type} from {issuer or 'any region'}"
        if (verifier, cert_type, issuer) in rules:
            note(False, label)
        else:
            registry.set_recognition(admin(verifier), verifier, cert_type, issuer)
            note(True, label)
    return BootstrapReport(deployment, created, reused)


def _note_keys(registry: Registry, keystore: Keystore, agency: str, note: Callable[[bool, str], None]) -> None:
    """An agency's keys as they stand on chain (a walkthrough may have rotated, retired or
    reported one): only an active, enabled key is listed as a signing key."""
    info = registry.agency(agency)
    if info is None:
        return
    names = {keystore.address(n): n for n in keystore.names()}
    for k in info.keys:
        label = names.get(k.address, k.address)
        if k.state is KeyState.ACTIVE and k.enabled:
            note(False, f"signing key {label} of {agency}")
        else:
            # enabled means "may sign now": only an active key can be disabled besides
            state = "disabled" if k.state is KeyState.ACTIVE else k.state.name.lower().replace("_", " ")
            note(False, f"key {label} of {agency}: {state}, does not sign")


@dataclass
class SampleIssuance:
    """The demo's sample certificates: ID cards of Guangdong (recognised in 330000 and 110000)
    and Guangdong business licences (recognised in 330000, not in 110000)."""

    folder: Any
    id_cards: Any  # IssueResult
    licences: Any  # IssueResult

    def sample_files(self) -> tuple[Any, Any]:
        """(a certificate file, its QR PNG) of the ID-card batch."""
        certificates = sorted((self.folder / "id-cards" / "certificates").glob("*.json"))
        first = certificates[0]
        return first, self.folder / "id-cards" / "qr" / f"{first.stem}.png"


def ensure_sample_certificates(
    registry: Registry, keystore: Keystore, folder: Any, *, id_cards: int = 100, licences: int = 20
) -> SampleIssuance:
    """Issue the demo's sample certificates once; later calls find them done (the journal)."""
    from pathlib import Path

    from .issuance import IssueRequest, issue, schema_for
    from .samples import write_business_licences, write_id_cards

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for agency, cert_type, name, write, count in (
        ("GD-PSB", "ID_CARD", "id-cards", write_id_cards, id_cards),
        ("GD-AMR", "BUSINESS_LICENSE", "business-licences", write_business_licences, licences),
    ):
        rows = folder / f"{name}.csv"
        if not rows.exists():  # the same rows on every run: the journal finds the issuance done
            write(rows, count)
        signer = keystore.signer(f"{agency}-1", registry.deployment.suite)
        # Full QR codes: they carry the document, so a scan checks every check (the validity
        # dates included) and verifies VALID; a compact QR answers INCOMPLETE at best.
        request = IssueRequest(agency, cert_type, rows, folder / name, qr=True, qr_payload="full")
        results.append(issue(registry, signer, signer.account, request, schema_for(registry, cert_type)))
    ids, bls = results
    return SampleIssuance(folder, ids, bls)
