"""The pure mapping and webhooks, with golden payloads in the shape of WooCommerce REST API v3 (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from fulfilhub import CompensationKind, CompensationProposal, Money, PayloadError, ShipmentLine, ShipmentPush, \
    TrackingStatus
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_woocommerce import mapping, webhooks

PAYLOADS = Path(__file__).parent / "payloads"


def golden(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_a_paid_order_maps_with_gmt_times_twd_amounts_and_line_meta():
    order = mapping.parse_order(golden("order_processing.json"), channel="tw-shop")
    assert order.id == "tw-shop:727"
    assert order.number == "#727"
    assert order.placed_at == datetime(2026, 3, 22, 8, 28, 2, tzinfo=timezone.utc)  # date_created_gmt, not local
    assert order.updated_at == datetime(2026, 3, 22, 8, 30, 11, tzinfo=timezone.utc)
    assert order.total == Money(amount=Decimal("1650.00"), currency="TWD")
    assert [(line.sku, line.quantity, line.unit_price.amount, line.external_id) for line in order.lines] == [
        ("TEA-OOL-100", 2, Decimal("450"), "315"), ("CUP-CER-2P", 1, Decimal("650"), "316")]
    assert order.lines[1].title == "Ceramic Tea Cups (2) (Glaze: Celadon)"  # hidden _reduced_stock left out
    assert order.ship_to is not None
    assert order.ship_to.country == "TW"
    assert order.ship_to.city == "台北市"
    assert order.ship_to.phone == "0912345678"  # shipping.phone empty: billing's
    assert order.email == "meiling.chen@example.com"
    assert order.cancelled_at is None


def test_a_cancelled_virtual_order_is_cancelled_and_has_no_address():
    order = mapping.parse_order(golden("order_cancelled_virtual.json"), channel="tw-shop")
    assert order.cancelled_at == datetime(2026, 3, 23, 1, 0, tzinfo=timezone.utc)
    assert order.ship_to is None


def test_every_documented_status_has_an_intake_and_an_undocumented_one_is_refused():
    documented = {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "checkout-draft", "trash"}
    assert set(mapping.ORDER_STATUSES) == documented
    assert {s for s, i in mapping.ORDER_STATUSES.items() if i is mapping.Intake.FULFIL} == {"processing", "completed"}
    with pytest.raises(PayloadError) as info:
        mapping.parse_order({**golden("order_processing.json"), "status": "shipped"}, channel="x")
    assert info.value.field == "status"


def test_our_own_completion_and_meta_do_not_make_a_new_version_but_an_edit_does():
    first = mapping.parse_order(golden("order_processing.json"), channel="s")
    echoed = golden("order_processing.json")
    echoed.update(status="completed", date_modified_gmt="2026-03-23T02:00:00",
                  meta_data=[{"id": 1, "key": "_fulfilhub_shipment:s:727/1", "value": {"lines": {"315": 2}}}])
    assert mapping.parse_order(echoed, channel="s").version == first.version
    edited = golden("order_processing.json")
    edited["shipping"]["address_2"] = "6 樓"
    assert mapping.parse_order(edited, channel="s").version != first.version


def test_a_broken_line_names_the_field():
    payload = golden("order_processing.json")
    payload["line_items"][1]["quantity"] = 0
    with pytest.raises(PayloadError) as info:
        mapping.parse_order(payload, channel="s")
    assert info.value.field == "line_items[1].quantity"


@pytest.mark.parametrize("name", ["order_processing.json", "order_cancelled_virtual.json"])
def test_the_order_mapping_maps_or_refuses_every_mutation(name):
    assert_maps_or_refuses(lambda p: mapping.parse_order(p, channel="s"), mutations(golden(name), seed=3, count=600),
                           check=check_model)


PUSH = ShipmentPush(shipment_id="s:727/1", lines=(ShipmentLine(sku="TEA-OOL-100", quantity=2, order_line_id="315"),),
                    tracking_code="TW123456789", tracking_url="https://track.example/TW123456789",
                    carrier_name="T-CAT", service="Home")


def test_shipment_meta_adds_up_to_a_fully_shipped_order():
    order = mapping.parse_order(golden("order_processing.json"), channel="s")
    first = mapping.shipment_meta(PUSH, mapping.shipment_quantities(PUSH, order.lines), "901")
    payload = {**golden("order_processing.json"), "meta_data": [first]}
    refs, shipped = mapping.shipped_quantities(payload)
    assert refs == {"s:727/1": "901"}
    assert not mapping.fully_shipped(order.lines, shipped)
    by_sku = ShipmentPush(shipment_id="s:727/2", lines=(ShipmentLine(sku="CUP-CER-2P", quantity=1),),
                          tracking_code="TW2", tracking_url="", carrier_name="T-CAT", service="")
    _, shipped = mapping.shipped_quantities({"meta_data": [first, mapping.shipment_meta(by_sku, mapping.shipment_quantities(by_sku, order.lines), "902")]})
    assert mapping.fully_shipped(order.lines, shipped)
    ambiguous = attrs.evolve(by_sku, lines=(ShipmentLine(sku="NOT-SOLD", quantity=1),))
    with pytest.raises(ValueError, match="NOT-SOLD"):
        mapping.shipment_quantities(ambiguous, order.lines)


def test_notes_carry_the_reference_they_are_found_by():
    ref = mapping.reference("channel.push_fulfillment:s:727/1")
    text = mapping.shipment_note(PUSH, ref)
    assert "TW123456789" in text
    assert "https://track.example/TW123456789" in text
    assert "T-CAT Home" in text
    notes = [{"id": 1, "note": "Order status changed from Pending payment to Processing."}, {"id": 2, "note": text}]
    assert mapping.find_note(notes, ref)["id"] == 2
    assert mapping.find_note(notes, mapping.reference("another key")) is None
    assert mapping.milestone_note(PUSH, TrackingStatus.UNKNOWN, ref) is None
    assert "out for delivery" in mapping.milestone_note(PUSH, TrackingStatus.OUT_FOR_DELIVERY, ref)


def test_a_coupon_is_for_the_buyer_once_and_stamped_with_the_key():
    order = mapping.parse_order(golden("order_processing.json"), channel="s")
    grant = CompensationProposal(kind=CompensationKind.DISCOUNT, value=Money(amount=Decimal("82.5"), currency="TWD"), tier="late-3d")
    body = mapping.coupon_body(order, grant, "comp:s:727:late")
    assert body["code"] == mapping.coupon_code("comp:s:727:late")
    assert body["amount"] == "82.50"
    assert body["discount_type"] == "fixed_cart"
    assert body["usage_limit"] == 1
    assert body["email_restrictions"] == ["meiling.chen@example.com"]
    assert {"key": "_fulfilhub_key", "value": "comp:s:727:late"} in body["meta_data"]
    upgrade = CompensationProposal(kind=CompensationKind.FREE_UPGRADE, value=Money(amount=Decimal("0"), currency="TWD"), tier="late-3d")
    assert mapping.coupon_body(order, upgrade, "k")["free_shipping"] is True
    found = mapping.find_coupon([{"id": 9, "code": body["code"].lower()}], "comp:s:727:late")
    assert found is not None
    assert found["id"] == 9


def test_a_webhook_is_verified_on_its_raw_body_and_parsed_by_topic():
    body = (PAYLOADS / "order_processing.json").read_bytes()
    signature = webhooks.sign(body, "s3cret")
    assert webhooks.verify_signature(body, "s3cret", signature)
    assert not webhooks.verify_signature(body + b" ", "s3cret", signature)
    assert not webhooks.verify_signature(body, "", signature)
    assert not webhooks.verify_signature(body, "s3cret", None)
    headers = {"x-wc-webhook-topic": "order.updated", "X-WC-Webhook-Delivery-ID": "8812"}
    assert webhooks.order_payload(headers, body)["id"] == 727
    assert webhooks.order_payload({**headers, "x-wc-webhook-topic": "order.deleted"}, b'{"id": 727}') is None
    assert webhooks.order_payload({}, b"webhook_id=15") is None  # the ping when a webhook is saved
    assert webhooks.delivery(headers).id == "8812"
    with pytest.raises(PayloadError):
        webhooks.delivery({})


def _to_a_store(payload: dict) -> dict:
    """The golden order as ECPay's WooCommerce plugin (Wooecpay) leaves it once the customer chose a
    7-ELEVEN on ECPay's map: its shipping method, the store's address as address_1, the store in meta."""
    payload = json.loads(json.dumps(payload))
    payload["shipping"].update(company="", address_1="高雄市苓雅區四維三路6號", address_2="", city="", state="",
                               postcode="", country="TW")
    payload["shipping_lines"][0].update(method_id="Wooecpay_Logistic_CVS_711", method_title="7-ELEVEN超商取貨")
    payload["meta_data"] = [*payload.get("meta_data", []),
                            {"id": 901, "key": "_ecpay_logistic_cvs_store_id", "value": "131386"},
                            {"id": 902, "key": "_ecpay_logistic_cvs_store_name", "value": "高雄四維店"},
                            {"id": 903, "key": "_ecpay_logistic_cvs_store_address", "value": "高雄市苓雅區四維三路6號"}]
    return payload


def test_a_store_pickup_chosen_through_ecpays_plugin_is_the_addresss_pickup_point():
    from fulfilhub import PickupPoint

    order = mapping.parse_order(_to_a_store(golden("order_processing.json")), channel="shop")
    assert order.ship_to.pickup == PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店",
                                               store_address="高雄市苓雅區四維三路6號")
    assert order.ship_to.problems() == []  # the store is the door: no city or postcode needed
    door = mapping.parse_order(golden("order_processing.json"), channel="shop")
    assert door.ship_to.pickup is None
    assert door.version != order.version  # choosing a store is a change of the order


def test_store_pickup_orders_map_or_refuse_every_mutation():
    result = assert_maps_or_refuses(lambda p: mapping.parse_order(p, channel="shop"),
                                    mutations(_to_a_store(golden("order_processing.json")), seed=12, count=600),
                                    check=check_model)
    assert result.mapped > 100
