"""The pure mapping, signatures and pushes, with golden payloads in the shape of Shopee Open Platform v2 (no network)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from fulfilhub import ExceptionReason, Money, PayloadError, TrackingStatus
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_shopee import mapping, webhooks

PAYLOADS = Path(__file__).parent / "payloads"


def golden(name: str) -> dict:
    """The first order of a recorded ``get_order_detail`` answer."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))["response"]["order_list"][0]


def test_a_seller_shipped_twd_order_maps_whole_dollars_unix_times_and_model_skus():
    order = mapping.parse_order(golden("order_detail_twd.json"), channel="tw-shopee")
    assert order.id == "tw-shopee:2603220XKQ8T3A"
    assert order.number == "#2603220XKQ8T3A"
    assert order.placed_at == datetime(2026, 3, 22, 8, 28, 2, tzinfo=timezone.utc)
    assert order.updated_at == datetime(2026, 3, 22, 8, 30, 11, tzinfo=timezone.utc)
    assert order.total == Money(amount=Decimal("1610"), currency="TWD")
    assert [(line.sku, line.quantity, line.unit_price.amount, line.external_id, line.requires_shipping)
            for line in order.lines] == [("TEA-OOL-100", 2, Decimal("450"), "2300003:0", True),
                                         ("CUP-CER-2P", 1, Decimal("650"), "2300004:23000041", True)]
    assert order.lines[1].title == "青瓷茶杯 (2入) (青瓷)"  # the model's name, and its model_sku over item_sku
    assert order.ship_to is not None
    assert ((order.ship_to.city, order.ship_to.line2, order.ship_to.country) == (
        "台北市", "大安區", "TW"))
    assert order.note == "請在下午送達"
    assert order.cancelled_at is None
    assert order.email == ""


def test_an_sgd_order_keeps_its_cents_and_a_cancelled_one_is_cancelled():
    order = mapping.parse_order(golden("order_detail_sgd_cancelled.json"), channel="sg")
    assert order.total == Money(amount=Decimal("38.89"), currency="SGD")  # the float 38.89 read as its text
    assert order.lines[0].unit_price.amount == Decimal("17.95")
    assert order.cancelled_at == datetime(2026, 3, 23, 10, 6, 40, tzinfo=timezone.utc)
    assert not order.lines[0].requires_shipping  # fulfilled_by_shopee: Shopee's warehouse ships it


@pytest.mark.parametrize(("amount", "currency"), [(12.5, "TWD"), (3.999, "SGD"), ("1.5", "IDR"), (-1, "TWD"),
                                                  (float("nan"), "SGD"), (True, "TWD")])
def test_an_amount_finer_than_the_unit_or_not_an_amount_is_refused_not_rounded(amount, currency):
    with pytest.raises(PayloadError) as info:
        mapping.money(amount, currency, "total_amount")
    assert info.value.field == "total_amount"


def test_every_documented_status_has_an_intake_and_an_undocumented_one_is_refused():
    documented = {"UNPAID", "READY_TO_SHIP", "PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED", "IN_CANCEL",
                  "CANCELLED", "TO_RETURN"}
    assert documented <= set(mapping.ORDER_STATUSES)
    assert {s for s, i in mapping.ORDER_STATUSES.items() if i is mapping.Intake.CANCELLED} == {"IN_CANCEL",
                                                                                                  "CANCELLED"}
    assert mapping.ORDER_STATUSES["UNPAID"] is mapping.Intake.WAIT
    with pytest.raises(PayloadError) as info:
        mapping.parse_order({**golden("order_detail_twd.json"), "order_status": "DELIVERED"}, channel="x")
    assert info.value.field == "order_status"


def test_our_own_ship_order_is_not_a_new_version_but_a_buyer_edit_is():
    first = mapping.parse_order(golden("order_detail_twd.json"), channel="s")
    shipped = {**golden("order_detail_twd.json"), "order_status": "SHIPPED", "update_time": 1774260000}
    assert mapping.parse_order(shipped, channel="s").version == first.version
    edited = golden("order_detail_twd.json")
    edited["recipient_address"] = {**edited["recipient_address"], "full_address": "台北市信義區松仁路100號"}
    assert mapping.parse_order(edited, channel="s").version != first.version


def test_error_answers_are_classified_from_the_table():
    assert mapping.fault({"error": "", "message": "", "response": {}}) is None
    kind, text = mapping.fault({"error": "invalid_acceess_token", "message": "Invalid access_token.",
                                "request_id": "abc123"})
    assert kind is mapping.Fault.TOKEN
    assert "abc123" in text
    assert "Invalid access_token." in text
    assert mapping.fault({"error": "error_auth", "message": "no"})[0] is mapping.Fault.PERMANENT
    assert mapping.fault({"error": "error_server", "message": "busy"})[0] is mapping.Fault.TRANSIENT
    assert mapping.fault({"error": "something_new"})[0] is mapping.Fault.PERMANENT  # never retried for ever


def test_request_signature_is_hmac_sha256_hex_of_partner_path_time_token_shop():
    sign = webhooks.sign_request("key", 2001234, "/api/v2/order/get_order_list", 1774168082, "tok", 880011)
    base = b"2001234/api/v2/order/get_order_list1774168082tok880011"
    assert sign == hmac.new(b"key", base, hashlib.sha256).hexdigest()
    public = webhooks.sign_request("key", 2001234, "/api/v2/auth/access_token/get", 1774168082)
    assert public == hmac.new(b"key", b"2001234/api/v2/auth/access_token/get1774168082", hashlib.sha256).hexdigest()


def test_a_push_signature_covers_the_url_and_the_body():
    body = b'{"shop_id":880011,"code":3,"timestamp":1774168211,"data":{"ordersn":"2603220XKQ8T3A"}}'
    url = "https://fulfilhub.example.tw/webhooks/tw-shopee"
    header = webhooks.sign_push(url, body, "key")
    assert header == hmac.new(b"key", url.encode() + b"|" + body, hashlib.sha256).hexdigest()
    assert webhooks.verify_push(url, body, "key", header)
    assert not webhooks.verify_push(url + "x", body, "key", header)
    assert not webhooks.verify_push(url, body, "", header)
    assert not webhooks.verify_push(url, body, "key", None)
    payload = webhooks.push(body)
    assert webhooks.ordersn(payload) == "2603220XKQ8T3A"
    assert webhooks.delivery(payload).sent_at == datetime(2026, 3, 22, 8, 30, 11, tzinfo=timezone.utc)
    assert webhooks.ordersn(webhooks.push(b'{"shop_id":1,"code":1,"timestamp":1774168211}')) is None


def test_milestones_are_all_untold_with_a_reason():
    assert set(mapping.NOT_TOLD) == set(TrackingStatus)
    assert all(mapping.NOT_TOLD.values())


@pytest.mark.parametrize("name", ["order_detail_twd.json", "order_detail_sgd_cancelled.json"])
def test_mutated_orders_map_or_are_refused_naming_a_field(name):
    result = assert_maps_or_refuses(lambda p: mapping.parse_order(p, channel="fz"),
                                    mutations(golden(name), seed=3, count=400), check=check_model)
    assert result.mapped
    assert result.refused


def test_mutated_list_and_shipping_answers_are_read_or_refused():
    listed = {"more": True, "next_cursor": "20", "order_list": [{"order_sn": "2603220XKQ8T3A"}]}
    assert mapping.order_list(listed) == (["2603220XKQ8T3A"], True, "20")
    assert_maps_or_refuses(mapping.order_list, mutations(listed, seed=5, count=200))
    needs = {"info_needed": {"non_integrated": ["tracking_number"]}}
    assert mapping.shipping_parameter_needs(needs) == {"non_integrated"}
    assert_maps_or_refuses(mapping.shipping_parameter_needs, mutations(needs, seed=6, count=200))
    assert_maps_or_refuses(mapping.tracking_number, mutations({"tracking_number": "TC1"}, seed=8, count=100))


def test_tracking_info_maps_shopees_logistics_statuses_oldest_scan_first():
    answer = json.loads((PAYLOADS / "tracking_info_delivered.json").read_text(encoding="utf-8"))["response"]
    update = mapping.tracking_info(answer, "TW123")
    assert update.status is TrackingStatus.DELIVERED
    assert [e.source for e in update.events] == ["LOGISTICS_REQUEST_CREATED", "LOGISTICS_PICKUP_DONE",
                                                 "LOGISTICS_DELIVERY_DONE"]
    assert update.events[0].at == datetime(2026, 3, 22, 1, 0, tzinfo=timezone.utc)
    assert update.events[1].description == "物流已取件"
    lost = mapping.tracking_info({**answer, "logistics_status": "LOGISTICS_LOST", "tracking_info": []}, "TW123")
    assert lost.status is TrackingStatus.EXCEPTION
    assert lost.reason is ExceptionReason.LOST
    with pytest.raises(PayloadError, match="logistics_status"):
        mapping.tracking_info({**answer, "logistics_status": "LOGISTICS_TELEPORTED"}, "TW123")
    assert_maps_or_refuses(lambda a: mapping.tracking_info(a, "TW123"), mutations(answer, seed=11, count=300),
                           check=check_model)


def test_listings_give_each_sku_its_item_and_model_and_stock_bodies_go_one_item_a_call():
    shown = json.loads((PAYLOADS / "product_listings.json").read_text(encoding="utf-8"))
    assert mapping.item_page(shown["get_item_list"]) == ([2300001, 2300002], None)
    plain, with_models = mapping.item_skus(shown["get_item_base_info"])
    assert plain == {"MUG-ENM-350": (2300002, 0)}
    assert with_models == [2300001]
    models = mapping.model_skus(shown["get_model_list"], 2300001)
    assert models == {"TEE-ORG-M": (2300001, 23000011)}
    where = {**plain, **models, **{f"TEE-{n}": (2300001, 23000100 + n) for n in range(60)}}
    bodies = mapping.stock_bodies({"TEE-ORG-M": 5, "MUG-ENM-350": -2, **{f"TEE-{n}": n for n in range(60)}}, where)
    assert [(b["item_id"], len(b["stock_list"])) for b in bodies] == [(2300001, 50), (2300001, 11), (2300002, 1)]
    assert bodies[2]["stock_list"] == [{"seller_stock": [{"stock": 0}]}]  # no model_id; never below zero
    assert mapping.stock_failures(shown["update_stock"]) == ["model 23000012: model_id not found"]
    for fn, payload in ((mapping.item_page, shown["get_item_list"]), (mapping.item_skus, shown["get_item_base_info"]),
                        (lambda a: mapping.model_skus(a, 1), shown["get_model_list"]),
                        (mapping.stock_failures, shown["update_stock"])):
        assert_maps_or_refuses(fn, mutations(payload, seed=12, count=200))


def test_a_pickup_takes_the_pickup_address_and_its_first_slot_or_is_refused_naming_the_field():
    answer = {"info_needed": {"pickup": ["address_id", "pickup_time_id"]}, "pickup": {"address_list": [
        {"address_id": 11, "address_flag": ["default_address"], "time_slot_list": [{"pickup_time_id": "a"}]},
        {"address_id": 12, "address_flag": ["pickup_address"],
         "time_slot_list": [{"date": 1774224000, "pickup_time_id": "1774224000"}, {"pickup_time_id": "later"}]}]}}
    assert mapping.pickup_choice(answer) == {"address_id": 12, "pickup_time_id": "1774224000"}
    with pytest.raises(PayloadError, match="pickup address"):
        mapping.pickup_choice({"pickup": {"address_list": []}})
    assert_maps_or_refuses(mapping.pickup_choice, mutations(answer, seed=13, count=300))


def test_a_dropoff_takes_the_first_branch_when_asked_and_names_what_it_cannot_give():
    answer = {"info_needed": {"dropoff": ["branch_id"]}, "dropoff": {"branch_list": [
        {"branch_id": 501, "region": "TW", "city": "台北市", "address": "復興南路一段1號"}, {"branch_id": 502}]}}
    assert mapping.dropoff_choice(answer) == ({"branch_id": 501}, [])
    assert mapping.dropoff_choice({"info_needed": {"dropoff": []}}) == ({}, [])
    assert mapping.dropoff_choice({"info_needed": {"dropoff": ["sender_real_name"]}}) == ({}, ["sender_real_name"])
    assert_maps_or_refuses(mapping.dropoff_choice, mutations(answer, seed=14, count=300))
