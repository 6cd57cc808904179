"""The EasypostKit carrier adapter: the I/O half (the mapping lives in ``mapping.py``).

Every request goes through ``context.http`` (timeouts, retries on 429/5xx/timeouts,
Retry-After, secrets redacted). Buying takes the outbox's idempotency key as the API's
``Idempotency-Key`` header, so a retried purchase returns the first label.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from fulfilhub import ConfigError, InstanceContext, Label, Rate, Setting, ShipmentRequest, TrackingUpdate
from fulfilhub.http import header

from . import mapping

DEFAULT_BASE_URL = "https://api.easypost_kit.example"
SIGNATURE_HEADER = "X-EasypostKit-Signature"
#: How old a signed webhook may be (seconds) before it is taken for a replay.
WEBHOOK_TOLERANCE = 300

#: The settings of a ``type = "easypost_kit"`` carrier instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "api_key": Setting(str, secret=True, help='your EasypostKit API key, e.g. "${EASYPOST_KIT_API_KEY}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "services": Setting(list, default=(), items=str, help='only offer these services, e.g. ["express"]'),
    "webhook_secret": Setting(str, default=None, secret=True, help="the secret EasypostKit signs webhooks with"),
}


class EasypostKitCarrier:
    """A configured EasypostKit account, satisfying :class:`fulfilhub.Carrier` and :class:`fulfilhub.WebhookReceiver`."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self.services = frozenset(context.setting("services"))
        self.webhook_secret: str | None = context.setting("webhook_secret")
        self._http = context.http(context.setting("base_url"),
                                  headers={"Authorization": f"Bearer {context.setting('api_key')}"})

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        answer = self._http.json(self._http.post("/v1/rates", json=mapping.rates_body(request), idempotent=True))
        rates = mapping.parse_rates(answer, carrier=self.name, shipment_ref=request.reference)
        return [rate for rate in rates if not self.services or rate.service in self.services]

    def buy(self, rate: Rate, key: str) -> Label:
        response = self._http.post("/v1/labels", json={"rate_id": rate.rate_id}, headers={"Idempotency-Key": key},
                                   idempotent=True)  # the key makes a repeat harmless
        return mapping.parse_label(self._http.json(response), carrier=self.name, shipment_ref=rate.shipment_ref)

    def track(self, label: Label) -> TrackingUpdate:
        return mapping.parse_tracking(self._http.json(self._http.get(f"/v1/labels/{label.tracker_ref}/tracking")))

    def void(self, label: Label) -> None:
        self._http.post(f"/v1/labels/{label.tracker_ref}/void", idempotent=True)  # voiding twice is one void

    def close(self) -> None:
        self._http.close()

    # -- webhooks: "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self.webhook_secret:
            raise ConfigError("webhook_secret is not set, so webhooks cannot be verified",
                              key=self.context.key("webhook_secret"))
        parts = dict(part.split("=", 1) for part in (header(headers, SIGNATURE_HEADER) or "").split(",") if "=" in part)
        stamp, given = parts.get("t", ""), parts.get("v1", "")
        if not stamp.isdigit() or abs(self.context.clock.now().timestamp() - int(stamp)) > WEBHOOK_TOLERANCE:
            return False  # unsigned, or too old: a replay
        expected = sign(body, self.webhook_secret, int(stamp)).encode()
        return hmac.compare_digest(expected, f"t={stamp},v1={given}".encode("utf-8", "replace"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        return mapping.parse_webhook(body)


def sign(body: bytes, secret: str, stamp: int) -> str:
    """The signature header EasypostKit sends for ``body`` at unix time ``stamp``."""
    digest = hmac.new(secret.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"
