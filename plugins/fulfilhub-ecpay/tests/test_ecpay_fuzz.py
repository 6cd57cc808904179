"""Every ECPay reader turns any form into a model or a PayloadError, never another exception.

ECPay's answers and pushes are forms, so the golden forms are read into fields, mutated
with ``fulfilhub.testing.fuzz`` (each value replaced, dropped, turned into another
type...), written back as forms (a form carries only text) and read again. Mutated
pushes are re-signed, so that the parser, not only the signature check, is reached.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from fulfilhub import Money, Rate
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

import fulfilhub_ecpay
from fulfilhub_ecpay import mapping

MERCHANT, HASH_KEY, HASH_IV = fulfilhub_ecpay.TEST_MERCHANT

RATE = Rate(carrier="ecpay", carrier_name="7-ELEVEN", service="UNIMARTC2C", amount=Money(amount="60", currency="TWD"),
            rate_id="UNIMARTC2C-0123456789abcdef", shipment_ref="fh-shp-000123")


def _as_form(fields: Any, *, sign: bool) -> str:
    pairs = fields.items() if isinstance(fields, dict) else [("value", fields)]
    def wire(value: Any) -> str:  # what arrives is bytes: a lone surrogate comes as the bytes of one, undecodable
        return str(value).encode("utf-8", "surrogatepass").decode("utf-8", "replace")

    text = {wire(k): "" if v is None else wire(v) for k, v in pairs}
    if sign:
        text = mapping.signed({k: v for k, v in text.items() if k != "CheckMacValue"}, HASH_KEY, HASH_IV)
    return urlencode(text)


@pytest.mark.parametrize("golden", ["push_arrived", "push_picked_up", "push_unclaimed", "push_home_delivered",
                                    "push_familymart_arrived"])
def test_pushes_map_or_refuse_every_mutation(payload, golden):
    fields = dict(parse_qsl(payload(golden), keep_blank_values=True))

    def parse(mutated):
        form = mapping.read_form(_as_form(mutated, sign=True), "notification")
        assert mapping.verified(form, HASH_KEY, HASH_IV)
        return mapping.parse_push(form)

    result = assert_maps_or_refuses(parse, mutations(fields, seed=3, count=600), check=check_model)
    assert result.mapped > 50
    assert result.refused > 50


@pytest.mark.parametrize("sign", [True, False], ids=["resigned", "as-mutated"])
def test_create_answers_map_or_refuse_every_mutation(payload, sign):
    fields = dict(parse_qsl(payload("create_ok").removeprefix("1|"), keep_blank_values=True))

    def parse(mutated):
        return mapping.parse_label(mapping.parse_create("1|" + _as_form(mutated, sign=sign), HASH_KEY, HASH_IV), RATE)

    result = assert_maps_or_refuses(parse, mutations(fields, seed=4, count=500), check=check_model)
    assert result.refused > 50
    if sign:
        assert result.mapped > 50


def test_query_answers_map_or_refuse_every_mutation(payload):
    fields = dict(parse_qsl(payload("query_at_store"), keep_blank_values=True))
    result = assert_maps_or_refuses(lambda m: mapping.parse_query(_as_form(m, sign=True), HASH_KEY, HASH_IV),
                                    mutations(fields, seed=5, count=500))
    assert result.mapped > 50
    assert result.refused > 50


def test_map_replies_map_or_refuse_every_mutation(payload):
    fields = dict(parse_qsl(payload("map_reply"), keep_blank_values=True))
    result = assert_maps_or_refuses(lambda m: mapping.pickup_point(mapping.read_form(_as_form(m, sign=False), "map")),
                                    mutations(fields, seed=6, count=400), check=check_model)
    assert result.mapped > 20
    assert result.refused > 20


@pytest.mark.parametrize("text", ["", "|", "1|", "0|", "1|=", "1|a=1&a=2", "1|\udcff=1", b"\xff\xfe", None, 7, "x" * 30_000,
                                  "1|MerchantID=1&%ZZ", "2|RtnCode=300"])
def test_odd_answers_are_refused_with_a_payload_error(text):
    with pytest.raises(mapping.PayloadError):
        mapping.parse_create(text, HASH_KEY, HASH_IV)
    with pytest.raises(mapping.PayloadError):
        mapping.parse_query(text, HASH_KEY, HASH_IV)
