"""EasyPost JSON to and from fulfilhub's model: pure functions and data tables, no I/O.

Everything the adapter sends is built here (``shipment_body``) and everything it receives
is mapped here (``parse_rates``, ``parse_label``, ``parse_tracker``), so the mapping can
be tested with golden payloads and no network.

EasyPost's tracking vocabulary is two words: a ``status`` (where the parcel is) and a
``status_detail`` (what just happened). :data:`STATUSES` maps the first to a
:class:`~fulfilhub.TrackingStatus`; :data:`STATUS_DETAILS` says what the second adds: a
reason when something is wrong, and, for a parcel that is still on its way, a sharper
status (``in_transit`` + ``delivery_exception`` is a failed delivery attempt).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timezone
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
from fulfilhub import (
    Address,
    ExceptionReason,
    Label,
    Money,
    PayloadError,
    Rate,
    ShipmentRequest,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
)
from fulfilhub.sdk import EARLIEST, LATEST, MAX_AMOUNT, in_range, parse_time

_T = TypeVar("_T")

# --------------------------------------------------------------------------- units

#: Grams in one avoirdupois ounce, exact by definition (1 lb = 0.45359237 kg).
GRAMS_PER_OUNCE = Decimal("28.349523125")
#: Centimetres in one inch, exact by definition.
CM_PER_INCH = Decimal("2.54")
_TENTH = Decimal("0.1")


def grams_to_ounces(grams: Decimal) -> Decimal:
    """Weight for EasyPost (ounces, one decimal), rounded *up*.

    Rounding up means a parcel is never declared lighter than it is: carriers bill an
    under-declared weight afterwards, with a surcharge.
    """
    return (Decimal(grams) / GRAMS_PER_OUNCE).quantize(_TENTH, rounding=ROUND_CEILING)


def cm_to_inches(cm: Decimal) -> Decimal:
    """A dimension for EasyPost (inches, one decimal), rounded up for the same reason."""
    return (Decimal(cm) / CM_PER_INCH).quantize(_TENTH, rounding=ROUND_CEILING)


# --------------------------------------------------------------------------- status tables


@attrs.frozen(kw_only=True)
class DetailMeaning:
    """What one EasyPost ``status_detail`` adds to the ``status`` it arrives with.

    ``status`` replaces EasyPost's status only while the parcel is still on its way
    (:data:`OPEN_STATUSES`): a refusal reported with ``return_to_sender`` stays a return.
    ``reason`` is kept whatever the status, so a weather delay on a parcel that is still
    ``in_transit`` is visible to the delay engine.
    """

    status: TrackingStatus | None = None
    reason: ExceptionReason | None = None


#: EasyPost ``Tracker.status`` -> normalized status. ``failure`` is EasyPost's word for
#: "the carrier has stopped trying" (a single failed attempt with a retry stays
#: ``in_transit``), hence EXCEPTION. ``error`` means EasyPost could not read the
#: carrier's tracking: it says nothing about the parcel, hence UNKNOWN.
STATUSES: Mapping[str, TrackingStatus] = MappingProxyType({
    "unknown": TrackingStatus.UNKNOWN,
    "pre_transit": TrackingStatus.PRE_TRANSIT,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "delivered": TrackingStatus.DELIVERED,
    "available_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "return_to_sender": TrackingStatus.RETURN_TO_SENDER,
    "failure": TrackingStatus.EXCEPTION,
    "cancelled": TrackingStatus.CANCELLED,
    "error": TrackingStatus.UNKNOWN,
})

_NOTHING = DetailMeaning()
_S = TrackingStatus
_R = ExceptionReason

#: EasyPost ``status_detail`` -> what it adds. Every value EasyPost documents is listed,
#: the routine scans with no meaning, so that a missing entry is a visible decision.
STATUS_DETAILS: Mapping[str, DetailMeaning] = MappingProxyType({
    # routine progress
    "arrived_at_destination": _NOTHING,
    "arrived_at_facility": _NOTHING,
    "departed_facility": _NOTHING,
    "departed_origin_facility": _NOTHING,
    "in_transit": _NOTHING,
    "label_created": _NOTHING,
    "out_for_delivery": _NOTHING,
    "received_at_destination_facility": _NOTHING,
    "received_at_origin_facility": _NOTHING,
    "status_update": _NOTHING,
    "transferred_to_destination_carrier": _NOTHING,
    "unknown": _NOTHING,
    # tracking stopped updating: says nothing about the parcel; a parcel left without
    # scans is caught by the delay engine's "no scan for too long" rule
    "expired": _NOTHING,
    "arrived_at_pickup_location": DetailMeaning(status=_S.AVAILABLE_FOR_PICKUP),
    "cancelled": DetailMeaning(status=_S.CANCELLED),
    "return": DetailMeaning(status=_S.RETURN_TO_SENDER),
    # still moving, but late or at risk: the status stays, the reason shows
    "weather_delay": DetailMeaning(reason=_R.WEATHER),
    "delayed": DetailMeaning(reason=_R.CARRIER_DELAY),
    "missorted": DetailMeaning(reason=_R.CARRIER_DELAY),
    "transit_exception": DetailMeaning(reason=_R.CARRIER_DELAY),
    "address_correction": DetailMeaning(reason=_R.ADDRESS),
    # the carrier holds the parcel until someone acts (paperwork, payment, a request);
    # EasyPost does not say which
    "awaiting_information": DetailMeaning(reason=_R.OTHER),
    "held": DetailMeaning(reason=_R.OTHER),
    # a delivery attempt failed; "delivery_exception" is retried, "failure" is final
    "delivery_exception": DetailMeaning(status=_S.FAILED_ATTEMPT, reason=_R.FAILED_ATTEMPT),
    "failure": DetailMeaning(status=_S.EXCEPTION, reason=_R.FAILED_ATTEMPT),
    "refused": DetailMeaning(status=_S.EXCEPTION, reason=_R.REFUSED),
    "lost": DetailMeaning(status=_S.EXCEPTION, reason=_R.LOST),
    "damaged": DetailMeaning(status=_S.EXCEPTION, reason=_R.DAMAGED),
})

#: Statuses a status_detail may sharpen: the parcel has not reached an outcome yet.
OPEN_STATUSES = frozenset({_S.UNKNOWN, _S.PRE_TRANSIT, _S.IN_TRANSIT, _S.OUT_FOR_DELIVERY})


def classify(status: str, status_detail: str | None) -> tuple[TrackingStatus, ExceptionReason | None]:
    """Normalize one EasyPost ``(status, status_detail)`` pair.

    A word EasyPost adds later maps to UNKNOWN / no meaning rather than failing: the
    shipment keeps being tracked and ``source`` on the event still shows the word.
    An exception or failed attempt always carries a reason (OTHER when EasyPost gives
    none), so that "why" is never blank where a person has to act.
    """
    try:
        known = _CLASSIFIED_GET((status, status_detail))
    except TypeError:  # not even a word (a list, an object): no meaning
        known = None
    return known if known is not None else _classify(status, status_detail)


def _classify(status: Any, status_detail: Any) -> tuple[TrackingStatus, ExceptionReason | None]:
    base = STATUSES.get(status, TrackingStatus.UNKNOWN) if isinstance(status, str) else TrackingStatus.UNKNOWN
    meaning = STATUS_DETAILS.get(status_detail, _NOTHING) if isinstance(status_detail, str) else _NOTHING
    final = meaning.status if meaning.status is not None and base in OPEN_STATUSES else base
    reason = meaning.reason
    if reason is None and final is TrackingStatus.FAILED_ATTEMPT:
        reason = ExceptionReason.FAILED_ATTEMPT
    elif reason is None and final is TrackingStatus.EXCEPTION:
        reason = ExceptionReason.OTHER
    return final, reason


#: Every documented (status, status_detail) pair, classified once at import.
_CLASSIFIED: dict[tuple[str, str | None], tuple[TrackingStatus, ExceptionReason | None]] = {
    (status, detail): _classify(status, detail) for status in STATUSES for detail in (*STATUS_DETAILS, None, "")
}
_CLASSIFIED_GET = _CLASSIFIED.get
#: The same pairs with the ``source`` words a scan keeps: (status, reason, source).
_SCAN_WORDS: dict[tuple[str, str | None], tuple[TrackingStatus, ExceptionReason | None, str]] = {
    (status, detail): (*meaning, f"{status}/{detail}" if detail else status) for (status, detail), meaning in _CLASSIFIED.items()
}
_SCAN_WORDS_GET = _SCAN_WORDS.get


# --------------------------------------------------------------------------- requests


def address_body(address: Address) -> dict[str, str]:
    """An EasyPost Address object (only the fields that are set)."""
    fields = {
        "name": address.name,
        "company": address.company,
        "street1": address.line1,
        "street2": address.line2,
        "city": address.city,
        "state": address.province,
        "zip": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "email": address.email,
    }
    return {key: value for key, value in fields.items() if value}


def _json_number(value: Decimal) -> float:
    # JSON has one number type; a one-decimal Decimal becomes the float that prints the
    # same digits (35.3 -> 35.3). Weights and sizes only: money never goes through here.
    return float(value)


def shipment_body(
    request: ShipmentRequest,
    *,
    carrier_accounts: Sequence[str] = (),
    label_format: str = "PDF",
) -> dict[str, Any]:
    """The body of ``POST /v2/shipments`` for ``request``.

    ``reference`` carries fulfilhub's shipment id, so the EasyPost shipment can be found
    from either side. The parcel goes in ounces and inches, rounded up.
    """
    parcel = request.parcel
    shipment: dict[str, Any] = {
        "reference": request.reference,
        "to_address": address_body(request.ship_to),
        "from_address": address_body(request.ship_from),
        "parcel": {
            "length": _json_number(cm_to_inches(parcel.length_cm)),
            "width": _json_number(cm_to_inches(parcel.width_cm)),
            "height": _json_number(cm_to_inches(parcel.height_cm)),
            "weight": _json_number(grams_to_ounces(parcel.weight_g)),
        },
        "options": {"label_format": label_format},
    }
    if carrier_accounts:
        shipment["carrier_accounts"] = list(carrier_accounts)
    return {"shipment": shipment}


# --------------------------------------------------------------------------- responses
#
# Every reader below turns any JSON value into the value it promises or a PayloadError
# naming the field: a mapping never lets a TypeError, ValueError or OverflowError out,
# and never hands the store text it cannot encode, a time outside the models' range or
# an amount it cannot keep.

#: Longest text kept from EasyPost (an id, a message, a URL).
MAX_TEXT = 65_536
#: Most days a rate may promise in transit.
MAX_TRANSIT_DAYS = 1_000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _text(value: Any, field: str) -> str:
    """``value`` as stored text: a string of valid Unicode, "" for null; else PayloadError."""
    if value is None:
        return ""
    if type(value) is not str:
        raise PayloadError(f"expected text, got {type(value).__name__} {_shown(value)}", field=field)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"not valid Unicode (a lone surrogate?): {_shown(value)}", field=field) from None
    if len(value) > MAX_TEXT:
        raise PayloadError(f"{len(value):,} characters long; at most {MAX_TEXT:,} are kept", field=field)
    return value


def _require(payload: Mapping[str, Any], key: str, what: str, field: str | None = None) -> str:
    """The text at ``payload[key]``, which must be present and non-empty."""
    value = payload.get(key) if _is_mapping(payload) else None
    if value is None or value == "":
        raise PayloadError(f"EasyPost {what} has no {key!r}", field=field or key)
    return _text(value, field or key)


def _present(payload: Mapping[str, Any], key: str, what: str, field: str | None = None) -> Any:
    """``payload[key]`` of any type, which must be present and non-empty."""
    value = payload.get(key)
    if value is None or value == "":
        raise PayloadError(f"EasyPost {what} has no {key!r}", field=field or key)
    return value


def _object(value: Any, field: str, *, optional: bool = True) -> Mapping[str, Any]:
    if value is None and optional:
        return {}
    if not _is_mapping(value):
        raise PayloadError(f"expected an object, got {type(value).__name__} {_shown(value)}", field=field)
    return value


def _decimal(value: Any, field: str) -> Decimal:
    # EasyPost sends amounts as strings ("5.93"); a JSON number is read through its text
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PayloadError(f"expected a decimal amount, got {type(value).__name__} {_shown(value)}", field=field)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"not a decimal amount: {_shown(value)}", field=field) from None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise PayloadError(f"not a usable amount: {_shown(value)} (must be finite and below {MAX_AMOUNT:,})", field=field)
    return amount


def _currency(value: Any, field: str) -> str:
    if value is None or value == "":
        return "USD"
    if type(value) is not str or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise PayloadError(f"expected an ISO-4217 code like 'USD', got {_shown(value)}", field=field)
    return value.upper()


def _money(amount: Any, currency: Any, field: str, currency_field: str) -> Money:
    return Money(amount=_decimal(amount, field), currency=_currency(currency, currency_field))


#: Years whose every moment, at any UTC offset, is inside the models' range.
_SAFE_FIRST_YEAR = EARLIEST.year + 1
_SAFE_LAST_YEAR = LATEST.year - 2


def _in_range(moment: datetime, value: Any, field: str) -> datetime:
    if not in_range(moment):
        raise PayloadError(f"outside {EARLIEST.year}-{LATEST.year}: {_shown(value)}", field=field)
    return moment


def _refusing(what: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """The mapping boundary: whatever slips past the field readers (a model's own
    ValueError or TypeError) still leaves as a PayloadError, never as a crash."""

    def wrap(parse: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> _T:
            try:
                return parse(*args, **kwargs)
            except (ValueError, TypeError, OverflowError) as exc:
                raise PayloadError(f"EasyPost {what} cannot be mapped: {exc}") from None

        return guarded

    return wrap


def parse_datetime(value: Any, field: str) -> datetime | None:
    """An EasyPost timestamp as an aware datetime (None when absent).

    EasyPost writes ISO-8601 in UTC (``2024-08-02T19:26:52Z``); a time without an offset
    is UTC too, as EasyPost documents for scans whose location is unknown. A time
    outside the models' range (1900-2200) is refused.
    """
    if value is None or value == "":
        return None
    return parse_time(value, field=field, naive_is_utc=True)


_fromisoformat = datetime.fromisoformat


def parse_estimate(value: Any) -> dict[str, Any]:
    """EasyPost's ``est_delivery_date`` as ``est_delivery`` or ``eta_date``.

    EasyPost gives the carrier's estimated delivery *day* as a timestamp at midnight UTC
    (``2024-08-05T00:00:00Z``, the same instant however its offset is written) or as a bare
    ``2024-08-05``: that is a calendar date in the destination, not an instant (taken as
    midnight UTC it is a day early west of UTC), so it becomes ``eta_date``. Any other
    instant is one (``est_delivery``).
    """
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise PayloadError(f"not an ISO-8601 date: {_shown(value)}", field="est_delivery_date") from None
        if not 1900 <= day.year <= 2200:
            raise PayloadError(f"date out of range (1900-2200): {_shown(value)}", field="est_delivery_date")
        return {"eta_date": day}
    moment = parse_datetime(value, "est_delivery_date")
    if moment is None:
        return {}
    at_utc = moment.astimezone(timezone.utc)  # the instant decides, however its offset is written
    if at_utc.time() == time(0):
        return {"eta_date": at_utc.date()}
    return {"est_delivery": moment}


def _transit_days(payload: Mapping[str, Any]) -> int | None:
    days = payload.get("delivery_days")
    if days is None:
        days = payload.get("est_delivery_days")
    if days is None:
        return None
    if type(days) is int or (type(days) is str and days.isascii() and days.strip().isdigit()):
        number = int(days)
        if 0 <= number <= MAX_TRANSIT_DAYS:
            return number
    raise PayloadError(f"not a number of days from 0 to {MAX_TRANSIT_DAYS}: {_shown(days)}", field="delivery_days")


@_refusing("rate")
def parse_rate(payload: Mapping[str, Any], carrier: str, shipment_id: str) -> Rate:
    """One EasyPost Rate; ``carrier`` is the fulfilhub instance name that quoted it."""
    payload = _object(payload, "rates[]", optional=False)
    return Rate(
        carrier=carrier,
        carrier_name=_require(payload, "carrier", "rate"),
        service=_require(payload, "service", "rate"),
        amount=_money(_present(payload, "rate", "rate"), payload.get("currency"), "rate", "currency"),
        rate_id=_require(payload, "id", "rate"),
        shipment_ref=_text(payload.get("shipment_id"), "shipment_id") or shipment_id,
        transit_days=_transit_days(payload),
        delivery_date=parse_datetime(payload.get("delivery_date"), "delivery_date"),
    )


@_refusing("shipment")
def parse_rates(shipment: Mapping[str, Any], carrier: str) -> list[Rate]:
    """Every rate of an EasyPost Shipment, in EasyPost's order."""
    shipment = _object(shipment, "shipment", optional=False)
    shipment_id = _require(shipment, "id", "shipment")
    rates = shipment.get("rates")
    if rates is None:
        return []
    if type(rates) is not list:
        raise PayloadError(f"expected a list of rates, got {type(rates).__name__} {_shown(rates)}", field="rates")
    return [parse_rate(rate, carrier, shipment_id) for rate in rates]


@_refusing("shipment")
def parse_label(shipment: Mapping[str, Any], carrier: str) -> Label:
    """The label of a purchased EasyPost Shipment.

    Raises PayloadError when the shipment has not been bought (no ``selected_rate`` or
    ``tracking_code``).
    """
    shipment = _object(shipment, "shipment", optional=False)
    shipment_id = _require(shipment, "id", "shipment")
    selected = shipment.get("selected_rate")
    if not selected or not shipment.get("tracking_code"):
        raise PayloadError(
            f"EasyPost shipment {shipment_id} has no purchased label "
            "(selected_rate or tracking_code is empty); buy a rate first",
            field="selected_rate",
        )
    selected = _object(selected, "selected_rate", optional=False)
    tracker = _object(shipment.get("tracker"), "tracker")
    postage_label = _object(shipment.get("postage_label"), "postage_label")
    return Label(
        carrier=carrier,
        carrier_name=_require(selected, "carrier", "selected_rate", "selected_rate.carrier"),
        service=_require(selected, "service", "selected_rate", "selected_rate.service"),
        tracking_code=_text(shipment["tracking_code"], "tracking_code"),
        cost=_money(
            _present(selected, "rate", "selected_rate", "selected_rate.rate"),
            selected.get("currency"),
            "selected_rate.rate",
            "selected_rate.currency",
        ),
        shipment_ref=shipment_id,
        tracker_ref=_text(tracker.get("id"), "tracker.id"),
        label_url=_text(postage_label.get("label_url"), "postage_label.label_url"),
        tracking_url=_text(tracker.get("public_url"), "tracker.public_url"),
        raw=shipment,
    )


def tracker_id(shipment: Mapping[str, Any]) -> str:
    """The id of an EasyPost Shipment's Tracker ("" when it has none yet)."""
    shipment = _object(shipment, "shipment", optional=False)
    return _text(_object(shipment.get("tracker"), "tracker").get("id"), "tracker.id")


def _location(location: Any) -> str:
    if not location:
        return ""
    if type(location) is not dict and not isinstance(location, Mapping):
        raise PayloadError(f"expected an object, got {_shown(location)}", field="tracking_details.tracking_location")
    get = location.get
    city, state, country = get("city"), get("state"), get("country")
    if type(city) is str and type(state) is str and type(country) is str and city and state and country:
        joined = f"{city}, {state}, {country}"  # the usual scan: skip the general join
    else:
        joined = ", ".join([part for part in (city, state, country) if part and type(part) is str])
    return joined if joined.isascii() else _text(joined, "tracking_details.tracking_location")


def _word(value: Any, field: str) -> str | None:
    """A status word: text, or None for anything that is not (it then carries no meaning)."""
    return _text(value, field) if type(value) is str else None


def parse_tracking_detail(detail: Mapping[str, Any]) -> TrackingEvent:
    """One EasyPost TrackingDetail (a scan) as a TrackingEvent."""
    if type(detail) is not dict and not isinstance(detail, Mapping):
        raise PayloadError(f"EasyPost tracking detail is not an object: {_shown(detail)}", field="tracking_details")
    get = detail.get
    when = get("datetime")
    if when is None or when == "":
        raise PayloadError("EasyPost tracking detail has no 'datetime'", field="datetime")
    if type(when) is str:  # the usual scan: an ISO-8601 string
        try:
            at = _fromisoformat(when)
        except ValueError:
            raise PayloadError(f"not an ISO-8601 time: {_shown(when)}", field="tracking_details.datetime") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        if not _SAFE_FIRST_YEAR <= at.year <= _SAFE_LAST_YEAR:  # the cheap test first; exact near the edges
            at = _in_range(at, when, "tracking_details.datetime")
    else:
        at = parse_datetime(when, "tracking_details.datetime")
    status_word = get("status") or "unknown"
    detail_word = get("status_detail")
    try:
        words = _SCAN_WORDS_GET((status_word, detail_word))
    except TypeError:  # not even a word: no meaning
        words = None
    if words is None:
        status_word = _word(status_word, "tracking_details.status") or "unknown"
        detail_word = _word(detail_word, "tracking_details.status_detail")
        words = (*_classify(status_word, detail_word), f"{status_word}/{detail_word}" if detail_word else status_word)
    description = get("message") or get("description") or ""
    if type(description) is not str or not description.isascii():
        description = _text(description, "tracking_details.message")
    return _event(
        at=at,
        status=words[0],
        description=description,
        location=_location(get("tracking_location")),
        reason=words[1],
        source=words[2],
    )


_event = TrackingEvent.checked


@_refusing("tracker")
def parse_tracker(tracker: Mapping[str, Any]) -> TrackingUpdate:
    """An EasyPost Tracker as a TrackingUpdate (status and reason from its current words).

    Every value is checked here, once (PayloadError naming the field); the models are
    then built with their ``checked`` constructors, which only assert the result.
    """
    tracker = _object(tracker, "tracker", optional=False)
    status_word = tracker.get("status")
    if status_word is None or status_word == "":
        raise PayloadError("EasyPost tracker has no 'status'", field="status")
    status, reason = classify(status_word, tracker.get("status_detail"))
    details = tracker.get("tracking_details") or ()
    if type(details) is not list and not isinstance(details, (list, tuple)):
        raise PayloadError(f"expected a list of scans, got {type(details).__name__}", field="tracking_details")
    return TrackingUpdate.checked(
        tracking_code=_require(tracker, "tracking_code", "tracker"),
        status=status,
        events=tuple([parse_tracking_detail(d) for d in details]),
        reason=reason,
        **parse_estimate(tracker.get("est_delivery_date")),
        tracking_url=_text(tracker.get("public_url"), "public_url"),
        raw=tracker,
    )
