"""fulfilhub's conformance suite, run against the WooCommerce channel and its simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import fulfilhub_woocommerce
from fulfilhub import (
    CompensationKind,
    CompensationProposal,
    Money,
    Order,
    ShipmentLine,
    ShipmentPush,
    SimClock,
    TrackingStatus,
)
from fulfilhub.testing.conformance import ChannelSuite
from fulfilhub_woocommerce import channel, mapping, webhooks

PAYLOADS = Path(__file__).parent / "payloads"


class TestWoocommerceConformance(ChannelSuite):
    plugin = fulfilhub_woocommerce
    entry_point = "woocommerce"
    type_name = "woocommerce"
    simulator_options = {"orders_per_day": 30, "update_rate": 0.2, "cancel_rate": 0.1, "unpaid_rate": 0.2}
    overlap = timedelta(seconds=60)  # the default overlap_seconds: a new pass re-reads the last minute
    # WooCommerce has no tracking vocabulary: milestones become customer notes, worded by fulfilhub.
    status_table = mapping.MILESTONE_NOTES
    documented_statuses = tuple(mapping.MILESTONE_NOTES.values())
    unknown_ok = mapping.NOT_TOLD
    signature_header = webhooks.SIGNATURE_HEADER
    expected_failures = {
        "test_webhook_stale_replay_is_rejected": (
            "WooCommerce signs only the body (X-WC-Webhook-Signature) and sends no time at all, so the adapter "
            "cannot tell an old delivery; a replay is refused where deliveries are received, by "
            "X-WC-Webhook-Delivery-ID, not by the adapter"
        ),
    }

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        """Every answer the adapter reads: the order list, and on a retry the order, its notes and tracking
        items, and the coupons looked up by code; the products found by SKU and the batch answer."""
        clock.advance(timedelta(hours=6))
        order = next(o for o in map(adapter.parse_order, adapter.fetch_orders(None).payloads) if o.cancelled_at is None)
        push = ShipmentPush(
            shipment_id=f"{order.id}/1",
            lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                        for line in order.lines),
            tracking_code="1ZFUZZ0001", tracking_url="https://track.example/1ZFUZZ0001", carrier_name="UPS",
            service="Ground",
        )
        grant = CompensationProposal(kind=CompensationKind.DISCOUNT, value=Money(amount=Decimal("3"), currency="USD"),
                                     tier="late-1d")
        tracked = fuzz_built(adapter, shipment_tracking=True)
        return [
            ("fetch_orders", lambda: adapter.fetch_orders(None)),
            ("push_fulfillment", lambda: tracked.push_fulfillment(order, push, "fuzz:pf", attempt=2)),
            ("push_tracking", lambda: adapter.push_tracking(order, push, TrackingStatus.DELIVERED, "fuzz:pt", attempt=2)),
            ("issue_compensation", lambda: adapter.issue_compensation(order, grant, "fuzz:c", attempt=2)),
            ("push_stock", lambda: adapter.push_stock({"TEE-ORG-M": 3, "NOPE": 1}, "fuzz:s", attempt=1)),
        ]

    def cursor_at(self, moment: datetime) -> str:
        return channel.cursor_at(moment)

    def fulfillment_count(self, sim: Any, order: Order) -> int:
        return len(sim.fulfillments_for(int(order.external_id)))

    def tracking_event_count(self, sim: Any, order: Order) -> int:
        return len(sim.milestones_for(int(order.external_id)))

    def order_truth(self, sim: Any, order: Order) -> dict[str, Any]:
        held = sim.order(int(order.external_id))
        return {"currency": held["currency"], "total": held["total"],
                "lines": [(item["sku"], item["quantity"], Decimal(item["subtotal"]) / item["quantity"])
                          for item in held["line_items"]]}

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret)}

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        order = json.loads((PAYLOADS / "order_processing.json").read_text(encoding="utf-8"))
        stamp = at.replace(tzinfo=None, microsecond=0).isoformat()
        body = json.dumps({**order, "date_modified_gmt": stamp}).encode()
        headers = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret), webhooks.TOPIC_HEADER: "order.updated",
                   webhooks.DELIVERY_HEADER: "8812"}
        return headers, body



def fuzz_built(adapter: Any, **settings: Any) -> Any:
    """Another adapter on the same context (and so the same recording transport), with other settings."""
    return type(adapter)(attrs.evolve(adapter.context, settings={**adapter.context.settings, **settings}))
