"""Disruptions scripted on the scenario clock, as the EasyPost simulator's trackers show them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fulfilhub import ExceptionReason, SimClock, Simulator, TrackingStatus
from fulfilhub.sandbox import SandboxContext, SandboxServer

from fulfilhub_easypost.mapping import parse_tracker
from fulfilhub_easypost.simulator import EasyPostSimulator

KEY = "EZTK_sim"
AUTH = (KEY, "")
FROM = {"name": "W", "street1": "55 Logistics Pkwy", "city": "Reno", "state": "NV", "zip": "89502", "country": "US"}


def to(state: str, city: str = "Somewhere", country: str = "US") -> dict[str, Any]:
    return {"name": "E", "street1": "1 Main St", "city": city, "state": state, "zip": "00000", "country": country}


@pytest.fixture
def world() -> Iterator[tuple[SimClock, SandboxContext, httpx.Client, EasyPostSimulator]]:
    clock = SimClock()  # 2026-01-05 08:00 UTC
    context = SandboxContext(clock=clock, seed=3, options={"easypost": {"api_key": KEY, "exception_rate": 0,
                                                                         "delay_rate": 0}})
    server = SandboxServer({"easypost": Simulator(name="easypost", factory=EasyPostSimulator)}, context).start()
    client = httpx.Client(base_url=server.url_for("easypost"), timeout=5)
    try:
        yield clock, context, client, server.simulators["easypost"]
    finally:
        client.close()
        server.stop()


def buy(client: httpx.Client, destination: dict[str, Any], carrier: str = "USPS", service: str = "Priority") -> str:
    body = {"shipment": {"from_address": FROM, "to_address": destination,
                         "parcel": {"length": 8, "width": 6, "height": 4, "weight": 20}}}
    shipment = client.post("/v2/shipments", json=copy.deepcopy(body), auth=AUTH).json()
    rate = next(r for r in shipment["rates"] if (r["carrier"], r["service"]) == (carrier, service))
    bought = client.post(f"/v2/shipments/{shipment['id']}/buy", json={"rate": {"id": rate["id"]}}, auth=AUTH).json()
    return bought["tracker"]["id"]


def tracker(client: httpx.Client, tracker_id: str) -> dict[str, Any]:
    return client.get(f"/v2/trackers/{tracker_id}", auth=AUTH).json()


def test_a_typhoon_closing_a_regions_hub_holds_its_parcels_with_a_weather_delay_and_a_later_eta(world):
    clock, context, client, sim = world
    start = clock.now() + timedelta(hours=12)
    context.disruptions.add("hub_closed", start=start, days=3, region="TW", cause="Typhoon Haikui")
    hit = buy(client, to(None, "Taipei City", "TW"))  # type: ignore[arg-type]
    spared = buy(client, to("NY", "Brooklyn"))
    promised = tracker(client, hit)["est_delivery_date"]
    assert promised == "2026-01-07T00:00:00Z"  # USPS Priority: two days

    clock.advance(timedelta(hours=6))
    assert tracker(client, hit)["status_detail"] != "weather_delay"  # nothing foreseen before it starts

    clock.advance(timedelta(hours=7))
    seen = tracker(client, hit)
    assert (seen["status"], seen["status_detail"]) == ("in_transit", "weather_delay")
    assert seen["est_delivery_date"] == "2026-01-10T00:00:00Z"  # three days later
    assert "Typhoon Haikui" in seen["tracking_details"][-1]["message"]
    update = parse_tracker(seen)
    assert (update.status, update.reason) == (TrackingStatus.IN_TRANSIT, ExceptionReason.WEATHER)
    assert update.eta_date == date(2026, 1, 10)

    clock.advance(timedelta(days=2))  # still closed: no further scan
    assert tracker(client, hit)["tracking_details"] == seen["tracking_details"]
    clock.advance(timedelta(days=4))
    done = tracker(client, hit)
    assert done["status"] == "delivered"
    delivered_at = datetime.fromisoformat(done["tracking_details"][-1]["datetime"].replace("Z", "+00:00"))
    assert delivered_at >= start + timedelta(days=3)
    assert sim.plan(hit).delivered_at == delivered_at
    assert all(d["status_detail"] != "weather_delay" for d in tracker(client, spared)["tracking_details"])


def test_a_parcel_handed_over_while_the_hub_is_closed_waits_too(world):
    clock, context, client, _ = world
    context.disruptions.add("hub_closed", start=clock.now(), days=2, region="WA")
    clock.advance(timedelta(hours=1))
    during = buy(client, to("WA", "Seattle"))
    clock.advance(timedelta(hours=1))
    seen = tracker(client, during)
    assert seen["status_detail"] == "weather_delay"
    assert seen["est_delivery_date"] == "2026-01-09T00:00:00Z"  # promised the 7th, two more days


def test_a_carrier_outage_leaves_its_parcels_without_scans_then_resumes_with_a_delay(world):
    clock, context, client, _ = world
    start = clock.now() + timedelta(hours=10)
    context.disruptions.add("carrier_outage", start=start, days=2, carrier="USPS")
    usps = buy(client, to("CO", "Denver"), "USPS", "GroundAdvantage")
    ups = buy(client, to("CO", "Denver"), "UPS", "Ground")
    clock.advance(timedelta(days=1, hours=12))  # inside the outage
    silent = tracker(client, usps)
    last = datetime.fromisoformat(silent["tracking_details"][-1]["datetime"].replace("Z", "+00:00"))
    assert last <= start  # not one scan since it began
    assert silent["est_delivery_date"] == "2026-01-09T00:00:00Z"  # stale: the four-day promise
    assert len(tracker(client, ups)["tracking_details"]) > 2  # UPS goes on
    clock.advance(timedelta(hours=22, minutes=30))  # 18:30 on the 7th: it resumed at 18:00
    resumed = tracker(client, usps)
    assert (resumed["status"], resumed["status_detail"]) == ("in_transit", "delayed")
    assert resumed["est_delivery_date"] == "2026-01-11T00:00:00Z"
    assert parse_tracker(resumed).reason is ExceptionReason.CARRIER_DELAY


def test_a_slowing_carrier_moves_its_eta_at_the_next_scan_and_lands_later(world):
    clock, context, client, sim = world
    context.disruptions.add("carrier_slow", start=clock.now(), days=10, carrier="FedEx", extra_days=2)
    slow = buy(client, to("IL", "Chicago"), "FedEx", "FEDEX_GROUND")
    normal = buy(client, to("IL", "Chicago"), "USPS", "Priority")
    assert tracker(client, slow)["est_delivery_date"] == "2026-01-08T00:00:00Z"  # the label still says 3 days
    clock.advance(timedelta(days=1))
    assert tracker(client, slow)["est_delivery_date"] == "2026-01-10T00:00:00Z"
    assert sim.plan(slow).delivered_at > datetime.fromisoformat("2026-01-10T00:00:00+00:00")
    assert sim.plan(normal).delivered_at < datetime.fromisoformat("2026-01-08T00:00:00+00:00")


def test_a_disruption_says_what_is_missing():
    from fulfilhub.sandbox import DisruptionPlan

    plan = DisruptionPlan()
    with pytest.raises(ValueError, match="region"):
        plan.add("hub_closed", start=SimClock().now(), days=1)
    with pytest.raises(ValueError, match="extra_days"):
        plan.add("carrier_slow", start=SimClock().now(), carrier="UPS")
    with pytest.raises(ValueError, match="kind"):
        plan.add("meteor", start=SimClock().now())
    assert len(plan) == 0
