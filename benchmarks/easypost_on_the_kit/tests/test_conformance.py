"""fulfilhub's conformance suite, run against the EasypostKit carrier and its simulator."""

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
    status_table = mapping.STATUSES
    documented_statuses = mapping.DOCUMENTED_STATUSES
    signature_header = carrier.SIGNATURE_HEADER

    def label_count(self, sim: Any) -> int:
        return sim.labels_sold()

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        tracking = {"tracking_number": "T1", "eta": None, "events": [
            {"status": "in_transit", "reason": None, "message": "At the hub", "at": at.isoformat(), "location": "Depot"},
        ]}
        body = json.dumps({"type": "tracking.updated", "data": tracking}).encode()
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret, int(at.timestamp()))}, body

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        stamp = int(headers[carrier.SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret, stamp)}
