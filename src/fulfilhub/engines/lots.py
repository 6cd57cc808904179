"""What a packed answer says about lots and short picks, kept with the shipment.

It decides only what to keep of a warehouse's packed answer (``FulfillmentUpdate.lots``
and ``.short``) and which events say so: the lots of SKUs the shipment carries are
recorded against its lines (``store.lots.record_packed``), a short pick becomes a line
issue of kind ``short_pick`` (order accuracy), and each is an order event. It never
picks (the warehouse does: the local one first expiry first out) and never moves a
status (the fulfilment engine does, in the same transaction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..models import FulfillmentUpdate, NoticeEvent, Order, OrderStatus, Shipment, ShipmentStatus
from ..store import Tx
from ..store import lots as lot_store
from ..store import notices as notice_store
from ..store import orders as order_store
from ..store import tracking as tracking_store
from . import lifecycle, notify


def record_packing(tx: Tx, shipment: Shipment, update: FulfillmentUpdate, at: datetime, *, source: str) -> int:
    """Keep the packed answer's lots and short picks of ``shipment``; how many events it wrote.

    Lots of a SKU the shipment does not carry, or more units of a SKU than it carries,
    are not kept: the event says what was left out. Asked again with the same answer,
    nothing new is written.
    """
    if not update.lots and not update.short:
        return 0
    carried: dict[str, int] = {}
    for line in shipment.lines:
        carried[line.sku] = carried.get(line.sku, 0) + line.quantity
    kept, refused = [], []
    taken: dict[str, int] = {}
    for pick in update.lots:
        if taken.get(pick.sku, 0) + pick.quantity > carried.get(pick.sku, 0):
            refused.append(pick)
            continue
        taken[pick.sku] = taken.get(pick.sku, 0) + pick.quantity
        kept.append(pick)
    found = order_store.row(tx.conn, shipment.order_id)
    status = OrderStatus(found.status) if found is not None else None
    events = []
    if lot_store.record_packed(tx, shipment.id, shipment.warehouse, kept, at) and status is not None:
        told = ", ".join(f"{p.sku} lot {p.lot} x{p.quantity}" for p in kept)
        events.append(lifecycle.note_event(shipment.order_id, status, at=at, source=source,
                                           reason=f"shipment {shipment.id} packed from {told}"))
    if refused and status is not None:
        told = ", ".join(f"{p.sku} lot {p.lot} x{p.quantity}" for p in refused)
        events.append(lifecycle.note_event(shipment.order_id, status, at=at, source=source,
                                           reason=f"shipment {shipment.id}: lots not kept, more than the shipment "
                                                  f"carries: {told}"))
    for short in update.short:
        units = min(short.quantity, carried.get(short.sku, 0))
        if units <= 0:
            continue
        fresh = lot_store.record_issue(tx, key=f"short_pick:{shipment.id}:{short.sku}", order_id=shipment.order_id,
                                       sku=short.sku, quantity=units, kind="short_pick", source=source, at=at,
                                       shipment_id=shipment.id, warehouse=shipment.warehouse, reason=short.reason)
        if fresh and status is not None:
            events.append(lifecycle.note_event(
                shipment.order_id, status, at=at, source=source,
                reason=f"shipment {shipment.id} packed {units} of {carried[short.sku]} {short.sku} short"
                       + (f": {short.reason}" if short.reason else "")))
    order_store.append_events(tx, events)
    return len(events)


#: What a customer or an operator may report about a line (a short pick is the warehouse's).
REPORTED_KINDS = ("wrong_item", "missing_item")


def report_issue(tx: Tx, order: Order, shipments: Sequence[Shipment], sku: str, quantity: int, kind: str, *,
                 source: str, at: datetime, note: str = "") -> bool:
    """Record a wrong or missing item on one of ``order``'s lines, against the shipment
    (and so the warehouse) that carried it, with an event. False when that line already
    has a report of that kind (nothing written).

    Raises ValueError, saying why, for a kind, SKU or quantity the order cannot have.
    """
    if kind not in REPORTED_KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(REPORTED_KINDS)}")
    ordered = sum(line.quantity for line in order.lines if line.sku == sku)
    if ordered == 0:
        skus = ", ".join(sorted({line.sku for line in order.lines})) or "none"
        raise ValueError(f"order {order.number} has no line of SKU {sku!r}; its SKUs: {skus}")
    if not 1 <= quantity <= ordered:
        raise ValueError(f"quantity {quantity} of {sku}: the order has {ordered}; give 1 to {ordered}")
    carrier_of = next((s for s in shipments if s.status is not ShipmentStatus.CANCELLED
                       and any(line.sku == sku for line in s.lines)), None)
    fresh = lot_store.record_issue(
        tx, key=f"{kind}:{order.id}:{sku}", order_id=order.id, sku=sku, quantity=quantity, kind=kind, source=source,
        at=at, shipment_id=carrier_of.id if carrier_of else None, warehouse=carrier_of.warehouse if carrier_of else None,
        reason=note)
    if fresh:
        found = order_store.row(tx.conn, order.id)
        what = "wrong item" if kind == "wrong_item" else "missing item"
        order_store.append_events(tx, [lifecycle.note_event(
            order.id, OrderStatus(found.status), at=at, source=source,
            reason=f"{what}: {quantity} x {sku}" + (f" (shipment {carrier_of.id})" if carrier_of else "")
                   + (f": {note}" if note else ""))])
    return fresh


# --------------------------------------------------------------------------- who received a lot


def redacted_email(email: str) -> str:
    """What a recall list shows of an address: its first letter and its domain
    (``j•••@example.com``), enough to tell customers apart and to check a reply against
    ``orders show``, not enough to copy out a mailing list."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return "•••" if email.strip() else ""
    return f"{local[0]}•••@{domain}"


def redacted_phone(phone: str) -> str:
    """A phone number as a recall list shows it: its last four digits (``•••• 4567``)."""
    digits = [c for c in phone if c.isdigit()]
    if not digits:
        return ""
    return "•••• " + "".join(digits[-4:]) if len(digits) > 4 else "••••"


def receivers(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``store.lots.trace`` rows as what an operator needs to recall a lot: each order,
    shipment, SKU, units and dates, and the customer by name, with the email and phone
    redacted (:func:`redacted_email`, :func:`redacted_phone`) and the country and city."""
    out = []
    for r in rows:
        to = r.ship_to or {}
        out.append({
            "order_id": r.order_id, "number": r.number, "order_status": r.order_status,
            "shipment_id": r.shipment_id, "shipment_status": r.shipment_status, "warehouse": r.warehouse,
            "sku": r.sku, "lot": r.lot, "quantity": r.quantity,
            "expires": r.expires.isoformat() if r.expires else None, "packed_at": r.packed_at.isoformat(),
            "restocked_at": r.restocked_at.isoformat() if r.restocked_at else None,
            "shipped_at": r.shipped_at.isoformat() if r.shipped_at else None,
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            "customer": to.get("name", ""), "email": redacted_email(r.email or to.get("email", "")),
            "phone": redacted_phone(to.get("phone", "")), "country": to.get("country", ""), "city": to.get("city", ""),
        })
    return out


# --------------------------------------------------------------------------- order accuracy


def accuracy(lines: Iterable[Any], issues: Iterable[Any]) -> dict[str, Any] | None:
    """Order accuracy of the shipments handed over in a window, per warehouse and per SKU.

    ``lines`` and ``issues`` are :func:`fulfilhub.store.lots.accuracy_facts`. A shipment
    is accurate when no unit of it was packed short or reported wrong or missing; a
    SKU's accuracy counts units (units without an issue, of the units shipped). Issues
    no shipment carries count in the totals by kind only. None when nothing shipped and
    nothing was reported (a missing figure, never a made-up 100%).
    """
    lines = list(lines)
    issues = list(issues)
    if not lines and not issues:
        return None
    wh: dict[str, dict[str, Any]] = {}
    skus: dict[str, dict[str, Any]] = {}
    shipment_warehouse: dict[str, str] = {}
    for ln in lines:
        shipment_warehouse[ln.shipment_id] = ln.warehouse
        w = wh.setdefault(ln.warehouse, {"warehouse": ln.warehouse, "shipments": set(), "units": 0, "wrong": set(),
                                         "units_wrong": 0})
        w["shipments"].add(ln.shipment_id)
        w["units"] += ln.quantity
        k = skus.setdefault(ln.sku, {"sku": ln.sku, "units": 0, "units_wrong": 0})
        k["units"] += ln.quantity
    kinds: Counter = Counter()
    for issue in issues:
        kinds[issue.kind] += issue.quantity
        where = shipment_warehouse.get(issue.shipment_id) if issue.shipment_id else None
        if where is None:
            continue
        w = wh[where]
        w["wrong"].add(issue.shipment_id)
        w["units_wrong"] += issue.quantity
        k = skus.setdefault(issue.sku, {"sku": issue.sku, "units": 0, "units_wrong": 0})
        k["units_wrong"] += issue.quantity

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    warehouses = [{"warehouse": w["warehouse"], "shipments": len(w["shipments"]),
                   "accurate": len(w["shipments"]) - len(w["wrong"]),
                   "accuracy": share(len(w["shipments"]) - len(w["wrong"]), len(w["shipments"])),
                   "units": w["units"], "units_wrong": w["units_wrong"]} for _, w in sorted(wh.items())]
    by_sku = [{**k, "accuracy": share(max(k["units"] - k["units_wrong"], 0), k["units"])}
              for _, k in sorted(skus.items())]
    by_sku.sort(key=lambda k: (k["accuracy"] if k["accuracy"] is not None else 2, k["sku"]))
    total = sum(w["shipments"] for w in warehouses)
    accurate = sum(w["accurate"] for w in warehouses)
    return {"shipments": total, "accurate": accurate, "accuracy": share(accurate, total),
            "units": sum(w["units"] for w in warehouses), "by_kind": dict(sorted(kinds.items())),
            "warehouses": warehouses, "skus": by_sku}


# --------------------------------------------------------------------------- recall notices


def draft_recall(tx: Tx, config: Any, conf: notify.Settings, lot: str, reason: str, at: datetime,
                 sku: str | None = None) -> list[str]:
    """Draft a recall notice for each order that received ``lot`` (not the parcels that
    came back to it; with ``sku``, of that SKU's lot only), in the customer's language, for a person to approve (``fulfilhub
    notices approve``); nothing is sent here. The keys drafted now (an order drafted
    before is left as it is); each is also an order event."""
    received: dict[str, set[str]] = {}
    for r in lot_store.trace(tx.conn, lot, sku):
        if r.restocked_at is None:
            received.setdefault(r.order_id, set()).add(r.sku)
    drafted = []
    for order_id, skus in sorted(received.items()):
        loaded = order_store.load(tx.conn, order_id)
        if loaded is None:
            continue
        order, row = loaded
        titles = [line.title or line.sku for line in order.lines if line.sku in skus] or sorted(skus)
        try:
            link = tracking_store.tracking_page_url(config, tx.conn, order_id)
        except Exception:  # no tracking page configured: the notice goes without a link
            link = ""
        key = notify.notice_key(NoticeEvent.RECALL, order_id, lot)
        notice = notify.render(NoticeEvent.RECALL, key=key, order=order,
                               locale=notify.choose_locale(order, conf.default_locale),
                               tz=notify.customer_timezone(order, None, conf.timezone), at=at, shop=conf.shop_name,
                               facts={"link": link, "product": ", ".join(dict.fromkeys(titles)), "lot": lot,
                                      "reason": reason})
        routed = notify.routes(config.notifiers, NoticeEvent.RECALL, order.channel)
        if notice_store.add_draft(tx, notice, notifiers=routed, reason=f"recall of lot {lot}: {reason}"):
            drafted.append(key)
            order_store.append_events(tx, [lifecycle.note_event(
                order_id, OrderStatus(row.status), at=at, source="cli",
                reason=f"recall notice of lot {lot} drafted for approval ({', '.join(routed) or 'no notifier routed'})")])
    return drafted
