"""The jobs. Each is idempotent and resumable: run it twice, kill it anywhere, run it
again, and nothing is lost or done twice.

A job selects the work that is due, calls an adapter, and hands the answer to an engine
(:mod:`fulfilhub.engines.fulfilment`, :mod:`~fulfilhub.engines.intake`) in one
transaction; it decides nothing itself.

- ``pull_orders``: each channel from its saved cursor, page by page; the cursor is saved
  in the transaction that stores the page; bad payloads are quarantined.
- ``allocate``: accepted and backordered orders into shipments, reserving stock.
- ``poll_warehouses``: picking / packed news for submitted shipments.
- ``buy_labels``: quotes every carrier for packed shipments, lets ``choose_rate`` pick,
  and writes the purchase to the outbox.
- ``deliver_effects``: the outbox (warehouse submissions, labels, channel pushes).
- ``poll_tracking``: scans from the carriers for shipments whose next look is due.
- ``process_inbox`` (:mod:`.inbox`): the webhooks ``fulfilhub serve`` stored.
- ``assess_delays``: open orders against their promises (:mod:`fulfilhub.runner.delays`).
- ``notices``: delay assessments and status events into compensations and customer
  notices (:mod:`fulfilhub.runner.notices`).
- ``push_stock`` (:mod:`.stock`): changed sellable quantities to the channels that take them.

Work for different channels, warehouses and carriers runs concurrently in threads; one
item that fails is reported and the others go on.

With ``[server] poll_backoff``, ``pull_orders`` and ``poll_tracking`` back off for an
instance whose webhooks are healthy (:func:`backing_off`): polling stays the safety net.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from ..engines import fulfilment, holds, intake, inventory, promise
from ..errors import ExternalError, FulfilhubError, PluginError, TransientError
from ..models import Order, OrderPage, OrderStatus, Parcel, Rate, Shipment, ShipmentRequest, ShipmentStatus
from ..store import cursors, job_runs
from ..store import inbox as inbox_store
from ..store import orders as order_store
from ..store import outbox
from ..store import promises as promise_store
from ..store import quarantine as quarantine_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from . import effects
from . import notices as notice_job
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


def _grouped(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Items by the adapter instance that serves them: one thread per instance, in order within it."""
    out: dict[str, list[T]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def _concurrently(groups: Iterable[T], work: Callable[[T], JobReport], job: str) -> JobReport:
    report = JobReport(job)
    for result in _map(work, groups):
        report.merge(result)
    return report


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FulfilhubError) else f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- pull


def healthy_webhooks(conn: Any, config: Any, now: datetime) -> dict[tuple[str, str], datetime]:
    """The instances whose polls may back off (``[server] poll_backoff``): those whose last
    processed webhook is younger than it, ``{(kind, instance): when it arrived}``."""
    every = config.server.poll_backoff
    if every is None:
        return {}
    return inbox_store.last_processed(conn, now - every)


def backing_off(rt: Runtime, kind: str, names: Iterable[str]) -> dict[str, datetime]:
    """The instances of ``kind`` whose poll waits now, ``{name: when it is due}``.

    An instance waits while its webhooks are healthy (see :func:`healthy_webhooks`) and
    this runtime polled it less than ``poll_backoff`` ago. As soon as its last webhook is
    older than that, it is polled on the job's own schedule again.
    """
    every = rt.config.server.poll_backoff
    if every is None:
        return {}
    now = rt.clock.now()
    with rt.store.read() as conn:
        healthy = healthy_webhooks(conn, rt.config, now)
    waiting = {}
    for name in names:
        polled = rt.polled.get((kind, name))
        if (kind, name) in healthy and polled is not None and now < polled + every:
            waiting[name] = polled + every
    return waiting


def pull_orders(rt: Runtime, *, channels: Sequence[str] | None = None, max_pages: int | None = None,
                progress: Progress | None = None) -> JobReport:
    """Pull every channel (or ``channels``: those are pulled even while backing off)."""
    names = list(channels) if channels is not None else list(rt.config.channels)
    waiting = backing_off(rt, "channels", names) if channels is None else {}
    report = _concurrently([n for n in names if n not in waiting],
                           lambda name: pull_channel(rt, name, max_pages=max_pages, progress=progress), "pull_orders")
    for name, due in waiting.items():
        report.counts["backed_off"] += 1
        log.debug("channel %s: webhooks are healthy; the next poll is at %s", name, due)
    return report


def pull_channel(rt: Runtime, name: str, *, max_pages: int | None = None, progress: Progress | None = None) -> JobReport:
    """Pull one channel from its saved cursor until it has no more pages (or ``max_pages``).

    The next page is fetched and mapped while the current one is stored (one page
    ahead, never more), so the network, the mapping and the database work at the same
    time. The cursor is still saved only in the transaction that stores its page.
    """
    report = JobReport("pull_orders")
    channel = rt.channel(name)
    rt.polled["channels", name] = rt.clock.now()
    with rt.store.read() as conn:
        cursor = cursors.get(conn, name)
        known_skus = stock_store.known_skus(conn)
    pages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fulfilhub-fetch-{name}") as fetcher:
        ahead: Future[_Mapped] | None = fetcher.submit(_fetch_and_map, channel, cursor)
        while ahead is not None:
            try:
                page, mapped, bad = ahead.result()
            except ExternalError as exc:
                report.errors.append(f"channel {name}: {exc} (cursor kept; the next run resumes here)")
                break
            pages += 1
            log.info("channel %s: pulled page %d (%d orders%s)", name, pages, len(page.payloads),
                     ", more to come" if page.has_more else "")
            more = page.has_more and (max_pages is None or pages < max_pages)
            ahead = fetcher.submit(_fetch_and_map, channel, page.next_cursor) if more else None
            if page.payloads or page.next_cursor != cursor:  # an empty page that moves nothing writes nothing
                _store_page(rt, name, page, mapped, bad, known_skus, report, save_cursor=page.next_cursor != cursor)
            cursor = page.next_cursor
            if progress:
                progress(name, len(page.payloads))
    return report


_Mapped = tuple[OrderPage, list[tuple[Any, Order]], list[tuple[Any, str]]]


def _fetch_and_map(channel: Any, cursor: str | None) -> _Mapped:
    """Fetch the page after ``cursor`` and map each record: ``(page, [(payload, order)], [(payload, error)])``."""
    page = channel.fetch_orders(cursor)
    mapped: list[tuple[Any, Order]] = []
    bad: list[tuple[Any, str]] = []
    for payload in page.payloads:
        try:
            mapped.append((payload, channel.parse_order(payload)))
        except Exception as exc:  # a mapping bug must not lose the payload either
            bad.append((payload, describe_error(exc)))
    return page, mapped, bad


def _store_page(rt: Runtime, name: str, page: OrderPage, mapped: list[tuple[Any, Order]], bad: list[tuple[Any, str]],
                known_skus: set[str], report: JobReport, *, save_cursor: bool = True) -> None:
    """Store what mapped, quarantine what did not, and save the page's cursor: one transaction.

    A record that maps but that the store refuses (a value the database cannot hold)
    must not jam the channel: the page is then stored again record by record, each in a
    savepoint, and the record that fails is quarantined alone with its reason.
    """
    now = rt.clock.now()
    source = f"channel:{name}"
    promises = rt.promise_engine() if mapped else None
    try:
        with rt.store.transaction() as tx:
            result = intake.ingest(tx, rt.hooks, [order for _, order in mapped], at=now, known_skus=known_skus,
                                   intake=rt.config.intake, source=source, promises=promises)
            fresh = [(p, err) for p, err in bad if quarantine_store.keep(tx, name, "order", p, err, now)]
            if save_cursor:
                cursors.save(tx, name, page.next_cursor, now)
    except Exception as exc:
        log.warning("channel %s: the store refused a page (%s); storing it record by record", name, describe_error(exc))
        result = intake.IngestResult()
        with rt.store.transaction() as tx:
            for payload, order in mapped:
                hooks_before = len(tx.after_commit)
                try:
                    with tx.conn.begin_nested():
                        result.add(intake.ingest(tx, rt.hooks, [order], at=now, known_skus=known_skus,
                                                 intake=rt.config.intake, source=source, promises=promises))
                except Exception as refused:  # this record alone: rolled back to its savepoint
                    del tx.after_commit[hooks_before:]
                    bad.append((payload, f"the store refused the mapped order {order.id}: {describe_error(refused)}"))
            fresh = [(p, err) for p, err in bad if quarantine_store.keep(tx, name, "order", p, err, now)]
            if save_cursor:
                cursors.save(tx, name, page.next_cursor, now)
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
    """Ask each warehouse, once, about the SKUs ``view`` does not know yet."""
    for warehouse in rt.config.warehouses:
        asked = view.unknown(warehouse, skus)
        if not asked:
            continue
        try:
            view.add(warehouse, asked, rt.warehouse(warehouse).stock_levels(asked))
        except ExternalError as exc:
            report.errors.append(f"warehouse {warehouse}: stock levels unavailable: {exc}")


def _allocate_one(rt: Runtime, view: inventory.StockView, order: Order, status: OrderStatus, report: JobReport) -> str:
    if not order.shippable:
        with rt.store.transaction() as tx:
            fulfilment.complete_without_shipment(tx, rt.hooks, order, status, rt.clock.now())
        return "completed_without_shipment"
    order = attrs.evolve(order, lines=order.shippable)  # only what goes into parcels is allocated
    skus = {line.sku for line in order.lines}
    for fresh in (False, True):  # a second try, on fresh levels, when the stock went meanwhile
        if fresh:
            view.forget()
        _read_stock(rt, view, skus, report)
        plan = rt.hooks.allocate_order(order=order, stock=view.levels(skus))
        if not plan:
            break
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
            continue
        view.took(by_warehouse)
        log.info("order %s: allocated to %s", order.id, ", ".join(sorted(by_warehouse)))
        return "allocated" if len(made) == 1 else "allocated_split"
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        if status is OrderStatus.BACKORDERED:
            order_store.touch(tx, order.id, now)
            return "still_backordered"
        fulfilment.backorder(tx, rt.hooks, order, status, now)
        promise.revise_later(tx, rt.promise_engine(), order, OrderStatus.BACKORDERED, at=now,
                             reason="backordered: not enough stock across warehouses")
    log.info("order %s: backordered (not enough stock)", order.id)
    return "backordered"


# --------------------------------------------------------------------------- warehouses


def poll_warehouses(rt: Runtime) -> JobReport:
    with rt.store.read() as conn:
        due = shipment_store.due(conn, fulfilment.AT_WAREHOUSE, rt.clock.now())
    by_warehouse = _grouped(due, lambda s: s.warehouse)
    return _concurrently(by_warehouse.items(), lambda item: _poll_warehouse(rt, *item), "poll_warehouses")


def _poll_warehouse(rt: Runtime, name: str, due: list[Shipment]) -> JobReport:
    report = JobReport("poll_warehouses")
    warehouse = rt.warehouse(name)
    for shipment in due:
        try:
            update = warehouse.status(shipment.fulfillment_ref)
            now = rt.clock.now()
            with rt.store.transaction() as tx:
                saved = fulfilment.apply_warehouse_update(tx, rt.hooks, shipment, update, now, source=f"warehouse:{name}",
                                                          next_pass=now + rt.schedule["poll_warehouses"])
        except Exception as exc:  # one shipment's trouble stays with it
            report.errors.append(f"warehouse {name}, shipment {shipment.id}: {describe_error(exc)}")
            continue
        report.counts[str(saved.status) if saved is not None else "unchanged"] += 1
    return report


# --------------------------------------------------------------------------- labels


def buy_labels(rt: Runtime) -> JobReport:
    """Quote every carrier for packed shipments without a chosen rate and queue the purchase."""
    report = JobReport("buy_labels")
    with rt.store.read() as conn:
        packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        found = order_store.load_many(conn, [s.order_id for s in packed])
    carriers = list(rt.config.carriers)
    if packed and not carriers:
        report.errors.append("packed shipments are waiting, but no carrier is configured")
        return report
    for shipment in packed:
        if shipment.order_id not in found:
            continue
        order = found[shipment.order_id][0]
        parcel = shipment.parcel or Parcel(weight_g=500)
        request = ShipmentRequest(reference=shipment.id, ship_from=rt.ship_from(shipment.warehouse),
                                  ship_to=order.ship_to, parcel=parcel)
        rates: list[Rate] = []
        for quoted, error in _map(lambda name: _quote(rt, name, request), carriers):
            rates.extend(quoted)
            if error:
                report.errors.append(error)
        if not rates:
            report.errors.append(f"shipment {shipment.id}: no carrier quoted a rate; it stays packed and is retried next run")
            continue
        engine, now = rt.promise_engine(), rt.clock.now()
        with rt.store.read() as conn:
            in_force = promise_store.current(conn, order.id)
        arrive_by = {rate.rate_id: engine.arrival(shipment, order.ship_to, rate, now=now, promise=in_force)
                     for rate in rates}
        chosen = rt.hooks.choose_rate(order=order, shipment_id=shipment.id, rates=rates, promise=in_force,
                                      arrive_by=arrive_by)
        if chosen is None:
            report.errors.append(f"shipment {shipment.id}: choose_rate returned no rate")
            continue
        with rt.store.transaction() as tx:
            fulfilment.choose(tx, shipment, chosen, now)
            promise.record_choice(tx, engine, order, shipment, chosen, rates, arrive_by, in_force, at=now)
        log.info("shipment %s: chose %s %s for %s; the label is bought next", shipment.id, chosen.carrier_name,
                 chosen.service, chosen.amount)
        report.counts["rates_chosen"] += 1
    return report


def _quote(rt: Runtime, name: str, request: ShipmentRequest) -> tuple[list[Rate], str | None]:
    """One carrier's rates, or its error: a carrier that is down leaves the others to quote."""
    try:
        return list(rt.carrier(name).quote(request)), None
    except Exception as exc:
        return [], f"carrier {name}: quote for {request.reference} failed: {describe_error(exc)} (other carriers still asked)"


# --------------------------------------------------------------------------- tracking


def poll_tracking(rt: Runtime) -> JobReport:
    """Ask the carriers about shipments whose next look is due (see ``fulfilment.next_poll``)."""
    waiting = backing_off(rt, "carriers", rt.config.carriers)
    with rt.store.read() as conn:
        due = shipment_store.due(conn, fulfilment.TRACKED, rt.clock.now(), limit=5000, tracked_only=True,
                                 except_carriers=list(waiting))
    by_carrier = _grouped(due, lambda s: s.carrier)
    for name in by_carrier:
        rt.polled["carriers", name] = rt.clock.now()
    report = _concurrently(by_carrier.items(), lambda item: _track_carrier(rt, *item), "poll_tracking")
    if waiting:
        report.counts["backed_off"] += len(waiting)
    return report


def _track_carrier(rt: Runtime, name: str, due: list[Shipment]) -> JobReport:
    report = JobReport("poll_tracking")
    carrier = rt.carrier(name)
    for shipment in due:
        try:
            update = carrier.track(shipment.label)
            with rt.store.transaction() as tx:
                outcome = fulfilment.apply_tracking(tx, rt.hooks, shipment, update, Order.channel_of(shipment.order_id),
                                                    rt.clock.now())
        except Exception as exc:  # one parcel's trouble stays with it; it is asked again later
            report.errors.append(f"carrier {name}, shipment {shipment.id}: {describe_error(exc)}")
            with rt.store.transaction() as tx:
                fulfilment.postpone_tracking(tx, shipment, rt.clock.now())
            continue
        if outcome.moved_to:
            rt.shipment_moved(outcome.shipment)  # committed: the promise engine learns a delivery
            log.info("shipment %s: %s says %s", shipment.id, name, outcome.moved_to)
        report.counts["scans_new"] += outcome.new_scans
        report.counts[f"to_{outcome.moved_to}" if outcome.moved_to else "unchanged"] += 1
    return report


# --------------------------------------------------------------------------- outbox


def deliver_effects(rt: Runtime) -> JobReport:
    """Claim the due effects (counting the attempt before any I/O) and deliver them, per target."""
    with rt.store.transaction() as tx:
        due = outbox.claim_due(tx, rt.clock.now())
    by_target = _grouped(due, lambda row: row.target)
    return _concurrently(by_target.values(), lambda rows: _deliver(rt, rows), "deliver_effects")


#: Effect kinds about an order rather than a shipment (delivered by :mod:`.notices`).
PER_ORDER = frozenset(kind.value for kind in outbox.EffectKind if kind.per_order)


def _deliver(rt: Runtime, rows: list[Any]) -> JobReport:
    report = JobReport("deliver_effects")
    with rt.store.read() as conn:
        ships = shipment_store.load_many(conn, [r.payload.get("shipment_id") for r in rows
                                                if isinstance(r.payload, dict) and r.payload.get("shipment_id")])
        found = order_store.load_many(conn, [s.order_id for s in ships.values()])
    for row in rows:
        now = rt.clock.now()
        try:
            if row.kind in PER_ORDER:  # a notice or a compensation: about an order, not a shipment
                notice_job.deliver(rt, row, now)
                report.counts[row.kind] += 1
                log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
                continue
            work = effects.Work.of(row, ships, found)
            saved = effects.deliver(rt, work, now)
            if saved is not None:
                ships[saved.id] = saved  # later effects in this batch see what this one did
            report.counts[row.kind] += 1
            log.info("delivered %s to %s (%s)", row.kind, row.target, row.key)
        except TransientError as exc:
            next_at = now + effects.retry_delay(row.attempts - 1)
            with rt.store.transaction() as tx:
                outbox.retry_later(tx, row.id, str(exc), next_at)
            report.counts["retry_later"] += 1
            report.errors.append(f"{row.kind} {row.key}: {exc} (retrying at {next_at:%Y-%m-%d %H:%M})")
        except Exception as exc:  # permanent: recorded, shown by `fulfilhub doctor`, others go on
            if not isinstance(exc, FulfilhubError):
                log.exception("effect %s crashed", row.key)
            with rt.store.transaction() as tx:
                outbox.retry_later(tx, row.id, describe_error(exc), now, failed=True)
            report.counts["failed"] += 1
            report.errors.append(f"{row.kind} {row.key} failed: {describe_error(exc)}")
    return report


# --------------------------------------------------------------------------- one pass


def sync_once(rt: Runtime, *, progress: Progress | None = None, record: bool = False) -> list[JobReport]:
    """One pass of every job, in the order an order travels (with ``record``, each run is
    kept in ``job_runs`` for ``fulfilhub jobs``)."""
    def run(job: Callable[..., JobReport], **kwargs: Any) -> JobReport:
        return recorded(rt, job, trigger="sync", **kwargs) if record else job(rt, **kwargs)

    return [
        run(pull_orders, progress=progress),
        run(process_inbox),
        run(allocate),
        run(deliver_effects),
        run(poll_warehouses),
        run(buy_labels),
        run(deliver_effects),
        run(poll_tracking),
        run(push_stock),
        run(assess_delays),
        run(notice_job.notices),
        run(deliver_effects),
    ]


def recorded(rt: Runtime, job: Callable[..., JobReport], *, trigger: str, **kwargs: Any) -> JobReport:
    """Run ``job`` and keep its run (start, duration, outcome, counts) in ``job_runs``.

    A job that raises is recorded as ``crashed`` and the exception goes on.
    """
    started, began = rt.clock.now(), time.monotonic()
    try:
        report = job(rt, **kwargs)
    except Exception as exc:
        record_run(rt, JobReport(job.__name__, errors=[describe_error(exc)]), started, time.monotonic() - began,
                   trigger=trigger, outcome="crashed")
        raise
    record_run(rt, report, started, time.monotonic() - began, trigger=trigger)
    return report


def record_run(rt: Runtime, report: JobReport, started: datetime, seconds: float, *, trigger: str,
               outcome: str | None = None) -> None:
    """Keep one job run in ``job_runs``: it started at ``started`` on the runtime's clock and
    took ``seconds`` of real time. A failure to record it is logged, never raised."""
    try:
        with rt.store.transaction() as tx:
            job_runs.record(tx, job=report.job, trigger=trigger, started_at=started,
                            finished_at=started + timedelta(seconds=seconds),
                            outcome=outcome or ("ok" if report.ok else "errors"), counts=dict(report.counts),
                            errors=report.errors)
    except Exception as exc:  # bookkeeping must not stop the work
        log.warning("could not record the run of %s: %s", report.job, describe_error(exc))


def process_inbox(rt: Runtime) -> JobReport:
    """The webhooks ``fulfilhub serve`` stored, through the same engines (:mod:`.inbox`)."""
    from .inbox import process_inbox as process  # it builds on this module's JobReport

    return process(rt)


def push_stock(rt: Runtime) -> JobReport:
    from .stock import push_stock as run

    return run(rt)


def assess_delays(rt: Runtime, **kwargs: Any) -> JobReport:
    """Open orders against their promises (:mod:`fulfilhub.runner.delays`, imported when first run)."""
    from .delays import assess_delays as run

    return run(rt, **kwargs)


JOBS: dict[str, Callable[[Runtime], JobReport]] = {
    "pull_orders": pull_orders,
    "process_inbox": process_inbox,
    "allocate": allocate,
    "poll_warehouses": poll_warehouses,
    "buy_labels": buy_labels,
    "deliver_effects": deliver_effects,
    "poll_tracking": poll_tracking,
    "assess_delays": assess_delays,
    "notices": notice_job.notices,
    "push_stock": push_stock,
}


def summarize(reports: Iterable[JobReport]) -> JobReport:
    total = JobReport("sync")
    for report in reports:
        total.merge(report)
    return total
