"""The webhook inbox: verified deliveries, stored as they arrived, processed by the runner.

The server writes one row per delivery (``instance``, the vendor's ``delivery_id``)
and answers at once; a delivery id seen before is not stored again. The runner's
``process_inbox`` job claims pending rows oldest first and marks each one in the same
transaction as the engine's writes, so a delivery is processed exactly once: killed
before that commit, the row is still pending and is processed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sqlalchemy.dialects import postgresql, sqlite

from . import Tx
from .schema import webhook_inbox as inbox

PENDING, PROCESSED, IGNORED, FAILED = "pending", "processed", "ignored", "failed"
STATUSES = (PENDING, PROCESSED, IGNORED, FAILED)

#: Request headers never kept: credentials a proxy or a misconfigured vendor might send.
DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def keep_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping for ``parse_webhook`` and for a person: names lower-cased,
    credentials dropped."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}


def add(tx: Tx, *, instance: str, kind: str, delivery_id: str, received_at: datetime, sent_at: datetime | None,
        headers: Mapping[str, str], body: bytes) -> bool:
    """Store one verified delivery; False (nothing written) when its id was seen before."""
    row = {"instance": instance, "kind": kind, "delivery_id": delivery_id, "received_at": received_at,
           "sent_at": sent_at, "headers": keep_headers(headers), "body": body, "status": PENDING, "attempts": 0}
    dialect = tx.conn.dialect.name
    insert = (postgresql.insert(inbox) if dialect == "postgresql" else sqlite.insert(inbox)).on_conflict_do_nothing(
        index_elements=["instance", "delivery_id"])
    # RETURNING says whether it went in (psycopg does not count the rows of an upsert)
    return tx.execute(insert.returning(inbox.c.id), row).first() is not None


def pending(conn: Connection, *, limit: int = 500) -> list[sa.Row]:
    """Pending deliveries, oldest first."""
    stmt = sa.select(inbox).where(inbox.c.status == PENDING).order_by(inbox.c.id).limit(limit)
    return conn.execute(stmt).all()


def get(conn: Connection, delivery: int) -> sa.Row | None:
    return conn.execute(sa.select(inbox).where(inbox.c.id == delivery)).first()


def finish(tx: Tx, delivery: int, status: str, at: datetime, *, result: str | None = None,
           error: str | None = None, expected: str | None = PENDING) -> bool:
    """Mark a delivery done (``processed``/``ignored``/``failed``) with what it did.

    Compare-and-set on ``expected``: False when someone else finished it first (the
    caller then rolls its transaction back).
    """
    stmt = inbox.update().where(inbox.c.id == delivery)
    if expected is not None:
        stmt = stmt.where(inbox.c.status == expected)
    done = tx.execute(stmt.values(status=status, processed_at=at, result=result, error=error,
                                  attempts=inbox.c.attempts + 1))
    return done.rowcount == 1


def reopen(tx: Tx, delivery: int) -> bool:
    """Put a delivery back to pending (``fulfilhub webhooks replay``); False if there is none."""
    done = tx.execute(inbox.update().where(inbox.c.id == delivery).values(status=PENDING, processed_at=None, error=None))
    return done.rowcount == 1


def listing(conn: Connection, *, status: str | None = None, instance: str | None = None, limit: int = 50) -> list[sa.Row]:
    """The newest deliveries (without their bodies), newest first."""
    columns = [c for c in inbox.c if c.name not in ("body", "headers")]
    stmt = sa.select(*columns).order_by(inbox.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(inbox.c.status == status)
    if instance:
        stmt = stmt.where(inbox.c.instance == instance)
    return conn.execute(stmt).all()


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """How many deliveries wait, and when the oldest of them arrived."""
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(inbox.c.received_at)).where(inbox.c.status == PENDING)
    ).one()
    return int(count), (inbox.c.received_at.type.process_result_value(oldest, conn.dialect)
                        if isinstance(oldest, str) else oldest)


def last_processed(conn: Connection, since: datetime) -> dict[tuple[str, str], datetime]:
    """When the newest processed delivery of each instance arrived, for the instances with
    one since ``since``: ``{(kind, instance): received_at}``."""
    rows = conn.execute(
        sa.select(inbox.c.kind, inbox.c.instance, sa.func.max(inbox.c.received_at))
        .where(inbox.c.status == PROCESSED, inbox.c.received_at >= since)
        .group_by(inbox.c.kind, inbox.c.instance)
    ).all()
    decode = inbox.c.received_at.type.process_result_value
    return {(kind, instance): decode(at, conn.dialect) if isinstance(at, str) else at for kind, instance, at in rows}


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(inbox.c.status, sa.func.count()).group_by(inbox.c.status)).all()
    return {status: int(n) for status, n in rows}


def as_dict(row: Any) -> dict[str, Any]:
    """A row for ``--json``: the body as text where it is UTF-8 (else its size)."""
    out = dict(row._mapping)
    body = out.pop("body", None)
    if body is not None:
        try:
            out["body"] = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            out["body_bytes"] = len(body)
    return out
