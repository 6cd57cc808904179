"""The adapter's HTTP conversation with EasyPost, with httpx mocked by respx."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal

import attrs
import httpx
import pytest
import respx
from fulfilhub import (
    Carrier,
    ConfigError,
    ExceptionReason,
    Money,
    PermanentError,
    Rate,
    TrackingStatus,
    TransientError,
)
from fulfilhub.testing import instance_context

from fulfilhub_easypost import EasyPostCarrier, mapping
from fulfilhub_easypost.carrier import SETTINGS

API = "https://api.easypost.test"
KEY = "EZTK_9f2c41d07a8e4b1f"
SHIPMENT = "shp_7f3a9c2e41d04b6a9e1c5d8b2a6f0e13"
TRACKER = "trk_1ddd9a69b5d0487ebfc3941639b11b18"


def make_carrier(**settings: object) -> EasyPostCarrier:
    return EasyPostCarrier(instance_context("ep", {"api_key": KEY, "base_url": API, **settings}, secrets=[KEY], schema=SETTINGS))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def carrier() -> Iterator[EasyPostCarrier]:
    adapter = make_carrier()
    yield adapter
    adapter.close()


def test_it_is_a_fulfilhub_carrier(carrier):
    assert isinstance(carrier, Carrier)


# --------------------------------------------------------------------------- quote


def test_quote_creates_a_shipment_in_ounces_and_inches_and_maps_its_rates(api, carrier, payload, shipment_request):
    route = api.post("/v2/shipments").respond(201, json=payload("shipment_rated"))

    rates = carrier.quote(shipment_request)

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    sent = json.loads(request.content)["shipment"]
    assert sent["reference"] == "fh-shp-000123"
    assert sent["parcel"] == {"length": 7.9, "width": 5.6, "height": 4.0, "weight": 42.4}
    assert sent["to_address"]["zip"] == "90277"
    assert "carrier_accounts" not in sent
    assert [(r.carrier, r.carrier_name, r.service, r.amount, r.transit_days) for r in rates] == [
        ("ep", "USPS", "Priority", Money(amount="9.85", currency="USD"), 2),
        ("ep", "USPS", "GroundAdvantage", Money(amount="6.07", currency="USD"), 4),
        ("ep", "UPS", "Ground", Money(amount="11.32", currency="USD"), 3),
    ]
    assert {r.shipment_ref for r in rates} == {SHIPMENT}


def test_quote_limits_accounts_and_services(api, payload, shipment_request):
    route = api.post("/v2/shipments").respond(201, json=payload("shipment_rated"))
    carrier = make_carrier(carrier_accounts=["ca_b25657e9896e4d63ac8151ac346ac41e"], services=["GroundAdvantage"])

    rates = carrier.quote(shipment_request)

    assert json.loads(route.calls.last.request.content)["shipment"]["carrier_accounts"] == [
        "ca_b25657e9896e4d63ac8151ac346ac41e"
    ]
    assert [r.service for r in rates] == ["GroundAdvantage"]


def test_a_server_error_is_retried(api, carrier, payload, shipment_request):
    route = api.post("/v2/shipments")
    route.side_effect = [
        httpx.Response(500, json={"error": {"code": "INTERNAL_SERVER_ERROR", "message": "oops", "errors": []}}),
        httpx.Response(201, json=payload("shipment_rated")),
    ]

    rates = carrier.quote(shipment_request)

    assert route.call_count == 2
    assert len(rates) == 3


def test_a_rejected_api_key_is_a_permanent_error_that_does_not_show_the_key(api, carrier, shipment_request):
    route = api.post("/v2/shipments").respond(
        401,
        json={"error": {"code": "APIKEY.INACTIVE", "message": f"The API key {KEY} is not active.", "errors": []}},
    )

    with pytest.raises(PermanentError) as caught:
        carrier.quote(shipment_request)

    assert route.call_count == 1  # a 401 is not retried
    assert caught.value.status_code == 401
    assert "APIKEY.INACTIVE" in str(caught.value)
    assert KEY not in str(caught.value)


def test_a_200_that_is_not_json_is_transient(api, carrier, shipment_request):
    api.post("/v2/shipments").respond(200, text='{"shipment": {"id": "shp_')
    with pytest.raises(TransientError, match="not valid JSON .* it may have been cut off"):
        carrier.quote(shipment_request)


# --------------------------------------------------------------------------- buy


def _rate(payload) -> Rate:
    return mapping.parse_rates(payload("shipment_rated"), "ep")[0]


def test_buy_posts_the_rate_and_maps_the_label(api, carrier, payload):
    route = api.post(f"/v2/shipments/{SHIPMENT}/buy").respond(200, json=payload("shipment_bought"))

    label = carrier.buy(_rate(payload), "fh-shp-000123:label")

    assert json.loads(route.calls.last.request.content) == {"rate": {"id": "rate_05676ca6d03141dd94a067b45335a41d"}}
    assert (label.tracking_code, label.cost, label.tracker_ref) == (
        "9405500110368066402017",
        Money(amount=Decimal("9.85"), currency="USD"),
        TRACKER,
    )


def test_buying_twice_returns_the_first_label_without_a_second_purchase(api, carrier, payload):
    buy = api.post(f"/v2/shipments/{SHIPMENT}/buy")
    buy.side_effect = [
        httpx.Response(200, json=payload("shipment_bought")),
        httpx.Response(422, json=payload("error_postage_exists")),
    ]
    read_back = api.get(f"/v2/shipments/{SHIPMENT}").respond(200, json=payload("shipment_bought"))
    rate = _rate(payload)

    first = carrier.buy(rate, "fh-shp-000123:label")
    second = carrier.buy(rate, "fh-shp-000123:label")

    assert second == first
    assert second.label_url == first.label_url
    assert second.tracking_url == first.tracking_url
    assert buy.call_count == 2
    assert read_back.call_count == 1


def test_another_purchase_refusal_is_not_mistaken_for_success(api, carrier, payload):
    api.post(f"/v2/shipments/{SHIPMENT}/buy").respond(
        422, json={"error": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "Insufficient funds.", "errors": []}}
    )
    read_back = api.get(f"/v2/shipments/{SHIPMENT}")

    with pytest.raises(PermanentError, match="Insufficient funds"):
        carrier.buy(_rate(payload), "k")
    assert read_back.call_count == 0


def test_a_rate_of_another_carrier_instance_is_refused(carrier, payload):
    rate = mapping.parse_rates(payload("shipment_rated"), "other-easypost")[0]
    with pytest.raises(ValueError, match="quoted by carrier 'other-easypost', not by 'ep'"):
        carrier.buy(rate, "k")


# --------------------------------------------------------------------------- track, void


def test_track_reads_the_tracker(api, carrier, payload):
    api.get(f"/v2/trackers/{TRACKER}").respond(200, json=payload("tracker_weather_delay"))
    label = mapping.parse_label(payload("shipment_bought"), "ep")

    update = carrier.track(label)

    assert (update.status, update.reason) == (TrackingStatus.IN_TRANSIT, ExceptionReason.WEATHER)


def test_track_finds_the_tracker_through_the_shipment_when_the_label_lacks_it(api, carrier, payload):
    api.get(f"/v2/shipments/{SHIPMENT}").respond(200, json=payload("shipment_bought"))
    tracker = api.get(f"/v2/trackers/{TRACKER}").respond(200, json=payload("tracker_delivered"))
    label = mapping.parse_label(payload("shipment_bought"), "ep")

    update = carrier.track(attrs.evolve(label, tracker_ref=""))

    assert tracker.call_count == 1
    assert update.status is TrackingStatus.DELIVERED


def test_void_asks_for_a_refund(api, carrier, payload):
    refund = api.post(f"/v2/shipments/{SHIPMENT}/refund").respond(
        200, json=payload("shipment_bought") | {"refund_status": "submitted"}
    )
    carrier.void(mapping.parse_label(payload("shipment_bought"), "ep"))
    assert refund.call_count == 1


def test_a_rejected_refund_is_a_permanent_error(api, carrier, payload):
    api.post(f"/v2/shipments/{SHIPMENT}/refund").respond(
        200, json=payload("shipment_bought") | {"refund_status": "rejected"}
    )
    with pytest.raises(PermanentError, match="rejected the refund of label 9405500110368066402017"):
        carrier.void(mapping.parse_label(payload("shipment_bought"), "ep"))


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "missing required setting 'api_key'"),
        ({"api_key": "  "}, r"\[ep.api_key\] is empty"),
        ({"api_key": KEY, "services": "Priority"}, r"\[ep.services\] expected a list of strings, got 'Priority'"),
        ({"api_key": KEY, "carrier_accounts": [1]}, r"\[ep.carrier_accounts\] expected a list of strings, got \[1\]"),
        ({"api_key": KEY, "label_format": "gif"}, "expected one of 'PDF', 'PNG', 'ZPL', 'EPL2', got 'gif'"),
        ({"api_key": "EZTK one"}, r"\[ep.api_key\] contains whitespace inside"),
        ({"api_key": KEY, "label_fromat": "PNG"}, r"\[ep.label_fromat\] unknown setting .* did you mean 'label_format'"),
    ],
)
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        EasyPostCarrier(instance_context("ep", settings, schema=SETTINGS))
