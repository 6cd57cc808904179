"""Shopify webhooks: signature verification and order topics, pure (no I/O).

Shopify signs each webhook with the app's client secret: ``X-Shopify-Hmac-Sha256`` holds
the base64 of the HMAC-SHA256 of the raw body. The body must be verified exactly as it
arrived, before any parsing. ``X-Shopify-Topic`` says what the body is; the order topics
carry the same order JSON the Admin REST API returns, so the adapter's pure mapping
reads them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fulfilhub import PayloadError, WebhookDelivery
from fulfilhub.sdk import header, parse_time

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
#: The same on every retry of one delivery (Shopify's advice for deduplicating).
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
#: When the event was triggered (ISO 8601). Not covered by the signature.
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
#: The topics that carry an order, mapped with :func:`fulfilhub_shopify.mapping.parse_order`.
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled"})


def sign(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``body`` under ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, secret: str, header_value: str | None) -> bool:
    """True when ``header_value`` is Shopify's signature of exactly ``body`` (constant time).

    An empty secret or a missing header verifies nothing.
    """
    if not secret or not header_value:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header_value.strip().encode("utf-8"))



def order_payload(headers: Mapping[str, str], body: bytes) -> Mapping[str, Any] | None:
    """The order JSON of an order-topic webhook; None for a topic that carries no order.

    Raises PayloadError when the topic header is missing or the body is not an order.
    """
    topic = header(headers, TOPIC_HEADER)
    if not topic:
        raise PayloadError(f"Shopify webhook without an {TOPIC_HEADER} header", field=TOPIC_HEADER)
    if topic.strip() not in ORDER_TOPICS:
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"Shopify {topic} webhook body is not JSON: {exc}") from None
    if not isinstance(payload, Mapping) or "id" not in payload:
        raise PayloadError(f"Shopify {topic} webhook body is not an order (no id)", field="id")
    return payload


def delivery(headers: Mapping[str, str]) -> WebhookDelivery:
    """The delivery id (``X-Shopify-Webhook-Id``) and trigger time (``X-Shopify-Triggered-At``).

    Shopify does not sign the time, so ``signed`` is False. Raises PayloadError for a
    missing id, a missing time (Shopify always sends both) or a time that is not an ISO
    8601 instant.
    """
    if not isinstance(headers, Mapping):
        raise PayloadError(f"Shopify webhook headers must be a mapping, got {type(headers).__name__}")
    webhook_id = _text(header(headers, WEBHOOK_ID_HEADER))
    if not webhook_id:
        raise PayloadError(f"Shopify webhook without an {WEBHOOK_ID_HEADER} header", field=WEBHOOK_ID_HEADER)
    if len(webhook_id) > 200 or not webhook_id.isprintable():
        raise PayloadError(f"Shopify {WEBHOOK_ID_HEADER} must be printable text of at most 200 characters",
                           field=WEBHOOK_ID_HEADER)
    raw = _text(header(headers, TRIGGERED_AT_HEADER))
    if not raw:  # Shopify always sends it: without it, a copied body with a fresh id could never be stale
        raise PayloadError(f"Shopify webhook without an {TRIGGERED_AT_HEADER} header (Shopify always sends one)",
                           field=TRIGGERED_AT_HEADER)
    try:
        sent_at = parse_time(raw, field=TRIGGERED_AT_HEADER)
    except PayloadError:
        raise PayloadError(f"Shopify {TRIGGERED_AT_HEADER} {raw[:60]!r} is not an ISO 8601 time with an offset "
                           "(within 1900-2200)",
                           field=TRIGGERED_AT_HEADER) from None
    return WebhookDelivery(id=webhook_id, sent_at=sent_at, signed=False)


def _text(value: object) -> str:
    """A header's value, stripped ("" when absent or, in a hand-made mapping, not text)."""
    return value.strip() if isinstance(value, str) else ""
