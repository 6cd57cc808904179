"""The ECPay Logistics carrier adapter: the I/O half (the forms live in ``mapping.py``).

ECPay has no rate API (its fees are the merchant's contract): ``quote`` prices each
subtype that serves the address from the ``fees`` setting, and keeps the request in the
instance's state for ``buy``. ``buy`` creates the logistics order (``/Express/Create``)
under a ``MerchantTradeNo`` made from the outbox's key; a retry first looks the order up
by that number (``QueryLogisticsTradeInfo``), so a purchase whose answer was lost is not
made twice. The status query gives the current status only, without its time: an event
from a poll is stamped when fulfilhub first saw that status (kept in the state); the
status notifications ECPay pushes to ``ServerReplyURL`` carry the real times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from fulfilhub import ConfigError, InstanceContext, Label, Money, PayloadError, PermanentError, Rate, Setting
from fulfilhub import ShipmentRequest, TrackingUpdate, WebhookDelivery

from . import mapping

DEFAULT_BASE_URL = "https://logistics.ecpay.com.tw"
QUERY_PATH = "/Helper/QueryLogisticsTradeInfo/V3"
#: Example fees in TWD per subtype; set your contract's (ECPay publishes no rate API).
FEES = {"UNIMARTC2C": "60", "FAMIC2C": "60", "HILIFEC2C": "60", "OKMARTC2C": "60", "UNIMART": "65", "FAMI": "65",
        "HILIFE": "65", "TCAT": "130", "POST": "100"}
#: Usual working days from hand-over to the store or the door, for the promise's fallback.
TRANSIT_DAYS = {"TCAT": 1, "POST": 2}
CVS_TRANSIT_DAYS = 3

SETTINGS: dict[str, Setting] = {
    "merchant_id": Setting(str, help="your ECPay MerchantID (特店編號), e.g. 2000132 on the test site"),
    "hash_key": Setting(str, secret=True, help='your HashKey, e.g. "${ECPAY_HASH_KEY}"'),
    "hash_iv": Setting(str, secret=True, help='your HashIV, e.g. "${ECPAY_HASH_IV}" (also verifies the status pushes)'),
    "server_reply_url": Setting(str, help="your server's /webhooks/<instance> URL: ECPay posts each status there"),
    "base_url": Setting(str, default=DEFAULT_BASE_URL, help="https://logistics-stage.ecpay.com.tw to test"),
    "flow": Setting(str, default="C2C", choices=("C2C", "B2C"), help="store pickup as C2C (店到店) or B2C (大宗寄倉)"),
    "home": Setting(list, default=("TCAT", "POST"), items=str, help="home-delivery subtypes offered: TCAT, POST"),
    "fees": Setting(dict, default=FEES, help="TWD fee per LogisticsSubType, from your ECPay contract"),
    "goods_amount": Setting(int, default=1000, min=1, max=20000, help="declared value (GoodsAmount, TWD) of a parcel"),
}


class EcpayCarrier:
    """A configured ECPay Logistics merchant: a :class:`fulfilhub.Carrier` and :class:`fulfilhub.WebhookReceiver`."""

    def __init__(self, context: InstanceContext):
        self.context, self.name = context, context.name
        self.merchant_id: str = context.setting("merchant_id")
        self.hash_key: str = context.setting("hash_key")
        self.hash_iv: str = context.setting("hash_iv")
        self.server_reply_url: str = context.setting("server_reply_url")
        self.flow: str = context.setting("flow")
        self.home = tuple(context.setting("home"))
        self.fees: Mapping[str, Any] = context.setting("fees")
        self.goods_amount: int = context.setting("goods_amount")
        for subtype in (*self.home, *self.fees):
            if subtype not in mapping.SUBTYPES:
                raise ConfigError(f"unknown LogisticsSubType {subtype!r}; ECPay's are {', '.join(mapping.SUBTYPES)}",
                                  key=context.key("home" if subtype in self.home else "fees"))
        self._http = context.http(context.setting("base_url"), headers={"Accept": "text/html"})

    def _state(self) -> Any:
        if self.context.state is None:
            raise ConfigError("ECPay keeps quoted requests in the instance's state, and this instance has none",
                              key=self.context.key("state"))
        return self.context.state

    def _post(self, path: str, fields: Mapping[str, Any], *, idempotent: bool) -> str:
        form = mapping.signed(fields, self.hash_key, self.hash_iv)
        return self._http.post(path, data=form, idempotent=idempotent).text

    # -- carrier

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        """The subtypes that serve ``request.ship_to`` (in Taiwan): its store's network when it
        has a pickup point, else home delivery; priced from ``fees``."""
        to = request.ship_to
        if to.country != "TW":
            return []
        pickup = to.pickup
        if pickup is not None:
            subtype = mapping.subtype_for(pickup.network, self.flow)
            subtypes: tuple[str, ...] = (subtype,) if subtype else ()
        else:
            subtypes = self.home
        rates = []
        fields = mapping.request_fields(request)
        for subtype in subtypes:
            if subtype not in self.fees:
                continue
            rate_id = f"{subtype}-{hashlib.sha256(request.reference.encode()).hexdigest()[:16]}"
            state, key = self._state(), f"quote:{rate_id}"
            if not state.insert(key, fields):
                state.compare_and_set(key, state.get(key), fields)  # the address may have changed since
            days = TRANSIT_DAYS.get(subtype, CVS_TRANSIT_DAYS)
            rates.append(Rate(carrier=self.name, carrier_name=mapping.SUBTYPES[subtype][1] or subtype, service=subtype,
                              amount=Money(amount=Decimal(str(self.fees[subtype])), currency="TWD"), rate_id=rate_id,
                              shipment_ref=request.reference, transit_days=days, to_pickup=pickup is not None))
        return rates

    def buy(self, rate: Rate, key: str) -> Label:
        """Create the logistics order of ``rate``, unless one was created under ``key`` before."""
        if rate.carrier != self.name:
            raise ValueError(f"rate {rate.rate_id} was quoted by carrier {rate.carrier!r}, not by {self.name!r}")
        state = self._state()
        request = state.get(f"quote:{rate.rate_id}")
        if request is None:
            raise PermanentError(f"rate {rate.rate_id} was not quoted by {self.name}: quote again", service=self.name)
        if not state.insert(f"buy:{key}", {"rate": rate.rate_id}):  # a retry: the first try may have landed
            found = self._find(mapping.merchant_trade_no(key))
            if found is not None:
                return mapping.parse_label(found, rate)
        fields = mapping.create_form(merchant_id=self.merchant_id, request=request, subtype=rate.service, key=key,
                                     now=self.context.clock.now(), goods_amount=self.goods_amount,
                                     server_reply_url=self.server_reply_url)
        answer = self._post("/Express/Create", fields, idempotent=True)  # a resend of one MerchantTradeNo is refused
        try:
            return mapping.parse_label(mapping.parse_create(answer, self.hash_key, self.hash_iv), rate)
        except PayloadError as exc:
            found = self._find(fields["MerchantTradeNo"])  # refused as a duplicate: the first try landed
            if found is not None:
                return mapping.parse_label(found, rate)
            raise PermanentError(f"{exc}", service=self.name) from None

    def _find(self, trade_no: str) -> dict[str, str] | None:
        answer = self._post(QUERY_PATH, {"MerchantID": self.merchant_id, "MerchantTradeNo": trade_no,
                                         "TimeStamp": int(self.context.clock.now().timestamp())}, idempotent=True)
        if "AllPayLogisticsID=" not in answer:  # ECPay answers an unknown number with a message, not a form
            return None
        return mapping.parse_query(answer, self.hash_key, self.hash_iv)

    def track(self, label: Label) -> TrackingUpdate:
        """The order's current ``LogisticsStatus``, as an event stamped when first seen here."""
        answer = self._post(QUERY_PATH, {"MerchantID": self.merchant_id, "AllPayLogisticsID": label.tracking_code,
                                         "TimeStamp": int(self.context.clock.now().timestamp())}, idempotent=True)
        form = mapping.parse_query(answer, self.hash_key, self.hash_iv)
        code = form["LogisticsStatus"].strip()
        now, state = self.context.clock.now(), self.context.state
        seen = f"seen:{label.tracking_code}:{code}"
        if state is not None and not state.insert(seen, now.isoformat()):
            now = datetime.fromisoformat(state.get(seen))
        scan = mapping.event(code, now, field="LogisticsStatus")
        return TrackingUpdate(tracking_code=label.tracking_code, status=scan.status, reason=scan.reason,
                              events=[scan], pickup_until=mapping.deadline_of(scan), raw=form)

    def void(self, label: Label) -> None:
        """Cancel a 7-ELEVEN C2C order not yet handed over (``/Express/CancelC2COrder``, answered
        ``1|OK``); ECPay's API cancels no other subtype."""
        if label.service != "UNIMARTC2C":
            raise PermanentError(f"ECPay's API cancels only 7-ELEVEN C2C orders, not {label.service}: cancel order "
                                 f"{label.tracking_code} in ECPay's merchant back office", service=self.name)
        raw = label.raw
        answer = self._post("/Express/CancelC2COrder", {
            "MerchantID": self.merchant_id, "AllPayLogisticsID": label.tracking_code,
            "CVSPaymentNo": raw.get("CVSPaymentNo", ""), "CVSValidationNo": raw.get("CVSValidationNo", "")},
            idempotent=True)
        if answer.strip() != "1|OK":
            raise PermanentError(f"ECPay refused to cancel order {label.tracking_code}: {answer[:200]}",
                                 service=self.name)

    def close(self) -> None:
        self._http.close()

    # -- the status notifications (ServerReplyURL)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the form's ``CheckMacValue`` signs its other fields with HashKey and HashIV."""
        if not self.hash_iv or not self.hash_key:
            raise ConfigError("hash_iv is not set, so ECPay's notifications cannot be verified",
                              key=self.context.key("hash_iv"))
        try:
            form = mapping.read_form(body, "notification")
        except PayloadError:
            return False
        return mapping.verified(form, self.hash_key, self.hash_iv)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> TrackingUpdate | None:
        return mapping.parse_push(mapping.read_form(body, "notification"))

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """ECPay sends no id: a notification is known by its order, status and time (a resend repeats them)."""
        try:
            form = mapping.read_form(body, "notification")
        except PayloadError:
            form = {}
        what = "|".join(form.get(k, "") for k in ("AllPayLogisticsID", "RtnCode", "UpdateStatusDate"))
        return WebhookDelivery(id="sha256:" + hashlib.sha256((what if form else body.hex()).encode()).hexdigest())

    def webhook_reply(self, outcome: str) -> tuple[int, str, bytes]:
        """What ECPay must read back: ``1|OK`` once the notification is stored (else it resends)."""
        if outcome in ("accepted", "duplicate"):
            return 200, "text/plain", b"1|OK"
        return 400, "text/plain", b"0|CheckMacValue verify fail"
