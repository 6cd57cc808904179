"""The Shopify channel adapter: Admin REST API I/O through ``context.http``.

Orders are read incrementally by ``updated_at_min`` and paged with Shopify's cursor
links. Fulfillments and fulfillment events are posted at once on an effect's first
attempt; on a retry (or when the attempt is not known) the adapter first looks at what
the shop already has, because these REST calls take no idempotency key. Mapping is delegated to
:mod:`fulfilhub_shopify.mapping`; retries, timeouts and redaction to the core's
:class:`~fulfilhub.HttpClient`. The adapter adds one thing the client cannot know:
Shopify's leaky-bucket call limit, which it respects before it is exceeded.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx

from fulfilhub import (
    CompensationProposal,
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
from fulfilhub.sdk import header

from . import compensation, mapping, webhooks

log = logging.getLogger("fulfilhub_shopify")

DEFAULT_API_VERSION = "2024-10"
MAX_PAGE_SIZE = 250
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"

_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-z]+)"?')
_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@attrs.frozen(kw_only=True)
class Cursor:
    """Where ``fetch_orders`` is, saved by the runner as a JSON string.

    ``since`` is the ``updated_at_min`` of the current pass (None: everything).
    ``page_info`` is Shopify's token for the next page of that pass (None: the next
    call starts a new pass). ``pass_started`` is when the current pass began; the next
    pass starts ``overlap`` before it, so an order updated while the pages were being
    read is read again rather than missed.
    """

    since: datetime | None = None
    page_info: str | None = None
    pass_started: datetime | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "since": _iso(self.since),
                "page_info": self.page_info,
                "pass_started": _iso(self.pass_started),
            },
            sort_keys=True,
        )

    @classmethod
    def load(cls, text: str | None, *, service: str) -> Cursor:
        """Read a saved cursor; None is the very first pass."""
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data.get("page_info"), (str, type(None))):
                raise TypeError("page_info must be a string or null")
            cursor = cls(
                since=_parse_iso(data.get("since")),
                page_info=data.get("page_info"),
                pass_started=_parse_iso(data.get("pass_started")),
            )
        except (ValueError, TypeError, AttributeError):
            raise PermanentError(
                f"the saved cursor {text!r} is not one this adapter wrote "
                '(expected JSON like {"since": "2026-01-05T08:00:00+00:00", "page_info": null}); '
                "clear the channel's cursor to start over",
                service=service,
            ) from None
        if cursor.page_info is not None and cursor.pass_started is None:
            raise PermanentError(
                f"the saved cursor {text!r} has a page_info but no pass_started; "
                "clear the channel's cursor to start over",
                service=service,
            )
        return cursor


#: The settings of a ``type = "shopify"`` channel instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "shop": Setting(str, default=None, help='the myshopify.com subdomain, e.g. "acme"'),
    "base_url": Setting(str, default=None, help="the shop's base URL instead of shop (the sandbox gives one)"),
    "access_token": Setting(str, secret=True, help='the Admin API access token, e.g. "${SHOPIFY_ACCESS_TOKEN}"'),
    "api_version": Setting(str, default=DEFAULT_API_VERSION, help="the Admin REST API version"),
    "page_size": Setting(int, default=MAX_PAGE_SIZE, min=1, max=MAX_PAGE_SIZE, help="orders per page"),
    "overlap_seconds": Setting(float, default=300.0, min=0, help="how far back each pass re-reads"),
    "bucket_headroom": Setting(int, default=5, min=0, max=1_000, help="calls kept free in the leaky bucket"),
    "leak_rate": Setting(float, default=2.0, min=0, help="requests/second the bucket leaks (above 0)"),
    "notify_customer": Setting(bool, default=True, help="let Shopify email the customer on fulfillment"),
    "location_id": Setting(int, default=None, min=1, help="the location push_stock sets (default: the first active)"),
    "webhook_secret": Setting(
        str, default=None, secret=True,
        help='the app\'s client secret, to verify webhooks, e.g. "${SHOPIFY_WEBHOOK_SECRET}"',
    ),
}


class ShopifyChannel:
    """A Shopify shop as a fulfilhub channel (see the package README for settings).

    It also takes Shopify's order webhooks (:class:`fulfilhub.WebhookReceiver`).
    """

    def __init__(self, context: InstanceContext):
        self.context = context
        base_url, shop = context.setting("base_url"), context.setting("shop")
        if base_url is not None:
            base_url = base_url.rstrip("/")
        elif shop is not None:
            shop = shop.strip().removeprefix("https://").rstrip("/")
            base_url = f"https://{shop if '.' in shop else shop + '.myshopify.com'}"
        else:
            raise ConfigError(
                "set shop (the myshopify.com subdomain, e.g. \"acme\") or base_url", key=context.key("shop")
            )
        self.base_url = base_url
        self.api_version: str = context.setting("api_version")
        self.page_size: int = context.setting("page_size")
        self.overlap = timedelta(seconds=context.setting("overlap_seconds"))
        self.bucket_headroom: int = context.setting("bucket_headroom")
        self.leak_rate: float = context.setting("leak_rate")
        if self.leak_rate <= 0:
            raise ConfigError(
                f"leak_rate must be above 0 requests/second, got {self.leak_rate}", key=context.key("leak_rate")
            )
        self.notify_customer: bool = context.setting("notify_customer")
        self.webhook_secret: str | None = context.setting("webhook_secret")
        headers = {
            "X-Shopify-Access-Token": context.setting("access_token"),
            "Accept": "application/json",
        }
        # Creating a fulfillment or an event is not idempotent: the core's client resends
        # a POST only on 429 or when it never connected; after a timeout or a 5xx the
        # outbox retries later, and looking before acting finds the first one.
        self._http: HttpClient = context.http(base_url, headers=headers, on_response=self._observe_call_limit)
        self._wait_due = 0.0
        self._wait_observed_at: datetime | None = None
        self.location_id: int | None = context.setting("location_id")
        self._inventory_items: dict[str, int] = {}

    # ------------------------------------------------------------------ orders

    def fetch_orders(self, cursor: str | None) -> OrderPage:
        """One page of orders updated since the cursor's pass began (see :class:`Cursor`)."""
        state = Cursor.load(cursor, service=self.context.name)
        if state.page_info is None:
            pass_started = self.context.clock.now().replace(microsecond=0)
            params: dict[str, Any] = {"status": "any", "limit": self.page_size}
            if state.since is not None:
                params["updated_at_min"] = _iso(state.since)
        else:
            pass_started = state.pass_started
            # Shopify refuses any filter beside limit/fields next to page_info: the
            # token already carries the first request's filters.
            params = {"page_info": state.page_info, "limit": self.page_size}
        response = self._get("orders.json", params=params)
        orders = self._http.json(response, "orders", list)
        next_page = _next_page_info(response.headers.get("Link"))
        if next_page is not None:
            following = Cursor(since=state.since, page_info=next_page, pass_started=pass_started)
        else:
            following = Cursor(since=pass_started - self.overlap)
        return OrderPage(payloads=orders, next_cursor=following.dump(), has_more=next_page is not None)

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        return mapping.parse_order(payload, channel=self.context.name)

    # ------------------------------------------------------------------ fulfillments

    def push_fulfillment(self, order: Order, shipment: ShipmentPush, key: str, *, attempt: int | None = None) -> str:
        """Create the shipment's fulfillment; on a retry, only unless one with its tracking number exists.

        ``attempt == 1``: no earlier try of this effect can have reached Shopify, so the
        fulfillment is created at once. Otherwise (a later attempt, or not known) an
        earlier POST may have landed with its answer lost: the order's fulfillments are
        read first and one carrying the tracking number is returned instead of a second.
        """
        if attempt != 1:
            existing = self._find_fulfillment(order, shipment)
            if existing is not None:
                log.info(
                    "%s: order %s already has fulfillment %s with tracking %s; not creating another (key %s)",
                    self.context.name, order.number, existing.get("id"), shipment.tracking_code, key,
                )
                return str(existing["id"])
        fulfillment_orders = self._http.json(
            self._get(f"orders/{order.external_id}/fulfillment_orders.json"), "fulfillment_orders", list
        )
        try:
            wanted = mapping.shipment_line_items(shipment, order.lines)
            by_fulfillment_order = mapping.line_items_by_fulfillment_order(wanted, fulfillment_orders)
        except PayloadError as exc:
            raise self._unexpected(f"orders/{order.external_id}/fulfillment_orders.json", exc) from None
        except mapping.UnfulfillableShipment as exc:
            raise PermanentError(
                f"cannot fulfil shipment {shipment.shipment_id} of order {order.number} "
                f"(Shopify id {order.external_id}): {exc}",
                service=self.context.name,
            ) from None
        body = mapping.fulfillment_body(shipment, by_fulfillment_order, notify_customer=self.notify_customer)
        response = self._post("fulfillments.json", body)
        created = self._http.json(response, "fulfillment", dict)
        if not isinstance(created.get("id"), (int, str)) or isinstance(created.get("id"), bool) or created["id"] == "":
            raise TransientError(
                f"POST {self._path('fulfillments.json')} answered without a fulfillment id; "
                "the next attempt will look for it by tracking number",
                service=self.context.name,
            )
        return str(created["id"])

    def push_tracking(
        self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str, *, attempt: int | None = None
    ) -> None:
        """Post the fulfillment event for ``status`` once; milestones Shopify lacks are skipped.

        ``attempt == 1`` posts at once; a later (or unknown) attempt first reads the
        fulfillment's events and posts nothing when Shopify already has this status.
        """
        event_status = mapping.FULFILLMENT_EVENT_STATUS.get(status)
        if event_status is None:
            return
        fulfillment_id = shipment.fulfillment_ref or self._fulfillment_id_by_tracking(order, shipment)
        path = f"orders/{order.external_id}/fulfillments/{fulfillment_id}/events.json"
        if attempt != 1:
            events = self._http.json(self._get(path), "fulfillment_events", list)
            if any(isinstance(e, Mapping) and e.get("status") == event_status for e in events):
                log.info(
                    "%s: fulfillment %s of order %s already has a %s event; not posting another (key %s)",
                    self.context.name, fulfillment_id, order.number, event_status, key,
                )
                return
        self._http.json(self._post(path, {"event": {"status": event_status}}), "fulfillment_event", dict)

    def issue_compensation(
        self, order: Order, grant: CompensationProposal, key: str, *, attempt: int | None = None
    ) -> tuple[str, str] | None:
        """A discount code or a refund for a delay, once per key (see :mod:`.compensation`)."""
        return compensation.issue(self, order, grant, key, attempt)

    def push_stock(self, levels: Mapping[str, int], key: str, *, attempt: int | None = None) -> list[str]:
        """Set each SKU's available quantity at the location (``POST /inventory_levels/set.json``, one a SKU).

        SKUs are found among the products' variants (``GET /products.json``, read again
        when a SKU is not known yet); a SKU no variant carries is returned. Setting a
        quantity again is harmless. The REST API has no batch for this: each call goes
        through the call-limit bucket like any other.
        """
        if any(sku not in self._inventory_items for sku in levels):
            self._inventory_items = self._read_inventory_items()
        location = self.location_id or self._active_location()
        for sku, available in sorted(levels.items()):
            item = self._inventory_items.get(sku)
            if item is not None:
                body = mapping.inventory_level_body(location, item, available)
                self._http.json(self._post("inventory_levels/set.json", body), "inventory_level", dict)
        return sorted(sku for sku in levels if sku not in self._inventory_items)

    def _read_inventory_items(self) -> dict[str, int]:
        found: dict[str, int] = {}
        params: dict[str, Any] = {"fields": "id,variants", "limit": MAX_PAGE_SIZE}
        while True:
            response = self._get("products.json", params=params)
            try:
                found.update(mapping.inventory_items(self._http.json(response, "products", list)))
            except PayloadError as exc:
                raise self._unexpected("products.json", exc) from None
            page_info = _next_page_info(response.headers.get("Link"))
            if page_info is None:
                return found
            params = {"page_info": page_info, "limit": MAX_PAGE_SIZE}

    def _active_location(self) -> int:
        try:
            self.location_id = mapping.active_location(
                self._http.json(self._get("locations.json"), "locations", list))
        except PayloadError as exc:
            raise self._unexpected("locations.json", exc) from None
        return self.location_id

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when ``body`` carries a valid ``X-Shopify-Hmac-Sha256`` for ``webhook_secret``."""
        if not self.webhook_secret:
            raise ConfigError(
                "webhook_secret is not set, so Shopify webhooks cannot be verified; set it to the app's "
                'client secret, e.g. webhook_secret = "${SHOPIFY_WEBHOOK_SECRET}"',
                key=self.context.key("webhook_secret"),
            )
        return webhooks.verify_signature(body, self.webhook_secret, header(headers, webhooks.SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Order | None:
        """The order an ``orders/create|updated|cancelled`` webhook carries; None for other topics."""
        payload = webhooks.order_payload(headers, body)
        return None if payload is None else self.parse_order(payload)

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """``X-Shopify-Webhook-Id`` and ``X-Shopify-Triggered-At`` (unsigned)."""
        return webhooks.delivery(headers)

    # ------------------------------------------------------------------ internals

    def _fulfillments(self, order_id: str) -> list[Any]:
        return self._http.json(self._get(f"orders/{order_id}/fulfillments.json"), "fulfillments", list)

    def _find_fulfillment(self, order: Order, shipment: ShipmentPush) -> Mapping[str, Any] | None:
        resource = f"orders/{order.external_id}/fulfillments.json"
        try:
            return mapping.find_fulfillment(self._fulfillments(order.external_id), shipment.tracking_code)
        except PayloadError as exc:
            raise self._unexpected(resource, exc) from None

    def _unexpected(self, resource: str, exc: PayloadError) -> TransientError:
        """Shopify answered 2xx with a body of the wrong shape: most likely a bad moment
        on its side (or a proxy's); the effect is tried again later, saying what was wrong."""
        return TransientError(
            f"GET {self._path(resource)} answered with a body fulfilhub cannot read ({exc}); will try again later",
            service=self.context.name,
        )

    def _fulfillment_id_by_tracking(self, order: Order, shipment: ShipmentPush) -> str:
        found = self._find_fulfillment(order, shipment)
        if found is None:
            raise TransientError(
                f"order {order.number} (Shopify id {order.external_id}) has no fulfillment with tracking "
                f"number {shipment.tracking_code!r} yet, so its tracking cannot be posted; "
                "push_fulfillment must succeed first",
                service=self.context.name,
            )
        return str(found["id"])

    def _path(self, resource: str) -> str:
        return f"/admin/api/{self.api_version}/{resource}"

    def _get(self, resource: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        self._throttle()
        return self._http.get(self._path(resource), params=params)

    def _post(self, resource: str, body: Mapping[str, Any]) -> httpx.Response:
        self._throttle()
        return self._http.post(self._path(resource), json=body)

    def _observe_call_limit(self, response: httpx.Response) -> None:
        """Note how full Shopify's leaky bucket is, from ``X-Shopify-Shop-Api-Call-Limit``.

        When ``used >= size - headroom`` the next call waits until the bucket has leaked
        back below that line, instead of running into a 429.
        """
        match = _CALL_LIMIT.match(response.headers.get(CALL_LIMIT_HEADER, ""))
        if match is None:
            return
        used, size = int(match.group(1)), int(match.group(2))
        threshold = size - self.bucket_headroom
        if used >= threshold:
            self._wait_due = (used - threshold + 1) / self.leak_rate
            self._wait_observed_at = self.context.clock.now()
        else:
            self._wait_due = 0.0

    def _throttle(self) -> None:
        if self._wait_due <= 0 or self._wait_observed_at is None:
            return
        elapsed = (self.context.clock.now() - self._wait_observed_at).total_seconds()
        wait = self._wait_due - elapsed
        self._wait_due = 0.0
        if wait > 0:
            log.debug("%s: Shopify call bucket nearly full; waiting %.2fs", self.context.name, wait)
            self.context.clock.sleep(wait)

def _next_page_info(link_header: str | None) -> str | None:
    """The ``page_info`` of the ``rel="next"`` link in a Shopify ``Link`` header, if any.

    ``<https://acme.myshopify.com/admin/api/2024-10/orders.json?limit=250&page_info=abc>;
    rel="next"``. Only the token is kept: the next request is built against the
    configured base URL, which need not be the host Shopify names.
    """
    for url, rel in _LINK.findall(link_header or ""):
        if rel == "next":
            values = parse_qs(urlsplit(url).query).get("page_info")
            if values:
                return values[0]
    return None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_iso(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"naive timestamp {text!r}")
    return moment
