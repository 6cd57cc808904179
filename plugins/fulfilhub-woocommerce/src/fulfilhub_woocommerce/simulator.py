"""A local WooCommerce shop (REST API v3), built with fulfilhub's sandbox toolkit.

``fulfilhub sandbox`` serves it at ``/woocommerce``; the tests run the real adapter
against it over loopback. Orders arrive over scenario time (``orders_per_day``); some
are placed unpaid (``pending``) and paid a few minutes later, some are edited later
(``update_rate``: an address or a quantity changes) and some cancelled
(``cancel_rate``). Ids and contents come from the seed.

- ``GET /wp-json/wc/v3/orders?modified_after=&dates_are_gmt=&orderby=modified&order=asc&page=&per_page=``
  with ``X-WP-Total`` and ``X-WP-TotalPages``; ``GET|PUT /wp-json/wc/v3/orders/{id}``
  (``status`` and ``meta_data`` by key); ``GET|POST /wp-json/wc/v3/orders/{id}/notes``;
  ``GET|POST /wp-json/wc/v3/coupons`` (``?code=``; a code is unique);
  ``GET|POST /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings``;
  ``GET /wp-json/wc/v3/products?sku=A,B`` and ``POST /wp-json/wc/v3/products/batch``
  (at most 100 items), one simple product per catalogue SKU. Once a product's stock is
  managed, orders take it off, and a product at 0 is not sold.
- HTTP Basic with the consumer key and secret; ``per_page`` above 100 is refused as
  WooCommerce refuses it.
- With ``cvs_rate``, that share of orders is a Taiwan convenience-store pickup chosen
  through ECPay's WooCommerce plugin (Wooecpay): a ``Wooecpay_Logistic_CVS_*`` shipping
  method, the store's address as ``shipping.address_1``, and the store in the order's
  ``_ecpay_logistic_cvs_store_*`` meta data.
- With ``webhook_secret`` set, every order created or changed is also queued as a
  signed ``order.created`` / ``order.updated`` delivery (``pending_webhooks()``).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import (
    AuthGuard,
    LockedState,
    Option,
    Rejected,
    SandboxContext,
    SeededIds,
    answering,
    json_body,
    read_options,
)

from . import webhooks

#: What the shop sells (the demo stocks its warehouses from this). ``TEE-ORG-M`` and
#: ``MUG-ENM-350`` are sold by the Shopify simulator too: one stock, two channels.
CATALOG = (
    {"sku": "TEE-ORG-M", "title": "Organic Cotton Tee - M", "price": "24.00", "grams": 190,
     "meta": [{"key": "pa_colour", "value": "natural", "display_key": "Colour", "display_value": "Natural"}]},
    {"sku": "MUG-ENM-350", "title": "Enamel Mug", "price": "16.00", "grams": 260, "meta": []},
    {"sku": "TEA-OOL-100", "title": "Oolong Tea 100 g", "price": "18.50", "grams": 120, "meta": []},
    {"sku": "CUP-CER-2P", "title": "Ceramic Tea Cups (2)", "price": "29.00", "grams": 340,
     "meta": [{"key": "pa_glaze", "value": "celadon", "display_key": "Glaze", "display_value": "Celadon"}]},
    {"sku": "POT-CLY-300", "title": "Clay Teapot 300 ml", "price": "45.00", "grams": 480, "meta": []},
    {"sku": "TEA-JAS-50", "title": "Jasmine Green Tea 50 g", "price": "12.00", "grams": 70, "meta": []},
    {"sku": "TRAY-BMB-M", "title": "Bamboo Tea Tray", "price": "38.00", "grams": 900, "meta": []},
    {"sku": "CAD-TIN-200", "title": "Tea Caddy Tin", "price": "14.00", "grams": 150,
     "meta": [{"key": "pa_colour", "value": "red", "display_key": "Colour", "display_value": "Red"}]},
)
#: Stores a customer may choose on ECPay's map: (Wooecpay method, its title, store id, name, address).
STORES = (
    ("Wooecpay_Logistic_CVS_711", "7-ELEVEN超商取貨", "131386", "高雄四維店", "高雄市苓雅區四維三路6號"),
    ("Wooecpay_Logistic_CVS_711", "7-ELEVEN超商取貨", "991182", "南港店", "台北市南港區三重路19號"),
    ("Wooecpay_Logistic_CVS_Family", "全家超商取貨", "006598", "台中一中店", "台中市北區一中街100號"),
)
OPTIONS = {
    "consumer_key": Option(None, str),
    "consumer_secret": Option(None, str),
    "webhook_secret": Option(None, str),
    "orders_per_day": Option(24, (int, float), low=0, high=100_000),
    "update_rate": Option(0.05, (int, float), low=0, high=1),
    "cancel_rate": Option(0.02, (int, float), low=0, high=1),
    "unpaid_rate": Option(0.1, (int, float), low=0, high=1),
    "cvs_rate": Option(0.0, (int, float), low=0, high=1),
}
API = "/wp-json/wc/v3"
TRACKING = "/wp-json/wc-shipment-tracking/v3"


def _basic(request: Request) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _gmt(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


class WoocommerceSimulator:
    """The shop's state and its REST API (``fulfilhub.sandbox.ShopSimulator``)."""

    def __init__(self, context: SandboxContext):
        self.name = context.name or "woocommerce"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock = context.clock
        self.ids = SeededIds(context.seed)
        self.per_day = float(options["orders_per_day"])
        self.update_rate = float(options["update_rate"])
        self.cancel_rate = float(options["cancel_rate"])
        self.unpaid_rate = float(options["unpaid_rate"])
        self.cvs_rate = float(options["cvs_rate"])
        self.webhook_secret: str | None = options["webhook_secret"]
        products = {100 + i: {"id": 100 + i, "name": item["title"], "type": "simple", "status": "publish",
                              "sku": item["sku"], "price": item["price"], "regular_price": item["price"],
                              "manage_stock": False, "stock_quantity": None, "stock_status": "instock"}
                    for i, item in enumerate(CATALOG)}
        self.state = LockedState({"orders": {}, "notes": {}, "coupons": {}, "trackings": {}, "changes": [],
                                  "products": products,
                                  "next_at": self.clock.now(), "arriving": self.per_day > 0, "outbox": []})
        key, secret = options["consumer_key"], options["consumer_secret"]
        credential = None if key is None and secret is None else f"{key}:{secret}"
        guard = AuthGuard(credential, _basic, lambda: JSONResponse(
            {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
             "data": {"status": 401}}, status_code=401))
        self.app = Starlette(routes=[
            Route(f"{API}/orders", guard(answering(self._list_orders)), methods=["GET"]),
            Route(f"{API}/orders/{{id:int}}", guard(answering(self._get_order)), methods=["GET"]),
            Route(f"{API}/orders/{{id:int}}", guard(answering(self._update_order)), methods=["PUT", "POST"]),
            Route(f"{API}/orders/{{id:int}}/notes", guard(answering(self._notes)), methods=["GET"]),
            Route(f"{API}/orders/{{id:int}}/notes", guard(answering(self._add_note)), methods=["POST"]),
            Route(f"{API}/products", guard(answering(self._products)), methods=["GET"]),
            Route(f"{API}/products/batch", guard(answering(self._products_batch)), methods=["POST"]),
            Route(f"{API}/coupons", guard(answering(self._coupons)), methods=["GET"]),
            Route(f"{API}/coupons", guard(answering(self._add_coupon)), methods=["POST"]),
            Route(f"{TRACKING}/orders/{{id:int}}/shipment-trackings", guard(answering(self._trackings)),
                  methods=["GET"]),
            Route(f"{TRACKING}/orders/{{id:int}}/shipment-trackings", guard(answering(self._add_tracking)),
                  methods=["POST"]),
        ])

    # -- what a scenario and the tests read or do

    @property
    def catalog(self) -> tuple[dict[str, Any], ...]:
        return tuple({k: v for k, v in item.items() if k != "meta"} for item in CATALOG)

    def stop_arrivals(self) -> None:
        with self.state as state:
            self._catch_up(state)
            state["arriving"] = False

    def order(self, order_id: int) -> dict[str, Any]:
        with self.state as state:
            self._catch_up(state)
            return json.loads(json.dumps(state["orders"][order_id]))

    def notes_for(self, order_id: int) -> list[dict[str, Any]]:
        with self.state as state:
            return list(state["notes"].get(order_id, []))

    def fulfillments_for(self, order_id: int) -> list[dict[str, Any]]:
        """The shipment notes of an order (one per parcel told to the buyer)."""
        return [n for n in self.notes_for(order_id) if n["note"].startswith("Your order has shipped")]

    def milestones_for(self, order_id: int) -> list[dict[str, Any]]:
        return [n for n in self.notes_for(order_id) if n["note"].startswith("Your parcel")]

    def trackings_for(self, order_id: int) -> list[dict[str, Any]]:
        with self.state as state:
            return list(state["trackings"].get(order_id, []))

    def stock(self) -> dict[str, int | None]:
        """SKU -> the product's ``stock_quantity`` (None while the shop does not manage its stock)."""
        with self.state as state:
            return {p["sku"]: p["stock_quantity"] for p in state["products"].values()}

    def coupons(self) -> list[dict[str, Any]]:
        with self.state as state:
            return list(state["coupons"].values())

    def edit_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order as a shop manager would (``status``, ``shipping``, ``line_items``...), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][order_id]
            order.update(json.loads(json.dumps(changes)))
            self._touch(state, order, self.clock.now(), "order.updated")
            return json.loads(json.dumps(order))

    def update_order(self, order_id: int | str) -> dict[str, Any]:
        """Change an order as the merchant would (the shop manager edits its customer note), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][int(order_id)]  # the order's id, or its external_id (text)
            order["customer_note"] = "Changed by the shop manager."
            self._touch(state, order, self.clock.now(), "order.updated")
            return json.loads(json.dumps(order))

    def cancel_order(self, order_id: int | str) -> dict[str, Any]:
        """Cancel an order as the merchant would (status ``cancelled``), now."""
        with self.state as state:
            self._catch_up(state)
            order = state["orders"][int(order_id)]
            order["status"] = "cancelled"
            self._touch(state, order, self.clock.now(), "order.updated")
            return json.loads(json.dumps(order))

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The signed deliveries queued since last asked (empty without ``webhook_secret``)."""
        with self.state as state:
            self._catch_up(state)
            out, state["outbox"] = state["outbox"], []
            return out

    # -- the API

    async def _list_orders(self, request: Request) -> Response:
        query = request.query_params
        try:
            per_page = int(query.get("per_page", 10))
            page = int(query.get("page", 1))
            after = query.get("modified_after")
            after_at = datetime.fromisoformat(after) if after else None
        except ValueError:
            raise Rejected(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page, page, "
                                 "modified_after", "data": {"status": 400}}) from None
        if not 1 <= per_page <= 100 or page < 1:
            raise Rejected(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                                 "data": {"status": 400, "params": {"per_page": "per_page must be between 1 "
                                                                                 "(inclusive) and 100 (inclusive)"}}})
        if after_at is not None and after_at.tzinfo is None:
            after_at = after_at.replace(tzinfo=timezone.utc)  # dates_are_gmt=true
        with self.state as state:
            self._catch_up(state)
            key = "date_modified_gmt" if query.get("orderby") == "modified" else "date_created_gmt"
            ordered = sorted(state["orders"].values(), key=lambda o: (o[key], o["id"]),
                             reverse=query.get("order", "desc") == "desc")
            if after_at is not None:
                bound = _gmt(after_at)
                ordered = [o for o in ordered if o["date_modified_gmt"] > bound]
            total = len(ordered)
            chosen = ordered[(page - 1) * per_page: page * per_page]
            pages = (total + per_page - 1) // per_page
            return JSONResponse(chosen, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    async def _get_order(self, request: Request) -> Response:
        with self.state as state:
            self._catch_up(state)
            return JSONResponse(self._order(state, request))

    async def _update_order(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise Rejected(400, {"code": "rest_invalid_json", "message": "Invalid JSON body", "data": {"status": 400}})
        with self.state as state:
            self._catch_up(state)
            order = self._order(state, request)
            if "status" in body:
                if body["status"] not in ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                                          "failed"):
                    raise Rejected(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): status",
                                         "data": {"status": 400}})
                order["status"] = body["status"]
                if body["status"] == "completed":
                    order["date_completed_gmt"] = _gmt(self.clock.now())
            for entry in body.get("meta_data") or []:
                existing = next((m for m in order["meta_data"] if m["key"] == entry.get("key")), None)
                if existing is not None:
                    existing["value"] = entry.get("value")
                else:
                    order["meta_data"].append({"id": self.ids.next("meta"), "key": entry.get("key"),
                                               "value": entry.get("value")})
            self._touch(state, order, self.clock.now(), "order.updated")
            return JSONResponse(order)

    async def _notes(self, request: Request) -> Response:
        with self.state as state:
            order = self._order(state, request)
            return JSONResponse(list(reversed(state["notes"].get(order["id"], []))))

    async def _add_note(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("note"), str) or not body["note"]:
            raise Rejected(400, {"code": "rest_missing_callback_param", "message": "Missing parameter(s): note",
                                 "data": {"status": 400}})
        with self.state as state:
            order = self._order(state, request)
            now = self.clock.now()
            note = {"id": self.ids.next("note", 300), "author": "WooCommerce", "date_created": _gmt(now),
                    "date_created_gmt": _gmt(now), "note": body["note"],
                    "customer_note": bool(body.get("customer_note")), "added_by_user": False}
            state["notes"].setdefault(order["id"], []).append(note)
            return JSONResponse(note, status_code=201)

    async def _products(self, request: Request) -> Response:
        skus = request.query_params.get("sku")
        wanted = None if skus is None else set(skus.split(","))
        with self.state as state:
            found = [p for p in state["products"].values() if wanted is None or p["sku"] in wanted]
            return JSONResponse(found, headers={"X-WP-Total": str(len(found)), "X-WP-TotalPages": "1"})

    async def _products_batch(self, request: Request) -> Response:
        body = await json_body(request)
        updates = body.get("update") if isinstance(body, dict) else None
        if not isinstance(updates, list) or len(updates) > 100:
            raise Rejected(413 if isinstance(updates, list) else 400, {
                "code": "woocommerce_rest_request_entity_too_large" if isinstance(updates, list) else "rest_invalid_json",
                "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}})
        answered = []
        with self.state as state:
            for item in updates:
                product = state["products"].get(item.get("id")) if isinstance(item, dict) else None
                if product is None:
                    answered.append({"id": 0, "error": {"code": "woocommerce_rest_product_invalid_id",
                                                        "message": "Invalid ID.", "data": {"status": 400}}})
                    continue
                quantity = item.get("stock_quantity")
                if "manage_stock" in item:
                    product["manage_stock"] = bool(item["manage_stock"])
                if isinstance(quantity, int) and not isinstance(quantity, bool):
                    product["stock_quantity"] = quantity
                    product["stock_status"] = "instock" if quantity > 0 else "outofstock"
                answered.append(dict(product))
            return JSONResponse({"update": answered})

    async def _coupons(self, request: Request) -> Response:
        code = request.query_params.get("code")
        with self.state as state:
            found = [c for c in state["coupons"].values() if code is None or c["code"] == code.lower()]
            return JSONResponse(found, headers={"X-WP-Total": str(len(found)), "X-WP-TotalPages": "1"})

    async def _add_coupon(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
            raise Rejected(400, {"code": "woocommerce_rest_empty_coupon_code", "message": "The coupon code cannot be "
                                 "empty.", "data": {"status": 400}})
        with self.state as state:
            code = body["code"].lower()
            if any(c["code"] == code for c in state["coupons"].values()):
                raise Rejected(400, {"code": "woocommerce_rest_coupon_code_already_exists",
                                     "message": "The coupon code already exists", "data": {"status": 400}})
            now = _gmt(self.clock.now())
            coupon = {"id": self.ids.next("coupon", 700), "code": code, "amount": str(body.get("amount", "0")),
                      "date_created_gmt": now, "date_modified_gmt": now,
                      "discount_type": body.get("discount_type", "fixed_cart"), "description": body.get("description", ""),
                      "usage_count": 0, "individual_use": bool(body.get("individual_use")),
                      "usage_limit": body.get("usage_limit"), "usage_limit_per_user": body.get("usage_limit_per_user"),
                      "free_shipping": bool(body.get("free_shipping")),
                      "email_restrictions": list(body.get("email_restrictions") or []),
                      "meta_data": [{"id": self.ids.next("meta"), **m} for m in body.get("meta_data") or []]}
            state["coupons"][coupon["id"]] = coupon
            return JSONResponse(coupon, status_code=201)

    async def _trackings(self, request: Request) -> Response:
        with self.state as state:
            order = self._order(state, request)
            return JSONResponse(list(state["trackings"].get(order["id"], [])))

    async def _add_tracking(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not body.get("tracking_number"):
            raise Rejected(400, {"code": "rest_missing_callback_param", "message": "Missing parameter(s): "
                                 "tracking_number", "data": {"status": 400}})
        with self.state as state:
            order = self._order(state, request)
            item = {"tracking_id": self.ids.new("trk"), "tracking_number": body["tracking_number"],
                    "tracking_provider": body.get("tracking_provider") or body.get("custom_tracking_provider", ""),
                    "tracking_link": body.get("custom_tracking_link", ""),
                    "date_shipped": body.get("date_shipped") or self.clock.now().date().isoformat()}
            state["trackings"].setdefault(order["id"], []).append(item)
            return JSONResponse(item, status_code=201)

    def _order(self, state: dict[str, Any], request: Request) -> dict[str, Any]:
        order = state["orders"].get(request.path_params["id"])
        if order is None:
            raise Rejected(404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                                 "data": {"status": 404}})
        return order

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

    def _place(self, state: dict[str, Any], at: datetime) -> None:
        n = len(state["orders"]) + 1
        rng = self.ids.rng("order", n)
        order_id = 4000 + n
        # A shopper can only buy what the shop sells: a product whose stock is managed and
        # at 0 is sold out, and a sale takes its quantity off (as WooCommerce reduces stock).
        products = {p["sku"]: p for p in state["products"].values()}
        in_stock = [item for item in CATALOG
                    if not products[item["sku"]]["manage_stock"] or (products[item["sku"]]["stock_quantity"] or 0) > 0]
        if not in_stock:
            return  # everything sold out: the shopper leaves
        picks = rng.sample(in_stock, min(len(in_stock), rng.randint(1, 2)))
        lines = []
        for i, item in enumerate(picks):
            quantity = rng.choice((1, 1, 1, 2, 3))
            product = products[item["sku"]]
            if product["manage_stock"]:
                quantity = min(quantity, product["stock_quantity"])
                product["stock_quantity"] -= quantity
                product["stock_status"] = "instock" if product["stock_quantity"] > 0 else "outofstock"
            subtotal = f"{Decimal(item['price']) * quantity:.2f}"
            lines.append({
                "id": order_id * 10 + i, "name": item["title"], "product_id": 100 + CATALOG.index(item),
                "variation_id": 0, "quantity": quantity, "tax_class": "", "subtotal": subtotal, "subtotal_tax": "0.00",
                "total": subtotal, "total_tax": "0.00", "taxes": [], "sku": item["sku"],
                "price": float(item["price"]), "meta_data": [{"id": order_id * 10 + i, **m} for m in item["meta"]],
                "parent_name": None,
            })
        shipping_total = Decimal("5.00")
        total = sum(Decimal(line["subtotal"]) for line in lines) + shipping_total
        unpaid = rng.random() < self.unpaid_rate
        first, last = rng.choice(["Ada", "Mei", "Wen", "Lin", "Sam"]), rng.choice(["Chen", "Lovelace", "Wang", "Lee"])
        stamp = _gmt(at)
        state["orders"][order_id] = {
            "id": order_id, "parent_id": 0, "number": str(order_id), "order_key": f"wc_order_{self.ids.stable('k', n)}",
            "created_via": "checkout", "version": "9.4.0", "status": "pending" if unpaid else "processing",
            "currency": "USD", "date_created": stamp, "date_created_gmt": stamp, "date_modified": stamp,
            "date_modified_gmt": stamp, "discount_total": "0.00", "discount_tax": "0.00",
            "shipping_total": f"{shipping_total:.2f}", "shipping_tax": "0.00", "cart_tax": "0.00",
            "total": f"{total:.2f}", "total_tax": "0.00", "prices_include_tax": False, "customer_id": 20 + n,
            "customer_note": "",
            "billing": {"first_name": first, "last_name": last, "company": "", "address_1": f"{n} Harbor Dr",
                        "address_2": "", "city": "Redondo Beach", "state": "CA", "postcode": "90277",
                        "country": "US", "email": f"buyer{n}@example.com", "phone": "3105550100"},
            "shipping": {"first_name": first, "last_name": last, "company": "", "address_1": f"{n} Harbor Dr",
                         "address_2": "", "city": "Redondo Beach", "state": "CA", "postcode": "90277",
                         "country": "US", "phone": ""},
            "payment_method": "bacs" if unpaid else "stripe", "payment_method_title": "Card",
            "transaction_id": "", "date_paid_gmt": None if unpaid else stamp, "date_completed_gmt": None,
            "cart_hash": "", "meta_data": [], "line_items": lines, "tax_lines": [],
            "shipping_lines": [{"id": order_id * 10 + 9, "method_title": "Flat rate", "method_id": "flat_rate",
                                "total": f"{shipping_total:.2f}", "total_tax": "0.00", "taxes": [], "meta_data": []}],
            "fee_lines": [], "coupon_lines": [], "refunds": [],
        }
        if self.cvs_rate and rng.random() < self.cvs_rate:
            self._to_a_store(state["orders"][order_id], rng)
        self._queue(state, state["orders"][order_id], "order.created")
        if unpaid:
            state["changes"].append((at + timedelta(minutes=rng.randint(2, 30)), order_id, "paid"))
        if rng.random() < self.update_rate:
            state["changes"].append((at + timedelta(minutes=rng.randint(20, 240)), order_id, "edit"))
        if rng.random() < self.cancel_rate:
            state["changes"].append((at + timedelta(minutes=rng.randint(60, 600)), order_id, "cancel"))

    def _change(self, state: dict[str, Any], order: dict[str, Any], at: datetime, change: str) -> None:
        if change == "paid":
            if order["status"] != "pending":
                return
            order.update(status="processing", date_paid_gmt=_gmt(at))
        elif change == "edit":
            if order["status"] != "processing":
                return  # a shipped or cancelled order is not edited
            order["shipping"] = {**order["shipping"], "address_2": "Unit 2"}
            order["customer_note"] = "Please leave it with the neighbour."
        elif change == "cancel":
            if order["status"] not in ("pending", "processing", "on-hold"):
                return
            order["status"] = "cancelled"
        self._touch(state, order, at, "order.updated")

    def _touch(self, state: dict[str, Any], order: dict[str, Any], at: datetime, topic: str) -> None:
        order["date_modified"] = order["date_modified_gmt"] = _gmt(at)
        self._queue(state, order, topic)

    def _to_a_store(self, order: dict[str, Any], rng: Any) -> None:
        """Make ``order`` a store pickup in Taiwan, as Wooecpay writes one after ECPay's store map."""
        method, title, store_id, name, address = rng.choice(STORES)
        order["shipping"] = {**order["shipping"], "company": "", "address_1": address, "address_2": "", "city": "",
                             "state": "", "postcode": "", "country": "TW", "phone": "0933222111"}
        order["shipping_lines"][0].update(method_id=method, method_title=title)
        order["meta_data"] += [{"id": self.ids.next("meta"), "key": key, "value": value} for key, value in (
            ("_ecpay_logistic_cvs_store_id", store_id), ("_ecpay_logistic_cvs_store_name", name),
            ("_ecpay_logistic_cvs_store_address", address))]

    def _queue(self, state: dict[str, Any], order: dict[str, Any], topic: str) -> None:
        if not self.webhook_secret:
            return
        body = json.dumps(order).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            webhooks.TOPIC_HEADER: topic,
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": topic.split(".", 1)[1],
            "X-WC-Webhook-Source": "https://woocommerce.sandbox/",
            "X-WC-Webhook-ID": "1",
            webhooks.DELIVERY_HEADER: str(self.ids.next("delivery")),
            webhooks.SIGNATURE_HEADER: webhooks.sign(body, self.webhook_secret),
        }
        state["outbox"].append((headers, body))
