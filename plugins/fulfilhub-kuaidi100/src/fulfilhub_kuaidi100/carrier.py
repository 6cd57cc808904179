"""The Kuaidi100 carrier adapter: the I/O half (the mapping lives in ``mapping.py``).

Kuaidi100 tracks parcels of mainland couriers (SF, YTO, ZTO, STO, Yunda, JD, EMS ...)
whose labels were bought elsewhere: the type is registered ``tracks_only``, so the
runner never quotes nor buys through it. A shipment reaches it with a Label made
outside (:func:`outside_label`): ``carrier_name`` names the courier as a customer knows
it (顺丰速运 for ``shunfeng``; another code as it is; empty to let Kuaidi100 guess it from
the number), ``tracker_ref`` the last four digits of the recipient's phone where the
courier asks for them (SF does).

``track`` asks the real-time query (``POST /poll/query.do``, signed: upper-case hex MD5
of param + key + customer). With ``callback_url`` set, the first poll of a number also
subscribes it (``POST /poll``), once per number (kept in the instance's state), so that
Kuaidi100 pushes each change to the server; pushes are checked against ``salt``
(``sign`` = upper-case MD5 of param + salt).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from fulfilhub import Address, ConfigError, ExternalError, InstanceContext, Label, Money, PayloadError, PermanentError
from fulfilhub import Setting, TrackingStatus, TrackingUpdate, TransientError, WebhookDelivery

from fulfilhub.sdk import TracksOnly, parse_form

from . import mapping

log = logging.getLogger("fulfilhub.kuaidi100")
DEFAULT_BASE_URL = "https://poll.kuaidi100.com"
DEFAULT_AUTONUMBER_URL = "https://www.kuaidi100.com/autonumber/auto"

#: The settings of a ``type = "kuaidi100"`` instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "customer": Setting(str, help="your Kuaidi100 customer id (公司编号), from the account's 授权信息 page"),
    "key": Setting(str, secret=True, help='your Kuaidi100 authorisation key (授权key), e.g. "${KUAIDI100_KEY}"'),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="the API's base URL (the sandbox gives its own)"),
    "autonumber_url": Setting(str, default=DEFAULT_AUTONUMBER_URL,
                              help="where courier codes are guessed from numbers (a path is joined to base_url)"),
    "callback_url": Setting(str, default="", help="your server's /webhooks/<instance> URL: subscribe each number "
                                                  "so Kuaidi100 pushes its changes (empty: poll only)"),
    "salt": Setting(str, default=None, secret=True, help="the salt pushes are signed with (needed to accept them)"),
}


def outside_label(carrier: str, tracking_code: str, *, courier: str = "", phone: str = "",
                  currency: str = "CNY") -> Label:
    """The Label of a parcel whose label was bought elsewhere, for the Kuaidi100 instance
    ``carrier``: ``courier`` is Kuaidi100's courier code (empty: guessed from the number),
    shown by its name where :data:`~.mapping.COURIERS` knows it; of ``phone`` only the last
    four digits are kept (all SF asks; the store keeps no more). It cost nothing through
    fulfilhub (``cost`` 0 in ``currency``)."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())[-4:]
    return Label(carrier=carrier, carrier_name=mapping.COURIERS.get(courier, courier), service="", tracking_code=tracking_code,
                 cost=Money(amount="0", currency=currency), shipment_ref="", tracker_ref=digits,
                 tracking_url="https://www.kuaidi100.com/chaxun?" + urlencode({"com": courier, "nu": tracking_code}))


class Kuaidi100Carrier(TracksOnly):
    """A configured Kuaidi100 account: a :class:`fulfilhub.Carrier` that only tracks (``quote``,
    ``buy`` and ``void`` refuse, from :class:`~fulfilhub.sdk.TracksOnly`), and a
    :class:`fulfilhub.WebhookReceiver` for its pushes."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self.customer: str = context.setting("customer")
        self._key: str = context.setting("key")
        self.callback_url: str = context.setting("callback_url")
        self.salt: str | None = context.setting("salt")
        self.autonumber_url: str = context.setting("autonumber_url")
        self._http = context.http(context.setting("base_url"), headers={"Accept": "application/json"})

    def outside_label(self, tracking_code: str, *, courier: str, ship_to: Address) -> Label:
        """The Label this instance follows ``tracking_code`` by (``fulfilhub shipments
        attach-code``): the courier code as given, the last four digits of the
        recipient's phone (SF checks them)."""
        return outside_label(self.name, tracking_code, courier=courier, phone=ship_to.phone)

    # -- tracking

    def track(self, label: Label) -> TrackingUpdate:
        number, phone = label.tracking_code, label.tracker_ref
        com = mapping.COURIER_CODES.get(label.carrier_name, label.carrier_name) or self._detect(number)
        if self.callback_url:
            try:
                self._subscribe(com, number, phone)
            except ExternalError as exc:  # polling still follows it; asked again on the next poll
                log.warning("%s: %s could not be subscribed, polled only for now: %s", self.name, number, exc)
        param = mapping.query_param(com, number, phone)
        answer = self._http.json(self._http.post("/poll/query.do", idempotent=True, data={
            "customer": self.customer, "sign": mapping.sign(param, self._key, self.customer), "param": param}))
        refused = mapping.refusal(answer)
        if refused and refused[0] == "500":  # 查询无结果: the courier has not scanned it yet
            return TrackingUpdate(tracking_code=number, status=TrackingStatus.PRE_TRANSIT, raw=answer)
        if refused:
            self._refused("query", number, *refused)
        return mapping.parse_result(answer)

    def _detect(self, number: str) -> str:
        """The courier of ``number``, guessed once by Kuaidi100 and kept in the instance's state."""
        state = self.context.state
        known = state.get(f"com:{number}") if state is not None else None
        if isinstance(known, str):
            return known
        guesses = self._http.json(self._http.get(self.autonumber_url, params={"num": number, "key": self._key}),
                                  kind=list)
        com = mapping.parse_autonumber(guesses)
        if com is None:
            raise PermanentError(f"Kuaidi100 cannot tell the courier of {number}; give the label its courier code",
                                 service=self.name)
        if state is not None:
            state.insert(f"com:{number}", com)
        return com

    def _subscribe(self, com: str, number: str, phone: str) -> None:
        state = self.context.state
        if state is not None and state.get(f"sub:{number}") is not None:
            return
        param = mapping.subscribe_param(com, number, self._key, self.callback_url, self.salt or "", phone)
        answer = self._http.json(self._http.post("/poll", data={"schema": "json", "param": param}, idempotent=True))
        refused = mapping.refusal(answer) if answer.get("returnCode") != "200" else None
        if refused and refused[0] != "501":  # 501: 重复订阅, subscribed already
            self._refused("subscription", number, *refused)
        if state is not None:
            state.insert(f"sub:{number}", {"com": com})

    def _refused(self, what: str, number: str, code: str, message: str) -> None:
        error = TransientError if mapping.RETURN_CODES.get(code, False) else PermanentError
        raise error(f"Kuaidi100 refused the {what} of {number}: returnCode {code} {message!r}", service=self.name)

    def close(self) -> None:
        self._http.close()

    # -- pushes

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the form's ``sign`` is the upper-case MD5 of its ``param`` + ``salt``."""
        if not self.salt:
            raise ConfigError("salt is not set, so Kuaidi100 pushes cannot be verified; subscribe with a salt and "
                              "set it here", key=self.context.key("salt"))
        form = parse_form(body)
        if form is None or "param" not in form or "sign" not in form:
            return False
        expected = mapping.sign(form["param"], self.salt).encode()
        return hmac.compare_digest(expected, form["sign"].upper().encode("utf-8", "replace"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        form = parse_form(body)
        if form is None or "param" not in form:
            raise PayloadError("a Kuaidi100 push is a form with a param field", field="param")
        return mapping.parse_push(form["param"])

    def webhook_reply(self, outcome: str) -> tuple[int, str, bytes]:
        """Kuaidi100's receipt: it resends a push (after 30 minutes) until it reads success."""
        return 200, "application/json", mapping.RECEIPTS["refused" if outcome == "refused" else "accepted"]

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """A push has no id nor time: it is known by its ``param`` (a resend is the same param)."""
        form = parse_form(body) or {}
        return WebhookDelivery(id="sha256:" + hashlib.sha256(form.get("param", "").encode()).hexdigest())

