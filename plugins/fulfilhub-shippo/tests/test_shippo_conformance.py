"""fulfilhub's conformance suite, run against the Shippo carrier and its simulator."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import fulfilhub_shippo
from fulfilhub import Label, Money, Rate, SimClock
from fulfilhub.testing.conformance import CarrierSuite

from fulfilhub_shippo import carrier, mapping


class TestShippoConformance(CarrierSuite):
    plugin = fulfilhub_shippo
    entry_point = "shippo"
    type_name = "shippo"
    stages = ("quote", "buy", "buy_retry", "track")
    status_table = mapping.STATUSES
    documented_statuses = ("PRE_TRANSIT", "TRANSIT", "DELIVERED", "RETURNED", "FAILURE", "UNKNOWN")
    unknown_ok = {"UNKNOWN": "Shippo's own word for 'the carrier has told nothing yet' (a tracking number it "
                             "cannot find, or a label not scanned): there is nothing to map it to"}
    reason_table = mapping.SUBSTATUSES
    documented_reasons = tuple(mapping.SUBSTATUSES)
    signature_header = carrier.SIGNATURE_HEADER

    def label_count(self, sim: Any) -> int:
        return sim.labels_sold()

    def sent_scans(self, sim: Any, label: Label) -> list[tuple[str, datetime]]:
        return sim.scans_sent(label.tracking_code)

    def rate_truth(self, sim: Any, rate: Rate) -> Money:
        amount, currency = sim.quoted(rate.rate_id)
        return Money(amount=Decimal(amount), currency=currency)

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        """As the suite's, but each replayed purchase is a first try under a key of its own: Shippo takes no
        idempotency key, so a key the adapter has seen sends it to GET /transactions to look first, and the
        replay would answer that look with a 404 instead of the recorded purchase. That look is a stage of
        its own (``buy_retry``: the outbox's retry of a purchase already made)."""
        bought = adapter.quote(self.shipment_request("fuzz-1"))[0]
        label = adapter.buy(bought, "carrier.buy_label:fuzz/1")
        clock.advance(timedelta(days=2))
        rate = adapter.quote(self.shipment_request("fuzz-2"))[0]
        keys = (f"carrier.buy_label:fuzz/2.{n}" for n in itertools.count())
        return [
            ("quote", lambda: adapter.quote(self.shipment_request())),
            ("buy", lambda: adapter.buy(rate, next(keys))),
            ("buy_retry", lambda: adapter.buy(bought, "carrier.buy_label:fuzz/1")),
            ("track", lambda: adapter.track(label)),
        ]

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        scan = {"status": "TRANSIT", "status_details": "Departed origin facility", "status_date": at.isoformat(),
                "substatus": {"code": "package_departed", "text": "Departed", "action_required": False},
                "location": {"city": "Reno", "state": "NV", "zip": "89502", "country": "US"}}
        track = {"carrier": "usps", "tracking_number": "9205590164917312751089", "eta": None,
                 "tracking_status": scan, "tracking_history": [scan]}
        body = json.dumps({"event": "track_updated", "test": True, "data": track}).encode()
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret, int(at.timestamp()))}, body

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
        stamp = int(headers[carrier.SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
        return {carrier.SIGNATURE_HEADER: carrier.sign(body, secret, stamp)}
