"""A warehouse that ships with its own label (a 3PL), through the jobs: polled while packed,
never quoted, shipped with its carrier and code, the channel told, and the parcel followed
by the carrier named after its courier, else by the warehouse itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fulfilhub import (
    CarrierType,
    ChannelType,
    FulfillmentUpdate,
    OrderPage,
    PermanentError,
    StockLevel,
    TrackingUpdate,
    WarehouseType,
    hookimpl,
)
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.engines import fulfilment
from fulfilhub.models import OrderStatus, ShipmentLine, ShipmentStatus
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import orders as order_store
from fulfilhub.store import outbox
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

from .conftest import T0

S = ShipmentStatus


class Shop:
    pushed: list[tuple[str, str, str]] = []

    def __init__(self, context):
        self.name = context.name

    def fetch_orders(self, cursor):
        return OrderPage(payloads=(), next_cursor=cursor, has_more=False)

    def parse_order(self, payload):  # pragma: no cover
        raise NotImplementedError

    def push_fulfillment(self, order, shipment, key, *, attempt=None):
        Shop.pushed.append((shipment.shipment_id, shipment.carrier_name, shipment.tracking_code))
        return "F1"

    def push_tracking(self, order, shipment, status, key, *, attempt=None):
        pass

    def close(self):
        pass


class ThirdParty:
    """Packed at once, shipped with USPS once ``shipped`` is set; follows its parcels when ``tracks``."""

    shipped = False
    tracked: list[str] = []

    def __init__(self, context):
        self.name = context.name

    def stock_levels(self, skus):
        return [StockLevel(warehouse=self.name, sku=sku, on_hand=10) for sku in skus]

    def submit(self, request):
        return "7001"

    def status(self, ref):
        if ThirdParty.shipped:
            return FulfillmentUpdate(ref=ref, status="shipped", at=T0, carrier="USPS", tracking_code="9400123")
        return FulfillmentUpdate(ref=ref, status="packed", at=T0)

    cancelled: list[str] = []
    refuse = ""

    def cancel(self, ref):
        if ThirdParty.refuse:
            raise PermanentError(f"ShipBob did not cancel order {ref}: {ThirdParty.refuse}", service=self.name)
        ThirdParty.cancelled.append(ref)

    def close(self):
        pass


class TrackingThirdParty(ThirdParty):
    def track(self, label):
        ThirdParty.tracked.append(f"warehouse:{label.shipment_ref}:{label.tracking_code}")
        return TrackingUpdate(tracking_code=label.tracking_code, status="delivered")


class Courier:
    quoted = 0

    def __init__(self, context):
        self.name = context.name

    def quote(self, request):
        Courier.quoted += 1
        return []

    def buy(self, rate, key):  # pragma: no cover
        raise AssertionError("no label is bought for a parcel the warehouse shipped")

    def track(self, label):
        ThirdParty.tracked.append(f"carrier:{self.name}:{label.tracking_code}")
        return TrackingUpdate(tracking_code=label.tracking_code, status="in_transit")

    def void(self, label):  # pragma: no cover
        pass

    def close(self):
        pass


class Plugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="testshop", factory=Shop))

    @hookimpl
    def register_warehouse_types(self, register):
        register(WarehouseType(name="tpl", factory=ThirdParty, ships_own_labels=True))
        register(WarehouseType(name="tpltracks", factory=TrackingThirdParty, ships_own_labels=True))

    @hookimpl
    def register_carrier_types(self, register):
        register(CarrierType(name="courier", factory=Courier))


CONFIG = """
[store]
url = "sqlite:///{db}"

[channels.shop]
type = "testshop"

[carriers.{carrier}]
type = "courier"

[warehouses.tpl]
type = "{warehouse}"
[warehouses.tpl.address]
name = "3PL"
line1 = "1 Dock Rd"
city = "Cicero"
country = "US"
"""


@pytest.fixture
def world(tmp_path, make_order):
    Shop.pushed, ThirdParty.shipped, ThirdParty.tracked, Courier.quoted = [], False, [], 0
    ThirdParty.cancelled, ThirdParty.refuse = [], ""
    opened = []

    def start(*, carrier="ground", warehouse="tpl"):
        path = tmp_path / f"{carrier}-{warehouse}.toml"
        db = tmp_path / f"{carrier}-{warehouse}.sqlite"
        path.write_text(CONFIG.format(db=db, carrier=carrier, warehouse=warehouse), encoding="utf-8")
        store = Store.open(f"sqlite:///{db}", migrate=True)
        rt = Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[Plugin()]),
                     clock=SimClock(T0))
        opened.append(rt)
        order = make_order("1001", ("TEA", 1))
        with store.transaction() as tx:
            stock_store.set_level(tx, "tpl", "TEA", 5, T0)
            order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
        with store.transaction() as tx:
            (shipment,) = fulfilment.allocate(tx, rt.hooks, order, OrderStatus.ACCEPTED,
                                              {"tpl": [ShipmentLine(sku="TEA", quantity=1, order_line_id="L0")]}, T0)
        jobs.deliver_effects(rt)  # submitted
        return rt, shipment.id

    yield start
    for rt in opened:
        rt.close()
        rt.store.close()


def load_shipment(rt, shipment_id):
    with rt.store.read() as conn:
        return shipment_store.load(conn, shipment_id)


def test_a_packed_parcel_of_a_3pl_is_not_quoted_and_ships_with_its_label(world):
    rt, sid = world()
    jobs.poll_warehouses(rt)
    assert load_shipment(rt, sid).status is S.PACKED
    gate = jobs.Gate(rt)
    assert not gate.skips("poll_warehouses")  # still the warehouse's: polled until it leaves
    assert gate.skips("buy_labels")
    assert jobs.buy_labels(rt).counts == {}
    assert Courier.quoted == 0
    ThirdParty.shipped = True
    rt.clock.advance(timedelta(minutes=5))
    jobs.poll_warehouses(rt)
    shipped = load_shipment(rt, sid)
    assert shipped.status is S.LABEL_PURCHASED
    assert (shipped.label.carrier_name, shipped.tracking_code) == ("USPS", "9400123")
    jobs.deliver_effects(rt)
    assert Shop.pushed == [(sid, "USPS", "9400123")]  # the channel is told as for our own label
    with rt.store.read() as conn:
        assert all(row.status == "done" for row in outbox.listing(conn))


def test_a_carrier_named_after_the_courier_follows_the_parcel(world):
    rt, sid = world(carrier="usps")
    ThirdParty.shipped = True
    jobs.poll_warehouses(rt)
    assert load_shipment(rt, sid).carrier == "usps"
    rt.clock.advance(fulfilment.POLL_AFTER[S.LABEL_PURCHASED])
    jobs.poll_tracking(rt)
    assert ThirdParty.tracked == ["carrier:usps:9400123"]
    assert load_shipment(rt, sid).status is S.IN_TRANSIT


def test_else_the_warehouse_follows_its_own_parcel(world):
    rt, sid = world(warehouse="tpltracks")
    ThirdParty.shipped = True
    jobs.poll_warehouses(rt)
    assert load_shipment(rt, sid).carrier == "tpl"
    rt.clock.advance(fulfilment.POLL_AFTER[S.LABEL_PURCHASED])
    jobs.poll_tracking(rt)
    assert ThirdParty.tracked == ["warehouse:7001:9400123"]
    assert load_shipment(rt, sid).status is S.DELIVERED


def test_a_warehouse_that_cannot_follow_its_parcel_and_no_carrier_for_it_is_reported(world):
    rt, sid = world()
    ThirdParty.shipped = True
    jobs.poll_warehouses(rt)
    rt.clock.advance(fulfilment.POLL_AFTER[S.LABEL_PURCHASED])
    report = jobs.poll_tracking(rt)
    assert report.errors
    assert "cannot follow them" in report.errors[0]
    assert load_shipment(rt, sid).status is S.LABEL_PURCHASED


def reserved(rt):
    with rt.store.read() as conn:
        return stock_store.levels(conn, warehouses=["tpl"])[0].reserved


def test_an_order_cancelled_after_it_was_sent_to_the_3pl_is_cancelled_there_and_its_stock_released(world):
    rt, sid = world()
    assert reserved(rt) == 1
    with rt.store.transaction() as tx:  # what a cancellation from the channel does
        (cancelled,) = fulfilment.cancel_open(tx, load_shipment(rt, sid).order_id, rt.clock.now())
    assert cancelled.status is S.CANCELLED
    assert reserved(rt) == 0
    jobs.deliver_effects(rt)
    assert ThirdParty.cancelled == ["7001"]


def test_a_cancellation_the_3pl_refuses_is_a_failed_effect_saying_why(world):
    rt, sid = world()
    ThirdParty.refuse = "Shipment is already picked"
    with rt.store.transaction() as tx:
        fulfilment.cancel_open(tx, load_shipment(rt, sid).order_id, rt.clock.now())
    jobs.deliver_effects(rt)
    with rt.store.read() as conn:
        (failed,) = outbox.listing(conn, status="failed")
    assert failed.kind == "warehouse.cancel"
    assert "already picked" in failed.last_error
