"""The same schema and the same runner on PostgreSQL, unchanged (marked `postgres`)."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fulfilhub.models import Shipment, ShipmentLine
from fulfilhub.store import Store, schema
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

from .test_slice_flow import run_until, sku

pytestmark = pytest.mark.postgres


def test_migrations_give_postgres_exactly_the_schema(postgres_url):
    store = Store.open(postgres_url, migrate=True)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata)
        assert diff == []
    finally:
        store.close()


def test_an_order_travels_end_to_end_on_postgres(world_factory, postgres_url):
    world = world_factory(store_url=postgres_url)
    world.stock("east", sku(world, 0), 3)
    world.stock("west", sku(world, 1), 3)
    placed = world.shop.add_order([{"sku": sku(world, 0), "quantity": 1}, {"sku": sku(world, 1), "quantity": 2}])
    order_id = f"shop:{placed['id']}"
    assert run_until(world, order_id, "delivered") == "delivered"
    assert len(world.shop.fulfillments_for(placed["id"])) == 2
    world.sync()
    before = len(world.events(order_id))
    world.sync()  # nothing new at the same moment
    assert len(world.events(order_id)) == before


def test_reservations_never_oversell_on_postgres(postgres_url):
    store = Store.open(postgres_url, migrate=True)
    from datetime import datetime, timezone

    now = datetime(2026, 1, 5, tzinfo=timezone.utc)
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "LAST-ONE", 1, now)
    results: list[bool] = []

    def grab(i: int) -> None:
        try:
            with store.transaction() as tx:
                tx.execute(schema.orders.insert().values(
                    id=f"c:{i}", channel="c", external_id=str(i), number=str(i), version="1", status="accepted",
                    placed_at=now, foreign_updated_at=now, currency="USD", total=0, email="", note="", raw={},
                    created_at=now, modified_at=now))
                shipment_store.insert(tx, Shipment(id=f"c:{i}/1", order_id=f"c:{i}", warehouse="main",
                                                   lines=[ShipmentLine(sku="LAST-ONE", quantity=1)], status="pending",
                                                   created_at=now, modified_at=now))
                results.append(stock_store.reserve(tx, f"c:{i}/1", "main", {"LAST-ONE": 1}))
        except Exception as exc:  # a serialization failure is also "did not get it"
            results.append(False)
            raise AssertionError(exc) from exc

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    with store.read() as conn:
        (level,) = stock_store.levels(conn, skus=["LAST-ONE"])
    assert (level.on_hand, level.reserved) == (1, 1)
    store.close()
