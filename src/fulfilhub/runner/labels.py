"""``buy_labels``: quote every carrier for packed shipments without a chosen rate, let
``choose_rate`` pick (with each rate's arrival against the promise), and queue the
purchase in the outbox: the choices of up to 50 shipments in one transaction (a kill
before it commits loses only quotes, which are asked again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from ..engines import fulfilment, promise
from ..errors import Unreachable
from ..models import Order, Parcel, Promise, Rate, Shipment, ShipmentRequest, ShipmentStatus
from ..store import Tx
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .reports import JobReport, describe_error, in_threads
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


#: Chosen rates stored per transaction (a kill loses at most these: they are quoted again).
BATCH = 50


@attrs.frozen
class Choice:
    """A rate ``choose_rate`` picked for a packed shipment, not stored yet."""

    shipment: Shipment
    order: Order
    chosen: Rate
    rates: list[Rate]
    arrive_by: dict[str, Any]
    in_force: Promise | None
    now: datetime

    def store(self, tx: Tx, rt: Runtime) -> None:
        fulfilment.choose(tx, self.shipment, self.chosen, self.now)
        promise.record_choice(tx, rt.promise_engine(), self.order, self.shipment, self.chosen, self.rates,
                              self.arrive_by, self.in_force, at=self.now)

    def chosen_log(self, report: JobReport) -> None:
        log.info("shipment %s: chose %s %s for %s; the label is bought next", self.shipment.id,
                 self.chosen.carrier_name, self.chosen.service, self.chosen.amount)
        report.counts["rates_chosen"] += 1


def buy_labels(rt: Runtime, *, only: Callable[[Shipment], bool] | None = None) -> JobReport:
    """Quote every carrier for packed shipments without a chosen rate and queue the purchase
    (``only``: the shipments it accepts, a procrastinate worker's slice)."""
    report = JobReport("buy_labels")
    with rt.store.read() as conn:
        packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        if only is not None:
            packed = [s for s in packed if only(s)]
        found = order_store.load_many(conn, [s.order_id for s in packed])
        promised = promise_store.current_many(conn, [s.order_id for s in packed])
    types = rt.plugins.registry.carriers
    carriers = [name for name, inst in rt.config.carriers.items()  # a tracks-only carrier sells no label
                if not getattr(types.get(inst.type), "tracks_only", False)]
    if packed and not carriers:
        report.errors.append("packed shipments are waiting, but no carrier that sells labels is configured")
        return report
    chosen_now: list[Choice] = []

    def flush() -> None:
        """Store the batch's choices in one transaction; if that fails, each alone."""
        try:
            with rt.store.transaction() as tx:
                tx.gather_appends()  # the batch's order events: one insert at commit
                for choice in chosen_now:
                    choice.store(tx, rt)
        except Exception:
            for choice in chosen_now:
                try:
                    with rt.store.transaction() as tx:
                        choice.store(tx, rt)
                except Exception as exc:
                    report.errors.append(f"shipment {choice.shipment.id}: the chosen rate was not stored: "
                                         f"{describe_error(exc)}; it stays packed and is quoted again next run")
                else:
                    choice.chosen_log(report)
        else:
            for choice in chosen_now:
                choice.chosen_log(report)
        chosen_now.clear()

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
        if any(c.order.id == order.id for c in chosen_now):  # another parcel of the order: its choice first
            flush()
            with rt.store.read() as conn:
                promised[order.id] = promise_store.current(conn, order.id)
        in_force = promised.get(order.id)
        arrive_by = {rate.rate_id: engine.arrival(shipment, order.ship_to, rate, now=now, promise=in_force)
                     for rate in rates}
        chosen = rt.hooks.choose_rate(order=order, shipment_id=shipment.id, rates=rates, promise=in_force,
                                      arrive_by=arrive_by)
        if chosen is None:
            report.errors.append(f"shipment {shipment.id}: choose_rate returned no rate")
            continue
        chosen_now.append(Choice(shipment, order, chosen, rates, arrive_by, in_force, now))
        if len(chosen_now) >= BATCH:
            flush()
    if chosen_now:
        flush()
    return report


def _quote(rt: Runtime, name: str, request: ShipmentRequest) -> tuple[list[Rate], str | Unreachable | None]:
    """One carrier's rates, or its error: a carrier that is down leaves the others to quote."""
    try:
        return list(rt.carrier(name).quote(request)), None
    except Unreachable as exc:
        return [], exc
    except Exception as exc:
        return [], f"carrier {name}: quote for {request.reference} failed: {describe_error(exc)} (other carriers still asked)"
