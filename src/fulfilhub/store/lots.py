"""Lots (batches) and order accuracy: what a local warehouse holds by lot, which lot went
into which shipment line, and the lines that were packed short or reported wrong.

A local warehouse's lot stock (``lots``) is received with ``fulfilhub stock receive
--lot`` (the units go into ``stock.on_hand`` as well) and picked first-expiry-first-out
by :func:`pick_once`, which records its answer under the request's key in the
warehouse's own state in the same transaction: asked again, it gives the same answer
and takes nothing twice. ``shipment_line_lots`` is filled from any warehouse's packed
answer (:func:`record_packed`, idempotent by shipment, SKU and lot); ``fulfilhub trace
LOT`` reads it back (:func:`trace`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import LotPick, ShortPick
from . import Tx, insert_ignore
from .schema import line_issues, lots, orders, plugin_state, shipment_line_lots, shipment_lines, shipments, stock

#: The kinds of a line issue (order accuracy).
ISSUE_KINDS = ("short_pick", "wrong_item", "missing_item")


class LotMismatch(ValueError):
    """A lot received again with another expiry date than it was received with."""


# --------------------------------------------------------------------------- receiving


def receive(tx: Tx, warehouse: str, sku: str, quantity: int, lot: str, expires: date | None, at: datetime) -> int:
    """Add ``quantity`` units of ``lot`` to the warehouse's stock (and to ``stock.on_hand``);
    the lot's units on hand after it. A lot received again must carry the same expiry."""
    found = tx.execute(sa.select(lots.c.expires, lots.c.on_hand)
                       .where(lots.c.warehouse == warehouse, lots.c.sku == sku, lots.c.lot == lot)).first()
    if found is None:
        tx.execute(lots.insert().values(warehouse=warehouse, sku=sku, lot=lot, expires=expires, received=quantity,
                                        on_hand=quantity, received_at=at, updated_at=at))
        left = quantity
    else:
        if found.expires != expires:
            raise LotMismatch(f"lot {lot!r} of {sku} in {warehouse} was received with expiry "
                              f"{found.expires.isoformat() if found.expires else 'none'}, not "
                              f"{expires.isoformat() if expires else 'none'}")
        tx.execute(lots.update().where(lots.c.warehouse == warehouse, lots.c.sku == sku, lots.c.lot == lot)
                   .values(received=lots.c.received + quantity, on_hand=lots.c.on_hand + quantity, updated_at=at))
        left = found.on_hand + quantity
    updated = tx.execute(stock.update().where(stock.c.warehouse == warehouse, stock.c.sku == sku)
                         .values(on_hand=stock.c.on_hand + quantity, updated_at=at))
    if updated.rowcount == 0:
        tx.execute(stock.insert().values(warehouse=warehouse, sku=sku, on_hand=quantity, reserved=0, safety_stock=0,
                                         updated_at=at))
    return left


def levels(conn: Connection, *, warehouse: str | None = None, lot: str | None = None, sku: str | None = None) -> list[Any]:
    """The lot rows (warehouse, sku, lot, expires, received, on_hand, received_at), by expiry."""
    stmt = sa.select(lots)
    if warehouse is not None:
        stmt = stmt.where(lots.c.warehouse == warehouse)
    if lot is not None:
        stmt = stmt.where(lots.c.lot == lot)
    if sku is not None:
        stmt = stmt.where(lots.c.sku == sku)
    return list(conn.execute(stmt.order_by(lots.c.warehouse, lots.c.sku, lots.c.expires.is_(None), lots.c.expires,
                                           lots.c.received_at, lots.c.lot)))


# --------------------------------------------------------------------------- picking


def fefo(available: Iterable[Any], wanted: int, on: date) -> tuple[list[tuple[Any, int]], int, list[Any]]:
    """First expiry, first out: ``([(lot row, units)], units short, expired lot rows)``.

    ``available`` are one SKU's lot rows with units on hand. A lot that expired before
    ``on`` is never picked; lots without an expiry go last, older receipts first.
    """
    ordered = sorted(available, key=lambda r: (r.expires is None, r.expires or date.max, r.received_at, r.lot))
    expired = [r for r in ordered if r.expires is not None and r.expires < on and r.on_hand > 0]
    taken: list[tuple[Any, int]] = []
    need = wanted
    for row in ordered:
        if need == 0:
            break
        if row in expired or row.on_hand <= 0:
            continue
        units = min(need, row.on_hand)
        taken.append((row, units))
        need -= units
    return taken, need, expired


def pick_once(tx: Tx, namespace: str, key: str, warehouse: str, wanted: Mapping[str, int],
              on: date, at: datetime) -> tuple[list[LotPick], list[ShortPick]]:
    """Pick ``{sku: units}`` from the warehouse's lots, first expiry first out, once per ``key``.

    A SKU the warehouse keeps no lots of is not lot-tracked: it is neither picked here
    nor short. A lot-tracked SKU whose unexpired lots do not cover the units is packed
    short, and the :class:`ShortPick` says why. The answer is kept in ``plugin_state``
    (``namespace``, ``lots:<key>``) in the same transaction: asked again, the same answer.
    """
    state_key = f"lots:{key}"
    kept = tx.execute(sa.select(plugin_state.c.value)
                      .where(plugin_state.c.namespace == namespace, plugin_state.c.key == state_key)).scalar()
    if kept is not None:
        return _answer_of(json.loads(kept))
    rows = list(tx.execute(sa.select(lots).where(lots.c.warehouse == warehouse, lots.c.sku.in_(sorted(wanted)))))
    picks: list[LotPick] = []
    short: list[ShortPick] = []
    for sku in sorted(wanted):
        mine = [r for r in rows if r.sku == sku]
        if not mine:
            continue
        taken, missing, expired = fefo(mine, wanted[sku], on)
        for row, units in taken:
            tx.execute(lots.update().where(lots.c.warehouse == warehouse, lots.c.sku == sku, lots.c.lot == row.lot)
                       .values(on_hand=lots.c.on_hand - units, updated_at=at))
            picks.append(LotPick(sku=sku, lot=row.lot, quantity=units, expires=row.expires))
        if missing:
            why = ", ".join(f"lot {r.lot} expired {r.expires.isoformat()}" for r in expired)
            short.append(ShortPick(sku=sku, quantity=missing,
                                   reason="no unexpired lot left" + (f" ({why})" if why else "")))
    value = {"lots": [{"sku": p.sku, "lot": p.lot, "quantity": p.quantity,
                       "expires": p.expires.isoformat() if p.expires else None} for p in picks],
             "short": [{"sku": s.sku, "quantity": s.quantity, "reason": s.reason} for s in short]}
    tx.execute(plugin_state.insert().values(namespace=namespace, key=state_key, updated_at=at,
                                            value=json.dumps(value, sort_keys=True, separators=(",", ":"))))
    return picks, short


def tracked(conn: Connection, warehouse: str, skus: Sequence[str]) -> set[str]:
    """Those of ``skus`` the warehouse keeps by lot."""
    if not skus:
        return set()
    return set(conn.execute(sa.select(lots.c.sku).distinct()
                            .where(lots.c.warehouse == warehouse, lots.c.sku.in_(sorted(set(skus))))).scalars())


def pick_many(tx: Tx, namespace: str, warehouse: str, wanted: Mapping[str, tuple[Mapping[str, int], datetime]]
              ) -> dict[str, tuple[list[LotPick], list[ShortPick]]]:
    """:func:`pick_once` for ``{key: ({sku: units}, at)}`` in one transaction. A request
    none of whose SKUs the warehouse keeps by lot picks nothing and writes nothing, so a
    warehouse without lots pays one read per batch."""
    by_lot = tracked(tx.conn, warehouse, [sku for units, _ in wanted.values() for sku in units])
    out: dict[str, tuple[list[LotPick], list[ShortPick]]] = {}
    for key, (units, at) in wanted.items():
        out[key] = pick_once(tx, namespace, key, warehouse, units, at.date(), at) if by_lot & set(units) else ([], [])
    return out


def _answer_of(value: Mapping[str, Any]) -> tuple[list[LotPick], list[ShortPick]]:
    return ([LotPick(sku=p["sku"], lot=p["lot"], quantity=p["quantity"],
                     expires=date.fromisoformat(p["expires"]) if p["expires"] else None) for p in value["lots"]],
            [ShortPick(**s) for s in value["short"]])


# --------------------------------------------------------------------------- what was packed


def record_packed(tx: Tx, shipment_id: str, warehouse: str, picks: Iterable[LotPick], at: datetime) -> int:
    """Keep which lot went into the shipment (units of one SKU and lot summed); rows that
    exist are kept as they are. How many rows went in."""
    summed: dict[tuple[str, str], list[Any]] = {}
    for p in picks:
        entry = summed.setdefault((p.sku, p.lot), [0, p.expires])
        entry[0] += p.quantity
    rows = [{"shipment_id": shipment_id, "sku": sku, "lot": lot, "warehouse": warehouse, "quantity": units,
             "expires": expires, "packed_at": at} for (sku, lot), (units, expires) in sorted(summed.items())]
    return insert_ignore(tx, shipment_line_lots, rows, ["shipment_id", "sku", "lot"]) if rows else 0


def restock_shipment(tx: Tx, shipment_id: str, at: datetime) -> int:
    """A packed shipment was cancelled (its units back on the shelf): each lot it took gets
    its units back, once (the rows are marked ``restocked_at``). Lots a warehouse reported
    but fulfilhub does not keep (a plugin's) are only marked. How many rows it restocked."""
    rows = list(tx.execute(sa.select(shipment_line_lots).where(shipment_line_lots.c.shipment_id == shipment_id,
                                                               shipment_line_lots.c.restocked_at.is_(None))))
    for r in rows:
        tx.execute(lots.update().where(lots.c.warehouse == r.warehouse, lots.c.sku == r.sku, lots.c.lot == r.lot)
                   .values(on_hand=lots.c.on_hand + r.quantity, updated_at=at))
    if rows:
        tx.execute(shipment_line_lots.update().where(shipment_line_lots.c.shipment_id == shipment_id,
                                                     shipment_line_lots.c.restocked_at.is_(None))
                   .values(restocked_at=at))
    return len(rows)


def lots_of_shipment(conn: Connection, shipment_id: str) -> list[Any]:
    return list(conn.execute(sa.select(shipment_line_lots).where(shipment_line_lots.c.shipment_id == shipment_id)
                             .order_by(shipment_line_lots.c.sku, shipment_line_lots.c.lot)))


def trace(conn: Connection, lot: str, sku: str | None = None) -> list[Any]:
    """Every shipment line a lot went into, with its order and customer, oldest first:
    rows of (shipment_id, sku, lot, warehouse, quantity, expires, packed_at, restocked_at, shipment
    status, shipped_at, delivered_at, order_id, number, order status, email, ship_to, locale).
    ``sku``: only that SKU's lot (a lot number, such as a date code, may name lots of several SKUs)."""
    stmt = (
        sa.select(shipment_line_lots, shipments.c.status.label("shipment_status"), shipments.c.shipped_at,
                  shipments.c.delivered_at, orders.c.id.label("order_id"), orders.c.number,
                  orders.c.status.label("order_status"), orders.c.email, orders.c.ship_to, orders.c.locale)
        .join(shipments, shipments.c.id == shipment_line_lots.c.shipment_id)
        .join(orders, orders.c.id == shipments.c.order_id)
        .where(shipment_line_lots.c.lot == lot, *([shipment_line_lots.c.sku == sku] if sku is not None else []))
        .order_by(shipment_line_lots.c.packed_at, shipment_line_lots.c.shipment_id, shipment_line_lots.c.sku)
    )
    return list(conn.execute(stmt))


# --------------------------------------------------------------------------- order accuracy


def record_issue(tx: Tx, *, key: str, order_id: str, sku: str, quantity: int, kind: str, source: str,
                 at: datetime, shipment_id: str | None = None, warehouse: str | None = None, reason: str = "") -> bool:
    """Keep one line issue; False (nothing written) when its key exists."""
    if kind not in ISSUE_KINDS:
        raise ValueError(f"line issue kind {kind!r}: expected one of {', '.join(ISSUE_KINDS)}")
    row = {"key": key, "order_id": order_id, "shipment_id": shipment_id, "warehouse": warehouse, "sku": sku,
           "quantity": quantity, "kind": kind, "source": source, "reason": reason, "reported_at": at}
    return insert_ignore(tx, line_issues, [row], ["key"]) == 1


def issues(conn: Connection, *, order_id: str | None = None, since: datetime | None = None) -> list[Any]:
    stmt = sa.select(line_issues)
    if order_id is not None:
        stmt = stmt.where(line_issues.c.order_id == order_id)
    if since is not None:
        stmt = stmt.where(line_issues.c.reported_at >= since)
    return list(conn.execute(stmt.order_by(line_issues.c.id)))


def accuracy_facts(conn: Connection, since: datetime | None, until: datetime) -> tuple[list[Any], list[Any]]:
    """What order accuracy counts in ``[since, until)``: the lines of shipments handed to a
    carrier then (shipment_id, warehouse, sku, quantity), and the issues of those
    shipments or, for an issue no shipment carries, reported then (shipment_id, warehouse,
    sku, quantity, kind)."""
    went = shipments.c.shipped_at < until
    if since is not None:
        went = sa.and_(went, shipments.c.shipped_at >= since)
    lines = list(conn.execute(
        sa.select(shipment_lines.c.shipment_id, shipments.c.warehouse, shipment_lines.c.sku, shipment_lines.c.quantity)
        .join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
        .where(shipments.c.shipped_at.is_not(None), went, shipments.c.status != "cancelled")
        .order_by(shipment_lines.c.shipment_id, shipment_lines.c.sku)))
    shipped = sa.select(shipments.c.id).where(shipments.c.shipped_at.is_not(None), went)
    loose = line_issues.c.reported_at < until
    if since is not None:
        loose = sa.and_(loose, line_issues.c.reported_at >= since)
    found = list(conn.execute(
        sa.select(line_issues.c.shipment_id, line_issues.c.warehouse, line_issues.c.sku, line_issues.c.quantity,
                  line_issues.c.kind)
        .where(sa.or_(line_issues.c.shipment_id.in_(shipped), sa.and_(line_issues.c.shipment_id.is_(None), loose)))
        .order_by(line_issues.c.id)))
    return lines, found
