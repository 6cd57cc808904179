"""Hooks, as a plugin sees them, through the real runner against the simulators.

A test plugin registered in a fixture counts every lifecycle call; the decisions it
makes (a rate, an allocation) must be the ones the runner acts on. Real HTTP over
loopback into a real SQLite file, on a scenario clock.
"""

from __future__ import annotations

from collections import Counter

import pytest

from fulfilhub.hookspecs import hookimpl
from fulfilhub.models import OrderStatus
from fulfilhub.store import stock as stock_store


class Counting:
    """Records every lifecycle event it is told of, in order."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.changes: list[tuple[str, str | None, str]] = []
        self.delivered: list[tuple[str, str]] = []

    @hookimpl
    def order_received(self, order):
        self.received.append(order.id)

    @hookimpl
    def order_status_changed(self, order_id, old, new, reason, source):
        self.changes.append((order_id, None if old is None else str(old), str(new)))

    @hookimpl
    def shipment_delivered(self, order_id, shipment_id, delivered_at):
        assert delivered_at.tzinfo is not None
        self.delivered.append((order_id, shipment_id))


@pytest.fixture
def counted(world):
    """The slice world with the counting plugin registered (and unregistered after)."""
    plugin = Counting()
    name = world.plugins.register(plugin, name="counting")
    yield world, plugin
    world.plugins.unregister(name)


def sku(world, i: int) -> str:
    return world.shop.catalog[i]["sku"]


def place(world, *lines: tuple[int, int]) -> tuple[int, str]:
    placed = world.shop.add_order([{"sku": sku(world, i), "quantity": q} for i, q in lines])
    return placed["id"], f"shop:{placed['id']}"


def run_until_delivered(world, order_id: str, hours: int = 240) -> None:
    for _ in range(0, hours, 2):
        world.sync(hours=2)
        if world.order(order_id)[1].status == OrderStatus.DELIVERED:
            return
    raise AssertionError(f"{order_id} was not delivered within {hours} h: {world.order(order_id)[1].status}")


def test_order_received_is_called_once_per_new_order_not_per_version(counted):
    world, plugin = counted
    world.stock("east", sku(world, 0), 10)
    first, first_id = place(world, (0, 1))
    _, second_id = place(world, (0, 2))
    assert world.sync(hours=1).counts["orders_new"] == 2
    assert sorted(plugin.received) == sorted([first_id, second_id])

    world.shop.update_order(first, tags="gift")  # a new version of the first order
    report = world.sync(hours=1)
    assert report.counts["orders_updated"] == 1, report  # the new version was stored...
    world.sync(hours=1)
    assert sorted(plugin.received) == sorted([first_id, second_id])  # ...and not told as new


def test_order_status_changed_is_called_once_per_change_as_the_events_table_records_it(counted):
    world, plugin = counted
    world.stock("east", sku(world, 0), 10)
    _, order_id = place(world, (0, 1))
    run_until_delivered(world, order_id)
    world.sync(hours=24)  # passes with nothing new must tell nothing

    recorded = [(e.order_id, e.from_status, e.to_status) for e in world.events(order_id) if e.kind == "status"]
    told = [change for change in plugin.changes if change[0] == order_id]
    assert told == recorded
    assert len(set(told)) == len(told)  # no change told twice
    assert told[-1][2] == "delivered"


def test_shipment_delivered_is_called_once_even_when_tracking_is_polled_again(counted):
    world, plugin = counted
    world.stock("east", sku(world, 0), 10)
    _, order_id = place(world, (0, 1))
    run_until_delivered(world, order_id)
    for _ in range(3):
        world.sync(hours=12)
    (shipment,) = world.shipments(order_id)
    assert plugin.delivered == [(order_id, shipment.id)]


class MostExpensive:
    """Chooses the dearest rate: never what the built-in (cheapest) would pick."""

    def __init__(self) -> None:
        self.offered: list[list] = []

    @hookimpl
    def choose_rate(self, order, shipment_id, rates):
        self.offered.append(list(rates))
        return max(rates, key=lambda r: r.amount.amount)


def test_a_plugin_choosing_another_rate_is_obeyed(world):
    chooser = MostExpensive()
    name = world.plugins.register(chooser, name="dearest")
    try:
        world.stock("east", sku(world, 0), 10)
        _, order_id = place(world, (0, 1))
        for _ in range(6):
            world.sync(hours=1)
            (shipment,) = world.shipments(order_id)
            if shipment.rate is not None:
                break
    finally:
        world.plugins.unregister(name)
    assert chooser.offered, "choose_rate was never called"
    rates = chooser.offered[-1]
    amounts = sorted({r.amount.amount for r in rates})
    assert len(amounts) > 1, "the simulator should quote rates at different prices"
    dearest = max(rates, key=lambda r: r.amount.amount)
    assert (shipment.rate.rate_id, shipment.rate.amount.amount) == (dearest.rate_id, dearest.amount.amount)
    assert shipment.rate.amount.amount != amounts[0]


class AlwaysWest:
    @hookimpl
    def allocate_order(self, order, stock):
        return [("west", line.sku, line.quantity) for line in order.lines]


def test_a_plugin_allocating_elsewhere_is_obeyed(world):
    world.stock("east", sku(world, 0), 10)
    world.stock("west", sku(world, 0), 10)
    _, control_id = place(world, (0, 1))
    world.sync(hours=1)
    assert [s.warehouse for s in world.shipments(control_id)] == ["east"]  # the built-in's choice

    name = world.plugins.register(AlwaysWest(), name="always-west")
    try:
        _, order_id = place(world, (0, 1))
        world.sync(hours=1)
    finally:
        world.plugins.unregister(name)
    assert [s.warehouse for s in world.shipments(order_id)] == ["west"]
    with world.store.read() as conn:
        # units taken from each warehouse: still reserved, or already gone from on hand
        taken = {(s.warehouse, s.sku): s.reserved + 10 - s.on_hand for s in stock_store.levels(conn)}
    assert (taken[("east", sku(world, 0))], taken[("west", sku(world, 0))]) == (1, 1)  # one order each


def test_counts_are_per_order(counted):
    """Two orders through to delivery: each is received once and delivered once."""
    world, plugin = counted
    world.stock("east", sku(world, 0), 10)
    _, a = place(world, (0, 1))
    _, b = place(world, (0, 1))
    run_until_delivered(world, a)
    run_until_delivered(world, b)
    assert Counter(plugin.received) == Counter({a: 1, b: 1})
    assert Counter(order for order, _ in plugin.delivered) == Counter({a: 1, b: 1})
