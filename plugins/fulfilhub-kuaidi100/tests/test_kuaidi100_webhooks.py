"""Kuaidi100's subscription pushes: what the simulator sends, the adapter verifies and maps."""

from __future__ import annotations

import hmac
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from fulfilhub import ConfigError, SimClock, TrackingStatus
from fulfilhub.testing import instance_context

from fulfilhub_kuaidi100 import Kuaidi100Carrier, mapping, outside_label
from fulfilhub_kuaidi100.carrier import SETTINGS

SALT = "4d1c0e5a9b7f"


def receiver(base_url: str, clock: SimClock, salt: str | None = SALT) -> Kuaidi100Carrier:
    settings = {"customer": "C1", "key": "k", "base_url": base_url, "autonumber_url": "/autonumber/auto",
                "callback_url": "https://shop.example/webhooks/kd", **({"salt": salt} if salt else {})}
    return Kuaidi100Carrier(instance_context("kd", settings, clock=clock, secrets=["k", SALT], schema=SETTINGS))


@pytest.fixture
def world(sandbox):
    clock = SimClock()
    server = sandbox(clock=clock, exception_rate=0)
    adapter = receiver(server.url_for("kuaidi100"), clock)
    yield clock, server.simulators["kuaidi100"], adapter
    adapter.close()


def test_the_simulators_pushes_verify_and_follow_the_parcel(world):
    clock, sim, adapter = world
    number = sim.ship("yunda")
    adapter.track(outside_label("kd", number, courier="yunda"))  # the first poll subscribes
    seen = []
    for _ in range(10):
        clock.advance(timedelta(hours=8))
        for headers, body in sim.pending_webhooks():
            assert adapter.verify_webhook(headers, body)
            seen.append(adapter.parse_webhook(headers, body))
    assert len(seen) >= 4
    assert seen[-1].status is TrackingStatus.DELIVERED
    assert seen[-1].events[0].description.startswith("【")
    assert "韵达快递" in seen[-1].events[0].description
    assert sim.pending_webhooks() == []  # nothing new: nothing pushed


def test_a_push_that_is_tampered_unsigned_or_signed_otherwise_is_refused(payload):
    adapter = receiver("http://127.0.0.1:9", SimClock())
    param = json.dumps(payload("push_polling"), ensure_ascii=False)
    good = urlencode({"param": param, "sign": mapping.sign(param, SALT)}).encode()
    assert adapter.verify_webhook({}, good)
    assert adapter.verify_webhook({}, good.replace(b"polling", b"shutdown", 1)) is False
    assert adapter.verify_webhook({}, urlencode({"param": param}).encode()) is False
    assert adapter.verify_webhook({}, urlencode({"param": param, "sign": mapping.sign(param, "other")}).encode()) is False
    twice = urlencode([("param", param), ("param", "{}"), ("sign", mapping.sign(param, SALT))]).encode()
    assert adapter.verify_webhook({}, twice) is False
    assert adapter.verify_webhook({}, b"\xff\xfe") is False


def test_the_signature_is_compared_in_constant_time(payload, monkeypatch):
    import fulfilhub_kuaidi100.carrier as carrier

    calls = []
    original = hmac.compare_digest
    monkeypatch.setattr(carrier.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or original(a, b))
    param = json.dumps(payload("push_polling"))
    receiver("http://127.0.0.1:9", SimClock()).verify_webhook({}, urlencode({"param": param, "sign": "X" * 32}).encode())
    assert calls


def test_without_a_salt_pushes_are_a_config_error(payload):
    with pytest.raises(ConfigError) as info:
        receiver("http://127.0.0.1:9", SimClock(), salt=None).verify_webhook({}, b"param=%7B%7D&sign=X")
    assert info.value.key.endswith("salt")


def test_a_resent_push_is_the_same_delivery(payload):
    adapter = receiver("http://127.0.0.1:9", SimClock())
    param = json.dumps(payload("push_polling"))
    body = urlencode({"param": param, "sign": mapping.sign(param, SALT)}).encode()
    again = urlencode({"sign": mapping.sign(param, SALT), "param": param}).encode()
    assert adapter.webhook_delivery({}, body).id == adapter.webhook_delivery({}, again).id
    assert parse_qs(body.decode())["param"][0] == param
