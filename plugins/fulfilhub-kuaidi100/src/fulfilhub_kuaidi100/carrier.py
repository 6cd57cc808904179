"""The Kuaidi100 (快递100) adapter: tracking of mainland couriers' parcels (the I/O half).

Kuaidi100 tracks; it sells no labels. A shipment whose label was bought elsewhere (by a
3PL, at the courier's counter) carries the courier and tracking number, and this adapter
reads its scans: the real-time query (``POST /poll/query.do``, signed upper-case hex
MD5 of param + key + customer) and, with ``callback_url`` set, a subscription
(``POST /poll``) whose pushes arrive as webhooks signed MD5(param + salt).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence

from fulfilhub import ConfigError, ExternalError, InstanceContext, Label, PermanentError, Rate, Setting, ShipmentRequest
from fulfilhub import TrackingStatus, TrackingUpdate, TransientError, WebhookDelivery

from . import mapping

log = logging.getLogger("fulfilhub_kuaidi100")
DEFAULT_BASE_URL = "https://poll.kuaidi100.com"
DEFAULT_AUTONUMBER_URL = "https://www.kuaidi100.com/autonumber/auto"

#: The settings of a ``type = "kuaidi100"`` carrier instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "key": Setting(str, secret=True, help='your Kuaidi100 授权key, e.g. "${KUAIDI100_KEY}"'),
    "customer": Setting(str, secret=True, help='your Kuaidi100 customer id, e.g. "${KUAIDI100_CUSTOMER}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "autonumber_url": Setting(str, default=DEFAULT_AUTONUMBER_URL, help="Kuaidi100's courier detection by number"),
    "callback_url": Setting(str, default=None, help="subscribe to pushes to this URL (fulfilhub serve's webhook URL)"),
    "salt": Setting(str, default=None, secret=True, help="the salt pushes are signed with; needed to accept them"),
    "phone": Setting(str, default="", help="last 4 digits of a phone, for couriers that ask (SF)"),
}


class Kuaidi100Carrier:
    """A Kuaidi100 account: a :class:`fulfilhub.Carrier` that only tracks, and a WebhookReceiver."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self._key: str = context.setting("key")
        self._customer: str = context.setting("customer")
        self.autonumber_url: str = context.setting("autonumber_url")
        self.callback_url: str | None = context.setting("callback_url")
        self.salt: str | None = context.setting("salt")
        self.phone: str = context.setting("phone")
        self._http = context.http(context.setting("base_url"))

    # -- Carrier protocol: a tracking-only carrier

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        """Kuaidi100 sells no labels: no rate, so the runner buys from the other carriers."""
        return []

    def buy(self, rate: Rate, key: str) -> Label:
        raise PermanentError("Kuaidi100 only tracks: buy the label from the courier or another carrier",
                             service=self.name)

    def void(self, label: Label) -> None:
        raise PermanentError(f"Kuaidi100 only tracks: cancel label {label.tracking_code} with its courier",
                             service=self.name)

    def track(self, label: Label) -> TrackingUpdate:
        """The scans of ``label`` (courier: ``tracker_ref``, else its ``carrier_name``, else detected).

        ``returnCode`` 500 (the courier has reported nothing yet) is an update with no scan;
        501/502 are TransientErrors, the other refusals PermanentErrors naming the code.
        """
        com = self.courier(label)
        form = mapping.query_form(com, label.tracking_code, self._key, self._customer, self.phone)
        answer = self._http.json(self._http.post("/poll/query.do", data=form, idempotent=True))
        refused = mapping.refusal(answer)
        if refused is not None:
            code, why, again = refused
            if code == "500":
                return TrackingUpdate(tracking_code=label.tracking_code, status=TrackingStatus.UNKNOWN, raw=answer)
            error = TransientError if again else PermanentError
            raise error(f"Kuaidi100 refused the query of {com} {label.tracking_code} ({code}): {why}", service=self.name)
        self._subscribe(com, label.tracking_code)
        return mapping.parse_result(answer)

    def courier(self, label: Label) -> str:
        """The courier's Kuaidi100 code: the label's ``tracker_ref``, a known name, or detected by number."""
        given = label.tracker_ref or mapping.COURIERS.get(label.carrier_name, "")
        if not given and label.carrier_name.isascii() and label.carrier_name.islower():
            given = label.carrier_name
        if given:
            return given
        found = self._http.json(self._http.get(self.autonumber_url, params={"num": label.tracking_code,
                                                                            "key": self._key}), kind=list)
        codes = [c.get("comCode") for c in found if isinstance(c, Mapping) and isinstance(c.get("comCode"), str)]
        if not codes:
            raise PermanentError(f"Kuaidi100 cannot tell the courier of {label.tracking_code}; set the label's "
                                 "carrier (顺丰, YTO, zhongtong...)", service=self.name)
        return codes[0]

    def _subscribe(self, com: str, number: str) -> None:
        state, marker = self.context.state, f"subscribed:{com}:{number}"
        if not self.callback_url or state is None or state.get(marker) is not None:
            return
        form = mapping.subscribe_form(com, number, self._key, self.callback_url, self.salt or "")
        try:  # a repeat is 501: harmless; a failure leaves the scans just read and is tried at the next poll
            answer = self._http.json(self._http.post("/poll", data=form, idempotent=True))
        except ExternalError as exc:
            log.warning("%s: subscribing %s %s failed, tried again at the next poll: %s", self.name, com, number, exc)
            return
        if answer.get("result") is True or str(answer.get("returnCode")) == "501":  # 501: 重复订阅
            state.insert(marker, True)
        else:
            log.warning("%s: Kuaidi100 refused the subscription of %s %s: %s", self.name, com, number,
                        str(answer.get("message"))[:200])

    def close(self) -> None:
        self._http.close()

    # -- pushes (订阅推送): a form with param (JSON) and sign = MD5(param + salt), upper-case hex

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if not self.salt:
            raise ConfigError("salt is not set, so Kuaidi100 pushes cannot be verified; set the salt the "
                              "subscriptions were made with", key=self.context.key("salt"))
        param, given = mapping.push_fields(body)
        if not param or not given:
            return False
        return hmac.compare_digest(mapping.sign(param, self.salt).encode(), given.upper().encode("utf-8", "replace"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        return mapping.parse_push(mapping.push_fields(body)[0])

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """A push has no id and no signed time: it is known by its body."""
        return WebhookDelivery(id="sha256:" + hashlib.sha256(body).hexdigest())
