"""The same-run baseline of the indexer benchmark: a bulk insert of the same rows into the same
database, with the same schema and indexes, and no chain.

    python bench/_bulk_insert.py SOURCE_URL TARGET_URL DEPLOYMENT_JSON

SOURCE_URL is the mirror the indexer just built; its rows (every data table: batches,
certificates, block hashes, events) are read into memory first, untimed. TARGET_URL is an
empty database of the same kind (a file beside the indexer's for SQLite, a database on the same
server for PostgreSQL), opened through ``MirrorStore.open`` (the project's schema, indexes and
connection settings: WAL and synchronous=NORMAL on SQLite). Timed: the insert of every row in
one transaction, commit included, the fastest straightforward way for the database, the
certificates sorted in primary key order (hash, batch id; the sort is untimed: the rows are
read back in that order), the cheapest order for the B-trees (on SQLite the table itself, WITHOUT
ROWID; on PostgreSQL its primary key index), so that the baseline is as strong as it gets:

- SQLite: ``executemany`` of ``INSERT INTO certificates (hash, batch_id) VALUES (?, ?)`` on
  the driver's cursor (sqlite3 has no faster bulk path);
- PostgreSQL: ``COPY certificates (hash, batch_id) FROM STDIN (FORMAT BINARY)`` straight into
  the table, the rows built as the format's bytes (faster than psycopg 3's ``write_row``), a
  stronger baseline than an ``executemany`` of INSERTs;

and the other tables' rows (a few hundred) through SQLAlchemy Core's ``insert`` with
``executemany``. Prints one JSON line: rows, seconds, method.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from ledger.deployment import Deployment  # noqa: E402
from ledger.mirror import MirrorStore  # noqa: E402
from ledger.mirror import schema as s  # noqa: E402

OTHER_TABLES = (s.batches, s.blocks, *s.EVENT_TABLES)

METHOD = {
    "sqlite": "sqlite3 executemany of INSERT INTO certificates (hash, batch_id) VALUES (?, ?), "
    "rows in primary key order, one transaction",
    "postgresql": "binary COPY certificates (hash, batch_id) FROM STDIN, rows in primary key order, one transaction",
}


def read_rows(url: str) -> tuple[dict[Any, list[dict[str, Any]]], list[tuple[bytes, int]]]:
    """Every row the indexer wrote to the mirror at ``url`` (the meta table aside), the
    certificates in primary key order (hash, batch id)."""
    store = MirrorStore(url)
    try:
        with store.engine.connect() as conn:
            if store.dialect == "postgresql":  # reading 10 M rows into Python outlasts the mirror's 5 s limit
                conn.exec_driver_sql("SET idle_in_transaction_session_timeout = 0")
            other = {t: [dict(row._mapping) for row in conn.execute(select(t))] for t in OTHER_TABLES}
            for rows in other.values():
                for row in rows:
                    for k, v in row.items():
                        if isinstance(v, memoryview):
                            row[k] = bytes(v)
            certificates = [
                (bytes(h), int(b))
                for h, b in conn.execute(
                    select(s.certificates.c.hash, s.certificates.c.batch_id).order_by(
                        s.certificates.c.hash, s.certificates.c.batch_id
                    )
                )
            ]
    finally:
        store.dispose()
    return other, certificates


def bulk_insert(
    store: MirrorStore, other: dict[Any, list[dict[str, Any]]], certificates: list[tuple[bytes, int]]
) -> float:
    """Insert everything in one transaction; returns the seconds taken, commit included."""
    started = time.perf_counter()
    with store.engine.begin() as conn:
        for table, rows in other.items():
            if rows:
                conn.execute(insert(table), rows)
        raw = conn.connection.driver_connection
        assert raw is not None
        if store.dialect == "sqlite":
            cur = raw.cursor()
            cur.executemany("INSERT INTO certificates (hash, batch_id) VALUES (?, ?)", certificates)
            cur.close()
        else:  # binary COPY: each row as its field count, then each field as its length and bytes
            with raw.cursor() as cur, cur.copy("COPY certificates (hash, batch_id) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
                for i in range(0, len(certificates), 10_000):
                    copy.write(
                        b"".join(
                            b"\x00\x02\x00\x00\x00\x20" + h + b"\x00\x00\x00\x04" + bid.to_bytes(4, "big")
                            for h, bid in certificates[i : i + 10_000]
                        )
                    )
                copy.write(b"\xff\xff")
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    source, target, deployment_json = argv
    other, certificates = read_rows(source)
    store = MirrorStore(target)
    try:
        store.open(Deployment(**json.loads(deployment_json)), rebuild=True)
        seconds = bulk_insert(store, other, certificates)
        with store.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(s.certificates)).scalar()
        assert n == len(certificates), (n, len(certificates))
    finally:
        store.dispose()
    print(
        json.dumps(
            {
                "certificates": len(certificates),
                "other_rows": sum(len(rows) for rows in other.values()),
                "seconds": seconds,
                "method": METHOD[store.dialect],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
