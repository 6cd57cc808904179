"""Every Kuaidi100 mapping turns any input into a model or a PayloadError, never another exception."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from fulfilhub.testing import instance_context
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_kuaidi100 import Kuaidi100Carrier, mapping
from fulfilhub_kuaidi100.carrier import SETTINGS


@pytest.mark.parametrize("golden", ["query_in_transit", "query_delivered", "query_damaged", "query_basic_states"])
def test_parse_result_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(mapping.parse_result, mutations(payload(golden), seed=3, count=600), check=check_model)
    assert result.mapped > 50
    assert result.refused > 50


def test_signed_pushes_map_or_refuse_every_mutation(payload):
    salt = "s4lt"
    adapter = Kuaidi100Carrier(instance_context("kd100", {"key": "k", "customer": "c", "salt": salt}, schema=SETTINGS))

    def push(value):
        param = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        body = urlencode({"param": param, "sign": mapping.sign(param, salt)}).encode()
        assert adapter.verify_webhook({}, body), "a re-signed push did not verify"
        return adapter.parse_webhook({}, body)

    result = assert_maps_or_refuses(push, mutations(payload("push_param"), seed=4, count=800), check=check_model)
    assert result.mapped > 50
    assert result.refused > 50
    adapter.close()
