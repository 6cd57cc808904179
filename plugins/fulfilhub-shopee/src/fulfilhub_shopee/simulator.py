"""A local Shopee shop (Open Platform v2), built with fulfilhub's sandbox toolkit.

``fulfilhub sandbox`` serves it at ``/shopee``; the tests run the real adapter against
it over loopback. Orders arrive over scenario time (``orders_per_day``) in the shop's
currency (``currency``: TWD by default, whole dollars); some are placed unpaid and paid
minutes later (``unpaid_rate``), some edited (``update_rate``: the buyer changes the
address), some cancelled (``cancel_rate``), some ride Shopee's integrated logistics
(``integrated_rate``) and some are fulfilled by Shopee's own warehouse
(``shopee_fulfilled_rate``). Ids and contents come from the seed.

- ``POST /api/v2/auth/access_token/get`` (signed without a token): a new access token
  for a refresh token, valid ``token_ttl`` seconds, and a new refresh token.
- Every shop API checks ``partner_id``, ``timestamp`` (5 minutes either way), ``sign``,
  ``access_token`` (known, not expired) and ``shop_id``, and answers Shopee's error
  shape (``error``, ``message``, ``request_id``): ``error_sign``,
  ``invalid_acceess_token`` (sic), ``error_param``.
- ``GET /api/v2/order/get_order_list`` by ``update_time`` (``time_from``..``time_to``
  inclusive, at most 15 days, ``page_size`` 1 to 100, an offset ``cursor``; newest
  first); ``GET /api/v2/order/get_order_detail`` (at most 50 ``order_sn_list``);
  ``GET /api/v2/logistics/get_shipping_parameter``; ``POST /api/v2/logistics/ship_order``
  (``non_integrated.tracking_number`` on a non-integrated channel; ``pickup`` with the
  offered ``address_id`` and ``pickup_time_id``, or ``dropoff``, on Shopee's integrated
  logistics: then the order is ``PROCESSED``, Shopee's carrier issues its tracking number
  ten minutes later, picks the parcel up hours later (``SHIPPED``) and delivers it a day
  or two after (``TO_CONFIRM_RECEIVE``)); ``GET /api/v2/logistics/get_tracking_number``;
  ``GET /api/v2/logistics/get_tracking_info`` (``logistics_status`` and the scans).
- ``GET /api/v2/product/get_item_list`` (``offset``, ``page_size``),
  ``get_item_base_info`` (``item_sku``, ``has_model``), ``get_model_list``
  (``model_id``, ``model_sku``) and ``POST /api/v2/product/update_stock`` (one
  ``item_id``, its ``stock_list`` of ``model_id`` and ``seller_stock``; ``stock()``
  reads what was set).
- With ``push_url`` set, every change is also queued as a signed code-3 push
  (``pending_webhooks()``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import LockedState, Option, Rejected, SandboxContext, SeededIds, answering, json_body, read_options

from . import webhooks

#: What the shop sells (prices in TWD). ``TEE-ORG-M`` and ``MUG-ENM-350`` are sold by the
#: Shopify and WooCommerce simulators too: one stock, several channels.
CATALOG = (
    {"sku": "TEE-ORG-M", "title": "有機棉T恤", "model": "M", "price": 590, "grams": 190, "item_id": 2300001},
    {"sku": "MUG-ENM-350", "title": "琺瑯馬克杯", "model": "", "price": 420, "grams": 260, "item_id": 2300002},
    {"sku": "TEA-OOL-100", "title": "阿里山烏龍茶 100g", "model": "", "price": 450, "grams": 120, "item_id": 2300003},
    {"sku": "CUP-CER-2P", "title": "青瓷茶杯 (2入)", "model": "青瓷", "price": 650, "grams": 340, "item_id": 2300004},
    {"sku": "TEA-JAS-50", "title": "茉莉綠茶 50g", "model": "", "price": 280, "grams": 70, "item_id": 2300005},
)
#: Units of the currencies the simulator can sell in (as Shopee prices them).
_STEP = {"TWD": Decimal(1), "SGD": Decimal("0.01"), "MYR": Decimal("0.01"), "THB": Decimal("0.01")}
#: SGD and the like: the catalogue's TWD price over this, to two places.
_RATE = {"TWD": Decimal(1), "SGD": Decimal(23), "MYR": Decimal(7), "THB": Decimal("0.9")}


def _sold_in(currency: str) -> str:
    if currency not in _STEP:
        raise ValueError(f"must be one of {', '.join(sorted(_STEP))}")
    return currency


OPTIONS = {
    "partner_id": Option(None, int),
    "partner_key": Option(None, str),
    "shop_id": Option(None, int),
    "refresh_token": Option(None, str),
    "push_url": Option(None, str),
    "token_ttl": Option(14_400, int, low=1, high=86_400),
    "currency": Option("TWD", str, convert=lambda v: _sold_in(v)),
    "orders_per_day": Option(24, (int, float), low=0, high=100_000),
    "update_rate": Option(0.05, (int, float), low=0, high=1),
    "cancel_rate": Option(0.02, (int, float), low=0, high=1),
    "unpaid_rate": Option(0.1, (int, float), low=0, high=1),
    "integrated_rate": Option(0.0, (int, float), low=0, high=1),
    "shopee_fulfilled_rate": Option(0.0, (int, float), low=0, high=1),
}
API = "/api/v2"
_ALL = ("order_sn", "region", "currency", "cod", "total_amount", "order_status", "shipping_carrier",
        "payment_method", "message_to_seller", "create_time", "update_time", "days_to_ship", "ship_by_date",
        "buyer_user_id", "buyer_username", "recipient_address", "item_list", "fulfillment_flag", "package_list",
        "cancel_reason", "cancel_by")


def _error(status: int, error: str, message: str, request_id: str) -> Rejected:
    return Rejected(status, {"error": error, "message": message, "request_id": request_id})


class ShopeeSimulator:
    """The shop's state and its Open Platform API (``fulfilhub.sandbox.ShopSimulator``)."""

    def __init__(self, context: SandboxContext):
        self.name = context.name or "shopee"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock = context.clock
        self.ids = SeededIds(context.seed)
        self.partner_id: int | None = options["partner_id"]
        self.partner_key: str | None = options["partner_key"]
        self.shop_id: int | None = options["shop_id"]
        self.push_url: str | None = options["push_url"]
        self.token_ttl = int(options["token_ttl"])
        self.currency: str = options["currency"]
        self.per_day = float(options["orders_per_day"])
        self.rates = {k: float(options[k]) for k in ("update_rate", "cancel_rate", "unpaid_rate", "integrated_rate",
                                                      "shopee_fulfilled_rate")}
        refresh = options["refresh_token"]
        self.state = LockedState({"orders": {}, "changes": [], "next_at": self.clock.now(),
                                  "arriving": self.per_day > 0, "outbox": [], "access": {},
                                  "refresh": {refresh} if refresh else set(), "tracking": {}, "calls": [],
                                  "issuing": {}, "scans": {},
                                  "stock": {c["sku"]: None for c in CATALOG}})
        self.app = Starlette(routes=[
            Route(f"{API}/auth/access_token/get", answering(self._token), methods=["POST"]),
            Route(f"{API}/order/get_order_list", answering(self._shop(self._list)), methods=["GET"]),
            Route(f"{API}/order/get_order_detail", answering(self._shop(self._detail)), methods=["GET"]),
            Route(f"{API}/logistics/get_shipping_parameter", answering(self._shop(self._parameter)), methods=["GET"]),
            Route(f"{API}/logistics/ship_order", answering(self._shop(self._ship)), methods=["POST"]),
            Route(f"{API}/logistics/get_tracking_number", answering(self._shop(self._tracking)), methods=["GET"]),
            Route(f"{API}/logistics/get_tracking_info", answering(self._shop(self._tracking_info)), methods=["GET"]),
            Route(f"{API}/product/get_item_list", answering(self._shop(self._item_list)), methods=["GET"]),
            Route(f"{API}/product/get_item_base_info", answering(self._shop(self._item_base)), methods=["GET"]),
            Route(f"{API}/product/get_model_list", answering(self._shop(self._model_list)), methods=["GET"]),
            Route(f"{API}/product/update_stock", answering(self._shop(self._update_stock)), methods=["POST"]),
        ])

    # -- what a scenario and the tests read or do

    @property
    def catalog(self) -> tuple[dict[str, Any], ...]:
        return tuple({"sku": c["sku"], "title": c["title"], "price": str(c["price"]), "grams": c["grams"]}
                     for c in CATALOG)

    def stock(self) -> dict[str, int | None]:
        """SKU -> the seller_stock ``update_stock`` last set (None: never set)."""
        with self.state as state:
            return dict(state["stock"])

    def stop_arrivals(self) -> None:
        with self.state as state:
            self._catch_up(state)
            state["arriving"] = False

    def order(self, sn: str) -> dict[str, Any]:
        with self.state as state:
            self._catch_up(state)
            return json.loads(json.dumps(state["orders"][sn]))

    def orders(self) -> list[dict[str, Any]]:
        with self.state as state:
            self._catch_up(state)
            return json.loads(json.dumps(list(state["orders"].values())))

    def tracking_number(self, sn: str) -> str:
        with self.state as state:
            return state["tracking"].get(sn, "")

    def update_order(self, sn: str, **changes: Any) -> None:
        """The buyer changes the address (or ``changes`` are applied), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][sn]
            if changes:
                order.update(json.loads(json.dumps(changes)))
            else:
                order["recipient_address"] = {**order["recipient_address"], "full_address":
                                              order["recipient_address"]["full_address"] + " 2樓"}
            self._touch(state, order, self.clock.now())

    def cancel_order(self, sn: str, reason: str = "Need to change delivery address") -> None:
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][sn]
            order.update(order_status="CANCELLED", cancel_by="buyer", cancel_reason=reason)
            self._touch(state, order, self.clock.now())

    def revoke_access_tokens(self) -> None:
        """Every access token handed out stops working (as when one expires mid-pull)."""
        with self.state as state:
            state["access"].clear()

    def calls(self) -> list[str]:
        with self.state as state:
            return list(state["calls"])

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The signed code-3 pushes of the changes since last asked, sent now (empty without ``push_url``)."""
        with self.state as state:
            self._catch_up(state)
            changes, state["outbox"] = state["outbox"], []
        now = int(self.clock.now().timestamp())
        out = []
        for sn, status, updated in changes:
            body = json.dumps({"shop_id": self.shop_id, "code": 3, "timestamp": now,
                               "data": {"ordersn": sn, "status": status, "completed_scenario": "",
                                        "update_time": updated}}).encode()
            out.append(({"Content-Type": "application/json",
                         webhooks.SIGNATURE_HEADER: webhooks.sign_push(self.push_url or "", body,
                                                                       self.partner_key or "")}, body))
        return out

    # -- signing and tokens

    def _signed(self, request: Request, base: str, request_id: str) -> None:
        if self.partner_key is None:
            return
        expected = hmac.new(self.partner_key.encode(), base.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.query_params.get("sign", "")):
            raise _error(403, "error_sign", "Wrong sign.", request_id)

    def _common(self, request: Request, request_id: str) -> int:
        query = request.query_params
        try:
            partner_id, timestamp = int(query.get("partner_id", "")), int(query.get("timestamp", ""))
        except ValueError:
            raise _error(400, "error_param", "partner_id and timestamp are required.", request_id) from None
        if self.partner_id is not None and partner_id != self.partner_id:
            raise _error(403, "error_auth", "Invalid partner_id.", request_id)
        if abs(timestamp - self.clock.now().timestamp()) > 300:
            raise _error(403, "error_auth", "Invalid timestamp.", request_id)
        return timestamp

    async def _token(self, request: Request) -> Response:
        request_id = self.ids.new("req")
        timestamp = self._common(request, request_id)
        self._signed(request, f"{request.query_params['partner_id']}{request.url.path.removeprefix('/' + self.name)}"
                              f"{timestamp}", request_id)
        body = await json_body(request, invalid=_error(400, "error_param", "Invalid body.", request_id))
        if not isinstance(body, dict):
            raise _error(400, "error_param", "Invalid body.", request_id)
        with self.state as state:
            state["calls"].append("access_token/get")
            if self.shop_id is not None and body.get("shop_id") != self.shop_id:
                raise _error(403, "error_auth", "Invalid shop_id.", request_id)
            if state["refresh"] and body.get("refresh_token") not in state["refresh"]:
                raise _error(403, "error_auth", "Invalid refresh_token.", request_id)
            access, renewed = self.ids.new("tok"), self.ids.new("ref")
            state["access"][access] = self.clock.now() + timedelta(seconds=self.token_ttl)
            state["refresh"].add(renewed)
            return JSONResponse({"error": "", "message": "", "request_id": request_id, "access_token": access,
                                 "refresh_token": renewed, "expire_in": self.token_ttl,
                                 "partner_id": self.partner_id, "shop_id": self.shop_id})

    def _shop(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            request_id = self.ids.new("req")
            timestamp = self._common(request, request_id)
            query = request.query_params
            path = request.url.path.removeprefix("/" + self.name)
            token = query.get("access_token", "")
            self._signed(request, f"{query['partner_id']}{path}{timestamp}{token}{query.get('shop_id', '')}",
                         request_id)
            if self.shop_id is not None and query.get("shop_id") != str(self.shop_id):
                raise _error(403, "error_auth", "Invalid shop_id.", request_id)
            with self.state as state:
                expires = state["access"].get(token)
                if self.partner_key is not None and (expires is None or expires <= self.clock.now()):
                    raise _error(403, "invalid_acceess_token", "Invalid access_token.", request_id)
                state["calls"].append(path.rsplit("/", 1)[-1])
            result = await handler(request, request_id)
            return JSONResponse({"error": "", "message": "", "request_id": request_id, "response": result})

        return endpoint

    # -- the API

    async def _list(self, request: Request, request_id: str) -> Any:
        query = request.query_params
        try:
            start, end = int(query["time_from"]), int(query["time_to"])
            size = int(query.get("page_size", 20))
            offset = int(query.get("cursor") or 0)
        except (KeyError, ValueError):
            raise _error(400, "error_param", "time_from, time_to, page_size and cursor must be numbers.",
                         request_id) from None
        if query.get("time_range_field") not in ("create_time", "update_time"):
            raise _error(400, "error_param", "time_range_field must be create_time or update_time.", request_id)
        if not 1 <= size <= 100:
            raise _error(400, "error_param", "page_size should be between 1 and 100.", request_id)
        if end < start or end - start > 15 * 86_400:
            raise _error(400, "error_param", "The time range cannot exceed 15 days.", request_id)
        field = query["time_range_field"]
        with self.state as state:
            self._catch_up(state)
            chosen = sorted((o for o in state["orders"].values() if start <= o[field] <= end),
                            key=lambda o: (o[field], o["order_sn"]), reverse=True)
            page = chosen[offset:offset + size]
            more = offset + size < len(chosen)
            return {"more": more, "next_cursor": str(offset + size) if more else "",
                    "order_list": [{"order_sn": o["order_sn"]} for o in page]}

    async def _detail(self, request: Request, request_id: str) -> Any:
        sns = [sn for sn in request.query_params.get("order_sn_list", "").split(",") if sn]
        if not 1 <= len(sns) <= 50:
            raise _error(400, "error_param", "order_sn_list should hold 1 to 50 order_sn.", request_id)
        wanted = set(_ALL[:12]) | set(request.query_params.get("response_optional_fields", "").split(","))
        with self.state as state:
            self._catch_up(state)
            found = [state["orders"][sn] for sn in sns if sn in state["orders"]]
            return {"order_list": [{k: v for k, v in o.items() if k in wanted and not k.startswith("_")}
                                   for o in found]}

    def _known(self, state: dict[str, Any], sn: str | None, request_id: str) -> dict[str, Any]:
        order = state["orders"].get(sn or "")
        if order is None:
            raise _error(400, "error_not_found", f"order_sn {sn} not found.", request_id)
        return order

    async def _parameter(self, request: Request, request_id: str) -> Any:
        with self.state as state:
            order = self._known(state, request.query_params.get("order_sn"), request_id)
            if order["_integrated"]:
                slot = int(self.clock.now().timestamp()) // 86_400 * 86_400 + 86_400
                return {"info_needed": {"dropoff": [], "pickup": ["address_id", "pickup_time_id"]},
                        "dropoff": {"branch_list": []},
                        "pickup": {"address_list": [{
                            "address_id": 200_001, "region": "TW", "state": "", "city": "台北市", "district": "信義區",
                            "town": "", "address": "松仁路100號", "zipcode": "110",
                            "address_flag": ["default_address", "pickup_address"],
                            "time_slot_list": [{"date": slot, "time_text": "", "pickup_time_id": str(slot)}]}]}}
            return {"info_needed": {"non_integrated": ["tracking_number"]}}

    async def _ship(self, request: Request, request_id: str) -> Any:
        body = await json_body(request, invalid=_error(400, "error_param", "Invalid body.", request_id))
        if not isinstance(body, dict):
            raise _error(400, "error_param", "Invalid body.", request_id)
        with self.state as state:
            self._catch_up(state)
            order = self._known(state, body.get("order_sn"), request_id)
            if order["_integrated"]:
                how = "pickup" if isinstance(body.get("pickup"), dict) else "dropoff"
                given = body.get(how)
                if not isinstance(given, dict) or (how == "pickup" and not (
                        given.get("address_id") == 200_001 and given.get("pickup_time_id"))):
                    raise _error(400, "logistics.ship_order_invalid_param",
                                 "This order needs pickup (address_id, pickup_time_id) or dropoff.", request_id)
            else:
                given = body.get("non_integrated")
                if not isinstance(given, dict) or not given.get("tracking_number"):
                    raise _error(400, "logistics.ship_order_invalid_param",
                                 "non_integrated.tracking_number is required.", request_id)
            if order["order_status"] != "READY_TO_SHIP":
                raise _error(400, "logistics.order_status_error",
                             f"Order status {order['order_status']} cannot be shipped.", request_id)
            now = self.clock.now()
            if order["_integrated"]:  # Shopee's carrier: its number a few minutes later, then its scans
                sn = order["order_sn"]
                number = "TW" + self.ids.stable("tn", sn).split("_", 1)[1][:12].upper()
                state["issuing"][sn] = (now + timedelta(minutes=10), number)
                order["order_status"] = "PROCESSED"
                self._logistics(state, order, now, "LOGISTICS_REQUEST_CREATED", "賣家已安排寄件")
                rng = self.ids.rng("transit", sn)
                picked = now + timedelta(hours=rng.randint(3, 20))
                state["changes"].append((picked, sn, "picked_up"))
                state["changes"].append((picked + timedelta(hours=rng.randint(18, 60)), sn, "delivered"))
            else:
                state["tracking"][order["order_sn"]] = given["tracking_number"]
                order["order_status"] = "SHIPPED"
            self._touch(state, order, now)
            return {}

    async def _tracking(self, request: Request, request_id: str) -> Any:
        with self.state as state:
            self._catch_up(state)
            order = self._known(state, request.query_params.get("order_sn"), request_id)
            sn = order["order_sn"]
            issuing = state["issuing"].get(sn)
            if issuing is not None and issuing[0] <= self.clock.now():
                state["tracking"][sn] = issuing[1]
                del state["issuing"][sn]
            return {"tracking_number": state["tracking"].get(sn, ""), "plp_number": "",
                    "first_mile_tracking_number": "", "last_mile_tracking_number": ""}

    async def _tracking_info(self, request: Request, request_id: str) -> Any:
        with self.state as state:
            self._catch_up(state)
            order = self._known(state, request.query_params.get("order_sn"), request_id)
            package = order["package_list"][0]
            return {"order_sn": order["order_sn"], "package_number": package["package_number"],
                    "logistics_status": package["logistics_status"],
                    "tracking_info": list(reversed(state["scans"].get(order["order_sn"], [])))}  # newest first

    def _logistics(self, state: dict[str, Any], order: dict[str, Any], at: datetime, status: str, words: str) -> None:
        order["package_list"][0]["logistics_status"] = status
        state["scans"].setdefault(order["order_sn"], []).append(
            {"update_time": int(at.timestamp()), "description": words, "logistics_status": status})

    # -- products and stock (v2.product)

    async def _item_list(self, request: Request, request_id: str) -> Any:
        query = request.query_params
        try:
            offset, size = int(query.get("offset", "0")), int(query.get("page_size", "0"))
        except ValueError:
            raise _error(400, "error_param", "offset and page_size must be integers.", request_id) from None
        if not 1 <= size <= 100 or offset < 0:
            raise _error(400, "error_param", "page_size must be 1 to 100.", request_id)
        ids = sorted({c["item_id"] for c in CATALOG})
        page = ids[offset:offset + size]
        more = offset + size < len(ids)
        return {"item": [{"item_id": i, "item_status": "NORMAL", "update_time": 1767225600} for i in page],
                "total_count": len(ids), "has_next_page": more, "next_offset": offset + size if more else 0}

    async def _item_base(self, request: Request, request_id: str) -> Any:
        try:
            wanted = [int(i) for i in request.query_params.get("item_id_list", "").split(",") if i]
        except ValueError:
            raise _error(400, "error_param", "item_id_list must be integers.", request_id) from None
        if not 1 <= len(wanted) <= 50:
            raise _error(400, "error_param", "item_id_list takes 1 to 50 ids.", request_id)
        with self.state as state:
            return {"item_list": [{"item_id": c["item_id"], "item_name": c["title"], "item_status": "NORMAL",
                                   "item_sku": "" if c["model"] else c["sku"], "has_model": bool(c["model"]),
                                   "stock_info_v2": self._stock_info(state, c)}
                                  for c in CATALOG if c["item_id"] in wanted]}

    async def _model_list(self, request: Request, request_id: str) -> Any:
        try:
            item_id = int(request.query_params.get("item_id", ""))
        except ValueError:
            raise _error(400, "error_param", "item_id is required.", request_id) from None
        with self.state as state:
            found = [c for c in CATALOG if c["item_id"] == item_id]
            if not found:
                raise _error(400, "error_item_not_found", f"item_id {item_id} not found.", request_id)
            c = found[0]
            models = [{"model_id": c["item_id"] * 10 + 1, "model_sku": c["sku"], "model_name": c["model"],
                       "stock_info_v2": self._stock_info(state, c)}] if c["model"] else []
            return {"tier_variation": [{"name": "規格", "option_list": [{"option": c["model"]}]}] if models else [],
                    "model": models}

    def _stock_info(self, state: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        stock = state["stock"].get(item["sku"]) or 0
        return {"summary_info": {"total_reserved_stock": 0, "total_available_stock": stock},
                "seller_stock": [{"location_id": "TWZ", "stock": stock}], "shopee_stock": []}

    async def _update_stock(self, request: Request, request_id: str) -> Any:
        body = await json_body(request, invalid=_error(400, "error_param", "Invalid body.", request_id))
        if not isinstance(body, dict) or not isinstance(body.get("stock_list"), list) \
                or not 1 <= len(body["stock_list"]) <= 50:
            raise _error(400, "error_param", "item_id and stock_list (1 to 50 models) are required.", request_id)
        found = [c for c in CATALOG if c["item_id"] == body.get("item_id")]
        if not found:
            raise _error(400, "error_item_not_found", f"item_id {body.get('item_id')} not found.", request_id)
        item = found[0]
        success, failure = [], []
        with self.state as state:
            for entry in body["stock_list"]:
                model_id = entry.get("model_id", 0) if isinstance(entry, dict) else None
                stocks = entry.get("seller_stock") if isinstance(entry, dict) else None
                wanted_model = item["item_id"] * 10 + 1 if item["model"] else 0
                if model_id != wanted_model:
                    failure.append({"model_id": model_id, "failed_reason": "model_id not found"})
                    continue
                if not isinstance(stocks, list) or len(stocks) != 1 or not isinstance(stocks[0], dict) \
                        or isinstance(stocks[0].get("stock"), bool) or not isinstance(stocks[0].get("stock"), int) \
                        or not 0 <= stocks[0]["stock"] <= 999_999:
                    failure.append({"model_id": model_id, "failed_reason": "seller_stock.stock must be 0 to 999999"})
                    continue
                state["stock"][item["sku"]] = stocks[0]["stock"]
                success.append({"model_id": model_id, "location_id": "TWZ", "stock": stocks[0]["stock"]})
        return {"success_list": success, "failure_list": failure}

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
                at, sn, change = due_change
                self._change(state, state["orders"][sn], at, change)

    def _place(self, state: dict[str, Any], at: datetime) -> None:
        n = len(state["orders"]) + 1
        rng = self.ids.rng("order", n)
        sn = f"{at:%y%m%d}{self.ids.stable('sn', n)[:8].upper()}"
        sn = "".join(ch for ch in sn if ch.isalnum())
        step, rate = _STEP[self.currency], _RATE[self.currency]
        items, total = [], Decimal(0)
        # a listing whose seller_stock was set sells only what it holds (Shopee stops selling at 0)
        for_sale = [c for c in CATALOG if state["stock"].get(c["sku"]) is None or state["stock"][c["sku"]] > 0]
        if not for_sale:
            return  # everything sold out: nobody can buy
        for item in rng.sample(for_sale, min(len(for_sale), rng.randint(1, 2))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            held = state["stock"].get(item["sku"])
            if held is not None:
                quantity = min(quantity, held)
                state["stock"][item["sku"]] = held - quantity
            price = (Decimal(item["price"]) / rate).quantize(step)
            total += price * quantity
            items.append({"item_id": item["item_id"], "item_name": item["title"], "item_sku": item["sku"],
                          "model_id": 0 if not item["model"] else item["item_id"] * 10 + 1,
                          "model_name": item["model"], "model_sku": item["sku"] if item["model"] else "",
                          "model_quantity_purchased": quantity, "model_original_price": _number(price),
                          "model_discounted_price": _number(price), "wholesale": False, "weight": item["grams"] / 1000,
                          "add_on_deal": False, "main_item": False, "add_on_deal_id": 0, "promotion_type": "",
                          "promotion_id": 0, "order_item_id": item["item_id"], "promotion_group_id": 0,
                          "image_info": {"image_url": ""}, "product_location_id": ["TWZ"], "is_prescription_item": False,
                          "is_b2c_owned_item": False})
        shipping = (Decimal(60) / rate).quantize(step)
        total += shipping
        unpaid = rng.random() < self.rates["unpaid_rate"]
        by_shopee = rng.random() < self.rates["shopee_fulfilled_rate"]
        integrated = by_shopee or rng.random() < self.rates["integrated_rate"]
        name = rng.choice(["陳美玲", "林志明", "王小華", "張雅婷"])
        stamp = int(at.timestamp())
        state["orders"][sn] = {
            "order_sn": sn, "region": "TW", "currency": self.currency, "cod": False, "total_amount": _number(total),
            "order_status": "UNPAID" if unpaid else "READY_TO_SHIP",
            "shipping_carrier": "蝦皮店到店" if integrated else "黑貓宅急便 (賣家自行寄送)",
            "payment_method": "Credit Card", "estimated_shipping_fee": _number(shipping),
            "message_to_seller": "", "create_time": stamp, "update_time": stamp, "days_to_ship": 2,
            "ship_by_date": stamp + 2 * 86_400, "buyer_user_id": 100_000 + n, "buyer_username": f"buyer{n}",
            "recipient_address": {"name": name, "phone": "******678", "town": "", "district": "大安區",
                                  "city": "台北市", "state": "", "region": "TW", "zipcode": "106",
                                  "full_address": f"台北市大安區復興南路一段{n}號"},
            "item_list": items,
            "fulfillment_flag": "fulfilled_by_shopee" if by_shopee else "fulfilled_by_local_seller",
            "package_list": [{"package_number": f"OFG{stamp}{n}", "logistics_status": "LOGISTICS_NOT_START",
                              "shipping_carrier": "蝦皮店到店" if integrated else "黑貓宅急便",
                              "item_list": [{"item_id": i["item_id"], "model_id": i["model_id"]} for i in items]}],
            "cancel_reason": "", "cancel_by": "", "_integrated": integrated,
        }
        self._queue(state, state["orders"][sn], stamp)
        if unpaid:
            state["changes"].append((at + timedelta(minutes=rng.randint(2, 30)), sn, "paid"))
        if rng.random() < self.rates["update_rate"]:
            state["changes"].append((at + timedelta(minutes=rng.randint(20, 240)), sn, "edit"))
        if rng.random() < self.rates["cancel_rate"]:
            state["changes"].append((at + timedelta(minutes=rng.randint(60, 600)), sn, "cancel"))

    def _change(self, state: dict[str, Any], order: dict[str, Any], at: datetime, change: str) -> None:
        if change == "paid":
            if order["order_status"] != "UNPAID":
                return
            order["order_status"] = "READY_TO_SHIP"
        elif change == "edit":
            if order["order_status"] != "READY_TO_SHIP":
                return
            order["message_to_seller"] = "請在下午送達"
        elif change == "cancel":
            if order["order_status"] not in ("UNPAID", "READY_TO_SHIP"):
                return
            order.update(order_status="CANCELLED", cancel_by="buyer", cancel_reason="Change of mind")
        elif change == "picked_up":
            order["order_status"] = "SHIPPED"
            self._logistics(state, order, at, "LOGISTICS_PICKUP_DONE", "物流已取件")
        elif change == "delivered":
            order["order_status"] = "TO_CONFIRM_RECEIVE"
            self._logistics(state, order, at, "LOGISTICS_DELIVERY_DONE", "包裹已送達")
        self._touch(state, order, at)

    def _touch(self, state: dict[str, Any], order: dict[str, Any], at: datetime) -> None:
        order["update_time"] = max(int(at.timestamp()), order["update_time"])
        self._queue(state, order, int(at.timestamp()))

    def _queue(self, state: dict[str, Any], order: dict[str, Any], at: int) -> None:
        if self.push_url and self.partner_key:
            state["outbox"].append((order["order_sn"], order["order_status"], order["update_time"]))

def _number(amount: Decimal) -> int | float:
    """An amount as Shopee writes it: a JSON number (an integer when whole)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)
