"""The adapter against the simulator over real HTTP on loopback, on a shared scenario clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fulfilhub import ExceptionReason, PermanentError, RetryPolicy, SimClock, TrackingStatus
from fulfilhub.sandbox import SandboxServer
from fulfilhub.testing import FAST_RETRIES, instance_context

from fulfilhub_easypost import EasyPostCarrier
from fulfilhub_easypost.carrier import SETTINGS

KEY = "EZTK_test"
S = TrackingStatus


@pytest.fixture
def connect() -> Iterator[Callable[..., EasyPostCarrier]]:
    """``connect(server, clock, api_key=KEY, policy=FAST_RETRIES)``: an adapter pointed at the sandbox."""
    carriers: list[EasyPostCarrier] = []

    def make(
        server: SandboxServer, clock: SimClock, api_key: str = KEY, policy: RetryPolicy = FAST_RETRIES
    ) -> EasyPostCarrier:
        settings = {"base_url": server.url_for("easypost"), "api_key": api_key}
        carriers.append(
            EasyPostCarrier(instance_context("ep", settings, clock=clock, secrets=[api_key], policy=policy, schema=SETTINGS))
        )
        return carriers[-1]

    yield make
    for carrier in carriers:
        carrier.close()


def track_until_settled(carrier, label, clock, days: int = 12) -> list:
    """Poll once a day, as the runner would, until the parcel reaches an outcome."""
    updates = [carrier.track(label)]
    for _ in range(days):
        if updates[-1].status in (S.DELIVERED, S.EXCEPTION, S.CANCELLED):
            break
        clock.advance(timedelta(days=1))
        updates.append(carrier.track(label))
    return updates


def test_quote_buy_and_track_until_delivered(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY, exception_rate=0, delay_rate=0)
    carrier = connect(server, clock)
    sim = server.simulators["easypost"]

    rates = carrier.quote(shipment_request)
    cheapest = min(rates, key=lambda r: r.amount.amount)
    label = carrier.buy(cheapest, "fh-shp-000123:label")
    updates = track_until_settled(carrier, label, clock)

    assert len(rates) == 6
    assert cheapest.service == "GroundAdvantage"
    assert sim.shipments[cheapest.shipment_ref]["reference"] == "fh-shp-000123"
    assert sim.shipments[cheapest.shipment_ref]["parcel"]["weight"] == 42.4
    assert label.tracking_code == sim.trackers[label.tracker_ref]["tracking_code"]
    assert label.cost == cheapest.amount
    statuses = [u.status for u in updates]
    assert statuses[0] is S.PRE_TRANSIT
    assert statuses[-1] is S.DELIVERED
    assert S.IN_TRANSIT in statuses
    final = updates[-1]
    assert [e.source for e in final.events] == [
        "pre_transit/label_created",
        "in_transit/received_at_origin_facility",
        "in_transit/departed_origin_facility",
        "in_transit/arrived_at_facility",
        "in_transit/departed_facility",
        "in_transit/received_at_destination_facility",
        "out_for_delivery/out_for_delivery",
        "delivered/arrived_at_destination",
    ]
    assert final.eta_date == cheapest.delivery_date.date()  # a date-only estimate: a day
    assert final.events[-1].at.date() == cheapest.delivery_date.date()  # on time: delivered on the promised day
    assert final.events[-1].location == "REDONDO BEACH, CA, US"
    assert all(u.reason is None for u in updates)


def test_buying_twice_over_http_buys_once(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    carrier = connect(server, clock)
    rate = carrier.quote(shipment_request)[0]

    first = carrier.buy(rate, "k")
    second = carrier.buy(rate, "k")

    assert second == first
    assert server.simulators["easypost"].purchases_count() == 1


def test_injected_503s_are_survived(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    carrier = connect(server, clock)
    server.context.faults.add("503", path="/easypost/", times=2)

    rates = carrier.quote(shipment_request)

    assert len(rates) == 6
    assert server.context.faults.injected == 2
    assert len(server.simulators["easypost"].shipments) == 1


def test_a_purchase_that_times_out_is_retried_and_bought_once(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    policy = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=0.1, timeout=0.3)
    carrier = connect(server, clock, policy=policy)
    rate = carrier.quote(shipment_request)[0]
    server.context.faults.add("timeout", path="/buy", delay=0.8)

    label = carrier.buy(rate, "k")

    sim = server.simulators["easypost"]
    assert label.tracking_code == sim.shipments[rate.shipment_ref]["tracking_code"]
    assert server.context.faults.injected == 1
    server.stop()  # lets the delayed first request reach the simulator too
    assert sim.purchases_count() == 1


def test_a_wrong_api_key_is_a_permanent_error_without_the_key(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    carrier = connect(server, clock, api_key="EZTK_wrong_key")

    with pytest.raises(PermanentError) as caught:
        carrier.quote(shipment_request)

    assert caught.value.status_code == 401
    assert "APIKEY.REQUIRED" in str(caught.value)
    assert "EZTK_wrong_key" not in str(caught.value)


def test_exceptions_show_their_reason(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY, exception_rate=1.0, delay_rate=0)
    carrier = connect(server, clock)
    sim = server.simulators["easypost"]
    labels = {}
    for _ in range(8):
        label = carrier.buy(carrier.quote(shipment_request)[0], "k")
        labels.setdefault(sim.plan(label.tracker_ref).outcome, label)
    assert set(labels) == {"weather_delay", "lost", "failed_attempt"}  # seed 1 meets all three
    clock.advance(timedelta(days=8))

    weather = carrier.track(labels["weather_delay"])
    lost = carrier.track(labels["lost"])
    attempt = carrier.track(labels["failed_attempt"])

    assert [e.reason for e in weather.events if e.reason] == [ExceptionReason.WEATHER]
    assert weather.status is S.DELIVERED
    assert weather.eta_date > sim.plan(labels["weather_delay"].tracker_ref).promised.date()
    assert (lost.status, lost.reason, lost.est_delivery) == (S.EXCEPTION, ExceptionReason.LOST, None)
    assert [e.status for e in attempt.events if e.reason] == [S.FAILED_ATTEMPT]
    assert attempt.status is S.DELIVERED


def test_a_late_parcel_moves_its_eta_before_the_promised_day(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY, exception_rate=0, delay_rate=1.0)
    carrier = connect(server, clock)
    rate = next(r for r in carrier.quote(shipment_request) if r.service == "FEDEX_GROUND")
    label = carrier.buy(rate, "k")

    updates = track_until_settled(carrier, label, clock)

    etas = [u.eta_date for u in updates if u.status is not S.DELIVERED]
    assert etas[0] == rate.delivery_date.date()
    assert etas[-1] > rate.delivery_date.date()  # the carrier said so while the parcel was still moving
    assert updates[-1].status is S.DELIVERED
    assert updates[-1].events[-1].at > rate.delivery_date + timedelta(days=1)


def test_void_before_the_first_scan_cancels_the_label(sandbox, connect, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    carrier = connect(server, clock)
    voided = carrier.buy(carrier.quote(shipment_request)[0], "a")
    scanned = carrier.buy(carrier.quote(shipment_request)[0], "b")

    carrier.void(voided)
    clock.advance(timedelta(days=1))

    assert carrier.track(voided).status is S.CANCELLED
    with pytest.raises(PermanentError, match="rejected the refund"):
        carrier.void(scanned)
