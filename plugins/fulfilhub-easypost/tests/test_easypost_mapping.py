"""The pure mapping: golden EasyPost payloads in, exact fulfilhub values out."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import attrs
import pytest
from fulfilhub import ExceptionReason, Label, Money, PayloadError, Rate, TrackingEvent, TrackingStatus, TrackingUpdate

from fulfilhub_easypost import mapping

S = TrackingStatus
R = ExceptionReason

# What EasyPost documents for Tracker.status and Tracker.status_detail (API v2).
DOCUMENTED_STATUSES = {
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "cancelled",
    "error",
}
DOCUMENTED_STATUS_DETAILS = {
    "address_correction",
    "arrived_at_destination",
    "arrived_at_facility",
    "arrived_at_pickup_location",
    "awaiting_information",
    "cancelled",
    "damaged",
    "delayed",
    "delivery_exception",
    "departed_facility",
    "departed_origin_facility",
    "expired",
    "failure",
    "held",
    "in_transit",
    "label_created",
    "lost",
    "missorted",
    "out_for_delivery",
    "received_at_destination_facility",
    "received_at_origin_facility",
    "refused",
    "return",
    "status_update",
    "transferred_to_destination_carrier",
    "transit_exception",
    "unknown",
    "weather_delay",
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- tables


def test_every_documented_status_and_status_detail_is_in_the_tables():
    assert set(mapping.STATUSES) == DOCUMENTED_STATUSES
    assert set(mapping.STATUS_DETAILS) == DOCUMENTED_STATUS_DETAILS


def test_every_pair_maps_to_a_status_and_exceptions_always_carry_a_reason():
    for status in DOCUMENTED_STATUSES:
        for detail in [*DOCUMENTED_STATUS_DETAILS, None]:
            normalized, reason = mapping.classify(status, detail)
            assert isinstance(normalized, TrackingStatus), (status, detail)
            if normalized in (S.EXCEPTION, S.FAILED_ATTEMPT):
                assert reason is not None, (status, detail)


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("in_transit", "arrived_at_facility", (S.IN_TRANSIT, None)),
        ("in_transit", "weather_delay", (S.IN_TRANSIT, R.WEATHER)),  # still moving, but the delay shows
        ("in_transit", "delayed", (S.IN_TRANSIT, R.CARRIER_DELAY)),
        ("in_transit", "address_correction", (S.IN_TRANSIT, R.ADDRESS)),
        ("in_transit", "delivery_exception", (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT)),
        ("out_for_delivery", "refused", (S.EXCEPTION, R.REFUSED)),
        ("return_to_sender", "refused", (S.RETURN_TO_SENDER, R.REFUSED)),  # an outcome is never overridden
        ("in_transit", "lost", (S.EXCEPTION, R.LOST)),
        ("failure", "lost", (S.EXCEPTION, R.LOST)),
        ("in_transit", "damaged", (S.EXCEPTION, R.DAMAGED)),
        ("failure", "failure", (S.EXCEPTION, R.FAILED_ATTEMPT)),
        ("failure", "unknown", (S.EXCEPTION, R.OTHER)),
        ("in_transit", "arrived_at_pickup_location", (S.AVAILABLE_FOR_PICKUP, None)),
        ("delivered", "arrived_at_destination", (S.DELIVERED, None)),
        ("pre_transit", None, (S.PRE_TRANSIT, None)),
        ("error", "unknown", (S.UNKNOWN, None)),
        ("teleported", "beamed_up", (S.UNKNOWN, None)),  # words EasyPost adds later do not crash tracking
    ],
)
def test_classify(status, detail, expected):
    assert mapping.classify(status, detail) == expected


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("grams", "ounces"),
    [
        ("453.59237", "16.0"),  # one pound, exactly
        ("28.349523125", "1.0"),  # one ounce, exactly
        ("28.35", "1.1"),  # a hair over one ounce is declared as more, never less
        ("1200", "42.4"),  # 42.328... oz
        ("1", "0.1"),
    ],
)
def test_grams_to_ounces_rounds_up_to_a_tenth(grams, ounces):
    assert mapping.grams_to_ounces(Decimal(grams)) == Decimal(ounces)
    assert str(mapping.grams_to_ounces(Decimal(grams))) == ounces


@pytest.mark.parametrize(("cm", "inches"), [("2.54", "1.0"), ("20", "7.9"), ("14", "5.6"), ("10", "4.0")])
def test_cm_to_inches_rounds_up_to_a_tenth(cm, inches):
    assert str(mapping.cm_to_inches(Decimal(cm))) == inches


def test_shipment_body(shipment_request):
    assert mapping.shipment_body(shipment_request, carrier_accounts=["ca_1"]) == {
        "shipment": {
            "reference": "fh-shp-000123",
            "from_address": {
                "name": "Harbor Goods Warehouse",
                "company": "Harbor Goods",
                "street1": "388 Townsend St",
                "street2": "Apt 20",
                "city": "San Francisco",
                "state": "CA",
                "zip": "94107",
                "country": "US",
                "phone": "4155550100",
            },
            "to_address": {
                "name": "Elizabeth Swan",
                "street1": "179 N Harbor Dr",
                "city": "Redondo Beach",
                "state": "CA",
                "zip": "90277",
                "country": "US",
                "email": "liz@example.com",
            },
            "parcel": {"length": 7.9, "width": 5.6, "height": 4.0, "weight": 42.4},
            "options": {"label_format": "PDF"},
            "carrier_accounts": ["ca_1"],
        }
    }


# --------------------------------------------------------------------------- shipments


def test_rates_of_a_golden_shipment(payload):
    shipment_id = "shp_7f3a9c2e41d04b6a9e1c5d8b2a6f0e13"
    assert mapping.parse_rates(payload("shipment_rated"), "ep") == [
        Rate(
            carrier="ep",
            carrier_name="USPS",
            service="Priority",
            amount=Money(amount="9.85", currency="USD"),
            rate_id="rate_05676ca6d03141dd94a067b45335a41d",
            shipment_ref=shipment_id,
            transit_days=2,
            delivery_date=None,
        ),
        Rate(
            carrier="ep",
            carrier_name="USPS",
            service="GroundAdvantage",
            amount=Money(amount="6.07", currency="USD"),
            rate_id="rate_b936eae682e543b1a6550ea120e81a3e",
            shipment_ref=shipment_id,
            transit_days=4,
        ),
        Rate(
            carrier="ep",
            carrier_name="UPS",
            service="Ground",
            amount=Money(amount="11.32", currency="USD"),
            rate_id="rate_3d1f945a2d4043f1bcbc28b029dd7140",
            shipment_ref=shipment_id,
            transit_days=3,
            delivery_date=utc(2026, 1, 8, 23),
        ),
    ]


def test_a_rate_sent_as_a_json_number_keeps_its_decimal_digits(payload):
    rate = payload("shipment_rated")["rates"][0] | {"rate": 9.85}
    parsed = mapping.parse_rate(rate, "ep", "shp_1")
    assert parsed.amount.amount == Decimal("9.85")


def test_label_of_a_golden_bought_shipment(payload):
    bought = payload("shipment_bought")
    label = mapping.parse_label(bought, "ep")
    assert label == Label(
        carrier="ep",
        carrier_name="USPS",
        service="Priority",
        tracking_code="9405500110368066402017",
        cost=Money(amount="9.85", currency="USD"),
        shipment_ref="shp_7f3a9c2e41d04b6a9e1c5d8b2a6f0e13",
        tracker_ref="trk_1ddd9a69b5d0487ebfc3941639b11b18",
        label_url="https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/20260105/"
        "e8befd4ff12e134ac6a31282975b6e7251.pdf",
        tracking_url="https://track.easypost.com/djE6dHJrXzFkZGQ5YTY5YjVkMDQ4N2ViZmMzOTQxNjM5YjExYjE4",
    )
    assert label.raw == bought


def test_a_shipment_not_yet_bought_has_no_label(payload):
    with pytest.raises(PayloadError, match="shp_7f3a9c2e41d04b6a9e1c5d8b2a6f0e13 has no purchased label"):
        mapping.parse_label(payload("shipment_rated"), "ep")


# --------------------------------------------------------------------------- trackers


def test_golden_in_transit_tracker_maps_exactly(payload):
    tracker = payload("tracker_in_transit")
    assert mapping.parse_tracker(tracker) == TrackingUpdate(
        tracking_code="9405500110368066402017",
        status=S.IN_TRANSIT,
        reason=None,
        eta_date=date(2026, 1, 7),
        tracking_url="https://track.easypost.com/djE6dHJrXzFkZGQ5YTY5YjVkMDQ4N2ViZmMzOTQxNjM5YjExYjE4",
        events=(
            TrackingEvent(
                at=utc(2026, 1, 5, 8, 5, 11),
                status=S.PRE_TRANSIT,
                description="Pre-Shipment Info Sent to USPS, USPS Awaiting Item",
                location="",
                source="pre_transit",
            ),
            TrackingEvent(
                at=utc(2026, 1, 5, 17, 41),
                status=S.IN_TRANSIT,
                description="Accepted at USPS Origin Facility",
                location="SAN FRANCISCO, CA, US",
                source="in_transit/received_at_origin_facility",
            ),
            TrackingEvent(
                at=utc(2026, 1, 6, 3, 12),
                status=S.IN_TRANSIT,
                description="Arrived at USPS Regional Facility",
                location="LOS ANGELES CA DISTRIBUTION CENTER, CA, US",
                source="in_transit/arrived_at_facility",
            ),
        ),
    )


def test_weather_delay_keeps_the_parcel_in_transit_with_reason_weather(payload):
    update = mapping.parse_tracker(payload("tracker_weather_delay"))
    assert (update.status, update.reason) == (S.IN_TRANSIT, R.WEATHER)
    assert update.eta_date == date(2026, 1, 9)  # the ETA moved two days
    assert update.events[-1].reason is R.WEATHER
    assert update.events[-1].source == "in_transit/weather_delay"


def test_delivered_tracker(payload):
    update = mapping.parse_tracker(payload("tracker_delivered"))
    assert (update.status, update.reason) == (S.DELIVERED, None)
    assert update.events[-1].at == utc(2026, 1, 7, 19, 47)
    assert [e.status for e in update.events][-3:] == [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED]


def test_failed_delivery_attempt(payload):
    update = mapping.parse_tracker(payload("tracker_failed_attempt"))
    assert (update.status, update.reason) == (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT)
    assert update.events[-1].description == "Notice Left (No Authorized Recipient Available)"


def test_lost_parcel_is_an_exception_with_reason_lost(payload):
    update = mapping.parse_tracker(payload("tracker_lost"))
    assert (update.status, update.reason) == (S.EXCEPTION, R.LOST)
    assert update.est_delivery is None
    assert update.events[-1].location == "US"


def test_tracker_without_tracking_code_is_a_payload_error(payload):
    tracker = payload("tracker_in_transit") | {"tracking_code": None}
    with pytest.raises(PayloadError) as caught:
        mapping.parse_tracker(tracker)
    assert caught.value.field == "tracking_code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-08-02T19:26:52Z", utc(2024, 8, 2, 19, 26, 52)),
        ("2024-08-02T12:26:52-07:00", utc(2024, 8, 2, 19, 26, 52)),
        ("2024-08-02T19:26:52", utc(2024, 8, 2, 19, 26, 52)),  # no offset: EasyPost means UTC
        (None, None),
    ],
)
def test_parse_datetime_is_always_aware(text, expected):
    parsed = mapping.parse_datetime(text, "datetime")
    assert parsed == expected
    assert parsed is None or parsed.utcoffset() is not None


def test_parse_datetime_refuses_garbage():
    with pytest.raises(PayloadError, match="not an ISO 8601 time: 'next tuesday'"):
        mapping.parse_datetime("next tuesday", "est_delivery_date")


# --------------------------------------------------------------------------- malformed trackers


def _with_first_scan(tracker: dict, **changes) -> dict:
    tracker["tracking_details"][0] = {**tracker["tracking_details"][0], **changes}
    return tracker


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: _with_first_scan(t, datetime="next tuesday"), "tracking_details.datetime"),
        (lambda t: _with_first_scan(t, datetime=1767600000), "tracking_details.datetime"),
        (lambda t: _with_first_scan(t, datetime=None), "datetime"),
        (lambda t: _with_first_scan(t, tracking_location="SAN FRANCISCO"), "tracking_details.tracking_location"),
        (lambda t: t["tracking_details"].__setitem__(1, "a scan"), "tracking_details"),
        (lambda t: t.update(tracking_details={"0": {}}), "tracking_details"),
        (lambda t: t.update(est_delivery_date="soon"), "est_delivery_date"),
        (lambda t: t.update(status=None), "status"),
    ],
    ids=["datetime-words", "datetime-number", "no-datetime", "location-text", "scan-text", "details-object",
         "eta-words", "no-status"],
)
def test_malformed_trackers_are_payload_errors_naming_the_field(payload, change, field):
    tracker = payload("tracker_in_transit")
    change(tracker)
    with pytest.raises(PayloadError) as caught:
        mapping.parse_tracker(tracker)
    assert caught.value.field == field


def test_words_that_are_not_words_mean_unknown_rather_than_crash(payload):
    tracker = payload("tracker_in_transit")
    tracker["status"] = ["in_transit"]
    tracker["tracking_details"][0]["status_detail"] = {"weird": True}
    update = mapping.parse_tracker(tracker)
    assert update.status is S.UNKNOWN
    assert update.events[0].status is S.PRE_TRANSIT


def test_a_word_easypost_adds_later_is_unknown_and_kept_as_source(payload):
    tracker = _with_first_scan(payload("tracker_in_transit"), status="teleported", status_detail="beamed_up")
    event = mapping.parse_tracker(tracker).events[0]
    assert (event.status, event.reason, event.source) == (S.UNKNOWN, None, "teleported/beamed_up")


def test_the_precomputed_status_table_agrees_with_the_rules():
    for status in [*mapping.STATUSES, "teleported"]:
        for detail in [*mapping.STATUS_DETAILS, None, "", "beamed_up"]:
            assert mapping.classify(status, detail) == mapping._classify(status, detail), (status, detail)


@pytest.mark.parametrize("name", ["tracker_in_transit", "tracker_weather_delay", "tracker_delivered",
                                  "tracker_failed_attempt", "tracker_lost"])
def test_trackers_map_to_what_the_validating_constructors_build(payload, name):
    tracker = payload(name)
    update = mapping.parse_tracker(tracker)
    rebuilt = TrackingUpdate(
        tracking_code=update.tracking_code,
        status=str(update.status),
        events=[attrs.evolve(e, status=str(e.status)) for e in update.events],
        reason=update.reason,
        est_delivery=update.est_delivery,
        eta_date=update.eta_date,
        tracking_url=update.tracking_url,
        raw=tracker,
    )
    assert update == rebuilt
    assert hash(update) == hash(rebuilt)
    assert all(e.at.tzinfo is not None and type(e.status) is TrackingStatus for e in update.events)
    assert update.raw == tracker
    assert update.raw is not tracker
