"""The demo with Amazon beside Shopify: one stock, two channels, Amazon's orders shipped, its listings told and
its ORDER_CHANGE notifications relayed to the server."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import fulfilhub_easypost
import fulfilhub_shopify
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import run_demo

import fulfilhub_amazon

SHARED = ("TEE-ORG-M", "MUG-ENM-350")  # sold by the Shopify simulator too


def test_amazon_and_shopify_run_together_on_one_stock_within_amazons_promise(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, fulfilhub_amazon])
    result = run_demo(orders=16, days=1, settle_days=10, seed=5, workspace=tmp_path / "demo", plugins=plugins,
                      channels=["amazon", "shopify"], serve=True)
    db = sqlite3.connect(result.workspace / "fulfilhub.sqlite")
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in db.execute("select channel, status, count(*) from orders group by 1, 2"):
        by_channel.setdefault(channel, {})[status] = count
    assert set(by_channel) == {"demo-shop", "demo-amazon"}
    assert by_channel["demo-amazon"].get("delivered", 0) > 0, by_channel
    assert by_channel["demo-amazon"].get("on_hold", 0) == 0, by_channel  # the demo asks for restricted data
    shipped = {row[0] for row in db.execute(
        "select distinct o.channel from shipment_lines l join shipments s on s.id = l.shipment_id "
        "join orders o on o.id = s.order_id where l.sku in (?, ?)", SHARED)}
    assert shipped == {"demo-shop", "demo-amazon"}  # the shared SKUs left one stock for both channels
    oversold = db.execute("select warehouse, sku, on_hand, reserved from stock where on_hand < 0 or reserved > on_hand"
                          ).fetchall()
    assert oversold == []
    done = dict(db.execute("select kind, count(*) from outbox where target = 'demo-amazon' and status = 'done' "
                           "group by 1"))
    assert done.get("channel.push_fulfillment", 0) > 0
    failed = db.execute("select count(*) from outbox where target = 'demo-amazon' and status = 'failed'").fetchone()
    assert failed == (0,)
    told = db.execute("select value from plugin_state where namespace = 'jobs.push_stock.demo-amazon' and key = 'told'"
                      ).fetchone()
    assert told is not None
    assert set(SHARED) <= set(json.loads(told[0]))  # Amazon's listings were told the shared SKUs' quantities
    # the relayed ORDER_CHANGE notifications reached the server, verified, and queued their orders for the pull
    taken = dict(db.execute("select status, count(*) from webhook_inbox where instance = 'demo-amazon' group by 1"))
    assert sum(taken.values()) > 0, taken
    assert set(taken) <= {"processed", "ignored"}, taken
    # every Amazon order's first promise is no later than the deliver-by Amazon itself promised
    rows = db.execute("select o.channel_promise, p.deliver_by from orders o join promises p on p.order_id = o.id "
                      "where o.channel = 'demo-amazon' and p.revision = 1").fetchall()
    assert rows
    for held, deliver_by in rows:
        assert held is not None
        assert _utc(deliver_by) <= _utc(json.loads(held)["deliver_by"])


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
