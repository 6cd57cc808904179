"""Order intake: store what a channel sent, once per version, and accept or hold it.

A new order is ``received`` and then, in the same transaction, ``accepted`` or put
``on_hold`` with a reason a person can act on (unknown SKU, bad address, a customer
note). A newer version of a stored order replaces its foreign data and appends an
``updated`` event; the same version again is skipped. A cancellation from the channel
cancels the order while nothing has shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ..config import IntakeConfig
from ..models import Order, OrderStatus
from ..plugins import Hooks
from ..store import Tx
from ..store import orders as order_store
from ..store import stock as stock_store
from . import fulfilment, lifecycle, promise

if TYPE_CHECKING:
    from .promise import PromiseEngine


@attrs.define
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    held: int = 0
    cancelled: int = 0
    cancelled_after_shipping: int = 0

    def add(self, other: IngestResult) -> None:
        for field in attrs.fields(IngestResult):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def hold_reason(order: Order, known_skus: set[str], intake: IntakeConfig) -> str | None:
    """Why a person must look at this order before it is fulfilled, or None."""
    problems: list[str] = [order.hold_reason] if order.hold_reason else []
    if not order.lines:
        problems.append("no lines")
    for i, line in enumerate(order.lines):
        if not line.requires_shipping:
            continue  # digital goods: nothing to pick, nothing to check
        if not line.sku:
            problems.append(f"line {i + 1} ({line.title or 'untitled'}) has no SKU")
        elif intake.check_sku and line.sku not in known_skus:
            problems.append(f"SKU {line.sku} is not stocked in any warehouse")
    if order.shippable:
        if order.ship_to is None:
            problems.append("no shipping address")
        else:
            problems.extend(f"shipping address: {p}" for p in order.ship_to.problems())
    if intake.hold_on_note and order.note.strip():
        problems.append(f"customer note needs a person: {order.note.strip()[:200]!r}")
    return "; ".join(problems) or None


def ingest(tx: Tx, hooks: Hooks, orders: Sequence[Order], *, at: datetime, known_skus: set[str], intake: IntakeConfig,
           source: str, promises: PromiseEngine | None = None) -> IngestResult:
    """Store a page of mapped orders in ``tx``, deduplicated by id and version.

    With ``promises``, each order accepted here gets its delivery promise in the same
    transaction (``promise.promise_order``).
    """
    result = IngestResult()
    latest: dict[str, Order] = {}
    for order in orders:  # the same order twice in one page: keep the newest version
        kept = latest.get(order.id)
        if kept is None or order.updated_at >= kept.updated_at:
            latest[order.id] = order
    existing = order_store.existing(tx.conn, latest)
    tell_received, tell_changed = hooks.wants("order_received"), hooks.wants("order_status_changed")
    new_rows: list[tuple[Order, OrderStatus, str | None]] = []
    events: list[dict] = []
    for order in latest.values():
        stored = existing.get(order.id)
        if stored is None:
            reason = hold_reason(order, known_skus, intake)
            status = OrderStatus.ON_HOLD if reason else OrderStatus.ACCEPTED
            if order.cancelled_at is not None:
                status, reason = OrderStatus.CANCELLED, None
            new_rows.append((order, status, reason))
            events.append(lifecycle.status_event(order.id, None, OrderStatus.RECEIVED, at=at, source=source, reason=f"version {order.version}"))
            lifecycle.check_transition(order.id, OrderStatus.RECEIVED, status)
            events.append(lifecycle.status_event(order.id, OrderStatus.RECEIVED, status, at=at, source="intake",
                                              reason=reason or ("cancelled by the channel" if status is OrderStatus.CANCELLED else "checks passed")))
            result.new += 1
            result.held += status is OrderStatus.ON_HOLD
            if tell_received:
                tx.after_commit.append(lambda o=order: hooks.order_received(order=o))
            if tell_changed:
                for old, new, why in ((None, OrderStatus.RECEIVED, ""), (OrderStatus.RECEIVED, status, reason or "")):
                    tx.after_commit.append(lambda old=old, new=new, why=why, oid=order.id: hooks.order_status_changed(
                        order_id=oid, old=old, new=new, reason=why, source=source))
            continue
        version, stored_updated_at, status, stored_cancelled_at = stored
        if version == order.version or order.updated_at < stored_updated_at:
            result.unchanged += 1  # the same version again, or an older one read late
            continue
        order_store.replace(tx, order, at)
        events.append(lifecycle.update_event(order.id, status, at=at, source=source, old_version=version, new_version=order.version))
        result.updated += 1
        if order.cancelled_at is not None and status is not OrderStatus.CANCELLED and status not in lifecycle.FINAL:
            voiding, returning = fulfilment.cancelled_after_shipping(tx, order.id, at)  # open shipments cancelled
            if not voiding and not returning and OrderStatus.CANCELLED in lifecycle.TRANSITIONS[status]:
                lifecycle.transition(tx, hooks, order.id, status, OrderStatus.CANCELLED, at=at, source=source,
                                     reason="cancelled by the channel")
                result.cancelled += 1
            elif stored_cancelled_at is None:
                parts = [f"voiding the unused label of {', '.join(s.id for s in voiding)}"] if voiding else []
                if returning:
                    parts.append(f"a person must arrange the return of {', '.join(s.id for s in returning)} "
                                 "(already on its way)")
                events.append(lifecycle.note_event(order.id, status, at=at, source=source,
                                                   reason="cancelled by the channel after shipping: " + "; ".join(parts)))
                result.cancelled_after_shipping += 1
    order_store.insert(tx, new_rows, at)
    order_store.append_events(tx, events)
    accepted = [order for order, status, _ in new_rows if status is OrderStatus.ACCEPTED and order.shippable]
    if promises is not None and accepted:
        stock = stock_store.for_promise(tx.conn, {line.sku for order in accepted for line in order.shippable})
        for order in accepted:
            promise.promise_order(tx, promises, order, OrderStatus.ACCEPTED, at=at, stock=stock)
    return result
