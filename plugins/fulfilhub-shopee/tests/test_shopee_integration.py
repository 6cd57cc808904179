"""The adapter against the simulator over real HTTP on loopback, on one scenario clock: the hard parts."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import attrs
import pytest

from fulfilhub import (
    ConfigError,
    FulfilledBy,
    PermanentError,
    RetryPolicy,
    ShipmentLine,
    ShipmentPush,
    SimClock,
    Simulator,
    TrackingStatus,
    TransientError,
)
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.testing import instance_context
from fulfilhub_shopee import ShopeeChannel
from fulfilhub_shopee.channel import SETTINGS
from fulfilhub_shopee.simulator import ShopeeSimulator

#: Quick retries that still honour a Retry-After of minutes (sleeping on the scenario clock).
POLICY = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=120.0, timeout=5.0)
PARTNER, SHOP, KEY, REFRESH = 2001234, 880011, "partner_key_test_0a1b2c3d", "refresh_test_9z8y7x"
PUSH_URL = "https://fulfilhub.example.tw/webhooks/tw-shopee"


class DictState:
    """A ``context.state`` as the runner gives one (key -> JSON), shared by the adapters built on it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def insert(self, key: str, value: Any) -> bool:
        return self.values.setdefault(key, value) is value

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        if self.values.get(key) != expected or key not in self.values:
            return False
        self.values[key] = value
        return True


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def start(clock):
    """``start(settings, **options)``: a sandbox serving the simulator, and ``build()`` for adapters on one state."""
    opened = []

    def run(channel_settings=None, **options):
        sim_options = {"partner_id": PARTNER, "shop_id": SHOP, "partner_key": KEY, "refresh_token": REFRESH,
                       "update_rate": 0.0, "cancel_rate": 0.0, "unpaid_rate": 0.0, **options}
        context = SandboxContext(clock=clock, seed=1, options={"shopee": sim_options})
        server = SandboxServer({"shopee": Simulator(name="shopee", factory=ShopeeSimulator)}, context)
        server.start()
        state = DictState()

        def build(**more):
            settings = {"base_url": server.url_for("shopee"), "partner_id": PARTNER, "shop_id": SHOP,
                        "partner_key": KEY, "refresh_token": REFRESH, "push_key": KEY, "push_url": PUSH_URL,
                        **(channel_settings or {}), **more}
            context = instance_context("tw-shopee", settings, clock=clock, secrets=[KEY, REFRESH], schema=SETTINGS,
                                       kind="channels", policy=POLICY)
            channel = ShopeeChannel(attrs.evolve(context, state=state))
            opened.append(channel)
            return channel

        opened.append(server)
        return server, server.simulators["shopee"], build, state

    yield run
    for thing in opened:
        thing.close() if isinstance(thing, ShopeeChannel) else thing.stop()


def full_pass(channel, cursor):
    payloads = []
    while True:
        page = channel.fetch_orders(cursor)
        payloads.extend(page.payloads)
        cursor = page.next_cursor
        if not page.has_more:
            return payloads, cursor


def push_for(order, code=None):
    return ShipmentPush(
        shipment_id=f"{order.id}/1",
        lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                    for line in order.lines),
        tracking_code=code or f"TCAT{order.external_id}", tracking_url="https://track.example/x",
        carrier_name="T-CAT", service="home",
    )


def test_the_token_is_refreshed_before_it_expires_kept_in_state_and_never_logged(start, clock, caplog):
    caplog.set_level(logging.DEBUG)
    _, sim, build, state = start(orders_per_day=24, token_ttl=1800)
    clock.advance(timedelta(hours=2))
    first = build()
    full_pass(first, None)
    assert sim.calls().count("access_token/get") == 1
    stored = state.get("token")
    assert stored["refresh_token"] != REFRESH  # Shopee's new refresh token replaced the configured one
    again = build()  # a restart: the stored token is used, not refreshed again
    full_pass(again, None)
    assert sim.calls().count("access_token/get") == 1
    clock.advance(timedelta(minutes=21))  # 9 minutes left of 30: within the 10-minute margin
    full_pass(again, None)
    assert sim.calls().count("access_token/get") == 2
    renewed = state.get("token")
    assert renewed["access_token"] != stored["access_token"]
    assert renewed["expires_at"] > stored["expires_at"]
    for secret in (KEY, REFRESH, stored["refresh_token"], renewed["refresh_token"], renewed["access_token"]):
        assert secret not in caplog.text
    assert KEY not in repr(again)
    assert REFRESH not in repr(again)


def test_a_new_refresh_token_in_the_config_wins_over_the_stored_one(start, clock):
    _, sim, build, state = start(orders_per_day=24)
    clock.advance(timedelta(hours=1))
    full_pass(build(), None)
    with sim.state as shop:
        shop["refresh"].add("reauthorised_refresh_42")
    full_pass(build(refresh_token="reauthorised_refresh_42"), None)
    assert sim.calls().count("access_token/get") == 2


def test_a_token_that_expires_mid_page_is_renewed_once_and_the_page_completed(start, clock, monkeypatch):
    _, sim, build, _ = start(orders_per_day=48)
    clock.advance(timedelta(hours=6))
    channel = build()
    listed = channel._list

    def list_then_expire(*args):
        answer = listed(*args)
        sim.revoke_access_tokens()  # the token dies between the list and the details
        return answer

    monkeypatch.setattr(channel, "_list", list_then_expire)
    payloads, _ = full_pass(channel, None)
    assert {p["order_sn"] for p in payloads} == {o["order_sn"] for o in sim.orders()}
    assert sim.calls().count("access_token/get") >= 2


def test_two_instances_whose_token_died_renew_it_once(start, clock):
    _, sim, build, state = start(orders_per_day=24)
    clock.advance(timedelta(hours=2))
    first, second = build(), build()
    full_pass(first, None)
    full_pass(second, None)
    assert sim.calls().count("access_token/get") == 1
    sim.revoke_access_tokens()
    full_pass(first, None)  # renews, and stores the new token
    full_pass(second, None)  # its token died too: it finds the one first stored instead of renewing again
    assert sim.calls().count("access_token/get") == 2


def test_a_429_is_waited_for_as_its_retry_after_says(start, clock):
    server, sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    channel = build()
    server.context.faults.add("429", path="/shopee/api/v2/order/get_order_detail", times=1, retry_after=20)
    before = clock.now()
    payloads, _ = full_pass(channel, None)
    assert (clock.now() - before).total_seconds() >= 20
    assert payloads


def test_pagination_that_changes_under_the_cursor_loses_nothing(start, clock):
    _, sim, build, _ = start({"page_size": 3}, orders_per_day=96)
    clock.advance(timedelta(hours=6))
    sim.stop_arrivals()
    everything = {o["order_sn"] for o in sim.orders()}
    channel = build()
    page = channel.fetch_orders(None)
    assert page.has_more
    assert 0 < len(page.payloads) <= 3
    # The buyer edits two orders already read: by offset, the rest of the window would shift and skip two.
    clock.advance(timedelta(minutes=1))
    for payload in page.payloads[:2]:
        sim.update_order(payload["order_sn"])
    rest, _ = full_pass(channel, page.next_cursor)
    read = [p["order_sn"] for p in [*page.payloads, *rest]]
    assert set(read) == everything, f"missed {sorted(everything - set(read))}"
    edited = {p["order_sn"] for p in page.payloads[:2]}
    again = [channel.parse_order(p) for p in rest if p["order_sn"] in edited]
    assert len(again) == 2
    assert all(o.ship_to.line1.endswith("2樓") for o in again)


def test_more_orders_in_one_second_than_a_page_holds_are_all_read_and_windows_stay_within_15_days(start, clock):
    _, sim, build, _ = start({"page_size": 2, "initial_days": 40}, orders_per_day=0)
    clock.advance(timedelta(days=30))
    with sim.state as state:
        for _ in range(5):
            sim._place(state, clock.now() - timedelta(days=20))
        sim._place(state, clock.now() - timedelta(hours=1))
    payloads, cursor = full_pass(build(), None)  # the simulator refuses a window over 15 days
    assert len({p["order_sn"] for p in payloads}) == 6
    clock.advance(timedelta(minutes=5))
    assert full_pass(build(), cursor)[0] == []


def test_a_busy_shop_is_paged_with_few_list_calls_per_page(start, clock):
    _, sim, build, _ = start({"page_size": 20}, orders_per_day=2000)
    clock.advance(timedelta(days=1))
    sim.stop_arrivals()
    pages, payloads, cursor = 0, [], None
    while True:
        page = build().fetch_orders(cursor)  # a new instance each page: the span travels in the cursor
        pages, payloads, cursor = pages + 1, payloads + list(page.payloads), page.next_cursor
        if not page.has_more:
            break
    assert {p["order_sn"] for p in payloads} == {o["order_sn"] for o in sim.orders()}
    lists = sim.calls().count("get_order_list")
    assert lists <= 3 * pages, f"{lists} list calls for {pages} pages"  # halving from 15 days: about 8 a page


def test_an_order_edited_after_it_was_pulled_comes_again_at_a_new_version(start, clock):
    _, sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    channel = build()
    payloads, cursor = full_pass(channel, None)
    first = channel.parse_order(payloads[0])
    clock.advance(timedelta(minutes=10))
    items = payloads[0]["item_list"]
    sim.update_order(first.external_id, item_list=[{**items[0], "model_quantity_purchased":
                                                    items[0]["model_quantity_purchased"] + 1}],
                     recipient_address={**payloads[0]["recipient_address"], "full_address": "台中市西屯區台灣大道三段99號"})
    again, _ = full_pass(channel, cursor)
    new = next(channel.parse_order(p) for p in again if p["order_sn"] == first.external_id)
    assert new.version != first.version
    assert new.ship_to.line1.startswith("台中市")
    assert new.lines[0].quantity == first.lines[0].quantity + 1
    assert len(new.lines) == 1


def test_an_order_cancelled_mid_fulfilment_is_pulled_as_cancelled_and_not_shipped(start, clock):
    _, sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    channel = build()
    payloads, cursor = full_pass(channel, None)
    order = channel.parse_order(payloads[0])
    clock.advance(timedelta(minutes=30))
    sim.cancel_order(order.external_id)
    again, _ = full_pass(channel, cursor)
    cancelled = next(channel.parse_order(p) for p in again if p["order_sn"] == order.external_id)
    assert cancelled.cancelled_at is not None
    assert cancelled.version != order.version
    with pytest.raises(PermanentError, match="CANCELLED on Shopee"):
        channel.push_fulfillment(order, push_for(order), "k1", attempt=1)
    assert sim.tracking_number(order.external_id) == ""


def test_a_seller_shipped_order_is_shipped_once_with_its_tracking_number(start, clock):
    _, sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    channel = build()
    order = channel.parse_order(full_pass(channel, None)[0][0])
    ref = channel.push_fulfillment(order, push_for(order), "pf:1", attempt=1)
    assert ref == f"TCAT{order.external_id}" == sim.tracking_number(order.external_id)
    assert sim.order(order.external_id)["order_status"] == "SHIPPED"
    assert build().push_fulfillment(order, push_for(order), "pf:1", attempt=2) == ref
    assert sim.calls().count("ship_order") == 1
    second = attrs.evolve(push_for(order, "OTHER123"), shipment_id=f"{order.id}/2")
    assert channel.push_fulfillment(order, second, "pf:2", attempt=1) == ref  # one number per order on Shopee
    assert sim.tracking_number(order.external_id) == ref
    assert sim.calls().count("ship_order") == 1
    channel.push_tracking(order, attrs.evolve(push_for(order), fulfillment_ref=ref), TrackingStatus.DELIVERED,
                          "pt:1", attempt=1)  # untold: Shopee takes no milestones
    again = channel.parse_order(sim.order(order.external_id))
    assert again.version == order.version  # SHIPPED is the echo of our own ship_order


def test_shopee_logistics_orders_are_refused_saying_why_and_shopee_warehouse_lines_are_not_shipped(start, clock):
    _, sim, build, _ = start(orders_per_day=24, integrated_rate=1.0)
    clock.advance(timedelta(hours=3))
    channel = build()
    order = channel.parse_order(full_pass(channel, None)[0][0])
    assert all(line.requires_shipping for line in order.lines)
    with pytest.raises(PermanentError, match="integrated logistics"):
        channel.push_fulfillment(order, push_for(order), "pf:1", attempt=1)
    assert sim.calls().count("ship_order") == 0
    _, sim2, build2, _ = start(orders_per_day=24, shopee_fulfilled_rate=1.0)
    clock.advance(timedelta(hours=3))
    orders = [build2().parse_order(p) for p in full_pass(build2(), None)[0]]
    assert orders
    assert not any(line.requires_shipping for o in orders for line in o.lines)


def test_the_same_order_by_push_and_by_poll_is_one_order_at_one_version(start, clock):
    _, sim, build, _ = start(orders_per_day=24, push_url=PUSH_URL)
    clock.advance(timedelta(hours=4))
    channel = build()
    polled, cursor = full_pass(channel, None)
    sn = polled[0]["order_sn"]
    sim.pending_webhooks()
    clock.advance(timedelta(minutes=5))
    sim.update_order(sn)  # the buyer changes the address: Shopee pushes, and the next poll sees it too
    headers, body = sim.pending_webhooks()[-1]
    assert channel.verify_webhook(headers, body)
    assert not channel.verify_webhook(headers, body.replace(b"READY_TO_SHIP", b"CANCELLED"))
    assert channel.parse_webhook(headers, body) is None  # a push names an order; the next pull reads it
    delivery = channel.webhook_delivery(headers, body)
    assert delivery.signed
    assert delivery.sent_at == clock.now().replace(microsecond=0)
    clock.advance(timedelta(minutes=1))
    page = channel.fetch_orders(cursor)
    seen = [channel.parse_order(p) for p in page.payloads if p["order_sn"] == sn]
    assert len(seen) == 2
    assert seen[0] == seen[1]  # by push and by poll: one id, one version, stored once
    assert seen[0].version != channel.parse_order(polled[0]).version
    assert [p["order_sn"] for p in channel.fetch_orders(page.next_cursor).payloads] == []  # off the queue
    clock.advance(timedelta(hours=1))
    assert not channel.verify_webhook(headers, body)  # an hour-old push is refused as a replay


@pytest.mark.parametrize("ship_by", ["dropoff", "pickup"])
def test_a_shopee_logistics_order_is_handed_to_shopees_carrier_and_tracked_from_shopee(start, clock, ship_by):
    _, sim, build, _ = start(orders_per_day=24, integrated_rate=1.0)
    clock.advance(timedelta(hours=3))
    channel = build(marketplace_carriers=["蝦皮店到店"], ship_by=ship_by)
    order = channel.parse_order(full_pass(channel, None)[0][0])
    assert order.fulfilled_by is FulfilledBy.MARKETPLACE
    assert channel.arrange_shipment(order, push_for(order, ""), "ship:1", attempt=None) is None  # no number yet
    assert sim.order(order.external_id)["order_status"] == "PROCESSED"
    assert channel.arrange_shipment(order, push_for(order, ""), "ship:1", attempt=None) is None  # not arranged twice
    assert sim.calls().count("ship_order") == 1
    clock.advance(timedelta(minutes=11))
    label = build(marketplace_carriers=["蝦皮店到店"]).arrange_shipment(order, push_for(order, ""), "ship:1", attempt=2)
    assert label is not None
    assert label.tracking_code == sim.tracking_number(order.external_id)
    assert label.carrier == "tw-shopee"  # tracked through the channel, not a carrier
    assert label.carrier_name == "蝦皮店到店"
    assert label.cost.amount == 0
    assert sim.calls().count("ship_order") == 1
    assert channel.track_shipment(label).status is TrackingStatus.PRE_TRANSIT
    clock.advance(timedelta(days=4))
    update = channel.track_shipment(label)
    assert update.status is TrackingStatus.DELIVERED
    assert [e.status for e in update.events] == [TrackingStatus.PRE_TRANSIT, TrackingStatus.IN_TRANSIT,
                                                 TrackingStatus.DELIVERED]
    assert channel.parse_order(sim.order(order.external_id)).version == order.version  # Shopee's moves: no edit


def test_an_order_on_a_seller_shipped_channel_named_a_marketplace_carrier_is_refused_saying_so(start, clock):
    _, sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    channel = build(marketplace_carriers=["黑貓宅急便 (賣家自行寄送)"])
    order = channel.parse_order(full_pass(channel, None)[0][0])
    assert order.fulfilled_by is FulfilledBy.MARKETPLACE
    with pytest.raises(PermanentError, match="take its shipping_carrier out of marketplace_carriers"):
        channel.arrange_shipment(order, push_for(order, ""), "ship:1", attempt=None)
    assert sim.calls().count("ship_order") == 0
    assert build().parse_order(sim.order(order.external_id)).fulfilled_by is FulfilledBy.SELLER  # the default


def test_stock_is_set_per_item_with_its_models_and_unlisted_skus_are_returned(start, clock):
    _, sim, build, _ = start(orders_per_day=0)
    channel = build()
    unlisted = channel.push_stock({"TEE-ORG-M": 5, "MUG-ENM-350": 0, "NOT-ON-SHOPEE": 3}, "push_stock:1")
    assert unlisted == ["NOT-ON-SHOPEE"]
    assert sim.stock()["TEE-ORG-M"] == 5
    assert sim.stock()["MUG-ENM-350"] == 0
    assert sim.stock()["TEA-OOL-100"] is None  # not told: not touched
    assert sim.calls().count("update_stock") == 2  # one call per item
    assert sim.calls().count("get_item_list") == 1
    channel.push_stock({"TEE-ORG-M": 4}, "push_stock:2")
    assert sim.calls().count("get_item_list") == 1  # the listings are kept for the hour
    assert sim.stock()["TEE-ORG-M"] == 4


def test_a_stock_map_skips_the_listings_and_a_bad_one_is_refused_naming_the_key(start, clock):
    _, sim, build, _ = start(orders_per_day=0)
    channel = build(stock_map={"TEE-ORG-M": "2300001:23000011", "MUG-ENM-350": "2300002:0"})
    assert channel.push_stock({"TEE-ORG-M": 7, "MUG-ENM-350": 2}, "k") == []
    assert sim.stock()["TEE-ORG-M"] == 7
    assert sim.calls().count("get_item_list") == 0
    with pytest.raises(ConfigError, match="stock_map"):
        build(stock_map={"TEE-ORG-M": "tee"})
    wrong = build(stock_map={"TEE-ORG-M": "2300001:99"})  # a model Shopee does not have: tried again later
    with pytest.raises(TransientError, match="model_id not found"):
        wrong.push_stock({"TEE-ORG-M": 1}, "k2")
