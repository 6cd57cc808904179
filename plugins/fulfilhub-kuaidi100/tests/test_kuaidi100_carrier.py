"""The adapter against the Kuaidi100 simulator over loopback HTTP: signed queries, courier
detection, subscription once per number, and what a tracks-only carrier refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
from fulfilhub import (
    Address,
    Carrier,
    Parcel,
    PermanentError,
    ShipmentRequest,
    SimClock,
    TrackingStatus,
    WebhookReceiver,
)
from fulfilhub.plugins import PluginManager
from fulfilhub.testing import instance_context

import fulfilhub_kuaidi100
from fulfilhub_kuaidi100 import Kuaidi100Carrier, outside_label
from fulfilhub_kuaidi100.carrier import SETTINGS

KEY = "kd100-test-key-5f2a9c41d07a"
CUSTOMER = "B0F1E2D3C4A5"


class KeptState:
    """The instance's key -> JSON state as the runner's port keeps it (get; insert once), in memory."""

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self.kept.get(key)

    def insert(self, key: str, value: Any) -> bool:
        return self.kept.setdefault(key, value) is value


def make(server, clock, *, state=None, **settings) -> Kuaidi100Carrier:
    base = {"customer": CUSTOMER, "key": KEY, "base_url": server.url_for("kuaidi100"),
            "autonumber_url": "/autonumber/auto", **settings}
    context = instance_context("kd", base, clock=clock, secrets=[KEY], schema=SETTINGS, kind="carriers")
    return Kuaidi100Carrier(attrs.evolve(context, state=state))


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, customer=CUSTOMER, key=KEY, exception_rate=0)
    adapter = make(server, clock)
    yield clock, server.simulators["kuaidi100"], adapter, server
    adapter.close()


def test_it_registers_a_tracks_only_carrier_that_takes_pushes(world):
    registered = PluginManager(load_installed=False, extra=[fulfilhub_kuaidi100]).registry.carriers["kuaidi100"]
    assert registered.tracks_only is True
    assert isinstance(world[2], Carrier)
    assert isinstance(world[2], WebhookReceiver)


def test_a_parcel_shipped_elsewhere_is_followed_to_delivery_with_its_chinese_scans(world):
    clock, sim, adapter, _ = world
    number = sim.ship("zhongtong")
    label = outside_label("kd", number, courier="zhongtong")
    assert adapter.track(label).status is TrackingStatus.PRE_TRANSIT  # 查询无结果: not scanned yet
    clock.advance(timedelta(hours=3))
    update = adapter.track(label)
    assert update.status is TrackingStatus.IN_TRANSIT
    assert update.events[0].description.endswith("中通快递 已收取快件")
    clock.advance(timedelta(days=4))
    update = adapter.track(label)
    assert update.status is TrackingStatus.DELIVERED
    assert [at for _, at in sim.scans(number)] == [e.at for e in update.events]
    assert all(e.at.utcoffset() == timedelta(hours=8) for e in update.events)


def test_a_wrong_key_is_refused_by_signature(world, sandbox):
    clock, sim, _, server = world
    label = outside_label("kd", sim.ship("yunda"), courier="yunda")
    wrong = make(server, clock, key="not-the-key")
    with pytest.raises(PermanentError) as caught:
        wrong.track(label)
    assert "returnCode 503" in str(caught.value)
    assert "not-the-key" not in str(caught.value)
    wrong.close()


def test_sf_needs_the_recipients_phone_digits(world):
    clock, sim, adapter, _ = world
    number = sim.ship("shunfeng", phone="13812345678")
    clock.advance(timedelta(hours=3))
    with pytest.raises(PermanentError, match="returnCode 408"):
        adapter.track(outside_label("kd", number, courier="shunfeng"))
    label = outside_label("kd", number, courier="shunfeng", phone="+86 138-1234-5678")
    assert label.tracker_ref == "5678"
    assert adapter.track(label).events


def test_the_courier_is_detected_once_and_kept(world):
    clock, sim, _, server = world
    state = KeptState()
    adapter = make(server, clock, state=state)
    number = sim.ship("yuantong")
    clock.advance(timedelta(hours=3))
    try:
        assert adapter.track(outside_label("kd", number)).status is TrackingStatus.IN_TRANSIT
        assert state.get(f"com:{number}") == "yuantong"
        assert make(server, clock, state=state).track(outside_label("kd", number)).events  # after a restart
        assert sim.calls["autonumber"] == 1
        assert sim.calls["query"] == 2
        make(server, clock).track(outside_label("kd", number))  # no state kept: it asks again
        assert sim.calls["autonumber"] == 2
    finally:
        adapter.close()


def test_with_a_callback_the_first_poll_subscribes_once(world):
    clock, sim, _, server = world
    state = KeptState()
    adapter = make(server, clock, state=state, callback_url="https://shop.example/webhooks/kd", salt="s4lt")
    number = sim.ship("jd")
    try:
        for _ in range(3):
            clock.advance(timedelta(hours=8))
            adapter.track(outside_label("kd", number, courier="jd"))
        with sim.state as held:
            assert held["subs"][number] == {"url": "https://shop.example/webhooks/kd", "salt": "s4lt",
                                             "seen": 0}
        assert state.get(f"sub:{number}") == {"com": "jd"}
        assert sim.calls["subscribe"] == 1
        # a new instance without the kept state subscribes again: Kuaidi100's 重复订阅 is no error
        make(server, clock, callback_url="https://shop.example/webhooks/kd", salt="s4lt").track(
            outside_label("kd", number, courier="jd"))
        assert sim.calls["subscribe"] == 2
    finally:
        adapter.close()


def test_it_never_sells_a_label(world):
    adapter = world[2]
    request = ShipmentRequest(reference="r", ship_from=Address(country="CN"), ship_to=Address(country="CN"),
                              parcel=Parcel(weight_g="100"))
    with pytest.raises(PermanentError, match="only tracks"):
        adapter.quote(request)
    label = outside_label("kd", "SF1402233475917", courier="shunfeng")
    with pytest.raises(PermanentError, match="only tracks"):
        adapter.void(label)


class RefusedSubscriptions(httpx.BaseTransport):
    """Kuaidi100 refusing every subscription (600 您不是合法的订阅者); queries reach the simulator."""

    def __init__(self) -> None:
        self.live, self.refused = httpx.HTTPTransport(), 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/poll"):
            self.refused += 1
            return httpx.Response(200, json={"result": False, "returnCode": "600", "message": "您不是合法的订阅者"})
        return self.live.handle_request(request)


def test_a_refused_subscription_leaves_the_parcel_polled_and_is_asked_again(world, caplog):
    clock, sim, _, server = world
    transport, state = RefusedSubscriptions(), KeptState()
    base = {"customer": CUSTOMER, "key": KEY, "base_url": server.url_for("kuaidi100"),
            "callback_url": "https://shop.example/webhooks/kd", "salt": "s4lt"}
    context = instance_context("kd", base, clock=clock, secrets=[KEY, "s4lt"], schema=SETTINGS, transport=transport)
    adapter = Kuaidi100Carrier(attrs.evolve(context, state=state))
    number = sim.ship("ems")
    clock.advance(timedelta(hours=8))
    for _ in range(2):
        assert adapter.track(outside_label("kd", number, courier="ems")).status is TrackingStatus.IN_TRANSIT
    assert transport.refused == 2
    assert state.get(f"sub:{number}") is None
    assert "returnCode 600" in caplog.text
    assert KEY not in caplog.text
    adapter.close()
