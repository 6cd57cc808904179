"""Promises through the real runner: made when an order is accepted, learned from as parcels
travel, revised with a reason, shown by the command line.

Shopify and EasyPost simulators on loopback, a real SQLite file, one scenario clock.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub.cli import main
from fulfilhub.models import OrderStatus
from fulfilhub.store import promises as promise_store
from fulfilhub.store import stock as stock_store

from .conftest import ENV, make_plugins
from .test_slice_flow import run_until, sku


@pytest.fixture(autouse=True)
def only_first_party_plugins(monkeypatch):
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def cli(world, *args: str):
    return CliRunner().invoke(main, ["-c", str(world.config_path), *args], catch_exceptions=False)


def test_an_accepted_order_is_promised_then_the_engine_learns_its_delivery(world):
    world.stock("west", sku(world, 0), 10)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)
    with world.store.read() as conn:
        (first,) = promise_store.history(conn, order_id)
    assert (first.revision, first.reason, first.level) == (1, "accepted", "default")  # no history yet
    assert first.ship_by > world.clock.now() - timedelta(hours=1)
    kinds = [(e.kind, e.source) for e in world.events(order_id)]
    assert kinds.index(("promise", "promise")) == kinds.index(("status", "intake")) + 1  # right after acceptance
    engine = world.rt.promise_engine()
    assert (engine.delivered, engine.in_flight) == (0, 0)

    assert run_until(world, order_id, OrderStatus.IN_TRANSIT, step=1) is OrderStatus.IN_TRANSIT
    assert (engine.delivered, engine.in_flight) == (0, 1)  # its label was bought: censored, in flight
    assert run_until(world, order_id, OrderStatus.DELIVERED) is OrderStatus.DELIVERED
    assert (engine.delivered, engine.in_flight) == (1, 0)  # learned as delivered, incrementally
    notes = [e.reason for e in world.events(order_id) if e.kind == "note" and e.source == "carrier choice"]
    assert len(notes) == 1
    assert notes[0].startswith("chose ")
    assert "the promise" in notes[0]
    # a fresh engine built from the store knows the same delivery
    world.rt.promises.forget()
    rebuilt = world.rt.promise_engine()
    assert (rebuilt.delivered, rebuilt.in_flight, rebuilt.loaded) == (1, 0, 1)


def test_an_order_waiting_for_stock_is_promised_from_its_restock_date(world):
    item = sku(world, 1)
    restock = (world.clock.now() + timedelta(days=10)).date()
    with world.store.transaction() as tx:
        stock_store.set_level(tx, "east", item, 0, world.clock.now(), restock_on=restock)
    placed = world.shop.add_order([{"sku": item, "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)
    assert world.order(order_id)[1].status == OrderStatus.BACKORDERED
    with world.store.read() as conn:
        promise = promise_store.current(conn, order_id)
    assert promise.ship_by.astimezone(ZoneInfo("America/New_York")).date() >= restock
    assert f"backordered until {restock:%a %d %b}" in promise.basis


def test_promise_quote_and_show_and_orders_show_on_the_command_line(world):
    world.stock("west", sku(world, 0), 10)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)

    quoted = cli(world, "promise", "quote", "--sku", f"{sku(world, 0)}:2", "--country", "US", "--region", "CA",
                 "--postal-code", "94105", "--at", "2026-05-24T15:00:00-07:00", "--json")
    assert quoted.exit_code == 0, quoted.output
    data = json.loads(quoted.stdout)
    assert data["timezone"] == "America/Los_Angeles"
    assert data["level"] == "default"
    # Sun 24 May after the cut-off (the world's warehouses work every day), Memorial Day on Monday:
    # day 0 is Tue 26, and west ships Wed 27 May (one handling day)
    assert data["ship_by"] == "2026-05-27T14:00:00-07:00"
    assert "after the 14:00 cut-off" in data["basis"]
    assert "Memorial Day closure" in data["basis"]
    assert data["range"].startswith("arrives ")
    text = cli(world, "promise", "quote", "--sku", sku(world, 0), "--country", "US", "--region", "CA",
               "--at", "2026-05-24T15:00:00-07:00")
    assert text.exit_code == 0
    assert "ship by Wed 27 May 2026 14:00 PDT" in text.output
    explained = cli(world, "promise", "quote", "--sku", sku(world, 0), "--country", "US", "--region", "CA",
                    "--at", "2026-05-24T15:00:00-07:00", "--explain")
    assert explained.exit_code == 0, explained.output
    assert "  history: all services, " in explained.output
    assert "  calendar: " in explained.output
    assert "  applied: after the 14:00 cut-off; Memorial Day closure" in explained.output

    missing = cli(world, "promise", "quote", "--sku", "NO-SUCH-SKU", "--country", "US")
    assert missing.exit_code == 1
    assert "NO-SUCH-SKU: not enough in stock" in missing.output
    bad = cli(world, "promise", "quote", "--sku", "A:zero", "--country", "US")
    assert bad.exit_code == 2
    assert "SKU:QTY" in bad.output

    shown = cli(world, "promise", "show", order_id, "--json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["promise"]["revision"] == 1
    assert [p["revision"] for p in body["promise_history"]] == [1]
    order = json.loads(cli(world, "orders", "show", order_id, "--json").stdout)
    assert order["promise"] == body["promise"]
    assert order["promise_history"] == body["promise_history"]
    human = cli(world, "orders", "show", order_id)
    assert "promise arrives" in human.output
    assert "ship by" in human.output

    restocked = cli(world, "stock", "set", "west", "LATER-1", "0", "--restock-date", str(date(2026, 2, 1)))
    assert restocked.exit_code == 0
    assert "more expected 2026-02-01" in restocked.output
    listed = {(r["warehouse"], r["sku"]): r for r in json.loads(cli(world, "stock", "list", "--json").stdout)}
    assert listed[("west", "LATER-1")]["restock_on"] == "2026-02-01"
    assert listed[("west", sku(world, 0))]["restock_on"] is None


def test_an_order_a_person_releases_is_promised_when_it_is_allocated(world):
    from fulfilhub.engines import holds

    world.stock("east", sku(world, 0), 1)  # exactly what the order needs: its own reservation must not block it
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}], note="please gift wrap")
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)
    with world.store.read() as conn:
        assert promise_store.current(conn, order_id) is None  # held for a person: nothing promised yet
    with world.store.transaction() as tx:
        holds.release(tx, None, order_id, reason="wrapped", at=world.clock.now(), source="cli")
    world.sync(hours=1)
    assert world.order(order_id)[1].status != OrderStatus.ON_HOLD
    with world.store.read() as conn:
        (promise,) = promise_store.history(conn, order_id)
    assert promise.reason == "accepted"
    assert "east →" in promise.basis
    kinds = [e.kind if e.kind != "status" else e.to_status for e in world.events(order_id)]
    assert kinds.index("promise") < kinds.index("allocated")
