"""Every EasyPost mapping turns any input into a model or a PayloadError, never another exception.

Thousands of mutated copies of the golden trackers, shipments and webhook events
(``fulfilhub.testing.fuzz``) go through each function that reads EasyPost's JSON; a
model that does come out is checked for values the store could not keep.
"""

from __future__ import annotations

import json

import pytest
from fulfilhub import PayloadError
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_easypost import mapping, webhooks

TRACKERS = ["tracker_delivered", "tracker_failed_attempt", "tracker_in_transit", "tracker_lost", "tracker_weather_delay"]


@pytest.mark.parametrize("golden", TRACKERS)
def test_parse_tracker_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(mapping.parse_tracker, mutations(payload(golden), seed=6, count=700), check=check_model)
    assert result.mapped > 100
    assert result.refused > 20  # the mutations reach both outcomes


def test_parse_rates_maps_or_refuses_every_mutation(payload):
    result = assert_maps_or_refuses(
        lambda shipment: mapping.parse_rates(shipment, "easypost"),
        mutations(payload("shipment_rated"), seed=7, count=2500),
        check=check_model,
    )
    assert result.mapped > 100
    assert result.refused > 100


@pytest.mark.parametrize("golden", ["shipment_bought", "shipment_rated"])
def test_parse_label_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(
        lambda shipment: mapping.parse_label(shipment, "easypost"),
        mutations(payload(golden), seed=8, count=1500),
        check=check_model,
    )
    if golden == "shipment_bought":
        assert result.mapped > 100
        assert result.refused > 20


def test_tracker_id_reads_or_refuses_every_mutation(payload):
    assert_maps_or_refuses(mapping.tracker_id, mutations(payload("shipment_bought"), seed=9, count=1000), check=check_model)


def test_webhook_events_map_or_refuse_every_mutation(payload):
    event = {"object": "Event", "id": "evt_1", "description": "tracker.updated", "result": payload("tracker_in_transit")}

    def parse(value):
        body = json.dumps(value).encode("utf-8", "surrogatepass")
        return mapping.parse_tracker(webhooks.tracker_from_event(body))

    result = assert_maps_or_refuses(parse, mutations(event, seed=10, count=1500), check=check_model)
    assert result.mapped > 100
    assert result.refused > 100


def _first_rate(shipment, **changes):
    shipment["rates"][0].update(changes)
    return shipment


def _first_scan(tracker, **changes):
    tracker["tracking_details"][0].update(changes)
    return tracker


@pytest.mark.parametrize(
    ("golden", "parse", "change", "field", "shown"),
    [
        ("shipment_rated", "rates", lambda s: _first_rate(s, rate="NaN"), "rate", "'NaN'"),
        ("shipment_rated", "rates", lambda s: _first_rate(s, rate=float("inf")), "rate", "inf"),
        ("shipment_rated", "rates", lambda s: _first_rate(s, currency="USD\n"), "currency", "'USD\\n'"),
        ("shipment_rated", "rates", lambda s: _first_rate(s, delivery_days=2**70), "delivery_days", str(2**70)),
        ("shipment_rated", "rates", lambda s: _first_rate(s, delivery_days=float("inf")), "delivery_days", "inf"),
        ("shipment_rated", "rates", lambda s: s["rates"].__setitem__(0, None), "rates[]", "None"),
        ("shipment_rated", "rates", lambda s: s.update(rates="rate_1"), "rates", "'rate_1'"),
        ("shipment_bought", "label", lambda s: s.update(tracker="trk_1"), "tracker", "'trk_1'"),
        ("shipment_bought", "label", lambda s: s.update(tracking_code=["9400"]), "tracking_code", "['9400']"),
        ("shipment_bought", "label", lambda s: s["selected_rate"].update(rate=str(2**70)), "selected_rate.rate", str(2**70)),
        ("tracker_in_transit", "tracker", lambda t: t.update(tracking_code=12), "tracking_code", "12"),
        ("tracker_in_transit", "tracker", lambda t: t.update(public_url=1.5), "public_url", "1.5"),
        ("tracker_in_transit", "tracker", lambda t: _first_scan(t, datetime="9999-12-31T23:59:59Z"),
         "tracking_details.datetime", "9999"),
        ("tracker_in_transit", "tracker", lambda t: _first_scan(t, message="Arrived \udfff"),
         "tracking_details.message", "\\udfff"),
        ("tracker_in_transit", "tracker", lambda t: t.update(est_delivery_date="0001-01-01T00:00:00+14:00"),
         "est_delivery_date", "0001"),
    ],
    ids=["rate-nan", "rate-inf", "currency-newline", "days-huge", "days-inf", "rate-null", "rates-text",
         "tracker-text", "code-list", "label-cost-huge", "code-number", "url-number", "scan-year-9999",
         "message-surrogate", "eta-underflow"],
)
def test_bad_values_are_payload_errors_naming_field_and_value(payload, golden, parse, change, field, shown):
    value = payload(golden)
    change(value)
    parsers = {
        "rates": lambda s: mapping.parse_rates(s, "easypost"),
        "label": lambda s: mapping.parse_label(s, "easypost"),
        "tracker": mapping.parse_tracker,
    }
    with pytest.raises(PayloadError) as caught:
        parsers[parse](value)
    assert caught.value.field == field
    assert shown in str(caught.value)


# --------------------------------------------------------------------------- the adapter


def _carrier_answering(bodies):
    """An EasyPostCarrier whose answers come from ``bodies``: ``(method, path)`` -> JSON (NaN and all)."""
    import httpx
    from fulfilhub.testing import instance_context

    from fulfilhub_easypost import EasyPostCarrier
    from fulfilhub_easypost.carrier import SETTINGS

    def answer(request):
        key = (request.method, request.url.path)
        if key not in bodies:
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "no such thing"}})
        content = json.dumps(bodies[key]).encode("utf-8", "surrogatepass")
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    context = instance_context(
        "ep", {"api_key": "EZTK_9f2c41d07a8e4b1f", "base_url": "https://api.easypost.test"},
        schema=SETTINGS, transport=httpx.MockTransport(answer),
    )
    return EasyPostCarrier(context)


SHIPMENT = "shp_7f3a9c2e41d04b6a9e1c5d8b2a6f0e13"


@pytest.mark.parametrize("call", ["quote", "buy", "track", "track-via-shipment", "void"])
def test_the_adapter_turns_any_answer_into_a_result_or_a_fulfilhub_error(payload, shipment_request, call):
    import attrs
    from fulfilhub import FulfilhubError

    bought = payload("shipment_bought")
    label = mapping.parse_label(bought, "ep")
    rate = mapping.parse_rates(payload("shipment_rated"), "ep")[0]
    tracker = payload("tracker_in_transit")
    answer, golden, action = {
        "quote": (("POST", "/v2/shipments"), payload("shipment_rated"), lambda c: c.quote(shipment_request)),
        "buy": (("POST", f"/v2/shipments/{rate.shipment_ref}/buy"), bought, lambda c: c.buy(rate, "k")),
        "track": (("GET", f"/v2/trackers/{label.tracker_ref}"), tracker, lambda c: c.track(label)),
        "track-via-shipment": (
            ("GET", f"/v2/shipments/{SHIPMENT}"), bought, lambda c: c.track(attrs.evolve(label, tracker_ref=""))
        ),
        "void": (("POST", f"/v2/shipments/{SHIPMENT}/refund"), bought | {"refund_status": "submitted"}, lambda c: c.void(label)),
    }[call]

    def run(body):
        bodies = {("GET", f"/v2/trackers/{label.tracker_ref}"): tracker, answer: body}
        carrier = _carrier_answering(bodies)
        try:
            return action(carrier)
        finally:
            carrier.close()

    run(golden)  # the golden answer works
    result = assert_maps_or_refuses(run, mutations(golden, seed=12, count=250), refuse=(FulfilhubError,))
    assert result.mapped > 20
    if call != "void":
        assert result.refused > 0  # broken answers were met (a bought shipment has many keys never read)


def test_webhook_delivery_reads_or_refuses_every_mutation(payload):
    event = {"object": "Event", "id": "evt_1", "description": "tracker.updated", "created_at": "2024-08-02T19:26:52.000Z",
             "updated_at": "2024-08-02T19:26:52.000Z", "result": payload("tracker_in_transit")}

    def read(value):
        return webhooks.delivery(json.dumps(value).encode("utf-8", "surrogatepass"))

    result = assert_maps_or_refuses(read, mutations(event, seed=11, count=1500), check=check_model)
    assert result.mapped > 100
    assert result.refused > 20
