"""Job runs: when each job last ran, how long it took and how it went (``fulfilhub jobs``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

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
    tx.execute(job_runs.insert().values(
        job=job, trigger=trigger, started_at=started_at, finished_at=finished_at,
        duration_ms=max(0, math.ceil((finished_at - started_at).total_seconds() * 1000)), outcome=outcome,
        counts={k: int(v) for k, v in counts.items() if v}, errors=len(errors), first_error=errors[0] if errors else None,
    ))
    cutoff = tx.execute(
        sa.select(job_runs.c.id).where(job_runs.c.job == job).order_by(job_runs.c.id.desc()).offset(KEEP).limit(1)
    ).scalar()
    if cutoff is not None:
        tx.execute(job_runs.delete().where(job_runs.c.job == job, job_runs.c.id <= cutoff))


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
