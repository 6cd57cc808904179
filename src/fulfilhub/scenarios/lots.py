"""The demo's lots and order accuracy: stock received by lot, one lot recalled, one
wrong pick reported by a customer.

:func:`seed_lots` receives two of the first warehouse's SKUs by lot instead of as plain
stock (a lot that expires within the demo's months, a later one, and a small lot that
has already expired, which is never picked); :func:`after_sale` is what happens after
the parcels: a customer reports a wrong item on one delivered order, and the lot that
was picked first is recalled (``fulfilhub trace LOT`` on the demo store lists its orders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from ..engines import lots as lot_engine
from ..models import OrderStatus
from ..store import lots as lot_store
from ..store import orders as order_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from .world import World

#: The lot the demo recalls: the first to expire of the first lot-tracked SKU.
RECALLED = "DEMO-A1"


def seed_lots(world: World, catalog: Sequence[Mapping[str, Any]]) -> list[str]:
    """Receive the first warehouse's stock of two SKUs by lot; the SKUs, in order.

    Each gets ``<X>1`` (two fifths, expiring in 45 days), ``<X>2`` (the rest but two, in
    180 days) and ``<X>0`` (2 units that expired yesterday: counted on hand, never
    picked). The SKU's units on hand stay what the seed gave it.
    """
    first = sorted(world.config.warehouses)[0]
    now = world.clock.now()
    tracked = [item["sku"] for i, item in enumerate(catalog) if i % 3 == 0 and i % 7][:2]
    with world.store.transaction() as tx:
        held = {level.sku: level.on_hand for level in stock_store.levels(tx.conn, warehouses=[first], skus=tracked)}
        for letter, sku in zip("AB", tracked):
            units = held.get(sku, 0)
            if units < 5:
                continue
            stock_store.set_level(tx, first, sku, 0, now)
            soon = units * 2 // 5
            lot_store.receive(tx, first, sku, soon, f"DEMO-{letter}1", (now + timedelta(days=45)).date(), now)
            lot_store.receive(tx, first, sku, units - soon - 2, f"DEMO-{letter}2", (now + timedelta(days=180)).date(),
                              now)
            lot_store.receive(tx, first, sku, 2, f"DEMO-{letter}0", (now - timedelta(days=1)).date(), now)
    return tracked


def after_sale(world: World) -> dict[str, Any]:
    """A customer reports a wrong item on the first delivered order (by id) and the lot
    :data:`RECALLED` is recalled; the figures ``demo --json`` shows: order accuracy and
    the recalled lot's orders, customers and units."""
    now = world.clock.now()
    with world.store.transaction() as tx:
        ids = order_store.ids_in(tx.conn, [OrderStatus.DELIVERED])
        reported = None
        for order_id in sorted(ids):
            loaded = order_store.load(tx.conn, order_id)
            if loaded is None or not loaded[0].lines:
                continue
            order = loaded[0]
            line = order.lines[0]
            lot_engine.report_issue(tx, order, shipment_store.of_order(tx.conn, order_id), line.sku, 1, "wrong_item",
                                    source="customer", at=now, note="a different colour came")
            reported = order_id
            break
    with world.store.read() as conn:
        accuracy = lot_engine.accuracy(*lot_store.accuracy_facts(conn, None, now + timedelta(seconds=1)))
        receivers = lot_engine.receivers(lot_store.trace(conn, RECALLED))
        issues = lot_store.issues(conn)
    if accuracy:  # the SKUs that had an issue; `fulfilhub report` has them all
        accuracy = {**accuracy, "skus": [k for k in accuracy["skus"] if k["units_wrong"]]}
    return {
        "accuracy": accuracy or {},
        "issues": {kind: sum(1 for i in issues if i.kind == kind) for kind in lot_store.ISSUE_KINDS},
        "wrong_pick_order": reported,
        "recalled_lot": {"lot": RECALLED, "orders": len({r["order_id"] for r in receivers if not r["restocked_at"]}),
                         "units": sum(r["quantity"] for r in receivers if not r["restocked_at"]),
                         "restocked": sum(r["quantity"] for r in receivers if r["restocked_at"])},
    }


def summary_lines(after: Mapping[str, Any]) -> list[str]:
    """:func:`after_sale` for people, two lines."""
    if not after:
        return []
    acc = after["accuracy"]
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in after["issues"].items() if n) or "none"
    lines = []
    if acc:
        share = f"{acc['accuracy'] * 100:.1f}%" if acc["accuracy"] is not None else "-"
        lines.append(f"order accuracy: {share} of {acc['shipments']} shipments packed right; issues: {kinds}")
    lot = after["recalled_lot"]
    lines.append(f"recalled lot {lot['lot']}: {lot['units']} units in {lot['orders']} orders")
    return lines
