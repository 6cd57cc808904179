"""A hand-built store whose KPIs are known, shared by test_kpi.py and test_report_html.py.

Eight orders received in March 2026 (A, B, C, D, E, F, G, H) and one in February (X,
outside the window 2026-03-01 .. 2026-03-20). What each shows:

| order | received (UTC) | shipped | delivered | promised range | what |
|---|---|---|---|---|---|
| A | 03-02 10:00 | 03-02 16:00 USPS | 03-04 12:00 | 03-03 .. 03-05 | in range, 1 day early of the last day |
| B | 03-02 11:00 | 03-03 16:00 USPS | 03-07 09:00 | 03-03 .. 03-05 | ship-by missed, 2 days late, promise revised later |
| C | 03-02 12:00 | 03-02 14:00 USPS | 03-03 08:00 | 03-04 .. 03-05 | on time but early (outside the range) |
| D | 03-02 13:00 | 03-02 17:00 UPS  | never (lost) | 03-03 .. 03-05 | not delivered: late |
| E | 03-16 10:00 | 03-16 15:00 UPS  | 03-17 15:00 | .. 03-25 | not due by 03-20: not counted in promises |
| F | 03-02 15:00 | - | - | - | backordered, no promise |
| G | 03-02 14:00 | 03-02 18:00 UPS  | 03-05 20:00 | .. 03-05 (Los Angeles) | on time on the last day (LA time) |
| H | 03-06 10:00 | 03-07 12:00 UPS  | 03-09 10:00 | 03-08 .. 03-10 | on time, the second week |
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from fulfilhub.engines import lifecycle
from fulfilhub.models import (
    Address,
    Label,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Promise,
    Rate,
    Shipment,
    ShipmentLine,
    TrackingEvent,
)
from fulfilhub.store import Store
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store
from fulfilhub.store import shipments as shipment_store

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 20, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3, tz=UTC) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def end_of(day: int, month: int = 3, tz=UTC) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, 999999, tzinfo=tz)


REGIONS = {"A": ("US", "CA"), "B": ("US", "CA"), "C": ("US", "NY"), "D": ("TW", ""), "E": ("GB", ""),
           "F": ("US", "NY"), "G": ("US", "CA"), "H": ("US", "NY"), "X": ("US", "CA")}


def _order(key: str, received: datetime) -> Order:
    country, province = REGIONS[key]
    return Order(channel="shop", external_id=key, version="v1", number=f"#{key}", placed_at=received,
                 updated_at=received, currency="USD", total=Money(amount="10.00", currency="USD"),
                 lines=[OrderLine(sku="SKU-A", quantity=1, unit_price=Money(amount="10.00", currency="USD"),
                                  external_id="L1")],
                 ship_to=Address(name="Ada", line1="1 Main St", city="Town", province=province, country=country))


def _promise(order_id: str, ship_by: datetime, deliver_from: datetime, deliver_by: datetime, tz: str = "UTC",
             reason: str = "accepted") -> Promise:
    return Promise(order_id=order_id, created_at=ship_by - timedelta(hours=8), ship_by=ship_by,
                   deliver_from=deliver_from, deliver_by=deliver_by, timezone=tz, confidence_from=0.3,
                   confidence_by=0.95, carrier="easypost", level="lane", basis="hand-built", reason=reason)


def _shipment(order_id: str, n: int, *, carrier: str, cost: str, stated: int, shipped: datetime | None,
              delivered: datetime | None, status: str) -> Shipment:
    rate = label = None
    if shipped is not None:
        rate = Rate(carrier="easypost", carrier_name=carrier, service="Ground", amount=Money(amount=cost, currency="USD"),
                    rate_id=f"rate_{order_id}_{n}", shipment_ref=f"shp_{n}", transit_days=stated)
        label = Label(carrier="easypost", carrier_name=carrier, service="Ground", tracking_code=f"TRK{order_id}{n}",
                      cost=Money(amount=cost, currency="USD"), shipment_ref=f"shp_{n}")
    return Shipment(id=f"{order_id}/{n}", order_id=order_id, warehouse="main", status=status,
                    lines=[ShipmentLine(sku="SKU-A", quantity=1, order_line_id="L1")],
                    created_at=shipped or at(2), modified_at=delivered or shipped or at(2), rate=rate, label=label,
                    shipped_at=shipped, delivered_at=delivered)


# key: received, ship_by, deliver_from, deliver_by, zone, carrier, cost, stated days, shipped, delivered
PLAN = {
    "A": (at(2, 10), at(2, 18), at(3), end_of(5), "UTC", "USPS", "5.00", 3, at(2, 16), at(4, 12)),
    "B": (at(2, 11), at(2, 18), at(3), end_of(5), "UTC", "USPS", "6.00", 3, at(3, 16), at(7, 9)),
    "C": (at(2, 12), at(2, 18), at(4), end_of(5), "UTC", "USPS", "7.00", 3, at(2, 14), at(3, 8)),
    "D": (at(2, 13), at(2, 18), at(3), end_of(5), "UTC", "UPS", "10.00", 2, at(2, 17), None),
    "E": (at(16, 10), at(16, 18), at(23), end_of(25), "UTC", "UPS", "12.00", 2, at(16, 15), at(17, 15)),
    "G": (at(2, 14), at(2, 18), at(3, tz=LA), end_of(5, tz=LA), "America/Los_Angeles", "UPS", "10.00", 2,
          at(2, 18), at(5, 20)),
    "H": (at(6, 10), at(7, 18), at(8), end_of(10), "UTC", "UPS", "11.00", 2, at(7, 12), at(9, 10)),
    "X": (at(20, 10, month=2), at(20, 18, month=2), at(22, month=2), end_of(23, month=2), "UTC", "USPS", "9.00", 3,
          at(21, 9, month=2), at(27, 9, month=2)),
}


def build(store: Store) -> dict[str, str]:
    """Fill ``store``; return the order id of each key."""
    ids = {}
    with store.transaction() as tx:
        for key, (received, ship_by, d_from, d_by, zone, carrier, cost, stated, shipped, delivered) in PLAN.items():
            order = _order(key, received)
            ids[key] = order.id
            order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], received)
            order_store.append_events(tx, [
                lifecycle.status_event(order.id, None, OrderStatus.RECEIVED, at=received, source="channel:shop"),
                lifecycle.status_event(order.id, OrderStatus.RECEIVED, OrderStatus.ACCEPTED, at=received, source="intake")])
            promise_store.record(tx, _promise(order.id, ship_by, d_from, d_by, zone))
            status = "delivered" if delivered else "exception"
            shipment_store.insert(tx, _shipment(order.id, 1, carrier=carrier, cost=cost, stated=stated,
                                                shipped=shipped, delivered=delivered, status=status))
        # A: a second shipment, cancelled before it left, does not hold the order's shipped/delivered times back
        shipment_store.insert(tx, _shipment(ids["A"], 2, carrier="USPS", cost="5.00", stated=3, shipped=None,
                                            delivered=None, status="cancelled"))
        # B: revised to a later range after it went late; it is still measured against the first promise
        promise_store.record(tx, _promise(ids["B"], at(3, 18), at(6), end_of(8), reason="carrier delay"))
        # B: a weather exception on the way; D: lost
        shipment_store.add_scans(tx, f"{ids['B']}/1", [TrackingEvent(at=at(5, 9), status="exception", reason="weather",
                                                                     source="weather")])
        shipment_store.add_scans(tx, f"{ids['D']}/1", [TrackingEvent(at=at(4, 9), status="in_transit", source="t"),
                                                       TrackingEvent(at=at(6, 9), status="exception", reason="lost",
                                                                     source="lost")])
        # F: backordered, nothing shipped
        order = _order("F", at(2, 15))
        ids["F"] = order.id
        order_store.insert(tx, [(order, OrderStatus.BACKORDERED, None)], at(2, 15))
        order_store.append_events(tx, [
            lifecycle.status_event(order.id, None, OrderStatus.RECEIVED, at=at(2, 15), source="channel:shop"),
            lifecycle.status_event(order.id, OrderStatus.RECEIVED, OrderStatus.ACCEPTED, at=at(2, 15), source="intake"),
            lifecycle.status_event(order.id, OrderStatus.ACCEPTED, OrderStatus.BACKORDERED, at=at(2, 16),
                                   source="allocation")])
    return ids

