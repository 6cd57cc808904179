"""The ShipBob adapter over real HTTP on loopback against the simulator: the hard parts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fulfilhub import (
    Address,
    FulfillmentRequest,
    FulfillmentStatus,
    FulfillmentUpdate,
    Label,
    Money,
    PermanentError,
    ShipmentLine,
    TrackingStatus,
    TrackingUpdate,
)

F = FulfillmentStatus
TO = Address(name="Ada Lovelace", line1="179 N Harbor Dr", city="Redondo Beach", province="CA", postal_code="90277",
             country="US")


def request(n: int, *lines: tuple[str, int]) -> FulfillmentRequest:
    return FulfillmentRequest(key=f"warehouse.submit:shop:{n}/1", shipment_id=f"shop:{n}/1", order_id=f"shop:{n}",
                              order_number=f"#{n}", lines=tuple(ShipmentLine(sku=s, quantity=q) for s, q in lines),
                              ship_to=TO)


def until(adapter, clock, ref, status, hours=100) -> FulfillmentUpdate:
    for _ in range(hours):
        update = adapter.status(ref)
        if update.status is status:
            return update
        clock.advance(timedelta(hours=1))
    raise AssertionError(f"{ref} never reached {status} (last {update.status})")


def label_of(update: FulfillmentUpdate) -> Label:
    return Label(carrier="main", carrier_name=update.carrier, service=update.service,
                 tracking_code=update.tracking_code, cost=Money(amount=0, currency="USD"), shipment_ref=update.ref)


def test_an_order_goes_picked_packed_shipped_with_shipbobs_carrier_and_is_delivered(shipbob, clock):
    adapter, sim = shipbob()
    ref = adapter.submit(request(1, ("MUG-BLUE", 2)))
    seen = []
    for _ in range(12):
        seen.append(adapter.status(ref).status)
        clock.advance(timedelta(hours=1))
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == [F.SUBMITTED, F.PICKING, F.PACKED,
                                                                           F.SHIPPED]
    shipped = adapter.status(ref)
    assert shipped.carrier == "USPS"
    assert shipped.tracking_code.startswith("9400")
    assert shipped.tracking_url.endswith(shipped.tracking_code)
    assert sim.stock()["MUG-BLUE"] == 118  # it left ShipBob
    track = adapter.track(label_of(shipped))
    assert track.status is TrackingStatus.PRE_TRANSIT
    clock.advance(timedelta(hours=60))
    assert adapter.track(label_of(shipped)).status is TrackingStatus.DELIVERED


def test_a_shipment_split_into_two_packages_ships_when_both_left_and_is_delivered_when_both_are(shipbob, clock):
    adapter, _ = shipbob(split_over_units=3)
    ref = adapter.submit(request(2, ("MUG-BLUE", 2), ("TEA-50G", 3)))
    shipped = until(adapter, clock, ref, F.SHIPPED)
    assert len(shipped.more_tracking_codes) == 1
    assert shipped.more_tracking_codes[0] != shipped.tracking_code
    # one package delivered is not the shipment delivered: the shipment_delivered webhook of
    # the first package is read again with its sibling
    statuses = set()
    for _ in range(80):
        statuses.add(adapter.track(label_of(shipped)).status)
        clock.advance(timedelta(hours=1))
    assert TrackingStatus.DELIVERED in statuses
    assert adapter.track(label_of(shipped)).status is TrackingStatus.DELIVERED


def test_an_order_cancelled_after_it_was_sent_releases_shipbobs_commitment(shipbob, clock):
    adapter, sim = shipbob()
    ref = adapter.submit(request(3, ("TEA-50G", 4)))
    assert sim.committed()["TEA-50G"] == 4
    (level,) = adapter.stock_levels(["TEA-50G"])
    assert (level.on_hand, level.available) == (300, 296)
    clock.advance(timedelta(hours=1))  # sent, not yet picked
    adapter.cancel(ref)
    assert adapter.status(ref).status is F.CANCELLED
    assert sim.committed()["TEA-50G"] == 0
    adapter.cancel(ref)  # again: still cancelled, no error


def test_an_order_already_picked_cannot_be_cancelled_and_says_why(shipbob, clock):
    adapter, sim = shipbob()
    ref = adapter.submit(request(9, ("TEA-50G", 1)))
    clock.advance(timedelta(hours=3))
    with pytest.raises(PermanentError, match="already picked"):
        adapter.cancel(ref)
    assert sim.committed()["TEA-50G"] == 1  # still ShipBob's to ship


def test_an_order_that_left_cannot_be_cancelled_and_says_why(shipbob, clock):
    adapter, _ = shipbob()
    ref = adapter.submit(request(4, ("MUG-BLUE", 1)))
    until(adapter, clock, ref, F.SHIPPED)
    with pytest.raises(PermanentError, match="already been shipped"):
        adapter.cancel(ref)


def test_a_429_waits_as_long_as_shipbob_says_and_the_call_succeeds(shipbob, clock):
    adapter, sim = shipbob()
    began = clock.now()
    for _ in range(80):  # two calls each: 160 calls in one simulated instant, over ShipBob's 150 a minute
        adapter.stock_levels(["MUG-BLUE"])
    assert sim.throttled() >= 1
    assert clock.now() - began >= timedelta(seconds=1)  # the helper slept the x-retry-after on the clock


def test_out_of_stock_at_shipbob_is_rejected_with_the_reason(shipbob, clock):
    adapter, _ = shipbob()
    ref = adapter.submit(request(5, ("TEE-M", 500)))
    update = adapter.status(ref)
    assert update.status is F.REJECTED
    assert update.reason == "out of stock at ShipBob"


def test_a_lost_answer_to_a_submission_finds_the_first_order_by_its_reference(shipbob):
    adapter, sim = shipbob()
    first = adapter.submit(request(6, ("MUG-BLUE", 1)))
    assert adapter.submit(request(6, ("MUG-BLUE", 1))) == first  # ShipBob answers 422: the order exists
    assert sim.submissions() == 1


def test_the_same_status_by_webhook_and_by_poll(shipbob, clock):
    adapter, sim = shipbob()
    ref = adapter.submit(request(7, ("MUG-BLUE", 1)))
    polled = until(adapter, clock, ref, F.SHIPPED)
    hooks = sim.pending_webhooks()
    shipped = [(h, b) for h, b in hooks if h["shipbob-topic"] == "order_shipped"]
    assert shipped
    headers, body = shipped[-1]
    assert adapter.verify_webhook(headers, body) is True
    assert adapter.webhook_delivery(headers, body).id == headers["webhook-id"]
    assert adapter.parse_webhook(headers, body) == polled
    clock.advance(timedelta(hours=60))
    delivered = [(h, b) for h, b in sim.pending_webhooks() if h["shipbob-topic"] == "shipment_delivered"]
    headers, body = delivered[-1]
    assert adapter.verify_webhook(headers, body) is True
    by_webhook = adapter.parse_webhook(headers, body)
    assert isinstance(by_webhook, TrackingUpdate)
    assert by_webhook == adapter.track(label_of(polled))
    assert by_webhook.status is TrackingStatus.DELIVERED


def test_a_tampered_webhook_is_refused(shipbob, clock):
    adapter, sim = shipbob()
    ref = adapter.submit(request(8, ("MUG-BLUE", 1)))
    until(adapter, clock, ref, F.SHIPPED)
    headers, body = sim.pending_webhooks()[-1]
    changed = json.dumps({**json.loads(body), "id": 1}).encode()
    assert adapter.verify_webhook(headers, changed) is False
    assert adapter.verify_webhook({**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)},
                                  body) is False
