"""The pure mapping, with golden payloads in Shippo's shape (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from fulfilhub import ExceptionReason, Money, PayloadError, Rate, TrackingStatus

from fulfilhub_shippo import mapping


def _rate(**changes) -> Rate:
    values = dict(carrier="shippo", carrier_name="USPS", service="usps_priority", amount=Money(amount="7.87", currency="USD"),
                  rate_id="adcfdddf8ec64b84ad22772bce3ea37a", shipment_ref="5e40ead7cffe4cc1ad45108696162e42", transit_days=2)
    return Rate(**{**values, **changes})


def test_a_shipment_body_sends_centimetres_grams_and_our_reference(shipment_request):
    body = mapping.shipment_body(shipment_request, ("078870331023437cb917f5187429b093",))
    assert body["parcels"] == [{"length": "20", "width": "14", "height": "10", "distance_unit": "cm",
                                "weight": "1200", "mass_unit": "g"}]
    assert body["address_to"]["street1"] == "965 Mission St"
    assert body["address_to"]["street2"] == "Ste 480"
    assert body["address_from"]["zip"] == "94117"
    assert body["address_from"]["state"] == "CA"
    assert body["metadata"] == "fh-shp-000123"
    assert body["async"] is False
    assert body["carrier_accounts"] == ["078870331023437cb917f5187429b093"]
    assert "carrier_accounts" not in mapping.shipment_body(shipment_request)


def test_rates_map_provider_servicelevel_token_amount_and_estimated_days(payload):
    rates = mapping.parse_rates(payload("shipment_rates"), "shippo")
    assert [(r.carrier_name, r.service, r.amount, r.transit_days) for r in rates] == [
        ("USPS", "usps_priority", Money(amount=Decimal("7.87"), currency="USD"), 2),
        ("USPS", "usps_ground_advantage", Money(amount=Decimal("5.63"), currency="USD"), 4),
        ("UPS", "ups_ground", Money(amount=Decimal("11.20"), currency="USD"), 3),
    ]
    assert {r.carrier for r in rates} == {"shippo"}
    assert rates[0].rate_id == "adcfdddf8ec64b84ad22772bce3ea37a"
    assert {r.shipment_ref for r in rates} == {"5e40ead7cffe4cc1ad45108696162e42"}


def test_a_shipment_without_rates_has_none_and_its_messages_say_why(payload):
    shipment = {**payload("shipment_rates"), "rates": []}
    assert mapping.parse_rates(shipment, "shippo") == []
    assert mapping.messages(shipment) == "FedEx: FedEx cannot be used with your account: no FedEx account connected."


@pytest.mark.parametrize(("field", "value"), [("amount", "NaN"), ("amount", 7.87), ("estimated_days", -1),
                                              ("estimated_days", True), ("provider", ""), ("object_id", None)])
def test_a_bad_rate_field_is_refused_naming_it(payload, field, value):
    shipment = payload("shipment_rates")
    shipment["rates"][1][field] = value
    with pytest.raises(PayloadError) as info:
        mapping.parse_rates(shipment, "shippo")
    assert info.value.field == f"rates[1].{field}"


def test_a_successful_transaction_is_the_label_of_its_rate(payload):
    label = mapping.parse_label(payload("transaction_success"), _rate())
    assert label.tracking_code == "9205590164917312751089"
    assert label.tracker_ref == "915d94940ea54c3a80cbfa328722f5a1"  # the transaction, for refunds
    assert label.cost == Money(amount="7.87", currency="USD")
    assert label.carrier_name == "USPS"
    assert label.label_url.startswith("https://shippo-delivery.s3.amazonaws.com/")
    assert label.tracking_url.startswith("https://tools.usps.com/")


def test_transaction_statuses_are_a_table_and_an_unknown_one_is_refused(payload):
    assert mapping.transaction_status(payload("transaction_success")) == "label"
    assert mapping.transaction_status(payload("transaction_queued")) == "pending"
    assert mapping.transaction_status(payload("transaction_error")) == "failed"
    assert set(mapping.TRANSACTION_STATUSES) == {"WAITING", "QUEUED", "SUCCESS", "ERROR", "REFUNDED", "REFUNDPENDING",
                                                 "REFUNDREJECTED"}
    with pytest.raises(PayloadError) as info:
        mapping.transaction_status({**payload("transaction_success"), "status": "PRINTED"})
    assert info.value.field == "status"


def test_an_errored_transaction_is_no_label_and_says_shippos_messages(payload):
    with pytest.raises(PayloadError, match="The address as submitted could not be found"):
        mapping.parse_label(payload("transaction_error"), _rate())
    assert mapping.messages(payload("transaction_error")).startswith("USPS: The address as submitted")


def test_bought_before_finds_the_live_transaction_of_the_rate_not_a_refunded_one(payload):
    listing = payload("transactions_list")
    found = mapping.bought_before(listing, "adcfdddf8ec64b84ad22772bce3ea37a")
    assert found is not None
    assert found["status"] == "SUCCESS"
    assert mapping.bought_before(listing, "another-rate") is None
    assert mapping.bought_before({"next": None, "previous": None, "results": []}, "x") is None


def test_a_track_in_transit_maps_every_scan_with_its_substatus(payload):
    update = mapping.parse_track(payload("track_transit"))
    assert update.tracking_code == "9205590164917312751089"
    assert update.status is TrackingStatus.IN_TRANSIT
    assert update.reason is None
    assert [e.source for e in update.events] == ["PRE_TRANSIT/information_received", "TRANSIT/package_accepted",
                                                 "TRANSIT/package_departed"]
    assert [e.status for e in update.events] == [TrackingStatus.PRE_TRANSIT, TrackingStatus.IN_TRANSIT,
                                                 TrackingStatus.IN_TRANSIT]
    assert update.events[-1].location == "Oakland, CA, 94615, US"
    assert update.events[-1].description == "Departed USPS Regional Facility"
    assert update.events[0].at == datetime(2024, 5, 14, 17, 20, tzinfo=timezone.utc)
    assert update.est_delivery == datetime(2024, 5, 16, tzinfo=timezone.utc)


@pytest.mark.parametrize(("golden", "status", "reason"), [
    ("track_delivered", TrackingStatus.DELIVERED, None),
    ("track_address_issue", TrackingStatus.EXCEPTION, ExceptionReason.ADDRESS),
    ("track_lost", TrackingStatus.EXCEPTION, ExceptionReason.LOST),
    ("track_failed_attempt", TrackingStatus.FAILED_ATTEMPT, ExceptionReason.FAILED_ATTEMPT),
])
def test_a_track_takes_its_status_and_reason_from_the_substatus(payload, golden, status, reason):
    update = mapping.parse_track(payload(golden))
    assert (update.status, update.reason) == (status, reason)


def test_a_track_shippo_knows_nothing_of_yet_is_unknown_with_no_scans(payload):
    update = mapping.parse_track(payload("track_unknown"))
    assert update.status is TrackingStatus.UNKNOWN
    assert update.events == ()
    undated = {"status": "UNKNOWN", "status_details": "", "status_date": None, "substatus": None, "location": None}
    update = mapping.parse_track({**payload("track_unknown"), "tracking_status": undated})
    assert update.status is TrackingStatus.UNKNOWN
    assert update.events == ()


@pytest.mark.parametrize(("status", "code", "expected"), [
    ("TRANSIT", "delayed", (TrackingStatus.IN_TRANSIT, ExceptionReason.CARRIER_DELAY, "TRANSIT/delayed")),
    ("TRANSIT", "package_damaged", (TrackingStatus.EXCEPTION, ExceptionReason.DAMAGED, "TRANSIT/package_damaged")),
    ("TRANSIT", "pickup_available", (TrackingStatus.AVAILABLE_FOR_PICKUP, None, "TRANSIT/pickup_available")),
    ("RETURNED", "return_to_sender", (TrackingStatus.RETURN_TO_SENDER, None, "RETURNED/return_to_sender")),
    ("FAILURE", None, (TrackingStatus.EXCEPTION, ExceptionReason.OTHER, "FAILURE")),
    ("FAILURE", "other", (TrackingStatus.EXCEPTION, ExceptionReason.OTHER, "FAILURE/other")),
    ("TRANSIT", "a_code_shippo_adds_later", (TrackingStatus.IN_TRANSIT, None, "TRANSIT/a_code_shippo_adds_later")),
    ("DELIVERED", "delivered", (TrackingStatus.DELIVERED, None, "DELIVERED/delivered")),
])
def test_classify(status, code, expected):
    assert mapping.classify(status, {"code": code, "text": "", "action_required": False} if code else None) == expected


def test_every_exception_or_failed_attempt_in_the_tables_has_a_reason():
    for status in mapping.STATUSES:
        for code in (None, *mapping.SUBSTATUSES):
            normalized, reason, _ = mapping.classify(status, {"code": code} if code else None)
            if normalized in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT):
                assert reason is not None, (status, code)


def test_an_unknown_tracking_status_is_refused_naming_the_field(payload):
    track = payload("track_transit")
    track["tracking_history"][1]["status"] = "TELEPORTED"
    with pytest.raises(PayloadError) as info:
        mapping.parse_track(track)
    assert info.value.field == "status"
    assert "TELEPORTED" in str(info.value)


def test_webhooks_track_updated_maps_the_track_and_transaction_created_is_a_label(payload):
    update = mapping.parse_webhook(json.dumps(payload("webhook_track_updated")).encode())
    assert update.status is TrackingStatus.DELIVERED
    assert len(update.events) == 5
    created = mapping.parse_webhook(json.dumps(payload("webhook_transaction_created")).encode())
    assert created.tracking_code == "9205590164917312751089"
    assert created.status is TrackingStatus.PRE_TRANSIT
    failed = {**payload("webhook_transaction_created"), "data": payload("transaction_error")}
    assert mapping.parse_webhook(json.dumps(failed).encode()) is None
    assert mapping.parse_webhook(b'{"event": "batch_purchased", "data": {}}') is None
    with pytest.raises(PayloadError):
        mapping.parse_webhook(b"not json")


def test_tracking_carrier_tokens():
    assert [mapping.tracking_carrier(p) for p in ("USPS", "UPS", "DHL Express", "Canada Post")] == [
        "usps", "ups", "dhl_express", "canada_post"]
