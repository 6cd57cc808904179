"""Delivering the outbox: each effect on the outside world, at least once, keyed once.

An effect row was written in the same transaction as the state change that called for
it. Delivery does the I/O, then records the outcome and the follow-up state change in
one transaction. A crash between the two repeats the I/O on the next run with the same
idempotency key, which the adapter turns into a no-op (it looks before it acts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..adapters import ShipmentPush
from ..engines import lifecycle
from ..errors import NotFound, TransientError
from ..models import FulfillmentRequest, Label, Money, Rate, ShipmentStatus, TrackingStatus
from ..store import queries
from .runtime import Runtime

log = logging.getLogger("fulfilhub.effects")

Handler = Callable[[Runtime, sa.Row, datetime], dict]


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts)))


def _shipment(rt: Runtime, shipment_id: str) -> sa.Row:
    with rt.store.read() as conn:
        row = queries.shipment_row(conn, shipment_id)
    if row is None:
        raise NotFound(f"shipment {shipment_id} does not exist")
    return row


def _order(rt: Runtime, order_id: str):
    with rt.store.read() as conn:
        found = queries.load_order(conn, order_id)
    if found is None:
        raise NotFound(f"order {order_id} does not exist")
    return found[0]


def _skip(rt: Runtime, effect: sa.Row, now: datetime, why: str) -> dict:
    """Record an effect as done without doing it: what it was for no longer holds."""
    with rt.store.transaction() as tx:
        queries.finish_effect(tx, effect.id, now, {"skipped": why})
    return {"skipped": why}


def submit_to_warehouse(rt: Runtime, effect: sa.Row, now: datetime) -> dict:
    ship = _shipment(rt, effect.payload["shipment_id"])
    if ship.status == ShipmentStatus.CANCELLED:
        return _skip(rt, effect, now, "shipment cancelled")
    order = _order(rt, ship.order_id)
    with rt.store.read() as conn:
        lines = queries.shipment_lines_of(conn, ship.id)
    request = FulfillmentRequest(
        key=effect.key, shipment_id=ship.id, order_id=order.id, order_number=order.number, lines=lines, ship_to=order.ship_to
    )
    ref = rt.warehouse(ship.warehouse).submit(request)
    with rt.store.transaction() as tx:
        values = {"fulfillment_ref": ref}
        if ship.status == ShipmentStatus.PENDING:
            values["status"] = ShipmentStatus.SUBMITTED
        queries.update_shipment(tx, ship.id, now, **values)
        queries.finish_effect(tx, effect.id, now, {"ref": ref})
    return {"ref": ref}


def cancel_at_warehouse(rt: Runtime, effect: sa.Row, now: datetime) -> dict:
    ship = _shipment(rt, effect.payload["shipment_id"])
    rt.warehouse(ship.warehouse).cancel(effect.payload["ref"])
    with rt.store.transaction() as tx:
        queries.finish_effect(tx, effect.id, now)
    return {}


def label_of(ship: sa.Row) -> Label:
    """The bought label as stored on a shipment row."""
    return Label(
        carrier=ship.carrier,
        carrier_name=ship.carrier_name or "",
        service=ship.service or "",
        tracking_code=ship.tracking_code or "",
        cost=Money(amount=ship.rate_amount or 0, currency=ship.rate_currency or "USD"),
        shipment_ref=ship.carrier_shipment_ref or "",
        tracker_ref=ship.tracker_ref or "",
        label_url=ship.label_url or "",
        tracking_url=ship.tracking_url or "",
    )


def buy_label(rt: Runtime, effect: sa.Row, now: datetime) -> dict:
    ship = _shipment(rt, effect.payload["shipment_id"])
    if ship.tracking_code:
        return _skip(rt, effect, now, "label already stored")
    if ship.status == ShipmentStatus.CANCELLED:
        return _skip(rt, effect, now, "shipment cancelled before its label was bought")
    rate = Rate(
        carrier=ship.carrier,
        carrier_name=ship.carrier_name,
        service=ship.service,
        amount=Money(amount=ship.rate_amount, currency=ship.rate_currency),
        rate_id=ship.rate_id,
        shipment_ref=ship.carrier_shipment_ref,
        transit_days=ship.transit_days,
    )
    label = rt.carrier(ship.carrier).buy(rate, effect.key)
    order = _order(rt, ship.order_id)
    with rt.store.transaction() as tx:
        queries.update_shipment(
            tx, ship.id, now,
            status=ShipmentStatus.LABEL_PURCHASED,
            tracking_code=label.tracking_code,
            tracker_ref=label.tracker_ref,
            tracking_url=label.tracking_url,
            label_url=label.label_url,
            rate_amount=label.cost.amount,
            rate_currency=label.cost.currency,
            shipped_at=now,
        )
        queries.settle_reservations(tx, ship.id, consume=True, at=now)
        lifecycle.follow_shipments(tx, rt.hooks, ship.order_id, at=now, source=f"carrier:{ship.carrier}",
                                   reason=f"label {label.tracking_code} bought ({label.carrier_name} {label.service})")
        queries.enqueue(tx, f"channel.push_fulfillment:{ship.id}", "channel.push_fulfillment", order.channel,
                        {"shipment_id": ship.id}, now)
        queries.finish_effect(tx, effect.id, now, {"tracking_code": label.tracking_code})
    return {"tracking_code": label.tracking_code}


def _push(ship: sa.Row, lines) -> ShipmentPush:
    return ShipmentPush(
        shipment_id=ship.id,
        lines=tuple(lines),
        tracking_code=ship.tracking_code or "",
        tracking_url=ship.tracking_url or "",
        carrier_name=ship.carrier_name or "",
        service=ship.service or "",
        fulfillment_ref=ship.channel_ref or "",
    )


def push_fulfillment(rt: Runtime, effect: sa.Row, now: datetime) -> dict:
    ship = _shipment(rt, effect.payload["shipment_id"])
    order = _order(rt, ship.order_id)
    with rt.store.read() as conn:
        lines = queries.shipment_lines_of(conn, ship.id)
    ref = rt.channel(order.channel).push_fulfillment(order, _push(ship, lines), effect.key)
    with rt.store.transaction() as tx:
        queries.update_shipment(tx, ship.id, now, channel_ref=ref)
        queries.finish_effect(tx, effect.id, now, {"ref": ref})
    return {"ref": ref}


def push_tracking(rt: Runtime, effect: sa.Row, now: datetime) -> dict:
    ship = _shipment(rt, effect.payload["shipment_id"])
    if not ship.channel_ref:
        raise TransientError("the fulfillment has not reached the channel yet; tracking waits for it", service=effect.target)
    order = _order(rt, ship.order_id)
    with rt.store.read() as conn:
        lines = queries.shipment_lines_of(conn, ship.id)
    status = TrackingStatus(effect.payload["status"])
    rt.channel(order.channel).push_tracking(order, _push(ship, lines), status, effect.key)
    with rt.store.transaction() as tx:
        queries.finish_effect(tx, effect.id, now, {"status": status})
    return {"status": status}


#: Effect kind -> how to deliver it.
HANDLERS: dict[str, Handler] = {
    "warehouse.submit": submit_to_warehouse,
    "warehouse.cancel": cancel_at_warehouse,
    "carrier.buy_label": buy_label,
    "channel.push_fulfillment": push_fulfillment,
    "channel.push_tracking": push_tracking,
}
