"""The adapter against the simulator over real HTTP on loopback, on one scenario clock: the hard parts."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from fulfilhub import PermanentError, RetryPolicy, ShipmentLine, ShipmentPush, SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.testing import instance_context
from fulfilhub_amazon import AmazonChannel, mapping, webhooks
from fulfilhub_amazon.channel import SETTINGS
from fulfilhub_amazon.simulator import AmazonSimulator

#: Quick retries (sleeping on the scenario clock).
POLICY = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=120.0, timeout=5.0)
CLIENT, SECRET, REFRESH, RELAY = "amzn1.application-oa2-client.test", "lwa_secret_test_4f1a", "Atzr|refresh_test_77", \
    "relay_secret_test_9b2c"
US = "ATVPDKIKX0DER"


class DictState:
    """A ``context.state`` as the runner gives one (key -> JSON), shared by the adapters built on it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def insert(self, key: str, value: Any) -> bool:
        with self.lock:
            return self.values.setdefault(key, value) is value

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        with self.lock:
            if key not in self.values or self.values[key] != expected:
                return False
            self.values[key] = value
            return True


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def start(clock):
    """``start(**options)``: a sandbox serving the simulator, and ``build(**settings)`` for adapters on one state."""
    opened: list[Any] = []

    def run(**options):
        sim_options = {"client_id": CLIENT, "client_secret": SECRET, "refresh_token": REFRESH,
                       "relay_secret": RELAY, "marketplaces": [US], "update_rate": 0.0, "cancel_rate": 0.0,
                       "pending_rate": 0.0, **options}
        context = SandboxContext(clock=clock, seed=3, options={"amazon": sim_options})
        server = SandboxServer({"amazon": Simulator(name="amazon", factory=AmazonSimulator)}, context)
        server.start()
        opened.append(server)
        state = DictState()

        def build(**more):
            settings = {"base_url": server.url_for("amazon"), "token_url": "/auth/o2/token", "client_id": CLIENT,
                        "client_secret": SECRET, "refresh_token": REFRESH, "marketplace_ids": [US],
                        "seller_id": "A3DEMOSELLER01", "restricted_data": True, "relay_secret": RELAY, **more}
            ctx = instance_context("amazon-us", settings, clock=clock, secrets=[SECRET, REFRESH, RELAY],
                                   schema=SETTINGS, kind="channels", policy=POLICY)
            adapter = AmazonChannel(attrs.evolve(ctx, state=state))
            opened.append(adapter)
            return adapter

        return server.simulators["amazon"], build, state

    yield run
    for thing in opened:
        thing.close() if isinstance(thing, AmazonChannel) else thing.stop()


def full_pass(channel, cursor):
    payloads = []
    while True:
        page = channel.fetch_orders(cursor)
        payloads.extend(page.payloads)
        cursor = page.next_cursor
        if not page.has_more:
            return payloads, cursor


def latest(channel, payloads, into=None):
    """What the runner keeps: each order at its newest version (by id)."""
    into = {} if into is None else into
    for order in map(channel.parse_order, payloads):
        kept = into.get(order.id)
        if kept is None or order.updated_at >= kept.updated_at:
            into[order.id] = order
    return into


def truth(build):
    """Every order as a fresh pull from nothing reads it now."""
    fresh = build()
    return {order.id: order.version for order in latest(fresh, full_pass(fresh, None)[0]).values()}


def push_for(order, n=1):
    return ShipmentPush(
        shipment_id=f"{order.id}/{n}",
        lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                    for line in order.shippable),
        tracking_code=f"9400{order.external_id.replace('-', '')}", tracking_url="https://track.example/x",
        carrier_name="USPS", service="Priority",
    )


def test_the_access_token_is_refreshed_once_under_concurrency_and_kept_until_near_expiry(start, clock, caplog):
    caplog.set_level(logging.DEBUG)
    sim, build, state = start(orders_per_day=0, token_ttl=3600)
    adapter = build()
    barrier = threading.Barrier(8)
    got: list[str] = []

    def want():
        barrier.wait()
        got.append(adapter.tokens.token())

    threads = [threading.Thread(target=want) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.token_grants() == 1  # eight threads, one refresh
    assert len(set(got)) == 1
    assert build().tokens.token() == got[0]  # a restart reads it from the state
    clock.advance(timedelta(minutes=54))  # 6 minutes left: outside the 5-minute margin
    assert adapter.tokens.token() == got[0]
    clock.advance(timedelta(minutes=2))  # 4 minutes left: renewed first
    assert adapter.tokens.token() != got[0]
    assert sim.token_grants() == 2
    for secret in (SECRET, REFRESH, got[0]):
        assert secret not in caplog.text


def test_a_token_that_expires_mid_page_is_renewed_once_and_the_pass_completes(start, clock):
    sim, build, _ = start(orders_per_day=96)
    clock.advance(timedelta(hours=6))
    adapter = build(page_size=5)
    window_end = (clock.now() - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    first = adapter.fetch_orders(None)
    assert first.has_more
    grants = sim.token_grants()
    sim.expire_access_tokens()  # the token Amazon holds for us ends between two pages
    rest, _ = full_pass(adapter, first.next_cursor)
    assert sim.token_grants() == grants + 1
    assert {p["AmazonOrderId"] for p in [*first.payloads, *rest]} == \
        {o["AmazonOrderId"] for o in sim.orders() if o["LastUpdateDate"] <= window_end}


def test_a_token_that_expires_between_the_orders_and_their_items_is_renewed_inside_the_page(start, clock,
                                                                                             monkeypatch):
    sim, build, _ = start(orders_per_day=48)
    clock.advance(timedelta(hours=6))
    adapter = build()
    with_items = adapter._with_items
    expired: list[bool] = []

    def expire_once(order):
        if not expired:
            expired.append(True)
            sim.expire_access_tokens()  # after getOrders answered, before getOrderItems
        return with_items(order)

    monkeypatch.setattr(adapter, "_with_items", expire_once)
    adapter.tokens.token()
    grants = sim.token_grants()
    page = adapter.fetch_orders(None)
    assert expired
    assert sim.token_grants() == grants + 1
    assert all(p["OrderItems"] for p in page.payloads)


def test_a_429_with_amazons_headers_waits_for_a_token_and_learns_the_rate(start, clock):
    sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    adapter = build()
    for _ in range(20):  # another client of this seller used the whole getOrders burst
        sim.buckets["getOrders"].take()
    began = clock.now()
    payloads, _ = full_pass(adapter, None)
    assert payloads
    waited = (clock.now() - began).total_seconds()
    assert waited >= 1 / 0.0167 - 1  # one getOrders token at Amazon's documented rate, on the scenario clock
    assert adapter.limits.buckets["getOrders"].rate == pytest.approx(0.0167)  # x-amzn-RateLimit-Limit
    assert sim.buckets["getOrders"].refused >= 1


def test_the_rate_limit_is_kept_by_the_adapter_itself(start, clock):
    sim, build, _ = start(orders_per_day=200, items_page_size=1)
    clock.advance(timedelta(hours=8))  # about 66 orders: more getOrderItems calls than the burst of 30
    adapter = build()
    payloads, _ = full_pass(adapter, None)
    assert len(payloads) > 30
    assert sim.buckets["getOrderItems"].refused == 0  # never a 429: the adapter waited for its tokens
    assert adapter.limits.buckets["getOrderItems"].waited > 0


def test_pagination_that_changes_under_the_next_token_loses_nothing(start, clock):
    sim, build, _ = start(orders_per_day=96)
    clock.advance(timedelta(hours=6))
    adapter = build(page_size=4)
    page = adapter.fetch_orders(None)
    kept = latest(adapter, page.payloads)
    read = [p["AmazonOrderId"] for p in page.payloads]
    unread = [o["AmazonOrderId"] for o in sim.orders() if o["AmazonOrderId"] not in read]
    clock.advance(timedelta(minutes=5))
    sim.update_order(read[0])  # moves out of the window being paged
    sim.update_order(unread[0])  # so does one not read yet
    sim.cancel_order(unread[1])
    clock.advance(timedelta(minutes=5))  # and a new order arrives meanwhile
    payloads, cursor = full_pass(adapter, page.next_cursor)
    latest(adapter, payloads, kept)
    clock.advance(timedelta(minutes=5))
    latest(adapter, full_pass(adapter, cursor)[0], kept)  # the next pass reads what moved
    assert {oid: order.version for oid, order in kept.items()} == truth(build)
    assert kept[f"amazon-us:{unread[1]}"].cancelled_at is not None


def test_a_next_token_amazon_no_longer_takes_restarts_the_window(start, clock):
    sim, build, _ = start(orders_per_day=96, next_token_ttl=60)
    clock.advance(timedelta(hours=6))
    adapter = build(page_size=4)
    page = adapter.fetch_orders(None)
    clock.advance(timedelta(minutes=3))  # the NextToken expired
    payloads, _ = full_pass(build(page_size=4), page.next_cursor)  # a restarted runner resumes
    kept = latest(adapter, [*page.payloads, *payloads])
    assert {oid: order.version for oid, order in kept.items()} == truth(build)


def test_an_order_edited_after_it_was_pulled_comes_again_with_its_new_lines_and_address(start, clock):
    sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    adapter = build()
    payloads, cursor = full_pass(adapter, None)
    before = adapter.parse_order(payloads[0])
    clock.advance(timedelta(minutes=10))
    sim.update_order(before.external_id)
    sim.add_item(before.external_id, "BAG-CNV-TOTE", 2)
    clock.advance(timedelta(minutes=5))
    again, _ = full_pass(build(), cursor)
    after = next(o for o in map(adapter.parse_order, again) if o.id == before.id)
    assert after.version != before.version
    assert after.updated_at > before.updated_at
    assert after.ship_to.line2 == "Apt 2"
    assert ("BAG-CNV-TOTE", 2) in [(line.sku, line.quantity) for line in after.lines]
    assert after.total.amount == before.total.amount + 2 * after.lines[-1].unit_price.amount


def test_an_order_cancelled_mid_fulfilment_refuses_the_confirmation_and_comes_as_a_cancellation(start, clock):
    sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    adapter = build()
    payloads, cursor = full_pass(adapter, None)
    order = adapter.parse_order(payloads[0])
    sim.cancel_order(order.external_id)  # the buyer cancels while the parcel is packed
    with pytest.raises(PermanentError, match="cancelled on Amazon"):
        adapter.push_fulfillment(order, push_for(order), "k1", attempt=1)
    assert sim.packages_for(order.external_id) == []
    clock.advance(timedelta(minutes=5))
    again = {o.id: o for o in map(adapter.parse_order, full_pass(adapter, cursor)[0])}
    assert again[order.id].cancelled_at is not None


def test_a_confirmation_is_one_package_however_often_it_is_sent(start, clock):
    sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    adapter = build()
    order = adapter.parse_order(full_pass(adapter, None)[0][0])
    ref = adapter.push_fulfillment(order, push_for(order), "k", attempt=1)
    assert build().push_fulfillment(order, push_for(order), "k", attempt=2) == ref
    packages = sim.packages_for(order.external_id)
    assert len(packages) == 1
    assert packages[0]["carrier"] == "USPS"
    assert sim.order(order.external_id)["OrderStatus"] == "Shipped"


def test_the_same_order_by_notification_and_by_poll_is_one_order_at_one_version(start, clock):
    sim, build, _ = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    adapter = build()
    payloads, cursor = full_pass(adapter, None)
    sim.pending_webhooks()  # what arrived so far is known by poll
    order = adapter.parse_order(payloads[0])
    clock.advance(timedelta(minutes=10))
    sim.update_order(order.external_id)
    delivered = sim.pending_webhooks()
    assert len(delivered) == 1
    headers, body = delivered[0]
    assert adapter.verify_webhook(headers, body)
    assert adapter.parse_webhook(headers, body) is None  # queued: read at the next pull
    assert adapter.webhook_delivery(headers, body).id == json.loads(body)["NotificationMetadata"]["NotificationId"]
    clock.advance(timedelta(minutes=5))
    seen = [o for o in map(adapter.parse_order, full_pass(adapter, cursor)[0]) if o.id == order.id]
    assert len(seen) == 2  # once from the notification, once from the window
    assert len({(o.id, o.version) for o in seen}) == 1  # the same version: the runner stores it once
    assert seen[0].version != order.version
    clock.advance(timedelta(days=1))
    assert not adapter.verify_webhook(headers, body)  # a day-old replay is refused
    forged = body.replace(b"Unshipped", b"Canceled")
    assert not adapter.verify_webhook({webhooks.SIGNATURE_HEADER: headers[webhooks.SIGNATURE_HEADER]}, forged)


def test_without_restricted_data_mfn_orders_are_held_saying_why_and_fba_orders_ship_nothing(start, clock):
    sim, build, _ = start(orders_per_day=48, afn_rate=0.5)
    clock.advance(timedelta(hours=6))
    plain = build(restricted_data=False)
    orders = list(map(plain.parse_order, full_pass(plain, None)[0]))
    mfn = [o for o in orders if o.shippable]
    fba = [o for o in orders if not o.shippable]
    assert mfn
    assert fba
    assert all(o.hold_reason == mapping.WITHHELD for o in mfn)
    assert all(o.ship_to.postal_code and not o.ship_to.line1 for o in mfn)  # what a lane needs, no more
    assert all(o.hold_reason == "" for o in fba)
    assert "createRestrictedDataToken" not in sim.calls()
    full = build()
    rich = [o for o in map(full.parse_order, full_pass(full, None)[0]) if o.shippable]
    assert all(o.hold_reason == "" and o.ship_to.problems() == [] for o in rich)
    assert sim.calls().count("createRestrictedDataToken") == 1  # cached for the hour it lives
    assert all(o.channel_promise is not None and o.channel_promise.deliver_by is not None for o in rich)


def test_stock_is_pushed_to_the_listings_and_unknown_skus_are_reported(start, clock):
    sim, build, _ = start(orders_per_day=0)
    adapter = build()
    assert adapter.push_stock({"TEE-ORG-M": 7, "MUG-ENM-350": 0, "NOT-ON-AMAZON": 3}, "k", attempt=1) == \
        ["NOT-ON-AMAZON"]
    assert sim.listing_quantity("TEE-ORG-M") == 7
    assert sim.listing_quantity("MUG-ENM-350") == 0
    with pytest.raises(PermanentError, match="seller_id is not set"):
        build(seller_id="").push_stock({"TEE-ORG-M": 1}, "k", attempt=1)
