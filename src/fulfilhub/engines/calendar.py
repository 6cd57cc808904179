"""Working calendars: when a warehouse ships, in its own time zone.

A warehouse works on its ``working_days`` except public holidays (from the maintained
``holidays`` library, by country and subdivision) and its configured closures. An
order placed before the day's cut-off counts that day as day 0 of its handling time;
one placed at or after the cut-off, or on a day off, starts on the next working day.
It ships ``handling_days`` working days after day 0, by that day's cut-off.

Every answer says what moved it ("after the 14:00 cut-off", "Thanksgiving Day
closure", "weekend") so that a promise can explain itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import attrs

from ..config import WEEKDAYS, CalendarConfig

#: Never look further than this for a working day (a calendar with none is an error).
MAX_DAYS_AHEAD = 400


@lru_cache(maxsize=64)
def _holiday_table(region: str, year: int) -> dict[date, str]:
    """Public holidays of ``region`` ("US-CA") in ``year``: date -> name."""
    import holidays as holidays_lib

    country, _, subdivision = region.partition("-")
    return dict(holidays_lib.country_holidays(country, subdiv=subdivision or None, years=year).items())


@attrs.frozen
class ShipDay:
    """When an order ships: ``ship_by`` (the cut-off of the ship day, aware) and why.

    ``notes`` are the reasons it is later than the order's own day: the cut-off, the
    days off (holiday names, closures, weekend) that were skipped.
    """

    ship_by: datetime
    ship_day: date
    notes: tuple[str, ...]


class WorkingCalendar:
    """One warehouse's calendar (see the module docstring)."""

    def __init__(self, config: CalendarConfig):
        self.config = config
        self.zone = ZoneInfo(config.timezone)

    def day_off(self, day: date) -> str | None:
        """Why ``day`` is not a working day ("Christmas Day", "closure", "Sat"), or None when it is."""
        if day in self.config.closures:
            return "closure"
        if self.config.holidays:
            name = _holiday_table(self.config.holidays, day.year).get(day)
            if name is not None:
                return name
        if day.weekday() not in self.config.working_days:
            return WEEKDAYS[day.weekday()]
        return None

    def next_working_day(self, day: date, skipped: list[str] | None = None) -> date:
        """``day`` itself when it is a working day, else the next one (days off skipped noted in ``skipped``)."""
        for _ in range(MAX_DAYS_AHEAD):
            why = self.day_off(day)
            if why is None:
                return day
            if skipped is not None:
                skipped.append(why)
            day += timedelta(days=1)
        raise ValueError(f"no working day within {MAX_DAYS_AHEAD} days of {day}: check working_days and closures")

    def add_working_days(self, day: date, count: int, skipped: list[str] | None = None) -> date:
        """The working day ``count`` working days after the working day ``day``."""
        for _ in range(count):
            day = self.next_working_day(day + timedelta(days=1), skipped)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.day_off(day) is None
        return count

    def cutoff_at(self, day: date) -> datetime:
        """The cut-off of ``day`` as an aware time (wall-clock time in the warehouse's zone, DST included)."""
        return datetime.combine(day, self.config.cutoff, tzinfo=self.zone)

    def ship_day(self, ready: datetime) -> ShipDay:
        """When an order that is ready to pick at ``ready`` (aware) ships."""
        local = ready.astimezone(self.zone)
        notes: list[str] = []
        skipped: list[str] = []
        day = local.date()
        if self.day_off(day) is None and local.timetz().replace(tzinfo=None) >= self.config.cutoff:
            notes.append(f"after the {self.config.cutoff:%H:%M} cut-off")
            day += timedelta(days=1)
        day = self.next_working_day(day, skipped)
        day = self.add_working_days(day, self.config.handling_days, skipped)
        notes.extend(_describe_days_off(skipped))
        return ShipDay(ship_by=self.cutoff_at(day), ship_day=day, notes=tuple(notes))


def _describe_days_off(skipped: list[str]) -> list[str]:
    """"Thanksgiving Day closure", "weekend", "closure" — each once, in order."""
    out: list[str] = []
    off: list[str] = []
    for why in skipped:
        if why in WEEKDAYS:
            if why not in off:
                off.append(why)
            continue
        text = "warehouse closure" if why == "closure" else f"{why} closure"
        if text not in out:
            out.append(text)
    if off:
        out.append("weekend" if set(off) <= {"Sat", "Sun"} else f"no shipping on {', '.join(off)}")
    return out
