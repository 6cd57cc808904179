"""``allocate``: intake's holds looked at again, then accepted (and newly stockable
backordered) orders into shipments, reserving stock; an order no warehouse can fill is
backordered.
"""

from __future__ import annotations

import logging

import attrs

from ..engines import allocation, fulfilment, holds, inventory, promise
from ..engines.allocation import Step
from ..errors import ExternalError, FulfilhubError, PluginError
from ..models import Order, OrderStatus
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import stock as stock_store
from .reports import JobReport
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


class _Oversold(Exception):
    """Stock went between reading it and reserving it; the transaction is rolled back."""


def allocate(rt: Runtime) -> JobReport:
    """Look again at orders intake held, then allocate accepted (and newly stockable backordered) ones."""
    report = JobReport("allocate")
    _review_holds(rt, report)
    with rt.store.read() as conn:
        ids = order_store.ids_in(conn, [OrderStatus.ACCEPTED])
        changed = stock_store.changed_at(conn)
        if changed is not None:  # backorders are worth a look only when stock came back
            ids += order_store.ids_in(conn, [OrderStatus.BACKORDERED], modified_before=changed)
        found = order_store.load_many(conn, ids)
    view = inventory.StockView()
    _read_stock(rt, view, {line.sku for order, _ in found.values() for line in order.shippable}, report)
    for order_id in ids:
        if order_id not in found:
            continue
        order, row = found[order_id]
        try:
            report.counts[_allocate_one(rt, view, order, OrderStatus(row.status), report)] += 1
        except FulfilhubError as exc:
            report.errors.append(f"order {order_id}: {exc}")
    return report


def _review_holds(rt: Runtime, report: JobReport) -> None:
    """Intake's holds lift themselves once their checks pass (stock set for an unknown SKU...)."""
    with rt.store.read() as conn:
        held = order_store.ids_in(conn, [OrderStatus.ON_HOLD])
        found = order_store.load_many(conn, holds.held_by_intake(conn, held))
        known_skus = stock_store.known_skus(conn) if found else set()
    for order_id in held:
        if order_id not in found:
            continue
        order, row = found[order_id]
        try:
            with rt.store.transaction() as tx:
                moved = holds.review(tx, rt.hooks, order, row.hold_reason, known_skus=known_skus,
                                     checks=rt.config.intake, at=rt.clock.now())
        except FulfilhubError as exc:
            report.errors.append(f"order {order_id}: {exc}")
            continue
        report.counts["released" if moved else "still_held"] += 1


def _read_stock(rt: Runtime, view: inventory.StockView, skus: set[str], report: JobReport) -> None:
    """Ask each warehouse, once, about the SKUs ``view`` does not know yet. A warehouse that
    keeps its own stock (a 3PL) is read from the stock table ``sync_stock`` fills, which
    holds the reservations the warehouse has not seen yet."""
    synced = set(rt.warehouses_that("keeps_stock"))
    for warehouse in rt.config.warehouses:
        asked = view.unknown(warehouse, skus)
        if not asked:
            continue
        try:
            if warehouse in synced:
                with rt.store.read() as conn:
                    view.add(warehouse, asked, stock_store.levels(conn, warehouses=[warehouse], skus=asked))
                continue
            view.add(warehouse, asked, rt.warehouse(warehouse).stock_levels(asked))
        except ExternalError as exc:
            report.errors.append(f"warehouse {warehouse}: stock levels unavailable: {exc}")


def _allocate_one(rt: Runtime, view: inventory.StockView, order: Order, status: OrderStatus, report: JobReport) -> str:
    """Place one order: read levels, ask for a plan, reserve it; the engine says what next."""
    if allocation.first_step(needs_shipping=bool(order.shippable)) is Step.COMPLETE:
        with rt.store.transaction() as tx:
            fulfilment.complete_without_shipment(tx, rt.hooks, order, status, rt.clock.now())
        return Step.COMPLETE.value
    order = attrs.evolve(order, lines=order.shippable)  # only what goes into parcels is allocated
    skus = {line.sku for line in order.lines}
    attempt = 0
    while True:
        attempt += 1
        if attempt > 1:  # on fresh levels: the stock went meanwhile
            view.forget()
        _read_stock(rt, view, skus, report)
        served = rt.config.stock.warehouses_for(order.channel)  # [stock.channels]: what this channel may sell
        plan = rt.hooks.allocate_order(order=order, stock=[level for level in view.levels(skus)
                                                           if served is None or level.warehouse in served])
        made = None
        if plan:
            try:
                by_warehouse = inventory.split_lines(order, plan)
            except ValueError as exc:
                raise PluginError(f"allocate_order returned a plan that does not fit the order: {exc}") from None
            try:
                with rt.store.transaction() as tx:
                    if promise_store.current(tx.conn, order.id) is None:  # released by a person, or none could be made then
                        promise.promise_order(tx, rt.promise_engine(), order, status, at=rt.clock.now())  # (before it reserves)
                    made = fulfilment.allocate(tx, rt.hooks, order, status, by_warehouse, rt.clock.now())
                    if made is None:
                        raise _Oversold
            except _Oversold:
                made = None
        step = allocation.next_step(status=status, attempt=attempt, planned=bool(plan),
                                    reserved_in=len(made) if made is not None else None)
        if step is not Step.RETRY:
            break
    if step in (Step.ALLOCATED, Step.ALLOCATED_SPLIT):
        view.took(by_warehouse)
        log.info("order %s: allocated to %s", order.id, ", ".join(sorted(by_warehouse)))
        return step.value
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        if step is Step.STILL_BACKORDERED:
            order_store.touch(tx, order.id, now)
            return step.value
        fulfilment.backorder(tx, rt.hooks, order, status, now)
        promise.revise_later(tx, rt.promise_engine(), order, OrderStatus.BACKORDERED, at=now,
                             reason="backordered: not enough stock across warehouses")
    log.info("order %s: backordered (not enough stock)", order.id)
    return step.value
