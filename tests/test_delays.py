"""The delay engine: one rule per reason, the worst finding first, days counted in the customer's days."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import attrs
import pytest

from fulfilhub.engines import delays
from fulfilhub.engines.delays import DelayPolicy, Estimate, OpenOrder, assess
from fulfilhub.models import (
    DelayReason,
    DelayState,
    ExceptionReason,
    Label,
    Money,
    OrderStatus,
    Promise,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
    TrackingStatus,
)

# Friday 8 May 2026, 09:00 in Los Angeles (16:00 UTC)
T0 = datetime(2026, 5, 8, 16, 0, tzinfo=timezone.utc)
TZ = "America/Los_Angeles"


def promise(**changes) -> Promise:
    """Ship by Friday 21:00 UTC; deliver Tue 12 - Thu 14 May (LA days)."""
    values = dict(order_id="shop:1", revision=1, created_at=T0, ship_by=T0 + timedelta(hours=5),
                  deliver_from=delays.end_of_day(T0.date() + timedelta(days=3), TZ) - timedelta(hours=23, minutes=59,
                                                                                               seconds=59),
                  deliver_by=delays.end_of_day(T0.date() + timedelta(days=6), TZ), timezone=TZ, confidence_from=0.3,
                  confidence_by=0.95, carrier="easypost", service="Priority", level="lane", basis="", reason="accepted")
    values.update(changes)
    return Promise(**values)


def shipment(status: ShipmentStatus = ShipmentStatus.IN_TRANSIT, **changes) -> Shipment:
    labelled = status not in delays.NOT_SHIPPED
    values = dict(id="shop:1/1", order_id="shop:1", warehouse="west", status=status,
                  lines=[ShipmentLine(sku="TEE", quantity=1)], created_at=T0, modified_at=T0 + timedelta(hours=3),
                  label=Label(carrier="easypost", carrier_name="USPS", service="Priority", tracking_code="9400",
                              cost=Money(amount="7.90", currency="USD"), shipment_ref="shp_1") if labelled else None,
                  shipped_at=T0 + timedelta(hours=3) if labelled else None)
    values.update(changes)
    return Shipment(**values)


def scan(at: datetime, status: TrackingStatus = TrackingStatus.IN_TRANSIT, reason=None) -> TrackingEvent:
    return TrackingEvent(at=at, status=status, reason=reason, source="in_transit/arrived_at_facility")


def order(status=OrderStatus.IN_TRANSIT, shipments=(), last_scans=None, **promise_changes) -> OpenOrder:
    return OpenOrder(order_id="shop:1", status=status, promise=promise(**promise_changes), shipments=tuple(shipments),
                     last_scans=last_scans or {})


class Steady:
    """Transit knowledge for the tests: whole transits of ``days``, the rest of it by elapsed time."""

    def __init__(self, days: float, spread: float = 1.0):
        self.days, self.spread = days, spread

    def remaining(self, shipment, elapsed_days, q, now):
        return Estimate(max(0.25, self.days - elapsed_days) + (self.spread if q > 0.5 else 0), q, "40 deliveries")

    def whole(self, shipment, q, now):
        return Estimate(self.days + (self.spread if q > 0.5 else 0), q, "40 deliveries")


def test_an_order_on_its_way_in_time_is_on_track():
    found = assess(order(shipments=[shipment()], last_scans={"shop:1/1": scan(T0 + timedelta(hours=3))}),
                   T0 + timedelta(days=1), transit=Steady(2))
    assert (found.state, found.reason, found.days_late, found.revised_eta) == (DelayState.ON_TRACK, None, 0, None)
    assert found.promise_revision == 1


def test_stock_out_a_backordered_order_is_at_risk_while_it_can_still_make_it():
    now = T0 + timedelta(days=3)  # Monday 11 May, ship-by was Friday: shipped now, it lands Wed 13
    found = assess(order(status=OrderStatus.BACKORDERED), now, transit=Steady(2))
    assert (found.state, found.reason, found.days_late) == (DelayState.AT_RISK, DelayReason.STOCK_OUT, 0)
    assert "out of stock" in found.detail and "Wed 13 May" in found.detail
    before = assess(order(status=OrderStatus.BACKORDERED), T0, transit=Steady(2))
    assert (before.state, before.reason, before.days_late) == (DelayState.AT_RISK, DelayReason.STOCK_OUT, 0)


def test_stock_out_that_waits_days_makes_it_days_late():
    found = assess(order(status=OrderStatus.BACKORDERED), T0 + timedelta(days=6), transit=Steady(3))
    assert found.reason is DelayReason.STOCK_OUT and found.state is DelayState.LATE
    assert found.days_late == 3  # leaves Thu 14 (+3 days) -> Sun 17, deliver-by Thu 14


def test_not_picked_near_the_cut_off_is_at_risk():
    waiting = shipment(ShipmentStatus.SUBMITTED)
    found = assess(order(status=OrderStatus.ALLOCATED, shipments=[waiting]), T0 + timedelta(hours=2), transit=Steady(2))
    assert (found.state, found.reason, found.days_late) == (DelayState.AT_RISK, DelayReason.NOT_PICKED, 0)
    assert "west" in found.detail and "picking" in found.detail
    early = assess(order(status=OrderStatus.ALLOCATED, shipments=[waiting]), T0, transit=Steady(2))
    assert early.state is DelayState.ON_TRACK
    picking = assess(order(status=OrderStatus.PICKING, shipments=[shipment(ShipmentStatus.PICKING)]),
                     T0 + timedelta(hours=2), transit=Steady(2))
    assert picking.state is DelayState.ON_TRACK


def test_not_shipped_by_ship_by():
    packed = shipment(ShipmentStatus.PACKED)
    found = assess(order(status=OrderStatus.PACKED, shipments=[packed]), T0 + timedelta(days=2), transit=Steady(2))
    assert found.reason is DelayReason.NOT_SHIPPED and found.state is DelayState.AT_RISK
    assert "not shipped by ship-by" in found.detail and "packed" in found.detail
    far = assess(order(status=OrderStatus.PACKED, shipments=[packed]), T0 + timedelta(days=5), transit=Steady(2))
    assert far.reason is DelayReason.NOT_SHIPPED and far.state is DelayState.LATE and far.days_late == 1


def test_not_shipped_without_learned_transit_uses_the_promise_allowance():
    found = assess(order(status=OrderStatus.ON_HOLD), T0 + timedelta(days=2))
    assert found.reason is DelayReason.NOT_SHIPPED and "on hold" in found.detail
    assert found.days_late == 2 and found.state is DelayState.AT_RISK  # shipped now: 2 days after ship-by
    assert found.confidence == 0.95


def test_no_scan_for_longer_than_the_lane_allows():
    last = T0 + timedelta(hours=4)
    silent = shipment(modified_at=T0 + timedelta(days=3))  # asked on Monday: still nothing new
    found = assess(order(shipments=[silent], last_scans={"shop:1/1": scan(last)}), T0 + timedelta(days=3))
    assert found.reason is DelayReason.NO_SCAN and found.state is DelayState.AT_RISK
    assert "no scan" in found.detail
    not_asked = shipment(modified_at=last)  # not asked since: silence is not the carrier's
    assert assess(order(shipments=[not_asked], last_scans={"shop:1/1": scan(last)}),
                  T0 + timedelta(days=3)).state is DelayState.ON_TRACK
    lenient = DelayPolicy(no_scan_after=timedelta(days=4))
    assert assess(order(shipments=[silent], last_scans={"shop:1/1": scan(last)}), T0 + timedelta(days=3),
                  policy=lenient).state is DelayState.ON_TRACK


@pytest.mark.parametrize("reason", [ExceptionReason.WEATHER, ExceptionReason.CAPACITY, ExceptionReason.ADDRESS,
                                    ExceptionReason.CUSTOMS])
def test_carrier_exception_with_a_new_eta_past_deliver_by_is_late_and_names_the_cause(reason):
    hit = shipment(exception_reason=reason, eta_date=date(2026, 5, 16))
    found = assess(order(shipments=[hit]), T0 + timedelta(days=1))
    assert (found.state, found.reason, found.exception) == (DelayState.LATE, DelayReason.CARRIER_EXCEPTION, reason)
    assert found.days_late == 2  # Sat 16 against Thu 14
    assert "Sat 16 May" in found.detail


def test_carrier_exception_that_lands_on_the_last_day_is_at_risk_one_with_room_is_not():
    hit = shipment(exception_reason=ExceptionReason.WEATHER, eta_date=date(2026, 5, 14))
    found = assess(order(shipments=[hit]), T0 + timedelta(days=1))
    assert (found.state, found.reason, found.days_late) == (DelayState.AT_RISK, DelayReason.CARRIER_EXCEPTION, 0)
    roomy = attrs.evolve(hit, eta_date=date(2026, 5, 12))
    assert assess(order(shipments=[roomy]), T0 + timedelta(days=1)).state is DelayState.ON_TRACK


@pytest.mark.parametrize("reason", [ExceptionReason.LOST, ExceptionReason.DAMAGED])
def test_a_lost_or_damaged_parcel_is_late_it_must_be_sent_again(reason):
    gone = shipment(ShipmentStatus.EXCEPTION, exception_reason=reason)
    found = assess(order(status=OrderStatus.EXCEPTION, shipments=[gone]), T0 + timedelta(days=4), transit=Steady(2))
    assert (found.state, found.reason, found.exception) == (DelayState.LATE, DelayReason.CARRIER_EXCEPTION, reason)
    assert found.days_late == 1  # Tue 12: sent again Wed 13, 2 days on the way -> Fri 15, deliver-by Thu 14
    assert "sent again" in found.detail


def test_carrier_exception_read_from_the_latest_scan():
    hit = shipment()
    found = assess(order(shipments=[hit], last_scans={"shop:1/1": scan(T0 + timedelta(hours=20),
                                                                       reason=ExceptionReason.WEATHER)}),
                   T0 + timedelta(days=1))  # no ETA from the carrier, none learned: at risk
    assert (found.state, found.reason, found.exception) == (
        DelayState.AT_RISK, DelayReason.CARRIER_EXCEPTION, ExceptionReason.WEATHER)


def test_carrier_eta_beyond_deliver_by():
    moved = shipment(eta_date=date(2026, 5, 15))
    found = assess(order(shipments=[moved]), T0 + timedelta(days=2))
    assert (found.state, found.reason, found.days_late) == (DelayState.LATE, DelayReason.CARRIER_ETA, 1)
    assert found.revised_eta.date() == date(2026, 5, 15)  # the carrier's day, in the customer's zone
    same_day = shipment(eta_date=date(2026, 5, 14))  # a bare date: Thu 14 is in time
    assert assess(order(shipments=[same_day]), T0 + timedelta(days=2)).state is DelayState.ON_TRACK


def test_transit_forecast_time_so_far_plus_the_rest_learned_for_the_lane():
    slow = Steady(8)  # this lane now takes 8 days
    found = assess(order(shipments=[shipment()]), T0 + timedelta(days=1), transit=slow)
    assert (found.state, found.reason) == (DelayState.LATE, DelayReason.TRANSIT_FORECAST)
    assert found.days_late == 2 and found.confidence == 0.5
    assert "40 deliveries" in found.detail
    risky = Steady(5.5, spread=1.5)  # the median still makes it; the 80th percentile does not
    at_risk = assess(order(shipments=[shipment()]), T0 + timedelta(days=1), transit=risky)
    assert (at_risk.state, at_risk.reason, at_risk.confidence) == (DelayState.AT_RISK, DelayReason.TRANSIT_FORECAST, 0.8)


def test_the_worst_finding_wins():
    moved = shipment(eta_date=date(2026, 5, 15), modified_at=T0 + timedelta(days=3),
                     exception_reason=ExceptionReason.WEATHER)
    found = assess(order(shipments=[moved], last_scans={"shop:1/1": scan(T0 + timedelta(hours=4))}),
                   T0 + timedelta(days=3), transit=Steady(9))
    # late by the carrier's ETA, by the weather, and silent: one day late on all; the weather names it
    assert (found.state, found.reason, found.exception, found.days_late) == (
        DelayState.LATE, DelayReason.CARRIER_EXCEPTION, ExceptionReason.WEATHER, 1)
    stale = attrs.evolve(moved, exception_reason=None, eta_date=date(2026, 5, 10))
    worse = assess(order(shipments=[stale], last_scans={"shop:1/1": scan(T0 + timedelta(hours=4))}),
                   T0 + timedelta(days=3), transit=Steady(9))
    assert worse.reason is DelayReason.TRANSIT_FORECAST and worse.days_late > 1  # the carrier's ETA day has passed


def test_a_fresh_carrier_eta_in_time_outweighs_the_lanes_statistics():
    on_time = shipment(eta_date=date(2026, 5, 13))
    assert assess(order(shipments=[on_time]), T0 + timedelta(days=1), transit=Steady(9)).state is DelayState.ON_TRACK


def test_past_deliver_by_and_not_delivered_is_late():
    found = assess(order(shipments=[shipment()]), T0 + timedelta(days=8))
    assert found.state is DelayState.LATE and found.days_late >= 1
    assert found.revised_eta is None or found.revised_eta >= T0 + timedelta(days=8)


def test_worst_first_orders_by_days_late_then_state():
    base = assess(order(shipments=[shipment()]), T0)
    a = attrs.evolve(base, order_id="a", state="at_risk", days_late=2)
    b = attrs.evolve(base, order_id="b", state="late", days_late=2)
    c = attrs.evolve(base, order_id="c", state="late", days_late=5)
    d = attrs.evolve(base, order_id="d", state="at_risk", days_late=0)
    assert [x.order_id for x in delays.worst_first([d, a, b, c])] == ["c", "b", "a", "d"]


class Exhausted(Steady):
    """A lane whose every parcel has arrived by now: nothing is left to learn about the rest."""

    def remaining(self, shipment, elapsed_days, q, now):
        return Estimate(0.0, q, "40 deliveries")


def test_a_parcel_out_longer_than_the_lane_ever_takes_is_said_so_plainly():
    found = assess(order(shipments=[shipment()]), T0 + timedelta(days=8), transit=Exhausted(2))
    assert (found.state, found.reason) == (DelayState.LATE, DelayReason.TRANSIT_FORECAST)
    assert "longer than any delivery on this lane" in found.detail and "being chased" in found.detail
    assert found.revised_eta is None  # no date to give: overdue and being chased
    assert "0.0 more days" not in found.detail


def test_a_parcel_waiting_at_the_customers_store_has_arrived_until_its_last_day():
    """Past deliver-by, a parcel at the store the customer chose is not late: it arrived. After the
    store's last day (the customer's day) it is watched again, and the order is late."""
    at_store = shipment(ShipmentStatus.OUT_FOR_DELIVERY, pickup_until=date(2026, 5, 18))
    waiting = assess(order(status=OrderStatus.OUT_FOR_DELIVERY, shipments=[at_store]), T0 + timedelta(days=8))
    assert waiting.state is DelayState.ON_TRACK
    missed = assess(order(status=OrderStatus.OUT_FOR_DELIVERY, shipments=[at_store]), T0 + timedelta(days=11))
    assert missed.state is DelayState.LATE
    assert missed.days_late >= 1
    elsewhere = assess(order(status=OrderStatus.OUT_FOR_DELIVERY, shipments=[shipment(ShipmentStatus.OUT_FOR_DELIVERY)]),
                       T0 + timedelta(days=8))
    assert elsewhere.state is DelayState.LATE  # a door delivery still out past deliver-by is late

