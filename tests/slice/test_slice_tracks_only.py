"""A shipment that carries a label bought elsewhere is followed through a tracks-only carrier
(Kuaidi100), and the customer's tracking page shows its Chinese scans as they came.

The world's only carrier that sells labels is down, so packed shipments wait for a
label; the test then gives each one a label from outside, as a 3PL or an operator
would, and the runner does the rest.
"""

from __future__ import annotations

from datetime import datetime, timezone

import fulfilhub_easypost
import fulfilhub_shopify
import pytest

from fulfilhub.engines import fulfilment
from fulfilhub.models import Order, ShipmentStatus
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import build_world
from fulfilhub.server import tracking
from fulfilhub.store import shipments as shipment_store
from fulfilhub.testing import FAST_RETRIES

kuaidi100 = pytest.importorskip("fulfilhub_kuaidi100", reason="needs the tracks-only carrier: fulfilhub-kuaidi100")

KEY = "kd100-slice-key-42"


def _config(sandbox) -> str:
    return (f'\n[carriers.kd]\ntype = "kuaidi100"\ncustomer = "C1"\nkey = "${{KD100_KEY}}"\n'
            f'base_url = "{sandbox.url_for("kuaidi100")}"\nautonumber_url = "/autonumber/auto"\n')


def test_an_outside_label_is_tracked_through_kuaidi100_and_its_chinese_scans_show(tmp_path, monkeypatch):
    monkeypatch.setenv("KD100_KEY", KEY)
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, kuaidi100])
    world = build_world(plugins, tmp_path / "world", start=datetime(2026, 12, 7, 1, tzinfo=timezone.utc), seed=5,
                        options={"kuaidi100": {"customer": "C1", "key": KEY, "exception_rate": 0},
                                 "shopify": {"orders_per_day": 12}},
                        extra_config=_config, policy=FAST_RETRIES)
    world.context.faults.add("500", path="/easypost/", method="POST", times=10**6)  # no label can be bought
    sim = world.sandbox.simulators["kuaidi100"]
    try:
        for shop in world.simulators("channels").values():
            for item in shop.catalog:
                for warehouse in world.config.warehouses:
                    world.stock(warehouse, item["sku"], 500)
        for _ in range(6):
            world.sync(hours=4)
        with world.store.read() as conn:
            packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        assert packed, "no shipment waited, packed, for a label"
        for n, shipment in enumerate(packed):  # the courier takes each parcel, labelled elsewhere
            number = sim.ship("yunda")
            label = kuaidi100.outside_label("kd", number, courier=("yunda" if n % 2 else ""))
            with world.store.transaction() as tx:
                fulfilment.record_label(tx, world.rt.hooks, shipment, label, Order.channel_of(shipment.order_id),
                                        world.clock.now())
        for _ in range(18):
            world.sync(hours=4)
        order_id = packed[0].order_id
        [shipment] = [s for s in world.shipments(order_id) if s.id == packed[0].id]
        assert shipment.status is ShipmentStatus.DELIVERED and shipment.carrier == "kd"
        assert sim.calls["query"] >= len(packed) and sim.calls["autonumber"] >= 1
        with world.store.read() as conn:
            page = tracking.build(conn, order_id, "zh-Hans", world.clock.now())
            html = tracking.render(page, "zh-Hans", "")
        assert "韵达快递 已收取快件" in html and "快件已签收，签收人：本人" in html
        assert shipment.tracking_code in html
    finally:
        world.close()
