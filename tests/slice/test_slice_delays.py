"""Delays found through the real runner: a typhoon closes a region's hub, a SKU runs out, and
``assess_delays`` finds the orders at risk or late, with the reason, before their deliver-by.

Shopify and EasyPost simulators on loopback, a real SQLite file, one scenario clock.
"""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub.cli import main
from fulfilhub.engines import delays as engine
from fulfilhub.models import (
    Address,
    DelayAssessment,
    DelayReason,
    DelayState,
    ExceptionReason,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Promise,
    Shipment,
    ShipmentLine,
)
from fulfilhub.scenarios.demo import delay_figures
from fulfilhub.store import delays as delay_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

from .conftest import ENV, make_plugins
from .test_slice_flow import sku

TAIPEI = {"city": "Taipei City", "province": None, "province_code": None, "zip": "110", "country": "Taiwan",
          "country_code": "TW"}


@pytest.fixture(autouse=True)
def only_first_party_plugins(monkeypatch):
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def test_a_typhoon_is_found_before_the_deliver_by_and_listed_with_its_reason(world):
    world.stock("west", sku(world, 0), 10)
    held = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}], shipping_address=TAIPEI)
    spared = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    held_id, spared_id = f"shop:{held['id']}", f"shop:{spared['id']}"
    world.disruptions.add("hub_closed", start=world.clock.now() + timedelta(hours=10), days=5, region="TW",
                          cause="Typhoon Haikui")
    flagged_at = None
    for _ in range(48):  # two simulated days, an hour at a time
        world.sync(hours=1)
        with world.store.read() as conn:
            found = delay_store.current(conn, held_id)
        if found is not None and flagged_at is None:
            flagged_at = world.clock.now()
            break
    with world.store.read() as conn:
        promise = promise_store.current(conn, held_id)
        (shipment,) = shipment_store.of_order(conn, held_id)
        assert delay_store.current(conn, spared_id) is None
    assert flagged_at is not None and flagged_at < promise.deliver_by
    assert (found.state, found.reason, found.exception) == (
        DelayState.LATE, DelayReason.CARRIER_EXCEPTION, ExceptionReason.WEATHER)
    assert found.days_late >= 1 and "severe weather" in found.detail
    assert shipment.exception_reason is ExceptionReason.WEATHER  # as EasyPost's weather_delay scan said

    out = CliRunner().invoke(main, ["-c", str(world.config_path), "delays", "--json"])
    assert out.exit_code == 0, out.output
    assert [(d["order_id"], d["reason"], d["exception"]) for d in json.loads(out.output)] == [
        (held_id, "carrier_exception", "weather")]


def test_a_stock_out_backorders_new_orders_and_is_found_then_the_stock_comes_back(world):
    world.stock("west", sku(world, 1), 10)
    world.disruptions.add("stock_out", start=world.clock.now(), days=1, skus=[sku(world, 1)])
    assert world.apply_stock_disruptions() == [f"stock out of {sku(world, 1)} in east, west until 2026-01-06 08:00"]
    with world.store.read() as conn:
        (level,) = stock_store.levels(conn, skus=[sku(world, 1)])
    assert level.available == 0
    placed = world.shop.add_order([{"sku": sku(world, 1), "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)
    assert world.order(order_id)[1].status == OrderStatus.BACKORDERED
    world.sync(hours=8)
    with world.store.read() as conn:
        found = delay_store.current(conn, order_id)
    assert found is not None and found.reason is DelayReason.STOCK_OUT

    world.clock.advance(timedelta(hours=16))
    assert world.apply_stock_disruptions() == [f"{sku(world, 1)} back in stock"]
    assert world.apply_stock_disruptions() == []  # once
    world.sync(hours=1)
    assert world.order(order_id)[1].status != OrderStatus.BACKORDERED
    with world.store.read() as conn:
        assert stock_store.levels(conn, skus=[sku(world, 1)])[0].on_hand == 10


def test_delay_figures_count_from_what_happened(world):
    """A hand-built outcome whose answer is known: x:1 lost (late) and flagged two days ahead,
    x:2 delivered on time though flagged a day ahead, x:3 late and flagged only after its
    deliver-by, x:4 cancelled (not counted)."""
    t0 = world.clock.now()

    def order(n: str) -> Order:
        return Order(channel="x", external_id=n, version="1", number=n, placed_at=t0, updated_at=t0, currency="USD",
                     total=Money(amount="1", currency="USD"),
                     lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount="1", currency="USD"))],
                     ship_to=Address(name="A", line1="1", city="B", country="US"))

    deliver_by = engine.end_of_day(t0.date() + timedelta(days=5), "UTC")
    with world.store.transaction() as tx:
        for n, status in (("1", OrderStatus.EXCEPTION), ("2", OrderStatus.DELIVERED), ("3", OrderStatus.IN_TRANSIT),
                          ("4", OrderStatus.CANCELLED)):
            order_store.insert(tx, [(order(n), status, None)], t0)
            promise_store.record(tx, Promise(order_id=f"x:{n}", created_at=t0, ship_by=t0, deliver_from=t0,
                                             deliver_by=deliver_by, reason="accepted"))
        shipment_store.insert(tx, Shipment(id="x:2/1", order_id="x:2", warehouse="west", status="delivered",
                                           lines=[ShipmentLine(sku="A", quantity=1)], created_at=t0, modified_at=t0,
                                           delivered_at=deliver_by - timedelta(hours=6)))
        flag = DelayAssessment(order_id="x:1", assessed_at=deliver_by - timedelta(days=2), state="late",
                               reason="carrier_exception", days_late=2)
        delay_store.record(tx, flag)
        delay_store.record(tx, attrs.evolve(flag, order_id="x:2", assessed_at=deliver_by - timedelta(days=1),
                                            state="at_risk"))
        delay_store.record(tx, attrs.evolve(flag, order_id="x:3", assessed_at=deliver_by + timedelta(hours=1)))
        delay_store.record(tx, attrs.evolve(flag, order_id="x:4"))
    with world.store.read() as conn:
        assert delay_figures(conn, deliver_by + timedelta(days=3)) == {
            "promised": 4, "late": 2, "flagged_early": 1, "flagged": 2, "flagged_early_share": 0.5, "precision": 0.5,
            "median_lead_days": 2.0, "called_late": 1, "precision_late": 1.0}
        # before x:1 and x:3's deliver-by nothing is known about them: only x:2 counts
        assert delay_figures(conn, deliver_by - timedelta(hours=1))["late"] == 0


def test_the_disruptions_example_of_sandbox_md_scripts_what_it_says(world):
    from ..test_docs import fenced, read

    source = fenced(read("sandbox.md"), "python")[1]
    exec(compile(source, "<sandbox.md disruptions>", "exec"), {"world": world})
    assert [(d.kind, d.region or d.carrier or d.service or ",".join(d.skus)) for d in world.disruptions.all()] == [
        ("hub_closed", "TW"), ("carrier_slow", "FedEx"), ("carrier_outage", "USPS"), ("api_outage", "easypost"),
        ("stock_out", "TEE-ORG-M")]


@pytest.mark.postgres
def test_assess_delays_streams_on_postgres_too(world_factory, postgres_url):
    """The job reads the open orders through a server-side cursor and writes on another connection."""
    world = world_factory(store_url=postgres_url)
    world.stock("west", sku(world, 1), 10)
    world.disruptions.add("stock_out", start=world.clock.now(), days=1, skus=[sku(world, 1)])
    world.apply_stock_disruptions()
    placed = [world.shop.add_order([{"sku": sku(world, 1), "quantity": 1}]) for _ in range(3)]
    world.sync(hours=9)
    with world.store.read() as conn:
        found = delay_store.current_many(conn, [f"shop:{p['id']}" for p in placed])
    assert len(found) == 3 and {a.reason for a in found.values()} == {DelayReason.STOCK_OUT}
