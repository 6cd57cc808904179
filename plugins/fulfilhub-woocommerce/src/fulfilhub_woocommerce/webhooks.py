"""WooCommerce webhooks: signature verification and order topics, pure (no I/O).

WooCommerce signs each delivery with the webhook's secret: ``X-WC-Webhook-Signature``
is the base64 of the HMAC-SHA256 of the raw body. ``X-WC-Webhook-Topic`` says what the
body is (``order.created``, ``order.updated``, ``order.restored`` carry the order as
``GET /wp-json/wc/v3/orders/{id}`` returns it; ``order.deleted`` carries only its id).
``X-WC-Webhook-Delivery-ID`` identifies the delivery. No time is sent, signed or not.
When a webhook is saved, WooCommerce pings the URL with the form body
``webhook_id=<id>``; that ping carries no order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fulfilhub import PayloadError, WebhookDelivery
from fulfilhub.sdk import header

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"
#: The topics whose body is an order.
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})


def sign(body: bytes, secret: str) -> str:
    """The ``X-WC-Webhook-Signature`` WooCommerce sends for ``body`` under ``secret``."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify_signature(body: bytes, secret: str, header_value: str | None) -> bool:
    """True when ``header_value`` is the signature of exactly ``body`` (compared in constant time).

    An empty secret or a missing header verifies nothing.
    """
    if not secret or not header_value:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header_value.strip().encode("utf-8"))


def order_payload(headers: Mapping[str, str], body: bytes) -> Mapping[str, Any] | None:
    """The order JSON of an order-topic delivery; None for the ping and for topics without an order.

    Raises PayloadError when an order topic's body is not an order.
    """
    topic = (header(headers, TOPIC_HEADER) or "").strip()
    if body.startswith(b"webhook_id="):
        return None  # the ping sent when a webhook is saved
    if topic not in ORDER_TOPICS:
        if not topic:
            raise PayloadError(f"WooCommerce webhook without an {TOPIC_HEADER} header", field=TOPIC_HEADER)
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"WooCommerce {topic} webhook body is not JSON: {exc}") from None
    if not isinstance(payload, Mapping) or "id" not in payload:
        raise PayloadError(f"WooCommerce {topic} webhook body is not an order (no id)", field="id")
    return payload


def delivery(headers: Mapping[str, str]) -> WebhookDelivery:
    """The delivery id (``X-WC-Webhook-Delivery-ID``); WooCommerce sends no time."""
    if not isinstance(headers, Mapping):
        raise PayloadError(f"webhook headers must be a mapping, got {type(headers).__name__}")
    delivery_id = (header(headers, DELIVERY_HEADER) or "").strip()
    if not delivery_id:
        raise PayloadError(f"WooCommerce webhook without an {DELIVERY_HEADER} header", field=DELIVERY_HEADER)
    if len(delivery_id) > 200 or not delivery_id.isprintable():
        raise PayloadError(f"{DELIVERY_HEADER} must be printable text of at most 200 characters",
                           field=DELIVERY_HEADER)
    return WebhookDelivery(id=delivery_id, sent_at=None, signed=False)
