"""A local ShipBob (API 1.0) for ``fulfilhub sandbox`` and the tests, on the scenario clock.

It answers, in ShipBob's shapes and behind ``Authorization: Bearer <token>``:

- ``POST /order`` (``shipbob_channel_id`` header required): an order of products by
  ``reference_id``; a second order with the same ``reference_id`` is refused with 422, as
  ShipBob refuses it. The stock is committed at once; a SKU it has never received puts
  the shipment in ``Exception``/``UnknownSku``, too little stock in ``OutOfStock``.
- ``GET /order?ReferenceIds=``, ``GET /order/{id}``, ``GET /order/{id}/shipment``: the
  shipments move on the scenario clock through Processing (``Picked`` after
  ``pick_hours``, ``Packed``, ``Labeled``), then Completed with a carrier and tracking
  number (``ship_hours``; the stock leaves), ``InTransit``, ``OutForDelivery`` and
  ``Delivered`` (``deliver_hours``). An order of more than ``split_over_units`` units
  goes as two shipments (two packages, two tracking numbers).
- ``POST /order/{id}/cancel``: cancels the shipments not yet picked (the stock is
  released); one picked, packed or shipped answers ``is_success: false`` with the reason.
- ``GET /product?ReferenceIds=`` and ``GET /inventory?IDs=``: the products with their
  inventory items, and on hand / committed / fulfillable per fulfillment center.
- 150 calls a minute (a sliding window, as ShipBob documents), then 429 with
  ``x-retry-after`` and ``x-remaining-calls``.

``webhook_secret`` (``whsec_`` + base64) signs ``pending_webhooks()`` as ShipBob signs
them (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``):
``order_shipped``, ``shipment_delivered``, ``shipment_exception``, ``shipment_cancelled``.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime, timedelta
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

from .warehouse import sign

STOCK = {"MUG-BLUE": 120, "TEA-50G": 300, "TEE-M": 80}
CENTER = {"id": 5, "name": "Cicero (IL)"}
RATE_LIMIT = 150  # calls per sliding minute
#: (Processing detail or Completed detail, hours after the order) on the way out.
OPTIONS = {
    "access_token": Option(None, str),
    "webhook_secret": Option(None, str),
    "pick_hours": Option(2, (int, float), low=0, high=1000),
    "pack_hours": Option(4, (int, float), low=0, high=1000),
    "ship_hours": Option(8, (int, float), low=0, high=1000),
    "deliver_hours": Option(60, (int, float), low=0, high=10000),
    "carrier": Option("USPS", str),
    "split_over_units": Option(0, int, low=0, high=10000),  # 0: never split
    "rate_limit": Option(True, bool),
}


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class ShipbobSimulator:
    def __init__(self, context: SandboxContext):
        self.name = context.name or "shipbob"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock = context.clock
        self.ids = SeededIds(context.seed)
        self.options = options
        self.webhook_secret = options["webhook_secret"]
        hours = options
        after = lambda key: timedelta(hours=hours[key])  # noqa: E731
        deliver = max(after("deliver_hours"), after("ship_hours"))
        self.timeline = [  # (status, detail, time after the order)
            ("Processing", "Picked", after("pick_hours")),
            ("Processing", "Packed", max(after("pack_hours"), after("pick_hours"))),
            ("Processing", "Labeled", max(after("ship_hours") - timedelta(hours=1), after("pack_hours"))),
            ("Completed", "Processing", after("ship_hours")),
            ("Completed", "InTransit", after("ship_hours") + (deliver - after("ship_hours")) / 4),
            ("Completed", "OutForDelivery", deliver - timedelta(hours=6)),
            ("Completed", "Delivered", deliver),
        ]
        self.state = LockedState({"inventory": {}, "orders": {}, "by_reference": {}, "outbox": [], "calls": deque()})
        with self.state as state:
            for sku, units in STOCK.items():
                self._product(state, sku, units)
        guard = AuthGuard(options["access_token"], _bearer,
                          lambda: JSONResponse({"message": "Authorization has been denied for this request."},
                                               status_code=401))

        def route(path: str, handler: Any, method: str) -> Route:
            return Route(path, guard(self._limited(answering(handler))), methods=[method])

        self.app = Starlette(routes=[
            route("/order", self._create, "POST"),
            route("/order", self._orders, "GET"),
            route("/order/{id:int}", self._order, "GET"),
            route("/order/{id:int}/shipment", self._shipments, "GET"),
            route("/order/{id:int}/cancel", self._cancel, "POST"),
            route("/product", self._products, "GET"),
            route("/inventory", self._inventory, "GET"),
        ])

    # -- for tests and the demo

    def submissions(self) -> int:
        with self.state as state:
            return len(state["orders"])

    def stock(self) -> dict[str, int]:
        """On hand of each SKU."""
        with self.state as state:
            self._catch_up(state)
            return {item["sku"]: item["onhand"] for item in state["inventory"].values()}

    def committed(self) -> dict[str, int]:
        with self.state as state:
            self._catch_up(state)
            return {item["sku"]: item["committed"] for item in state["inventory"].values()}

    def set_stock(self, sku: str, quantity: int) -> None:
        """A receiving order (WRO) or a count sets the on-hand of ``sku``."""
        with self.state as state:
            item = self._item_of(state, sku)
            if item is None:
                self._product(state, sku, quantity)
            else:
                item["onhand"] = quantity

    def lines_of(self, ref: str) -> list[tuple[str, int]]:
        with self.state as state:
            return [(p["reference_id"], p["quantity"]) for p in state["orders"][int(ref)]["products"]]

    def order_of(self, reference_id: str) -> dict[str, Any] | None:
        with self.state as state:
            found = state["by_reference"].get(reference_id)
            return self._order_view(state, state["orders"][found]) if found is not None else None

    def throttled(self) -> int:
        with self.state as state:
            return state.get("throttled", 0)

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """What ShipBob would have POSTed since last asked, signed (nothing without ``webhook_secret``)."""
        with self.state as state:
            self._catch_up(state)
            events, state["outbox"] = state["outbox"], []
        if not self.webhook_secret:
            return []
        out = []
        for topic, payload in events:
            body = json.dumps(payload).encode()
            delivery = self.ids.new("msg")
            stamp = int(self.clock.now().timestamp())
            out.append(({"content-type": "application/json", "webhook-id": delivery, "webhook-timestamp": str(stamp),
                         "webhook-signature": sign(self.webhook_secret, delivery, stamp, body),
                         "shipbob-topic": topic}, body))
        return out

    # -- state

    def _product(self, state: dict, sku: str, units: int) -> None:
        n = len(state["inventory"]) + 1
        state["inventory"][n] = {"id": 1000 + n, "product_id": 500 + n, "sku": sku, "onhand": units, "committed": 0}

    def _item_of(self, state: dict, sku: str) -> dict[str, Any] | None:
        return next((item for item in state["inventory"].values() if item["sku"] == sku), None)

    def _catch_up(self, state: dict) -> None:
        """Move every shipment to where the clock says, taking the stock off as it leaves."""
        now = self.clock.now()
        for order in state["orders"].values():
            for shipment in order["shipments"]:
                if shipment["status"] in ("Cancelled", "Exception"):
                    continue
                reached = [(status, detail) for status, detail, after in self.timeline
                           if order["created"] + after <= now]
                if not reached:
                    continue
                status, detail = reached[-1]
                if (status, detail) == (shipment["status"], shipment["detail"]):
                    continue
                leaving = status == "Completed" and shipment["status"] != "Completed"
                if leaving:
                    shipment["shipped_at"] = order["created"] + self.timeline[3][2]
                    shipment["tracking_number"] = self._tracking_number(shipment["id"])
                    for sku, quantity in shipment["lines"]:
                        item = self._item_of(state, sku)
                        item["onhand"] -= quantity
                        item["committed"] -= quantity
                shipment["status"], shipment["detail"] = status, detail
                shipment["updated"] = order["created"] + next(after for s, d, after in self.timeline
                                                              if (s, d) == (status, detail))
                if leaving:
                    state["outbox"].append(("order_shipped", self._order_view(state, order)))
                if detail == "Delivered":
                    state["outbox"].append(("shipment_delivered", self._shipment_view(order, shipment)))

    def _tracking_number(self, shipment_id: int) -> str:
        digits = "".join(str(int(c, 16) % 10) for c in self.ids.stable("trk", shipment_id)[4:24])
        return ("1Z" + digits[:16]) if self.options["carrier"] == "UPS" else "9400" + digits

    # -- rate limit

    def _limited(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if self.options["rate_limit"]:
                now = self.clock.now()
                with self.state as state:
                    calls = state["calls"]
                    while calls and calls[0] <= now - timedelta(minutes=1):
                        calls.popleft()
                    if len(calls) >= RATE_LIMIT:
                        wait = max(1, int((calls[0] + timedelta(minutes=1) - now).total_seconds()) + 1)
                        state["throttled"] = state.get("throttled", 0) + 1
                        return JSONResponse(
                            {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."},
                            status_code=429, headers={"x-retry-after": str(wait), "x-remaining-calls": "0"})
                    calls.append(now)
                    remaining = RATE_LIMIT - len(calls)
                response = await handler(request)
                response.headers["x-remaining-calls"] = str(remaining)
                return response
            return await handler(request)

        return endpoint

    # -- handlers

    async def _create(self, request: Request) -> Response:
        if not request.headers.get("shipbob_channel_id", "").isdigit():
            raise Rejected(400, {"message": "shipbob_channel_id header is required"})
        body = await json_body(request)
        if not isinstance(body, dict):
            raise Rejected(400, {"message": "The request is invalid."})
        reference = body.get("reference_id")
        products = body.get("products")
        recipient = body.get("recipient")
        if not isinstance(reference, str) or not reference:
            raise Rejected(400, {"message": "The request is invalid.", "errors": {"ReferenceId": ["required"]}})
        if not isinstance(products, list) or not products or not all(
                isinstance(p, dict) and isinstance(p.get("reference_id"), str)
                and isinstance(p.get("quantity"), int) and p["quantity"] > 0 for p in products):
            raise Rejected(400, {"message": "The request is invalid.", "errors": {"Products": ["required"]}})
        if not isinstance(recipient, dict) or not isinstance(recipient.get("address"), dict):
            raise Rejected(400, {"message": "The request is invalid.", "errors": {"Recipient": ["required"]}})
        with self.state as state:
            if reference in state["by_reference"]:
                raise Rejected(422, {"message": f"Order with reference id {reference} already exists"})
            order_id = self.ids.next("order", 7001)
            lines = [(p["reference_id"], p["quantity"]) for p in products]
            units = sum(q for _, q in lines)
            parts = [lines]
            if self.options["split_over_units"] and units > self.options["split_over_units"]:
                parts = _halves(lines)
            order = {"id": order_id, "reference_id": reference, "order_number": body.get("order_number"),
                     "created": self.clock.now(), "recipient": recipient,
                     "shipping_method": body.get("shipping_method") or "Standard",
                     "products": [{"reference_id": sku, "quantity": q} for sku, q in lines], "shipments": []}
            for part in parts:
                shipment = {"id": self.ids.next("shipment", 90001), "lines": part, "status": "Processing",
                            "detail": "", "updated": self.clock.now(), "shipped_at": None, "tracking_number": None}
                self._commit(state, order, shipment)
                order["shipments"].append(shipment)
            state["orders"][order_id] = order
            state["by_reference"][reference] = order_id
            return JSONResponse(self._order_view(state, order), status_code=201)

    def _commit(self, state: dict, order: dict, shipment: dict) -> None:
        """Commit the stock to the shipment, or put it in exception saying why."""
        for sku, quantity in shipment["lines"]:
            item = self._item_of(state, sku)
            if item is None:
                shipment["status"], shipment["detail"] = "Exception", "UnknownSku"
                return
            if item["onhand"] - item["committed"] < quantity:
                shipment["status"], shipment["detail"] = "Exception", "OutOfStock"
                state["outbox"].append(("shipment_exception", self._shipment_view(order, shipment)))
                return
        for sku, quantity in shipment["lines"]:
            self._item_of(state, sku)["committed"] += quantity

    async def _orders(self, request: Request) -> Response:
        wanted = [r for r in request.query_params.get("ReferenceIds", "").split(",") if r]
        with self.state as state:
            self._catch_up(state)
            found = [state["orders"][state["by_reference"][r]] for r in wanted if r in state["by_reference"]]
            return JSONResponse([self._order_view(state, order) for order in found])

    def _found(self, state: dict, request: Request) -> dict:
        order = state["orders"].get(request.path_params["id"])
        if order is None:
            raise Rejected(404, {"message": "Order not found"})
        return order

    async def _order(self, request: Request) -> Response:
        with self.state as state:
            self._catch_up(state)
            return JSONResponse(self._order_view(state, self._found(state, request)))

    async def _shipments(self, request: Request) -> Response:
        with self.state as state:
            self._catch_up(state)
            order = self._found(state, request)
            return JSONResponse([self._shipment_view(order, s) for s in order["shipments"]])

    async def _cancel(self, request: Request) -> Response:
        with self.state as state:
            self._catch_up(state)
            order = self._found(state, request)
            results = []
            for shipment in order["shipments"]:
                if shipment["status"] == "Completed" or shipment["detail"] in ("Picked", "Packed", "Labeled"):
                    # as ShipBob documents: a shipment picked, packed or shipped is not cancelled
                    results.append({"action": "Cancel", "shipment_id": shipment["id"], "is_success": False,
                                    "reason": "Shipment has already been shipped" if shipment["status"] == "Completed"
                                    else f"Shipment is already {shipment['detail'].lower()}"})
                    continue
                if shipment["status"] != "Cancelled":
                    if shipment["status"] != "Exception":
                        for sku, quantity in shipment["lines"]:
                            self._item_of(state, sku)["committed"] -= quantity
                    shipment["status"], shipment["detail"] = "Cancelled", ""
                    shipment["updated"] = self.clock.now()
                    state["outbox"].append(("shipment_cancelled", self._shipment_view(order, shipment)))
                results.append({"action": "Cancel", "shipment_id": shipment["id"], "is_success": True, "reason": None})
            ok = [r["is_success"] for r in results]
            return JSONResponse({"order_id": order["id"], "order": self._order_view(state, order),
                                 "status": "Success" if all(ok) else "PartialSuccess" if any(ok) else "Failure",
                                 "canceled_shipment_results": results})

    async def _products(self, request: Request) -> Response:
        wanted = [r for r in request.query_params.get("ReferenceIds", "").split(",") if r]
        with self.state as state:
            self._catch_up(state)
            items = [self._item_of(state, sku) for sku in wanted]
            return JSONResponse([self._product_view(item) for item in items if item is not None])

    async def _inventory(self, request: Request) -> Response:
        wanted = {int(i) for i in request.query_params.get("IDs", "").split(",") if i.isdigit()}
        with self.state as state:
            self._catch_up(state)
            return JSONResponse([self._inventory_view(item) for item in state["inventory"].values()
                                 if item["id"] in wanted])

    # -- views, in ShipBob's shapes

    def _quantities(self, item: dict) -> dict[str, int]:
        fulfillable = max(0, item["onhand"] - item["committed"])
        return {"fulfillable_quantity": fulfillable, "onhand_quantity": item["onhand"],
                "committed_quantity": item["committed"]}

    def _product_view(self, item: dict) -> dict[str, Any]:
        q = self._quantities(item)
        return {"id": item["product_id"], "reference_id": item["sku"], "sku": item["sku"], "name": item["sku"],
                "barcode": None, "gtin": None, "upc": None, "unit_price": None,
                "channel": {"id": 100102, "name": "fulfilhub"},
                "total_fulfillable_quantity": q["fulfillable_quantity"], "total_onhand_quantity": q["onhand_quantity"],
                "total_committed_quantity": q["committed_quantity"],
                "fulfillable_inventory_items": [{"id": item["id"], "name": item["sku"], "quantity": 1}],
                "fulfillable_quantity_by_fulfillment_center": [{**CENTER, **q}]}

    def _inventory_view(self, item: dict) -> dict[str, Any]:
        q = self._quantities(item)
        return {"id": item["id"], "name": item["sku"], "is_digital": False, "is_case_pick": False, "is_lot": False,
                "is_active": True, "packaging_attribute": "None",
                "dimensions": {"weight": 8.0, "length": 6.0, "width": 4.0, "depth": 3.0},
                "total_fulfillable_quantity": q["fulfillable_quantity"], "total_onhand_quantity": q["onhand_quantity"],
                "total_committed_quantity": q["committed_quantity"], "total_sellable_quantity": q["fulfillable_quantity"],
                "total_awaiting_quantity": 0, "total_exception_quantity": 0, "total_internal_transfer_quantity": 0,
                "total_backordered_quantity": 0,
                "fulfillable_quantity_by_fulfillment_center": [{**CENTER, **q, "awaiting_quantity": 0,
                                                                "internal_transfer_quantity": 0}]}

    def _order_view(self, state: dict, order: dict) -> dict[str, Any]:
        statuses = {s["status"] for s in order["shipments"]}
        status = ("Cancelled" if statuses == {"Cancelled"} else "Exception" if "Exception" in statuses
                  else "Fulfilled" if statuses <= {"Completed", "Cancelled"}
                  else "PartiallyFulfilled" if "Completed" in statuses else "Processing")
        return {"id": order["id"], "created_date": _iso(order["created"]), "purchase_date": _iso(order["created"]),
                "reference_id": order["reference_id"], "order_number": order["order_number"], "status": status,
                "type": "DTC", "channel": {"id": 100102, "name": "fulfilhub"},
                "shipping_method": order["shipping_method"], "recipient": order["recipient"],
                "products": [{"id": (self._item_of(state, p["reference_id"]) or {}).get("product_id"),
                              "reference_id": p["reference_id"], "quantity": p["quantity"],
                              "quantity_unit_of_measure_code": None, "sku": p["reference_id"], "gtin": None,
                              "upc": None, "unit_price": None, "external_line_id": None} for p in order["products"]],
                "tags": [], "shipments": [self._shipment_view(order, s) for s in order["shipments"]]}

    def _shipment_view(self, order: dict, shipment: dict) -> dict[str, Any]:
        shipped = shipment["tracking_number"] is not None
        number = shipment["tracking_number"]
        carrier = self.options["carrier"]
        url = (f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}" if carrier == "USPS"
               else f"https://www.ups.com/track?tracknum={number}")
        detail_ids = {"Picked": 100, "Packed": 101, "Labeled": 102, "Processing": 200, "InTransit": 201,
                      "OutForDelivery": 202, "Delivered": 203, "UnknownSku": 304, "OutOfStock": 303}
        details = ([{"id": detail_ids.get(shipment["detail"], 0), "name": shipment["detail"], "description": "",
                     "exception_fulfillment_center_id": None, "inventory_id": None, "extra_information": None}]
                   if shipment["detail"] else [])
        return {
            "id": shipment["id"], "order_id": order["id"], "reference_id": order["reference_id"],
            "recipient": order["recipient"], "created_date": _iso(order["created"]),
            "last_update_at": _iso(shipment["updated"]),
            "last_tracking_update_at": _iso(shipment["updated"]) if shipped else None,
            "status": shipment["status"], "status_details": details, "location": dict(CENTER),
            "invoice_amount": 0, "insurance_value": None, "ship_option": order["shipping_method"],
            "tracking": ({"carrier": carrier, "tracking_number": number, "carrier_service": "Ground Advantage",
                          "tracking_url": url, "bol": None, "shipping_date": _iso(shipment["shipped_at"])}
                         if shipped else None),
            "products": [{"id": None, "reference_id": sku, "name": sku, "sku": sku,
                          "inventory_items": [{"id": None, "name": sku, "quantity": q, "quantity_committed": q}]}
                         for sku, q in shipment["lines"]],
            "measurements": {"total_weight_oz": 16, "depth_in": 3, "length_in": 6, "width_in": 4},
            "is_tracking_uploaded": shipped,
            "estimated_fulfillment_date": _iso(order["created"] + self.timeline[3][2]),
            "estimated_fulfillment_date_status": "FulfilledOnTime" if shipped else "PendingOnTime",
            "actual_fulfillment_date": _iso(shipment["shipped_at"]) if shipped else None,
        }


def _halves(lines: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """An order split into two packages: by line, or one line's units in two."""
    if len(lines) > 1:
        middle = len(lines) // 2
        return [lines[:middle], lines[middle:]]
    sku, quantity = lines[0]
    return [[(sku, quantity - quantity // 2)], [(sku, quantity // 2)]] if quantity > 1 else [lines]
