"""fulfilhub.sdk: the mapping helpers plugin authors import, and its docs page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fulfilhub import PayloadError, models, sdk
from fulfilhub.engines import tiers
from fulfilhub.testing.fuzz import mutations

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_all_is_sorted_and_every_name_exists():
    assert sdk.__all__ == sorted(sdk.__all__)
    assert [name for name in sdk.__all__ if not hasattr(sdk, name)] == []


def test_the_bounds_and_rules_are_the_cores_own_objects_not_copies():
    assert sdk.MAX_AMOUNT is models.MAX_AMOUNT
    assert sdk.in_range is models.in_range
    assert sdk.cause_of is tiers.cause_of
    assert sdk.Tier is tiers.Tier


@pytest.mark.parametrize("block", re.findall(r"^```python\n(.*?)^```", (DOCS / "sdk.md").read_text(encoding="utf-8"),
                                              re.M | re.S))
def test_the_examples_in_sdk_md_run(block):
    exec(compile(block, "docs/sdk.md", "exec"), {})


def test_mkdocs_lists_the_sdk_page():
    assert "sdk.md" in (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, offset", [
    ("2026-01-05T08:00:00Z", timedelta(0)),
    ("2026-01-05T08:00:00z", timedelta(0)),
    ("2026-01-05T16:00:00+08:00", timedelta(hours=8)),
    (" 2026-01-05T08:00:00.123-05:00 ", timedelta(hours=-5)),
])
def test_parse_time_reads_an_aware_moment(text, offset):
    assert sdk.parse_time(text, field="at").utcoffset() == offset


@pytest.mark.parametrize("value, says", [
    ("2026-01-05T08:00:00", "without a UTC offset"),
    ("next tuesday", "not an ISO 8601 time"),
    ("1850-01-01T00:00:00Z", "outside 1900-2200"),
    ("9999-12-31T23:00:00-12:00", "outside 1900-2200"),
    (1767600000, "expected an ISO 8601 time"),
    ("", "expected an ISO 8601 time"),
    (None, "expected an ISO 8601 time"),
])
def test_parse_time_refuses_with_the_field_named(value, says):
    with pytest.raises(PayloadError, match=says) as caught:
        sdk.parse_time(value, field="created_at")
    assert caught.value.field == "created_at"


def test_a_naive_time_is_utc_only_when_the_api_says_so():
    assert sdk.parse_time("2026-01-05T08:00:00", naive_is_utc=True).utcoffset() == timedelta(0)


@pytest.mark.parametrize("amount, currency, expected", [
    ("19.9", "usd", ("19.90", "USD")),
    ("100", "JPY", ("100", "JPY")),
    (7, "TWD", ("7.00", "TWD")),
    ("1.234", "KWD", ("1.234", "KWD")),
    (" 5.00 ", "EUR", ("5.00", "EUR")),
])
def test_parse_money_is_exact_to_the_minor_unit(amount, currency, expected):
    money = sdk.parse_money(amount, currency, field="price")
    assert (str(money.amount), money.currency) == expected


@pytest.mark.parametrize("amount, currency, says", [
    ("1.5", "JPY", "finer than the currency's minor unit"),
    ("19.905", "USD", "finer than the currency's minor unit"),
    (19.9, "USD", "expected a decimal amount"),
    (True, "USD", "expected a decimal amount"),
    ("NaN", "USD", "not a usable amount"),
    ("1e15", "USD", "not a usable amount"),
    ("-1", "USD", "negative amount"),
    ("abc", "USD", "not a decimal amount"),
    ("1", "US", "ISO 4217"),
    ("1", None, "ISO 4217"),
])
def test_parse_money_refuses(amount, currency, says):
    with pytest.raises(PayloadError, match=says):
        sdk.parse_money(amount, currency, field="price")


def test_a_refund_may_be_negative_when_asked():
    assert sdk.parse_money("-2.50", "USD", negative=True).amount == Decimal("-2.50")


def test_minor_digits_come_from_cldr():
    assert (sdk.minor_digits("usd"), sdk.minor_digits("JPY"), sdk.minor_digits("KWD")) == (2, 0, 3)


def test_header_ignores_case_and_answers_none_when_absent():
    headers = {"X-Shopify-Topic": "orders/create"}
    assert sdk.header(headers, "x-shopify-topic") == "orders/create"
    assert sdk.header(headers, "X-Other") is None


def test_the_helpers_map_or_refuse_whatever_they_are_given():
    seeds = {"at": "2026-01-05T08:00:00Z", "amount": "19.90", "currency": "USD"}
    for payload in mutations(seeds, seed=21):
        if not isinstance(payload, dict):
            continue
        for call in (lambda: sdk.parse_time(payload.get("at"), field="at"),
                     lambda: sdk.parse_money(payload.get("amount"), payload.get("currency"), field="amount")):
            try:
                call()
            except PayloadError:
                pass



# --------------------------------------------------------------------------- JSON shapes and forms


def test_the_shape_readers_take_what_they_promise_and_refuse_the_rest_naming_the_field():
    assert sdk.parse_object({"a": 1}, "x") == {"a": 1}
    assert sdk.parse_list(None, "x") == []
    assert sdk.parse_list([1], "x") == [1]
    assert sdk.parse_text("快件已签收", "context") == "快件已签收"
    assert sdk.parse_text(None, "x", required=False) == ""
    assert sdk.parse_text(3, "state", codes=True) == "3"
    for call, field in ((lambda: sdk.parse_object([], "data"), "data"), (lambda: sdk.parse_list({}, "rates"), "rates"),
                        (lambda: sdk.parse_text(" ", "nu"), "nu"), (lambda: sdk.parse_text(3, "nu"), "nu"),
                        (lambda: sdk.parse_text(True, "nu", codes=True), "nu"),
                        (lambda: sdk.parse_text("x" * 2001, "nu"), "nu"), (lambda: sdk.parse_text("\ud800", "nu"), "nu")):
        with pytest.raises(PayloadError) as refused:
            call()
        assert refused.value.field == field


def test_refusing_turns_what_slips_through_a_mapping_into_a_payload_error():
    @sdk.refusing("Acme track")
    def parse(payload):
        return payload["events"][0] + 1

    assert parse({"events": [1]}) == 2
    for bad in ({}, {"events": []}, {"events": ["x"]}, None):
        with pytest.raises(PayloadError, match="Acme track cannot be mapped"):
            parse(bad)
    assert parse.__name__ == "parse"


def test_parse_form_reads_each_field_once_or_refuses_the_body():
    assert sdk.parse_form("param=%7B%22a%22%3A1%7D&sign=AB".encode()) == {"param": '{"a":1}', "sign": "AB"}
    assert sdk.parse_form(b"param=&sign=") == {"param": "", "sign": ""}
    assert sdk.parse_form(b"param=1&param=2") is None  # which one was signed?
    assert sdk.parse_form(b"\xff\xfe") is None
    assert sdk.parse_form(b"no-equals-sign") is None


def test_by_meaning_reads_a_table_written_by_meaning_and_refuses_a_code_given_twice():
    assert sdk.by_meaning({"in transit": "0 1001", "delivered": "3"}) == {"0": "in transit", "1001": "in transit",
                                                                          "3": "delivered"}
    with pytest.raises(ValueError, match="'3' has two meanings"):
        sdk.by_meaning({"delivered": "3", "returned": "3"})


def test_tracks_only_refuses_to_quote_buy_and_void_saying_why():
    from fulfilhub import Label, Money, PermanentError, Rate

    class Tracker(sdk.TracksOnly):
        name = "kd"

    tracker, fee = Tracker(), Money(amount="0", currency="CNY")
    label = Label(carrier="kd", carrier_name="yunda", service="", tracking_code="4311159956248", cost=fee,
                  shipment_ref="")
    rate = Rate(carrier="kd", carrier_name="yunda", service="", amount=fee, rate_id="r", shipment_ref="")
    for call, says in ((lambda: tracker.buy(rate, "k"), "attach-code"), (lambda: tracker.void(label), "4311159956248")):
        with pytest.raises(PermanentError, match=says) as refused:
            call()
        assert refused.value.service == "kd"


def test_a_stamped_signature_verifies_within_the_tolerance_only():
    from datetime import datetime, timezone

    now = datetime(2026, 12, 8, 1, tzinfo=timezone.utc)
    stamp = int(now.timestamp())
    signed = sdk.stamped_signature(b'{"event":"track_updated"}', "whsec", stamp)
    assert signed.startswith(f"t={stamp},v1=")
    assert sdk.signature_time(signed) == now
    assert sdk.verify_stamped(signed, b'{"event":"track_updated"}', "whsec", now=now, tolerance=300)
    assert sdk.verify_stamped(signed.upper().replace("T=", "t=").replace(",V1=", ",v1="), b'{"event":"track_updated"}',
                              "whsec", now=now, tolerance=300)  # hex in either case
    for value, body, secret, at in ((signed, b"{}", "whsec", now), (signed, b'{"event":"track_updated"}', "other", now),
                                    (signed, b'{"event":"track_updated"}', "whsec", now + timedelta(seconds=301)),
                                    ("v1=abc", b"{}", "whsec", now), ("", b"{}", "whsec", now)):
        assert not sdk.verify_stamped(value, body, secret, now=at, tolerance=300)
    assert sdk.signature_time("t=soon,v1=ab") is None
