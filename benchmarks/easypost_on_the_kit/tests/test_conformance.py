"""fulfilhub's conformance suite, run against the EasyPost carrier on the kit and EasyPost's simulator."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import fulfilhub_easypost_kit
from fulfilhub.testing.conformance import CarrierSuite
from fulfilhub_easypost_kit import carrier, mapping


class TestEasypostKitConformance(CarrierSuite):
    plugin = fulfilhub_easypost_kit
    entry_point = "easypost_kit"
    type_name = "easypost_kit"
    simulator_options = {"exception_rate": 0.3, "delay_rate": 0.3}
    status_table = mapping.STATUSES
    documented_statuses = mapping.DOCUMENTED_STATUSES
    unknown_ok = mapping.SAYS_NOTHING
    signature_header = carrier.SIGNATURE_HEADER
    expected_failures = {"test_webhook_stale_replay_is_rejected": "EasyPost signs only the body; a replay is "
                         "refused where deliveries are received, by the Event id"}

    def label_count(self, sim: Any) -> int:
        return sim.purchases_count()

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        tracker = {"object": "Tracker", "id": "trk_1", "tracking_code": "9400100000000000000001",
                   "status": "in_transit", "status_detail": "arrived_at_facility", "tracking_details": []}
        body = json.dumps({"object": "Event", "description": "tracker.updated", "result": tracker}).encode()
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret)}, body

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret)}
