"""The demo's mainland China order: its label bought elsewhere, its code attached as
``fulfilhub shipments attach-code`` does, followed through the Kuaidi100 simulator, and
its tracking page in zh-Hans shows the Chinese scans exactly as the courier wrote them
(a screenshot under .artifacts/mainland/ where chromium and playwright are there)."""

from __future__ import annotations

import os
from pathlib import Path

import fulfilhub_easypost
import fulfilhub_shopify
import pytest

from fulfilhub import config as config_mod
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import run_demo
from fulfilhub.server import tracking
from fulfilhub.store import Store
from fulfilhub.store import meta as meta_store
from fulfilhub.store import shipments as shipment_store

kuaidi100 = pytest.importorskip("fulfilhub_kuaidi100", reason="needs the tracks-only carrier: fulfilhub-kuaidi100")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FULFILHUB_ARTIFACTS", REPO / ".artifacts")) / "mainland"
CHROMIUM = Path("/usr/bin/chromium")


def test_the_demos_mainland_order_is_followed_through_kuaidi100_and_its_page_shows_the_chinese_scans(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, kuaidi100])
    result = run_demo(orders=10, days=1, settle_days=5, seed=3, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["easypost"])  # a tracks-only carrier takes part whichever carriers are named
    mainland = result.mainland
    assert mainland["carrier"] == "kuaidi100"
    assert not mainland["errors"]
    [parcel] = mainland["parcels"]
    assert parcel["carrier"] == "kuaidi100"
    assert parcel["courier"] in kuaidi100.mapping.COURIERS
    assert parcel["scans"] >= 3
    assert parcel["status"] in ("delivered", "returned", "exception", "out_for_delivery")
    assert result.carriers["kuaidi100"]["labels"] == 1
    assert result.carriers["kuaidi100"]["cost"] == "0"  # bought elsewhere, not through fulfilhub
    config = config_mod.load(result.config_path, strict_env=False)
    store = Store.open(config.store_url)
    try:
        with store.read() as conn:
            scans = [row.description for row in shipment_store.scans_of(conn, parcel["shipment"])]
            page = tracking.build(conn, mainland["order"], "zh-Hans", meta_store.time_base(conn).at)
        html = tracking.render(page, "zh-Hans", "")
    finally:
        store.close()
    assert all(any("\u4e00" <= c <= "\u9fff" for c in text) for text in scans), scans  # written in Chinese
    for text in scans:  # each scan's description exactly as the courier wrote it
        assert text in html, text
    assert parcel["tracking_code"] in html
    assert kuaidi100.mapping.COURIERS[parcel["courier"]] in html  # the courier as a customer knows it (中通快递)
    assert "上海市" in html  # the city, never the street
    assert "世纪大道" not in html
    _screenshot(html)


def _screenshot(html: str) -> None:
    if not CHROMIUM.exists():
        return
    try:
        from playwright import sync_api
    except ImportError:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.set_viewport_size({"width": 390, "height": 844})
            page.set_content(html)
            assert page.locator("html").get_attribute("lang") == "zh-Hans"
            page.screenshot(path=str(ARTIFACTS / "mainland-zh-Hans.png"), full_page=True)
        finally:
            browser.close()
