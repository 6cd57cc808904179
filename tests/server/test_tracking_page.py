"""The customer's tracking page: found by an unguessable token, in the customer's
language, showing progress and scans and nothing a stranger should see."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.models import DelayAssessment, Promise
from fulfilhub.store import schema
from fulfilhub.store import delays as delay_store
from fulfilhub.store import promises as promise_store
from fulfilhub.store import tracking as tracking_store

from .conftest import Served

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FULFILHUB_ARTIFACTS", REPO / ".artifacts")) / "tracking-page"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def shipped(served_module: Served):
    """An order on its way (a few scans), and its page's token."""
    order_id, ship, tracker = served_module.ship_order(
        shipping_address={"phone": "+1 775 555 0199", "address1": "742 Evergreen Terrace"})
    world = served_module.world
    world.clock.advance(timedelta(hours=30))
    world.sync()
    now = world.clock.now()
    with world.store.transaction() as tx:
        token = tracking_store.token_for(tx, order_id)
        # what the promise and delay engines store (their contract, models and stores on main)
        promise_store.record(tx, Promise(
            order_id=order_id, revision=1, created_at=now - timedelta(days=1), ship_by=_at(2026, 1, 6, 17),
            deliver_from=_at(2026, 1, 8, 0), deliver_by=_at(2026, 1, 10, 23, 59), timezone="Asia/Taipei",
            confidence_from=0.5, confidence_by=0.95, carrier="easypost", service="Priority", level="lane",
            basis="test", reason="accepted"))
        tx.execute(schema.compensations.insert().values(  # what the compensation engine records, issued
            key=f"compensation:{order_id}:late-2d", order_id=order_id, policy="rules", tier="late-2d", kind="discount",
            amount=Decimal("3.00"), tier_value=Decimal("3.00"), currency="USD", percent=Decimal("10"), points=0,
            months=0, reason="2 days late", status="issued", period="2026-01", code="SORRY-10-XK", channel_ref="d1",
            created_at=now, decided_at=now, decided_by="auto", issued_at=now))
        delay_store.record(tx, DelayAssessment(
            order_id=order_id, assessed_at=now, state="late", reason="carrier_exception", exception="weather",
            days_late=2, revised_eta=_at(2026, 1, 12, 12), confidence=0.8, promise_revision=1, detail="typhoon"))
    return order_id, token


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo("Asia/Taipei"))


def test_a_token_is_random_per_order_and_stable(served_module, shipped):
    order_id, token = shipped
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
    with served_module.world.store.transaction() as tx:
        assert tracking_store.token_for(tx, order_id) == token  # the same one after
        url = tracking_store.tracking_page_url(served_module.world.config, tx, order_id)
    assert url == f"https://track.example.test/t/{token}"
    with served_module.world.store.read() as conn:
        assert tracking_store.order_for(conn, token) == order_id
        assert tracking_store.order_for(conn, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert tracking_store.order_for(conn, "../../etc/passwd") is None


def test_the_page_shows_progress_scans_and_no_private_details(served_module, shipped):
    order_id, token = shipped
    page = served_module.client.get(f"/t/{token}")
    assert page.status_code == 200
    html = page.text
    order = served_module.world.order(order_id)[0]
    assert order.number in html
    assert 'aria-current="step"' in html and "Shipped" in html
    assert "Tracking history" in html and "In transit" in html
    assert order.ship_to.city in html
    # the headline is the date the customer is told now (the delay's), the promised range beside it,
    # and the delay in the notices' words: how long, why, when now
    assert re.search(r'<p class="big"[^>]*>Monday 12 January</p>', html)
    assert "We had promised Thursday 8 January – Saturday 10 January." in html  # world English: a Taiwan address
    assert ("Your order will arrive 2 days late, on Monday 12 January, because severe weather closed the carrier&#39;s "
            "hub on the way." in html)
    # what it was given for the delay, as the channel issued it (a fixed amount), with the code to redeem
    assert "We are sorry" in html and "here is a code for US$3 off your next order, to use once." in html and "SORRY-10-XK" in html
    assert "Type it at checkout on your next order." in html
    for private in (order.email, "742 Evergreen Terrace", "555 0199", str(order.total.amount)):
        assert private and private not in html
    assert "Content-Security-Policy" in page.headers and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert not re.search(r"""(src|href)=["']https?://(?!track\.easypost|127\.0\.0\.1)""", html)


@pytest.mark.parametrize(("asked", "header", "lang", "word"), [
    ("zh-Hant", None, "zh-Hant", "由於天候不佳導致物流轉運中心暫停作業，您的訂單將延遲2天，預計改於1月12日星期一送達。"),
    ("zh-Hans", None, "zh-Hans", "由于恶劣天气导致快递转运中心暂停作业，您的订单将延迟2天，预计改为1月12日星期一送达。"),
    (None, "zh-TW,zh;q=0.9,en;q=0.5", "zh-Hant", "貨態紀錄"),
    (None, "zh-CN", "zh-Hans", "物流记录"),
    (None, "fr-FR, en;q=0.3", "en", "Tracking history"),
])
def test_the_language_follows_the_switcher_or_the_browser(served_module, shipped, asked, header, lang, word):
    _, token = shipped
    page = served_module.client.get(f"/t/{token}", params={"lang": asked} if asked else None,
                                    headers={"Accept-Language": header} if header else None)
    assert f'<html lang="{lang}">' in page.text
    assert word in page.text
    assert page.headers["Content-Language"] == lang


def test_unknown_tokens_get_the_same_404(served_module, shipped):
    _, token = shipped
    pages = [served_module.client.get(f"/t/{t}") for t in ("A" * 22, token[::-1], "short", "x" * 300)]
    assert {p.status_code for p in pages} == {404}
    bodies = {re.sub(r'href="[^"]*"', "", p.text) for p in pages}  # the switcher links carry the path
    assert len(bodies) == 1
    assert "There is no order at this address" in pages[0].text


def test_orders_show_prints_the_page_and_json_carries_it(served_module, shipped):
    order_id, token = shipped
    runner = CliRunner(env={k: v for k, v in __import__("tests.server.conftest", fromlist=["ENV"]).ENV.items()})
    config = str(served_module.world.config_path)
    shown = runner.invoke(main, ["-c", config, "orders", "show", order_id])
    assert shown.exit_code == 0, shown.output
    assert f"tracking page: https://track.example.test/t/{token}" in shown.output
    as_json = runner.invoke(main, ["-c", config, "orders", "show", order_id, "--json"])
    assert __import__("json").loads(as_json.output)["tracking_page_url"] == f"https://track.example.test/t/{token}"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_in_a_real_browser_at_phone_and_desktop_widths_in_each_locale(served_module, shipped):
    """Screenshots kept under .artifacts/tracking-page/; the page makes no request elsewhere."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    _, token = shipped
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = served_module.server.url
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            for width, height, name in ((390, 844, "phone"), (1280, 900, "desktop")):
                page.set_viewport_size({"width": width, "height": height})
                for locale, heading in (("en", "Where is my order?"), ("zh-Hant", "我的訂單在哪裡？"),
                                        ("zh-Hans", "我的订单在哪里？")):
                    page.goto(f"{base}/t/{token}?lang={locale}")
                    assert page.locator("html").get_attribute("lang") == locale
                    assert heading in page.inner_text("header")
                    # Chinese in its own script's glyph shapes: TC fonts for Traditional, SC for Simplified
                    fonts = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
                    script = {"zh-Hant": "TC", "zh-Hans": "SC"}.get(locale)
                    assert (fonts.split(",")[0].endswith(f'{script}"') if script else "TC" not in fonts), fonts
                    for other, mark in (("zh-Hant", "TC"), ("zh-Hans", "SC")):  # each switcher link in its own
                        link = page.locator(f'nav a[lang="{other}"]')
                        assert mark in link.evaluate("a => getComputedStyle(a).fontFamily")
                    assert page.locator('[aria-current="step"]').count() == 1
                    # landmarks and names a screen reader announces
                    assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
                    assert page.locator("nav[aria-label]").count() == 1
                    assert all(a.inner_text().strip() for a in page.locator("a").all())
                    # nothing wider than the screen: mobile-first layout holds
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{locale}.png"), full_page=True)
            # the switcher is links a person can follow
            page.get_by_role("link", name="繁體中文").click()
            assert page.locator("html").get_attribute("lang") == "zh-Hant"
            assert all(url.startswith(base) for url in requested), requested
        finally:
            browser.close()
    assert len(list(ARTIFACTS.glob("*.png"))) >= 6


def test_a_cancelled_order_says_so_and_shows_no_step_as_current(served_module):
    world = served_module.world
    world.stock("east", "TEE-ORG-M", 5)
    placed = served_module.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    world.sync()
    served_module.shop.cancel_order(placed["id"])
    world.sync(hours=1)
    order_id = f"shop:{placed['id']}"
    assert str(world.order(order_id)[1].status) == "cancelled"
    with world.store.transaction() as tx:
        token = tracking_store.token_for(tx, order_id)
    html = served_module.client.get(f"/t/{token}", params={"lang": "zh-Hant"}).text
    assert "此訂單已取消。" in html and 'aria-current="step"' not in html
