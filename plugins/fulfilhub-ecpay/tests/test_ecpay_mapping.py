"""ECPay's forms read into fulfilhub's models, checked against golden payloads and ECPay's
published CheckMacValue examples."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone
from urllib.parse import parse_qsl

import pytest
from fulfilhub import ExceptionReason, Money, PayloadError, PickupPoint, Rate, TrackingStatus

import fulfilhub_ecpay
from fulfilhub_ecpay import mapping

MERCHANT, HASH_KEY, HASH_IV = fulfilhub_ecpay.TEST_MERCHANT
STORE = PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店", store_address="高雄市苓雅區四維三路6號")


def test_check_mac_value_matches_ecpays_published_md5_example():
    """ECPay's worked example (developers.ecpay.com.tw, 檢查碼機制, MD5): the step-3 string and the result."""
    params = {"RtnCode": "1", "RtnMsg": "", "IA_Allow_No": "1909181313013546", "IA_Invoice_No": "UV11100019",
              "IA_Date": "2019-09-18 13:13:23", "IIS_Remain_Allowance_Amt": "0"}
    step3 = ("HashKey%3DejCk326UnaZWKisg%26IA_Allow_No%3D1909181313013546%26IA_Date%3D2019-09-18+13%3A13%3A23"
             "%26IA_Invoice_No%3DUV11100019%26IIS_Remain_Allowance_Amt%3D0%26RtnCode%3D1%26RtnMsg%3D%26HashIV%3D"
             "q9jcZX8Ib9LM8wYk")
    raw = ("HashKey=ejCk326UnaZWKisg&IA_Allow_No=1909181313013546&IA_Date=2019-09-18 13:13:23&IA_Invoice_No="
           "UV11100019&IIS_Remain_Allowance_Amt=0&RtnCode=1&RtnMsg=&HashIV=q9jcZX8Ib9LM8wYk")
    assert mapping.ecpay_urlencode(raw) == step3
    assert mapping.check_mac_value(params, "ejCk326UnaZWKisg", "q9jcZX8Ib9LM8wYk") == "50A276E71DAE26343013958B405EEEA0"


def test_check_mac_value_matches_ecpays_published_sha256_example():
    """ECPay's AioCheckOut example (test merchant 3002607): the same scheme with SHA256, Chinese text encoded."""
    params = {"TradeDesc": "促銷方案", "PaymentType": "aio", "MerchantTradeDate": "2023/03/12 15:30:23",
              "MerchantTradeNo": "ecpay20230312153023", "MerchantID": "3002607",
              "ReturnURL": "https://www.ecpay.com.tw/receive.php", "ItemName": "Apple iphone 15", "TotalAmount": "30000",
              "ChoosePayment": "ALL", "EncryptType": "1"}
    assert mapping.check_mac_value(params, "pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs", method="sha256") == (
        "6C51C9E6888DE861FD62FB1DD17029FC742634498FD813DC43D4243B5685B840")


def test_the_dotnet_table_leaves_its_characters_and_encodes_the_tilde():
    assert mapping.ecpay_urlencode("-_.!*()") == "-_.!*()"
    assert mapping.ecpay_urlencode("a b~/@") == "a+b%7E%2F%40"
    # CheckMacValue itself never signs itself, and names sort without regard to case
    assert mapping.check_mac_value({"b": "1", "A": "2", "CheckMacValue": "X"}, "k", "v") == hashlib.md5(
        b"hashkey%3dk%26a%3d2%26b%3d1%26hashiv%3dv").hexdigest().upper()


def test_a_push_at_the_store_is_ready_for_pickup_at_its_taiwan_time(payload):
    form = mapping.read_form(payload("push_arrived"), "notification")
    assert mapping.verified(form, HASH_KEY, HASH_IV)
    update = mapping.parse_push(form)
    assert update.tracking_code == "1718546"
    assert update.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    [scan] = update.events
    assert scan.at == datetime(2026, 5, 14, 1, 41, 5, tzinfo=timezone.utc)
    assert scan.description == "商品已送達門市"
    assert scan.source == "2073"
    assert mapping.pickup_until(scan.at) == date(2026, 5, 21)
    assert update.pickup_until == date(2026, 5, 21)  # 「請於 5/21 前取件」


@pytest.mark.parametrize(("golden", "status", "reason"), [
    ("push_picked_up", TrackingStatus.DELIVERED, None),
    ("push_unclaimed", TrackingStatus.FAILED_ATTEMPT, ExceptionReason.FAILED_ATTEMPT),
    ("push_returned", TrackingStatus.RETURN_TO_SENDER, None),
    ("push_home_delivered", TrackingStatus.DELIVERED, None),
    ("push_familymart_arrived", TrackingStatus.AVAILABLE_FOR_PICKUP, None),
])
def test_each_push_maps_to_its_status(payload, golden, status, reason):
    update = mapping.parse_push(mapping.read_form(payload(golden), "notification"))
    assert update.status is status
    assert update.reason is reason


def test_an_unknown_status_code_is_refused_naming_it(payload):
    with pytest.raises(PayloadError, match="9999"):
        mapping.parse_push(mapping.read_form(payload("push_unknown_code"), "notification"))


def test_a_tampered_push_does_not_verify(payload):
    form = mapping.read_form(payload("push_arrived"), "notification")
    assert not mapping.verified({**form, "RtnCode": "2067"}, HASH_KEY, HASH_IV)
    assert not mapping.verified({k: v for k, v in form.items() if k != "CheckMacValue"}, HASH_KEY, HASH_IV)
    assert not mapping.verified(form, HASH_KEY, "another-iv")


def test_the_create_answer_becomes_a_label_tracked_by_its_logistics_id(payload):
    rate = Rate(carrier="ecpay", carrier_name="7-ELEVEN", service="UNIMARTC2C", amount=Money(amount="60", currency="TWD"),
                rate_id="UNIMARTC2C-x", shipment_ref="fh-shp-000123")
    label = mapping.parse_label(mapping.parse_create(payload("create_ok"), HASH_KEY, HASH_IV), rate)
    assert label.tracking_code == "1718546"
    assert label.tracker_ref == "FH5F2A9C41D07B3E6A18"
    assert label.cost == Money(amount="60", currency="TWD")
    assert label.raw["CVSPaymentNo"] == "C9680734"


def test_a_refused_create_says_why(payload):
    with pytest.raises(PayloadError, match="ReceiverStoreID is required"):
        mapping.parse_create(payload("create_refused"), HASH_KEY, HASH_IV)


def test_the_query_answer_is_verified_and_read(payload):
    form = mapping.parse_query(payload("query_at_store"), HASH_KEY, HASH_IV)
    assert form["LogisticsStatus"] == "2073"
    with pytest.raises(PayloadError, match="CheckMacValue"):
        mapping.parse_query(payload("query_at_store").replace("2073", "2067"), HASH_KEY, HASH_IV)


def test_the_map_reply_is_the_customers_store(payload):
    store = mapping.pickup_point(dict(parse_qsl(payload("map_reply"), keep_blank_values=True)))
    assert store == PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店",
                                store_address="高雄市苓雅區四維三路6號")


@pytest.mark.parametrize(("network", "flow", "subtype"), [
    ("7-ELEVEN", "C2C", "UNIMARTC2C"), ("7-ELEVEN", "B2C", "UNIMART"), ("全家", "C2C", "FAMIC2C"),
    ("FamilyMart", "B2C", "FAMI"), ("Hi-Life", "C2C", "HILIFEC2C"), ("OK mart", "C2C", "OKMARTC2C"),
    ("OK mart", "B2C", None), ("Lawson", "C2C", None),
])
def test_a_pickup_network_picks_its_subtype(network, flow, subtype):
    assert mapping.subtype_for(network, flow) == subtype


def test_the_create_form_carries_the_store_and_a_trade_number_made_from_the_key(make_request):
    fields = mapping.request_fields(make_request())
    form = mapping.create_form(merchant_id="2000132", request=fields, subtype="UNIMARTC2C", key="carrier.buy_label:s/1",
                               now=datetime(2026, 5, 12, 6, 3, 27, tzinfo=timezone.utc), goods_amount=1000,
                               server_reply_url="https://shop.example/webhooks/ecpay")
    assert form["LogisticsType"] == "CVS"
    assert form["ReceiverStoreID"] == STORE.store_id
    assert form["MerchantTradeDate"] == "2026/05/12 14:03:27"
    assert form["ReceiverCellPhone"] == "0933222111"
    assert form["MerchantTradeNo"] == mapping.merchant_trade_no("carrier.buy_label:s/1")
    assert len(form["MerchantTradeNo"]) == 20
    assert form["MerchantTradeNo"].isalnum()
    home = mapping.create_form(merchant_id="2000132", request=mapping.request_fields(make_request(pickup=None)),
                               subtype="POST", key="k", now=datetime(2026, 5, 12, tzinfo=timezone.utc),
                               goods_amount=1000, server_reply_url="https://shop.example/webhooks/ecpay")
    assert home["LogisticsType"] == "HOME"
    assert home["ReceiverAddress"] == "403台中市西區一二路34號"
    assert home["GoodsWeight"] == "1.200"  # kilograms, three decimals
