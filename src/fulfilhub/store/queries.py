"""Every read and write the engines and runner make, as small functions over a connection.

Writes take a :class:`~fulfilhub.store.Tx` (an open transaction); reads take any
connection. Nothing here decides anything: the engines decide, these persist.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..models import Address, Money, Order, OrderLine, OrderStatus, ShipmentLine, StockLevel, TrackingEvent
from ..errors import StoreError
from . import Tx
from .schema import (
    cursors,
    order_events,
    order_lines,
    orders,
    outbox,
    quarantine,
    reservations,
    shipment_lines,
    shipments,
    stock,
    tracking_events,
)


def insert_ignore(tx: Tx, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> int:
    """Insert rows, skipping those whose ``keys`` already exist; return how many went in."""
    if not rows:
        return 0
    dialect = tx.conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    else:
        raise StoreError(f"fulfilhub's store runs on SQLite and PostgreSQL, not on {dialect}")
    result = tx.conn.execute(stmt, list(rows))
    return max(result.rowcount, 0)


# --------------------------------------------------------------------------- orders


def existing_orders(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, datetime, OrderStatus]]:
    """``{order id: (version, foreign updated_at, status)}`` for those of ``ids`` already stored."""
    ids = list(ids)
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(orders.c.id, orders.c.version, orders.c.foreign_updated_at, orders.c.status).where(orders.c.id.in_(ids))
    )
    return {r.id: (r.version, r.foreign_updated_at, OrderStatus(r.status)) for r in rows}


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
        "ship_to": attrs.asdict(order.ship_to) if order.ship_to else None,
        "cancelled_at": order.cancelled_at,
        "raw": dict(order.raw),
    }


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
        }
        for i, line in enumerate(order.lines)
    ]


def insert_orders(tx: Tx, new: Sequence[tuple[Order, OrderStatus, str | None]], at: datetime) -> None:
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


def update_order(tx: Tx, order: Order, at: datetime) -> None:
    """Replace an order's foreign data with a newer version (status is left alone)."""
    tx.execute(orders.update().where(orders.c.id == order.id).values(**_order_values(order), modified_at=at))
    tx.execute(order_lines.delete().where(order_lines.c.order_id == order.id))
    if order.lines:
        tx.execute(order_lines.insert(), _line_rows(order))


def set_order_status(tx: Tx, order_id: str, expected: OrderStatus, new: OrderStatus, at: datetime, hold_reason: str | None) -> bool:
    """Compare-and-set the status; False if someone else changed it first."""
    result = tx.execute(
        orders.update()
        .where(orders.c.id == order_id, orders.c.status == expected)
        .values(status=new, hold_reason=hold_reason, modified_at=at)
    )
    return result.rowcount == 1


def append_events(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        tx.execute(order_events.insert(), list(rows))


def order_row(conn: Connection, order_id: str) -> sa.Row | None:
    return conn.execute(sa.select(orders).where(orders.c.id == order_id)).first()


def load_order(conn: Connection, order_id: str) -> tuple[Order, sa.Row] | None:
    """The stored order rebuilt as a model, with its row (status, hold reason...)."""
    row = order_row(conn, order_id)
    if row is None:
        return None
    lines = conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    ).all()
    order = Order(
        channel=row.channel,
        external_id=row.external_id,
        version=row.version,
        number=row.number,
        placed_at=row.placed_at,
        updated_at=row.foreign_updated_at,
        currency=row.currency,
        total=Money(amount=row.total, currency=row.currency),
        lines=[
            OrderLine(
                sku=ln.sku,
                quantity=ln.quantity,
                unit_price=Money(amount=ln.unit_price, currency=row.currency),
                title=ln.title,
                external_id=ln.external_id,
            )
            for ln in lines
        ],
        ship_to=Address(**row.ship_to) if row.ship_to else None,
        email=row.email,
        note=row.note,
        cancelled_at=row.cancelled_at,
        raw=row.raw,
    )
    return order, row


def order_ids_in(conn: Connection, statuses: Iterable[OrderStatus], *, modified_before: datetime | None = None,
                 limit: int = 500) -> list[str]:
    stmt = sa.select(orders.c.id).where(orders.c.status.in_(list(statuses)))
    if modified_before is not None:
        stmt = stmt.where(orders.c.modified_at < modified_before)
    return [r.id for r in conn.execute(stmt.order_by(orders.c.placed_at).limit(limit))]


def touch_order(tx: Tx, order_id: str, at: datetime) -> None:
    tx.execute(orders.update().where(orders.c.id == order_id).values(modified_at=at))


def list_orders(conn: Connection, *, status: str | None = None, channel: str | None = None, limit: int = 50) -> list[sa.Row]:
    stmt = sa.select(orders.c.id, orders.c.number, orders.c.channel, orders.c.status, orders.c.placed_at,
                     orders.c.total, orders.c.currency, orders.c.hold_reason)
    if status:
        stmt = stmt.where(orders.c.status == status)
    if channel:
        stmt = stmt.where(orders.c.channel == channel)
    return conn.execute(stmt.order_by(orders.c.placed_at.desc()).limit(limit)).all()


def order_events_for(conn: Connection, order_id: str) -> list[sa.Row]:
    return conn.execute(
        sa.select(order_events).where(order_events.c.order_id == order_id).order_by(order_events.c.id)
    ).all()


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(orders.c.status, sa.func.count()).group_by(orders.c.status))
    return {status: n for status, n in rows}


# --------------------------------------------------------------------------- shipments


def insert_shipment(tx: Tx, shipment_id: str, order_id: str, warehouse: str, lines: Sequence[ShipmentLine], status: str, at: datetime) -> None:
    tx.execute(
        shipments.insert().values(
            id=shipment_id, order_id=order_id, warehouse=warehouse, status=status, created_at=at, modified_at=at
        )
    )
    if lines:
        tx.execute(
            shipment_lines.insert(),
            [{"shipment_id": shipment_id, "sku": ln.sku, "order_line_id": ln.order_line_id, "quantity": ln.quantity}
             for ln in lines],
        )


def shipment_row(conn: Connection, shipment_id: str) -> sa.Row | None:
    return conn.execute(sa.select(shipments).where(shipments.c.id == shipment_id)).first()


def shipments_of(conn: Connection, order_id: str) -> list[sa.Row]:
    return conn.execute(sa.select(shipments).where(shipments.c.order_id == order_id).order_by(shipments.c.id)).all()


def shipment_lines_of(conn: Connection, shipment_id: str) -> list[ShipmentLine]:
    rows = conn.execute(sa.select(shipment_lines).where(shipment_lines.c.shipment_id == shipment_id))
    return [ShipmentLine(sku=r.sku, quantity=r.quantity, order_line_id=r.order_line_id) for r in rows]


def shipments_in(conn: Connection, statuses: Iterable[str], *, due_before: datetime | None = None, limit: int = 500) -> list[sa.Row]:
    stmt = sa.select(shipments).where(shipments.c.status.in_(list(statuses)))
    if due_before is not None:
        stmt = stmt.where(sa.or_(shipments.c.next_poll_at.is_(None), shipments.c.next_poll_at <= due_before))
    return conn.execute(stmt.order_by(shipments.c.created_at).limit(limit)).all()


def update_shipment(tx: Tx, shipment_id: str, at: datetime, **values: Any) -> None:
    tx.execute(shipments.update().where(shipments.c.id == shipment_id).values(modified_at=at, **values))


def add_tracking_events(tx: Tx, shipment_id: str, events: Sequence[TrackingEvent]) -> int:
    """Store scans not seen before; return how many were new."""
    rows = [
        {
            "shipment_id": shipment_id,
            "at": e.at,
            "status": e.status,
            "reason": e.reason,
            "description": e.description,
            "location": e.location,
            "source": e.source,
        }
        for e in events
    ]
    return insert_ignore(tx, tracking_events, rows, ["shipment_id", "at", "status", "source"])


def tracking_events_of(conn: Connection, shipment_id: str) -> list[sa.Row]:
    return conn.execute(
        sa.select(tracking_events).where(tracking_events.c.shipment_id == shipment_id).order_by(tracking_events.c.at)
    ).all()


# --------------------------------------------------------------------------- cursors


def get_cursor(conn: Connection, channel: str, stream: str = "orders") -> str | None:
    return conn.execute(
        sa.select(cursors.c.value).where(cursors.c.channel == channel, cursors.c.stream == stream)
    ).scalar()


def set_cursor(tx: Tx, channel: str, value: str | None, at: datetime, stream: str = "orders") -> None:
    updated = tx.execute(
        cursors.update().where(cursors.c.channel == channel, cursors.c.stream == stream).values(value=value, updated_at=at)
    )
    if updated.rowcount == 0:
        tx.execute(cursors.insert().values(channel=channel, stream=stream, value=value, updated_at=at))


# --------------------------------------------------------------------------- outbox


def enqueue(tx: Tx, key: str, kind: str, target: str, payload: Mapping[str, Any], at: datetime) -> bool:
    """Write an effect to the outbox; False if an effect with this key already exists."""
    row = {
        "key": key,
        "kind": kind,
        "target": target,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "created_at": at,
        "next_attempt_at": at,
    }
    return insert_ignore(tx, outbox, [row], ["key"]) == 1


def due_effects(conn: Connection, now: datetime, limit: int = 1000) -> list[sa.Row]:
    return conn.execute(
        sa.select(outbox)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()


def finish_effect(tx: Tx, effect_id: int, at: datetime, result: Mapping[str, Any] | None = None) -> None:
    tx.execute(
        outbox.update()
        .where(outbox.c.id == effect_id)
        .values(status="done", done_at=at, result=dict(result or {}), attempts=outbox.c.attempts + 1, last_error=None)
    )


def retry_effect(tx: Tx, effect_id: int, error: str, next_at: datetime, *, failed: bool = False) -> None:
    tx.execute(
        outbox.update()
        .where(outbox.c.id == effect_id)
        .values(
            status="failed" if failed else "pending",
            last_error=error,
            next_attempt_at=next_at,
            attempts=outbox.c.attempts + 1,
        )
    )


def requeue_effects(tx: Tx, ids: list[int] | None) -> int:
    """Make failed (or given) effects pending again, due at once; None: every failed one."""
    stmt = outbox.update().where(outbox.c.status != "done")
    stmt = stmt.where(outbox.c.status == "failed") if ids is None else stmt.where(outbox.c.id.in_(ids))
    return tx.execute(stmt.values(status="pending", next_attempt_at=outbox.c.created_at)).rowcount


def effects(conn: Connection, *, status: str | None = None, limit: int = 100) -> list[sa.Row]:
    stmt = sa.select(outbox)
    if status:
        stmt = stmt.where(outbox.c.status == status)
    return conn.execute(stmt.order_by(outbox.c.id.desc()).limit(limit)).all()


def count_effects(conn: Connection) -> dict[str, int]:
    return {s: n for s, n in conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))}


# --------------------------------------------------------------------------- quarantine


def payload_digest(source: str, payload: Any) -> str:
    blob = json.dumps([source, payload], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def quarantine_payload(tx: Tx, source: str, kind: str, payload: Any, error: str, at: datetime) -> bool:
    """Keep a payload that failed to map; False when this exact payload is already there."""
    external_id = str(payload.get("id")) if isinstance(payload, Mapping) and payload.get("id") is not None else None
    row = {
        "digest": payload_digest(source, payload),
        "source": source,
        "kind": kind,
        "external_id": external_id,
        "payload": payload,
        "error": error,
        "status": "open",
        "attempts": 1,
        "created_at": at,
    }
    return insert_ignore(tx, quarantine, [row], ["digest"]) == 1


def quarantined(conn: Connection, *, status: str | None = "open", limit: int = 100) -> list[sa.Row]:
    stmt = sa.select(quarantine)
    if status:
        stmt = stmt.where(quarantine.c.status == status)
    return conn.execute(stmt.order_by(quarantine.c.id).limit(limit)).all()


def quarantine_row(conn: Connection, qid: int) -> sa.Row | None:
    return conn.execute(sa.select(quarantine).where(quarantine.c.id == qid)).first()


def resolve_quarantine(tx: Tx, qid: int, at: datetime) -> None:
    tx.execute(quarantine.update().where(quarantine.c.id == qid).values(status="resolved", resolved_at=at))


def fail_quarantine_retry(tx: Tx, qid: int, error: str) -> None:
    tx.execute(
        quarantine.update().where(quarantine.c.id == qid).values(error=error, attempts=quarantine.c.attempts + 1)
    )


def count_quarantine(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).where(quarantine.c.status == "open")).scalar_one()


# --------------------------------------------------------------------------- stock


def set_stock(tx: Tx, warehouse: str, sku: str, on_hand: int, at: datetime, *, safety_stock: int | None = None, unit_weight_g: int | None = None) -> None:
    values: dict[str, Any] = {"on_hand": on_hand, "updated_at": at}
    if safety_stock is not None:
        values["safety_stock"] = safety_stock
    if unit_weight_g is not None:
        values["unit_weight_g"] = unit_weight_g
    updated = tx.execute(stock.update().where(stock.c.warehouse == warehouse, stock.c.sku == sku).values(**values))
    if updated.rowcount == 0:
        tx.execute(
            stock.insert().values(
                warehouse=warehouse, sku=sku, reserved=0, safety_stock=safety_stock or 0,
                unit_weight_g=unit_weight_g, on_hand=on_hand, updated_at=at,
            )
        )


def stock_levels(conn: Connection, *, warehouses: Iterable[str] | None = None, skus: Iterable[str] | None = None) -> list[StockLevel]:
    stmt = sa.select(stock)
    if warehouses is not None:
        stmt = stmt.where(stock.c.warehouse.in_(list(warehouses)))
    if skus is not None:
        stmt = stmt.where(stock.c.sku.in_(list(skus)))
    return [
        StockLevel(warehouse=r.warehouse, sku=r.sku, on_hand=r.on_hand, reserved=r.reserved, safety_stock=r.safety_stock)
        for r in conn.execute(stmt.order_by(stock.c.warehouse, stock.c.sku))
    ]


def stock_changed_at(conn: Connection) -> datetime | None:
    """When stock last became more available anywhere (set, or released)."""
    return conn.execute(sa.select(sa.func.max(stock.c.updated_at))).scalar()


def known_skus(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(stock.c.sku).distinct()).scalars())


def unit_weights(conn: Connection, warehouse: str, skus: Iterable[str]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(stock.c.sku, stock.c.unit_weight_g).where(stock.c.warehouse == warehouse, stock.c.sku.in_(list(skus)))
    )
    return {r.sku: r.unit_weight_g for r in rows if r.unit_weight_g is not None}


def reserve(tx: Tx, shipment_id: str, warehouse: str, sku: str, quantity: int) -> bool:
    """Reserve stock if it is available right now; False (nothing changed) if not."""
    result = tx.execute(
        stock.update()
        .where(
            stock.c.warehouse == warehouse,
            stock.c.sku == sku,
            stock.c.on_hand - stock.c.reserved - stock.c.safety_stock >= quantity,
        )
        .values(reserved=stock.c.reserved + quantity)
    )
    if result.rowcount != 1:
        return False
    tx.execute(
        reservations.insert().values(shipment_id=shipment_id, sku=sku, warehouse=warehouse, quantity=quantity, state="reserved")
    )
    return True


def settle_reservations(tx: Tx, shipment_id: str, *, consume: bool, at: datetime) -> None:
    """Turn a shipment's reservations into stock that left (consume) or back into stock."""
    rows = tx.execute(
        sa.select(reservations).where(reservations.c.shipment_id == shipment_id, reservations.c.state == "reserved")
    ).all()
    for r in rows:
        values: dict[str, Any] = {"reserved": stock.c.reserved - r.quantity}
        if consume:
            values["on_hand"] = stock.c.on_hand - r.quantity
        else:
            values["updated_at"] = at  # released stock may unblock backorders
        tx.execute(stock.update().where(stock.c.warehouse == r.warehouse, stock.c.sku == r.sku).values(**values))
    tx.execute(
        reservations.update()
        .where(reservations.c.shipment_id == shipment_id, reservations.c.state == "reserved")
        .values(state="consumed" if consume else "released")
    )



def all_shipments(conn: Connection) -> list[sa.Row]:
    return conn.execute(sa.select(shipments).order_by(shipments.c.id)).all()


def count_scans(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(tracking_events)).scalar_one()
