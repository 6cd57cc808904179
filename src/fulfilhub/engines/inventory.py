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
from datetime import datetime

import attrs
from markupsafe import escape

from ..models import Notice, NoticeEvent, Order, ShipmentLine, StockLevel
from . import words


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


def sellable(levels: Iterable[StockLevel], warehouses: Iterable[str] | None = None) -> dict[str, int]:
    """What the channels may sell of each SKU: on hand - reserved - safety stock, summed over
    the warehouses given (never below zero in any one of them); ``warehouses``, when given,
    keeps only the levels of those (the warehouses that serve one channel)."""
    if warehouses is not None:
        serving = set(warehouses)
        levels = [level for level in levels if level.warehouse in serving]
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


def low_stock(now: Mapping[str, int], points: Mapping[str, int], low_before: Iterable[str]) -> tuple[list[str], set[str]]:
    """``(the SKUs that just fell to or below their reorder point, every SKU at or below it now)``.

    A SKU is told once per crossing: it stays in the low set, untold, until its sellable
    quantity rises above the point again, and the next fall is a new crossing. A SKU with
    a reorder point and no stock at all is low.
    """
    low_now = {sku for sku, point in points.items() if now.get(sku, 0) <= point}
    return sorted(low_now - set(low_before)), low_now


def low_stock_notice(sku: str, sellable: int, point: int, by_warehouse: Mapping[str, int], *, crossing: int,
                     locale: str, at: datetime) -> Notice:
    """The operator's notice that ``sku`` fell to its reorder point (its ``crossing``-th time):
    keyed ``notice:low_stock:stock:<sku>:<crossing>``, so a retried run writes it once."""
    joiner = ", " if words.language_of(locale) == "en" else "、"
    shown = joiner.join(f"{name} {units}" for name, units in sorted(by_warehouse.items())) or "-"
    values = {"sku": sku, "sellable": sellable, "point": point, "warehouses": shown}
    text = words.text(locale, "low_stock", "text", **values)
    return Notice(key=f"notice:{NoticeEvent.LOW_STOCK}:stock:{sku}:{crossing}", order_id=f"stock:{sku}",
                  order_number=sku, event=NoticeEvent.LOW_STOCK, locale=locale, to="",
                  subject=words.text(locale, "low_stock", "subject", **values), text=text,
                  html=f"<p>{escape(text)}</p>", created_at=at,
                  facts={"sku": sku, "sellable": sellable, "reorder_point": point, "warehouses": dict(by_warehouse)})
