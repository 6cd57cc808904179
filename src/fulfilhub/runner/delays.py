"""The ``assess_delays`` job: every open order with a promise, against it, page by page.

Orders are read in pages of ``page_size`` by id (a read snapshot per page: the order,
its promise in force, its shipments and each one's latest scan, its current
assessment), assessed by :func:`fulfilhub.engines.delays.assess`, and only the
assessments whose finding changed are written, each with an order event of kind
``delay``, in one transaction per page. ``delay_detected`` runs for each after commit.
Memory stays flat however many orders are open: one page at a time.

An order never assessed before is on track by default: an on-track finding is stored
only when it replaces an earlier at-risk or late one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..engines import delays as engine
from ..engines import lifecycle
from ..models import Address, DelayState, OrderStatus, Shipment
from ..store import delays as delay_store
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .jobs import JobReport, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner.delays")

PAGE_SIZE = 1000


def assess_delays(rt: Runtime, *, page_size: int = PAGE_SIZE, policy: engine.DelayPolicy | None = None) -> JobReport:
    """Assess every open order that has a promise; store and announce the findings that changed."""
    report = JobReport("assess_delays")
    policy = policy or engine.DelayPolicy()
    transit = learned_transit(rt)
    statuses = [str(s) for s in engine.OPEN_STATUSES]
    after = ""
    while True:
        with rt.store.read() as conn:
            rows = delay_store.open_orders(conn, statuses, after=after, limit=page_size)
            if not rows:
                break
            ids = [r.id for r in rows]
            promised = promise_store.current_many(conn, ids)
            ships = shipment_store.of_orders(conn, ids)
            scans = shipment_store.last_scans(conn, [s.id for group in ships.values() for s in group])
            before = delay_store.current_many(conn, ids)
        after = ids[-1]
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
    with rt.store.transaction() as tx:
        for found, previous, status in changed:
            if delay_store.record(tx, found) is None:
                continue
            order_store.append_events(tx, [lifecycle.delay_event(
                found.order_id, status, at=found.assessed_at, state=str(found.state),
                reason=str(found.reason) if found.reason else None, detail=found.detail,
                data={"days_late": found.days_late, "promise_revision": found.promise_revision,
                      "revised_eta": found.revised_eta.isoformat() if found.revised_eta else None})])
            report.counts[f"now_{found.state}"] += 1
            if announce:
                tx.after_commit.append(lambda a=found, p=previous: hooks.delay_detected(assessment=a, previous=p))
    for found, _, _ in changed:
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
    """Transit learned from delivered shipments, when the runtime holds a promise engine with a
    ``TransitModel`` (its ``transit`` attribute): a function of the order's destination. None
    without one (the rules that need it then rely on the promise and the carrier)."""
    get = getattr(rt, "promise_engine", None)
    if get is None:
        return None
    try:
        model = getattr(get(), "transit", None)
    except Exception as exc:  # delays are still assessed on the carrier's word
        log.warning("no learned transit for delay forecasts: %s", describe_error(exc))
        return None
    if model is None:
        return None
    from ..engines.transit import Lane

    origins: dict[str, str] = {}

    def origin(warehouse: str) -> str:
        if warehouse not in origins:
            try:
                address = rt.ship_from(warehouse)
                origins[warehouse] = region(address)
            except Exception:
                origins[warehouse] = ""
        return origins[warehouse]

    def for_destination(dest: Address | None) -> engine.Transit:
        def lane_of(shipment: Shipment | None) -> Any:
            return Lane(carrier=shipment.carrier if shipment else "", service=_service(shipment),
                        origin=origin(shipment.warehouse) if shipment else "",
                        destination=region(dest) if dest else "",
                        postal_prefix=(dest.postal_code or "")[:3] if dest else "")

        return engine.LearnedTransit(model, lane_of)

    return for_destination


def _service(shipment: Shipment | None) -> str:
    if shipment is None:
        return ""
    if shipment.label is not None:
        return shipment.label.service
    return shipment.rate.service if shipment.rate is not None else ""


def region(address: Address) -> str:
    """``US-CA``: country and province where there is one (a lane's origin or destination)."""
    return f"{address.country}-{address.province}" if address.province else address.country
