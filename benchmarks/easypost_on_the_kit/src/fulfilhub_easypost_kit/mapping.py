"""EasypostKit JSON to and from fulfilhub's models: pure functions and data tables, no I/O.

Everything the adapter sends is built here and everything it receives is mapped here,
so the mapping is tested with golden payloads and no network. Every reader turns any
JSON value into what it promises or a PayloadError naming the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from fulfilhub import (
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
from fulfilhub.models import MAX_AMOUNT, in_range

T = TypeVar("T")

#: EasyPost ``Tracker.status`` -> normalized status (every value EasyPost documents).
STATUSES: Mapping[str, TrackingStatus] = {
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
}
DOCUMENTED_STATUSES = tuple(STATUSES)
#: The statuses that say nothing about the parcel, and why.
SAYS_NOTHING = {"unknown": "EasyPost's word for 'not reported yet'", "error": "EasyPost could not read the carrier"}
#: EasyPost ``status_detail`` -> (a sharper status while the parcel is on its way, a reason).
DETAILS: Mapping[str, tuple[TrackingStatus | None, ExceptionReason | None]] = {
    "arrived_at_pickup_location": (TrackingStatus.AVAILABLE_FOR_PICKUP, None),
    "cancelled": (TrackingStatus.CANCELLED, None),
    "return": (TrackingStatus.RETURN_TO_SENDER, None),
    "weather_delay": (None, ExceptionReason.WEATHER),
    "delayed": (None, ExceptionReason.CARRIER_DELAY),
    "missorted": (None, ExceptionReason.CARRIER_DELAY),
    "transit_exception": (None, ExceptionReason.CARRIER_DELAY),
    "address_correction": (None, ExceptionReason.ADDRESS),
    "awaiting_information": (None, ExceptionReason.OTHER),
    "held": (None, ExceptionReason.OTHER),
    "delivery_exception": (TrackingStatus.FAILED_ATTEMPT, ExceptionReason.FAILED_ATTEMPT),
    "failure": (TrackingStatus.EXCEPTION, ExceptionReason.FAILED_ATTEMPT),
    "refused": (TrackingStatus.EXCEPTION, ExceptionReason.REFUSED),
    "lost": (TrackingStatus.EXCEPTION, ExceptionReason.LOST),
    "damaged": (TrackingStatus.EXCEPTION, ExceptionReason.DAMAGED),
}
_OPEN = (TrackingStatus.UNKNOWN, TrackingStatus.PRE_TRANSIT, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY)
_TROUBLE = (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)

# ------------------------------------------------------------------ readers


def _refusing(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The mapping boundary: any wrong shape that slips past the readers leaves as a PayloadError."""

    def wrap(parse: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return parse(*args, **kwargs)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                raise PayloadError(f"EasypostKit {what} cannot be mapped: {exc!r}"[:300]) from None

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


def _text(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > 2000:
        raise PayloadError(f"expected text, got {str(value)[:40]!r}", field=field)
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError: refused
    return value


def _money(amount: Any, currency: Any, field: str) -> Money:
    if isinstance(amount, bool) or not isinstance(amount, (str, int)):
        raise PayloadError(f"expected a decimal amount, got {str(amount)[:40]!r}", field=field)
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise PayloadError(f"not a decimal amount: {str(amount)[:40]!r}", field=field) from None
    if not value.is_finite() or not 0 <= value < MAX_AMOUNT:
        raise PayloadError(f"not a usable amount: {str(amount)[:40]!r}", field=field)
    return Money(amount=value, currency=_text(currency, "currency"))


def _time(value: Any, field: str, *, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    moment = datetime.fromisoformat(_text(value, field))
    if moment.tzinfo is None or not in_range(moment):
        raise PayloadError(f"expected an aware time from 1900 to 2200, got {value!r}", field=field)
    return moment


def _days(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        raise PayloadError(f"expected days from 0 to 365, got {str(value)[:40]!r}", field=field)
    return value


# ------------------------------------------------------------------ requests


GRAMS_PER_OUNCE, CM_PER_INCH = Decimal("28.349523125"), Decimal("2.54")


def _up(value: Decimal) -> float:
    """One decimal, rounded up (never declare a parcel lighter or smaller than it is)."""
    return float(value.quantize(Decimal("0.1"), rounding="ROUND_CEILING"))


def shipment_body(request: ShipmentRequest) -> dict[str, Any]:
    """The body of ``POST /v2/shipments``: addresses, the parcel in ounces and inches."""

    def address(a: Any) -> dict[str, str]:
        fields = {"name": a.name, "company": a.company, "street1": a.line1, "street2": a.line2, "city": a.city,
                  "state": a.province, "zip": a.postal_code, "country": a.country, "phone": a.phone, "email": a.email}
        return {key: value for key, value in fields.items() if value}

    p = request.parcel
    return {"shipment": {"reference": request.reference, "to_address": address(request.ship_to),
                         "from_address": address(request.ship_from),
                         "parcel": {"length": _up(p.length_cm / CM_PER_INCH), "width": _up(p.width_cm / CM_PER_INCH),
                                    "height": _up(p.height_cm / CM_PER_INCH),
                                    "weight": _up(p.weight_g / GRAMS_PER_OUNCE)}}}


@_refusing("shipment")
def parse_rates(payload: Any, *, carrier: str) -> list[Rate]:
    """An EasyPost Shipment's rates (``carrier`` is the instance name)."""
    shipment = _object(payload, "shipment")
    shipment_id = _text(shipment.get("id"), "id")
    rates = []
    for i, rate in enumerate(_list(shipment.get("rates") or [], "rates")):
        rate = _object(rate, f"rates[{i}]")
        days = rate.get("delivery_days", rate.get("est_delivery_days"))
        rates.append(Rate(
            carrier=carrier, carrier_name=_text(rate.get("carrier"), f"rates[{i}].carrier"),
            service=_text(rate.get("service"), f"rates[{i}].service"),
            amount=_money(rate.get("rate"), rate.get("currency") or "USD", f"rates[{i}].rate"),
            rate_id=_text(rate.get("id"), f"rates[{i}].id"), shipment_ref=shipment_id,
            transit_days=_days(days, f"rates[{i}].delivery_days"),
            delivery_date=_time(rate.get("delivery_date"), f"rates[{i}].delivery_date", required=False),
        ))
    return rates


@_refusing("shipment")
def parse_label(payload: Any, *, carrier: str) -> Label:
    """The label of a bought EasyPost Shipment."""
    shipment = _object(payload, "shipment")
    selected = _object(shipment.get("selected_rate"), "selected_rate")
    tracker = _object(shipment.get("tracker") or {}, "tracker")
    return Label(
        carrier=carrier, carrier_name=_text(selected.get("carrier"), "selected_rate.carrier"),
        service=_text(selected.get("service"), "selected_rate.service"),
        tracking_code=_text(shipment.get("tracking_code"), "tracking_code"),
        cost=_money(selected.get("rate"), selected.get("currency") or "USD", "selected_rate.rate"),
        shipment_ref=_text(shipment.get("id"), "id"), tracker_ref=_text(tracker.get("id"), "tracker.id", required=False),
        label_url=_text(_object(shipment.get("postage_label") or {}, "postage_label").get("label_url"),
                        "postage_label.label_url", required=False),
        tracking_url=_text(tracker.get("public_url"), "tracker.public_url", required=False), raw=shipment,
    )


def _classify(status: Any, detail: Any) -> tuple[TrackingStatus, ExceptionReason | None, str]:
    word = _text(status, "status")
    if word not in STATUSES:
        raise PayloadError(f"unknown status {word[:40]!r}; known: {', '.join(STATUSES)}", field="status")
    detail = _text(detail, "status_detail") if isinstance(detail, str) and detail else None
    sharper, reason = DETAILS.get(detail, (None, None)) if detail else (None, None)
    base = STATUSES[word]
    final = sharper if sharper is not None and base in _OPEN else base
    if reason is None and final in _TROUBLE:
        reason = ExceptionReason.FAILED_ATTEMPT if final is TrackingStatus.FAILED_ATTEMPT else ExceptionReason.OTHER
    return final, reason, f"{word}/{detail}" if detail else word


@_refusing("tracker")
def parse_tracking(payload: Any) -> TrackingUpdate:
    """An EasyPost Tracker as a TrackingUpdate."""
    tracker = _object(payload, "tracker")
    events = []
    for i, scan in enumerate(_list(tracker.get("tracking_details") or [], "tracking_details")):
        scan = _object(scan, f"tracking_details[{i}]")
        status, reason, source = _classify(scan.get("status"), scan.get("status_detail"))
        where = _object(scan.get("tracking_location") or {}, f"tracking_details[{i}].tracking_location")
        location = ", ".join(part for part in (where.get("city"), where.get("state"), where.get("country"))
                             if isinstance(part, str) and part)
        events.append(TrackingEvent(at=_time(scan.get("datetime"), f"tracking_details[{i}].datetime"), status=status,
                                    reason=reason, source=source, location=_text(location, "location", required=False),
                                    description=_text(scan.get("message"), f"tracking_details[{i}].message",
                                                      required=False)))
    status, reason, _ = _classify(tracker.get("status"), tracker.get("status_detail"))
    return TrackingUpdate(
        tracking_code=_text(tracker.get("tracking_code"), "tracking_code"), status=status, events=events,
        reason=reason, est_delivery=_time(tracker.get("est_delivery_date"), "est_delivery_date", required=False),
        tracking_url=_text(tracker.get("public_url"), "public_url", required=False), raw=tracker,
    )


@_refusing("webhook")
def parse_webhook(body: bytes) -> TrackingUpdate | None:
    """A verified EasyPost Event: the Tracker of a ``tracker.*`` event; None for other events."""
    import json

    event = _object(json.loads(body), "event")
    description = event.get("description")
    if not isinstance(description, str) or not description.startswith("tracker."):
        return None
    return parse_tracking(event.get("result"))
