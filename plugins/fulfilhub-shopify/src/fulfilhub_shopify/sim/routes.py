"""The simulated shop's HTTP API, and :class:`ShopifySimulator`, the object the sandbox builds.

Orders are listed as Shopify lists them — filtered by ``updated_at_min``, paged with
opaque ``page_info`` tokens in a ``Link`` header — behind Shopify's leaky-bucket call
limit and access-token check. Fulfillment orders, fulfillments and fulfillment events
behave enough like Shopify's to exercise an adapter's look-before-acting. The app is
served from uvicorn's thread while tests read the state from theirs: every access holds
the state's one lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fulfilhub.sandbox import (
    AuthGuard,
    LeakyBucket,
    LockedState,
    Option,
    Rejected,
    SandboxContext,
    header_credential,
    json_body,
    read_options,
)
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .discounts import Discounts
from .inventory import Inventory
from .render import line_item, render_fulfillment_orders, render_order
from .state import (
    DEFAULT_CATALOG,
    FO_LINE_ITEM_ID_BASE,
    FULFILLMENT_ORDER_ID_BASE,
    LOCATION_ID,
    MALFORMATIONS,
    MAX_LINES,
    SHOP_ID,
    SHOP_TZ,
    Record,
    Shop,
    catalog_lines,
    iso,
)

BUCKET_SIZE = 40
LEAK_PER_SECOND = 2.0
MAX_PAGE = 250
DEFAULT_PAGE = 50
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
PAGINATION_DOC = "See https://shopify.dev/api/usage/pagination-rest for more information."
#: Every status Shopify accepts on a fulfillment event (REST, 2024-10).
EVENT_STATUSES = frozenset(
    {
        "label_printed", "label_purchased", "attempted_delivery", "ready_for_pickup", "confirmed",
        "in_transit", "out_for_delivery", "delivered", "failure", "carrier_picked_up", "delayed",
    }
)


#: The simulator's options (``context.options_for(context.name or "shopify")``).
OPTIONS: Mapping[str, Option] = {
    "orders_per_day": Option(100, (int, float), low=0, high=math.inf),
    "malformed_rate": Option(0.0, (int, float), low=0, high=1),
    "update_rate": Option(0.05, (int, float), low=0, high=1),
    "catalog": Option(DEFAULT_CATALOG, (list, tuple), convert=catalog_lines),
    "preload": Option(0, int, low=0),
    "rate_limit": Option(True, bool),
    "access_token": Option(None, str),
    "webhook_secret": Option(None, str),
}

_API_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")


def _rejected(status: int, errors: Any) -> Rejected:
    """A request Shopify would refuse, answered in Shopify's ``{"errors": ...}`` shape."""
    return Rejected(status, {"errors": errors})


_INVALID_JSON = _rejected(400, "The request body is not valid JSON.")


class ShopifySimulator:
    """The simulated shop. ``app`` is the ASGI app the sandbox mounts at ``/shopify``.

    Options (``context.options_for(context.name or "shopify")``): ``orders_per_day`` (100),
    ``malformed_rate`` (0.0), ``update_rate`` (0.05), ``catalog`` (list of
    ``{sku, title, price, grams[, requires_shipping]}``; 20 SKUs by default),
    ``preload`` (0 orders created over the two days before now), ``rate_limit``
    (True: bucket of 40 leaking 2 calls/s) and ``access_token`` (None: any token).
    Everything is deterministic from ``context.seed`` and the scenario clock.
    """

    def __init__(self, context: SandboxContext):
        self.context = context
        self.clock = context.clock
        self.base_url = context.base_url
        self.name = context.name or "shopify"
        opts = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.orders_per_day = float(opts["orders_per_day"])
        self.malformed_rate = float(opts["malformed_rate"])
        self.update_rate = float(opts["update_rate"])
        self.access_token: str | None = opts["access_token"]
        self.webhook_secret: str | None = opts["webhook_secret"]
        self._announced: dict[int, str] = {}  # order id -> the updated_at last sent as a webhook
        self.rate_limit = bool(opts["rate_limit"])
        self._state = LockedState(
            Shop(
                clock=self.clock,
                seed=context.seed,
                orders_per_day=self.orders_per_day,
                malformed_rate=self.malformed_rate,
                update_rate=self.update_rate,
                catalog=opts["catalog"] if opts["catalog"] is not None else catalog_lines(DEFAULT_CATALOG),
                preload=opts["preload"],
            )
        )
        self._bucket = LeakyBucket(self.clock, size=BUCKET_SIZE, leak_per_second=LEAK_PER_SECOND)
        self._guard = AuthGuard(
            self.access_token,
            header_credential("x-shopify-access-token"),
            lambda: JSONResponse({"errors": UNAUTHORIZED}, status_code=401),
        )
        api = "/admin/api/{version}"
        self.discounts = Discounts(lambda: self.clock.now().timestamp(), self.order)
        self.inventory = Inventory(lambda: self.catalog, lambda: self.clock.now().timestamp())
        self.app = Starlette(
            routes=[
                Route(f"{api}/orders.json", self._endpoint(self._list_orders)),
                Route(f"{api}/orders/{{order_id:int}}.json", self._endpoint(self._get_order)),
                Route(
                    f"{api}/orders/{{order_id:int}}/fulfillment_orders.json",
                    self._endpoint(self._get_fulfillment_orders),
                ),
                Route(f"{api}/orders/{{order_id:int}}/fulfillments.json", self._endpoint(self._get_fulfillments)),
                Route(f"{api}/fulfillments.json", self._endpoint(self._create_fulfillment), methods=["POST"]),
                Route(
                    f"{api}/orders/{{order_id:int}}/fulfillments/{{fulfillment_id:int}}/events.json",
                    self._endpoint(self._events_endpoint),
                    methods=["GET", "POST"],
                ),
                *self.discounts.routes(api, self._endpoint),  # price rules, discount codes, refunds
                *self.inventory.routes(api, self._endpoint),  # locations, products, inventory levels
            ],
            exception_handlers={HTTPException: _http_error},
        )

    # ------------------------------------------------------------------ accessors (tests, demo)

    @property
    def throttled(self) -> int:
        """How many requests the call limit refused with 429 (faults not counted)."""
        return self._bucket.refused

    @property
    def catalog(self) -> tuple[Mapping[str, Any], ...]:
        """The SKUs orders are drawn from, as ``{sku, title, price, grams, requires_shipping}``."""
        with self._state as shop:
            return shop.catalog

    def orders_visible(self) -> list[dict[str, Any]]:
        """Every order that has arrived by the scenario clock's now, rendered, oldest id first."""
        with self._state as shop:
            shop.catch_up()
            return [render_order(shop, rec) for rec in shop.records]

    def visible_count(self) -> int:
        """How many orders have arrived by now (cheap, for large preloads)."""
        with self._state as shop:
            shop.catch_up()
            return len(shop.records)

    def order(self, order_id: int) -> dict[str, Any]:
        """One order as ``GET /orders/{id}.json`` would show it; KeyError if unknown."""
        with self._state as shop:
            shop.catch_up()
            return render_order(shop, shop.record(order_id))

    def fulfillments_for(self, order_id: int) -> list[dict[str, Any]]:
        """The fulfillments created on an order, oldest first."""
        with self._state as shop:
            return [dict(f) for f in shop.fulfillments.get(order_id, [])]

    def events_for(self, fulfillment_id: int) -> list[dict[str, Any]]:
        """The fulfillment events posted on a fulfillment, oldest first."""
        with self._state as shop:
            return [dict(e) for e in shop.events.get(fulfillment_id, [])]

    def stock(self) -> dict[str, int | None]:
        """SKU -> available at the shop's location, as ``push_stock`` set it (None: never set)."""
        return self.inventory.by_sku()

    def price_rules(self) -> list[dict[str, Any]]:
        """The price rules created (compensation discount codes), oldest first."""
        return self.discounts.price_rules()

    def discount_codes(self) -> list[dict[str, Any]]:
        """The discount codes created, oldest first."""
        return self.discounts.discount_codes()

    def refunds_for(self, order_id: int) -> list[dict[str, Any]]:
        """The refunds made on an order, oldest first."""
        return self.discounts.refunds_for(order_id)

    def add_order(
        self,
        lines: Sequence[Mapping[str, Any]] | None = None,
        *,
        email: str | None = None,
        note: str | None = None,
        tags: str | None = None,
        shipping_address: Mapping[str, Any] | None = None,
        malformed: str | None = None,
    ) -> dict[str, Any]:
        """Place one order now, as a test or demo wants it, and return it rendered.

        ``lines``: ``[{"sku": ..., "quantity": ...}]``; a SKU from the catalog takes its
        title, price and weight from there, any other line must give ``title`` and
        ``price`` (``grams``, ``requires_shipping`` optional; ``sku`` may be ""). Left
        out, the lines are drawn at random like any arrival. ``shipping_address``
        fields replace the generated ones. ``malformed`` names one of
        :data:`MALFORMATIONS` to break the payload that way.
        """
        if malformed is not None and malformed not in MALFORMATIONS:
            raise ValueError(f"malformed must be one of {MALFORMATIONS}, got {malformed!r}")
        changes = {
            key: value
            for key, value in (("email", email), ("note", note), ("tags", tags), ("shipping_address", shipping_address))
            if value is not None
        }
        with self._state as shop:
            explicit = tuple(shop.explicit_line(i, spec) for i, spec in enumerate(lines)) if lines is not None else None
            if explicit is not None and not 1 <= len(explicit) <= MAX_LINES:
                raise ValueError(f"an order needs 1 to {MAX_LINES} lines, got {len(explicit)}")
            rec = shop.place(explicit, changes or None, MALFORMATIONS.index(malformed) if malformed else -1)
            return render_order(shop, rec)

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The order webhooks Shopify would have sent since the last call, signed with the
        ``webhook_secret`` option (none without one): ``orders/create`` for a new order,
        ``orders/updated`` or ``orders/cancelled`` for a changed one."""
        if not self.webhook_secret:
            return []
        from .. import webhooks

        out: list[tuple[dict[str, str], bytes]] = []
        with self._state as shop:
            shop.catch_up()
            now = self.clock.now().isoformat()
            for rec in shop.records:
                order = render_order(shop, rec)
                updated = str(order.get("updated_at"))
                seen = self._announced.get(rec.id)
                if seen == updated:
                    continue
                topic = "orders/create" if seen is None else "orders/cancelled" if order.get("cancelled_at") \
                    else "orders/updated"
                self._announced[rec.id] = updated
                body = json.dumps(order).encode()
                out.append(({
                    "Content-Type": "application/json",
                    webhooks.TOPIC_HEADER: topic,
                    webhooks.SIGNATURE_HEADER: webhooks.sign(body, self.webhook_secret),
                    webhooks.WEBHOOK_ID_HEADER: hashlib.sha256(f"{rec.id}|{updated}|{topic}".encode()).hexdigest()[:36],
                    webhooks.TRIGGERED_AT_HEADER: now,
                }, body))
        return out

    def stop_arrivals(self) -> None:
        """No new orders from now on (orders already placed still get their updates)."""
        with self._state as shop:
            shop.stop_arrivals()

    def update_order(self, order_id: int, *, note: str | None = None, tags: str | None = None) -> dict[str, Any]:
        """Change an order's note and/or tags now (a new ``updated_at``); return it."""
        changes = {key: value for key, value in (("note", note), ("tags", tags)) if value is not None}
        with self._state as shop:
            return render_order(shop, shop.change(order_id, **changes))

    def cancel_order(self, order_id: int, reason: str = "customer") -> dict[str, Any]:
        """Cancel an order now (Shopify reasons: customer, fraud, inventory, declined, other)."""
        with self._state as shop:
            now = int(shop.now())
            return render_order(shop, shop.change(order_id, cancelled_at=now, cancel_reason=reason))

    # ------------------------------------------------------------------ HTTP

    def _endpoint(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler in Shopify's gatekeeping: API version, access token, call limit."""
        guarded = self._guard(self._limited(handler))

        async def endpoint(request: Request) -> Response:
            if not _API_VERSION.match(request.path_params["version"]):
                return JSONResponse({"errors": "Not Found"}, status_code=404)
            return await guarded(request)

        return endpoint

    def _limited(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            allowed, used, wait = self._bucket.take() if self.rate_limit else (True, 0, 0.0)
            limit_header = {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{BUCKET_SIZE}"} if self.rate_limit else {}
            if not allowed:
                return JSONResponse(
                    {"errors": THROTTLED}, status_code=429, headers={**limit_header, "Retry-After": f"{wait:.1f}"}
                )
            try:
                response = await handler(request)
            except Rejected as exc:
                response = exc.response()
            response.headers.update({**limit_header, "X-Shopify-API-Version": request.path_params["version"]})
            return response

        return endpoint

    async def _list_orders(self, request: Request) -> Response:
        query = request.query_params
        limit = _limit(query.get("limit"))
        fields = [f for f in query.get("fields", "").split(",") if f] or None
        if "page_info" in query:
            extra = [key for key in query if key not in ("page_info", "limit", "fields")]
            if extra:
                message = f"{extra[0]} cannot be passed when page_info is present. {PAGINATION_DOC}"
                raise _rejected(400, {extra[0]: message})
            token = _decode_token(query["page_info"])
            status, since, direction, anchor = token["status"], token["since"], token["direction"], tuple(token["key"])
        else:
            status = query.get("status", "open")
            if status not in ("open", "closed", "cancelled", "any"):
                raise _rejected(400, {"status": "Invalid value."})
            since = _since(query.get("updated_at_min"))
            direction, anchor = "next", None
        with self._state as shop:
            shop.catch_up()
            keys, prev_key, next_key = shop.page(status, since, direction, anchor, limit)
            orders = [render_order(shop, shop.records[seq]) for _, seq in keys]
        if fields is not None:
            orders = [{k: v for k, v in order.items() if k in fields} for order in orders]
        links = []
        base = f"{self.base_url}/admin/api/{request.path_params['version']}/orders.json"
        for rel, key, way in (("previous", prev_key, "prev"), ("next", next_key, "next")):
            if key is not None:
                token = _encode_token({"status": status, "since": since, "direction": way, "key": list(key)})
                links.append(f'<{base}?limit={limit}&page_info={token}>; rel="{rel}"')
        return JSONResponse({"orders": orders}, headers={"Link": ", ".join(links)} if links else None)

    async def _get_order(self, request: Request) -> Response:
        with self._state as shop:
            shop.catch_up()
            rec = self._known(shop, request.path_params["order_id"])
            return JSONResponse({"order": render_order(shop, rec)})

    async def _get_fulfillment_orders(self, request: Request) -> Response:
        with self._state as shop:
            shop.catch_up()
            rec = self._known(shop, request.path_params["order_id"])
            return JSONResponse({"fulfillment_orders": render_fulfillment_orders(shop, rec)})

    async def _get_fulfillments(self, request: Request) -> Response:
        with self._state as shop:
            shop.catch_up()
            rec = self._known(shop, request.path_params["order_id"])
            return JSONResponse({"fulfillments": list(shop.fulfillments.get(rec.id, []))})

    async def _create_fulfillment(self, request: Request) -> Response:
        body = await json_body(request, invalid=_INVALID_JSON)
        spec = body.get("fulfillment") if isinstance(body, dict) else None
        groups = spec.get("line_items_by_fulfillment_order") if isinstance(spec, dict) else None
        if not isinstance(groups, list) or not groups:
            raise _rejected(400, {"fulfillment": "Required parameter missing or invalid"})
        tracking = spec.get("tracking_info") or {}
        if not isinstance(tracking, dict):
            raise _rejected(400, {"fulfillment": "Required parameter missing or invalid"})
        with self._state as shop:
            shop.catch_up()
            rec, plan = self._plan_fulfillment(shop, groups)
            now = int(shop.now())
            fulfilled = shop.fulfil(rec, plan)
            lines = shop.lines(rec)
            fulfillment_id = shop.next_fulfillment_id()
            existing = shop.fulfillments.setdefault(rec.id, [])
            number, url = tracking.get("number"), tracking.get("url")
            fulfillment = {
                "id": fulfillment_id,
                "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
                "order_id": rec.id,
                "name": f"#{1001 + rec.seq}.{len(existing) + 1}",
                "status": "success",
                "service": "manual",
                "location_id": LOCATION_ID,
                "origin_address": None,
                "receipt": {},
                "created_at": iso(now),
                "updated_at": iso(now),
                "tracking_company": tracking.get("company"),
                "tracking_number": number,
                "tracking_numbers": [number] if number else [],
                "tracking_url": url,
                "tracking_urls": [url] if url else [],
                "shipment_status": None,
                "line_items": [
                    {**line_item(rec, i, lines[i], fulfilled[i]), "quantity": quantity}
                    for i, quantity in sorted(plan.items())
                ],
            }
            existing.append(fulfillment)
            shop.fulfillment_orders[fulfillment_id] = rec.id
            return JSONResponse({"fulfillment": fulfillment}, status_code=201)

    def _plan_fulfillment(self, shop: Shop, groups: list[Any]) -> tuple[Record, dict[int, int]]:
        """Check ``line_items_by_fulfillment_order`` against the order: (record, line index -> qty)."""
        rec: Record | None = None
        plan: dict[int, int] = {}
        for group in groups:
            fo_id = group.get("fulfillment_order_id") if isinstance(group, dict) else None
            seq = fo_id - FULFILLMENT_ORDER_ID_BASE if isinstance(fo_id, int) else -1
            if not 0 <= seq < len(shop.records) or not render_fulfillment_orders(shop, shop.records[seq]):
                raise _rejected(404, "Not Found")
            if rec is not None and rec.seq != seq:
                raise _rejected(422, ["All fulfillment orders must belong to the same order."])
            rec = shop.records[seq]
            (fo,) = render_fulfillment_orders(shop, rec)
            if fo["status"] not in ("open", "in_progress"):
                raise _rejected(422, [f"Fulfillment order {fo_id} has an unfulfillable status= {fo['status']}."])
            by_id = {li["id"]: li for li in fo["line_items"]}
            asked = group.get("fulfillment_order_line_items")
            if asked is None:  # the whole remaining fulfillment order
                asked = [{"id": li["id"], "quantity": li["fulfillable_quantity"]} for li in fo["line_items"]
                         if li["fulfillable_quantity"] > 0]
            if not isinstance(asked, list):
                raise _rejected(400, {"fulfillment": "Required parameter missing or invalid"})
            for item in asked:
                fo_line = by_id.get(item.get("id")) if isinstance(item, dict) else None
                quantity = item.get("quantity") if isinstance(item, dict) else None
                if fo_line is None:
                    raise _rejected(
                        422, [f"Fulfillment order line item {item} does not belong to fulfillment order {fo_id}."]
                    )
                index = (fo_line["id"] - FO_LINE_ITEM_ID_BASE) % MAX_LINES
                if (
                    isinstance(quantity, bool)
                    or not isinstance(quantity, int)
                    or quantity <= 0
                    or plan.get(index, 0) + quantity > fo_line["fulfillable_quantity"]
                ):
                    raise _rejected(422, ["Invalid fulfillment order line item quantity requested."])
                plan[index] = plan.get(index, 0) + quantity
        assert rec is not None  # groups is a non-empty list
        return rec, plan

    async def _events_endpoint(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        fulfillment_id = request.path_params["fulfillment_id"]
        body = await json_body(request, invalid=_INVALID_JSON) if request.method == "POST" else None
        with self._state as shop:
            shop.catch_up()
            self._known(shop, order_id)
            if shop.fulfillment_orders.get(fulfillment_id) != order_id:
                raise _rejected(404, "Not Found")
            events = shop.events.setdefault(fulfillment_id, [])
            if request.method == "GET":
                return JSONResponse({"fulfillment_events": list(events)})
            spec = body.get("event") if isinstance(body, dict) else None
            if not isinstance(spec, dict):
                raise _rejected(400, {"event": "Required parameter missing or invalid"})
            if spec.get("status") not in EVENT_STATUSES:
                raise _rejected(422, {"status": ["is not included in the list"]})
            now = iso(int(shop.now()))
            event_id = shop.next_event_id()
            event = {
                "id": event_id,
                "admin_graphql_api_id": f"gid://shopify/FulfillmentEvent/{event_id}",
                "fulfillment_id": fulfillment_id,
                "order_id": order_id,
                "shop_id": SHOP_ID,
                "status": spec["status"],
                "message": spec.get("message"),
                "happened_at": spec.get("happened_at") or now,
                "city": spec.get("city"),
                "province": spec.get("province"),
                "country": spec.get("country"),
                "zip": spec.get("zip"),
                "address1": spec.get("address1"),
                "latitude": spec.get("latitude"),
                "longitude": spec.get("longitude"),
                "estimated_delivery_at": spec.get("estimated_delivery_at"),
                "created_at": now,
                "updated_at": now,
            }
            events.append(event)
            for fulfillment in shop.fulfillments[order_id]:
                if fulfillment["id"] == fulfillment_id:
                    fulfillment["shipment_status"] = spec["status"]
                    fulfillment["updated_at"] = now
            return JSONResponse({"fulfillment_event": event}, status_code=201)

    def _known(self, shop: Shop, order_id: int) -> Record:
        try:
            return shop.record(order_id)
        except KeyError:
            raise _rejected(404, "Not Found") from None


# --------------------------------------------------------------------------- helpers


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise _rejected(400, {"updated_at_min": "Invalid value."}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_TZ)
    return math.ceil(moment.timestamp())


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    try:
        return max(1, min(MAX_PAGE, int(value)))
    except ValueError:
        raise _rejected(400, {"limit": "Invalid value."}) from None


def _encode_token(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (
            data["direction"] in ("next", "prev")
            and data["status"] in ("open", "closed", "cancelled", "any")
            and isinstance(data["since"], (int, type(None)))
            and len(data["key"]) == 2
            and all(isinstance(part, int) for part in data["key"])
        ):
            raise ValueError(data)
        return data
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _rejected(400, {"page_info": "Invalid value."}) from None


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"errors": "Not Found" if status == 404 else str(exc)}, status_code=status)
