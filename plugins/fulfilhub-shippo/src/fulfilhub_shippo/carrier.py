"""The Shippo carrier adapter: the I/O half (the mapping lives in ``mapping.py``).

Every request goes through ``context.http`` (timeouts, retries on 429/5xx/timeouts,
Retry-After, secrets redacted), authenticated as Shippo asks: ``Authorization:
ShippoToken <key>``, with the API version pinned so the answers keep the mapped shape.

Shippo takes no idempotency key, so the adapter stamps the outbox's key on what it
creates (the Transaction's ``metadata``) and looks before it acts again: ``buy`` notes
each key in the instance's state and, on any later try with that key (or without a
state to note it in), lists the transactions of the rate first; ``void`` first reads
the transaction's status.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from fulfilhub import ConfigError, InstanceContext, Label, PermanentError, Rate, Setting, ShipmentRequest
from fulfilhub import TrackingUpdate, TransientError, WebhookDelivery
from fulfilhub.sdk import header, signature_time, stamped_signature, verify_stamped

from . import mapping

log = logging.getLogger("fulfilhub_shippo")
DEFAULT_BASE_URL = "https://api.goshippo.com"
API_VERSION = "2018-02-08"
#: The header of Shippo's HMAC webhook signature: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
SIGNATURE_HEADER = "Shippo-Auth-Signature"
#: How far a signed webhook's time may be from now (seconds) before it is taken for a replay.
WEBHOOK_TOLERANCE = 300
LABEL_FILE_TYPES = ("PNG", "PNG_2.3x7.5", "PDF", "PDF_2.3x7.5", "PDF_4x6", "PDF_4x8", "PDF_A4", "PDF_A5", "PDF_A6",
                    "ZPLII")

#: The settings of a ``type = "shippo"`` carrier instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "api_key": Setting(str, secret=True, help='your Shippo API token, e.g. "${SHIPPO_API_KEY}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "carrier_accounts": Setting(list, default=(), items=str, help="Shippo carrier account object_ids to rate with"),
    "services": Setting(list, default=(), items=str, help='only offer these servicelevel tokens, e.g. ["usps_priority"]'),
    "label_file_type": Setting(str, default="PDF_4x6", choices=LABEL_FILE_TYPES, help="the label file format"),
    "webhook_secret": Setting(str, default=None, secret=True, help="the HMAC secret Shippo signs webhooks with"),
}


class ShippoCarrier:
    """A configured Shippo account: a :class:`fulfilhub.Carrier` and :class:`fulfilhub.WebhookReceiver`."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self.carrier_accounts: tuple[str, ...] = tuple(context.setting("carrier_accounts"))
        self.services = frozenset(context.setting("services"))
        self.label_file_type: str = context.setting("label_file_type")
        self.webhook_secret: str | None = context.setting("webhook_secret")
        self._http = context.http(context.setting("base_url"), headers={
            "Authorization": f"ShippoToken {context.setting('api_key')}", "SHIPPO-API-VERSION": API_VERSION,
            "Accept": "application/json"})

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        """Create a Shippo Shipment (free until a rate is bought) and return its rates."""
        body = mapping.shipment_body(request, self.carrier_accounts)
        shipment = self._http.json(self._http.post("/shipments", json=body, idempotent=True))
        rates = mapping.parse_rates(shipment, self.name)
        if not rates:  # each carrier account that declined says why in the Shipment's messages
            log.warning("%s: Shippo returned no rates for %s: %s", self.name, request.reference,
                        mapping.messages(shipment) or "no message")
        return [rate for rate in rates if not self.services or rate.service in self.services]

    def buy(self, rate: Rate, key: str) -> Label:
        """Buy ``rate``'s label, unless a transaction of the rate already holds it.

        A Transaction still QUEUED is a TransientError (the outbox asks again later and
        finds it); ERROR is a PermanentError with Shippo's ``messages``.
        """
        if rate.carrier != self.name:
            raise ValueError(f"rate {rate.rate_id} was quoted by carrier {rate.carrier!r}, not by {self.name!r}")
        transaction = None
        state = self.context.state  # the runner's key store: a first try needs no look (GET lists: 50/min live)
        if state is None or not state.insert(f"buy:{key}", {"rate": rate.rate_id}):
            found = self._http.json(self._http.get("/transactions", params={"rate": rate.rate_id, "results": 100}))
            transaction = mapping.bought_before(found, rate.rate_id)
        transaction = transaction or self._http.json(self._http.post(
            "/transactions", json=mapping.transaction_body(rate, key, self.label_file_type)))  # not resent blindly
        state = mapping.transaction_status(transaction)
        if state == "pending":
            raise TransientError(f"the label of rate {rate.rate_id} is still {transaction.get('status')} at Shippo; "
                                 "asked again on the next run", service=self.name)
        if state != "label":
            raise PermanentError(f"Shippo did not sell the label of rate {rate.rate_id} "
                                 f"({transaction.get('status')}): {mapping.messages(transaction) or 'no message'}",
                                 service=self.name)
        return mapping.parse_label(transaction, rate)

    def track(self, label: Label) -> TrackingUpdate:
        carrier = mapping.tracking_carrier(label.carrier_name)
        number = quote(label.tracking_code, safe="")
        return mapping.parse_track(self._http.json(self._http.get(f"/tracks/{carrier}/{number}")))

    def void(self, label: Label) -> None:
        """Refund the unused label; done already (refunded or pending) is success, a refused one an error."""
        transaction = self._http.json(self._http.get(f"/transactions/{label.tracker_ref}"))
        status = transaction.get("status")
        if mapping.transaction_status(transaction) == "refunded":
            return
        if status != "REFUNDREJECTED":
            refund = self._http.json(self._http.post("/refunds", json={"transaction": label.tracker_ref, "async": False},
                                                     idempotent=True))  # a second refund request is refused, harmless
            if refund.get("status") in ("QUEUED", "PENDING", "SUCCESS"):
                return
            status = f"{refund.get('status')}: {mapping.messages(refund) or 'no message'}"
        raise PermanentError(f"Shippo refused the refund of label {label.tracking_code} ({status}); a label the "
                             "carrier has scanned cannot be voided", service=self.name)

    def close(self) -> None:
        self._http.close()

    # -- webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when ``Shippo-Auth-Signature`` signs ``body`` with ``webhook_secret`` within the tolerance."""
        if not self.webhook_secret:
            raise ConfigError("webhook_secret is not set, so Shippo webhooks cannot be verified; ask Shippo to "
                              "enable HMAC webhook signing and set it to that secret",
                              key=self.context.key("webhook_secret"))
        return verify_stamped(header(headers, SIGNATURE_HEADER) or "", body, self.webhook_secret,
                              now=self.context.clock.now(), tolerance=WEBHOOK_TOLERANCE)  # too old or new: a replay

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        return mapping.parse_webhook(body)

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Shippo sends no event id: a delivery is known by its body (a retry is the same body),
        and sent at the signature's time (signed)."""
        sent_at = signature_time(header(headers, SIGNATURE_HEADER) or "")
        return WebhookDelivery(id="sha256:" + hashlib.sha256(body).hexdigest(), sent_at=sent_at, signed=sent_at is not None)


#: The ``Shippo-Auth-Signature`` value for ``body`` at unix time ``stamp`` (the simulator signs with it).
sign = stamped_signature
