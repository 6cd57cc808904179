"""``deliver_effects``: claim the outbox rows that are due (counting the attempt before
any I/O) and deliver them, one thread per target; a transient failure is retried with
back-off, any other is recorded as failed for ``fulfilhub doctor``.

Per-shipment effects are delivered by :mod:`.effects`, notices and compensations (about
an order) by :mod:`.notices`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..errors import FulfilhubError, TransientError, Unreachable
from ..store import orders as order_store
from ..store import outbox
from ..store import shipments as shipment_store
from . import effects
from . import notices as notice_job
from .reports import JobReport, concurrently, describe_error, grouped
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


def deliver_effects(rt: Runtime) -> JobReport:
    """Claim the due effects (counting the attempt before any I/O) and deliver them, per target."""
    with rt.store.transaction() as tx:
        due = outbox.claim_due(tx, rt.clock.now())
    by_target = grouped(due, lambda row: row.target)
    return concurrently(by_target.values(), lambda rows: _deliver(rt, rows), "deliver_effects")


#: Effect kinds about an order rather than a shipment (delivered by :mod:`.notices`).
PER_ORDER = frozenset(kind.value for kind in outbox.EffectKind if kind.per_order)


#: Delivered effects recorded per transaction (:func:`effects.record`).
BATCH = 50


def _deliver(rt: Runtime, rows: list[Any]) -> JobReport:
    report = JobReport("deliver_effects")
    with rt.store.read() as conn:
        ships = shipment_store.load_many(conn, [r.payload.get("shipment_id") for r in rows
                                                if isinstance(r.payload, dict) and r.payload.get("shipment_id")])
        found = order_store.load_many(conn, [s.order_id for s in ships.values()])
    done: list[effects.Done] = []
    works = []
    for row in rows:
        try:
            works.append(effects.Work.of(row, ships, found))
        except Exception:  # said again, with its effect, when delivered
            continue
    submitted = effects.submit_ahead(rt, works)  # a warehouse that takes many requests at once gets them so

    def delivered(each: effects.Done) -> None:
        report.counts[each.work.row.kind] += 1
        log.info("delivered %s to %s (%s)", each.work.row.kind, each.work.row.target, each.work.key)

    def flush() -> None:
        """Record the delivered effects together; if that fails, each alone (its error stays with it)."""
        try:
            ships.update(effects.record(rt, done))
        except Exception:
            for each in done:
                try:
                    ships.update(effects.record(rt, [each]))
                except Exception as exc:
                    trouble(each.work.row, exc, each.now)
                else:
                    delivered(each)
        else:
            for each in done:
                delivered(each)
        done.clear()

    def trouble(row: Any, exc: Exception, now: datetime) -> None:
        if isinstance(exc, TransientError):
            next_at = now + effects.retry_delay(row.attempts - 1)
            with rt.store.transaction() as tx:
                outbox.retry_later(tx, row.id, str(exc), next_at)
            report.counts["retry_later"] += 1
            if isinstance(exc, Unreachable):
                report.unreachable(exc)
                return
            report.errors.append(f"{row.kind} {row.key}: {exc} (retrying at {next_at:%Y-%m-%d %H:%M})")
            return
        # permanent: recorded, shown by `fulfilhub doctor`, others go on
        if not isinstance(exc, FulfilhubError):
            log.exception("effect %s crashed", row.key)
        with rt.store.transaction() as tx:
            outbox.retry_later(tx, row.id, describe_error(exc), now, failed=True)
        report.counts["failed"] += 1
        report.errors.append(f"{row.kind} {row.key} failed: {describe_error(exc)}")

    sends = [row for row in rows if row.kind == outbox.EffectKind.NOTICE_SEND.value]
    if sends:  # notices: read together, sent one by one, recorded together
        failed = {id(row): (exc, at) for row, exc, at in notice_job.send_notices(rt, sends)}
        for row in sends:
            if id(row) in failed:
                trouble(row, *failed[id(row)])
            else:
                report.counts[row.kind] += 1
                log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
        rows = [row for row in rows if row.kind != outbox.EffectKind.NOTICE_SEND.value]
    for row in rows:
        now = rt.clock.now()
        try:
            if row.kind in PER_ORDER:  # a notice or a compensation: about an order, not a shipment
                notice_job.deliver(rt, row, now)
                report.counts[row.kind] += 1
                log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
                continue
            about = row.payload.get("shipment_id") if isinstance(row.payload, dict) else None
            if any(each.work.shipment.id == about for each in done):
                flush()  # this effect sees what the one before it did to its shipment
            done.append(effects.deliver(rt, effects.Work.of(row, ships, found), now, submitted=submitted))
            if len(done) >= BATCH:
                flush()
        except Exception as exc:
            trouble(row, exc, now)
    if done:
        flush()
    return report
