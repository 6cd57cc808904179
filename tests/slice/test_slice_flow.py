"""An order travels: Shopify simulator -> intake -> warehouse -> EasyPost -> back to Shopify.

Everything here is real HTTP over loopback into a real SQLite file, on a scenario clock.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from fulfilhub.models import OrderStatus, ShipmentStatus
from fulfilhub.runner import jobs
from fulfilhub.store import orders as order_store
from fulfilhub.store import outbox
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store


def sku(world, i: int) -> str:
    return world.shop.catalog[i]["sku"]


def run_until(world, order_id: str, status: OrderStatus, *, hours: int = 240, step: int = 2) -> OrderStatus:
    for _ in range(0, hours, step):
        world.sync(hours=step)
        _, row = world.order(order_id)
        if row.status == status:
            break
    return OrderStatus(world.order(order_id)[1].status)


def statuses_seen(world, order_id: str) -> list[str]:
    return [e.to_status for e in world.events(order_id) if e.kind == "status"]


def test_an_order_travels_to_delivery_and_the_shop_hears_of_it(world):
    world.stock("east", sku(world, 0), 10)
    world.stock("east", sku(world, 1), 10)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 2}, {"sku": sku(world, 1), "quantity": 1}])
    order_id = f"shop:{placed['id']}"

    report = world.sync(hours=1)
    assert report.counts["orders_new"] == 1, report
    assert report.ok, report.errors

    assert run_until(world, order_id, OrderStatus.DELIVERED) is OrderStatus.DELIVERED
    seen = statuses_seen(world, order_id)
    assert seen[:3] == ["received", "accepted", "allocated"]
    assert seen.index("packed") < seen.index("shipped") < seen.index("in_transit") < seen.index("delivered")
    assert seen[-1] == "delivered"
    assert "shipped" in seen
    assert "in_transit" in seen

    (shipment,) = world.shipments(order_id)
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.tracking_code
    assert shipment.delivered_at is not None
    # the shop got one fulfillment with our tracking number, and the delivered milestone
    (fulfillment,) = world.shop.fulfillments_for(placed["id"])
    assert fulfillment["tracking_number"] == shipment.tracking_code
    assert "delivered" in [e["status"] for e in world.shop.events_for(fulfillment["id"])]
    # stock left the building: on hand down by what shipped, nothing left reserved
    with world.store.read() as conn:
        levels = {s.sku: s for s in stock_store.levels(conn, warehouses=["east"])}
        scans = shipment_store.scans_of(conn, shipment.id)
    assert (levels[sku(world, 0)].on_hand, levels[sku(world, 0)].reserved) == (8, 0)
    assert (levels[sku(world, 1)].on_hand, levels[sku(world, 1)].reserved) == (9, 0)
    assert [s.status for s in scans][-1] == "delivered"
    assert world.easypost.purchases_count() == 1


def test_an_order_split_across_two_warehouses_is_partially_shipped_then_whole(world_factory):
    world = world_factory()
    world.stock("east", sku(world, 0), 5)
    world.stock("west", sku(world, 1), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}, {"sku": sku(world, 1), "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    world.sync(hours=1)
    ships = world.shipments(order_id)
    assert sorted(s.warehouse for s in ships) == ["east", "west"]

    # hold the west parcel back: its fulfillment is not polled until we say so
    with world.store.transaction() as tx:
        west = next(s for s in ships if s.warehouse == "west")
        shipment_store.save(tx, attrs.evolve(west, next_poll_at=world.clock.now() + timedelta(hours=6)))
    world.sync(hours=2)
    assert world.order(order_id)[1].status == OrderStatus.PARTIALLY_SHIPPED

    assert run_until(world, order_id, OrderStatus.DELIVERED) is OrderStatus.DELIVERED
    seen = statuses_seen(world, order_id)
    assert "partially_shipped" in seen
    fulfillments = world.shop.fulfillments_for(placed["id"])
    assert len(fulfillments) == 2
    assert {f["tracking_number"] for f in fulfillments} == {s.tracking_code for s in world.shipments(order_id)}


def test_bad_data_is_held_for_a_person_with_a_reason(world):
    world.stock("east", sku(world, 0), 5)
    unknown = world.shop.add_order([{"sku": "NOPE-1", "title": "Mystery", "price": "5.00", "quantity": 1}])
    note = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}], note="please gift wrap")
    no_sku = world.shop.add_order([{"sku": "", "title": "Custom engraving", "price": "9.00", "quantity": 1}])
    world.sync(hours=1)
    reasons = {oid: world.order(f"shop:{oid}")[1] for oid in (unknown["id"], note["id"], no_sku["id"])}
    assert all(row.status == OrderStatus.ON_HOLD for row in reasons.values())
    assert "SKU NOPE-1 is not stocked" in reasons[unknown["id"]].hold_reason
    assert "gift wrap" in reasons[note["id"]].hold_reason
    assert "has no SKU" in reasons[no_sku["id"]].hold_reason
    assert not world.shipments(f"shop:{note['id']}")


def test_the_last_unit_goes_to_one_order_the_other_is_backordered_then_allocated_on_restock(world):
    world.stock("east", sku(world, 2), 2, safety=1)  # one unit to sell
    first = world.shop.add_order([{"sku": sku(world, 2), "quantity": 1}])
    second = world.shop.add_order([{"sku": sku(world, 2), "quantity": 1}])
    report = world.sync(hours=1)
    statuses = sorted(world.order(f"shop:{o['id']}")[1].status for o in (first, second))
    assert statuses == ["allocated", "backordered"] or statuses == ["backordered", "picking"], statuses
    assert report.counts["backordered"] == 1

    world.sync(hours=1)  # no new stock: stays backordered, not re-allocated
    backordered = next(o for o in (first, second) if world.order(f"shop:{o['id']}")[1].status == "backordered")
    world.stock("east", sku(world, 2), 3, safety=1)
    world.sync(hours=1)
    assert world.order(f"shop:{backordered['id']}")[1].status != "backordered"


def test_an_order_cancelled_in_the_shop_before_shipping_releases_its_stock(world):
    world.stock("east", sku(world, 3), 4)
    placed = world.shop.add_order([{"sku": sku(world, 3), "quantity": 3}])
    world.sync(hours=0.25)  # allocated and submitted, not yet packed
    order_id = f"shop:{placed['id']}"
    assert world.order(order_id)[1].status in ("allocated", "picking")
    world.shop.cancel_order(placed["id"])
    world.sync(hours=0.25)
    assert world.order(order_id)[1].status == OrderStatus.CANCELLED
    (shipment,) = world.shipments(order_id)
    assert shipment.status == ShipmentStatus.CANCELLED
    with world.store.read() as conn:
        (level,) = stock_store.levels(conn, warehouses=["east"], skus=[sku(world, 3)])
    assert (level.on_hand, level.reserved) == (4, 0)
    world.sync(hours=24)
    assert world.easypost.purchases_count() == 0
    assert world.shop.fulfillments_for(placed["id"]) == []


def test_an_updated_order_is_stored_once_per_version(world):
    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    world.sync(hours=1)
    world.shop.update_order(placed["id"], tags="vip")
    world.sync(hours=1)
    world.sync(hours=1)
    events = world.events(f"shop:{placed['id']}")
    assert [e.kind for e in events].count("updated") >= 1
    versions = [e.reason for e in events if e.kind == "updated"]
    assert len(versions) == len(set(versions)), "the same version was applied twice"
    assert [e.to_status for e in events].count("received") == 1


def test_two_shops_pull_concurrently_into_one_store(world_factory):
    second = """
[channels.outlet]
type = "shopify"
base_url = "{shopify}"
access_token = "${{SHOP_TOKEN}}"
page_size = 7
"""
    world = world_factory(orders_per_day=200, extra_channels=second)
    for item in world.shop.catalog:
        world.stock("east", item["sku"], 1000)
    world.clock.advance(timedelta(hours=12))
    report = jobs.pull_orders(world.rt)
    visible = world.shop.visible_count()
    assert visible > 20
    assert report.counts["orders_new"] == 2 * visible  # each shop instance has its own copy
    with world.store.read() as conn:
        counts = order_store.count_by_status(conn)
    assert sum(counts.values()) == 2 * visible


def test_an_older_version_read_late_does_not_overwrite_a_newer_one(world):
    from fulfilhub.engines import intake
    from fulfilhub.config import IntakeConfig

    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    world.sync(hours=1)
    newer = world.shop.update_order(placed["id"], note="leave at the back door")
    channel = world.rt.channel("shop")
    with world.store.transaction() as tx:
        intake.ingest(tx, world.rt.hooks, [channel.parse_order(newer)], at=world.clock.now(), known_skus=set(),
                      intake=IntakeConfig(), source="test")
    with world.store.transaction() as tx:
        result = intake.ingest(tx, world.rt.hooks, [channel.parse_order(placed)], at=world.clock.now(), known_skus=set(),
                               intake=IntakeConfig(), source="test")
    assert result.unchanged == 1
    assert result.updated == 0
    order, _ = world.order(f"shop:{placed['id']}")
    assert order.note == "leave at the back door"


def test_effects_for_a_cancelled_shipment_are_closed_not_repeated(world):
    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    world.clock.advance(timedelta(minutes=5))
    jobs.pull_orders(world.rt)
    jobs.allocate(world.rt)  # the warehouse.submit effect is queued, not yet delivered
    world.shop.cancel_order(placed["id"])
    jobs.pull_orders(world.rt)
    report = jobs.deliver_effects(world.rt)
    assert report.ok, report.errors
    with world.store.read() as conn:
        (effect,) = [e for e in outbox.listing(conn) if e.kind == "warehouse.submit"]
    assert effect.status == "done"
    assert effect.result == {"skipped": "shipment cancelled"}
    assert not jobs.deliver_effects(world.rt).counts  # nothing left to redeliver


def test_a_plugin_plan_that_does_not_fit_is_reported_and_other_orders_go_on(world):
    from fulfilhub import hookimpl

    world.stock("east", sku(world, 0), 5)
    world.stock("east", sku(world, 1), 5)
    odd = world.shop.add_order([{"sku": sku(world, 0), "quantity": 2}])
    fine = world.shop.add_order([{"sku": sku(world, 1), "quantity": 1}])

    class HalfPlans:
        @hookimpl
        def allocate_order(self, order, stock):
            if order.lines[0].sku == sku(world, 0):
                return [("east", sku(world, 0), 1)]  # one short
            return None

    world.plugins.register(HalfPlans(), name="half-plans")
    world.clock.advance(timedelta(minutes=5))
    jobs.pull_orders(world.rt)
    report = jobs.allocate(world.rt)
    assert any("does not fit the order" in e for e in report.errors)
    assert world.order(f"shop:{odd['id']}")[1].status == "accepted"
    assert world.order(f"shop:{fine['id']}")[1].status == "allocated"


def test_orders_held_for_unknown_skus_go_on_once_the_skus_are_stocked(world):
    """A new user's path: orders arrive for SKUs not stocked yet, are held, then
    `fulfilhub stock set` and the next sync let them through."""
    placed = [world.shop.add_order([{"sku": sku(world, i % 3), "quantity": 1}]) for i in range(6)]
    world.sync(hours=1)
    ids = [f"shop:{p['id']}" for p in placed]
    assert {world.order(i)[1].status for i in ids} == {OrderStatus.ON_HOLD}
    for i in range(3):
        world.stock("east", sku(world, i), 10)
    world.sync(hours=1)
    assert {world.order(i)[1].status for i in ids} <= {OrderStatus.ALLOCATED, OrderStatus.PICKING, OrderStatus.PACKED}
    assert "the checks that held it pass now" in [e.reason for e in world.events(ids[0])]


def _label_bought(world, placed):
    order_id = f"shop:{placed['id']}"
    for _ in range(12):
        world.sync(hours=1)
        ships = world.shipments(order_id)
        if ships and ships[0].label is not None:
            return order_id, ships[0]
    raise AssertionError("no label was bought")


def test_a_cancellation_before_the_carrier_scans_voids_the_label_and_restocks(world):
    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 2}])
    order_id, shipment = _label_bought(world, placed)
    assert shipment.status is ShipmentStatus.LABEL_PURCHASED
    world.shop.cancel_order(placed["id"])
    world.sync()  # same moment: the carrier has not scanned it yet
    (voided,) = world.shipments(order_id)
    assert voided.status is ShipmentStatus.CANCELLED
    assert world.order(order_id)[1].status == OrderStatus.CANCELLED
    reasons = [e.reason for e in world.events(order_id)]
    assert any("after shipping: voiding the unused label" in r for r in reasons), reasons
    with world.store.read() as conn:
        (level,) = stock_store.levels(conn, warehouses=["east"], skus=[sku(world, 0)])
        rows = outbox.listing(conn)
    assert level.on_hand == 5  # the two units are back on the shelf
    assert {r.kind: r.status for r in rows}["carrier.void_label"] == "done"
    assert not [r for r in rows if r.status == "pending"]


def test_a_cancellation_of_a_parcel_on_its_way_is_flagged_and_nothing_waits_forever(world):
    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    order_id, _ = _label_bought(world, placed)
    run_until(world, order_id, OrderStatus.IN_TRANSIT)
    world.shop.cancel_order(placed["id"])
    for _ in range(6):
        world.sync(hours=12)
    reasons = [e.reason for e in world.events(order_id)]
    assert any("arrange the return" in r for r in reasons), reasons
    with world.store.read() as conn:
        pending = [r for r in outbox.listing(conn) if r.status == "pending"]
        stuck = outbox.stuck(conn, world.clock.now())
    assert not pending
    assert all(r.status == "failed" for r in stuck)


def test_an_order_with_nothing_to_ship_completes_and_a_mixed_one_ships_only_its_parcel(world):
    world.stock("east", sku(world, 0), 5)
    gift_card = {"sku": "GIFT-25", "title": "Gift card", "price": "25.00", "requires_shipping": False}
    digital = world.shop.add_order([gift_card])
    mixed = world.shop.add_order([gift_card, {"sku": sku(world, 0), "quantity": 1}])
    world.sync(hours=1)
    digital_id, mixed_id = f"shop:{digital['id']}", f"shop:{mixed['id']}"
    assert world.order(digital_id)[1].status == OrderStatus.DELIVERED
    assert world.shipments(digital_id) == []
    assert "nothing to ship" in world.events(digital_id)[-1].reason
    assert run_until(world, mixed_id, OrderStatus.DELIVERED) is OrderStatus.DELIVERED
    (parcel,) = world.shipments(mixed_id)
    assert [line.sku for line in parcel.lines] == [sku(world, 0)]
    order, _ = world.order(mixed_id)
    assert [line.requires_shipping for line in order.lines] == [False, True]  # the order keeps every line


def test_our_own_pushes_do_not_come_back_as_new_versions(world):
    """Shopify's updated_at moves with every fulfillment and event we post; the order's
    content does not, so pulling it again stores nothing new."""
    world.stock("east", sku(world, 0), 5)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}])
    order_id = f"shop:{placed['id']}"
    assert run_until(world, order_id, OrderStatus.DELIVERED) is OrderStatus.DELIVERED
    world.sync(hours=1)
    assert [e for e in world.events(order_id) if e.kind == "updated"] == []
    world.shop.update_order(placed["id"], note="please ring twice")  # a real change still is one
    world.sync(hours=1)
    assert [e.kind for e in world.events(order_id)].count("updated") == 1
