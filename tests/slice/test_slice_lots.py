"""Lots end to end: stock received by lot is picked first expiry first out when the local
warehouse packs, an expired lot is never picked (the parcel is packed short and order
accuracy counts it), ``fulfilhub trace LOT`` names who received a lot, and an operator's
report of a wrong item is recorded against the warehouse that packed it."""

from __future__ import annotations

import json
from datetime import date, timedelta

from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.store import lots as lot_store

from .conftest import ENV


def receive(world, sku: str, units: int, lot: str, expires: date | None) -> None:
    with world.store.transaction() as tx:
        lot_store.receive(tx, "east", sku, units, lot, expires, world.clock.now())


def cli(world, *args: str):
    result = CliRunner().invoke(main, ["-c", str(world.config_path), *args], env=ENV)
    assert "Traceback" not in result.output
    return result


def ship(world, lines: list[dict]) -> str:
    order_id = f"shop:{world.shop.add_order(lines)['id']}"
    for _ in range(6):
        world.sync(hours=1)
    return order_id


def test_lots_are_picked_first_expiry_first_out_and_traced_to_the_customers(world):
    sku = world.shop.catalog[0]["sku"]
    today = world.clock.now().date()
    world.stock("east", sku, 0)
    receive(world, sku, 3, "LATE-9", today + timedelta(days=300))
    receive(world, sku, 2, "SOON-1", today + timedelta(days=30))
    first = ship(world, [{"sku": sku, "quantity": 3}])
    second = ship(world, [{"sku": sku, "quantity": 1}])

    (one,) = world.shipments(first)
    with world.store.read() as conn:
        packed = [(r.lot, r.quantity) for r in lot_store.lots_of_shipment(conn, one.id)]
        left = {r.lot: r.on_hand for r in lot_store.levels(conn, warehouse="east")}
        issues = lot_store.issues(conn)
    assert packed == [("LATE-9", 1), ("SOON-1", 2)]  # the sooner lot first, then the later one
    assert left == {"SOON-1": 0, "LATE-9": 1}
    assert issues == []
    assert any("packed from" in e.reason and "SOON-1 x2" in e.reason for e in world.events(first))

    traced = cli(world, "trace", "LATE-9", "--json")
    assert traced.exit_code == 0, traced.output
    doc = json.loads(traced.stdout)
    assert (doc["orders"], doc["units"]) == (2, 2)
    assert [r["order_id"] for r in doc["receivers"]] == [first, second]
    who = doc["receivers"][0]
    assert who["customer"]
    assert "•••@" in who["email"]
    assert who["email"] != world.order(first)[0].email
    assert doc["on_hand"] == [{"warehouse": "east", "sku": sku, "on_hand": 1, "expires": (today + timedelta(days=300)).isoformat()}]
    assert cli(world, "trace", "NO-SUCH-LOT").exit_code == 5


def test_an_expired_lot_is_not_picked_the_parcel_is_packed_short_and_said_so(world):
    sku = world.shop.catalog[0]["sku"]
    today = world.clock.now().date()
    world.stock("east", sku, 0)
    receive(world, sku, 1, "OLD-1", today - timedelta(days=1))
    receive(world, sku, 1, "NEW-2", today + timedelta(days=90))
    order_id = ship(world, [{"sku": sku, "quantity": 2}])

    (shipment,) = world.shipments(order_id)
    with world.store.read() as conn:
        packed = [(r.lot, r.quantity) for r in lot_store.lots_of_shipment(conn, shipment.id)]
        (issue,) = lot_store.issues(conn, order_id=order_id)
    assert packed == [("NEW-2", 1)]
    assert (issue.kind, issue.quantity, issue.warehouse, issue.sku) == ("short_pick", 1, "east", sku)
    assert "OLD-1 expired" in issue.reason
    assert any("packed 1 of 2" in e.reason and "OLD-1 expired" in e.reason for e in world.events(order_id))
    world.sync(hours=1)  # asked again: the same answer, nothing twice
    with world.store.read() as conn:
        assert len(lot_store.issues(conn, order_id=order_id)) == 1
        assert len(lot_store.lots_of_shipment(conn, shipment.id)) == 1


def test_stock_receive_and_report_issue_on_the_command_line(world):
    sku = world.shop.catalog[0]["sku"]
    got = cli(world, "stock", "receive", "east", sku, "4", "--lot", "L-77", "--expires", "2027-03-01")
    assert got.exit_code == 0, got.output
    assert "L-77 +4" in got.stdout
    again = cli(world, "stock", "receive", "east", sku, "1", "--lot", "L-77", "--expires", "2027-04-01")
    assert again.exit_code == 2
    assert "2027-03-01" in again.stderr
    lots = json.loads(cli(world, "stock", "lots", "--json").stdout)
    assert [(r["lot"], r["on_hand"], r["expires"]) for r in lots] == [("L-77", 4, "2027-03-01")]
    stock = json.loads(cli(world, "stock", "list", "--json").stdout)
    assert [(r["sku"], r["on_hand"]) for r in stock] == [(sku, 4)]

    order_id = ship(world, [{"sku": sku, "quantity": 2}])
    number = world.order(order_id)[0].number
    wrong = cli(world, "orders", "report-issue", number, "--line", f"{sku}:1", "--kind", "wrong_item",
                "--note", "blue instead of red")
    assert wrong.exit_code == 0, wrong.output
    with world.store.read() as conn:
        (issue,) = lot_store.issues(conn, order_id=order_id)
    assert (issue.kind, issue.quantity, issue.warehouse, issue.source) == ("wrong_item", 1, "east", "operator")
    assert cli(world, "orders", "report-issue", number, "--line", f"{sku}:1", "--kind", "wrong_item").exit_code == 0
    assert cli(world, "orders", "report-issue", number, "--line", f"{sku}:9", "--kind", "missing_item").exit_code == 2
    assert cli(world, "orders", "report-issue", number, "--line", "NOPE:1", "--kind", "missing_item").exit_code == 2
    assert cli(world, "orders", "report-issue", "nope", "--line", f"{sku}:1", "--kind", "missing_item").exit_code == 5

    report = json.loads(cli(world, "report", "--json", "--no-backtest").stdout)
    accuracy = report["accuracy"]
    assert (accuracy["shipments"], accuracy["accurate"], accuracy["by_kind"]) == (1, 0, {"wrong_item": 1})
    assert accuracy["warehouses"] == [{"warehouse": "east", "shipments": 1, "accurate": 0, "accuracy": 0.0,
                                       "units": 2, "units_wrong": 1}]
    assert accuracy["skus"] == [{"sku": sku, "units": 2, "units_wrong": 1, "accuracy": 0.5}]
    page = world.config_path.parent / "report.html"
    assert cli(world, "report", "--no-backtest", "--html", str(page)).exit_code == 0
    html = page.read_text()
    assert "Order accuracy by warehouse" in html
    assert "Order accuracy (shipments handed over in the window)" in html


def test_a_cancelled_parcel_gives_its_units_back_to_the_lot_once(world):
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 0)
    receive(world, sku, 3, "L-1", world.clock.now().date() + timedelta(days=60))
    order_id = ship(world, [{"sku": sku, "quantity": 2}])
    (shipment,) = world.shipments(order_id)
    at = world.clock.now()
    with world.store.transaction() as tx:
        assert lot_store.restock_shipment(tx, shipment.id, at) == 1
        assert lot_store.restock_shipment(tx, shipment.id, at) == 0
    with world.store.read() as conn:
        assert [r.on_hand for r in lot_store.levels(conn, lot="L-1")] == [3]
    doc = json.loads(cli(world, "trace", "L-1", "--json").stdout)
    assert (doc["orders"], doc["units"], doc["restocked"]) == (0, 0, 2)
    assert doc["receivers"][0]["restocked_at"]


def test_a_warehouse_answer_with_lots_the_shipment_does_not_carry_keeps_only_what_fits(world):
    from fulfilhub.engines import fulfilment
    from fulfilhub.models import FulfillmentUpdate, LotPick, ShortPick
    from fulfilhub.store import shipments as shipment_store

    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    order_id = f"shop:{world.shop.add_order([{'sku': sku, 'quantity': 2}])['id']}"
    world.sync(hours=0.1)
    (shipment,) = world.shipments(order_id)
    update = FulfillmentUpdate(
        ref=shipment.fulfillment_ref, status="packed", at=world.clock.now(),
        lots=[LotPick(sku=sku, lot="P-1", quantity=2), LotPick(sku=sku, lot="P-2", quantity=1),
              LotPick(sku="NOT-IN-IT", lot="P-3", quantity=1)],
        short=[ShortPick(sku="NOT-IN-IT", quantity=1), ShortPick(sku=sku, quantity=5, reason="shelf empty")])
    for _ in range(2):  # the same answer twice: kept once
        with world.store.transaction() as tx:
            fulfilment.apply_warehouse_update(tx, None, shipment_store.load(tx.conn, shipment.id), update,
                                              world.clock.now(), source="warehouse:east")
    with world.store.read() as conn:
        kept = [(r.lot, r.quantity) for r in lot_store.lots_of_shipment(conn, shipment.id)]
        (issue,) = lot_store.issues(conn, order_id=order_id)
    assert kept == [("P-1", 2)]
    assert (issue.sku, issue.quantity, issue.reason) == (sku, 2, "shelf empty")  # no more than it carries
    notes = [e.reason for e in world.events(order_id) if e.kind == "note"]
    assert sum("lots not kept" in n and "P-2" in n and "P-3" in n for n in notes) == 1


def test_a_lot_number_on_two_skus_is_traced_per_sku_with_sku(world):
    a, b = world.shop.catalog[0]["sku"], world.shop.catalog[1]["sku"]
    for sku in (a, b):
        world.stock("east", sku, 0)
        receive(world, sku, 2, "20260301", None)
    ship(world, [{"sku": a, "quantity": 1}, {"sku": b, "quantity": 1}])
    both = json.loads(cli(world, "trace", "20260301", "--json").stdout)
    assert sorted(r["sku"] for r in both["receivers"]) == sorted([a, b])
    one = json.loads(cli(world, "trace", "20260301", "--sku", a, "--json").stdout)
    assert [r["sku"] for r in one["receivers"]] == [a]
    assert [s["sku"] for s in one["on_hand"]] == [a]
    assert cli(world, "trace", "20260301", "--sku", "NOPE").exit_code == 5
