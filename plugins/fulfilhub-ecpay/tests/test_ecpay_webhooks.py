"""ECPay's status notifications (ServerReplyURL): verified by their CheckMacValue, read, and
answered 1|OK, as ECPay asks; the comparison is constant-time."""

from __future__ import annotations

import hmac

import pytest
from fulfilhub import ConfigError, SimClock, TrackingStatus
from fulfilhub.testing import instance_context

import fulfilhub_ecpay
from fulfilhub_ecpay import carrier

MERCHANT, HASH_KEY, HASH_IV = fulfilhub_ecpay.TEST_MERCHANT


@pytest.fixture
def receiver():
    context = instance_context("ecpay", {"merchant_id": MERCHANT, "hash_key": HASH_KEY, "hash_iv": HASH_IV,
                                         "server_reply_url": "https://shop.example/webhooks/ecpay"},
                               clock=SimClock(), secrets=[HASH_KEY, HASH_IV], schema=carrier.SETTINGS, kind="carriers")
    adapter = carrier.EcpayCarrier(context)
    yield adapter
    adapter.close()


def test_a_signed_notification_is_accepted_and_read(receiver, payload):
    body = payload("push_arrived").encode()
    assert receiver.verify_webhook({}, body) is True
    update = receiver.parse_webhook({}, body)
    assert update.status is TrackingStatus.AVAILABLE_FOR_PICKUP


def test_a_tampered_or_unsigned_notification_is_refused(receiver, payload):
    body = payload("push_arrived").encode()
    assert receiver.verify_webhook({}, body.replace(b"RtnCode=2073", b"RtnCode=2067")) is False
    assert receiver.verify_webhook({}, body.split(b"&CheckMacValue=")[0]) is False
    assert receiver.verify_webhook({}, b"not a form") is False
    assert receiver.verify_webhook({}, b"\xff\xfe=1") is False


def test_the_signature_is_compared_in_constant_time(receiver, payload, monkeypatch):
    calls = []
    original = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or original(a, b))
    assert receiver.verify_webhook({}, payload("push_arrived").encode()) is True
    assert calls


def test_a_resend_is_the_same_delivery_and_another_status_is_not(receiver, payload):
    first = receiver.webhook_delivery({}, payload("push_arrived").encode())
    assert receiver.webhook_delivery({}, payload("push_arrived").encode()).id == first.id
    assert receiver.webhook_delivery({}, payload("push_picked_up").encode()).id != first.id


def test_ecpay_reads_1_OK_back_once_a_notification_is_stored(receiver):
    assert receiver.webhook_reply("accepted") == (200, "text/plain", b"1|OK")
    assert receiver.webhook_reply("duplicate") == (200, "text/plain", b"1|OK")
    status, _media, body = receiver.webhook_reply("refused")
    assert status == 400
    assert body != b"1|OK"  # so ECPay sends it again


def test_an_instance_without_its_hash_iv_is_refused_naming_the_setting():
    with pytest.raises(ConfigError, match="hash_iv"):
        carrier.EcpayCarrier(instance_context("ecpay", {"merchant_id": MERCHANT, "hash_key": HASH_KEY,
                                                        "server_reply_url": "https://shop.example/w"},
                                              clock=SimClock(), schema=carrier.SETTINGS, kind="carriers"))
