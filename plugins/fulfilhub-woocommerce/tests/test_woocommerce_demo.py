"""The demo with WooCommerce and Shopify at once: one stock, two channels, orders from both delivered, the
stock pushed to WooCommerce."""

from __future__ import annotations

import json
import sqlite3

import fulfilhub_easypost
import fulfilhub_shopify
import pytest
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import run_demo

import fulfilhub_woocommerce

SHARED = ("TEE-ORG-M", "MUG-ENM-350")  # sold by both simulators


def test_woocommerce_and_shopify_run_together_on_one_stock_and_deliver(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, fulfilhub_woocommerce])
    result = run_demo(orders=16, days=1, settle_days=4, seed=5, workspace=tmp_path / "demo", plugins=plugins,
                      channels=["woocommerce", "shopify"])
    db = sqlite3.connect(result.workspace / "fulfilhub.sqlite")
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in db.execute("select channel, status, count(*) from orders group by 1, 2"):
        by_channel.setdefault(channel, {})[status] = count
    assert set(by_channel) == {"demo-shop", "demo-woo"}
    assert by_channel["demo-woo"].get("delivered", 0) > 0, by_channel
    assert by_channel["demo-shop"].get("delivered", 0) > 0, by_channel
    shipped = {row[0] for row in db.execute(
        "select distinct o.channel from shipment_lines l join shipments s on s.id = l.shipment_id "
        "join orders o on o.id = s.order_id where l.sku in (?, ?)", SHARED)}
    assert shipped == {"demo-shop", "demo-woo"}  # the shared SKUs left one stock for both channels
    oversold = db.execute("select warehouse, sku, on_hand, reserved from stock where on_hand < 0 or reserved > on_hand"
                          ).fetchall()
    assert oversold == []
    done = dict(db.execute("select kind, count(*) from outbox where target = 'demo-woo' and status = 'done' group by 1"))
    assert done.get("channel.push_fulfillment", 0) > 0
    assert done.get("channel.push_tracking", 0) > 0
    told = db.execute("select value from plugin_state where namespace = 'jobs.push_stock.demo-woo' and key = 'told'"
                      ).fetchone()
    assert told is not None
    assert set(SHARED) <= set(json.loads(told[0]))  # the stock was pushed to WooCommerce


def test_an_unknown_channel_is_refused_naming_the_installed_ones(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, fulfilhub_woocommerce])
    with pytest.raises(ValueError, match="shopify, woocommerce"):
        run_demo(orders=2, days=1, settle_days=0, workspace=tmp_path / "x", plugins=plugins, channels=["amazon"])
