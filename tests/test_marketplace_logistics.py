"""An order the marketplace carries (``FulfilledBy.MARKETPLACE``): packed from our stock, handed to the
channel's own logistics instead of buying a label, tracked from the channel, delivered by its scans."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fulfilhub import (
    Address,
    ChannelType,
    FulfilledBy,
    Label,
    MarketplaceLogistics,
    Money,
    Order,
    OrderLine,
    OrderPage,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
    capabilities,
    hookimpl,
)
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)


class Marketplace:
    """A marketplace channel whose logistics carry its orders (the Shopee plugin does this over HTTP)."""

    calls: list[str] = []
    issue_after = 2  # arrange_shipment answers None this many times: the number comes later
    capable = True

    def __init__(self, context):
        self.name = context.name
        self.clock = context.clock
        self.taken = False

    def fetch_orders(self, cursor):
        payloads = () if cursor else ({"sn": "M1"},)
        return OrderPage(payloads=payloads, next_cursor="read", has_more=False)

    def parse_order(self, payload):
        return Order(channel=self.name, external_id=payload["sn"], version="v1", number="#M1", placed_at=T0,
                     updated_at=T0, currency="TWD", total=Money(amount="590", currency="TWD"),
                     lines=[OrderLine(sku="TEE", quantity=1, unit_price=Money(amount="590", currency="TWD"),
                                      external_id="L1")],
                     ship_to=Address(name="陳美玲", line1="復興南路一段1號", city="台北市", postal_code="106", country="TW"),
                     fulfilled_by=FulfilledBy.MARKETPLACE)

    def push_fulfillment(self, order, shipment, key, *, attempt=None):
        raise AssertionError("an order the marketplace carries is not pushed a label")

    def push_tracking(self, order, shipment, status, key, *, attempt=None):
        Marketplace.calls.append(f"push_tracking {status}")

    def arrange_shipment(self, order, push, key, *, attempt=None):
        Marketplace.calls.append(f"arrange {push.shipment_id}")
        if len([c for c in Marketplace.calls if c.startswith("arrange")]) <= Marketplace.issue_after:
            return None
        return Label(carrier=self.name, carrier_name="蝦皮店到店", service="Shopee logistics (dropoff)",
                     tracking_code="TW0001", cost=Money(amount="0", currency="TWD"), shipment_ref="M1")

    def track_shipment(self, label):
        Marketplace.calls.append("track")
        picked = TrackingEvent(at=T0 + timedelta(hours=20), status=TrackingStatus.IN_TRANSIT, source="PICKUP_DONE")
        done = TrackingEvent(at=T0 + timedelta(hours=40), status=TrackingStatus.DELIVERED, source="DELIVERY_DONE")
        events = [e for e in (picked, done) if e.at <= self.clock.now()]
        return TrackingUpdate(tracking_code=label.tracking_code, status=events[-1].status if events else
                              TrackingStatus.PRE_TRANSIT, events=events)

    def close(self):
        pass


class NotCapable(Marketplace):
    arrange_shipment = None  # type: ignore[assignment]
    track_shipment = None  # type: ignore[assignment]


class Plugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="market", factory=Marketplace))
        register(ChannelType(name="plainmarket", factory=NotCapable))


def runtime(tmp_path, kind: str) -> Runtime:
    path = tmp_path / "fulfilhub.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "m.sqlite"}"\n\n[channels.tw-shopee]\ntype = "{kind}"\n\n'
                    '[warehouses.main]\ntype = "local"\n', encoding="utf-8")  # no carrier at all
    store = Store.open(f"sqlite:///{tmp_path / 'm.sqlite'}", migrate=True)
    rt = Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[Plugin()]), clock=SimClock(T0))
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "TEE", 3, T0)
    return rt


@pytest.fixture(autouse=True)
def fresh():
    Marketplace.calls = []


def test_a_marketplace_order_is_handed_over_tracked_from_the_channel_and_delivered_without_a_carrier(tmp_path):
    rt = runtime(tmp_path, "market")
    try:
        assert "marketplace_logistics" in capabilities(rt.channel("tw-shopee"))
        assert isinstance(rt.channel("tw-shopee"), MarketplaceLogistics)
        waited = 0
        for _ in range(48):
            for report in jobs.sync_once(rt):
                assert not report.errors, (report.job, report.errors)
                waited += report.counts.get("marketplace_waiting", 0)
            rt.clock.advance(timedelta(hours=1))
        with rt.store.read() as conn:
            (shipment,) = shipment_store.every(conn)
            order, _ = order_store.load(conn, "tw-shopee:M1")
            (level,) = stock_store.levels(conn)
            status = order_store.row(conn, "tw-shopee:M1").status
        assert order.fulfilled_by is FulfilledBy.MARKETPLACE  # stored and read back
        assert waited == 2  # asked again while the marketplace had no number yet
        assert shipment.tracking_code == "TW0001"
        assert shipment.carrier == "tw-shopee"
        assert shipment.rate_id is None  # nothing quoted, nothing bought
        assert shipment.status == "delivered"
        assert status == "delivered"
        assert (level.on_hand, level.reserved) == (2, 0)  # packed from our own stock
        assert "track" in Marketplace.calls
    finally:
        rt.close()
        rt.store.close()


def test_a_channel_that_cannot_arrange_the_marketplaces_shipment_leaves_it_packed_saying_why(tmp_path):
    rt = runtime(tmp_path, "plainmarket")
    try:
        errors = []
        for _ in range(12):
            errors += [e for report in jobs.sync_once(rt) for e in report.errors]
            rt.clock.advance(timedelta(hours=1))
        with rt.store.read() as conn:
            (shipment,) = shipment_store.every(conn)
        assert shipment.status == "packed"
        assert any("cannot arrange marketplace shipments" in e for e in errors), errors
    finally:
        rt.close()
        rt.store.close()
