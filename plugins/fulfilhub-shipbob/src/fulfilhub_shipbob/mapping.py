"""ShipBob JSON (API 1.0) to and from fulfilhub's models: pure functions and data tables, no I/O.

Every reader turns any JSON value into what it promises or a PayloadError naming the field.
One fulfilhub shipment is one ShipBob order (``reference_id`` = the shipment id); ShipBob
may ship an order as several shipments (packages), which :func:`combine` reads as one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from fulfilhub import (
    ExceptionReason,
    FulfillmentRequest,
    FulfillmentStatus,
    FulfillmentUpdate,
    PayloadError,
    StockLevel,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
)
from fulfilhub.sdk import MAX_QUANTITY, parse_time

T = TypeVar("T")
F = FulfillmentStatus

#: A shipment's ``status`` -> fulfilhub's progress (Processing is refined by its details,
#: :data:`PROCESSING_DETAILS`). Every value of the 1.0 ``ShipmentStatus`` enum.
STATUSES: Mapping[str, FulfillmentStatus] = {
    "None": F.SUBMITTED,
    "ImportReview": F.SUBMITTED,  # ShipBob reviews the imported order before fulfilling it
    "Processing": F.SUBMITTED,
    "LabeledCreated": F.PACKED,  # the label is printed; the parcel waits for the carrier
    "Completed": F.SHIPPED,  # it has left ShipBob (not delivered)
    "Exception": F.REJECTED,  # out of stock, inactive or unknown SKU...: a person acts
    "OnHold": F.REJECTED,  # invalid address, payment declined, missing customs data...
    "Cancelled": F.CANCELLED,
    "CleanSweeped": F.CANCELLED,  # an exception order ShipBob swept away unfulfilled
}

#: ``status_details[].name`` of a Processing shipment -> its progress (status reference,
#: ids 100-102); a Processing shipment with no detail is submitted.
PROCESSING_DETAILS: Mapping[str, FulfillmentStatus] = {
    "PickInProcess": F.PICKING,
    "Picked": F.PICKING,  # picking done, packing under way
    "Packed": F.PACKED,
    "Labeled": F.PACKED,
}

#: ``status_details[].name`` of a Completed shipment -> its tracking (ids 200-204).
COMPLETED_DETAILS: Mapping[str, TrackingStatus] = {
    "Processing": TrackingStatus.PRE_TRANSIT,  # waiting for carrier pickup
    "InTransit": TrackingStatus.IN_TRANSIT,
    "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
    "Delivered": TrackingStatus.DELIVERED,
    "DeliveryException": TrackingStatus.EXCEPTION,
}

#: Why a shipment is held or in exception, by ``status_details[].name`` (ids 300-40x),
#: as the reason fulfilhub records; other names are kept as ShipBob wrote them.
HOLD_REASONS: Mapping[str, str] = {
    "Bundle": "ShipBob: the shipment holds a bundle item",
    "MergedItem": "ShipBob: the shipment holds a merged item",
    "OutOfStock": "out of stock at ShipBob",
    "UnknownSku": "a SKU ShipBob has never received",
    "InactiveSku": "a SKU inactive at ShipBob",
    "InternalTransferInProgress": "stock in transfer between ShipBob's fulfillment centers",
    "BinTransferInProgress": "stock in transfer between bins at ShipBob",
    "InventoryInNonPickableLocation": "stock in a place ShipBob cannot pick from",
    "InventoryPartiallyCommitted": "only part of the stock could be committed",
    "InvalidAddress": "ShipBob holds it: the address is invalid",
    "PaymentDeclined": "ShipBob holds it: payment declined",
    "MissingTarriffInformation": "ShipBob holds it: customs data missing",
    "ReserveDateNotMet": "ShipBob holds it until its pick date",
}

#: Webhook topics (legacy ``shipbob-topic`` names and the dated ``x-webhook-topic`` ones)
#: -> what they carry. Others are acknowledged and ignored.
TOPICS: Mapping[str, str] = {
    "order_shipped": "fulfillment", "order.shipped": "fulfillment",
    "shipment_exception": "fulfillment", "order.shipment.exception": "fulfillment",
    "shipment_onhold": "fulfillment", "order.shipment.on_hold": "fulfillment",
    "shipment_cancelled": "fulfillment", "order.shipment.cancelled": "fulfillment",
    "shipment_delivered": "tracking", "order.shipment.delivered": "tracking",
    "order.shipment.tracking.updated": "tracking",
}

_RANK = {F.SUBMITTED: 0, F.PICKING: 1, F.PACKED: 2, F.SHIPPED: 3}
_TRACK_RANK = {TrackingStatus.PRE_TRANSIT: 0, TrackingStatus.IN_TRANSIT: 1, TrackingStatus.OUT_FOR_DELIVERY: 2,
               TrackingStatus.DELIVERED: 3}


def refusing(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The mapping boundary: any wrong shape that slips past the readers leaves as a PayloadError."""

    def wrap(parse: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return parse(*args, **kwargs)
            except PayloadError:
                raise
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                raise PayloadError(f"ShipBob {what} cannot be mapped: {exc!r}"[:300]) from None

        return guarded

    return wrap


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {type(value).__name__}", field=field)
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"expected a list, got {type(value).__name__}", field=field)
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise PayloadError(f"expected text, got {str(value)[:40]!r}", field=field)
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError: refused
    return value


def _optional_text(value: Any, field: str) -> str:
    return "" if value is None or value == "" else _text(value, field)


def _id(value: Any, field: str) -> str:
    """ShipBob ids are integers; kept as text."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise PayloadError(f"expected an id (a positive whole number), got {str(value)[:40]!r}", field=field)
    return str(value)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_QUANTITY * 1000 <= value <= MAX_QUANTITY * 1000:
        raise PayloadError(f"expected a count, got {str(value)[:40]!r}", field=field)
    return value


def _time(value: Any, field: str) -> datetime:
    return parse_time(value, field=field)


# ------------------------------------------------------------------ orders


def order_body(request: FulfillmentRequest, *, shipping_method: str) -> dict[str, Any]:
    """The body of ``POST /1.0/order``: products by ``reference_id`` (the SKU), the shipment
    id as the order's ``reference_id`` (unique per channel: ShipBob's idempotency)."""
    to = request.ship_to
    return {
        "reference_id": request.shipment_id,
        "order_number": request.order_number,
        "type": "DTC",
        "shipping_method": shipping_method,
        "recipient": {
            "name": to.name,
            "address": {"address1": to.line1, "address2": to.line2 or None, "company_name": None, "city": to.city,
                        "state": to.province or None, "country": to.country, "zip_code": to.postal_code or None},
            "email": None,
            "phone_number": None,
        },
        "products": [{"reference_id": line.sku, "name": line.sku, "quantity": line.quantity}
                     for line in request.lines],
        "tags": [{"name": "fulfilhub_key", "value": request.key}],
    }


@refusing("order")
def order_id(payload: Any) -> str:
    """The id of the order ``POST /1.0/order`` created (or ``GET /1.0/order/{id}`` shows)."""
    return _id(_object(payload, "order").get("id"), "order.id")


@refusing("order list")
def order_id_of_reference(payload: Any, reference_id: str) -> str | None:
    """The id of the order with ``reference_id`` in ``GET /1.0/order?ReferenceIds=`` (None: none)."""
    for i, order in enumerate(_list(payload, "orders")):
        order = _object(order, f"orders[{i}]")
        if order.get("reference_id") == reference_id:
            return _id(order.get("id"), f"orders[{i}].id")
    return None


def _detail_names(shipment: Mapping[str, Any], field: str) -> list[str]:
    details = shipment.get("status_details")
    if details is None:
        return []
    return [_text(_object(d, f"{field}.status_details[{i}]").get("name"), f"{field}.status_details[{i}].name")
            for i, d in enumerate(_list(details, f"{field}.status_details"))]


def _status(shipment: Mapping[str, Any], field: str) -> tuple[FulfillmentStatus, str]:
    word = _text(shipment.get("status"), f"{field}.status")
    if word not in STATUSES:
        raise PayloadError(f"unknown shipment status {word[:40]!r}; known: {', '.join(STATUSES)}", field=f"{field}.status")
    status, details = STATUSES[word], _detail_names(shipment, field)
    if word == "Processing":
        steps = [PROCESSING_DETAILS[name] for name in details if name in PROCESSING_DETAILS]
        status = max(steps, key=_RANK.__getitem__) if steps else F.SUBMITTED
    reason = ""
    if status in (F.REJECTED, F.CANCELLED):
        reason = "; ".join(HOLD_REASONS.get(name, name) for name in details) or f"ShipBob: {word}"
    return status, reason


def _tracking(shipment: Mapping[str, Any], field: str) -> tuple[str, str, str, str] | None:
    """``(carrier, tracking number, service, url)`` of a shipment, or None before it has them."""
    tracking = shipment.get("tracking")
    if tracking is None:
        return None
    tracking = _object(tracking, f"{field}.tracking")
    number = tracking.get("tracking_number")
    if number in (None, ""):
        return None
    return (_text(tracking.get("carrier"), f"{field}.tracking.carrier"),
            _text(number, f"{field}.tracking.tracking_number"),
            _optional_text(tracking.get("carrier_service"), f"{field}.tracking.carrier_service"),
            _optional_text(tracking.get("tracking_url"), f"{field}.tracking.tracking_url"))


@refusing("shipments")
def parse_shipments(payload: Any, *, ref: str) -> FulfillmentUpdate:
    """``GET /1.0/order/{id}/shipment`` (the order's shipments) as one FulfillmentUpdate.

    Cancelled shipments are left out while any other is live. The order is as far as
    its least advanced live shipment; ``rejected`` (an exception or a hold) wins over
    progress. ``shipped`` needs every live shipment to have left with a tracking number:
    the first is the label, the others ``more_tracking_codes``. A shipment ShipBob says
    Completed without a tracking number yet counts as packed until it has one.
    """
    shipments = [_object(s, f"shipments[{i}]") for i, s in enumerate(_list(payload, "shipments"))]
    if not shipments:
        raise PayloadError("the order has no shipment", field="shipments")
    read = []
    for i, shipment in enumerate(shipments):
        field = f"shipments[{i}]"
        status, reason = _status(shipment, field)
        tracking = _tracking(shipment, field) if status is F.SHIPPED else None
        if status is F.SHIPPED and tracking is None:
            status = F.PACKED
        at = _time(shipment.get("last_update_at") or shipment.get("created_date"), f"{field}.last_update_at")
        shipped_at = shipment.get("actual_fulfillment_date")
        read.append((status, reason, tracking, at, _time(shipped_at, f"{field}.actual_fulfillment_date")
                     if shipped_at else None))
    live = [r for r in read if r[0] is not F.CANCELLED] or read
    at = max(r[3] for r in live)
    if all(r[0] is F.CANCELLED for r in live):
        return FulfillmentUpdate(ref=ref, status=F.CANCELLED, at=at, reason="; ".join(sorted({r[1] for r in live})))
    rejected = [r for r in live if r[0] is F.REJECTED]
    if rejected:
        return FulfillmentUpdate(ref=ref, status=F.REJECTED, at=at, reason="; ".join(r[1] for r in rejected))
    least = min((r[0] for r in live), key=_RANK.__getitem__)
    if least is not F.SHIPPED:
        return FulfillmentUpdate(ref=ref, status=least, at=at)
    first = live[0]
    carrier, number, service, url = first[2]
    return FulfillmentUpdate(ref=ref, status=F.SHIPPED, at=at, carrier=carrier, service=service, tracking_code=number,
                             tracking_url=url, shipped_at=min((r[4] for r in live if r[4] is not None), default=None),
                             more_tracking_codes=tuple(r[2][1] for r in live[1:]))


@refusing("shipments")
def parse_tracking(payload: Any, *, tracking_code: str) -> TrackingUpdate:
    """``GET /1.0/order/{id}/shipment`` as the parcel's tracking, for ShipBob to follow it.

    The status is the least advanced of the live packages (delivered when all are);
    a delivery exception in any of them is the order's. Each package's latest status
    detail is one event, at its ``last_tracking_update_at``.
    """
    shipments = [_object(s, f"shipments[{i}]") for i, s in enumerate(_list(payload, "shipments"))]
    statuses, events = [], []
    for i, shipment in enumerate(shipments):
        field = f"shipments[{i}]"
        word = _text(shipment.get("status"), f"{field}.status")
        if word not in STATUSES:
            raise PayloadError(f"unknown shipment status {word[:40]!r}", field=f"{field}.status")
        if STATUSES[word] is F.CANCELLED:
            continue
        if STATUSES[word] is not F.SHIPPED:
            statuses.append(TrackingStatus.PRE_TRANSIT)
            continue
        names = [n for n in _detail_names(shipment, field) if n in COMPLETED_DETAILS]
        status = COMPLETED_DETAILS[names[-1]] if names else TrackingStatus.PRE_TRANSIT
        statuses.append(status)
        when = shipment.get("last_tracking_update_at") or shipment.get("actual_fulfillment_date")
        if when:
            tracking = _tracking(shipment, field)
            events.append(TrackingEvent(
                at=_time(when, f"{field}.last_tracking_update_at"), status=status,
                description=f"ShipBob: {names[-1] if names else 'Completed'}"
                + (f" ({tracking[0]} {tracking[1]})" if tracking else ""),
                reason=ExceptionReason.OTHER if status is TrackingStatus.EXCEPTION else None,
                source=f"{word}/{names[-1] if names else ''}"))
    if not statuses:
        return TrackingUpdate(tracking_code=tracking_code, status=TrackingStatus.CANCELLED)
    if TrackingStatus.EXCEPTION in statuses:
        status, reason = TrackingStatus.EXCEPTION, ExceptionReason.OTHER
    else:
        status, reason = min(statuses, key=_TRACK_RANK.__getitem__), None
    return TrackingUpdate(tracking_code=tracking_code, status=status, reason=reason,
                          events=tuple(sorted(events, key=lambda e: e.at)))


# ------------------------------------------------------------------ stock


@refusing("products")
def inventory_of_products(payload: Any, skus: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """``GET /1.0/product?ReferenceIds=`` as ``{sku: [(inventory id, units per product)]}``.

    A product is one inventory item, or a bundle of several (its stock is what its
    components make). Inactive products and SKUs not asked for are left out.
    """
    wanted, out = set(skus), {}
    for i, product in enumerate(_list(payload, "products")):
        field = f"products[{i}]"
        product = _object(product, field)
        sku = _text(product.get("reference_id"), f"{field}.reference_id")
        if sku not in wanted or sku in out:
            continue
        items = _list(product.get("fulfillable_inventory_items") or [], f"{field}.fulfillable_inventory_items")
        components = []
        for j, item in enumerate(items):
            item = _object(item, f"{field}.fulfillable_inventory_items[{j}]")
            quantity = _count(item.get("quantity"), f"{field}.fulfillable_inventory_items[{j}].quantity")
            if quantity < 1:
                raise PayloadError(f"expected 1 or more units per product, got {quantity}",
                                   field=f"{field}.fulfillable_inventory_items[{j}].quantity")
            components.append((_id(item.get("id"), f"{field}.fulfillable_inventory_items[{j}].id"), quantity))
        if components:
            out[sku] = components
    return out


@refusing("inventory")
def parse_inventory(payload: Any, *, fulfillment_center: int | None = None) -> dict[str, tuple[int, int]]:
    """``GET /1.0/inventory?IDs=`` as ``{inventory id: (on hand, fulfillable)}``: the totals,
    or one fulfillment center's from ``fulfillable_quantity_by_fulfillment_center``."""
    out = {}
    for i, item in enumerate(_list(payload, "inventory")):
        field = f"inventory[{i}]"
        item = _object(item, field)
        inventory_id = _id(item.get("id"), f"{field}.id")
        if fulfillment_center is None:
            on_hand = _count(item.get("total_onhand_quantity"), f"{field}.total_onhand_quantity")
            fulfillable = _count(item.get("total_fulfillable_quantity"), f"{field}.total_fulfillable_quantity")
        else:
            on_hand = fulfillable = 0
            centers = _list(item.get("fulfillable_quantity_by_fulfillment_center") or [],
                            f"{field}.fulfillable_quantity_by_fulfillment_center")
            for j, center in enumerate(centers):
                where = f"{field}.fulfillable_quantity_by_fulfillment_center[{j}]"
                center = _object(center, where)
                if _id(center.get("id"), f"{where}.id") == str(fulfillment_center):
                    on_hand = _count(center.get("onhand_quantity"), f"{where}.onhand_quantity")
                    fulfillable = _count(center.get("fulfillable_quantity"), f"{where}.fulfillable_quantity")
        out[inventory_id] = (max(0, on_hand), max(0, min(fulfillable, on_hand)))
    return out


def stock_levels(products: Mapping[str, list[tuple[str, int]]], inventory: Mapping[str, tuple[int, int]], *,
                 warehouse: str) -> list[StockLevel]:
    """Each SKU's level: on hand as ShipBob counts it, ``reserved`` what of it ShipBob cannot
    send (committed to orders, in exception, ...), so ``available`` is its fulfillable
    quantity. A bundle makes as many as its scarcest component allows."""
    levels = []
    for sku, components in sorted(products.items()):
        if any(inventory_id not in inventory for inventory_id, _ in components):
            continue
        on_hand = min(inventory[i][0] // units for i, units in components)
        fulfillable = min(inventory[i][1] // units for i, units in components)
        levels.append(StockLevel(warehouse=warehouse, sku=sku, on_hand=on_hand, reserved=on_hand - fulfillable))
    return levels


# ------------------------------------------------------------------ webhooks


@refusing("webhook")
def webhook_subject(topic: str, payload: Any) -> tuple[str, str, list[Any] | None] | None:
    """What a webhook is about: ``(kind, ShipBob order id, its shipments or None)``, kind
    ``"fulfillment"`` or ``"tracking"`` (:data:`TOPICS`); None for a topic not acted on.

    ``order_shipped`` carries the order (``id``) with all its ``shipments``: they are
    mapped as a poll's answer. The ``shipment_*`` topics carry one shipment (``order_id``
    names the order), one package of an order that may have several: the shipments are
    None, and the adapter reads the order's shipments again (a delivered package is not
    a delivered order), which also copes with ShipBob's webhooks arriving out of order.
    """
    kind = TOPICS.get(topic)
    if kind is None:
        return None
    body = _object(payload, "body")
    if "shipments" in body:  # an order
        return kind, _id(body.get("id"), "id"), _list(body.get("shipments"), "shipments")
    return kind, _id(body.get("order_id"), "order_id"), None


def from_webhook(kind: str, ref: str, shipments: Any) -> FulfillmentUpdate | TrackingUpdate:
    """An order's shipments as what a webhook of ``kind`` means: its progress, or, once it
    has shipped and the topic is about tracking, its tracking."""
    update = parse_shipments(shipments, ref=ref)
    if kind == "tracking" and update.tracking_code:
        return parse_tracking(shipments, tracking_code=update.tracking_code)
    return update
