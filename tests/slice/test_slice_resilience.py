"""Nothing lost, nothing done twice: reruns, crashes, faults, malformed payloads."""

from __future__ import annotations

import attrs
import pytest
import sqlalchemy as sa

from fulfilhub.runner import jobs
from fulfilhub.runner.quarantine import retry
from fulfilhub.store import schema
from fulfilhub.store import orders as order_store
from fulfilhub.store import outbox
from fulfilhub.store import quarantine as quarantine_store


def snapshot(world) -> dict:
    """Everything a rerun could wrongly change: table contents and what the APIs saw."""
    out = {}
    with world.store.read() as conn:
        for table in schema.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    shop_orders = [o["id"] for o in world.shop.orders_visible()]
    out["shop_fulfillments"] = sorted(
        (f["id"], len(world.shop.events_for(f["id"]))) for oid in shop_orders for f in world.shop.fulfillments_for(oid)
    )
    out["labels_bought"] = world.easypost.purchases_count()
    return out


def busy_world(world_factory, **kwargs):
    fast = [{"carrier": "USPS", "service": "Priority", "days": 1, "base": "7.90", "per_lb": "1.10"}]
    world = world_factory(orders_per_day=40, easypost={"carriers": fast}, **kwargs)
    for item in world.shop.catalog:
        world.stock("east", item["sku"], 500)
    for _ in range(20):  # two and a half days: orders in every state
        world.sync(hours=3)
    return world


def test_every_job_rerun_at_the_same_moment_changes_nothing(world_factory):
    # Without the shop's call limit: waiting for its bucket to drain moves the scenario
    # clock, and then a rerun is no longer at the same moment.
    world = busy_world(world_factory, shopify={"rate_limit": False})
    with world.store.read() as conn:
        states = order_store.count_by_status(conn)
    assert states.get("delivered") and states.get("in_transit"), states  # a busy, mixed state
    world.sync()  # read back what our own pushes changed in the shop (new order versions)
    for name, job in jobs.JOBS.items():
        before = snapshot(world)
        job(world.rt)
        assert snapshot(world) == before, f"rerunning {name} changed something"


class Crash(BaseException):
    """Stands for the process dying: not caught by the runner's error handling."""


@pytest.mark.parametrize("kind", ["warehouse.submit", "carrier.buy_label", "channel.push_fulfillment", "channel.push_tracking"])
def test_a_crash_after_an_effect_but_before_recording_it_does_not_repeat_it(world_factory, monkeypatch, kind):
    world = world_factory()
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 10)
    placed = world.shop.add_order([{"sku": sku, "quantity": 1}])
    real_finish = outbox.finish_many
    crashed = []

    def finish_many(tx, done):  # delivered effects are recorded (marked done) a batch at a time
        for effect_id, _at, _result in done:
            kind_of = tx.conn.execute(sa.select(schema.outbox.c.kind).where(schema.outbox.c.id == effect_id)).scalar()
            if kind_of == kind and not crashed:
                crashed.append(effect_id)
                raise Crash(kind)
        return real_finish(tx, done)

    monkeypatch.setattr(outbox, "finish_many", finish_many)
    for _ in range(120):
        try:
            world.sync(hours=1)
        except Crash:
            pass  # "restart" and carry on
        if world.order(f"shop:{placed['id']}")[1].status == "delivered":
            break
    assert crashed, f"the {kind} effect never ran"
    assert world.order(f"shop:{placed['id']}")[1].status == "delivered"
    assert world.easypost.purchases_count() == 1
    (fulfillment,) = world.shop.fulfillments_for(placed["id"])
    statuses = [e["status"] for e in world.shop.events_for(fulfillment["id"])]
    assert len(statuses) == len(set(statuses)), statuses
    with world.store.read() as conn:
        effects = outbox.listing(conn, limit=1000)
    assert {e.status for e in effects} == {"done"}


def test_rate_limits_server_errors_and_timeouts_are_survived(world_factory):
    world = world_factory(orders_per_day=0)
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 10)
    placed = [world.shop.add_order([{"sku": sku, "quantity": 1}]) for _ in range(3)]
    faults = world.context.faults
    faults.add("429", path="/shopify/", times=2, retry_after=0.01)
    faults.add("500", path="/easypost/v2/shipments", times=1)
    faults.add("timeout", path="/easypost/v2/trackers", times=1, delay=2.5)  # FAST_RETRIES times out at 2 s
    faults.add("503", path="/shopify/", method="POST", times=2)
    for _ in range(120):
        world.sync(hours=2)
        if all(world.order(f"shop:{p['id']}")[1].status == "delivered" for p in placed):
            break
    assert faults.injected == 6
    assert all(world.order(f"shop:{p['id']}")[1].status == "delivered" for p in placed)
    assert world.easypost.purchases_count() == 3
    assert all(len(world.shop.fulfillments_for(p["id"])) == 1 for p in placed)


def test_an_api_down_past_all_retries_loses_nothing(world_factory):
    world = world_factory(orders_per_day=0, page_size=2)
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 10)
    for _ in range(5):
        world.shop.add_order([{"sku": sku, "quantity": 1}])
    world.context.faults.add("503", path="/shopify/", times=10)  # more than the retries
    report = jobs.pull_orders(world.rt)
    assert not report.ok
    assert "cursor kept" in report.errors[0]
    world.context.faults.clear()
    report = jobs.pull_orders(world.rt)
    with world.store.read() as conn:
        stored = sum(order_store.count_by_status(conn).values())
    assert stored == 5, report


def test_a_malformed_order_is_quarantined_while_the_rest_of_the_page_is_stored(world_factory, monkeypatch):
    world = world_factory(page_size=50)
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 10)
    good = [world.shop.add_order([{"sku": sku, "quantity": 1}]) for _ in range(3)]
    bad = world.shop.add_order([{"sku": sku, "quantity": 1}], malformed="quantity_word")
    report = jobs.pull_orders(world.rt)
    assert report.counts["orders_new"] == 3
    assert report.counts["quarantined"] == 1
    with world.store.read() as conn:
        (entry,) = quarantine_store.listing(conn)
    assert entry.external_id == str(bad["id"])
    assert "quantity" in entry.error
    assert entry.payload == bad  # kept exactly as received
    assert all(world.order(f"shop:{g['id']}") for g in good)

    jobs.pull_orders(world.rt)  # re-reading the overlap does not quarantine it twice
    with world.store.read() as conn:
        assert len(quarantine_store.listing(conn)) == 1

    assert retry(world.rt)[entry.id].startswith("still fails")  # the plugin is not fixed yet
    channel = world.rt.channel("shop")
    original = channel.parse_order

    words = {"one": 1, "two": 2, "three": 3}

    def fixed(payload):  # the plugin's next release reads "one" as 1
        lines = [{**li, "quantity": words.get(li["quantity"], li["quantity"])} for li in payload["line_items"]]
        return original({**payload, "line_items": lines})

    monkeypatch.setattr(channel, "parse_order", fixed)
    assert retry(world.rt)[entry.id] == f"stored as shop:{bad['id']}"
    order, row = world.order(f"shop:{bad['id']}")
    assert row.status == "accepted"
    assert order.lines[0].quantity == 1
    with world.store.read() as conn:
        assert quarantine_store.listing(conn) == []


def test_a_record_the_store_refuses_is_quarantined_alone_and_the_channel_goes_on(world_factory, monkeypatch):
    """A payload that maps but cannot be stored must not jam the channel: the rest of its
    page, and later pages, are stored. Here the text holds a lone surrogate (valid in JSON
    as an escape, not encodable as UTF-8), as a mapping may pass it on."""
    world = world_factory()
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 10)
    good = world.shop.add_order([{"sku": sku, "quantity": 1}])
    bad = world.shop.add_order([{"sku": sku, "quantity": 1}])
    channel = world.rt.channel("shop")
    real_parse = channel.parse_order

    def parse(payload):
        order = real_parse(payload)
        return attrs.evolve(order, note="leave at door \ud800") if payload["id"] == bad["id"] else order

    monkeypatch.setattr(channel, "parse_order", parse)
    report = world.sync(hours=1)
    assert report.counts["orders_new"] == 1
    assert report.counts["quarantined"] == 1
    assert world.order(f"shop:{good['id']}") is not None
    assert world.order(f"shop:{bad['id']}") is None
    with world.store.read() as conn:
        (entry,) = quarantine_store.listing(conn)
    assert entry.external_id == str(bad["id"])
    assert "store refused" in entry.error
    later = world.shop.add_order([{"sku": sku, "quantity": 1}])
    world.sync(hours=1)
    assert world.order(f"shop:{later['id']}") is not None  # the cursor moved on
