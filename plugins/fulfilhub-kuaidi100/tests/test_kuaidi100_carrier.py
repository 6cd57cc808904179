"""The adapter against the Kuaidi100 simulator over loopback HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fulfilhub import ConfigError, Label, Money, PermanentError, SimClock, TrackingStatus
from fulfilhub.testing import instance_context

from fulfilhub_kuaidi100 import Kuaidi100Carrier, mapping
from fulfilhub_kuaidi100.carrier import SETTINGS

KEY, CUSTOMER = "kd100-test-key-5f2a9c41", "KD100CUST77"


def label(number: str, carrier: str = "YTO", courier: str = "") -> Label:
    return Label(carrier="kd100", carrier_name=carrier, service="", tracking_code=number, tracker_ref=courier,
                 cost=Money(amount="0", currency="CNY"), shipment_ref="")


def make(server, clock, store=None, **settings) -> Kuaidi100Carrier:
    base = {"key": KEY, "customer": CUSTOMER, "base_url": server.url_for("kuaidi100"),
            "autonumber_url": server.url_for("kuaidi100") + "/autonumber/auto", **settings}
    return Kuaidi100Carrier(instance_context("kd100", base, clock=clock, secrets=[KEY, CUSTOMER], schema=SETTINGS,
                                             kind="carriers", store=store))


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, key=KEY, customer=CUSTOMER, exception_rate=0, delay_rate=0)
    adapter = make(server, clock)
    yield clock, server, adapter
    adapter.close()


def test_a_parcel_handed_to_yto_is_followed_to_its_signature_in_chinese(world):
    clock, _, adapter = world
    parcel = label("YT7412345678901")
    assert adapter.track(parcel).status is TrackingStatus.IN_TRANSIT  # 已揽收
    clock.advance(timedelta(days=3))
    update = adapter.track(parcel)
    assert update.status is TrackingStatus.DELIVERED
    assert [e.source for e in update.events] == ["103", "1002", "1001", "5", "301"]
    assert update.events[-1].description.startswith("您的快件已签收，签收人：本人")
    assert all(e.at.utcoffset() == timedelta(hours=8) for e in update.events)


def test_the_courier_comes_from_the_label_or_is_detected_by_number(world):
    _, _, adapter = world
    assert adapter.courier(label("X1", carrier="中通")) == "zhongtong"
    assert adapter.courier(label("X1", carrier="jd")) == "jd"
    assert adapter.courier(label("X1", carrier="Whoever", courier="ems")) == "ems"
    assert adapter.courier(label("YT7412345678901", carrier="")) == "yuantong"  # the autonumber API
    with pytest.raises(PermanentError, match="cannot tell the courier"):
        adapter.courier(label("0000", carrier=""))


def test_sf_needs_a_phone_and_says_so(world, sandbox):
    clock, server, adapter = world
    with pytest.raises(PermanentError, match="408"):
        adapter.track(label("SF1402658731196", carrier="SF"))
    with_phone = make(server, clock, phone="1234")
    assert with_phone.track(label("SF1402658731196", carrier="SF")).events


def test_a_wrong_key_is_a_permanent_error_naming_the_code(world):
    clock, server, _ = world
    wrong = make(server, clock, key="not-the-key-000")
    with pytest.raises(PermanentError, match="503"):
        wrong.track(label("YT7412345678901"))


def test_it_sells_nothing(world, payload):
    _, _, adapter = world
    assert adapter.quote(None) == []
    with pytest.raises(PermanentError, match="only tracks"):
        adapter.buy(None, "k")
    with pytest.raises(PermanentError, match="only tracks"):
        adapter.void(label("YT1"))


@pytest.mark.parametrize(("fate", "status", "reason"), [
    ("damaged", TrackingStatus.EXCEPTION, "damaged"),
    ("refused", TrackingStatus.RETURN_TO_SENDER, "refused"),
    ("unreachable", TrackingStatus.DELIVERED, None),
    ("held", TrackingStatus.DELIVERED, None),
])
def test_every_fate_of_the_simulator_maps_with_reasons(sandbox, fate, status, reason):
    clock = SimClock()
    server = sandbox(clock=clock, exception_rate=0.6, delay_rate=0.4)
    adapter, sim = make(server, clock), server.simulators["kuaidi100"]
    numbers = [f"YT74{n:011d}" for n in range(40)]
    for number in numbers:
        adapter.track(label(number))
    number = next(n for n in numbers if sim.fate("yuantong", n) == fate)
    clock.advance(timedelta(days=8))
    update = adapter.track(label(number))
    assert update.status is status
    assert (update.reason.value if update.reason else None) == reason
    troubled = [e for e in update.events if e.status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)]
    assert all(e.reason is not None for e in troubled)
    assert all(e.status is not TrackingStatus.UNKNOWN for e in update.events)


def test_with_a_callback_it_subscribes_once_and_the_pushes_verify_and_map(sandbox, tmp_path):
    from fulfilhub.store import Store

    clock = SimClock()
    server = sandbox(clock=clock, key=KEY, customer=CUSTOMER, exception_rate=0, delay_rate=0)
    store = Store.open(f"sqlite:///{tmp_path / 'fh.sqlite'}", migrate=True)
    adapter = make(server, clock, store=store, callback_url="https://shop.example/webhooks/kd100", salt="s4lt-kd100")
    sim = server.simulators["kuaidi100"]
    try:
        parcel = label("YT7412345678901")
        adapter.track(parcel)
        adapter.track(parcel)  # no second subscription
        assert list(sim.state.snapshot()["subscriptions"]) == [("yuantong", "YT7412345678901")]
        seen = []
        for _ in range(8):
            for headers, body in sim.pending_webhooks():
                assert adapter.verify_webhook(headers, body)
                seen.append(adapter.parse_webhook(headers, body))
            clock.advance(timedelta(hours=12))
        assert seen
        assert seen[-1].status is TrackingStatus.DELIVERED
        assert adapter.verify_webhook({}, body.replace(b"sign=", b"sign=0")) is False
        assert adapter.verify_webhook({}, body.split(b"&sign=")[0]) is False  # no sign at all
    finally:
        adapter.close()
        store.close()


def test_without_a_salt_pushes_are_a_config_error(world):
    with pytest.raises(ConfigError) as info:
        world[2].verify_webhook({}, b"param=x&sign=y")
    assert info.value.key.endswith("salt")


def test_a_failed_subscription_does_not_fail_the_query_and_is_tried_again(tmp_path, payload):
    import httpx
    import respx
    from fulfilhub.store import Store

    api = "https://poll.kuaidi100.test"
    store = Store.open(f"sqlite:///{tmp_path / 'fh.sqlite'}", migrate=True)
    adapter = Kuaidi100Carrier(instance_context(
        "kd100", {"key": KEY, "customer": CUSTOMER, "base_url": api, "callback_url": "https://shop.example/webhooks/kd100",
                  "salt": "s4lt"}, secrets=[KEY, CUSTOMER], schema=SETTINGS, kind="carriers", store=store))
    try:
        with respx.mock(base_url=api) as router:
            router.post("/poll/query.do").respond(200, json=payload("query_in_transit"))
            subscribe = router.post("/poll").mock(side_effect=[httpx.Response(400, text="bad gateway"),
                                                                httpx.Response(200, json={"result": True, "returnCode": "200",
                                                                                          "message": "提交成功"})])
            assert adapter.track(label("YT7412345678901")).events  # the query answered; the subscription did not
            adapter.track(label("YT7412345678901"))  # tried again, and done
            adapter.track(label("YT7412345678901"))  # not a third time
            assert subscribe.call_count == 2
    finally:
        adapter.close()
        store.close()
