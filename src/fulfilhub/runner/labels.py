"""``buy_labels``: quote every carrier for packed shipments without a chosen rate, let
``choose_rate`` pick (with each rate's arrival against the promise), and queue the
purchase in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..engines import fulfilment, promise
from ..errors import Unreachable
from ..models import Parcel, Rate, Shipment, ShipmentRequest, ShipmentStatus
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .reports import JobReport, describe_error, in_threads
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


def buy_labels(rt: Runtime, *, only: Callable[[Shipment], bool] | None = None) -> JobReport:
    """Quote every carrier for packed shipments without a chosen rate and queue the purchase
    (``only``: the shipments it accepts, a procrastinate worker's slice)."""
    report = JobReport("buy_labels")
    with rt.store.read() as conn:
        packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        if only is not None:
            packed = [s for s in packed if only(s)]
        found = order_store.load_many(conn, [s.order_id for s in packed])
    types = rt.plugins.registry.carriers
    carriers = [name for name, inst in rt.config.carriers.items()  # a tracks-only carrier sells no label
                if not getattr(types.get(inst.type), "tracks_only", False)]
    if packed and not carriers:
        report.errors.append("packed shipments are waiting, but no carrier that sells labels is configured")
        return report
    for shipment in packed:
        if shipment.order_id not in found:
            continue
        order = found[shipment.order_id][0]
        parcel = shipment.parcel or Parcel(weight_g=500)
        request = ShipmentRequest(reference=shipment.id, ship_from=rt.ship_from(shipment.warehouse),
                                  ship_to=order.ship_to, parcel=parcel)
        rates: list[Rate] = []
        for quoted, error in in_threads(lambda name: _quote(rt, name, request), carriers):
            rates.extend(quoted)
            if isinstance(error, Unreachable):
                report.unreachable(error)
            elif error:
                report.errors.append(error)
        if not rates:
            report.errors.append(f"shipment {shipment.id}: no carrier quoted a rate; it stays packed and is retried next run")
            continue
        engine, now = rt.promise_engine(), rt.clock.now()
        with rt.store.read() as conn:
            in_force = promise_store.current(conn, order.id)
        arrive_by = {rate.rate_id: engine.arrival(shipment, order.ship_to, rate, now=now, promise=in_force)
                     for rate in rates}
        chosen = rt.hooks.choose_rate(order=order, shipment_id=shipment.id, rates=rates, promise=in_force,
                                      arrive_by=arrive_by)
        if chosen is None:
            report.errors.append(f"shipment {shipment.id}: choose_rate returned no rate")
            continue
        with rt.store.transaction() as tx:
            fulfilment.choose(tx, shipment, chosen, now)
            promise.record_choice(tx, engine, order, shipment, chosen, rates, arrive_by, in_force, at=now)
        log.info("shipment %s: chose %s %s for %s; the label is bought next", shipment.id, chosen.carrier_name,
                 chosen.service, chosen.amount)
        report.counts["rates_chosen"] += 1
    return report


def _quote(rt: Runtime, name: str, request: ShipmentRequest) -> tuple[list[Rate], str | Unreachable | None]:
    """One carrier's rates, or its error: a carrier that is down leaves the others to quote."""
    try:
        return list(rt.carrier(name).quote(request)), None
    except Unreachable as exc:
        return [], exc
    except Exception as exc:
        return [], f"carrier {name}: quote for {request.reference} failed: {describe_error(exc)} (other carriers still asked)"
