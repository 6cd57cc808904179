"""``buy_labels``: quote the carriers that serve each packed shipment's lane, let
``choose_rate`` pick (with each rate's learned arrival against the promise, each
carrier's scorecard standing and the carriers skipped), record the choice with its
reason, and queue the purchase in the outbox: the choices of up to 50 shipments in one
transaction (a kill before it commits loses only quotes, which are asked again).

Failover: a carrier whose quote fails (its circuit open, or an error after the HTTP
client's retries) is skipped for the rest of the pass; a carrier whose label purchase
failed for a shipment (``fulfilment.unchoose``) is not asked again for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from ..adapters import MarketplaceLogistics
from ..engines import choice, fulfilment, kpi, promise
from ..errors import Unreachable
from ..models import FulfilledBy, Order, Parcel, Promise, Rate, Scorecard, Shipment, ShipmentRequest, ShipmentStatus
from ..store import Tx
from ..store import choices as choice_store
from ..store import kpi as kpi_store
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .effects import push_of
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
    detail: dict[str, Any] = attrs.Factory(dict)  # the record of the choice (engines.choice.record)

    def store(self, tx: Tx, rt: Runtime) -> None:
        fulfilment.choose(tx, self.shipment, self.chosen, self.now)
        choice_store.add(tx, self.shipment.id, self.order.id, self.now, self.detail)
        promise.record_choice(tx, rt.promise_engine(), self.order, self.shipment, self.chosen, self.rates,
                              self.arrive_by, self.in_force, at=self.now)

    def chosen_log(self, report: JobReport) -> None:
        log.info("shipment %s: chose %s %s for %s (%s); the label is bought next", self.shipment.id,
                 self.chosen.carrier_name, self.chosen.service, self.chosen.amount, self.detail.get("reason", ""))
        report.counts["rates_chosen"] += 1


def buy_labels(rt: Runtime, *, only: Callable[[Shipment], bool] | None = None) -> JobReport:
    """Quote every carrier for packed shipments without a chosen rate and queue the purchase
    (``only``: the shipments it accepts, a procrastinate worker's slice)."""
    report = JobReport("buy_labels")
    with rt.store.read() as conn:
        packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        own_labels = set(rt.warehouses_that("ships_own_labels"))  # they ship it themselves
        packed = [s for s in packed if s.warehouse not in own_labels]
        if only is not None:
            packed = [s for s in packed if only(s)]
        found = order_store.load_many(conn, [s.order_id for s in packed])
        promised = promise_store.current_many(conn, [s.order_id for s in packed])
        failed = choice_store.failed_carriers(conn, [s.id for s in packed])
        conf = rt.choice_settings
        cards = _scorecards(conn, conf, rt.clock.now()) if packed else {}
    by_marketplace = [s for s in packed if s.order_id in found
                      and found[s.order_id][0].fulfilled_by is FulfilledBy.MARKETPLACE]
    for shipment in by_marketplace:
        _marketplace_ships(rt, shipment, found[shipment.order_id][0], report)
    handed = {s.id for s in by_marketplace}
    packed = [s for s in packed if s.id not in handed]
    types = rt.plugins.registry.carriers
    carriers = [name for name, inst in rt.config.carriers.items()  # a tracks-only carrier sells no label
                if not getattr(types.get(inst.type), "tracks_only", False)]
    countries = {name: getattr(types.get(rt.config.carriers[name].type), "countries", ()) for name in carriers}
    if packed and not carriers:
        report.errors.append("packed shipments are waiting, but no carrier that sells labels is configured")
        return report
    confidence = rt.config.promise.target
    down: dict[str, str] = {}  # carriers that failed to quote in this pass, and why: skipped for the rest of it
    chosen_now: list[Choice] = []

    def flush() -> None:
        """Store the batch's choices in one transaction; if that fails, each alone."""
        try:
            with rt.store.transaction() as tx:
                tx.gather_appends()  # the batch's order events: one insert at commit
                for each in chosen_now:
                    each.store(tx, rt)
        except Exception:
            for each in chosen_now:
                try:
                    with rt.store.transaction() as tx:
                        each.store(tx, rt)
                except Exception as exc:
                    report.errors.append(f"shipment {each.shipment.id}: the chosen rate was not stored: "
                                         f"{describe_error(exc)}; it stays packed and is quoted again next run")
                else:
                    each.chosen_log(report)
        else:
            for each in chosen_now:
                each.chosen_log(report)
        chosen_now.clear()

    for shipment in packed:
        if shipment.order_id not in found:
            continue
        order = found[shipment.order_id][0]
        parcel = shipment.parcel or Parcel(weight_g=500)
        request = ShipmentRequest(reference=shipment.id, ship_from=rt.ship_from(shipment.warehouse),
                                  ship_to=order.ship_to, parcel=parcel)
        skipped: dict[str, str] = {}
        country = (order.ship_to.country if order.ship_to is not None else "").upper()
        serving = []
        for name in carriers:
            if countries[name] and country not in countries[name]:
                skipped[name] = f"does not deliver to {country or 'this destination'}"
            else:
                serving.append(name)
        for name in serving:
            if name in down:
                skipped[name] = down[name]
        asked = [name for name in serving if name not in down]
        gone = failed.get(shipment.id, {})
        if any(name not in gone for name in asked):  # a carrier that failed to buy it is asked again only as the last
            for name in asked:
                if name in gone:
                    skipped[name] = f"label purchase failed for this shipment ({gone[name]})"
            asked = [name for name in asked if name not in gone]
        rates: list[Rate] = []
        for name, (quoted, error) in zip(asked, in_threads(lambda name: _quote(rt, name, request), asked)):
            rates.extend(quoted)
            if isinstance(error, Unreachable):
                report.unreachable(error)
                down[name] = skipped[name] = "circuit open (unreachable)"
            elif error is not None:
                report.errors.append(f"carrier {name}: quote for {request.reference} failed: {describe_error(error)} "
                                     "(other carriers still asked; it is skipped for the rest of this run)")
                down[name] = skipped[name] = f"quote failed: {describe_error(error)}"
        if order.ship_to and order.ship_to.pickup and any(rate.to_pickup for rate in rates):
            rates = [rate for rate in rates if rate.to_pickup]  # the customer chose a store: not to the door
        if not rates:
            report.errors.append(f"shipment {shipment.id}: no carrier quoted a rate"
                                 + (f" ({'; '.join(f'{n}: {w}' for n, w in sorted(skipped.items()))})" if skipped else "")
                                 + "; it stays packed and is retried next run")
            continue
        engine, now = rt.promise_engine(), rt.clock.now()
        if any(c.order.id == order.id for c in chosen_now):  # another parcel of the order: its choice first
            flush()
            with rt.store.read() as conn:
                promised[order.id] = promise_store.current(conn, order.id)
        in_force = promised.get(order.id)
        options = []
        for rate in rates:
            at, basis, learned = engine.arrival_basis(shipment, order.ship_to, rate, now=now, promise=in_force)
            options.append(choice.Option(rate=rate, arrive_by=at, basis=basis, learned=learned))
        arrive_by = {o.rate.rate_id: o.arrive_by for o in options}
        standing = choice.standing(sorted({r.carrier for r in rates}), cards, conf)
        chosen = rt.hooks.choose_rate(order=order, shipment_id=shipment.id, rates=rates, promise=in_force,
                                      arrive_by=arrive_by, standing=standing, skipped=skipped)
        if chosen is None:
            report.errors.append(f"shipment {shipment.id}: choose_rate returned no rate")
            continue
        detail = choice.record(chosen, options, in_force, standing, skipped, confidence=confidence, at=now,
                               currency=order.currency)
        chosen_now.append(Choice(shipment, order, chosen, rates, arrive_by, in_force, now, detail))
        if len(chosen_now) >= BATCH:
            flush()
    if chosen_now:
        flush()
    return report


def _scorecards(conn: Any, conf: choice.Settings, now: datetime) -> dict[str, Scorecard]:
    """Each carrier's scorecard over ``conf.window``; none when no floor or penalty is set (nothing reads them)."""
    if not conf.weighs:
        return {}
    window = kpi.Window.of(now - conf.window, now, now)
    return kpi.scorecards(kpi_store.shipment_facts(conn, window.since, window.until), window)


def _marketplace_ships(rt: Runtime, shipment: Shipment, order: Order, report: JobReport) -> None:
    """A packed shipment of an order the marketplace carries: the channel arranges it, no label is bought.

    The channel looks before it acts (an order already handed over returns its label),
    so a run killed between the call and the commit repeats the call harmlessly.
    """
    channel = rt.channel(order.channel)
    if not isinstance(channel, MarketplaceLogistics):
        report.errors.append(f"shipment {shipment.id}: order {order.number} is shipped by the marketplace, but channel "
                             f"{order.channel} cannot arrange marketplace shipments; it stays packed")
        return
    try:
        label = channel.arrange_shipment(order, push_of(shipment), f"ship:{shipment.id}", attempt=None)
    except Unreachable as exc:
        report.unreachable(exc)
        return
    except Exception as exc:
        report.errors.append(f"shipment {shipment.id}: channel {order.channel} did not arrange the marketplace's "
                             f"shipment: {describe_error(exc)}; it stays packed and is tried again next run")
        return
    if label is None:
        report.counts["marketplace_waiting"] += 1
        return
    with rt.store.transaction() as tx:
        fulfilment.record_marketplace_label(tx, rt.hooks, shipment, label, rt.clock.now())
    log.info("shipment %s: %s ships it (%s, tracking %s)", shipment.id, order.channel, label.carrier_name,
             label.tracking_code)
    report.counts["marketplace_shipped"] += 1


def _quote(rt: Runtime, name: str, request: ShipmentRequest) -> tuple[list[Rate], Exception | None]:
    """One carrier's rates, or its error: a carrier that is down leaves the others to quote."""
    try:
        return list(rt.carrier(name).quote(request)), None
    except Exception as exc:
        return [], exc
