"""``poll_warehouses`` and ``poll_tracking``: ask each instance about its shipments that
are due, one polling loop for both, and the poll back-off while webhooks are healthy.

The loop (:func:`poll_shipments`) asks the adapter about each shipment, hands the answers
to the fulfilment engine, a batch per transaction, and counts what happened; one shipment's
trouble is reported and stays with it (a tracked parcel is looked at again later), the
others go on. Instances are polled in threads, one per instance.

With ``[server] poll_backoff``, ``pull_orders`` and ``poll_tracking`` back off for an
instance whose webhooks are healthy (:func:`backing_off`): polling stays the safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..adapters import ShipmentTracker
from ..engines import fulfilment
from ..errors import ConfigError, Unreachable
from ..models import Order, Shipment, ShipmentStatus
from ..store import Store, Tx
from ..store import inbox as inbox_store
from ..store import shipments as shipment_store
from .reports import JobReport, concurrently, describe_error, grouped
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")


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


#: Store one answer in the open transaction; return the counters it adds.
Apply = Callable[[Tx, Shipment, Any], Mapping[str, int]]


#: Answers applied per transaction (a kill loses at most these, which are asked again).
BATCH = 100


def poll_shipments(store: Store, job: str, instance: str, due: Iterable[Shipment], *, ask: Callable[[Shipment], Any],
                   apply: Apply, failed: Callable[[Tx, Shipment], None] | None = None,
                   ask_many: Callable[[list[Shipment]], Mapping[str, Any]] | None = None) -> JobReport:
    """The one polling loop: ``ask`` the adapter about each shipment, then ``apply`` the
    answers, up to :data:`BATCH` of them in one transaction of ``store`` (asking is a
    read: answers a kill loses are asked again). If that transaction fails, each answer
    is applied in a transaction of its own. With ``ask_many`` (answers by shipment id),
    a batch is asked at once; a shipment it leaves out, or all of them if it raises
    (but :class:`Unreachable`), is asked alone. A shipment whose ask or apply raises is
    reported (``instance, shipment id: error``) and, with ``failed``, marked in a
    transaction of its own. It needs the store alone: the adapter and the engine come
    in through ``ask`` and ``apply``."""
    report = JobReport(job)
    answered: list[tuple[Shipment, Any]] = []

    def trouble(shipment: Shipment, exc: Exception) -> None:  # one shipment's trouble stays with it
        report.errors.append(f"{instance}, shipment {shipment.id}: {describe_error(exc)}")
        if failed is not None:
            with store.transaction() as tx:
                failed(tx, shipment)

    def flush() -> None:
        try:
            with store.transaction() as tx:
                tx.gather_appends()  # the batch's order events: one insert at commit
                counts = [apply(tx, shipment, answer) for shipment, answer in answered]
        except Exception:  # find which one: each alone
            for shipment, answer in answered:
                try:
                    with store.transaction() as tx:
                        report.counts.update(apply(tx, shipment, answer))
                except Exception as exc:
                    trouble(shipment, exc)
        else:
            for each in counts:
                report.counts.update(each)
        answered.clear()

    due = list(due)
    for start in range(0, len(due), BATCH):
        batch = due[start:start + BATCH]
        known: Mapping[str, Any] = {}
        if ask_many is not None:
            try:
                known = ask_many(batch)
            except Unreachable as exc:  # the instance is given up for this pass: the rest wait for the next
                report.unreachable(exc)
                break
            except Exception:  # the batch question failed: each is asked alone, and says why
                log.debug("%s: asking %d shipments at once failed; asking each", instance, len(batch), exc_info=True)
        given_up = False
        for shipment in batch:
            try:
                answered.append((shipment, known[shipment.id] if shipment.id in known else ask(shipment)))
            except Unreachable as exc:
                report.unreachable(exc)
                given_up = True
                break
            except Exception as exc:
                trouble(shipment, exc)
        if given_up:
            break
        if answered:
            flush()
    if answered:
        flush()
    return report


def poll_warehouses(rt: Runtime) -> JobReport:
    """Picking / packed / shipped news for shipments submitted to a warehouse (and, from a
    warehouse that ships with its own labels, packed ones: it says when they leave)."""
    with rt.store.read() as conn:
        due = at_warehouses(rt, conn, rt.clock.now())
    return concurrently(grouped(due, lambda s: s.warehouse).items(), lambda item: _poll_warehouse(rt, *item),
                        "poll_warehouses")


def at_warehouses(rt: Runtime, conn: Any, now: datetime) -> list[Shipment]:
    """The shipments a warehouse is to be asked about at ``now``: those it is working on,
    and the packed ones of a warehouse that ships with its own labels (it says when they leave)."""
    due = shipment_store.due(conn, fulfilment.AT_WAREHOUSE, now)
    own_labels = rt.warehouses_that("ships_own_labels")
    if own_labels:
        due += shipment_store.due(conn, (ShipmentStatus.PACKED,), now, warehouses=own_labels)
    return due


def _poll_warehouse(rt: Runtime, name: str, due: list[Shipment]) -> JobReport:
    warehouse = rt.warehouse(name)

    def apply(tx: Tx, shipment: Shipment, update: Any) -> Mapping[str, int]:
        now = rt.clock.now()
        saved = fulfilment.apply_warehouse_update(tx, rt.hooks, shipment, update, now, source=f"warehouse:{name}",
                                                  next_pass=now + rt.schedule["poll_warehouses"],
                                                  tracked_by=fulfilment.tracking_carrier(update.carrier,
                                                                                         rt.tracking_carriers()))
        return {str(saved.status) if saved is not None else "unchanged": 1}

    status_many = getattr(warehouse, "status_many", None)  # optional: a warehouse that answers many refs at once

    def ask_many(batch: list[Shipment]) -> Mapping[str, Any]:
        found = status_many([s.fulfillment_ref for s in batch])
        return {s.id: found[s.fulfillment_ref] for s in batch if s.fulfillment_ref in found}

    return poll_shipments(rt.store, "poll_warehouses", f"warehouse {name}", due,
                          ask=lambda shipment: warehouse.status(shipment.fulfillment_ref), apply=apply,
                          ask_many=ask_many if callable(status_many) else None)


def poll_tracking(rt: Runtime) -> JobReport:
    """Ask the carriers about shipments whose next look is due (see ``fulfilment.next_poll``)."""
    waiting = backing_off(rt, "carriers", rt.config.carriers)
    with rt.store.read() as conn:
        due = shipment_store.due(conn, fulfilment.TRACKED, rt.clock.now(), limit=5000, tracked_only=True,
                                 except_carriers=list(waiting))
    by_carrier = grouped(due, lambda s: s.carrier)
    for name in by_carrier:
        rt.polled["carriers", name] = rt.clock.now()
    report = concurrently(by_carrier.items(), lambda item: _track_carrier(rt, *item), "poll_tracking")
    if waiting:
        report.counts["backed_off"] += len(waiting)
    return report


def _track_carrier(rt: Runtime, name: str, due: list[Shipment]) -> JobReport:
    # A label the marketplace issued (FulfilledBy.MARKETPLACE) names the channel: its tracking
    # is the channel's. A parcel a warehouse shipped with its own label, no carrier of ours
    # following its courier, carries the warehouse's name: the warehouse follows it
    # (ShipmentTracker).
    by_channel = name not in rt.config.carriers and name in rt.config.channels
    if by_channel:
        track = rt.channel(name).track_shipment
    elif name in rt.config.carriers:
        track = rt.carrier(name).track
    else:
        try:
            track = _warehouse_tracker(rt, name).track
        except ConfigError as exc:  # said every pass until the config names a carrier for it
            return JobReport("poll_tracking", errors=[f"{len(due)} shipment(s): {describe_error(exc)}"])

    def apply(tx: Tx, shipment: Shipment, update: Any) -> Mapping[str, int]:
        outcome = fulfilment.apply_tracking(tx, rt.hooks, shipment, update, Order.channel_of(shipment.order_id),
                                            rt.clock.now())
        if outcome.moved_to:
            log.info("shipment %s: %s says %s", shipment.id, name, outcome.moved_to)
            moved = outcome.shipment
            tx.after_commit.append(lambda: rt.shipment_moved(moved))  # committed: the promise engine learns it
        return {"scans_new": outcome.new_scans, f"to_{outcome.moved_to}" if outcome.moved_to else "unchanged": 1}

    def failed(tx: Tx, shipment: Shipment) -> None:  # asked again later, not at once
        fulfilment.postpone_tracking(tx, shipment, rt.clock.now())

    return poll_shipments(rt.store, "poll_tracking", f"{'channel' if by_channel else 'carrier'} {name}", due,
                          ask=lambda shipment: track(shipment.label), apply=apply, failed=failed)


def _warehouse_tracker(rt: Runtime, name: str) -> Any:
    if name not in rt.config.warehouses:
        raise ConfigError(f"shipments are followed by {name!r}, which is no configured carrier nor warehouse")
    warehouse = rt.warehouse(name)
    if not isinstance(warehouse, ShipmentTracker):
        raise ConfigError(f"warehouse {name} shipped parcels with its own labels but cannot follow them (it has no "
                          f"track capability) and no configured carrier is named after their courier")
    return warehouse
