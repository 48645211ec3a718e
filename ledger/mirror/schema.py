"""The mirror's tables (SQLAlchemy 2 Core; SQLite and PostgreSQL alike).

Everything is stored as events with the block that carried them, so that undoing a reorg is
one ``DELETE ... WHERE block > ancestor`` per table and the state at any past time is a query
over the events up to then. Certificates are the one big table: (hash, batch id), with
everything else reached through the batch.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# 3: batches keyed by (agency, root), status roles, consortium actions, region void windows
# 4: the national profile: batches' SM2 signatures and identifier-tag commitments, keys' SM2
#    public keys, identifier tags, agencies' credit codes
# 5: holder bindings (the device keys agencies bind to their certificates)
SCHEMA_VERSION = 5

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Hashes of blocks we indexed (those with events, and each checkpoint): a reorg is detected
# when the chain no longer has them, and rolled back to the newest one it still has.
blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("time", BigInteger, nullable=False),
)


def _event_columns() -> list[Column]:
    return [
        Column("block", BigInteger, nullable=False),
        Column("log_index", Integer, nullable=False),
        Column("tx", LargeBinary(32), nullable=False),
        Column("time", BigInteger, nullable=False),
    ]


# One row per anchoring. A batch is identified by (agency, root): other agencies may anchor the
# same root (they never affect this agency's), and the same agency anchors a root again only
# when its earlier anchoring is void (key compromised at anchoring, region removed with a
# cut-off): the newest anchoring of (agency, root) is the batch, as on chain.
batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("cert_type", String(32), nullable=False),
    Column("key", String(42), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sm2_signature", LargeBinary(64), nullable=True),  # sm suite: the agency's SM2 signature
    Column("identifier_tags_hash", LargeBinary(32), nullable=True),  # keccak256 of its tags; NULL: none
    *_event_columns(),
    Index("ix_batches_agency_root", "agency", "root"),
    Index("ix_batches_root", "root"),
    Index("ix_batches_block", "block"),
)

# The contract stores roots only, so a hash may appear in several batches (of the same agency,
# or anchored by other agencies): one row per (hash, batch).
certificates = Table(
    "certificates",
    metadata,
    Column("hash", LargeBinary(32), primary_key=True),
    Column("batch_id", Integer, primary_key=True, autoincrement=False),
    Index("ix_certificates_batch", "batch_id"),
    sqlite_with_rowid=False,
)

# kind: 0 = one certificate (subject = certificate hash), 1 = a whole batch (subject = root);
# role: who acted (ledger.contracts.Role: agency key, region admin, consortium)
status_events = Table(
    "status_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("subject", LargeBinary(32), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("agency", String(32), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("actor", String(42), nullable=False),
    Column("role", SmallInteger, nullable=False),
    *_event_columns(),
    Index("ix_status_subject", "subject", "block", "log_index"),
    Index("ix_status_block", "block"),
)

# kind: added (value = activeFrom), retired (value = retiredAt), compromised (value = since;
# actor, role = who reported), corrected (value = the consortium's corrected since, 0 = cleared),
# enabled (value = the region epoch it was enabled in again)
key_events = Table(
    "key_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("address", String(42), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("actor", String(42), nullable=True),
    Column("role", SmallInteger, nullable=True),
    Column("sm2_public_key", LargeBinary(64), nullable=True),  # added: the SM2 key (x || y) registered with it
    *_event_columns(),
    Index("ix_key_events_address", "address"),
    Index("ix_key_events_agency", "agency"),
    Index("ix_key_events_block", "block"),
)

# kind: registered (region), suspended, reactivated, type_allowed / type_forbidden (cert_type),
# credit_code (credit_code: the unified social credit code, GB 32100)
agency_events = Table(
    "agency_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("agency", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region", Integer, nullable=True),
    Column("cert_type", String(32), nullable=True),
    Column("credit_code", String(18), nullable=True),
    *_event_columns(),
    Index("ix_agency_events_agency", "agency"),
    Index("ix_agency_events_block", "block"),
)

# kind: admitted (admin; value = epoch), removed (value = cutoff: anchors in [cutoff, time] are
# void), admin_added / admin_removed (admin), quorum (region 0; value / value2 = the rule's
# numerator / denominator)
region_events = Table(
    "region_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("region", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("admin", String(42), nullable=True),
    Column("value", BigInteger, nullable=True),
    Column("value2", BigInteger, nullable=True),
    *_event_columns(),
    Index("ix_region_events_region", "region"),
    Index("ix_region_events_block", "block"),
)

type_events = Table(
    "type_events",
    metadata,
    Column("cert_type", String(32), primary_key=True),
    Column("schema_hash", LargeBinary(32), nullable=False),
    Column("schema", Text, nullable=False),
    *_event_columns(),
    Index("ix_type_events_block", "block"),
)

# issuer 0 = any region; removed = the rule was removed by this event
recognition_events = Table(
    "recognition_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("verifier", Integer, nullable=False),
    Column("cert_type", String(32), nullable=False),
    Column("issuer", Integer, nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("removed", Boolean, nullable=False),
    *_event_columns(),
    Index("ix_recognition_rule", "verifier", "cert_type", "issuer", "block", "log_index"),
    Index("ix_recognition_block", "block"),
)

# The identifier tags a batch anchored (16 bytes naming a GB/T 36904 identifier, not the
# identifier itself), one row per (tag, certificate) of each anchoring; certificates without
# identifier have none. A tag anchored by two agencies has rows of both.
identifier_tags = Table(
    "identifier_tags",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tag", LargeBinary(16), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("cert_hash", LargeBinary(32), nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    *_event_columns(),
    Index("ix_identifier_tags_tag", "tag"),
    Index("ix_identifier_tags_block", "block"),
)

# The agencies' holder bindings (HolderBound): key_hash is the SHA-256 of the device key the
# agency bound to its certificate (32 zero bytes: unbound, as on chain); the latest event of
# (agency, cert_hash) is the binding. actor, role: who bound (ledger.contracts.Role: agency
# key, region admin).
holder_events = Table(
    "holder_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("agency", String(32), nullable=False),
    Column("cert_hash", LargeBinary(32), nullable=False),
    Column("key_hash", LargeBinary(32), nullable=False),
    Column("actor", String(42), nullable=False),
    Column("role", SmallInteger, nullable=False),
    *_event_columns(),
    Index("ix_holder_events_certificate", "cert_hash", "agency", "block", "log_index"),
    Index("ix_holder_events_block", "block"),
)

# Tables whose rows carry a block number and are removed when a reorg undoes that block.
EVENT_TABLES = (
    status_events,
    key_events,
    agency_events,
    region_events,
    type_events,
    recognition_events,
    identifier_tags,
    holder_events,
)
