"""The normalized order lifecycle: one transition table, and status derived from shipments.

Up to allocation an order's status is set by intake and allocation. From allocation on
it is derived from its shipments (:func:`derive_order_status`), as Medusa and Vendure
derive theirs: an order split into two shipments is ``partially_shipped`` when one has
left, ``partially_delivered`` when one has arrived. Every change, derived or not, must
be allowed by :data:`TRANSITIONS` and is appended to the order's events by the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import IllegalTransition, StoreError
from ..models import OrderStatus as O
from ..models import ShipmentStatus as S
from ..store import Tx
from ..store import orders as order_store

if TYPE_CHECKING:
    from ..plugins import Hooks

_SHIPPED_ONWARD = (O.PARTIALLY_SHIPPED, O.SHIPPED, O.IN_TRANSIT, O.OUT_FOR_DELIVERY, O.PARTIALLY_DELIVERED, O.DELIVERED)

#: Every allowed order status change. Anything not listed raises IllegalTransition.
TRANSITIONS: Mapping[O, frozenset[O]] = {
    O.RECEIVED: frozenset({O.ACCEPTED, O.ON_HOLD, O.CANCELLED}),
    O.ACCEPTED: frozenset({O.ALLOCATED, O.BACKORDERED, O.ON_HOLD, O.CANCELLED, O.DELIVERED}),  # delivered: nothing to ship
    O.ON_HOLD: frozenset({O.ACCEPTED, O.CANCELLED}),
    O.BACKORDERED: frozenset({O.ALLOCATED, O.ON_HOLD, O.CANCELLED}),
    O.ALLOCATED: frozenset({O.PICKING, O.PACKED, *_SHIPPED_ONWARD, O.EXCEPTION, O.ON_HOLD, O.CANCELLED}),
    O.PICKING: frozenset({O.PACKED, *_SHIPPED_ONWARD, O.EXCEPTION, O.CANCELLED}),
    O.PACKED: frozenset({*_SHIPPED_ONWARD, O.EXCEPTION, O.CANCELLED}),
    O.PARTIALLY_SHIPPED: frozenset({*_SHIPPED_ONWARD[1:], O.EXCEPTION, O.CANCELLED}),
    O.SHIPPED: frozenset({O.IN_TRANSIT, O.OUT_FOR_DELIVERY, O.PARTIALLY_DELIVERED, O.DELIVERED, O.EXCEPTION, O.RETURNED,
                          O.CANCELLED}),  # cancelled: every label voided before the carrier scanned it
    O.IN_TRANSIT: frozenset({O.OUT_FOR_DELIVERY, O.PARTIALLY_DELIVERED, O.DELIVERED, O.EXCEPTION, O.RETURNED}),
    O.OUT_FOR_DELIVERY: frozenset({O.IN_TRANSIT, O.PARTIALLY_DELIVERED, O.DELIVERED, O.EXCEPTION, O.RETURNED}),
    O.PARTIALLY_DELIVERED: frozenset({O.DELIVERED, O.EXCEPTION, O.RETURNED}),
    O.DELIVERED: frozenset({O.RETURNED, O.REFUNDED}),
    O.EXCEPTION: frozenset({O.ALLOCATED, O.PICKING, O.PACKED, *_SHIPPED_ONWARD, O.RETURNED, O.CANCELLED, O.REFUNDED}),
    O.RETURNED: frozenset({O.REFUNDED}),
    O.CANCELLED: frozenset({O.REFUNDED}),
    O.REFUNDED: frozenset(),
}

#: Statuses an order never leaves on its own (only by a person's action).
FINAL = frozenset({O.DELIVERED, O.CANCELLED, O.RETURNED, O.REFUNDED})

#: Shipment statuses allowed to move to each other; tracking may skip steps forward.
SHIPMENT_ORDER = (S.PENDING, S.SUBMITTED, S.PICKING, S.PACKED, S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED)
SHIPMENT_FINAL = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})

#: How a shipment's own status counts towards its order's derived status.
_SHIPMENT_TO_ORDER = {
    S.PENDING: O.ALLOCATED,
    S.SUBMITTED: O.ALLOCATED,
    S.PICKING: O.PICKING,
    S.PACKED: O.PACKED,
    S.LABEL_PURCHASED: O.SHIPPED,
    S.IN_TRANSIT: O.IN_TRANSIT,
    S.OUT_FOR_DELIVERY: O.OUT_FOR_DELIVERY,
    S.DELIVERED: O.DELIVERED,
}
_RANK = {status: i for i, status in enumerate((O.ALLOCATED, O.PICKING, O.PACKED, O.SHIPPED, O.IN_TRANSIT, O.OUT_FOR_DELIVERY, O.DELIVERED))}

def check_transition(subject: str, current: O | None, target: O) -> None:
    """Raise IllegalTransition unless ``current -> target`` is in the table.

    ``current`` None means the order is new: only ``received`` may start it.
    """
    if current is None:
        if target is not O.RECEIVED:
            raise IllegalTransition(subject, "new", target, "received")
        return
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise IllegalTransition(subject, current, target, ", ".join(sorted(allowed)) or "nothing (final)")


def derive_order_status(shipment_statuses: Iterable[S]) -> O | None:
    """The order status its shipments imply, or None when there is nothing to derive.

    Cancelled shipments are ignored. Any shipment in exception puts the order in
    exception. Otherwise the order is as far along as its least advanced shipment, with
    ``partially_shipped`` / ``partially_delivered`` where only some have got there.
    """
    live = [s for s in shipment_statuses if s is not S.CANCELLED]
    if not live:
        return None
    if any(s is S.EXCEPTION for s in live):
        return O.EXCEPTION
    if all(s is S.RETURNED for s in live):
        return O.RETURNED
    live = [s for s in live if s is not S.RETURNED]
    stages = [_SHIPMENT_TO_ORDER[s] for s in live]
    delivered = sum(1 for s in stages if s is O.DELIVERED)
    if delivered == len(stages):
        return O.DELIVERED
    if delivered:
        return O.PARTIALLY_DELIVERED
    shipped = [s for s in stages if _RANK[s] >= _RANK[O.SHIPPED]]
    if shipped and len(shipped) < len(stages):
        return O.PARTIALLY_SHIPPED
    return min(stages, key=_RANK.__getitem__)


def shipment_advances(current: S, target: S) -> bool:
    """Whether tracking/warehouse news ``target`` moves a shipment at ``current`` on.

    Shipments move forward along :data:`SHIPMENT_ORDER` (skipping steps is fine, going
    back is not), into and out of ``exception``, and never out of a final status.
    """
    if current in SHIPMENT_FINAL or current == target:
        return False
    if target in (S.EXCEPTION, S.RETURNED, S.CANCELLED):
        return True
    if current is S.EXCEPTION:
        return True
    if current is S.OUT_FOR_DELIVERY and target is S.IN_TRANSIT:
        return True  # re-routed after an attempt
    return SHIPMENT_ORDER.index(target) > SHIPMENT_ORDER.index(current)


def transition(
    tx: Tx,
    hooks: Hooks | None,
    order_id: str,
    current: O | None,
    target: O,
    *,
    at: datetime,
    source: str,
    reason: str = "",
    hold_reason: str | None = None,
    data: dict | None = None,
) -> None:
    """Move an order from ``current`` to ``target`` and append the event, in ``tx``.

    Raises IllegalTransition (nothing written) when the table forbids it, and
    StoreError when the stored status is no longer ``current`` (someone else moved it).
    The ``order_status_changed`` hook runs after the transaction commits.
    """
    check_transition(order_id, current, target)
    if current is not None and not order_store.set_status(tx, order_id, current, target, at, hold_reason):
        raise StoreError(f"order {order_id} is no longer {current}; it was changed concurrently. Retry.")
    order_store.append_events(tx, [status_event(order_id, current, target, at=at, source=source, reason=reason, data=data)])
    if hooks is not None and hooks.wants("order_status_changed"):
        tx.after_commit.append(
            lambda: hooks.order_status_changed(order_id=order_id, old=current, new=target, reason=reason, source=source)
        )


# ------------------------------------------------------------------ events (built here, and only here)


def _event(kind: str, order_id: str, current: O | None, target: O | None, *, at: datetime, source: str,
           reason: str = "", data: dict | None = None) -> dict:
    return {"order_id": order_id, "at": at, "kind": kind, "from_status": current, "to_status": target,
            "source": source, "reason": reason, "data": data}


def status_event(order_id: str, current: O | None, target: O, *, at: datetime, source: str, reason: str = "",
                 data: dict | None = None) -> dict:
    """An ``order_events`` row for a status change."""
    return _event("status", order_id, current, target, at=at, source=source, reason=reason, data=data)


def update_event(order_id: str, status: O, *, at: datetime, source: str, old_version: str, new_version: str) -> dict:
    """An ``order_events`` row for a newer version of the order's foreign data."""
    return _event("updated", order_id, status, status, at=at, source=source, reason=f"version {old_version} -> {new_version}")


def note_event(order_id: str, status: O, *, at: datetime, source: str, reason: str) -> dict:
    """An ``order_events`` row that records something without changing the status."""
    return _event("note", order_id, status, status, at=at, source=source, reason=reason)


def promise_event(order_id: str, status: O, *, at: datetime, source: str, reason: str, data: dict | None = None) -> dict:
    """An ``order_events`` row for a promise made or revised (``data``: its terms)."""
    return _event("promise", order_id, status, status, at=at, source=source, reason=reason, data=data)


def delay_event(order_id: str, status: O, *, at: datetime, state: str, reason: str | None, detail: str,
                data: dict | None = None) -> dict:
    """An ``order_events`` row (kind ``delay``) for a new delay assessment: its state and reason."""
    return _event("delay", order_id, status, status, at=at, source="delays",
                  reason=f"{state}" + (f" ({reason})" if reason else "") + (f": {detail}" if detail else ""), data=data)


def follow_shipments(tx: Tx, hooks: Hooks | None, order_id: str, *, at: datetime, source: str, reason: str = "") -> O | None:
    """Re-derive the order's status from its shipments and record the change, if any.

    A derived status the table does not allow from where the order is (a cancelled
    order whose parcel still moves, say) is noted as an event and not applied.
    Returns the new status, or None when nothing changed.
    """
    found = order_store.status_with_shipments(tx.conn, order_id)
    if found is None:
        raise StoreError(f"order {order_id} does not exist")
    current, shipment_statuses = found
    derived = derive_order_status(S(s) for s in shipment_statuses)
    if derived is None or derived is current:
        return None
    if derived not in TRANSITIONS[current]:
        order_store.append_events(tx, [note_event(
            order_id, current, at=at, source=source,
            reason=f"shipments imply {derived}, which is not allowed from {current}; left as is",
        )])
        return None
    transition(tx, hooks, order_id, current, derived, at=at, source=source, reason=reason)
    return derived
