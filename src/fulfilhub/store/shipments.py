"""Shipments, loaded and saved as :class:`~fulfilhub.models.Shipment` models, and their scans.

The row is the model flattened: the chosen rate and the bought label are columns of
the shipment row, its lines a table of their own (written once, at allocation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import (
    ExceptionReason,
    Label,
    Money,
    Parcel,
    Rate,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from . import Tx, insert_ignore
from .schema import orders, shipment_lines, shipments, tracking_events

_SAVE = shipments.update().where(shipments.c.id == sa.bindparam("sid"))


def _parcel_json(parcel: Parcel | None) -> dict[str, str] | None:
    if parcel is None:
        return None
    return {"weight_g": str(parcel.weight_g), "length_cm": str(parcel.length_cm), "width_cm": str(parcel.width_cm),
            "height_cm": str(parcel.height_cm)}


def _values(s: Shipment) -> dict[str, Any]:
    rate, label = s.rate, s.label
    carrier = label or rate
    cost = label.cost if label is not None else rate.amount if rate is not None else None
    return {
        "order_id": s.order_id,
        "warehouse": s.warehouse,
        "status": s.status,
        "fulfillment_ref": s.fulfillment_ref or None,
        "parcel": _parcel_json(s.parcel),
        "carrier": carrier.carrier if carrier else None,
        "carrier_name": carrier.carrier_name if carrier else None,
        "service": carrier.service if carrier else None,
        "rate_id": rate.rate_id if rate else None,
        "carrier_shipment_ref": carrier.shipment_ref if carrier else None,
        "rate_amount": cost.amount if cost else None,
        "rate_currency": cost.currency if cost else None,
        "transit_days": rate.transit_days if rate else None,
        "tracking_code": label.tracking_code if label else None,
        "tracker_ref": label.tracker_ref if label else None,
        "tracking_url": label.tracking_url if label else None,
        "label_url": label.label_url if label else None,
        "channel_ref": s.channel_ref or None,
        "exception_reason": s.exception_reason,
        "est_delivery": s.est_delivery,
        "eta_date": s.eta_date,
        "shipped_at": s.shipped_at,
        "delivered_at": s.delivered_at,
        "next_poll_at": s.next_poll_at,
        "pickup_until": s.pickup_until,
        "modified_at": s.modified_at,
    }


def as_row(s: Shipment) -> dict[str, Any]:
    """The shipment as its database row (column name -> value), e.g. for JSON output."""
    return {"id": s.id, **_values(s), "created_at": s.created_at}


def _build(r: sa.Row, lines: Sequence[ShipmentLine]) -> Shipment:
    cost = Money(amount=r.rate_amount, currency=r.rate_currency) if r.rate_amount is not None else None
    rate = None
    if r.rate_id:
        rate = Rate(carrier=r.carrier, carrier_name=r.carrier_name or "", service=r.service or "", amount=cost,
                    rate_id=r.rate_id, shipment_ref=r.carrier_shipment_ref or "", transit_days=r.transit_days)
    label = None
    if r.tracking_code:
        label = Label(carrier=r.carrier, carrier_name=r.carrier_name or "", service=r.service or "",
                      tracking_code=r.tracking_code, cost=cost or Money(amount=0, currency="USD"),
                      shipment_ref=r.carrier_shipment_ref or "", tracker_ref=r.tracker_ref or "",
                      label_url=r.label_url or "", tracking_url=r.tracking_url or "")
    return Shipment(
        id=r.id,
        order_id=r.order_id,
        warehouse=r.warehouse,
        status=r.status,
        lines=lines,
        created_at=r.created_at,
        modified_at=r.modified_at,
        fulfillment_ref=r.fulfillment_ref or "",
        parcel=Parcel(**r.parcel) if r.parcel else None,
        rate=rate,
        label=label,
        channel_ref=r.channel_ref or "",
        exception_reason=ExceptionReason(r.exception_reason) if r.exception_reason else None,
        est_delivery=r.est_delivery,
        eta_date=r.eta_date,
        shipped_at=r.shipped_at,
        delivered_at=r.delivered_at,
        next_poll_at=r.next_poll_at,
        pickup_until=r.pickup_until,
    )


def insert(tx: Tx, shipment: Shipment) -> None:
    """Store a new shipment with its lines (the lines at commit, if ``tx`` gathers its appends)."""
    tx.execute(shipments.insert().values(id=shipment.id, created_at=shipment.created_at, **_values(shipment)))
    tx.append(shipment_lines, [
        {"shipment_id": shipment.id, "sku": ln.sku, "order_line_id": ln.order_line_id, "quantity": ln.quantity}
        for ln in shipment.lines])


def save(tx: Tx, shipment: Shipment) -> None:
    """Write the model over its row (lines are fixed at allocation and not rewritten)."""
    tx.execute(_SAVE, {"sid": shipment.id, **_values(shipment)})


def _with_lines(conn: Connection, rows: Sequence[sa.Row]) -> list[Shipment]:
    if not rows:
        return []
    by_id: dict[str, list[ShipmentLine]] = {r.id: [] for r in rows}
    for ln in conn.execute(sa.select(shipment_lines).where(shipment_lines.c.shipment_id.in_(list(by_id)))):
        by_id[ln.shipment_id].append(ShipmentLine(sku=ln.sku, quantity=ln.quantity, order_line_id=ln.order_line_id))
    return [_build(r, by_id[r.id]) for r in rows]


def load(conn: Connection, shipment_id: str) -> Shipment | None:
    found = _with_lines(conn, conn.execute(sa.select(shipments).where(shipments.c.id == shipment_id)).all())
    return found[0] if found else None


def load_many(conn: Connection, ids: Iterable[str]) -> dict[str, Shipment]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(shipments).where(shipments.c.id.in_(ids))).all()
    return {s.id: s for s in _with_lines(conn, rows)}


def of_order(conn: Connection, order_id: str) -> list[Shipment]:
    rows = conn.execute(sa.select(shipments).where(shipments.c.order_id == order_id).order_by(shipments.c.id)).all()
    return _with_lines(conn, rows)


def count_of_order(conn: Connection, order_id: str) -> int:
    return conn.execute(sa.select(sa.func.count()).where(shipments.c.order_id == order_id)).scalar_one()


def counts_of_orders(conn: Connection, order_ids: Sequence[str]) -> dict[str, int]:
    """:func:`count_of_order` of each of ``order_ids``, in one query per 500 (0 for none)."""
    ids = list(dict.fromkeys(order_ids))
    counts = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), 500):
        counts.update(conn.execute(sa.select(shipments.c.order_id, sa.func.count())
                                   .where(shipments.c.order_id.in_(ids[start:start + 500]))
                                   .group_by(shipments.c.order_id)).all())
    return counts


def due(conn: Connection, statuses: Iterable[ShipmentStatus], now: datetime, *, limit: int = 500,
        tracked_only: bool = False, except_carriers: Sequence[str] = (),
        warehouses: Sequence[str] | None = None) -> list[Shipment]:
    """Shipments in ``statuses`` whose next look is due at ``now`` (never looked at first, then oldest due),
    but none of ``except_carriers``; with ``warehouses``, only theirs."""
    stmt = sa.select(shipments).where(
        shipments.c.status.in_([str(s) for s in statuses]),
        sa.or_(shipments.c.next_poll_at.is_(None), shipments.c.next_poll_at <= now),
    )
    if warehouses is not None:
        stmt = stmt.where(shipments.c.warehouse.in_(list(warehouses)))
    if except_carriers:
        stmt = stmt.where(sa.or_(shipments.c.carrier.is_(None), shipments.c.carrier.not_in(list(except_carriers))))
    if tracked_only:
        stmt = stmt.where(shipments.c.tracking_code.is_not(None))
    stmt = stmt.order_by(shipments.c.next_poll_at.is_not(None), shipments.c.next_poll_at, shipments.c.id).limit(limit)
    return _with_lines(conn, conn.execute(stmt).all())


def without_rate(conn: Connection, status: ShipmentStatus, *, limit: int = 500) -> list[Shipment]:
    stmt = sa.select(shipments).where(shipments.c.status == str(status), shipments.c.rate_id.is_(None))
    return _with_lines(conn, conn.execute(stmt.order_by(shipments.c.id).limit(limit)).all())


def every(conn: Connection) -> list[sa.Row]:
    return conn.execute(sa.select(shipments).order_by(shipments.c.id)).all()


# ------------------------------------------------------------------ scans


def add_scans(tx: Tx, shipment_id: str, events: Sequence[TrackingEvent]) -> int:
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


def scans_of(conn: Connection, shipment_id: str) -> list[sa.Row]:
    return conn.execute(
        sa.select(tracking_events).where(tracking_events.c.shipment_id == shipment_id).order_by(tracking_events.c.at)
    ).all()


#: The columns of :func:`listing`.
LISTING_COLUMNS = ("id", "order_id", "warehouse", "status", "carrier_name", "service", "tracking_code", "modified_at")


def listing(conn: Connection, *, status: str | None = None, order_id: str | None = None, limit: int = 50) -> list[sa.Row]:
    """The newest shipments (of one order, in one status), with their carrier and tracking number."""
    stmt = sa.select(*(shipments.c[name] for name in LISTING_COLUMNS))
    if status:
        stmt = stmt.where(shipments.c.status == status)
    if order_id:
        stmt = stmt.where(shipments.c.order_id == order_id)
    return conn.execute(stmt.order_by(shipments.c.modified_at.desc(), shipments.c.id).limit(limit)).all()


def ids_by_tracking_code(conn: Connection, code: str) -> list[str]:
    """The shipments carrying tracking number ``code``."""
    return list(conn.execute(sa.select(shipments.c.id).where(shipments.c.tracking_code == code)).scalars())


def count_scans(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(tracking_events)).scalar_one()


def of_orders(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[Shipment]]:
    """The shipments of each of ``order_ids``, by order, without their lines (for reading many at once)."""
    out: dict[str, list[Shipment]] = {}
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(shipments).where(shipments.c.order_id.in_(ids[start:start + 500]))
                            .order_by(shipments.c.id))
        for r in rows:
            out.setdefault(r.order_id, []).append(_build(r, ()))
    return out


def last_scans(conn: Connection, shipment_ids: Sequence[str]) -> dict[str, TrackingEvent]:
    """Each shipment's latest stored scan (by scan time), for those of ``shipment_ids`` that have one."""
    out: dict[str, TrackingEvent] = {}
    ids = list(dict.fromkeys(shipment_ids))
    te = tracking_events
    for start in range(0, len(ids), 500):
        latest = (sa.select(te.c.shipment_id, sa.func.max(te.c.at).label("at"))
                  .where(te.c.shipment_id.in_(ids[start:start + 500])).group_by(te.c.shipment_id).subquery())
        rows = conn.execute(sa.select(te).join(latest, sa.and_(te.c.shipment_id == latest.c.shipment_id,
                                                                 te.c.at == latest.c.at)).order_by(te.c.id))
        for r in rows:  # two scans at the same time: the one stored last
            out[r.shipment_id] = TrackingEvent(at=r.at, status=r.status, description=r.description,
                                               location=r.location, source=r.source,
                                               reason=ExceptionReason(r.reason) if r.reason else None)
    return out


def departed(conn: Connection, *, batch: int = 20_000) -> Iterator[sa.Row]:
    """Every live shipment that has left its warehouse (cancelled and returned ones aside),
    streamed: ``id, warehouse, carrier_name, service, status, shipped_at, delivered_at,
    ship_to`` (the order's, as stored JSON). What the promise engine learns transit from."""
    s, o = shipments, orders
    stmt = (
        sa.select(s.c.id, s.c.warehouse, s.c.carrier_name, s.c.service, s.c.status, s.c.shipped_at,
                  s.c.delivered_at, o.c.ship_to)
        .join(o, o.c.id == s.c.order_id)
        .where(s.c.shipped_at.is_not(None),
               s.c.status.not_in([ShipmentStatus.CANCELLED, ShipmentStatus.RETURNED]))
    )
    yield from conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)


def moved_since(conn: Connection, since: datetime) -> list[sa.Row]:
    """Shipments changed at or after ``since`` (by ``modified_at``), cancelled and returned
    ones included: ``id, warehouse, carrier_name, service, status, shipped_at,
    delivered_at, modified_at, ship_to``, oldest change first. What a promise engine in
    another process (the server) learns from as shipments land."""
    s, o = shipments, orders
    stmt = (
        sa.select(s.c.id, s.c.warehouse, s.c.carrier_name, s.c.service, s.c.status, s.c.shipped_at,
                  s.c.delivered_at, s.c.modified_at, o.c.ship_to)
        .join(o, o.c.id == s.c.order_id)
        .where(s.c.modified_at >= since)
        .order_by(s.c.modified_at)
    )
    return list(conn.execute(stmt))


def of_warehouse(conn: Connection, warehouse: str, *, fulfillment_ref: str = "",
                 tracking_code: str = "") -> Shipment | None:
    """The newest shipment of ``warehouse`` with that fulfillment reference (or tracking code), or None."""
    where = (shipments.c.fulfillment_ref == fulfillment_ref if fulfillment_ref
             else shipments.c.tracking_code == tracking_code)
    found = conn.execute(sa.select(shipments.c.id).where(shipments.c.warehouse == warehouse, where)
                         .order_by(shipments.c.created_at.desc()).limit(1)).scalar()
    return load(conn, found) if found is not None else None


def by_tracking_code(conn: Connection, carrier: str, tracking_code: str) -> Shipment | None:
    """The newest shipment of ``carrier`` with ``tracking_code``, or None."""
    found = conn.execute(sa.select(shipments.c.id)
                         .where(shipments.c.carrier == carrier, shipments.c.tracking_code == tracking_code)
                         .order_by(shipments.c.created_at.desc()).limit(1)).scalar()
    return load(conn, found) if found is not None else None
