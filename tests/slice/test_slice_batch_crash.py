"""The batched job steps are crash-safe: kill a job mid-batch, run it again, and every
order is placed (and every warehouse answer applied) once, none lost, none twice.

A kill is a BaseException raised from inside a batch's transaction (as SIGINT's
KeyboardInterrupt would be): the jobs catch no BaseException, so the transaction is
rolled back and the job stops there.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fulfilhub.engines import fulfilment
from fulfilhub.runner import allocate as allocate_job
from fulfilhub.runner import effects, jobs, polling
from fulfilhub.store import schema


class Killed(BaseException):
    """What a kill looks like to the job: nothing in it catches this."""


def sku(world, i: int) -> str:
    return world.shop.catalog[i]["sku"]


def placed_orders(world, n: int) -> list[str]:
    for i in range(3):
        world.stock("east", sku(world, i), 500)
    ids = [f"shop:{world.shop.add_order([{'sku': sku(world, i % 3), 'quantity': 1 + i % 2}])['id']}" for i in range(n)]
    world.clock.advance(timedelta(minutes=5))
    jobs.pull_orders(world.rt)
    return ids


def kill_on_call(monkeypatch, module, name: str, call: int) -> None:
    real = getattr(module, name)
    calls = Counter()

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)


def facts(world, ids: list[str]) -> dict[str, object]:
    """Per order: status events to each status; shipments, their submit effects and reservations."""
    with world.store.read() as conn:
        events = Counter((r.order_id, r.to_status) for r in conn.execute(
            sa.select(schema.order_events.c.order_id, schema.order_events.c.to_status)
            .where(schema.order_events.c.kind == "status")))
        ships = Counter(r.order_id for r in conn.execute(sa.select(schema.shipments.c.order_id)))
        submits = conn.execute(sa.select(sa.func.count()).select_from(schema.outbox)
                               .where(schema.outbox.c.kind == "warehouse.submit")).scalar_one()
        reserved = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(schema.reservations.c.quantity), 0))).scalar_one()
    return {"events": events, "ships": ships, "submits": submits, "reserved": reserved}


def test_allocate_killed_mid_batch_then_run_again_places_every_order_once(world, monkeypatch):
    ids = placed_orders(world, 25)
    monkeypatch.setattr(allocate_job, "BATCH", 10)
    kill_on_call(monkeypatch, fulfilment, "allocate", 15)  # in the second batch: the first has committed
    with pytest.raises(Killed):
        jobs.allocate(world.rt)
    assert sum(world.order(i)[1].status == "allocated" for i in ids) == 10  # the first batch, whole
    monkeypatch.undo()

    report = jobs.allocate(world.rt)
    assert report.ok, report.errors
    assert report.counts["allocated"] == 15
    assert {world.order(i)[1].status for i in ids} == {"allocated"}
    after = facts(world, ids)
    assert all(after["events"][(i, "allocated")] == 1 for i in ids)
    assert all(after["ships"][i] == 1 for i in ids)
    assert after["submits"] == 25
    assert after["reserved"] == sum(1 + k % 2 for k in range(25))


def test_a_batch_whose_stock_went_is_placed_again_order_by_order(world, monkeypatch):
    ids = placed_orders(world, 12)
    real = fulfilment.allocate
    calls = Counter()

    def oversold_once(*args, **kwargs):  # another process took the stock of the 5th order meanwhile
        calls["n"] += 1
        return None if calls["n"] == 5 else real(*args, **kwargs)

    monkeypatch.setattr(fulfilment, "allocate", oversold_once)
    report = jobs.allocate(world.rt)
    assert report.ok, report.errors
    assert report.counts["allocated"] == 12
    after = facts(world, ids)
    assert all(after["ships"][i] == 1 for i in ids)
    assert after["submits"] == 12


def test_poll_warehouses_killed_mid_batch_then_run_again_applies_each_answer_once(world, monkeypatch):
    ids = placed_orders(world, 25)
    jobs.allocate(world.rt)
    jobs.deliver_effects(world.rt)  # submitted to the warehouse
    world.clock.advance(timedelta(hours=6))  # all packed by now
    monkeypatch.setattr(polling, "BATCH", 10)
    kill_on_call(monkeypatch, fulfilment, "apply_warehouse_update", 15)
    with pytest.raises(Killed):
        jobs.poll_warehouses(world.rt)
    monkeypatch.undo()
    monkeypatch.setattr(polling, "BATCH", 10)
    assert sum(s.status == "packed" for i in ids for s in world.shipments(i)) == 10

    report = jobs.poll_warehouses(world.rt)
    assert report.ok, report.errors
    assert report.counts["packed"] == 15
    assert {s.status for i in ids for s in world.shipments(i)} == {"packed"}
    with world.store.read() as conn:
        packed_events = Counter(r.order_id for r in conn.execute(
            sa.select(schema.order_events.c.order_id).where(schema.order_events.c.kind == "status",
                                                            schema.order_events.c.to_status == "packed")))
    assert all(packed_events[i] == 1 for i in ids)


def test_deliver_killed_after_submitting_ahead_then_run_again_submits_each_request_once(world, monkeypatch):
    ids = placed_orders(world, 12)
    jobs.allocate(world.rt)
    kill_on_call(monkeypatch, effects, "record", 1)  # the requests are with the warehouse, nothing recorded
    with pytest.raises(Killed):
        jobs.deliver_effects(world.rt)
    monkeypatch.undo()
    with world.store.read() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(schema.plugin_state)
                            .where(schema.plugin_state.c.namespace == "warehouses.east")).scalar_one()
    assert kept == 12  # submitted ahead, in one write
    assert all(not s.fulfillment_ref for i in ids for s in world.shipments(i))

    world.clock.advance(timedelta(minutes=1))  # the claimed effects are due again (attempt 2)
    report = jobs.deliver_effects(world.rt)
    assert report.ok, report.errors
    assert report.counts["warehouse.submit"] == 12
    with world.store.read() as conn:
        states = [r.key for r in conn.execute(sa.select(schema.plugin_state.c.key)
                                               .where(schema.plugin_state.c.namespace == "warehouses.east"))]
        submits = {r.status for r in conn.execute(sa.select(schema.outbox.c.status)
                                                  .where(schema.outbox.c.kind == "warehouse.submit"))}
    assert len(states) == 12  # nothing submitted twice
    refs = [s.fulfillment_ref for i in ids for s in world.shipments(i)]
    assert sorted(refs) == sorted(states)
    assert submits == {"done"}
