"""The Shopee channel adapter: Open Platform v2 I/O through ``context.http``.

Every request is signed (:func:`fulfilhub_shopee.webhooks.sign_request`) with the
shop's access token, which lives four hours. The token and the refresh token that
renews it are kept in the instance's ``context.state`` (Shopee hands out a new refresh
token with every access token, so the one in the config is only the first): a token
is refreshed before it expires (``refresh_margin_seconds``) and, when Shopee answers
``invalid_acceess_token`` anyway, once more and the request sent again. Two instances
that refresh at once settle on one token by compare-and-set.

Orders are listed by ``update_time`` (``get_order_list``, windows of at most 15 days)
and read in batches of 50 (``get_order_detail``). Shopee pages a window by an offset
cursor, and an order updated while a window is paged leaves the window and shifts the
offsets behind it, so this adapter never follows a cursor across calls: it halves the
window until one answer holds all of it (:func:`bisect` in ``fetch_orders``), hands
that window on, and the next call starts one second after it. The saved cursor is a
time, never an offset.

Shipments: Shopee takes a tracking number from the seller only for a logistics channel
the seller ships with their own carrier (``get_shipping_parameter`` asks for
``non_integrated``); ``push_fulfillment`` calls ``ship_order`` with it. An order on
Shopee's integrated logistics (pickup or dropoff, Shopee's carrier) is refused with a
PermanentError saying so; see the README.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fulfilhub import (
    ConfigError,
    HttpClient,
    InstanceContext,
    Label,
    Money,
    Order,
    OrderPage,
    PayloadError,
    PermanentError,
    Setting,
    ShipmentPush,
    TrackingStatus,
    TrackingUpdate,
    TransientError,
    WebhookDelivery,
)

from . import mapping, webhooks

log = logging.getLogger("fulfilhub_shopee")

DEFAULT_BASE_URL = "https://partner.shopeemobile.com"
TOKEN_PATH = "/api/v2/auth/access_token/get"
LIST_PATH = "/api/v2/order/get_order_list"
DETAIL_PATH = "/api/v2/order/get_order_detail"
PARAMETER_PATH = "/api/v2/logistics/get_shipping_parameter"
SHIP_PATH = "/api/v2/logistics/ship_order"
TRACKING_PATH = "/api/v2/logistics/get_tracking_number"
TRACKING_INFO_PATH = "/api/v2/logistics/get_tracking_info"
ITEM_LIST_PATH = "/api/v2/product/get_item_list"
ITEM_BASE_PATH = "/api/v2/product/get_item_base_info"
MODEL_LIST_PATH = "/api/v2/product/get_model_list"
STOCK_PATH = "/api/v2/product/update_stock"
#: How long the SKU -> item_id/model_id index read from the shop's listings is kept.
LISTINGS_TTL = 3600
MAX_PAGE_SIZE = 100  # get_order_list: page_size at most 100
DETAIL_BATCH = 50  # get_order_detail: at most 50 order_sn a call
WINDOW = 15 * 86_400  # get_order_list: time_to - time_from at most 15 days
#: What get_order_detail is asked to add to its default fields.
OPTIONAL_FIELDS = ("buyer_username,recipient_address,item_list,total_amount,fulfillment_flag,shipping_carrier,"
                   "package_list,cancel_reason")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TOKEN_KEY = "token"
_PUSHED_KEY = "pushed"

#: The settings of a ``type = "shopee"`` channel instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "base_url": Setting(str, default=DEFAULT_BASE_URL,
                        help="the Open Platform host (the test host, or the sandbox's own address)"),
    "partner_id": Setting(int, min=1, help="your App's partner_id, e.g. 2001234"),
    "partner_key": Setting(str, secret=True, help='your App\'s partner key, e.g. "${SHOPEE_PARTNER_KEY}"'),
    "shop_id": Setting(int, min=1, help="the authorised shop's shop_id"),
    "refresh_token": Setting(str, secret=True, help='the refresh token from authorising the shop, e.g. '
                             '"${SHOPEE_REFRESH_TOKEN}" (later ones are kept in fulfilhub\'s state)'),
    "page_size": Setting(int, default=MAX_PAGE_SIZE, min=1, max=MAX_PAGE_SIZE, help="orders per list call"),
    "initial_days": Setting(int, default=15, min=1, max=365, help="how far back the first pull reads"),
    "refresh_margin_seconds": Setting(float, default=600.0, min=0, max=3600,
                                      help="refresh the access token this long before it expires"),
    "push_key": Setting(str, default=None, secret=True,
                        help='the key Shopee signs pushes with (the partner key), to take them, e.g. '
                        '"${SHOPEE_PARTNER_KEY}"'),
    "push_url": Setting(str, default="", help="the push URL set in the App console, exactly as Shopee signs it"),
    "push_tolerance_seconds": Setting(float, default=300.0, min=1,
                                      help="refuse a push whose signed timestamp is older than this"),
    "marketplace_carriers": Setting(list, default=(), items=str,
                                    help="shipping_carrier names of Shopee's integrated logistics (Shopee's carrier "
                                    'takes the parcel by pickup or dropoff), e.g. ["蝦皮店到店", "7-ELEVEN"]'),
    "stock_map": Setting(dict, default=None,
                         help='SKU -> "item_id:model_id" (model_id 0 for an item without models); without it '
                         "push_stock reads the shop's listings (get_item_list, get_item_base_info, get_model_list)"),
    "ship_by": Setting(str, default="dropoff", choices=("dropoff", "pickup"),
                       help="how an integrated-logistics parcel reaches Shopee's carrier when both are offered"),
}


def cursor_at(moment: datetime) -> str:
    """A cursor that reads the orders updated from ``moment`` on."""
    return json.dumps({"from": int(moment.timestamp()), "skip": []})


def _load_cursor(text: str | None, *, default_from: int, service: str) -> tuple[int, tuple[str, ...], int]:
    """``(from, skip, span)``: span is the width of the last window one answer held (0: not known)."""
    if text is None:
        return default_from, (), 0
    try:
        data = json.loads(text)
        start, skip, span = data["from"], tuple(data.get("skip", ())), data.get("span", 0)
        if isinstance(start, bool) or not isinstance(start, int) or not all(isinstance(s, str) for s in skip):
            raise TypeError("from must be Unix seconds, skip order_sns")
        if isinstance(span, bool) or not isinstance(span, int) or span < 0:
            raise TypeError("span must be a whole number of seconds")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise PermanentError(
            f"the saved cursor {text[:80]!r} is not one this adapter wrote (expected JSON like "
            '{"from": 1767225600, "skip": []}); clear the channel\'s cursor to start over',
            service=service,
        ) from None
    return start, skip, span


def _dump_cursor(start: int, skip: Sequence[str], span: int = 0) -> str:
    data: dict[str, Any] = {"from": start, "skip": sorted(set(skip))}
    if span:
        data["span"] = span
    return json.dumps(data)


class _MemoryState:
    """``context.state`` for a context built without a store (a plain test): tokens live as long as the object."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self._values.get(key)

    def insert(self, key: str, value: Any) -> bool:
        if key in self._values:
            return False
        self._values[key] = value
        return True

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        if key not in self._values or self._values[key] != expected:
            return False
        self._values[key] = value
        return True


class ShopeeChannel:
    """A Shopee shop as a fulfilhub channel (see the package README for settings)."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        base_url: str = context.setting("base_url")
        scheme, _, rest = base_url.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
        if scheme not in ("https", "http") or not host:
            raise ConfigError(f'base_url must be an address like "{DEFAULT_BASE_URL}", got {base_url[:60]!r}',
                              key=context.key("base_url"))
        if scheme == "http" and host not in _LOOPBACK:
            raise ConfigError(f"base_url {base_url[:60]!r} is plain HTTP: the access token would cross the network "
                              "readable; use https://", key=context.key("base_url"))
        self.base_url = base_url.rstrip("/")
        self.partner_id: int = context.setting("partner_id")
        self._partner_key: str = context.setting("partner_key")
        self.shop_id: int = context.setting("shop_id")
        self._first_refresh: str = context.setting("refresh_token")
        self.page_size: int = context.setting("page_size")
        self.initial_days: int = context.setting("initial_days")
        self.refresh_margin: float = context.setting("refresh_margin_seconds")
        self._push_key: str | None = context.setting("push_key")
        self.push_url: str = context.setting("push_url")
        self.push_tolerance: float = context.setting("push_tolerance_seconds")
        self.marketplace_carriers = frozenset(context.setting("marketplace_carriers"))
        self.ship_by: str = context.setting("ship_by")
        self.stock_map = _stock_map(context.setting("stock_map"), context.key("stock_map"))
        self._listings: tuple[float, dict[str, tuple[int, int]]] | None = None
        self._state = context.state if context.state is not None else _MemoryState()
        # which refresh token the stored one descends from: a new one in the config wins
        self._origin = hashlib.sha256(self._first_refresh.encode("utf-8")).hexdigest()[:16]
        self._http: HttpClient = context.http(self.base_url, headers={"Accept": "application/json"})

    def __repr__(self) -> str:
        return f"ShopeeChannel(name={self.name!r}, shop_id={self.shop_id}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ signing and tokens

    def _now(self) -> int:
        return int(self.context.clock.now().timestamp())

    def _token(self) -> str:
        """The access token, refreshed first when it expires within the margin."""
        stored = self._state.get(_TOKEN_KEY)
        if (isinstance(stored, Mapping) and stored.get("origin") == self._origin
                and stored.get("expires_at", 0) - self._now() > self.refresh_margin):
            return str(stored["access_token"])
        return self._refresh(None)

    def _refresh(self, failed: str | None) -> str:
        """A new access token, unless another instance already replaced the one that ``failed`` (then theirs)."""
        current = self._state.get(_TOKEN_KEY)
        if failed is not None and isinstance(current, Mapping) and current.get("origin") == self._origin \
                and current.get("access_token") != failed \
                and current.get("expires_at", 0) - self._now() > self.refresh_margin:
            return str(current["access_token"])
        usable = isinstance(current, Mapping) and current.get("origin") == self._origin
        refresh_token = str(current["refresh_token"]) if usable else self._first_refresh
        timestamp = self._now()
        params = {"partner_id": self.partner_id, "timestamp": timestamp,
                  "sign": webhooks.sign_request(self._partner_key, self.partner_id, TOKEN_PATH, timestamp)}
        body = {"refresh_token": refresh_token, "partner_id": self.partner_id, "shop_id": self.shop_id}
        try:
            # retried after a 5xx too: a refresh whose answer was lost issued a token nobody holds, and
            # asking again with the same refresh token is what a person would do
            response = self._http.post(TOKEN_PATH, params=params, json=body, idempotent=True)
        except PermanentError as exc:
            raise PermanentError(
                f"Shopee refused to renew the access token ({_error_text(exc)}); authorise the shop again and set "
                "refresh_token to the new refresh token", service=self.name, status_code=exc.status_code,
            ) from None
        answer = self._http.json(response)
        self._raise_for(answer, TOKEN_PATH)  # a token fault here is permanent: the refresh token is refused
        access, renewed, expire_in = answer.get("access_token"), answer.get("refresh_token"), answer.get("expire_in")
        if not (isinstance(access, str) and access and isinstance(renewed, str) and renewed
                and isinstance(expire_in, int) and not isinstance(expire_in, bool) and 0 < expire_in <= 30 * 86_400):
            raise TransientError(f"{TOKEN_PATH} answered without access_token, refresh_token and expire_in; will try "
                                 "again later", service=self.name)
        new = {"access_token": access, "refresh_token": renewed, "expires_at": self._now() + expire_in,
               "origin": self._origin}
        stored = self._state.insert(_TOKEN_KEY, new) if current is None else \
            self._state.compare_and_set(_TOKEN_KEY, current, new)
        if not stored:  # another instance refreshed meanwhile: both tokens work; keep theirs as the one stored
            log.info("%s: another instance renewed the Shopee access token at the same time", self.name)
        return access

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | None = None, idempotent: bool | None = None) -> Mapping[str, Any]:
        """A signed call to a shop API: its ``response`` object. An expired token is renewed once."""
        for attempt in (1, 2):
            token = self._token()
            timestamp = self._now()
            query = {"partner_id": self.partner_id, "timestamp": timestamp, "access_token": token,
                     "shop_id": self.shop_id,
                     "sign": webhooks.sign_request(self._partner_key, self.partner_id, path, timestamp, token,
                                                   self.shop_id),
                     **(params or {})}
            try:
                response = self._http.request(method, path, params=query, json=body, idempotent=idempotent)
            except PermanentError as exc:
                found = mapping.fault(_json_or_none(exc.body))
                if found is not None and found[0] is mapping.Fault.TOKEN and attempt == 1:
                    self._refresh(token)
                    continue
                if found is not None:
                    raise PermanentError(f"{method} {path}: {found[1]}", service=self.name,
                                         status_code=exc.status_code, body=exc.body) from None
                raise
            answer = self._http.json(response)
            found = mapping.fault(answer)
            if found is not None and found[0] is mapping.Fault.TOKEN and attempt == 1:
                self._refresh(token)
                continue
            self._raise_for(answer, path)
            result = answer.get("response", {})
            if not isinstance(result, Mapping):
                raise TransientError(f"{method} {path} answered without a response object; will try again later",
                                     service=self.name)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for(self, answer: Mapping[str, Any], path: str) -> None:
        found = mapping.fault(answer)
        if found is None:
            return
        kind, text = found
        if kind is mapping.Fault.TRANSIENT:
            raise TransientError(f"{path}: {text}; will try again later", service=self.name)
        raise PermanentError(f"{path}: {text}", service=self.name)

    # ------------------------------------------------------------------ orders

    def fetch_orders(self, cursor: str | None) -> OrderPage:
        """The orders of the next complete ``update_time`` window after the cursor.

        Pushed orders (see :meth:`parse_webhook`) are read first. Unpaid orders are
        read past: their update_time moves when they are paid.
        """
        now = self._now()
        start, skip, span = _load_cursor(cursor, default_from=now - self.initial_days * 86_400, service=self.name)
        payloads: list[Any] = list(self._pushed_orders())
        if start > now:
            return OrderPage(payloads=payloads, next_cursor=cursor, has_more=False)
        end = min(start + WINDOW - 1, now)
        low, guess = start, span
        while True:  # empty windows are passed over in the same call, not handed on as empty pages
            # a window twice as wide as the last one that fitted is tried first, so that a big shop
            # does not halve 15 days down to minutes for every page
            high, sns = self._bisect(low, end, low + 2 * guess - 1 if guess else end)
            if sns or high >= end:
                break
            guess, low = (high - low + 1) * 2, high + 1  # an empty window: the next one is tried wider
        top: int | None = None
        top_ids: set[str] = set()
        for payload in self._details(sns):
            try:
                moment, sn = mapping.update_time(payload), mapping.order_sn(payload)
            except PayloadError:
                payloads.append(payload)  # the runner quarantines it with the error
                continue
            if moment == start and sn in skip:
                continue  # read already, at this version
            if moment <= high:
                if top is None or moment > top:
                    top, top_ids = moment, {sn}
                elif moment == top:
                    top_ids.add(sn)
            if _intake(payload) is not mapping.Intake.WAIT:
                payloads.append(payload)
        if high < end or end < now:
            return OrderPage(payloads=payloads, next_cursor=_dump_cursor(high + 1, (), high - low + 1), has_more=True)
        if top is None:  # nothing new up to now: the cursor stays where it was
            following = cursor if cursor is not None else _dump_cursor(start, skip)
        elif top == start:
            following = _dump_cursor(start, (*skip, *top_ids))
        else:
            following = _dump_cursor(top, tuple(top_ids))
        return OrderPage(payloads=payloads, next_cursor=following, has_more=False)

    def _bisect(self, start: int, end: int, first: int) -> tuple[int, list[str]]:
        """A window ``[start, high]`` (high <= ``first``, ``end``) one list answer holds, and its order_sns."""
        high = max(start, min(first, end))
        while True:
            sns, more, following = self._list(start, high, "")
            if not more:
                return high, sns
            if high == start:  # more than a page in one second: page through that second
                while more:
                    page, more, following = self._list(start, high, following)
                    sns += [sn for sn in page if sn not in sns]
                return high, sns
            high = start + (high - start) // 2

    def _list(self, start: int, end: int, cursor: str) -> tuple[list[str], bool, str]:
        params = {"time_range_field": "update_time", "time_from": start, "time_to": end,
                  "page_size": self.page_size, "cursor": cursor}
        answer = self._call("GET", LIST_PATH, params=params)
        try:
            return mapping.order_list(answer)
        except PayloadError as exc:
            raise self._unreadable(LIST_PATH, exc) from None

    def _details(self, sns: Sequence[str]) -> list[Any]:
        found: list[Any] = []
        for index in range(0, len(sns), DETAIL_BATCH):
            batch = sns[index:index + DETAIL_BATCH]
            answer = self._call("GET", DETAIL_PATH, params={"order_sn_list": ",".join(batch),
                                                            "response_optional_fields": OPTIONAL_FIELDS})
            orders = answer.get("order_list", [])
            if not isinstance(orders, list):
                raise self._unreadable(DETAIL_PATH, PayloadError("must be a list", field="response.order_list"))
            found += orders
        return found

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        return mapping.parse_order(payload, channel=self.name, marketplace_carriers=self.marketplace_carriers)

    # ------------------------------------------------------------------ shipments

    def push_fulfillment(self, order: Order, shipment: ShipmentPush, key: str, *, attempt: int | None = None) -> str:
        """``ship_order`` with the shipment's tracking number, for a seller-shipped (non-integrated) channel.

        Returns the tracking number Shopee holds. Shopee takes one tracking number per
        order (``get_tracking_number`` reads it back), so a repeat finds it and does
        nothing: the push is idempotent whatever the attempt. A second parcel of an
        order Shopee already holds a number for is not told (logged, and the number
        Shopee holds returned). Refused (PermanentError): a cancelled order, an order
        Shopee's integrated logistics carry.
        """
        sn = order.external_id
        details = self._details([sn])
        if not details:
            raise PermanentError(f"order {order.number}: Shopee no longer returns order {sn}", service=self.name)
        try:
            status = mapping.intake(details[0])
            word = details[0]["order_status"]
        except PayloadError as exc:
            raise self._unreadable(DETAIL_PATH, exc) from None
        held = self._tracking_number(sn)
        if held == shipment.tracking_code:
            return held
        if status is mapping.Intake.CANCELLED:
            raise PermanentError(f"order {order.number} is {word} on Shopee; shipment {shipment.shipment_id} is not "
                                 "told to it. Recall the parcel", service=self.name)
        if held:
            # Shopee keeps one tracking number per order (per package of an order split in Seller Centre,
            # which this adapter does not do): a second parcel of the order is not told, and saying so
            # here is all that can be done; the buyer follows the first number on Shopee.
            log.warning("%s: order %s is %s on Shopee with tracking number %s; Shopee takes one per order, so "
                        "shipment %s (%s) is not told to it", self.name, order.number, word, held,
                        shipment.shipment_id, shipment.tracking_code)
            return held
        if word in mapping.SHIPPED_STATUSES:
            raise PermanentError(
                f"order {order.number} is {word} on Shopee without a tracking number fulfilhub can read; shipment "
                f"{shipment.shipment_id} ({shipment.tracking_code}) is not told to it", service=self.name)
        try:
            needs = mapping.shipping_parameter_needs(self._call("GET", PARAMETER_PATH, params={"order_sn": sn}))
        except PayloadError as exc:
            raise self._unreadable(PARAMETER_PATH, exc) from None
        if "non_integrated" not in needs:
            raise PermanentError(
                f"order {order.number} ships with Shopee's integrated logistics ({', '.join(sorted(needs)) or 'none'}"
                f"): Shopee's carrier carries it and gives the tracking number, so the label {shipment.tracking_code} "
                "cannot be given to Shopee. Arrange the pickup or dropoff in Seller Centre and void the label",
                service=self.name)
        self._call("POST", SHIP_PATH, body={"order_sn": sn, "non_integrated": {"tracking_number":
                                                                              shipment.tracking_code}})
        return shipment.tracking_code

    def arrange_shipment(self, order: Order, shipment: ShipmentPush, key: str, *,
                         attempt: int | None = None) -> Label | None:
        """Hand a packed parcel to Shopee's integrated logistics (``ship_order`` with ``dropoff`` or
        ``pickup``) and return the label Shopee's carrier issues (None until it has a tracking number).

        Looks first: an order Shopee already holds a tracking number for returns it, and one
        already arranged (``PROCESSED`` or later) is not arranged again. Refused
        (PermanentError): a cancelled order, an order on a channel the seller ships with
        their own carrier (``marketplace_carriers`` names it wrongly).
        """
        sn = order.external_id
        details = self._details([sn])
        if not details:
            raise PermanentError(f"order {order.number}: Shopee no longer returns order {sn}", service=self.name)
        try:
            status = mapping.intake(details[0])
            word = details[0]["order_status"]
            carrier = mapping.text_of(details[0], "shipping_carrier") or "Shopee"
        except PayloadError as exc:
            raise self._unreadable(DETAIL_PATH, exc) from None
        held = self._tracking_number(sn)
        if held:
            return Label(carrier=self.name, carrier_name=carrier, service=f"Shopee logistics ({self.ship_by})",
                         tracking_code=held, cost=Money(amount=0, currency=order.currency), shipment_ref=sn)
        if status is mapping.Intake.CANCELLED:
            raise PermanentError(f"order {order.number} is {word} on Shopee; its parcel is not handed to Shopee's "
                                 "carrier. Put it back on the shelf", service=self.name)
        if word != "READY_TO_SHIP":  # arranged already (PROCESSED...): the tracking number is on its way
            return None
        try:
            answer = self._call("GET", PARAMETER_PATH, params={"order_sn": sn})
            needs = mapping.shipping_parameter_needs(answer)
            if "non_integrated" in needs:
                raise PermanentError(
                    f"order {order.number} ({carrier}) is on a logistics channel the seller ships with their own "
                    "carrier, not Shopee's integrated logistics: take its shipping_carrier out of "
                    "marketplace_carriers", service=self.name)
            how = self.ship_by if self.ship_by in needs else ("dropoff" if "dropoff" in needs else "pickup")
            body: dict[str, Any] = {"order_sn": sn}
            if how == "pickup":
                body["pickup"] = mapping.pickup_choice(answer)
            else:
                body["dropoff"], missing = mapping.dropoff_choice(answer)
                if missing:
                    raise PermanentError(
                        f"order {order.number}: Shopee's dropoff asks for {', '.join(missing)}, which fulfilhub "
                        "does not keep; arrange it in Seller Centre or set ship_by = \"pickup\"", service=self.name)
        except PayloadError as exc:
            raise self._unreadable(PARAMETER_PATH, exc) from None
        self._call("POST", SHIP_PATH, body=body)
        held = self._tracking_number(sn)  # Shopee may issue it a little later: then the next run reads it
        if not held:
            return None
        return Label(carrier=self.name, carrier_name=carrier, service=f"Shopee logistics ({how})",
                     tracking_code=held, cost=Money(amount=0, currency=order.currency), shipment_ref=sn)

    def track_shipment(self, label: Label) -> TrackingUpdate:
        """``get_tracking_info`` of the label's order: Shopee's carrier's scans."""
        answer = self._call("GET", TRACKING_INFO_PATH, params={"order_sn": label.shipment_ref})
        try:
            return mapping.tracking_info(answer, label.tracking_code)
        except PayloadError as exc:
            raise self._unreadable(TRACKING_INFO_PATH, exc) from None

    def push_tracking(
        self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str, *, attempt: int | None = None
    ) -> None:
        """Nothing: Shopee has no call for a seller to post a milestone (``mapping.NOT_TOLD``)."""
        log.debug("%s: %s of order %s is not told to Shopee: %s", self.name, status, order.number,
                  mapping.NOT_TOLD.get(status, ""))

    def _tracking_number(self, sn: str) -> str:
        try:
            return mapping.tracking_number(self._call("GET", TRACKING_PATH, params={"order_sn": sn}))
        except PayloadError as exc:
            raise self._unreadable(TRACKING_PATH, exc) from None

    # ------------------------------------------------------------------ stock

    def push_stock(self, levels: Mapping[str, int], key: str, *, attempt: int | None = None) -> list[str]:
        """Set each SKU's ``seller_stock`` with ``update_stock``: one call per ``item_id``, its models
        (at most 50) in one ``stock_list``. Returns the SKUs no listing carries.

        SKUs are found in ``stock_map`` or, without it, in the shop's listings (read once an
        hour, and again when a SKU is not in them). Setting a quantity is absolute, so a
        retry sets the same again. A model Shopee refused raises TransientError naming it.
        """
        where = self._where(levels)
        listed = {sku: quantity for sku, quantity in levels.items() if sku in where}
        refused: list[str] = []
        for body in mapping.stock_bodies(listed, where):
            answer = self._call("POST", STOCK_PATH, body=body, idempotent=True)
            try:
                refused += [f"item {body['item_id']} {words}" for words in mapping.stock_failures(answer)]
            except PayloadError as exc:
                raise self._unreadable(STOCK_PATH, exc) from None
        if refused:
            raise TransientError(f"{STOCK_PATH} refused {len(refused)} models: {'; '.join(refused[:5])}; the stock is "
                                 "pushed again on the next run", service=self.name)
        return sorted(sku for sku in levels if sku not in where)

    def _where(self, levels: Mapping[str, int]) -> Mapping[str, tuple[int, int]]:
        if self.stock_map is not None:
            return self.stock_map
        now = self.context.clock.now().timestamp()
        if self._listings is None or now - self._listings[0] > LISTINGS_TTL \
                or (any(sku not in self._listings[1] for sku in levels) and now - self._listings[0] > 60):
            self._listings = (now, self._read_listings())
        return self._listings[1]

    def _read_listings(self) -> dict[str, tuple[int, int]]:
        """SKU -> (item_id, model_id) of every NORMAL listing of the shop."""
        try:
            ids: list[int] = []
            offset: int | None = 0
            while offset is not None and len(ids) < 100_000:
                page, offset = mapping.item_page(self._call("GET", ITEM_LIST_PATH, params={
                    "offset": offset, "page_size": mapping.ITEM_PAGE, "item_status": "NORMAL"}))
                ids += page
            found: dict[str, tuple[int, int]] = {}
            for start in range(0, len(ids), mapping.ITEM_BATCH):
                batch = ids[start:start + mapping.ITEM_BATCH]
                plain, with_models = mapping.item_skus(self._call("GET", ITEM_BASE_PATH, params={
                    "item_id_list": ",".join(str(i) for i in batch)}))
                found.update(plain)
                for item_id in with_models:
                    found.update(mapping.model_skus(self._call("GET", MODEL_LIST_PATH, params={"item_id": item_id}),
                                                    item_id))
        except PayloadError as exc:
            raise self._unreadable("the shop's listings", exc) from None
        return found

    # ------------------------------------------------------------------ push notifications

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when ``Authorization`` signs ``push_url|body`` with ``push_key`` and its timestamp is recent."""
        if not self._push_key:
            raise ConfigError('push_key is not set, so Shopee pushes cannot be verified; set it to the partner key, '
                              'e.g. push_key = "${SHOPEE_PARTNER_KEY}"', key=self.context.key("push_key"))
        if not self.push_url:
            raise ConfigError("push_url is not set: Shopee signs the push URL with the body; set it to the URL in "
                              "the App console", key=self.context.key("push_url"))
        if not webhooks.verify_push(self.push_url, body, self._push_key,
                                    webhooks.header(headers, webhooks.SIGNATURE_HEADER)):
            return False
        try:
            sent = webhooks.sent_at(webhooks.push(body))
        except PayloadError:
            return False  # no readable signed time: cannot tell a replay
        return abs((self.context.clock.now() - sent).total_seconds()) <= self.push_tolerance

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Order | None:
        """Always None: a push names an order but does not carry it.

        An order push (code 3, status; code 4, tracking number) queues its order_sn
        in the instance's state; the next ``fetch_orders`` reads those orders first,
        so the change arrives at the next pull without waiting for its window.
        """
        sn = webhooks.ordersn(webhooks.push(body))
        if sn is not None:
            for _ in range(5):
                queued = self._state.get(_PUSHED_KEY)
                if queued is None:
                    if self._state.insert(_PUSHED_KEY, [sn]):
                        break
                elif sn in queued or self._state.compare_and_set(_PUSHED_KEY, queued, [*queued, sn][-500:]):
                    break
        return None

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        return webhooks.delivery(webhooks.push(body))

    def _pushed_orders(self) -> list[Any]:
        queued = self._state.get(_PUSHED_KEY)
        if not queued:
            return []
        sns = [sn for sn in queued if isinstance(sn, str)]
        found = [p for p in self._details(sns) if _intake(p) is not mapping.Intake.WAIT]
        for _ in range(5):  # taken off the queue once read (pushes queued meanwhile stay)
            current = self._state.get(_PUSHED_KEY) or []
            if self._state.compare_and_set(_PUSHED_KEY, current, [sn for sn in current if sn not in sns]):
                break
        return found

    def close(self) -> None:
        self._http.close()

    def _unreadable(self, where: str, exc: PayloadError) -> TransientError:
        return TransientError(f"{where} answered with a body fulfilhub cannot read ({exc}); will try again later",
                              service=self.name)


def _stock_map(value: Mapping[str, Any] | None, key: str) -> dict[str, tuple[int, int]] | None:
    """``stock_map`` read: SKU -> (item_id, model_id); a ConfigError names a bad entry."""
    if value is None:
        return None
    out: dict[str, tuple[int, int]] = {}
    for sku, where in value.items():
        item, _, model = str(where).partition(":")
        if not (item.isdigit() and int(item) > 0 and (model == "" or model.isdigit())):
            raise ConfigError(f'stock_map.{sku} must be "item_id:model_id" (model_id 0 for an item without models), '
                              f"got {str(where)[:40]!r}", key=key)
        out[str(sku)] = (int(item), int(model or 0))
    return out


def _intake(payload: Any) -> mapping.Intake | None:
    try:
        return mapping.intake(payload)
    except PayloadError:
        return None  # handed on: parse_order names the field and the runner quarantines it


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _error_text(exc: PermanentError) -> str:
    found = mapping.fault(_json_or_none(exc.body))
    return found[1] if found else f"HTTP {exc.status_code}"
