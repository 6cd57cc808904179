"""The ``sync_stock`` job: copy each 3PL's stock into the table fulfilhub allocates from.

A warehouse whose type keeps its own stock (``WarehouseType(keeps_stock=True)``, a 3PL)
is asked for its levels of every SKU worth knowing (those in the stock table and those
of held, accepted and backordered orders). What it can still fulfil (its on hand less
what it holds committed: ``StockLevel.available`` before safety stock) is written to
the ``stock`` table by :func:`fulfilhub.store.stock.sync_levels`, which adds back the
reservations of shipments it has already been sent (it counts them as committed; they
are fulfilhub's reservations too) and keeps the reservations it has not seen. So
allocation, which reads that table for such a warehouse, never promises a unit twice,
and the low-stock warning and ``push_stock`` read the same numbers as for own stock.
Safety stock and unit weights set with ``fulfilhub stock set`` are kept.

Idle when nothing changed: only rows whose number moved are written. Crash-safe: the
shipments the warehouse has seen are read before it is asked, and each warehouse's rows
are written in one transaction; a run killed anywhere is simply run again.
"""

from __future__ import annotations

import logging

from ..errors import ExternalError, PayloadError, Unreachable
from ..store import stock as stock_store
from .reports import JobReport, concurrently, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


def sync_stock(rt: Runtime) -> JobReport:
    """Pull every 3PL warehouse's stock into the stock table."""
    names = rt.warehouses_that("keeps_stock")
    if not names:
        return JobReport("sync_stock")
    with rt.store.read() as conn:  # before any warehouse is asked: what each has been sent
        skus = sorted(stock_store.skus_wanted(conn))
        seen = {name: stock_store.submitted_reservations(conn, name) for name in names}
    return concurrently(names, lambda name: _sync(rt, name, skus, seen[name]), "sync_stock")


def _sync(rt: Runtime, name: str, skus: list[str], seen: set[str]) -> JobReport:
    report = JobReport("sync_stock")
    if not skus:
        report.counts["unchanged"] += 1
        return report
    try:
        levels = list(rt.warehouse(name).stock_levels(skus))
    except Unreachable as exc:
        report.unreachable(exc)
        return report
    except ExternalError as exc:
        report.errors.append(f"warehouse {name}: stock not synced, the table keeps its last levels: "
                             f"{describe_error(exc)}")
        return report
    asked = set(skus)
    fulfillable: dict[str, int] = {}
    for level in levels:
        if level.sku not in asked or level.sku in fulfillable:
            report.errors.append(f"warehouse {name}: {describe_error(PayloadError(f'SKU {level.sku!r} reported unasked or twice'))}")
            return report
        fulfillable[level.sku] = max(0, level.on_hand - level.reserved)
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        listed = {level.sku for level in stock_store.levels(tx.conn, warehouses=[name], skus=skus)}
        for sku in listed - set(fulfillable):  # no longer carried: nothing left to fulfil
            fulfillable[sku] = 0
        changed = stock_store.sync_levels(tx, name, fulfillable, seen, now)
    if changed:
        log.info("warehouse %s: stock synced, %s", name,
                 ", ".join(f"{sku} {old}->{new}" for sku, (old, new) in list(changed.items())[:10]))
        report.counts["skus_changed"] += len(changed)
    else:
        report.counts["unchanged"] += 1
    return report
