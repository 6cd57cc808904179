"""The ``assess_delays`` job over a real SQLite store, the ``delay_detected`` hook, and ``fulfilhub delays``."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import attrs
import pytest
from click.testing import CliRunner

from fulfilhub import hookimpl
from fulfilhub import config as fconfig
from fulfilhub.clock import SimClock
from fulfilhub.engines import delays as engine
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
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.delays import assess_delays
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import delays as delay_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store
from fulfilhub.store import shipments as shipment_store

T0 = datetime(2026, 5, 8, 16, 0, tzinfo=timezone.utc)  # Friday, 09:00 in Los Angeles
TZ = "America/Los_Angeles"

CONFIG = """
[store]
url = "sqlite:///{db}"
[warehouses.west]
type = "local"
[warehouses.west.address]
name = "West DC"
line1 = "55 Logistics Pkwy"
city = "Reno"
province = "NV"
postal_code = "89502"
country = "US"
"""


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def delay_detected(self, assessment, previous):
        self.calls.append((assessment, previous))


@pytest.fixture
def world(tmp_path):
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "f.sqlite"), encoding="utf-8")
    config = fconfig.load(path, env={})
    store = Store.open(config.store_url, migrate=True)
    recorder = Recorder()
    rt = Runtime(config, store, PluginManager(load_installed=False, extra=[recorder]), clock=SimClock(T0))
    yield rt, recorder, path
    rt.close()
    store.close()


def add_order(rt: Runtime, make_order, n: int, status: OrderStatus, *, shipment: Shipment | None = None,
              scans=()) -> str:
    order = make_order(str(n))
    with rt.store.transaction() as tx:
        order_store.insert(tx, [(order, status, None)], T0)
        promise_store.record(tx, Promise(
            order_id=order.id, created_at=T0, ship_by=T0 + timedelta(hours=5),
            deliver_from=engine.end_of_day(T0.date() + timedelta(days=3), TZ) - timedelta(days=1),
            deliver_by=engine.end_of_day(T0.date() + timedelta(days=6), TZ), timezone=TZ, confidence_from=0.3,
            confidence_by=0.95, carrier="easypost", service="Priority", level="lane", basis="", reason="accepted"))
        if shipment is not None:
            shipment = attrs.evolve(shipment, id=f"{order.id}/1", order_id=order.id)
            shipment_store.insert(tx, shipment)
            shipment_store.add_scans(tx, shipment.id, list(scans))
    return order.id


def in_transit(**changes) -> Shipment:
    values = dict(id="x/1", order_id="x", warehouse="west", status=ShipmentStatus.IN_TRANSIT,
                  lines=[ShipmentLine(sku="SKU-A", quantity=1)], created_at=T0, modified_at=T0 + timedelta(hours=3),
                  label=Label(carrier="easypost", carrier_name="USPS", service="Priority", tracking_code="9400",
                              cost=Money(amount="7.90", currency="USD"), shipment_ref="shp_1"),
                  shipped_at=T0 + timedelta(hours=3))
    values.update(changes)
    return Shipment(**values)


def test_the_job_stores_findings_that_change_with_an_event_and_a_hook_call_after_commit(world, make_order):
    rt, recorder, _ = world
    fine = add_order(rt, make_order, 1, OrderStatus.IN_TRANSIT, shipment=in_transit(),
                     scans=[TrackingEvent(at=T0 + timedelta(hours=4), status=TrackingStatus.IN_TRANSIT)])
    held = add_order(rt, make_order, 2, OrderStatus.BACKORDERED)
    stormy = add_order(rt, make_order, 3, OrderStatus.IN_TRANSIT, shipment=in_transit(
        exception_reason=ExceptionReason.WEATHER, eta_date=date(2026, 5, 16)))
    delivered = add_order(rt, make_order, 4, OrderStatus.DELIVERED)  # final: not assessed
    unpromised = make_order("5")
    with rt.store.transaction() as tx:
        order_store.insert(tx, [(unpromised, OrderStatus.BACKORDERED, None)], T0)

    rt.clock.advance(timedelta(days=1))
    report = assess_delays(rt, page_size=2)  # several pages
    assert report.ok and report.counts["assessed"] == 3
    assert (report.counts["now_late"], report.counts["now_at_risk"]) == (1, 1)
    with rt.store.read() as conn:
        assert delay_store.current(conn, fine) is None  # on track, never at risk: nothing stored
        assert delay_store.current(conn, delivered) is None and delay_store.current(conn, unpromised.id) is None
        storm = delay_store.current(conn, stormy)
        assert (storm.state, storm.reason, storm.exception, storm.days_late) == (
            DelayState.LATE, DelayReason.CARRIER_EXCEPTION, ExceptionReason.WEATHER, 2)
        assert delay_store.current(conn, held).reason is DelayReason.STOCK_OUT
        events = [e for e in order_store.events_of(conn, stormy) if e.kind == "delay"]
        assert len(events) == 1 and events[0].reason.startswith("late (carrier_exception): 2 days late")
        assert events[0].data["days_late"] == 2
    assert {(a.order_id, p) for a, p in recorder.calls} == {(stormy, None), (held, None)}

    # the same findings an hour later: nothing stored, nobody told
    rt.clock.advance(timedelta(hours=1))
    again = assess_delays(rt)
    assert again.counts["assessed"] == 3 and not any(k.startswith("now_") for k in again.counts)
    assert len(recorder.calls) == 2

    # the weather clears and the carrier's ETA comes back within the promise: back on track, told once
    with rt.store.transaction() as tx:
        with rt.store.read() as conn:
            s = shipment_store.of_order(conn, stormy)[0]
        shipment_store.save(tx, attrs.evolve(s, exception_reason=None,
                                             eta_date=date(2026, 5, 13)))
    assess_delays(rt)
    with rt.store.read() as conn:
        assert [a.state for a in delay_store.history(conn, stormy)] == [DelayState.LATE, DelayState.ON_TRACK]
    assessment, previous = recorder.calls[-1]
    assert assessment.state is DelayState.ON_TRACK and previous.state is DelayState.LATE


def test_the_job_runs_in_every_pass_and_in_the_schedule(world):
    rt, _, _ = world
    assert jobs.JOBS["assess_delays"] is jobs.assess_delays
    assert fconfig.DEFAULT_SCHEDULE["assess_delays"] == timedelta(minutes=15)
    passed = [r.job for r in jobs.sync_once(rt)]
    assert passed[-3:] == ["assess_delays", "notices", "deliver_effects"]  # notices act on it in the same pass


def test_a_hook_that_raises_does_not_undo_the_assessment(world, make_order):
    rt, recorder, _ = world

    class Broken:
        @hookimpl
        def delay_detected(self, assessment, previous):
            raise RuntimeError("notifier down")

    rt.plugins.register(Broken(), name="broken")
    held = add_order(rt, make_order, 9, OrderStatus.BACKORDERED)
    assess_delays(rt)
    with rt.store.read() as conn:
        assert delay_store.current(conn, held).reason is DelayReason.STOCK_OUT


def test_delays_cli_lists_at_risk_and_late_orders_worst_first(world, make_order, monkeypatch):
    rt, _, path = world
    add_order(rt, make_order, 1, OrderStatus.BACKORDERED)
    add_order(rt, make_order, 2, OrderStatus.IN_TRANSIT, shipment=in_transit(
        exception_reason=ExceptionReason.WEATHER, eta_date=date(2026, 5, 17)))
    add_order(rt, make_order, 3, OrderStatus.IN_TRANSIT, shipment=in_transit(
        eta_date=date(2026, 5, 15)))
    add_order(rt, make_order, 4, OrderStatus.IN_TRANSIT, shipment=in_transit())
    rt.clock.advance(timedelta(days=1))
    assess_delays(rt)

    from fulfilhub.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["-c", str(path), "delays", "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert [(d["number"], d["state"], d["days_late"], d["reason"]) for d in listed] == [
        ("#2", "late", 3, "carrier_exception"),
        ("#3", "late", 1, "carrier_eta"),
        ("#1", "at_risk", 1, "stock_out"),  # no transit learned: the promise's whole allowance from today
    ]
    assert listed[0]["exception"] == "weather" and listed[0]["revised_eta"].startswith("2026-05-17")
    text = runner.invoke(main, ["-c", str(path), "delays"])
    assert text.exit_code == 0
    header, *lines = text.output.splitlines()  # a pipe: a header, then TSV
    assert header.split("\t")[:2] == ["order_id", "number"]
    assert [line.split("\t")[1] for line in lines] == ["#2", "#3", "#1"]
    assert "severe weather" in lines[0] and "Sun 17 May" in lines[0]

    shown = runner.invoke(main, ["-c", str(path), "orders", "show", "#2"])
    assert shown.exit_code == 0 and "delay late" in shown.output and "severe weather" in shown.output
    as_json = json.loads(runner.invoke(main, ["-c", str(path), "orders", "show", "#2", "--json"]).output)
    assert as_json["delay"]["reason"] == "carrier_exception"
    assert any(e["kind"] == "delay" for e in as_json["events"])


def test_delays_cli_says_when_nothing_is_at_risk(world):
    _, _, path = world
    from fulfilhub.cli import main

    out = CliRunner().invoke(main, ["-c", str(path), "delays", "--format", "table"])
    assert out.exit_code == 0 and "no open order is at risk or late" in out.output
    assert json.loads(CliRunner().invoke(main, ["-c", str(path), "delays", "--json"]).output) == []


def test_store_reads_many_at_once(tmp_path, make_order):
    store = Store.open("sqlite:///" + str(tmp_path / "s.sqlite"), migrate=True)
    try:
        order = make_order("7")
        with store.transaction() as tx:
            order_store.insert(tx, [(order, OrderStatus.IN_TRANSIT, None)], T0)
            s = attrs.evolve(in_transit(), id=f"{order.id}/1", order_id=order.id)
            shipment_store.insert(tx, s)
            shipment_store.add_scans(tx, s.id, [
                TrackingEvent(at=T0 + timedelta(hours=1), status=TrackingStatus.PRE_TRANSIT),
                TrackingEvent(at=T0 + timedelta(hours=9), status=TrackingStatus.IN_TRANSIT, reason=ExceptionReason.WEATHER,
                              source="in_transit/weather_delay"),
                TrackingEvent(at=T0 + timedelta(hours=5), status=TrackingStatus.IN_TRANSIT)])
        with store.read() as conn:
            latest = shipment_store.last_scans(conn, [s.id, "none/1"])
            assert list(latest) == [s.id]
            assert (latest[s.id].at, latest[s.id].reason) == (T0 + timedelta(hours=9), ExceptionReason.WEATHER)
            assert [x.id for x in shipment_store.of_orders(conn, [order.id])[order.id]] == [s.id]
    finally:
        store.close()


def test_transit_learned_from_the_store_forecasts_a_late_parcel(world, make_order):
    """Thirty USPS Priority parcels took eight days on this lane: one two days on its way
    against a promise of six more days is forecast late (the real TransitModel, via the
    runtime's promise engine)."""
    rt, recorder, _ = world
    history_start = T0 - timedelta(days=40)
    with rt.store.transaction() as tx:
        for n in range(30):
            old = make_order(str(100 + n))
            order_store.insert(tx, [(old, OrderStatus.DELIVERED, None)], history_start)
            shipped = history_start + timedelta(days=n)
            shipment_store.insert(tx, in_transit(id=f"{old.id}/1", order_id=old.id, status=ShipmentStatus.DELIVERED,
                                                 shipped_at=shipped, delivered_at=shipped + timedelta(days=8),
                                                 created_at=shipped, modified_at=shipped + timedelta(days=8)))
    slow = add_order(rt, make_order, 1, OrderStatus.IN_TRANSIT, shipment=in_transit(),
                     scans=[TrackingEvent(at=T0 + timedelta(hours=4), status=TrackingStatus.IN_TRANSIT)])
    rt.clock.advance(timedelta(days=1))
    assess_delays(rt)
    with rt.store.read() as conn:
        found = delay_store.current(conn, slow)
    assert (found.state, found.reason) == (DelayState.LATE, DelayReason.TRANSIT_FORECAST)
    assert found.days_late >= 1 and "deliveries" in found.detail
    assert recorder.calls[-1][0].order_id == slow
