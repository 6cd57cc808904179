"""Lots and order accuracy: ``stock receive`` (stock by lot and expiry), ``stock lots``,
``trace LOT`` (who received a lot; ``--notify`` drafts recall notices), ``notices drafts``
and ``notices approve`` (a person sends the drafts) and ``orders report-issue`` (a wrong
or missing item)."""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from rich.table import Table

from ..clock import SystemClock
from ..engines import lots as lot_engine
from ..engines import notify
from ..errors import ConfigError, NotFound
from ..store import lots as lot_store
from ..store import notices as notice_store
from ..store import orders as order_store
from ..store import shipments as shipment_store
from .commands import _sku, orders, stock
from .common import format_option, open_store, pass_state, resolve_order_id, say, show_listing
from .group import State, console, main
from .notices import notices


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
@click.option("--notify", "draft", is_flag=True,
              help="Draft a recall notice to each order that received it, for a person to approve (nothing is sent).")
@click.option("--reason", default="", help="Why the lot is recalled, as customers will read it (with --notify).")
@click.option("--sku", default=None, help="Only this SKU's lot (a lot number such as a date code may be on several SKUs).")
@pass_state
def trace(state: State, lot: str, as_json: bool, draft: bool, reason: str, sku: str | None) -> None:
    """Every order, shipment and customer that received LOT, with units and dates.

    The customer is named; the email and phone are shortened to what tells them apart
    (``orders show`` has them in full). With ``--notify --reason TEXT`` a recall notice is
    drafted per order, in the customer's language: ``notices drafts`` lists them and
    ``notices approve`` sends them.
    """
    if draft and not reason.strip():
        raise click.UsageError("--notify needs --reason: why the lot is recalled, as customers will read it")
    store = open_store(state)
    with store.read() as conn:
        rows = lot_store.trace(conn, lot, sku)
        stocked = lot_store.levels(conn, lot=lot, sku=sku)
    if not rows and not stocked:
        of = f" of {sku}" if sku else ""
        raise NotFound(f"no lot {lot!r}{of} was received or packed; `fulfilhub stock lots` lists the lots")
    drafted: list[str] = []
    if draft:
        config = state.config(strict_env=False)
        conf = notify.settings(config.notices, path=str(config.path))
        with store.transaction() as tx:
            drafted = lot_engine.draft_recall(tx, config, conf, lot, reason.strip(), SystemClock().now(), sku)
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

    if draft:
        summary["drafted"] = drafted
    show_listing(records, TRACE_COLUMNS, as_json=as_json, table=table, json_data={**summary, "receivers": records})
    if draft and not as_json:
        say(f"{len(drafted)} recall notice(s) drafted; `fulfilhub notices drafts` lists them, "
            "`fulfilhub notices approve ID...` sends them")


# --------------------------------------------------------------------------- drafted notices


#: The TSV columns of ``notices drafts``.
DRAFT_COLUMNS = ("id", "key", "order_id", "order_number", "event", "locale", "to", "approved_at", "approved_by",
                 "reason", "subject")


@notices.command("drafts")
@format_option
@click.option("--all", "every", is_flag=True, help="Approved drafts too (default: those waiting).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def notices_drafts(state: State, every: bool, as_json: bool) -> None:
    """Notices drafted for a person to approve (recalls), waiting ones first."""
    with open_store(state).read() as conn:
        rows = notice_store.drafts(conn, waiting=None if every else True)
    records = [{"id": r.id, "key": r.key, "order_id": r.order_id, "order_number": r.order_number, "event": r.event,
                "locale": r.locale, "to": lot_engine.redacted_email(r.recipient),
                "approved_at": r.approved_at.isoformat() if r.approved_at else None, "approved_by": r.approved_by,
                "reason": r.reason, "subject": r.subject, "text": r.text, "notifiers": list(r.notifiers)} for r in rows]

    def table() -> None:
        grid = Table("id", "order", "locale", "to", "approved", "subject")
        for r in records:
            grid.add_row(str(r["id"]), r["order_number"], r["locale"], r["to"], (r["approved_at"] or "")[:16],
                         r["subject"])
        console.print(grid)

    show_listing(records, DRAFT_COLUMNS, as_json=as_json, table=table)


@notices.command("approve")
@click.argument("refs", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who approves; kept with the draft.")
@pass_state
def notices_approve(state: State, refs: tuple[str, ...], actor: str) -> None:
    """Approve drafted notices (by id or key): each is sent through its notifiers on the next `sync`."""
    store = open_store(state)
    now = SystemClock().now()
    with store.transaction() as tx:
        missing = [ref for ref in refs if notice_store.draft(tx.conn, ref) is None]
        if missing:
            raise NotFound(f"no drafted notice {', '.join(map(repr, missing))}; `fulfilhub notices drafts` lists them")
        for ref in refs:
            notify.approve(tx, ref, by=actor, at=now)
    say(f"{len(refs)} notice(s) approved; `fulfilhub sync` sends them")


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
