"""fulfilhub's conformance suite, run against the EasyPost carrier and its simulator."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import fulfilhub_easypost
from fulfilhub import Label, Money, Rate
from fulfilhub.testing.conformance import CarrierSuite
from fulfilhub_easypost import mapping, webhooks

#: EasyPost's documented Tracker.status values (https://docs.easypost.com/docs/trackers).
DOCUMENTED_STATUSES = (
    "unknown", "pre_transit", "in_transit", "out_for_delivery", "delivered", "available_for_pickup",
    "return_to_sender", "failure", "cancelled", "error",
)

#: EasyPost's documented Tracker.status_detail values (what each adds is in mapping.STATUS_DETAILS).
DOCUMENTED_DETAILS = (
    "address_correction", "arrived_at_destination", "arrived_at_facility", "arrived_at_pickup_location",
    "awaiting_information", "cancelled", "damaged", "delayed", "delivery_exception", "departed_facility",
    "departed_origin_facility", "expired", "failure", "held", "in_transit", "label_created", "lost", "missorted",
    "out_for_delivery", "received_at_destination_facility", "received_at_origin_facility", "refused", "return",
    "status_update", "transferred_to_destination_carrier", "transit_exception", "unknown", "weather_delay",
)


class TestEasyPostConformance(CarrierSuite):
    plugin = fulfilhub_easypost
    entry_point = "easypost"
    type_name = "easypost"
    simulator_options = {"exception_rate": 0.3, "delay_rate": 0.3}
    status_table = mapping.STATUSES
    documented_statuses = DOCUMENTED_STATUSES
    reason_table = mapping.STATUS_DETAILS
    documented_reasons = DOCUMENTED_DETAILS
    unknown_ok = {
        "unknown": "EasyPost's own word for a tracker the carrier has not reported on yet",
        "error": "EasyPost could not read the carrier's tracking: it says nothing about the parcel",
    }
    signature_header = webhooks.SIGNATURE_HEADER
    expected_failures = {
        "test_webhook_stale_replay_is_rejected": (
            "EasyPost signs only the body (X-Hmac-Signature) and retries a failed delivery for days, so a "
            "signed time cannot be checked here; a replay is refused where deliveries are received, by the "
            "Event id, not by the adapter"
        ),
    }

    def label_count(self, sim: Any) -> int:
        return sim.purchases_count()

    def sent_scans(self, sim: Any, label: Label) -> list[tuple[str, datetime]]:
        details = sim.trackers[label.tracker_ref]["tracking_details"]
        return [(d["status"], datetime.fromisoformat(d["datetime"].replace("Z", "+00:00"))) for d in details]

    def rate_truth(self, sim: Any, rate: Rate) -> Money | None:
        shipment = sim.shipments.get(rate.shipment_ref) or {}
        quoted = next((r for r in shipment.get("rates", ()) if r["id"] == rate.rate_id), None)
        return Money(amount=quoted["rate"], currency=quoted["currency"]) if quoted else None

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        tracker = {"object": "Tracker", "id": "trk_1", "tracking_code": "9400100000000000000001",
                   "status": "in_transit", "status_detail": "arrived_at_facility", "tracking_details": [],
                   "updated_at": at.isoformat()}
        body = json.dumps({"object": "Event", "id": "evt_1", "description": "tracker.updated",
                           "created_at": at.isoformat(), "result": tracker}).encode()
        return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret), "Content-Type": "application/json"}, body

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret)}
