"""fulfilhub's conformance suite, run against the Amazon channel and its simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import fulfilhub_amazon
from fulfilhub import Order, ShipmentLine, ShipmentPush, SimClock
from fulfilhub.testing.conformance import ChannelSuite
from fulfilhub_amazon import channel, mapping, webhooks


class TestAmazonConformance(ChannelSuite):
    plugin = fulfilhub_amazon
    entry_point = "amazon"
    type_name = "amazon"
    # US orders in USD and Japanese ones in JPY (no minor unit), in turn
    simulator_options = {"orders_per_day": 30, "update_rate": 0.2, "cancel_rate": 0.1, "pending_rate": 0.2,
                         "afn_rate": 0.1}
    # Amazon takes no milestone after confirmShipment: every one is untold, with the reason.
    status_table = mapping.MILESTONES
    documented_statuses = tuple(mapping.ORDER_STATUSES)
    unknown_ok = mapping.NOT_TOLD
    webhook_secret_setting = "relay_secret"
    signature_header = webhooks.SIGNATURE_HEADER
    resigned_refusal = ("the relayed notification carries Amazon's PublishTime inside the signed body; a body whose "
                        "PublishTime is stale or unreadable is refused as a possible replay")

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        """Every answer the adapter reads: token, restricted data token, orders and items (fetch), then the
        shipment confirmation (push) and the listings patch (stock)."""
        clock.advance(timedelta(hours=6))
        order = next(o for o in map(adapter.parse_order, adapter.fetch_orders(None).payloads)
                     if o.cancelled_at is None and o.shippable)
        push = ShipmentPush(
            shipment_id=f"{order.id}/1",
            lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                        for line in order.lines),
            tracking_code="9400100000000000000001", tracking_url="https://track.example/9400100000000000000001",
            carrier_name="USPS", service="Priority",
        )
        return [
            ("fetch_orders", lambda: adapter.fetch_orders(None)),
            ("push_fulfillment", lambda: adapter.push_fulfillment(order, push, "fuzz:pf", attempt=2)),
            ("push_stock", lambda: adapter.push_stock({"TEE-ORG-M": 7, "NOPE-SKU": 1}, "fuzz:ps", attempt=1)),
        ]

    def cursor_at(self, moment: datetime) -> str:
        return channel.cursor_at(moment)

    def fulfillment_count(self, sim: Any, order: Order) -> int:
        return len(sim.packages_for(order.external_id))

    def order_truth(self, sim: Any, order: Order) -> dict[str, Any]:
        held = sim.order(order.external_id)
        return {"currency": held["OrderTotal"]["CurrencyCode"], "total": held["OrderTotal"]["Amount"],
                "lines": [(i["SellerSKU"], i["QuantityOrdered"],
                           str(Decimal(i["ItemPrice"]["Amount"]) / i["QuantityOrdered"])) for i in held["_items"]]}

    def resign(self, headers: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret)}

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        body = json.dumps(webhooks.order_change("113-5550101-7654321", at=at,
                                                notification_id="8c1f1e5a-0000-4b2a-9d3e-000000000001")).encode()
        return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret)}, body
