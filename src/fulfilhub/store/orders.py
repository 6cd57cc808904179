"""Orders: the normalized order with its lines and raw payload, its status, its events.

Writes take a :class:`~fulfilhub.store.Tx`; reads take any connection. Nothing here
decides anything: the engines decide, these persist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Address, ChannelPromise, Money, Order, OrderLine, OrderStatus, ShippingChoice
from . import Tx
from .schema import order_events, order_lines, orders, shipments

_ORDER_BY_ID = sa.select(orders).where(orders.c.id == sa.bindparam("id"))
_LINES_OF = sa.select(order_lines).where(order_lines.c.order_id == sa.bindparam("id")).order_by(order_lines.c.line_no)
_SET_STATUS = (
    orders.update()
    .where(orders.c.id == sa.bindparam("oid"), orders.c.status == sa.bindparam("expected"))
    .values(status=sa.bindparam("new"), hold_reason=sa.bindparam("hold"), modified_at=sa.bindparam("at"))
)
_STATUS_AND_SHIPMENTS = (
    sa.select(orders.c.status, shipments.c.status.label("shipment_status"))
    .select_from(orders.outerjoin(shipments, shipments.c.order_id == orders.c.id))
    .where(orders.c.id == sa.bindparam("id"))
)


def existing(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, datetime, OrderStatus, datetime | None]]:
    """``{order id: (version, foreign updated_at, status, cancelled_at)}`` for those of ``ids`` already stored."""
    ids = list(ids)
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(orders.c.id, orders.c.version, orders.c.foreign_updated_at, orders.c.status, orders.c.cancelled_at)
        .where(orders.c.id.in_(ids))
    )
    return {r.id: (r.version, r.foreign_updated_at, OrderStatus(r.status), r.cancelled_at) for r in rows}


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "channel": order.channel,
        "external_id": order.external_id,
        "number": order.number,
        "version": order.version,
        "placed_at": order.placed_at,
        "foreign_updated_at": order.updated_at,
        "currency": order.currency,
        "total": order.total.amount,
        "email": order.email,
        "note": order.note,
        "ship_to": _address_json(order.ship_to) if order.ship_to else None,
        "cancelled_at": order.cancelled_at,
        "locale": order.locale or None,
        "shipping": {"method": order.shipping.method, "price": str(order.shipping.price.amount),
                     "currency": order.shipping.price.currency} if order.shipping else None,
        "channel_promise": _promise_json(order.channel_promise) if order.channel_promise else None,
        "channel_hold": order.hold_reason or None,
        "fulfilled_by": order.fulfilled_by.value,
        "raw": dict(order.raw),
    }


_ADDRESS_FIELDS = tuple(field.name for field in attrs.fields(Address))
_PROMISE_FIELDS = tuple(field.name for field in attrs.fields(ChannelPromise))


def _promise_json(promise: ChannelPromise) -> dict[str, str | None]:
    return {name: (value.isoformat() if (value := getattr(promise, name)) is not None else None)
            for name in _PROMISE_FIELDS}


def _promise_of(value: Any) -> ChannelPromise | None:
    if not isinstance(value, dict):
        return None
    return ChannelPromise(**{name: datetime.fromisoformat(value[name]) if value.get(name) else None
                             for name in _PROMISE_FIELDS})


def _address_json(address: Address) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(address, name) for name in _ADDRESS_FIELDS}  # attrs.asdict, without its generality
    out["pickup"] = attrs.asdict(address.pickup) if address.pickup else None
    return out


def _line_rows(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.id,
            "line_no": i,
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": line.unit_price.amount,
            "title": line.title,
            "external_id": line.external_id,
            "requires_shipping": line.requires_shipping,
        }
        for i, line in enumerate(order.lines)
    ]


def insert(tx: Tx, new: Sequence[tuple[Order, OrderStatus, str | None]], at: datetime) -> None:
    """Store new orders with their first status and hold reason (lines included)."""
    if not new:
        return
    tx.execute(
        orders.insert(),
        [
            {**_order_values(o), "id": o.id, "status": status, "hold_reason": hold, "created_at": at, "modified_at": at}
            for o, status, hold in new
        ],
    )
    lines = [row for o, _, _ in new for row in _line_rows(o)]
    if lines:
        tx.execute(order_lines.insert(), lines)


def replace(tx: Tx, order: Order, at: datetime) -> None:
    """Replace an order's foreign data with a newer version (status is left alone)."""
    tx.execute(orders.update().where(orders.c.id == order.id).values(**_order_values(order), modified_at=at))
    tx.execute(order_lines.delete().where(order_lines.c.order_id == order.id))
    if order.lines:
        tx.execute(order_lines.insert(), _line_rows(order))


def set_status(tx: Tx, order_id: str, expected: OrderStatus, new: OrderStatus, at: datetime, hold_reason: str | None) -> bool:
    """Compare-and-set the status; False if someone else changed it first."""
    result = tx.execute(_SET_STATUS, {"oid": order_id, "expected": expected, "new": new, "hold": hold_reason, "at": at})
    return result.rowcount == 1


def touch(tx: Tx, order_id: str, at: datetime) -> None:
    tx.execute(orders.update().where(orders.c.id == order_id).values(modified_at=at))


def append_events(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``order_events`` rows (built by :mod:`fulfilhub.engines.lifecycle`): at once,
    or at commit if ``tx`` gathers its appends (:meth:`~fulfilhub.store.Tx.gather_appends`)."""
    tx.append(order_events, rows)


def row(conn: Connection, order_id: str) -> sa.Row | None:
    return conn.execute(_ORDER_BY_ID, {"id": order_id}).first()


def status_with_shipments(conn: Connection, order_id: str) -> tuple[OrderStatus, list[str]] | None:
    """The order's status and its shipments' statuses, in one query (None: no such order)."""
    rows = conn.execute(_STATUS_AND_SHIPMENTS, {"id": order_id}).all()
    if not rows:
        return None
    return OrderStatus(rows[0].status), [r.shipment_status for r in rows if r.shipment_status is not None]


def _build(r: sa.Row, lines: Sequence[sa.Row]) -> Order:
    return Order(
        channel=r.channel,
        external_id=r.external_id,
        version=r.version,
        number=r.number,
        placed_at=r.placed_at,
        updated_at=r.foreign_updated_at,
        currency=r.currency,
        total=Money(amount=r.total, currency=r.currency),
        lines=[
            OrderLine(
                sku=ln.sku,
                quantity=ln.quantity,
                unit_price=Money(amount=ln.unit_price, currency=r.currency),
                title=ln.title,
                external_id=ln.external_id,
                requires_shipping=ln.requires_shipping,
            )
            for ln in lines
        ],
        ship_to=Address(**r.ship_to) if r.ship_to else None,
        email=r.email,
        note=r.note,
        cancelled_at=r.cancelled_at,
        locale=r.locale or "",
        shipping=ShippingChoice(method=r.shipping["method"], price=Money(amount=r.shipping["price"],
                                                                          currency=r.shipping["currency"]))
        if r.shipping else None,
        channel_promise=_promise_of(r.channel_promise),
        hold_reason=r.channel_hold or "",
        fulfilled_by=r.fulfilled_by or "seller",
        raw=r.raw,
    )


def load(conn: Connection, order_id: str) -> tuple[Order, sa.Row] | None:
    """The stored order rebuilt as a model, with its row (status, hold reason...)."""
    found = row(conn, order_id)
    if found is None:
        return None
    return _build(found, conn.execute(_LINES_OF, {"id": order_id}).all()), found


def load_many(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[Order, sa.Row]]:
    """Several orders in two queries: ``{id: (order, row)}`` for those that exist."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(orders).where(orders.c.id.in_(ids))).all()
    lines: dict[str, list[sa.Row]] = {}
    for ln in conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id.in_(ids)).order_by(order_lines.c.order_id, order_lines.c.line_no)
    ):
        lines.setdefault(ln.order_id, []).append(ln)
    return {r.id: (_build(r, lines.get(r.id, ())), r) for r in rows}


def ids_in(conn: Connection, statuses: Iterable[OrderStatus], *, modified_before: datetime | None = None,
           limit: int = 500) -> list[str]:
    stmt = sa.select(orders.c.id).where(orders.c.status.in_(list(statuses)))
    if modified_before is not None:
        stmt = stmt.where(orders.c.modified_at < modified_before)
    return [r.id for r in conn.execute(stmt.order_by(orders.c.placed_at).limit(limit))]


def listing(conn: Connection, *, status: str | None = None, channel: str | None = None, limit: int = 50) -> list[sa.Row]:
    stmt = sa.select(orders.c.id, orders.c.number, orders.c.channel, orders.c.status, orders.c.placed_at,
                     orders.c.total, orders.c.currency, orders.c.hold_reason)
    if status:
        stmt = stmt.where(orders.c.status == status)
    if channel:
        stmt = stmt.where(orders.c.channel == channel)
    return conn.execute(stmt.order_by(orders.c.placed_at.desc()).limit(limit)).all()


def ids_by_number(conn: Connection, numbers: Iterable[str]) -> list[str]:
    """The ids of the orders whose shop order number is one of ``numbers``."""
    return list(conn.execute(sa.select(orders.c.id).where(orders.c.number.in_(list(numbers)))).scalars())


def numbers_and_statuses(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{id: (number, status)}`` of the orders in ``ids`` (those that exist)."""
    out: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        stmt = sa.select(orders.c.id, orders.c.number, orders.c.status).where(orders.c.id.in_(ids[start:start + 500]))
        out.update((r.id, (r.number, r.status)) for r in conn.execute(stmt))
    return out


def channels_with_orders(conn: Connection) -> list[str]:
    """The channel instances the stored orders came from."""
    return list(conn.execute(sa.select(orders.c.channel).distinct().order_by(orders.c.channel)).scalars())


def events_listing(conn: Connection, *, order_id: str | None = None, since: datetime | None = None,
                   limit: int = 200) -> list[sa.Row]:
    """The newest ``limit`` events (of one order, at or after ``since``), oldest first."""
    e = order_events
    stmt = sa.select(e.c.id, e.c.at, e.c.order_id, e.c.kind, e.c.from_status, e.c.to_status, e.c.source, e.c.reason)
    if order_id:
        stmt = stmt.where(e.c.order_id == order_id)
    if since:
        stmt = stmt.where(e.c.at >= since)
    return list(reversed(conn.execute(stmt.order_by(e.c.at.desc(), e.c.id.desc()).limit(limit)).all()))


def events_of(conn: Connection, order_id: str) -> list[sa.Row]:
    return conn.execute(
        sa.select(order_events).where(order_events.c.order_id == order_id).order_by(order_events.c.id)
    ).all()


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(orders.c.status, sa.func.count()).group_by(orders.c.status))
    return {status: n for status, n in rows}


def latest_status_sources(conn: Connection, order_ids: Iterable[str], to_status: OrderStatus) -> dict[str, str]:
    """For each of ``order_ids`` that ever moved to ``to_status``: the source of its latest such move."""
    ids = list(order_ids)
    if not ids:
        return {}
    latest: dict[str, str] = {}
    rows = conn.execute(
        sa.select(order_events.c.order_id, order_events.c.source)
        .where(order_events.c.order_id.in_(ids), order_events.c.kind == "status", order_events.c.to_status == to_status)
        .order_by(order_events.c.id)
    )
    for row in rows:
        latest[row.order_id] = row.source
    return latest


def count_by_channel(conn: Connection) -> dict[str, dict[tuple[str, str], int]]:
    """``{channel: {(fulfilled_by, status): orders}}``."""
    rows = conn.execute(sa.select(orders.c.channel, orders.c.fulfilled_by, orders.c.status, sa.func.count())
                        .group_by(orders.c.channel, orders.c.fulfilled_by, orders.c.status))
    out: dict[str, dict[tuple[str, str], int]] = {}
    for channel, by, status, n in rows:
        out.setdefault(channel, {})[(by, status)] = n
    return out


def units_ordered_by_channel(conn: Connection, sku: str) -> dict[str, int]:
    """Units of ``sku`` on the lines of each channel's orders that were not cancelled."""
    rows = conn.execute(
        sa.select(orders.c.channel, sa.func.sum(order_lines.c.quantity))
        .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
        .where(order_lines.c.sku == sku, orders.c.status != OrderStatus.CANCELLED.value)
        .group_by(orders.c.channel)
    )
    return {channel: int(units or 0) for channel, units in rows}
