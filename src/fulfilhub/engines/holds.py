"""Holds: a person stops an order, lets it go, or cancels it; intake's own holds are looked
at again on every pass.

A hold set by intake's checks (an unknown SKU, an incomplete address) lifts itself once
the checks pass — after ``fulfilhub stock set`` for the missing SKU, say. A hold a person
set (``fulfilhub orders hold``), or one whose reason needs a person (a customer note),
stays until a person releases it. Every change is a status event with its reason and
source.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ..config import IntakeConfig
from ..errors import IllegalTransition, NotFound
from ..models import Order, OrderStatus
from ..store import Tx
from ..store import orders as order_store
from . import fulfilment, intake, lifecycle

if TYPE_CHECKING:
    from ..plugins import Hooks
    from ..store import Connection

#: The event source of holds that intake's checks set (and may lift again).
INTAKE = "intake"


def _current(tx: Tx, order_id: str) -> OrderStatus:
    row = order_store.row(tx.conn, order_id)
    if row is None:
        raise NotFound(f"no order {order_id!r}; `fulfilhub orders list` shows the ids")
    return OrderStatus(row.status)


def hold(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> OrderStatus:
    """Put an order on hold for a person. An allocated order gives its stock back first."""
    current = _current(tx, order_id)
    lifecycle.check_transition(order_id, current, OrderStatus.ON_HOLD)
    if current is OrderStatus.ALLOCATED:
        fulfilment.cancel_open(tx, order_id, at)
    lifecycle.transition(tx, hooks, order_id, current, OrderStatus.ON_HOLD, at=at, source=source, reason=reason,
                         hold_reason=reason)
    return OrderStatus.ON_HOLD


def release(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> OrderStatus:
    """Let a held order go on: it is accepted and allocated on the next pass."""
    current = _current(tx, order_id)
    if current is not OrderStatus.ON_HOLD:
        raise IllegalTransition(order_id, current, OrderStatus.ACCEPTED, "nothing by release (only an order on hold is released)")
    lifecycle.transition(tx, hooks, order_id, current, OrderStatus.ACCEPTED, at=at, source=source, reason=reason)
    return OrderStatus.ACCEPTED


def cancel(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> OrderStatus:
    """Cancel an order that has not left: its open shipments are cancelled and their stock released."""
    current = _current(tx, order_id)
    lifecycle.check_transition(order_id, current, OrderStatus.CANCELLED)
    lifecycle.transition(tx, hooks, order_id, current, OrderStatus.CANCELLED, at=at, source=source, reason=reason)
    fulfilment.cancel_open(tx, order_id, at)
    return OrderStatus.CANCELLED


def held_by_intake(conn: Connection, order_ids: Iterable[str]) -> set[str]:
    """Those of ``order_ids`` whose latest move to ``on_hold`` came from intake's checks."""
    latest = order_store.latest_status_sources(conn, order_ids, OrderStatus.ON_HOLD)
    return {order_id for order_id, source in latest.items() if source == INTAKE}


def review(tx: Tx, hooks: Hooks | None, order: Order, held_for: str | None, *, known_skus: set[str],
           checks: IntakeConfig, at: datetime) -> OrderStatus | None:
    """Look again at an order intake held: accept it once its checks pass.

    Returns the new status, or None when it stays held (its reason is kept up to date).
    """
    reason = intake.hold_reason(order, known_skus, checks)
    if reason is None:
        lifecycle.transition(tx, hooks, order.id, OrderStatus.ON_HOLD, OrderStatus.ACCEPTED, at=at, source=INTAKE,
                             reason="the checks that held it pass now")
        return OrderStatus.ACCEPTED
    if reason != held_for:
        order_store.set_status(tx, order.id, OrderStatus.ON_HOLD, OrderStatus.ON_HOLD, at, reason)
        order_store.append_events(tx, [lifecycle.note_event(order.id, OrderStatus.ON_HOLD, at=at, source=INTAKE,
                                                            reason=f"still held: {reason}")])
    return None
