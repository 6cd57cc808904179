"""The normalized model: attrs value objects and the enums they use.

Values are frozen, slotted and keyword-only. Money is a ``Decimal`` with an ISO-4217
code, never a float. Times are timezone-aware ``datetime``s, never strings. Statuses are
enums, never free strings. Each normalized record that came from a foreign API keeps
the foreign payload beside it in ``raw``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

# --------------------------------------------------------------------------- enums


class OrderStatus(enum.StrEnum):
    """Where an order is in the normalized lifecycle (see ``engines/lifecycle.py``)."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    ALLOCATED = "allocated"
    PICKING = "picking"
    PACKED = "packed"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    # side states
    ON_HOLD = "on_hold"
    BACKORDERED = "backordered"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


class ShipmentStatus(enum.StrEnum):
    """Where one shipment (one parcel from one warehouse) is."""

    PENDING = "pending"  # allocated, not yet sent to the warehouse
    SUBMITTED = "submitted"  # the warehouse has the fulfillment request
    PICKING = "picking"
    PACKED = "packed"  # packed, waiting for a label
    LABEL_PURCHASED = "label_purchased"  # label bought, not yet scanned by the carrier
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class TrackingStatus(enum.StrEnum):
    """A carrier scan, normalized. Each carrier plugin maps its own table into this."""

    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURN_TO_SENDER = "return_to_sender"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class ExceptionReason(enum.StrEnum):
    """Why a shipment is in trouble, normalized across carriers."""

    WEATHER = "weather"
    CAPACITY = "capacity"
    ADDRESS = "address"
    CUSTOMS = "customs"
    LOST = "lost"
    DAMAGED = "damaged"
    REFUSED = "refused"
    FAILED_ATTEMPT = "failed_attempt"
    CARRIER_DELAY = "carrier_delay"
    OTHER = "other"


class FulfillmentStatus(enum.StrEnum):
    """A warehouse's progress on one fulfillment request."""

    SUBMITTED = "submitted"
    PICKING = "picking"
    PACKED = "packed"
    SHIPPED = "shipped"  # the warehouse shipped it with its own label
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class FulfilledBy(enum.StrEnum):
    """Who carries an order to the customer.

    ``SELLER``: fulfilhub's warehouses pack it and fulfilhub buys the label from a
    configured carrier. ``MARKETPLACE``: the marketplace ships it with its own logistics
    (Shopee's channel carrier after ``ship_order`` with pickup or dropoff; Amazon's
    fulfilment network): no label is bought, the channel arranges the shipment and its
    tracking comes from the marketplace (see :class:`fulfilhub.MarketplaceLogistics`).
    """

    SELLER = "seller"
    MARKETPLACE = "marketplace"



class DelayState(enum.StrEnum):
    """How an open order stands against its promise (a delay assessment)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"  # likely to miss deliver-by unless something changes
    LATE = "late"  # will miss, or has missed, deliver-by


class DelayReason(enum.StrEnum):
    """Why an order is at risk or late: the first cause the delay engine found."""

    STOCK_OUT = "stock_out"  # a line is backordered
    NOT_PICKED = "not_picked"  # the warehouse has not picked by its cut-off
    NOT_SHIPPED = "not_shipped"  # not handed to the carrier by ship-by
    NO_SCAN = "no_scan"  # no carrier scan for longer than the lane normally allows
    CARRIER_EXCEPTION = "carrier_exception"  # weather, capacity, address, customs, lost, damaged ...
    CARRIER_ETA = "carrier_eta"  # the carrier's own ETA is past deliver-by
    TRANSIT_FORECAST = "transit_forecast"  # time so far + the remaining transit learned for the lane

# --------------------------------------------------------------------------- helpers

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")

#: The largest amount fulfilhub accepts (any currency): a bigger one is a broken payload.
MAX_AMOUNT = Decimal(10) ** 15
#: The largest quantity of one line or shipment line.
MAX_QUANTITY = 1_000_000
#: Times outside these are broken payloads (and would not survive conversion to UTC).
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"money must not be a float (got {value!r}); pass a str or Decimal")
    if isinstance(value, bool):
        raise TypeError(f"not a decimal amount: {value!r}")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value!r}") from None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"not a usable amount: {value!r} (must be finite and below {MAX_AMOUNT:,})")
    return amount


def _currency(_inst: Any, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ValueError(f"{attribute.name} must be an ISO-4217 code like 'USD', got {value!r}")


def in_range(moment: datetime) -> bool:
    """Whether an aware ``moment`` lies within :data:`EARLIEST` .. :data:`LATEST` (any offset)."""
    if EARLIEST.year < moment.year < LATEST.year - 1:
        return True  # no UTC offset (less than a day) can take it outside: no conversion needed
    try:
        return EARLIEST <= moment < LATEST
    except OverflowError:  # e.g. year 9999 at -12:00 is beyond datetime.max in UTC
        return False


def _aware(_inst: Any, attribute: attrs.Attribute, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise TypeError(f"{attribute.name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be timezone-aware, got naive {value.isoformat()}")
    if not in_range(value):
        raise ValueError(f"{attribute.name} {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")


def _positive(_inst: Any, attribute: attrs.Attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be a whole number, got {value!r}")
    if not 0 < value <= MAX_QUANTITY:
        raise ValueError(f"{attribute.name} must be from 1 to {MAX_QUANTITY:,}, got {value!r}")


def _upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class Money:
    """An amount in one currency. ``Money(amount="9.90", currency="USD")``.

    Attributes:
        amount: The amount, a ``Decimal`` (give a ``str`` or ``Decimal``; a ``float`` is
            refused). Finite, and below ``MAX_AMOUNT`` in size.
        currency: The ISO-4217 code, e.g. ``"USD"``; upper-cased for you.
    """

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = attrs.field(converter=_upper, validator=_currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(amount=self.amount * factor, currency=self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@attrs.frozen(kw_only=True)
class PickupPoint:
    """A store or locker the customer collects the parcel from, chosen at checkout.

    Attributes:
        network: The chain the store belongs to, as customers know it, e.g. ``"7-ELEVEN"``.
        store_id: The store's id in the carrier's network, e.g. ``"131386"``.
        store_name: The store's name as the customer chose it, e.g. ``"高雄四維店"``.
        store_address: The store's street address.
    """

    network: str = attrs.field(validator=attrs.validators.min_len(1))
    store_id: str = attrs.field(validator=attrs.validators.min_len(1))
    store_name: str = ""
    store_address: str = ""


def _pickup(value: PickupPoint | Mapping[str, Any] | None) -> PickupPoint | None:
    return PickupPoint(**value) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True)
class Address:
    """A postal address. ``country`` is ISO-3166 alpha-2.

    Attributes:
        name: The addressee.
        company: The company, if any.
        line1: The street address.
        line2: The second address line (flat, floor, building).
        city: The city or town.
        province: The state or province code where the country has them.
        postal_code: The postal or ZIP code.
        country: The ISO-3166 alpha-2 country code; upper-cased for you.
        phone: A phone number for the carrier.
        email: An email address for the carrier's notices.
        pickup: The store the customer collects the parcel from (a convenience-store
            pickup), filled by the channel or the checkout; None for a delivery to the door.
            A mapping is read as a ``PickupPoint``.
    """

    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    province: str = ""  # state / province code where the country has them
    postal_code: str = ""
    country: str = attrs.field(default="", converter=_upper)
    phone: str = ""
    email: str = ""
    pickup: PickupPoint | None = attrs.field(default=None, converter=_pickup)

    def problems(self) -> list[str]:
        """What is missing for a carrier to deliver here (empty when usable)."""
        needed = ("name", "country") if self.pickup else ("name", "line1", "city", "country")  # a store is the door
        missing = [f for f in needed if not getattr(self, f)]
        out = [f"missing {f}" for f in missing]
        if self.country and not _COUNTRY.fullmatch(self.country):
            out.append(f"country must be ISO-3166 alpha-2, got {self.country!r}")
        return out


@attrs.frozen(kw_only=True)
class OrderLine:
    """One line of an order as the channel sold it.

    Attributes:
        sku: The stock-keeping unit: what allocation looks up in the stock table.
        quantity: How many were sold, from 1 to ``MAX_QUANTITY``.
        unit_price: The price of one unit.
        title: The product's name as the channel shows it.
        external_id: The channel's line-item id; it comes back to the channel as
            ``ShipmentLine.order_line_id``.
        requires_shipping: False for what goes into no parcel (digital goods, gift
            cards): such a line is kept with the order but never allocated or shipped,
            and an order of only such lines completes without a shipment.
    """

    sku: str
    quantity: int = attrs.field(validator=_positive)
    unit_price: Money
    title: str = ""
    external_id: str = ""  # the channel's line-item id
    requires_shipping: bool = True  # False: digital goods, gift cards (never allocated or shipped)


@attrs.frozen(kw_only=True)
class ShippingChoice:
    """How the customer chose to have an order shipped, and what they paid for it.

    Attributes:
        method: The shipping method as the shop showed it ("Standard", "Express").
        price: What the customer paid for shipping (zero when it was free).
    """

    method: str = ""
    price: Money


@attrs.frozen(kw_only=True)
class ChannelPromise:
    """A promise the channel already made to its customer (a marketplace's ship-by and delivery window).

    fulfilhub's own promise for such an order never promises later than this: the
    promise engine caps ship-by at ``ship_by`` and deliver-by at ``deliver_by``, and says
    so in the promise's basis. Every time is timezone-aware; any may be None when the
    channel does not say.

    Attributes:
        ship_from: The earliest time the channel expects the order to be handed over.
        ship_by: The latest time the channel expects the order to be handed over.
        deliver_from: The start of the delivery window the channel showed the customer.
        deliver_by: The end of the delivery window the channel showed the customer.
    """

    ship_from: datetime | None = attrs.field(default=None, validator=_aware)
    ship_by: datetime | None = attrs.field(default=None, validator=_aware)
    deliver_from: datetime | None = attrs.field(default=None, validator=_aware)
    deliver_by: datetime | None = attrs.field(default=None, validator=_aware)

    def __attrs_post_init__(self) -> None:
        for first, last in (("ship_from", "ship_by"), ("deliver_from", "deliver_by"), ("ship_from", "deliver_by")):
            a, b = getattr(self, first), getattr(self, last)
            if a is not None and b is not None and b < a:
                raise ValueError(f"ChannelPromise.{last} {b.isoformat()} is before {first} {a.isoformat()}")


@attrs.frozen(kw_only=True)
class Order:
    """An order as a channel reported it, normalized.

    ``external_id`` is the channel's id, ``version`` the channel's own version marker
    (Shopify's ``updated_at``): a record already stored at the same version is skipped.
    ``channel`` is the config instance name. ``raw`` is the foreign payload, unchanged.

    Attributes:
        channel: The channel instance name from the config (``context.name``).
        external_id: The channel's id for the order.
        version: The channel's version marker; must change whenever what fulfilhub
            reads from the order changes.
        number: The order number people use, e.g. ``"#1009"``.
        placed_at: When the customer placed the order (timezone-aware).
        updated_at: When the channel last changed the order (timezone-aware).
        currency: The order's ISO-4217 currency code; upper-cased for you.
        total: What the customer paid for the whole order.
        lines: The order lines, in the channel's order.
        ship_to: Where to ship; None when the channel gave no address (intake then
            holds an order that needs one).
        email: The customer's email address.
        note: The customer's note; ``[intake] hold_on_note`` holds orders that have one.
        cancelled_at: When the channel cancelled the order; None while it stands.
        locale: The language the customer shops in, as a BCP-47 tag ("zh-TW", "en-US");
            "" when the channel does not say (notices then go by the destination country).
        shipping: The shipping method the customer chose and what they paid for it;
            None when the channel does not say.
        channel_promise: The ship-by and delivery window the channel already promised
            the customer (a marketplace's); fulfilhub never promises later. None when
            the channel made none.
        hold_reason: Why the channel's mapping says a person must look at the order
            before it is fulfilled, in words a person can act on ("Amazon withholds
            the address without a restricted data token"); intake holds a new order
            with it, and keeps saying so while it stays held. Empty: nothing to say.
        fulfilled_by: Who carries the order (``FulfilledBy``; a string is converted):
            ``seller`` (the default) or ``marketplace`` (the marketplace's own logistics).
        raw: The foreign payload, unchanged (not compared, not shown in ``repr``).
    """

    channel: str
    external_id: str
    version: str
    number: str
    placed_at: datetime = attrs.field(validator=_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    currency: str = attrs.field(converter=_upper, validator=_currency)
    total: Money
    lines: tuple[OrderLine, ...] = attrs.field(converter=tuple)
    ship_to: Address | None = None
    email: str = ""
    note: str = ""
    cancelled_at: datetime | None = attrs.field(default=None, validator=_aware)
    locale: str = ""
    shipping: ShippingChoice | None = None
    channel_promise: ChannelPromise | None = None
    hold_reason: str = ""
    fulfilled_by: FulfilledBy = attrs.field(default=FulfilledBy.SELLER, converter=FulfilledBy)
    raw: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, eq=False, repr=False)

    @property
    def shippable(self) -> tuple[OrderLine, ...]:
        """The lines that go into parcels (digital goods and the like left out)."""
        return tuple(line for line in self.lines if line.requires_shipping)

    @property
    def id(self) -> str:
        """fulfilhub's id for the order: ``<channel instance>:<external id>``."""
        return f"{self.channel}:{self.external_id}"

    @staticmethod
    def channel_of(order_id: str) -> str:
        """The channel instance an order id belongs to."""
        return order_id.split(":", 1)[0]


@attrs.frozen(kw_only=True)
class OrderPage:
    """One page of orders fetched from a channel.

    ``payloads`` are the raw foreign records, mapped one by one with
    ``Channel.parse_order`` so that one bad record is quarantined and the rest stored.
    ``next_cursor`` is what to save once this page is stored; ``has_more`` says whether
    another page follows in this pass.

    Attributes:
        payloads: The raw foreign records of this page, not yet mapped.
        next_cursor: The cursor to save once the page is stored and pass back next time.
        has_more: True when another page follows in this pass.
    """

    payloads: tuple[Mapping[str, Any], ...] = attrs.field(converter=tuple)
    next_cursor: str | None
    has_more: bool


@attrs.frozen(kw_only=True)
class Parcel:
    """A packed box. Weight in grams, dimensions in centimetres.

    Attributes:
        weight_g: The packed weight in grams.
        length_cm: The length in centimetres.
        width_cm: The width in centimetres.
        height_cm: The height in centimetres.
    """

    weight_g: Decimal = attrs.field(converter=_to_decimal)
    length_cm: Decimal = attrs.field(default=Decimal("20"), converter=_to_decimal)
    width_cm: Decimal = attrs.field(default=Decimal("15"), converter=_to_decimal)
    height_cm: Decimal = attrs.field(default=Decimal("10"), converter=_to_decimal)


@attrs.frozen(kw_only=True)
class ShipmentLine:
    """How many of one order line go into one shipment.

    Attributes:
        sku: The stock-keeping unit.
        quantity: How many go into this shipment, from 1 to ``MAX_QUANTITY``.
        order_line_id: The channel's line-item id (``OrderLine.external_id``).
    """

    sku: str
    quantity: int = attrs.field(validator=_positive)
    order_line_id: str = ""  # the channel's line-item id


@attrs.frozen(kw_only=True)
class ShipmentRequest:
    """What a carrier needs to quote and buy a label.

    Attributes:
        reference: fulfilhub's shipment id; carriers stamp it on what they create.
        ship_from: The warehouse's address.
        ship_to: The customer's address.
        parcel: The packed parcel, weighed and measured.
    """

    reference: str  # fulfilhub's shipment id; carriers stamp it on what they create
    ship_from: Address
    ship_to: Address
    parcel: Parcel


@attrs.frozen(kw_only=True)
class Rate:
    """A carrier's offer for one service, with its transit-time estimate.

    Attributes:
        carrier: The carrier instance name from the config (``context.name``).
        carrier_name: The courier as the API names it, e.g. ``"USPS"``.
        service: The service level, e.g. ``"Priority"``.
        amount: What the label costs.
        rate_id: The carrier's id for this offer; stored, and given back to ``buy``.
        shipment_ref: The carrier-side shipment the rate belongs to; stored, and given
            back to ``buy``.
        transit_days: The promised days in transit, where the carrier says.
        delivery_date: The promised delivery date (timezone-aware), where the carrier
            says.
        to_pickup: True when the service takes the parcel to the pickup point on the
            request's address (the store the customer chose), not to the door. For an
            address with a pickup point, such rates are the only ones chosen from.
    """

    carrier: str  # config instance name of the carrier
    carrier_name: str  # the courier as the API names it, e.g. "USPS"
    service: str
    amount: Money
    rate_id: str
    shipment_ref: str  # the carrier-side shipment the rate belongs to
    transit_days: int | None = None
    delivery_date: datetime | None = attrs.field(default=None, validator=_aware)
    to_pickup: bool = False


@attrs.frozen(kw_only=True)
class Label:
    """A bought label.

    Attributes:
        carrier: The carrier instance name from the config (``context.name``).
        carrier_name: The courier as the API names it, e.g. ``"USPS"``.
        service: The service level the label was bought for.
        tracking_code: The tracking number; pushed to the channel and used by ``track``.
        cost: What the label cost.
        shipment_ref: The carrier-side shipment the label belongs to.
        tracker_ref: The carrier's id of a tracker for it, where the API has one.
        label_url: Where to download the label.
        tracking_url: Where the customer follows the parcel; pushed to the channel.
        raw: The foreign payload (not stored: ``track`` gets a label rebuilt without it).
    """

    carrier: str
    carrier_name: str
    service: str
    tracking_code: str
    cost: Money
    shipment_ref: str
    tracker_ref: str = ""
    label_url: str = ""
    tracking_url: str = ""
    raw: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, eq=False, repr=False)


_new_instance = object.__new__
_set_slot = object.__setattr__  # how attrs' own __init__ fills a frozen slotted instance


def _a_date(_instance: Any, _attribute: Any, value: Any) -> None:
    """A calendar date (not a datetime, which is also a date) within the models' years."""
    if value.__class__ is not date:
        raise TypeError(f"expected a calendar date (datetime.date), got {value!r}")
    if not 1900 <= value.year <= 2200:
        raise ValueError(f"date out of range (1900-2200): {value.isoformat()}")


def _checked_tracking(at: datetime | None, status: Any, reason: Any, what: str) -> None:
    """The invariants of the tracking models, checked in a few attribute reads."""
    if status.__class__ is not TrackingStatus:
        raise TypeError(f"{what}: status must be a TrackingStatus, got {status!r}")
    if reason is not None and reason.__class__ is not ExceptionReason:
        raise TypeError(f"{what}: reason must be an ExceptionReason or None, got {reason!r}")
    if at is not None and at.tzinfo is None:
        raise ValueError(f"{what}: times must be timezone-aware, got naive {at.isoformat()}")


@attrs.frozen(kw_only=True)
class TrackingEvent:
    """One scan, normalized. ``reason`` is set for exceptions and failed attempts.

    ``TrackingEvent(at=..., status="in_transit", ...)`` converts and validates.
    A carrier mapping that has already parsed the foreign values builds events with
    :meth:`checked` instead, which asserts the same invariants without attrs'
    converter and validator machinery (about half the cost of a scan).

    Attributes:
        at: When the scan happened (timezone-aware).
        status: The scan's normalized status (a string is converted).
        description: The carrier's words for the scan.
        location: Where the scan happened, as the carrier says it.
        reason: Why, for an exception or a failed attempt; None otherwise.
        source: The carrier's own status words, e.g. ``"in_transit/arrived_at_facility"``.
    """

    at: datetime = attrs.field(validator=_aware)
    status: TrackingStatus = attrs.field(converter=TrackingStatus)
    description: str = ""
    location: str = ""
    reason: ExceptionReason | None = None
    source: str = ""  # the carrier's own status words, e.g. "in_transit/arrived_at_facility"

    @classmethod
    def checked(
        cls,
        *,
        at: datetime,
        status: TrackingStatus,
        description: str = "",
        location: str = "",
        reason: ExceptionReason | None = None,
        source: str = "",
    ) -> TrackingEvent:
        """An event from values of the right types: ``at`` aware, ``status`` a
        :class:`TrackingStatus` member (not its string), ``reason`` an
        :class:`ExceptionReason` or None. Raises TypeError/ValueError otherwise."""
        if status.__class__ is not TrackingStatus or at.tzinfo is None or (
            reason is not None and reason.__class__ is not ExceptionReason
        ):
            _checked_tracking(at, status, reason, "TrackingEvent")  # raises, saying which
        event = _new_instance(cls)
        _set_slot(event, "at", at)
        _set_slot(event, "status", status)
        _set_slot(event, "description", description)
        _set_slot(event, "location", location)
        _set_slot(event, "reason", reason)
        _set_slot(event, "source", source)
        return event


@attrs.frozen(kw_only=True)
class TrackingUpdate:
    """The carrier's current view of a shipment (see :meth:`checked` for mappings).

    Attributes:
        tracking_code: The tracking number the update is for.
        status: The shipment's current normalized status (a string is converted).
        events: Every scan so far, oldest first; fulfilhub stores each new one once.
        reason: Why, when the status is an exception; None otherwise.
        est_delivery: The carrier's current delivery estimate as an instant (timezone-aware),
            when the carrier gives a time; it sets when fulfilhub asks again.
        eta_date: The carrier's current delivery estimate when it is a calendar date only
            (EasyPost's ``est_delivery_date``, a ``YYYY-MM-DD`` day): the destination's local
            day, never an instant. A mapping fills one of ``est_delivery`` and ``eta_date``.
        tracking_url: Where the customer follows the parcel, if the carrier says.
        pickup_until: The last day the pickup point (a convenience store, a locker) keeps a
            parcel waiting there, by the carrier's rule or its answer: the destination's
            local day. None unless the parcel is ready for pickup.
        raw: The foreign payload (not compared, not shown in ``repr``).
    """

    tracking_code: str
    status: TrackingStatus = attrs.field(converter=TrackingStatus)
    events: tuple[TrackingEvent, ...] = attrs.field(converter=tuple, factory=tuple)
    reason: ExceptionReason | None = None
    est_delivery: datetime | None = attrs.field(default=None, validator=_aware)
    eta_date: date | None = attrs.field(default=None, validator=attrs.validators.optional(_a_date))
    tracking_url: str = ""
    pickup_until: date | None = attrs.field(default=None, validator=attrs.validators.optional(_a_date))
    raw: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, eq=False, repr=False)

    @classmethod
    def checked(
        cls,
        *,
        tracking_code: str,
        status: TrackingStatus,
        events: tuple[TrackingEvent, ...] = (),
        reason: ExceptionReason | None = None,
        est_delivery: datetime | None = None,
        eta_date: date | None = None,
        tracking_url: str = "",
        raw: Mapping[str, Any] | None = None,
        pickup_until: date | None = None,
    ) -> TrackingUpdate:
        """An update from values of the right types (as :meth:`TrackingEvent.checked`);
        ``events`` must be a tuple of TrackingEvent. ``raw`` is copied, as by the class."""
        _checked_tracking(est_delivery, status, reason, "TrackingUpdate")
        if events.__class__ is not tuple:
            raise TypeError(f"TrackingUpdate: events must be a tuple, got {type(events).__name__}")
        update = _new_instance(cls)
        _set_slot(update, "tracking_code", tracking_code)
        _set_slot(update, "status", status)
        _set_slot(update, "events", events)
        _set_slot(update, "reason", reason)
        if eta_date is not None:
            _a_date(None, None, eta_date)
        _set_slot(update, "est_delivery", est_delivery)
        _set_slot(update, "eta_date", eta_date)
        _set_slot(update, "tracking_url", tracking_url)
        if pickup_until is not None:
            _a_date(None, None, pickup_until)
        _set_slot(update, "pickup_until", pickup_until)
        _set_slot(update, "raw", _frozen_mapping(raw))
        return update


@attrs.frozen(kw_only=True)
class Shipment:
    """One parcel of an order from one warehouse, from allocation to delivery.

    ``id`` is ``<order id>/<n>``. ``rate`` is the carrier service chosen for it (set
    before the label is bought), ``label`` the label once bought. ``fulfillment_ref`` is
    the warehouse's reference for the fulfillment request, ``channel_ref`` the channel's
    id for the fulfillment pushed to it. ``next_poll_at`` is when the carrier is next
    asked about it (None: at once). Change one with ``attrs.evolve``; the store saves
    the whole model.

    Attributes:
        id: ``<order id>/<n>``.
        order_id: The order it belongs to.
        warehouse: The warehouse instance it ships from.
        status: Where it is (``ShipmentStatus``; a string is converted).
        lines: What it holds.
        created_at: When allocation made it.
        modified_at: When it last changed.
        fulfillment_ref: The warehouse's reference for the fulfillment request.
        parcel: The packed parcel, once the warehouse packed it.
        rate: The carrier service chosen, before the label is bought.
        label: The label, once bought.
        channel_ref: The channel's id for the fulfillment pushed to it.
        exception_reason: Why it is in trouble, when its status is ``exception``.
        est_delivery: The carrier's latest delivery estimate, when it gave an instant.
        eta_date: The carrier's latest delivery estimate, when it gave a calendar date only
            (the destination's local day; see :class:`TrackingUpdate`).
        shipped_at: When the label was bought.
        delivered_at: When the carrier delivered it.
        next_poll_at: When the carrier is next asked about it (None: at once).
        pickup_until: The last day its pickup point keeps it, once it waits there (the
            destination's local day; see :class:`TrackingUpdate`).
    """

    id: str
    order_id: str
    warehouse: str
    status: ShipmentStatus = attrs.field(converter=ShipmentStatus)
    lines: tuple[ShipmentLine, ...] = attrs.field(converter=tuple)
    created_at: datetime = attrs.field(validator=_aware)
    modified_at: datetime = attrs.field(validator=_aware)
    fulfillment_ref: str = ""
    parcel: Parcel | None = None
    rate: Rate | None = None
    label: Label | None = None
    channel_ref: str = ""
    exception_reason: ExceptionReason | None = None
    est_delivery: datetime | None = attrs.field(default=None, validator=_aware)
    eta_date: date | None = attrs.field(default=None, validator=attrs.validators.optional(_a_date))
    shipped_at: datetime | None = attrs.field(default=None, validator=_aware)
    delivered_at: datetime | None = attrs.field(default=None, validator=_aware)
    next_poll_at: datetime | None = attrs.field(default=None, validator=_aware)
    pickup_until: date | None = attrs.field(default=None, validator=attrs.validators.optional(_a_date))

    @property
    def tracking_code(self) -> str:
        return self.label.tracking_code if self.label else ""

    @property
    def carrier(self) -> str:
        """The carrier instance serving it: the label's, else the chosen rate's ('' if neither)."""
        if self.label is not None:
            return self.label.carrier
        return self.rate.carrier if self.rate is not None else ""


@attrs.frozen(kw_only=True)
class FulfillmentRequest:
    """What fulfilhub asks a warehouse to pick and pack.

    ``key`` is deterministic (one per shipment); a warehouse that sees the same key
    twice must return the first request's reference, not create a second one.

    Attributes:
        key: The idempotency key, ``warehouse.submit:<shipment id>``.
        shipment_id: fulfilhub's shipment id.
        order_id: fulfilhub's order id.
        order_number: The order number people use, for the packing slip.
        lines: What to pick and pack.
        ship_to: The customer's address.
    """

    key: str
    shipment_id: str
    order_id: str
    order_number: str
    lines: tuple[ShipmentLine, ...] = attrs.field(converter=tuple)
    ship_to: Address


@attrs.frozen(kw_only=True)
class LotPick:
    """Units of one SKU packed from one lot (batch), as the warehouse reports them.

    Attributes:
        sku: The stock-keeping unit.
        lot: The lot or batch number printed on the goods.
        quantity: How many units of the lot went into the parcel (1 or more).
        expires: The lot's expiry date, where it has one.
    """

    sku: str = attrs.field(validator=attrs.validators.min_len(1))
    lot: str = attrs.field(validator=attrs.validators.min_len(1))
    quantity: int = attrs.field(validator=_positive)
    expires: date | None = None


@attrs.frozen(kw_only=True)
class ShortPick:
    """Units of one SKU the warehouse packed fewer than asked (a short pick).

    Attributes:
        sku: The stock-keeping unit.
        quantity: How many units are missing from the parcel (1 or more).
        reason: Why, in the warehouse's words (``"lot L1 expired 2026-12-01"``).
    """

    sku: str = attrs.field(validator=attrs.validators.min_len(1))
    quantity: int = attrs.field(validator=_positive)
    reason: str = ""


@attrs.frozen(kw_only=True)
class FulfillmentUpdate:
    """A warehouse's answer about one request.

    ``next_check_at`` is when the warehouse expects to have news (the end of picking,
    say): fulfilhub does not ask again before then. None: ask again on the next pass.

    A warehouse that ships with its own label (a 3PL) answers ``shipped`` with the
    ``carrier`` and ``tracking_code`` it shipped with: fulfilhub then records that label
    (it buys none), pushes the fulfillment to the channel, and follows the parcel (see
    docs/plugins.md, "A warehouse that ships"). A parcel split into several packages
    gives the first package's code in ``tracking_code`` and the others in
    ``more_tracking_codes``.

    Attributes:
        ref: The warehouse's reference, as ``submit`` returned it.
        status: The warehouse's progress (``FulfillmentStatus``; a string is converted).
        at: When the warehouse reported it (timezone-aware).
        parcel: The packed parcel, known once packed.
        reason: Why, for ``cancelled`` or ``rejected``.
        next_check_at: When the warehouse expects news; None: ask on the next pass.
        carrier: The courier the warehouse shipped with, as it names it (``"USPS"``); required for ``shipped``.
        service: The courier's service level, where the warehouse says.
        tracking_code: The tracking number of the label it bought; required for ``shipped``.
        tracking_url: Where the customer follows the parcel, where the warehouse gives one.
        shipped_at: When the parcel left the warehouse (None: ``at``).
        more_tracking_codes: The other packages' tracking numbers, when it went in several.
        lots: Once packed, the lot of each packed unit where the warehouse tracks lots
            (empty: not reported).
        short: Once packed, the units packed fewer than asked (empty: all of them).
    """

    ref: str
    status: FulfillmentStatus = attrs.field(converter=FulfillmentStatus)
    at: datetime = attrs.field(validator=_aware)
    parcel: Parcel | None = None  # known once packed
    reason: str = ""
    next_check_at: datetime | None = attrs.field(default=None, validator=_aware)
    carrier: str = ""
    service: str = ""
    tracking_code: str = ""
    tracking_url: str = ""
    shipped_at: datetime | None = attrs.field(default=None, validator=_aware)
    more_tracking_codes: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    lots: tuple[LotPick, ...] = attrs.field(default=(), converter=tuple)
    short: tuple[ShortPick, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.status is FulfillmentStatus.SHIPPED and not (self.carrier.strip() and self.tracking_code.strip()):
            raise ValueError(
                f"fulfillment {self.ref}: 'shipped' needs the carrier and the tracking code the warehouse shipped "
                f"with (got carrier={self.carrier!r}, tracking_code={self.tracking_code!r}); a warehouse that does "
                "not know them yet answers 'packed'"
            )


@attrs.frozen(kw_only=True)
class StockLevel:
    """Stock of one SKU in one warehouse. ``available`` is what may still be sold.

    Attributes:
        warehouse: The warehouse instance name from the config (``context.name``).
        sku: The stock-keeping unit.
        on_hand: Units in the warehouse.
        reserved: Units reserved for allocated orders, not yet shipped.
        safety_stock: Units kept back, never allocated.
    """

    warehouse: str
    sku: str
    on_hand: int
    reserved: int = 0
    safety_stock: int = 0

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


def _share(_inst: Any, attribute: attrs.Attribute, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a share from 0 to 1, got {value!r}")


def _not_negative(_inst: Any, attribute: attrs.Attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Promise:
    """A delivery promise: ship by a time, deliver within a range of days, and why.

    Computed by the promise engine for an order (stored when the order is accepted, then
    revised only by a new revision with its ``reason``) or for a quote before checkout
    (``order_id`` empty, ``revision`` 0). ``deliver_from`` is the start of the first day
    and ``deliver_by`` the end of the last day of the range, in the destination's time
    zone ``timezone``: an order is on time when delivered at or before ``deliver_by``.

    Attributes:
        order_id: The order it is for; empty for a quote.
        revision: 1 for the promise made at acceptance, +1 for each revision; 0 for a quote.
        created_at: When it was computed.
        ship_by: When the order must be handed to the carrier.
        deliver_from: Start of the first day of the delivery range (destination time).
        deliver_by: End of the last day of the delivery range (destination time).
        timezone: The IANA time zone the range's days are counted in (the destination's).
        confidence_from: The share of such orders expected delivered by the end of the range's first day.
        confidence_by: The share of such orders expected delivered by ``deliver_by``.
        carrier: The carrier instance the promise assumes; empty when none is chosen yet.
        service: The carrier service the promise assumes; empty when none is chosen yet.
        level: Which history answered: ``postal``, ``lane``, ``region``, ``service``, ``all``, ``stated`` or ``default``.
        basis: One line on what it rests on, for people ("USPS Priority, Reno → CA: 412 deliveries ...").
        reason: Why this revision was made ("accepted", "backordered until 12 May", ...).
    """

    order_id: str = ""
    revision: int = attrs.field(default=0, validator=_not_negative)
    created_at: datetime = attrs.field(validator=_aware)
    ship_by: datetime = attrs.field(validator=_aware)
    deliver_from: datetime = attrs.field(validator=_aware)
    deliver_by: datetime = attrs.field(validator=_aware)
    timezone: str = "UTC"
    confidence_from: float = attrs.field(default=0.0, validator=_share)
    confidence_by: float = attrs.field(default=0.0, validator=_share)
    carrier: str = ""
    service: str = ""
    level: str = ""
    basis: str = ""
    reason: str = ""

    def __attrs_post_init__(self) -> None:
        if self.deliver_by < self.deliver_from:
            raise ValueError(f"deliver_by {self.deliver_by.isoformat()} is before deliver_from {self.deliver_from.isoformat()}")

    def same_terms(self, other: Promise | None) -> bool:
        """Whether ``other`` promises the same: ship-by, range, carrier and service (not the wording)."""
        return other is not None and (self.ship_by, self.deliver_from, self.deliver_by, self.carrier, self.service) == (
            other.ship_by, other.deliver_from, other.deliver_by, other.carrier, other.service)


@attrs.frozen(kw_only=True)
class DelayAssessment:
    """How an open order stands against its promise, as the delay engine assessed it.

    Stored only when it changes (state, reason, days late or revised ETA). ``days_late``
    is the expected number of days past ``deliver_by`` (0 when on track);
    ``revised_eta`` the expected delivery time and ``confidence`` the share of such
    orders expected delivered by then.

    Attributes:
        order_id: The order assessed.
        assessed_at: When it was assessed.
        state: On track, at risk or late (``DelayState``; a string is converted).
        reason: The cause found (``DelayReason``), None when on track.
        exception: The carrier's exception reason, when the cause is a carrier exception.
        days_late: Expected days past the promised ``deliver_by`` (0 when on track).
        revised_eta: The expected delivery time, when one can be estimated.
        confidence: The share of such orders expected delivered by ``revised_eta``.
        promise_revision: The revision of the promise it was assessed against.
        detail: One line on what was found, for people ("no scan for 4 days; the lane normally scans daily").
    """

    order_id: str
    assessed_at: datetime = attrs.field(validator=_aware)
    state: DelayState = attrs.field(converter=DelayState)
    reason: DelayReason | None = attrs.field(default=None, converter=attrs.converters.optional(DelayReason))
    exception: ExceptionReason | None = attrs.field(default=None, converter=attrs.converters.optional(ExceptionReason))
    days_late: int = attrs.field(default=0, validator=_not_negative)
    revised_eta: datetime | None = attrs.field(default=None, validator=_aware)
    confidence: float = attrs.field(default=0.0, validator=_share)
    promise_revision: int = attrs.field(default=0, validator=_not_negative)
    detail: str = ""

    def same_finding(self, other: DelayAssessment | None) -> bool:
        """Whether ``other`` found the same: state, reason, exception, days late and the ETA's day."""
        if other is None:
            return False
        eta = self.revised_eta.date() if self.revised_eta else None
        other_eta = other.revised_eta.date() if other.revised_eta else None
        return (self.state, self.reason, self.exception, self.days_late, eta) == (
            other.state, other.reason, other.exception, other.days_late, other_eta)


# --------------------------------------------------------------------------- notices and compensation


class NoticeEvent(enum.StrEnum):
    """What a customer notice is about."""

    CONFIRMED = "confirmed"  # the order is accepted, with its promise
    SHIPPED = "shipped"  # handed to the carrier, with the tracking link
    DELAYED = "delayed"  # a delay was found: days late, new date, cause, what is done, compensation
    ETA_REVISED = "eta_revised"  # the expected date moved, the delay itself unchanged
    READY_FOR_PICKUP = "ready_for_pickup"  # at the store the customer chose, with the store and the last day
    DELIVERED = "delivered"
    COMPENSATION_ISSUED = "compensation_issued"  # the code or the amount, once it exists
    LOW_STOCK = "low_stock"  # to the operator: a SKU's sellable quantity fell to its reorder point
    RECALL = "recall"  # a lot the customer received is recalled (drafted, sent once an operator approves)

    @property
    def urgent(self) -> bool:
        """Urgent notices are sent at once; the others wait out the customer's quiet hours."""
        return self in (NoticeEvent.DELAYED, NoticeEvent.COMPENSATION_ISSUED, NoticeEvent.RECALL)

    @property
    def for_operator(self) -> bool:
        """Told to the shop's operator, not a customer: routed only to notifiers whose ``events`` name it."""
        return self is NoticeEvent.LOW_STOCK


class CompensationKind(enum.StrEnum):
    """What a customer is given for a delay."""

    DISCOUNT = "discount"  # a percentage off the next order (a discount code)
    SHIPPING_REFUND = "shipping_refund"  # the shipping fee paid back
    PARTIAL_REFUND = "partial_refund"  # part of the order value paid back
    FREE_UPGRADE = "free_upgrade"  # faster shipping on the next order (a discount code)
    POINTS = "points"  # loyalty points
    GIFT = "gift"  # a gift sent with or after the order
    WARRANTY = "warranty"  # a warranty extended by some months

    @property
    def is_code(self) -> bool:
        """Kinds a channel issues as a discount code for the next order."""
        return self in (CompensationKind.DISCOUNT, CompensationKind.FREE_UPGRADE)


@attrs.frozen(kw_only=True)
class Notice:
    """One rendered customer notice, as a notifier delivers it.

    Attributes:
        key: Its idempotency key (``notice:<event>:<order id>:<revision>``): one notice per event and revision.
        order_id: The order it is about.
        order_number: The order number the customer knows (``#1042``).
        event: What it is about (``NoticeEvent``).
        locale: The locale it is written in (``en``, ``zh_Hant_TW``, ``zh_Hans_CN``...).
        to: The customer's address (email) or the empty string when the order has none.
        subject: One line: the subject of an email, the title of a message.
        text: The plain-text body.
        html: The HTML body (the same words).
        created_at: When it was rendered.
        facts: The facts it states, by name (days late, dates, amount, link...), for receivers and tests.
    """

    key: str
    order_id: str
    order_number: str
    event: NoticeEvent = attrs.field(converter=NoticeEvent)
    locale: str
    to: str = ""
    subject: str
    text: str
    html: str = ""
    created_at: datetime = attrs.field(validator=_aware)
    facts: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, eq=False)


@attrs.frozen(kw_only=True)
class CompensationProposal:
    """What a compensation policy proposes for one delayed order.

    Attributes:
        kind: What is given (``CompensationKind``).
        value: What it costs the shop, in the order's currency (a discount: the expected discount).
        tier: The name of the tier the delay reached ("late-3d"); the top-up rule compares tiers by ``value``.
        reason: One line for people: why this, by which rule.
        percent: The percentage, for a discount (``Decimal("10")`` is 10 %).
        points: Loyalty points, for ``points``.
        months: Warranty months, for ``warranty``.
        policy: The policy that proposed it (filled in by the engine).
    """

    kind: CompensationKind = attrs.field(converter=CompensationKind)
    value: Money
    tier: str
    reason: str = ""
    percent: Decimal | None = attrs.field(default=None, converter=attrs.converters.optional(_to_decimal))
    points: int = 0
    months: int = 0
    policy: str = ""


# --------------------------------------------------------------------------- carrier choice


@attrs.frozen(kw_only=True)
class Scorecard:
    """One carrier instance's record, as the carrier choice weighs it.

    Attributes:
        carrier: The carrier instance (``Rate.carrier``).
        shipments: Shipments it was handed in the window.
        due: Those whose order's promised deliver-by has passed (the on-time rate's base).
        on_time_rate: Share of ``due`` delivered by the deliver-by (None: none due).
        exception_rate: Share of ``shipments`` that had an exception scan (None: no shipments).
        damage_rate: Share of ``shipments`` whose exception was damage or loss (None: no shipments).
    """

    carrier: str
    shipments: int
    due: int
    on_time_rate: float | None
    exception_rate: float | None
    damage_rate: float | None

    def describe(self) -> str:
        """"on time 91% of 44 due, exceptions 3% of 60, damaged or lost 0%"."""
        def pct(value: float | None) -> str:
            return "?" if value is None else f"{value:.0%}"
        return (f"on time {pct(self.on_time_rate)} of {self.due} due, exceptions {pct(self.exception_rate)} "
                f"of {self.shipments}, damaged or lost {pct(self.damage_rate)}")

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class Standing:
    """What the scorecard says about one carrier instance, for ``choose_rate``.

    Attributes:
        carrier: The carrier instance.
        scorecard: Its scorecard (None: it has shipped nothing in the window).
        excluded: Why it must not be chosen ("on time 71% of 40 due, below the floor of 85%"); "" when it may be.
        penalty: Added to its rates' price when rates are compared (in the rate's currency).
        note: How the scorecard was weighed, for people ("too few shipments to judge (3 of 20)").
    """

    carrier: str
    scorecard: Scorecard | None = None
    excluded: str = ""
    penalty: Decimal = Decimal(0)
    note: str = ""
