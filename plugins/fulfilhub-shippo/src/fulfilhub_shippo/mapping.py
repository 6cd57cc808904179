"""Shippo JSON to and from fulfilhub's models: pure functions and data tables, no I/O.

Built from Shippo's API reference (version 2018-02-08): Shipment, Rate, Transaction,
Track and Refund objects. Every reader turns any JSON value into what it promises or a
PayloadError naming the field; a model's own ValueError or TypeError leaves as one too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fulfilhub import ExceptionReason as R, Label, PayloadError, Rate, ShipmentRequest, TrackingEvent
from fulfilhub import TrackingStatus as S, TrackingUpdate
from fulfilhub.sdk import by_meaning, parse_list, parse_money, parse_object, parse_text, parse_time, refusing

#: ``tracking_status.status`` -> fulfilhub's status: every value Shippo documents.
STATUSES: Mapping[str, S] = {"PRE_TRANSIT": S.PRE_TRANSIT, "TRANSIT": S.IN_TRANSIT, "DELIVERED": S.DELIVERED,
                             "RETURNED": S.RETURN_TO_SENDER, "FAILURE": S.EXCEPTION, "UNKNOWN": S.UNKNOWN}
#: ``tracking_status.substatus.code`` -> (status, reason): Shippo's event definitions, by
#: what they mean. A substatus refines its status; a code not here leaves the status's own
#: meaning, and ``other`` says nothing (the status decides).
SUBSTATUSES: Mapping[str, tuple[S, R | None]] = by_meaning({
    (S.PRE_TRANSIT, None): "information_received",
    (S.IN_TRANSIT, None): "delivery_rescheduled delivery_scheduled package_accepted package_arrived package_departed "
                          "package_forwarded package_processed package_processing package_in_local_area",
    (S.IN_TRANSIT, R.CARRIER_DELAY): "delayed",  # still moving, late: the delay engine's business
    (S.OUT_FOR_DELIVERY, None): "out_for_delivery",
    (S.AVAILABLE_FOR_PICKUP, None): "pickup_available",
    (S.DELIVERED, None): "delivered",
    (S.RETURN_TO_SENDER, None): "return_to_sender package_unclaimed",
    (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT): "delivery_attempted notice_left reschedule_delivery",
    (S.FAILED_ATTEMPT, R.ADDRESS): "location_inaccessible",
    (S.EXCEPTION, R.ADDRESS): "address_issue package_undeliverable",
    (S.EXCEPTION, R.OTHER): "contact_carrier package_held",
    (S.EXCEPTION, R.DAMAGED): "package_damaged",
    (S.EXCEPTION, R.LOST): "package_disposed package_lost",
    (S.UNKNOWN, None): "other",
})
#: A Transaction's ``status``: every value Shippo documents, and what the adapter does with it.
TRANSACTION_STATUSES: Mapping[str, str] = {
    "SUCCESS": "label", "QUEUED": "pending", "WAITING": "pending", "ERROR": "failed",
    "REFUNDED": "refunded", "REFUNDPENDING": "refunded", "REFUNDREJECTED": "label",
}
_TROUBLE = (S.EXCEPTION, S.FAILED_ATTEMPT)

# ------------------------------------------------------------------ readers


def _days(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        raise PayloadError(f"expected days from 0 to 365, got {str(value)[:40]!r}", field=field)
    return value


def messages(payload: Mapping[str, Any]) -> str:
    """A Shippo object's ``messages`` ([{source, code, text}]) as one line, for people."""
    out = []
    for message in parse_list(payload.get("messages"), "messages")[:10]:
        if isinstance(message, Mapping):
            parts = [str(message.get(k) or "")[:200] for k in ("source", "code", "text")]
            out.append(": ".join(part for part in parts if part))
    return "; ".join(out)


# ------------------------------------------------------------------ requests


def _address(address: Any) -> dict[str, str]:
    return {"name": address.name, "company": address.company, "street1": address.line1, "street2": address.line2,
            "city": address.city, "state": address.province, "zip": address.postal_code, "country": address.country,
            "phone": address.phone, "email": address.email}


def shipment_body(request: ShipmentRequest, carrier_accounts: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body of ``POST /shipments``: synchronous rating, our shipment id as metadata."""
    parcel = request.parcel
    body: dict[str, Any] = {
        "address_from": _address(request.ship_from), "address_to": _address(request.ship_to),
        "parcels": [{"length": str(parcel.length_cm), "width": str(parcel.width_cm), "height": str(parcel.height_cm),
                     "distance_unit": "cm", "weight": str(parcel.weight_g), "mass_unit": "g"}],
        "metadata": request.reference[:100], "async": False,
    }
    if carrier_accounts:
        body["carrier_accounts"] = list(carrier_accounts)
    return body


def transaction_body(rate: Rate, key: str, label_file_type: str) -> dict[str, Any]:
    """The body of ``POST /transactions``: buy ``rate``, the idempotency key stamped as metadata."""
    return {"rate": rate.rate_id, "label_file_type": label_file_type, "async": False, "metadata": key[:100]}


# ------------------------------------------------------------------ answers


@refusing("Shippo shipment")
def parse_rates(shipment: Any, carrier: str) -> list[Rate]:
    """A Shipment's ``rates`` as Rates (``carrier`` is the instance name); service = servicelevel token."""
    shipment = parse_object(shipment, "shipment")
    shipment_id = parse_text(shipment.get("object_id"), "object_id")
    rates = []
    for i, rate in enumerate(parse_list(shipment.get("rates"), "rates")):
        rate, at = parse_object(rate, f"rates[{i}]"), f"rates[{i}]"
        level = parse_object(rate.get("servicelevel"), f"{at}.servicelevel")
        rates.append(Rate(
            carrier=carrier, carrier_name=parse_text(rate.get("provider"), f"{at}.provider"),
            service=parse_text(level.get("token"), f"{at}.servicelevel.token"),
            amount=parse_money(rate.get("amount"), rate.get("currency"), field=f"{at}.amount",
                               currency_field=f"{at}.currency"),
            rate_id=parse_text(rate.get("object_id"), f"{at}.object_id"),
            shipment_ref=parse_text(rate.get("shipment"), f"{at}.shipment", required=False) or shipment_id,
            transit_days=_days(rate.get("estimated_days"), f"{at}.estimated_days"),
        ))
    return rates


def transaction_status(transaction: Any) -> str:
    """What a Transaction means: ``label``, ``pending``, ``failed`` or ``refunded``."""
    status = parse_object(transaction, "transaction").get("status")
    if not isinstance(status, str) or status not in TRANSACTION_STATUSES:
        raise PayloadError(f"unknown transaction status {str(status)[:40]!r}; known: {', '.join(TRANSACTION_STATUSES)}",
                           field="status")
    return TRANSACTION_STATUSES[status]


def bought_before(listing: Any, rate_id: str) -> Mapping[str, Any] | None:
    """From ``GET /transactions?rate=...``: the transaction that bought (or is buying) the
    rate's label, or None. An errored or refunded one does not count."""
    for i, transaction in enumerate(parse_list(parse_object(listing, "transactions").get("results"), "results")):
        rate = parse_object(transaction, f"results[{i}]").get("rate")  # an id, or an object in lists
        rate = rate.get("object_id") if isinstance(rate, Mapping) else rate
        if rate == rate_id and transaction_status(transaction) in ("label", "pending"):
            return transaction
    return None


@refusing("Shippo transaction")
def parse_label(transaction: Any, rate: Rate) -> Label:
    """A successful Transaction as the Label of ``rate`` (its cost is the rate's amount)."""
    transaction = parse_object(transaction, "transaction")
    if transaction_status(transaction) != "label" or transaction.get("object_state", "VALID") != "VALID":
        raise PayloadError(f"transaction {str(transaction.get('object_id'))[:40]} has no label "
                           f"(status {str(transaction.get('status'))[:20]}): {messages(transaction)}", field="status")
    return Label(
        carrier=rate.carrier, carrier_name=rate.carrier_name, service=rate.service,
        tracking_code=parse_text(transaction.get("tracking_number"), "tracking_number"), cost=rate.amount,
        shipment_ref=rate.shipment_ref, tracker_ref=parse_text(transaction.get("object_id"), "object_id"),
        label_url=parse_text(transaction.get("label_url"), "label_url", required=False),
        tracking_url=parse_text(transaction.get("tracking_url_provider"), "tracking_url_provider", required=False),
        raw=transaction,
    )


def tracking_carrier(provider: str) -> str:
    """The carrier token ``GET /tracks/{carrier}/...`` takes, from a rate's ``provider`` ("DHL Express" -> dhl_express)."""
    return "_".join(provider.lower().split())


def classify(status: Any, substatus: Any) -> tuple[S, R | None, str]:
    """(status, reason, source words) of a Shippo tracking status and its substatus code."""
    if not isinstance(status, str) or status not in STATUSES:
        raise PayloadError(f"unknown tracking status {str(status)[:40]!r}; known: {', '.join(STATUSES)}", field="status")
    code = substatus.get("code") if isinstance(substatus, Mapping) else None
    code = parse_text(code, "substatus.code", required=False)[:60] if isinstance(code, str) else None
    normalized, reason = SUBSTATUSES.get(code, (S.UNKNOWN, None)) if isinstance(code, str) else (S.UNKNOWN, None)
    if normalized is S.UNKNOWN:
        normalized = STATUSES[status]
    if normalized in _TROUBLE and reason is None:
        reason = R.FAILED_ATTEMPT if normalized is S.FAILED_ATTEMPT else R.OTHER
    return normalized, reason, f"{status}/{code}" if code else status


def _event(scan: Any, at: str) -> TrackingEvent:
    scan = parse_object(scan, at)
    status, reason, source = classify(scan.get("status"), scan.get("substatus"))
    when = parse_time(scan.get("status_date"), field=f"{at}.status_date", naive_is_utc=True)  # Shippo writes UTC
    place = scan.get("location")
    place = place if isinstance(place, Mapping) else {}
    where = ", ".join(p for p in (place.get(k) for k in ("city", "state", "zip", "country")) if isinstance(p, str) and p)
    return TrackingEvent(at=when, status=status, reason=reason, source=source,
                         location=parse_text(where, "location", required=False),
                         description=parse_text(scan.get("status_details"), f"{at}.status_details", required=False))


@refusing("Shippo track")
def parse_track(track: Any) -> TrackingUpdate:
    """A Track (``GET /tracks/{carrier}/{number}``, or a ``track_updated`` webhook's data)."""
    track = parse_object(track, "track")
    events = [_event(scan, f"tracking_history[{i}]") for i, scan in enumerate(parse_list(track.get("tracking_history"),
                                                                                        "tracking_history"))]
    events.sort(key=lambda event: event.at)
    current = track.get("tracking_status")  # an UNKNOWN one may have no status_date: only its words count
    status, reason, _ = classify(parse_object(current, "tracking_status").get("status"),
                                 current.get("substatus")) if current is not None else (S.UNKNOWN, None, "")
    return TrackingUpdate(
        tracking_code=parse_text(track.get("tracking_number"), "tracking_number"), status=status, reason=reason,
        events=events, est_delivery=parse_time(track["eta"], field="eta", naive_is_utc=True) if track.get("eta") else None, raw=track,
    )


@refusing("Shippo webhook")
def parse_webhook(body: bytes) -> TrackingUpdate | None:
    """A verified webhook: ``track_updated`` carries a Track; ``transaction_created`` /
    ``transaction_updated`` a Transaction, which is a label with no scan yet (None unless
    it succeeded); any other event is None."""
    event = parse_object(json.loads(body), "webhook")
    kind, data = event.get("event"), event.get("data")
    if kind == "track_updated":
        return parse_track(data)
    if kind in ("transaction_created", "transaction_updated"):
        transaction = parse_object(data, "data")
        if transaction_status(transaction) != "label":
            return None
        return TrackingUpdate(tracking_code=parse_text(transaction.get("tracking_number"), "data.tracking_number"),
                              status=S.PRE_TRANSIT, raw=transaction)
    return None
