"""The ECPay adapter against its simulator over loopback HTTP: a store pickup from order to
pickup (or to its return when nobody collects it), home delivery, and the pushes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fulfilhub import PermanentError, SimClock, TrackingStatus
from fulfilhub.testing import instance_context

import fulfilhub_ecpay
from fulfilhub_ecpay import carrier, mapping

MERCHANT, HASH_KEY, HASH_IV = fulfilhub_ecpay.TEST_MERCHANT


class _State:
    """The instance's key store, as the runner gives it (a dict here)."""

    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def insert(self, key, value):
        if key in self.data:
            return False
        self.data[key] = value
        return True

    def compare_and_set(self, key, expected, value):
        if self.data.get(key) != expected:
            return False
        self.data[key] = value
        return True


def _adapter(server, clock, state, **settings):
    import attrs

    context = instance_context("ecpay", {"merchant_id": MERCHANT, "hash_key": HASH_KEY, "hash_iv": HASH_IV,
                                         "server_reply_url": "https://shop.example/webhooks/ecpay",
                                         "base_url": server.url_for("ecpay"), **settings},
                               clock=clock, secrets=[HASH_KEY, HASH_IV], schema=carrier.SETTINGS, kind="carriers")
    return carrier.EcpayCarrier(attrs.evolve(context, state=state))


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, unclaimed_rate=0)
    state = _State()
    return clock, server.simulators["ecpay"], lambda **settings: _adapter(server, clock, state, **settings)


def test_a_store_pickup_goes_from_order_to_the_store_to_the_customer(world, make_request):
    clock, sim, build = world
    adapter = build()
    [rate] = adapter.quote(make_request("fh-shp-1"))
    assert (rate.service, rate.carrier_name, str(rate.amount)) == ("UNIMARTC2C", "7-ELEVEN", "60 TWD")
    assert rate.to_pickup  # to the store the customer chose, not to the door
    label = adapter.buy(rate, "carrier.buy_label:fh-shp-1/1")
    assert adapter.track(label).status is TrackingStatus.PRE_TRANSIT
    clock.advance(timedelta(days=2, hours=12))
    at_store = adapter.track(label)
    assert at_store.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert at_store.events[0].description == "商品已送達門市"
    clock.advance(timedelta(days=4))
    assert adapter.track(label).status is TrackingStatus.DELIVERED  # 消費者成功取件
    codes = [code for code, _at in sim.scans(label.tracking_code)]
    assert codes == ["300", "2068", "2030", "2073", "2067"]


def test_pushes_carry_every_status_at_its_time_signed(world, make_request):
    clock, sim, build = world
    adapter = build()
    label = adapter.buy(adapter.quote(make_request("fh-shp-2"))[0], "carrier.buy_label:fh-shp-2/1")
    clock.advance(timedelta(days=8))
    pushes = sim.pending_webhooks()
    assert sim.pending_webhooks() == []  # each is sent once
    updates = []
    for headers, body in pushes:
        assert adapter.verify_webhook(headers, body)
        updates.append(adapter.parse_webhook(headers, body))
    assert [u.events[0].at for u in updates] == [at for _code, at in sim.scans(label.tracking_code)]
    assert updates[-1].status is TrackingStatus.DELIVERED


def test_a_parcel_nobody_collects_is_flagged_then_returned(sandbox, make_request):
    clock = SimClock()
    server = sandbox(clock=clock, unclaimed_rate=1)
    adapter = _adapter(server, clock, _State())
    label = adapter.buy(adapter.quote(make_request("fh-shp-8"))[0], "carrier.buy_label:fh-shp-8/1")
    clock.advance(timedelta(days=3))
    arrived = adapter.track(label)
    assert arrived.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    scans = dict(server.simulators["ecpay"].scans(label.tracking_code))
    deadline = mapping.pickup_until(scans["2073"])
    assert deadline == (scans["2073"] + timedelta(days=7)).astimezone(mapping.TAIPEI).date()
    clock.advance(timedelta(days=7))
    flagged = adapter.track(label)
    assert flagged.status is TrackingStatus.FAILED_ATTEMPT  # 2074 消費者七天未取件, the night after the deadline
    assert flagged.reason is not None
    assert dict(server.simulators["ecpay"].scans(label.tracking_code))["2074"].astimezone(mapping.TAIPEI).date() > deadline
    clock.advance(timedelta(days=2))
    assert adapter.track(label).status is TrackingStatus.RETURN_TO_SENDER  # 2078 退回物流中心


def test_home_delivery_offers_the_home_subtypes(world, make_request):
    clock, sim, build = world
    adapter = build(home=["TCAT"])
    [rate] = adapter.quote(make_request("fh-shp-3", pickup=None))
    assert rate.service == "TCAT"
    assert not rate.to_pickup
    label = adapter.buy(rate, "carrier.buy_label:fh-shp-3/1")
    clock.advance(timedelta(days=2))
    assert adapter.track(label).status is TrackingStatus.DELIVERED  # 配完
    assert [code for code, _ in sim.scans(label.tracking_code)] == ["300", "3001", "3006", "3003"]


def test_outside_taiwan_there_is_no_rate(world, make_request):
    _clock, _sim, build = world
    import attrs

    abroad = make_request("fh-shp-4")
    abroad = attrs.evolve(abroad, ship_to=attrs.evolve(abroad.ship_to, country="JP"))
    assert build().quote(abroad) == []


def test_a_retry_after_a_lost_answer_finds_the_order_instead_of_making_another(world, make_request):
    _clock, sim, build = world
    adapter = build()
    rate = adapter.quote(make_request("fh-shp-5"))[0]
    first = adapter.buy(rate, "carrier.buy_label:fh-shp-5/1")
    again = build().buy(rate, "carrier.buy_label:fh-shp-5/1")
    assert again.tracking_code == first.tracking_code
    assert sim.orders_created() == 1


def test_a_refused_order_is_a_permanent_error_with_ecpays_words(world, make_request):
    _clock, _sim, build = world
    adapter = build(merchant_id="2999999")
    with pytest.raises(PermanentError, match="MerchantID Error"):
        adapter.buy(adapter.quote(make_request("fh-shp-6"))[0], "carrier.buy_label:fh-shp-6/1")


def test_a_cancel_after_hand_over_is_refused(world, make_request):
    clock, _sim, build = world
    adapter = build()
    label = adapter.buy(adapter.quote(make_request("fh-shp-7"))[0], "carrier.buy_label:fh-shp-7/1")
    clock.advance(timedelta(days=1))
    with pytest.raises(PermanentError, match="無法取消"):
        adapter.void(label)
    assert mapping.SUBTYPES[label.service][0] == "CVS"
