"""Delay assessments, appended when they change; an order's newest is its current one.

:func:`record` appends an assessment only when its finding differs from the order's
newest one. Consumers (notices, compensation) read them in order of ``id`` with
:func:`since`, keeping their own cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import DelayAssessment
from . import Tx
from .schema import delay_assessments, orders, promises, shipments


_ASSESSMENT_COLUMNS = ("order_id", "assessed_at", "state", "reason", "exception", "days_late", "revised_eta",
                       "confidence", "promise_revision", "detail")


def _assessment(row: Any) -> DelayAssessment:
    return DelayAssessment(**{name: getattr(row, name) for name in _ASSESSMENT_COLUMNS})


def current(conn: Connection, order_id: str) -> DelayAssessment | None:
    """The order's newest delay assessment, or None when it was never assessed."""
    row = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.order_id == order_id)
                       .order_by(delay_assessments.c.id.desc()).limit(1)).first()
    return _assessment(row) if row is not None else None


def history(conn: Connection, order_id: str) -> list[DelayAssessment]:
    """Every stored assessment of the order, oldest first."""
    rows = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.order_id == order_id)
                        .order_by(delay_assessments.c.id))
    return [_assessment(row) for row in rows]


def record(tx: Tx, assessment: DelayAssessment) -> int | None:
    """Append ``assessment`` if its finding differs from the order's newest; return its id, else None."""
    if assessment.same_finding(current(tx.conn, assessment.order_id)):
        return None
    values = {name: getattr(assessment, name) for name in _ASSESSMENT_COLUMNS}
    return tx.execute(delay_assessments.insert().values(**values)).inserted_primary_key[0]


def record_many(tx: Tx, assessments: Sequence[DelayAssessment]) -> list[DelayAssessment]:
    """:func:`record` for many orders at once (one order each): append those whose finding
    differs from their order's newest, in one statement; return the ones appended."""
    newest = current_many(tx.conn, [a.order_id for a in assessments])
    fresh = [a for a in assessments if not a.same_finding(newest.get(a.order_id))]
    if fresh:
        tx.execute(delay_assessments.insert(), [{name: getattr(a, name) for name in _ASSESSMENT_COLUMNS} for a in fresh])
    return fresh


def since(conn: Connection, after_id: int, *, limit: int = 500) -> Sequence[tuple[int, DelayAssessment]]:
    """Stored assessments with an id above ``after_id``, in order: what a consumer has not yet seen."""
    rows = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.id > after_id)
                        .order_by(delay_assessments.c.id).limit(limit))
    return [(row.id, _assessment(row)) for row in rows]


def current_all(conn: Connection, *, exclude_on_track: bool = True) -> list[DelayAssessment]:
    """Every order's newest assessment (only those at risk or late, unless ``exclude_on_track`` is False)."""
    newest = sa.select(sa.func.max(delay_assessments.c.id)).group_by(delay_assessments.c.order_id)
    query = sa.select(delay_assessments).where(delay_assessments.c.id.in_(newest))
    if exclude_on_track:
        query = query.where(delay_assessments.c.state != "on_track")
    return [_assessment(row) for row in conn.execute(query.order_by(delay_assessments.c.id))]


def current_many(conn: Connection, order_ids: Sequence[str]) -> dict[str, DelayAssessment]:
    """The newest assessment of each of ``order_ids`` that has one."""
    out: dict[str, DelayAssessment] = {}
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        newest = (sa.select(sa.func.max(delay_assessments.c.id)).where(delay_assessments.c.order_id.in_(chunk))
                  .group_by(delay_assessments.c.order_id))
        rows = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.id.in_(newest)))
        out.update((row.order_id, _assessment(row)) for row in rows)
    return out


def open_orders_query(statuses: Sequence[str]) -> Any:
    """The orders in ``statuses`` that have a promise: rows of ``(id, status, ship_to)``, in no
    particular order. Stream it (``stream_results``) and take it in pages."""
    has_promise = sa.select(promises.c.order_id).where(promises.c.order_id == orders.c.id).exists()
    return sa.select(orders.c.id, orders.c.status, orders.c.ship_to).where(orders.c.status.in_(list(statuses)),
                                                                            has_promise)


def outcomes(conn: Connection) -> tuple[dict[str, Any], dict[str, str], dict[str, datetime], dict[str, datetime],
                                        dict[str, datetime]]:
    """What really happened beside what was assessed, for judging the delay detection:
    each order's newest promise row, its status, when its last parcel was delivered, and
    when an assessment first found it at risk or late, and first found it late."""
    promised = {row.order_id: row for row in conn.execute(
        sa.select(promises).order_by(promises.c.order_id, promises.c.revision))}
    status = dict(conn.execute(sa.select(orders.c.id, orders.c.status)).all())
    delivered: dict[str, datetime] = {}
    for ship in conn.execute(sa.select(shipments.c.order_id, shipments.c.delivered_at)
                             .where(shipments.c.delivered_at.is_not(None))):
        delivered[ship.order_id] = max(delivered.get(ship.order_id, ship.delivered_at), ship.delivered_at)
    first_flag: dict[str, datetime] = {}
    first_late: dict[str, datetime] = {}
    for row in conn.execute(sa.select(delay_assessments.c.order_id, delay_assessments.c.assessed_at,
                                      delay_assessments.c.state)
                            .where(delay_assessments.c.state != "on_track")
                            .order_by(delay_assessments.c.id)):
        first_flag.setdefault(row.order_id, row.assessed_at)
        if row.state == "late":
            first_late.setdefault(row.order_id, row.assessed_at)
    return promised, status, delivered, first_flag, first_late


def histories(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[tuple[int, DelayAssessment]]]:
    """Every stored assessment of each of ``order_ids``, with its id, oldest first (the
    last is the current one); an order never assessed is absent."""
    out: dict[str, list[tuple[int, DelayAssessment]]] = {}
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.order_id.in_(ids[start:start + 500]))
                            .order_by(delay_assessments.c.id))
        for row in rows:
            out.setdefault(row.order_id, []).append((int(row.id), _assessment(row)))
    return out


def current_with_id(conn: Connection, order_id: str) -> tuple[int, DelayAssessment] | None:
    """The order's newest delay assessment with its id, or None when it was never assessed."""
    row = conn.execute(sa.select(delay_assessments).where(delay_assessments.c.order_id == order_id)
                       .order_by(delay_assessments.c.id.desc()).limit(1)).first()
    return (int(row.id), _assessment(row)) if row is not None else None
