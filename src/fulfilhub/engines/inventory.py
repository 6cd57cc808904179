"""Inventory: turning an allocation plan into shipment lines.

Available-to-sell is ``on_hand - reserved - safety_stock`` per warehouse and SKU. The
reservation itself is a conditional update (:func:`fulfilhub.store.stock.reserve`) made
by :func:`fulfilhub.engines.fulfilment.allocate` in the same transaction that creates
the shipments, so two channels selling the last unit cannot both get it: the second
order is backordered. :func:`sellable` and :func:`stock_changes` say what each channel may
sell and which of it it must be told (the ``push_stock`` job), so the shops stop selling
what is gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ..models import Order, ShipmentLine, StockLevel


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


class StockView:
    """Stock levels read once for a whole allocation run, kept current with what it reserves.

    Reading every warehouse for every order costs a call per warehouse per order. The
    runner instead reads the SKUs of all the orders it is about to allocate once, and
    after each allocation takes the reserved quantities off the levels it holds, which
    is what the conditional reservation did to the stock table. A reservation that still
    fails (someone else took the stock meanwhile) makes the runner :meth:`forget` and
    read again.
    """

    def __init__(self) -> None:
        self._levels: dict[tuple[str, str], StockLevel] = {}
        self._asked: dict[str, set[str]] = defaultdict(set)

    def unknown(self, warehouse: str, skus: Iterable[str]) -> list[str]:
        """The SKUs of ``skus`` not yet read from ``warehouse``."""
        asked = self._asked[warehouse]
        return sorted(sku for sku in set(skus) if sku not in asked)

    def add(self, warehouse: str, asked: Iterable[str], levels: Iterable[StockLevel]) -> None:
        """What ``warehouse`` said about ``asked`` (SKUs it does not carry are left out)."""
        self._asked[warehouse].update(asked)
        for level in levels:
            self._levels[(level.warehouse, level.sku)] = level

    def levels(self, skus: Iterable[str]) -> list[StockLevel]:
        wanted = set(skus)
        return [level for (_, sku), level in sorted(self._levels.items()) if sku in wanted]

    def took(self, by_warehouse: Mapping[str, Sequence[ShipmentLine]]) -> None:
        """Reserved: ``by_warehouse``'s quantities are no longer available."""
        for warehouse, lines in by_warehouse.items():
            for line in lines:
                level = self._levels.get((warehouse, line.sku))
                if level is not None:
                    self._levels[(warehouse, line.sku)] = attrs.evolve(level, reserved=level.reserved + line.quantity)

    def forget(self) -> None:
        self._levels.clear()
        self._asked.clear()


def sellable(levels: Iterable[StockLevel]) -> dict[str, int]:
    """What the channels may sell of each SKU: on hand - reserved - safety stock, summed over
    the warehouses given (never below zero in any one of them)."""
    out: dict[str, int] = defaultdict(int)
    for level in levels:
        out[level.sku] += max(0, level.on_hand - level.reserved - level.safety_stock)
    return dict(out)


def stock_changes(now: Mapping[str, int], told: Mapping[str, int]) -> dict[str, int]:
    """The quantities a channel must be told: those that differ from what it was last told
    (a SKU never told is told, one that left the stock table is told 0)."""
    changes = {sku: quantity for sku, quantity in now.items() if told.get(sku) != quantity}
    changes.update({sku: 0 for sku, quantity in told.items() if sku not in now and quantity != 0})
    return dict(sorted(changes.items()))
