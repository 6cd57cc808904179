"""The KPIs: how well promises were kept, how fast orders went out, how each carrier did.

Pure arithmetic over the facts :mod:`fulfilhub.store.kpi` reads; nothing here touches
the store or the clock. Each figure counts its own population in the window
``[since, until)``, decided as of ``as_of`` (the earlier of ``until`` and now):

- **promises** (on-time rate, promise accuracy, lateness, the weekly trend): orders
  whose first promise's ``deliver_by`` falls in the window and has passed. On time:
  delivered at or before ``deliver_by``; accurate: delivered inside
  ``deliver_from .. deliver_by``. An order still not delivered is late. The first
  promise (the one made at acceptance) is the one measured: a revision does not turn a
  late order into an on-time one. Days are counted in the promise's time zone.
- **ship-by met**: orders whose ``ship_by`` falls in the window and has passed; met when
  every live shipment was handed to the carrier by then.
- **processing time**: orders whose last live shipment was handed to the carrier in
  the window, from when fulfilhub received the order.
- **backorder rate**: orders received in the window and accepted, that were ever backordered.
- **carrier scorecards and regions**: shipments handed to a carrier in the window.
- **promise backtest**: orders bought in the window and delivered, replayed in purchase
  order through :func:`fulfilhub.engines.backtest.replay` (each promise from what was
  known at its purchase), beside the promises fulfilhub actually made for them.

Rates are ``None`` where nothing was counted: a missing figure, never a made-up zero.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ..models import Scorecard
from ..store.kpi import DeliveredOrder, OrderFacts, ShipmentFacts
from . import backtest
from .transit import Lane

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


@attrs.frozen(kw_only=True)
class Window:
    """The report's period ``[since, until)``, decided as of ``as_of``.

    Attributes:
        since: The first instant counted (None: from the beginning).
        until: The first instant not counted.
        as_of: When the figures are decided (a promise not yet due is not counted); at most ``until``.
    """

    since: datetime | None
    until: datetime
    as_of: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, now: datetime) -> Window:
        end = until or now
        if since is not None and since >= end:
            raise ValueError(f"the window is empty: since {since.isoformat()} is not before until {end.isoformat()}")
        return cls(since=since, until=end, as_of=min(end, now))

    def holds(self, at: datetime | None) -> bool:
        return at is not None and (self.since is None or at >= self.since) and at < self.until

    def due(self, at: datetime | None) -> bool:
        """Falls in the window and has passed by ``as_of``."""
        return self.holds(at) and at <= self.as_of  # type: ignore[operator]


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` by linear interpolation between order statistics; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@lru_cache(maxsize=256)
def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(at: datetime, zone: str) -> date:
    return at.astimezone(_zone(zone)).date()


def days_late(delivered_at: datetime, deliver_by: datetime, zone: str) -> int:
    """Calendar days after the promised last day (0: on that day, negative: early), in the promise's zone."""
    return (local_date(delivered_at, zone) - local_date(deliver_by, zone)).days


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _OrderTally:
    """The order figures, one order at a time (counters, and one float per order shipped)."""

    def __init__(self, window: Window):
        self.window = window
        self.due = self.on_time = self.in_range = self.early = self.not_delivered = self.revised = 0
        self.ship_due = self.ship_met = 0
        self.received = self.accepted = self.backordered = 0
        self.hours: list[float] = []
        self.weekly: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        self.lateness: Counter[int] = Counter()
        self.regions: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # due, late

    def add(self, o: OrderFacts) -> None:
        window = self.window
        if window.holds(o.received_at):
            self.received += 1
            self.accepted += o.accepted
            self.backordered += o.accepted and o.backordered
        if o.shipped_at is not None and window.holds(o.shipped_at):
            self.hours.append((o.shipped_at - o.received_at) / _HOUR)
        if o.ship_by is not None and window.due(o.ship_by):
            self.ship_due += 1
            self.ship_met += o.shipped_at is not None and o.shipped_at <= o.ship_by
        if o.deliver_by is None or not window.due(o.deliver_by):
            return
        self.due += 1
        self.revised += o.revisions > 1
        kept = o.delivered_at is not None and o.delivered_at <= o.deliver_by
        self.on_time += kept
        week = self.weekly[_week(local_date(o.deliver_by, o.timezone))]
        week[0] += 1
        week[1] += kept
        region = self.regions[o.region]
        region[0] += 1
        region[1] += not kept
        if o.delivered_at is None:
            self.not_delivered += 1
            return
        self.lateness[days_late(o.delivered_at, o.deliver_by, o.timezone)] += 1
        if o.deliver_from is not None and o.delivered_at < o.deliver_from:
            self.early += 1
        elif kept:
            self.in_range += 1

    def figures(self) -> dict[str, Any]:
        due, on_time, hours = self.due, self.on_time, self.hours
        return {
            "orders": {"received": self.received, "accepted": self.accepted, "backordered": self.backordered,
                       "backorder_rate": rate(self.backordered, self.accepted)},
            "processing_hours": {"orders": len(hours), "p50": _r(quantile(hours, 0.5)),
                                 "p90": _r(quantile(hours, 0.9))},
            "promises": {
                "due": due, "on_time": on_time, "on_time_rate": rate(on_time, due),
                "in_range": self.in_range, "promise_accuracy": rate(self.in_range, due), "early": self.early,
                "late": due - on_time, "not_delivered": self.not_delivered, "revised": self.revised,
                "ship_by_due": self.ship_due, "ship_by_met": self.ship_met,
                "ship_by_met_rate": rate(self.ship_met, self.ship_due),
            },
        }


class _CarrierTally:
    """One carrier's scorecard, one shipment at a time."""

    def __init__(self) -> None:
        self.shipments = self.due = self.on_time = self.within = 0
        self.services: set[str] = set()
        self.transit: list[float] = []
        self.stated: list[float] = []
        self.reasons: Counter[str] = Counter()
        self.costs: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])  # sum, count

    def add(self, s: ShipmentFacts, window: Window) -> None:
        self.shipments += 1
        if s.service:
            self.services.add(s.service)
        if s.delivered_at is not None:
            self.transit.append((s.delivered_at - s.shipped_at) / _DAY)
            if s.stated_days is not None:
                self.stated.append(float(s.stated_days))
                self.within += (s.delivered_at.date() - s.shipped_at.date()).days <= s.stated_days
        if s.deliver_by is not None and s.deliver_by <= window.as_of:  # its order's promise is due
            self.due += 1
            self.on_time += s.delivered_at is not None and s.delivered_at <= s.deliver_by
        if s.exception:
            self.reasons[s.exception] += 1
        if s.cost is not None:
            cost = self.costs[s.currency]
            cost[0] += s.cost
            cost[1] += 1

    def card(self, carrier: str, instance: str) -> dict[str, Any]:
        n, exceptions = self.shipments, sum(self.reasons.values())
        return {
            "carrier": carrier, "instance": instance, "services": sorted(self.services),
            "shipments": n, "delivered": len(self.transit),
            "due": self.due, "on_time": self.on_time, "on_time_rate": rate(self.on_time, self.due),
            "delay_rate": rate(self.due - self.on_time, self.due),
            "transit_days": {"p50": _r(quantile(self.transit, 0.5)), "p90": _r(quantile(self.transit, 0.9))},
            "stated_days": {"shipments": len(self.stated), "p50": _r(quantile(self.stated, 0.5)),
                            "within": self.within, "within_rate": rate(self.within, len(self.stated))},
            "exceptions": exceptions, "exception_rate": rate(exceptions, n),
            "exception_reasons": dict(sorted(self.reasons.items())),
            "cost_per_parcel": {cur: str((total / count).quantize(Decimal("0.01")))
                                for cur, (total, count) in sorted(self.costs.items())},
        }


def compute(orders: Iterable[OrderFacts], shipments: Iterable[ShipmentFacts], window: Window) -> dict[str, Any]:
    """Every KPI of the window: the dict ``fulfilhub report --json`` prints (keys in docs/cli.md).

    One pass over each iterable, keeping counters and one float per order shipped and
    per shipment delivered (for the percentiles): the facts themselves are not held.
    """
    tally = _OrderTally(window)
    for o in orders:
        tally.add(o)
    carriers: dict[tuple[str, str], _CarrierTally] = defaultdict(_CarrierTally)
    shipped: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    for s in shipments:
        if window.holds(s.shipped_at):
            carriers[(s.carrier, s.instance)].add(s, window)
            shipped[s.region] += 1
            exceptions[s.region] += s.exception is not None
    regions = []
    for region in set(shipped) | set(tally.regions):
        due, late = tally.regions.get(region, (0, 0))
        regions.append({"region": region, "due": due, "late": late, "delay_rate": rate(late, due),
                        "shipments": shipped[region], "exceptions": exceptions[region],
                        "exception_rate": rate(exceptions[region], shipped[region])})
    figures = tally.figures()
    return {
        "window": {"since": window.since, "until": window.until, "as_of": window.as_of},
        "orders": figures["orders"],
        "processing_hours": figures["processing_hours"],
        "promises": figures["promises"],
        "carriers": sorted((t.card(carrier, instance) for (carrier, instance), t in carriers.items()),
                           key=lambda c: (-c["shipments"], c["carrier"], c["instance"])),
        "regions": sorted(regions, key=lambda r: (-(r["due"] + r["shipments"]), r["region"])),
        "weekly": [{"week": week.isoformat(), "due": n, "on_time": kept, "on_time_rate": rate(kept, n)}
                   for week, (n, kept) in sorted(tally.weekly.items())],
        "lateness": {"days": [{"days_late": d, "orders": n} for d, n in sorted(tally.lateness.items())],
                     "not_delivered": tally.not_delivered},
    }


#: The on-time shares the report's backtest aims at.
BACKTEST_TARGETS = (0.90, 0.95, 0.97)


def promise_backtest(delivered: Iterable[DeliveredOrder],
                     targets: Sequence[float] = BACKTEST_TARGETS) -> dict[str, Any] | None:
    """The store's own history replayed: what promises learned from it would have kept (None: nothing delivered).

    ``scored`` counts the orders promised: those bought after at least one earlier order
    was delivered (before that there is no history to promise from).

    Each order counts from when fulfilhub received it, on its lane (carrier, service,
    warehouse, destination region: not the postal prefix, whose many thin lanes cost the
    model time and memory in proportion, for little in a report), days in its promise's
    time zone, durations in delivery days (weekends count less) as ``fulfilhub promise
    backtest`` counts them; its
    first promise, where one was made, is the baseline scored the same way.
    """
    rows = []
    for n, d in enumerate(delivered, start=2):
        zone = _zone(d.timezone)
        rows.append(backtest.Row(
            line=n, purchase=d.placed_at.astimezone(zone), delivered=d.delivered_at.astimezone(zone),
            approved=max(d.received_at, d.placed_at).astimezone(zone),
            estimated=local_date(d.deliver_by, d.timezone) if d.deliver_by is not None else None,
            lane=Lane(carrier=d.carrier, service=d.service, origin=d.origin, destination=d.destination)))
    if not rows:
        return None
    result = backtest.replay(rows, tuple(targets), calendar=backtest.DeliveryDays())  # as `promise backtest`
    if result.rows == 0:  # every order was bought before any was delivered: nothing to promise from
        return {"orders": len(rows), "scored": 0, "results": [], "baseline": None}
    out = result.as_json()
    return {"orders": len(rows), "scored": out["rows"], "results": out["results"], "baseline": out["baseline"]}


# --------------------------------------------------------------------------- scorecards for carrier choice


#: The exception reasons a scorecard counts as damage (a lost parcel is damage to the customer too).
DAMAGE = frozenset({"damaged", "lost"})


def scorecards(shipments: Iterable[ShipmentFacts], window: Window) -> dict[str, Scorecard]:
    """Each carrier instance's :class:`Scorecard` from the shipments handed to it in ``window``."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # shipments, due, on time, exceptions, damage
    for s in shipments:
        if not window.holds(s.shipped_at):
            continue
        tally = counts[s.instance]
        tally[0] += 1
        if s.deliver_by is not None and s.deliver_by <= window.as_of:
            tally[1] += 1
            tally[2] += s.delivered_at is not None and s.delivered_at <= s.deliver_by
        if s.exception:
            tally[3] += 1
            tally[4] += s.exception in DAMAGE
    return {name: Scorecard(carrier=name, shipments=n, due=due, on_time_rate=rate(on_time, due),
                            exception_rate=rate(exc, n), damage_rate=rate(damaged, n))
            for name, (n, due, on_time, exc, damaged) in sorted(counts.items())}
