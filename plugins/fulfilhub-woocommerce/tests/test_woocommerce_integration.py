"""The adapter against the simulator over real HTTP on loopback, on one scenario clock: the hard parts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from fulfilhub import (
    CompensationKind,
    CompensationProposal,
    Money,
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
from fulfilhub_woocommerce import WoocommerceChannel
from fulfilhub_woocommerce.channel import SETTINGS
from fulfilhub_woocommerce.simulator import WoocommerceSimulator

#: Quick retries that still honour a Retry-After of minutes (sleeping on the scenario clock).
POLICY = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=120.0, timeout=5.0)
KEY, SECRET, HOOK = "ck_test_0123456789", "cs_test_9876543210", "whsec_test_55"


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def start(clock):
    """``start(settings, **options)``: a sandbox serving the simulator, and an adapter pointed at it."""
    opened = []

    def run(channel_settings=None, **options):
        sim_options = {"consumer_key": KEY, "consumer_secret": SECRET, "update_rate": 0.0, "cancel_rate": 0.0,
                       "unpaid_rate": 0.0, **options}
        context = SandboxContext(clock=clock, seed=1, options={"woocommerce": sim_options})
        server = SandboxServer({"woocommerce": Simulator(name="woocommerce", factory=WoocommerceSimulator)}, context)
        server.start()
        settings = {"base_url": server.url_for("woocommerce"), "consumer_key": KEY, "consumer_secret": SECRET,
                    "webhook_secret": HOOK, **(channel_settings or {})}
        channel = WoocommerceChannel(instance_context("woo", settings, clock=clock, secrets=[KEY, SECRET, HOOK],
                                                      schema=SETTINGS, kind="channels", policy=POLICY))
        opened.append((server, channel))
        return server, server.simulators["woocommerce"], channel

    yield run
    for server, channel in opened:
        channel.close()
        server.stop()


def test_plain_http_to_a_remote_shop_is_refused_before_a_secret_is_sent(clock):
    from fulfilhub import ConfigError

    with pytest.raises(ConfigError, match="HTTPS") as info:
        WoocommerceChannel(instance_context("woo", {"base_url": "http://shop.example.com", "consumer_key": KEY,
                                                    "consumer_secret": SECRET}, clock=clock, schema=SETTINGS))
    assert info.value.key.endswith("base_url")
    assert SECRET not in str(info.value)


def full_pass(channel, cursor):
    payloads = []
    while True:
        page = channel.fetch_orders(cursor)
        payloads.extend(page.payloads)
        cursor = page.next_cursor
        if not page.has_more:
            return payloads, cursor


def push_for(order, n=1, lines=None):
    return ShipmentPush(
        shipment_id=f"{order.id}/{n}",
        lines=tuple(lines or (ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                              for line in order.lines)),
        tracking_code=f"1ZTEST{order.external_id}{n}", tracking_url=f"https://track.example/1ZTEST{order.external_id}{n}",
        carrier_name="UPS", service="Ground",
    )


def test_unpaid_orders_are_read_past_and_taken_in_once_paid(start, clock):
    _, sim, channel = start({"page_size": 7}, orders_per_day=96, unpaid_rate=0.4)
    cursor, pulled, seen_pending = None, [], set()
    for _ in range(36):  # six hours, a pull every ten minutes
        clock.advance(timedelta(minutes=10))
        payloads, cursor = full_pass(channel, cursor)
        pulled += payloads
        with sim.state as state:
            seen_pending |= {o["id"] for o in state["orders"].values() if o["status"] == "pending"}
    sim.stop_arrivals()
    clock.advance(timedelta(hours=1))  # every pending order is paid within 30 minutes
    pulled += full_pass(channel, cursor)[0]
    assert seen_pending, "no order was pending at a pull; raise unpaid_rate"
    assert {p["status"] for p in pulled} == {"processing"}
    with sim.state as state:
        assert {p["id"] for p in pulled} == set(state["orders"])
    assert all(channel.parse_order(p).cancelled_at is None for p in pulled)


def test_pagination_that_changes_under_the_cursor_loses_nothing(start, clock):
    _, sim, channel = start({"page_size": 5}, orders_per_day=96)
    clock.advance(timedelta(hours=6))
    sim.stop_arrivals()
    with sim.state as state:
        everything = set(state["orders"])
    page = channel.fetch_orders(None)
    assert page.has_more
    assert len(page.payloads) == 5
    # A shop manager edits two orders of the first page: by page number, page 2 would now start two
    # orders later and skip two that were never read.
    clock.advance(timedelta(minutes=1))
    for payload in page.payloads[:2]:
        sim.edit_order(payload["id"], customer_note="call before delivery")
    rest, _ = full_pass(channel, page.next_cursor)
    read = [p["id"] for p in page.payloads] + [p["id"] for p in rest]
    assert set(read) == everything, f"missed {sorted(everything - set(read))}"
    edited = [p for p in rest if p["id"] in {q["id"] for q in page.payloads[:2]}]
    assert [p["customer_note"] for p in edited] == ["call before delivery"] * 2  # read again, at their new version


def test_more_orders_in_one_second_than_a_page_holds_are_all_read(start, clock):
    _, sim, channel = start({"page_size": 3}, orders_per_day=0)
    with sim.state as state:
        at = clock.now()
        for _ in range(8):
            sim._place(state, at)
    payloads, cursor = full_pass(channel, None)
    assert len({p["id"] for p in payloads}) == 8
    clock.advance(timedelta(minutes=5))
    again, _ = full_pass(channel, cursor)
    assert again == [] or all(p["id"] in {q["id"] for q in payloads} for p in again)  # within the overlap only


def test_an_order_edited_after_it_was_pulled_comes_again_at_a_new_version(start, clock):
    _, sim, channel = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    payloads, cursor = full_pass(channel, None)
    first = channel.parse_order(payloads[0])
    clock.advance(timedelta(minutes=10))
    changed = {**payloads[0]["line_items"][0], "quantity": payloads[0]["line_items"][0]["quantity"] + 1,
               "subtotal": f"{Decimal(payloads[0]['line_items'][0]['subtotal']) * 2:.2f}"}
    sim.edit_order(first.external_id and int(first.external_id), line_items=[changed],
                   shipping={**payloads[0]["shipping"], "address_1": "1 New Street"})
    again, _ = full_pass(channel, cursor)
    new = next(channel.parse_order(p) for p in again if p["id"] == int(first.external_id))
    assert new.version != first.version
    assert new.ship_to.line1 == "1 New Street"
    assert new.lines[0].quantity == first.lines[0].quantity + 1
    assert len(new.lines) == 1


def test_an_order_cancelled_mid_fulfilment_is_pulled_as_cancelled_and_not_marked_shipped(start, clock):
    _, sim, channel = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    payloads, cursor = full_pass(channel, None)
    order = channel.parse_order(payloads[0])
    clock.advance(timedelta(minutes=30))
    sim.edit_order(int(order.external_id), status="cancelled")
    again, _ = full_pass(channel, cursor)
    cancelled = next(channel.parse_order(p) for p in again if p["id"] == int(order.external_id))
    assert cancelled.cancelled_at is not None
    assert cancelled.version != order.version
    with pytest.raises(PermanentError, match="cancelled in the shop"):
        channel.push_fulfillment(order, push_for(order), "k1", attempt=1)
    assert sim.fulfillments_for(int(order.external_id)) == []


def test_a_shipment_becomes_a_customer_note_meta_and_completed_once_all_shipped(start, clock):
    _, sim, channel = start({"shipment_tracking": True, "tracking_providers": {"UPS": "UPS"}}, orders_per_day=24)
    clock.advance(timedelta(hours=6))
    payloads, _ = full_pass(channel, None)
    order = next(o for o in map(channel.parse_order, payloads) if len(o.lines) == 2)
    first, second = (push_for(order, n, [ShipmentLine(sku=line.sku, quantity=line.quantity,
                                                      order_line_id=line.external_id)])
                     for n, line in enumerate(order.lines, 1))
    ref = channel.push_fulfillment(order, first, f"pf:{first.shipment_id}", attempt=1)
    oid = int(order.external_id)
    assert sim.order(oid)["status"] == "processing"  # half of it shipped
    assert channel.push_fulfillment(order, first, f"pf:{first.shipment_id}", attempt=2) == ref
    channel.push_fulfillment(order, second, f"pf:{second.shipment_id}", attempt=1)
    shop = sim.order(oid)
    assert shop["status"] == "completed"
    notes = sim.fulfillments_for(oid)
    assert len(notes) == 2
    assert all(n["customer_note"] for n in notes)
    assert first.tracking_code in notes[0]["note"]
    assert [t["tracking_provider"] for t in sim.trackings_for(oid)] == ["UPS", "UPS"]
    # milestones: one note per key, milestones Woo's buyer is not told of skipped
    pushed = attrs.evolve(first, fulfillment_ref=ref)
    channel.push_tracking(order, pushed, TrackingStatus.OUT_FOR_DELIVERY, "pt:1:ofd", attempt=1)
    channel.push_tracking(order, pushed, TrackingStatus.OUT_FOR_DELIVERY, "pt:1:ofd", attempt=2)
    channel.push_tracking(order, pushed, TrackingStatus.PRE_TRANSIT, "pt:1:pre", attempt=1)
    assert [n["note"].split(" (ref")[0] for n in sim.milestones_for(oid)] == [
        f"Your parcel {first.tracking_code} is out for delivery today."]
    # fulfilhub's own note, meta and completion are an echo, not a new version
    again = channel.parse_order(sim.order(oid))
    assert again.version == order.version
    assert again.cancelled_at is None


def test_a_shipment_note_whose_order_update_failed_is_found_not_posted_again_and_429_is_waited_for(start, clock):
    server, sim, channel = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    order = channel.parse_order(full_pass(channel, None)[0][0])
    oid = int(order.external_id)
    server.context.faults.add("429", path=f"/woocommerce/wp-json/wc/v3/orders/{oid}/notes", times=1, retry_after=20)
    before = clock.now()
    channel.push_tracking(order, push_for(order), TrackingStatus.DELIVERED, "pt:delivered", attempt=1)
    assert (clock.now() - before).total_seconds() >= 20
    assert len(sim.milestones_for(oid)) == 1
    server.context.faults.add("503", path=f"/woocommerce/wp-json/wc/v3/orders/{oid}", method="GET", times=1)
    server.context.faults.add("500", path=f"/woocommerce/wp-json/wc/v3/orders/{oid}", method="PUT", times=3)  # every try
    with pytest.raises(TransientError):  # the GET was retried, the note posted, the order's update failed
        channel.push_fulfillment(order, push_for(order), "pf:1", attempt=1)
    assert len(sim.fulfillments_for(oid)) == 1
    assert sim.order(oid)["meta_data"] == []
    ref = channel.push_fulfillment(order, push_for(order), "pf:1", attempt=2)  # the outbox's retry
    assert len(sim.fulfillments_for(oid)) == 1, "the retry posted a second shipment note"
    assert ref == str(sim.fulfillments_for(oid)[0]["id"])
    assert sim.order(oid)["status"] == "completed"
    assert sim.order(oid)["meta_data"][0]["value"]["note_id"] == ref
    assert channel.push_fulfillment(order, push_for(order), "pf:1", attempt=3) == ref  # recorded: nothing more
    assert len(sim.fulfillments_for(oid)) == 1


def test_a_coupon_is_issued_once_per_key_even_when_the_first_answer_was_lost(start, clock):
    _, sim, channel = start(orders_per_day=24)
    clock.advance(timedelta(hours=3))
    order = channel.parse_order(full_pass(channel, None)[0][0])
    grant = CompensationProposal(kind=CompensationKind.DISCOUNT, value=Money(amount=Decimal("5"), currency="USD"),
                                 tier="late-1d")
    code, ref = channel.issue_compensation(order, grant, "comp:1", attempt=1)
    # attempt 1 again (the outbox lost track): the code exists, WooCommerce refuses it, the coupon is found
    assert channel.issue_compensation(order, grant, "comp:1", attempt=1) == (code, ref)
    assert channel.issue_compensation(order, grant, "comp:1", attempt=2) == (code, ref)
    assert [(c["code"], c["amount"], c["email_restrictions"]) for c in sim.coupons()] == [
        (code.lower(), "5.00", [order.email])]
    points = attrs.evolve(grant, kind=CompensationKind.POINTS)
    assert channel.issue_compensation(order, points, "comp:2", attempt=1) is None


def test_the_same_order_by_webhook_and_by_poll_is_one_order_at_one_version(start, clock):
    _, sim, channel = start(orders_per_day=24, webhook_secret=HOOK)
    clock.advance(timedelta(hours=4))
    deliveries = sim.pending_webhooks()
    assert deliveries
    headers, body = deliveries[0]
    assert channel.verify_webhook(headers, body)
    assert not channel.verify_webhook(headers, body.replace(b"processing", b"completed"))
    by_webhook = channel.parse_webhook(headers, body)
    by_poll = {o.external_id: o for o in map(channel.parse_order, full_pass(channel, None)[0])}
    assert by_webhook == by_poll[by_webhook.external_id]  # same id and version: the runner stores it once
    assert channel.webhook_delivery(headers, body).id == headers["X-WC-Webhook-Delivery-ID"]


def test_stock_is_set_by_sku_in_batches_and_unknown_skus_are_reported(start, clock):
    from fulfilhub import StockPusher, capabilities

    server, sim, channel = start(orders_per_day=0)
    assert isinstance(channel, StockPusher)
    assert "push_stock" in capabilities(channel)
    levels = {"TEE-ORG-M": 7, "MUG-ENM-350": 0, "NOT-IN-SHOP": 4}
    server.context.faults.add("429", path="/woocommerce/wp-json/wc/v3/products/batch", times=1, retry_after=3)
    assert channel.push_stock(levels, "push_stock:woo:1", attempt=1) == ["NOT-IN-SHOP"]
    stock = sim.stock()
    assert stock["TEE-ORG-M"] == 7
    assert stock["MUG-ENM-350"] == 0
    assert stock["TEA-OOL-100"] is None
    assert channel.push_stock(levels, "push_stock:woo:1", attempt=2) == ["NOT-IN-SHOP"]  # again: the same numbers
    assert sim.stock()["TEE-ORG-M"] == 7


def test_a_sku_pushed_at_zero_is_no_longer_sold(start, clock):
    _, sim, channel = start(orders_per_day=200)
    channel.push_stock({"TEE-ORG-M": 0, "MUG-ENM-350": 2}, "push_stock:woo:1", attempt=1)
    clock.advance(timedelta(hours=6))
    sold = [line["sku"] for p in full_pass(channel, None)[0] for line in p["line_items"]]
    with sim.state as state:  # every order placed, paid or not
        mugs = sum(line["quantity"] for o in state["orders"].values() for line in o["line_items"]
                   if line["sku"] == "MUG-ENM-350")
    assert len(sold) > 20
    assert "TEE-ORG-M" not in sold
    assert mugs <= 2
    assert sim.stock()["MUG-ENM-350"] == 2 - mugs
