"""Trust snapshots: the ledger's trust and status as of one block, signed by the consortium's
region admins, for verification with no node and no mirror (``certledger verify --offline``).

A snapshot is a zip file of three members:

- ``manifest.json``: the format, the deployment (chain id, contracts, suite), the block it is
  as of (number, hash, time), when it was made, the digest of the database (the suite's hash:
  SHA-256 or SM3), and counts;
- ``trust.sqlite``: the mirror's tables at that block, in the mirror's own schema, so that the
  mirror's queries answer from it unchanged: batches, certificate hashes (sorted by hash: an
  exact look-up, no false positives), status events (every revocation and suspension, with
  when and by whom), keys and their life cycles, agencies, regions and admins, types,
  recognition rules, holder bindings. No identifier tags, no receipts, nothing personal (the
  mirror has nothing personal either);
- ``signatures.json``: the region admins' EIP-712 signatures over the snapshot's digest.

The digest (``TrustSnapshot`` typed data: the block, its hash and time, and the suite's hash of
the manifest, which names the database's digest) is what admins sign and what
``Consortium.anchorSnapshot`` publishes beside the snapshot's CID.

Offline, a snapshot is trusted when admins of more than the quorum rule's share of the member
regions signed it, by a *pinned* consortium (``Trust``: the regions, their admins and the rule,
read once from the chain, or from the last snapshot trusted): the snapshot's own member list is
never its own proof. A trusted snapshot with another membership moves the pin forward, as a
consortium's signed root moves in TUF. A snapshot older than the verifier's limit answers ERROR.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_typing import Hash32
from eth_utils import to_checksum_address
from sqlalchemy import create_engine

from . import eip712
from .deployment import Deployment
from .errors import InvalidInput, LedgerError
from .ids import iso_time
from .mirror import schema as s
from .mirror.queries import MirrorQueries
from .mirror.store import MirrorStore
from .signing import DOMAIN_NAME, DOMAIN_VERSION
from .suites import suite
from .verification.sources import MirrorSource, SourceHead, SourceUnavailable

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

FORMAT = "certledger-trust-snapshot/1"
MANIFEST, DATABASE, SIGNATURES = "manifest.json", "trust.sqlite", "signatures.json"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no time of their own: same content, same bytes
DEFAULT_MAX_AGE = 24 * 3600  # seconds a snapshot is trusted for revocations; then ERROR
CHUNK = 50_000  # rows copied per round trip

# The mirror's tables a snapshot carries, with the rows as of its block (``blocks``: the
# snapshot's block only; ``meta``: the identity and the checkpoint).
TABLES = (
    s.batches,
    s.certificates,
    s.status_events,
    s.key_events,
    s.agency_events,
    s.region_events,
    s.type_events,
    s.recognition_events,
    s.holder_events,
)
# Indexes the mirror needs for undoing reorganisations and listing a batch, verification never.
UNUSED_INDEXES = (
    "ix_certificates_batch",
    "ix_batches_block",
    "ix_status_block",
    "ix_key_events_block",
    "ix_agency_events_block",
    "ix_region_events_block",
    "ix_type_events_block",
    "ix_recognition_block",
    "ix_holder_events_block",
)
META_KEYS = ("identity", "schema_version", "checkpoint_block", "checkpoint_hash", "deployment_block")

SNAPSHOT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "TrustSnapshot": [
        {"name": "height", "type": "uint64"},
        {"name": "blockHash", "type": "bytes32"},
        {"name": "blockTime", "type": "uint64"},
        {"name": "manifest", "type": "bytes32"},
    ],
}


class SnapshotError(LedgerError):
    """A snapshot that cannot be trusted: malformed, altered, not signed by the consortium,
    of another deployment. Offline verification refuses it (ERROR), never guesses."""

    code = "SNAPSHOT_INVALID"


# ---------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Manifest:
    deployment: dict[str, Any]
    block: int
    block_hash: bytes
    block_time: int
    created_at: int
    database_digest: bytes
    counts: dict[str, int]
    format: str = FORMAT

    @property
    def suite(self) -> str:
        return str(self.deployment.get("suite", "intl"))

    @property
    def chain_id(self) -> int:
        return int(self.deployment["chain_id"])

    @property
    def consortium(self) -> str:
        return to_checksum_address(self.deployment["consortium"])

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "deployment": self.deployment,
            "block": self.block,
            "block_hash": "0x" + self.block_hash.hex(),
            "block_time": self.block_time,
            "block_time_iso": iso_time(self.block_time),
            "created_at": self.created_at,
            "database_digest": "0x" + self.database_digest.hex(),
            "counts": self.counts,
        }

    def encoded(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            d = json.loads(raw)
            if d.get("format") != FORMAT:
                raise SnapshotError(f"not a trust snapshot of format {FORMAT} (found {d.get('format')!r})")
            return cls(
                dict(d["deployment"]),
                int(d["block"]),
                bytes.fromhex(d["block_hash"].removeprefix("0x")),
                int(d["block_time"]),
                int(d["created_at"]),
                bytes.fromhex(d["database_digest"].removeprefix("0x")),
                {str(k): int(v) for k, v in d["counts"].items()},
            )
        except SnapshotError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SnapshotError(f"the snapshot's manifest is malformed ({type(exc).__name__}: {exc})") from None

    def typed_data(self) -> dict[str, Any]:
        return {
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": self.chain_id,
                "verifyingContract": self.consortium,
            },
            "types": SNAPSHOT_TYPES,
            "primaryType": "TrustSnapshot",
            "message": {
                "height": self.block,
                "blockHash": self.block_hash,
                "blockTime": self.block_time,
                "manifest": suite(self.suite).hash(self.encoded()),
            },
        }

    def digest(self) -> bytes:
        """What the region admins sign and ``anchorSnapshot`` publishes (EIP-712)."""
        typed = self.typed_data()
        fields = [(f["name"], f["type"]) for f in SNAPSHOT_TYPES["TrustSnapshot"]]
        return eip712.digest(typed["domain"], "TrustSnapshot", fields, typed["message"])


@dataclass(frozen=True)
class Signature:
    signer: str
    signature: bytes

    def to_json(self) -> dict[str, str]:
        return {"signer": self.signer, "signature": "0x" + self.signature.hex()}


# ---------------------------------------------------------------------- the pinned consortium


@dataclass
class Trust:
    """The consortium an offline verifier trusts: its regions' admins and its quorum rule."""

    chain_id: int
    consortium: str
    rule: tuple[int, int]
    admins: dict[int, list[str]]  # member region -> its admins
    block: int = 0  # the block this membership is as of

    @property
    def quorum(self) -> int:
        """Signatures of this many member regions make a snapshot trusted."""
        return len(self.admins) * self.rule[0] // self.rule[1] + 1

    def region_of(self, address: str) -> int | None:
        for region, admins in self.admins.items():
            if address.lower() in (a.lower() for a in admins):
                return region
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "consortium": self.consortium,
            "rule": list(self.rule),
            "admins": {str(r): list(a) for r, a in sorted(self.admins.items())},
            "block": self.block,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trust:
        try:
            return cls(
                int(d["chain_id"]),
                to_checksum_address(d["consortium"]),
                (int(d["rule"][0]), int(d["rule"][1])),
                {int(r): [to_checksum_address(a) for a in admins] for r, admins in d["admins"].items()},
                int(d.get("block", 0)),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise InvalidInput(f"the trust file is malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: Path) -> Trust:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InvalidInput(
                f"no pinned consortium at {path}: run `certledger snapshot trust` once while online"
            ) from None
        except ValueError as exc:
            raise InvalidInput(f"the trust file {path} is not JSON ({exc})") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def of_mirror(cls, queries: MirrorQueries, deployment: Deployment, block: int) -> Trust:
        """The membership a mirror (or a snapshot's database) records."""
        m = queries.regions()
        if m.rule is None:
            raise InvalidInput("the ledger records no quorum rule yet")
        admins = {r.region: list(r.admins) for r in m.regions if r.member}
        return cls(deployment.chain_id, to_checksum_address(deployment.consortium), m.rule, admins, block)

    def check(self, manifest: Manifest, signatures: Iterable[Signature]) -> list[int]:
        """The member regions whose admins signed ``manifest``; raises unless they reach the quorum."""
        if manifest.chain_id != self.chain_id or manifest.consortium.lower() != self.consortium.lower():
            raise SnapshotError(
                f"the snapshot is of another deployment (chain {manifest.chain_id}, {manifest.consortium}); "
                f"trusted: chain {self.chain_id}, {self.consortium}"
            )
        digest = manifest.digest()
        regions: set[int] = set()
        for sig in signatures:
            try:
                signer = eip712.recover(digest, sig.signature)
            except eip712.SignatureInvalid:  # a malformed signature counts for nothing
                continue
            region = self.region_of(signer)
            if region is not None:
                regions.add(region)
        if len(regions) < self.quorum:
            signed = ", ".join(str(r) for r in sorted(regions)) or "none"
            raise SnapshotError(
                f"the snapshot is not signed by the consortium: admins of {len(regions)} of the "
                f"{self.quorum} member regions needed signed it (regions: {signed})"
            )
        return sorted(regions)


# ---------------------------------------------------------------------- making a snapshot


def create(
    store: MirrorStore,
    deployment: Deployment,
    out: Path,
    *,
    clock: Callable[[], float] = time.time,
    progress: Callable[[str, int], None] | None = None,
) -> Manifest:
    """Write the snapshot of ``store``'s mirror as of its checkpoint to ``out`` (unsigned).

    Read in one transaction (a consistent view while the indexer goes on); the database is
    written beside ``out`` and moved into the zip, so ``out`` appears whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".snapshot-") as tmp:
        db_path = Path(tmp) / DATABASE
        target = create_engine(f"sqlite:///{db_path}")
        s.metadata.create_all(target, tables=[s.meta, s.blocks, *TABLES])
        target.dispose()
        dst = sqlite3.connect(db_path, isolation_level=None)
        dst.execute("PRAGMA journal_mode=OFF")
        dst.execute("PRAGMA synchronous=OFF")
        for index in UNUSED_INDEXES:  # verification never reads by block or lists a batch's hashes
            dst.execute(f"DROP INDEX {index}")
        dst.execute("BEGIN")
        if store.dialect == "sqlite" and store.engine.url.database:
            block, block_row = _copy_from_sqlite(dst, Path(store.engine.url.database), progress)
        else:
            block, block_row = _copy_from_postgres(dst, store, progress)
        counts = _counts(dst)
        dst.execute("COMMIT")
        dst.close()
        manifest = Manifest(
            deployment.to_json(),
            block,
            bytes(block_row[1]),
            int(block_row[2]),
            int(clock()),
            _file_digest(db_path, deployment.suite),
            counts,
        )
        _write_zip(out, manifest, db_path, [])
    return manifest


def _checkpoint(dst: sqlite3.Connection, meta: dict[str, str], block_row: Any) -> int:
    """The mirror's checkpoint block, its identity and the block's row written first."""
    if block_row is None or not meta.get("checkpoint_hash"):
        raise InvalidInput("the mirror has indexed nothing yet: run `certledger index` first")
    _copy_rows(dst, s.meta, [(k, meta[k]) for k in META_KEYS if k in meta])
    _copy_rows(dst, s.blocks, [tuple(block_row)])
    return int(meta["checkpoint_block"])


def _select(table: Any, prefix: str = "") -> str:
    """Every column of a mirror table, the certificate hashes in key order."""
    columns = ", ".join(c.name for c in table.columns)
    order = " ORDER BY hash, batch_id" if table is s.certificates else ""
    return f"SELECT {columns} FROM {prefix}{table.name}{order}"


def _copy_from_sqlite(
    dst: sqlite3.Connection, source: Path, progress: Callable[[str, int], None] | None
) -> tuple[int, Any]:
    """A SQLite mirror: attached read-only to the snapshot's connection and copied table by
    table inside SQLite, in one read transaction of the source (WAL: a stable view while the
    indexer writes)."""
    dst.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
    meta = dict(dst.execute("SELECT key, value FROM src.meta").fetchall())
    block_row = dst.execute(
        "SELECT number, hash, time FROM src.blocks WHERE number = ?", (int(meta.get("checkpoint_block", -1)),)
    ).fetchone()
    block = _checkpoint(dst, meta, block_row)
    for table in TABLES:
        columns = ", ".join(c.name for c in table.columns)
        done = dst.execute(f"INSERT INTO main.{table.name} ({columns}) {_select(table, 'src.')}")
        if progress is not None:
            progress(table.name, done.rowcount)
    return block, block_row


def _copy_from_postgres(
    dst: sqlite3.Connection, store: MirrorStore, progress: Callable[[str, int], None] | None
) -> tuple[int, Any]:
    """A PostgreSQL mirror: one REPEATABLE READ transaction, each table streamed through a
    server-side cursor (rows in key order) into the snapshot."""
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.transaction():
            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            # the mirror's sessions end a transaction idle for 5 s; this one waits on SQLite
            # between chunks, alive, for as long as a large mirror takes
            raw.execute("SET LOCAL idle_in_transaction_session_timeout = '10min'")
            meta = dict(raw.execute("SELECT key, value FROM meta").fetchall())
            block_row = raw.execute(
                "SELECT number, hash, time FROM blocks WHERE number = %s", (int(meta.get("checkpoint_block", -1)),)
            ).fetchone()
            block = _checkpoint(dst, meta, block_row)
            for table in TABLES:
                with raw.cursor(name=f"snapshot_{table.name}") as cur:
                    cur.itersize = CHUNK
                    cur.execute(_select(table))
                    while rows := cur.fetchmany(CHUNK):
                        _copy_rows(dst, table, rows)
                        if progress is not None:
                            progress(table.name, len(rows))
    return block, block_row


def _copy_rows(dst: sqlite3.Connection, table: Any, rows: list[Any]) -> None:
    if rows:
        columns = ", ".join(c.name for c in table.columns)
        marks = ", ".join("?" * len(table.columns))
        dst.executemany(f"INSERT INTO main.{table.name} ({columns}) VALUES ({marks})", rows)


def _counts(db: sqlite3.Connection) -> dict[str, int]:
    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    latest = (
        "SELECT status FROM status_events e WHERE kind = {kind} AND NOT EXISTS (SELECT 1 FROM status_events n "
        "WHERE n.subject = e.subject AND n.kind = e.kind AND n.agency = e.agency "
        "AND (n.block > e.block OR (n.block = e.block AND n.log_index > e.log_index)))"
    )
    return {
        "certificates": one("SELECT COUNT(*) FROM certificates"),
        "batches": one("SELECT COUNT(*) FROM batches"),
        "revoked": one(f"SELECT COUNT(*) FROM ({latest.format(kind=0)}) WHERE status = 2"),
        "suspended": one(f"SELECT COUNT(*) FROM ({latest.format(kind=0)}) WHERE status = 1"),
        "revoked_batches": one(f"SELECT COUNT(*) FROM ({latest.format(kind=1)}) WHERE status = 2"),
        "keys": one("SELECT COUNT(DISTINCT address) FROM key_events"),
        "agencies": one("SELECT COUNT(DISTINCT agency) FROM agency_events"),
        "holder_bindings": one("SELECT COUNT(DISTINCT cert_hash) FROM holder_events"),
    }


def _file_digest(path: Path, suite_name: str) -> bytes:
    return suite(suite_name).hash(path.read_bytes())


def _write_zip(out: Path, manifest: Manifest, db_path: Path, signatures: list[Signature]) -> None:
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in ((MANIFEST, manifest.encoded()),):
            z.writestr(zipfile.ZipInfo(name, ZIP_TIME), data)
        info = zipfile.ZipInfo(DATABASE, ZIP_TIME)
        with db_path.open("rb") as src, z.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        body = json.dumps([sig.to_json() for sig in signatures], indent=1).encode()
        z.writestr(zipfile.ZipInfo(SIGNATURES, ZIP_TIME), body)
    os.replace(tmp, out)


# ---------------------------------------------------------------------- reading one


@dataclass
class Snapshot:
    """A snapshot file: its manifest and signatures (the database is read only when opened)."""

    path: Path
    manifest: Manifest
    signatures: list[Signature] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                if not {MANIFEST, DATABASE, SIGNATURES} <= names:
                    raise SnapshotError(f"{path} is not a trust snapshot (members: {', '.join(sorted(names))})")
                manifest = Manifest.from_json(z.read(MANIFEST))
                raw = json.loads(z.read(SIGNATURES))
        except FileNotFoundError:
            raise InvalidInput(f"no such snapshot: {path}") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise SnapshotError(f"{path} is not a trust snapshot ({exc})") from None
        except ValueError as exc:
            raise SnapshotError(f"the snapshot's signatures are malformed ({exc})") from None
        try:
            signatures = [
                Signature(to_checksum_address(x["signer"]), bytes.fromhex(x["signature"].removeprefix("0x")))
                for x in raw
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SnapshotError(f"the snapshot's signatures are malformed ({type(exc).__name__})") from None
        return cls(path, manifest, signatures)

    def sign(self, admin: LocalAccount) -> Signature:
        """Add ``admin``'s signature (replacing an earlier one of the same admin) and rewrite the file."""
        signed = admin.unsafe_sign_hash(Hash32(self.manifest.digest()))
        sig = Signature(admin.address, bytes(signed.signature))
        self.signatures = [x for x in self.signatures if x.signer != admin.address] + [sig]
        with tempfile.TemporaryDirectory(dir=self.path.parent, prefix=".snapshot-") as tmp:
            db_path = Path(tmp) / DATABASE
            with zipfile.ZipFile(self.path) as z, z.open(DATABASE) as src, db_path.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            _write_zip(self.path, self.manifest, db_path, self.signatures)
        return sig

    def signers(self) -> list[str]:
        digest = self.manifest.digest()
        out = []
        for sig in self.signatures:
            try:
                out.append(eip712.recover(digest, sig.signature))
            except eip712.SignatureInvalid:
                out.append("(invalid signature)")
        return out

    def open(self, trust: Trust, cache: Path) -> OpenSnapshot:
        """Check the signatures against the pinned consortium and the database against the
        manifest, then open the database (extracted once into ``cache``, by its digest)."""
        regions = trust.check(self.manifest, self.signatures)
        cache.mkdir(parents=True, exist_ok=True)
        name = self.manifest.database_digest.hex() + ".sqlite"
        db_path = cache / name
        if not db_path.exists():
            tmp = cache / (name + f".{os.getpid()}.tmp")
            with zipfile.ZipFile(self.path) as z, z.open(DATABASE) as src, tmp.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            if _file_digest(tmp, self.manifest.suite) != self.manifest.database_digest:
                tmp.unlink()
                raise SnapshotError("the snapshot's database does not match its signed manifest (altered)")
            os.chmod(tmp, 0o444)
            os.replace(tmp, db_path)
        elif _file_digest(db_path, self.manifest.suite) != self.manifest.database_digest:
            db_path.unlink()  # an altered cache entry: extracted again next time
            raise SnapshotError("the cached snapshot database was altered; open the snapshot again")
        return OpenSnapshot(self, regions, db_path)


@dataclass
class OpenSnapshot:
    """A trusted snapshot, ready to answer verification."""

    snapshot: Snapshot
    signed_by: list[int]
    db_path: Path

    @property
    def manifest(self) -> Manifest:
        return self.snapshot.manifest

    @property
    def _url(self) -> str:
        return f"sqlite:///file:{self.db_path}?mode=ro&immutable=1&uri=true"

    @property
    def deployment(self) -> Deployment:
        return Deployment.from_json(self.manifest.deployment)

    def source(self, *, max_age: float = DEFAULT_MAX_AGE, clock: Callable[[], float] = time.time) -> SnapshotSource:
        store = MirrorStore(self._url)
        return SnapshotSource(MirrorQueries(store), self.manifest, max_age=max_age, clock=clock)

    def trust(self) -> Trust:
        """The membership this snapshot records (to move a pin forward)."""
        store = MirrorStore(self._url)
        try:
            return Trust.of_mirror(MirrorQueries(store), self.deployment, self.manifest.block)
        finally:
            store.dispose()


class SnapshotSource(MirrorSource):
    """Verification from a trusted snapshot: the mirror's queries on the snapshot's database;
    its head is the snapshot's block, and past ``max_age`` (by the block's time) every check
    that needs the ledger answers ERROR: revocations since are unknown."""

    kind = "snapshot"

    def __init__(
        self,
        queries: MirrorQueries,
        manifest: Manifest,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(queries)
        self.manifest, self.max_age, self.clock = manifest, max_age, clock

    def age(self) -> int:
        return max(0, int(self.clock()) - self.manifest.block_time)

    def head(self) -> SourceHead:
        age = self.age()
        if age > self.max_age:
            raise SourceUnavailable(
                f"the trust snapshot is {describe_age(age)} old (block {self.manifest.block}, "
                f"{iso_time(self.manifest.block_time)}), more than the {describe_age(int(self.max_age))} "
                "allowed: revocations since are unknown; fetch a newer snapshot"
            )
        return SourceHead(self.kind, self.manifest.block, 0, age_seconds=age)


def describe_age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def parse_age(text_: str) -> int:
    """``90``, ``90s``, ``15m``, ``24h``, ``7d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text_.strip().lower()
    try:
        if t and t[-1] in units:
            value = int(float(t[:-1]) * units[t[-1]])
        else:
            value = int(float(t))
    except ValueError:
        raise InvalidInput(f"not an age: {text_!r} (use e.g. 3600, 90m, 24h, 7d)") from None
    if value <= 0:
        raise InvalidInput(f"an age must be positive, not {text_!r}")
    return value


def snapshot_facts(opened: OpenSnapshot, source: SnapshotSource) -> dict[str, Any]:
    m = opened.manifest
    return {
        "block": m.block,
        "block_time": iso_time(m.block_time),
        "age_seconds": source.age(),
        "max_age_seconds": int(source.max_age),
        "signed_by_regions": opened.signed_by,
        "digest": "0x" + m.digest().hex(),
        **{k: v for k, v in asdict(m).items() if k == "counts"},
    }
