"""Delivery promises: ship-by and a deliver-by range, computed from facts, explained in one line.

A promise for an order (or a quote before checkout) is made of:

- **ship-by**: the warehouse's working calendar (:mod:`.calendar`): time zone, cut-off,
  handling days, working days, public holidays and closures. A line no warehouse has
  in stock starts from its restock date (``fulfilhub stock set --restock-date``); with
  no restock date known no promise can be made (:class:`CannotPromise`).
- **the transit**: learned from the store's own shipments by a :class:`TransitModel`
  (delivered ones finished, those still on their way censored, recent ones weighing
  more), asked at the most specific level with enough deliveries: postal prefix →
  lane → destination region → carrier service → all; then the carrier's own stated
  transit (``Rate.transit_days`` / ``delivery_date``); then ``[promise]
  default_transit_days``. ``Promise.level`` says which answered.
- **the range**: deliver-from is the day the median parcel arrives, deliver-by the day
  by which the ``[promise] target`` share (95 %) arrives, both counted in the
  destination's time zone; ``confidence_from``/``confidence_by`` are the learned shares
  delivered by the end of each (0 when no history backs the promise).

Until a carrier is chosen the promise rests on every service the shop has shipped the
lane with (a second model, keyed without carrier and service): what the shop actually
achieves there. Once a rate is chosen it rests on that carrier service.

The engine holds both models in memory, built once from the store
(:meth:`PromiseEngine.load`) and then told of each shipment as it ships, is delivered,
or is cancelled; a quote never scans history.

Promises of orders are stored by revision (:mod:`fulfilhub.store.promises`): made in the
transaction that accepts the order (:func:`promise_order`), and revised only with a
reason — a backorder with a restock date, a chosen carrier slower than promised, a
plugin's adjustment (the ``adjust_promise`` hook) — each with a ``promise`` order event.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from ..config import WEEKDAYS, PromiseConfig
from ..errors import FulfilhubError
from ..models import Address, Order, OrderStatus, Promise, Rate, Shipment, ShipmentStatus, StockLevel
from ..store import Tx
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from . import lifecycle, zones
from .calendar import WorkingCalendar
from .transit import Lane, LaneAnswer, TransitEstimate, TransitModel

if TYPE_CHECKING:
    from ..plugins import Hooks
    from ..store import Connection

log = logging.getLogger("fulfilhub.promise")

#: The share of parcels the start of the range is drawn at (the median parcel's day).
FROM_SHARE = 0.5
#: How the clauses of a fallback transit's basis begin (the rest of a basis is ship-by's notes).
_TRANSIT_CLAUSES = ("the carrier's stated", "the configured default", "so ")

#: Levels beyond what the transit model learns.
STATED, DEFAULT = "stated", "default"

_END_OF_DAY = time(23, 59, 59, 999999)


class CannotPromise(FulfilhubError):
    """No promise can be made: a line is out of stock everywhere with no restock date, an
    unknown warehouse, or a plugin vetoed it. The message says which."""


# --------------------------------------------------------------------------- destination time zones

#: The one resolver of a destination's zone lives in :mod:`fulfilhub.engines.zones`.
destination_zone = zones.destination_zone


def region_of(address: Address) -> str:
    """``"US-CA"`` (country-province) or ``"US"``: the destination of a lane."""
    country, province = address.country.upper(), address.province.strip().upper()
    return f"{country}-{province}" if country and province else country


def postal_prefix(address: Address) -> str:
    """The first three characters of the postal code (spaces left out), where there is one."""
    return "".join(address.postal_code.split()).upper()[:3]


# --------------------------------------------------------------------------- the models


def lane_model(half_life: timedelta | None) -> TransitModel:
    """The promise engine's transit model. It forgets a delivered shipment's ref once it
    is learned (``remember_delivered=False``; the model would otherwise keep every ref to
    make ``finish`` idempotent and ``drop`` possible). For the promise engine a delivery
    is final and learned once: from the store when the engine is built, or from the
    tracking job for a shipment it holds in flight, never both. With a million deliveries
    that is about 250 MB less. A quote asks its questions of one curve
    (:meth:`TransitModel.answer`)."""
    return TransitModel(half_life=half_life, remember_delivered=False)


# --------------------------------------------------------------------------- requests


def _lines(value: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    out = tuple((str(sku), int(qty)) for sku, qty in value)
    if not out:
        raise ValueError("a quote needs at least one line (sku, quantity)")
    for sku, qty in out:
        if not sku or qty < 1:
            raise ValueError(f"each line needs a SKU and a quantity of 1 or more, got ({sku!r}, {qty})")
    return out


@attrs.frozen(kw_only=True)
class QuoteRequest:
    """What a promise is asked for: lines, where to, when; optionally how.

    Attributes:
        lines: ``(sku, quantity)`` pairs, at least one.
        ship_to: The destination (country, province and postal code matter).
        at: When the order is (or would be) placed, timezone-aware.
        warehouse: Ship from this warehouse; empty: the one with the earliest promise.
        carrier: The courier as rates name it (``Rate.carrier_name``, e.g. ``"USPS"``);
            empty: any service the shop has shipped the lane with.
        service: The carrier service (``Rate.service``), with ``carrier``.
        rate: The chosen rate, when one is: its carrier instance, courier and service,
            and its stated transit where history is thin.
    """

    lines: tuple[tuple[str, int], ...] = attrs.field(converter=_lines)
    ship_to: Address
    at: datetime
    warehouse: str = ""
    carrier: str = ""
    service: str = ""
    rate: Rate | None = None

    def __attrs_post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"at must be timezone-aware, got {self.at.isoformat()}")


@attrs.frozen
class _Transit:
    """How long the transit takes, at both ends of the range, and on what basis."""

    days_from: float
    days_by: float
    level: str
    basis: str
    answer: LaneAnswer | None  # learned: the curve the confidence of each end is read from
    delivery_date: date | None = None  # the carrier's stated delivery date, when that is the basis

    def confidence(self, days: float) -> float:
        """The learned share delivered within ``days`` (0 when nothing is learned)."""
        return round(self.answer.share_within(days), 4) if self.answer is not None else 0.0


@attrs.frozen
class _Start:
    """When a group of lines can leave one warehouse: ready at, and why then."""

    warehouse: str
    ready: datetime
    notes: tuple[str, ...]


# --------------------------------------------------------------------------- the engine


class PromiseEngine:
    """Promises for quotes and orders, from the working calendars and the learned transit.

    ``warehouses`` maps each configured warehouse to its ship-from address (its region
    is the lane's origin). ``hooks`` lets plugins adjust or veto (``adjust_promise``).
    Thread-safe: the models are read and changed under one lock.
    """

    def __init__(self, config: PromiseConfig, warehouses: Mapping[str, Address], *, hooks: Hooks | None = None):
        self.config = config
        self.warehouses = dict(warehouses)
        self.calendars = {name: WorkingCalendar(config.calendar(name)) for name in self.warehouses}
        self.origins = {name: region_of(address) or name for name, address in self.warehouses.items()}
        self.hooks = hooks
        #: By carrier service: answers once a carrier is chosen (or named in a quote).
        self.by_service = lane_model(config.half_life)
        #: By lane alone, every service together: what the shop achieves before a carrier is chosen.
        self.any_service = lane_model(config.half_life)
        self._lock = threading.RLock()
        #: Shipments in flight: ref -> (warehouse, ship_to, carrier, service, shipped_at), to finish them.
        self._flying: dict[str, tuple[str, Address, str, str, datetime]] = {}
        self._lane_cache: dict[tuple[str, str, str, str, str], tuple[Lane, Lane]] = {}
        #: Deliveries learned so far (in flight: ``in_flight``).
        self.delivered = 0
        self.loaded = 0

    # ------------------------------------------------------------------ learning

    def lanes(self, warehouse: str, ship_to: Address, carrier: str, service: str) -> tuple[Lane, Lane]:
        """The lane of a parcel in each model: (by service, any service)."""
        region, prefix = region_of(ship_to), postal_prefix(ship_to)
        key = (warehouse, region, prefix, carrier, service)
        found = self._lane_cache.get(key)
        if found is None:
            origin = self.origins.get(warehouse, warehouse)
            found = (Lane(carrier=carrier, service=service, origin=origin, destination=region, postal_prefix=prefix),
                     Lane(origin=origin, destination=region, postal_prefix=prefix))
            if len(self._lane_cache) < 100_000:  # the same few thousand lanes, made once
                self._lane_cache[key] = found
        return found

    def observe(self, ref: str, warehouse: str, ship_to: Address | None, carrier: str, service: str,
                shipped_at: datetime | None, delivered_at: datetime | None) -> None:
        """Tell the models about one shipment that has left: in flight (``delivered_at`` None) or delivered.

        A shipment without a ship time or a destination teaches nothing; one whose times
        cannot be right (delivered before shipped) is dropped, not learned.
        """
        with self._lock:
            if shipped_at is None or ship_to is None:
                self.forget(ref)
                return
            lane, anyway = self.lanes(warehouse, ship_to, carrier, service)
            try:
                if delivered_at is None:
                    self.by_service.start(ref, lane, shipped_at)
                    self.any_service.start(ref, anyway, shipped_at)
                    self._flying[ref] = (warehouse, ship_to, carrier, service, shipped_at)
                    return
                self.by_service.finish(ref, lane, shipped_at, delivered_at)
                self.any_service.finish(ref, anyway, shipped_at, delivered_at)
                self._flying.pop(ref, None)
                self.delivered += 1
            except ValueError:  # an absurd record: it teaches nothing
                self.forget(ref)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the models still while asking them directly (``by_service.remaining(...)``,
        ``any_service.quantile(...)``): the loader and the tracking job change them, from
        other threads, under the same lock. Re-entrant."""
        with self._lock:
            yield

    @property
    def in_flight(self) -> int:
        """Shipments on their way that the engine counts as censored observations."""
        return len(self._flying)

    def forget(self, ref: str) -> None:
        """The shipment no longer counts (cancelled, returned, its label voided)."""
        with self._lock:
            self.by_service.drop(ref)
            self.any_service.drop(ref)
            self._flying.pop(ref, None)

    def shipped(self, shipment: Shipment, ship_to: Address | None) -> None:
        """``shipment`` was handed to the carrier (its label bought): it is in flight from now."""
        label = shipment.label
        self.observe(shipment.id, shipment.warehouse, ship_to, label.carrier_name if label else "",
                     label.service if label else "", shipment.shipped_at, None)

    def tracked(self, shipment: Shipment) -> None:
        """``shipment`` moved (after the change was committed): delivered ones are learned,
        cancelled and returned ones forgotten; the rest stay in flight."""
        if shipment.status in (ShipmentStatus.CANCELLED, ShipmentStatus.RETURNED):
            self.forget(shipment.id)
        elif shipment.status is ShipmentStatus.DELIVERED:
            with self._lock:
                flying = self._flying.get(shipment.id)
                if flying is not None and shipment.delivered_at is not None:
                    warehouse, ship_to, carrier, service, shipped_at = flying
                    self.observe(shipment.id, warehouse, ship_to, carrier, service, shipped_at, shipment.delivered_at)

    def moved(self, row: Any, *, learned_after: datetime, addresses: dict[str, Address] | None = None) -> bool:
        """A shipment changed in another process, read back from the store
        (:func:`fulfilhub.store.shipments.moved_since`: ``id, warehouse, carrier_name,
        service, status, shipped_at, delivered_at, ship_to``). Cancelled and returned ones
        are forgotten, ones on their way start counting in flight, and a delivery is learned
        if the engine held it in flight or it was delivered after ``learned_after`` (when the
        engine was loaded: an earlier delivery was learned by :meth:`load`). The caller
        makes sure one change is not given twice. True when a delivery was learned."""
        status = ShipmentStatus(row.status)
        if status in (ShipmentStatus.CANCELLED, ShipmentStatus.RETURNED):
            self.forget(row.id)
            return False
        if row.shipped_at is None:
            return False
        ship_to = _address(row.ship_to, {} if addresses is None else addresses)
        with self._lock:
            if status is not ShipmentStatus.DELIVERED or row.delivered_at is None:
                if row.id not in self._flying:
                    self.observe(row.id, row.warehouse, ship_to, row.carrier_name or "", row.service or "",
                                 row.shipped_at, None)
                return False
            if row.id not in self._flying and row.delivered_at <= learned_after:
                return False
            before = self.delivered
            self.observe(row.id, row.warehouse, ship_to, row.carrier_name or "", row.service or "", row.shipped_at,
                         row.delivered_at)
            return self.delivered > before

    def load(self, conn: Connection, *, batch: int = 20_000) -> int:
        """Learn every shipment in the store that has left (delivered: finished; still on its
        way: in flight). Streams the rows; returns how many it learned from."""
        count = 0
        addresses: dict[str, Address] = {}
        for row in shipment_store.departed(conn, batch=batch):
            ship_to = _address(row.ship_to, addresses)
            delivered = row.delivered_at if row.status == ShipmentStatus.DELIVERED else None
            self.observe(row.id, row.warehouse, ship_to, row.carrier_name or "", row.service or "", row.shipped_at,
                         delivered)
            count += 1
        self.loaded = count
        return count

    # ------------------------------------------------------------------ transit

    def transit(self, warehouse: str, ship_to: Address, *, carrier: str = "", service: str = "",
                rate: Rate | None = None, now: datetime) -> _Transit:
        """The transit from ``warehouse`` to ``ship_to``: learned, else stated, else the default."""
        if rate is not None:
            carrier, service = rate.carrier_name, rate.service
        lane, anyway = self.lanes(warehouse, ship_to, carrier, service)
        model, asked = (self.by_service, lane) if (carrier or service) else (self.any_service, anyway)
        with self._lock:
            answer = model.answer(asked, now=now)
            found = answer.quantiles([FROM_SHARE, self.config.target]) if answer is not None else None
        who = f"{carrier} {service}".strip() or "all services"
        where = f"{warehouse} → {region_of(ship_to) or '?'}"
        if found is not None:
            low, high = found
            learned = _Transit(low.days, high.days, str(high.level), f"{who}, {where}: {_describe(high)}", answer)
            if not high.lower_bound:
                return learned
            # only "at least N days" is known: the slowest parcels are still on their way
            fallback = self._stated_or_default(rate, now)
            if fallback.days_by <= high.days:
                return learned
            return attrs.evolve(learned, days_by=fallback.days_by, delivery_date=fallback.delivery_date,
                                basis=f"{learned.basis}; so {fallback.basis} counts")
        fallback = self._stated_or_default(rate, now)
        return attrs.evolve(fallback, basis=f"{who}, {where}: too few deliveries to learn from; {fallback.basis}")

    def _stated_or_default(self, rate: Rate | None, now: datetime) -> _Transit:
        """The carrier's stated transit, else the configured default; ``basis`` names which."""
        if rate is not None and (rate.transit_days is not None or rate.delivery_date is not None):
            if rate.delivery_date is not None:
                stated = f"delivery on {rate.delivery_date:%a %d %b}"
                days = max((rate.delivery_date - now).total_seconds() / 86400, 0.0)
            else:
                stated = f"{rate.transit_days} day(s) in transit"
                days = float(rate.transit_days)  # type: ignore[arg-type]
            return _Transit(days, days, STATED, f"the carrier's stated {stated}", None,
                            rate.delivery_date.date() if rate.delivery_date is not None else None)
        days = float(self.config.default_transit_days)
        return _Transit(max(days - 2, 1.0), days, DEFAULT,
                        f"the configured default of {self.config.default_transit_days} day(s)", None)

    # ------------------------------------------------------------------ quoting

    def quote(self, request: QuoteRequest, *, conn: Connection, order: Order | None = None, reason: str = "",
              stock: Sequence[tuple[StockLevel, date | None]] | None = None, adjust: bool = True) -> Promise:
        """The promise for ``request`` (see the module docstring). Raises CannotPromise.

        ``order`` is given when the promise is for an order (its id goes on the promise
        and the ``adjust_promise`` hook sees it); ``reason`` says why it is made.
        ``stock`` is what :func:`fulfilhub.store.stock.for_promise` returned for (at
        least) its SKUs, when the caller read it already; else it is read from ``conn``.
        ``adjust=False`` leaves the plugins out (:meth:`adjusted` asks them).
        """
        names = [request.warehouse] if request.warehouse else sorted(self.warehouses)
        if request.warehouse and request.warehouse not in self.warehouses:
            raise CannotPromise(f"no warehouse {request.warehouse!r}; configured: {', '.join(sorted(self.warehouses))}")
        if stock is None:
            stock = stock_store.for_promise(conn, {sku for sku, _ in request.lines})
        starts = self._starts(request, names, stock)
        made = [self._promise(request, start, order, reason) for start in starts]
        if len(made) == 1 or request.warehouse:
            promise = made[0]
        elif starts[0].notes == ("split",):  # several warehouses together: the latest of them counts
            promise = max(made, key=lambda p: (p.deliver_by, p.ship_by))
            promise = attrs.evolve(promise, basis=promise.basis + f"; split across {', '.join(s.warehouse for s in starts)}")
        else:  # each could ship it all: the earliest promise
            promise = min(made, key=lambda p: (p.deliver_by, p.ship_by, p.basis))
        return self.adjusted(order, promise) if adjust else promise

    def _starts(self, request: QuoteRequest, names: Sequence[str],
                levels: Sequence[tuple[StockLevel, date | None]]) -> list[_Start]:
        """Where the lines can ship from and from when: every warehouse that has them all
        now; else the earliest each can (by restock date); else a split across warehouses."""
        wanted: dict[str, int] = {}
        for sku, qty in request.lines:
            wanted[sku] = wanted.get(sku, 0) + qty
        have: dict[tuple[str, str], tuple[int, date | None]] = {
            (level.warehouse, level.sku): (level.available, restock) for level, restock in levels
        }
        now_ready = [w for w in names if all(have.get((w, sku), (0, None))[0] >= qty for sku, qty in wanted.items())]
        if now_ready:
            return [_Start(w, request.at, ()) for w in now_ready]
        later: list[_Start] = []
        for w in names:
            ready, notes = request.at, []
            for sku, qty in sorted(wanted.items()):
                available, restock = have.get((w, sku), (0, None))
                if available >= qty:
                    continue
                if restock is None:
                    break
                at = datetime.combine(restock, time(0), tzinfo=self.calendars[w].zone)
                ready = max(ready, at)
                notes.append(f"{sku} backordered until {restock:%a %d %b}")
            else:
                later.append(_Start(w, ready, tuple(notes)))
        if later:
            return later
        total = {sku: sum(have.get((w, sku), (0, None))[0] for w in names) for sku in wanted}
        short = sorted(sku for sku, qty in wanted.items() if total[sku] < qty)
        if not short and len(names) > 1:
            used = [w for w in names if any(have.get((w, sku), (0, None))[0] > 0 for sku in wanted)]
            return [_Start(w, request.at, ("split",)) for w in used]
        raise CannotPromise(
            f"{', '.join(short)}: not enough in stock in {', '.join(names)} and no restock date known "
            f"(`fulfilhub stock set WAREHOUSE SKU N --restock-date DATE`)")

    def _promise(self, request: QuoteRequest, start: _Start, order: Order | None, reason: str) -> Promise:
        calendar = self.calendars[start.warehouse]
        ship = calendar.ship_day(start.ready)
        zone_name = destination_zone(request.ship_to, calendar.config.timezone)
        zone = ZoneInfo(zone_name)
        transit = self.transit(start.warehouse, request.ship_to, carrier=request.carrier, service=request.service,
                               rate=request.rate, now=request.at)
        shipped_day = ship.ship_by.astimezone(zone).date()
        by_day = transit.delivery_date or (ship.ship_by + timedelta(days=transit.days_by)).astimezone(zone).date()
        by_day = max(by_day, shipped_day)
        from_day = min(max((ship.ship_by + timedelta(days=transit.days_from)).astimezone(zone).date(), shipped_day), by_day)
        deliver_from = datetime.combine(from_day, time(0), tzinfo=zone)
        deliver_by = datetime.combine(by_day, _END_OF_DAY, tzinfo=zone)
        carrier = request.rate.carrier if request.rate else request.carrier
        service = request.rate.service if request.rate else request.service
        end_of_from = datetime.combine(from_day, _END_OF_DAY, tzinfo=zone)
        conf_from = transit.confidence(_days(ship.ship_by, end_of_from))
        conf_by = max(transit.confidence(_days(ship.ship_by, deliver_by)), conf_from)
        notes = [n for n in (*start.notes, *ship.notes) if n != "split"]
        ship_by = ship.ship_by
        held = order.channel_promise if order is not None else None
        if held is not None:  # never later than what the channel already promised its customer
            if held.ship_by is not None and held.ship_by < ship_by:
                notes.append(f"ship-by held to the channel's own ({held.ship_by.astimezone(zone):%a %d %b %H:%M}, "
                             f"ours was {ship_by.astimezone(zone):%a %d %b %H:%M})")
                ship_by = held.ship_by
            if held.deliver_by is not None and held.deliver_by < deliver_by:
                capped = held.deliver_by.astimezone(zone)
                notes.append(f"deliver-by held to the channel's own ({capped:%a %d %b}, ours was {deliver_by:%a %d %b})")
                if capped < deliver_from:
                    deliver_from = datetime.combine(capped.date(), time(0), tzinfo=zone)
                deliver_by = capped
                conf_by = transit.confidence(_days(ship_by, deliver_by))
                conf_from = min(conf_from, conf_by)
        basis = "; ".join([transit.basis, *notes])
        return Promise(
            order_id=order.id if order is not None else "",
            created_at=request.at,
            ship_by=ship_by,
            deliver_from=deliver_from,
            deliver_by=deliver_by,
            timezone=zone_name,
            confidence_from=conf_from,
            confidence_by=conf_by,
            carrier=carrier,
            service=service,
            level=transit.level,
            basis=basis,
            reason=reason or ("quote" if order is None else "accepted"),
        )

    def explain(self, promise: Promise) -> list[str]:
        """The promise's basis as one fact a line: the history it came from (the level, or
        the levels pooled, with their deliveries), the quantiles and their unit, and the
        calendar and cut-off of the warehouse it ships from, with what was applied."""
        transit, *applied = promise.basis.split("; ")
        while applied and applied[0].startswith(_TRANSIT_CLAUSES):  # the fallback's own clauses
            transit = f"{transit}; {applied.pop(0)}"
        lines = [f"history: {transit}"]
        if promise.level in ("stated", "default"):
            lines.append(f"quantile: none (no history to learn from: {promise.level} transit)")
        else:
            lines.append(f"quantile: deliver-from at the {FROM_SHARE:.0%} share, deliver-by at the "
                         f"{self.config.target:.0%} share of transit, in calendar days counted from ship-by")
        for name, calendar in self.calendars.items():
            if f", {name} → " in transit:
                c = calendar.config
                days = ", ".join(WEEKDAYS[d] for d in sorted(c.working_days))
                holidays = f"; public holidays: {c.holidays}" if c.holidays else ""
                closures = f"; {len(c.closures)} configured closure(s)" if c.closures else ""
                lines.append(f"calendar: {name} ships {days} ({c.timezone}){holidays}{closures}; "
                             f"cut-off {c.cutoff:%H:%M}, {c.handling_days} handling day(s)")
        lines.append("applied: " + ("; ".join(applied) if applied else "nothing (before the cut-off, on a working day)"))
        return lines

    def adjusted(self, order: Order | None, promise: Promise) -> Promise:
        """Let plugins adjust (a Promise) or veto (False, CannotPromise) the promise; None lets it stand."""
        if self.hooks is None or not self.hooks.wants("adjust_promise"):
            return promise
        answer = self.hooks.adjust_promise(order=order, promise=promise)
        if answer is None or answer is promise:
            return promise
        if answer is False:
            raise CannotPromise(f"a plugin vetoed the promise for {order.id if order else 'this quote'} "
                                f"({promise.basis})")
        if not isinstance(answer, Promise):
            raise CannotPromise(f"adjust_promise returned {type(answer).__name__}; expected a Promise, False or None")
        if answer.same_terms(promise):
            return attrs.evolve(answer, order_id=promise.order_id, revision=promise.revision)
        why = answer.reason if answer.reason and answer.reason != promise.reason else "adjusted by a plugin"
        return attrs.evolve(answer, order_id=promise.order_id, revision=promise.revision,
                            reason=f"{promise.reason}; {why}")

    def for_order(self, order: Order, *, conn: Connection, at: datetime, reason: str = "accepted",
                  rate: Rate | None = None, warehouse: str = "",
                  stock: Sequence[tuple[StockLevel, date | None]] | None = None, adjust: bool = True) -> Promise:
        """The promise for a stored order at ``at`` (its shippable lines, its address)."""
        if order.ship_to is None or not order.shippable:
            raise CannotPromise(f"order {order.id} has nothing to ship" if order.ship_to is not None
                                else f"order {order.id} has no shipping address")
        request = QuoteRequest(lines=[(line.sku, line.quantity) for line in order.shippable], ship_to=order.ship_to,
                               at=at, warehouse=warehouse, rate=rate)
        return self.quote(request, conn=conn, order=order, reason=reason, stock=stock, adjust=adjust)

    def arrival(self, shipment: Shipment, ship_to: Address, rate: Rate, *, now: datetime,
                promise: Promise | None) -> datetime:
        """When a parcel bought now with ``rate`` would arrive (end of the day, destination
        time, at the promise target's share): what ``choose_rate`` compares with deliver-by."""
        return self.arrival_basis(shipment, ship_to, rate, now=now, promise=promise)[0]

    def arrival_basis(self, shipment: Shipment, ship_to: Address, rate: Rate, *, now: datetime,
                      promise: Promise | None) -> tuple[datetime, str, bool]:
        """:meth:`arrival` with how it was estimated ("learned ... (service level)", or
        "too few deliveries to learn from; the carrier's stated 3 days") and whether it
        was learned from deliveries (False: the stated or default transit, as a fallback)."""
        transit = self.transit(shipment.warehouse, ship_to, rate=rate, now=now)
        zone = ZoneInfo(promise.timezone if promise is not None else
                        destination_zone(ship_to, self.calendars[shipment.warehouse].config.timezone))
        day = transit.delivery_date or (now + timedelta(days=transit.days_by)).astimezone(zone).date()
        return datetime.combine(day, _END_OF_DAY, tzinfo=zone), transit.basis, transit.answer is not None


def _describe(estimate: TransitEstimate) -> str:
    return f"{estimate.describe()} ({estimate.level} level)"


def _days(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds() / 86400, 0.0)


def _address(value: Any, cache: dict[str, Address]) -> Address | None:
    """A stored ship-to (JSON) as the few fields a lane needs, shared between equal ones."""
    if not isinstance(value, dict):
        return None
    key = f"{value.get('country', '')}|{value.get('province', '')}|{value.get('postal_code', '')}"
    found = cache.get(key)
    if found is None:
        found = cache[key] = Address(country=str(value.get("country", "")), province=str(value.get("province", "")),
                                     postal_code=str(value.get("postal_code", "")))
    return found


# --------------------------------------------------------------------------- stored promises


def _event_data(promise: Promise) -> dict[str, Any]:
    return {
        "revision": promise.revision, "ship_by": promise.ship_by.isoformat(),
        "deliver_from": promise.deliver_from.isoformat(), "deliver_by": promise.deliver_by.isoformat(),
        "timezone": promise.timezone, "confidence_from": promise.confidence_from,
        "confidence_by": promise.confidence_by, "carrier": promise.carrier, "service": promise.service,
        "level": promise.level, "basis": promise.basis,
    }


def describe_range(promise: Promise) -> str:
    """"arrives Tue 12 – Thu 14 May" (or "arrives Thu 14 May" for one day), in the destination's time."""
    zone = ZoneInfo(promise.timezone)
    first, last = promise.deliver_from.astimezone(zone), promise.deliver_by.astimezone(zone)
    if first.date() == last.date():
        return f"arrives {last:%a} {last.day} {last:%b}"
    head = f"{first:%a} {first.day}" + ("" if (first.month, first.year) == (last.month, last.year) else f" {first:%b}")
    return f"arrives {head} – {last:%a} {last.day} {last:%b}"


def store_promise(tx: Tx, promise: Promise, status: OrderStatus, *, source: str = "promise") -> tuple[Promise, bool]:
    """Record ``promise`` as the order's next revision (unless it promises the same) with a ``promise`` event."""
    stored, added = promise_store.record(tx, promise)
    if added:
        order_store.append_events(tx, [lifecycle.promise_event(
            promise.order_id, status, at=promise.created_at, source=source,
            reason=f"{'promised' if stored.revision == 1 else f'revision {stored.revision}'}: "
                   f"ship by {stored.ship_by:%a %d %b %H:%M %Z}, {describe_range(stored)} ({stored.reason})",
            data=_event_data(stored))])
    return stored, added


def promise_order(tx: Tx, engine: PromiseEngine, order: Order, status: OrderStatus, *, at: datetime,
                  reason: str = "accepted", stock: Sequence[tuple[StockLevel, date | None]] | None = None) -> Promise | None:
    """Make and store the order's first promise (in the transaction that accepts it).

    A plugin's adjustment (``adjust_promise``) is stored as the next revision, with the
    plugin's reason, so that both what the engine computed and what was promised are
    kept. When no promise can be made (nothing in stock and no restock date, a plugin's
    veto) the order gets a note saying why, and allocation tries again later. Returns
    the promise in force, or None.
    """
    try:
        computed = engine.for_order(order, conn=tx.conn, at=at, reason=reason, stock=stock, adjust=False)
        promise = engine.adjusted(order, computed)
    except CannotPromise as exc:
        order_store.append_events(tx, [lifecycle.note_event(order.id, status, at=at, source="promise",
                                                            reason=f"no promise yet: {exc}")])
        return None
    except Exception as exc:  # a bug here (or in a plugin's adjust_promise) must not stop the order's intake
        log.exception("order %s: the promise could not be computed", order.id)
        order_store.append_events(tx, [lifecycle.note_event(
            order.id, status, at=at, source="promise",
            reason=f"no promise yet: computing it failed ({type(exc).__name__}: {exc}); allocation tries again")])
        return None
    stored = store_promise(tx, computed, status)[0]
    if promise.same_terms(computed):
        return stored
    return store_promise(tx, attrs.evolve(promise, reason=promise.reason.removeprefix(f"{computed.reason}; ")),
                         status, source="plugin")[0]


def revise_later(tx: Tx, engine: PromiseEngine, order: Order, status: OrderStatus, *, at: datetime, reason: str,
                 rate: Rate | None = None, warehouse: str = "") -> Promise | None:
    """A new revision when what happened makes the promise in force too early (a backorder
    until a restock date, a slower carrier): never to promise earlier, never silently.

    An order without a promise yet gets its first one. Returns the promise in force.
    """
    current = promise_store.current(tx.conn, order.id)
    try:
        fresh = engine.for_order(order, conn=tx.conn, at=at, reason=reason, rate=rate, warehouse=warehouse)
    except CannotPromise:
        return current
    if current is None:
        return store_promise(tx, attrs.evolve(fresh, reason="accepted; " + reason if reason else "accepted"), status)[0]
    if fresh.deliver_by <= current.deliver_by and fresh.ship_by <= current.ship_by:
        return current
    revised = attrs.evolve(
        fresh, ship_by=max(fresh.ship_by, current.ship_by), deliver_from=max(fresh.deliver_from, current.deliver_from),
        deliver_by=max(fresh.deliver_by, current.deliver_by))
    return store_promise(tx, revised, status)[0]


def _price(rate: Rate) -> tuple:
    return (rate.amount.amount, rate.carrier_name, rate.service)


def record_choice(tx: Tx, engine: PromiseEngine, order: Order, shipment: Shipment, chosen: Rate, rates: Sequence[Rate],
                  arrive_by: Mapping[str, datetime], in_force: Promise | None, *, at: datetime) -> Promise | None:
    """Say on the order which rate was chosen for ``shipment`` and whether it meets the promise.

    A rate that arrives after the promised deliver-by revises the promise (a new
    revision, its reason naming the carrier service and whether any quoted rate would
    have met it). Returns the promise in force.
    """
    row = order_store.row(tx.conn, order.id)
    status = OrderStatus(row.status) if row is not None else OrderStatus.PACKED
    arrival = arrive_by.get(chosen.rate_id)
    what = f"{chosen.carrier_name} {chosen.service} ({chosen.amount}) for {shipment.id}"
    if in_force is None or arrival is None:
        order_store.append_events(tx, [lifecycle.note_event(order.id, status, at=at, source="carrier choice",
                                                            reason=f"chose {what}; no promise to meet")])
        return in_force
    meeting = [r for r in rates if r.rate_id in arrive_by and arrive_by[r.rate_id] <= in_force.deliver_by]
    expected = f"expected by {arrival:%a %d %b}"
    if arrival <= in_force.deliver_by:
        cheapest = min(meeting, key=_price)
        rank = (f"the cheapest of {len(meeting)} rate(s) that meet it" if chosen.amount.amount <= cheapest.amount.amount
                else f"not the cheapest that meets it ({cheapest.carrier_name} {cheapest.service}, {cheapest.amount})")
        order_store.append_events(tx, [lifecycle.note_event(
            order.id, status, at=at, source="carrier choice",
            reason=f"chose {what}, {expected}: meets the promise ({describe_range(in_force)}); {rank}")])
        return in_force
    why = ("no quoted rate meets the promise; the fastest" if not meeting
           else f"{len(meeting)} quoted rate(s) would have met the promise; another was chosen")
    order_store.append_events(tx, [lifecycle.note_event(
        order.id, status, at=at, source="carrier choice",
        reason=f"chose {what}, {expected}: later than promised ({describe_range(in_force)}); {why}")])
    if order.ship_to is None:
        return in_force
    transit = engine.transit(shipment.warehouse, order.ship_to, rate=chosen, now=at)
    zone = ZoneInfo(in_force.timezone)
    reason = f"carrier chosen: {chosen.carrier_name} {chosen.service} is slower than promised ({why})"
    basis = transit.basis
    held = order.channel_promise.deliver_by if order.channel_promise is not None else None
    deliver_by = arrival
    if held is not None and arrival > held:  # the channel's own promise to its customer stands
        deliver_by = max(in_force.deliver_by, held)
        reason += f"; the channel's own deliver-by ({held.astimezone(zone):%a %d %b}) stands"
        basis += f"; deliver-by held to the channel's own ({held.astimezone(zone):%a %d %b}, " \
                 f"expected {arrival:%a %d %b})"
    from_day = min(max((at + timedelta(days=transit.days_from)).astimezone(zone).date(),
                       in_force.deliver_from.astimezone(zone).date()), deliver_by.astimezone(zone).date())
    confidence = transit.confidence(_days(at, deliver_by))
    revised = attrs.evolve(
        in_force, created_at=at, deliver_from=datetime.combine(from_day, time(0), tzinfo=zone), deliver_by=deliver_by,
        confidence_from=min(in_force.confidence_from, confidence), confidence_by=confidence,
        carrier=chosen.carrier, service=chosen.service, level=transit.level, basis=basis, reason=reason)
    return store_promise(tx, revised, status)[0]
