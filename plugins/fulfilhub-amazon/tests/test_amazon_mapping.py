"""The pure mapping, on golden payloads in the shape of getOrders and getOrderItems."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from fulfilhub import Money, PayloadError
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations
from fulfilhub_amazon import mapping, webhooks

HERE = Path(__file__).parent / "payloads"
ORDERS = json.loads((HERE / "getOrders.json").read_text(encoding="utf-8"))
ITEMS = json.loads((HERE / "getOrderItems.json").read_text(encoding="utf-8"))


def payload(order_id: str) -> dict:
    """What the adapter hands the mapping: the getOrders order with its getOrderItems items added."""
    orders, _ = mapping.orders_page(ORDERS)
    order = next(o for o in orders if o["AmazonOrderId"] == order_id)
    items, next_token = mapping.items_page(ITEMS[order_id])
    assert next_token is None
    return {**order, "OrderItems": items}


def test_an_mfn_order_maps_its_lines_money_address_and_amazons_own_promise():
    raw = payload("113-5550101-7654321")
    kept = copy.deepcopy(raw)
    order = mapping.parse_order(raw, channel="amazon-us")
    assert raw == kept  # the payload is stored as the raw record: left unchanged
    assert (order.id, order.number, order.currency) == ("amazon-us:113-5550101-7654321", "113-5550101-7654321", "USD")
    assert order.total == Money(amount="71.99", currency="USD")
    assert [(line.sku, line.quantity, line.unit_price.amount, line.external_id) for line in order.lines] == [
        ("TEE-ORG-M", 2, Decimal("24.00"), "68828574383266"), ("MUG-ENM-350", 1, Decimal("19.00"), "68828574383267")]
    assert all(line.requires_shipping for line in order.lines)
    assert order.shipping.method == "Std US D2D Dom"
    assert order.shipping.price == Money(amount="4.99", currency="USD")
    assert order.ship_to.name == "Grace Hopper"
    assert (order.ship_to.line1, order.ship_to.line2, order.ship_to.province) == ("2111 7th Ave", "Apt 4", "WA")
    assert order.ship_to.problems() == []
    assert order.email == "9xq2k7bz0mn4wlp@marketplace.amazon.com"
    assert order.hold_reason == ""
    assert order.channel_promise.ship_by == datetime(2026, 1, 8, 7, 59, 59, tzinfo=timezone.utc)
    assert order.channel_promise.deliver_by == datetime(2026, 1, 14, 7, 59, 59, tzinfo=timezone.utc)
    assert order.channel_promise.deliver_from == datetime(2026, 1, 9, 8, tzinfo=timezone.utc)


def test_without_a_restricted_data_token_the_order_is_held_saying_amazon_withheld_the_address():
    order = mapping.parse_order(payload("503-2468013-5791357"), channel="amazon-jp")
    assert order.currency == "JPY"
    assert order.total == Money(amount="7050", currency="JPY")
    assert order.lines[0].unit_price == Money(amount="3150", currency="JPY")  # ItemPrice is the whole line's
    assert order.lines[0].title == "阿里山烏龍茶 100g"
    assert (order.ship_to.city, order.ship_to.postal_code, order.ship_to.country) == ("Shibuya-ku", "150-0002", "JP")
    assert order.ship_to.name == ""
    assert order.hold_reason.startswith("Amazon withholds the buyer's name and street address without a restricted "
                                        "data token")
    assert order.email == ""


def test_a_cancelled_fba_order_without_a_total_is_a_cancellation_that_ships_nothing():
    order = mapping.parse_order(payload("111-9990001-0000042"), channel="amazon-us")
    assert order.cancelled_at == datetime(2026, 1, 6, 2, tzinfo=timezone.utc)
    assert order.currency == "USD"  # the marketplace's: Amazon gives no price for it
    assert order.total == Money(amount="0.00", currency="USD")
    assert order.shippable == ()  # fulfilled by Amazon: never allocated or shipped here
    assert order.ship_to is None
    assert order.hold_reason == ""  # nothing to ship: nothing withheld that matters


def test_a_cancelled_order_whose_quantities_went_to_zero_is_still_a_cancellation():
    raw = payload("113-5550101-7654321")
    raw = {**raw, "OrderStatus": "Canceled",
           "OrderItems": [{**item, "QuantityOrdered": 0} for item in raw["OrderItems"]]}
    order = mapping.parse_order(raw, channel="a")
    assert order.cancelled_at is not None
    assert order.lines == ()
    with pytest.raises(PayloadError, match="no item with a quantity ordered"):
        mapping.parse_order({**raw, "OrderStatus": "Unshipped"}, channel="a")


def test_the_version_moves_with_what_fulfilhub_reads_not_with_amazons_echo():
    raw = payload("113-5550101-7654321")
    first = mapping.parse_order(raw, channel="a")
    echo = mapping.parse_order({**raw, "LastUpdateDate": "2026-01-06T09:00:00Z"}, channel="a")
    assert echo.version == first.version
    moved = copy.deepcopy(raw)
    moved["ShippingAddress"]["AddressLine2"] = "Apt 5"
    assert mapping.parse_order(moved, channel="a").version != first.version
    cancelled = mapping.parse_order({**raw, "OrderStatus": "Canceled"}, channel="a")
    assert cancelled.version != first.version
    assert cancelled.cancelled_at is not None


@pytest.mark.parametrize(("change", "field"), [
    ({"OrderStatus": "Lost"}, "OrderStatus"),
    ({"FulfillmentChannel": "SFP"}, "FulfillmentChannel"),
    ({"OrderTotal": {"CurrencyCode": "USD", "Amount": 71.99}}, "OrderTotal.Amount"),
    ({"OrderTotal": {"CurrencyCode": "USD", "Amount": "71.999"}}, "OrderTotal.Amount"),
    ({"PurchaseDate": "2026-01-05T16:04:11"}, "PurchaseDate"),
    ({"OrderItems": []}, "OrderItems"),
    ({"LatestShipDate": "2026-01-01T00:00:00Z"}, "LatestDeliveryDate"),
])
def test_what_cannot_be_mapped_is_refused_naming_the_field(change, field):
    with pytest.raises(PayloadError) as caught:
        mapping.parse_order({**payload("113-5550101-7654321"), **change}, channel="a")
    assert caught.value.field == field


def test_a_line_price_that_does_not_divide_into_whole_cents_is_refused_not_rounded():
    raw = payload("113-5550101-7654321")
    raw["OrderItems"][1] = {**raw["OrderItems"][1], "QuantityOrdered": 3,
                            "ItemPrice": {"CurrencyCode": "USD", "Amount": "10.00"}}
    with pytest.raises(PayloadError, match="not a whole number of the currency's minor unit") as caught:
        mapping.parse_order(raw, channel="a")
    assert caught.value.field == "OrderItems[1].ItemPrice.Amount"


def test_every_documented_status_has_an_intake_and_the_errors_are_classified():
    assert set(mapping.ORDER_STATUSES) == {"Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled",
                                           "Unfulfillable", "InvoiceUnconfirmed", "PendingAvailability"}
    held = mapping.parse_order({**payload("113-5550101-7654321"), "OrderStatus": "Unfulfillable"}, channel="a")
    assert held.hold_reason == mapping.UNFULFILLABLE
    expired = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                           "details": "The access token you provided has expired."}]}
    assert mapping.fault(expired)[0] is mapping.Fault.TOKEN
    assert mapping.fault({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]})[0] \
        is mapping.Fault.TRANSIENT
    assert mapping.fault({"errors": [{"code": "InvalidInput", "message": "Invalid NextToken."}]})[0] \
        is mapping.Fault.NEXT_TOKEN
    assert mapping.fault({"payload": {}}) is None


def test_what_is_sent_is_in_amazons_shape():
    body = mapping.confirm_shipment_body("ATVPDKIKX0DER", mapping.package_reference("amazon-us:1/1"), "USPS",
                                         "Priority", "9400100000000000000001",
                                         datetime(2026, 1, 6, 18, tzinfo=timezone.utc), [("68828574383266", 2)])
    detail = body["packageDetail"]
    assert detail["packageReferenceId"].isdigit()
    assert int(detail["packageReferenceId"]) > 0
    assert detail["packageReferenceId"] == mapping.package_reference("amazon-us:1/1")  # the same for every try
    assert (detail["carrierCode"], detail["shipDate"]) == ("USPS", "2026-01-06T18:00:00Z")
    assert detail["orderItems"] == [{"orderItemId": "68828574383266", "quantity": 2}]
    other = mapping.confirm_shipment_body("A1VC38T7YXB528", "1", "Kuroneko Local", "", "T1", datetime.now(timezone.utc),
                                          [("1", 1)])["packageDetail"]
    assert (other["carrierCode"], other["carrierName"]) == ("Other", "Kuroneko Local")
    patch = mapping.listing_patch(7)
    assert patch["patches"][0]["path"] == "/attributes/fulfillment_availability"
    assert patch["patches"][0]["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]


def test_an_order_change_notification_names_its_order_and_delivery():
    at = datetime(2026, 1, 6, 1, tzinfo=timezone.utc)
    body = json.dumps(webhooks.order_change("113-5550101-7654321", at=at, notification_id="n-1")).encode()
    note = webhooks.notification(body)
    assert webhooks.changed_order(note) == "113-5550101-7654321"
    assert webhooks.delivery(note).id == "n-1"
    assert webhooks.delivery(note).sent_at == at
    assert webhooks.verify(body, "s3cret-relay", webhooks.sign(body, "s3cret-relay"))
    assert not webhooks.verify(body + b" ", "s3cret-relay", webhooks.sign(body, "s3cret-relay"))
    other = {**json.loads(body), "NotificationType": "ANY_OFFER_CHANGED"}
    assert webhooks.changed_order(other) is None


@pytest.mark.parametrize("order_id", ["113-5550101-7654321", "503-2468013-5791357", "111-9990001-0000042"])
def test_mutated_golden_payloads_map_or_are_refused(order_id):
    assert_maps_or_refuses(lambda p: mapping.parse_order(p, channel="a"),
                           mutations(payload(order_id), seed=len(order_id), count=300), check=check_model)


def test_mutated_notifications_are_read_or_refused():
    body = webhooks.order_change("113-5550101-7654321", at=datetime(2026, 1, 6, tzinfo=timezone.utc),
                                 notification_id="n-2")

    def read(value):
        note = webhooks.notification(json.dumps(value).encode())
        return webhooks.changed_order(note), webhooks.delivery(note)

    assert_maps_or_refuses(read, mutations(body, seed=3, count=300))
