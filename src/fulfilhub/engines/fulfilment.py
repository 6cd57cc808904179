"""Fulfilment: a shipment's way from allocation to delivery, as decisions over the model.

The runner selects due work, calls an adapter, and hands the answer to a function here
inside one transaction; this module decides what the answer means (the shipment's new
status, the order's derived status, the effects that follow) and persists it through
the store. Both foreign status tables that matter to a shipment live here: what a
warehouse's answer means (:data:`FULFILLMENT_TO_SHIPMENT`) and what a carrier's
normalized tracking status means (:data:`TRACKING_TO_SHIPMENT`).

Every function takes the open transaction first and returns the shipment as saved (or
None when nothing changed), so that a job never writes a row by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

import attrs

from ..errors import FulfilhubError, PluginError
from ..models import (
    FulfillmentStatus,
    FulfillmentUpdate,
    Label,
    Money,
    Order,
    OrderStatus,
    Rate,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingStatus,
    TrackingUpdate,
)
from ..store import Tx
from ..store import choices as choice_store
from ..store import lots as lot_store
from ..store import orders as order_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from ..store.outbox import Effect, enqueue
from . import lifecycle, lots

if TYPE_CHECKING:
    from ..plugins import Hooks

S = ShipmentStatus
T = TrackingStatus

#: What a warehouse's answer means for the shipment. ``shipped`` (the warehouse bought
#: its own label, a 3PL) records that label: see :func:`record_shipped_by_warehouse`.
FULFILLMENT_TO_SHIPMENT: Mapping[FulfillmentStatus, ShipmentStatus] = {
    FulfillmentStatus.SUBMITTED: S.SUBMITTED,
    FulfillmentStatus.PICKING: S.PICKING,
    FulfillmentStatus.PACKED: S.PACKED,
    FulfillmentStatus.SHIPPED: S.LABEL_PURCHASED,
    FulfillmentStatus.CANCELLED: S.CANCELLED,
    FulfillmentStatus.REJECTED: S.EXCEPTION,
}

#: What a carrier's normalized tracking status means for the shipment (None: nothing).
TRACKING_TO_SHIPMENT: Mapping[TrackingStatus, ShipmentStatus | None] = {
    T.PRE_TRANSIT: S.LABEL_PURCHASED,
    T.IN_TRANSIT: S.IN_TRANSIT,
    T.OUT_FOR_DELIVERY: S.OUT_FOR_DELIVERY,
    T.AVAILABLE_FOR_PICKUP: S.OUT_FOR_DELIVERY,
    T.DELIVERED: S.DELIVERED,
    T.FAILED_ATTEMPT: S.EXCEPTION,
    T.EXCEPTION: S.EXCEPTION,
    T.RETURN_TO_SENDER: S.RETURNED,
    T.CANCELLED: S.CANCELLED,
    T.UNKNOWN: None,
}

#: Shipments a warehouse is still working on (polled for news).
AT_WAREHOUSE = (S.SUBMITTED, S.PICKING)

#: Shipments a carrier has (polled for tracking while they have a label).
TRACKED = (S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION)

#: Shipment statuses that can still be cancelled without a carrier involved.
CANCELLABLE = (S.PENDING, S.SUBMITTED, S.PICKING, S.PACKED)

#: How long to wait before asking a carrier again, by what it said last. A parcel in
#: transit with a known ETA is asked again at the end of its expected delivery day.
POLL_AFTER: Mapping[ShipmentStatus, timedelta] = {
    S.LABEL_PURCHASED: timedelta(hours=12),
    S.IN_TRANSIT: timedelta(hours=12),
    S.OUT_FOR_DELIVERY: timedelta(hours=4),
    S.EXCEPTION: timedelta(hours=24),
}
#: The end of the expected delivery day, counted from the ETA's (midnight) date.
ETA_DAY_END = timedelta(hours=20)
#: Never wait longer than this between two looks at a parcel that is on its way (a
#: ground parcel with a four-day ETA is asked twice: once on its way, once at the end).
MAX_POLL_GAP = timedelta(days=4)


def next_poll(status: ShipmentStatus, est_delivery: datetime | None, now: datetime,
              eta_date: date | None = None) -> datetime | None:
    """When to ask the carrier about a shipment next (None: never again, it is final).
    A date-only estimate counts from that day's start in UTC (the ETA day's end is then
    ``ETA_DAY_END`` later, near enough for when to look again)."""
    every = POLL_AFTER.get(status)
    if every is None:
        return None
    due = now + every
    if est_delivery is None and eta_date is not None:
        est_delivery = datetime.combine(eta_date, time(0), timezone.utc)
    if status is S.IN_TRANSIT and est_delivery is not None:
        due = max(due, min(est_delivery + ETA_DAY_END, now + MAX_POLL_GAP))
    return due


# ------------------------------------------------------------------ allocation


def new_shipments(order: Order, by_warehouse: Mapping[str, Sequence[ShipmentLine]], first_number: int,
                  at: datetime) -> list[Shipment]:
    """One pending shipment per warehouse, numbered ``<order id>/<n>`` from ``first_number``."""
    return [
        Shipment(id=f"{order.id}/{n}", order_id=order.id, warehouse=warehouse, status=S.PENDING, lines=lines,
                 created_at=at, modified_at=at)
        for n, (warehouse, lines) in enumerate(sorted(by_warehouse.items()), start=first_number)
    ]


def allocate(tx: Tx, hooks: Hooks | None, order: Order, current: OrderStatus,
             by_warehouse: Mapping[str, Sequence[ShipmentLine]], at: datetime, *,
             existing: int | None = None) -> list[Shipment] | None:
    """Create the shipments, reserve their stock, ask each warehouse to fulfil, and move the order on.

    Returns the shipments, or None when some stock was no longer available: the caller
    must then roll ``tx`` back (nothing of it may be kept). ``existing``: the order's
    shipments so far, if the caller read it (else it is read here); a stale count makes
    a shipment id that exists, and ``tx`` fails.
    """
    if existing is None:
        existing = shipment_store.count_of_order(tx.conn, order.id)
    made = new_shipments(order, by_warehouse, existing + 1, at)
    for shipment in made:
        shipment_store.insert(tx, shipment)
        per_sku: dict[str, int] = {}
        for line in shipment.lines:
            per_sku[line.sku] = per_sku.get(line.sku, 0) + line.quantity
        if not stock_store.reserve(tx, shipment.id, shipment.warehouse, per_sku):
            return None
        enqueue(tx, Effect.submit_to_warehouse(shipment), at)
    where = ", ".join(f"{s.warehouse} ({sum(ln.quantity for ln in s.lines)} items)" for s in made)
    lifecycle.transition(tx, hooks, order.id, current, OrderStatus.ALLOCATED, at=at, source="allocation",
                         reason=f"{len(made)} shipment(s): {where}")
    return made


def complete_without_shipment(tx: Tx, hooks: Hooks | None, order: Order, current: OrderStatus, at: datetime) -> None:
    """An order with nothing to ship (digital goods only) is done once accepted."""
    lifecycle.transition(tx, hooks, order.id, current, OrderStatus.DELIVERED, at=at, source="allocation",
                         reason=f"nothing to ship ({len(order.lines)} line(s), none needs shipping)")


def backorder(tx: Tx, hooks: Hooks | None, order: Order, current: OrderStatus, at: datetime) -> None:
    short = ", ".join(f"{ln.quantity} x {ln.sku}" for ln in order.lines)
    lifecycle.transition(tx, hooks, order.id, current, OrderStatus.BACKORDERED, at=at, source="allocation",
                         reason=f"not enough stock across warehouses for {short}")


def cancel_open(tx: Tx, order_id: str, at: datetime) -> list[Shipment]:
    """Cancel the order's shipments that have not left, release their stock, and tell the warehouses.

    Returns the shipments cancelled.
    """
    cancelled = []
    for shipment in shipment_store.of_order(tx.conn, order_id):
        if shipment.status not in CANCELLABLE:
            continue
        stock_store.settle(tx, shipment.id, consume=False, at=at)
        lot_store.restock_shipment(tx, shipment.id, at)  # a packed parcel's lots get their units back
        shipment = _save(tx, shipment, at, status=S.CANCELLED)
        if shipment.fulfillment_ref:
            enqueue(tx, Effect.cancel_at_warehouse(shipment), at)
        cancelled.append(shipment)
    return cancelled


def cancelled_after_shipping(tx: Tx, order_id: str, at: datetime) -> tuple[list[Shipment], list[Shipment]]:
    """The channel cancelled an order some of whose parcels have labels.

    Shipments not yet labelled are cancelled as before; a label the carrier has not
    scanned yet is voided (an outbox effect); a parcel already on its way needs a
    return, which a person arranges. Returns ``(being voided, needing a return)``.
    """
    cancel_open(tx, order_id, at)
    voiding, returning = [], []
    for shipment in shipment_store.of_order(tx.conn, order_id):
        if shipment.status is S.LABEL_PURCHASED and shipment.label is not None:
            enqueue(tx, Effect.void_label(shipment), at)
            voiding.append(shipment)
        elif shipment.status in (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION):
            returning.append(shipment)
    return voiding, returning


def record_void(tx: Tx, hooks: Hooks | None, shipment: Shipment, at: datetime) -> Shipment:
    """The carrier voided the unused label: the parcel goes back on the shelf, and an order
    left with no live shipment is cancelled."""
    saved = _save(tx, shipment, at, status=S.CANCELLED, next_poll_at=None)
    per_sku: dict[str, int] = {}
    for line in shipment.lines:
        per_sku[line.sku] = per_sku.get(line.sku, 0) + line.quantity
    stock_store.restock(tx, shipment.warehouse, per_sku, at)
    lot_store.restock_shipment(tx, shipment.id, at)
    found = order_store.status_with_shipments(tx.conn, shipment.order_id)
    if found is not None:
        current, statuses = found
        if all(s == S.CANCELLED for s in statuses) and OrderStatus.CANCELLED in lifecycle.TRANSITIONS[current]:
            lifecycle.transition(tx, hooks, shipment.order_id, current, OrderStatus.CANCELLED, at=at,
                                 source=f"carrier:{shipment.carrier}",
                                 reason=f"cancelled by the channel; label {shipment.tracking_code} voided")
    return saved


# ------------------------------------------------------------------ warehouse


def record_submission(tx: Tx, shipment: Shipment, ref: str, at: datetime) -> Shipment:
    """The warehouse took the request and answered with its reference."""
    status = S.SUBMITTED if shipment.status is S.PENDING else shipment.status
    return _save(tx, shipment, at, fulfillment_ref=ref, status=status)


class UnhandledUpdate(PluginError):
    """A warehouse answered with a status fulfilhub cannot act on yet."""


def apply_warehouse_update(tx: Tx, hooks: Hooks | None, shipment: Shipment, update: FulfillmentUpdate,
                           at: datetime, *, source: str, next_pass: datetime | None = None,
                           tracked_by: str = "") -> Shipment | None:
    """Move the shipment on by the warehouse's answer; None when it says nothing new.

    The warehouse is asked again at its ``next_check_at`` hint (None: on the next pass).
    A hint no later than ``next_pass`` (when the job runs again anyway) is not written.
    ``shipped`` records the warehouse's label, followed by ``tracked_by`` (a carrier
    instance, see :func:`tracking_carrier`; empty: the warehouse itself).
    """
    target = FULFILLMENT_TO_SHIPMENT.get(update.status)
    if target is None:
        raise UnhandledUpdate(
            f"warehouse {shipment.warehouse}, shipment {shipment.id}: status {update.status} is not handled"
        )
    if not lifecycle.shipment_advances(shipment.status, target):
        hint = update.next_check_at
        worth_it = hint is not None and (next_pass is None or hint > next_pass)
        if worth_it and hint != shipment.next_poll_at:
            _save(tx, shipment, at, next_poll_at=hint)
        return None
    if target is S.LABEL_PURCHASED:
        return record_shipped_by_warehouse(tx, hooks, shipment, update, tracked_by or shipment.warehouse,
                                           Order.channel_of(shipment.order_id), at, source=source)
    if target is S.CANCELLED:
        stock_store.settle(tx, shipment.id, consume=False, at=at)
        lot_store.restock_shipment(tx, shipment.id, at)
    changes: dict = {"status": target, "next_poll_at": update.next_check_at}
    if update.parcel is not None:
        changes["parcel"] = update.parcel
    saved = _save(tx, shipment, at, **changes)
    lifecycle.follow_shipments(tx, hooks, shipment.order_id, at=at, source=source,
                               reason=f"shipment {shipment.id} {target}" + (f": {update.reason}" if update.reason else ""))
    lots.record_packing(tx, saved, update, at, source=source)  # which lot went in, and what was packed short
    return saved


def tracking_carrier(courier: str, carriers: Sequence[str]) -> str:
    """Which configured carrier instance follows a parcel a warehouse shipped with ``courier``.

    The instance whose name is the courier's, compared without case, spaces or
    punctuation (``[carriers.usps]`` follows ``"USPS"``, ``[carriers.dhl_express]``
    ``"DHL Express"``); '' when none is: the warehouse itself then follows it.
    ``carriers`` are the instances that can track (full or tracks-only).
    """
    wanted = _plain(courier)
    return next((name for name in sorted(carriers) if wanted and _plain(name) == wanted), "")


def _plain(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def record_shipped_by_warehouse(tx: Tx, hooks: Hooks | None, shipment: Shipment, update: FulfillmentUpdate,
                                tracked_by: str, channel: str, at: datetime, *, source: str) -> Shipment:
    """The warehouse shipped the parcel with its own label: record that label as ours would
    be (no cost to fulfilhub: the warehouse bills it), take the stock off, tell the channel.

    ``tracked_by`` is the carrier instance that follows it, or the warehouse's own name
    when the warehouse follows it (:class:`fulfilhub.ShipmentTracker`).
    """
    label = Label(carrier=tracked_by, carrier_name=update.carrier, service=update.service,
                  tracking_code=update.tracking_code, cost=Money(amount=0, currency="USD"),
                  shipment_ref=update.ref, tracking_url=update.tracking_url)
    changes: dict = {"label": label, "status": S.LABEL_PURCHASED, "shipped_at": update.shipped_at or update.at,
                     "next_poll_at": next_poll(S.LABEL_PURCHASED, None, at)}
    if update.parcel is not None:
        changes["parcel"] = update.parcel
    saved = _save(tx, shipment, at, **changes)
    stock_store.settle(tx, shipment.id, consume=True, at=at)
    packages = (update.tracking_code, *update.more_tracking_codes)
    lifecycle.follow_shipments(
        tx, hooks, shipment.order_id, at=at, source=source,
        reason=f"shipped by warehouse {shipment.warehouse} with {update.carrier} {update.tracking_code}"
        + (f" ({len(packages)} packages: {', '.join(packages)})" if len(packages) > 1 else "")
        + (f", followed through carrier {tracked_by}" if tracked_by != shipment.warehouse else ""))
    enqueue(tx, Effect.push_fulfillment(saved, channel), at)
    return saved


# ------------------------------------------------------------------ labels


def choose(tx: Tx, shipment: Shipment, rate: Rate, at: datetime) -> Shipment:
    """Record the chosen carrier service and queue the label purchase (a purchase of its
    own when an earlier one failed and the shipment was chosen again)."""
    saved = _save(tx, shipment, at, rate=rate)
    enqueue(tx, Effect.buy_label(saved, choice_store.failures(tx.conn, shipment.id)), at)
    return saved


def unchoose(tx: Tx, shipment: Shipment, why: str, at: datetime) -> Shipment:
    """The label purchase failed on the chosen carrier: forget the rate, so that
    ``buy_labels`` chooses again among the other carriers (said on the choice and the order)."""
    choice_store.fail_last(tx, shipment.id, why)
    saved = _save(tx, shipment, at, rate=None)
    row = order_store.row(tx.conn, shipment.order_id)
    if row is not None:
        order_store.append_events(tx, [lifecycle.note_event(
            shipment.order_id, OrderStatus(row.status), at=at, source="carrier choice",
            reason=f"label purchase for {shipment.id} failed on {shipment.rate.carrier if shipment.rate else '?'}: "
                   f"{why}; choosing again among the other carriers")])
    return saved


def record_label(tx: Tx, hooks: Hooks | None, shipment: Shipment, label: Label, channel: str, at: datetime) -> Shipment:
    """The label is bought: the parcel has left the shelf, the channel is to be told."""
    saved = _save(tx, shipment, at, label=label, status=S.LABEL_PURCHASED, shipped_at=at,
                  next_poll_at=next_poll(S.LABEL_PURCHASED, None, at))
    stock_store.settle(tx, shipment.id, consume=True, at=at)
    lifecycle.follow_shipments(tx, hooks, shipment.order_id, at=at, source=f"carrier:{label.carrier}",
                               reason=f"label {label.tracking_code} bought ({label.carrier_name} {label.service})")
    enqueue(tx, Effect.push_fulfillment(saved, channel), at)
    return saved


#: Where a shipment can take a label bought elsewhere: the warehouse has the parcel and
#: fulfilhub has bought no label for it (a chosen rate's purchase is then skipped).
TAKES_OUTSIDE_LABEL = (S.SUBMITTED, S.PICKING, S.PACKED)


class NoOutsideLabel(FulfilhubError):
    """The shipment cannot take a label bought elsewhere (it has one, or is not at the warehouse)."""


def record_outside_label(tx: Tx, hooks: Hooks | None, shipment: Shipment, label: Label, channel: str,
                         at: datetime) -> Shipment:
    """A label bought elsewhere: the parcel has left with ``label.tracking_code`` and the
    carrier ``label.carrier`` follows it from now on (asked at once), as if fulfilhub had
    bought it. Raises :class:`NoOutsideLabel` when the shipment has a label already or the
    warehouse does not have it; nothing is changed then."""
    if shipment.label is not None or shipment.status not in TAKES_OUTSIDE_LABEL:
        has = f"has label {shipment.tracking_code} ({shipment.carrier})" if shipment.label else f"is {shipment.status}"
        raise NoOutsideLabel(f"shipment {shipment.id} {has}: only a shipment at its warehouse without a label "
                             f"({', '.join(TAKES_OUTSIDE_LABEL)}) takes a tracking code from outside")
    saved = _save(tx, shipment, at, label=label, status=S.LABEL_PURCHASED, shipped_at=at, next_poll_at=at)
    stock_store.settle(tx, shipment.id, consume=True, at=at)
    courier = f" ({label.carrier_name})" if label.carrier_name else ""
    lifecycle.follow_shipments(tx, hooks, shipment.order_id, at=at, source=f"carrier:{label.carrier}",
                               reason=f"tracking code {label.tracking_code}{courier} from a label bought elsewhere")
    enqueue(tx, Effect.push_fulfillment(saved, channel), at)
    return saved


def record_marketplace_label(tx: Tx, hooks: Hooks | None, shipment: Shipment, label: Label, at: datetime) -> Shipment:
    """The marketplace took the parcel on its own logistics (``MarketplaceLogistics``): as a
    bought label, but the channel is not told (arranging it was the telling)."""
    saved = _save(tx, shipment, at, label=label, status=S.LABEL_PURCHASED, shipped_at=at, channel_ref=label.shipment_ref,
                  next_poll_at=next_poll(S.LABEL_PURCHASED, None, at))
    stock_store.settle(tx, shipment.id, consume=True, at=at)
    lifecycle.follow_shipments(tx, hooks, shipment.order_id, at=at, source=f"channel:{label.carrier}",
                               reason=f"{label.carrier_name} ships it for the marketplace, tracking {label.tracking_code}")
    return saved


def record_channel_fulfillment(tx: Tx, shipment: Shipment, ref: str, at: datetime) -> Shipment:
    """The channel has the fulfillment; ``ref`` is its id for it."""
    return _save(tx, shipment, at, channel_ref=ref)


# ------------------------------------------------------------------ tracking


@attrs.frozen
class TrackingOutcome:
    """What one tracking answer did: the shipment as saved, scans added, and whether it moved."""

    shipment: Shipment
    new_scans: int
    moved_to: ShipmentStatus | None


def apply_tracking(tx: Tx, hooks: Hooks | None, shipment: Shipment, update: TrackingUpdate, channel: str,
                   at: datetime) -> TrackingOutcome:
    """Record the carrier's view: new scans, the status it implies, when to ask again.

    A status change appends the order's derived change, tells the channel (an outbox
    effect per milestone, keyed so it is pushed once) and, on delivery, calls the
    ``shipment_delivered`` hook once after commit.
    """
    new_scans = shipment_store.add_scans(tx, shipment.id, update.events)
    target = TRACKING_TO_SHIPMENT[update.status]
    moved = target is not None and lifecycle.shipment_advances(shipment.status, target)
    status = target if moved else shipment.status
    changes: dict = {"est_delivery": update.est_delivery, "eta_date": update.eta_date,
                     "exception_reason": update.reason, "status": status}
    if update.pickup_until is not None:  # kept until a later answer moves it (a poll may not repeat it)
        changes["pickup_until"] = update.pickup_until
    if moved and target is S.DELIVERED:
        delivered = [e.at for e in update.events if e.status is T.DELIVERED]
        changes["delivered_at"] = max(delivered) if delivered else at
    changes["next_poll_at"] = next_poll(status, update.est_delivery, at, update.eta_date)
    unchanged = all(getattr(shipment, k) == v for k, v in changes.items() if k != "next_poll_at")
    if unchanged and not new_scans and shipment.next_poll_at == changes["next_poll_at"]:
        return TrackingOutcome(shipment, 0, None)
    saved = _save(tx, shipment, at, **changes)
    if moved:
        enqueue(tx, Effect.push_tracking(saved, channel, update.status), at)
        lifecycle.follow_shipments(tx, hooks, shipment.order_id, at=at, source=f"carrier:{shipment.carrier}",
                                   reason=f"{update.tracking_code}: {update.status}"
                                   + (f" ({update.reason})" if update.reason else ""))
        if target is S.DELIVERED and hooks is not None and hooks.wants("shipment_delivered"):
            tx.after_commit.append(lambda: hooks.shipment_delivered(
                order_id=saved.order_id, shipment_id=saved.id, delivered_at=saved.delivered_at))
    return TrackingOutcome(saved, new_scans, target if moved else None)


def postpone_tracking(tx: Tx, shipment: Shipment, at: datetime) -> Shipment:
    """The carrier could not be asked (or its answer was unusable): ask again later, not every pass."""
    return _save(tx, shipment, at, next_poll_at=at + POLL_AFTER.get(shipment.status, timedelta(hours=12)))


# ------------------------------------------------------------------ persistence


def _save(tx: Tx, shipment: Shipment, at: datetime, **changes: object) -> Shipment:
    saved = attrs.evolve(shipment, modified_at=at, **changes)
    shipment_store.save(tx, saved)
    return saved
