"""The procrastinate queues, as the operator sees them: jobs by queue and status, the
workers alive, stalled jobs and the lag of each adapter instance's waiting work.

procrastinate keeps its jobs in the store's own PostgreSQL (``fulfilhub worker``, see
:mod:`fulfilhub.runner.distributed`); these reads need no procrastinate import, so
``doctor``, ``jobs`` and ``/metrics`` show them wherever the tables exist, and answer
None on SQLite or before the first worker (or ``db upgrade``) created them.

A job's lock names its unit of work (``pull:CHANNEL``, ``warehouse:NAME``,
``track:CARRIER:PART``, ``deliver:TARGET:PART``, ``labels:PART``, ``pass:JOB``); the
instance of a unit is its second part (``pull:shop_eu`` -> ``shop_eu``), and its lag is
how long the oldest of its waiting jobs has waited since it was deferred.
"""

from __future__ import annotations

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: Units of work that belong to one adapter instance (the lock's second part names it).
_PER_INSTANCE = ("pull", "warehouse", "track", "deliver")


@attrs.frozen
class QueueCount:
    name: str
    todo: int = 0
    doing: int = 0
    failed: int = 0
    succeeded: int = 0


@attrs.frozen
class StalledJob:
    id: int
    task: str
    lock: str | None
    worker_id: int | None


@attrs.frozen
class QueueStatus:
    """What the workers are doing, read at ``at``."""

    queues: tuple[QueueCount, ...]
    #: Workers whose last heartbeat is younger than the stalled threshold.
    workers_alive: int
    #: Workers registered but silent for longer (killed, or their machine gone).
    workers_silent: int
    #: Jobs running on a silent worker, or on none: the next dispatch hands them back.
    stalled: tuple[StalledJob, ...]
    #: Seconds the oldest waiting job of each instance has waited, by ``KIND:INSTANCE``
    #: (``pull:shop_eu``, ``track:easypost``, ``deliver:shop_eu``, ``warehouse:local``).
    lag: dict[str, float]
    #: Jobs waiting and running by the job they run (``pull_orders``, ``poll_tracking``,
    #: ``notices`` ...): ``{"poll_tracking": {"todo": 3, "doing": 1}}``.
    by_job: dict[str, dict[str, int]] = attrs.Factory(dict)

    @property
    def waiting(self) -> int:
        return sum(q.todo for q in self.queues)


def present(conn: Connection) -> bool:
    """Whether procrastinate's tables are in this database (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar())


def instance_of(lock: str | None) -> str | None:
    """``KIND:INSTANCE`` of a unit's lock (``track:easypost:3`` -> ``track:easypost``), or
    None for work that belongs to no single instance (labels, the passes)."""
    if not lock:
        return None
    kind, _, rest = lock.partition(":")
    if kind not in _PER_INSTANCE or not rest:
        return None
    return f"{kind}:{rest.partition(':')[0]}"


#: The job a unit of work runs, by the first part of its lock (``pass:JOB`` names its job).
_JOB_OF_UNIT = {"pull": "pull_orders", "warehouse": "poll_warehouses", "track": "poll_tracking",
                "labels": "buy_labels", "deliver": "deliver_effects"}


def job_of(lock: str | None) -> str | None:
    """The job a unit's lock belongs to (``track:easypost:3`` -> ``poll_tracking``)."""
    if not lock:
        return None
    kind, _, rest = lock.partition(":")
    return rest if kind == "pass" else _JOB_OF_UNIT.get(kind)


def status(conn: Connection, stalled_after: float = 30.0) -> QueueStatus | None:
    """The queues' state, or None where procrastinate's tables are absent."""
    if not present(conn):
        return None
    counts: dict[str, dict[str, int]] = {}
    for queue, state, n in conn.execute(sa.text(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs GROUP BY queue_name, status")):
        counts.setdefault(queue, {})[state] = int(n)
    queues = tuple(QueueCount(name=q, todo=c.get("todo", 0), doing=c.get("doing", 0), failed=c.get("failed", 0),
                              succeeded=c.get("succeeded", 0)) for q, c in sorted(counts.items()))
    # Ages are the database's own (heartbeats and events are its timestamps), so no
    # process clock, scenario clock or clock skew between machines enters them.
    alive, silent = conn.execute(sa.text(
        "SELECT count(*) FILTER (WHERE last_heartbeat >= now() - make_interval(secs => :s)), "
        "count(*) FILTER (WHERE last_heartbeat < now() - make_interval(secs => :s)) FROM procrastinate_workers"),
        {"s": stalled_after}).one()
    stalled = tuple(StalledJob(id=int(r.id), task=r.task_name, lock=r.lock, worker_id=r.worker_id)
                    for r in conn.execute(sa.text(
                        "SELECT j.id, j.task_name, j.lock, j.worker_id FROM procrastinate_jobs j "
                        "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.status = 'doing' "
                        "AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :s)) ORDER BY j.id"),
                        {"s": stalled_after}))
    lag: dict[str, float] = {}
    for lock, waited in conn.execute(sa.text(
            "SELECT j.lock, EXTRACT(EPOCH FROM now() - min(e.at)) FROM procrastinate_jobs j "
            "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
            "WHERE j.status = 'todo' GROUP BY j.lock")):
        instance = instance_of(lock)
        if instance is None or waited is None:
            continue
        lag[instance] = max(lag.get(instance, 0.0), max(0.0, float(waited)))
    by_job: dict[str, dict[str, int]] = {}
    for lock, state, n in conn.execute(sa.text(
            "SELECT lock, status::text, count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
            "GROUP BY lock, status")):
        job = job_of(lock)
        if job is not None:
            counts_of = by_job.setdefault(job, {"todo": 0, "doing": 0})
            counts_of[state] += int(n)
    return QueueStatus(queues=queues, workers_alive=int(alive), workers_silent=int(silent), stalled=stalled,
                       lag=dict(sorted(lag.items())), by_job=dict(sorted(by_job.items())))
