"""fulfilhub's conformance suite, run against the Shopee channel and its simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import fulfilhub_shopee
from fulfilhub import Order, ShipmentLine, ShipmentPush, SimClock
from fulfilhub.testing.conformance import ChannelSuite
from fulfilhub_shopee import channel, mapping, webhooks

PUSH_URL = "https://fulfilhub.example.tw/webhooks/conformance-shopee"


class TestShopeeConformance(ChannelSuite):
    plugin = fulfilhub_shopee
    entry_point = "shopee"
    type_name = "shopee"
    simulator_options = {"orders_per_day": 30, "update_rate": 0.2, "cancel_rate": 0.1, "unpaid_rate": 0.2}
    settings = {"partner_id": fulfilhub_shopee.DEMO_PARTNER_ID, "shop_id": fulfilhub_shopee.DEMO_SHOP_ID,
                "push_url": PUSH_URL}
    # Shopee has no call for a seller to post milestones: every one is untold, with the reason.
    status_table = mapping.MILESTONES
    documented_statuses = tuple(mapping.ORDER_STATUSES)
    unknown_ok = mapping.NOT_TOLD
    webhook_secret_setting = "push_key"
    signature_header = webhooks.SIGNATURE_HEADER
    resigned_refusal = ("Shopee's push carries its send time (timestamp) inside the signed body; a body whose "
                        "timestamp is stale or unreadable is refused as a possible replay")

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        """Every answer the adapter reads: token, list and detail (fetch), then tracking number, detail,
        shipping parameter and ship_order (push)."""
        clock.advance(timedelta(hours=6))
        order = next(o for o in map(adapter.parse_order, adapter.fetch_orders(None).payloads)
                     if o.cancelled_at is None)
        push = ShipmentPush(
            shipment_id=f"{order.id}/1",
            lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                        for line in order.lines),
            tracking_code="TCAT0000FUZZ01", tracking_url="https://track.example/TCAT0000FUZZ01",
            carrier_name="T-CAT", service="home",
        )
        return [
            ("fetch_orders", lambda: adapter.fetch_orders(None)),
            ("push_fulfillment", lambda: adapter.push_fulfillment(order, push, "fuzz:pf", attempt=2)),
        ]

    def cursor_at(self, moment: datetime) -> str:
        return channel.cursor_at(moment)

    def fulfillment_count(self, sim: Any, order: Order) -> int:
        return 1 if sim.tracking_number(order.external_id) else 0

    def order_truth(self, sim: Any, order: Order) -> dict[str, Any]:
        shop = sim.order(order.external_id)
        return {"currency": shop["currency"], "total": str(shop["total_amount"]),
                "lines": [(i["model_sku"] or i["item_sku"], i["model_quantity_purchased"],
                           str(i["model_discounted_price"])) for i in shop["item_list"]]}

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {webhooks.SIGNATURE_HEADER: webhooks.sign_push(PUSH_URL, body, secret)}

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        body = json.dumps({"shop_id": fulfilhub_shopee.DEMO_SHOP_ID, "code": 3, "timestamp": int(at.timestamp()),
                           "data": {"ordersn": "2603220XKQ8T3A", "status": "READY_TO_SHIP",
                                    "completed_scenario": "", "update_time": int(at.timestamp())}}).encode()
        return {webhooks.SIGNATURE_HEADER: webhooks.sign_push(PUSH_URL, body, secret)}, body
