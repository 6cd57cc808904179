"""Fallback decisions: warehouse allocation and carrier choice.

Both are ``trylast``: an installed plugin that returns a result wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..hookspecs import hookimpl
from ..models import Order, Rate, StockLevel


@hookimpl(trylast=True)
def allocate_order(order: Order, stock: Sequence[StockLevel]) -> list[tuple[str, str, int]]:
    """One warehouse that has everything (the one with most to spare); else split, fewest first.

    Returns ``[]`` (backorder) when the warehouses together cannot cover the order.
    """
    wanted: dict[str, int] = defaultdict(int)
    for line in order.lines:
        wanted[line.sku] += line.quantity
    available: dict[str, dict[str, int]] = defaultdict(dict)  # warehouse -> sku -> available
    for level in stock:
        available[level.warehouse][level.sku] = level.available

    whole = [
        w for w, skus in available.items() if all(skus.get(sku, 0) >= qty for sku, qty in wanted.items())
    ]
    if whole:
        best = max(whole, key=lambda w: (sum(available[w].get(s, 0) for s in wanted), [-ord(c) for c in w]))
        return [(best, sku, qty) for sku, qty in wanted.items()]

    plan: list[tuple[str, str, int]] = []
    for sku, qty in wanted.items():
        sources = sorted(available, key=lambda w: (-available[w].get(sku, 0), w))
        for warehouse in sources:
            take = min(qty, available[warehouse].get(sku, 0))
            if take > 0:
                plan.append((warehouse, sku, take))
                qty -= take
            if qty == 0:
                break
        if qty:
            return []
    return plan


@hookimpl(trylast=True)
def choose_rate(order: Order, shipment_id: str, rates: Sequence[Rate]) -> Rate | None:
    """The cheapest rate; ties go to the fastest, then to the carrier's name."""
    if not rates:
        return None
    return min(rates, key=lambda r: (r.amount.amount, r.transit_days if r.transit_days is not None else 99, r.carrier_name, r.service))
