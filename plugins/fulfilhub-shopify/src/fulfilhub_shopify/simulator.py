"""A local Shopify Admin REST API for ``fulfilhub sandbox``, on the scenario clock.

Orders arrive over scenario time (a Poisson stream of ``orders_per_day``), some are
updated again later, a chosen fraction is broken the way real payloads break. Orders
are listed as Shopify lists them — filtered by ``updated_at_min``, paged with opaque
``page_info`` tokens in a ``Link`` header — behind Shopify's leaky-bucket call limit
and access-token check. Fulfillment orders, fulfillments and fulfillment events behave
enough like Shopify's to exercise an adapter's look-before-acting.

Orders are kept as compact records (ids, times, a per-order random seed) and rendered
to JSON only when asked for, so a preload of 100,000 orders stays light. The app is
served from uvicorn's thread while tests read the state from theirs: every access
holds one lock.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import json
import math
import random
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub import ConfigError

# --------------------------------------------------------------------------- the shop

SHOP_ID = 63_512_345_678
LOCATION_ID = 68_012_345_678
SHOP_TZ = timezone(timedelta(hours=-5))  # Shopify renders times in the shop's zone
CURRENCY = "USD"
TAX_RATE = Decimal("0.08")
SHIPPING_PRICE = Decimal("6.90")
FREE_SHIPPING_FROM = Decimal("100.00")
MAX_LINES = 10  # line ids are derived as <order seq> * 10 + <line index>

ORDER_ID_BASE = 5_912_000_000_000
LINE_ITEM_ID_BASE = 14_250_000_000_000
FULFILLMENT_ORDER_ID_BASE = 6_430_000_000_000
FO_LINE_ITEM_ID_BASE = 15_370_000_000_000
FULFILLMENT_ID_BASE = 5_120_000_000_000
EVENT_ID_BASE = 27_400_000_000_000
CUSTOMER_ID_BASE = 7_230_000_000_000
PRODUCT_ID_BASE = 8_140_000_000_000
VARIANT_ID_BASE = 44_310_000_000_000
INVENTORY_ITEM_ID_BASE = 46_200_000_000_000

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

#: The ways a generated payload is broken when ``malformed_rate`` picks it. The body
#: stays valid JSON: these are the data errors an integration meets, not transport ones.
MALFORMATIONS = ("quantity_word", "missing_updated_at", "price_comma")

DEFAULT_CATALOG: tuple[Mapping[str, Any], ...] = (
    {"sku": "TEE-ORG-S", "title": "Organic Cotton Tee - S", "price": "24.00", "grams": 180},
    {"sku": "TEE-ORG-M", "title": "Organic Cotton Tee - M", "price": "24.00", "grams": 190},
    {"sku": "TEE-ORG-L", "title": "Organic Cotton Tee - L", "price": "24.00", "grams": 200},
    {"sku": "HOOD-FLC-M", "title": "Fleece Hoodie - M", "price": "59.00", "grams": 520},
    {"sku": "HOOD-FLC-L", "title": "Fleece Hoodie - L", "price": "59.00", "grams": 540},
    {"sku": "CAP-CAN-OS", "title": "Canvas Cap", "price": "19.50", "grams": 90},
    {"sku": "SOCK-MER-3P", "title": "Merino Socks (3 pairs)", "price": "27.00", "grams": 150},
    {"sku": "BOT-STL-750", "title": "Steel Bottle 750 ml", "price": "32.00", "grams": 410},
    {"sku": "MUG-ENM-350", "title": "Enamel Mug", "price": "16.00", "grams": 260},
    {"sku": "BAG-TOT-NAT", "title": "Canvas Tote", "price": "22.00", "grams": 230},
    {"sku": "PACK-DAY-20", "title": "Day Pack 20 L", "price": "89.00", "grams": 780},
    {"sku": "LAMP-HD-300", "title": "Head Lamp 300 lm", "price": "39.90", "grams": 95},
    {"sku": "KNIFE-FLD-8", "title": "Folding Knife", "price": "45.00", "grams": 120},
    {"sku": "TARP-UL-3X3", "title": "Ultralight Tarp 3x3 m", "price": "129.00", "grams": 640},
    {"sku": "STOVE-GAS-1", "title": "Gas Stove", "price": "54.00", "grams": 310},
    {"sku": "CUP-TI-450", "title": "Titanium Cup", "price": "34.00", "grams": 75},
    {"sku": "GLOVE-WL-M", "title": "Wool Gloves - M", "price": "29.00", "grams": 110},
    {"sku": "BEAN-RIB-OS", "title": "Ribbed Beanie", "price": "21.00", "grams": 85},
    {"sku": "MAP-TOPO-NW", "title": "Topographic Map, North West", "price": "12.00", "grams": 60},
    {"sku": "BAL-LIP-SPF", "title": "Lip Balm SPF 15", "price": "4.50", "grams": 15},
)

_FIRST = ("Ava", "Liam", "Mei", "Noah", "Sofia", "Ethan", "Yuki", "Omar", "Chloe", "Lucas", "Priya", "Mateo")
_LAST = ("Chen", "Smith", "Garcia", "Okafor", "Müller", "Lin", "Rossi", "Nguyen", "Kowalski", "Brown", "Wang")
_STREETS = ("Main St", "Oak Ave", "Pine Rd", "Elm St", "Maple Dr", "Cedar Ln", "Lake View Blvd", "2nd Ave")
#: city, province, province_code, zip, country, country_code
_PLACES = (
    ("Brooklyn", "New York", "NY", "11201", "United States", "US"),
    ("Austin", "Texas", "TX", "78701", "United States", "US"),
    ("Portland", "Oregon", "OR", "97205", "United States", "US"),
    ("Chicago", "Illinois", "IL", "60607", "United States", "US"),
    ("Denver", "Colorado", "CO", "80202", "United States", "US"),
    ("Seattle", "Washington", "WA", "98101", "United States", "US"),
    ("Boston", "Massachusetts", "MA", "02116", "United States", "US"),
    ("Toronto", "Ontario", "ON", "M5V 2T6", "Canada", "CA"),
    ("Vancouver", "British Columbia", "BC", "V6B 1A1", "Canada", "CA"),
    ("London", None, None, "EC1A 1BB", "United Kingdom", "GB"),
    ("Taipei City", None, None, "110", "Taiwan", "TW"),
)
_UPDATE_NOTES = (
    "Please leave the parcel with the concierge.",
    "Gift - please do not include the invoice.",
    "Customer called: ring the bell twice.",
)
_UPDATE_TAGS = ("gift", "vip", "address-checked")
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

OPTION_DEFAULTS: Mapping[str, Any] = {
    "orders_per_day": 100,
    "malformed_rate": 0.0,
    "update_rate": 0.05,
    "catalog": None,
    "preload": 0,
    "rate_limit": True,
    "access_token": None,
}

_API_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")


@attrs.frozen
class _Line:
    """One line item as the shop sold it (prices are decimal strings, as Shopify sends)."""

    sku: str
    title: str
    price: str
    grams: int
    requires_shipping: bool
    quantity: int
    catalog_index: int  # -1 for a custom line item (no product or variant)

    def times(self, quantity: Any) -> _Line:
        """This catalog line sold ``quantity`` times (cheaper than ``attrs.evolve``)."""
        return _Line(self.sku, self.title, self.price, self.grams, self.requires_shipping, quantity, self.catalog_index)


@attrs.define(slots=True, eq=False)
class _Record:
    """One order, compactly: everything else is derived from ``seed`` when rendered."""

    seq: int
    created: int  # epoch seconds
    updated: int
    seed: int
    malformed: int = -1  # index into MALFORMATIONS
    lines: tuple[_Line, ...] | None = None  # set for injected orders; else from seed
    changes: dict[str, Any] | None = None  # note, tags, email, address, cancellation
    fulfilled: dict[int, int] | None = None  # line index -> quantity fulfilled

    @property
    def id(self) -> int:
        return ORDER_ID_BASE + self.seq

    @property
    def cancelled(self) -> bool:
        return bool(self.changes and self.changes.get("cancelled_at") is not None)


class _Rejected(Exception):
    """A request Shopify would refuse: becomes a JSON error response."""

    def __init__(self, status: int, errors: Any):
        super().__init__(errors)
        self.status = status
        self.errors = errors


class ShopifySimulator:
    """The simulated shop. ``app`` is the ASGI app the sandbox mounts at ``/shopify``.

    Options (``context.options_for("shopify")``): ``orders_per_day`` (100),
    ``malformed_rate`` (0.0), ``update_rate`` (0.05), ``catalog`` (list of
    ``{sku, title, price, grams[, requires_shipping]}``; 20 SKUs by default),
    ``preload`` (0 orders created over the two days before now), ``rate_limit``
    (True: bucket of 40 leaking 2 calls/s) and ``access_token`` (None: any token).
    Everything is deterministic from ``context.seed`` and the scenario clock.
    """

    def __init__(self, context: Any):
        self.context = context
        self.clock = context.clock
        options = dict(context.options_for("shopify"))
        unknown = sorted(set(options) - set(OPTION_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"unknown shopify simulator option(s) {', '.join(unknown)}; known: {', '.join(OPTION_DEFAULTS)}",
                key="sandbox.shopify",
            )
        opts = {**OPTION_DEFAULTS, **options}
        self.orders_per_day = _number_option(opts, "orders_per_day", 0, math.inf)
        self.malformed_rate = _number_option(opts, "malformed_rate", 0, 1)
        self.update_rate = _number_option(opts, "update_rate", 0, 1)
        self.access_token: str | None = opts["access_token"]
        self._catalog = _catalog(opts["catalog"] if opts["catalog"] is not None else DEFAULT_CATALOG)
        self._lock = threading.Lock()
        self._rng = random.Random(context.seed)  # the arrival stream
        self._injected_rng = random.Random(f"{context.seed}:injected")  # add_order, kept apart
        self._records: list[_Record] = []
        self._keys: list[tuple[int, int]] = []  # (updated, seq), kept sorted
        self._updates: list[tuple[float, int]] = []  # heap of (when, seq)
        self._fulfillments: dict[int, list[dict[str, Any]]] = {}  # order id -> fulfillments
        self._fulfillment_orders: dict[int, int] = {}  # fulfillment id -> order id
        self._events: dict[int, list[dict[str, Any]]] = {}  # fulfillment id -> events
        self._next_fulfillment = FULFILLMENT_ID_BASE + 1
        self._next_event = EVENT_ID_BASE + 1
        self._bucket_level = 0.0
        self._bucket_at = self.clock.now()
        self.rate_limit = bool(opts["rate_limit"])
        #: How many requests the call limit refused with 429 (faults not counted).
        self.throttled = 0
        now = self._now()
        preload = opts["preload"]
        if isinstance(preload, bool) or not isinstance(preload, int) or preload < 0:
            raise ConfigError(f"preload must be a whole number of orders, got {preload!r}", key="sandbox.shopify")
        self._preload(preload, now)
        rate = self.orders_per_day / 86_400
        self._arrival_rate = rate
        self._next_arrival = now + self._rng.expovariate(rate) if rate > 0 else math.inf
        api = "/admin/api/{version}"
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
            ],
            exception_handlers={HTTPException: _http_error},
        )

    # ------------------------------------------------------------------ accessors (tests, demo)

    @property
    def catalog(self) -> tuple[Mapping[str, Any], ...]:
        """The SKUs orders are drawn from, as ``{sku, title, price, grams, requires_shipping}``."""
        return tuple(
            {
                "sku": line.sku,
                "title": line.title,
                "price": line.price,
                "grams": line.grams,
                "requires_shipping": line.requires_shipping,
            }
            for line in self._catalog
        )

    def orders_visible(self) -> list[dict[str, Any]]:
        """Every order that has arrived by the scenario clock's now, rendered, oldest id first."""
        with self._lock:
            self._catch_up()
            return [self._render_order(rec) for rec in self._records]

    def visible_count(self) -> int:
        """How many orders have arrived by now (cheap, for large preloads)."""
        with self._lock:
            self._catch_up()
            return len(self._records)

    def order(self, order_id: int) -> dict[str, Any]:
        """One order as ``GET /orders/{id}.json`` would show it; KeyError if unknown."""
        with self._lock:
            self._catch_up()
            return self._render_order(self._record(order_id))

    def fulfillments_for(self, order_id: int) -> list[dict[str, Any]]:
        """The fulfillments created on an order, oldest first."""
        with self._lock:
            return [dict(f) for f in self._fulfillments.get(order_id, [])]

    def events_for(self, fulfillment_id: int) -> list[dict[str, Any]]:
        """The fulfillment events posted on a fulfillment, oldest first."""
        with self._lock:
            return [dict(e) for e in self._events.get(fulfillment_id, [])]

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
        explicit = tuple(self._explicit_line(i, spec) for i, spec in enumerate(lines)) if lines is not None else None
        if explicit is not None and not 1 <= len(explicit) <= MAX_LINES:
            raise ValueError(f"an order needs 1 to {MAX_LINES} lines, got {len(explicit)}")
        if malformed is not None and malformed not in MALFORMATIONS:
            raise ValueError(f"malformed must be one of {MALFORMATIONS}, got {malformed!r}")
        changes = {
            key: value
            for key, value in (("email", email), ("note", note), ("tags", tags), ("shipping_address", shipping_address))
            if value is not None
        }
        with self._lock:
            self._catch_up()
            now = int(self._now())
            rec = _Record(
                seq=len(self._records),
                created=now,
                updated=now,
                seed=self._injected_rng.getrandbits(32),
                malformed=MALFORMATIONS.index(malformed) if malformed else -1,
                lines=explicit,
                changes=changes or None,
            )
            self._store(rec)
            return self._render_order(rec)

    def stop_arrivals(self) -> None:
        """No new orders from now on (orders already placed still get their updates)."""
        with self._lock:
            self._catch_up()
            self._next_arrival = math.inf

    def update_order(self, order_id: int, *, note: str | None = None, tags: str | None = None) -> dict[str, Any]:
        """Change an order's note and/or tags now (a new ``updated_at``); return it."""
        with self._lock:
            self._catch_up()
            rec = self._record(order_id)
            changes = rec.changes if rec.changes is not None else {}
            if note is not None:
                changes["note"] = note
            if tags is not None:
                changes["tags"] = tags
            rec.changes = changes
            self._touch(rec, int(self._now()))
            return self._render_order(rec)

    def cancel_order(self, order_id: int, reason: str = "customer") -> dict[str, Any]:
        """Cancel an order now (Shopify reasons: customer, fraud, inventory, declined, other)."""
        with self._lock:
            self._catch_up()
            rec = self._record(order_id)
            now = int(self._now())
            rec.changes = {**(rec.changes or {}), "cancelled_at": now, "cancel_reason": reason}
            self._touch(rec, now)
            return self._render_order(rec)

    # ------------------------------------------------------------------ arrivals over scenario time

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _preload(self, count: int, now: float) -> None:
        """``count`` orders created over the two days before ``now``, some updated since."""
        start = now - 2 * 86_400
        created = sorted(self._rng.uniform(start, now) for _ in range(count))
        for when in created:
            rec, update_at = self._draw(when)
            if update_at is not None and update_at <= now:
                self._apply_update(rec, update_at)
            self._records.append(rec)
            self._keys.append((rec.updated, rec.seq))
            if update_at is not None and update_at > now:
                heapq.heappush(self._updates, (update_at, rec.seq))
        self._keys.sort()

    def _draw(self, when: float) -> tuple[_Record, float | None]:
        """A new order arriving at ``when``, and when it will be updated (if it will).

        Every arrival takes the same number of draws from the scenario's random stream,
        whatever the rates, so one seed gives one history.
        """
        rng = self._rng
        seed = rng.getrandbits(32)
        broken = rng.random() < self.malformed_rate
        kind = rng.randrange(len(MALFORMATIONS))
        updated = rng.random() < self.update_rate
        delay = rng.uniform(600, 86_400)
        stamp = int(when)
        rec = _Record(seq=len(self._records), created=stamp, updated=stamp, seed=seed, malformed=kind if broken else -1)
        return rec, (when + delay if updated else None)

    def _catch_up(self) -> None:
        """Let every arrival and update due by the scenario clock's now happen (lock held)."""
        now = self._now()
        while self._next_arrival <= now:
            rec, update_at = self._draw(self._next_arrival)
            self._store(rec)
            if update_at is not None:
                heapq.heappush(self._updates, (update_at, rec.seq))
            self._next_arrival += self._rng.expovariate(self._arrival_rate)
        while self._updates and self._updates[0][0] <= now:
            when, seq = heapq.heappop(self._updates)
            rec = self._records[seq]
            old_key = (rec.updated, rec.seq)
            self._apply_update(rec, when)
            self._rekey(old_key, rec)

    def _apply_update(self, rec: _Record, when: float) -> None:
        """A later change by the merchant: a note or a tag, and a new ``updated_at``."""
        pick = random.Random(rec.seed ^ 0x5EED)
        changes = rec.changes if rec.changes is not None else {}
        if pick.random() < 0.5:
            changes["note"] = pick.choice(_UPDATE_NOTES)
        else:
            changes["tags"] = pick.choice(_UPDATE_TAGS)
        rec.changes = changes
        rec.updated = max(rec.updated, int(when))

    def _store(self, rec: _Record) -> None:
        self._records.append(rec)
        bisect.insort(self._keys, (rec.updated, rec.seq))

    def _touch(self, rec: _Record, now: int) -> None:
        old_key = (rec.updated, rec.seq)
        rec.updated = max(rec.updated, now)
        self._rekey(old_key, rec)

    def _rekey(self, old_key: tuple[int, int], rec: _Record) -> None:
        index = bisect.bisect_left(self._keys, old_key)
        del self._keys[index]
        bisect.insort(self._keys, (rec.updated, rec.seq))

    def _record(self, order_id: int) -> _Record:
        seq = order_id - ORDER_ID_BASE
        if not 0 <= seq < len(self._records):
            raise KeyError(f"no order {order_id} in the simulated shop")
        return self._records[seq]

    # ------------------------------------------------------------------ rendering

    def _lines(self, rec: _Record) -> tuple[_Line, ...]:
        return self._content(rec)[0]

    def _content(self, rec: _Record) -> tuple[tuple[_Line, ...], dict[str, Any]]:
        """The order's lines and buyer, drawn from its seed (one generator: rendering is hot)."""
        rng = random.Random(rec.seed)
        lines = rec.lines
        if lines is None:
            draw = rng.random()
            count = min(1 if draw < 0.6 else 2 if draw < 0.9 else 3, len(self._catalog))
            lines = tuple(
                self._catalog[i].times(_small_quantity(rng.random()))
                for i in rng.sample(range(len(self._catalog)), count)
            )
        number = rng.randrange(5_000)
        who = {
            "number": number,
            "first": _FIRST[number % len(_FIRST)],
            "last": _LAST[(number // len(_FIRST)) % len(_LAST)],
            "place": _PLACES[rng.randrange(len(_PLACES))],
            "street": f"{rng.randrange(1, 999)} {_STREETS[rng.randrange(len(_STREETS))]}",
            "phone": f"+1555{rng.randrange(1_000_000, 9_999_999)}",
        }
        return lines, who

    def _explicit_line(self, index: int, spec: Mapping[str, Any]) -> _Line:
        sku = str(spec.get("sku") or "")
        known = next((c for c in self._catalog if sku and c.sku == sku), None)
        quantity = spec.get("quantity", 1)
        if known is not None:
            line = known.times(quantity)
        elif "price" in spec and "title" in spec:
            line = _Line(
                sku=sku,
                title=str(spec["title"]),
                price=_price(spec["price"], f"lines[{index}].price"),
                grams=int(spec.get("grams", 0)),
                requires_shipping=bool(spec.get("requires_shipping", True)),
                quantity=quantity,
                catalog_index=-1,
            )
        else:
            raise ValueError(f"lines[{index}]: SKU {sku!r} is not in the catalog; give its title and price")
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity <= 0:
            raise ValueError(f"lines[{index}].quantity must be a positive whole number, got {quantity!r}")
        return line

    def _render_order(self, rec: _Record) -> dict[str, Any]:
        """The order as ``GET /admin/api/{v}/orders.json`` shows it."""
        lines, who = self._content(rec)
        changes = rec.changes or {}
        order_id = rec.id
        number = 1001 + rec.seq
        created = _iso(rec.created)
        updated = _iso(rec.updated)
        email = changes.get("email", f"{who['first']}.{who['last']}{who['number']}@example.com".lower())
        city, province, province_code, zip_code, country, country_code = who["place"]
        address = {
            "first_name": who["first"],
            "last_name": who["last"],
            "name": f"{who['first']} {who['last']}",
            "company": None,
            "address1": who["street"],
            "address2": "",
            "city": city,
            "province": province,
            "province_code": province_code,
            "zip": zip_code,
            "country": country,
            "country_code": country_code,
            "phone": who["phone"],
            "latitude": None,
            "longitude": None,
        }
        address.update(changes.get("shipping_address", {}))
        fulfilled = rec.fulfilled or {}
        subtotal = sum((Decimal(line.price) * line.quantity for line in lines), Decimal("0"))
        shipping = Decimal("0.00") if subtotal >= FREE_SHIPPING_FROM else SHIPPING_PRICE
        tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"))
        shipped_units = sum(fulfilled.values())
        shippable_units = sum(line.quantity for line in lines if line.requires_shipping)
        customer_id = CUSTOMER_ID_BASE + who["number"]
        order: dict[str, Any] = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "number": number - 1000,
            "email": email,
            "contact_email": email,
            "phone": None,
            "created_at": created,
            "updated_at": updated,
            "processed_at": created,
            "closed_at": None,
            "cancelled_at": _iso(changes["cancelled_at"]) if rec.cancelled else None,
            "cancel_reason": changes.get("cancel_reason"),
            "currency": CURRENCY,
            "presentment_currency": CURRENCY,
            "subtotal_price": f"{subtotal:.2f}",
            "total_line_items_price": f"{subtotal:.2f}",
            "total_discounts": "0.00",
            "total_tax": f"{tax:.2f}",
            "taxes_included": False,
            "total_price": f"{subtotal + shipping + tax:.2f}",
            "total_weight": sum(line.grams * line.quantity for line in lines),
            "financial_status": "refunded" if rec.cancelled else "paid",
            "fulfillment_status": (
                None if shipped_units == 0 else "fulfilled" if shipped_units >= shippable_units else "partial"
            ),
            "confirmed": True,
            "test": False,
            "note": changes.get("note"),
            "note_attributes": [],
            "tags": changes.get("tags", ""),
            "source_name": "web",
            "customer_locale": "en",
            "line_items": [self._line_item(rec, i, line, fulfilled.get(i, 0)) for i, line in enumerate(lines)],
            "shipping_address": address,
            "billing_address": dict(address),
            "customer": {
                "id": customer_id,
                "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                "email": email,
                "first_name": who["first"],
                "last_name": who["last"],
                "phone": None,
                "state": "enabled",
                "verified_email": True,
                "tax_exempt": False,
                "tags": "",
                "currency": CURRENCY,
                "note": None,
                "created_at": created,
                "updated_at": created,
                "default_address": {**address, "id": customer_id + 1, "customer_id": customer_id, "default": True},
            },
            "shipping_lines": [
                {
                    "id": order_id + 7,
                    "code": "Standard",
                    "title": "Standard Shipping",
                    "source": "shopify",
                    "price": f"{shipping:.2f}",
                    "discounted_price": f"{shipping:.2f}",
                    "carrier_identifier": None,
                    "requested_fulfillment_service_id": None,
                    "tax_lines": [],
                    "discount_allocations": [],
                }
            ],
            "fulfillments": [dict(f) for f in self._fulfillments.get(order_id, [])],
        }
        if rec.malformed >= 0:
            _break(order, MALFORMATIONS[rec.malformed])
        return order

    def _line_item(self, rec: _Record, index: int, line: _Line, done: int) -> dict[str, Any]:
        line_id = LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + index
        custom = line.catalog_index < 0
        return {
            "id": line_id,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
            "variant_id": None if custom else VARIANT_ID_BASE + line.catalog_index,
            "product_id": None if custom else PRODUCT_ID_BASE + line.catalog_index,
            "sku": line.sku,
            "title": line.title,
            "name": line.title,
            "variant_title": None,
            "vendor": "Northwind Outfitters",
            "quantity": line.quantity,
            "current_quantity": line.quantity,
            "price": line.price,
            "total_discount": "0.00",
            "grams": line.grams,
            "fulfillable_quantity": line.quantity - done,
            "fulfillment_status": None if done == 0 else "fulfilled" if done >= line.quantity else "partial",
            "fulfillment_service": "manual",
            "requires_shipping": line.requires_shipping,
            "taxable": True,
            "gift_card": False,
            "product_exists": not custom,
            "properties": [],
        }

    def _render_fulfillment_orders(self, rec: _Record) -> list[dict[str, Any]]:
        """The order's one fulfillment order, at the shop's one location."""
        lines = self._lines(rec)
        shippable = [(i, line) for i, line in enumerate(lines) if line.requires_shipping]
        if not shippable:
            return []
        fulfilled = rec.fulfilled or {}
        remaining = sum(line.quantity - fulfilled.get(i, 0) for i, line in shippable)
        if rec.cancelled or remaining == 0:
            status = "closed"
        elif fulfilled:
            status = "in_progress"
        else:
            status = "open"
        fo_id = FULFILLMENT_ORDER_ID_BASE + rec.seq
        order = self._render_order(rec)
        return [
            {
                "id": fo_id,
                "shop_id": SHOP_ID,
                "order_id": rec.id,
                "assigned_location_id": LOCATION_ID,
                "request_status": "unsubmitted",
                "status": status,
                "supported_actions": ["create_fulfillment", "move"] if status != "closed" else [],
                "destination": {
                    key: order["shipping_address"].get(key)
                    for key in ("first_name", "last_name", "company", "address1", "address2", "city",
                                "province", "zip", "country", "phone")
                }
                | {"id": fo_id + 3, "email": order["email"]},
                "line_items": [
                    {
                        "id": FO_LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + i,
                        "shop_id": SHOP_ID,
                        "fulfillment_order_id": fo_id,
                        "quantity": line.quantity,
                        "line_item_id": LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + i,
                        "inventory_item_id": (
                            None if line.catalog_index < 0 else INVENTORY_ITEM_ID_BASE + line.catalog_index
                        ),
                        "fulfillable_quantity": 0 if rec.cancelled else line.quantity - fulfilled.get(i, 0),
                        "variant_id": None if line.catalog_index < 0 else VARIANT_ID_BASE + line.catalog_index,
                    }
                    for i, line in shippable
                ],
                "fulfill_at": _iso(rec.created),
                "fulfill_by": None,
                "international_duties": None,
                "fulfillment_holds": [],
                "delivery_method": {"id": fo_id + 5, "method_type": "shipping", "min_delivery_date_time": None,
                                    "max_delivery_date_time": None},
                "created_at": _iso(rec.created),
                "updated_at": _iso(rec.updated),
                "assigned_location": {
                    "location_id": LOCATION_ID, "name": "Main Warehouse", "address1": "1 Harbor Way",
                    "address2": None, "city": "Oakland", "province": "California", "zip": "94607",
                    "country_code": "US", "phone": None,
                },
                "merchant_requests": [],
            }
        ]

    # ------------------------------------------------------------------ HTTP

    def _endpoint(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler in Shopify's gatekeeping: API version, access token, call limit."""

        async def endpoint(request: Request) -> Response:
            if not _API_VERSION.match(request.path_params["version"]):
                return JSONResponse({"errors": "Not Found"}, status_code=404)
            if self.access_token and request.headers.get("x-shopify-access-token") != self.access_token:
                return JSONResponse({"errors": UNAUTHORIZED}, status_code=401)
            allowed, used, wait = self._take_call()
            limit_header = {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{BUCKET_SIZE}"} if self.rate_limit else {}
            if not allowed:
                return JSONResponse(
                    {"errors": THROTTLED}, status_code=429, headers={**limit_header, "Retry-After": f"{wait:.1f}"}
                )
            try:
                response = await handler(request)
            except _Rejected as exc:
                response = JSONResponse({"errors": exc.errors}, status_code=exc.status)
            response.headers.update({**limit_header, "X-Shopify-API-Version": request.path_params["version"]})
            return response

        return endpoint

    def _take_call(self) -> tuple[bool, int, float]:
        """Charge one call to the leaky bucket: (allowed, calls in the bucket, seconds to wait)."""
        if not self.rate_limit:
            return True, 0, 0.0
        with self._lock:
            now = self.clock.now()
            leaked = (now - self._bucket_at).total_seconds() * LEAK_PER_SECOND
            self._bucket_level = max(0.0, self._bucket_level - leaked)
            self._bucket_at = now
            if self._bucket_level + 1 > BUCKET_SIZE:
                self.throttled += 1
                wait = math.ceil((self._bucket_level + 1 - BUCKET_SIZE) / LEAK_PER_SECOND * 10) / 10
                return False, BUCKET_SIZE, wait
            self._bucket_level += 1
            return True, math.ceil(self._bucket_level), 0.0

    async def _list_orders(self, request: Request) -> Response:
        query = request.query_params
        limit = _limit(query.get("limit"))
        fields = [f for f in query.get("fields", "").split(",") if f] or None
        if "page_info" in query:
            extra = [key for key in query if key not in ("page_info", "limit", "fields")]
            if extra:
                message = f"{extra[0]} cannot be passed when page_info is present. {PAGINATION_DOC}"
                raise _Rejected(400, {extra[0]: message})
            token = _decode_token(query["page_info"])
            status, since, direction, anchor = token["status"], token["since"], token["direction"], tuple(token["key"])
        else:
            status = query.get("status", "open")
            if status not in ("open", "closed", "cancelled", "any"):
                raise _Rejected(400, {"status": "Invalid value."})
            since = _since(query.get("updated_at_min"))
            direction, anchor = "next", None
        with self._lock:
            self._catch_up()
            keys, prev_key, next_key = self._page(status, since, direction, anchor, limit)
            orders = [self._render_order(self._records[seq]) for _, seq in keys]
        if fields is not None:
            orders = [{k: v for k, v in order.items() if k in fields} for order in orders]
        links = []
        base = f"{self.context.base_url}/admin/api/{request.path_params['version']}/orders.json"
        for rel, key, way in (("previous", prev_key, "prev"), ("next", next_key, "next")):
            if key is not None:
                token = _encode_token({"status": status, "since": since, "direction": way, "key": list(key)})
                links.append(f'<{base}?limit={limit}&page_info={token}>; rel="{rel}"')
        return JSONResponse({"orders": orders}, headers={"Link": ", ".join(links)} if links else None)

    def _page(
        self, status: str, since: int | None, direction: str, anchor: tuple[int, int] | None, limit: int
    ) -> tuple[list[tuple[int, int]], tuple[int, int] | None, tuple[int, int] | None]:
        """Keyset page over (updated_at, id): the keys, and the anchors of the pages around it."""
        keys = self._keys
        low = bisect.bisect_left(keys, (since, -1)) if since is not None else 0
        matches = self._status_filter(status)
        picked: list[tuple[int, int]] = []
        if direction == "next":
            i = bisect.bisect_right(keys, anchor) if anchor is not None else low
            while i < len(keys) and len(picked) < limit:
                if matches(keys[i][1]):
                    picked.append(keys[i])
                i += 1
            more_after = any(matches(keys[j][1]) for j in range(i, len(keys)))
            first = bisect.bisect_left(keys, picked[0]) if picked else i
            more_before = any(matches(keys[j][1]) for j in range(low, first))
        else:
            i = bisect.bisect_left(keys, anchor) - 1
            while i >= low and len(picked) < limit:
                if matches(keys[i][1]):
                    picked.append(keys[i])
                i -= 1
            picked.reverse()
            more_before = any(matches(keys[j][1]) for j in range(low, i + 1))
            more_after = True
        if not picked:
            return [], None, None
        return picked, (picked[0] if more_before else None), (picked[-1] if more_after else None)

    def _status_filter(self, status: str) -> Callable[[int], bool]:
        records = self._records
        if status == "any":
            return lambda seq: True
        if status == "cancelled":
            return lambda seq: records[seq].cancelled
        if status == "closed":  # the simulated shop never archives orders
            return lambda seq: False
        return lambda seq: not records[seq].cancelled

    async def _get_order(self, request: Request) -> Response:
        with self._lock:
            self._catch_up()
            rec = self._known(request.path_params["order_id"])
            return JSONResponse({"order": self._render_order(rec)})

    async def _get_fulfillment_orders(self, request: Request) -> Response:
        with self._lock:
            self._catch_up()
            rec = self._known(request.path_params["order_id"])
            return JSONResponse({"fulfillment_orders": self._render_fulfillment_orders(rec)})

    async def _get_fulfillments(self, request: Request) -> Response:
        with self._lock:
            self._catch_up()
            rec = self._known(request.path_params["order_id"])
            return JSONResponse({"fulfillments": list(self._fulfillments.get(rec.id, []))})

    async def _create_fulfillment(self, request: Request) -> Response:
        body = await _json_body(request)
        spec = body.get("fulfillment") if isinstance(body, dict) else None
        groups = spec.get("line_items_by_fulfillment_order") if isinstance(spec, dict) else None
        if not isinstance(groups, list) or not groups:
            raise _Rejected(400, {"fulfillment": "Required parameter missing or invalid"})
        tracking = spec.get("tracking_info") or {}
        if not isinstance(tracking, dict):
            raise _Rejected(400, {"fulfillment": "Required parameter missing or invalid"})
        with self._lock:
            self._catch_up()
            rec, plan = self._plan_fulfillment(groups)
            now = int(self._now())
            fulfilled = rec.fulfilled if rec.fulfilled is not None else {}
            for index, quantity in plan.items():
                fulfilled[index] = fulfilled.get(index, 0) + quantity
            rec.fulfilled = fulfilled
            self._touch(rec, now)
            lines = self._lines(rec)
            fulfillment_id = self._next_fulfillment
            self._next_fulfillment += 1
            existing = self._fulfillments.setdefault(rec.id, [])
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
                "created_at": _iso(now),
                "updated_at": _iso(now),
                "tracking_company": tracking.get("company"),
                "tracking_number": number,
                "tracking_numbers": [number] if number else [],
                "tracking_url": url,
                "tracking_urls": [url] if url else [],
                "shipment_status": None,
                "line_items": [
                    {**self._line_item(rec, i, lines[i], fulfilled[i]), "quantity": quantity}
                    for i, quantity in sorted(plan.items())
                ],
            }
            existing.append(fulfillment)
            self._fulfillment_orders[fulfillment_id] = rec.id
            return JSONResponse({"fulfillment": fulfillment}, status_code=201)

    def _plan_fulfillment(self, groups: list[Any]) -> tuple[_Record, dict[int, int]]:
        """Check ``line_items_by_fulfillment_order`` against the order: (record, line index -> qty)."""
        rec: _Record | None = None
        plan: dict[int, int] = {}
        for group in groups:
            fo_id = group.get("fulfillment_order_id") if isinstance(group, dict) else None
            seq = fo_id - FULFILLMENT_ORDER_ID_BASE if isinstance(fo_id, int) else -1
            if not 0 <= seq < len(self._records) or not self._render_fulfillment_orders(self._records[seq]):
                raise _Rejected(404, "Not Found")
            if rec is not None and rec.seq != seq:
                raise _Rejected(422, ["All fulfillment orders must belong to the same order."])
            rec = self._records[seq]
            (fo,) = self._render_fulfillment_orders(rec)
            if fo["status"] not in ("open", "in_progress"):
                raise _Rejected(422, [f"Fulfillment order {fo_id} has an unfulfillable status= {fo['status']}."])
            by_id = {li["id"]: li for li in fo["line_items"]}
            asked = group.get("fulfillment_order_line_items")
            if asked is None:  # the whole remaining fulfillment order
                asked = [{"id": li["id"], "quantity": li["fulfillable_quantity"]} for li in fo["line_items"]
                         if li["fulfillable_quantity"] > 0]
            if not isinstance(asked, list):
                raise _Rejected(400, {"fulfillment": "Required parameter missing or invalid"})
            for item in asked:
                fo_line = by_id.get(item.get("id")) if isinstance(item, dict) else None
                quantity = item.get("quantity") if isinstance(item, dict) else None
                if fo_line is None:
                    raise _Rejected(
                        422, [f"Fulfillment order line item {item} does not belong to fulfillment order {fo_id}."]
                    )
                index = (fo_line["id"] - FO_LINE_ITEM_ID_BASE) % MAX_LINES
                if (
                    isinstance(quantity, bool)
                    or not isinstance(quantity, int)
                    or quantity <= 0
                    or plan.get(index, 0) + quantity > fo_line["fulfillable_quantity"]
                ):
                    raise _Rejected(422, ["Invalid fulfillment order line item quantity requested."])
                plan[index] = plan.get(index, 0) + quantity
        assert rec is not None  # groups is a non-empty list
        return rec, plan

    async def _events_endpoint(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        fulfillment_id = request.path_params["fulfillment_id"]
        body = await _json_body(request) if request.method == "POST" else None
        with self._lock:
            self._catch_up()
            self._known(order_id)
            if self._fulfillment_orders.get(fulfillment_id) != order_id:
                raise _Rejected(404, "Not Found")
            events = self._events.setdefault(fulfillment_id, [])
            if request.method == "GET":
                return JSONResponse({"fulfillment_events": list(events)})
            spec = body.get("event") if isinstance(body, dict) else None
            if not isinstance(spec, dict):
                raise _Rejected(400, {"event": "Required parameter missing or invalid"})
            if spec.get("status") not in EVENT_STATUSES:
                raise _Rejected(422, {"status": ["is not included in the list"]})
            now = _iso(int(self._now()))
            event_id = self._next_event
            self._next_event += 1
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
            for fulfillment in self._fulfillments[order_id]:
                if fulfillment["id"] == fulfillment_id:
                    fulfillment["shipment_status"] = spec["status"]
                    fulfillment["updated_at"] = now
            return JSONResponse({"fulfillment_event": event}, status_code=201)

    def _known(self, order_id: int) -> _Record:
        try:
            return self._record(order_id)
        except KeyError:
            raise _Rejected(404, "Not Found") from None


# --------------------------------------------------------------------------- helpers


def _catalog(entries: Sequence[Mapping[str, Any]]) -> tuple[_Line, ...]:
    if not entries:
        raise ConfigError("catalog must list at least one SKU", key="sandbox.shopify")
    lines = []
    for index, entry in enumerate(entries):
        try:
            lines.append(
                _Line(
                    sku=str(entry["sku"]),
                    title=str(entry["title"]),
                    price=_price(entry["price"], "price"),
                    grams=int(entry["grams"]),
                    requires_shipping=bool(entry.get("requires_shipping", True)),
                    quantity=1,
                    catalog_index=index,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"catalog[{index}] must be {{sku, title, price, grams}} with price a decimal string; "
                f"got {dict(entry)!r} ({type(exc).__name__}: {exc})",
                key="sandbox.shopify",
            ) from None
    return tuple(lines)


def _price(value: Any, field: str) -> str:
    if isinstance(value, float):
        raise ValueError(f"{field} must be a decimal string like '19.90', not the float {value!r}")
    try:
        return f"{Decimal(str(value)):.2f}"
    except InvalidOperation:
        raise ValueError(f"{field} is not a decimal amount: {value!r}") from None


def _number_option(options: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{key} must be a number from {low} to {high}, got {value!r}", key="sandbox.shopify")
    return float(value)


def _small_quantity(draw: float) -> int:
    """1, 2 or 3 units, mostly 1 (as a uniform draw in [0, 1) falls)."""
    return 1 if draw < 0.75 else 2 if draw < 0.95 else 3


def _break(order: dict[str, Any], how: str) -> None:
    """Damage a rendered order the way ``how`` says (see :data:`MALFORMATIONS`)."""
    if how == "missing_updated_at":
        del order["updated_at"]
        return
    line = order["line_items"][-1]
    if how == "quantity_word":
        line["quantity"] = _NUMBER_WORDS[line["quantity"]] if line["quantity"] < 10 else "many"
    else:  # price_comma: a decimal comma from a badly localised export
        line["price"] = line["price"].replace(".", ",")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, SHOP_TZ).isoformat()


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise _Rejected(400, {"updated_at_min": "Invalid value."}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_TZ)
    return math.ceil(moment.timestamp())


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    try:
        return max(1, min(MAX_PAGE, int(value)))
    except ValueError:
        raise _Rejected(400, {"limit": "Invalid value."}) from None


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
        raise _Rejected(400, {"page_info": "Invalid value."}) from None


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise _Rejected(400, "The request body is not valid JSON.") from None


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"errors": "Not Found" if status == 404 else str(exc)}, status_code=status)
