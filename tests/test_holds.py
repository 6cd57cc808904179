"""Holds: a person holds, releases or cancels an order; intake's holds lift themselves."""

from __future__ import annotations

import pytest

from fulfilhub.config import IntakeConfig
from fulfilhub.engines import fulfilment, holds, intake
from fulfilhub.errors import IllegalTransition, NotFound
from fulfilhub.models import OrderStatus, ShipmentLine, ShipmentStatus
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

from .conftest import T0

CHECKS = IntakeConfig()
HOOKS = Hooks(PluginManager(load_installed=False))


def ingest(store, order):
    with store.transaction() as tx:
        intake.ingest(tx, HOOKS, [order], at=T0, known_skus={"SKU-A"}, intake=CHECKS, source="channel:shop")


def status(store, order_id):
    with store.read() as conn:
        row = order_store.row(conn, order_id)
    return OrderStatus(row.status), row.hold_reason


def last_event(store, order_id):
    with store.read() as conn:
        return order_store.events_of(conn, order_id)[-1]


def test_hold_release_and_cancel_are_events_with_their_reason(store, make_order):
    order = make_order("1", ("SKU-A", 1))
    ingest(store, order)
    with store.transaction() as tx:
        holds.hold(tx, None, order.id, reason="fraud check", at=T0, source="cli")
    assert status(store, order.id) == (OrderStatus.ON_HOLD, "fraud check")
    event = last_event(store, order.id)
    assert (event.to_status, event.source, event.reason) == ("on_hold", "cli", "fraud check")
    with store.transaction() as tx:
        holds.release(tx, None, order.id, reason="checked by Ana", at=T0, source="cli")
    assert status(store, order.id) == (OrderStatus.ACCEPTED, None)
    with store.transaction() as tx:
        holds.cancel(tx, None, order.id, reason="customer asked", at=T0, source="cli")
    assert status(store, order.id)[0] is OrderStatus.CANCELLED
    with pytest.raises(IllegalTransition, match="cancelled"), store.transaction() as tx:
        holds.release(tx, None, order.id, reason="oops", at=T0, source="cli")
    with pytest.raises(NotFound, match="orders list"), store.transaction() as tx:
        holds.hold(tx, None, "shop:nope", reason="x", at=T0, source="cli")


def test_holding_an_allocated_order_gives_its_stock_back(store, make_order):
    order = make_order("2", ("SKU-A", 2))
    ingest(store, order)
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "SKU-A", 5, T0)
        (shipment,) = fulfilment.allocate(tx, None, order, OrderStatus.ACCEPTED,
                                          {"main": [ShipmentLine(sku="SKU-A", quantity=2)]}, T0)
    with store.transaction() as tx:
        holds.hold(tx, None, order.id, reason="address to confirm", at=T0, source="cli")
    with store.read() as conn:
        assert shipment_store.load(conn, shipment.id).status is ShipmentStatus.CANCELLED
        assert stock_store.levels(conn)[0].reserved == 0


def test_only_intakes_own_holds_lift_themselves(store, make_order):
    unknown = make_order("3", ("SKU-NEW", 1))
    by_person = make_order("4", ("SKU-A", 1))
    ingest(store, unknown)
    ingest(store, by_person)
    with store.transaction() as tx:
        holds.hold(tx, None, by_person.id, reason="VIP: call first", at=T0, source="cli")
    with store.read() as conn:
        auto = holds.held_by_intake(conn, [unknown.id, by_person.id])
    assert auto == {unknown.id}
    _, held_for = status(store, unknown.id)
    with store.transaction() as tx:  # still unknown: stays held
        assert holds.review(tx, None, unknown, held_for, known_skus={"SKU-A"}, checks=CHECKS, at=T0) is None
    with store.transaction() as tx:  # stocked now: accepted
        moved = holds.review(tx, None, unknown, held_for, known_skus={"SKU-A", "SKU-NEW"}, checks=CHECKS, at=T0)
    assert moved is OrderStatus.ACCEPTED
    assert status(store, unknown.id) == (OrderStatus.ACCEPTED, None)
    assert last_event(store, unknown.id).reason == "the checks that held it pass now"


def test_a_hold_reason_the_channel_gives_holds_the_order_with_those_words(store, make_order):
    import attrs

    withheld = attrs.evolve(make_order("5", ("SKU-A", 1)), ship_to=None,
                            hold_reason="Amazon withholds the address without a restricted data token")
    ingest(store, withheld)
    held, reason = status(store, withheld.id)
    assert held is OrderStatus.ON_HOLD
    assert reason.startswith("Amazon withholds the address without a restricted data token; ")
    assert "no shipping address" in reason


def test_a_channels_hold_reason_is_kept_when_intake_looks_at_the_held_order_again(store, make_order):
    import attrs

    why = "Amazon withholds the address without a restricted data token"
    withheld = attrs.evolve(make_order("6", ("SKU-A", 1)), ship_to=None, hold_reason=why)
    ingest(store, withheld)
    with store.read() as conn:
        stored = order_store.load(conn, withheld.id)[0]
    assert stored.hold_reason == why
    _, held_for = status(store, withheld.id)
    with store.transaction() as tx:
        assert holds.review(tx, None, stored, held_for, known_skus={"SKU-A"}, checks=CHECKS, at=T0) is None
    assert status(store, withheld.id)[1].startswith(why)
