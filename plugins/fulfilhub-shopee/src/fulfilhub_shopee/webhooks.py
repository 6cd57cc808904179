"""Shopee's request signature and push notifications: pure (no I/O).

Every Open Platform v2 request carries ``partner_id``, ``timestamp`` and ``sign`` in its
query (and ``access_token`` and ``shop_id`` for a shop's API): ``sign`` is the hex
HMAC-SHA256, keyed with the partner key, of ``partner_id + path + timestamp`` followed,
for a shop's API, by ``access_token + shop_id``.

A push notification is a POST to the URL set in the App's push settings, with a JSON
body ``{"shop_id": ..., "code": ..., "timestamp": ..., "data": {...}}`` and an
``Authorization`` header holding the hex HMAC-SHA256 of ``push URL + "|" + raw body``,
keyed with the partner key. ``timestamp`` is inside the signed body, so a stale replay
can be refused. Code 3 is an order status change (``data.ordersn``, ``data.status``,
``data.update_time``), code 4 a tracking number (``data.ordersn``,
``data.tracking_no``); neither carries the order itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fulfilhub import PayloadError, WebhookDelivery
from fulfilhub.sdk import header

SIGNATURE_HEADER = "Authorization"
#: Push codes that concern an order (``data.ordersn``): 3 order status, 4 tracking number.
ORDER_CODES = frozenset({3, 4})


def sign_request(partner_key: str, partner_id: int, path: str, timestamp: int, access_token: str = "",
                 shop_id: int | None = None) -> str:
    """The ``sign`` query parameter of a request to ``path`` (a public API without a token and shop)."""
    base = f"{partner_id}{path}{timestamp}"
    if shop_id is not None:
        base += f"{access_token}{shop_id}"
    return hmac.new(partner_key.encode("utf-8"), base.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_push(url: str, body: bytes, key: str) -> str:
    """The ``Authorization`` header Shopee sends with a push of ``body`` to ``url``."""
    return hmac.new(key.encode("utf-8"), url.encode("utf-8") + b"|" + body, hashlib.sha256).hexdigest()


def verify_push(url: str, body: bytes, key: str, header_value: str | None) -> bool:
    """True when ``header_value`` signs exactly ``url`` and ``body`` (compared in constant time)."""
    if not key or not header_value:
        return False
    return hmac.compare_digest(sign_push(url, body, key).encode("ascii"),
                               header_value.strip().lower().encode("utf-8", "replace"))


def push(body: bytes) -> Mapping[str, Any]:
    """The push's JSON object, with ``code``, ``shop_id`` and ``timestamp`` checked."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"Shopee push body is not JSON: {exc}") from None
    if not isinstance(payload, Mapping):
        raise PayloadError("Shopee push body is not a JSON object")
    for key in ("code", "shop_id", "timestamp"):
        value = payload.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise PayloadError(f"must be a whole number, got {type(value).__name__}", field=key)
    return payload


def sent_at(payload: Mapping[str, Any]) -> datetime:
    seconds = payload["timestamp"]
    if not 946_684_800 <= seconds < 7_258_118_400:
        raise PayloadError(f"is not a Unix time from 2000 to 2200: {seconds}", field="timestamp")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def ordersn(payload: Mapping[str, Any]) -> str | None:
    """The order an order push (code 3 or 4) is about; None for other codes."""
    if payload["code"] not in ORDER_CODES:
        return None
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise PayloadError("an order push must carry a data object", field="data")
    sn = data.get("ordersn")
    if not isinstance(sn, str) or not 0 < len(sn) <= 64 or not sn.isascii() or not sn.isalnum():
        raise PayloadError(f"must be an order_sn, got {type(sn).__name__}", field="data.ordersn")
    return sn


def delivery(payload: Mapping[str, Any]) -> WebhookDelivery:
    """Shopee sends no delivery id: the push's code, shop, order and signed timestamp make one."""
    data = payload.get("data")
    subject = data.get("ordersn") if isinstance(data, Mapping) else None
    status = data.get("status") if isinstance(data, Mapping) else None
    parts = [str(payload["code"]), str(payload["shop_id"]), str(subject or ""), str(status or ""),
             str(payload["timestamp"])]
    return WebhookDelivery(id=":".join(p[:64] for p in parts), sent_at=sent_at(payload), signed=True)


__all__ = ["SIGNATURE_HEADER", "delivery", "header", "ordersn", "push", "sent_at", "sign_push", "sign_request",
           "verify_push"]
