"""A local Amazon seller account (Selling Partner API), built with fulfilhub's sandbox toolkit.

``fulfilhub sandbox`` serves it at ``/amazon``; the tests run the real adapter against it
over loopback. Orders arrive over scenario time (``orders_per_day``) in the marketplaces
of ``marketplaces`` (US in USD and Japan in JPY by default, in turn); some are placed
``Pending`` and paid minutes later (``pending_rate``), some fulfilled by Amazon
(``afn_rate``), some have their address changed by the buyer (``update_rate``), some are
cancelled (``cancel_rate``). Ids and contents come from the seed.

- ``POST /auth/o2/token`` (Login with Amazon, a form): a new access token for the
  refresh token and client credentials, valid ``token_ttl`` seconds.
- ``POST /tokens/2021-03-01/restrictedDataToken``: a restricted data token for
  ``GET /orders/v0/orders`` with ``buyerInfo`` / ``shippingAddress``.
- ``GET /orders/v0/orders`` by ``LastUpdatedAfter`` / ``LastUpdatedBefore`` (at least two
  minutes before now), ``MarketplaceIds``, ``MaxResultsPerPage`` 1 to 100, or by
  ``AmazonOrderIds``; sorted by ``LastUpdateDate``; ``NextToken`` holds the query and the
  last order returned (so an order that moves out of the window does not shift the pages
  behind it) and expires after ``next_token_ttl`` seconds. Without a restricted data
  token the address is City, StateOrRegion, PostalCode and CountryCode only, and
  BuyerInfo is empty.
- ``GET /orders/v0/orders/{id}/orderItems`` paged by ``NextToken`` (``items_page_size``).
- ``POST /orders/v0/orders/{id}/shipmentConfirmation`` (204): one package per
  ``packageReferenceId``; refused for a cancelled or AFN order.
- ``PATCH /listings/2021-08-01/items/{sellerId}/{sku}``: the ``fulfillment_availability``
  quantity of a catalogue SKU (404 for another).
- Every operation has its token bucket (``access.RATES``) and answers 429 ``QuotaExceeded``
  with ``x-amzn-RateLimit-Limit`` (no ``Retry-After``, as Amazon) when it is empty;
  every answer carries ``x-amzn-RateLimit-Limit`` and ``x-amzn-RequestId``.
- With ``relay_secret`` set, every change is also queued as an ``ORDER_CHANGE``
  notification signed as the operator's relay signs it (``pending_webhooks()``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import LeakyBucket, LockedState, Option, Rejected, SandboxContext, SeededIds, answering, \
    json_body, read_options

from . import access, webhooks

#: What the seller sells (prices in USD; JPY at 150 yen a dollar). ``TEE-ORG-M`` and
#: ``MUG-ENM-350`` are sold by the other channels' simulators too: one stock, several channels.
CATALOG = (
    {"sku": "TEE-ORG-M", "title": "Organic Cotton Tee, M", "price": "24.00", "grams": 190, "asin": "B0DEMO0001"},
    {"sku": "MUG-ENM-350", "title": "Enamel Mug 350 ml", "price": "18.50", "grams": 260, "asin": "B0DEMO0002"},
    {"sku": "TEA-OOL-100", "title": "Alishan Oolong Tea 100 g", "price": "21.00", "grams": 120, "asin": "B0DEMO0003"},
    {"sku": "BAG-CNV-TOTE", "title": "Canvas Tote Bag", "price": "16.00", "grams": 210, "asin": "B0DEMO0004"},
)
MARKETPLACES = {"ATVPDKIKX0DER": ("USD", Decimal("0.01"), Decimal(1), "US"),
                "A1VC38T7YXB528": ("JPY", Decimal(1), Decimal(150), "JP")}
_PLACES = {"US": [("Seattle", "WA", "98109"), ("Austin", "TX", "73301"), ("Brooklyn", "NY", "11201")],
           "JP": [("Shibuya-ku", "Tokyo", "150-0002"), ("Osaka-shi", "Osaka", "530-0001")]}


def _marketplaces(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in MARKETPLACES for v in value):
        raise ValueError(f"must list marketplace ids from {', '.join(MARKETPLACES)}")
    return list(value)


OPTIONS = {
    "client_id": Option(None, str),
    "client_secret": Option(None, str),
    "refresh_token": Option(None, str),
    "relay_secret": Option(None, str),
    "seller_id": Option("A3DEMOSELLER01", str),
    "token_ttl": Option(3600, int, low=1, high=86_400),
    "next_token_ttl": Option(3600, int, low=1, high=86_400),
    "items_page_size": Option(30, int, low=1, high=100),
    "marketplaces": Option(["ATVPDKIKX0DER", "A1VC38T7YXB528"], list, convert=_marketplaces),
    "orders_per_day": Option(24, (int, float), low=0, high=100_000),
    "pending_rate": Option(0.1, (int, float), low=0, high=1),
    "afn_rate": Option(0.0, (int, float), low=0, high=1),
    "update_rate": Option(0.05, (int, float), low=0, high=1),
    "cancel_rate": Option(0.02, (int, float), low=0, high=1),
    "rate_limits": Option(True, bool),
}
_ORDERS = "/orders/v0/orders"


def _errors(status: int, code: str, message: str, details: str = "", headers: dict[str, str] | None = None
            ) -> Rejected:
    return Rejected(status, {"errors": [{"code": code, "message": message, "details": details}]}, headers=headers)


def _iso(moment: datetime) -> str:
    """Amazon's way: UTC, whole seconds, ``Z``."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _time(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _errors(400, "InvalidInput", f"Invalid {name}: {text[:40]}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


class AmazonSimulator:
    """The seller account's state and its SP-API (``fulfilhub.sandbox.ShopSimulator``)."""

    def __init__(self, context: SandboxContext):
        self.name = context.name or "amazon"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock = context.clock
        self.ids = SeededIds(context.seed)
        self.client_id: str | None = options["client_id"]
        self.client_secret: str | None = options["client_secret"]
        self.refresh_token: str | None = options["refresh_token"]
        self.relay_secret: str | None = options["relay_secret"]
        self.seller_id: str = options["seller_id"]
        self.token_ttl = int(options["token_ttl"])
        self.next_token_ttl = int(options["next_token_ttl"])
        self.items_page = int(options["items_page_size"])
        self.marketplaces: list[str] = options["marketplaces"]
        self.per_day = float(options["orders_per_day"])
        self.rates = {k: float(options[k]) for k in ("pending_rate", "afn_rate", "update_rate", "cancel_rate")}
        self.limited = bool(options["rate_limits"])
        self.buckets = {op: LeakyBucket(self.clock, size=burst, leak_per_second=rate)
                        for op, (rate, burst) in access.RATES.items()}
        self.state = LockedState({"orders": {}, "changes": [], "next_at": self.clock.now(),
                                  "arriving": self.per_day > 0, "outbox": [], "access": {}, "rdt": {},
                                  "next_tokens": {}, "packages": {}, "calls": [], "token_grants": 0,
                                  "listings": {c["sku"]: 0 for c in CATALOG}})
        self.app = Starlette(routes=[
            Route("/auth/o2/token", answering(self._token), methods=["POST"]),
            Route("/tokens/2021-03-01/restrictedDataToken",
                  answering(self._api("createRestrictedDataToken", self._rdt)), methods=["POST"]),
            Route(_ORDERS, answering(self._api("getOrders", self._orders)), methods=["GET"]),
            Route(_ORDERS + "/{order_id}/orderItems", answering(self._api("getOrderItems", self._items)),
                  methods=["GET"]),
            Route(_ORDERS + "/{order_id}/shipmentConfirmation",
                  answering(self._api("confirmShipment", self._confirm)), methods=["POST"]),
            Route("/listings/2021-08-01/items/{seller_id}/{sku}",
                  answering(self._api("patchListingsItem", self._listing)), methods=["PATCH"]),
        ])

    # -- what a scenario and the tests read or do

    @property
    def catalog(self) -> tuple[dict[str, Any], ...]:
        return tuple({"sku": c["sku"], "title": c["title"], "price": c["price"], "grams": c["grams"]}
                     for c in CATALOG)

    def stop_arrivals(self) -> None:
        with self.state as state:
            self._catch_up(state)
            state["arriving"] = False

    def order(self, order_id: str) -> dict[str, Any]:
        with self.state as state:
            self._catch_up(state)
            return json.loads(json.dumps(state["orders"][order_id]))

    def orders(self) -> list[dict[str, Any]]:
        with self.state as state:
            self._catch_up(state)
            return json.loads(json.dumps(list(state["orders"].values())))

    def packages_for(self, order_id: str) -> list[dict[str, Any]]:
        with self.state as state:
            return [dict(p) for p in state["packages"].get(order_id, {}).values()]

    def listing_quantity(self, sku: str) -> int | None:
        with self.state as state:
            return state["listings"].get(sku)

    def calls(self) -> list[str]:
        with self.state as state:
            return list(state["calls"])

    def token_grants(self) -> int:
        with self.state as state:
            return int(state["token_grants"])

    def expire_access_tokens(self) -> None:
        """Every access token handed out expires now (as one does mid-pull)."""
        with self.state as state:
            for token in state["access"]:
                state["access"][token] = self.clock.now()

    def update_order(self, order_id: str, **changes: Any) -> None:
        """The buyer changes the address (or ``changes`` are applied to the order), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][order_id]
            if changes:
                order.update(json.loads(json.dumps(changes)))
            else:
                order["ShippingAddress"]["AddressLine2"] = "Apt 2"
            self._touch(state, order, self.clock.now())

    def add_item(self, order_id: str, sku: str, quantity: int = 1) -> None:
        """A line added to the order (as Amazon's order edits do before it ships), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][order_id]
            item = next(c for c in CATALOG if c["sku"] == sku)
            currency, step, rate, _ = MARKETPLACES[order["MarketplaceId"]]
            price = (Decimal(item["price"]) * rate).quantize(step)
            order["_items"].append(self._item(order["AmazonOrderId"], len(order["_items"]) + 1, item, quantity, price,
                                              currency))
            total = Decimal(order["OrderTotal"]["Amount"]) + price * quantity
            order["OrderTotal"]["Amount"] = str(total.quantize(step))
            order["NumberOfItemsUnshipped"] += quantity
            self._touch(state, order, self.clock.now())

    def cancel_order(self, order_id: str) -> None:
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][order_id]
            order["OrderStatus"] = "Canceled"
            self._touch(state, order, self.clock.now())

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The relayed ``ORDER_CHANGE`` notifications of the changes since last asked (none without
        ``relay_secret``)."""
        with self.state as state:
            self._catch_up(state)
            changes, state["outbox"] = state["outbox"], []
        out = []
        for order_id, status, marketplace in changes:
            note = webhooks.order_change(order_id, at=self.clock.now(), notification_id=self.ids.new("ntf"),
                                         status=status, seller_id=self.seller_id, marketplace_id=marketplace)
            body = json.dumps(note).encode()
            out.append(({"Content-Type": "application/json",
                         webhooks.SIGNATURE_HEADER: webhooks.sign(body, self.relay_secret or "")}, body))
        return out

    # -- tokens

    async def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant_type"},
                                status_code=400)
        if (self.client_id is not None and form.get("client_id") != self.client_id) or \
                (self.client_secret is not None and form.get("client_secret") != self.client_secret):
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"},
                                status_code=401)
        if self.refresh_token is not None and form.get("refresh_token") != self.refresh_token:
            return JSONResponse({"error": "invalid_grant", "error_description": "The request has an invalid grant "
                                 "parameter : refresh_token"}, status_code=400)
        with self.state as state:
            token = "Atza|" + self.ids.new("tok")
            state["access"][token] = self.clock.now() + timedelta(seconds=self.token_ttl)
            state["token_grants"] += 1
            state["calls"].append("token")
        return JSONResponse({"access_token": token, "refresh_token": form.get("refresh_token", ""),
                             "token_type": "bearer", "expires_in": self.token_ttl})

    def _api(self, operation: str, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            rate, burst = access.RATES[operation]
            headers = {"x-amzn-RateLimit-Limit": f"{rate:g}", "x-amzn-RequestId": self.ids.new("req")}
            token = request.headers.get("x-amz-access-token", "")
            with self.state as state:
                expires = state["access"].get(token)
                restricted = state["rdt"].get(token)
                if self.refresh_token is not None and restricted is None:
                    if expires is None:
                        raise _errors(403, "Unauthorized", "Access to requested resource is denied.",
                                      "The access token you provided is revoked, malformed or invalid.", headers)
                    if expires <= self.clock.now():
                        raise _errors(403, "Unauthorized", "Access to requested resource is denied.",
                                      "The access token you provided has expired.", headers)
                if restricted is not None and (restricted <= self.clock.now() or operation != "getOrders"):
                    raise _errors(403, "Unauthorized", "Access to requested resource is denied.",
                                  "The access token you provided has expired." if restricted <= self.clock.now()
                                  else "The restricted data token is not valid for this operation.", headers)
                state["calls"].append(operation)
            if self.limited and not self.buckets[operation].take()[0]:
                raise _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.", "",
                              headers)
            answer = await handler(request, restricted is not None)
            if answer is None:
                return Response(status_code=204, headers=headers)
            return JSONResponse(answer, headers=headers)

        return endpoint

    async def _rdt(self, request: Request, _restricted: bool) -> Any:
        body = await json_body(request, invalid=_errors(400, "InvalidInput", "Invalid request body."))
        resources = body.get("restrictedResources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources or not all(
                isinstance(r, dict) and r.get("method") == "GET" and r.get("path") == _ORDERS for r in resources):
            raise _errors(400, "InvalidInput", "restrictedResources must name GET /orders/v0/orders.")
        with self.state as state:
            token = "Atz.sprdt|" + self.ids.new("rdt")
            state["rdt"][token] = self.clock.now() + timedelta(hours=1)
        return {"restrictedDataToken": token, "expiresIn": 3600}

    # -- orders

    async def _orders(self, request: Request, restricted: bool) -> Any:
        query = request.query_params
        now = self.clock.now()
        marketplaces = [m for m in query.get("MarketplaceIds", "").split(",") if m]
        if not marketplaces:
            raise _errors(400, "InvalidInput", "MarketplaceIds is required.")
        with self.state as state:
            self._catch_up(state)
            given = query.get("NextToken")
            if given:
                held = state["next_tokens"].get(given)
                if held is None or held["expires"] <= now:
                    raise _errors(400, "InvalidInput", "Invalid NextToken.", "The NextToken is expired or invalid.")
                spec = held["spec"]
            elif query.get("AmazonOrderIds"):
                wanted = [i for i in query["AmazonOrderIds"].split(",") if i][:50]
                found = [state["orders"][i] for i in wanted if i in state["orders"]]
                return {"payload": {"Orders": [self._shown(o, restricted) for o in found]}}
            else:
                if "LastUpdatedAfter" not in query:
                    raise _errors(400, "InvalidInput", "Either CreatedAfter or LastUpdatedAfter is required.")
                after = _time(query["LastUpdatedAfter"], "LastUpdatedAfter")
                before = _time(query["LastUpdatedBefore"], "LastUpdatedBefore") if "LastUpdatedBefore" in query \
                    else now - timedelta(minutes=2)
                if before > now - timedelta(minutes=2):
                    raise _errors(400, "InvalidInput", "LastUpdatedBefore must be no later than two minutes before "
                                  "the time of the request.")
                try:
                    size = int(query.get("MaxResultsPerPage", 100))
                except ValueError:
                    size = 0
                if not 1 <= size <= 100:
                    raise _errors(400, "InvalidInput", "MaxResultsPerPage must be from 1 to 100.")
                spec = {"after": _iso(after), "before": _iso(before), "marketplaces": marketplaces, "size": size,
                        "last": None}
            after, before = _time(spec["after"], "after"), _time(spec["before"], "before")
            chosen = sorted((o for o in state["orders"].values() if o["MarketplaceId"] in spec["marketplaces"]
                             and after <= _time(o["LastUpdateDate"], "d") <= before),
                            key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))
            if spec["last"] is not None:
                last = tuple(spec["last"])
                chosen = [o for o in chosen if (o["LastUpdateDate"], o["AmazonOrderId"]) > last]
            page, rest = chosen[:spec["size"]], chosen[spec["size"]:]
            out: dict[str, Any] = {"Orders": [self._shown(o, restricted) for o in page],
                                   "LastUpdatedBefore": spec["before"]}
            if rest:
                token = self.ids.new("nxt")
                state["next_tokens"][token] = {
                    "spec": {**spec, "last": [page[-1]["LastUpdateDate"], page[-1]["AmazonOrderId"]]},
                    "expires": now + timedelta(seconds=self.next_token_ttl)}
                out["NextToken"] = token
            return {"payload": out}

    def _shown(self, order: dict[str, Any], restricted: bool) -> dict[str, Any]:
        shown = {k: v for k, v in order.items() if not k.startswith("_")}
        if order["OrderStatus"] in ("Pending", "Canceled"):
            shown.pop("OrderTotal", None)
        if not restricted:
            address = order["ShippingAddress"]
            shown["ShippingAddress"] = {k: address[k] for k in ("City", "StateOrRegion", "PostalCode", "CountryCode")}
            shown["BuyerInfo"] = {}
        if order["OrderStatus"] == "Pending":
            shown.pop("ShippingAddress", None)
        return json.loads(json.dumps(shown))

    async def _items(self, request: Request, _restricted: bool) -> Any:
        order_id = request.path_params["order_id"]
        with self.state as state:
            self._catch_up(state)
            order = state["orders"].get(order_id)
            if order is None:
                raise _errors(404, "NotFound", f"Order {order_id} was not found.")
            start = 0
            given = request.query_params.get("NextToken")
            if given:
                held = state["next_tokens"].get(given)
                if held is None or held["spec"].get("items_of") != order_id:
                    raise _errors(400, "InvalidInput", "Invalid NextToken.")
                start = held["spec"]["start"]
            items = order["_items"]
            out: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": [
                {k: v for k, v in item.items() if order["OrderStatus"] != "Pending" or k not in ("ItemPrice",)}
                for item in items[start:start + self.items_page]]}
            if start + self.items_page < len(items):
                token = self.ids.new("nxt")
                state["next_tokens"][token] = {"spec": {"items_of": order_id, "start": start + self.items_page},
                                               "expires": self.clock.now() + timedelta(seconds=self.next_token_ttl)}
                out["NextToken"] = token
            return {"payload": json.loads(json.dumps(out))}

    async def _confirm(self, request: Request, _restricted: bool) -> Any:
        order_id = request.path_params["order_id"]
        body = await json_body(request, invalid=_errors(400, "InvalidInput", "Invalid request body."))
        detail = body.get("packageDetail") if isinstance(body, dict) else None
        if not isinstance(detail, dict) or not isinstance(body.get("marketplaceId"), str):
            raise _errors(400, "InvalidInput", "packageDetail and marketplaceId are required.")
        reference = detail.get("packageReferenceId")
        if not isinstance(reference, str) or not reference.isdigit() or int(reference) <= 0:
            raise _errors(400, "InvalidInput", "packageReferenceId must be a positive number.")
        for key in ("carrierCode", "trackingNumber", "shipDate"):
            if not isinstance(detail.get(key), str) or not detail[key]:
                raise _errors(400, "InvalidInput", f"packageDetail.{key} is required.")
        with self.state as state:
            self._catch_up(state)
            order = state["orders"].get(order_id)
            if order is None:
                raise _errors(404, "NotFound", f"Order {order_id} was not found.")
            if order["MarketplaceId"] != body["marketplaceId"]:
                raise _errors(400, "InvalidInput", "marketplaceId does not match the order.")
            if order["FulfillmentChannel"] == "AFN":
                raise _errors(400, "InvalidInput", "The order is fulfilled by Amazon.")
            if order["OrderStatus"] == "Canceled":
                raise _errors(400, "InvalidInput", "The order is canceled and cannot be shipped.")
            packages = state["packages"].setdefault(order_id, {})
            if reference in packages:  # the same package again: Amazon keeps the one it has
                return None
            by_id = {item["OrderItemId"]: item for item in order["_items"]}
            lines = detail.get("orderItems")
            if not isinstance(lines, list) or not lines:
                raise _errors(400, "InvalidInput", "packageDetail.orderItems is required.")
            for line in lines:
                item = by_id.get(line.get("orderItemId")) if isinstance(line, dict) else None
                quantity = line.get("quantity") if isinstance(line, dict) else None
                if item is None or not isinstance(quantity, int) or quantity < 1 or \
                        item["QuantityShipped"] + quantity > item["QuantityOrdered"]:
                    raise _errors(400, "InvalidInput", f"Invalid orderItems entry {str(line)[:80]}.")
            for line in lines:
                by_id[line["orderItemId"]]["QuantityShipped"] += line["quantity"]
            packages[reference] = {"reference": reference, "carrier": detail["carrierCode"],
                                   "tracking": detail["trackingNumber"], "items": lines}
            unshipped = sum(i["QuantityOrdered"] - i["QuantityShipped"] for i in order["_items"])
            order["NumberOfItemsShipped"] = sum(i["QuantityShipped"] for i in order["_items"])
            order["NumberOfItemsUnshipped"] = unshipped
            order["OrderStatus"] = "Shipped" if unshipped == 0 else "PartiallyShipped"
            self._touch(state, order, self.clock.now())
        return None

    async def _listing(self, request: Request, _restricted: bool) -> Any:
        sku = request.path_params["sku"]
        if request.path_params["seller_id"] != self.seller_id:
            raise _errors(403, "Unauthorized", "Access to requested resource is denied.", "Unknown sellerId.")
        body = await json_body(request, invalid=_errors(400, "InvalidInput", "Invalid request body."))
        patches = body.get("patches") if isinstance(body, dict) else None
        try:
            value = patches[0]["value"][0]
            quantity = value["quantity"]
            assert patches[0]["path"] == "/attributes/fulfillment_availability"
            assert value["fulfillment_channel_code"] == "DEFAULT"
            assert isinstance(quantity, int) and quantity >= 0
        except (TypeError, KeyError, IndexError, AssertionError):
            return {"sku": sku, "status": "INVALID", "submissionId": self.ids.new("sub"), "issues": [
                {"code": "4000001", "message": "The patch must replace /attributes/fulfillment_availability with a "
                 "DEFAULT quantity.", "severity": "ERROR"}]}
        with self.state as state:
            if sku not in state["listings"]:
                raise _errors(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace.")
            state["listings"][sku] = quantity
        return {"sku": sku, "status": "ACCEPTED", "submissionId": self.ids.new("sub"), "issues": []}

    # -- orders arriving and changing over scenario time

    def _catch_up(self, state: dict[str, Any]) -> None:
        now = self.clock.now()
        while True:
            due_change = min((c for c in state["changes"] if c[0] <= now), default=None, key=lambda c: (c[0], c[1]))
            due_order = state["next_at"] if state["arriving"] and state["next_at"] <= now else None
            if due_change is None and due_order is None:
                return
            if due_order is not None and (due_change is None or due_order <= due_change[0]):
                self._place(state, due_order)
                gap = 86_400 / self.per_day
                state["next_at"] = due_order + timedelta(
                    seconds=gap * (0.5 + self.ids.rng("gap", len(state["orders"])).random()))
            else:
                state["changes"].remove(due_change)
                at, order_id, change = due_change
                self._change(state, state["orders"][order_id], at, change)

    def _item(self, order_id: str, n: int, item: dict[str, Any], quantity: int, price: Decimal,
              currency: str) -> dict[str, Any]:
        return {"ASIN": item["asin"], "SellerSKU": item["sku"], "OrderItemId": f"{order_id.replace('-', '')[:10]}{n:04d}",
                "Title": item["title"], "QuantityOrdered": quantity, "QuantityShipped": 0,
                "ItemPrice": {"CurrencyCode": currency, "Amount": str(price * quantity)},
                "ItemTax": {"CurrencyCode": currency, "Amount": "0" if currency == "JPY" else "0.00"},
                "PromotionDiscount": {"CurrencyCode": currency, "Amount": "0" if currency == "JPY" else "0.00"},
                "IsGift": "false", "ConditionId": "New", "ConditionSubtypeId": "New", "IsTransparency": False,
                "ProductInfo": {"NumberOfItems": "1"}}

    def _place(self, state: dict[str, Any], at: datetime) -> None:
        n = len(state["orders"]) + 1
        rng = self.ids.rng("order", n)
        marketplace = self.marketplaces[(n - 1) % len(self.marketplaces)]
        currency, step, rate, country = MARKETPLACES[marketplace]
        order_id = f"{rng.randint(100, 999)}-{rng.randint(1_000_000, 9_999_999)}-{rng.randint(1_000_000, 9_999_999)}"
        afn = rng.random() < self.rates["afn_rate"]
        items, total = [], Decimal(0)
        for i, item in enumerate(rng.sample(CATALOG, rng.randint(1, 2)), start=1):
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = (Decimal(item["price"]) * rate).quantize(step)
            total += price * quantity
            items.append(self._item(order_id, i, item, quantity, price, currency))
        shipping = (Decimal("4.99") * rate).quantize(step)
        items[0]["ShippingPrice"] = {"CurrencyCode": currency, "Amount": str(shipping)}
        total += shipping
        pending = rng.random() < self.rates["pending_rate"]
        city, region, postal = rng.choice(_PLACES[country])
        name = rng.choice(["Ada Byron", "Grace Hopper", "Mei Lin", "Kenji Sato"])
        stamp = _iso(at)
        days = (2, 5) if country == "US" else (1, 3)
        self_ship = not afn
        state["orders"][order_id] = {
            "AmazonOrderId": order_id, "SellerOrderId": order_id, "PurchaseDate": stamp, "LastUpdateDate": stamp,
            "OrderStatus": "Pending" if pending else "Unshipped",
            "FulfillmentChannel": "AFN" if afn else "MFN", "SalesChannel": "Amazon.com" if country == "US"
            else "Amazon.co.jp", "ShipServiceLevel": "Std US D2D Dom" if country == "US" else "Std JP Kanto8",
            "OrderTotal": {"CurrencyCode": currency, "Amount": str(total)},
            "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": sum(i["QuantityOrdered"] for i in items),
            "PaymentMethod": "Other", "PaymentMethodDetails": ["Standard"], "MarketplaceId": marketplace,
            "ShipmentServiceLevelCategory": "Standard", "OrderType": "StandardOrder",
            "EarliestShipDate": stamp, "LatestShipDate": _iso(at + timedelta(days=2)),
            "EarliestDeliveryDate": _iso(at + timedelta(days=days[0])),
            "LatestDeliveryDate": _iso(at + timedelta(days=days[1] + (2 if self_ship else 0))),
            "IsBusinessOrder": False, "IsPrime": False, "IsPremiumOrder": False, "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": "false", "IsSoldByAB": False, "IsISPU": False, "IsAccessPointOrder": False,
            "HasRegulatedItems": False,
            "ShippingAddress": {"Name": name, "AddressLine1": f"{100 + n} Pine St", "City": city,
                                "StateOrRegion": region, "PostalCode": postal, "CountryCode": country,
                                "Phone": "+1 206-555-0100" if country == "US" else "+81 3-5555-0100",
                                "AddressType": "Residential"},
            "BuyerInfo": {"BuyerEmail": f"buyer{n}@marketplace.amazon.com", "BuyerName": name},
            "_items": items,
        }
        self._queue(state, state["orders"][order_id])
        if pending:
            state["changes"].append((at + timedelta(minutes=rng.randint(2, 30)), order_id, "paid"))
        if rng.random() < self.rates["update_rate"]:
            state["changes"].append((at + timedelta(minutes=rng.randint(20, 240)), order_id, "edit"))
        if rng.random() < self.rates["cancel_rate"]:
            state["changes"].append((at + timedelta(minutes=rng.randint(60, 600)), order_id, "cancel"))

    def _change(self, state: dict[str, Any], order: dict[str, Any], at: datetime, change: str) -> None:
        if change == "paid":
            if order["OrderStatus"] != "Pending":
                return
            order["OrderStatus"] = "Unshipped"
        elif change == "edit":
            if order["OrderStatus"] != "Unshipped":
                return
            order["ShippingAddress"]["AddressLine2"] = "Suite 200"
        elif change == "cancel":
            if order["OrderStatus"] not in ("Pending", "Unshipped"):
                return
            order["OrderStatus"] = "Canceled"
        self._touch(state, order, at)

    def _touch(self, state: dict[str, Any], order: dict[str, Any], at: datetime) -> None:
        order["LastUpdateDate"] = max(_iso(at), order["LastUpdateDate"])
        self._queue(state, order)

    def _queue(self, state: dict[str, Any], order: dict[str, Any]) -> None:
        if self.relay_secret:
            state["outbox"].append((order["AmazonOrderId"], order["OrderStatus"], order["MarketplaceId"]))
