"""The adapter against the Shippo simulator over loopback HTTP, and its answers to what
the simulator does not do (mocked with respx)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
import respx
from fulfilhub import (
    Carrier,
    ConfigError,
    ExceptionReason,
    PermanentError,
    SimClock,
    TrackingStatus,
    TransientError,
    WebhookReceiver,
)
from fulfilhub.testing import instance_context

from fulfilhub_shippo import ShippoCarrier
from fulfilhub_shippo.carrier import SETTINGS

KEY = "shippo_test_5f2a9c41d07a8e4b1f"


def make(server, clock, **settings) -> ShippoCarrier:
    base = {"api_key": KEY, "base_url": server.url_for("shippo"), **settings}
    return ShippoCarrier(instance_context("shippo", base, clock=clock, secrets=[KEY], schema=SETTINGS))


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY, exception_rate=0, delay_rate=0)
    adapter = make(server, clock)
    yield clock, server, adapter
    adapter.close()


def test_it_is_a_carrier_that_takes_webhooks(world):
    assert isinstance(world[2], Carrier)
    assert isinstance(world[2], WebhookReceiver)


def test_a_parcel_goes_from_quote_to_delivered(world, shipment_request):
    clock, server, adapter = world
    rates = adapter.quote(shipment_request)
    assert {r.service for r in rates} >= {"usps_priority", "ups_ground"}
    rate = next(r for r in rates if r.service == "usps_priority")
    label = adapter.buy(rate, "carrier.buy_label:shop:1001/1")
    assert label.tracking_code
    assert label.cost == rate.amount
    assert label.carrier_name == "USPS"
    assert adapter.track(label).status is TrackingStatus.PRE_TRANSIT
    clock.advance(timedelta(hours=10))
    assert adapter.track(label).status is TrackingStatus.IN_TRANSIT
    clock.advance(timedelta(days=3))
    update = adapter.track(label)
    assert update.status is TrackingStatus.DELIVERED
    assert update.events[-1].source == "DELIVERED/delivered"
    assert update.est_delivery is not None


def test_the_token_goes_as_shippotoken_and_a_wrong_one_is_refused(sandbox, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, api_key=KEY)
    wrong = ShippoCarrier(instance_context("shippo", {"api_key": "shippo_test_wrong000000", "base_url": server.url_for("shippo")},
                                           clock=clock, schema=SETTINGS))
    with pytest.raises(PermanentError, match="401"):
        wrong.quote(shipment_request)


def test_services_and_carrier_accounts_limit_the_rates(sandbox, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock)
    every = make(server, clock).quote(shipment_request)
    usps = next(r for r in every if r.carrier_name == "USPS")
    only = make(server, clock, services=["ups_ground"]).quote(shipment_request)
    assert [r.service for r in only] == ["ups_ground"]
    sim = server.simulators["shippo"]
    account = sim.state.snapshot()["rates"][usps.rate_id]["carrier_account"]
    limited = make(server, clock, carrier_accounts=[account]).quote(shipment_request)
    assert {r.carrier_name for r in limited} == {"USPS"}


def test_a_second_buy_of_one_rate_returns_the_first_label_though_shippo_would_sell_it_again(world, shipment_request):
    clock, server, adapter = world
    rate = adapter.quote(shipment_request)[0]
    first = adapter.buy(rate, "carrier.buy_label:shop:1001/1")
    again = adapter.buy(rate, "carrier.buy_label:shop:1001/1")
    assert again.tracking_code == first.tracking_code
    assert server.simulators["shippo"].labels_sold() == 1


def test_an_errored_transaction_is_a_permanent_error_with_shippos_message(world, shipment_request):
    clock, server, adapter = world
    nowhere = attrs.evolve(shipment_request, ship_to=attrs.evolve(shipment_request.ship_to, postal_code="00000"))
    rate = adapter.quote(nowhere)[0]
    with pytest.raises(PermanentError, match="The address as submitted could not be found"):
        adapter.buy(rate, "carrier.buy_label:shop:1002/1")


def test_void_before_the_first_scan_refunds_and_after_it_is_refused(world, shipment_request):
    clock, server, adapter = world
    rates = adapter.quote(shipment_request)
    unused = adapter.buy(rates[0], "carrier.buy_label:a/1")
    adapter.void(unused)
    adapter.void(unused)  # a retry: the transaction is REFUNDED already
    assert server.simulators["shippo"].state.snapshot()["transactions"][unused.tracker_ref]["status"] == "REFUNDED"
    used = adapter.buy(rates[1], "carrier.buy_label:b/1")
    clock.advance(timedelta(hours=4))  # accepted at origin
    with pytest.raises(PermanentError, match="cannot be voided"):
        adapter.void(used)
    with pytest.raises(PermanentError, match="REFUNDREJECTED"):
        adapter.void(used)


def test_a_closed_hub_holds_the_parcel_with_a_delayed_scan_and_a_later_eta(sandbox, shipment_request):
    clock = SimClock()
    server = sandbox(clock=clock, exception_rate=0, delay_rate=0)
    adapter = make(server, clock)
    label = adapter.buy(next(r for r in adapter.quote(shipment_request) if r.service == "usps_priority"), "k/1")
    before = adapter.track(label).est_delivery
    server.context.disruptions.add("hub_closed", start=clock.now() + timedelta(hours=12), days=3, region="CA",
                                   cause="Wildfire")
    clock.advance(timedelta(days=2, hours=12))
    update = adapter.track(label)
    assert update.status is TrackingStatus.IN_TRANSIT
    assert update.reason is ExceptionReason.CARRIER_DELAY
    assert "Wildfire" in update.events[-1].description
    assert update.est_delivery >= before + timedelta(days=2)
    clock.advance(timedelta(days=4))
    assert adapter.track(label).status is TrackingStatus.DELIVERED


@pytest.mark.parametrize(("fate", "status", "reason"), [
    ("lost", TrackingStatus.EXCEPTION, ExceptionReason.LOST),
    ("damaged", TrackingStatus.RETURN_TO_SENDER, None),
    ("failed_attempt", TrackingStatus.DELIVERED, None),
])
def test_the_simulators_troubled_fates_map_with_reasons(sandbox, shipment_request, fate, status, reason):
    clock = SimClock()
    server = sandbox(clock=clock, exception_rate=1, delay_rate=0)
    adapter, sim = make(server, clock), server.simulators["shippo"]
    labels = [adapter.buy(r, f"k/{i}") for i in range(4) for r in adapter.quote(shipment_request)[:3]]
    label = next(lbl for lbl in labels if sim.fate(lbl.tracker_ref) == fate)
    clock.advance(timedelta(days=12))
    update = adapter.track(label)
    assert (update.status, update.reason) == (status, reason)
    troubled = [e for e in update.events if e.status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)]
    assert troubled
    assert all(e.reason is not None for e in troubled)


# --------------------------------------------------------------------------- what the simulator never does


API = "https://api.shippo.test"


@pytest.fixture
def mocked():
    adapter = ShippoCarrier(instance_context("shippo", {"api_key": KEY, "base_url": API}, secrets=[KEY], schema=SETTINGS))
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router, adapter
    adapter.close()


def _rate(payload):
    from fulfilhub_shippo import mapping

    return mapping.parse_rates(payload("shipment_rates"), "shippo")[0]


def test_a_queued_label_is_transient_and_found_on_the_next_try(mocked, payload):
    router, adapter = mocked
    empty = {"next": None, "previous": None, "results": []}
    listing = router.get("/transactions").mock(side_effect=[
        httpx.Response(200, json=empty),
        httpx.Response(200, json={**empty, "results": [payload("transaction_success")]}),
    ])
    bought = router.post("/transactions").respond(201, json=payload("transaction_queued"))
    with pytest.raises(TransientError, match="still QUEUED"):
        adapter.buy(_rate(payload), "carrier.buy_label:shop:1001/1")
    label = adapter.buy(_rate(payload), "carrier.buy_label:shop:1001/1")
    assert label.tracking_code == "9205590164917312751089"
    assert bought.call_count == 1
    assert listing.call_count == 2
    sent = bought.calls[0].request
    assert sent.headers["Authorization"] == f"ShippoToken {KEY}"
    assert sent.headers["SHIPPO-API-VERSION"] == "2018-02-08"
    assert b'"metadata":"carrier.buy_label:shop:1001/1"' in sent.content.replace(b" ", b"")


def test_a_purchase_that_timed_out_is_not_resent_at_once(mocked, payload):
    router, adapter = mocked
    router.get("/transactions").respond(200, json={"next": None, "previous": None, "results": []})
    bought = router.post("/transactions").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientError):
        adapter.buy(_rate(payload), "carrier.buy_label:shop:1001/1")
    assert bought.call_count == 1


def test_a_rate_limit_is_waited_for(mocked, payload):
    router, adapter = mocked
    route = router.post("/shipments").mock(side_effect=[httpx.Response(429, headers={"Retry-After": "0"}),
                                                        httpx.Response(201, json=payload("shipment_rates"))])
    from fulfilhub import Address, Parcel, ShipmentRequest

    request = ShipmentRequest(reference="r", ship_from=Address(country="US"), ship_to=Address(country="US"),
                              parcel=Parcel(weight_g="100"))
    assert len(adapter.quote(request)) == 3
    assert route.call_count == 2


def test_without_a_webhook_secret_webhooks_are_a_config_error(mocked):
    with pytest.raises(ConfigError) as info:
        mocked[1].verify_webhook({}, b"{}")
    assert info.value.key.endswith("webhook_secret")


class KeptState:
    """``context.state`` as the runner's port keeps it (get; insert once), in memory: the key store the
    adapter asks before a purchase (the conformance suite runs it on the runner's real store)."""

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self.kept.get(key)

    def insert(self, key: str, value: Any) -> bool:
        return self.kept.setdefault(key, value) is value

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        if key not in self.kept or self.kept[key] != expected:
            return False
        self.kept[key] = value
        return True


def test_with_the_runners_state_a_first_purchase_lists_nothing_and_a_retry_looks_first(payload):
    context = instance_context("shippo", {"api_key": KEY, "base_url": API}, secrets=[KEY], schema=SETTINGS,
                               kind="carriers")
    adapter = ShippoCarrier(attrs.evolve(context, state=KeptState()))
    try:
        with respx.mock(base_url=API, assert_all_called=False) as router:
            listing = router.get("/transactions").respond(
                200, json={"next": None, "previous": None, "results": [payload("transaction_success")]})
            bought = router.post("/transactions").respond(201, json=payload("transaction_success"))
            first = adapter.buy(_rate(payload), "carrier.buy_label:shop:1001/1")
            assert (listing.call_count, bought.call_count) == (0, 1)  # GET lists are limited to 50 a minute
            again = adapter.buy(_rate(payload), "carrier.buy_label:shop:1001/1")  # the outbox's retry
            assert (listing.call_count, bought.call_count) == (1, 1)
            assert again.tracking_code == first.tracking_code
    finally:
        adapter.close()


def test_no_rates_is_an_empty_quote_and_the_carriers_reasons_are_logged(mocked, payload, caplog):
    router, adapter = mocked
    router.post("/shipments").respond(201, json={**payload("shipment_rates"), "rates": []})
    from fulfilhub import Address, Parcel, ShipmentRequest

    request = ShipmentRequest(reference="fh-1", ship_from=Address(country="US"), ship_to=Address(country="US"),
                              parcel=Parcel(weight_g="100"))
    with caplog.at_level("WARNING", logger="fulfilhub_shippo"):
        assert adapter.quote(request) == []
    assert "FedEx cannot be used with your account" in caplog.text
    assert "fh-1" in caplog.text
