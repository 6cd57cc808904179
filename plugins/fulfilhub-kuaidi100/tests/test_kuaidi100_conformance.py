"""fulfilhub's conformance suite, run against the Kuaidi100 carrier (tracks only) and its simulator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import fulfilhub_kuaidi100
from fulfilhub import Label
from fulfilhub.testing.conformance import CarrierSuite

from fulfilhub_kuaidi100 import mapping, outside_label

_FORM = ("a Kuaidi100 push is a form (param=<JSON>&sign=<MD5>) whose signature is a form field, not a header")


class TestKuaidi100Conformance(CarrierSuite):
    plugin = fulfilhub_kuaidi100
    entry_point = "kuaidi100"
    type_name = "kuaidi100"
    stages = ("track",)  # tracks_only: no quote, no purchase
    credentials = {"key": ("key", "kd100-conformance-key-0123")}
    settings = {"customer": "CONFORMANCE0001", "autonumber_url": "/autonumber/auto"}
    simulator_options = {"customer": "CONFORMANCE0001"}
    status_table = mapping.STATES
    documented_statuses = tuple(mapping.STATES)
    reason_table = mapping.WORDS
    documented_reasons = tuple(mapping.WORDS)
    webhook_secret_setting = "salt"
    signature_header = "sign"
    expected_failures = {
        "test_webhook_without_the_signature_header_is_rejected": f"{_FORM}; a push without it is refused "
                                                                 "(test_kuaidi100_webhooks)",
        "test_webhook_signatures_are_compared_in_constant_time": f"{_FORM}; the comparison is checked in "
                                                                 "test_kuaidi100_webhooks",
        "test_webhook_bodies_survive_mutation": f"{_FORM}, not a JSON body; its param JSON is fuzzed in "
                                                "test_kuaidi100_fuzz",
        "test_webhook_stale_replay_is_rejected": "Kuaidi100 signs no send time (sign = MD5 of param + salt): a "
                                                 "replay is known by its param (webhook_delivery) and adds no scan",
    }

    def outside_label(self, sim: Any, reference: str) -> Label:
        couriers = ("shunfeng", "zhongtong", "yuantong", "yunda", "jd", "ems")
        com = couriers[sum(map(ord, reference)) % len(couriers)]
        number = sim.ship(com, phone="13800138000")
        return outside_label("conformance-kuaidi100", number, courier=com, phone="8000")

    def sent_scans(self, sim: Any, label: Label) -> list[tuple[str, datetime]]:
        return sim.scans(label.tracking_code)

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        stamp = at.astimezone(mapping.CST).strftime("%Y-%m-%d %H:%M:%S")
        result = {"message": "ok", "nu": "SF1234567890123", "ischeck": "0", "condition": "F00", "com": "shunfeng",
                  "status": "200", "state": "1002", "data": [
                      {"time": stamp, "ftime": stamp, "context": "快件在【深圳转运中心】已装车，准备发往下一站",
                       "location": "深圳市", "areaCode": "CN440300000000", "areaName": "广东,深圳市",
                       "status": "干线", "statusCode": "1002"}]}
        param = json.dumps({"status": "polling", "message": "", "lastResult": result}, ensure_ascii=False)
        body = urlencode({"param": param, "sign": mapping.sign(param, secret)}).encode()
        return {"Content-Type": "application/x-www-form-urlencoded"}, body

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {}
