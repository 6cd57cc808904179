"""The demo with Shopee beside Shopify and WooCommerce: one stock, three channels, Shopee's orders shipped."""

from __future__ import annotations

import sqlite3

import fulfilhub_easypost
import fulfilhub_shopify
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import run_demo

import fulfilhub_shopee

SHARED = ("TEE-ORG-M", "MUG-ENM-350")  # sold by the Shopify simulator too


def test_shopee_and_shopify_run_together_on_one_stock_and_shopee_orders_ship_with_their_tracking(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, fulfilhub_shopee])
    result = run_demo(orders=12, days=1, settle_days=10, seed=5, workspace=tmp_path / "demo", plugins=plugins,
                      channels=["shopee", "shopify"])
    db = sqlite3.connect(result.workspace / "fulfilhub.sqlite")
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in db.execute("select channel, status, count(*) from orders group by 1, 2"):
        by_channel.setdefault(channel, {})[status] = count
    assert set(by_channel) == {"demo-shop", "demo-shopee"}
    assert by_channel["demo-shopee"].get("delivered", 0) > 0, by_channel
    shipped = {row[0] for row in db.execute(
        "select distinct o.channel from shipment_lines l join shipments s on s.id = l.shipment_id "
        "join orders o on o.id = s.order_id where l.sku in (?, ?)", SHARED)}
    assert shipped == {"demo-shop", "demo-shopee"}  # the shared SKUs left one stock for both channels
    oversold = db.execute("select warehouse, sku, on_hand, reserved from stock where on_hand < 0 or reserved > on_hand"
                          ).fetchall()
    assert oversold == []
    done = dict(db.execute("select kind, count(*) from outbox where target = 'demo-shopee' and status = 'done' "
                           "group by 1"))
    assert done.get("channel.push_fulfillment", 0) > 0
    failed = db.execute("select count(*) from outbox where target = 'demo-shopee' and status = 'failed'").fetchone()
    assert failed == (0,)
    # the orders Shopee's own logistics carry: no label bought, Shopee's tracking number, delivered by Shopee's scans
    carried = db.execute("select s.carrier, s.carrier_name, s.rate_id, s.status, count(*) from shipments s "
                         "join orders o on o.id = s.order_id where o.fulfilled_by = 'marketplace' group by 1, 2, 3, 4"
                         ).fetchall()
    assert carried, "no Shopee-logistics order in the demo"
    assert {(c[0], c[1], c[2]) for c in carried} == {("demo-shopee", "蝦皮店到店", None)}
    assert any(c[3] == "delivered" for c in carried), carried
    assert result.channels["demo-shopee"]["marketplace_delivered"] > 0
    assert "demo-shopee" not in result.carriers  # the marketplace's parcels are not labels fulfilhub bought
