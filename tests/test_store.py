"""The store: migrations match the schema, SQLite settings, exact types and safe writes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fulfilhub.errors import StoreError
from fulfilhub.models import Address, Money, OrderStatus, PickupPoint, Rate, Shipment, ShipmentLine, TrackingEvent
from fulfilhub.store import Store, create_engine, head_revision, schema, upgrade
from fulfilhub.store import cursors
from fulfilhub.store import orders as order_store
from fulfilhub.store import outbox
from fulfilhub.store.outbox import Effect, EffectKind
from fulfilhub.store import quarantine as quarantine_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# ------------------------------------------------------------------ migrations


def test_migrations_produce_exactly_the_declared_schema(tmp_path):
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    assert upgrade(url) == head_revision()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, schema.metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(schema.metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_harmless(tmp_path):
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    upgrade(url)
    assert upgrade(url) == head_revision()


@pytest.mark.parametrize("prepare", ["empty file", "no file"])
def test_open_refuses_an_unmigrated_database(tmp_path, prepare):
    path = tmp_path / "old.sqlite"
    if prepare == "empty file":
        path.touch()
    with pytest.raises(StoreError) as info:
        Store.open("sqlite:///" + str(path))
    message = str(info.value)
    assert "run `fulfilhub db upgrade`" in message
    if prepare == "no file":  # a mistyped path is not silently created
        assert "does not exist" in message
        assert not path.exists()
    else:
        assert "revision none" in message
        assert head_revision() in message


def test_open_reports_a_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open("sqlite:///" + str(tmp_path / "nowhere" / "fh.sqlite"))


def test_open_with_migrate_then_without(tmp_path):
    url = "sqlite:///" + str(tmp_path / "fh.sqlite")
    Store.open(url, migrate=True).close()
    Store.open(url).close()  # now migrated: opens without complaint


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store):
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_password_never_appears_in_store_errors():
    with pytest.raises(StoreError, match="driver not installed") as info:
        Store.open("postgresql+nosuchdriver://fh:hunter2@db.internal/fh")
    assert "hunter2" not in str(info.value)


# ------------------------------------------------------------------ column types


def test_aware_datetimes_round_trip_as_utc(store):
    at = datetime(2026, 3, 1, 18, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    with store.transaction() as tx:
        cursors.save(tx, "shop", "c1", at)
    with store.read() as conn:
        stored = conn.execute(sa.select(schema.cursors.c.updated_at)).scalar_one()
    assert stored == at
    assert stored.tzinfo is timezone.utc
    assert stored.hour == 13
    assert stored.microsecond == 123456


def test_naive_datetimes_are_refused(store):
    with pytest.raises(StoreError, match="refusing to store naive datetime 2026-01-05T08:00:00") as caught:
        with store.transaction() as tx:
            cursors.save(tx, "shop", "c1", datetime(2026, 1, 5, 8, 0))
    assert isinstance(caught.value.__cause__, sa.exc.StatementError)
    assert count(store, schema.cursors) == 0


def test_decimals_are_stored_exactly(store, make_order):
    total = Decimal("0.10") + Decimal("0.20")
    order = attrs.evolve(make_order("1001"), total=Money(amount=total, currency="USD"))
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.RECEIVED, None)], T0)
    with store.read() as conn:
        loaded, _row = order_store.load(conn, order.id)
        raw = conn.execute(sa.text("SELECT total FROM orders")).scalar_one()
    assert loaded.total.amount == Decimal("0.30")
    assert str(loaded.total.amount) == "0.30"  # exact, trailing zero kept: not 0.3, not 0.30000000000000004
    assert raw == "0.30"
    assert loaded.lines[0].unit_price == Money(amount="5.00", currency="USD")
    assert loaded == order


def test_a_pickup_store_on_the_shipping_address_is_stored_and_read_back(store, make_order):
    store_point = PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店",
                              store_address="高雄市苓雅區四維三路6號")
    order = attrs.evolve(make_order("1002"), ship_to=Address(name="林小姐", phone="0912345678", country="TW",
                                                             pickup=store_point))
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.RECEIVED, None)], T0)
    with store.read() as conn:
        loaded, _row = order_store.load(conn, order.id)
    assert loaded.ship_to.pickup == store_point
    assert loaded == order
    assert loaded.ship_to.problems() == []  # a store is the door: no street address needed


def test_large_decimals_keep_every_digit(store, order_with_two_shipments):
    amount = Decimal("999999999999999.123456789012")
    shipment = f"{order_with_two_shipments}/1"
    with store.read() as conn:
        loaded = shipment_store.load(conn, shipment)
    rate = Rate(carrier="ep", carrier_name="USPS", service="Priority", amount=Money(amount=amount, currency="USD"),
                rate_id="rate_1", shipment_ref="shp_1", transit_days=2)
    with store.transaction() as tx:
        shipment_store.save(tx, attrs.evolve(loaded, rate=rate))
    with store.read() as conn:
        assert shipment_store.load(conn, shipment).rate == rate
        raw = conn.execute(sa.text("SELECT rate_amount FROM shipments WHERE id = :id"), {"id": shipment}).scalar_one()
    assert raw == "999999999999999.123456789012"


# ------------------------------------------------------------------ safe writes


@pytest.fixture
def order_with_two_shipments(store, make_order):
    order = make_order("1001", ("SKU-A", 1))
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ALLOCATED, None)], T0)
        for n in (1, 2):
            shipment_store.insert(tx, Shipment(id=f"{order.id}/{n}", order_id=order.id, warehouse="main",
                                               lines=[ShipmentLine(sku="SKU-A", quantity=1)], status="pending",
                                               created_at=T0, modified_at=T0))
    return order.id


def stock_row(store, sku="SKU-A"):
    with store.read() as conn:
        return conn.execute(sa.select(schema.stock).where(schema.stock.c.sku == sku)).one()


def test_reserve_never_oversells_the_last_unit(store, order_with_two_shipments):
    for round_ in range(5):
        sku = f"LAST-{round_}"
        with store.transaction() as tx:
            stock_store.set_level(tx, "main", sku, 1, T0)
        start = threading.Barrier(2)
        results: dict[int, bool] = {}
        errors: list[BaseException] = []

        def buy(n: int) -> None:
            try:
                start.wait(timeout=5)
                with store.transaction() as tx:
                    results[n] = stock_store.reserve(tx, f"{order_with_two_shipments}/{n}", "main", {sku: 1})
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=buy, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert errors == []
        assert sorted(results.values()) == [False, True]
        row = stock_row(store, sku)
        assert (row.on_hand, row.reserved) == (1, 1)
        with store.read() as conn:
            held = conn.execute(sa.select(schema.reservations).where(schema.reservations.c.sku == sku)).all()
        assert len(held) == 1
        assert held[0].quantity == 1


def test_reserve_respects_reserved_and_safety_stock(store, order_with_two_shipments):
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "SKU-A", 5, T0, safety_stock=2)
        assert stock_store.reserve(tx, f"{order_with_two_shipments}/1", "main", {"SKU-A": 3})
        assert not stock_store.reserve(tx, f"{order_with_two_shipments}/2", "main", {"SKU-A": 1})
        assert not stock_store.reserve(tx, f"{order_with_two_shipments}/2", "main", {"NO-SUCH-SKU": 1})
    row = stock_row(store)
    assert (row.on_hand, row.reserved) == (5, 3)
    assert count(store, schema.reservations) == 1


def test_enqueue_is_idempotent_by_key(store):
    with store.transaction() as tx:
        assert outbox.enqueue(tx, Effect(kind=EffectKind.CHANNEL_PUSH_FULFILLMENT, key="push:shop:1/1", target="shop", payload={"n": 1}), T0) is True
    with store.transaction() as tx:
        assert outbox.enqueue(tx, Effect(kind=EffectKind.CHANNEL_PUSH_FULFILLMENT, key="push:shop:1/1", target="shop", payload={"n": 2}), T0) is False
        assert outbox.enqueue(tx, Effect(kind=EffectKind.CHANNEL_PUSH_FULFILLMENT, key="push:shop:1/2", target="shop", payload={"n": 3}), T0) is True
    with store.read() as conn:
        rows = {r.key: r.payload for r in outbox.listing(conn)}
    assert rows == {"push:shop:1/1": {"n": 1}, "push:shop:1/2": {"n": 3}}  # the first payload is kept


def test_enqueue_in_a_gathering_transaction_is_idempotent_by_key_too(store):
    def effect(key: str, n: int) -> Effect:
        return Effect(kind=EffectKind.CHANNEL_PUSH_FULFILLMENT, key=key, target="shop", payload={"n": n})

    with store.transaction() as tx:
        outbox.enqueue(tx, effect("push:shop:1/1", 1), T0)
    with store.transaction() as tx:
        tx.gather_appends()
        for key, n in (("push:shop:1/1", 2), ("push:shop:1/2", 3), ("push:shop:1/2", 4), ("push:shop:1/3", 5)):
            outbox.enqueue(tx, effect(key, n), T0)
        with store.read() as conn:
            assert len(outbox.listing(conn)) == 1  # the gathered ones go in at commit
    with store.read() as conn:
        rows = {r.key: r.payload for r in outbox.listing(conn)}
    assert rows == {"push:shop:1/1": {"n": 1}, "push:shop:1/2": {"n": 3}, "push:shop:1/3": {"n": 5}}


def test_quarantine_keeps_one_row_per_payload(store):
    payload = {"id": 4711, "line_items": [{"sku": None}]}
    with store.transaction() as tx:
        assert quarantine_store.keep(tx, "shop", "order", payload, "line_items[0].sku: missing", T0) is True
    with store.transaction() as tx:
        assert quarantine_store.keep(tx, "shop", "order", dict(payload), "again", T0) is False
        assert quarantine_store.keep(tx, "other-shop", "order", payload, "other source", T0) is True
    with store.read() as conn:
        rows = quarantine_store.listing(conn)
    assert [(r.source, r.external_id, r.error) for r in rows] == [
        ("shop", "4711", "line_items[0].sku: missing"),
        ("other-shop", "4711", "other source"),
    ]


def test_cursor_round_trip(store):
    with store.read() as conn:
        assert cursors.get(conn, "shop") is None
    with store.transaction() as tx:
        cursors.save(tx, "shop", "page-1", T0)
        cursors.save(tx, "shop", "since-2026", T0, stream="refunds")
    with store.transaction() as tx:
        cursors.save(tx, "shop", "page-2", T0 + timedelta(minutes=5))
    with store.read() as conn:
        assert cursors.get(conn, "shop") == "page-2"
        assert cursors.get(conn, "shop", "refunds") == "since-2026"
        assert cursors.get(conn, "other") is None
    assert count(store, schema.cursors) == 2


def test_tracking_scans_are_deduplicated(store, order_with_two_shipments):
    shipment = f"{order_with_two_shipments}/1"
    scans = [
        TrackingEvent(at=T0, status="pre_transit", source="pre_transit"),
        TrackingEvent(at=T0 + timedelta(hours=3), status="in_transit", location="Reno, NV", source="in_transit/arrived"),
    ]
    with store.transaction() as tx:
        assert shipment_store.add_scans(tx, shipment, scans + [scans[0]]) == 2  # a repeat within one batch
    with store.transaction() as tx:
        later = TrackingEvent(at=T0 + timedelta(hours=9), status="delivered", source="delivered")
        assert shipment_store.add_scans(tx, shipment, [*scans, later]) == 1  # polled again, one new scan
    with store.read() as conn:
        stored = shipment_store.scans_of(conn, shipment)
    assert [(e.status, e.at) for e in stored] == [
        ("pre_transit", T0), ("in_transit", T0 + timedelta(hours=3)), ("delivered", T0 + timedelta(hours=9)),
    ]
    assert stored[1].location == "Reno, NV"


def test_retrying_a_failed_fulfillment_push_retries_the_tracking_pushes_that_failed_with_it(store):
    def effect(kind, key, shipment):
        return Effect(kind=kind, key=key, target="shop", payload={"shipment_id": shipment})

    with store.transaction() as tx:
        outbox.enqueue(tx, effect(EffectKind.CHANNEL_PUSH_FULFILLMENT, "channel.push_fulfillment:s/1", "s/1"), T0)
        outbox.enqueue(tx, effect(EffectKind.CHANNEL_PUSH_TRACKING, "channel.push_tracking:s/1:in_transit", "s/1"), T0)
        outbox.enqueue(tx, effect(EffectKind.CHANNEL_PUSH_TRACKING, "channel.push_tracking:s/2:in_transit", "s/2"), T0)
    with store.transaction() as tx:
        for row in outbox.claim_due(tx, T0):
            outbox.retry_later(tx, row.id, "gone", T0, failed=True)
    with store.read() as conn:
        rows = {r.key: r for r in outbox.listing(conn)}
        assert {r.id for r in outbox.stuck(conn, T0)} == {r.id for r in rows.values()}
    with store.transaction() as tx:
        assert outbox.requeue(tx, [rows["channel.push_fulfillment:s/1"].id]) == 2
    with store.read() as conn:
        statuses = {r.key: r.status for r in outbox.listing(conn)}
    assert statuses == {"channel.push_fulfillment:s/1": "pending", "channel.push_tracking:s/1:in_transit": "pending",
                        "channel.push_tracking:s/2:in_transit": "failed"}


def test_a_database_error_in_a_read_leaves_it_as_a_store_error_naming_the_cause(store):
    with pytest.raises(StoreError, match="^store: .*no such table: not_a_table") as caught:
        with store.read() as conn:
            conn.execute(sa.text("SELECT * FROM not_a_table"))
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_an_error_of_ours_inside_a_transaction_is_not_translated(store):
    with pytest.raises(KeyError):
        with store.transaction():
            raise KeyError("mine")


def test_gathered_appends_go_in_at_commit_in_order_in_one_statement_and_not_at_all_on_rollback(store, make_order):
    order = make_order("1001")
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.RECEIVED, None)], T0)

    def event(n: int) -> dict:
        return {"order_id": order.id, "at": datetime(2026, 1, 5, tzinfo=timezone.utc), "kind": "note",
                "from_status": None, "to_status": None, "source": "test", "reason": str(n), "data": None}

    statements = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with store.transaction() as tx:
        tx.gather_appends()
        order_store.append_events(tx, [event(1)])
        order_store.append_events(tx, [event(2), event(3)])
        assert not [s for s in statements if s.startswith("INSERT INTO order_events")]  # not yet
    assert len([s for s in statements if s.startswith("INSERT INTO order_events")]) == 1
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.gather_appends()
            order_store.append_events(tx, [event(4)])
            raise RuntimeError("killed before the commit")
    with store.read() as conn:
        reasons = [r.reason for r in conn.execute(sa.select(schema.order_events).where(schema.order_events.c.kind == "note")
                                                  .order_by(schema.order_events.c.id))]
    assert reasons == ["1", "2", "3"]
