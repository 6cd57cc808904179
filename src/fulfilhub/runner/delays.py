"""The ``assess_delays`` job: every open order with a promise, against it, page by page.

The open orders are streamed by one query on a read snapshot and taken in pages of
``page_size``; for each page the same snapshot gives their promises in force, their
shipments, each shipment's latest scan and their current assessments. Each order is
assessed by :func:`fulfilhub.engines.delays.assess`, and only the assessments whose
finding changed are written, each with an order event of kind ``delay``, in one
transaction per page (on its own connection). ``delay_detected`` runs for each after
that commit. Memory stays flat however many orders are open: one page at a time.

An order never assessed before is on track by default: an on-track finding is stored
only when it replaces an earlier at-risk or late one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..engines import delays as engine
from ..engines import lifecycle
from ..models import Address, DelayState, OrderStatus, Shipment
from ..store import delays as delay_store
from ..store import meta as meta_store
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .reports import JobReport, describe_error
from .runtime import Runtime

if TYPE_CHECKING:
    from ..engines.promise import PromiseEngine

log = logging.getLogger("fulfilhub.runner.delays")

PAGE_SIZE = 1000


def assess_delays(rt: Runtime, *, page_size: int = PAGE_SIZE, policy: engine.DelayPolicy | None = None) -> JobReport:
    """Assess every open order that has a promise; store and announce the findings that changed."""
    report = JobReport("assess_delays")
    policy = policy or engine.DelayPolicy()
    transit: Callable[[Address | None], engine.Transit] | None = None
    statuses = [str(s) for s in engine.OPEN_STATUSES]
    with rt.store.read() as conn:  # one read for the whole pass: the refusal, then the pages
        refused = meta_store.refusal(conn, rt.clock.now())
        if refused:  # a finished scenario's store on the wall clock: every promise would look absurdly late
            report.errors.append(f"delays not assessed: {refused}")
            report.counts["refused"] += 1
            return report
        transit = learned_transit(rt)
        stream = conn.execution_options(stream_results=True, yield_per=page_size).execute(
            delay_store.open_orders_query(statuses))
        for rows in stream.partitions(page_size):
            ids = [r.id for r in rows]
            promised = promise_store.current_many(conn, ids)
            ids = [i for i in ids if i in promised]
            ships = shipment_store.of_orders(conn, ids)
            scans = shipment_store.last_scans(conn, [s.id for group in ships.values() for s in group])
            before = delay_store.current_many(conn, ids)
            now = rt.clock.now()
            changed = []
            for row in rows:
                promise = promised.get(row.id)
                if promise is None:
                    continue
                group = ships.get(row.id, [])
                order = engine.OpenOrder(order_id=row.id, status=row.status, promise=promise, shipments=group,
                                         last_scans={s.id: scans[s.id] for s in group if s.id in scans})
                try:
                    found = engine.assess(order, now, transit=transit(_destination(row.ship_to)) if transit else None,
                                          policy=policy)
                except Exception as exc:  # one order's trouble stays with it
                    report.errors.append(f"order {row.id}: {describe_error(exc)}")
                    continue
                report.counts["assessed"] += 1
                previous = before.get(row.id)
                if found.same_finding(previous) or (previous is None and found.state is DelayState.ON_TRACK):
                    continue
                changed.append((found, previous, OrderStatus(row.status)))
            if changed:
                _store(rt, changed, report)
    return report


def _store(rt: Runtime, changed: list[tuple[Any, Any, OrderStatus]], report: JobReport) -> None:
    hooks = rt.hooks
    announce = hooks.wants("delay_detected")
    context = {found.order_id: (previous, status) for found, previous, status in changed}
    with rt.store.transaction() as tx:
        stored = delay_store.record_many(tx, [found for found, _, _ in changed])
        order_store.append_events(tx, [lifecycle.delay_event(
            found.order_id, context[found.order_id][1], at=found.assessed_at, state=str(found.state),
            reason=str(found.reason) if found.reason else None, detail=found.detail,
            data={"days_late": found.days_late, "promise_revision": found.promise_revision,
                  "revised_eta": found.revised_eta.isoformat() if found.revised_eta else None}) for found in stored])
        for found in stored:
            report.counts[f"now_{found.state}"] += 1
        for found in stored if announce else ():  # one callback each: one that raises does not silence the rest
            tx.after_commit.append(lambda a=found: hooks.delay_detected(assessment=a, previous=context[a.order_id][0]))
    for found in stored:
        if found.state is not DelayState.ON_TRACK:
            log.info("order %s: %s", found.order_id, found.detail)


def _destination(ship_to: Any) -> Address | None:
    if not ship_to:
        return None
    try:
        return Address(**ship_to)
    except (TypeError, ValueError):
        return None


def learned_transit(rt: Runtime) -> Callable[[Address | None], engine.Transit] | None:
    """Transit learned from delivered shipments, from the runtime's promise engine (built, and
    kept warm, on first use): a function of the order's destination. None when it cannot be
    built (the rules that need it then rely on the promise and the carrier)."""
    try:
        promises = rt.promise_engine()
    except Exception as exc:  # delays are still assessed on the promise and the carrier's word
        log.warning("no learned transit for delay forecasts: %s", describe_error(exc))
        return None
    cache: dict[tuple, engine.Estimate | None] = {}  # one job run: many orders share a lane
    return lambda destination: _Learned(promises, destination, cache)


class _Learned:
    """:class:`~fulfilhub.engines.delays.Transit` from the promise engine's two ``TransitModel``s:
    by carrier service once a label names it, else every service on the lane.

    Answers are kept in ``cache`` for the job run, by lane, quantile, time and the elapsed
    time to the hour: the orders of a page share ``now``, and many share a lane.
    """

    def __init__(self, promises: PromiseEngine, destination: Address | None, cache: dict[tuple, Any]):
        self.promises = promises
        self.destination = destination
        self.cache = cache

    def _model(self, shipment: Shipment | None) -> tuple[Any, Any] | None:
        if self.destination is None:
            return None
        label = shipment.label if shipment is not None else None
        warehouse = shipment.warehouse if shipment is not None else ""
        if label is not None:
            lane, _ = self.promises.lanes(warehouse, self.destination, label.carrier_name, label.service)
            return self.promises.by_service, lane
        _, anyway = self.promises.lanes(warehouse, self.destination, "", "")
        return self.promises.any_service, anyway

    def remaining(self, shipment: Shipment, elapsed_days: float, q: float, now: datetime) -> engine.Estimate | None:
        found = self._model(shipment)
        if found is None:
            return None
        hours = round(max(0.0, elapsed_days) * 24)
        key = ("remaining", found[0] is self.promises.by_service, found[1], hours, q, now)
        if key not in self.cache:
            with self.promises.reading():
                estimate = found[0].remaining(found[1], hours / 24, q, now=now)
            self.cache[key] = engine.Estimate(estimate.days, q, estimate.describe()) if estimate is not None else None
        return self.cache[key]

    def whole(self, shipment: Shipment | None, q: float, now: datetime) -> engine.Estimate | None:
        found = self._model(shipment)
        if found is None:
            return None
        key = ("whole", found[0] is self.promises.by_service, found[1], q, now)
        if key not in self.cache:
            with self.promises.reading():
                estimate = found[0].quantile(found[1], q, now=now)
            self.cache[key] = engine.Estimate(estimate.days, q, estimate.describe()) if estimate is not None else None
        return self.cache[key]
