"""The ShipBob warehouse adapter (API 1.0): the I/O half (the mapping lives in ``mapping.py``).

One fulfilhub shipment is one ShipBob order whose ``reference_id`` is the shipment id.
ShipBob refuses a second order with the same ``reference_id`` (HTTP 422), which is its
idempotency: a submission retried after a lost answer finds the first order by its
reference. ShipBob ships with its own labels and keeps its own stock (a 3PL): the type
says so (``ships_own_labels``, ``keeps_stock``), and the adapter follows the parcels
itself (``track``) when no carrier of the shop's is named after their courier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from fulfilhub import (
    ConfigError,
    FulfillmentRequest,
    FulfillmentUpdate,
    InstanceContext,
    Label,
    PayloadError,
    PermanentError,
    Setting,
    StockLevel,
    TrackingUpdate,
    WebhookDelivery,
)
from fulfilhub.sdk import header

from . import mapping

DEFAULT_BASE_URL = "https://api.shipbob.com/1.0"
#: How far a webhook's ``webhook-timestamp`` may be from now (Standard Webhooks' default).
WEBHOOK_TOLERANCE = 300
#: SKUs / inventory ids per list request (ShipBob pages at 250; the query string stays short).
CHUNK = 50

#: The settings of a ``type = "shipbob"`` warehouse instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "access_token": Setting(str, secret=True, help='your ShipBob personal access token or OAuth access token, '
                                                   'e.g. "${SHIPBOB_TOKEN}"'),
    "channel_id": Setting(int, min=1, help="the ShipBob channel orders are created in (shipbob_channel_id)"),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL with its version "
                                                            "(sandbox: https://sandbox-api.shipbob.com/1.0)"),
    "shipping_method": Setting(str, default="Standard", help="the ship method orders carry (mapped to a ShipBob "
                                                             "ship option in its dashboard)"),
    "fulfillment_center_id": Setting(int, default=0, min=0, help="read stock of this fulfillment center only "
                                                                 "(0: the whole network)"),
    "webhook_secret": Setting(str, default="", help='the subscription\'s signing secret ("whsec_..."), '
                                                    'e.g. "${SHIPBOB_WEBHOOK_SECRET}"'),
}


class ShipbobWarehouse:
    """A ShipBob merchant account, satisfying :class:`fulfilhub.Warehouse`,
    :class:`fulfilhub.ShipmentTracker` and :class:`fulfilhub.WebhookReceiver`."""

    def __init__(self, context: InstanceContext):
        self.name = context.name
        self.context = context
        self.shipping_method: str = context.setting("shipping_method")
        center = context.setting("fulfillment_center_id")
        self.fulfillment_center: int | None = center or None
        self.webhook_secret: str = context.setting("webhook_secret").strip()
        self._http = context.http(context.setting("base_url").rstrip("/"), headers={
            "Authorization": f"Bearer {context.setting('access_token')}",
            "shipbob_channel_id": str(context.setting("channel_id")),
            "Accept": "application/json"})

    # -- stock

    def stock_levels(self, skus: Sequence[str]) -> Sequence[StockLevel]:
        """ShipBob's stock of each SKU: its products by ``reference_id``, then their inventory items."""
        products: dict[str, list[tuple[str, int]]] = {}
        for part in _chunks(sorted(set(skus))):
            answer = self._http.json(self._http.get("/product", params={"ReferenceIds": ",".join(part), "Limit": 250}),
                                     kind=list)
            products.update(mapping.inventory_of_products(answer, part))
        ids = sorted({inventory_id for components in products.values() for inventory_id, _ in components})
        inventory: dict[str, tuple[int, int]] = {}
        for part in _chunks(ids):
            answer = self._http.json(self._http.get("/inventory", params={"IDs": ",".join(part), "Limit": 250}),
                                     kind=list)
            inventory.update(mapping.parse_inventory(answer, fulfillment_center=self.fulfillment_center))
        return mapping.stock_levels(products, inventory, warehouse=self.name)

    # -- orders

    def submit(self, request: FulfillmentRequest) -> str:
        """Create the order; a 422 (its ``reference_id`` exists) finds the first one instead."""
        body = mapping.order_body(request, shipping_method=self.shipping_method)
        try:
            return mapping.order_id(self._http.json(self._http.post("/order", json=body, idempotent=True)))
        except PermanentError as exc:
            if exc.status_code != 422:
                raise
            found = self._find(request.shipment_id)
            if found is None:
                raise
            return found

    def _find(self, reference_id: str) -> str | None:
        answer = self._http.json(self._http.get("/order", params={"ReferenceIds": reference_id}), kind=list)
        return mapping.order_id_of_reference(answer, reference_id)

    def status(self, ref: str) -> FulfillmentUpdate:
        return mapping.parse_shipments(self._shipments(ref), ref=ref)

    def _shipments(self, ref: str) -> list:
        if not ref.isdigit():
            raise PayloadError(f"a ShipBob order id is a number, got {ref[:40]!r}", field="ref")
        return self._http.json(self._http.get(f"/order/{ref}/shipment"), kind=list)

    def cancel(self, ref: str) -> None:
        """Cancel the order; one already cancelled is success, a shipment that left is an error."""
        answer = self._http.json(self._http.post(f"/order/{ref}/cancel", idempotent=True))
        failed = [result for result in (answer.get("canceled_shipment_results") or [])
                  if isinstance(result, Mapping) and not result.get("is_success")]
        if failed:
            reasons = "; ".join(str(result.get("reason") or "no reason")[:200] for result in failed)
            raise PermanentError(f"ShipBob did not cancel order {ref}: {reasons}", service=self.name)

    def track(self, label: Label) -> TrackingUpdate:
        """The parcel's progress as ShipBob reports it (``label.shipment_ref`` is the order id)."""
        return mapping.parse_tracking(self._shipments(label.shipment_ref), tracking_code=label.tracking_code)

    def close(self) -> None:
        self._http.close()

    # -- webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Standard Webhooks: ``webhook-signature`` holds ``v1,<base64 HMAC-SHA256>`` of
        ``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the base64-decoded secret after
        ``whsec_`` (a secret without that prefix is used as its bytes)."""
        if not self.webhook_secret:
            raise ConfigError("webhook_secret is not set, so ShipBob webhooks cannot be verified; set it to the "
                              "subscription's signing secret", key=self.context.key("webhook_secret"))
        delivery, stamp = header(headers, "webhook-id") or "", header(headers, "webhook-timestamp") or ""
        if not delivery or not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return False
        if abs(self.context.clock.now().timestamp() - int(stamp)) > WEBHOOK_TOLERANCE:
            return False
        try:
            expected = sign(self.webhook_secret, delivery, int(stamp), body)
        except (binascii.Error, ValueError):
            raise ConfigError("webhook_secret is not a ShipBob signing secret (whsec_ and base64)",
                              key=self.context.key("webhook_secret")) from None
        given = (header(headers, "webhook-signature") or "").split()
        return any(hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")) for sig in given)

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        stamp = header(headers, "webhook-timestamp") or ""
        sent_at = datetime.fromtimestamp(int(stamp), timezone.utc) if stamp.isdigit() and len(stamp) <= 12 else None
        return WebhookDelivery(id=(header(headers, "webhook-id") or "")[:200] or "sha256:" + hashlib.sha256(body).hexdigest(),
                               sent_at=sent_at, signed=sent_at is not None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> FulfillmentUpdate | TrackingUpdate | None:
        """The order the webhook names, read again and mapped as a poll would be."""
        topic = header(headers, "x-webhook-topic") or header(headers, "shipbob-topic") or ""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PayloadError("the webhook body is not JSON", field="body") from None
        subject = mapping.webhook_subject(topic, payload)
        if subject is None:
            return None
        kind, ref, shipments = subject
        return mapping.from_webhook(kind, ref, shipments if shipments is not None else self._shipments(ref))


def sign(secret: str, delivery_id: str, stamp: int, body: bytes) -> str:
    """The ``webhook-signature`` entry (``v1,<base64>``) for a delivery, as ShipBob signs it."""
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True) if secret.startswith("whsec_") \
        else secret.encode()
    digest = hmac.new(key, f"{delivery_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]
