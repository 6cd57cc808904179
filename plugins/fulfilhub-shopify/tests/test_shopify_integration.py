"""The adapter against the simulator over real HTTP on loopback, on one scenario clock."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from fulfilhub import (
    Order,
    PayloadError,
    PermanentError,
    ShipmentLine,
    ShipmentPush,
    Simulator,
    TrackingStatus,
    TransientError,
)
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.testing import instance_context
from fulfilhub_shopify import ShopifyChannel, ShopifySimulator
from fulfilhub_shopify.channel import SETTINGS

TOKEN = "shpat_test"


@pytest.fixture
def start(clock):
    """``start(**options)``: a sandbox serving the simulator, and an adapter pointed at it."""
    opened = []

    def run(channel_settings=None, **options):
        context = SandboxContext(
            clock=clock, seed=1, options={"shopify": {"access_token": TOKEN, "update_rate": 0.0, **options}}
        )
        server = SandboxServer({"shopify": Simulator(name="shopify", factory=ShopifySimulator)}, context)
        server.start()
        settings = {"base_url": server.url_for("shopify"), "access_token": TOKEN, **(channel_settings or {})}
        channel = ShopifyChannel(instance_context("shop", settings, clock=clock, secrets=[TOKEN], schema=SETTINGS))
        opened.append((server, channel))
        return server, server.simulators["shopify"], channel

    yield run
    for server, channel in opened:
        channel.close()
        server.stop()


def full_pass(channel: ShopifyChannel, cursor: str | None) -> tuple[list[dict], str]:
    """Read pages until the pass ends, as the runner does; return the payloads and the cursor."""
    payloads: list[dict] = []
    while True:
        page = channel.fetch_orders(cursor)
        payloads.extend(page.payloads)
        cursor = page.next_cursor
        if not page.has_more:
            return payloads, cursor


def test_one_pass_reads_every_order_that_arrived(start, clock):
    _, sim, channel = start({"page_size": 40}, orders_per_day=150)
    clock.advance(timedelta(days=1))
    payloads, _ = full_pass(channel, None)
    visible = sim.orders_visible()
    assert len(visible) > 100
    assert len(payloads) == len(visible)
    assert sorted(p["id"] for p in payloads) == sorted(o["id"] for o in visible)
    orders = [channel.parse_order(p) for p in payloads]
    assert all(isinstance(o, Order) and o.lines and o.ship_to for o in orders)
    assert {o.channel for o in orders} == {"shop"}


def test_the_next_pass_brings_updated_and_new_orders(start, clock):
    _, sim, channel = start({"page_size": 25}, orders_per_day=100)
    clock.advance(timedelta(days=1))
    first, cursor = full_pass(channel, None)

    clock.advance(timedelta(hours=1))
    changed = [o["id"] for o in sim.orders_visible()[:3]]
    for order_id in changed:
        sim.update_order(order_id, note="Customer moved: check the address")
    clock.advance(timedelta(hours=2))
    second, _ = full_pass(channel, cursor)

    newly_arrived = {o["id"] for o in sim.orders_visible()} - {p["id"] for p in first}
    got = {p["id"]: p for p in second}
    assert newly_arrived, "the scenario should have brought new orders"
    assert newly_arrived <= set(got)
    for order_id in changed:
        assert got[order_id]["note"] == "Customer moved: check the address"
    assert len(second) < len(first) + len(newly_arrived)  # not a full re-read


def test_repeated_passes_miss_no_version_while_orders_change(start, clock):
    # orders keep arriving and changing while pages are read; each pass starts a little
    # before the previous one began, so the latest version of every order is seen
    _, sim, channel = start({"page_size": 10, "overlap_seconds": 120}, orders_per_day=400, update_rate=0.5)
    latest: dict[int, str] = {}
    cursor = None
    for _ in range(12):
        clock.advance(timedelta(hours=1))
        page_cursor = cursor
        while True:
            page = channel.fetch_orders(page_cursor)
            for payload in page.payloads:
                latest[payload["id"]] = max(latest.get(payload["id"], ""), payload["updated_at"])
            page_cursor = page.next_cursor
            clock.advance(30)  # time passes between pages: updates land mid-pass
            if not page.has_more:
                break
        cursor = page_cursor
    _, cursor = full_pass(channel, cursor)  # a last pass after the dust settles
    for payload in full_pass(channel, cursor)[0]:
        latest[payload["id"]] = max(latest.get(payload["id"], ""), payload["updated_at"])
    visible = sim.orders_visible()
    current = {o["id"]: o["updated_at"] for o in visible}
    assert len(current) > 150
    assert sum(o["updated_at"] != o["created_at"] for o in visible) > 30  # the scenario did change orders
    assert latest == current


def test_injected_429s_are_survived(start, clock):
    server, sim, channel = start(orders_per_day=50)
    clock.advance(timedelta(days=1))
    server.context.faults.add("429", path="/shopify/", times=2, retry_after=0.01)
    payloads, _ = full_pass(channel, None)
    assert server.context.faults.injected == 2
    assert len(payloads) == sim.visible_count()


def test_a_truncated_answer_is_transient_and_the_cursor_can_be_retried(start, clock):
    server, sim, channel = start(orders_per_day=50)
    clock.advance(timedelta(days=1))
    server.context.faults.add("malformed", path="/shopify/admin/api/2024-10/orders.json")
    with pytest.raises(TransientError, match="not valid JSON"):
        channel.fetch_orders(None)
    payloads, _ = full_pass(channel, None)  # the runner kept the old cursor and tries again
    assert len(payloads) == sim.visible_count()


def test_the_call_limit_is_respected_without_429s(start, clock):
    _, sim, channel = start({"page_size": 1}, orders_per_day=0, preload=90)
    before = clock.now()
    payloads, _ = full_pass(channel, None)
    assert len(payloads) == 90  # 90 calls, more than the bucket holds
    assert sim.throttled == 0
    assert clock.now() - before >= timedelta(seconds=(90 - 35) / 2 - 1)  # waited for the leak


def test_a_wrong_token_is_permanent_and_not_logged(start, clock):
    _, _, channel = start({"access_token": "shpat_wrong"}, orders_per_day=10)
    with pytest.raises(PermanentError, match="401") as caught:
        channel.fetch_orders(None)
    assert "Invalid API key or access token" in str(caught.value)
    assert "shpat_wrong" not in str(caught.value)


def test_malformed_orders_are_refused_one_by_one(start, clock):
    _, sim, channel = start(orders_per_day=0, preload=200, malformed_rate=0.2)
    payloads, _ = full_pass(channel, None)
    fields = []
    for payload in payloads:
        try:
            channel.parse_order(payload)
        except PayloadError as exc:
            fields.append(exc.field)
    assert 15 <= len(fields) <= 70
    assert {f.split(".")[-1] if "." in f else f for f in fields} == {"quantity", "updated_at", "price"}


def shipment_for(order: Order, code: str, ref: str = "") -> ShipmentPush:
    return ShipmentPush(
        shipment_id=f"shp_{order.external_id}",
        lines=tuple(ShipmentLine(sku=l.sku, quantity=l.quantity, order_line_id=l.external_id) for l in order.lines),
        tracking_code=code,
        tracking_url=f"https://tracking.example/{code}",
        carrier_name="USPS",
        service="Priority",
        fulfillment_ref=ref,
    )


def test_a_pushed_fulfillment_and_its_tracking_show_up_in_the_shop(start, clock):
    _, sim, channel = start(orders_per_day=0)
    placed = sim.add_order([{"sku": "HOOD-FLC-L", "quantity": 1}, {"sku": "SOCK-MER-3P", "quantity": 2}])
    payloads, cursor = full_pass(channel, None)
    order = channel.parse_order(payloads[0])
    clock.advance(timedelta(hours=5))

    ref = channel.push_fulfillment(order, shipment_for(order, "9400100000000000000001"), "shp:fulfil")
    again = channel.push_fulfillment(order, shipment_for(order, "9400100000000000000001"), "shp:fulfil")
    assert again == ref
    (fulfillment,) = sim.fulfillments_for(placed["id"])
    assert str(fulfillment["id"]) == ref
    assert fulfillment["tracking_number"] == "9400100000000000000001"
    assert fulfillment["tracking_company"] == "USPS"
    assert [(li["sku"], li["quantity"]) for li in fulfillment["line_items"]] == [("HOOD-FLC-L", 1), ("SOCK-MER-3P", 2)]

    shipped = shipment_for(order, "9400100000000000000001", ref=ref)
    channel.push_tracking(order, shipped, TrackingStatus.IN_TRANSIT, "shp:in_transit")
    channel.push_tracking(order, shipped, TrackingStatus.IN_TRANSIT, "shp:in_transit")
    channel.push_tracking(order, shipped, TrackingStatus.DELIVERED, "shp:delivered")
    assert [e["status"] for e in sim.events_for(int(ref))] == ["in_transit", "delivered"]

    # the fulfillment changed the order, so the next pass brings it back, fulfilled,
    # but as the same version: nothing fulfilhub reads from it has changed
    updated, cursor = full_pass(channel, cursor)
    assert [(p["id"], p["fulfillment_status"]) for p in updated] == [(placed["id"], "fulfilled")]
    echo = channel.parse_order(updated[0])
    assert echo.version == order.version
    assert echo.updated_at > order.updated_at

    clock.advance(timedelta(hours=1))
    sim.update_order(placed["id"], note="Ring twice")
    edited, _ = full_pass(channel, cursor)
    changed = channel.parse_order(edited[0])
    assert changed.note == "Ring twice"
    assert changed.version != order.version
    assert changed.updated_at > echo.updated_at


def test_a_partial_shipment_leaves_the_rest_open(start, clock):
    _, sim, channel = start(orders_per_day=0)
    placed = sim.add_order([{"sku": "TEE-ORG-M", "quantity": 3}])
    order = channel.parse_order(sim.order(placed["id"]))
    first = ShipmentPush(
        shipment_id="a", lines=(ShipmentLine(sku="TEE-ORG-M", quantity=2),), tracking_code="A1",
        tracking_url="", carrier_name="DHL", service="Express",
    )
    channel.push_fulfillment(order, first, "a")
    assert sim.order(placed["id"])["fulfillment_status"] == "partial"
    second = ShipmentPush(
        shipment_id="b", lines=(ShipmentLine(sku="TEE-ORG-M", quantity=2),), tracking_code="B1",
        tracking_url="", carrier_name="DHL", service="Express",
    )
    with pytest.raises(PermanentError, match="no open fulfillment order has 2 left"):
        channel.push_fulfillment(order, second, "b")
    assert len(sim.fulfillments_for(placed["id"])) == 1


class LossyTransport(httpx.HTTPTransport):
    """Real HTTP to the sandbox, except that the answer to the next ``lose`` requests
    whose path ends with ``lose_path`` is lost on the way back (a read timeout after
    the shop has acted). Every request sent is noted in ``sent`` as (method, last path part).
    """

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self.lose_path = ""
        self.lose = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path.rsplit("/", 1)[-1]))
        response = super().handle_request(request)
        if self.lose and request.method == "POST" and request.url.path.endswith(self.lose_path):
            self.lose -= 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("the answer was lost on the way back", request=request)
        return response


def channel_with(server, clock, transport: LossyTransport) -> ShopifyChannel:
    settings = {"base_url": server.url_for("shopify"), "access_token": TOKEN}
    return ShopifyChannel(instance_context("shop", settings, clock=clock, secrets=[TOKEN], transport=transport, schema=SETTINGS))


def test_a_retry_after_a_fulfillment_whose_answer_was_lost_creates_no_duplicate(start, clock):
    server, sim, _ = start(orders_per_day=0)
    placed = sim.add_order([{"sku": "HOOD-FLC-L", "quantity": 1}])
    transport = LossyTransport()
    channel = channel_with(server, clock, transport)
    try:
        order = channel.parse_order(sim.order(placed["id"]))
        push = shipment_for(order, "9400100000000000000077")
        transport.lose_path, transport.lose = "/fulfillments.json", 1
        with pytest.raises(TransientError, match="not resent"):
            channel.push_fulfillment(order, push, "shp:fulfil", attempt=1)
        assert len(sim.fulfillments_for(placed["id"])) == 1  # the shop did act on it
        ref = channel.push_fulfillment(order, push, "shp:fulfil", attempt=2)
    finally:
        channel.close()
    (fulfillment,) = sim.fulfillments_for(placed["id"])
    assert str(fulfillment["id"]) == ref
    assert transport.sent[-1] == ("GET", "fulfillments.json")  # the retry looked, found it, posted nothing


def test_a_retry_after_an_event_whose_answer_was_lost_posts_no_duplicate(start, clock):
    server, sim, _ = start(orders_per_day=0)
    placed = sim.add_order([{"sku": "HOOD-FLC-L", "quantity": 1}])
    transport = LossyTransport()
    channel = channel_with(server, clock, transport)
    try:
        order = channel.parse_order(sim.order(placed["id"]))
        ref = channel.push_fulfillment(order, shipment_for(order, "9400100000000000000078"), "shp:fulfil", attempt=1)
        shipped = shipment_for(order, "9400100000000000000078", ref=ref)
        transport.lose_path, transport.lose = "/events.json", 1
        with pytest.raises(TransientError):
            channel.push_tracking(order, shipped, TrackingStatus.IN_TRANSIT, "shp:in_transit", attempt=1)
        channel.push_tracking(order, shipped, TrackingStatus.IN_TRANSIT, "shp:in_transit", attempt=2)
        channel.push_tracking(order, shipped, TrackingStatus.DELIVERED, "shp:delivered", attempt=1)
    finally:
        channel.close()
    assert [e["status"] for e in sim.events_for(int(ref))] == ["in_transit", "delivered"]


def test_first_attempts_make_one_post_each_and_no_lookups(start, clock):
    server, sim, _ = start(orders_per_day=0)
    placed = sim.add_order([{"sku": "TEE-ORG-M", "quantity": 2}])
    transport = LossyTransport()
    channel = channel_with(server, clock, transport)
    try:
        order = channel.parse_order(sim.order(placed["id"]))
        ref = channel.push_fulfillment(order, shipment_for(order, "9400100000000000000079"), "shp:fulfil", attempt=1)
        shipped = shipment_for(order, "9400100000000000000079", ref=ref)
        channel.push_tracking(order, shipped, TrackingStatus.IN_TRANSIT, "shp:in_transit", attempt=1)
    finally:
        channel.close()
    assert transport.sent == [("GET", "fulfillment_orders.json"), ("POST", "fulfillments.json"), ("POST", "events.json")]
    assert [e["status"] for e in sim.events_for(int(ref))] == ["in_transit"]


def test_push_stock_sets_available_at_the_location_by_sku_and_reports_unlisted_skus(start, clock):
    from fulfilhub import StockPusher, capabilities

    _, sim, channel = start(orders_per_day=0)
    assert isinstance(channel, StockPusher)
    assert "push_stock" in capabilities(channel)
    sku, other = sim.catalog[0]["sku"], sim.catalog[1]["sku"]
    assert channel.push_stock({sku: 12, other: 0, "NOT-SOLD-HERE": 3}, "push_stock:shop:1") == ["NOT-SOLD-HERE"]
    stock = sim.stock()
    assert stock[sku] == 12
    assert stock[other] == 0
    assert stock[sim.catalog[2]["sku"]] is None
    assert channel.push_stock({sku: 11}, "push_stock:shop:2") == []  # the catalogue read once, not again
    assert sim.stock()[sku] == 11


def test_push_stock_answers_of_the_wrong_shape_are_retried_later(start, clock):
    server, sim, channel = start(orders_per_day=0)
    server.context.faults.add("malformed", path="/shopify/admin/api/2024-10/products.json", times=1)
    with pytest.raises(TransientError):
        channel.push_stock({sim.catalog[0]["sku"]: 1}, "push_stock:shop:1")
    assert channel.push_stock({sim.catalog[0]["sku"]: 1}, "push_stock:shop:1") == []
