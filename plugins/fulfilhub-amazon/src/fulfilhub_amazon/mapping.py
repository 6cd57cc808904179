"""Amazon's words to fulfilhub's and back: pure functions and data tables, no I/O.

The adapter (``channel.py``) fetches and posts; what an order means, which statuses are
taken in, how an error answer is classified, what money is exact and what a shipment
confirmation or a listings patch says are decided here, so they are tested with golden
payloads alone (``tests/payloads``, in the shape of the Selling Partner API's
``getOrders`` and ``getOrderItems`` answers).

The payload ``parse_order`` takes is one ``Order`` object of ``getOrders`` (Orders API
v0) with the key ``OrderItems`` added: the ``OrderItems`` of ``getOrderItems`` for that
order, every page of them. Nothing else is added or changed.

Selling Partner API facts this module relies on (``ordersV0.json``):

- Times are ISO 8601 texts in UTC (``2026-01-05T08:00:00Z``).
- Money is ``{"CurrencyCode": "USD", "Amount": "19.99"}`` with the amount as text.
  ``ItemPrice`` is the price of the whole line (unit price times ``QuantityOrdered``).
  ``OrderTotal`` may be missing (a ``Pending`` or ``Canceled`` order).
- ``FulfillmentChannel`` is ``MFN`` (the seller ships) or ``AFN`` (Amazon ships from its
  own fulfilment centres): an AFN order is kept but none of its lines is allocated or
  shipped by fulfilhub.
- Without a restricted data token, ``ShippingAddress`` holds at most ``City``,
  ``StateOrRegion``, ``PostalCode`` and ``CountryCode`` and ``BuyerInfo`` no name or
  e-mail: such an MFN order is held, saying why.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from fulfilhub import Address, ChannelPromise, FulfilledBy, Money, Order, OrderLine, PayloadError, ShippingChoice, TrackingStatus
from fulfilhub.sdk import MAX_QUANTITY, parse_currency, parse_money, parse_time

_MAX_TEXT = 65_536


class Intake(enum.Enum):
    """What fulfilhub does with an order in an Amazon ``OrderStatus``."""

    FULFIL = "fulfil"  # taken in and fulfilled (MFN), or kept as marketplace-fulfilled (AFN)
    WAIT = "wait"  # not ready: read past; it comes back when its LastUpdateDate moves
    CANCELLED = "cancelled"  # taken in as cancelled (cancelled_at set), so that fulfilment stops
    HOLD = "hold"  # taken in and held for a person, with the reason


#: Every ``OrderStatus`` the Orders API v0 documents, and what fulfilhub does with it.
#: ``Pending``: placed, payment not yet authorised (no address, no total): read past.
#: ``PendingAvailability``: a pre-order whose item is not released yet: read past.
#: ``Shipped``, ``PartiallyShipped`` and ``InvoiceUnconfirmed`` (China: shipped, invoice
#: not yet confirmed) come after a shipment and are mostly the echo of fulfilhub's own
#: confirmation. ``Unfulfillable`` (Multi-Channel Fulfilment only): held for a person.
ORDER_STATUSES: Mapping[str, Intake] = MappingProxyType(
    {
        "Pending": Intake.WAIT,
        "Unshipped": Intake.FULFIL,
        "PartiallyShipped": Intake.FULFIL,
        "Shipped": Intake.FULFIL,
        "Canceled": Intake.CANCELLED,
        "Unfulfillable": Intake.HOLD,
        "InvoiceUnconfirmed": Intake.FULFIL,
        "PendingAvailability": Intake.WAIT,
    }
)

#: ``FulfillmentChannel``: True when Amazon ships the order itself (Fulfilled by Amazon).
FULFILLED_BY_AMAZON: Mapping[str, bool] = MappingProxyType({"AFN": True, "MFN": False})

#: The statuses in which ``confirmShipment`` is refused because nothing is left to ship.
NOT_SHIPPABLE = frozenset({"Canceled", "Shipped", "InvoiceUnconfirmed", "Unfulfillable"})

#: The currency of each marketplace (``MarketplaceId``), for an order that names none
#: (a ``Canceled`` order without ``OrderTotal`` or prices). Data, to be corrected here.
MARKETPLACE_CURRENCIES: Mapping[str, str] = MappingProxyType(
    {
        "ATVPDKIKX0DER": "USD",  # United States
        "A2EUQ1WTGCTBG2": "CAD",  # Canada
        "A1AM78C64UM0Y8": "MXN",  # Mexico
        "A2Q3Y263D00KWC": "BRL",  # Brazil
        "A1F83G8C2ARO7P": "GBP",  # United Kingdom
        "A1PA6795UKMFR9": "EUR",  # Germany
        "A13V1IB3VIYZZH": "EUR",  # France
        "APJ6JRA9NG5V4": "EUR",  # Italy
        "A1RKKUPIHCS9HS": "EUR",  # Spain
        "A1805IZSGTT6HS": "EUR",  # Netherlands
        "A2NODRKZP88ZB9": "SEK",  # Sweden
        "A1C3SOZRARQ6R3": "PLN",  # Poland
        "A33AVAJ2PDY3EV": "TRY",  # Turkey
        "A2VIGQ35RCS4UG": "AED",  # United Arab Emirates
        "A17E79C6D8DWNP": "SAR",  # Saudi Arabia
        "A21TJRUUN4KGV": "INR",  # India
        "A1VC38T7YXB528": "JPY",  # Japan
        "A39IBJ37TRP1C6": "AUD",  # Australia
        "A19VAU5U5O7RUS": "SGD",  # Singapore
    }
)

#: Tracking milestones: the Orders API takes a shipment once (``confirmShipment``, with its
#: carrier and tracking number) and has no call for a seller to post a later milestone;
#: Amazon follows the tracking number itself. Every milestone is left untold, with why.
MILESTONES: Mapping[TrackingStatus, str] = MappingProxyType({})
_UNTOLD = ("the Selling Partner API takes a shipment once (confirmShipment, with its carrier and tracking number) "
           "and has no call for a later milestone; Amazon follows the tracking number itself")
NOT_TOLD: Mapping[TrackingStatus, str] = MappingProxyType({status: _UNTOLD for status in TrackingStatus})

#: Why an MFN order without a restricted data token is held.
WITHHELD = ("Amazon withholds the buyer's name and street address without a restricted data token; set "
            "restricted_data = true for this channel (the app needs Amazon's PII role) or fill in the address "
            "from Seller Central, then release the order")
UNFULFILLABLE = "Amazon says the order cannot be fulfilled (OrderStatus Unfulfillable); a person must look at it"


class Fault(enum.Enum):
    """How an error answer (``{"errors": [{"code", "message", "details"}]}``) is handled."""

    TOKEN = "token"  # the access token expired or was refused: refresh it once and send again
    NEXT_TOKEN = "next_token"  # the NextToken is no longer valid: read the window again from its start
    TRANSIENT = "transient"  # Amazon is busy or failing: try again later
    PERMANENT = "permanent"  # the request is wrong or not allowed: retrying cannot help


#: Error ``code`` words the Selling Partner API documents (data, to be corrected here).
ERRORS: Mapping[str, Fault] = MappingProxyType(
    {
        "Unauthorized": Fault.PERMANENT,  # unless its details say the token expired: see fault()
        "InvalidInput": Fault.PERMANENT,
        "InvalidParameterValue": Fault.PERMANENT,
        "NotFound": Fault.PERMANENT,
        "NOT_FOUND": Fault.PERMANENT,
        "QuotaExceeded": Fault.TRANSIENT,
        "InternalFailure": Fault.TRANSIENT,
        "ServiceUnavailable": Fault.TRANSIENT,
    }
)


def fault(answer: Any) -> tuple[Fault, str] | None:
    """None when ``answer`` holds no ``errors``; else how to handle the first and a message naming it."""
    if not isinstance(answer, Mapping):
        return None
    errors = answer.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return None
    first = errors[0]
    code = first.get("code") if isinstance(first.get("code"), str) else repr(first.get("code"))[:60]
    message = first.get("message") if isinstance(first.get("message"), str) else ""
    details = first.get("details") if isinstance(first.get("details"), str) else ""
    text = f"Amazon error {code!r}" + (f": {message[:200]}" if message else "") + (f" ({details[:200]})"
                                                                                    if details else "")
    said = f"{message} {details}".lower()
    if code == "Unauthorized" and "expired" in said:
        return Fault.TOKEN, text
    if code == "InvalidInput" and "nexttoken" in said.replace(" ", ""):
        return Fault.NEXT_TOKEN, text
    return ERRORS.get(code, Fault.PERMANENT), text


# --------------------------------------------------------------------------- orders


def intake(payload: Any) -> Intake:
    """What the order's ``OrderStatus`` means for fulfilhub; PayloadError for an undocumented one."""
    status = payload.get("OrderStatus") if isinstance(payload, Mapping) else None
    if not isinstance(status, str) or status not in ORDER_STATUSES:
        raise PayloadError(f"is not an Amazon OrderStatus: {_shown(status)}", field="OrderStatus")
    return ORDER_STATUSES[status]


def order_id(payload: Any) -> str:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="Order")
    return _amazon_id(payload.get("AmazonOrderId"), "AmazonOrderId")


def last_update(payload: Any) -> datetime:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="Order")
    return parse_time(payload.get("LastUpdateDate"), field="LastUpdateDate")


def parse_order(payload: Any, *, channel: str) -> Order:
    """Map one ``getOrders`` order with its ``OrderItems`` to an :class:`~fulfilhub.Order`.

    ``version`` is a digest of what fulfilhub reads (:func:`content_version`), not
    ``LastUpdateDate``: Amazon moves that when fulfilhub's own confirmShipment changes
    the status, and that echo must not count as a new version. Anything that cannot be
    mapped raises :class:`~fulfilhub.PayloadError` naming the field.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError(f"an order must be a JSON object, got {_shown(payload)}", field="Order")
    try:
        return _parse_order(payload, channel)
    except PayloadError:
        raise
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise PayloadError(f"cannot be mapped to an order: {exc}"[:300], field="Order") from None


def _parse_order(payload: Mapping[str, Any], channel: str) -> Order:
    external_id = _amazon_id(payload.get("AmazonOrderId"), "AmazonOrderId")
    status = intake(payload)
    placed_at = parse_time(payload.get("PurchaseDate"), field="PurchaseDate")
    updated_at = parse_time(payload.get("LastUpdateDate"), field="LastUpdateDate")
    by_amazon = _fulfilled_by_amazon(payload.get("FulfillmentChannel"))
    currency = _currency(payload)
    lines, shipping_paid = _order_lines(payload.get("OrderItems"), currency, ships=not by_amazon)
    if not lines and status is not Intake.CANCELLED:  # a cancelled order may have every QuantityOrdered at 0
        raise PayloadError("has no item with a quantity ordered", field="OrderItems")
    total_field = payload.get("OrderTotal")
    if total_field is None:
        total = Money(amount=sum((line.unit_price.amount * line.quantity for line in lines), Decimal(0))
                      + shipping_paid, currency=currency)
    else:
        total = _money(total_field, "OrderTotal", currency)
    ship_to, withheld = _address(payload.get("ShippingAddress"))
    buyer = payload.get("BuyerInfo")
    if buyer is not None and not isinstance(buyer, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(buyer)}", field="BuyerInfo")
    email = _text((buyer or {}).get("BuyerEmail"), "BuyerInfo.BuyerEmail")
    if ship_to is not None and not ship_to.name and isinstance(buyer, Mapping):
        ship_to = Address(**{**_fields(ship_to), "name": _text(buyer.get("BuyerName"), "BuyerInfo.BuyerName")})
        withheld = withheld and not ship_to.name
    cancelled_at = updated_at if status is Intake.CANCELLED else None
    reasons = []
    if status is Intake.HOLD:
        reasons.append(UNFULFILLABLE)
    if withheld and not by_amazon and status is Intake.FULFIL:
        reasons.append(WITHHELD)
    method = _text(payload.get("ShipServiceLevel"), "ShipServiceLevel")
    promise = channel_promise(payload)
    number = external_id
    return Order(
        channel=channel,
        external_id=external_id,
        version=content_version(number, placed_at, total, lines, ship_to, cancelled_at, promise, status),
        number=number,
        placed_at=placed_at,
        updated_at=updated_at,
        currency=currency,
        total=total,
        lines=lines,
        ship_to=ship_to,
        email=email,
        cancelled_at=cancelled_at,
        shipping=ShippingChoice(method=method, price=Money(amount=shipping_paid, currency=currency)),
        channel_promise=promise,
        hold_reason="; ".join(reasons),
        fulfilled_by=FulfilledBy.MARKETPLACE if by_amazon else FulfilledBy.SELLER,  # AFN: Amazon ships it
        raw=payload,
    )


def channel_promise(payload: Mapping[str, Any]) -> ChannelPromise | None:
    """Amazon's own promise to the buyer: ``EarliestShipDate``..``LatestShipDate`` and
    ``EarliestDeliveryDate``..``LatestDeliveryDate`` (None when it gives none of them)."""
    times = {}
    for key, field in (("ship_from", "EarliestShipDate"), ("ship_by", "LatestShipDate"),
                       ("deliver_from", "EarliestDeliveryDate"), ("deliver_by", "LatestDeliveryDate")):
        value = payload.get(field)
        times[key] = None if value is None else parse_time(value, field=field)
    if not any(times.values()):
        return None
    try:
        return ChannelPromise(**times)
    except ValueError as exc:
        raise PayloadError(f"Amazon's ship and delivery dates are out of order: {exc}", field="LatestDeliveryDate"
                           ) from None


def content_version(number: str, placed_at: datetime, total: Money, lines: Sequence[OrderLine],
                    ship_to: Address | None, cancelled_at: datetime | None, promise: ChannelPromise | None,
                    status: Intake) -> str:
    """A short digest (20 hex digits) of the order as fulfilhub reads it (not its LastUpdateDate)."""
    parts = [
        number,
        repr(placed_at.timestamp()),
        f"{total.amount.normalize()} {total.currency}",
        status.value,
        repr(cancelled_at.timestamp()) if cancelled_at is not None else "",
        *(f"{line.external_id}|{line.sku}|{line.quantity}|{line.unit_price.amount.normalize()}|{line.title}|"
          f"{line.requires_shipping}" for line in lines),
        "" if ship_to is None else "|".join(_fields(ship_to).values()),
        "" if promise is None else "|".join(
            repr(t.timestamp()) if t is not None else "" for t in
            (promise.ship_from, promise.ship_by, promise.deliver_from, promise.deliver_by)),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _fulfilled_by_amazon(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, str) or value not in FULFILLED_BY_AMAZON:
        raise PayloadError(f"is not a FulfillmentChannel Amazon documents (AFN, MFN): {_shown(value)}",
                           field="FulfillmentChannel")
    return FULFILLED_BY_AMAZON[value]


def _currency(payload: Mapping[str, Any]) -> str:
    """The order's currency: ``OrderTotal``'s, else the first item price's, else the marketplace's."""
    total = payload.get("OrderTotal")
    if isinstance(total, Mapping) and total.get("CurrencyCode") is not None:
        return parse_currency(total.get("CurrencyCode"), field="OrderTotal.CurrencyCode")
    items = payload.get("OrderItems")
    for index, item in enumerate(items if isinstance(items, list) else ()):
        price = item.get("ItemPrice") if isinstance(item, Mapping) else None
        if isinstance(price, Mapping) and price.get("CurrencyCode") is not None:
            return parse_currency(price.get("CurrencyCode"), field=f"OrderItems[{index}].ItemPrice.CurrencyCode")
    marketplace = payload.get("MarketplaceId")
    if isinstance(marketplace, str) and marketplace in MARKETPLACE_CURRENCIES:
        return MARKETPLACE_CURRENCIES[marketplace]
    raise PayloadError(f"names no currency (no OrderTotal, no ItemPrice, and a MarketplaceId not known here: "
                       f"{_shown(marketplace)})", field="OrderTotal")


def _money(value: Any, field: str, currency: str) -> Money:
    """``{"CurrencyCode", "Amount"}`` exact to the currency's minor unit, in the order's currency."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"must be a Money object with CurrencyCode and Amount, got {_shown(value)}", field=field)
    amount = value.get("Amount")
    if not isinstance(amount, str):  # Amazon writes amounts as text; a JSON number would be read as a float
        raise PayloadError(f"must be the amount as text, like \"19.99\", got {_shown(amount)}", field=f"{field}.Amount")
    money = parse_money(amount, value.get("CurrencyCode"), field=f"{field}.Amount",
                        currency_field=f"{field}.CurrencyCode")
    if money.currency != currency:
        raise PayloadError(f"is in {money.currency}, the order in {currency}", field=f"{field}.CurrencyCode")
    return money


def _order_lines(items: Any, currency: str, *, ships: bool) -> tuple[tuple[OrderLine, ...], Decimal]:
    """The lines, and what the buyer paid for shipping (``ShippingPrice`` less ``ShippingDiscount``)."""
    if not isinstance(items, list) or not items:
        raise PayloadError(f"must be a non-empty list of order items, got {_shown(items)}", field="OrderItems")
    lines, shipping = [], Decimal(0)
    for index, item in enumerate(items):
        where = f"OrderItems[{index}]"
        if not isinstance(item, Mapping):
            raise PayloadError(f"must be a JSON object, got {_shown(item)}", field=where)
        item_id = _amazon_id(item.get("OrderItemId"), f"{where}.OrderItemId")
        sku = _text(item.get("SellerSKU"), f"{where}.SellerSKU")
        quantity = item.get("QuantityOrdered")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
            raise PayloadError(f"must be a whole number from 0 to {MAX_QUANTITY:,}, got {_shown(quantity)}",
                               field=f"{where}.QuantityOrdered")
        price = item.get("ItemPrice")
        line_total = Decimal(0) if price is None else _money(price, f"{where}.ItemPrice", currency).amount
        for key, sign in (("ShippingPrice", 1), ("ShippingDiscount", -1)):
            if item.get(key) is not None:
                shipping += sign * _money(item[key], f"{where}.{key}", currency).amount
        if quantity == 0:  # a line the buyer cancelled out of the order: nothing to ship or charge
            continue
        try:  # ItemPrice is the whole line's price: each unit's must be exact too
            unit = parse_money(str(line_total / quantity), currency, field=f"{where}.ItemPrice.Amount")
        except PayloadError:
            raise PayloadError(f"{line_total} {currency} for {quantity} is not a whole number of the currency's "
                               "minor unit each", field=f"{where}.ItemPrice.Amount") from None
        lines.append(OrderLine(sku=sku, quantity=quantity, unit_price=unit,
                               title=_text(item.get("Title"), f"{where}.Title"), external_id=item_id,
                               requires_shipping=ships))
    return tuple(lines), max(shipping, Decimal(0))


_ADDRESS_KEYS = ("Name", "AddressLine1", "AddressLine2", "AddressLine3", "City", "County", "District",
                 "StateOrRegion", "Municipality", "PostalCode", "CountryCode", "Phone", "AddressType", "CompanyName")


def _address(value: Any) -> tuple[Address | None, bool]:
    """The address, and whether Amazon withheld the part a label needs (no name or street)."""
    if value is None:
        return None, True
    if not isinstance(value, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(value)}", field="ShippingAddress")
    got = {key: _text(value.get(key), f"ShippingAddress.{key}") for key in _ADDRESS_KEYS}
    country = got["CountryCode"]
    if country and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise PayloadError(f"must be a two-letter country code like 'US', got {_shown(country)}",
                           field="ShippingAddress.CountryCode")
    address = Address(
        name=got["Name"],
        company=got["CompanyName"],
        line1=got["AddressLine1"],
        line2=" ".join(part for part in (got["AddressLine2"], got["AddressLine3"]) if part),
        city=got["City"] or got["Municipality"],
        province=got["StateOrRegion"],
        postal_code=got["PostalCode"],
        country=country,
        phone=got["Phone"],
    )
    return address, not (address.name and address.line1)


def _fields(address: Address) -> dict[str, str]:
    return {name: getattr(address, name) for name in ("name", "company", "line1", "line2", "city", "province",
                                                      "postal_code", "country", "phone", "email")}


# --------------------------------------------------------------------------- what is sent


def package_reference(shipment_id: str) -> str:
    """The ``packageReferenceId`` of a shipment: a positive number (Amazon takes only those),
    the same for every try, so a repeated confirmation names the same package."""
    return str(int(hashlib.sha256(shipment_id.encode("utf-8")).hexdigest()[:12], 16) % 9_000_000_000 + 1)


#: Carrier names fulfilhub's carriers use, as Amazon's ``carrierCode`` list spells them;
#: any other is sent as ``Other`` with its name in ``carrierName``. Data, to be corrected here.
CARRIER_CODES: Mapping[str, str] = MappingProxyType(
    {"usps": "USPS", "ups": "UPS", "fedex": "FedEx", "dhl": "DHL", "dhl express": "DHL", "yamato": "Yamato Transport",
     "sagawa": "Sagawa Express", "japan post": "Japan Post", "royal mail": "Royal Mail", "sf express": "SF Express",
     "t-cat": "T-CAT", "chunghwa post": "Chunghwa Post"}
)


def confirm_shipment_body(marketplace_id: str, reference: str, carrier: str, service: str, tracking: str,
                          ship_date: datetime, items: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """The body of ``confirmShipment`` for one package of ``items`` (``(OrderItemId, quantity)``)."""
    code = CARRIER_CODES.get(carrier.strip().lower(), "Other")
    detail: dict[str, Any] = {
        "packageReferenceId": reference,
        "carrierCode": code,
        "trackingNumber": tracking,
        "shipDate": ship_date.isoformat().replace("+00:00", "Z"),
        "orderItems": [{"orderItemId": item_id, "quantity": quantity} for item_id, quantity in items],
    }
    if code == "Other":
        detail["carrierName"] = carrier or "Other"
    if service:
        detail["shippingMethod"] = service
    return {"packageDetail": detail, "marketplaceId": marketplace_id}


def listing_patch(quantity: int) -> dict[str, Any]:
    """``patchListingsItem``'s body setting the seller-fulfilled quantity of one SKU."""
    return {"productType": "PRODUCT",
            "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]}


def listing_accepted(answer: Any) -> tuple[bool, str]:
    """Whether ``patchListingsItem`` accepted the patch (``status`` ACCEPTED), and its issues as text."""
    if not isinstance(answer, Mapping) or answer.get("status") not in ("ACCEPTED", "INVALID", "VALID"):
        raise PayloadError(f"must hold a status ACCEPTED or INVALID, got {_shown(answer)}", field="status")
    issues = answer.get("issues") if isinstance(answer.get("issues"), list) else []
    said = "; ".join(str(issue.get("message", ""))[:200] for issue in issues if isinstance(issue, Mapping))
    return answer["status"] != "INVALID", said


# --------------------------------------------------------------------------- answers


def orders_page(answer: Any) -> tuple[list[Any], str | None]:
    """``getOrders``'s ``payload``: the orders (unchecked, each mapped on its own) and ``NextToken``."""
    payload = answer.get("payload") if isinstance(answer, Mapping) else None
    if not isinstance(payload, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(payload)}", field="payload")
    orders = payload.get("Orders")
    if not isinstance(orders, list):
        raise PayloadError(f"must be a list, got {_shown(orders)}", field="payload.Orders")
    return list(orders), _next_token(payload.get("NextToken"), "payload.NextToken")


def items_page(answer: Any) -> tuple[list[Any], str | None]:
    """``getOrderItems``'s ``payload``: the order items and ``NextToken``."""
    payload = answer.get("payload") if isinstance(answer, Mapping) else None
    if not isinstance(payload, Mapping):
        raise PayloadError(f"must be a JSON object, got {_shown(payload)}", field="payload")
    items = payload.get("OrderItems")
    if not isinstance(items, list):
        raise PayloadError(f"must be a list, got {_shown(items)}", field="payload.OrderItems")
    return list(items), _next_token(payload.get("NextToken"), "payload.NextToken")


def _next_token(value: Any, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise PayloadError(f"must be text, got {_shown(value)}", field=field)
    return value


# --------------------------------------------------------------------------- readers


def _amazon_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii() or not \
            value.replace("-", "").isalnum():
        raise PayloadError(f"must be an Amazon id like '113-1234567-1234567', got {_shown(value)}", field=field)
    return value


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

