"""Fallback decisions: warehouse allocation and carrier choice.

Both are ``trylast``: an installed plugin that returns a result wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import combinations

from ..hookspecs import hookimpl
from ..models import Order, Promise, Rate, Standing, StockLevel


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


def _price(rate: Rate, standing: Mapping[str, Standing]) -> tuple:
    found = standing.get(rate.carrier)
    price = rate.amount.amount + (found.penalty if found is not None else 0)
    return (price, rate.transit_days if rate.transit_days is not None else 99, rate.carrier_name, rate.service)


@hookimpl(trylast=True)
def choose_rate(order: Order, shipment_id: str, rates: Sequence[Rate], promise: Promise | None,
                arrive_by: Mapping[str, datetime], standing: Mapping[str, Standing],
                skipped: Mapping[str, str]) -> Rate | None:
    """The cheapest rate that arrives by the promise's deliver-by; if none does, the fastest.

    Rates of a carrier its standing excludes (a scorecard below a configured floor) or
    that is ``skipped`` are left out, unless that would leave nothing; a carrier's
    scorecard penalty is added to its rates' price when comparing. Without a promise
    (or without arrival times) simply the cheapest. No currency is converted: a rate in
    the order's currency comes before one in another. Ties go to the fewest stated
    transit days, then to the carrier's name and service.
    """
    allowed = [r for r in rates if r.carrier not in skipped
               and not (standing.get(r.carrier) is not None and standing[r.carrier].excluded)]
    rates = allowed or list(rates)
    if not rates:
        return None

    def price(rate: Rate) -> tuple:  # no currency is converted: the order's own comes first
        return (rate.amount.currency != order.currency, *_price(rate, standing))

    if promise is None or not arrive_by:
        return min(rates, key=price)
    meets = [r for r in rates if r.rate_id in arrive_by and arrive_by[r.rate_id] <= promise.deliver_by]
    if meets:
        return min(meets, key=price)
    known = [r for r in rates if r.rate_id in arrive_by] or list(rates)
    return min(known, key=lambda r: (arrive_by.get(r.rate_id, promise.deliver_by), *price(r)))
