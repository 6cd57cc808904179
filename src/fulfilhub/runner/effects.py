"""Delivering the outbox: each effect on the outside world, at least once, keyed once.

An effect row was written in the same transaction as the state change that called for
it. The runner claims it (counting the attempt in a committed write), does the I/O
through the adapter, then hands the outcome to the fulfilment engine and marks the
effect done in one transaction (:func:`record`, for a batch of delivered effects). A crash between the I/O and that commit repeats the I/O
on the next run with the same idempotency key and a higher attempt number, which tells
the adapter to look before it acts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..adapters import ShipmentPush
from ..engines import fulfilment
from ..errors import NotFound, PermanentError, TransientError, Unreachable
from ..models import FulfilledBy, FulfillmentRequest, Order, Shipment, ShipmentStatus, TrackingStatus
from ..store import choices as choice_store
from ..store import outbox
from ..store.outbox import Effect, EffectKind
from .runtime import Runtime

log = logging.getLogger("fulfilhub.effects")


def retry_delay(failures: int) -> timedelta:
    """After the first failure 30 s, then 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, failures)))


@attrs.frozen
class Work:
    """One claimed effect with what it is about, loaded once for its whole batch."""

    row: Any  # the outbox row
    shipment: Shipment
    order: Order

    @property
    def key(self) -> str:
        return self.row.key

    @property
    def attempt(self) -> int:
        """1 for the first try; more when an earlier try may have reached the outside world."""
        return self.row.attempts

    @classmethod
    def of(cls, row: Any, shipments: Mapping[str, Shipment], orders: Mapping[str, tuple[Order, Any]]) -> Work:
        payload = row.payload if isinstance(row.payload, dict) else {}
        shipment = shipments.get(payload.get("shipment_id", ""))
        if shipment is None:
            raise NotFound(f"shipment {payload.get('shipment_id')!r} of effect {row.key} does not exist")
        found = orders.get(shipment.order_id)
        if found is None:
            raise NotFound(f"order {shipment.order_id} of effect {row.key} does not exist")
        return cls(row, shipment, found[0])


def push_of(shipment: Shipment) -> ShipmentPush:
    """What a channel is told about a shipment."""
    label = shipment.label
    return ShipmentPush(
        shipment_id=shipment.id,
        lines=shipment.lines,
        tracking_code=label.tracking_code if label else "",
        tracking_url=label.tracking_url if label else "",
        carrier_name=label.carrier_name if label else "",
        service=label.service if label else "",
        fulfillment_ref=shipment.channel_ref,
    )


@attrs.frozen
class Done:
    """One effect delivered, not yet recorded: its result for the outbox row, the
    engine's follow-up (``then``, run in the recording transaction) and what to tell the
    runtime once that has committed (``moved``, with the shipment as saved)."""

    work: Work
    now: datetime
    result: Mapping[str, Any]
    then: Callable[[Any], Shipment | None] | None = None
    moved: Callable[[Shipment], None] | None = None


def record(rt: Runtime, done: list[Done]) -> dict[str, Shipment]:
    """Record delivered effects in one transaction: each one's follow-up, and each marked
    done. Return the shipments as the engine saved them, by id.

    Until it commits the effects stay pending with their attempt counted: a crash (or
    this transaction failing) delivers them again with the same key, and the adapter
    looks before it acts, as after a crash between one effect's I/O and its commit."""
    saved: dict[str, Shipment] = {}
    with rt.store.transaction() as tx:
        tx.gather_appends()  # the batch's order events: one insert at commit
        for each in done:
            shipment = each.then(tx) if each.then is not None else None
            if shipment is not None:
                saved[shipment.id] = shipment
                if each.moved is not None:
                    tx.after_commit.append(functools.partial(each.moved, shipment))
        outbox.finish_many(tx, [(each.work.row.id, each.now, each.result) for each in done])
    return saved


def _skip(work: Work, now: datetime, why: str) -> Done:
    """Record an effect as done without doing it: what it was for no longer holds."""
    return Done(work, now, {"skipped": why})


def _request(work: Work) -> FulfillmentRequest:
    shipment, order = work.shipment, work.order
    return FulfillmentRequest(key=work.key, shipment_id=shipment.id, order_id=order.id, order_number=order.number,
                              lines=shipment.lines, ship_to=order.ship_to)


def submit_to_warehouse(rt: Runtime, work: Work, now: datetime, *, ref: str | None = None) -> Done:
    """``ref``: the warehouse's reference if :func:`submit_ahead` submitted it already."""
    shipment = work.shipment
    if shipment.status is ShipmentStatus.CANCELLED:
        return _skip(work, now, "shipment cancelled")
    if ref is None:
        ref = rt.warehouse(shipment.warehouse).submit(_request(work))
    return Done(work, now, {"ref": ref}, lambda tx: fulfilment.record_submission(tx, shipment, ref, now))


def submit_ahead(rt: Runtime, works: list[Work]) -> dict[str, str]:
    """Submit the warehouse requests among ``works`` together, per warehouse that offers
    ``submit_many``: ``{effect key: ref}``. What is left out (a warehouse without it, a
    cancelled shipment, a ``submit_many`` that raised) is submitted alone when delivered.
    Submitting is idempotent by key, so submitting ahead of recording is as safe as
    submitting alone: a crash before the record submits again and gets the same ref."""
    by_warehouse: dict[str, list[Work]] = {}
    for work in works:
        if work.row.kind == EffectKind.WAREHOUSE_SUBMIT and work.shipment.status is not ShipmentStatus.CANCELLED:
            by_warehouse.setdefault(work.shipment.warehouse, []).append(work)
    refs: dict[str, str] = {}
    for name, group in by_warehouse.items():
        try:
            submit_many = getattr(rt.warehouse(name), "submit_many", None)
            if not callable(submit_many):
                continue
            made = submit_many([_request(work) for work in group])
        except Exception as exc:  # each is submitted alone, and says what is wrong
            log.debug("warehouse %s: submitting %d requests at once failed (%s); submitting each", name, len(group), exc)
            continue
        refs.update((work.key, made[work.key]) for work in group if work.key in made)
    return refs


def cancel_at_warehouse(rt: Runtime, work: Work, now: datetime) -> Done:
    rt.warehouse(work.shipment.warehouse).cancel(work.row.payload["ref"])
    return Done(work, now, {})


def buy_label(rt: Runtime, work: Work, now: datetime) -> Done:
    shipment = work.shipment
    if shipment.label is not None:
        return _skip(work, now, "label already stored")
    if shipment.status is ShipmentStatus.CANCELLED:
        return _skip(work, now, "shipment cancelled before its label was bought")
    if shipment.rate is None:
        raise PermanentError(f"shipment {shipment.id} has no chosen rate to buy")
    try:
        label = rt.carrier(shipment.rate.carrier).buy(shipment.rate, work.key)
    except (TransientError, PermanentError) as exc:
        again = _choose_again(rt, work, now, exc)
        if again is None:
            raise
        return again
    return Done(work, now, {"tracking_code": label.tracking_code},
                lambda tx: fulfilment.record_label(tx, rt.hooks, shipment, label, work.order.channel, now),
                moved=lambda saved: rt.shipment_moved(saved, work.order.ship_to))  # in flight for the promise engine


def _choose_again(rt: Runtime, work: Work, now: datetime, exc: Exception) -> Done | None:
    """The label purchase failed on the chosen carrier: when another carrier sells labels
    and the shipment has not been chosen again ``max_rechoices`` times yet, forget the
    rate (``buy_labels`` chooses among the others on its next run) instead of retrying
    this carrier; None: retry it (or fail it) as usual. At once when the carrier is
    unreachable (its circuit open: nothing was sent) or refused the purchase (a 4xx:
    nothing was bought); after a second failure otherwise (an outage, not a blip)."""
    if not isinstance(exc, (Unreachable, PermanentError)) and work.attempt < 2:
        return None  # a blip: the same carrier once more first (a lost answer may have bought the label there)
    others = [name for name in rt.config.carriers if name != work.shipment.rate.carrier  # type: ignore[union-attr]
              and not getattr(rt.plugins.registry.carriers.get(rt.config.carriers[name].type), "tracks_only", False)]
    if not others:
        return None
    with rt.store.read() as conn:
        before = choice_store.failures(conn, work.shipment.id)
    if before >= rt.choice_settings.max_rechoices:
        return None
    why = str(exc)[:300]
    log.warning("label purchase for %s failed on %s (%s); choosing again among the other carriers",
                work.shipment.id, work.shipment.rate.carrier, why)  # type: ignore[union-attr]
    return Done(work, now, {"chosen_again": why},
                lambda tx: fulfilment.unchoose(tx, work.shipment, why, now))


def void_label(rt: Runtime, work: Work, now: datetime) -> Done:
    shipment = work.shipment
    if shipment.status is not ShipmentStatus.LABEL_PURCHASED or shipment.label is None:
        return _skip(work, now, f"shipment is {shipment.status}: the label is no longer unused")
    if work.order.fulfilled_by is FulfilledBy.MARKETPLACE:  # the marketplace cancels its own shipment
        return Done(work, now, {"voided": shipment.tracking_code, "by": "marketplace"},
                    lambda tx: fulfilment.record_void(tx, rt.hooks, shipment, now), moved=rt.shipment_moved)
    rt.carrier(shipment.label.carrier).void(shipment.label)
    return Done(work, now, {"voided": shipment.tracking_code},
                lambda tx: fulfilment.record_void(tx, rt.hooks, shipment, now),
                moved=rt.shipment_moved)  # no longer in flight


def push_fulfillment(rt: Runtime, work: Work, now: datetime) -> Done:
    shipment = work.shipment
    if shipment.status is ShipmentStatus.CANCELLED:
        return _skip(work, now, "shipment cancelled (its label was voided)")
    ref = rt.channel(work.order.channel).push_fulfillment(work.order, push_of(shipment), work.key,
                                                         attempt=work.attempt)
    return Done(work, now, {"ref": ref}, lambda tx: fulfilment.record_channel_fulfillment(tx, shipment, ref, now))


def push_tracking(rt: Runtime, work: Work, now: datetime) -> Done:
    shipment = work.shipment
    if shipment.status is ShipmentStatus.CANCELLED:
        return _skip(work, now, "shipment cancelled")
    if not shipment.channel_ref:
        parent = Effect.push_fulfillment(shipment, work.order.channel).key
        with rt.store.read() as conn:
            found = outbox.status_of(conn, parent)
        if found is not None and found.status == "failed":  # waiting would be forever
            raise PermanentError(f"it waits for {parent}, which failed: {found.last_error}; "
                                 "retry that one first (`fulfilhub outbox retry`), then this")
        raise TransientError("the fulfillment has not reached the channel yet; tracking waits for it",
                             service=work.row.target)
    status = TrackingStatus(work.row.payload["status"])
    rt.channel(work.order.channel).push_tracking(work.order, push_of(shipment), status, work.key, attempt=work.attempt)
    return Done(work, now, {"status": status})


Handler = Callable[[Runtime, Work, datetime], Done]

#: Effect kind -> how to deliver it.
HANDLERS: Mapping[EffectKind, Handler] = {
    EffectKind.WAREHOUSE_SUBMIT: submit_to_warehouse,
    EffectKind.WAREHOUSE_CANCEL: cancel_at_warehouse,
    EffectKind.CARRIER_BUY_LABEL: buy_label,
    EffectKind.CARRIER_VOID_LABEL: void_label,
    EffectKind.CHANNEL_PUSH_FULFILLMENT: push_fulfillment,
    EffectKind.CHANNEL_PUSH_TRACKING: push_tracking,
}


def deliver(rt: Runtime, work: Work, now: datetime, *, submitted: Mapping[str, str] | None = None) -> Done:
    """Deliver one claimed effect; return what :func:`record` is to record of it
    (``submitted``: the refs of warehouse requests :func:`submit_ahead` submitted)."""
    try:
        kind = EffectKind(work.row.kind)
    except ValueError:
        raise PermanentError(f"no handler for effect kind {work.row.kind!r}") from None
    if kind is EffectKind.WAREHOUSE_SUBMIT and submitted and work.key in submitted:
        return submit_to_warehouse(rt, work, now, ref=submitted[work.key])
    return HANDLERS[kind](rt, work, now)
