"""Shopify's words to fulfilhub's and back: pure functions and data tables, no I/O.

The adapter (``channel.py``) fetches and posts; everything it needs to decide — what an
order means, which fulfillment order line covers which shipment line, which tracking
milestone becomes which fulfillment event — is decided here, so it can be tested
with golden payloads alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from fulfilhub import Address, Money, Order, OrderLine, PayloadError, ShipmentPush, ShippingChoice, TrackingStatus
from fulfilhub.sdk import MAX_QUANTITY, parse_currency, parse_money, parse_time

#: Normalized tracking milestones and the Shopify FulfillmentEvent ``status`` each becomes.
#: Milestones not listed (cancelled, unknown) are not told to Shopify: it has no event
#: for them. Shopify has no "returning" status in the stable REST API, so a return to
#: sender is a delivery ``failure`` from the buyer's point of view.
FULFILLMENT_EVENT_STATUS: Mapping[TrackingStatus, str] = MappingProxyType(
    {
        TrackingStatus.PRE_TRANSIT: "label_purchased",
        TrackingStatus.IN_TRANSIT: "in_transit",
        TrackingStatus.OUT_FOR_DELIVERY: "out_for_delivery",
        TrackingStatus.AVAILABLE_FOR_PICKUP: "ready_for_pickup",
        TrackingStatus.DELIVERED: "delivered",
        TrackingStatus.FAILED_ATTEMPT: "attempted_delivery",
        TrackingStatus.EXCEPTION: "failure",
        TrackingStatus.RETURN_TO_SENDER: "failure",
    }
)

#: The milestones Shopify is not told of, each with the reason (data, so that the choice is
#: visible and checked: every TrackingStatus is either above or here).
NOT_TOLD: Mapping[TrackingStatus, str] = MappingProxyType(
    {
        TrackingStatus.CANCELLED: "a voided label is not a delivery milestone; Shopify has no event for it "
        "(the fulfillment itself would be cancelled, which fulfilhub does not do on a void)",
        TrackingStatus.UNKNOWN: "the carrier said nothing about the parcel; telling the buyer nothing is right",
    }
)

#: Fulfillment order statuses that still accept a fulfillment.
FULFILLABLE_ORDER_STATUSES = frozenset({"open", "in_progress"})

#: Fulfillment statuses that no longer stand for a shipment (a new one may replace them).
DEAD_FULFILLMENT_STATUSES = frozenset({"cancelled", "error", "failure"})

_COUNTRY = re.compile(r"[A-Za-z]{2}")
_INT64 = 2**63
#: The longest text field kept from an order (a note, an address line, a title).
_MAX_TEXT = 65_536


class UnfulfillableShipment(ValueError):
    """The order's open fulfillment orders cannot cover a shipment's lines as asked."""


# --------------------------------------------------------------------------- orders


def parse_order(payload: Mapping[str, Any], *, channel: str) -> Order:
    """Map one order from ``GET /admin/api/{v}/orders.json`` to an :class:`~fulfilhub.Order`.

    ``channel`` is the config instance name. ``version`` is a digest of what fulfilhub
    reads from the order (see :func:`content_version`), not Shopify's ``updated_at``:
    our own fulfillments and events bump ``updated_at`` and ``fulfillment_status``, and
    such an echo must not count as a new version. ``updated_at`` stays Shopify's, so an
    older read never overwrites a newer one. Only line
    items that require shipping become order lines (a gift card is not picked). A
    line without a SKU maps to ``sku=""``: that is a catalogue problem for a person to
    resolve, not a broken payload. Anything that cannot be mapped raises
    :class:`~fulfilhub.PayloadError` naming the field, e.g. ``line_items[2].quantity``.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {type(payload).__name__}")
    try:
        return _parse_order(payload, channel)
    except (ValueError, TypeError, OverflowError) as exc:
        # the field readers check every value first; this is the last line, so that no
        # payload ever escapes as anything but a PayloadError
        raise PayloadError(f"cannot be mapped to an order: {exc}", field="order") from None


def _parse_order(payload: Mapping[str, Any], channel: str) -> Order:
    external_id = str(_int_id(payload.get("id"), "id"))
    updated_at = _timestamp(payload.get("updated_at"), "updated_at")
    placed_field = "processed_at" if payload.get("processed_at") else "created_at"
    placed_at = _timestamp(payload.get(placed_field), placed_field)
    currency = parse_currency(payload.get("currency"), field="currency")
    total = parse_money(payload.get("total_price"), currency, field="total_price")
    cancelled_raw = payload.get("cancelled_at")
    cancelled_at = _timestamp(cancelled_raw, "cancelled_at") if cancelled_raw is not None else None
    email = _text(payload.get("email"), "email") or _text(payload.get("contact_email"), "contact_email")
    number = _order_name(payload, external_id)
    lines = _order_lines(payload.get("line_items"), currency)
    ship_to = _address(payload.get("shipping_address"), email)
    note = _text(payload.get("note"), "note")
    tags = _text(payload.get("tags"), "tags")
    locale = _text(payload.get("customer_locale"), "customer_locale").strip()
    if len(locale) > 35:  # a BCP-47 tag is short; this is not one
        raise PayloadError(f"is not a language tag: {_shown(locale)}", field="customer_locale")
    shipping = _shipping(payload.get("shipping_lines"), currency)
    return Order(
        channel=channel,
        external_id=external_id,
        version=content_version(
            number, placed_at, total, lines, ship_to, email, note, cancelled_at, tags
        ),
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
        locale=locale,
        shipping=shipping,
        raw=payload,
    )


def _shipping(value: Any, currency: str) -> ShippingChoice | None:
    """The customer's shipping choice from ``shipping_lines``: the methods' titles (joined
    when several) and what was paid for them in all (``discounted_price`` where Shopify
    gives it, else ``price``). None when the order has no shipping lines."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise PayloadError(f"must be a list of shipping lines, got {_shown(value)}", field="shipping_lines")
    if not value:
        return None
    titles: list[str] = []
    paid = Decimal(0)
    for index, line in enumerate(value):
        where = f"shipping_lines[{index}]"
        if not isinstance(line, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(line)}", field=where)
        titles.append(_text_at(line.get("title"), where, "title") or _text_at(line.get("code"), where, "code"))
        field = "discounted_price" if line.get("discounted_price") is not None else "price"
        paid += parse_money(line.get(field), currency, field=f"{where}.{field}").amount
    return ShippingChoice(method=" + ".join(t for t in titles if t), price=Money(amount=paid, currency=currency))


def content_version(
    number: str,
    placed_at: datetime,
    total: Money,
    lines: Sequence[OrderLine],
    ship_to: Address | None,
    email: str,
    note: str,
    cancelled_at: datetime | None,
    tags: str,
) -> str:
    """A short digest of the order as fulfilhub reads it: 20 hex digits.

    It covers the mapped fields (name, placing time, total, every shipping line with
    its SKU, quantity, price and title, the address, email, note and cancellation) and
    the merchant's ``tags`` (kept in ``raw`` for rules and hooks). It leaves out what our
    own pushes change in the shop: ``updated_at``, ``fulfillment_status``,
    ``fulfillments`` and per-line fulfilled quantities. Moments are compared as
    instants (UTC), amounts by value.
    """
    parts = [
        number,
        repr(placed_at.timestamp()),  # the instant, whatever zone Shopify rendered it in
        f"{total.amount.normalize()} {total.currency}",
        email,
        note,
        repr(cancelled_at.timestamp()) if cancelled_at is not None else "",
        tags,
        *(
            f"{line.external_id}|{line.sku}|{line.quantity}|{line.unit_price.amount.normalize()}|{line.title}"
            for line in lines
        ),
        "" if ship_to is None else "|".join(
            (ship_to.name, ship_to.company, ship_to.line1, ship_to.line2, ship_to.city, ship_to.province,
             ship_to.postal_code, ship_to.country, ship_to.phone)
        ),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _order_name(payload: Mapping[str, Any], external_id: str) -> str:
    if payload.get("name"):
        return _text(payload["name"], "name")
    if payload.get("order_number") is not None:
        return f"#{_text(payload['order_number'], 'order_number')}"
    return external_id


def _order_lines(items: Any, currency: str) -> tuple[OrderLine, ...]:
    if not isinstance(items, list):
        raise PayloadError(f"must be a list of line items, got {_shown(items)}", field="line_items")
    lines = []
    for index, item in enumerate(items):
        where = f"line_items[{index}]"
        if not isinstance(item, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(item)}", field=where)
        requires_shipping = item.get("requires_shipping", True) is not False  # gift cards, digital goods: False
        lines.append(
            OrderLine(
                sku=_text_at(item.get("sku"), where, "sku"),
                quantity=_quantity(item.get("quantity"), f"{where}.quantity"),
                unit_price=parse_money(item.get("price"), currency, field=f"{where}.price"),
                title=_text_at(item.get("title"), where, "title"),
                external_id=str(_int_id(item.get("id"), f"{where}.id")),
                requires_shipping=requires_shipping,
            )
        )
    return tuple(lines)


def _address(value: Any, email: str) -> Address | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"must be a JSON object or null, got {_shown(value)}", field="shipping_address")
    def text(key: str) -> str:
        return _text_at(value.get(key), "shipping_address", key)

    name = text("name") or " ".join(part for part in (text("first_name"), text("last_name")) if part)
    return Address(
        name=name,
        company=text("company"),
        line1=text("address1"),
        line2=text("address2"),
        city=text("city"),
        province=text("province_code") or text("province"),
        postal_code=text("zip"),
        country=_country(value.get("country_code")),
        phone=text("phone"),
        email=email,
    )


# --------------------------------------------------------------------------- fulfillments


def find_fulfillment(fulfillments: Sequence[Mapping[str, Any]], tracking_code: str) -> Mapping[str, Any] | None:
    """The live fulfillment that already carries ``tracking_code``, if any.

    Shopify's REST fulfillment call takes no idempotency key, so the tracking number is
    the mark by which a second push recognises the first one's work. Cancelled or
    failed fulfillments do not count: the shipment is no longer told to the shop.
    Raises :class:`~fulfilhub.PayloadError` naming the entry when Shopify's list is not
    a list of fulfillment objects with ids.
    """
    if not tracking_code:
        return None
    if not isinstance(fulfillments, list):
        raise PayloadError(f"must be a list, got {_shown(fulfillments)}", field="fulfillments")
    for index, fulfillment in enumerate(fulfillments):
        where = f"fulfillments[{index}]"
        if not isinstance(fulfillment, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(fulfillment)}", field=where)
        status = fulfillment.get("status")
        if isinstance(status, str) and status in DEAD_FULFILLMENT_STATUSES:
            continue
        numbers = fulfillment.get("tracking_numbers")
        numbers = numbers if isinstance(numbers, list) else []
        if fulfillment.get("tracking_number") == tracking_code or tracking_code in numbers:
            _ref(fulfillment.get("id"), f"{where}.id")
            return fulfillment
    return None


def shipment_line_items(shipment: ShipmentPush, order_lines: Sequence[OrderLine]) -> list[tuple[str, int]]:
    """``(Shopify line item id, quantity)`` for each line of the shipment.

    A shipment line names its Shopify line item through ``order_line_id``; where that is
    empty, the order line with the same SKU is used (it must be the only one).
    """
    wanted = []
    for line in shipment.lines:
        line_item_id = line.order_line_id
        if not line_item_id:
            matches = [ol.external_id for ol in order_lines if ol.sku == line.sku]
            if len(matches) != 1:
                raise UnfulfillableShipment(
                    f"shipment line for SKU {line.sku!r} has no order_line_id and "
                    f"{'no' if not matches else len(matches)} order lines carry that SKU; "
                    "give the Shopify line item id as order_line_id"
                )
            line_item_id = matches[0]
        wanted.append((str(line_item_id), line.quantity))
    return wanted


def line_items_by_fulfillment_order(
    wanted: Sequence[tuple[str, int]], fulfillment_orders: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Build ``line_items_by_fulfillment_order`` for ``POST /fulfillments.json``.

    Each wanted ``(line item id, quantity)`` is taken whole from the first open or
    in-progress fulfillment order whose line for that line item still has enough
    ``fulfillable_quantity`` (after what this shipment already took from it).
    Raises :class:`UnfulfillableShipment` when no fulfillment order can cover a line, and
    :class:`~fulfilhub.PayloadError` naming the field when Shopify's answer is not a list
    of fulfillment orders with ids and line items.
    """
    _check_fulfillment_orders(fulfillment_orders)
    taken: dict[Any, int] = {}
    chosen: dict[Any, dict[Any, int]] = {}
    for line_item_id, quantity in wanted:
        for fulfillment_order in fulfillment_orders:
            if not _accepts_fulfillment(fulfillment_order):
                continue
            fo_line = next(
                (
                    li
                    for li in fulfillment_order.get("line_items") or []
                    if str(li.get("line_item_id")) == line_item_id
                    and _fulfillable(li) - taken.get(li["id"], 0) >= quantity
                ),
                None,
            )
            if fo_line is not None:
                taken[fo_line["id"]] = taken.get(fo_line["id"], 0) + quantity
                per_order = chosen.setdefault(fulfillment_order["id"], {})
                per_order[fo_line["id"]] = per_order.get(fo_line["id"], 0) + quantity
                break
        else:
            raise UnfulfillableShipment(
                f"line item {line_item_id}: no open fulfillment order has {quantity} left to fulfil "
                "(already fulfilled, cancelled, or on hold in Shopify?)"
            )
    return [
        {
            "fulfillment_order_id": fo_id,
            "fulfillment_order_line_items": [{"id": li_id, "quantity": qty} for li_id, qty in items.items()],
        }
        for fo_id, items in chosen.items()
    ]


def fulfillment_body(
    shipment: ShipmentPush, by_fulfillment_order: list[dict[str, Any]], *, notify_customer: bool
) -> dict[str, Any]:
    """The JSON body of ``POST /admin/api/{v}/fulfillments.json`` for one shipment."""
    tracking_info = {"number": shipment.tracking_code, "company": shipment.carrier_name}
    if shipment.tracking_url:
        tracking_info["url"] = shipment.tracking_url
    return {
        "fulfillment": {
            "line_items_by_fulfillment_order": by_fulfillment_order,
            "tracking_info": tracking_info,
            "notify_customer": notify_customer,
        }
    }


# --------------------------------------------------------------------------- stock


def inventory_items(products: Any, skus: Iterable[str] | None = None) -> dict[str, int]:
    """SKU -> ``inventory_item_id`` of the variants in ``GET /products.json?fields=id,variants``.

    Only the SKUs asked for are kept (None: every SKU); a variant whose SKU is empty is skipped. Raises
    :class:`~fulfilhub.PayloadError` naming the entry when the list is not products with
    variants carrying integer ids.
    """
    wanted = None if skus is None else set(skus)
    if not isinstance(products, list):
        raise PayloadError(f"must be a list, got {_shown(products)}", field="products")
    found: dict[str, int] = {}
    for index, product in enumerate(products):
        if not isinstance(product, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(product)}", field=f"products[{index}]")
        variants = product.get("variants")
        if not isinstance(variants, list):
            raise PayloadError(f"must be a list, got {_shown(variants)}", field=f"products[{index}].variants")
        for number, variant in enumerate(variants):
            where = f"products[{index}].variants[{number}]"
            if not isinstance(variant, Mapping):
                raise PayloadError(f"must be a JSON object, got {_shown(variant)}", field=where)
            sku = variant.get("sku")
            if isinstance(sku, str) and sku and (wanted is None or sku in wanted):
                found[sku] = _int_id(variant.get("inventory_item_id"), f"{where}.inventory_item_id")
    return found


def active_location(locations: Any) -> int:
    """The id of the first active location of ``GET /locations.json``."""
    if not isinstance(locations, list):
        raise PayloadError(f"must be a list, got {_shown(locations)}", field="locations")
    for index, location in enumerate(locations):
        if isinstance(location, Mapping) and location.get("active") is True:
            return _int_id(location.get("id"), f"locations[{index}].id")
    raise PayloadError("lists no active location to hold stock", field="locations")


def inventory_level_body(location_id: int, inventory_item_id: int, available: int) -> dict[str, Any]:
    """The body of ``POST /inventory_levels/set.json``."""
    return {"location_id": location_id, "inventory_item_id": inventory_item_id, "available": available}


def _check_fulfillment_orders(fulfillment_orders: Any) -> None:
    """Every shape :func:`line_items_by_fulfillment_order` relies on, or a PayloadError."""
    if not isinstance(fulfillment_orders, list):
        raise PayloadError(f"must be a list, got {_shown(fulfillment_orders)}", field="fulfillment_orders")
    for index, fulfillment_order in enumerate(fulfillment_orders):
        where = f"fulfillment_orders[{index}]"
        if not isinstance(fulfillment_order, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(fulfillment_order)}", field=where)
        _ref(fulfillment_order.get("id"), f"{where}.id")
        actions = fulfillment_order.get("supported_actions")
        if actions is not None and not isinstance(actions, list):
            raise PayloadError(f"must be a list of action names, got {_shown(actions)}", field=f"{where}.supported_actions")
        items = fulfillment_order.get("line_items")
        if items is not None and not isinstance(items, list):
            raise PayloadError(f"must be a list, got {_shown(items)}", field=f"{where}.line_items")
        for line_index, item in enumerate(items or ()):
            if not isinstance(item, Mapping):
                raise PayloadError(f"must be a JSON object, got {_shown(item)}", field=f"{where}.line_items[{line_index}]")
            _ref(item.get("id"), f"{where}.line_items[{line_index}].id")


def _ref(value: Any, field: str) -> int | str:
    """A Shopify id as it may be echoed back: a positive 64-bit integer or a non-empty string."""
    if isinstance(value, str) and value and value.isprintable() and len(value) <= 255:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _INT64:
        return value
    raise PayloadError(f"must be an id, got {_shown(value)}", field=field)


def _accepts_fulfillment(fulfillment_order: Mapping[str, Any]) -> bool:
    actions = fulfillment_order.get("supported_actions")
    status = fulfillment_order.get("status")
    return isinstance(status, str) and status in FULFILLABLE_ORDER_STATUSES and (
        actions is None or "create_fulfillment" in actions
    )


def _fulfillable(fo_line: Mapping[str, Any]) -> int:
    value = fo_line.get("fulfillable_quantity")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# --------------------------------------------------------------------------- field readers


def _int_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _INT64:
        raise PayloadError(f"must be a positive 64-bit integer id, got {_shown(value)}", field=field)
    return value


def _timestamp(value: Any, field: str) -> datetime:
    # Shopify writes every time with its shop's offset; one without is refused
    return parse_time(value, field=field)


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_QUANTITY:
        raise PayloadError(f"must be a whole number from 1 to {MAX_QUANTITY:,}, got {_shown(value)}", field=field)
    return value


def _country(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        raise PayloadError(
            f"must be an ISO 3166 two-letter code like 'US', got {_shown(value)}", field="shipping_address.country_code"
        )
    return value.upper()


def _text_at(value: Any, where: str, key: str) -> str:
    """:func:`_text` of field ``where.key``, whose name is only built when it is needed."""
    if value is None:
        return ""
    if type(value) is str and value.isascii() and len(value) <= _MAX_TEXT:
        return value
    return _text(value, f"{where}.{key}")


def _text(value: Any, field: str) -> str:
    """Text as stored: a JSON string (valid Unicode, no lone surrogates) or a whole number."""
    if value is None:
        return ""
    if type(value) is str and value.isascii() and len(value) <= _MAX_TEXT:
        return value  # the common case, checked without copying
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
