"""Kuaidi100's answers, in their real shape, mapped to fulfilhub's models (pure functions)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fulfilhub import ExceptionReason, PayloadError, TrackingStatus

from fulfilhub_kuaidi100 import mapping


def test_the_signature_is_the_upper_case_md5_of_the_parts_in_order():
    # RFC 1321's test vector: MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
    assert mapping.sign("a", "b", "c") == "900150983CD24FB0D6963F7D28E17F72"
    assert mapping.sign("abc") == mapping.sign("a", "bc")
    assert mapping.sign("c", "b", "a") != mapping.sign("a", "b", "c")


def test_a_query_param_is_compact_json_with_the_advanced_states():
    assert mapping.query_param("shunfeng", "SF1402233475917", "8000") == \
        '{"com":"shunfeng","num":"SF1402233475917","resultv2":"4","phone":"8000"}'
    sub = mapping.subscribe_param("yuantong", "YT7512460983112", "KEY", "https://shop.example/webhooks/kd", "salt1")
    assert sub == ('{"company":"yuantong","number":"YT7512460983112","key":"KEY","parameters":{"callbackurl":'
                   '"https://shop.example/webhooks/kd","resultv2":"4","salt":"salt1"}}')


def test_a_delivered_sf_parcel_keeps_its_chinese_scans_in_time_order(payload):
    update = mapping.parse_result(payload("query_delivered"))
    assert update.tracking_code == "SF1402233475917"
    assert update.status is TrackingStatus.DELIVERED
    assert [e.source for e in update.events] == ["103", "1002", "1001", "5", "301"]
    assert [e.status for e in update.events] == [TrackingStatus.IN_TRANSIT] * 3 + [
        TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED]
    first = update.events[0]
    assert first.description == "【深圳市】顺丰速运 已收取快件"
    assert first.location == "深圳市"
    assert first.at == datetime(2026, 12, 6, 8, 30, tzinfo=timezone.utc)  # 16:30 in Shanghai
    assert update.events[3].description.startswith("【上海市】快件交给王师傅，正在派送途中")


def test_a_refused_parcel_is_an_exception_then_on_its_way_back(payload):
    update = mapping.parse_result(payload("query_refused"))
    refused = next(e for e in update.events if e.source == "14")
    assert (refused.status, refused.reason) == (TrackingStatus.EXCEPTION, ExceptionReason.REFUSED)
    assert update.status is TrackingStatus.RETURN_TO_SENDER
    assert update.reason is None


def test_trouble_carries_its_reason(payload):
    update = mapping.parse_result(payload("query_exceptions"))
    assert [(e.status, e.reason) for e in update.events][1:] == [
        (TrackingStatus.EXCEPTION, ExceptionReason.CARRIER_DELAY), (TrackingStatus.EXCEPTION, ExceptionReason.DAMAGED)]
    assert (update.status, update.reason) == (TrackingStatus.EXCEPTION, ExceptionReason.DAMAGED)
    customs = mapping.parse_result(payload("query_customs"))
    assert (customs.status, customs.reason) == (TrackingStatus.EXCEPTION, ExceptionReason.CUSTOMS)
    assert [e.status for e in customs.events][:2] == [TrackingStatus.IN_TRANSIT] * 2


def test_scans_without_a_status_code_map_by_their_chinese_word(payload):
    update = mapping.parse_result(payload("query_words_only"))
    assert [e.source for e in update.events] == ["1", "0", "501"]
    assert update.status is TrackingStatus.AVAILABLE_FOR_PICKUP


def test_the_status_is_the_latest_scans_whatever_the_listing_order(payload):
    answer = payload("query_delivered")
    answer["data"].reverse()
    assert mapping.parse_result(answer).status is TrackingStatus.DELIVERED


def test_every_state_and_word_is_mapped_and_every_word_names_a_state():
    assert set(mapping.WORDS.values()) == set(mapping.STATES)
    for code, (status, reason) in mapping.STATES.items():
        assert status is not TrackingStatus.UNKNOWN, code
        assert (reason is not None) == (status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)), code


def test_a_sub_state_the_table_lacks_takes_its_words_meaning_else_its_familys():
    def scan(**fields):
        return mapping.parse_result({"nu": "SF1", "data": [{"ftime": "2026-12-07 10:21:33", "context": "x", **fields}]})

    assert (scan(statusCode="211", status="签收").status, scan(statusCode="211").events[0].source) == (
        TrackingStatus.DELIVERED, "211")
    assert (scan(statusCode="211").status, scan(statusCode="211").reason) == (TrackingStatus.EXCEPTION,
                                                                             ExceptionReason.OTHER)
    assert scan(statusCode="1009").status is TrackingStatus.IN_TRANSIT
    assert scan(statusCode="305").status is TrackingStatus.DELIVERED
    assert [mapping.family(c) for c in ("1002", "203", "3", "99", "9001", "x12")] == ["0", "2", "3", "99", "", "x12"]


@pytest.mark.parametrize("scan, field", [
    ({"ftime": "2026-12-07 10:21:33", "context": "x", "statusCode": "99"}, "data[0].statusCode"),
    ({"ftime": "2026-12-07 10:21:33", "context": "x", "statusCode": "901"}, "data[0].statusCode"),
    ({"ftime": "2026-12-07", "context": "x", "statusCode": "0"}, "data[0].ftime"),
    ({"ftime": "2026-12-07T10:21:33+08:00", "context": "x", "statusCode": "0"}, "data[0].ftime"),
    ({"ftime": "2026-12-07 10:21:33", "context": None, "statusCode": "0"}, "data[0].context"),
    ({"ftime": "2026-12-07 10:21:33", "context": "x", "status": "走丢了"}, "data[0].statusCode"),
])
def test_an_unreadable_scan_is_refused_naming_its_field(scan, field):
    with pytest.raises(PayloadError) as caught:
        mapping.parse_result({"nu": "SF1", "state": "0", "data": [scan]})
    assert caught.value.field == field


def test_a_push_carries_its_last_result_and_an_abort_without_scans_carries_nothing(payload):
    import json

    update = mapping.parse_push(json.dumps(payload("push_polling"), ensure_ascii=False))
    assert update.tracking_code == "JD0098765432101"
    assert update.status is TrackingStatus.OUT_FOR_DELIVERY
    assert update.events[-1].description == "您的订单已分配给配送员【张伟】，正在为您派送，电话：13700000000"
    assert mapping.parse_push(json.dumps(payload("push_abort"))) is None
    with pytest.raises(PayloadError):
        mapping.parse_push("{not json")


def test_autonumber_gives_the_likeliest_courier(payload):
    assert mapping.parse_autonumber(payload("autonumber")) == "yuantong"
    assert mapping.parse_autonumber([]) is None
    with pytest.raises(PayloadError):
        mapping.parse_autonumber([{"comCode": "../../etc"}])


def test_a_refusal_is_told_from_an_answer(payload):
    assert mapping.refusal(payload("query_no_result")) == ("500", "查询无结果，请隔段时间再查")
    assert mapping.refusal(payload("query_delivered")) is None
