"""Helpers of the verification-engine, REST API and cross-region tests: row builders, issuing
through the real pipeline, document edits, result inspection, and the world they share.

The fixtures (``world``, ``app``, ``client`` ...) are in the plugin ``api_fixtures``. ``world``
(one per test worker, built when a test first asks for it) is a complete small consortium on an anvil node of its own
(so that time travel by other test modules on the shared node never moves its clock):

- types ID_CARD, BUSINESS_LICENSE, DEGREE with the bundled schemas
  (``ledger.bootstrap.default_schemas``);
- agencies GD-PSB (440000: ID_CARD), GD-AMR (440000: BUSINESS_LICENSE), GD-CMP (440000:
  ID_CARD; its key is later reported compromised), ZJ-EDU (330000: DEGREE);
- recognition rules 330000 <- ID_CARD from any region, 330000 <- BUSINESS_LICENSE from
  440000, 110000 <- DEGREE from any region (so 110000 does *not* recognise Guangdong ID cards
  or business licences);
- certificates issued through ``ledger.issuance.issue`` (real rows, real schemas, bundles
  written to a temporary folder), in named sets (see ``World.SETS``), then — one chain second
  later — status changes: a revocation, a suspension, a suspension undone, a revoked batch, a
  suspended batch, and GD-CMP's key reported compromised from the anchoring of ``cmp_late``
  on (``cmp_early`` was anchored before that and stays valid);
- two mirrors indexed to the head: SQLite and PostgreSQL (a fresh database, dropped at the
  end). ``world.sync()`` catches them up again (tests call it so that a long run never makes
  the mirror look stale).

Nothing here edits the world after it is built: tests that change the chain build their own
state (``new_deployment``) or run on a node of their own (``start_anvil``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from helpers import (
    REGIONS,
    Consortium,
    Node,
    create_pg_database,
    drop_pg_databases,
    free_port,
    new_consortium,
    require_postgres,
    wait_until,
)
from pydantic import BaseModel, ValidationError

from ledger.bootstrap import default_schemas
from ledger.chain import Chain
from ledger.contracts import Status
from ledger.deployment import Deployment
from ledger.document import Anchor, Certificate, new_salts
from ledger.ids import agency_id, type_id
from ledger.issuance import IssueRequest, issue, load_bundle, schema_for
from ledger.merkle import build_tree
from ledger.mirror import Indexer, IndexerConfig, MirrorQueries, MirrorStore
from ledger.node import anvil_args
from ledger.registry import Registry
from ledger.signing import BatchSigner, sign_batch
from ledger.verification import ChainSource, MirrorSource, Verifier

GD, ZJ, BJ = REGIONS  # 440000, 330000, 110000
VALID_FROM = "2020-01-01"  # explicit: the default ("today", local time) is not what these tests are about

RULES: tuple[tuple[int, str, int | None], ...] = (
    (ZJ, "ID_CARD", None),  # any issuing region
    (ZJ, "BUSINESS_LICENSE", GD),
    (BJ, "DEGREE", None),
)

ID_COUNTER = iter(range(10**6))


# ---------------------------------------------------------------------- rows


def id_rows(n: int, prefix: str = "张") -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        i = next(ID_COUNTER)
        rows.append(
            {
                "name": f"{prefix}{i:04d}",
                "sex": "MF"[i % 2],
                "birthDate": f"199{i % 10}-0{1 + i % 9}-1{i % 10}",
                "address": f"广州市天河区测试路{i}号",
                "idNumber": f"44010619900101{i % 10000:04d}",
                "reference": f"ref-{i}",
            }
        )
    return rows


def biz_rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        i = next(ID_COUNTER)
        rows.append(
            {
                "companyName": f"广州测试科技有限公司{i}",
                "creditCode": f"91440300MA5F{i % 1000000:06d}",
                "legalRepresentative": f"李{i}",
                "establishedOn": "2015-06-01",
                "registeredCapital": 100 + i,
            }
        )
    return rows


def degree_rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        i = next(ID_COUNTER)
        rows.append(
            {
                "name": f"陈{i}",
                "idNumber": f"33010619950101{i % 10000:04d}",
                "degree": "MASTER",
                "major": "计算机科学与技术",
                "institution": "浙江大学",
                "certificateNumber": f"ZJU{i:08d}",
                "conferredOn": "2018-07-01",
            }
        )
    return rows


# ---------------------------------------------------------------------- chain and deployment


def start_anvil(directory: Path, *, block_time: float | None = None) -> Node:
    """An anvil node of our own (automine unless ``block_time``)."""
    port = free_port()
    return Node(
        anvil_args(port, 31337, None, block_time=block_time),
        f"http://127.0.0.1:{port}",
        directory / f"anvil-{port}.log",
    )


# The agencies' credit codes in an sm deployment (GB 32100 check characters valid): there, as a
# national deployment runs, every certificate carries an e-licence identifier naming its issuer.
CREDIT_CODES = {
    "GD-PSB": "11440000MB0000001F",
    "GD-AMR": "11440000MB0000002J",
    "GD-CMP": "11440000MB0000003M",
    "ZJ-EDU": "11330000MB0000004X",
}


def new_deployment(
    chain: Chain, *, types: tuple[str, ...] = ("ID_CARD", "BUSINESS_LICENSE", "DEGREE"), suite: str = "intl"
) -> Consortium:
    """Three regions, the bundled schemas of ``types``, the agencies and rules of this module, in
    ``suite`` (sm: the agencies' credit codes recorded too)."""
    c = new_consortium(chain, suite=suite)
    schemas = default_schemas()
    for code in types:
        c.add_type(code, schemas[code])
    agencies = {
        "GD-PSB": (GD, ["ID_CARD"]),
        "GD-AMR": (GD, ["BUSINESS_LICENSE"]),
        "GD-CMP": (GD, ["ID_CARD"]),
        "ZJ-EDU": (ZJ, ["DEGREE"]),
    }
    for code, (region, allowed) in agencies.items():
        if all(t in types for t in allowed):
            c.add_agency(code, region, allowed)
            if suite != "intl":
                c.registry.set_agency_credit_code(c.admins[region], code, CREDIT_CODES[code])
    for verifier, cert_type, issuer in RULES:
        if cert_type in types:
            c.registry.set_recognition(c.admins[verifier], verifier, cert_type, issuer)
    return c


def save_deployment(c: Consortium, home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "deployment.json"
    c.deployment.save(path)
    return path


def issue_rows(
    c: Consortium,
    agency: str,
    cert_type: str,
    rows: list[dict[str, Any]],
    out: Path,
    *,
    valid_from: str | None = VALID_FROM,
    valid_until: str | None = None,
    signer: LocalAccount | BatchSigner | None = None,
) -> list[dict[str, Any]]:
    """Issue ``rows`` through the real pipeline; returns the documents (bundle order)."""
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out.with_suffix(".jsonl")
    rows_path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    request = IssueRequest(
        agency=agency,
        cert_type=cert_type,
        rows_path=rows_path,
        out_dir=out,
        bundle=True,
        valid_from=valid_from,
        valid_until=valid_until,
        workers=1,
        allow_expired=True,  # the fixtures issue expired certificates on purpose (to verify EXPIRED)
    )
    result = issue(c.registry, signer or c.signer(agency), c.deployer, request, schema_for(c.registry, cert_type))
    assert result.issued == len(rows) and not result.bad_rows, result.to_json()
    return list(load_bundle(result.bundle))


def _salts(fields: dict[str, str]) -> dict[str, bytes]:
    """Salts for a document built by hand: one per holder field, and — in the format revision
    where metadata entries are salted too (no ``META_SALT``) — one per metadata entry."""
    import ledger.document as document

    names = list(fields)
    if not hasattr(document, "META_SALT"):
        names = [*document.META_FIELDS, *names]
    return new_salts(names)


def unanchored_document(c: Consortium, agency: str = "GD-PSB", cert_type: str = "ID_CARD") -> dict[str, Any]:
    """A well-formed, correctly signed document whose batch was never anchored (in the
    deployment's suite: certledger/2 in sm, with its SM2 batch signature)."""
    fields = {"name": "王五", "sex": "M", "birthDate": "1990-01-01", "idNumber": "440106199001010000"}
    form: dict[str, Any] = {} if c.suite == "intl" else {"version": 2, "suite": c.suite}
    cert = Certificate(cert_type, agency, GD, VALID_FROM, None, fields, _salts(fields), **form)
    h = cert.compute_hash()
    other = replace(cert, fields={**fields, "name": "赵六"})
    tree = build_tree([h, other.compute_hash()])
    d = c.deployment
    signatures, sm2 = c.signer(agency).sign(
        tree.root, type_id(cert_type), agency_id(agency), d.chain_id, d.certificate_registry
    )
    anchor = Anchor(
        d.chain_id,
        d.certificate_registry,
        tree.root,
        tuple(tree.proof(h)),
        signatures[:65],
        c.agency_keys[agency].address,
        sm2_signature=sm2,
    )
    return replace(cert, anchor=anchor).to_json()


def chain_time(chain: Chain, block: int | str = "latest") -> int:
    return int(chain.w3.eth.get_block(block)["timestamp"])


def wait_for_next_second(chain: Chain, after: int) -> None:
    """Make the next block's time later than ``after``: wait for the wall clock, then pin the next
    block's timestamp (anvil may stamp blocks ahead of the wall clock when several are mined in
    one second, so waiting alone is not enough)."""
    wait_until(lambda: time.time() >= after + 1.05, timeout=10, what="the wall clock's next second")
    if chain_time(chain) <= after:
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [after + 1])


# ---------------------------------------------------------------------- databases


class PgDatabase:
    """A fresh PostgreSQL database, dropped (WITH (FORCE)) by ``drop``."""

    def __init__(self) -> None:
        self.name, self.url = create_pg_database("certledger_api")

    def drop(self) -> None:
        drop_pg_databases(self.name)


@dataclass
class Mirror:
    kind: str
    url: str
    store: MirrorStore
    indexer: Indexer

    @property
    def queries(self) -> MirrorQueries:
        return MirrorQueries(self.store)

    def sync(self) -> None:
        self.indexer.catch_up()


def open_mirror(kind: str, url: str, rpc_url: str, deployment: Deployment, **config: Any) -> Mirror:
    store = MirrorStore(url)
    store.open(deployment)
    return Mirror(kind, url, store, Indexer(rpc_url, deployment, store, IndexerConfig(**config)))


# ---------------------------------------------------------------------- the world


@dataclass
class World:
    node: Node
    chain: Chain
    c: Consortium
    home: Path
    docs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roots: dict[str, bytes] = field(default_factory=dict)
    times: dict[str, int] = field(default_factory=dict)
    mirrors: dict[str, Mirror] = field(default_factory=dict)

    # name -> what a verification (mirror or chain, no verifier region, as of now) says
    SETS: ClassVar[dict[str, str]] = {
        "id": "6 ID_CARD of GD-PSB: [0] valid, [1] revoked, [2] suspended, [3] suspended then reinstated, [4], [5] valid",
        "biz": "2 BUSINESS_LICENSE of GD-AMR, valid",
        "degree": "1 DEGREE of ZJ-EDU (330000), valid",
        "batch_revoked": "3 ID_CARD of GD-PSB, whole batch revoked",
        "batch_suspended": "2 ID_CARD of GD-PSB, whole batch suspended",
        "expired": "1 ID_CARD valid 2020-01-01..2021-01-01",
        "future": "1 ID_CARD valid from 2099-01-01",
        "cmp_early": "1 ID_CARD of GD-CMP anchored before its key's compromise: valid",
        "cmp_late": "1 ID_CARD of GD-CMP anchored at the compromise time: INVALID (KEY_COMPROMISED)",
    }

    @property
    def deployment(self) -> Deployment:
        return self.c.deployment

    @property
    def registry(self) -> Registry:
        return self.c.registry

    def doc(self, name: str, i: int = 0) -> dict[str, Any]:
        """A deep copy of a document (tests may edit it freely)."""
        return copy.deepcopy(self.docs[name][i])

    def cert(self, name: str, i: int = 0) -> Certificate:
        return Certificate.from_json(self.docs[name][i])[0]

    def hash(self, name: str, i: int = 0) -> str:
        return self.docs[name][i]["hash"]

    def sync(self) -> None:
        for m in self.mirrors.values():
            m.sync()

    def mirror(self, kind: str = "sqlite") -> Mirror:
        if kind == "postgresql" and kind not in self.mirrors:
            require_postgres()
        return self.mirrors[kind]

    def mirror_verifier(self, kind: str = "sqlite", **limits: Any) -> Verifier:
        self.sync()
        return Verifier(MirrorSource(self.mirror(kind).queries, **limits), self.deployment)

    def chain_verifier(self, rpc_url: str | None = None) -> Verifier:
        chain = self.chain if rpc_url is None else Chain(rpc_url, timeout=2.0)
        return Verifier(ChainSource(Registry(chain, self.deployment)), self.deployment)

    def settings(self, kind: str = "sqlite", **overrides: Any) -> Any:
        from api.app import ApiSettings

        values: dict[str, Any] = {
            "home": self.home,
            "deployment": self.home / "deployment.json",
            "rpc_url": self.node.url,
            "db_url": self.mirror(kind).url,
        }
        values.update(overrides)
        return ApiSettings(**values)

    def app(self, kind: str = "sqlite", **overrides: Any) -> FastAPI:
        from api.app import create_app

        return create_app(self.settings(kind, **overrides))


def build_world(directory: Path, suite: str = "intl") -> World:
    node = start_anvil(directory)
    try:
        chain = Chain(node.url)
        c = new_deployment(chain, suite=suite)
        home = directory / "home"
        save_deployment(c, home)
        w = World(node, chain, c, home)
        out = directory / "issued"

        def put(name: str, docs: list[dict[str, Any]]) -> None:
            w.docs[name] = docs
            w.roots[name] = bytes.fromhex(docs[0]["anchor"]["root"][2:])

        # The CMP key's second agency key is not needed: one key, reported compromised later.
        put("id", issue_rows(c, "GD-PSB", "ID_CARD", id_rows(6), out / "id"))
        put("biz", issue_rows(c, "GD-AMR", "BUSINESS_LICENSE", biz_rows(2), out / "biz"))
        put("degree", issue_rows(c, "ZJ-EDU", "DEGREE", degree_rows(1), out / "degree"))
        put("batch_revoked", issue_rows(c, "GD-PSB", "ID_CARD", id_rows(3), out / "batch_revoked"))
        put("batch_suspended", issue_rows(c, "GD-PSB", "ID_CARD", id_rows(2), out / "batch_suspended"))
        put("expired", issue_rows(c, "GD-PSB", "ID_CARD", id_rows(1), out / "expired", valid_until="2021-01-01"))
        put("future", issue_rows(c, "GD-PSB", "ID_CARD", id_rows(1), out / "future", valid_from="2099-01-01"))
        put("cmp_early", issue_rows(c, "GD-CMP", "ID_CARD", id_rows(1), out / "cmp_early"))
        w.times["issued"] = chain_time(chain)
        w.times["issued_block"] = chain.block_number()

        # One chain second later: the late anchor and every status change.
        wait_for_next_second(chain, w.times["issued"])
        put("cmp_late", issue_rows(c, "GD-CMP", "ID_CARD", id_rows(1), out / "cmp_late"))
        w.times["cmp_late"] = chain_time(chain)
        assert w.times["cmp_late"] > w.times["issued"]
        key = c.agency_keys["GD-PSB"]
        reg = c.registry

        def h(name: str, i: int) -> bytes:
            return bytes.fromhex(w.docs[name][i]["hash"][2:])

        reg.set_certificate_status(key, "GD-PSB", h("id", 1), Status.REVOKED, "HOLDER_REQUEST")
        w.times["revoked"] = chain_time(chain)
        reg.set_certificate_status(key, "GD-PSB", h("id", 2), Status.SUSPENDED, "UNDER_REVIEW")
        reg.set_certificate_status(key, "GD-PSB", h("id", 3), Status.SUSPENDED, "UNDER_REVIEW")
        reg.set_certificate_status(key, "GD-PSB", h("id", 3), Status.ACTIVE, "REVIEW_CLEARED")
        reg.set_batch_status(c.admins[GD], "GD-PSB", w.roots["batch_revoked"], Status.REVOKED, "ISSUED_IN_ERROR")
        reg.set_batch_status(c.admins[GD], "GD-PSB", w.roots["batch_suspended"], Status.SUSPENDED, "UNDER_REVIEW")
        reg.report_compromised(c.admins[GD], c.agency_keys["GD-CMP"].address, w.times["cmp_late"])

        w.mirrors["sqlite"] = open_mirror("sqlite", f"sqlite:///{directory}/mirror.db", node.url, c.deployment)
        w.sync()
        return w
    except BaseException:
        node.stop()
        raise


# ---------------------------------------------------------------------- document edits


def flip_hex(text: str, position: int = -1) -> str:
    """The same hex string with one digit changed."""
    chars = list(text)
    chars[position] = "0" if chars[position] != "0" else "1"
    return "".join(chars)


def forge_signature(doc: dict[str, Any]) -> dict[str, Any]:
    """Re-sign the document's batch root with a random key (everything else unchanged)."""
    a = doc["anchor"]
    sig = sign_batch(
        Account.create(),
        bytes.fromhex(a["root"][2:]),
        type_id(doc["type"]),
        agency_id(doc["issuer"]["agency"]),
        a["chainId"],
        a["registry"],
    )
    doc["anchor"]["signature"] = "0x" + sig.hex()
    return doc


def check_of(result: Any, name: str) -> dict[str, Any]:
    """The check ``name`` of a result (engine object or API JSON)."""
    checks = result["checks"] if isinstance(result, dict) else [c.to_json() for c in result.checks]
    found = [c for c in checks if c["name"] == name]
    assert len(found) == 1, checks
    return found[0]


def failing(result: Any) -> list[tuple[str, str]]:
    """(name, code) of every check that failed or could not decide."""
    checks = result["checks"] if isinstance(result, dict) else [c.to_json() for c in result.checks]
    return [(c["name"], c["code"]) for c in checks if c["outcome"] in ("FAIL", "ERROR")]


def skipped_checks(result: Any) -> list[str]:
    """Names of the checks that were skipped."""
    checks = result["checks"] if isinstance(result, dict) else [c.to_json() for c in result.checks]
    return [c["name"] for c in checks if c["outcome"] == "SKIPPED"]


# ---------------------------------------------------------------------- answers as published


def published_model(app: FastAPI, method: str, path: str) -> type[BaseModel] | None:
    """The response model a route publishes for ``method path`` (None: no model, or no route)."""
    for route in iter_route_contexts(app.routes):  # included routers' routes too
        regex = getattr(route, "path_regex", None)
        if method in (route.methods or ()) and regex is not None and regex.fullmatch(path):
            model = getattr(route, "response_model", None)
            return model if isinstance(model, type) and issubclass(model, BaseModel) else None
    return None


def conforms(model: type[BaseModel], body: Any) -> bool:
    """Whether ``body`` is exactly an instance of ``model`` as JSON: nothing missing, nothing
    extra, nothing of another type (the routes answer JSON they build themselves: FastAPI does
    not validate it, so the tests do)."""
    try:
        return bool(model.model_validate(body).model_dump(mode="json", exclude_unset=True) == body)
    except ValidationError:
        return False


def checked_client(app: FastAPI, **kwargs: Any) -> TestClient:
    """A TestClient that fails the test when a 200 answer of a route with a response model does
    not conform to it exactly (see ``conforms``)."""
    client = TestClient(app, **kwargs)

    def check(response: httpx.Response) -> None:
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
            return
        model = published_model(app, response.request.method, response.request.url.path)
        if model is not None:
            response.read()
            body = response.json()
            assert conforms(model, body), f"{response.request.url.path}: the answer is not a {model.__name__}: {body}"

    client.event_hooks = {"request": [], "response": [check]}
    return client
