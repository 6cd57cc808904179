"""Inventory: turning an allocation plan into shipment lines.

Available-to-sell is ``on_hand - reserved - safety_stock`` per warehouse and SKU. The
reservation itself is a conditional update (:func:`fulfilhub.store.stock.reserve`) made
by :func:`fulfilhub.engines.fulfilment.allocate` in the same transaction that creates
the shipments, so two channels selling the last unit cannot both get it: the second
order is backordered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..models import Order, ShipmentLine


def split_lines(order: Order, plan: Sequence[tuple[str, str, int]]) -> dict[str, list[ShipmentLine]]:
    """Turn an allocation plan ``[(warehouse, sku, qty)]`` into shipment lines per warehouse.

    Quantities are assigned to the order's lines in order, so a shipment line keeps the
    channel's line id (needed to report a fulfillment back to the channel).
    """
    remaining: dict[tuple[str, str], int] = defaultdict(int)
    for warehouse, sku, qty in plan:
        remaining[(warehouse, sku)] += qty
    out: dict[str, list[ShipmentLine]] = defaultdict(list)
    for line in order.lines:
        need = line.quantity
        for (warehouse, sku), left in list(remaining.items()):
            if sku != line.sku or left <= 0 or need == 0:
                continue
            take = min(need, left)
            out[warehouse].append(ShipmentLine(sku=sku, quantity=take, order_line_id=line.external_id))
            remaining[(warehouse, sku)] -= take
            need -= take
        if need:
            raise ValueError(f"allocation for {order.id} leaves {need} x {line.sku} uncovered: {plan!r}")
    return dict(out)
