"""The narrow ports adapters get to fulfilhub's database: their own state, and stock.

The built-in ``local`` warehouse uses nothing a third-party warehouse does not get.
"""

from __future__ import annotations

import ast
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

import fulfilhub
from fulfilhub.clock import SimClock
from fulfilhub.default_plugins import local_warehouse
from fulfilhub.errors import ConfigError, NotFound
from fulfilhub.models import Address, FulfillmentRequest, FulfillmentStatus, ShipmentLine, StockLevel
from fulfilhub.store import Store, alembic_config, upgrade
from fulfilhub.store import stock as stock_store
from fulfilhub.store.ports import StatePort, StockPort, namespace
from fulfilhub.testing import instance_context

from .conftest import T0


@pytest.fixture
def clock():
    return SimClock(T0)


# ------------------------------------------------------------------ state


def test_state_inserts_once_and_reads_back_json(store, clock):
    state = StatePort(store, "warehouses.east", clock)
    assert state.get("k") is None
    assert state.insert("k", {"n": 1, "tags": ["a"], "ok": True}) is True
    assert state.insert("k", {"n": 2}) is False  # insert-if-absent: the first one stays
    assert state.get("k") == {"n": 1, "tags": ["a"], "ok": True}


def test_state_is_namespaced_per_instance(store, clock):
    east, west = StatePort(store, "warehouses.east", clock), StatePort(store, "warehouses.west", clock)
    east.insert("k", 1)
    assert west.get("k") is None
    assert west.insert("k", 2) is True
    assert (east.get("k"), west.get("k")) == (1, 2)


def test_compare_and_set_replaces_only_the_value_it_expected(store, clock):
    state = StatePort(store, "n", clock)
    state.insert("k", {"status": "submitted", "n": 1})
    assert state.compare_and_set("k", {"n": 1, "status": "submitted"}, {"status": "cancelled"}) is True  # key order is irrelevant
    assert state.compare_and_set("k", {"n": 1, "status": "submitted"}, {"status": "lost"}) is False  # stale
    assert state.get("k") == {"status": "cancelled"}
    assert state.compare_and_set("missing", None, 1) is False


def test_compare_and_set_lets_one_of_many_concurrent_writers_win(tmp_path, clock):
    store = Store.open("sqlite:///" + str(tmp_path / "c.sqlite"), migrate=True)
    try:
        StatePort(store, "n", clock).insert("counter", 0)
        barrier = threading.Barrier(4)

        def bump() -> None:
            port = StatePort(store, "n", clock)
            barrier.wait()
            for _ in range(10):
                while True:  # the read-modify-write loop an adapter writes
                    seen = port.get("counter")
                    if port.compare_and_set("counter", seen, seen + 1):
                        break

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert StatePort(store, "n", clock).get("counter") == 40  # no update lost
    finally:
        store.close()


def test_state_refuses_what_json_cannot_hold(store, clock):
    with pytest.raises(TypeError, match="must be JSON"):
        StatePort(store, "n", clock).insert("k", {"at": T0})


def test_namespace_names_kind_and_instance():
    assert namespace("warehouses", "east") == "warehouses.east"


# ------------------------------------------------------------------ stock


def test_stock_port_reads_only_its_own_warehouse(store):
    with store.transaction() as tx:
        stock_store.set_level(tx, "east", "A", 5, T0, unit_weight_g=250)
        stock_store.set_level(tx, "east", "B", 1, T0)
        stock_store.set_level(tx, "west", "A", 9, T0, unit_weight_g=999)
    port = StockPort(store, "east")
    assert port.levels(["A", "B", "C"]) == [StockLevel(warehouse="east", sku="A", on_hand=5),
                                            StockLevel(warehouse="east", sku="B", on_hand=1)]
    assert port.unit_weights(["A", "B"]) == {"A": 250}


# ------------------------------------------------------------------ the local warehouse on the ports


def request(key: str = "warehouse.submit:shop:1/1") -> FulfillmentRequest:
    return FulfillmentRequest(key=key, shipment_id="shop:1/1", order_id="shop:1", order_number="#1",
                              ship_to=Address(name="Ada", line1="1 Main St", city="Reno", country="US"),
                              lines=(ShipmentLine(sku="A", quantity=2, order_line_id="L1"),))


def local(store, clock, **settings):
    context = instance_context("east", settings, clock=clock, kind="warehouses", store=store,
                               schema=local_warehouse.SETTINGS)
    return local_warehouse.LocalWarehouse(context)


def test_the_local_warehouse_works_through_its_context_alone(store, clock):
    with store.transaction() as tx:
        stock_store.set_level(tx, "east", "A", 5, T0, unit_weight_g=300)
    wh = local(store, clock, pick_minutes=30, pack_minutes=60, tare_g=100)
    assert wh.stock_levels(["A"]) == [StockLevel(warehouse="east", sku="A", on_hand=5)]
    ref = wh.submit(request())
    assert wh.submit(request()) == ref  # the same key, the same ref
    assert wh.status(ref).status is FulfillmentStatus.SUBMITTED
    clock.advance(timedelta(minutes=30))
    assert wh.status(ref).status is FulfillmentStatus.PICKING
    clock.advance(timedelta(minutes=30))
    packed = wh.status(ref)
    assert (packed.status, packed.parcel.weight_g, packed.at) == (FulfillmentStatus.PACKED, 100 + 2 * 300, T0 + timedelta(minutes=60))
    wh.cancel(ref)
    assert wh.status(ref).status is FulfillmentStatus.CANCELLED
    with pytest.raises(NotFound, match="has no fulfillment request 'LF-NOPE'"):
        wh.status("LF-NOPE")


def test_the_local_warehouse_answers_many_refs_as_it_answers_each_in_two_reads(store, clock):
    with store.transaction() as tx:
        stock_store.set_level(tx, "east", "A", 5, T0, unit_weight_g=300)
    wh = local(store, clock, pick_minutes=30, pack_minutes=60, tare_g=100)
    first = wh.submit(request())
    clock.advance(timedelta(minutes=45))
    second = wh.submit(request("warehouse.submit:shop:2/1"))
    clock.advance(timedelta(minutes=20))  # the first is packed, the second still submitted
    reads = []
    sa.event.listen(store.engine, "begin", lambda conn: reads.append(1))
    many = wh.status_many([first, second, "LF-NOPE"])
    assert len(reads) == 2  # the records, then the packed ones' unit weights
    assert many == {first: wh.status(first), second: wh.status(second)}  # an unknown ref is left out
    assert many[first].parcel.weight_g == 100 + 2 * 300
    assert many[second].status is FulfillmentStatus.SUBMITTED
    wh.cancel(first)
    assert wh.status_many([first])[first].status is FulfillmentStatus.CANCELLED


def test_the_local_warehouse_submits_many_in_one_write_with_the_refs_submit_gives(store, clock):
    wh = local(store, clock)
    alone = wh.submit(request())
    writes = []
    sa.event.listen(store.engine, "begin", lambda conn: writes.append(1))
    many = wh.submit_many([request(), request("warehouse.submit:shop:2/1")])
    assert len(writes) == 1
    assert many["warehouse.submit:shop:1/1"] == alone  # the same key, the same ref
    assert many["warehouse.submit:shop:2/1"] == wh.submit(request("warehouse.submit:shop:2/1"))
    assert wh.status(many["warehouse.submit:shop:2/1"]).status is FulfillmentStatus.SUBMITTED


def test_state_insert_many_stores_only_the_absent_keys(store, clock):
    state = StatePort(store, "warehouses.east", clock)
    state.insert("a", 1)
    assert state.insert_many({"a": 2, "b": 3}) == 1
    assert state.get_many(["a", "b"]) == {"a": 1, "b": 3}


def test_state_get_many_reads_the_keys_that_exist(store, clock):
    state = StatePort(store, "warehouses.east", clock)
    state.insert("a", {"n": 1})
    state.insert("b", [2])
    StatePort(store, "warehouses.west", clock).insert("c", 3)
    assert state.get_many(["a", "b", "c", "a"]) == {"a": {"n": 1}, "b": [2]}
    assert state.get_many([]) == {}


def test_the_local_warehouse_without_a_store_says_so(clock):
    context = instance_context("east", {}, clock=clock, kind="warehouses", schema=local_warehouse.SETTINGS)
    with pytest.raises(ConfigError, match="needs fulfilhub's store"):
        local_warehouse.LocalWarehouse(context)


def test_the_local_warehouse_imports_only_the_public_surface():
    """What the built-in warehouse uses, a third-party warehouse can import too."""
    tree = ast.parse(Path(local_warehouse.__file__).read_text(encoding="utf-8"))
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:  # from ..x import a, b
            module = node.module or ""
            for alias in node.names:
                public = alias.name in fulfilhub.__all__ or module == "hookspecs" and alias.name == "hookimpl"
                if not public:
                    private.append(f"{module}.{alias.name}")
    assert private == []


# ------------------------------------------------------------------ the migration moves existing requests


def test_migration_0002_moves_local_fulfillments_into_plugin_state_and_back(tmp_path, clock):
    url = "sqlite:///" + str(tmp_path / "m.sqlite")
    upgrade(url, "0001")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO local_fulfillments (ref, key, warehouse, shipment_id, lines, status, submitted_at) "
            "VALUES ('LF-1', 'warehouse.submit:shop:1/1', 'east', 'shop:1/1', :lines, 'submitted', "
            "'2026-01-05 08:00:00.000000')"
        ), {"lines": json.dumps([{"sku": "A", "quantity": 2, "order_line_id": "L1"}])})
    upgrade(url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert "local_fulfillments" not in tables
    assert "plugin_state" in tables

    store = Store.open(url)
    try:
        clock.advance(timedelta(hours=3))
        wh = local(store, clock)
        update = wh.status("LF-1")
        assert (update.status, update.at) == (FulfillmentStatus.PACKED, T0 + timedelta(minutes=120))
        assert update.parcel.weight_g == 150 + 2 * 500
    finally:
        store.close()

    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT ref, key, warehouse, status, submitted_at FROM local_fulfillments")).one()
    engine.dispose()
    assert tuple(row) == ("LF-1", "warehouse.submit:shop:1/1", "east", "submitted", "2026-01-05 08:00:00.000000")
