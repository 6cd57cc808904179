"""The simulated shop's state: compact order records on the scenario clock.

Orders arrive over scenario time (a Poisson stream of ``orders_per_day``), some are
updated again later, a chosen fraction is broken the way real payloads break. Orders
are kept as compact records (ids, times, a per-order random seed) and their content is
drawn from that seed only when rendered (:mod:`.render`), so a preload of 100,000
orders stays light. :class:`Shop` does no locking of its own: the simulator holds it in
a :class:`~fulfilhub.sandbox.LockedState` and every access goes through that lock.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from fulfilhub.clock import Clock
from fulfilhub.sandbox import OptionError, SeededIds

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


@attrs.frozen
class Line:
    """One line item as the shop sold it (prices are decimal strings, as Shopify sends)."""

    sku: str
    title: str
    price: str
    grams: int
    requires_shipping: bool
    quantity: int
    catalog_index: int  # -1 for a custom line item (no product or variant)

    def times(self, quantity: Any) -> Line:
        """This catalog line sold ``quantity`` times (cheaper than ``attrs.evolve``)."""
        return Line(self.sku, self.title, self.price, self.grams, self.requires_shipping, quantity, self.catalog_index)


@attrs.define(slots=True, eq=False)
class Record:
    """One order, compactly: everything else is derived from ``seed`` when rendered."""

    seq: int
    created: int  # epoch seconds
    updated: int
    seed: int
    malformed: int = -1  # index into MALFORMATIONS
    lines: tuple[Line, ...] | None = None  # set for injected orders; else from seed
    changes: dict[str, Any] | None = None  # note, tags, email, address, cancellation
    fulfilled: dict[int, int] | None = None  # line index -> quantity fulfilled

    @property
    def id(self) -> int:
        return ORDER_ID_BASE + self.seq

    @property
    def cancelled(self) -> bool:
        return bool(self.changes and self.changes.get("cancelled_at") is not None)


class Shop:
    """Every order, fulfillment and event of the simulated shop (no lock: see the module)."""

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int,
        orders_per_day: float,
        malformed_rate: float,
        update_rate: float,
        catalog: tuple[Line, ...],
        preload: int,
    ):
        self.clock = clock
        self.orders_per_day = orders_per_day
        self.malformed_rate = malformed_rate
        self.update_rate = update_rate
        self.catalog_lines = catalog
        self._rng = random.Random(seed)  # the arrival stream
        self.injected_rng = random.Random(f"{seed}:injected")  # add_order, kept apart
        self.ids = SeededIds(seed)
        self.records: list[Record] = []
        self.keys: list[tuple[int, int]] = []  # (updated, seq), kept sorted
        self._updates: list[tuple[float, int]] = []  # heap of (when, seq)
        self.fulfillments: dict[int, list[dict[str, Any]]] = {}  # order id -> fulfillments
        self.fulfillment_orders: dict[int, int] = {}  # fulfillment id -> order id
        self.events: dict[int, list[dict[str, Any]]] = {}  # fulfillment id -> events
        now = self.now()
        self._preload(preload, now)
        rate = orders_per_day / 86_400
        self._arrival_rate = rate
        self.next_arrival = now + self._rng.expovariate(rate) if rate > 0 else math.inf

    # ------------------------------------------------------------------ changes

    def place(self, lines: tuple[Line, ...] | None, changes: dict[str, Any] | None, malformed: int) -> Record:
        """Place one order now (``add_order``): its record."""
        self.catch_up()
        now = int(self.now())
        rec = Record(
            seq=len(self.records),
            created=now,
            updated=now,
            seed=self.injected_rng.getrandbits(32),
            malformed=malformed,
            lines=lines,
            changes=changes,
        )
        self.store(rec)
        return rec

    def stop_arrivals(self) -> None:
        self.catch_up()
        self.next_arrival = math.inf

    def change(self, order_id: int, **changes: Any) -> Record:
        """Record merchant changes (note, tags, cancellation) now; a new ``updated_at``."""
        self.catch_up()
        rec = self.record(order_id)
        rec.changes = {**(rec.changes or {}), **changes}
        self.touch(rec, int(self.now()))
        return rec

    def fulfil(self, rec: Record, plan: Mapping[int, int]) -> dict[int, int]:
        """Mark ``plan`` (line index -> quantity) fulfilled now; the order's fulfilled map."""
        fulfilled = rec.fulfilled if rec.fulfilled is not None else {}
        for index, quantity in plan.items():
            fulfilled[index] = fulfilled.get(index, 0) + quantity
        rec.fulfilled = fulfilled
        self.touch(rec, int(self.now()))
        return fulfilled

    def next_fulfillment_id(self) -> int:
        return self.ids.next("fulfillment", FULFILLMENT_ID_BASE + 1)

    def next_event_id(self) -> int:
        return self.ids.next("event", EVENT_ID_BASE + 1)

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
            for line in self.catalog_lines
        )

    # ------------------------------------------------------------------ arrivals over scenario time

    def now(self) -> float:
        return self.clock.now().timestamp()

    def _preload(self, count: int, now: float) -> None:
        """``count`` orders created over the two days before ``now``, some updated since."""
        start = now - 2 * 86_400
        created = sorted(self._rng.uniform(start, now) for _ in range(count))
        for when in created:
            rec, update_at = self._draw(when)
            if update_at is not None and update_at <= now:
                self._apply_update(rec, update_at)
            self.records.append(rec)
            self.keys.append((rec.updated, rec.seq))
            if update_at is not None and update_at > now:
                heapq.heappush(self._updates, (update_at, rec.seq))
        self.keys.sort()

    def _draw(self, when: float) -> tuple[Record, float | None]:
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
        rec = Record(seq=len(self.records), created=stamp, updated=stamp, seed=seed, malformed=kind if broken else -1)
        return rec, (when + delay if updated else None)

    def catch_up(self) -> None:
        """Let every arrival and update due by the scenario clock's now happen (lock held)."""
        now = self.now()
        while self.next_arrival <= now:
            rec, update_at = self._draw(self.next_arrival)
            self.store(rec)
            if update_at is not None:
                heapq.heappush(self._updates, (update_at, rec.seq))
            self.next_arrival += self._rng.expovariate(self._arrival_rate)
        while self._updates and self._updates[0][0] <= now:
            when, seq = heapq.heappop(self._updates)
            rec = self.records[seq]
            old_key = (rec.updated, rec.seq)
            self._apply_update(rec, when)
            self._rekey(old_key, rec)

    def _apply_update(self, rec: Record, when: float) -> None:
        """A later change by the merchant: a note or a tag, and a new ``updated_at``."""
        pick = random.Random(rec.seed ^ 0x5EED)
        changes = rec.changes if rec.changes is not None else {}
        if pick.random() < 0.5:
            changes["note"] = pick.choice(_UPDATE_NOTES)
        else:
            changes["tags"] = pick.choice(_UPDATE_TAGS)
        rec.changes = changes
        rec.updated = max(rec.updated, int(when))

    def store(self, rec: Record) -> None:
        self.records.append(rec)
        bisect.insort(self.keys, (rec.updated, rec.seq))

    def touch(self, rec: Record, now: int) -> None:
        old_key = (rec.updated, rec.seq)
        rec.updated = max(rec.updated, now)
        self._rekey(old_key, rec)

    def _rekey(self, old_key: tuple[int, int], rec: Record) -> None:
        index = bisect.bisect_left(self.keys, old_key)
        del self.keys[index]
        bisect.insort(self.keys, (rec.updated, rec.seq))

    def record(self, order_id: int) -> Record:
        seq = order_id - ORDER_ID_BASE
        if not 0 <= seq < len(self.records):
            raise KeyError(f"no order {order_id} in the simulated shop")
        return self.records[seq]

    def lines(self, rec: Record) -> tuple[Line, ...]:
        return self.content(rec)[0]

    def content(self, rec: Record) -> tuple[tuple[Line, ...], dict[str, Any]]:
        """The order's lines and buyer, drawn from its seed (one generator: rendering is hot)."""
        rng = random.Random(rec.seed)
        lines = rec.lines
        if lines is None:
            draw = rng.random()
            count = min(1 if draw < 0.6 else 2 if draw < 0.9 else 3, len(self.catalog_lines))
            lines = tuple(
                self.catalog_lines[i].times(_small_quantity(rng.random()))
                for i in rng.sample(range(len(self.catalog_lines)), count)
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

    def explicit_line(self, index: int, spec: Mapping[str, Any]) -> Line:
        sku = str(spec.get("sku") or "")
        known = next((c for c in self.catalog_lines if sku and c.sku == sku), None)
        quantity = spec.get("quantity", 1)
        if known is not None:
            line = known.times(quantity)
        elif "price" in spec and "title" in spec:
            line = Line(
                sku=sku,
                title=str(spec["title"]),
                price=price(spec["price"], f"lines[{index}].price"),
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

    def page(
        self, status: str, since: int | None, direction: str, anchor: tuple[int, int] | None, limit: int
    ) -> tuple[list[tuple[int, int]], tuple[int, int] | None, tuple[int, int] | None]:
        """Keyset page over (updated_at, id): the keys, and the anchors of the pages around it."""
        keys = self.keys
        low = bisect.bisect_left(keys, (since, -1)) if since is not None else 0
        matches = self.status_filter(status)
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

    def status_filter(self, status: str) -> Callable[[int], bool]:
        records = self.records
        if status == "any":
            return lambda seq: True
        if status == "cancelled":
            return lambda seq: records[seq].cancelled
        if status == "closed":  # the simulated shop never archives orders
            return lambda seq: False
        return lambda seq: not records[seq].cancelled


# --------------------------------------------------------------------------- helpers


def catalog_lines(entries: Sequence[Mapping[str, Any]]) -> tuple[Line, ...]:
    if not entries:
        raise OptionError("catalog must list at least one SKU", key="sandbox.shopify")
    lines = []
    for index, entry in enumerate(entries):
        try:
            lines.append(
                Line(
                    sku=str(entry["sku"]),
                    title=str(entry["title"]),
                    price=price(entry["price"], "price"),
                    grams=int(entry["grams"]),
                    requires_shipping=bool(entry.get("requires_shipping", True)),
                    quantity=1,
                    catalog_index=index,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise OptionError(
                f"catalog[{index}] must be {{sku, title, price, grams}} with price a decimal string; "
                f"got {dict(entry)!r} ({type(exc).__name__}: {exc})",
                key="sandbox.shopify",
            ) from None
    return tuple(lines)


def price(value: Any, field: str) -> str:
    if isinstance(value, float):
        raise ValueError(f"{field} must be a decimal string like '19.90', not the float {value!r}")
    try:
        return f"{Decimal(str(value)):.2f}"
    except InvalidOperation:
        raise ValueError(f"{field} is not a decimal amount: {value!r}") from None


def _small_quantity(draw: float) -> int:
    """1, 2 or 3 units, mostly 1 (as a uniform draw in [0, 1) falls)."""
    return 1 if draw < 0.75 else 2 if draw < 0.95 else 3


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, SHOP_TZ).isoformat()
