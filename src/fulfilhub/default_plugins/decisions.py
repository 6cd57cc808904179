"""Fallback decisions: warehouse allocation and carrier choice.

Both are ``trylast``: an installed plugin that returns a result wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

from ..hookspecs import hookimpl
from ..models import Order, Rate, StockLevel


#: Never split one order across more warehouses than this.
MAX_SPLIT = 4


@hookimpl(trylast=True)
def allocate_order(order: Order, stock: Sequence[StockLevel]) -> list[tuple[str, str, int]]:
    """The fewest warehouses that cover the order (at most MAX_SPLIT), most to spare first.

    Returns ``[]`` (backorder) when the warehouses together cannot cover the order.
    """
    wanted: dict[str, int] = defaultdict(int)
    for line in order.lines:
        wanted[line.sku] += line.quantity
    available: dict[str, dict[str, int]] = defaultdict(dict)  # warehouse -> sku -> available
    for level in stock:
        available[level.warehouse][level.sku] = level.available

    # the fewest warehouses that together cover everything (one, if any can)
    names = sorted(available)
    for size in range(1, min(len(names), MAX_SPLIT) + 1):
        covering = [
            combo for combo in combinations(names, size)
            if all(sum(available[w].get(sku, 0) for w in combo) >= qty for sku, qty in wanted.items())
        ]
        if covering:
            best = max(covering, key=lambda combo: sum(available[w].get(s, 0) for w in combo for s in wanted))
            return _fill(wanted, {w: available[w] for w in best})
    return []


def _fill(wanted: dict[str, int], available: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    """Take each SKU from the warehouses that have most of it first."""
    plan: list[tuple[str, str, int]] = []
    for sku, qty in wanted.items():
        for warehouse in sorted(available, key=lambda w: (-available[w].get(sku, 0), w)):
            take = min(qty, available[warehouse].get(sku, 0))
            if take > 0:
                plan.append((warehouse, sku, take))
                qty -= take
            if qty == 0:
                break
    return plan


@hookimpl(trylast=True)
def choose_rate(order: Order, shipment_id: str, rates: Sequence[Rate]) -> Rate | None:
    """The cheapest rate; ties go to the fastest, then to the carrier's name."""
    if not rates:
        return None
    return min(rates, key=lambda r: (r.amount.amount, r.transit_days if r.transit_days is not None else 99, r.carrier_name, r.service))
