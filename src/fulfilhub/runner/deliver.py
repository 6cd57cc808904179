"""``deliver_effects``: claim the outbox rows that are due (counting the attempt before
any I/O) and deliver them, one thread per target; a transient failure is retried with
back-off, any other is recorded as failed for ``fulfilhub doctor``.

Per-shipment effects are delivered by :mod:`.effects`, notices and compensations (about
an order) by :mod:`.notices`.
"""

from __future__ import annotations

import logging
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


def _deliver(rt: Runtime, rows: list[Any]) -> JobReport:
    report = JobReport("deliver_effects")
    with rt.store.read() as conn:
        ships = shipment_store.load_many(conn, [r.payload.get("shipment_id") for r in rows
                                                if isinstance(r.payload, dict) and r.payload.get("shipment_id")])
        found = order_store.load_many(conn, [s.order_id for s in ships.values()])
    for row in rows:
        now = rt.clock.now()
        try:
            if row.kind in PER_ORDER:  # a notice or a compensation: about an order, not a shipment
                notice_job.deliver(rt, row, now)
                report.counts[row.kind] += 1
                log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
                continue
            work = effects.Work.of(row, ships, found)
            saved = effects.deliver(rt, work, now)
            if saved is not None:
                ships[saved.id] = saved  # later effects in this batch see what this one did
            report.counts[row.kind] += 1
            log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
        except TransientError as exc:
            next_at = now + effects.retry_delay(row.attempts - 1)
            with rt.store.transaction() as tx:
                outbox.retry_later(tx, row.id, str(exc), next_at)
            report.counts["retry_later"] += 1
            if isinstance(exc, Unreachable):
                report.unreachable(exc)
                continue
            report.errors.append(f"{row.kind} {row.key}: {exc} (retrying at {next_at:%Y-%m-%d %H:%M})")
        except Exception as exc:  # permanent: recorded, shown by `fulfilhub doctor`, others go on
            if not isinstance(exc, FulfilhubError):
                log.exception("effect %s crashed", row.key)
            with rt.store.transaction() as tx:
                outbox.retry_later(tx, row.id, describe_error(exc), now, failed=True)
            report.counts["failed"] += 1
            report.errors.append(f"{row.kind} {row.key} failed: {describe_error(exc)}")
    return report
