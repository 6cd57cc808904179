"""The EasyPost carrier adapter, on the kit: the I/O half (the mapping lives in ``mapping.py``).

Every request goes through ``context.http`` (timeouts, retries on 429/5xx/timeouts,
Retry-After, secrets redacted). EasyPost sells one label per shipment: a purchase
retried after a lost answer is refused with SHIPMENT.POSTAGE.EXISTS, and the label
already bought is read back.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping, Sequence

from fulfilhub import (
    ConfigError,
    InstanceContext,
    Label,
    PermanentError,
    Rate,
    Setting,
    ShipmentRequest,
    TrackingUpdate,
)
from fulfilhub.http import header

from . import mapping

DEFAULT_BASE_URL = "https://api.easypost.com"
SIGNATURE_HEADER = "X-Hmac-Signature"

#: The settings of a ``type = "easypost_kit"`` carrier instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "api_key": Setting(str, secret=True, help='your EasyPost API key, e.g. "${EASYPOST_API_KEY}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "services": Setting(list, default=(), items=str, help='only offer these services, e.g. ["Priority"]'),
    "webhook_secret": Setting(str, default=None, secret=True, help="the EasyPost webhook's secret"),
}


class EasypostKitCarrier:
    """An EasyPost account, satisfying :class:`fulfilhub.Carrier` and :class:`fulfilhub.WebhookReceiver`."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self.services = frozenset(context.setting("services"))
        self.webhook_secret: str | None = context.setting("webhook_secret")
        self._http = context.http(context.setting("base_url"), auth=(context.setting("api_key"), ""))

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        answer = self._http.json(self._http.post("/v2/shipments", json=mapping.shipment_body(request), idempotent=True))
        return [r for r in mapping.parse_rates(answer, carrier=self.name) if not self.services or r.service in self.services]

    def buy(self, rate: Rate, key: str) -> Label:
        try:
            shipment = self._http.json(self._http.post(f"/v2/shipments/{rate.shipment_ref}/buy",
                                                       json={"rate": {"id": rate.rate_id}}, idempotent=True))
        except PermanentError as exc:
            if "SHIPMENT.POSTAGE.EXISTS" not in exc.body:
                raise
            shipment = self._http.json(self._http.get(f"/v2/shipments/{rate.shipment_ref}"))  # bought before
        return mapping.parse_label(shipment, carrier=self.name)

    def track(self, label: Label) -> TrackingUpdate:
        return mapping.parse_tracking(self._http.json(self._http.get(f"/v2/trackers/{label.tracker_ref}")))

    def void(self, label: Label) -> None:
        shipment = self._http.json(self._http.post(f"/v2/shipments/{label.shipment_ref}/refund", idempotent=True))
        if shipment.get("refund_status") == "rejected":
            raise PermanentError(f"EasyPost rejected the refund of {label.tracking_code}: already scanned",
                                 service=self.name)

    def close(self) -> None:
        self._http.close()

    # -- webhooks: "hmac-sha256-hex=<hex HMAC-SHA256 of the body>", keyed with the NFKD secret

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self.webhook_secret:
            raise ConfigError("webhook_secret is not set, so webhooks cannot be verified",
                              key=self.context.key("webhook_secret"))
        given = (header(headers, SIGNATURE_HEADER) or "").strip().encode("utf-8", "replace")
        return bool(given) and hmac.compare_digest(sign(body, self.webhook_secret).encode(), given)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        return mapping.parse_webhook(body)


def sign(body: bytes, secret: str) -> str:
    """The signature header EasyPost sends for ``body``."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
