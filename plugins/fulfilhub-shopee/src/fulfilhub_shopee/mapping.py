"""Shopee's words to fulfilhub's and back: pure functions and data tables, no I/O.

The adapter (``channel.py``) signs, fetches and posts; what an order means, which
statuses are taken in, how an error answer is classified and what money is exact are
decided here, so they are tested with golden payloads alone (``tests/payloads``, in the
shape of ``GET /api/v2/order/get_order_detail``'s ``response.order_list[]``).

Shopee Open Platform v2 facts this module relies on:

- Times are Unix seconds (``create_time``, ``update_time``), so they are UTC by
  definition.
- Money is a JSON number in the shop's currency (``total_amount``,
  ``model_discounted_price``): whole dollars in Taiwan (TWD), cents in Singapore
  (SGD). A JSON number arrives as a Python ``float``; it is read back through its
  shortest round-trip text (``repr``), which is the literal Shopee wrote for any amount
  below 15 significant digits, and then checked exact to the currency's unit. No
  arithmetic is ever done on a float.
- ``fulfillment_flag`` says who ships: ``fulfilled_by_shopee`` (Shopee's own
  warehouse) or the seller (``fulfilled_by_cb_seller``, ``fulfilled_by_local_seller``).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from fulfilhub import (
    Address,
    ExceptionReason,
    FulfilledBy,
    Money,
    Order,
    OrderLine,
    PayloadError,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
)
from fulfilhub.sdk import MAX_AMOUNT, MAX_QUANTITY, minor_digits, parse_currency

_MAX_TEXT = 65_536
_INT64 = 2**63
#: Unix seconds the models accept (1900-2200 is the models' own range; Shopee began in 2015).
_EARLIEST, _LATEST = 946_684_800, 7_258_118_400  # 2000-01-01, 2200-01-01


class Intake(enum.Enum):
    """What fulfilhub does with an order in a Shopee status."""

    FULFIL = "fulfil"  # paid: taken in and fulfilled
    WAIT = "wait"  # not paid yet: read past; it comes back when its update_time moves
    CANCELLED = "cancelled"  # taken in as cancelled (cancelled_at set), so that fulfilment stops


#: Every order status Shopee documents (``order_status``), and what fulfilhub does with it.
#: ``PROCESSED`` is "shipping arranged" (the seller called ``ship_order``); ``SHIPPED``,
#: ``TO_CONFIRM_RECEIVE``, ``COMPLETED`` and ``TO_RETURN`` come after the parcel left and
#: are the echo of fulfilhub's own push (not a new version). ``IN_CANCEL`` is a buyer's
#: cancellation request the seller has not answered: fulfilment stops (see the README).
ORDER_STATUSES: Mapping[str, Intake] = MappingProxyType(
    {
        "UNPAID": Intake.WAIT,
        "READY_TO_SHIP": Intake.FULFIL,
        "PROCESSED": Intake.FULFIL,
        "RETRY_SHIP": Intake.FULFIL,
        "SHIPPED": Intake.FULFIL,
        "TO_CONFIRM_RECEIVE": Intake.FULFIL,
        "COMPLETED": Intake.FULFIL,
        "IN_CANCEL": Intake.CANCELLED,
        "CANCELLED": Intake.CANCELLED,
        "TO_RETURN": Intake.FULFIL,
    }
)

#: The statuses after which ``ship_order`` is refused: the order has already been shipped.
SHIPPED_STATUSES = frozenset({"PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED", "TO_RETURN"})

#: Who ships an order (``fulfillment_flag``): True when Shopee's own warehouse does, so
#: fulfilhub keeps the order but allocates and ships none of its lines.
FULFILLED_BY_SHOPEE = MappingProxyType(
    {"fulfilled_by_shopee": True, "fulfilled_by_cb_seller": False, "fulfilled_by_local_seller": False}
)

#: Currencies Shopee prices in whole units whatever ISO 4217 says (Taiwan's dollar has
#: cents in ISO, none on Shopee; the same for rupiah and dong).
WHOLE_UNITS = frozenset({"TWD", "IDR", "VND", "CLP", "JPY", "KRW"})

#: Tracking milestones: Shopee's Open Platform gives a seller no call to post a milestone
#: on an order (the buyer follows the tracking number given to ``ship_order``, and
#: Shopee's own logistics post their own), so every milestone is left untold, with why.
MILESTONES: Mapping[TrackingStatus, str] = MappingProxyType({})
_UNTOLD = ("Shopee's Open Platform has no call for a seller to post a tracking milestone; the buyer follows the "
           "tracking number given with ship_order on Shopee's order page")
NOT_TOLD: Mapping[TrackingStatus, str] = MappingProxyType({status: _UNTOLD for status in TrackingStatus})


class Fault(enum.Enum):
    """How an error answer (``error``, ``message``, ``request_id``) is handled."""

    TOKEN = "token"  # the access token expired or was revoked: refresh it once and send again
    TRANSIENT = "transient"  # Shopee is busy or failing: try again later
    PERMANENT = "permanent"  # the request is wrong or not allowed: retrying cannot help


#: Shopee's ``error`` words (data, so they can be corrected in one place). Anything not
#: listed is permanent: a request Shopee refuses for a reason not known here is not
#: retried for ever.
ERRORS: Mapping[str, Fault] = MappingProxyType(
    {
        "invalid_acceess_token": Fault.TOKEN,  # sic: Shopee's own spelling
        "invalid_access_token": Fault.TOKEN,
        "error_auth": Fault.PERMANENT,  # the shop's authorisation is gone: re-authorise
        "error_sign": Fault.PERMANENT,
        "error_permission": Fault.PERMANENT,
        "error_param": Fault.PERMANENT,
        "error_data": Fault.PERMANENT,
        "error_not_found": Fault.PERMANENT,
        "error_server": Fault.TRANSIENT,
        "error_inner": Fault.TRANSIENT,
        "error_busy": Fault.TRANSIENT,
        "error_network": Fault.TRANSIENT,
        "error_system_busy": Fault.TRANSIENT,
        "error_too_many_request": Fault.TRANSIENT,
        "error.too_many_request": Fault.TRANSIENT,
    }
)


def fault(answer: Any) -> tuple[Fault, str] | None:
    """None when ``answer`` is a success; else how to handle its ``error`` and a message naming it.

    Shopee answers errors as ``{"error": "error_param", "message": "...", "request_id": "..."}``,
    with an empty ``error`` on success.
    """
    if not isinstance(answer, Mapping):
        return None
    error = answer.get("error")
    if error in (None, ""):
        return None
    word = error if isinstance(error, str) else repr(error)[:60]
    message = answer.get("message")
    request_id = answer.get("request_id")
    text = f"Shopee error {word!r}"
    if isinstance(message, str) and message:
        text += f": {message[:200]}"
    if isinstance(request_id, str) and request_id:
        text += f" (request_id {request_id[:64]})"
    return ERRORS.get(word, Fault.PERMANENT), text


# --------------------------------------------------------------------------- orders


def intake(payload: Any) -> Intake:
    """What the order's ``order_status`` means for fulfilhub; PayloadError for an undocumented one."""
    status = payload.get("order_status") if isinstance(payload, Mapping) else None
    if not isinstance(status, str) or status not in ORDER_STATUSES:
        raise PayloadError(f"is not a Shopee order status: {_shown(status)}", field="order_status")
    return ORDER_STATUSES[status]


def order_sn(payload: Any) -> str:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    return _sn(payload.get("order_sn"), "order_sn")


def update_time(payload: Any) -> int:
    """``update_time`` in Unix seconds (PayloadError when missing or out of range)."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    return _seconds(payload.get("update_time"), "update_time")


def parse_order(payload: Any, *, channel: str, marketplace_carriers: frozenset[str] = frozenset()) -> Order:
    """Map one order of ``get_order_detail`` to an :class:`~fulfilhub.Order`.

    ``version`` is a digest of what fulfilhub reads (:func:`content_version`), not
    ``update_time``: Shopee moves that when fulfilhub's own ``ship_order`` changes the
    status, and such an echo must not count as a new version. Anything that cannot be
    mapped raises :class:`~fulfilhub.PayloadError` naming the field.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="order")
    try:
        return _parse_order(payload, channel, marketplace_carriers)
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise PayloadError(f"cannot be mapped to an order: {exc}"[:300], field="order") from None


def _parse_order(payload: Mapping[str, Any], channel: str, marketplace_carriers: frozenset[str]) -> Order:
    external_id = _sn(payload.get("order_sn"), "order_sn")
    status = intake(payload)
    placed_at = _time(payload.get("create_time"), "create_time")
    updated_at = _time(payload.get("update_time"), "update_time")
    currency = parse_currency(payload.get("currency"), field="currency")
    total = money(payload.get("total_amount"), currency, "total_amount")
    flag = payload.get("fulfillment_flag")
    if flag is not None and flag not in FULFILLED_BY_SHOPEE:
        raise PayloadError(f"is not a fulfillment_flag Shopee documents: {_shown(flag)}", field="fulfillment_flag")
    by_shopee = FULFILLED_BY_SHOPEE.get(flag, False) if isinstance(flag, str) else False
    lines = _order_lines(payload.get("item_list"), currency, ships=not by_shopee)
    ship_to = _address(payload.get("recipient_address"))
    note = _text(payload.get("message_to_seller"), "message_to_seller")
    carrier = _text(payload.get("shipping_carrier"), "shipping_carrier")
    carried_by_shopee = by_shopee or carrier in marketplace_carriers
    cancelled_at = updated_at if status is Intake.CANCELLED else None
    number = f"#{external_id}"
    return Order(
        channel=channel,
        external_id=external_id,
        version=content_version(number, placed_at, total, lines, ship_to, note, cancelled_at),
        number=number,
        placed_at=placed_at,
        updated_at=updated_at,
        currency=currency,
        total=total,
        lines=lines,
        ship_to=ship_to,
        note=note,
        cancelled_at=cancelled_at,
        fulfilled_by=FulfilledBy.MARKETPLACE if carried_by_shopee else FulfilledBy.SELLER,
        raw=payload,
    )


def content_version(
    number: str,
    placed_at: datetime,
    total: Money,
    lines: Sequence[OrderLine],
    ship_to: Address | None,
    note: str,
    cancelled_at: datetime | None,
) -> str:
    """A short digest (20 hex digits) of the order as fulfilhub reads it (not its status or update_time)."""
    parts = [
        number,
        repr(placed_at.timestamp()),
        f"{total.amount.normalize()} {total.currency}",
        note,
        repr(cancelled_at.timestamp()) if cancelled_at is not None else "",
        *(
            f"{line.external_id}|{line.sku}|{line.quantity}|{line.unit_price.amount.normalize()}|{line.title}|"
            f"{line.requires_shipping}"
            for line in lines
        ),
        "" if ship_to is None else "|".join(
            (ship_to.name, ship_to.line1, ship_to.line2, ship_to.city, ship_to.province, ship_to.postal_code,
             ship_to.country, ship_to.phone)
        ),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _order_lines(items: Any, currency: str, *, ships: bool) -> tuple[OrderLine, ...]:
    if not isinstance(items, list) or not items:
        raise PayloadError(f"must be a non-empty list of items, got {_shown(items)}", field="item_list")
    lines = []
    for index, item in enumerate(items):
        where = f"item_list[{index}]"
        if not isinstance(item, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(item)}", field=where)
        item_id = _int_id(item.get("item_id"), f"{where}.item_id")
        model_id = item.get("model_id", 0)
        if isinstance(model_id, bool) or not isinstance(model_id, int) or not 0 <= model_id < _INT64:
            raise PayloadError(f"must be a whole number (0 for no variation), got {_shown(model_id)}",
                               field=f"{where}.model_id")
        sku = _text(item.get("model_sku"), f"{where}.model_sku") or _text(item.get("item_sku"), f"{where}.item_sku")
        name = _text(item.get("item_name"), f"{where}.item_name")
        model = _text(item.get("model_name"), f"{where}.model_name")
        quantity = item.get("model_quantity_purchased")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
            raise PayloadError(f"must be a whole number from 1 to {MAX_QUANTITY:,}, got {_shown(quantity)}",
                               field=f"{where}.model_quantity_purchased")
        lines.append(
            OrderLine(
                sku=sku,
                quantity=quantity,
                unit_price=money(item.get("model_discounted_price"), currency, f"{where}.model_discounted_price"),
                title=f"{name} ({model})" if model else name,
                external_id=f"{item_id}:{model_id}",
                requires_shipping=ships,
            )
        )
    return tuple(lines)


def _address(value: Any) -> Address | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(value)}", field="recipient_address")

    def text(key: str) -> str:
        return _text(value.get(key), f"recipient_address.{key}")

    if not any(text(key) for key in ("full_address", "city", "zipcode")):
        return None
    return Address(
        name=text("name"),
        line1=text("full_address"),
        line2=" ".join(part for part in (text("district"), text("town")) if part),
        city=text("city"),
        province=text("state"),
        postal_code=text("zipcode"),
        country=_country(value.get("region")),
        phone=text("phone"),
    )


# --------------------------------------------------------------------------- money


def money(value: Any, currency: str, field: str) -> Money:
    """``Money`` from a Shopee amount (a JSON number) in ``currency``, exact to the unit Shopee prices in.

    A float is read through its shortest round-trip text (``repr``), never by
    arithmetic; an amount finer than the currency's unit (``12.5`` TWD, ``3.999`` SGD)
    is refused, not rounded.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise PayloadError(f"must be an amount, got {_shown(value)}", field=field)
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise PayloadError(f"is not a decimal amount: {_shown(value)}", field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise PayloadError(f"must be an amount from zero to below {MAX_AMOUNT:,}, got {_shown(value)}", field=field)
    unit = Decimal(1).scaleb(-digits(currency))
    exact = amount.quantize(unit)
    if exact != amount:
        raise PayloadError(f"{text} {currency} is finer than the unit Shopee prices {currency} in ({unit})",
                           field=field)
    return Money(amount=exact, currency=currency)


def digits(currency: str) -> int:
    """The decimal digits Shopee prices ``currency`` in (TWD 0, SGD 2)."""
    return 0 if currency in WHOLE_UNITS else minor_digits(currency)


# --------------------------------------------------------------------------- shipping


def shipping_parameter_needs(answer: Any) -> frozenset[str]:
    """What ``get_shipping_parameter``'s ``info_needed`` asks for: ``{"non_integrated"}`` for a
    channel the seller ships with their own carrier, ``{"pickup"}`` / ``{"dropoff"}`` for
    Shopee's integrated logistics."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("info_needed"), Mapping):
        raise PayloadError(f"must hold info_needed, got {_shown(answer)}", field="response.info_needed")
    return frozenset(str(key) for key, value in answer["info_needed"].items() if value is not None)


#: ``logistics_status`` (``get_tracking_info``, ``package_list[]``) as a tracking status,
#: with the reason where it is trouble. Data: correct it here against Shopee's data
#: definition. Both spellings of the cancelled request are seen in the wild.
LOGISTICS_STATUSES: Mapping[str, tuple[TrackingStatus, ExceptionReason | None]] = MappingProxyType(
    {
        "LOGISTICS_NOT_START": (TrackingStatus.PRE_TRANSIT, None),
        "LOGISTICS_READY": (TrackingStatus.PRE_TRANSIT, None),
        "LOGISTICS_REQUEST_CREATED": (TrackingStatus.PRE_TRANSIT, None),
        "LOGISTICS_PICKUP_RETRY": (TrackingStatus.PRE_TRANSIT, None),
        "LOGISTICS_PICKUP_DONE": (TrackingStatus.IN_TRANSIT, None),
        "LOGISTICS_DELIVERY_DONE": (TrackingStatus.DELIVERED, None),
        "LOGISTICS_DELIVERY_FAILED": (TrackingStatus.FAILED_ATTEMPT, ExceptionReason.FAILED_ATTEMPT),
        "LOGISTICS_PICKUP_FAILED": (TrackingStatus.EXCEPTION, ExceptionReason.CARRIER_DELAY),
        "LOGISTICS_COD_REJECTED": (TrackingStatus.RETURN_TO_SENDER, ExceptionReason.REFUSED),
        "LOGISTICS_LOST": (TrackingStatus.EXCEPTION, ExceptionReason.LOST),
        "LOGISTICS_REQUEST_CANCELED": (TrackingStatus.CANCELLED, None),
        "LOGISTICS_REQUEST_CANCELLED": (TrackingStatus.CANCELLED, None),
        "LOGISTICS_INVALID": (TrackingStatus.CANCELLED, None),
    }
)


def logistics_status(word: Any, field: str) -> tuple[TrackingStatus, ExceptionReason | None]:
    if not isinstance(word, str) or word not in LOGISTICS_STATUSES:
        raise PayloadError(f"is not a logistics_status fulfilhub knows: {_shown(word)}", field=field)
    return LOGISTICS_STATUSES[word]


def tracking_info(answer: Any, tracking_code: str) -> TrackingUpdate:
    """``get_tracking_info``'s ``response`` (``logistics_status`` and the ``tracking_info``
    scans, each ``update_time``, ``description``, ``logistics_status``) as a tracking update."""
    try:
        return _tracking_info(answer, tracking_code)
    except (ValueError, TypeError, OverflowError) as exc:
        raise PayloadError(f"cannot be mapped to tracking: {exc}"[:300], field="response") from None


def _tracking_info(answer: Any, tracking_code: str) -> TrackingUpdate:
    if not isinstance(answer, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(answer)}", field="response")
    status, reason = logistics_status(answer.get("logistics_status"), "response.logistics_status")
    scans = answer.get("tracking_info", [])
    if not isinstance(scans, list):
        raise PayloadError(f"must be a list, got {_shown(scans)}", field="response.tracking_info")
    events = []
    for index, scan in enumerate(scans[:500]):
        where = f"response.tracking_info[{index}]"
        if not isinstance(scan, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(scan)}", field=where)
        word = scan.get("logistics_status", answer.get("logistics_status"))
        scan_status, scan_reason = logistics_status(word, f"{where}.logistics_status")
        events.append(TrackingEvent(at=_time(scan.get("update_time"), f"{where}.update_time"), status=scan_status,
                                    description=_text(scan.get("description"), f"{where}.description")[:500],
                                    reason=scan_reason, source=str(word)))
    return TrackingUpdate(tracking_code=tracking_code, status=status, reason=reason,
                          events=sorted(events, key=lambda e: e.at), raw=answer)


def pickup_choice(answer: Any) -> dict[str, Any]:
    """``ship_order``'s ``pickup`` from ``get_shipping_parameter``: the address flagged
    ``pickup_address`` (else the first) and its first ``time_slot_list[].pickup_time_id``."""
    pickup = answer.get("pickup") if isinstance(answer, Mapping) else None
    addresses = pickup.get("address_list") if isinstance(pickup, Mapping) else None
    if not isinstance(addresses, list) or not addresses or not all(isinstance(a, Mapping) for a in addresses):
        raise PayloadError("must list at least one pickup address", field="response.pickup.address_list")
    flagged = [a for a in addresses if isinstance(a.get("address_flag"), list) and "pickup_address" in a["address_flag"]]
    address = (flagged or addresses)[0]
    slots = address.get("time_slot_list")
    if not isinstance(slots, list) or not slots or not isinstance(slots[0], Mapping):
        raise PayloadError("must offer a pickup time", field="response.pickup.address_list[].time_slot_list")
    return {"address_id": _int_id(address.get("address_id"), "response.pickup.address_list[].address_id"),
            "pickup_time_id": _text(slots[0].get("pickup_time_id"), "time_slot_list[].pickup_time_id")}


#: ``update_stock`` takes one ``item_id`` a call and at most this many models in its ``stock_list``.
STOCK_BATCH = 50
#: ``get_item_base_info`` takes at most this many ``item_id_list`` a call; ``get_item_list`` pages by 100.
ITEM_BATCH = 50
ITEM_PAGE = 100


def item_page(answer: Any) -> tuple[list[int], int | None]:
    """``get_item_list``'s ``response``: the item ids and the next offset (None: last page)."""
    if not isinstance(answer, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(answer)}", field="response")
    items = answer.get("item", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise PayloadError(f"must be a list of items, got {_shown(items)}", field="response.item")
    ids = [_int_id(i.get("item_id"), "response.item[].item_id") for i in items]
    more = answer.get("has_next_page")
    if not isinstance(more, bool):
        raise PayloadError(f"must be true or false, got {_shown(more)}", field="response.has_next_page")
    if not more:
        return ids, None
    following = answer.get("next_offset")
    if isinstance(following, bool) or not isinstance(following, int) or following <= 0:
        raise PayloadError(f"must be a positive offset, got {_shown(following)}", field="response.next_offset")
    return ids, following


def item_skus(answer: Any) -> tuple[dict[str, tuple[int, int]], list[int]]:
    """``get_item_base_info``'s ``response``: ``{item_sku: (item_id, 0)}`` of the items without
    models, and the ids of the items that have models (their SKUs are the models')."""
    items = answer.get("item_list", []) if isinstance(answer, Mapping) else None
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise PayloadError(f"must be a list of items, got {_shown(items)}", field="response.item_list")
    plain: dict[str, tuple[int, int]] = {}
    with_models: list[int] = []
    for item in items:
        item_id = _int_id(item.get("item_id"), "response.item_list[].item_id")
        if item.get("has_model") is True:
            with_models.append(item_id)
        else:
            sku = _text(item.get("item_sku"), "response.item_list[].item_sku")
            if sku:
                plain[sku] = (item_id, 0)
    return plain, with_models


def model_skus(answer: Any, item_id: int) -> dict[str, tuple[int, int]]:
    """``get_model_list``'s ``response``: ``{model_sku: (item_id, model_id)}``."""
    models = answer.get("model", []) if isinstance(answer, Mapping) else None
    if not isinstance(models, list) or not all(isinstance(m, Mapping) for m in models):
        raise PayloadError(f"must be a list of models, got {_shown(models)}", field="response.model")
    out: dict[str, tuple[int, int]] = {}
    for model in models:
        sku = _text(model.get("model_sku"), "response.model[].model_sku")
        if sku:
            out[sku] = (item_id, _int_id(model.get("model_id"), "response.model[].model_id"))
    return out


def stock_bodies(levels: Mapping[str, int], where: Mapping[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """The ``update_stock`` bodies for ``levels``: one per ``item_id``, at most
    :data:`STOCK_BATCH` models each, ``seller_stock`` the absolute quantity (``model_id``
    left out for an item without models)."""
    by_item: dict[int, list[dict[str, Any]]] = {}
    for sku in sorted(levels):
        item_id, model_id = where[sku]
        entry: dict[str, Any] = {"seller_stock": [{"stock": max(0, int(levels[sku]))}]}
        if model_id:
            entry["model_id"] = model_id
        by_item.setdefault(item_id, []).append(entry)
    return [{"item_id": item_id, "stock_list": entries[start:start + STOCK_BATCH]}
            for item_id, entries in sorted(by_item.items()) for start in range(0, len(entries), STOCK_BATCH)]


def stock_failures(answer: Any) -> list[str]:
    """``update_stock``'s ``failure_list`` as words (empty: every model was set)."""
    failures = answer.get("failure_list", []) if isinstance(answer, Mapping) else None
    if not isinstance(failures, list):
        raise PayloadError(f"must be a list, got {_shown(failures)}", field="response.failure_list")
    return [f"model {f.get('model_id')}: {f.get('failed_reason')}"[:200] if isinstance(f, Mapping) else _shown(f)
            for f in failures]


def dropoff_choice(answer: Any) -> tuple[dict[str, Any], list[str]]:
    """``ship_order``'s ``dropoff`` from ``get_shipping_parameter``: the first
    ``dropoff.branch_list[].branch_id`` when ``info_needed.dropoff`` asks for ``branch_id``,
    and what else it asks for that fulfilhub cannot give (``sender_real_name``, ``tracking_no``)."""
    info = answer.get("info_needed") if isinstance(answer, Mapping) else None
    if not isinstance(info, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(info)}", field="response.info_needed")
    needed = info.get("dropoff")
    if needed is None:
        needed = []
    if not isinstance(needed, list) or not all(isinstance(n, str) for n in needed):
        raise PayloadError(f"must be a list of field names, got {_shown(needed)}", field="response.info_needed.dropoff")
    body: dict[str, Any] = {}
    if "branch_id" in needed:
        dropoff = answer.get("dropoff")
        branches = dropoff.get("branch_list") if isinstance(dropoff, Mapping) else None
        if not isinstance(branches, list) or not branches or not isinstance(branches[0], Mapping):
            raise PayloadError("must list a branch to drop the parcel at", field="response.dropoff.branch_list")
        body["branch_id"] = _int_id(branches[0].get("branch_id"), "response.dropoff.branch_list[].branch_id")
    return body, sorted(set(needed) - {"branch_id", "slug"})


def text_of(payload: Mapping[str, Any], key: str) -> str:
    """A text field of a payload ("" when absent); PayloadError when it is not text."""
    return _text(payload.get(key), key)


def tracking_number(answer: Any) -> str:
    """``get_tracking_number``'s ``tracking_number`` ("" when none has been given yet)."""
    if not isinstance(answer, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(answer)}", field="response")
    return _text(answer.get("tracking_number"), "response.tracking_number")


def order_list(answer: Any) -> tuple[list[str], bool, str]:
    """``get_order_list``'s ``response``: the order_sns, ``more`` and ``next_cursor``."""
    if not isinstance(answer, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(answer)}", field="response")
    entries = answer.get("order_list", [])
    if not isinstance(entries, list):
        raise PayloadError(f"must be a list, got {_shown(entries)}", field="response.order_list")
    sns = [order_sn(entry) for entry in entries]
    more = answer.get("more", False)
    if not isinstance(more, bool):
        raise PayloadError(f"must be true or false, got {_shown(more)}", field="response.more")
    cursor = answer.get("next_cursor", "")
    if not isinstance(cursor, str) or len(cursor) > 200:
        raise PayloadError(f"must be text, got {_shown(cursor)}", field="response.next_cursor")
    return sns, more, cursor


# --------------------------------------------------------------------------- readers


def _time(value: Any, field: str) -> datetime:
    return datetime.fromtimestamp(_seconds(value, field), tz=timezone.utc)


def _seconds(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _EARLIEST <= value < _LATEST:
        raise PayloadError(f"must be Unix seconds from 2000 to 2200, got {_shown(value)}", field=field)
    return value


def _sn(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii() or not value.isalnum():
        raise PayloadError(f"must be an order_sn like '2601055XKQ8T3A', got {_shown(value)}", field=field)
    return value


def _int_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _INT64:
        raise PayloadError(f"must be a positive 64-bit integer id, got {_shown(value)}", field=field)
    return value


def _country(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) != 2 or not value.isascii() or not value.isalpha():
        raise PayloadError(f"must be a two-letter region like 'TW', got {_shown(value)}",
                           field="recipient_address.region")
    return value.upper()


def _text(value: Any, field: str) -> str:
    """Text as stored: a JSON string (valid Unicode, bounded); None is ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"must be text, got {_shown(value)}", field=field)
    if len(value) > _MAX_TEXT:
        raise PayloadError(f"is {len(value):,} characters long; at most {_MAX_TEXT:,} are kept", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"is not valid Unicode (a lone surrogate?): {_shown(value)}", field=field) from None
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (missing or null)"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
