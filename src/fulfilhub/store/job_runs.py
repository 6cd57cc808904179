"""Job runs: when each job last ran, how long it took and how it went (``fulfilhub jobs``)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx
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
