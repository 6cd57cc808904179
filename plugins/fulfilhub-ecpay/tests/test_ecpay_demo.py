"""The demo world with ECPay as its only carrier and Shopee (Taiwan) as its shop: orders
reach delivery through it, and its signed status notifications go through `fulfilhub
serve`, answered 1|OK (verified, stored, processed)."""

from __future__ import annotations

import sqlite3

import pytest
from fulfilhub.plugins import PluginManager

import fulfilhub_ecpay

shopee = pytest.importorskip("fulfilhub_shopee", reason="the demo needs a Taiwan shop simulator: fulfilhub-shopee")


def test_the_demo_delivers_through_ecpay_with_its_notifications_answered_1_ok(tmp_path):
    from fulfilhub.scenarios import run_demo

    plugins = PluginManager(load_installed=False, extra=[shopee, fulfilhub_ecpay])
    result = run_demo(orders=12, days=1, settle_days=5, seed=11, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["ecpay"], channels=["shopee"], serve=True)
    ecpay = result.carriers["ecpay"]
    assert ecpay["labels"] > 5
    assert ecpay["delivered"] > 0
    assert result.counts.get("delivered", 0) > 0
    assert result.effects.get("failed", 0) == 0  # the injected 503s on ECPay were retried, none left failed
    assert result.faults_injected > 0
    # ECPay's notifications were answered 200 (1|OK, ECPay's word for "received") and each was processed
    assert "401" not in result.webhooks
    assert result.webhooks.get("200", 0) > 10
    with sqlite3.connect(result.workspace / "fulfilhub.sqlite") as db:
        rows = dict(db.execute("select status, count(*) from webhook_inbox where instance = 'ecpay' group by status"))
        scans = db.execute("select count(*) from tracking_events where source in ('2073', '3003', '3006')").fetchone()
    assert set(rows) == {"processed"}, rows
    assert rows["processed"] > 10
    assert scans[0] > 0


def test_in_the_demo_store_pickups_go_through_ecpay_and_are_told_as_such(tmp_path):
    """WooCommerce's Taiwan store-pickup orders (chosen through ECPay's plugin) beside its door
    deliveries: every store parcel goes through ECPay (its rates go to the store), reaches the
    customer, and its ready-for-pickup notice names the store and the last day."""
    from fulfilhub.scenarios import run_demo

    woocommerce = pytest.importorskip("fulfilhub_woocommerce", reason="the store orders come from fulfilhub-woocommerce")
    easypost = pytest.importorskip("fulfilhub_easypost", reason="the door deliveries need fulfilhub-easypost")
    plugins = PluginManager(load_installed=False, extra=[woocommerce, easypost, fulfilhub_ecpay])
    result = run_demo(orders=40, days=1, settle_days=6, seed=7, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["easypost", "ecpay"], channels=["woocommerce"])
    assert result.carriers["ecpay"]["labels"] > 0
    assert result.carriers["ecpay"]["delivered"] > 0
    assert result.carriers["easypost"]["delivered"] > 0
    with sqlite3.connect(result.workspace / "fulfilhub.sqlite") as db:
        stores = db.execute("select s.carrier, s.pickup_until from shipments s join orders o on o.id = s.order_id "
                            "where json_extract(o.ship_to, '$.pickup') is not null and s.tracking_code is not null"
                            ).fetchall()
        told = db.execute("select subject from notices where event = 'ready_for_pickup'").fetchall()
    assert stores
    assert {carrier for carrier, _ in stores} == {"ecpay"}
    assert all(until is not None for _, until in stores)
    assert told
    assert all("前取件" in subject for (subject,) in told)  # zh-Hant for a Taiwan address: 「…，請於…前取件」
    assert any("7-ELEVEN" in subject or "FamilyMart" in subject for (subject,) in told)
