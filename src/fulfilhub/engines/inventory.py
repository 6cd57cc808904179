"""Inventory: allocation into shipments with reservations that cannot oversell.

Available-to-sell is ``on_hand - reserved - safety_stock`` per warehouse and SKU. A
reservation is a conditional update that succeeds only while stock is available, in the
same transaction that creates the shipments, so two channels selling the last unit
cannot both get it: the second order is backordered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from ..models import Order, ShipmentLine, ShipmentStatus
from ..store import Tx, queries

#: Shipment statuses that can still be cancelled without a carrier involved.
CANCELLABLE = (ShipmentStatus.PENDING, ShipmentStatus.SUBMITTED, ShipmentStatus.PICKING, ShipmentStatus.PACKED)


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


def reserve_shipments(tx: Tx, order: Order, by_warehouse: dict[str, list[ShipmentLine]], at: datetime) -> list[str] | None:
    """Create one pending shipment per warehouse and reserve its stock.

    Returns the new shipment ids, or None when some stock was no longer available: the
    caller must then roll the transaction back (nothing of it may be kept).
    """
    existing = len(queries.shipments_of(tx.conn, order.id))
    ids: list[str] = []
    for n, (warehouse, lines) in enumerate(sorted(by_warehouse.items()), start=existing + 1):
        shipment_id = f"{order.id}/{n}"
        queries.insert_shipment(tx, shipment_id, order.id, warehouse, lines, ShipmentStatus.PENDING, at)
        per_sku: dict[str, int] = defaultdict(int)
        for line in lines:
            per_sku[line.sku] += line.quantity
        for sku, qty in per_sku.items():
            if not queries.reserve(tx, shipment_id, warehouse, sku, qty):
                return None
        ids.append(shipment_id)
    return ids


def cancel_open_shipments(tx: Tx, order_id: str, at: datetime) -> list[tuple[str, str, str | None]]:
    """Cancel shipments that have not left and release their stock.

    Returns ``(shipment id, warehouse, fulfillment ref)`` for those the warehouse had
    already received, so that the caller can tell the warehouse.
    """
    told: list[tuple[str, str, str | None]] = []
    for row in queries.shipments_of(tx.conn, order_id):
        if row.status not in CANCELLABLE:
            continue
        queries.settle_reservations(tx, row.id, consume=False, at=at)
        queries.update_shipment(tx, row.id, at, status=ShipmentStatus.CANCELLED)
        if row.fulfillment_ref:
            told.append((row.id, row.warehouse, row.fulfillment_ref))
    return told
