"""engines.promise_cache: the promise engine built and taught once, kept warm after."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs

from fulfilhub.config import from_mapping
from fulfilhub.engines.promise import PromiseEngine
from fulfilhub.engines.promise_cache import PromiseCache
from fulfilhub.models import Address, Label, Money, OrderStatus, Shipment, ShipmentLine, ShipmentStatus
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store


class Engine:
    def __init__(self):
        self.heard: list[tuple[str, object]] = []

    def shipped(self, shipment, ship_to):
        self.heard.append(("shipped", shipment))

    def tracked(self, shipment):
        self.heard.append(("tracked", shipment))


def counting():
    built, taught = [], []

    def build():
        built.append(Engine())
        return built[-1]

    return built, taught, PromiseCache(build, taught.append)


def test_the_engine_is_built_and_taught_once_even_from_many_threads():
    built, taught, cache = counting()
    threads = [threading.Thread(target=cache.engine) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert taught == built
    assert cache.engine() is built[0]


def test_a_shipment_before_the_engine_is_built_is_not_told_it_learns_from_the_store_instead():
    built, taught, cache = counting()
    cache.shipment_moved("s1", "addr")
    assert not cache.built
    assert built == []


def test_a_label_and_a_delivery_reach_the_built_engine():
    _, _, cache = counting()
    engine = cache.engine()
    cache.shipment_moved("s1", "addr")
    cache.shipment_moved("s1")
    assert engine.heard == [("shipped", "s1"), ("tracked", "s1")]


def test_forget_makes_the_next_engine_learn_again():
    built, taught, cache = counting()
    first = cache.engine()
    cache.forget()
    assert cache.engine() is not first
    assert len(taught) == 2


# ---------------------------------------------------------------------------- catch_up: another process's changes



T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
WEST = {"type": "local", "address": {"name": "West", "line1": "1 Dock", "city": "Reno", "province": "NV",
                                     "postal_code": "89502", "country": "US"}}


def _shipment(order_id: str, at: datetime, **changes) -> Shipment:
    values = dict(id=f"{order_id}/1", order_id=order_id, warehouse="west", status=ShipmentStatus.IN_TRANSIT,
                  lines=[ShipmentLine(sku="SKU-A", quantity=1)], created_at=at, modified_at=at,
                  label=Label(carrier="easypost", carrier_name="USPS", service="Priority", tracking_code="9400",
                              cost=Money(amount="7.90", currency="USD"), shipment_ref="shp_1"),
                  shipped_at=at)
    values.update(changes)
    return Shipment(**values)


def test_catch_up_learns_each_change_once_without_relearning_the_store(store, make_order):
    config = from_mapping({"warehouses": {"west": WEST}}, path=Path("fulfilhub.toml"), env={})
    now = [T0]
    shipments = {}
    with store.transaction() as tx:
        for n in range(25):  # delivered before the engine is built: the load learns them
            order = make_order(f"d{n}")
            order_store.insert(tx, [(order, OrderStatus.DELIVERED, None)], T0 - timedelta(days=20))
            s = _shipment(order.id, T0 - timedelta(days=20), status=ShipmentStatus.DELIVERED,
                          delivered_at=T0 - timedelta(days=18), modified_at=T0 - timedelta(days=18))
            shipment_store.insert(tx, s)
        for n in range(3):  # on their way when it is built
            order = make_order(f"f{n}")
            order_store.insert(tx, [(order, OrderStatus.SHIPPED, None)], T0 - timedelta(days=1))
            shipments[n] = _shipment(order.id, T0 - timedelta(days=1))
            shipment_store.insert(tx, shipments[n])

    def learn(engine):
        with store.read() as conn:
            engine.load(conn)

    cache = PromiseCache(lambda: PromiseEngine(config.promise, {"west": Address(**WEST["address"])}), learn,
                         now=lambda: now[0])

    def changed(since):
        with store.read() as conn:
            return shipment_store.moved_since(conn, since)

    assert cache.catch_up(changed) == 0  # not built yet: it will learn from the store when it is
    engine = cache.engine()
    assert (engine.delivered, engine.in_flight) == (25, 3)
    assert cache.catch_up(changed) == 0  # the rows the load read are not learned twice
    assert (engine.delivered, engine.in_flight) == (25, 3)
    # the runner (another process) commits: one delivered, one cancelled, one new label
    now[0] = T0 + timedelta(days=1)
    with store.transaction() as tx:
        shipment_store.save(tx, attrs.evolve(shipments[0], status=ShipmentStatus.DELIVERED,
                                             delivered_at=now[0], modified_at=now[0]))
        shipment_store.save(tx, attrs.evolve(shipments[1], status=ShipmentStatus.CANCELLED, modified_at=now[0]))
        order = make_order("new")
        order_store.insert(tx, [(order, OrderStatus.SHIPPED, None)], now[0])
        shipment_store.insert(tx, _shipment(order.id, now[0] + timedelta(minutes=1)))
    assert cache.catch_up(changed) == 1
    assert (engine.delivered, engine.in_flight) == (26, 2)  # 2 and the new one
    assert cache.catch_up(changed) == 0  # the overlap reads them again: nothing counts twice
    assert (engine.delivered, engine.in_flight) == (26, 2)
    # one shipped and delivered between two rounds is learned too
    now[0] = T0 + timedelta(days=3)
    with store.transaction() as tx:
        order = make_order("quick")
        order_store.insert(tx, [(order, OrderStatus.DELIVERED, None)], now[0])
        shipment_store.insert(tx, _shipment(order.id, now[0] - timedelta(days=1), status=ShipmentStatus.DELIVERED,
                                            delivered_at=now[0], modified_at=now[0]))
    assert cache.catch_up(changed) == 1
    assert engine.delivered == 27
    assert cache.engine() is engine  # never rebuilt
