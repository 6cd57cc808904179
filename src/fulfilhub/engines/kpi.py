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


def promise_figures(orders: Iterable[OrderFacts], window: Window) -> dict[str, Any]:
    """Headline promise figures, the weekly on-time trend and the lateness distribution."""
    due = on_time = in_range = early = not_delivered = revised = 0
    ship_due = ship_met = 0
    weekly: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    lateness: Counter[int] = Counter()
    regions: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in orders:
        if o.ship_by is not None and window.due(o.ship_by):
            ship_due += 1
            ship_met += o.shipped_at is not None and o.shipped_at <= o.ship_by
        if o.deliver_by is None or not window.due(o.deliver_by):
            continue
        due += 1
        revised += o.revisions > 1
        kept = o.delivered_at is not None and o.delivered_at <= o.deliver_by
        on_time += kept
        week = weekly[_week(local_date(o.deliver_by, o.timezone))]
        week[0] += 1
        week[1] += kept
        regions[o.region][0] += 1
        regions[o.region][1] += not kept
        if o.delivered_at is None:
            not_delivered += 1
            continue
        lateness[days_late(o.delivered_at, o.deliver_by, o.timezone)] += 1
        if o.deliver_from is not None and o.delivered_at < o.deliver_from:
            early += 1
        elif kept:
            in_range += 1
    return {
        "promises": {
            "due": due, "on_time": on_time, "on_time_rate": rate(on_time, due),
            "in_range": in_range, "promise_accuracy": rate(in_range, due), "early": early,
            "late": due - on_time, "not_delivered": not_delivered, "revised": revised,
            "ship_by_due": ship_due, "ship_by_met": ship_met, "ship_by_met_rate": rate(ship_met, ship_due),
        },
        "weekly": [{"week": week.isoformat(), "due": n, "on_time": kept, "on_time_rate": rate(kept, n)}
                   for week, (n, kept) in sorted(weekly.items())],
        "lateness": {"days": [{"days_late": d, "orders": n} for d, n in sorted(lateness.items())],
                     "not_delivered": not_delivered},
        "_regions_due": dict(regions),
    }


def order_figures(orders: Iterable[OrderFacts], window: Window) -> dict[str, Any]:
    """Orders received, backordered and the processing time received -> shipped."""
    received = accepted = backordered = 0
    hours: list[float] = []
    for o in orders:
        if window.holds(o.received_at):
            received += 1
            accepted += o.accepted
            backordered += o.accepted and o.backordered
        if o.shipped_at is not None and window.holds(o.shipped_at):
            hours.append((o.shipped_at - o.received_at) / _HOUR)
    return {
        "orders": {"received": received, "accepted": accepted, "backordered": backordered,
                   "backorder_rate": rate(backordered, accepted)},
        "processing_hours": {"orders": len(hours), "p50": _r(quantile(hours, 0.5)), "p90": _r(quantile(hours, 0.9))},
    }


def _kept(s: ShipmentFacts, window: Window) -> bool | None:
    """Whether the shipment met its order's promise (None: no promise, or not due yet)."""
    if s.deliver_by is None or s.deliver_by > window.as_of:
        return None
    return s.delivered_at is not None and s.delivered_at <= s.deliver_by


def carrier_scorecards(shipments: Iterable[ShipmentFacts], window: Window) -> list[dict[str, Any]]:
    """One scorecard per carrier (courier and the instance that bought its labels), most shipments first."""
    groups: dict[tuple[str, str], list[ShipmentFacts]] = defaultdict(list)
    for s in shipments:
        if window.holds(s.shipped_at):
            groups[(s.carrier, s.instance)].append(s)
    cards = []
    for (carrier, instance), group in groups.items():
        transit = [(s.delivered_at - s.shipped_at) / _DAY for s in group if s.delivered_at is not None]
        stated = [s for s in group if s.delivered_at is not None and s.stated_days is not None]
        within = sum((s.delivered_at.date() - s.shipped_at.date()).days <= s.stated_days  # type: ignore[union-attr,operator]
                     for s in stated)
        kept = [k for k in (_kept(s, window) for s in group) if k is not None]
        reasons = Counter(s.exception for s in group if s.exception)
        costs: dict[str, list[Decimal]] = defaultdict(list)
        for s in group:
            if s.cost is not None:
                costs[s.currency].append(s.cost)
        n, exceptions = len(group), sum(reasons.values())
        cards.append({
            "carrier": carrier, "instance": instance,
            "services": sorted({s.service for s in group if s.service}),
            "shipments": n, "delivered": len(transit),
            "due": len(kept), "on_time": sum(kept), "on_time_rate": rate(sum(kept), len(kept)),
            "delay_rate": rate(len(kept) - sum(kept), len(kept)),
            "transit_days": {"p50": _r(quantile(transit, 0.5)), "p90": _r(quantile(transit, 0.9))},
            "stated_days": {"shipments": len(stated),
                            "p50": _r(quantile([float(s.stated_days) for s in stated], 0.5)),  # type: ignore[arg-type]
                            "within": within, "within_rate": rate(within, len(stated))},
            "exceptions": exceptions, "exception_rate": rate(exceptions, n),
            "exception_reasons": dict(sorted(reasons.items())),
            "cost_per_parcel": {cur: str((sum(v, Decimal(0)) / len(v)).quantize(Decimal("0.01")))
                                for cur, v in sorted(costs.items())},
        })
    return sorted(cards, key=lambda c: (-c["shipments"], c["carrier"], c["instance"]))


def region_figures(shipments: Iterable[ShipmentFacts], regions_due: dict[str, list[int]],
                   window: Window) -> list[dict[str, Any]]:
    """Delay rate (orders due) and exception rate (shipments handed over) by destination region."""
    shipped: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    for s in shipments:
        if window.holds(s.shipped_at):
            shipped[s.region] += 1
            exceptions[s.region] += s.exception is not None
    out = []
    for region in sorted(set(shipped) | set(regions_due)):
        due, late = regions_due.get(region, (0, 0))
        out.append({"region": region, "due": due, "late": late, "delay_rate": rate(late, due),
                    "shipments": shipped[region], "exceptions": exceptions[region],
                    "exception_rate": rate(exceptions[region], shipped[region])})
    return sorted(out, key=lambda r: (-(r["due"] + r["shipments"]), r["region"]))


def compute(orders: Iterable[OrderFacts], shipments: Iterable[ShipmentFacts], window: Window) -> dict[str, Any]:
    """Every KPI of the window: the dict ``fulfilhub report --json`` prints (keys in docs/cli.md)."""
    orders = list(orders)
    shipments = list(shipments)
    promised = promise_figures(orders, window)
    regions_due = promised.pop("_regions_due")
    return {
        "window": {"since": window.since, "until": window.until, "as_of": window.as_of},
        **order_figures(orders, window),
        "promises": promised["promises"],
        "carriers": carrier_scorecards(shipments, window),
        "regions": region_figures(shipments, regions_due, window),
        "weekly": promised["weekly"],
        "lateness": promised["lateness"],
    }


#: The on-time shares the report's backtest aims at.
BACKTEST_TARGETS = (0.90, 0.95, 0.97)


def promise_backtest(delivered: Iterable[DeliveredOrder],
                     targets: Sequence[float] = BACKTEST_TARGETS) -> dict[str, Any] | None:
    """The store's own history replayed: what promises learned from it would have kept (None: nothing delivered).

    ``scored`` counts the orders promised: those bought after at least one earlier order
    was delivered (before that there is no history to promise from).

    Each order counts from when fulfilhub received it, on its lane (carrier, service,
    warehouse, destination region, postal prefix), days in its promise's time zone; its
    first promise, where one was made, is the baseline scored the same way.
    """
    rows = []
    for n, d in enumerate(delivered, start=2):
        zone = _zone(d.timezone)
        rows.append(backtest.Row(
            line=n, purchase=d.placed_at.astimezone(zone), delivered=d.delivered_at.astimezone(zone),
            approved=max(d.received_at, d.placed_at).astimezone(zone),
            estimated=local_date(d.deliver_by, d.timezone) if d.deliver_by is not None else None,
            lane=Lane(carrier=d.carrier, service=d.service, origin=d.origin, destination=d.destination,
                      postal_prefix=d.postal_prefix)))
    if not rows:
        return None
    result = backtest.replay(rows, tuple(targets))
    if result.rows == 0:  # every order was bought before any was delivered: nothing to promise from
        return {"orders": len(rows), "scored": 0, "results": [], "baseline": None}
    out = result.as_json()
    return {"orders": len(rows), "scored": out["rows"], "results": out["results"], "baseline": out["baseline"]}
