"""The Amazon channel adapter: Selling Partner API I/O through ``context.http``.

Every call carries a Login with Amazon access token (:mod:`.access`: cached until
shortly before it expires, refreshed once under concurrency, refreshed again once when
Amazon calls it expired mid-pull) and waits for its operation's rate limit.

**Orders** are listed by ``getOrders`` with ``LastUpdatedAfter`` and a fixed
``LastUpdatedBefore`` (two minutes before the pass began, as Amazon requires), paged by
``NextToken``; each order's lines come from ``getOrderItems`` (paged by ``NextToken``
too). A pass reads one window ``[after, before]`` to its end; the next pass starts at the
latest ``LastUpdateDate`` the pass saw, skipping the orders already read at exactly that
time. An order updated while the window is paged moves past ``before`` and is read at its
new version by the next pass; a ``NextToken`` Amazon no longer takes restarts the window
from ``after`` (orders read twice are the same version: the runner skips them). The
cursor holds the window, the ``NextToken`` and what the pass saw, so a pull killed
between pages resumes where it stopped. ``Pending`` and ``PendingAvailability`` orders
are read past: their ``LastUpdateDate`` moves when they become shippable.

**Restricted data**: with ``restricted_data = true`` each ``getOrders`` call carries a
restricted data token (``createRestrictedDataToken``, Tokens API 2021-03-01, for the
``buyerInfo`` and ``shippingAddress`` data elements), so orders come with the buyer's
name and full address. Without it, an MFN order arrives with city, region and postal
code at most and is held saying so (:data:`mapping.WITHHELD`).

**Shipments**: ``confirmShipment`` once per shipment, with a ``packageReferenceId`` made
from the shipment id, so a repeat names the same package (see ``push_fulfillment``).

**Stock**: ``patchListingsItem`` (Listings Items 2021-08-01) sets each SKU's
``fulfillment_availability`` quantity for the ``DEFAULT`` (seller-fulfilled) channel.

**Notifications**: ``ORDER_CHANGE`` messages relayed from the seller's SQS queue
(:mod:`.webhooks`); each queues its order id, and the next pull reads those orders first.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx

from fulfilhub import (
    ConfigError,
    HttpClient,
    InstanceContext,
    Order,
    OrderPage,
    PayloadError,
    PermanentError,
    Setting,
    ShipmentPush,
    TrackingStatus,
    TransientError,
    WebhookDelivery,
)

from . import access, mapping, webhooks

log = logging.getLogger("fulfilhub_amazon")

DEFAULT_BASE_URL = "https://sellingpartnerapi-na.amazon.com"
DEFAULT_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
ORDERS_PATH = "/orders/v0/orders"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
LISTINGS_PATH = "/listings/2021-08-01/items"
MAX_PAGE_SIZE = 100  # getOrders: MaxResultsPerPage 1 to 100
MAX_IDS = 50  # getOrders: at most 50 AmazonOrderIds
LAG = timedelta(minutes=2)  # getOrders: LastUpdatedBefore at least two minutes before the request
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_NOTIFIED_KEY = "notified"

#: Which operation a request is, from its method and the end of its path (for the rate limits).
_OPERATIONS = (
    ("GET", re.compile(r"/orders/v0/orders$"), "getOrders"),
    ("GET", re.compile(r"/orders/v0/orders/[^/]+/orderItems$"), "getOrderItems"),
    ("GET", re.compile(r"/orders/v0/orders/[^/]+/address$"), "getOrderAddress"),
    ("GET", re.compile(r"/orders/v0/orders/[^/]+/buyerInfo$"), "getOrderBuyerInfo"),
    ("GET", re.compile(r"/orders/v0/orders/[^/]+$"), "getOrder"),
    ("POST", re.compile(r"/orders/v0/orders/[^/]+/shipmentConfirmation$"), "confirmShipment"),
    ("POST", re.compile(r"/tokens/2021-03-01/restrictedDataToken$"), "createRestrictedDataToken"),
    ("PATCH", re.compile(r"/listings/2021-08-01/items/[^/]+/[^/]+$"), "patchListingsItem"),
)

#: The settings of a ``type = "amazon"`` channel instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "base_url": Setting(str, default=DEFAULT_BASE_URL,
                        help="the SP-API endpoint of the seller's region (-na, -eu or -fe), or the sandbox's address"),
    "token_url": Setting(str, default=DEFAULT_TOKEN_URL,
                         help="Login with Amazon's token endpoint; a path like /auth/o2/token is read against base_url"),
    "client_id": Setting(str, help="the app's LWA client identifier, e.g. amzn1.application-oa2-client.0123"),
    "client_secret": Setting(str, secret=True, help='the app\'s LWA client secret, e.g. "${AMAZON_LWA_SECRET}"'),
    "refresh_token": Setting(str, secret=True, help='the seller\'s LWA refresh token (Atzr|...), e.g. '
                             '"${AMAZON_REFRESH_TOKEN}"'),
    "marketplace_ids": Setting(list, items=str, help='the marketplaces to read orders of, e.g. ["ATVPDKIKX0DER"]'),
    "seller_id": Setting(str, default="", help="the seller (merchant) id, for listings (stock); empty: no stock push"),
    "page_size": Setting(int, default=MAX_PAGE_SIZE, min=1, max=MAX_PAGE_SIZE, help="orders per getOrders page"),
    "initial_days": Setting(int, default=7, min=1, max=730, help="how far back the first pull reads"),
    "refresh_margin_seconds": Setting(float, default=300.0, min=0, max=3000,
                                      help="renew the access token this long before it expires"),
    "restricted_data": Setting(bool, default=False, help="ask for a restricted data token so that orders come with "
                               "the buyer's name and address (the app needs Amazon's PII role)"),
    "relay_secret": Setting(str, default=None, secret=True, help="the secret your SQS relay signs ORDER_CHANGE "
                            'notifications with, e.g. "${AMAZON_RELAY_SECRET}"'),
    "relay_tolerance_seconds": Setting(float, default=900.0, min=1,
                                       help="refuse a notification Amazon published longer ago than this"),
}


class _StaleNextToken(Exception):
    """Amazon no longer takes the NextToken: the window is read again from its start."""


def cursor_at(moment: datetime) -> str:
    """A cursor that reads the orders updated from ``moment`` on."""
    return json.dumps({"after": _iso(moment), "skip": []})


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class _MemoryState:
    """``context.state`` for a context built without a store (a plain test)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self._values.get(key)

    def insert(self, key: str, value: Any) -> bool:
        return self._values.setdefault(key, value) is value

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        if key not in self._values or self._values[key] != expected:
            return False
        self._values[key] = value
        return True


class AmazonChannel:
    """An Amazon seller account as a fulfilhub channel (see the package README for settings)."""

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        self.base_url = _address(context, "base_url", context.setting("base_url")).rstrip("/")
        token_url: str = context.setting("token_url")
        if token_url.startswith("/"):
            token_url = self.base_url + token_url
        token_url = _address(context, "token_url", token_url)
        self._token_base, _, self._token_path = token_url.partition("://")[2].partition("/")
        self._token_base = token_url.split("://", 1)[0] + "://" + self._token_base
        self._token_path = "/" + self._token_path
        self.client_id: str = context.setting("client_id")
        self._client_secret: str = context.setting("client_secret")
        self._refresh_token: str = context.setting("refresh_token")
        self.marketplace_ids: list[str] = list(context.setting("marketplace_ids"))
        if not self.marketplace_ids or not all(re.fullmatch(r"[A-Z0-9]{8,20}", m) for m in self.marketplace_ids):
            raise ConfigError(f"marketplace_ids must list Amazon marketplace ids like \"ATVPDKIKX0DER\", got "
                              f"{self.marketplace_ids[:5]!r}", key=context.key("marketplace_ids"))
        self.seller_id: str = context.setting("seller_id")
        self.page_size: int = context.setting("page_size")
        self.initial_days: int = context.setting("initial_days")
        self.restricted_data: bool = context.setting("restricted_data")
        self._relay_secret: str | None = context.setting("relay_secret")
        self.relay_tolerance: float = context.setting("relay_tolerance_seconds")
        self._state = context.state if context.state is not None else _MemoryState()
        self.limits = access.shared(context.clock, f"{self.base_url}|{self.client_id}|{self._refresh_token}")
        self._http: HttpClient = context.http(self.base_url, headers={"Accept": "application/json"},
                                              on_response=self._saw)
        self._lwa: HttpClient = context.http(self._token_base, headers={"Accept": "application/json"})
        self.tokens = access.TokenCache(
            clock=context.clock, state=self._state, identity=f"{token_url}|{self.client_id}|{self._refresh_token}",
            margin=context.setting("refresh_margin_seconds"), fetch=self._fetch_token)
        self._rdt: tuple[str, float] | None = None  # (token, expires at, Unix seconds)

    def __repr__(self) -> str:
        return f"AmazonChannel(name={self.name!r}, marketplaces={self.marketplace_ids!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ tokens and calls

    def _fetch_token(self) -> tuple[str, int]:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token, "client_id": self.client_id,
                "client_secret": self._client_secret}
        try:  # a repeat is harmless: LWA hands out another access token for the same refresh token
            response = self._lwa.post(self._token_path, data=form, idempotent=True)
        except PermanentError as exc:
            raise access.lwa_refused(exc, self.name) from None
        try:
            return access.token_answer(self._lwa.json(response))
        except TransientError as exc:
            raise TransientError(str(exc), service=self.name) from None

    def _saw(self, response: httpx.Response) -> None:
        operation = _operation(response.request.method, response.request.url.path)
        if operation is not None:
            self.limits.saw(operation, response.headers, response.status_code)

    def _call(self, operation: str, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | None = None, idempotent: bool | None = None,
              restricted: bool = False) -> httpx.Response:
        """One SP-API call with a fresh token; a token Amazon calls expired is renewed once."""
        for attempt in (1, 2):
            token = self._restricted_token() if restricted else self.tokens.token()
            self.limits.before(operation)
            try:
                return self._http.request(method, path, params=dict(params or {}), json=body,
                                          headers={"x-amz-access-token": token}, idempotent=idempotent)
            except PermanentError as exc:
                found = mapping.fault(_json_or_none(exc.body))
                if found is not None and found[0] is mapping.Fault.TOKEN and attempt == 1:
                    if restricted:
                        self._rdt = None
                    else:
                        self.tokens.refused(token)
                    continue
                if found is not None and found[0] is mapping.Fault.NEXT_TOKEN:
                    raise _StaleNextToken(found[1]) from None
                if found is not None:
                    kind = TransientError if found[0] is mapping.Fault.TRANSIENT else PermanentError
                    raise kind(f"{operation}: {found[1]}", service=self.name, status_code=exc.status_code,
                               **({"body": exc.body} if kind is PermanentError else {})) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _restricted_token(self) -> str:
        """A restricted data token for ``getOrders`` with the buyer's info and address, cached until near expiry."""
        now = self.context.clock.now().timestamp()
        if self._rdt is not None and self._rdt[1] - now > 60:
            return self._rdt[0]
        body = {"restrictedResources": [{"method": "GET", "path": ORDERS_PATH,
                                         "dataElements": ["buyerInfo", "shippingAddress"]}]}
        answer = self._json(self._call("createRestrictedDataToken", "POST", RDT_PATH, body=body, idempotent=True),
                            RDT_PATH)
        token, expires_in = answer.get("restrictedDataToken"), answer.get("expiresIn")
        if not isinstance(token, str) or not token or isinstance(expires_in, bool) or \
                not isinstance(expires_in, int) or expires_in <= 0:
            raise TransientError(f"{RDT_PATH} answered without restrictedDataToken and expiresIn; will try again "
                                 "later", service=self.name)
        self._rdt = (token, now + expires_in)
        return token

    def _json(self, response: httpx.Response, where: str) -> Mapping[str, Any]:
        answer = self._http.json(response)
        if not isinstance(answer, Mapping):
            raise TransientError(f"{where} answered without a JSON object; will try again later", service=self.name)
        return answer

    # ------------------------------------------------------------------ orders

    def fetch_orders(self, cursor: str | None) -> OrderPage:
        """One ``getOrders`` page of the window the cursor stands in (see the module docstring)."""
        now = self.context.clock.now()
        state = self._load_cursor(cursor, default=now - timedelta(days=self.initial_days))
        payloads: list[Any] = self._notified()
        after = state["after"]
        if state.get("next") is None:
            before = now - LAG
            if before <= after:
                return OrderPage(payloads=payloads, next_cursor=cursor, has_more=False)
            state = {**state, "before": before, "top": None, "top_ids": []}
        try:
            orders, next_token = self._orders_page(state)
        except _StaleNextToken as exc:
            log.info("%s: %s; reading the window from %s again", self.name, exc, _iso(after))
            state = {**state, "next": None, "before": now - LAG}
            orders, next_token = self._orders_page(state)
        top, top_ids = state.get("top"), set(state.get("top_ids", ()))
        for order in orders:
            try:
                moment, ident, intake = mapping.last_update(order), mapping.order_id(order), mapping.intake(order)
            except PayloadError:
                payloads.append(order)  # the runner quarantines it with the error
                continue
            if moment == after and ident in state["skip"]:
                continue  # read already, at this version
            if top is None or moment > top:
                top, top_ids = moment, {ident}
            elif moment == top:
                top_ids.add(ident)
            if intake is not mapping.Intake.WAIT:
                payloads.append(self._with_items(order))
        if next_token is not None:
            following = {**state, "next": next_token, "top": top, "top_ids": sorted(top_ids)}
            return OrderPage(payloads=payloads, next_cursor=_dump(following), has_more=True)
        if top is None:  # nothing new in the window: the cursor stays where it was
            kept = cursor if cursor is not None else _dump({"after": after, "skip": state["skip"]})
            return OrderPage(payloads=payloads, next_cursor=kept, has_more=False)
        skip = sorted(set(state["skip"]) | top_ids) if top == after else sorted(top_ids)
        return OrderPage(payloads=payloads, next_cursor=_dump({"after": top, "skip": skip}), has_more=False)

    def _orders_page(self, state: Mapping[str, Any]) -> tuple[list[Any], str | None]:
        params: dict[str, Any] = {"MarketplaceIds": ",".join(self.marketplace_ids)}
        if state.get("next") is not None:
            params["NextToken"] = state["next"]
        else:
            params.update(LastUpdatedAfter=_iso(state["after"]), LastUpdatedBefore=_iso(state["before"]),
                          MaxResultsPerPage=self.page_size)
        return self._read_orders(params)

    def _read_orders(self, params: Mapping[str, Any]) -> tuple[list[Any], str | None]:
        response = self._call("getOrders", "GET", ORDERS_PATH, params=params, restricted=self.restricted_data)
        try:
            return mapping.orders_page(self._json(response, ORDERS_PATH))
        except PayloadError as exc:
            raise self._unreadable(ORDERS_PATH, exc) from None

    def _with_items(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The order with ``OrderItems`` added: every page of ``getOrderItems``."""
        ident = mapping.order_id(order)
        path = f"{ORDERS_PATH}/{quote(ident, safe='')}/orderItems"
        items: list[Any] = []
        next_token: str | None = None
        for _ in range(1000):
            params = {"NextToken": next_token} if next_token else {}
            try:
                page, next_token = mapping.items_page(self._json(self._call("getOrderItems", "GET", path,
                                                                            params=params), path))
            except PayloadError as exc:
                raise self._unreadable(path, exc) from None
            items += page
            if next_token is None:
                break
        return {**order, "OrderItems": items}

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        return mapping.parse_order(payload, channel=self.name)

    def _load_cursor(self, text: str | None, *, default: datetime) -> dict[str, Any]:
        if text is None:
            return {"after": default, "skip": []}
        try:
            data = json.loads(text)
            state: dict[str, Any] = {"after": _time(data["after"]), "skip": list(data.get("skip", []))}
            if not all(isinstance(s, str) for s in state["skip"]):
                raise TypeError("skip must list order ids")
            if data.get("next") is not None:
                if not isinstance(data["next"], str):
                    raise TypeError("next must be a NextToken")
                state.update(next=data["next"], before=_time(data["before"]),
                             top=_time(data["top"]) if data.get("top") else None,
                             top_ids=[str(i) for i in data.get("top_ids", [])])
        except (ValueError, TypeError, KeyError, AttributeError):
            raise PermanentError(
                f"the saved cursor {text[:80]!r} is not one this adapter wrote (expected JSON like "
                '{"after": "2026-01-05T08:00:00Z", "skip": []}); clear the channel\'s cursor to start over',
                service=self.name) from None
        return state

    # ------------------------------------------------------------------ shipments

    def push_fulfillment(self, order: Order, shipment: ShipmentPush, key: str, *, attempt: int | None = None) -> str:
        """``confirmShipment`` for one package; returns its ``packageReferenceId``.

        The API takes no idempotency key; the package reference is made from the shipment
        id, so a repeat (``attempt > 1``, or a request whose answer was lost) names the
        same package, and Amazon's answer that the package is already confirmed is taken
        as done. Refused (PermanentError): an order Amazon cancelled or ships itself.
        """
        reference = mapping.package_reference(shipment.shipment_id)
        fba = order.raw.get("FulfillmentChannel") == "AFN"
        if fba:
            raise PermanentError(f"order {order.number} is fulfilled by Amazon (AFN): Amazon ships it and gives its "
                                 "tracking, so a shipment of ours is not told to it", service=self.name)
        marketplace = order.raw.get("MarketplaceId") or self.marketplace_ids[0]
        items = [(line.order_line_id, line.quantity) for line in shipment.lines]
        body = mapping.confirm_shipment_body(str(marketplace), reference, shipment.carrier_name, shipment.service,
                                             shipment.tracking_code, self.context.clock.now(), items)
        path = f"{ORDERS_PATH}/{quote(order.external_id, safe='')}/shipmentConfirmation"
        try:
            self._call("confirmShipment", "POST", path, body=body, idempotent=True)  # same package: harmless
        except PermanentError as exc:
            said = f"{exc}".lower()
            if "already" in said and "package" in said:
                return reference  # confirmed by an earlier try
            if "cancel" in said:
                raise PermanentError(f"order {order.number} is cancelled on Amazon; shipment {shipment.shipment_id} "
                                     "is not told to it. Recall the parcel", service=self.name,
                                     status_code=exc.status_code) from None
            raise
        return reference

    def push_tracking(
        self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str, *, attempt: int | None = None
    ) -> None:
        """Nothing: Amazon takes no milestone after the confirmation (``mapping.NOT_TOLD``)."""
        log.debug("%s: %s of order %s is not told to Amazon: %s", self.name, status, order.number,
                  mapping.NOT_TOLD.get(status, ""))

    # ------------------------------------------------------------------ stock

    def push_stock(self, levels: Mapping[str, int], key: str, *, attempt: int | None = None) -> list[str]:
        """Set each SKU's seller-fulfilled quantity with ``patchListingsItem`` (one call a SKU:
        the API patches one listing at a time); returns the SKUs Amazon has no listing for."""
        if not self.seller_id:
            raise PermanentError("seller_id is not set, so the listings cannot be addressed; set it to the seller's "
                                 "merchant id to push stock to Amazon", service=self.name)
        unlisted: list[str] = []
        for sku, quantity in sorted(levels.items()):
            path = f"{LISTINGS_PATH}/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"
            try:
                response = self._call("patchListingsItem", "PATCH", path,
                                      params={"marketplaceIds": ",".join(self.marketplace_ids)},
                                      body=mapping.listing_patch(max(int(quantity), 0)), idempotent=True)
            except PermanentError as exc:
                if exc.status_code == 404:
                    unlisted.append(sku)
                    continue
                raise
            try:
                accepted, issues = mapping.listing_accepted(self._json(response, path))
            except PayloadError as exc:
                raise self._unreadable(path, exc) from None
            if not accepted:
                log.warning("%s: Amazon did not take the quantity of %s: %s", self.name, sku, issues or "INVALID")
                unlisted.append(sku)
        return unlisted

    # ------------------------------------------------------------------ notifications

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the relay's signature signs ``body`` and Amazon published it recently."""
        if not self._relay_secret:
            raise ConfigError('relay_secret is not set, so relayed ORDER_CHANGE notifications cannot be verified; '
                              'set it to the secret your SQS relay signs with, e.g. relay_secret = '
                              '"${AMAZON_RELAY_SECRET}"', key=self.context.key("relay_secret"))
        given = next((v for k, v in headers.items() if k.lower() == webhooks.SIGNATURE_HEADER.lower()), None)
        if not webhooks.verify(body, self._relay_secret, given):
            return False
        try:
            sent = webhooks.published(webhooks.notification(body))
        except PayloadError:
            return False  # no readable signed time: cannot tell a replay
        return abs((self.context.clock.now() - sent).total_seconds()) <= self.relay_tolerance

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Order | None:
        """Always None: ``ORDER_CHANGE`` names an order but does not carry it.

        Its ``AmazonOrderId`` is queued in the instance's state; the next ``fetch_orders``
        reads those orders first (``getOrders`` by ``AmazonOrderIds``), so the change
        arrives at the next pull without waiting for its window.
        """
        ident = webhooks.changed_order(webhooks.notification(body))
        if ident is not None:
            for _ in range(5):
                queued = self._state.get(_NOTIFIED_KEY)
                if queued is None:
                    if self._state.insert(_NOTIFIED_KEY, [ident]):
                        break
                elif ident in queued or self._state.compare_and_set(_NOTIFIED_KEY, queued, [*queued, ident][-500:]):
                    break
        return None

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        return webhooks.delivery(webhooks.notification(body))

    def _notified(self) -> list[Any]:
        queued = self._state.get(_NOTIFIED_KEY)
        if not queued:
            return []
        idents = [i for i in queued if isinstance(i, str)][:MAX_IDS]
        orders, _ = self._read_orders({"MarketplaceIds": ",".join(self.marketplace_ids),
                                       "AmazonOrderIds": ",".join(idents)})
        found: list[Any] = []
        for order in orders:
            try:
                waiting = mapping.intake(order) is mapping.Intake.WAIT
            except PayloadError:
                found.append(order)
                continue
            if not waiting:
                found.append(self._with_items(order))
        for _ in range(5):  # taken off the queue once read (notifications queued meanwhile stay)
            current = self._state.get(_NOTIFIED_KEY) or []
            if self._state.compare_and_set(_NOTIFIED_KEY, current, [i for i in current if i not in idents]):
                break
        return found

    def close(self) -> None:
        self._http.close()
        self._lwa.close()

    def _unreadable(self, where: str, exc: PayloadError) -> TransientError:
        return TransientError(f"{where} answered with a body fulfilhub cannot read ({exc}); will try again later",
                              service=self.name)


def _address(context: InstanceContext, key: str, url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    if scheme not in ("https", "http") or not host:
        raise ConfigError(f'{key} must be an address like "https://...", got {url[:60]!r}', key=context.key(key))
    if scheme == "http" and host not in _LOOPBACK:
        raise ConfigError(f"{key} {url[:60]!r} is plain HTTP: the access token would cross the network readable; "
                          "use https://", key=context.key(key))
    return url


def _operation(method: str, path: str) -> str | None:
    for verb, pattern, name in _OPERATIONS:
        if method == verb and pattern.search(path):
            return name
    return None


def _dump(state: Mapping[str, Any]) -> str:
    out: dict[str, Any] = {"after": _iso(state["after"]), "skip": sorted(state.get("skip", ()))}
    if state.get("next") is not None:
        out.update(next=state["next"], before=_iso(state["before"]),
                   top=_iso(state["top"]) if state.get("top") is not None else None,
                   top_ids=sorted(state.get("top_ids", ())))
    return json.dumps(out)


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a cursor time must carry its offset")
    return moment


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None
