"""The EasyPost carrier adapter: the I/O half (the mapping lives in ``mapping.py``).

Settings of a ``type = "easypost"`` carrier instance:

- ``api_key`` (required): the EasyPost API key, e.g. ``"${EASYPOST_API_KEY}"``. It is
  sent only as the HTTP Basic user name, as EasyPost asks.
- ``base_url``: default ``https://api.easypost.com``; the sandbox gives its own URL.
- ``carrier_accounts``: EasyPost carrier account ids (``ca_...``) to rate with; default
  all accounts of the API key.
- ``services``: only offer these service names (``["Priority", "Ground"]``); default all.
- ``label_format``: ``PDF`` (default), ``PNG``, ``ZPL`` or ``EPL2``.
- ``webhook_secret``: the secret of the EasyPost webhook, to verify its signatures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from fulfilhub import (
    ConfigError,
    InstanceContext,
    Label,
    PermanentError,
    Rate,
    Setting,
    ShipmentRequest,
    TrackingUpdate,
    WebhookDelivery,
)
from fulfilhub.sdk import header

from . import mapping, webhooks

log = logging.getLogger("fulfilhub_easypost")

DEFAULT_BASE_URL = "https://api.easypost.com"
#: EasyPost's error code for buying a shipment that already has postage.
POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"
LABEL_FORMATS = ("PDF", "PNG", "ZPL", "EPL2")


class _PostageExists(Exception):
    """Raised from the response hook when EasyPost answers SHIPMENT.POSTAGE.EXISTS."""


def _error_code(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error.get("code") if isinstance(error, Mapping) else None


def _stop_on_postage_exists(response: httpx.Response) -> None:
    # The shared HttpClient turns every 4xx into a PermanentError whose text is all that
    # is left of the body; EasyPost's machine-readable code is read here instead, before
    # that happens, for the one refusal that means "already done".
    if 400 <= response.status_code < 500 and _error_code(response) == POSTAGE_EXISTS:
        raise _PostageExists()


#: The settings of a ``type = "easypost"`` carrier instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "api_key": Setting(str, secret=True, help='your EasyPost API key, e.g. "${EASYPOST_API_KEY}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "carrier_accounts": Setting(list, default=(), items=str, help="carrier account ids (ca_...) to rate with"),
    "services": Setting(list, default=(), items=str, help='only offer these services, e.g. ["Priority"]'),
    "label_format": Setting(str, default="PDF", choices=LABEL_FORMATS, help="the label file format"),
    "webhook_secret": Setting(str, default=None, secret=True, help="the EasyPost webhook's secret"),
}


class EasyPostCarrier:
    """A configured EasyPost account, satisfying :class:`fulfilhub.Carrier`.

    Quoting creates an EasyPost Shipment, which costs nothing until it is bought, so a
    repeated quote is harmless. Buying is safe to retry: EasyPost sells one label per
    shipment and refuses a second purchase with SHIPMENT.POSTAGE.EXISTS, which this
    adapter answers by returning the label already bought.
    """

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        api_key: str = context.setting("api_key")
        self.carrier_accounts: tuple[str, ...] = context.setting("carrier_accounts")
        self.services = frozenset(context.setting("services"))
        self.label_format: str = context.setting("label_format")
        self.webhook_secret: str | None = context.setting("webhook_secret")
        self._http = context.http(
            context.setting("base_url"),
            auth=(api_key, ""),
            headers={"Accept": "application/json"},
            on_response=_stop_on_postage_exists,
        )

    # -- Carrier protocol

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        """Create an EasyPost shipment for ``request`` and return its rates.

        Rates outside ``services`` are dropped. When EasyPost returns no rate at all,
        its per-carrier ``messages`` (why each carrier declined) are logged.
        """
        body = mapping.shipment_body(request, carrier_accounts=self.carrier_accounts, label_format=self.label_format)
        shipment = self._http.json(self._http.post("/v2/shipments", json=body, idempotent=True))
        rates = mapping.parse_rates(shipment, self.name)
        if not rates and shipment.get("messages"):
            log.warning("%s: EasyPost returned no rates for %s: %s", self.name, request.reference, shipment["messages"])
        return [rate for rate in rates if not self.services or rate.service in self.services]

    def buy(self, rate: Rate, key: str) -> Label:
        """Buy ``rate``'s label; the EasyPost shipment is the unit of idempotency.

        ``key`` needs no stamping: a shipment holds at most one label. When EasyPost
        says the shipment already has one (an earlier call whose answer was lost, or a
        retry after a timeout), the shipment is read back and that first label returned.
        """
        if rate.carrier != self.name:
            raise ValueError(f"rate {rate.rate_id} was quoted by carrier {rate.carrier!r}, not by {self.name!r}")
        try:
            response = self._http.post(
                f"/v2/shipments/{rate.shipment_ref}/buy", json={"rate": {"id": rate.rate_id}}, idempotent=True
            )
            shipment = self._http.json(response)
        except _PostageExists:
            log.info(
                "%s: shipment %s was already bought (key %s); returning its label", self.name, rate.shipment_ref, key
            )
            shipment = self._shipment(rate.shipment_ref)
        return mapping.parse_label(shipment, self.name)

    def track(self, label: Label) -> TrackingUpdate:
        """Read the label's EasyPost Tracker (found through its shipment if not known)."""
        tracker_ref = label.tracker_ref
        if not tracker_ref:
            tracker_ref = mapping.tracker_id(self._shipment(label.shipment_ref))
            if not tracker_ref:
                raise PermanentError(
                    f"EasyPost shipment {label.shipment_ref} has no tracker; was its label bought?",
                    service=self.name,
                )
        return mapping.parse_tracker(self._http.json(self._http.get(f"/v2/trackers/{tracker_ref}")))

    def void(self, label: Label) -> None:
        """Ask EasyPost to refund the label; a label the carrier has scanned is refused."""
        shipment = self._http.json(self._http.post(f"/v2/shipments/{label.shipment_ref}/refund", idempotent=True))
        if shipment.get("refund_status") == "rejected":
            raise PermanentError(
                f"EasyPost rejected the refund of label {label.tracking_code} (shipment {label.shipment_ref}); "
                "a label the carrier has already scanned cannot be voided",
                service=self.name,
            )

    def close(self) -> None:
        self._http.close()

    # -- webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when ``body`` carries a valid EasyPost signature for ``webhook_secret``."""
        if not self.webhook_secret:
            raise ConfigError(
                "webhook_secret is not set, so EasyPost webhooks cannot be verified; set it to the secret "
                'you gave the webhook in EasyPost, e.g. webhook_secret = "${EASYPOST_WEBHOOK_SECRET}"',
                key=self.context.key("webhook_secret"),
            )
        return webhooks.verify_signature(body, self.webhook_secret, header(headers, webhooks.SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate:
        """The tracking carried by a verified ``tracker.*`` webhook body (PayloadError otherwise).

        ``headers`` are not needed: EasyPost says what an event is in its body.
        """
        return mapping.parse_tracker(webhooks.tracker_from_event(body))

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """The Event's id and ``updated_at`` (both signed, inside the body)."""
        return webhooks.delivery(body)

    # -- internals

    def _shipment(self, shipment_id: str) -> Mapping[str, Any]:
        return self._http.json(self._http.get(f"/v2/shipments/{shipment_id}"))

