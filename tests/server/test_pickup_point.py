"""A parcel for a convenience-store pickup: the customer's store travels on the order's
address, and once the parcel waits there the notice and the tracking page say where and
until when ("ready for pickup at 7-ELEVEN 高雄四維店 until 5/21"), in the customer's language."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from fulfilhub.engines import fulfilment
from fulfilhub.models import PickupPoint, TrackingEvent, TrackingStatus, TrackingUpdate
from fulfilhub.store import schema
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import tracking as tracking_store

from .conftest import Served

STORE = PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店", store_address="高雄市苓雅區四維三路6號")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FULFILHUB_ARTIFACTS", REPO / ".artifacts")) / "tracking-page"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def at_the_store(served_module: Served):
    """An order for a store pickup, shipped; its parcel reaches the store; the notices job runs."""
    world = served_module.world
    order_id, ship, _tracker = served_module.ship_order(shipping_address={
        "name": "林小姐", "first_name": "小姐", "last_name": "林", "phone": "0933222111",
        "address1": "四維三路6號", "city": "高雄市", "zip": "802", "province": "", "country": "Taiwan",
        "country_code": "TW"})
    order, _ = world.order(order_id)
    picked = attrs.evolve(order.ship_to, pickup=STORE, country="TW")
    with world.store.transaction() as tx:  # what a channel (or the checkout's store map) fills in
        tx.execute(sa.update(schema.orders).where(schema.orders.c.id == order_id).values(
            ship_to={**{f.name: getattr(picked, f.name) for f in attrs.fields(type(picked)) if f.name != "pickup"},
                     "pickup": attrs.asdict(STORE)}, locale="zh-Hant-TW"))
    arrived = datetime(2026, 1, 7, 1, 41, tzinfo=timezone.utc)  # 09:41 in Taipei
    last_day = date(2026, 1, 14)
    update = TrackingUpdate(tracking_code=ship.tracking_code, status=TrackingStatus.AVAILABLE_FOR_PICKUP,
                            events=[TrackingEvent(at=arrived, status=TrackingStatus.AVAILABLE_FOR_PICKUP,
                                                  description="商品已送達門市", source="2073")],
                            pickup_until=last_day)
    with world.store.transaction() as tx:  # the carrier's answer, through the engine the runner uses
        current = shipment_store.load(tx.conn, ship.id)
        fulfilment.apply_tracking(tx, None, current, update, "shop", world.clock.now())
        token = tracking_store.token_for(tx, order_id)
    world.sync()
    return order_id, token, last_day


def test_the_shipment_keeps_the_stores_last_day(served_module, at_the_store):
    order_id, _token, last_day = at_the_store
    (ship,) = served_module.world.shipments(order_id)
    assert ship.pickup_until == last_day
    assert served_module.world.order(order_id)[0].ship_to.pickup == STORE


def test_the_zh_hant_notice_names_the_store_and_the_last_day(served_module, at_the_store):
    order_id, _token, _last = at_the_store
    with served_module.world.store.read() as conn:
        rows = conn.execute(sa.select(schema.notices.c.event, schema.notices.c.subject, schema.notices.c.text).where(
            schema.notices.c.order_id == order_id)).all()
    ready = [r for r in rows if r.event == "ready_for_pickup"]
    assert len(ready) == 1, rows
    text = ready[0].subject + "\n" + ready[0].text
    assert "已送達 7-ELEVEN 高雄四維店，請於1月14日星期三前取件" in ready[0].subject
    assert "高雄市苓雅區四維三路6號" in text


def test_the_tracking_page_names_the_store_and_the_last_day(served_module, at_the_store):
    _order_id, token, _last = at_the_store
    page = served_module.client.get(f"/t/{token}?lang=zh-Hant")
    assert page.status_code == 200
    assert "已送達 7-ELEVEN 高雄四維店，請於1月14日星期三前取件。" in page.text
    assert "取件門市：7-ELEVEN 高雄四維店 高雄市苓雅區四維三路6號" in page.text
    assert "已到店，可取貨" in page.text  # the parcel's own word: waiting at the store, not out for delivery
    english = served_module.client.get(f"/t/{token}?lang=en").text
    assert "Ready for pickup at 7-ELEVEN 高雄四維店 until Wednesday 14 January." in english  # world English for Taiwan


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_pickup_page_in_a_real_browser(served_module, at_the_store):
    """A screenshot kept under .artifacts/tracking-page/ (zh-Hant, phone width)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    _order_id, token, _last = at_the_store
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{served_module.server.url}/t/{token}?lang=zh-Hant")
            assert "7-ELEVEN 高雄四維店" in page.inner_text("main")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTIFACTS / "pickup-phone-zh-Hant.png"), full_page=True)
        finally:
            browser.close()


def test_past_the_last_day_the_page_says_it_was_not_picked_up(served_module, at_the_store):
    _order_id, token, _last = at_the_store
    world = served_module.world
    world.clock.advance(timedelta(days=10))  # the last test of the module: the clock does not go back
    page = served_module.client.get(f"/t/{token}?lang=zh-Hant").text
    assert "包裹未於1月14日星期三前在 7-ELEVEN 高雄四維店 取件" in page


def test_once_collected_the_delivered_notice_says_it_was_picked_up_at_the_store(served_module, at_the_store):
    order_id, _token, _last = at_the_store
    world = served_module.world
    (ship,) = world.shipments(order_id)
    collected = world.clock.now() - timedelta(hours=1)
    update = TrackingUpdate(tracking_code=ship.tracking_code, status=TrackingStatus.DELIVERED,
                            events=[TrackingEvent(at=collected, status=TrackingStatus.DELIVERED,
                                                  description="消費者成功取件", source="2067")])
    with world.store.transaction() as tx:
        fulfilment.apply_tracking(tx, None, shipment_store.load(tx.conn, ship.id), update, "shop", world.clock.now())
    world.sync()
    with world.store.read() as conn:
        subjects = conn.execute(sa.select(schema.notices.c.subject).where(
            schema.notices.c.order_id == order_id, schema.notices.c.event == "delivered")).scalars().all()
    assert len(subjects) == 1
    assert "在 7-ELEVEN 高雄四維店 取件" in subjects[0]
