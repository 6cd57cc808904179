"""Stock and reservations: what each warehouse holds, and what is promised to shipments.

A reservation is a conditional update that succeeds only while stock is available, so
two channels selling the last unit cannot both get it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import StockLevel
from . import Tx
from .schema import order_lines, orders, reservations, shipment_lines, shipments, stock

_RESERVE = (
    stock.update()
    .where(
        stock.c.warehouse == sa.bindparam("w"),
        stock.c.sku == sa.bindparam("s"),
        stock.c.on_hand - stock.c.reserved - stock.c.safety_stock >= sa.bindparam("q"),
    )
    .values(reserved=stock.c.reserved + sa.bindparam("q"))
)


def set_level(tx: Tx, warehouse: str, sku: str, on_hand: int, at: datetime, *, safety_stock: int | None = None,
              unit_weight_g: int | None = None, restock_on: date | None = None) -> None:
    """Set a SKU's units on hand in a warehouse (and, when given, its safety stock, unit
    weight and the date more is expected); what is not given is kept."""
    values: dict[str, Any] = {"on_hand": on_hand, "updated_at": at}
    if safety_stock is not None:
        values["safety_stock"] = safety_stock
    if unit_weight_g is not None:
        values["unit_weight_g"] = unit_weight_g
    if restock_on is not None:
        values["restock_on"] = restock_on
    updated = tx.execute(stock.update().where(stock.c.warehouse == warehouse, stock.c.sku == sku).values(**values))
    if updated.rowcount == 0:
        tx.execute(
            stock.insert().values(
                warehouse=warehouse, sku=sku, reserved=0, safety_stock=safety_stock or 0,
                unit_weight_g=unit_weight_g, on_hand=on_hand, updated_at=at, restock_on=restock_on,
            )
        )


_FOR_PROMISE = (
    sa.select(stock.c.warehouse, stock.c.sku, stock.c.on_hand, stock.c.reserved, stock.c.safety_stock, stock.c.restock_on)
    .where(stock.c.sku.in_(sa.bindparam("skus", expanding=True)))
)
#: The same read as plain SQL, by the driver's placeholder (a quote's one statement: a
#: third of its time through SQLAlchemy's execution machinery, a tenth this way).
_FOR_PROMISE_SQL = "SELECT warehouse, sku, on_hand, reserved, safety_stock, restock_on FROM stock WHERE sku IN ({})"
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def for_promise(conn: Connection, skus: Iterable[str]) -> list[tuple[StockLevel, date | None]]:
    """Each warehouse's level of each of ``skus``, with the date more is expected (None: not known)."""
    wanted = sorted(set(skus))
    if not wanted:
        return []
    mark = _MARKS.get(conn.dialect.paramstyle)
    if mark is None:
        rows = [tuple(r) for r in conn.execute(_FOR_PROMISE, {"skus": wanted})]
    else:
        rows = conn.exec_driver_sql(_FOR_PROMISE_SQL.format(", ".join([mark] * len(wanted))), tuple(wanted)).all()
    return [
        (StockLevel(warehouse=warehouse, sku=sku, on_hand=on_hand, reserved=reserved, safety_stock=safety),
         date.fromisoformat(restock) if isinstance(restock, str) else restock)
        for warehouse, sku, on_hand, reserved, safety, restock in rows
    ]


def levels(conn: Connection, *, warehouses: Iterable[str] | None = None, skus: Iterable[str] | None = None) -> list[StockLevel]:
    stmt = sa.select(stock)
    if warehouses is not None:
        stmt = stmt.where(stock.c.warehouse.in_(list(warehouses)))
    if skus is not None:
        stmt = stmt.where(stock.c.sku.in_(list(skus)))
    return [
        StockLevel(warehouse=r.warehouse, sku=r.sku, on_hand=r.on_hand, reserved=r.reserved, safety_stock=r.safety_stock)
        for r in conn.execute(stmt.order_by(stock.c.warehouse, stock.c.sku))
    ]


def restock_dates(conn: Connection) -> dict[tuple[str, str], date]:
    """``(warehouse, sku) -> date`` for every row that has a restock date."""
    rows = conn.execute(sa.select(stock.c.warehouse, stock.c.sku, stock.c.restock_on).where(stock.c.restock_on.is_not(None)))
    return {(r.warehouse, r.sku): r.restock_on for r in rows}


def changed_at(conn: Connection) -> datetime | None:
    """When stock last became more available anywhere (set, or released)."""
    return conn.execute(sa.select(sa.func.max(stock.c.updated_at))).scalar()


def known_skus(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(stock.c.sku).distinct()).scalars())


def unit_weights(conn: Connection, warehouse: str, skus: Iterable[str]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(stock.c.sku, stock.c.unit_weight_g).where(stock.c.warehouse == warehouse, stock.c.sku.in_(list(skus)))
    )
    return {r.sku: r.unit_weight_g for r in rows if r.unit_weight_g is not None}


def reserve(tx: Tx, shipment_id: str, warehouse: str, quantities: Mapping[str, int]) -> bool:
    """Reserve ``{sku: quantity}`` for a shipment if all of it is available right now.

    False when some SKU is not: the caller must roll ``tx`` back (what was reserved
    before the failing SKU is part of it). The reservation rows go in at commit if ``tx``
    gathers its appends.
    """
    for sku, quantity in quantities.items():
        if tx.execute(_RESERVE, {"w": warehouse, "s": sku, "q": quantity}).rowcount != 1:
            return False
    tx.append(reservations, [
        {"shipment_id": shipment_id, "sku": sku, "warehouse": warehouse, "quantity": quantity, "state": "reserved"}
        for sku, quantity in quantities.items()
    ])
    return True


def restock(tx: Tx, warehouse: str, quantities: Mapping[str, int], at: datetime) -> None:
    """Put units back on the shelf (a parcel that never left): ``on_hand`` goes up."""
    for sku, quantity in quantities.items():
        tx.execute(stock.update().where(stock.c.warehouse == warehouse, stock.c.sku == sku)
                   .values(on_hand=stock.c.on_hand + quantity, updated_at=at))


def settle(tx: Tx, shipment_id: str, *, consume: bool, at: datetime) -> None:
    """Turn a shipment's reservations into stock that left (consume) or back into stock."""
    mine = sa.select(reservations.c.quantity).where(
        reservations.c.shipment_id == shipment_id,
        reservations.c.state == "reserved",
        reservations.c.warehouse == stock.c.warehouse,
        reservations.c.sku == stock.c.sku,
    )
    held = mine.scalar_subquery()
    values: dict[str, Any] = {"reserved": stock.c.reserved - held}
    if consume:
        values["on_hand"] = stock.c.on_hand - held
    else:
        values["updated_at"] = at  # released stock may unblock backorders
    tx.execute(stock.update().where(mine.exists()).values(**values))  # one statement for every SKU
    tx.execute(
        reservations.update()
        .where(reservations.c.shipment_id == shipment_id, reservations.c.state == "reserved")
        .values(state="consumed" if consume else "released")
    )


# ------------------------------------------------------------------ a 3PL's stock, synced


def skus_wanted(conn: Connection) -> set[str]:
    """The SKUs worth asking a 3PL about: those in the stock table, and those of orders held,
    accepted or backordered (an order for a SKU no warehouse lists is held until one does)."""
    open_lines = (sa.select(order_lines.c.sku).join(orders, orders.c.id == order_lines.c.order_id)
                  .where(orders.c.status.in_(["on_hold", "accepted", "backordered"]),
                         order_lines.c.requires_shipping.is_(True)).distinct())
    return known_skus(conn) | set(conn.execute(open_lines).scalars())


def submitted_reservations(conn: Connection, warehouse: str) -> set[str]:
    """The shipments holding a reservation at ``warehouse`` that the warehouse has been sent
    (it answered with its reference): the ones it counts as committed."""
    return set(conn.execute(
        sa.select(reservations.c.shipment_id).distinct()
        .join(shipments, shipments.c.id == reservations.c.shipment_id)
        .where(reservations.c.warehouse == warehouse, reservations.c.state == "reserved",
               shipments.c.fulfillment_ref.is_not(None))
    ).scalars())


def sync_levels(tx: Tx, warehouse: str, fulfillable: Mapping[str, int], seen: Iterable[str],
                at: datetime) -> dict[str, tuple[int | None, int]]:
    """Set a 3PL's SKUs from what it says it can still fulfil, in one transaction.

    ``fulfillable`` is ``{sku: units the 3PL can still send}`` (its on hand less what it
    holds committed). ``seen`` are the shipments whose reservations it already counts
    as committed (read before it was asked): their units are fulfilhub's reservations
    too, so they are added back to ``on_hand``; reservations it has not seen stay
    reserved against what it can fulfil. So ``on_hand - reserved`` is what it can
    fulfil less what fulfilhub promised that it does not know of yet. Safety stock and
    unit weight are kept. Returns ``{sku: (on_hand before (None: new row), after)}`` for
    the rows that changed; nothing else is written.
    """
    seen = sorted(set(seen))
    held: dict[str, int] = {}
    if seen:
        rows = tx.execute(sa.select(reservations.c.sku, sa.func.sum(reservations.c.quantity))
                          .where(reservations.c.warehouse == warehouse, reservations.c.state == "reserved",
                                 reservations.c.shipment_id.in_(seen))
                          .group_by(reservations.c.sku))
        held = {sku: int(quantity) for sku, quantity in rows}
    before = {r.sku: r.on_hand for r in tx.execute(
        sa.select(stock.c.sku, stock.c.on_hand).where(stock.c.warehouse == warehouse,
                                                      stock.c.sku.in_(sorted(fulfillable))))}
    changed: dict[str, tuple[int | None, int]] = {}
    for sku, units in sorted(fulfillable.items()):
        on_hand = max(0, units) + held.get(sku, 0)
        if before.get(sku) != on_hand:
            set_level(tx, warehouse, sku, on_hand, at)
            changed[sku] = (before.get(sku), on_hand)
    return changed


def allocated_by_channel(conn: Connection, sku: str) -> dict[str, dict[str, int]]:
    """Units of ``sku`` in the shipments of each channel's orders: ``{channel: {shipment status: units}}``."""
    rows = conn.execute(
        sa.select(orders.c.channel, shipments.c.status, sa.func.sum(shipment_lines.c.quantity))
        .select_from(shipment_lines.join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
                     .join(orders, orders.c.id == shipments.c.order_id))
        .where(shipment_lines.c.sku == sku)
        .group_by(orders.c.channel, shipments.c.status)
    )
    out: dict[str, dict[str, int]] = {}
    for channel, status, units in rows:
        out.setdefault(channel, {})[status] = int(units or 0)
    return out
