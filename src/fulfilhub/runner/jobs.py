"""The jobs. Each is idempotent and resumable: run it twice, kill it anywhere, run it
again, and nothing is lost or done twice.

- ``pull_orders``: each channel from its saved cursor, page by page; the cursor is saved
  in the transaction that stores the page; bad payloads are quarantined.
- ``allocate``: accepted and backordered orders into shipments, reserving stock.
- ``poll_warehouses``: picking / packed news for submitted shipments.
- ``buy_labels``: quotes every carrier for packed shipments, lets ``choose_rate`` pick,
  and writes the purchase to the outbox.
- ``deliver_effects``: the outbox (warehouse submissions, labels, channel pushes).
- ``poll_tracking``: scans from the carriers; pushes milestones to the channel.

Work for different channels, warehouses and carriers runs concurrently in threads.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa

from ..engines import intake, inventory, lifecycle
from ..errors import ExternalError, FulfilhubError, PermanentError, PluginError, TransientError
from ..models import (
    FulfillmentStatus,
    Order,
    OrderPage,
    OrderStatus,
    Parcel,
    Rate,
    ShipmentRequest,
    ShipmentStatus,
    TrackingStatus,
)
from ..store import queries
from . import effects
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int], None]  # (what, how many more) for progress bars


@attrs.define
class JobReport:
    """What one job run did: counters and the errors it met (and carried on past)."""

    job: str
    counts: Counter = attrs.Factory(Counter)
    errors: list[str] = attrs.Factory(list)

    def merge(self, other: JobReport) -> None:
        self.counts.update(other.counts)
        self.errors.extend(other.errors)

    @property
    def ok(self) -> bool:
        return not self.errors


def _map(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``work`` over ``items``, in threads when there is more than one (results in order)."""
    items = list(items)
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items)), thread_name_prefix="fulfilhub") as pool:
        return list(pool.map(work, items))


def _grouped(rows: Iterable[sa.Row], key: Callable[[sa.Row], str]) -> dict[str, list[sa.Row]]:
    """Rows by the adapter instance that serves them: one thread per instance, in order within it."""
    out: dict[str, list[sa.Row]] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


def _concurrently(groups: Iterable[T], work: Callable[[T], JobReport], job: str) -> JobReport:
    report = JobReport(job)
    for result in _map(work, groups):
        report.merge(result)
    return report


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FulfilhubError) else f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- pull


def pull_orders(rt: Runtime, *, channels: Sequence[str] | None = None, max_pages: int | None = None,
                progress: Progress | None = None) -> JobReport:
    names = list(channels) if channels is not None else list(rt.config.channels)
    return _concurrently(names, lambda name: pull_channel(rt, name, max_pages=max_pages, progress=progress), "pull_orders")


def pull_channel(rt: Runtime, name: str, *, max_pages: int | None = None, progress: Progress | None = None) -> JobReport:
    """Pull one channel from its saved cursor until it has no more pages (or ``max_pages``).

    The next page is fetched while the current one is stored (one request ahead, never
    more), so the network and the database work at the same time. The cursor is still
    saved only in the transaction that stores its page.
    """
    report = JobReport("pull_orders")
    channel = rt.channel(name)
    with rt.store.read() as conn:
        cursor = queries.get_cursor(conn, name)
        known_skus = queries.known_skus(conn)
    pages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fulfilhub-fetch-{name}") as fetcher:
        ahead: Future[OrderPage] | None = fetcher.submit(channel.fetch_orders, cursor)
        while ahead is not None:
            try:
                page = ahead.result()
            except ExternalError as exc:
                report.errors.append(f"channel {name}: {exc} (cursor kept; the next run resumes here)")
                break
            pages += 1
            more = page.has_more and (max_pages is None or pages < max_pages)
            ahead = fetcher.submit(channel.fetch_orders, page.next_cursor) if more else None
            _store_page(rt, name, channel, page, known_skus, report)
            if progress:
                progress(name, len(page.payloads))
    return report


def _store_page(rt: Runtime, name: str, channel: Any, page: OrderPage, known_skus: set[str], report: JobReport) -> None:
    """Map a page, store what maps, quarantine what does not, and save its cursor: one transaction."""
    mapped: list[Order] = []
    bad: list[tuple[Any, str]] = []
    for payload in page.payloads:
        try:
            mapped.append(channel.parse_order(payload))
        except Exception as exc:  # a mapping bug must not lose the payload either
            bad.append((payload, describe_error(exc)))
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        result = intake.ingest(tx, rt.hooks, mapped, at=now, known_skus=known_skus, intake=rt.config.intake,
                               source=f"channel:{name}")
        fresh = [(p, err) for p, err in bad if queries.quarantine_payload(tx, name, "order", p, err, now)]
        queries.set_cursor(tx, name, page.next_cursor, now)
    for field in attrs.fields(intake.IngestResult):
        report.counts[f"orders_{field.name}"] += getattr(result, field.name)
    report.counts["quarantined"] += len(fresh)
    report.counts["pages"] += 1
    for payload, err in fresh:
        log.warning("channel %s: quarantined a payload (id %s): %s", name, _payload_id(payload), err)


def _payload_id(payload: Any) -> str:
    return str(payload.get("id", "?")) if isinstance(payload, dict) else "?"


# --------------------------------------------------------------------------- allocate


class _Oversold(Exception):
    """Stock went between reading it and reserving it; the transaction is rolled back."""


def allocate(rt: Runtime) -> JobReport:
    report = JobReport("allocate")
    with rt.store.read() as conn:
        ids = queries.order_ids_in(conn, [OrderStatus.ACCEPTED])
        changed = queries.stock_changed_at(conn)
        if changed is not None:  # backorders are worth a look only when stock came back
            ids += queries.order_ids_in(conn, [OrderStatus.BACKORDERED], modified_before=changed)
    for order_id in ids:
        try:
            report.counts[_allocate_one(rt, order_id, report)] += 1
        except FulfilhubError as exc:
            report.errors.append(f"order {order_id}: {exc}")
    return report


def _allocate_one(rt: Runtime, order_id: str, report: JobReport) -> str:
    with rt.store.read() as conn:
        found = queries.load_order(conn, order_id)
    if found is None:
        return "vanished"
    order, row = found
    status = OrderStatus(row.status)
    skus = sorted({line.sku for line in order.lines})
    levels = []
    for warehouse in rt.config.warehouses:
        try:
            levels.extend(rt.warehouse(warehouse).stock_levels(skus))
        except ExternalError as exc:
            report.errors.append(f"warehouse {warehouse}: stock levels unavailable: {exc}")
    plan = rt.hooks.allocate_order(order=order, stock=levels)
    now = rt.clock.now()
    if plan:
        try:
            by_warehouse = inventory.split_lines(order, plan)
        except ValueError as exc:
            raise PluginError(f"allocate_order returned a plan that does not fit the order: {exc}") from None
        try:
            with rt.store.transaction() as tx:
                shipment_ids = inventory.reserve_shipments(tx, order, by_warehouse, now)
                if shipment_ids is None:
                    raise _Oversold
                for shipment_id, warehouse in zip(shipment_ids, sorted(by_warehouse)):
                    queries.enqueue(tx, f"warehouse.submit:{shipment_id}", "warehouse.submit", warehouse,
                                    {"shipment_id": shipment_id}, now)
                where = ", ".join(f"{w} ({sum(ln.quantity for ln in lines)} items)" for w, lines in sorted(by_warehouse.items()))
                lifecycle.transition(tx, rt.hooks, order_id, status, OrderStatus.ALLOCATED, at=now, source="allocation",
                                     reason=f"{len(shipment_ids)} shipment(s): {where}")
            return "allocated" if len(shipment_ids) == 1 else "allocated_split"
        except _Oversold:
            pass
    if status is OrderStatus.BACKORDERED:
        with rt.store.transaction() as tx:
            queries.touch_order(tx, order_id, now)
        return "still_backordered"
    short = ", ".join(f"{ln.quantity} x {ln.sku}" for ln in order.lines)
    with rt.store.transaction() as tx:
        lifecycle.transition(tx, rt.hooks, order_id, status, OrderStatus.BACKORDERED, at=now, source="allocation",
                             reason=f"not enough stock across warehouses for {short}")
    return "backordered"


# --------------------------------------------------------------------------- warehouses

#: What a warehouse's answer means for the shipment.
FULFILLMENT_TO_SHIPMENT = {
    FulfillmentStatus.SUBMITTED: ShipmentStatus.SUBMITTED,
    FulfillmentStatus.PICKING: ShipmentStatus.PICKING,
    FulfillmentStatus.PACKED: ShipmentStatus.PACKED,
    FulfillmentStatus.CANCELLED: ShipmentStatus.CANCELLED,
    FulfillmentStatus.REJECTED: ShipmentStatus.EXCEPTION,
}


def poll_warehouses(rt: Runtime) -> JobReport:
    with rt.store.read() as conn:
        rows = queries.shipments_in(conn, [ShipmentStatus.SUBMITTED, ShipmentStatus.PICKING], due_before=rt.clock.now())
    by_warehouse = _grouped(rows, lambda row: row.warehouse)
    return _concurrently(by_warehouse.items(), lambda item: _poll_warehouse(rt, *item), "poll_warehouses")


def _poll_warehouse(rt: Runtime, name: str, rows: list[sa.Row]) -> JobReport:
    report = JobReport("poll_warehouses")
    warehouse = rt.warehouse(name)
    for row in rows:
        try:
            update = warehouse.status(row.fulfillment_ref)
        except FulfilhubError as exc:
            report.errors.append(f"warehouse {name}, shipment {row.id}: {exc}")
            continue
        target = FULFILLMENT_TO_SHIPMENT.get(update.status)
        if target is None:
            report.errors.append(
                f"warehouse {name}, shipment {row.id}: status {update.status} is not handled "
                f"(a warehouse shipping with its own label is not supported yet)"
            )
            continue
        current = ShipmentStatus(row.status)
        if not lifecycle.shipment_advances(current, target):
            report.counts["unchanged"] += 1
            continue
        now = rt.clock.now()
        with rt.store.transaction() as tx:
            values: dict[str, Any] = {"status": target}
            if update.parcel is not None:
                values["parcel"] = {k: str(v) for k, v in attrs.asdict(update.parcel).items()}
            if target is ShipmentStatus.CANCELLED:
                queries.settle_reservations(tx, row.id, consume=False, at=now)
            queries.update_shipment(tx, row.id, now, **values)
            lifecycle.follow_shipments(tx, rt.hooks, row.order_id, at=now, source=f"warehouse:{name}",
                                       reason=f"shipment {row.id} {target}" + (f": {update.reason}" if update.reason else ""))
        report.counts[str(target)] += 1
    return report


# --------------------------------------------------------------------------- labels


def buy_labels(rt: Runtime) -> JobReport:
    """Quote every carrier for packed shipments without a chosen rate and queue the purchase."""
    report = JobReport("buy_labels")
    with rt.store.read() as conn:
        rows = [r for r in queries.shipments_in(conn, [ShipmentStatus.PACKED]) if not r.rate_id]
    carriers = list(rt.config.carriers)
    if rows and not carriers:
        report.errors.append("packed shipments are waiting, but no carrier is configured")
        return report
    for row in rows:
        with rt.store.read() as conn:
            order, _ = queries.load_order(conn, row.order_id)
        parcel = Parcel(**row.parcel) if row.parcel else Parcel(weight_g=500)
        request = ShipmentRequest(reference=row.id, ship_from=rt.ship_from(row.warehouse), ship_to=order.ship_to, parcel=parcel)
        rates: list[Rate] = []
        for found, error in _map(lambda name: _quote(rt, name, request), carriers):
            rates.extend(found)
            if error:
                report.errors.append(error)
        if not rates:
            report.errors.append(f"shipment {row.id}: no carrier quoted a rate; it stays packed and is retried next run")
            continue
        chosen = rt.hooks.choose_rate(order=order, shipment_id=row.id, rates=rates)
        if chosen is None:
            report.errors.append(f"shipment {row.id}: choose_rate returned no rate")
            continue
        now = rt.clock.now()
        with rt.store.transaction() as tx:
            queries.update_shipment(
                tx, row.id, now,
                carrier=chosen.carrier, carrier_name=chosen.carrier_name, service=chosen.service, rate_id=chosen.rate_id,
                carrier_shipment_ref=chosen.shipment_ref, rate_amount=chosen.amount.amount,
                rate_currency=chosen.amount.currency, transit_days=chosen.transit_days,
            )
            queries.enqueue(tx, f"carrier.buy_label:{row.id}", "carrier.buy_label", chosen.carrier, {"shipment_id": row.id}, now)
        report.counts["rates_chosen"] += 1
    return report


def _quote(rt: Runtime, name: str, request: ShipmentRequest) -> tuple[list[Rate], str | None]:
    """One carrier's rates, or its error: a carrier that is down leaves the others to quote."""
    try:
        return list(rt.carrier(name).quote(request)), None
    except FulfilhubError as exc:
        return [], f"carrier {name}: quote for {request.reference} failed: {exc} (other carriers still asked)"


# --------------------------------------------------------------------------- tracking

TRACKED = (ShipmentStatus.LABEL_PURCHASED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.EXCEPTION)


def poll_tracking(rt: Runtime) -> JobReport:
    with rt.store.read() as conn:
        rows = [r for r in queries.shipments_in(conn, TRACKED, limit=5000) if r.tracking_code]
    by_carrier = _grouped(rows, lambda row: row.carrier)
    return _concurrently(by_carrier.items(), lambda item: _track_carrier(rt, *item), "poll_tracking")


def _track_carrier(rt: Runtime, name: str, rows: list[sa.Row]) -> JobReport:
    report = JobReport("poll_tracking")
    carrier = rt.carrier(name)
    for row in rows:
        try:
            update = carrier.track(effects.label_of(row))
        except FulfilhubError as exc:
            report.errors.append(f"carrier {name}, shipment {row.id}: {exc}")
            continue
        now = rt.clock.now()
        current = ShipmentStatus(row.status)
        target = lifecycle.TRACKING_TO_SHIPMENT[update.status]
        with rt.store.transaction() as tx:
            report.counts["scans_new"] += queries.add_tracking_events(tx, row.id, update.events)
            values: dict[str, Any] = {"est_delivery": update.est_delivery, "exception_reason": update.reason}
            moved = target is not None and lifecycle.shipment_advances(current, target)
            if moved:
                values["status"] = target
                if target is ShipmentStatus.DELIVERED:
                    delivered = [e.at for e in update.events if e.status is TrackingStatus.DELIVERED]
                    values["delivered_at"] = max(delivered) if delivered else now
                    tx.after_commit.append(lambda r=row, at=values["delivered_at"]: rt.hooks.shipment_delivered(
                        order_id=r.order_id, shipment_id=r.id, delivered_at=at))
                queries.enqueue(tx, f"channel.push_tracking:{row.id}:{update.status}", "channel.push_tracking",
                                Order.channel_of(row.order_id), {"shipment_id": row.id, "status": str(update.status)}, now)
            queries.update_shipment(tx, row.id, now, **values)
            if moved:
                lifecycle.follow_shipments(tx, rt.hooks, row.order_id, at=now, source=f"carrier:{name}",
                                           reason=f"{update.tracking_code}: {update.status}"
                                           + (f" ({update.reason})" if update.reason else ""))
        report.counts[f"to_{target}" if moved else "unchanged"] += 1
    return report


# --------------------------------------------------------------------------- outbox


def deliver_effects(rt: Runtime) -> JobReport:
    with rt.store.read() as conn:
        due = queries.due_effects(conn, rt.clock.now())
    by_target = _grouped(due, lambda row: row.target)
    return _concurrently(by_target.values(), lambda rows: _deliver(rt, rows), "deliver_effects")


def _deliver(rt: Runtime, rows: list[sa.Row]) -> JobReport:
    report = JobReport("deliver_effects")
    for effect in rows:
        handler = effects.HANDLERS.get(effect.kind)
        now = rt.clock.now()
        try:
            if handler is None:
                raise PermanentError(f"no handler for effect kind {effect.kind!r}")
            handler(rt, effect, now)
            report.counts[effect.kind] += 1
        except TransientError as exc:
            next_at = now + effects.retry_delay(effect.attempts)
            with rt.store.transaction() as tx:
                queries.retry_effect(tx, effect.id, str(exc), next_at)
            report.counts["retry_later"] += 1
            report.errors.append(f"{effect.kind} {effect.key}: {exc} (retrying at {next_at:%Y-%m-%d %H:%M})")
        except Exception as exc:  # permanent: recorded, shown by `fulfilhub doctor`, others go on
            if not isinstance(exc, FulfilhubError):
                log.exception("effect %s crashed", effect.key)
            with rt.store.transaction() as tx:
                queries.retry_effect(tx, effect.id, describe_error(exc), now, failed=True)
            report.counts["failed"] += 1
            report.errors.append(f"{effect.kind} {effect.key} failed: {describe_error(exc)}")
    return report


# --------------------------------------------------------------------------- one pass


def sync_once(rt: Runtime, *, progress: Progress | None = None) -> list[JobReport]:
    """One pass of every job, in the order an order travels."""
    return [
        pull_orders(rt, progress=progress),
        allocate(rt),
        deliver_effects(rt),
        poll_warehouses(rt),
        buy_labels(rt),
        deliver_effects(rt),
        poll_tracking(rt),
        deliver_effects(rt),
    ]


JOBS: dict[str, Callable[[Runtime], JobReport]] = {
    "pull_orders": pull_orders,
    "allocate": allocate,
    "poll_warehouses": poll_warehouses,
    "buy_labels": buy_labels,
    "deliver_effects": deliver_effects,
    "poll_tracking": poll_tracking,
}


def summarize(reports: Iterable[JobReport]) -> JobReport:
    total = JobReport("sync")
    for report in reports:
        total.merge(report)
    return total
