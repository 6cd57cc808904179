"""Every Shopify mapping turns any input into a model or a PayloadError, never another exception.

Thousands of mutated copies of the golden payloads (``fulfilhub.testing.fuzz``) go
through each function that reads Shopify's JSON; a model that does come out is checked
for values the store could not keep.
"""

from __future__ import annotations

import json

import pytest
from fulfilhub import PayloadError
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_shopify import mapping, webhooks


@pytest.mark.parametrize("golden", ["order_two_lines", "order_cancelled", "order_malformed"])
def test_parse_order_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(
        lambda p: mapping.parse_order(p, channel="shop"),
        mutations(payload(golden), seed=6, count=1500),
        check=check_model,
    )
    if golden != "order_malformed":
        assert result.mapped > 100
        assert result.refused > 100  # the mutations reach both outcomes


def test_order_webhooks_map_or_refuse_every_mutation(payload):
    headers = {"X-Shopify-Topic": "orders/updated"}

    def parse(order):
        found = webhooks.order_payload(headers, json.dumps(order).encode("utf-8", "surrogatepass"))
        return mapping.parse_order(found, channel="shop")

    assert_maps_or_refuses(parse, mutations(payload("order_two_lines"), seed=7, count=1000), check=check_model)


def test_find_fulfillment_finds_or_refuses_every_mutation(payload):
    fulfillment = payload("fulfillment")["fulfillment"]
    code = fulfillment["tracking_number"]
    result = assert_maps_or_refuses(
        lambda fulfillments: mapping.find_fulfillment(fulfillments, code),
        mutations([fulfillment], seed=8, count=2000),
    )
    assert result.mapped > 100
    assert result.refused > 100


def test_fulfillment_orders_cover_or_refuse_every_mutation(payload):
    orders = payload("fulfillment_orders")["fulfillment_orders"]
    line = orders[0]["line_items"][0]
    wanted = [(str(line["line_item_id"]), 1)]
    result = assert_maps_or_refuses(
        lambda fulfillment_orders: mapping.line_items_by_fulfillment_order(wanted, fulfillment_orders),
        mutations(orders, seed=9, count=2000),
        refuse=(PayloadError, mapping.UnfulfillableShipment),
    )
    assert result.mapped > 100


@pytest.mark.parametrize(
    ("change", "field", "shown"),
    [
        (lambda o: o.update(currency="USD\n"), "currency", "'USD\\n'"),
        (lambda o: o["line_items"][0].update(quantity=1_000_001), "line_items[0].quantity", "1000001"),
        (lambda o: o["line_items"][0].update(price="NaN"), "line_items[0].price", "'NaN'"),
        (lambda o: o.update(total_price="1e999"), "total_price", "'1e999'"),
        (lambda o: o.update(total_price=str(2**70)), "total_price", str(2**70)),
        (lambda o: o.update(id=2**70), "id", str(2**70)),
        (lambda o: o.update(cancelled_at="9999-12-31T23:59:59-12:00"), "cancelled_at", "9999-12-31"),
        (lambda o: o.update(created_at="1899-12-31T23:59:59Z", processed_at=None), "created_at", "1899"),
        (lambda o: o.update(note="gift wrap \ud800"), "note", "\\ud800"),
        (lambda o: o["shipping_address"].update(country_code="US\n"), "shipping_address.country_code", "'US\\n'"),
        (lambda o: o["shipping_address"].update(city=["Brooklyn"]), "shipping_address.city", "['Brooklyn']"),
        (lambda o: o["line_items"][0].update(sku={"a": 1}), "line_items[0].sku", "{'a': 1}"),
    ],
    ids=["currency-newline", "quantity-huge", "price-nan", "total-inf", "total-huge", "id-huge",
         "cancelled-overflow", "placed-1899", "note-surrogate", "country-newline", "city-list", "sku-object"],
)
def test_bad_values_are_payload_errors_naming_field_and_value(payload, change, field, shown):
    order = payload("order_two_lines")
    change(order)
    with pytest.raises(PayloadError) as caught:
        mapping.parse_order(order, channel="shop")
    assert caught.value.field == field
    assert shown in str(caught.value)


# --------------------------------------------------------------------------- the adapter


def _channel_answering(bodies):
    """A ShopifyChannel whose answers come from ``bodies``: ``(method, path after the API version)`` -> JSON."""
    import httpx
    from fulfilhub import SimClock
    from fulfilhub.testing import instance_context

    from fulfilhub_shopify import ShopifyChannel
    from fulfilhub_shopify.channel import SETTINGS

    def answer(request):
        key = (request.method, request.url.path.removeprefix("/admin/api/2024-10"))
        if key not in bodies:
            return httpx.Response(404, json={"errors": "Not Found"})
        content = json.dumps(bodies[key]).encode("utf-8", "surrogatepass")  # NaN and all, as a broken server may
        return httpx.Response(201 if request.method == "POST" else 200, content=content,
                              headers={"Content-Type": "application/json"})

    context = instance_context(
        "acme", {"shop": "acme", "access_token": "shpat_0123456789abcdef"}, clock=SimClock(),
        schema=SETTINGS, transport=httpx.MockTransport(answer),
    )
    return ShopifyChannel(context)


ORDER_PATH = "/orders/5812345678901"
EVENTS_PATH = f"{ORDER_PATH}/fulfillments/5112345678901/events.json"


@pytest.mark.parametrize(
    "answer",
    [("GET", f"{ORDER_PATH}/fulfillments.json"), ("GET", f"{ORDER_PATH}/fulfillment_orders.json"),
     ("POST", "/fulfillments.json"), ("GET", EVENTS_PATH), ("POST", EVENTS_PATH)],
    ids=["fulfillments", "fulfillment-orders", "created", "events", "event-created"],
)
def test_the_adapter_turns_any_answer_into_a_result_or_a_fulfilhub_error(payload, answer):
    import attrs
    from fulfilhub import FulfilhubError, ShipmentLine, ShipmentPush, TrackingStatus

    order = mapping.parse_order(payload("order_two_lines"), channel="acme")
    ship = ShipmentPush(
        shipment_id="shp_1",
        lines=(ShipmentLine(sku="HOOD-FLC-M", quantity=1, order_line_id="14012345678901"),),
        tracking_code="1Z999AA10123456784", tracking_url="", carrier_name="UPS", service="Ground",
    )
    fulfillment = payload("fulfillment")["fulfillment"]
    golden = {
        ("GET", f"{ORDER_PATH}/fulfillments.json"): {"fulfillments": [fulfillment]},
        ("GET", f"{ORDER_PATH}/fulfillment_orders.json"): payload("fulfillment_orders"),
        ("POST", "/fulfillments.json"): payload("fulfillment"),
        ("GET", EVENTS_PATH): {"fulfillment_events": []},
        ("POST", EVENTS_PATH): {"fulfillment_event": payload("fulfillment_events")["fulfillment_events"][0]},
    }
    if answer != ("GET", f"{ORDER_PATH}/fulfillments.json"):
        golden[("GET", f"{ORDER_PATH}/fulfillments.json")] = {"fulfillments": []}  # so that the POST is reached
    tracking = answer[1] == EVENTS_PATH
    if tracking:
        golden[("GET", EVENTS_PATH)] = payload("fulfillment_events") if answer[0] == "GET" else {"fulfillment_events": []}

    def call(body):
        channel = _channel_answering({**golden, answer: body})
        try:
            if tracking:
                pushed = attrs.evolve(ship, fulfillment_ref="5112345678901")
                return channel.push_tracking(order, pushed, TrackingStatus.IN_TRANSIT, "k")
            return channel.push_fulfillment(order, ship, "k")
        finally:
            channel.close()

    assert call(golden[answer]) is None if tracking else call(golden[answer]) == "5112345678901"
    result = assert_maps_or_refuses(call, mutations(golden[answer], seed=11, count=250), refuse=(FulfilhubError,))
    assert result.mapped > 20
    assert result.refused > 20  # both outcomes reached


def test_webhook_delivery_reads_or_refuses_every_mutation():
    from fulfilhub_shopify import webhooks

    headers = {"X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Triggered-At": "2026-01-05T08:00:00.123Z", "X-Shopify-Hmac-Sha256": "abc="}
    result = assert_maps_or_refuses(webhooks.delivery, mutations(headers, seed=12, count=1500), check=check_model)
    assert result.mapped > 100
    assert result.refused > 20
