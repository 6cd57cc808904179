"""Synthetic delivery histories with a known structure, generated from a seed (never stored as files).

Used by tests/test_backtest.py (small) and benchmarks/backtest.py (``--synthetic``,
bigger). A history is a list of :class:`~fulfilhub.engines.backtest.Row`: orders bought
over a year, each shipped from one of ``origins`` to one of ``destinations`` by one of
three carriers, with:

- carriers of different speed (FAST ~1.5, STD ~3, SLOW ~5 working days, times a lane
  factor of 1.0-1.8 for the distance between origin and destination);
- a 15:00 cut-off: an order bought later is handed over the next working day;
- Sunday and holiday closures: nothing is handed over or delivered on a Sunday or on
  one of four public holidays;
- SLOW slowing by 30% halfway through the year (and staying slow);
- a peak month (November): 60% more orders, transit 25% longer;
- typhoons: three times a destination region is closed for 2-3 days and every parcel
  due there waits until it reopens.

Transit on a lane is lognormal in working days around its median (sigma 0.3).
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone

from fulfilhub.engines.backtest import Row
from fulfilhub.engines.transit import Lane

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
CARRIERS = {"FAST": 1.5, "STD": 3.0, "SLOW": 5.0}
HOLIDAYS = frozenset({date(2025, 1, 1), date(2025, 5, 1), date(2025, 10, 10), date(2025, 12, 25)})


def _closed(day: date, region: str, typhoons: list[tuple[str, date, date]]) -> bool:
    if day.weekday() == 6 or day in HOLIDAYS:
        return True
    return any(r == region and a <= day <= b for r, a, b in typhoons)


def history(seed: int, orders: int = 20_000, *, origins: int = 3, destinations: int = 8) -> list[Row]:
    """``orders`` orders over 2025 (more in November), shaped as the module doc says."""
    rng = random.Random(seed)
    origin_names = [f"O{i}" for i in range(origins)]
    dest_names = [f"R{i}" for i in range(destinations)]
    factor = {(o, d): 1.0 + 0.8 * rng.random() for o in origin_names for d in dest_names}
    typhoons = []
    for _ in range(3):
        first = date(2025, rng.randint(7, 10), rng.randint(1, 28))
        typhoons.append((rng.choice(dest_names), first, first + timedelta(days=rng.randint(1, 2))))
    lanes: dict[tuple[str, str, str], Lane] = {}
    rows: list[Row] = []
    year = 365 * 86400
    for line in range(2, orders + 2):
        t = rng.random() * year
        purchase = START + timedelta(seconds=t)
        if purchase.month != 11 and rng.random() < 0.6 * 30 / 335:  # the peak month: 60% more orders
            purchase = datetime(2025, 11, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.random() * 30 * 86400)
        origin, dest = rng.choice(origin_names), rng.choice(dest_names)
        carrier = rng.choices(list(CARRIERS), weights=(2, 5, 3))[0]
        median = CARRIERS[carrier] * factor[(origin, dest)]
        if carrier == "SLOW" and purchase >= START + timedelta(days=182):
            median *= 1.3
        if purchase.month == 11:
            median *= 1.25
        # handover: before 15:00 on a working day that day at 17:00, else the next working day
        day = purchase.date()
        if purchase.hour >= 15 or _closed(day, "", []):
            day += timedelta(days=1)
        while _closed(day, "", []):
            day += timedelta(days=1)
        transit = median * math.exp(rng.gauss(0.0, 0.3))
        whole = int(transit)
        when = day
        for _ in range(whole):  # working days of transit: Sundays and holidays do not count
            when += timedelta(days=1)
            while _closed(when, "", []):
                when += timedelta(days=1)
        while _closed(when, dest, typhoons):  # a closed region delivers when it reopens
            when += timedelta(days=1)
        hour = 9 + 10 * (transit - whole)
        delivered = datetime.combine(when, datetime.min.time(), timezone.utc) + timedelta(hours=hour)
        if delivered <= purchase:
            delivered = purchase + timedelta(hours=2)
        key = (carrier, origin, dest)
        lane = lanes.get(key)
        if lane is None:
            lane = lanes[key] = Lane(carrier=carrier, service="ground", origin=origin, destination=dest)
        rows.append(Row(line=line, purchase=purchase, delivered=delivered, lane=lane))
    return rows
