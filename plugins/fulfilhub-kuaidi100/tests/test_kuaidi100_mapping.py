"""The pure mapping, with golden payloads in Kuaidi100's shape (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fulfilhub import ExceptionReason, PayloadError, TrackingStatus

from fulfilhub_kuaidi100 import mapping


def test_the_signature_is_upper_case_hex_md5_of_param_key_and_customer():
    import hashlib

    text = '{"com":"yuantong","num":"YT1"}' + "abc" + "C1"
    assert mapping.sign('{"com":"yuantong","num":"YT1"}', "abc", "C1") == hashlib.md5(text.encode()).hexdigest().upper()
    assert mapping.sign("a", "b") == "187EF4436122D1CC2F40DC2B92F0EBA0"  # MD5("ab"), upper-case


def test_the_query_form_signs_exactly_the_param_it_sends():
    form = mapping.query_form("shunfeng", "SF1402658731196", "KEY", "CUST", phone="1234")
    assert form["customer"] == "CUST"
    assert form["sign"] == mapping.sign(form["param"], "KEY", "CUST")
    param = json.loads(form["param"])
    assert param == {"com": "shunfeng", "num": "SF1402658731196", "phone": "1234", "resultv2": "4", "show": "0",
                     "order": "asc"}


def test_the_subscription_form_carries_the_key_callback_and_salt():
    form = mapping.subscribe_form("yuantong", "YT1", "KEY", "https://shop.example/webhooks/kd100", "s4lt")
    assert form["schema"] == "json"
    param = json.loads(form["param"])
    assert param["key"] == "KEY"
    assert param["parameters"]["callbackurl"] == "https://shop.example/webhooks/kd100"
    assert param["parameters"]["salt"] == "s4lt"
    assert param["parameters"]["resultv2"] == "4"


def test_a_query_in_transit_keeps_the_chinese_scans_in_beijing_time(payload):
    update = mapping.parse_result(payload("query_in_transit"))
    assert update.tracking_code == "YT7412345678901"
    assert update.status is TrackingStatus.IN_TRANSIT
    assert [e.source for e in update.events] == ["103", "1002", "1001"]  # oldest first, though sent newest first
    first = update.events[0]
    assert first.description == "【上海市】圆通速递 上海市青浦区公司 已揽收"
    assert first.location == "上海,上海市"
    assert first.at == datetime(2026, 5, 12, 21, 4, 11, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(("golden", "status", "reason"), [
    ("query_delivered", TrackingStatus.DELIVERED, None),
    ("query_locker", TrackingStatus.AVAILABLE_FOR_PICKUP, None),
    ("query_damaged", TrackingStatus.EXCEPTION, ExceptionReason.DAMAGED),
    ("query_basic_states", TrackingStatus.IN_TRANSIT, None),
])
def test_the_state_maps_by_the_table(payload, golden, status, reason):
    update = mapping.parse_result(payload(golden))
    assert (update.status, update.reason) == (status, reason)


def test_scans_without_a_code_map_by_their_chinese_name(payload):
    update = mapping.parse_result(payload("query_basic_states"))
    assert [(e.status, e.source) for e in update.events] == [(TrackingStatus.IN_TRANSIT, "1"), (TrackingStatus.IN_TRANSIT, "0")]


@pytest.mark.parametrize(("code", "expected"), [
    ("101", (TrackingStatus.PRE_TRANSIT, None)), ("5", (TrackingStatus.OUT_FOR_DELIVERY, None)),
    ("14", (TrackingStatus.RETURN_TO_SENDER, ExceptionReason.REFUSED)), ("6", (TrackingStatus.RETURN_TO_SENDER, None)),
    ("204", (TrackingStatus.FAILED_ATTEMPT, ExceptionReason.FAILED_ATTEMPT)),
    ("207", (TrackingStatus.EXCEPTION, ExceptionReason.ADDRESS)), ("13", (TrackingStatus.EXCEPTION, ExceptionReason.CUSTOMS)),
    ("208", (TrackingStatus.EXCEPTION, ExceptionReason.CARRIER_DELAY)), ("401", (TrackingStatus.CANCELLED, None)),
])
def test_classify(code, expected):
    assert mapping.classify(code)[:2] == expected


def test_every_documented_code_and_name_is_mapped_and_trouble_has_a_reason():
    assert set(mapping.NAMES.values()) == set(mapping.STATES)
    for status, reason in mapping.STATES.values():
        if status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT):
            assert reason is not None


def test_an_unknown_state_is_refused(payload):
    answer = payload("query_in_transit")
    answer["data"][0]["statusCode"], answer["data"][0]["status"] = "999", "瞬移"
    with pytest.raises(PayloadError, match="unknown Kuaidi100 state"):
        mapping.parse_result(answer)


def test_refusals_say_what_the_code_means_and_whether_to_ask_again(payload):
    assert mapping.refusal(payload("query_in_transit")) is None
    code, why, again = mapping.refusal(payload("query_phone_required"))
    assert code == "408"
    assert "phone" in why
    assert "手机号" in why
    assert not again
    assert mapping.refusal(payload("query_no_result"))[2] is True
    assert mapping.refusal(payload("query_bad_sign"))[:1] == ("503",)


def test_a_push_carries_its_last_result_and_an_abort_without_scans_carries_nothing(payload):
    update = mapping.parse_push(json.dumps(payload("push_param"), ensure_ascii=False))
    assert update.status is TrackingStatus.DELIVERED
    assert update.events[-1].description.startswith("您的快件已签收")
    assert mapping.parse_push(json.dumps(payload("push_abort"), ensure_ascii=False)) is None
    with pytest.raises(PayloadError):
        mapping.parse_push("not json")
