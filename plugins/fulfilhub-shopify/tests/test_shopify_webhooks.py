"""Shopify webhooks: X-Shopify-Hmac-Sha256 verification and the order topics."""

from __future__ import annotations

import json

import pytest

from fulfilhub import ConfigError, Order, PayloadError, WebhookReceiver, capabilities
from fulfilhub.testing import instance_context
from fulfilhub_shopify import ShopifyChannel, webhooks
from fulfilhub_shopify.channel import SETTINGS

SECRET = "shpss_app_secret_1234"
# computed outside Python: printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
VECTOR_BODY = b'{"id":820982911946154508,"email":"jon@example.com"}'
VECTOR_SIGNATURE = "hYAFtXXoj/iyg3EMvZX1lyvrhNR5VvZEBlcbULTOi8c="


def make(clock, **settings) -> ShopifyChannel:
    base = {"shop": "acme", "access_token": "shpat_x", "webhook_secret": SECRET}
    return ShopifyChannel(instance_context("acme", {**base, **settings}, clock=clock, kind="channels", schema=SETTINGS))


@pytest.fixture
def channel(clock):
    adapter = make(clock)
    yield adapter
    adapter.close()


def headers(body: bytes, topic: str = "orders/create", secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhooks.sign(body, secret), "X-Shopify-Shop-Domain": "acme.myshopify.com"}


def test_the_signature_matches_an_independently_computed_one():
    assert webhooks.sign(VECTOR_BODY, SECRET) == VECTOR_SIGNATURE
    assert webhooks.verify_signature(VECTOR_BODY, SECRET, VECTOR_SIGNATURE) is True


def test_the_channel_declares_the_webhook_capability(channel):
    assert isinstance(channel, WebhookReceiver)
    assert capabilities(channel) == {"webhooks", "issue_compensation", "push_stock"}


def test_a_valid_signature_verifies_whatever_the_header_case(channel):
    assert channel.verify_webhook({"x-shopify-hmac-sha256": VECTOR_SIGNATURE}, VECTOR_BODY) is True
    assert channel.verify_webhook({"X-SHOPIFY-HMAC-SHA256": VECTOR_SIGNATURE}, VECTOR_BODY) is True


@pytest.mark.parametrize(
    "body",
    [VECTOR_BODY.replace(b"jon@", b"eve@"), VECTOR_BODY + b"\n", VECTOR_BODY[:-1]],
    ids=["edited", "trailing-newline", "truncated"],
)
def test_a_tampered_body_is_rejected(channel, body):
    assert channel.verify_webhook({"X-Shopify-Hmac-Sha256": VECTOR_SIGNATURE}, body) is False


def test_a_signature_made_with_another_secret_is_rejected(channel):
    forged = webhooks.sign(VECTOR_BODY, "shpss_someone_else")
    assert channel.verify_webhook({"X-Shopify-Hmac-Sha256": forged}, VECTOR_BODY) is False


@pytest.mark.parametrize("value", [None, "", VECTOR_SIGNATURE.rstrip("=")], ids=["missing", "empty", "mangled"])
def test_a_missing_or_mangled_header_is_rejected(channel, value):
    sent = {} if value is None else {"X-Shopify-Hmac-Sha256": value}
    assert channel.verify_webhook(sent, VECTOR_BODY) is False


def test_without_a_webhook_secret_verification_is_a_config_error(clock):
    adapter = ShopifyChannel(instance_context(
        "acme", {"shop": "acme", "access_token": "shpat_x"}, clock=clock, kind="channels", schema=SETTINGS))
    with pytest.raises(ConfigError, match=r"\[channels.acme.webhook_secret\] webhook_secret is not set"):
        adapter.verify_webhook({"X-Shopify-Hmac-Sha256": VECTOR_SIGNATURE}, VECTOR_BODY)


def test_the_webhook_secret_comes_from_the_environment_and_is_stripped(clock):
    adapter = make(clock, webhook_secret=f"  {SECRET}\n")  # as pasted into an env file
    assert adapter.verify_webhook({"X-Shopify-Hmac-Sha256": VECTOR_SIGNATURE}, VECTOR_BODY) is True


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated"])
def test_order_topics_map_the_order_with_the_channel_mapping(channel, payload, topic):
    body = json.dumps(payload("order_two_lines")).encode()
    assert channel.verify_webhook(headers(body, topic), body) is True
    order = channel.parse_webhook(headers(body, topic), body)
    assert isinstance(order, Order)
    assert order == channel.parse_order(payload("order_two_lines"))
    assert order.id == "acme:5812345678901"


def test_a_cancelled_order_topic_carries_the_cancellation(channel, payload):
    body = json.dumps(payload("order_cancelled")).encode()
    order = channel.parse_webhook(headers(body, "orders/cancelled"), body)
    assert order.cancelled_at is not None  # the runner's intake cancels an order that carries it
    assert order == channel.parse_order(payload("order_cancelled"))


def test_other_topics_are_not_acted_on(channel):
    body = b'{"id": 1, "title": "Mug"}'
    assert channel.parse_webhook(headers(body, "products/update"), body) is None


@pytest.mark.parametrize(
    ("sent", "body", "words"),
    [
        ({}, b'{"id": 1}', "without an X-Shopify-Topic header"),
        ({"X-Shopify-Topic": "orders/create"}, b"not json", "body is not JSON"),
        ({"X-Shopify-Topic": "orders/create"}, b'{"email": "x"}', "is not an order"),
        ({"X-Shopify-Topic": "orders/create"}, b"[]", "is not an order"),
    ],
)
def test_a_webhook_that_is_not_an_order_is_a_payload_error(channel, sent, body, words):
    with pytest.raises(PayloadError, match=words):
        channel.parse_webhook(sent, body)


def test_the_delivery_is_the_webhook_id_and_the_trigger_time(channel):
    from datetime import datetime, timezone

    delivery = channel.webhook_delivery({"x-shopify-webhook-id": " b54557e4-bdd9-4b37-8a5f-bf7d70bcd043 ",
                                         "X-Shopify-Triggered-At": "2026-01-05T08:00:00.123456789Z"}, b"{}")
    assert delivery.id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.sent_at == datetime(2026, 1, 5, 8, 0, 0, 123456, tzinfo=timezone.utc)
    assert delivery.signed is False  # Shopify does not sign the time


@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Webhook-Id": "  "}, {"X-Shopify-Webhook-Id": "x" * 201},
                                     {"X-Shopify-Webhook-Id": "w1"},  # no trigger time: Shopify always sends one
                                     {"X-Shopify-Webhook-Id": "w1", "X-Shopify-Triggered-At": " "},
                                     {"X-Shopify-Webhook-Id": "w", "X-Shopify-Triggered-At": "yesterday"},
                                     {"X-Shopify-Webhook-Id": "w", "X-Shopify-Triggered-At": "2026-01-05T08:00:00"}])
def test_a_webhook_without_a_usable_id_or_time_has_no_delivery(channel, headers):
    with pytest.raises(PayloadError):
        channel.webhook_delivery(headers, b"{}")
