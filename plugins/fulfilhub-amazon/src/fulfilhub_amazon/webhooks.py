"""``ORDER_CHANGE`` notifications, as an operator's relay forwards them: pure (no I/O).

Amazon delivers SP-API notifications to an Amazon SQS queue (or EventBridge), never to
an HTTP endpoint of the seller's. Taking them into fulfilhub is a hop the operator runs:
a small relay reads the queue and POSTs each message body, unchanged, to fulfilhub's
``/webhooks/INSTANCE``. Amazon signs nothing on that hop, so the relay does: the header
``X-Fulfilhub-Relay-Signature`` holds ``sha256=`` and the hex HMAC-SHA256 of the raw
body, keyed with a secret the operator shares between the relay and this channel's
``relay_secret`` setting. The body's ``NotificationMetadata.PublishTime`` (Amazon's,
inside the signed body) dates the message, so a stale replay is refused, and its
``NotificationId`` names the delivery, the same on each retry.

The body is Amazon's notification JSON::

    {"NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
     "EventTime": "...", "Payload": {"OrderChangeNotification": {"AmazonOrderId": "...",
     "OrderChangeType": "OrderStatusChange", "Summary": {...}, ...}},
     "NotificationMetadata": {"ApplicationId": "...", "SubscriptionId": "...",
                              "PublishTime": "...", "NotificationId": "..."}}

It names an order and summarises the change; it does not carry the order, so the
channel reads the order itself (``getOrders`` by ``AmazonOrderIds``) at its next pull.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fulfilhub import PayloadError, WebhookDelivery
from fulfilhub.sdk import parse_time

SIGNATURE_HEADER = "X-Fulfilhub-Relay-Signature"
_PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The relay's ``X-Fulfilhub-Relay-Signature`` for ``body``."""
    return _PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header_value: str | None) -> bool:
    """True when ``header_value`` signs exactly ``body`` with ``secret`` (compared in constant time)."""
    if not secret or not header_value:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header_value.strip().encode("utf-8", "replace"))


def notification(body: bytes) -> Mapping[str, Any]:
    """The notification's JSON object, with its type and metadata checked."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"is not JSON: {str(exc)[:120]}", field="body") from None
    if not isinstance(payload, Mapping):
        raise PayloadError("must be a JSON object", field="body")
    kind = payload.get("NotificationType")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("must name the NotificationType", field="NotificationType")
    meta = payload.get("NotificationMetadata")
    if not isinstance(meta, Mapping):
        raise PayloadError("must be a JSON object with PublishTime and NotificationId", field="NotificationMetadata")
    return payload


def published(payload: Mapping[str, Any]) -> datetime:
    return parse_time(payload["NotificationMetadata"].get("PublishTime"), field="NotificationMetadata.PublishTime")


def delivery(payload: Mapping[str, Any]) -> WebhookDelivery:
    ident = payload["NotificationMetadata"].get("NotificationId")
    if not isinstance(ident, str) or not 0 < len(ident) <= 200:
        raise PayloadError("must be the notification's id", field="NotificationMetadata.NotificationId")
    return WebhookDelivery(id=ident, sent_at=published(payload), signed=True)


def changed_order(payload: Mapping[str, Any]) -> str | None:
    """The ``AmazonOrderId`` an ``ORDER_CHANGE`` names; None for another notification type."""
    if payload.get("NotificationType") != "ORDER_CHANGE":
        return None
    inner = payload.get("Payload")
    change = inner.get("OrderChangeNotification") if isinstance(inner, Mapping) else None
    if not isinstance(change, Mapping):
        raise PayloadError("must hold OrderChangeNotification", field="Payload.OrderChangeNotification")
    ident = change.get("AmazonOrderId")
    if not isinstance(ident, str) or not 0 < len(ident) <= 64 or not ident.replace("-", "").isalnum() \
            or not ident.isascii():
        raise PayloadError(f"must be an Amazon order id, got {str(ident)[:60]!r}",
                           field="Payload.OrderChangeNotification.AmazonOrderId")
    return ident


def order_change(order_id: str, *, at: datetime, notification_id: str, status: str = "Unshipped",
                 change_type: str = "OrderStatusChange", seller_id: str = "A3DEMOSELLER01",
                 marketplace_id: str = "ATVPDKIKX0DER") -> dict[str, Any]:
    """An ``ORDER_CHANGE`` notification in Amazon's shape (the simulator's and the tests')."""
    stamp = at.isoformat().replace("+00:00", "Z")
    return {
        "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
        "EventTime": stamp,
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel", "SellerId": seller_id, "AmazonOrderId": order_id,
            "OrderChangeType": change_type,
            "OrderChangeTrigger": {"TimeOfOrderChange": stamp, "ChangeReason": "Order status changed"},
            "Summary": {"MarketplaceId": marketplace_id, "OrderStatus": status, "PurchaseDate": stamp,
                        "FulfillmentType": "MFN", "OrderType": "StandardOrder", "NumberOfItemsShipped": 0,
                        "NumberOfItemsUnshipped": 1, "OrderItems": []}}},
        "NotificationMetadata": {"ApplicationId": "amzn1.sp.solution.demo", "SubscriptionId": "sub-demo",
                                 "PublishTime": stamp, "NotificationId": notification_id},
    }
