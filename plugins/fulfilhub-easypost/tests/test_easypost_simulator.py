"""The EasyPost simulator on its own, over loopback HTTP: EasyPost's shapes and errors, scripts, determinism."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fulfilhub import SimClock
from fulfilhub.sandbox import SandboxContext

from fulfilhub_easypost.simulator import OUTCOMES, EasyPostSimulator, script_timeline

KEY = "EZTK_sim"
AUTH = (KEY, "")
SHIPMENT = {
    "shipment": {
        "reference": "fh-1",
        "from_address": {
            "name": "W",
            "street1": "388 Townsend St",
            "city": "San Francisco",
            "state": "CA",
            "zip": "94107",
            "country": "US",
        },
        "to_address": {
            "name": "E",
            "street1": "179 N Harbor Dr",
            "city": "Redondo Beach",
            "state": "CA",
            "zip": "90277",
            "country": "US",
        },
        "parcel": {"length": 7.9, "width": 5.6, "height": 4.0, "weight": 42.4},
    }
}


@pytest.fixture
def serve(sandbox) -> Iterator[Any]:
    """``client, sim = serve(seed=1, clock=None, **options)``: an HTTP client on a fresh simulator."""
    clients: list[httpx.Client] = []

    def start(
        *, seed: int = 1, clock: SimClock | None = None, **options: Any
    ) -> tuple[httpx.Client, EasyPostSimulator]:
        server = sandbox(seed=seed, clock=clock, api_key=KEY, **options)
        clients.append(httpx.Client(base_url=server.url_for("easypost"), timeout=5))
        return clients[-1], server.simulators["easypost"]

    yield start
    for c in clients:
        c.close()


@pytest.fixture
def client(serve) -> httpx.Client:
    return serve()[0]


def test_a_request_without_the_api_key_gets_easyposts_401(client):
    for auth in (None, ("EZTK_other", "")):
        response = client.post("/v2/shipments", json=SHIPMENT, auth=auth)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "APIKEY.REQUIRED"
        assert set(response.json()["error"]) == {"code", "message", "errors"}


def test_an_empty_shipment_is_refused_like_easypost_does(client):
    response = client.post("/v2/shipments", json={"shipment": {}}, auth=AUTH)
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "PARAMETER.REQUIRED",
            "message": "Missing required parameter.",
            "errors": [{"field": "shipment", "message": "cannot be blank"}],
        }
    }


def test_a_weightless_parcel_is_refused(client):
    body = {"shipment": SHIPMENT["shipment"] | {"parcel": {"length": 1}}}
    response = client.post("/v2/shipments", json=body, auth=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "SHIPMENT.INVALID_PARAMS"


def test_a_shipment_gets_one_rate_per_service_priced_by_weight(client):
    light = client.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()
    heavy_body = {"shipment": SHIPMENT["shipment"] | {"parcel": {"weight": 180.0}}}
    heavy = client.post("/v2/shipments", json=heavy_body, auth=AUTH).json()

    assert light["object"] == "Shipment"
    assert light["reference"] == "fh-1"
    assert [(r["carrier"], r["service"], r["delivery_days"]) for r in light["rates"]] == [
        ("USPS", "Priority", 2),
        ("USPS", "GroundAdvantage", 4),
        ("UPS", "Ground", 4),
        ("UPS", "NextDayAir", 1),
        ("FedEx", "FEDEX_GROUND", 3),
        ("FedEx", "FEDEX_2_DAY", 2),
    ]
    assert all(isinstance(r["rate"], str) and r["shipment_id"] == light["id"] for r in light["rates"])
    for cheap, dear in zip(light["rates"], heavy["rates"], strict=True):
        assert float(dear["rate"]) > float(cheap["rate"])


def test_carrier_accounts_limit_the_rating(client):
    first = client.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()
    ups = next(r["carrier_account_id"] for r in first["rates"] if r["carrier"] == "UPS")
    body = {"shipment": SHIPMENT["shipment"] | {"carrier_accounts": [ups]}}
    rates = client.post("/v2/shipments", json=body, auth=AUTH).json()["rates"]
    assert {r["carrier"] for r in rates} == {"UPS"}


def test_buying_twice_answers_postage_exists(client):
    shipment = client.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()
    buy = {"rate": {"id": shipment["rates"][0]["id"]}}
    url = f"/v2/shipments/{shipment['id']}/buy"

    bought = client.post(url, json=buy, auth=AUTH)
    again = client.post(url, json=buy, auth=AUTH)

    assert bought.status_code == 200
    assert bought.json()["tracking_code"]
    assert bought.json()["tracker"]["id"].startswith("trk_")
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "SHIPMENT.POSTAGE.EXISTS"


def test_unknown_ids_are_404(client):
    assert client.get("/v2/shipments/shp_nope", auth=AUTH).json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/v2/trackers/trk_nope", auth=AUTH).status_code == 404


def test_same_seed_same_world_other_seed_other_world(serve):
    def world(seed: int) -> list[Any]:
        c, _sim = serve(seed=seed)
        shipment = c.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()
        bought = c.post(
            f"/v2/shipments/{shipment['id']}/buy", json={"rate": {"id": shipment["rates"][2]["id"]}}, auth=AUTH
        ).json()
        return [shipment["id"], [r["rate"] for r in shipment["rates"]], bought["tracking_code"]]

    assert world(7) == world(7)
    assert world(7) != world(8)


def test_the_tracker_shows_only_scans_whose_time_has_come(serve):
    clock = SimClock()
    c, sim = serve(clock=clock, exception_rate=0, delay_rate=0)
    shipment = c.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()
    c.post(f"/v2/shipments/{shipment['id']}/buy", json={"rate": {"id": shipment["rates"][0]["id"]}}, auth=AUTH)
    tracker_id = next(iter(sim.trackers))
    seen_at_purchase = c.get(f"/v2/trackers/{tracker_id}", auth=AUTH).json()
    clock.advance(timedelta(days=5))
    seen_later = c.get(f"/v2/trackers/{tracker_id}", auth=AUTH).json()

    assert [(d["status"], d["status_detail"]) for d in seen_at_purchase["tracking_details"]] == [
        ("pre_transit", "label_created")
    ]
    assert (seen_at_purchase["status"], seen_at_purchase["status_detail"]) == ("pre_transit", "label_created")
    assert seen_at_purchase["est_delivery_date"] == "2026-01-07T00:00:00Z"  # USPS Priority: two days
    assert seen_later["tracking_details"] == sim.timeline(tracker_id)
    assert seen_later["status"] == "delivered"


def test_a_refund_is_accepted_before_the_first_scan_and_rejected_after(serve):
    clock = SimClock()
    c, sim = serve(clock=clock)
    early, late = (c.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json() for _ in range(2))
    for shipment in (early, late):
        c.post(f"/v2/shipments/{shipment['id']}/buy", json={"rate": {"id": shipment["rates"][0]["id"]}}, auth=AUTH)
    refunded = c.post(f"/v2/shipments/{early['id']}/refund", auth=AUTH).json()
    clock.advance(timedelta(days=1))
    rejected = c.post(f"/v2/shipments/{late['id']}/refund", auth=AUTH).json()

    assert refunded["refund_status"] == "submitted"
    assert refunded["tracker"]["status"] == "cancelled"
    assert rejected["refund_status"] == "rejected"
    assert sim.shipments[early["id"]]["tracker"]["status"] == "cancelled"  # and it stays so


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("days", [1, 2, 4])
@pytest.mark.parametrize("hour", [0, 8, 17, 23])
def test_scripted_scans_are_in_order_whatever_the_purchase_time(outcome, days, hour):
    bought_at = datetime(2026, 1, 5, hour, 59, 59, tzinfo=timezone.utc)
    place = {"city": "Reno", "state": "NV", "zip": "89501", "country": "US"}
    steps, plan = script_timeline(
        carrier="UPS",
        bought_at=bought_at,
        days=days,
        outcome=outcome,
        extra_days=2,
        origin=place,
        destination=place,
        hub=place,
        rng=random.Random(3),
    )
    times = [step.at for step in steps]
    assert times == sorted(times)
    assert times[0] == bought_at
    assert steps[0].detail["status_detail"] == "label_created"
    promised = datetime(2026, 1, 5 + days, tzinfo=timezone.utc)
    assert plan.promised == promised
    final = steps[-1].detail
    if outcome == "lost":
        assert (final["status"], final["status_detail"], plan.delivered_at) == ("failure", "lost", None)
        return
    assert final["status"] == "delivered"
    assert plan.delivered_at == steps[-1].at
    delivery_day = plan.delivered_at.replace(hour=0, minute=0, second=0)
    expected_late = {"on_time": 0, "late": 2, "weather_delay": 2, "failed_attempt": 1}[outcome]
    assert delivery_day == promised + timedelta(days=expected_late)


def test_rates_must_leave_room_for_on_time_parcels():
    context = SandboxContext(clock=SimClock(), options={"easypost": {"exception_rate": 0.5, "delay_rate": 0.6}})
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        EasyPostSimulator(context)


def test_the_carriers_option_replaces_the_services(serve):
    c, _sim = serve(carriers=[{"carrier": "USPS", "service": "Priority", "days": 3, "base": "5.00", "per_lb": "1.00"}])
    rates = c.post("/v2/shipments", json=SHIPMENT, auth=AUTH).json()["rates"]
    assert [(r["carrier"], r["service"], r["delivery_days"]) for r in rates] == [("USPS", "Priority", 3)]
    assert Decimal("8.00") <= Decimal(rates[0]["rate"]) < Decimal("8.32")  # 5.00 + 3 started pounds, <4 % noise


def test_a_malformed_carriers_option_says_what_is_expected():
    context = SandboxContext(clock=SimClock(), options={"easypost": {"carriers": [{"carrier": "USPS"}]}})
    with pytest.raises(ValueError, match="each entry of carriers needs carrier, service, days, base and per_lb"):
        EasyPostSimulator(context)
