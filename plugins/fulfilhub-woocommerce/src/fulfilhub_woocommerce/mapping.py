"""WooCommerce's words to fulfilhub's and back: pure functions and data tables, no I/O.

The adapter (``channel.py``) fetches and posts; what an order means, which order
statuses are taken in, what a shipment note says and what a coupon looks like are
decided here, so they are tested with golden payloads alone (``tests/payloads``, in
the shape of ``GET /wp-json/wc/v3/orders``).

WooCommerce REST API v3 facts this module relies on:

- ``date_created_gmt`` / ``date_modified_gmt`` are GMT without an offset
  (``"2026-01-05T08:00:00"``); the fields without ``_gmt`` are in the site's zone and
  are not read.
- Money is a decimal string (``"29.35"``); a line item's ``price`` is a JSON number,
  so the unit price is taken from the line's ``subtotal`` string divided by its
  quantity, which is exact to the cent for what WooCommerce computes.
- ``shipping`` is an object whose fields are empty strings when there is no shipping
  address (virtual orders).
"""

from __future__ import annotations

import hashlib
import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
from fulfilhub import (
    Address,
    CompensationKind,
    CompensationProposal,
    Money,
    Order,
    OrderLine,
    PayloadError,
    PickupPoint,
    ShipmentPush,
    TrackingStatus,
)
from fulfilhub.sdk import MAX_QUANTITY, parse_amount, parse_currency, parse_time

_MAX_TEXT = 65_536
_INT64 = 2**63


class Intake(enum.Enum):
    """What fulfilhub does with an order in a WooCommerce status."""

    FULFIL = "fulfil"  # paid: taken in and fulfilled
    WAIT = "wait"  # not paid yet, or a cart: not taken in; it comes back when its status moves on
    CANCELLED = "cancelled"  # taken in as cancelled (cancelled_at set), so that fulfilment stops


#: Every order status WooCommerce documents (``status``), and what fulfilhub does with it.
#: ``on-hold`` is "awaiting payment" in WooCommerce (a bank transfer, a cheque): not
#: shipped until the shop confirms the payment and the order moves to ``processing``.
#: ``completed`` is what fulfilhub itself sets when it has shipped everything; an order
#: first seen as completed is taken in like a processing one (see the README).
ORDER_STATUSES: Mapping[str, Intake] = MappingProxyType(
    {
        "pending": Intake.WAIT,
        "processing": Intake.FULFIL,
        "on-hold": Intake.WAIT,
        "completed": Intake.FULFIL,
        "cancelled": Intake.CANCELLED,
        "refunded": Intake.CANCELLED,
        "failed": Intake.WAIT,
        "checkout-draft": Intake.WAIT,
        "trash": Intake.CANCELLED,
    }
)

#: Tracking milestones told to the customer as an order note (WooCommerce has no tracking
#: event vocabulary of its own: a customer note is emailed to the buyer and shown on the
#: order page). The value is the note's wording.
MILESTONE_NOTES: Mapping[TrackingStatus, str] = MappingProxyType(
    {
        TrackingStatus.IN_TRANSIT: "is on its way",
        TrackingStatus.OUT_FOR_DELIVERY: "is out for delivery today",
        TrackingStatus.AVAILABLE_FOR_PICKUP: "is ready for pickup",
        TrackingStatus.DELIVERED: "has been delivered",
        TrackingStatus.FAILED_ATTEMPT: "could not be delivered on the first attempt; the carrier will try again",
        TrackingStatus.EXCEPTION: "has a problem on the way; we are looking into it",
        TrackingStatus.RETURN_TO_SENDER: "is being returned to us",
    }
)

#: Milestones not told to the customer, each with the reason.
NOT_TOLD: Mapping[TrackingStatus, str] = MappingProxyType(
    {
        TrackingStatus.PRE_TRANSIT: "the shipment note posted by push_fulfillment already gives the tracking number",
        TrackingStatus.CANCELLED: "a voided label is not news for the buyer; the next shipment's note replaces it",
        TrackingStatus.UNKNOWN: "the carrier said nothing about the parcel; telling the buyer nothing is right",
    }
)

#: The order meta key fulfilhub stamps for each shipment it told the shop of.
SHIPMENT_META_PREFIX = "_fulfilhub_shipment:"
#: The coupon meta key carrying the compensation's idempotency key.
COUPON_KEY_META = "_fulfilhub_key"


# --------------------------------------------------------------------------- orders


def intake(payload: Mapping[str, Any]) -> Intake:
    """What the order's ``status`` means for fulfilhub; PayloadError for a status WooCommerce does not document."""
    status = payload.get("status") if isinstance(payload, Mapping) else None
    if not isinstance(status, str) or status not in ORDER_STATUSES:
        raise PayloadError(f"is not a WooCommerce order status: {_shown(status)}", field="status")
    return ORDER_STATUSES[status]


def modified_at(payload: Mapping[str, Any]) -> datetime:
    """``date_modified_gmt`` as an aware UTC time (PayloadError when missing or broken)."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    return parse_time(payload.get("date_modified_gmt"), field="date_modified_gmt", naive_is_utc=True)


def order_id(payload: Mapping[str, Any]) -> int:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    return _int_id(payload.get("id"), "id")


def parse_order(payload: Any, *, channel: str) -> Order:
    """Map one order of ``GET /wp-json/wc/v3/orders`` to an :class:`~fulfilhub.Order`.

    ``version`` is a digest of what fulfilhub reads (see :func:`content_version`), not
    ``date_modified``: fulfilhub's own notes and status change bump that, and such an
    echo must not count as a new version. Cancelled, refunded and trashed orders carry
    ``cancelled_at`` (WooCommerce keeps no cancellation time: ``date_modified_gmt`` is
    used). Orders in a WAIT status (not paid) are not handed to this function by the
    adapter; given one, it maps it all the same. Anything that cannot be mapped raises
    :class:`~fulfilhub.PayloadError` naming the field, e.g. ``line_items[2].quantity``.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    try:
        return _parse_order(payload, channel)
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        # the readers check each value first; this is the last line, so that no payload
        # ever escapes as anything but a PayloadError
        raise PayloadError(f"cannot be mapped to an order: {exc}"[:300], field="order") from None


def _parse_order(payload: Mapping[str, Any], channel: str) -> Order:
    external_id = str(_int_id(payload.get("id"), "id"))
    status = intake(payload)
    placed_at = parse_time(payload.get("date_created_gmt"), field="date_created_gmt", naive_is_utc=True)
    updated_at = parse_time(payload.get("date_modified_gmt"), field="date_modified_gmt", naive_is_utc=True)
    currency = parse_currency(payload.get("currency"), field="currency")
    total = Money(amount=parse_amount(payload.get("total"), field="total"), currency=currency)
    billing = _object_or_empty(payload.get("billing"), "billing")
    email = _text(billing.get("email"), "billing.email")
    number = _text(payload.get("number"), "number") or external_id
    lines = _order_lines(payload.get("line_items"), currency)
    ship_to = _address(_object_or_empty(payload.get("shipping"), "shipping"), billing, email)
    pickup = pickup_point(payload)
    if ship_to is not None and pickup is not None:
        ship_to = attrs.evolve(ship_to, pickup=pickup)
    note = _text(payload.get("customer_note"), "customer_note")
    cancelled_at = updated_at if status is Intake.CANCELLED else None
    number = f"#{number}"
    return Order(
        channel=channel,
        external_id=external_id,
        version=content_version(number, placed_at, total, lines, ship_to, email, note, cancelled_at),
        number=number,
        placed_at=placed_at,
        updated_at=updated_at,
        currency=currency,
        total=total,
        lines=lines,
        ship_to=ship_to,
        email=email,
        note=note,
        cancelled_at=cancelled_at,
        raw=payload,
    )


def content_version(
    number: str,
    placed_at: datetime,
    total: Money,
    lines: Sequence[OrderLine],
    ship_to: Address | None,
    email: str,
    note: str,
    cancelled_at: datetime | None,
) -> str:
    """A short digest (20 hex digits) of the order as fulfilhub reads it.

    It leaves out ``date_modified``, ``status`` between processing and completed, and
    meta data: what fulfilhub's own pushes change in the shop. Moments are compared as
    instants, amounts by value.
    """
    parts = [
        number,
        repr(placed_at.timestamp()),
        f"{total.amount.normalize()} {total.currency}",
        email,
        note,
        repr(cancelled_at.timestamp()) if cancelled_at is not None else "",
        *(
            f"{line.external_id}|{line.sku}|{line.quantity}|{line.unit_price.amount.normalize()}|{line.title}"
            for line in lines
        ),
        "" if ship_to is None else "|".join(
            (ship_to.name, ship_to.company, ship_to.line1, ship_to.line2, ship_to.city, ship_to.province,
             ship_to.postal_code, ship_to.country, ship_to.phone)
        ),
        *(() if ship_to is None or ship_to.pickup is None else (f"{ship_to.pickup.network}|{ship_to.pickup.store_id}",)),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _order_lines(items: Any, currency: str) -> tuple[OrderLine, ...]:
    if not isinstance(items, list):
        raise PayloadError(f"must be a list of line items, got {_shown(items)}", field="line_items")
    lines = []
    for index, item in enumerate(items):
        where = f"line_items[{index}]"
        if not isinstance(item, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(item)}", field=where)
        quantity = _quantity(item.get("quantity"), f"{where}.quantity")
        subtotal = parse_amount(item.get("subtotal"), field=f"{where}.subtotal")
        unit = (subtotal / quantity).quantize(Decimal("0.0001")).normalize()
        lines.append(
            OrderLine(
                sku=_text(item.get("sku"), f"{where}.sku"),
                quantity=quantity,
                unit_price=Money(amount=unit, currency=currency),
                title=line_title(_text(item.get("name"), f"{where}.name"), item.get("meta_data"), f"{where}.meta_data"),
                external_id=str(_int_id(item.get("id"), f"{where}.id")),
            )
        )
    return tuple(lines)


def line_title(name: str, meta_data: Any, field: str) -> str:
    """The line's name with its visible meta data: ``"T-shirt (Size: M, Colour: Blue)"``.

    WooCommerce keeps a variation's attributes and add-on choices in the line's
    ``meta_data`` (``{"key": "pa_size", "value": "m", "display_key": "Size",
    "display_value": "M"}``); keys starting with ``_`` are hidden ones and left out.
    """
    if meta_data is None:
        return name
    if not isinstance(meta_data, list):
        raise PayloadError(f"must be a list, got {_shown(meta_data)}", field=field)
    shown = []
    for index, entry in enumerate(meta_data):
        if not isinstance(entry, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(entry)}", field=f"{field}[{index}]")
        key = entry.get("display_key", entry.get("key"))
        value = entry.get("display_value", entry.get("value"))
        raw_key = entry.get("key")
        if not isinstance(raw_key, str) or raw_key.startswith("_"):
            continue
        if not isinstance(key, str) or not isinstance(value, (str, int)) or isinstance(value, bool):
            continue  # structured values (arrays, objects) are not shown in a title
        shown.append(f"{_text(key, f'{field}[{index}].key')}: {_text(value, f'{field}[{index}].value')}")
    return f"{name} ({', '.join(shown)})" if shown else name


#: ECPay's WooCommerce plugin (Wooecpay): its store-pickup shipping methods, by network.
CVS_METHODS = {"Wooecpay_Logistic_CVS_711": "7-ELEVEN", "Wooecpay_Logistic_CVS_Family": "FamilyMart",
               "Wooecpay_Logistic_CVS_Hilife": "Hi-Life", "Wooecpay_Logistic_CVS_Okmart": "OK mart"}
#: The order meta keys where it keeps the store the customer chose on ECPay's map.
CVS_META = ("_ecpay_logistic_cvs_store_id", "_ecpay_logistic_cvs_store_name", "_ecpay_logistic_cvs_store_address")


def pickup_point(payload: Mapping[str, Any]) -> PickupPoint | None:
    """The convenience store a customer chose at checkout through ECPay's WooCommerce plugin:
    a ``Wooecpay_Logistic_CVS_*`` shipping method, and the store in the order's meta data.
    None for any other order (or a store method whose store was not chosen yet)."""
    lines = payload.get("shipping_lines")
    methods = [line.get("method_id") for line in lines if isinstance(line, Mapping)] if isinstance(lines, list) else []
    network = next((CVS_METHODS[m] for m in methods if isinstance(m, str) and m in CVS_METHODS), None)
    meta = payload.get("meta_data")
    if network is None or not isinstance(meta, list):
        return None
    found = {entry.get("key"): entry.get("value") for entry in meta if isinstance(entry, Mapping)}
    store_id, name, address = (_text(found.get(key), f"meta_data.{key}") for key in CVS_META)
    if not store_id:
        return None
    return PickupPoint(network=network, store_id=store_id, store_name=name, store_address=address)


def _address(shipping: Mapping[str, Any], billing: Mapping[str, Any], email: str) -> Address | None:
    def text(key: str) -> str:
        return _text(shipping.get(key), f"shipping.{key}")

    if not any(text(key) for key in ("address_1", "city", "postcode", "country")):
        return None  # a virtual order: WooCommerce sends the object with empty strings
    name = " ".join(part for part in (text("first_name"), text("last_name")) if part)
    return Address(
        name=name,
        company=text("company"),
        line1=text("address_1"),
        line2=text("address_2"),
        city=text("city"),
        province=text("state"),
        postal_code=text("postcode"),
        country=_country(shipping.get("country")),
        phone=text("phone") or _text(billing.get("phone"), "billing.phone"),
        email=email,
    )


# --------------------------------------------------------------------------- shipments


def shipment_marker(shipment_id: str) -> str:
    """The order meta key that records one shipment as told to the shop."""
    return f"{SHIPMENT_META_PREFIX}{shipment_id}"


def reference(key: str) -> str:
    """A short, stable reference for an idempotency key, shown at the end of a note."""
    return "fh-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def shipment_note(shipment: ShipmentPush, ref: str) -> str:
    """The customer note that tells the buyer a parcel has left, with its tracking."""
    carrier = " ".join(part for part in (shipment.carrier_name, shipment.service) if part)
    text = f"Your order has shipped with {carrier or 'our carrier'}. Tracking number: {shipment.tracking_code}."
    if shipment.tracking_url:
        text += f" Track it here: {shipment.tracking_url}"
    return f"{text} (ref {ref})"


def milestone_note(shipment: ShipmentPush, status: TrackingStatus, ref: str) -> str | None:
    """The customer note for a tracking milestone; None for one in :data:`NOT_TOLD`."""
    words = MILESTONE_NOTES.get(status)
    if words is None:
        return None
    return f"Your parcel {shipment.tracking_code} {words}. (ref {ref})"


def find_note(notes: Any, ref: str) -> Mapping[str, Any] | None:
    """The note of ``GET /orders/{id}/notes`` that carries ``(ref <ref>)``, if any."""
    if not isinstance(notes, list):
        raise PayloadError(f"must be a list of notes, got {_shown(notes)}", field="notes")
    for index, note in enumerate(notes):
        if not isinstance(note, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(note)}", field=f"notes[{index}]")
        text = note.get("note")
        if isinstance(text, str) and f"(ref {ref})" in text:
            _int_id(note.get("id"), f"notes[{index}].id")
            return note
    return None


def shipped_quantities(payload: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, int]]:
    """From an order's ``meta_data``: shipment id -> note id, and line item id -> quantity shipped.

    fulfilhub stamps one meta entry per shipment (:func:`shipment_meta`); their sum says
    whether the whole order has shipped.
    """
    meta = payload.get("meta_data") if isinstance(payload, Mapping) else None
    if meta is None:
        return {}, {}
    if not isinstance(meta, list):
        raise PayloadError(f"must be a list, got {_shown(meta)}", field="meta_data")
    refs: dict[str, str] = {}
    shipped: dict[str, int] = {}
    for index, entry in enumerate(meta):
        if not isinstance(entry, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(entry)}", field=f"meta_data[{index}]")
        key = entry.get("key")
        if not isinstance(key, str) or not key.startswith(SHIPMENT_META_PREFIX):
            continue
        value = entry.get("value")
        where = f"meta_data[{index}].value"
        if not isinstance(value, Mapping) or not isinstance(value.get("lines"), Mapping):
            raise PayloadError(f"must be an object with lines, got {_shown(value)}", field=where)
        refs[key.removeprefix(SHIPMENT_META_PREFIX)] = str(value.get("note_id", ""))
        for line_id, quantity in value["lines"].items():
            shipped[str(line_id)] = shipped.get(str(line_id), 0) + _quantity(quantity, f"{where}.lines.{line_id}")
    return refs, shipped


def shipment_quantities(shipment: ShipmentPush, order_lines: Sequence[OrderLine]) -> dict[str, int]:
    """Line item id -> quantity for the shipment's lines.

    A line names its WooCommerce line item by ``order_line_id``; where that is empty the
    order line with the same SKU is used. Raises ValueError when no single line has it.
    """
    lines: dict[str, int] = {}
    for line in shipment.lines:
        line_id = line.order_line_id or _line_by_sku(line.sku, order_lines)
        lines[line_id] = lines.get(line_id, 0) + line.quantity
    return lines


def shipment_meta(shipment: ShipmentPush, lines: Mapping[str, int], note_id: str) -> dict[str, Any]:
    """The ``meta_data`` entry recording one shipment: its note and line item quantities."""
    return {
        "key": shipment_marker(shipment.shipment_id),
        "value": {"note_id": note_id, "tracking_number": shipment.tracking_code, "lines": dict(lines)},
    }


def fully_shipped(order_lines: Sequence[OrderLine], shipped: Mapping[str, int]) -> bool:
    """Whether every shippable line's quantity is covered by the shipments recorded."""
    return all(shipped.get(line.external_id, 0) >= line.quantity for line in order_lines if line.requires_shipping)


def tracking_item_body(shipment: ShipmentPush, shipped_on: str, providers: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``POST /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings``.

    A carrier named in ``providers`` (fulfilhub carrier name -> the extension's
    provider name) is sent as ``tracking_provider``; any other as a custom provider
    with the shipment's tracking link.
    """
    body: dict[str, Any] = {"tracking_number": shipment.tracking_code, "date_shipped": shipped_on}
    provider = providers.get(shipment.carrier_name)
    if provider:
        body["tracking_provider"] = provider
    else:
        body["custom_tracking_provider"] = shipment.carrier_name or "Carrier"
        body["custom_tracking_link"] = shipment.tracking_url
    return body


def has_tracking_item(items: Any, tracking_code: str) -> bool:
    """Whether ``GET .../shipment-trackings`` already lists ``tracking_code``."""
    if not isinstance(items, list):
        raise PayloadError(f"must be a list of tracking items, got {_shown(items)}", field="shipment-trackings")
    return any(isinstance(item, Mapping) and item.get("tracking_number") == tracking_code for item in items)


def _line_by_sku(sku: str, order_lines: Sequence[OrderLine]) -> str:
    matches = [line.external_id for line in order_lines if line.sku == sku]
    if len(matches) != 1:
        raise ValueError(
            f"shipment line for SKU {sku!r} has no order_line_id and {len(matches) or 'no'} order lines carry that "
            "SKU; give the WooCommerce line item id as order_line_id"
        )
    return matches[0]


# --------------------------------------------------------------------------- stock

#: At most this many SKUs per ``GET /products?sku=`` and items per ``POST /products/batch``.
BATCH = 100


def product_ids(products: Any, skus: Sequence[str]) -> dict[str, int]:
    """SKU -> product id, from ``GET /products?sku=A,B,C`` (SKUs WooCommerce did not list are left out)."""
    if not isinstance(products, list):
        raise PayloadError(f"must be a list of products, got {_shown(products)}", field="products")
    wanted = set(skus)
    found: dict[str, int] = {}
    for index, product in enumerate(products):
        if not isinstance(product, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(product)}", field=f"products[{index}]")
        sku = product.get("sku")
        if isinstance(sku, str) and sku in wanted:
            found[sku] = _int_id(product.get("id"), f"products[{index}].id")
    return found


def stock_batch(levels: Mapping[str, int], ids: Mapping[str, int]) -> dict[str, Any]:
    """The body of ``POST /products/batch`` setting each listed SKU's ``stock_quantity``."""
    return {"update": [{"id": ids[sku], "manage_stock": True, "stock_quantity": quantity}
                       for sku, quantity in sorted(levels.items()) if sku in ids]}


def batch_errors(answer: Any) -> list[str]:
    """The errors WooCommerce reports per item in a batch answer (``{"update": [{"id": 0, "error": {...}}]}``)."""
    items = answer.get("update") if isinstance(answer, Mapping) else None
    if not isinstance(items, list):
        raise PayloadError(f"must be an object with an update list, got {_shown(answer)}", field="update")
    errors = []
    for item in items:
        error = item.get("error") if isinstance(item, Mapping) else None
        if isinstance(error, Mapping):
            errors.append(f"product {item.get('id')}: {str(error.get('message') or error.get('code'))[:120]}")
    return errors


# --------------------------------------------------------------------------- coupons


def coupon_code(key: str) -> str:
    """The coupon code for a compensation key: the same key, the same code."""
    return "SORRY-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8].upper()


def coupon_body(order: Order, grant: CompensationProposal, key: str) -> dict[str, Any]:
    """The body of ``POST /wp-json/wc/v3/coupons`` for a compensation.

    ``discount`` (and any amount off): a ``fixed_cart`` coupon worth ``grant.value``;
    ``free_upgrade``: a coupon granting free shipping. Usable once, by the order's
    customer (``email_restrictions``), stamped with the key (meta ``_fulfilhub_key``
    and the description).
    """
    body: dict[str, Any] = {
        "code": coupon_code(key),
        "description": f"Apology for order {order.number} [{key}]",
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "individual_use": False,
        "meta_data": [{"key": COUPON_KEY_META, "value": key}],
    }
    if order.email:
        body["email_restrictions"] = [order.email]
    if grant.kind is CompensationKind.FREE_UPGRADE:
        body.update(discount_type="fixed_cart", amount="0", free_shipping=True)
    else:
        body.update(discount_type="fixed_cart", amount=f"{grant.value.amount:.2f}")
    return body


def find_coupon(coupons: Any, key: str) -> Mapping[str, Any] | None:
    """The coupon of ``GET /coupons?code=`` stamped with ``key``, if any."""
    if not isinstance(coupons, list):
        raise PayloadError(f"must be a list of coupons, got {_shown(coupons)}", field="coupons")
    code = coupon_code(key).lower()  # WooCommerce stores codes lower-cased
    for index, coupon in enumerate(coupons):
        if not isinstance(coupon, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(coupon)}", field=f"coupons[{index}]")
        found = coupon.get("code")
        if isinstance(found, str) and found.lower() == code:
            _int_id(coupon.get("id"), f"coupons[{index}].id")
            return coupon
    return None


# --------------------------------------------------------------------------- readers


def _int_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _INT64:
        raise PayloadError(f"must be a positive 64-bit integer id, got {_shown(value)}", field=field)
    return value


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_QUANTITY:
        raise PayloadError(f"must be a whole number from 1 to {MAX_QUANTITY:,}, got {_shown(value)}", field=field)
    return value


def _country(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) != 2 or not value.isascii() or not value.isalpha():
        raise PayloadError(f"must be an ISO 3166 two-letter code like 'US', got {_shown(value)}",
                           field="shipping.country")
    return value.upper()


def _object_or_empty(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(value)}", field=field)
    return value


def _text(value: Any, field: str) -> str:
    """Text as stored: a JSON string (valid Unicode, bounded) or a whole number; None is ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise PayloadError(f"is {len(value):,} characters long; at most {_MAX_TEXT:,} are kept", field=field)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"is not valid Unicode (a lone surrogate?): {_shown(value)}", field=field) from None
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return str(value)
    raise PayloadError(f"must be text, got {_shown(value)}", field=field)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (missing or null)"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
