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

#: The API's tracking status words -> fulfilhub's status. Every word the API documents.
STATUSES: Mapping[str, TrackingStatus] = {
    "label_created": TrackingStatus.PRE_TRANSIT,
    "picked_up": TrackingStatus.IN_TRANSIT,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "ready_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "delivered": TrackingStatus.DELIVERED,
    "delivery_failed": TrackingStatus.FAILED_ATTEMPT,
    "exception": TrackingStatus.EXCEPTION,
    "returned": TrackingStatus.RETURN_TO_SENDER,
    "cancelled": TrackingStatus.CANCELLED,
}
#: Every status word the API documents (the conformance suite checks STATUSES covers them).
DOCUMENTED_STATUSES = tuple(STATUSES)  # replace with the list from the API's documentation
#: The API's exception reasons -> fulfilhub's.
REASONS: Mapping[str, ExceptionReason] = {
    "weather": ExceptionReason.WEATHER,
    "address": ExceptionReason.ADDRESS,
    "customs": ExceptionReason.CUSTOMS,
    "lost": ExceptionReason.LOST,
    "damaged": ExceptionReason.DAMAGED,
    "refused": ExceptionReason.REFUSED,
    "no_one_home": ExceptionReason.FAILED_ATTEMPT,
    "delayed": ExceptionReason.CARRIER_DELAY,
}
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


def rates_body(request: ShipmentRequest) -> dict[str, Any]:
    """The body of ``POST /v1/rates``: where from, where to, how heavy."""

    def place(address: Any) -> dict[str, str]:
        return {"country": address.country, "postal_code": address.postal_code, "city": address.city}

    return {"reference": request.reference, "from": place(request.ship_from), "to": place(request.ship_to),
            "weight_g": int(request.parcel.weight_g)}


# ------------------------------------------------------------------ answers


@_refusing("rates")
def parse_rates(payload: Any, *, carrier: str, shipment_ref: str) -> list[Rate]:
    """The answer to ``POST /v1/rates`` as Rates (``carrier`` is the instance name)."""
    rates = []
    for i, rate in enumerate(_list(_object(payload, "rates").get("rates"), "rates")):
        rate = _object(rate, f"rates[{i}]")
        rates.append(Rate(
            carrier=carrier, carrier_name="EasypostKit", service=_text(rate.get("service"), f"rates[{i}].service"),
            amount=_money(rate.get("amount"), rate.get("currency"), f"rates[{i}].amount"),
            rate_id=_text(rate.get("id"), f"rates[{i}].id"), shipment_ref=shipment_ref,
            transit_days=_days(rate.get("transit_days"), f"rates[{i}].transit_days"),
        ))
    return rates


@_refusing("label")
def parse_label(payload: Any, *, carrier: str, shipment_ref: str) -> Label:
    """The answer to ``POST /v1/labels`` as a Label."""
    label = _object(payload, "label")
    return Label(
        carrier=carrier, carrier_name="EasypostKit", service=_text(label.get("service"), "service"),
        tracking_code=_text(label.get("tracking_number"), "tracking_number"),
        cost=_money(label.get("amount"), label.get("currency"), "amount"), shipment_ref=shipment_ref,
        tracker_ref=_text(label.get("id"), "id"), label_url=_text(label.get("label_url"), "label_url", required=False),
        tracking_url=_text(label.get("tracking_url"), "tracking_url", required=False), raw=label,
    )


@_refusing("tracking")
def parse_tracking(payload: Any) -> TrackingUpdate:
    """The answer to ``GET /v1/labels/{id}/tracking`` (and a webhook's data) as a TrackingUpdate.

    A status word the table does not know is refused (PayloadError), not mapped to
    UNKNOWN: the payload waits in quarantine until the table learns the word.
    """
    tracking = _object(payload, "tracking")
    events = []
    for i, scan in enumerate(_list(tracking.get("events"), "events")):
        scan = _object(scan, f"events[{i}]")
        word = _text(scan.get("status"), f"events[{i}].status")
        if word not in STATUSES:
            raise PayloadError(f"unknown status {word[:40]!r}; known: {', '.join(STATUSES)}", field=f"events[{i}].status")
        status = STATUSES[word]
        reason_word = scan.get("reason")
        reason = REASONS.get(reason_word) if isinstance(reason_word, str) else None
        if reason is None and status in _TROUBLE:
            reason = ExceptionReason.FAILED_ATTEMPT if status is TrackingStatus.FAILED_ATTEMPT else ExceptionReason.OTHER
        events.append(TrackingEvent(
            at=_time(scan.get("at"), f"events[{i}].at"), status=status, reason=reason, source=word,
            description=_text(scan.get("message"), f"events[{i}].message", required=False),
            location=_text(scan.get("location"), f"events[{i}].location", required=False),
        ))
    events.sort(key=lambda event: event.at)
    last = events[-1] if events else None
    return TrackingUpdate(
        tracking_code=_text(tracking.get("tracking_number"), "tracking_number"),
        status=last.status if last else TrackingStatus.PRE_TRANSIT, events=events,
        reason=last.reason if last else None, est_delivery=_time(tracking.get("eta"), "eta", required=False),
        raw=tracking,
    )


@_refusing("webhook")
def parse_webhook(body: bytes) -> TrackingUpdate | None:
    """A verified webhook body: ``{"type": "tracking.updated", "data": {...}}``; None for other types."""
    import json

    event = _object(json.loads(body), "webhook")
    if event.get("type") != "tracking.updated":
        return None
    return parse_tracking(event.get("data"))
