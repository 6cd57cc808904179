"""``fulfilhub db copy``: move a whole store to another database (SQLite to PostgreSQL).

The target is migrated to the same schema revision first and must hold no rows: a copy
never merges. Tables go parent before child, in chunks, all in one transaction on the
target, so a copy that fails leaves the target as empty as it was. Then each table is
verified on both sides: the row count and a digest (SHA-256 over every row, ordered by
primary key, values in a canonical text form). PostgreSQL's id sequences are moved past
the copied ids so new rows do not collide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreError
from . import Store, schema, safe_url, upgrade

CHUNK = 2000


@attrs.frozen(kw_only=True)
class TableCopy:
    """One table's copy: rows on each side and their digests."""

    table: str
    rows: int
    digest: str
    target_rows: int
    target_digest: str

    @property
    def verified(self) -> bool:
        return self.rows == self.target_rows and self.digest == self.target_digest


def copy(source_url: str, target_url: str, *, progress: Callable[[str, int], None] | None = None) -> list[TableCopy]:
    """Copy every table of the store at ``source_url`` into the empty store at ``target_url``.

    Raises StoreError when the source is not at the current schema revision, when the
    target already holds rows (naming the tables), or when a verification differs.
    """
    source = Store.open(source_url)
    try:
        upgrade(target_url)
        target = Store.open(target_url)
        try:
            with target.read() as conn:
                filled = [t.name for t in schema.metadata.sorted_tables
                          if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None]
            if filled:
                raise StoreError(f"target {safe_url(target_url)} is not empty (rows in {', '.join(filled)}); "
                                 "db copy fills an empty store only: point it at a new database")
            with source.read() as src, target.transaction() as tx:
                for table in schema.metadata.sorted_tables:
                    copied = 0
                    for chunk in _chunks(src, table):
                        tx.execute(table.insert(), chunk)
                        copied += len(chunk)
                        if progress:
                            progress(table.name, copied)
                    if tx.conn.dialect.name == "postgresql":
                        _move_sequences(tx.conn, table)
            with source.read() as src, target.read() as dst:
                results = [TableCopy(table=t.name, rows=n, digest=d, target_rows=tn, target_digest=td)
                           for t in schema.metadata.sorted_tables
                           for (n, d), (tn, td) in [(digest(src, t), digest(dst, t))]]
        finally:
            target.close()
    finally:
        source.close()
    wrong = [r.table for r in results if not r.verified]
    if wrong:
        raise StoreError(f"db copy: the target differs from the source in {', '.join(wrong)} after the copy")
    return results


def _ordered(table: sa.Table) -> sa.Select:
    key = list(table.primary_key.columns) or list(table.columns)
    return sa.select(table).order_by(*key)


def _chunks(conn: Connection, table: sa.Table) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(yield_per=CHUNK).execute(_ordered(table))
    for part in result.partitions(CHUNK):
        yield [dict(row._mapping) for row in part]


def digest(conn: Connection, table: sa.Table) -> tuple[int, str]:
    """``(rows, sha256)`` of a table, rows in primary-key order, values as canonical text."""
    h, rows = hashlib.sha256(), 0
    for row in conn.execute(_ordered(table)):
        h.update(json.dumps([_canonical(v) for v in row], default=str, sort_keys=True).encode())
        h.update(b"\n")
        rows += 1
    return rows, h.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _move_sequences(conn: Connection, table: sa.Table) -> None:
    for column in table.primary_key.columns:
        if column.autoincrement is True or (column.autoincrement == "auto" and isinstance(column.type, sa.Integer)):
            conn.execute(sa.text(
                "SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE((SELECT MAX(" + column.name + ") FROM "
                + table.name + "), 0) + 1, false) WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"),
                {"t": table.name, "c": column.name})
