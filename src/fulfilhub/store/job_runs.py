"""Job runs: when each job last ran, how long it took and how it went (``fulfilhub jobs``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx
from ..models import OrderStatus, ShipmentStatus
from . import schema
from .schema import job_runs

#: How many runs of each job are kept; older ones are deleted as new ones are recorded.
KEEP = 200


def record(tx: Tx, *, job: str, trigger: str, started_at: datetime, finished_at: datetime, outcome: str,
           counts: dict[str, int], errors: list[str]) -> None:
    """Append one run and drop the job's runs beyond the newest :data:`KEEP`."""
    record_many(tx, [Run(job=job, trigger=trigger, started_at=started_at, finished_at=finished_at, outcome=outcome,
                         counts=counts, errors=errors)])


@attrs.frozen
class Run:
    """One job run to keep."""

    job: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    counts: dict[str, int]
    errors: list[str]


def record_many(tx: Tx, runs: Sequence[Run]) -> None:
    """Append ``runs`` and drop each of their jobs' runs beyond the newest :data:`KEEP`:
    two statements however many runs (a scheduler tick or a ``sync`` pass keeps all of
    its runs in one transaction)."""
    if not runs:
        return
    tx.execute(job_runs.insert(), [{
        "job": r.job, "trigger": r.trigger, "started_at": r.started_at, "finished_at": r.finished_at,
        "duration_ms": max(0, math.ceil((r.finished_at - r.started_at).total_seconds() * 1000)), "outcome": r.outcome,
        "counts": {k: int(v) for k, v in r.counts.items() if v}, "errors": len(r.errors),
        "first_error": r.errors[0] if r.errors else None,
    } for r in runs])
    tx.execute(_PRUNE, [{"pruned": job} for job in sorted({r.job for r in runs})])


_CUTOFF = (sa.select(job_runs.c.id).where(job_runs.c.job == sa.bindparam("pruned"))
           .order_by(job_runs.c.id.desc()).offset(KEEP).limit(1).scalar_subquery())
_PRUNE = job_runs.delete().where(job_runs.c.job == sa.bindparam("pruned"), job_runs.c.id <= _CUTOFF)


def last_runs(conn: Connection) -> dict[str, Any]:
    """The newest run of each job, by job name."""
    newest = sa.select(sa.func.max(job_runs.c.id)).group_by(job_runs.c.job)
    rows = conn.execute(sa.select(job_runs).where(job_runs.c.id.in_(newest))).all()
    return {r.job: r for r in rows}


def backlog(conn: Connection, open_statuses: Iterable[OrderStatus]) -> dict[str, dict[str, int] | None]:
    """What each job has waiting now, by instance (None: not known here).

    ``open_statuses`` are the order statuses ``assess_delays`` looks at (the engine's choice).
    """
    def count_by(column: sa.Column, where: Any) -> dict[str, int]:
        rows = conn.execute(sa.select(column, sa.func.count()).where(where).group_by(column).order_by(column))
        return {str(name): n for name, n in rows}

    o, sh, ob = schema.orders, schema.shipments, schema.outbox
    S = ShipmentStatus
    return {
        "pull_orders": None,
        "allocate": count_by(o.c.channel, o.c.status.in_([OrderStatus.ACCEPTED, OrderStatus.BACKORDERED])),
        "poll_warehouses": count_by(sh.c.warehouse, sh.c.status.in_([S.PENDING, S.SUBMITTED, S.PICKING])),
        "buy_labels": count_by(sh.c.warehouse, sh.c.status == S.PACKED),
        "deliver_effects": count_by(ob.c.target, ob.c.status == "pending"),
        "poll_tracking": count_by(sh.c.carrier, sh.c.status.in_([S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY,
                                                                 S.EXCEPTION])),
        "assess_delays": count_by(o.c.channel, o.c.status.in_(list(open_statuses)) & sa.select(schema.promises.c.order_id)
                                  .where(schema.promises.c.order_id == o.c.id).exists()),
        "process_inbox": count_by(schema.webhook_inbox.c.instance, schema.webhook_inbox.c.status == "pending"),
    }


def waiting(conn: Connection, now: datetime, *, at_warehouse: Iterable[ShipmentStatus],
            tracked: Iterable[ShipmentStatus], open_statuses: Iterable[OrderStatus],
            cursors: Sequence[tuple[str, str]], own_labels: Iterable[str] = ()) -> set[str]:
    """Which jobs have work waiting at ``now``, in one statement: a pass skips the others.

    Each answer covers at least what the job itself selects (never less, sometimes more):
    ``process_inbox`` a pending delivery; ``allocate`` an order held, accepted or
    backordered; ``deliver_effects`` a pending effect that is due; ``poll_warehouses`` a
    shipment at a warehouse whose next look is due; ``buy_labels`` a packed shipment
    without a rate; ``poll_tracking`` a tracked shipment whose next look is due;
    ``assess_delays`` an open order with a promise; ``notices`` a consumer of ``cursors``
    (``(name, table)`` with ``table`` ``delay_assessments`` or ``order_events``) not yet
    started or behind the newest row of its table, or a notice held back by the notice
    policy (``notice_pending``) that has come due. ``own_labels`` are the warehouses that
    ship with their own labels: their packed shipments wait for the warehouse (polled),
    not for ``buy_labels``.
    """
    statement = _waiting(tuple(str(s) for s in at_warehouse), tuple(str(s) for s in tracked),
                         tuple(str(s) for s in open_statuses), tuple(cursors), tuple(sorted(own_labels)))
    row = conn.execute(statement, {"now": now}).one()
    return {job for job, is_due in row._mapping.items() if is_due}


@functools.lru_cache(maxsize=8)
def _waiting(at_warehouse: tuple[str, ...], tracked: tuple[str, ...], open_statuses: tuple[str, ...],
             cursors: tuple[tuple[str, str], ...], own_labels: tuple[str, ...] = ()) -> Any:
    """The statement of :func:`waiting`, built once (building it costs more than running it)."""
    now = sa.bindparam("now")
    o, sh, ob, p = schema.orders, schema.shipments, schema.outbox, schema.promises
    cc = schema.consumer_cursors

    def exists(table: sa.Table, *where: Any) -> Any:
        return sa.select(sa.literal(1)).select_from(table).where(*where).exists()

    def look_due(statuses: tuple[str, ...], *more: Any) -> Any:
        return exists(sh, sh.c.status.in_(list(statuses)),
                      sa.or_(sh.c.next_poll_at.is_(None), sh.c.next_poll_at <= now), *more)

    behind = []
    for name, table_name in cursors:
        table = schema.metadata.tables[table_name]
        newest = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)).scalar_subquery()
        behind.append(~exists(cc, cc.c.name == name, cc.c.position >= newest))
    checks = {
        "process_inbox": exists(schema.webhook_inbox, schema.webhook_inbox.c.status == "pending"),
        "allocate": exists(o, o.c.status.in_([str(OrderStatus.ON_HOLD), str(OrderStatus.ACCEPTED),
                                              str(OrderStatus.BACKORDERED)])),
        "deliver_effects": exists(ob, ob.c.status == "pending", ob.c.next_attempt_at <= now),
        "poll_warehouses": (sa.or_(look_due(at_warehouse),
                                   look_due((str(ShipmentStatus.PACKED),), sh.c.warehouse.in_(list(own_labels))))
                            if own_labels else look_due(at_warehouse)),
        "buy_labels": exists(sh, sh.c.status == str(ShipmentStatus.PACKED), sh.c.rate_id.is_(None),
                             *([sh.c.warehouse.not_in(list(own_labels))] if own_labels else [])),
        "poll_tracking": look_due(tracked, sh.c.tracking_code.is_not(None)),
        "assess_delays": exists(o, o.c.status.in_(list(open_statuses)),
                                sa.select(p.c.order_id).where(p.c.order_id == o.c.id).exists()),
        # a consumer behind its table, or a notice the policy held back (quiet hours, a cause
        # still holding, once per window) that has come due
        "notices": sa.or_(exists(schema.notice_pending, schema.notice_pending.c.due_at <= now), *behind),
    }
    return sa.select(*(sa.case((check, 1), else_=0).label(job) for job, check in checks.items()))
