"""The pure mapping: golden Shopify payloads in, exact fulfilhub values out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fulfilhub import Address, Money, OrderLine, PayloadError, ShipmentLine, ShipmentPush, ShippingChoice, TrackingStatus
from fulfilhub_shopify import mapping

EST = timezone(timedelta(hours=-5))

#: Every status Shopify's FulfillmentEvent accepts (Admin API 2024-10).
SHOPIFY_EVENT_STATUSES = {
    "label_printed", "label_purchased", "attempted_delivery", "ready_for_pickup", "confirmed",
    "in_transit", "out_for_delivery", "delivered", "failure", "carrier_picked_up", "delayed",
}


def shipment(*lines: ShipmentLine, code: str = "1Z999AA10123456784", ref: str = "") -> ShipmentPush:
    return ShipmentPush(
        shipment_id="shp_1",
        lines=lines,
        tracking_code=code,
        tracking_url=f"https://www.ups.com/track?tracknum={code}",
        carrier_name="UPS",
        service="Ground",
        fulfillment_ref=ref,
    )


# --------------------------------------------------------------------------- orders


def test_the_customers_language_and_shipping_choice_are_mapped_not_left_in_the_payload(payload):
    raw = payload("order_two_lines")
    order = mapping.parse_order(raw, channel="acme")
    assert order.locale == "en"
    assert order.shipping == ShippingChoice(method="Standard Shipping", price=Money(amount="0.00", currency="USD"))
    raw = dict(raw, customer_locale="zh-TW", shipping_lines=[
        {"title": "Express", "code": "EXP", "price": "12.00", "discounted_price": "9.00"},
        {"title": "", "code": "Insurance", "price": "1.50"}])
    order = mapping.parse_order(raw, channel="acme")
    assert order.locale == "zh-TW"
    assert order.shipping == ShippingChoice(method="Express + Insurance", price=Money(amount="10.50", currency="USD"))
    assert mapping.parse_order(dict(raw, shipping_lines=[]), channel="acme").shipping is None
    for bad, field in ((dict(raw, shipping_lines={"price": "1"}), "shipping_lines"),
                       (dict(raw, shipping_lines=[{"title": "A", "price": 1.5}]), "shipping_lines[0].price"),
                       (dict(raw, customer_locale="x" * 40), "customer_locale")):
        with pytest.raises(PayloadError) as err:
            mapping.parse_order(bad, channel="acme")
        assert err.value.field == field


def test_golden_order_maps_to_exact_fields(payload):
    raw = payload("order_two_lines")
    order = mapping.parse_order(raw, channel="acme")

    assert order.channel == "acme"
    assert order.external_id == "5812345678901"
    assert order.id == "acme:5812345678901"
    assert order.version == mapping.parse_order(payload("order_two_lines"), channel="other").version
    assert len(order.version) == 20
    assert int(order.version, 16) >= 0
    assert order.number == "#1001"
    assert order.placed_at == datetime(2026, 1, 4, 10, 15, 1, tzinfo=EST)
    assert order.updated_at == datetime(2026, 1, 4, 10, 20, 47, tzinfo=EST)
    assert order.currency == "USD"
    assert order.total == Money(amount="115.56", currency="USD")
    assert isinstance(order.total.amount, Decimal)
    assert order.lines == (
        OrderLine(
            sku="HOOD-FLC-M",
            quantity=1,
            unit_price=Money(amount="59.00", currency="USD"),
            title="Fleece Hoodie",
            external_id="14012345678901",
        ),
        OrderLine(
            sku="TEE-ORG-S",
            quantity=2,
            unit_price=Money(amount="24.00", currency="USD"),
            title="Organic Cotton Tee",
            external_id="14012345678902",
        ),
    )
    assert order.ship_to == Address(
        name="Ava Chen",
        company="Chen Design Studio",
        line1="148 Atlantic Ave",
        line2="Apt 3R",
        city="Brooklyn",
        province="NY",
        postal_code="11201",
        country="US",
        phone="+17185550142",
        email="ava.chen@example.com",
    )
    assert order.ship_to.problems() == []
    assert order.email == "ava.chen@example.com"
    assert order.note == "Leave at the back door, please."
    assert order.cancelled_at is None
    assert order.raw == raw


def test_cancelled_order_keeps_its_cancellation_time(payload):
    order = mapping.parse_order(payload("order_cancelled"), channel="acme")

    assert order.number == "#1055"
    assert order.cancelled_at == datetime(2026, 1, 4, 9, 2, 31, tzinfo=EST)
    assert order.total == Money(amount="32.82", currency="USD")
    assert order.note == ""
    assert order.ship_to is not None
    assert (order.ship_to.city, order.ship_to.province, order.ship_to.country) == ("Toronto", "ON", "CA")
    assert order.ship_to.line2 == ""  # address2 null
    assert order.ship_to.company == ""


def test_malformed_golden_payload_names_the_field(payload):
    with pytest.raises(PayloadError) as caught:
        mapping.parse_order(payload("order_malformed"), channel="acme")
    assert caught.value.field == "line_items[1].quantity"
    assert "'two'" in str(caught.value)


def _without(key):
    def change(order):
        del order[key]

    return change


def _set(key, value):
    def change(order):
        order[key] = value

    return change


def _set_line(index, key, value):
    def change(order):
        order["line_items"][index][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_without("id"), "id"),
        (_set("id", "5812345678901"), "id"),
        (_without("updated_at"), "updated_at"),
        (_set("updated_at", "yesterday"), "updated_at"),
        (_set("updated_at", "2026-01-04T10:20:47"), "updated_at"),  # no offset: moment unknown
        (_set("cancelled_at", "not a date"), "cancelled_at"),
        (_set("currency", "dollars"), "currency"),
        (_without("total_price"), "total_price"),
        (_set("total_price", 115.56), "total_price"),  # a float has already lost exactness
        (_set("line_items", None), "line_items"),
        (_set("line_items", {"id": 1}), "line_items"),
        (_set("shipping_address", "148 Atlantic Ave"), "shipping_address"),
        (_set_line(0, "quantity", 0), "line_items[0].quantity"),
        (_set_line(0, "quantity", -1), "line_items[0].quantity"),
        (_set_line(0, "quantity", 1.5), "line_items[0].quantity"),
        (_set_line(0, "quantity", True), "line_items[0].quantity"),
        (_set_line(1, "price", "24,00"), "line_items[1].price"),
        (_set_line(1, "price", "NaN"), "line_items[1].price"),
        (_set_line(1, "price", None), "line_items[1].price"),
        (_set_line(1, "id", None), "line_items[1].id"),
    ],
)
def test_malformed_payloads_raise_payload_error_naming_the_field(payload, change, field):
    raw = payload("order_two_lines")
    change(raw)
    with pytest.raises(PayloadError) as caught:
        mapping.parse_order(raw, channel="acme")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_payload_that_is_not_an_object_is_refused():
    with pytest.raises(PayloadError, match="must be a JSON object"):
        mapping.parse_order(["#1001"], channel="acme")  # type: ignore[arg-type]


@pytest.mark.parametrize("sku", ["", None])
def test_line_without_sku_is_kept_with_an_empty_sku(payload, sku):
    raw = payload("order_two_lines")
    raw["line_items"][0]["sku"] = sku
    order = mapping.parse_order(raw, channel="acme")
    assert [line.sku for line in order.lines] == ["", "TEE-ORG-S"]


def test_lines_that_need_no_shipping_are_kept_and_marked(payload):
    raw = payload("order_two_lines")
    raw["line_items"][0]["requires_shipping"] = False  # e.g. a gift card
    del raw["line_items"][1]["requires_shipping"]  # absent: ships
    order = mapping.parse_order(raw, channel="acme")
    assert [(line.external_id, line.requires_shipping) for line in order.lines] == [
        ("14012345678901", False), ("14012345678902", True)]
    assert [line.external_id for line in order.shippable] == ["14012345678902"]


def test_lines_not_shipped_are_still_validated(payload):
    raw = payload("order_two_lines")
    raw["line_items"][0].update(requires_shipping=False, quantity="one")
    with pytest.raises(PayloadError, match="quantity"):
        mapping.parse_order(raw, channel="acme")


def test_fallbacks_for_name_processed_at_and_email(payload):
    raw = payload("order_two_lines")
    del raw["name"]
    raw["processed_at"] = None
    raw["email"] = None
    order = mapping.parse_order(raw, channel="acme")
    assert order.number == "#1001"  # from order_number
    assert order.placed_at == datetime(2026, 1, 4, 10, 15, 2, tzinfo=EST)  # created_at
    assert order.email == "ava.chen@example.com"  # contact_email


def test_address_name_is_built_from_first_and_last_name(payload):
    raw = payload("order_two_lines")
    del raw["shipping_address"]["name"]
    raw["shipping_address"]["province_code"] = None
    order = mapping.parse_order(raw, channel="acme")
    assert order.ship_to.name == "Ava Chen"
    assert order.ship_to.province == "New York"


def test_order_without_shipping_address_has_no_ship_to(payload):
    raw = payload("order_two_lines")
    raw["shipping_address"] = None
    assert mapping.parse_order(raw, channel="acme").ship_to is None


# --------------------------------------------------------------------------- tracking table


def test_every_mapped_event_status_is_one_shopify_accepts():
    assert set(mapping.FULFILLMENT_EVENT_STATUS.values()) <= SHOPIFY_EVENT_STATUSES


def test_tracking_table_covers_the_milestones_a_buyer_sees():
    table = mapping.FULFILLMENT_EVENT_STATUS
    assert table[TrackingStatus.IN_TRANSIT] == "in_transit"
    assert table[TrackingStatus.OUT_FOR_DELIVERY] == "out_for_delivery"
    assert table[TrackingStatus.DELIVERED] == "delivered"
    assert table[TrackingStatus.FAILED_ATTEMPT] == "attempted_delivery"
    assert table[TrackingStatus.AVAILABLE_FOR_PICKUP] == "ready_for_pickup"
    assert table[TrackingStatus.EXCEPTION] == "failure"
    assert table[TrackingStatus.PRE_TRANSIT] == "label_purchased"
    assert TrackingStatus.UNKNOWN not in table
    assert TrackingStatus.CANCELLED not in table


# --------------------------------------------------------------------------- fulfillments


def test_fulfillment_body_for_the_whole_golden_order(payload):
    fulfillment_orders = payload("fulfillment_orders")["fulfillment_orders"]
    ship = shipment(
        ShipmentLine(sku="HOOD-FLC-M", quantity=1, order_line_id="14012345678901"),
        ShipmentLine(sku="TEE-ORG-S", quantity=2, order_line_id="14012345678902"),
    )
    wanted = mapping.shipment_line_items(ship, ())
    body = mapping.fulfillment_body(
        ship, mapping.line_items_by_fulfillment_order(wanted, fulfillment_orders), notify_customer=True
    )
    assert body == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": 6412345678901,
                    "fulfillment_order_line_items": [
                        {"id": 15312345678901, "quantity": 1},
                        {"id": 15312345678902, "quantity": 2},
                    ],
                }
            ],
            "tracking_info": {
                "number": "1Z999AA10123456784",
                "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                "company": "UPS",
            },
            "notify_customer": True,
        }
    }


def test_partial_shipment_takes_only_what_ships(payload):
    fulfillment_orders = payload("fulfillment_orders")["fulfillment_orders"]
    groups = mapping.line_items_by_fulfillment_order([("14012345678902", 1)], fulfillment_orders)
    assert groups == [
        {"fulfillment_order_id": 6412345678901, "fulfillment_order_line_items": [{"id": 15312345678902, "quantity": 1}]}
    ]


def test_shipment_line_without_line_id_is_matched_by_sku(payload):
    order = mapping.parse_order(payload("order_two_lines"), channel="acme")
    ship = shipment(ShipmentLine(sku="TEE-ORG-S", quantity=2))
    assert mapping.shipment_line_items(ship, order.lines) == [("14012345678902", 2)]
    with pytest.raises(mapping.UnfulfillableShipment, match="'NOPE'"):
        mapping.shipment_line_items(shipment(ShipmentLine(sku="NOPE", quantity=1)), order.lines)


@pytest.mark.parametrize(
    ("change", "wanted"),
    [
        (lambda fo: None, [("14012345678902", 3)]),  # more than ordered
        (lambda fo: fo.update(status="closed"), [("14012345678901", 1)]),
        (lambda fo: fo.update(status="on_hold", supported_actions=[]), [("14012345678901", 1)]),
        (lambda fo: fo["line_items"][0].update(fulfillable_quantity=0), [("14012345678901", 1)]),
        (lambda fo: None, [("99999999", 1)]),  # not a line of this order
        # two shipment lines for one line item cannot take more than is left together
        (lambda fo: None, [("14012345678902", 2), ("14012345678902", 1)]),
    ],
)
def test_lines_no_open_fulfillment_order_can_cover_are_refused(payload, change, wanted):
    fulfillment_orders = payload("fulfillment_orders")["fulfillment_orders"]
    change(fulfillment_orders[0])
    with pytest.raises(mapping.UnfulfillableShipment, match=wanted[-1][0]):
        mapping.line_items_by_fulfillment_order(wanted, fulfillment_orders)


def test_second_fulfillment_order_is_used_when_the_first_is_closed(payload):
    first = payload("fulfillment_orders")["fulfillment_orders"][0]
    second = payload("fulfillment_orders")["fulfillment_orders"][0]
    first["status"] = "closed"
    second.update(id=6412345678999, status="in_progress")
    second["line_items"][1].update(id=15312345678999, fulfillable_quantity=1)
    groups = mapping.line_items_by_fulfillment_order([("14012345678902", 1)], [first, second])
    assert groups == [
        {"fulfillment_order_id": 6412345678999, "fulfillment_order_line_items": [{"id": 15312345678999, "quantity": 1}]}
    ]


def test_find_fulfillment_by_tracking_number(payload):
    existing = payload("fulfillment")["fulfillment"]
    assert mapping.find_fulfillment([existing], "1Z999AA10123456784") is existing
    assert mapping.find_fulfillment([existing], "1Z000") is None
    assert mapping.find_fulfillment([existing], "") is None

    several = dict(existing, tracking_number="OTHER", tracking_numbers=["OTHER", "1Z999AA10123456784"])
    assert mapping.find_fulfillment([several], "1Z999AA10123456784") is several

    cancelled = dict(existing, status="cancelled")
    assert mapping.find_fulfillment([cancelled], "1Z999AA10123456784") is None


# --------------------------------------------------------------------------- versions


def test_our_own_pushes_do_not_make_a_new_version(payload):
    raw = payload("order_two_lines")
    before = mapping.parse_order(raw, channel="acme")
    echo = payload("order_two_lines")
    # what a fulfillment and its events change in the order Shopify sends back
    echo["updated_at"] = "2026-01-05T09:00:00-05:00"
    echo["fulfillment_status"] = "fulfilled"
    echo["fulfillments"] = [payload("fulfillment")["fulfillment"]]
    for item in echo["line_items"]:
        item["fulfillable_quantity"] = 0
        item["fulfillment_status"] = "fulfilled"
    after = mapping.parse_order(echo, channel="acme")
    assert after.version == before.version
    assert after.updated_at == datetime(2026, 1, 5, 9, 0, tzinfo=EST)  # still Shopify's own updated_at
    assert after.updated_at > before.updated_at


def test_the_same_moment_and_amount_written_differently_is_the_same_version(payload):
    before = mapping.parse_order(payload("order_two_lines"), channel="acme")
    raw = payload("order_two_lines")
    raw["processed_at"] = before.placed_at.astimezone(timezone.utc).isoformat()
    raw["total_price"] = raw["total_price"] + "0"
    assert mapping.parse_order(raw, channel="acme").version == before.version


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.update(note="Leave it with the neighbour"),
        lambda o: o["shipping_address"].update(address1="1 Other Street"),
        lambda o: o["shipping_address"].update(zip="10002"),
        lambda o: o.update(email="someone.else@example.com"),
        lambda o: o.update(cancelled_at="2026-01-05T09:00:00-05:00"),
        lambda o: o.update(total_price="99.00"),
        lambda o: o["line_items"][0].update(quantity=2),
        lambda o: o["line_items"][1].update(sku="TEE-ORG-M"),
        lambda o: o.update(shipping_address=None),
        lambda o: o.update(tags="vip"),
    ],
    ids=["note", "address", "zip", "email", "cancelled", "total", "quantity", "sku", "no-address", "tags"],
)
def test_a_real_change_makes_a_new_version(payload, change):
    before = mapping.parse_order(payload("order_two_lines"), channel="acme")
    raw = payload("order_two_lines")
    change(raw)
    assert mapping.parse_order(raw, channel="acme").version != before.version


PRODUCTS = [
    {"id": 8140000000000, "variants": [
        {"id": 44310000000000, "product_id": 8140000000000, "sku": "TEE-ORG-S", "inventory_item_id": 48000000000},
        {"id": 44310000000001, "product_id": 8140000000000, "sku": "", "inventory_item_id": 48000000001}]},
    {"id": 8140000000001, "variants": [
        {"id": 44310000000002, "product_id": 8140000000001, "sku": "MUG-ENM-350", "inventory_item_id": 48000000002}]},
]


def test_inventory_items_are_found_by_sku_among_the_variants():
    assert mapping.inventory_items(PRODUCTS, ["MUG-ENM-350", "NOPE"]) == {"MUG-ENM-350": 48000000002}
    assert mapping.inventory_items(PRODUCTS) == {"TEE-ORG-S": 48000000000, "MUG-ENM-350": 48000000002}
    assert mapping.active_location([{"id": 1, "active": False}, {"id": 7, "active": True}]) == 7
    with pytest.raises(PayloadError) as info:
        mapping.active_location([{"id": 1, "active": False}])
    assert info.value.field == "locations"


def test_the_stock_readers_map_or_refuse_every_mutation():
    from fulfilhub.testing.fuzz import assert_maps_or_refuses, mutations

    assert_maps_or_refuses(mapping.inventory_items, mutations(PRODUCTS, seed=4, count=400))
    assert_maps_or_refuses(mapping.active_location, mutations([{"id": 65000000001, "active": True}], seed=5, count=200))
