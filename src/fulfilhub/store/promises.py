"""Promises, stored by revision.

A promise is never changed in place: :func:`record` adds revision n+1 when the terms
differ from the current one and returns the current one unchanged otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Promise
from . import Tx
from .schema import promises

_PROMISE_COLUMNS = ("order_id", "revision", "created_at", "ship_by", "deliver_from", "deliver_by", "timezone",
                    "confidence_from", "confidence_by", "carrier", "service", "level", "basis", "reason")


def _promise(row: Any) -> Promise:
    return Promise(**{name: getattr(row, name) for name in _PROMISE_COLUMNS})


def current(conn: Connection, order_id: str) -> Promise | None:
    """The order's promise in force (its newest revision), or None when none was made."""
    row = conn.execute(
        sa.select(promises).where(promises.c.order_id == order_id).order_by(promises.c.revision.desc()).limit(1)
    ).first()
    return _promise(row) if row is not None else None


def current_many(conn: Connection, order_ids: Iterable[str]) -> dict[str, Promise]:
    """The promise in force for each of ``order_ids`` that has one."""
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, Promise] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        newest = (sa.select(promises.c.order_id, sa.func.max(promises.c.revision).label("revision"))
                  .where(promises.c.order_id.in_(chunk)).group_by(promises.c.order_id).subquery())
        rows = conn.execute(sa.select(promises).join(
            newest, sa.and_(promises.c.order_id == newest.c.order_id, promises.c.revision == newest.c.revision)))
        out.update((row.order_id, _promise(row)) for row in rows)
    return out


def history(conn: Connection, order_id: str) -> list[Promise]:
    """Every revision of the order's promise, oldest first."""
    rows = conn.execute(sa.select(promises).where(promises.c.order_id == order_id).order_by(promises.c.revision))
    return [_promise(row) for row in rows]


def record(tx: Tx, promise: Promise) -> tuple[Promise, bool]:
    """Store ``promise`` as the order's next revision unless it promises the same as the current one.

    Returns the promise in force afterwards (with its revision number) and whether a new
    revision was stored. The caller appends the order event that says why.
    """
    if not promise.order_id:
        raise ValueError("a quote (no order_id) is not stored; give the promise its order_id")
    now = current(tx.conn, promise.order_id)
    if promise.same_terms(now):
        return now, False  # type: ignore[return-value]  # same_terms(None) is False
    stored = attrs.evolve(promise, revision=(now.revision if now else 0) + 1)
    tx.execute(promises.insert().values(**{name: getattr(stored, name) for name in _PROMISE_COLUMNS}))
    return stored, True
