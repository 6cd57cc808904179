"""The injectable clock all of fulfilhub reads time from.

Production uses :class:`SystemClock`. The sandbox and the tests use :class:`SimClock`, a
scenario clock that moves only when told to (or, with ``speed``, faster than real time),
so days of deliveries pass in seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimClock:
    """A scenario clock.

    It starts at ``start`` and moves forward only through :meth:`advance` — or, when
    ``speed`` is given, by ``speed`` simulated seconds per real second as well. It is
    thread-safe: the sandbox server and the runner read it from different threads.
    """

    def __init__(self, start: datetime | None = None, *, speed: float = 0.0):
        start = start or datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise ValueError(f"SimClock start must be timezone-aware, got {start!r}")
        self._base = start.astimezone(timezone.utc)
        self._speed = speed
        self._real_base = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._speed:
                elapsed = (time.monotonic() - self._real_base) * self._speed
                return self._base + timedelta(seconds=elapsed)
            return self._base

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds); return the new time."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta < timedelta(0):
            raise ValueError(f"a clock only moves forward; got {delta}")
        with self._lock:
            self._base = self._base + delta
            return self._base

    def sleep(self, seconds: float) -> None:
        """Simulated sleep: moves the clock instead of waiting.

        Everything sharing the clock sees the time pass: a ``Retry-After: 2`` honoured
        by an adapter also moves the sandbox's parcels two seconds on, as it would in
        the real world.
        """
        if seconds > 0:
            self.advance(seconds)


def utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; refuse naive datetimes (their meaning is a guess)."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no timezone; give one")
    return dt.astimezone(timezone.utc)
