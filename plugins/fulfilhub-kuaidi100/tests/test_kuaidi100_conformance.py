"""fulfilhub's conformance suite, run against the Kuaidi100 adapter and its simulator.

Kuaidi100 only tracks: it quotes no rate and sells no label, so the checks that buy a
label cannot pass, and its pushes carry their signature in the form body with no time
in it. Those checks are expected failures, each with the reason; the same ground is
covered by this plugin's own tests where it applies (tests/test_kuaidi100_*.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fulfilhub import Label, Money
from fulfilhub.testing.conformance import CarrierSuite

import fulfilhub_kuaidi100
from fulfilhub_kuaidi100 import mapping

KEY, CUSTOMER = "kd100-conformance-key-0123", "KD100CUSTOMER0123"
SALT = "whsec-conformance-0123"
NO_LABELS = "Kuaidi100 only tracks: it quotes no rate and sells no label (labels come from elsewhere)"


def outside_label(number: str = "YT7412345678901") -> Label:
    """A label bought elsewhere: the courier (YTO) and its tracking number."""
    return Label(carrier="conformance-kuaidi100", carrier_name="YTO", service="", tracking_code=number,
                 cost=Money(amount="0", currency="CNY"), shipment_ref="")


class TestKuaidi100Conformance(CarrierSuite):
    plugin = fulfilhub_kuaidi100
    entry_point = "kuaidi100"
    type_name = "kuaidi100"
    settings = {}
    credentials = {"key": ("key", KEY), "customer": ("customer", CUSTOMER)}
    status_table = {code: status for code, (status, _reason) in mapping.STATES.items()}
    documented_statuses = tuple(mapping.NAMES.values())
    reason_table = mapping.NAMES
    documented_reasons = tuple(mapping.NAMES)
    webhook_secret_setting = "salt"
    signature_header = "sign"  # a form field of the body, not a header (see expected_failures)
    expected_failures = {
        "test_quotes_rates_for_the_request": NO_LABELS,
        "test_buying_the_same_rate_twice_with_one_key_makes_one_label": NO_LABELS,
        "test_a_repeated_void_succeeds": NO_LABELS,
        "test_every_scan_the_simulator_emits_maps_to_a_normalized_status": NO_LABELS + "; every scan of the "
        "simulator's fates is mapped in test_kuaidi100_carrier.py instead",
        "test_webhook_without_the_signature_header_is_rejected": "Kuaidi100 signs in the form body (sign=...), not "
        "a header; a body without sign is refused in test_kuaidi100_webhooks.py",
        "test_webhook_stale_replay_is_rejected": "Kuaidi100 signs no time (MD5 of param + salt): a replay is "
        "stopped only by the server's inbox, which keeps each body once",
        "test_webhook_bodies_survive_mutation": "a push is a form (param=JSON&sign=...), not a JSON body; "
        "test_kuaidi100_fuzz.py mutates the param JSON and re-signs it",
        "test_webhook_signatures_are_compared_in_constant_time": "the suite forges a signature header; the sign "
        "is in the body, compared with hmac.compare_digest (test_kuaidi100_webhooks.py checks it)",
    }

    def exercise(self, adapter: Any) -> Any:
        return adapter.track(outside_label())

    def fuzz_stages(self, adapter: Any, sim: Any, clock: Any) -> Any:
        return [("track", lambda: adapter.track(outside_label()))]

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        result = {"message": "ok", "nu": "YT7412345678901", "ischeck": "0", "condition": "F00", "com": "yuantong",
                  "status": "200", "state": "0", "data": [{"time": f"{at:%Y-%m-%d %H:%M:%S}",
                                                           "ftime": f"{at:%Y-%m-%d %H:%M:%S}", "context": "快件离开【上海转运中心】",
                                                           "status": "干线", "statusCode": "1002", "areaName": "上海,上海市"}]}
        param = mapping_json({"status": "polling", "message": "", "lastResult": result})
        return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(
            {"param": param, "sign": mapping.sign(param, secret)}).encode()


def mapping_json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
