"""``allocate``: intake's holds looked at again, then accepted (and newly stockable
backordered) orders into shipments, reserving stock; an order no warehouse can fill is
backordered.

Plans are made on one stock view for the pass (each plan takes its stock from the view)
and stored up to :data:`BATCH` orders per transaction. If a batch's transaction fails
(the stock went meanwhile, or anything else), it is rolled back whole and its orders are
placed again one per transaction on fresh levels: a kill before a batch commits leaves
its orders accepted, placed by the next pass, none twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

import attrs

from ..engines import allocation, fulfilment, holds, inventory, promise
from ..engines.allocation import Step
from ..errors import ExternalError, FulfilhubError, PluginError
from ..models import Order, OrderStatus, StockLevel
from ..store import Tx
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from .reports import JobReport, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


class _Oversold(Exception):
    """Stock went between reading it and reserving it; the transaction is rolled back."""


#: Orders placed per transaction.
BATCH = 100


@attrs.frozen
class _Planned:
    """One order's plan on the pass's stock view, not stored yet (``by_warehouse`` None: no plan)."""

    order: Order
    status: OrderStatus
    complete: bool = False
    by_warehouse: dict | None = None


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
        promised = set(promise_store.current_many(conn, ids)) if found else set()
        shipped = shipment_store.counts_of_orders(conn, ids) if found else {}
    view = inventory.StockView()
    _read_stock(rt, view, {line.sku for order, _ in found.values() for line in order.shippable}, report)
    pending: list[_Planned] = []
    for order_id in ids:
        if order_id not in found:
            continue
        order, row = found[order_id]
        try:
            pending.append(_plan(rt, view, order, OrderStatus(row.status), report))
        except FulfilhubError as exc:
            report.errors.append(f"order {order_id}: {exc}")
            continue
        if len(pending) >= BATCH:
            _store_batch(rt, view, pending, promised, shipped, report)
    if pending:
        _store_batch(rt, view, pending, promised, shipped, report)
    return report


def _plan(rt: Runtime, view: inventory.StockView, order: Order, status: OrderStatus, report: JobReport) -> _Planned:
    """Ask for the order's plan on the pass's levels; the plan takes its stock from the view."""
    if allocation.first_step(needs_shipping=bool(order.shippable)) is Step.COMPLETE:
        return _Planned(order, status, complete=True)
    order = attrs.evolve(order, lines=order.shippable)  # only what goes into parcels is allocated
    skus = {line.sku for line in order.lines}
    _read_stock(rt, view, skus, report)
    plan = rt.hooks.allocate_order(order=order, stock=_served(rt, order, view.levels(skus)))
    if not plan:
        return _Planned(order, status)
    try:
        by_warehouse = inventory.split_lines(order, plan)
    except ValueError as exc:
        raise PluginError(f"allocate_order returned a plan that does not fit the order: {exc}") from None
    view.took(by_warehouse)
    return _Planned(order, status, by_warehouse=dict(by_warehouse))


def _served(rt: Runtime, order: Order, levels: list[StockLevel]) -> list[StockLevel]:
    """The levels of the warehouses that serve the order's channel (``[stock.channels]``:
    what this channel may sell; all of them when it names none)."""
    served = rt.config.stock.warehouses_for(order.channel)
    return [level for level in levels if served is None or level.warehouse in served]


def _store_batch(rt: Runtime, view: inventory.StockView, pending: list[_Planned], promised: set[str],
                 shipped: dict[str, int], report: JobReport) -> None:
    """Store the batch's plans in one transaction; if it fails, place each order alone on fresh levels."""
    steps: list[tuple[_Planned, Step]] = []
    try:
        with rt.store.transaction() as tx:
            tx.gather_appends()  # the batch's order events: one insert at commit
            now = rt.clock.now()
            for each in pending:
                steps.append((each, _store_plan(tx, rt, each, each.order.id in promised, shipped.get(each.order.id),
                                                now)))
    except Exception as exc:  # _Oversold, or one order's trouble: each alone, which says whose
        if not isinstance(exc, _Oversold):
            log.info("allocate: a batch of %d orders was not stored (%s); placing each alone", len(pending),
                     describe_error(exc))
        view.forget()
        for each in pending:
            try:
                report.counts[_allocate_one(rt, view, each.order, each.status, report)] += 1
            except FulfilhubError as exc:
                report.errors.append(f"order {each.order.id}: {exc}")
    else:
        for each, step in steps:
            report.counts[step.value] += 1
            if step in (Step.ALLOCATED, Step.ALLOCATED_SPLIT):
                log.info("order %s: allocated to %s", each.order.id, ", ".join(sorted(each.by_warehouse or ())))
            elif step is Step.BACKORDER:
                log.info("order %s: backordered (not enough stock)", each.order.id)
    pending.clear()


def _store_plan(tx: Tx, rt: Runtime, planned: _Planned, has_promise: bool, existing: int | None,
                now: datetime) -> Step:
    """Store one planned order in the batch's transaction (raise :class:`_Oversold` if its stock went)."""
    order, status = planned.order, planned.status
    if planned.complete:
        fulfilment.complete_without_shipment(tx, rt.hooks, order, status, now)
        return Step.COMPLETE
    if planned.by_warehouse is None:
        step = allocation.next_step(status=status, attempt=allocation.ATTEMPTS, planned=False, reserved_in=None)
        _no_stock(tx, rt, order, status, step, now)
        return step
    if not has_promise:  # released by a person, or none could be made then
        promise.promise_order(tx, rt.promise_engine(), order, status, at=now)  # (before it reserves)
    made = fulfilment.allocate(tx, rt.hooks, order, status, planned.by_warehouse, now, existing=existing)
    if made is None:
        raise _Oversold
    return allocation.next_step(status=status, attempt=1, planned=True, reserved_in=len(made))


def _no_stock(tx: Tx, rt: Runtime, order: Order, status: OrderStatus, step: Step, now: datetime) -> None:
    """Backorder the order (``step``), or only touch it if it already was."""
    if step is Step.STILL_BACKORDERED:
        order_store.touch(tx, order.id, now)
        return
    fulfilment.backorder(tx, rt.hooks, order, status, now)
    promise.revise_later(tx, rt.promise_engine(), order, OrderStatus.BACKORDERED, at=now,
                         reason="backordered: not enough stock across warehouses")


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
        plan = rt.hooks.allocate_order(order=order, stock=_served(rt, order, view.levels(skus)))
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
    with rt.store.transaction() as tx:
        _no_stock(tx, rt, order, status, step, rt.clock.now())
    if step is Step.BACKORDER:
        log.info("order %s: backordered (not enough stock)", order.id)
    return step.value
