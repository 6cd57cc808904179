"""A person's decisions on one order: hold it, release it, cancel it.

(Helper B's simple version, built on :func:`lifecycle.transition`; the lead's version
replaces it at merge with the same signatures.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import IllegalTransition, NotFound
from ..models import OrderStatus as O
from ..store import Tx
from ..store import orders as order_store
from . import lifecycle

if TYPE_CHECKING:
    from ..plugins import Hooks

__all__ = ["cancel", "hold", "release"]


def _current(tx: Tx, order_id: str, target: O) -> O:
    """The order's status; IllegalTransition when it already has shipments (this simple
    version does not undo an allocation)."""
    found = order_store.status_with_shipments(tx.conn, order_id)
    if found is None:
        raise NotFound(f"no order {order_id!r}; `fulfilhub orders list` shows the ids")
    status, shipments = found
    if any(s != "cancelled" for s in shipments):
        raise IllegalTransition(order_id, status, target, "nothing by hand once it has shipments")
    return status


def hold(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> O:
    """Put the order on hold for a person (nothing more is allocated or shipped for it)."""
    current = _current(tx, order_id, O.ON_HOLD)
    lifecycle.transition(tx, hooks, order_id, current, O.ON_HOLD, at=at, source=source, reason=reason, hold_reason=reason)
    return O.ON_HOLD


def release(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> O:
    """Release a held order: it is accepted again and allocated on the next pass."""
    current = _current(tx, order_id, O.ACCEPTED)
    if current is not O.ON_HOLD:
        raise IllegalTransition(order_id, current, "released", "only an order on hold is released")
    lifecycle.transition(tx, hooks, order_id, current, O.ACCEPTED, at=at, source=source, reason=reason)
    return O.ACCEPTED


def cancel(tx: Tx, hooks: Hooks | None, order_id: str, *, reason: str, at: datetime, source: str) -> O:
    """Cancel the order (allowed until it has shipped)."""
    current = _current(tx, order_id, O.CANCELLED)
    lifecycle.transition(tx, hooks, order_id, current, O.CANCELLED, at=at, source=source, reason=reason)
    return O.CANCELLED
