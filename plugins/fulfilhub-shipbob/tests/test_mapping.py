"""ShipBob's JSON mapped to fulfilhub's models, on golden payloads in the API's shape."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fulfilhub import Address, FulfillmentRequest, FulfillmentStatus, PayloadError, ShipmentLine, TrackingStatus

from fulfilhub_shipbob import mapping

F = FulfillmentStatus


@pytest.mark.parametrize(("golden", "status"), [
    ("shipments_processing_new", F.SUBMITTED),
    ("shipments_processing_packed", F.PACKED),
    ("shipments_split_one_left", F.PACKED),  # one package left, the other is packed: the order is packed
    ("shipments_exception_out_of_stock", F.REJECTED),
    ("shipments_on_hold_address", F.REJECTED),
    ("shipments_cancelled", F.CANCELLED),
])
def test_progress_of_an_order_is_its_least_advanced_shipment(payload, golden, status):
    assert mapping.parse_shipments(payload(golden), ref="7001").status is status


def test_a_completed_shipment_is_shipped_with_shipbobs_carrier_and_tracking_number(payload):
    update = mapping.parse_shipments(payload("shipments_completed"), ref="7001")
    assert update.status is F.SHIPPED
    assert (update.carrier, update.tracking_code, update.service) == ("USPS", "9400111206213456789012",
                                                                       "Ground Advantage")
    assert update.tracking_url.endswith("9400111206213456789012")
    assert update.shipped_at == datetime(2026, 3, 2, 17, tzinfo=timezone.utc)
    assert update.more_tracking_codes == ()


def test_an_order_split_in_two_packages_ships_when_both_left_with_both_codes(payload):
    update = mapping.parse_shipments(payload("shipments_split_both_left"), ref="7001")
    assert update.status is F.SHIPPED
    assert update.tracking_code == "9400111206213456789012"
    assert update.more_tracking_codes == ("9400111206219876543210",)
    assert update.shipped_at == datetime(2026, 3, 2, 17, tzinfo=timezone.utc)  # when the first package left


def test_why_shipbob_holds_an_order_is_kept(payload):
    assert mapping.parse_shipments(payload("shipments_exception_out_of_stock"), ref="7001").reason == \
        "out of stock at ShipBob"
    assert "address is invalid" in mapping.parse_shipments(payload("shipments_on_hold_address"), ref="7001").reason


def test_an_unknown_status_word_is_refused_naming_it(payload):
    shipments = payload("shipments_completed")
    shipments[0]["status"] = "Teleported"
    with pytest.raises(PayloadError, match="Teleported"):
        mapping.parse_shipments(shipments, ref="7001")


def test_a_completed_shipment_without_a_tracking_number_yet_is_packed(payload):
    shipments = payload("shipments_completed")
    shipments[0]["tracking"] = None
    assert mapping.parse_shipments(shipments, ref="7001").status is F.PACKED


@pytest.mark.parametrize(("golden", "status"), [
    ("shipments_completed", TrackingStatus.PRE_TRANSIT),  # waiting for carrier pickup
    ("shipments_split_both_left", TrackingStatus.IN_TRANSIT),  # one delivered, one on its way
    ("shipments_delivery_exception", TrackingStatus.EXCEPTION),
])
def test_tracking_follows_the_least_advanced_package(payload, golden, status):
    update = mapping.parse_tracking(payload(golden), tracking_code="9400111206213456789012")
    assert update.status is status
    assert update.tracking_code == "9400111206213456789012"


def test_a_split_order_is_delivered_when_every_package_is(payload):
    shipments = payload("shipments_split_both_left")
    shipments[1]["status_details"][0]["name"] = "Delivered"
    update = mapping.parse_tracking(shipments, tracking_code="9400111206213456789012")
    assert update.status is TrackingStatus.DELIVERED
    assert len(update.events) == 2


def test_stock_is_on_hand_with_what_shipbob_cannot_send_reserved(payload):
    products = mapping.inventory_of_products(payload("products"), ["MUG-BLUE", "GIFT-SET", "NOT-THERE"])
    assert products == {"MUG-BLUE": [("1001", 1)], "GIFT-SET": [("1001", 2), ("1002", 1)]}
    levels = {level.sku: level for level in mapping.stock_levels(
        products, mapping.parse_inventory(payload("inventory")), warehouse="main")}
    assert (levels["MUG-BLUE"].on_hand, levels["MUG-BLUE"].available) == (120, 110)
    # a bundle of 2 mugs and 1 tea: the tea (7 on hand, 5 fulfillable) is the scarcer
    assert (levels["GIFT-SET"].on_hand, levels["GIFT-SET"].available) == (7, 5)
    assert levels["GIFT-SET"].warehouse == "main"


def test_stock_of_one_fulfillment_center(payload):
    inventory = mapping.parse_inventory(payload("inventory"), fulfillment_center=11)
    assert inventory["1001"] == (35, 30)
    assert inventory["1002"] == (0, 0)  # none of it there


def test_the_order_body_names_products_by_reference_id():
    request = FulfillmentRequest(
        key="warehouse.submit:shop:1001/1", shipment_id="shop:1001/1", order_id="shop:1001", order_number="#1001",
        lines=(ShipmentLine(sku="MUG-BLUE", quantity=2),),
        ship_to=Address(name="Ada Lovelace", line1="179 N Harbor Dr", city="Redondo Beach", province="CA",
                        postal_code="90277", country="US"))
    body = mapping.order_body(request, shipping_method="Standard")
    assert body["reference_id"] == "shop:1001/1"
    assert body["products"] == [{"reference_id": "MUG-BLUE", "name": "MUG-BLUE", "quantity": 2}]
    assert body["recipient"]["address"]["zip_code"] == "90277"
    assert body["shipping_method"] == "Standard"


def test_webhook_subjects(payload):
    kind, ref, shipments = mapping.webhook_subject("order_shipped", payload("webhook_order_shipped"))
    assert (kind, ref, len(shipments)) == ("fulfillment", "7001", 1)
    assert mapping.webhook_subject("shipment_delivered", payload("webhook_shipment_delivered")) == \
        ("tracking", "7001", None)
    assert mapping.webhook_subject("order.shipped", payload("webhook_order_shipped"))[0] == "fulfillment"
    assert mapping.webhook_subject("return_completed", {"id": 1}) is None


def test_an_order_lookup_by_reference(payload):
    assert mapping.order_id_of_reference(payload("orders_by_reference"), "shop:1001/1") == "7001"
    assert mapping.order_id_of_reference(payload("orders_by_reference"), "shop:1002/1") is None
