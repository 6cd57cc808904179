"""Lots and order accuracy: ``stock receive`` (stock by lot and expiry), ``stock lots``,
``trace LOT`` (who received a lot) and ``orders report-issue`` (a wrong or missing item)."""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from rich.table import Table

from ..clock import SystemClock
from ..engines import lots as lot_engine
from ..errors import ConfigError, NotFound
from ..store import lots as lot_store
from ..store import orders as order_store
from ..store import shipments as shipment_store
from .commands import _sku, orders, stock
from .common import format_option, open_store, pass_state, resolve_order_id, say, show_listing
from .group import State, console, main


def _local_warehouse(state: State, warehouse: str) -> Any:
    config = state.config(strict_env=False)
    inst = config.warehouses.get(warehouse)
    if inst is None:
        raise ConfigError(f"no warehouse {warehouse!r}; configured: {', '.join(config.warehouses) or 'none'}",
                          path=str(config.path), key="warehouses")
    if inst.type != "local":
        raise ConfigError(f"warehouse {warehouse!r} is a {inst.type!r} warehouse: its stock and lots are its own; "
                          "lots are received into a local warehouse", path=str(config.path), key=f"warehouses.{warehouse}")
    return config


@stock.command("receive")
@click.argument("warehouse")
@click.argument("sku", callback=_sku)
@click.argument("quantity", type=click.IntRange(min=1))
@click.option("--lot", required=True, help="The lot (batch) number on the goods.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="The lot's expiry date: it is picked before later ones, and never once expired.")
@pass_state
def stock_receive(state: State, warehouse: str, sku: str, quantity: int, lot: str, expires: Any) -> None:
    """Receive QUANTITY units of SKU into a local WAREHOUSE as lot LOT (added to what is on hand)."""
    if not lot.strip() or lot != lot.strip() or not lot.isprintable():
        raise click.BadParameter(f"{lot!r}: give the lot number as printed on the goods", param_hint="--lot")
    config = _local_warehouse(state, warehouse)
    from ..store import Store

    store = Store.open(config.store_url)
    expiry: date | None = expires.date() if expires else None
    try:
        with store.transaction() as tx:
            left = lot_store.receive(tx, warehouse, sku, quantity, lot, expiry, SystemClock().now())
    except lot_store.LotMismatch as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    say(f"{warehouse} {sku}: lot {lot} +{quantity}, {left} of the lot on hand"
        + (f", expires {expiry.isoformat()}" if expiry else ""))


#: The TSV columns of ``stock lots``.
LOT_COLUMNS = ("warehouse", "sku", "lot", "expires", "received", "on_hand", "received_at")


@stock.command("lots")
@format_option
@click.option("--warehouse", help="Only this warehouse's lots.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def stock_lots(state: State, warehouse: str | None, as_json: bool) -> None:
    """Stock by lot: received, still on hand, and expiry, first to expire first."""
    with open_store(state).read() as conn:
        rows = lot_store.levels(conn, warehouse=warehouse)
    records = [{"warehouse": r.warehouse, "sku": r.sku, "lot": r.lot,
                "expires": r.expires.isoformat() if r.expires else None, "received": r.received,
                "on_hand": r.on_hand, "received_at": r.received_at.isoformat()} for r in rows]

    def table() -> None:
        grid = Table(*(c.replace("_", " ") for c in LOT_COLUMNS))
        for r in records:
            grid.add_row(*(str(r[c]) if r[c] is not None else "" for c in LOT_COLUMNS))
        console.print(grid)

    show_listing(records, LOT_COLUMNS, as_json=as_json, table=table)


# --------------------------------------------------------------------------- trace


#: The TSV columns of ``trace``.
TRACE_COLUMNS = ("order_id", "number", "shipment_id", "warehouse", "sku", "lot", "quantity", "expires", "packed_at",
                 "shipped_at", "delivered_at", "restocked_at", "shipment_status", "customer", "email", "phone", "country")


@main.command("trace")
@click.argument("lot")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def trace(state: State, lot: str, as_json: bool) -> None:
    """Every order, shipment and customer that received LOT, with units and dates.

    The customer is named; the email and phone are shortened to what tells them apart
    (``orders show`` has them in full).
    """
    with open_store(state).read() as conn:
        rows = lot_store.trace(conn, lot)
        stocked = lot_store.levels(conn, lot=lot)
    if not rows and not stocked:
        raise NotFound(f"no lot {lot!r} was received or packed; `fulfilhub stock lots` lists the lots")
    records = lot_engine.receivers(rows)
    went = [r for r in records if not r["restocked_at"]]  # a cancelled parcel's units went back to the lot
    summary = {"lot": lot, "orders": len({r["order_id"] for r in went}), "units": sum(r["quantity"] for r in went),
               "restocked": sum(r["quantity"] for r in records if r["restocked_at"]),
               "on_hand": [{"warehouse": s.warehouse, "sku": s.sku, "on_hand": s.on_hand,
                            "expires": s.expires.isoformat() if s.expires else None} for s in stocked]}

    def table() -> None:
        grid = Table("order", "shipment", "sku", "units", "packed", "shipped", "delivered", "customer", "email", "phone",
                     "country")
        for r in records:
            grid.add_row(r["number"], r["shipment_id"], r["sku"], str(r["quantity"]), r["packed_at"][:10],
                         (r["shipped_at"] or "")[:10],
                         f"restocked {r['restocked_at'][:10]}" if r["restocked_at"] else (r["delivered_at"] or "")[:10],
                         r["customer"], r["email"], r["phone"], r["country"])
        console.print(grid)
        left = ", ".join(f"{s['warehouse']} {s['sku']} {s['on_hand']}" for s in summary["on_hand"]) or "none"
        back = f" ({summary['restocked']} more came back from cancelled parcels)" if summary["restocked"] else ""
        say(f"lot {lot}: {summary['units']} units in {summary['orders']} orders{back}; still on hand: {left}")

    show_listing(records, TRACE_COLUMNS, as_json=as_json, table=table, json_data={**summary, "receivers": records})


# --------------------------------------------------------------------------- order accuracy


def _line(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    sku, sep, qty = value.rpartition(":")
    if not sep or not sku.strip() or not qty.isdigit() or int(qty) < 1:
        raise click.BadParameter(f"{value!r}: give SKU:QTY, e.g. TEA-100:1")
    return sku, int(qty)


@orders.command("report-issue")
@click.argument("order_ref", metavar="ORDER")
@click.option("--line", "line", required=True, callback=_line, metavar="SKU:QTY", help="The line and how many units.")
@click.option("--kind", required=True, type=click.Choice(lot_engine.REPORTED_KINDS),
              help="wrong_item: another item came instead; missing_item: it did not come.")
@click.option("--note", default="", help="What the customer said; kept with the report.")
@click.option("--by", "source", type=click.Choice(["operator", "customer"]), default="operator",
              help="Who found it (default operator).")
@pass_state
def orders_report_issue(state: State, order_ref: str, line: tuple[str, int], kind: str, note: str, source: str) -> None:
    """Record a wrong or missing item on an ORDER's line (order accuracy, per warehouse and SKU)."""
    sku, quantity = line
    store = open_store(state)
    with store.transaction() as tx:
        order_id = resolve_order_id(tx.conn, order_ref)
        loaded = order_store.load(tx.conn, order_id)
        order = loaded[0] if loaded else None
        if order is None:
            raise NotFound(f"no order {order_ref!r}")
        try:
            fresh = lot_engine.report_issue(tx, order, shipment_store.of_order(tx.conn, order_id), sku, quantity, kind,
                                            source=source, at=SystemClock().now(), note=note)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--line") from None
    if fresh:
        say(f"{order.number}: {kind.replace('_', ' ')} recorded, {quantity} x {sku}")
    else:
        say(f"{order.number}: a {kind.replace('_', ' ')} of {sku} was already recorded; nothing changed")
