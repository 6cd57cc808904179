"""Shippo's HMAC-signed webhooks: what the simulator sends, the adapter verifies and maps."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fulfilhub import SimClock, TrackingStatus
from fulfilhub.testing import instance_context

from fulfilhub_shippo import ShippoCarrier
from fulfilhub_shippo.carrier import SETTINGS, SIGNATURE_HEADER, sign

SECRET = "whsec_shippo_0a1b2c3d4e5f"


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, webhook_secret=SECRET, exception_rate=0, delay_rate=0)
    adapter = ShippoCarrier(instance_context("shippo", {"api_key": "k", "base_url": server.url_for("shippo"),
                                                        "webhook_secret": SECRET}, clock=clock, secrets=[SECRET],
                                             schema=SETTINGS))
    yield clock, server.simulators["shippo"], adapter
    adapter.close()


def test_the_simulators_webhooks_verify_and_follow_the_parcel(world, shipment_request):
    clock, sim, adapter = world
    label = adapter.buy(adapter.quote(shipment_request)[0], "k/1")
    seen = []
    for _ in range(8):
        for headers, body in sim.pending_webhooks():
            assert adapter.verify_webhook(headers, body)
            seen.append((json.loads(body)["event"], adapter.parse_webhook(headers, body)))
        clock.advance(timedelta(hours=12))
    assert seen[0][0] == "transaction_created"
    assert seen[0][1].tracking_code == label.tracking_code
    tracks = [update for event, update in seen if event == "track_updated"]
    assert tracks
    assert tracks[-1].status is TrackingStatus.DELIVERED
    assert all(update.tracking_code == label.tracking_code for update in tracks)
    assert sim.pending_webhooks() == []  # nothing new: nothing sent


def test_a_delivery_is_known_by_its_body_and_sent_at_its_signed_time(world):
    clock, _, adapter = world
    body = b'{"event": "track_updated", "test": true, "data": {}}'
    stamp = int(clock.now().timestamp())
    headers = {SIGNATURE_HEADER.lower(): sign(body, SECRET, stamp)}  # servers lower-case header names
    assert adapter.verify_webhook(headers, body)
    delivery = adapter.webhook_delivery(headers, body)
    assert delivery.id.startswith("sha256:")
    assert delivery.signed
    assert int(delivery.sent_at.timestamp()) == stamp
    assert adapter.webhook_delivery(headers, body).id == delivery.id  # a retry is the same delivery
    assert adapter.webhook_delivery({}, body).sent_at is None


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1,v1=", "t=99999999999999999999,v1=00",
                                    "garbage"])
def test_malformed_signatures_are_refused(world, header):
    clock, _, adapter = world
    assert adapter.verify_webhook({SIGNATURE_HEADER: header}, b"{}") is False


def test_a_webhook_signed_too_far_ahead_is_refused_too(world):
    clock, _, adapter = world
    body = b"{}"
    ahead = int((clock.now() + timedelta(minutes=10)).timestamp())
    assert adapter.verify_webhook({SIGNATURE_HEADER: sign(body, SECRET, ahead)}, body) is False


def test_an_upper_case_hex_signature_verifies_too(world):
    clock, _, adapter = world
    body = b'{"event": "track_updated"}'
    stamp = int(clock.now().timestamp())
    t, v1 = sign(body, SECRET, stamp).split(",v1=")
    assert adapter.verify_webhook({SIGNATURE_HEADER: f"{t},v1={v1.upper()}"}, body)
